# Source of exercise 6. Build the notebooks with: python -m rlcore.exercises build

# %% [markdown]
# # Exercise 6: n-step returns and λ-returns
#
# *Weeks 7 and 10 of the course (Sutton & Barto, Sections 7.1 and 12.1). Reading: `docs/nstep.md`,
# `docs/advantage_estimation.md`, `docs/eligibility_traces.md`.*
#
# A trajectory is three arrays, with time on the last axis (rlcore's convention, as in rlax):
#
# | array | holds | shape |
# |---|---|---|
# | `r_t` | rewards $R_1, \dots, R_T$ | (T,) |
# | `discount_t` | $\gamma\,(1 - \text{terminated})$ after each step | (T,) |
# | `values` | $V(S_0), \dots, V(S_T)$ | (T + 1,) |
#
# `discount_t` carries termination: a 0 means the episode ended at that step, so nothing after it
# may enter the sum — not the later rewards, not a bootstrapped value. A γ at the last step means
# the trajectory was only cut there (truncated): the return bootstraps from $V(S_T)$. No `if done`
# is needed: multiply by the discounts.

# %%
import matplotlib.pyplot as plt
import numpy as np

import rlcore
from rlcore import mdps, testing

# %% [markdown]
# ## Question 1: discounted returns with a bootstrap
#
# $G_t = R_{t+1} + \gamma_{t+1} G_{t+1}$ computed backwards from $G_T = v_T$, the value of the last
# state (eq. 3.9; `discount_t[t]` is $\gamma_{t+1}$). Return $G_0, \dots, G_{T-1}$, shape (T,).

# %%
def discounted_returns(r_t, discount_t, v_T):
    """G_t = R_{t+1} + discount_t[t]·G_{t+1}, backwards from G_T = v_T; shape (T,)."""
    ### BEGIN SOLUTION
    G = np.zeros(len(r_t))
    g = v_T
    for t in reversed(range(len(r_t))):
        g = r_t[t] + discount_t[t] * g
        G[t] = g
    return G
    ### END SOLUTION

# %% [check q1 points=1] Discounted returns with a bootstrap
testing.check_returns(discounted_returns, "discounted")

# %% [markdown]
# ## Question 2: the n-step return
#
# $G_{t:t+n} = R_{t+1} + \gamma R_{t+2} + \dots + \gamma^{n-1} R_{t+n} + \gamma^n V(S_{t+n})$ (eq. 7.1),
# for the n rewards of a window and the value of the state after it. A termination inside the
# window cuts off everything after it. Return one number.

# %%
def n_step_return(r_t, discount_t, v_tpn):
    """G_{t:t+n} from the n rewards R_{t+1..t+n}, their discounts and V(S_{t+n})."""
    ### BEGIN SOLUTION
    g = v_tpn
    for k in reversed(range(len(r_t))):
        g = r_t[k] + discount_t[k] * g
    return g
    ### END SOLUTION

# %% [check q2 points=1] The n-step return
testing.check_returns(n_step_return, "n_step")

# %% [markdown]
# ## Question 3: the λ-return
#
# $G^\lambda_t = R_{t+1} + \gamma_{t+1}\big[(1-\lambda) V(S_{t+1}) + \lambda G^\lambda_{t+1}\big]$,
# with $G^\lambda_T = V(S_T)$ (eq. 12.3 written recursively). λ = 0 gives the TD target, λ = 1 the
# Monte Carlo return (bootstrapped from $V(S_T)$ only if the trajectory was cut). Return shape (T,).

# %%
def lambda_returns(r_t, discount_t, values, lambda_):
    """G^λ_t for t = 0..T−1, shape (T,)."""
    ### BEGIN SOLUTION
    G = np.zeros(len(r_t))
    g = values[-1]
    for t in reversed(range(len(r_t))):
        g = r_t[t] + discount_t[t] * ((1 - lambda_) * values[t + 1] + lambda_ * g)
        G[t] = g
    return G
    ### END SOLUTION

# %% [check q3 points=2] The λ-return
testing.check_returns(lambda_returns, "lambda")

# %% [markdown]
# ## λ between TD and Monte Carlo
#
# On an episode of the 19-state random walk (Figure 7.2's task), with the exact $v_\pi$ as V, the
# λ-return moves from the TD target (λ = 0) to the Monte Carlo return (λ = 1). Its mean over many
# episodes stays $v_\pi(S_0)$ for every λ: only its variance changes.

# %%
walk = mdps.random_walk(19, left_reward=-1.0)
policy = rlcore.uniform_policy(walk)
v = rlcore.policy_evaluation(walk, policy).V
rng = np.random.default_rng(0)
lambdas = np.linspace(0, 1, 6)
samples = {lam: [] for lam in lambdas}
for _ in range(300):
    e = rlcore.sample_episode(walk, policy, rng)
    for lam in lambdas:
        samples[lam].append(lambda_returns(e.rewards, e.discounts, v[e.states], lam)[0])
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(lambdas, [np.std(samples[lam]) for lam in lambdas], "o-")
ax.set_xlabel("λ")
ax.set_ylabel("std of G^λ_0 (300 episodes)")
plt.show()
print("mean G^λ_0:", np.round([np.mean(samples[lam]) for lam in lambdas], 3), " v_π(S_0) =", v[10])
