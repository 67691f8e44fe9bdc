"""Sampling from a finite MDP: the model you back up is the dynamics you step (Sutton & Barto, 2nd ed., Section 3.1).

Lectures 2 and 5. :class:`TransitionSampler` is the one sampler of an MDP's dynamics in rlcore:
S_0 ~ μ₀, S_{t+1} ~ p(·|S_t, A_t) and the reward r(s, a, s') (or r(s, a) when the MDP has only
expected rewards). It draws for one state — :class:`MDPEnv`, the Gymnasium environment of an
MDP, and :func:`rlcore.sample_episode` — or for a batch of runs at once —
:func:`rlcore.train_lockstep`.

How a draw works: P_flat (S·A, S) is kept as CSR, so row s·A + a holds the possible next states
of (s, a). Within each row the cumulative probabilities are offset by the row index into one
increasing array of keys (row r's entries lie in (r, r + 1]), so one ``searchsorted`` of
``row + u`` draws a next state for every run at once. A single draw inverts the row's own
cumulative sums at u, with the same result.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import scipy.sparse as sp
from gymnasium import spaces


class TransitionSampler:
    """Draws start states and transitions of an :class:`rlcore.MDP`, for one state or a batch.

    Args:
        mdp: the MDP (dense or sparse P).

    Attributes:
        deterministic: every (s, a) has exactly one next state (gridworlds, the cliff): batch
            draws then use no random numbers.
        single_start: the start state when μ₀ puts all its mass on one state, else None.
    """

    def __init__(self, mdp):
        P = sp.csr_matrix(mdp.P_flat, dtype=float)
        P.eliminate_zeros()
        P.sort_indices()
        self.n_actions = mdp.n_actions
        self.indptr, self.indices = P.indptr, P.indices
        counts = np.diff(P.indptr)
        row_of = np.repeat(np.arange(P.shape[0]), counts)
        totals = np.asarray(P.sum(axis=1)).ravel()
        self.within = np.cumsum(P.data) - np.repeat(np.r_[0.0, np.cumsum(totals)[:-1]], counts)  # Σ_{s'' ≤ s'} p within the row
        self.totals = totals
        self.probs = P.data
        keys = np.minimum(self.within / totals[row_of], 1.0)
        self.last = P.indptr[1:] - 1  # each row's last entry, which closes it exactly
        keys[self.last] = 1.0
        self.keys = row_of + keys  # increasing; row r's entries lie in (r, r + 1]
        self.deterministic = bool(np.all(counts == 1))
        if mdp.transition_rewards(0, 0) is None:
            self.rewards = mdp.R.ravel()[row_of]
        else:
            self.rewards = np.empty(P.nnz)
            for row in range(P.shape[0]):
                lo, hi = P.indptr[row], P.indptr[row + 1]
                self.rewards[lo:hi] = mdp.transition_rewards(*divmod(row, mdp.n_actions))[self.indices[lo:hi]]
        self._successors = counts.tolist()  # per row s·A + a, how many next states (1: no search)
        self._first = P.indptr[:-1].tolist()
        self.initial_support = np.flatnonzero(mdp.initial)
        self.initial_cdf = np.cumsum(mdp.initial[self.initial_support])
        self.single_start = int(self.initial_support[0]) if self.initial_support.size == 1 else None
        if self.deterministic:  # (S, A) tables of the one next state and its reward
            self.next_state = self.indices[self.last].reshape(-1, mdp.n_actions)
            self.next_reward = self.rewards[self.last].reshape(-1, mdp.n_actions)

    # ------------------------------------------------------------------ one state
    def start(self, rng: np.random.Generator) -> int:
        """S_0 ~ μ₀ (one uniform number, always)."""
        k = np.searchsorted(self.initial_cdf, rng.random() * self.initial_cdf[-1], side="right")
        return int(self.initial_support[min(int(k), self.initial_cdf.size - 1)])

    def step(self, s: int, a: int, rng: np.random.Generator) -> tuple[int, float, float]:
        """(S', R, p(S'|s, a)) for one (s, a), with one uniform number (always, deterministic or not)."""
        row = s * self.n_actions + a
        u = rng.random()
        entry, n = self._first[row], self._successors[row]
        if n > 1:
            entry += min(int(np.searchsorted(self.within[entry:entry + n], u * self.totals[row], side="right")), n - 1)
        return int(self.indices[entry]), float(self.rewards[entry]), float(self.probs[entry] / self.totals[row])

    # ------------------------------------------------------------------ a batch of runs
    def starts(self, k: int, rng: np.random.Generator) -> np.ndarray:
        """k start states S_0 ~ μ₀, shape (k,) (no random numbers when μ₀ has one state)."""
        if self.single_start is not None:
            return np.full(k, self.single_start)
        draws = np.searchsorted(self.initial_cdf, rng.random(k) * self.initial_cdf[-1], side="right")
        return self.initial_support[np.minimum(draws, self.initial_cdf.size - 1)]

    def steps(self, s: np.ndarray, a: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(S', R) for every run, shapes (k,), from the states s and actions a, shapes (k,)."""
        if self.deterministic:
            return self.next_state[s, a], self.next_reward[s, a]
        rows = s * self.n_actions + a  # the rows s·A + a of P_flat
        # u < 1, so row + u lands in row r's interval; min() guards the rounding of r + u to r + 1
        entry = np.minimum(np.searchsorted(self.keys, rows + rng.random(rows.size), side="right"), self.last.take(rows))
        return self.indices.take(entry), self.rewards.take(entry)


