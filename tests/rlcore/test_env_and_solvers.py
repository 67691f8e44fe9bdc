"""The sampling environment, stopping rules and large sparse MDPs."""

import numpy as np
import pytest
import scipy.sparse as sp
from gymnasium.utils.env_checker import check_env

import rlcore as rl
from rlcore import mdps


@pytest.mark.parametrize("make", [mdps.gridworld_4x4, mdps.cliff_walking, mdps.two_state, mdps.frozen_lake,
                                  lambda: mdps.garnet(20, 3, 4, seed=0, sparse=True)])
def test_to_env_passes_gymnasium_checker(make):
    env = make().to_env(render_mode="ansi")
    check_env(env, skip_render_check=False)


def test_to_env_samples_the_transition_matrix():
    mdp = mdps.two_state()
    env = mdp.to_env()
    counts = np.zeros(2)
    env.reset(seed=0)
    for _ in range(4000):
        env.unwrapped._state = 0  # always step "go" from A
        s2, reward, terminated, truncated, info = env.step(1)
        counts[s2] += 1
        assert reward == -1.0 and not terminated and not truncated
    # P(B | A, go) = 0.8: binomial standard error is 0.0063 — allow 5 of them.
    assert abs(counts[1] / counts.sum() - 0.8) < 0.032


def test_to_env_uses_transition_rewards_and_terminates():
    env = mdps.random_walk().to_env()
    rng_returns = []
    for seed in range(300):
        s, _ = env.reset(seed=seed)
        assert s == 3
        total, terminated = 0.0, False
        while not terminated:
            s, r, terminated, truncated, _ = env.step(0)
            total += r
        assert s in (0, 6) and total == (1.0 if s == 6 else 0.0)
        rng_returns.append(total)
    assert abs(np.mean(rng_returns) - 0.5) < 0.1  # v(C) = 1/2
    with pytest.raises(RuntimeError, match="terminated: call reset"):
        env.step(0)


def test_to_env_seeding_and_invalid_action():
    env = mdps.frozen_lake().to_env()
    def rollout(seed):
        env.reset(seed=seed)
        out = []
        for a in [1, 2, 1, 2, 1, 2, 1, 2]:
            s, r, term, trunc, _ = env.step(a)
            out.append(s)
            if term:
                break
        return out
    assert rollout(7) == rollout(7)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"invalid action 4"):
        env.step(4)


def test_to_env_time_limit_truncates():
    env = mdps.gridworld_5x5().to_env(max_episode_steps=5)
    env.reset(seed=1)
    flags = [env.step(0)[2:4] for _ in range(5)]
    assert flags[-1] == (False, True) and all(f == (False, False) for f in flags[:-1])


def test_render_ansi_shows_the_grid():
    env = mdps.gridworld_4x4().to_env(render_mode="ansi")
    s, _ = env.reset(seed=3)
    lines = env.render().splitlines()
    assert len(lines) == 5 and lines[-1] == f"state ({s // 4},{s % 4})"
    grid = "".join(lines[:4])
    assert grid.count("x") == 1 and grid.index("x") == s and grid[0] == grid[15] == "T"


def forest(n_states, gamma, r1=4.0, r2=2.0, p=0.1):
    """The forest-management MDP of pymdptoolbox's example.forest, built sparse."""
    S = n_states
    s = np.arange(S)
    wait = sp.csr_matrix((np.r_[np.full(S, p), np.full(S, 1 - p)],
                          (np.r_[s, s], np.r_[np.zeros(S, int), np.minimum(s + 1, S - 1)])), shape=(S, S))
    cut = sp.csr_matrix((np.ones(S), (s, np.zeros(S, int))), shape=(S, S))
    R = np.zeros((S, 2))
    R[S - 1, 0] = r1
    R[1:, 1] = 1.0
    R[S - 1, 1] = r2
    return rl.MDP([wait, cut], R, gamma)


def test_value_iteration_stopping_rule_guarantees_tolerance():
    """At γ = 0.99 a 'last sweep changed little' rule stops far from V*; ours does not."""
    mdp = forest(1000, 0.99)
    exact = rl.policy_iteration(mdp).V
    assert exact[0] == pytest.approx(47.118, abs=5e-4)  # V*(0) of forest(1000), γ = 0.99
    for tol in (1e-2, 1e-6):
        vi = rl.value_iteration(mdp, tol=tol)
        assert vi.converged and np.abs(vi.V - exact).max() <= tol
        assert vi.error_bound <= tol
    # The naive rule (stop when a sweep changes V by < 0.01) leaves an error > 0.01.
    with pytest.warns(RuntimeWarning):
        naive = rl.value_iteration(mdp, tol=1e-12, max_iterations=int(np.searchsorted(-rl.value_iteration(mdp, tol=1e-6).residuals, -0.01)) + 1)
    assert naive.residuals[-1] < 0.01 and np.abs(naive.V - exact).max() > 0.5


def test_residual_history_respects_contraction():
    mdp = mdps.gridworld_5x5()
    vi = rl.value_iteration(mdp, tol=1e-10)
    r = vi.residuals
    assert np.all(r[1:] <= mdp.gamma * r[:-1] + 1e-12)
    assert vi.iterations == r.size


def test_large_sparse_chain_solves_exactly():
    """A 100,000-state chain to a terminal state: V(s) = −(distance to the end), γ = 1."""
    S = 100_000
    s = np.arange(S)
    forward = sp.csr_matrix((np.ones(S), (s, np.minimum(s + 1, S - 1))), shape=(S, S))
    stay = sp.identity(S, format="csr")
    terminal = np.zeros(S, dtype=bool)
    terminal[-1] = True
    mdp = rl.MDP([forward, stay], np.full((S, 2), -1.0), 1.0, terminal=terminal)
    solution = rl.policy_iteration(mdp, initial_policy=np.tile([1.0, 0.0], (S, 1)))
    np.testing.assert_allclose(solution.V, -(S - 1 - s), atol=1e-6)
    assert solution.policy[0, 0] == 1.0
    np.testing.assert_allclose(rl.policy_evaluation(mdp, solution.policy).V, solution.V, atol=1e-6)
    # Discounted, with soft value iteration and finite horizon on the sparse form.
    discounted = rl.MDP([forward, stay], np.full((S, 2), -1.0), 0.5, terminal=terminal)
    np.testing.assert_allclose(rl.value_iteration(discounted).V[:-100], -2.0, atol=1e-8)
    assert rl.finite_horizon(discounted, 3).V[0, 0] == pytest.approx(-1.75)
    assert rl.soft_value_iteration(discounted, 0.01).V[0] == pytest.approx(-2 + 2 * 0.01 * np.log(2), abs=1e-3)
