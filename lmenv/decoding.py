"""Value-guided decoding over a frozen language model: best-of-n and token-level (controlled) decoding, scored exactly.

Nothing here trains the language model: the reference π_ref (the bundled model) stays frozen and a
value function, or the task reward itself, steers its sampling.

**Best-of-n** (Nakano et al. 2021; Stiennon et al. 2020): draw n continuations from π_ref and keep
the one with the highest task return G = Σ_t r_t (ties broken uniformly). Its distribution over
whole sequences y is exact on the tree,

    P_n(y) = π_ref(y) / P(G = G(y)) · [F(G(y))^n − F⁻(G(y))^n],   F(g) = P_ref(G ≤ g),  F⁻(g) = P_ref(G < g),

(given the best return g, the kept sequence is π_ref conditioned on G = g), and
:func:`best_of_n_policy` turns it into a token-level policy π(a|s) = P_n(s·a…)/P_n(s…), so
:func:`lmenv.scoring.score` gives its J_β, KL(π ‖ π_ref) and KL(π ‖ π*). The often-quoted
log n − (n − 1)/n is an upper bound on KL(P_n ‖ π_ref), approached when every single sequence
is improbable (Beirami et al. 2024); ties and likely sequences keep the exact KL below it.

**Token-level value-guided decoding** (controlled decoding; Yang & Klein 2021, FUDGE; Mudgal et al.
2024): at every step sample from

    π(a|s) ∝ π_ref(a|s) exp(Q(s, a)/β),

with Q from a Q head, or Q(s, a) = r(s, a) + V(s·a) from a V head (a one-token look-ahead,
:func:`q_from_state_values`). With the exact soft Q*_β of the task this *is* the KL-regularised
optimum π*_β (the soft Bellman equation: π* = π_ref exp((Q* − V*)/β)), the reference line of
every comparison; with the exact Q^{π_ref} (the value of the reference's own continuations, what
a prefix scorer trained on π_ref's samples estimates) it is one step of soft policy improvement.
:func:`guided_policy` builds the tabular policy for exact scoring; :func:`guided_decode` samples
texts on any environment, enumerable or not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

import rlcore


# ====================================================================== best-of-n
def path_returns(tree) -> np.ndarray:
    """G(s) = Σ of the task rewards on the path from the root to s, shape (S,) (at a leaf: the sequence's return)."""
    from lmenv._tree import sequence_returns

    return sequence_returns(tree)


def best_of_n_policy(tree, n: int) -> np.ndarray:
    """The exact token-level policy of best-of-n sampling from π_ref with the task return, (S, A).

    Args:
        tree: ``lmenv.to_mdp(env)``.
        n: samples per output (n = 1 is π_ref).

    Returns:
        π(a|s) (uniform at terminal states; π_ref at states best-of-n never reaches).
    """
    from rlcore import _checks

    from lmenv._tree import children
    from lmenv._tree import terminal as terminal_states
    from lmenv.scoring import visitation

    n = _checks.whole(n, "n", 1)
    child = children(tree)
    terminal = terminal_states(tree)
    S, A = tree.reference.shape
    leaves = np.flatnonzero(terminal)
    p_ref = visitation(tree, tree.reference)[leaves]  # π_ref(y) of every sequence
    g = np.round(path_returns(tree)[leaves], 12)  # returns, rounded so that equal returns tie exactly
    levels, inverse = np.unique(g, return_inverse=True)
    p_level = np.bincount(inverse, weights=p_ref, minlength=levels.size)  # P(G = g)
    F = np.minimum(np.cumsum(p_level), 1.0)  # P(G ≤ g)
    F_below = F - p_level  # P(G < g)
    p_best = np.clip(F**n - np.clip(F_below, 0.0, None) ** n, 0.0, None)  # P(max of n returns = g)
    mass = np.zeros(S)
    mass[leaves] = np.where(p_level[inverse] > 0, p_ref / p_level[inverse] * p_best[inverse], 0.0)
    for depth in range(int(tree.depth.max()) - 1, -1, -1):  # bottom up: mass of every prefix
        nodes = np.flatnonzero((tree.depth == depth) & ~terminal)
        mass[nodes] = mass[child[nodes]].sum(axis=1)
    policy = np.full((S, A), 1.0 / A)
    live = np.flatnonzero(~terminal)
    total = mass[live][:, None]
    policy[live] = np.where(total > 0, mass[child[live]] / np.where(total > 0, total, 1.0), tree.reference[live])
    return policy / policy.sum(axis=1, keepdims=True)


def best_of_n_kl_bound(n: int) -> float:
    """log n − (n − 1)/n, an upper bound on KL(best-of-n ‖ π_ref) (Beirami et al. 2024)."""
    return float(np.log(n) - (n - 1) / n)


@torch.no_grad()
def sample_best_of_n(env, n: int, outputs: int = 1, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """Best-of-n by sampling, on any environment: for each output, n continuations from π_ref, keep the best.

    Args:
        env: a :class:`lmenv.TokenEnv` (fixed action set or the whole vocabulary).
        n: candidates per output.
        outputs: how many outputs.
        seed: seeds the sampling.

    Returns:
        (texts, returns): the kept continuations and their task returns Σ_t r_t, shape (outputs,).
    """
    from rlcore import _checks

    from lmenv.policy import PolicyValueModel
    from lmenv.rollout import rollout

    n, outputs = _checks.whole(n, "n", 1), _checks.whole(outputs, "outputs", 1)
    env = env.unwrapped
    sampler = PolicyValueModel(env)  # untrained: its policy is π_ref
    generator = torch.Generator(device=sampler.device).manual_seed(seed)
    batch = rollout(sampler, env, n * outputs, generator, reference_source="forward")
    returns = batch.episode_returns.reshape(outputs, n)
    best = returns.argmax(dim=1)  # first of the tied best: the candidates are exchangeable, so this is uniform
    rows = torch.arange(outputs) * n + best.cpu()
    texts = [env.tokenizer.decode(batch.tokens[r][batch.alive[r]].tolist()) for r in rows.tolist()]
    return texts, returns.gather(1, best[:, None]).squeeze(1).cpu().numpy()


# ====================================================================== token-level guidance
def guided_policy(tree, q: np.ndarray, kl_coef: float) -> np.ndarray:
    """π(a|s) ∝ π_ref(a|s) exp(Q(s, a)/β) at every state of ``tree``, (S, A) (uniform at terminal states).

    With the soft Q*_β (``tree.kl_regularised_optimum(β).Q``) this is π*_β.

    Args:
        tree: ``lmenv.to_mdp(env)``.
        q: Q(s, a), (S, A) (any values at terminal states).
        kl_coef: β > 0.
    """
    from rlcore import _checks

    from lmenv._tree import terminal as terminal_states

    kl_coef = _checks.number(kl_coef, "kl_coef", 0.0, low_open=True, meaning="β of π ∝ π_ref exp(Q/β)")
    q = _checks.real_array(q, "q")
    if q.shape != tree.reference.shape:
        raise ValueError(f"q must have shape {tree.reference.shape} (states × actions of the tree); got {q.shape}")
    terminal = terminal_states(tree)
    policy = rlcore.softmax_policy(np.where(terminal[:, None], 0.0, q), kl_coef, tree.reference)
    policy[terminal] = 1.0 / q.shape[1]
    return policy


def q_from_state_values(tree, v: np.ndarray) -> np.ndarray:
    """Q(s, a) = r(s, a) + V(s·a): action values from state values by a one-token look-ahead, (S, A) (task rewards; 0
    at terminal states)."""
    from lmenv._tree import children, task_rewards
    from lmenv._tree import terminal as terminal_states

    v = np.where(terminal_states(tree), 0.0, np.asarray(v, dtype=float))
    return np.where(terminal_states(tree)[:, None], 0.0, task_rewards(tree) + v[children(tree)])


@dataclass(frozen=True)
class ModelValues:
    """A network's value heads at every state of a tree: V (S,), Q (S, A) or None; 0 at terminal states."""

    V: np.ndarray
    Q: np.ndarray | None


@torch.no_grad()
def model_values(model, tree, batch_size: int = 1024) -> ModelValues:
    """The value head (and Q head, if any) of a :class:`lmenv.policy.PolicyValueModel` at every state of ``tree``."""
    S, A = tree.reference.shape
    from lmenv._tree import terminal as terminal_states

    V, Q = np.zeros(S), (np.zeros((S, A)) if getattr(model, "q_head", None) is not None else None)
    live = np.flatnonzero(~terminal_states(tree))
    prompt = model.prompt_ids.tolist()
    by_length: dict[int, list[int]] = {}
    for s in live:
        by_length.setdefault(len(tree.prefixes[s]), []).append(int(s))
    for _, states in sorted(by_length.items()):
        for start in range(0, len(states), batch_size):
            chunk = states[start:start + batch_size]
            ids = torch.tensor([prompt + list(tree.prefixes[s]) for s in chunk], device=model.device)
            out = model(ids)
            V[chunk] = out.values[:, -1].double().cpu().numpy()
            if Q is not None:
                Q[chunk] = np.take_along_axis(out.q[:, -1].double().cpu().numpy(), tree.env_actions[chunk], axis=1)
    return ModelValues(V, Q)


@dataclass
class ScorerConfig:
    """Settings of :func:`fit_prefix_scorer`."""

    iterations: int = 200
    """gradient steps, each on a fresh batch of π_ref's episodes"""
    batch_size: int = 64
    """episodes per step"""
    learning_rate: float = 3e-4
    """Adam step size (body and value head)"""
    seed: int = 0
    """seeds the sampling and the head"""
    progress: bool = True
    """a tqdm progress bar"""


def fit_prefix_scorer(env, config: ScorerConfig = ScorerConfig()):
    """A prefix scorer V(s) ≈ V^{π_ref}(s): a value head regressed on the task returns-to-go of π_ref's samples.

    The V head of a copy of the transformer (:class:`lmenv.policy.PolicyValueModel`), trained by
    mean squared error to G_t = Σ_{k ≥ t} r_k on episodes sampled from the frozen π_ref (the prefix
    scorer of FUDGE and CD-FUDGE, Mudgal et al. 2024). Guide decoding with it through
    :func:`q_from_state_values` (exact scoring) or :func:`guided_decode` with :func:`model_guide`.

    Returns:
        the trained :class:`lmenv.policy.PolicyValueModel` (use its ``values``, not its logits).
    """
    from tqdm.auto import trange

    from lmenv.learners.common import discounted_returns, masked_mean, seeded_generator
    from lmenv.model import gradient_step
    from lmenv.policy import PolicyValueModel
    from lmenv.rollout import rollout

    env = env.unwrapped
    generator = seeded_generator(config.seed, env.reference.device)
    sampler = PolicyValueModel(env)  # untrained: π_ref; never updated
    scorer = PolicyValueModel(env)
    optimizer = torch.optim.Adam(scorer.parameters(), lr=config.learning_rate)
    for _ in trange(config.iterations, disable=not config.progress, desc="prefix scorer"):
        batch = rollout(sampler, env, config.batch_size, generator, reference_source="forward")
        returns = discounted_returns(batch.rewards, batch.discount_t)  # G_t of the task rewards
        values = scorer.evaluate(batch.tokens).values
        loss = masked_mean((values - returns) ** 2, batch.alive)
        gradient_step(optimizer, loss)
    return scorer


def model_guide(model, env, kind: str = "v") -> Callable:
    """A guide for :func:`guided_decode` from a network's heads: ``kind="q"`` its Q head, ``"v"`` r(s, a) + V(s·a).

    The look-ahead evaluates V at every child prefix (A more positions per state) and the task
    reward of every candidate token (the environment's reward object).
    """
    from lmenv.rewards import Transitions, call_reward

    if kind not in ("q", "v"):
        raise ValueError(f"kind must be 'q' or 'v'; got {kind!r}")
    env = env.unwrapped
    prompt = list(env.reference.prompt_ids)
    tokens = (np.arange(env.reference.n_actions) if env.action_tokens is None else np.asarray(env.action_tokens))

    @torch.no_grad()
    def guide(prefixes):
        if kind == "q":
            ids = torch.tensor([prompt + list(p) for p in prefixes], device=model.device)
            return model(ids).q[:, -1].double().cpu().numpy()
        A = tokens.size
        kids = [tuple(p) + (int(t),) for p in prefixes for t in tokens]
        terminal = np.array([len(k) == env.max_new_tokens or k[-1] == env.stop_id for k in kids])
        batch = Transitions(env.prompt, [tuple(p) for p in prefixes for _ in range(A)], np.tile(tokens, len(prefixes)),
                            terminal, env.tokenizer)
        r = call_reward(env.reward_fn, batch)
        ids = torch.tensor([prompt + list(k) for k in kids], device=model.device)
        v = model(ids).values[:, -1].double().cpu().numpy()
        return (r + np.where(terminal, 0.0, v)).reshape(len(prefixes), A)

    return guide


def guided_decode(env, guide: Callable, kl_coef: float, outputs: int = 1, seed: int = 0) -> list[str]:
    """Sample texts token by token from π(a|s) ∝ π_ref(a|s) exp(Q(s, a)/β), Q given by ``guide``, on any environment.

    Args:
        env: a :class:`lmenv.TokenEnv` (π_ref from its reference and prefix cache).
        guide: ``guide(prefixes) -> (N, A)`` action values at N generated prefixes (tuples of token
            ids), e.g. :func:`model_guide`, or ``lambda ps: Q[[tree.index[p] for p in ps]]``.
        kl_coef: β > 0.
        outputs: how many texts, generated in lockstep.
        seed: seeds the sampling.

    Returns:
        the generated texts.
    """
    from rlcore import _checks

    env = env.unwrapped
    kl_coef = _checks.number(kl_coef, "kl_coef", 0.0, low_open=True, meaning="β of π ∝ π_ref exp(Q/β)")
    outputs = _checks.whole(outputs, "outputs", 1)
    rng = np.random.default_rng(seed)
    tokens = (np.arange(env.reference.n_actions) if env.action_tokens is None else np.asarray(env.action_tokens))
    prefixes = [()] * outputs
    running = np.ones(outputs, dtype=bool)
    for _ in range(env.max_new_tokens):
        rows = np.flatnonzero(running)
        if rows.size == 0:
            break
        current = [prefixes[i] for i in rows]
        log_ref = env.reference.log_probs_batch(current)  # (n, A)
        q = np.asarray(guide(current), dtype=float)
        if q.shape != log_ref.shape or not np.all(np.isfinite(q)):
            raise ValueError(f"guide must return finite action values of shape {log_ref.shape}; got {q.shape}")
        probs = rlcore.softmax_policy(q, kl_coef, np.exp(log_ref))
        actions = np.array([rng.choice(probs.shape[1], p=p / p.sum()) for p in probs])
        for i, a in zip(rows, actions):
            prefixes[i] = prefixes[i] + (int(tokens[a]),)
            if len(prefixes[i]) == env.max_new_tokens or prefixes[i][-1] == env.stop_id:
                running[i] = False
    return [env.tokenizer.decode(p) for p in prefixes]
