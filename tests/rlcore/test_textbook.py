"""Sutton & Barto's printed numbers, to the printed digit."""

import gymnasium as gym
import numpy as np
import pytest

import rlcore as rl
from rlcore import mdps

# Figure 4.1, right column: v_π of the equiprobable random policy (exact integers).
FIG_4_1_V_PI = [[0, -14, -20, -22], [-14, -18, -20, -20], [-20, -20, -18, -14], [-22, -20, -14, 0]]
# Figure 4.1, left column, as printed (the book rounds halves up: −1.75 is printed −1.7).
FIG_4_1_SWEEPS = {
    1: [[0.0, -1.0, -1.0, -1.0], [-1.0, -1.0, -1.0, -1.0], [-1.0, -1.0, -1.0, -1.0], [-1.0, -1.0, -1.0, 0.0]],
    2: [[0.0, -1.7, -2.0, -2.0], [-1.7, -2.0, -2.0, -2.0], [-2.0, -2.0, -2.0, -1.7], [-2.0, -2.0, -1.7, 0.0]],
    3: [[0.0, -2.4, -2.9, -3.0], [-2.4, -2.9, -3.0, -2.9], [-2.9, -3.0, -2.9, -2.4], [-3.0, -2.9, -2.4, 0.0]],
}
FIG_3_2 = [
    [3.3, 8.8, 4.4, 5.3, 1.5],
    [1.5, 3.0, 2.3, 1.9, 0.5],
    [0.1, 0.7, 0.7, 0.4, -0.4],
    [-1.0, -0.4, -0.4, -0.6, -1.2],
    [-1.9, -1.3, -1.2, -1.4, -2.0],
]
FIG_3_5 = [
    [22.0, 24.4, 22.0, 19.4, 17.5],
    [19.8, 22.0, 19.8, 17.8, 16.0],
    [17.8, 19.8, 17.8, 16.0, 14.4],
    [16.0, 17.8, 16.0, 14.4, 13.0],
    [14.4, 16.0, 14.4, 13.0, 11.7],
]


def round_half_up(x, decimals=1):
    return np.floor(np.asarray(x) * 10**decimals + 0.5) / 10**decimals


def test_figure_4_1_random_policy_value():
    mdp = mdps.gridworld_4x4()
    V = rl.policy_evaluation(mdp, rl.uniform_policy(mdp)).V
    np.testing.assert_allclose(V.reshape(4, 4), FIG_4_1_V_PI, atol=1e-9)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_figure_4_1_first_sweeps(k):
    mdp = mdps.gridworld_4x4()
    policy = rl.uniform_policy(mdp)
    with pytest.warns(RuntimeWarning, match="without meeting tol"):
        V = rl.policy_evaluation(mdp, policy, method="iterative", max_iterations=k).V
    np.testing.assert_array_equal(round_half_up(V.reshape(4, 4)), FIG_4_1_SWEEPS[k])
    # The same sweeps by hand with the operator: v_{k} = T^π v_{k-1}, v_0 = 0.
    by_hand = np.zeros(16)
    for _ in range(k):
        by_hand = rl.bellman_v(mdp, by_hand, policy)
    np.testing.assert_allclose(V, by_hand, atol=1e-12)


def test_figure_4_1_sweep_two_exact_value():
    mdp = mdps.gridworld_4x4()
    with pytest.warns(RuntimeWarning):
        V = rl.policy_evaluation(mdp, rl.uniform_policy(mdp), method="iterative", max_iterations=2).V
    assert V[1] == pytest.approx(-1.75, abs=1e-12)  # printed as −1.7


def test_figure_3_2_random_policy_value():
    mdp = mdps.gridworld_5x5()
    V = rl.policy_evaluation(mdp, rl.uniform_policy(mdp)).V
    np.testing.assert_array_equal(np.round(V.reshape(5, 5), 1), FIG_3_2)


@pytest.mark.parametrize("solver", [rl.value_iteration, rl.policy_iteration])
def test_figure_3_5_optimal_value(solver):
    mdp = mdps.gridworld_5x5()
    solution = solver(mdp)
    np.testing.assert_array_equal(np.round(solution.V.reshape(5, 5), 1), FIG_3_5)
    # Figure 3.5 (right): in A every action is optimal; from (1,1) only "up" is.
    np.testing.assert_allclose(solution.policy[1], 0.25)
    assert solution.policy[6, mdps.GRID_ACTIONS.index("up")] == 1.0
    # v*(A) = 10 + γ v*(A') exactly, the Bellman optimality equation at A.
    assert solution.V[1] == pytest.approx(10 + 0.9 * solution.V[21], abs=1e-7)


