"""What every check shares: the failures it raises, the checks of its own arguments, running a
student's function under a time limit, and the report of a battery of cases.

Two kinds of error, kept apart on purpose:

- :class:`CheckFailed` (an ``AssertionError``) — the *student's answer* is wrong, malformed, or the
  student's function raised or ran out of time. Its message names the state, the action, the
  expected and received values and, where it helps, the backup written out term by term.
- ``TypeError`` / ``ValueError`` — the check itself was called wrongly (an MDP that is not an
  ``rlcore.MDP``, a reference policy that is not a distribution): a mistake of whoever wrote the
  check cell, not of the student.
"""

from __future__ import annotations

import signal
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from rlcore import _checks
from rlcore.exact.model import MDP, PROBABILITY_ATOL
from rlcore.explain import display_name

DEFAULT_TIME_LIMIT = 10.0  # seconds a student's function may run on one case


# ---------------------------------------------------------------------- failures
class CheckFailed(AssertionError):
    """The student's answer is wrong. The message says where, by how much, and why if it can tell.

    Attributes (None where they do not apply):
        state: the index of the state the message is about.
        action: the index of the action.
        expected: the exact answer there.
        received: the student's value there.
        diagnosis: a sentence naming the likely mistake, when one of the known mistakes reproduces the answer.
        case: the name of the case of a battery (an MDP, a kind of transition).
    """

    def __init__(self, message: str, *, state=None, action=None, expected=None, received=None,
                 diagnosis: str | None = None, case: str | None = None):
        super().__init__(message)
        self.message = message
        self.state, self.action = state, action
        self.expected, self.received = expected, received
        self.diagnosis, self.case = diagnosis, case

    def __str__(self) -> str:
        return self.message

    @classmethod
    def from_lines(cls, lines, *, diagnosis: str | None = None, **fields) -> "CheckFailed":
        """The failure whose message is ``lines``, one per line, led by "Likely mistake: …" when diagnosed."""
        lines = ([f"Likely mistake: {diagnosis}"] if diagnosis else []) + list(lines)
        return cls("\n".join(lines), diagnosis=diagnosis, **fields)


class MalformedAnswer(CheckFailed):
    """The answer has the wrong type or shape, holds NaN or inf, or is not a distribution."""


class StudentCodeError(CheckFailed):
    """The student's function raised an exception or ran past its time limit.

    Attributes:
        error: the exception it raised (None for a time-out).
        timed_out: whether it ran past the time limit.
    """

    def __init__(self, message: str, *, error: BaseException | None = None, timed_out: bool = False, **kwargs):
        super().__init__(message, **kwargs)
        self.error, self.timed_out = error, timed_out


# ---------------------------------------------------------------------- names and numbers
def sname(mdp, s: int) -> str:
    """The name of state s as printed in a message."""
    return display_name(mdp.state_names[int(s)])


def aname(mdp, a: int) -> str:
    return display_name(mdp.action_names[int(a)])


def num(x, digits: int = 4) -> str:
    """A number as printed in a message: ``digits`` decimals, or scientific notation for tiny or huge numbers."""
    x = float(x)
    if x != 0 and (abs(x) < 10 ** (-digits) or abs(x) >= 1e7):
        return f"{x:.{digits - 1}e}"
    text = f"{x:.{digits}f}"
    return "0." + "0" * digits if text.lstrip("-") == "0." + "0" * digits else text


def signed(x, digits: int = 4) -> str:
    """:func:`num`, in brackets when negative (for a term inside a formula: ``0.9·(-0.1468)``)."""
    text = num(x, digits)
    return f"({text})" if text.startswith("-") else text


def close(a, b, atol: float, rtol: float):
    """|a − b| ≤ atol + rtol·|b| elementwise (b is the exact answer)."""
    return np.abs(np.asarray(a, dtype=float) - np.asarray(b, dtype=float)) <= atol + rtol * np.abs(b)


def tolerance_text(atol: float, rtol: float) -> str:
    return f"|received − expected| ≤ {atol:g} + {rtol:g}·|expected|"


