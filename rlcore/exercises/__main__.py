"""``python -m rlcore.exercises``: build the exercise notebooks from their sources.

    python -m rlcore.exercises list                         # the exercises and their questions
    python -m rlcore.exercises build                        # student notebooks into exercises/
    python -m rlcore.exercises build --solutions solutions  # and the solution notebooks
    python -m rlcore.exercises build --check                # exit 1 if exercises/ is out of date
"""

from __future__ import annotations

import argparse
import sys

from rlcore.exercises import available, build, load, stale


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rlcore.exercises", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the exercises and their questions")
    b = commands.add_parser("build", help="write the student (and solution) notebooks")
    b.add_argument("--out", default="exercises", help="folder of the student notebooks (default: exercises)")
    b.add_argument("--solutions", default=None, metavar="DIR", help="also write the solution notebooks into DIR")
    b.add_argument("--check", action="store_true", help="write nothing; exit 1 if the student notebooks are out of date")
    args = parser.parse_args(argv)
    if args.command == "list":
        for name in available():
            exercise = load(name)
            print(f"{name}: {exercise.title} ({exercise.total_points} points)")
            for q in exercise.questions:
                print(f"    {q.question}  {q.title} ({q.points} point{'s' if q.points != 1 else ''})")
        return 0
    if args.check:
        problems = stale(args.out)
        for p in problems:
            print(p, file=sys.stderr)
        if problems:
            print("run: python -m rlcore.exercises build", file=sys.stderr)
        return 1 if problems else 0
    for path in build(args.out, args.solutions):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
