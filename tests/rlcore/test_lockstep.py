"""The lockstep runner: the textbook figures it exists for, and its equivalence with rlcore.train.

Equivalence is checked two ways. Where no randomness is involved (ε = 0, deterministic MDP, a
random initial Q without ties, deterministic policies) every run of the lockstep runner must
reproduce the single-run agent bit for bit — this pins down the update rules and the order of
"choose" and "learn" of each algorithm. Where randomness is involved the two draw their random
numbers in different orders, so they are compared in distribution: the means over runs of a few
statistics must agree within 4.5 standard errors of their difference (a false alarm about once
in 150 000 comparisons, while a wrong exploration rule or transition sampler shifts them by many).
"""

import gymnasium as gym
import numpy as np
import pytest

import rlcore as rl
from rlcore import mdps
from rlcore.learning import (
    ExpectedSarsa,
    LinearDecay,
    MonteCarloControl,
    MonteCarloPrediction,
    QLearning,
    Sarsa,
    TDZero,
    greedy_path,
    q_error,
    train,
    train_lockstep,
)
from rlcore.plots import suboptimal_states
from testkit import assert_same_mean


# ---------------------------------------------------------------------- Example 6.6 / Figure 6.4
@pytest.fixture(scope="module")
def cliff_runs():
    mdp = mdps.cliff_walking()
    runs = {cls.__name__: train_lockstep(cls(mdp, alpha=0.5, epsilon=0.1), mdp, 50, 500, seed=0)
            for cls in (Sarsa, QLearning)}
    return mdp, runs


def test_figure_6_4_final_100_episodes(cliff_runs):
    """50 runs × 500 episodes, ε = 0.1, α = 0.5 (the reference implementation: −27.6 and −48.8).

    Over 1000 runs the means are −26.8 ± 0.2 (SARSA) and −50.0 ± 0.2 (Q-learning); 20 disjoint
    batches of 50 runs all fell inside the ranges asserted here.
    """
    _, runs = cliff_runs
    sarsa = runs["Sarsa"].returns[:, -100:].mean()
    q_learning = runs["QLearning"].returns[:, -100:].mean()
    assert -30.0 <= sarsa <= -25.0, sarsa
    assert -55.0 <= q_learning <= -45.0, q_learning
    assert sarsa - q_learning > 15.0


