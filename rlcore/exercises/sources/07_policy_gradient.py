# Source of exercise 7. Build the notebooks with: python -m rlcore.exercises build

# %% [markdown]
# # Exercise 7: the policy gradient, exact and sampled
#
# *Week 11 of the course (Sutton & Barto, Sections 13.1–13.4). Reading: `docs/policy_gradient.md`,
# notebook `04_advantage_and_policy_gradient`.*
#
# A tabular softmax policy has one logit per state and action, θ of shape (S, A):
# $\pi_\theta(a|s) = e^{\theta[s,a]} / \sum_b e^{\theta[s,b]}$. Its objective is the expected return
# from the start, $J(\theta) = \sum_s \mu_0(s) v_\pi(s)$. The policy gradient theorem, with the
# *unnormalised* discounted occupancy $\eta(s) = \sum_t \gamma^t \Pr(S_t = s)$, reads for this
# policy
#
# $$\frac{\partial J}{\partial \theta[s, a]} = \eta(s)\, \pi(a|s)\, A_\pi(s, a), \qquad \eta^\top = \mu_0^\top (I - \gamma P_\pi)^{-1}.$$
#
# REINFORCE estimates it from one episode: $\hat g = \sum_t \gamma^t G_t \nabla_\theta \log \pi(A_t|S_t)$,
# where $\nabla_{\theta[S_t]} \log \pi(A_t|S_t) = \mathrm{onehot}(A_t) - \pi(\cdot|S_t)$ (and 0 in the
# other rows).

# %%
import matplotlib.pyplot as plt
import numpy as np

import rlcore
from rlcore import mdps, testing


def softmax(theta):
    """π_θ(a|s), shape (S, A)."""
    z = np.exp(theta - theta.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)

# %% [markdown]
# ## Question 1: the exact gradient
#
# Use `rlcore.policy_evaluation(mdp, pi)` for $v_\pi$ and $q_\pi$ (`.V`, `.Q`) and
# `rlcore.policy_transition(mdp, pi)` for $P_\pi$ (dense, or sparse on large MDPs: `.toarray()` it).
# Compute η on the non-terminal states N — $\eta_N = (I - \gamma P_\pi[N, N])^{-\top} \mu_0[N]$,
# η = 0 on terminal states — and return ∂J/∂θ, shape (S, A).

# %%
def policy_gradient(mdp, theta):
    """∂J/∂θ[s, a] = η(s) π(a|s) A_π(s, a), shape (S, A)."""
    ### BEGIN SOLUTION
    pi = softmax(theta)
    solution = rlcore.policy_evaluation(mdp, pi)
    A = solution.Q - solution.V[:, None]
    P_pi, _ = rlcore.policy_transition(mdp, pi)
    P_pi = P_pi.toarray() if hasattr(P_pi, "toarray") else P_pi
    live = ~mdp.terminal
    eta = np.zeros(mdp.n_states)
    M = np.eye(live.sum()) - mdp.gamma * P_pi[np.ix_(live, live)]
    eta[live] = np.linalg.solve(M.T, mdp.initial[live])
    return eta[:, None] * pi * A
    ### END SOLUTION

# %% [check q1 points=2] The exact policy gradient
testing.check_policy_gradient(policy_gradient)

# %% [markdown]
# ## Question 2: REINFORCE
#
# One terminated episode: `states` $S_0..S_{T-1}$, `actions` $A_0..A_{T-1}$, `rewards` $R_1..R_T$.
# Compute the returns $G_t$, then $\hat g = \sum_t \gamma^t G_t \nabla_\theta \log \pi(A_t|S_t)$
# (S&B Section 13.3: the $\gamma^t$ is part of the estimate). Return shape (S, A).

# %%
def reinforce(theta, states, actions, rewards, gamma):
    """The REINFORCE estimate of ∇J from one episode, shape (S, A)."""
    ### BEGIN SOLUTION
    pi = softmax(theta)
    T = len(rewards)
    G = np.zeros(T)
    g = 0.0
    for t in reversed(range(T)):
        g = rewards[t] + gamma * g
        G[t] = g
    grad = np.zeros_like(theta)
    for t in range(T):
        s, a = states[t], actions[t]
        score = -pi[s].copy()
        score[a] += 1.0
        grad[s] += gamma**t * G[t] * score
    return grad
    ### END SOLUTION

# %% [check q2 points=2] The REINFORCE estimate
testing.check_reinforce_gradient(reinforce)

# %% [markdown]
# ## The mean of REINFORCE is the exact gradient
#
# Average your estimate over episodes of the 4x4 gridworld with γ = 0.9 and compare with your exact
# gradient: the error shrinks like $1/\sqrt{n}$ (without the $\gamma^t$ it would stop shrinking).

# %%
grid = rlcore.MDP(mdps.gridworld_4x4().P, mdps.gridworld_4x4().R, 0.9, terminal=mdps.gridworld_4x4().terminal)
theta = np.random.default_rng(0).normal(0.0, 0.5, (grid.n_states, grid.n_actions))
exact = policy_gradient(grid, theta)
rng = np.random.default_rng(1)
estimates = []
for _ in range(800):
    e = rlcore.sample_episode(grid, softmax(theta), rng)
    estimates.append(reinforce(theta, e.states[:-1], e.actions, e.rewards, 0.9))
estimates = np.array(estimates)
sizes = np.array([25, 50, 100, 200, 400, 800])
errors = [np.linalg.norm(estimates[:n].mean(axis=0) - exact) for n in sizes]
fig, ax = plt.subplots(figsize=(5, 3))
ax.loglog(sizes, errors, "o-", label="‖mean of REINFORCE − ∇J‖")
ax.loglog(sizes, errors[0] * np.sqrt(sizes[0] / sizes), "k--", label="∝ 1/√n")
ax.set_xlabel("episodes")
ax.legend()
plt.show()
