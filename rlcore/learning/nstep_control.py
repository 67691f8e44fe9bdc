"""n-step control: n-step SARSA and the n-step tree-backup algorithm (Sutton & Barto, 2nd ed., Sections 7.2 and 7.5).

Lecture 7. Both learn Q from windows of n steps of each episode, kept by the engine's
:class:`rlcore.learning.agents.Episodes`: once S_{τ+n} is observed (or the episode has ended),
Q(S_τ, A_τ) moves toward an n-step return. n-step SARSA bootstraps from the action it takes
next (on-policy); tree backup bootstraps from the *expectation* of Q under a target policy π at
every state of the window and so learns π's values from any behaviour, with no importance
sampling (off-policy). Each agent is written once, for :func:`rlcore.train` and
:func:`rlcore.train_lockstep`.

The returns are pure functions: :func:`rlcore.n_step_return` (n-step SARSA, eq. 7.4) and
:func:`tree_backup_returns` (eq. 7.16) below, batch-agnostic as in :mod:`rlcore.learning.td`.
"""

from __future__ import annotations

import numpy as np

from rlcore import _checks
from rlcore.exact.policies import greedy_policy
from rlcore.learning.agents import EpisodeLearner, _Control
from rlcore.learning.td import discounted_returns, n_step_return, select


def tree_backup_returns(r_t, discount_t, q_t, probs_t, a_t) -> np.ndarray:
    """Tree-backup returns G_{t+k:t+T} of every step k of a window (S&B eqs. 7.15–7.16), computed backwards.

    G_{t+T−1:t+T} = R_{t+T} + γ_{t+T} Σ_a π(a|S_{t+T}) Q(S_{t+T}, a)   (eq. 7.15 at the end of the window)

    G_{t+k:t+T} = R_{t+k+1} + γ_{t+k+1} [Σ_{a ≠ A_{t+k+1}} π(a|S_{t+k+1}) Q(S_{t+k+1}, a)
                                         + π(A_{t+k+1}|S_{t+k+1}) G_{t+k+1:t+T}]          (eq. 7.16)

    The first entry is the n-step tree-backup return G_{t:t+n} for a window of n = T steps. With
    T = 1 it is the Expected SARSA target; with π greedy and every action in the window greedy it
    is the n-step return bootstrapped from max_a Q(S_{t+T}, a); an action with π(A|S) = 0 cuts the
    return there. Actions with value −∞ and probability 0 (absent actions) contribute nothing.

    Args:
        r_t: rewards R_{t+1}, …, R_{t+T}, shape (..., T).
        discount_t: γ (1 − terminated) after each of those steps, shape (..., T).
        q_t: action values of S_{t+1}, …, S_{t+T}, shape (..., T, A).
        probs_t: the target policy π(·|S_{t+1}), …, π(·|S_{t+T}), shape (..., T, A).
        a_t: the actions A_{t+1}, …, A_{t+T−1} taken in the window, shape (..., T − 1).

    Returns:
        G_{t:t+T}, G_{t+1:t+T}, …, G_{t+T−1:t+T}, shape (..., T).
    """
    r_t, discount_t = np.asarray(r_t, dtype=float), np.asarray(discount_t, dtype=float)
    q_t, probs_t, a_t = np.asarray(q_t, dtype=float), np.asarray(probs_t, dtype=float), np.asarray(a_t)
    expected = (probs_t * np.where(probs_t > 0, q_t, 0.0)).sum(axis=-1)  # Σ_a π(a|S) Q(S, a), (..., T)
    T = r_t.shape[-1]
    G = np.empty(np.broadcast_shapes(r_t.shape, discount_t.shape))
    g = r_t[..., T - 1] + discount_t[..., T - 1] * expected[..., T - 1]
    G[..., T - 1] = g
    for k in range(T - 2, -1, -1):
        p_taken = select(probs_t[..., k, :], a_t[..., k])        # π(A_{t+k+1}|S_{t+k+1})
        q_taken = select(q_t[..., k, :], a_t[..., k])            # Q(S_{t+k+1}, A_{t+k+1})
        g = r_t[..., k] + discount_t[..., k] * (expected[..., k] - p_taken * q_taken + p_taken * g)
        G[..., k] = g
    return G


