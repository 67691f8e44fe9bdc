"""Eligibility traces (Sutton & Barto, 2nd ed., Chapter 12): the trace updates by hand, the identities
the book states (forward and backward views under off-line updating; true online TD(λ) = the on-line
λ-return algorithm), the agents against those pure functions, one class under both runners, and
Figures 12.3, 12.6, 12.8 and 12.10.

Reference values: hand computation; the book's identities, with both sides computed here (the
on-line λ-return algorithm is written in this file from its definition, Section 12.4); an independent
per-run Python implementation of tabular TD(λ) on the 19-state walk written in this file; and the
book's stated results (which λ and α do well, which diverge). Statistical comparisons: means agree
within 4.5 standard errors of their difference.
"""

import gymnasium as gym
import numpy as np
import pytest

import rlcore as rl
from rlcore import approximation as ap
from rlcore.learning.traces import (
    accumulating_trace,
    dutch_trace,
    replacing_trace,
    td_lambda_update,
    true_online_td_lambda_update,
)
from testkit import assert_same_mean


WALK = rl.mdps.random_walk(19, left_reward=-1.0)  # Chapter 12's walk: −1 on the left, +1 on the right
TRUE_V = np.r_[0.0, np.arange(-9, 10) / 10, 0.0]  # v_π(k) = (k − 10)/10
TABULAR = np.eye(21)
TABULAR[[0, 20]] = 0.0  # x(terminal) = 0


def test_the_19_state_walk_of_chapter_12():
    """−1 / +1 at the ends, γ = 1, start in the centre; v_π = −0.9 … 0.9 (by hand)."""
    v = rl.policy_evaluation(WALK, rl.uniform_policy(WALK)).V
    np.testing.assert_allclose(v, TRUE_V, atol=1e-12)
    assert WALK.initial[10] == 1.0 and WALK.gamma == 1.0


def _episode(rng, mdp=WALK):
    sampler = rl.TransitionSampler(mdp)
    s = int(np.flatnonzero(mdp.initial)[0])
    states, rewards = [s], []
    while not mdp.terminal[s]:
        s, r, _ = sampler.step(s, 0, rng)
        states.append(int(s))
        rewards.append(float(r))
    return states, rewards


def _drive(agent, states, rewards, mdp=WALK):
    agent.start(states[0])
    for s, r in zip(states[1:], rewards):
        agent.step(r, s, bool(mdp.terminal[s]))


# ---------------------------------------------------------------------- the traces by hand
def test_trace_updates_by_hand():
    z, x = np.array([1.0, 0.5, 0.0]), np.array([0.0, 1.0, 1.0])
    np.testing.assert_allclose(accumulating_trace(z, x, 0.9, 0.5), [0.45, 1.225, 1.0])  # γλz + x
    np.testing.assert_allclose(replacing_trace(z, x, 0.9, 0.5), [0.45, 1.0, 1.0])  # 1 where x = 1
    # dutch: γλz + (1 − αγλ zᵀx) x with zᵀx = 0.5, α = 0.2: 0.45z + 0.955x
    np.testing.assert_allclose(dutch_trace(z, x, 0.9, 0.5, 0.2), [0.45, 0.225 + 0.955, 0.955])
    # TD(λ): δ = r + γ_t w·x_t − w·x_{t−1} = 1 + 0.5·2 − 1 = 1; w + αδz
    w = np.array([1.0, 0.0, 2.0])
    np.testing.assert_allclose(td_lambda_update(w, z, np.array([1.0, 0, 0]), 1.0, 0.5, np.array([0, 0, 1.0]), 0.1),
                               [1.1, 0.05, 2.0])


