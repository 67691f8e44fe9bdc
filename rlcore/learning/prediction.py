"""Tabular policy evaluation from samples: TD(0), n-step TD and Monte Carlo prediction (Sutton & Barto, 2nd ed., Sections 5.1, 6.1, 7.1).

Lecture 5. Each agent learns V ≈ v_π of a fixed policy π, written once for one run
(:func:`rlcore.train`) and N runs in lockstep (:func:`rlcore.train_lockstep`).
"""

from __future__ import annotations

import numpy as np

from rlcore import _checks
from rlcore.exact.policies import check_policy, draw
from rlcore.learning.agents import Agent, EpisodeLearner
from rlcore.learning.control import _check_flag, first_visits
from rlcore.learning.td import discounted_returns, n_step_return, td_target


class _Evaluation(Agent):
    """Shared by the evaluation agents: V and the fixed policy π they follow."""

    def __init__(self, env, *, gamma, alpha, policy, initial_value, seed):
        super().__init__(env, gamma=gamma, seed=seed)
        self._value_table(alpha, initial_value, 1)
        self.policy = policy
        self._policy_cdf = None
        if policy is None or callable(policy):
            return
        if not self._table.is_array:
            raise TypeError("an (S, A) policy array needs a Discrete observation space; pass a callable obs -> probabilities")
        self._policy_cdf = np.cumsum(check_policy(policy, len(self._table), self.n_actions), axis=1)
        self._policy_cdf_rows = self._policy_cdf.tolist()

    def copies(self, n_runs, rng, alpha=None):
        if callable(self.policy):
            raise TypeError("many runs need the evaluated policy as an (S, A) array (or None for uniform), not a callable")
        runs = super().copies(n_runs, rng, alpha=alpha)
        if self._policy_cdf is not None:
            runs._policy_cdf = np.tile(self._policy_cdf, (n_runs, 1))  # row run·S + s
        return runs

    @property
    def V(self):
        """State values: an (S,) array (a live view) for Discrete observations, else a dict
        ``{obs: value}`` (a copy); (N, S) for N runs."""
        table = self.table
        if isinstance(table, dict):
            return {key: float(row[0]) for key, row in table.items()}
        return table

    def snapshot(self):
        """A copy of V: an (S,) array, or a dict ``{obs: value}``."""
        return self.V.copy()

    def value(self, obs) -> float:
        """V(obs) (the initial value for an observation never visited)."""
        return float(self._table.read(self._table.lookup(obs))[0])

    def act(self, obs) -> int:
        """An action drawn from the evaluated policy π(·|obs) (uniform when ``policy`` is None)."""
        return self._behaviour(self._table.lookup(obs), obs) + self._action_start

    def _behaviour(self, rows, obs=None):
        """A ~ π(·|S) at the table rows (one, or one per run)."""
        if self.n_runs is not None:
            u = self._random(np.shape(rows))
            if self._policy_cdf is None:
                return (u * self.n_actions).astype(np.int64)
            return np.minimum((self._policy_cdf.take(rows, axis=0) <= u[:, None]).sum(axis=1), self.n_actions - 1)
        if self.policy is None:
            return int(self._random() * self.n_actions)
        if self._policy_cdf is not None:
            return draw(self._policy_cdf_rows[rows], self._random())
        probs = np.asarray(self.policy(obs), dtype=float)
        return draw(np.cumsum(probs).tolist(), self._random())

    def __repr__(self) -> str:
        table = f"array{self._table.values.shape[:1]}" if self._table.is_array else f"dict({len(self._table)} states)"
        policy = "uniform" if self.policy is None else ("array" if self._policy_cdf is not None else "callable")
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

    def start(self, obs):
        """Begin an episode in ``obs``; return A_0 ~ π(·|obs)."""
        return self._start(obs)

    def step(self, r_t, obs, terminated, truncated=False, restart=None):
        """Learn from (S_{t−1}, R_t, S_t = obs); return A_t ~ π(·|S_t) (or A_0 of the next episode)."""
        s_t = self._row(obs, terminated, truncated)
        discount_t = self.gamma * (1.0 - terminated)
        target = td_target(r_t, discount_t, self._table.read(s_t)[..., 0])
        self._update(self._s_tm1, 0, target)
        return self._continue(s_t, None, terminated, truncated, restart, obs)


class NStepTD(EpisodeLearner, _Evaluation):
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
        self.n = _checks.whole(n, "n", 1, meaning="the number of steps")
        super().__init__(env, gamma=gamma, alpha=alpha, policy=policy, initial_value=initial_value, seed=seed)

    def learn_window(self, s_t) -> None:
        """V(S_τ) ← V(S_τ) + α [G_{τ:τ+n} − V(S_τ)] with τ = t − n, in every run that has come that far."""
        window = self._episodes.window(self.n)
        if window is not None:
            runs, rows, rewards, discounts = window
            v_t = self._table.read(s_t)[..., 0]
            self._update(rows, 0, n_step_return(rewards, discounts, v_t if runs is None else v_t[runs]))

    def learn_episode(self, rows, actions, rewards, discounts, last_row, run) -> None:
        """The windows cut by the end of the episode: τ = T − n + 1, …, T − 1, bootstrapped from V(S_T)."""
        v_T = self._table.read(last_row)[0]
        first = max(0, len(rows) - self.n + 1)
        returns = discounted_returns(rewards[first:], discounts[first:], v_T)  # G_{τ:T} for every τ ≥ first, one pass
        self._update_in_order(rows[first:], 0, returns)

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", n={self.n})"


class MonteCarloPrediction(EpisodeLearner, _Evaluation):
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
        self.first_visit = _check_flag(first_visit, "first_visit")

    def learn_episode(self, rows, actions, rewards, discounts, last_row, run) -> None:
        """V(S_t) ← V(S_t) + α [G_t − V(S_t)] at every (or the first) visit, in time order."""
        v_T = float(self._table.read(last_row)[0])  # read only when truncated
        returns = discounted_returns(rewards, discounts, v_T)
        steps = first_visits(rows) if self.first_visit else slice(None)
        self._update_in_order(rows[steps], 0, returns[steps])

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", first_visit={self.first_visit})"
