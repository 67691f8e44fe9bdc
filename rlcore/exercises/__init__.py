"""Course exercises: one source per exercise, from which the student and the solution notebooks are built.

A source (``rlcore/exercises/sources/NN_name.py``) is a Python file in the "percent" cell format
(the format of Jupytext, VS Code and Spyder), so it runs as a script and diffs as text:

    # %% [markdown]
    # # Exercise 2: policy evaluation
    # Text of a markdown cell, each line behind "# ".

    # %%
    import numpy as np                           # an ordinary code cell (set-up, plots)

    # %%
    def policy_evaluation(mdp, policy, tol):     # an answer cell: it holds a solution region
        ### BEGIN SOLUTION
        ...
        ### END SOLUTION

    # %% [check q2 points=2] Iterative policy evaluation
    testing.check_policy_evaluation(policy_evaluation)     # a check cell: question q2, 2 points

In the **student** notebook each solution region becomes ``# YOUR CODE HERE`` and
``raise NotImplementedError()`` (at the region's indentation); in the **solution** notebook the
markers are dropped. Check cells are the questions: the grader (:mod:`rlcore.grade`) runs its own
copy of them, so editing or deleting one in a submission changes nothing.

Building: ``python -m rlcore.exercises build`` writes the student notebooks into ``exercises/``
(committed) and, with ``--solutions DIR``, the solution notebooks into DIR (not committed).
"""

from __future__ import annotations

import json
import pathlib
import re
from dataclasses import dataclass, field

SOURCES = pathlib.Path(__file__).resolve().parent / "sources"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
_HEADER = re.compile(r"^# %%(?P<rest>.*)$")
_CHECK = re.compile(r"^\[check\s+(?P<id>[A-Za-z0-9_\-]+)(?P<options>[^\]]*)\]\s*(?P<title>.*)$")
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Cell:
    """One cell of an exercise.

    Attributes:
        kind: ``"markdown"`` or ``"code"``.
        source: the text as written in the source (solution regions and their markers included).
        role: ``"markdown"``, ``"setup"`` (ordinary code), ``"answer"`` (holds a solution region)
            or ``"check"`` (a question).
        question: the question id of a check cell (``"q2"``), else None.
        title: the question's title, else None.
        points: the question's points (check cells; default 1).
    """

    kind: str
    source: str
    role: str
    question: str | None = None
    title: str | None = None
    points: int = 1

    def student_source(self) -> str:
        """The text of the student's version: each solution region replaced by the stub."""
        return _strip_solutions(self.source, keep=False)

    def solution_source(self) -> str:
        """The text of the solution: the markers removed, the solution kept."""
        return _strip_solutions(self.source, keep=True)


@dataclass(frozen=True)
class Exercise:
    """An exercise: its name (the source's file name without ``.py``), title and cells."""

    name: str
    title: str
    cells: tuple[Cell, ...] = field(repr=False)

    @property
    def questions(self) -> list[Cell]:
        """The check cells, in order."""
        return [c for c in self.cells if c.role == "check"]

    @property
    def total_points(self) -> int:
        return sum(c.points for c in self.questions)

    def notebook(self, solutions: bool) -> dict:
        """The student (``solutions=False``) or solution notebook, as an nbformat-4 dict without outputs."""
        cells = []
        for i, cell in enumerate(self.cells):
            text = cell.solution_source() if solutions else cell.student_source()
            meta: dict = {"rlcore": {"role": cell.role}}
            if cell.role == "check":
                meta["rlcore"].update(question=cell.question, points=cell.points, title=cell.title)
                meta.update(editable=False, deletable=False, tags=["check"])
                text = (f"# Check {cell.question} ({cell.points} point{'s' if cell.points != 1 else ''}): "
                        f"{cell.title}. The grader runs its own copy of this cell.\n" + text)
            elif cell.role == "answer":
                meta["tags"] = ["answer"]
            entry = {"cell_type": cell.kind, "id": f"c{i:02d}-{cell.role}", "metadata": meta, "source": _lines(text)}
            if cell.kind == "code":
                entry.update(execution_count=None, outputs=[])
            cells.append(entry)
        return {
            "cells": cells,
            "metadata": {
                "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                "language_info": {"name": "python"},
                "rlcore": {"exercise": self.name, "version": FORMAT_VERSION, "solutions": bool(solutions)},
            },
            "nbformat": 4,
            "nbformat_minor": 5,
        }

    def script(self, solutions: bool) -> str:
        """The student or solution version as a percent-format Python file (what the grader also accepts)."""
        parts = [f"# rlcore-exercise: {self.name}"]
        for cell in self.cells:
            text = cell.solution_source() if solutions else cell.student_source()
            if cell.kind == "markdown":
                parts.append("# %% [markdown]\n" + "\n".join(("# " + line).rstrip() for line in text.splitlines()))
            elif cell.role == "check":
                parts.append(f"# %% [check {cell.question} points={cell.points}] {cell.title}\n{text}")
            else:
                parts.append(f"# %%\n{text}")
        return "\n\n".join(parts) + "\n"


