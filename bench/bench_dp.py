#!/usr/bin/env python
"""Exact dynamic programming: rlcore against pymdptoolbox on the same MDPs, in one run.

Reproduce the numbers of docs/benchmarks.md (section "Exact dynamic programming"):

    .venv/bin/python bench/bench_dp.py            # ~5 min; needs the `bench` extra (pymdptoolbox==4.0b3)
    make bench                                    # installs the extra, then runs every benchmark
    .venv/bin/python bench/bench_dp.py --quick    # smoke run, ~25 s

Cases (the MDPs of pymdptoolbox's own ``example`` module, no terminal states):
  * ``forest(S)`` for S = 10^3 and 10^4, γ = 0.9 and 0.99: both packages; and S = 10^5 for
    rlcore only (sparse P; pymdptoolbox would need a dense 10^5 × 10^5 P, 80 GB per action);
  * ``rand(500, 10)`` (seeded), γ = 0.9 and 0.99.

What is timed: from the arrays (P, R) to the solution, i.e. building the model — ``rlcore.MDP(...)``,
pymdptoolbox's solver constructor (its input checks and, for value iteration, its iteration bound)
— plus the solve. The "setup" column shows the model-building part. Converting pymdptoolbox's
(A, S, S) layout to rlcore's (S, A, S) is done once beforehand and not timed (for sparse forest
there is nothing to convert: pymdptoolbox's list of CSR matrices is rlcore's sparse input).

Fairness: every solver uses one core: OMP/OPENBLAS/MKL_NUM_THREADS=1 are set below, before numpy
is imported, and the pymdptoolbox worker processes inherit them. Times are CPU times of the
process (``time.process_time``): single-threaded, they equal the wall time on an idle machine, and
on a shared one they leave out the time spent waiting for a core (the wall time of the best run is
printed beside them). Each measurement is repeated k times (k adaptive: up to --max-reps while
under --min-time seconds, at least 3 runs when they fit in 3 × --min-time) and the best and the
median are reported; ratios use the best.
pymdptoolbox runs in a fresh subprocess per (case, solver): a solver whose first run exceeds
--cap seconds of CPU time is killed and reported as "did not finish in N s".

Accuracy: V* is the exact solve (sparse LU / dense LU, ``rlcore.policy_evaluation(...,
method="exact")``) of the optimal policy found by policy iteration, certified independently of
rlcore: the Bellman optimality residual r = ‖T*V − V‖∞ is recomputed from pymdptoolbox's own P and
R arrays, and ‖V_ref − V*‖∞ ≤ r/(1 − γ) is printed. Every solver's error is max_s |V(s) − V*(s)|
of the V it returns.

pymdptoolbox 4.0b3 imports and runs under numpy 2 / scipy 1.17 without a shim; the one
incompatibility met is ValueIterationGS with *sparse* P (``float()`` of a 1-element array,
a TypeError since numpy 2), so ValueIterationGS is run with dense P only.
"""

import os

import _common  # noqa: F401  (first: pins the math libraries to one core before numpy is imported)

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import signal  # noqa: E402
import shlex  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from dataclasses import asdict, dataclass, field  # noqa: E402
from importlib import metadata  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy  # noqa: E402

ACCURATE = 1e-8  # "within 1e-8 of V*"
TOOLBOX_EPSILON = 0.01  # pymdptoolbox's default epsilon (ValueIteration, PolicyIterationModified, ValueIterationGS)
TOOLBOX_SOLVERS = ("ValueIteration", "ValueIterationGS", "PolicyIterationModified", "PolicyIteration")
REPO = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------- timing
def time_reps(run, min_time: float, max_reps: int):
    """Call ``run() -> (setup_cpu_seconds, result)`` k times.

    Returns (CPU seconds per run, wall seconds per run, setup CPU seconds per run, last result).
    Repeats while the runs so far took less than ``min_time`` (up to ``max_reps``), and at least
    3 times when 3 runs fit in 3 × ``min_time``.
    """
    totals, walls, setups, result = [], [], [], None
    while True:
        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        setup, result = run()
        totals.append(time.process_time() - cpu)
        walls.append(time.perf_counter() - wall)
        setups.append(setup)
        spent = sum(walls)
        if len(totals) >= max_reps:
            break
        if spent >= min_time and (len(totals) >= 3 or spent / len(totals) > min_time):
            break
    return totals, walls, setups, result


