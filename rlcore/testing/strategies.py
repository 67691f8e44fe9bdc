"""Hypothesis strategies for a student's own property tests: random MDPs, policies and value arrays.

    from hypothesis import given
    from rlcore.testing.strategies import mdps, mdps_and_policies

    @given(mdps_and_policies())
    def test_my_evaluation_is_a_fixed_point(case):
        mdp, policy = case
        V = my_policy_evaluation(mdp, policy, 1e-10)
        rlcore.testing.assert_bellman_consistent(mdp, V, policy)

The MDPs are garnet MDPs (:func:`rlcore.mdps.garnet`: a few random successors per action, rewards
~ N(0, 1)), dense or sparse, with or without terminal states, γ drawn from {0, 0.5, 0.9, 0.99} —
or, for ``gamma=1``, random episodic MDPs in which every policy terminates
(:func:`rlcore.testing.episodic_garnet`).

hypothesis is not a dependency of rlcore: it comes with the ``testing`` extra
(``pip install "rlcore-lmenv[testing]"``). Importing this module without it raises an ImportError
that says so; the rest of :mod:`rlcore.testing` works without it.
"""

from __future__ import annotations

try:
    from hypothesis import strategies as st
except ImportError as error:  # pragma: no cover - exercised by a test that hides hypothesis
    raise ImportError(
        "rlcore.testing.strategies needs hypothesis, which is not installed. It comes with the 'testing' extra: "
        'pip install "rlcore-lmenv[testing]" (or: pip install hypothesis). The assertions and checks of '
        "rlcore.testing work without it."
    ) from error

import numpy as np

from rlcore import mdps as _mdps
from rlcore.exact.model import MDP
from rlcore.testing.battery import episodic_garnet

GAMMAS = (0.0, 0.5, 0.9, 0.99)


@st.composite
def mdps(draw, min_states: int = 1, max_states: int = 8, max_actions: int = 4, sparse: bool | None = None,
         gamma: float | None = None, terminal: bool = True):
    """A random MDP.

    Args:
        min_states, max_states: the range of the number of states S.
        max_actions: A is drawn from 1..max_actions.
        sparse: sparse P (True), dense (False) or either (None).
        gamma: a fixed γ, or None to draw one from {0, 0.5, 0.9, 0.99}. ``gamma=1`` gives an
            episodic MDP in which every policy terminates (one extra, terminal, state).
        terminal: whether some states (about a quarter, never state 0) may be terminal.
    """
    n_states = draw(st.integers(min_states, max_states))
    n_actions = draw(st.integers(1, max_actions))
    branching = draw(st.integers(1, n_states))
    seed = draw(st.integers(0, 2**32 - 1))
    is_sparse = draw(st.booleans()) if sparse is None else bool(sparse)
    g = draw(st.sampled_from(GAMMAS)) if gamma is None else float(gamma)
    if g == 1.0:
        return episodic_garnet(n_states, n_actions, branching, seed=seed, sparse=is_sparse)
    base = _mdps.garnet(n_states, n_actions, branching, seed=seed, gamma=g, sparse=is_sparse)
    mask = np.zeros(n_states, dtype=bool)
    if terminal and n_states > 1:
        mask[1:] = np.array(draw(st.lists(st.integers(0, 3), min_size=n_states - 1, max_size=n_states - 1))) == 0
    return MDP(base.P, base.R, g, terminal=mask)


def _shape(mdp_or_shape):
    if isinstance(mdp_or_shape, MDP):
        return mdp_or_shape.n_states, mdp_or_shape.n_actions
    n_states, n_actions = mdp_or_shape
    return int(n_states), int(n_actions)


@st.composite
def policies(draw, mdp_or_shape, deterministic: bool | None = None):
    """A policy for an MDP (or an (S, A) shape): an (S, A) array whose rows are distributions.

    Args:
        deterministic: one action per state (True), full distributions (False), or either (None).
    """
    S, A = _shape(mdp_or_shape)
    det = draw(st.booleans()) if deterministic is None else bool(deterministic)
    if det:
        actions = draw(st.lists(st.integers(0, A - 1), min_size=S, max_size=S))
        return np.eye(A)[actions]
    weights = np.array(draw(st.lists(st.lists(st.floats(0.0, 1.0), min_size=A, max_size=A), min_size=S, max_size=S)),
                       dtype=float).reshape(S, A)
    weights[weights.sum(axis=1) == 0] = 1.0
    return weights / weights.sum(axis=1, keepdims=True)


@st.composite
def value_arrays(draw, mdp_or_shape, low: float = -10.0, high: float = 10.0):
    """A value vector V, shape (S,), with entries in [low, high] (0 at an MDP's terminal states)."""
    S, _ = _shape(mdp_or_shape)
    V = np.array(draw(st.lists(st.floats(low, high), min_size=S, max_size=S)), dtype=float)
    if isinstance(mdp_or_shape, MDP):
        V[mdp_or_shape.terminal] = 0.0
    return V


@st.composite
def action_value_arrays(draw, mdp_or_shape, low: float = -10.0, high: float = 10.0):
    """An action-value table Q, shape (S, A), entries in [low, high] (0 at an MDP's terminal states)."""
    S, A = _shape(mdp_or_shape)
    Q = np.array(draw(st.lists(st.floats(low, high), min_size=S * A, max_size=S * A)), dtype=float).reshape(S, A)
    if isinstance(mdp_or_shape, MDP):
        Q[mdp_or_shape.terminal] = 0.0
    return Q


def mdps_and_policies(deterministic: bool | None = None, **kwargs):
    """(mdp, policy) pairs: an MDP of :func:`mdps` (``**kwargs`` passed on) and a policy for it.

    At ``gamma=1`` deterministic policies are allowed: every policy of those MDPs terminates.
    """
    return mdps(**kwargs).flatmap(lambda m: st.tuples(st.just(m), policies(m, deterministic)))


def mdps_and_values(**kwargs):
    """(mdp, V) pairs: an MDP of :func:`mdps` and a value vector for it."""
    return mdps(**kwargs).flatmap(lambda m: st.tuples(st.just(m), value_arrays(m)))


__all__ = ["mdps", "policies", "value_arrays", "action_value_arrays", "mdps_and_policies", "mdps_and_values"]
