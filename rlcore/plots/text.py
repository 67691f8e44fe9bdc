"""Plain-text tables of V, Q and A for printing in a terminal, a notebook or on a slide."""

from __future__ import annotations

import numpy as np


def value_table(mdp, V, decimals: int = 1) -> str:
    """V as text: laid out over the grid for grid MDPs, else one ``name: value`` row per state.

    Args:
        mdp: the MDP (for ``grid_shape`` and ``state_names``).
        V: state values, shape (S,).
        decimals: digits after the decimal point.
    """
    V = np.asarray(V, dtype=float)
    if V.shape != (mdp.n_states,):
        raise ValueError(f"V must have shape ({mdp.n_states},); got {V.shape}")
    cells = [f"{v:.{decimals}f}" for v in V]
    if mdp.grid_shape is not None:
        rows, cols = mdp.grid_shape
        width = max(len(c) for c in cells)
        return "\n".join(" ".join(c.rjust(width) for c in cells[r * cols:(r + 1) * cols]) for r in range(rows))
    width = max(len(n) for n in mdp.state_names)
    return "\n".join(f"{name.ljust(width)}  {cell}" for name, cell in zip(mdp.state_names, cells))


def q_table(mdp, Q, decimals: int = 2) -> str:
    """An (S, A) array (Q, A or π) as a text table: one row per state, one column per action."""
    Q = np.asarray(Q, dtype=float)
    if Q.shape != (mdp.n_states, mdp.n_actions):
        raise ValueError(f"expected shape ({mdp.n_states}, {mdp.n_actions}); got {Q.shape}")
    cells = [[f"{q:.{decimals}f}" for q in row] for row in Q]
    width = max(max(len(c) for row in cells for c in row), max(len(a) for a in mdp.action_names))
    name_width = max(len(n) for n in mdp.state_names)
    header = " " * name_width + "  " + " ".join(a.rjust(width) for a in mdp.action_names)
    body = [f"{name.ljust(name_width)}  " + " ".join(c.rjust(width) for c in row)
            for name, row in zip(mdp.state_names, cells)]
    return "\n".join([header, *body])


def path_text(mdp, path) -> str:
    """A grid MDP drawn as text with the path marked: ``S`` start, ``G`` terminal, ``o`` path, ``.`` other."""
    if mdp.grid_shape is None:
        return " → ".join(mdp.state_names[s] for s in path)
    rows, cols = mdp.grid_shape
    cells = np.full(rows * cols, ".", dtype="<U1")
    cells[mdp.terminal] = "G"
    cells[list(path)] = "o"
    cells[path[0]] = "S"
    if mdp.terminal[path[-1]]:
        cells[path[-1]] = "G"
    return "\n".join(" ".join(cells[r * cols:(r + 1) * cols]) for r in range(rows))
