"""The exact policy gradient of the tabular softmax: finite differences of the exact J, the score
identity behind baselines, the occupancy η by hand, and Monte Carlo REINFORCE estimates that agree
with the exact gradient within their standard errors (and miss it without the γ^t)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import rlcore as rl
from rlcore import mdps
from rlcore.policy_gradient.advantages import monte_carlo_advantages
from rlcore.policy_gradient import (
    discounted_occupancy,
    exact_policy_gradient,
    policy_from_logits,
    policy_objective,
    reinforce_gradient,
    sample_episode,
    softmax_score,
)
from rlcore.learning.td import discounted_returns

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
Z_MAX = 4.5  # two-sided P(|z| > 4.5) ≈ 7e-6 per component: with ≤ 20 components a false alarm has odds < 1e-4


@st.composite
def mdps_and_logits(draw):
    """A small garnet, with terminal states, dense or sparse, any γ (γ = 1 only where π terminates), and random θ."""
    n_states = draw(st.integers(1, 6))
    n_actions = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**32 - 1))
    gamma = draw(st.sampled_from([0.0, 0.5, 0.9, 1.0]))
    base = mdps.garnet(n_states, n_actions, draw(st.integers(1, n_states)), seed=seed, gamma=gamma,
                       sparse=draw(st.booleans()))
    rng = np.random.default_rng(seed)
    terminal = rng.random(n_states) < 0.3
    terminal[0] = False
    mdp = rl.MDP(base.P, base.R, gamma, terminal=terminal, initial=_start(rng, terminal))
    theta = rng.normal(scale=2.0, size=(n_states, n_actions))
    if gamma == 1.0:
        assume(rl.exact.states_that_never_terminate(mdp, policy_from_logits(theta)).size == 0)
    return mdp, theta


def _start(rng, terminal):
    mu = rng.random(terminal.size) * ~terminal
    return mu / mu.sum()


def finite_difference_gradient(mdp, theta, h=1e-4):
    """Central differences of the exact J, Richardson-extrapolated: (4 D(h/2) - D(h)) / 3, error O(h^4).

    Plain central differences are off by O(h^2) J''', which reaches 1e-5 where the gradient is in
    the thousands (gamma = 1 and a policy that rarely leaves a loop).
    """
    grad = np.zeros_like(theta)
    for index in np.ndindex(theta.shape):
        step = np.zeros_like(theta)
        step[index] = 1.0

        def central(eps):
            return (policy_objective(mdp, theta + eps * step) - policy_objective(mdp, theta - eps * step)) / (2 * eps)

        grad[index] = (4 * central(h / 2) - central(h)) / 3
    return grad


# ---------------------------------------------------------------------- the softmax and its score
def test_softmax_and_score_by_hand():
    theta = np.array([[0.0, np.log(3.0)], [5.0, 5.0]])
    np.testing.assert_allclose(policy_from_logits(theta), [[0.25, 0.75], [0.5, 0.5]])
    # ∇ log π(a|s) = one_hot(a) − π(·|s)
    np.testing.assert_allclose(softmax_score(theta[0], 0), [0.75, -0.75])
    np.testing.assert_allclose(softmax_score(theta[0], 1), [-0.25, 0.25])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-20, 20), min_size=1, max_size=6), st.data())
def test_score_is_the_gradient_of_log_pi_and_has_mean_zero(logits, data):
    logits = np.array(logits)
    pi = policy_from_logits(logits[None])[0]
    a = data.draw(st.integers(0, logits.size - 1))
    h = 1e-6
    numeric = [(np.log(policy_from_logits((logits + h * e)[None])[0, a]) -
                np.log(policy_from_logits((logits - h * e)[None])[0, a])) / (2 * h) for e in np.eye(logits.size)]
    np.testing.assert_allclose(softmax_score(logits, a), numeric, atol=1e-6)
    # E_{a~π}[∇ log π(a|s)] = Σ_a ∇π(a|s) = ∇ 1 = 0: the identity behind every baseline
    expected_score = sum(pi[b] * softmax_score(logits, b) for b in range(logits.size))
    np.testing.assert_allclose(expected_score, 0.0, atol=1e-12)


# ---------------------------------------------------------------------- the occupancy η
def test_occupancy_of_the_random_walk_by_hand():
    """The symmetric walk on 0..6 from 3: expected visits 2·min(i, j)(6 − max(i, j))/6 = 1, 2, 3, 2, 1."""
    mdp = mdps.random_walk(5)
    np.testing.assert_allclose(discounted_occupancy(mdp, np.ones((7, 1))), [0, 1, 2, 3, 2, 1, 0], atol=1e-12)


@SETTINGS
@given(mdps_and_logits())
def test_occupancy_solves_its_flow_equation(case):
    """η = μ₀ + γ P_πᵀ η on the non-terminal states (η(terminal) = 0), and J = Σ_s η(s) r_π(s)."""
    mdp, theta = case
    pi = policy_from_logits(theta)
    eta = discounted_occupancy(mdp, pi)
    P_pi, r_pi = rl.policy_transition(mdp, pi)
    P_pi = P_pi.toarray() if hasattr(P_pi, "toarray") else P_pi
    live = ~mdp.terminal
    flow = mdp.initial + mdp.gamma * (eta[live] @ P_pi[live])
    np.testing.assert_allclose(eta[live], flow[live], atol=1e-8)
    assert np.all(eta[mdp.terminal] == 0) and np.all(eta >= -1e-12)
    assert policy_objective(mdp, theta) == pytest.approx(eta @ r_pi, abs=1e-8)
    if not mdp.terminal.any() and mdp.gamma < 1:
        assert eta.sum() == pytest.approx(1 / (1 - mdp.gamma))  # unnormalised: Σ_t γ^t


def test_occupancy_needs_termination_with_gamma_1():
    with pytest.raises(ValueError, match="never reaches a terminal"):
        discounted_occupancy(mdps.garnet(3, 2, 2, seed=0, gamma=1.0), np.full((3, 2), 0.5))


# ---------------------------------------------------------------------- the exact gradient
@SETTINGS
@given(mdps_and_logits())
def test_exact_gradient_is_the_finite_difference_of_exact_j(case):
    mdp, theta = case
    np.testing.assert_allclose(exact_policy_gradient(mdp, theta), finite_difference_gradient(mdp, theta), atol=1e-6)


@SETTINGS
@given(mdps_and_logits(), st.data())
def test_any_state_baseline_leaves_the_gradient_unchanged(case, data):
    """Σ_a π ∇log π (q − b) is the same for b = v_π (advantage), b = 0 (q) and any b(s); for the
    tabular softmax it is η(s) π(a|s) A_π(s, a)."""
    mdp, theta = case
    b = np.array(data.draw(st.lists(st.floats(-100, 100), min_size=mdp.n_states, max_size=mdp.n_states)))
    with_advantage = exact_policy_gradient(mdp, theta)
    np.testing.assert_allclose(exact_policy_gradient(mdp, theta, baseline=np.zeros(mdp.n_states)), with_advantage, atol=1e-8)
    np.testing.assert_allclose(exact_policy_gradient(mdp, theta, baseline=b), with_advantage, atol=1e-8)
    pi = policy_from_logits(theta)
    solution = rl.policy_evaluation(mdp, pi)
    closed_form = discounted_occupancy(mdp, pi)[:, None] * pi * rl.advantage(solution.Q, pi)
    np.testing.assert_allclose(with_advantage, closed_form, atol=1e-10)


def test_gradient_ascent_on_exact_j_reaches_the_optimum():
    """Exact gradient ascent on the 4x4 gridworld climbs to J* = μ₀ᵀ v*."""
    mdp = mdps.gridworld_4x4()
    J_star = mdp.initial @ rl.value_iteration(mdp).V
    theta = np.zeros((mdp.n_states, mdp.n_actions))
    J = [policy_objective(mdp, theta)]
    for _ in range(200):
        theta = theta + 2.0 * exact_policy_gradient(mdp, theta)
        J.append(policy_objective(mdp, theta))
    assert np.all(np.diff(J) > 0)  # small steps on a smooth J: every one improves
    assert J[0] == pytest.approx(-128 / 7)  # the random policy of Figure 4.1, averaged over the 14 starts
    assert J_star - J[-1] < 0.03


# ---------------------------------------------------------------------- Monte Carlo REINFORCE
def small_episodic_mdp():
    """4 states and a terminal one, 2 actions, random transition rewards, γ = 0.9; episodes ≈ 5 steps."""
    base = mdps.garnet(5, 2, 3, seed=6, gamma=0.9)
    rewards = np.random.default_rng(6).normal(size=(5, 2, 5))
    mdp = rl.MDP(base.P, rewards, 0.9, terminal=[False, False, False, False, True])
    theta = np.random.default_rng(106).normal(size=(5, 2))
    return mdp, theta


def sampled_gradients(mdp, theta, n, seed, baseline=None, gamma_t=True):
    """n single-episode REINFORCE estimates, shape (n, S, A); ψ = G_t, or G_t − b(S_t)."""
    rng = np.random.default_rng(seed)
    pi = policy_from_logits(theta)
    grads = np.empty((n, *theta.shape))
    for i in range(n):
        ep = sample_episode(mdp, pi, rng)
        if baseline is None:
            psi = discounted_returns(ep.rewards, ep.discounts)
        else:
            psi = monte_carlo_advantages(ep.rewards, ep.discounts, baseline[ep.states])
        discounts = ep.discounts if gamma_t else np.ones_like(ep.discounts)  # all-ones: no γ^t weights
        grads[i] = reinforce_gradient(theta, ep.states[:-1], ep.actions, psi, discounts)
    return grads


def z_scores(samples, exact):
    """(mean − exact) / standard error, per component; components with no variance must match exactly."""
    mean = samples.mean(axis=0)
    se = samples.std(axis=0, ddof=1) / np.sqrt(len(samples))
    constant = se == 0
    np.testing.assert_allclose(mean[constant], exact[constant], atol=1e-12)
    return (mean - exact)[~constant] / se[~constant]


def test_sampled_returns_average_to_exact_j():
    mdp, theta = small_episodic_mdp()
    rng = np.random.default_rng(0)
    pi = policy_from_logits(theta)
    G0 = np.array([discounted_returns(ep.rewards, ep.discounts)[0]
                   for ep in (sample_episode(mdp, pi, rng) for _ in range(3000))])
    assert abs(G0.mean() - policy_objective(mdp, theta)) < Z_MAX * G0.std(ddof=1) / np.sqrt(G0.size)


def test_reinforce_estimates_agree_with_the_exact_gradient():
    mdp, theta = small_episodic_mdp()
    exact = exact_policy_gradient(mdp, theta)
    V = rl.policy_evaluation(mdp, policy_from_logits(theta)).V
    arbitrary = np.array([3.0, -2.0, 5.0, 1.0, 0.0])
    for baseline in (None, V, arbitrary):
        z = z_scores(sampled_gradients(mdp, theta, 2000, seed=1, baseline=baseline), exact)
        assert np.abs(z).max() < Z_MAX, z


def test_the_monte_carlo_test_detects_a_missing_discount_weight():
    """Without γ^t the estimator targets another vector, and the same test rejects it."""
    mdp, theta = small_episodic_mdp()
    z = z_scores(sampled_gradients(mdp, theta, 2000, seed=1, gamma_t=False), exact_policy_gradient(mdp, theta))
    assert np.abs(z).max() > Z_MAX


def test_value_baseline_reduces_the_variance_of_the_estimate():
    """Measured on the 4x4 gridworld (every reward −1): the total variance Σ Var(ĝ) with b = v_π is
    about half of that with b = 0 (0.47 with these seeds), while both means match ∇J."""
    mdp = mdps.gridworld_4x4()
    theta = np.zeros((mdp.n_states, mdp.n_actions))
    V = rl.policy_evaluation(mdp, policy_from_logits(theta)).V
    plain = sampled_gradients(mdp, theta, 1500, seed=2)
    with_baseline = sampled_gradients(mdp, theta, 1500, seed=3, baseline=V)
    ratio = with_baseline.var(axis=0).sum() / plain.var(axis=0).sum()
    assert 0.3 < ratio < 0.7, ratio


def test_sample_episode_truncates_and_needs_an_end():
    mdp = mdps.two_state()  # no terminal state
    with pytest.raises(ValueError, match="max_steps"):
        sample_episode(mdp, rl.uniform_policy(mdp), np.random.default_rng(0))
    ep = sample_episode(mdp, rl.uniform_policy(mdp), np.random.default_rng(0), max_steps=7)
    assert len(ep.actions) == 7 and len(ep.states) == 8
    np.testing.assert_array_equal(ep.discounts, 0.9)  # truncation is not termination
