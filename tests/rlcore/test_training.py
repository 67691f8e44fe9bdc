"""rlcore.train: reproducibility, the EpisodeHistory it returns, Q-learning reaching value iteration's Q*
on slippery FrozenLake, and the helpers that read a learned Q."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

import rlcore as rl
from rlcore import mdps
from rlcore.learning import (
    EpisodeHistory,
    LinearDecay,
    MonteCarloControl,
    QLearning,
    Sarsa,
    TDZero,
    VisitCountStepSize,
    greedy_path,
    q_error,
    train,
)
from rlcore.plots import path_text, suboptimal_states


def assert_same_history(a: EpisodeHistory, b: EpisodeHistory):
    np.testing.assert_array_equal(a.returns, b.returns)
    np.testing.assert_array_equal(a.lengths, b.lengths)
    np.testing.assert_array_equal(a.truncated, b.truncated)


# ---------------------------------------------------------------------- same seed, same history
@pytest.mark.parametrize("cls", [QLearning, Sarsa, MonteCarloControl])
def test_same_seed_same_history_bit_for_bit(cls):
    runs = []
    for _ in range(2):
        env = gym.make("FrozenLake-v1", map_name="4x4", is_slippery=True)
        agent = cls(env, gamma=0.99, epsilon=0.3)
        runs.append((train(agent, env, 300, seed=123, progress=False), agent.Q.copy()))
    (h1, q1), (h2, q2) = runs
    assert_same_history(h1, h2)
    np.testing.assert_array_equal(q1, q2)
    env = gym.make("FrozenLake-v1", map_name="4x4", is_slippery=True)
    other = train(cls(env, gamma=0.99, epsilon=0.3), env, 300, seed=124, progress=False)
    assert not np.array_equal(other.lengths, h1.lengths)


def test_same_seed_same_history_with_tuple_observations():
    """Blackjack's observations are tuples (player sum, dealer card, usable ace): a dict table."""
    histories, tables = [], []
    for _ in range(2):
        env = gym.make("Blackjack-v1")
        agent = Sarsa(env, gamma=1.0, alpha=0.1, epsilon=0.1)
        histories.append(train(agent, env, 2000, seed=5, progress=False))
        tables.append(agent.Q)
    assert_same_history(*histories)
    assert isinstance(tables[0], dict) and tables[0].keys() == tables[1].keys()
    assert all(isinstance(key, tuple) and len(key) == 3 for key in tables[0])
    for key in tables[0]:
        np.testing.assert_array_equal(tables[0][key], tables[1][key])


def test_a_second_call_continues_training():
    env = mdps.cliff_walking().to_env()
    agent = QLearning(env, gamma=1.0)
    first = train(agent, env, 20, seed=0, progress=False)
    second = train(agent, env, 20, progress=False)
    assert agent.episode == 40
    assert second.returns.mean() > first.returns.mean()


# ---------------------------------------------------------------------- the EpisodeHistory
def test_history_lengths_truncation_and_snapshots():
    mdp = mdps.cliff_walking()
    env = mdp.to_env(max_episode_steps=40)
    agent = QLearning(env, gamma=1.0, epsilon=0.0)  # greedy in Q = 0 with random ties: a random walk at first
    h = train(agent, env, 60, seed=1, snapshot_every=20, progress=False)
    assert len(h) == 60 and h.n_steps == h.lengths.sum()
    assert np.all(h.truncated <= (h.lengths == 40))  # truncated only by the time limit
    assert h.truncated.any() and not h.truncated.all()
    np.testing.assert_array_equal(h.snapshot_episodes, [0, 20, 40, 60])
    assert len(h.snapshots) == 4 and np.all(h.snapshots[0] == 0.0)
    np.testing.assert_array_equal(h.snapshots[-1], agent.Q)
    assert h.snapshots[-1] is not agent.Q


def test_progress_bar(capfd):
    env = mdps.random_walk().to_env()
    train(TDZero(env, gamma=1.0), env, 150, seed=0, progress=True)
    assert "TDZero" in capfd.readouterr().err


