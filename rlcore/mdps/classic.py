"""The examples of Sutton & Barto (2nd ed.), chapters 3–6, and standard test MDPs. Grid states are numbered row-major.

Grid actions are ``("up", "right", "down", "left")`` (Gymnasium's CliffWalking order); FrozenLake
keeps Gymnasium's own ``("left", "down", "right", "up")``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from rlcore.exact.model import MDP

GRID_ACTIONS = ("up", "right", "down", "left")
_MOVES = {"up": (-1, 0), "right": (0, 1), "down": (1, 0), "left": (0, -1)}


def _grid_mdp(rows: int, cols: int, step, gamma: float, terminal_cells=(), start=None) -> MDP:
    """A deterministic grid MDP: ``step(r, c, action_name) -> (r2, c2, reward)``."""
    S, A = rows * cols, len(GRID_ACTIONS)
    P = np.zeros((S, A, S))
    R = np.zeros((S, A))
    for r in range(rows):
        for c in range(cols):
            for a, name in enumerate(GRID_ACTIONS):
                r2, c2, reward = step(r, c, name)
                P[r * cols + c, a, r2 * cols + c2] = 1.0
                R[r * cols + c, a] = reward
    terminal = np.zeros(S, dtype=bool)
    for r, c in terminal_cells:
        terminal[r * cols + c] = True
    initial = None
    if start is not None:
        initial = np.zeros(S)
        initial[start[0] * cols + start[1]] = 1.0
    names = [f"({r},{c})" for r in range(rows) for c in range(cols)]
    return MDP(P, R, gamma, terminal=terminal, initial=initial, state_names=names,
               action_names=GRID_ACTIONS, grid_shape=(rows, cols))


def _move(r: int, c: int, name: str, rows: int, cols: int):
    """Move one cell; off-grid moves stay put. Returns (r2, c2, went_off_grid)."""
    dr, dc = _MOVES[name]
    r2, c2 = r + dr, c + dc
    if 0 <= r2 < rows and 0 <= c2 < cols:
        return r2, c2, False
    return r, c, True


def gridworld_4x4() -> MDP:
    """Sutton & Barto Example 4.1: a 4x4 grid, terminal corners (0,0) and (3,3), reward −1 on
    every transition, γ = 1; moves off the grid leave the state unchanged (Figure 4.1)."""
    def step(r, c, name):
        r2, c2, _ = _move(r, c, name, 4, 4)
        return r2, c2, -1.0

    return _grid_mdp(4, 4, step, gamma=1.0, terminal_cells=[(0, 0), (3, 3)])


def gridworld_5x5(gamma: float = 0.9) -> MDP:
    """Sutton & Barto Example 3.5 (Figures 3.2 and 3.5): every action in A = (0,1) yields +10 and
    moves to A' = (4,1); in B = (0,3) it yields +5 and moves to B' = (2,3); moves off the grid
    yield −1 and leave the state unchanged; all other moves yield 0. γ = 0.9, no terminal state."""
    def step(r, c, name):
        if (r, c) == (0, 1):
            return 4, 1, 10.0
        if (r, c) == (0, 3):
            return 2, 3, 5.0
        r2, c2, off = _move(r, c, name, 5, 5)
        return r2, c2, -1.0 if off else 0.0

    return _grid_mdp(5, 5, step, gamma=gamma)


def cliff_walking() -> MDP:
    """Sutton & Barto Example 6.6: a 4x12 grid, start (3,0), goal (3,11) terminal, the cliff
    (3,1)…(3,10). Reward −1 per step; stepping into the cliff gives −100 and sends the agent back
    to the start (it does not end the episode). γ = 1. Matches Gymnasium's ``CliffWalking-v1``."""
    rows, cols, start = 4, 12, (3, 0)

    def step(r, c, name):
        r2, c2, _ = _move(r, c, name, rows, cols)
        if r2 == 3 and 1 <= c2 <= 10:
            return start[0], start[1], -100.0
        return r2, c2, -1.0

    return _grid_mdp(rows, cols, step, gamma=1.0, terminal_cells=[(3, 11)], start=start)


