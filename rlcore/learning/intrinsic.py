"""Intrinsic rewards (Lecture 7, exploration): a count-based exploration bonus added to the environment's (extrinsic) reward.

    r_t⁺ = r_t + c / √N(s_{t+1})        (or N(s_t, a_t) with ``per="state_action"``)

where N counts visits so far, this one included. The bonus shrinks as a state becomes familiar,
so it pulls an agent towards states it has seen little (Strehl & Littman 2008, MBIE-EB; Bellemare
et al. 2016 for its pseudo-count generalisation). It changes the reward, so it changes what is
optimal while it lasts: it is an exploration device, not a shaping that preserves the optimum
(compare :mod:`rlcore.shaping`).
"""

from __future__ import annotations

from collections import Counter

import gymnasium as gym
import numpy as np

from rlcore import _checks
from rlcore.learning.table import Table


class CountBonus(gym.Wrapper):
    """Add c/√N to every reward; ``info`` keeps the two parts apart.

    Args:
        env: any Gymnasium environment with hashable observations (integer numpy arrays are keyed
            by their entries, as in rlcore's tables).
        scale: c ≥ 0, the bonus scale (the bonus of a first visit).
        per: ``"state"`` counts N(s_{t+1}); ``"state_action"`` counts N(s_t, a_t).

    Info keys added by ``step``: ``"extrinsic_reward"`` (the environment's) and
    ``"intrinsic_reward"`` (the bonus). ``counts`` holds N; it persists across episodes.
    """

    def __init__(self, env, scale: float = 0.1, per: str = "state"):
        super().__init__(env)
        scale = _checks.number(scale, "scale", 0.0, None, meaning="the bonus of a first visit")
        if per not in ("state", "state_action"):
            raise ValueError(f"per must be 'state' or 'state_action'; got {per!r}")
        self.scale = float(scale)
        self.per = per
        self.counts: Counter = Counter()
        self._key = Table(None, 1).key  # the observation keys of rlcore's tables
        self._last_obs = None

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self._last_obs = obs
        return obs, info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        key = self._key(obs) if self.per == "state" else (self._key(self._last_obs), int(action))
        self.counts[key] += 1
        bonus = self.scale / np.sqrt(self.counts[key])
        self._last_obs = obs
        info = dict(info, extrinsic_reward=float(reward), intrinsic_reward=float(bonus))
        return obs, float(reward) + bonus, terminated, truncated, info
