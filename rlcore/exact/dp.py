"""Exact dynamic programming (Sutton & Barto, 2nd ed., Chapter 4).

Lectures 3–4. Every solver is the operator it teaches, applied until a stopping bound holds:
iterative policy evaluation is V ← T^π V (:func:`rlcore.bellman_v`), value iteration V ← T*V
(:func:`rlcore.bellman_optimality_v`), soft value iteration V ← T_β V (:func:`rlcore.soft_bellman_v`).
Arguments are validated once, at the entry point; inside the loop the solvers call the operators'
unchecked twins, which compute the same numbers without re-checking them at every sweep.

Every solver works on dense and sparse MDPs alike (sparse P is never densified) and returns a
:class:`Solution` with ``V``, ``Q``, ``policy``, ``iterations``, the residual history and a
*guaranteed* bound on the distance of the returned V from its target.

Stopping rules. For γ < 1 the Bellman operators are γ-contractions in the sup norm, so after a
sweep V_{k+1} = T V_k (Puterman 1994, Thm 6.3.1; S&B Section 4.4)

    ‖V_{k+1} − V_∞‖∞ ≤ γ/(1 − γ) · ‖V_{k+1} − V_k‖∞.

Iterative solvers stop once the right-hand side is ≤ ``tol``, so the returned V is within
``tol`` of the fixed point — not merely "the last sweep changed little". With γ = 1 there is no
contraction bound: they stop when the sweep changes V by ≤ ``tol`` and report
``error_bound = inf``; the exact linear solve is the reliable method there.

**γ = 1 (episodic tasks).** rlcore's optimum at γ = 1 is the optimum over policies that
terminate from every state (a stochastic shortest path problem, Bertsekas & Tsitsiklis 1991), the
policies whose return policy evaluation can compute. Every solver refuses an MDP in which no
policy terminates from some state. Where a loop with zero reward lets a policy that never
terminates do better than every policy that terminates — staying forever at 0 rather than paying
−1 to leave — the Bellman optimality equation has many solutions; value iteration may converge to
the value of staying, so it checks its answer and raises, naming the states, instead of reporting
a V that policy iteration would contradict. Policy iteration keeps to terminating policies: among
tied greedy actions it prefers the current one, then one that leads towards termination.
(``docs/dynamic_programming.md`` shows the two-state example.)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order, shortest_path
from scipy.sparse.linalg import splu
from tqdm.auto import tqdm

from rlcore import _checks
from rlcore.exact.bellman import (
    _bellman_optimality_v,
    _bellman_v,
    _q_from_v,
    _soft_bellman_v,
    q_from_v,
    soft_v_from_q,
)
from rlcore.exact.policies import TIE_ATOL, check_policy, greedy_policy, max_over_actions, softmax_policy, uniform_policy


@dataclass(frozen=True, eq=False)
class Solution:
    """What a solver returns.

    Attributes:
        V: state values, shape (S,).
        Q: action values q_from_v(V), shape (S, A).
        policy: the evaluated policy, or the greedy (soft-greedy) policy of Q, shape (S, A).
        iterations: sweeps (value iteration, iterative evaluation) or improvement steps
            (policy iteration); 1 for an exact linear solve.
        residuals: per iteration, ‖V_{k+1} − V_k‖∞ (or, for policy iteration, ‖T*V − V‖∞),
            shape (iterations,).
        converged: whether the stopping rule was met before ``max_iterations``.
        error_bound: guaranteed bound on ‖V − V_target‖∞ (inf where none holds, γ = 1).
    """

    V: np.ndarray
    Q: np.ndarray
    policy: np.ndarray
    iterations: int
    residuals: np.ndarray
    converged: bool
    error_bound: float


@dataclass(frozen=True, eq=False)
class FiniteHorizonSolution:
    """Backward induction over t = 0..H (t counts the steps already taken).

    Attributes:
        V: V_t(s), shape (H + 1, S); V[H] = 0.
        Q: Q_t(s, a), shape (H, S, A).
        policy: π_t(a|s), shape (H, S, A), greedy (or soft-greedy) in Q_t.
        horizon: H.
    """

    V: np.ndarray
    Q: np.ndarray
    policy: np.ndarray
    horizon: int


# ---------------------------------------------------------------------- the policy's chain
def policy_transition(mdp, policy):
    """P_π(s'|s) = Σ_a π(a|s) p(s'|s, a) and r_π(s) = Σ_a π(a|s) r(s, a).

    Returns:
        (P_pi, r_pi): P_pi of shape (S, S), dense or sparse CSR like the MDP; r_pi of shape (S,).
    """
    pi = check_policy(policy, mdp.n_states, mdp.n_actions)
    S, A = pi.shape
    actions = _deterministic_actions(pi)
    if actions is not None:  # one row of P per state: a row gather, no arithmetic (same numbers)
        states = np.arange(S)
        return mdp.P_flat[states * A + actions], mdp.R[states, actions]
    r_pi = np.einsum("sa,sa->s", pi, mdp.R)
    if mdp.is_sparse:
        s, a = np.nonzero(pi)
        weights = sp.csr_matrix((pi[s, a], (s, s * A + a)), shape=(S, S * A))
        return (weights @ mdp.P_flat).tocsr(), r_pi
    return np.einsum("sa,sat->st", pi, mdp.P), r_pi


def _deterministic_actions(pi: np.ndarray):
    """The action of each state when π is one-hot (exactly one entry 1 per row), else None."""
    actions = pi.argmax(axis=1)
    if np.count_nonzero(pi) == pi.shape[0] and np.all(pi[np.arange(pi.shape[0]), actions] == 1.0):
        return actions
    return None


def states_that_never_terminate(mdp, policy) -> np.ndarray:
    """Non-terminal states from which no terminal state is reachable under π.

    With γ = 1 these make I − P_π singular: their return is undefined. Returns indices, shape (k,).
    """
    P_pi, _ = policy_transition(mdp, policy)
    live = np.flatnonzero(~mdp.terminal)
    P_live = sp.csr_matrix(P_pi)[live][:, live]
    P_live.eliminate_zeros()
    n = live.size
    leaks = np.flatnonzero(1.0 - np.asarray(P_live.sum(axis=1)).ravel() > 1e-12)
    # Reverse edges i -> j into j -> i, plus a virtual source n pointing at every leaking state:
    # a breadth-first search from n then reaches exactly the states that can reach a terminal.
    reverse = sp.csr_matrix((np.ones(P_live.nnz), (P_live.indices, np.repeat(np.arange(n), np.diff(P_live.indptr)))), shape=(n + 1, n + 1))
    source = sp.csr_matrix((np.ones(leaks.size), (np.full(leaks.size, n), leaks)), shape=(n + 1, n + 1))
    reached = breadth_first_order(reverse + source, n, directed=True, return_predecessors=False)
    can_terminate = np.zeros(n + 1, dtype=bool)
    can_terminate[reached] = True
    return live[~can_terminate[:n]]


def _require_termination(mdp, policy, what: str = "the policy") -> None:
    if mdp.gamma < 1.0:
        return
    stuck = states_that_never_terminate(mdp, policy)
    if stuck.size:
        names = [mdp.state_names[s] for s in stuck[:10]]
        raise ValueError(
            f"gamma = 1 and {what} never reaches a terminal state from {stuck.size} state(s) "
            f"(e.g. {names}): their return is undefined and I − γP_π is singular. "
            "Use gamma < 1, or a policy that terminates from every state."
        )


def _require_some_termination(mdp) -> None:
    """At γ = 1: ValueError unless some policy terminates from every state (the uniform policy does then)."""
    stuck = states_that_never_terminate(mdp, uniform_policy(mdp))
    if stuck.size:
        names = [mdp.state_names[s] for s in stuck[:10]]
        raise ValueError(
            f"gamma = 1 and no policy reaches a terminal state from {stuck.size} state(s) (e.g. {names}): "
            "their value is undefined (an infinite sum). Use gamma < 1, or add a terminal state they can reach."
        )


def _best_actions_toward_termination(mdp, Q, atol: float):
    """At each state, the maximising actions of Q (within atol) that lead towards termination.

    d(s) is the number of steps to a terminal state when only maximising actions are used: d = 0
    on terminal states, and d(s) = k + 1 when some maximising action of s reaches, with positive
    probability, a state of d ≤ k. Returns (toward, d): ``toward`` (S, A) marks the maximising
    actions of each state that reach a state of smaller d; d is inf where no maximising action
    ever terminates.
    """
    S, A = Q.shape
    best = Q >= max_over_actions(Q, keepdims=True) - atol  # (S, A)
    P = sp.csr_matrix(mdp.P_flat)
    P.eliminate_zeros()
    rows = np.repeat(np.arange(S * A), np.diff(P.indptr))  # the (s, a) of each possible transition
    keep = best.ravel()[rows] & ~mdp.terminal[rows // A]
    # Reverse edges s' -> s for the maximising actions, plus a virtual source S pointing at every
    # terminal state: breadth-first distances from S are the d above (plus one).
    src = np.concatenate([P.indices[keep], np.full(int(mdp.terminal.sum()), S)])
    dst = np.concatenate([rows[keep] // A, np.flatnonzero(mdp.terminal)])
    graph = sp.csr_matrix((np.ones(src.size), (src, dst)), shape=(S + 1, S + 1))
    d = shortest_path(graph, unweighted=True, indices=S)[:S] - 1.0  # inf where unreachable
    next_best = np.full(S * A, np.inf)
    np.minimum.at(next_best, rows, d[P.indices])  # the smallest d among each (s, a)'s successors
    toward = best & (next_best.reshape(S, A) < d[:, None])
    return toward, d


def _states_whose_best_actions_never_terminate(mdp, Q, atol: float) -> np.ndarray:
    """Non-terminal states from which no sequence of maximising actions of Q reaches a terminal state."""
    _, d = _best_actions_toward_termination(mdp, Q, atol)
    return np.flatnonzero(np.isinf(d) & ~mdp.terminal)


class _DivergenceMonitor:
    """Value iteration at γ = 1, every 1000 sweeps: raise as soon as the values of states whose best
    actions never terminate grow without slowing down (a loop with positive reward), instead of
    running to max_iterations."""

    every = 1000

    def __init__(self, mdp):
        self.mdp, self.last, self.growth = mdp, None, None

    def __call__(self, V):
        stuck = _states_whose_best_actions_never_terminate(self.mdp, _q_from_v(self.mdp, V), TIE_ATOL)
        growth = None
        if stuck.size and self.last is not None:
            growth = float(np.min(V[stuck] - self.last[stuck]))
            if growth > 0 and self.growth is not None and growth >= 0.99 * self.growth:
                raise ValueError(_loop_message(self.mdp, stuck, converged=False))
        self.last, self.growth = V.copy(), growth


def _loop_message(mdp, stuck, converged: bool) -> str:
    names = [mdp.state_names[s] for s in stuck[:10]]
    found = "converged to" if converged else "ran into"
    return (
        f"gamma = 1: value iteration {found} values under which the best actions of {stuck.size} state(s) "
        f"(e.g. {names}) never reach a terminal state. A loop there is worth at least as much as any way "
        "out (a loop with zero reward makes the Bellman optimality equation have many solutions; with positive "
        "reward the values grow without bound). rlcore's optimum at gamma = 1 is over policies that terminate: "
        "use policy_iteration(mdp), which keeps to them, or gamma < 1."
    )


def _improved_actions(mdp, Q, policy) -> np.ndarray:
    """Policy improvement: a maximising action of Q in every state (S&B Section 4.3), keeping the
    current action of a deterministic policy where it is still maximising (so equally good policies
    do not alternate, S&B Exercise 4.4). At γ = 1 the actions are chosen among those that lead
    towards termination, so the improved policy terminates too (ValueError if none does)."""
    S = Q.shape[0]
    states = np.arange(S)
    if mdp.gamma == 1.0:
        candidates, d = _best_actions_toward_termination(mdp, Q, TIE_ATOL)
        stuck = np.flatnonzero(np.isinf(d) & ~mdp.terminal)
        if stuck.size:
            names = [mdp.state_names[s] for s in stuck[:10]]
            raise ValueError(
                f"gamma = 1: in {stuck.size} state(s) (e.g. {names}) every action that improves the policy leads into a "
                "loop that never terminates, worth more than any way out (a loop with positive reward?): the optimum "
                "over policies that terminate does not exist. Use gamma < 1."
            )
        candidates[mdp.terminal] = True
    else:
        candidates = Q >= max_over_actions(Q, keepdims=True) - TIE_ATOL
    actions = candidates.argmax(axis=1)  # the first candidate
    current = policy.argmax(axis=1)
    deterministic = policy[states, current] == 1.0
    keep = deterministic & candidates[states, current]
    return np.where(keep, current, actions)


# ---------------------------------------------------------------------- policy evaluation
def policy_evaluation(mdp, policy, method: str = "exact", tol: float = 1e-10,
                      max_iterations: int = 100_000, V0=None, progress: bool = False) -> Solution:
    """v_π, the value of policy π (S&B eq. 3.14; iterative version eq. 4.5, Figure 4.1).

    Args:
        mdp: the MDP.
        policy: π, shape (S, A).
        method: ``"exact"`` solves (I − γ P_π) v = r_π on the non-terminal states (sparse LU
            when P is sparse); ``"iterative"`` applies synchronous sweeps v_{k+1} = T^π v_k from
            ``V0`` (default 0), as in S&B Figure 4.1, until the contraction bound is ≤ ``tol``.
        tol: accuracy target for ``"iterative"``.
        max_iterations: sweep limit for ``"iterative"``.
        V0: initial values for ``"iterative"``, shape (S,).
        progress: show a tqdm progress bar for the sweeps.

    Raises:
        ValueError: for γ = 1 and a policy that never terminates from some state, or an
            unknown method.
    """
    policy = check_policy(policy, mdp.n_states, mdp.n_actions)
    _require_termination(mdp, policy)
    if method == "exact":
        P_pi, r_pi = policy_transition(mdp, policy)
        V = _solve_linear(mdp, P_pi, r_pi)
        residual = np.abs(r_pi + mdp.gamma * (P_pi @ V) - V)[~mdp.terminal]
        residuals = np.array([residual.max(initial=0.0)])
        return Solution(V, q_from_v(mdp, V), policy, 1, residuals, True, 0.0)
    if method == "iterative":
        def backup(V):  # V ← T^π V
            return _bellman_v(mdp, V, policy)

        V, residuals, converged, bound = _iterate(backup, _initial_v(mdp, V0), mdp.gamma, tol, max_iterations, progress, "policy evaluation")
        return Solution(V, q_from_v(mdp, V), policy, len(residuals), residuals, converged, bound)
    raise ValueError(f"method must be 'exact' or 'iterative'; got {method!r}")


def _solve_linear(mdp, P_pi, r_pi) -> np.ndarray:
    """Solve (I − γ P_π[N, N]) v_N = r_π[N] on the non-terminal states N; v = 0 on terminals."""
    live = np.flatnonzero(~mdp.terminal)
    V = np.zeros(mdp.n_states)
    if live.size == 0:
        return V
    every_state = live.size == mdp.n_states  # no terminal states: no submatrix to copy out
    if sp.issparse(P_pi):
        P_live = P_pi if every_state else P_pi[live][:, live]
        M = (sp.identity(live.size, format="csr") - mdp.gamma * P_live).tocsc()
        V[live] = splu(M).solve(r_pi if every_state else r_pi[live])
    else:
        M = P_pi * -mdp.gamma if every_state else P_pi[np.ix_(live, live)] * -mdp.gamma
        M.flat[:: live.size + 1] += 1.0  # I − γ P_π without building I
        V[live] = np.linalg.solve(M, r_pi if every_state else r_pi[live])
    if not np.all(np.isfinite(V)):
        raise ValueError("the linear system of policy evaluation is singular (is some return unbounded?)")
    return V


# ---------------------------------------------------------------------- control
def value_iteration(mdp, tol: float = 1e-8, max_iterations: int = 100_000, V0=None,
                    progress: bool = False, stopping: str = "sup") -> Solution:
    """v* by value iteration, v_{k+1}(s) = max_a [r(s, a) + γ Σ_{s'} p(s'|s, a) v_k(s')] (S&B eq. 4.10).

    Stops when γ/(1 − γ)·‖v_{k+1} − v_k‖∞ ≤ tol, which guarantees ‖V − v*‖∞ ≤ tol for γ < 1.
    Returns V, Q = q_from_v(V) and the greedy policy of Q; since Q is only within γ·tol of q*,
    actions within 2·tol of the best count as tied (and split the probability evenly).

    ``stopping="span"`` (γ < 1) uses MacQueen's bounds instead (Puterman 1994, Section 6.6.3):
    with Δ = v_{k+1} − v_k, v* lies between v_{k+1} + γ/(1 − γ)·min Δ and v_{k+1} + γ/(1 − γ)·max Δ,
    so it stops when γ/(1 − γ)·(max Δ − min Δ)/2 ≤ tol and returns the midpoint
    v_{k+1} + γ/(1 − γ)·(max Δ + min Δ)/2, again within tol of v*. The span max Δ − min Δ (pymdptoolbox's
    stopping test) shrinks much faster than ‖Δ‖∞ when the chain mixes: far fewer sweeps for the same tol.
    ``residuals`` then holds the spans.
    """
    monitor = None
    if mdp.gamma == 1.0:
        _require_some_termination(mdp)
        monitor = _DivergenceMonitor(mdp)

    def backup(V):  # V ← T*V
        return _bellman_optimality_v(mdp, V)

    if stopping == "span":
        V, residuals, converged, bound = _iterate_span(mdp, backup, _initial_v(mdp, V0), tol, max_iterations, progress)
    elif stopping == "sup":
        V, residuals, converged, bound = _iterate(backup, _initial_v(mdp, V0), mdp.gamma, tol, max_iterations, progress,
                                                  "value iteration", monitor)
    else:
        raise ValueError(f"stopping must be 'sup' or 'span'; got {stopping!r}")
    Q = q_from_v(mdp, V)
    atol = max(TIE_ATOL, 2 * tol)
    if mdp.gamma == 1.0:
        stuck = _states_whose_best_actions_never_terminate(mdp, Q, atol)
        if stuck.size:
            raise ValueError(_loop_message(mdp, stuck, converged))
    return Solution(V, Q, greedy_policy(Q, atol=atol), len(residuals), residuals, converged, bound)


def soft_value_iteration(mdp, kl_coef: float, reference=None, tol: float = 1e-8,
                         max_iterations: int = 100_000, V0=None, progress: bool = False) -> Solution:
    """The soft (KL-regularised) optimum: v(s) = β log Σ_a π_ref(a|s) exp(q(s, a)/β), q = r + γPv.

    V ← T_β V (:func:`rlcore.soft_bellman_v`) until the stopping rule of :func:`value_iteration`
    holds. The fixed point is the optimal value of E[Σ_t γ^t (R_{t+1} − β KL(π(·|S_t) ‖ π_ref(·|S_t)))]
    (π_ref ≡ 1 without a reference: the entropy-regularised objective). The returned policy is
    π*(a|s) = π_ref(a|s) exp((Q(s, a) − V(s))/β). As β → 0 it tends to hard value iteration.

    Args:
        kl_coef: β > 0, the weight of the KL (or entropy) term.
        reference: π_ref, shape (S, A), or None.
    """
    kl_coef = _checks.number(kl_coef, "kl_coef", 0.0, None, low_open=True, meaning="the KL weight β")
    log_reference = None
    if reference is not None:
        reference = check_policy(reference, mdp.n_states, mdp.n_actions)
        with np.errstate(divide="ignore"):
            log_reference = np.log(reference)
    if mdp.gamma == 1.0:  # π*_β has the support of π_ref: it terminates exactly where π_ref does
        _require_termination(mdp, uniform_policy(mdp) if reference is None else reference, "the reference policy")

    def backup(V):  # V ← T_β V
        return _soft_bellman_v(mdp, V, kl_coef, log_reference)

    V, residuals, converged, bound = _iterate(backup, _initial_v(mdp, V0), mdp.gamma, tol, max_iterations, progress, "soft value iteration")
    Q = q_from_v(mdp, V)
    return Solution(V, Q, softmax_policy(Q, kl_coef, reference), len(residuals), residuals, converged, bound)


def policy_iteration(mdp, initial_policy=None, evaluation_sweeps: int | None = None,
                     tol: float = 1e-8, max_iterations: int = 10_000, progress: bool = False) -> Solution:
    """v* and π* by policy iteration (S&B Section 4.3), or modified policy iteration.

    Each step evaluates π exactly (``evaluation_sweeps=None``) or with k sweeps of T^π from the
    previous values (modified PI, Puterman Section 6.5), then improves π greedily (first
    maximising action). The residual is the greedy gap ‖T*V − V‖∞; PI stops when it
    guarantees ‖V − v*‖∞ ≤ tol (for exact evaluation, ‖v* − v_π‖∞ ≤ ‖T*v_π − v_π‖∞/(1 − γ)).

    Args:
        initial_policy: π_0, shape (S, A); default uniform. With γ = 1 it must terminate
            from every state.
        evaluation_sweeps: None for exact evaluation, k ≥ 1 for modified policy iteration.
    """
    gamma = mdp.gamma
    policy = uniform_policy(mdp) if initial_policy is None else check_policy(initial_policy, mdp.n_states, mdp.n_actions)
    max_iterations = _checks.whole(max_iterations, "max_iterations", 1)
    tol = _checks.number(tol, "tol", 0.0, None, low_open=True, meaning="the accuracy target")
    if evaluation_sweeps is not None:
        evaluation_sweeps = _checks.whole(evaluation_sweeps, "evaluation_sweeps", 1, meaning="None for exact evaluation")
    modified = evaluation_sweeps is not None
    V = np.zeros(mdp.n_states)
    residuals = []
    converged = False
    bar = tqdm(total=max_iterations, desc="policy iteration", disable=not progress)
    for _ in range(max_iterations):
        if modified:
            V = _sweeps(mdp, policy, V, evaluation_sweeps)
        else:  # exact evaluation, as policy_evaluation(mdp, policy).V without its extra products
            _require_termination(mdp, policy)
            V = _solve_linear(mdp, *policy_transition(mdp, policy))
        Q = _q_from_v(mdp, V)
        gap = float(np.max(np.abs(max_over_actions(Q) - V), initial=0.0))
        residuals.append(gap)
        if progress:
            bar.update()
            bar.set_postfix(gap=f"{gap:.2e}")
        bound = _contraction_bound(gamma, gap, factor=gamma if modified else 1.0)
        if (bound if gamma < 1 else gap) <= tol:
            converged = True
            break
        policy = _one_hot(_improved_actions(mdp, Q, policy), mdp.n_actions)
    bar.close()
    if modified:
        V = max_over_actions(Q)
        Q = q_from_v(mdp, V)
    if not converged:
        warnings.warn(f"policy iteration stopped after {max_iterations} iterations without meeting tol={tol}", RuntimeWarning, stacklevel=2)
    return Solution(V, Q, greedy_policy(Q), len(residuals), np.array(residuals), converged, bound)


def finite_horizon(mdp, horizon: int, kl_coef: float | None = None, reference=None) -> FiniteHorizonSolution:
    """Backward induction for a horizon of H steps (Puterman 1994, Section 4.5).

    V_H = 0 and, for t = H−1, …, 0,

        Q_t(s, a) = r(s, a) + γ Σ_{s'} p(s'|s, a) V_{t+1}(s'),   V_t(s) = max_a Q_t(s, a)

    or, with a KL weight β = ``kl_coef``, the soft maximum β log Σ_a π_ref(a|s) exp(Q_t(s, a)/β) and
    the soft-greedy policy π_t ∝ π_ref exp(Q_t/β).
    """
    H, S, A = _checks.whole(horizon, "horizon", 0), mdp.n_states, mdp.n_actions
    if kl_coef is not None:
        kl_coef = _checks.number(kl_coef, "kl_coef", 0.0, None, low_open=True, meaning="the KL weight β")
    V = np.zeros((H + 1, S))
    Q = np.zeros((H, S, A))
    policy = np.zeros((H, S, A))
    for t in reversed(range(H)):
        Q[t] = q_from_v(mdp, V[t + 1])
        if kl_coef is None:
            V[t] = max_over_actions(Q[t])
            policy[t] = greedy_policy(Q[t])
        else:
            V[t] = np.where(mdp.terminal, 0.0, soft_v_from_q(Q[t], kl_coef, reference))
            policy[t] = softmax_policy(Q[t], kl_coef, reference)
    return FiniteHorizonSolution(V, Q, policy, H)


# ---------------------------------------------------------------------- shared machinery
def _iterate(backup: Callable[[np.ndarray], np.ndarray], V: np.ndarray, gamma: float, tol: float,
             max_iterations: int, progress: bool, name: str, monitor=None):
    """Apply V ← backup(V) until the contraction bound γ/(1−γ)‖ΔV‖∞ is ≤ tol (‖ΔV‖∞ ≤ tol if γ = 1)."""
    tol = _checks.number(tol, "tol", 0.0, None, low_open=True, meaning="the accuracy target")
    max_iterations = _checks.whole(max_iterations, "max_iterations", 1)
    threshold = tol * (1.0 - gamma) / gamma if 0 < gamma < 1 else (np.inf if gamma == 0 else tol)
    residuals = []
    converged = False
    bar = tqdm(total=max_iterations, desc=name, disable=not progress)
    for _ in range(max_iterations):
        V_new = backup(V)
        residual = float(np.max(np.abs(V_new - V), initial=0.0))
        if not np.isfinite(residual):
            raise ValueError(f"{name}: the values overflowed (inf or NaN) after {len(residuals) + 1} sweeps; "
                             "are the rewards or V0 too large?")
        residuals.append(residual)
        V = V_new
        if progress:
            bar.update()
            bar.set_postfix(residual=f"{residual:.2e}")
        if residual <= threshold:
            converged = True
            break
        if monitor is not None and len(residuals) % monitor.every == 0:
            monitor(V)
    bar.close()
    if not converged:
        warnings.warn(f"{name} stopped after {max_iterations} sweeps without meeting tol={tol}", RuntimeWarning, stacklevel=3)
    return V, np.array(residuals), converged, _contraction_bound(gamma, residuals[-1] if residuals else np.inf)


def _iterate_span(mdp, backup, V, tol: float, max_iterations: int, progress: bool):
    """Value iteration stopped by MacQueen's bounds; returns the midpoint estimate (γ < 1)."""
    gamma = mdp.gamma
    if not 0 <= gamma < 1:
        raise ValueError(f"stopping='span' needs gamma < 1; got {gamma}")
    tol = _checks.number(tol, "tol", 0.0, None, low_open=True, meaning="the accuracy target")
    max_iterations = _checks.whole(max_iterations, "max_iterations", 1)
    c = gamma / (1.0 - gamma)
    residuals, converged, low, high = [], False, 0.0, np.inf
    bar = tqdm(total=max_iterations, desc="value iteration", disable=not progress)
    for _ in range(max_iterations):
        V_new = backup(V)
        delta = V_new - V  # 0 on terminal states, so min Δ ≤ 0 ≤ max Δ there too
        low, high = float(delta.min()), float(delta.max())
        if not np.isfinite(high - low):
            raise ValueError(f"value iteration: the values overflowed (inf or NaN) after {len(residuals) + 1} sweeps; "
                             "are the rewards or V0 too large?")
        residuals.append(high - low)
        V = V_new
        if progress:
            bar.update()
            bar.set_postfix(span=f"{high - low:.2e}")
        if c * (high - low) / 2 <= tol:
            converged = True
            break
    bar.close()
    if not converged:
        warnings.warn(f"value iteration stopped after {max_iterations} sweeps without meeting tol={tol}", RuntimeWarning, stacklevel=3)
    V = np.where(mdp.terminal, 0.0, V + c * (low + high) / 2)
    return V, np.array(residuals), converged, float(c * (high - low) / 2)


def _contraction_bound(gamma: float, residual: float, factor: float | None = None) -> float:
    """γ/(1−γ)·residual (or factor/(1−γ)·residual); inf for γ = 1."""
    if gamma >= 1.0:
        return float("inf")
    return float((gamma if factor is None else factor) / (1.0 - gamma) * residual)


def _sweeps(mdp, policy, V, k: int) -> np.ndarray:
    """k sweeps V ← T^π V (modified policy iteration's partial evaluation)."""
    for _ in range(k):
        V = _bellman_v(mdp, V, policy)
    return V


def _initial_v(mdp, V0) -> np.ndarray:
    if V0 is None:
        return np.zeros(mdp.n_states)
    V0 = _checks.real_array(V0, "V0")
    if V0.shape != (mdp.n_states,):
        raise ValueError(f"V0 must have shape ({mdp.n_states},); got {V0.shape}")
    return np.where(mdp.terminal, 0.0, V0)


def _one_hot(actions: np.ndarray, n_actions: int) -> np.ndarray:
    policy = np.zeros((actions.size, n_actions))
    policy[np.arange(actions.size), actions] = 1.0
    return policy
