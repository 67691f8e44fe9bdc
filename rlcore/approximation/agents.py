"""Agents with linear weights: gradient Monte Carlo, n-step semi-gradient TD and semi-gradient SARSA (Sutton & Barto, 2nd ed., Sections 9.3, 9.4, 10.1–10.2).

Two families, one protocol (``start`` / ``step``, see :mod:`rlcore.learning.agents`):

**Prediction over the states of an MDP** (:class:`GradientMonteCarlo`, :class:`SemiGradientTD`,
and the trace agents of :mod:`rlcore.learning.traces`). The states are ``Discrete`` — the
1000-state walk, the 19-state walk — and the features are a matrix X of shape (S, d), row s = x(s)
(:func:`rlcore.approximation.feature_matrix`; None: the identity, i.e. tabular). These agents are
written on the engine of :mod:`rlcore.learning.agents`, so the same class runs one run under
:func:`rlcore.train` and N runs under :func:`rlcore.train_lockstep`. The weights are kept in an
engine table with one row per feature, which :meth:`~rlcore.learning.agents.Agent.copies`
replicates over runs like any table: ``agent.w`` (and ``agent.table``) is w, shape (d,) for one
run and (N, d) for N runs, and ``agent.V`` = Xw is v̂ of every state.

**Control over continuous states** (:class:`SemiGradientSarsa`; :class:`rlcore.SarsaLambda`).
Mountain Car's states are real vectors, so no table row can hold them: q̂(s, a, w) = w_aᵀx(s)
with x(s) from binary features — tile coding (:class:`~rlcore.approximation.TileCoder`) or state
aggregation — of which only the active indices are touched. The same class runs one run under
:func:`rlcore.train` with a Gymnasium environment (Gymnasium's ``MountainCar-v0``) and N runs in
lockstep under :func:`rlcore.approximation.train_lockstep_dynamics` with batched dynamics
(:class:`~rlcore.approximation.MountainCar`, numpy); :func:`rlcore.train_lockstep` needs a finite
MDP to sample, which Mountain Car is not. ``agent.w`` has shape (A, d) for one run, (N, A, d)
for N runs.

Every update is the pure function of :mod:`rlcore.approximation.linear` (for binary features,
written on the active indices: x is 1 there and 0 elsewhere, so w·x is a sum of A few weights and
the update adds α·error to them); the tests check the agents against those functions.
"""

from __future__ import annotations

import copy

import numpy as np
from gymnasium import spaces

from rlcore import _checks
from rlcore.exact.policies import draw_epsilon_greedy, sample_epsilon_greedy
from rlcore.learning import schedules
from rlcore.learning.agents import Agent, EpisodeLearner
from rlcore.learning.prediction import _Evaluation
from rlcore.learning.table import Table
from rlcore.approximation.linear import linear_update, linear_value, semi_gradient_td_update


def check_alpha(alpha) -> float:
    """α of a linear method: a number in (0, 1] (a per-state "1/n" has no meaning for shared weights)."""
    if isinstance(alpha, str) or callable(alpha):
        raise ValueError(f"alpha must be a number in (0, 1] (the step size α of the weights); got {alpha!r}")
    schedules.check_alpha(alpha)
    return float(alpha)


def check_lambda(lambda_) -> float:
    """λ as a float; ValueError unless it is a number in [0, 1]."""
    return _checks.number(lambda_, "lambda_", 0.0, 1.0, meaning="the trace-decay parameter λ")


def check_feature_matrix(features, n_states: int) -> np.ndarray:
    """The feature matrix X (S, d) of a prediction agent: an array with one row per state, or None (tabular: the identity)."""
    if features is None:
        return np.eye(n_states)
    if callable(features) and not isinstance(features, np.ndarray):
        raise TypeError("features must be the feature matrix X, shape (S, d), one row x(s) per state; build it from a "
                        "feature map with rlcore.approximation.feature_matrix(features, mdp)")
    X = _checks.real_array(features, "features")
    if X.ndim != 2 or X.shape[0] != n_states or X.shape[1] < 1:
        raise ValueError(f"features must be the feature matrix X of shape (S, d) = ({n_states}, d), one row x(s) per "
                         f"state; got shape {X.shape}")
    return X


