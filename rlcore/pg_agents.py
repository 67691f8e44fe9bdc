"""Tabular policy-gradient agents: REINFORCE (with or without a learned baseline) and one-step
actor-critic (Sutton & Barto, 2nd ed., Sections 13.3–13.5).

The policy is the tabular softmax π_θ(a|s) ∝ exp(θ[s, a]) of :mod:`rlcore.policy_gradient`; its
score in row s is ``one_hot(a) − π(·|s)`` (:func:`rlcore.policy_gradient.softmax_score`). The
agents speak the protocol of :mod:`rlcore.agents`, so :func:`rlcore.train` drives them::

    action = agent.start(obs)
    action = agent.step(reward, obs, terminated, truncated)   # None once the episode is over

Both weight step t by γ^t, as the boxed algorithms of S&B Sections 13.3–13.5 do: that makes the
expected update the gradient of J(θ) = Σ_s μ₀(s) v_π(s) with the discounted occupancy of
:func:`rlcore.policy_gradient.discounted_occupancy` (with γ = 1 it changes nothing).

Observations can be anything hashable (see :mod:`rlcore.qtable`): θ and V are (S, A) and (S,)
arrays for a ``Discrete`` observation space, dicts that grow as states are visited otherwise.
Randomness comes from ``agent.rng`` only, seeded by ``seed=`` or ``rlcore.train(seed=...)``.
"""

from __future__ import annotations

import math

import numpy as np

from rlcore import exploration
from rlcore.advantages import monte_carlo_advantages
from rlcore.agents import _check_gamma, _spaces
from rlcore.exploration import softmax_action, softmax_probs
from rlcore.policy_gradient import policy_from_logits, softmax_score
from rlcore.qtable import Table
from rlcore.td import discounted_returns, td_target


class _PolicyAgent:
    """Plumbing shared by the policy-gradient agents: spaces, γ, θ, the critic V and the random stream."""

    def __init__(self, env, *, alpha, alpha_critic, gamma, critic: bool, seed):
        name = type(self).__name__
        self.observation_space, self.action_space, default_gamma = _spaces(env, name)
        self.n_actions = int(self.action_space.n)
        self._action_start = int(self.action_space.start)
        self.gamma = _check_gamma(default_gamma if gamma is None else gamma, name)
        self.alpha = _check_step_size(alpha)
        self._theta = Table(self.observation_space, self.n_actions, 0.0)  # logits θ[s, a]
        self._critic = None
        self.alpha_critic = None
        if critic:
            exploration.check_alpha(alpha_critic, "alpha_critic")
            self.alpha_critic = float(alpha_critic)
            self._critic = Table(self.observation_space, 1, 0.0)  # V(s)
        self.episode = 0  # episodes started so far
        self.seed(seed)

    def seed(self, seed=None) -> None:
        """Reset the agent's random stream: ``numpy.random.default_rng(seed)``."""
        self.rng = np.random.default_rng(seed)
        self._random = self.rng.random

    @property
    def theta(self):
        """The logits θ: an (S, A) array (the live table) for Discrete observations, else a dict ``{obs: (A,) array}``."""
        return self._theta.data

    @property
    def policy(self) -> np.ndarray:
        """π_θ as an (S, A) array (Discrete observations only)."""
        if not self._theta.is_array:
            raise TypeError("policy needs a Discrete observation space; use action_probs(obs)")
        return policy_from_logits(self._theta.data)

    @property
    def V(self):
        """The learned state values (baseline or critic): an (S,) array view, or a dict; None without one."""
        if self._critic is None:
            return None
        if self._critic.is_array:
            return self._critic.data[:, 0]
        return {key: float(row[0]) for key, row in self._critic.data.items()}

    def snapshot(self):
        """A copy of θ (array, or dict of copied rows); what :func:`rlcore.train` stores."""
        return self._theta.copy()

    def action_probs(self, obs) -> np.ndarray:
        """π_θ(·|obs), shape (A,)."""
        return softmax_probs(self._theta.row(obs), 1.0)

    def act(self, obs) -> int:
        """An action drawn from π_θ(·|obs), without learning."""
        return self._draw(self._theta.row(obs))

    def _draw(self, logits) -> int:
        return softmax_action(logits.tolist(), 1.0, self._random) + self._action_start

    def _value(self, obs) -> float:
        return 0.0 if self._critic is None else float(self._critic.row(obs)[0])

    def __repr__(self) -> str:
        table = f"array{self._theta.data.shape}" if self._theta.is_array else f"dict({len(self._theta)} states)"
        critic = "" if self._critic is None else f", alpha_critic={self.alpha_critic}"
        return f"{type(self).__name__}(alpha={self.alpha}{critic}, gamma={self.gamma}, table={table})"


