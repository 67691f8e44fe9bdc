"""Explorers for lectures: dynamic programming one sweep at a time, and the token tree up close.

Lectures 3–4 (dynamic programming) and the language-model lecture. Two parts:

- **The logic** (numpy only, no widgets, unit-tested): :class:`GridworldExplorer` steps value
  iteration (V ← T*V, S&B eq. 4.10) or iterative policy evaluation (V ← T^π V, eq. 4.5) one sweep
  at a time with the operators of :mod:`rlcore.exact.bellman`, keeps every V_k so it can step back,
  and explains the backup of any cell term by term (:func:`rlcore.explain.explain_backup`).
  :class:`TokenTreeExplorer` reads, for a typed prefix, π_ref, the KL-regularised optimum π*_β,
  Q*_β, V*_β and A*_β = Q*_β − V*_β of every next token from the exact solution of the prefix tree
  (``lmenv.to_mdp(env)``, ``tree.kl_regularised_optimum(kl_coef)``).
- **The widgets** (:func:`gridworld_widget`, :func:`token_tree_widget`, :func:`show`): a thin layer
  that imports ``ipywidgets`` only when called. Without ipywidgets (or outside a notebook)
  :func:`show` draws the explorer's static picture instead.

Example (text only; in a notebook ``show(explorer)`` gives the interactive version)::

    from rlcore import mdps
    from rlcore.explorers import GridworldExplorer
    explorer = GridworldExplorer(mdps.gridworld_4x4(), method="policy_evaluation")
    explorer.run(3)
    print(explorer.explain(5))        # the backup of V_3 at state 5, term by term
"""

from __future__ import annotations

import html

import numpy as np

from rlcore import _checks
from rlcore.exact.bellman import bellman_optimality_v, bellman_v, q_from_v
from rlcore.exact.model import MDP
from rlcore.exact.policies import check_policy, greedy_policy, uniform_policy

METHODS = ("value_iteration", "policy_evaluation")
# One arrow per grid action name (rlcore.mdps.GRID_ACTIONS).
ARROW_GLYPHS = {"up": "↑", "right": "→", "down": "↓", "left": "←"}


