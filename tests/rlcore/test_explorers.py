"""The explorers' logic (rlcore.explorers), without a browser: sweeps, backups, the token tree."""

import sys

import matplotlib
import numpy as np
import pytest

import rlcore as rl
from rlcore import mdps
from rlcore.explorers import GridworldExplorer, TokenTreeExplorer, gridworld_widget, show, token_tree_widget

matplotlib.use("Agg")

# Figure 4.1, left column, as printed (halves rounded up: −1.75 is printed −1.7), sweeps 1, 2, 3, 10.
FIG_4_1 = {
    1: [[0.0, -1.0, -1.0, -1.0], [-1.0, -1.0, -1.0, -1.0], [-1.0, -1.0, -1.0, -1.0], [-1.0, -1.0, -1.0, 0.0]],
    2: [[0.0, -1.7, -2.0, -2.0], [-1.7, -2.0, -2.0, -2.0], [-2.0, -2.0, -2.0, -1.7], [-2.0, -2.0, -1.7, 0.0]],
    3: [[0.0, -2.4, -2.9, -3.0], [-2.4, -2.9, -3.0, -2.9], [-2.9, -3.0, -2.9, -2.4], [-3.0, -2.9, -2.4, 0.0]],
    10: [[0.0, -6.1, -8.4, -9.0], [-6.1, -7.7, -8.4, -8.4], [-8.4, -8.4, -7.7, -6.1], [-9.0, -8.4, -6.1, 0.0]],
}


def round_half_up(x, decimals=1):
    return np.floor(np.asarray(x) * 10**decimals + 0.5) / 10**decimals


# --------------------------------------------------------------------------- the grid explorer
@pytest.mark.parametrize("k", sorted(FIG_4_1))
def test_policy_evaluation_sweeps_are_figure_4_1(k):
    explorer = GridworldExplorer(mdps.gridworld_4x4(), method="policy_evaluation")
    explorer.goto(k)
    assert explorer.sweep == k
    np.testing.assert_array_equal(round_half_up(explorer.V.reshape(4, 4)), FIG_4_1[k])


def test_sweeps_are_the_operators_and_stepping_back_is_free():
    grid = mdps.gridworld_5x5()
    explorer = GridworldExplorer(grid)
    V = np.zeros(grid.n_states)
    for k in range(1, 8):
        V = rl.bellman_optimality_v(grid, V)  # V_k = T*V_{k−1}
        explorer.step()
        np.testing.assert_allclose(explorer.V, V, atol=1e-12)
    computed = len(explorer._values)
    explorer.back(3)
    assert explorer.sweep == 4 and len(explorer._values) == computed  # nothing recomputed
    explorer.step(2).back().goto(7).reset()
    assert explorer.sweep == 0 and np.all(explorer.V == 0)
    explorer.back()  # not below sweep 0
    assert explorer.sweep == 0


def test_converges_to_figure_3_5_within_its_error_bound():
    grid = mdps.gridworld_5x5()
    v_star = rl.policy_iteration(grid).V
    explorer = GridworldExplorer(grid)
    for k in range(1, 200):
        explorer.step()
        true_error = np.abs(explorer.V - v_star).max()
        assert true_error <= explorer.error_bound + 1e-9, k  # the guarantee holds at every sweep
        residual = np.abs(explorer._values[k] - explorer._values[k - 1]).max()
        assert explorer.residual == pytest.approx(residual)
    assert explorer.error_bound < 1e-6
    assert np.allclose(explorer.V, v_star, atol=1e-6)
    assert round(explorer.V[1], 1) == 24.4  # Figure 3.5, state A
    arrows = explorer.arrows()
    assert arrows[0] == "→" and arrows[1] == "↑→↓←"  # (0,0) heads for A; in A every action is optimal
    assert explorer.state((0, 1)) == 1 and explorer.state("(0,1)") == 1 and explorer.state(1) == 1


def test_status_and_error_bound_at_gamma_one():
    explorer = GridworldExplorer(mdps.gridworld_4x4(), method="policy_evaluation")
    assert explorer.residual == np.inf and explorer.status().endswith("sweep 0 (V_0)")
    explorer.step(2)
    assert explorer.residual == pytest.approx(1.0) and explorer.error_bound == np.inf  # γ = 1: no bound
    assert "sweep 2" in explorer.status() and "≤" not in explorer.status()


