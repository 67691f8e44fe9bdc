"""RLHF on the token tree: synthetic preferences, the reward model, its exact optimum and over-optimisation,
and where a sequence reward lands — each checked against exact values (docs/rlhf.md)."""

import numpy as np
import pytest
import torch

import lmenv
from lmenv import _tree, preferences as P, reward_model as RM
from lmenv import rewards as R
from lmenv.learners import rlhf_experiments as X

BETA = 0.1
TAU = 0.25


@pytest.fixture(scope="module")
def documented_pairs(kl_env, kl_tree):
    return P.sample_preferences(kl_env, 2500, seed=0, labeller=P.BradleyTerry(TAU)).split(1000)


@pytest.fixture(scope="module")
def trained_reward_model(kl_env, documented_pairs):
    train, heldout = documented_pairs
    return RM.train(kl_env, train, RM.Config(epochs=1, batch_size=32, progress=False), heldout=heldout)


@pytest.fixture(scope="module")
def learned_tree(kl_env, trained_reward_model):
    return lmenv.to_mdp(P.with_reward(kl_env, RM.learned_reward(trained_reward_model.model, kl_env)))


# ---------------------------------------------------------------------- the labeller and the pairs
def test_bradley_terry_probability_by_hand():
    labeller = P.BradleyTerry(0.25)
    assert labeller.probability(0.2, 0.0) == pytest.approx(1 / (1 + np.exp(-0.8)), abs=1e-15)  # 0.68997
    assert labeller.probability(1.0, 0.0) == pytest.approx(0.98201379, abs=1e-8)
    x, y = np.array([0.3, -1.0, 5.0]), np.array([0.1, 2.0, 5.0])
    np.testing.assert_allclose(labeller.probability(x, y) + labeller.probability(y, x), 1.0)
    assert labeller.probability(400.0, 0.0) == 1.0  # no overflow


def test_sampled_pairs_are_labelled_as_the_labeller_says(kl_env, kl_tree):
    pairs = P.sample_preferences(kl_env, 3000, seed=1, labeller=P.BradleyTerry(TAU))
    returns = _tree.sequence_returns(kl_tree)
    for y, r in zip(pairs.chosen + pairs.rejected, np.concatenate([pairs.chosen_return, pairs.rejected_return])):
        assert r == pytest.approx(returns[kl_tree.index[y]], abs=1e-12)  # the hidden return is the tree's
    gap = pairs.chosen_return - pairs.rejected_return
    one_s = np.isclose(np.abs(gap), 0.2)  # pairs that differ by one "s"
    expected = 1 / (1 + np.exp(-0.2 / TAU))
    observed = np.mean(gap[one_s] > 0)  # the better one was chosen
    assert abs(observed - expected) < 4 * np.sqrt(expected * (1 - expected) / one_s.sum())
    np.testing.assert_allclose(pairs.probability, P.BradleyTerry(TAU).probability(pairs.chosen_return,
                                                                                   pairs.rejected_return))
    assert all(a != b for a, b in zip(pairs.chosen, pairs.rejected))


def test_same_seed_same_pairs(kl_env):
    a, b = (P.sample_preferences(kl_env, 50, seed=3) for _ in range(2))
    assert a.chosen == b.chosen and a.rejected == b.rejected
    assert P.sample_preferences(kl_env, 50, seed=4).chosen != a.chosen


def test_reference_sampler_follows_pi_ref(small_env, small_tree):
    sequences = P.sample_sequences(small_env, 4000, np.random.default_rng(0))
    first = np.bincount([small_env.action_tokens.tolist().index(y[0]) for y in sequences], minlength=8) / 4000
    p = small_tree.reference[0]
    assert np.all(np.abs(first - p) < 4 * np.sqrt(p * (1 - p) / 4000) + 1e-3)
    tabular = P.sample_sequences(small_env, 4000, np.random.default_rng(0), policy=small_tree.reference,
                                 tree=small_tree)
    second = np.bincount([small_env.action_tokens.tolist().index(y[0]) for y in tabular], minlength=8) / 4000
    assert np.all(np.abs(second - p) < 4 * np.sqrt(p * (1 - p) / 4000) + 1e-3)


