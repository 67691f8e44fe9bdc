"""The course's key figures as SVG and PNG at slide size: ``python -m rlcore.figures OUT_DIR``.

Every figure is computed by the library (nothing is re-implemented here) and drawn at 16:9 slide
size, 13.33 × 7.5 inches (a widescreen slide), with fonts large enough to read from the back of a
lecture hall; the PNGs are 150 dpi (2000 × 1125 pixels).

- ``figure_3_2``: v_π of the equiprobable random policy on the 5×5 gridworld, with its greedy arrows
  (S&B Example 3.5, Figure 3.2).
- ``figure_3_5``: v_* and π_* on the same gridworld (Figure 3.5).
- ``figure_4_1``: iterative policy evaluation on the 4×4 gridworld, sweeps 0, 1, 2, 3, 10 and ∞,
  with the greedy policy of each (Figure 4.1).
- ``value_iteration_sweeps``: value iteration on the 5×5 gridworld after 0, 1, 3 and 30 sweeps.
- ``convergence``: the residuals of value iteration against the contraction bound γ^k.
- ``figure_6_4``: SARSA and Q-learning on the cliff, 50 runs × 500 episodes (Figure 6.4).

Usage::

    python -m rlcore.figures slides/           # all of them, SVG and PNG
    python -m rlcore.figures slides/ --only figure_3_5 --formats png
"""

from __future__ import annotations

import argparse
import pathlib

import numpy as np

SLIDE = (40 / 3, 7.5)  # inches, 16:9 (13.33 × 7.5)
DPI = 150
STYLE = {"font.size": 15, "axes.titlesize": 17, "axes.labelsize": 15, "legend.fontsize": 13,
         "xtick.labelsize": 13, "ytick.labelsize": 13, "svg.fonttype": "none"}


def figure_3_2(plt):
    import rlcore
    from rlcore import mdps

    grid = mdps.gridworld_5x5()
    evaluation = rlcore.policy_evaluation(grid, rlcore.uniform_policy(grid))
    fig, ax = plt.subplots(figsize=SLIDE)
    rlcore.plots.plot_values(grid, evaluation.V, rlcore.greedy_policy(evaluation.Q), ax=ax, fontsize=15,
                             title="Figure 3.2: $v_\\pi$ of the random policy, and its greedy actions (γ = 0.9)")
    return fig


def figure_3_5(plt):
    import rlcore
    from rlcore import mdps

    grid = mdps.gridworld_5x5()
    optimum = rlcore.value_iteration(grid)
    fig, ax = plt.subplots(figsize=SLIDE)
    rlcore.plots.plot_values(grid, optimum.V, optimum.policy, ax=ax, fontsize=15,
                             title="Figure 3.5: $v_*$ and the optimal policy $\\pi_*$ (γ = 0.9)")
    return fig


def figure_4_1(plt):
    import rlcore
    from rlcore import mdps

    grid = mdps.gridworld_4x4()
    policy = rlcore.uniform_policy(grid)
    fig, axes = plt.subplots(2, 3, figsize=SLIDE)
    V = np.zeros(grid.n_states)
    sweeps = {0: V}
    for k in range(1, 11):
        V = rlcore.bellman_v(grid, V, policy)
        sweeps[k] = V
    sweeps["∞"] = rlcore.policy_evaluation(grid, policy).V
    for ax, k in zip(axes.ravel(), (0, 1, 2, 3, 10, "∞")):
        V = sweeps[k]
        rlcore.plots.plot_values(grid, V, rlcore.greedy_policy(rlcore.q_from_v(grid, V)), ax=ax, fontsize=12,
                                 fmt=".1f", title=f"k = {k}")
    fig.suptitle("Figure 4.1: iterative policy evaluation of the random policy, and the greedy policy of each $v_k$")
    fig.tight_layout()
    return fig


def value_iteration_sweeps(plt):
    from rlcore import mdps
    from rlcore.explorers import GridworldExplorer

    explorer = GridworldExplorer(mdps.gridworld_5x5())
    fig, axes = plt.subplots(1, 4, figsize=SLIDE)
    for ax, k in zip(axes, (0, 1, 3, 30)):
        explorer.goto(k).figure(ax=ax, fmt=".0f")
        ax.set_title(f"sweep k = {k}")
    fig.suptitle("Value iteration, $V_{k+1} = T^* V_k$, on the gridworld of Example 3.5")
    fig.tight_layout()
    return fig


def convergence(plt):
    import rlcore
    from rlcore import mdps

    grid = mdps.gridworld_5x5()
    fig, ax = plt.subplots(figsize=SLIDE)
    rlcore.plots.plot_convergence(rlcore.value_iteration(grid), grid.gamma, ax=ax, label="value iteration, 5×5 gridworld")
    ax.set_title("Value iteration converges at the rate of the contraction, $\\gamma^k$")
    return fig


def figure_6_4(plt):
    import rlcore
    from rlcore import mdps

    cliff = mdps.cliff_walking()
    runs = {name: rlcore.train_lockstep(Agent(cliff, alpha=0.5, epsilon=0.1), cliff, 50, 500, seed=0).returns
            for name, Agent in (("SARSA", rlcore.Sarsa), ("Q-learning", rlcore.QLearning))}
    fig, ax = plt.subplots(figsize=SLIDE)
    rlcore.plots.plot_learning_curves(runs, ax=ax, smooth=10, ylim=(-100, 0),
                                      title="Figure 6.4: the cliff, ε = 0.1 (50 runs, mean and 95% band, 10-episode average)")
    return fig


FIGURES = {f.__name__: f for f in (figure_3_2, figure_3_5, figure_4_1, value_iteration_sweeps, convergence, figure_6_4)}


def write_figures(out_dir, only=None, formats=("svg", "png"), dpi: int = DPI) -> list[pathlib.Path]:
    """Draw the figures (all, or those named in ``only``) and save each in every format; returns the paths.

    Raises:
        ValueError: for an unknown figure name or format.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(FIGURES) if only is None else list(only)
    unknown = [name for name in names if name not in FIGURES]
    if unknown:
        raise ValueError(f"unknown figures {unknown}; the figures are {list(FIGURES)}")
    bad = [f for f in formats if f not in ("svg", "png", "pdf")]
    if bad:
        raise ValueError(f"formats must be among svg, png, pdf; got {bad}")
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with matplotlib.rc_context(STYLE):
        for name in names:
            fig = FIGURES[name](plt)
            fig.set_size_inches(*SLIDE)
            fig.tight_layout()
            for fmt in formats:
                path = out / f"{name}.{fmt}"
                fig.savefig(path, dpi=dpi)  # no bbox="tight": every file is exactly slide-sized
                written.append(path)
            plt.close(fig)
    return written


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m rlcore.figures", description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", help="folder for the figures (created if missing)")
    parser.add_argument("--only", nargs="+", choices=list(FIGURES), help="only these figures")
    parser.add_argument("--formats", nargs="+", default=["svg", "png"], choices=["svg", "png", "pdf"])
    parser.add_argument("--dpi", type=int, default=DPI, help="PNG resolution (default 150: 2000 x 1125 pixels)")
    args = parser.parse_args(argv)
    for path in write_figures(args.out_dir, args.only, args.formats, args.dpi):
        print(path)


if __name__ == "__main__":
    main()
