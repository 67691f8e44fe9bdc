"""Tour, part 1: exact V, Q and A on the textbook MDPs (Sutton & Barto, Chapters 3–4)."""

import pathlib

import matplotlib.pyplot as plt
import numpy as np

import rlcore as rl
from rlcore import mdps


def heading(text: str) -> None:
    print(f"\n{'=' * 78}\n{text}\n{'=' * 78}")


def run(out: pathlib.Path) -> None:
    # --- 1. A two-state MDP you can back up by hand -----------------------------------
    heading("1. Two-state MDP (rlcore.mdps.two_state): V, Q and A = Q − V")
    mdp = mdps.two_state()
    uniform = rl.uniform_policy(mdp)
    v_pi = rl.policy_evaluation(mdp, uniform).V
    q_pi = rl.q_from_v(mdp, v_pi)  # Q(s,a) = R(s,a) + γ Σ_s' P(s'|s,a) V(s')
    a_pi = rl.advantage(q_pi, uniform)
    print("V^π of the uniform random policy:\n" + rl.value_table(mdp, v_pi, decimals=4))
    print("Q^π:\n" + rl.q_table(mdp, q_pi, decimals=4))
    print("A^π = Q^π − V^π (each row averages to 0 under π):\n" + rl.q_table(mdp, a_pi, decimals=4))
    optimal = rl.value_iteration(mdp, tol=1e-12)
    print("V*:\n" + rl.value_table(mdp, optimal.V, decimals=4))
    print("Q*:\n" + rl.q_table(mdp, optimal.Q, decimals=4))
    print("greedy policy π*:\n" + rl.q_table(mdp, optimal.policy, decimals=2))
    print(f"check by hand: V*(A) = 13.4/0.82 = {13.4 / 0.82:.4f},  V*(B) = 2/(1 − 0.9) = 20")

    # --- 2. Figure 4.1: iterative policy evaluation on the 4x4 gridworld ---------------
    heading("2. Example 4.1 / Figure 4.1: 4x4 gridworld, random policy, γ = 1")
    grid4 = mdps.gridworld_4x4()
    random_policy = rl.uniform_policy(grid4)
    V = np.zeros(grid4.n_states)
    for k in range(1, 4):
        V = rl.bellman_v(grid4, V, random_policy)  # one synchronous sweep v_k = T^π v_{k−1}
        print(f"v_{k}:\n" + rl.value_table(grid4, V, decimals=2))
    v_random = rl.policy_evaluation(grid4, random_policy).V
    print("v_π (exact linear solve):\n" + rl.value_table(grid4, v_random))
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    rl.plots.plot_values(grid4, v_random, rl.greedy_policy(rl.q_from_v(grid4, v_random)), ax=axes[0],
                         title="v_π of the random policy, greedy arrows")
    evaluation = rl.policy_evaluation(grid4, random_policy, method="iterative", tol=1e-6)
    rl.plots.plot_convergence(evaluation, grid4.gamma, ax=axes[1])
    axes[1].set_title(f"iterative evaluation: {evaluation.iterations} sweeps")
    fig.tight_layout()
    fig.savefig(out / "gridworld_4x4.png", dpi=120)
    plt.close(fig)

    # --- 3. Figures 3.2 and 3.5: the 5x5 gridworld --------------------------------------
    heading("3. Example 3.5 / Figures 3.2 and 3.5: 5x5 gridworld, γ = 0.9")
    grid5 = mdps.gridworld_5x5()
    v_uniform = rl.policy_evaluation(grid5, rl.uniform_policy(grid5)).V
    print("v_π, random policy (Figure 3.2):\n" + rl.value_table(grid5, v_uniform))
    vi = rl.value_iteration(grid5)
    pi = rl.policy_iteration(grid5)
    print("v* (Figure 3.5):\n" + rl.value_table(grid5, vi.V))
    print(f"value iteration: {vi.iterations} sweeps, guaranteed |V − v*| ≤ {vi.error_bound:.1e}; "
          f"policy iteration: {pi.iterations} improvements; max |difference| = {np.abs(vi.V - pi.V).max():.1e}")
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.2))
    rl.plots.plot_values(grid5, v_uniform, ax=axes[0], title="Figure 3.2: v_π (random policy)")
    rl.plots.plot_values(grid5, vi.V, vi.policy, ax=axes[1], title="Figure 3.5: v* and π*")
    rl.plots.plot_convergence(vi, grid5.gamma, ax=axes[2])
    axes[2].set_title("value iteration residuals")
    fig.tight_layout()
    fig.savefig(out / "gridworld_5x5.png", dpi=120)
    plt.close(fig)

    # --- 4. Soft (entropy-regularised) values approach v* as β → 0 ---------------------
    heading("4. Soft value iteration on the 5x5 gridworld: V_β → v* as the regulariser's weight β → 0")
    for beta in (1.0, 0.3, 0.1, 0.01):
        soft = rl.soft_value_iteration(grid5, kl_coef=beta)
        print(f"β = {beta:<5}  V_β(A) = {soft.V[1]:8.4f}   max |V_β − v*| = {np.abs(soft.V - vi.V).max():.4f}")

    # --- 5. Example 4.3: the gambler's problem --------------------------------------------
    heading("5. Example 4.3 / Figure 4.3: gambler's problem, p_h = 0.4")
    gambler = mdps.gamblers_problem(p_heads=0.4)
    solution = rl.value_iteration(gambler, tol=1e-12)
    print(f"v*(25) = {solution.V[25]:.4f}, v*(50) = {solution.V[50]:.4f}, v*(75) = {solution.V[75]:.4f}, "
          f"{solution.iterations} sweeps")
    capital = np.arange(1, 100)
    stakes = solution.Q[1:100].argmax(axis=1) + 1  # smallest optimal stake, as in Figure 4.3
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    axes[0].plot(capital, solution.V[1:100])
    axes[0].set(xlabel="capital", ylabel="v*", title="value estimates")
    axes[1].step(capital, stakes, where="mid")
    axes[1].set(xlabel="capital", ylabel="stake", title="a final policy (smallest optimal stake)")
    fig.tight_layout()
    fig.savefig(out / "gamblers_problem.png", dpi=120)
    plt.close(fig)

    # --- 6. FrozenLake through Gymnasium ----------------------------------------------------
    heading("6. FrozenLake 4x4 (slippery) built from Gymnasium's transition table, γ = 0.99")
    lake = mdps.frozen_lake()
    vi_lake, pi_lake = rl.value_iteration(lake), rl.policy_iteration(lake)
    print("v*:\n" + rl.value_table(lake, vi_lake.V, decimals=3))
    print(f"value iteration {vi_lake.iterations} sweeps vs policy iteration {pi_lake.iterations} improvements; "
          f"max |difference| = {np.abs(vi_lake.V - pi_lake.V).max():.1e}")
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    rl.plots.plot_values(lake, vi_lake.V, vi_lake.policy, ax=ax, fmt=".2f", title="FrozenLake 4x4: v* and π*")
    fig.tight_layout()
    fig.savefig(out / "frozen_lake.png", dpi=120)
    plt.close(fig)
