"""The exact policy gradient of a tabular softmax policy (Sutton & Barto, 2nd ed., Sections 13.1–13.3).

Lecture 8. The policy has one logit per state and action, θ of shape (S, A):

    π_θ(a|s) = exp(θ[s, a]) / Σ_b exp(θ[s, b])                                 (S&B eq. 13.2)

and the objective is the expected return from the start distribution μ₀,

    J(θ) = Σ_s μ₀(s) v_π(s).                                                    (S&B eq. 13.4)

**The occupancy and its normalisation.** rlcore uses the *discounted, unnormalised* state
occupancy

    η(s) = Σ_{t≥0} γ^t Pr(S_t = s | S_0 ~ μ₀, π),   i.e.   ηᵀ = μ₀ᵀ (I − γ P_π)^{-1},

the expected discounted number of visits to s. With it the policy gradient theorem holds with
an equals sign and no proportionality constant:

    ∇J(θ) = Σ_s η(s) Σ_a ∇π(a|s) q_π(s, a) = Σ_s η(s) Σ_a π(a|s) ∇log π(a|s) A_π(s, a).

S&B's eq. 13.5 writes "∝" because its μ is the *normalised* on-policy distribution (for an
episodic task with γ = 1, η divided by the mean episode length Σ_s η(s)); Section 13.3 then puts
the γ^t back into REINFORCE. Terminal states are absorbing with value 0 (as everywhere in rlcore):
time spent in them is not counted, η(terminal) = 0, so the linear system is solved on the
non-terminal states only. With γ = 1 every state must reach a terminal state under π (a softmax
policy gives every action positive probability, so this is a property of the MDP).

**The score.** For the tabular softmax, ∂ log π(a|s) / ∂θ[s', b] = 1[s' = s] (1[b = a] − π(b|s)):
the gradient of log π(a|s) lives in row s only, where it is ``one_hot(a) − π(·|s)``
(:func:`softmax_score`). Its mean under π is zero, Σ_a π(a|s) ∇log π(a|s) = 0, which is why
subtracting any baseline b(s) from q leaves the gradient unchanged, and why A = q − v can replace q.
For this parametrisation the gradient is simply ∂J/∂θ[s, a] = η(s) π(a|s) A_π(s, a)
(Agarwal et al. 2021, softmax parameterisation), which the tests check against the general
formula and against finite differences of J.

**Monte Carlo.** Sampling an episode S_0, A_0, R_1, … with S_0 ~ μ₀ and π gives the unbiased
REINFORCE estimate (Williams 1992; S&B Section 13.3 with the γ^t of its boxed algorithm)

    ĝ = Σ_t γ^t ψ_t ∇log π(A_t|S_t),   ψ_t = G_t  or  G_t − b(S_t)  or another advantage estimate,

whose mean is ∇J exactly for ψ_t = G_t − b(S_t) and any b (:func:`reinforce_gradient`,
:func:`sample_episode`). Dropping the γ^t, as many implementations do, gives a different vector
(Thomas 2014; Nota & Thomas 2020); the tests show that the sampled estimate then misses ∇J.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from rlcore import _checks
from rlcore.exact.dp import policy_evaluation, policy_transition, states_that_never_terminate
from rlcore.exact.policies import check_policy, draw, softmax_policy
from rlcore.exact.sampling import TransitionSampler


def policy_from_logits(theta) -> np.ndarray:
    """π_θ(a|s) = exp(θ[s, a]) / Σ_b exp(θ[s, b]), the tabular softmax policy (S&B eq. 13.2).

    It is :func:`rlcore.softmax_policy` at temperature 1, with the logits θ as "action values".

    Args:
        theta: logits θ, shape (S, A).

    Returns:
        the policy, shape (S, A).
    """
    return softmax_policy(theta, temperature=1.0)


def softmax_score(logits_t, a_t) -> np.ndarray:
    """∇_θ log π_θ(a_t|s) in row s of θ: ``one_hot(a_t) − softmax(θ[s])`` (S&B Exercise 13.3).

    The other rows of ∇_θ log π(a_t|s) are zero. Its expectation under π(·|s) is 0.

    Args:
        logits_t: θ[S_t, ·], the logits of the state the action was taken in, shape (..., A).
        a_t: the action A_t, shape (...).

    Returns:
        the score, shape (..., A).
    """
    logits_t = np.asarray(logits_t, dtype=float)
    return np.eye(logits_t.shape[-1])[a_t] - softmax_policy(logits_t, 1.0)


def discounted_occupancy(mdp, policy) -> np.ndarray:
    """η(s) = Σ_t γ^t Pr(S_t = s), i.e. ηᵀ = μ₀ᵀ (I − γ P_π)^{-1}: the expected discounted visits.

    Unnormalised: Σ_s η(s) is the expected discounted episode length (1/(1 − γ) without terminal
    states). Terminal states have η = 0: the linear system is solved on the non-terminal states
    N only, η_N = μ₀[N]ᵀ (I − γ P_π[N, N])^{-1}, the transpose of rlcore's policy evaluation.

    Args:
        mdp: the MDP (dense or sparse).
        policy: π, shape (S, A).

    Returns:
        η, shape (S,).

    Raises:
        ValueError: for γ = 1 and a policy that never terminates from some state.
    """
    policy = check_policy(policy, mdp.n_states, mdp.n_actions)
    if mdp.gamma == 1.0 and states_that_never_terminate(mdp, policy).size:
        raise ValueError("gamma = 1 and the policy never reaches a terminal state from some state: "
                         "the expected number of visits is infinite (use gamma < 1)")
    P_pi, _ = policy_transition(mdp, policy)
    live = np.flatnonzero(~mdp.terminal)
    eta = np.zeros(mdp.n_states)
    if live.size == 0:
        return eta
    if sp.issparse(P_pi):
        M = sp.identity(live.size, format="csc") - mdp.gamma * P_pi[live][:, live].tocsc()
        eta[live] = splu(M.T.tocsc()).solve(mdp.initial[live])
    else:
        M = np.eye(live.size) - mdp.gamma * P_pi[np.ix_(live, live)]
        eta[live] = np.linalg.solve(M.T, mdp.initial[live])
    return eta


def policy_objective(mdp, theta) -> float:
    """J(θ) = Σ_s μ₀(s) v_π(s) with π = π_θ, the expected return from the start (S&B eq. 13.4).

    Args:
        mdp: the MDP.
        theta: logits, shape (S, A).

    Returns:
        J(θ).
    """
    return float(mdp.initial @ policy_evaluation(mdp, policy_from_logits(theta)).V)


def exact_policy_gradient(mdp, theta, baseline=None) -> np.ndarray:
    """The exact gradient ∇J(θ) = Σ_s η(s) Σ_a π(a|s) ∇log π(a|s) [q_π(s, a) − b(s)] (S&B eq. 13.5).

    η is the unnormalised discounted occupancy (:func:`discounted_occupancy`), so this is ∇J
    itself, not a multiple. The baseline b(s) does not change the result (Σ_a π ∇log π = 0,
    S&B eq. 13.10); the default b = v_π makes the weights the advantage A_π = q_π − v_π, and
    ``baseline=np.zeros(S)`` gives the q form. For the tabular softmax the result equals
    η(s) π(a|s) A_π(s, a).

    Args:
        mdp: the MDP.
        theta: logits, shape (S, A).
        baseline: b, shape (S,); default v_π.

    Returns:
        ∂J/∂θ, shape (S, A).
    """
    pi = policy_from_logits(theta)
    solution = policy_evaluation(mdp, pi)
    eta = discounted_occupancy(mdp, pi)
    b = solution.V if baseline is None else np.asarray(baseline, dtype=float)
    psi = solution.Q - b[:, None]  # q_π(s, a) − b(s)
    scores = np.eye(mdp.n_actions)[None, :, :] - pi[:, None, :]  # scores[s, a] = ∇_{θ[s]} log π(a|s), (S, A, A)
    return eta[:, None] * np.einsum("sa,sa,sab->sb", pi, psi, scores)


def reinforce_gradient(theta, s_t, a_t, psi_t, discount_t) -> np.ndarray:
    """ĝ = Σ_t γ^t ψ_t ∇_θ log π_θ(A_t|S_t), the REINFORCE estimate of ∇J from one episode
    (Williams 1992; S&B Section 13.3–13.4).

    γ^t is the product of the discounts before step t, so it is γ^t along an episode. With
    ψ_t = G_t (:func:`rlcore.td.discounted_returns`) or ψ_t = G_t − b(S_t)
    (:func:`rlcore.advantages.monte_carlo_advantages`) and S_0 ~ μ₀ its mean is
    :func:`exact_policy_gradient`.

    Args:
        theta: logits the episode was played with, shape (S, A).
        s_t: states S_0, …, S_{T−1}, shape (T,).
        a_t: actions A_0, …, A_{T−1}, shape (T,).
        psi_t: the weight ψ_t of each step (return, or return minus baseline), shape (T,).
        discount_t: γ (1 − terminated) after each step, shape (T,).

    Returns:
        ĝ, shape (S, A).
    """
    theta = np.asarray(theta, dtype=float)
    s_t = np.asarray(s_t, dtype=np.int64)
    grad = np.zeros_like(theta)
    np.add.at(grad, s_t, reinforce_terms(theta[s_t], a_t, psi_t, discount_t))  # Σ_t into row S_t
    return grad


def reinforce_terms(logits_t, a_t, psi_t, discount_t) -> np.ndarray:
    """The terms γ^t ψ_t ∇_{θ[S_t]} log π_θ(A_t|S_t) of :func:`reinforce_gradient`, one per step.

    Args:
        logits_t: θ[S_t, ·] of each step, shape (T, A).
        a_t, psi_t, discount_t: as in :func:`reinforce_gradient`, shape (T,).

    Returns:
        shape (T, A); term t belongs to row S_t of the gradient.
    """
    discount_t = np.asarray(discount_t, dtype=float)
    gamma_t = np.concatenate(([1.0], np.cumprod(discount_t[:-1])))  # γ^t
    return (gamma_t * np.asarray(psi_t, dtype=float))[:, None] * softmax_score(logits_t, np.asarray(a_t, dtype=np.int64))


class Episode(NamedTuple):
    """One sampled episode; ``states`` includes the last state S_T, the other fields have length T."""

    states: np.ndarray  # S_0, …, S_T, shape (T + 1,)
    actions: np.ndarray  # A_0, …, A_{T−1}, shape (T,)
    rewards: np.ndarray  # R_1, …, R_T, shape (T,)
    discounts: np.ndarray  # γ (1 − terminated) after each step, shape (T,)


def sample_episode(mdp, policy, rng, max_steps: int | None = None) -> Episode:
    """Play one episode of π on the MDP: S_0 ~ μ₀, A_t ~ π(·|S_t), S_{t+1} ~ p(·|S_t, A_t).

    Transitions and rewards are drawn by :class:`rlcore.exact.sampling.TransitionSampler`, as in
    :class:`rlcore.MDPEnv`: r(s, a, s') when the MDP has transition rewards, else r(s, a). The episode ends when a terminal state is reached, or after
    ``max_steps`` steps (a truncation: the last discount is then γ, not 0).

    Args:
        mdp: the MDP.
        policy: π, shape (S, A).
        rng: a ``numpy.random.Generator``.
        max_steps: truncate after this many steps; required when the MDP has no terminal state.

    Returns:
        an :class:`Episode`.
    """
    policy = check_policy(policy, mdp.n_states, mdp.n_actions)
    if max_steps is None:
        stuck = np.intersect1d(states_that_never_terminate(mdp, policy), np.flatnonzero(mdp.initial))
        if stuck.size:
            raise ValueError(f"the policy never reaches a terminal state from the start states "
                             f"{[mdp.state_names[s] for s in stuck[:10]]}: give max_steps, or the episode never ends")
    else:
        max_steps = _checks.whole(max_steps, "max_steps", 1)
    policy_cdf = np.cumsum(policy, axis=1).tolist()
    sampler = TransitionSampler(mdp)
    terminal, gamma = mdp.terminal.tolist(), mdp.gamma
    s = sampler.start(rng)
    states, actions, rewards, discounts = [s], [], [], []
    while not terminal[s] and (max_steps is None or len(actions) < max_steps):
        a = draw(policy_cdf[s], rng.random())
        s, r, _ = sampler.step(s, a, rng)
        rewards.append(r)
        discounts.append(gamma * (1.0 - terminal[s]))
        actions.append(a)
        states.append(s)
    return Episode(np.array(states), np.array(actions, dtype=np.int64), np.array(rewards), np.array(discounts))
