"""Temporal-difference targets and discounted returns as pure functions (Sutton & Barto, 2nd ed., Chapters 5–7).

Lectures 5–7. Each function's body is the formula, and it works unchanged on one transition or on
a batch with leading axes (one transition per run of :func:`rlcore.train_lockstep`), as in rlax.
Names are time-indexed: ``q_tm1`` are the action values of S_{t−1}, ``a_tm1`` the action taken
there, ``r_t`` the reward R_t that followed, ``q_t`` the action values of S_t, and

    discount_t = γ · (1 − terminated_t)

carries termination: when S_t is terminal the bootstrap term vanishes, with no ``if done``
branch in the math. Truncation (a time limit) is *not* termination: the episode stops but
S_t still has a value, so ``discount_t = γ`` and the target bootstraps as usual.

The control targets differ by one visible term:

    Q-learning      r_t + discount_t · max_a q_t[a]             (S&B eq. 6.8)
    SARSA           r_t + discount_t · q_t[a_t]                 (S&B eq. 6.7)
    Expected SARSA  r_t + discount_t · Σ_a π(a|S_t) q_t[a]      (S&B eq. 6.9)

and an agent moves its estimate toward the target by the step size α:
``q_tm1[a_tm1] += alpha * (target - q_tm1[a_tm1])`` (S&B eq. 2.4).

Shapes: ``r_t``, ``discount_t`` and ``a_t`` are numbers or arrays of shape (...); ``q_t`` and
``probs_a_t`` have the actions on their last axis, shape (..., A). Returns run along the last
axis: ``r_t`` and ``discount_t`` of shape (..., T).
"""

from __future__ import annotations

import numpy as np

from rlcore.exact.policies import max_over_actions


def td_target(r_t, discount_t, v_t):
    """The TD(0) target R_{t+1} + γ V(S_{t+1}) (S&B eq. 6.2).

    Args:
        r_t: reward R_t following S_{t−1}, shape (...).
        discount_t: γ (1 − terminated_t), shape (...).
        v_t: value estimate of S_t, shape (...).

    Returns:
        the target for V(S_{t−1}), shape (...); the TD error is ``target − v_tm1`` (eq. 6.5).
    """
    return r_t + discount_t * v_t


def q_learning_target(r_t, discount_t, q_t):
    """The Q-learning target R_{t+1} + γ max_a Q(S_{t+1}, a) (S&B eq. 6.8; Watkins 1989).

    Args:
        r_t: reward R_t following (S_{t−1}, A_{t−1}), shape (...).
        discount_t: γ (1 − terminated_t), shape (...).
        q_t: action values of S_t, shape (..., A).

    Returns:
        the target for Q(S_{t−1}, A_{t−1}), shape (...).
    """
    return r_t + discount_t * max_over_actions(q_t)


def sarsa_target(r_t, discount_t, q_t, a_t):
    """The SARSA target R_{t+1} + γ Q(S_{t+1}, A_{t+1}) (S&B eq. 6.7; Rummery & Niranjan 1994).

    Args:
        r_t: reward R_t following (S_{t−1}, A_{t−1}), shape (...).
        discount_t: γ (1 − terminated_t), shape (...).
        q_t: action values of S_t, shape (..., A).
        a_t: the action A_t chosen in S_t by the behaviour policy, shape (...).

    Returns:
        the target for Q(S_{t−1}, A_{t−1}), shape (...).
    """
    return r_t + discount_t * select(q_t, a_t)


def expected_sarsa_target(r_t, discount_t, q_t, probs_a_t):
    """The Expected SARSA target R_{t+1} + γ Σ_a π(a|S_{t+1}) Q(S_{t+1}, a) (S&B eq. 6.9; van Seijen et al. 2009).

    With π greedy in q_t this is the Q-learning target exactly (``max_a q_t[a]``).

    Args:
        r_t: reward R_t following (S_{t−1}, A_{t−1}), shape (...).
        discount_t: γ (1 − terminated_t), shape (...).
        q_t: action values of S_t, shape (..., A).
        probs_a_t: the target policy π(·|S_t), shape (..., A).

    Returns:
        the target for Q(S_{t−1}, A_{t−1}), shape (...).
    """
    return r_t + discount_t * (np.asarray(probs_a_t) * np.asarray(q_t)).sum(axis=-1)


