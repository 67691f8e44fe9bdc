"""Exact scores of a trained network on an enumerable task: its policy at every prefix, evaluated on the tree.

On a task small enough for :func:`lmenv.to_mdp` (8 actions, horizon 5: 4,681 non-terminal
prefixes) nothing needs sampling. The network's action probabilities at every state of the tree
give a tabular policy π (:func:`tree_policy`); rlcore then evaluates it exactly.

The KL-regularised objective, from the root s_0,

    J_β(π) = E_π[Σ_t r_t] − β E_π[Σ_t KL(π(·|s_t) ‖ π_ref(·|s_t))],

is scored against the optimum J_β(π*) = V*_β(s_0) (soft value iteration,
``tree.kl_regularised_optimum(β)``). The distance to π* is the sequence-level KL

    KL(π ‖ π*) = E_π[Σ_t KL(π(·|s_t) ‖ π*(·|s_t))],

computed both directly (the per-state KL summed over the states π visits, weighted by the
probability of visiting them, :func:`visitation`) and from the gap, since on a deterministic
tree with γ = 1

    V*_β(s_0) − J_β(π) = β · KL(π ‖ π*).

(Proof: r_t = Q*(s_t, a_t) − V*(s_{t+1}) and β log(π*/π_ref)(a_t|s_t) = Q*(s_t, a_t) − V*(s_t),
so r_t − β log(π/π_ref)(a_t|s_t) = V*(s_t) − V*(s_{t+1}) − β log(π/π*)(a_t|s_t); sum over t, the
V* terms telescope to V*(s_0), and take the expectation under π.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import rlcore


@dataclass(frozen=True)
class Score:
    """Exact scores of a policy π on a prefix tree, from the root.

    Attributes:
        kl_coef: β of the objective.
        objective: J_β(π).
        optimum: J_β(π*) = V*_β(s_0) (for β = 0: the hard optimum V*(s_0) of the task).
        fraction: objective / optimum.
        kl_to_optimum: KL(π ‖ π*) = E_π[Σ_t KL(π(·|s_t) ‖ π*(·|s_t))] (nats; nan for β = 0).
        kl_to_optimum_from_gap: (V*_β(s_0) − J_β(π)) / β, equal to the above.
        kl_to_reference: E_π[Σ_t KL(π(·|s_t) ‖ π_ref(·|s_t))] (nats).
        task_return: E_π[Σ_t r_t], the task return without the KL term.
    """

    kl_coef: float
    objective: float
    optimum: float
    fraction: float
    kl_to_optimum: float
    kl_to_optimum_from_gap: float
    kl_to_reference: float
    task_return: float

    def __str__(self) -> str:
        return (f"J_β(π) = {self.objective:.4f} of V*_β = {self.optimum:.4f} ({100 * self.fraction:.1f}%), "
                f"KL(π‖π*) = {self.kl_to_optimum:.4f}, KL(π‖π_ref) = {self.kl_to_reference:.3f}, "
                f"task return {self.task_return:.3f} (β = {self.kl_coef:g})")


def tree_policy(model, tree) -> np.ndarray:
    """The acting policy of a :class:`lmenv.policy.PolicyValueModel` at every state of ``tree``, (S, A).

    Terminal states get the uniform policy (nothing is played there). The greedy-Q readout gives
    the greedy policy (no ε).
    """
    live = np.flatnonzero(~tree.mdp.terminal)
    policy = np.full(tree.reference.shape, 1.0 / tree.reference.shape[1])
    log_probs = model.log_probs_of_prefixes([tree.prefixes[s] for s in live])  # (N, A) over env actions
    env_actions = tree.env_actions[live]
    probs = np.exp(np.take_along_axis(log_probs, env_actions, axis=1))
    policy[live] = probs / probs.sum(axis=1, keepdims=True)
    return policy


def visitation(tree, policy: np.ndarray) -> np.ndarray:
    """d_π(s) = P_π(the episode passes through s), shape (S,); each prefix is visited at most once.

    Top-down over the tree's levels: d(s_0) = 1, d(child(s, a)) = d(s) π(a|s). Then for any
    per-state quantity f, E_π[Σ_t f(s_t)] = Σ_s d_π(s) f(s) over the non-terminal states.
    """
    S, A = tree.reference.shape
    P = tree.mdp.P_flat.tocsr()  # (S·A, S), row s·A + a: one 1 at the successor of (s, a)
    if not np.all(np.diff(P.indptr) == 1):
        raise ValueError("not a tree: every (state, action) must have exactly one successor")
    child = P.indices.reshape(S, A)
    d = np.zeros(S)
    d[0] = 1.0
    live = ~tree.mdp.terminal
    for depth in range(int(tree.depth.max())):
        nodes = np.flatnonzero((tree.depth == depth) & live)
        d[child[nodes]] = d[nodes, None] * policy[nodes]
    return d


def score(policy: np.ndarray, tree, kl_coef: float | None = None, optimum: rlcore.Solution | None = None) -> Score:
    """Exact :class:`Score` of a tabular policy (S, A) on a :class:`lmenv.TokenMDP`.

    Every expectation is a sum over the tree weighted by :func:`visitation`;
    ``tests/lmenv/test_pg_rollout.py`` checks J_β against ``tree.kl_regularised_value`` (rlcore's
    policy evaluation) and the two KL(π ‖ π*) against each other.

    Args:
        policy: π(a|s), shape (S, A).
        tree: the prefix tree (``lmenv.to_mdp(env)``).
        kl_coef: β of the objective; default the environment's ``kl_coef`` (``tree.kl_coef``).
        optimum: ``tree.kl_regularised_optimum(kl_coef)`` if already computed (it takes ~0.1 s).
    """
    kl_coef = tree.kl_coef if kl_coef is None else float(kl_coef)
    policy = rlcore.exact.check_policy(policy, *tree.reference.shape)
    live = ~tree.mdp.terminal
    d = np.where(live, visitation(tree, policy), 0.0)
    task_return = _expect(d, (policy * tree.task_mdp.R).sum(axis=1))
    kl_ref = _expect(d, _kl(policy, tree.reference))
    objective = task_return - kl_coef * kl_ref
    if kl_coef > 0:
        optimum = tree.kl_regularised_optimum(kl_coef) if optimum is None else optimum
        best = float(optimum.V[0])
        kl_star = _expect(d, _kl(policy, np.where(live[:, None], optimum.policy, 1.0)))
        kl_gap = (best - objective) / kl_coef
    else:
        best = float(rlcore.value_iteration(tree.task_mdp).V[0])
        kl_star = kl_gap = float("nan")
    return Score(kl_coef, objective, best, objective / best, kl_star, kl_gap, kl_ref, task_return)


def score_model(model, tree, kl_coef: float | None = None, optimum: rlcore.Solution | None = None) -> Score:
    """:func:`score` of the acting policy of a :class:`lmenv.policy.PolicyValueModel` (:func:`tree_policy`)."""
    return score(tree_policy(model, tree), tree, kl_coef, optimum)


def _expect(d: np.ndarray, f: np.ndarray) -> float:
    """Σ_s d(s) f(s) over the states π visits (f may be inf where d = 0)."""
    return float(np.sum(np.where(d > 0, d * f, 0.0)))


def _kl(policy: np.ndarray, other: np.ndarray) -> np.ndarray:
    """KL(π(·|s) ‖ other(·|s)) per state, shape (S,) (inf where π puts mass where other has none)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(policy > 0, policy * (np.log(policy) - np.log(other)), 0.0)
    return terms.sum(axis=1)
