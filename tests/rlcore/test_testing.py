"""rlcore.testing and rlcore.explain_backup: right answers pass; each kind of wrong answer fails with a
message that names the state, the action and the term; bad input to a check is not blamed on the student."""

import dataclasses
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import rlcore as rl
from rlcore import mdps
from rlcore import testing as T
from rlcore.testing.battery import episodic_garnet

pytest_plugins = ["pytester"]
ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------------- explain_backup
def test_explain_backup_two_state_by_hand():
    mdp = mdps.two_state()
    v_star = np.array([13.4 / 0.82, 20.0])
    b = rl.explain_backup(mdp, v_star, "A")
    go = b.actions[1]
    # q*(A, go) = −1 + 0.9·(0.2·v*(A) + 0.8·v*(B)), written out by hand
    assert [(x.name, x.probability) for x in go.successors] == [("A", 0.2), ("B", 0.8)]
    assert go.successors[1].discounted == pytest.approx(0.9 * 20.0)
    assert go.q == pytest.approx(-1 + 0.9 * (0.2 * v_star[0] + 0.8 * 20.0))
    assert b.value == pytest.approx(v_star[0]) and b.best == (1,) and b.kind == "optimality"
    text = str(b)
    assert "go *" in text and "maximising action: go" in text and "p(s'|s,a)" in text
    pi = rl.uniform_policy(mdp)
    e = rl.explain_backup(mdp, v_star, 0, pi)
    assert e.kind == "expectation" and e.value == pytest.approx(0.5 * b.actions[0].q + 0.5 * go.q)
    assert "Σ_a π(a|s) q(s,a) = 0.50·" in str(e)
    assert "<table>" in e._repr_html_() and "&#x27;" not in e._repr_html_()
    assert dataclasses.asdict(e)["actions"][1]["successors"][0]["state"] == 0


@pytest.mark.parametrize("sparse", [False, True])
def test_explain_backup_matches_the_operators(sparse):
    mdp = T.battery()[-1].make() if sparse else episodic_garnet(7, 3, 3, seed=3)
    assert mdp.is_sparse == sparse
    rng = np.random.default_rng(0)
    V = rng.normal(size=mdp.n_states) * 5  # nonzero at the terminal state: read as 0, as the operators do
    pi = rng.dirichlet(np.ones(mdp.n_actions), size=mdp.n_states)
    Q, TV, TstarV = rl.q_from_v(mdp, V), rl.bellman_v(mdp, V, pi), rl.bellman_optimality_v(mdp, V)
    for s in range(mdp.n_states):
        b, e = rl.explain_backup(mdp, V, s), rl.explain_backup(mdp, V, s, pi)
        if mdp.terminal[s]:
            assert b.terminal and b.value == 0.0 and "terminal" in str(b)
            continue
        np.testing.assert_allclose(b.q, Q[s], atol=1e-12)
        assert b.value == pytest.approx(TstarV[s]) and e.value == pytest.approx(TV[s])
        for row in b.actions:
            assert sum(x.probability for x in row.successors) == pytest.approx(1.0)


def test_explain_backup_rejects_bad_input():
    mdp = mdps.gridworld_4x4()
    with pytest.raises(TypeError, match="rlcore.MDP"):
        rl.explain_backup("grid", np.zeros(16), 0)
    with pytest.raises(ValueError, match="shape"):
        rl.explain_backup(mdp, np.zeros(15), 0)
    with pytest.raises(ValueError, match="not one of the MDP's state names"):
        rl.explain_backup(mdp, np.zeros(16), "(9,9)")
    with pytest.raises(ValueError, match="index"):
        rl.explain_backup(mdp, np.zeros(16), 16)
    with pytest.raises(ValueError, match="distribution"):
        rl.explain_backup(mdp, np.zeros(16), "(1,2)", np.full(4, 0.5))
    with pytest.raises(ValueError, match="not finite"):
        rl.explain_backup(mdp, np.full(16, np.nan), 0)
    assert rl.explain_backup(mdp, np.zeros(16), "(1,2)").state == 6


