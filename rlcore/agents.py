"""Tabular learning agents: SARSA, Q-learning, Expected SARSA, Monte Carlo control, and TD(0),
n-step TD and Monte Carlo policy evaluation (Sutton & Barto, 2nd ed., Chapters 5–7).

Every agent speaks the same two-call protocol, which :func:`rlcore.train` drives::

    action = agent.start(obs)                    # a new episode begins in obs: choose A_0
    action = agent.step(reward, obs, terminated, truncated)
                                                 # learn from the transition that just happened,
                                                 # then choose the next action (None once the
                                                 # episode is over)

so each algorithm keeps its own order of "choose" and "learn" — SARSA chooses A_{t+1} before it
updates Q(S_t, A_t), Q-learning after — exactly as in the book's boxed pseudocode.

Observations can be anything hashable (see :mod:`rlcore.qtable`): with a ``Discrete``
observation space ``agent.Q`` is an (S, A) numpy array, otherwise a dict ``{observation: row}``
that grows as states are visited. The action space must be ``Discrete``.

Randomness (exploration, tie-breaking, sampled target actions) comes from one
``numpy.random.Generator``, ``agent.rng``, seeded by ``seed=`` or by ``rlcore.train(seed=...)``:
the same seed gives the same run, bit for bit.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from gymnasium import spaces

from rlcore import exploration
from rlcore.exploration import (
    epsilon_greedy_probs,
    greedy_action,
    softmax_action,
    softmax_probs,
)
from rlcore.mdp import MDP
from rlcore.policies import check_policy
from rlcore.qtable import Table
from rlcore.td import (
    discounted_returns,
    expected_sarsa_target,
    n_step_return,
    q_learning_target,
    sarsa_target,
    td_target,
)


class _Agent:
    """Plumbing shared by all agents: spaces, γ, the step size α, the table and the random stream."""

    def __init__(self, env, *, gamma, alpha, initial_value, seed, width):
        self.observation_space, self.action_space, default_gamma = _spaces(env, type(self).__name__)
        self.n_actions = int(self.action_space.n)
        self._action_start = int(self.action_space.start)
        self.gamma = _check_gamma(default_gamma if gamma is None else gamma, type(self).__name__)
        self.alpha = alpha
        self._alpha, self._alpha_schedule = exploration.as_step_size(alpha)
        self.initial_value = float(initial_value)
        self._table = Table(self.observation_space, width, self.initial_value)
        # N(s, a) (or N(s)), kept only for step sizes that depend on the visit count
        self._counts = None if self._alpha_schedule is None else Table(self.observation_space, width, 0, dtype=np.int64)
        self.episode = 0  # episodes started so far; the episode index k seen by schedules
        self.seed(seed)

    def seed(self, seed=None) -> None:
        """Reset the agent's random stream: ``numpy.random.default_rng(seed)``."""
        self.rng = np.random.default_rng(seed)
        self._random = self.rng.random

    def _step_size(self, count_row, index: int) -> float:
        """α for this update: the constant α, or α(N) after counting this visit in ``count_row``."""
        if count_row is None:
            return self._alpha
        count_row[index] += 1
        return float(self._alpha_schedule(count_row[index]))

    def _count_row(self, obs):
        """The row of N(obs, ·) when α depends on visit counts, else None."""
        return None if self._counts is None else self._counts.row(obs)

    @property
    def counts(self):
        """Visit counts N(s, a) (N(s) for state values) when α depends on them, else None."""
        return None if self._counts is None else self._counts.data


