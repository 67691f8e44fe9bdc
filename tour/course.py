"""Tour, part 3: the rest of the course in three figures — bandits, maximisation bias, planning."""

import pathlib

import matplotlib.pyplot as plt

import rlcore
from rlcore import bandits, mdps, plots


def heading(text: str) -> None:
    print(f"\n{'=' * 78}\n{text}\n{'=' * 78}")


def run(out: pathlib.Path) -> None:
    heading("8. Bandits: Figure 2.2, 2000 ten-armed problems × 1000 steps, in one vectorised run each")
    testbed = bandits.ten_armed_testbed(2000, seed=0)
    histories = {eps: bandits.run_bandit(bandits.EpsilonGreedyBandit(eps), testbed, 1000, seed=1) for eps in (0.0, 0.01, 0.1)}
    for eps, h in histories.items():
        print(f"ε = {eps:<4}: average reward at step 1000 {h.average_reward[0][-1]:.2f}, "
              f"optimal action {100 * h.optimal_fraction[0][-1]:.0f}%")
    ax = plots.plot_learning_curves({f"ε = {eps}": h.rewards for eps, h in histories.items()}, smooth=10,
                                    ylabel="average reward", title="Figure 2.2: ε-greedy on the 10-armed testbed")
    ax.figure.savefig(out / "bandits.png", dpi=120, bbox_inches="tight")
    plt.close(ax.figure)

    heading("9. Maximisation bias (Figure 6.5): Q-learning and double Q-learning, 2000 runs × 300 episodes")
    bias = mdps.maximization_bias()
    print(f"exact: q*(A, left) = {rlcore.value_iteration(bias).Q[0, 0]:.2f} < q*(A, right) = 0: 'left' is a mistake")
    left = {}
    for name, Agent in (("Q-learning", rlcore.QLearning), ("double Q-learning", rlcore.DoubleQLearning)):
        h = rlcore.train_lockstep(Agent(bias, alpha=0.1, epsilon=0.1), bias, 2000, 300, seed=0)
        left[name] = h.lengths == 2  # "left" from A is the two-step episode A → B → end
        print(f"{name:18s}: % left at episodes 1, 20, 300: "
              + ", ".join(f"{100 * left[name][:, e - 1].mean():.0f}" for e in (1, 20, 300)) + "  (optimal ε-greedy: 5)")

    heading("10. Planning (Figure 8.2): Dyna-Q on the maze with 0, 5 and 50 planning steps, 20 runs")
    maze = mdps.dyna_maze()
    for steps in (0, 5, 50):
        h = rlcore.train_lockstep(rlcore.DynaQ(maze, planning_steps=steps, alpha=0.1, epsilon=0.1, seed=0), maze, 20, 20,
                                  seed=0)
        print(f"{steps:2d} planning steps: steps in episode 2 {h.lengths[:, 1].mean():6.1f}, "
              f"in episode 20 {h.lengths[:, -1].mean():5.1f} (the shortest path: 14)")
    print("\nThe other chapters (Monte Carlo, n-step, function approximation, traces) are notebooks 09–13.")