# ---------------------------------------------------------------------- assertions on values
@pytest.fixture
def grid():
    return mdps.gridworld_4x4()


def test_value_of_policy_passes_and_fails_naming_state_and_backup(grid):
    pi = rl.uniform_policy(grid)
    v = rl.policy_evaluation(grid, pi).V
    T.assert_value_of_policy(grid, pi, v)
    T.assert_value_of_policy(grid, pi, list(v))  # a list is an answer too
    wrong = v.copy()
    wrong[6] += 3.0  # state (1,2)
    with pytest.raises(T.CheckFailed) as info:
        T.assert_value_of_policy(grid, pi, wrong)
    message = str(info.value)
    assert "state (1,2): expected v_π((1,2)) = -20.0000, received -17.0000" in message
    assert "breaks the Bellman equation" in message and "p(s'|s,a)" in message and "(1,2)" in message
    assert info.value.state == 6 and info.value.expected == pytest.approx(-20.0)
    assert isinstance(info.value, AssertionError)


def test_value_of_policy_names_the_usual_mistakes():
    mdp = mdps.two_state()
    pi = np.array([[0.3, 0.7], [0.6, 0.4]])
    r_pi = (pi * mdp.R).sum(axis=1)
    cases = {
        "uniform random policy": rl.policy_evaluation(mdp, rl.uniform_policy(mdp)).V,
        "your V is v*": rl.value_iteration(mdp, tol=1e-12).V,
        "expected immediate reward": r_pi,
        "γV outside the expectation": r_pi / (1 - 0.9),
        "P confused with π": np.linalg.solve(np.eye(2) - 0.9 * pi, r_pi),  # S = A: π used as P
    }
    for words, V in cases.items():
        with pytest.raises(T.CheckFailed, match=words):
            T.assert_value_of_policy(mdp, pi, V)
    episodic = episodic_garnet(5, 2, 2, seed=1)
    discounted = rl.MDP(episodic.P, episodic.R, 0.8, terminal=episodic.terminal)
    uniform = rl.uniform_policy(discounted)
    with pytest.raises(T.CheckFailed, match="γ is missing"):
        T.assert_value_of_policy(discounted, uniform, rl.policy_evaluation(episodic, uniform).V)


def test_value_of_policy_tells_when_iteration_stopped_too_early():
    mdp = mdps.garnet(8, 3, 3, seed=2, gamma=0.99)
    pi = rl.uniform_policy(mdp)
    early = rl.policy_evaluation(mdp, pi, method="iterative", tol=1e-2).V  # stopped on a small change
    with pytest.raises(T.CheckFailed, match="Iterate longer|breaks the Bellman equation"):
        T.assert_value_of_policy(mdp, pi, early, atol=1e-8, rtol=0)


def test_terminal_values_must_be_zero(grid):
    pi = rl.uniform_policy(grid)
    v = rl.policy_evaluation(grid, pi).V
    v[15] = 1.0
    with pytest.raises(T.CheckFailed, match=r"V\(\(3,3\)\) = 1.0000, but \(3,3\) is a terminal state"):
        T.assert_value_of_policy(grid, pi, v)


def test_kl_regularised_value_and_its_sign_error():
    mdp = mdps.garnet(6, 3, 3, seed=4, gamma=0.9)
    rng = np.random.default_rng(1)
    pi, ref = rng.dirichlet(np.ones(3), size=6), rng.dirichlet(np.ones(3), size=6)
    kl = (pi * np.log(pi / ref)).sum(axis=1)
    right = rl.policy_evaluation(rl.MDP(mdp.P, mdp.R - 0.5 * kl[:, None], 0.9), pi).V
    T.assert_value_of_policy(mdp, pi, right, kl_coef=0.5, reference=ref)
    flipped = rl.policy_evaluation(rl.MDP(mdp.P, mdp.R + 0.5 * kl[:, None], 0.9), pi).V
    with pytest.raises(T.CheckFailed, match="sign error in the KL term"):
        T.assert_value_of_policy(mdp, pi, flipped, kl_coef=0.5, reference=ref)
    with pytest.raises(T.CheckFailed, match="KL term is missing"):
        T.assert_value_of_policy(mdp, pi, rl.policy_evaluation(mdp, pi).V, kl_coef=0.5, reference=ref)
    with pytest.raises(ValueError, match="reference"):
        T.assert_value_of_policy(mdp, pi, right, kl_coef=0.5)


