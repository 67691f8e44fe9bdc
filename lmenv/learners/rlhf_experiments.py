"""The documented runs of docs/rlhf.md: from synthetic preferences to a policy, every step scored exactly.

On the documented task (:func:`lmenv.learners.documented_env`, β = 0.1):

- :func:`documented_pairs` — preference pairs from π_ref labelled by :data:`LABELLER`
  (Bradley–Terry on the task return, τ = 0.25);
- :func:`reward_model_pipeline` — the reward model, its held-out accuracy against the labeller's
  exact ceiling, the environment and tree of the learned reward;
- :func:`train_learners` — DPO on the pairs, GRPO / Dr. GRPO / RLOO on the environment's reward,
  with :data:`RLHF_CONFIGS`, each scored as a fraction of J_β(π*); :func:`results_table`;
- :func:`kl_placement_experiment` — RLOO (and GRPO) with the KL in the reward or in the loss, with
  k1 / k2 / k3, against π*_β and the exact fixed points of :func:`lmenv.kl_estimators.loss_fixed_point`;
- :func:`placement_demo` — a sequence reward on the last real token, on padding, or lost to the
  mask, exactly (a one-word task whose stop token is the space).

``python -m lmenv.learners.rlhf_experiments`` runs them all and prints the tables.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from lmenv import _tree, preferences, reward_model
from lmenv.learners import dpo, grpo
from lmenv.preferences import BradleyTerry

LABELLER = BradleyTerry(temperature=0.25)  # the labeller's noise τ: one "s" less is preferred 69% of the time
PAIRS, HELDOUT = 8000, 1000  # training and held-out pairs of the documented runs
REWARD_MODEL_PAIRS = 2000  # the reward model is trained on the first 2,000 training pairs
REWARD_MODEL_CONFIG = reward_model.Config(epochs=2, batch_size=32, learning_rate=3e-4)

# DPO's β is the environment's β / τ, so that DPO targets π*_β of the true reward (docs/rlhf.md).
RLHF_CONFIGS = {
    "dpo": dpo.Config(iterations=300, batch_size=128, learning_rate=1e-4, kl_coef=0.1 / LABELLER.temperature,
                      anneal_lr=True),
    "grpo": grpo.Config(variant="grpo", iterations=100, batch_size=64),
    "dr_grpo": grpo.Config(variant="dr_grpo", iterations=100, batch_size=64),
    "rloo": grpo.Config(variant="rloo", iterations=100, batch_size=64),
}

# Where the KL goes and how it is estimated: (variant, kl_placement, kl_estimator).
KL_PLACEMENTS = {
    "RLOO, KL in the reward, k1": ("rloo", "reward", "k1"),
    "RLOO, KL in the reward, k3": ("rloo", "reward", "k3"),
    "RLOO, KL in the loss, k1": ("rloo", "loss", "k1"),
    "RLOO, KL in the loss, k2": ("rloo", "loss", "k2"),
    "RLOO, KL in the loss, k3": ("rloo", "loss", "k3"),
    "GRPO, KL in the loss, k3": ("grpo", "loss", "k3"),
}


def documented_pairs(env, seed: int = 0, n_pairs: int = PAIRS, heldout: int = HELDOUT, labeller=LABELLER):
    """(training pairs, held-out pairs) from π_ref, labelled by ``labeller`` on the environment's reward."""
    pairs = preferences.sample_preferences(env, n_pairs + heldout, seed=seed, labeller=labeller)
    return pairs.split(heldout)


def reward_model_pipeline(env, train_pairs, heldout_pairs, config=REWARD_MODEL_CONFIG, n_pairs=REWARD_MODEL_PAIRS):
    """Train the reward model on the first ``n_pairs`` pairs; return (result, learned env, learned tree).

    The learned environment pays the reward model's score on the last real token and shares
    ``env``'s prefix cache; its tree (``lmenv.to_mdp``) scores all the leaves once.
    """
    from lmenv.token_mdp import to_mdp

    n = min(n_pairs, len(train_pairs))
    result = reward_model.train(env, train_pairs.subset(slice(0, n)), config, heldout=heldout_pairs)
    learned_env = preferences.with_reward(env, reward_model.learned_reward(result.model, env))
    return result, learned_env, to_mdp(learned_env)