class MDPEnv(gym.Env):
    """Samples episodes from a finite MDP: the model you back up is the dynamics you step.

    ## Description
    Each step draws S_{t+1} ~ p(· | S_t, A_t) from the MDP's transition matrix
    (:class:`TransitionSampler`).

    ## Action Space
    ``Discrete(A)``; an action outside it raises ``ValueError``.

    ## Observation Space
    ``Discrete(S)``: the index of the current state.

    ## Starting State
    Drawn from the MDP's start distribution μ₀ (``mdp.initial``).

    ## Rewards
    r(s, a, s') when the MDP was given transition rewards, else the expected reward r(s, a).

    ## Episode End
    Termination when S_{t+1} is a terminal state. This environment never truncates; pass
    ``max_episode_steps`` to :meth:`rlcore.MDP.to_env` for a time limit (truncation).
    Stepping an episode that has terminated raises ``RuntimeError``: call ``reset()``.

    ## Information
    ``info["prob"]``: p(S_{t+1} | S_t, A_t) of the sampled transition (μ₀(S_0) after ``reset``).

    ## The transition table
    Like Gymnasium's toy-text environments (FrozenLake, CliffWalking, Taxi), the environment exposes
    its model: ``env.unwrapped.P[s][a]`` is the list of ``(probability, next_state, reward,
    terminated)`` of (s, a) — r(s, a, s') with transition rewards, r(s, a) otherwise — and
    ``env.unwrapped.initial_state_distrib`` is μ₀. Code written for FrozenLake's ``P`` runs on any
    rlcore MDP, and ``MDP.from_gymnasium(mdp.to_env(), gamma=mdp.gamma)`` gives the MDP back.

    ## Arguments
    ``mdp``, ``render_mode`` (None or ``"ansi"``).
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(self, mdp, render_mode: str | None = None):
        if render_mode not in (None, "ansi"):
            raise ValueError(f"render_mode must be None or 'ansi'; got {render_mode!r}")
        self.mdp = mdp
        self.render_mode = render_mode
        self.observation_space = spaces.Discrete(mdp.n_states)
        self.action_space = spaces.Discrete(mdp.n_actions)
        self.sampler = TransitionSampler(mdp)
        self._n_actions = mdp.n_actions
        self.initial_state_distrib = mdp.initial
        self._P = None
        self._state: int | None = None
        self._last_action: int | None = None
        self._done = True

    @property
    def P(self) -> dict:
        """The toy-text transition table ``P[s][a] = [(probability, next_state, reward, terminated), ...]``
        (built on first use: one entry per possible transition)."""
        if self._P is None:
            sampler, terminal, A = self.sampler, self.mdp.terminal, self.mdp.n_actions
            table = {s: {a: [] for a in range(A)} for s in range(self.mdp.n_states)}
            for row in range(self.mdp.n_states * A):
                s, a = divmod(row, A)
                for entry in range(sampler.indptr[row], sampler.indptr[row + 1]):
                    s2 = int(sampler.indices[entry])
                    table[s][a].append((float(sampler.probs[entry] / sampler.totals[row]), s2,
                                        float(sampler.rewards[entry]), bool(terminal[s2])))
            self._P = table
        return self._P

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._state = self.sampler.start(self.np_random)
        self._last_action = None
        self._done = bool(self.mdp.terminal[self._state])
        return self._state, {"prob": float(self.mdp.initial[self._state])}

    def step(self, action):
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        if self._done:
            raise RuntimeError("the episode has terminated: call reset() before step()")
        if not (type(action) is int and 0 <= action < self._n_actions) and not self.action_space.contains(action):
            raise ValueError(f"invalid action {action!r}: must be an integer in [0, {self.mdp.n_actions})")
        a = int(action)
        s2, reward, prob = self.sampler.step(self._state, a, self.np_random)
        self._state, self._last_action = s2, a
        self._done = bool(self.mdp.terminal[s2])
        return s2, reward, self._done, False, {"prob": prob}

    def render(self):
        if self.render_mode != "ansi":
            return None
        mdp, s = self.mdp, self._state
        if s is None:
            return "(not reset)\n"
        action = "" if self._last_action is None else f" after {mdp.action_names[self._last_action]}"
        if mdp.grid_shape is None:
            return f"state {mdp.state_names[s]}{action}\n"
        rows, cols = mdp.grid_shape
        cells = np.full(rows * cols, ".", dtype="<U1")
        cells[mdp.terminal] = "T"
        cells[s] = "x"
        grid = "\n".join("".join(cells[r * cols:(r + 1) * cols]) for r in range(rows))
        return f"{grid}\nstate {mdp.state_names[s]}{action}\n"