# ---------------------------------------------------------------------- the MDPs
@dataclass
class Case:
    kind: str  # "forest" or "rand"
    S: int
    gamma: float
    A: int = 2
    toolbox: bool = True  # run pymdptoolbox on it

    @property
    def name(self) -> str:
        power = round(math.log10(self.S))
        size = f"10^{power}" if 10**power == self.S else str(self.S)
        mdp = f"forest({size})" if self.kind == "forest" else f"rand({self.S}, {self.A})"
        return f"{mdp}, γ={self.gamma}"


def toolbox_inputs(case: Case, sparse: bool, seed: int):
    """(P, R) exactly as pymdptoolbox's example module makes them."""
    import mdptoolbox.example

    if case.kind == "forest":
        return mdptoolbox.example.forest(case.S, is_sparse=sparse)
    np.random.seed(seed)  # example.rand draws from numpy's global generator
    return mdptoolbox.example.rand(case.S, case.A)


def expected_rewards(case: Case, P, R) -> np.ndarray:
    """r(s, a), shape (S, A), from pymdptoolbox's arrays (independently of rlcore)."""
    if case.kind == "forest":
        return np.asarray(R, dtype=float)
    return np.einsum("ast,ast->sa", P, R)


def bellman_residual(P, r: np.ndarray, gamma: float, V: np.ndarray) -> float:
    """‖T*V − V‖∞ computed from pymdptoolbox's P (A × (S, S), dense or sparse) and r (S, A)."""
    Q = np.stack([r[:, a] + gamma * np.asarray(P[a] @ V).ravel() for a in range(r.shape[1])], axis=1)
    return float(np.max(np.abs(Q.max(axis=1) - V)))


# ---------------------------------------------------------------------- results
@dataclass
class Row:
    case: str
    package: str  # "rlcore" or "pymdptoolbox"
    solver: str
    best: float | None = None  # CPU seconds of the best run; None when it did not finish
    median: float | None = None  # CPU seconds, median run
    wall: float | None = None  # wall seconds of the best (CPU) run
    reps: int = 0
    setup: float | None = None  # model-building CPU seconds of the best run
    iterations: str = ""
    error: float | None = None  # max |V − V*|
    note: str = ""
    role: str = ""  # "rule": rlcore run with pymdptoolbox's stopping rule (rand targets)

    @property
    def finished(self) -> bool:
        return self.best is not None


@dataclass
class CaseReport:
    case: str
    gamma: float
    v_star_0: float
    residual: float  # ‖T*V_ref − V_ref‖∞ from pymdptoolbox's arrays
    certificate: float  # residual / (1 − γ) ≥ ‖V_ref − V*‖∞
    rows: list = field(default_factory=list)


# ---------------------------------------------------------------------- rlcore side
def reference_values(case: Case, mdp_inputs, P_toolbox, r) -> tuple[np.ndarray, float]:
    """V* of the case: exact evaluation of the optimal policy, and its certified residual."""
    import rlcore

    mdp = rlcore.MDP(*mdp_inputs, case.gamma)
    best_actions = rlcore.policy_iteration(mdp).Q.argmax(axis=1)
    policy = np.zeros((case.S, mdp.n_actions))
    policy[np.arange(case.S), best_actions] = 1.0
    V = rlcore.policy_evaluation(mdp, policy, method="exact").V
    return V, bellman_residual(P_toolbox, r, case.gamma, V)


def has_span_stopping() -> bool:
    """Whether rlcore.value_iteration offers stopping="span" (MacQueen's bounds, the span test)."""
    import inspect

    import rlcore

    return "stopping" in inspect.signature(rlcore.value_iteration).parameters


