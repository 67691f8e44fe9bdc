"""B episodes of token generation in lockstep, sampled from the trained network with its key/value cache.

A rollout is what every learner collects: for B episodes and steps t = 0 .. H−1 (from state s_t
to s_{t+1} by token a_t), the tokens, the acting policy's log π(·|s_t), the reference's
log π_ref(·|s_t), the task rewards, the values V(s_t) and the termination flags.

How it runs. The prompt (plus an optional starting prefix) is computed once (batch 1); its
key/value cache is broadcast to B rows; then each step samples B tokens and runs *one* one-token
forward pass of the trained network for all B episodes — the cost of plain KV-cached decoding
(``GPT.generate``), plus the heads. Nothing is recomputed: a state's heads come from the pass that
appended its last token. After the last step:

- rewards: one call of the environment's reward (``env.reward_fn``, checked by
  ``lmenv.rewards.call_reward``) on all B·H transitions —
  the same object, so the same numbers, as ``TokenEnv.step`` and ``TokenVectorEnv.step``;
- log π_ref: from the environment's prefix cache (``reference_source="cache"``: a dictionary
  lookup once ``lmenv.to_mdp`` has enumerated the tree; missing prefixes are computed and
  cached), or by one batched forward pass of the reference model over the B·(H−1) generated
  tokens on top of the prompt's cache (``"forward"``: for the full vocabulary, where prefixes
  rarely repeat and caching them would only grow memory). The soft-Q readout needs π_ref to act,
  so it reads the prefix cache at every step.

Episodes that end early (on the environment's stop token) stay in the batch with ``alive``
false for the remaining steps; everything there is zero.

Rewards here are the *task* rewards r_t (``env.reward_fn``); the environment with ``kl_coef=β``
pays r_t + β log π_ref(a_t|s_t) (``env_rewards``), and a learner supplies −β log π(a_t|s_t).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lmenv.rewards import Transitions, call_reward


@dataclass
class Rollout:
    """B episodes of H steps (time-major inside each row: step t goes from s_t to s_{t+1}).

    Attributes:
        prefix: the generated tokens the episodes started from (``()``: the prompt).
        tokens: appended token ids a_t, (B, H) long.
        actions: the same as indices into the action set, (B, H) long.
        log_probs: log π(·|s_t) of the policy that sampled, (B, H, A).
        ref_log_probs: log π_ref(·|s_t), (B, H, A) (None from :func:`sample_rollout`, except for the soft-Q readout).
        rewards: task rewards r_{t+1} of each step, (B, H) (None from :func:`sample_rollout`).
        values: V(s_t) from the value head (0 if the network has none), (B, H).
        terminated: whether s_{t+1} is terminal, (B, H) bool.
        alive: whether step t was taken (the episode had not ended before it), (B, H) bool.
        kl_coef: β of the environment (it pays r_t + β log π_ref(a_t|s_t)).
    """

    prefix: tuple
    tokens: torch.Tensor
    actions: torch.Tensor
    log_probs: torch.Tensor
    ref_log_probs: torch.Tensor | None
    rewards: torch.Tensor | None
    values: torch.Tensor
    terminated: torch.Tensor
    alive: torch.Tensor
    kl_coef: float

    @property
    def batch_size(self) -> int:
        return self.tokens.shape[0]

    @property
    def n_tokens(self) -> int:
        """Tokens generated (steps taken) in the batch."""
        return int(self.alive.sum())

    def taken(self, table: torch.Tensor) -> torch.Tensor:
        """table[b, t, a_t] for a (B, H, A) table, 0 where not alive; shape (B, H)."""
        return torch.where(self.alive, table.gather(-1, self.actions[..., None]).squeeze(-1), 0.0)

    @property
    def log_prob_taken(self) -> torch.Tensor:
        """log π(a_t|s_t), (B, H)."""
        return self.taken(self.log_probs)

    @property
    def ref_log_prob_taken(self) -> torch.Tensor:
        """log π_ref(a_t|s_t), (B, H)."""
        return self.taken(self.ref_log_probs)

    @property
    def env_rewards(self) -> torch.Tensor:
        """What the environment pays: r_t + β log π_ref(a_t|s_t), (B, H)."""
        return self.rewards + self.kl_coef * self.ref_log_prob_taken

    @property
    def kl(self) -> torch.Tensor:
        """KL(π(·|s_t) ‖ π_ref(·|s_t)) at every visited state, exact over the action set; (B, H)."""
        p = self.log_probs.exp()
        kl = torch.where(p > 0, p * (self.log_probs - self.ref_log_probs), 0.0).sum(-1)
        return torch.where(self.alive, kl, 0.0)

    @property
    def entropy(self) -> torch.Tensor:
        """H(π(·|s_t)) at every visited state; (B, H)."""
        p = self.log_probs.exp()
        return torch.where(self.alive, -torch.where(p > 0, p * self.log_probs, 0.0).sum(-1), 0.0)

    @property
    def discount_t(self) -> torch.Tensor:
        """γ (1 − terminated) after each step, with γ = 1 (the horizon is part of the MDP); (B, H)."""
        return (~self.terminated).to(self.values.dtype)

    @property
    def values_to_horizon(self) -> torch.Tensor:
        """V(s_0) … V(s_H) of the value head, with V(s_H) = 0 (the last state is terminal); (B, H + 1)."""
        return torch.cat([self.values, torch.zeros_like(self.values[:, :1])], dim=1)

    @property
    def episode_returns(self) -> torch.Tensor:
        """Σ_t r_t, the task return of each episode, (B,)."""
        return self.rewards.sum(dim=1)


def rollout(model, env, batch_size: int, generator: torch.Generator, epsilon: float = 0.0,
            prefix: tuple[int, ...] = (), reference_source: str = "cache") -> Rollout:
    """Sample ``batch_size`` episodes in lockstep from ``model``'s acting policy, with rewards and log π_ref.

    Args:
        model: a :class:`lmenv.policy.PolicyValueModel` (its ``readout`` is the acting policy).
        env: the :class:`lmenv.TokenEnv` it was built for (prompt, horizon, reward, reference).
        batch_size: B.
        generator: a ``torch.Generator`` on the model's device (``torch.Generator(device=model.device)``;
            one on another device is refused): the only source of randomness.
        epsilon: exploration of the ``"greedy_q"`` readout (ε-greedy).
        prefix: generated tokens to start from (the episodes then have H − len(prefix) steps).
        reference_source: ``"cache"`` or ``"forward"``, where log π_ref comes from (module docstring).

    Returns:
        A :class:`Rollout`.
    """
    if reference_source not in ("cache", "forward"):
        raise ValueError(f"reference_source must be 'cache' or 'forward'; got {reference_source!r}")
    env = env.unwrapped
    batch = sample_rollout(model, env, batch_size, generator, epsilon, prefix)
    steps = _steps_taken(batch.prefix, batch.tokens, batch.alive)
    batch.rewards = _task_rewards(env, steps, batch.tokens, batch.terminated)
    if batch.ref_log_probs is None:
        if reference_source == "cache":
            batch.ref_log_probs = _reference_from_cache(env, steps, batch.tokens)
        else:
            batch.ref_log_probs = reference_forward(env, batch.prefix, batch.tokens, batch.alive)
    return batch


@torch.no_grad()
def sample_rollout(model, env, batch_size: int, generator: torch.Generator, epsilon: float = 0.0,
             prefix: tuple[int, ...] = ()) -> Rollout:
    """The lockstep sampling loop of :func:`rollout` alone: a :class:`Rollout` with ``rewards`` None,
    and ``ref_log_probs`` None unless the acting policy needed them (the soft-Q readout)."""
    env = env.unwrapped
    prefix = tuple(int(t) for t in prefix)
    H = env.max_new_tokens - len(prefix)
    if H < 1:
        raise ValueError(f"prefix of {len(prefix)} tokens leaves no step before the horizon {env.max_new_tokens}")
    B, A, device = int(batch_size), model.n_actions, model.device
    check_generator(generator, device)
    stop_id = -1 if env.stop_id is None else env.stop_id

    tokens = torch.zeros(B, H, dtype=torch.long, device=device)
    actions = torch.zeros(B, H, dtype=torch.long, device=device)
    log_probs = torch.zeros(B, H, A, device=device)
    values = torch.zeros(B, H, device=device)
    terminated = torch.zeros(B, H, dtype=torch.bool, device=device)
    alive = torch.zeros(B, H, dtype=torch.bool, device=device)
    ref_log_probs = torch.zeros(B, H, A, device=device) if model.needs_reference_to_act else None

    start = model.prompt_state(prefix)  # heads at s_0 (batch 1) and the cache of prompt + prefix
    cache = [(k.expand(B, -1, -1, -1), v.expand(B, -1, -1, -1)) for k, v in start.cache]  # (B, nh, T0, hs)
    heads = type(start)(start.logits[:, 0].expand(B, -1), start.values[:, 0].expand(B),
                        None if start.q is None else start.q[:, 0].expand(B, -1), None)
    running = torch.ones(B, dtype=torch.bool, device=device)
    for t in range(H):
        ref_t = None
        if model.needs_reference_to_act:
            ref_t = torch.zeros(B, A, device=device)
            rows = running.nonzero().squeeze(1).tolist()
            if rows:
                done_so_far = tokens[rows, :t].tolist()
                lookup = env.reference.log_probs_batch([prefix + tuple(p) for p in done_so_far])  # (n, A)
                ref_t[rows] = _to_device(lookup, device)
            ref_log_probs[:, t] = ref_t
        log_p = model.action_log_probs(heads, ref_t, epsilon)  # (B, A)
        a = torch.multinomial(log_p.exp(), 1, generator=generator).squeeze(1)  # (B,)
        token = a if model.action_tokens is None else model.action_tokens[a]  # (B,)
        ends = running & ((token == stop_id) | (t == H - 1))
        tokens[:, t], actions[:, t], log_probs[:, t] = token, a, log_p
        values[:, t] = torch.where(running, heads.values, 0.0)
        terminated[:, t], alive[:, t] = ends, running
        running = running & ~ends
        if t < H - 1:
            out = model(token[:, None], cache=cache)  # one one-token pass for all B episodes
            cache = out.cache
            heads = type(out)(out.logits[:, 0], out.values[:, 0], None if out.q is None else out.q[:, 0], None)

    log_probs = torch.where(alive[..., None], log_probs, 0.0)
    return Rollout(prefix, tokens, actions, log_probs, ref_log_probs, None, values, terminated, alive, env.kl_coef)


def _steps_taken(prefix, tokens, alive):
    """Rows, steps and state prefixes (before the step) of every step taken: (list, list, list of tuples)."""
    rows, steps, prefixes = [], [], []
    for b, (row, live) in enumerate(zip(tokens.tolist(), alive.tolist())):
        for t, is_alive in enumerate(live):
            if is_alive:
                rows.append(b)
                steps.append(t)
                prefixes.append(prefix + tuple(row[:t]))
    return rows, steps, prefixes


def _task_rewards(env, steps, tokens, terminated) -> torch.Tensor:
    """r_t of every step taken, from one call of the environment's reward; (B, H)."""
    b, t, prefixes = steps
    batch = Transitions(env.prompt, prefixes, tokens[b, t].cpu().numpy(), terminated[b, t].cpu().numpy(),
                        env.tokenizer)
    rewards = torch.zeros(tokens.shape, device=tokens.device)
    rewards[b, t] = _to_device(call_reward(env.reward_fn, batch), tokens.device)
    return rewards


