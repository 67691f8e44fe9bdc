"""Feature vectors x(s) for linear function approximation (Sutton & Barto, 2nd ed., Section 9.5).

Every feature map here covers a box of states [low, high] (one interval per state dimension) and
maps states to feature vectors:

    features(states)          x(s), shape (..., d)                       (all of them)
    features.active(states)   the indices of the features that are 1,   (binary features only:
                              shape (..., k)                              state aggregation, tile coding)

States have shape (..., n_dims); for a one-dimensional box the last axis may be left out
(``states`` of shape (...)). A state outside the box raises ``ValueError`` naming it: the tilings
(or groups) must cover every state the agent will see. A margin of a millionth of the box's width
is allowed, and clipped, so that float32 observations (Gymnasium's Mountain Car reports −1.2 as
−1.2000000477) stay inside.

- :class:`StateAggregation`: one group per cell of a grid; x(s) is one-hot (Section 9.3, Example 9.1).
- :class:`PolynomialBasis`: x_i(s) = Π_j u_j^{c_ij} with u = (s − low)/(high − low) in [0, 1]^k and
  c_ij ∈ {0, …, n} (eq. 9.17): (n + 1)^k features.
- :class:`FourierBasis`: x_i(s) = cos(π uᵀc^i), c^i ∈ {0, …, n}^k (eq. 9.18): (n + 1)^k features.
- :class:`TileCoder`: ``n_tilings`` grids, each offset from the last by the asymmetric
  displacement (1, 3, 5, …)/n_tilings of a tile width (Miller & Glanz 1996; S&B Section 9.5.4 and
  Figure 9.11), exactly the partition of Sutton's ``tiles3`` software. x(s) has one active tile
  per tiling.
- :class:`IHT` and :func:`tiles`: a port of ``tiles3`` itself (the book's tile coder, with its
  hashing index table) — kept as the reference the tests compare :class:`TileCoder` against, and
  for tilings of unbounded or high-dimensional spaces where hashing into a fixed memory is the point.

Why our own tile coder. The PyPI packages named after tile coding were examined: ``tilecode``
(0.1.0, 2021) is unrelated to reinforcement learning, ``tile-coder-rs`` (0.4.0, 2023) ships only
a Rust source distribution that fails to build here and has no documentation, and Sutton's
``tiles3.py`` was never published on PyPI. None is well kept, so the tile coder is written here:
:class:`TileCoder` computes tile indices arithmetically — vectorised over a batch of states and
runs, without collisions (every tile of every tiling has its own index, (tiles + 1)^k per
tiling) — and the test suite checks that it induces exactly tiles3's partition.
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np

from rlcore import _checks

BOX_SLACK = 1e-6  # states may lie this fraction of the box's width outside it (float32 rounding), and are clipped


class _Box:
    """A box of states [low, high] ⊂ R^k and the checks of states against it."""

    def __init__(self, low, high, who: str):
        low = np.atleast_1d(_checks.real_array(low, "low"))
        high = np.atleast_1d(_checks.real_array(high, "high"))
        if low.ndim != 1 or low.shape != high.shape:
            raise ValueError(f"{who}: low and high must be numbers or 1-D arrays of one shape; got shapes "
                             f"{low.shape} and {high.shape}")
        if not np.all(high > low):
            j = int(np.flatnonzero(~(high > low))[0])
            raise ValueError(f"{who}: high must exceed low in every dimension (the box the features cover); got "
                             f"low[{j}] = {low[j]:g} ≥ high[{j}] = {high[j]:g}")
        self.low, self.high = low, high
        self.n_dims = low.size
        self._who = who

    def unit(self, states) -> np.ndarray:
        """States scaled to the unit box, u = (s − low)/(high − low), shape (..., k); ValueError outside the box."""
        s = np.asarray(states, dtype=float)
        if self.n_dims == 1 and (s.ndim == 0 or s.shape[-1] != 1):
            s = s[..., None]
        if s.shape[-1:] != (self.n_dims,):
            raise ValueError(f"{self._who}: states must have shape (..., {self.n_dims}); got {np.shape(states)}")
        u = (s - self.low) / (self.high - self.low)
        outside = ~((u >= -BOX_SLACK) & (u <= 1.0 + BOX_SLACK))  # NaN is outside too
        if outside.any():
            index = tuple(int(i) for i in np.argwhere(outside)[0])
            state = s[index[:-1]]
            raise ValueError(f"{self._who}: state {state.tolist() if state.size > 1 else float(state[0])} lies "
                             f"outside the box the features cover, low {self.low.tolist()}, high "
                             f"{self.high.tolist()} (dimension {index[-1]}); widen low/high so that they cover "
                             "every state")
        return np.clip(u, 0.0, 1.0)

    def _box_repr(self) -> str:
        low = self.low.tolist() if self.n_dims > 1 else float(self.low[0])
        high = self.high.tolist() if self.n_dims > 1 else float(self.high[0])
        return f"low={low}, high={high}"


def _per_dim(value, n_dims: int, name: str, meaning: str) -> np.ndarray:
    """A whole number ≥ 1 for every dimension: one number for all, or one per dimension."""
    if np.ndim(value) == 0:
        return np.full(n_dims, _checks.whole(value, name, 1, meaning=meaning), dtype=np.int64)
    values = list(value)
    if len(values) != n_dims:
        raise ValueError(f"{name} must be one whole number or one per dimension ({n_dims}); got {value!r}")
    return np.array([_checks.whole(v, name, 1, meaning=meaning) for v in values], dtype=np.int64)


class StateAggregation(_Box):
    """State aggregation (S&B Section 9.3, Example 9.1): the box cut into a grid of equal groups.

    x(s) is the one-hot vector of the group of s, so v̂(s, w) = w[group(s)]: one value per group.
    Group g of a one-dimensional box holds the states in [low + g·width, low + (g + 1)·width), the
    last group also ``high``.

    Args:
        low, high: the box, numbers or one per dimension. For the 1000-state walk, states 1 … 1000
            in 10 groups of 100: ``StateAggregation(1, 1001, 10)``.
        n_groups: groups per dimension (one number, or one per dimension).

    Attributes:
        n_features: d, the number of groups (the product over dimensions).
        n_active: 1 (one group per state).
    """

    binary = True

    def __init__(self, low, high, n_groups):
        super().__init__(low, high, "StateAggregation")
        self.n_groups = _per_dim(n_groups, self.n_dims, "n_groups", "groups per dimension")
        self.n_features = int(np.prod(self.n_groups))
        self.n_active = 1

    def active(self, states) -> np.ndarray:
        """The group of each state, shape (..., 1)."""
        u = self.unit(states)
        cell = np.minimum((u * self.n_groups).astype(np.int64), self.n_groups - 1)  # (..., k)
        return np.ravel_multi_index(np.moveaxis(cell, -1, 0), self.n_groups)[..., None]

    def __call__(self, states) -> np.ndarray:
        """x(s): one-hot over the groups, shape (..., n_features)."""
        return one_hot_features(self.active(states), self.n_features)

    def __repr__(self) -> str:
        return f"StateAggregation({self._box_repr()}, n_groups={self.n_groups.tolist()})"


class PolynomialBasis(_Box):
    """The polynomial basis of order n (S&B Section 9.5.1, eq. 9.17).

    x_i(s) = Π_{j=1}^{k} u_j^{c_ij}, with u = (s − low)/(high − low) ∈ [0, 1]^k and each c_ij ∈
    {0, …, n}: all (n + 1)^k products (x_0 = 1 is the constant feature). In one dimension
    x(s) = (1, u, u², …, uⁿ).

    Args:
        order: n ≥ 0.
        low, high: the box, numbers or one per dimension.
    """

    binary = False

    def __init__(self, order: int, low=0.0, high=1.0):
        super().__init__(low, high, "PolynomialBasis")
        self.order = _checks.whole(order, "order", 0, meaning="the order n of the basis")
        self.exponents = np.array(list(itertools.product(range(self.order + 1), repeat=self.n_dims)), dtype=float)  # (d, k)
        self.n_features = len(self.exponents)

    def __call__(self, states) -> np.ndarray:
        """x(s), shape (..., (n + 1)^k)."""
        u = self.unit(states)
        return np.prod(u[..., None, :] ** self.exponents, axis=-1)  # (..., d)

    def __repr__(self) -> str:
        return f"PolynomialBasis(order={self.order}, {self._box_repr()})"


class FourierBasis(_Box):
    """The Fourier cosine basis of order n (S&B Section 9.5.2, eq. 9.18; Konidaris et al. 2011).

    x_i(s) = cos(π uᵀc^i), with u = (s − low)/(high − low) ∈ [0, 1]^k and c^i ∈ {0, …, n}^k:
    all (n + 1)^k frequency vectors. In one dimension x_i(s) = cos(iπu), i = 0 … n.

    Args:
        order: n ≥ 0.
        low, high: the box, numbers or one per dimension.
    """

    binary = False

    def __init__(self, order: int, low=0.0, high=1.0):
        super().__init__(low, high, "FourierBasis")
        self.order = _checks.whole(order, "order", 0, meaning="the order n of the basis")
        self.frequencies = np.array(list(itertools.product(range(self.order + 1), repeat=self.n_dims)), dtype=float)  # (d, k)
        self.n_features = len(self.frequencies)

    def __call__(self, states) -> np.ndarray:
        """x(s), shape (..., (n + 1)^k)."""
        u = self.unit(states)
        return np.cos(np.pi * u @ self.frequencies.T)  # (..., d)

    def __repr__(self) -> str:
        return f"FourierBasis(order={self.order}, {self._box_repr()})"


class TileCoder(_Box):
    """Tile coding with ``n_tilings`` offset grids (S&B Section 9.5.4), tiles3's partition without hashing.

    Each tiling is a grid of ``tiles`` tiles per dimension over [low, high], plus one more tile in
    each dimension for the offset. Tiling i is displaced by i·(1, 3, 5, …)/n_tilings of a tile
    width (taken modulo one tile), the asymmetric offsets recommended in the book (Figure 9.11)
    and used by Sutton's tiles3: a state's tile coordinate in dimension j of tiling i is

        ⌊(⌊u_j · tiles_j · n_tilings⌋ + (i(2j + 1) mod n_tilings)) / n_tilings⌋,   u = (s − low)/(high − low)

    so every tiling covers the whole box, and each state activates exactly one tile per tiling:
    x(s) has ``n_tilings`` ones. Tile t of tiling i has index i·(tiles + 1)^k + t, so indices never
    collide. The book's Mountain Car coder (Section 10.1: 8 tilings of 8 × 8 tiles over position
    [−1.2, 0.5] and velocity [−0.07, 0.07]) is ``TileCoder([-1.2, -0.07], [0.5, 0.07], 8, 8)``.

    Args:
        low, high: the box the tilings cover, numbers or one per dimension (finite).
        n_tilings: the number of tilings (8 in the book's examples; a power of 2 ≥ 4k is advised).
        tiles: tiles per dimension of each tiling, over the width of the box (one number, or one per
            dimension).

    Attributes:
        n_features: n_tilings · Π_j (tiles_j + 1).
        n_active: n_tilings (one tile per tiling).
    """

    binary = True

    def __init__(self, low, high, n_tilings: int = 8, tiles=8):
        super().__init__(low, high, "TileCoder")
        self.n_tilings = _checks.whole(n_tilings, "n_tilings", 1, meaning="the number of tilings")
        self.tiles = _per_dim(tiles, self.n_dims, "tiles", "tiles per dimension of each tiling")
        self._grid = self.tiles + 1  # tiles per dimension, with the one for the offset
        self.tiles_per_tiling = int(np.prod(self._grid))
        self.n_features = self.n_tilings * self.tiles_per_tiling
        self.n_active = self.n_tilings
        i = np.arange(self.n_tilings)[:, None]
        self.offsets = (i * (2 * np.arange(self.n_dims) + 1)) % self.n_tilings  # (n_tilings, k), in 1/n_tilings tile widths
        self._strides = np.r_[np.cumprod(self._grid[::-1])[::-1][1:], 1]  # row-major strides of a tiling's grid
        self._base = np.arange(self.n_tilings) * self.tiles_per_tiling

    def coordinates(self, states) -> np.ndarray:
        """The tile coordinates of each state in each tiling, shape (..., n_tilings, k)."""
        u = self.unit(states)
        q = np.floor(u * self.tiles * self.n_tilings).astype(np.int64)  # tiles3's quantisation, (..., k)
        return (q[..., None, :] + self.offsets) // self.n_tilings

    def active(self, states) -> np.ndarray:
        """The index of the active tile of each tiling, shape (..., n_tilings)."""
        return self.coordinates(states) @ self._strides + self._base

    def __call__(self, states) -> np.ndarray:
        """x(s): 1 on the active tiles, shape (..., n_features)."""
        return one_hot_features(self.active(states), self.n_features)

    def __repr__(self) -> str:
        tiles = self.tiles.tolist() if self.n_dims > 1 else int(self.tiles[0])
        return f"TileCoder({self._box_repr()}, n_tilings={self.n_tilings}, tiles={tiles})"


def one_hot_features(active, n_features: int) -> np.ndarray:
    """The binary feature vectors whose ones are at ``active``, shape (..., n_features).

    Args:
        active: indices of the active features, shape (..., k) (distinct within a row).
        n_features: d.
    """
    active = np.asarray(active)
    x = np.zeros((*active.shape[:-1], n_features))
    np.put_along_axis(x, active, 1.0, axis=-1)
    return x


# ---------------------------------------------------------------------- tiles3 (Sutton's tile coder)
class IHT:
    """Sutton's index hash table from ``tiles3``: gives each tile (a tuple of coordinates) the next
    free index, until ``size`` indices are used; after that, indices collide (``hash % size``),
    with a warning the first time.

    Args:
        size: the number of indices (the length of the weight vector).
    """

    def __init__(self, size: int):
        self.size = _checks.whole(size, "size", 1, meaning="the number of indices of the hash table")
        self.overfull_count = 0
        self.dictionary: dict = {}

    def count(self) -> int:
        """Indices handed out so far."""
        return len(self.dictionary)

    def full(self) -> bool:
        """Whether every index has been handed out."""
        return len(self.dictionary) >= self.size

    def index(self, coordinates: tuple, read_only: bool = False):
        """The index of a tile (None for an unseen tile when ``read_only``)."""
        d = self.dictionary
        if coordinates in d:
            return d[coordinates]
        if read_only:
            return None
        if self.full():
            if self.overfull_count == 0:
                warnings.warn(f"IHT of size {self.size} is full: tiles now share indices (collisions); use a larger "
                              "size", RuntimeWarning, stacklevel=3)
            self.overfull_count += 1
            return hash(coordinates) % self.size
        d[coordinates] = len(d)
        return d[coordinates]


def tiles(iht, n_tilings: int, floats, ints=(), read_only: bool = False) -> list:
    """The active tile of each of ``n_tilings`` tilings, as in Sutton's ``tiles3.tiles``.

    ``floats`` are the state variables, each already scaled so that one unit is one tile width
    (the book's Mountain Car: ``[8 * x / (0.5 + 1.2), 8 * xdot / (0.07 + 0.07)]``); ``ints`` are
    extra integer coordinates (the action, to tile (s, a) pairs). Tiling i is displaced by
    i·(1, 3, 5, …)/n_tilings of a tile.

    Args:
        iht: an :class:`IHT` (indices 0 … size − 1), an int m (coordinates hashed modulo m), or None
            (the coordinate tuples themselves).
        n_tilings: the number of tilings.
        floats: the scaled state variables.
        ints: extra integer coordinates.
        read_only: with an IHT, give None for tiles not seen before instead of new indices.

    Returns:
        a list of ``n_tilings`` indices (or coordinate tuples).
    """
    q = [math.floor(f * n_tilings) for f in floats]
    result = []
    for tiling in range(n_tilings):
        coordinates = [tiling]
        b = tiling
        for qj in q:
            coordinates.append((qj + b) // n_tilings)
            b += 2 * tiling
        coordinates.extend(ints)
        coordinates = tuple(coordinates)
        if isinstance(iht, IHT):
            result.append(iht.index(coordinates, read_only))
        elif iht is None:
            result.append(coordinates)
        else:
            result.append(hash(coordinates) % int(iht))
    return result
