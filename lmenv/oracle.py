"""An exact oracle for anyone's RL-on-language-models code: J_β, KL, V/Q/A and ∇J of any policy, on an enumerable task.

Give it a policy over the bundled model's tokens — a torch module returning logits (lmenv's
:class:`lmenv.GPT`, a :class:`lmenv.policy.PolicyValueModel`, a Hugging Face causal LM such as
the :mod:`lmenv.export` of the bundled model, or anything whose output is logits, a tuple
starting with logits, or an object with ``.logits``) or a function ``ids -> log-probabilities``
— and a task (prompts, reward, β = ``kl_coef``, horizon, action set). The oracle enumerates the
prefix tree of every prompt (:func:`lmenv.to_mdp`), evaluates the policy once at every
non-terminal prefix, and returns, with no sampling:

- J_β(π) = E_π[Σ_t r_t] − β KL(π ‖ π_ref), KL(π ‖ π_ref), KL(π ‖ π*_β) and the fraction of
  J_β(π*) (:meth:`Oracle.evaluate`, through :func:`lmenv.scoring.score`);
- V^π, Q^π and A^π at any prefixes (:meth:`Oracle.values`);
- the exact gradient ∇_θ J_β(π_θ) (:meth:`Oracle.gradient`): autograd through the enumerated
  tree. J_β is a differentiable function of the table L(s, a) = log π_θ(a|s); its gradient
  G = ∂J/∂L is computed first (on the table), then Σ_{s,a} G(s, a) ∇_θ L(s, a) is back-propagated
  through the policy in chunks of prefixes, so memory stays bounded;
- and, for any loss function of a batch of sampled sequences (a PPO, GRPO, DPO-style or KL
  loss), the expected gradient of that loss estimated by sampling, next to the exact gradient of
  the objective it claims to optimise, with their cosine, the relative bias and a verdict
  (:meth:`Oracle.check_loss`).

The policy. At a state s (prompt + generated tokens) the policy's next-token logits z(s) are
restricted to the task's action set and renormalised, π(a|s) = softmax(z(s)[A]) — the convention
of :class:`lmenv.ReferencePolicy` and :class:`lmenv.policy.PolicyValueModel` (a policy that
already returns one logit per action is used as it is). The mass a full-vocabulary policy puts
outside the action set is not part of the task; to train a full-vocabulary model on the task
(e.g. with TRL), restrict its head with :func:`lmenv.export.restrict_to_actions`.

Values. With π_ref the task's reference and β its ``kl_coef`` (γ = 1, the horizon terminates):

    V^π(s)    = Σ_a π(a|s) [r(s, a) − β log(π(a|s)/π_ref(a|s)) + V^π(s·a)],   V^π(leaf) = 0
    Q^π(s, a) = r(s, a) + V^π(s·a)
    A^π(s, a) = Q^π(s, a) − β log(π(a|s)/π_ref(a|s)) − V^π(s)                 (Σ_a π A^π = 0)

so that ∂J_β/∂z(s, a) = d_π(s) π(a|s) A^π(s, a) for the logits z of a tabular softmax policy
(the policy gradient theorem with the KL term; d_π is the probability of visiting s), which
``tests/lmenv/test_oracle.py`` checks, together with finite differences of J to 1e-6 in float64.

Size limits. Everything is exact because the tree is enumerated: the task must have at most
``max_entries`` (states × actions, default 4,194,304 = 2²²) entries per prompt; e.g. 8 actions and
horizon 6 (299,593 states, 37,449 forward prefixes), 84 actions and horizon 2 (7,141 states). A
larger task is refused before anything is computed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch

from lmenv._tree import children, task_rewards
from lmenv._tree import terminal as terminal_states
from lmenv.scoring import score

MAX_ENTRIES = 2**22
"""default limit on states × actions of one prompt's prefix tree"""

VERDICTS = ("unbiased", "biased", "inconclusive")


# ====================================================================== the tree
@dataclass(frozen=True)
class Episodes:
    """Episodes sampled on a prefix tree (state and action indices of the tree's MDP).

    Attributes:
        states: s_t, (N, H) (the last state repeated after the episode ended).
        actions: a_t, (N, H) (0 after the episode ended).
        alive: whether step t was taken, (N, H) bool.
        terminated: whether s_{t+1} is terminal, (N, H) bool.
        final: the terminal state of each episode, (N,).
    """

    states: np.ndarray
    actions: np.ndarray
    alive: np.ndarray
    terminated: np.ndarray
    final: np.ndarray


def sample_episodes(tree, policy: np.ndarray, n: int, rng: np.random.Generator) -> Episodes:
    """Sample ``n`` episodes from a tabular policy (S, A) on ``tree``, from the root; all in lockstep.

    Raises:
        ValueError: if ``n`` is not a positive whole number.
    """
    from rlcore import _checks

    n = _checks.whole(n, "n", 1)
    child = children(tree)
    terminal = terminal_states(tree)
    H = int(tree.depth.max())
    states = np.zeros((n, H), dtype=np.int64)
    actions = np.zeros((n, H), dtype=np.int64)
    alive = np.zeros((n, H), dtype=bool)
    done = np.zeros((n, H), dtype=bool)
    s = np.zeros(n, dtype=np.int64)
    cdf = np.cumsum(policy, axis=1)
    for t in range(H):
        running = ~terminal[s]
        u = rng.random(n) * cdf[s, -1]
        a = np.minimum((cdf[s] < u[:, None]).sum(axis=1), policy.shape[1] - 1)
        a = np.where(running, a, 0)
        states[:, t], actions[:, t], alive[:, t] = s, a, running
        s = np.where(running, child[s, a], s)
        done[:, t] = running & terminal[s]
    return Episodes(states, actions, alive, done, s)


