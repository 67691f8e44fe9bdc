"""KL estimators k1, k2, k3 exactly on the tree: values, moments, gradients, and the fixed points of KL in the loss."""

import numpy as np
import pytest
import torch

import lmenv
from lmenv import _tree
from lmenv import kl_estimators as K
from lmenv.policy import PolicyValueModel

BETA = 0.1


@pytest.fixture(scope="module")
def tilted_policy(small_tree):
    """A policy away from π_ref: π ∝ π_ref exp(z), z random."""
    z = np.random.default_rng(0).normal(size=small_tree.reference.shape)
    p = small_tree.reference * np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def tilted_model(small_env):
    model = PolicyValueModel(small_env)
    torch.manual_seed(0)
    with torch.no_grad():
        model.body.lm_head.weight.add_(0.3 * torch.randn_like(model.body.lm_head.weight))
    return model


def paths(tree, policy, per_edge):
    """(P(y), Σ_t per_edge along y) for every leaf, by brute force: walking up from each leaf."""
    parent, action = _tree.parents(tree)
    leaves = _tree.leaves(tree)
    prob, total = np.ones(leaves.size), np.zeros(leaves.size)
    for i, s in enumerate(leaves):
        while parent[s] >= 0:
            prob[i] *= policy[parent[s], action[s]]
            total[i] += per_edge[parent[s], action[s]]
            s = parent[s]
    return prob, total


def test_estimators_by_hand():
    x = np.log(2.0)  # π = 2 π_ref at the sampled token
    assert K.k1(x) == pytest.approx(0.693147, abs=1e-6)
    assert K.k2(x) == pytest.approx(0.5 * 0.693147**2, abs=1e-6)
    assert K.k3(x) == pytest.approx(0.5 - 1 + 0.693147, abs=1e-6)  # ρ = 1/2: (ρ − 1) − log ρ
    t = torch.tensor([x, -x])
    torch.testing.assert_close(K.k3(t), torch.tensor([K.k3(x), K.k3(-x)], dtype=t.dtype))
    assert K.k3(-x) >= 0 and K.k2(-x) >= 0 and K.k1(-x) < 0


@pytest.mark.parametrize("estimator", ["k1", "k2", "k3"])
def test_exact_moments_by_brute_force(small_tree, tilted_policy, estimator):
    live = ~_tree.terminal(small_tree)
    log_ratio = np.where(live[:, None], np.log(tilted_policy) - np.log(small_tree.reference), 0.0)
    prob, total = paths(small_tree, tilted_policy, K.ESTIMATORS[estimator](log_ratio))
    mean, variance = K.estimator_moments(small_tree, tilted_policy, estimator)
    assert mean == pytest.approx(prob @ total, rel=1e-12)
    assert variance == pytest.approx(prob @ (total - prob @ total) ** 2, rel=1e-9)
    kl = K.sequence_kl(small_tree, tilted_policy)
    if estimator in ("k1", "k3"):
        assert mean == pytest.approx(kl, rel=1e-12)  # unbiased
    else:
        assert abs(mean - kl) > 1e-3  # k2 is not
    assert kl == pytest.approx(lmenv.score(tilted_policy, small_tree, BETA).kl_to_reference, rel=1e-12)


def test_tree_log_policy_is_the_network_s_policy(small_tree, tilted_model):
    log_policy = K.tree_log_policy(tilted_model, small_tree)
    live = np.flatnonzero(~_tree.terminal(small_tree))
    expected = tilted_model.log_probs_of_prefixes([small_tree.prefixes[s] for s in live])
    np.testing.assert_allclose(log_policy.detach().numpy()[live], expected, atol=1e-5)
    d = K.log_visitation(small_tree, log_policy).exp().detach().numpy()
    np.testing.assert_allclose(d, _tree.visitation(small_tree, np.exp(log_policy.detach().numpy())), atol=1e-12)


def logits_objectives(tree, policy, estimator, placement):
    """Autograd gradients with respect to tabular logits z (π = softmax(z) at every state)."""
    z = torch.tensor(np.log(policy), requires_grad=True)
    log_policy = torch.log_softmax(z, dim=-1)
    if placement == "kl":
        objective = K.exact_kl(tree, log_policy)
    else:
        objective = K.expected_estimator_gradient_objective(tree, log_policy, estimator, placement)
    return torch.autograd.grad(objective, z)[0].numpy()


def test_exact_kl_gradient_is_the_expected_update(small_tree, tilted_policy):
    """−∇_z KL by autograd through the tree equals the policy-gradient direction of J = −KL (rewards 0, β = 1)."""
    grad = logits_objectives(small_tree, tilted_policy, None, "kl")
    direction = K.expected_update(small_tree, tilted_policy, 1.0, "reward", "k1", rewards=np.zeros_like(tilted_policy))
    np.testing.assert_allclose(-grad, direction, atol=1e-12)


