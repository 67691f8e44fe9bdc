#!/usr/bin/env python
"""Speed of the learners on the transformer: rollouts against raw decoding, and training tokens/s per learner.

Reproduce the numbers of docs/benchmarks.md (section "Learners on the transformer"):

    .venv/bin/python bench/bench_learners.py            # ~3 min on 2 CPU cores (plus a CUDA pass when available)
    .venv/bin/python bench/bench_learners.py --quick    # smoke run, ~40 s

1. Rollouts against raw KV-cached decoding, tokens/s at the same batch size B, on two tasks: the
   documented task (8 actions, H = 5, π_ref from the warm prefix cache) and the full vocabulary
   (84 actions, H = 16, π_ref by one batched reference pass, ``reference_source="forward"``).
   * ``raw decode``: the bare model — one prompt pass (batch 1, its cache broadcast to B rows),
     then H − 1 one-token KV-cached passes, sampling each token from softmax(logits). This is the
     least any rollout of a policy that changes between rollouts must do (``GPT.generate``
     without its last, unused pass). The reference of the 80% target.
   * ``raw decode, prompt cached``: the same with the prompt's pass done once outside the loop
     (bench_lmenv's "raw loop"): a fixed model, as in the environment.
   * ``rollout``: ``lmenv.rollout.rollout`` — the raw decode plus the value head, log π over the
     action set, the rewards (one call of the task's reward on all B·H transitions) and log π_ref.
   * ``sample_rollout (rollout without reward/π_ref)``: ``lmenv.rollout.sample_rollout``, the rollout's
     sampling loop alone, to show where the difference goes.
   Measurements are interleaved in rounds; each row is the median over rounds, each ratio the
   median of per-round ratios.
2. Per learner, on the documented task with its documented settings (a short run): training
   tokens/s by the wall clock and by CPU time, and the split of the wall time between rollouts
   and updates.

Threads: ``torch.set_num_threads(1)`` by default (``--threads``), as in bench_lmenv.py: the
one-token matrices at B = 64 are (64 × 80)·(80 × 240) and a second intra-op thread mostly waits
on a 2-core machine shared with other work.
"""

import argparse
import dataclasses
import os
import platform
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing

import lmenv  # noqa: E402
from lmenv import rewards  # noqa: E402
from lmenv import rollout as rollout_module  # noqa: E402
from lmenv.learners import DOCUMENTED_CONFIGS, LEARNERS, documented_env  # noqa: E402
from lmenv.policy import PolicyValueModel  # noqa: E402
from _common import interleaved_rates, raw_decode, sync  # noqa: E402


# ---------------------------------------------------------------------- 1. rollouts against raw decoding
def tasks(device):
    """(name, env, reference_source) of the two tasks, on ``device``."""
    model, tokenizer = lmenv.load_pretrained(device=device)
    tree_env = documented_env(model, tokenizer)
    lmenv.to_mdp(tree_env)  # warms the prefix cache: π_ref is a lookup, as during training with a tree
    vocab_env = lmenv.TokenEnv(model=model, tokenizer=tokenizer, prompt="ROMEO:\n", max_new_tokens=16,
                               actions="vocab", reward=rewards.ContainsWord("the") + rewards.AvoidCharacters("s", 0.2),
                               kl_coef=0.1)
    return [("documented task (A = 8, H = 5)", tree_env, "cache"), ("full vocabulary (A = 84, H = 16)", vocab_env, "forward")]


def runners(env, reference_source: str, batch: int, device):
    model = env.reference.model
    policy = PolicyValueModel(env)
    H = env.max_new_tokens
    g = torch.Generator(device=device).manual_seed(0)

    def raw(prompt_pass: bool):
        return raw_decode(model, env.reference.prompt_ids, batch, H, g, prompt_pass=prompt_pass)

    def full():
        n = rollout_module.rollout(policy, env, batch, g, reference_source=reference_source).n_tokens
        sync(device)
        return n

    def generation_only():
        n = rollout_module.sample_rollout(policy, env, batch, g).n_tokens
        sync(device)
        return n

    return {"raw decode (reference)": raw(True), "raw decode, prompt cached": raw(False),
            "rollout": full, "sample_rollout (no reward/π_ref)": generation_only}


def rollout_vs_raw(device, batches, seconds: float, rounds: int) -> None:
    for name, env, source in tasks(device):
        for batch in batches:
            table = interleaved_rates(runners(env, source, batch, device), "raw decode (reference)", seconds, rounds)
            print(f"\n{name}, B = {batch}, π_ref: {source}")
            print(f"  {'':32s} {'tokens/s':>10s} {'vs raw decode':>14s}")
            for k, (tokens_per_second, ratio) in table.items():
                print(f"  {k:32s} {tokens_per_second:10,.0f} {100 * ratio:13.0f}%")


# ---------------------------------------------------------------------- 2. training speed per learner
def learners(device, scale: float) -> None:
    model, tokenizer = lmenv.load_pretrained(device=device)
    env = documented_env(model, tokenizer)
    lmenv.to_mdp(env)  # the prefix cache warm, as when training with a tree
    print(f"\n{'learner':10s} {'iterations':>10s} {'tokens/s (wall)':>16s} {'tokens/s (CPU)':>15s} "
          f"{'rollout':>8s} {'update':>8s}")
    for name, module in LEARNERS.items():
        config = DOCUMENTED_CONFIGS[name]
        iterations = max(10, round(scale * config.iterations))
        config = dataclasses.replace(config, iterations=iterations, progress=False,
                                     learning_starts=min(4, iterations - 1)) if name == "dqn" else \
            dataclasses.replace(config, iterations=iterations, progress=False)
        result = module.train(env, config)
        busy = result.rollout_time + result.update_time
        print(f"{name:10s} {iterations:10d} {result.tokens / result.wall_time:16,.0f} "
              f"{result.tokens / result.cpu_time:15,.0f} {100 * result.rollout_time / busy:7.0f}% "
              f"{100 * result.update_time / busy:7.0f}%")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short measurements (smoke run)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cpu, then cuda when available)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    devices = [args.device] if args.device else ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    seconds, rounds, scale = (0.3, 2, 0.2) if args.quick else (1.0, 5, 0.5)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    for device in devices:
        label = torch.cuda.get_device_name() if device == "cuda" else "CPU"
        print(f"\n=== device: {device} ({label}) ===")
        rollout_vs_raw(device, (64, 256), seconds, rounds)
        learners(device, scale)


if __name__ == "__main__":
    main()