def test_example_6_2_random_walk_true_values():
    mdp = mdps.random_walk()
    V = rl.policy_evaluation(mdp, rl.uniform_policy(mdp)).V
    np.testing.assert_allclose(V, [0, 1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6, 0], atol=1e-12)
    assert mdp.state_names[3] == "C" and mdp.initial[3] == 1.0


def test_figure_7_2_nineteen_state_walk():
    mdp = mdps.random_walk(19, left_reward=-1.0)
    V = rl.policy_evaluation(mdp, rl.uniform_policy(mdp)).V
    np.testing.assert_allclose(V[1:-1], (np.arange(1, 20) - 10) / 10, atol=1e-12)


def test_example_4_3_gamblers_problem():
    mdp = mdps.gamblers_problem(p_heads=0.4)
    vi = rl.value_iteration(mdp, tol=1e-12)
    assert vi.V[50] == pytest.approx(0.4, abs=1e-9)
    assert vi.V[25] == pytest.approx(0.4**2, abs=1e-9)  # win twice in a row
    assert vi.V[75] == pytest.approx(0.4 + 0.6 * 0.4, abs=1e-9)
    pi = rl.policy_iteration(mdp)
    np.testing.assert_allclose(pi.V, vi.V, atol=1e-8)
    # Staking everything at 50 is optimal (the spike of Figure 4.3).
    assert vi.policy[50, 49] > 0


def test_two_state_mdp_by_hand():
    mdp = mdps.two_state()
    # v*(B) = 2/(1 − γ); v*(A) solves v = −1 + γ(0.8 v*(B) + 0.2 v).
    v_b = 2 / (1 - 0.9)
    v_a = (-1 + 0.9 * 0.8 * v_b) / (1 - 0.9 * 0.2)
    np.testing.assert_allclose(rl.value_iteration(mdp, tol=1e-12).V, [v_a, v_b], atol=1e-10)
    # Uniform random policy: solve the 2x2 system by Cramer's rule.
    #   0.46 v_A − 0.36 v_B = −0.5 ;  −0.45 v_A + 0.55 v_B = 1
    det = 0.46 * 0.55 - 0.36 * 0.45
    expected = [(-0.5 * 0.55 + 0.36 * 1) / det, (0.46 * 1 - 0.45 * 0.5) / det]
    np.testing.assert_allclose(rl.policy_evaluation(mdp, rl.uniform_policy(mdp)).V, expected, atol=1e-12)


def test_cliff_walking_matches_gymnasium_and_example_6_6():
    ours = mdps.cliff_walking()
    theirs = rl.MDP.from_gymnasium(gym.make("CliffWalking-v1"))
    np.testing.assert_array_equal(ours.terminal, theirs.terminal)
    np.testing.assert_allclose(ours.P, theirs.P)
    np.testing.assert_allclose(ours.R, theirs.R)
    np.testing.assert_allclose(ours.initial, theirs.initial)
    # The cliff sends the agent back to the start with −100 and does not terminate.
    start, next_to_cliff = 36, 24
    down = mdps.GRID_ACTIONS.index("down")
    assert theirs.P[next_to_cliff + 1, down, start] == 1.0 and theirs.R[next_to_cliff + 1, down] == -100
    assert not theirs.terminal[start] and theirs.terminal[47]
    # The optimal path walks along the cliff edge: 13 steps from the start.
    assert rl.value_iteration(ours).V[start] == pytest.approx(-13)


def test_frozen_lake_terminals_and_rewards():
    mdp = mdps.frozen_lake()
    desc = np.asarray(gym.make("FrozenLake-v1").unwrapped.desc).ravel()
    np.testing.assert_array_equal(mdp.terminal, np.isin(desc, [b"H", b"G"]))
    goal = int(np.flatnonzero(desc == b"G")[0])
    # Reward 1 only on entering the goal: r(s, a) = p(goal | s, a) outside terminal states.
    live = ~mdp.terminal
    np.testing.assert_allclose(mdp.R[live], mdp.P[live, :, goal])
    np.testing.assert_array_equal(mdp.R[~live], 0.0)
    solution = rl.value_iteration(mdp)
    greedy_value = rl.policy_evaluation(mdp, solution.policy).V
    np.testing.assert_allclose(greedy_value, solution.V, atol=1e-6)


def test_taxi_from_gymnasium_solves():
    mdp = rl.MDP.from_gymnasium(gym.make("Taxi-v4"), gamma=0.99)
    assert mdp.n_states == 500 and mdp.n_actions == 6 and mdp.terminal.sum() > 0
    vi, pi = rl.value_iteration(mdp), rl.policy_iteration(mdp)
    np.testing.assert_allclose(vi.V, pi.V, atol=1e-7)
