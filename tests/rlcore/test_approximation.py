"""Linear function approximation (Sutton & Barto, 2nd ed., Chapters 9–10): features, update rules,
exact solutions, agents, the 1000-state walk and Mountain Car.

Where the reference values come from is said in each test's docstring: hand computation, the
book's stated results, exact solutions computed from the MDP (rlcore's own solvers: the asymptotes
the learners must reach), or an independent implementation written in the test (Sutton's tiles3 and
a per-run Python loop in the style of the book's own code). Statistical comparisons use the rule of
test_engine: means agree within 4.5 standard errors of their difference.
"""

import math

import gymnasium as gym
import numpy as np
import pytest

import rlcore as rl
from rlcore import approximation as ap
from rlcore.approximation.agents import episode_returns, windowed_returns
from testkit import assert_same_mean


@pytest.fixture(scope="module")
def walk():
    """The 1000-state walk with its exact v_π, μ and the state-aggregation features of Figure 9.1."""
    mdp = rl.mdps.random_walk_1000()
    pi = rl.uniform_policy(mdp)
    v = rl.policy_evaluation(mdp, pi).V
    mu = ap.on_policy_distribution(mdp, pi)
    X = ap.feature_matrix(ap.StateAggregation(1, 1001, 10), mdp)
    return mdp, pi, v, mu, X


# ---------------------------------------------------------------------- the 1000-state walk
def test_random_walk_1000_is_example_9_1():
    """Hand-checked transitions of Example 9.1: 1/200 per neighbour, the missing ones go to termination."""
    mdp = rl.mdps.random_walk_1000()
    assert mdp.n_states == 1002 and mdp.n_actions == 1 and mdp.gamma == 1.0
    assert mdp.terminal[[0, 1001]].all() and not mdp.terminal[1:1001].any()
    assert mdp.initial[500] == 1.0
    P = mdp.P_flat.toarray()
    assert P[1, 0] == pytest.approx(0.5) and P[1, 2] == pytest.approx(1 / 200) and P[1, 101] == pytest.approx(1 / 200)
    assert P[1, 102] == 0.0
    assert P[500, 400] == pytest.approx(1 / 200) and P[500, 399] == 0.0 and P[500, 500] == 0.0
    assert P[950, 1001] == pytest.approx(50 / 200) and P[950, 900] == pytest.approx(1 / 200)
    assert mdp.R[1, 0] == pytest.approx(-0.5) and mdp.R[1000, 0] == pytest.approx(0.5) and mdp.R[500, 0] == 0.0


def test_true_value_of_the_1000_state_walk_is_nearly_linear(walk):
    """Book, Figure 9.1: v_π rises almost linearly from about −0.9 to +0.9; antisymmetric about the centre."""
    mdp, pi, v, mu, X = walk
    assert v[1] == pytest.approx(-0.92, abs=0.01) and v[1000] == pytest.approx(0.92, abs=0.01)
    np.testing.assert_allclose(v[1:1001], -v[1:1001][::-1], atol=1e-12)
    assert np.all(np.diff(v[1:1001]) > 0)
    line = np.polyfit(np.arange(1, 1001), v[1:1001], 1)
    assert np.abs(np.polyval(line, np.arange(1, 1001)) - v[1:1001]).max() < 0.15


def test_random_walk_1000_checks_its_arguments():
    with pytest.raises(ValueError, match="max_jump"):
        rl.mdps.random_walk_1000(10, 11)
    with pytest.raises(ValueError, match="n_states"):
        rl.mdps.random_walk_1000(0)


# ---------------------------------------------------------------------- features
def test_state_aggregation_groups_the_walk_in_hundreds():
    """Example 9.1 by hand: states 1–100 are group 0, 101–200 group 1, …, 901–1000 group 9."""
    agg = ap.StateAggregation(1, 1001, 10)
    groups = agg.active(np.array([1, 100, 101, 500, 501, 1000]))[:, 0]
    np.testing.assert_array_equal(groups, [0, 0, 1, 4, 5, 9])
    x = agg(np.arange(1, 1001))
    assert x.shape == (1000, 10) and np.all(x.sum(axis=1) == 1) and np.all(x.sum(axis=0) == 100)


