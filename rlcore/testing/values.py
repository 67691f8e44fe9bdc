"""Assertions on a student's value arrays and policies, against the exact answers (Sutton & Barto, 2nd ed., Chapters 3–4).

Each ``assert_*`` takes the MDP, what the answer should be the value of, and the student's array.
It returns None when the answer is right and raises :class:`~rlcore.testing.CheckFailed` when it
is not, with a message that names the state (``mdp.state_names``) and action, gives the expected
and received values, and writes out the Bellman backup term by term
(:func:`rlcore.explain_backup`) at the state where the student's array breaks the equation. When
one of the usual mistakes reproduces the student's answer exactly — the uniform policy's value
instead of the optimum, γV(s) outside the expectation over s', π where p belongs, a sign error in
the KL term — the message names it.

Values are compared as ``|received − expected| ≤ atol + rtol·|expected|`` (defaults 1e-6 each).
"""

from __future__ import annotations

import warnings

import numpy as np

from rlcore.exact.bellman import _bellman_v, _q_from_v, bellman_optimality_v, bellman_v, q_from_v
from rlcore.exact.dp import policy_evaluation, policy_iteration, soft_value_iteration, states_that_never_terminate
from rlcore.exact.model import MDP
from rlcore.exact.policies import soft_maximum, uniform_policy
from rlcore.explain import explain_backup
from rlcore.testing._core import (
    CheckFailed,
    aname,
    answer_array,
    answer_policy,
    close,
    diagnose,
    num,
    require_mdp,
    require_number,
    require_policy,
    sname,
    tolerance_text,
)

MAX_LISTED = 3  # states listed in a message, worst first


