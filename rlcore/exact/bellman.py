"""The V/Q/A relationships and the Bellman operators (Sutton & Barto, 2nd ed., Sections 3.5–3.6, 4.1–4.4).

Lectures 2–3. Notation: ``V`` has shape (S,), ``Q`` and ``policy`` have shape (S, A). Values of
terminal states are 0 by definition: every operator reads V(terminal) as 0, whatever the array
holds.

The one-step relation, with γV(s') *inside* the expectation over P (not π):

    q(s, a) = Σ_{s'} p(s'|s, a) [r(s, a, s') + γ v(s')] = r(s, a) + γ Σ_{s'} p(s'|s, a) v(s')

and v(s) = Σ_a π(a|s) q(s, a); the advantage is A(s, a) = q(s, a) − v(s), so Σ_a π(a|s) A(s, a) = 0.

The soft (KL-regularised) counterparts, with the KL weight β = ``kl_coef`` > 0 and a reference
policy π_ref, maximise E[Σ_t γ^t (R_{t+1} − β KL(π(·|S_t) ‖ π_ref(·|S_t)))]:

    v(s) = β log Σ_a π_ref(a|s) exp(q(s, a)/β),      π*(a|s) = π_ref(a|s) exp((q(s, a) − v(s))/β)

Without a reference π_ref ≡ 1 and the regulariser is the entropy bonus +β H(π(·|s)) (maximum
entropy RL, Haarnoja et al. 2017). Both tend to the hard max as β → 0.

Every public operator checks its arguments; the solvers of :mod:`rlcore.exact.dp` validate once
and then apply the unchecked twins (``_q_from_v``, ``_bellman_optimality_v``, …), which compute
the same numbers.
"""

from __future__ import annotations

import numpy as np

from rlcore.exact.policies import _values, check_policy, max_over_actions, soft_maximum, softmax_policy


def q_from_v(mdp, V) -> np.ndarray:
    """q(s, a) = r(s, a) + γ Σ_{s'} p(s'|s, a) v(s') (S&B eq. 4.6; Exercise 3.19).

    Args:
        mdp: the MDP (dense or sparse P).
        V: state values, shape (S,); entries at terminal states are read as 0.

    Returns:
        Q, shape (S, A).
    """
    V = _check_v(mdp, V)
    return _q_from_v(mdp, np.where(mdp.terminal, 0.0, V))


def v_from_q(Q, policy) -> np.ndarray:
    """v(s) = Σ_a π(a|s) q(s, a) (S&B eq. 3.12; Exercise 3.18). Returns shape (S,)."""
    Q = _check_q(Q)
    return _v_from_q(Q, check_policy(policy, *Q.shape))


def advantage(Q, policy) -> np.ndarray:
    """A(s, a) = q(s, a) − v(s) with v = v_from_q(Q, π), so Σ_a π(a|s) A(s, a) = 0. Shape (S, A)."""
    return _check_q(Q) - v_from_q(Q, policy)[:, None]


def bellman_v(mdp, V, policy) -> np.ndarray:
    """(T^π v)(s) = Σ_a π(a|s) [r(s, a) + γ Σ_{s'} p(s'|s, a) v(s')] (S&B eq. 3.14 and 4.5). Shape (S,)."""
    return v_from_q(q_from_v(mdp, V), policy)


def bellman_q(mdp, Q, policy) -> np.ndarray:
    """(T^π q)(s, a) = r(s, a) + γ Σ_{s'} p(s'|s, a) Σ_{a'} π(a'|s') q(s', a') (S&B exercise 3.17). Shape (S, A)."""
    return q_from_v(mdp, v_from_q(_check_qa(mdp, Q), policy))


def bellman_optimality_v(mdp, V) -> np.ndarray:
    """(T* v)(s) = max_a [r(s, a) + γ Σ_{s'} p(s'|s, a) v(s')] (S&B eq. 3.19 and 4.10). Shape (S,)."""
    return max_over_actions(q_from_v(mdp, V))


def bellman_optimality_q(mdp, Q) -> np.ndarray:
    """(T* q)(s, a) = r(s, a) + γ Σ_{s'} p(s'|s, a) max_{a'} q(s', a') (S&B eq. 3.20). Shape (S, A)."""
    return q_from_v(mdp, max_over_actions(_check_qa(mdp, Q)))


