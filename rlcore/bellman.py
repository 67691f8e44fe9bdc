"""The V/Q/A relationships and the Bellman operators (Sutton & Barto, 2nd ed., Sections 3.5–3.6, 4.1–4.4).

Notation: ``V`` has shape (S,), ``Q`` and ``policy`` have shape (S, A). Values of terminal
states are 0 by definition: every operator reads V(terminal) as 0, whatever the array holds.

The one-step relation, with γV(s') *inside* the expectation over P (not π):

    q(s, a) = Σ_{s'} p(s'|s, a) [r(s, a, s') + γ v(s')] = r(s, a) + γ Σ_{s'} p(s'|s, a) v(s')

and v(s) = Σ_a π(a|s) q(s, a); the advantage is A(s, a) = q(s, a) − v(s), so Σ_a π(a|s) A(s, a) = 0.

The soft (KL-regularised) counterparts, with temperature τ > 0 and reference policy π_ref,
maximise E[Σ_t γ^t (R_{t+1} − τ KL(π(·|S_t) ‖ π_ref(·|S_t)))]:

    v(s) = τ log Σ_a π_ref(a|s) exp(q(s, a)/τ),      π*(a|s) = π_ref(a|s) exp((q(s, a) − v(s))/τ)

Without a reference π_ref ≡ 1 and the regulariser is the entropy bonus +τ H(π(·|s)) (maximum
entropy RL, Haarnoja et al. 2017). Both tend to the hard max as τ → 0.
"""

from __future__ import annotations

import numpy as np

from rlcore.policies import _check_q, _soft_logits, check_policy, max_over_actions, softmax_policy


def q_from_v(mdp, V) -> np.ndarray:
    """q(s, a) = r(s, a) + γ Σ_{s'} p(s'|s, a) v(s') (S&B eq. 4.6; Exercise 3.19).

    Args:
        mdp: the MDP (dense or sparse P).
        V: state values, shape (S,); entries at terminal states are read as 0.

    Returns:
        Q, shape (S, A).
    """
    V = _check_v(mdp, V)
    V = np.where(mdp.terminal, 0.0, V)
    expected_next = np.asarray(mdp.P_flat @ V).reshape(mdp.n_states, mdp.n_actions)
    return mdp.R + mdp.gamma * expected_next


def v_from_q(Q, policy) -> np.ndarray:
    """v(s) = Σ_a π(a|s) q(s, a) (S&B eq. 3.12; Exercise 3.18). Returns shape (S,)."""
    Q = _check_q(Q)
    policy = check_policy(policy, *Q.shape)
    return np.einsum("sa,sa->s", policy, Q)


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


def soft_v_from_q(Q, temperature: float, reference=None) -> np.ndarray:
    """v(s) = τ log Σ_a π_ref(a|s) exp(q(s, a)/τ), the soft maximum of Q (shape (S,)).

    Computed stably as a log-sum-exp. With ``reference=None``, π_ref ≡ 1 (entropy bonus).
    """
    logits = _soft_logits(Q, temperature, reference)
    top = logits.max(axis=1)
    return temperature * (top + np.log(np.exp(logits - top[:, None]).sum(axis=1)))


def soft_bellman_v(mdp, V, temperature: float, reference=None) -> np.ndarray:
    """(T_τ v)(s) = τ log Σ_a π_ref(a|s) exp(q(s, a)/τ) with q = q_from_v(v); 0 at terminal states. Shape (S,)."""
    return np.where(mdp.terminal, 0.0, soft_v_from_q(q_from_v(mdp, V), temperature, reference))


def soft_bellman_q(mdp, Q, temperature: float, reference=None) -> np.ndarray:
    """(T_τ q)(s, a) = r(s, a) + γ Σ_{s'} p(s'|s, a) τ log Σ_{a'} π_ref(a'|s') exp(q(s', a')/τ). Shape (S, A)."""
    soft_v = np.where(mdp.terminal, 0.0, soft_v_from_q(_check_qa(mdp, Q), temperature, reference))
    return q_from_v(mdp, soft_v)


def soft_optimal_policy(Q, temperature: float, reference=None) -> np.ndarray:
    """π(a|s) = π_ref(a|s) exp((q(s, a) − v(s))/τ) with v = soft_v_from_q(Q): the policy that
    attains the soft maximum (Ziebart 2010; Haarnoja et al. 2017). Same as
    :func:`rlcore.policies.softmax_policy`. Shape (S, A)."""
    return softmax_policy(Q, temperature, reference)


def _check_v(mdp, V) -> np.ndarray:
    V = np.asarray(V, dtype=float)
    if V.shape != (mdp.n_states,):
        raise ValueError(f"V must have shape (S,) = ({mdp.n_states},); got {V.shape}")
    if np.isnan(V).any():
        raise ValueError("V contains NaN")
    return V


def _check_qa(mdp, Q) -> np.ndarray:
    Q = _check_q(Q)
    if Q.shape != (mdp.n_states, mdp.n_actions):
        raise ValueError(f"Q must have shape (S, A) = ({mdp.n_states}, {mdp.n_actions}); got {Q.shape}")
    return Q