def _row_in_the_middle(mdp, path):
    """Rows visited in columns 1..10 (between start and goal)."""
    cols = mdp.grid_shape[1]
    return {s // cols for s in path if 1 <= s % cols <= 10}


def test_figure_6_4_greedy_paths_safe_and_cliff_edge(cliff_runs):
    mdp, runs = cliff_runs
    edge = [36, *range(24, 36), 47]  # up from the start (3, 0), along row 2, down into the goal
    # Q-learning learns the optimal path along the edge in every run ...
    for Q in runs["QLearning"].tables:
        assert greedy_path(mdp, Q) == edge
    assert greedy_path(mdp, runs["QLearning"].tables.mean(axis=0)) == edge
    # ... SARSA the safe one, away from the edge (some runs' greedy policy still loops).
    sarsa_paths = [greedy_path(mdp, Q) for Q in runs["Sarsa"].tables]
    safe = [mdp.terminal[p[-1]] and _row_in_the_middle(mdp, p) <= {0, 1} for p in sarsa_paths]
    assert np.mean(safe) >= 0.7
    assert edge not in sarsa_paths
    mean_path = greedy_path(mdp, runs["Sarsa"].tables.mean(axis=0))
    assert mdp.terminal[mean_path[-1]] and _row_in_the_middle(mdp, mean_path) == {0}  # along the top


# ---------------------------------------------------------------------- Example 6.2 / Figure 6.2
@pytest.fixture(scope="module")
def random_walk_rms():
    mdp = mdps.random_walk()
    true = np.arange(1, 6) / 6
    curves, finals = {}, {}
    for name, make, alphas in [("TD", TDZero, (0.05, 0.1, 0.15)), ("MC", MonteCarloPrediction, (0.01, 0.02, 0.03, 0.04))]:
        for alpha in alphas:
            h = train_lockstep(make(mdp, alpha=alpha, initial_value=0.5), mdp, 100, 100, seed=1, snapshot_every=1)
            V = h.snapshots[:, :, 1:6]  # (runs, 101 snapshots, the five states A..E)
            curves[name, alpha] = np.sqrt(((V - true) ** 2).mean(axis=2)).mean(axis=0)  # RMS, averaged over runs
            finals[name, alpha] = h.tables[:, 1:6].mean(axis=0)
    return curves, finals, true


def test_figure_6_2_estimates_approach_the_true_values(random_walk_rms):
    curves, finals, true = random_walk_rms
    for key, curve in curves.items():
        assert curve[0] == pytest.approx(np.sqrt(np.mean((0.5 - true) ** 2)))  # 0.236 before learning
        assert curve[-1] < 0.12, key
    for alpha in (0.05, 0.1):
        np.testing.assert_allclose(finals["TD", alpha], true, atol=0.04)  # 1/6 … 5/6, run-averaged


def test_figure_6_2_td_below_monte_carlo(random_walk_rms):
    """For the book's step sizes, TD(0)'s RMS error stays below constant-α MC's after the first episodes."""
    curves, _, _ = random_walk_rms
    for td_alpha in (0.05, 0.1, 0.15):
        for mc_alpha in (0.01, 0.02, 0.03, 0.04):
            td, mc = curves["TD", td_alpha], curves["MC", mc_alpha]
            assert td[20:].mean() < mc[20:].mean() - 0.015, (td_alpha, mc_alpha)
            assert np.all(td[40:] < mc[40:]), (td_alpha, mc_alpha)


# ---------------------------------------------------------------------- Q-learning reaches Q*
def test_q_learning_reaches_q_star_on_the_4x4_gridworld():
    mdp = mdps.gridworld_4x4()
    q_star = rl.value_iteration(mdp, tol=1e-12).Q
    agent = QLearning(mdp, alpha=0.5, epsilon=LinearDecay(1.0, 0.1, 1000))
    h = train_lockstep(agent, mdp, 20, 400, seed=1, snapshot_every=100)
    errors = q_error(h.snapshots, q_star, ~mdp.terminal)  # (runs, snapshots)
    assert np.all(errors[:, 0] == 4.0)  # Q = 0 against q*(s, a) down to −4 ... (γ = 1, reward −1)
    assert errors[:, -1].max() < 1e-4  # ... shrinks to nothing (deterministic, every pair explored)
    assert np.all(errors[:, -1] <= errors[:, 1])
    for Q in h.tables:
        assert suboptimal_states(mdp, Q, q_star).size == 0


# ---------------------------------------------------------------------- exact equality without randomness
@pytest.mark.parametrize("cls, alpha", [(QLearning, 0.5), (Sarsa, 0.3), (ExpectedSarsa, 0.5), (MonteCarloControl, "1/n"),
                                        (QLearning, "1/n")])
def test_lockstep_reproduces_train_exactly_without_randomness(cls, alpha):
    mdp = mdps.cliff_walking()
    Q0 = np.random.default_rng(5).random((mdp.n_states, mdp.n_actions))  # no ties
    template = cls(mdp, alpha=alpha, epsilon=0.0)
    template.Q[:] = Q0
    lock = train_lockstep(template, mdp, 3, 30, seed=1, max_episode_steps=60)
    assert np.all(template.Q == Q0)  # the template is not trained
    env = mdp.to_env(max_episode_steps=60)
    single = cls(env, alpha=alpha, gamma=1.0, epsilon=0.0)
    single.Q[:] = Q0
    history = train(single, env, 30, seed=2, progress=False)
    assert history.truncated.any()  # truncation (bootstrapping) is exercised too
    for run in range(3):
        np.testing.assert_array_equal(lock.returns[run], history.returns)
        np.testing.assert_array_equal(lock.lengths[run], history.lengths)
        np.testing.assert_array_equal(lock.truncated[run], history.truncated)
        np.testing.assert_array_equal(lock.tables[run], single.Q)


@pytest.mark.parametrize("cls", [TDZero, MonteCarloPrediction])
def test_lockstep_evaluation_reproduces_train_exactly_with_a_deterministic_policy(cls):
    mdp = mdps.cliff_walking()
    up, right, down = 0, 1, 2
    policy = np.zeros((mdp.n_states, mdp.n_actions))
    policy[:, up] = 1.0
    policy[:12] = np.eye(4)[right]  # along the top row
    policy[[11, 23, 35]] = np.eye(4)[down]  # down the last column
    lock = train_lockstep(cls(mdp, alpha=0.3, policy=policy, initial_value=0.5), mdp, 2, 20, seed=1)
    single = cls(mdp.to_env(), alpha=0.3, gamma=1.0, policy=policy, initial_value=0.5)
    history = train(single, mdp.to_env(), 20, seed=3, progress=False)
    np.testing.assert_array_equal(lock.returns[0], history.returns)
    np.testing.assert_array_equal(lock.tables[1], single.V)


# ---------------------------------------------------------------------- equality in distribution
@pytest.mark.parametrize("make", [
    lambda env, **kw: QLearning(env, alpha=0.1, epsilon=0.2, **kw),
    lambda env, **kw: Sarsa(env, alpha=0.1, epsilon=LinearDecay(0.5, 0.05, 100), **kw),
    lambda env, **kw: ExpectedSarsa(env, alpha="1/n", temperature=0.2, **kw),
    lambda env, **kw: MonteCarloControl(env, epsilon=0.2, **kw),
], ids=["QLearning", "Sarsa-schedule", "ExpectedSarsa-softmax-1/n", "MonteCarloControl"])
def test_lockstep_matches_separate_train_runs_on_slippery_frozen_lake(make):
    """Gymnasium's own FrozenLake-v1 (slippery, 100-step time limit) against the MDP built from its table."""
    mdp = mdps.frozen_lake(gamma=0.99)
    lock = train_lockstep(make(mdp), mdp, 200, 100, seed=0, max_episode_steps=100)
    env = gym.make("FrozenLake-v1", map_name="4x4", is_slippery=True)
    singles = [train(make(env, gamma=0.99), env, 100, seed=seed, progress=False) for seed in range(30)]
    single_returns = np.array([h.returns for h in singles])
    single_lengths = np.array([h.lengths for h in singles])
    assert_same_mean(lock.returns.mean(axis=1), single_returns.mean(axis=1), "success rate")
    assert_same_mean(lock.lengths.mean(axis=1), single_lengths.mean(axis=1), "episode length")
    assert_same_mean(lock.lengths[:, :10].mean(axis=1), single_lengths[:, :10].mean(axis=1), "early episode length")


@pytest.mark.parametrize("cls", [TDZero, MonteCarloPrediction])
def test_lockstep_evaluation_matches_separate_train_runs_on_the_random_walk(cls):
    mdp = mdps.random_walk()
    lock = train_lockstep(cls(mdp, alpha=0.1, initial_value=0.5), mdp, 400, 20, seed=0)
    env = mdp.to_env()
    singles = []
    for seed in range(60):
        agent = cls(env, alpha=0.1, gamma=1.0, initial_value=0.5)
        train(agent, env, 20, seed=seed, progress=False)
        singles.append(agent.V.copy())
    singles = np.array(singles)
    for state in (1, 3, 5):
        assert_same_mean(lock.tables[:, state], singles[:, state], f"V({mdp.state_names[state]})")


# ---------------------------------------------------------------------- API
def test_lockstep_history_shapes_and_snapshots():
    mdp = mdps.cliff_walking()
    h = train_lockstep(QLearning(mdp), mdp, 4, 10, seed=0, snapshot_every=4)
    assert h.returns.shape == h.lengths.shape == h.truncated.shape == (4, 10)
    np.testing.assert_array_equal(h.snapshot_episodes, [0, 4, 8, 10])
    assert h.snapshots.shape == (4, 4, 48, 4) and h.n_runs == 4
    assert np.all(h.snapshots[:, 0] == 0.0)
    np.testing.assert_array_equal(h.snapshots[:, -1], h.tables)
    assert np.all(h.lengths >= 13) and not h.truncated.any()


def test_lockstep_rejects_what_it_cannot_run():
    mdp = mdps.random_walk()
    with pytest.raises(TypeError, match="Discrete observation space"):
        train_lockstep(QLearning(gym.make("Blackjack-v1"), gamma=1.0), mdp, 2, 2)
    with pytest.raises(TypeError, match="callable"):
        train_lockstep(TDZero(mdp, policy=lambda s: [1.0]), mdp, 2, 2)
    with pytest.raises(ValueError, match="do not match"):
        train_lockstep(QLearning(mdps.cliff_walking()), mdp, 2, 2)
    with pytest.raises(ValueError, match="n_runs"):
        train_lockstep(TDZero(mdp), mdp, 0, 2)
