"""Policies: probability distributions over actions, with the actions on the last axis (Sutton & Barto, 2nd ed., Sections 2.2–2.3, 3.5, 5.4, 13.1).

Lectures 2–6. π(a|s) is stored with the actions on the last axis: one state (A,), a policy
table (S, A), a batch of runs (N, A), or the states of a batch of token sequences (B, T, A).
The same functions serve the exact solvers (π as an (S, A) table), the learning agents and
their many-run lockstep runner (behaviour policies), and lmenv's transformer policies — numpy
arrays and torch tensors alike (through the array API, ``array_api_compat``), with gradients
flowing through torch.

Three distributions, each built from action values q:

    greedy        π(a) = 1/|argmax q| on the actions within ``TIE_ATOL`` of max_a q, else 0  (S&B eq. 4.9)
    ε-greedy      π(a) = (1 − ε)·greedy(q)(a) + ε/A                                          (S&B Section 5.4)
    Boltzmann     π(a) ∝ π_ref(a)·exp(q(a)/τ)        (softmax; π_ref ≡ 1 without a reference) (S&B eqs. 2.11, 13.2)

Ties are split evenly, so the greedy policy of Q* shows *every* optimal action (S&B Figure 3.5),
and a draw from it breaks ties uniformly at random — never "always the first action", which
would bias a table whose entries start equal. With a reference policy the Boltzmann policy is the
optimum of the KL-regularised objective (:func:`rlcore.soft_optimal_policy`); then τ is the
weight ``kl_coef`` of the KL term, otherwise τ is the exploration ``temperature``.

Each distribution has its probabilities (``*_policy``) and log-probabilities (``*_log_policy``)
over the last axis, and is drawn from in two ways that follow the same definition:

- for a batch of states, with uniform numbers ``u`` given by the caller (:func:`sample`,
  :func:`sample_epsilon_greedy`), as the lockstep runner does;
- for one state, on a Python list of action values with a ``random()`` callable
  (:func:`draw_greedy`, :func:`draw_epsilon_greedy`, :func:`draw_softmax`, :func:`draw`): the
  per-step path of an agent, several times faster than numpy on one short row.

The tests check that the draws follow the probabilities.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable

import numpy as np
from array_api_compat import array_namespace

from rlcore import _checks
from rlcore.exact.model import PROBABILITY_ATOL

TIE_ATOL = 1e-9  # action values closer than this to the maximum count as tied


# ---------------------------------------------------------------------- policy tables
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


# ---------------------------------------------------------------------- probabilities
def greedy_policy(q, atol: float = TIE_ATOL):
    """π(a) = 1/|argmax| on the maximising actions of q, 0 elsewhere (S&B eq. 4.9).

    Args:
        q: action values, shape (..., A) (an (S, A) table gives the greedy policy table).
        atol: values within ``atol`` of the maximum are ties and share the probability.

    Returns:
        π, the shape of q.
    """
    q, xp = _values(q)
    best = q >= max_over_actions(q, keepdims=True) - atol
    best = xp.astype(best, q.dtype)
    return best / xp.sum(best, axis=-1, keepdims=True)


def epsilon_greedy_policy(q, epsilon):
    """π = (1 − ε)·greedy(q) + ε/A (S&B Sections 2.2 and 5.4), the shape of q (..., A).

    Every action keeps probability at least ε/A; greedy ties share the 1 − ε. ``epsilon`` is a
    number in [0, 1] or one per state, shape (...).
    """
    q, xp = _values(q)
    epsilon = _check_epsilon(epsilon, xp, q)
    return (1.0 - epsilon) * greedy_policy(q) + epsilon / q.shape[-1]


def epsilon_greedy_log_policy(q, epsilon):
    """log of :func:`epsilon_greedy_policy` (−inf for the actions a greedy policy never takes)."""
    q, xp = _values(q)
    with np.errstate(divide="ignore"):
        return xp.log(epsilon_greedy_policy(q, epsilon))


def softmax_policy(q, temperature, reference=None, *, log_reference=None):
    """Boltzmann policy π(a) ∝ π_ref(a)·exp(q(a)/τ) (S&B eqs. 2.11 and 13.2), the shape of q (..., A).

    Without a reference π_ref ≡ 1 (plain softmax). With one it is the optimal policy of the
    KL-regularised objective with weight τ = ``kl_coef`` (see :func:`rlcore.soft_v_from_q`).
    Actions with π_ref(a) = 0 get probability 0.

    Args:
        q: action values (or logits), shape (..., A).
        temperature: τ > 0, a number or one per state, shape (...).
        reference: optional π_ref, the shape of q.
        log_reference: log π_ref instead of ``reference`` (−inf where π_ref = 0).
    """
    q, xp = _values(q)
    return xp.exp(softmax_log_policy(q, temperature, reference, log_reference=log_reference))


def softmax_log_policy(q, temperature, reference=None, *, log_reference=None):
    """log π(a) = log π_ref(a) + q(a)/τ − log Σ_b π_ref(b) exp(q(b)/τ), computed stably (−inf where π_ref = 0)."""
    q, xp = _values(q)
    logits = _soft_logits(q, temperature, reference, log_reference)
    if hasattr(logits, "log_softmax"):  # torch: one fused kernel
        return logits.log_softmax(dim=-1)
    return logits - _logsumexp(logits, xp)


def soft_maximum(q, temperature, reference=None, *, log_reference=None):
    """τ log Σ_a π_ref(a) exp(q(a)/τ), the soft maximum over the last axis, shape q.shape[:-1].

    Computed stably as a log-sum-exp; it tends to max_a q(a) (over the support of π_ref) as τ → 0.
    It is the normaliser of :func:`softmax_policy`: log π(a) = log π_ref(a) + (q(a) − soft_maximum)/τ.
    """
    q, xp = _values(q)
    if isinstance(q, np.ndarray):  # shifted by the largest supported q, so that q/τ cannot overflow
        top, logits = _shifted_logits(q, temperature, reference, log_reference)
        total = _logsumexp(logits, xp)[..., 0]
        return top + _as_array(temperature, xp, q)[..., 0] * total if np.ndim(temperature) else top + float(temperature) * total
    logits = _soft_logits(q, temperature, reference, log_reference)
    total = logits.logsumexp(dim=-1) if hasattr(logits, "logsumexp") else _logsumexp(logits, xp)[..., 0]  # torch: fused
    temperature = _as_array(temperature, xp, q)
    return (temperature if isinstance(temperature, float) else temperature[..., 0]) * total


def _soft_logits(q, temperature, reference=None, log_reference=None):
    """q/τ + log π_ref, the shape of q, with −inf where π_ref = 0 (the argument of every softmax here).

    For numpy, q is first shifted by its largest value where π_ref > 0 (softmax does not change),
    so that a tiny τ gives the greedy limit instead of overflowing to inf − inf; a row whose
    values are all −inf is read as all equal (as :func:`greedy_policy` reads it: every action tied).
    """
    if isinstance(q, np.ndarray):
        return _shifted_logits(q, temperature, reference, log_reference)[1]
    q, xp = _values(q)
    temperature = _check_positive(temperature, xp, q)
    logits = q / temperature
    if reference is not None:
        if log_reference is not None:
            raise ValueError("give reference or log_reference, not both")
        log_reference = xp.log(reference)
    if log_reference is not None:
        logits = logits + log_reference
    return logits


def _shifted_logits(q, temperature, reference, log_reference):
    """(top, (q − top)/τ + log π_ref) for numpy q, with top the largest q where π_ref > 0 (0 where none is finite)."""
    q, xp = _values(q)
    temperature = _check_positive(temperature, xp, q)
    if reference is not None:
        if log_reference is not None:
            raise ValueError("give reference or log_reference, not both")
        reference = np.asarray(reference, dtype=float)
        if reference.shape != q.shape:
            raise ValueError(f"reference policy must have the shape of q {q.shape}; got {reference.shape}")
        if q.ndim == 2:
            check_policy(reference, *q.shape)
        with np.errstate(divide="ignore"):
            log_reference = np.log(reference)
    supported = q if log_reference is None else np.where(np.isneginf(log_reference), -np.inf, q)
    top = max_over_actions(supported, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(invalid="ignore", over="ignore"):  # a tiny τ may send (q − top)/τ to −inf: the greedy limit
        shifted = np.where(np.isneginf(supported).all(axis=-1, keepdims=True) & np.isneginf(q), 0.0, q - top)
        logits = shifted / temperature
    if log_reference is not None:
        logits = logits + log_reference
    return top[..., 0], logits


def max_over_actions(q, keepdims: bool = False):
    """max_a q[..., a]: the same numbers as ``q.max(axis=-1)``, column by column for short rows of numpy tables.

    numpy reduces each short row of an (S, A) array separately: for A = 2 ``Q.max(axis=1)`` takes
    ~35 ns a state, 20–40× the cost of A − 1 vectorised ``np.maximum`` calls over the columns.
    """
    if type(q) is np.ndarray and q.ndim == 1 and 0 < q.size <= 32 and not keepdims:
        values = q.tolist()  # one state's row, at every step of a run: ~4× faster than q.max()
        total = sum(values)
        if total == total:  # no NaN (nor both +inf and −inf): Python's max is numpy's
            return max(values)
        return q.max()  # numpy's NaN propagation
    if type(q) is np.ndarray and q.ndim == 2 and 1 < q.shape[1] <= 32:
        best = np.maximum(q[:, 0], q[:, 1])
        for a in range(2, q.shape[1]):
            np.maximum(best, q[:, a], out=best)
        return best[:, None] if keepdims else best
    if isinstance(q, (list, tuple)):
        q = np.asarray(q, dtype=float)
    if isinstance(q, np.ndarray):
        return q.max(axis=-1, keepdims=keepdims)
    xp = array_namespace(q)
    return xp.max(q, axis=-1, keepdims=keepdims)


# ---------------------------------------------------------------------- drawing for a batch of states
def sample(probs, u) -> np.ndarray:
    """Actions drawn from π (..., A) by inverting each row's cumulative distribution at u (...).

    The action is the first a with Σ_{b≤a} π(b) > u (the last action if rounding leaves the sum
    short of u). ``u`` holds uniform numbers in [0, 1), one per row.
    """
    cdf = np.cumsum(probs, axis=-1)
    return np.minimum((cdf <= np.asarray(u)[..., None]).sum(axis=-1), cdf.shape[-1] - 1)


def sample_epsilon_greedy(q, epsilon, u, explore=None) -> np.ndarray:
    """Actions drawn from the ε-greedy policy of q (N, A), from uniforms u (N, A + 1).

    Among the candidates — the tied greedy actions, or all A actions when u[:, A] < ε — the one
    with the largest u[:, :A] wins: a uniform choice among them (u > 0 almost surely, so a
    non-candidate, scored 0, never wins). ``epsilon`` is a number or one per row, shape (N,);
    ``explore`` (N, 1), if given, is ``u[:, A:] < ε`` computed beforehand, and then u may be
    just its first A columns.
    """
    A = q.shape[-1]
    candidates = q >= max_over_actions(q, keepdims=True) - TIE_ATOL
    if explore is None:
        explore = u[:, A:] < (epsilon if np.ndim(epsilon) == 0 else epsilon[:, None])
    candidates |= explore
    return (candidates * u[:, :A]).argmax(axis=-1)


def sample_softmax(q, temperature, u) -> np.ndarray:
    """Actions drawn from π ∝ exp(q/τ), q (N, A), by inverting each row's CDF at u[:, 0]."""
    return sample(softmax_policy(q, np.asarray(temperature)), u[:, 0])


