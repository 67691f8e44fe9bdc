# Source of exercise 4. Build the notebooks with: python -m rlcore.exercises build

# %% [markdown]
# # Exercise 4: Monte Carlo prediction
#
# *Week 5 of the course (Sutton & Barto, Sections 5.1 and 3.3). Reading: `docs/monte_carlo.md`,
# `docs/td_learning.md`.*
#
# Monte Carlo methods estimate $v_\pi(s)$ as the average of the returns that follow visits to s in
# complete episodes. You will compute the returns of an episode, then first-visit Monte Carlo
# prediction, and watch the estimate approach the exact $v_\pi$.

# %%
import matplotlib.pyplot as plt
import numpy as np

import rlcore
from rlcore import mdps, testing

# %% [markdown]
# ## Question 1: the returns of an episode
#
# An episode gives the rewards $R_1, \dots, R_T$ (it ends in a terminal state after step T). The
# return from step t is $G_t = R_{t+1} + \gamma R_{t+2} + \dots = R_{t+1} + \gamma G_{t+1}$, with
# $G_T = 0$ (eq. 3.9). Write `episode_returns(rewards, gamma)` returning $G_0, \dots, G_{T-1}$,
# shape (T,). Hint: compute it backwards, from the end of the episode.

# %%
def episode_returns(rewards, gamma):
    """G_t = R_{t+1} + γ G_{t+1} for t = 0..T−1 of a terminated episode, shape (T,)."""
    ### BEGIN SOLUTION
    G = np.zeros(len(rewards))
    g = 0.0
    for t in reversed(range(len(rewards))):
        g = rewards[t] + gamma * g
        G[t] = g
    return G
    ### END SOLUTION

# %% [check q1 points=1] The returns of an episode
testing.check_returns(episode_returns, "monte_carlo")

# %% [markdown]
# ## Question 2: first-visit Monte Carlo prediction
#
# `episodes` is a list of `(states, rewards)` pairs: `states[t]` is $S_t$ (t = 0..T−1) and
# `rewards[t]` is $R_{t+1}$. For every state, average the returns $G_t$ that follow its *first*
# visit in each episode (the book's first-visit MC, Section 5.1). States never visited get 0.
# Return V, shape (n_states,).

# %%
def mc_prediction(episodes, n_states, gamma):
    """First-visit Monte Carlo estimate of v_π from complete episodes, shape (n_states,)."""
    ### BEGIN SOLUTION
    total, count = np.zeros(n_states), np.zeros(n_states)
    for states, rewards in episodes:
        G = episode_returns(rewards, gamma)
        seen = set()
        for t, s in enumerate(states):
            if s in seen:
                continue
            seen.add(s)
            total[s] += G[t]
            count[s] += 1
    return np.divide(total, count, out=np.zeros(n_states), where=count > 0)
    ### END SOLUTION

# %% [check q2 points=2] First-visit Monte Carlo prediction
testing.check_monte_carlo_prediction(mc_prediction)

# %% [markdown]
# ## The estimate approaches $v_\pi$
#
# On the random walk (Example 6.2) the exact values are 1/6, …, 5/6. Sample episodes with
# `rlcore.sample_episode`, estimate with your function, and compare (400 episodes here; the error
# shrinks like $1/\sqrt{n}$).

# %%
walk = mdps.random_walk()
policy = rlcore.uniform_policy(walk)
exact = rlcore.policy_evaluation(walk, policy).V
rng = np.random.default_rng(0)
episodes = []
for _ in range(400):
    e = rlcore.sample_episode(walk, policy, rng)
    episodes.append((e.states[:-1], e.rewards))
sizes = [10, 25, 50, 100, 200, 400]
errors = [np.sqrt(np.mean((mc_prediction(episodes[:n], walk.n_states, 1.0) - exact)[1:-1] ** 2)) for n in sizes]
fig, ax = plt.subplots(figsize=(5, 3))
ax.loglog(sizes, errors, "o-", label="first-visit MC")
ax.loglog(sizes, errors[0] * np.sqrt(sizes[0] / np.array(sizes)), "k--", label="∝ 1/√n")
ax.set_xlabel("episodes")
ax.set_ylabel("RMS error over states")
ax.legend()
plt.show()