def test_exact_ceiling_by_brute_force(small_env, small_tree):
    """E[max(p, 1 − p) | y¹ ≠ y²] summed over all 512 × 511 ordered pairs of leaves equals the grouped formula."""
    labeller = P.BradleyTerry(TAU)
    leaves = _tree.leaves(small_tree)
    R_leaf = _tree.sequence_returns(small_tree)[leaves]
    p = _tree.leaf_probabilities(small_tree, small_tree.reference)
    sigma = labeller.probability(R_leaf[:, None], R_leaf[None, :])
    joint = np.outer(p, p)
    np.fill_diagonal(joint, 0.0)
    brute = (joint * np.maximum(sigma, 1 - sigma)).sum() / joint.sum()
    assert P.exact_accuracy_ceiling(small_tree, labeller) == pytest.approx(brute, abs=1e-12)
    assert P.exact_accuracy_ceiling(small_tree, P.BradleyTerry(1e-6)) > P.exact_accuracy_ceiling(small_tree, labeller)


def test_exact_ceiling_agrees_with_sampled_pairs(kl_env, kl_tree, documented_pairs):
    train, heldout = documented_pairs
    exact = P.exact_accuracy_ceiling(kl_tree, P.BradleyTerry(TAU))
    per_pair = np.maximum(train.probability, 1 - train.probability)
    assert abs(train.accuracy_ceiling() - exact) < 4 * per_pair.std() / np.sqrt(len(train))


# ---------------------------------------------------------------------- the reward model
def test_reward_model_score_is_its_forward_pass(small_env):
    model = RM.RewardModel(small_env)
    torch.manual_seed(0)
    torch.nn.init.normal_(model.head.weight)
    sequences = [(56, 63), (56, 63, 60), (56, 60, 60), (56,), (63, 56, 75), (56, 63, 75)]
    with torch.no_grad():
        direct = model(small_env.prompt, sequences).double().numpy()
    np.testing.assert_allclose(model.score(small_env.prompt, sequences, batch_size=2), direct, rtol=1e-5, atol=1e-4)
    # padding after the last real token changes nothing at it (causal attention)
    with torch.no_grad():
        alone = model(small_env.prompt, [(56, 63)]).item()
    assert alone == pytest.approx(direct[0], abs=1e-4)


def test_reward_model_reaches_the_labellers_ceiling(trained_reward_model):
    r = trained_reward_model
    assert r.heldout_accuracy >= r.ceiling - 0.04, (r.heldout_accuracy, r.ceiling)
    assert r.heldout_accuracy <= r.ceiling + 0.04  # the ceiling bounds any reward, up to sampling noise


def test_reward_model_on_flipped_labels_fails(kl_env, documented_pairs):
    """Trained on the labels reversed it prefers the worse sequence on held-out pairs."""
    train, heldout = documented_pairs
    flipped = P.PreferencePairs(train.prompts, train.rejected, train.chosen)
    r = RM.train(kl_env, flipped.subset(slice(0, 500)), RM.Config(epochs=1, batch_size=32, progress=False),
                 heldout=heldout)
    assert r.heldout_accuracy < 0.5


def test_learned_tree_pays_the_reward_model_at_the_leaves(kl_env, kl_tree, learned_tree, trained_reward_model):
    leaves = _tree.leaves(kl_tree)
    paid = _tree.path_sums(learned_tree, learned_tree.task_mdp.R)[leaves]
    sample = np.random.default_rng(0).choice(leaves.size, 200, replace=False)
    scores = trained_reward_model.model.score(kl_env.prompt,
                                              [kl_tree.prefixes[leaves[i]] for i in sample])
    np.testing.assert_allclose(paid[sample], scores, atol=1e-5)  # float32 passes of different batches
    assert np.all(learned_tree.task_mdp.R[~learned_tree.mdp.terminal & (learned_tree.depth < 4)] == 0)


@pytest.fixture(scope="module")
def true_placed_tree(kl_env):
    """The documented task paying its own return R(y) as one sequence reward on the last real token."""
    return lmenv.to_mdp(P.with_reward(kl_env, RM.true_sequence_reward(kl_env)))


def test_optimum_of_the_true_reward_placed_on_the_last_token_is_the_optimum(kl_tree, true_placed_tree):
    s = RM.learned_optimum_score(kl_tree, true_placed_tree, BETA)
    assert s.fraction == pytest.approx(1.0, abs=1e-12)