def test_the_updates_take_a_batch_axis():
    rng = np.random.default_rng(0)
    B, d = 4, 5
    z, w, x0, x1 = (rng.normal(size=(B, d)) for _ in range(4))
    r, g, v_old = rng.normal(size=B), rng.uniform(size=B), rng.normal(size=B)
    dutch = dutch_trace(z, x0, g, 0.7, 0.1)
    online = true_online_td_lambda_update(w, z, x0, r, g, x1, v_old, 0.1)
    for i in range(B):
        np.testing.assert_allclose(dutch[i], dutch_trace(z[i], x0[i], g[i], 0.7, 0.1))
        np.testing.assert_allclose(online[i], true_online_td_lambda_update(w[i], z[i], x0[i], r[i], g[i], x1[i], v_old[i], 0.1))


# ---------------------------------------------------------------------- the book's identities
def _offline_views(X, states, rewards, gamma, lambda_, w, update_trace=accumulating_trace):
    """(forward, backward): the summed off-line updates of the λ-return algorithm and of TD(λ), w held fixed."""
    T = len(rewards)
    discounts = np.full(T, gamma)
    discounts[-1] = 0.0
    x = X[states]
    values = x @ w
    forward = sum(ap.linear_update(w, x[t], g, 1.0) - w
                  for t, g in enumerate(rl.lambda_returns(rewards, discounts, values, lambda_)))
    z, backward = np.zeros_like(w), np.zeros_like(w)
    for t in range(T):
        z = update_trace(z, x[t], gamma, lambda_)
        backward += td_lambda_update(w, z, x[t], rewards[t], discounts[t], x[t + 1], 1.0) - w
    return forward, backward


