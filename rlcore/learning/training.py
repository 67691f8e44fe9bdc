"""One training loop for every agent and every Gymnasium environment with a Discrete action space.

Lectures 5–9. :func:`train` plays ``n_episodes`` episodes, feeding each transition to the agent through its
``start``/``step`` protocol (see :mod:`rlcore.learning.agents`), and returns an :class:`EpisodeHistory`. It keeps
``terminated`` and ``truncated`` apart: the agent bootstraps on truncation, never on termination.

Every episode ends: an environment whose episodes might never terminate (a policy going round in
circles on an MDP without a time limit) is truncated after ``max_episode_steps`` steps —
10,000 by default, with a warning the first time, since an episode that long is usually a policy
stuck in a loop. Truncation, not termination: the agent bootstraps from the last state.

Seeding: ``seed`` is split (``numpy.random.SeedSequence``) into the agent's random stream and the
seed of the environment's first ``reset``; later resets continue the environment's own stream,
as Gymnasium intends. Same agent settings, same environment, same seed → the same EpisodeHistory,
bit for bit.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
from gymnasium import spaces
from tqdm.auto import tqdm

from rlcore import _checks


class _Default(int):
    """The default step cap: an int that remembers it was not chosen by the caller (so it warns)."""


DEFAULT_MAX_EPISODE_STEPS = _Default(10_000)  # truncate episodes this long (with a warning) unless told otherwise


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
    snapshot_every = _checks.whole(snapshot_every, "snapshot_every", 1, meaning="episodes between snapshots")
    return np.unique(np.r_[np.arange(0, n_episodes, snapshot_every), n_episodes])


def check_max_episode_steps(max_episode_steps) -> int | None:
    """The step cap as an int (or None for no cap); ValueError unless a whole number ≥ 1."""
    if max_episode_steps is None or isinstance(max_episode_steps, _Default):
        return max_episode_steps
    return _checks.whole(max_episode_steps, "max_episode_steps", 1, meaning="or None for no limit")


def warn_step_cap(cap: int, who: str) -> None:
    """The warning of the default step cap (once per training call)."""
    warnings.warn(f"{who}: an episode reached max_episode_steps={cap} steps without terminating and was truncated "
                  "(a policy going round in circles?). Give the environment a time limit, pass max_episode_steps, "
                  "or max_episode_steps=None if every episode is certain to end.", RuntimeWarning, stacklevel=3)


def train(agent, env, n_episodes: int, *, seed=None, max_episode_steps: int | None = DEFAULT_MAX_EPISODE_STEPS,
          snapshot_every: int | None = None, progress: bool = True) -> EpisodeHistory:
    """Train ``agent`` on ``env`` for ``n_episodes`` episodes.

    Args:
        agent: any rlcore agent (its table carries over between calls, so a
            second call continues training).
        env: a Gymnasium environment with a Discrete action space and the agent's spaces.
        n_episodes: number of episodes.
        seed: seeds the agent's random stream and the environment's first reset; None leaves
            both streams as they are.
        max_episode_steps: truncate an episode after this many steps (the agent bootstraps, as at
            any time limit). Default 10,000, warning the first time it truncates; None: no cap —
            only for environments whose episodes always end (an MDP from which some start state
            cannot reach a terminal state is refused then).
        snapshot_every: copy the agent's table every that many episodes (and before the first
            and after the last) into ``EpisodeHistory.snapshots``.
        progress: show a tqdm progress bar with the mean return of the last 100 episodes.

    Returns:
        an :class:`EpisodeHistory`.

    Raises:
        TypeError: for a non-Discrete action space or an unhashable observation.
        ValueError: if the environment's spaces do not match the agent's, if the environment pays
            a reward that is not a finite number (naming the episode and step), or for an MDP
            environment that can never end with ``max_episode_steps=None``.
    """
    n_episodes = _checks.whole(n_episodes, "n_episodes", 0)
    cap = check_max_episode_steps(max_episode_steps)
    _check_compatible(agent, env)
    if cap is None:
        _require_episodes_end(env)
    warned = False
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
            if not _finite(reward):
                raise ValueError(f"the environment paid reward {reward!r} at step {n + 1} of episode {episode}: "
                                 "rewards must be finite numbers")
            episode_return += reward
            n += 1
            if n == cap and not (terminated or truncated):
                truncated = True
                if isinstance(cap, _Default) and not warned:
                    warn_step_cap(cap, "train")
                    warned = True
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


def _finite(reward) -> bool:
    """Whether a reward is a finite real number (the check of every step: one call for floats)."""
    try:
        return math.isfinite(reward) and not isinstance(reward, complex)
    except TypeError:
        return False


def _require_episodes_end(env) -> None:
    """For an MDP environment without a cap: ValueError unless every start state can reach a terminal state."""
    from rlcore.exact.dp import states_that_never_terminate
    from rlcore.exact.policies import uniform_policy
    from rlcore.exact.sampling import MDPEnv

    base = getattr(env, "unwrapped", env)
    if not isinstance(base, MDPEnv) or _time_limit(env) is not None:
        return
    mdp = base.mdp
    stuck = np.intersect1d(states_that_never_terminate(mdp, uniform_policy(mdp)), np.flatnonzero(mdp.initial))
    if stuck.size:
        raise ValueError(f"max_episode_steps=None, but no terminal state can be reached from the start states "
                         f"{[mdp.state_names[s] for s in stuck[:10]]}: the episodes would never end")


def _time_limit(env):
    """The max_episode_steps of a TimeLimit wrapper around env, if any."""
    while hasattr(env, "env"):
        if hasattr(env, "_max_episode_steps"):
            return env._max_episode_steps
        env = env.env
    return None


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