def test_action_values_name_state_action_and_mistake(grid):
    pi = rl.uniform_policy(grid)
    v = rl.policy_evaluation(grid, pi).V
    q = rl.q_from_v(grid, v)
    T.assert_action_values(grid, pi, q)
    wrong = q.copy()
    wrong[6, 0] += 1.0
    with pytest.raises(T.CheckFailed, match=r"Q\(\(1,2\), up\): expected q_π = -21.0000, received -20.0000") as info:
        T.assert_action_values(grid, pi, wrong)
    assert info.value.action == 0 and "row up is q_π((1,2), up)" in str(info.value)
    with pytest.raises(T.CheckFailed, match="q\\*, the optimal action values"):
        T.assert_action_values(grid, pi, rl.value_iteration(grid).Q)
    with pytest.raises(T.CheckFailed, match="γV outside the expectation"):
        T.assert_action_values(grid, pi, np.where(grid.terminal[:, None], 0, grid.R + v[:, None]))
    with pytest.raises(T.CheckFailed, match="r\\(s, a\\) alone"):
        T.assert_action_values(grid, pi, np.where(grid.terminal[:, None], 0, grid.R))


def test_optimal_values_and_the_uniform_policy_mistake(grid):
    T.assert_optimal_values(grid, rl.value_iteration(grid).V)
    with pytest.raises(T.CheckFailed) as info:
        T.assert_optimal_values(grid, rl.policy_evaluation(grid, rl.uniform_policy(grid)).V)
    message = str(info.value)
    assert "uniform random policy" in message and "v = T*v" in message and "maximising action" in message


def test_any_optimal_policy_passes_ties_included():
    mdp = mdps.gamblers_problem(0.4, goal=16)
    solution = rl.policy_iteration(mdp)
    best = solution.Q >= solution.V[:, None] - 1e-9
    rng = np.random.default_rng(0)
    for _ in range(5):  # random distributions over the tied optimal actions
        weights = np.where(best, rng.random(best.shape), 0.0)
        weights[weights.sum(axis=1) == 0] = 1.0
        T.assert_optimal_policy(mdp, weights / weights.sum(axis=1, keepdims=True))
    T.assert_optimal_policy(mdp, rl.greedy_policy(solution.Q))
    assert best.sum() > mdp.n_states + 5  # there are ties to choose among


def test_non_optimal_policy_names_state_action_and_optimal_actions(grid):
    policy = rl.greedy_policy(rl.value_iteration(grid).Q)
    policy[5] = np.eye(4)[1]  # (1,1): right is not optimal (up and left are)
    with pytest.raises(T.CheckFailed) as info:
        T.assert_optimal_policy(grid, policy)
    message = str(info.value)
    assert "at (1,1) it takes right with probability 1" in message
    assert "optimal actions at (1,1): up, left" in message and "q*((1,1), right) = -4.0000 < v*((1,1)) = -2.0000" in message
    assert info.value.state == 5 and info.value.action == 1 and "up *" in message
    myopic = np.eye(2)[mdps.two_state().R.argmax(axis=1)]
    with pytest.raises(T.CheckFailed, match="greedy in r\\(s, a\\)"):
        T.assert_optimal_policy(mdps.two_state(), myopic)


