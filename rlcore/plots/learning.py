"""Pictures of learning: curves averaged over runs with a 95% band, learned vs optimal greedy
policies over the grid, the error ‖Q − Q*‖ over time, and greedy paths.

The value heatmaps with policy arrows are drawn by :func:`rlcore.plots.plot_values`. Matplotlib is
imported lazily, so ``import rlcore`` stays light.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from rlcore.exact.policies import greedy_policy


def confidence_band(values, level: float = 0.95):
    """Mean over runs and a ``level`` confidence interval for it (Student t), per column.

    Args:
        values: shape (N, E) — N runs (rows) of E numbers each; a 1-D array is one run.
        level: confidence level of the band.

    Returns:
        (mean, low, high), each of shape (E,); low = high = mean when N = 1.
    """
    values = np.atleast_2d(np.asarray(values, dtype=float))
    n = values.shape[0]
    mean = values.mean(axis=0)
    if n < 2:
        return mean, mean.copy(), mean.copy()
    half = stats.t.ppf(0.5 + level / 2, df=n - 1) * values.std(axis=0, ddof=1) / np.sqrt(n)
    return mean, mean - half, mean + half


def moving_average(values, window: int) -> np.ndarray:
    """Trailing moving average along the last axis (the first window − 1 points average what exists)."""
    values = np.asarray(values, dtype=float)
    if window <= 1:
        return values
    cumulative = np.cumsum(values, axis=-1)
    shifted = np.zeros_like(cumulative)
    shifted[..., window:] = cumulative[..., :-window]
    counts = np.minimum(np.arange(1, values.shape[-1] + 1), window)
    return (cumulative - shifted) / counts


def plot_learning_curves(curves: dict, ax=None, smooth: int = 1, level: float = 0.95, x=None,
                         xlabel: str = "episode", ylabel: str = "sum of rewards during episode",
                         title: str | None = None, ylim=None):
    """Mean learning curve of each method with its ``level`` confidence band across runs (S&B Figure 6.4 style).

    Args:
        curves: ``{label: values}`` with values of shape (N, E) (N runs × E episodes) or (E,).
        ax: matplotlib axes (default: a new figure).
        smooth: moving-average window applied to each run before averaging (1 = none).
        level: confidence level of the band (0.95: mean ± t·SE).
        x: x coordinates, shape (E,) (default 1…E).
        ylim: y-limits, e.g. (−100, 0) as in the book.

    Returns:
        the matplotlib axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    for label, values in curves.items():
        mean, low, high = confidence_band(moving_average(values, smooth), level)
        xs = np.arange(1, mean.size + 1) if x is None else np.asarray(x)
        (line,) = ax.plot(xs, mean, label=label, lw=1.2)
        ax.fill_between(xs, low, high, color=line.get_color(), alpha=0.25, lw=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if ylim is not None:
        ax.set_ylim(*ylim)
    if title:
        ax.set_title(title)
    ax.legend()
    return ax


def plot_policy_comparison(mdp, Q, Q_star, axes=None, titles=("learned greedy policy", "optimal policy"), fmt=".2f"):
    """The greedy policy of a learned Q next to the optimal one, each over its values max_a Q.

    Drawn with :func:`rlcore.plots.plot_values`; the left title counts the states whose greedy
    action is not optimal under Q* (ties in Q* count as optimal).

    Args:
        mdp: a grid MDP.
        Q: learned action values, shape (S, A).
        Q_star: optimal action values (``rlcore.value_iteration(mdp).Q``), shape (S, A).
        axes: two matplotlib axes (default: a new figure with two panels).

    Returns:
        the two axes.
    """
    import matplotlib.pyplot as plt

    from rlcore.plots.values import plot_values

    Q, Q_star = np.asarray(Q, dtype=float), np.asarray(Q_star, dtype=float)
    if axes is None:
        rows, cols = mdp.grid_shape or (1, 1)
        _, axes = plt.subplots(1, 2, figsize=(2 * (0.9 * cols + 1.5), 0.9 * rows + 0.6))
    wrong = suboptimal_states(mdp, Q, Q_star)
    plot_values(mdp, np.where(mdp.terminal, 0.0, Q.max(axis=1)), greedy_policy(Q), ax=axes[0],
                title=f"{titles[0]} ({wrong.size} suboptimal)", fmt=fmt)
    plot_values(mdp, np.where(mdp.terminal, 0.0, Q_star.max(axis=1)), greedy_policy(Q_star), ax=axes[1],
                title=titles[1], fmt=fmt)
    return axes


def suboptimal_states(mdp, Q, Q_star, atol: float = 1e-9) -> np.ndarray:
    """Non-terminal states where some greedy action of Q is not optimal under Q* (indices)."""
    Q, Q_star = np.asarray(Q, dtype=float), np.asarray(Q_star, dtype=float)
    optimal = Q_star >= Q_star.max(axis=1, keepdims=True) - atol
    greedy = greedy_policy(Q) > 0
    bad = np.any(greedy & ~optimal, axis=1) & ~mdp.terminal
    return np.flatnonzero(bad)


def plot_q_error(errors, x=None, ax=None, label: str | None = None, level: float = 0.95, logy: bool = True,
                 xlabel: str = "episode", ylabel: str = "max |Q − Q*| (non-terminal states)"):
    """The error ‖Q − Q*‖ over training: mean over runs with a ``level`` band.

    Args:
        errors: shape (N, K) (runs × snapshots) or (K,); e.g. from :func:`rlcore.training.q_error`.
        x: snapshot positions, shape (K,) (e.g. ``history.snapshot_episodes``).

    Returns:
        the matplotlib axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    mean, low, high = confidence_band(errors, level)
    xs = np.arange(mean.size) if x is None else np.asarray(x)
    (line,) = ax.plot(xs, mean, label=label)
    ax.fill_between(xs, np.maximum(low, 1e-12) if logy else low, high, color=line.get_color(), alpha=0.25, lw=0)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if label:
        ax.legend()
    return ax


def plot_paths(mdp, paths: dict, ax=None, highlight=None, highlight_label: str = "cliff", title: str | None = None):
    """Paths through a grid MDP (e.g. greedy paths of learned policies) drawn as lines over the grid.

    Args:
        mdp: a grid MDP.
        paths: ``{label: [state, state, …]}``.
        highlight: states to shade dark (the cliff), or None. Start states are light blue,
            terminal states green.

    Returns:
        the matplotlib axes.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    if mdp.grid_shape is None:
        raise ValueError("plot_paths needs a grid MDP (mdp.grid_shape is None)")
    rows, cols = mdp.grid_shape
    if ax is None:
        _, ax = plt.subplots(figsize=(0.6 * cols + 1, 0.6 * rows + 0.6))
    hidden = set() if highlight is None else {int(s) for s in highlight}
    for s in range(mdp.n_states):
        r, c = divmod(s, cols)
        face = "#b9e4b0" if mdp.terminal[s] else ("#444444" if s in hidden else "#cfe0f5" if mdp.initial[s] > 0 else "white")
        ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, facecolor=face, edgecolor="#bbbbbb"))
    offsets = np.linspace(-0.12, 0.12, max(len(paths), 1))
    for offset, (label, path) in zip(offsets, paths.items()):
        rc = np.array([divmod(int(s), cols) for s in path], dtype=float)
        ax.plot(rc[:, 1] + offset, rc[:, 0] + offset, marker="o", ms=3, lw=2, label=label)
    if highlight is not None:
        ax.add_patch(Rectangle((0, 0), 0, 0, facecolor="#444444", label=highlight_label))
    ax.set_xlim(-0.5, cols - 0.5)
    ax.set_ylim(rows - 0.5, -0.5)
    ax.set_aspect("equal")
    ax.set_xticks(range(cols))
    ax.set_yticks(range(rows))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=len(paths) + 1, fontsize=8, frameon=False)
    if title:
        ax.set_title(title)
    return ax
