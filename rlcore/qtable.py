"""The value table of a tabular agent: an array for Discrete observations, a dict otherwise.

With a ``gymnasium.spaces.Discrete(S)`` observation space the table is a numpy array of shape
(S, A) (or (S, 1) for state values), row ``s − start`` for observation ``s``. With any other
observation space — tuples of token ids of varying length, small integer arrays, Blackjack's
tuples — it is a dict keyed by the observation that grows as states are visited. An agent only
ever asks for ``table.row(obs)``, a 1-D numpy array it reads and writes in place, so it does not
care which of the two it is on.

Keys. A hashable observation is its own key. A numpy array of integers or booleans (unhashable)
becomes the tuple of its entries (for ndim ≥ 2, the pair (shape, entries)); a 0-d array its item.
Anything else unhashable (lists, dicts, float arrays) raises ``TypeError`` naming the problem.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces


class Table:
    """Rows of ``width`` values, one per observation, created at ``initial_value`` on first visit.

    Args:
        observation_space: a Gymnasium space. ``Discrete`` gives an (S, width) array; any other
            space a dict. ``None`` also gives a dict.
        width: values per observation (A for action values, 1 for state values).
        initial_value: the value of every entry before its first update (optimistic initial
            values, S&B Section 2.6, when above the true values).
        dtype: numpy dtype of the entries (float for values, int for visit counts).

    Attributes:
        data: the (S, width) array, or the dict ``{key: row}``.
        is_array: True for the array form.
    """

    def __init__(self, observation_space, width: int, initial_value: float = 0.0, dtype=float):
        self.width = int(width)
        self.initial_value = initial_value
        self.dtype = dtype
        self.is_array = isinstance(observation_space, spaces.Discrete)
        if self.is_array:
            self.n = int(observation_space.n)
            self.start = int(observation_space.start)
            self.data = np.full((self.n, self.width), initial_value, dtype=dtype)
            self.row = self._array_row
        else:
            self.data = {}
            self.row = self._dict_row

    def _array_row(self, obs) -> np.ndarray:
        """Row of observation ``obs`` of a Discrete space: a view into ``data``."""
        s = obs - self.start
        if not 0 <= s < self.n:
            raise ValueError(f"observation {obs!r} is outside the Discrete({self.n}, start={self.start}) space")
        return self.data[s]

    def _dict_row(self, obs) -> np.ndarray:
        """Row of a hashable observation, created on first visit."""
        try:
            row = self.data.get(obs)
        except TypeError:
            obs = observation_key(obs)
            row = self.data.get(obs)
        if row is None:
            row = self.data[obs] = np.full(self.width, self.initial_value, dtype=self.dtype)
        return row

    def peek(self, obs) -> np.ndarray:
        """The row of ``obs`` for reading only: an unvisited observation of a dict table gets a
        fresh row at ``initial_value`` that is *not* stored (reading does not grow the table)."""
        if self.is_array:
            return self._array_row(obs)
        key = self.key(obs)
        row = self.data.get(key)
        return np.full(self.width, self.initial_value, dtype=self.dtype) if row is None else row

    def key(self, obs):
        """The row index (array form) or dict key (dict form) of an observation."""
        if self.is_array:
            s = int(obs) - self.start
            if not 0 <= s < self.n:
                raise ValueError(f"observation {obs!r} is outside the Discrete({self.n}, start={self.start}) space")
            return s
        try:
            hash(obs)
            return obs
        except TypeError:
            return observation_key(obs)

    def copy(self):
        """A copy of ``data`` (array, or dict of copied rows)."""
        if self.is_array:
            return self.data.copy()
        return {key: row.copy() for key, row in self.data.items()}

    def __len__(self) -> int:
        return self.n if self.is_array else len(self.data)


def observation_key(obs):
    """A hashable key for an unhashable observation (integer numpy arrays); else ``TypeError``."""
    if isinstance(obs, np.ndarray):
        if obs.dtype.kind not in "biu":
            raise TypeError(
                f"observation is a numpy array of dtype {obs.dtype}; a table can only be keyed by "
                "integer or boolean arrays (discretise continuous observations first)"
            )
        if obs.ndim == 0:
            return obs.item()
        if obs.ndim == 1:
            return tuple(obs.tolist())
        return (obs.shape, tuple(obs.ravel().tolist()))
    raise TypeError(
        f"observation {_short(obs)} of type {type(obs).__name__} is unhashable, so it cannot key a "
        "table; use tuples instead of lists (or an integer numpy array)"
    )


def _short(obs) -> str:
    text = repr(obs)
    return text if len(text) <= 60 else text[:57] + "..."
