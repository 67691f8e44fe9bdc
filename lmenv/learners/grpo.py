"""GRPO, Dr. GRPO and RLOO on the transformer: critic-free policy gradients with group baselines, scored exactly.

No value network: for each prompt a *group* of k sequences y_1 … y_k is sampled from π_old and each
sequence's advantage is its return measured against the others of its group. With one prompt
per environment a batch of B episodes is B/k groups (the prompt is the same; a prompt
distribution would draw one prompt per group). The three ``variant`` s differ only in that
baseline and in how a sequence's tokens are averaged:

    "grpo"     Â_i = (R_i − mean_j R_j) / (std_j R_j + ε)     loss averaged over each sequence's tokens, 1/|y_i|
    "dr_grpo"  Â_i = R_i − mean_j R_j                         tokens summed, divided by the horizon H (a constant)
    "rloo"     Â_i = R_i − mean_{j≠i} R_j = k/(k−1) (R_i − mean_j R_j)      tokens summed, divided by H

(Shao et al. 2024, DeepSeekMath; Liu et al. 2025, "Understanding R1-Zero-like training" (Dr. GRPO:
GRPO's length normalisation and standard-deviation scaling are biases); Ahmadian et al. 2024,
"Back to Basics" (RLOO, after Kool et al. 2019)). Every token of y_i gets Â_i. The update is
PPO's clipped surrogate on ρ_t = π_θ(a_t|s_t)/π_old(a_t|s_t); with ``update_epochs=1`` ρ = 1
and it is the plain policy gradient Â_i ∇ log π_θ(y_i).

The KL to the reference, with weight β (``kl_coef``, default the environment's) and one of the
estimators of :mod:`lmenv.kl_estimators` at each sampled token (log r_t = log π(a_t|s_t) −
log π_ref(a_t|s_t)): ``k1`` = log r, ``k2`` = ½ (log r)², ``k3`` = e^{−log r} − 1 + log r.

- ``kl_placement="reward"``: R_i ← R_i − β Σ_t k(a_t) with π_old, before the baseline
  (Ziegler et al. 2019; the RLOO paper). With ``k1`` its expected gradient is exactly ∇J_β and,
  at π*_β, R_i − β Σ_t k1 = V*_β(s_0) for *every* sequence: all advantages vanish, so π*_β is
  a fixed point of all three variants.
- ``kl_placement="loss"``: loss += β · (token average of k under π_θ) (GRPO's choice, with k3).
  Its gradient flows through k only, with the sampled tokens fixed: k1 gives E[∇ log π] = 0 (no
  regularisation at all), k2 the per-state gradient of KL(π ‖ π_ref), k3 that of KL(π_ref ‖ π) —
  neither through the future states. These converge to other policies, computed exactly by
  :func:`lmenv.kl_estimators.loss_fixed_point` (docs/rlhf.md measures them).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from rlcore import _checks
from lmenv.kl_estimators import ESTIMATORS
from lmenv.learners.common import Run, Settings, TrainResult, adam, seeded_generator
from lmenv.model import gradient_step
from lmenv.policy import PolicyValueModel
from lmenv.rollout import rollout

VARIANTS = ("grpo", "dr_grpo", "rloo")
PLACEMENTS = ("reward", "loss")


@dataclass
class Config(Settings):
    """GRPO / Dr. GRPO / RLOO settings (the common ones are in :class:`lmenv.learners.common.Settings`)."""

    iterations: int = 150
    """training iterations (one rollout of batch_size episodes, then update_epochs full-batch steps)"""
    batch_size: int = 64
    """episodes per rollout: batch_size / group_size groups"""
    learning_rate: float = 1e-4
    """Adam step size for the whole network"""
    variant: str = "rloo"
    """"grpo", "dr_grpo" or "rloo": the group baseline and token averaging (module docstring)"""
    group_size: int = 8
    """k ≥ 2 sequences per group (per prompt); must divide batch_size"""
    kl_coef: float | None = None
    """β of the KL term; None: the environment's kl_coef (the β of the exact score)"""
    kl_placement: str = "reward"
    """"reward" (in the sequence reward, before the baseline) or "loss" (a loss term)"""
    kl_estimator: str = "k1"
    """"k1", "k2" or "k3" (lmenv.kl_estimators)"""
    update_epochs: int = 1
    """gradient steps per rollout, each on the whole batch (1: plain policy gradient)"""
    clip_coef: float = 0.2
    """ε of the clipped ratio (used when update_epochs > 1)"""
    std_epsilon: float = 1e-4
    """ε added to the group's standard deviation ("grpo")"""


def check_config(config: Config) -> None:
    """Raise ValueError naming the setting that is not valid."""
    if config.variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}; got {config.variant!r}")
    if config.kl_placement not in PLACEMENTS:
        raise ValueError(f"kl_placement must be one of {PLACEMENTS}; got {config.kl_placement!r}")
    if config.kl_estimator not in ESTIMATORS:
        raise ValueError(f"kl_estimator must be one of {tuple(ESTIMATORS)}; got {config.kl_estimator!r}")
    k = _checks.whole(config.group_size, "group_size", 2, meaning="sequences per group: a group baseline needs two")
    B = _checks.whole(config.batch_size, "batch_size", 1)
    if B % k:
        raise ValueError(f"group_size ({k}) must divide batch_size ({B})")
    if config.kl_coef is not None:
        _checks.number(config.kl_coef, "kl_coef", 0.0, None, low_open=True, meaning="the KL weight β")
    _checks.whole(config.update_epochs, "update_epochs", 1)


