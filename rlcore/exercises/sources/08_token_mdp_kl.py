# Source of exercise 8. Build the notebooks with: python -m rlcore.exercises build

# %% [markdown]
# # Exercise 8: the language model's token MDP and the KL-regularised backup
#
# *Week 12 of the course (Sutton & Barto, Chapter 3 on a new MDP; Ziebart 2010; Rafailov et al.
# 2024). Reading: `docs/token_mdp.md`, notebook `03_token_mdp`.*
#
# A language model generating text is an agent in an MDP whose dynamics are known exactly: the
# state is the text so far, the action the next character, the transition appends it. `lmenv`
# wraps the bundled character-level GPT as such an environment, and `lmenv.to_mdp` enumerates its
# prefix tree into an `rlcore.MDP` (γ = 1, the leaves terminal). The model's own next-character
# distribution is the reference policy $\pi_{\text{ref}}$.
#
# Fine-tuning with a KL penalty maximises $\mathbb E_\pi[\sum_t r_t] - \beta\,\mathbb E_\pi[\sum_t
# \mathrm{KL}(\pi(\cdot|s_t)\,\|\,\pi_{\text{ref}}(\cdot|s_t))]$. Its optimum is a soft backup:
#
# $$V(s) = \beta \log \sum_a \pi_{\text{ref}}(a|s)\, e^{Q(s,a)/\beta}, \qquad
#   \pi^*(a|s) = \pi_{\text{ref}}(a|s)\, e^{(Q(s,a) - V(s))/\beta}, \qquad Q(s, a) = r(s, a) + V(s a).$$

# %%
import numpy as np

import lmenv
from lmenv import rewards as R
from rlcore import testing

env = lmenv.TokenEnv(prompt="ROMEO:\nI ", max_new_tokens=2, actions="etaoinsh",
                     reward=R.ContainsWord("he") + R.AvoidCharacters("s", 0.2))
tree = lmenv.to_mdp(env)                   # 1 + 8 + 64 = 73 prefixes
mdp, reference = tree.task_mdp, tree.reference
S, A = mdp.n_states, mdp.n_actions
child = np.asarray(mdp.P_flat.argmax(axis=1)).reshape(S, A)   # child[s, a]: the prefix s followed by character a
depth = tree.depth                          # characters generated so far
kl_coef = 0.1
print(mdp, "| actions:", "".join(mdp.action_names))
print("π_ref after the prompt:", dict(zip(mdp.action_names, np.round(reference[0], 3))))

# %% [markdown]
# ## Question 1: the soft backup
#
# Write `soft_backup(q, kl_coef, reference)` for a batch of states: q and reference have shape
# (N, A); return `(v, policy)` with v of shape (N,) and the policy of shape (N, A), from the
# equations above with β = `kl_coef`. Subtract the maximum of each row before `np.exp` (log-sum-exp):
# one check case has q/β ≈ 1000. Actions with $\pi_{\text{ref}}(a|s) = 0$ get probability 0.

# %%
def soft_backup(q, kl_coef, reference):
    """v = β log Σ_a π_ref exp(q/β) and π* = π_ref exp((q − v)/β), row by row."""
    ### BEGIN SOLUTION
    top = q.max(axis=1, keepdims=True)
    weights = reference * np.exp((q - top) / kl_coef)
    v = top[:, 0] + kl_coef * np.log(weights.sum(axis=1))
    return v, weights / weights.sum(axis=1, keepdims=True)
    ### END SOLUTION

# %% [check q1 points=2] The KL-regularised backup
testing.check_soft_backup(soft_backup)

# %% [markdown]
# ## Question 2: the KL-regularised optimum on the tree
#
# The tree is finite, so one backward pass solves it: V = 0 at the leaves (depth 2); then for the
# states of depth 1, then 0, $Q(s, a) = r(s, a) + V(\text{child}[s, a])$ and V, π* from your soft
# backup. Return V, shape (S,), and the policy, shape (S, A) (any distribution on the leaves).

# %%
def kl_optimum(mdp, reference, kl_coef):
    """(V*_β, π*_β) by backward induction over the depths of the tree."""
    ### BEGIN SOLUTION
    V = np.zeros(mdp.n_states)
    policy = reference.copy()
    for d in reversed(range(depth.max())):
        states = np.flatnonzero((depth == d) & ~mdp.terminal)
        q = mdp.R[states] + V[child[states]]
        V[states], policy[states] = soft_backup(q, kl_coef, reference[states])
    return V, policy
    ### END SOLUTION

# %% [check q2 points=2] The KL-regularised optimum on the prefix tree
V_soft, policy_soft = kl_optimum(mdp, reference, kl_coef)
testing.assert_soft_optimal_values(mdp, V_soft, kl_coef, reference)

# %% [markdown]
# ## Question 3: the regularised value of a policy
#
# For any policy π, the KL-regularised value is the value of π when each step also pays
# $-\beta\,\mathrm{KL}(\pi(\cdot|s)\,\|\,\pi_{\text{ref}}(\cdot|s))$. Compute it by the same backward
# pass, with the π-average in place of the soft backup: $V(s) = \sum_a \pi(a|s)\,[Q(s, a) - \beta
# \log(\pi(a|s)/\pi_{\text{ref}}(a|s))]$ (terms with π(a|s) = 0 are 0). The optimum's value is
# $V^*_\beta$ itself; the reference policy's is its plain expected reward (its KL is 0).

# %%
def kl_regularised_value(mdp, policy, reference, kl_coef):
    """E_π[Σ_t r_t − β KL(π(·|s_t) ‖ π_ref(·|s_t))] from every state, shape (S,)."""
    ### BEGIN SOLUTION
    V = np.zeros(mdp.n_states)
    for d in reversed(range(depth.max())):
        states = np.flatnonzero((depth == d) & ~mdp.terminal)
        pi, ref = policy[states], reference[states]
        q = mdp.R[states] + V[child[states]]
        with np.errstate(divide="ignore", invalid="ignore"):
            log_ratio = np.where(pi > 0, np.log(pi / ref), 0.0)
        V[states] = (pi * (q - kl_coef * log_ratio)).sum(axis=1)
    return V
    ### END SOLUTION

# %% [check q3 points=1] The KL-regularised value of a policy
for policy in (reference, tree.kl_regularised_optimum(kl_coef).policy):
    testing.assert_value_of_policy(mdp, policy, kl_regularised_value(mdp, policy, reference, kl_coef),
                                   kl_coef=kl_coef, reference=reference)

# %% [markdown]
# ## What the KL term does
#
# The optimum shifts probability towards "he" only as far as the KL penalty allows; as β grows it
# returns to the model's own distribution. The soft advantage is $\beta \log(\pi^*/\pi_{\text{ref}})
# = Q - V$ at every state.

# %%
for beta in (0.02, 0.1, 0.5, 2.0):
    V_b, policy_b = kl_optimum(mdp, reference, beta)
    shown = {c: round(float(p), 3) for c, p in zip(mdp.action_names, policy_b[0]) if p > 0.05}
    print(f"β = {beta:<4}: V*(root) = {V_b[0]:.3f}   π*(·|root) = {shown}")
