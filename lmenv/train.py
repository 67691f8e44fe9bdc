"""Train the character-level GPT on Shakespeare; ``python -m lmenv.train --preset default``.

The loss is the mean next-character cross-entropy in nats,

    L = -1/N sum_t ln p_theta(x_{t+1} | x_0 .. x_t),   bits per character = L / ln 2,

minimised with AdamW on random windows of the training split. The shipped checkpoint
``lmenv/checkpoints/shakespeare_char`` is the output of

    python -m lmenv.train --preset default

(seed 0, CPU, 1 thread). The same preset, seed, device, thread count and machine type give
bit-identical weights.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from lmenv.checkpoint import save_checkpoint
from lmenv.corpus import load_corpus, train_val_split
from lmenv.model import GPT, GPTConfig, default_device
from lmenv.tokenizer import CharTokenizer

SHIPPED_CHECKPOINT = Path(__file__).parent / "checkpoints" / "shakespeare_char"


@dataclass
class TrainConfig:
    # model
    n_layer: int = 4  # transformer blocks
    n_head: int = 4  # attention heads
    n_embd: int = 80  # residual width
    block_size: int = 128  # context length in characters
    dropout: float = 0.0  # the model is small next to 4.5M training characters: no dropout needed
    # optimisation
    batch_size: int = 32  # windows per step; one step sees batch_size * block_size characters
    max_iters: int = 2500  # optimiser steps
    lr: float = 2e-3  # peak learning rate
    min_lr: float = 2e-4  # learning rate at the end of the cosine decay
    warmup_iters: int = 100  # linear warm-up steps from 0 to lr
    weight_decay: float = 0.1  # AdamW decay, on weight matrices and embeddings only
    betas: tuple[float, float] = (0.9, 0.99)  # AdamW moments; 0.99 as the batches are small
    grad_clip: float = 1.0  # clip the global gradient norm to this (0 = off)
    # monitoring
    eval_interval: int = 250  # estimate the train/validation loss every this many steps
    eval_batches: int = 10  # batches per loss estimate (fixed windows, same at every estimate)
    sample_chars: int = 200  # characters of sample text printed at each estimate (0 = none)
    final_eval_chars: int | None = None  # validation characters of the final score (None = all)


PRESETS: dict[str, TrainConfig] = {
    # a few seconds on a CPU: for tests and smoke runs
    "tiny": TrainConfig(
        n_layer=1, n_head=2, n_embd=16, block_size=32, batch_size=8, max_iters=30, lr=1e-2,
        min_lr=1e-3, warmup_iters=5, eval_interval=10, eval_batches=2, sample_chars=0,
        final_eval_chars=10_000,
    ),
    # the shipped model: 0.34M parameters, about 9 minutes (540 s CPU) on one CPU thread
    "default": TrainConfig(),
}


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
        logits, _ = model(w[:, :-1])  # (B, T, V)
        # logits (B*T, V) against targets (B*T,), summed
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), w[:, 1:].reshape(-1), reduction="sum")
        total, count = total + loss.item(), count + w[:, 1:].numel()
    rest = data[n_full * T :]  # the last, shorter window
    if len(rest) > 1:
        logits, _ = model(rest[None, :-1].to(device))  # (1, t, V)
        loss = F.cross_entropy(logits[0], rest[1:].to(device), reduction="sum")
        total, count = total + loss.item(), count + len(rest) - 1
    model.train(was_training)
    return total / count


def lr_at(it: int, tc: TrainConfig) -> float:
    """Linear warm-up to tc.lr, then cosine decay to tc.min_lr at tc.max_iters."""
    if it < tc.warmup_iters:
        return tc.lr * (it + 1) / tc.warmup_iters
    progress = min(1.0, (it - tc.warmup_iters) / max(1, tc.max_iters - tc.warmup_iters))
    return tc.min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (tc.lr - tc.min_lr)


def train(
    preset: str = "default",
    seed: int = 0,
    device: str | torch.device | None = None,
    max_iters: int | None = None,
    out: str | os.PathLike | None = None,
    progress: bool = True,
    num_threads: int | None = None,
    **overrides,
) -> tuple[GPT, CharTokenizer, dict]:
    """Train a GPT on the Shakespeare training split.

    Args:
        preset: a key of PRESETS ("tiny" or "default").
        seed: seeds the weight initialisation and the batch sampler.
        device: "cpu", "cuda", ... (default: ``default_device()``).
        max_iters: overrides the preset's number of steps.
        out: if given, write the checkpoint ``<out>.safetensors`` + ``<out>.json`` there.
        progress: show the tqdm bar and print samples.
        num_threads: if given, ``torch.set_num_threads(num_threads)`` (a process-wide setting).
        **overrides: any other TrainConfig field, e.g. ``lr=1e-3``.
    Returns:
        (model in eval mode, tokenizer, history) where history holds lists "iter", "lr",
        "train_loss", "val_loss" (nats, estimated every eval_interval steps) and the final
        "val_loss_final" (nats, ``evaluate`` on the validation split), "val_chars_final",
        "wall_time_s" and "cpu_time_s".
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose from {sorted(PRESETS)}")
    tc = replace(PRESETS[preset], **overrides)
    if max_iters is not None:
        tc = replace(tc, max_iters=max_iters)
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

    # model and optimiser
    torch.manual_seed(seed)
    config = GPTConfig(
        vocab_size=tokenizer.vocab_size, block_size=tc.block_size, n_layer=tc.n_layer,
        n_head=tc.n_head, n_embd=tc.n_embd, dropout=tc.dropout,
    )
    model = GPT(config).to(device)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": tc.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=tc.lr, betas=tc.betas,
    )
    batch_gen = torch.Generator().manual_seed(seed)  # the batch sampler's own random stream

    # fixed windows for the periodic loss estimates, so the curve is not noisy from resampling
    est_gen = torch.Generator().manual_seed(12345)
    est_batches = {
        name: [get_batch(data, tc.block_size, tc.batch_size, est_gen) for _ in range(tc.eval_batches)]
        for name, data in (("train", train_data), ("val", val_data))
    }
    sample_gen = torch.Generator(device=device).manual_seed(seed)

    @torch.no_grad()
    def estimate(name: str) -> float:
        model.eval()
        losses = []
        for x, y in est_batches[name]:
            logits, _ = model(x.to(device))
            flat_logits = logits.reshape(-1, config.vocab_size)  # (B*T, V)
            flat_y = y.to(device).reshape(-1)  # (B*T,)
            losses.append(F.cross_entropy(flat_logits, flat_y).item())
        model.train()
        return sum(losses) / len(losses)

    history: dict = {"iter": [], "lr": [], "train_loss": [], "val_loss": []}
    model.train()
    bar = tqdm(range(tc.max_iters + 1), desc=f"train[{preset}]", disable=not progress, dynamic_ncols=True)
    for it in bar:
        if it % tc.eval_interval == 0 or it == tc.max_iters:
            tr, va = estimate("train"), estimate("val")
            for k, v in (("iter", it), ("lr", lr_at(it, tc)), ("train_loss", tr), ("val_loss", va)):
                history[k].append(v)
            bar.set_postfix(train=f"{tr:.3f}", val=f"{va:.3f}")
            if progress and tc.sample_chars > 0:
                model.eval()
                start = torch.tensor([tokenizer.encode("\n")], device=device)
                sample = model.generate(start, tc.sample_chars, temperature=0.8, generator=sample_gen)
                model.train()
                tqdm.write(f"--- step {it}: train {tr:.3f}, val {va:.3f} nats; sample:\n"
                           f"{tokenizer.decode(sample[0].tolist())}\n---")
        if it == tc.max_iters:
            break
        for group in optimizer.param_groups:
            group["lr"] = lr_at(it, tc)
        x, y = get_batch(train_data, tc.block_size, tc.batch_size, batch_gen)
        logits, _ = model(x.to(device))  # (B, T, V)
        flat_logits = logits.reshape(-1, config.vocab_size)  # (B*T, V)
        flat_y = y.to(device).reshape(-1)  # (B*T,)
        loss = F.cross_entropy(flat_logits, flat_y)  # mean nats per character
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if tc.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
        optimizer.step()
    bar.close()

    model.eval()
    final_data = val_data if tc.final_eval_chars is None else val_data[: tc.final_eval_chars]
    val_final = evaluate(model, final_data)
    history["val_loss_final"] = val_final
    history["val_chars_final"] = len(final_data)
    history["wall_time_s"] = time.perf_counter() - t0
    history["cpu_time_s"] = time.process_time() - c0  # all threads; differs from wall on a busy machine
    if progress:
        print(f"final validation loss {val_final:.4f} nats = {val_final / math.log(2):.4f} bits/char "
              f"on {len(final_data):,} characters; {history['wall_time_s']:.0f} s")

    if out is not None:
        metadata = {
            "preset": preset,
            "seed": seed,
            "train_config": asdict(tc),
            "n_params": model.num_params(),
            "val_loss": val_final,  # nats per character, lmenv.train.evaluate on the validation split
            "val_bits_per_char": val_final / math.log(2),
            "val_chars": len(final_data),
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
    return model, tokenizer, history


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m lmenv.train", description=__doc__.split("\n")[0])
    p.add_argument("--preset", default="default", choices=sorted(PRESETS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda if available)")
    p.add_argument("--max-iters", type=int, default=None, help="override the preset's step count")
    p.add_argument(
        "--out", default=None,
        help="checkpoint path without suffix (default: the shipped lmenv/checkpoints/shakespeare_char "
        "for --preset default, ./lmenv_<preset> otherwise)",
    )
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default 1: small matrices gain little from more, and "
                   "extra threads slow down badly on a shared machine)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar or samples")
    args = p.parse_args(argv)
    out = args.out
    if out is None:
        out = SHIPPED_CHECKPOINT if args.preset == "default" else Path(f"lmenv_{args.preset}")
    train(args.preset, seed=args.seed, device=args.device, max_iters=args.max_iters, out=out,
          progress=not args.no_progress, num_threads=args.threads)


if __name__ == "__main__":
    sys.exit(main())