def test_polynomial_and_fourier_bases_by_hand():
    """Eqs. 9.17 and 9.18 at u = 0.5: (1, u, u²) = (1, .5, .25) and (cos 0, cos π/2, cos π) = (1, 0, −1)."""
    np.testing.assert_allclose(ap.PolynomialBasis(2, 0, 2)(1.0), [1.0, 0.5, 0.25])
    np.testing.assert_allclose(ap.FourierBasis(2, 0, 2)(1.0), [1.0, 0.0, -1.0], atol=1e-15)
    two_d = ap.FourierBasis(3, [0, 0], [1, 1])
    assert two_d.n_features == 16
    u = np.array([0.25, 0.5])
    x = two_d(u)
    np.testing.assert_allclose(x, np.cos(np.pi * two_d.frequencies @ u))
    assert x[0] == 1.0 and ap.PolynomialBasis(3, [0, 0], [1, 1])(u)[0] == 1.0
    np.testing.assert_allclose(ap.PolynomialBasis(2, [0, 0], [1, 1])(u), [u[0] ** i * u[1] ** j for i in range(3) for j in range(3)])


def test_tile_coder_induces_exactly_the_partition_of_tiles3():
    """Independent implementation: Sutton's tiles3 (rlcore.approximation.tiles, a line-by-line port)
    with the floats scaled relative to ``low``. In every tiling, two states share our tile iff they
    share tiles3's tile (the indices differ only by relabelling)."""
    low, high, n_tilings, n_tiles = np.array([-1.2, -0.07]), np.array([0.5, 0.07]), 8, 8
    coder = ap.TileCoder(low, high, n_tilings, n_tiles)
    states = np.random.default_rng(0).uniform(low, high, size=(3000, 2))
    ours = coder.active(states)
    theirs = [ap.tiles(None, n_tilings, ((s - low) * n_tiles / (high - low)).tolist()) for s in states]
    for tiling in range(n_tilings):
        pairs = {(ours[i, tiling], theirs[i][tiling]) for i in range(len(states))}
        assert len(pairs) == len({p[0] for p in pairs}) == len({p[1] for p in pairs}), tiling
        assert np.all((ours[:, tiling] >= tiling * coder.tiles_per_tiling) & (ours[:, tiling] < (tiling + 1) * coder.tiles_per_tiling))
    assert coder.n_features == 8 * 81 and ours.shape == (3000, 8)


def test_tile_coder_with_one_tiling_is_state_aggregation():
    """Book, Section 9.5.4: tile coding with a single tiling is state aggregation."""
    states = np.random.default_rng(1).uniform(1, 1001, size=500)
    np.testing.assert_array_equal(ap.TileCoder(1, 1001, 1, 10).active(states), ap.StateAggregation(1, 1001, 10).active(states))


def test_tilings_are_offset_asymmetrically():
    """Figure 9.11: tiling i is displaced by i·(1, 3)/n of a tile; each tiling's partition differs."""
    coder = ap.TileCoder([0, 0], [1, 1], 4, 4)
    np.testing.assert_array_equal(coder.offsets, [[0, 0], [1, 3], [2, 2], [3, 1]])
    x = coder(np.random.default_rng(2).uniform(0, 1, size=(200, 2)))
    assert np.all(x.sum(axis=1) == 4)


def test_iht_warns_once_full_and_then_shares_indices():
    iht = ap.IHT(4)
    assert [iht.index((i,)) for i in range(4)] == [0, 1, 2, 3] and iht.full()
    assert iht.index((2,), read_only=True) == 2 and iht.index((9,), read_only=True) is None
    with pytest.warns(RuntimeWarning, match="full"):
        extra = iht.index((9,))
    assert 0 <= extra < 4


def test_features_refuse_states_they_do_not_cover_and_bad_arguments():
    coder = ap.book_tile_coder()
    with pytest.raises(ValueError, match=r"outside the box.*dimension 1"):
        coder.active([0.0, 0.2])
    with pytest.raises(ValueError, match="outside the box"):
        ap.StateAggregation(1, 1001, 10).active(np.array([0.0]))
    with pytest.raises(ValueError, match="outside the box"):
        coder.active([np.nan, 0.0])
    gym_low = np.array([-1.2, -0.07], dtype=np.float32).astype(float)  # −1.2000000477: float32 rounding is allowed
    assert coder.active(gym_low).shape == (8,)
    with pytest.raises(ValueError, match="high must exceed low"):
        ap.TileCoder([0, 1], [1, 1])
    with pytest.raises(ValueError, match="n_tilings"):
        ap.TileCoder(0, 1, 0)
    with pytest.raises(ValueError, match="tiles"):
        ap.TileCoder(0, 1, 8, 0)
    with pytest.raises(ValueError, match="order"):
        ap.FourierBasis(-1)
    with pytest.raises(ValueError, match="shape"):
        ap.FourierBasis(2, [0, 0], [1, 1])(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="n_groups"):
        ap.StateAggregation(0, 1, [2, 3])


