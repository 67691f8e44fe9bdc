# Source of exercise 3. Build the notebooks with: python -m rlcore.exercises build

# %% [markdown]
# # Exercise 3: policy iteration and value iteration
#
# *Week 4 of the course (Sutton & Barto, Sections 4.2–4.4). Reading: `docs/dynamic_programming.md`.*
#
# Policy iteration alternates exact evaluation and greedy improvement; value iteration applies the
# optimality backup $v_{k+1}(s) = \max_a [r(s,a) + \gamma \sum_{s'} p(s'|s,a) v_k(s')]$ until it
# converges. Both end at $v_*$ and an optimal policy. Any optimal policy passes the checks — where
# several actions tie, choose any of them.

# %%
import numpy as np

import rlcore
from rlcore import mdps, testing


def q_from_v(mdp, V):
    """q(s, a) = r(s, a) + γ Σ_s' p(s'|s, a) V(s') (Exercise 1)."""
    return mdp.R + mdp.gamma * mdp.P @ V


def evaluate(mdp, policy):
    """v_π exactly (Exercise 2), from rlcore."""
    return rlcore.policy_evaluation(mdp, policy).V

# %% [markdown]
# ## Question 1: greedy improvement
#
# Write `greedy(mdp, V)`: the deterministic policy that takes, in every state, an action maximising
# $q(s, a)$ computed from V, as an (S, A) array with one 1 per row (`np.eye(A)[actions]`). The
# check hands it $v_*$ on each of the book's MDPs: the greedy policy of $v_*$ must be optimal.

# %%
def greedy(mdp, V):
    """A deterministic policy, shape (S, A), greedy with respect to q_from_v(mdp, V)."""
    ### BEGIN SOLUTION
    actions = q_from_v(mdp, V).argmax(axis=1)
    return np.eye(mdp.n_actions)[actions]
    ### END SOLUTION

# %% [check q1 points=1] The greedy policy of v* is optimal
for case in testing.textbook_cases():
    mdp = case.make()
    testing.assert_optimal_policy(mdp, greedy(mdp, rlcore.value_iteration(mdp, tol=1e-12).V))

# %% [markdown]
# ## Question 2: policy iteration
#
# Start from the uniform policy; evaluate it (`evaluate`), improve it (`greedy`), and repeat until
# the policy no longer changes. Return `(V, policy)`.

# %%
def policy_iteration(mdp):
    """(v*, an optimal policy) by policy iteration."""
    ### BEGIN SOLUTION
    policy = rlcore.uniform_policy(mdp)
    while True:
        V = evaluate(mdp, policy)
        improved = greedy(mdp, V)
        if np.array_equal(improved, policy):
            return V, policy
        policy = improved
    ### END SOLUTION

# %% [check q2 points=2] Policy iteration
testing.check_policy_iteration(policy_iteration, sparse=False)

# %% [markdown]
# ## Question 3: value iteration
#
# Start from V = 0 and apply the optimality backup until the largest change of a sweep is below
# `tol`. Return `(V, policy)` with the greedy policy of your final V.

# %%
def value_iteration(mdp, tol):
    """(v*, an optimal policy) by value iteration."""
    ### BEGIN SOLUTION
    V = np.zeros(mdp.n_states)
    while True:
        V_new = q_from_v(mdp, V).max(axis=1)
        if np.max(np.abs(V_new - V)) < tol:
            return V_new, greedy(mdp, V_new)
        V = V_new
    ### END SOLUTION

# %% [check q3 points=2] Value iteration
testing.check_value_iteration(value_iteration, sparse=False)

# %% [markdown]
# The book's Figure 3.5: $v_*$ and an optimal policy of the 5x5 gridworld, from your value iteration.

# %%
grid = mdps.gridworld_5x5()
V_star, policy_star = value_iteration(grid, 1e-10)
print(rlcore.value_table(grid, V_star))
rlcore.plots.plot_values(grid, V_star, policy_star, title="v* and a greedy policy (Figure 3.5)")
