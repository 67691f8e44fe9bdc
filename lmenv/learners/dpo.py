"""DPO and IPO on the transformer: the policy trained directly on preference pairs, scored exactly.

Direct preference optimisation (Rafailov et al. 2023) skips the reward model: the KL-regularised
optimum π*(y) ∝ π_ref(y) exp(r(y)/β) inverts to r(y) = β log(π*(y)/π_ref(y)) + β log Z, and
putting that into the Bradley–Terry likelihood of the pairs gives a loss on the policy alone:

    h_θ(y_w, y_l) = β [log π_θ(y_w)/π_ref(y_w) − log π_θ(y_l)/π_ref(y_l)]
    DPO:  loss = −mean log σ(h_θ)
    IPO:  loss = mean (h_θ/β − 1/(2β))²             (Azar et al. 2023, with τ = β)

with log π(y) = Σ_t log π(a_t|s_t) summed over the sequence (one pass of
:meth:`lmenv.policy.PolicyValueModel.evaluate` for a batch of pairs; log π_ref from the
environment's prefix cache, once). β is ``kl_coef``.

What it converges to. With labels from :class:`lmenv.preferences.BradleyTerry` at noise τ on the
true return R, the population DPO loss is minimised where β log(π/π_ref)(y) = R(y)/τ + const,
i.e. at π*_{βτ}, the KL-regularised optimum of the true reward with weight β·τ. So DPO with
``kl_coef = β_env / τ`` is scored against the environment's J_β (the training's tree score).
Its *implicit reward* r̂_θ(y) = βτ log(π_θ(y)/π_ref(y)) (in the true reward's units) should
match R(y) up to a constant per prompt (that constant is −V*(s_0) at the optimum), and per
token βτ log(π_θ/π_ref)(a|s) should match the soft advantage Q*(s, a) − V*(s) ("From r to Q*",
Rafailov et al. 2024): :func:`implicit_reward_report` measures both exactly on the tree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from rlcore import _checks
from lmenv import _tree
from lmenv.learners.common import Run, Settings, TrainResult, adam, seeded_generator
from lmenv.model import gradient_step
from lmenv.policy import PolicyValueModel
from lmenv.preferences import PreferencePairs

LOSSES = ("dpo", "ipo")


@dataclass
class Config(Settings):
    """DPO / IPO settings (the common ones are in :class:`lmenv.learners.common.Settings`)."""

    iterations: int = 150
    """Adam steps (each on batch_size pairs; the pairs are reshuffled after every pass)"""
    batch_size: int = 64
    """pairs per step (2 × batch_size sequences per forward pass)"""
    learning_rate: float = 1e-4
    """Adam step size for the whole network"""
    kl_coef: float = 0.4
    """β of DPO (the weight of the implicit KL term); with labels at noise τ it targets π*_{β·τ}"""
    loss: str = "dpo"
    """"dpo" (logistic) or "ipo" (squared)"""


def sequence_log_probs(model: PolicyValueModel, actions: torch.Tensor, tokens: torch.Tensor, alive: torch.Tensor
                       ) -> torch.Tensor:
    """log π_θ(y) = Σ_t log π_θ(a_t|s_t) of B sequences (padded to H, ``alive`` marking their steps); (B,), with gradients."""
    out = model.evaluate(tokens)
    log_pi = F.log_softmax(out.logits, dim=-1).gather(-1, actions[..., None]).squeeze(-1)  # (B, H)
    return torch.where(alive, log_pi, 0.0).sum(dim=1)


def encode_sequences(env, sequences) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(actions, tokens, alive, log π_ref(y)) of sequences of generated token ids, padded to the horizon H.

    Raises:
        ValueError: naming a sequence that is longer than H or has a token outside the action set.
    """
    env = env.unwrapped
    H, device = env.max_new_tokens, env.reference.device
    index = None if env.action_tokens is None else {int(t): a for a, t in enumerate(env.action_tokens)}
    B = len(sequences)
    actions = torch.zeros(B, H, dtype=torch.long)
    alive = torch.zeros(B, H, dtype=torch.bool)
    prefixes, rows, steps = [], [], []
    for b, y in enumerate(sequences):
        if len(y) > H:
            raise ValueError(f"sequence {b} has {len(y)} tokens; the environment's horizon is {H}")
        for t, token in enumerate(y):
            if index is not None and token not in index:
                raise ValueError(f"sequence {b} has token {token} ({env.tokenizer.decode([token])!r}), which is not "
                                 f"one of the environment's actions")
            actions[b, t] = token if index is None else index[token]
            alive[b, t] = True
            prefixes.append(tuple(y[:t]))
            rows.append(b)
            steps.append(t)
    ref = env.reference.log_probs_batch(prefixes)  # (n, A)
    taken = ref[np.arange(len(prefixes)), actions[rows, steps].numpy()]
    ref_log_prob = np.bincount(np.array(rows), weights=taken, minlength=B)
    tokens = actions.clone() if index is None else torch.as_tensor(env.action_tokens)[actions]
    return (actions.to(device), tokens.to(device), alive.to(device),
            torch.as_tensor(ref_log_prob, dtype=torch.float32, device=device))