class _LinearPrediction(_Evaluation):
    """Shared by the prediction agents with linear weights over the states of an MDP: X, w, v̂ = Xw."""

    def __init__(self, env, *, features, alpha, gamma, policy, seed):
        alpha = check_alpha(alpha)
        super().__init__(env, gamma=gamma, alpha=alpha, policy=policy, initial_value=0.0, seed=seed)
        if not self._table.is_array:
            raise TypeError(f"{type(self).__name__} needs a Discrete observation space (one feature row per state); "
                            f"got {self.observation_space}")
        X = check_feature_matrix(features, len(self._table))
        self.features = X
        self.n_features = X.shape[1]
        self._X = X  # one row per table row: tiled over the runs by copies()
        self._weights = Table(spaces.Discrete(self.n_features), 1, 0.0)  # w, one row per feature
        self._group = _one_hot_columns(X)  # state aggregation: the feature of each state (−1: none), else None

    def copies(self, n_runs, rng, alpha=None):
        """N copies for :func:`rlcore.train_lockstep` (see :meth:`rlcore.learning.agents.Agent.copies`);
        ``alpha``: one step size per run, shape (n_runs,), for a parameter study in one call."""
        runs = super().copies(n_runs, rng, alpha=alpha)
        runs._X = np.tile(self._X, (n_runs, 1))
        if self._group is not None:
            runs._group = np.tile(self._group, n_runs)
        return runs

    def _learned(self) -> Table:
        return self._weights

    @property
    def w(self) -> np.ndarray:
        """The weights w, live: shape (d,) for one run, (N, d) for N runs."""
        values = self._weights._values  # (d, 1), or (N·d, 1) for N runs: one weight per row
        return values[:, 0] if self.n_runs is None else values.reshape(self.n_runs, self.n_features)

    @property
    def V(self) -> np.ndarray:
        """v̂(s, w) = wᵀx(s) of every state, shape (S,) ((N, S) for N runs); a copy."""
        return self.w @ self.features.T

    def snapshot(self):
        """A copy of the weights w (what :func:`rlcore.train` stores with ``snapshot_every``)."""
        return self.w.copy()

    def value(self, obs) -> float:
        """v̂(obs, w)."""
        return float(self._X[self._table.lookup(obs)] @ self.w)

    def _alpha_of(self, runs=None):
        """The step size α: the agent's, or — for copies made with one α per run — that of the runs
        ``runs`` (None: all of them, shape (N,))."""
        per_run = getattr(self, "_alpha_per_run", None)
        if per_run is None:
            return self.alpha
        return per_run if runs is None else per_run[runs]

    def _sweep(self, w, rows, targets, alpha) -> None:
        """w ← w + α [U_t − wᵀx(S_t)] x(S_t) for t = 0, 1, … in order (:func:`linear_update` of each
        step), in place on the live weights ``w`` of one run whose step size is ``alpha``; ``rows`` are
        the table rows of S_t and ``targets`` the U_t, Python floats. Runs on Python floats for state
        aggregation (w[g] ← w[g] + α (U_t − w[g])), where one weight moves per step."""
        alpha = float(alpha)
        if self._group is not None:
            weights = w.tolist()
            for g, u in zip(self._group[rows].tolist(), targets):
                if g >= 0:
                    weights[g] += alpha * (u - weights[g])
            w[:] = weights
            return
        X = self._X
        for row, u in zip(rows.tolist(), targets):
            x = X[row]
            w += (alpha * (u - x @ w)) * x

    def _weights_of(self, run):
        """The live weight vector of one run (the agent's own for one run)."""
        return self.w if run is None else self.w[run]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(alpha={self.alpha!r}, gamma={self.gamma}, features=({len(self._table)}, {self.n_features}))"


def _one_hot_columns(X):
    """For a feature matrix whose rows are one-hot or zero (state aggregation): each row's column
    (−1 for a zero row); None for any other matrix."""
    ones = X == 1.0
    if not np.all(ones | (X == 0.0)) or np.any(ones.sum(axis=1) > 1):
        return None
    return np.where(ones.any(axis=1), ones.argmax(axis=1), -1)


