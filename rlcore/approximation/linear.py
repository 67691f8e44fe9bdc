"""Linear value functions, their update rules as pure functions, and their exact solutions (Sutton & Barto, 2nd ed., Chapters 9–10).

A linear approximation is v̂(s, w) = wᵀx(s) (eq. 9.8), whose gradient is ∇v̂(s, w) = x(s)
(eq. 9.9); for action values, one weight vector per action, q̂(s, a, w) = w_aᵀx(s), whose
gradient is e_a ⊗ x(s) (the features of s in the block of action a). Every update moves w along
that gradient toward a target U_t (eq. 9.7):

    w ← w + α [U_t − v̂(S_t, w)] ∇v̂(S_t, w)

and the methods differ only in U_t, as the targets of :mod:`rlcore.learning.td` do:

    gradient Monte Carlo         U_t = G_t                               (Section 9.3, eq. 9.7)
    semi-gradient TD(0)          U_t = R_{t+1} + γ v̂(S_{t+1}, w)         (Section 9.3; n-step: eq. 9.15)
    semi-gradient SARSA          U_t = R_{t+1} + γ q̂(S_{t+1}, A_{t+1}, w)  (Section 10.1, eq. 10.1)

("semi-gradient": the target depends on w too, but is held fixed — no gradient flows through it.)
Names are time-indexed as in :mod:`rlcore.learning.td` (``x_tm1`` = x(S_{t−1}), ``r_t``,
``discount_t`` = γ(1 − terminated_t), ``x_t`` = x(S_t)); every function works on one transition or on
a batch with leading axes: ``w`` of shape (..., d) (state values) or (..., A, d) (action values),
``x`` of shape (..., d), numbers of shape (...). The functions return the new weights and never
modify their arguments.

Exact solutions, for an :class:`rlcore.MDP` and a feature matrix X (row s = x(s), zero for
terminal states): the on-policy distribution μ (eqs. 9.2–9.3), the value error VE (eq. 9.1), the
weights that minimise it (where gradient Monte Carlo converges) and the TD fixed point w_TD = A⁻¹b
(eq. 9.12, where semi-gradient TD(0) converges).
"""

from __future__ import annotations

import numpy as np

from rlcore import _checks
from rlcore.exact.dp import _require_termination, policy_transition
from rlcore.exact.policies import check_policy
from rlcore.learning.td import sarsa_target, td_target


# ---------------------------------------------------------------------- values
def linear_value(w, x):
    """v̂(s, w) = wᵀx(s) (S&B eq. 9.8).

    Args:
        w: weights, shape (..., d).
        x: features x(s), shape (..., d).

    Returns:
        shape (...).
    """
    return np.einsum("...d,...d->...", w, x)


def linear_q_values(w, x):
    """q̂(s, ·, w) = (w_aᵀx(s))_a, the action values of a state (S&B Section 10.1).

    Args:
        w: weights, one vector per action, shape (..., A, d).
        x: features x(s), shape (..., d).

    Returns:
        shape (..., A).
    """
    return np.einsum("...ad,...d->...a", w, x)


# ---------------------------------------------------------------------- updates
def linear_update(w, x, target, alpha):
    """w + α [U − wᵀx] x: one stochastic-gradient step toward the target U (S&B eq. 9.7 with ∇v̂ = x, eq. 9.9).

    Args:
        w: weights, shape (..., d).
        x: features of the updated state, shape (..., d).
        target: U, shape (...).
        alpha: the step size α, a number or shape (...).

    Returns:
        the new weights, shape (..., d).
    """
    error = np.asarray(target) - linear_value(w, x)
    return w + (np.asarray(alpha) * error)[..., None] * x


def gradient_mc_update(w, x_t, g_t, alpha):
    """Gradient Monte Carlo: w + α [G_t − v̂(S_t, w)] x(S_t) (S&B Section 9.3, eq. 9.7 with U_t = G_t).

    A true gradient step on ½[G_t − v̂(S_t, w)]², so it converges to a local (for linear v̂, the
    global) minimum of the value error VE under the on-policy distribution.

    Args:
        w: weights, shape (..., d).
        x_t: x(S_t), shape (..., d).
        g_t: the return G_t, shape (...).
        alpha: the step size α.

    Returns:
        the new weights, shape (..., d).
    """
    return linear_update(w, x_t, g_t, alpha)


