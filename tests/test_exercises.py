"""The exercises can fail: every solution scores 100%, every blank student notebook 0 on the questions
it leaves blank, and a planted wrong answer in each exercise is caught with the message that names it.

Most submissions are graded in this process (``executor="in-process"``): the same cells, the same
checks, without a kernel's start-up. One notebook goes through a real Jupyter kernel, and the
command line is run once, to prove those paths too.
"""

import json
import pathlib
import subprocess
import sys

import pytest

from rlcore import exercises
from rlcore.grade import GradingError, grade

ROOT = pathlib.Path(__file__).resolve().parents[1]
NAMES = exercises.available()

# exercise -> (question, the solution's line, the wrong line, words the failure message must contain)
MISTAKES = {
    "01_bellman_by_hand": ("q2", "return mdp.R + mdp.gamma * mdp.P @ V", "return mdp.R + mdp.gamma * V[:, None]",
                           "γV outside the expectation"),
    "02_policy_evaluation": ("q1", "q = mdp.R + mdp.gamma * mdp.P @ V  #", "q = mdp.R + mdp.gamma * policy @ V  #",
                             "P confused with π"),
    "03_policy_and_value_iteration": ("q2", "if np.array_equal(improved, policy):", "if True:  # stops after one evaluation",
                                      "the value of the uniform random policy"),
    "04_monte_carlo": ("q1", "g = rewards[t] + gamma * g", "g = rewards[t] + g", "γ is missing"),
    "05_td_learning": ("q3", "target = r + gamma * (1.0 - terminated) * Q[s_next].max()",
                       "target = r + gamma * Q[s_next].max()", "on a terminal transition you bootstrapped from Q(s', ·)"),
    "06_nstep_and_lambda_returns": ("q3", "((1 - lambda_) * values[t + 1] + lambda_ * g)",
                                    "(values[t + 1] + lambda_ * g)", "the (1 − λ) weight of the bootstrapped value is missing"),
    "07_policy_gradient": ("q2", "grad[s] += gamma**t * G[t] * score", "grad[s] += G[t] * score", "γ^t is missing"),
    "08_token_mdp_kl": ("q1", "weights = reference * np.exp((q - top) / kl_coef)",
                        "weights = np.exp((q - top) / kl_coef) / reference", "a sign error in the KL term"),
}
# a second planted mistake where an exercise teaches two different traps
MORE_MISTAKES = [
    ("05_td_learning", "q3", "target = r + gamma * (1.0 - terminated) * Q[s_next].max()",
     "target = r + gamma * (1.0 - (terminated or truncated)) * Q[s_next].max()",
     "on a truncated transition (a time limit, s' not terminal) you did not bootstrap"),
    ("08_token_mdp_kl", "q3", "V[states] = (pi * (q - kl_coef * log_ratio)).sum(axis=1)",
     "V[states] = (pi * (q + kl_coef * log_ratio)).sum(axis=1)", "a sign error in the KL term"),
]


def write_notebook(tmp_path, name, solutions, edit=None):
    notebook = exercises.load(name).notebook(solutions)
    text = exercises.notebook_text(notebook)
    if edit is not None:
        old, new = edit
        assert json.dumps(old, ensure_ascii=False)[1:-1] in text, f"the solution of {name} no longer holds {old!r}"
        text = text.replace(json.dumps(old, ensure_ascii=False)[1:-1], json.dumps(new, ensure_ascii=False)[1:-1])
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / f"{name}.ipynb"
    path.write_text(text, encoding="utf-8")
    return path


def test_there_are_at_least_eight_exercises_and_each_has_questions():
    assert len(NAMES) >= 8
    for name in NAMES:
        exercise = exercises.load(name)
        assert exercise.questions, name
        assert any(c.role == "answer" for c in exercise.cells), name
    assert set(NAMES) == set(MISTAKES)  # every exercise has a planted mistake below


def test_committed_student_notebooks_are_built_from_the_sources():
    assert exercises.stale(ROOT / "exercises") == [], "run: python -m rlcore.exercises build"


@pytest.mark.parametrize("name", NAMES)
def test_student_notebooks_hold_no_solution(name):
    exercise = exercises.load(name)
    student = exercises.notebook_text(exercise.notebook(False))
    assert exercises.BEGIN not in student and exercises.END not in student
    for cell in exercise.cells:
        if cell.role != "answer":
            continue
        solution_lines = [line.strip() for line in _regions(cell.source)]
        assert solution_lines, f"{name}: an answer cell with an empty solution"
        student_cell = cell.student_source()
        assert "raise NotImplementedError()" in student_cell and "# YOUR CODE HERE" in student_cell
        for line in solution_lines:
            if line and not line.startswith("#"):
                assert line not in student_cell, f"{name}: the student's cell shows the solution line {line!r}"
    for cell in exercise.notebook(False)["cells"]:
        assert cell.get("outputs", []) == [] and cell.get("execution_count") is None


def _regions(source):
    inside = False
    for line in source.splitlines():
        if line.strip() == exercises.BEGIN:
            inside = True
        elif line.strip() == exercises.END:
            inside = False
        elif inside:
            yield line


@pytest.mark.parametrize("name", NAMES)
def test_solution_scores_full_marks_and_blank_scores_zero(tmp_path, name):
    exercise = exercises.load(name)
    solved = grade(write_notebook(tmp_path / "solution", name, True), executor="in-process")
    assert solved.passed, str(solved)
    assert solved.score == exercise.total_points and solved.cell_errors == [], str(solved)
    blank = grade(write_notebook(tmp_path / "blank", name, False), executor="in-process")
    assert blank.score == 0, str(blank)
    assert all(not q.passed and q.message for q in blank.questions)