def test_overoptimisation_curve(kl_tree, learned_tree):
    curve = RM.overoptimisation_curve(kl_tree, learned_tree)
    assert len(curve.kl_coef) >= 20
    order = np.argsort(curve.kl_coef)
    # the optimum of the learned reward: as β falls, the learned reward and the KL rise
    assert np.all(np.diff(curve.proxy_return[order]) <= 1e-9)
    assert np.all(np.diff(curve.kl_to_reference[order]) <= 1e-9)
    # π*_β(R) maximises the true return among policies with KL ≤ its own: no learned point lies above the frontier
    for kl, value in zip(curve.kl_to_reference, curve.true_return):
        above = curve.frontier_kl >= kl - 1e-12
        assert np.all(value <= curve.frontier_return[above] + 1e-9)
    assert curve.true_return.max() < curve.frontier_return.max()  # the learned reward's optima miss the best
    fig = RM.plot_overoptimisation(curve, points={"a policy": (1.0, 0.5)})
    assert fig.axes


def test_fit_to_the_true_return(kl_tree, true_placed_tree, learned_tree):
    slope, intercept, corr = RM.fit_to_true_return(kl_tree, true_placed_tree)
    assert (slope, intercept, corr) == pytest.approx((1.0, 0.0, 1.0), abs=1e-9)
    slope, _, corr = RM.fit_to_true_return(kl_tree, learned_tree)
    assert 0 < slope < 1 / TAU and 0.5 < corr < 1  # a flatter reward than R/τ, but the right direction


def test_the_curve_of_the_true_reward_is_the_frontier(kl_tree, true_placed_tree):
    curve = RM.overoptimisation_curve(kl_tree, true_placed_tree, np.geomspace(0.01, 10, 5))
    np.testing.assert_allclose(curve.true_return, curve.frontier_return, atol=1e-9)
    np.testing.assert_allclose(curve.kl_to_reference, curve.frontier_kl, atol=1e-9)
    np.testing.assert_allclose(curve.proxy_return, curve.true_return, atol=1e-9)


# ---------------------------------------------------------------------- where the sequence reward lands
def test_sequence_reward_placements_by_hand(kl_env):
    seen = []

    def scorer(prompt, sequences):
        seen.append(list(sequences))
        return np.array([float(len(y)) for y in sequences])

    batch = R.Transitions("p", [(1, 2), (1, 2, 3, 4), (5,)], np.array([9, 9, 7]), np.array([True, True, False]),
                          kl_env.tokenizer)
    assert RM.SequenceReward(scorer, 5)(batch).tolist() == [3.0, 5.0, 0.0]  # on the last real token
    assert RM.SequenceReward(scorer, 5, "masked")(batch).tolist() == [0.0, 5.0, 0.0]  # short one lost
    assert RM.SequenceReward(scorer, 5, "padding", pad_id=0)(batch).tolist() == [5.0, 5.0, 0.0]
    assert seen[-1] == [(1, 2, 9, 0, 0), (1, 2, 3, 4, 9)]  # the scorer read the padding
    with pytest.raises(ValueError, match="placement must be one of"):
        RM.SequenceReward(scorer, 5, "after")
    with pytest.raises(ValueError, match="needs the padding token"):
        RM.SequenceReward(scorer, 5, "padding")


def test_placement_demo_exact_values():
    rows = {(r["reward"], r["placement"]): r for r in X.placement_demo()}
    contains = 'ContainsWord("the")'
    assert rows[(contains, "last_token")]["fraction"] == pytest.approx(1.0, abs=1e-12)
    masked = rows[(contains, "masked")]
    assert masked["mean_length"] > 4.99 > rows[(contains, "last_token")]["mean_length"] + 0.5  # it never stops
    assert masked["fraction"] < 0.9
    stop = 'ContainsWord("the") + 0.5 for the stop token'
    assert rows[(stop, "padding")]["fraction"] < 0.2  # padding read as stop tokens: the bonus multiplies
    assert rows[(stop, "padding")]["mean_length"] < 2