# ---------------------------------------------------------------------- drawing for one state
def draw(cdf: list, u: float) -> int:
    """The index i with cdf[i−1] ≤ u·cdf[−1] < cdf[i]: a draw by inverting the cumulative sums ``cdf``."""
    return min(bisect_right(cdf, u * cdf[-1]), len(cdf) - 1)


def draw_greedy(q: list, random: Callable[[], float]) -> int:
    """argmax_a q[a], ties (within TIE_ATOL) broken uniformly at random.

    Args:
        q: action values of one state, a list of A floats.
        random: a source of uniform [0, 1) numbers (``numpy.random.Generator.random``); called
            once when there is a tie, never otherwise.
    """
    best = max(q) - TIE_ATOL
    ties = [a for a, value in enumerate(q) if value >= best]
    if len(ties) == 1:
        return ties[0]
    if not ties:  # max() met a NaN
        raise ValueError(f"action values contain NaN: {q}")
    return ties[int(random() * len(ties))]


def draw_epsilon_greedy(q: list, epsilon: float, random: Callable[[], float]) -> int:
    """With probability ε a uniformly random action, else the greedy one (random ties)."""
    if random() < epsilon:
        return int(random() * len(q))
    return draw_greedy(q, random)


def draw_softmax(q: list, temperature: float, random: Callable[[], float]) -> int:
    """An action drawn from π(a) ∝ exp(q[a]/τ) by inverting the CDF with one uniform number."""
    top = max(q)
    if top != top or top == math.inf:
        raise ValueError(f"action values contain NaN or +inf: {q}")
    if top == -math.inf:  # every value −inf: all tied, as the greedy policy reads them
        return int(random() * len(q))
    weights = [math.exp((value - top) / temperature) for value in q]
    threshold = random() * sum(weights)
    cumulative = 0.0
    for a, weight in enumerate(weights):
        cumulative += weight
        if threshold < cumulative:
            return a
    return len(q) - 1  # only reached through rounding in the last addition