def rlcore_solvers(case: Case, quick: bool):
    """(label, layout, solve, role) for the rlcore solvers timed on ``case``."""
    import rlcore

    span = has_span_stopping()
    layout = "dense" if case.kind == "rand" else "sparse"
    solvers = []
    if case.kind == "rand":
        # pymdptoolbox stops when span(v_{k+1} − v_k) < ε(1 − γ)/γ. With stopping="span", rlcore stops
        # when γ/(1 − γ)·span/2 ≤ tol: tol = ε/2 is the same test. Without it, the nearest rlcore rule
        # is γ/(1 − γ)·‖v_{k+1} − v_k‖∞ ≤ tol with tol = ε (same threshold, sup norm instead of span).
        if span:
            solvers.append((f"value_iteration(tol={TOOLBOX_EPSILON / 2:g}, stopping='span')", layout,
                            lambda m: rlcore.value_iteration(m, tol=TOOLBOX_EPSILON / 2, stopping="span"), "rule"))
        else:
            solvers.append((f"value_iteration(tol={TOOLBOX_EPSILON:g})", layout,
                            lambda m: rlcore.value_iteration(m, tol=TOOLBOX_EPSILON), "rule"))
    solvers.append(("policy_iteration()", layout, rlcore.policy_iteration, ""))
    if not (quick and case.S >= 100_000):
        solvers.append(("value_iteration(tol=1e-8)", layout, lambda m: rlcore.value_iteration(m, tol=1e-8), ""))
    if span:
        solvers.append(("value_iteration(tol=1e-8, stopping='span')", layout,
                        lambda m: rlcore.value_iteration(m, tol=1e-8, stopping="span"), ""))
    if case.kind == "forest" and case.S <= 1000:
        solvers.append(("policy_iteration()", "dense", rlcore.policy_iteration, ""))
    return solvers


def time_rlcore(case: Case, label: str, inputs, solve, V_star, args, role: str = "") -> Row:
    import rlcore

    def run():
        start = time.process_time()
        mdp = rlcore.MDP(*inputs, case.gamma)
        setup = time.process_time() - start
        return setup, solve(mdp)

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a solver that stops unconverged is a bug here
        totals, walls, setups, sol = time_reps(run, args.min_time, args.max_reps)
    i = int(np.argmin(totals))
    return Row(case.name, "rlcore", label, totals[i], statistics.median(totals), walls[i], len(totals), setups[i],
               str(sol.iterations), float(np.max(np.abs(sol.V - V_star))), role=role)


# ---------------------------------------------------------------------- pymdptoolbox side
def worker(spec: dict) -> None:
    """Runs in a subprocess: time one pymdptoolbox solver on one case, save V to spec['out']."""
    warnings.simplefilter("ignore")  # its sparse checks emit SparseEfficiencyWarning
    import mdptoolbox.mdp

    case = Case(**spec["case"])
    if case.kind == "rand":
        with np.load(spec["inputs"]) as data:
            P, R = data["P"], data["R"]
    else:
        P, R = toolbox_inputs(case, spec["sparse"], spec["seed"])
    solver = getattr(mdptoolbox.mdp, spec["solver"])
    # --cap is CPU time, like the measurements: past it the kernel ends this process (SIGXCPU).
    usage = resource.getrusage(resource.RUSAGE_SELF)
    limit = math.ceil(usage.ru_utime + usage.ru_stime + spec["cap"])
    resource.setrlimit(resource.RLIMIT_CPU, (limit, resource.getrlimit(resource.RLIMIT_CPU)[1]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))  # no core file
    print("ready", flush=True)

    def run():
        start = time.process_time()
        model = solver(P, R, case.gamma)
        setup = time.process_time() - start
        model.run()
        return setup, model

    totals, walls, setups, model = time_reps(run, spec["min_time"], spec["max_reps"])
    max_iter = getattr(model, "max_iter", 0)
    np.savez(spec["out"], V=np.asarray(model.V, dtype=float), totals=totals, walls=walls, setups=setups,
             iterations=model.iter, max_iter=max_iter)


