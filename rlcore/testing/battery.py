"""The MDPs a student's function is run on: the book's examples and random ones.

Each :class:`Case` builds a fresh MDP on every call (a student's function cannot spoil the next
case by writing into ``mdp.P``). The battery covers what breaks student code: terminal states,
γ = 1 (episodic), γ = 0, one action, several successors per action, S = A (where π and P can be
confused without a shape error), ties between actions, dense and sparse P.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rlcore import mdps
from rlcore.exact.model import MDP


@dataclass(frozen=True)
class Case:
    """A named MDP of the battery.

    Attributes:
        name: what it is, as printed in a report (``"gridworld_4x4 (S&B Example 4.1, γ = 1, episodic)"``).
        make: builds a fresh copy of the MDP.
        tags: ``"textbook"`` or ``"random"``, and any of ``"terminal"``, ``"episodic"`` (γ = 1),
            ``"sparse"``, ``"square"`` (S = A), ``"long_episodes"`` (a random policy needs
            ~10⁵ sweeps of iterative evaluation: left out of the policy-evaluation battery).
    """

    name: str
    make: Callable[[], MDP]
    tags: frozenset = frozenset()

    @property
    def id(self) -> str:
        """A short identifier (the name up to the first blank), for pytest ids."""
        return self.name.split(" ")[0]


def episodic_garnet(n_states: int, n_actions: int, branching: int, seed=None, end_probability: float = 0.2,
                    sparse: bool = False) -> MDP:
    """A random episodic MDP with γ = 1 in which *every* policy terminates.

    A garnet MDP (:func:`rlcore.mdps.garnet`) plus one terminal state, reached from every (s, a)
    with probability ``end_probability`` (the other transitions scaled by 1 − end_probability).
    The last state is the terminal one.
    """
    base = mdps.garnet(n_states, n_actions, branching, seed=seed, gamma=1.0, sparse=False)
    S = n_states + 1
    P = np.zeros((S, n_actions, S))
    P[:n_states, :, :n_states] = (1.0 - end_probability) * base.P
    P[:n_states, :, n_states] = end_probability
    P[n_states, :, n_states] = 1.0
    R = np.zeros((S, n_actions))
    R[:n_states] = base.R
    terminal = np.zeros(S, dtype=bool)
    terminal[n_states] = True
    names = [f"s{i}" for i in range(n_states)] + ["end"]
    if sparse:
        import scipy.sparse as sp

        return MDP([sp.csr_matrix(P[:, a, :]) for a in range(n_actions)], R, 1.0, terminal=terminal, state_names=names)
    return MDP(P, R, 1.0, terminal=terminal, state_names=names)


def garnet_with_terminals(n_states: int, n_actions: int, branching: int, seed=None, gamma: float = 0.9,
                          sparse: bool = False) -> MDP:
    """A garnet MDP whose last quarter of states is terminal (γ < 1)."""
    base = mdps.garnet(n_states, n_actions, branching, seed=seed, gamma=gamma, sparse=sparse)
    terminal = np.zeros(n_states, dtype=bool)
    terminal[n_states - max(1, n_states // 4):] = True
    return MDP(base.P, base.R, gamma, terminal=terminal)


def textbook_cases() -> list[Case]:
    """The book's MDPs, small enough for a student's Python loops."""
    return [
        Case("two_state (γ = 0.9, S = A = 2)", mdps.two_state, frozenset({"textbook", "square"})),
        Case("gridworld_4x4 (S&B Example 4.1, γ = 1, episodic)", mdps.gridworld_4x4,
             frozenset({"textbook", "terminal", "episodic"})),
        Case("gridworld_5x5 (S&B Example 3.5, γ = 0.9)", mdps.gridworld_5x5, frozenset({"textbook"})),
        Case("random_walk (S&B Example 6.2, γ = 1, one action)", mdps.random_walk,
             frozenset({"textbook", "terminal", "episodic"})),
        Case("gamblers_problem (S&B Example 4.3, goal 16, γ = 1, many ties)", lambda: mdps.gamblers_problem(0.4, goal=16),
             frozenset({"textbook", "terminal", "episodic"})),
        Case("cliff_walking (S&B Example 6.6, γ = 1)", mdps.cliff_walking,
             frozenset({"textbook", "terminal", "episodic", "long_episodes"})),
        Case("frozen_lake (4x4, slippery, γ = 0.9)", lambda: mdps.frozen_lake(gamma=0.9),
             frozenset({"textbook", "terminal"})),
    ]


def random_cases(sparse: bool = True) -> list[Case]:
    """Random MDPs: dense and (with ``sparse``) sparse, γ = 0, terminal states, γ = 1 episodic."""
    cases = [
        Case("garnet (dense, 12 states, 3 actions, γ = 0.9)", lambda: mdps.garnet(12, 3, 4, seed=1, gamma=0.9),
             frozenset({"random"})),
        Case("garnet (dense, 4 states = 4 actions, γ = 0.8)", lambda: mdps.garnet(4, 4, 2, seed=2, gamma=0.8),
             frozenset({"random", "square"})),
        Case("garnet (dense, γ = 0)", lambda: mdps.garnet(6, 3, 3, seed=3, gamma=0.0), frozenset({"random"})),
        Case("garnet with terminal states (dense, γ = 0.95)", lambda: garnet_with_terminals(10, 3, 3, seed=4, gamma=0.95),
             frozenset({"random", "terminal"})),
        Case("episodic garnet (dense, γ = 1, every policy terminates)", lambda: episodic_garnet(8, 3, 3, seed=5),
             frozenset({"random", "terminal", "episodic"})),
    ]
    if sparse:
        cases += [
            Case("garnet (sparse, 40 states, 4 actions, γ = 0.9)", lambda: mdps.garnet(40, 4, 3, seed=6, gamma=0.9, sparse=True),
                 frozenset({"random", "sparse"})),
            Case("episodic garnet (sparse, γ = 1)", lambda: episodic_garnet(10, 2, 3, seed=7, sparse=True),
                 frozenset({"random", "sparse", "terminal", "episodic"})),
        ]
    return cases


def battery(sparse: bool = True) -> list[Case]:
    """:func:`textbook_cases` then :func:`random_cases`."""
    return textbook_cases() + random_cases(sparse)


def policies_for(mdp, seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """The policies a student's evaluation is run with: uniform, a random stochastic one and, for
    γ < 1, a random deterministic one (at γ = 1 a deterministic policy may never terminate)."""
    rng = np.random.default_rng(seed)
    S, A = mdp.n_states, mdp.n_actions
    out = [("uniform policy", np.full((S, A), 1.0 / A)),
           ("random stochastic policy", rng.dirichlet(np.ones(A), size=S))]
    if mdp.gamma < 1:
        out.append(("random deterministic policy", np.eye(A)[rng.integers(A, size=S)]))
    return out
