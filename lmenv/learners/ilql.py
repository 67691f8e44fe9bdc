"""Implicit Language Q-Learning (ILQL; Snell, Kostrikov, Su, Yang & Levine 2022) on the transformer, offline.

ILQL learns from a fixed dataset of sequences with their rewards — sampled from π_ref, from a
mixture with a good policy, or any texts (preference data, a user's logs) — without generating
anything while training. On the transformer's final hidden features h_θ(s) it fits

    twin Q heads  Q_θ1, Q_θ2(s, ·) = W_i h_θ(s) + b_i,   with Polyak-averaged target heads Q̂_1, Q̂_2
    a V head      V_ψ(s)          = w_V · h_θ(s) + b_V

by the three terms of the paper (Snell et al. 2022, eqs. 1–3 and §4.2), on the dataset's steps
(s_t, a_t, r_t, s_{t+1}), γ = 1, ``discount_t = 1 − terminated_t``:

    L_Q   = Σ_i mean_t[(Q_θi(s_t, a_t) − y_t)²],   y_t = r_t + discount_t · V_ψ(s_{t+1})   (V not max Q: in-sample)
    L_V   = mean_t[L_τ(min_i Q̂_i(s_t, a_t) − V_ψ(s_t))],   L_τ(u) = |τ − 1(u < 0)| u²          (expectile regression)
    L_CQL = Σ_i mean_t[log Σ_a exp Q_θi(s_t, a) − Q_θi(s_t, a_t)]                             (the CQL-style term)

    loss = L_Q + L_V + α_CQL · L_CQL      (body and heads trained together; the target heads track by Polyak averaging)

Expectile regression makes V the τ-expectile of Q(s, a) over the dataset's actions at s: the mean
(V of the data's policy, SARSA) at τ = ½, the maximum over the actions the data contains (in-sample
Q-learning) as τ → 1. :func:`expectile_values` computes that fixed point *exactly* on the prefix
tree for any τ (backward induction, the exact expectile of a discrete distribution at every
state), which is what the learned heads are compared with.

Decoding. The paper samples from π(a|s) ∝ π_β(a|s) exp(β_ILQL (Q(s, a) − V(s))), with π_β the
behaviour model and β_ILQL an inverse temperature. Here the prior is the frozen reference π_ref
(the bundled model) and the temperature is the KL weight of the task:

    π(a|s) ∝ π_ref(a|s) exp((Q̂(s, a) − V(s)) / β),      β = ``kl_coef`` (β_ILQL = 1/β),   Q̂ = min_i Q̂_i

which is exactly π*_β when Q̂ − V is the soft advantage Q*_β − V*_β (:mod:`lmenv.decoding`). V does
not change the normalised policy; it matters through the learning of Q. ILQL's values are those
of the *task* rewards (no KL term), so ILQL decoding approximates π*_β but is not it: the exact
fixed point at each τ, decoded and scored, shows by how much (docs/ilql_and_decoding.md;
:mod:`lmenv.learners.ilql_experiments` holds the documented runs).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from lmenv.learners.common import Run, Settings, TrainResult, adam, explained_variance, masked_mean, seeded_generator
from lmenv.model import gradient_step
from lmenv.policy import PolicyOutput, PolicyValueModel


# ====================================================================== the update rules
def expectile_loss(diff: torch.Tensor, tau: float) -> torch.Tensor:
    """L_τ(u) = |τ − 1(u < 0)| u², elementwise (Kostrikov et al. 2022, IQL eq. 5; Snell et al. 2022 eq. 2).

    Args:
        diff: u = Q̂(s, a) − V(s), any shape.
        tau: τ in (0, 1): ½ gives the mean (squared error / 2·… up to a factor), → 1 the maximum.
    """
    weight = torch.where(diff < 0, 1.0 - tau, tau)
    return weight * diff**2


def cql_loss(q: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """log Σ_a exp Q(s, a) − Q(s, a_t): the CQL-style term of ILQL (Snell et al. 2022 §4.2; Kumar et al. 2020).

    The cross-entropy of the dataset's action under softmax(Q): it pushes Q down on actions the
    data does not take. Shapes: q (..., A), actions (...) → (...).
    """
    return torch.logsumexp(q, dim=-1) - q.gather(-1, actions[..., None]).squeeze(-1)


def q_target(r_t: torch.Tensor, discount_t: torch.Tensor, v_t: torch.Tensor) -> torch.Tensor:
    """y_t = r_t + discount_t · V(s_{t+1}): ILQL's TD target, bootstrapping on V (in-sample), not on max_a Q.

    Args:
        r_t: rewards, (..., T).
        discount_t: γ (1 − terminated_t), (..., T).
        v_t: V(s_1) … V(s_T), the values of the next states, (..., T).
    """
    return r_t + discount_t * v_t


def expectile(values: np.ndarray, probs: np.ndarray, tau: float) -> np.ndarray:
    """The τ-expectile of discrete distributions over the last axis: the v with τ E[(X − v)₊] = (1 − τ) E[(v − X)₊].

    Exact (no iteration): with the values sorted, v lies between two consecutive values, where the
    condition is linear in v; every segment's candidate is computed at once and the consistent one
    kept. τ = ½ gives the mean; as τ → 1 the maximum over the support (probs > 0).

    Args:
        values: X, shape (..., n).
        probs: P(X = values), shape (..., n), each row summing to a positive number (normalised here).
        tau: τ in (0, 1).

    Returns:
        shape (...).
    """
    order = np.argsort(values, axis=-1)
    x = np.take_along_axis(values, order, -1)
    p = np.take_along_axis(probs, order, -1)
    cum_px, cum_p = np.cumsum(p * x, -1), np.cumsum(p, -1)
    total_px, total_p = cum_px[..., -1:], cum_p[..., -1:]
    # candidate k: values 0..k below v (weight 1 − τ), the rest above (weight τ)
    numerator = (1 - tau) * cum_px + tau * (total_px - cum_px)
    denominator = (1 - tau) * cum_p + tau * (total_p - cum_p)
    with np.errstate(invalid="ignore", divide="ignore"):
        v = numerator / denominator
    upper = np.concatenate([x[..., 1:], np.full(x[..., :1].shape, np.inf)], -1)
    slack = 1e-12 * (1 + np.abs(x))
    consistent = (v >= x - slack) & (v <= upper + slack) & (denominator > 0)
    k = np.argmax(consistent, axis=-1)
    return np.take_along_axis(v, k[..., None], -1)[..., 0]


def expectile_values(tree, data_policy: np.ndarray, tau: float) -> tuple[np.ndarray, np.ndarray]:
    """The exact fixed point of ILQL's Q and V losses on a prefix tree, for the data's policy and τ.

    Q(s, a) = r(s, a) + V(s·a),   V(s) = the τ-expectile of Q(s, ·) under π_D(·|s),   V(leaf) = 0,

    by backward induction over the tree's depth (task rewards, no KL term). With unlimited data
    from π_D and an exact function class, ILQL's Q and V converge to these (the CQL term aside).

    Args:
        tree: ``lmenv.to_mdp(env)``.
        data_policy: π_D(a|s), (S, A): the probability that the data takes a at s (rows of states
            the data never visits are used as given; see :func:`mixture_policy`).
        tau: τ in (0, 1).

    Returns:
        (Q (S, A), V (S,)), 0 at terminal states.
    """
    from lmenv._tree import children, task_rewards
    from lmenv._tree import terminal as terminal_states

    tau = check_tau(tau)
    S, A = tree.reference.shape
    data_policy = np.asarray(data_policy, dtype=float)
    if data_policy.shape != (S, A):
        raise ValueError(f"data_policy must have shape {(S, A)}; got {data_policy.shape}")
    child = children(tree)
    live = ~terminal_states(tree)
    R = task_rewards(tree)
    Q, V = np.zeros((S, A)), np.zeros(S)
    for depth in range(int(tree.depth.max()) - 1, -1, -1):
        nodes = np.flatnonzero((tree.depth == depth) & live)
        Q[nodes] = R[nodes] + V[child[nodes]]
        V[nodes] = expectile(Q[nodes], data_policy[nodes], tau)
    return Q, V


def mixture_policy(tree, policies, weights) -> tuple[np.ndarray, np.ndarray]:
    """The state-conditional policy of a dataset whose episodes come from ``policies`` with probabilities ``weights``.

    π_D(a|s) = Σ_k w_k d_k(s) π_k(a|s) / Σ_k w_k d_k(s), with d_k the visitation of π_k
    (:func:`lmenv.scoring.visitation`); π_ref at states no component visits.

    Returns:
        (π_D (S, A), d_D (S,)): the policy and the data's visitation (probability that an episode
        passes through s).
    """
    from lmenv.scoring import visitation

    weights = np.asarray(weights, dtype=float)
    if len(policies) != weights.size or np.any(weights < 0) or not np.isclose(weights.sum(), 1.0):
        raise ValueError(f"weights must be {len(policies)} non-negative numbers summing to 1; got {weights}")
    d = [visitation(tree, p) for p in policies]
    joint = sum(w * dk[:, None] * p for w, dk, p in zip(weights, d, policies))
    mass = joint.sum(axis=1, keepdims=True)
    policy = np.where(mass > 0, joint / np.where(mass > 0, mass, 1.0), tree.reference)
    return policy, sum(w * dk for w, dk in zip(weights, d))


def check_tau(tau) -> float:
    """τ as a float, or ValueError unless 0 < τ < 1."""
    from rlcore import _checks

    return _checks.number(tau, "tau", 0.0, 1.0, low_open=True, high_open=True,
                          meaning="the expectile of ILQL's V loss; ½ is the mean, → 1 the maximum")


# ====================================================================== the data
@dataclass
class OfflineData:
    """Whole episodes with their task rewards, the only input of ILQL (time on the last axis).

    Attributes:
        tokens: generated token ids a_t, (N, H) long (0 after the episode ended).
        actions: the same as indices into the action set, (N, H) long.
        rewards: task rewards r_t, (N, H) float32 (no KL term).
        terminated: whether s_{t+1} is terminal, (N, H) bool.
        alive: whether step t was taken, (N, H) bool.
    """

    tokens: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    terminated: torch.Tensor
    alive: torch.Tensor

    def __len__(self) -> int:
        return self.tokens.shape[0]

    def minibatch(self, n: int, generator: torch.Generator) -> dict:
        """``n`` episodes drawn uniformly with replacement."""
        index = torch.randint(0, len(self), (n,), generator=generator, device=generator.device)
        return {name: getattr(self, name)[index.to(self.tokens.device)]
                for name in ("tokens", "actions", "rewards", "terminated", "alive")}

    def to(self, device) -> OfflineData:
        return OfflineData(*(getattr(self, n).to(device) for n in ("tokens", "actions", "rewards", "terminated",
                                                                    "alive")))

    def states(self, tree) -> np.ndarray:
        """The tree states visited by the data (every s_t of every episode, and the terminal ones), sorted."""
        visited = set()
        for row, live in zip(self.tokens.tolist(), self.alive.tolist()):
            n = sum(live)
            for t in range(n + 1):
                visited.add(tree.index[tuple(row[:t])])
        return np.array(sorted(visited), dtype=np.int64)

    def empirical_policy(self, tree) -> tuple[np.ndarray, np.ndarray]:
        """Counts of (s, a) in the data: π̂_D(a|s) (π_ref where s is never visited) and the visit counts N(s)."""
        counts = np.zeros(tree.reference.shape)
        for row, acts, live in zip(self.tokens.tolist(), self.actions.tolist(), self.alive.tolist()):
            for t in range(sum(live)):
                counts[tree.index[tuple(row[:t])], acts[t]] += 1
        n = counts.sum(axis=1)
        policy = np.where(n[:, None] > 0, counts / np.maximum(n, 1)[:, None], tree.reference)
        return policy, n

    @classmethod
    def from_policy(cls, env, tree, policy: np.ndarray, n: int, seed: int = 0) -> OfflineData:
        """``n`` episodes sampled from a tabular policy (S, A) on ``tree`` (e.g. ``tree.reference``), task rewards."""
        from lmenv._tree import children, task_rewards
        from lmenv.oracle import sample_episodes

        ep = sample_episodes(tree, policy, n, np.random.default_rng(seed))
        kids = children(tree)[ep.states, ep.actions]
        tokens = np.array([[tree.prefixes[c][-1] for c in row] for row in kids], dtype=np.int64)
        tokens = np.where(ep.alive, tokens, 0)
        rewards = np.where(ep.alive, task_rewards(tree)[ep.states, ep.actions], 0.0)
        return cls(torch.as_tensor(tokens), torch.as_tensor(np.where(ep.alive, ep.actions, 0)),
                   torch.as_tensor(rewards, dtype=torch.float32), torch.as_tensor(ep.terminated),
                   torch.as_tensor(ep.alive))

    @classmethod
    def from_mixture(cls, env, tree, n: int, good_policy: np.ndarray, good_fraction: float = 0.5,
                     seed: int = 0) -> OfflineData:
        """``n`` episodes: a fraction ``good_fraction`` from ``good_policy`` (e.g. π*_β), the rest from π_ref."""
        from rlcore import _checks

        good_fraction = _checks.number(good_fraction, "good_fraction", 0.0, 1.0)
        n_good = int(round(good_fraction * n))
        parts = [cls.from_policy(env, tree, tree.reference, n - n_good, seed)] if n - n_good else []
        if n_good:
            parts.append(cls.from_policy(env, tree, good_policy, n_good, seed + 1))
        return cls(*(torch.cat([getattr(p, f) for p in parts]) for f in ("tokens", "actions", "rewards", "terminated",
                                                                          "alive")))

    @classmethod
    def from_texts(cls, env, completions, rewards=None) -> OfflineData:
        """Episodes from generated texts (each at most the horizon; shorter ones must end with the stop token).

        Args:
            env: the :class:`lmenv.TokenEnv` (prompt, action set, reward).
            completions: the generated texts (without the prompt).
            rewards: per-step rewards (N, H) to use instead of the environment's task reward.

        Raises:
            ValueError: a character outside the action set, a text longer than the horizon, or
                shorter without ending on the stop token.
        """
        from lmenv.rewards import Transitions, call_reward

        env = env.unwrapped
        H = env.max_new_tokens
        action_of = ({int(t): a for a, t in enumerate(env.action_tokens)} if env.action_tokens is not None else None)
        N = len(completions)
        tokens = np.zeros((N, H), dtype=np.int64)
        actions = np.zeros((N, H), dtype=np.int64)
        alive = np.zeros((N, H), dtype=bool)
        terminated = np.zeros((N, H), dtype=bool)
        for i, text in enumerate(completions):
            try:
                ids = env.tokenizer.encode(text)
            except ValueError as error:
                raise ValueError(f"completion {i} ({text!r}): {error}") from None
            if action_of is not None:
                outside = [env.tokenizer.decode([t]) for t in ids if t not in action_of]
                if outside:
                    raise ValueError(f"completion {i} ({text!r}) has {outside[0]!r}, which is not in the action set "
                                     f"{env.tokenizer.decode(env.action_tokens)!r}")
            if len(ids) > H or len(ids) == 0:
                raise ValueError(f"completion {i} ({text!r}) has {len(ids)} tokens; episodes have 1 to {H}")
            if len(ids) < H and ids[-1] != env.stop_id:
                raise ValueError(f"completion {i} ({text!r}) has {len(ids)} < {H} tokens and does not end with the "
                                 f"stop token: the episode would not have ended")
            n = len(ids)
            tokens[i, :n] = ids
            actions[i, :n] = [action_of[t] for t in ids] if action_of is not None else ids
            alive[i, :n] = True
            terminated[i, n - 1] = True
        if rewards is None:
            rows, steps = np.nonzero(alive)
            prefixes = [tuple(tokens[b, :t]) for b, t in zip(rows, steps)]
            batch = Transitions(env.prompt, prefixes, tokens[rows, steps], terminated[rows, steps], env.tokenizer)
            r = np.zeros((N, H))
            r[rows, steps] = call_reward(env.reward_fn, batch)
        else:
            r = np.where(alive, np.asarray(rewards, dtype=float), 0.0)
            if r.shape != (N, H) or not np.all(np.isfinite(r)):
                raise ValueError(f"rewards must be finite numbers of shape {(N, H)}")
        return cls(torch.as_tensor(tokens), torch.as_tensor(actions), torch.as_tensor(r, dtype=torch.float32),
                   torch.as_tensor(terminated), torch.as_tensor(alive))


# ====================================================================== the network
@dataclass
class ILQLHeads:
    """ILQL's heads at a batch of states: q1, q2 (B, H, A) trained, target_q = min of the target heads, v (B, H)."""

    q1: torch.Tensor
    q2: torch.Tensor
    target_q: torch.Tensor
    v: torch.Tensor