def time_toolbox(case: Case, solver: str, sparse: bool, V_star, inputs_path, workdir, args) -> Row:
    label = solver + (" (sparse P)" if sparse else "")
    out = Path(workdir) / f"{case.kind}{case.S}_{case.gamma}_{label}.npz".replace(" ", "_")
    spec = {"case": asdict(case), "solver": solver, "sparse": sparse, "seed": args.seed, "cap": args.cap,
            "inputs": str(inputs_path), "out": str(out), "min_time": args.min_time, "max_reps": args.max_reps}
    err_path = Path(workdir) / "worker.err"
    dnf = Row(case.name, "pymdptoolbox", label, note=f"did not finish in {args.cap:g} s")
    with open(err_path, "w") as err:
        proc = subprocess.Popen([sys.executable, __file__, "--worker", json.dumps(spec)],
                                stdout=subprocess.PIPE, stderr=err, text=True)
        try:
            ready = proc.stdout.readline().strip() == "ready"
            # The worker holds itself to --cap seconds of CPU; the wall-clock limit is a safety net
            # for a machine so busy that the process gets little CPU.
            proc.wait(timeout=4 * args.cap + 60 if ready else 600)
        except subprocess.TimeoutExpired:
            dnf.note += f" (stopped after {4 * args.cap + 60:g} s of wall time)"
            return dnf
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    if proc.returncode == -signal.SIGXCPU:
        return dnf
    if proc.returncode != 0 or not out.exists():
        tail = err_path.read_text().strip().splitlines()[-1:] or ["no output"]
        return Row(case.name, "pymdptoolbox", label, note=f"failed: {tail[0][:80]}")
    with np.load(out) as data:
        totals, walls, setups = list(data["totals"]), list(data["walls"]), list(data["setups"])
        V, iterations, max_iter = data["V"], int(data["iterations"]), int(data["max_iter"])
    i = int(np.argmin(totals))
    iters = str(iterations)
    if solver in ("ValueIteration", "ValueIterationGS") and iterations == max_iter:
        iters += " (=max_iter)"  # stopped by its iteration bound, not by the span test
    return Row(case.name, "pymdptoolbox", label, float(totals[i]), float(statistics.median(totals)), float(walls[i]),
               len(totals), float(setups[i]), iters, float(np.max(np.abs(V - V_star))))


# ---------------------------------------------------------------------- one case
def run_case(case: Case, args, workdir) -> CaseReport:
    print(f"\n## {case.name}", flush=True)
    P_tb, R_tb = toolbox_inputs(case, sparse=case.kind == "forest", seed=args.seed)
    r = expected_rewards(case, P_tb, R_tb)
    inputs_path = Path(workdir) / "rand_inputs.npz"
    if case.kind == "forest":  # pymdptoolbox's sparse layout is rlcore's: A CSR (S, S) matrices, R (S, A)
        layouts = {"sparse": (list(P_tb), R_tb)}
        if case.S <= 1000:
            dense_P = np.stack([m.toarray() for m in P_tb], axis=1)  # (S, A, S)
            layouts["dense"] = (dense_P, R_tb)
    else:  # (A, S, S) -> (S, A, S); R holds transition rewards r(s, a, s')
        np.savez(inputs_path, P=P_tb, R=R_tb)
        layouts = {"dense": (np.ascontiguousarray(P_tb.transpose(1, 0, 2)), np.ascontiguousarray(R_tb.transpose(1, 0, 2)))}
    ref_layout = "sparse" if "sparse" in layouts else "dense"
    V_star, residual = reference_values(case, layouts[ref_layout], P_tb, r)
    report = CaseReport(case.name, case.gamma, float(V_star[0]), residual, residual / (1 - case.gamma))
    print(f"V*(0) = {V_star[0]:.6f}; ‖T*V* − V*‖∞ = {residual:.1e} (so ‖V_ref − V*‖∞ ≤ {report.certificate:.1e})", flush=True)

    for label, layout, solve, role in rlcore_solvers(case, args.quick):
        row = time_rlcore(case, f"{label}, {layout} P", layouts[layout], solve, V_star, args, role)
        report.rows.append(row)
        print(format_progress(row), flush=True)
    if case.toolbox and not args.no_toolbox:
        runs = [(solver, False) for solver in TOOLBOX_SOLVERS]
        if case.kind == "forest" and case.S <= 1000:  # its sparse mode, to show it is the slower one; at 10^4
            runs.insert(1, ("ValueIteration", True))  # its setup alone (the iteration bound) takes ~20 s
        for solver, sparse in runs:
            row = time_toolbox(case, solver, sparse, V_star, inputs_path, workdir, args)
            report.rows.append(row)
            print(format_progress(row), flush=True)
    return report


