"""Pre-train the character-level GPT on Shakespeare; ``python -m lmenv.pretrain --preset tiny``.

The loss is the mean next-character cross-entropy in nats (:func:`next_token_loss`),

    L = -1/N sum_t ln p_theta(x_{t+1} | x_0 .. x_t),   bits per character = L / ln 2,

minimised with AdamW on random windows of the training split (:func:`pretrain`); the same loss,
summed, scores the validation split (:func:`evaluate`). The shipped checkpoint
``lmenv/checkpoints/shakespeare_char`` is the output of

    python -m lmenv.pretrain --preset default --replace-bundled

(seed 0, CPU, 1 thread). The same preset, seed, device, thread count and machine type give
bit-identical weights. Without ``--replace-bundled`` a checkpoint is written to
``./lmenv_<preset>`` (or ``--out``), never into the installed package.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from lmenv.checkpoint import save_checkpoint
from lmenv.corpus import load_corpus, train_val_split
from lmenv.model import GPT, GPTConfig, default_device, gradient_step
from lmenv.tokenizer import CharTokenizer

SHIPPED_CHECKPOINT = Path(__file__).parent / "checkpoints" / "shakespeare_char"


@dataclass
class PretrainConfig:
    """A pre-training run: the model's shape and the optimisation (the vocabulary comes from the corpus)."""

    model: GPTConfig = field(default_factory=GPTConfig)  # layers, heads, width, context, dropout
    batch_size: int = 32  # windows per step; one step sees batch_size * block_size characters
    iterations: int = 2500  # optimiser steps
    learning_rate: float = 2e-3  # peak learning rate
    min_learning_rate: float = 2e-4  # learning rate at the end of the cosine decay
    warmup_iterations: int = 100  # linear warm-up steps from 0 to learning_rate
    weight_decay: float = 0.1  # AdamW decay, on weight matrices and embeddings only
    betas: tuple[float, float] = (0.9, 0.99)  # AdamW moments; 0.99 as the batches are small
    max_grad_norm: float = 1.0  # clip the global gradient norm to this (0 = off)
    eval_interval: int = 250  # estimate the train/validation loss every this many steps
    eval_batches: int = 10  # batches per loss estimate (fixed windows, same at every estimate)
    sample_chars: int = 200  # characters of sample text printed at each estimate (0 = none)
    final_eval_chars: int | None = None  # validation characters of the final score (None = all)


PRESETS: dict[str, PretrainConfig] = {
    # a few seconds on a CPU: for tests and smoke runs
    "tiny": PretrainConfig(
        model=GPTConfig(n_layer=1, n_head=2, n_embd=16, block_size=32), batch_size=8, iterations=30,
        learning_rate=1e-2, min_learning_rate=1e-3, warmup_iterations=5, eval_interval=10, eval_batches=2,
        sample_chars=0, final_eval_chars=10_000,
    ),
    # the shipped model: 0.34M parameters, about 9 minutes (540 s CPU) on one CPU thread
    "default": PretrainConfig(),
}


