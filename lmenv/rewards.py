"""Rewards for token generation, immediate (per token) and terminal, as small composable objects.

The signature. A reward is called on a batch of B transitions s_t --a_t--> s_{t+1} and returns
r_{t+1} for each, an array of shape (B,)::

    reward(batch: Transitions) -> np.ndarray

``Transitions`` gives the generated tokens before the step (``prefixes``), the appended token
ids (``tokens``), whether s_{t+1} ends the episode (``terminal``) and the decoded texts.
Rewards must be deterministic functions of the transition: ``lmenv.to_mdp`` calls them once per
edge of the prefix tree. Rewards add (``r1 + r2``) and scale (``0.5 * r``).

Immediate rewards are paid on every step (e.g. :class:`AvoidCharacters`, a dense lipogram
penalty); terminal rewards only when ``terminal`` is true (e.g. :class:`ContainsWord`).

The environments, ``lmenv.to_mdp`` and the rollouts call a reward only through
:func:`call_reward`, which checks what it returns: one finite number per transition. Anything
else (a non-number, the wrong shape, NaN, ±inf, an exception) raises :class:`RewardError`
naming the reward and what it returned.
"""

from __future__ import annotations

import reprlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass(frozen=True, eq=False)
class Transitions:
    """A batch of B transitions of the token-level MDP.

    Attributes:
        prompt: the prompt text (the same for the whole batch).
        prefixes: B tuples of generated token ids before the step.
        tokens: the appended token ids, shape (B,).
        terminal: whether the new state ends the episode, shape (B,).
        tokenizer: decodes token ids.
    """

    prompt: str
    prefixes: Sequence[tuple[int, ...]]
    tokens: np.ndarray
    terminal: np.ndarray
    tokenizer: object

    def __len__(self) -> int:
        return len(self.prefixes)

    @cached_property
    def texts_before(self) -> list[str]:
        """Generated text before each step (without the prompt)."""
        return [self.tokenizer.decode(p) for p in self.prefixes]

    @cached_property
    def token_texts(self) -> list[str]:
        """The appended token of each step, decoded."""
        return [self.tokenizer.decode([t]) for t in self.tokens]

    @cached_property
    def texts_after(self) -> list[str]:
        """Generated text after each step (without the prompt)."""
        return [b + t for b, t in zip(self.texts_before, self.token_texts)]


class RewardError(ValueError):
    """A reward raised, or returned something other than one finite number per transition."""


def call_reward(reward: Callable[[Transitions], np.ndarray], batch: Transitions) -> np.ndarray:
    """r_{t+1} of every transition of ``batch``, checked: ``reward(batch)`` as floats, shape (B,).

    Every caller of a reward goes through here (``TokenEnv.step``, ``TokenVectorEnv.step``,
    ``lmenv.to_mdp``, ``lmenv.rollout.rollout``); a valid batch costs one ``np.isfinite``.

    Raises:
        RewardError: naming the reward (its repr) and what it returned, if it returned anything
            but a real number per transition (an array of shape (B,)), or NaN or ±inf; or that it
            raised, chained to the reward's own exception.
    """
    try:
        returned = reward(batch)
    except Exception as e:
        raise RewardError(f"reward {reward!r} raised {type(e).__name__}: {e}") from e
    try:
        r = np.asarray(returned)
    except Exception as e:  # e.g. ragged lists, a tensor on the GPU
        raise RewardError(f"reward {reward!r} returned {_describe(returned)}, not an array of numbers ({e})") from e
    if r.shape != (len(batch),) or r.dtype.kind not in "biuf":  # bool, int, unsigned, float
        raise RewardError(f"reward {reward!r} must return one real number per transition, an array of shape "
                          f"({len(batch)},); it returned {_describe(returned)}")
    r = r.astype(np.float64, copy=False)
    finite = np.isfinite(r)
    if not finite.all():
        i = int(np.flatnonzero(~finite)[0])
        raise RewardError(f"reward {reward!r} returned {r[i]} for transition {i} (text before "
                          f"{batch.texts_before[i]!r}, token {batch.token_texts[i]!r}, terminal "
                          f"{bool(batch.terminal[i])}); rewards must be finite")
    return r


def _describe(value) -> str:
    """A short, one-line repr of what a reward returned, with its type (and shape)."""
    if isinstance(value, np.ndarray):
        text = np.array2string(value, threshold=8, edgeitems=2, separator=", ")
        return f"{' '.join(text.split())} ({value.dtype} array of shape {value.shape})"
    return f"{reprlib.repr(value)} ({type(value).__name__})"