class GridworldExplorer:
    """Value iteration or iterative policy evaluation on a grid MDP, one sweep at a time.

    Sweep k holds V_k: V_0 (zeros unless ``V0`` is given), then V_{k+1} = T*V_k (value iteration)
    or V_{k+1} = T^π V_k (policy evaluation). The greedy policy drawn over the grid is the greedy
    policy of Q_k = q_from_v(V_k) (ties split evenly), for both methods.

    Args:
        mdp: an :class:`rlcore.MDP` with ``grid_shape`` set.
        method: ``"value_iteration"`` or ``"policy_evaluation"``.
        policy: π for policy evaluation, shape (S, A) (default: uniform); must be None for value
            iteration.
        V0: the values of sweep 0, shape (S,) (default: zeros).

    Attributes:
        sweep: k, the sweep shown.
        V: V_k, shape (S,).
    """

    def __init__(self, mdp, method: str = "value_iteration", policy=None, V0=None):
        if not isinstance(mdp, MDP):
            raise TypeError(f"mdp must be an rlcore.MDP; got {type(mdp).__name__}")
        if mdp.grid_shape is None:
            raise ValueError("mdp must be a grid MDP (mdp.grid_shape is None)")
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}; got {method!r}")
        if method == "value_iteration" and policy is not None:
            raise ValueError("policy must be None for value iteration (it backs up the maximum over actions)")
        self.mdp = mdp
        self.method = method
        self.policy = None
        if method == "policy_evaluation":
            self.policy = uniform_policy(mdp) if policy is None else check_policy(policy, mdp.n_states, mdp.n_actions)
        if V0 is None:
            V0 = np.zeros(mdp.n_states)
        V0 = _checks.real_array(V0, "V0")
        if V0.shape != (mdp.n_states,):
            raise ValueError(f"V0 must have shape (S,) = ({mdp.n_states},); got {V0.shape}")
        self._values = [np.where(mdp.terminal, 0.0, V0)]
        self.sweep = 0

    # ---------------------------------------------------------------------------- stepping
    @property
    def V(self) -> np.ndarray:
        """V_k of the sweep shown, shape (S,)."""
        return self._values[self.sweep]

    def backup(self, V) -> np.ndarray:
        """One sweep: T*V (value iteration) or T^π V (policy evaluation), shape (S,)."""
        if self.method == "value_iteration":
            return bellman_optimality_v(self.mdp, V)
        return bellman_v(self.mdp, V, self.policy)

    def step(self, n: int = 1) -> GridworldExplorer:
        """Advance ``n`` sweeps (computing the ones not yet computed)."""
        return self.goto(self.sweep + _checks.whole(n, "n", 0))

    def back(self, n: int = 1) -> GridworldExplorer:
        """Go back ``n`` sweeps (not below sweep 0)."""
        return self.goto(max(0, self.sweep - _checks.whole(n, "n", 0)))

    def goto(self, k: int) -> GridworldExplorer:
        """Show sweep ``k``; sweeps already computed are kept, so going back and forth is free."""
        k = _checks.whole(k, "k", 0)
        while len(self._values) <= k:
            self._values.append(self.backup(self._values[-1]))
        self.sweep = k
        return self

    def run(self, n: int) -> GridworldExplorer:
        """Advance ``n`` sweeps (the same as ``step(n)``)."""
        return self.step(n)

    def reset(self) -> GridworldExplorer:
        """Back to sweep 0 (computed sweeps are kept)."""
        self.sweep = 0
        return self

    # ---------------------------------------------------------------------------- reading
    @property
    def Q(self) -> np.ndarray:
        """Q_k = q_from_v(V_k), shape (S, A)."""
        return q_from_v(self.mdp, self.V)

    @property
    def greedy(self) -> np.ndarray:
        """The greedy policy of Q_k, shape (S, A), ties split evenly."""
        return greedy_policy(self.Q)

    @property
    def residual(self) -> float:
        """‖V_k − V_{k−1}‖∞ (inf at sweep 0: there is no previous sweep)."""
        if self.sweep == 0:
            return float("inf")
        return float(np.max(np.abs(self._values[self.sweep] - self._values[self.sweep - 1])))

    @property
    def error_bound(self) -> float:
        """γ/(1 − γ)·‖V_k − V_{k−1}‖∞ ≥ ‖V_k − V_∞‖∞ (γ < 1); inf at γ = 1 or at sweep 0."""
        gamma = self.mdp.gamma
        if gamma >= 1.0 or self.sweep == 0:
            return float("inf")
        return gamma / (1.0 - gamma) * self.residual

    def explain(self, state):
        """The backup of V_k at ``state`` (an index, a state name, or a (row, column) pair), term by term.

        Returns the :class:`rlcore.explain.Backup` of :func:`rlcore.explain.explain_backup`: its
        ``value`` is V_{k+1}(state); ``print`` writes it as a table.
        """
        from rlcore.explain import explain_backup

        return explain_backup(self.mdp, self.V, self.state(state), policy=self.policy)

    def state(self, where) -> int:
        """The state index of ``where``: an index, a state name, or a (row, column) pair."""
        if isinstance(where, tuple):
            if len(where) != 2:
                raise ValueError(f"a cell must be given as (row, column); got {where!r}")
            rows, cols = self.mdp.grid_shape
            r, c = _checks.whole(where[0], "row", 0), _checks.whole(where[1], "column", 0)
            if r >= rows or c >= cols:
                raise ValueError(f"cell {where!r} is outside the {rows}x{cols} grid")
            return r * cols + c
        from rlcore.explain import state_index

        return state_index(self.mdp, where)

    def arrows(self) -> list[str]:
        """Per state, the arrows of the greedy actions of Q_k ("" at terminal states), shape (S,)."""
        greedy = self.greedy
        glyphs = [ARROW_GLYPHS.get(name, "") for name in self.mdp.action_names]
        return ["" if self.mdp.terminal[s] else "".join(g for g, p in zip(glyphs, greedy[s]) if p > 0)
                for s in range(self.mdp.n_states)]

    def colours(self, cmap: str = "viridis") -> list[str]:
        """Per state, the heatmap colour of V_k as '#rrggbb' (the scale spans V_k's min and max)."""
        from matplotlib import colormaps
        from matplotlib.colors import to_hex

        V = self.V
        low, high = float(V.min()), float(V.max())
        scaled = np.zeros_like(V) if high == low else (V - low) / (high - low)
        colour_map = colormaps[cmap]
        return [to_hex(colour_map(float(x))) for x in scaled]

    def status(self) -> str:
        """One line: the method, the sweep, the residual and the error bound."""
        what = "value iteration, V ← T*V" if self.method == "value_iteration" else "policy evaluation, V ← T^π V"
        if self.sweep == 0:
            return f"{what}: sweep 0 (V_0)"
        bound = "" if not np.isfinite(self.error_bound) else f", so ‖V_{self.sweep} − V_∞‖∞ ≤ {self.error_bound:.3g}"
        return f"{what}: sweep {self.sweep}, ‖V_{self.sweep} − V_{self.sweep - 1}‖∞ = {self.residual:.3g}{bound}"

    def figure(self, ax=None, fmt: str = ".1f"):
        """The heatmap of V_k with the greedy arrows (:func:`rlcore.plots.plot_values`); returns the axes."""
        from rlcore.plots.values import plot_values

        return plot_values(self.mdp, self.V, self.greedy, ax=ax, fmt=fmt, title=self.status().split(": ", 1)[1])


