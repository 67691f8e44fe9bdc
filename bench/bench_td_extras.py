#!/usr/bin/env python
"""Figure 6.5 (maximisation bias, 10,000 runs) and Figure 7.2 (n-step TD, 100 runs per point): the
lockstep runner against per-run Python loops, side by side in one run.

    .venv/bin/python bench/bench_td_extras.py            # ~1 min on one core
    .venv/bin/python bench/bench_td_extras.py --quick    # smoke run, ~20 s (3 values of α, fewer reference runs)

1. Figure 6.5 (Example 6.7, ε = 0.1, α = 0.1, γ = 1, 10 actions in B, 300 episodes, the book's
   10,000 runs, Q-learning and double Q-learning): ``rlcore.train_lockstep`` on
   ``rlcore.mdps.maximization_bias()`` against ``book_loop_6_5`` below, written for this benchmark in
   the style of the book's reference implementation (the Python code of the book's figures): one
   run at a time, Q as a list of numpy arrays per state, ``np.random.binomial`` for ε and for
   double Q-learning's coin, ``np.random.choice`` among the actions equal to ``np.max`` of the row,
   ``np.random.normal(-0.1, 1)`` for B's reward. The loop is timed on ``--reference-runs`` runs and
   its time scaled to 10,000 (runs are independent, so the cost per run is constant).
   Target: both agents together in < 10 s, ≥ 20× the per-run loop.

2. Figure 7.2 (Section 7.1, the 19-state random walk, n = 1, 2, 4, …, 512, α = 0.1, 0.2, …, 1.0,
   10 episodes, 100 runs per point): one ``rlcore.train_lockstep(rlcore.NStepTD(...), alpha=...)`` call
   per n — every α at once, one step size per run — against ``book_loop_7_2``, the book's n-step TD pseudocode in the reference
   implementation's style (``np.random.binomial`` per step, the n-step return summed term by term
   with ``pow(γ, k)``), timed on ``--reference-runs-7-2`` runs per point and scaled to 100.
   Target: < 10 s, ≥ 20×.

Both implementations' curves are printed side by side as a check that they compute the same figure
(the per-run loops on fewer runs, so their curves are noisier).

Fairness: one core (OMP/OPENBLAS/MKL_NUM_THREADS=1 before numpy is imported). Times are CPU times
of the process (``time.process_time``), which on a shared machine leave out the time spent waiting
for a core; wall times are printed beside them. Each lockstep measurement is repeated (interleaved
with the reference) and the best is used for the ratios.
"""

from _common import timed  # first: pins the math libraries to one core before numpy is imported

import argparse  # noqa: E402
import copy  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import rlcore as rl  # noqa: E402
from rlcore import mdps  # noqa: E402


# ---------------------------------------------------------------------- 1. Figure 6.5
STATE_A, STATE_B, STATE_TERMINAL = 0, 1, 2
ACTION_A_RIGHT, ACTION_A_LEFT = 0, 1
ACTIONS_B = range(10)
STATE_ACTIONS = [[ACTION_A_RIGHT, ACTION_A_LEFT], ACTIONS_B]
INITIAL_Q = [np.zeros(2), np.zeros(len(ACTIONS_B)), np.zeros(1)]
EPSILON, ALPHA, GAMMA = 0.1, 0.1, 1.0


def choose_action(state, q_value):
    if np.random.binomial(1, EPSILON) == 1:
        return np.random.choice(STATE_ACTIONS[state])
    values_ = q_value[state]
    return np.random.choice([action_ for action_, value_ in enumerate(values_) if value_ == np.max(values_)])


def take_action(state, action):
    if state == STATE_A:
        return STATE_B if action == ACTION_A_LEFT else STATE_TERMINAL
    return STATE_TERMINAL


def episode_6_5(q1, q2=None):
    """One episode of Q-learning (q2 None) or double Q-learning; returns 1 if A went left."""
    state, left_count = STATE_A, 0
    while state != STATE_TERMINAL:
        if q2 is None:
            action = choose_action(state, q1)
        else:
            action = choose_action(state, [item1 + item2 for item1, item2 in zip(q1, q2)])
        if state == STATE_A and action == ACTION_A_LEFT:
            left_count += 1
        reward = 0 if state == STATE_A else np.random.normal(-0.1, 1)
        next_state = take_action(state, action)
        if q2 is None:
            active_q, target = q1, np.max(q1[next_state])
        else:
            active_q, target_q = (q1, q2) if np.random.binomial(1, 0.5) == 1 else (q2, q1)
            best_action = np.random.choice([action_ for action_, value_ in enumerate(active_q[next_state])
                                            if value_ == np.max(active_q[next_state])])
            target = target_q[next_state][best_action]
        active_q[state][action] += ALPHA * (reward + GAMMA * target - active_q[state][action])
        state = next_state
    return left_count