@pytest.mark.parametrize("name", NAMES)
def test_a_planted_mistake_is_caught_with_its_message(tmp_path, name):
    question, right, wrong, words = MISTAKES[name]
    report = grade(write_notebook(tmp_path, name, True, (right, wrong)), executor="in-process")
    failed = {q.question: q for q in report.questions if not q.passed}
    assert question in failed, str(report)
    assert words in failed[question].message, failed[question].message
    assert report.questions[0].passed or report.questions[0].question == question  # earlier work still counts


@pytest.mark.parametrize("name, question, right, wrong, words", MORE_MISTAKES, ids=[m[0] + "-" + m[1] for m in MORE_MISTAKES])
def test_more_planted_mistakes(tmp_path, name, question, right, wrong, words):
    report = grade(write_notebook(tmp_path, name, True, (right, wrong)), executor="in-process")
    failed = {q.question: q for q in report.questions if not q.passed}
    assert list(failed) == [question], str(report)
    assert words in failed[question].message, failed[question].message


def test_the_grader_runs_its_own_copy_of_the_checks(tmp_path):
    """Emptying or deleting a check cell in the submission gains nothing."""
    path = write_notebook(tmp_path, "04_monte_carlo", False)
    notebook = json.loads(path.read_text())
    checks = [c for c in notebook["cells"] if c["metadata"].get("rlcore", {}).get("role") == "check"]
    checks[0]["source"] = ["pass\n"]
    notebook["cells"].remove(checks[1])
    path.write_text(json.dumps(notebook))
    report = grade(path, executor="in-process")
    assert [q.passed for q in report.questions] == [False, False]
    assert "not done yet" in report.questions[1].message or "0 of" in report.questions[1].message


def test_a_python_file_and_a_plain_module_are_graded_too(tmp_path):
    exercise = exercises.load("06_nstep_and_lambda_returns")
    script = tmp_path / "answers.py"
    script.write_text(exercise.script(solutions=True))
    assert grade(script).passed
    module = tmp_path / "my_returns.py"  # only the functions, no cells: the exercise's cells run around it
    module.write_text("import numpy as np\n\n" + "\n\n".join(
        c.solution_source() for c in exercise.cells if c.role == "answer"))
    report = grade(module, exercise="06")
    assert report.passed, str(report)
    module.write_text(module.read_text().replace("(1 - lambda_) * values[t + 1]", "values[t + 1]"))
    report = grade(module, exercise="06")
    assert [q.passed for q in report.questions] == [True, True, False]


def test_a_notebook_graded_in_a_jupyter_kernel(tmp_path):
    pytest.importorskip("nbclient")
    path = write_notebook(tmp_path, "05_td_learning", True, MISTAKES["05_td_learning"][1:3])
    report = grade(path, executor="kernel")
    assert [q.passed for q in report.questions] == [True, True, False, True], str(report)
    assert MISTAKES["05_td_learning"][3] in report.questions[2].message


def test_command_line_exit_status_and_json(tmp_path):
    path = write_notebook(tmp_path, "01_bellman_by_hand", False)
    out = tmp_path / "result.json"
    run = subprocess.run([sys.executable, "-m", "rlcore.grade", str(path), "--executor", "in-process", "--json", str(out)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stderr
    assert "Score: 0/6 (0%)" in run.stdout and "q1" in run.stdout
    result = json.loads(out.read_text())
    assert result["score"] == 0 and result["total"] == 6 and len(result["questions"]) == 4
    missing = subprocess.run([sys.executable, "-m", "rlcore.grade", str(tmp_path / "nope.ipynb")],
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "no such file" in missing.stderr


def test_unknown_exercise_is_a_grading_error(tmp_path):
    path = tmp_path / "mystery.py"
    path.write_text("x = 1\n")
    with pytest.raises(GradingError, match="cannot tell which exercise"):
        grade(path)
    with pytest.raises(GradingError, match="unknown"):
        grade(path, exercise="99")


def test_build_writes_student_and_solution_notebooks(tmp_path):
    from rlcore.exercises.__main__ import main

    assert main(["build", "--out", str(tmp_path / "s"), "--solutions", str(tmp_path / "sol")]) == 0
    assert sorted(p.stem for p in (tmp_path / "s").glob("*.ipynb")) == NAMES
    assert main(["build", "--out", str(tmp_path / "s"), "--check"]) == 0
    (tmp_path / "s" / f"{NAMES[0]}.ipynb").write_text("{}")
    assert main(["build", "--out", str(tmp_path / "s"), "--check"]) == 1
    solution = json.loads((tmp_path / "sol" / f"{NAMES[0]}.ipynb").read_text())
    assert solution["metadata"]["rlcore"]["solutions"] is True
    nbformat = pytest.importorskip("nbformat")
    nbformat.validate(nbformat.reads(json.dumps(solution), as_version=4))


def test_source_format_errors_are_named():
    with pytest.raises(ValueError, match="without"):
        exercises.parse("# %%\n### BEGIN SOLUTION\nx = 1\n", "bad")
    with pytest.raises(ValueError, match="more than one check cell"):
        exercises.parse("# %% [check q1] A\npass\n# %% [check q1] B\npass\n", "bad")
    with pytest.raises(ValueError, match="unknown cell header"):
        exercises.parse("# %% [exam]\npass\n", "bad")
    with pytest.raises(ValueError, match="no exercise called"):
        exercises.load("nope")