def test_optimal_policy_at_gamma_one_must_terminate():
    P = np.zeros((2, 2, 2))
    P[0, 0, 0] = 1.0  # "stay": a loop with reward 0, as good as leaving
    P[0, 1, 1] = 1.0  # "leave": to the terminal state, reward 0
    P[1, :, 1] = 1.0
    mdp = rl.MDP(P, np.zeros((2, 2)), 1.0, terminal=[False, True], state_names=["s", "end"], action_names=["stay", "leave"])
    T.assert_optimal_policy(mdp, np.array([[0.0, 1.0], [1.0, 0.0]]))
    with pytest.raises(T.CheckFailed, match="never reaches a terminal state from 1 state"):
        T.assert_optimal_policy(mdp, np.array([[1.0, 0.0], [1.0, 0.0]]))


def test_bellman_consistent_residual(grid):
    pi = rl.uniform_policy(grid)
    v = rl.policy_evaluation(grid, pi).V
    T.assert_bellman_consistent(grid, v, pi)
    T.assert_bellman_consistent(grid, rl.value_iteration(grid).V)
    v[5] += 0.5  # (1,1)
    with pytest.raises(T.CheckFailed, match=r"most at state \(1,1\)") as info:
        T.assert_bellman_consistent(grid, v, pi)
    assert info.value.state == 5 and "Σ_a π(a|s) q(s,a)" in str(info.value)


def test_advantage_and_its_mistakes():
    mdp = mdps.two_state()
    pi = np.array([[0.3, 0.7], [0.6, 0.4]])
    sol = rl.policy_evaluation(mdp, pi)
    A = rl.advantage(sol.Q, pi)
    T.assert_advantage(mdp, pi, A)
    with pytest.raises(T.CheckFailed, match="A = v − q"):
        T.assert_advantage(mdp, pi, -A)
    with pytest.raises(T.CheckFailed, match="max_a q_π") as info:
        T.assert_advantage(mdp, pi, sol.Q - sol.Q.max(axis=1, keepdims=True))
    assert "Σ_a π(a|s) A(s, a) must be 0" in str(info.value)
    with pytest.raises(T.CheckFailed, match="plain mean over actions"):
        T.assert_advantage(mdp, pi, sol.Q - sol.Q.mean(axis=1, keepdims=True))


def test_soft_optimal_values_and_the_sign_error():
    mdp = mdps.garnet(6, 3, 3, seed=8, gamma=0.8)
    ref = np.random.default_rng(2).dirichlet(np.ones(3), size=mdp.n_states)
    right = rl.soft_value_iteration(mdp, 0.3, ref, tol=1e-12).V
    T.assert_soft_optimal_values(mdp, right, 0.3, ref)
    flipped = np.zeros(mdp.n_states)  # a student's soft value iteration with exp(q/β)/π_ref, written out
    for _ in range(3000):
        q = mdp.R + mdp.gamma * mdp.P @ flipped
        flipped = np.where(mdp.terminal, 0.0, 0.3 * np.log((np.exp(q / 0.3) / ref).sum(axis=1)))
    with pytest.raises(T.CheckFailed, match="KL term has the wrong sign"):
        T.assert_soft_optimal_values(mdp, flipped, 0.3, ref)
    with pytest.raises(T.CheckFailed, match="hard optimum"):
        T.assert_soft_optimal_values(mdp, rl.policy_iteration(mdp).V, 0.3, ref)


# ---------------------------------------------------------------------- bad input
def test_bad_input_to_a_check_is_not_the_students_fault(grid):
    pi = rl.uniform_policy(grid)
    v = rl.policy_evaluation(grid, pi).V
    with pytest.raises(TypeError, match="must be an rlcore.MDP"):
        T.assert_value_of_policy(grid.P, pi, v)
    with pytest.raises(ValueError, match="distribution over the actions: the probabilities at state \\(0,0\\) sum to 2"):
        T.assert_value_of_policy(grid, pi * 2, v)
    with pytest.raises(ValueError, match="shape"):
        T.assert_action_values(grid, pi[:3], np.zeros((16, 4)))