def book_loop_6_5(runs, double, episodes=300, seed=0):
    """The % of left actions from A per episode, one run at a time (the reference implementation's style)."""
    np.random.seed(seed)
    left = np.zeros((runs, episodes))
    for run in range(runs):
        q1 = copy.deepcopy(INITIAL_Q)
        q2 = copy.deepcopy(INITIAL_Q) if double else None
        for ep in range(episodes):
            left[run, ep] = episode_6_5(q1, q2)
    return left.mean(axis=0)


def rlcore_6_5(runs, Agent, episodes=300, seed=0):
    bias = mdps.maximization_bias()
    history = rl.train_lockstep(Agent(bias, alpha=ALPHA, epsilon=EPSILON), bias, runs, episodes, seed=seed)
    return (history.lengths == 2).mean(axis=0)


def bench_6_5(reference_runs, reps):
    runs = 10_000
    rows, curves = [], {}
    for name, Agent, double in (("Q-learning", rl.QLearning, False), ("double Q-learning", rl.DoubleQLearning, True)):
        best = None
        for rep in range(reps):
            cpu, wall, curve = timed(lambda: rlcore_6_5(runs, Agent, seed=rep))
            if best is None or cpu < best[0]:
                best = (cpu, wall, curve)
        cpu_ref, wall_ref, ref_curve = timed(lambda: book_loop_6_5(reference_runs, double))
        scale = runs / reference_runs
        rows.append(dict(figure="6.5", method=name, runs=runs, lockstep_cpu_s=best[0], lockstep_wall_s=best[1],
                         reference_runs_timed=reference_runs, reference_cpu_s_scaled=cpu_ref * scale,
                         reference_wall_s_scaled=wall_ref * scale, ratio=cpu_ref * scale / best[0]))
        curves[name] = (best[2], ref_curve)
    return rows, curves


# ---------------------------------------------------------------------- 2. Figure 7.2
N_STATES = 19
END_STATES = [0, N_STATES + 1]
START_STATE = 10
TRUE_VALUE = np.arange(-20, 22, 2) / 20.0
TRUE_VALUE[0] = TRUE_VALUE[-1] = 0


def temporal_difference(value, n, alpha):
    """One episode of n-step TD on the 19-state walk, the book's pseudocode in the reference implementation's style."""
    state = START_STATE
    states, rewards = [state], [0]
    time_ = 0
    T = float("inf")
    while True:
        time_ += 1
        if time_ < T:
            next_state = state + 1 if np.random.binomial(1, 0.5) == 1 else state - 1
            reward = -1 if next_state == 0 else (1 if next_state == N_STATES + 1 else 0)
            states.append(next_state)
            rewards.append(reward)
            if next_state in END_STATES:
                T = time_
        update_time = time_ - n
        if update_time >= 0:
            returns = 0.0
            for t in range(update_time + 1, min(T, update_time + n) + 1):
                returns += pow(1.0, t - update_time - 1) * rewards[t]
            if update_time + n <= T:
                returns += pow(1.0, n) * value[states[update_time + n]]
            state_to_update = states[update_time]
            if state_to_update not in END_STATES:
                value[state_to_update] += alpha * (returns - value[state_to_update])
        if update_time == T - 1:
            break
        state = next_state


def book_loop_7_2(n, alpha, runs, episodes=10, seed=0):
    np.random.seed(seed)
    error = 0.0
    for _ in range(runs):
        value = np.zeros(N_STATES + 2)
        for _ in range(episodes):
            temporal_difference(value, n, alpha)
            error += np.sqrt(np.sum(np.power(value - TRUE_VALUE, 2)) / N_STATES)
    return error / (runs * episodes)


def rlcore_7_2(n, alphas, runs, episodes=10, seed=0):
    """Every α of one n in ONE lockstep call: ``runs`` runs per α, one step size per run."""
    walk = mdps.random_walk(N_STATES, left_reward=-1)
    h = rl.train_lockstep(rl.NStepTD(walk, n=n, alpha=alphas[0]), walk, runs * len(alphas), episodes, seed=seed,
                          snapshot_every=1, alpha=np.repeat(alphas, runs))
    V = h.snapshots[:, 1:, 1:-1]  # (runs·α, episodes, 19)
    error = np.sqrt(((V - TRUE_VALUE[1:-1]) ** 2).mean(axis=-1)).mean(axis=1)  # per run
    return error.reshape(len(alphas), runs).mean(axis=1)  # per α