def group_advantages(returns: torch.Tensor, group_size: int, variant: str, std_epsilon: float = 1e-4) -> torch.Tensor:
    """Â_i of each sequence from its group's returns, shape (B,) (groups are consecutive blocks of k).

    ``"grpo"``: (R_i − mean) / (std + ε) (std with k − 1 in the denominator); ``"dr_grpo"``: R_i − mean;
    ``"rloo"``: R_i − mean of the other k − 1.
    """
    k = group_size
    R = returns.reshape(-1, k)  # (G, k)
    centred = R - R.mean(dim=1, keepdim=True)
    if variant == "grpo":
        advantages = centred / (R.std(dim=1, keepdim=True) + std_epsilon)
    elif variant == "dr_grpo":
        advantages = centred
    elif variant == "rloo":
        advantages = centred * k / (k - 1)  # = R_i − (Σ_j R_j − R_i)/(k − 1)
    else:
        raise ValueError(f"variant must be one of {VARIANTS}; got {variant!r}")
    return advantages.reshape(-1)


def token_average(x: torch.Tensor, alive: torch.Tensor, variant: str) -> torch.Tensor:
    """Per sequence, (B, H) -> (B,): the mean over its own tokens ("grpo") or the sum over H ("dr_grpo", "rloo")."""
    total = torch.where(alive, x, 0.0).sum(dim=1)
    if variant == "grpo":
        return total / alive.sum(dim=1).clamp(min=1)
    return total / alive.shape[1]


def penalised_returns(tree, policy, kl_coef: float):
    """R(y) − β Σ_t log(π/π_ref)(a_t|s_t), the k1-penalised sequence reward, for every leaf y of ``tree``; (L,).

    Exact on the tree (leaves in state order). At π = π*_β it equals V*_β(s_0) for every y (the
    soft advantages telescope), so every group advantage of every variant is 0 there.
    """
    import numpy as np

    from lmenv import _tree

    live = ~_tree.terminal(tree)
    with np.errstate(divide="ignore"):
        log_ratio = np.where(live[:, None], np.log(policy) - np.log(tree.reference), 0.0)
    returns = _tree.sequence_returns(tree) - kl_coef * _tree.path_sums(tree, log_ratio)
    return returns[_tree.leaves(tree)]


def train(env, config: Config = Config(), tree=None) -> TrainResult:
    """Train the environment's transformer with GRPO, Dr. GRPO or RLOO; score it exactly on ``tree`` if given.

    Args:
        env: a :class:`lmenv.TokenEnv`; its reward is the sequence reward R_i = Σ_t r_t.
        config: the settings (``config.variant`` picks the learner).
        tree: ``lmenv.to_mdp(env)`` for exact scores (against β = ``config.kl_coef`` or the environment's).
    """
    check_config(config)
    env = env.unwrapped
    kl_coef = env.kl_coef if config.kl_coef is None else float(config.kl_coef)  # β (0: no KL term)
    estimator = ESTIMATORS[config.kl_estimator]
    generator = seeded_generator(config.seed, env.reference.device)
    model = PolicyValueModel(env)
    optimizer = adam(model.parameters(), config)
    run = Run(config, model, kl_coef, tree)

    for iteration in run.iterations():
        run.anneal(optimizer, iteration)
        with run.timed("rollout"):
            batch = rollout(model, env, config.batch_size, generator, reference_source=config.reference_source)
        with run.timed("update"):
            alive = batch.alive
            old_log_pi = batch.log_prob_taken  # log π_old(a_t|s_t), (B, H)
            ref_log_pi = batch.ref_log_prob_taken  # log π_ref(a_t|s_t)
            kl_sampled = torch.where(alive, estimator(old_log_pi - ref_log_pi), 0.0).sum(dim=1)  # Σ_t k, (B,)
            returns = batch.episode_returns  # R_i = Σ_t r_t
            if config.kl_placement == "reward":
                returns = returns - kl_coef * kl_sampled
            advantages = group_advantages(returns, config.group_size, config.variant, config.std_epsilon)  # Â_i
            clipped = []
            for _ in range(config.update_epochs):
                out = model.evaluate(batch.tokens)
                log_pi = F.log_softmax(out.logits, dim=-1).gather(-1, batch.actions[..., None]).squeeze(-1)  # (B, H)
                ratio = (log_pi - old_log_pi).exp()  # ρ_t
                surrogate = torch.min(ratio * advantages[:, None],
                                      ratio.clamp(1 - config.clip_coef, 1 + config.clip_coef) * advantages[:, None])
                policy_loss = -token_average(surrogate, alive, config.variant).mean()
                loss = policy_loss
                if config.kl_placement == "loss":
                    kl_loss = token_average(estimator(log_pi - ref_log_pi), alive, config.variant).mean()
                    loss = loss + kl_coef * kl_loss
                gradient_step(optimizer, loss, config.max_grad_norm)
                with torch.no_grad():
                    clipped.append(torch.where(alive, ((ratio - 1).abs() > config.clip_coef).float(), 0.0).sum().item()
                                   / alive.sum().item())
            spread = returns.reshape(-1, config.group_size).std(dim=1)
        metrics = {
            "losses/policy_loss": policy_loss.item(),
            "losses/kl_estimate": kl_sampled.mean().item(),
            "losses/zero_std_groups": (spread == 0).float().mean().item(),
            "losses/clipfrac": sum(clipped) / len(clipped),
        }
        if config.kl_placement == "loss":
            metrics["losses/kl_loss"] = kl_loss.item()
        run.log(iteration, batch, metrics)
    return run.finish()