def episode_returns(rewards, discounts, v_T: float) -> list:
    """G_0, …, G_{T−1} of one episode as Python floats: :func:`rlcore.discounted_returns` (eq. 3.9,
    G_t = R_{t+1} + γ_{t+1} G_{t+1}, G_T = v_T) for a single trajectory, computed on floats because
    it runs once per episode and numpy's per-element cost would dominate the learning."""
    g, returns = v_T, []
    for r_t, discount_t in zip(rewards.tolist()[::-1], discounts.tolist()[::-1]):
        g = r_t + discount_t * g
        returns.append(g)
    return returns[::-1]


def windowed_returns(rewards, discounts, v_tpn):
    """The n-step returns G_{t:t+n} of a batch of windows, :func:`rlcore.n_step_return` (eq. 7.1) in closed form:
    R_1 + γ_1 R_2 + … + (γ_1 ⋯ γ_{n−1}) R_n + (γ_1 ⋯ γ_n) v̂(S_{t+n}) for a window's rewards R_1 … R_n and
    discounts γ_1 … γ_n, each of shape (..., n)
    — one cumulative product instead of a loop over the n steps, since n can be in the hundreds."""
    reach = np.cumprod(discounts, axis=-1)  # γ_1, γ_1γ_2, …, γ_1⋯γ_n
    weights = np.concatenate([np.ones_like(reach[..., :1]), reach[..., :-1]], axis=-1)  # 1, γ_1, …, γ_1⋯γ_{n−1}
    return (weights * rewards).sum(axis=-1) + reach[..., -1] * v_tpn


class GradientMonteCarlo(EpisodeLearner, _LinearPrediction):
    """Gradient Monte Carlo prediction of v_π with linear weights (S&B Section 9.3, eq. 9.7 with U_t = G_t).

    ## Update
    At the end of each episode, for t = 0, 1, …, T − 1 in order,

    w ← w + α [G_t − v̂(S_t, w)] x(S_t)          (:func:`rlcore.approximation.gradient_mc_update`)

    A true gradient method: w converges to the minimum of the value error VE (eq. 9.1) under the
    on-policy distribution (:func:`rlcore.approximation.mc_solution`) — with state aggregation,
    the μ-weighted average of v_π in each group (Figure 9.1). A truncated episode bootstraps its
    returns from v̂(S_T, w).

    ## Arguments
    - ``env``: an :class:`rlcore.MDP` or a Gymnasium environment with Discrete observations.
    - ``features``: the feature matrix X, shape (S, d), row s = x(s) (zero rows for terminal
      states), e.g. ``feature_matrix(StateAggregation(1, 1001, 10), mdp)``; None: tabular.
    - ``alpha``: the step size α in (0, 1] (Figure 9.1: 2·10⁻⁵).
    - ``gamma``, ``policy``, ``seed``: as :class:`rlcore.TDZero`.
    """

    def __init__(self, env, *, features=None, alpha=2e-5, gamma=None, policy=None, seed=None):
        super().__init__(env, features=features, alpha=alpha, gamma=gamma, policy=policy, seed=seed)

    def learn_episode(self, rows, actions, rewards, discounts, last_row, run) -> None:
        """w ← w + α [G_t − wᵀx(S_t)] x(S_t) for t = 0 … T − 1, in time order."""
        w = self._weights_of(run)
        returns = episode_returns(rewards, discounts, float(self._X[last_row] @ w))  # v̂(S_T) read only if truncated
        self._sweep(w, rows, returns, self._alpha_of(run))


