"""Mountain Car (Sutton & Barto, 2nd ed., Example 10.1), batched over runs in numpy, and its cost-to-go picture.

The book's dynamics (Section 10.1), for the car's position x_t and velocity ẋ_t and the action
A_t ∈ {−1, 0, +1} (full throttle reverse, zero throttle, full throttle forward):

    ẋ_{t+1} = bound[ẋ_t + 0.001 A_t − 0.0025 cos(3 x_t)]       −0.07 ≤ ẋ ≤ 0.07
    x_{t+1} = bound[x_t + ẋ_{t+1}]                             −1.2 ≤ x ≤ 0.5

When x reaches the left bound ẋ is reset to 0; reaching the right bound (the goal, x = 0.5) ends
the episode. Each episode starts at x ~ U[−0.6, −0.4) with ẋ = 0; the reward is −1 every step.

Against Gymnasium's ``MountainCar-v0`` (the tests step both from the same states):

- **The same:** the update of ẋ and x (Gymnasium's ``force`` = 0.001, ``gravity`` = 0.0025, same
  order of operations), the speed limit ±0.07, the left wall (x = −1.2 with ẋ < 0 → ẋ = 0), the
  start distribution, the reward −1 per step, termination at x ≥ 0.5. Gymnasium's action ``a`` is
  A = a − 1 (0 = reverse, 1 = zero, 2 = forward), and so is ours.
- **Different:** (1) Gymnasium clips x at 0.6, not 0.5, so the position observed on the last step
  may exceed 0.5 (the terminal state's value is 0 whatever it is); ours stops at 0.5.
  (2) Gymnasium also requires ẋ ≥ ``goal_velocity`` (default 0) to terminate — always true when
  the goal is first crossed, since x only grows with ẋ > 0. (3) ``gym.make("MountainCar-v0")``
  truncates episodes at 200 steps (a ``TimeLimit``); the book has no time limit, and early episodes
  of SARSA last hundreds to thousands of steps — use ``gym.make("MountainCar-v0",
  max_episode_steps=...)`` with a large limit, or the unwrapped environment. (4) Gymnasium
  reports float32 observations of float64 internal state; ours are float64 throughout.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from rlcore import _checks


class MountainCar:
    """Mountain Car's dynamics for N runs at once (S&B Example 10.1); see the module docstring.

    Not a Gymnasium environment: :func:`rlcore.approximation.train_lockstep_dynamics` steps N
    copies of an agent on it, each run in its own episode. States are arrays (..., 2) of
    (position, velocity); actions are 0 (reverse), 1 (zero throttle), 2 (forward).

    Attributes:
        observation_space: the box [−1.2, 0.5] × [−0.07, 0.07] (float64).
        action_space: Discrete(3).
        low, high: the corners of that box.
    """

    min_position, max_position, max_speed = -1.2, 0.5, 0.07
    force, gravity = 0.001, 0.0025
    start_low, start_high = -0.6, -0.4

    def __init__(self):
        self.low = np.array([self.min_position, -self.max_speed])
        self.high = np.array([self.max_position, self.max_speed])
        self.observation_space = spaces.Box(self.low, self.high, dtype=np.float64)
        self.action_space = spaces.Discrete(3)

    def reset(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n start states: x ~ U[−0.6, −0.4), ẋ = 0; shape (n, 2)."""
        states = np.zeros((n, 2))
        states[:, 0] = rng.uniform(self.start_low, self.start_high, size=n)
        return states

    def step(self, states, actions, rng=None):
        """One step of every run: (next states (..., 2), rewards (...), terminated (...)).

        Args:
            states: (position, velocity), shape (..., 2).
            actions: 0, 1 or 2, shape (...).
            rng: unused (the dynamics are deterministic).
        """
        states = np.asarray(states, dtype=float)
        position, velocity = states[..., 0], states[..., 1]
        velocity = velocity + ((np.asarray(actions) - 1) * self.force + np.cos(3 * position) * (-self.gravity))
        velocity = np.minimum(np.maximum(velocity, -self.max_speed), self.max_speed)  # bound[·]
        position = np.minimum(np.maximum(position + velocity, self.min_position), self.max_position)
        velocity = np.where((position == self.min_position) & (velocity < 0), 0.0, velocity)  # the left wall
        terminated = position >= self.max_position
        next_states = np.empty(states.shape)
        next_states[..., 0], next_states[..., 1] = position, velocity
        return next_states, np.full(terminated.shape, -1.0), terminated

    def __repr__(self) -> str:
        return "MountainCar()"


def book_tile_coder(n_tilings: int = 8, tiles: int = 8):
    """The book's tile coder for Mountain Car (Section 10.1): ``n_tilings`` tilings of ``tiles`` ×
    ``tiles`` tiles over position [−1.2, 0.5] and velocity [−0.07, 0.07]."""
    from rlcore.approximation.features import TileCoder

    return TileCoder([MountainCar.min_position, -MountainCar.max_speed],
                     [MountainCar.max_position, MountainCar.max_speed], n_tilings, tiles)


def cost_to_go_grid(features, w, resolution: int = 40):
    """(positions, velocities, cost) on a grid over the box of the features: cost = −max_a q̂(s, a, w)
    (S&B Figure 10.1), each of shape (resolution, resolution) (velocity along the rows).

    Args:
        features: the binary features of the weights (a :class:`~rlcore.approximation.TileCoder`).
        w: one run's weights, shape (A, d) (``agent.w``, or a snapshot of it).
        resolution: grid points per axis.
    """
    resolution = _checks.whole(resolution, "resolution", 2, meaning="grid points per axis")
    w = np.asarray(w)
    if w.ndim != 2 or w.shape[1] != features.n_features:
        raise ValueError(f"w must be one run's weights, shape (A, {features.n_features}); got shape {w.shape}")
    low, high = features.low, features.high
    positions, velocities = np.meshgrid(np.linspace(low[0], high[0], resolution), np.linspace(low[1], high[1], resolution))
    active = features.active(np.stack([positions, velocities], axis=-1))  # (R, R, k)
    q = w[:, active].sum(axis=-1)  # (A, R, R)
    return positions, velocities, -q.max(axis=0)


def plot_cost_to_go(features, w, ax=None, resolution: int = 40, title: str | None = None):
    """The cost-to-go surface −max_a q̂(s, a, w) over (position, velocity), as in S&B Figure 10.1.

    Args:
        features: the tile coder of the weights.
        w: one run's weights, shape (A, d) (``agent.w`` of :class:`SemiGradientSarsa` or
            :class:`rlcore.SarsaLambda`, or a snapshot of it).
        ax: a 3-D matplotlib axes (``projection="3d"``); a new figure when None.
        resolution: grid points per axis.
        title: the axes' title.

    Returns:
        the axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        ax = plt.figure(figsize=(5, 4)).add_subplot(projection="3d")
    positions, velocities, cost = cost_to_go_grid(features, w, resolution)
    ax.plot_surface(positions, velocities, cost, cmap="viridis", linewidth=0, antialiased=True)
    ax.set_xlabel("position")
    ax.set_ylabel("velocity")
    ax.set_zlabel("−max q̂")
    if title is not None:
        ax.set_title(title)
    return ax
