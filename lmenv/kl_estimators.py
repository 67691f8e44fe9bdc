"""KL estimators k1, k2, k3, exactly: their values and the gradients they give, on the enumerated tree.

RLHF learners penalise the KL divergence of the policy π_θ from the reference π_ref, estimated
from the sampled tokens. With a ~ π(·|s) and log r = log π(a|s) − log π_ref(a|s) (Schulman 2020,
"Approximating KL divergence"):

    k1 = log r                      unbiased for KL(π ‖ π_ref), high variance, negative half the time
    k2 = ½ (log r)²                 biased (KL to second order), low variance
    k3 = e^{−log r} − 1 + log r     (ρ − 1) − log ρ with ρ = π_ref/π: unbiased, never negative

Summed over the tokens of a sequence each estimates the sequence-level KL(π ‖ π_ref) =
E_π[Σ_t KL(π(·|s_t) ‖ π_ref(·|s_t))]. What the *learner* gets from an estimator depends on where
it is put (:mod:`lmenv.learners.grpo`):

- **in the reward** (score function, the estimate held fixed): the expected gradient is
  ∇_θ E_{y~π_θ}[Σ_t k̄_t], the bar meaning "not differentiated". For k1 this is exactly ∇KL
  (because E_π[∇ log π] = 0); for k2 and k3 it is not;
- **in the loss** (pathwise, the sampled tokens held fixed): the expected gradient is
  E_π[Σ_t ∇_θ k_t]. For k1 it is 0; for k2 it is Σ_s d(s) ∇KL(π(·|s) ‖ π_ref(·|s)); for k3 it is
  Σ_s d(s) ∇KL(π_ref(·|s) ‖ π(·|s)) — per-state gradients that ignore how the policy moves the
  states it visits (d held fixed).

On a tree all of these are sums over the prefixes weighted by the exact visitation d(s) =
P_π(s), differentiable in θ: :func:`tree_log_policy` computes the network's log π at every
prefix with gradients, :func:`log_visitation` the log d(s) along the paths, and autograd gives
the exact ∇KL and each estimator's expected gradient (:func:`estimator_report`). The variance
of a one-sequence estimate, of the value and of its gradient with respect to the per-state
logits, is also exact (second moments by backward recursion over the tree).

The fixed points. A policy-gradient learner with the KL in the *loss* stops where the reward's
gradient balances the KL term's per state; with the task-only action values Q_R^π of the policy
itself (the future KL does not enter them):

    k2 in the loss:  π(a|s) ∝ π_ref(a|s) exp(Q_R^π(s, a)/β)
    k3 in the loss:  π(a|s) = β π_ref(a|s) / (λ(s) − Q_R^π(s, a)),   λ(s) > max_a Q_R^π(s, a) normalising

both computed exactly by backward induction (:func:`loss_fixed_point`); neither is π*_β, whose
soft values carry the future KL. :func:`expected_update` gives the exact expected update
direction (per-state logits) of each placement and estimator, zero at its fixed point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from rlcore import _checks
from lmenv import _tree


# ---------------------------------------------------------------------- the estimators
def _exp(x):
    return torch.exp(x) if isinstance(x, torch.Tensor) else np.exp(x)


def k1(log_ratio):
    """k1 = log r, r = π(a|s)/π_ref(a|s) at a ~ π: unbiased for KL(π ‖ π_ref)."""
    return log_ratio


def k2(log_ratio):
    """k2 = ½ (log r)²: biased (its mean is KL to second order in log r), low variance, ≥ 0."""
    return 0.5 * log_ratio**2


def k3(log_ratio):
    """k3 = (ρ − 1) − log ρ with ρ = π_ref/π = e^{−log r}: unbiased for KL(π ‖ π_ref), ≥ 0."""
    return _exp(-log_ratio) - 1.0 + log_ratio


def _k1_slope(log_ratio):
    return np.ones_like(log_ratio)


def _k2_slope(log_ratio):
    return log_ratio


def _k3_slope(log_ratio):
    return 1.0 - np.exp(-log_ratio)


ESTIMATORS = {"k1": k1, "k2": k2, "k3": k3}
# ∂k/∂ log π(a|s): the weight of ∇ log π(a|s) in the pathwise gradient of each estimator
SLOPES = {"k1": _k1_slope, "k2": _k2_slope, "k3": _k3_slope}


def _estimator(name: str):
    if name not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {tuple(ESTIMATORS)}; got {name!r}")
    return ESTIMATORS[name]


def _log_ratio(tree, policy: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        log_ratio = np.log(policy) - np.log(tree.reference)
    return np.where(policy > 0, log_ratio, 0.0)


# ---------------------------------------------------------------------- exact moments of the value (numpy)
def estimator_moments(tree, policy: np.ndarray, estimator: str) -> tuple[float, float]:
    """(E_π[Σ_t k_t], Var_π[Σ_t k_t]) of one sequence's estimate, exactly, from the root.

    Backward recursion over the tree: the first and second moments of the estimate still to
    come, m(s) = Σ_a π(a|s)[k(s, a) + m(s a)] and M(s) = Σ_a π(a|s)[k² + 2 k m(s a) + M(s a)].
    """
    k = np.where(_tree.terminal(tree)[:, None], 0.0, _estimator(estimator)(_log_ratio(tree, policy)))
    child = _tree.children(tree)
    m = np.zeros(len(child))
    M = np.zeros(len(child))
    for nodes in reversed(_tree.levels(tree)):
        kn, mc, Mc = k[nodes], m[child[nodes]], M[child[nodes]]
        m[nodes] = (policy[nodes] * (kn + mc)).sum(axis=1)
        M[nodes] = (policy[nodes] * (kn**2 + 2 * kn * mc + Mc)).sum(axis=1)
    return float(m[0]), float(M[0] - m[0] ** 2)


def sequence_kl(tree, policy: np.ndarray) -> float:
    """KL(π ‖ π_ref) = E_π[Σ_t KL(π(·|s_t) ‖ π_ref(·|s_t))], exactly (nats)."""
    d = np.where(_tree.terminal(tree), 0.0, _tree.visitation(tree, policy))
    per_state = (policy * _log_ratio(tree, policy)).sum(axis=1)
    return float((d * per_state).sum())


# ---------------------------------------------------------------------- the exact expected update (per-state logits)
def expected_update(tree, policy: np.ndarray, kl_coef: float, placement: str = "reward", estimator: str = "k1",
                    rewards: np.ndarray | None = None) -> np.ndarray:
    """The exact expected update direction of an unbiased policy-gradient learner, per state's logits; (S, A).

    The ascent direction E[Â ∇ log π] (minus the KL loss term's gradient) with respect to the
    logits z(s, ·) of a tabular softmax policy, with an unbiased baseline (RLOO; REINFORCE):

    - ``"reward"``: d(s) π(·|s) ⊙ (Q_c(s, ·) − V_c(s)), Q_c the action values of π for the
      per-token reward c = r − β k (k evaluated at π, not differentiated);
    - ``"loss"``: d(s) [π(·|s) ⊙ (Q_R(s, ·) − V_R(s)) − β Σ_a π(a|s) k'(s, a)(e_a − π(·|s))],
      k' = ∂k/∂log π(a|s) (1 for k1, log r for k2, 1 − π_ref/π for k3).

    ``"reward"`` with ``"k1"`` is the exact gradient of J_β with respect to the logits; every
    direction is zero at the learner's fixed point.

    Args:
        policy: π, shape (S, A), positive where π_ref is.
        kl_coef: β ≥ 0.
        rewards: r(s, a), default the task rewards.
    """
    if placement not in ("reward", "loss"):
        raise ValueError(f"placement must be 'reward' or 'loss'; got {placement!r}")
    kl_coef = _checks.number(kl_coef, "kl_coef", 0.0, None, meaning="the KL weight β")
    k = _estimator(estimator)
    rewards = _tree.task_rewards(tree) if rewards is None else rewards
    log_ratio = _log_ratio(tree, policy)
    live = ~_tree.terminal(tree)
    d = np.where(live, _tree.visitation(tree, policy), 0.0)[:, None]
    if placement == "reward":
        _, Q = _tree.evaluate(tree, policy, rewards - kl_coef * k(log_ratio))
        kl_term = 0.0
    else:
        _, Q = _tree.evaluate(tree, policy, rewards)
        weights = policy * SLOPES[estimator](log_ratio)  # π_a k'_a
        kl_term = weights - policy * weights.sum(axis=1, keepdims=True)  # Σ_a π_a k'_a (e_a − π)
    V = (policy * Q).sum(axis=1, keepdims=True)
    return np.where(live[:, None], d * (policy * (Q - V) - kl_coef * kl_term), 0.0)


# ---------------------------------------------------------------------- the fixed points of KL in the loss
def loss_fixed_point(tree, kl_coef: float, estimator: str, rewards: np.ndarray | None = None,
                     tol: float = 1e-13) -> np.ndarray | None:
    """The policy where a policy gradient with the KL estimator in the *loss* stops, exactly; (S, A).

    Per state, with Q_R the task-only action values of the policy itself (backward induction):

    - ``"k2"``: π(a|s) ∝ π_ref(a|s) exp(Q_R(s, a)/β);
    - ``"k3"``: π(a|s) = β π_ref(a|s)/(λ(s) − Q_R(s, a)), λ(s) ∈ (max_a Q_R, max_a Q_R + β]
      found by bisection so that Σ_a π(a|s) = 1;
    - ``"k1"``: None — its expected gradient is zero, so it does not regularise: the learner
      follows the task reward alone (β = 0), whose maximisers are not unique.

    Args:
        kl_coef: β > 0.
        rewards: r(s, a), default the task rewards.
        tol: the bisection's tolerance on λ.
    """
    import rlcore

    kl_coef = _checks.number(kl_coef, "kl_coef", 0.0, None, low_open=True, meaning="the KL weight β")
    _estimator(estimator)
    rewards = _tree.task_rewards(tree) if rewards is None else rewards
    if estimator == "k1":
        return None
    if estimator == "k2":
        return _tree.backward_induction(tree, rewards, lambda q, ref: rlcore.softmax_policy(q, kl_coef, ref))[2]

    def reverse_kl(q, ref):
        top = np.where(ref > 0, q, -np.inf).max(axis=1)
        low, high = top, top + kl_coef  # at λ = max Q + β every π(a) ≤ π_ref(a): the sum is ≤ 1
        while np.max(high - low) > tol * max(1.0, float(np.max(np.abs(high)))):
            mid = 0.5 * (low + high)
            with np.errstate(divide="ignore"):
                total = (kl_coef * ref / (mid[:, None] - q)).sum(axis=1)
            too_much = total > 1.0
            low, high = np.where(too_much, mid, low), np.where(too_much, high, mid)
        pi = kl_coef * ref / (high[:, None] - q)
        return pi / pi.sum(axis=1, keepdims=True)

    return _tree.backward_induction(tree, rewards, reverse_kl)[2]


# ---------------------------------------------------------------------- exact gradients through the tree (torch)
def tree_log_policy(model, tree) -> torch.Tensor:
    """log π_θ(·|s) of a :class:`lmenv.policy.PolicyValueModel` at every state of ``tree``, with gradients; (S, A).

    The prefixes of each depth run in one pass on top of the prompt's key/value cache (computed
    with gradients). Terminal rows hold log(1/A) (no action is taken there). The model's action
    set must be the tree's (a fixed set of tokens, or the whole vocabulary).
    """
    S, A = tree.reference.shape
    rows = torch.full((S, A), -float(np.log(A)), dtype=torch.float64, device=model.device)
    prompt = model.prompt_state()  # heads at s_0 and the prompt's cache, with gradients
    pieces, index = [], []
    for depth, nodes in enumerate(_tree.levels(tree)):
        if depth == 0:
            logits = prompt.logits[:, -1]  # (1, A)
        else:
            ids = torch.tensor([tree.prefixes[s] for s in nodes], device=model.device)  # (n, depth)
            n = len(nodes)
            cache = [(k.expand(n, -1, -1, -1), v.expand(n, -1, -1, -1)) for k, v in prompt.cache]
            logits = model(ids, cache=cache).logits[:, -1]  # (n, A)
        pieces.append(torch.log_softmax(logits.double(), dim=-1))
        index.append(torch.as_tensor(nodes, device=model.device))
    return rows.index_put((torch.cat(index),), torch.cat(pieces))


def log_visitation(tree, log_policy: torch.Tensor) -> torch.Tensor:
    """log d_π(s) = Σ_t log π(a_t|s_t) along the path to s, differentiable; (S,)."""
    parent, action = _tree.parents(tree)
    S = len(parent)
    log_d = torch.zeros(S, dtype=log_policy.dtype, device=log_policy.device)
    child = _tree.children(tree)
    for nodes in _tree.levels(tree):
        kids = torch.as_tensor(child[nodes].ravel(), device=log_policy.device)
        values = (log_d[torch.as_tensor(nodes, device=log_policy.device)][:, None]
                  + log_policy[torch.as_tensor(nodes, device=log_policy.device)]).ravel()
        log_d = log_d.index_put((kids,), values)
    return log_d


def _live(tree, device):
    return torch.as_tensor(np.flatnonzero(~_tree.terminal(tree)), device=device)


def _ref_log(tree, device):
    with np.errstate(divide="ignore"):
        return torch.as_tensor(np.log(tree.reference), dtype=torch.float64, device=device)


def exact_kl(tree, log_policy: torch.Tensor) -> torch.Tensor:
    """KL(π ‖ π_ref) = Σ_s d(s) Σ_a π(a|s) (log π − log π_ref)(a|s), differentiable in θ (through π and d)."""
    live = _live(tree, log_policy.device)
    lp = log_policy[live]
    d = log_visitation(tree, log_policy)[live].exp()
    return (d[:, None] * lp.exp() * (lp - _ref_log(tree, log_policy.device)[live])).sum()


def expected_estimator_gradient_objective(tree, log_policy: torch.Tensor, estimator: str, placement: str
                                          ) -> torch.Tensor:
    """A scalar whose gradient in θ is the expected gradient a learner gets from ``estimator`` at ``placement``.

    ``"reward"``: Σ_s d_θ(s) Σ_a π_θ(a|s) k̄(s, a) (the estimate held fixed: the score-function
    gradient ∇_θ E_{y~π_θ}[Σ_t k̄_t]); ``"loss"``: Σ_s d̄(s) Σ_a π̄(a|s) k_θ(s, a) (the sampling held
    fixed: E[Σ_t ∇_θ k_t]).
    """
    k = _estimator(estimator)
    live = _live(tree, log_policy.device)
    lp = log_policy[live]
    log_d = log_visitation(tree, log_policy)[live]
    values = k(lp - _ref_log(tree, log_policy.device)[live])
    if placement == "reward":
        return (log_d.exp()[:, None] * lp.exp() * values.detach()).sum()
    if placement == "loss":
        return (log_d.exp().detach()[:, None] * lp.exp().detach() * values).sum()
    raise ValueError(f"placement must be 'reward' or 'loss'; got {placement!r}")


@dataclass(frozen=True)
class EstimatorRow:
    """One estimator at one placement, measured exactly on the tree.

    Attributes:
        estimator, placement: e.g. "k3", "loss".
        expectation: E_π[Σ_t k_t] (the same for both placements).
        bias: expectation − KL(π ‖ π_ref).
        variance: Var_π[Σ_t k_t] of a one-sequence estimate.
        gradient_ratio: ‖E[g]‖ / ‖∇KL‖ in the network's parameters θ (0: no gradient at all).
        gradient_error: ‖E[g] − ∇KL‖ / ‖∇KL‖ (0: an unbiased gradient).
        gradient_cosine: cos(E[g], ∇KL) (nan where E[g] is zero to rounding).
        gradient_variance: tr Cov[g] of a one-sequence gradient with respect to the per-state logits.
    """

    estimator: str
    placement: str
    expectation: float
    bias: float
    variance: float
    gradient_ratio: float
    gradient_error: float
    gradient_cosine: float
    gradient_variance: float


@dataclass(frozen=True)
class EstimatorReport:
    """:func:`estimator_report`'s result: the exact KL, its gradient norm, and one row per estimator and placement."""

    kl: float
    gradient_norm: float
    rows: tuple

    def row(self, estimator: str, placement: str) -> EstimatorRow:
        return next(r for r in self.rows if r.estimator == estimator and r.placement == placement)

    def table(self) -> str:
        """A Markdown table of the rows."""
        lines = [f"exact KL(π ‖ π_ref) = {self.kl:.4f} nats; ‖∇_θ KL‖ = {self.gradient_norm:.4g}", "",
                 "| estimator | placement | E[Σ k] | bias | Var[Σ k] | ‖E g‖/‖∇KL‖ | ‖E g − ∇KL‖/‖∇KL‖ | cos(E g, ∇KL) "
                 "| tr Cov g (logits) |",
                 "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for r in self.rows:
            lines.append(f"| {r.estimator} | {r.placement} | {r.expectation:.4f} | {r.bias:+.4f} | {r.variance:.4g} | "
                         f"{r.gradient_ratio:.3f} | {r.gradient_error:.3f} | {r.gradient_cosine:.3f} | "
                         f"{r.gradient_variance:.4g} |")
        return "\n".join(lines)


def estimator_report(model, tree, estimators=("k1", "k2", "k3"), parameters=None) -> EstimatorReport:
    """Bias and variance of each KL estimator, of its value and of the gradient it gives, exactly on ``tree``.

    The network's log-policy at every prefix (:func:`tree_log_policy`, one forward pass with
    gradients) is differentiated once per row: first each objective with respect to the (S, A)
    log-policy table (cheap), then one vector–Jacobian product through the network.

    Args:
        model: a :class:`lmenv.policy.PolicyValueModel` (π_θ; at π_θ = π_ref every KL gradient is 0).
        tree: ``lmenv.to_mdp(env)`` of its environment.
        estimators: which of k1, k2, k3.
        parameters: the θ to differentiate (default every parameter of the model; e.g.
            ``model.body.lm_head.parameters()`` for a quicker report on the last layer).
    """
    params = [p for p in (model.parameters() if parameters is None else parameters) if p.requires_grad]
    log_policy = tree_log_policy(model, tree)
    table = log_policy.detach().requires_grad_(True)  # the same values, a leaf: objectives differentiate to (S, A)
    policy = table.detach().exp().cpu().numpy()
    policy[_tree.terminal(tree)] = tree.reference[_tree.terminal(tree)]

    def gradient(objective_of_table):
        upstream = torch.autograd.grad(objective_of_table, table)[0]  # (S, A)
        grads = torch.autograd.grad(log_policy, params, grad_outputs=upstream, retain_graph=True, allow_unused=True)
        return torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1).double()
                          for g, p in zip(grads, params)])

    kl = exact_kl(tree, table)
    true_gradient = gradient(kl)
    norm = float(true_gradient.norm())
    rows = []
    for name in estimators:
        mean, variance = estimator_moments(tree, policy, name)
        for placement in ("reward", "loss"):
            g = gradient(expected_estimator_gradient_objective(tree, table, name, placement))
            ratio = float(g.norm()) / norm if norm > 0 else float("nan")
            error = float((g - true_gradient).norm()) / norm if norm > 0 else float("nan")
            cosine = float(g @ true_gradient) / (float(g.norm()) * norm) if ratio > 1e-6 else float("nan")
            rows.append(EstimatorRow(name, placement, mean, mean - float(kl.detach()), variance, ratio, error, cosine,
                                     logit_gradient_variance(tree, policy, name, placement)))
    return EstimatorReport(float(kl.detach()), norm, tuple(rows))


