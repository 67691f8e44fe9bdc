"""Reward shaping: the Ng, Harada & Russell (1999) theorem on random MDPs — potential-based shaping
shifts q_π and q_* by −Φ(s) and keeps the optimal policies — and counter-examples: a bonus that is
not potential-based, and a non-zero potential at the terminal state, both change the optimal policy."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rlcore as rl
from rlcore import mdps
from rlcore.exact.shaping import add_reward, potential_based_shaping, shaped_mdp

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LEFT, RIGHT = 0, 1


def corridor(n=5, gamma=0.9):
    """States 0..n−1 in a row, the last one terminal; left/right (left at 0 stays); +1 on reaching
    the end; start at 0. v*(s) = γ^{n−2−s}, the optimal policy is "right" everywhere."""
    P = np.zeros((n, 2, n))
    R = np.zeros((n, 2))
    for s in range(n):
        P[s, LEFT, max(s - 1, 0)] = 1.0
        P[s, RIGHT, min(s + 1, n - 1)] = 1.0
    R[n - 2, RIGHT] = 1.0
    terminal = np.zeros(n, dtype=bool)
    terminal[-1] = True
    initial = np.eye(n)[0]
    return rl.MDP(P, R, gamma, terminal=terminal, initial=initial, action_names=["left", "right"])


@st.composite
def shaping_cases(draw):
    """A garnet with terminal states (dense or sparse, expected or transition rewards), a potential Φ, a policy."""
    n_states, n_actions = draw(st.integers(1, 7)), draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**32 - 1))
    gamma = draw(st.sampled_from([0.0, 0.5, 0.9]))
    sparse = draw(st.booleans())
    base = mdps.garnet(n_states, n_actions, draw(st.integers(1, n_states)), seed=seed, gamma=gamma, sparse=sparse)
    rng = np.random.default_rng(seed)
    terminal = rng.random(n_states) < 0.3
    terminal[0] = False
    R = base.R
    if draw(st.booleans()):  # transition rewards r(s, a, s')
        R3 = rng.normal(size=(n_states, n_actions, n_states))
        R = [sp.csr_matrix(R3[:, a, :]) for a in range(n_actions)] if sparse else R3
    mdp = rl.MDP(base.P, R, gamma, terminal=terminal)
    phi = rng.normal(scale=5.0, size=n_states)
    policy = rng.dirichlet(np.ones(n_actions), size=n_states)
    return mdp, phi, policy


# ---------------------------------------------------------------------- the pure function
def test_shaped_reward_by_hand():
    assert potential_based_shaping(1.0, 0.9, phi_tm1=2.0, phi_t=4.0) == pytest.approx(1.0 + 0.9 * 4.0 - 2.0)
    # entering a terminal state: discount_t = 0, so Φ(S_t) is not read (Φ(terminal) = 0)
    assert potential_based_shaping(1.0, 0.0, phi_tm1=2.0, phi_t=1e6) == -1.0
    np.testing.assert_allclose(potential_based_shaping(np.zeros(2), np.array([0.5, 0.5]), np.ones(2), np.ones(2)), -0.5)


def test_shaping_telescopes_along_an_episode():
    """Σ_t γ^t F_t = −Φ(S_0) for an episode that ends in a terminal state, whatever its length."""
    phi = np.array([3.0, -1.0, 2.0, 7.0])
    states, gamma = [0, 1, 2, 1, 2, 3], 0.9  # S_5 = 3 is terminal
    discounts = [gamma] * 4 + [0.0]
    F = [potential_based_shaping(0.0, discounts[t], phi[states[t]], phi[states[t + 1]]) for t in range(5)]
    assert sum(gamma**t * F[t] for t in range(5)) == pytest.approx(-phi[0])


# ---------------------------------------------------------------------- Ng, Harada & Russell (1999)
@SETTINGS
@given(shaping_cases())
def test_potential_shaping_shifts_q_by_minus_phi_and_keeps_optimal_policies(case):
    mdp, phi, policy = case
    shaped = shaped_mdp(mdp, phi)
    phi0 = np.where(mdp.terminal, 0.0, phi)  # Φ(terminal) = 0
    live = ~mdp.terminal
    # expected shaped reward r'(s, a) = r(s, a) + γ Σ_s' p(s'|s, a) Φ(s') − Φ(s) on non-terminal states
    P = np.stack([m.toarray() for m in mdp.P], axis=1) if mdp.is_sparse else mdp.P
    expected_R = mdp.R + mdp.gamma * np.einsum("sat,t->sa", P, phi0) - phi0[:, None]
    np.testing.assert_allclose(shaped.R[live], expected_R[live], atol=1e-9)
    # every policy: q'_π = q_π − Φ(s), v'_π = v_π − Φ, A'_π = A_π
    q, q_shaped = rl.policy_evaluation(mdp, policy).Q, rl.policy_evaluation(shaped, policy).Q
    np.testing.assert_allclose(q_shaped, q - phi0[:, None], atol=1e-7)
    np.testing.assert_allclose(rl.advantage(q_shaped, policy), rl.advantage(q, policy), atol=1e-7)
    # optimal: q'_* = q_* − Φ(s), and the same optimal actions
    best, best_shaped = rl.value_iteration(mdp, tol=1e-10), rl.value_iteration(shaped, tol=1e-10)
    np.testing.assert_allclose(best_shaped.Q, best.Q - phi0[:, None], atol=1e-7)
    np.testing.assert_array_equal(rl.greedy_policy(best_shaped.Q, atol=1e-6), rl.greedy_policy(best.Q, atol=1e-6))


def test_shaped_mdp_samples_the_shaped_transition_reward():
    mdp = corridor()
    phi = np.array([1.0, 2.0, 4.0, 8.0, 100.0])
    env = shaped_mdp(mdp, phi).to_env()
    env.reset(seed=0)
    _, reward, *_ = env.step(RIGHT)  # 0 → 1: 0 + 0.9·2 − 1
    assert reward == pytest.approx(0.8)
    for _ in range(2):
        env.step(RIGHT)
    _, reward, terminated, *_ = env.step(RIGHT)  # 3 → 4 (terminal): 1 + 0.9·0 − 8
    assert terminated and reward == pytest.approx(-7.0)


def test_optimal_values_of_the_corridor_by_hand():
    mdp, phi = corridor(), np.array([0.5, 1.0, 1.5, 2.0, 0.0])
    v_star = 0.9 ** np.array([3, 2, 1, 0])
    np.testing.assert_allclose(rl.value_iteration(mdp, tol=1e-12).V[:4], v_star, atol=1e-10)
    np.testing.assert_allclose(rl.value_iteration(shaped_mdp(mdp, phi), tol=1e-12).V[:4], v_star - phi[:4], atol=1e-10)


# ---------------------------------------------------------------------- counter-examples
def test_a_progress_bonus_that_is_not_potential_based_makes_circling_optimal():
    """+0.5 for every step right, nothing for a step back: going back and forth earns
    0.9·0.5/(1 − 0.81) = 2.37 forever, more than the 1 + 0.5 for finishing; the goal is never reached.
    (Randløv & Alstrøm's bicycle rode in circles for the same reason; Ng et al. 1999, Section 1.)"""
    mdp = corridor()
    bonus = np.zeros((5, 2))
    bonus[:4, RIGHT] = 0.5
    progress = add_reward(mdp, bonus)
    pi_star = rl.value_iteration(mdp).policy
    pi_progress = rl.value_iteration(progress).policy
    assert np.all(pi_star[:4, RIGHT] == 1)
    assert pi_progress[3, LEFT] == 1  # next to the goal, it steps back to collect the bonus again
    true_value = rl.policy_evaluation(mdp, pi_progress).V[0]
    assert true_value == 0.0 and rl.value_iteration(mdp).V[0] == pytest.approx(0.9**3)
    # the potential-based version of "progress", Φ(s) = 0.5·s/γ, keeps the optimal policy
    potential = shaped_mdp(mdp, 0.5 * np.arange(5) / 0.9)
    np.testing.assert_array_equal(rl.value_iteration(potential).policy, pi_star)


def test_a_potential_that_is_not_zero_at_the_terminal_state_changes_the_optimal_policy():
    """Φ(terminal) = c adds γ^T c to an episode of length T: with c large it pays to arrive early
    (and with c < 0, to never arrive). shaped_mdp reads Φ(terminal) as 0, which keeps π*."""
    mdp = corridor(gamma=0.9)
    phi = np.array([0.0, 0.0, 0.0, 0.0, -10.0])
    assert np.array_equal(rl.value_iteration(shaped_mdp(mdp, phi)).policy, rl.value_iteration(mdp).policy)
    F = mdp.gamma * phi[None, None, :] - phi[:, None, None]  # γΦ(s') − Φ(s) with Φ(terminal) = −10
    wrong = add_reward(mdp, np.broadcast_to(F, (5, 2, 5)))
    assert rl.value_iteration(wrong).policy[3, LEFT] == 1  # entering the goal now costs 9: avoid it


def test_sparse_and_dense_shaping_agree():
    dense = mdps.garnet(6, 2, 3, seed=5, gamma=0.9)
    sparse = rl.MDP(list(mdps.garnet(6, 2, 3, seed=5, gamma=0.9, sparse=True).P), dense.R, 0.9)
    phi = np.arange(6.0)
    np.testing.assert_allclose(shaped_mdp(sparse, phi).R, shaped_mdp(dense, phi).R, atol=1e-12)
    assert shaped_mdp(sparse, phi).is_sparse


def test_bad_potentials_and_bonuses_are_rejected():
    mdp = corridor()
    with pytest.raises(ValueError, match="potential"):
        shaped_mdp(mdp, np.zeros(3))
    with pytest.raises(ValueError, match="potential"):
        shaped_mdp(mdp, np.array([0, 0, np.nan, 0, 0]))
    with pytest.raises(ValueError, match="bonus must have shape"):
        add_reward(mdp, np.zeros((5, 3)))
