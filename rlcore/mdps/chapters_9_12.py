"""The MDPs of Chapters 9–12 (on-policy prediction and control with approximation, eligibility traces).

- :func:`random_walk_1000`: Example 9.1, the 1000-state random walk with jumps of up to 100 states
  (Figures 9.1, 9.2, 9.5, 9.10).
- Chapter 12's 19-state random walk (Figures 12.3, 12.6, 12.8) is the Chapter 7 walk,
  ``rlcore.mdps.random_walk(19, left_reward=-1.0)``: −1 on the left exit, +1 on the right, γ = 1.
- Mountain Car (Example 10.1) has continuous states, so it is not a finite MDP: its dynamics are
  :class:`rlcore.approximation.MountainCar`.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from rlcore import _checks
from rlcore.exact.model import MDP


def random_walk_1000(n_states: int = 1000, max_jump: int = 100) -> MDP:
    """Sutton & Barto Example 9.1: the 1000-state random walk (a Markov reward process).

    States 1 … ``n_states`` lie on a line between two terminal states, 0 on the left and
    ``n_states + 1`` on the right. Every episode starts in the centre state (500). Each step jumps
    to one of the ``max_jump`` states on the left or the ``max_jump`` states on the right, all
    2·``max_jump`` equally likely (probability 1/200 each); a jump past an end terminates the
    episode there, so near an end the probability of the missing states goes to termination
    (from state 1: ½ to terminate on the left). Terminating on the left yields −1, on the right
    +1, every other step 0; γ = 1. There is one action ("walk"), so the uniform policy is the
    book's π, and v_π is one call away::

        mdp = random_walk_1000()
        v_pi = rlcore.policy_evaluation(mdp, rlcore.uniform_policy(mdp)).V   # Figure 9.1's true value

    v_π is nearly linear, from about −0.92 at state 1 to +0.92 at state 1000 (Figure 9.1).

    Args:
        n_states: the number of non-terminal states (1000 in the book).
        max_jump: the largest jump in either direction (100 in the book); at most ``n_states``.

    Returns:
        an :class:`rlcore.MDP` with ``n_states + 2`` states (sparse P), terminal states 0 and
        ``n_states + 1``, the start state ``(n_states + 1) // 2`` … for 1000 states, state 500.
    """
    n = _checks.whole(n_states, "n_states", 1, meaning="the number of non-terminal states")
    k = _checks.whole(max_jump, "max_jump", 1, meaning="the largest jump")
    if k > n:
        raise ValueError(f"max_jump must be ≤ n_states = {n}; got {max_jump}")
    S = n + 2
    rows, cols, probs = [], [], []
    for s in range(1, n + 1):
        targets = np.r_[np.arange(s - k, s), np.arange(s + 1, s + k + 1)]
        targets = np.clip(targets, 0, S - 1)  # past an end: that end's terminal state
        next_states, counts = np.unique(targets, return_counts=True)
        rows += [s] * next_states.size
        cols += next_states.tolist()
        probs += (counts / (2 * k)).tolist()
    rows += [0, S - 1]
    cols += [0, S - 1]
    probs += [1.0, 1.0]
    P = sp.csr_matrix((probs, (rows, cols)), shape=(S, S))
    R = sp.lil_matrix((S, S))
    R[1:k + 1, 0] = -1.0  # a jump into the left end
    R[n - k + 1:n + 1, S - 1] = 1.0  # a jump into the right end
    terminal = np.zeros(S, dtype=bool)
    terminal[[0, S - 1]] = True
    initial = np.zeros(S)
    initial[(n + 1) // 2] = 1.0  # the centre: state 500 of 1…1000
    names = ["left end", *(str(s) for s in range(1, n + 1)), "right end"]
    return MDP([P], [R.tocsr()], 1.0, terminal=terminal, initial=initial, state_names=names, action_names=["walk"])