def next_token_loss(model: GPT, x: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy of predicting the targets y from the inputs x, both (B, T): mean (or sum) over the B·T characters."""
    logits, _ = model(x)  # (B, T, V)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction=reduction)  # (B*T, V) vs (B*T,)


def get_batch(data: torch.Tensor, block_size: int, batch_size: int, generator: torch.Generator):
    """Random windows of ``data`` (N,): inputs x and next-character targets y, each (B, block_size)."""
    ix = torch.randint(len(data) - block_size, (batch_size,), generator=generator)  # (B,) starts
    offsets = ix[:, None] + torch.arange(block_size + 1)  # (B, block_size + 1)
    w = data[offsets]  # (B, block_size + 1)
    return w[:, :-1], w[:, 1:]


@torch.no_grad()
def evaluate(model: GPT, data: torch.Tensor, batch_size: int = 64) -> float:
    """Mean cross-entropy (nats) of predicting data[1:] from the preceding characters.

    ``data`` (N,) is cut into windows data[i*T : i*T + T + 1] with T = block_size (neighbours share
    one character), so every character after the first is predicted exactly once, from up to T
    characters of context inside its window. Deterministic; a bigram model scored with
    ``lmenv.bigram.cross_entropy(P, data)`` predicts exactly the same characters.
    """
    T = model.config.block_size
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    n_full = (len(data) - 1) // T
    starts = list(range(0, n_full * T, T))
    for i in range(0, len(starts), batch_size):
        w = torch.stack([data[s : s + T + 1] for s in starts[i : i + batch_size]]).to(device)  # (B, T+1)
        total += next_token_loss(model, w[:, :-1], w[:, 1:], reduction="sum").item()
        count += w[:, 1:].numel()
    rest = data[n_full * T :].to(device)  # the last, shorter window
    if len(rest) > 1:
        total += next_token_loss(model, rest[None, :-1], rest[None, 1:], reduction="sum").item()
        count += len(rest) - 1
    model.train(was_training)
    return total / count


def learning_rate_at(iteration: int, config: PretrainConfig) -> float:
    """Linear warm-up to the learning rate, then cosine decay to the minimum at the last iteration."""
    if iteration < config.warmup_iterations:
        return config.learning_rate * (iteration + 1) / config.warmup_iterations
    progress = min(1.0, (iteration - config.warmup_iterations) / max(1, config.iterations - config.warmup_iterations))
    return config.min_learning_rate + 0.5 * (1.0 + math.cos(math.pi * progress)) * (config.learning_rate - config.min_learning_rate)


def pretrain(
    preset: str = "default",
    seed: int = 0,
    device: str | torch.device | None = None,
    iterations: int | None = None,
    out: str | os.PathLike | None = None,
    progress: bool = True,
    num_threads: int | None = None,
    **overrides,
) -> tuple[GPT, CharTokenizer, dict]:
    """Pre-train a GPT on the Shakespeare training split.

    Args:
        preset: a key of PRESETS ("tiny" or "default").
        seed: seeds the weight initialisation and the batch sampler.
        device: "cpu", "cuda", ... (default: ``default_device()``).
        iterations: overrides the preset's number of steps.
        out: if given, write the checkpoint ``<out>.safetensors`` + ``<out>.json`` there.
        progress: show the tqdm bar and print samples.
        num_threads: if given, ``torch.set_num_threads(num_threads)`` (a process-wide setting).
        **overrides: any other PretrainConfig or GPTConfig field, e.g. ``learning_rate=1e-3``, ``n_layer=2``.

    Returns:
        (model in eval mode, tokenizer, history) where history holds lists "iter", "lr",
        "train_loss", "val_loss" (nats, estimated every eval_interval steps) and the final
        "val_loss_final" (nats, ``evaluate`` on the validation split), "val_chars_final",
        "wall_time_s" and "cpu_time_s".
    """
    config = _config(preset, iterations, overrides)
    device = torch.device(device) if device is not None else default_device()
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    t0, c0 = time.perf_counter(), time.process_time()

    # data: the vocabulary is every character of the corpus, the split is fixed (lmenv.corpus)
    text = load_corpus()
    tokenizer = CharTokenizer.from_text(text)
    train_text, val_text = train_val_split(text)
    train_data = torch.tensor(tokenizer.encode(train_text), dtype=torch.long)  # (N_train,)
    val_data = torch.tensor(tokenizer.encode(val_text), dtype=torch.long)  # (N_val,)

    torch.manual_seed(seed)
    model = GPT(replace(config.model, vocab_size=tokenizer.vocab_size)).to(device)
    history = _optimise(model, tokenizer, config, train_data, val_data, seed, device, progress, preset)

    model.eval()
    final_data = val_data if config.final_eval_chars is None else val_data[: config.final_eval_chars]
    val_final = evaluate(model, final_data)
    history["val_loss_final"] = val_final
    history["val_chars_final"] = len(final_data)
    history["wall_time_s"] = time.perf_counter() - t0
    history["cpu_time_s"] = time.process_time() - c0  # all threads; differs from wall on a busy machine
    if progress:
        print(f"final validation loss {val_final:.4f} nats = {val_final / math.log(2):.4f} bits/char "
              f"on {len(final_data):,} characters; {history['wall_time_s']:.0f} s")
    if out is not None:
        _save(model, tokenizer, out, preset, seed, config, history, device, progress)
    return model, tokenizer, history


def _config(preset: str, iterations: int | None, overrides: dict) -> PretrainConfig:
    """The preset with the overrides applied (GPTConfig fields go to the model)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose from {sorted(PRESETS)}")
    model_fields = {f.name for f in fields(GPTConfig)} - {"vocab_size"}
    model_overrides = {k: overrides.pop(k) for k in list(overrides) if k in model_fields}
    config = replace(PRESETS[preset], **overrides)
    config = replace(config, model=replace(config.model, **model_overrides))
    if iterations is not None:
        config = replace(config, iterations=iterations)
    return config


def _optimise(model, tokenizer, config: PretrainConfig, train_data, val_data, seed: int, device, progress: bool,
              name: str) -> dict:
    """The training loop: AdamW on random windows, with loss estimates every ``eval_interval`` steps."""
    block_size = config.model.block_size
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.learning_rate, betas=config.betas,
    )
    batch_gen = torch.Generator().manual_seed(seed)  # the batch sampler's own random stream

    # fixed windows for the periodic loss estimates, so the curve is not noisy from resampling
    est_gen = torch.Generator().manual_seed(12345)
    est_batches = {
        split: [get_batch(data, block_size, config.batch_size, est_gen) for _ in range(config.eval_batches)]
        for split, data in (("train", train_data), ("val", val_data))
    }
    sample_gen = torch.Generator(device=device).manual_seed(seed)

    @torch.no_grad()
    def estimate(split: str) -> float:
        model.eval()
        losses = [next_token_loss(model, x.to(device), y.to(device)).item() for x, y in est_batches[split]]
        model.train()
        return sum(losses) / len(losses)

    history: dict = {"iter": [], "lr": [], "train_loss": [], "val_loss": []}
    model.train()
    bar = tqdm(range(config.iterations + 1), desc=f"pretrain[{name}]", disable=not progress, dynamic_ncols=True)
    for it in bar:
        if it % config.eval_interval == 0 or it == config.iterations:
            tr, va = estimate("train"), estimate("val")
            for key, value in (("iter", it), ("lr", learning_rate_at(it, config)), ("train_loss", tr), ("val_loss", va)):
                history[key].append(value)
            bar.set_postfix(train=f"{tr:.3f}", val=f"{va:.3f}")
            if progress and config.sample_chars > 0:
                model.eval()
                start = torch.tensor([tokenizer.encode("\n")], device=device)
                sample = model.generate(start, config.sample_chars, temperature=0.8, generator=sample_gen)
                model.train()
                tqdm.write(f"--- step {it}: train {tr:.3f}, val {va:.3f} nats; sample:\n"
                           f"{tokenizer.decode(sample[0].tolist())}\n---")
        if it == config.iterations:
            break
        for group in optimizer.param_groups:
            group["lr"] = learning_rate_at(it, config)
        x, y = get_batch(train_data, block_size, config.batch_size, batch_gen)
        loss = next_token_loss(model, x.to(device), y.to(device))  # mean nats per character
        gradient_step(optimizer, loss, config.max_grad_norm)
    bar.close()
    return history


