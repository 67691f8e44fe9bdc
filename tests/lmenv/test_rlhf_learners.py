"""DPO, IPO, GRPO, Dr. GRPO and RLOO on the transformer, scored exactly on the documented task with small budgets.

The documented budgets reach ≥ 90% of J_β(π*) (docs/rlhf.md, ``python -m lmenv.learners.rlhf_experiments``).
Here each learner gets a few seconds and must clear a bar that a broken learner cannot: the
untrained network is π_ref (−7.6% of the optimum); with the reward's sign flipped, no reward, or
the preference labels reversed, the same budget ends below 0.
"""

import dataclasses

import numpy as np
import pytest
import torch

import lmenv
from lmenv import _tree, preferences as P
from lmenv.learners import dpo, grpo
from lmenv.scoring import score_model

BETA = 0.1
TAU = 0.25
BAR = 0.6

SMALL = {
    "grpo": grpo.Config(variant="grpo", iterations=12, progress=False),
    "dr_grpo": grpo.Config(variant="dr_grpo", iterations=12, progress=False),
    "rloo": grpo.Config(variant="rloo", iterations=12, progress=False),
}
SMALL_DPO = dpo.Config(iterations=60, batch_size=64, kl_coef=BETA / TAU, progress=False)


@pytest.fixture(scope="module")
def pairs(kl_env, kl_tree):
    return P.sample_preferences(kl_env, 3000, seed=0, labeller=P.BradleyTerry(TAU))


# ---------------------------------------------------------------------- the pieces, by hand
def test_group_advantages_by_hand():
    R = torch.tensor([1.0, 0.0, 0.0, 0.0, 2.0, 2.0, 2.0, 2.0])  # two groups of 4
    torch.testing.assert_close(grpo.group_advantages(R, 4, "grpo", std_epsilon=0.0)[:4],
                               torch.tensor([1.5, -0.5, -0.5, -0.5]))  # (R − 0.25) / 0.5
    torch.testing.assert_close(grpo.group_advantages(R, 4, "dr_grpo"), torch.tensor([0.75, -0.25, -0.25, -0.25,
                                                                                      0, 0, 0, 0]))
    rloo = grpo.group_advantages(R, 4, "rloo")
    torch.testing.assert_close(rloo[:4], torch.tensor([1.0, -1 / 3, -1 / 3, -1 / 3]))  # R_i − mean of the others
    assert grpo.group_advantages(R, 4, "grpo")[4:].abs().max() == 0  # a group of equal returns: no signal


def test_token_average_by_hand():
    x = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    alive = torch.tensor([[True, True, True], [True, False, False]])
    torch.testing.assert_close(grpo.token_average(x, alive, "grpo"), torch.tensor([2.0, 4.0]))  # per sequence
    torch.testing.assert_close(grpo.token_average(x, alive, "rloo"), torch.tensor([2.0, 4.0 / 3]))  # sum / H


def test_at_the_optimum_the_kl_penalised_return_is_the_same_for_every_sequence(kl_tree, kl_optimum):
    """R(y) − β Σ_t log(π*/π_ref)(a_t|s_t) = V*_β(s_0) for every y: every group advantage vanishes at π*."""
    np.testing.assert_allclose(grpo.penalised_returns(kl_tree, kl_optimum.policy, BETA), kl_optimum.V[0], atol=1e-9)
    assert np.ptp(grpo.penalised_returns(kl_tree, kl_tree.reference, BETA)) > 1.0  # not at π_ref


def test_dpo_and_ipo_losses_by_hand():
    h = torch.tensor([0.0, 2.0])
    assert dpo.preference_loss(h, 0.5, "dpo").item() == pytest.approx((np.log(2) + np.log(1 + np.exp(-2))) / 2)
    assert dpo.preference_loss(h, 0.5, "ipo").item() == pytest.approx(((0 - 1) ** 2 + (4 - 1) ** 2) / 2)


def test_sequence_log_probs_are_the_tree_s(kl_env, kl_tree):
    """log π(y) of the untrained network (π_ref) equals the tree's path sum of log π_ref."""
    from lmenv.policy import PolicyValueModel

    model = PolicyValueModel(kl_env)
    leaves = _tree.leaves(kl_tree)[:50]
    sequences = [kl_tree.prefixes[s] for s in leaves]
    actions, tokens, alive, ref = dpo.encode_sequences(kl_env, sequences)
    with torch.no_grad():
        log_pi = dpo.sequence_log_probs(model, actions, tokens, alive).double().numpy()
    exact = _tree.path_sums(kl_tree, np.log(kl_tree.reference))[leaves]
    np.testing.assert_allclose(log_pi, exact, atol=1e-4)
    np.testing.assert_allclose(ref.double().numpy(), exact, atol=1e-5)


# ---------------------------------------------------------------------- the bars
@pytest.mark.parametrize("name", list(SMALL))
def test_group_learner_clears_the_bar(name, kl_env, kl_tree):
    result = grpo.train(kl_env, SMALL[name], tree=kl_tree)
    assert result.score.fraction >= BAR, str(result.score)
    assert result.score.kl_to_optimum == pytest.approx(result.score.kl_to_optimum_from_gap, abs=1e-6)
    steps, reward = result.history["charts/reward"]
    assert steps[-1] == SMALL[name].iterations and reward[-3:].mean() > reward[:3].mean()
    assert result.tokens == SMALL[name].iterations * SMALL[name].batch_size * 5


