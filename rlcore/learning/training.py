"""One training loop for every agent and every Gymnasium environment with a Discrete action space.

Lectures 5–9. :func:`train` plays ``n_episodes`` episodes, feeding each transition to the agent through its
``start``/``step`` protocol (see :mod:`rlcore.learning.agents`), and returns an :class:`EpisodeHistory`. It keeps
``terminated`` and ``truncated`` apart: the agent bootstraps on truncation, never on termination.

Seeding: ``seed`` is split (``numpy.random.SeedSequence``) into the agent's random stream and the
seed of the environment's first ``reset``; later resets continue the environment's own stream,
as Gymnasium intends. Same agent settings, same environment, same seed → the same EpisodeHistory,
bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from gymnasium import spaces
from tqdm.auto import tqdm


@dataclass(frozen=True, eq=False)
class EpisodeHistory:
    """What :func:`train` returns: one entry per episode.

    Attributes:
        returns: undiscounted sum of rewards of each episode (the y-axis of S&B's learning curves), shape (E,).
        lengths: number of steps of each episode, shape (E,).
        truncated: whether each episode ended by truncation (a time limit) rather than termination, shape (E,).
        snapshots: copies of the agent's table (``agent.Q`` or ``agent.V``) after the numbers of
            episodes in ``snapshot_episodes``; empty without ``snapshot_every``.
        snapshot_episodes: episodes completed at each snapshot (0 = before training), shape (K,).
    """

    returns: np.ndarray
    lengths: np.ndarray
    truncated: np.ndarray
    snapshots: list = field(default_factory=list)
    snapshot_episodes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))

    @property
    def n_steps(self) -> int:
        """Total number of environment steps."""
        return int(self.lengths.sum())

    def __len__(self) -> int:
        return len(self.returns)


def snapshot_schedule(n_episodes: int, snapshot_every: int | None) -> np.ndarray:
    """Episode counts at which tables are copied: 0, k, 2k, …, and ``n_episodes``; empty for None."""
    if snapshot_every is None:
        return np.zeros(0, dtype=int)
    if int(snapshot_every) != snapshot_every or snapshot_every < 1:
        raise ValueError(f"snapshot_every must be a positive integer (episodes between snapshots); got {snapshot_every}")
    return np.unique(np.r_[np.arange(0, n_episodes, int(snapshot_every)), n_episodes])


def train(agent, env, n_episodes: int, *, seed=None, snapshot_every: int | None = None,
          progress: bool = True) -> EpisodeHistory:
    """Train ``agent`` on ``env`` for ``n_episodes`` episodes.

    Args:
        agent: any rlcore agent (its table carries over between calls, so a
            second call continues training).
        env: a Gymnasium environment with a Discrete action space and the agent's spaces.
        n_episodes: number of episodes. Each must end by termination or truncation: wrap
            environments without a time limit in ``gymnasium.wrappers.TimeLimit`` (or use
            ``mdp.to_env(max_episode_steps=...)``) if a policy might never terminate.
        seed: seeds the agent's random stream and the environment's first reset; None leaves
            both streams as they are.
        snapshot_every: copy the agent's table every that many episodes (and before the first
            and after the last) into ``EpisodeHistory.snapshots``.
        progress: show a tqdm progress bar with the mean return of the last 100 episodes.

    Returns:
        an :class:`EpisodeHistory`.

    Raises:
        TypeError: for a non-Discrete action space or an unhashable observation.
        ValueError: if the environment's spaces do not match the agent's.
    """
    if int(n_episodes) != n_episodes or n_episodes < 0:
        raise ValueError(f"n_episodes must be a non-negative integer; got {n_episodes}")
    n_episodes = int(n_episodes)
    _check_compatible(agent, env)
    env_seed = None
    if seed is not None:
        agent_seed, env_seed_sequence = np.random.SeedSequence(seed).spawn(2)
        agent.seed(agent_seed)
        env_seed = int(env_seed_sequence.generate_state(1)[0])
    snapshot_episodes = snapshot_schedule(n_episodes, snapshot_every)
    snapshots = [agent.snapshot()] if snapshot_episodes.size else []
    next_snapshot = 1

    returns = np.zeros(n_episodes)
    lengths = np.zeros(n_episodes, dtype=np.int64)
    truncations = np.zeros(n_episodes, dtype=bool)
    report_every = max(1, n_episodes // 100)
    bar = tqdm(total=n_episodes, desc=type(agent).__name__, unit="ep", disable=not progress, leave=False)
    start, step = agent.start, agent.step
    for episode in range(n_episodes):
        obs, _ = env.reset(seed=env_seed if episode == 0 else None)
        action = start(obs)
        episode_return, n = 0.0, 0
        while True:
            obs, reward, terminated, truncated, _ = env.step(action)
            episode_return += reward
            n += 1
            action = step(reward, obs, terminated, truncated)
            if terminated or truncated:
                break
        returns[episode], lengths[episode], truncations[episode] = episode_return, n, truncated and not terminated
        if next_snapshot < snapshot_episodes.size and episode + 1 == snapshot_episodes[next_snapshot]:
            snapshots.append(agent.snapshot())
            next_snapshot += 1
        if progress:
            bar.update()
            if (episode + 1) % report_every == 0:
                bar.set_postfix(mean_return=f"{returns[max(0, episode - 99):episode + 1].mean():.3g}", refresh=False)
    bar.close()
    return EpisodeHistory(returns, lengths, truncations, snapshots, snapshot_episodes)


def _check_compatible(agent, env) -> None:
    action_space = getattr(env, "action_space", None)
    if not isinstance(action_space, spaces.Discrete):
        raise TypeError(f"train needs an environment with a Discrete action space; got {action_space}")
    if action_space.n != agent.n_actions or action_space.start != agent.action_space.start:
        raise ValueError(f"the environment's action space {action_space} does not match the agent's {agent.action_space}")
    mine, theirs = agent.observation_space, getattr(env, "observation_space", None)
    if isinstance(mine, spaces.Discrete) and (
            not isinstance(theirs, spaces.Discrete) or (theirs.n, theirs.start) != (mine.n, mine.start)):
        raise ValueError(f"the environment's observation space {theirs} does not match the agent's {mine}")
