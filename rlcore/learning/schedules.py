"""Schedules and step sizes of the learning agents (Sutton & Barto, 2nd ed., Sections 2.4–2.7).

Lectures 5–7. A schedule maps a counter to a number: the episode index k = 0, 1, … to ε_k or τ_k
(:class:`LinearDecay`, :class:`ExponentialDecay`), or the visit count n = N(s, a) = 1, 2, … to a
step size α_n (:class:`VisitCountStepSize`: α_n = 1/n^ω, the sample average for ω = 1, S&B
eq. 2.3). A schedule is any callable; these ones also accept numpy arrays of counters (one per
run of :func:`rlcore.train_lockstep`). lmenv's DQN decays its ε with :class:`LinearDecay` too.
The behaviour policies themselves (ε-greedy, softmax) are in :mod:`rlcore.exact.policies`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rlcore import _checks



# ---------------------------------------------------------------------- schedules
@dataclass(frozen=True)
class LinearDecay:
    """x_k = start + (end − start)·min(k / duration, 1): linear from ``start`` to ``end`` over
    ``duration`` counts, then constant at ``end``.

    Example: ``LinearDecay(1.0, 0.05, 500)`` as ε over 500 episodes.
    """

    start: float  # value at k = 0
    end: float  # value from k = duration on
    duration: int  # number of counts (episodes) over which the value moves

    def __post_init__(self):
        _checks.number(self.start, "LinearDecay start")
        _checks.number(self.end, "LinearDecay end")
        _checks.number(self.duration, "LinearDecay duration", 0.0, None, low_open=True, meaning="counts to go from start to end")

    def __call__(self, k):
        return self.start + (self.end - self.start) * np.minimum(np.asarray(k) / self.duration, 1.0)


@dataclass(frozen=True)
class ExponentialDecay:
    """x_k = end + (start − end)·rate^k: geometric approach from ``start`` to ``end``."""

    start: float  # value at k = 0
    end: float  # limit as k → ∞
    rate: float  # per-count factor in (0, 1]; the gap to ``end`` halves every log(2)/(−log rate) counts

    def __post_init__(self):
        _checks.number(self.start, "ExponentialDecay start")
        _checks.number(self.end, "ExponentialDecay end")
        _checks.number(self.rate, "ExponentialDecay rate", 0.0, 1.0, low_open=True, meaning="the factor per count")

    def __call__(self, k):
        return self.end + (self.start - self.end) * np.power(self.rate, np.asarray(k, dtype=float))


@dataclass(frozen=True)
class VisitCountStepSize:
    """α_n = scale / n^power with n = N(s, a), the number of updates of that entry so far (this one
    included).

    ``power=1, scale=1`` gives 1/n, the sample average (S&B eq. 2.3); any power in (0.5, 1]
    satisfies the Robbins–Monro conditions Σα = ∞, Σα² < ∞ (S&B eq. 2.7), and a power near 0.8 is
    the usual choice for Q-learning, where 1/n converges very slowly (Even-Dar & Mansour 2003).
    """

    power: float = 1.0  # ω in α_n = scale / n^ω
    scale: float = 1.0  # α_1 (the first update of an entry)

    def __post_init__(self):
        _checks.number(self.power, "VisitCountStepSize power", 0.0, None, low_open=True, meaning="ω in α_n = scale / n^ω")
        _checks.number(self.scale, "VisitCountStepSize scale", 0.0, 1.0, low_open=True, meaning="the first step size α_1")

    def __call__(self, n):
        return self.scale / n**self.power  # n: a count ≥ 1, or an array of counts


def check_epsilon(epsilon, where: str = "epsilon") -> None:
    """Raise ValueError unless ε (a number, or a schedule's value; an array of them for N runs) lies in [0, 1]."""
    _check_values(epsilon, where, 0.0, 1.0, False, "a probability of exploring")


def check_temperature(temperature, where: str = "temperature") -> None:
    """Raise ValueError unless τ (a number, or a schedule's value) is positive and finite."""
    _check_values(temperature, where, 0.0, None, True, "the softmax temperature τ")


def check_alpha(alpha, where: str = "alpha") -> None:
    """Raise ValueError unless the step size α lies in (0, 1]."""
    _check_values(alpha, where, 0.0, 1.0, True, "the step size α")


def _check_values(value, name, low, high, low_open, meaning):
    """:func:`rlcore._checks.number` for a number, or for every entry of an array of them."""
    if isinstance(value, np.ndarray) and value.ndim > 0:
        array = _checks.real_array(value, name, finite=False)
        inside = np.isfinite(array) & (array > low if low_open else array >= low)
        if high is not None:
            inside &= array <= high
        if not inside.all():
            bad = array[~inside].ravel()[0]
            _checks.number(float(bad), name, low, high, low_open=low_open, meaning=meaning)  # raises, worded as for one
        return
    _checks.number(value, name, low, high, low_open=low_open, meaning=meaning)


def as_schedule(value, name: str, check: Callable) -> tuple[float | None, Callable | None]:
    """Split a constant-or-schedule argument into (constant, None) or (None, schedule).

    The schedule is checked at k = 0 here and at every counter it is evaluated at later.
    """
    if callable(value):
        check(value(0), f"{name} schedule at k = 0")
        return None, value
    check(value, name)
    return float(value), None


def as_step_size(alpha) -> tuple[float | None, Callable | None]:
    """α as (constant, None) or (None, visit-count schedule); ``"1/n"`` means the sample average."""
    if isinstance(alpha, str):
        if alpha.replace(" ", "") != "1/n":
            raise ValueError(f"alpha must be a number in (0, 1] (the step size α), '1/n' or a callable of the visit "
                             f"count; got {alpha!r}")
        return None, VisitCountStepSize(1.0)
    if callable(alpha):
        check_alpha(alpha(1), "alpha schedule at n = 1")
        return None, alpha
    check_alpha(alpha)
    return float(alpha), None