def bench_7_2(alphas, reference_runs, ns):
    runs = 100
    points = []
    for n in ns:
        seed = 1000 * n  # a different stream for every n, in both implementations
        cpu, wall, errors = timed(lambda: rlcore_7_2(n, np.array(alphas), runs, seed=seed))
        for alpha, error in zip(alphas, errors):
            cpu_ref, wall_ref, ref_error = timed(lambda: book_loop_7_2(n, alpha, reference_runs, seed=seed + round(100 * alpha)))
            scale = runs / reference_runs
            points.append(dict(n=n, alpha=alpha, lockstep_cpu_s=cpu / len(alphas), lockstep_wall_s=wall / len(alphas),
                               rms=float(error), reference_cpu_s_scaled=cpu_ref * scale,
                               reference_wall_s_scaled=wall_ref * scale, reference_rms=ref_error))
        print(f"  n = {n:3d}: lockstep {cpu:6.2f} s for {len(alphas)} values of α × {runs} runs in one call; "
              f"per-run loop {sum(p['reference_cpu_s_scaled'] for p in points[-len(alphas):]):6.2f} s scaled", flush=True)
    return points


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 values of α and fewer reference runs")
    parser.add_argument("--reps", type=int, default=2, help="repeats of each Figure 6.5 lockstep measurement")
    parser.add_argument("--reference-runs", type=int, default=None, help="runs of the Figure 6.5 loop timed (scaled to 10,000)")
    parser.add_argument("--reference-runs-7-2", type=int, default=None, help="runs per point of the Figure 7.2 loop timed")
    parser.add_argument("--figures", nargs="+", choices=["6.5", "7.2"], default=["6.5", "7.2"], help="which figures")
    parser.add_argument("--json", type=Path, default=None, help="write the measurements here")
    args = parser.parse_args()
    ref_6_5 = args.reference_runs or (100 if args.quick else 500)
    ref_7_2 = args.reference_runs_7_2 or (5 if args.quick else 10)
    alphas = [0.2, 0.6, 1.0] if args.quick else [round(0.1 * k, 1) for k in range(1, 11)]
    ns = [2 ** k for k in range(10)]
    print(f"python {platform.python_version()}, numpy {np.__version__}, one thread; CPU times (wall beside)")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")

    rows, points = [], []
    if "6.5" in args.figures:
        rows = figure_6_5(ref_6_5, args.reps)
    if "7.2" in args.figures:
        points = figure_7_2(alphas, ref_7_2, ns)
    if args.json:
        args.json.write_text(json.dumps(dict(figure_6_5=rows, figure_7_2=points), indent=1))


def figure_6_5(ref_6_5, reps):
    print("\n1. Figure 6.5: 10,000 runs × 300 episodes")
    rows, curves = bench_6_5(ref_6_5, reps)
    for name, (ours, ref) in curves.items():
        print(f"  {name:18s} % left at episodes 1, 10, 20, 50, 100, 300 — rlcore: "
              + ", ".join(f"{100 * ours[e - 1]:4.1f}" for e in (1, 10, 20, 50, 100, 300))
              + f" | per-run loop ({ref_6_5} runs): " + ", ".join(f"{100 * ref[e - 1]:4.1f}" for e in (1, 10, 20, 50, 100, 300)))
    total = sum(r["lockstep_cpu_s"] for r in rows)
    total_ref = sum(r["reference_cpu_s_scaled"] for r in rows)
    for r in rows:
        print(f"  {r['method']:18s} lockstep {r['lockstep_cpu_s']:6.2f} s (wall {r['lockstep_wall_s']:.2f}), per-run loop "
              f"{r['reference_cpu_s_scaled']:7.1f} s (timed on {r['reference_runs_timed']} runs, scaled): {r['ratio']:5.1f}×")
    print(f"  Figure 6.5 both agents: {total:.2f} s (target < 10 s: {'MET' if total < 10 else 'MISSED'}), "
          f"{total_ref / total:.1f}× the per-run loop (target ≥ 20×: {'MET' if total_ref / total >= 20 else 'MISSED'})")

    return rows


def figure_7_2(alphas, ref_7_2, ns):
    print(f"\n2. Figure 7.2: n = 1 … 512 × α = {alphas}, 100 runs per point, 10 episodes")
    points = bench_7_2(alphas, ref_7_2, ns)
    total72 = sum(p["lockstep_cpu_s"] for p in points)
    total72_ref = sum(p["reference_cpu_s_scaled"] for p in points)
    for n in ns:
        mine = [p for p in points if p["n"] == n]
        best, best_ref = min(mine, key=lambda p: p["rms"]), min(mine, key=lambda p: p["reference_rms"])
        print(f"  n = {n:3d}: lockstep {sum(p['lockstep_cpu_s'] for p in mine):7.2f} s, per-run loop "
              f"{sum(p['reference_cpu_s_scaled'] for p in mine):7.2f} s; lowest RMS {best['rms']:.3f} at α = {best['alpha']}"
              f" (loop: {best_ref['reference_rms']:.3f} at α = {best_ref['alpha']})")
    print(f"  Figure 7.2: {total72:.1f} s (target < 10 s: {'MET' if total72 < 10 else 'MISSED'}), "
          f"{total72_ref / total72:.2f}× the per-run loop (target ≥ 20×: {'MET' if total72_ref / total72 >= 20 else 'MISSED'})")
    return points


if __name__ == "__main__":
    main()
