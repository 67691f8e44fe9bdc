"""Eligibility traces: the λ-return, TD(λ), true online TD(λ) and SARSA(λ) (Sutton & Barto, 2nd ed., Chapter 12).

Pure functions, one transition or a batch with leading axes (``z``, ``w``, ``x`` of shape (..., d),
numbers of shape (...)), named as in :mod:`rlcore.learning.td`; each returns new arrays:

    accumulating_trace   z ← γλ z + x                                        (eq. 12.5)
    replacing_trace      z_i ← 1 where x_i = 1, else γλ z_i  (binary x)     (eq. 12.12)
    dutch_trace          z ← γλ z + (1 − αγλ zᵀx) x                          (eq. 12.11)
    td_lambda_update     w ← w + α δ z,  δ = R + γ_t wᵀx_t − wᵀx_{t−1}       (eqs. 12.6–12.7)
    true_online_td_lambda_update
                         w ← w + α(δ + V − V_old) z − α(V − V_old) x_{t−1}    (eq. 12.10, as boxed in Section 12.5)

``discount`` in a trace is the γ of the step that led to the state whose features are added —
never a terminal one, as traces are reset to 0 when an episode begins. The λ-return itself is
:func:`rlcore.lambda_returns` (eqs. 12.2–12.3).

Agents (prediction over the states of an MDP with a feature matrix X, as in
:mod:`rlcore.approximation.agents`; written on the engine, so one class runs under
:func:`rlcore.train` and :func:`rlcore.train_lockstep`):

- :class:`OfflineLambdaReturn`: the off-line λ-return algorithm (Section 12.1, eq. 12.4; Figure 12.3).
- :class:`TDLambda`: semi-gradient TD(λ), accumulating or replacing traces (Section 12.2; Figure 12.6).
- :class:`TrueOnlineTDLambda`: true online TD(λ) with dutch traces (Section 12.5; Figure 12.8).

and control over continuous states (Mountain Car, tile coding), as
:class:`rlcore.approximation.SemiGradientSarsa`:

- :class:`SarsaLambda`: SARSA(λ) with replacing or accumulating traces (Section 12.7; Figure 12.10).

Two identities tie them, and the tests check both: with the weights held fixed during an episode
(off-line updating), the sum of TD(λ)'s updates with accumulating traces equals the sum of the
λ-return algorithm's updates (the forward and backward views agree); and true online TD(λ)
computes exactly the weights of the on-line λ-return algorithm (Section 12.4; van Seijen et al. 2016).
"""

from __future__ import annotations

import numpy as np

from rlcore.approximation.agents import _LinearControl, _LinearPrediction, check_lambda, episode_returns
from rlcore.approximation.linear import linear_value
from rlcore.learning.agents import EpisodeLearner
from rlcore.learning.td import td_target

TRACES = ("accumulating", "replacing")


# ---------------------------------------------------------------------- pure functions
def accumulating_trace(z, x, discount, lambda_):
    """z ← γλ z + ∇v̂ = γλ z + x, the accumulating trace (S&B eq. 12.5).

    Args:
        z: the trace z_{t−1}, shape (..., d).
        x: x(S_t) (the gradient of a linear v̂), shape (..., d).
        discount: γ, shape (...).
        lambda_: λ, shape (...).

    Returns:
        z_t, shape (..., d).
    """
    return (np.asarray(discount) * np.asarray(lambda_))[..., None] * z + x


def replacing_trace(z, x, discount, lambda_):
    """z_i ← 1 where x_i = 1, γλ z_i elsewhere: the replacing trace of binary features (S&B eq. 12.12).

    Args:
        z: the trace z_{t−1}, shape (..., d).
        x: binary features x(S_t) (0 or 1), shape (..., d).
        discount: γ, shape (...).
        lambda_: λ, shape (...).

    Returns:
        z_t, shape (..., d).
    """
    return np.where(np.asarray(x) == 1.0, 1.0, (np.asarray(discount) * np.asarray(lambda_))[..., None] * z)


def dutch_trace(z, x, discount, lambda_, alpha):
    """z ← γλ z + (1 − αγλ zᵀx) x, the dutch trace of true online TD(λ) (S&B eq. 12.11).

    Args:
        z: the trace z_{t−1}, shape (..., d).
        x: x(S_t), shape (..., d).
        discount: γ, shape (...).
        lambda_: λ, shape (...).
        alpha: the step size α, shape (...).

    Returns:
        z_t, shape (..., d).
    """
    decay = np.asarray(discount) * np.asarray(lambda_)
    return decay[..., None] * z + (1.0 - np.asarray(alpha) * decay * linear_value(z, x))[..., None] * x


