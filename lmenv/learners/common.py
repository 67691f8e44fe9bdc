"""What the four learners share: the common settings, return and advantage estimates, the training record.

Every learner module reads top to bottom: its ``Config`` (the settings below plus its own) →
the network (:class:`lmenv.policy.PolicyValueModel`) → the loop (rollout, then update). The
objective is always the KL-regularised return of the environment: with ``kl_coef=β`` the
environment pays r_t + β log π_ref(a_t|s_t) and the learner supplies −β log π(a_t|s_t), so a
step's reward is

    r̃_t = r_t − β (log π(a_t|s_t) − log π_ref(a_t|s_t))     (:func:`kl_penalised_rewards`)

and E_π[Σ_t r̃_t] = J_β(π). Returns and GAE are :func:`rlcore.discounted_returns` and
:func:`rlcore.generalized_advantage_estimation` written in torch, with the same names and
arguments: time on the last axis, ``discount_t = γ (1 − terminated_t)`` carrying termination
(there is no truncation: the horizon is part of the MDP, and γ = 1), so no ``if done`` branches.
"""

from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from lmenv.rollout import Rollout


@dataclass
class Settings:
    """Settings every learner has (each learner's ``Config`` extends them)."""

    seed: int = 0
    """seeds the learner's sampling generator, its only source of randomness (the network's new heads start at zero; torch's global generator is never used): the same seed gives the same run on the same device"""
    iterations: int = 300
    """training iterations; each collects one rollout of ``batch_size`` episodes, then updates"""
    batch_size: int = 64
    """episodes per rollout, generated in lockstep with one batched KV-cached pass per step"""
    learning_rate: float = 1e-4
    """Adam step size for the whole network (transformer body and heads)"""
    anneal_lr: bool = False
    """decay the learning rate linearly to 0 over the iterations (CleanRL's PPO default)"""
    max_grad_norm: float = 1.0
    """clip the global gradient norm to this"""
    reference_source: str = "cache"
    """where log π_ref comes from: "cache" (the prefix cache; enumerable tasks) or "forward" (full vocabulary)"""
    eval_every: int = 0
    """with a prefix tree given to ``train``: score exactly every this many iterations (0: at the end only)"""
    progress: bool = True
    """show a tqdm progress bar with the latest reward and KL"""
    deterministic: bool = True
    """on a GPU, train with torch's deterministic kernels (``torch.use_deterministic_algorithms``, restored afterwards), so that a seed gives the same run; the CPU's kernels are deterministic already"""
    precision: str = "float32"
    """"bfloat16": the transformer under bf16 autocast on a GPU (heads, log-probabilities and losses stay float32); ignored on the CPU"""
    torch_compile: bool = False
    """compile the transformer with ``torch.compile`` on a GPU; ignored on the CPU"""


@dataclass
class TrainResult:
    """What ``train`` returns.

    Attributes:
        model: the trained :class:`lmenv.policy.PolicyValueModel`.
        history: metric name -> (iterations, values) arrays; names in docs/lm_policy_gradient.md.
        score: the exact :class:`lmenv.scoring.Score` at the end (None without a tree).
        wall_time: seconds of the training loop (exact evaluations excluded).
        cpu_time: CPU seconds of this process in the loop (all threads).
        rollout_time: wall seconds spent in rollouts.
        update_time: wall seconds spent in updates.
        tokens: tokens generated.
        episodes: episodes sampled.
    """

    model: object
    history: dict
    score: object
    wall_time: float
    cpu_time: float
    rollout_time: float
    update_time: float
    tokens: int
    episodes: int

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.wall_time


class MetricLog:
    """Metrics logged per iteration: ``log.log(iteration, {"losses/value_loss": 0.1, ...})``; ``log.as_arrays()``."""

    def __init__(self):
        self._data = defaultdict(lambda: ([], []))

    def log(self, iteration: int, metrics: dict) -> None:
        for name, value in metrics.items():
            steps, values = self._data[name]
            steps.append(iteration)
            values.append(float(value))

    def as_arrays(self) -> dict:
        return {name: (np.array(s), np.array(v)) for name, (s, v) in self._data.items()}