def _save(model, tokenizer, out, preset: str, seed: int, config: PretrainConfig, history: dict, device,
          progress: bool) -> None:
    """Write the checkpoint with the run's metadata (config, losses, times, versions)."""
    metadata = {
        "preset": preset,
        "seed": seed,
        "train_config": asdict(config),
        "n_params": model.num_params(),
        "val_loss": history["val_loss_final"],  # nats per character, lmenv.pretrain.evaluate on the validation split
        "val_bits_per_char": history["val_loss_final"] / math.log(2),
        "val_chars": history["val_chars_final"],
        "history": {k: history[k] for k in ("iter", "lr", "train_loss", "val_loss")},
        "wall_time_s": history["wall_time_s"],
        "cpu_time_s": history["cpu_time_s"],
        "device": str(device),
        "num_threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
    }
    st, js = save_checkpoint(model, tokenizer, out, metadata)
    if progress:
        print(f"wrote {st} and {js}")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m lmenv.pretrain", description=__doc__.split("\n")[0])
    p.add_argument("--preset", default="default", choices=sorted(PRESETS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda if available)")
    p.add_argument("--iterations", type=int, default=None, help="override the preset's number of steps")
    p.add_argument("--out", default=None, help="checkpoint path without suffix (default: ./lmenv_<preset>)")
    p.add_argument("--replace-bundled", action="store_true",
                   help=f"write into the package's own checkpoint {SHIPPED_CHECKPOINT} (replaces the bundled model)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default 1: small matrices gain little from more, and "
                   "extra threads slow down badly on a shared machine)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar or samples")
    args = p.parse_args(argv)
    if args.replace_bundled and args.out is not None:
        p.error("give --out or --replace-bundled, not both")
    out = SHIPPED_CHECKPOINT if args.replace_bundled else (args.out or Path(f"lmenv_{args.preset}"))
    pretrain(args.preset, seed=args.seed, device=args.device, iterations=args.iterations, out=out,
             progress=not args.no_progress, num_threads=args.threads)


if __name__ == "__main__":
    sys.exit(main())
