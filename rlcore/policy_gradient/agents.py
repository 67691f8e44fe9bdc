"""Tabular policy-gradient agents: REINFORCE (with or without a learned baseline) and one-step
actor-critic (Sutton & Barto, 2nd ed., Sections 13.3–13.5).

Lecture 9. The policy is the tabular softmax π_θ(a|s) ∝ exp(θ[s, a]) of
:mod:`rlcore.policy_gradient.gradients`; its score in row s is ``one_hot(a) − π(·|s)``
(:func:`rlcore.softmax_score`). The agents are written on the engine of
:mod:`rlcore.learning.agents`, so :func:`rlcore.train` drives one run and
:func:`rlcore.train_lockstep` N runs of the same code::

    action = agent.start(obs)
    action = agent.step(reward, obs, terminated, truncated)   # None once the episode is over

Both weight step t by γ^t, as the boxed algorithms of S&B Sections 13.3–13.5 do: that makes the
expected update the gradient of J(θ) = Σ_s μ₀(s) v_π(s) with the discounted occupancy of
:func:`rlcore.discounted_occupancy` (with γ = 1 it changes nothing).

Observations can be anything hashable (see :mod:`rlcore.learning.table`): θ and V are (S, A) and
(S,) arrays for a ``Discrete`` observation space, dicts that grow as states are visited otherwise.
Randomness comes from ``agent.rng`` only, seeded by ``seed=`` or ``rlcore.train(seed=...)``.
"""

from __future__ import annotations

import numpy as np

from rlcore import _checks

from rlcore.exact.policies import draw_softmax, sample_softmax
from rlcore.learning import schedules
from rlcore.learning.agents import Agent, EpisodeLearner
from rlcore.learning.control import _check_flag
from rlcore.learning.table import Table
from rlcore.learning.td import discounted_returns, td_target
from rlcore.policy_gradient.advantages import monte_carlo_advantages
from rlcore.policy_gradient.gradients import policy_from_logits, reinforce_terms, softmax_score


class _PolicyAgent(Agent):
    """Shared by the policy-gradient agents: θ, the state values V (baseline or critic), acting."""

    def __init__(self, env, *, alpha, alpha_value, gamma, critic: bool, seed):
        super().__init__(env, gamma=gamma, seed=seed)
        self.alpha = _check_step_size(alpha)
        self._table = Table(self.observation_space, self.n_actions, 0.0)  # logits θ[s, a]
        self._critic = None
        self.alpha_value = None
        if critic:
            schedules.check_alpha(alpha_value, "alpha_value")
            self.alpha_value = float(alpha_value)
            self._critic = Table(self.observation_space, 1, 0.0)  # V(s), one row per row of θ
            self._critic.share_rows(self._table)

    @property
    def theta(self):
        """The logits θ: an (S, A) array (the live table) for Discrete observations, else a dict
        ``{obs: (A,) array}``; (N, S, A) for N runs."""
        return self.table

    @property
    def policy(self) -> np.ndarray:
        """π_θ as an (S, A) array (Discrete observations only; (N, S, A) for N runs)."""
        if not self._table.is_array:
            raise TypeError("policy needs a Discrete observation space; use action_probs(obs)")
        return policy_from_logits(self.table)

    @property
    def V(self):
        """The learned state values (baseline or critic): an (S,) array view, or a dict; None without one."""
        if self._critic is None:
            return None
        values = self._critic.as_data() if self.n_runs is None else self._critic.per_run()
        if isinstance(values, dict):
            return {key: float(row[0]) for key, row in values.items()}
        return values[..., 0]

    def snapshot(self):
        """A copy of θ (array, or dict of copied rows); what :func:`rlcore.train` stores."""
        return self._table.copy() if self.n_runs is None else self.table.copy()

    def action_probs(self, obs) -> np.ndarray:
        """π_θ(·|obs), shape (A,)."""
        return policy_from_logits(self._table.read(self._table.lookup(obs)))

    def act(self, obs) -> int:
        """An action drawn from π_θ(·|obs), without learning."""
        return self._behaviour(self._table.lookup(obs)) + self._action_start

    def _behaviour(self, rows, obs=None):
        """A ~ π_θ(·|S) at the table rows (one, or one per run)."""
        if self.n_runs is None:
            return draw_softmax(self._table.read(rows).tolist(), 1.0, self._random)
        return sample_softmax(self._table._values.take(rows, axis=0), 1.0, self._random((np.size(rows), 1)))

    def _values_of(self, rows):
        """V at the table rows (0 without a baseline)."""
        if self._critic is None:
            return np.zeros(np.shape(rows))
        return self._critic.read(rows)[..., 0] if np.ndim(rows) else float(self._critic.read(rows)[0])

    def __repr__(self) -> str:
        table = f"array{self._table.values.shape}" if self._table.is_array else f"dict({len(self._table)} states)"
        critic = "" if self._critic is None else f", alpha_value={self.alpha_value}"
        return f"{type(self).__name__}(alpha={self.alpha}{critic}, gamma={self.gamma}, table={table})"


