"""A small character-level GPT, in one file, with a key/value cache for incremental decoding.

The model is a decoder-only transformer (Vaswani et al. 2017) in the GPT-2 arrangement
(Radford et al. 2019): learned token and position embeddings, ``n_layer`` pre-LayerNorm blocks of
causal self-attention and an MLP, a final LayerNorm, and a linear head to next-token logits.
It is built bottom-up: CausalSelfAttention -> MLP -> Block -> GPT.

The key/value cache: every attention layer's keys and values for the tokens seen so far, a list
with one ``(k, v)`` pair per layer, each of shape (B, n_head, T_past, head_size). Given the cache
of a prefix, the model only computes the new tokens, at positions T_past .. T_past + T - 1, and
returns the longer cache. The logits are the same (up to float rounding) as those of one forward
pass over the whole sequence; ``tests/lmenv/test_lm_model.py`` checks it.

References:
    Vaswani et al. (2017), "Attention Is All You Need", NeurIPS. arXiv:1706.03762.
    Radford et al. (2019), "Language Models are Unsupervised Multitask Learners" (GPT-2).
    Karpathy, minGPT (github.com/karpathy/minGPT) and nanoGPT (github.com/karpathy/nanoGPT):
        the layout of this file follows them; the code is written anew.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

# One (k, v) pair per layer, each (B, n_head, T_past, head_size).
KVCache = list[tuple[torch.Tensor, torch.Tensor]]


def default_device() -> torch.device:
    """CUDA when available, otherwise the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def gradient_step(optimizer: torch.optim.Optimizer, loss: torch.Tensor, max_grad_norm: float | None = None) -> None:
    """One step of gradient descent on ``loss``: zero the gradients, backpropagate, clip their global
    norm to ``max_grad_norm`` (None or 0: no clipping), and step the optimizer.

    The step runs with torch's default device set to the parameters' device, so that state the
    optimizer makes lazily (Adam's step counts, made on the *default* device by torch 2.11) lands
    beside the parameters even when the caller has set another default (``torch.set_default_device``
    or ``with torch.device(...)``).
    """
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if max_grad_norm is not None and max_grad_norm > 0:
        torch.nn.utils.clip_grad_norm_(parameters, max_grad_norm)
    with torch.device(parameters[0].device):
        optimizer.step()


@dataclass
class GPTConfig:
    vocab_size: int = 84  # distinct characters in the Shakespeare corpus (lmenv/data)
    block_size: int = 128  # longest sequence (prefix + new tokens) the model can attend over
    n_layer: int = 4  # transformer blocks
    n_head: int = 4  # attention heads per block; n_embd must be divisible by it
    n_embd: int = 80  # width of the residual stream; head_size = n_embd // n_head
    dropout: float = 0.0  # dropout on attention weights and residual branches (training only)
    bias: bool = True  # biases in the Linear and LayerNorm layers, as in GPT-2

    def __post_init__(self):
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            if getattr(self, name) < 1:
                raise ValueError(f"GPTConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.n_embd % self.n_head != 0:
            raise ValueError(f"n_embd={self.n_embd} is not divisible by n_head={self.n_head}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where token t attends to tokens 0..t (past and itself).

    softmax(q k^T / sqrt(head_size) + mask) v, with mask = -inf above the causal diagonal. Without a
    cache the mask is passed as ``is_causal=True`` (so that torch may use its fused attention
    kernels); one new token after a cache needs no mask; only several new tokens after a cache
    use the explicit mask ``causal[T_past:T_past + T, :T_past + T]``.
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.n_head = config.n_head
        self.head_size = config.n_embd // config.n_head
        self.dropout = config.dropout
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)  # q, k, v
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)
        # causal[i, j] is True where position i may attend to position j (j <= i)
        causal = torch.tril(torch.ones(config.block_size, config.block_size, dtype=torch.bool))
        self.register_buffer("causal", causal, persistent=False)

    def forward(
        self, x: torch.Tensor, past: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """x: (B, T, C) for positions T_past .. T_past+T-1; past: (k, v) of the earlier positions.

        Returns (y, (k, v)): y (B, T, C) and the keys/values of all T_past + T positions.
        """
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)  # each (B, T, C)
        q = q.view(B, T, self.n_head, self.head_size).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, self.n_head, self.head_size).transpose(1, 2)  # (B, nh, T, hs)
        v = v.view(B, T, self.n_head, self.head_size).transpose(1, 2)  # (B, nh, T, hs)
        if past is not None:
            k = torch.cat([past[0], k], dim=2)  # (B, nh, T_past + T, hs)
            v = torch.cat([past[1], v], dim=2)  # (B, nh, T_past + T, hs)
        t_all = k.shape[2]
        t_past = t_all - T
        dropout_p = self.dropout if self.training else 0.0
        if past is None:  # the queries cover the whole sequence: the causal mask is implied, and an
            # implied mask (is_causal) lets torch choose its fused kernels (flash / memory-efficient)
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=dropout_p)  # (B, nh, T, hs)
        elif T == 1:  # one new token attends to every position so far: no mask at all
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p)  # (B, nh, 1, hs)
        else:  # several new tokens after a cache
            # rows: the new query positions; columns: every key position so far
            mask = self.causal[t_past:t_all, :t_all]  # (T, T_past + T)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p)  # (B, nh, T, hs)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, T, C): heads side by side
        return self.resid_dropout(self.c_proj(y)), (k, v)