def _reference_from_cache(env, steps, tokens) -> torch.Tensor:
    """log π_ref at every state taken, from the environment's prefix cache; (B, H, A)."""
    b, t, prefixes = steps
    table = env.reference.log_probs_batch(prefixes)  # (n, A)
    out = torch.zeros(*tokens.shape, table.shape[1], device=tokens.device)
    out[b, t] = _to_device(table, tokens.device)
    return out


@torch.no_grad()
def reference_forward(env, prefix, tokens, alive) -> torch.Tensor:
    """log π_ref(·|s_t) for B episodes by one batched pass of the reference model; (B, H, A).

    prompt + prefix once (batch 1), then tokens[:, :H−1] on top of its broadcast cache; the
    restriction to the action set is the reference's own (``log_probs_from_logits``).
    """
    env = env.unwrapped
    ref = env.reference
    B, H = tokens.shape
    ids = torch.tensor([list(ref.prompt_ids) + list(prefix)], device=ref.device)
    first, cache = ref.model(ids)  # (1, T0, V)
    logits = first[:, -1:].expand(B, 1, -1)  # (B, 1, V): s_0
    if H > 1:
        cache = [(k.expand(B, -1, -1, -1), v.expand(B, -1, -1, -1)) for k, v in cache]
        rest, _ = ref.model(tokens[:, :H - 1].to(ref.device), cache=cache)  # (B, H-1, V)
        logits = torch.cat([logits, rest], dim=1)  # (B, H, V)
    table = ref.log_probs_from_logits(logits.reshape(B * H, -1))  # (B·H, A) float64
    out = _to_device(table, tokens.device).reshape(B, H, -1)
    return torch.where(alive[..., None].to(out.device), out, 0.0)


def check_generator(generator: torch.Generator, device: torch.device) -> None:
    """Refuse a sampling generator on another device than the model's (torch's own error is cryptic)."""
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator on the model's device; got {type(generator).__name__}")
    if torch.device(generator.device).type != torch.device(device).type:
        raise ValueError(f"the generator is on {generator.device} but the model is on {device}: make it with "
                         f"torch.Generator(device=model.device).manual_seed(seed)")


def _to_device(array, device) -> torch.Tensor:
    """A float64 host array as float32 on ``device``: converted on the host, then copied (no float64 on the device)."""
    return torch.as_tensor(array, dtype=torch.float32, device="cpu").to(device)
