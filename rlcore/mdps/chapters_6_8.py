"""Sutton & Barto (2nd ed.), chapters 6–8: the windy gridworld, maximisation bias, the mazes of Dyna.

Grid states are numbered row-major, row 0 at the top; grid actions are ``("up", "right", "down",
"left")`` as everywhere in :mod:`rlcore.mdps`. The 19-state random walk of Chapter 7 (Figure 7.2)
is :func:`rlcore.mdps.random_walk` ``(19, left_reward=-1)``.

Two examples need more than a plain finite MDP, and each says how it is expressed as one:

- **Maximisation bias** (Example 6.7): state A has two actions and state B many; an
  :class:`rlcore.MDP` has the same actions in every state, so the MDP carries an ``action_mask``
  that the control agents respect (they never choose, nor maximise over, an action that is not
  there). B's rewards are random, N(−0.1, 1): they are drawn by the sampler as the reward of a
  transition into one of K equally likely end states, whose rewards are the normal's K quantiles
  (scaled to mean −0.1 and variance 1 exactly). The expected reward r(B, ·) is −0.1, so the exact
  answer is one call away: ``rlcore.value_iteration(maximization_bias())``.
- **The blocking and shortcut mazes** (Examples 8.2 and 8.3) change after a number of time steps:
  each is two MDPs, before and after (``changed=False`` / ``True``), and
  :func:`rlcore.learning.planning.train_changing` switches from one to the other at the step given
  (``BLOCKING_MAZE_CHANGES_AT``, ``SHORTCUT_MAZE_CHANGES_AT``).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

from rlcore import _checks
from rlcore.exact.model import MDP
from rlcore.mdps.classic import GRID_ACTIONS, _grid_mdp, _move

WINDY_GRIDWORLD_WIND = (0, 0, 0, 1, 1, 1, 2, 2, 1, 0)  # upward push of each column (Example 6.5)
BLOCKING_MAZE_CHANGES_AT = 1000  # time step after which the blocking maze changes (Example 8.2)
SHORTCUT_MAZE_CHANGES_AT = 3000  # time step after which the shortcut opens (Example 8.3)


def windy_gridworld() -> MDP:
    """Sutton & Barto Example 6.5: a 7 × 10 grid with a crosswind up the middle (SARSA's episodes per time step).

    ## Description
    Start S = (3, 0), goal G = (3, 7). In columns 3–8 a wind pushes the agent upward by
    ``WINDY_GRIDWORLD_WIND`` = (0, 0, 0, 1, 1, 1, 2, 2, 1, 0) cells — the strength of the column
    it moves *from* — on top of its own move; it cannot leave the grid (moves are clipped at the
    edges). The shortest path takes 15 steps.

    ## Rewards
    −1 per step until the goal; γ = 1 (undiscounted, episodic).

    ## Episode End
    Reaching the goal (terminal).
    """
    rows, cols = 7, 10

    def step(r, c, name):
        dr, dc = {"up": (-1, 0), "right": (0, 1), "down": (1, 0), "left": (0, -1)}[name]
        r2 = min(max(r + dr - WINDY_GRIDWORLD_WIND[c], 0), rows - 1)
        c2 = min(max(c + dc, 0), cols - 1)
        return r2, c2, -1.0

    return _grid_mdp(rows, cols, step, gamma=1.0, terminal_cells=[(3, 7)], start=(3, 0))


def maximization_bias(n_actions_b: int = 10, mean: float = -0.1, reward_atoms: int = 32) -> MDP:
    """Sutton & Barto Example 6.7 (Figure 6.5): a small MDP where maximising over estimates misleads.

    ## Description
    Episodes start in A. In A, ``right`` ends the episode with reward 0; ``left`` moves to B with
    reward 0. In B each of ``n_actions_b`` actions ends the episode with a reward drawn from
    N(``mean``, 1). Every action from B is worth −0.1 on average, so ``left`` is a mistake; yet a
    learner that maximises over noisy estimates of B's actions sees a positive maximum early on.

    ## Action Space
    ``n_actions_b`` actions, named ``left``, ``right``, ``b2``, …. In A only ``left`` and ``right``
    exist: ``mdp.action_mask`` (bool, (S, A)) is False for A's other actions, and rlcore's control
    agents never take them nor back them up (their values are −∞ in the agent's table). For the
    exact solvers, which see every action, they copy ``right`` (reward 0, end), so v*(A) and
    q*(A, left), q*(A, right) are those of the book's MDP. In B the ``n_actions_b`` actions all
    behave alike.

    ## Observation Space
    ``Discrete(3 + reward_atoms)``: 0 = A, 1 = B, 2 = the end after ``right``, and one end state
    per reward atom (all terminal).

    ## Rewards
    0, except in B: a reward with mean ``mean`` and variance 1, drawn by the sampler as the
    transition into one of ``reward_atoms`` equally likely end states whose rewards are the
    quantiles Φ⁻¹((k − ½)/K) of the standard normal, rescaled to variance 1 and shifted by
    ``mean``. ``mdp.R[B]`` is the expected reward (``mean``); ``mdp.transition_rewards(1, a)``
    lists the atoms. The draws have the mean and variance of N(mean, 1) exactly, and their
    distribution function is within about 0.65/K of the normal's everywhere (0.02 for K = 32).

    ## Starting State
    A. γ = 1.

    ## Arguments
    - ``n_actions_b``: actions in B (≥ 2; the book says "many"; Figure 6.5 is drawn with 10).
    - ``mean``: mean reward of B's actions (−0.1).
    - ``reward_atoms``: K, the number of equally likely rewards that stand in for the normal.
    """
    n_b = _checks.whole(n_actions_b, "n_actions_b", 2, meaning="the number of actions in B")
    mean = _checks.number(mean, "mean", meaning="the mean reward of B's actions")
    K = _checks.whole(reward_atoms, "reward_atoms", 2, meaning="the number of equally likely rewards")
    z = norm.ppf((np.arange(K) + 0.5) / K)
    z = z - z.mean()
    atoms = mean + z / np.sqrt(np.mean(z ** 2))  # mean `mean`, variance 1 exactly
    A_, B_, END = 0, 1, 2
    S, n_actions = 3 + K, n_b
    P = np.zeros((S, n_actions, S))
    R = np.zeros((S, n_actions, S))
    P[A_, 0, B_] = 1.0                     # left: to B, reward 0
    P[A_, 1:, END] = 1.0                   # right (and A's absent actions, for the solvers): end, reward 0
    P[B_, :, 3:] = 1.0 / K                 # every action in B: one of the K end states
    R[B_, :, 3:] = atoms
    P[END:, :, :] = np.eye(S)[END:, None, :]
    terminal = np.zeros(S, dtype=bool)
    terminal[END:] = True
    initial = np.zeros(S)
    initial[A_] = 1.0
    names = ["A", "B", "end", *(f"end ({x:+.2f})" for x in atoms)]
    mdp = MDP(P, R, 1.0, terminal=terminal, initial=initial, state_names=names,
              action_names=["left", "right", *(f"b{a}" for a in range(2, n_actions))])
    mask = np.ones((S, n_actions), dtype=bool)
    mask[A_, 2:] = False
    mdp.action_mask = mask
    return mdp


# ---------------------------------------------------------------------- the mazes of Chapter 8
def _maze(rows: int, cols: int, walls, start, goal, gamma: float) -> MDP:
    """A deterministic maze: moves into a wall or off the grid stay put; +1 on reaching the goal."""
    walls = set(walls)

    def step(r, c, name):
        r2, c2, _ = _move(r, c, name, rows, cols)
        if (r2, c2) in walls:
            r2, c2 = r, c
        return r2, c2, 1.0 if (r2, c2) == goal else 0.0

    mdp = _grid_mdp(rows, cols, step, gamma=gamma, terminal_cells=[goal], start=start)
    mdp.walls = tuple(sorted(r * cols + c for r, c in walls))
    return mdp


def dyna_maze(gamma: float = 0.95) -> MDP:
    """The maze of Sutton & Barto's Example 8.1 (Figure 8.2): 6 × 9 cells with seven wall cells.

    ## Description
    Start S = (2, 0), goal G = (0, 8); wall cells (1, 2), (2, 2), (3, 2), (4, 5), (0, 7), (1, 7),
    (2, 7). Moves into a wall or off the grid leave the state unchanged; the wall cells are states
    that are never entered (``mdp.walls`` lists them). The shortest path takes 14 steps.

    ## Rewards
    0 on every transition except +1 on reaching the goal; γ = 0.95 (the book's).

    ## Episode End
    Reaching the goal (terminal).
    """
    gamma = _checks.number(gamma, "gamma", 0.0, 1.0, meaning="the discount γ")
    walls = [(1, 2), (2, 2), (3, 2), (4, 5), (0, 7), (1, 7), (2, 7)]
    return _maze(6, 9, walls, start=(2, 0), goal=(0, 8), gamma=gamma)


def blocking_maze(changed: bool = False, gamma: float = 0.95) -> MDP:
    """The blocking maze of Sutton & Barto's Example 8.2 (Figure 8.4), before or after it changes.

    ## Description
    6 × 9 cells, start (5, 3), goal (0, 8), a wall across row 3. Before the change
    (``changed=False``) the wall covers columns 0–7 and the short way round is on the right
    (10 steps); after ``BLOCKING_MAZE_CHANGES_AT`` = 1000 time steps (``changed=True``) it covers
    columns 1–8 and the only way is a longer path on the left (16 steps).

    ## Rewards
    +1 on reaching the goal, else 0; γ = 0.95.

    ## Episode End
    Reaching the goal; the next episode starts at the start again.
    """
    _check_bool(changed, "changed")
    gamma = _checks.number(gamma, "gamma", 0.0, 1.0, meaning="the discount γ")
    walls = [(3, c) for c in (range(1, 9) if changed else range(0, 8))]
    return _maze(6, 9, walls, start=(5, 3), goal=(0, 8), gamma=gamma)


def shortcut_maze(changed: bool = False, gamma: float = 0.95) -> MDP:
    """The shortcut maze of Sutton & Barto's Example 8.3 (Figure 8.5), before or after it changes.

    ## Description
    6 × 9 cells, start (5, 3), goal (0, 8), a wall across row 3. Before the change
    (``changed=False``) it covers columns 1–8 and the way round is on the left (16 steps); after
    ``SHORTCUT_MAZE_CHANGES_AT`` = 3000 time steps (``changed=True``) a shortcut opens on the
    right (column 8; 10 steps) and the long way stays open.

    ## Rewards
    +1 on reaching the goal, else 0; γ = 0.95.

    ## Episode End
    Reaching the goal; the next episode starts at the start again.
    """
    _check_bool(changed, "changed")
    gamma = _checks.number(gamma, "gamma", 0.0, 1.0, meaning="the discount γ")
    walls = [(3, c) for c in (range(1, 8) if changed else range(1, 9))]
    return _maze(6, 9, walls, start=(5, 3), goal=(0, 8), gamma=gamma)


def _check_bool(value, name: str) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False; got {value!r}")


__all__ = ["windy_gridworld", "maximization_bias", "dyna_maze", "blocking_maze", "shortcut_maze",
           "WINDY_GRIDWORLD_WIND", "BLOCKING_MAZE_CHANGES_AT", "SHORTCUT_MAZE_CHANGES_AT", "GRID_ACTIONS"]