class ILQLModel(PolicyValueModel):
    """The transformer copy with ILQL's heads: twin Q heads, their Polyak-averaged targets, and the V head.

    A :class:`lmenv.policy.PolicyValueModel` with the soft-Q readout: its acting policy is
    π(a|s) ∝ π_ref(a|s) exp(Q̂(s, a)/β) with Q̂ = min of the target heads (``forward`` returns Q̂ as
    ``q`` and V as ``values``), so :func:`lmenv.scoring.score_model` and :func:`lmenv.rollout.rollout`
    score and sample ILQL's decoding policy. ``q_head`` is Q_1 and ``value_head`` is V.

    Args:
        env: the :class:`lmenv.TokenEnv`.
        kl_coef: β of the decoding, > 0.
        seed: seeds the Q heads' initial weights (torch's global generator is not used).
        init_std: standard deviation of the Q heads' initial weights (different for the two, so
            that the twins differ; 0 would keep them equal forever).
    """

    def __init__(self, env, kl_coef: float, seed: int = 0, init_std: float = 1e-3):
        super().__init__(env, q_head=True, readout="soft_q", kl_coef=kl_coef)
        n_embd, A = self.body.config.n_embd, self.n_actions
        self.q2_head = nn.utils.skip_init(nn.Linear, n_embd, A, device=self.device)
        generator = torch.Generator().manual_seed(int(seed))
        with torch.no_grad():
            for head in (self.q_head, self.q2_head):
                head.weight.copy_(torch.randn(head.weight.shape, generator=generator) * init_std)
                head.bias.zero_()
        self.target_q1 = copy.deepcopy(self.q_head).requires_grad_(False)
        self.target_q2 = copy.deepcopy(self.q2_head).requires_grad_(False)

    def _features(self, idx: torch.Tensor, cache=None):
        """(logits (B, T, V), cache, hidden (B, T, C)) of the transformer, through the network's precision settings."""
        if hasattr(self, "_body"):
            return self._body(idx, cache)
        return self.body(idx, cache=cache, return_hidden=True)

    def _ilql_heads(self, hidden: torch.Tensor) -> ILQLHeads:
        with torch.no_grad():
            target_q = torch.minimum(self.target_q1(hidden), self.target_q2(hidden))
        return ILQLHeads(self.q_head(hidden), self.q2_head(hidden), target_q, self.value_head(hidden).squeeze(-1))

    def forward(self, idx: torch.Tensor, cache=None) -> PolicyOutput:
        """The decoding policy's inputs at the positions of ``idx``: q = Q̂ = min of the target heads, values = V."""
        logits, cache, hidden = self._features(idx, cache)
        if self.action_tokens is not None:
            logits = logits.index_select(-1, self.action_tokens)  # (B, T, A)
        heads = self._ilql_heads(hidden)
        return PolicyOutput(logits / self.temperature, heads.v, heads.target_q, cache)

    def heads(self, tokens: torch.Tensor) -> ILQLHeads:
        """ILQL's heads at the states s_0 .. s_{H−1} of B episodes with generated tokens ``tokens`` (B, H).

        The prompt once (batch 1), its keys/values broadcast to B rows, then tokens[:, :H−1] in one
        pass, with gradients (as :meth:`PolicyValueModel.evaluate`).
        """
        B, H = tokens.shape
        _, cache_p, hidden_p = self._features(self.prompt_ids[None])  # (1, P, ·)
        first = hidden_p[:, -1:].expand(B, 1, -1)  # (B, 1, C): the state s_0
        if H > 1:
            cache = [(k.expand(B, -1, -1, -1), v.expand(B, -1, -1, -1)) for k, v in cache_p]  # (B, nh, P, hs)
            _, _, hidden_g = self._features(tokens[:, :H - 1], cache)  # (B, H − 1, C)
            hidden = torch.cat([first, hidden_g], dim=1)  # (B, H, C)
        else:
            hidden = first
        return self._ilql_heads(hidden)

    @torch.no_grad()
    def update_targets(self, polyak: float) -> None:
        """Q̂_i ← (1 − α) Q̂_i + α Q_θi (Polyak averaging, α = ``polyak``)."""
        for target, online in ((self.target_q1, self.q_head), (self.target_q2, self.q2_head)):
            for t, o in zip(target.parameters(), online.parameters()):
                t.lerp_(o, polyak)