class Run:
    """The book-keeping of one training run: progress bar, wall/CPU timers, the log, exact evaluations.

    A learner's loop::

        run = Run(config, model, kl_coef, tree)
        for iteration in run.iterations():
            with run.timed("rollout"):
                batch = rollout(...)
            with run.timed("update"):
                ...
            run.log(iteration, batch, {"losses/value_loss": ...})
        return run.finish()

    Exact evaluations (with a tree: at the end, and at iteration 0 and every ``config.eval_every``
    iterations when that is > 0) are not counted in the times.
    """

    def __init__(self, config: Settings, model, kl_coef: float, tree=None):
        self.config, self.model, self.tree, self.kl_coef = config, model, tree, float(kl_coef)
        if hasattr(model, "configure"):  # mixed precision and compilation: GPU only
            model.configure(getattr(config, "precision", "float32"), getattr(config, "torch_compile", False))
        self.optimum = None
        if tree is not None and self.kl_coef > 0:
            self.optimum = tree.kl_regularised_optimum(self.kl_coef)
        self.history = MetricLog()
        self.seconds = defaultdict(float)
        self.tokens = 0
        self.episodes = 0
        self._bar = None
        self._score = None  # the latest exact evaluation: (iteration, Score)

    def iterations(self):
        """1 .. config.iterations, with a progress bar; starts the clocks."""
        from tqdm.auto import trange

        self._wall, self._cpu = time.perf_counter(), time.process_time()
        if self.tree is not None and self.config.eval_every:
            self._evaluate(0)  # the untrained network: π_ref for the policy-gradient learners
        name = type(self.config).__module__.split(".")[-1]  # "reinforce", "a2c", ...
        self._bar = trange(1, self.config.iterations + 1, disable=not self.config.progress, desc=name)
        device = getattr(self.model, "device", torch.device("cpu"))
        with deterministic_algorithms(getattr(self.config, "deterministic", True) and device.type != "cpu"):
            for iteration in self._bar:
                yield iteration
                if self.tree is not None and self.config.eval_every and iteration % self.config.eval_every == 0:
                    self._evaluate(iteration)

    def anneal(self, optimizer, iteration: int) -> None:
        """With ``config.anneal_lr``: learning rate × (1 − (iteration − 1) / iterations)."""
        if self.config.anneal_lr:
            for group in optimizer.param_groups:
                group["lr"] = self.config.learning_rate * (1.0 - (iteration - 1) / self.config.iterations)

    @contextmanager
    def timed(self, section: str):
        start = time.perf_counter()
        yield
        self.seconds[section] += time.perf_counter() - start

    def log(self, iteration: int, batch: Rollout, metrics: dict) -> None:
        """Log the rollout's metrics (reward, KL to the reference, entropy) and the update's."""
        self.tokens += batch.n_tokens
        self.episodes += batch.batch_size
        metrics = {**rollout_metrics(batch, self.kl_coef), **metrics}
        self.history.log(iteration, metrics)
        if self._bar is not None and not self._bar.disable:
            self._bar.set_postfix(reward=f"{float(metrics['charts/reward']):.3f}",
                                  kl=f"{float(metrics['charts/kl_ref']):.2f}", refresh=False)

    def _evaluate(self, iteration: int):
        from lmenv.scoring import score_model

        paused = time.perf_counter(), time.process_time()
        score = score_model(self.model, self.tree, self.kl_coef, self.optimum)
        self.history.log(iteration, {"eval/fraction_of_optimum": score.fraction, "eval/objective": score.objective,
                                     "eval/kl_to_optimum": score.kl_to_optimum,
                                     "eval/kl_to_reference": score.kl_to_reference})
        self._wall += time.perf_counter() - paused[0]  # not counted in the training time
        self._cpu += time.process_time() - paused[1]
        self._score = (iteration, score)
        return score

    def finish(self) -> TrainResult:
        wall, cpu = time.perf_counter() - self._wall, time.process_time() - self._cpu
        self._bar.close()
        score = None
        if self.tree is not None:
            done = self._score is not None and self._score[0] == self.config.iterations
            score = self._score[1] if done else self._evaluate(self.config.iterations)
        return TrainResult(self.model, self.history.as_arrays(), score, wall, cpu, self.seconds["rollout"],
                           self.seconds["update"], self.tokens, self.episodes)


# ---------------------------------------------------------------------- the per-token reward
def kl_penalised_rewards(batch: Rollout, kl_coef: float, log_prob_taken: torch.Tensor | None = None) -> torch.Tensor:
    """r̃_t = r_t − β (log π(a_t|s_t) − log π_ref(a_t|s_t)), 0 after the episode ended; (B, H).

    ``log_prob_taken`` defaults to the rollout's (the behaviour policy's) log π(a_t|s_t).
    """
    log_pi = batch.log_prob_taken if log_prob_taken is None else log_prob_taken
    return torch.where(batch.alive, batch.rewards - kl_coef * (log_pi - batch.ref_log_prob_taken), 0.0)


