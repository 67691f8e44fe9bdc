#!/usr/bin/env python
"""Function approximation: Figures 9.1, 9.2 and Mountain Car (Figure 10.2) with rlcore against a faithful
per-run Python loop, in one run.

    .venv/bin/python bench/bench_approximation.py            # ~2.5 min of CPU (about 10 min wall on a busy 2-core machine)
    .venv/bin/python bench/bench_approximation.py --quick    # smoke run, ~30 s of CPU (smaller, scaled where printed)

The per-run loops below are written for this benchmark in the style of the book's own reproduction
code (one run at a time, one step at a time, ``np.random`` for every draw, a value-function object
whose ``value``/``update`` read and write the weights): the 1000-state walk with ``np.random.randint``
jumps, group weights of state aggregation, gradient Monte Carlo, n-step semi-gradient TD; Mountain Car
with Sutton's tiles3 (``rlcore.approximation.tiles``, a line-by-line port) over an IHT of 4096 indices (Section 10.1)
and semi-gradient SARSA. Each section prints what both compute, as a check that they compute the
same figure.

1. Figures 9.1 and 9.2 (left): gradient MC and semi-gradient TD(0) with 10 groups. The book's
   setting is one run of 100,000 episodes (α = 2·10⁻⁵ and 2·10⁻⁴). Timed: the per-run loop and
   ``rlcore.train`` in that setting (on ``--book-episodes`` episodes, scaled to 100,000); and what
   rlcore uses to reach the figure — ``rlcore.train_lockstep`` with more runs and fewer episodes at a
   larger α (the same asymptote, computed exactly by ``mc_solution`` / ``td_fixed_point``, whose time
   is printed too). The error columns are max |w − w_exact| of what was run.
2. Figure 9.2 (right): n-step semi-gradient TD, 20 groups, RMS error over the first 10 episodes,
   100 runs per (n, α) — the book's setting, 10 values of n × 6 of α. rlcore runs the whole grid in
   lockstep, one call per n (one α per run); the per-run loop is timed on three (n, α) pairs and
   scaled to the grid.
3. Mountain Car, Figure 10.2 (semi-gradient SARSA, 8 tilings, ε = 0, α = 0.1/8, 0.2/8, 0.5/8, 100 runs ×
   500 episodes): ``train_lockstep_dynamics`` on ``MountainCar`` for all of it (the three step sizes in one
   call, one α per run); the per-run loop timed
   on ``--car-runs`` runs of α = 0.5/8 and scaled per run-step; ``rlcore.train`` on Gymnasium's
   MountainCar-v0 (one run) for comparison. Reported in episodes and steps per CPU second.

Fairness: one core (thread variables set to 1 before numpy is imported); CPU time of the process
(``time.process_time``), wall time beside it. On a shared machine the wall time is longer.
"""

from _common import timed  # first: pins the math libraries to one core before numpy is imported

import argparse  # noqa: E402
import contextlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import rlcore as rl  # noqa: E402
from rlcore import approximation as ap  # noqa: E402


def quiet(fn):
    with contextlib.redirect_stderr(io.StringIO()):
        return fn()


# ---------------------------------------------------------------------- the per-run loops: the 1000-state walk
N_STATES, STEP_RANGE, START = 1000, 100, 500