@pytest.mark.parametrize("answer, words", [
    (np.zeros(15), "shape (16,); got shape (15,)"),
    (np.zeros((4, 4)), "reshape it to (16,)"),
    (np.full(16, np.nan), "not a finite number"),
    (None, "forget to return"),
    ("V", "got a str"),
    (3.0, "a single number"),
    ([[1, 2], [3]], "ragged"),
])
def test_malformed_answers(grid, answer, words):
    with pytest.raises(T.MalformedAnswer) as info:
        T.assert_optimal_values(grid, answer)
    assert words in str(info.value)
    assert isinstance(info.value, T.CheckFailed)


def test_a_students_policy_that_is_not_a_distribution_is_their_mistake(grid):
    with pytest.raises(T.MalformedAnswer, match=r"π\(up\|\(0,1\)\) = -1 is negative"):
        T.assert_optimal_policy(grid, np.where(np.arange(64).reshape(16, 4) == 4, -1.0, 0.5))


# ---------------------------------------------------------------------- checks of functions
def q_from_v(mdp, V):
    return mdp.R + mdp.gamma * (mdp.P_flat @ V).reshape(mdp.n_states, mdp.n_actions)


def value_iteration(mdp, tol):
    V = np.zeros(mdp.n_states)
    while True:
        V_new = q_from_v(mdp, V).max(axis=1)
        if np.max(np.abs(V_new - V)) < tol:
            return V_new, rl.greedy_policy(q_from_v(mdp, V_new))
        V = V_new


def test_function_checks_pass_on_right_answers():
    assert T.check_q_from_v(q_from_v).passed
    assert T.check_q_from_v(rl.q_from_v).passed
    assert T.check_bellman_backup(rl.bellman_v).passed
    assert T.check_bellman_backup(rl.bellman_optimality_v, "optimality").passed
    assert T.check_policy_evaluation(lambda mdp, pi, tol: rl.policy_evaluation(mdp, pi).V).passed
    report = T.check_value_iteration(value_iteration)
    assert report.passed and len(report.cases) == len(T.battery()) and "✓ cliff_walking" in str(report)
    assert T.check_value_iteration(lambda mdp, tol: rl.value_iteration(mdp, tol=tol)).passed  # a Solution is accepted
    assert T.check_policy_iteration(lambda mdp: tuple(reversed(_pair(rl.policy_iteration(mdp))))).passed  # (policy, V)


def _pair(solution):
    return solution.V, solution.policy


def test_function_checks_name_the_mistake_and_the_case():
    with pytest.raises(T.CheckFailed) as info:
        T.check_q_from_v(lambda mdp, V: mdp.R + mdp.gamma * V[:, None])
    assert "γV outside the expectation" in str(info.value) and "✗ gridworld_4x4" in str(info.value)
    report = T.check_bellman_backup(lambda mdp, V, pi: rl.bellman_optimality_v(mdp, V), raise_on_failure=False)
    assert not report.passed and "you took max_a q(s, a)" in str(report)
    report = T.check_q_from_v(lambda mdp, V: mdp.R + mdp.gamma * mdp.P @ V, raise_on_failure=False)
    sparse = [c for c in report.cases if "sparse" in c.name]
    assert sparse and not any(c.passed for c in sparse) and "mdp.P_flat @ V" in sparse[0].message
    assert all(c.passed for c in report.cases if "sparse" not in c.name)
    assert T.check_q_from_v(lambda mdp, V: mdp.R + mdp.gamma * mdp.P @ V, sparse=False).passed


