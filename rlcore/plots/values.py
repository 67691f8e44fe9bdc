"""Pictures of exact solutions: value heatmaps with policy arrows, and convergence plots.

Matplotlib is imported lazily, so ``import rlcore`` stays light.
"""

from __future__ import annotations

import numpy as np

# Arrow direction (dx, dy) in plot coordinates (y grows downwards on an image) per action name.
ARROWS = {"up": (0.0, -1.0), "down": (0.0, 1.0), "left": (-1.0, 0.0), "right": (1.0, 0.0)}


def plot_values(mdp, V, policy=None, ax=None, title: str | None = None, fmt: str = ".1f", cmap: str = "viridis"):
    """Heatmap of V over a grid MDP, with π(a|s) drawn as arrows, their length ∝ π(a|s)/max_a π(a|s).

    Args:
        mdp: an MDP with ``grid_shape`` set and, for arrows, action names among up/down/left/right.
        V: state values, shape (S,).
        policy: optional π, shape (S, A); no arrows are drawn in terminal states.
        ax: matplotlib axes (default: a new figure).
        title: axes title.
        fmt: number format for the value printed in each cell ("" to print none).

    Returns:
        the matplotlib axes.
    """
    import matplotlib.pyplot as plt

    if mdp.grid_shape is None:
        raise ValueError("plot_values needs a grid MDP (mdp.grid_shape is None)")
    V = np.asarray(V, dtype=float)
    if V.shape != (mdp.n_states,):
        raise ValueError(f"V must have shape ({mdp.n_states},); got {V.shape}")
    rows, cols = mdp.grid_shape
    if ax is None:
        _, ax = plt.subplots(figsize=(0.9 * cols + 1.5, 0.9 * rows))
    grid = V.reshape(rows, cols)
    image = ax.imshow(grid, cmap=cmap)
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    if fmt:
        middle = (np.nanmin(grid) + np.nanmax(grid)) / 2
        for r in range(rows):
            for c in range(cols):
                colour = "black" if grid[r, c] > middle else "white"
                ax.text(c, r + (0.3 if policy is not None else 0.0), format(grid[r, c], fmt),
                        ha="center", va="center", fontsize=8, color=colour)
    if policy is not None:
        _draw_policy(ax, mdp, np.asarray(policy, dtype=float))
    ax.set_xticks(range(cols))
    ax.set_yticks(range(rows))
    if title:
        ax.set_title(title)
    return ax


def _draw_policy(ax, mdp, policy: np.ndarray) -> None:
    if policy.shape != (mdp.n_states, mdp.n_actions):
        raise ValueError(f"policy must have shape ({mdp.n_states}, {mdp.n_actions}); got {policy.shape}")
    directions = [ARROWS.get(name) for name in mdp.action_names]
    if all(d is None for d in directions):
        raise ValueError(f"cannot draw arrows for actions {mdp.action_names}: name them up/down/left/right")
    rows, cols = mdp.grid_shape
    for s in np.flatnonzero(~mdp.terminal):
        r, c = divmod(int(s), cols)
        for a, direction in enumerate(directions):
            if direction is None or policy[s, a] <= 1e-9:
                continue
            length = 0.4 * policy[s, a] / policy[s].max()  # the most likely actions get full length
            ax.arrow(c, r - 0.1, direction[0] * length, direction[1] * length, head_width=0.12,
                     head_length=0.08, length_includes_head=True, color="white", ec="black", lw=0.4)


def plot_convergence(solution, gamma: float, ax=None, label: str | None = None):
    """Residual ‖V_{k+1} − V_k‖∞ against k on a log scale, with the contraction bound γ^k·‖V_1 − V_0‖∞.

    Args:
        solution: a :class:`rlcore.dp.Solution` (its ``residuals``).
        gamma: the discount factor γ of the MDP.

    Returns:
        the matplotlib axes.
    """
    import matplotlib.pyplot as plt

    residuals = np.asarray(solution.residuals, dtype=float)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    k = np.arange(residuals.size)
    ax.semilogy(k, np.maximum(residuals, 1e-300), marker=".", label=label or "‖V_{k+1} − V_k‖∞")
    if residuals.size and gamma < 1:
        ax.semilogy(k, residuals[0] * gamma ** k, "--", color="gray", label=f"γ^k bound (γ = {gamma:g})")
    ax.set_xlabel("iteration k")
    ax.set_ylabel("sup-norm residual")
    ax.legend()
    return ax
