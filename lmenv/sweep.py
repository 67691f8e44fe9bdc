"""Sweeps: every (config, seed) pair as one training run, on this machine or as tasks on a Ray cluster.

A sweep trains a learner once per (config, seed) and scores each run exactly::

    runs = lmenv.sweep.run({"ppo": ppo.Config(iterations=100), "a2c": a2c.Config()}, seeds=range(5))
    print(lmenv.sweep.table(runs))

Each run is a pure function of its task: it builds its own environment (``env``: a callable such
as :func:`lmenv.learners.documented_env`, or the keyword arguments of :class:`lmenv.TokenEnv`),
its prefix tree (``exact=True``), and calls the learner's ``train(env, config, tree)`` with the
seed in the config and torch on ``threads`` threads. Runs share no state (no global random
generator, no prefix cache), so where they run does not change what they compute:

- ``address=None`` (the default): one after another in this process; Ray is not needed;
- ``address="local"``: as Ray tasks on a Ray instance started on this machine, in parallel;
- ``address="auto"``, ``"ray://host:10001"``, ``"host:6379"``: as tasks on that Ray cluster (its
  workers need lmenv installed: pass ``ray_options={"runtime_env": {...}}``), or on the Ray
  instance this process is already connected to.

On the same hardware (and the same number of threads per task) the results are identical, to the
last digit, in the three cases (``tests/lmenv/test_sweep.py``). Ray is the optional extra ``ray``.
A task asks Ray for ``threads`` CPUs and ``gpus_per_task`` GPUs; with a GPU the environment's
model is on it (``lmenv.default_device()``).

Reference: Moritz et al. (2018), "Ray: A Distributed Framework for Emerging AI Applications", OSDI.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True, eq=False)
class SweepRun:
    """One (config, seed) run of a sweep: what ``train`` returned, without the network itself.

    Attributes:
        name: the config's name in the sweep.
        config: the settings of the run (with its seed).
        seed: the seed.
        score: the exact :class:`lmenv.Score` at the end (None with ``exact=False``).
        history: metric name -> (iterations, values), as in :class:`lmenv.learners.TrainResult`.
        wall_time, cpu_time, rollout_time, update_time: seconds, as in ``TrainResult``.
        tokens, episodes: generated in the run.
        state_dict: the trained network's weights on the CPU (with ``keep_weights=True``), else None.
    """

    name: str
    config: object
    seed: int
    score: object
    history: dict
    wall_time: float
    cpu_time: float
    rollout_time: float
    update_time: float
    tokens: int
    episodes: int
    state_dict: dict | None = None


def run(configs, seeds: Iterable[int] = (0,), env: Callable | Mapping | None = None, exact: bool = True,
        address: str | None = None, threads: int = 1, gpus_per_task: float = 0, keep_weights: bool = False,
        progress: bool = True, ray_options: dict | None = None) -> list[SweepRun]:
    """Train every config with every seed, each run a task; results in the order of (config, seed).

    Args:
        configs: learner configs (``lmenv.learners.<learner>.Config``): a mapping name -> config, a
            sequence of configs (named after their learners), or one config. Each config's class
            names its learner (:func:`lmenv.learners.learner_of`).
        seeds: the seeds; each replaces the config's ``seed``.
        env: how each task makes its environment: a picklable callable with no arguments (default
            :func:`lmenv.learners.documented_env`), or a mapping of :class:`lmenv.TokenEnv` keyword arguments.
        exact: build the prefix tree in each task and score the run exactly.
        address: None (here, one run after another), ``"local"`` (a Ray instance on this machine)
            or the address of a Ray cluster; see the module docstring.
        threads: torch threads per run (and Ray CPUs per task). Results depend on it only in the
            last digits of floating-point sums; keep it fixed to compare runs.
        gpus_per_task: GPUs Ray gives each task (Ray only).
        keep_weights: return each trained network's ``state_dict`` (on the CPU).
        progress: a progress bar over the finished runs (the runs' own bars are off).
        ray_options: extra keyword arguments of ``ray.init`` (e.g. ``runtime_env``, ``num_cpus``).

    Returns:
        One :class:`SweepRun` per (config, seed), configs outer, seeds inner.
    """
    from tqdm.auto import tqdm

    named = _named_configs(configs)
    seeds = [_seed(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds must hold at least one seed")
    threads = int(threads)
    if threads < 1:
        raise ValueError(f"threads must be a whole number >= 1; got {threads}")
    make_env = _default_env if env is None else env
    if not (callable(make_env) or isinstance(make_env, Mapping)):
        raise TypeError(f"env must be a callable that makes the environment or a mapping of TokenEnv arguments; "
                        f"got {type(make_env).__name__}")
    tasks = [(name, config, seed) for (name, config), seed in itertools.product(named.items(), seeds)]
    if address is None:
        return [_run_one(make_env, name, config, seed, exact, threads, keep_weights)
                for name, config, seed in tqdm(tasks, desc="sweep", disable=not progress)]
    return _run_on_ray(tasks, make_env, exact, threads, gpus_per_task, keep_weights, progress, address,
                       ray_options or {})


def table(runs: Sequence[SweepRun]) -> str:
    """A Markdown table per config: the exact fraction of J_β(π*) (mean ± standard deviation over seeds), KL(π ‖ π*), time."""
    lines = ["| config | seeds | J_β(π) / J_β(π*) | KL(π ‖ π*) (nats) | wall s per run |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for name in dict.fromkeys(r.name for r in runs):
        group = [r for r in runs if r.name == name]
        wall = np.mean([r.wall_time for r in group])
        if group[0].score is None:
            lines.append(f"| {name} | {len(group)} | – | – | {wall:.1f} |")
            continue
        fraction = np.array([r.score.fraction for r in group])
        kl = np.array([r.score.kl_to_optimum for r in group])
        lines.append(f"| {name} | {len(group)} | {100 * fraction.mean():.1f}% ± {100 * fraction.std():.1f} | "
                     f"{kl.mean():.3f} ± {kl.std():.3f} | {wall:.1f} |")
    return "\n".join(lines)


# ---------------------------------------------------------------------- one task
def _run_one(make_env, name: str, config, seed: int, exact: bool, threads: int, keep_weights: bool) -> SweepRun:
    """Make the environment (and tree), train with the seed, return the record: the body of every task."""
    from lmenv.learners import learner_of
    from lmenv.token_mdp import to_mdp

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        env = _make_env(make_env)
        tree = to_mdp(env) if exact else None
        config = dataclasses.replace(config, seed=seed, progress=False)
        result = learner_of(config).train(env, config, tree=tree)
    finally:
        torch.set_num_threads(before)
    weights = None
    if keep_weights:
        weights = {key: value.detach().cpu().clone() for key, value in result.model.state_dict().items()}
    return SweepRun(name, config, seed, result.score, result.history, result.wall_time, result.cpu_time,
                    result.rollout_time, result.update_time, result.tokens, result.episodes, weights)


def _make_env(make_env):
    if isinstance(make_env, Mapping):
        from lmenv.token_env import TokenEnv

        return TokenEnv(**make_env)
    return make_env()


def _default_env():
    from lmenv.learners import documented_env

    return documented_env()


# ---------------------------------------------------------------------- Ray
def _run_on_ray(tasks, make_env, exact, threads, gpus_per_task, keep_weights, progress, address, ray_options):
    from tqdm.auto import tqdm

    try:
        import ray
    except ImportError as error:
        raise ImportError(f"address={address!r} runs the sweep on Ray, which is not installed: "
                          "pip install 'rlcore-lmenv[ray]' (or run with address=None)") from error
    started = not ray.is_initialized()
    if started:
        options = {"include_dashboard": False, "log_to_driver": False, **ray_options}
        if address == "local":
            ray.init(**options)
        else:
            ray.init(address=address, **options)
    try:
        remote = ray.remote(num_cpus=threads, num_gpus=gpus_per_task)(_run_one)
        pending = [remote.remote(make_env, name, config, seed, exact, threads, keep_weights)
                   for name, config, seed in tasks]
        order = {ref: i for i, ref in enumerate(pending)}
        results = [None] * len(pending)
        with tqdm(total=len(pending), desc="sweep (ray)", disable=not progress) as bar:
            waiting = list(pending)
            while waiting:
                done, waiting = ray.wait(waiting, num_returns=1)
                results[order[done[0]]] = ray.get(done[0])
                bar.update()
        return results
    finally:
        if started:
            ray.shutdown()


# ---------------------------------------------------------------------- arguments
def _named_configs(configs) -> dict:
    from lmenv.learners.common import Settings

    if isinstance(configs, Settings):
        configs = [configs]
    if isinstance(configs, Mapping):
        named = {str(name): config for name, config in configs.items()}
    elif isinstance(configs, Sequence) and not isinstance(configs, str):
        named = {}
        for config in configs:
            base = type(config).__module__.split(".")[-1]
            name, k = base, 2
            while name in named:
                name, k = f"{base}#{k}", k + 1
            named[name] = config
    else:
        raise TypeError(f"configs must be a learner config, a sequence of them or a mapping name -> config; "
                        f"got {type(configs).__name__}")
    if not named:
        raise ValueError("configs must hold at least one learner config")
    for name, config in named.items():
        if not (dataclasses.is_dataclass(config) and isinstance(config, Settings)):
            raise TypeError(f"config {name!r} must be a learner's Config (lmenv.learners.<learner>.Config); "
                            f"got {type(config).__name__}")
    return named


def _seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"each seed must be a whole number >= 0; got {seed!r}")
    return int(seed)
