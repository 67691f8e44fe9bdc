"""The pure update rules of rlcore.td: the formulas, their identities, and their batched forms."""

import numpy as np
import pytest

from rlcore.exact.policies import epsilon_greedy_policy, greedy_policy, softmax_policy
from rlcore.learning import td


@pytest.fixture
def transitions():
    """Random single transitions: (q_tm1, a_tm1, r_t, discount_t, q_t, a_t), A = 5."""
    rng = np.random.default_rng(0)
    return [
        (rng.normal(size=5), int(rng.integers(5)), float(rng.normal()), float(rng.choice([0.0, 0.9, 1.0])),
         rng.normal(size=5), int(rng.integers(5)))
        for _ in range(200)
    ]


def test_targets_are_the_formulas():
    q_t = [1.0, 3.0, -2.0]
    assert td.q_learning_target(0.5, 0.9, q_t) == 0.5 + 0.9 * 3.0  # eq. 6.8
    assert td.sarsa_target(0.5, 0.9, q_t, 2) == 0.5 + 0.9 * -2.0  # eq. 6.7
    assert td.expected_sarsa_target(0.5, 0.9, q_t, [0.25, 0.5, 0.25]) == pytest.approx(0.5 + 0.9 * 1.25)  # eq. 6.9
    assert td.td_target(0.5, 0.9, 2.0) == 0.5 + 0.9 * 2.0  # eq. 6.2


def test_termination_zeroes_the_bootstrap_and_truncation_does_not():
    q_t = np.array([10.0, 20.0])
    gamma = 0.9
    terminated = gamma * (1 - True)
    truncated = gamma * (1 - False)  # a time limit: S_t still has a value
    assert td.q_learning_target(-1.0, terminated, q_t) == -1.0
    assert td.sarsa_target(-1.0, terminated, q_t, 1) == -1.0
    assert td.expected_sarsa_target(-1.0, terminated, q_t, [0.5, 0.5]) == -1.0
    assert td.q_learning_target(-1.0, truncated, q_t) == -1.0 + 0.9 * 20.0


def test_expected_sarsa_with_greedy_target_is_q_learning(transitions):
    """Σ_a π(a|s') q(s', a) with π greedy in q is max_a q(s', a), exactly."""
    for _, _, r, d, q_t, _ in transitions:
        assert td.expected_sarsa_target(r, d, q_t, greedy_policy(q_t)) == td.q_learning_target(r, d, q_t)


def test_expected_sarsa_is_the_mean_of_sarsa_over_the_target_policy(transitions):
    for _, _, r, d, q_t, _ in transitions[:50]:
        probs = epsilon_greedy_policy(q_t, 0.3)
        mean_sarsa = sum(p * td.sarsa_target(r, d, q_t, a) for a, p in enumerate(probs))
        assert td.expected_sarsa_target(r, d, q_t, probs) == pytest.approx(mean_sarsa, abs=1e-12)


def test_discounted_returns_recursion_and_closed_form():
    rng = np.random.default_rng(1)
    r = rng.normal(size=12)
    gamma = 0.9
    G = td.discounted_returns(r, np.full(12, gamma))
    closed = [sum(gamma**k * r[t + k] for k in range(12 - t)) for t in range(12)]  # eq. 3.8
    np.testing.assert_allclose(G, closed, rtol=1e-12)
    np.testing.assert_allclose(G[:-1], r[:-1] + gamma * G[1:], rtol=1e-12)  # eq. 3.9


def test_monte_carlo_returns_stop_at_termination():
    r = [1.0, 1.0, 1.0]
    discount = [1.0, 0.0, 1.0]  # the episode terminates after the second reward
    G = td.discounted_returns(r, discount, v_T=100.0)
    assert G[0] == 2.0 and G[1] == 1.0  # nothing from beyond the terminal state leaks back
    assert G[2] == 101.0


def test_n_step_return_identities():
    rng = np.random.default_rng(2)
    r = rng.normal(size=6)
    discount = np.full(6, 0.95)
    v = rng.normal()
    # n = 1 is the TD(0) target
    assert td.n_step_return(r[:1], discount[:1], v) == pytest.approx(td.td_target(r[0], discount[0], v))
    # eq. 7.1 written out
    expected = sum(0.95**k * r[k] for k in range(4)) + 0.95**4 * v
    assert td.n_step_return(r[:4], discount[:4], v) == pytest.approx(expected, rel=1e-12)
    # n past the end of a terminated episode is the Monte Carlo return
    discount[-1] = 0.0
    assert td.n_step_return(r, discount, v) == pytest.approx(td.discounted_returns(r, discount)[0], rel=1e-12)


# ---------------------------------------------------------------------- batched forms = single forms
def test_batched_targets_match_the_single_transition_functions(transitions):
    r = np.array([x[2] for x in transitions])
    d = np.array([x[3] for x in transitions])
    q_t = np.stack([x[4] for x in transitions])
    a_t = np.array([x[5] for x in transitions])
    probs = epsilon_greedy_policy(q_t, np.full(len(r), 0.2))
    np.testing.assert_array_equal(td.q_learning_target(r, d, q_t),
                                  [td.q_learning_target(*x) for x in zip(r, d, q_t)])
    np.testing.assert_array_equal(td.sarsa_target(r, d, q_t, a_t),
                                  [td.sarsa_target(*x) for x in zip(r, d, q_t, a_t)])
    np.testing.assert_allclose(td.expected_sarsa_target(r, d, q_t, probs),
                               [td.expected_sarsa_target(*x) for x in zip(r, d, q_t, probs)], rtol=1e-13, atol=1e-13)
    v_t = q_t[:, 0]
    np.testing.assert_array_equal(td.td_target(r, d, v_t), [td.td_target(*x) for x in zip(r, d, v_t)])


def test_batched_probabilities_match_rows():
    rng = np.random.default_rng(3)
    q = rng.normal(size=(20, 4))
    q[0] = [1.0, 1.0, 0.0, 1.0]  # a three-way tie
    eps = rng.random(20)
    batch = epsilon_greedy_policy(q, eps)
    for row, e, p in zip(q, eps, batch):
        np.testing.assert_allclose(epsilon_greedy_policy(row, e), p)
        assert p.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(batch[0], (1 - eps[0]) * np.array([1, 1, 0, 1]) / 3 + eps[0] / 4)
    tau = rng.random(20) + 0.1
    for row, t, p in zip(q, tau, softmax_policy(q, tau)):
        np.testing.assert_allclose(p, np.exp(row / t) / np.exp(row / t).sum())