def test_dpo_clears_the_bar(kl_env, kl_tree, pairs):
    result = dpo.train(kl_env, pairs, SMALL_DPO, tree=kl_tree)
    assert result.score.fraction >= BAR, str(result.score)
    steps, accuracy = result.history["charts/accuracy"]
    assert steps[-1] == SMALL_DPO.iterations and accuracy[-10:].mean() > 0.6
    ipo = dpo.train(kl_env, pairs, dataclasses.replace(SMALL_DPO, loss="ipo", iterations=5), tree=kl_tree)
    assert np.isfinite(ipo.history["losses/ipo_loss"][1]).all()


def test_broken_learners_fail_the_bar(kl_env, kl_tree, kl_optimum, pairs):
    """Reward sign flipped or no reward (RLOO), labels reversed (DPO): the same budgets end below 0."""
    for broken_reward in (-1 * kl_env.reward_fn, 0 * kl_env.reward_fn):
        broken = lmenv.TokenEnv(prompt=kl_env.prompt, max_new_tokens=5, actions="etaoinsh", reward=broken_reward,
                                kl_coef=BETA, reference=kl_env.reference)
        result = grpo.train(broken, dataclasses.replace(SMALL["rloo"], iterations=8))
        assert score_model(result.model, kl_tree, optimum=kl_optimum).fraction < 0.0
    reversed_pairs = P.PreferencePairs(pairs.prompts, pairs.rejected, pairs.chosen)
    result = dpo.train(kl_env, reversed_pairs, dataclasses.replace(SMALL_DPO, iterations=30))
    assert score_model(result.model, kl_tree, optimum=kl_optimum).fraction < 0.0


@pytest.mark.parametrize("name", ["rloo", "grpo-loss-k3", "dpo"])
def test_same_seed_same_run(name, kl_env, pairs):
    def run(seed):
        if name == "dpo":
            return dpo.train(kl_env, pairs, dataclasses.replace(SMALL_DPO, iterations=3, seed=seed))
        config = SMALL["rloo"] if name == "rloo" else dataclasses.replace(SMALL["grpo"], kl_placement="loss",
                                                                          kl_estimator="k3", update_epochs=2)
        return grpo.train(kl_env, dataclasses.replace(config, iterations=3, seed=seed))

    first, again, other = run(7), run(7), run(8)
    for key, (steps, values) in first.history.items():
        np.testing.assert_array_equal(values, again.history[key][1], err_msg=key)
    assert all(torch.equal(p, q) for p, q in zip(first.model.state_dict().values(),
                                                 again.model.state_dict().values()))
    key = "losses/dpo_loss" if name == "dpo" else "charts/reward"
    assert not np.array_equal(first.history[key][1], other.history[key][1])


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize("changes, message", [
    (dict(group_size=1), "group_size must be a whole number ≥ 2"),
    (dict(group_size=5), r"group_size \(5\) must divide batch_size \(64\)"),
    (dict(kl_coef=0.0), "kl_coef must be a positive number"),
    (dict(kl_coef=-0.1), "kl_coef must be a positive number"),
    (dict(variant="ppo"), "variant must be one of"),
    (dict(kl_placement="value"), "kl_placement must be one of"),
    (dict(kl_estimator="k4"), "kl_estimator must be one of"),
])
def test_group_learner_config_errors(changes, message, kl_env):
    with pytest.raises(ValueError, match=message):
        grpo.train(kl_env, dataclasses.replace(SMALL["rloo"], **changes))


def test_dpo_errors(kl_env, pairs):
    with pytest.raises(ValueError, match="kl_coef must be a positive number"):
        dpo.train(kl_env, pairs, dataclasses.replace(SMALL_DPO, kl_coef=0.0))
    with pytest.raises(ValueError, match="loss must be one of"):
        dpo.train(kl_env, pairs, dataclasses.replace(SMALL_DPO, loss="kto"))
    other = P.PreferencePairs("JULIET:\n", pairs.chosen[:3], pairs.rejected[:3])
    with pytest.raises(ValueError, match="DPO trains on the environment's prompt 'ROMEO:\\\\nI ', but pair 0"):
        dpo.train(kl_env, other, SMALL_DPO)
    with pytest.raises(ValueError, match="is not one of the environment's actions"):
        dpo.encode_sequences(kl_env, [(0, 1)])


def test_sequences_that_stop_early(kl_env):
    """With a stop token, sequences have different lengths: masks in DPO's encoding, in the group learners' averages."""
    from lmenv.learners import rlhf_experiments

    env = rlhf_experiments.placement_env()  # the space ends the word
    tree = lmenv.to_mdp(env)
    leaves = _tree.leaves(tree)
    short = [s for s in leaves if tree.depth[s] < 5][:20]
    sequences = [tree.prefixes[s] for s in short]
    actions, tokens, alive, ref = dpo.encode_sequences(env, sequences)
    assert alive.sum(dim=1).tolist() == [len(y) for y in sequences]
    np.testing.assert_allclose(ref.double().numpy(), _tree.path_sums(tree, np.log(tree.reference))[short], atol=1e-5)
    result = grpo.train(env, grpo.Config(variant="grpo", iterations=2, progress=False), tree=tree)
    assert result.tokens < 2 * 64 * 5 and np.isfinite(result.score.fraction)