class SemiGradientTD(EpisodeLearner, _LinearPrediction):
    """n-step semi-gradient TD prediction of v_π with linear weights (S&B Sections 9.3–9.4, eq. 9.15; n = 1: semi-gradient TD(0)).

    ## Update
    Once S_{τ+n} is observed (or the episode has ended),

    w ← w + α [G_{τ:τ+n} − v̂(S_τ, w)] x(S_τ),   G_{τ:τ+n} = R_{τ+1} + … + γ^{n−1}R_{τ+n} + γ^n v̂(S_{τ+n}, w)

    (:func:`rlcore.n_step_return` and :func:`rlcore.approximation.linear_update`; with n = 1,
    :func:`rlcore.approximation.semi_gradient_td_update`). With n = 1 and linear features w converges
    to the TD fixed point (:func:`rlcore.approximation.td_fixed_point`, eq. 9.12), not to the minimum
    of VE (Figure 9.2, left).

    ## Arguments
    ``n`` ≥ 1 (default 1), and the arguments of :class:`GradientMonteCarlo` (Figure 9.2: α = 2·10⁻⁴).
    """

    def __init__(self, env, *, n: int = 1, features=None, alpha=2e-4, gamma=None, policy=None, seed=None):
        self.n = _checks.whole(n, "n", 1, meaning="the number of steps")
        super().__init__(env, features=features, alpha=alpha, gamma=gamma, policy=policy, seed=seed)

    def step(self, r_t, obs, terminated, truncated=False, restart=None):
        """Learn from (S_{t−1}, R_t, S_t = obs); return A_t ~ π (or A_0 of the next episode).

        n = 1 updates at once, without recording the episode (:func:`semi_gradient_td_update`);
        n > 1 records the episode and learns from its windows of n steps."""
        if self.n > 1:
            return super().step(r_t, obs, terminated, truncated, restart)
        s_t = self._row(obs, terminated, truncated)
        w, discount_t = self.w, self.gamma * (1.0 - terminated)
        if self.n_runs is None and self._group is not None:  # state aggregation, one run: the one weight that moves
            g, g_t = self._group[self._s_tm1], self._group[s_t]
            v_t = w[g_t] if g_t >= 0 else 0.0
            w[g] += self.alpha * (r_t + discount_t * v_t - w[g])  # semi_gradient_td_update with one-hot x
        else:
            X = self._X
            w[...] = semi_gradient_td_update(w, X[self._s_tm1], r_t, discount_t, X[s_t], self._alpha_of())
        return self._continue(s_t, None, terminated, truncated, restart, obs)

    def learn_window(self, s_t) -> None:
        """w ← w + α [G_{τ:τ+n} − v̂(S_τ, w)] x(S_τ), τ = t − n, in every run that has come that far."""
        window = self._episodes.window(self.n)
        if window is None:
            return
        runs, rows, rewards, discounts = window
        X, W = self._X, self.w
        if runs is None:
            W[:] = linear_update(W, X[rows], windowed_returns(rewards, discounts, X[s_t] @ W), self.alpha)
            return
        w = W[runs]
        W[runs] = linear_update(w, X[rows], windowed_returns(rewards, discounts, linear_value(w, X[s_t[runs]])),
                                self._alpha_of(runs))

    def learn_episode(self, rows, actions, rewards, discounts, last_row, run) -> None:
        """The windows cut by the end of the episode: τ = T − n + 1, …, T − 1, bootstrapped from v̂(S_T)
        (read afresh before each update: it matters only when the episode was truncated)."""
        w, X, alpha = self._weights_of(run), self._X, self._alpha_of(run)
        first = max(0, len(rows) - self.n + 1)
        partial = episode_returns(rewards, discounts, 0.0)  # G_{τ:T} without the bootstrap term
        if discounts[-1] == 0.0:  # terminated: v̂(S_T) does not enter, the targets are known
            self._sweep(w, rows[first:], partial[first:], alpha)
            return
        reach = np.cumprod(discounts[::-1])[::-1].tolist()  # γ_{τ+1} ⋯ γ_T, the weight of v̂(S_T) in G_{τ:T}
        x_T = X[last_row]
        for tau in range(first, len(rows)):
            target = partial[tau] + reach[tau] * float(x_T @ w)
            w[:] = linear_update(w, X[rows[tau]], target, alpha)

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", n={self.n})"


# ---------------------------------------------------------------------- control over continuous states
def check_binary_features(features, who: str):
    """A feature map with binary features given by their active indices (TileCoder, StateAggregation)."""
    if not (getattr(features, "binary", False) and hasattr(features, "active") and hasattr(features, "n_features")):
        raise TypeError(f"{who} needs binary features given by their active indices — a TileCoder or a "
                        f"StateAggregation of rlcore.approximation; got {type(features).__name__}")
    return features