# ---------------------------------------------------------------------- helpers
def _values(q):
    """(q as an array of its namespace, the namespace); numpy for lists; ValueError for NaN."""
    if isinstance(q, (list, tuple)) or np.isscalar(q):
        q = np.asarray(q, dtype=float)
    xp = array_namespace(q)
    if q.ndim < 1:
        raise ValueError(f"action values must have the actions on a last axis; got shape {tuple(q.shape)}")
    if isinstance(q, np.ndarray):
        if q.dtype.kind == "c":
            raise ValueError(f"action values must be real numbers; got complex entries (dtype {q.dtype})")
        if q.dtype.kind not in "f":
            q = q.astype(float)
        if np.isnan(q).any():
            raise ValueError("action values contain NaN")
        if np.isposinf(q).any():
            raise ValueError("action values contain +inf (did they overflow?)")
    return q, xp


def _as_array(x, xp, like):
    """A number, or one per row (shape like.shape[:-1]), as an array of like's namespace, with a trailing axis."""
    if isinstance(x, (int, float)):
        return float(x)
    if isinstance(like, np.ndarray):
        return np.asarray(x, dtype=float)[..., None]
    return xp.asarray(x, dtype=like.dtype, device=like.device)[..., None]


def _check_epsilon(epsilon, xp, like):
    _check_each(epsilon, "epsilon", 0.0, 1.0, False, "a probability of exploring")
    return _as_array(epsilon, xp, like)