def discounted_returns(r_t, discount_t, v_T=0.0) -> np.ndarray:
    """Returns G_t = R_{t+1} + γ_{t+1} G_{t+1} of every step of a trajectory (S&B eq. 3.9).

    Computed backwards from the bootstrap value G_T = ``v_T``. With ``v_T = 0`` (the episode
    terminated) these are the Monte Carlo returns of Chapter 5; with ``v_T = V(S_T)`` they are
    the bootstrapped returns of a truncated trajectory.

    Args:
        r_t: rewards R_1, …, R_T, shape (..., T).
        discount_t: γ (1 − terminated) after each step, shape (..., T).
        v_T: value of the last state S_T, shape (...).

    Returns:
        G_0, …, G_{T−1}, shape (..., T).
    """
    r_t = np.asarray(r_t, dtype=float)
    discount_t = np.asarray(discount_t, dtype=float)
    if r_t.ndim == 1 and discount_t.shape == r_t.shape and r_t.size > 32 and np.ndim(v_T) == 0:
        constant = discount_t[:-1]
        if constant.size and np.all(constant == constant[0]):  # one γ until the last step: a linear filter
            return _filtered_returns(r_t, float(constant[0]), float(discount_t[-1] * v_T))
    G = np.empty(np.broadcast_shapes(r_t.shape, discount_t.shape))
    g = np.asarray(v_T, dtype=float)
    for t in range(G.shape[-1] - 1, -1, -1):
        g = r_t[..., t] + discount_t[..., t] * g
        G[..., t] = g
    return G


def _filtered_returns(r_t, gamma: float, bootstrap: float) -> np.ndarray:
    """The same recursion for a long episode with one γ: y_k = x_k + γ y_{k−1} over the reversed rewards
    (``scipy.signal.lfilter``, the same additions and products in C), with γ_T v_T added to R_T."""
    from scipy.signal import lfilter

    x = r_t[::-1].copy()
    x[0] += bootstrap
    return lfilter([1.0], [1.0, -gamma], x)[::-1]


def n_step_return(r_t, discount_t, v_tpn):
    """The n-step return G_{t:t+n} = R_{t+1} + γR_{t+2} + … + γ^{n−1}R_{t+n} + γ^n V(S_{t+n}) (S&B eq. 7.1).

    It is the first of :func:`discounted_returns` over the n steps, bootstrapped from
    ``v_tpn``; a zero in ``discount_t`` (termination inside the window) cuts off everything
    after it. n = 1 gives :func:`td_target`; n ≥ the remaining episode length, with termination,
    gives the Monte Carlo return.

    Args:
        r_t: rewards R_{t+1}, …, R_{t+n}, shape (..., n).
        discount_t: γ (1 − terminated) after each of those steps, shape (..., n).
        v_tpn: value estimate of S_{t+n}, shape (...).

    Returns:
        G_{t:t+n}, shape (...).
    """
    r_t, discount_t = np.asarray(r_t, dtype=float), np.asarray(discount_t, dtype=float)
    weights = np.cumprod(discount_t, axis=-1)  # γ_{t+1}, γ_{t+1}γ_{t+2}, …: the weight of R_{t+k+1} is weights[k−1]
    return r_t[..., 0] + (weights[..., :-1] * r_t[..., 1:]).sum(axis=-1) + weights[..., -1] * v_tpn


def select(values, index):
    """values[..., index]: one entry of the last axis per row — ``q_t[a_t]`` of every transition.

    Args:
        values: shape (..., A).
        index: integers, shape (...).

    Returns:
        shape (...).
    """
    values = np.asarray(values)
    if values.ndim == 1:
        return values[index]
    if values.ndim == 2:
        return values[np.arange(values.shape[0]), index]
    index = np.asarray(index)
    rows = values.reshape(-1, values.shape[-1])
    return rows[np.arange(rows.shape[0]), index.reshape(-1)].reshape(index.shape)