def test_a_student_function_that_raises_hangs_or_returns_the_wrong_type():
    def broken(mdp, tol):
        raise NotImplementedError()

    with pytest.raises(T.CheckFailed) as info:
        T.check_value_iteration(broken)
    assert "value_iteration raised NotImplementedError" in str(info.value) and "not done yet" in str(info.value)

    def hangs(mdp, tol):
        while True:
            pass

    start = time.monotonic()
    report = T.check_value_iteration(hangs, time_limit=0.3, raise_on_failure=False)
    assert time.monotonic() - start < 5
    assert "did not finish within 0.3 s" in report.cases[0].message
    assert all("not run" in c.message for c in report.cases[1:])
    assert isinstance(report.cases[0].failure, T.StudentCodeError) and report.cases[0].failure.timed_out

    report = T.check_value_iteration(lambda mdp, tol: rl.value_iteration(mdp).V, raise_on_failure=False)
    assert "must return (V, policy); got an array of shape" in report.cases[0].message
    report = T.check_value_iteration(lambda mdp, tol: (rl.value_iteration(mdp).V, rl.value_iteration(mdp).Q.argmax(1)),
                                     raise_on_failure=False)
    assert "np.eye(A)[actions]" in report.cases[0].message


def test_a_shape_error_from_pi_in_place_of_p_gets_the_shapes_explained():
    """On a non-square MDP, π @ V where P belongs raises in numpy; the message says what each array's
    shape is, and that P and π are not interchangeable (on square MDPs the mistake runs and is named)."""
    report = T.check_bellman_backup(
        lambda mdp, V, pi: (pi * (mdp.R + mdp.gamma * pi @ V)).sum(axis=1), raise_on_failure=False)
    shaped = [c for c in report.cases if not c.passed and "raised ValueError" in c.message]
    assert shaped and "A shape mismatch. In this case S = " in shaped[0].message
    assert "P and π are not interchangeable" in shaped[0].message
    correct = T.check_bellman_backup(lambda mdp, V, pi: (pi * (mdp.R + mdp.gamma * (mdp.P_flat @ V).reshape(
        mdp.n_states, mdp.n_actions))).sum(axis=1), raise_on_failure=False)
    assert correct.passed and "shape mismatch" not in str(correct)


def test_time_limit_outside_the_main_thread():
    box = {}

    def run():
        box["report"] = T.check_value_iteration(lambda mdp, tol: time.sleep(5), time_limit=0.2, raise_on_failure=False)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(10)
    assert "did not finish within 0.2 s" in box["report"].cases[0].message


# ---------------------------------------------------------------------- updates, returns, gradients
def _update(kind):
    from rlcore.learning import td

    def fn(table, s, *rest):
        if kind == "td0":
            r, s2, term, trunc, alpha, gamma = rest
            target = td.td_target(r, gamma * (1 - term), table[s2])
            table[s] += alpha * (target - table[s])
            return table
        a, r, s2, *extra, term, trunc, alpha, gamma = rest
        d = gamma * (1 - term)
        target = {"q_learning": lambda: td.q_learning_target(r, d, table[s2]),
                  "sarsa": lambda: td.sarsa_target(r, d, table[s2], extra[0]),
                  "expected_sarsa": lambda: td.expected_sarsa_target(r, d, table[s2], extra[0])}[kind]()
        table[s, a] += alpha * (target - table[s, a])
        return None  # in place

    return fn


@pytest.mark.parametrize("kind", ["td0", "q_learning", "sarsa", "expected_sarsa"])
def test_td_update_checks(kind):
    assert T.check_td_update(_update(kind), kind).passed


def test_td_update_mistakes_are_named():
    def bootstraps(Q, s, a, r, s2, term, trunc, alpha, gamma):
        Q[s, a] += alpha * (r + gamma * Q[s2].max() - Q[s, a])
        return Q

    with pytest.raises(T.CheckFailed, match="on a terminal transition you bootstrapped from Q\\(s', ·\\)"):
        T.check_td_update(bootstraps, "q_learning")

    def done(Q, s, a, r, s2, a2, term, trunc, alpha, gamma):
        Q[s, a] += alpha * (r + gamma * (1 - (term or trunc)) * Q[s2, a2] - Q[s, a])
        return Q

    with pytest.raises(T.CheckFailed, match="truncation is not termination"):
        T.check_td_update(done, "sarsa")

    def touches(V, s, r, s2, term, trunc, alpha, gamma):
        V = _update("td0")(V, s, r, s2, term, trunc, alpha, gamma)
        V[s2] += 1.0
        return V

    with pytest.raises(T.CheckFailed, match="only V\\(\\d\\) may change"):
        T.check_td_update(touches, "td0")
    with pytest.raises(T.CheckFailed, match="got shape \\(\\)"):
        T.check_td_update(lambda V, s, r, s2, term, trunc, alpha, gamma: r + gamma * V[s2], "td0")


