"""The four learners on the transformer, scored exactly on the documented task with small budgets.

The documented budgets reach ≥ 90% of the optimum J_β(π*) = V*_β(s_0) = 0.721
(docs/lm_policy_gradient.md, ``python -m lmenv.learners``). Here each learner gets a few seconds
and must clear a lower bar that a broken learner cannot: the untrained network is π_ref, which
scores J_β(π_ref)/J_β(π*) = −7.6%; a learner that ignores the reward stays near it, and one that
climbs the wrong way ends far below it (:func:`test_broken_learners_fail_the_bar`).
"""

import dataclasses

import numpy as np
import pytest
import torch

import lmenv
from lmenv.learners import LEARNERS, a2c, dqn, learner_of, ppo, reinforce
from lmenv.policy import PolicyValueModel
from lmenv.scoring import score_model

BETA = 0.1
BAR = 0.6  # fraction of J_β(π*) that every learner must reach within its small budget

SMALL = {  # a few CPU seconds each
    "reinforce": reinforce.Config(iterations=12, progress=False),
    "a2c": a2c.Config(iterations=12, progress=False),
    "ppo": ppo.Config(iterations=8, progress=False),
    "dqn": dqn.Config(iterations=30, progress=False),
}


@pytest.mark.parametrize("name", list(SMALL))
def test_learner_clears_the_bar(name, kl_env, kl_tree):
    result = LEARNERS[name].train(kl_env, SMALL[name], tree=kl_tree)
    assert result.score.fraction >= BAR, str(result.score)
    assert result.score.kl_to_optimum == pytest.approx(result.score.kl_to_optimum_from_gap, abs=1e-6)
    history = result.history
    value_loss = "losses/td_loss" if name == "dqn" else "losses/value_loss"
    for metric in ("charts/reward", "charts/kl_ref", "charts/entropy", value_loss, "losses/explained_variance"):
        steps, values = history[metric]
        assert steps[-1] == SMALL[name].iterations and np.all(np.isfinite(values)), metric
    steps, reward = history["charts/reward"]
    assert reward[-3:].mean() > reward[:3].mean()  # the sampled reward rises during training
    assert result.tokens == SMALL[name].iterations * SMALL[name].batch_size * 5
    assert 0 < result.rollout_time + result.update_time <= result.wall_time


def test_broken_learners_fail_the_bar(kl_env, kl_tree, kl_optimum):
    """The same budget with the reward's sign flipped, or with no reward, scores far below the bar."""
    config = SMALL["reinforce"]
    for broken_reward in (-1 * kl_env.reward_fn, 0 * kl_env.reward_fn):
        broken = lmenv.TokenEnv(prompt=kl_env.prompt, max_new_tokens=5, actions="etaoinsh", reward=broken_reward,
                                kl_coef=BETA, reference=kl_env.reference)
        result = reinforce.train(broken, config)
        assert score_model(result.model, kl_tree, optimum=kl_optimum).fraction < 0.0


@pytest.mark.parametrize("name", [*SMALL, "dqn-hard"])
def test_same_seed_same_run(name, kl_env):
    if name == "dqn-hard":  # the max target and ε-greedy acting
        config = dataclasses.replace(SMALL["dqn"], soft=False, iterations=3, seed=7, learning_starts=1)
    else:
        config = dataclasses.replace(SMALL[name], iterations=3, seed=7)
    if name == "dqn":
        config = dataclasses.replace(config, learning_starts=1)
    learner = learner_of(config)
    first, again = (learner.train(kl_env, config) for _ in range(2))
    other = learner.train(kl_env, dataclasses.replace(config, seed=8))
    for key, (steps, values) in first.history.items():
        np.testing.assert_array_equal(values, again.history[key][1], err_msg=key)
    same = [torch.equal(p, q) for p, q in zip(first.model.state_dict().values(), again.model.state_dict().values())]
    assert all(same)
    assert not np.array_equal(first.history["charts/reward"][1], other.history["charts/reward"][1])


def test_soft_dqn_acts_with_the_boltzmann_policy_around_the_reference(kl_env, kl_tree, kl_optimum):
    """With Q = Q* the soft-Q readout π ∝ π_ref exp(Q/β) is π*: plant Q* in the head's bias at the root."""
    model = PolicyValueModel(kl_env, q_head=True, readout="soft_q", kl_coef=BETA)
    with torch.no_grad():
        model.q_head.bias.copy_(torch.as_tensor(kl_optimum.Q[0], dtype=torch.float32))
    probs = np.exp(model.log_probs_of_prefixes([()])[0])
    np.testing.assert_allclose(probs, kl_optimum.policy[0], atol=1e-5)