class MLP(nn.Module):
    """Position-wise feed-forward layer: Linear(C, 4C) -> GELU -> Linear(4C, C)."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    """Pre-LayerNorm transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x, past=None):
        """x: (B, T, C); past: this layer's cached (k, v) or None. Returns (x, (k, v))."""
        a, kv = self.attn(self.ln_1(x), past)
        x = x + a
        x = x + self.mlp(self.ln_2(x))
        return x, kv


class GPT(nn.Module):
    """The language model: token ids (B, T) -> next-token logits (B, T, vocab_size)."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)  # token embeddings
        self.wpe = nn.Embedding(config.block_size, config.n_embd)  # position embeddings
        self.drop = nn.Dropout(config.dropout)
        self.h = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd, bias=config.bias)
        # Not tied to wte (GPT-2 ties them): untied weights keep the checkpoint one tensor per name.
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.apply(self._init_weights)
        # GPT-2: scale the init of the projections into the residual stream by 1/sqrt(2 n_layer)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(
        self, idx: torch.Tensor, cache: KVCache | None = None, return_hidden: bool = False
    ):
        """Run the model on new tokens ``idx``, continuing after the tokens in ``cache``.

        Args:
            idx: (B, T) LongTensor of token ids, at positions T_past .. T_past + T - 1.
            cache: None (T_past = 0) or the cache returned by an earlier call, a list of n_layer
                (k, v) pairs of shape (B, n_head, T_past, head_size). Not modified.
            return_hidden: also return the final hidden features that the LM head reads.

        Returns:
            (logits, cache), or (logits, cache, hidden) when return_hidden:
            logits (B, T, vocab_size); cache for T_past + T tokens; hidden (B, T, n_embd), the
            output of the final LayerNorm (logits = lm_head(hidden)).

        Raises:
            ValueError: if idx is not (B, T), the cache does not fit idx, or T_past + T > block_size.
        """
        if idx.dim() != 2:
            raise ValueError(f"idx must be (B, T), got shape {tuple(idx.shape)}")
        B, T = idx.shape
        t_past = 0
        if cache is not None:
            if len(cache) != self.config.n_layer:
                raise ValueError(f"cache has {len(cache)} layers, the model has {self.config.n_layer}")
            t_past = cache[0][0].shape[2]
            if cache[0][0].shape[0] != B:
                raise ValueError(f"cache batch size {cache[0][0].shape[0]} != idx batch size {B}")
        if t_past + T > self.config.block_size:
            raise ValueError(
                f"sequence length {t_past + T} (cached {t_past} + new {T}) exceeds "
                f"block_size {self.config.block_size}"
            )
        pos = torch.arange(t_past, t_past + T, device=idx.device)  # (T,)
        x = self.drop(self.wte(idx) + self.wpe(pos))  # (B, T, C)
        new_cache = []
        for i, block in enumerate(self.h):
            x, kv = block(x, None if cache is None else cache[i])
            new_cache.append(kv)
        hidden = self.ln_f(x)  # (B, T, C)
        device_type = hidden.device.type
        if torch.amp.is_autocast_available(device_type) and torch.is_autocast_enabled(device_type):
            with torch.autocast(device_type, enabled=False):  # mixed precision: the logits stay float32
                logits = self.lm_head(hidden.float())  # (B, T, vocab_size)
        else:
            logits = self.lm_head(hidden)  # (B, T, vocab_size)
        if return_hidden:
            return logits, new_cache, hidden
        return logits, new_cache

    @torch.no_grad()
    def generate(
        self,
        idx: torch.Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Sample ``max_new_tokens`` tokens after the prompt ``idx`` (B, T); returns (B, T + new).

        Uses the key/value cache, so each new token costs one one-token forward pass. When the
        sequence outgrows block_size, the context is cropped to the last block_size tokens and
        recomputed without a cache (learned positions cannot be shifted).
        temperature = 0 picks the most likely token (greedy); top_k keeps only the k most likely.
        Pass a ``generator`` (on idx's device) for reproducible samples.
        """
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        if idx.shape[1] == 0:
            raise ValueError("generate needs a prompt of at least one token")
        bs = self.config.block_size
        logits, cache = self(idx[:, -bs:])
        for _ in range(max_new_tokens):
            logits = logits[:, -1, :]  # (B, vocab_size)
            if temperature == 0:
                nxt = logits.argmax(dim=-1, keepdim=True)  # (B, 1)
            else:
                logits = logits / temperature
                if top_k is not None:
                    kth = torch.topk(logits, min(top_k, logits.shape[-1])).values[:, -1:]  # (B, 1)
                    logits = logits.masked_fill(logits < kth, float("-inf"))
                probs = F.softmax(logits, dim=-1)
                nxt = torch.multinomial(probs, num_samples=1, generator=generator)  # (B, 1)
            idx = torch.cat([idx, nxt], dim=1)  # (B, T + 1)
            if cache_length(cache) < bs:
                logits, cache = self(nxt, cache=cache)
            else:
                logits, cache = self(idx[:, -bs:])
        return idx


def cache_length(cache: KVCache | None) -> int:
    """Number of tokens T_past held in ``cache`` (0 for None)."""
    return 0 if cache is None else cache[0][0].shape[2]


def select_cache(cache: KVCache, index: torch.Tensor) -> KVCache:
    """Rows ``index`` of every (k, v) in ``cache`` along the batch dim (reorder, pick, repeat).

    Args:
        cache: list of (k, v), each (B, n_head, T_past, head_size).
        index: (B',) LongTensor of batch rows (on the cache's device).
    Returns:
        list of (k, v), each (B', n_head, T_past, head_size).
    """
    return [(k.index_select(0, index), v.index_select(0, index)) for k, v in cache]
