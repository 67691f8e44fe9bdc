"""DQN-style TD learning of a Q head on the transformer's features, with a target network.

The function-approximation counterpart of tabular Q-learning (Watkins 1989; Sutton & Barto,
Section 6.5): instead of a table keyed by the prefix, Q_θ(s, ·) = W_Q h_θ(s) + b_Q is a linear
head on the transformer's final hidden features h_θ(s), trained (body and head) by regression on
bootstrapped targets computed with a periodically copied target network Q_θ⁻ (Mnih et al. 2015),
from a replay buffer of whole episodes (an episode's H states share one forward pass).

Two targets, for the two objectives:

- ``soft=True`` (default), the KL-regularised (soft) target — soft Q-learning (Haarnoja et al.
  2017) with the reference as prior, the function-approximation version of the soft value
  iteration that gives ``tree.kl_regularised_optimum(β)``:

      y_t = r_t + (1 − terminated_t) · β log Σ_a π_ref(a|s_{t+1}) exp(Q_θ⁻(s_{t+1}, a)/β)

  and the network acts with π(a|s) ∝ π_ref(a|s) exp(Q_θ(s, a)/β), which is π* when Q_θ = Q*.
- ``soft=False``, the standard (hard) target on the rewards the environment pays:

      y_t = r_t + β log π_ref(a_t|s_t) + (1 − terminated_t) · max_a Q_θ⁻(s_{t+1}, a)

  acting ε-greedily. A deterministic policy's KL term is −β Σ_t log π_ref(a_t|s_t), so this
  learns the best *deterministic* policy for J_β (``rlcore.value_iteration(tree.mdp)``), which
  is below the soft optimum.

Both minimise td_loss = mean_t[(Q_θ(s_t, a_t) − y_t)²] over minibatches of replayed episodes.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from rlcore import LinearDecay, soft_v_from_q

from lmenv.learners.common import Run, Settings, TrainResult, adam, explained_variance, masked_mean, seeded_generator
from lmenv.model import gradient_step
from lmenv.policy import PolicyValueModel
from lmenv.rollout import rollout


@dataclass
class Config(Settings):
    """DQN settings (the common ones are in :class:`lmenv.learners.common.Settings`)."""

    iterations: int = 300
    """training iterations: one rollout into the buffer, then ``updates_per_iteration`` gradient steps"""
    learning_rate: float = 1e-4
    """Adam step size for the whole network (body and Q head)"""
    soft: bool = True
    """KL-regularised (soft) target and Boltzmann-around-π_ref acting; False: max target, ε-greedy"""
    buffer_size: int = 8192
    """replay capacity in episodes (first in, first out)"""
    minibatch_size: int = 64
    """episodes per gradient step (each contributes its H transitions)"""
    updates_per_iteration: int = 4
    """gradient steps after each rollout"""
    target_update_interval: int = 10
    """copy the online network into the target network every this many gradient steps"""
    learning_starts: int = 4
    """iterations of data collection before the first gradient step"""
    epsilon_start: float = 1.0
    """ε of the ε-greedy behaviour at the start (soft=False only)"""
    epsilon_end: float = 0.05
    """ε at the end of the decay (soft=False only)"""
    epsilon_fraction: float = 0.5
    """fraction of the iterations over which ε decays linearly (soft=False only)"""


class EpisodeBuffer:
    """Replay of whole episodes: the tensors of :class:`lmenv.rollout.Rollout` that TD learning needs."""

    fields = ("tokens", "actions", "rewards", "terminated", "alive", "ref_log_probs")

    def __init__(self, capacity: int):
        self.capacity, self.size, self.next = capacity, 0, 0
        self.data = {}

    def add(self, batch) -> None:
        B = batch.batch_size
        for name in self.fields:
            value = getattr(batch, name)
            rows = torch.arange(self.next, self.next + B, device=value.device) % self.capacity
            if name not in self.data:
                self.data[name] = torch.zeros((self.capacity, *value.shape[1:]), dtype=value.dtype, device=value.device)
            self.data[name][rows] = value
        self.next = (self.next + B) % self.capacity
        self.size = min(self.size + B, self.capacity)

    def sample(self, n: int, generator: torch.Generator) -> dict:
        index = torch.randint(0, self.size, (n,), generator=generator, device=generator.device)
        return {name: value[index.to(value.device)] for name, value in self.data.items()}


def train(env, config: Config = Config(), tree=None) -> TrainResult:
    """Train a Q head (and the transformer under it) by TD learning; score it exactly on ``tree`` if given.

    Args:
        env: a :class:`lmenv.TokenEnv`; β is its ``kl_coef`` (> 0 for ``soft=True``).
        config: the settings.
        tree: ``lmenv.to_mdp(env)`` for exact scores (optional). The scored policy is the soft
            policy π ∝ π_ref exp(Q/β), or the greedy policy for ``soft=False``.
    """
    env = env.unwrapped
    kl_coef = env.kl_coef
    generator = seeded_generator(config.seed, env.reference.device)
    model = PolicyValueModel(env, q_head=True, readout="soft_q" if config.soft else "greedy_q", kl_coef=kl_coef)
    target = copy.deepcopy(model)  # Q_θ⁻ (shares the frozen reference)
    optimizer = adam(model.parameters(), config)
    buffer = EpisodeBuffer(config.buffer_size)
    run = Run(config, model, kl_coef, tree)
    gradient_steps = 0
    epsilon_schedule = LinearDecay(config.epsilon_start, config.epsilon_end,
                                   max(1.0, config.epsilon_fraction * config.iterations))

    for iteration in run.iterations():
        run.anneal(optimizer, iteration)
        epsilon = 0.0 if config.soft else float(epsilon_schedule(iteration - 1))
        with run.timed("rollout"):
            batch = rollout(model, env, config.batch_size, generator, epsilon=epsilon,
                            reference_source=config.reference_source)
            buffer.add(batch)
        metrics = {"charts/epsilon": epsilon}
        if iteration > config.learning_starts:
            with run.timed("update"):
                for _ in range(config.updates_per_iteration):
                    mb = buffer.sample(config.minibatch_size, generator)
                    alive = mb["alive"]
                    q = model.evaluate(mb["tokens"]).q  # Q_θ(s_t, ·), (b, H, A)
                    q_taken = q.gather(-1, mb["actions"][..., None]).squeeze(-1)  # Q_θ(s_t, a_t)
                    with torch.no_grad():
                        q_next = target.evaluate(mb["tokens"]).q  # Q_θ⁻(s_t, ·) at every state of the episode
                        if config.soft:
                            v = soft_v_from_q(q_next, kl_coef, log_reference=mb["ref_log_probs"])  # (b, H)
                            reward = mb["rewards"]
                        else:
                            v = q_next.max(dim=-1).values
                            ref_taken = mb["ref_log_probs"].gather(-1, mb["actions"][..., None]).squeeze(-1)
                            reward = mb["rewards"] + kl_coef * ref_taken  # what the environment pays
                        v_next = torch.cat([v[:, 1:], torch.zeros_like(v[:, :1])], dim=1)  # V⁻(s_{t+1})
                        y = reward + (~mb["terminated"]).float() * v_next  # the TD target
                    td_loss = masked_mean((q_taken - y) ** 2, alive)
                    gradient_step(optimizer, td_loss, config.max_grad_norm)
                    gradient_steps += 1
                    if gradient_steps % config.target_update_interval == 0:
                        target.load_state_dict(model.state_dict())
            metrics.update({
                "losses/td_loss": td_loss.item(),
                "losses/q_values": masked_mean(q_taken.detach(), alive).item(),
                "losses/explained_variance": explained_variance(q_taken.detach(), y, alive),
            })
        run.log(iteration, batch, metrics)
    return run.finish()