class Reinforce(EpisodeLearner, _PolicyAgent):
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
    - ``alpha_value``: step size of the baseline V, in (0, 1].
    - ``gamma``: γ; from the MDP when ``env`` is one, required otherwise.
    - ``seed``: seed of ``agent.rng``.
    """

    def __init__(self, env, *, alpha=0.1, baseline=False, alpha_value=0.1, gamma=None, seed=None):
        super().__init__(env, alpha=alpha, alpha_value=alpha_value, gamma=gamma, critic=_check_flag(baseline, "baseline"), seed=seed)
        self.baseline = _check_flag(baseline, "baseline")

    def learn_episode(self, rows, actions, rewards, discounts, last_row, run) -> None:
        """One step along the REINFORCE estimate of the episode, all terms at the θ that played it."""
        values = np.append(self._values_of(rows), self._values_of(last_row))  # V(S_0), …, V(S_T) before this episode
        G = discounted_returns(rewards, discounts, values[-1])
        psi = monte_carlo_advantages(rewards, discounts, values) if self.baseline else G
        theta = self._table._values
        steps = self.alpha * reinforce_terms(theta[rows], actions, psi, discounts)  # all at the θ that played
        np.add.at(theta, rows, steps)
        if self.baseline:
            for row, g in zip(rows.tolist(), G.tolist()):
                self._update(row, 0, g, table=self._critic, alpha=self.alpha_value)

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
    - ``alpha_value``: step size α_V of the critic V, in (0, 1].
    - ``gamma``: γ; from the MDP when ``env`` is one, required otherwise.
    - ``seed``: seed of ``agent.rng``.
    """

    def __init__(self, env, *, alpha=0.1, alpha_value=0.1, gamma=None, seed=None):
        super().__init__(env, alpha=alpha, alpha_value=alpha_value, gamma=gamma, critic=True, seed=seed)

    def start(self, obs):
        """Begin an episode in ``obs`` and return A_0 ~ π_θ(·|obs)."""
        return self._start(obs)

    def _episode_begins(self, runs=None) -> None:
        super()._episode_begins(runs)
        if self.n_runs is None or runs is None:
            self._I = 1.0 if self.n_runs is None else np.ones(self.n_runs)
        else:
            self._I = np.where(runs, 1.0, self._I)

    def step(self, r_t, obs, terminated, truncated=False, restart=None):
        """Learn from (S_{t−1}, A_{t−1}, R_t, S_t = obs); return A_t ~ π_θ(·|S_t) (or A_0 of the next episode)."""
        s_t = self._row(obs, terminated, truncated)
        s_tm1, a_tm1 = self._s_tm1, self._a_tm1
        discount_t = self.gamma * (1.0 - terminated)
        delta = td_target(r_t, discount_t, self._values_of(s_t)) - self._values_of(s_tm1)  # δ, eq. 13.12
        self._critic._values[s_tm1, 0] += self.alpha_value * delta  # the critic: TD(0)
        theta = self._table._values
        theta[s_tm1] += np.asarray(self.alpha * self._I * delta)[..., None] * softmax_score(theta[s_tm1], a_tm1)
        self._I = self._I * self.gamma
        return self._continue(s_t, None, terminated, truncated, restart)


def _check_step_size(alpha) -> float:
    """The policy step size α as a float; ValueError unless it is a positive finite number."""
    return _checks.number(alpha, "alpha", 0.0, None, low_open=True, meaning="the policy step size")