def preference_loss(h: torch.Tensor, kl_coef: float, loss: str) -> torch.Tensor:
    """DPO: −mean log σ(h); IPO: mean (h/β − 1/(2β))²; h = β (log-ratio of y_w − log-ratio of y_l)."""
    if loss == "dpo":
        return -F.logsigmoid(h).mean()
    if loss == "ipo":
        return ((h / kl_coef - 1.0 / (2.0 * kl_coef)) ** 2).mean()
    raise ValueError(f"loss must be one of {LOSSES}; got {loss!r}")


def train(env, pairs: PreferencePairs, config: Config = Config(), tree=None, kl_coef: float | None = None
          ) -> TrainResult:
    """Train the environment's transformer on preference pairs with DPO or IPO; score it exactly on ``tree``.

    Args:
        env: the :class:`lmenv.TokenEnv` (its prompt must be every pair's prompt).
        pairs: the :class:`lmenv.preferences.PreferencePairs`.
        config: the settings (``config.kl_coef`` is DPO's β).
        tree: ``lmenv.to_mdp(env)`` for exact scores.
        kl_coef: the β of the exact score J_β (default the environment's ``kl_coef``).
    """
    env = env.unwrapped
    if config.loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}; got {config.loss!r}")
    beta = _checks.number(config.kl_coef, "kl_coef", 0.0, None, low_open=True, meaning="DPO's β")
    _checks.whole(config.batch_size, "batch_size", 1)
    pairs.check_prompt(env.prompt, "DPO")
    generator = seeded_generator(config.seed, env.reference.device)
    model = PolicyValueModel(env)
    optimizer = adam(model.parameters(), config)
    score_kl = env.kl_coef if kl_coef is None else _checks.number(kl_coef, "kl_coef", 0.0, None, low_open=True)
    run = Run(config, model, score_kl, tree)
    chosen = encode_sequences(env, pairs.chosen)
    rejected = encode_sequences(env, pairs.rejected)
    N = len(pairs)
    order, cursor = torch.randperm(N, generator=generator, device=generator.device).cpu(), 0

    for iteration in run.iterations():
        run.anneal(optimizer, iteration)
        with run.timed("update"):
            if cursor + config.batch_size > N:  # a new pass over the pairs
                order, cursor = torch.randperm(N, generator=generator, device=generator.device).cpu(), 0
            mb = order[cursor:cursor + config.batch_size].to(model.device)
            cursor += config.batch_size
            b = len(mb)
            both = [torch.cat([c[mb], r[mb]]) for c, r in zip(chosen, rejected)]  # chosen rows first
            log_ratio = sequence_log_probs(model, *both[:3]) - both[3]  # log π_θ(y)/π_ref(y), (2b,)
            chosen_ratio, rejected_ratio = log_ratio[:b], log_ratio[b:]
            h = beta * (chosen_ratio - rejected_ratio)
            loss = preference_loss(h, beta, config.loss)
            gradient_step(optimizer, loss, config.max_grad_norm)
        run.episodes += b
        run.history.log(iteration, {
            f"losses/{config.loss}_loss": loss.item(),
            "charts/margin": h.mean().item(),
            "charts/accuracy": (h > 0).float().mean().item(),
            "charts/chosen_log_ratio": chosen_ratio.mean().item(),
            "charts/rejected_log_ratio": rejected_ratio.mean().item(),
        })
    return run.finish()