class _Control(_Agent):
    """Shared by the control agents: Q, the ε-greedy or softmax behaviour policy, acting."""

    def __init__(self, env, *, gamma, alpha, epsilon, temperature, initial_value, seed):
        _, action_space, _ = _spaces(env, type(self).__name__)
        super().__init__(env, gamma=gamma, alpha=alpha, initial_value=initial_value, seed=seed,
                         width=int(action_space.n))
        if epsilon is not None and temperature is not None:
            raise ValueError("give epsilon (ε-greedy exploration) or temperature (softmax exploration), not both")
        if temperature is None:
            epsilon = 0.1 if epsilon is None else epsilon
            self._epsilon, self._epsilon_schedule = exploration.as_schedule(epsilon, "epsilon", exploration.check_epsilon)
            self._temperature = self._temperature_schedule = None
            if self._epsilon_schedule is not None:
                self._epsilon = float(self._epsilon_schedule(0))  # until the first episode starts
        else:
            self._temperature, self._temperature_schedule = exploration.as_schedule(
                temperature, "temperature", exploration.check_temperature)
            self._epsilon = self._epsilon_schedule = None
            if self._temperature_schedule is not None:
                self._temperature = float(self._temperature_schedule(0))
        self.epsilon_setting, self.temperature_setting = epsilon, temperature

    @property
    def Q(self):
        """Action values: an (S, A) array for Discrete observations, else a dict ``{obs: (A,) array}``.

        The array is the agent's live table: writing into it changes what the agent knows.
        """
        return self._table.data

    @property
    def epsilon(self) -> float | None:
        """ε of the current episode (None with softmax exploration)."""
        return self._epsilon

    @property
    def temperature(self) -> float | None:
        """τ of the current episode (None with ε-greedy exploration)."""
        return self._temperature

    def snapshot(self):
        """A copy of Q (array, or dict of copied rows)."""
        return self._table.copy()

    def q_values(self, obs) -> np.ndarray:
        """Q(obs, ·), shape (A,) (a copy)."""
        return self._table.peek(obs).copy()

    def greedy_action(self, obs) -> int:
        """argmax_a Q(obs, a), ties broken at random (uses ``agent.rng``; does not learn)."""
        return greedy_action(self._table.peek(obs).tolist(), self._random) + self._action_start

    def act(self, obs) -> int:
        """An action from the behaviour policy (ε-greedy or softmax) in obs, without learning."""
        return self._behaviour(self._table.peek(obs).tolist()) + self._action_start

    def action_probs(self, obs) -> np.ndarray:
        """The behaviour policy π(·|obs) of the current episode, shape (A,)."""
        return self._probs(self._table.peek(obs))

    def _probs(self, q) -> np.ndarray:
        if self._temperature is None:
            return epsilon_greedy_probs(q, self._epsilon)
        return softmax_probs(q, self._temperature)

    def _behaviour(self, q: list) -> int:
        """Draw an action index from the behaviour policy for action values q (a list).

        ε-greedy is :func:`rlcore.exploration.epsilon_greedy_action` written out, as this runs
        at every step.
        """
        if self._temperature is not None:
            return softmax_action(q, self._temperature, self._random)
        if self._random() < self._epsilon:
            return int(self._random() * self.n_actions)
        return greedy_action(q, self._random)

    def start(self, obs) -> int:
        """Begin an episode in ``obs`` and return A_0 from the behaviour policy (the one-step TD agents)."""
        self._begin_episode()
        self._q_tm1, self._n_tm1 = self._table.row(obs), self._count_row(obs)
        self._a_tm1 = self._behaviour(self._q_tm1.tolist())
        return self._a_tm1 + self._action_start

    def _begin_episode(self) -> None:
        """Advance the episode counter and read ε_k or τ_k off its schedule."""
        k, self.episode = self.episode, self.episode + 1
        if self._epsilon_schedule is not None:
            self._epsilon = float(self._epsilon_schedule(k))
            exploration.check_epsilon(self._epsilon, f"epsilon schedule at episode {k}")
        if self._temperature_schedule is not None:
            self._temperature = float(self._temperature_schedule(k))
            exploration.check_temperature(self._temperature, f"temperature schedule at episode {k}")

    def _settings(self) -> str:
        explore = (f"epsilon={self.epsilon_setting!r}" if self.temperature_setting is None
                   else f"temperature={self.temperature_setting!r}")
        table = f"array{self._table.data.shape}" if self._table.is_array else f"dict({len(self._table)} states)"
        return f"alpha={self.alpha!r}, {explore}, gamma={self.gamma}, table={table}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._settings()})"