# ---------------------------------------------------------------------- arguments of the check (not the student's)
def require_mdp(mdp, name: str = "mdp") -> MDP:
    if not isinstance(mdp, MDP):
        raise TypeError(f"{name} must be an rlcore.MDP; got {type(mdp).__name__}. "
                        "(Build one with rlcore.MDP(P, R, gamma) or take one from rlcore.mdps.)")
    return mdp


def require_policy(mdp, policy, name: str = "policy") -> np.ndarray:
    """A policy given to the check (not the student's answer): ValueError unless it is an (S, A) distribution."""
    pi = _checks.real_array(policy, name)
    if pi.shape != (mdp.n_states, mdp.n_actions):
        raise ValueError(f"{name} must have shape (S, A) = ({mdp.n_states}, {mdp.n_actions}); got {pi.shape}")
    problem = distribution_problem(mdp, pi)
    if problem:
        raise ValueError(f"{name} must give each state a distribution over the actions: {problem}")
    return pi


def require_number(value, name: str, low=None, high=None, **kwargs) -> float:
    return _checks.number(value, name, low, high, **kwargs)


def distribution_problem(mdp, pi: np.ndarray) -> str:
    """'' if every row of pi is a distribution over the actions, else what is wrong with the first bad row."""
    negative = np.argwhere(pi < 0)
    if negative.size:
        s, a = negative[0]
        return f"π({aname(mdp, a)}|{sname(mdp, s)}) = {pi[s, a]:g} is negative"
    sums = pi.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > 1e3 * PROBABILITY_ATOL)
    if bad.size:
        s = bad[0]
        return f"the probabilities at state {sname(mdp, s)} sum to {sums[s]:.6g}, not 1 ({bad.size} state(s) are off)"
    return ""


# ---------------------------------------------------------------------- the student's answer
def answer_array(value, name: str, shape: tuple, meaning: str, case: str | None = None) -> np.ndarray:
    """The student's answer as a float array of ``shape``, or MalformedAnswer saying what is wrong with it."""
    where = f" (case {case})" if case else ""
    if value is None:
        raise MalformedAnswer(f"{name} is None{where}: expected {meaning}, an array of shape {shape}. "
                              "Did your function forget to return it?", case=case)
    if isinstance(value, (str, bytes, dict, set)) or callable(value):
        raise MalformedAnswer(f"{name} must be {meaning}, an array of shape {shape}; got a {type(value).__name__}{where}",
                              case=case)
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value)
    except Exception:
        raise MalformedAnswer(f"{name} must be {meaning}, an array of shape {shape}; got a ragged {type(value).__name__}{where}",
                              case=case) from None
    if array.dtype == object or array.dtype.kind not in "biuf":
        kind = "complex numbers" if array.dtype.kind == "c" else f"entries of type {array.dtype}"
        raise MalformedAnswer(f"{name} must be {meaning}, an array of real numbers of shape {shape}; got {kind}{where}",
                              case=case)
    if array.shape != tuple(shape):
        hint = ""
        if array.size == int(np.prod(shape)) and array.shape != tuple(shape):
            hint = f" (it has the right number of entries: reshape it to {shape})"
        elif array.ndim == 0:
            hint = " (a single number: return one entry per state" + (" and action)" if len(shape) == 2 else ")")
        raise MalformedAnswer(f"{name} must be {meaning}, shape {shape}; got shape {array.shape}{hint}{where}", case=case)
    array = array.astype(float)
    if not np.all(np.isfinite(array)):
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise MalformedAnswer(f"{name}{list(index)} = {array[index]} is not a finite number (NaN or inf){where}: "
                              "a division by zero, an overflow, or a value that was never filled in?", case=case)
    return array


def answer_policy(mdp, policy, name: str = "policy", case: str | None = None) -> np.ndarray:
    """The student's policy: an (S, A) distribution, or MalformedAnswer."""
    pi = answer_array(policy, name, (mdp.n_states, mdp.n_actions), "π(a|s), one row per state", case)
    problem = distribution_problem(mdp, pi)
    if problem:
        raise MalformedAnswer(f"{name} must give each state a distribution over the actions: {problem}"
                              + (f" (case {case})" if case else ""), case=case)
    return pi