class _LinearControl(Agent):
    """Shared by the control agents with linear weights over binary features: w (A, d), ε-greedy in q̂.

    The weights start at 0 — optimistic for Mountain Car, whose rewards are −1, so even ε = 0
    explores (S&B Section 10.1).
    """

    def __init__(self, env, *, features, alpha, epsilon, gamma, seed):
        super().__init__(env, gamma=gamma, seed=seed)
        self.features = check_binary_features(features, type(self).__name__)
        self.alpha = check_alpha(alpha)
        schedules.check_epsilon(epsilon)
        self.epsilon = float(epsilon)
        self.n_features = int(features.n_features)
        self._w = np.zeros((self.n_actions, self.n_features))

    def copies(self, n_runs: int, rng: np.random.Generator, alpha=None):
        """N independent copies in one object (for :func:`rlcore.approximation.train_lockstep_dynamics`):
        each run starts from a copy of this agent's weights; every random choice comes from ``rng``.
        ``alpha``: one step size per run, shape (n_runs,), for a parameter study in one call."""
        per_run_alpha = None
        if alpha is not None:
            per_run_alpha = _checks.real_array(alpha, "alpha")
            if per_run_alpha.shape != (n_runs,):
                raise ValueError(f"alpha must have one step size per run, shape ({n_runs},); got shape {per_run_alpha.shape}")
            schedules.check_alpha(per_run_alpha)
        runs = copy.copy(self)
        runs._alpha_per_run = per_run_alpha
        runs._w = np.tile(self._w, (int(n_runs), 1, 1))
        runs.n_runs = int(n_runs)
        runs.episode = np.zeros(n_runs, dtype=np.int64)
        runs.rng, runs._random, runs._blocks = rng, rng.random, {}
        return runs

    @property
    def w(self) -> np.ndarray:
        """The weights, live: shape (A, d) for one run, (N, A, d) for N runs."""
        return self._w

    @property
    def table(self) -> np.ndarray:
        """The weights (what the runners store as each run's final table)."""
        return self._w

    def snapshot(self):
        """A copy of the weights."""
        return self._w.copy()

    def q_values(self, states) -> np.ndarray:
        """q̂(s, ·, w) for a batch of states (..., n_dims), shape (..., A) (one run's weights)."""
        if self.n_runs is not None:
            raise TypeError("q_values reads one run's weights: use agent.w[i] of the N runs")
        active = self.features.active(states)  # (..., k)
        return self._w[:, active].sum(axis=-1).transpose(*range(1, active.ndim), 0)

    def cost_to_go(self, states) -> np.ndarray:
        """−max_a q̂(s, a, w) (S&B Figure 10.1), shape (...)."""
        return -self.q_values(states).max(axis=-1)

    def _alpha_of(self):
        """α, or for copies made with one α per run, the N step sizes, shape (N,)."""
        per_run = getattr(self, "_alpha_per_run", None)
        return self.alpha if per_run is None else per_run

    def _active(self, obs, terminated=None):
        """The active features of the observations; terminal ones are never read, so they are
        replaced by the box's low corner (Gymnasium's goal position may lie outside the tiled box)."""
        if terminated is not None and self.n_runs is not None and terminated.any():
            obs = np.where(np.asarray(terminated)[:, None], self.features.low, obs)
        return self.features.active(obs)

    def _q(self, active, runs=None):
        """q̂(s, ·, w) from the active features: (A,) for one run, (N, A) for N runs (or for the runs ``runs``)."""
        if self.n_runs is None:
            return self._w[:, active].sum(axis=-1)
        w = self._w if runs is None else self._w[runs]
        return np.take_along_axis(w, active[:, None, :], axis=2).sum(axis=-1)

    def _behaviour(self, q):
        """A ~ ε-greedy(q) (random ties): one action, or one per run."""
        if self.n_runs is None:
            return draw_epsilon_greedy(q.tolist(), self.epsilon, self._random)
        noise, explore = self._uniforms(self.n_actions + 1, q.shape[0], self.epsilon)
        return sample_epsilon_greedy(q, self.epsilon, noise, explore)

    def _flat(self, a, active):
        """Flat indices of w[run, a, active] for N runs, shape (N, k)."""
        A, d = self.n_actions, self.n_features
        return (np.arange(self.n_runs)[:, None] * A + a[:, None]) * d + active

    def start(self, obs):
        """Begin an episode (in every run) in ``obs``: A_0 ~ ε-greedy(q̂(S_0, ·))."""
        self._episode_begins()
        self._x_tm1 = self._active(obs)
        self._a_tm1 = self._behaviour(self._q(self._x_tm1))
        self._begin_traces(None)
        return self._a_tm1 + self._action_start

    def _begin_traces(self, done) -> None:
        """Reset what an episode keeps (traces) in every run, or in the runs where ``done`` is set."""

    def _restart(self, x_t, a_t, done, restart):
        """For N runs: the runs whose episode is over begin the next one in ``restart``."""
        self._episode_begins(done)
        x_t = x_t.copy()
        x_t[done] = self.features.active(restart[done])
        again = np.flatnonzero(done)
        a_t = a_t.copy()
        a_t[again] = self._behaviour(self._q(x_t[again], again))
        self._begin_traces(done)
        return x_t, a_t

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(alpha={self.alpha!r}, epsilon={self.epsilon!r}, gamma={self.gamma}, "
                f"features={self.features!r})")


