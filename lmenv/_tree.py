"""Walking the prefix tree of :func:`lmenv.to_mdp`: children, levels, sums along paths, the leaves.

Private helpers shared by :mod:`lmenv.preferences`, :mod:`lmenv.reward_model`,
:mod:`lmenv.kl_estimators` and :mod:`lmenv.learners.dpo`. A tree's state s is the generated prefix
``tree.prefixes[s]`` (state 0 the root); action a in s leads to ``children(tree)[s, a]``; a leaf
(terminal state) is a finished sequence y. On a tree, with γ = 1, every expectation over
sequences is a sum over the leaves weighted by P_π(y) = Π_t π(a_t|s_t) (the visitation of the
leaf, :func:`lmenv.scoring.visitation`).
"""

from __future__ import annotations

import weakref

import numpy as np

_STRUCTURES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # tree -> (child, parent, action, levels, R)


def terminal(tree) -> np.ndarray:
    """Whether each state is a leaf, (S,) bool."""
    flags = getattr(tree, "terminal", None)
    return flags if isinstance(flags, np.ndarray) else tree.mdp.terminal


def _structure(tree):
    cached = _STRUCTURES.get(tree)
    if cached is not None:
        return cached
    S, A = tree.n_states, tree.reference.shape[1]
    leaf = terminal(tree)
    rows = np.flatnonzero(~leaf)
    if hasattr(tree, "live_children"):  # the tree's own arrays: the successors of the live states
        child = np.repeat(np.arange(S)[:, None], A, axis=1)  # terminal rows point to themselves
        child[tree.live_states] = tree.live_children
        R = np.zeros((S, A))
        R[tree.live_states] = tree.live_task_rewards
    else:  # an rlcore MDP of the tree
        P = tree.mdp.P_flat.tocsr()  # (S·A, S), one 1 per row: the successor of (s, a)
        if not np.all(np.diff(P.indptr) == 1):
            raise ValueError("not a tree: every (state, action) must have exactly one successor")
        child = P.indices.reshape(S, A)
        R = np.asarray(tree.task_mdp.R, dtype=float)
    parent = np.full(S, -1)
    action = np.full(S, -1)
    parent[child[rows].ravel()] = np.repeat(rows, A)
    action[child[rows].ravel()] = np.tile(np.arange(A), rows.size)
    depth = np.asarray(tree.depth)
    levels = [rows[depth[rows] == d] for d in range(int(depth.max()))]
    _STRUCTURES[tree] = (child, parent, action, levels, R)
    return _STRUCTURES[tree]


def task_rewards(tree) -> np.ndarray:
    """r(s, a) of the task (without the KL term), dense (S, A); 0 at the leaves."""
    return _structure(tree)[4]


