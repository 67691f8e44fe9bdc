"""Figures fit for slides: numbers not covered by arrows, a visible contraction bound, slide-sized files."""

import matplotlib
import numpy as np
import pytest

import rlcore as rl
from rlcore import mdps
from rlcore.figures import FIGURES, write_figures
from rlcore.plots import values

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def overlaps(ax):
    """Pairs (text, arrow) whose drawn boxes intersect, in display coordinates."""
    ax.figure.canvas.draw()
    renderer = ax.figure.canvas.get_renderer()
    texts = [t.get_window_extent(renderer) for t in ax.texts]
    arrows = [p.get_window_extent(renderer) for p in ax.patches]
    return [(i, j) for i, t in enumerate(texts) for j, a in enumerate(arrows) if t.overlaps(a)]


def test_figure_3_5_arrows_leave_the_numbers_readable():
    grid = mdps.gridworld_5x5()
    best = rl.value_iteration(grid)
    ax = rl.plots.plot_values(grid, best.V, best.policy, title="Figure 3.5")
    assert len(ax.texts) == 25 and len(ax.patches) > 25
    assert overlaps(ax) == []
    assert ax.get_xlabel() == "column" and ax.get_ylabel() == "row"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0", "1", "2", "3", "4"]
    plt.close("all")


def test_the_overlap_check_catches_the_old_layout():
    """Negative control: numbers low in the cell and long arrows from the middle (the old layout): the
    down arrows of A and B cover their numbers."""
    grid = mdps.gridworld_5x5()
    best = rl.value_iteration(grid)
    ax = rl.plots.plot_values(grid, best.V, fmt="")
    for s in range(grid.n_states):
        r, c = divmod(s, 5)
        ax.text(c, r + 0.3, f"{best.V[s]:.1f}", ha="center", va="center", fontsize=8)
    values._draw_policy(ax, grid, best.policy, centre=-0.1, reach=0.4)
    assert {text for text, _ in overlaps(ax)} == {1, 3}  # states A = (0,1) and B = (0,3)
    plt.close("all")


def test_convergence_bound_is_visible_where_it_is_tight():
    grid = mdps.gridworld_5x5()
    ax = rl.plots.plot_convergence(rl.value_iteration(grid), grid.gamma, label="value iteration")
    bound, residual = ax.lines
    np.testing.assert_allclose(residual.get_ydata(), bound.get_ydata(), rtol=1e-3)  # they coincide ...
    assert bound.get_linewidth() >= 5 * residual.get_linewidth() and bound.get_alpha() < 0.5  # ... and both show
    assert bound.get_zorder() < residual.get_zorder()
    assert "tight here" in bound.get_label()
    plt.close("all")
    garnet = mdps.garnet(30, 3, 3, seed=0)  # a random MDP: not tight, and the legend does not claim it
    ax = rl.plots.plot_convergence(rl.value_iteration(garnet), garnet.gamma)
    assert "tight" not in ax.lines[0].get_label()
    plt.close("all")


def test_write_figures_at_slide_size(tmp_path):
    paths = write_figures(tmp_path, only=["figure_3_5", "convergence"], formats=("png", "svg"))
    assert sorted(p.name for p in paths) == ["convergence.png", "convergence.svg", "figure_3_5.png", "figure_3_5.svg"]
    image = matplotlib.image.imread(tmp_path / "figure_3_5.png")
    assert image.shape[:2] == (1125, 2000)  # 13.33 x 7.5 in at 150 dpi: 16:9
    assert (tmp_path / "convergence.svg").read_text().lstrip().startswith("<?xml")
    assert set(FIGURES) >= {"figure_3_2", "figure_3_5", "figure_4_1", "convergence", "figure_6_4"}
    with pytest.raises(ValueError, match="unknown figures"):
        write_figures(tmp_path, only=["figure_9_9"])
    with pytest.raises(ValueError, match="formats must be among"):
        write_figures(tmp_path, only=["figure_3_5"], formats=("gif",))