def td_lambda_update(w, z, x_tm1, r_t, discount_t, x_t, alpha):
    """Semi-gradient TD(λ): w ← w + α δ z, δ = R_t + γ_t v̂(S_t, w) − v̂(S_{t−1}, w) (S&B eqs. 12.6–12.7).

    Args:
        w: weights, shape (..., d).
        z: the trace z after adding x(S_{t−1}), shape (..., d).
        x_tm1: x(S_{t−1}), shape (..., d).
        r_t: reward R_t, shape (...).
        discount_t: γ (1 − terminated_t), shape (...).
        x_t: x(S_t), shape (..., d).
        alpha: the step size α.

    Returns:
        the new weights, shape (..., d).
    """
    delta = td_target(r_t, discount_t, linear_value(w, x_t)) - linear_value(w, x_tm1)
    return w + (np.asarray(alpha) * delta)[..., None] * z


def true_online_td_lambda_update(w, z, x_tm1, r_t, discount_t, x_t, v_old, alpha):
    """True online TD(λ): w ← w + α(δ + V − V_old) z − α(V − V_old) x(S_{t−1}) (S&B eq. 12.10, Section 12.5's box).

    V = v̂(S_{t−1}, w), δ = R_t + γ_t v̂(S_t, w) − V, and V_old is the v̂(S_{t−1}) computed at the
    previous step, with the weights of then (0 at the start of an episode).

    Args:
        w: weights, shape (..., d).
        z: the dutch trace after adding x(S_{t−1}) (:func:`dutch_trace`), shape (..., d).
        x_tm1: x(S_{t−1}), shape (..., d).
        r_t: reward R_t, shape (...).
        discount_t: γ (1 − terminated_t), shape (...).
        x_t: x(S_t), shape (..., d).
        v_old: V_old, shape (...).
        alpha: the step size α.

    Returns:
        the new weights, shape (..., d).
    """
    v = linear_value(w, x_tm1)
    delta = td_target(r_t, discount_t, linear_value(w, x_t)) - v
    alpha = np.asarray(alpha)
    return w + (alpha * (delta + v - v_old))[..., None] * z - (alpha * (v - v_old))[..., None] * x_tm1


# ---------------------------------------------------------------------- prediction agents
class OfflineLambdaReturn(EpisodeLearner, _LinearPrediction):
    """The off-line λ-return algorithm (S&B Section 12.1, eq. 12.4; Figure 12.3).

    ## Update
    Nothing changes during an episode. At its end, with the λ-returns G^λ_t computed from the
    weights w of the episode (:func:`rlcore.lambda_returns`, eq. 12.3), for t = 0 … T − 1 in order,

    w ← w + α [G^λ_t − v̂(S_t, w)] x(S_t)

    λ = 0 gives off-line TD(0) targets, λ = 1 the Monte Carlo return (then this is
    :class:`rlcore.approximation.GradientMonteCarlo`). A truncated episode bootstraps from v̂(S_T).

    ## Arguments
    - ``env``: an :class:`rlcore.MDP` or a Gymnasium environment with Discrete observations.
    - ``lambda_``: λ in [0, 1].
    - ``alpha``: the step size α in (0, 1].
    - ``features``: the feature matrix X (S, d); None: tabular (the book's figures).
    - ``gamma``, ``policy``, ``seed``: as :class:`rlcore.TDZero`.
    """

    def __init__(self, env, *, lambda_, alpha=0.1, features=None, gamma=None, policy=None, seed=None):
        self.lambda_ = check_lambda(lambda_)
        super().__init__(env, features=features, alpha=alpha, gamma=gamma, policy=policy, seed=seed)

    def learn_episode(self, rows, actions, rewards, discounts, last_row, run) -> None:
        """The λ-returns of the episode from the episode's weights, then w ← w + α [G^λ_t − v̂(S_t, w)] x(S_t), t = 0 … T − 1."""
        w = self._weights_of(run)
        values = self._X[np.r_[rows, last_row]] @ w  # v̂(S_0), …, v̂(S_T) with the weights held during the episode
        # rlcore.lambda_returns (eq. 12.3): a discounted return of R_{t+1} + γ(1 − λ)v̂(S_{t+1}) with discount γλ
        targets = episode_returns(rewards + discounts * (1.0 - self.lambda_) * values[1:], self.lambda_ * discounts,
                                  float(values[-1]))
        self._sweep(w, rows, targets, self._alpha_of(run))

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", lambda_={self.lambda_})"


