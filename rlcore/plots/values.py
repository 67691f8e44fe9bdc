"""Pictures of exact solutions: value heatmaps with policy arrows, and convergence plots.

Matplotlib is imported lazily, so ``import rlcore`` stays light.
"""

from __future__ import annotations

import numpy as np

# Arrow direction (dx, dy) in plot coordinates (y grows downwards on an image) per action name.
ARROWS = {"up": (0.0, -1.0), "down": (0.0, 1.0), "left": (-1.0, 0.0), "right": (1.0, 0.0)}


def plot_values(mdp, V, policy=None, ax=None, title: str | None = None, fmt: str = ".1f", cmap: str = "viridis",
                fontsize: float = 9):
    """Heatmap of V over a grid MDP, with π(a|s) drawn as arrows, their length ∝ π(a|s)/max_a π(a|s).

    With a policy, each cell shows its value in its upper part and the arrows in its lower part, so
    the two never overlap; rows and columns are numbered and labelled (state (r,c) is row r,
    column c).

    Args:
        mdp: an MDP with ``grid_shape`` set and, for arrows, action names among up/down/left/right.
        V: state values, shape (S,).
        policy: optional π, shape (S, A); no arrows are drawn in terminal states.
        ax: matplotlib axes (default: a new figure).
        title: axes title.
        fmt: number format for the value printed in each cell ("" to print none).
        cmap: matplotlib colour map.
        fontsize: size of the numbers in the cells (the labels are one point larger).

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
        _, ax = plt.subplots(figsize=(0.9 * cols + 1.8, 0.9 * rows + 0.5))
    grid = V.reshape(rows, cols)
    image = ax.imshow(grid, cmap=cmap)
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    arrows = policy is not None
    if fmt:
        middle = (np.nanmin(grid) + np.nanmax(grid)) / 2
        for r in range(rows):
            for c in range(cols):
                colour = "black" if grid[r, c] > middle else "white"
                # with arrows the number sits in the top of the cell, the arrows below it
                ax.text(c, r + (-0.27 if arrows else 0.0), format(grid[r, c], fmt), ha="center", va="center",
                        fontsize=fontsize, color=colour)
    if arrows:
        _draw_policy(ax, mdp, np.asarray(policy, dtype=float), centre=0.14 if fmt else 0.0,
                     reach=0.24 if fmt else 0.4)
    ax.set_xticks(range(cols))
    ax.set_yticks(range(rows))
    ax.tick_params(labelsize=fontsize)
    ax.set_xlabel("column", fontsize=fontsize + 1)
    ax.set_ylabel("row", fontsize=fontsize + 1)
    if title:
        ax.set_title(title)
    return ax


def _draw_policy(ax, mdp, policy: np.ndarray, centre: float = 0.0, reach: float = 0.4) -> None:
    """Arrows from the point ``centre`` below each cell's middle, the longest ``reach`` long."""
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
            length = reach * policy[s, a] / policy[s].max()  # the most likely actions get full length
            ax.arrow(c, r + centre, direction[0] * length, direction[1] * length, width=0.018, head_width=0.1,
                     head_length=0.08, length_includes_head=True, color="white", ec="black", lw=0.4)


def plot_convergence(solution, gamma: float, ax=None, label: str | None = None):
    """Residual ‖V_{k+1} − V_k‖∞ against k on a log scale, with the contraction bound γ^k·‖V_1 − V_0‖∞.

    The bound is drawn as a wide pale band under the residuals (dots on a thin line), so both stay
    visible where they coincide — as on the 5×5 gridworld, where the bound is tight — and the
    legend says so.

    Args:
        solution: a :class:`rlcore.dp.Solution` (its ``residuals``).
        gamma: the discount factor γ of the MDP.
        ax: matplotlib axes (default: a new figure).
        label: legend label of the residuals.

    Returns:
        the matplotlib axes.
    """
    import matplotlib.pyplot as plt

    residuals = np.asarray(solution.residuals, dtype=float)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.8))
    k = np.arange(residuals.size)
    if residuals.size and gamma < 1:
        bound = residuals[0] * gamma ** k
        tight = bool(np.allclose(residuals, bound, rtol=1e-3, atol=0))
        ax.semilogy(k, bound, "-", color="tab:orange", lw=7, alpha=0.35, solid_capstyle="butt", zorder=1,
                    label=rf"bound $\gamma^k \Vert V_1 - V_0 \Vert_\infty$ ($\gamma$ = {gamma:g})"
                    + (": tight here" if tight else ""))
    ax.semilogy(k, np.maximum(residuals, 1e-300), "-", color="tab:blue", lw=1, marker="o", ms=3.5, zorder=2,
                markevery=max(1, residuals.size // 30),
                label=label or r"$\Vert V_{k+1} - V_k \Vert_\infty$")
    ax.set_xlabel("iteration k")
    ax.set_ylabel(r"residual $\Vert V_{k+1} - V_k \Vert_\infty$ (log scale)")
    ax.legend()
    return ax
