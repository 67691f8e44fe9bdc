"""A Hugging Face causal language model as the model of lmenv's environments (optional).

lmenv's environments (``TokenEnv``, ``TokenVectorEnv``, ``ReferencePolicy``) talk to their model
through three things: ``model(idx, cache=None) -> (logits, cache)``, where the cache is a list of
one ``(k, v)`` pair per layer, each (B, n_head, T_past, head_size), that ``lmenv.select_cache``
can reorder; ``model.config.vocab_size`` and ``model.config.block_size``; and the device of
``next(model.parameters())``. :class:`HFCausalLM` gives a ``transformers`` causal LM that
interface, converting the cache to and from Hugging Face's ``DynamicCache`` on every call, and
:class:`HFTokenizer` gives a Hugging Face tokenizer the interface of :class:`lmenv.CharTokenizer`.

Nothing here downloads: wrap a model object you built or loaded yourself, or load a directory
with :func:`load_hf`. ``transformers`` is imported only when a function needs it, so
``import lmenv`` works without it (``pip install rlcore-lmenv[hf]``). See docs/lmenv_hf.md.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import torch
import torch.nn as nn

from lmenv.model import KVCache, cache_length


@dataclass(frozen=True)
class HFConfig:
    """What lmenv reads from a model's config."""

    vocab_size: int  # logits returned: the first vocab_size entries of the Hugging Face model's
    block_size: int  # longest sequence: n_positions / max_position_embeddings of the HF config
    n_layer: int  # transformer layers, one (k, v) pair each in the cache
    n_embd: int | None = None  # width of the hidden features (hidden_size): what a value head reads


class HFCausalLM(nn.Module):
    """A ``transformers`` causal LM with the call signature of :class:`lmenv.GPT`.

    ``forward(idx, cache)`` runs the wrapped model on the new tokens ``idx`` after the tokens of
    ``cache`` and returns ``(logits, cache)`` like ``GPT.forward``. The cache is lmenv's list of
    ``(k, v)`` tensors, (B, n_head, T_past, head_size); the tensors passed in are never modified
    (``ReferencePolicy`` keeps the caches of many prefixes and extends each one several times).

    Args:
        model: a ``transformers`` causal LM (e.g. ``GPT2LMHeadModel``) whose attention layers
            keep a key/value cache of that shape (sliding-window and state-space models do not).
        vocab_size: keep only the first ``vocab_size`` logits (default: the model's
            ``config.vocab_size``). Set it to the tokenizer's size when the model's embedding
            table is padded beyond it, so that every action is a token the tokenizer knows.
        block_size: longest sequence (default: the config's ``n_positions`` or
            ``max_position_embeddings``).
    """

    def __init__(self, model: nn.Module, vocab_size: int | None = None, block_size: int | None = None):
        super().__init__()
        text = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
        if block_size is None:
            block_size = getattr(text, "n_positions", None) or getattr(text, "max_position_embeddings", None)
            if block_size is None:
                raise ValueError("the config has neither n_positions nor max_position_embeddings: give block_size")
        vocab_size = text.vocab_size if vocab_size is None else int(vocab_size)
        if not 1 <= vocab_size <= text.vocab_size:
            raise ValueError(f"vocab_size must lie in [1, {text.vocab_size}] (the model's vocabulary); got {vocab_size}")
        n_layer = text.num_hidden_layers
        n_embd = getattr(text, "hidden_size", None) or getattr(text, "n_embd", None)
        self.model = model.eval()
        self.config = HFConfig(vocab_size=vocab_size, block_size=int(block_size), n_layer=int(n_layer),
                               n_embd=None if n_embd is None else int(n_embd))
        # transformers 5 renamed the forward's ``past_key_values`` to ``cache`` (the old name is deprecated)
        self._cache_keyword = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"

    def forward(self, idx: torch.Tensor, cache: KVCache | None = None, return_hidden: bool = False):
        """Run the model on new tokens ``idx``, continuing after the tokens in ``cache``.

        Args:
            idx: (B, T) LongTensor of token ids, at positions T_past .. T_past + T - 1.
            cache: None (T_past = 0) or the cache of an earlier call: n_layer pairs (k, v), each
                (B, n_head, T_past, head_size). Not modified.
            return_hidden: also return the final hidden features (the last of the model's
                ``hidden_states``: the input of its LM head), as ``lmenv.GPT`` does.

        Returns:
            (logits, cache), or (logits, cache, hidden) when return_hidden: logits (B, T, vocab_size);
            the cache of T_past + T tokens; hidden (B, T, n_embd).

        Raises:
            ValueError: if idx is not (B, T), the cache does not fit idx, or T_past + T > block_size.
        """
        if idx.dim() != 2:
            raise ValueError(f"idx must be (B, T), got shape {tuple(idx.shape)}")
        B, T = idx.shape
        t_past = cache_length(cache)
        if cache is not None:
            if len(cache) != self.config.n_layer:
                raise ValueError(f"cache has {len(cache)} layers, the model has {self.config.n_layer}")
            if cache[0][0].shape[0] != B:
                raise ValueError(f"cache batch size {cache[0][0].shape[0]} != idx batch size {B}")
        if t_past + T > self.config.block_size:
            raise ValueError(f"sequence length {t_past + T} (cached {t_past} + new {T}) exceeds "
                             f"block_size {self.config.block_size}")
        past = None if cache is None else _to_hf_cache(cache)
        out = self.model(input_ids=idx, **{self._cache_keyword: past}, use_cache=True, return_dict=True,
                         output_hidden_states=return_hidden)
        logits = out.logits[..., :self.config.vocab_size]  # (B, T, vocab_size)
        new_cache = _from_hf_cache(out["cache"] if "cache" in out.keys() else out["past_key_values"])
        if return_hidden:
            return logits, new_cache, out.hidden_states[-1]  # (B, T, n_embd)
        return logits, new_cache