def train_on_learned_reward(learned_env, tree, names=("ppo", "grpo", "rloo"), scale: float = 1.0, seed: int = 0,
                            progress: bool = False) -> dict:
    """PPO, GRPO and RLOO trained against the learned reward, each scored exactly under the *true* objective.

    ``learned_env`` pays the reward model's score (:func:`reward_model_pipeline`), with the
    environment's β; ``tree`` is the true reward's tree. Returns name -> :class:`lmenv.Score`
    (its ``kl_to_reference`` and ``task_return`` place it on the over-optimisation plot).
    """
    from lmenv.learners import ppo
    from lmenv.scoring import score, tree_policy

    configs = {"ppo": ppo.Config(iterations=100, batch_size=64), **RLHF_CONFIGS}
    scores = {}
    for name in names:
        config = dataclasses.replace(configs[name], iterations=max(1, round(scale * configs[name].iterations)),
                                     seed=seed, progress=progress)
        model = (ppo if name == "ppo" else grpo).train(learned_env, config).model
        scores[name] = score(tree_policy(model, tree), tree, learned_env.unwrapped.kl_coef)
    return scores


def train_learners(names=None, env=None, tree=None, pairs=None, scale: float = 1.0, seed: int = 0,
                   eval_every: int = 0, progress: bool = True, configs=None) -> dict:
    """Train DPO (on ``pairs``) and GRPO / Dr. GRPO / RLOO (on the environment's reward), scored exactly.

    Args:
        names: keys of ``configs`` (default all of :data:`RLHF_CONFIGS`).
        env, tree: the environment and its tree (default the documented task).
        pairs: the training pairs for DPO (default :func:`documented_pairs` with ``seed``).
        scale: multiplies the iterations.
        seed: the runs' seed (and the pairs').
    """
    from lmenv.learners.experiments import documented_env
    from lmenv.token_mdp import to_mdp

    configs = RLHF_CONFIGS if configs is None else configs
    env = documented_env() if env is None else env
    tree = to_mdp(env) if tree is None else tree
    results = {}
    for name in names or configs:
        config = configs[name]
        config = dataclasses.replace(config, iterations=max(1, round(scale * config.iterations)), seed=seed,
                                     progress=progress, eval_every=eval_every)
        if isinstance(config, dpo.Config):
            if pairs is None:
                pairs = documented_pairs(env, seed)[0]
            results[name] = dpo.train(env, pairs, config, tree=tree)
        else:
            results[name] = grpo.train(env, config, tree=tree)
    return results


