#!/usr/bin/env python
"""Bandits: Sutton & Barto's Figure 2.2 with rlcore.bandits (all runs in lockstep) against a per-run Python loop, in one run.

    .venv/bin/python bench/bench_bandits.py            # ~1 min (the per-run loop on 200 of the 2000 runs, scaled ×10)
    .venv/bin/python bench/bench_bandits.py --full     # the per-run loop on all 2000 runs (~5–10 min)
    .venv/bin/python bench/bench_bandits.py --quick    # smoke run, ~15 s (the per-run loop on 40 runs, scaled ×50)

Figure 2.2: the 10-armed testbed, ε-greedy with sample averages for ε = 0, 0.01 and 0.1, 2000
runs × 1000 steps each (6 million bandit steps). ``rlcore`` plays the 2000 runs of a setting
together: :func:`rlcore.bandits.run_bandit` with :class:`rlcore.bandits.EpsilonGreedyBandit`, one
numpy step for all runs. ``book_loop`` below is written for this benchmark in the style of the
usual reference code of the book's figures: a ``Bandit`` object per setting with numpy arrays of
k estimates and counts, reset for every run (``np.random.randn`` for q*), ``np.random.rand() < ε``
to explore with ``np.random.choice`` over the arms, the greedy arm by ``np.random.choice`` among
``np.where(q == np.max(q))``, a reward ``np.random.randn() + q*(a)`` and the incremental sample
average — one run and one step at a time. Both implementations' averages over the last 100
steps are printed side by side as a check that they compute the same figure.

Targets: Figure 2.2 in < 2 s, and ≥ 20× the per-run loop.

Fairness: one core (OMP/OPENBLAS/MKL_NUM_THREADS=1 before numpy is imported). Times are CPU times
of the process (``time.process_time``), which on a shared machine leave out the time spent
waiting for a core; wall times are printed beside them. The lockstep figure is timed ``--reps``
times and the best is used; the per-run loop once (it is ≥ 20× longer, so its noise is smaller).
"""

from _common import timed  # first: pins the math libraries to one core before numpy is imported

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from rlcore import bandits  # noqa: E402

EPSILONS = (0.0, 0.01, 0.1)
RUNS, STEPS, K = 2000, 1000, 10


# ---------------------------------------------------------------------- the per-run loop
class Bandit:
    """One ε-greedy sample-average learner on one 10-armed problem, one step at a time."""

    def __init__(self, epsilon, k=K):
        self.epsilon, self.k = epsilon, k
        self.arms = np.arange(k)

    def reset(self):
        self.q_true = np.random.randn(self.k)
        self.q_estimate = np.zeros(self.k)
        self.counts = np.zeros(self.k)
        self.best = np.argmax(self.q_true)

    def act(self):
        if np.random.rand() < self.epsilon:
            return np.random.choice(self.arms)
        best = np.max(self.q_estimate)
        return np.random.choice(np.where(self.q_estimate == best)[0])

    def step(self, action):
        reward = np.random.randn() + self.q_true[action]
        self.counts[action] += 1
        self.q_estimate[action] += (reward - self.q_estimate[action]) / self.counts[action]
        return reward


def book_loop(n_runs, seed):
    """Figure 2.2 one run and one step at a time: (rewards, optimal), each (settings, runs, steps)."""
    np.random.seed(seed)
    rewards = np.zeros((len(EPSILONS), n_runs, STEPS))
    optimal = np.zeros((len(EPSILONS), n_runs, STEPS))
    for i, epsilon in enumerate(EPSILONS):
        bandit = Bandit(epsilon)
        for run in range(n_runs):
            bandit.reset()
            for t in range(STEPS):
                action = bandit.act()
                rewards[i, run, t] = bandit.step(action)
                optimal[i, run, t] = action == bandit.best
    return rewards, optimal


# ---------------------------------------------------------------------- rlcore
def lockstep_figure(seed):
    """Figure 2.2 with rlcore.bandits: one testbed of 2000 problems, each setting's 2000 runs in lockstep."""
    testbed = bandits.ten_armed_testbed(RUNS, K, seed=seed)
    histories = [bandits.run_bandit(bandits.EpsilonGreedyBandit(eps), testbed, STEPS, seed=seed + 1) for eps in EPSILONS]
    return np.stack([h.rewards for h in histories]), np.stack([h.optimal for h in histories])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repetition; the per-run loop on 40 runs, scaled ×50")
    parser.add_argument("--full", action="store_true", help="the per-run loop on all 2000 runs (no scaling)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions of the lockstep figure (best is used)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()
    reps = 1 if args.quick else args.reps
    book_runs = RUNS if args.full else (40 if args.quick else 200)

    print(f"Python {platform.python_version()}, numpy {np.__version__}, {platform.processor() or platform.machine()}; "
          "one core; CPU time (wall time in brackets)\n")
    print(f"Figure 2.2: 10-armed testbed, ε-greedy (ε = {', '.join(map(str, EPSILONS))}), sample averages, "
          f"{RUNS} runs × {STEPS} steps")
    best = None
    for rep in range(reps):
        cpu, wall, result = timed(lambda: lockstep_figure(seed=rep))
        if best is None or cpu < best[0]:
            best = (cpu, wall, result)
    lock_cpu, lock_wall, (lock_rewards, lock_optimal) = best
    cpu, wall, (loop_rewards, loop_optimal) = timed(lambda: book_loop(book_runs, seed=0))
    scale = RUNS / book_runs
    loop_cpu, loop_wall = cpu * scale, wall * scale
    ratio = loop_cpu / lock_cpu
    scaled = f" (measured on {book_runs} runs, ×{scale:g})" if scale != 1 else ""
    print(f"  rlcore.bandits (lockstep)  {lock_cpu:7.2f} s  ({lock_wall:.2f} s wall)")
    print(f"  per-run Python loop        {loop_cpu:7.2f} s  ({loop_wall:.2f} s wall){scaled}")
    print(f"  ratio                      {ratio:7.1f} ×")
    print("  averages over steps 901–1000 (lockstep | per-run loop; the book: ε = 0.1 ≈ 1.4 reward and ≈ 80% optimal,"
          " greedy ≈ 1.0 and about a third):")
    check = {}
    for i, eps in enumerate(EPSILONS):
        row = dict(lockstep_reward=lock_rewards[i, :, -100:].mean(), loop_reward=loop_rewards[i, :, -100:].mean(),
                   lockstep_optimal=lock_optimal[i, :, -100:].mean(), loop_optimal=loop_optimal[i, :, -100:].mean())
        check[str(eps)] = row
        print(f"    ε = {eps:<5}  reward {row['lockstep_reward']:.3f} | {row['loop_reward']:.3f}    "
              f"optimal action {100 * row['lockstep_optimal']:.1f}% | {100 * row['loop_optimal']:.1f}%")

    print("\nTargets")
    print(f"  Figure 2.2 in < 2 s: {lock_cpu:.2f} s — {'met' if lock_cpu < 2 else 'NOT met'}")
    print(f"  ≥ 20× the per-run loop: {ratio:.1f}× — {'met' if ratio >= 20 else 'NOT met'}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(dict(
            figure_2_2=dict(lockstep_cpu_s=lock_cpu, lockstep_wall_s=lock_wall, loop_runs=book_runs, loop_cpu_s=loop_cpu,
                            loop_wall_s=loop_wall, loop_scaled=scale != 1, ratio=ratio, last_100_steps=check)),
            indent=2, default=float))


if __name__ == "__main__":
    main()