def test_returns_checks_against_the_library_and_mistakes():
    assert T.check_returns(lambda r, g: rl.discounted_returns(r, np.full(len(r), g) * (np.arange(len(r)) < len(r) - 1), 0.0),
                           "monte_carlo").passed
    assert T.check_returns(rl.discounted_returns, "discounted").passed
    assert T.check_returns(rl.n_step_return, "n_step").passed
    assert T.check_returns(rl.lambda_returns, "lambda").passed
    with pytest.raises(T.CheckFailed, match="bootstrapping across a termination"):
        T.check_returns(lambda r, d, v: rl.n_step_return(r, np.where(d == 0, 0.9, d), v), "n_step")
    with pytest.raises(T.CheckFailed, match="λ and 1 − λ are swapped"):
        T.check_returns(lambda r, d, values, lam: rl.lambda_returns(r, d, values, 1 - lam), "lambda")
    with pytest.raises(T.CheckFailed, match="reverse order"):
        T.check_returns(lambda r, g: rl.discounted_returns(r, np.full(len(r), g), 0.0)[::-1], "monte_carlo")


def test_monte_carlo_prediction_check():
    def mc(episodes, n, gamma, first=True):
        total, count = np.zeros(n), np.zeros(n)
        for states, rewards in episodes:
            G = rl.discounted_returns(rewards, np.full(len(rewards), gamma), 0.0)
            seen = set()
            for t, s in enumerate(states):
                if first and s in seen:
                    continue
                seen.add(s)
                total[s] += G[t]
                count[s] += 1
        return np.divide(total, count, out=np.zeros(n), where=count > 0)

    assert T.check_monte_carlo_prediction(mc).passed
    assert T.check_monte_carlo_prediction(lambda e, n, g: mc(e, n, g, False), first_visit=False).passed
    with pytest.raises(T.CheckFailed, match="you averaged every visit's return"):
        T.check_monte_carlo_prediction(lambda e, n, g: mc(e, n, g, False))


def test_policy_gradient_checks():
    assert T.check_policy_gradient(rl.exact_policy_gradient).passed
    with pytest.raises(T.CheckFailed, match="the occupancy η\\(s\\) is missing"):
        T.check_policy_gradient(lambda mdp, theta: rl.exact_policy_gradient(mdp, theta)
                                / rl.discounted_occupancy(mdp, rl.policy_from_logits(theta)).clip(1e-300)[:, None])

    def reinforce(theta, states, actions, rewards, gamma, gamma_t=True):
        d = np.full(len(rewards), gamma)
        d[-1] = 0.0
        G = rl.discounted_returns(rewards, d, 0.0)
        return rl.reinforce_gradient(theta, states, actions, G, d if gamma_t else np.r_[np.ones(len(d) - 1), 0.0])

    assert T.check_reinforce_gradient(reinforce).passed
    with pytest.raises(T.CheckFailed, match="γ\\^t is missing"):
        T.check_reinforce_gradient(lambda *args: reinforce(*args, gamma_t=False))