def semi_gradient_td_update(w, x_tm1, r_t, discount_t, x_t, alpha):
    """Semi-gradient TD(0): w + α [R_t + γ_t v̂(S_t, w) − v̂(S_{t−1}, w)] x(S_{t−1}) (S&B Section 9.3; eq. 9.15 with n = 1).

    Args:
        w: weights, shape (..., d).
        x_tm1: x(S_{t−1}), the updated state, shape (..., d).
        r_t: reward R_t, shape (...).
        discount_t: γ (1 − terminated_t), shape (...).
        x_t: x(S_t), shape (..., d).
        alpha: the step size α.

    Returns:
        the new weights, shape (..., d).
    """
    return linear_update(w, x_tm1, td_target(r_t, discount_t, linear_value(w, x_t)), alpha)


def semi_gradient_sarsa_update(w, x_tm1, a_tm1, r_t, discount_t, x_t, a_t, alpha):
    """Episodic semi-gradient SARSA: w + α [R_t + γ_t q̂(S_t, A_t, w) − q̂(S_{t−1}, A_{t−1}, w)] ∇q̂(S_{t−1}, A_{t−1}, w) (S&B eq. 10.1).

    With one weight vector per action, ∇q̂(s, a, w) is x(s) in the block of action a and zero
    elsewhere: only w_{A_{t−1}} moves.

    Args:
        w: weights, shape (..., A, d).
        x_tm1: x(S_{t−1}), shape (..., d).
        a_tm1: A_{t−1}, integers, shape (...).
        r_t: reward R_t, shape (...).
        discount_t: γ (1 − terminated_t), shape (...).
        x_t: x(S_t), shape (..., d).
        a_t: A_t, the next action, integers, shape (...).
        alpha: the step size α.

    Returns:
        the new weights, shape (..., A, d).
    """
    w = np.asarray(w)
    target = sarsa_target(r_t, discount_t, linear_q_values(w, x_t), a_t)
    grad = (np.arange(w.shape[-2]) == np.asarray(a_tm1)[..., None])[..., None] * np.asarray(x_tm1)[..., None, :]  # e_a ⊗ x, (..., A, d)
    error = target - np.sum(w * grad, axis=(-2, -1))  # q̂(S_{t−1}, A_{t−1}) = ⟨w, ∇q̂⟩ for linear q̂
    return w + (np.asarray(alpha) * error)[..., None, None] * grad


# ---------------------------------------------------------------------- exact solutions on a finite MDP
def feature_matrix(features, mdp, states=None) -> np.ndarray:
    """X, the features of every state of an MDP, row s = x(s); rows of terminal states are 0 (v̂ = 0 there).

    Args:
        features: a feature map of :mod:`rlcore.approximation.features` (or any callable from
            states (n, …) to features (n, d)).
        mdp: the :class:`rlcore.MDP`.
        states: what the feature map reads for each MDP state, shape (S,) or (S, k); default the
            state index (the 1000-state walk's state s is the number s).

    Returns:
        X, shape (S, d).
    """
    S = mdp.n_states
    states = np.arange(S, dtype=float) if states is None else np.asarray(states, dtype=float)
    if states.shape[0] != S:
        raise ValueError(f"states must give one entry per MDP state ({S}); got shape {states.shape}")
    live = ~mdp.terminal
    x_live = np.asarray(features(states[live]), dtype=float)
    X = np.zeros((S, x_live.shape[-1]))
    X[live] = x_live
    return X


