"""Tour, part 4: policy-gradient learners training the transformer, scored against the exact optimum."""

import pathlib

import lmenv
from lmenv import learners


def heading(text: str) -> None:
    print(f"\n{'=' * 78}\n{text}\n{'=' * 78}")


def run(out: pathlib.Path) -> None:
    heading("14. REINFORCE, A2C and PPO training the transformer (β = 0.1), scored exactly on the tree")
    env = learners.documented_env()  # the documented task with a KL penalty β = 0.1 to the model
    tree = lmenv.to_mdp(env)
    optimum = tree.kl_regularised_optimum(env.kl_coef)
    print(f"exact optimum J_β(π*) = V*_β(s0) = {optimum.V[0]:.4f}; the untrained model: "
          f"{100 * lmenv.score(tree.reference, tree).fraction:.1f}% of it")
    # A fifth of the documented budget: enough for the policy-gradient learners to pass 90%.
    # `python -m lmenv.learners` runs the full budgets and DQN (docs/lm_policy_gradient.md).
    results = learners.train_all(["reinforce", "a2c", "ppo"], scale=0.2, env=env, tree=tree, eval_every=5,
                                 progress=False, verbose=False)
    print(learners.results_table(results))
    learners.plot_learning_curves(results, out / "lm_learners.png")
