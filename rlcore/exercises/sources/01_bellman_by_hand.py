# Source of exercise 1. Build the notebooks with: python -m rlcore.exercises build

# %% [markdown]
# # Exercise 1: the Bellman equations by hand
#
# *Week 2–3 of the course (Sutton & Barto, Sections 3.5–3.6). Reading: `docs/v_and_q.md`,
# `docs/bellman_equations.md`, notebook `01_bellman`.*
#
# The two-state MDP of `rlcore.mdps.two_state()` has states A and B, actions *stay* and *go*, and
# γ = 0.9:
#
# | state, action | next state | reward |
# |---|---|---|
# | A, stay | A | 0 |
# | A, go | B with probability 0.8, A with probability 0.2 | −1 |
# | B, stay | B | +2 |
# | B, go | A | 0 |
#
# Fill in every cell marked `# YOUR CODE HERE` (delete the `raise NotImplementedError()`), then run
# the check cell below it. A check passes quietly (or lists the cases that pass) when your answer is
# right and, when it is not, stops with a message that names the state, the action and the term of
# the backup that is off. Grade the whole notebook with
# `python -m rlcore.grade exercises/01_bellman_by_hand.ipynb`.

# %%
import numpy as np

import rlcore
from rlcore import mdps, testing

mdp = mdps.two_state()
pi = rlcore.uniform_policy(mdp)  # π(stay|s) = π(go|s) = 1/2
print(rlcore.q_table(mdp, mdp.R, 1))  # r(s, a)

# %% [markdown]
# ## Question 1: $v_\pi$ of the uniform policy, on paper
#
# Under π the agent follows a Markov chain with expected reward $r_\pi(s) = \sum_a \pi(a|s)\,r(s,a)$
# and transition matrix $P_\pi(s'|s) = \sum_a \pi(a|s)\,p(s'|s,a)$. Write both down, then solve the
# two linear equations $v_\pi = r_\pi + \gamma P_\pi v_\pi$ by hand (they have exact fractions with
# denominator 91). Type in the numbers you found — not a call to a solver.

# %%
# V_hand = np.array([v_pi(A), v_pi(B)]), numbers you computed on paper
### BEGIN SOLUTION
V_hand = np.array([85 / 91, 235 / 91])
### END SOLUTION

# %% [check q1 points=1] v_π of the uniform policy, by hand
testing.assert_value_of_policy(mdp, pi, V_hand)

# %% [markdown]
# ## Question 2: the one-step backup $q(s, a) = r(s,a) + \gamma \sum_{s'} p(s'|s,a)\, V(s')$
#
# Write `q_from_v(mdp, V)`, returning an array of shape (S, A). `mdp.R` is r(s, a), shape (S, A);
# `mdp.P[s, a, s2]` is p(s2 | s, a), shape (S, A, S); `mdp.gamma` is γ. Mind where γV goes: *inside*
# the expectation over the next state s' ~ p(·|s, a) — the action a is already chosen.
# The check runs your function on the book's MDPs and on random ones.

# %%
def q_from_v(mdp, V):
    """q(s, a) = r(s, a) + γ Σ_s' p(s'|s, a) V(s'), shape (S, A)."""
    ### BEGIN SOLUTION
    return mdp.R + mdp.gamma * mdp.P @ V
    ### END SOLUTION

# %% [check q2 points=2] The one-step backup q_from_v
testing.check_q_from_v(q_from_v, sparse=False)

# %% [markdown]
# `rlcore.explain_backup` writes the same backup out term by term — the table a check prints when
# your numbers are off:

# %%
print(rlcore.explain_backup(mdp, V_hand, "A", pi))

# %% [markdown]
# ## Question 3: the advantage $A_\pi(s, a) = q_\pi(s, a) - v_\pi(s)$
#
# Compute the advantage of every action under the uniform policy from your `V_hand` and your
# `q_from_v`. Check for yourself that $\sum_a \pi(a|s) A_\pi(s, a) = 0$ in both states: why must it be?

# %%
# A_hand, shape (2, 2)
### BEGIN SOLUTION
A_hand = q_from_v(mdp, V_hand) - V_hand[:, None]
### END SOLUTION

# %% [check q3 points=1] The advantage of the uniform policy
testing.assert_advantage(mdp, pi, A_hand)

# %% [markdown]
# ## Question 4: the optimum, by hand
#
# Staying in B forever is worth $2/(1-\gamma)$. From A, going pays −1 and reaches B with probability
# 0.8 (else it slips back to A). Solve the Bellman optimality equation $v_*(s) = \max_a q_*(s, a)$
# for both states by hand, and give an optimal policy as an (S, A) array of probabilities
# (rows A, B; columns stay, go).

# %%
# V_star_hand = np.array([v*(A), v*(B)]);  policy_star = np.array([[π(stay|A), π(go|A)], [π(stay|B), π(go|B)]])
### BEGIN SOLUTION
V_star_hand = np.array([13.4 / 0.82, 20.0])
policy_star = np.array([[0.0, 1.0], [1.0, 0.0]])
### END SOLUTION

# %% [check q4 points=2] v* and an optimal policy, by hand
testing.assert_optimal_values(mdp, V_star_hand)
testing.assert_optimal_policy(mdp, policy_star)