def available() -> list[str]:
    """The names of the exercises, in course order."""
    return sorted(p.stem for p in SOURCES.glob("[0-9][0-9]_*.py"))


def load(name: str) -> Exercise:
    """The exercise called ``name`` — its full name (``"02_policy_evaluation"``) or its number (``"02"``, ``2``)."""
    names = available()
    key = str(name)
    if key.isdigit():
        key = f"{int(key):02d}"
    matches = [n for n in names if n == key or n.split("_", 1)[0] == key]
    if len(matches) != 1:
        raise ValueError(f"no exercise called {name!r}; the exercises are: {', '.join(names)}")
    path = SOURCES / f"{matches[0]}.py"
    return parse(path.read_text(encoding="utf-8"), matches[0])


def parse(text: str, name: str) -> Exercise:
    """An exercise from percent-format source text.

    Raises:
        ValueError: for an unmatched solution marker, a solution region in a markdown or check
            cell, or two check cells with the same question id.
    """
    cells: list[Cell] = []
    header, body = None, []

    def flush():
        if header is None:
            return
        cells.append(_make_cell(header, body, name))

    for line in text.splitlines():
        match = _HEADER.match(line)
        if match:
            flush()
            header, body = match.group("rest").strip(), []
        elif header is not None:
            body.append(line)
    flush()
    ids = [c.question for c in cells if c.role == "check"]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"exercise {name}: question ids {duplicates} are used by more than one check cell")
    title = next((c.source.lstrip("# ").splitlines()[0] for c in cells if c.kind == "markdown" and c.source.startswith("#")), name)
    return Exercise(name, title, tuple(cells))


def _make_cell(header: str, body: list[str], name: str) -> Cell:
    while body and not body[-1].strip():
        body.pop()
    while body and not body[0].strip():
        body.pop(0)
    if header.startswith("[markdown]"):
        text = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in body)
        if BEGIN in text:
            raise ValueError(f"exercise {name}: solution regions belong in code cells, not markdown")
        return Cell("markdown", text, "markdown")
    text = "\n".join(body)
    _strip_solutions(text, keep=True, name=name)  # validates the markers
    check = _CHECK.match(header)
    if check:
        if BEGIN in text:
            raise ValueError(f"exercise {name}: check cell {check.group('id')} holds a solution region")
        options = dict(o.split("=", 1) for o in check.group("options").split() if "=" in o)
        points = int(options.get("points", 1))
        return Cell("code", text, "check", check.group("id"), check.group("title").strip() or check.group("id"), points)
    if header:
        raise ValueError(f"exercise {name}: unknown cell header '# %% {header}' (use [markdown] or [check <id> points=<n>] <title>)")
    return Cell("code", text, "answer" if BEGIN in text else "setup")


def _strip_solutions(text: str, keep: bool, name: str = "") -> str:
    out, inside, indent = [], False, ""
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise ValueError(f"exercise {name}: '{BEGIN}' inside a solution region (line {number} of its cell)")
            inside, indent = True, line[: len(line) - len(line.lstrip())]
            if not keep:
                out += [indent + STUB[0], indent + STUB[1]]
            continue
        if stripped == END:
            if not inside:
                raise ValueError(f"exercise {name}: '{END}' without '{BEGIN}' (line {number} of its cell)")
            inside = False
            continue
        if keep or not inside:
            out.append(line)
    if inside:
        raise ValueError(f"exercise {name}: '{BEGIN}' without '{END}'")
    return "\n".join(out)


def _lines(text: str) -> list[str]:
    lines = text.splitlines(keepends=True)
    return lines


def notebook_text(notebook: dict) -> str:
    """A notebook dict as the text written to disk (stable: indent 1, keys in order, a final newline)."""
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def build(out: str | pathlib.Path = "exercises", solutions: str | pathlib.Path | None = None,
          names: list[str] | None = None) -> list[pathlib.Path]:
    """Write the student notebooks into ``out`` and, if given, the solution notebooks into ``solutions``.

    Returns:
        the paths written.
    """
    written = []
    for name in names or available():
        exercise = load(name)
        targets = [(pathlib.Path(out), False)] + ([(pathlib.Path(solutions), True)] if solutions else [])
        for folder, with_solutions in targets:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{exercise.name}.ipynb"
            path.write_text(notebook_text(exercise.notebook(with_solutions)), encoding="utf-8")
            written.append(path)
    return written


def stale(out: str | pathlib.Path = "exercises") -> list[str]:
    """The student notebooks in ``out`` that are missing or differ from what :func:`build` would write."""
    problems = []
    for name in available():
        path = pathlib.Path(out) / f"{name}.ipynb"
        expected = notebook_text(load(name).notebook(False))
        if not path.exists():
            problems.append(f"{path} is missing")
        elif path.read_text(encoding="utf-8") != expected:
            problems.append(f"{path} differs from its source {SOURCES / (name + '.py')}")
    return problems