# ---------------------------------------------------------------------- returns and advantages
def discounted_returns(r_t: torch.Tensor, discount_t: torch.Tensor, v_T=0.0) -> torch.Tensor:
    """G_t = r_t + discount_t G_{t+1}, G_T = v_T (Sutton & Barto eq. 3.9): :func:`rlcore.discounted_returns` in torch.

    The return from step t on (REINFORCE's "reward-to-go"). Time is the last axis.

    Args:
        r_t: rewards, shape (..., T).
        discount_t: γ (1 − terminated) after each step, shape (..., T).
        v_T: value of the last state, shape (...) or a number.

    Returns:
        G_0 … G_{T−1}, shape (..., T).
    """
    returns = torch.empty_like(r_t)
    following = torch.zeros_like(r_t[..., 0]) + v_T
    for t in reversed(range(r_t.shape[-1])):
        following = r_t[..., t] + discount_t[..., t] * following
        returns[..., t] = following
    return returns


def generalized_advantage_estimation(r_t: torch.Tensor, discount_t: torch.Tensor, values: torch.Tensor,
                                     lambda_: float) -> torch.Tensor:
    """GAE(γ, λ): Â_t = Σ_k (γλ)^k δ_{t+k}, δ_t = r_t + discount_t V(s_{t+1}) − V(s_t) (Schulman et al. 2016, eq. 16).

    :func:`rlcore.generalized_advantage_estimation` in torch: a discounted return of the TD errors
    with discount γλ. λ = 1 gives G_t − V(s_t), λ = 0 the one-step TD error.

    Args:
        r_t: rewards, shape (..., T).
        discount_t: γ (1 − terminated) after each step, shape (..., T).
        values: V(s_0) … V(s_T), shape (..., T + 1) (V(s_T) = 0 when the horizon terminates).
        lambda_: λ in [0, 1].

    Returns:
        Â_0 … Â_{T−1}, shape (..., T).
    """
    if not 0.0 <= lambda_ <= 1.0:
        raise ValueError(f"lambda_ must lie in [0, 1]; got {lambda_}")
    deltas = r_t + discount_t * values[..., 1:] - values[..., :-1]  # δ_t
    return discounted_returns(deltas, lambda_ * discount_t)


def explained_variance(predictions: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> float:
    """1 − Var(targets − predictions) / Var(targets) over the masked entries (1: perfect, ≤ 0: useless)."""
    y, p = targets[mask], predictions[mask]
    variance = y.var(unbiased=False)
    if variance <= 0:
        return float("nan")
    return float(1.0 - (y - p).var(unbiased=False) / variance)


def rollout_metrics(batch: Rollout, kl_coef: float) -> dict:
    """Per-episode means of a rollout, for the log (names as in docs/lm_policy_gradient.md)."""
    reward = batch.episode_returns.mean()
    kl = batch.kl.sum(dim=1).mean()
    return {"charts/reward": reward, "charts/kl_ref": kl, "charts/objective": reward - kl_coef * kl,
            "charts/entropy": batch.entropy.sum() / batch.alive.sum()}


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (x * mask).sum() / mask.sum()


def adam(parameters, config: Settings) -> torch.optim.Adam:
    """The learners' optimizer: Adam with step size ``config.learning_rate`` and ε = 1e-5 (the
    value CleanRL and SB3 use for policy gradients)."""
    return torch.optim.Adam(parameters, lr=config.learning_rate, eps=1e-5)


def seeded_generator(seed: int, device) -> torch.Generator:
    """A generator for sampling on ``device``, seeded with ``seed``: a learner's only source of randomness.

    It leaves torch's global generator alone (no ``torch.manual_seed``): a run is a pure function
    of its environment, config and seed, whatever ran before it in the process (the network's
    new heads start at zero and need no random numbers; see :class:`lmenv.policy.PolicyValueModel`).
    """
    return torch.Generator(device=device).manual_seed(int(seed))


@contextmanager
def deterministic_algorithms(enabled: bool = True):
    """Within the block, torch uses deterministic kernels (``torch.use_deterministic_algorithms``); restored after.

    On a GPU some kernels (atomic-add reductions: the backward of an embedding or of
    ``index_select``, some attention backends) may add in a different order from run to run;
    this asks torch for deterministic ones, warning (not failing) where an operation has none.
    cuBLAS also needs ``CUBLAS_WORKSPACE_CONFIG=:4096:8``, which is set here if unset (it takes
    effect for cuBLAS handles made after it: set it in the environment before the first CUDA
    matrix product to be sure). ``enabled=False`` changes nothing.
    """
    if not enabled:
        yield
        return
    import os

    before = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])