@pytest.mark.parametrize("estimator", ["k1", "k2", "k3"])
def test_score_function_and_pathwise_parts_add_up(small_tree, tilted_policy, estimator):
    """g_reward + g_loss = ∇ E[Σ k] (= ∇KL for the unbiased k1, k3); k1 in the loss has zero expected gradient."""
    g_reward = logits_objectives(small_tree, tilted_policy, estimator, "reward")
    g_loss = logits_objectives(small_tree, tilted_policy, estimator, "loss")
    g_kl = logits_objectives(small_tree, tilted_policy, None, "kl")
    if estimator == "k1":
        np.testing.assert_allclose(g_loss, 0.0, atol=1e-12)
        np.testing.assert_allclose(g_reward, g_kl, atol=1e-12)
    if estimator == "k3":
        np.testing.assert_allclose(g_reward + g_loss, g_kl, atol=1e-12)
        assert np.abs(g_loss).max() > 1e-3  # but each part alone is biased
    if estimator == "k2":
        assert np.abs(g_reward + g_loss - g_kl).max() > 1e-3


@pytest.mark.parametrize("estimator", ["k1", "k2", "k3"])
@pytest.mark.parametrize("placement", ["reward", "loss"])
def test_logit_gradient_variance_by_brute_force(small_tree, tilted_policy, estimator, placement):
    tree, policy = small_tree, tilted_policy
    S, A = policy.shape
    live = ~_tree.terminal(tree)
    log_ratio = np.where(live[:, None], np.log(policy) - np.log(tree.reference), 0.0)
    k = K.ESTIMATORS[estimator](log_ratio)
    slope = K.SLOPES[estimator](log_ratio)
    parent, action = _tree.parents(tree)
    leaves = _tree.leaves(tree)
    grads, probs = np.zeros((leaves.size, S, A)), np.ones(leaves.size)
    for i, s in enumerate(leaves):
        steps = []
        while parent[s] >= 0:
            steps.append((parent[s], action[s]))
            s = parent[s]
        total = sum(k[p, a] for p, a in steps)
        for p, a in steps:
            score = -policy[p].copy()
            score[a] += 1.0  # ∇_z log π(a|s) = e_a − π
            grads[i, p] += (slope[p, a] if placement == "loss" else total) * score
            probs[i] *= policy[p, a]
    mean = np.tensordot(probs, grads, axes=1)
    expected = probs @ (grads**2).sum(axis=(1, 2)) - (mean**2).sum()
    assert K.logit_gradient_variance(tree, policy, estimator, placement) == pytest.approx(expected, rel=1e-9)


def test_estimator_report(small_tree, tilted_model):
    report = K.estimator_report(tilted_model, small_tree)
    row = report.row
    assert row("k1", "reward").gradient_error < 1e-5  # the score-function k1 is the exact gradient
    assert row("k1", "loss").gradient_ratio < 1e-5  # pathwise k1: no gradient at all
    assert abs(row("k1", "loss").bias) < 1e-9 and abs(row("k3", "loss").bias) < 1e-9
    assert row("k2", "loss").bias > 0.01
    for name in ("k2", "k3"):
        for placement in ("reward", "loss"):
            assert row(name, placement).gradient_error > 0.05
    assert "| k3 | loss |" in report.table()


def test_the_optimum_and_the_loss_fixed_points_are_fixed_points(kl_tree, kl_optimum):
    """The exact expected update vanishes at π*_β (KL in the reward, k1) and at each loss fixed point, and only there."""
    assert np.abs(K.expected_update(kl_tree, kl_optimum.policy, BETA, "reward", "k1")).max() < 1e-12
    for estimator in ("k1", "k2", "k3"):
        assert np.abs(K.expected_update(kl_tree, kl_optimum.policy, BETA, "loss", estimator)).max() > 1e-3
    for estimator in ("k2", "k3"):
        fixed = K.loss_fixed_point(kl_tree, BETA, estimator)
        np.testing.assert_allclose(fixed.sum(axis=1), 1.0, atol=1e-12)
        assert np.abs(K.expected_update(kl_tree, fixed, BETA, "loss", estimator)).max() < 1e-9
        assert np.abs(K.expected_update(kl_tree, fixed, BETA, "reward", "k1")).max() > 1e-3
        assert lmenv.score(fixed, kl_tree, BETA).fraction < 0.8  # neither is π*_β
    assert K.loss_fixed_point(kl_tree, BETA, "k1") is None


def test_k2_fixed_point_as_beta_grows_tends_to_the_reference(small_tree):
    fixed = K.loss_fixed_point(small_tree, 1e6, "k2")
    live = ~_tree.terminal(small_tree)
    np.testing.assert_allclose(fixed[live], small_tree.reference[live], atol=1e-5)


def test_bad_input(small_tree, tilted_policy):
    with pytest.raises(ValueError, match="estimator must be one of"):
        K.estimator_moments(small_tree, tilted_policy, "k4")
    with pytest.raises(ValueError, match="placement must be 'reward' or 'loss'"):
        K.expected_update(small_tree, tilted_policy, BETA, "value")
    with pytest.raises(ValueError, match="kl_coef must be a positive number"):
        K.loss_fixed_point(small_tree, 0.0, "k3")
    with pytest.raises(ValueError, match="kl_coef must be a non-negative number"):
        K.expected_update(small_tree, tilted_policy, -1.0)