# ====================================================================== training
@dataclass
class Config(Settings):
    """ILQL settings (the common ones are in :class:`lmenv.learners.common.Settings`; ``batch_size`` is
    the number of dataset episodes per gradient step, ``reference_source`` is unused)."""

    iterations: int = 1500
    """gradient steps, each on ``batch_size`` episodes drawn from the dataset"""
    learning_rate: float = 1e-4
    """Adam step size for the whole network (body and heads)"""
    tau: float = 0.9
    """τ of the expectile regression of V, in (0, 1): ½ the mean (the data's own values), → 1 the in-sample maximum"""
    cql_weight: float = 0.01
    """α_CQL, the weight of the CQL-style term (0: none)"""
    polyak: float = 0.01
    """α of the target heads' Polyak averaging, per gradient step"""
    kl_coef: float | None = None
    """β of the decoding π ∝ π_ref exp((Q̂ − V)/β) (β_ILQL = 1/β); None: the environment's kl_coef"""


def train(env, data: OfflineData, config: Config = Config(), tree=None) -> TrainResult:
    """Train ILQL's heads (and the transformer under them) on ``data``; score the decoding policy exactly on ``tree``.

    Args:
        env: the :class:`lmenv.TokenEnv` of the data (prompt, actions, horizon; β = its ``kl_coef``
            is the objective J_β that ``tree`` scores).
        data: the :class:`OfflineData`.
        config: the settings.
        tree: ``lmenv.to_mdp(env)`` for exact scores (optional).

    Returns:
        :class:`lmenv.learners.TrainResult` whose ``model`` is an :class:`ILQLModel`; ``tokens`` and
        ``episodes`` count the dataset steps used; ``rollout_time`` is 0 (offline).
    """
    from rlcore import _checks

    env = env.unwrapped
    check_tau(config.tau)
    kl_coef = env.kl_coef if config.kl_coef is None else config.kl_coef
    _checks.number(kl_coef, "kl_coef", 0.0, low_open=True, meaning="β of ILQL's decoding π ∝ π_ref exp((Q − V)/β)")
    _checks.number(env.kl_coef, "the environment's kl_coef", 0.0, low_open=True,
                   meaning="β of the objective J_β the decoding is scored on")
    _checks.number(config.cql_weight, "cql_weight", 0.0)
    _checks.number(config.polyak, "polyak", 0.0, 1.0, low_open=True)
    if not isinstance(data, OfflineData) or len(data) == 0:
        raise ValueError("data must be a non-empty OfflineData")
    if data.tokens.shape[1] != env.max_new_tokens:
        raise ValueError(f"the data's episodes have horizon {data.tokens.shape[1]}; the environment's is "
                         f"{env.max_new_tokens}")
    if int(data.actions.max()) >= env.reference.n_actions or int(data.actions.min()) < 0:
        raise ValueError(f"the data's actions must be indices in [0, {env.reference.n_actions}) of the action set")
    generator = seeded_generator(config.seed, env.reference.device)
    model = ILQLModel(env, kl_coef, seed=config.seed)
    data = data.to(model.device)
    optimizer = adam([p for p in model.parameters() if p.requires_grad], config)
    run = Run(config, model, env.kl_coef, tree)

    for iteration in run.iterations():
        run.anneal(optimizer, iteration)
        with run.timed("update"):
            mb = data.minibatch(config.batch_size, generator)
            alive, a_t = mb["alive"], mb["actions"]
            heads = model.heads(mb["tokens"])
            q1 = heads.q1.gather(-1, a_t[..., None]).squeeze(-1)  # Q_θ1(s_t, a_t), (b, H)
            q2 = heads.q2.gather(-1, a_t[..., None]).squeeze(-1)
            with torch.no_grad():
                v_next = torch.cat([heads.v[:, 1:], torch.zeros_like(heads.v[:, :1])], dim=1)  # V(s_{t+1})
                y = q_target(mb["rewards"], (~mb["terminated"]).float(), v_next)
                q_hat = heads.target_q.gather(-1, a_t[..., None]).squeeze(-1)  # min_i Q̂_i(s_t, a_t)
            q_loss = masked_mean((q1 - y) ** 2 + (q2 - y) ** 2, alive)
            v_loss = masked_mean(expectile_loss(q_hat - heads.v, config.tau), alive)
            cql = masked_mean(cql_loss(heads.q1, a_t) + cql_loss(heads.q2, a_t), alive)
            loss = q_loss + v_loss + config.cql_weight * cql
            gradient_step(optimizer, loss, config.max_grad_norm)
            model.update_targets(config.polyak)
        run.tokens += int(alive.sum())
        run.episodes += config.batch_size
        run.history.log(iteration, {
            "losses/q_loss": q_loss.item(), "losses/v_loss": v_loss.item(), "losses/cql_loss": cql.item(),
            "losses/q_values": masked_mean(q1.detach(), alive).item(),
            "losses/v_values": masked_mean(heads.v.detach(), alive).item(),
            "losses/explained_variance": explained_variance(q1.detach(), y, alive),
        })
    return run.finish()


