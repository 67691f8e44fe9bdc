"""A reward model learned from preference pairs, its exact optimum, over-optimisation, and where a sequence reward lands.

The reward model (Christiano et al. 2017; Stiennon et al. 2020; Ouyang et al. 2022) is the
transformer body — a trainable copy of the environment's GPT, as the RM of InstructGPT starts
from the policy's model — with a scalar head on the final hidden features at the last token of
prompt + continuation:

    r_φ(x, y) = w · h_φ(x y)_{last} + b

trained on pairs (y_w ≻ y_l | x) by maximum likelihood under Bradley–Terry:

    loss(φ) = −mean_i log σ(r_φ(x_i, y_w,i) − r_φ(x_i, y_l,i)).

With labels from :class:`lmenv.preferences.BradleyTerry` at noise τ the population optimum is
r_φ = R/τ + c(x), the true return on the labeller's scale plus a constant per prompt.

Exact, on the tree. :class:`SequenceReward` turns any score of whole sequences into a reward
of the token MDP, paid once per episode; :func:`lmenv.preferences.with_reward` puts it into a
:class:`lmenv.TokenEnv` that shares the reference's prefix cache, so ``lmenv.to_mdp`` of that
environment gives the exact KL-regularised optimum of the *learned* reward, π*_β(r_φ). Scored
under the true reward (:func:`lmenv.score` on the true tree) it says exactly what optimising the
learned reward buys; swept over β (:func:`overoptimisation_curve`) it is the over-optimisation
picture of Gao, Schulman & Hilton (2022) without sampling noise: the true return of π*_β(r_φ)
against its KL to π_ref, beside the frontier π*_β(R) of the true reward.

Placement. A sequence reward belongs on the transition that ends the episode (the last real
token). :class:`SequenceReward` also implements two common mistakes, so their effect can be
computed exactly: ``"padding"`` (the scorer reads the sequence padded to the horizon with the
padding token, as a reward model that takes its score at the last column of a padded batch) and
``"masked"`` (the score is written into the last column of the padded (B, H) reward tensor, so a
sequence that stopped earlier has it on a padding position, which the mask then zeroes).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from rlcore import _checks
from lmenv import _tree
from lmenv.model import gradient_step, select_cache
from lmenv.preferences import PreferencePairs, Tokens
from lmenv.rewards import Reward

PLACEMENTS = ("last_token", "padding", "masked")


# ---------------------------------------------------------------------- the model
class RewardModel(nn.Module):
    """r_φ(x, y): a trainable copy of the environment's GPT with a scalar head at the last token.

    Args:
        env: a :class:`lmenv.TokenEnv`; its model is copied (the environment's stays frozen) and
            its tokenizer encodes the prompts.
    """

    def __init__(self, env):
        super().__init__()
        env = env.unwrapped
        self.tokenizer = env.tokenizer
        self.body = copy.deepcopy(env.reference.model)
        self.body.train(False)  # dropout is 0 in the shipped model; eval mode keeps it off regardless
        self.head = nn.Linear(self.body.config.n_embd, 1)
        nn.init.zeros_(self.head.weight)  # r_φ = 0 before training
        nn.init.zeros_(self.head.bias)
        self.to(env.reference.device)
        self._prompt_ids: dict[str, list[int]] = {}

    @property
    def device(self) -> torch.device:
        return self.head.weight.device

    def prompt_ids(self, prompt: str) -> list[int]:
        if prompt not in self._prompt_ids:
            self._prompt_ids[prompt] = list(self.tokenizer.encode(prompt))
        return self._prompt_ids[prompt]

    def forward(self, prompt: str, sequences: Sequence[Tokens]) -> torch.Tensor:
        """r_φ(prompt, y) for N continuations of one prompt, shape (N,), with gradients.

        The prompt runs once (batch 1) and its key/value cache is broadcast to N rows; the
        continuations, padded on the right to the longest, run in one pass on top of it, and the
        head reads the hidden features at each one's last real token (causal attention: the
        padding after it changes nothing there).
        """
        lengths = torch.tensor([len(y) for y in sequences], device=self.device)
        if (lengths < 1).any():
            raise ValueError("a continuation to score is empty")
        N, L = len(sequences), int(lengths.max())
        ids = torch.zeros(N, L, dtype=torch.long, device=self.device)
        for i, y in enumerate(sequences):
            ids[i, :len(y)] = torch.as_tensor(y, device=self.device)
        prompt = torch.tensor([self.prompt_ids(prompt)], device=self.device)
        _, cache = self.body(prompt)  # (1, P, V), the prompt's keys/values
        cache = [(k.expand(N, -1, -1, -1), v.expand(N, -1, -1, -1)) for k, v in cache]  # (N, nh, P, hs)
        _, _, hidden = self.body(ids, cache=cache, return_hidden=True)  # (N, L, C)
        last = hidden[torch.arange(N, device=self.device), lengths - 1]  # (N, C)
        return self.head(last).squeeze(-1)  # (N,)

    @torch.no_grad()
    def score(self, prompt: str, sequences: Sequence[Tokens], batch_size: int = 1024) -> np.ndarray:
        """r_φ(prompt, y) as float64 numbers, shape (N,), without gradients.

        The same numbers as :meth:`forward`, computed the way a tree is: continuations of one
        length that share all but their last token (the 8 children of a prefix, say) share the
        keys/values of that prefix, computed once (``batch_size`` prefixes per pass); then one
        one-token pass per last token on those caches as they are. Scoring the 32,768 leaves of a
        tree of horizon 5 costs about 1.5 tokens per leaf instead of 5.
        """
        out = np.zeros(len(sequences))
        _, prompt_cache = self.body(torch.tensor([self.prompt_ids(prompt)], device=self.device))
        by_length: dict[int, list[int]] = {}
        for i, y in enumerate(sequences):
            if len(y) < 1:
                raise ValueError("a continuation to score is empty")
            by_length.setdefault(len(y), []).append(i)
        for length, rows in by_length.items():
            heads: dict[tuple, dict[int, list[int]]] = {}  # prefix y[:-1] -> last token -> rows
            for i in rows:
                y = sequences[i]
                heads.setdefault(tuple(y[:-1]), {}).setdefault(int(y[-1]), []).append(i)
            prefixes = list(heads)
            for start in range(0, len(prefixes), batch_size):
                chunk = prefixes[start:start + batch_size]
                U = len(chunk)
                cache = [(k.expand(U, -1, -1, -1), v.expand(U, -1, -1, -1)) for k, v in prompt_cache]  # (U, nh, P, hs)
                if length > 1:
                    _, cache = self.body(torch.tensor(chunk, device=self.device), cache=cache)  # (U, nh, P+L-1, hs)
                for token in sorted({t for p in chunk for t in heads[p]}):  # one pass per last token, on the
                    owners = [u for u, p in enumerate(chunk) if token in heads[p]]  # prefixes' caches as they are
                    rows_cache = cache if len(owners) == U else select_cache(
                        cache, torch.tensor(owners, device=self.device))
                    last = torch.full((len(owners), 1), token, dtype=torch.long, device=self.device)
                    _, _, hidden = self.body(last, cache=rows_cache, return_hidden=True)  # (n, 1, C)
                    values = self.head(hidden[:, 0]).squeeze(-1).double().cpu().numpy()
                    for u, value in zip(owners, values):
                        out[heads[chunk[u]][token]] = value
        return out

    def pair_scores(self, pairs: PreferencePairs) -> tuple[torch.Tensor, torch.Tensor]:
        """(r_φ(x, y_w), r_φ(x, y_l)) of every pair, with gradients, shape (N,) each; pairs of several prompts allowed."""
        chosen = torch.zeros(len(pairs), device=self.device)
        rejected = torch.zeros(len(pairs), device=self.device)
        for prompt in dict.fromkeys(pairs.prompts):
            rows = [i for i, p in enumerate(pairs.prompts) if p == prompt]
            both = self(prompt, [pairs.chosen[i] for i in rows] + [pairs.rejected[i] for i in rows])  # (2n,)
            index = torch.tensor(rows, device=self.device)
            chosen = chosen.index_put((index,), both[:len(rows)])
            rejected = rejected.index_put((index,), both[len(rows):])
        return chosen, rejected


def bradley_terry_loss(chosen: torch.Tensor, rejected: torch.Tensor) -> torch.Tensor:
    """−mean log σ(r_w − r_l), the negative log-likelihood of the labels under Bradley–Terry."""
    return F.softplus(-(chosen - rejected)).mean()


@torch.no_grad()
def pairwise_accuracy(model: RewardModel, pairs: PreferencePairs) -> float:
    """The fraction of pairs where r_φ(y_w) > r_φ(y_l) (a tie counts one half)."""
    chosen, rejected = model.pair_scores(pairs)
    return float(((chosen > rejected).float() + 0.5 * (chosen == rejected).float()).mean())


# ---------------------------------------------------------------------- training
@dataclass
class Config:
    """Reward-model training settings."""

    seed: int = 0
    """seeds the order of the pairs (the head starts at zero)"""
    epochs: int = 3
    """passes over the training pairs"""
    batch_size: int = 64
    """pairs per Adam step (2 × batch_size sequences per forward pass)"""
    learning_rate: float = 3e-4
    """Adam step size for the body and the head"""
    max_grad_norm: float = 1.0
    """clip the global gradient norm to this"""
    progress: bool = True
    """show a tqdm progress bar with the latest loss"""


@dataclass
class RewardModelResult:
    """What :func:`train` returns.

    Attributes:
        model: the trained :class:`RewardModel`.
        history: metric name -> (epochs, values): ``losses/bt_loss`` (mean over the epoch),
            ``charts/accuracy`` (training pairs), ``eval/heldout_accuracy`` (with held-out pairs).
        accuracy: pairwise accuracy on the training pairs at the end.
        heldout_accuracy: on the held-out pairs (None without).
        ceiling: the labeller's ceiling on the held-out pairs, mean max(p, 1 − p) (None without
            held-out pairs or without the labeller's probabilities).
        wall_time: seconds of training.
    """

    model: RewardModel
    history: dict
    accuracy: float
    heldout_accuracy: float | None
    ceiling: float | None
    wall_time: float


def train(env, pairs: PreferencePairs, config: Config = Config(), heldout: PreferencePairs | None = None
          ) -> RewardModelResult:
    """Fit a :class:`RewardModel` to ``pairs`` by the Bradley–Terry loss (Adam, minibatches of pairs).

    Args:
        env: the environment whose model the reward model copies.
        pairs: the training pairs (any prompts the tokenizer encodes).
        config: the settings.
        heldout: pairs to measure the accuracy on after every epoch.
    """
    from tqdm.auto import trange

    from lmenv.learners.common import MetricLog

    env = env.unwrapped
    _checks.whole(config.epochs, "epochs", 1)
    _checks.whole(config.batch_size, "batch_size", 1)
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    model = RewardModel(env)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    log = MetricLog()
    start = time.perf_counter()
    bar = trange(1, config.epochs + 1, disable=not config.progress, desc="reward model")
    for epoch in bar:
        order = torch.randperm(len(pairs), generator=generator).numpy()
        losses = []
        for first in range(0, len(pairs), config.batch_size):
            batch = pairs.subset(order[first:first + config.batch_size])
            loss = bradley_terry_loss(*model.pair_scores(batch))
            gradient_step(optimizer, loss, config.max_grad_norm)
            losses.append(loss.item())
        metrics = {"losses/bt_loss": float(np.mean(losses)), "charts/accuracy": pairwise_accuracy(model, pairs)}
        if heldout is not None:
            metrics["eval/heldout_accuracy"] = pairwise_accuracy(model, heldout)
        log.log(epoch, metrics)
        bar.set_postfix(loss=f"{metrics['losses/bt_loss']:.3f}", refresh=False)
    wall = time.perf_counter() - start
    history = log.as_arrays()
    accuracy = float(history["charts/accuracy"][1][-1])
    held = None if heldout is None else float(history["eval/heldout_accuracy"][1][-1])
    ceiling = None if heldout is None or heldout.probability is None else heldout.accuracy_ceiling()
    return RewardModelResult(model, history, accuracy, held, ceiling, wall)


# ---------------------------------------------------------------------- sequence rewards in the token MDP
class SequenceReward(Reward):
    """A score of whole sequences, R(x, y), as a reward of the token MDP, paid once per episode.

    Args:
        score: ``score(prompt, sequences) -> (N,) array`` of whole continuations (token id tuples),
            e.g. ``reward_model.score``.
        horizon: the environment's ``max_new_tokens`` H.
        placement: where the score lands —
            ``"last_token"``: on the transition that ends the episode (the last real token; right);
            ``"padding"``: the scorer reads the continuation padded to H with ``pad_id`` (its score
            taken at the last column of a padded batch), paid on the last real token;
            ``"masked"``: the score written into the last column of the (B, H) reward tensor; a
            sequence that stopped before H has padding there, which the mask zeroes: it gets 0.
        pad_id: the padding token for ``"padding"`` (e.g. the stop token, as with pad = EOS).
        name: for the repr.
    """

    def __init__(self, score: Callable[[str, Sequence[Tokens]], np.ndarray], horizon: int,
                 placement: str = "last_token", pad_id: int | None = None, name: str = "score"):
        if placement not in PLACEMENTS:
            raise ValueError(f"placement must be one of {PLACEMENTS}; got {placement!r}")
        if placement == "padding" and pad_id is None:
            raise ValueError("placement 'padding' needs the padding token pad_id")
        self.score, self.placement, self.pad_id, self.name = score, placement, pad_id, name
        self.horizon = _checks.whole(horizon, "horizon", 1)

    def __call__(self, batch):
        out = np.zeros(len(batch))
        rows = np.flatnonzero(batch.terminal)
        if rows.size == 0:
            return out
        sequences = [tuple(batch.prefixes[i]) + (int(batch.tokens[i]),) for i in rows]
        if self.placement == "masked":  # only a sequence that reaches the last column keeps its score
            keep = np.array([len(y) == self.horizon for y in sequences])
            rows, sequences = rows[keep], [y for y, k in zip(sequences, keep) if k]
        if self.placement == "padding":
            sequences = [y + (self.pad_id,) * (self.horizon - len(y)) for y in sequences]
        if sequences:
            out[rows] = self.score(batch.prompt, sequences)
        return out

    def __repr__(self):
        return f"SequenceReward({self.name}, placement={self.placement!r})"


def learned_reward(model: RewardModel, env, placement: str = "last_token", pad_id: int | None = None
                   ) -> SequenceReward:
    """The reward model's score as a reward of ``env``'s token MDP (see :class:`SequenceReward`).

    ``pad_id`` defaults to the environment's stop token (pad = EOS), else token 0.
    """
    env = env.unwrapped
    if pad_id is None:
        pad_id = env.stop_id if env.stop_id is not None else 0
    return SequenceReward(model.score, env.max_new_tokens, placement, pad_id, name="reward model")


def true_sequence_reward(env, placement: str = "last_token", pad_id: int | None = None) -> SequenceReward:
    """The environment's own return R(y) = Σ_t r_t as one sequence reward, placed as ``placement``.

    With ``"last_token"`` it has the same optimum as the per-token reward (γ = 1: the return of
    every sequence is the same).
    """
    from lmenv.preferences import env_for_prompt, sequence_returns

    env = env.unwrapped
    if pad_id is None:
        pad_id = env.stop_id if env.stop_id is not None else 0

    def score(prompt, sequences):
        return sequence_returns(env_for_prompt(env, prompt), sequences)

    return SequenceReward(score, env.max_new_tokens, placement, pad_id, name="true return")


# ---------------------------------------------------------------------- exact comparisons on the tree
def learned_optimum_score(true_tree, learned_tree, kl_coef: float, learned_kl_coef: float | None = None):
    """The exact :class:`lmenv.Score`, under the *true* objective J_β, of the optimum of the learned reward.

    ``learned_tree`` is ``lmenv.to_mdp`` of the environment paying the learned reward; its optimum
    π*(r_φ) at β' = ``learned_kl_coef`` (default β = ``kl_coef``) is what a perfect learner (PPO,
    GRPO, …) on the learned reward with that KL weight would reach. A reward model fitted to
    Bradley–Terry labels of noise τ learns R/τ, so β' = β/τ is the matched weight; β' = β
    optimises it τ times harder.
    """
    from lmenv.scoring import score

    kl_coef = _checks.number(kl_coef, "kl_coef", 0.0, None, low_open=True, meaning="the KL weight β")
    learned_kl_coef = kl_coef if learned_kl_coef is None else _checks.number(
        learned_kl_coef, "learned_kl_coef", 0.0, None, low_open=True, meaning="the KL weight on the learned reward")
    return score(_tree.soft_optimum(learned_tree, learned_kl_coef).policy, true_tree, kl_coef,
                 _tree.soft_optimum(true_tree, kl_coef))


def fit_to_true_return(true_tree, learned_tree, policy=None) -> tuple[float, float, float]:
    """(slope, intercept, correlation) of r_φ(y) ≈ slope · R(y) + intercept over sequences y ~ π (default π_ref).

    Weighted least squares over the leaves of the two trees, exactly. A reward model that learned
    Bradley–Terry labels of noise τ perfectly has slope 1/τ; a smaller slope is a flatter
    (under-confident) reward, whose optimum at a given β is closer to π_ref.
    """
    if not _tree.same_prefixes(true_tree, learned_tree):
        raise ValueError("the two trees must enumerate the same prefixes (the same environment but its reward)")
    leaves = _tree.leaves(true_tree)
    x = _tree.sequence_returns(true_tree)[leaves]
    y = _tree.sequence_returns(learned_tree)[leaves]
    w = _tree.leaf_probabilities(true_tree, true_tree.reference if policy is None else policy)
    mx, my = w @ x, w @ y
    vx, vy, cxy = w @ (x - mx) ** 2, w @ (y - my) ** 2, w @ ((x - mx) * (y - my))
    slope = cxy / vx
    return float(slope), float(my - slope * mx), float(cxy / np.sqrt(vx * vy))


@dataclass
class OveroptimisationCurve:
    """The exact over-optimisation picture: π*_β of the learned reward, scored under the true one.

    Attributes (each of shape (K,), one entry per β):
        kl_coef: the β of each point.
        kl_to_reference: KL(π*_β(r_φ) ‖ π_ref) (nats, sequence level).
        true_return: E_{π*_β(r_φ)}[R], the true task return (without the KL term).
        proxy_return: E_{π*_β(r_φ)}[r_φ], the learned reward it maximises.
        frontier_kl, frontier_return: KL(π*_β(R) ‖ π_ref) and E[R] of the optimum of the *true*
            reward at the same β: the most true return any policy gets for that much KL.
        seconds: wall time of the sweep (the trees already built).
    """

    kl_coef: np.ndarray
    kl_to_reference: np.ndarray
    true_return: np.ndarray
    proxy_return: np.ndarray
    frontier_kl: np.ndarray
    frontier_return: np.ndarray
    seconds: float

    @property
    def peak(self) -> int:
        """Index of the β whose π*_β(r_φ) has the highest true return."""
        return int(np.argmax(self.true_return))


def overoptimisation_curve(true_tree, learned_tree, kl_coefs=None) -> OveroptimisationCurve:
    """π*_β of the learned reward for each β, its true return and KL to π_ref, exactly.

    Args:
        true_tree: ``lmenv.to_mdp`` of the environment with the true reward.
        learned_tree: ``lmenv.to_mdp`` of the same environment paying the learned reward
            (``with_reward(env, learned_reward(model, env))``): the same prefixes.
        kl_coefs: the β values (default 24 values log-spaced from 0.003 to 30).
    """
    if not _tree.same_prefixes(true_tree, learned_tree):
        raise ValueError("the two trees must enumerate the same prefixes (the same environment but its reward)")
    kl_coefs = np.geomspace(0.003, 30.0, 24) if kl_coefs is None else np.asarray(kl_coefs, dtype=float)
    for i, b in enumerate(kl_coefs):
        _checks.number(b, f"kl_coefs[{i}]", 0.0, None, low_open=True, meaning="the KL weight β")
    start = time.perf_counter()
    learned_rewards = _tree.task_rewards(learned_tree)
    rows = []
    for beta in kl_coefs:
        learned, best = _tree.soft_optimum(learned_tree, beta), _tree.soft_optimum(true_tree, beta)
        true_return, kl = _tree.expectations(true_tree, learned.policy)
        proxy, _ = _tree.expectations(true_tree, learned.policy, learned_rewards)
        frontier_return, frontier_kl = _tree.expectations(true_tree, best.policy)
        rows.append((kl, true_return, proxy, frontier_kl, frontier_return))
    kl, true_return, proxy, f_kl, f_return = np.array(rows).T
    return OveroptimisationCurve(kl_coefs, kl, true_return, proxy, f_kl, f_return, time.perf_counter() - start)


def plot_overoptimisation(curve: OveroptimisationCurve, points: dict | None = None, path=None, title=None):
    """True return against √KL to π_ref: the learned reward's exact optima, the true frontier, and trained policies.

    Args:
        curve: from :func:`overoptimisation_curve`.
        points: name -> (KL(π ‖ π_ref), true return) of trained policies (e.g. PPO or GRPO on the
            learned reward, scored exactly on the true tree).
        path: save the figure there.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    root = np.sqrt  # Gao et al. plot against d = √KL
    ax.plot(root(curve.frontier_kl), curve.frontier_return, color="grey", ls="--",
            label="π*_β of the true reward (frontier)")
    ax.plot(root(curve.kl_to_reference), curve.true_return, marker=".", label="π*_β of the learned reward: true return")
    ax2 = ax.twinx()
    ax2.plot(root(curve.kl_to_reference), curve.proxy_return, color="tab:orange", lw=0.8, alpha=0.7)
    ax2.set_ylabel("its learned reward r_φ (orange)", color="tab:orange")
    for (name, (kl, value)), marker in zip((points or {}).items(), "os^vD"):
        ax.scatter([root(kl)], [value], marker=marker, s=40, zorder=3, label=name)
    ax.set_xlabel("√KL(π ‖ π_ref), nats per sequence (exact)")
    ax.set_ylabel("true return E_π[R] (exact)")
    ax.set_title(title or "Over-optimisation of a learned reward, exact (Gao et al. 2022)", fontsize=10)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=90)
    return fig
