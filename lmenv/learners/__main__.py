"""Train every learner on the documented task and print its exact score; optionally the full-vocabulary runs.

    python -m lmenv.learners                          # the documented budgets (docs/lm_policy_gradient.md)
    python -m lmenv.learners --scale 0.1              # a quick run
    python -m lmenv.learners --learners ppo dqn dqn-hard
    python -m lmenv.learners --curves curves.png      # with exact evaluations every 10 iterations, plotted
    python -m lmenv.learners --full-vocab plot.png    # also PPO on the full vocabulary, plotted

Threads: ``torch.set_num_threads(1)`` by default (``--threads``). The network is small (335k
parameters) and a rollout step multiplies (64 × 80)·(80 × 240) matrices: a second thread gains
little, and on a machine whose cores are shared it mostly waits (see docs/benchmarks.md).
"""

import argparse

import torch

from lmenv.model import default_device
from lmenv.learners.experiments import (DEFAULT_RUNS, DOCUMENTED_CONFIGS, plot_full_vocabulary, plot_learning_curves,
                                        train_all, train_full_vocabulary)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", nargs="+", choices=list(DOCUMENTED_CONFIGS), default=list(DEFAULT_RUNS))
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every run's iterations")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    parser.add_argument("--curves", metavar="PNG", help="score exactly every 10 iterations and plot the curves here")
    parser.add_argument("--full-vocab", metavar="PNG", help="also run PPO on the full vocabulary; plot here")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"torch.set_num_threads({args.threads}); device: {default_device()}")
    results = train_all(args.learners, scale=args.scale, seed=args.seed, eval_every=10 if args.curves else 0,
                        progress=not args.no_progress)
    if args.curves:
        plot_learning_curves(results, args.curves)
    if args.full_vocab:
        plot_full_vocabulary(train_full_vocabulary(seed=args.seed, scale=args.scale, progress=not args.no_progress),
                             args.full_vocab)


if __name__ == "__main__":
    main()
