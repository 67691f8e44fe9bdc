"""Return and advantage estimators on trajectories (Sutton & Barto, 2nd ed., Sections 6.1, 12.1; Schulman et al. 2016).

Lectures 8–9. A trajectory of T steps is three arrays, as in :mod:`rlcore.learning.td` (rlax
names), with time on the last axis and any leading batch axes (one trajectory per row):

    r_t         R_1, …, R_T                                          shape (..., T)
    discount_t  γ (1 − terminated) after each step                    shape (..., T)
    values      V(S_0), …, V(S_T): a value estimate of every state,
                including the last one                                 shape (..., T + 1)

``discount_t`` carries termination: V(S_T) is read only when the last step did not terminate
(a truncated trajectory, or a window cut out of a longer one), and a 0 inside ``discount_t``
separates two episodes laid end to end. No ``if done`` appears in the formulas.

Every estimator is built from :func:`rlcore.discounted_returns` (G_t = R_{t+1} + γ_{t+1} G_{t+1}
computed backwards) and :func:`rlcore.td_target`:

    TD error           δ_t = R_{t+1} + γ V(S_{t+1}) − V(S_t)                          (S&B eq. 6.5)
    λ-return           G^λ_t = R_{t+1} + γ [(1 − λ) V(S_{t+1}) + λ G^λ_{t+1}],  G^λ_T = V(S_T)
                       — a discounted return of the rewards R_{t+1} + γ(1 − λ)V(S_{t+1})
                         with discount γλ                                           (S&B eq. 12.3)
    GAE(γ, λ)          Â_t = Σ_k (γλ)^k δ_{t+k}  — a discounted return of the δ with discount γλ
    Monte Carlo adv.   G_t − V(S_t)

and they are tied by identities that the tests check: Â_t = G^λ_t − V(S_t); λ = 1 gives the
Monte Carlo return and advantage; λ = 0 gives the TD target and the TD error. lmenv's learners
use the same two functions written in torch, under the same names
(:func:`lmenv.learners.discounted_returns`, :func:`lmenv.learners.generalized_advantage_estimation`).
"""

from __future__ import annotations

import numpy as np

from rlcore.learning.td import discounted_returns, td_target


def td_errors(r_t, discount_t, values) -> np.ndarray:
    """δ_t = R_{t+1} + γ_{t+1} V(S_{t+1}) − V(S_t), the one-step TD errors (S&B eq. 6.5).

    With the true v_π, E[δ_t | S_t = s, A_t = a] = q_π(s, a) − v_π(s) = A_π(s, a).

    Args:
        r_t: rewards R_1, …, R_T, shape (..., T).
        discount_t: γ (1 − terminated) after each step, shape (..., T).
        values: V(S_0), …, V(S_T), shape (..., T + 1).

    Returns:
        δ_0, …, δ_{T−1}, shape (..., T).
    """
    r_t, discount_t, values = _check(r_t, discount_t, values)
    return td_target(r_t, discount_t, values[..., 1:]) - values[..., :-1]


def lambda_returns(r_t, discount_t, values, lambda_) -> np.ndarray:
    """G^λ_t = R_{t+1} + γ_{t+1} [(1 − λ) V(S_{t+1}) + λ G^λ_{t+1}], G^λ_T = V(S_T) (S&B eqs. 12.2–12.3).

    That recursion is a discounted return (:func:`rlcore.discounted_returns`) of the rewards
    R_{t+1} + γ(1 − λ)V(S_{t+1}) with discount γλ, bootstrapped from V(S_T). It is the
    (1 − λ)λ^{n−1}-weighted average of the n-step returns (eq. 12.3); λ = 1 gives the Monte
    Carlo return (bootstrapped from V(S_T) only if the trajectory was cut), λ = 0 the TD target.

    Args:
        r_t: rewards R_1, …, R_T, shape (..., T).
        discount_t: γ (1 − terminated) after each step, shape (..., T).
        values: V(S_0), …, V(S_T), shape (..., T + 1); V(S_0) is not used.
        lambda_: λ in [0, 1], a number or one per step, shape (..., T).

    Returns:
        G^λ_0, …, G^λ_{T−1}, shape (..., T).
    """
    r_t, discount_t, values = _check(r_t, discount_t, values)
    lambda_ = _check_lambda(lambda_)
    return discounted_returns(r_t + discount_t * (1.0 - lambda_) * values[..., 1:], lambda_ * discount_t, values[..., -1])


def generalized_advantage_estimation(r_t, discount_t, values, lambda_) -> np.ndarray:
    """GAE(γ, λ): Â_t = Σ_{k≥0} (γλ)^k δ_{t+k} (Schulman et al. 2016, Section 3).

    A discounted return (:func:`rlcore.discounted_returns`) of the TD errors with discount γλ.
    It equals ``lambda_returns(...) − values[:-1]``; λ = 0 gives the TD error δ_t, λ = 1 the
    Monte Carlo advantage G_t − V(S_t) (:func:`monte_carlo_advantages`).

    Args:
        r_t: rewards R_1, …, R_T, shape (..., T).
        discount_t: γ (1 − terminated) after each step, shape (..., T).
        values: V(S_0), …, V(S_T), shape (..., T + 1).
        lambda_: λ in [0, 1], a number or one per step, shape (..., T).

    Returns:
        Â_0, …, Â_{T−1}, shape (..., T).
    """
    lambda_ = _check_lambda(lambda_)
    delta_t = td_errors(r_t, discount_t, values)
    return discounted_returns(delta_t, lambda_ * np.asarray(discount_t, dtype=float))


def monte_carlo_advantages(r_t, discount_t, values) -> np.ndarray:
    """G_t − V(S_t): the Monte Carlo return minus a state baseline (S&B eq. 13.11).

    G_t is :func:`rlcore.discounted_returns`, bootstrapped from V(S_T) when the last step did
    not terminate. With the true v_π its expectation given (S_t, A_t) is A_π(S_t, A_t).

    Args:
        r_t: rewards R_1, …, R_T, shape (..., T).
        discount_t: γ (1 − terminated) after each step, shape (..., T).
        values: V(S_0), …, V(S_T) (or any baseline b(S_t)), shape (..., T + 1).

    Returns:
        G_0 − V(S_0), …, G_{T−1} − V(S_{T−1}), shape (..., T).
    """
    r_t, discount_t, values = _check(r_t, discount_t, values)
    return discounted_returns(r_t, discount_t, values[..., -1]) - values[..., :-1]


def _check(r_t, discount_t, values):
    r_t = np.asarray(r_t, dtype=float)
    discount_t = np.asarray(discount_t, dtype=float)
    values = np.asarray(values, dtype=float)
    if r_t.ndim < 1 or discount_t.shape != r_t.shape or values.shape != (*r_t.shape[:-1], r_t.shape[-1] + 1):
        raise ValueError(f"need r_t and discount_t of shape (T,) and values of shape (T + 1,) (V(S_0), …, V(S_T)), "
                         f"after any leading batch axes; "
                         f"got {r_t.shape}, {discount_t.shape} and {values.shape}")
    return r_t, discount_t, values


def _check_lambda(lambda_):
    lambda_ = np.asarray(lambda_, dtype=float)
    if not np.all((lambda_ >= 0.0) & (lambda_ <= 1.0)):
        raise ValueError(f"lambda_ must lie in [0, 1]; got {lambda_}")
    return lambda_