class SemiGradientSarsa(_LinearControl):
    """Episodic semi-gradient SARSA with linear weights over binary features (S&B Section 10.1, eq. 10.1).

    ## Update
    A_{t+1} ~ ε-greedy(q̂(S_{t+1}, ·, w)) is drawn first, then

    w ← w + α [R_{t+1} + γ q̂(S_{t+1}, A_{t+1}, w) − q̂(S_t, A_t, w)] ∇q̂(S_t, A_t, w)

    (:func:`rlcore.approximation.semi_gradient_sarsa_update`), where ∇q̂(S_t, A_t, w) is 1 on the
    active features of S_t in the weights of A_t. With tile coding, α is usually given per tiling
    (the book's α = 0.5/8 for 8 tilings). On termination the target is R_{t+1}; on truncation it
    bootstraps from q̂(S_{t+1}, A_{t+1}).

    ## Arguments
    - ``env``: a Gymnasium environment with a Discrete action space (only its spaces are read), or
      :class:`rlcore.approximation.MountainCar`.
    - ``features``: a :class:`~rlcore.approximation.TileCoder` (or StateAggregation) covering every
      observation the agent will see.
    - ``alpha``: the step size α in (0, 1]; ``epsilon``: ε in [0, 1] (Mountain Car: 0, the zero
      initial weights are optimistic); ``gamma``: γ (required); ``seed``: seed of ``agent.rng``.
    """

    def __init__(self, env, *, features, alpha=0.5 / 8, epsilon=0.0, gamma=None, seed=None):
        super().__init__(env, features=features, alpha=alpha, epsilon=epsilon, gamma=gamma, seed=seed)

    def step(self, r_t, obs, terminated, truncated=False, restart=None):
        """Learn from (S_{t−1}, A_{t−1}, R_t, S_t = obs); return A_t (or A_0 of the next episode)."""
        if self.n_runs is None:
            x_tm1, a_tm1 = self._x_tm1, self._a_tm1
            if terminated:
                target = r_t
            else:
                x_t = self._active(obs)
                q_t = self._q(x_t)
                a_t = self._behaviour(q_t)
                target = r_t + self.gamma * q_t[a_t]  # sarsa_target(r_t, γ, q_t, a_t)
            w = self._w[a_tm1]
            w[x_tm1] += self.alpha * (target - w[x_tm1].sum())
            if terminated or truncated:
                return None if restart is None else self.start(restart)
            self._x_tm1, self._a_tm1 = x_t, a_t
            return a_t + self._action_start
        x_t = self._active(obs, terminated)
        q_t = self._q(x_t)
        a_t = self._behaviour(q_t)
        target = r_t + self.gamma * (1.0 - terminated) * q_t[np.arange(self.n_runs), a_t]  # sarsa_target
        flat = self._flat(self._a_tm1, self._x_tm1)
        w = self._w.reshape(-1)
        w[flat] += (self._alpha_of() * (target - w[flat].sum(axis=1)))[:, None]
        if restart is not None:
            x_t, a_t = self._restart(x_t, a_t, terminated | truncated, restart)
        self._x_tm1, self._a_tm1 = x_t, a_t
        return a_t + self._action_start if self._action_start else a_t