class Reinforce(_PolicyAgent):
    """Monte Carlo policy gradient, with an optional learned state-value baseline (S&B Sections 13.3–13.4; Williams 1992).

    ## Update
    At the end of each episode, with G_t = R_{t+1} + γ G_{t+1} (eq. 3.9) and ψ_t = G_t, or
    ψ_t = G_t − V(S_t) with ``baseline=True``:

    θ ← θ + α Σ_t γ^t ψ_t ∇log π_θ(A_t|S_t)        (eqs. 13.8 and 13.11)

    one step along :func:`rlcore.policy_gradient.reinforce_gradient` of the episode, all scores
    taken at the θ that played it (the book's loop changes θ between the steps of one episode;
    the two agree to first order in α, and this one is an unbiased gradient step). The baseline
    is every-visit constant-α Monte Carlo, V(S_t) ← V(S_t) + α_V [G_t − V(S_t)] in time order;
    the ψ_t use V from before the episode, so the baseline does not depend on the episode it
    weighs and the step stays unbiased. A truncated episode bootstraps G from V(S_T) (from 0
    without a baseline, which biases it: REINFORCE is meant for episodes that terminate).

    ## Arguments
    - ``env``: a Gymnasium environment (its spaces) or an :class:`rlcore.MDP`.
    - ``alpha``: policy step size α > 0.
    - ``baseline``: learn V(s) and subtract it (REINFORCE with baseline).
    - ``alpha_baseline``: step size of the baseline, in (0, 1].
    - ``gamma``: γ; from the MDP when ``env`` is one, required otherwise.
    - ``seed``: seed of ``agent.rng``.
    """

    def __init__(self, env, *, alpha=0.1, baseline=False, alpha_baseline=0.1, gamma=None, seed=None):
        super().__init__(env, alpha=alpha, alpha_critic=alpha_baseline, gamma=gamma, critic=bool(baseline), seed=seed)
        self.baseline = bool(baseline)

    def start(self, obs) -> int:
        """Begin an episode in ``obs`` and return A_0 ~ π_θ(·|obs)."""
        self.episode += 1
        self._obs, self._actions, self._rewards, self._discounts = [obs], [], [], []
        action = self._draw(self._theta.row(obs))
        self._actions.append(action - self._action_start)
        return action

    def step(self, r_t: float, obs, terminated: bool, truncated: bool = False) -> int | None:
        """Record R_t and S_t = obs; at the end of the episode take one gradient step."""
        self._rewards.append(r_t)
        self._discounts.append(self.gamma * (1.0 - terminated))
        self._obs.append(obs)
        if terminated or truncated:
            self._learn_episode()
            return None
        action = self._draw(self._theta.row(obs))
        self._actions.append(action - self._action_start)
        return action

    def _learn_episode(self) -> None:
        rows = [self._theta.row(obs) for obs in self._obs[:-1]]
        values = [self._value(obs) for obs in self._obs]  # V(S_0), …, V(S_T) before this episode; 0 without baseline
        G = discounted_returns(self._rewards, self._discounts, values[-1])
        psi = monte_carlo_advantages(self._rewards, self._discounts, values) if self.baseline else G
        gamma_t = np.concatenate(([1.0], np.cumprod(self._discounts[:-1])))  # γ^t
        steps = [self.alpha * gamma_t[t] * psi[t] * softmax_score(row, a)
                 for t, (row, a) in enumerate(zip(rows, self._actions))]  # all at the θ that played the episode
        for row, step in zip(rows, steps):
            row += step
        if self.baseline:
            for obs, g in zip(self._obs[:-1], G):
                v = self._critic.row(obs)
                v[0] += self.alpha_critic * (g - v[0])

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", baseline={self.baseline})"


class ActorCritic(_PolicyAgent):
    """One-step actor-critic (S&B Section 13.5, eqs. 13.12–13.14 and the boxed algorithm).

    ## Update
    After each transition (S, A, R, S'):

    δ = R + γ V(S') − V(S)                 (the TD error; V(S') = 0 when S' is terminal)
    V(S) ← V(S) + α_V δ                    (the critic: TD(0))
    θ ← θ + α I δ ∇log π_θ(A|S)            (the actor)
    I ← γ I                                 (I = γ^t, 1 at the start of each episode)

    δ is a one-step estimate of the advantage A_π(S, A), with the critic as its baseline. A
    truncated episode bootstraps from V(S') (truncation is not termination).

    ## Arguments
    - ``env``: a Gymnasium environment (its spaces) or an :class:`rlcore.MDP`.
    - ``alpha``: actor step size α > 0.
    - ``alpha_critic``: critic step size α_V in (0, 1].
    - ``gamma``: γ; from the MDP when ``env`` is one, required otherwise.
    - ``seed``: seed of ``agent.rng``.
    """

    def __init__(self, env, *, alpha=0.1, alpha_critic=0.1, gamma=None, seed=None):
        super().__init__(env, alpha=alpha, alpha_critic=alpha_critic, gamma=gamma, critic=True, seed=seed)

    def start(self, obs) -> int:
        """Begin an episode in ``obs`` and return A_0 ~ π_θ(·|obs)."""
        self.episode += 1
        self._I = 1.0
        self._theta_tm1, self._v_tm1 = self._theta.row(obs), self._critic.row(obs)
        action = self._draw(self._theta_tm1)
        self._a_tm1 = action - self._action_start
        return action

    def step(self, r_t: float, obs, terminated: bool, truncated: bool = False) -> int | None:
        """Learn from (S_{t−1}, A_{t−1}, R_t, S_t = obs); return A_t ~ π_θ(·|S_t), or None if the episode ended."""
        v_t = self._critic.row(obs)
        discount_t = self.gamma * (1.0 - terminated)
        delta = td_target(r_t, discount_t, v_t[0]) - self._v_tm1[0]
        self._v_tm1[0] += self.alpha_critic * delta
        self._theta_tm1 += self.alpha * self._I * delta * softmax_score(self._theta_tm1, self._a_tm1)
        self._I *= self.gamma
        if terminated or truncated:
            return None
        self._theta_tm1, self._v_tm1 = self._theta.row(obs), v_t
        action = self._draw(self._theta_tm1)
        self._a_tm1 = action - self._action_start
        return action


def _check_step_size(alpha) -> float:
    """The policy step size α as a float; ValueError unless it is a positive finite number."""
    try:
        value = float(alpha)
    except (TypeError, ValueError):
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"alpha (the policy step size) must be a positive number; got {alpha!r}")
    return value