# ---------------------------------------------------------------------- printing
def fmt_time(seconds) -> str:
    if seconds is None:
        return "—"
    if seconds >= 1:
        return f"{seconds:.3g} s"
    return f"{seconds * 1e3:.3g} ms"


def fmt_err(error) -> str:
    return "—" if error is None else ("0" if error == 0 else f"{error:.1e}")


def format_progress(row: Row) -> str:
    if not row.finished:
        return f"  {row.package:12s} {row.solver:42s} {row.note}"
    return (f"  {row.package:12s} {row.solver:58s} CPU best {fmt_time(row.best):>8s} median {fmt_time(row.median):>8s}"
            f"  wall {fmt_time(row.wall):>8s}  k={row.reps:<2d} iters {row.iterations:>9s}  |V−V*|∞ {fmt_err(row.error)}")


def toolbox_fastest(report: CaseReport, accurate_only: bool = False):
    rows = [r for r in report.rows if r.package == "pymdptoolbox" and r.finished
            and (not accurate_only or r.error <= ACCURATE)]
    return min(rows, key=lambda r: r.best, default=None)


def rlcore_fastest_accurate(report: CaseReport):
    rows = [r for r in report.rows if r.package == "rlcore" and r.finished and r.error <= ACCURATE]
    return min(rows, key=lambda r: r.best, default=None)


def ratio(reference: Row | None, row: Row) -> str:
    if reference is None or not row.finished:
        return "—"
    return f"{reference.best / row.best:.3g}×"


