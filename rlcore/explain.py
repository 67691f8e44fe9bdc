"""One Bellman backup at one state, written out term by term (Sutton & Barto, 2nd ed., Sections 3.5–3.6, 4.1, 4.4).

Lectures 2–4. The backup of a value vector V at a state s is, for every action a,

    q(s, a) = r(s, a) + Σ_{s'} p(s'|s, a) · γ V(s')                      (S&B eq. 4.6)

followed by the π-weighted average v(s) = Σ_a π(a|s) q(s, a) (T^π, eq. 4.5) or the maximum
v(s) = max_a q(s, a) (T*, eq. 4.10). :func:`explain_backup` returns every number of that
computation — each successor with its probability and γ·V(s'), each action's sum, the average or
the maximum — as a small table object that prints as text (``str``), renders as an HTML table in
a notebook (``_repr_html_``), and is plain data for other programs (``dataclasses.asdict``).

The numbers are rlcore's own: the value of a terminal successor is read as 0, whatever V holds
there (S&B Section 3.4), and ``q`` equals ``rlcore.q_from_v(mdp, V)[s, a]``.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from rlcore import _checks
from rlcore.exact.model import MDP, PROBABILITY_ATOL
from rlcore.exact.policies import TIE_ATOL


@dataclass(frozen=True)
class Successor:
    """One term p(s'|s, a) · γ V(s') of a backup.

    Attributes:
        state: the index of s'.
        name: its name (``mdp.state_names[state]``).
        probability: p(s'|s, a) > 0.
        value: V(s') as the backup reads it (0 for a terminal s').
        discounted: γ·V(s').
        terminal: whether s' is terminal.
    """

    state: int
    name: str
    probability: float
    value: float
    discounted: float
    terminal: bool

    @property
    def term(self) -> float:
        """p(s'|s, a) · γ V(s'), this successor's share of the sum."""
        return self.probability * self.discounted


@dataclass(frozen=True)
class ActionBackup:
    """q(s, a) = r(s, a) + Σ_{s'} p(s'|s, a) γ V(s') for one action.

    Attributes:
        action: the index of a.
        name: its name (``mdp.action_names[action]``).
        probability: π(a|s) for an expectation backup; None for an optimality backup.
        reward: r(s, a), the expected reward.
        successors: the s' with p(s'|s, a) > 0, in index order.
        q: the sum r(s, a) + Σ_{s'} p(s'|s, a) γ V(s').
    """

    action: int
    name: str
    probability: float | None
    reward: float
    successors: tuple[Successor, ...]
    q: float


@dataclass(frozen=True)
class Backup:
    """The one-step backup of V at a state (what :func:`explain_backup` returns).

    Attributes:
        state: the index of s.
        name: its name.
        gamma: γ.
        kind: ``"optimality"`` (v(s) = max_a q(s, a), T*) or ``"expectation"``
            (v(s) = Σ_a π(a|s) q(s, a), T^π).
        terminal: whether s is terminal (then ``value`` is 0 by definition and ``actions`` is empty).
        actions: one :class:`ActionBackup` per action, in index order.
        value: the backed-up value (T*V)(s) or (T^π V)(s).
        best: for ``"optimality"``, the indices of the maximising actions (within 1e-9); else ().
        current: V(s), the value the backup would replace (as given, even at a terminal state).
    """

    state: int
    name: str
    gamma: float
    kind: str
    terminal: bool
    actions: tuple[ActionBackup, ...]
    value: float
    best: tuple[int, ...]
    current: float

    @property
    def q(self) -> np.ndarray:
        """q(s, ·) of every action, shape (A,) (empty at a terminal state)."""
        return np.array([row.q for row in self.actions])

    def to_text(self, digits: int = 3) -> str:
        """The backup as a text table with ``digits`` digits after the decimal point."""
        return _text(self, digits)

    def __str__(self) -> str:
        return _text(self, 3)

    def _repr_html_(self) -> str:
        return _html(self, 3)


def explain_backup(mdp, V, state, policy=None) -> Backup:
    """The one-step backup of V at ``state``, every term of it (S&B eqs. 4.5, 4.6, 4.10).

    For each action a: r(s, a), each successor s' with p(s'|s, a) > 0, its probability and γ·V(s'),
    and q(s, a) = r(s, a) + Σ_{s'} p(s'|s, a) γ V(s'); then v(s) = max_a q(s, a) (no policy: the
    optimality backup T*) or v(s) = Σ_a π(a|s) q(s, a) (the expectation backup T^π).

    Args:
        mdp: an :class:`rlcore.MDP` (dense or sparse).
        V: state values, shape (S,); terminal successors are read as 0.
        state: the state, as an index or as one of ``mdp.state_names`` (``"(2,3)"``).
        policy: π, shape (S, A), or π(·|s) alone, shape (A,); None for the optimality backup.

    Returns:
        a :class:`Backup`: ``print(backup)`` writes it as a table; in a notebook it renders as HTML.

    Raises:
        TypeError: if ``mdp`` is not an :class:`rlcore.MDP`.
        ValueError: for a V of the wrong shape or with NaN/inf, an unknown state, or a policy
            that is not a distribution over the actions.
    """
    if not isinstance(mdp, MDP):
        raise TypeError(f"mdp must be an rlcore.MDP; got {type(mdp).__name__}")
    V = _checks.real_array(V, "V")
    if V.shape != (mdp.n_states,):
        raise ValueError(f"V must have shape (S,) = ({mdp.n_states},); got {V.shape}")
    s = state_index(mdp, state)
    pi_s = None if policy is None else _policy_row(mdp, policy, s)
    gamma = mdp.gamma
    name = mdp.state_names[s]
    if mdp.terminal[s]:
        return Backup(s, name, gamma, "optimality" if pi_s is None else "expectation", True, (), 0.0, (), float(V[s]))
    rows = []
    for a in range(mdp.n_actions):
        successors = tuple(
            Successor(int(t), mdp.state_names[t], float(p), v := (0.0 if mdp.terminal[t] else float(V[t])), gamma * v,
                      bool(mdp.terminal[t]))
            for t, p in _transitions(mdp, s, a)
        )
        q = float(mdp.R[s, a]) + sum(x.term for x in successors)
        rows.append(ActionBackup(a, mdp.action_names[a], None if pi_s is None else float(pi_s[a]),
                                 float(mdp.R[s, a]), successors, q))
    q = np.array([row.q for row in rows])
    if pi_s is None:
        value = float(q.max())
        best = tuple(int(a) for a in np.flatnonzero(q >= value - TIE_ATOL))
        kind = "optimality"
    else:
        value = float(pi_s @ q)
        best = ()
        kind = "expectation"
    return Backup(s, name, gamma, kind, False, tuple(rows), value, best, float(V[s]))


def state_index(mdp, state) -> int:
    """The index of ``state``, given as an index or as one of ``mdp.state_names``."""
    if isinstance(state, str):
        try:
            return mdp.state_names.index(state)
        except ValueError:
            shown = ", ".join(repr(n) for n in mdp.state_names[:8]) + (", …" if mdp.n_states > 8 else "")
            raise ValueError(f"state {state!r} is not one of the MDP's state names ({shown})") from None
    s = _checks.whole(state, "state", 0, meaning="a state index or name")
    if s >= mdp.n_states:
        raise ValueError(f"state must be an index in [0, {mdp.n_states - 1}] or a state name; got {state!r}")
    return s


def display_name(name: str) -> str:
    """A state or action name as it is printed: quoted when empty or with surrounding blanks (a text prefix)."""
    return repr(name) if (not name or name != name.strip() or "\n" in name) else name


# ---------------------------------------------------------------------- internals
def _transitions(mdp, s: int, a: int):
    """(s', p(s'|s, a)) for every successor with positive probability, in index order."""
    row = mdp.P_flat[s * mdp.n_actions + a]
    if sp.issparse(row):
        row = row.tocoo()
        order = np.argsort(row.col)
        return [(int(t), float(p)) for t, p in zip(row.col[order], row.data[order]) if p > 0]
    row = np.asarray(row).ravel()
    return [(int(t), float(row[t])) for t in np.flatnonzero(row > 0)]


def _policy_row(mdp, policy, s: int) -> np.ndarray:
    pi = _checks.real_array(policy, "policy")
    if pi.shape == (mdp.n_states, mdp.n_actions):
        pi = pi[s]
    elif pi.shape != (mdp.n_actions,):
        raise ValueError(f"policy must have shape (S, A) = ({mdp.n_states}, {mdp.n_actions}) or (A,) = "
                         f"({mdp.n_actions},); got {pi.shape}")
    if np.any(pi < 0) or abs(pi.sum() - 1.0) > PROBABILITY_ATOL:
        raise ValueError(f"policy at state {display_name(mdp.state_names[s])} must be a distribution over the actions "
                         f"(non-negative, summing to 1); got {np.round(pi, 6).tolist()}")
    return pi


def _fmt(x: float, digits: int) -> str:
    text = f"{x:.{digits}f}"
    return "0." + "0" * digits if text.lstrip("-") == "0." + "0" * digits else text  # no "-0.000"


def _signed(x: float, digits: int) -> str:
    text = _fmt(x, digits)
    return f"({text})" if text.startswith("-") else text


def _header(b: Backup) -> str:
    name = display_name(b.name)
    if b.kind == "optimality":
        rule = "v(s) = max_a q(s,a)"
    else:
        rule = "v(s) = Σ_a π(a|s) q(s,a)"
    return f"Backup at state {name} (γ = {b.gamma:g}): q(s,a) = r(s,a) + Σ_s' p(s'|s,a)·γV(s'), {rule}"


def _rows(b: Backup, digits: int):
    """The table as rows of cells: header, then one row per successor (action columns on the first)."""
    expectation = b.kind == "expectation"
    head = ["action"] + (["π(a|s)"] if expectation else []) + ["r(s,a)", "s'", "p(s'|s,a)", "γ·V(s')", "p·γ·V(s')", "q(s,a)"]
    rows = [head]
    for row in b.actions:
        mark = " *" if row.action in b.best else ""
        for i, x in enumerate(row.successors):
            first = i == 0
            cells = [display_name(row.name) + mark if first else ""]
            if expectation:
                cells.append(_fmt(row.probability, digits) if first else "")
            cells += [_fmt(row.reward, digits) if first else "",
                      display_name(x.name) + (" (terminal)" if x.terminal else ""),
                      _fmt(x.probability, digits), _fmt(x.discounted, digits), _fmt(x.term, digits),
                      _fmt(row.q, digits) if first else ""]
            rows.append(cells)
    return rows


def _summary(b: Backup, digits: int) -> str:
    name = display_name(b.name)
    if b.terminal:
        return f"{name} is terminal: its value is 0 by definition (S&B Section 3.4)."
    if b.kind == "optimality":
        best = ", ".join(display_name(b.actions[a].name) for a in b.best)
        return f"v({name}) = max_a q({name}, a) = {_fmt(b.value, digits)}  (maximising action: {best})"
    terms = " + ".join(f"{_fmt(r.probability, 2)}·{_signed(r.q, digits)}" for r in b.actions if r.probability > 0)
    return f"v({name}) = Σ_a π(a|s) q(s,a) = {terms} = {_fmt(b.value, digits)}"


def _text(b: Backup, digits: int) -> str:
    lines = [_header(b)]
    if not b.terminal:
        rows = _rows(b, digits)
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        left = {rows[0].index("action"), rows[0].index("s'")}  # names left-aligned, numbers right-aligned
        for r in rows:
            lines.append("  " + "  ".join(c.ljust(w) if i in left else c.rjust(w)
                                          for i, (c, w) in enumerate(zip(r, widths))).rstrip())
    lines.append(_summary(b, digits))
    return "\n".join(lines)


def _html(b: Backup, digits: int) -> str:
    parts = [f"<div><p>{html.escape(_header(b), quote=False)}</p>"]
    if not b.terminal:
        rows = _rows(b, digits)
        parts.append("<table><thead><tr>" + "".join(f"<th>{html.escape(c, quote=False)}</th>" for c in rows[0]) + "</tr></thead><tbody>")
        for r in rows[1:]:
            parts.append("<tr>" + "".join(f"<td>{html.escape(c, quote=False)}</td>" for c in r) + "</tr>")
        parts.append("</tbody></table>")
    parts.append(f"<p>{html.escape(_summary(b, digits), quote=False)}</p></div>")
    return "".join(parts)
