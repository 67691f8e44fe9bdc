"""Bad input gets a clear error that names the problem."""

import numpy as np
import pytest
import scipy.sparse as sp

import rlcore as rl
from rlcore import mdps


def valid():
    P = np.zeros((2, 2, 2))
    P[:, :, 0] = 1.0
    return P, np.zeros((2, 2))


def test_wrong_shape_of_P():
    with pytest.raises(ValueError, match=r"shape \(S, A, S\).*\(2, 2\)"):
        rl.MDP(np.eye(2), np.zeros((2, 2)), 0.9)
    with pytest.raises(ValueError, match=r"shape \(S, A, S\)"):
        rl.MDP(np.ones((2, 2, 3)) / 3, np.zeros((2, 2)), 0.9)


def test_wrong_shape_of_R():
    P, _ = valid()
    with pytest.raises(ValueError, match=r"R must have shape \(S, A\) = \(2, 2\).*got shape \(3,\)"):
        rl.MDP(P, np.zeros(3), 0.9)


def test_negative_probability_is_named():
    P, R = valid()
    P[1, 0] = [1.5, -0.5]
    with pytest.raises(ValueError, match=r"P\[1, 0, 1\] = -0.5 is a negative probability"):
        rl.MDP(P, R, 0.9)


def test_row_not_summing_to_one_names_state_and_action():
    P, R = valid()
    P[1, 1, 0] = 0.7
    with pytest.raises(ValueError, match=r"P\[s=1, a=1, :\] sum to 0.7, not 1"):
        rl.MDP(P, R, 0.9)


def test_sparse_rows_checked_too():
    bad = [sp.csr_matrix(np.array([[1.0, 0.0], [0.2, 0.2]])), sp.identity(2, format="csr")]
    with pytest.raises(ValueError, match=r"P\[s=1, a=0, :\] sum to 0.4"):
        rl.MDP(bad, np.zeros((2, 2)), 0.9)
    with pytest.raises(ValueError, match=r"P\[0\]\[0, 1\] = -1 is a negative probability"):
        rl.MDP([sp.csr_matrix(np.array([[2.0, -1.0], [0, 1]])), sp.identity(2)], np.zeros((2, 2)), 0.9)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_rewards(bad):
    P, R = valid()
    R[0, 1] = bad
    with pytest.raises(ValueError, match=r"R\[0, 1\] = .* is not finite"):
        rl.MDP(P, R, 0.9)


def test_non_finite_probability():
    P, R = valid()
    P[0, 0, 1] = np.nan
    with pytest.raises(ValueError, match=r"P\[0, 0, 1\] = nan is not finite"):
        rl.MDP(P, R, 0.9)


@pytest.mark.parametrize("gamma", [-0.1, 1.01, np.nan, "high"])
def test_gamma_outside_unit_interval(gamma):
    P, R = valid()
    with pytest.raises(ValueError, match="gamma must"):
        rl.MDP(P, R, gamma)


def test_masks_and_names_checked():
    P, R = valid()
    with pytest.raises(ValueError, match=r"terminal must be a boolean mask of shape \(2,\)"):
        rl.MDP(P, R, 0.9, terminal=[True])
    with pytest.raises(ValueError, match="initial must be a probability vector"):
        rl.MDP(P, R, 0.9, initial=[0.5, 0.6])
    with pytest.raises(ValueError, match="state_names has 3 entries; expected 2"):
        rl.MDP(P, R, 0.9, state_names="abc")
    with pytest.raises(ValueError, match="grid_shape"):
        rl.MDP(P, R, 0.9, grid_shape=(3, 3))


def test_gamma_one_with_policy_that_never_terminates():
    mdp = mdps.gridworld_4x4()
    up = np.zeros((16, 4))
    up[:, mdps.GRID_ACTIONS.index("up")] = 1.0  # bumps into the top wall forever
    for method in ("exact", "iterative"):
        with pytest.raises(ValueError, match=r"gamma = 1 and the policy never reaches a terminal state from 11 state"):
            rl.policy_evaluation(mdp, up, method=method)
    stuck = rl.exact.states_that_never_terminate(mdp, up)
    assert set(stuck.tolist()) == set(range(1, 15)) - {4, 8, 12}  # column 0 walks up into (0,0)


def test_bad_policies():
    mdp = mdps.two_state()
    with pytest.raises(ValueError, match=r"policy must have shape \(S, A\) = \(2, 2\)"):
        rl.policy_evaluation(mdp, np.ones((3, 2)) / 2)
    with pytest.raises(ValueError, match="policy row for state 1 sums to 0.5"):
        rl.policy_evaluation(mdp, np.array([[1.0, 0.0], [0.25, 0.25]]))
    with pytest.raises(ValueError, match="negative probability"):
        rl.v_from_q(np.zeros((2, 2)), np.array([[1.5, -0.5], [0.5, 0.5]]))
    with pytest.raises(ValueError, match="NaN"):
        rl.exact.check_policy(np.array([[np.nan, 1.0]]))


def test_bad_values_and_parameters():
    mdp = mdps.two_state()
    with pytest.raises(ValueError, match=r"V must have shape \(S,\) = \(2,\)"):
        rl.q_from_v(mdp, np.zeros(3))
    with pytest.raises(ValueError, match="V contains NaN"):
        rl.q_from_v(mdp, np.array([np.nan, 0.0]))
    with pytest.raises(ValueError, match=r"Q must have shape \(S, A\) = \(2, 2\)"):
        rl.bellman_optimality_q(mdp, np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"epsilon must be a number in \[0, 1\]"):
        rl.epsilon_greedy_policy(np.zeros((2, 2)), 1.5)
    with pytest.raises(ValueError, match="temperature must be a positive"):
        rl.softmax_policy(np.zeros((2, 2)), 0.0)
    with pytest.raises(ValueError, match="method must be"):
        rl.policy_evaluation(mdp, rl.uniform_policy(mdp), method="magic")
    with pytest.raises(ValueError, match="horizon must be"):
        rl.finite_horizon(mdp, -1)


def test_from_gymnasium_rejects_non_toy_text():
    import gymnasium as gym

    with pytest.raises(ValueError, match="no toy-text transition table"):
        rl.MDP.from_gymnasium(gym.make("CartPole-v1"))