# ---------------------------------------------------------------------- pure update functions
def test_linear_update_by_hand():
    """w = (1, 2), x = (1, .5), U = 3, α = .1: v̂ = 2, error 1, w ← (1.1, 2.05)."""
    w, x = np.array([1.0, 2.0]), np.array([1.0, 0.5])
    np.testing.assert_allclose(ap.linear_update(w, x, 3.0, 0.1), [1.1, 2.05])
    np.testing.assert_allclose(ap.gradient_mc_update(w, x, 3.0, 0.1), [1.1, 2.05])
    np.testing.assert_array_equal(w, [1.0, 2.0])  # arguments untouched
    # TD(0): U = r + γ v̂(x_t) = 0.5 + 0.9·(w·(0, 1)) = 2.3, error 0.3
    np.testing.assert_allclose(ap.semi_gradient_td_update(w, x, 0.5, 0.9, np.array([0.0, 1.0]), 0.1), [1.03, 2.015])
    np.testing.assert_allclose(ap.semi_gradient_td_update(w, x, 0.5, 0.0, np.array([0.0, 1.0]), 0.1), [0.85, 1.925])


def test_one_hot_features_make_the_updates_tabular():
    """Identity: with tabular (one-hot) features, semi-gradient TD(0) is TD(0) on V and semi-gradient
    SARSA is SARSA on Q (rlcore.td_target, rlcore.sarsa_target), entry by entry."""
    rng = np.random.default_rng(3)
    S, A = 6, 3
    V, Q = rng.normal(size=S), rng.normal(size=(A, S))
    I = np.eye(S)
    s, s2, a, a2, r, g = 2, 4, 1, 2, 0.7, 0.9
    expected_v = V.copy()
    expected_v[s] += 0.3 * (rl.td_target(r, g, V[s2]) - V[s])
    np.testing.assert_allclose(ap.semi_gradient_td_update(V, I[s], r, g, I[s2], 0.3), expected_v)
    expected_q = Q.copy()
    expected_q[a, s] += 0.3 * (rl.sarsa_target(r, g, Q[:, s2], a2) - Q[a, s])
    np.testing.assert_allclose(ap.semi_gradient_sarsa_update(Q, I[s], a, r, g, I[s2], a2, 0.3), expected_q)


def test_updates_take_a_batch_axis():
    rng = np.random.default_rng(4)
    B, A, d = 5, 3, 4
    w, W = rng.normal(size=(B, d)), rng.normal(size=(B, A, d))
    x0, x1 = rng.normal(size=(B, d)), rng.normal(size=(B, d))
    r, g = rng.normal(size=B), rng.uniform(size=B)
    a0, a1 = rng.integers(0, A, B), rng.integers(0, A, B)
    batch = ap.semi_gradient_td_update(w, x0, r, g, x1, 0.1)
    sarsa = ap.semi_gradient_sarsa_update(W, x0, a0, r, g, x1, a1, 0.1)
    for i in range(B):
        np.testing.assert_allclose(batch[i], ap.semi_gradient_td_update(w[i], x0[i], r[i], g[i], x1[i], 0.1))
        np.testing.assert_allclose(sarsa[i], ap.semi_gradient_sarsa_update(W[i], x0[i], a0[i], r[i], g[i], x1[i], a1[i], 0.1))
        assert np.count_nonzero(np.any(sarsa[i] != W[i], axis=1)) == 1  # only w_{A_{t−1}} moves


def test_the_float_helpers_equal_the_library_returns():
    rng = np.random.default_rng(5)
    r, d = rng.normal(size=12), rng.uniform(size=12)
    np.testing.assert_allclose(episode_returns(r, d, 0.3), rl.discounted_returns(r, d, 0.3), rtol=1e-13)
    R, D, v = rng.normal(size=(4, 6)), rng.uniform(size=(4, 6)), rng.normal(size=4)
    np.testing.assert_allclose(windowed_returns(R, D, v), rl.n_step_return(R, D, v), rtol=1e-13)


