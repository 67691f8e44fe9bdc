#!/usr/bin/env python
"""Learning agents: rlcore.train against Gymnasium's FrozenLake-tutorial loop, and the lockstep
runner against a per-run Python loop of Sutton & Barto's Figure 6.4, in one run.

    .venv/bin/python bench/bench_agents.py            # ~2–3 min
    .venv/bin/python bench/bench_agents.py --quick    # smoke run, ~30 s (the per-run loop on 5 runs, scaled ×10)

1. ``rlcore.train(QLearning(...), env)`` against the tabular Q-learning loop of Gymnasium's tutorial
   "Solving Frozenlake with Tabular Q-Learning" on the same environment (``gym.make`` with its
   wrappers), FrozenLake-v1 8x8 (slippery) and CliffWalking-v1, with the tutorial's settings
   (α = 0.8, γ = 0.95, ε = 0.1) for both. ``tutorial_loop`` below is written for this benchmark to
   do the tutorial's per-step work: a ``Qlearning`` object whose ``update`` returns the new value
   from ``np.max`` over the next row, an ``EpsilonGreedy`` object drawing ``rng.uniform(0, 1)``,
   exploring with ``action_space.sample()`` and breaking ties with ``np.where(q == max(q))`` and
   ``rng.choice``, the lists of visited states and actions, and ``env.reset(seed=...)`` at every
   episode. The environment alone (random actions from a precomputed list) is timed too.
   Target: rlcore's steps/s ≥ 2× the tutorial loop's.

2. Figure 6.4 (Example 6.6, cliff walking, ε = 0.1, α = 0.5, 50 runs × 500 episodes, SARSA and
   Q-learning): ``rlcore.train_lockstep`` against a per-run, per-step Python loop. The book's
   reference implementation is not available offline, so ``book_loop`` below is written for this
   benchmark in its style: a 4 × 12 × 4 numpy Q array per run, ``np.random.binomial`` for ε,
   ``np.random.choice`` among the maximising actions (``np.max`` over the row), a Python ``step``
   function on (row, column) coordinates, one update per step. Target: Figure 6.4 in < 2 s, ≥ 50×
   the per-run loop. Both implementations' final-100-episode means are printed side by side as a
   check that they compute the same figure.

Fairness: one core (OMP/OPENBLAS/MKL_NUM_THREADS=1 before numpy is imported). Times are CPU times
of the process (``time.process_time``), which on a shared machine leave out the time spent
waiting for a core; wall times are printed beside them. Each measurement is repeated (interleaved
between the contenders) and the best is used for the ratios.
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
from rlcore import mdps  # noqa: E402


# ---------------------------------------------------------------------- 1. the tutorial loop
class TutorialQlearning:
    """The tutorial's learner: a numpy Q-table and an update that returns the new Q(s, a)."""

    def __init__(self, learning_rate, gamma, state_size, action_size):
        self.learning_rate, self.gamma = learning_rate, gamma
        self.qtable = np.zeros((state_size, action_size))

    def update(self, state, action, reward, new_state):
        delta = reward + self.gamma * np.max(self.qtable[new_state, :]) - self.qtable[state, action]
        return self.qtable[state, action] + self.learning_rate * delta


class TutorialEpsilonGreedy:
    """The tutorial's explorer: uniform draw against ε, ``action_space.sample()``, random argmax ties."""

    def __init__(self, epsilon, rng):
        self.epsilon, self.rng = epsilon, rng

    def choose_action(self, action_space, state, qtable):
        if self.rng.uniform(0, 1) < self.epsilon:
            return action_space.sample()
        best = np.where(qtable[state, :] == max(qtable[state, :]))[0]
        return self.rng.choice(best)


def tutorial_loop(env, n_episodes, seed, alpha=0.8, gamma=0.95, epsilon=0.1):
    """Tabular Q-learning as in Gymnasium's FrozenLake tutorial; returns the number of steps."""
    rng = np.random.default_rng(seed)
    learner = TutorialQlearning(alpha, gamma, env.observation_space.n, env.action_space.n)
    explorer = TutorialEpsilonGreedy(epsilon, rng)
    env.action_space.seed(seed)
    all_states, all_actions = [], []
    steps = 0
    for _ in range(n_episodes):
        state = env.reset(seed=seed)[0]
        done = False
        while not done:
            action = explorer.choose_action(action_space=env.action_space, state=state, qtable=learner.qtable)
            all_states.append(state)
            all_actions.append(action)
            new_state, reward, terminated, truncated, info = env.step(action)
            done = terminated or truncated
            learner.qtable[state, action] = learner.update(state, action, reward, new_state)
            state = new_state
            steps += 1
    return steps