class TokenTreeExplorer:
    """π_ref, π*_β, Q*_β, V*_β and A*_β for every next token after a prefix, on the exact prefix tree.

    The tree is ``lmenv.to_mdp(env)``; the optimum for a KL weight β = ``kl_coef`` > 0 is
    ``tree.kl_regularised_optimum(kl_coef)`` (soft value iteration on the task reward with reference
    π_ref), and for β = 0 the hard optimum ``rlcore.value_iteration(tree.task_mdp)``. Solutions are
    cached per β, so moving a slider back and forth costs nothing.

    Identities (each a unit test): π*_β(a|s) = π_ref(a|s)·exp(A*_β(s, a)/β);
    V*_β(s) = β log Σ_a π_ref(a|s) exp(Q*_β(s, a)/β); V*_β → V* as β → 0.

    Args:
        tree: a :class:`lmenv.TokenMDP` (``lmenv.to_mdp(env)``).
        prompt: the environment's prompt, shown before the prefix (``env.prompt``).
    """

    def __init__(self, tree, prompt: str = ""):
        for attribute in ("task_mdp", "reference", "kl_regularised_optimum"):
            if not hasattr(tree, attribute):
                raise TypeError(f"tree must be an lmenv.TokenMDP (lmenv.to_mdp(env)); it has no {attribute!r}")
        self.tree = tree
        self.prompt = str(prompt)
        self._state_of = {name: s for s, name in enumerate(tree.task_mdp.state_names)}
        self._solutions: dict[float, object] = {}

    @property
    def actions(self) -> list[str]:
        """The next-token choices (the MDP's action names)."""
        return list(self.tree.task_mdp.action_names)

    def state(self, prefix: str) -> int:
        """The tree state of the generated text ``prefix`` (after the prompt)."""
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a str; got {type(prefix).__name__}")
        if prefix not in self._state_of:
            allowed = "".join(self.actions)
            depth = int(np.max(self.tree.depth)) if hasattr(self.tree, "depth") else "the horizon"
            raise ValueError(f"prefix {prefix!r} is not in the tree: it holds the texts of at most {depth} tokens "
                             f"from the actions {allowed!r}")
        return self._state_of[prefix]

    def solution(self, kl_coef: float):
        """The optimum for the KL weight β = ``kl_coef`` (β = 0: the hard optimum), cached."""
        kl_coef = _checks.number(kl_coef, "kl_coef", 0.0)
        if kl_coef not in self._solutions:
            if kl_coef == 0.0:
                from rlcore.exact.dp import value_iteration

                self._solutions[kl_coef] = value_iteration(self.tree.task_mdp)
            else:
                self._solutions[kl_coef] = self.tree.kl_regularised_optimum(kl_coef)
        return self._solutions[kl_coef]

    def rows(self, prefix: str, kl_coef: float) -> list[dict]:
        """One row per next token: ``action``, ``pi_ref``, ``pi_opt`` (π*_β), ``q`` (Q*_β), ``v`` (V*_β(s)), ``advantage``.

        At a leaf (a full-length text) there is no next token: the list is empty.
        """
        s = self.state(prefix)
        if self.tree.task_mdp.terminal[s]:
            return []
        solution = self.solution(kl_coef)
        v = float(solution.V[s])
        return [dict(action=name, pi_ref=float(self.tree.reference[s, a]), pi_opt=float(solution.policy[s, a]),
                     q=float(solution.Q[s, a]), v=v, advantage=float(solution.Q[s, a] - v))
                for a, name in enumerate(self.actions)]

    def table(self, prefix: str, kl_coef: float) -> str:
        """:meth:`rows` as a text table, most likely next token under π*_β first."""
        rows = sorted(self.rows(prefix, kl_coef), key=lambda row: -row["pi_opt"])
        title = f"after {self.prompt + prefix!r}, β = {kl_coef:g}"
        if not rows:
            return f"{title}: a leaf of the tree (the episode has ended)"
        lines = [title, f"{'next':>6} {'π_ref':>8} {'π*_β':>8} {'Q*_β':>8} {'V*_β':>8} {'A*_β':>8}"]
        lines += [f"{_show(row['action']):>6} {row['pi_ref']:8.4f} {row['pi_opt']:8.4f} {row['q']:8.4f} "
                  f"{row['v']:8.4f} {row['advantage']:8.4f}" for row in rows]
        return "\n".join(lines)

    def table_html(self, prefix: str, kl_coef: float) -> str:
        """:meth:`rows` as an HTML table with a bar for π_ref and π*_β."""
        rows = sorted(self.rows(prefix, kl_coef), key=lambda row: -row["pi_opt"])
        caption = html.escape(f"after {self.prompt + prefix!r}, β = {kl_coef:g}")
        if not rows:
            return f"<p>{caption}: a leaf of the tree (the episode has ended).</p>"

        def bar(p, colour):
            return (f'<div style="background:{colour};height:0.8em;width:{100 * p:.1f}%"></div>'
                    f"{p:.3f}")

        body = "".join(
            f"<tr><td><code>{html.escape(_show(row['action']))}</code></td>"
            f"<td style='width:9em'>{bar(row['pi_ref'], '#9ecae1')}</td>"
            f"<td style='width:9em'>{bar(row['pi_opt'], '#fd8d3c')}</td>"
            f"<td>{row['q']:.4f}</td><td>{row['v']:.4f}</td><td>{row['advantage']:+.4f}</td></tr>" for row in rows)
        return (f"<table><caption>{caption}</caption><tr><th>next</th><th>π_ref</th><th>π*_β</th>"
                f"<th>Q*_β</th><th>V*_β</th><th>A*_β</th></tr>{body}</table>")

    def figure(self, prefix: str, kl_coef: float, ax=None):
        """Bars of π_ref and π*_β for every next token, with A*_β written above; returns the axes."""
        import matplotlib.pyplot as plt

        rows = self.rows(prefix, kl_coef)
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 3.2))
        x = np.arange(len(rows))
        ax.bar(x - 0.2, [r["pi_ref"] for r in rows], 0.4, label=r"$\pi_{\mathrm{ref}}(a \mid s)$", color="#6baed6")
        ax.bar(x + 0.2, [r["pi_opt"] for r in rows], 0.4, label=r"$\pi^*_\beta(a \mid s)$", color="#fd8d3c")
        for xi, row in zip(x, rows):
            ax.annotate(f"{row['advantage']:+.2f}", (xi, max(row["pi_ref"], row["pi_opt"])), ha="center",
                        va="bottom", fontsize=8, xytext=(0, 2), textcoords="offset points")
        ax.set_xticks(x, [_show(r["action"]) for r in rows])
        ax.set_xlabel("next token a (number above: advantage $A^*_\\beta(s, a)$)")
        ax.set_ylabel("probability")
        ax.set_title(f"after {_show(self.prompt + prefix)}, β = {kl_coef:g}")
        ax.legend(fontsize=8)
        return ax


