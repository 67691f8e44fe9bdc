"""The reference policy π_ref(a|s) of a language model over an action set, with a prefix cache.

A state is the prompt plus the tokens generated so far; this module keys states by the tuple of
*generated* token ids (the prompt is fixed per policy). The next-token distribution of a prefix
is computed once — in batched forward passes, or one token at a time from the key/value cache of
the parent prefix when an episode steps through new states — and then served from a dictionary, so tabular learning that revisits prefixes runs at table
speed rather than model speed.

Action sets:
    - ``"vocab"``: every token is an action; π_ref = softmax(logits / temperature).
    - a fixed set of tokens (e.g. 8 characters): π_ref renormalised over the set.
    - ``top_k``: every token is an action but only the k most likely are allowed at each state;
      π_ref renormalised over them, 0 elsewhere (log π_ref = −inf).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import torch

from lmenv.model import GPT, KVCache

Prefix = tuple[int, ...]


class ReferencePolicy:
    """log π_ref(·|prefix) over an action set, computed by a GPT and cached per prefix.

    Args:
        model: the language model (its device is used).
        prompt_ids: token ids of the prompt, at least one.
        action_tokens: token ids of the actions, shape (A,), or None for the whole vocabulary.
        top_k: with ``action_tokens=None``, allow only the k most likely tokens at each state.
        temperature: sampling temperature T > 0 of π_ref ∝ exp(logits / T).
        kv_cache_size: how many recent prefixes keep their key/value cache for incremental steps.
    """

    def __init__(self, model: GPT, prompt_ids: Sequence[int], action_tokens=None, top_k: int | None = None,
                 temperature: float = 1.0, kv_cache_size: int = 512):
        if len(prompt_ids) == 0:
            raise ValueError("the prompt must have at least one token")
        if not (np.isfinite(temperature) and temperature > 0):
            raise ValueError(f"temperature must be a positive number; got {temperature}")
        vocab_size = model.config.vocab_size
        if action_tokens is not None:
            action_tokens = np.asarray(action_tokens, dtype=np.int64)
            if action_tokens.ndim != 1 or action_tokens.size == 0:
                raise ValueError("action_tokens must be a non-empty 1-D list of token ids")
            if len(set(action_tokens.tolist())) != action_tokens.size:
                raise ValueError(f"action_tokens has repeated tokens: {action_tokens.tolist()}")
            if action_tokens.min() < 0 or action_tokens.max() >= vocab_size:
                raise ValueError(f"action_tokens must lie in [0, {vocab_size})")
            if top_k is not None:
                raise ValueError("top_k applies to the whole vocabulary; give action_tokens or top_k, not both")
        if top_k is not None and not (1 <= top_k <= vocab_size):
            raise ValueError(f"top_k must lie in [1, {vocab_size}]; got {top_k}")
        self.model = model
        self.prompt_ids = tuple(int(i) for i in prompt_ids)
        self.action_tokens = action_tokens
        self.top_k = top_k
        self.temperature = float(temperature)
        self.device = next(model.parameters()).device
        self.n_actions = vocab_size if action_tokens is None else action_tokens.size
        self.max_new_tokens = model.config.block_size - len(self.prompt_ids)
        self._log_probs: dict[Prefix, np.ndarray] = {}
        self._kv: OrderedDict[Prefix, KVCache] = OrderedDict()
        self._kv_cache_size = kv_cache_size
        self.forward_passes = 0  # model calls made, for benchmarks and tests of the cache
        self._prompt_state = None  # (logits (1, V), KV cache) after the prompt
        self._action_index_on: dict = {}  # device -> the action tokens there (log_probs_from_logits)

    def __len__(self) -> int:
        """Number of prefixes whose distribution is cached."""
        return len(self._log_probs)

    def log_probs(self, prefix: Prefix) -> np.ndarray:
        """log π_ref(a | prompt + prefix) for every action, shape (A,) (−inf for disallowed actions)."""
        cached = self._log_probs.get(prefix)
        if cached is None:
            cached = self._compute_one(prefix)
        return cached

    def log_probs_batch(self, prefixes: Sequence[Prefix], batch_size: int | None = None,
                        remember: bool = True) -> np.ndarray:
        """log π_ref for several prefixes, shape (B, A); the uncached ones in batched forward passes.

        Args:
            prefixes: the prefixes (any lengths, repeats allowed).
            batch_size: at most this many sequences per forward pass (default: all of one length at once).
            remember: keep the computed distributions in the prefix cache. With ``False`` they are
                returned only (``lmenv.to_mdp(..., fill_cache=False)`` on trees too large to cache).
        """
        if remember:
            missing = sorted({p for p in prefixes if p not in self._log_probs}, key=len)
            for length in sorted({len(p) for p in missing}):
                group = [p for p in missing if len(p) == length]
                for start in range(0, len(group), batch_size or len(group)):
                    self._compute_full(group[start:start + (batch_size or len(group))])
            return np.stack([self._log_probs[p] for p in prefixes])
        out = np.empty((len(prefixes), self.n_actions))
        missing: dict[int, list[int]] = {}  # length -> rows of the prefixes not in the cache
        for i, p in enumerate(prefixes):
            cached = self._log_probs.get(p)
            if cached is None:
                missing.setdefault(len(p), []).append(i)
            else:
                out[i] = cached
        for rows in missing.values():
            for start in range(0, len(rows), batch_size or len(rows)):
                chunk = rows[start:start + (batch_size or len(rows))]
                logits, _ = self._forward_full([prefixes[i] for i in chunk])
                out[chunk] = self.log_probs_from_logits(logits)
        return out

    def children(self, prefix: Prefix) -> list[Prefix]:
        """The prefixes one allowed action further, in action order (top-k: most likely first)."""
        if self.action_tokens is not None:
            return [prefix + (int(t),) for t in self.action_tokens]
        log_probs = self.log_probs(prefix)
        allowed = np.flatnonzero(np.isfinite(log_probs))
        allowed = allowed[np.argsort(-log_probs[allowed], kind="stable")]
        return [prefix + (int(t),) for t in allowed]

    def warm(self, prefixes: Sequence[Prefix], batch_size: int = 2048) -> None:
        """Compute and cache the distributions of ``prefixes``, ``batch_size`` sequences per forward pass."""
        missing = [p for p in dict.fromkeys(prefixes) if p not in self._log_probs]
        for start in range(0, len(missing), batch_size):
            self.log_probs_batch(missing[start:start + batch_size])

    # ------------------------------------------------------------------ internals
    def _compute_one(self, prefix: Prefix) -> np.ndarray:
        parent = prefix[:-1]
        if prefix and parent in self._kv:
            self._kv.move_to_end(parent)
            ids = torch.tensor([[prefix[-1]]], device=self.device)
            with torch.no_grad():
                logits, cache = self.model(ids, cache=self._kv[parent])
            self.forward_passes += 1
            self._remember_kv(prefix, cache)
            self._store([prefix], logits[:, -1])
        else:
            self._compute_full([prefix])
        return self._log_probs[prefix]

    def _compute_full(self, prefixes: list[Prefix]) -> None:
        """One forward pass for prefixes of equal length, on top of the prompt's cached keys/values."""
        logits, cache = self._forward_full(prefixes)
        self._store(prefixes, logits)
        if len(prefixes) == 1:
            self._remember_kv(prefixes[0], cache)

    def _forward_full(self, prefixes: list[Prefix]):
        """Last-position logits (B, V) and caches of prompt + prefix, B prefixes of equal length."""
        length = len(prefixes[0])
        if len(self.prompt_ids) + length > self.model.config.block_size:
            raise ValueError(f"prompt ({len(self.prompt_ids)} tokens) plus {length} generated tokens exceeds "
                             f"the model's block_size {self.model.config.block_size}")
        prompt_logits, prompt_cache = self._prompt()
        B = len(prefixes)
        cache = [(k.expand(B, -1, -1, -1), v.expand(B, -1, -1, -1)) for k, v in prompt_cache]  # broadcast, no copy
        if length == 0:
            return prompt_logits.expand(B, -1), cache
        ids = torch.tensor(prefixes, device=self.device)  # (B, T)
        with torch.no_grad():
            logits, cache = self.model(ids, cache=cache)
        self.forward_passes += 1
        return logits[:, -1], cache

    def _prompt(self):
        """Logits (1, V) after the prompt and its key/value cache, computed once."""
        if self._prompt_state is None:
            with torch.no_grad():
                logits, cache = self.model(torch.tensor([self.prompt_ids], device=self.device))
            self.forward_passes += 1
            self._prompt_state = (logits[:, -1], cache)
        return self._prompt_state

    def _store(self, prefixes: list[Prefix], last_logits: torch.Tensor) -> None:
        self.remember(prefixes, self.log_probs_from_logits(last_logits))

    def log_probs_from_logits(self, last_logits: torch.Tensor) -> np.ndarray:
        """Next-token logits (B, V) -> log π_ref over the action set (B, A): temperature, then the
        action set (a fixed subset, or −inf outside the top k), then log-softmax.

        The action columns are picked on the model's device; the (B, A) float32 logits then go to
        the host, where the rest is computed in float64 (so no float64 arithmetic runs on the
        device: Apple's MPS has none, and a GPU's is slow). The numbers are the same as computing
        everything in float64, since float32 → float64 is exact.
        """
        logits = last_logits.detach()
        if self.action_tokens is not None:
            logits = logits.index_select(-1, self._action_index(logits.device))  # (B, A), on the device
        logits = logits.float().cpu().double() / self.temperature  # (B, A) or (B, V), on the host
        if self.action_tokens is None and self.top_k is not None:
            kth = torch.topk(logits, self.top_k, dim=-1).values[:, -1:]  # (B, 1)
            logits = logits.masked_fill(logits < kth, float("-inf"))
        return torch.log_softmax(logits, dim=-1).numpy()  # (B, A)

    def _action_index(self, device) -> torch.Tensor:
        """The action tokens as a LongTensor on ``device`` (made once per device)."""
        index = self._action_index_on.get(device)
        if index is None:
            index = self._action_index_on[device] = torch.as_tensor(self.action_tokens, device=device)
        return index

    def remember(self, prefixes: Sequence[Prefix], log_probs: np.ndarray, copy: bool = True) -> None:
        """Cache log π_ref rows (B, A) for ``prefixes`` (read-only arrays).

        ``copy=False`` stores read-only views of ``log_probs`` instead of copies (the caller gives
        up writing to it).
        """
        if not copy:
            log_probs.setflags(write=False)
        for prefix, row in zip(prefixes, log_probs):
            if prefix not in self._log_probs:
                if copy:
                    row = row.copy()
                    row.setflags(write=False)
                self._log_probs[prefix] = row

    def _remember_kv(self, prefix: Prefix, cache: KVCache) -> None:
        self._kv[prefix] = cache
        if len(self._kv) > self._kv_cache_size:
            self._kv.popitem(last=False)

