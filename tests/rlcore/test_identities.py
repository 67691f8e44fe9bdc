"""Bellman identities on many random MDPs (hypothesis), dense and sparse."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rlcore as rl
from rlcore import mdps

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def random_mdps(draw, sparse=None, gamma=None, terminal=True):
    """A garnet MDP, optionally with terminal states, plus a random stochastic policy."""
    n_states = draw(st.integers(1, 9))
    n_actions = draw(st.integers(1, 4))
    branching = draw(st.integers(1, n_states))
    seed = draw(st.integers(0, 2**32 - 1))
    is_sparse = draw(st.booleans()) if sparse is None else sparse
    g = draw(st.sampled_from([0.0, 0.5, 0.9, 0.99])) if gamma is None else gamma
    base = mdps.garnet(n_states, n_actions, branching, seed=seed, gamma=g, sparse=is_sparse)
    rng = np.random.default_rng(seed)
    mask = (rng.random(n_states) < 0.25) if terminal else np.zeros(n_states, dtype=bool)
    mask[0] = False  # somewhere to start
    mdp = rl.MDP(base.P, base.R, g, terminal=mask)
    policy = rng.dirichlet(np.ones(n_actions), size=n_states)
    return mdp, policy, rng


def dense_P(mdp):
    return np.stack([m.toarray() for m in mdp.P], axis=1) if mdp.is_sparse else mdp.P


@SETTINGS
@given(random_mdps())
def test_v_is_policy_average_of_q_and_q_is_one_step_lookahead(case):
    mdp, policy, _ = case
    V = rl.policy_evaluation(mdp, policy).V
    Q = rl.q_from_v(mdp, V)
    # V^π(s) = Σ_a π(a|s) Q^π(s, a)
    np.testing.assert_allclose(V, np.einsum("sa,sa->s", policy, Q), atol=1e-8)
    # Q^π(s, a) = R(s, a) + γ Σ_{s'} P(s'|s, a) V^π(s'), written out independently
    P = dense_P(mdp)
    expected = mdp.R + mdp.gamma * np.einsum("sat,t->sa", P, V)
    np.testing.assert_allclose(Q, expected, atol=1e-8)
    # Σ_a π(a|s) A(s, a) = 0
    np.testing.assert_allclose((policy * rl.advantage(Q, policy)).sum(axis=1), 0.0, atol=1e-8)
    # T^π V^π = V^π and terminal values are 0
    np.testing.assert_allclose(rl.bellman_v(mdp, V, policy), V, atol=1e-8)
    np.testing.assert_allclose(rl.bellman_q(mdp, Q, policy), Q, atol=1e-8)
    assert np.all(V[mdp.terminal] == 0)


@SETTINGS
@given(random_mdps())
def test_optimality(case):
    mdp, _, _ = case
    vi = rl.value_iteration(mdp, tol=1e-10)
    pi = rl.policy_iteration(mdp, tol=1e-10)
    # V* = max_a Q*, T* V* = V*, T* Q* = Q*
    np.testing.assert_allclose(vi.V, vi.Q.max(axis=1), atol=1e-9)
    np.testing.assert_allclose(rl.bellman_optimality_v(mdp, vi.V), vi.V, atol=1e-9)
    np.testing.assert_allclose(rl.bellman_optimality_q(mdp, vi.Q), vi.Q, atol=1e-9)
    # value iteration = policy iteration
    np.testing.assert_allclose(vi.V, pi.V, atol=1e-8)
    # greedy(Q*) is optimal: its value equals V*
    np.testing.assert_allclose(rl.policy_evaluation(mdp, rl.greedy_policy(vi.Q)).V, vi.V, atol=1e-8)
    # V* dominates every policy
    for policy in (rl.uniform_policy(mdp), rl.softmax_policy(vi.Q, 1.0)):
        assert np.all(rl.policy_evaluation(mdp, policy).V <= vi.V + 1e-8)


@SETTINGS
@given(random_mdps())
def test_exact_equals_iterative_evaluation(case):
    mdp, policy, _ = case
    exact = rl.policy_evaluation(mdp, policy, method="exact")
    iterative = rl.policy_evaluation(mdp, policy, method="iterative", tol=1e-10)
    assert iterative.converged
    np.testing.assert_allclose(exact.V, iterative.V, atol=1e-9)


@SETTINGS
@given(random_mdps(terminal=False), st.integers(1, 5))
def test_modified_policy_iteration_reaches_v_star(case, sweeps):
    mdp, _, _ = case
    mpi = rl.policy_iteration(mdp, evaluation_sweeps=sweeps, tol=1e-9)
    np.testing.assert_allclose(mpi.V, rl.policy_iteration(mdp).V, atol=1e-8)


@SETTINGS
@given(random_mdps(), st.floats(0.1, 1.0))
def test_operators_are_gamma_contractions(case, tau):
    mdp, policy, rng = case
    V, U = rng.normal(0, 10, size=(2, mdp.n_states))
    distance = np.abs(np.where(mdp.terminal, 0, V - U)).max(initial=0.0)
    for T in (
        lambda x: rl.bellman_v(mdp, x, policy),
        lambda x: rl.bellman_optimality_v(mdp, x),
        lambda x: rl.soft_bellman_v(mdp, x, tau),
        lambda x: rl.soft_bellman_v(mdp, x, tau, reference=policy),
    ):
        assert np.abs(T(V) - T(U)).max() <= mdp.gamma * distance + 1e-9


@SETTINGS
@given(random_mdps(gamma=0.9))
def test_soft_value_iteration_tends_to_hard_as_temperature_vanishes(case):
    mdp, policy, _ = case
    hard = rl.value_iteration(mdp, tol=1e-10).V
    gaps = [np.abs(rl.soft_value_iteration(mdp, tau, tol=1e-10).V - hard).max() for tau in (1.0, 0.1, 0.01, 0.001)]
    # entropy bonus: V_τ − V* ∈ [0, τ log A / (1 − γ)]
    for tau, gap in zip((1.0, 0.1, 0.01, 0.001), gaps):
        assert gap <= tau * np.log(mdp.n_actions) / (1 - mdp.gamma) + 1e-8
    assert gaps[-1] <= 0.001 * np.log(mdp.n_actions) / (1 - mdp.gamma) + 1e-8
    # KL to a reference: V* − V_τ ∈ [0, τ max log(1/π_ref) / (1 − γ)] → 0
    kl = rl.soft_value_iteration(mdp, 1e-3, reference=policy, tol=1e-10).V
    assert np.all(kl <= hard + 1e-8)
    assert np.abs(kl - hard).max() <= 1e-3 * np.log(1 / policy.min()) / (1 - mdp.gamma) + 1e-8


@SETTINGS
@given(random_mdps(), st.floats(0.05, 5.0))
def test_soft_optimal_policy_is_log_ratio_of_advantage(case, tau):
    mdp, reference, _ = case
    soft = rl.soft_value_iteration(mdp, tau, reference=reference, tol=1e-11)
    # τ log(π*/π_ref) = Q* − V*
    np.testing.assert_allclose(tau * np.log(soft.policy / reference), soft.Q - soft.V[:, None], atol=1e-8)
    # terminal states keep value 0 with and without a reference (entropy bonus τ log A is not paid there)
    for solution in (soft, rl.soft_value_iteration(mdp, tau, tol=1e-11)):
        assert np.all(solution.V[mdp.terminal] == 0)
    assert np.all(rl.finite_horizon(mdp, 3, kl_coef=tau).V[:, mdp.terminal] == 0)
    # V* = τ log Σ π_ref exp(Q*/τ), the soft Bellman equation
    np.testing.assert_allclose(rl.soft_bellman_v(mdp, soft.V, tau, reference), soft.V, atol=1e-9)
    np.testing.assert_allclose(rl.soft_bellman_q(mdp, soft.Q, tau, reference), soft.Q, atol=1e-9)
    # V* equals the KL-regularised value of π*: evaluate π* on rewards r − τ KL(π*‖π_ref)
    kl = (soft.policy * np.log(soft.policy / reference)).sum(axis=1)
    regularised = rl.MDP(dense_P(mdp), mdp.R - tau * kl[:, None], mdp.gamma, terminal=mdp.terminal)
    np.testing.assert_allclose(rl.policy_evaluation(regularised, soft.policy).V, soft.V, atol=1e-8)


@SETTINGS
@given(random_mdps(sparse=False))
def test_sparse_and_dense_agree(case):
    mdp, policy, rng = case
    sparse = rl.MDP([sp_matrix(mdp.P[:, a]) for a in range(mdp.n_actions)], mdp.R, mdp.gamma, terminal=mdp.terminal)
    V = rng.normal(size=mdp.n_states)
    np.testing.assert_allclose(rl.q_from_v(sparse, V), rl.q_from_v(mdp, V), atol=1e-12)
    np.testing.assert_allclose(rl.policy_evaluation(sparse, policy).V, rl.policy_evaluation(mdp, policy).V, atol=1e-9)
    np.testing.assert_allclose(rl.value_iteration(sparse).V, rl.value_iteration(mdp).V, atol=1e-9)
    np.testing.assert_allclose(rl.policy_iteration(sparse).V, rl.policy_iteration(mdp).V, atol=1e-9)


def sp_matrix(dense):
    import scipy.sparse as sp

    return sp.csr_matrix(dense)


@SETTINGS
@given(random_mdps(sparse=False))
def test_transition_reward_is_inside_the_expectation(case):
    """Q(s,a) = Σ_{s'} P(s'|s,a)[R(s,a,s') + γV(s')] — γV inside the sum, P not π."""
    mdp, _, rng = case
    R3 = rng.normal(size=(mdp.n_states, mdp.n_actions, mdp.n_states))
    with_transition_rewards = rl.MDP(mdp.P, R3, mdp.gamma, terminal=mdp.terminal)
    V = np.where(mdp.terminal, 0, rng.normal(size=mdp.n_states))
    expected = np.einsum("sat,sat->sa", mdp.P, R3 + mdp.gamma * V[None, None, :])
    live = ~mdp.terminal
    np.testing.assert_allclose(rl.q_from_v(with_transition_rewards, V)[live], expected[live], atol=1e-10)


@pytest.mark.parametrize("epsilon", [0.0, 0.1, 1.0])
def test_policy_constructors_are_distributions(epsilon):
    Q = np.array([[1.0, 3.0, 3.0], [0.0, 0.0, 0.0], [-1.0, 2.0, 0.5]])
    greedy = rl.greedy_policy(Q)
    np.testing.assert_allclose(greedy, [[0, 0.5, 0.5], [1 / 3] * 3, [0, 1, 0]])  # ties split evenly
    eps = rl.epsilon_greedy_policy(Q, epsilon)
    np.testing.assert_allclose(eps, (1 - epsilon) * greedy + epsilon / 3)
    soft = rl.softmax_policy(Q, 0.5)
    np.testing.assert_allclose(soft[2], np.exp(Q[2] / 0.5) / np.exp(Q[2] / 0.5).sum())
    for policy in (greedy, eps, soft):
        rl.exact.check_policy(policy)


def test_softmax_policy_large_values_and_zero_reference():
    Q = np.array([[1000.0, 999.0, 0.0]])
    reference = np.array([[0.0, 0.5, 0.5]])
    policy = rl.softmax_policy(Q, 1.0, reference=reference)
    assert policy[0, 0] == 0.0 and np.isfinite(policy).all()
    assert rl.soft_v_from_q(Q, 1.0, reference)[0] == pytest.approx(999.0 + np.log(0.5), abs=1e-9)


def test_finite_horizon_matches_brute_force():
    mdp = mdps.garnet(3, 2, 2, seed=4, gamma=0.8)
    H = 3
    solution = rl.finite_horizon(mdp, H)

    def best(s, steps):  # enumerate every action sequence's expected return
        if steps == 0:
            return 0.0
        return max(mdp.R[s, a] + mdp.gamma * sum(mdp.P[s, a, t] * best(t, steps - 1) for t in range(3)) for a in range(2))

    np.testing.assert_allclose(solution.V[0], [best(s, H) for s in range(3)], atol=1e-12)
    np.testing.assert_array_equal(solution.V[H], 0.0)
    assert solution.Q.shape == (H, 3, 2) and solution.policy.shape == (H, 3, 2)


def test_finite_horizon_tends_to_infinite_horizon_and_soft_version():
    mdp = mdps.garnet(6, 3, 3, seed=1, gamma=0.7)
    long = rl.finite_horizon(mdp, 120)
    np.testing.assert_allclose(long.V[0], rl.value_iteration(mdp, tol=1e-12).V, atol=1e-10)
    soft = rl.finite_horizon(mdp, 120, kl_coef=0.3)
    np.testing.assert_allclose(soft.V[0], rl.soft_value_iteration(mdp, 0.3, tol=1e-12).V, atol=1e-10)