# ====================================================================== the policy
class PolicyAdapter:
    """log π(·|s) over a task's action set from a torch module or a function; see the module docstring.

    Args:
        policy: a torch module ``module(ids) -> logits`` (ids (B, T); logits (B, T, V) or (B, T, A),
            or a tuple starting with them, or an object with ``.logits``), a Hugging Face causal LM,
            or a function ``ids -> log-probabilities`` called with one tuple of token ids (the prompt
            and the generated tokens) and returning (V,) or (A,) numbers (numpy or torch).
        vocab_size: V, the task model's vocabulary.
        action_tokens: the task's action token ids (None: the whole vocabulary).
    """

    def __init__(self, policy, vocab_size: int, action_tokens=None):
        if isinstance(policy, torch.nn.Module):
            self.kind = "module"
        elif callable(policy):
            self.kind = "function"
        else:
            raise TypeError(f"policy must be a torch module or a function ids -> log-probabilities; "
                            f"got {type(policy).__name__}")
        self.policy = policy
        self.vocab_size = int(vocab_size)
        self.action_tokens = None if action_tokens is None else torch.as_tensor(np.asarray(action_tokens))
        self.n_actions = self.vocab_size if action_tokens is None else len(action_tokens)
        self._is_hf = _is_hf_model(policy)
        self.mass_outside_actions = 0.0  # the largest seen so far (full-vocabulary modules)
        self.cache_mode = _cache_mode(policy)
        self._cache_checked = False
        if getattr(policy, "readout", "logits") != "logits":
            raise ValueError(f"this PolicyValueModel acts with its {policy.readout!r} readout, not its logits: "
                             "score it with lmenv.scoring.score_model, or pass the oracle a function "
                             "ids -> log-probabilities")

    @contextmanager
    def evaluation(self):
        """The module in eval mode (no dropout, caches honoured) inside the block; each submodule's mode restored."""
        if self.kind != "module":
            yield
            return
        modes = [(m, m.training) for m in self.policy.modules()]
        self.policy.eval()
        try:
            yield
        finally:
            for m, training in modes:
                m.training = training

    @property
    def device(self) -> torch.device:
        if self.kind == "module":
            for p in self.policy.parameters():
                return p.device
            for b in self.policy.buffers():
                return b.device
        return torch.device("cpu")

    def parameters(self) -> list:
        """The trainable parameters of a module policy (a function has none: pass ``parameters``)."""
        if self.kind != "module":
            raise ValueError("a function policy has no parameters(): pass parameters=[...] explicitly")
        return [p for p in self.policy.parameters() if p.requires_grad]

    def logits_all_positions(self, ids: torch.Tensor) -> torch.Tensor:
        """Action logits at every position of ``ids`` (B, T) → (B, T, A) (modules only)."""
        out = self.policy(input_ids=ids, use_cache=False) if self._is_hf else self.policy(ids)
        return self._restrict(_logits_of(out))

    def log_probs(self, sequences: Sequence[tuple], names: Sequence[str] | None = None,
                  prompt_length: int | None = None) -> torch.Tensor:
        """log π(·|s) over the action set for each full token sequence s (prompt + generated), (N, A).

        Sequences of equal length run as one batch (modules); a function is called once per sequence.
        With ``prompt_length`` and sequences that share that prompt, a module with a key/value cache
        (lmenv's models, Hugging Face causal LMs) computes the prompt once per batch and only the
        generated tokens on top of its cache. Gradients flow when enabled. Raises ValueError on NaN
        or +inf logits, naming the sequence.
        """
        if self.kind == "function":
            rows = [self._restrict(torch.as_tensor(self.policy(tuple(s)))[None])[0] for s in sequences]
            logits = torch.stack(rows) if rows else torch.zeros(0, self.n_actions)
        else:
            device = self.device
            logits = [None] * len(sequences)
            by_length: dict[int, list[int]] = {}
            for i, s in enumerate(sequences):
                by_length.setdefault(len(s), []).append(i)
            for _, rows in sorted(by_length.items()):
                ids = torch.tensor([list(sequences[i]) for i in rows], dtype=torch.long, device=device)
                shared = prompt_length is not None and bool((ids[:, :prompt_length] == ids[:1, :prompt_length]).all())
                if shared and self.cache_mode is not None and not self._cache_checked:
                    self._check_cache(ids[:1], prompt_length)
                out = (self._last_logits_cached(ids, prompt_length) if shared and self.cache_mode is not None
                       else self.logits_all_positions(ids)[:, -1])  # (n, A)
                for j, i in enumerate(rows):
                    logits[i] = out[j]
            logits = torch.stack(logits) if logits else torch.zeros(0, self.n_actions)
        self._check(logits, sequences, names)
        return torch.log_softmax(logits.double(), dim=-1)  # float64, as ReferencePolicy computes π_ref

    def _check_cache(self, ids: torch.Tensor, P: int) -> None:
        """Use the prompt cache only if it reproduces a full forward pass here (it does not, e.g., for a Hugging
        Face model in training mode with gradient checkpointing, which ignores caches)."""
        self._cache_checked = True
        if ids.shape[1] == P:
            self._cache_checked = False  # nothing to compare yet
            return
        with torch.no_grad():
            full = self.logits_all_positions(ids)[:, -1].double()
            try:
                cached = self._last_logits_cached(ids, P).double()
                same = torch.allclose(cached, full, rtol=1e-4, atol=1e-4)
            except Exception:  # noqa: BLE001 - any failure of the fast path means: do not use it
                same = False
        if not same:
            self.cache_mode = None

    def _last_logits_cached(self, ids: torch.Tensor, P: int) -> torch.Tensor:
        """Action logits at the last position of ``ids`` (n, T) whose first P tokens are one shared prompt, (n, A)."""
        n, T = ids.shape
        prompt, suffix = ids[:1, :P], ids[:, P:]  # (1, P), (n, T − P)
        if self.cache_mode == "lmenv":
            out = self.policy(prompt)
            if T == P:
                return self._restrict(_logits_of(out)[:, -1]).expand(n, -1)
            cache = out.cache if hasattr(out, "cache") else out[1]
            cache = [(k.expand(n, -1, -1, -1), v.expand(n, -1, -1, -1)) for k, v in cache]  # (n, nh, P, hs)
            return self._restrict(_logits_of(self.policy(suffix, cache=cache))[:, -1])
        out = self.policy(input_ids=prompt, use_cache=True)
        if T == P:
            return self._restrict(out.logits[:, -1]).expand(n, -1)
        import inspect

        name = "cache" if "cache" in inspect.signature(self.policy.forward).parameters else "past_key_values"
        past = out.get("cache", None) if hasattr(out, "get") else None  # transformers ≥ 5.x calls it "cache"
        past = out.past_key_values if past is None else past
        past.batch_repeat_interleave(n)  # (n, nh, P, hs) in every layer
        return self._restrict(self.policy(input_ids=suffix, use_cache=True, **{name: past}).logits[:, -1])

    def _restrict(self, logits: torch.Tensor) -> torch.Tensor:
        width = logits.shape[-1]
        if width == self.vocab_size:
            if self.action_tokens is None:
                return logits
            inside = logits.index_select(-1, self.action_tokens.to(logits.device))
            with torch.no_grad():  # the probability the full-vocabulary policy puts outside the action set
                outside = 1.0 - (inside.double().logsumexp(-1) - logits.double().logsumexp(-1)).exp()
                if outside.numel() and torch.isfinite(outside).all():
                    self.mass_outside_actions = max(self.mass_outside_actions, float(outside.max()))
            return inside
        if width == self.n_actions:
            return logits  # already one logit per action
        raise ValueError(f"the policy returns {width} logits per position, but the task's vocabulary has "
                         f"{self.vocab_size} tokens (and {self.n_actions} actions): the policy must be a model "
                         f"over the task model's tokens")

    def _check(self, logits: torch.Tensor, sequences, names) -> None:
        with torch.no_grad():
            bad = torch.isnan(logits).any(-1) | torch.isposinf(logits).any(-1) | torch.isneginf(logits).all(-1)
        if bad.any():
            i = int(bad.nonzero()[0, 0])
            what = repr(names[i]) if names is not None else f"token ids {tuple(sequences[i])}"
            row = logits[i].detach()
            problem = "NaN" if torch.isnan(row).any() else "+inf" if torch.isposinf(row).any() else "only −inf"
            raise ValueError(f"the policy returned {problem} logits over the action set at {what}")