# ---------------------------------------------------------------------- exact solutions
def test_on_policy_distribution_of_the_five_state_walk_by_hand():
    """Eq. 9.2 by hand: a symmetric walk on A…E from C visits them 1, 2, 3, 2, 1 times per episode."""
    mdp = rl.mdps.random_walk()
    mu = ap.on_policy_distribution(mdp, rl.uniform_policy(mdp))
    np.testing.assert_allclose(mu, np.array([0, 1, 2, 3, 2, 1, 0]) / 9, atol=1e-12)


def test_tabular_features_recover_v_pi_exactly(walk):
    """Identity: with one feature per state both the VE minimiser and the TD fixed point are v_π (VE = 0)."""
    mdp = rl.mdps.random_walk(7)
    pi = rl.uniform_policy(mdp)
    v = rl.policy_evaluation(mdp, pi).V
    mu = ap.on_policy_distribution(mdp, pi)
    X = ap.feature_matrix(lambda s: np.eye(mdp.n_states)[s.astype(int)], mdp)
    np.testing.assert_allclose(X @ ap.mc_solution(X, v, mu), v, atol=1e-12)
    np.testing.assert_allclose(X @ ap.td_fixed_point(mdp, pi, X), v, atol=1e-12)
    assert ap.value_error(X @ ap.td_fixed_point(mdp, pi, X), v, mu) < 1e-24


def test_state_aggregation_asymptotes_of_figures_9_1_and_9_2(walk):
    """Book, Section 9.3 and Figure 9.1: under state aggregation the VE minimiser is the μ-weighted
    average of v_π in each group; Section 9.4: the TD fixed point has a larger VE (Figure 9.2 left)."""
    mdp, pi, v, mu, X = walk
    w_mc, w_td = ap.mc_solution(X, v, mu), ap.td_fixed_point(mdp, pi, X)
    groups = np.arange(1, 1001).reshape(10, 100)
    np.testing.assert_allclose(w_mc, [(mu[g] * v[g]).sum() / mu[g].sum() for g in groups], atol=1e-12)
    assert ap.value_error(X @ w_mc, v, mu) < ap.value_error(X @ w_td, v, mu)
    assert abs(w_td[0]) < abs(w_mc[0]) - 0.1  # TD's staircase is flatter at the ends


# ---------------------------------------------------------------------- the agents against the pure functions
def _episode(mdp, rng):
    """One episode of the walk: states S_0 … S_T and rewards R_1 … R_T."""
    sampler = rl.TransitionSampler(mdp)
    s, states, rewards = int(np.flatnonzero(mdp.initial)[0]), [], []
    states.append(s)
    while not mdp.terminal[s]:
        s, r, _ = sampler.step(s, 0, rng)
        states.append(int(s))
        rewards.append(float(r))
    return states, rewards


def _drive(agent, states, rewards, mdp):
    agent.start(states[0])
    for s, r in zip(states[1:], rewards):
        agent.step(r, s, bool(mdp.terminal[s]))