@pytest.mark.parametrize("method", ["value_iteration", "policy_evaluation"])
def test_explain_is_the_next_sweep_at_that_cell(method):
    grid = mdps.gridworld_5x5()
    explorer = GridworldExplorer(grid, method=method).goto(3)
    V_next = explorer.backup(explorer.V)
    for cell in [(0, 0), (0, 1), (2, 3), (4, 4)]:
        backup = explorer.explain(cell)
        assert backup.value == pytest.approx(V_next[explorer.state(cell)], abs=1e-12)
        assert backup.kind == ("optimality" if method == "value_iteration" else "expectation")
    assert "(0,1)" in str(explorer.explain((0, 1)))


def test_a_broken_explorer_is_caught():
    """Negative control: an explorer whose 'value iteration' backs up the uniform policy instead
    of the maximum does not reach Figure 3.5, and the convergence check above would fail."""

    class Broken(GridworldExplorer):
        def backup(self, V):
            return rl.bellman_v(self.mdp, V, rl.uniform_policy(self.mdp))

    broken = Broken(mdps.gridworld_5x5()).goto(200)
    assert round(broken.V[1], 1) != 24.4
    assert np.abs(broken.V - rl.policy_iteration(mdps.gridworld_5x5()).V).max() > broken.error_bound


def test_colours_follow_the_values():
    explorer = GridworldExplorer(mdps.gridworld_5x5()).goto(50)
    colours = explorer.colours()
    assert len(colours) == 25 and all(c.startswith("#") and len(c) == 7 for c in colours)
    assert colours[int(np.argmax(explorer.V))] == "#fde725"  # viridis' top colour at the largest value
    assert colours[int(np.argmin(explorer.V))] == "#440154"  # and its bottom colour at the smallest
    assert len(set(GridworldExplorer(mdps.gridworld_5x5()).colours())) == 1  # V_0 = 0: one colour


def test_bad_arguments_are_named():
    grid = mdps.gridworld_4x4()
    with pytest.raises(ValueError, match="method must be one of"):
        GridworldExplorer(grid, method="sarsa")
    with pytest.raises(ValueError, match="policy must be None for value iteration"):
        GridworldExplorer(grid, policy=rl.uniform_policy(grid))
    with pytest.raises(ValueError, match="grid MDP"):
        GridworldExplorer(mdps.two_state())
    with pytest.raises(TypeError, match="rlcore.MDP"):
        GridworldExplorer("gridworld")
    with pytest.raises(ValueError, match="V0 must have shape"):
        GridworldExplorer(grid, V0=np.zeros(3))
    explorer = GridworldExplorer(grid)
    with pytest.raises(ValueError, match="outside the 4x4 grid"):
        explorer.state((4, 0))
    with pytest.raises(ValueError, match="k must be a whole number"):
        explorer.goto(-1)
    with pytest.raises(ValueError, match="not one of the MDP's state names"):
        explorer.explain("(9,9)")


def test_figure_draws_the_heatmap():
    import matplotlib.pyplot as plt

    ax = GridworldExplorer(mdps.gridworld_5x5()).goto(4).figure()
    assert "sweep 4" in ax.get_title()
    plt.close("all")


# ------------------------------------------------------------------------------- the token tree
@pytest.fixture(scope="module")
def token_explorer():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    import lmenv
    from lmenv import rewards as R

    env = lmenv.TokenEnv(prompt="ROMEO:\nI ", max_new_tokens=2, actions="eth", reward=R.ContainsWord("th"))
    return TokenTreeExplorer(lmenv.to_mdp(env), prompt=env.prompt)


def test_token_tree_identities(token_explorer):
    tree = token_explorer.tree
    for prefix in ["", "t", "e", "h"]:
        s = token_explorer.state(prefix)
        for beta in (0.05, 0.3, 2.0):
            rows = token_explorer.rows(prefix, beta)
            pi_ref = np.array([r["pi_ref"] for r in rows])
            pi_opt = np.array([r["pi_opt"] for r in rows])
            q = np.array([r["q"] for r in rows])
            v = rows[0]["v"]
            np.testing.assert_allclose(pi_ref, tree.reference[s])
            assert pi_opt.sum() == pytest.approx(1.0)
            np.testing.assert_allclose(pi_opt, pi_ref * np.exp((q - v) / beta), rtol=1e-8)  # π* = π_ref e^{A/β}
            assert v == pytest.approx(beta * np.log(np.sum(pi_ref * np.exp(q / beta))))  # V = β log Σ π_ref e^{Q/β}
            np.testing.assert_allclose([r["advantage"] for r in rows], q - v)