class QLearning(_Control):
    """Off-policy TD control (S&B Section 6.5, eq. 6.8; Watkins 1989).

    ## Update
    Q(S_t, A_t) ← Q(S_t, A_t) + α [R_{t+1} + γ max_a Q(S_{t+1}, a) − Q(S_t, A_t)]

    after which A_{t+1} is drawn from the behaviour policy (ε-greedy or softmax in Q). The
    greedy policy of Q converges to an optimal one whatever the behaviour, as long as it keeps
    visiting every (s, a).

    ## Arguments
    - ``env``: a Gymnasium environment (only its spaces are read) or an :class:`rlcore.MDP`.
    - ``alpha``: step size α in (0, 1], ``"1/n"`` (sample average per (s, a)) or a callable of the
      visit count n = N(s, a), e.g. :class:`rlcore.VisitCountStepSize`.
    - ``gamma``: discount γ; taken from the MDP when ``env`` is one, required otherwise.
    - ``epsilon``: ε in [0, 1] or a schedule of the episode index (default 0.1);
      ``temperature``: τ > 0 or a schedule, for softmax exploration instead. Not both.
    - ``initial_value``: Q before any update (optimistic initial values when high, S&B 2.6).
    - ``seed``: seed of ``agent.rng``.

    ## Raises
    TypeError for a non-Discrete action space or an unhashable observation; ValueError for
    α ∉ (0, 1], ε ∉ [0, 1], τ ≤ 0 or γ ∉ [0, 1].
    """

    def __init__(self, env, *, alpha=0.5, gamma=None, epsilon=None, temperature=None, initial_value=0.0, seed=None):
        super().__init__(env, gamma=gamma, alpha=alpha, epsilon=epsilon, temperature=temperature,
                         initial_value=initial_value, seed=seed)

    def step(self, r_t: float, obs, terminated: bool, truncated: bool = False) -> int | None:
        """Learn from (S_{t−1}, A_{t−1}, R_t, S_t = obs); return A_t, or None if the episode ended."""
        q_t = self._table.row(obs) if not (terminated or truncated) else self._table.peek(obs)  # no row for a last state
        discount_t = self.gamma * (1.0 - terminated)
        target = q_learning_target(r_t, discount_t, q_t.tolist())
        q_tm1, a_tm1 = self._q_tm1, self._a_tm1
        q_tm1[a_tm1] += self._step_size(self._n_tm1, a_tm1) * (target - q_tm1[a_tm1])
        if terminated or truncated:
            return None
        self._q_tm1, self._n_tm1 = q_t, self._count_row(obs)
        self._a_tm1 = self._behaviour(q_t.tolist())
        return self._a_tm1 + self._action_start


class Sarsa(_Control):
    """On-policy TD control (S&B Section 6.4, eq. 6.7; Rummery & Niranjan 1994).

    ## Update
    A_{t+1} is drawn from the behaviour policy in S_{t+1} *first*, then

    Q(S_t, A_t) ← Q(S_t, A_t) + α [R_{t+1} + γ Q(S_{t+1}, A_{t+1}) − Q(S_t, A_t)]

    so SARSA learns the value of the ε-greedy policy it follows (on the cliff: the safe path).
    On truncation A_{t+1} is drawn to bootstrap from but never taken; on termination γ_t = 0
    and the drawn action does not matter.

    ## Arguments
    As :class:`QLearning`.
    """

    def __init__(self, env, *, alpha=0.5, gamma=None, epsilon=None, temperature=None, initial_value=0.0, seed=None):
        super().__init__(env, gamma=gamma, alpha=alpha, epsilon=epsilon, temperature=temperature,
                         initial_value=initial_value, seed=seed)

    def step(self, r_t: float, obs, terminated: bool, truncated: bool = False) -> int | None:
        """Choose A_t in S_t = obs, then learn from (S_{t−1}, A_{t−1}, R_t, S_t, A_t); return A_t or None."""
        q_t = self._table.row(obs) if not (terminated or truncated) else self._table.peek(obs)  # no row for a last state
        q_t_values = q_t.tolist()
        a_t = self._behaviour(q_t_values)
        discount_t = self.gamma * (1.0 - terminated)
        target = sarsa_target(r_t, discount_t, q_t_values, a_t)
        q_tm1, a_tm1 = self._q_tm1, self._a_tm1
        q_tm1[a_tm1] += self._step_size(self._n_tm1, a_tm1) * (target - q_tm1[a_tm1])
        if terminated or truncated:
            return None
        self._q_tm1, self._n_tm1, self._a_tm1 = q_t, self._count_row(obs), a_t
        return a_t + self._action_start