def _show(text: str) -> str:
    """Text as it is printed in a table or a title: visible newlines and spaces."""
    return text.replace("\n", "⏎").replace(" ", "␣")


# ------------------------------------------------------------------------------ widgets
def show(explorer, **kwargs):
    """Display the explorer's widget in a notebook; without ipywidgets, its static picture and text.

    Returns the widget, or None when the static version was drawn.
    """
    try:
        import ipywidgets  # noqa: F401
        from IPython.display import display
    except ImportError:
        return _static(explorer, **kwargs)
    widget = (gridworld_widget(explorer) if isinstance(explorer, GridworldExplorer)
              else token_tree_widget(explorer, **kwargs))
    display(_Interactive(widget))
    return widget


class _Interactive:
    """A widget whose text form says what it is, for pages that cannot run it (the website, nbconvert)."""

    def __init__(self, widget):
        self.widget = widget

    def _repr_mimebundle_(self, **kwargs):
        bundle = self.widget._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        data["text/plain"] = ("[interactive explorer: run this notebook in Jupyter to use it; "
                              "the static picture above shows the same numbers]")
        return bundle


def _static(explorer, **kwargs):
    import matplotlib.pyplot as plt

    if isinstance(explorer, GridworldExplorer):
        explorer.figure()
        plt.show()
        print(explorer.status())
    else:
        prefix, kl_coef = kwargs.get("prefix", ""), kwargs.get("kl_coef", 0.1)
        explorer.figure(prefix, kl_coef)
        plt.show()
        print(explorer.table(prefix, kl_coef))
    return None