class _TracePrediction(_LinearPrediction):
    """Shared by the per-step trace agents: z (and V_old), reset when an episode begins."""

    def start(self, obs):
        """Begin an episode (in every run) in ``obs``: z ← 0; return A_0 ~ π."""
        self._z = np.zeros(self.n_features if self.n_runs is None else (self.n_runs, self.n_features))
        self._v_old = 0.0 if self.n_runs is None else np.zeros(self.n_runs)
        return self._start(obs)

    def step(self, r_t, obs, terminated, truncated=False, restart=None):
        """Learn from (S_{t−1}, R_t, S_t = obs); return A_t ~ π (or A_0 of the next episode)."""
        s_t = self._row(obs, terminated, truncated)
        X = self._X
        x_tm1, x_t = X[self._s_tm1], X[s_t]
        discount_t = self.gamma * (1.0 - terminated)
        w = self.w
        w[...] = self._learn(w, x_tm1, r_t, discount_t, x_t)
        if self.n_runs is not None and restart is not None:  # runs whose episode is over start afresh
            done = terminated if truncated is False else terminated | truncated
            self._z[done] = 0.0
            self._v_old = np.where(done, 0.0, self._v_old)
        return self._continue(s_t, None, terminated, truncated, restart, obs)

    def _learn(self, w, x_tm1, r_t, discount_t, x_t):
        raise NotImplementedError

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", lambda_={self.lambda_})"


class TDLambda(_TracePrediction):
    """Semi-gradient TD(λ) with linear weights (S&B Section 12.2, eqs. 12.5–12.7; Figure 12.6).

    ## Update
    After each transition (S_{t−1}, R_t, S_t), with z = 0 when an episode begins,

    z ← γλ z + x(S_{t−1})        (accumulating, eq. 12.5)   or   z_i ← 1 where x_i(S_{t−1}) = 1, γλ z_i elsewhere (replacing, eq. 12.12)
    δ = R_t + γ_t v̂(S_t, w) − v̂(S_{t−1}, w)
    w ← w + α δ z

    λ = 0 is semi-gradient TD(0); λ = 1 with accumulating traces approaches Monte Carlo. With
    tabular features (``features=None``) this is tabular TD(λ). Replacing traces need binary
    features (tabular, state aggregation, tile coding).

    ## Arguments
    - ``lambda_``: λ in [0, 1].
    - ``trace``: ``"accumulating"`` (default, as in Figure 12.6) or ``"replacing"``.
    - the arguments of :class:`OfflineLambdaReturn`.
    """

    def __init__(self, env, *, lambda_, alpha=0.1, trace="accumulating", features=None, gamma=None, policy=None,
                 seed=None):
        self.lambda_ = check_lambda(lambda_)
        self.trace = _check_trace(trace)
        super().__init__(env, features=features, alpha=alpha, gamma=gamma, policy=policy, seed=seed)
        if self.trace == "replacing" and not np.all((self.features == 0.0) | (self.features == 1.0)):
            raise ValueError("replacing traces need binary features (0 or 1: tabular, state aggregation, tile "
                             "coding); use trace='accumulating'")

    def _learn(self, w, x_tm1, r_t, discount_t, x_t):
        update_trace = accumulating_trace if self.trace == "accumulating" else replacing_trace
        self._z = update_trace(self._z, x_tm1, self.gamma, self.lambda_)
        return td_lambda_update(w, self._z, x_tm1, r_t, discount_t, x_t, self._alpha_of())

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", trace={self.trace!r})"


class TrueOnlineTDLambda(_TracePrediction):
    """True online TD(λ) with dutch traces (S&B Section 12.5, eqs. 12.10–12.11; van Seijen et al. 2016; Figure 12.8).

    ## Update
    After each transition (S_{t−1}, R_t, S_t), with z = 0 and V_old = 0 when an episode begins,

    V = v̂(S_{t−1}, w),  V' = v̂(S_t, w),  δ = R_t + γ_t V' − V
    z ← γλ z + (1 − αγλ zᵀx) x,   x = x(S_{t−1})
    w ← w + α(δ + V − V_old) z − α(V − V_old) x
    V_old ← V'

    Its weights are exactly those of the on-line λ-return algorithm (Section 12.4) for linear
    features — the tests check it to float precision.

    ## Arguments
    As :class:`OfflineLambdaReturn`.
    """

    def __init__(self, env, *, lambda_, alpha=0.1, features=None, gamma=None, policy=None, seed=None):
        self.lambda_ = check_lambda(lambda_)
        super().__init__(env, features=features, alpha=alpha, gamma=gamma, policy=policy, seed=seed)

    def _learn(self, w, x_tm1, r_t, discount_t, x_t):
        v_next = linear_value(w, x_t)  # V' with the weights before this update: the next step's V_old
        alpha = self._alpha_of()
        self._z = dutch_trace(self._z, x_tm1, self.gamma, self.lambda_, alpha)
        w = true_online_td_lambda_update(w, self._z, x_tm1, r_t, discount_t, x_t, self._v_old, alpha)
        self._v_old = v_next
        return w


