"""Return and advantage estimators: values by hand, and the identities that tie them to
rlcore.learning.td — GAE(λ = 1) is the Monte Carlo advantage, GAE(λ = 0) the TD error, GAE = λ-return − V,
the λ-return is the weighted average of n-step returns (S&B eq. 12.3)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rlcore as rl
from rlcore import mdps
from rlcore.learning import td
from rlcore.policy_gradient.advantages import (
    generalized_advantage_estimation,
    lambda_returns,
    monte_carlo_advantages,
    td_errors,
)


@st.composite
def trajectories(draw):
    """(r_t, discount_t, values): T ∈ 1..10 steps, ending in termination or truncation."""
    T = draw(st.integers(1, 10))
    seed = draw(st.integers(0, 2**32 - 1))
    gamma = draw(st.sampled_from([0.0, 0.5, 0.9, 1.0]))
    rng = np.random.default_rng(seed)
    discount_t = np.full(T, gamma)
    if draw(st.booleans()):
        discount_t[-1] = 0.0  # the episode terminated at S_T
    return rng.normal(size=T), discount_t, rng.normal(size=T + 1) * 3


LAMBDAS = st.floats(0.0, 1.0)


# ---------------------------------------------------------------------- by hand
def test_three_steps_by_hand():
    r = np.array([1.0, 2.0, 3.0])
    discount = np.array([0.5, 0.5, 0.0])  # terminates at S_3
    values = np.array([4.0, 2.0, 6.0, 100.0])  # V(S_3) is never read: S_3 is terminal
    # δ_t = r + γ V(S_{t+1}) − V(S_t)
    np.testing.assert_allclose(td_errors(r, discount, values), [1 + 1 - 4, 2 + 3 - 2, 3 - 6])
    # G^λ with λ = 0.5: backwards from G^λ_2 = 3
    g2 = 3.0
    g1 = 2 + 0.5 * (0.5 * 6 + 0.5 * g2)  # 4.25
    g0 = 1 + 0.5 * (0.5 * 2 + 0.5 * g1)  # 2.5625
    np.testing.assert_allclose(lambda_returns(r, discount, values, 0.5), [g0, g1, g2])
    # GAE: Â_t = δ_t + γλ Â_{t+1}
    a2 = -3.0
    a1 = 3.0 + 0.25 * a2
    a0 = -2.0 + 0.25 * a1
    np.testing.assert_allclose(generalized_advantage_estimation(r, discount, values, 0.5), [a0, a1, a2])
    # Monte Carlo: G = (1 + 0.5·2 + 0.25·3, 2 + 0.5·3, 3) minus V
    np.testing.assert_allclose(monte_carlo_advantages(r, discount, values), [2.75 - 4, 3.5 - 2, 3 - 6])


def test_truncation_bootstraps_from_the_last_value():
    r, values = np.array([1.0, 1.0]), np.array([0.0, 0.0, 10.0])
    truncated, terminated = np.array([0.9, 0.9]), np.array([0.9, 0.0])
    assert monte_carlo_advantages(r, truncated, values)[0] == pytest.approx(1 + 0.9 * (1 + 0.9 * 10))
    assert monte_carlo_advantages(r, terminated, values)[0] == pytest.approx(1 + 0.9)
    for lam in (0.0, 0.3, 1.0):
        assert lambda_returns(r, truncated, values, lam)[-1] == pytest.approx(1 + 0.9 * 10)
        assert lambda_returns(r, terminated, values, lam)[-1] == 1.0


# ---------------------------------------------------------------------- identities
@settings(max_examples=100, deadline=None)
@given(trajectories(), LAMBDAS)
def test_gae_is_lambda_return_minus_value(trajectory, lam):
    r, d, v = trajectory
    np.testing.assert_allclose(generalized_advantage_estimation(r, d, v, lam),
                               lambda_returns(r, d, v, lam) - v[:-1], atol=1e-9)


@settings(max_examples=100, deadline=None)
@given(trajectories())
def test_lambda_1_is_monte_carlo_and_lambda_0_is_one_step_td(trajectory):
    r, d, v = trajectory
    # λ = 1: the Monte Carlo return (rlcore.discounted_returns) and advantage G_t − V(S_t)
    np.testing.assert_allclose(lambda_returns(r, d, v, 1.0), td.discounted_returns(r, d, v[-1]), atol=1e-9)
    np.testing.assert_allclose(generalized_advantage_estimation(r, d, v, 1.0), monte_carlo_advantages(r, d, v), atol=1e-9)
    # λ = 0: the TD target (rlcore.td_target) and the TD error
    np.testing.assert_allclose(lambda_returns(r, d, v, 0.0), [td.td_target(r[t], d[t], v[t + 1]) for t in range(r.size)],
                               atol=1e-12)
    np.testing.assert_allclose(generalized_advantage_estimation(r, d, v, 0.0), td_errors(r, d, v), atol=1e-12)


@settings(max_examples=100, deadline=None)
@given(trajectories(), LAMBDAS)
def test_lambda_return_is_the_weighted_average_of_n_step_returns(trajectory, lam):
    """G^λ_t = (1 − λ) Σ_{n=1}^{N−1} λ^{n−1} G_{t:t+n} + λ^{N−1} G_{t:t+N}, N = T − t (S&B eq. 12.3)."""
    r, d, v = trajectory
    T = r.size
    expected = []
    for t in range(T):
        N = T - t
        n_step = [td.n_step_return(r[t:t + n], d[t:t + n], v[t + n]) for n in range(1, N + 1)]
        expected.append((1 - lam) * sum(lam ** (n - 1) * n_step[n - 1] for n in range(1, N)) + lam ** (N - 1) * n_step[-1])
    np.testing.assert_allclose(lambda_returns(r, d, v, lam), expected, atol=1e-9)


@settings(max_examples=100, deadline=None)
@given(trajectories(), LAMBDAS)
def test_gae_is_the_discounted_sum_of_td_errors(trajectory, lam):
    """Â_t = Σ_k (Π_{j<k} γ_{t+j} λ) δ_{t+k}, written out (Schulman et al. 2016, Section 3)."""
    r, d, v = trajectory
    delta = r + d * v[1:] - v[:-1]
    expected = [sum(np.prod(lam * d[t:t + k]) * delta[t + k] for k in range(r.size - t)) for t in range(r.size)]
    np.testing.assert_allclose(generalized_advantage_estimation(r, d, v, lam), expected, atol=1e-9)


def test_a_zero_discount_separates_episodes_laid_end_to_end():
    rng = np.random.default_rng(0)
    r1, r2 = rng.normal(size=4), rng.normal(size=3)
    d1, d2 = np.array([0.9, 0.9, 0.9, 0.0]), np.array([0.9, 0.9, 0.0])
    v1, v2 = rng.normal(size=5), rng.normal(size=4)
    joined = (np.r_[r1, r2], np.r_[d1, d2], np.r_[v1[:-1], v2])  # S_4 of episode 1 is terminal: its value is not read
    for lam in (0.0, 0.7, 1.0):
        np.testing.assert_allclose(generalized_advantage_estimation(*joined, lam),
                                   np.r_[generalized_advantage_estimation(r1, d1, v1, lam),
                                         generalized_advantage_estimation(r2, d2, v2, lam)], atol=1e-12)


def test_per_step_lambda():
    r, d, v = np.ones(3), np.full(3, 0.9), np.arange(4.0)
    np.testing.assert_allclose(lambda_returns(r, d, v, np.array([0.0, 1.0, 0.5])),
                               [lambda_returns(r, d, v, 0.0)[0], lambda_returns(r, d, v, 1.0)[1],
                                lambda_returns(r, d, v, 0.5)[2]])


def test_expected_td_error_with_true_values_is_the_advantage():
    """E[δ | S = s, A = a] = Σ_{s'} p(s'|s, a) [r + γ v_π(s') − v_π(s)] = q_π − v_π = A_π(s, a)."""
    base = mdps.garnet(6, 3, 3, seed=4, gamma=0.9)
    mdp = rl.MDP(base.P, base.R, 0.9, terminal=[False] * 5 + [True])
    pi = np.random.default_rng(4).dirichlet(np.ones(3), size=6)
    solution = rl.policy_evaluation(mdp, pi)
    V = solution.V
    expected_delta = np.zeros((6, 3))
    for s in range(6):
        for a in range(3):
            for s2 in range(6):
                discount = mdp.gamma * (1 - mdp.terminal[s2])
                expected_delta[s, a] += mdp.P[s, a, s2] * td_errors([mdp.R[s, a]], [discount], [V[s], V[s2]])[0]
    np.testing.assert_allclose(expected_delta, rl.advantage(solution.Q, pi), atol=1e-10)


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError, match=r"values of shape \(T \+ 1,\)"):
        td_errors([1.0, 2.0], [0.9, 0.9], [0.0, 0.0])
    with pytest.raises(ValueError, match="lambda_"):
        generalized_advantage_estimation([1.0], [0.9], [0.0, 0.0], 1.5)
    with pytest.raises(ValueError, match="lambda_"):
        lambda_returns([1.0], [0.9], [0.0, 0.0], -0.1)