def tree_backup_return(r_t, discount_t, q_t, probs_t, a_t):
    """The n-step tree-backup return G_{t:t+n} (S&B eq. 7.16): the first of :func:`tree_backup_returns`.

    Args and shapes as :func:`tree_backup_returns` with T = n; returns shape (...).
    """
    return tree_backup_returns(r_t, discount_t, q_t, probs_t, a_t)[..., 0]


class NStepSarsa(EpisodeLearner, _Control):
    """n-step SARSA (S&B Section 7.2, eq. 7.4 and the boxed algorithm).

    ## Update
    A_{t+1} is drawn from the behaviour policy (ε-greedy or softmax in Q) first; then, with
    τ = t + 1 − n,

    Q(S_τ, A_τ) ← Q(S_τ, A_τ) + α [G_{τ:τ+n} − Q(S_τ, A_τ)],
    G_{τ:τ+n} = R_{τ+1} + γR_{τ+2} + … + γ^{n−1}R_{τ+n} + γ^n Q(S_{τ+n}, A_{τ+n})

    with the window cut at the end of the episode: at termination the last n − 1 pairs are updated
    toward their (shorter) returns without bootstrap; at truncation they bootstrap from
    Q(S_T, A_T), A_T drawn but not taken. n = 1 is :class:`rlcore.Sarsa`, update for update.

    ## Arguments
    ``n`` ≥ 1 (the number of steps), and the arguments of :class:`rlcore.Sarsa`: ``env``, ``alpha``
    (in (0, 1], ``"1/n"`` or a callable of the visit count), ``gamma``, ``epsilon`` or
    ``temperature``, ``initial_value``, ``seed``.

    ## Raises
    ValueError for n < 1 (or not a whole number), α ∉ (0, 1], ε ∉ [0, 1], τ ≤ 0, γ ∉ [0, 1].
    """

    handles_action_mask = True

    def __init__(self, env, *, n: int, alpha=0.5, gamma=None, epsilon=None, temperature=None, initial_value=0.0,
                 seed=None):
        self.n = _checks.whole(n, "n", 1, meaning="the number of steps")
        super().__init__(env, gamma=gamma, alpha=alpha, epsilon=epsilon, temperature=temperature,
                         initial_value=initial_value, seed=seed)

    def step(self, r_t, obs, terminated, truncated=False, restart=None):
        """Record R_t and S_t = obs, draw A_t, update Q(S_{t−n}, A_{t−n}) (and at the end of an
        episode the last pairs); return A_t (or A_0 of the next episode)."""
        s_t = self._row(obs, terminated, truncated)
        self._episodes.record(self._s_tm1, self._a_tm1, r_t, self.gamma * (1.0 - terminated))
        a_t = self._behaviour(s_t)  # A_t before the update, as SARSA (a bootstrap only, if the episode is over)
        q_t = select(self._table.read(s_t), a_t)  # Q(S_t, A_t)
        window = self._episodes.last(self.n)
        if window is not None:
            runs, rows, actions, rewards, discounts = window
            if runs is None:
                self._update(rows[0], actions[0], n_step_return(rewards, discounts, q_t))
            else:
                self._update(rows[:, 0], actions[:, 0], n_step_return(rewards, discounts, q_t[runs]))
        for run, rows, actions, rewards, discounts in self._episodes.ended(terminated | truncated):
            self._learn_tail(rows, actions, rewards, discounts, q_t if run is None else q_t[run])
        return self._continue(s_t, a_t, terminated, truncated, restart)

    def _learn_tail(self, rows, actions, rewards, discounts, q_T) -> None:
        """The windows cut by the end of the episode: τ = T − n + 1, …, T − 1, toward G_{τ:T}."""
        first = max(0, len(rows) - self.n + 1)
        returns = discounted_returns(rewards[first:], discounts[first:], q_T)  # G_{τ:T} for every τ ≥ first
        for k, tau in enumerate(range(first, len(rows))):
            self._update(rows[tau], actions[tau], returns[k])

    def _settings(self) -> str:
        return super()._settings() + f", n={self.n}"