def _to_hf_cache(cache: KVCache):
    """lmenv's list of (k, v) -> a fresh ``DynamicCache`` (whose updates build new tensors)."""
    from transformers import DynamicCache

    pairs = tuple((k, v) for k, v in cache)
    if _dynamic_cache_takes_data(DynamicCache):  # transformers >= 4.56
        return DynamicCache(pairs)
    return DynamicCache.from_legacy_cache(pairs)  # older: the legacy tuple of per-layer (k, v)


@lru_cache(maxsize=None)
def _dynamic_cache_takes_data(cls) -> bool:
    return "ddp_cache_data" in inspect.signature(cls.__init__).parameters


def _from_hf_cache(past) -> KVCache:
    """A ``DynamicCache`` (or a legacy tuple of per-layer (k, v)) -> lmenv's list of (k, v)."""
    if isinstance(past, (tuple, list)):
        return [(layer[0], layer[1]) for layer in past]
    if hasattr(past, "layers"):  # transformers >= 4.56: one CacheLayer per layer
        return [(layer.keys, layer.values) for layer in past.layers]
    return list(zip(past.key_cache, past.value_cache))


class HFTokenizer:
    """A Hugging Face tokenizer with the interface of :class:`lmenv.CharTokenizer`.

    ``encode`` adds no special tokens (no BOS): the environment's prompt is exactly the encoded
    text. ``decode`` keeps special tokens and spaces as they are, so a generated text is the
    concatenation of its tokens' texts. ``stoi`` maps each character that is a whole token to
    that token's id (the rewards that name characters, e.g. ``AvoidCharacters``, use it).
    With a subword vocabulary a fixed action set of characters (``actions="etaoin"``) needs
    every one of its characters to be a single token; ``actions="vocab"`` always works.
    """

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    @property
    def vocab_size(self) -> int:
        return len(self.tokenizer)

    def encode(self, s: str) -> list[int]:
        """Token ids of ``s``, without special tokens."""
        return list(self.tokenizer.encode(s, add_special_tokens=False))

    def decode(self, ids: Iterable[int]) -> str:
        """The text of the token ids ``ids`` (any iterable of ints, e.g. a 1-D tensor)."""
        return self.tokenizer.decode([int(i) for i in ids], skip_special_tokens=False,
                                     clean_up_tokenization_spaces=False)

    @cached_property
    def stoi(self) -> dict[str, int]:
        """Character -> id of the token that is exactly that character (the first such id)."""
        stoi = {}
        for i in range(self.vocab_size):
            text = self.decode([i])
            if len(text) == 1 and text not in stoi:
                stoi[text] = i
        return stoi

    def __repr__(self) -> str:
        return f"HFTokenizer({type(self.tokenizer).__name__}, vocab_size={self.vocab_size})"


def load_hf(directory: str | Path, device: str | torch.device | None = None, tokenizer=None,
            block_size: int | None = None) -> tuple[HFCausalLM, object]:
    """Load a causal LM saved with ``save_pretrained`` from a local directory; never downloads.

    Args:
        directory: a directory holding the model's config and weights (and, unless ``tokenizer``
            is given, its tokenizer files).
        device: where to put the model (default: ``lmenv.default_device()``).
        tokenizer: a tokenizer with lmenv's interface (e.g. a ``CharTokenizer``) instead of the
            directory's own, which is wrapped in :class:`HFTokenizer`.
        block_size: passed to :class:`HFCausalLM`.

    Returns:
        (model, tokenizer): an :class:`HFCausalLM` in eval mode whose vocab_size is the
        tokenizer's, and the tokenizer.

    Raises:
        FileNotFoundError: if ``directory`` is not an existing directory (e.g. a hub name).
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lmenv.model import default_device

    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{str(directory)!r} is not a local directory; lmenv.hf never downloads models")
    model = AutoModelForCausalLM.from_pretrained(directory, local_files_only=True)
    if tokenizer is None:
        tokenizer = HFTokenizer(AutoTokenizer.from_pretrained(directory, local_files_only=True))
    wrapped = HFCausalLM(model, vocab_size=tokenizer.vocab_size, block_size=block_size)
    return wrapped.to(device or default_device()), tokenizer
