"""Double Q-learning: two tables, one chooses the action and the other values it (Sutton & Barto, 2nd ed., Section 6.7).

Lecture 6. Q-learning's target max_a Q(S', a) is a maximum over noisy estimates, and the expected
maximum of estimates exceeds the maximum of the true values: *maximisation bias* (Example 6.7,
Figure 6.5, :func:`rlcore.mdps.maximization_bias`). Double Q-learning (van Hasselt 2010) learns two
independent estimates Q₁ and Q₂ and uses one to pick the maximising action and the other to value
it, which removes the bias. The agent is written once on :mod:`rlcore.learning.agents` and runs
under :func:`rlcore.train` and :func:`rlcore.train_lockstep` alike.
"""

from __future__ import annotations

import numpy as np

from rlcore.exact.policies import draw_greedy, sample_epsilon_greedy
from rlcore.learning.agents import _Control
from rlcore.learning.table import Table
from rlcore.learning.td import select


def double_q_learning_target(r_t, discount_t, q_t_value, a_t_selected):
    """The double Q-learning target R_{t+1} + γ Q₂(S_{t+1}, argmax_a Q₁(S_{t+1}, a)) (S&B eq. 6.10).

    The action is chosen by one table (the *selector*, Q₁) and valued by the other (Q₂); with
    Q₂ = Q₁ it is the Q-learning target. Ties in the argmax are the caller's to break
    (:class:`DoubleQLearning` breaks them at random, as the book's pseudocode does): pass the
    chosen action.

    Args:
        r_t: reward R_t following (S_{t−1}, A_{t−1}), shape (...).
        discount_t: γ (1 − terminated_t), shape (...).
        q_t_value: the action values of S_t that value the action (Q₂), shape (..., A).
        a_t_selected: argmax_a Q₁(S_t, a), the action the other table selects, shape (...).

    Returns:
        the target for Q₁(S_{t−1}, A_{t−1}), shape (...).
    """
    return r_t + discount_t * select(q_t_value, a_t_selected)


class DoubleQLearning(_Control):
    """Double Q-learning (S&B Section 6.7, eq. 6.10 and the boxed algorithm; van Hasselt 2010).

    ## Update
    After each transition a fair coin picks which table learns; if Q₁:

    Q₁(S_t, A_t) ← Q₁(S_t, A_t) + α [R_{t+1} + γ Q₂(S_{t+1}, argmax_a Q₁(S_{t+1}, a)) − Q₁(S_t, A_t)]

    and symmetrically for Q₂ (argmax ties broken at random). Then A_{t+1} is drawn from the
    behaviour policy, ε-greedy (or softmax) in Q₁ + Q₂. ``agent.Q`` is the average (Q₁ + Q₂)/2,
    which the behaviour policy ranks as Q₁ + Q₂; ``agent.Q1`` and ``agent.Q2`` are the two tables.

    ## Arguments
    As :class:`rlcore.QLearning`: ``env``, ``alpha`` (a number in (0, 1], ``"1/n"`` or a callable
    of the visit count of the table being updated), ``gamma``, ``epsilon`` or ``temperature``,
    ``initial_value`` (of both tables), ``seed``.

    ## Raises
    As :class:`rlcore.QLearning`: ValueError for α ∉ (0, 1], ε ∉ [0, 1], τ ≤ 0 or γ ∉ [0, 1];
    TypeError for a non-Discrete action space.
    """

    def __init__(self, env, *, alpha=0.5, gamma=None, epsilon=None, temperature=None, initial_value=0.0, seed=None):
        super().__init__(env, gamma=gamma, alpha=alpha, epsilon=epsilon, temperature=temperature,
                         initial_value=initial_value, seed=seed)
        counts = self._alpha_schedule is not None
        self._q1 = Table(self.observation_space, self.n_actions, self.initial_value, counts=counts)
        self._q2 = Table(self.observation_space, self.n_actions, self.initial_value, counts=counts)
        if self.action_mask is not None:
            self._mask_table(self._q1)
            self._mask_table(self._q2)

    @property
    def Q1(self):
        """Q₁, the first table: (S, A), (N, S, A) for N runs, or a dict for keyed observations."""
        return self._as_read(self._q1)

    @property
    def Q2(self):
        """Q₂, the second table (see :attr:`Q1`)."""
        return self._as_read(self._q2)

    def _as_read(self, table: Table):
        return table.per_run() if self.n_runs is not None else table.as_data()

    @property
    def counts(self):
        """Updates of each (s, a) in Q₁ and Q₂ together, when α depends on them; else None."""
        if self._q1._counts is None:
            return None
        if self.n_runs is not None:
            return self._q1.per_run(self._q1._counts) + self._q2.per_run(self._q2._counts)
        one, two = self._q1.as_data(counts=True), self._q2.as_data(counts=True)
        if isinstance(one, np.ndarray):
            return one + two
        return {key: one[key] + two.get(key, 0) for key in one}

    def start(self, obs):
        """Begin an episode in ``obs`` and return A_0 from the behaviour policy in Q₁ + Q₂."""
        self._sync_rows(obs)
        return self._start(obs)

    def step(self, r_t, obs, terminated, truncated=False, restart=None):
        """Learn from (S_{t−1}, A_{t−1}, R_t, S_t = obs) in Q₁ or Q₂; return A_t (or A_0 of the next one)."""
        if self.n_runs is None:
            if not (terminated or truncated):  # the last state of an episode is only read (as in _row)
                self._sync_rows(obs)
            s_t = self._row(obs, terminated, truncated)
            s_tm1, a_tm1 = self._s_tm1, self._a_tm1
            learner, other = (self._q1, self._q2) if self._random() < 0.5 else (self._q2, self._q1)
            a_star = draw_greedy(learner.read(s_t).tolist(), self._random)
            target = double_q_learning_target(r_t, self.gamma * (1.0 - terminated), other.read(s_t), a_star)
            self._update(s_tm1, a_tm1, target, table=learner)
            self._table._values[s_tm1, a_tm1] = 0.5 * (self._q1._values[s_tm1, a_tm1] + self._q2._values[s_tm1, a_tm1])
            return self._continue(s_t, None, terminated, truncated, restart)
        s_t = self._table._offsets + obs
        s_tm1, a_tm1 = self._s_tm1, self._a_tm1
        first = self._uniforms(1, self.n_runs)[:, 0] < 0.5  # which table learns, per run
        q1_t, q2_t = self._q1._values.take(s_t, axis=0), self._q2._values.take(s_t, axis=0)
        selector, value = np.where(first[:, None], q1_t, q2_t), np.where(first[:, None], q2_t, q1_t)
        u = self._uniforms(self.n_actions + 1, self.n_runs)
        a_star = sample_epsilon_greedy(selector, 0.0, u)  # argmax of the selecting table, ties at random
        target = double_q_learning_target(r_t, self.gamma * (1.0 - terminated), value, a_star)
        for table, runs in ((self._q1, first), (self._q2, ~first)):
            if runs.any():
                self._update(s_tm1[runs], a_tm1[runs], target[runs], table=table)
        self._table._values[s_tm1, a_tm1] = 0.5 * (self._q1._values[s_tm1, a_tm1] + self._q2._values[s_tm1, a_tm1])
        return self._continue(s_t, None, terminated, truncated, restart)

    def _sync_rows(self, obs) -> None:
        """Keyed observations: give obs its row in Q₁ and Q₂ too (the three tables share row numbers)."""
        if not self._table.is_array:
            self._table.index(obs)
            self._q1.index(obs)
            self._q2.index(obs)
