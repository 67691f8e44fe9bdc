"""The bigram baseline: p(next char | current char) from counts, with additive smoothing.

    p(b | a) = (count(a, b) + alpha) / (count(a) + alpha * V)

Its cross-entropy on held-out text is the number a language model that reads more than one
character of context has to beat. ``docs/lmenv_model.md`` reports both.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def fit_bigram(ids: Sequence[int] | np.ndarray, vocab_size: int, smoothing: float = 1.0) -> np.ndarray:
    """Bigram probabilities from the consecutive pairs of ``ids``.

    Args:
        ids: (N,) token ids.
        vocab_size: V.
        smoothing: alpha > 0 added to every count (1.0 = add-one / Laplace smoothing).
    Returns:
        (V, V) float64 array P with P[a, b] = p(b | a); each row sums to 1.
    """
    if smoothing <= 0:
        raise ValueError(f"smoothing must be > 0, got {smoothing}")
    ids = np.asarray(ids, dtype=np.int64)
    counts = np.bincount(ids[:-1] * vocab_size + ids[1:], minlength=vocab_size * vocab_size)
    counts = counts.reshape(vocab_size, vocab_size).astype(np.float64) + smoothing  # (V, V)
    return counts / counts.sum(axis=1, keepdims=True)


def cross_entropy(probs: np.ndarray, ids: Sequence[int] | np.ndarray) -> float:
    """Mean -ln p(ids[t+1] | ids[t]) over t = 0 .. N-2, in nats (divide by ln 2 for bits)."""
    ids = np.asarray(ids, dtype=np.int64)
    return float(-np.log(probs[ids[:-1], ids[1:]]).mean())
