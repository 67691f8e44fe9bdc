"""Tour: learning from experience — SARSA against Q-learning on the cliff (Sutton & Barto, Example 6.6)."""

import pathlib

import matplotlib.pyplot as plt
import numpy as np

import rlcore as rl
from rlcore import mdps, plots

RUNS, EPISODES = 50, 500  # Figure 6.4


def heading(text: str) -> None:
    print(f"\n{'=' * 78}\n{text}\n{'=' * 78}")


def run(out: pathlib.Path) -> None:
    heading("7. Example 6.6 / Figure 6.4: SARSA vs Q-learning on the cliff (ε = 0.1, α = 0.5, 50 runs × 500 episodes)")
    mdp = mdps.cliff_walking()
    runs = {}
    for name, Agent in (("SARSA", rl.Sarsa), ("Q-learning", rl.QLearning)):
        # All 50 runs step together in numpy (copies of the agent, its own step on arrays);
        # each is statistically a separate rl.train run.
        runs[name] = rl.train_lockstep(Agent(mdp, alpha=0.5, epsilon=0.1), mdp, RUNS, EPISODES, seed=0)

    print("mean sum of rewards per episode, last 100 episodes (95% interval over runs):")
    for name, history in runs.items():
        final = history.returns[:, -100:].mean(axis=1)  # one number per run
        mean, low, high = plots.confidence_band(final[:, None])
        print(f"  {name:10s} {mean[0]:7.1f}   [{low[0]:.1f}, {high[0]:.1f}]")
    print("  (the book's reference implementation: SARSA −27.6, Q-learning −48.8)")

    q_star = rl.value_iteration(mdp).Q
    paths = {}
    for name, history in runs.items():
        paths[name] = rl.learning.greedy_path(mdp, history.tables.mean(axis=0))  # greedy in Q averaged over runs
        print(f"\n{name}: greedy path of the learned Q ({len(paths[name]) - 1} steps; the optimal path has 13)")
        print(plots.path_text(mdp, paths[name]))
    print("\nQ-learning learns q*, the values of the optimal policy that walks along the cliff edge, but")
    print("its ε-greedy behaviour falls off the edge now and then; SARSA learns the values of the ε-greedy")
    print("policy it follows, which make the safe path look better: it earns more while it explores.")
    edge = sum(rl.learning.greedy_path(mdp, Q) == paths["Q-learning"] for Q in runs["Q-learning"].tables)
    print(f"Runs whose greedy path is the optimal (edge) path: Q-learning {edge}/{RUNS}, "
          f"SARSA {sum(rl.learning.greedy_path(mdp, Q) == paths['Q-learning'] for Q in runs['SARSA'].tables)}/{RUNS}.")
    start = int(np.argmax(mdp.initial))
    print(f"max_a Q(start, a), averaged over runs: Q-learning {runs['Q-learning'].tables[:, start].max(axis=1).mean():.1f} "
          f"(v*(start) = {q_star[start].max():.0f}), SARSA {runs['SARSA'].tables[:, start].max(axis=1).mean():.1f} "
          "(the ε-greedy policy's value)\n")

    fig, axes = plt.subplots(1, 2, figsize=(13, 4), gridspec_kw={"width_ratios": [1.2, 1]})
    plots.plot_learning_curves({name: h.returns for name, h in runs.items()}, ax=axes[0], smooth=10,
                               ylim=(-100, 0), title="Figure 6.4: mean over 50 runs, 95% band (10-episode average)")
    cliff = [s for s in range(mdp.n_states) if s // 12 == 3 and 1 <= s % 12 <= 10]
    plots.plot_paths(mdp, paths, ax=axes[1], highlight=cliff, title="greedy paths of the learned Q")
    fig.tight_layout()
    fig.savefig(out / "cliff_sarsa_vs_q_learning.png", dpi=120)
    plt.close(fig)
    print(f"figure: {out / 'cliff_sarsa_vs_q_learning.png'}")