# ---------------------------------------------------------------------- exact answers
def exact_optimum(mdp):
    """(V*, Q*) by policy iteration (exact evaluation, robust at γ = 1).

    Once the greedy policy is optimal its exact evaluation is v* to rounding, whatever the stopping
    bound says; a bound that rounding keeps above ``tol`` (γ near 1) is not worth a warning here.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        solution = policy_iteration(mdp, tol=1e-10, max_iterations=200)
    return solution.V, solution.Q


def kl_regularised_value(mdp, policy, kl_coef: float, reference) -> np.ndarray:
    """v of π on the rewards r(s, a) − β log(π(a|s)/π_ref(a|s)): E_π[Σ_t γ^t (R_{t+1} − β KL(π(·|S_t) ‖ π_ref(·|S_t)))]."""
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.where(policy > 0, np.log(policy) - np.log(reference), 0.0)
    if np.any(np.isinf(log_ratio[~mdp.terminal])):
        s, a = np.argwhere(np.isinf(log_ratio) & ~mdp.terminal[:, None])[0]
        raise ValueError(f"the policy takes {aname(mdp, a)} at {sname(mdp, s)} where the reference policy never does "
                         "(π_ref = 0): its KL divergence is infinite")
    R = np.where(mdp.terminal[:, None], 0.0, mdp.R - kl_coef * log_ratio)
    regularised = MDP(mdp.P, R, mdp.gamma, terminal=mdp.terminal)
    return policy_evaluation(regularised, policy).V


# ---------------------------------------------------------------------- assertions
def assert_value_of_policy(mdp, policy, V, *, kl_coef: float | None = None, reference=None,
                           atol: float = 1e-6, rtol: float = 1e-6) -> None:
    """Check that V is v_π, the value of ``policy`` (S&B eq. 3.14) — or, with ``kl_coef``, its
    KL-regularised value E_π[Σ_t γ^t (R_{t+1} − β KL(π(·|S_t) ‖ π_ref(·|S_t)))].

    Args:
        mdp: an :class:`rlcore.MDP`.
        policy: π, shape (S, A) (given by the check, not the student's answer).
        V: the student's values, shape (S,); 0 at terminal states.
        kl_coef: β ≥ 0 of the KL-regularised value (needs ``reference``); None for v_π.
        reference: π_ref, shape (S, A).
        atol, rtol: the tolerance.

    Raises:
        CheckFailed: V is not the value (MalformedAnswer for a wrong shape, NaN or inf).
        TypeError, ValueError: ``mdp`` is not an MDP, or ``policy``/``reference`` is not a policy.
    """
    mdp = require_mdp(mdp)
    pi = require_policy(mdp, policy)
    V = answer_array(V, "V", (mdp.n_states,), "one value per state")
    _check_terminal_values(mdp, V, "V", atol)
    if kl_coef is None:
        if reference is not None:
            raise ValueError("reference is only used with kl_coef (the KL-regularised value)")
        expected = policy_evaluation(mdp, pi).V
        symbol, what = "v_π", "V is not v_π, the value of the policy"
        candidates = _policy_value_mistakes(mdp, pi)
    else:
        kl_coef = require_number(kl_coef, "kl_coef", 0.0, None, meaning="the KL weight β")
        if reference is None:
            raise ValueError("kl_coef needs the reference policy π_ref (reference=...)")
        ref = require_policy(mdp, reference, "reference")
        expected = kl_regularised_value(mdp, pi, kl_coef, ref)
        symbol, what = "v_β", f"V is not the KL-regularised value of the policy (β = {kl_coef:g})"
        candidates = _kl_value_mistakes(mdp, pi, kl_coef, ref)
    bad = ~close(V, expected, atol, rtol)
    if not bad.any():
        return None
    diagnosis = diagnose(V, expected, candidates, atol, rtol)
    lines = _mismatch_lines(mdp, V, expected, bad, what, symbol, atol, rtol)
    if diagnosis:
        lines.append(f"Likely mistake: {diagnosis}")
    if kl_coef is None:
        lines += _residual_lines(mdp, V, pi, expected, atol, rtol)
    worst = _worst(V, expected)
    raise CheckFailed("\n".join(lines), state=worst, expected=float(expected[worst]), received=float(V[worst]),
                      diagnosis=diagnosis)


def assert_action_values(mdp, policy, Q, *, atol: float = 1e-6, rtol: float = 1e-6) -> None:
    """Check that Q is q_π: q_π(s, a) = r(s, a) + γ Σ_{s'} p(s'|s, a) v_π(s') (S&B eqs. 3.13, 4.6).

    Args:
        mdp: an :class:`rlcore.MDP`.
        policy: π, shape (S, A).
        Q: the student's action values, shape (S, A); 0 at terminal states.

    Raises:
        CheckFailed: naming the worst (state, action), the expected and received q, and the
            backup r(s, a) + Σ_{s'} p(s'|s, a) γ v_π(s') written out.
    """
    mdp = require_mdp(mdp)
    pi = require_policy(mdp, policy)
    Q = answer_array(Q, "Q", (mdp.n_states, mdp.n_actions), "one value per state and action")
    _check_terminal_rows(mdp, Q, "Q", atol)
    v = policy_evaluation(mdp, pi).V
    expected = q_from_v(mdp, v)
    bad = ~close(Q, expected, atol, rtol)
    if not bad.any():
        return None
    candidates = [
        ("your Q is q*, the optimal action values: q_π backs up v_π(s') = Σ_a' π(a'|s') q_π(s', a'), "
         "the policy's average, not the maximum.", lambda: exact_optimum(mdp)[1]),
        ("your Q is r(s, a) alone: the future term γ Σ_s' p(s'|s,a) v_π(s') is missing.", lambda: mdp.R),
        ("γ is missing: your Q is r(s, a) + Σ_s' p(s'|s,a) v_π(s').", lambda: q_from_v(_with_gamma(mdp, 1.0), v)),
        ("γV outside the expectation: your Q adds γ v_π(s) of the state itself, not the expectation "
         "Σ_s' p(s'|s,a) γ v_π(s') over the next state.", lambda: mdp.R + mdp.gamma * v[:, None]),
        ("your Q(s, a) is v_π(s) for every action: q_π(s, a) fixes the first action a, then follows π.",
         lambda: np.repeat(v[:, None], mdp.n_actions, axis=1)),
    ]
    diagnosis = diagnose(Q, expected, _nonterminal_rows(mdp, candidates), atol, rtol)
    s, a = np.unravel_index(np.argmax(np.abs(Q - expected)), Q.shape)
    n = int(bad.sum())
    lines = [f"Q is not q_π: {n} of {Q.size} (state, action) pairs are off ({tolerance_text(atol, rtol)}).",
             f"  worst: Q({sname(mdp, s)}, {aname(mdp, a)}): expected q_π = {num(expected[s, a])}, received {num(Q[s, a])}"]
    if diagnosis:
        lines.append(f"Likely mistake: {diagnosis}")
    lines += [f"The exact backup at {sname(mdp, s)}, from v_π (row {aname(mdp, a)} is q_π({sname(mdp, s)}, {aname(mdp, a)})):",
              _indent(str(explain_backup(mdp, v, s, pi)))]
    raise CheckFailed("\n".join(lines), state=int(s), action=int(a), expected=float(expected[s, a]),
                      received=float(Q[s, a]), diagnosis=diagnosis)


def assert_optimal_values(mdp, V, *, atol: float = 1e-6, rtol: float = 1e-6) -> None:
    """Check that V is v*, the optimal value (S&B eq. 3.19).

    Raises:
        CheckFailed: naming the states where V differs from v*, and writing out the optimality
            backup max_a [r(s, a) + Σ_{s'} p(s'|s, a) γ V(s')] of the student's V where it breaks
            v = T*v most.
    """
    mdp = require_mdp(mdp)
    V = answer_array(V, "V", (mdp.n_states,), "one value per state")
    _check_terminal_values(mdp, V, "V", atol)
    expected, _ = exact_optimum(mdp)
    bad = ~close(V, expected, atol, rtol)
    if not bad.any():
        return None
    candidates = [
        ("your V is the value of the uniform random policy — an average over actions, not the optimum: value "
         "iteration's backup takes the maximum max_a q(s, a), and policy iteration repeats evaluation and "
         "improvement until the policy no longer changes.", lambda: policy_evaluation(mdp, uniform_policy(mdp)).V),
        ("your V is the value of the policy greedy in the immediate reward r(s, a): improvement must maximise "
         "q(s, a) = r(s, a) + γ Σ_s' p(s'|s,a) V(s'), the future included.",
         lambda: policy_evaluation(mdp, _first_argmax(mdp.R)).V),
        ("your V is the value of the greedy policy of the uniform policy's q: one step of policy improvement. "
         "Repeat evaluation and improvement until the policy is stable.",
         lambda: policy_evaluation(mdp, _first_argmax(q_from_v(mdp, policy_evaluation(mdp, uniform_policy(mdp)).V))).V),
        ("your V is max_a r(s, a), one step of reward: the future term γ Σ_s' p(s'|s,a) V(s') is missing "
         "(or only one sweep ran).", lambda: np.where(mdp.terminal, 0.0, mdp.R.max(axis=1))),
        ("γV outside the expectation: your V solves v(s) = max_a r(s, a) + γ v(s) with the state's own value, "
         "not the expectation over the next state.", lambda: _fixed_point(
             mdp, lambda W: np.where(mdp.terminal, 0.0, mdp.R.max(axis=1) + mdp.gamma * W))),
    ]
    diagnosis = diagnose(V, expected, candidates, atol, rtol)
    lines = _mismatch_lines(mdp, V, expected, bad, "V is not v*, the optimal value", "v*", atol, rtol)
    if diagnosis:
        lines.append(f"Likely mistake: {diagnosis}")
    lines += _residual_lines(mdp, V, None, expected, atol, rtol)
    worst = _worst(V, expected)
    raise CheckFailed("\n".join(lines), state=worst, expected=float(expected[worst]), received=float(V[worst]),
                      diagnosis=diagnosis)


def assert_optimal_policy(mdp, policy, *, atol: float = 1e-6, rtol: float = 1e-6) -> None:
    """Check that ``policy`` (the student's answer) is optimal: at every non-terminal state it takes
    only actions a with q*(s, a) = v*(s) (S&B Section 3.6). Any optimal policy passes —
    deterministic or stochastic, whichever of several tied actions it picks. With γ = 1 it must
    also reach a terminal state from every state.

    Raises:
        CheckFailed: naming the state, the action the policy takes there with its q*, the optimal
            actions, and the backup of v* at that state.
    """
    mdp = require_mdp(mdp)
    pi = answer_policy(mdp, policy)
    V_star, Q_star = exact_optimum(mdp)
    slack = atol + rtol * np.abs(V_star)[:, None]
    wrong = (pi > 1e-9) & (Q_star < V_star[:, None] - slack) & ~mdp.terminal[:, None]
    if wrong.any():
        loss = np.where(wrong, pi * (V_star[:, None] - Q_star), 0.0).sum(axis=1)
        s = int(np.argmax(loss))
        a = int(np.argmax(np.where(wrong[s], pi[s] * (V_star[s] - Q_star[s]), -np.inf)))
        best = [aname(mdp, b) for b in np.flatnonzero(Q_star[s] >= V_star[s] - slack[s])]
        n = int(wrong.any(axis=1).sum())
        diagnosis = _policy_diagnosis(mdp, pi, slack)
        lines = [f"The policy is not optimal at {n} of {int((~mdp.terminal).sum())} non-terminal states.",
                 f"  at {sname(mdp, s)} it takes {aname(mdp, a)} with probability {pi[s, a]:.3g}, "
                 f"but q*({sname(mdp, s)}, {aname(mdp, a)}) = {num(Q_star[s, a])} < v*({sname(mdp, s)}) = {num(V_star[s])}",
                 f"  optimal actions at {sname(mdp, s)}: {', '.join(best)}"]
        if diagnosis:
            lines.append(f"Likely mistake: {diagnosis}")
        lines += [f"The backup of v* at {sname(mdp, s)} (maximising actions marked *):", _indent(str(explain_backup(mdp, V_star, s)))]
        raise CheckFailed("\n".join(lines), state=s, action=a, expected=float(V_star[s]), received=float(Q_star[s, a]),
                          diagnosis=diagnosis)
    if mdp.gamma == 1.0:
        stuck = states_that_never_terminate(mdp, pi)
        if stuck.size:
            names = ", ".join(sname(mdp, s) for s in stuck[:5])
            raise CheckFailed(
                f"With γ = 1 the policy never reaches a terminal state from {stuck.size} state(s) ({names}): its actions "
                "tie with the optimum there, but the episode never ends, so its return is undefined. Among tied "
                "actions, choose ones that lead towards termination.", state=int(stuck[0]))
    return None


def assert_bellman_consistent(mdp, V, policy=None, *, atol: float = 1e-6, rtol: float = 1e-6) -> None:
    """Check that V satisfies the Bellman equation: V = T^π V (S&B eq. 3.14), or V = T*V (eq. 3.19)
    without a policy — the residual ‖TV − V‖∞ is within the tolerance at every state.

    A V can pass this and still not be v_π only at γ = 1 where the equation has many solutions;
    use :func:`assert_value_of_policy` to compare with the exact value.

    Raises:
        CheckFailed: naming the state with the largest residual, and the backup there term by term.
    """
    mdp = require_mdp(mdp)
    pi = None if policy is None else require_policy(mdp, policy)
    V = answer_array(V, "V", (mdp.n_states,), "one value per state")
    _check_terminal_values(mdp, V, "V", atol)
    lines = _residual_lines(mdp, V, pi, None, atol, rtol)
    if lines:
        TV = bellman_optimality_v(mdp, V) if pi is None else bellman_v(mdp, V, pi)
        s = _worst(V, TV)
        raise CheckFailed("\n".join(lines), state=s, expected=float(TV[s]), received=float(V[s]))
    return None


def assert_advantage(mdp, policy, A, *, atol: float = 1e-6, rtol: float = 1e-6) -> None:
    """Check that A is the advantage of π: A_π(s, a) = q_π(s, a) − v_π(s), so Σ_a π(a|s) A_π(s, a) = 0.

    Args:
        mdp: an :class:`rlcore.MDP`.
        policy: π, shape (S, A).
        A: the student's advantages, shape (S, A); 0 at terminal states.

    Raises:
        CheckFailed: naming the worst (state, action), and whether Σ_a π(a|s) A(s, a) = 0 fails.
    """
    mdp = require_mdp(mdp)
    pi = require_policy(mdp, policy)
    A = answer_array(A, "A", (mdp.n_states, mdp.n_actions), "one advantage per state and action")
    _check_terminal_rows(mdp, A, "A", atol)
    v = policy_evaluation(mdp, pi).V
    q = q_from_v(mdp, v)
    expected = q - v[:, None]
    bad = ~close(A, expected, atol, rtol + 1e-12)
    if not bad.any():
        return None
    candidates = [
        ("A = v − q: the advantage is q_π(s, a) − v_π(s) (how much better a is than π's average).", lambda: -expected),
        ("you returned q_π itself: subtract v_π(s).", lambda: q),
        ("you subtracted max_a q_π(s, a), not v_π(s) = Σ_a π(a|s) q_π(s, a): that is the advantage over the "
         "greedy action.", lambda: q - q.max(axis=1, keepdims=True)),
        ("you subtracted the plain mean over actions, not the π-weighted average v_π(s) = Σ_a π(a|s) q_π(s, a).",
         lambda: q - q.mean(axis=1, keepdims=True)),
        ("you used q* − v* (the optimal advantage), not the advantage of π.",
         lambda: (lambda Vs, Qs: Qs - Vs[:, None])(*exact_optimum(mdp))),
    ]
    diagnosis = diagnose(A, expected, _nonterminal_rows(mdp, candidates), atol, rtol)
    s, a = np.unravel_index(np.argmax(np.abs(A - expected)), A.shape)
    mean = (pi * A).sum(axis=1)
    off = np.flatnonzero(~close(mean, 0.0, atol, 0.0) & ~mdp.terminal)
    lines = [f"A is not the advantage A_π = q_π − v_π: {int(bad.sum())} of {A.size} (state, action) pairs are off "
             f"({tolerance_text(atol, rtol)}).",
             f"  worst: A({sname(mdp, s)}, {aname(mdp, a)}): expected {num(expected[s, a])} = q_π {num(q[s, a])} − v_π "
             f"{num(v[s])}, received {num(A[s, a])}"]
    if off.size:
        t = off[np.argmax(np.abs(mean[off]))]
        lines.append(f"  Σ_a π(a|s) A(s, a) must be 0 at every state; yours is {num(mean[t])} at {sname(mdp, t)}.")
    if diagnosis:
        lines.append(f"Likely mistake: {diagnosis}")
    raise CheckFailed("\n".join(lines), state=int(s), action=int(a), expected=float(expected[s, a]),
                      received=float(A[s, a]), diagnosis=diagnosis)


def assert_soft_optimal_values(mdp, V, kl_coef: float, reference=None, *, atol: float = 1e-6, rtol: float = 1e-6) -> None:
    """Check that V is the KL-regularised optimum v_β: the fixed point of
    (T_β v)(s) = β log Σ_a π_ref(a|s) exp(q(s, a)/β), q = r + γ P v (π_ref ≡ 1 without a reference:
    the entropy-regularised optimum). See :func:`rlcore.soft_value_iteration`.

    Raises:
        CheckFailed: naming the worst state, with q(s, ·), π_ref(·|s) and the soft maximum written out.
    """
    mdp = require_mdp(mdp)
    kl_coef = require_number(kl_coef, "kl_coef", 0.0, None, low_open=True, meaning="the KL weight β")
    ref = None if reference is None else require_policy(mdp, reference, "reference")
    V = answer_array(V, "V", (mdp.n_states,), "one value per state")
    _check_terminal_values(mdp, V, "V", atol)
    expected = soft_value_iteration(mdp, kl_coef, ref, tol=1e-12).V
    bad = ~close(V, expected, atol, rtol)
    if not bad.any():
        return None
    log_ref = None if ref is None else np.log(np.where(ref > 0, ref, 1.0)) + np.where(ref > 0, 0.0, -np.inf)
    candidates = [
        ("the KL term has the wrong sign: you used exp(q/β)/π_ref, i.e. −log π_ref where +log π_ref belongs "
         "(π* ∝ π_ref·exp(q/β)).", lambda: _soft_fixed_point(mdp, kl_coef, None if log_ref is None else -np.where(np.isinf(log_ref), np.inf, log_ref))),
        ("a sign error: your V is the soft *minimum* −β log Σ_a π_ref exp(−q/β).",
         lambda: _soft_fixed_point(mdp, kl_coef, log_ref, sign=-1.0)),
        ("π_ref is missing: your V is the entropy-regularised optimum β log Σ_a exp(q/β).",
         lambda: _soft_fixed_point(mdp, kl_coef, None)),
        ("your V is the hard optimum v* (no KL term, β → 0).", lambda: exact_optimum(mdp)[0]),
        ("your V is the value of π_ref itself, not of the regularised optimum.",
         lambda: policy_evaluation(mdp, uniform_policy(mdp) if ref is None else ref).V),
    ]
    diagnosis = diagnose(V, expected, candidates if ref is not None else candidates[1:], atol, rtol)
    lines = _mismatch_lines(mdp, V, expected, bad, f"V is not the KL-regularised optimum (β = {kl_coef:g})", "v_β", atol, rtol)
    if diagnosis:
        lines.append(f"Likely mistake: {diagnosis}")
    s = _worst(V, expected)
    q = q_from_v(mdp, expected)[s]
    lines.append(f"At {sname(mdp, s)}, from the exact v_β: q(s, ·) = {np.round(q, 4).tolist()}"
                 + ("" if ref is None else f", π_ref(·|s) = {np.round(ref[s], 4).tolist()}")
                 + f", and β log Σ_a π_ref(a|s) exp(q(s, a)/β) = {num(expected[s])}.")
    raise CheckFailed("\n".join(lines), state=s, expected=float(expected[s]), received=float(V[s]), diagnosis=diagnosis)


# ---------------------------------------------------------------------- helpers
def _check_terminal_values(mdp, V, name, atol):
    off = np.flatnonzero(mdp.terminal & (np.abs(V) > atol))
    if off.size:
        s = int(off[0])
        raise CheckFailed(
            f"{name}({sname(mdp, s)}) = {num(V[s])}, but {sname(mdp, s)} is a terminal state: its value is 0 by definition "
            f"(S&B Section 3.4; {off.size} terminal state(s) are not 0). Did you back up terminal states, or start them "
            "from a nonzero value?", state=s, expected=0.0, received=float(V[s]))


def _check_terminal_rows(mdp, X, name, atol):
    off = np.argwhere(mdp.terminal[:, None] & (np.abs(X) > atol))
    if off.size:
        s, a = (int(i) for i in off[0])
        raise CheckFailed(
            f"{name}({sname(mdp, s)}, {aname(mdp, a)}) = {num(X[s, a])}, but {sname(mdp, s)} is a terminal state: nothing "
            "follows it, so its values are 0 by definition (S&B Section 3.4).", state=s, action=a, expected=0.0,
            received=float(X[s, a]))


def _nonterminal_rows(mdp, candidates):
    """The candidates with their rows at terminal states set to 0 (as every answer has them)."""
    return [(m, (lambda t=t: np.where(mdp.terminal[:, None], 0.0, t()))) for m, t in candidates]


def _worst(V, expected) -> int:
    return int(np.argmax(np.abs(np.asarray(V) - np.asarray(expected))))


def _mismatch_lines(mdp, V, expected, bad, what, symbol, atol, rtol) -> list[str]:
    order = np.argsort(-np.abs(V - expected))
    listed = [s for s in order if bad[s]][:MAX_LISTED]
    lines = [f"{what}: {int(bad.sum())} of {mdp.n_states} states are off ({tolerance_text(atol, rtol)})."]
    for i, s in enumerate(listed):
        lines.append(f"  state {sname(mdp, s)}: expected {symbol}({sname(mdp, s)}) = {num(expected[s])}, received {num(V[s])}"
                     + ("   (the largest error)" if i == 0 else ""))
    return lines


def _residual_lines(mdp, V, policy, expected, atol, rtol) -> list[str]:
    """Where V breaks v = T^π v (or v = T*v) most, the backup of V there; [] if it breaks it nowhere."""
    W = np.where(mdp.terminal, 0.0, V)
    TV = _bellman_v(mdp, W, policy) if policy is not None else bellman_optimality_v(mdp, W)
    residual = np.where(mdp.terminal, 0.0, np.abs(TV - V))
    s = int(np.argmax(residual))
    equation = "v = T*v (v(s) = max_a q(s,a))" if policy is None else "v = T^π v (v(s) = Σ_a π(a|s) q(s,a))"
    if residual[s] <= atol + rtol * abs(V[s]):
        if expected is not None and mdp.gamma < 1:
            error = float(np.max(np.abs(V - expected)))
            return [f"Your V satisfies {equation} to within {num(residual.max(), 2)} at every state, yet is up to "
                    f"{num(error, 2)} from the answer: with γ = {mdp.gamma:g} an error in a fixed point is up to "
                    f"1/(1 − γ) = {1 / (1 - mdp.gamma):.3g} times the residual. Iterate longer (stop when "
                    "γ/(1 − γ)·‖V_new − V‖ < tol) or solve the linear system exactly."]
        return []
    direction = "improves on" if TV[s] > V[s] else "is below"
    return [f"Your V breaks the Bellman equation {equation} most at state {sname(mdp, s)}: V({sname(mdp, s)}) = "
            f"{num(V[s])}, but the backup of your own V there gives {num(TV[s])} (it {direction} your value by "
            f"{num(abs(TV[s] - V[s]))}). The backup, term by term (a correct V gives back V(s)):",
            _indent(str(explain_backup(mdp, W, s, policy)))]


def _policy_value_mistakes(mdp, pi):
    """(message, thunk) pairs: the values a student would get with one of the usual mistakes."""
    S, A = mdp.n_states, mdp.n_actions
    r_pi = np.where(mdp.terminal, 0.0, (pi * mdp.R).sum(axis=1))
    out = [
        ("your V is the value of the uniform random policy, not of the given policy.",
         lambda: policy_evaluation(mdp, uniform_policy(mdp)).V if not np.allclose(pi, 1.0 / A) else None),
        ("your V is v*, the optimal value: you maximised over actions where the policy's average "
         "Σ_a π(a|s) q(s, a) belongs.", lambda: exact_optimum(mdp)[0]),
        ("your V is r_π, the expected immediate reward: the future term γ Σ_s' p(s'|s,a) V(s') is missing "
         "(or only one sweep ran from V = 0).", lambda: r_pi),
        ("γV outside the expectation: your V solves v(s) = r_π(s) + γ v(s) with the state's own value, not the "
         "expectation Σ_s' p(s'|s,a) γ v(s') over the next state.",
         lambda: _fixed_point(mdp, lambda W: np.where(mdp.terminal, 0.0, r_pi + mdp.gamma * W))),
    ]
    if S == A:
        confused = ("P confused with π: you weighted V(s') by π(·|s) where the transition probabilities "
                    "p(s'|s, a) belong — the action is drawn from π(·|s), the next state from p(·|s, a).")
        out.append((confused, lambda: _fixed_point(mdp, lambda W: np.where(mdp.terminal, 0.0, r_pi + mdp.gamma * pi @ W))))
        out.append((confused, lambda: _fixed_point(  # q = R + γ·(π @ V) broadcast over the action axis
            mdp, lambda W: np.where(mdp.terminal, 0.0, (pi * (mdp.R + mdp.gamma * (pi @ W)[None, :])).sum(axis=1)))))
    if mdp.gamma < 1:
        out.append(("γ is missing: your V is the undiscounted value.",
                    lambda: policy_evaluation(_with_gamma(mdp, 1.0), pi).V))
    return out


def _kl_value_mistakes(mdp, pi, kl_coef, ref):
    return [
        ("a sign error in the KL term: you added β·KL(π ‖ π_ref) to the reward instead of subtracting it.",
         lambda: kl_regularised_value(mdp, pi, -kl_coef, ref)),
        ("the KL term is missing: your V is v_π of the task reward alone.", lambda: policy_evaluation(mdp, pi).V),
        ("KL(π_ref ‖ π) where KL(π ‖ π_ref) belongs (the arguments are swapped).",
         lambda: _reverse_kl_value(mdp, pi, kl_coef, ref)),
    ]


def _reverse_kl_value(mdp, pi, kl_coef, ref):
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = np.where(ref > 0, ref * (np.log(ref) - np.log(pi)), 0.0).sum(axis=1)
    R = np.where(mdp.terminal[:, None], 0.0, mdp.R - kl_coef * kl[:, None])
    return policy_evaluation(MDP(mdp.P, R, mdp.gamma, terminal=mdp.terminal), pi).V


def _policy_diagnosis(mdp, pi, slack):
    support = pi > 1e-9
    tests = [
        ("your policy is greedy in r(s, a), the immediate reward: the optimal action maximises "
         "r(s, a) + γ Σ_s' p(s'|s,a) v*(s').", mdp.R),
        ("your policy is greedy in the q of the uniform random policy: one step of policy improvement. Repeat "
         "evaluation and improvement until the policy is stable.", lambda: q_from_v(mdp, policy_evaluation(mdp, uniform_policy(mdp)).V)),
    ]
    for message, q in tests:
        try:
            q = q() if callable(q) else q
        except Exception:
            continue
        best = q >= q.max(axis=1, keepdims=True) - slack
        if np.all(~support[~mdp.terminal] | best[~mdp.terminal]):
            return message
    return None


def _first_argmax(q):
    """The deterministic policy taking the first maximising action of q (as np.argmax does)."""
    return np.eye(q.shape[1])[q.argmax(axis=1)]


def _with_gamma(mdp, gamma):
    return MDP(mdp.P, mdp.R, gamma, terminal=mdp.terminal)


def _fixed_point(mdp, backup, sweeps: int = 100_000, tol: float = 1e-12):
    """Iterate V ← backup(V) from 0 (for the candidate mistakes); raises if it does not settle.

    At γ = 1 at most max(2000, S + 2) sweeps are tried: enough for a tree or a finite horizon
    (which settle exactly within S sweeps) and for episodes that end quickly; a mistaken backup that
    drifts for ever is given up on, and the candidate skipped.
    """
    if mdp.gamma >= 1.0:
        sweeps = min(sweeps, max(2000, mdp.n_states + 2))
    V = np.zeros(mdp.n_states)
    for _ in range(sweeps):
        new = backup(V)
        if not np.all(np.isfinite(new)):
            raise FloatingPointError("diverged")
        if np.max(np.abs(new - V), initial=0.0) <= tol:
            return new
        V = new
    raise FloatingPointError("no fixed point")


def _soft_fixed_point(mdp, kl_coef, log_reference, sign: float = 1.0):
    """The fixed point of V ← sign·β log Σ_a exp(sign·q/β + log_reference) (0 at terminals)."""
    def backup(W):
        q = _q_from_v(mdp, W)
        return np.where(mdp.terminal, 0.0, sign * soft_maximum(sign * q, kl_coef, log_reference=log_reference))
    return _fixed_point(mdp, backup, sweeps=20_000, tol=1e-11)


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


__all__ = [
    "assert_value_of_policy",
    "assert_action_values",
    "assert_optimal_values",
    "assert_optimal_policy",
    "assert_bellman_consistent",
    "assert_advantage",
    "assert_soft_optimal_values",
]
