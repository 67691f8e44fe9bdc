"""The bundled model in Hugging Face form: a standard ``GPT2LMHeadModel`` and a character tokenizer, saved locally.

lmenv's GPT (:mod:`lmenv.model`) *is* the GPT-2 arrangement — learned token and position
embeddings, pre-LayerNorm blocks of causal self-attention and a 4× MLP, a final LayerNorm, a
linear head — so its weights map one to one onto ``transformers``' ``GPT2LMHeadModel``:

==========================  =================================  =============================
lmenv (``nn.Linear``: out×in)  Hugging Face (``Conv1D``: in×out)  note
==========================  =================================  =============================
``wte``, ``wpe``             ``transformer.wte``, ``.wpe``      ``n_positions = block_size``
``h.i.ln_1``, ``h.i.ln_2``   ``transformer.h.i.ln_1``, ``ln_2`` LayerNorm ε = 1e-5
``h.i.attn.c_attn``          ``transformer.h.i.attn.c_attn``    transposed (q, k, v side by side)
``h.i.attn.c_proj``          ``transformer.h.i.attn.c_proj``    transposed
``h.i.mlp.c_fc``, ``c_proj`` ``transformer.h.i.mlp.c_fc``, …    transposed
``ln_f``                     ``transformer.ln_f``
``lm_head``                  ``lm_head``                        untied (``tie_word_embeddings=False``)
==========================  =================================  =============================

with ``activation_function="gelu"`` (lmenv uses the exact erf GELU; GPT-2's default is the tanh
approximation ``"gelu_new"``) and every dropout 0. The tokenizer is a ``PreTrainedTokenizerFast``
with one token per character and lmenv's ids. ``tests/lmenv/test_export.py`` checks that the
logits agree to 1e-5 and that ``AutoModelForCausalLM.from_pretrained(directory)`` loads the
export with no network.

For RL libraries that sample from the whole vocabulary (TRL), :func:`restrict_to_actions` makes
a loaded model put (numerically) zero probability outside a task's action set, so that its
sampling distribution and its log-probabilities are the task's policy π(a|s) renormalised over
the actions, lmenv's convention; :func:`reward_function` is a task's reward in TRL's form.

``transformers`` is imported only inside the functions (``pip install rlcore-lmenv[hf]``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from lmenv.model import GPT

# lmenv name (inside block i) -> (Hugging Face name, transpose?)
_BLOCK = {
    "ln_1.weight": ("ln_1.weight", False), "ln_1.bias": ("ln_1.bias", False),
    "attn.c_attn.weight": ("attn.c_attn.weight", True), "attn.c_attn.bias": ("attn.c_attn.bias", False),
    "attn.c_proj.weight": ("attn.c_proj.weight", True), "attn.c_proj.bias": ("attn.c_proj.bias", False),
    "ln_2.weight": ("ln_2.weight", False), "ln_2.bias": ("ln_2.bias", False),
    "mlp.c_fc.weight": ("mlp.c_fc.weight", True), "mlp.c_fc.bias": ("mlp.c_fc.bias", False),
    "mlp.c_proj.weight": ("mlp.c_proj.weight", True), "mlp.c_proj.bias": ("mlp.c_proj.bias", False),
}


def gpt2_config(model: GPT):
    """The ``transformers.GPT2Config`` of an :class:`lmenv.GPT`: same sizes, exact GELU, no dropout, untied head."""
    from transformers import GPT2Config

    c = model.config
    return GPT2Config(vocab_size=c.vocab_size, n_positions=c.block_size, n_embd=c.n_embd, n_layer=c.n_layer,
                      n_head=c.n_head, n_inner=4 * c.n_embd, activation_function="gelu", resid_pdrop=0.0,
                      embd_pdrop=0.0, attn_pdrop=0.0, layer_norm_epsilon=1e-5, tie_word_embeddings=False,
                      bos_token_id=None, eos_token_id=None, pad_token_id=None)


def gpt2_state_dict(model: GPT) -> dict:
    """lmenv's weights under GPT-2's names (Linear weights transposed to GPT-2's ``Conv1D`` layout)."""
    sd = model.state_dict()
    out = {"transformer.wte.weight": sd["wte.weight"], "transformer.wpe.weight": sd["wpe.weight"],
           "lm_head.weight": sd["lm_head.weight"]}
    for name in ("weight", "bias"):
        out[f"transformer.ln_f.{name}"] = sd.get(f"ln_f.{name}", torch.zeros_like(sd["ln_f.weight"]))
    for i in range(model.config.n_layer):
        for ours, (theirs, transpose) in _BLOCK.items():
            key = f"h.{i}.{ours}"
            if key not in sd:  # bias=False in lmenv: GPT-2 always has biases, which are then 0
                weight = sd[f"h.{i}.{ours.replace('bias', 'weight')}"]
                value = torch.zeros(weight.shape[0], dtype=weight.dtype)  # out features (Linear) or C (LayerNorm)
            else:
                value = sd[key].t() if transpose else sd[key]
            out[f"transformer.h.{i}.{theirs}"] = value.contiguous().clone()
    return {k: v.detach().clone() for k, v in out.items()}


def to_hf(model: GPT | None = None, tokenizer=None):
    """The lmenv model as a ``GPT2LMHeadModel`` (eval mode, float32 unless the model is float64) and its tokenizer.

    Args:
        model, tokenizer: an lmenv :class:`lmenv.GPT` and :class:`lmenv.CharTokenizer`; default the
            bundled Shakespeare model (both or neither).

    Returns:
        (hf_model, hf_tokenizer): a ``transformers.GPT2LMHeadModel`` with the same logits, and a
        character-level ``PreTrainedTokenizerFast`` with the same ids (:func:`hf_tokenizer`).
    """
    from transformers import GPT2LMHeadModel

    if (model is None) != (tokenizer is None):
        raise ValueError("give both model and tokenizer, or neither (the bundled model)")
    if model is None:
        from lmenv.pretrained import load_pretrained

        model, tokenizer = load_pretrained("cpu")
    if not isinstance(model, GPT):
        raise TypeError(f"model must be an lmenv.GPT; got {type(model).__name__}")
    if tokenizer.vocab_size != model.config.vocab_size:
        raise ValueError(f"the tokenizer has {tokenizer.vocab_size} tokens, the model {model.config.vocab_size}")
    dtype = next(model.parameters()).dtype
    hf = GPT2LMHeadModel(gpt2_config(model)).to(dtype)
    missing, unexpected = hf.load_state_dict(gpt2_state_dict(model), strict=False)
    missing = [k for k in missing if not k.endswith((".attn.bias", ".attn.masked_bias"))]
    if missing or unexpected:  # pragma: no cover - a transformers version with other parameter names
        raise RuntimeError(f"GPT-2 weights not matched: missing {missing}, unexpected {unexpected}")
    return hf.eval(), hf_tokenizer(tokenizer)


def hf_tokenizer(tokenizer):
    """A ``transformers.PreTrainedTokenizerFast`` with one token per character and the ids of ``tokenizer``.

    No special tokens are added (the character vocabulary has none); encoding a text gives the
    ids of its characters, decoding joins the characters back.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.WordLevel(vocab=dict(tokenizer.stoi), unk_token=None))
    backend.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")  # every character
    backend.decoder = decoders.Fuse()  # join the tokens without spaces
    return PreTrainedTokenizerFast(tokenizer_object=backend, clean_up_tokenization_spaces=False)


def export_hf(directory: str | Path, model: GPT | None = None, tokenizer=None) -> Path:
    """Save the model (default: the bundled one) as a GPT-2 ``transformers`` model with its tokenizer in ``directory``.

    ``AutoModelForCausalLM.from_pretrained(directory)`` and ``AutoTokenizer.from_pretrained(directory)``
    then load it without a network, and so does :func:`lmenv.load_hf`.

    Returns:
        the directory, as a ``Path``.
    """
    directory = Path(directory)
    hf, hf_tok = to_hf(model, tokenizer)
    directory.mkdir(parents=True, exist_ok=True)
    hf.save_pretrained(directory)
    hf_tok.save_pretrained(directory)
    return directory


# ---------------------------------------------------------------------- for RL libraries (TRL)
def restrict_to_actions(hf_model, action_tokens, penalty: float = 1e4):
    """Give ``hf_model``'s LM head a frozen bias of −``penalty`` on every token outside ``action_tokens``.

    After this, softmax(logits) over the whole vocabulary equals lmenv's policy over the action set
    (softmax of the action tokens' logits, renormalised) up to e^{−penalty} (0 in float32), both
    when sampling (``generate``) and when a trainer computes log-probabilities from the head's
    weight and bias (TRL's fused LM head reads both). The head stays an ``nn.Linear``; the model
    class is unchanged. The bias has ``requires_grad=False``, so optimisers leave it alone.

    Args:
        hf_model: a ``transformers`` causal LM whose ``get_output_embeddings()`` is an ``nn.Linear``.
        action_tokens: token ids of the allowed actions (e.g. ``env.action_tokens``).
        penalty: the logit offset of the other tokens (finite, so that entropies stay finite).

    Returns:
        the model (modified in place).
    """
    head = hf_model.get_output_embeddings()
    if not isinstance(head, torch.nn.Linear):
        raise TypeError(f"the model's output embedding must be an nn.Linear; got {type(head).__name__}")
    vocab_size = head.weight.shape[0]
    action_tokens = np.asarray(action_tokens, dtype=np.int64)
    if (action_tokens.ndim != 1 or action_tokens.size == 0 or action_tokens.min() < 0
            or action_tokens.max() >= vocab_size):
        raise ValueError(f"action_tokens must be a non-empty list of token ids in [0, {vocab_size}); "
                         f"got {action_tokens}")
    if not (np.isfinite(penalty) and penalty > 0):
        raise ValueError(f"penalty must be a positive number; got {penalty}")
    new = torch.nn.Linear(head.in_features, head.out_features, bias=True, device=head.weight.device,
                          dtype=head.weight.dtype)
    with torch.no_grad():
        new.weight.copy_(head.weight)
        bias = torch.full((vocab_size,), -float(penalty), dtype=head.weight.dtype, device=head.weight.device)
        if head.bias is not None:
            bias += head.bias
        allowed = torch.as_tensor(action_tokens, device=bias.device)
        bias[allowed] = 0.0 if head.bias is None else head.bias[allowed]
        new.bias.copy_(bias)
    new.bias.requires_grad_(False)
    new.weight.requires_grad_(head.weight.requires_grad)
    hf_model.set_output_embeddings(new)
    return hf_model


def completion_returns(env, completions) -> np.ndarray:
    """Σ_t r_t of each completion (a string of generated characters) under ``env``'s task reward, shape (N,).

    The reward object is called on every step of every completion, as :class:`lmenv.TokenEnv`
    pays it (without the KL term): a completion of H tokens is H transitions, the last terminal.
    A completion shorter than the horizon ends early (as with a stop token).
    """
    from lmenv.rewards import Transitions, call_reward

    env = env.unwrapped
    prefixes, tokens, terminal, owner = [], [], [], []
    for i, text in enumerate(completions):
        ids = env.tokenizer.encode(text)[:env.max_new_tokens]
        for t, token in enumerate(ids):
            prefixes.append(tuple(ids[:t]))
            tokens.append(token)
            terminal.append(t == len(ids) - 1)
            owner.append(i)
    returns = np.zeros(len(completions))
    if tokens:
        batch = Transitions(env.prompt, prefixes, np.array(tokens), np.array(terminal), env.tokenizer)
        np.add.at(returns, np.array(owner), call_reward(env.reward_fn, batch))
    return returns


def reward_function(env):
    """The task reward of ``env`` in TRL's form: ``f(prompts, completions, **kwargs) -> list[float]`` (Σ_t r_t).

    The prompts must be the environment's prompt (the reward of a completion depends on it only
    through ``env``); the KL term is TRL's to add (its ``beta``).
    """
    def lmenv_reward(prompts, completions, **kwargs):
        wrong = [p for p in prompts if p != env.unwrapped.prompt]
        if wrong:
            raise ValueError(f"prompt {wrong[0]!r} is not the environment's prompt {env.unwrapped.prompt!r}")
        return completion_returns(env, completions).tolist()

    return lmenv_reward


def trl_grpo_trainer(env, directory: str | Path, output_dir: str | Path, n_prompts: int = 64, **config):
    """TRL's own ``GRPOTrainer`` on ``env``'s task, for the model exported to ``directory`` (needs ``trl``).

    The policy and TRL's reference model are restricted to the task's actions
    (:func:`restrict_to_actions`); the reward is :func:`reward_function`; the padding/end token is a
    character that is neither in the prompt nor an action (so completions always have the horizon's
    length). ``config`` overrides the ``GRPOConfig`` defaults set here: β = ``env.kl_coef``,
    ``max_completion_length`` = the horizon, 8 generations per prompt, 64 completions per step,
    learning rate 1e-4, 20 steps, the CPU unless CUDA is available, no saving, no reports.

    Returns:
        the ``trl.GRPOTrainer`` (call ``.train()``; its ``.model`` is the policy to score).
    """
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    env = env.unwrapped
    if env.action_tokens is None:
        raise ValueError("trl_grpo_trainer needs a fixed action set (actions='etaoinsh', ...)")
    model = AutoModelForCausalLM.from_pretrained(directory, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
    used = set(env.prompt) | set(env.tokenizer.decode(env.action_tokens))
    filler = next(c for c in reversed(env.tokenizer.decode(range(env.vocab_size))) if c not in used)
    tokenizer.pad_token = tokenizer.eos_token = filler
    restrict_to_actions(model, env.action_tokens)
    settings = dict(output_dir=str(output_dir), per_device_train_batch_size=64, num_generations=8,
                    max_completion_length=env.max_new_tokens, beta=env.kl_coef, learning_rate=1e-4, max_steps=20,
                    logging_steps=5, report_to="none", use_cpu=not torch.cuda.is_available(), save_strategy="no",
                    disable_tqdm=True, seed=0)
    settings.update(config)
    dataset = Dataset.from_dict({"prompt": [env.prompt] * n_prompts})
    trainer = GRPOTrainer(model=model, reward_funcs=reward_function(env), args=GRPOConfig(**settings),
                          train_dataset=dataset, processing_class=tokenizer)
    if trainer.ref_model is not None:
        restrict_to_actions(trainer.ref_model, env.action_tokens)
    return trainer


def trl_grpo_kl_loss(trainer):
    """TRL's own GRPO loss with the advantages set to 0 — its KL term, β·Σ_t k3_t / (number of tokens) — as a
    ``loss_fn(policy, batch)`` for :meth:`lmenv.oracle.Oracle.check_loss` (``policy`` must be ``trainer.model``).

    k3_t = π_ref/π_θ(a_t|s_t) − 1 − log(π_ref/π_θ)(a_t|s_t) (Schulman 2020), taken as a loss with the
    gradient through log π_θ(a_t|s_t) only; it claims β × the per-token KL(π ‖ π_ref): ``target="kl"``.
    The batch's log π_ref (the oracle's, exact) stands in for TRL's reference pass.
    """
    def loss_fn(policy, batch):
        if policy is not trainer.model:
            raise ValueError("check TRL's loss on trainer.model: pass it as the policy")
        ids = batch.input_ids
        P = ids.shape[1] - batch.completion_ids.shape[1]
        mask = batch.completion_mask.long()
        inputs = {"prompt_ids": ids[:, :P], "prompt_mask": torch.ones_like(ids[:, :P]),
                  "completion_ids": batch.completion_ids, "completion_mask": mask,
                  "advantages": torch.zeros(batch.batch_size), "num_items_in_batch": mask.sum(),
                  "ref_per_token_logps": batch.ref_log_probs.float()}
        was_training = trainer.model.training
        trainer.model.eval()  # TRL's eval branch: the loss is not rescaled for gradient accumulation
        try:
            return trainer._compute_loss(trainer.model, inputs)
        finally:
            trainer.model.train(was_training)

    return loss_fn