# ---------------------------------------------------------------------- diagnoses
def diagnose(received, expected, candidates, atol: float, rtol: float) -> str | None:
    """The message of the first candidate mistake that reproduces ``received`` (and differs from ``expected``).

    Args:
        candidates: (message, thunk) pairs; each thunk computes what a student making that mistake
            would have returned. A thunk that raises or returns the wrong shape is skipped.
    """
    received = np.asarray(received, dtype=float)
    for message, thunk in candidates:
        try:
            wrong = np.asarray(thunk(), dtype=float)
        except Exception:
            continue
        if wrong.shape != received.shape or not np.all(np.isfinite(wrong)):
            continue
        if np.all(close(received, wrong, atol, rtol)) and not np.all(close(wrong, expected, atol, rtol)):
            return message
    return None


# ---------------------------------------------------------------------- running the student's function
class _TimeUp(BaseException):
    """Raised inside the student's function when its time is up (a BaseException, so that an
    ``except Exception`` in the student's code cannot swallow it)."""


def call_student(fn: Callable, args: tuple, *, name: str, time_limit: float | None, case: str | None = None):
    """``fn(*args)``; StudentCodeError (a CheckFailed) if it raises or runs past ``time_limit`` seconds.

    In the main thread of a Unix process the time limit interrupts the function (SIGALRM); elsewhere
    the function runs in a helper thread that is abandoned when its time is up.
    """
    where = f" on case {case}" if case else ""
    if time_limit is None:
        return _call(fn, args, name, where, case)
    time_limit = _checks.number(time_limit, "time_limit", 0.0, None, low_open=True, meaning="seconds")
    if hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread():
        return _call_with_alarm(fn, args, name, where, case, time_limit)
    return _call_in_thread(fn, args, name, where, case, time_limit)


def _call(fn, args, name, where, case):
    try:
        return fn(*args)
    except _TimeUp:
        raise
    except Exception as error:
        raise StudentCodeError(_raised_message(error, name, where, args), error=error, case=case) from error


def _timeout_message(name, where, limit):
    return (f"{name} did not finish within {limit:g} s{where}: an infinite loop, a stopping rule that is never met "
            "(is the change measured after the update?), or far too many sweeps?")


def _call_with_alarm(fn, args, name, where, case, limit):
    def handler(signum, frame):
        raise _TimeUp()

    previous = signal.signal(signal.SIGALRM, handler)
    old_delay, old_interval = signal.setitimer(signal.ITIMER_REAL, limit)
    start = time.monotonic()
    try:
        return _call(fn, args, name, where, case)
    except _TimeUp:
        raise StudentCodeError(_timeout_message(name, where, limit), timed_out=True, case=case) from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if old_delay:  # someone else's timer was running: give it back what is left of it
            signal.setitimer(signal.ITIMER_REAL, max(old_delay - (time.monotonic() - start), 1e-3), old_interval)