def test_token_tree_hand_values(token_explorer):
    # ContainsWord("th") in 2 characters: only "th" pays 1. Hard optimum: from the root write "t".
    hard = {r["action"]: r for r in token_explorer.rows("", 0.0)}
    assert hard["t"]["q"] == 1.0 and hard["e"]["q"] == 0.0 and hard["h"]["q"] == 0.0
    assert hard["t"]["pi_opt"] == 1.0 and hard["t"]["v"] == 1.0
    after_t = {r["action"]: r for r in token_explorer.rows("t", 0.0)}
    assert after_t["h"]["q"] == 1.0 and after_t["e"]["q"] == 0.0
    # Soft: after "t", Q_β(h) = 1 and Q_β(e) = 0 at the leaves, so π*(h) = π_ref(h) e^{1/β} / Z.
    beta = 0.5
    soft = {r["action"]: r for r in token_explorer.rows("t", beta)}
    ref_h, ref_e = soft["h"]["pi_ref"], soft["e"]["pi_ref"]
    expected = ref_h * np.exp(1 / beta) / (ref_h * np.exp(1 / beta) + (1 - ref_h))
    assert soft["h"]["pi_opt"] == pytest.approx(expected) and ref_e > 0
    # As β → 0 the soft value tends to the hard one.
    assert token_explorer.rows("", 1e-3)[0]["v"] == pytest.approx(1.0, abs=1e-2)
    assert token_explorer.solution(0.3) is token_explorer.solution(0.3)  # cached


def test_token_tree_text_and_errors(token_explorer):
    table = token_explorer.table("t", 0.1)
    assert table.splitlines()[0] == "after 'ROMEO:\\nI t', β = 0.1"
    assert table.splitlines()[2].split()[0] == "h"  # the most likely next token under π*_β first
    assert "<table>" in token_explorer.table_html("", 0.1)
    assert token_explorer.rows("th", 0.1) == [] and "leaf" in token_explorer.table("th", 0.1)
    with pytest.raises(ValueError, match="not in the tree.*'eth'"):
        token_explorer.state("xyz")
    with pytest.raises(ValueError, match="kl_coef must be"):
        token_explorer.rows("", -1.0)
    with pytest.raises(TypeError, match="lmenv.TokenMDP"):
        TokenTreeExplorer(mdps.two_state())


# -------------------------------------------------------------------------------- the widgets
def test_gridworld_widget_steps_and_explains():
    pytest.importorskip("ipywidgets")
    explorer = GridworldExplorer(mdps.gridworld_5x5())
    box = gridworld_widget(explorer)
    controls, status, (grid, backup) = box.children[0], box.children[1], box.children[2].children
    sweep = controls.children[1]
    sweep.value = 5
    assert explorer.sweep == 5 and "sweep 5" in status.value
    grid.children[1].click()  # click state A = (0,1)
    assert "(0,1)" in backup.value and "<table" in backup.value
    assert grid.children[1].description.startswith(f"{explorer.V[1]:.2f}")


def test_token_tree_widget_reacts_to_prefix_and_beta(token_explorer):
    pytest.importorskip("ipywidgets")
    box = token_tree_widget(token_explorer, prefix="", kl_coef=0.1)
    (text, beta), table = box.children[0].children, box.children[1]
    text.value = "t"
    assert "ROMEO:\\nI t" in table.value
    before = table.value
    beta.value = 1.0
    assert table.value != before  # a new kl_coef, a new soft optimum
    text.value = "zz"
    assert "not in the tree" in table.value


def test_show_falls_back_to_a_static_picture_without_ipywidgets(monkeypatch, capsys):
    import matplotlib.pyplot as plt

    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import ipywidgets raises ImportError
    assert show(GridworldExplorer(mdps.gridworld_4x4()).goto(2)) is None
    assert "sweep 2" in capsys.readouterr().out
    plt.close("all")