def _cache_mode(policy) -> str | None:
    """"lmenv" for modules with lmenv's ``forward(idx, cache)`` (GPT, HFCausalLM, PolicyValueModel), "hf" for
    Hugging Face models with ``past_key_values`` and ``batch_repeat_interleave``, None otherwise."""
    from lmenv.hf import HFCausalLM
    from lmenv.model import GPT
    from lmenv.policy import PolicyValueModel

    if isinstance(policy, (GPT, HFCausalLM, PolicyValueModel)):
        return "lmenv"
    if _is_hf_model(policy) and getattr(policy.config, "is_encoder_decoder", False) is False:
        try:
            from transformers import DynamicCache
        except ImportError:  # pragma: no cover
            return None
        return "hf" if hasattr(DynamicCache, "batch_repeat_interleave") else None
    return None


def _is_hf_model(policy) -> bool:
    import sys

    transformers = sys.modules.get("transformers")
    if transformers is None:
        return False
    return isinstance(policy, transformers.PreTrainedModel)


def _logits_of(out) -> torch.Tensor:
    if isinstance(out, torch.Tensor):
        logits = out
    elif hasattr(out, "logits"):
        logits = out.logits
    elif isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor):
        logits = out[0]
    else:
        raise TypeError(f"the policy module returned {type(out).__name__}; expected logits, a tuple starting with "
                        f"logits, or an object with .logits")
    if logits.dim() != 3:
        raise ValueError(f"the policy's logits must have shape (B, T, V); got {tuple(logits.shape)}")
    return logits


class TabularPolicy(torch.nn.Module):
    """One trainable logit per (prefix, action) of an oracle's trees: the softmax policy of Sutton & Barto §13.1.

    ``forward(ids)`` returns (B, T, A) logits: at every position whose tokens so far are a
    non-terminal prefix of a tree (prompt + generated tokens), that prefix's logits; 0 elsewhere.
    Useful as the exact-gradient reference (its gradient is d_π(s) π(a|s) A^π(s, a)) and in tests.

    Args:
        oracle: the :class:`Oracle` whose trees it covers.
        init: None (all 0: uniform), ``"reference"`` (log π_ref: the policy is π_ref), or a list with
            one (S, A) array of logits per prompt.
        dtype: of the logits (float64 for finite-difference checks).
    """

    def __init__(self, oracle: Oracle, init=None, dtype=torch.float64):
        super().__init__()
        rows, tables, offset = {}, [], 0
        for k, (env, tree) in enumerate(zip(oracle.envs, oracle.trees)):
            live = np.flatnonzero(~terminal_states(tree))
            if init is None:
                table = np.zeros((live.size, tree.reference.shape[1]))
            elif isinstance(init, str) and init == "reference":
                table = np.log(tree.reference[live])
            else:
                table = np.asarray(init[k], dtype=float)[live]
            prompt = tuple(env.reference.prompt_ids)
            for j, s in enumerate(live):
                rows[prompt + tuple(tree.prefixes[s])] = offset + j
            tables.append(table)
            offset += live.size
        self.rows = rows
        self.logits = torch.nn.Parameter(torch.as_tensor(np.concatenate(tables), dtype=dtype))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        B, T = ids.shape
        index = [[self.rows.get(tuple(row[:j + 1]), -1) for j in range(T)] for row in ids.tolist()]
        index = torch.tensor(index, dtype=torch.long)  # (B, T); −1 where no prefix of a tree
        out = self.logits[index.clamp(min=0)]  # (B, T, A)
        return torch.where((index >= 0)[..., None], out, torch.zeros((), dtype=out.dtype))


# ====================================================================== results
@dataclass(frozen=True)
class Report:
    """Exact scores of a policy on an oracle's task (prompts weighted by ``weights``).

    Attributes:
        objective: J_β(π) = Σ_k w_k J_β,k(π).
        optimum: J_β(π*) = Σ_k w_k V*_β,k(s_0).
        fraction: objective / optimum.
        kl_to_reference: KL(π ‖ π_ref), sequence level, weighted over prompts (nats).
        kl_to_optimum: KL(π ‖ π*) (nats); equals (optimum − objective)/β.
        task_return: E_π[Σ_t r_t].
        scores: one :class:`lmenv.scoring.Score` per prompt.
        mass_outside_actions: for a full-vocabulary policy, the largest probability it puts outside
            the action set at any prefix (0 for a policy over the actions); not part of the task.
    """

    objective: float
    optimum: float
    fraction: float
    kl_to_reference: float
    kl_to_optimum: float
    task_return: float
    scores: tuple
    mass_outside_actions: float = 0.0

    def __str__(self) -> str:
        return (f"J_β(π) = {self.objective:.4f} of J_β(π*) = {self.optimum:.4f} ({100 * self.fraction:.1f}%), "
                f"KL(π‖π_ref) = {self.kl_to_reference:.3f}, KL(π‖π*) = {self.kl_to_optimum:.4f}, "
                f"task return {self.task_return:.3f}")


