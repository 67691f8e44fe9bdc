"""Reading a learned table against the exact answer: the greedy path it follows and its distance to Q*.

Lectures 6–7. Helpers for notebooks and tests of learning agents: :func:`greedy_path` walks the
greedy policy of a learned Q on the most likely transitions, :func:`q_error` measures
max_{s,a} |Q − Q*| over a stack of snapshots.
"""

from __future__ import annotations

import numpy as np


def greedy_path(mdp, Q, start: int | None = None, max_steps: int | None = None) -> list[int]:
    """The states visited by following argmax_a Q(s, a) from ``start`` on the most likely transitions.

    Ties in Q go to the lowest action index, so the path is reproducible. The walk stops at a
    terminal state, when a state repeats (the greedy policy loops), or after ``max_steps``
    (default S) steps.

    Args:
        mdp: the MDP the table belongs to.
        Q: action values, shape (S, A).
        start: first state (default: the most likely start state of ``mdp.initial``).
        max_steps: bound on the number of steps.

    Returns:
        the list of states, start first.
    """
    Q = np.asarray(Q, dtype=float)
    if Q.shape != (mdp.n_states, mdp.n_actions):
        raise ValueError(f"Q must have shape ({mdp.n_states}, {mdp.n_actions}); got {Q.shape}")
    s = int(np.argmax(mdp.initial)) if start is None else int(start)
    max_steps = mdp.n_states if max_steps is None else int(max_steps)
    path, seen = [s], {s}
    for _ in range(max_steps):
        if mdp.terminal[s]:
            break
        row = mdp.P_flat[s * mdp.n_actions + int(np.argmax(Q[s]))]
        row = row.toarray().ravel() if hasattr(row, "toarray") else np.asarray(row)
        s = int(np.argmax(row))
        path.append(s)
        if s in seen:
            break
        seen.add(s)
    return path


def q_error(tables, Q_star, states=None) -> np.ndarray:
    """max_{s, a} |Q(s, a) − Q*(s, a)| of each table, over the given states.

    Args:
        tables: one table (S, A) or a stack (..., S, A) — e.g. ``np.stack(history.snapshots)`` or
            ``lockstep_history.snapshots`` (N, K, S, A). State-value tables (..., S) work too.
        Q_star: the reference, shape (S, A) (or (S,)).
        states: boolean mask (S,) or indices of the states to compare; default all. Pass
            ``~mdp.terminal``: terminal rows are never updated, so they keep their initial value.

    Returns:
        the errors, shape ``tables.shape[:-2]`` (``[:-1]`` for state values).
    """
    tables = np.asarray(tables, dtype=float)
    Q_star = np.asarray(Q_star, dtype=float)
    per_state = Q_star.ndim  # 2 for action values, 1 for state values
    diff = np.abs(tables - Q_star)
    if states is not None:
        diff = diff[..., states, :] if per_state == 2 else diff[..., states]
    return diff.max(axis=tuple(range(-per_state, 0)))