def random_walk(n_states: int = 5, left_reward: float = 0.0, right_reward: float = 1.0) -> MDP:
    """Sutton & Barto Example 6.2: a Markov reward process on a line (one action, "walk").

    States 0 and n+1 are terminal; the walk starts in the centre and moves left or right with
    probability 1/2. Entering the right end yields ``right_reward``, the left end
    ``left_reward``; γ = 1. With the defaults v(k) = k/(n+1) for k = 1..n (1/6 … 5/6 for n = 5).
    The 19-state walk of Chapter 7 (Figure 7.2) is ``random_walk(19, left_reward=-1)``.
    """
    if n_states < 1:
        raise ValueError(f"n_states must be ≥ 1; got {n_states}")
    S = n_states + 2
    P = np.zeros((S, 1, S))
    R = np.zeros((S, 1, S))
    for s in range(1, n_states + 1):
        P[s, 0, s - 1] = P[s, 0, s + 1] = 0.5
    P[0, 0, 0] = P[S - 1, 0, S - 1] = 1.0
    R[1, 0, 0] = left_reward
    R[n_states, 0, S - 1] = right_reward
    terminal = np.zeros(S, dtype=bool)
    terminal[[0, S - 1]] = True
    initial = np.zeros(S)
    initial[(S - 1) // 2] = 1.0
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    inner = list(letters[:n_states]) if n_states <= 26 else [str(k) for k in range(1, n_states + 1)]
    return MDP(P, R, 1.0, terminal=terminal, initial=initial,
               state_names=["left end", *inner, "right end"], action_names=["walk"])


def gamblers_problem(p_heads: float = 0.4, goal: int = 100) -> MDP:
    """Sutton & Barto Example 4.3: stake on coin flips until the capital reaches ``goal`` or 0.

    States are capitals 0..goal (0 and goal terminal); reward +1 on reaching the goal, else 0;
    γ = 1. Action i stakes i + 1 (stakes 1 … goal//2). A stake above min(s, goal − s) is not
    allowed in state s; since a tabular MDP has the same actions everywhere, such a stake
    forfeits the capital (moves to 0 with reward 0), which never beats a valid stake and so
    leaves v* unchanged. Stake 0 is left out: with γ = 1, q*(s, 0) = v*(s), so it would tie
    with the optimum everywhere and blur the greedy policy of Figure 4.3.
    """
    if not (0.0 <= p_heads <= 1.0):
        raise ValueError(f"p_heads must lie in [0, 1]; got {p_heads}")
    if goal < 2:
        raise ValueError(f"goal must be ≥ 2; got {goal}")
    S, A = goal + 1, goal // 2
    P = np.zeros((S, A, S))
    R = np.zeros((S, A, S))
    for s in range(S):
        for a in range(A):
            stake = a + 1
            if s in (0, goal) or stake > min(s, goal - s):
                P[s, a, 0 if s != goal else goal] = 1.0
                continue
            P[s, a, s + stake] += p_heads
            P[s, a, s - stake] += 1.0 - p_heads
            if s + stake == goal:
                R[s, a, goal] = 1.0
    terminal = np.zeros(S, dtype=bool)
    terminal[[0, goal]] = True
    return MDP(P, R, 1.0, terminal=terminal, state_names=[str(s) for s in range(S)],
               action_names=[f"stake {a + 1}" for a in range(A)])


def frozen_lake(map_name: str = "4x4", is_slippery: bool = True, gamma: float = 0.99) -> MDP:
    """Gymnasium's ``FrozenLake-v1`` as an MDP (via :meth:`MDP.from_gymnasium`): holes and the goal
    are terminal, reaching the goal yields +1. γ is not part of the Gymnasium environment."""
    import gymnasium as gym

    env = gym.make("FrozenLake-v1", map_name=map_name, is_slippery=is_slippery)
    desc = env.unwrapped.desc
    rows, cols = desc.shape
    names = [f"({r},{c}){desc[r, c].decode()}" for r in range(rows) for c in range(cols)]
    return MDP.from_gymnasium(env, gamma=gamma, state_names=names,
                              action_names=("left", "down", "right", "up"))


def two_state() -> MDP:
    """A two-state MDP to back up by hand in a lecture (γ = 0.9).

    States A and B; actions "stay" and "go".
      - A, stay: remain in A, reward 0.
      - A, go: reward −1; reach B with probability 0.8, slip back to A with probability 0.2.
      - B, stay: remain in B, reward +2.
      - B, go: move to A, reward 0.
    v*(B) = 2/(1 − 0.9) = 20 (stay forever) and v*(A) = (−1 + 0.9·0.8·20)/(1 − 0.9·0.2) = 13.4/0.82.
    """
    P = np.zeros((2, 2, 2))
    P[0, 0, 0] = 1.0
    P[0, 1] = [0.2, 0.8]
    P[1, 0, 1] = 1.0
    P[1, 1, 0] = 1.0
    R = np.array([[0.0, -1.0], [2.0, 0.0]])
    return MDP(P, R, 0.9, state_names=["A", "B"], action_names=["stay", "go"])


def garnet(n_states: int, n_actions: int, branching: int, seed=None, gamma: float = 0.9,
           sparse: bool = False) -> MDP:
    """A random "Garnet" MDP (Archibald et al. 1995; Bhatnagar et al. 2009) for property tests.

    Each (s, a) leads to ``branching`` distinct next states chosen uniformly, with probabilities
    drawn uniformly from the simplex; expected rewards r(s, a) ~ N(0, 1).
    """
    if not (1 <= branching <= n_states):
        raise ValueError(f"branching must lie in [1, n_states={n_states}]; got {branching}")
    rng = np.random.default_rng(seed)
    rows = n_states * n_actions
    next_states = np.stack([rng.choice(n_states, size=branching, replace=False) for _ in range(rows)])
    probs = rng.dirichlet(np.ones(branching), size=rows)
    R = rng.standard_normal((n_states, n_actions))
    flat = sp.csr_matrix((probs.ravel(), (np.repeat(np.arange(rows), branching), next_states.ravel())),
                         shape=(rows, n_states))
    if sparse:
        P = [flat[a::n_actions] for a in range(n_actions)]
    else:
        P = flat.toarray().reshape(n_states, n_actions, n_states)
    return MDP(P, R, gamma)
