"""The fast paths of the exact solvers return what the plain definitions return."""

import numpy as np
import pytest

import rlcore as rl
from rlcore import mdps
from rlcore.exact.dp import policy_transition
from rlcore.exact.policies import max_over_actions


@pytest.mark.parametrize("shape", [(7, 1), (1000, 2), (50, 10), (20, 33), (5, 200)])
def test_max_over_actions_is_row_max(shape):
    Q = np.random.default_rng(0).standard_normal(shape)
    np.testing.assert_array_equal(max_over_actions(Q), Q.max(axis=1))


@pytest.mark.parametrize("row", [[0.3, -1.2, 0.7, 0.7], [np.nan, 1.0], [1.0, np.nan], [0.1, 0.5, -np.inf, 0.2],
                                 [np.inf, -np.inf], [-np.inf, -np.inf], [2.5], list(np.linspace(-1, 1, 33))])
def test_max_over_actions_of_one_row_is_numpys_max_nan_included(row):
    """One state's row (the path every step of a tabular run takes): numpy's answer, NaN propagated."""
    q = np.array(row)
    np.testing.assert_array_equal(max_over_actions(q), q.max())


@pytest.mark.parametrize("sparse", [False, True])
def test_deterministic_policy_transition_matches_the_weighted_sum(sparse):
    mdp = mdps.garnet(30, 4, 5, seed=1, sparse=sparse)
    actions = np.random.default_rng(1).integers(0, 4, size=30)
    one_hot = np.eye(4)[actions]
    P_pi, r_pi = policy_transition(mdp, one_hot)
    almost = 0.999999 * one_hot + 0.000001 / 4  # not one-hot: takes the general path
    P_gen, r_gen = policy_transition(mdp, almost)
    dense = P_pi.toarray() if sparse else P_pi
    dense_gen = P_gen.toarray() if sparse else P_gen
    np.testing.assert_allclose(dense, dense_gen, atol=1e-5)
    np.testing.assert_array_equal(r_pi, mdp.R[np.arange(30), actions])
    if sparse:  # mdp.P is one (S, S) matrix per action
        expected = np.stack([mdp.P[a].toarray()[s] for s, a in enumerate(actions)])
    else:
        expected = mdp.P[np.arange(30), actions]
    np.testing.assert_array_equal(dense, expected)


@pytest.mark.parametrize("gamma", [0.5, 0.9, 0.99])
@pytest.mark.parametrize("sparse", [False, True])
def test_span_stopping_is_within_tol_and_needs_fewer_sweeps(gamma, sparse):
    mdp = mdps.garnet(60, 3, 4, seed=2, gamma=gamma, sparse=sparse)
    exact = rl.policy_iteration(mdp).V
    for tol in (1e-2, 1e-8):
        span = rl.value_iteration(mdp, tol=tol, stopping="span")
        sup = rl.value_iteration(mdp, tol=tol)
        assert span.converged and span.error_bound <= tol
        assert np.abs(span.V - exact).max() <= tol
        assert span.iterations <= sup.iterations


def test_span_stopping_keeps_terminal_values_at_zero():
    mdp = mdps.gridworld_4x4()  # terminal corners, γ = 1 in the book: use a discounted copy
    discounted = rl.MDP(mdp.P, mdp.R, 0.9, terminal=mdp.terminal)
    exact = rl.policy_iteration(discounted).V
    vi = rl.value_iteration(discounted, tol=1e-9, stopping="span")
    assert np.all(vi.V[discounted.terminal] == 0.0)
    assert np.abs(vi.V - exact).max() <= 1e-9


def test_span_stopping_rejects_gamma_one_and_unknown_rules():
    with pytest.raises(ValueError, match="gamma < 1"):
        rl.value_iteration(mdps.gridworld_4x4(), stopping="span")
    with pytest.raises(ValueError, match="stopping must be"):
        rl.value_iteration(mdps.two_state(), stopping="relative")