def on_policy_distribution(mdp, policy) -> np.ndarray:
    """μ(s), the fraction of time spent in s under π in an episodic task (S&B eqs. 9.2–9.3).

    η(s) = h(s) + Σ_s̄ η(s̄) γ Σ_a π(a|s̄) p(s|s̄, a) on the non-terminal states, with h = μ₀ the
    start distribution — the expected number of visits per episode; the factor γ treats discounting
    as a form of termination, as the book suggests. μ = η / Σ_s η, zero on terminal states.

    Args:
        mdp: an :class:`rlcore.MDP` whose episodes end under π (γ = 1) or with γ < 1.
        policy: π, shape (S, A).

    Returns:
        μ, shape (S,), summing to 1.
    """
    policy = check_policy(policy, mdp.n_states, mdp.n_actions)
    _require_termination(mdp, policy)
    eta = expected_visits(mdp, policy)
    return eta / eta.sum()


def expected_visits(mdp, policy) -> np.ndarray:
    """η(s), the expected number of (γ-discounted) visits to s per episode under π (S&B eq. 9.2), shape (S,)."""
    P_pi, _ = policy_transition(mdp, policy)
    live = np.flatnonzero(~mdp.terminal)
    P_live = P_pi[live][:, live]
    P_live = P_live.toarray() if hasattr(P_live, "toarray") else np.asarray(P_live)
    M = np.eye(live.size) - mdp.gamma * P_live.T
    eta = np.zeros(mdp.n_states)
    eta[live] = np.linalg.solve(M, mdp.initial[live])
    return eta


def value_error(v_hat, v_pi, mu):
    """VE = Σ_s μ(s) [v_π(s) − v̂(s)]² (S&B eq. 9.1); its square root is the RMS error of Figure 9.5.

    Args:
        v_hat: the approximation v̂, shape (..., S).
        v_pi: the true values, shape (S,).
        mu: the state weighting μ, shape (S,) (summing to 1).

    Returns:
        shape (...).
    """
    return np.sum(np.asarray(mu) * (np.asarray(v_pi) - np.asarray(v_hat)) ** 2, axis=-1)


def mc_solution(X, v_pi, mu) -> np.ndarray:
    """The weights that minimise VE, argmin_w Σ_s μ(s)[v_π(s) − wᵀx(s)]²: where gradient Monte Carlo converges.

    The μ-weighted least-squares solution (XᵀDX)⁻¹XᵀDv_π, D = diag(μ) (minimum norm when XᵀDX is
    singular). With state aggregation it is the μ-weighted average of v_π in each group
    (S&B Figure 9.1).

    Args:
        X: features, shape (S, d).
        v_pi: true values, shape (S,).
        mu: on-policy distribution, shape (S,).

    Returns:
        w, shape (d,).
    """
    root = np.sqrt(np.asarray(mu, dtype=float))
    w, *_ = np.linalg.lstsq(root[:, None] * X, root * v_pi, rcond=None)
    return w


def td_fixed_point(mdp, policy, X) -> np.ndarray:
    """w_TD = A⁻¹b, the TD fixed point where linear semi-gradient TD(0) converges (S&B eqs. 9.11–9.12).

    A = E[x_t (x_t − γ x_{t+1})ᵀ] = XᵀD(I − γP_π)X and b = E[R_{t+1} x_t] = XᵀD r_π, with
    D = diag(μ) the on-policy distribution. Its value error is within 1/(1 − γ) of the minimum
    (eq. 9.14) — a bound that says nothing at γ = 1, where the 1000-state walk shows the gap
    (Figure 9.2, left).

    Args:
        mdp: the :class:`rlcore.MDP`.
        policy: π, shape (S, A).
        X: features, shape (S, d), zero for terminal states.

    Returns:
        w_TD, shape (d,) (with features that are zero on every visited state, the minimum-norm solution).
    """
    policy = check_policy(policy, mdp.n_states, mdp.n_actions)
    X = _checks.real_array(X, "X")
    mu = on_policy_distribution(mdp, policy)
    P_pi, r_pi = policy_transition(mdp, policy)
    DX = mu[:, None] * X
    A = DX.T @ (X - mdp.gamma * (P_pi @ X))
    b = DX.T @ r_pi
    w, *_ = np.linalg.lstsq(A, b, rcond=None)  # A⁻¹b; the minimum-norm solution if a feature is never active
    return w