class Reward:
    """Base class: subclasses implement ``__call__(batch) -> (B,) array``."""

    def __call__(self, batch: Transitions) -> np.ndarray:
        raise NotImplementedError

    def __add__(self, other: Reward) -> Reward:
        if other == 0:  # so that sum([r1, r2]) works
            return self
        if not isinstance(other, Reward):
            return NotImplemented
        return SumReward((self, other))

    __radd__ = __add__

    def __mul__(self, weight: float) -> Reward:
        return ScaledReward(self, float(weight))

    __rmul__ = __mul__


@dataclass(frozen=True, eq=False)
class SumReward(Reward):
    """r = Σ_i r_i."""

    terms: tuple[Reward, ...]

    def __call__(self, batch):
        return sum(term(batch) for term in self.terms)

    def __repr__(self):
        return " + ".join(repr(t) for t in self.terms)


@dataclass(frozen=True, eq=False)
class ScaledReward(Reward):
    """r = weight · r_inner."""

    inner: Reward
    weight: float

    def __call__(self, batch):
        return self.weight * self.inner(batch)

    def __repr__(self):
        return f"{self.weight:g} * {self.inner!r}"


class ZeroReward(Reward):
    """r = 0 for every transition (the environments' default); decodes no text."""

    def __call__(self, batch):
        return np.zeros(len(batch))

    def __repr__(self):
        return "ZeroReward()"


@dataclass(frozen=True, eq=False)
class ContainsWord(Reward):
    """Terminal, sparse: ``bonus`` when the finished generated text contains ``word``, else 0."""

    word: str
    bonus: float = 1.0

    def __call__(self, batch):
        out = np.zeros(len(batch))
        for i in np.flatnonzero(batch.terminal):  # decode only the finished texts
            text = batch.tokenizer.decode(batch.prefixes[i]) + batch.tokenizer.decode([int(batch.tokens[i])])
            out[i] = self.bonus if self.word in text else 0.0
        return out


@dataclass(frozen=True, eq=False)
class AvoidCharacters(Reward):
    """Immediate, dense (a lipogram): −``penalty`` for every generated token among ``chars``."""

    chars: str
    penalty: float = 1.0

    def __call__(self, batch):
        avoid = [batch.tokenizer.stoi[c] for c in self.chars if c in batch.tokenizer.stoi]
        return -self.penalty * np.isin(batch.tokens, avoid).astype(float)


@dataclass(frozen=True, eq=False)
class LengthBonus(Reward):
    """Immediate: ``per_token`` for every generated token, plus ``stop_bonus`` for the token ``stop``."""

    per_token: float = 0.0
    stop: str | None = None
    stop_bonus: float = 0.0

    def __call__(self, batch):
        out = np.full(len(batch), self.per_token)
        if self.stop is not None:
            out += self.stop_bonus * (batch.tokens == batch.tokenizer.stoi[self.stop])
        return out


class JudgeLogLikelihood(Reward):
    """Immediate, dense: log p_judge(a_t | prompt + generated text), the "perplexity" reward.

    Summed over an episode it is the judge's log-likelihood of the generated text. The judge is
    any lmenv GPT with the same tokenizer; its distributions are cached per prefix like π_ref.

    Args:
        model: the judge model.
        weight: multiplies the log-likelihood.
    """

    def __init__(self, model, weight: float = 1.0):
        self.model = model
        self.weight = float(weight)
        self._policies = {}

    def __call__(self, batch):
        from lmenv.reference import ReferencePolicy

        if batch.prompt not in self._policies:
            self._policies[batch.prompt] = ReferencePolicy(self.model, batch.tokenizer.encode(batch.prompt))
        judge = self._policies[batch.prompt]
        log_probs = judge.log_probs_batch(list(batch.prefixes))  # (B, V)
        return self.weight * log_probs[np.arange(len(batch)), batch.tokens]

    def __repr__(self):
        return f"JudgeLogLikelihood(weight={self.weight:g})"


@dataclass(frozen=True, eq=False)
class FunctionReward(Reward):
    """Any user function ``fn(text_before: str, token: str, terminal: bool) -> float``, per transition.

    Returns the values as ``fn`` returned them, in an array of shape (B,); :func:`call_reward`
    checks that they are finite numbers (a string such as ``"1.5"`` is not converted).
    """

    fn: Callable[[str, str, bool], float]

    def __call__(self, batch):
        return np.array([self.fn(b, t, bool(d)) for b, t, d in
                         zip(batch.texts_before, batch.token_texts, batch.terminal)])

    def __repr__(self):
        return f"FunctionReward({getattr(self.fn, '__qualname__', None) or repr(self.fn)})"
