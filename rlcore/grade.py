"""``python -m rlcore.grade PATH``: grade a student's exercise — a notebook or a Python file — question by question.

    python -m rlcore.grade exercises/02_policy_evaluation.ipynb
    python -m rlcore.grade my_answers.py --exercise 02            # a plain module with the functions
    python -m rlcore.grade submission.ipynb --json result.json    # also write the scores as JSON

The submission's cells run in order in one namespace; each question is a check cell of the
exercise (:mod:`rlcore.exercises`), run from the exercise's own copy — a check cell that was edited
or deleted in the submission runs as written in the exercise. A question scores its points if its
check cell runs without an error, else 0, and the failure message (which state, which term) is
printed under it. The exit status is 0 when every question passes, 1 otherwise, 2 when the
submission cannot be graded (no such file, unknown exercise), so the command works in a course's
own CI.

What can be submitted:

- a notebook (``.ipynb``) made from one of the exercises (its metadata names the exercise), run in
  a Jupyter kernel (nbclient) — or in this process with ``--executor in-process``;
- a percent-format Python file (``# %%`` cells, as written by ``jupytext`` or by
  :meth:`rlcore.exercises.Exercise.script`), run in this process;
- a plain Python module defining the exercise's functions and variables (``--exercise`` names the
  exercise): the exercise's own cells run, with the module in place of its answer cells.

Each cell has a time limit (``--timeout``, default 300 s); each check also limits the time of every
call of the student's function (10 s by default).
"""

from __future__ import annotations

import argparse
import builtins
import contextlib
import io
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import threading
import warnings
from dataclasses import asdict, dataclass, field

from rlcore.exercises import Exercise, load, parse

CELL_TIMEOUT = 300.0  # seconds per cell


@dataclass
class QuestionResult:
    """One question: its id, title, points, the points earned, and the failure message (empty if it passed)."""

    question: str
    title: str
    points: int
    earned: int
    message: str = ""

    @property
    def passed(self) -> bool:
        return self.earned == self.points


@dataclass
class GradeReport:
    """The grade of one submission: a :class:`QuestionResult` per question, and the errors of other cells."""

    exercise: str
    path: str
    questions: list[QuestionResult]
    cell_errors: list[str] = field(default_factory=list)

    @property
    def score(self) -> int:
        return sum(q.earned for q in self.questions)

    @property
    def total(self) -> int:
        return sum(q.points for q in self.questions)

    @property
    def passed(self) -> bool:
        return all(q.passed for q in self.questions)

    def to_dict(self) -> dict:
        return {"exercise": self.exercise, "path": self.path, "score": self.score, "total": self.total,
                "questions": [asdict(q) for q in self.questions], "cell_errors": self.cell_errors}

    def to_text(self, brief: bool = False) -> str:
        width = max([len(q.title) for q in self.questions] + [10])
        lines = [f"Exercise {self.exercise} — {self.path}"]
        for q in self.questions:
            mark = "passed" if q.passed else "FAILED"
            lines.append(f"  {q.question:<4} {q.title:<{width}}  {q.earned}/{q.points}  {mark}")
            if not q.passed:
                message = q.message.strip().splitlines() or [""]
                for line in message[:1] if brief else message:
                    lines.append(f"         {line}")
        if self.cell_errors:
            lines.append("Other cells that raised an error (they score nothing themselves, but a check that needs them fails):")
            lines += [f"  {e}" for e in self.cell_errors]
        percent = 100.0 * self.score / self.total if self.total else 100.0
        lines.append(f"Score: {self.score}/{self.total} ({percent:.0f}%)")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()


@dataclass
class _RunCell:
    role: str  # "answer", "setup", "check", "submission"
    source: str
    question: str | None = None
    label: str = ""


class GradingError(Exception):
    """The submission cannot be graded (not found, unknown exercise, unreadable)."""


