"""Proximal policy optimisation on the transformer: clipped ratio, value loss, entropy bonus, KL control.

Schulman et al. (2017), with the per-token KL penalty to the reference and the adaptive KL
controller of Ziegler et al. (2019) (the RLHF recipe of Stiennon et al. 2020, Ouyang et al.
2022, at toy scale). Each iteration samples B episodes with the current policy π_old, computes
GAE advantages Â_t from the KL-penalised rewards r̃_t = r_t − β (log π_old(a_t|s_t) −
log π_ref(a_t|s_t)) and the value head, then takes ``update_epochs`` passes of minibatch steps on

    ρ_t = π_θ(a_t|s_t) / π_old(a_t|s_t)
    policy_loss = −mean_t[min(ρ_t Â_t, clip(ρ_t, 1 − ε, 1 + ε) Â_t)]
    value_loss = ½ mean_t[(V_θ(s_t) − R̂_t)²],   R̂_t = Â_t + V_old(s_t)
    loss = policy_loss + c_V value_loss − c_H mean_t[H(π_θ(·|s_t))]

KL control. With ``kl_target`` = None, β is the environment's ``kl_coef`` throughout (the
objective J_β the exact scores measure). With a target KL (nats per episode), β adapts after
every rollout (Ziegler et al. 2019, Section 2.2):

    e = clip(KL_episode / kl_target − 1, −0.2, 0.2),    β ← β (1 + e · B / kl_horizon)

so the KL to the reference is held near the target: the objective then changes as β moves.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from lmenv.learners.common import (Run, Settings, TrainResult, adam, explained_variance,
                                   generalized_advantage_estimation, kl_penalised_rewards, masked_mean, seeded_generator)
from lmenv.model import gradient_step
from lmenv.policy import PolicyValueModel
from lmenv.rollout import rollout


@dataclass
class Config(Settings):
    """PPO settings (the common ones are in :class:`lmenv.learners.common.Settings`)."""

    iterations: int = 150
    """training iterations (one rollout, then ``update_epochs`` epochs of minibatch steps)"""
    learning_rate: float = 3e-5
    """Adam step size for the whole network (PPO takes update_epochs × num_minibatches steps per rollout)"""
    update_epochs: int = 4
    """passes over each rollout"""
    num_minibatches: int = 1
    """minibatches per pass, of batch_size / num_minibatches episodes (1: the whole rollout, 320 tokens here)"""
    clip_coef: float = 0.2
    """ε of the clipped ratio"""
    lambda_: float = 0.9
    """λ of GAE"""
    vf_coef: float = 0.5
    """weight c_V of the value loss"""
    ent_coef: float = 0.0
    """weight c_H of the entropy bonus (the KL penalty already rewards entropy: −β log π)"""
    normalize_advantages: bool = True
    """standardise Â_t within each minibatch"""
    kl_target: float | None = None
    """adaptive KL control: the KL to π_ref per episode (nats) to hold; None keeps β = the environment's kl_coef"""
    kl_horizon: int = 10_000
    """episodes over which the adaptive controller can move β by a factor e (Ziegler et al. use 10,000)"""


def train(env, config: Config = Config(), tree=None) -> TrainResult:
    """Train the environment's transformer with PPO; score it exactly on ``tree`` if given.

    Args:
        env: a :class:`lmenv.TokenEnv`; β is its ``kl_coef`` (the starting β with ``kl_target``).
        config: the settings.
        tree: ``lmenv.to_mdp(env)`` for exact scores (optional; against the environment's β).
    """
    env = env.unwrapped
    kl_coef = env.kl_coef  # β; adapted during training with kl_target
    generator = seeded_generator(config.seed, env.reference.device)
    model = PolicyValueModel(env)
    optimizer = adam(model.parameters(), config)
    run = Run(config, model, env.kl_coef, tree)
    minibatch_size = config.batch_size // config.num_minibatches

    for iteration in run.iterations():
        run.anneal(optimizer, iteration)
        with run.timed("rollout"):
            batch = rollout(model, env, config.batch_size, generator, reference_source=config.reference_source)
        with run.timed("update"):
            old_log_pi = batch.log_prob_taken  # log π_old(a_t|s_t)
            advantages = generalized_advantage_estimation(kl_penalised_rewards(batch, kl_coef), batch.discount_t,
                                                          batch.values_to_horizon, config.lambda_)  # Â_t
            returns = advantages + batch.values  # R̂_t
            clipped, approx_kl = [], []
            for epoch in range(config.update_epochs):
                order = torch.randperm(config.batch_size, generator=generator, device=generator.device)
                for start in range(0, config.batch_size, minibatch_size):
                    mb = order[start:start + minibatch_size].to(batch.tokens.device)
                    alive = batch.alive[mb]
                    out = model.evaluate(batch.tokens[mb])
                    log_probs = F.log_softmax(out.logits, dim=-1)  # (b, H, A)
                    log_pi = log_probs.gather(-1, batch.actions[mb][..., None]).squeeze(-1)  # (b, H)
                    log_ratio = log_pi - old_log_pi[mb]
                    ratio = log_ratio.exp()  # ρ_t
                    adv = advantages[mb]
                    if config.normalize_advantages:
                        adv = (adv - adv[alive].mean()) / (adv[alive].std() + 1e-8)
                    policy_loss = -masked_mean(torch.min(ratio * adv,
                                                         ratio.clamp(1 - config.clip_coef, 1 + config.clip_coef) * adv),
                                               alive)
                    value_loss = 0.5 * masked_mean((out.values - returns[mb]) ** 2, alive)
                    entropy = masked_mean(-(log_probs.exp() * log_probs).sum(-1), alive)
                    loss = policy_loss + config.vf_coef * value_loss - config.ent_coef * entropy
                    gradient_step(optimizer, loss, config.max_grad_norm)
                    with torch.no_grad():  # diagnostics: KL(π_old ‖ π_θ) ≈ E[(ρ − 1) − log ρ] (Schulman 2020)
                        approx_kl.append(masked_mean((ratio - 1) - log_ratio, alive).item())
                        clipped.append(masked_mean(((ratio - 1).abs() > config.clip_coef).float(), alive).item())
            kl_episode = batch.kl.sum(dim=1).mean().item()
            if config.kl_target is not None:  # adaptive KL control (Ziegler et al. 2019)
                error = min(max(kl_episode / config.kl_target - 1.0, -0.2), 0.2)
                kl_coef = kl_coef * (1.0 + error * config.batch_size / config.kl_horizon)
        run.log(iteration, batch, {
            "losses/policy_loss": policy_loss.item(),
            "losses/value_loss": value_loss.item(),
            "losses/entropy": entropy.item(),
            "losses/approx_kl": sum(approx_kl) / len(approx_kl),
            "losses/clipfrac": sum(clipped) / len(clipped),
            "losses/explained_variance": explained_variance(batch.values, returns, batch.alive),
            "charts/kl_coef": kl_coef,
        })
    return run.finish()
