"""Synthetic human feedback with a known labeller: preference pairs sampled from a policy, labelled by Bradley–Terry.

RLHF starts from comparisons: a person sees two continuations y¹, y² of a prompt x and says which
is better (Christiano et al. 2017; Ouyang et al. 2022). Here the person is a Bradley–Terry model
on a hidden *true* return R(y) = Σ_t r_t (by default the environment's own reward, summed over
the sequence):

    P(y¹ ≻ y² | x) = σ((R(y¹) − R(y²)) / τ),        σ(z) = 1 / (1 + e^{−z}),

with τ = ``temperature`` the labeller's noise (τ → 0: always the better one; large τ: coin
flips). Because the labeller is known, so is the best any reward model can do on its labels:
on a pair, predicting the more probable label is right with probability max(p, 1 − p), p the
probability above (:meth:`PreferencePairs.accuracy_ceiling`); over the pairs a policy samples,
:func:`exact_accuracy_ceiling` sums it over the enumerated tree.

A reward model fitted by maximum likelihood to these labels tends to R/τ up to a constant per
prompt; DPO with coefficient β_DPO tends to the KL-regularised optimum at β = β_DPO · τ
(docs/rlhf.md).

Prompts. Every pair records its prompt. :class:`PromptDistribution` is a list of prompts with
weights (checked: not empty, positive weights that sum to 1, characters in the vocabulary);
:func:`sample_preferences` draws the prompt of each pair from it (one environment per prompt,
sharing the model, built by :func:`env_for_prompt`). The reward model accepts pairs of several
prompts; DPO and the exact scores work on one prompt per environment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from rlcore import _checks
from lmenv import _tree
from lmenv.rewards import Transitions, call_reward

Tokens = tuple[int, ...]


# ---------------------------------------------------------------------- prompts
@dataclass(frozen=True)
class PromptDistribution:
    """A distribution over prompts: ``prompts[i]`` with probability ``weights[i]``.

    Args:
        prompts: one or more distinct, non-empty prompt strings.
        weights: their probabilities (positive, summing to 1); default uniform.

    Raises:
        ValueError: for an empty list, an empty or repeated prompt, or weights that are not
            positive numbers summing to 1 (the message gives the sum).
    """

    prompts: tuple[str, ...]
    weights: tuple[float, ...] = field(default=())

    def __post_init__(self):
        prompts = (self.prompts,) if isinstance(self.prompts, str) else tuple(self.prompts)
        if not prompts:
            raise ValueError("prompts must hold at least one prompt; got an empty list")
        for i, p in enumerate(prompts):
            if not isinstance(p, str) or not p:
                raise ValueError(f"prompts[{i}] must be a non-empty string; got {p!r}")
        if len(set(prompts)) != len(prompts):
            repeated = next(p for p in prompts if prompts.count(p) > 1)
            raise ValueError(f"prompts must be distinct; {repeated!r} appears {prompts.count(repeated)} times "
                             f"(give it a larger weight instead)")
        weights = self.weights if len(self.weights) else (1.0 / len(prompts),) * len(prompts)
        weights = tuple(_checks.number(w, f"weights[{i}]", 0.0, None, low_open=True) for i, w in enumerate(weights))
        if len(weights) != len(prompts):
            raise ValueError(f"weights must have one entry per prompt ({len(prompts)}); got {len(weights)}")
        if abs(sum(weights) - 1.0) > 1e-9:
            raise ValueError(f"weights must sum to 1; they sum to {sum(weights):.12g}")
        object.__setattr__(self, "prompts", prompts)
        object.__setattr__(self, "weights", weights)

    def __len__(self) -> int:
        return len(self.prompts)

    def check_vocabulary(self, tokenizer) -> None:
        """Raise ValueError naming the first prompt with a character outside the tokenizer's vocabulary."""
        for i, p in enumerate(self.prompts):
            outside = sorted({c for c in p if c not in tokenizer.stoi})
            if outside and not _encodes(tokenizer, p):
                raise ValueError(f"prompt {i} ({p!r}) has characters outside the vocabulary: "
                                 f"{''.join(outside)!r}")

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Indices of ``n`` prompts drawn with the weights, shape (n,)."""
        return rng.choice(len(self.prompts), size=n, p=np.asarray(self.weights))


def _encodes(tokenizer, text: str) -> bool:
    try:
        return len(tokenizer.encode(text)) > 0
    except ValueError:
        return False


def env_for_prompt(env, prompt: str):
    """A :class:`lmenv.TokenEnv` like ``env`` (model, actions, horizon, reward, β, stop token) with another prompt.

    The environment's own prompt gives ``env`` itself (and its warm prefix cache).
    """
    env = env.unwrapped
    if prompt == env.prompt:
        return env
    PromptDistribution((prompt,)).check_vocabulary(env.tokenizer)
    return _like(env, prompt=prompt)


def with_reward(env, reward, kl_coef: float | None = None):
    """A :class:`lmenv.TokenEnv` like ``env`` that pays ``reward`` instead (e.g. a learned one).

    It shares ``env``'s reference policy and its prefix cache, so ``lmenv.to_mdp`` of it only
    computes the new rewards. ``kl_coef`` defaults to ``env``'s β.
    """
    env = env.unwrapped
    return _like(env, reward=reward, kl_coef=env.kl_coef if kl_coef is None else kl_coef, reference=env.reference)


def _like(env, **changes):
    from lmenv.token_env import TokenEnv

    actions = "vocab" if env.action_tokens is None else [env.tokenizer.decode([int(t)]) for t in env.action_tokens]
    stop = None if env.stop_id is None else env.tokenizer.decode([env.stop_id])
    settings = dict(model=env.model, tokenizer=env.tokenizer, prompt=env.prompt, max_new_tokens=env.max_new_tokens,
                    actions=actions, top_k=env.top_k, temperature=env.reference.temperature, reward=env.reward_fn,
                    kl_coef=env.kl_coef, stop_token=stop)
    return TokenEnv(**{**settings, **changes})


# ---------------------------------------------------------------------- the labeller
@dataclass(frozen=True)
class BradleyTerry:
    """The labeller: prefers y¹ to y² with probability σ((R(y¹) − R(y²)) / τ).

    Args:
        temperature: τ > 0, the noise of the labeller's choice (a Boltzmann choice between two).
    """

    temperature: float = 0.25

    def __post_init__(self):
        _checks.number(self.temperature, "temperature", 0.0, None, low_open=True,
                       meaning="the labeller's noise τ")

    def probability(self, return_1, return_2) -> np.ndarray:
        """P(y¹ ≻ y²) = σ((R(y¹) − R(y²)) / τ), elementwise."""
        z = (np.asarray(return_1, dtype=float) - np.asarray(return_2, dtype=float)) / self.temperature
        return 0.5 * (1.0 + np.tanh(0.5 * z))  # σ(z), without overflow


# ---------------------------------------------------------------------- the pairs
@dataclass(frozen=True, eq=False)
class PreferencePairs:
    """N labelled comparisons: for pair i, ``chosen[i]`` was preferred to ``rejected[i]`` as continuations of ``prompts[i]``.

    Attributes:
        prompts: the prompt of each pair, (N,).
        chosen: generated token ids of the preferred continuation, (N,) tuples.
        rejected: those of the other one.
        chosen_return, rejected_return: the hidden true returns R(y) (None when unknown, e.g.
            for pairs labelled by people).
        probability: the labeller's P(chosen ≻ rejected) (None when unknown).

    Raises:
        ValueError: for no pairs, lists of different lengths, or a pair whose two sequences are
            identical (a comparison of a sequence with itself carries no preference).
    """

    prompts: tuple[str, ...]
    chosen: tuple[Tokens, ...]
    rejected: tuple[Tokens, ...]
    chosen_return: np.ndarray | None = None
    rejected_return: np.ndarray | None = None
    probability: np.ndarray | None = None

    def __post_init__(self):
        chosen = tuple(tuple(int(t) for t in y) for y in self.chosen)
        rejected = tuple(tuple(int(t) for t in y) for y in self.rejected)
        prompts = (self.prompts,) * len(chosen) if isinstance(self.prompts, str) else tuple(self.prompts)
        if not chosen:
            raise ValueError("preference pairs: got no pairs")
        if not len(prompts) == len(chosen) == len(rejected):
            raise ValueError(f"preference pairs: prompts, chosen and rejected must have the same length; got "
                             f"{len(prompts)}, {len(chosen)} and {len(rejected)}")
        for i, (a, b) in enumerate(zip(chosen, rejected)):
            if a == b:
                raise ValueError(f"preference pair {i} compares a sequence with itself ({list(a)}): the two "
                                 f"continuations of a pair must differ")
            if not a or not b:
                raise ValueError(f"preference pair {i} has an empty continuation")
        object.__setattr__(self, "prompts", prompts)
        object.__setattr__(self, "chosen", chosen)
        object.__setattr__(self, "rejected", rejected)
        for name in ("chosen_return", "rejected_return", "probability"):
            value = getattr(self, name)
            if value is not None:
                value = _checks.real_array(value, name)
                if value.shape != (len(chosen),):
                    raise ValueError(f"{name} must have shape ({len(chosen)},); got {value.shape}")
                object.__setattr__(self, name, value)

    @classmethod
    def from_texts(cls, tokenizer, chosen: Sequence[tuple[str, str]], rejected: Sequence[tuple[str, str]]):
        """Pairs from texts: ``chosen[i]`` and ``rejected[i]`` are (prompt, continuation) strings.

        Raises:
            ValueError: if a pair's two texts continue different prompts, if a text has a
                character outside the vocabulary, or if a pair's continuations are identical.
        """
        if len(chosen) != len(rejected):
            raise ValueError(f"chosen and rejected must have the same length; got {len(chosen)} and {len(rejected)}")
        prompts, a, b = [], [], []
        for i, ((prompt_a, text_a), (prompt_b, text_b)) in enumerate(zip(chosen, rejected)):
            if prompt_a != prompt_b:
                raise ValueError(f"preference pair {i} compares continuations of different prompts "
                                 f"({prompt_a!r} and {prompt_b!r}); a pair compares two continuations of one prompt")
            PromptDistribution((prompt_a,)).check_vocabulary(tokenizer)
            for which, text in (("chosen", text_a), ("rejected", text_b)):
                if not _encodes(tokenizer, text):
                    outside = "".join(sorted({c for c in text if c not in tokenizer.stoi}))
                    raise ValueError(f"preference pair {i}: the {which} text {text!r} has characters outside the "
                                     f"vocabulary: {outside!r}")
            prompts.append(prompt_a)
            a.append(tuple(tokenizer.encode(text_a)))
            b.append(tuple(tokenizer.encode(text_b)))
        return cls(tuple(prompts), tuple(a), tuple(b))

    def __len__(self) -> int:
        return len(self.chosen)

    def subset(self, index) -> PreferencePairs:
        """The pairs at ``index`` (an array of indices or a slice)."""
        index = np.arange(len(self))[index]
        pick = lambda x: None if x is None else x[index]  # noqa: E731
        return PreferencePairs(tuple(self.prompts[i] for i in index), tuple(self.chosen[i] for i in index),
                               tuple(self.rejected[i] for i in index), pick(self.chosen_return),
                               pick(self.rejected_return), pick(self.probability))

    def split(self, heldout: float | int) -> tuple[PreferencePairs, PreferencePairs]:
        """(training pairs, held-out pairs): the last ``heldout`` pairs (a count, or a fraction in (0, 1))."""
        n = len(self)
        k = int(round(heldout * n)) if isinstance(heldout, float) and heldout < 1 else int(heldout)
        if not 0 < k < n:
            raise ValueError(f"heldout must leave pairs on both sides of the split ({n} pairs); got {heldout}")
        return self.subset(slice(0, n - k)), self.subset(slice(n - k, n))

    def accuracy_ceiling(self) -> float:
        """The expected accuracy of the best possible predictor on these pairs: mean_i max(p_i, 1 − p_i).

        p_i is the labeller's probability of the label; no reward can do better in expectation
        (it can only guess which label the labeller draws). Needs ``probability``.
        """
        if self.probability is None:
            raise ValueError("the accuracy ceiling needs the labeller's probabilities (pairs from sample_preferences)")
        return float(np.maximum(self.probability, 1.0 - self.probability).mean())

    def for_prompt(self, prompt: str) -> PreferencePairs:
        """The pairs of one prompt."""
        index = np.flatnonzero(np.asarray([p == prompt for p in self.prompts]))
        if index.size == 0:
            raise ValueError(f"no preference pair has the prompt {prompt!r}")
        return self.subset(index)

    def check_prompt(self, prompt: str, who: str) -> None:
        """Raise ValueError unless every pair continues ``prompt`` (for learners on one environment)."""
        other = [i for i, p in enumerate(self.prompts) if p != prompt]
        if other:
            raise ValueError(f"{who} trains on the environment's prompt {prompt!r}, but pair {other[0]} (of "
                             f"{len(other)}) continues {self.prompts[other[0]]!r}; select them with "
                             f"pairs.for_prompt(env.prompt)")


# ---------------------------------------------------------------------- sampling and labelling
def sample_sequences(env, n: int, rng: np.random.Generator, policy=None, tree=None) -> list[Tokens]:
    """``n`` sequences (generated token ids) of ``env``, sampled from a policy.

    Args:
        env: the :class:`lmenv.TokenEnv`.
        n: how many.
        rng: a numpy Generator (the only source of randomness).
        policy: None for π_ref (the reference model, read from the environment's prefix cache,
            one batched lookup per step); a :class:`lmenv.PolicyValueModel` (sampled with
            :func:`lmenv.sample_rollout`); or a tabular policy (S, A) on ``tree``.
        tree: ``lmenv.to_mdp(env)``, for a tabular policy.
    """
    env = env.unwrapped
    n = _checks.whole(n, "n", 1)
    if policy is None:
        return _sample_reference(env, n, rng)
    if isinstance(policy, np.ndarray):
        if tree is None:
            raise ValueError("a tabular policy needs the tree it is defined on (tree=lmenv.to_mdp(env))")
        return _sample_tabular(tree, policy, n, rng)
    from lmenv.rollout import sample_rollout

    generator = torch.Generator(device=policy.device).manual_seed(int(rng.integers(2**62)))
    batch = sample_rollout(policy, env, n, generator)
    return [tuple(int(t) for t, alive in zip(row, live) if alive)
            for row, live in zip(batch.tokens.tolist(), batch.alive.tolist())]


def _sample_reference(env, n: int, rng: np.random.Generator) -> list[Tokens]:
    sequences = [()] * n
    running = np.arange(n)
    tokens = env.action_tokens
    for _ in range(env.max_new_tokens):
        log_probs = env.reference.log_probs_batch([sequences[i] for i in running])  # (m, A)
        probs = np.exp(log_probs)
        cumulative = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)
        u = rng.random(len(running))[:, None]
        actions = np.minimum((u > cumulative).sum(axis=1), probs.shape[1] - 1)  # inverse CDF
        chosen = actions if tokens is None else tokens[actions]
        for i, token in zip(running, chosen):
            sequences[i] = sequences[i] + (int(token),)
        running = running[chosen != (-1 if env.stop_id is None else env.stop_id)]
        if running.size == 0:
            break
    return sequences


def _sample_tabular(tree, policy: np.ndarray, n: int, rng: np.random.Generator) -> list[Tokens]:
    child = _tree.children(tree)
    states = np.zeros(n, dtype=np.int64)
    for _ in range(int(tree.depth.max())):
        live = ~_tree.terminal(tree)[states]
        if not live.any():
            break
        p = policy[states[live]]
        cumulative = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
        actions = np.minimum((rng.random(int(live.sum()))[:, None] > cumulative).sum(axis=1), p.shape[1] - 1)
        states[live] = child[states[live], actions]
    return [tree.prefixes[s] for s in states]


def sequence_returns(env, sequences: Sequence[Tokens], reward=None) -> np.ndarray:
    """R(y) = Σ_t r_t of each sequence under ``reward`` (default the environment's), shape (N,).

    One call of the reward on every transition of every sequence (checked by
    :func:`lmenv.rewards.call_reward`); a sequence ends at the horizon or at the stop token.
    """
    env = env.unwrapped
    reward = env.reward_fn if reward is None else reward
    owners, befores, tokens, terminal = [], [], [], []
    for i, y in enumerate(sequences):
        for t, token in enumerate(y):
            owners.append(i)
            befores.append(tuple(y[:t]))
            tokens.append(token)
            terminal.append(t == len(y) - 1)
    batch = Transitions(env.prompt, befores, np.array(tokens, dtype=np.int64), np.array(terminal), env.tokenizer)
    return np.bincount(np.array(owners), weights=call_reward(reward, batch), minlength=len(sequences))


def sample_preferences(env, n_pairs: int, seed: int | np.random.Generator = 0, labeller: BradleyTerry = BradleyTerry(),
                       policy=None, tree=None, reward=None, prompts: PromptDistribution | None = None,
                       max_redraws: int = 100) -> PreferencePairs:
    """``n_pairs`` preference pairs: two different sequences from ``policy``, labelled by ``labeller`` on the true return.

    Args:
        env: the environment; its reward is the hidden true reward unless ``reward`` is given.
        n_pairs: N ≥ 1.
        seed: an int or a numpy Generator (sampling and labels).
        labeller: the :class:`BradleyTerry` labeller (its temperature τ is the noise).
        policy, tree: what samples the sequences (see :func:`sample_sequences`; default π_ref).
        reward: the true reward (a :class:`lmenv.rewards.Reward`); default the environment's.
        prompts: a :class:`PromptDistribution` to draw each pair's prompt from (default: the
            environment's prompt; a tabular policy or a trained network covers that prompt only).
        max_redraws: rounds of redrawing pairs whose two sequences coincide before giving up.

    Raises:
        ValueError: if the policy cannot produce two different sequences (after ``max_redraws`` rounds).
    """
    env = env.unwrapped
    n_pairs = _checks.whole(n_pairs, "n_pairs", 1)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    prompts = PromptDistribution((env.prompt,)) if prompts is None else prompts
    prompts.check_vocabulary(env.tokenizer)
    if (policy is not None) and prompts.prompts != (env.prompt,):
        raise ValueError("a trained or tabular policy samples the environment's prompt only; use policy=None (π_ref) "
                         "with several prompts")
    which = prompts.sample(n_pairs, rng)
    out_prompts, first, second, r1, r2 = [], [], [], [], []
    for k, prompt in enumerate(prompts.prompts):
        count = int((which == k).sum())
        if count == 0:
            continue
        prompt_env = env_for_prompt(env, prompt)
        a = sample_sequences(prompt_env, count, rng, policy, tree)
        b = sample_sequences(prompt_env, count, rng, policy, tree)
        for _ in range(max_redraws):
            same = [i for i in range(count) if a[i] == b[i]]
            if not same:
                break
            for i, y in zip(same, sample_sequences(prompt_env, len(same), rng, policy, tree)):
                b[i] = y
        else:
            raise ValueError(f"the policy gave identical sequences in {len(same)} pairs after {max_redraws} redraws "
                             f"(prompt {prompt!r}): it is (nearly) deterministic, so it cannot produce comparisons")
        out_prompts += [prompt] * count
        first += a
        second += b
        r1.append(sequence_returns(prompt_env, a, reward))
        r2.append(sequence_returns(prompt_env, b, reward))
    r1, r2 = np.concatenate(r1), np.concatenate(r2)
    p_first = labeller.probability(r1, r2)
    first_wins = rng.random(n_pairs) < p_first
    chosen = [x if w else y for x, y, w in zip(first, second, first_wins)]
    rejected = [y if w else x for x, y, w in zip(first, second, first_wins)]
    return PreferencePairs(tuple(out_prompts), tuple(chosen), tuple(rejected), np.where(first_wins, r1, r2),
                           np.where(first_wins, r2, r1), np.where(first_wins, p_first, 1.0 - p_first))


def exact_accuracy_ceiling(tree, labeller: BradleyTerry, policy: np.ndarray | None = None) -> float:
    """The best expected accuracy on pairs of two different sequences drawn from ``policy`` (default π_ref), exactly.

    E[max(p, 1 − p) | y¹ ≠ y²], p = σ((R(y¹) − R(y²))/τ), y¹, y² ~ π independently: a sum over
    pairs of leaves of the tree, grouped by their distinct returns,

        Σ_{v, w} [P(R = v) P(R = w) − [v = w] Σ_{y: R(y) = v} P(y)²] max(σ((v − w)/τ), σ((w − v)/τ))
        / (1 − Σ_y P(y)²).
    """
    policy = tree.reference if policy is None else policy
    returns = _tree.sequence_returns(tree)[_tree.leaves(tree)]
    p = _tree.leaf_probabilities(tree, policy)
    values, inverse = np.unique(np.round(returns, 12), return_inverse=True)
    mass = np.bincount(inverse, weights=p, minlength=values.size)  # P(R = v)
    same = np.bincount(inverse, weights=p**2, minlength=values.size)  # Σ_{y: R = v} P(y)²
    joint = mass[:, None] * mass[None, :] - np.diag(same)  # P(R(y¹) = v, R(y²) = w, y¹ ≠ y²)
    sigma = labeller.probability(values[:, None], values[None, :])
    best = np.maximum(sigma, 1.0 - sigma)
    return float((joint * best).sum() / (1.0 - (p**2).sum()))