class ExpectedSarsa(_Control):
    """TD control with the expected next value (S&B Section 6.6, eq. 6.9; van Seijen et al. 2009).

    ## Update
    Q(S_t, A_t) ← Q(S_t, A_t) + α [R_{t+1} + γ Σ_a π(a|S_{t+1}) Q(S_{t+1}, a) − Q(S_t, A_t)]

    then A_{t+1} is drawn from the behaviour policy (as in Q-learning). The target policy π is the
    behaviour policy by default (on-policy Expected SARSA); ``target_epsilon`` makes it ε-greedy
    with another ε — with ``target_epsilon=0`` it is greedy and every update is Q-learning's.

    ## Arguments
    As :class:`QLearning`, plus ``target_epsilon``: None (π = the behaviour policy) or ε' in
    [0, 1] for an ε'-greedy target policy.
    """

    def __init__(self, env, *, alpha=0.5, gamma=None, epsilon=None, temperature=None, target_epsilon=None,
                 initial_value=0.0, seed=None):
        super().__init__(env, gamma=gamma, alpha=alpha, epsilon=epsilon, temperature=temperature,
                         initial_value=initial_value, seed=seed)
        if target_epsilon is not None:
            exploration.check_epsilon(target_epsilon, "target_epsilon")
        self.target_epsilon = target_epsilon

    def target_probs(self, q_t) -> np.ndarray:
        """π(·|S_t) of the target policy for action values q_t, shape (A,)."""
        if self.target_epsilon is None:
            return self._probs(q_t)
        return epsilon_greedy_probs(q_t, self.target_epsilon)

    def step(self, r_t: float, obs, terminated: bool, truncated: bool = False) -> int | None:
        """Learn from (S_{t−1}, A_{t−1}, R_t, S_t = obs); return A_t, or None if the episode ended."""
        q_t = self._table.row(obs) if not (terminated or truncated) else self._table.peek(obs)  # no row for a last state
        discount_t = self.gamma * (1.0 - terminated)
        target = expected_sarsa_target(r_t, discount_t, q_t, self.target_probs(q_t))
        q_tm1, a_tm1 = self._q_tm1, self._a_tm1
        q_tm1[a_tm1] += self._step_size(self._n_tm1, a_tm1) * (target - q_tm1[a_tm1])
        if terminated or truncated:
            return None
        self._q_tm1, self._n_tm1 = q_t, self._count_row(obs)
        self._a_tm1 = self._behaviour(q_t.tolist())
        return self._a_tm1 + self._action_start

    def _settings(self) -> str:
        return super()._settings() + f", target_epsilon={self.target_epsilon!r}"