def _call_in_thread(fn, args, name, where, case, limit):
    outcome = {}

    def target():
        try:
            outcome["value"] = _call(fn, args, name, where, case)
        except BaseException as error:  # handed to the calling thread
            outcome["error"] = error

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(limit)
    if worker.is_alive():
        raise StudentCodeError(_timeout_message(name, where, limit), timed_out=True, case=case)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _raised_message(error: BaseException, name: str, where: str, args) -> str:
    frames = traceback.extract_tb(error.__traceback__)[1:]  # drop our own frame
    place = ""
    if frames:
        last = frames[-1]
        line = f": {last.line.strip()}" if last.line else ""
        place = f"\n  at line {last.lineno} of {last.name}{line}"
    hint = ""
    if isinstance(error, NotImplementedError):
        hint = "\n  (the exercise is not done yet: replace `raise NotImplementedError()` with your code)"
    elif any(isinstance(a, MDP) and a.is_sparse for a in args) and isinstance(error, (TypeError, IndexError, ValueError)):
        hint = ("\n  This case's MDP is sparse: mdp.P is a tuple of A scipy.sparse (S, S) matrices, not an (S, A, S) array. "
                "(mdp.P_flat @ V).reshape(S, A) gives Σ_s' p(s'|s,a) V(s') for dense and sparse MDPs alike.")
    elif isinstance(error, ValueError) and any(isinstance(a, MDP) for a in args) and any(
            word in str(error) for word in ("matmul", "broadcast", "shapes", "aligned")):
        mdp = next(a for a in args if isinstance(a, MDP))
        hint = (f"\n  A shape mismatch. In this case S = {mdp.n_states} and A = {mdp.n_actions}: mdp.P is (S, A, S) "
                "(mdp.P_flat is (S·A, S)), mdp.R and a policy π are (S, A), V is (S,). The sum over next states pairs "
                "p(s'|s, a) with V(s'); π(a|s) weighs the actions afterwards, and P and π are not interchangeable.")
    return f"{name} raised {type(error).__name__}{where}: {error}{place}{hint}"


# ---------------------------------------------------------------------- a battery's report
@dataclass
class CaseResult:
    """One case of a battery: its name, whether it passed, and the failure message if not."""

    name: str
    passed: bool
    message: str = ""
    failure: CheckFailed | None = field(default=None, repr=False)


@dataclass
class CheckReport:
    """What a ``check_*`` function found: one :class:`CaseResult` per case.

    ``bool(report)`` and ``report.passed`` are True when every case passed; ``str(report)`` lists
    the cases and writes out the first failure in full.
    """

    check: str
    cases: list[CaseResult]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.cases)

    @property
    def failures(self) -> list[CaseResult]:
        return [c for c in self.cases if not c.passed]

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        n, ok = len(self.cases), sum(c.passed for c in self.cases)
        lines = [f"{self.check}: {ok} of {n} cases pass"]
        for c in self.cases:
            first = c.message.strip().splitlines()[0] if c.message else ""
            first = first.replace(f" on case {c.name}", "").replace(f" (case {c.name})", "")
            lines.append(f"  {'✓' if c.passed else '✗'} {c.name}" + ("" if c.passed else f" — {first}"))
        failures = self.failures
        if failures:
            shown = next((c for c in failures if c.failure is not None and c.failure.diagnosis), failures[0])
            lines += ["", f"First failure in full ({shown.name}):", shown.message]
        return "\n".join(lines)

    def _repr_pretty_(self, printer, cycle):  # IPython shows the text, not the dataclass fields
        printer.text(str(self))

    def __repr__(self) -> str:
        return str(self)

    def raise_for_failures(self) -> CheckReport:
        """Raise :class:`CheckFailed` with this report as its message unless every case passed."""
        if not self.passed:
            first = next((c.failure for c in self.failures if c.failure is not None and c.failure.diagnosis), None)
            raise CheckFailed(str(self), diagnosis=None if first is None else first.diagnosis,
                              case=self.failures[0].name)
        return self


def run_cases(check: str, cases, run_one: Callable[[object], None], raise_on_failure: bool) -> CheckReport:
    """Run ``run_one(case)`` for every case; a CheckFailed marks the case failed. Other exceptions are
    the check's own errors and propagate."""
    results = []
    timed_out = None
    for case in cases:
        if timed_out is not None:  # one time-out is enough: do not wait the time limit out on every case
            results.append(CaseResult(case.name, False, f"not run: the function ran out of time on {timed_out}"))
            continue
        try:
            run_one(case)
        except CheckFailed as failure:
            results.append(CaseResult(case.name, False, str(failure), failure))
            if isinstance(failure, StudentCodeError) and failure.timed_out:
                timed_out = case.name
        else:
            results.append(CaseResult(case.name, True))
    report = CheckReport(check, results)
    return report.raise_for_failures() if raise_on_failure else report
