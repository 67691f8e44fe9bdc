"""Reward shaping: potential-based (Ng, Harada & Russell 1999), and arbitrary bonuses for counter-examples.

**Potential-based shaping** adds to every transition the term F(s, s') = γΦ(s') − Φ(s) for a
potential Φ over states:

    r'(s, a, s') = r(s, a, s') + γ Φ(s') − Φ(s).

Along an episode the added terms telescope, Σ_t γ^t F(S_t, S_{t+1}) = γ^T Φ(S_T) − Φ(S_0), so
every policy's return moves by the same −Φ(S_0), and (Ng et al. 1999, Theorem 1)

    q'_π(s, a) = q_π(s, a) − Φ(s),   v'_π(s) = v_π(s) − Φ(s),   A'_π = A_π,   q'_* = q_* − Φ(s):

the optimal policies are the same. Ng et al. also show the converse: a shaping term F(s, a, s')
that is not of this form can change the optimal policy (a bonus for stepping towards a goal,
with no penalty for stepping back, makes going round in circles optimal).

**Φ(terminal) = 0.** A terminal state is absorbing with value 0 in rlcore (S&B Section 3.4), so
its potential is read as 0, as V is: the shaped reward of entering a terminal state s' is
r − Φ(s). This is what makes the telescoped sum end at exactly −Φ(S_0) for episodes of any
length T; a non-zero Φ(terminal) would add γ^T Φ(terminal), which depends on how long the
episode took (γ < 1) and on whether it ends at all, and so can change which policy is best.
The pure function :func:`potential_based_shaping` gets this for free from
``discount_t = γ (1 − terminated)``.

**Count-based bonuses** r + β / √N(s) (:class:`rlcore.intrinsic.CountBonus`) are not
potential-based: they change the objective while the counts are small, and fade as N grows.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from rlcore.exact.model import MDP


def potential_based_shaping(r_t, discount_t, phi_tm1, phi_t):
    """r_t + γ_t Φ(S_t) − Φ(S_{t−1}), the shaped reward of one transition (Ng et al. 1999, Theorem 1).

    With ``discount_t = γ (1 − terminated)`` a terminal S_t contributes no potential (Φ(terminal)
    is read as 0). Works elementwise on arrays of transitions.

    Args:
        r_t: reward R_t of the transition S_{t−1} → S_t.
        discount_t: γ (1 − terminated_t).
        phi_tm1: Φ(S_{t−1}).
        phi_t: Φ(S_t).

    Returns:
        the shaped reward.
    """
    return r_t + discount_t * phi_t - phi_tm1


def add_reward(mdp, bonus) -> MDP:
    """A copy of ``mdp`` with ``bonus`` added to its rewards: r'(s, a, s') = r(s, a, s') + F(s, a, s').

    The new MDP has transition rewards (so that ``to_env()`` samples r + F per transition); terminal
    rows stay "reward 0". Any F may be added — :func:`shaped_mdp` is the potential-based one.

    Args:
        mdp: the MDP (dense or sparse).
        bonus: F, shape (S, A, S), or (S, A) for a bonus that does not depend on s'. With a
            sparse MDP it is read on the transitions that have probability > 0 only.

    Returns:
        a new :class:`rlcore.MDP` (same P, γ, terminal states, start distribution and names).
    """
    bonus = np.asarray(bonus, dtype=float)
    S, A = mdp.n_states, mdp.n_actions
    if bonus.shape not in ((S, A), (S, A, S)):
        raise ValueError(f"bonus must have shape (S, A, S) = ({S}, {A}, {S}) or (S, A) = ({S}, {A}); got {bonus.shape}")
    if not np.all(np.isfinite(bonus)):  # checked before any broadcast: an (S, A) bonus stays (S, A)
        raise ValueError("bonus contains NaN or inf")
    if bonus.ndim == 2:
        return _with_rewards(mdp, lambda s, a, s2: bonus[s, a])
    return _with_rewards(mdp, lambda s, a, s2: bonus[s, a, s2])


def shaped_mdp(mdp, potential) -> MDP:
    """The MDP with potential-based shaping r'(s, a, s') = r(s, a, s') + γΦ(s') − Φ(s) (Ng et al. 1999).

    Φ is read as 0 at terminal states (see the module docstring). Then q'_π = q_π − Φ(s) for every
    policy, q'_* = q_* − Φ(s), and the optimal policies are unchanged.

    Args:
        mdp: the MDP (dense or sparse).
        potential: Φ, shape (S,).

    Returns:
        a new :class:`rlcore.MDP` with transition rewards.
    """
    phi = np.asarray(potential, dtype=float)
    if phi.shape != (mdp.n_states,) or not np.all(np.isfinite(phi)):
        raise ValueError(f"potential must be a finite array of shape (S,) = ({mdp.n_states},); got shape {phi.shape}")
    phi = np.where(mdp.terminal, 0.0, phi)  # Φ(terminal) = 0, as V(terminal) = 0
    return _with_rewards(mdp, lambda s, a, s2: mdp.gamma * phi[s2] - phi[s])


def _with_rewards(mdp, extra) -> MDP:
    """The MDP with transition rewards r(s, a, s') + extra(s, a, s2) (``extra`` vectorised over index arrays)."""
    S, A = mdp.n_states, mdp.n_actions
    kwargs = dict(terminal=mdp.terminal, initial=mdp.initial, state_names=mdp.state_names,
                  action_names=mdp.action_names, grid_shape=mdp.grid_shape)
    if not mdp.is_sparse:
        s, a, s2 = np.meshgrid(np.arange(S), np.arange(A), np.arange(S), indexing="ij")
        return MDP(mdp.P, _transition_rewards(mdp) + extra(s, a, s2), mdp.gamma, **kwargs)
    rewards = []
    has_transition_rewards = mdp.transition_rewards(0, 0) is not None
    for a, P_a in enumerate(mdp.P):
        P_a = P_a.tocsr()
        s = np.repeat(np.arange(S), np.diff(P_a.indptr))  # row of each stored transition
        s2 = P_a.indices
        base = mdp.R[s, a]
        if has_transition_rewards:
            base = np.concatenate([mdp.transition_rewards(i, a)[P_a.indices[P_a.indptr[i]:P_a.indptr[i + 1]]]
                                   for i in range(S)])
        values = base + extra(s, np.full_like(s, a), s2)
        rewards.append(sp.csr_matrix((values, (s, s2)), shape=(S, S)))
    return MDP(list(mdp.P), rewards, mdp.gamma, **kwargs)


def _transition_rewards(mdp) -> np.ndarray:
    """r(s, a, s') of a dense MDP, shape (S, A, S): its transition rewards, or r(s, a) for every s'."""
    S, A = mdp.n_states, mdp.n_actions
    if mdp.transition_rewards(0, 0) is None:
        return np.repeat(mdp.R[:, :, None], S, axis=2)
    return np.stack([np.stack([mdp.transition_rewards(s, a) for a in range(A)]) for s in range(S)])
