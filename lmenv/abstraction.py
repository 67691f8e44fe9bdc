"""State abstraction for token environments: key the state by the last k generated tokens.

A Q-table indexed by the previous token is a common textbook design for text. It aliases every
prefix that ends in the same k tokens — whatever came before and however many steps are left —
so one table row must serve states whose optimal actions differ. ``lmenv.to_mdp`` measures the
cost exactly: map each prefix-tree state through :meth:`LastTokens.observation` and evaluate the
resulting policy on the tree.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class LastTokens(gym.ObservationWrapper):
    """Observation = the last ``k`` generated token ids (left-padded), optionally with the step.

    Args:
        env: a :class:`lmenv.TokenEnv` (or a wrapper of one).
        k: how many trailing tokens to keep (k ≥ 1).
        with_position: also observe the number of tokens generated so far (which tells how many
            steps remain), as a last entry.

    Observation space: ``MultiDiscrete([pad + 1] * k)`` (plus ``[H + 1]`` with the position),
    padded on the left with the environment's ``pad`` id.
    """

    def __init__(self, env, k: int = 1, with_position: bool = False):
        super().__init__(env)
        if int(k) != k or k < 1:
            raise ValueError(f"k must be a positive integer; got {k}")
        base = env.unwrapped
        self.k = int(k)
        self.with_position = with_position
        self.pad = base.pad
        nvec = [base.pad + 1] * self.k + ([base.max_new_tokens + 1] if with_position else [])
        self.observation_space = spaces.MultiDiscrete(np.array(nvec))

    def observation(self, observation: np.ndarray) -> np.ndarray:
        """Full observation (H,) -> abstract observation (k,) or (k + 1,)."""
        generated = observation[observation != self.pad]
        last = np.full(self.k, self.pad, dtype=np.int64)
        tail = generated[-self.k:]
        if tail.size:
            last[self.k - tail.size:] = tail
        if self.with_position:
            return np.append(last, generated.size)
        return last