@dataclass(frozen=True)
class Values:
    """V^π, Q^π and A^π at some prefixes (see the module docstring for the definitions with the KL term).

    Attributes:
        prefixes: the generated token ids of each prefix.
        texts: their decoded text.
        V: V^π(s), (N,).
        Q: Q^π(s, ·), (N, A) (NaN rows at terminal prefixes, where no action follows).
        A: A^π(s, ·), (N, A) (NaN rows at terminal prefixes).
        policy: π(·|s), (N, A).
    """

    prefixes: list
    texts: list
    V: np.ndarray
    Q: np.ndarray
    A: np.ndarray
    policy: np.ndarray


@dataclass(frozen=True)
class ExactGradient:
    """∇_θ of an exact objective, one tensor per parameter (float64).

    Attributes:
        value: the objective (J_β(π), or KL(π ‖ π_ref) for ``target="kl"``).
        gradients: ∂value/∂θ for each parameter, shaped like it.
        log_policy_gradient: ∂value/∂log π(a|s) on each prompt's table (S, A) (0 at terminal states).
        policy: π(a|s) on each prompt's table (S, A), as :meth:`Oracle.policy_tables` gives it.
    """

    value: float
    gradients: tuple
    log_policy_gradient: tuple
    policy: tuple = ()

    @property
    def flat(self) -> torch.Tensor:
        return torch.cat([g.reshape(-1) for g in self.gradients])


@dataclass(frozen=True)
class LossCheck:
    """A loss's expected gradient (estimated by sampling) next to the exact gradient it should have.

    ``expected``: the gradient the loss should have in expectation, ``scale`` × (−∇J_β) for
    ``target="objective"`` or ``scale`` × ∇KL(π ‖ π_ref) for ``target="kl"``.

    Attributes:
        target: "objective" or "kl".
        scale: the scale used (given, or fitted by least squares: ⟨ĝ, ∇⟩/‖∇‖²).
        scale_standard_error: its standard error over the batches (fitted scale only, else 0).
        cosine: cos(ĝ, expected) of the sampled mean ĝ (lowered by sampling noise).
        cosine_of_mean: cos(E ĝ, expected), the noise removed: ⟨ĝ, e⟩ / (‖e‖ √(‖ĝ‖² − tr Ĉ/n)).
        relative_bias: ‖E ĝ − expected‖ / ‖expected‖, from the unbiased estimate of the squared norm.
        relative_bias_bound: the same at the estimate + 3 standard errors.
        relative_noise: √(tr Ĉ / n) / ‖expected‖, the standard error of ĝ relative to the target.
        verdict: "unbiased" (relative bias < tolerance at 3 standard errors and the scale positive),
            "biased" (relative bias > tolerance at 3 standard errors, or the gradient points away
            from the objective), or "inconclusive" (more batches needed).
        tolerance: the relative bias tolerated.
        n_batches, batch_size: the sampling budget.
        exact: the exact expected gradient (flat, float64); mean: ĝ (flat, float64).
    """

    target: str
    scale: float
    scale_standard_error: float
    cosine: float
    cosine_of_mean: float
    relative_bias: float
    relative_bias_bound: float
    relative_noise: float
    verdict: str
    tolerance: float
    n_batches: int
    batch_size: int
    exact: torch.Tensor = field(repr=False)
    mean: torch.Tensor = field(repr=False)

    def __str__(self) -> str:
        return (f"{self.verdict}: relative bias {self.relative_bias:.3f} (≤ {self.relative_bias_bound:.3f} at 3 s.e.; "
                f"tolerance {self.tolerance:g}), cos(E ĝ, ∇) = {self.cosine_of_mean:.3f} (sampled mean: "
                f"{self.cosine:.3f}), scale {self.scale:.4g} ± {self.scale_standard_error:.2g}, noise "
                f"{self.relative_noise:.3f}; {self.n_batches} batches of {self.batch_size}")


# ====================================================================== the sampled batch
@dataclass
class SampledBatch:
    """Sequences sampled exactly from a policy on the oracle's task, with what RL losses use.

    Attributes:
        prompt_index: which prompt each row continues, (B,).
        prompt_ids: the token ids of each prompt (a list of tuples, one per prompt).
        completion_ids: generated token ids, (B, H) long (0 after the episode ended).
        completion_mask: whether step t was taken, (B, H) bool.
        actions: the tokens as indices into the action set, (B, H) long.
        rewards: task rewards r_t, (B, H) float64 (0 after the end); ``returns`` their sum, (B,).
        ref_log_probs: log π_ref(a_t|s_t), (B, H) float64 (0 after the end).
        old_log_probs: log π(a_t|s_t) of the policy that sampled (no gradient), (B, H) float64.
        terminated: whether s_{t+1} is terminal, (B, H) bool.
        texts: the generated texts.
        kl_coef: β of the task.
    """

    prompt_index: torch.Tensor
    prompt_ids: list
    completion_ids: torch.Tensor
    completion_mask: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    ref_log_probs: torch.Tensor
    old_log_probs: torch.Tensor
    terminated: torch.Tensor
    texts: list
    kl_coef: float
    _adapter: PolicyAdapter | None = field(default=None, repr=False)

    @property
    def batch_size(self) -> int:
        return self.completion_ids.shape[0]

    @property
    def returns(self) -> torch.Tensor:
        return self.rewards.sum(dim=1)

    @property
    def input_ids(self) -> torch.Tensor:
        """prompt + completion, (B, P + H): needs prompts of one length."""
        lengths = {len(p) for p in self.prompt_ids}
        if len(lengths) != 1:
            raise ValueError("the prompts have different lengths: use prompt_ids and completion_ids")
        prompts = torch.tensor([list(p) for p in self.prompt_ids], dtype=torch.long)[self.prompt_index]
        return torch.cat([prompts, self.completion_ids], dim=1)

    def log_probs(self, policy=None) -> torch.Tensor:
        """log π_θ(a_t|s_t) of the taken tokens, (B, H), with gradients (0 where not alive).

        Uses the oracle's convention (logits restricted to the action set, renormalised). For a
        module and prompts of one length: one forward pass over ``input_ids``.
        """
        adapter = self._adapter if policy is None else PolicyAdapter(policy, self._adapter.vocab_size,
                                                                      self._adapter.action_tokens)
        B, H = self.completion_ids.shape
        lengths = {len(p) for p in self.prompt_ids}
        if adapter.kind == "module" and len(lengths) == 1:
            P = lengths.pop()
            ids = self.input_ids[:, :-1].to(adapter.device)  # (B, P + H − 1)
            logits = adapter.logits_all_positions(ids)[:, P - 1:]  # (B, H, A): the states s_0 .. s_{H−1}
            alive = self.completion_mask.to(logits.device)
            adapter._check(logits[alive], [()] * int(alive.sum()),
                           [f"step {t} of {self.texts[b]!r}" for b, t in alive.nonzero().tolist()])
            log_probs = torch.log_softmax(logits.double(), dim=-1)
        else:
            sequences, where = [], []
            for b in range(B):
                prompt = self.prompt_ids[int(self.prompt_index[b])]
                for t in range(H):
                    if self.completion_mask[b, t]:
                        sequences.append(tuple(prompt) + tuple(self.completion_ids[b, :t].tolist()))
                        where.append((b, t))
            rows = adapter.log_probs(sequences)
            log_probs = torch.zeros(B, H, rows.shape[-1], dtype=rows.dtype, device=rows.device)
            if where:
                b, t = zip(*where)
                log_probs = log_probs.index_put((torch.tensor(b), torch.tensor(t)), rows)
        taken = log_probs.gather(-1, self.actions.to(log_probs.device)[..., None]).squeeze(-1)
        return torch.where(self.completion_mask.to(taken.device), taken, torch.zeros((), dtype=taken.dtype))