def _check_positive(temperature, xp, like):
    _check_each(temperature, "temperature", 0.0, None, True, "the softmax temperature τ")
    return _as_array(temperature, xp, like)


def _check_each(value, name, low, high, low_open, meaning):
    """:func:`rlcore._checks.number` for a number, or for each entry of a numpy array or tensor of them."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    if isinstance(value, (list, tuple)) or (isinstance(value, np.ndarray) and value.ndim > 0):
        array = _checks.real_array(value, name, finite=False).ravel()
        for x in array[~(np.isfinite(array) & (array > low if low_open else array >= low) & (array <= (np.inf if high is None else high)))][:1]:
            _checks.number(float(x), name, low, high, low_open=low_open, meaning=meaning)
        return
    _checks.number(value, name, low, high, low_open=low_open, meaning=meaning)


def _logsumexp(logits, xp):
    """log Σ_a exp(logits[..., a]) with a trailing axis of length 1, stable for −inf entries."""
    top = xp.max(logits, axis=-1, keepdims=True)
    if isinstance(top, np.ndarray):
        top = np.where(np.isfinite(top), top, 0.0)
    else:
        top = xp.where(xp.isinf(top), xp.zeros_like(top), top)
        top = top.detach() if hasattr(top, "detach") else top
    with np.errstate(divide="ignore"):
        return top + xp.log(xp.sum(xp.exp(logits - top), axis=-1, keepdims=True))