# ====================================================================== exact comparisons
@torch.no_grad()
def tree_heads(model: ILQLModel, tree, batch_size: int = 1024) -> ILQLHeads:
    """ILQL's heads at every state of ``tree``, float64 numpy: q1, q2, target_q (S, A), v (S,); 0 at the leaves."""
    from lmenv._tree import terminal as terminal_states

    S, A = tree.reference.shape
    live = np.flatnonzero(~terminal_states(tree))
    out = {name: np.zeros((S, A)) for name in ("q1", "q2", "target_q")}
    out["v"] = np.zeros(S)
    by_length: dict[int, list[int]] = {}
    for s in live:
        by_length.setdefault(len(tree.prefixes[s]), []).append(int(s))
    prompt = model.prompt_ids.tolist()
    for length, states in sorted(by_length.items()):
        for start in range(0, len(states), batch_size):
            chunk = states[start:start + batch_size]
            ids = torch.tensor([prompt + list(tree.prefixes[s]) for s in chunk], device=model.device)
            _, _, hidden = model._features(ids)
            heads = model._ilql_heads(hidden[:, -1])
            for name in ("q1", "q2", "target_q"):
                table = getattr(heads, name).double().cpu().numpy()
                out[name][chunk] = np.take_along_axis(table, tree.env_actions[chunk], axis=1)
            out["v"][chunk] = heads.v.double().cpu().numpy()
    return ILQLHeads(out["q1"], out["q2"], out["target_q"], out["v"])