def soft_v_from_q(Q, kl_coef: float, reference=None, *, log_reference=None):
    """v(s) = β log Σ_a π_ref(a|s) exp(q(s, a)/β), the soft maximum of Q with β = ``kl_coef``.

    Computed stably as a log-sum-exp. With no reference, π_ref ≡ 1 (entropy bonus). Q may be an
    (S, A) table or action values with any leading axes (..., A), numpy or torch (lmenv's DQN
    target); ``log_reference`` gives log π_ref instead of π_ref.

    Returns:
        shape (S,) (Q.shape[:-1]).
    """
    return soft_maximum(Q, kl_coef, reference, log_reference=log_reference)


def soft_bellman_v(mdp, V, kl_coef: float, reference=None) -> np.ndarray:
    """(T_β v)(s) = β log Σ_a π_ref(a|s) exp(q(s, a)/β) with q = q_from_v(v); 0 at terminal states. Shape (S,)."""
    return np.where(mdp.terminal, 0.0, soft_v_from_q(q_from_v(mdp, V), kl_coef, reference))


def soft_bellman_q(mdp, Q, kl_coef: float, reference=None) -> np.ndarray:
    """(T_β q)(s, a) = r(s, a) + γ Σ_{s'} p(s'|s, a) β log Σ_{a'} π_ref(a'|s') exp(q(s', a')/β). Shape (S, A)."""
    soft_v = np.where(mdp.terminal, 0.0, soft_v_from_q(_check_qa(mdp, Q), kl_coef, reference))
    return q_from_v(mdp, soft_v)


def soft_optimal_policy(Q, kl_coef: float, reference=None) -> np.ndarray:
    """π(a|s) = π_ref(a|s) exp((q(s, a) − v(s))/β) with v = soft_v_from_q(Q): the policy that
    attains the soft maximum (Ziebart 2010; Haarnoja et al. 2017) — the Boltzmann policy
    :func:`rlcore.softmax_policy` at temperature β around π_ref. Shape (S, A)."""
    return softmax_policy(_check_q(Q), kl_coef, reference)


# ---------------------------------------------------------------------- unchecked twins (for the solvers)
def _q_from_v(mdp, V) -> np.ndarray:
    """:func:`q_from_v` for a valid V that is already 0 on terminal states."""
    return mdp.R + mdp.gamma * np.asarray(mdp.P_flat @ V).reshape(mdp.n_states, mdp.n_actions)


def _v_from_q(Q, policy) -> np.ndarray:
    """:func:`v_from_q` for a valid Q and policy."""
    return np.einsum("sa,sa->s", policy, Q)


def _bellman_v(mdp, V, policy) -> np.ndarray:
    """:func:`bellman_v` for a valid V (0 on terminal states) and policy."""
    return _v_from_q(_q_from_v(mdp, V), policy)


def _bellman_optimality_v(mdp, V) -> np.ndarray:
    """:func:`bellman_optimality_v` for a valid V that is 0 on terminal states (which it keeps:
    terminal rows are "stay, reward 0")."""
    return max_over_actions(_q_from_v(mdp, V))


def _soft_bellman_v(mdp, V, kl_coef: float, log_reference) -> np.ndarray:
    """:func:`soft_bellman_v` for a valid V and the log of a valid reference (or None).

    The log-sum-exp is shifted by the largest q where π_ref > 0, so a tiny β cannot overflow.
    """
    q = _q_from_v(mdp, V)
    top = max_over_actions(q if log_reference is None else q + np.where(np.isneginf(log_reference), -np.inf, 0.0))
    with np.errstate(over="ignore"):
        logits = (q - top[:, None]) / kl_coef
    if log_reference is not None:
        logits = logits + log_reference
    soft = top + kl_coef * np.log(np.exp(logits).sum(axis=1))
    return np.where(mdp.terminal, 0.0, soft)


# ---------------------------------------------------------------------- checks
def _check_v(mdp, V) -> np.ndarray:
    V = np.asarray(V, dtype=float)
    if V.shape != (mdp.n_states,):
        raise ValueError(f"V must have shape (S,) = ({mdp.n_states},); got {V.shape}")
    if np.isnan(V).any():
        raise ValueError("V contains NaN")
    return V


def _check_q(Q) -> np.ndarray:
    Q, _ = _values(Q)
    if Q.ndim != 2:
        raise ValueError(f"Q must have shape (S, A); got shape {Q.shape}")
    return Q


def _check_qa(mdp, Q) -> np.ndarray:
    Q = _check_q(Q)
    if Q.shape != (mdp.n_states, mdp.n_actions):
        raise ValueError(f"Q must have shape (S, A) = ({mdp.n_states}, {mdp.n_actions}); got {Q.shape}")
    return Q