class MonteCarloControl(_Control):
    """On-policy Monte Carlo control for ε-soft policies (S&B Section 5.4, first-visit; every-visit optional).

    ## Update
    The episode is played with the behaviour policy; at its end the returns
    G_t = R_{t+1} + γ G_{t+1} are computed backwards (eq. 3.9) and, for the first visit of each
    (s, a) (every visit with ``first_visit=False``),

    Q(S_t, A_t) ← Q(S_t, A_t) + α [G_t − Q(S_t, A_t)]

    With the default α = 1/N(s, a) this is the average of the returns observed, as in the book's
    pseudocode; a constant α gives the recency-weighted average (eq. 2.5). A truncated episode
    bootstraps its returns from Σ_a π(a|S_T) Q(S_T, a) (truncation is not termination).

    ## Arguments
    As :class:`QLearning` (but ``alpha="1/n"`` by default), plus ``first_visit``.
    """

    def __init__(self, env, *, alpha="1/n", gamma=None, epsilon=None, temperature=None, first_visit=True,
                 initial_value=0.0, seed=None):
        super().__init__(env, gamma=gamma, alpha=alpha, epsilon=epsilon, temperature=temperature,
                         initial_value=initial_value, seed=seed)
        self.first_visit = bool(first_visit)

    def start(self, obs) -> int:
        """Begin an episode in ``obs`` and return A_0."""
        self._begin_episode()
        self._keys, self._actions, self._rewards, self._discounts = [self._table.key(obs)], [], [], []
        self._rows, self._count_rows = [self._table.row(obs)], [self._count_row(obs)]
        a = self._behaviour(self._rows[-1].tolist())
        self._actions.append(a)
        return a + self._action_start

    def step(self, r_t: float, obs, terminated: bool, truncated: bool = False) -> int | None:
        """Record R_t and S_t = obs; at the end of the episode learn from all its returns."""
        self._rewards.append(r_t)
        self._discounts.append(self.gamma * (1.0 - terminated))
        if terminated or truncated:
            row = self._table.peek(obs)
            v_T = float(np.dot(self._probs(row), row))  # read only when γ_T ≠ 0, i.e. truncation
            self._learn_episode(v_T)
            return None
        row = self._table.row(obs)
        self._keys.append(self._table.key(obs))
        self._rows.append(row)
        self._count_rows.append(self._count_row(obs))
        a = self._behaviour(row.tolist())
        self._actions.append(a)
        return a + self._action_start

    def _learn_episode(self, v_T: float) -> None:
        G = discounted_returns(self._rewards, self._discounts, v_T)
        seen = set()
        for t, (key, a) in enumerate(zip(self._keys, self._actions)):
            if self.first_visit:
                if (key, a) in seen:
                    continue
                seen.add((key, a))
            q = self._rows[t]
            q[a] += self._step_size(self._count_rows[t], a) * (G[t] - q[a])

    def _settings(self) -> str:
        return super()._settings() + f", first_visit={self.first_visit}"


# ---------------------------------------------------------------------- policy evaluation
class _Evaluation(_Agent):
    """Shared by the evaluation agents: V and the fixed policy π they follow."""

    def __init__(self, env, *, gamma, alpha, policy, initial_value, seed):
        super().__init__(env, gamma=gamma, alpha=alpha, initial_value=initial_value, seed=seed, width=1)
        self.policy = policy
        if policy is None or callable(policy):
            self._policy_array = None
            return
        if not self._table.is_array:
            raise TypeError("an (S, A) policy array needs a Discrete observation space; pass a callable obs -> probabilities")
        self._policy_array = check_policy(policy, len(self._table), self.n_actions)
        self._policy_cdf = np.cumsum(self._policy_array, axis=1).tolist()

    @property
    def V(self):
        """State values: an (S,) array (a live view) for Discrete observations, else a dict ``{obs: value}`` (a copy)."""
        if self._table.is_array:
            return self._table.data[:, 0]
        return {key: float(row[0]) for key, row in self._table.data.items()}

    def snapshot(self):
        """A copy of V: an (S,) array, or a dict ``{obs: value}``."""
        return self.V.copy()

    def value(self, obs) -> float:
        """V(obs) (the initial value for an observation never visited)."""
        return float(self._table.peek(obs)[0])

    def act(self, obs) -> int:
        """An action drawn from the evaluated policy π(·|obs) (uniform when ``policy`` is None)."""
        if self.policy is None:
            a = int(self._random() * self.n_actions)
        elif self._policy_array is not None:
            cdf = self._policy_cdf[self._table.key(obs)]
            u = self._random()
            a = next((i for i, c in enumerate(cdf) if u < c), self.n_actions - 1)
        else:
            probs = np.asarray(self.policy(obs), dtype=float)
            a = int(np.searchsorted(np.cumsum(probs), self._random() * probs.sum(), side="right"))
            a = min(a, self.n_actions - 1)
        return a + self._action_start

    def _begin_episode(self) -> None:
        self.episode += 1

    def __repr__(self) -> str:
        table = f"array{self._table.data.shape[:1]}" if self._table.is_array else f"dict({len(self._table)} states)"
        policy = "uniform" if self.policy is None else ("array" if self._policy_array is not None else "callable")
        return f"{type(self).__name__}(alpha={self.alpha!r}, gamma={self.gamma}, policy={policy}, table={table})"


