"""Checks of a student's dynamic-programming functions, run on a battery of MDPs (Sutton & Barto, 2nd ed., Chapters 3–4).

Each ``check_*`` calls the student's function on every case of :mod:`rlcore.testing.battery` —
the book's MDPs and random dense and sparse ones, with terminal states, γ = 1 (episodic) and
γ = 0 — compares each answer with the exact one, and returns a :class:`~rlcore.testing.CheckReport`
saying which cases pass. Unless ``raise_on_failure=False`` it raises
:class:`~rlcore.testing.CheckFailed` when one does not. A student's function that raises, runs
past ``time_limit`` seconds on a case, or returns the wrong type fails that case with a message
saying so; it never crashes the check.

The functions a student writes, and the exact signatures they must have (positional arguments):

=====================================  ==========================================================
check                                  the student's function
=====================================  ==========================================================
:func:`check_q_from_v`                 ``q_from_v(mdp, V) -> Q``, Q shape (S, A)
:func:`check_bellman_backup`           ``backup(mdp, V, policy) -> V_new`` (``kind="expectation"``, T^π)
                                       or ``backup(mdp, V) -> V_new`` (``kind="optimality"``, T*), shape (S,)
:func:`check_policy_evaluation`        ``policy_evaluation(mdp, policy, tol) -> V``, shape (S,)
:func:`check_value_iteration`          ``value_iteration(mdp, tol) -> (V, policy)``, shapes (S,), (S, A)
:func:`check_policy_iteration`         ``policy_iteration(mdp) -> (V, policy)``, shapes (S,), (S, A)
:func:`check_soft_backup`              ``soft_backup(q, kl_coef, reference) -> (v, policy)``:
                                       q and reference (N, A), v (N,), policy (N, A)
=====================================  ==========================================================

``mdp`` is an :class:`rlcore.MDP`: ``mdp.P`` (S, A, S) (a tuple of A sparse (S, S) matrices when
``mdp.is_sparse``), ``mdp.P_flat`` (S·A, S) in both cases, ``mdp.R`` (S, A), ``mdp.gamma``,
``mdp.terminal`` (S,) bool. A solver may also return an object with ``.V`` and ``.policy``
attributes instead of the pair. A policy is an (S, A) array of probabilities (for one action per
state, ``np.eye(A)[actions]``). Sparse cases are included unless ``sparse=False``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rlcore.exact.bellman import _q_from_v, bellman_optimality_v, bellman_v, q_from_v
from rlcore.exact.policies import soft_maximum, softmax_policy
from rlcore.explain import explain_backup
from rlcore.testing._core import (
    DEFAULT_TIME_LIMIT,
    CheckFailed,
    MalformedAnswer,
    aname,
    answer_array,
    call_student,
    close,
    diagnose,
    num,
    run_cases,
    sname,
)
from rlcore.testing.battery import Case, battery, policies_for
from rlcore.testing.values import (
    _indent,
    assert_optimal_policy,
    assert_optimal_values,
    assert_value_of_policy,
)


def check_q_from_v(fn: Callable, *, sparse: bool = True, time_limit: float | None = DEFAULT_TIME_LIMIT,
                   raise_on_failure: bool = True):
    """Check ``q_from_v(mdp, V) -> Q``: q(s, a) = r(s, a) + γ Σ_{s'} p(s'|s, a) V(s') (S&B eq. 4.6).

    Each MDP is probed twice: with V = 0 (Q must be the reward r(s, a): the reward term alone) and
    with a random V, 0 at terminal states (the transition term). A wrong answer is reported at the
    worst (state, action) with the backup written out, and the mistake named when it is a usual
    one (γV(s) outside the expectation, γ missing, the reward missing, P's axes swapped).
    """
    def run_one(case):
        for label, V in _probes(case.make(), seed=0):
            mdp = case.make()
            Q = call_student(fn, (mdp, V.copy()), name="q_from_v", time_limit=time_limit, case=case.name)
            Q = answer_array(Q, "Q", (mdp.n_states, mdp.n_actions), "q(s, a) for every state and action", case.name)
            expected = q_from_v(mdp, V)
            if np.all(close(Q, expected, 1e-8, 1e-8)):
                continue
            P = _dense_P(mdp)
            candidates = [
                ("γV outside the expectation: you added γ·V(s) of the state itself, where the expectation "
                 "Σ_s' p(s'|s,a) γ V(s') over the next state belongs.", lambda: mdp.R + mdp.gamma * V[:, None]),
                ("γ is missing: q(s, a) = r(s, a) + γ Σ_s' p(s'|s,a) V(s').", lambda: mdp.R + P @ V),
                ("the reward r(s, a) is missing.", lambda: mdp.gamma * (P @ V)),
                ("you summed V(s') over every state without weighting by p(s'|s, a).",
                 lambda: mdp.R + mdp.gamma * V.sum() + 0 * P[..., 0]),
                ("P's axes are swapped: you used P[s', a, s] where p(s'|s, a) = P[s, a, s'].",
                 lambda: mdp.R + mdp.gamma * np.einsum("tas,t->sa", P, V)),
            ]
            diagnosis = diagnose(Q, expected, candidates, 1e-8, 1e-8)
            s, a = np.unravel_index(np.argmax(np.abs(Q - expected)), Q.shape)
            lines = [f"with {label}: Q({sname(mdp, s)}, {aname(mdp, a)}) should be {num(expected[s, a])}; "
                     f"your q_from_v returned {num(Q[s, a])}."]
            if diagnosis:
                lines.append(f"Likely mistake: {diagnosis}")
            lines += [f"The backup at {sname(mdp, s)} (row {aname(mdp, a)} is q({sname(mdp, s)}, {aname(mdp, a)})):",
                      _indent(str(explain_backup(mdp, V, s)))]
            raise CheckFailed("\n".join(lines), state=int(s), action=int(a), expected=float(expected[s, a]),
                              received=float(Q[s, a]), diagnosis=diagnosis, case=case.name)

    return run_cases("check_q_from_v", _cases(sparse), run_one, raise_on_failure)


def check_bellman_backup(fn: Callable, kind: str = "expectation", *, sparse: bool = True,
                         time_limit: float | None = DEFAULT_TIME_LIMIT, raise_on_failure: bool = True):
    """Check one application of a Bellman operator (S&B eqs. 4.5, 4.10).

    ``kind="expectation"``: ``backup(mdp, V, policy) -> (T^π V)``, (T^π V)(s) = Σ_a π(a|s) [r(s, a) +
    γ Σ_{s'} p(s'|s, a) V(s')]. ``kind="optimality"``: ``backup(mdp, V) -> (T*V)``, the same with
    max_a in place of the π-weighted average. Both return shape (S,).
    """
    if kind not in ("expectation", "optimality"):
        raise ValueError(f"kind must be 'expectation' or 'optimality'; got {kind!r}")
    name = "the backup"

    def run_one(case):
        for label, V in _probes(case.make(), seed=1):
            mdp = case.make()
            policies = policies_for(mdp, seed=2)[1:2] if kind == "expectation" else [("", None)]
            for pname, pi in policies:
                args = (mdp, V.copy()) if pi is None else (mdp, V.copy(), pi.copy())
                TV = call_student(fn, args, name=name, time_limit=time_limit, case=case.name)
                TV = answer_array(TV, "the backed-up V", (mdp.n_states,), "one value per state", case.name)
                expected = bellman_optimality_v(mdp, V) if pi is None else bellman_v(mdp, V, pi)
                if np.all(close(TV, expected, 1e-8, 1e-8)):
                    continue
                diagnosis = diagnose(TV, expected, _backup_mistakes(mdp, V, pi), 1e-8, 1e-8)
                s = int(np.argmax(np.abs(TV - expected)))
                operator = "T*V" if pi is None else "T^π V"
                with_policy = "" if pi is None else f" and the {pname}"
                lines = [f"with {label}{with_policy}: ({operator})({sname(mdp, s)}) should be {num(expected[s])}; "
                         f"your backup returned {num(TV[s])}."]
                if diagnosis:
                    lines.append(f"Likely mistake: {diagnosis}")
                lines += [f"The backup at {sname(mdp, s)}, term by term:", _indent(str(explain_backup(mdp, V, s, pi)))]
                raise CheckFailed("\n".join(lines), state=s, expected=float(expected[s]), received=float(TV[s]),
                                  diagnosis=diagnosis, case=case.name)

    return run_cases(f"check_bellman_backup (kind={kind!r})", _cases(sparse), run_one, raise_on_failure)


def check_policy_evaluation(fn: Callable, *, sparse: bool = True, tol: float = 1e-10,
                            time_limit: float | None = DEFAULT_TIME_LIMIT, raise_on_failure: bool = True):
    """Check ``policy_evaluation(mdp, policy, tol) -> V`` against the exact v_π (S&B eq. 3.14, Figure 4.1).

    Each MDP is evaluated under the uniform policy, a random stochastic one and (γ < 1) a random
    deterministic one; V must match v_π to 1e-6 (absolute and relative). ``tol`` is passed to the
    student's function as its stopping threshold.
    """
    def run_one(case):
        mdp0 = case.make()
        for pname, pi in policies_for(mdp0, seed=3):
            mdp = case.make()
            V = call_student(fn, (mdp, pi.copy(), tol), name="policy_evaluation", time_limit=time_limit, case=case.name)
            V = answer_array(V, "V", (mdp.n_states,), "v_π(s) for every state", case.name)
            _prefix(lambda: assert_value_of_policy(case.make(), pi, V), f"with the {pname}", case)

    cases = [c for c in _cases(sparse) if "long_episodes" not in c.tags]
    return run_cases("check_policy_evaluation", cases, run_one, raise_on_failure)


def check_value_iteration(fn: Callable, *, sparse: bool = True, tol: float = 1e-10,
                          time_limit: float | None = DEFAULT_TIME_LIMIT, raise_on_failure: bool = True):
    """Check ``value_iteration(mdp, tol) -> (V, policy)``: V must be v* (to 1e-6) and the policy
    optimal — any optimal policy, ties included (S&B Section 4.4)."""
    def run_one(case):
        mdp = case.make()
        result = call_student(fn, (mdp, tol), name="value_iteration", time_limit=time_limit, case=case.name)
        V, pi = _value_and_policy(result, "value_iteration", mdp, case.name)
        _prefix(lambda: assert_optimal_values(case.make(), V), "", case)
        _prefix(lambda: assert_optimal_policy(case.make(), pi), "the policy you returned", case)

    return run_cases("check_value_iteration", _cases(sparse), run_one, raise_on_failure)


def check_policy_iteration(fn: Callable, *, sparse: bool = True, time_limit: float | None = DEFAULT_TIME_LIMIT,
                           raise_on_failure: bool = True):
    """Check ``policy_iteration(mdp) -> (V, policy)``: V must be v* and the policy optimal (S&B Section 4.3)."""
    def run_one(case):
        mdp = case.make()
        result = call_student(fn, (mdp,), name="policy_iteration", time_limit=time_limit, case=case.name)
        V, pi = _value_and_policy(result, "policy_iteration", mdp, case.name)
        _prefix(lambda: assert_optimal_values(case.make(), V), "", case)
        _prefix(lambda: assert_optimal_policy(case.make(), pi), "the policy you returned", case)

    return run_cases("check_policy_iteration", _cases(sparse), run_one, raise_on_failure)


def check_soft_backup(fn: Callable, *, time_limit: float | None = DEFAULT_TIME_LIMIT, raise_on_failure: bool = True):
    """Check ``soft_backup(q, kl_coef, reference) -> (v, policy)``, the KL-regularised backup of a batch
    of states (Ziebart 2010; Haarnoja et al. 2017; see :func:`rlcore.soft_v_from_q`):

        v(s) = β log Σ_a π_ref(a|s) exp(q(s, a)/β),     π(a|s) = π_ref(a|s) exp((q(s, a) − v(s))/β)

    with β = ``kl_coef``; q and reference have shape (N, A), v shape (N,), policy shape (N, A).
    Cases: β small and large, a reference with zeros, and q/β large enough to overflow exp
    unless the maximum is subtracted first (the log-sum-exp shift).
    """
    rng = np.random.default_rng(7)

    def reference(n, a, zeros=False):
        ref = rng.dirichlet(np.ones(a), size=n)
        if zeros:
            ref[:, 0] = 0.0
            ref /= ref.sum(axis=1, keepdims=True)
        return ref

    cases = [
        Case("β = 1", lambda: (rng.standard_normal((5, 4)), 1.0, reference(5, 4))),
        Case("β = 0.1", lambda: (rng.standard_normal((5, 3)), 0.1, reference(5, 3))),
        Case("β = 10", lambda: (rng.standard_normal((4, 6)), 10.0, reference(4, 6))),
        Case("a reference with π_ref(a|s) = 0 for one action", lambda: (rng.standard_normal((5, 4)), 0.5, reference(5, 4, True))),
        Case("q/β ≈ 1000 (exp overflows without the log-sum-exp shift)",
             lambda: (100.0 + rng.standard_normal((3, 4)), 0.1, reference(3, 4))),
    ]

    def run_one(case):
        q, beta, ref = case.make()
        result = call_student(fn, (q.copy(), beta, ref.copy()), name="soft_backup", time_limit=time_limit, case=case.name)
        if not (isinstance(result, (tuple, list)) and len(result) == 2):
            raise MalformedAnswer(f"soft_backup must return (v, policy); got {_describe(result)} (case {case.name})",
                                  case=case.name)
        v = answer_array(result[0], "v", q.shape[:1], "the soft value of every state", case.name)
        pi = answer_array(result[1], "policy", q.shape, "π(a|s) for every state", case.name)
        log_ref = np.log(np.where(ref > 0, ref, 1.0)) + np.where(ref > 0, 0.0, -np.inf)
        expected_v = soft_maximum(q, beta, log_reference=log_ref)
        expected_pi = softmax_policy(q, beta, ref)
        if not np.all(close(v, expected_v, 1e-8, 1e-8)):
            candidates = [
                ("a sign error in the KL term: you used exp(q/β)/π_ref (−log π_ref) where π_ref·exp(q/β) belongs.",
                 lambda: soft_maximum(q, beta, log_reference=np.where(np.isinf(log_ref), -np.inf, -log_ref))),
                ("a sign error: your v is the soft minimum −β log Σ_a π_ref exp(−q/β).",
                 lambda: -soft_maximum(-q, beta, log_reference=log_ref)),
                ("π_ref is missing: β log Σ_a exp(q/β) is the entropy-regularised backup, not the KL one.",
                 lambda: soft_maximum(q, beta)),
                ("β is on the wrong side: you computed (1/β) log Σ_a π_ref exp(β q).",
                 lambda: soft_maximum(q * beta * beta, beta, log_reference=log_ref) / beta ** 2),
                ("your v is max_a q(s, a), the hard backup (β → 0).", lambda: q.max(axis=1)),
                ("your v is Σ_a π_ref(a|s) q(s, a), the value of following π_ref.", lambda: (ref * q).sum(axis=1)),
            ]
            diagnosis = diagnose(v, expected_v, candidates, 1e-8, 1e-8)
            s = int(np.argmax(np.abs(v - expected_v)))
            lines = [f"state {s}: v should be β log Σ_a π_ref(a|s) exp(q(s,a)/β) = {num(expected_v[s])} "
                     f"(β = {beta:g}, q = {np.round(q[s], 4).tolist()}, π_ref = {np.round(ref[s], 4).tolist()}); "
                     f"yours is {num(v[s])}."]
            raise CheckFailed.from_lines(lines, state=s, expected=float(expected_v[s]), received=float(v[s]),
                                         diagnosis=diagnosis, case=case.name)
        if not np.all(close(pi, expected_pi, 1e-8, 1e-8)):
            candidates = [
                ("a sign error in the KL term: you used exp(q/β)/π_ref where π_ref·exp(q/β) belongs.",
                 lambda: softmax_policy(q, beta, log_reference=np.where(np.isinf(log_ref), -np.inf, -log_ref))),
                ("π_ref is missing from the policy: π ∝ π_ref(a|s)·exp(q(s,a)/β).", lambda: softmax_policy(q, beta)),
                ("the policy is not normalised: divide by Σ_a π_ref(a|s) exp(q(s,a)/β) = exp(v(s)/β).",
                 lambda: ref * np.exp(q / beta)),
                ("your policy puts the weight exp(−q/β) on the actions (a sign error).", lambda: softmax_policy(-q, beta, ref)),
            ]
            diagnosis = diagnose(pi, expected_pi, candidates, 1e-8, 1e-8)
            s, a = np.unravel_index(np.argmax(np.abs(pi - expected_pi)), pi.shape)
            lines = [f"state {s}, action {a}: π(a|s) should be π_ref(a|s)·exp((q(s,a) − v(s))/β) = {num(expected_pi[s, a])}; "
                     f"yours is {num(pi[s, a])} (your v is right)."]
            raise CheckFailed.from_lines(lines, state=int(s), action=int(a), expected=float(expected_pi[s, a]),
                                         received=float(pi[s, a]), diagnosis=diagnosis, case=case.name)

    return run_cases("check_soft_backup", cases, run_one, raise_on_failure)


# ---------------------------------------------------------------------- helpers
def _cases(sparse: bool) -> list[Case]:
    return battery(sparse)


def _probes(mdp, seed: int):
    """(label, V) pairs: V = 0, then a random V that is 0 at terminal states."""
    rng = np.random.default_rng(seed)
    V = np.where(mdp.terminal, 0.0, rng.normal(0.0, 3.0, mdp.n_states))
    return [("V = 0", np.zeros(mdp.n_states)), ("a random V", V)]


def _dense_P(mdp) -> np.ndarray:
    if mdp.is_sparse:
        return np.stack([m.toarray() for m in mdp.P], axis=1)
    return mdp.P


def _backup_mistakes(mdp, V, pi):
    P = _dense_P(mdp)
    q = _q_from_v(mdp, V)
    live = ~mdp.terminal

    def keep(x):
        return np.where(live, x, 0.0)

    if pi is None:
        return [
            ("you averaged over the actions where the optimality backup takes the maximum max_a q(s, a).",
             lambda: keep(q.mean(axis=1))),
            ("γV outside the expectation: max_a r(s, a) + γ V(s) uses the state's own value, not the expectation "
             "over the next state.", lambda: keep(mdp.R.max(axis=1) + mdp.gamma * V)),
            ("γ is missing.", lambda: keep((mdp.R + P @ V).max(axis=1))),
        ]
    r_pi = (pi * mdp.R).sum(axis=1)
    out = [
        ("you took max_a q(s, a), the optimality backup, where the policy's average Σ_a π(a|s) q(s, a) belongs.",
         lambda: keep(q.max(axis=1))),
        ("you averaged q(s, ·) uniformly, ignoring π(a|s).", lambda: keep(q.mean(axis=1))),
        ("γV outside the expectation: r_π(s) + γ V(s) uses the state's own value, not the expectation "
         "Σ_s' p(s'|s,a) γ V(s') over the next state.", lambda: keep(r_pi + mdp.gamma * V)),
        ("γ is missing.", lambda: keep((pi * (mdp.R + P @ V)).sum(axis=1))),
    ]
    if mdp.n_states == mdp.n_actions:
        confused = ("P confused with π: you weighted V by π(·|s), where the transition probabilities p(s'|s, a) "
                    "belong — the action comes from π(·|s), the next state from p(·|s, a).")
        out.insert(0, (confused, lambda: keep(r_pi + mdp.gamma * pi @ V)))
        # q = R + γ·(π @ V) with the (S,) vector broadcast over the action axis (S = A hides the mix-up)
        out.insert(1, (confused, lambda: keep((pi * (mdp.R + mdp.gamma * (pi @ V)[None, :])).sum(axis=1))))
    return out


def _value_and_policy(result, name, mdp, case):
    """(V, policy) from what a solver returned: a pair in either order, or an object with .V and .policy."""
    if hasattr(result, "V") and hasattr(result, "policy"):
        pair = (result.V, result.policy)
    elif isinstance(result, (tuple, list)) and len(result) == 2:
        pair = tuple(result)
        shapes = [np.shape(x) for x in pair]
        if len(shapes[0]) == 2 and len(shapes[1]) == 1:  # (policy, V): unambiguous, accepted
            pair = pair[::-1]
    else:
        raise MalformedAnswer(f"{name} must return (V, policy); got {_describe(result)} (case {case})", case=case)
    V = answer_array(pair[0], "V", (mdp.n_states,), "one value per state", case)
    if np.ndim(pair[1]) == 1:
        raise MalformedAnswer(f"the policy must be an (S, A) = ({mdp.n_states}, {mdp.n_actions}) array of probabilities; "
                              f"got shape {np.shape(pair[1])}. For one action per state, return np.eye(A)[actions] "
                              f"(case {case})", case=case)
    pi = answer_array(pair[1], "policy", (mdp.n_states, mdp.n_actions), "π(a|s), one row per state", case)
    return V, pi


def _describe(x) -> str:
    if isinstance(x, np.ndarray):
        return f"an array of shape {x.shape}"
    if isinstance(x, (tuple, list)):
        return f"a {type(x).__name__} of {len(x)} items"
    return "None" if x is None else f"a {type(x).__name__}"


def _prefix(assertion, prefix: str, case):
    """Run an assertion; on failure re-raise it with ``prefix`` and the case in front of its message."""
    try:
        assertion()
    except CheckFailed as failure:
        failure.message = (f"{prefix}: {failure.message}" if prefix else failure.message)
        failure.case = case.name
        failure.args = (failure.message,)
        raise
