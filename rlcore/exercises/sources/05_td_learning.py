# Source of exercise 5. Build the notebooks with: python -m rlcore.exercises build

# %% [markdown]
# # Exercise 5: TD(0), SARSA, Q-learning and Expected SARSA
#
# *Week 6 of the course (Sutton & Barto, Sections 6.1–6.6). Reading: `docs/td_learning.md`,
# `docs/td_control.md`, notebook `02_td_control`.*
#
# Each update moves one entry of a table toward a target by the step size α:
# `table[s(, a)] += alpha * (target - table[s(, a)])`. The targets differ by one term:
#
# | update | target |
# |---|---|
# | TD(0) | $r + \gamma V(s')$ |
# | SARSA | $r + \gamma Q(s', a')$ |
# | Q-learning | $r + \gamma \max_{a} Q(s', a)$ |
# | Expected SARSA | $r + \gamma \sum_a \pi(a|s') Q(s', a)$ |
#
# Two flags arrive with every transition, and they mean different things. **terminated**: s' is a
# terminal state; nothing follows, so the target is r alone. **truncated**: the episode was cut by a
# time limit; s' is an ordinary state with a value, so the target bootstraps as usual. The checks
# feed your update every kind of transition, with nonzero values at terminal next states (a real run
# keeps them at 0, which hides a missing `(1 - terminated)`).
#
# Return the updated table (a new array, or the one you were given, updated in place).

# %%
import matplotlib.pyplot as plt
import numpy as np

import rlcore
from rlcore import mdps, testing

# %% [markdown]
# ## Question 1: TD(0)

# %%
def td0_update(V, s, r, s_next, terminated, truncated, alpha, gamma):
    """V(s) ← V(s) + α [r + γ (1 − terminated) V(s') − V(s)]."""
    ### BEGIN SOLUTION
    target = r + gamma * (1.0 - terminated) * V[s_next]
    V[s] += alpha * (target - V[s])
    return V
    ### END SOLUTION

# %% [check q1 points=1] The TD(0) update
testing.check_td_update(td0_update, "td0")

# %% [markdown]
# ## Question 2: SARSA (`a_next` is the action the agent takes in s')

# %%
def sarsa_update(Q, s, a, r, s_next, a_next, terminated, truncated, alpha, gamma):
    """Q(s, a) ← Q(s, a) + α [r + γ (1 − terminated) Q(s', a') − Q(s, a)]."""
    ### BEGIN SOLUTION
    target = r + gamma * (1.0 - terminated) * Q[s_next, a_next]
    Q[s, a] += alpha * (target - Q[s, a])
    return Q
    ### END SOLUTION

# %% [check q2 points=1] The SARSA update
testing.check_td_update(sarsa_update, "sarsa")

# %% [markdown]
# ## Question 3: Q-learning

# %%
def q_learning_update(Q, s, a, r, s_next, terminated, truncated, alpha, gamma):
    """Q(s, a) ← Q(s, a) + α [r + γ (1 − terminated) max_a' Q(s', a') − Q(s, a)]."""
    ### BEGIN SOLUTION
    target = r + gamma * (1.0 - terminated) * Q[s_next].max()
    Q[s, a] += alpha * (target - Q[s, a])
    return Q
    ### END SOLUTION

# %% [check q3 points=1] The Q-learning update
testing.check_td_update(q_learning_update, "q_learning")

# %% [markdown]
# ## Question 4: Expected SARSA (`policy_next` is π(·|s'), shape (A,))

# %%
def expected_sarsa_update(Q, s, a, r, s_next, policy_next, terminated, truncated, alpha, gamma):
    """Q(s, a) ← Q(s, a) + α [r + γ (1 − terminated) Σ_a' π(a'|s') Q(s', a') − Q(s, a)]."""
    ### BEGIN SOLUTION
    target = r + gamma * (1.0 - terminated) * policy_next @ Q[s_next]
    Q[s, a] += alpha * (target - Q[s, a])
    return Q
    ### END SOLUTION

# %% [check q4 points=1] The Expected SARSA update
testing.check_td_update(expected_sarsa_update, "expected_sarsa")

# %% [markdown]
# ## Your Q-learning on the cliff
#
# Run your update inside an ε-greedy loop on `cliff_walking` (Example 6.6) and compare the learned
# greedy path with the optimal one (100 episodes here; the book uses 500).

# %%
cliff = mdps.cliff_walking()
env = cliff.to_env(max_episode_steps=200)
rng = np.random.default_rng(0)
Q = np.zeros((cliff.n_states, cliff.n_actions))
returns = []
for episode in range(100):
    s, _ = env.reset(seed=int(rng.integers(2**31)))
    total, done = 0.0, False
    while not done:
        a = int(rng.integers(cliff.n_actions)) if rng.random() < 0.1 else int(rng.choice(np.flatnonzero(Q[s] == Q[s].max())))
        s_next, r, terminated, truncated, _ = env.step(a)
        Q = q_learning_update(Q, s, a, r, s_next, terminated, truncated, 0.5, 1.0)
        total += r
        s, done = s_next, terminated or truncated
    returns.append(total)
Q_star = rlcore.value_iteration(cliff).Q
print(rlcore.plots.path_text(cliff, rlcore.learning.greedy_path(cliff, Q)))
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(returns)
ax.axhline(Q_star.max(axis=1)[36], color="k", ls="--", label="optimal return")
ax.set_xlabel("episode")
ax.set_ylabel("return")
ax.legend()
plt.show()