def gridworld_widget(explorer: GridworldExplorer, max_sweeps: int = 100, interval_ms: int = 600):
    """The grid explorer as an ipywidgets box: play/pause, step, back, reset; click a cell for its backup.

    The grid is a grid of buttons coloured by V_k with the value and the greedy arrows; clicking one
    writes out the backup of V_k at that cell. ipywidgets is imported here, not at module import.
    """
    import ipywidgets as w

    rows, cols = explorer.mdp.grid_shape
    cells = [w.Button(layout=w.Layout(width="auto", height="3.2em")) for _ in range(rows * cols)]  # wide enough for "10.00 ↑→↓←"
    grid = w.GridBox(cells, layout=w.Layout(grid_template_columns=f"repeat({cols}, 9em)", grid_gap="2px"))
    play = w.Play(value=explorer.sweep, min=0, max=max_sweeps, interval=interval_ms, description="play")
    sweep = w.IntSlider(value=explorer.sweep, min=0, max=max_sweeps, description="sweep k")
    w.jslink((play, "value"), (sweep, "value"))
    buttons = {name: w.Button(description=name, layout=w.Layout(width="6em")) for name in ("back", "step", "reset")}
    status = w.HTML()
    backup = w.HTML(value="<i>click a cell to see its backup, term by term</i>")
    chosen = {"state": None}

    def redraw(*_):
        explorer.goto(sweep.value)
        colours, arrows, V = explorer.colours(), explorer.arrows(), explorer.V
        middle = (V.min() + V.max()) / 2
        for s, cell in enumerate(cells):
            cell.description = f"{V[s]:.2f} {arrows[s]}".strip()
            cell.style.button_color = colours[s]
            cell.style.text_color = "black" if V[s] > middle else "white"
            cell.tooltip = explorer.mdp.state_names[s]
        status.value = html.escape(explorer.status())
        if chosen["state"] is not None:
            backup.value = explorer.explain(chosen["state"])._repr_html_()

    def clicked(state):
        def handler(_):
            chosen["state"] = state
            redraw()
        return handler

    for s, cell in enumerate(cells):
        cell.on_click(clicked(s))
    buttons["step"].on_click(lambda _: setattr(sweep, "value", min(sweep.value + 1, max_sweeps)))
    buttons["back"].on_click(lambda _: setattr(sweep, "value", max(sweep.value - 1, 0)))
    buttons["reset"].on_click(lambda _: setattr(sweep, "value", 0))
    sweep.observe(redraw, names="value")
    redraw()
    controls = w.HBox([play, sweep, *buttons.values()])
    return w.VBox([controls, status, w.HBox([grid, backup])])


def token_tree_widget(explorer: TokenTreeExplorer, prefix: str = "", kl_coef: float = 0.1):
    """The token-tree explorer as an ipywidgets box: a prefix box and a β slider over the table."""
    import ipywidgets as w

    text = w.Text(value=prefix, description="prefix", placeholder="".join(explorer.actions))
    beta = w.FloatLogSlider(value=kl_coef, base=10, min=-3, max=1, step=0.05, description="β (kl_coef)")
    table = w.HTML()

    def redraw(*_):
        try:
            table.value = explorer.table_html(text.value, beta.value)
        except ValueError as error:
            table.value = f"<p style='color:#b00'>{html.escape(str(error))}</p>"

    text.observe(redraw, names="value")
    beta.observe(redraw, names="value")
    redraw()
    return w.VBox([w.HBox([text, beta]), table])