def test_train_rejects_mismatched_environments():
    agent = QLearning(mdps.cliff_walking())
    with pytest.raises(ValueError, match="observation space"):
        train(agent, gym.make("FrozenLake-v1"), 1, progress=False)
    with pytest.raises(ValueError, match="action space"):
        train(agent, mdps.random_walk().to_env(), 1, progress=False)
    env = mdps.cliff_walking().to_env()
    env.action_space = spaces.Box(-1, 1)
    with pytest.raises(TypeError, match="Discrete action space"):
        train(agent, env, 1, progress=False)
    with pytest.raises(ValueError, match="n_episodes"):
        train(agent, mdps.cliff_walking().to_env(), -1, progress=False)
    with pytest.raises(ValueError, match="snapshot_every"):
        train(agent, mdps.cliff_walking().to_env(), 1, snapshot_every=0, progress=False)


# ---------------------------------------------------------------------- Q-learning reaches Q* on FrozenLake
def test_q_learning_reaches_q_star_on_slippery_frozen_lake():
    """Gymnasium's FrozenLake-v1 4x4 (slippery), γ = 0.99 as in rlcore.mdps.frozen_lake().

    Behaviour: ε decaying linearly from 1 to 0.5 (Q-learning is off-policy, so a broad behaviour
    keeps every pair visited); step size α = 1/N(s, a)^0.6. The time limit of 100 steps is a
    truncation, so the agent bootstraps through it and still targets the infinite-horizon Q*.
    Tolerance: max |Q − Q*| ≤ 0.1 over the non-terminal states (Q* ranges over 0.15 … 0.86; over
    5 seeds the final error was 0.05–0.09), and the greedy policy is optimal in every state.
    """
    mdp = mdps.frozen_lake(gamma=0.99)
    q_star = rl.value_iteration(mdp, tol=1e-12).Q
    env = gym.make("FrozenLake-v1", map_name="4x4", is_slippery=True)
    agent = QLearning(env, gamma=0.99, alpha=VisitCountStepSize(power=0.6), epsilon=LinearDecay(1.0, 0.5, 10_000))
    h = train(agent, env, 15_000, seed=0, snapshot_every=5_000, progress=False)
    errors = q_error(np.stack(h.snapshots), q_star, ~mdp.terminal)
    assert errors[0] == pytest.approx(q_star[~mdp.terminal].max())  # Q = 0 at the start
    assert errors[-1] <= 0.1, errors
    assert errors[-1] < errors[1] < errors[0]
    assert suboptimal_states(mdp, agent.Q, q_star).size == 0


# ---------------------------------------------------------------------- reading a learned Q
def test_greedy_path_and_its_text():
    mdp = mdps.cliff_walking()
    q_star = rl.value_iteration(mdp).Q
    path = greedy_path(mdp, q_star)
    assert path[0] == 36 and path[-1] == 47 and len(path) == 14  # 13 steps: the optimal path
    text = path_text(mdp, path)
    assert text.splitlines()[3] == "S . . . . . . . . . . G"
    assert text.splitlines()[2] == "o " * 11 + "o"
    loop = np.zeros((mdp.n_states, mdp.n_actions))
    loop[:, 3] = 1.0  # always left: stuck at the start
    assert greedy_path(mdp, loop) == [36, 36]
    assert path_text(mdps.two_state(), [0, 1]) == "A → B"


def test_q_error():
    q_star = np.array([[1.0, 2.0], [3.0, 4.0]])
    tables = np.stack([q_star, q_star + [[0.5, 0.0], [0.0, -2.0]]])
    np.testing.assert_array_equal(q_error(tables, q_star), [0.0, 2.0])
    np.testing.assert_array_equal(q_error(tables, q_star, states=np.array([True, False])), [0.0, 0.5])
    assert q_error(np.array([1.0, 5.0]), np.array([1.0, 2.0])) == 3.0
