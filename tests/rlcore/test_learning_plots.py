"""The learning plots: the confidence band they draw, and that each figure renders."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from scipy import stats  # noqa: E402

import rlcore as rl  # noqa: E402
from rlcore import mdps  # noqa: E402
from rlcore import plots as learning_plots  # noqa: E402
from rlcore.learning import greedy_path  # noqa: E402


def test_confidence_band_is_mean_plus_minus_t_standard_error():
    values = np.array([[1.0, 10.0], [2.0, 10.0], [3.0, 13.0], [6.0, 7.0]])
    mean, low, high = learning_plots.confidence_band(values)
    half = stats.t.ppf(0.975, 3) * values.std(axis=0, ddof=1) / 2
    np.testing.assert_allclose(mean, [3.0, 10.0])
    np.testing.assert_allclose(high - mean, half)
    np.testing.assert_allclose(mean - low, half)
    m, lo, hi = learning_plots.confidence_band(np.array([1.0, 2.0]))  # one run: no band
    np.testing.assert_array_equal(lo, hi)


def test_band_covers_the_true_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(0)
    samples = rng.normal(loc=1.0, size=(10, 4000))  # 4000 columns, each 10 runs
    _, low, high = learning_plots.confidence_band(samples)
    assert np.mean((low <= 1.0) & (1.0 <= high)) == pytest.approx(0.95, abs=0.015)


def test_moving_average():
    np.testing.assert_allclose(learning_plots.moving_average([1.0, 2.0, 3.0, 4.0], 2), [1.0, 1.5, 2.5, 3.5])
    np.testing.assert_array_equal(learning_plots.moving_average([1.0, 2.0], 1), [1.0, 2.0])


def test_every_figure_renders():
    mdp = mdps.cliff_walking()
    q_star = rl.value_iteration(mdp).Q
    rng = np.random.default_rng(1)
    ax = learning_plots.plot_learning_curves({"a": rng.normal(size=(5, 30)), "b": rng.normal(size=30)},
                                             smooth=3, ylim=(-3, 3), title="curves")
    assert len(ax.lines) == 2 and ax.get_title() == "curves"
    axes = learning_plots.plot_policy_comparison(mdp, q_star + rng.normal(scale=0.1, size=q_star.shape), q_star)
    assert "suboptimal" in axes[0].get_title()
    ax = learning_plots.plot_q_error(np.abs(rng.normal(size=(4, 6))) + 0.1, x=np.arange(0, 60, 10), label="Q-learning")
    assert ax.get_yscale() == "log"
    path = greedy_path(mdp, q_star)
    ax = learning_plots.plot_paths(mdp, {"optimal": path}, highlight=range(37, 47), title="paths")
    assert ax.get_title() == "paths"
    with pytest.raises(ValueError, match="grid"):
        learning_plots.plot_paths(mdps.two_state(), {"x": [0, 1]})
    plt.close("all")


def test_suboptimal_states_counts_only_non_optimal_greedy_actions():
    mdp = mdps.gridworld_4x4()
    q_star = rl.value_iteration(mdp).Q
    assert learning_plots.suboptimal_states(mdp, q_star, q_star).size == 0
    wrong = q_star.copy()
    wrong[1] = [0.0, -5.0, -5.0, -5.0]  # state 1: "up" is not optimal (left is)
    np.testing.assert_array_equal(learning_plots.suboptimal_states(mdp, wrong, q_star), [1])