def test_soft_backup_check():
    def soft(q, beta, ref):
        return rl.soft_v_from_q(q, beta, ref), rl.soft_optimal_policy(q, beta, ref)

    assert T.check_soft_backup(soft).passed

    def inverted(q, beta, ref):
        safe = np.where(ref > 0, ref, 1.0)
        inv = np.where(ref > 0, 1 / safe, 0.0)
        return (rl.soft_v_from_q(q, beta, inv / inv.sum(1, keepdims=True)) + beta * np.log(inv.sum(1)),
                rl.soft_optimal_policy(q, beta, ref))

    report = T.check_soft_backup(inverted, raise_on_failure=False)
    assert "a sign error in the KL term" in report.cases[0].message

    def naive(q, beta, ref):
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            z = (ref * np.exp(q / beta)).sum(1)
            v = beta * np.log(z)
            return v, ref * np.exp((q - v[:, None]) / beta)

    report = T.check_soft_backup(naive, raise_on_failure=False)
    assert [c.passed for c in report.cases] == [True] * 4 + [False]
    assert "not a finite number" in report.cases[-1].message


# ---------------------------------------------------------------------- hypothesis strategies
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(__import__("rlcore.testing.strategies", fromlist=["x"]).mdps_and_policies())
def test_strategies_give_valid_mdps_and_policies(case):
    mdp, policy = case
    assert isinstance(mdp, rl.MDP) and not mdp.terminal[0]
    v = rl.policy_evaluation(mdp, policy).V
    T.assert_value_of_policy(mdp, policy, v)
    T.assert_bellman_consistent(mdp, v, policy)


@settings(max_examples=10, deadline=None)
@given(__import__("rlcore.testing.strategies", fromlist=["x"]).mdps_and_values(gamma=1.0))
def test_strategies_episodic_mdps_terminate_under_every_policy(case):
    mdp, V = case
    assert mdp.gamma == 1.0 and V.shape == (mdp.n_states,) and np.all(V[mdp.terminal] == 0)
    some_policy = np.eye(mdp.n_actions)[np.zeros(mdp.n_states, dtype=int)]
    assert rl.exact.states_that_never_terminate(mdp, some_policy).size == 0


def test_strategies_need_hypothesis_and_say_so():
    code = ("import sys; sys.modules['hypothesis'] = None\n"
            "import rlcore.testing\n"  # the assertions work without hypothesis
            "try:\n    import rlcore.testing.strategies\nexcept ImportError as e:\n    print(e)\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert 'pip install "rlcore-lmenv[testing]"' in run.stdout


# ---------------------------------------------------------------------- the pytest plugin
def test_plugin_fixtures_need_no_setup(pytester, monkeypatch):
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # load the plugin by name, installed or not
    pytester.makepyfile(test_student="""
        import numpy as np
        import rlcore
        from rlcore.testing import assert_value_of_policy, check_value_iteration

        def my_evaluation(mdp, policy):
            return rlcore.policy_evaluation(mdp, policy).V

        def test_evaluation(textbook_mdp):
            pi = rlcore.uniform_policy(textbook_mdp)
            assert_value_of_policy(textbook_mdp, pi, my_evaluation(textbook_mdp, pi))

        def test_fresh_copies(random_mdp):
            assert isinstance(random_mdp, rlcore.MDP)
            random_mdp.R[:] = 1e6  # spoils nothing for the next test

        def test_wrong_answer_fails(textbook_mdp):
            assert_value_of_policy(textbook_mdp, rlcore.uniform_policy(textbook_mdp), np.ones(textbook_mdp.n_states))
    """)
    result = pytester.runpytest("-p", "rlcore.testing.plugin", "-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=10, failed=5)
    result.stdout.fnmatch_lines(["*CheckFailed*V is not v_π*"])


def test_plugin_entry_point_is_declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    entry = project["project"]["entry-points"]["pytest11"]
    assert "rlcore.testing.plugin" in entry.values()
    from rlcore.testing import plugin

    assert {"textbook_mdp", "random_mdp"} <= set(dir(plugin))
    for name in plugin.TEXTBOOK:
        assert isinstance(plugin.make_textbook_mdp(name), rl.MDP)
    for name in plugin.RANDOM:
        assert isinstance(plugin.make_random_mdp(name), rl.MDP)