class TDZero(_Evaluation):
    """Tabular TD(0) evaluation of a fixed policy π (S&B Section 6.1, eq. 6.2).

    ## Update
    V(S_t) ← V(S_t) + α [R_{t+1} + γ V(S_{t+1}) − V(S_t)]

    ## Arguments
    - ``env``: a Gymnasium environment (its spaces) or an :class:`rlcore.MDP`.
    - ``alpha``: step size in (0, 1], ``"1/n"`` or a callable of the visit count N(s).
    - ``gamma``: γ; from the MDP when ``env`` is one, required otherwise.
    - ``policy``: π to evaluate — None (uniform random), an (S, A) array (Discrete observations),
      or a callable ``obs -> probabilities (A,)``.
    - ``initial_value``: V before any update (0.5 in S&B Example 6.2).
    - ``seed``: seed of ``agent.rng``.
    """

    def __init__(self, env, *, alpha=0.1, gamma=None, policy=None, initial_value=0.0, seed=None):
        super().__init__(env, gamma=gamma, alpha=alpha, policy=policy, initial_value=initial_value, seed=seed)

    def start(self, obs) -> int:
        """Begin an episode in ``obs``; return A_0 ~ π(·|obs)."""
        self._begin_episode()
        self._v_tm1, self._n_tm1 = self._table.row(obs), self._count_row(obs)
        return self.act(obs)

    def step(self, r_t: float, obs, terminated: bool, truncated: bool = False) -> int | None:
        """Learn from (S_{t−1}, R_t, S_t = obs); return A_t ~ π(·|S_t), or None if the episode ended."""
        v_t = self._table.row(obs) if not (terminated or truncated) else self._table.peek(obs)
        discount_t = self.gamma * (1.0 - terminated)
        target = td_target(r_t, discount_t, v_t[0])
        v_tm1 = self._v_tm1
        v_tm1[0] += self._step_size(self._n_tm1, 0) * (target - v_tm1[0])
        if terminated or truncated:
            return None
        self._v_tm1, self._n_tm1 = v_t, self._count_row(obs)
        return self.act(obs)


class NStepTD(_Evaluation):
    """n-step TD evaluation of a fixed policy π (S&B Section 7.1, eqs. 7.1–7.2).

    ## Update
    Once S_{τ+n} is observed (or the episode has ended),

    V(S_τ) ← V(S_τ) + α [G_{τ:τ+n} − V(S_τ)],
    G_{τ:τ+n} = R_{τ+1} + γR_{τ+2} + … + γ^{n−1}R_{τ+n} + γ^n V(S_{τ+n})

    with the window cut at the end of the episode (terminal: no bootstrap; truncated: bootstrap
    from V(S_T)). n = 1 is :class:`TDZero`.

    ## Arguments
    ``n`` ≥ 1, and the arguments of :class:`TDZero`.
    """

    def __init__(self, env, *, n: int, alpha=0.1, gamma=None, policy=None, initial_value=0.0, seed=None):
        if int(n) != n or n < 1:
            raise ValueError(f"n (the number of steps) must be an integer ≥ 1; got {n}")
        self.n = int(n)
        super().__init__(env, gamma=gamma, alpha=alpha, policy=policy, initial_value=initial_value, seed=seed)

    def start(self, obs) -> int:
        """Begin an episode in ``obs``; return A_0 ~ π(·|obs)."""
        self._begin_episode()
        self._window = deque()  # (row of S_τ, count row, R_{τ+1}, γ_{τ+1}) for the last n steps
        self._row, self._n_row = self._table.row(obs), self._count_row(obs)
        return self.act(obs)

    def step(self, r_t: float, obs, terminated: bool, truncated: bool = False) -> int | None:
        """Record R_t, S_t = obs; update V(S_{t−n}); at the end of the episode update the rest."""
        self._window.append((self._row, self._n_row, r_t, self.gamma * (1.0 - terminated)))
        v_t = self._table.row(obs) if not (terminated or truncated) else self._table.peek(obs)
        if len(self._window) == self.n:
            self._update_oldest(v_t[0])
        if terminated or truncated:
            while self._window:
                self._update_oldest(v_t[0])
            return None
        self._row, self._n_row = v_t, self._count_row(obs)
        return self.act(obs)

    def _update_oldest(self, v_tpn: float) -> None:
        r = [entry[2] for entry in self._window]
        discount = [entry[3] for entry in self._window]
        G = n_step_return(r, discount, v_tpn)
        v_tau, n_tau, _, _ = self._window.popleft()
        v_tau[0] += self._step_size(n_tau, 0) * (G - v_tau[0])

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", n={self.n})"