@pytest.mark.parametrize("gamma, lambda_", [(1.0, 0.0), (1.0, 0.8), (0.9, 0.5), (0.95, 1.0)])
def test_forward_and_backward_views_agree_under_offline_updating(gamma, lambda_):
    """Book, Section 12.2 (and 1st ed. Section 7.4): with the weights fixed during the episode, the sum of
    TD(λ)'s updates with accumulating traces equals the sum of the λ-return algorithm's, exactly."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(21, 6))
    X[[0, 20]] = 0.0
    w = rng.normal(size=6)
    for _ in range(4):
        states, rewards = _episode(rng)
        forward, backward = _offline_views(X, states, rewards, gamma, lambda_, w)
        np.testing.assert_allclose(forward, backward, rtol=1e-10, atol=1e-10)


def test_replacing_traces_break_the_offline_identity_when_states_repeat():
    """Negative control: the identity needs accumulating traces; replacing ones differ once a state recurs."""
    rng = np.random.default_rng(2)
    w = rng.normal(size=21)
    states, rewards = _episode(rng)
    assert len(set(states)) < len(states)
    forward, backward = _offline_views(TABULAR, states, rewards, 1.0, 0.9, w, replacing_trace)
    assert np.abs(forward - backward).max() > 1e-3


def _online_lambda_return(X, w0, states, rewards, gamma, lambda_, alpha):
    """The on-line λ-return algorithm of Section 12.4, from its definition: at every horizon h = 1 … T,
    redo the updates w^h_{t+1} = w^h_t + α[G^λ_{t:h} − w^hᵀx_t] x_t for t < h from w^h_0 = w0, with the
    truncated λ-returns G^λ_{t:h} (eq. 12.9) whose n-step returns bootstrap from w_{t+n−1} = w^{t+n−1}_{t+n−1}."""
    T, x = len(rewards), X[states]
    finals = [w0]

    def n_step(t, n):
        g = sum(gamma ** k * rewards[t + k] for k in range(n))
        return g + (gamma ** n * finals[t + n - 1] @ x[t + n] if t + n < T else 0.0)

    for h in range(1, T + 1):
        w = w0.copy()
        for t in range(h):
            g = (1 - lambda_) * sum(lambda_ ** (n - 1) * n_step(t, n) for n in range(1, h - t)) + lambda_ ** (h - t - 1) * n_step(t, h - t)
            w = w + alpha * (g - w @ x[t]) * x[t]
        finals.append(w)
    return finals[T]


@pytest.mark.parametrize("gamma, lambda_, alpha", [(1.0, 0.8, 0.05), (0.9, 0.5, 0.1), (0.95, 1.0, 0.02)])
def test_true_online_td_lambda_is_the_online_lambda_return_algorithm(gamma, lambda_, alpha):
    """Book, Section 12.5 (van Seijen et al. 2016): true online TD(λ) produces exactly the weights of the
    on-line λ-return algorithm with linear features — checked to float precision over 4 episodes of the
    9-state walk; TD(λ) with accumulating traces does not (negative control)."""
    rng = np.random.default_rng(3)
    walk = rl.mdps.random_walk(9, left_reward=-1.0)
    X = rng.normal(size=(11, 4))
    X[[0, 10]] = 0.0
    true_online = rl.TrueOnlineTDLambda(walk, lambda_=lambda_, alpha=alpha, features=X, gamma=gamma)
    td = rl.TDLambda(walk, lambda_=lambda_, alpha=alpha, features=X, gamma=gamma)
    w = np.zeros(4)
    for _ in range(4):
        states, rewards = _episode(rng, walk)
        _drive(true_online, states, rewards, walk)
        _drive(td, states, rewards, walk)
        w = _online_lambda_return(X, w, states, rewards, gamma, lambda_, alpha)
        np.testing.assert_allclose(true_online.w, w, rtol=1e-11, atol=1e-13)
    assert np.abs(td.w - w).max() > 1e-6


def test_lambda_zero_and_one_are_td0_and_monte_carlo():
    """Identities: TDLambda and TrueOnlineTDLambda with λ = 0 are semi-gradient TD(0); OfflineLambdaReturn with
    λ = 1 is GradientMonteCarlo and with λ = 0 an end-of-episode sweep toward TD(0) targets of the episode's weights."""
    rng = np.random.default_rng(4)
    X = rng.normal(size=(21, 3))
    X[[0, 20]] = 0.0
    agents = {"td": rl.TDLambda(WALK, lambda_=0.0, alpha=0.05, features=X),
              "true online": rl.TrueOnlineTDLambda(WALK, lambda_=0.0, alpha=0.05, features=X),
              "offline λ=1": rl.OfflineLambdaReturn(WALK, lambda_=1.0, alpha=0.05, features=X),
              "mc": rl.GradientMonteCarlo(WALK, alpha=0.05, features=X),
              "offline λ=0": rl.OfflineLambdaReturn(WALK, lambda_=0.0, alpha=0.05, features=X)}
    w_td, w_sweep = np.zeros(3), np.zeros(3)
    for _ in range(3):
        states, rewards = _episode(rng)
        for agent in agents.values():
            _drive(agent, states, rewards)
        targets = [r + (X[s] @ w_sweep) for r, s in zip(rewards, states[1:])]
        for s, u in zip(states[:-1], targets):
            w_sweep = ap.linear_update(w_sweep, X[s], u, 0.05)
        for s, r, s2 in zip(states[:-1], rewards, states[1:]):
            w_td = ap.semi_gradient_td_update(w_td, X[s], r, 1.0, X[s2], 0.05)
        np.testing.assert_allclose(agents["td"].w, w_td, rtol=1e-11, atol=1e-13)
        np.testing.assert_allclose(agents["true online"].w, w_td, rtol=1e-11, atol=1e-13)
        np.testing.assert_allclose(agents["offline λ=1"].w, agents["mc"].w, rtol=1e-11, atol=1e-13)
        np.testing.assert_allclose(agents["offline λ=0"].w, w_sweep, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("trace", ["accumulating", "replacing"])
def test_td_lambda_agent_applies_the_pure_functions(trace):
    """Each step of TDLambda is the trace function then td_lambda_update (tabular features, repeated states)."""
    update_trace = accumulating_trace if trace == "accumulating" else replacing_trace
    agent = rl.TDLambda(WALK, lambda_=0.9, alpha=0.1, trace=trace)
    rng = np.random.default_rng(5)
    w = np.zeros(21)
    for _ in range(2):
        states, rewards = _episode(rng)
        _drive(agent, states, rewards)
        z = np.zeros(21)
        for t, r in enumerate(rewards):
            x, x2 = np.eye(21)[states[t]], TABULAR[states[t + 1]]
            z = update_trace(z, x, 1.0, 0.9)
            w = td_lambda_update(w, z, x, r, 0.0 if WALK.terminal[states[t + 1]] else 1.0, x2, 0.1)
        np.testing.assert_allclose(agent.w, w, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(agent.V, TABULAR @ w)


# ---------------------------------------------------------------------- one class, two runners
AGENTS = {
    "TDLambda": lambda env, **kw: rl.TDLambda(env, lambda_=0.8, alpha=0.2, **kw),
    "TDLambda replacing": lambda env, **kw: rl.TDLambda(env, lambda_=0.8, alpha=0.2, trace="replacing", **kw),
    "TrueOnlineTDLambda": lambda env, **kw: rl.TrueOnlineTDLambda(env, lambda_=0.8, alpha=0.2, **kw),
    "OfflineLambdaReturn": lambda env, **kw: rl.OfflineLambdaReturn(env, lambda_=0.8, alpha=0.2, **kw),
}


@pytest.mark.parametrize("name", AGENTS)
def test_trace_agents_run_under_both_runners_with_the_same_statistics(name):
    """The 7-state walk (−1/+1), tabular, 10-step time limit (truncation exercised): V after 8 episodes
    has the same mean under rlcore.train (60 seeds) and train_lockstep (300 runs), state by state."""
    mdp = rl.mdps.random_walk(7, left_reward=-1.0)
    make = AGENTS[name]
    lock = rl.train_lockstep(make(mdp), mdp, 300, 8, seed=0, max_episode_steps=10)
    env = mdp.to_env(max_episode_steps=10)
    singles = []
    for seed in range(60):
        agent = make(env, gamma=1.0)
        rl.train(agent, env, 8, seed=seed, progress=False)
        singles.append(agent.V.copy())
    singles = np.array(singles)
    assert lock.truncated.any() and lock.tables.shape == (300, 9)
    for s in range(1, 8):
        assert_same_mean(lock.tables[:, s], singles[:, s], f"{name}: V[{s}]")


# ---------------------------------------------------------------------- Figures 12.3, 12.6, 12.8
def _rms(make, runs=100, seed=0):
    """The figures' measure: RMS error over the 19 states at the end of each of the first 10 episodes,
    averaged over the episodes; one number per run."""
    h = rl.train_lockstep(make(), WALK, runs, 10, seed=seed, snapshot_every=1)
    V = h.snapshots[:, 1:] @ TABULAR.T
    return np.sqrt(((V - TRUE_V)[..., 1:20] ** 2).mean(axis=-1)).mean(axis=1)


def _reference_td_lambda(lambda_, alpha, runs, seed):
    """An independent implementation of tabular TD(λ) with accumulating traces on the 19-state walk, per run
    and per step in plain numpy (as the book's pseudocode, Section 12.2); the same measure as _rms."""
    rng = np.random.default_rng(seed)
    errors = np.zeros(runs)
    for run in range(runs):
        V = np.zeros(21)
        total = 0.0
        for _ in range(10):
            z = np.zeros(21)
            s = 10
            while s not in (0, 20):
                s2 = s + (1 if rng.random() < 0.5 else -1)
                r = 1.0 if s2 == 20 else (-1.0 if s2 == 0 else 0.0)
                z *= lambda_
                z[s] += 1.0
                V += alpha * (r + V[s2] - V[s]) * z
                s = s2
            total += np.sqrt(((V - TRUE_V)[1:20] ** 2).mean())
        errors[run] = total / 10
    return errors


@pytest.mark.parametrize("lambda_, alpha", [(0.8, 0.4), (0.95, 0.2)])
def test_figure_12_6_td_lambda_matches_an_independent_implementation(lambda_, alpha):
    ours = _rms(lambda: rl.TDLambda(WALK, lambda_=lambda_, alpha=alpha), runs=100, seed=1)
    reference = _reference_td_lambda(lambda_, alpha, runs=40, seed=2)
    assert_same_mean(ours, reference, f"TD({lambda_}), α = {alpha}")


def test_figures_12_3_12_6_12_8_the_books_stated_results():
    """Book, Figures 12.3, 12.6 and 12.8 (100 runs, first 10 episodes): intermediate λ is best for the
    off-line λ-return algorithm (its best error ≈ 0.25–0.3, at λ ≈ 0.8); TD(λ) with accumulating traces
    diverges for λ near 1 and large α (λ = 0.99, α = 0.6), where true online TD(λ) stays bounded; true
    online TD(λ) does about as well as the off-line λ-return algorithm (within 0.02)."""
    offline = {lam: min(_rms(lambda: rl.OfflineLambdaReturn(WALK, lambda_=lam, alpha=a)).mean() for a in alphas)
               for lam, alphas in ((0.0, (0.6, 0.8)), (0.8, (0.3, 0.4)), (1.0, (0.05, 0.1)))}
    assert offline[0.8] < offline[0.0] - 0.05 and offline[0.8] < offline[1.0] - 0.2, offline
    assert 0.22 < offline[0.8] < 0.3
    with np.errstate(over="ignore", invalid="ignore"):
        diverging = _rms(lambda: rl.TDLambda(WALK, lambda_=0.99, alpha=0.6), runs=20)
    assert not np.all(np.nan_to_num(diverging, nan=np.inf) < 1.0)
    stable = _rms(lambda: rl.TrueOnlineTDLambda(WALK, lambda_=0.99, alpha=0.6), runs=20)
    assert np.all(stable < 0.8)
    true_online = min(_rms(lambda: rl.TrueOnlineTDLambda(WALK, lambda_=0.8, alpha=a)).mean() for a in (0.3, 0.4))
    assert abs(true_online - offline[0.8]) < 0.02


# ---------------------------------------------------------------------- SARSA(λ) on Mountain Car
@pytest.mark.parametrize("trace", ["replacing", "accumulating"])
def test_sarsa_lambda_is_the_books_boxed_algorithm(trace):
    """Each step of SarsaLambda on Gymnasium's MountainCar-v0 equals Section 12.7's update on dense vectors:
    z ← γλz, then the trace function of the gradient e_A ⊗ x(S) (replacing: eq. 12.12), δ = sarsa target −
    q̂, w ← w + αδz — with the action the agent returned as A_{t+1}."""
    env = gym.make("MountainCar-v0")
    coder = ap.book_tile_coder()
    gamma, lambda_, alpha = 0.99, 0.9, 0.2 / 8
    agent = rl.SarsaLambda(env, features=coder, lambda_=lambda_, alpha=alpha, trace=trace, epsilon=0.1, gamma=gamma, seed=1)
    obs, _ = env.reset(seed=1)
    a = agent.start(obs)
    z = np.zeros((3, coder.n_features))
    x_tm1, a_tm1 = coder(obs), a
    for _ in range(80):
        obs, r, terminated, truncated, _ = env.step(a)
        w = agent.w.copy()
        a = agent.step(r, obs, terminated, truncated)
        grad = np.zeros_like(z)
        grad[a_tm1] = x_tm1
        if trace == "replacing":
            z = replacing_trace(z.ravel(), grad.ravel(), gamma, lambda_).reshape(z.shape)
        else:
            z = accumulating_trace(z.ravel(), grad.ravel(), gamma, lambda_).reshape(z.shape)
        x_t = coder(obs)
        delta = rl.sarsa_target(r, gamma * (1 - terminated), ap.linear_q_values(w, x_t), a) - w[a_tm1] @ x_tm1
        np.testing.assert_allclose(agent.w, w + alpha * delta * z, rtol=1e-12, atol=1e-15)
        x_tm1, a_tm1 = x_t, a


def test_sarsa_lambda_with_lambda_zero_is_semi_gradient_sarsa():
    """Identity, bit for bit: λ = 0 leaves only the current features in the trace, which is eq. 10.1 — one
    run under rlcore.train (same seed, same actions) and 5 runs under train_lockstep_dynamics."""
    env = gym.make("MountainCar-v0", max_episode_steps=100_000)
    coder = ap.book_tile_coder()
    sarsa = ap.SemiGradientSarsa(env, features=coder, alpha=0.5 / 8, epsilon=0.05, gamma=1.0)
    sarsa_lambda = rl.SarsaLambda(env, features=coder, lambda_=0.0, alpha=0.5 / 8, epsilon=0.05, gamma=1.0)
    h1 = rl.train(sarsa, env, 2, seed=0, max_episode_steps=None, progress=False)
    h2 = rl.train(sarsa_lambda, env, 2, seed=0, max_episode_steps=None, progress=False)
    np.testing.assert_array_equal(h1.lengths, h2.lengths)
    np.testing.assert_allclose(sarsa.w, sarsa_lambda.w, rtol=1e-12, atol=1e-14)
    mountain_car = ap.MountainCar()
    l1 = ap.train_lockstep_dynamics(ap.SemiGradientSarsa(mountain_car, features=coder, gamma=1.0), mountain_car, 5, 2, seed=1)
    l2 = ap.train_lockstep_dynamics(rl.SarsaLambda(mountain_car, features=coder, lambda_=0.0, gamma=1.0), mountain_car, 5, 2, seed=1)
    np.testing.assert_array_equal(l1.lengths, l2.lengths)
    np.testing.assert_allclose(l1.tables, l2.tables, rtol=1e-12, atol=1e-14)


def test_sarsa_lambda_runs_under_train_and_lockstep_with_the_same_statistics():
    """One class, two runners: λ = 0.9, α = 1.4/8 on Gymnasium's MountainCar-v0 (rlcore.train, 5 seeds)
    and on our dynamics (train_lockstep_dynamics, 30 runs): the same mean length of episodes 1–3."""
    env = gym.make("MountainCar-v0", max_episode_steps=100_000)
    coder = ap.book_tile_coder()
    singles = [rl.train(rl.SarsaLambda(env, features=coder, lambda_=0.9, alpha=1.4 / 8, gamma=1.0), env, 3, seed=seed,
                        max_episode_steps=None, progress=False).lengths.mean() for seed in range(5)]
    mountain_car = ap.MountainCar()
    lock = ap.train_lockstep_dynamics(rl.SarsaLambda(mountain_car, features=coder, lambda_=0.9, alpha=1.4 / 8, gamma=1.0),
                                      mountain_car, 30, 3, seed=2)
    assert_same_mean(lock.lengths.mean(axis=1), singles, "SARSA(0.9): mean length of episodes 1–3")


def test_figure_12_10_traces_speed_up_mountain_car():
    """Book, Figure 12.10: SARSA(λ) with replacing traces needs fewer steps per episode (averaged over the
    first episodes) with λ = 0.9 than with λ = 0 at good step sizes (the book: ≈ 190 vs ≈ 250 over 50
    episodes). 8 runs × 15 episodes, α = 1.4/8 for λ = 0.9 and 0.6/8 for λ = 0 (near each curve's best)."""
    mountain_car, coder = ap.MountainCar(), ap.book_tile_coder()
    steps = {lam: ap.train_lockstep_dynamics(rl.SarsaLambda(mountain_car, features=coder, lambda_=lam, alpha=a8 / 8, gamma=1.0),
                                             mountain_car, 8, 15, seed=5).lengths.mean(axis=1)
             for lam, a8 in ((0.0, 0.6), (0.9, 1.4))}
    assert steps[0.9].mean() < steps[0.0].mean() - 50, {lam: s.mean() for lam, s in steps.items()}


# ---------------------------------------------------------------------- bad arguments
def test_trace_agents_check_their_arguments():
    with pytest.raises(ValueError, match="lambda_"):
        rl.TDLambda(WALK, lambda_=1.5)
    with pytest.raises(ValueError, match="lambda_"):
        rl.TrueOnlineTDLambda(WALK, lambda_=-0.1)
    with pytest.raises(ValueError, match="lambda_"):
        rl.OfflineLambdaReturn(WALK, lambda_="0.5")
    with pytest.raises(ValueError, match="alpha"):
        rl.TDLambda(WALK, lambda_=0.5, alpha=0.0)
    with pytest.raises(ValueError, match="trace"):
        rl.TDLambda(WALK, lambda_=0.5, trace="dutch")
    with pytest.raises(ValueError, match="binary features"):
        rl.TDLambda(WALK, lambda_=0.5, trace="replacing", features=np.random.default_rng(0).normal(size=(21, 3)))
    env = gym.make("MountainCar-v0")
    with pytest.raises(ValueError, match="lambda_"):
        rl.SarsaLambda(env, features=ap.book_tile_coder(), lambda_=2.0, gamma=1.0)
    with pytest.raises(TypeError, match="binary features"):
        rl.SarsaLambda(env, features=ap.PolynomialBasis(2, [-1.2, -0.07], [0.5, 0.07]), lambda_=0.5, gamma=1.0)
    with pytest.raises(ValueError, match="alpha"):
        rl.SarsaLambda(env, features=ap.book_tile_coder(), lambda_=0.5, alpha=1.5, gamma=1.0)


# ---------------------------------------------------------------------- one α per run
@pytest.mark.parametrize("make", [lambda a: rl.TDLambda(WALK, lambda_=0.8, alpha=a),
                                  lambda a: rl.TrueOnlineTDLambda(WALK, lambda_=0.8, alpha=a),
                                  lambda a: rl.OfflineLambdaReturn(WALK, lambda_=0.8, alpha=a),
                                  lambda a: ap.SemiGradientTD(WALK, n=3, alpha=a)],
                         ids=["TDLambda", "TrueOnlineTDLambda", "OfflineLambdaReturn", "SemiGradientTD"])
def test_one_alpha_per_run_is_a_parameter_study_in_one_call(make):
    """train_lockstep(alpha=...): the same α for every run reproduces the plain call bit for bit; two α's in
    one call give each half the statistics of its own call (final V, 150 runs each)."""
    plain = rl.train_lockstep(make(0.3), WALK, 20, 5, seed=0)
    same = rl.train_lockstep(make(0.9), WALK, 20, 5, seed=0, alpha=np.full(20, 0.3))
    np.testing.assert_array_equal(plain.tables, same.tables)
    both = rl.train_lockstep(make(0.5), WALK, 300, 5, seed=1, alpha=np.repeat([0.05, 0.4], 150))
    for k, a in enumerate((0.05, 0.4)):
        alone = rl.train_lockstep(make(a), WALK, 150, 5, seed=2 + k)
        assert_same_mean(both.tables[150 * k:150 * (k + 1), 5], alone.tables[:, 5], f"α = {a}: V(E)")


def test_one_alpha_per_run_on_mountain_car():
    """train_lockstep_dynamics(alpha=...): the same α everywhere reproduces the plain call bit for bit."""
    car, coder = ap.MountainCar(), ap.book_tile_coder()
    plain = ap.train_lockstep_dynamics(rl.SarsaLambda(car, features=coder, lambda_=0.9, alpha=0.2, gamma=1.0), car, 4, 2, seed=0)
    same = ap.train_lockstep_dynamics(rl.SarsaLambda(car, features=coder, lambda_=0.9, alpha=0.5, gamma=1.0), car, 4, 2,
                                      seed=0, alpha=np.full(4, 0.2))
    np.testing.assert_array_equal(plain.lengths, same.lengths)
    np.testing.assert_array_equal(plain.tables, same.tables)
    with pytest.raises(ValueError, match="one step size per run"):
        ap.train_lockstep_dynamics(ap.SemiGradientSarsa(car, features=coder, gamma=1.0), car, 4, 1, alpha=[0.1, 0.2])
    with pytest.raises(ValueError, match="alpha"):
        ap.train_lockstep_dynamics(ap.SemiGradientSarsa(car, features=coder, gamma=1.0), car, 2, 1, alpha=[0.1, 0.0])
