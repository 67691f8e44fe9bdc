"""Advantage actor-critic with the value head and GAE, on the transformer.

Synchronous advantage actor-critic (Mnih et al. 2016, "A3C" without the asynchrony) with
generalised advantage estimation (Schulman et al. 2016). The actor π_θ is the LM head restricted
to the action set; the critic V_θ is the value head on the same transformer features. From the
KL-penalised reward r̃_t = r_t − β (log π_θ(a_t|s_t) − log π_ref(a_t|s_t)) (see
:mod:`lmenv.learners.common`):

    δ_t = r̃_t + V(s_{t+1}) (1 − terminated_t) − V(s_t)          (TD error, γ = 1)
    Â_t = δ_t + λ (1 − terminated_t) Â_{t+1}                      (GAE)
    R̂_t = Â_t + V(s_t)                                           (the critic's target, the λ-return)

    loss = −mean_t[log π_θ(a_t|s_t) Â_t] + c_V · ½ mean_t[(V_θ(s_t) − R̂_t)²] − c_H · mean_t[H(π_θ(·|s_t))]

one gradient step per batch of B episodes. Compared with REINFORCE the critic bootstraps:
λ < 1 trades the variance of the sampled returns for the bias of V.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F

from lmenv.learners.common import (Run, Settings, TrainResult, adam, explained_variance,
                                   generalized_advantage_estimation, kl_penalised_rewards, masked_mean, seeded_generator)
from lmenv.model import gradient_step
from lmenv.policy import PolicyValueModel
from lmenv.rollout import rollout


@dataclass
class Config(Settings):
    """A2C settings (the common ones are in :class:`lmenv.learners.common.Settings`)."""

    iterations: int = 400
    """training iterations (rollout + one gradient step each)"""
    learning_rate: float = 1e-4
    """Adam step size for the whole network"""
    lambda_: float = 0.9
    """λ of GAE: 1 = Monte Carlo returns minus V (REINFORCE with baseline), 0 = one-step TD error"""
    vf_coef: float = 0.5
    """weight c_V of the critic's loss"""
    ent_coef: float = 0.0
    """weight c_H of the entropy bonus (the KL penalty already rewards entropy: −β log π)"""
    normalize_advantages: bool = True
    """divide Â_t by its standard deviation over the batch"""


def train(env, config: Config = Config(), tree=None) -> TrainResult:
    """Train the environment's transformer with A2C + GAE; score it exactly on ``tree`` if given.

    Args:
        env: a :class:`lmenv.TokenEnv`; β is its ``kl_coef``.
        config: the settings.
        tree: ``lmenv.to_mdp(env)`` for exact scores (optional).
    """
    env = env.unwrapped
    kl_coef = env.kl_coef
    generator = seeded_generator(config.seed, env.reference.device)
    model = PolicyValueModel(env)
    optimizer = adam(model.parameters(), config)
    run = Run(config, model, kl_coef, tree)

    for iteration in run.iterations():
        run.anneal(optimizer, iteration)
        with run.timed("rollout"):
            batch = rollout(model, env, config.batch_size, generator, reference_source=config.reference_source)
        with run.timed("update"):
            alive = batch.alive
            rewards = kl_penalised_rewards(batch, kl_coef)  # r̃_t
            advantages = generalized_advantage_estimation(rewards, batch.discount_t, batch.values_to_horizon,
                                                          config.lambda_)  # Â_t
            returns = advantages + batch.values  # R̂_t
            out = model.evaluate(batch.tokens)
            log_probs = F.log_softmax(out.logits, dim=-1)  # (B, H, A)
            log_pi = log_probs.gather(-1, batch.actions[..., None]).squeeze(-1)  # (B, H)
            entropy = -(log_probs.exp() * log_probs).sum(-1)  # (B, H)
            if config.normalize_advantages:
                advantages = advantages / (advantages[alive].std() + 1e-8)
            policy_loss = -masked_mean(log_pi * advantages, alive)
            value_loss = 0.5 * masked_mean((out.values - returns) ** 2, alive)
            entropy_bonus = masked_mean(entropy, alive)
            loss = policy_loss + config.vf_coef * value_loss - config.ent_coef * entropy_bonus
            gradient_step(optimizer, loss, config.max_grad_norm)
        run.log(iteration, batch, {
            "losses/policy_loss": policy_loss.item(),
            "losses/value_loss": value_loss.item(),
            "losses/entropy": entropy_bonus.item(),
            "losses/explained_variance": explained_variance(batch.values, returns, alive),
        })
    return run.finish()
