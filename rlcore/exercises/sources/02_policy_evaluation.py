# Source of exercise 2. Build the notebooks with: python -m rlcore.exercises build

# %% [markdown]
# # Exercise 2: policy evaluation
#
# *Week 3 of the course (Sutton & Barto, Sections 4.1 and 3.5). Reading: `docs/bellman_equations.md`,
# `docs/dynamic_programming.md`.*
#
# You will write the Bellman expectation backup $T^\pi$, iterate it until it converges (iterative
# policy evaluation, Figure 4.1 of the book), and solve the linear system $v_\pi = r_\pi + \gamma
# P_\pi v_\pi$ exactly. Your functions are checked on the book's MDPs and on random ones — with
# terminal states, γ = 1, γ = 0, and a square MDP (S = A) where mixing up π and P raises no shape error.
#
# The MDP object: `mdp.P[s, a, s2]` = p(s2 | s, a) (S, A, S); `mdp.R[s, a]` = r(s, a); `mdp.gamma`;
# `mdp.terminal` (S,) bool — a terminal state's value is 0 and rlcore makes its row "stay, reward 0";
# `mdp.n_states`, `mdp.n_actions`. A policy is an (S, A) array whose rows sum to 1.

# %%
import numpy as np

import rlcore
from rlcore import mdps, testing

grid = mdps.gridworld_4x4()  # Example 4.1: γ = 1, terminal corners, reward −1 per step
uniform = rlcore.uniform_policy(grid)

# %% [markdown]
# ## Question 1: one sweep of $T^\pi$
#
# $$(T^\pi V)(s) = \sum_a \pi(a|s)\Big[r(s,a) + \gamma \sum_{s'} p(s'|s,a)\,V(s')\Big]$$
#
# Write `bellman_expectation_backup(mdp, V, policy)`, returning shape (S,). The action comes from
# π(·|s); the next state from p(·|s, a).

# %%
def bellman_expectation_backup(mdp, V, policy):
    """(T^π V)(s) = Σ_a π(a|s) [r(s, a) + γ Σ_s' p(s'|s, a) V(s')], shape (S,)."""
    ### BEGIN SOLUTION
    q = mdp.R + mdp.gamma * mdp.P @ V  # (S, A): the expectation over s' for each action
    return (policy * q).sum(axis=1)    # the average over a ~ π(·|s)
    ### END SOLUTION

# %% [check q1 points=1] The Bellman expectation backup T^π
testing.check_bellman_backup(bellman_expectation_backup, "expectation", sparse=False)

# %% [markdown]
# ## Question 2: iterative policy evaluation
#
# Start from V = 0 and apply your backup until the largest change of a sweep is below `tol`
# (the book's Figure 4.1; its loop uses θ for `tol`). Return V, shape (S,).

# %%
def policy_evaluation(mdp, policy, tol):
    """v_π by sweeps V ← T^π V from V = 0, until max_s |V_new(s) − V(s)| < tol."""
    ### BEGIN SOLUTION
    V = np.zeros(mdp.n_states)
    while True:
        V_new = bellman_expectation_backup(mdp, V, policy)
        if np.max(np.abs(V_new - V)) < tol:
            return V_new
        V = V_new
    ### END SOLUTION

# %% [check q2 points=2] Iterative policy evaluation
testing.check_policy_evaluation(policy_evaluation, sparse=False)

# %% [markdown]
# The book's Figure 4.1 (right column, k = ∞) is your V on the 4x4 gridworld:

# %%
V_grid = policy_evaluation(grid, uniform, 1e-10)
print(rlcore.value_table(grid, V_grid))
rlcore.plots.plot_values(grid, V_grid, title="v_π of the uniform policy (Figure 4.1)")

# %% [markdown]
# ## Question 3: exact evaluation
#
# On the non-terminal states N, $v_\pi$ solves $(I - \gamma P_\pi[N, N])\, v_N = r_\pi[N]$ (and
# $v = 0$ on terminal states). Build $r_\pi$ and $P_\pi$ from the policy, solve with
# `np.linalg.solve`, and return V of shape (S,). The `tol` argument is not needed here.

# %%
def policy_evaluation_exact(mdp, policy, tol=None):
    """v_π from the linear system (I − γ P_π) v = r_π on the non-terminal states."""
    ### BEGIN SOLUTION
    r_pi = (policy * mdp.R).sum(axis=1)                 # (S,)
    P_pi = np.einsum("sa,sat->st", policy, mdp.P)       # (S, S)
    live = ~mdp.terminal
    V = np.zeros(mdp.n_states)
    M = np.eye(live.sum()) - mdp.gamma * P_pi[np.ix_(live, live)]
    V[live] = np.linalg.solve(M, r_pi[live])
    return V
    ### END SOLUTION

# %% [check q3 points=1] Exact policy evaluation
testing.check_policy_evaluation(policy_evaluation_exact, sparse=False)
