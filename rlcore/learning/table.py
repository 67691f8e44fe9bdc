"""The value table of a tabular agent: one row of values per observation, in a 2-D numpy array.

Lectures 5–7. With a ``gymnasium.spaces.Discrete(S)`` observation space the table is an array of
shape (S, width) (width A for action values, 1 for state values), row ``s − start`` for
observation ``s``. With any other observation space — tuples of token ids of varying length,
small integer arrays, Blackjack's tuples — a dict maps each observation to a row, created on
first visit in an array that grows by doubling. Agents address the table by *row index* only
(:meth:`Table.index`), so their updates are the same numpy expressions whatever the observations
are — and whether there is one run or N runs of :func:`rlcore.train_lockstep`, whose tables
(:meth:`Table.replicate`) stack the N runs' rows in one array.

Keys. A hashable observation is its own key. A numpy array of integers or booleans (unhashable)
becomes the tuple of its entries (for ndim ≥ 2, the pair (shape, entries)); a 0-d array its item.
Anything else unhashable (lists, dicts, float arrays) raises ``TypeError`` naming the problem.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces


class Table:
    """Rows of ``width`` values, one per observation, at ``initial_value`` until first updated.

    Args:
        observation_space: a Gymnasium space. ``Discrete`` gives one row per state; any other
            space (or None) rows keyed by observation, created on first visit.
        width: values per observation (A for action values, 1 for state values).
        initial_value: the value of every entry before its first update (optimistic initial
            values, S&B Section 2.6, when above the true values).
        counts: keep visit counts N(s, ·) beside the values (for step sizes α(N), S&B eq. 2.3).

    Attributes:
        values: the (rows, width) array; a view of the visited rows for keyed tables.
        counts: the visit counts, the shape of ``values`` (None without ``counts``).
        is_array: True for a Discrete observation space (row = state).
        n_runs: None for one run; N for :meth:`replicate`'s N runs (rows ``run·S + s``).
    """

    def __init__(self, observation_space, width: int, initial_value: float = 0.0, counts: bool = False):
        self.width = int(width)
        self.initial_value = float(initial_value)
        self.is_array = isinstance(observation_space, spaces.Discrete)
        self.n_runs = None
        if self.is_array:
            self.n = int(observation_space.n)
            self.start = int(observation_space.start)
            rows = self.n
        else:
            self.n, self.start = 0, 0
            self._keys: dict = {}
            rows = 16
        self._values = np.full((rows, self.width), self.initial_value)
        self._counts = np.zeros((rows, self.width), dtype=np.int64) if counts else None
        if not self.is_array:
            self._fresh = np.full(self.width, self.initial_value)  # what an unvisited observation reads

    # ------------------------------------------------------------------ rows
    def index(self, obs):
        """The row of ``obs`` (created on first visit for keyed tables); for N runs, the rows of an
        array of N states, one per run."""
        if self.n_runs is not None:
            return self._offsets + obs
        if self.is_array:
            s = obs - self.start
            if not 0 <= s < self.n:
                raise ValueError(f"observation {obs!r} is outside the Discrete({self.n}, start={self.start}) space")
            return int(s)
        try:
            row = self._keys.get(obs)
        except TypeError:
            obs = observation_key(obs)
            row = self._keys.get(obs)
        if row is None:
            row = self._add(obs)
        return row

    def lookup(self, obs):
        """The row of ``obs`` for reading only: −1 for an observation of a keyed table never
        visited (reading does not grow the table); see :meth:`read`."""
        if self.n_runs is not None or self.is_array:
            return self.index(obs)
        return self._keys.get(self.key(obs), -1)

    def read(self, row) -> np.ndarray:
        """The values of a row, shape (width,) (a view), or of rows, shape (N, width); row −1 reads
        ``initial_value`` (an unvisited observation)."""
        if getattr(self, "_rows_of", None) is not None:
            self._grow_to()
        if isinstance(row, (int, np.integer)):
            return self._fresh if row < 0 else self._values[row]
        return self._values.take(row, axis=0)

    def key(self, obs):
        """The dict key of an observation (keyed tables) or its row (Discrete)."""
        if self.is_array:
            return self.index(obs)
        try:
            hash(obs)
            return obs
        except TypeError:
            return observation_key(obs)

    def share_rows(self, other: Table) -> None:
        """Key this table's rows exactly as ``other``'s (same observations, same rows): for values
        kept beside another table, such as a critic's V beside the logits θ (keyed tables only)."""
        if not self.is_array:
            self._keys = other._keys
            self._rows_of = other

    def _grow_to(self) -> None:
        """Grow to as many rows as the table whose keys this one shares."""
        need = self._rows_of._values.shape[0]
        if self._values.shape[0] < need:
            extra = need - self._values.shape[0]
            self._values = np.concatenate([self._values, np.full((extra, self.width), self.initial_value)])
            if self._counts is not None:
                self._counts = np.concatenate([self._counts, np.zeros((extra, self.width), dtype=np.int64)])

    def _add(self, key) -> int:
        row = len(self._keys)
        if row == self._values.shape[0]:  # full: double the rows
            self._values = np.concatenate([self._values, np.full_like(self._values, self.initial_value)])
            if self._counts is not None:
                self._counts = np.concatenate([self._counts, np.zeros_like(self._counts)])
        self._keys[key] = row
        return row

    # ------------------------------------------------------------------ contents
    @property
    def values(self) -> np.ndarray:
        """The values, (rows, width): the live array (a view of the visited rows for keyed tables)."""
        if getattr(self, "_rows_of", None) is not None:
            self._grow_to()
        return self._values if self.is_array else self._values[:len(self._keys)]

    @property
    def counts(self):
        """Visit counts, the shape of :attr:`values`, or None."""
        if self._counts is None:
            return None
        return self._counts if self.is_array else self._counts[:len(self._keys)]

    def as_data(self, counts: bool = False):
        """The table as users read it: the (S, width) array (live), or ``{key: row}`` with live views."""
        if getattr(self, "_rows_of", None) is not None:
            self._grow_to()
        table = self._values if not counts else self._counts
        if self.is_array:
            return table
        return {key: table[row] for key, row in self._keys.items()}

    def copy(self):
        """A copy of :meth:`as_data` (array, or dict of copied rows)."""
        if self.is_array:
            return self._values.copy()
        return {key: self._values[row].copy() for key, row in self._keys.items()}

    def replicate(self, n_runs: int) -> Table:
        """N independent copies of this (Discrete) table stacked in one array: run i owns rows
        i·S … i·S + S − 1, each starting as a copy of this table; visit counts start at 0."""
        if not self.is_array:
            raise TypeError("only tables of a Discrete observation space can be replicated over runs")
        new = Table.__new__(Table)
        new.__dict__.update(self.__dict__)
        new.n_runs = int(n_runs)
        new._values = np.tile(self._values, (n_runs, 1))
        new._counts = None if self._counts is None else np.zeros_like(new._values, dtype=np.int64)
        new._offsets = np.arange(n_runs) * self.n - self.start
        return new

    def per_run(self, data=None) -> np.ndarray:
        """The N runs' tables as (N, S, width) (a view) of a replicated table."""
        data = self._values if data is None else data
        return data.reshape(self.n_runs, self.n, self.width)

    def __len__(self) -> int:
        return self.n if self.is_array else len(self._keys)


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
