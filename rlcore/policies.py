"""Stochastic policies as arrays π of shape (S, A) with π[s, a] = π(a | s) (S&B Section 3.5).

Every function here returns rows that sum to 1. ``greedy_policy`` splits ties evenly among
all maximising actions (within ``atol``), so the greedy policy of Q* shows *every* optimal
action, as in Sutton & Barto's Figure 3.5, and a deterministic tie-break never hides one.
"""

from __future__ import annotations

import numpy as np

from rlcore.mdp import PROBABILITY_ATOL

TIE_ATOL = 1e-9  # action values closer than this to the maximum count as tied


def check_policy(policy, n_states: int | None = None, n_actions: int | None = None) -> np.ndarray:
    """Validate π: shape (S, A), finite, non-negative, rows summing to 1.

    Raises:
        ValueError: naming the shape or the first state whose row is not a distribution.
    """
    pi = np.asarray(policy, dtype=float)
    if pi.ndim != 2:
        raise ValueError(f"a policy must have shape (S, A); got shape {pi.shape}")
    if n_states is not None and n_actions is not None and pi.shape != (n_states, n_actions):
        raise ValueError(f"policy must have shape (S, A) = ({n_states}, {n_actions}); got {pi.shape}")
    if not np.all(np.isfinite(pi)):
        s = int(np.argwhere(~np.isfinite(pi))[0, 0])
        raise ValueError(f"policy row {s} contains NaN or inf")
    if np.any(pi < 0):
        s, a = np.argwhere(pi < 0)[0]
        raise ValueError(f"policy[{s}, {a}] = {pi[s, a]:g} is a negative probability")
    sums = pi.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > PROBABILITY_ATOL)
    if bad.size:
        raise ValueError(f"policy row for state {bad[0]} sums to {sums[bad[0]]:.10g}, not 1")
    return pi


def uniform_policy(mdp) -> np.ndarray:
    """The equiprobable random policy π(a|s) = 1/A, shape (S, A)."""
    return np.full((mdp.n_states, mdp.n_actions), 1.0 / mdp.n_actions)


def greedy_policy(Q, atol: float = TIE_ATOL) -> np.ndarray:
    """π(a|s) = 1/|argmax| on the maximising actions of Q, 0 elsewhere (S&B eq. 4.9).

    Args:
        Q: action values, shape (S, A).
        atol: values within ``atol`` of the row maximum are ties and share the probability.

    Returns:
        policy, shape (S, A).
    """
    Q = _check_q(Q)
    best = Q >= max_over_actions(Q)[:, None] - atol
    return best / best.sum(axis=1, keepdims=True)


def epsilon_greedy_policy(Q, epsilon: float) -> np.ndarray:
    """π = (1 − ε)·greedy(Q) + ε·uniform (S&B Section 2.2 and 5.4), shape (S, A).

    Every action keeps probability at least ε/A; greedy ties share the 1 − ε.
    """
    if not (0.0 <= epsilon <= 1.0):
        raise ValueError(f"epsilon must lie in [0, 1]; got {epsilon}")
    Q = _check_q(Q)
    return (1.0 - epsilon) * greedy_policy(Q) + epsilon / Q.shape[1]


def softmax_policy(Q, temperature: float, reference=None) -> np.ndarray:
    """Boltzmann policy π(a|s) ∝ π_ref(a|s) exp(Q(s,a)/τ) (S&B eq. 2.11 / 13.2).

    With a reference policy this is the optimal policy of the KL-regularised objective (see
    :func:`rlcore.bellman.soft_v_from_q`); without one, π_ref ≡ 1 (plain softmax,
    entropy-regularised). Actions with π_ref(a|s) = 0 get probability 0.

    Args:
        Q: action values, shape (S, A).
        temperature: τ > 0.
        reference: optional π_ref, shape (S, A).

    Returns:
        policy, shape (S, A).
    """
    logits = _soft_logits(Q, temperature, reference)
    logits = logits - logits.max(axis=1, keepdims=True)
    weights = np.exp(logits)
    return weights / weights.sum(axis=1, keepdims=True)


def _soft_logits(Q, temperature: float, reference) -> np.ndarray:
    """Q/τ + log π_ref, shape (S, A), with −inf where π_ref = 0."""
    if not (np.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a positive number; got {temperature}")
    Q = _check_q(Q)
    logits = Q / temperature
    if reference is not None:
        reference = check_policy(reference, *Q.shape)
        with np.errstate(divide="ignore"):
            logits = logits + np.log(reference)
    return logits


def max_over_actions(Q: np.ndarray) -> np.ndarray:
    """max_a Q[s, a], shape (S,): the same numbers as ``Q.max(axis=1)``, computed column by column.

    numpy reduces each short row of an (S, A) array separately: for A = 2 ``Q.max(axis=1)`` takes
    ~35 ns a state, 20–40× the cost of A - 1 vectorised ``np.maximum`` calls over the columns.
    """
    Q = np.asarray(Q)
    if not 0 < Q.shape[1] <= 32:
        return Q.max(axis=1)
    best = Q[:, 0].copy()
    for a in range(1, Q.shape[1]):
        np.maximum(best, Q[:, a], out=best)
    return best


def _check_q(Q) -> np.ndarray:
    Q = np.asarray(Q, dtype=float)
    if Q.ndim != 2:
        raise ValueError(f"Q must have shape (S, A); got shape {Q.shape}")
    if np.isnan(Q).any():
        raise ValueError("Q contains NaN")
    return Q
