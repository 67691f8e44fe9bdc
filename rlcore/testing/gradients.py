"""Checks of a student's policy gradients for the tabular softmax policy (Sutton & Barto, 2nd ed., Sections 13.2–13.4).

Signatures (positional arguments):

===============================  ===================================================================
check                            the student's function
===============================  ===================================================================
:func:`check_policy_gradient`    ``policy_gradient(mdp, theta) -> grad``: the exact ∇J(θ), shape (S, A),
                                 for π_θ = softmax(θ[s]) and J(θ) = Σ_s μ₀(s) v_π(s)
:func:`check_reinforce_gradient` ``reinforce(theta, states, actions, rewards, gamma) -> grad``: the
                                 REINFORCE estimate Σ_t γ^t G_t ∇log π(A_t|S_t) of one terminated
                                 episode; states S_0..S_{T−1} and actions (ints, shape (T,)), rewards
                                 R_1..R_T (shape (T,)); grad shape (S, A)
===============================  ===================================================================

The exact gradient is compared with :func:`rlcore.exact_policy_gradient` on a battery of MDPs;
REINFORCE with :func:`rlcore.reinforce_gradient` on fixed episodes (the estimate of one episode
is a deterministic function of it, so it is compared to 1e-9).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rlcore import mdps
from rlcore.exact.dp import policy_evaluation
from rlcore.learning.td import discounted_returns
from rlcore.policy_gradient.gradients import discounted_occupancy, exact_policy_gradient, policy_from_logits, reinforce_gradient
from rlcore.testing._core import (
    DEFAULT_TIME_LIMIT,
    CheckFailed,
    aname,
    answer_array,
    call_student,
    close,
    diagnose,
    num,
    run_cases,
    sname,
)
from rlcore.testing.battery import Case, episodic_garnet, garnet_with_terminals


def check_policy_gradient(fn: Callable, *, time_limit: float | None = DEFAULT_TIME_LIMIT, raise_on_failure: bool = True):
    """Check ``policy_gradient(mdp, theta) -> ∇J(θ)`` against the exact gradient (S&B eq. 13.5 with the
    unnormalised discounted occupancy η, so "=" not "∝"):

        ∂J/∂θ[s, a] = η(s) π(a|s) A_π(s, a),   η(s) = Σ_t γ^t Pr(S_t = s).
    """
    cases = [
        Case("two_state (γ = 0.9)", mdps.two_state),
        Case("gridworld_4x4 (γ = 1, episodic)", mdps.gridworld_4x4),
        Case("garnet (dense, γ = 0.9)", lambda: mdps.garnet(8, 3, 3, seed=21, gamma=0.9)),
        Case("garnet (sparse, γ = 0.8)", lambda: mdps.garnet(20, 3, 3, seed=22, gamma=0.8, sparse=True)),
        Case("garnet with terminal states (γ = 0.95)", lambda: garnet_with_terminals(8, 3, 3, seed=23, gamma=0.95)),
        Case("episodic garnet (γ = 1)", lambda: episodic_garnet(6, 3, 3, seed=24)),
    ]

    def run_one(case):
        mdp = case.make()
        theta = np.random.default_rng(25).normal(0.0, 1.0, (mdp.n_states, mdp.n_actions))
        grad = call_student(fn, (mdp, theta.copy()), name="policy_gradient", time_limit=time_limit, case=case.name)
        grad = answer_array(grad, "the gradient", theta.shape, "∂J/∂θ for every state and action", case.name)
        expected = exact_policy_gradient(case.make(), theta)
        if np.all(close(grad, expected, 1e-7, 1e-6)):
            return
        pi = policy_from_logits(theta)
        solution = policy_evaluation(mdp, pi)
        A = solution.Q - solution.V[:, None]
        eta = discounted_occupancy(mdp, pi)
        candidates = [
            ("the occupancy η(s) is missing: ∂J/∂θ[s, a] = η(s) π(a|s) A(s, a), where η(s) = Σ_t γ^t Pr(S_t = s) "
             "weighs each state by how often (discounted) it is visited.", lambda: pi * A),
            ("you normalised η to sum to 1 (the on-policy distribution μ of S&B eq. 13.5, where the gradient is only "
             "proportional): with the unnormalised η the gradient is exact.", lambda: expected / eta.sum()),
            ("you weighted by the start distribution μ₀(s) instead of the discounted occupancy η(s).",
             lambda: mdp.initial[:, None] * pi * A),
            ("π(a|s) is missing: ∂J/∂θ[s, a] = η(s) π(a|s) A(s, a).", lambda: eta[:, None] * A),
            ("you computed η(s) π(a|s) q(s, a): the score ∇log π(a|s) = one_hot(a) − π(·|s) has a −π(·|s) part, "
             "which turns q(s, a) into the advantage q(s, a) − v(s).", lambda: eta[:, None] * pi * solution.Q),
            ("the sign is flipped: ∇J points uphill.", lambda: -expected),
        ]
        diagnosis = diagnose(grad, expected, candidates, 1e-7, 1e-6)
        s, a = np.unravel_index(np.argmax(np.abs(grad - expected)), grad.shape)
        lines = [f"On {case.name}: ∂J/∂θ[{sname(mdp, s)}, {aname(mdp, a)}] should be η π A = {num(eta[s])}·"
                 f"{num(pi[s, a])}·{num(A[s, a])} = {num(expected[s, a])}; yours is {num(grad[s, a])}."]
        raise CheckFailed.from_lines(lines, state=int(s), action=int(a), expected=float(expected[s, a]),
                                     received=float(grad[s, a]), diagnosis=diagnosis, case=case.name)

    return run_cases("check_policy_gradient", cases, run_one, raise_on_failure)


def check_reinforce_gradient(fn: Callable, *, seed: int = 0, time_limit: float | None = DEFAULT_TIME_LIMIT,
                             raise_on_failure: bool = True):
    """Check ``reinforce(theta, states, actions, rewards, gamma) -> ĝ``, the REINFORCE estimate of one
    terminated episode (Williams 1992; S&B Section 13.3, with the γ^t of its boxed algorithm):

        ĝ = Σ_t γ^t G_t ∇_θ log π_θ(A_t|S_t),   ∇_{θ[S_t]} log π(A_t|S_t) = one_hot(A_t) − π(·|S_t).
    """
    rng = np.random.default_rng(seed)

    def episode(T, S, A, gamma, revisit=False):
        states = rng.integers(0, 2 if revisit else S, size=T)
        return (rng.normal(0.0, 1.0, (S, A)), states, rng.integers(0, A, size=T), np.round(rng.normal(0.0, 1.0, T), 3), gamma)

    cases = [
        Case("one step", lambda: episode(1, 3, 2, 0.9)),
        Case("an episode of 6 steps, γ = 0.9", lambda: episode(6, 4, 3, 0.9)),
        Case("an episode of 8 steps, γ = 0.5 (γ^t matters)", lambda: episode(8, 4, 3, 0.5)),
        Case("states revisited, γ = 0.9", lambda: episode(7, 4, 3, 0.9, revisit=True)),
        Case("γ = 1", lambda: episode(5, 3, 4, 1.0)),
    ]

    def run_one(case):
        theta, states, actions, rewards, gamma = case.make()
        T = rewards.size
        discounts = np.full(T, gamma)
        discounts[-1] = 0.0
        grad = call_student(fn, (theta.copy(), states.copy(), actions.copy(), rewards.copy(), gamma),
                            name="reinforce", time_limit=time_limit, case=case.name)
        grad = answer_array(grad, "the gradient estimate", theta.shape, "ĝ for every state and action", case.name)
        G = discounted_returns(rewards, discounts, 0.0)
        expected = reinforce_gradient(theta, states, actions, G, discounts)
        if np.all(close(grad, expected, 1e-9, 1e-9)):
            return
        no_gamma_t = np.concatenate(([1.0], np.ones(T - 1)))  # discounts whose products are all 1
        candidates = [
            ("γ^t is missing: the term of step t is γ^t G_t ∇log π(A_t|S_t) (S&B Section 13.3). Dropping it "
             "estimates a different vector, not ∇J.", lambda: reinforce_gradient(theta, states, actions, G, no_gamma_t)),
            ("you used the reward R_{t+1} where the return G_t belongs.",
             lambda: reinforce_gradient(theta, states, actions, rewards, discounts)),
            ("you weighted every step by the whole episode's return G_0 instead of G_t (the return from step t).",
             lambda: reinforce_gradient(theta, states, actions, np.full(T, G[0]), discounts)),
            ("the returns are discounted twice: G_t already discounts the rewards after t; the γ^t in front counts the "
             "steps before t.", lambda: reinforce_gradient(theta, states, actions, G * np.cumprod(np.r_[1.0, discounts[:-1]]),
                                                            discounts)),
            ("the score has the wrong sign: ∇log π(a|s) = one_hot(a) − π(·|s).", lambda: -expected),
        ]
        diagnosis = diagnose(grad, expected, candidates, 1e-9, 1e-9)
        s, a = np.unravel_index(np.argmax(np.abs(grad - expected)), grad.shape)
        lines = [f"On {case.name} (states {states.tolist()}, actions {actions.tolist()}, rewards {rewards.tolist()}, "
                 f"γ = {gamma:g}):",
                 f"  ĝ[{s}, {a}] should be {num(expected[s, a])}; yours is {num(grad[s, a])}.",
                 f"  returns G_t = {np.round(G, 4).tolist()}"]
        raise CheckFailed.from_lines(lines, state=int(s), action=int(a), expected=float(expected[s, a]),
                                     received=float(grad[s, a]), diagnosis=diagnosis, case=case.name)

    return run_cases("check_reinforce_gradient", cases, run_one, raise_on_failure)