@dataclass(frozen=True)
class ValueErrors:
    """Errors of learned values against reference values on the states the data visits and on the rest.

    Attributes:
        v_visited, v_unvisited: mean |V − V_ref| over non-terminal visited / unvisited states.
        v_visited_weighted: Σ_s d_D(s) |V − V_ref| / Σ_s d_D(s) (weighted by the data's visitation).
        q_visited, q_unvisited: mean |Q − Q_ref| over (s, a) of those states.
        n_visited, n_unvisited: how many non-terminal states are in each group.
    """

    v_visited: float
    v_visited_weighted: float
    v_unvisited: float
    q_visited: float
    q_unvisited: float
    n_visited: int
    n_unvisited: int


def value_errors(tree, visited: np.ndarray, Q, V, Q_ref, V_ref, data_visitation=None) -> ValueErrors:
    """Compare learned (Q, V) with reference (Q_ref, V_ref) on visited vs unvisited non-terminal states.

    Args:
        visited: the states the data visits (indices) or a bool mask (S,).
        data_visitation: d_D(s) (S,) for the weighted error (default: uniform over visited states).
    """
    from lmenv._tree import terminal as terminal_states

    live = ~terminal_states(tree)
    mask = np.zeros(tree.n_states, dtype=bool)
    mask[visited] = True
    on, off = mask & live, ~mask & live
    dv = np.abs(np.asarray(V) - V_ref)
    dq = np.abs(np.asarray(Q) - Q_ref)
    w = np.where(on, 1.0 if data_visitation is None else data_visitation, 0.0)
    mean = lambda x, m: float(x[m].mean()) if m.any() else float("nan")  # noqa: E731
    return ValueErrors(mean(dv, on), float((w * dv).sum() / w.sum()), mean(dv, off), mean(dq, on), mean(dq, off),
                       int(on.sum()), int(off.sum()))
