"""Many independent runs of one agent on an :class:`rlcore.MDP`, stepped in lockstep with numpy.

Lectures 5–7. The textbook learning curves average 50–2000 runs. :func:`train_lockstep` makes N
copies of the agent in one object (:meth:`rlcore.learning.agents.Agent.copies`: the N runs' tables
stacked in one array) and advances all runs by one environment step at a time: one batched
transition draw (:class:`rlcore.exact.sampling.TransitionSampler`), then one call of the agent's
own ``step`` with an array of N transitions. Each run has its own state, episode counter and ε
schedule, and finishes after its own ``n_episodes``.

What is genuinely this module's own is stepping N copies of the MDP: drawing S_0 ~ μ₀ and
S_{t+1} ~ p(·|S_t, A_t), the rewards, ``terminated`` when S_{t+1} is terminal and ``truncated``
after ``max_episode_steps``, and the record of every episode. The learning is the agent's — the
same code as one run of :func:`rlcore.train` — so any agent of rlcore runs here.

Statistically, one lockstep call with N runs is N separate ``rlcore.train`` calls on
``mdp.to_env()``; the random numbers are drawn in a different order, so single runs are not
reproduced bit for bit (the tests compare means across runs, and check exact equality where no
randomness is involved).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from gymnasium import spaces
from tqdm.auto import tqdm

from rlcore import _checks
from rlcore.exact.dp import states_that_never_terminate
from rlcore.exact.policies import uniform_policy
from rlcore.exact.sampling import TransitionSampler
from rlcore.learning.training import (DEFAULT_MAX_EPISODE_STEPS, _Default, check_max_episode_steps, snapshot_schedule,
                                      warn_step_cap)


@dataclass(frozen=True, eq=False)
class MultiRunHistory:
    """What :func:`train_lockstep` returns: one entry per run and episode (the runs on the first axis).

    Attributes:
        returns: undiscounted sum of rewards per run and episode, shape (N, E).
        lengths: steps per run and episode, shape (N, E).
        truncated: whether each episode ended by truncation, shape (N, E).
        tables: each run's final table: Q (N, S, A) of control agents, V (N, S) of evaluation
            agents, θ (N, S, A) of policy-gradient agents.
        snapshots: the tables after the numbers of episodes in ``snapshot_episodes``, shape
            (N, K, S, A) or (N, K, S); None without ``snapshot_every``.
        snapshot_episodes: episodes completed at each snapshot (0 = before training), shape (K,).
    """

    returns: np.ndarray
    lengths: np.ndarray
    truncated: np.ndarray
    tables: np.ndarray
    snapshots: np.ndarray | None
    snapshot_episodes: np.ndarray

    @property
    def n_runs(self) -> int:
        return self.returns.shape[0]


def train_lockstep(agent, mdp, n_runs: int, n_episodes: int, *, seed=None,
                   max_episode_steps: int | None = DEFAULT_MAX_EPISODE_STEPS, snapshot_every: int | None = None,
                   progress: bool = False, alpha=None) -> MultiRunHistory:
    """Run ``n_runs`` independent copies of ``agent`` on ``mdp`` for ``n_episodes`` episodes each.

    Args:
        agent: a configured agent (built for this MDP or ``mdp.to_env()``). Only its settings and
            its current table are read — every run starts from a copy of it — and the agent
            itself is left unchanged.
        mdp: the :class:`rlcore.MDP` to sample from (dense or sparse).
        n_runs: N, the number of independent runs.
        n_episodes: E, episodes per run.
        seed: seed of the one ``numpy.random.Generator`` that drives all runs.
        max_episode_steps: truncate episodes after this many steps (as ``mdp.to_env(max_episode_steps=...)``).
            Default 10,000, warning the first time it truncates (as :func:`rlcore.train`); None: no
            cap, refused when some start state cannot reach a terminal state.
        snapshot_every: copy every run's table every that many episodes (and before the first and
            after the last).
        progress: show a tqdm bar over the N·E episodes.
        alpha: one constant step size per run, shape (n_runs,), instead of the agent's own α — a
            parameter study in one call, e.g. ``alpha=np.repeat(alphas, 100)`` for 100 runs of each
            α (S&B Figures 6.2, 7.2); runs keep this order in the result.

    Returns:
        a :class:`MultiRunHistory`.

    Raises:
        TypeError: for an agent that cannot make copies (a non-Discrete observation space, or an
            evaluated policy given as a callable).
        ValueError: if the agent's spaces do not match the MDP, or an argument is out of range.
    """
    space = agent.observation_space
    if not isinstance(space, spaces.Discrete):
        raise TypeError(f"{type(agent).__name__}: many runs need a Discrete observation space (one table row per "
                        f"state); got {space}")
    if space.n != mdp.n_states or agent.n_actions != mdp.n_actions:
        raise ValueError(f"the agent's spaces ({agent.observation_space}, {agent.action_space}) do not match the MDP "
                         f"(Discrete({mdp.n_states}), Discrete({mdp.n_actions}))")
    n_runs = _checks.whole(n_runs, "n_runs", 1)
    n_episodes = _checks.whole(n_episodes, "n_episodes", 1)
    cap = check_max_episode_steps(max_episode_steps)
    if cap is None:
        stuck = np.intersect1d(states_that_never_terminate(mdp, uniform_policy(mdp)), np.flatnonzero(mdp.initial))
        if stuck.size:
            raise ValueError(f"max_episode_steps=None, but no terminal state can be reached from the start states "
                             f"{[mdp.state_names[s] for s in stuck[:10]]}: the episodes would never end")
    if np.any(mdp.initial[mdp.terminal] > 0):
        raise ValueError("the MDP can start in a terminal state; an episode there has no steps to learn from")
    rng = np.random.default_rng(seed)
    runs = agent.copies(n_runs, rng, alpha=alpha)
    return _run(runs, mdp, n_episodes, rng, cap, snapshot_schedule(n_episodes, snapshot_every),
                progress, f"{type(agent).__name__} × {n_runs}")


def _run(runs, mdp, E, rng, max_steps, snapshot_episodes, progress, name) -> MultiRunHistory:
    """Step the N runs of the agent copies ``runs`` until each has played E episodes.

    Each step's rewards are logged with the episode they belong to (the agent's own counter,
    ``runs.episode``) and summed per episode with ``bincount`` every ``chunk`` steps. A run that
    has played its E episodes keeps stepping (no array is ever resized) but its steps are logged
    to a scratch slot, and its final table is the copy taken when it finished.
    """
    N = runs.n_runs
    sampler = TransitionSampler(mdp)
    terminal = mdp.terminal
    start = sampler.single_start
    tables = runs.table  # (N, S, A) or (N, S), live
    finals = tables.copy()
    snapshots, slot = None, None
    if snapshot_episodes.size:
        snapshots = np.empty((N, snapshot_episodes.size, *tables.shape[1:]))
        snapshots[:, 0] = tables
        slot = np.full(E + 1, -1)
        slot[snapshot_episodes] = np.arange(snapshot_episodes.size)
    base = np.arange(N) * E - 1  # the record slot of run i's episode k (1, 2, …) is base[i] + k
    complete = np.zeros(N, dtype=bool)
    n_complete = 0
    started = np.zeros(N, dtype=np.int64)  # the step after which each run's episode began
    next_cap = np.inf if max_steps is None else max_steps  # no episode reaches the cap before this step
    warned = False
    returns, lengths = np.zeros(N * E + 1), np.zeros(N * E + 1, dtype=np.int64)  # the last slot is scratch
    truncations = np.zeros(N * E + 1, dtype=bool)
    chunk = 1024
    log_r, log_episode = np.zeros((chunk, N)), np.zeros((chunk, N), dtype=np.int64)
    k = 0
    bar = tqdm(total=N * E, desc=name, unit="ep", disable=not progress, leave=False)

    s = sampler.starts(N, rng)
    a = runs.start(s)
    step, next_check = 0, E  # a run plays at most one episode a step: none completes before step next_check
    while n_complete < N:
        step += 1
        s_t, r_t = sampler.steps(s, a, rng)
        terminated = terminal.take(s_t)
        truncated = False
        checked = step >= next_cap  # some episode may have reached max_steps steps
        if checked:
            truncated = ~terminated & (step - started >= max_steps)
            if not truncated.any():
                truncated = False
            elif isinstance(max_steps, _Default) and not warned:
                warn_step_cap(max_steps, "train_lockstep")
                warned = True
        done = terminated if truncated is False else terminated | truncated
        log_r[k], log_episode[k] = r_t, runs.episode
        k += 1
        if k == chunk:
            _flush(log_r, log_episode, k, base, E, returns, lengths)
            k = 0
        if not done.any():
            a = runs.step(r_t, s_t, terminated, truncated)
            s = s_t
            if checked:
                next_cap = started.min() + max_steps
            continue
        if truncated is not False:
            cut = np.flatnonzero(truncated & ~complete)
            truncations[base[cut] + runs.episode[cut]] = True
        if max_steps is not None:
            started[done] = step
            if checked:
                next_cap = started.min() + max_steps
        s = np.where(done, start, s_t) if start is not None else _restart(s_t, done, sampler, rng)
        a = runs.step(r_t, s_t, terminated, truncated, restart=s)  # runs whose episode is over begin the next
        if snapshots is not None or progress:
            ended = np.flatnonzero(done & ~complete)
            if snapshots is not None:
                played = runs.episode[ended] - 1  # episodes completed
                keep = slot[played] >= 0
                snapshots[ended[keep], slot[played[keep]]] = tables[ended[keep]]
            bar.update(ended.size)
        if step >= next_check:
            newly = np.flatnonzero((runs.episode > E) & ~complete)  # runs that have just played their last episode
            finals[newly] = tables[newly]
            complete[newly] = True
            runs.retired[newly] = True  # they keep stepping (no array is resized), their learning is not needed
            n_complete += newly.size
            next_check = step + max(1, E + 1 - int(runs.episode[~complete].max(initial=0)))
    _flush(log_r, log_episode, k, base, E, returns, lengths)
    bar.close()
    shape = (N, E)
    return MultiRunHistory(returns[:-1].reshape(shape), lengths[:-1].reshape(shape), truncations[:-1].reshape(shape),
                           finals, snapshots, snapshot_episodes)


def _restart(s_t, done, sampler, rng):
    """S_t where the episode goes on, a fresh start state S_0 ~ μ₀ where it is over."""
    s_next = s_t.copy()
    s_next[done] = sampler.starts(int(done.sum()), rng)
    return s_next


def _flush(log_r, log_episode, n, base, E, returns, lengths):
    """Add the logged rewards (and step counts) of the last n steps to their episodes; steps of runs
    past their E-th episode go to the scratch slot."""
    slots = np.where(log_episode[:n] <= E, base + log_episode[:n], returns.size - 1).ravel()
    returns += np.bincount(slots, weights=log_r[:n].ravel(), minlength=returns.size)
    lengths += np.bincount(slots, minlength=lengths.size)
