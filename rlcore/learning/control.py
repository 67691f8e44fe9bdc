"""Tabular control: SARSA, Q-learning, Expected SARSA and Monte Carlo control (Sutton & Barto, 2nd ed., Sections 5.3–5.4, 6.4–6.6).

Lectures 6–7. Each agent is written once, for one run (:func:`rlcore.train`) and for N runs in
lockstep (:func:`rlcore.train_lockstep`); the engine they share is :mod:`rlcore.learning.agents`.
"""

from __future__ import annotations

import numpy as np

from rlcore.learning import schedules
from rlcore.learning.agents import EpisodeLearner, OneStepControl, _Control
from rlcore.exact.policies import epsilon_greedy_policy
from rlcore.learning.td import discounted_returns, expected_sarsa_target, q_learning_target, sarsa_target


class QLearning(OneStepControl):
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

    def target(self, r_t, discount_t, q_t, a_t):
        """R_{t+1} + γ max_a Q(S_{t+1}, a)."""
        return q_learning_target(r_t, discount_t, q_t)


class Sarsa(OneStepControl):
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

    chooses_first = True

    def __init__(self, env, *, alpha=0.5, gamma=None, epsilon=None, temperature=None, initial_value=0.0, seed=None):
        super().__init__(env, gamma=gamma, alpha=alpha, epsilon=epsilon, temperature=temperature,
                         initial_value=initial_value, seed=seed)

    def target(self, r_t, discount_t, q_t, a_t):
        """R_{t+1} + γ Q(S_{t+1}, A_{t+1})."""
        return sarsa_target(r_t, discount_t, q_t, a_t)


class ExpectedSarsa(OneStepControl):
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
            schedules.check_epsilon(target_epsilon, "target_epsilon")
        self.target_epsilon = target_epsilon

    def target_probs(self, q_t) -> np.ndarray:
        """π(·|S_t) of the target policy for action values q_t, shape (A,) (or (N, A))."""
        if self.target_epsilon is None:
            return self._probs(q_t)
        return epsilon_greedy_policy(q_t, self.target_epsilon)

    def target(self, r_t, discount_t, q_t, a_t):
        """R_{t+1} + γ Σ_a π(a|S_{t+1}) Q(S_{t+1}, a)."""
        return expected_sarsa_target(r_t, discount_t, q_t, self.target_probs(q_t))

    def _settings(self) -> str:
        return super()._settings() + f", target_epsilon={self.target_epsilon!r}"


class MonteCarloControl(EpisodeLearner, _Control):
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
        self.first_visit = _check_flag(first_visit, "first_visit")

    def learn_episode(self, rows, actions, rewards, discounts, last_row, run) -> None:
        """Q(S_t, A_t) ← Q(S_t, A_t) + α [G_t − Q(S_t, A_t)] at first (or every) visits, in time order."""
        v_T = 0.0
        if discounts[-1] != 0.0:  # truncated: bootstrap from Σ_a π(a|S_T) Q(S_T, a)
            q_T = self._table.read(last_row)
            v_T = float(np.dot(self._probs(q_T, run), q_T))
        returns = discounted_returns(rewards, discounts, v_T)
        for t in first_visits(rows, actions) if self.first_visit else range(len(rows)):
            self._update(rows[t], actions[t], returns[t])

    def _settings(self) -> str:
        return super()._settings() + f", first_visit={self.first_visit}"


def _check_flag(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False; got {value!r}")
    return bool(value)


def first_visits(states, actions=None) -> list[int]:
    """The steps t at which (S_t, A_t) (or S_t) occurs for the first time in the episode (S&B Section 5.1)."""
    seen, steps = set(), []
    keys = states.tolist() if actions is None else list(zip(states.tolist(), actions.tolist()))
    for t, key in enumerate(keys):
        if key not in seen:
            seen.add(key)
            steps.append(t)
    return steps