def markdown_table(reports) -> str:
    lines = [
        "| case | package | solver | CPU time, best | median | wall, best | k | of which setup | iterations "
        "| max\\|V − V*\\| | speed-up vs pymdptoolbox's fastest | vs its fastest within 1e-8 |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for report in reports:
        fastest, fastest_accurate = toolbox_fastest(report), toolbox_fastest(report, accurate_only=True)
        for row in report.rows:
            best = fmt_time(row.best) if row.finished else row.note
            lines.append(
                f"| {row.case} | {row.package} | `{row.solver}` | {best} | {fmt_time(row.median)} | "
                f"{fmt_time(row.wall)} | {row.reps or '—'} | {fmt_time(row.setup)} | {row.iterations or '—'} | {fmt_err(row.error)} | "
                f"{ratio(fastest, row)} | {ratio(fastest_accurate, row)} |"
            )
    return "\n".join(lines)


def targets(reports) -> list[str]:
    """The issue's targets, each judged on this run's numbers."""
    lines = []
    for report in reports:
        ours = rlcore_fastest_accurate(report)
        fastest = toolbox_fastest(report)
        ours_txt = f"rlcore {ours.solver} {fmt_time(ours.best)}" if ours else "no rlcore solver within 1e-8"
        if report.case.startswith("forest(10^5"):
            met = ours is not None and ours.best < 1.0
            lines.append(f"{report.case}: {ours_txt} within 1e-8 of V*, target < 1 s: {'MET' if met else 'MISSED'}")
        elif report.case.startswith("forest") and fastest is not None:
            speedup = fastest.best / ours.best if ours else 0.0
            lines.append(
                f"{report.case}: {ours_txt} within 1e-8 of V* vs pymdptoolbox's fastest {fastest.solver} "
                f"{fmt_time(fastest.best)} (its max|V − V*| = {fmt_err(fastest.error)}): {speedup:.3g}× faster, "
                f"target ≥ 10×: {'MET' if speedup >= 10 else 'MISSED'}"
            )
        elif report.case.startswith("rand") and fastest is not None:
            their_vi = next((r for r in report.rows if r.package == "pymdptoolbox" and r.solver == "ValueIteration" and r.finished), None)
            ours_rule = next((r for r in report.rows if r.role == "rule"), None)
            if their_vi is None or ours_rule is None:
                continue
            for name, ref in (("its ValueIteration", their_vi), (f"its fastest ({fastest.solver})", fastest)):
                r1 = ours_rule.best / ref.best
                lines.append(
                    f"{report.case}, pymdptoolbox's stopping rule (ε = {TOOLBOX_EPSILON:g}): rlcore {ours_rule.solver} "
                    f"{fmt_time(ours_rule.best)} vs {name} {fmt_time(ref.best)}: {r1:.3g}× its time, "
                    f"target ≤ 1×: {'MET' if r1 <= 1 else 'MISSED'}"
                )
                r2 = ours.best / ref.best if ours else math.inf
                lines.append(
                    f"{report.case}, within 1e-8 of V*: {ours_txt} vs {name} {fmt_time(ref.best)}: {r2:.3g}× its time, "
                    f"target ≤ 2×: {'MET' if r2 <= 2 else 'MISSED'}"
                )
    return lines


def machine_description() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        toolbox = metadata.version("pymdptoolbox")
    except metadata.PackageNotFoundError:
        toolbox = "not installed"
    return (f"{cpu}, {os.cpu_count()} cores (1 used: OMP/OPENBLAS/MKL_NUM_THREADS=1); Python {platform.python_version()}, "
            f"numpy {np.__version__}, scipy {scipy.__version__}, pymdptoolbox {toolbox}")


def rlcore_version() -> str:
    import rlcore

    where = Path(rlcore.__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=where, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", str(where)], cwd=where, capture_output=True, text=True, check=True).stdout.strip()
        return f"{where} at {commit}{' + uncommitted changes' if dirty else ''}"
    except (OSError, subprocess.CalledProcessError):
        return str(where)


# ---------------------------------------------------------------------- main
def cases(quick: bool) -> list[Case]:
    if quick:
        return [Case("forest", 1000, 0.9), Case("forest", 1000, 0.99), Case("rand", 500, 0.9, A=10),
                Case("forest", 100_000, 0.99, toolbox=False)]
    forest = [Case("forest", S, g, toolbox=S <= 10_000) for S in (1000, 10_000, 100_000) for g in (0.9, 0.99)]
    return forest + [Case("rand", 500, g, A=10) for g in (0.9, 0.99)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: forest(10^3), rand γ=0.9, forest(10^5) policy iteration")
    parser.add_argument("--cap", type=float, default=None, help="CPU seconds a pymdptoolbox solver may run before it is killed (default 30, quick 10)")
    parser.add_argument("--min-time", type=float, default=None, help="repeat a measurement while its runs took less than this (default 1 s, quick 0.2 s)")
    parser.add_argument("--max-reps", type=int, default=None, help="at most this many runs per measurement (default 15, quick 3)")
    parser.add_argument("--seed", type=int, default=0, help="numpy seed for example.rand (default 0)")
    parser.add_argument("--no-toolbox", action="store_true", help="time rlcore only")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind, so that a running worker is killed
    if args.worker:
        worker(json.loads(args.worker))
        return 0
    try:
        import mdptoolbox.example  # noqa: F401  (the cases are its example MDPs, even with --no-toolbox)
    except ImportError:
        sys.exit("bench_dp.py needs pymdptoolbox: pip install -e '.[bench]' (or: make bench)")
    args.cap = args.cap if args.cap is not None else (10.0 if args.quick else 30.0)
    args.min_time = args.min_time if args.min_time is not None else (0.2 if args.quick else 1.0)
    args.max_reps = args.max_reps if args.max_reps is not None else (3 if args.quick else 15)

    command = "python bench/bench_dp.py" + "".join(f" {shlex.quote(a)}" for a in (sys.argv[1:] if argv is None else argv))
    print("# Exact dynamic programming: rlcore vs pymdptoolbox")
    print(f"command: {command}")
    print(f"machine: {machine_description()}")
    print(f"rlcore:  {rlcore_version()}")
    print(f"load average at start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_dp_") as workdir:
        reports = [run_case(case, args, workdir) for case in cases(args.quick)]
    elapsed = time.perf_counter() - started

    print("\n## Results\n")
    print(markdown_table(reports))
    print("\n## Targets\n")
    for line in targets(reports):
        print(f"- {line}")
    print("\nV* certificates (‖V_ref − V*‖∞ ≤ ‖T*V_ref − V_ref‖∞ / (1 − γ)): "
          + "; ".join(f"{r.case}: {r.certificate:.0e}" for r in reports))
    print(f"load average at end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}; wall time {elapsed:.0f} s")
    print(f"reproduce: {command}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"command": command, "machine": machine_description(), "reports": [
            {**{k: v for k, v in asdict(r).items() if k != "rows"}, "rows": [asdict(row) for row in r.rows]} for r in reports
        ]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
