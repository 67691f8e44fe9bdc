"""A Gymnasium environment that samples from an :class:`rlcore.MDP`."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import scipy.sparse as sp
from gymnasium import spaces


class MDPEnv(gym.Env):
    """Samples episodes from a finite MDP: the model you back up is the dynamics you step.

    ## Description
    Each step draws S_{t+1} ~ p(· | S_t, A_t) from the MDP's transition matrix.

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
    ``info["prob"]``: p(S_{t+1} | S_t, A_t) of the sampled transition.

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
        self._P_flat = mdp.P_flat.tocsr() if sp.issparse(mdp.P_flat) else mdp.P_flat
        self._initial_support = np.flatnonzero(mdp.initial)
        self._initial_cdf = np.cumsum(mdp.initial[self._initial_support])
        self._state: int | None = None
        self._last_action: int | None = None
        self._done = True

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._state = int(self._initial_support[_draw(self._initial_cdf, self.np_random)])
        self._last_action = None
        self._done = bool(self.mdp.terminal[self._state])
        return self._state, {"prob": float(self.mdp.initial[self._state])}

    def step(self, action):
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        if self._done:
            raise RuntimeError("the episode has terminated: call reset() before step()")
        if not self.action_space.contains(action):
            raise ValueError(f"invalid action {action!r}: must be an integer in [0, {self.mdp.n_actions})")
        s, a = self._state, int(action)
        successors, probs = self._successors(s, a)
        k = _draw(np.cumsum(probs), self.np_random)
        s2 = int(successors[k])
        rewards = self.mdp.transition_rewards(s, a)
        reward = float(self.mdp.R[s, a] if rewards is None else rewards[s2])
        self._state, self._last_action = s2, a
        self._done = bool(self.mdp.terminal[s2])
        return s2, reward, self._done, False, {"prob": float(probs[k] / probs.sum())}

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

    def _successors(self, s: int, a: int) -> tuple[np.ndarray, np.ndarray]:
        """The states p(·|s, a) can reach and their (unnormalised) probabilities: O(successors), not O(S)."""
        i = s * self.mdp.n_actions + a
        if sp.issparse(self._P_flat):
            lo, hi = self._P_flat.indptr[i], self._P_flat.indptr[i + 1]
            return self._P_flat.indices[lo:hi], self._P_flat.data[lo:hi]
        row = np.asarray(self._P_flat[i])
        successors = np.flatnonzero(row)
        return successors, row[successors]


def _draw(cdf: np.ndarray, rng: np.random.Generator) -> int:
    """Index k drawn with probability (cdf[k] − cdf[k−1]) / cdf[−1]: one uniform, one binary search."""
    return min(int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right")), cdf.size - 1)