def same_prefixes(tree, other) -> bool:
    """Whether two trees enumerate the same prefixes in the same order (one environment, two rewards)."""
    if tree.n_states != other.n_states:
        return False
    c1, c2 = _structure(tree), _structure(other)
    return bool(np.array_equal(c1[0], c2[0]) and np.array_equal(terminal(tree), terminal(other))
                and all(tree.prefixes[s] == other.prefixes[s] for s in (0, tree.n_states // 2, tree.n_states - 1)))


def visitation(tree, policy: np.ndarray) -> np.ndarray:
    """d_π(s) = P_π(the episode passes through s), (S,); top-down: d(s_0) = 1, d(child(s, a)) = d(s) π(a|s)."""
    child = children(tree)
    d = np.zeros(len(child))
    d[0] = 1.0
    for nodes in levels(tree):
        d[child[nodes]] = d[nodes, None] * policy[nodes]
    return d


def children(tree) -> np.ndarray:
    """child[s, a]: the state after action a in state s, shape (S, A) (terminal rows point to themselves)."""
    return _structure(tree)[0]


def parents(tree) -> tuple[np.ndarray, np.ndarray]:
    """(parent, action): the state before s and the action that led to it, shape (S,) each (−1 at the root)."""
    _, parent, action, _, _ = _structure(tree)
    return parent, action


def levels(tree) -> list[np.ndarray]:
    """The non-terminal states at depth 0, 1, …, H − 1 (level t holds the states where step t is taken)."""
    return _structure(tree)[3]


def leaves(tree) -> np.ndarray:
    """The terminal states (finished sequences), shape (L,)."""
    return np.flatnonzero(terminal(tree))


def path_sums(tree, per_edge: np.ndarray) -> np.ndarray:
    """Σ over the path from the root to s of per_edge[s_t, a_t], for every state s; shape (S,).

    With ``per_edge = task_rewards(tree)`` it is the return Σ_t r_t of every prefix (at a leaf, of
    the sequence); with log π it is log P_π(prefix).
    """
    child = children(tree)
    total = np.zeros(len(child))
    for nodes in levels(tree):
        total[child[nodes]] = total[nodes, None] + per_edge[nodes]
    return total


def sequence_returns(tree) -> np.ndarray:
    """R(y) = Σ_t r_t of the task reward for every state (use it at the leaves), shape (S,)."""
    return path_sums(tree, task_rewards(tree))


def leaf_probabilities(tree, policy: np.ndarray) -> np.ndarray:
    """P_π(y) of every leaf y (in :func:`leaves` order), shape (L,); they sum to 1."""
    return visitation(tree, policy)[leaves(tree)]


def backward_induction(tree, rewards: np.ndarray, policy_of) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Values of the policy that each state picks from its own action values, leaves first.

    One sweep from the deepest level to the root: Q(s, a) = r(s, a) + V(child(s, a)), then
    π(·|s) = ``policy_of(Q, π_ref)`` on the level's states and V(s) = Σ_a π(a|s) Q(s, a), unless
    ``policy_of`` returns (π, V) itself (the soft maximum, for example).

    Args:
        rewards: r(s, a), shape (S, A).
        policy_of: (Q (n, A), π_ref (n, A)) -> π (n, A), or -> (π, V (n,)).

    Returns:
        (V (S,), Q (S, A), policy (S, A)); terminal states have V = 0 and the reference's row.
    """
    child = children(tree)
    V = np.zeros(len(child))
    Q = np.zeros(rewards.shape)
    policy = tree.reference.copy()
    for nodes in reversed(levels(tree)):
        q = rewards[nodes] + V[child[nodes]]
        out = policy_of(q, tree.reference[nodes])
        pi, v = out if isinstance(out, tuple) else (out, (out * q).sum(axis=1))
        Q[nodes], policy[nodes], V[nodes] = q, pi, v
    return V, Q, policy


def evaluate(tree, policy: np.ndarray, rewards: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(V^π, Q^π) of a given policy for per-token rewards r(s, a), exactly: leaves first,
    Q(s, a) = r(s, a) + V(child(s, a)), V(s) = Σ_a π(a|s) Q(s, a). Shapes (S,), (S, A)."""
    child = children(tree)
    V = np.zeros(len(child))
    Q = np.zeros(rewards.shape)
    for nodes in reversed(levels(tree)):
        Q[nodes] = rewards[nodes] + V[child[nodes]]
        V[nodes] = (policy[nodes] * Q[nodes]).sum(axis=1)
    return V, Q


def expectations(tree, policy: np.ndarray, rewards: np.ndarray | None = None) -> tuple[float, float]:
    """(E_π[Σ_t r_t], KL(π ‖ π_ref)) from the root, exactly: sums over the states weighted by the visitation.

    ``rewards`` default to the task rewards. The same numbers as ``lmenv.score``'s ``task_return``
    and ``kl_to_reference``, without building an rlcore MDP.
    """
    rewards = task_rewards(tree) if rewards is None else rewards
    live = ~terminal(tree)
    d = np.where(live, visitation(tree, policy), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = np.where(policy > 0, policy * (np.log(policy) - np.log(tree.reference)), 0.0).sum(axis=1)
    weights = d > 0
    return (float((d[weights, None] * policy[weights] * rewards[weights]).sum()),
            float((d[weights] * kl[weights]).sum()))


def soft_optimum(tree, kl_coef: float, rewards: np.ndarray | None = None):
    """The KL-regularised optimum of a tree in one backward sweep, as an :class:`rlcore.Solution`.

    V(s) = β log Σ_a π_ref(a|s) exp(Q(s, a)/β) (:func:`rlcore.soft_v_from_q`) and
    π*(a|s) ∝ π_ref(a|s) exp(Q(s, a)/β) (:func:`rlcore.softmax_policy`) with Q = r + V(child):
    the fixed point that ``tree.kl_regularised_optimum`` (soft value iteration) converges to, computed
    level by level. ``rewards`` default to the task rewards.
    """
    import rlcore

    rewards = task_rewards(tree) if rewards is None else rewards

    def soft(q, reference):
        return rlcore.softmax_policy(q, kl_coef, reference), rlcore.soft_v_from_q(q, kl_coef, reference)

    V, Q, policy = backward_induction(tree, rewards, soft)
    return rlcore.Solution(V, Q, policy, 1, np.zeros(1), True, 0.0)