# ---------------------------------------------------------------------- the implicit reward, exactly
@dataclass(frozen=True)
class ImplicitRewardReport:
    """The implicit reward of a policy against the true reward and the soft advantage, exactly on a tree.

    All in the true reward's units: r̂(y) = β_eff log(π(y)/π_ref(y)) with β_eff = DPO's β × the
    labeller's τ (the β of the optimum DPO targets).

    Attributes:
        kl_coef: β_eff.
        constant: the best constant c in r̂(y) ≈ R(y) + c under π_ref (at π*_β it is −V*_β(s_0)).
        optimum_constant: −V*_β(s_0) of the true reward at β_eff.
        sequence_rmse_reference: RMS of r̂(y) − R(y) − c over y ~ π_ref (the pairs' distribution).
        sequence_rmse_policy: the same over y ~ π (with the same c).
        sequence_correlation: correlation of r̂ and R over y ~ π_ref.
        token_rmse: RMS of β_eff log(π/π_ref)(a|s) − (Q*(s, a) − V*(s)) over (s, a) visited by π
            (weights d_π(s) π(a|s)): 0 for π = π*_β ("From r to Q*").
        token_correlation: their correlation under the same weights.
    """

    kl_coef: float
    constant: float
    optimum_constant: float
    sequence_rmse_reference: float
    sequence_rmse_policy: float
    sequence_correlation: float
    token_rmse: float
    token_correlation: float

    def __str__(self) -> str:
        return (f"implicit reward (β_eff = {self.kl_coef:g}): r̂ ≈ R + {self.constant:.3f} (the optimum's −V* = "
                f"{self.optimum_constant:.3f}); RMS error {self.sequence_rmse_reference:.3f} under π_ref, "
                f"{self.sequence_rmse_policy:.3f} under π; corr {self.sequence_correlation:.3f}; per token vs "
                f"Q* − V*: RMS {self.token_rmse:.3f}, corr {self.token_correlation:.3f}")


def implicit_reward_report(policy: np.ndarray, tree, kl_coef: float, optimum=None) -> ImplicitRewardReport:
    """Compare the implicit reward of a tabular policy on ``tree`` with the true reward and with Q* − V*.

    Args:
        policy: π, (S, A) (``lmenv.tree_policy(result.model, tree)`` for a trained network).
        tree: the prefix tree of the environment with the true reward.
        kl_coef: β_eff = DPO's β × the labeller's τ.
        optimum: ``tree.kl_regularised_optimum(kl_coef)`` if already computed.
    """
    beta = _checks.number(kl_coef, "kl_coef", 0.0, None, low_open=True, meaning="the KL weight β")
    optimum = _tree.soft_optimum(tree, beta) if optimum is None else optimum
    live = ~_tree.terminal(tree)
    with np.errstate(divide="ignore"):
        log_ratio = np.where(live[:, None], np.log(policy) - np.log(tree.reference), 0.0)
    leaves = _tree.leaves(tree)
    implicit = beta * _tree.path_sums(tree, log_ratio)[leaves]  # r̂(y)
    true = _tree.sequence_returns(tree)[leaves]  # R(y)
    p_ref = _tree.leaf_probabilities(tree, tree.reference)
    p_pi = _tree.leaf_probabilities(tree, policy)
    gap = implicit - true
    c = float(p_ref @ gap)
    rmse = lambda w: float(np.sqrt(w @ (gap - c) ** 2))  # noqa: E731
    d = np.where(live, _tree.visitation(tree, policy), 0.0)
    w = (d[:, None] * policy)[live].ravel()
    token_implicit = (beta * log_ratio)[live].ravel()
    token_true = (optimum.Q - optimum.V[:, None])[live].ravel()
    return ImplicitRewardReport(beta, c, -float(optimum.V[0]), rmse(p_ref), rmse(p_pi),
                                _weighted_correlation(implicit, true, p_ref),
                                float(np.sqrt(w @ (token_implicit - token_true) ** 2) / np.sqrt(w.sum())),
                                _weighted_correlation(token_implicit, token_true, w))


def _weighted_correlation(x, y, w) -> float:
    w = w / w.sum()
    mx, my = w @ x, w @ y
    cov = w @ ((x - mx) * (y - my))
    sx, sy = np.sqrt(w @ (x - mx) ** 2), np.sqrt(w @ (y - my) ** 2)
    return float(cov / (sx * sy)) if sx > 0 and sy > 0 else float("nan")
