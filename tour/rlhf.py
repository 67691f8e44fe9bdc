"""Tour, part 5: from synthetic human feedback to a policy — reward model, over-optimisation, DPO, GRPO/RLOO, the KL."""

import dataclasses
import pathlib

import lmenv
from lmenv import kl_estimators, preferences, reward_model
from lmenv.learners import documented_env, dpo, grpo
from lmenv.learners import rlhf_experiments as experiments


def heading(text: str) -> None:
    print(f"\n{'=' * 78}\n{text}\n{'=' * 78}")


def run(out: pathlib.Path) -> None:
    heading("15. RLHF on the token tree: preferences → reward model → policy, every step scored exactly")
    env = documented_env()  # the documented task, β = 0.1
    beta = env.kl_coef
    tree = lmenv.to_mdp(env)
    optimum = tree.kl_regularised_optimum(beta)
    labeller = experiments.LABELLER  # Bradley–Terry on the task return, noise τ = 0.25
    train_pairs, heldout = experiments.documented_pairs(env, seed=0, n_pairs=3000, heldout=1000)
    print(f"{len(train_pairs)} pairs from π_ref labelled by Bradley–Terry (τ = {labeller.temperature}); "
          f"the best accuracy any reward can reach: {preferences.exact_accuracy_ceiling(tree, labeller):.3f} (exact)")

    # The reward model (the documented settings: 2 epochs of 2,000 pairs) and the exact optimum of what it learned.
    rm, learned_env, learned_tree = experiments.reward_model_pipeline(
        env, train_pairs, heldout, dataclasses.replace(experiments.REWARD_MODEL_CONFIG, progress=False))
    print(f"reward model: held-out accuracy {rm.heldout_accuracy:.3f}, labeller's ceiling {rm.ceiling:.3f}")
    print("π*_β of the learned reward, scored under the true objective:",
          reward_model.learned_optimum_score(tree, learned_tree, beta))

    # Over-optimisation without sampling noise, and RLOO trained against the reward model.
    curve = reward_model.overoptimisation_curve(tree, learned_tree)
    against_rm = grpo.train(learned_env, grpo.Config(variant="rloo", iterations=30, progress=False))
    on_true = lmenv.score(lmenv.tree_policy(against_rm.model, tree), tree, beta)
    reward_model.plot_overoptimisation(curve, points={"RLOO on the reward model": (on_true.kl_to_reference,
                                                                                   on_true.task_return)},
                                       path=out / "rlhf_overoptimisation.png")
    print(f"over-optimisation curve: {len(curve.kl_coef)} values of β in {curve.seconds:.2f} s; true return peaks at "
          f"{curve.true_return.max():.3f} (KL {curve.kl_to_reference[curve.peak]:.2f}), "
          f"{curve.true_return[0]:.3f} at the smallest β (KL {curve.kl_to_reference[0]:.2f})")

    # DPO on the pairs and the group learners on the task reward (short runs; docs/rlhf.md has the full ones).
    results = {"dpo (100 steps)": dpo.train(env, train_pairs, dpo.Config(iterations=100, kl_coef=beta / labeller.temperature,
                                                                       progress=False), tree=tree)}
    for variant in ("grpo", "dr_grpo", "rloo"):
        results[f"{variant} (12 iterations)"] = grpo.train(env, grpo.Config(variant=variant, iterations=12,
                                                                            progress=False), tree=tree)
    print(experiments.results_table(results))
    print(dpo.implicit_reward_report(lmenv.tree_policy(results["dpo (100 steps)"].model, tree), tree, beta, optimum))

    # Where the KL goes: the exact fixed points of k2 and k3 in the loss, next to π*_β.
    for estimator in ("k2", "k3"):
        s = lmenv.score(kl_estimators.loss_fixed_point(tree, beta, estimator), tree, beta, optimum)
        print(f"KL in the loss with {estimator}: the learner stops at {100 * s.fraction:.1f}% of J_β(π*) "
              f"(KL(π‖π*) = {s.kl_to_optimum:.2f}); KL in the reward with k1 stops at π*_β")

    # Where a sequence reward lands.
    print(experiments.placement_table(experiments.placement_demo()))