class TreeBackup(EpisodeLearner, _Control):
    """The n-step tree-backup algorithm: off-policy n-step control without importance sampling (S&B Section 7.5).

    ## Update
    The behaviour policy (ε-greedy or softmax in Q) chooses the actions; the target policy π is
    greedy in Q (``target_epsilon=0``, the default) or ε'-greedy. Once S_{τ+n} is observed
    (τ = t + 1 − n),

    Q(S_τ, A_τ) ← Q(S_τ, A_τ) + α [G_{τ:τ+n} − Q(S_τ, A_τ)]

    toward the tree-backup return of eq. 7.16 (:func:`tree_backup_return`): at each state of the
    window the actions not taken contribute π(a|S) Q(S, a), and the action taken contributes
    π(A|S) times the rest of the return. At the end of an episode the last n − 1 pairs are updated
    toward their shorter returns, all computed from Q at that moment. A_{t+1} is drawn after the
    update (as in Q-learning). With n = 1 this is Expected SARSA with the target policy π
    (:class:`rlcore.ExpectedSarsa` with ``target_epsilon``), and with a greedy π Q-learning.

    ## Arguments
    ``n`` ≥ 1, ``target_epsilon`` (ε' in [0, 1] of the ε'-greedy target policy; 0: greedy), and
    the arguments of :class:`rlcore.QLearning`: ``env``, ``alpha``, ``gamma``, ``epsilon`` or
    ``temperature``, ``initial_value``, ``seed``.

    ## Raises
    ValueError for n < 1, α ∉ (0, 1], ε or ε' ∉ [0, 1], τ ≤ 0, γ ∉ [0, 1].
    """

    handles_action_mask = True

    def __init__(self, env, *, n: int, alpha=0.5, gamma=None, epsilon=None, temperature=None, target_epsilon=0.0,
                 initial_value=0.0, seed=None):
        self.n = _checks.whole(n, "n", 1, meaning="the number of steps")
        self.target_epsilon = _checks.number(target_epsilon, "target_epsilon", 0.0, 1.0,
                                             meaning="ε' of the ε'-greedy target policy")
        super().__init__(env, gamma=gamma, alpha=alpha, epsilon=epsilon, temperature=temperature,
                         initial_value=initial_value, seed=seed)

    def policy_probs(self, q) -> np.ndarray:
        """π(·|S) of the target policy (ε'-greedy in q over the actions that exist), shape of q (..., A)."""
        exists = q > -np.inf
        greedy = greedy_policy(q)
        if self.target_epsilon == 0:
            return greedy
        return (1.0 - self.target_epsilon) * greedy + self.target_epsilon * exists / exists.sum(axis=-1, keepdims=True)

    def learn_window(self, s_t) -> None:
        """Q(S_τ, A_τ) ← Q(S_τ, A_τ) + α [G_{τ:τ+n} − Q(S_τ, A_τ)], τ = t − n, in every run that has come that far."""
        window = self._episodes.last(self.n)
        if window is None:
            return
        runs, rows, actions, rewards, discounts = window
        values = self._table._values
        if runs is None:  # S_{τ+1} … S_{τ+n}: the window's states after the first, and S_t
            q = np.concatenate([values[rows[1:]], self._table.read(s_t)[None]])
        else:
            q = np.concatenate([values[rows[:, 1:]], values[s_t[runs]][:, None]], axis=1)
        target = tree_backup_return(rewards, discounts, q, self.policy_probs(q), actions[..., 1:])
        self._update(rows[..., 0], actions[..., 0], target)

    def learn_episode(self, rows, actions, rewards, discounts, last_row, run) -> None:
        """The windows cut by the end of the episode: τ = T − n + 1, …, T − 1, toward G_{τ:T}."""
        first = max(0, len(rows) - self.n + 1)
        if first == len(rows):
            return
        q = np.concatenate([self._table._values[rows[first + 1:]], self._table.read(last_row)[None]])
        returns = tree_backup_returns(rewards[first:], discounts[first:], q, self.policy_probs(q), actions[first + 1:])
        for k, tau in enumerate(range(first, len(rows))):
            self._update(rows[tau], actions[tau], returns[k])

    def _settings(self) -> str:
        return super()._settings() + f", n={self.n}, target_epsilon={self.target_epsilon!r}"