# ====================================================================== the oracle
class Oracle:
    """Exact answers for any policy on an enumerable token task; see the module docstring.

    Args:
        envs: one :class:`lmenv.TokenEnv` (one prompt) or a list of them (several prompts of one
            task: the same model, action set, horizon, reward and ``kl_coef``). β = ``kl_coef``
            must be > 0.
        weights: probability of each prompt (default uniform).
        max_entries: refuse a prompt whose tree has more than this many states × actions.

    Raises:
        ValueError: β ≤ 0, a tree over the size limit, or environments that disagree.
    """

    def __init__(self, envs, weights=None, max_entries: int = MAX_ENTRIES):
        from rlcore import _checks

        from lmenv.token_mdp import to_mdp

        envs = [envs] if not isinstance(envs, (list, tuple)) else list(envs)
        if not envs:
            raise ValueError("give at least one environment (one per prompt)")
        envs = [e.unwrapped for e in envs]
        self.max_entries = _checks.whole(max_entries, "max_entries", 1)
        first = envs[0]
        _checks.number(first.kl_coef, "kl_coef", 0.0, low_open=True,
                       meaning="β of J_β; the oracle compares with the KL-regularised optimum π*_β")
        for e in envs[1:]:
            if (e.kl_coef != first.kl_coef or e.max_new_tokens != first.max_new_tokens
                    or e.vocab_size != first.vocab_size
                    or not np.array_equal(_tokens(e.action_tokens), _tokens(first.action_tokens))):
                raise ValueError("the environments of one task must share kl_coef, max_new_tokens, the vocabulary "
                                 "and the action set (only the prompt may differ)")
        for e in envs:
            self._check_size(e)
        if weights is None:
            weights = np.full(len(envs), 1.0 / len(envs))
        weights = _checks.real_array(weights, "weights")
        if weights.shape != (len(envs),) or np.any(weights < 0) or not np.isclose(weights.sum(), 1.0):
            raise ValueError(f"weights must be {len(envs)} non-negative numbers summing to 1; got {weights}")
        self.envs = envs
        self.weights = weights
        self.kl_coef = float(first.kl_coef)
        self.trees = [to_mdp(e, max_states=self.max_entries) for e in envs]
        self.optima = [t.kl_regularised_optimum(self.kl_coef) for t in self.trees]
        self._children = [children(t) for t in self.trees]
        self._live = [np.flatnonzero(~terminal_states(t)) for t in self.trees]
        self._rewards = [task_rewards(t) for t in self.trees]
        self._identity = [bool(np.all(t.env_actions == np.arange(t.env_actions.shape[1]))) for t in self.trees]

    @classmethod
    def for_task(cls, prompts, reward, kl_coef: float, max_new_tokens: int = 5, actions="etaoinsh", model=None,
                 tokenizer=None, temperature: float = 1.0, stop_token=None, weights=None,
                 max_entries: int = MAX_ENTRIES) -> Oracle:
        """The oracle of a task given by its parts (one :class:`lmenv.TokenEnv` per prompt, one reference model)."""
        from rlcore import _checks

        from lmenv.token_env import TokenEnv

        _checks.number(kl_coef, "kl_coef", 0.0, low_open=True,
                       meaning="β of J_β; the oracle compares with the KL-regularised optimum π*_β")
        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        envs = [TokenEnv(model=model, tokenizer=tokenizer, prompt=p, max_new_tokens=max_new_tokens, actions=actions,
                         temperature=temperature, reward=reward, kl_coef=kl_coef, stop_token=stop_token)
                for p in prompts]
        return cls(envs, weights=weights, max_entries=max_entries)

    # ------------------------------------------------------------------ sizes
    def _check_size(self, env) -> None:
        width = env.reference.top_k if env.reference.top_k is not None else env.reference.n_actions
        states = sum(width**t for t in range(env.max_new_tokens + 1))
        if states * width > self.max_entries:
            raise ValueError(
                f"the prefix tree of prompt {env.prompt!r} has {states:,} states × {width} actions = "
                f"{states * width:,} entries, over the oracle's limit max_entries = {self.max_entries:,} (every "
                f"state is enumerated and the policy evaluated at each non-terminal one). Use fewer actions "
                f"(actions='etaoinsh' or top_k), a shorter horizon, or raise max_entries.")

    @property
    def n_actions(self) -> int:
        return self.trees[0].reference.shape[1]

    def adapter(self, policy) -> PolicyAdapter:
        """The :class:`PolicyAdapter` of ``policy`` for this task."""
        if isinstance(policy, PolicyAdapter):
            return policy
        env = self.envs[0]
        return PolicyAdapter(policy, env.vocab_size, env.action_tokens)

    # ------------------------------------------------------------------ the policy on the trees
    def _sequences(self, k: int, states) -> tuple[list, list]:
        env, tree = self.envs[k], self.trees[k]
        prompt = tuple(env.reference.prompt_ids)
        seqs = [prompt + tuple(tree.prefixes[s]) for s in states]
        names = [env.prompt + env.tokenizer.decode(tree.prefixes[s]) for s in states]
        return seqs, names

    def _log_policy(self, adapter: PolicyAdapter, k: int, states, batch_size: int = 1024) -> torch.Tensor:
        """log π(·|s) at ``states`` of prompt k, (N, A), in chunks of equal-length prefixes (gradients if enabled)."""
        tree = self.trees[k]
        out = [None] * len(states)
        by_depth: dict[int, list[int]] = {}
        for i, s in enumerate(states):
            by_depth.setdefault(int(tree.depth[s]), []).append(i)
        with adapter.evaluation():
            for _, rows in sorted(by_depth.items()):
                for start in range(0, len(rows), batch_size):
                    chunk = rows[start:start + batch_size]
                    seqs, names = self._sequences(k, [states[i] for i in chunk])
                    values = adapter.log_probs(seqs, names, prompt_length=len(self.envs[k].reference.prompt_ids))
                    if not self._env_actions_identity(k):  # top_k trees: MDP action a is the (a+1)-th likeliest token
                        cols = torch.as_tensor(tree.env_actions[[states[i] for i in chunk]], device=values.device)
                        values = torch.log_softmax(values.gather(1, cols), dim=-1)
                    for j, i in enumerate(chunk):
                        out[i] = values[j]
        return torch.stack(out)

    def _env_actions_identity(self, k: int) -> bool:
        """Whether MDP action a is the environment's action a at every state (all but top_k trees)."""
        return self._identity[k]

    @torch.no_grad()
    def policy_tables(self, policy, batch_size: int = 1024) -> list[np.ndarray]:
        """π(a|s) at every state of each prompt's tree, one (S, A) float64 array per prompt (uniform at the leaves)."""
        adapter = self.adapter(policy)
        adapter.mass_outside_actions = 0.0
        tables = []
        for k, tree in enumerate(self.trees):
            live = self._live[k]
            table = np.full(tree.reference.shape, 1.0 / tree.reference.shape[1])
            probs = self._log_policy(adapter, k, live, batch_size).double().exp().cpu().numpy()
            table[live] = probs / probs.sum(axis=1, keepdims=True)
            tables.append(table)
        return tables

    # ------------------------------------------------------------------ exact scores
    def evaluate(self, policy) -> Report:
        """Exact J_β(π), KL(π ‖ π_ref), KL(π ‖ π*) and the fraction of J_β(π*) of ``policy`` (or of its tables)."""
        mass = 0.0
        if _is_tables(policy, self):
            tables = policy
        else:
            adapter = self.adapter(policy)
            tables = self.policy_tables(adapter)
            mass = adapter.mass_outside_actions
        scores = tuple(score(t, tree, self.kl_coef, opt) for t, tree, opt in zip(tables, self.trees, self.optima))
        w = self.weights
        objective = float(sum(wk * s.objective for wk, s in zip(w, scores)))
        optimum = float(sum(wk * s.optimum for wk, s in zip(w, scores)))
        return Report(objective, optimum, objective / optimum,
                      float(sum(wk * s.kl_to_reference for wk, s in zip(w, scores))),
                      float(sum(wk * s.kl_to_optimum for wk, s in zip(w, scores))),
                      float(sum(wk * s.task_return for wk, s in zip(w, scores))), scores, mass)

    def values(self, policy, prefixes, prompt: int = 0) -> Values:
        """V^π, Q^π, A^π (KL-regularised, see the module docstring) at ``prefixes`` of prompt ``prompt``.

        Args:
            policy: the policy, or the list of its tables from :meth:`policy_tables`.
            prefixes: generated texts (strings) or tuples of generated token ids.
            prompt: index of the prompt.
        """
        tables = policy if _is_tables(policy, self) else self.policy_tables(policy)
        tree, pi = self.trees[prompt], tables[prompt]
        V = tree.kl_regularised_value(pi, self.kl_coef)
        Q = self._rewards[prompt] + V[self._children[prompt]]  # r(s, a) + V^π(s·a)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_ratio = np.where(pi > 0, np.log(pi) - np.log(tree.reference), 0.0)
        A = Q - self.kl_coef * log_ratio - V[:, None]
        return self._at(prompt, prefixes, V, Q, A, pi)

    def optimal_values(self, prefixes, prompt: int = 0) -> Values:
        """V*_β, Q*_β and the soft advantage Q* − V* at ``prefixes`` (π = π*_β, for which A^π* = 0)."""
        opt = self.optima[prompt]
        return self._at(prompt, prefixes, opt.V, opt.Q, opt.Q - opt.V[:, None], opt.policy)

    def _at(self, k, prefixes, V, Q, A, pi) -> Values:
        env, tree = self.envs[k], self.trees[k]
        states, keys = [], []
        for p in prefixes:
            key = tuple(env.tokenizer.encode(p)) if isinstance(p, str) else tuple(int(t) for t in p)
            if key not in tree.index:
                raise KeyError(f"{env.tokenizer.decode(key)!r} is not a prefix of the task's tree (generated text "
                               f"of at most {env.max_new_tokens} tokens from the action set)")
            states.append(tree.index[key])
            keys.append(key)
        s = np.array(states, dtype=np.int64)
        term = terminal_states(tree)[s][:, None]
        return Values(keys, [env.tokenizer.decode(p) for p in keys], V[s].copy(), np.where(term, np.nan, Q[s]),
                      np.where(term, np.nan, A[s]), pi[s].copy())

    # ------------------------------------------------------------------ the exact gradient
    def _objective_of_tables(self, log_tables: list, target: str) -> torch.Tensor:
        """J_β (target "objective") or KL(π ‖ π_ref) ("kl") as a differentiable function of the log π tables."""
        total = 0.0
        for k, (tree, L) in enumerate(zip(self.trees, log_tables)):
            live, child = self._live[k], self._children[k]
            S = tree.n_states
            pi = L.exp()  # (N_live, A)
            row_of = np.full(S, -1)
            row_of[live] = np.arange(live.size)
            d = torch.zeros(S, dtype=L.dtype)
            d = d.index_put((torch.tensor([0]),), torch.ones(1, dtype=L.dtype))
            for depth in range(int(tree.depth.max())):
                nodes = live[tree.depth[live] == depth]
                if nodes.size == 0:
                    continue
                kids = torch.as_tensor(child[nodes].reshape(-1))
                d = d.index_put((kids,), (d[nodes, None] * pi[row_of[nodes]]).reshape(-1))
            log_ref = torch.as_tensor(np.log(tree.reference[live]), dtype=L.dtype)
            safe_L = torch.where(pi > 0, L, torch.zeros((), dtype=L.dtype))
            log_ratio = safe_L - log_ref
            if target == "objective":
                R = torch.as_tensor(self._rewards[k][live], dtype=L.dtype)
                per_state = (pi * (R - self.kl_coef * log_ratio)).sum(-1)
            else:
                per_state = (pi * log_ratio).sum(-1)
            total = total + float(self.weights[k]) * (d[live] * per_state).sum()
        return total

    def gradient(self, policy, parameters=None, target: str = "objective", batch_size: int = 512) -> ExactGradient:
        """The exact ∇_θ J_β(π_θ) (or ∇_θ KL(π_θ ‖ π_ref) for ``target="kl"``), through the enumerated tree.

        Args:
            policy: a torch module (or a function whose outputs depend on ``parameters``).
            parameters: the parameters θ (default: the module's parameters that require grad).
            target: "objective" (J_β) or "kl" (the sequence-level KL(π ‖ π_ref)).
            batch_size: prefixes per backward pass.

        Returns:
            :class:`ExactGradient` (float64).
        """
        if target not in ("objective", "kl"):
            raise ValueError(f"target must be 'objective' or 'kl'; got {target!r}")
        adapter = self.adapter(policy)
        parameters = adapter.parameters() if parameters is None else list(parameters)
        if not parameters:
            raise ValueError("no parameters to differentiate: the policy has none that require grad")
        with torch.no_grad():
            tables = [self._log_policy(adapter, k, self._live[k], batch_size).double() for k in range(len(self.trees))]
        leaves = [t.clone().requires_grad_(True) for t in tables]
        value = self._objective_of_tables(leaves, target)
        G = torch.autograd.grad(value, leaves)  # ∂value/∂log π(a|s), one (N_live, A) per prompt
        totals = [torch.zeros_like(p, dtype=torch.float64) for p in parameters]
        for k in range(len(self.trees)):
            live = self._live[k]
            for start in range(0, live.size, batch_size):
                rows = np.arange(start, min(start + batch_size, live.size))
                with torch.enable_grad():
                    L = self._log_policy(adapter, k, live[rows], batch_size)
                    surrogate = (L * G[k][rows].to(L.dtype).to(L.device)).sum()
                    grads = torch.autograd.grad(surrogate, parameters, allow_unused=True)
                for total, g in zip(totals, grads):
                    if g is not None:
                        total += g.double().to(total.device)
        full, policies = [], []
        for k, tree in enumerate(self.trees):
            g = np.zeros(tree.reference.shape)
            g[self._live[k]] = G[k].numpy()
            full.append(g)
            pi = np.full(tree.reference.shape, 1.0 / tree.reference.shape[1])
            probs = tables[k].exp().cpu().numpy()
            pi[self._live[k]] = probs / probs.sum(axis=1, keepdims=True)
            policies.append(pi)
        return ExactGradient(float(value.detach()), tuple(totals), tuple(full), tuple(policies))

    # ------------------------------------------------------------------ sampling and loss checks
    def sample(self, policy, batch_size: int, rng: np.random.Generator | int = 0, tables=None) -> SampledBatch:
        """``batch_size`` sequences sampled exactly from ``policy`` (prompts drawn with ``weights``).

        Args:
            policy: the policy (its tables are computed once unless ``tables`` is given).
            batch_size: B.
            rng: a numpy Generator or a seed.
            tables: :meth:`policy_tables` of the policy, to reuse.
        """
        if not all(self._env_actions_identity(k) for k in range(len(self.trees))):
            raise NotImplementedError("sampling batches is supported for fixed action sets and the full vocabulary "
                                      "(not top_k trees)")
        rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
        adapter = self.adapter(policy)
        tables = self.policy_tables(adapter) if tables is None else tables
        which = rng.choice(len(self.trees), size=batch_size, p=self.weights)
        H = max(int(t.depth.max()) for t in self.trees)
        ids = np.zeros((batch_size, H), dtype=np.int64)
        acts = np.zeros((batch_size, H), dtype=np.int64)
        mask = np.zeros((batch_size, H), dtype=bool)
        term = np.zeros((batch_size, H), dtype=bool)
        rewards = np.zeros((batch_size, H))
        ref = np.zeros((batch_size, H))
        old = np.zeros((batch_size, H))
        texts = [""] * batch_size
        for k, tree in enumerate(self.trees):
            rows = np.flatnonzero(which == k)
            if rows.size == 0:
                continue
            ep = sample_episodes(tree, tables[k], rows.size, rng)
            h = ep.states.shape[1]
            s, a = ep.states, ep.actions
            kids = self._children[k][s, a]
            token = np.array([[tree.prefixes[c][-1] if live else 0 for c, live in zip(cr, lr)]
                              for cr, lr in zip(kids, ep.alive)], dtype=np.int64).reshape(rows.size, h)
            ids[rows, :h] = token
            acts[rows, :h] = np.where(ep.alive, a, 0)
            mask[rows, :h] = ep.alive
            term[rows, :h] = ep.terminated
            rewards[rows, :h] = np.where(ep.alive, self._rewards[k][s, a], 0.0)
            with np.errstate(divide="ignore"):
                ref[rows, :h] = np.where(ep.alive, np.log(tree.reference[s, a]), 0.0)
                old[rows, :h] = np.where(ep.alive, np.log(tables[k][s, a]), 0.0)
            for j, r in enumerate(rows):
                texts[r] = self.envs[k].tokenizer.decode(tree.prefixes[ep.final[j]])
        return SampledBatch(torch.as_tensor(which), [tuple(e.reference.prompt_ids) for e in self.envs],
                            torch.as_tensor(ids), torch.as_tensor(mask), torch.as_tensor(acts),
                            torch.as_tensor(rewards), torch.as_tensor(ref), torch.as_tensor(old),
                            torch.as_tensor(term), texts, self.kl_coef, adapter)

    def check_loss(self, policy, loss_fn: Callable, target: str = "objective", n_batches: int = 32,
                   batch_size: int = 64, scale: float | None = None, tolerance: float = 0.2, seed: int = 0,
                   parameters=None, progress: bool = False) -> LossCheck:
        """Does ``loss_fn``'s gradient estimate the gradient of the objective it claims to optimise?

        ``loss_fn(policy, batch) -> scalar tensor`` is called on ``n_batches`` independent batches
        (:class:`SampledBatch`, sampled exactly from ``policy``); the mean ĝ of its gradients
        estimates E[∇ loss]. Minimising the loss claims E[∇ loss] = −scale · ∇J_β (``target=
        "objective"``) or +scale · ∇KL(π ‖ π_ref) (``target="kl"``, a KL penalty term). With
        per-batch gradients g_i and e the exact expected gradient, the squared bias ‖E ĝ − e‖² is
        estimated without bias by the U-statistic Σ_{i≠j} ⟨g_i − e, g_j − e⟩ / (n(n − 1)), with a
        standard error from its Hoeffding projection; the verdict compares its 3-standard-error
        bounds with ``tolerance``² ‖e‖².

        Args:
            policy: a torch module (or function with ``parameters``).
            loss_fn: the loss, ``loss_fn(policy, batch)``; ``batch.log_probs(policy)`` gives
                log π_θ(a_t|s_t) with gradients in the oracle's convention.
            target: "objective" or "kl".
            n_batches: independent batches (≥ 4).
            batch_size: sequences per batch.
            scale: the claimed factor (e.g. 1/H for a loss averaged over tokens); None: fitted.
            tolerance: relative bias tolerated (0 < tolerance < 1).
            seed: sampling seed.
            parameters: θ (default: the module's parameters that require grad).
            progress: a tqdm bar over the batches.
        """
        from rlcore import _checks
        from tqdm.auto import trange

        if target not in ("objective", "kl"):
            raise ValueError(f"target must be 'objective' or 'kl'; got {target!r}")
        n_batches = _checks.whole(n_batches, "n_batches", 4)
        batch_size = _checks.whole(batch_size, "batch_size", 1)
        tolerance = _checks.number(tolerance, "tolerance", 0.0, 1.0, low_open=True, high_open=True)
        if scale is not None:
            scale = _checks.number(scale, "scale", 0.0, low_open=True)
        adapter = self.adapter(policy)
        parameters = adapter.parameters() if parameters is None else list(parameters)
        exact = self.gradient(adapter, parameters, target=target)
        direction = -exact.flat if target == "objective" else exact.flat  # what E[∇ loss] should point along
        if float(direction.abs().max()) < 1e-12:
            raise ValueError("the exact gradient is 0 here (e.g. the policy is π_ref and the target is the KL): "
                             "check the loss at a policy where the objective's gradient is not 0")
        tables = list(exact.policy)  # π at every state, from the gradient's own pass
        rng = np.random.default_rng(seed)
        G = torch.zeros(n_batches, direction.numel(), dtype=torch.float32)
        for i in trange(n_batches, disable=not progress, desc="loss check"):
            batch = self.sample(adapter, batch_size, rng, tables)
            loss = loss_fn(policy, batch)
            if not (isinstance(loss, torch.Tensor) and loss.numel() == 1):
                raise TypeError(f"loss_fn must return a scalar tensor; got {type(loss).__name__}")
            if not torch.isfinite(loss):
                raise ValueError(f"loss_fn returned {float(loss)} on batch {i}")
            grads = torch.autograd.grad(loss.reshape(()), parameters, allow_unused=True)
            G[i] = torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1).float()
                              for g, p in zip(grads, parameters)])
        return _verdict(G.double(), direction, scale, tolerance, target, batch_size)