# ---------------------------------------------------------------------- control
class SarsaLambda(_LinearControl):
    """SARSA(λ) with linear weights over binary features (S&B Section 12.7, eqs. 12.15–12.17; Figure 12.10).

    ## Update
    After each transition, with z = 0 when an episode begins and A_t ~ ε-greedy(q̂(S_t, ·, w))
    drawn first,

    z ← γλ z, then on the active features of (S_{t−1}, A_{t−1}): z_i ← 1 (replacing, eq. 12.12) or z_i ← z_i + 1 (accumulating)
    δ = R_t + γ_t q̂(S_t, A_t, w) − q̂(S_{t−1}, A_{t−1}, w)
    w ← w + α δ z

    — the book's boxed "Sarsa(λ) with binary features and linear function approximation". λ = 0 is
    :class:`rlcore.approximation.SemiGradientSarsa`. The traces cover all A·d weights.

    ## Arguments
    - ``env``: a Gymnasium environment with a Discrete action space, or
      :class:`rlcore.approximation.MountainCar`.
    - ``features``: a :class:`~rlcore.approximation.TileCoder` (or StateAggregation).
    - ``lambda_``: λ in [0, 1]; ``trace``: ``"replacing"`` (default, as in Figure 12.10) or
      ``"accumulating"``.
    - ``alpha``, ``epsilon``, ``gamma``, ``seed``: as :class:`rlcore.approximation.SemiGradientSarsa`.
    """

    def __init__(self, env, *, features, lambda_, alpha=0.5 / 8, trace="replacing", epsilon=0.0, gamma=None,
                 seed=None):
        self.lambda_ = check_lambda(lambda_)
        self.trace = _check_trace(trace)
        super().__init__(env, features=features, alpha=alpha, epsilon=epsilon, gamma=gamma, seed=seed)

    def _begin_traces(self, done) -> None:
        if done is None:
            self._z = np.zeros_like(self._w)
            self._buffer = np.empty_like(self._w)
        else:
            self._z[done] = 0.0

    def step(self, r_t, obs, terminated, truncated=False, restart=None):
        """Learn from (S_{t−1}, A_{t−1}, R_t, S_t = obs); return A_t (or A_0 of the next episode)."""
        z = self._z
        z *= self.gamma * self.lambda_
        if self.n_runs is None:
            z_a = z[self._a_tm1]
            if self.trace == "replacing":
                z_a[self._x_tm1] = 1.0
            else:
                z_a[self._x_tm1] += 1.0
            w = self._w
            error = r_t - w[self._a_tm1, self._x_tm1].sum()
            if not terminated:
                x_t = self._active(obs)
                q_t = self._q(x_t)
                a_t = self._behaviour(q_t)
                error += self.gamma * q_t[a_t]  # δ = sarsa_target(r_t, γ_t, q_t, a_t) − q̂(S_{t−1}, A_{t−1})
            w += self.alpha * error * z
            if terminated or truncated:
                return None if restart is None else self.start(restart)
            self._x_tm1, self._a_tm1 = x_t, a_t
            return a_t + self._action_start
        flat = self._flat(self._a_tm1, self._x_tm1)
        z_flat, w_flat = z.reshape(-1), self._w.reshape(-1)
        if self.trace == "replacing":
            z_flat[flat] = 1.0
        else:
            z_flat[flat] += 1.0
        x_t = self._active(obs, terminated)
        q_t = self._q(x_t)
        a_t = self._behaviour(q_t)
        error = r_t + self.gamma * (1.0 - terminated) * q_t[np.arange(self.n_runs), a_t] - w_flat[flat].sum(axis=1)
        step = np.multiply(z, (self._alpha_of() * error)[:, None, None], out=self._buffer)  # α δ z, in a reused buffer
        self._w += step
        if restart is not None:
            x_t, a_t = self._restart(x_t, a_t, terminated | truncated, restart)
        self._x_tm1, self._a_tm1 = x_t, a_t
        return a_t + self._action_start if self._action_start else a_t

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", lambda_={self.lambda_}, trace={self.trace!r})"


def _check_trace(trace) -> str:
    if trace not in TRACES:
        raise ValueError(f"trace must be 'accumulating' or 'replacing'; got {trace!r}")
    return trace


__all__ = [
    "accumulating_trace",
    "replacing_trace",
    "dutch_trace",
    "td_lambda_update",
    "true_online_td_lambda_update",
    "OfflineLambdaReturn",
    "TDLambda",
    "TrueOnlineTDLambda",
    "SarsaLambda",
]