class MonteCarloPrediction(_Evaluation):
    """Monte Carlo evaluation of a fixed policy π (S&B Section 5.1; constant-α MC, eq. 6.1).

    ## Update
    At the end of each episode, for every visit (or only the first, ``first_visit=True``) of
    each state, in time order,

    V(S_t) ← V(S_t) + α [G_t − V(S_t)]

    With ``alpha="1/n"`` V(s) is the average of the returns seen (Section 5.1's first-visit MC
    prediction with ``first_visit=True``). Example 6.2 compares TD(0) with the every-visit
    constant-α form (the default). A truncated episode bootstraps its returns from V(S_T).

    ## Arguments
    ``first_visit`` (default False), and the arguments of :class:`TDZero`.
    """

    def __init__(self, env, *, alpha=0.1, gamma=None, policy=None, first_visit=False, initial_value=0.0, seed=None):
        super().__init__(env, gamma=gamma, alpha=alpha, policy=policy, initial_value=initial_value, seed=seed)
        self.first_visit = bool(first_visit)

    def start(self, obs) -> int:
        """Begin an episode in ``obs``; return A_0 ~ π(·|obs)."""
        self._begin_episode()
        self._keys, self._rows, self._count_rows = [self._table.key(obs)], [self._table.row(obs)], [self._count_row(obs)]
        self._rewards, self._discounts = [], []
        return self.act(obs)

    def step(self, r_t: float, obs, terminated: bool, truncated: bool = False) -> int | None:
        """Record R_t and S_t = obs; at the end of the episode learn from all its returns."""
        self._rewards.append(r_t)
        self._discounts.append(self.gamma * (1.0 - terminated))
        if terminated or truncated:
            G = discounted_returns(self._rewards, self._discounts, float(self._table.peek(obs)[0]))
            seen = set()
            for t, key in enumerate(self._keys):
                if self.first_visit:
                    if key in seen:
                        continue
                    seen.add(key)
                v = self._rows[t]
                v[0] += self._step_size(self._count_rows[t], 0) * (G[t] - v[0])
            return None
        self._keys.append(self._table.key(obs))
        self._rows.append(self._table.row(obs))
        self._count_rows.append(self._count_row(obs))
        return self.act(obs)

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", first_visit={self.first_visit})"


# ---------------------------------------------------------------------- helpers
def _spaces(env, who: str):
    """(observation_space, action_space, default γ) of an environment or an rlcore.MDP."""
    if isinstance(env, MDP):
        return spaces.Discrete(env.n_states), spaces.Discrete(env.n_actions), env.gamma
    try:
        observation_space, action_space = env.observation_space, env.action_space
    except AttributeError:
        raise TypeError(f"{who} needs a Gymnasium environment (with observation_space and action_space) "
                        f"or an rlcore.MDP; got {type(env).__name__}") from None
    if not isinstance(action_space, spaces.Discrete):
        raise TypeError(f"{who} needs a Discrete action space (a tabular agent picks one of A actions); "
                        f"got {action_space}")
    return observation_space, action_space, None


def _check_gamma(gamma, who: str) -> float:
    if gamma is None:
        raise ValueError(f"{who} needs gamma (the discount γ) for a Gymnasium environment; "
                         "only an rlcore.MDP carries its own γ")
    try:
        gamma = float(gamma)
    except (TypeError, ValueError):
        raise ValueError(f"gamma must be a number in [0, 1]; got {gamma!r}") from None
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma (the discount γ) must lie in [0, 1]; got {gamma}")
    return gamma