def _verdict(G: torch.Tensor, direction: torch.Tensor, scale, tolerance: float, target: str,
             batch_size: int) -> LossCheck:
    """The statistics of :meth:`Oracle.check_loss` from per-batch gradients G (n, P) and the exact direction (P,)."""
    n = G.shape[0]
    norm2 = float(direction @ direction)
    per_batch_scale = (G @ direction) / norm2  # (n,)
    if scale is None:
        c, c_se = float(per_batch_scale.mean()), float(per_batch_scale.std() / math.sqrt(n))
    else:
        c, c_se = float(scale), 0.0
    e = c * direction
    D = G - e  # (n, P)
    total = D.sum(0)
    sq = (D * D).sum(1)  # ‖D_i‖²
    U = (float(total @ total) - float(sq.sum())) / (n * (n - 1))  # unbiased for ‖E ĝ − e‖²
    h = (D @ total - sq) / (n - 1)  # Hoeffding projections
    U_se = 2.0 * float(h.std()) / math.sqrt(n)
    e2 = c * c * norm2
    mean = G.mean(0)
    trace = float(((G - mean) ** 2).sum() / (n - 1))  # tr Ĉ
    mean2 = float(mean @ mean)
    dir_norm = math.sqrt(norm2)
    cosine = float(mean @ direction) / (dir_norm * math.sqrt(mean2)) if mean2 > 0 else float("nan")
    signal2 = mean2 - trace / n
    cosine_of_mean = (float(mean @ direction) / (dir_norm * math.sqrt(signal2)) if signal2 > 0 else float("nan"))
    cosine_of_mean = float(np.clip(cosine_of_mean, -1.0, 1.0)) if np.isfinite(cosine_of_mean) else cosine_of_mean
    if e2 > 0:
        relative_bias = math.sqrt(max(U, 0.0) / e2)
        bound = math.sqrt(max(U + 3 * U_se, 0.0) / e2)
    else:
        relative_bias = bound = float("inf")
    allowed = tolerance**2 * e2
    along, along_se = float(per_batch_scale.mean()), float(per_batch_scale.std() / math.sqrt(n))
    wrong_way = along + 3 * along_se < 0  # E ĝ points away from the objective's direction
    if (e2 > 0 and U - 3 * U_se > allowed) or wrong_way:
        verdict = "biased"
    elif e2 > 0 and U + 3 * U_se < allowed and c - 3 * c_se > 0:
        verdict = "unbiased"
    else:
        verdict = "inconclusive"
    return LossCheck(target, c, c_se, cosine, cosine_of_mean, relative_bias, bound,
                     math.sqrt(trace / n) / math.sqrt(e2) if e2 > 0 else float("inf"), verdict, tolerance, n,
                     batch_size, direction.clone(), mean)


def _is_tables(policy, oracle) -> bool:
    return (isinstance(policy, (list, tuple)) and len(policy) == len(oracle.trees)
            and all(isinstance(t, np.ndarray) for t in policy))


def _tokens(action_tokens):
    return np.array([]) if action_tokens is None else np.asarray(action_tokens)