# ---------------------------------------------------------------------- prompts and bad input
def test_prompt_distribution_and_pairs_of_several_prompts(kl_env):
    prompts = P.PromptDistribution(("ROMEO:\nI ", "JULIET:\nI "), (0.75, 0.25))
    pairs = P.sample_preferences(kl_env, 400, seed=0, prompts=prompts)
    share = np.mean([p == "ROMEO:\nI " for p in pairs.prompts])
    assert abs(share - 0.75) < 4 * np.sqrt(0.75 * 0.25 / 400)
    other = pairs.for_prompt("JULIET:\nI ")
    juliet = P.env_for_prompt(kl_env, "JULIET:\nI ")
    np.testing.assert_allclose(other.chosen_return, P.sequence_returns(juliet, other.chosen))
    model = RM.RewardModel(kl_env)
    chosen, rejected = model.pair_scores(pairs.subset(slice(0, 10)))
    assert chosen.shape == rejected.shape == (10,)
    with pytest.raises(ValueError, match="pair 0 .* continues 'JULIET"):
        other.check_prompt(kl_env.prompt, "DPO")


@pytest.mark.parametrize("prompts, weights, message", [
    ((), (), "at least one prompt; got an empty list"),
    (("a", "b"), (0.5, 0.6), "weights must sum to 1; they sum to 1.1"),
    (("a", "b"), (1.0, 0.0), r"weights\[1\] must be a positive number"),
    (("a", "b"), (1.0,), "one entry per prompt"),
    (("a", "a"), (), "must be distinct"),
    (("a", ""), (), r"prompts\[1\] must be a non-empty string"),
])
def test_prompt_distribution_errors(prompts, weights, message):
    with pytest.raises(ValueError, match=message):
        P.PromptDistribution(prompts, weights)


def test_bad_preference_input(kl_env):
    tok = kl_env.tokenizer
    with pytest.raises(ValueError, match="outside the vocabulary: '€'"):
        P.PromptDistribution(("ROMEO €",)).check_vocabulary(tok)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        P.sample_preferences(kl_env, 5, prompts=P.PromptDistribution(("Ω:",)))
    with pytest.raises(ValueError, match="compares a sequence with itself"):
        P.PreferencePairs("p", [(1, 2)], [(1, 2)])
    with pytest.raises(ValueError, match="different prompts"):
        P.PreferencePairs.from_texts(tok, [("ROMEO:", "the")], [("JULIET:", "tha")])
    with pytest.raises(ValueError, match="the rejected text 'th€' has characters outside the vocabulary"):
        P.PreferencePairs.from_texts(tok, [("ROMEO:", "the")], [("ROMEO:", "th€")])
    with pytest.raises(ValueError, match="compares a sequence with itself"):
        P.PreferencePairs.from_texts(tok, [("ROMEO:", "the")], [("ROMEO:", "the")])
    with pytest.raises(ValueError, match="got no pairs"):
        P.PreferencePairs((), (), ())
    with pytest.raises(ValueError, match="temperature must be a positive number"):
        P.BradleyTerry(0.0)
    with pytest.raises(ValueError, match="n_pairs must be a whole number"):
        P.sample_preferences(kl_env, 0)


def test_a_deterministic_policy_cannot_make_pairs(small_env, small_tree):
    greedy = np.zeros_like(small_tree.reference)
    greedy[:, 0] = 1.0
    with pytest.raises(ValueError, match="identical sequences .* deterministic"):
        P.sample_preferences(small_env, 5, policy=greedy, tree=small_tree, max_redraws=3)


def test_beta_must_be_positive(kl_tree, learned_tree):
    with pytest.raises(ValueError, match=r"kl_coefs\[1\] must be a positive number"):
        RM.overoptimisation_curve(kl_tree, learned_tree, [0.1, 0.0])
    with pytest.raises(ValueError, match="kl_coef must be a positive number"):
        RM.learned_optimum_score(kl_tree, learned_tree, -1.0)


def test_sampling_from_a_network_and_from_a_table(small_env, small_tree):
    from lmenv.policy import PolicyValueModel

    rng = np.random.default_rng(0)
    from_model = P.sample_sequences(small_env, 20, rng, policy=PolicyValueModel(small_env))
    from_table = P.sample_sequences(small_env, 20, rng, policy=small_tree.reference, tree=small_tree)
    allowed = set(small_env.action_tokens.tolist())
    for y in from_model + from_table:
        assert len(y) == 3 and set(y) <= allowed
    with pytest.raises(ValueError, match="needs the tree"):
        P.sample_sequences(small_env, 2, rng, policy=small_tree.reference)
