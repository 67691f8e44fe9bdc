"""Reinforcement learning on the transformer itself: REINFORCE, A2C, PPO and DQN, scored exactly.

Each learner is one readable module with a ``Config`` dataclass and a ``train(env, config, tree=None)``
function returning a :class:`TrainResult`:

- :mod:`lmenv.learners.reinforce` — REINFORCE with reward-to-go and the value head as baseline;
- :mod:`lmenv.learners.a2c` — advantage actor-critic with the value head and GAE;
- :mod:`lmenv.learners.ppo` — PPO: clipped ratio, value loss, entropy bonus, KL control;
- :mod:`lmenv.learners.dqn` — TD learning of a Q head with a target network; soft (KL-regularised)
  or hard target;
- :mod:`lmenv.learners.dpo` — DPO and IPO on preference pairs (``train(env, pairs, config, tree=None)``);
- :mod:`lmenv.learners.grpo` — GRPO, Dr. GRPO and RLOO: group baselines, no critic, the KL in the
  reward or in the loss (k1 / k2 / k3); :mod:`lmenv.learners.rlhf_experiments` holds their
  documented runs (docs/rlhf.md).

The network is :class:`lmenv.policy.PolicyValueModel` (a trainable copy of the environment's GPT
with a value or Q head; the original is the frozen reference), the rollouts
:func:`lmenv.rollout.rollout` (B episodes in lockstep on the KV cache), the exact scores
:mod:`lmenv.scoring`. The objective is J_β(π) = E_π[Σ_t r_t] − β KL(π ‖ π_ref) with β the
environment's ``kl_coef``. See docs/lm_policy_gradient.md.

:mod:`lmenv.learners.experiments` holds the documented runs: the enumerable task
(:func:`documented_env`, :data:`DOCUMENTED_CONFIGS`, :func:`train_all`) and the full-vocabulary
PPO runs (:func:`train_full_vocabulary`); ``python -m lmenv.learners`` runs them.
"""

from __future__ import annotations

from lmenv.learners import a2c, dqn, ppo, reinforce
from lmenv.learners import dpo, grpo  # RLHF: DPO/IPO on preference pairs; GRPO, Dr. GRPO, RLOO (docs/rlhf.md)
from lmenv.learners import ilql  # offline: implicit language Q-learning (docs/ilql_and_decoding.md)
from lmenv.learners.common import (MetricLog, Settings, TrainResult, discounted_returns, explained_variance,
                                   generalized_advantage_estimation, kl_penalised_rewards)
from lmenv.learners.experiments import (DEFAULT_RUNS, DOCUMENTED_CONFIGS, FULL_VOCABULARY_CONFIGS, LEARNERS,
                                        documented_env, full_vocabulary_env, learner_of, plot_full_vocabulary,
                                        plot_learning_curves, results_table, train_all, train_full_vocabulary)

__all__ = [
    "reinforce",
    "a2c",
    "ppo",
    "dqn",
    "dpo",
    "grpo",
    "ilql",
    "LEARNERS",
    "DOCUMENTED_CONFIGS",
    "DEFAULT_RUNS",
    "learner_of",
    "documented_env",
    "train_all",
    "results_table",
    "plot_learning_curves",
    "FULL_VOCABULARY_CONFIGS",
    "full_vocabulary_env",
    "train_full_vocabulary",
    "plot_full_vocabulary",
    "Settings",
    "TrainResult",
    "MetricLog",
    "discounted_returns",
    "generalized_advantage_estimation",
    "explained_variance",
    "kl_penalised_rewards",
]
