"""Argument checks shared by every public function: one rule and one wording for each kind of argument.

- A **number** is an int, a float or a numpy real scalar — not a bool, not a string (``"0.5"`` is
  text, not a number), not a complex number (its imaginary part would be lost). It must be finite
  unless the range allows infinity, and inside the stated range.
- A **whole number** (counts, horizons, limits) is an int or numpy integer, or a float with no
  fractional part (``1e3``); ``2.5`` is refused rather than rounded.
- An **array** of numbers is converted with numpy only after checking that it is not ragged, not
  complex and not text, and it must be finite.

Every message reads ``"<name> must be <what>; got <value>"``.
"""

from __future__ import annotations

import numbers

import numpy as np


def number(value, name: str, low: float | None = None, high: float | None = None, *, low_open: bool = False,
           high_open: bool = False, meaning: str = "") -> float:
    """``value`` as a float, or ValueError unless it is a real number inside the interval.

    Args:
        value: the argument.
        name: its name in the message (for example ``"alpha"`` or ``"epsilon schedule at episode 3"``).
        low, high: the ends of the interval (None: unbounded).
        low_open, high_open: whether an end is excluded.
        meaning: what the number is, added in brackets (``"the step size α"``).
    """
    what = _interval(low, high, low_open, high_open) + (f" ({meaning})" if meaning else "")
    if not is_real(value):
        raise ValueError(f"{name} must be {what}; got {value!r}")
    x = float(value)
    inside = (np.isfinite(x) or (x == np.inf and high is None) or (x == -np.inf and low is None)) and not np.isnan(x)
    if low is not None:
        inside = inside and (x > low if low_open else x >= low)
    if high is not None:
        inside = inside and (x < high if high_open else x <= high)
    if not inside:
        raise ValueError(f"{name} must be {what}; got {value!r}")
    return x


def whole(value, name: str, minimum: int | None = 0, *, meaning: str = "") -> int:
    """``value`` as an int, or ValueError unless it is a whole number ≥ ``minimum``."""
    what = "a whole number" + ("" if minimum is None else f" ≥ {minimum}") + (f" ({meaning})" if meaning else "")
    if not is_real(value) or not np.isfinite(float(value)) or float(value) != int(float(value)):
        raise ValueError(f"{name} must be {what}; got {value!r}")
    n = int(float(value)) if not isinstance(value, (int, np.integer)) else int(value)
    if minimum is not None and n < minimum:
        raise ValueError(f"{name} must be {what}; got {value!r}")
    return n


def is_real(value) -> bool:
    """True for ints, floats and numpy real scalars (and 0-d real arrays); False for bools, strings, complex numbers."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, (bool, np.bool_)):
        return False
    return isinstance(value, numbers.Real)


def real_array(value, name: str, *, finite: bool = True) -> np.ndarray:
    """``value`` as a float array, or ValueError naming the problem: ragged nesting, text,
    complex entries (not silently dropped), or NaN/inf (with ``finite``)."""
    if isinstance(value, np.ndarray):
        array = value
    else:
        try:
            array = np.asarray(value)
        except ValueError:  # numpy refuses ragged nested sequences
            raise ValueError(f"{name} must be a rectangular array of numbers; got a ragged nested sequence") from None
        if array.dtype == object:
            raise ValueError(f"{name} must be a rectangular array of numbers; got a ragged nested sequence "
                             "or entries that are not numbers")
    if array.dtype.kind == "c":
        raise ValueError(f"{name} must be an array of real numbers; got complex entries (dtype {array.dtype})")
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be an array of real numbers; got dtype {array.dtype}")
    array = array.astype(float, copy=False)
    if finite and not np.isfinite(array).all():
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise ValueError(f"{name}{list(index)} = {array[index]} is not finite (NaN or inf)")
    return array


def _interval(low, high, low_open, high_open) -> str:
    if low is None and high is None:
        return "a finite number"
    if high is None:
        if low == 0:
            return "a positive number" if low_open else "a non-negative number"
        return f"a number {'>' if low_open else '≥'} {_fmt(low)}"
    if low is None:
        return f"a number {'<' if high_open else '≤'} {_fmt(high)}"
    return f"a number in {'(' if low_open else '['}{_fmt(low)}, {_fmt(high)}{')' if high_open else ']'}"


def _fmt(x) -> str:
    return f"{x:g}"