class GroupValue:
    """State aggregation as in the book's code: value(s) and update(delta, s) on one weight per group."""

    def __init__(self, n_groups):
        self.group_size = N_STATES // n_groups
        self.params = np.zeros(n_groups)

    def value(self, state):
        if state in (0, N_STATES + 1):
            return 0.0
        return self.params[(state - 1) // self.group_size]

    def update(self, delta, state):
        self.params[(state - 1) // self.group_size] += delta


def walk_step(state):
    jump = np.random.randint(1, STEP_RANGE + 1) * (1 if np.random.binomial(1, 0.5) == 1 else -1)
    state = max(min(state + jump, N_STATES + 1), 0)
    return state, -1.0 if state == 0 else (1.0 if state == N_STATES + 1 else 0.0)


def loop_gradient_mc(value, alpha, n_episodes):
    steps = 0
    for _ in range(n_episodes):
        state, trajectory, reward = START, [START], 0.0
        while state not in (0, N_STATES + 1):
            state, reward = walk_step(state)
            trajectory.append(state)
        for s in trajectory[:-1]:  # γ = 1, one reward at the end: G_t = the final reward
            value.update(alpha * (reward - value.value(s)), s)
        steps += len(trajectory) - 1
    return steps


def loop_n_step_td(value, n, alpha, n_episodes, true_value=None):
    """n-step semi-gradient TD (γ = 1); with ``true_value``, the RMS error after each episode."""
    steps, errors = 0, []
    for _ in range(n_episodes):
        state, states, rewards, time_, T = START, [START], [0.0], 0, float("inf")
        while True:
            time_ += 1
            if time_ < T:
                next_state, reward = walk_step(state)
                states.append(next_state)
                rewards.append(reward)
                if next_state in (0, N_STATES + 1):
                    T = time_
            tau = time_ - n
            if tau >= 0:
                returns = sum(rewards[tau + 1:min(T, tau + n) + 1])
                if tau + n <= T:
                    returns += value.value(states[tau + n])
                value.update(alpha * (returns - value.value(states[tau])), states[tau])
            if tau == T - 1:
                break
            state = next_state
        steps += T
        if true_value is not None:
            estimates = np.array([value.value(s) for s in range(1, N_STATES + 1)])
            errors.append(np.sqrt(np.mean((estimates - true_value[1:-1]) ** 2)))
    return steps, errors


# ---------------------------------------------------------------------- 1. Figures 9.1 and 9.2 (left)
def bench_figures_9_1_and_9_2(book_episodes, lock_scale):
    walk = rl.mdps.random_walk_1000()
    pi = rl.uniform_policy(walk)
    v_pi = rl.policy_evaluation(walk, pi).V
    mu = rl.on_policy_distribution(walk, pi)
    X = ap.feature_matrix(ap.StateAggregation(1, 1001, 10), walk)
    exact_cpu, _, (w_mc, w_td) = timed(lambda: (ap.mc_solution(X, v_pi, mu), rl.td_fixed_point(walk, pi, X)))
    scale = 100_000 / book_episodes
    rows = {}
    for figure, alpha, make, loop, w_exact, (runs, episodes, alpha_fast) in (
            ("Figure 9.1 (gradient MC)", 2e-5, rl.GradientMonteCarlo,
             lambda value: loop_gradient_mc(value, 2e-5, book_episodes), w_mc, (50, 400, 5e-3)),
            ("Figure 9.2 left (TD(0))", 2e-4, rl.SemiGradientTD,
             lambda value: loop_n_step_td(value, 1, 2e-4, book_episodes)[0], w_td, (10, 800, 0.025))):
        np.random.seed(0)
        value = GroupValue(10)
        loop_cpu, loop_wall, loop_steps = timed(lambda: loop(value))
        env = walk.to_env()
        agent = make(env, features=X, alpha=alpha, gamma=1.0)
        train_cpu, train_wall, history = timed(lambda: rl.train(agent, env, book_episodes, seed=0, progress=False))
        runs, episodes = max(2, int(runs * lock_scale)), max(20, int(episodes * lock_scale))
        lock_cpu, lock_wall, lock = timed(lambda: rl.train_lockstep(make(walk, features=X, alpha=alpha_fast), walk, runs, episodes, seed=0))
        rows[figure] = dict(
            loop=dict(cpu_s=loop_cpu * scale, wall_s=loop_wall * scale, steps_per_s=loop_steps / loop_cpu,
                      error=float(np.abs(value.params - w_exact).max())),
            train=dict(cpu_s=train_cpu * scale, wall_s=train_wall * scale, steps_per_s=history.n_steps / train_cpu,
                       error=float(np.abs(agent.w - w_exact).max())),
            lockstep=dict(cpu_s=lock_cpu, wall_s=lock_wall, runs=runs, episodes=episodes, alpha=alpha_fast,
                          run_steps_per_s=lock.lengths.sum() / lock_cpu,
                          error=float(np.abs(lock.tables.mean(axis=0) - w_exact).max())),
            exact_cpu_s=exact_cpu, scale=scale)
    return rows


# ---------------------------------------------------------------------- 2. Figure 9.2 (right)
N_VALUES = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
ALPHAS = [0.1, 0.2, 0.4, 0.6, 0.8, 1.0]


def bench_figure_9_2_right(n_runs, loop_runs):
    walk = rl.mdps.random_walk_1000()
    v_pi = rl.policy_evaluation(walk, rl.uniform_policy(walk)).V
    X = ap.feature_matrix(ap.StateAggregation(1, 1001, 20), walk)

    def grid():  # one call per n: n_runs runs of each α (one step size per run)
        errors = np.zeros((len(N_VALUES), len(ALPHAS)))
        for i, n in enumerate(N_VALUES):
            h = rl.train_lockstep(rl.SemiGradientTD(walk, n=n, features=X), walk, n_runs * len(ALPHAS), 10, seed=i,
                                  snapshot_every=1, alpha=np.repeat(ALPHAS, n_runs))
            V = h.snapshots[:, 1:] @ X.T
            errors[i] = np.sqrt(((V - v_pi)[..., 1:1001] ** 2).mean(axis=-1)).mean(axis=1).reshape(len(ALPHAS), n_runs).mean(axis=1)
        return errors

    lock_cpu, lock_wall, errors = timed(grid)
    loop_cpu, loop_errors = 0.0, {}
    np.random.seed(1)
    for n, alpha in ((1, 0.8), (4, 0.4), (512, 0.1)):
        def runs():
            per_run = []
            for _ in range(loop_runs):
                per_run.append(np.mean(loop_n_step_td(GroupValue(20), n, alpha, 10, v_pi)[1]))
            return np.mean(per_run)
        cpu, _, loop_errors[n, alpha] = timed(runs)
        loop_cpu += cpu
    loop_grid_cpu = loop_cpu / 3 / loop_runs * n_runs * len(N_VALUES) * len(ALPHAS)
    return dict(lockstep_cpu_s=lock_cpu, lockstep_wall_s=lock_wall, loop_grid_cpu_s=loop_grid_cpu, n_runs=n_runs,
                loop_runs=loop_runs, ratio=loop_grid_cpu / lock_cpu, errors=errors,
                checks={f"n={n}, α={a}": (float(errors[N_VALUES.index(n), ALPHAS.index(a)]), float(e))
                        for (n, a), e in loop_errors.items()})


# ---------------------------------------------------------------------- 3. Mountain Car
def loop_mountain_car(alpha, n_episodes, seed):
    """One run of semi-gradient SARSA on Mountain Car in the style of the book's code; returns episode lengths."""
    np.random.seed(seed)
    iht, weights = ap.IHT(4096), np.zeros(4096)

    def active(position, velocity, action):
        return ap.tiles(iht, 8, [8 * position / (0.5 + 1.2), 8 * velocity / (0.07 + 0.07)], [action])

    def value(position, velocity, action):
        if position == 0.5:
            return 0.0
        return np.sum(weights[active(position, velocity, action)])

    def get_action(position, velocity):
        values = [value(position, velocity, a) for a in (-1, 0, 1)]
        return np.random.choice([a for a, v in enumerate(values) if v == np.max(values)]) - 1

    lengths = []
    for _ in range(n_episodes):
        position, velocity = np.random.uniform(-0.6, -0.4), 0.0
        action, steps = get_action(position, velocity), 0
        while position < 0.5:
            tiles_sa = active(position, velocity, action)
            new_velocity = min(max(-0.07, velocity + 0.001 * action - 0.0025 * np.cos(3 * position)), 0.07)
            new_position = min(max(-1.2, position + new_velocity), 0.5)
            if new_position == -1.2:
                new_velocity = 0.0
            new_action = get_action(new_position, new_velocity)
            target = -1.0 + value(new_position, new_velocity, new_action)
            weights[tiles_sa] += alpha * (target - np.sum(weights[tiles_sa]))
            position, velocity, action, steps = new_position, new_velocity, new_action, steps + 1
        lengths.append(steps)
    return np.array(lengths)


def bench_mountain_car(n_runs, n_episodes, loop_runs, gym_episodes):
    car, coder = ap.MountainCar(), ap.book_tile_coder()
    alpha8 = np.array([0.1, 0.2, 0.5])
    agent = rl.SemiGradientSarsa(car, features=coder, gamma=1.0)  # all three step sizes in one call
    cpu, wall, h = timed(lambda: ap.train_lockstep_dynamics(agent, car, 3 * n_runs, n_episodes, seed=0,
                                                            alpha=np.repeat(alpha8 / 8, n_runs)))
    lock = {a: dict(cpu_s=cpu / 3, wall_s=wall / 3, run_steps=int(h.lengths[k * n_runs:(k + 1) * n_runs].sum()),
                    curve=h.lengths[k * n_runs:(k + 1) * n_runs].mean(axis=0)) for k, a in enumerate(alpha8)}
    loop_cpu, loop_wall, loop_lengths = timed(lambda: np.array([loop_mountain_car(0.5 / 8, n_episodes, seed) for seed in range(loop_runs)]))
    env = gym.make("MountainCar-v0", max_episode_steps=1_000_000)
    agent = rl.SemiGradientSarsa(env, features=coder, alpha=0.5 / 8, gamma=1.0)
    gym_cpu, gym_wall, gym_history = timed(lambda: rl.train(agent, env, gym_episodes, seed=0, max_episode_steps=None, progress=False))
    total_cpu = sum(r["cpu_s"] for r in lock.values())
    loop_per_step = loop_cpu / loop_lengths.sum()
    loop_figure_cpu = loop_per_step * sum(r["run_steps"] for r in lock.values())  # the per-run loop for the same steps
    return dict(
        n_runs=n_runs, n_episodes=n_episodes, lockstep_cpu_s=total_cpu, lockstep_wall_s=sum(r["wall_s"] for r in lock.values()),
        lockstep_episodes_per_s=3 * n_runs * n_episodes / total_cpu,
        lockstep_steps_per_s=sum(r["run_steps"] for r in lock.values()) / total_cpu,
        loop_runs=loop_runs, loop_cpu_s=loop_cpu, loop_steps_per_s=1 / loop_per_step,
        loop_episodes_per_s=loop_lengths.size / loop_cpu, loop_figure_cpu_s=loop_figure_cpu, ratio=loop_figure_cpu / total_cpu,
        gym_train_steps_per_s=gym_history.n_steps / gym_cpu, gym_train_episodes_per_s=gym_episodes / gym_cpu,
        curves={a: r["curve"] for a, r in lock.items()}, loop_curve=loop_lengths.mean(axis=0))


# ---------------------------------------------------------------------- main
def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="everything about 10× smaller (times scaled where said)")
    parser.add_argument("--book-episodes", type=int, default=None,
                        help="episodes of the book's single run actually timed in section 1 (scaled to 100,000); "
                             "default 20,000 (2,000 with --quick)")
    parser.add_argument("--car-runs", type=int, default=None, help="runs of the per-run Mountain Car loop (default 2, 1 with --quick)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()
    book_episodes = args.book_episodes or (2_000 if args.quick else 20_000)
    car_runs = args.car_runs or (1 if args.quick else 2)

    print(f"Python {platform.python_version()}, numpy {np.__version__}, gymnasium {gym.__version__}, "
          f"{platform.processor() or platform.machine()}; one core; CPU time (wall time in brackets)\n")
    results = {}

    print(f"1. Figures 9.1 and 9.2 (left), 10 groups; the book: 1 run × 100,000 episodes "
          f"(timed on {book_episodes:,}, scaled ×{100_000 / book_episodes:g})")
    figs = quiet(lambda: bench_figures_9_1_and_9_2(book_episodes, 1.0))
    results["figures_9_1_9_2"] = figs
    for figure, row in figs.items():
        loop, train, lock = row["loop"], row["train"], row["lockstep"]
        print(f"  {figure}")
        print(f"    per-run Python loop, book's setting      {loop['cpu_s']:8.1f} s ({loop['wall_s']:.1f})  "
              f"{loop['steps_per_s']:9.0f} steps/s   error {loop['error']:.3f}")
        print(f"    rlcore.train, book's setting             {train['cpu_s']:8.1f} s ({train['wall_s']:.1f})  "
              f"{train['steps_per_s']:9.0f} steps/s   error {train['error']:.3f}   {loop['cpu_s'] / train['cpu_s']:.2f}× the loop")
        print(f"    rlcore.train_lockstep, {lock['runs']} runs × {lock['episodes']} eps, α = {lock['alpha']:g}"
              f"{'':>3s}{lock['cpu_s']:6.1f} s ({lock['wall_s']:.1f})  {lock['run_steps_per_s']:9.0f} run-steps/s   "
              f"error {lock['error']:.3f}   {loop['cpu_s'] / lock['cpu_s']:.1f}× faster to the figure")
        print(f"    exact asymptote (mc_solution / td_fixed_point)   {row['exact_cpu_s'] * 1e3:.0f} ms")
    print("    (error: max |w − w_exact| of what was run; the timed part of the book's setting is not converged)")

    n_runs, loop_runs = (20, 3) if args.quick else (100, 10)
    print(f"\n2. Figure 9.2 (right): n-step semi-gradient TD, 20 groups, {n_runs} runs × 10 episodes per (n, α), "
          f"{len(N_VALUES)} n × {len(ALPHAS)} α")
    right = quiet(lambda: bench_figure_9_2_right(n_runs, loop_runs))
    results["figure_9_2_right"] = {k: v for k, v in right.items() if k != "errors"}
    print(f"  rlcore.train_lockstep, whole grid   {right['lockstep_cpu_s']:7.1f} s ({right['lockstep_wall_s']:.1f})")
    print(f"  per-run Python loop, whole grid    {right['loop_grid_cpu_s']:7.1f} s  (timed on 3 pairs × {loop_runs} runs, scaled)")
    print(f"  ratio                              {right['ratio']:7.1f} ×")
    best = right["errors"].min(axis=1)
    print("  best RMS error per n: " + ", ".join(f"n={n}: {e:.3f}" for n, e in zip(N_VALUES, best)))
    print("  same pairs, lockstep vs loop: " + "; ".join(f"{k}: {a:.3f} vs {b:.3f}" for k, (a, b) in right["checks"].items()))

    car_runs_lock, car_episodes = (10, 50) if args.quick else (100, 500)
    print(f"\n3. Mountain Car, Figure 10.2: semi-gradient SARSA, 8 tilings, α = 0.1/8, 0.2/8, 0.5/8, "
          f"{car_runs_lock} runs × {car_episodes} episodes")
    car = quiet(lambda: bench_mountain_car(car_runs_lock, car_episodes, car_runs, 20 if args.quick else 100))
    results["mountain_car"] = {k: v for k, v in car.items() if k not in ("curves", "loop_curve")}
    print(f"  rlcore train_lockstep_dynamics     {car['lockstep_cpu_s']:7.1f} s ({car['lockstep_wall_s']:.1f})  "
          f"{car['lockstep_episodes_per_s']:7.1f} episodes/s  {car['lockstep_steps_per_s']:8.0f} steps/s")
    print(f"  per-run Python loop (tiles3)       {car['loop_figure_cpu_s']:7.1f} s  "
          f"{car['loop_episodes_per_s']:7.1f} episodes/s  {car['loop_steps_per_s']:8.0f} steps/s  "
          f"(timed on {car['loop_runs']} run(s) of α = 0.5/8, scaled to the figure's steps)")
    print(f"  ratio                              {car['ratio']:7.1f} ×")
    print(f"  rlcore.train on MountainCar-v0 (one run)  {car['gym_train_episodes_per_s']:.1f} episodes/s, "
          f"{car['gym_train_steps_per_s']:.0f} steps/s")
    curve, loop_curve = car["curves"][0.5], car["loop_curve"]
    print(f"  α = 0.5/8 steps per episode, episodes 1 / 10 / last 10: lockstep {curve[0]:.0f} / {curve[9]:.0f} / "
          f"{curve[-10:].mean():.0f}; loop {loop_curve[0]:.0f} / {loop_curve[9]:.0f} / {loop_curve[-10:].mean():.0f}")

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2, default=lambda x: x.tolist() if hasattr(x, "tolist") else float(x)))


if __name__ == "__main__":
    main()