def logit_gradient_variance(tree, policy: np.ndarray, estimator: str, placement: str) -> float:
    """tr Cov[g] of a one-sequence gradient estimate with respect to the per-state logits z(s, ·), exactly.

    ``"loss"``: g(y) = Σ_t k'(s_t, a_t)(e_{a_t} − π(·|s_t)) in the block of s_t.
    ``"reward"``: g(y) = K(y) Σ_t (e_{a_t} − π(·|s_t)) in the blocks of the s_t, K(y) = Σ_t k_t.
    The blocks of one path are distinct states, so ‖g(y)‖² is a sum over its steps; E‖g‖² is a
    sum over the tree (loss) or over its leaves (reward); tr Cov = E‖g‖² − ‖E g‖².
    """
    k = _estimator(estimator)
    log_ratio = _log_ratio(tree, policy)
    live = ~_tree.terminal(tree)
    d = np.where(live, _tree.visitation(tree, policy), 0.0)
    norm_sq = 1.0 - 2.0 * policy + (policy**2).sum(axis=1, keepdims=True)  # ‖e_a − π‖²
    if placement == "loss":
        slope = SLOPES[estimator](log_ratio)
        second = (d[:, None] * policy * slope**2 * norm_sq).sum()
        weights = policy * slope
        mean = d[:, None] * (weights - policy * weights.sum(axis=1, keepdims=True))
        return float(second - (mean**2).sum())
    values = np.where(live[:, None], k(log_ratio), 0.0)
    leaves = _tree.leaves(tree)
    K = _tree.path_sums(tree, values)[leaves]
    N = _tree.path_sums(tree, np.where(live[:, None], norm_sq, 0.0))[leaves]
    second = float(_tree.visitation(tree, policy)[leaves] @ (K**2 * N))
    _, W = _tree.evaluate(tree, policy, values)  # W(s, a) = k(s, a) + E[Σ future k | s, a]
    mean = d[:, None] * policy * (W - (policy * W).sum(axis=1, keepdims=True))
    return float(second - (mean**2).sum())