# ---------------------------------------------------------------------- what to run
def submission_cells(path, exercise: str | None = None) -> tuple[Exercise, list[_RunCell], str]:
    """The exercise, the cells to run (check cells taken from the exercise) and the default executor."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise GradingError(f"no such file: {path}")
    if path.suffix == ".ipynb":
        try:
            notebook = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise GradingError(f"{path} is not a readable notebook: {error}") from None
        name = exercise or notebook.get("metadata", {}).get("rlcore", {}).get("exercise")
        ex = _exercise(name, path)
        cells = []
        for i, cell in enumerate(notebook.get("cells", [])):
            if cell.get("cell_type") != "code":
                continue
            source = "".join(cell.get("source", []))
            meta = cell.get("metadata", {}).get("rlcore", {})
            role = meta.get("role", "answer")
            cells.append(_RunCell(role, source, meta.get("question") if role == "check" else None, f"cell {i + 1}"))
        return ex, _with_exercise_checks(ex, cells), "kernel"
    if path.suffix == ".py":
        text = path.read_text(encoding="utf-8")
        declared = re.search(r"^# rlcore-exercise:\s*(\S+)", text, re.M)
        ex = _exercise(exercise or (declared.group(1) if declared else None), path)
        if re.search(r"^# %%", text, re.M):
            parsed = parse(text, ex.name)
            cells = [_RunCell(c.role if c.role == "check" else "answer", c.source, c.question, f"cell {i + 1}")
                     for i, c in enumerate(parsed.cells) if c.kind == "code"]
            return ex, _with_exercise_checks(ex, cells), "in-process"
        cells, placed = [], False
        for i, c in enumerate(ex.cells):
            if c.kind != "code":
                continue
            if c.role == "answer":
                if not placed:
                    cells.append(_RunCell("submission", text, None, f"your module {path.name}"))
                    placed = True
                continue
            cells.append(_RunCell(c.role, c.solution_source(), c.question, f"exercise cell {i + 1}"))
        return ex, cells, "in-process"
    raise GradingError(f"{path}: expected a notebook (.ipynb) or a Python file (.py)")


def _exercise(name, path) -> Exercise:
    candidates = [name] if name else [path.stem, path.stem.split("_", 1)[0]]
    for candidate in candidates:
        if not candidate:
            continue
        try:
            return load(candidate)
        except ValueError:
            continue
    from rlcore.exercises import available

    which = f"exercise {name!r} is unknown" if name else f"cannot tell which exercise {path} is"
    raise GradingError(f"{which}; name it with --exercise (one of: {', '.join(available())})")


def _with_exercise_checks(ex: Exercise, cells: list[_RunCell]) -> list[_RunCell]:
    """Check cells replaced by the exercise's own; the checks missing from the submission appended."""
    originals = {q.question: q for q in ex.questions}
    out, seen = [], set()
    for cell in cells:
        if cell.role == "check":
            if cell.question not in originals or cell.question in seen:
                continue  # an unknown or repeated check cell: not a question of this exercise
            seen.add(cell.question)
            cell = _RunCell("check", originals[cell.question].source, cell.question, cell.label)
        out.append(cell)
    for q in ex.questions:
        if q.question not in seen:
            out.append(_RunCell("check", q.source, q.question, f"check {q.question} (missing from the submission)"))
    return out


# ---------------------------------------------------------------------- running
class _CellTimeout(BaseException):
    pass


