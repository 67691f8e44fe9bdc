"""The transformer as a policy: the shipped GPT with a value head (or a Q head), beside the frozen original.

One network gives everything a learner needs at a state s (the prompt plus the tokens generated so far):

    π_θ(a|s) = softmax(logits_θ(s)[A] / T)      the LM head restricted to the action set A
    V_θ(s)   = w_V · h_θ(s) + b_V               the value head on the final hidden features h_θ(s)
    Q_θ(s,·) = W_Q h_θ(s) + b_Q                 the Q head (DQN), one output per action

The restriction "logits of the action tokens, divided by the temperature T, then log-softmax" is
the one :class:`lmenv.ReferencePolicy` applies to the reference model, so before training π_θ is
π_ref (the heads start at zero). The reference is the environment's own ``ReferencePolicy``: its
model is never updated, and its prefix cache serves log π_ref.

A DQN learner acts with a policy *read out* of its Q head: ``"soft_q"``, the KL-regularised
(Boltzmann) policy π(a|s) ∝ π_ref(a|s) exp(Q(s, a)/β), which is π* when Q = Q*; or
``"greedy_q"``, argmax_a Q(s, a) (ties split evenly; ε-greedy while exploring). All three
readouts are rlcore's policies over the last axis (:mod:`rlcore.exact.policies`), applied to
torch tensors.

Sequences. The prompt is fixed, so an episode is its generated tokens a_0 .. a_{H-1}; state s_t
is the prompt followed by a_0 .. a_{t-1}. :meth:`PolicyValueModel.evaluate` computes every state
of a batch of episodes in one pass with gradients: the prompt once (batch 1), then the generated
tokens of all B episodes on top of its key/value cache, broadcast (no copy) to B rows.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
from rlcore.exact.policies import epsilon_greedy_log_policy, softmax_log_policy

from lmenv.model import KVCache, select_cache
from lmenv.reference import ReferencePolicy

READOUTS = ("logits", "soft_q", "greedy_q")
PRECISIONS = ("float32", "bfloat16")


@dataclass
class PolicyOutput:
    """What :class:`PolicyValueModel` computes at a batch of states.

    Attributes:
        logits: the LM head's logits restricted to the action set and divided by T, (B, T, A);
            log_softmax of them is log π_θ.
        values: V_θ(s), (B, T).
        q: Q_θ(s, ·), (B, T, A), or None without a Q head.
        cache: the key/value cache after these tokens (None from :meth:`evaluate`).
    """

    logits: torch.Tensor
    values: torch.Tensor
    q: torch.Tensor | None
    cache: KVCache | None


class PolicyValueModel(nn.Module):
    """A trainable copy of the environment's GPT with a value head (and optionally a Q head).

    The reference policy π_ref is the environment's :class:`lmenv.ReferencePolicy` (the original
    model, frozen, with its prefix cache); it is kept as a plain attribute, so it is no part of
    ``parameters()`` or ``state_dict()``.

    The environment's model may be the bundled :class:`lmenv.GPT` or a Hugging Face causal LM
    wrapped in :class:`lmenv.hf.HFCausalLM` (both return the final hidden features that the heads
    read; the width is ``model.config.n_embd``).

    Args:
        env: a :class:`lmenv.TokenEnv` with a fixed action set or ``actions="vocab"``
            (``top_k`` is not supported: π would need the reference's top-k mask at every state).
        q_head: add a Q head (for DQN).
        readout: how the acting policy is read out: ``"logits"`` (π_θ, the policy-gradient
            learners), ``"soft_q"`` (π ∝ π_ref exp(Q/β)) or ``"greedy_q"`` (argmax Q).
        kl_coef: β of the ``"soft_q"`` readout.
        precision: ``"float32"``, or ``"bfloat16"`` to run the transformer under bf16 autocast on
            a GPU (the LM head, the value and Q heads and everything after them stay float32).
            Ignored on the CPU (see :meth:`configure`).
        torch_compile: compile the transformer with ``torch.compile`` on a GPU; ignored on the CPU.
    """

    def __init__(self, env, q_head: bool = False, readout: str = "logits", kl_coef: float = 0.0,
                 precision: str = "float32", torch_compile: bool = False):
        super().__init__()
        env = env.unwrapped
        reference: ReferencePolicy = env.reference
        if reference.top_k is not None:
            raise ValueError("PolicyValueModel does not support top_k environments; use a fixed action set or 'vocab'")
        if readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}; got {readout!r}")
        if readout != "logits" and not q_head:
            raise ValueError(f"readout {readout!r} needs q_head=True")
        if readout == "soft_q" and not kl_coef > 0:
            raise ValueError(f"the soft_q readout needs kl_coef > 0; got {kl_coef}")
        self.reference = reference
        self.readout = readout
        self.kl_coef = float(kl_coef)
        self.temperature = reference.temperature
        self.body = copy.deepcopy(reference.model)  # the trained copy; reference.model stays frozen
        self.body.train(False)  # dropout is 0 in the shipped model; eval mode keeps it off regardless
        n_embd = getattr(self.body.config, "n_embd", None)
        if n_embd is None:
            raise ValueError(f"the environment's model ({type(reference.model).__name__}) does not say the width of "
                             "its hidden features (config.n_embd), which the value and Q heads read")
        self.n_actions = reference.n_actions
        device = reference.device
        # The heads start at zero (V = 0, Q = 0: π_soft_q = π_ref); skip_init leaves the global
        # random number generator alone, so that building a network has no side effect.
        self.value_head = nn.utils.skip_init(nn.Linear, n_embd, 1, device=device)
        self.q_head = nn.utils.skip_init(nn.Linear, n_embd, self.n_actions, device=device) if q_head else None
        for head in (self.value_head, self.q_head):
            if head is not None:
                nn.init.zeros_(head.weight)
                nn.init.zeros_(head.bias)
        self.to(device)
        actions = reference.action_tokens
        self.register_buffer("prompt_ids", torch.tensor(reference.prompt_ids, device=device), persistent=False)
        self.register_buffer("action_tokens", None if actions is None else torch.as_tensor(actions, device=device),
                             persistent=False)
        self.precision, self.torch_compile = "float32", False
        self.configure(precision, torch_compile)

    def configure(self, precision: str = "float32", torch_compile: bool = False) -> PolicyValueModel:
        """Mixed precision and compilation, for a GPU; both are off on the CPU whatever is asked.

        ``precision="bfloat16"`` runs the transformer's body under ``torch.autocast(dtype=bfloat16)``
        (its LM head, the value and Q heads, the log-probabilities and the losses stay float32).
        ``torch_compile=True`` compiles the body in place (``nn.Module.compile``, dynamic shapes:
        the key/value cache grows by one token per step), which fuses the many small kernels of a
        small model. On the CPU, bf16 matrix products are slower than float32 ones on most
        processors and compilation costs more than it saves at this size, so both stay off there
        (``self.precision == "float32"``, ``self.torch_compile`` False). Returns the network.
        """
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}; got {precision!r}")
        on_cpu = self.device.type == "cpu"
        self.precision = "float32" if on_cpu else precision
        if torch_compile and not on_cpu and not self.torch_compile:
            self.body.compile(dynamic=True)
            self.torch_compile = True
        return self

    def __deepcopy__(self, memo):
        """A copy of the network (e.g. DQN's target network) that shares the frozen reference."""
        memo[id(self.reference)] = self.reference
        new = self.__class__.__new__(self.__class__)
        memo[id(self)] = new
        for name, value in self.__dict__.items():
            new.__dict__[name] = copy.deepcopy(value, memo)
        return new

    @property
    def device(self) -> torch.device:
        return self.prompt_ids.device

    @property
    def needs_reference_to_act(self) -> bool:
        """Whether the acting policy reads π_ref at every state (the soft-Q readout)."""
        return self.readout == "soft_q"

    # ------------------------------------------------------------------ forward passes
    def forward(self, idx: torch.Tensor, cache: KVCache | None = None) -> PolicyOutput:
        """Heads at the positions of ``idx`` (B, T), continuing after ``cache`` (see ``GPT.forward``)."""
        logits, cache, hidden = self._body(idx, cache)  # (B, T, V), (B, T, C)
        return self._heads(logits, hidden, cache)

    def _body(self, idx: torch.Tensor, cache: KVCache | None = None):
        """The transformer (under bf16 autocast with ``precision="bfloat16"``): float32 logits and hidden features."""
        if self.precision == "float32":
            return self.body(idx, cache=cache, return_hidden=True)
        with torch.autocast(self.device.type, dtype=torch.bfloat16):
            logits, cache, hidden = self.body(idx, cache=cache, return_hidden=True)
        return logits.float(), cache, hidden.float()

    def _heads(self, logits, hidden, cache) -> PolicyOutput:
        if self.action_tokens is not None:
            logits = logits.index_select(-1, self.action_tokens)  # (B, T, A)
        logits = logits / self.temperature
        values = self.value_head(hidden).squeeze(-1)  # (B, T)
        q = None if self.q_head is None else self.q_head(hidden)  # (B, T, A)
        return PolicyOutput(logits, values, q, cache)

    def prompt_state(self, prefix: Sequence[int] = ()) -> PolicyOutput:
        """Heads at the last position of prompt + ``prefix`` (batch 1) and its cache."""
        ids = torch.cat([self.prompt_ids, torch.as_tensor(list(prefix), dtype=torch.long, device=self.device)])
        out = self(ids[None])  # (1, P + len(prefix))
        return PolicyOutput(out.logits[:, -1:], out.values[:, -1:], None if out.q is None else out.q[:, -1:], out.cache)

    def evaluate(self, tokens: torch.Tensor) -> PolicyOutput:
        """Heads at the states s_0 .. s_{H-1} of B episodes with generated tokens ``tokens`` (B, H).

        s_t is the prompt followed by tokens[:, :t]. The prompt is computed once (batch 1, with
        gradients) and its keys/values broadcast to B rows; then tokens[:, :H-1] in one pass.
        Returns logits (B, H, A), values (B, H), q (B, H, A) or None; cache None.
        """
        B, H = tokens.shape
        logits_p, cache_p, hidden_p = self._body(self.prompt_ids[None])  # (1, P, ·)
        first_logits = logits_p[:, -1:].expand(B, 1, -1)  # (B, 1, V): the state s_0
        first_hidden = hidden_p[:, -1:].expand(B, 1, -1)  # (B, 1, C)
        if H > 1:
            cache = [(k.expand(B, -1, -1, -1), v.expand(B, -1, -1, -1)) for k, v in cache_p]  # (B, nh, P, hs)
            logits_g, _, hidden_g = self._body(tokens[:, :H - 1], cache)  # (B, H-1, ·)
            logits = torch.cat([first_logits, logits_g], dim=1)  # (B, H, V)
            hidden = torch.cat([first_hidden, hidden_g], dim=1)  # (B, H, C)
        else:
            logits, hidden = first_logits, first_hidden
        return self._heads(logits, hidden, None)

    # ------------------------------------------------------------------ the acting policy
    def action_log_probs(self, out: PolicyOutput, ref_log_probs: torch.Tensor | None = None,
                         epsilon: float = 0.0) -> torch.Tensor:
        """log π(·|s) of the acting policy from the heads ``out``, shape (..., A).

        ``"logits"``: log_softmax(logits). ``"soft_q"``: log_softmax(log π_ref + Q/β) (needs
        ``ref_log_probs``). ``"greedy_q"``: the ε-greedy policy of Q (the greedy one, ties split
        evenly, for ``epsilon`` = 0; log 0 = −inf elsewhere).
        """
        if self.readout == "logits":
            return softmax_log_policy(out.logits, 1.0)
        if self.readout == "soft_q":
            if ref_log_probs is None:
                raise ValueError("the soft_q readout needs ref_log_probs")
            return softmax_log_policy(out.q, self.kl_coef, log_reference=ref_log_probs)
        return epsilon_greedy_log_policy(out.q, epsilon)

    # ------------------------------------------------------------------ every state of a tree
    @torch.no_grad()
    def log_probs_of_prefixes(self, prefixes: Sequence[tuple[int, ...]], batch_size: int = 1024) -> np.ndarray:
        """log π(·|prompt + prefix) of the acting policy (greedy for ``"greedy_q"``), shape (N, A), float64.

        Prefixes are grouped by length and run ``batch_size`` at a time on top of the prompt's
        key/value cache. π_ref for the soft-Q readout comes from the reference's prefix cache.
        """
        out = np.zeros((len(prefixes), self.n_actions))
        prompt = self.prompt_state()
        by_length: dict[int, list[int]] = {}
        for i, p in enumerate(prefixes):
            by_length.setdefault(len(p), []).append(i)
        for length, rows in sorted(by_length.items()):
            for start in range(0, len(rows), batch_size):
                chunk = rows[start:start + batch_size]
                if length == 0:
                    heads = PolicyOutput(prompt.logits[:, -1].expand(len(chunk), -1), prompt.values[:, -1],
                                         None if prompt.q is None else prompt.q[:, -1].expand(len(chunk), -1), None)
                else:
                    ids = torch.tensor([prefixes[i] for i in chunk], device=self.device)  # (N, length)
                    cache = select_cache(prompt.cache, torch.zeros(len(chunk), dtype=torch.long, device=self.device))
                    full = self(ids, cache=cache)
                    heads = PolicyOutput(full.logits[:, -1], full.values[:, -1],
                                         None if full.q is None else full.q[:, -1], None)
                ref = None
                if self.needs_reference_to_act:  # float64 on the host -> float32, then to the device
                    ref = torch.as_tensor(self.reference.log_probs_batch([prefixes[i] for i in chunk]),
                                          dtype=torch.float32, device="cpu").to(self.device)
                out[chunk] = self.action_log_probs(heads, ref).cpu().double().numpy()  # to the host, then float64
        return out
