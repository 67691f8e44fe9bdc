"""The guided tour of rlcore + lmenv: ``python -m tour --out tour-output``.

Each section prints its tables and writes its figures into the output folder.
"""

import argparse
import pathlib

import matplotlib
import torch

matplotlib.use("Agg")  # the tour writes files; it never opens windows

from tour import course, exact, learners, rlhf, td_control, token_mdp  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("tour-output"), help="folder for the figures")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)  # the 335k-parameter model runs fastest on one thread
    for section in (exact, td_control, course, token_mdp, learners, rlhf):
        section.run(args.out)
    print(f"\nFigures written to {args.out.resolve()}/")


if __name__ == "__main__":
    main()