def rlcore_loop(env, n_episodes, seed, progress=False, alpha=0.8, gamma=0.95, epsilon=0.1):
    agent = rl.QLearning(env, alpha=alpha, gamma=gamma, epsilon=epsilon)
    with contextlib.redirect_stderr(io.StringIO()):
        return rl.train(agent, env, n_episodes, seed=seed, progress=progress).n_steps


def env_only_loop(env, n_steps, seed):
    actions = np.random.default_rng(seed).integers(env.action_space.n, size=n_steps).tolist()
    env.reset(seed=seed)
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
    return n_steps


def bench_train(reps):
    rows = []
    for name, kwargs, episodes in [("FrozenLake-v1 8x8", dict(id="FrozenLake-v1", map_name="8x8"), 3000),
                                   ("CliffWalking-v1", dict(id="CliffWalking-v1"), 500)]:
        env = gym.make(**kwargs)
        contenders = {
            "tutorial loop": lambda: tutorial_loop(env, episodes, seed=123),
            "rlcore.train": lambda: rlcore_loop(env, episodes, seed=123),
            "rlcore.train, progress bar": lambda: rlcore_loop(env, episodes, seed=123, progress=True),
            "environment alone": lambda: env_only_loop(env, 100_000, seed=123),
        }
        best = {}
        for _ in range(reps):
            for label, fn in contenders.items():
                cpu, wall, steps = timed(fn)
                if label not in best or steps / cpu > best[label][0]:
                    best[label] = (steps / cpu, steps / wall, steps)
        for label, (per_cpu, per_wall, steps) in best.items():
            rows.append(dict(env=name, loop=label, steps=steps, steps_per_cpu_s=per_cpu, steps_per_wall_s=per_wall,
                             ratio_to_tutorial=per_cpu / best["tutorial loop"][0]))
    return rows


# ---------------------------------------------------------------------- 2. Figure 6.4, per-run loop
ROWS, COLS = 4, 12
UP, DOWN, LEFT, RIGHT = 0, 1, 2, 3
START, GOAL = (3, 0), (3, 11)


def book_step(state, action):
    """One move on the cliff: −1 per step; −100 and back to the start for stepping into the cliff."""
    i, j = state
    if action == UP:
        nxt = (max(i - 1, 0), j)
    elif action == LEFT:
        nxt = (i, max(j - 1, 0))
    elif action == RIGHT:
        nxt = (i, min(j + 1, COLS - 1))
    else:
        nxt = (min(i + 1, ROWS - 1), j)
    if nxt[0] == 3 and 1 <= nxt[1] <= 10:
        return START, -100
    return nxt, -1


def book_choose(state, q, epsilon):
    if np.random.binomial(1, epsilon) == 1:
        return np.random.choice([UP, DOWN, LEFT, RIGHT])
    values = q[state[0], state[1], :]
    return np.random.choice([a for a, v in enumerate(values) if v == np.max(values)])


def book_sarsa_episode(q, alpha, epsilon):
    state, total = START, 0
    action = book_choose(state, q, epsilon)
    while state != GOAL:
        nxt, reward = book_step(state, action)
        next_action = book_choose(nxt, q, epsilon)
        total += reward
        q[state[0], state[1], action] += alpha * (reward + q[nxt[0], nxt[1], next_action] - q[state[0], state[1], action])
        state, action = nxt, next_action
    return total


def book_q_learning_episode(q, alpha, epsilon):
    state, total = START, 0
    while state != GOAL:
        action = book_choose(state, q, epsilon)
        nxt, reward = book_step(state, action)
        total += reward
        q[state[0], state[1], action] += alpha * (reward + np.max(q[nxt[0], nxt[1], :]) - q[state[0], state[1], action])
        state = nxt
    return total


def book_loop(n_runs, n_episodes, seed, alpha=0.5, epsilon=0.1):
    """Figure 6.4 one run and one step at a time; returns the (runs, episodes) sums of rewards of both methods."""
    np.random.seed(seed)
    sarsa = np.zeros((n_runs, n_episodes))
    q_learning = np.zeros((n_runs, n_episodes))
    for run in range(n_runs):
        q_sarsa = np.zeros((ROWS, COLS, 4))
        q_q = np.zeros((ROWS, COLS, 4))
        for episode in range(n_episodes):
            sarsa[run, episode] = book_sarsa_episode(q_sarsa, alpha, epsilon)
            q_learning[run, episode] = book_q_learning_episode(q_q, alpha, epsilon)
    return sarsa, q_learning


