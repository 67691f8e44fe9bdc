"""REINFORCE with reward-to-go and a learned baseline, on the transformer.

Williams (1992); Sutton & Barto, 2nd ed., Section 13.4 ("REINFORCE with baseline"). The policy
π_θ is the transformer's LM head restricted to the action set; the baseline b(s_t) = V_θ(s_t) is
the value head on the same features, regressed on the returns.

With the per-token KL-penalised reward r̃_t = r_t − β (log π_θ(a_t|s_t) − log π_ref(a_t|s_t)),

    G_t = Σ_{k ≥ t} r̃_k                                          (reward-to-go)
    ∇_θ J_β(θ) = E_π[Σ_t ∇_θ log π_θ(a_t|s_t) (G_t − b(s_t))]     (the policy gradient)

(the KL term's own θ-dependence adds −β E_π[Σ_t ∇ log π_θ(a_t|s_t)] = 0), so the loss is

    policy_loss = −mean_t[log π_θ(a_t|s_t) · (G_t − V(s_t))],   value_loss = ½ mean_t[(V_θ(s_t) − G_t)²]

over the tokens of a batch of B episodes sampled from the current policy — one gradient step per
batch (REINFORCE is on-policy).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F

from lmenv.learners.common import (Run, Settings, TrainResult, adam, explained_variance, kl_penalised_rewards,
                                   masked_mean, discounted_returns, seeded_generator)
from lmenv.model import gradient_step
from lmenv.policy import PolicyValueModel
from lmenv.rollout import rollout


@dataclass
class Config(Settings):
    """REINFORCE settings (the common ones are in :class:`lmenv.learners.common.Settings`)."""

    iterations: int = 400
    """training iterations (rollout + one gradient step each)"""
    learning_rate: float = 1e-4
    """Adam step size for the whole network"""
    vf_coef: float = 0.5
    """weight of the baseline's regression loss in the total loss"""
    normalize_advantages: bool = True
    """divide G_t − V(s_t) by its standard deviation over the batch (a per-batch step-size scale)"""


def train(env, config: Config = Config(), tree=None) -> TrainResult:
    """Train the environment's transformer with REINFORCE; score it exactly on ``tree`` if given.

    Args:
        env: a :class:`lmenv.TokenEnv`; β is its ``kl_coef``.
        config: the settings.
        tree: ``lmenv.to_mdp(env)`` for exact scores (optional).
    """
    env = env.unwrapped
    kl_coef = env.kl_coef
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
            returns = discounted_returns(kl_penalised_rewards(batch, kl_coef), batch.discount_t)  # G_t, (B, H)
            out = model.evaluate(batch.tokens)  # π_θ and V_θ at every state, with gradients
            log_pi = F.log_softmax(out.logits, dim=-1).gather(-1, batch.actions[..., None]).squeeze(-1)  # (B, H)
            advantages = returns - out.values.detach()  # G_t − b(s_t)
            if config.normalize_advantages:
                advantages = advantages / (advantages[alive].std() + 1e-8)
            policy_loss = -masked_mean(log_pi * advantages, alive)
            value_loss = 0.5 * masked_mean((out.values - returns) ** 2, alive)
            loss = policy_loss + config.vf_coef * value_loss
            gradient_step(optimizer, loss, config.max_grad_norm)
        run.log(iteration, batch, {
            "losses/policy_loss": policy_loss.item(),
            "losses/value_loss": value_loss.item(),
            "losses/explained_variance": explained_variance(out.values.detach(), returns, alive),
        })
    return run.finish()