def results_table(results: dict) -> str:
    """A Markdown table: fraction of J_β(π*), KL(π ‖ π*), KL(π ‖ π_ref), wall time."""
    lines = ["| learner | steps | J_β(π) / J_β(π*) | KL(π ‖ π*) | KL(π ‖ π_ref) | task return | wall s |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, r in results.items():
        s = r.score
        steps = int(max(v[0][-1] for v in r.history.values()))
        lines.append(f"| {name} | {steps} | {100 * s.fraction:.1f}% | {s.kl_to_optimum:.3f} | {s.kl_to_reference:.2f} | "
                     f"{s.task_return:.3f} | {r.wall_time:.1f} |")
    return "\n".join(lines)


# ---------------------------------------------------------------------- where the KL goes
def kl_placement_experiment(env=None, tree=None, iterations: int = 150, seeds=(0,), placements=None,
                            batch_size: int = 64, progress: bool = False) -> list[dict]:
    """Train each of :data:`KL_PLACEMENTS` and compare the result with π*_β and the exact fixed points.

    Returns one dict per placement: ``name``, ``fraction`` (mean over seeds of J_β(π)/J_β(π*)),
    ``kl_to_optimum`` (mean KL(π ‖ π*)), ``kl_to_fixed_point`` (mean KL(π ‖ the fixed point of
    that estimator in the loss; None where there is none), ``fixed_point_fraction``,
    ``top_sequence`` (mean probability of the policy's most likely sequence: 1 for a
    deterministic policy), ``fractions`` (per seed).
    """
    from lmenv.kl_estimators import loss_fixed_point
    from lmenv.learners.experiments import documented_env
    from lmenv.scoring import score, tree_policy
    from lmenv.token_mdp import to_mdp

    env = documented_env() if env is None else env
    tree = to_mdp(env) if tree is None else tree
    beta = env.kl_coef
    optimum = _tree.soft_optimum(tree, beta)
    fixed = {est: loss_fixed_point(tree, beta, est) for est in ("k2", "k3")}
    rows = []
    for name, (variant, placement, estimator) in (placements or KL_PLACEMENTS).items():
        target = fixed.get(estimator) if placement == "loss" else (optimum.policy if estimator == "k1" else None)
        fractions, to_opt, to_fixed, top = [], [], [], []
        for seed in seeds:
            config = grpo.Config(variant=variant, kl_placement=placement, kl_estimator=estimator, iterations=iterations,
                                 batch_size=batch_size, seed=seed, progress=progress)
            policy = tree_policy(grpo.train(env, config).model, tree)
            s = score(policy, tree, beta, optimum)
            fractions.append(s.fraction)
            to_opt.append(s.kl_to_optimum)
            to_fixed.append(np.nan if target is None else sequence_kl_between(tree, policy, target))
            top.append(float(_tree.leaf_probabilities(tree, policy).max()))
        fp_fraction = None if target is None else score(target, tree, beta, optimum).fraction
        rows.append(dict(name=name, fraction=float(np.mean(fractions)), fractions=fractions,
                         kl_to_optimum=float(np.mean(to_opt)),
                         kl_to_fixed_point=None if target is None else float(np.mean(to_fixed)),
                         fixed_point_fraction=fp_fraction, top_sequence=float(np.mean(top))))
    return rows


def sequence_kl_between(tree, policy, other) -> float:
    """KL(π ‖ π') = E_π[Σ_t KL(π(·|s_t) ‖ π'(·|s_t))] between two tabular policies on the tree."""
    live = ~_tree.terminal(tree)
    d = np.where(live, _tree.visitation(tree, policy), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_state = np.where(policy > 0, policy * (np.log(policy) - np.log(other)), 0.0).sum(axis=1)
    return float(np.sum(np.where(d > 0, d * per_state, 0.0)))


def kl_placement_table(rows: list[dict]) -> str:
    lines = ["| learner | J_β(π)/J_β(π*) | KL(π ‖ π*) | converges to | its J_β/J_β(π*) | KL(π ‖ it) | P(top sequence) |",
             "| --- | ---: | ---: | --- | ---: | ---: | ---: |"]
    for r in rows:
        target = "π*_β" if r["name"].endswith("reward, k1") else (
            "fixed point (k2)" if r["name"].endswith("loss, k2") else
            "fixed point (k3)" if r["name"].endswith("loss, k3") else "a deterministic policy")
        fp = "—" if r["fixed_point_fraction"] is None else f"{100 * r['fixed_point_fraction']:.1f}%"
        to_fp = "—" if r["kl_to_fixed_point"] is None else f"{r['kl_to_fixed_point']:.3f}"
        lines.append(f"| {r['name']} | {100 * r['fraction']:.1f}% | {r['kl_to_optimum']:.3f} | {target} | {fp} | "
                     f"{to_fp} | {r['top_sequence']:.2f} |")
    return "\n".join(lines)


def estimator_demo(env=None, tree=None, seed: int = 0, scale: float = 0.3, parameters: str = "all"):
    """:func:`lmenv.kl_estimators.estimator_report` for a network whose LM head is moved away from π_ref.

    The head's weights get ``scale`` × N(0, 1) noise (``torch.manual_seed(seed)``): at π_ref itself
    every KL gradient is 0. ``parameters``: ``"all"`` or ``"head"`` (the LM head only: quicker).
    """
    import torch

    from lmenv.kl_estimators import estimator_report
    from lmenv.learners.experiments import documented_env
    from lmenv.policy import PolicyValueModel
    from lmenv.token_mdp import to_mdp

    env = documented_env() if env is None else env
    tree = to_mdp(env) if tree is None else tree
    model = PolicyValueModel(env)
    torch.manual_seed(seed)
    with torch.no_grad():
        model.body.lm_head.weight.add_(scale * torch.randn_like(model.body.lm_head.weight))
    return estimator_report(model, tree, parameters=None if parameters == "all" else model.body.lm_head.parameters())


# ---------------------------------------------------------------------- where a sequence reward lands
def placement_env(reward=None, kl_coef: float = 0.1):
    """One word after "ROMEO:\\nI ": the actions "etaoinh " with the space as stop token, horizon 5.

    The default reward is ``ContainsWord("the")``: the word must contain "the" (a sequence reward
    paid at the end). π_ref ends the word before the horizon most of the time (mean length 3.96).
    """
    from lmenv import rewards
    from lmenv.token_env import TokenEnv

    reward = rewards.ContainsWord("the") if reward is None else reward
    return TokenEnv(prompt="ROMEO:\nI ", max_new_tokens=5, actions="etaoinh ", stop_token=" ", reward=reward,
                    kl_coef=kl_coef)


PLACEMENT_REWARDS = {
    'ContainsWord("the")': lambda R: R.ContainsWord("the"),
    'ContainsWord("the") − 0.1 per token': lambda R: R.ContainsWord("the") + R.LengthBonus(per_token=-0.1),
    'ContainsWord("the") + 0.5 for the stop token': lambda R: R.ContainsWord("the") + R.LengthBonus(stop=" ",
                                                                                                   stop_bonus=0.5),
}


def placement_demo(kl_coef: float = 0.1, names=None) -> list[dict]:
    """The exact optimum when the sequence reward lands on the last real token, on padding, or is masked away.

    For each reward of :data:`PLACEMENT_REWARDS` (as one sequence reward R(y) = Σ_t r_t) and each
    placement of :class:`lmenv.reward_model.SequenceReward`, the KL-regularised optimum of the
    *placed* reward, scored under the correct objective J_β. Returns dicts with ``reward``,
    ``placement``, ``fraction``, ``task_return``, ``kl_to_reference``, ``mean_length``.
    """
    from lmenv import rewards
    from lmenv.scoring import score
    from lmenv.token_mdp import to_mdp

    base = placement_env(kl_coef=kl_coef)
    to_mdp(base)  # warms the shared prefix cache
    rows = []
    for name in names or PLACEMENT_REWARDS:
        env = preferences.with_reward(base, PLACEMENT_REWARDS[name](rewards))
        tree = to_mdp(env)
        best = _tree.soft_optimum(tree, kl_coef)
        leaves = _tree.leaves(tree)
        for placement in reward_model.PLACEMENTS:
            placed = to_mdp(preferences.with_reward(env, reward_model.true_sequence_reward(env, placement)))
            policy = _tree.soft_optimum(placed, kl_coef).policy
            s = score(policy, tree, kl_coef, best)
            length = float(_tree.leaf_probabilities(tree, policy) @ tree.depth[leaves])
            rows.append(dict(reward=name, placement=placement, fraction=s.fraction, task_return=s.task_return,
                             kl_to_reference=s.kl_to_reference, mean_length=length))
    return rows


def placement_table(rows: list[dict]) -> str:
    lines = ["| sequence reward | placement | J_β(π)/J_β(π*) | task return | KL(π ‖ π_ref) | mean length |",
             "| --- | --- | ---: | ---: | ---: | ---: |"]
    for r in rows:
        lines.append(f"| {r['reward']} | {r['placement']} | {100 * r['fraction']:.1f}% | {r['task_return']:.3f} | "
                     f"{r['kl_to_reference']:.3f} | {r['mean_length']:.2f} |")
    return "\n".join(lines)


def main() -> None:
    import argparse
    import time

    import torch

    from lmenv.learners.experiments import documented_env
    from lmenv.token_mdp import to_mdp

    parser = argparse.ArgumentParser(description="The documented RLHF runs (docs/rlhf.md).")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every learner's iterations")
    parser.add_argument("--skip", nargs="*", default=[], help="parts to skip: rm learners kl placement estimators")
    parser.add_argument("--curve", default=None, help="save the over-optimisation plot here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    env = documented_env()
    tree = to_mdp(env)
    if "placement" not in args.skip:
        print(placement_table(placement_demo()))
    if "estimators" not in args.skip:
        print(estimator_demo(env, tree).table())
    for seed in args.seeds:
        train_pairs, heldout = documented_pairs(env, seed)
        if "rm" not in args.skip:
            start = time.perf_counter()
            rm, learned_env, learned_tree = reward_model_pipeline(
                env, train_pairs, heldout, dataclasses.replace(REWARD_MODEL_CONFIG, progress=False))
            built = time.perf_counter() - start - rm.wall_time
            curve = reward_model.overoptimisation_curve(tree, learned_tree)
            same = reward_model.learned_optimum_score(tree, learned_tree, env.kl_coef)
            matched = reward_model.learned_optimum_score(tree, learned_tree, env.kl_coef,
                                                         env.kl_coef / LABELLER.temperature)
            slope, _, corr = reward_model.fit_to_true_return(tree, learned_tree)
            print(f"seed {seed}: r_φ ≈ {slope:.2f} R + c over π_ref (1/τ = {1 / LABELLER.temperature:g}), "
                  f"correlation {corr:.3f}")
            print(f"seed {seed}: reward model held-out accuracy {rm.heldout_accuracy:.3f}, labeller's ceiling "
                  f"{rm.ceiling:.3f} (exact over π_ref: {preferences.exact_accuracy_ceiling(tree, LABELLER):.3f}); "
                  f"trained in {rm.wall_time:.1f} s; learned tree {built:.1f} s; curve ({len(curve.kl_coef)} β) "
                  f"{curve.seconds:.2f} s; the learned reward's optimum scores {100 * matched.fraction:.1f}% of "
                  f"J_β(π*) at β/τ, {100 * same.fraction:.1f}% at β; the true return of the learned optima peaks at "
                  f"{curve.true_return.max():.3f} (KL {curve.kl_to_reference[curve.peak]:.2f}), "
                  f"{curve.true_return[0]:.3f} at β = {curve.kl_coef[0]:g} (KL {curve.kl_to_reference[0]:.2f})")
            if args.curve and seed == args.seeds[0]:
                trained = train_on_learned_reward(learned_env, tree, scale=args.scale, seed=seed)
                for name, s in trained.items():
                    print(f"  {name} on the learned reward, scored under the true objective: {s}")
                points = {f"{name.upper()} on the learned reward": (s.kl_to_reference, s.task_return)
                          for name, s in trained.items()}
                reward_model.plot_overoptimisation(curve, points=points, path=args.curve)
        if "learners" not in args.skip:
            results = train_learners(env=env, tree=tree, pairs=train_pairs, scale=args.scale, seed=seed,
                                     progress=False)
            print(f"seed {seed}\n{results_table(results)}")
    if "kl" not in args.skip:
        print(kl_placement_table(kl_placement_experiment(env, tree, seeds=args.seeds)))


if __name__ == "__main__":
    main()