def lockstep_figure(seed, n_runs=50, n_episodes=500):
    mdp = mdps.cliff_walking()
    return {cls.__name__: rl.train_lockstep(cls(mdp, alpha=0.5, epsilon=0.1), mdp, n_runs, n_episodes, seed=seed).returns
            for cls in (rl.Sarsa, rl.QLearning)}


def bench_figure_6_4(reps, book_runs):
    best = None
    for rep in range(reps):
        cpu, wall, returns = timed(lambda: lockstep_figure(seed=rep))
        if best is None or cpu < best[0]:
            best = (cpu, wall, returns)
    lock_cpu, lock_wall, lock = best
    cpu, wall, (sarsa, q_learning) = timed(lambda: book_loop(book_runs, 500, seed=0))
    scale = 50 / book_runs
    return dict(
        lockstep_cpu_s=lock_cpu, lockstep_wall_s=lock_wall,
        book_loop_runs=book_runs, book_loop_cpu_s=cpu * scale, book_loop_wall_s=wall * scale, book_loop_scaled=scale != 1,
        ratio=cpu * scale / lock_cpu,
        final100=dict(lockstep_sarsa=lock["Sarsa"][:, -100:].mean(), lockstep_q_learning=lock["QLearning"][:, -100:].mean(),
                      book_loop_sarsa=sarsa[:, -100:].mean(), book_loop_q_learning=q_learning[:, -100:].mean()),
    )


# ---------------------------------------------------------------------- main
def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repetition; the per-run loop on 5 runs, scaled ×10")
    parser.add_argument("--reps", type=int, default=3, help="repetitions of each timed loop (best is used)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()
    reps = 1 if args.quick else args.reps

    print(f"Python {platform.python_version()}, numpy {np.__version__}, gymnasium {gym.__version__}, "
          f"{platform.processor() or platform.machine()}; one core; CPU time (wall time in brackets)\n")
    print("1. rlcore.train(QLearning) vs Gymnasium's FrozenLake-tutorial Q-learning loop (α = 0.8, γ = 0.95, ε = 0.1)")
    rows = bench_train(reps)
    print(f"  {'environment':18s} {'loop':28s} {'steps':>8s} {'steps/s':>9s} {'(wall)':>9s} {'× tutorial':>10s}")
    for row in rows:
        print(f"  {row['env']:18s} {row['loop']:28s} {row['steps']:8d} {row['steps_per_cpu_s']:9.0f} "
              f"({row['steps_per_wall_s']:7.0f}) {row['ratio_to_tutorial']:10.2f}")

    print("\n2. Figure 6.4: cliff walking, SARSA and Q-learning, 50 runs × 500 episodes")
    fig = bench_figure_6_4(reps, 5 if args.quick else 50)
    scaled = f" (measured on {fig['book_loop_runs']} runs, ×{50 // fig['book_loop_runs']})" if fig["book_loop_scaled"] else ""
    print(f"  rlcore.train_lockstep   {fig['lockstep_cpu_s']:7.2f} s  ({fig['lockstep_wall_s']:.2f} s wall)")
    print(f"  per-run Python loop     {fig['book_loop_cpu_s']:7.2f} s  ({fig['book_loop_wall_s']:.2f} s wall){scaled}")
    print(f"  ratio                   {fig['ratio']:7.1f} ×")
    f100 = fig["final100"]
    print(f"  mean sum of rewards, last 100 episodes: lockstep SARSA {f100['lockstep_sarsa']:.1f}, Q-learning "
          f"{f100['lockstep_q_learning']:.1f}; per-run loop SARSA {f100['book_loop_sarsa']:.1f}, Q-learning "
          f"{f100['book_loop_q_learning']:.1f} (reference implementation: −27.6, −48.8)")

    print("\nTargets")
    for env in ("FrozenLake-v1 8x8", "CliffWalking-v1"):
        ratio = next(r["ratio_to_tutorial"] for r in rows if r["env"] == env and r["loop"] == "rlcore.train")
        print(f"  train ≥ 2× tutorial loop on {env}: {ratio:.2f}× — {'met' if ratio >= 2 else 'NOT met'}")
    print(f"  Figure 6.4 in < 2 s: {fig['lockstep_cpu_s']:.2f} s — {'met' if fig['lockstep_cpu_s'] < 2 else 'NOT met'}")
    print(f"  ≥ 50× the per-run loop: {fig['ratio']:.1f}× — {'met' if fig['ratio'] >= 50 else 'NOT met'}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(dict(train=rows, figure_6_4=fig), indent=2, default=float))


if __name__ == "__main__":
    main()