@pytest.mark.parametrize("basis", ["aggregation", "fourier"])
def test_gradient_mc_agent_applies_gradient_mc_update(basis):
    """The agent's end-of-episode sweep (fast path for aggregation, dense path otherwise) equals
    gradient_mc_update applied in time order with the Monte Carlo returns."""
    mdp = rl.mdps.random_walk_1000(100, 10)
    features = ap.StateAggregation(1, 101, 5) if basis == "aggregation" else ap.FourierBasis(4, 1, 100)
    X = ap.feature_matrix(features, mdp)
    agent = ap.GradientMonteCarlo(mdp, features=X, alpha=0.01)
    rng = np.random.default_rng(6)
    w = np.zeros(X.shape[1])
    for _ in range(3):
        states, rewards = _episode(mdp, rng)
        _drive(agent, states, rewards, mdp)
        returns = rl.discounted_returns(rewards, np.ones(len(rewards)) * (1 - np.eye(len(rewards))[-1]))
        for s, g in zip(states[:-1], returns):
            w = ap.gradient_mc_update(w, X[s], g, 0.01)
        np.testing.assert_allclose(agent.w, w, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(agent.V, X @ w)


@pytest.mark.parametrize("n, basis", [(1, "polynomial"), (1, "aggregation"), (3, "polynomial"), (3, "aggregation"),
                                      (500, "polynomial")])
def test_semi_gradient_td_agent_applies_the_n_step_update(n, basis):
    """The agent (dense path, and the state-aggregation fast paths) equals a per-step reference of n-step
    semi-gradient TD (eq. 9.15) written with rlcore.n_step_return and linear_update; n = 1 is
    semi_gradient_td_update."""
    mdp = rl.mdps.random_walk_1000(100, 10)
    features = ap.PolynomialBasis(2, 1, 100) if basis == "polynomial" else ap.StateAggregation(1, 101, 5)
    X = ap.feature_matrix(features, mdp)
    agent = ap.SemiGradientTD(mdp, n=n, features=X, alpha=0.05)
    rng = np.random.default_rng(7)
    w = np.zeros(X.shape[1])
    for _ in range(3):
        states, rewards = _episode(mdp, rng)
        _drive(agent, states, rewards, mdp)
        T = len(rewards)
        discounts = np.ones(T)
        discounts[-1] = 0.0
        for t in range(1, T + n):  # at time t, update S_{t−n} (when it exists and t ≤ T … T + n − 1)
            tau = t - n
            if tau < 0 or tau >= T:
                continue
            end = min(tau + n, T)
            if n == 1:
                w = ap.semi_gradient_td_update(w, X[states[tau]], rewards[tau], discounts[tau], X[states[tau + 1]], 0.05)
            else:
                w = ap.linear_update(w, X[states[tau]], rl.n_step_return(rewards[tau:end], discounts[tau:end], X[states[end]] @ w), 0.05)
        np.testing.assert_allclose(agent.w, w, rtol=1e-10, atol=1e-12)


def test_semi_gradient_sarsa_agent_applies_eq_10_1():
    """One run on Gymnasium's MountainCar-v0: each step of the agent equals semi_gradient_sarsa_update
    on the dense one-hot tile features, with the action the agent returned as A_{t+1}."""
    env = gym.make("MountainCar-v0")
    coder = ap.book_tile_coder()
    agent = ap.SemiGradientSarsa(env, features=coder, alpha=0.3 / 8, epsilon=0.1, gamma=0.99, seed=0)
    obs, _ = env.reset(seed=0)
    a = agent.start(obs)
    x_tm1, a_tm1 = coder(obs), a
    for _ in range(60):
        obs, r, terminated, truncated, _ = env.step(a)
        before = agent.w.copy()
        a = agent.step(r, obs, terminated, truncated)
        x_t = coder(obs)
        expected = ap.semi_gradient_sarsa_update(before, x_tm1, a_tm1, r, 0.99 * (1 - terminated), x_t, a, 0.3 / 8)
        np.testing.assert_allclose(agent.w, expected, rtol=1e-12, atol=1e-15)
        x_tm1, a_tm1 = x_t, a
    assert agent.q_values(obs).shape == (3,) and agent.cost_to_go(np.zeros((4, 5, 2)) + [-0.5, 0.0]).shape == (4, 5)


# ---------------------------------------------------------------------- one agent class, two runners
def _small_walk():
    mdp = rl.mdps.random_walk_1000(20, 4)
    return mdp, ap.feature_matrix(ap.StateAggregation(1, 21, 4), mdp)


AGENTS = {
    "GradientMonteCarlo": lambda env, X, **kw: ap.GradientMonteCarlo(env, features=X, alpha=0.05, **kw),
    "SemiGradientTD": lambda env, X, **kw: ap.SemiGradientTD(env, features=X, alpha=0.05, **kw),
    "SemiGradientTD n=3": lambda env, X, **kw: ap.SemiGradientTD(env, n=3, features=X, alpha=0.05, **kw),
}


@pytest.mark.parametrize("name", AGENTS)
def test_prediction_agents_run_under_both_runners_with_the_same_statistics(name):
    """20-state walk (jumps ≤ 4), 4 groups, 12-step time limit (so truncation is exercised): the learned
    weights after 15 episodes have the same mean under rlcore.train (60 seeds) and train_lockstep (300 runs)."""
    mdp, X = _small_walk()
    make = AGENTS[name]
    lock = rl.train_lockstep(make(mdp, X), mdp, 300, 15, seed=0, max_episode_steps=12)
    env = mdp.to_env(max_episode_steps=12)
    singles = []
    for seed in range(60):
        agent = make(env, X, gamma=1.0)
        rl.train(agent, env, 15, seed=seed, progress=False)
        singles.append(agent.w.copy())
    singles = np.array(singles)
    assert lock.tables.shape == (300, 4) and lock.truncated.any()
    for j in range(4):
        assert_same_mean(lock.tables[:, j], singles[:, j], f"{name}: w[{j}]")


# ---------------------------------------------------------------------- Figures 9.1, 9.2, 9.5
def test_figure_9_1_gradient_mc_reaches_the_ve_minimiser(walk):
    """Figure 9.1, reached faster: gradient MC with 10 groups converges to the μ-weighted group averages
    of v_π (computed exactly), not to the TD fixed point. 10 runs × 300 episodes at α = 7·10⁻³ (the book:
    one run of 100,000 episodes at 2·10⁻⁵); tolerance 4.5 SE of the mean over runs + 0.02 for the
    remaining transient."""
    mdp, pi, v, mu, X = walk
    history = rl.train_lockstep(ap.GradientMonteCarlo(mdp, features=X, alpha=7e-3), mdp, 10, 300, seed=0)
    w, se = history.tables.mean(axis=0), history.tables.std(axis=0, ddof=1) / np.sqrt(10)
    w_mc, w_td = ap.mc_solution(X, v, mu), ap.td_fixed_point(mdp, pi, X)
    assert np.all(np.abs(w - w_mc) <= 4.5 * se + 0.02), (w, w_mc)
    assert np.abs(w - w_td).max() > 0.08


def test_figure_9_2_left_semi_gradient_td_reaches_the_td_fixed_point(walk):
    """Figure 9.2 (left), reached faster: semi-gradient TD(0) with 10 groups converges near w_TD = A⁻¹b
    (computed exactly, eq. 9.12), whose staircase is flatter than the VE minimiser's. 10 runs × 800
    episodes at α = 0.025 (α·episodes = 20 as in the book's 2·10⁻⁴ × 100,000)."""
    mdp, pi, v, mu, X = walk
    history = rl.train_lockstep(ap.SemiGradientTD(mdp, features=X, alpha=0.025), mdp, 10, 800, seed=1)
    w = history.tables.mean(axis=0)
    w_mc, w_td = ap.mc_solution(X, v, mu), ap.td_fixed_point(mdp, pi, X)
    assert np.abs(w - w_td).max() < 0.05, (w, w_td)
    assert np.abs(w - w_mc).max() > 2 * np.abs(w - w_td).max()


def test_figure_9_2_right_an_intermediate_n_is_best():
    """Book, Figure 9.2 (right): n-step semi-gradient TD with 20 groups, RMS error over the 1000 states
    averaged over the first 10 episodes — n = 4 (at α = 0.4) beats n = 1 and n = 512 at their best
    α of the grid; n = 4's error is near the book's ≈ 0.28. 60 runs (the book: 100)."""
    mdp = rl.mdps.random_walk_1000()
    v = rl.policy_evaluation(mdp, rl.uniform_policy(mdp)).V
    X = ap.feature_matrix(ap.StateAggregation(1, 1001, 20), mdp)

    def error(n, alpha):
        h = rl.train_lockstep(ap.SemiGradientTD(mdp, n=n, features=X, alpha=alpha), mdp, 60, 10, seed=n, snapshot_every=1)
        V = h.snapshots[:, 1:] @ X.T
        return np.sqrt(((V - v)[..., 1:1001] ** 2).mean(axis=-1)).mean()

    four = error(4, 0.4)
    assert four < min(error(1, 0.8), error(1, 1.0)) - 0.03
    assert four < min(error(512, 0.1), error(512, 0.2)) - 0.1
    assert 0.24 < four < 0.33


def test_figure_9_5_fourier_learns_faster_than_polynomials(walk):
    """Book, Figure 9.5: with gradient MC on the 1000-state walk the Fourier basis gives a lower
    RMS value error than the polynomial basis of the same order. Order 5, 10 runs × 150 episodes,
    the book's step sizes × 10 (10⁻³ polynomial, 5·10⁻⁴ Fourier); √VE of the last 50 episodes."""
    mdp, pi, v, mu, _ = walk
    errors = {}
    for name, basis, alpha in (("polynomial", ap.PolynomialBasis(5, 1, 1000), 1e-3), ("fourier", ap.FourierBasis(5, 1, 1000), 5e-4)):
        X = ap.feature_matrix(basis, mdp)
        h = rl.train_lockstep(ap.GradientMonteCarlo(mdp, features=X, alpha=alpha), mdp, 10, 150, seed=2, snapshot_every=10)
        late = h.snapshots[:, h.snapshot_episodes >= 100] @ X.T
        errors[name] = np.sqrt(ap.value_error(late, v, mu)).mean()
    assert errors["fourier"] < errors["polynomial"] - 0.03, errors
    assert errors["fourier"] < 0.25


# ---------------------------------------------------------------------- Mountain Car
def test_mountain_car_steps_like_gymnasium():
    """Our dynamics against Gymnasium's MountainCarEnv.step from the same float64 states and actions
    (both ends, the left wall, the goal): equal to float precision, except that the goal position is
    bounded at 0.5 (ours, the book's) instead of 0.6."""
    env = gym.make("MountainCar-v0").unwrapped
    env.reset(seed=0)
    ours = ap.MountainCar()
    rng = np.random.default_rng(8)
    states = np.c_[rng.uniform(-1.2, 0.5, 4000), rng.uniform(-0.07, 0.07, 4000)]
    states[:50, 0] = -1.2  # at the wall
    states[50:100] = [0.49, 0.06]  # reaching the goal
    actions = rng.integers(0, 3, 4000)
    next_states, rewards, terminated = ours.step(states, actions)
    for s, a, s2, r, term in zip(states, actions, next_states, rewards, terminated):
        env.state = np.array(s)
        _, r_gym, term_gym, trunc_gym, _ = env.step(int(a))
        position, velocity = env.state
        assert term == term_gym and r == r_gym == -1.0 and not trunc_gym
        np.testing.assert_allclose(s2, [min(position, 0.5), velocity], rtol=0, atol=1e-15)
    assert terminated[50:100].all() and np.all(next_states[50:100, 0] == 0.5)
    assert np.all(next_states[:50, 1][next_states[:50, 0] == -1.2] >= 0)
    starts = ours.reset(2000, rng)
    assert np.all((starts[:, 0] >= -0.6) & (starts[:, 0] < -0.4)) and np.all(starts[:, 1] == 0)


def _reference_mountain_car_sarsa(n_runs, n_episodes, alpha, seed):
    """An independent implementation in the style of the book's own code: Sutton's tiles3 with an IHT
    of 4096 tiling (x, ẋ, A) as in Section 10.1, a Python list of weights, the book's dynamics written
    with math.cos, ε = 0 with random tie-breaking. Returns the episode lengths, shape (runs, episodes)."""
    rng = np.random.default_rng(seed)
    lengths = np.zeros((n_runs, n_episodes))
    for run in range(n_runs):
        iht, w = ap.IHT(4096), [0.0] * 4096

        def active(x, xdot, a):
            return ap.tiles(iht, 8, [8 * x / (0.5 + 1.2), 8 * xdot / (0.07 + 0.07)], [a])

        def choose(x, xdot):
            values = [sum(w[i] for i in active(x, xdot, a)) for a in range(3)]
            best = [a for a in range(3) if values[a] == max(values)]
            return best[int(rng.random() * len(best))]

        for episode in range(n_episodes):
            x, xdot = rng.uniform(-0.6, -0.4), 0.0
            a, steps = choose(x, xdot), 0
            while True:
                tiles_sa = active(x, xdot, a)
                xdot = min(max(xdot + 0.001 * (a - 1) - 0.0025 * math.cos(3 * x), -0.07), 0.07)
                x = x + xdot
                if x <= -1.2:
                    x, xdot = -1.2, 0.0
                steps += 1
                if x >= 0.5:
                    a_next, target = None, -1.0
                else:
                    a_next = choose(x, xdot)
                    target = -1.0 + sum(w[i] for i in active(x, xdot, a_next))
                error = target - sum(w[i] for i in tiles_sa)
                for i in tiles_sa:
                    w[i] += alpha * error
                if a_next is None:
                    break
                a = a_next
            lengths[run, episode] = steps
    return lengths


def test_figure_10_2_sarsa_matches_an_independent_book_style_implementation():
    """Figure 10.2's early episodes (α = 0.5/8, ε = 0, 8 tilings): the mean length of the first 4
    episodes under train_lockstep_dynamics (40 runs) equals the independent tiles3 implementation's
    (5 runs) within 4.5 SE; both need hundreds of steps at first (no 200-step limit)."""
    mountain_car = ap.MountainCar()
    ours = ap.train_lockstep_dynamics(ap.SemiGradientSarsa(mountain_car, features=ap.book_tile_coder(), alpha=0.5 / 8,
                                                           gamma=1.0), mountain_car, 40, 4, seed=0)
    reference = _reference_mountain_car_sarsa(5, 4, 0.5 / 8, seed=1)
    assert_same_mean(ours.lengths.mean(axis=1), reference.mean(axis=1), "mean length of episodes 1–4")
    assert ours.lengths[:, 0].mean() > 500 and reference[:, 0].mean() > 500
    assert np.all(ours.lengths.mean(axis=0)[:3] > ours.lengths.mean(axis=0)[-1])  # learning


def test_semi_gradient_sarsa_runs_under_train_and_lockstep_with_the_same_statistics():
    """One class, two runners: rlcore.train on Gymnasium's MountainCar-v0 (time limit lifted, 6 seeds)
    and train_lockstep_dynamics on our dynamics (40 runs) give the same mean length of episodes 1–3."""
    env = gym.make("MountainCar-v0", max_episode_steps=100_000)
    coder = ap.book_tile_coder()
    singles = [rl.train(ap.SemiGradientSarsa(env, features=coder, alpha=0.5 / 8, gamma=1.0), env, 3, seed=seed,
                        max_episode_steps=None, progress=False).lengths.mean() for seed in range(6)]
    mountain_car = ap.MountainCar()
    lock = ap.train_lockstep_dynamics(ap.SemiGradientSarsa(mountain_car, features=coder, alpha=0.5 / 8, gamma=1.0),
                                      mountain_car, 40, 3, seed=3)
    assert_same_mean(lock.lengths.mean(axis=1), singles, "mean length of episodes 1–3")


def test_figure_10_2_steps_per_episode_fall_to_the_books_level():
    """Book, Figure 10.2 (α = 0.5/8): from about a thousand steps in the first episode to 100–200 steps
    by episode 100 (the book's curve, log scale). 8 runs × 100 episodes (the book: 100 × 500)."""
    mountain_car = ap.MountainCar()
    h = ap.train_lockstep_dynamics(ap.SemiGradientSarsa(mountain_car, features=ap.book_tile_coder(), alpha=0.5 / 8,
                                                        gamma=1.0), mountain_car, 8, 100, seed=4)
    curve = h.lengths.mean(axis=0)
    assert curve[0] > 600 and 100 < curve[-20:].mean() < 200, curve[[0, -1]]
    assert not h.truncated.any() and h.tables.shape == (8, 3, 8 * 81)


def test_control_agents_check_their_arguments():
    env = gym.make("MountainCar-v0")
    coder = ap.book_tile_coder()
    with pytest.raises(TypeError, match="binary features"):
        ap.SemiGradientSarsa(env, features=ap.FourierBasis(3, [-1.2, -0.07], [0.5, 0.07]), gamma=1.0)
    with pytest.raises(ValueError, match="alpha"):
        ap.SemiGradientSarsa(env, features=coder, alpha=0.0, gamma=1.0)
    with pytest.raises(ValueError, match="epsilon"):
        ap.SemiGradientSarsa(env, features=coder, epsilon=1.5, gamma=1.0)
    with pytest.raises(ValueError, match="gamma"):
        ap.SemiGradientSarsa(env, features=coder)
    narrow = ap.TileCoder([-1.0, -0.07], [0.5, 0.07])  # does not cover positions below −1.0
    agent = ap.SemiGradientSarsa(env, features=narrow, gamma=1.0)
    with pytest.raises(ValueError, match="outside the box"):
        obs, _ = env.reset(seed=0)
        agent.start(np.array([-1.1, 0.0]))


def test_prediction_agents_check_their_arguments(walk):
    mdp, pi, v, mu, X = walk
    with pytest.raises(ValueError, match="alpha"):
        ap.GradientMonteCarlo(mdp, features=X, alpha=0.0)
    with pytest.raises(ValueError, match="alpha"):
        ap.SemiGradientTD(mdp, features=X, alpha=-1e-3)
    with pytest.raises(ValueError, match="alpha"):
        ap.GradientMonteCarlo(mdp, features=X, alpha="1/n")
    with pytest.raises(ValueError, match="shape"):
        ap.GradientMonteCarlo(mdp, features=X[:10])
    with pytest.raises(TypeError, match="feature_matrix"):
        ap.GradientMonteCarlo(mdp, features=ap.StateAggregation(1, 1001, 10))
    with pytest.raises(ValueError, match="n must be"):
        ap.SemiGradientTD(mdp, n=0, features=X)
    with pytest.raises(ValueError, match="not finite"):
        ap.GradientMonteCarlo(mdp, features=np.full_like(X, np.nan))
