"""N runs of one agent on batched continuous-state dynamics (Mountain Car), stepped in lockstep with numpy.

:func:`rlcore.train_lockstep` steps N copies of an agent on a finite :class:`rlcore.MDP` through its
transition sampler; Mountain Car's states are real vectors, so no finite MDP describes it.
:func:`train_lockstep_dynamics` does the same for dynamics given as two batched functions —
``reset(n, rng)`` (n start states) and ``step(states, actions, rng)`` (next states, rewards,
terminated) — such as :class:`rlcore.approximation.MountainCar`. The agent is the same class that
:func:`rlcore.train` drives on a Gymnasium environment; its copies (``agent.copies(n_runs, rng)``)
get arrays of N observations, exactly as under :func:`rlcore.train_lockstep`, so one run and N
runs share the agent's code. Each run plays its own episodes and finishes after its own
``n_episodes``; the result is the :class:`rlcore.MultiRunHistory` of :func:`rlcore.train_lockstep`
(``tables``: each run's final weights).
"""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from rlcore import _checks
from rlcore.learning.lockstep import MultiRunHistory


def train_lockstep_dynamics(agent, dynamics, n_runs: int, n_episodes: int, *, seed=None,
                            max_episode_steps: int | None = None, progress: bool = False, alpha=None) -> MultiRunHistory:
    """Run ``n_runs`` independent copies of ``agent`` on ``dynamics`` for ``n_episodes`` episodes each.

    Args:
        agent: a configured agent that can make copies (:class:`SemiGradientSarsa`,
            :class:`rlcore.SarsaLambda`); it is left unchanged, every run starts from a copy.
        dynamics: batched dynamics with ``reset(n, rng)`` and ``step(states, actions, rng)``
            (:class:`rlcore.approximation.MountainCar`).
        n_runs: N.
        n_episodes: E, episodes per run.
        seed: seed of the one ``numpy.random.Generator`` of all runs (agents' choices and start states).
        max_episode_steps: truncate an episode after this many steps (the agent bootstraps); None:
            no limit (the book's Mountain Car has none).
        progress: a tqdm bar over the N·E episodes.
        alpha: one step size per run, shape (n_runs,), instead of the agent's own α — a parameter
            study in one call, e.g. ``alpha=np.repeat(alphas, 100)`` for 100 runs of each α (S&B
            Figures 10.2, 12.10); runs keep this order in the result.

    Returns:
        a :class:`rlcore.MultiRunHistory` (``snapshots`` None).
    """
    n_runs = _checks.whole(n_runs, "n_runs", 1)
    n_episodes = _checks.whole(n_episodes, "n_episodes", 1)
    cap = None if max_episode_steps is None else _checks.whole(max_episode_steps, "max_episode_steps", 1)
    rng = np.random.default_rng(seed)
    runs = agent.copies(n_runs, rng, alpha=alpha)
    N, E = n_runs, n_episodes
    returns, lengths = np.zeros((N, E)), np.zeros((N, E), dtype=np.int64)
    truncations = np.zeros((N, E), dtype=bool)
    finals = np.empty_like(runs.table)
    played = np.zeros(N, dtype=np.int64)  # episodes completed by each run
    episode_return, episode_length = np.zeros(N), np.zeros(N, dtype=np.int64)
    bar = tqdm(total=N * E, desc=f"{type(agent).__name__} × {N}", unit="ep", disable=not progress, leave=False)
    everyone = np.arange(N)

    s = dynamics.reset(N, rng)
    a = runs.start(s)
    while (played < E).any():
        s_t, r_t, terminated = dynamics.step(s, a, rng)
        episode_return += r_t
        episode_length += 1
        truncated = False
        if cap is not None:
            truncated = ~terminated & (episode_length >= cap)
            if not truncated.any():
                truncated = False
        done = terminated if truncated is False else terminated | truncated
        if not done.any():
            a = runs.step(r_t, s_t, terminated, truncated)
            s = s_t
            continue
        ended = everyone[done & (played < E)]
        k = played[ended]
        returns[ended, k], lengths[ended, k] = episode_return[ended], episode_length[ended]
        if truncated is not False:
            truncations[ended, k] = truncated[ended]
        episode_return[done], episode_length[done] = 0.0, 0
        played[ended] += 1
        s = s_t.copy()
        s[done] = dynamics.reset(int(done.sum()), rng)
        a = runs.step(r_t, s_t, terminated, truncated, restart=s)
        finished = ended[played[ended] == E]
        finals[finished] = runs.table[finished]
        bar.update(ended.size)
    bar.close()
    return MultiRunHistory(returns, lengths, truncations, finals, None, np.zeros(0, dtype=int))