@contextlib.contextmanager
def _time_limit(seconds: float):
    """Interrupt the block after ``seconds`` (main thread of a Unix process; elsewhere no limit)."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def handler(signum, frame):
        raise _CellTimeout()

    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_in_process(cells: list[_RunCell], workdir, cell_timeout: float = CELL_TIMEOUT) -> list[tuple[str, str] | None]:
    """Run the cells in one fresh namespace in this process; per cell None or (error name, message).

    The cells' printed output is discarded; figures are drawn with the Agg backend and closed.
    """
    backend = os.environ.get("MPLBACKEND")
    if "matplotlib.pyplot" not in sys.modules:
        os.environ["MPLBACKEND"] = "Agg"  # figures are drawn off-screen
    namespace = {"__name__": "__main__", "__builtins__": builtins,
                 "display": lambda *objects, **kwargs: None}  # IPython's display(), a no-op outside a kernel
    results: list[tuple[str, str] | None] = []
    cwd = os.getcwd()
    os.chdir(workdir)
    sys.path.insert(0, str(workdir))
    try:
        for i, cell in enumerate(cells):
            sink = io.StringIO()
            try:
                with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    code = compile(cell.source, f"<{cell.label or f'cell {i + 1}'}>", "exec")
                    with _time_limit(cell_timeout):
                        exec(code, namespace)
                results.append(None)
            except _CellTimeout:
                results.append(("TimeoutError", f"the cell did not finish within {cell_timeout:g} s"))
            except KeyboardInterrupt:
                raise
            except BaseException as error:  # SystemExit included: a submission must not end the grader
                results.append((type(error).__name__, str(error)))
    finally:
        os.chdir(cwd)
        if backend is None:
            os.environ.pop("MPLBACKEND", None)
        else:
            os.environ["MPLBACKEND"] = backend
        if sys.path and sys.path[0] == str(workdir):
            sys.path.pop(0)
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close("all")
    return results


def run_in_kernel(cells: list[_RunCell], workdir, cell_timeout: float = CELL_TIMEOUT) -> list[tuple[str, str] | None]:
    """Run the cells in a fresh Jupyter kernel (nbclient); per cell None or (error name, message)."""
    try:
        import nbformat
        from nbclient import NotebookClient
    except ImportError as error:
        raise GradingError("running a notebook in a kernel needs nbclient and nbformat (the 'testing' extra: "
                           'pip install "rlcore-lmenv[testing]"); or grade it with --executor in-process') from error
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(cell.source) for cell in cells]
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    client = NotebookClient(nb, timeout=int(cell_timeout), kernel_name="python3", allow_errors=True,
                            interrupt_on_timeout=True, resources={"metadata": {"path": str(workdir)}})
    client.execute(stderr=subprocess.DEVNULL)  # the kernel process's own warnings; cell outputs still come back
    results = []
    for cell in nb.cells:
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors:
            name, value = errors[0].get("ename", "Error"), errors[0].get("evalue", "")
            if name == "KeyboardInterrupt":
                name, value = "TimeoutError", f"the cell did not finish within {cell_timeout:g} s"
            results.append((name, value))
        else:
            results.append(None)
    return results


def grade(path, exercise: str | None = None, executor: str = "auto", cell_timeout: float = CELL_TIMEOUT) -> GradeReport:
    """Grade a submission (see the module docstring).

    Args:
        path: the notebook or Python file.
        exercise: the exercise's name or number, when the file does not say.
        executor: ``"kernel"`` (a Jupyter kernel, notebooks), ``"in-process"``, or ``"auto"``
            (a kernel for notebooks, in-process for Python files).
        cell_timeout: seconds each cell may run.

    Raises:
        GradingError: the file is missing or unreadable, or its exercise is unknown.
    """
    ex, cells, default = submission_cells(path, exercise)
    if executor == "auto":
        executor = default
    if executor not in ("kernel", "in-process"):
        raise ValueError(f"executor must be 'auto', 'kernel' or 'in-process'; got {executor!r}")
    workdir = pathlib.Path(path).resolve().parent
    run = run_in_kernel if executor == "kernel" else run_in_process
    outcomes = run(cells, workdir, cell_timeout)
    by_question = {}
    errors = []
    for cell, outcome in zip(cells, outcomes):
        if cell.role == "check":
            by_question[cell.question] = outcome
        elif outcome is not None:
            first = (outcome[1].strip().splitlines() or [""])[0]
            if outcome[0] == "NotImplementedError" and not first:
                first = "not done yet"
            errors.append(f"{cell.label}: {outcome[0]}: {first}")
    results = []
    for q in ex.questions:
        outcome = by_question.get(q.question)
        if outcome is None:
            results.append(QuestionResult(q.question, q.title, q.points, q.points))
        else:
            name, message = outcome
            text = message if name in ("CheckFailed", "MalformedAnswer", "StudentCodeError") else f"{name}: {message}"
            if name == "NotImplementedError":
                text = ("NotImplementedError: not done yet — a function or cell this check uses still says "
                        "`raise NotImplementedError()`")
            if name == "NameError":
                text += "\n(a name the check needs is not defined: did the cell that defines it run without an error?)"
            results.append(QuestionResult(q.question, q.title, q.points, 0, text))
    return GradeReport(ex.name, str(path), results, errors)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rlcore.grade", description="Grade an exercise question by question.")
    parser.add_argument("path", help="the student's notebook (.ipynb) or Python file (.py)")
    parser.add_argument("--exercise", default=None, help="the exercise's name or number, if the file does not say")
    parser.add_argument("--executor", default="auto", choices=("auto", "kernel", "in-process"),
                        help="where the cells run (default: a kernel for notebooks, this process for .py files)")
    parser.add_argument("--timeout", type=float, default=CELL_TIMEOUT, help="seconds per cell (default 300)")
    parser.add_argument("--json", default=None, metavar="FILE", help="also write the result as JSON to FILE")
    parser.add_argument("--brief", action="store_true", help="only the first line of each failure message")
    args = parser.parse_args(argv)
    try:
        report = grade(args.path, args.exercise, args.executor, args.timeout)
    except GradingError as error:
        print(f"rlcore.grade: {error}", file=sys.stderr)
        return 2
    print(report.to_text(brief=args.brief))
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(report.to_dict(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
