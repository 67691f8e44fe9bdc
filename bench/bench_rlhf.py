#!/usr/bin/env python
"""Speed of the RLHF pieces: GRPO's rollouts against raw decoding, the learners, the reward model, the exact curve.

Reproduce the numbers of docs/rlhf.md (section "Speed"):

    .venv/bin/python bench/bench_rlhf.py            # ~3 min on 2 CPU cores
    .venv/bin/python bench/bench_rlhf.py --quick    # smoke run, ~20 s

1. GRPO's rollouts against raw KV-cached decoding, tokens/s at the same batch size B, on the
   documented task (8 actions, H = 5, π_ref from the warm prefix cache; groups of 8):
   * ``raw decode``: the bare model — one prompt pass (batch 1, its cache broadcast to B rows),
     then H − 1 one-token KV-cached passes, sampling each token from softmax(logits) (the
     reference, as in bench_learners.py);
   * ``GRPO rollout``: ``lmenv.rollout.rollout`` with the GRPO learner's network, as ``grpo.train``
     calls it (rewards and log π_ref included);
   * ``GRPO training, rollout phase``: tokens / rollout seconds of a short ``grpo.train`` run.
   Measurements are interleaved in rounds; each ratio is the median of per-round ratios.
2. Training tokens/s of GRPO, Dr. GRPO and RLOO (wall clock), and DPO pairs per second.
3. The reward model: training pairs per second; scoring the 32,768 leaves of the tree; building
   the learned reward's tree (``lmenv.to_mdp``); the exact over-optimisation curve (24 β).

Threads: ``torch.set_num_threads(1)`` by default (``--threads``), as in the other benchmarks.
"""

import argparse
import dataclasses
import os
import platform
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing

import lmenv  # noqa: E402
from lmenv import _tree, preferences, reward_model  # noqa: E402
from lmenv import rollout as rollout_module  # noqa: E402
from lmenv.learners import documented_env, dpo, grpo  # noqa: E402
from lmenv.learners import rlhf_experiments as experiments  # noqa: E402
from _common import interleaved_rates, raw_decode  # noqa: E402


def rollouts_vs_raw(env, batches, seconds: float, rounds: int) -> None:
    model = env.reference.model
    H = env.max_new_tokens
    g = torch.Generator().manual_seed(0)
    policy = grpo.train(env, grpo.Config(iterations=2, progress=False)).model  # the learner's own network
    print("\n1. GRPO's rollouts against raw KV-cached decoding (documented task, groups of 8)")
    for batch in batches:
        def grpo_rollout():
            return rollout_module.rollout(policy, env, batch, g).n_tokens

        runs = {"raw decode (reference)": raw_decode(model, env.reference.prompt_ids, batch, H, g),
                "GRPO rollout": grpo_rollout}
        table = interleaved_rates(runs, "raw decode (reference)", seconds, rounds)
        config = grpo.Config(iterations=4 * rounds, batch_size=batch, progress=False)  # a short run, warm-up included
        trained = grpo.train(env, config)
        in_training = trained.tokens / trained.rollout_time
        print(f"  B = {batch}")
        print(f"    {'':34s} {'tokens/s':>10s} {'vs raw decode':>14s}")
        for k, (tokens_per_second, ratio) in table.items():
            print(f"    {k:34s} {tokens_per_second:10,.0f} {100 * ratio:13.0f}%")
        print(f"    {'GRPO training, rollout phase':34s} {in_training:10,.0f} "
              f"{100 * in_training / table['raw decode (reference)'][0]:13.0f}%  (against the median raw rate)")


def learners(env, tree, pairs, scale: float) -> None:
    print("\n2. Training speed (wall clock)")
    print(f"  {'learner':10s} {'iterations':>10s} {'tokens/s':>10s} {'rollout':>8s} {'update':>8s} {'J_β/J_β(π*)':>12s}")
    for variant in ("grpo", "dr_grpo", "rloo"):
        config = dataclasses.replace(experiments.RLHF_CONFIGS[variant], progress=False,
                                     iterations=max(5, round(scale * experiments.RLHF_CONFIGS[variant].iterations)))
        r = grpo.train(env, config, tree=tree)
        busy = r.rollout_time + r.update_time
        print(f"  {variant:10s} {config.iterations:10d} {r.tokens / r.wall_time:10,.0f} "
              f"{100 * r.rollout_time / busy:7.0f}% {100 * r.update_time / busy:7.0f}% {100 * r.score.fraction:11.1f}%")
    config = dataclasses.replace(experiments.RLHF_CONFIGS["dpo"], progress=False,
                                 iterations=max(5, round(scale * experiments.RLHF_CONFIGS["dpo"].iterations)))
    r = dpo.train(env, pairs, config, tree=tree)
    print(f"  {'dpo':10s} {config.iterations:10d} {r.episodes / r.wall_time:10,.0f} pairs/s "
          f"({config.batch_size} pairs per step)  {100 * r.score.fraction:.1f}%")


def reward_model_pieces(env, tree, pairs, heldout, n_pairs: int) -> None:
    print("\n3. The reward model and the exact curve")
    start = time.perf_counter()
    rm = reward_model.train(env, pairs.subset(slice(0, n_pairs)),
                            dataclasses.replace(experiments.REWARD_MODEL_CONFIG, progress=False), heldout=heldout)
    print(f"  training: {experiments.REWARD_MODEL_CONFIG.epochs * n_pairs / rm.wall_time:,.0f} pairs/s "
          f"({n_pairs} pairs × {experiments.REWARD_MODEL_CONFIG.epochs} epochs in {rm.wall_time:.1f} s, "
          f"accuracy checks included); held-out accuracy {rm.heldout_accuracy:.3f}, ceiling {rm.ceiling:.3f}")
    leaves = [tree.prefixes[s] for s in _tree.leaves(tree)]
    start = time.perf_counter()
    rm.model.score(env.prompt, leaves)
    scored = time.perf_counter() - start
    start = time.perf_counter()
    learned_tree = lmenv.to_mdp(preferences.with_reward(env, reward_model.learned_reward(rm.model, env)))
    built = time.perf_counter() - start
    curve = reward_model.overoptimisation_curve(tree, learned_tree)
    print(f"  scoring the {len(leaves):,} leaves: {scored:.2f} s ({len(leaves) / scored:,.0f} sequences/s)")
    print(f"  the learned reward's tree (lmenv.to_mdp, scoring included): {built:.2f} s")
    print(f"  the exact over-optimisation curve, {len(curve.kl_coef)} β: {curve.seconds:.2f} s "
          f"(with the tree: {built + curve.seconds:.2f} s; target < 10 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short measurements (smoke run)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    seconds, rounds, scale, n_pairs = (0.3, 2, 0.1, 500) if args.quick else (1.0, 5, 0.3, 2000)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    env = documented_env()
    tree = lmenv.to_mdp(env)  # warms the prefix cache: π_ref is a lookup, as during training with a tree
    pairs, heldout = experiments.documented_pairs(env, seed=0)
    rollouts_vs_raw(env, (64, 256), seconds, rounds)
    learners(env, tree, pairs, scale)
    reward_model_pieces(env, tree, pairs, heldout, n_pairs)
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
