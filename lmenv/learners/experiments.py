"""The documented runs of docs/lm_policy_gradient.md: every learner on the enumerable task, PPO on the full vocabulary.

- :func:`train_all` trains each learner on :func:`documented_env` with :data:`DOCUMENTED_CONFIGS`
  and scores it exactly (fraction of J_β(π*), KL(π ‖ π*), times); :func:`results_table` and
  :func:`plot_learning_curves` report it.
- :func:`train_full_vocabulary` runs PPO on the same reward with all 84 characters as actions and
  a horizon of 16 (no exact answer), with β fixed and with the adaptive KL controller;
  :func:`plot_full_vocabulary` draws reward and KL to the reference.

``python -m lmenv.learners`` calls them.
"""

from __future__ import annotations

import dataclasses
import sys

from lmenv.learners import a2c, dqn, ppo, reinforce

LEARNERS = {"reinforce": reinforce, "a2c": a2c, "ppo": ppo, "dqn": dqn}

# The settings whose results docs/lm_policy_gradient.md reports. Each config's class names its
# learner module (``learner_of``). "dqn-hard" is DQN with the max target and ε-greedy acting: it
# learns the best deterministic policy, which scores 94.0% of J_β(π*) here; it is not in the default runs.
DOCUMENTED_CONFIGS = {
    "reinforce": reinforce.Config(iterations=150, batch_size=256),
    "a2c": a2c.Config(iterations=150, batch_size=256),
    "ppo": ppo.Config(iterations=100, batch_size=256),
    "dqn": dqn.Config(iterations=150, batch_size=64),
    "dqn-hard": dqn.Config(iterations=250, batch_size=64, soft=False),
}
DEFAULT_RUNS = ("reinforce", "a2c", "ppo", "dqn")


def learner_of(config):
    """The learner module of a config: ``learner_of(dqn.Config()) is lmenv.learners.dqn``."""
    return sys.modules[type(config).__module__]

# PPO on the full vocabulary: β fixed at the environment's 0.1, or adapted to hold 1.5 nats per episode.
FULL_VOCABULARY_CONFIGS = {
    "β = 0.1 fixed": ppo.Config(iterations=150, batch_size=64, reference_source="forward"),
    "KL target 1.5 nats": ppo.Config(iterations=150, batch_size=64, reference_source="forward", kl_target=1.5,
                                     kl_horizon=1000),
}


def documented_env(model=None, tokenizer=None, kl_coef: float = 0.1):
    """The documented task (docs/token_mdp.md) with β = ``kl_coef``: prompt "ROMEO:\\nI ", the actions
    "etaoinsh", horizon 5, reward ContainsWord("the") + AvoidCharacters("s", 0.2)."""
    from lmenv import rewards
    from lmenv.token_env import TokenEnv

    reward = rewards.ContainsWord("the") + rewards.AvoidCharacters("s", 0.2)
    return TokenEnv(model=model, tokenizer=tokenizer, prompt="ROMEO:\nI ", max_new_tokens=5, actions="etaoinsh",
                    reward=reward, kl_coef=kl_coef)


def full_vocabulary_env(model=None, tokenizer=None, kl_coef: float = 0.1, max_new_tokens: int = 16):
    """The documented reward on the whole vocabulary: prompt "ROMEO:\\n", 84 actions, horizon 16
    (84^16 ≈ 6·10^30 sequences: no exact answer)."""
    from lmenv import rewards
    from lmenv.token_env import TokenEnv

    reward = rewards.ContainsWord("the") + rewards.AvoidCharacters("s", 0.2)
    return TokenEnv(model=model, tokenizer=tokenizer, prompt="ROMEO:\n", max_new_tokens=max_new_tokens,
                    actions="vocab", reward=reward, kl_coef=kl_coef)


def train_all(names=None, scale: float = 1.0, seed: int = 0, env=None, tree=None, eval_every: int = 0,
              progress: bool = True, verbose: bool = True) -> dict:
    """Train each learner on the documented task with :data:`DOCUMENTED_CONFIGS` and score it exactly.

    Args:
        names: keys of :data:`DOCUMENTED_CONFIGS` to run (default: :data:`DEFAULT_RUNS`).
        scale: multiplies every learner's iterations (e.g. 0.1 for a quick tour).
        seed: the runs' seed.
        env, tree: the environment and its prefix tree (default: :func:`documented_env` and its
            ``lmenv.to_mdp``).
        eval_every: also score exactly every this many iterations (for learning curves; not timed).
        progress: progress bars.
        verbose: print a line per learner and a table at the end.

    Returns:
        name -> :class:`lmenv.learners.TrainResult` (with ``.score``).
    """
    from lmenv.token_mdp import to_mdp

    env = documented_env() if env is None else env
    tree = to_mdp(env) if tree is None else tree
    results = {}
    for name in names or DEFAULT_RUNS:
        config = DOCUMENTED_CONFIGS[name]
        iterations = max(1, round(scale * config.iterations))
        changes = dict(iterations=iterations, seed=seed, progress=progress, eval_every=eval_every)
        if hasattr(config, "learning_starts"):
            changes["learning_starts"] = min(config.learning_starts, iterations - 1)
        results[name] = learner_of(config).train(env, dataclasses.replace(config, **changes), tree=tree)
        if verbose:
            print(f"{name:10s} {results[name].score}")
    if verbose:
        print(results_table(results))
    return results


def results_table(results: dict) -> str:
    """A Markdown table: fraction of the optimum, KL to π*, wall/CPU time, tokens/s, rollout/update split."""
    lines = ["| learner | iterations × episodes | J_β(π) / J_β(π*) | KL(π ‖ π*) (nats) | KL(π ‖ π_ref) | wall s "
             "| CPU s | tokens/s | rollout / update |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for name, r in results.items():
        s = r.score
        iterations = int(r.history["charts/reward"][0][-1])
        episodes = r.episodes // iterations
        split = r.rollout_time / max(r.rollout_time + r.update_time, 1e-12)
        lines.append(f"| {name} | {iterations} × {episodes} | {100 * s.fraction:.1f}% | {s.kl_to_optimum:.3f} | "
                     f"{s.kl_to_reference:.2f} | {r.wall_time:.1f} | {r.cpu_time:.1f} | {r.tokens_per_second:,.0f} | "
                     f"{100 * split:.0f}% / {100 * (1 - split):.0f}% |")
    return "\n".join(lines)


def plot_learning_curves(results: dict, path=None):
    """Exact fraction of J_β(π*) against episodes sampled, per learner (needs ``eval_every`` > 0).

    Logarithmic in episodes; the untrained network's score (iteration 0, π_ref) is the dotted line.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    start = None
    for name, r in results.items():
        if "eval/fraction_of_optimum" not in r.history:
            continue
        iterations, fraction = r.history["eval/fraction_of_optimum"]
        episodes_per_iteration = r.episodes / int(r.history["charts/reward"][0][-1])
        trained = iterations > 0
        if start is None and (~trained).any() and r.model.readout != "greedy_q":
            start = fraction[~trained][0]  # the untrained network is π_ref (except for the greedy readout)
        ax.plot(iterations[trained] * episodes_per_iteration, 100 * fraction[trained], marker=".", label=name)
    ax.axhline(90, color="grey", lw=0.8, ls="--")
    if start is not None:
        ax.axhline(100 * start, color="grey", lw=0.8, ls=":")
        ax.text(0.01, 100 * start + 2, "untrained (π_ref)", transform=ax.get_yaxis_transform(), fontsize=7,
                color="grey")
    ax.set_xscale("log")
    ax.set_xlabel("episodes sampled")
    ax.set_ylabel("J_β(π) / J_β(π*)  (%), exact")
    ax.set_ylim(-20, 102)
    ax.set_title("Learners on the transformer, documented task (β = 0.1)", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=90)
    return fig


def train_full_vocabulary(names=None, seed: int = 0, scale: float = 1.0, env=None, progress: bool = True,
                          verbose: bool = True) -> dict:
    """PPO on :func:`full_vocabulary_env` with each of :data:`FULL_VOCABULARY_CONFIGS`; name -> TrainResult."""
    env = full_vocabulary_env() if env is None else env
    results = {}
    for name in names or FULL_VOCABULARY_CONFIGS:
        config = FULL_VOCABULARY_CONFIGS[name]
        config = dataclasses.replace(config, iterations=max(1, round(scale * config.iterations)), seed=seed,
                                     progress=progress)
        results[name] = r = ppo.train(env, config)
        if verbose:
            reward, kl = r.history["charts/reward"][1], r.history["charts/kl_ref"][1]
            k = max(1, len(reward) // 10)
            print(f"{name}: reward {reward[:k].mean():.3f} -> {reward[-k:].mean():.3f} (first/last {k} iterations), "
                  f"KL to π_ref max {kl.max():.2f}, last {kl[-k:].mean():.2f} nats per episode; "
                  f"{r.wall_time:.0f} s wall, {r.cpu_time:.0f} s CPU")
    return results


def plot_full_vocabulary(results: dict, path=None):
    """Reward and KL(π ‖ π_ref) per episode against iterations, for each full-vocabulary run."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3.2))
    for name, r in results.items():
        steps, reward = r.history["charts/reward"]
        _, kl = r.history["charts/kl_ref"]
        left.plot(steps, _smooth(reward), label=name)
        right.plot(steps, _smooth(kl), label=name)
        config = FULL_VOCABULARY_CONFIGS.get(name)
        if config is not None and config.kl_target is not None:
            right.axhline(config.kl_target, color="grey", lw=0.8, ls="--")
    left.set_xlabel("iteration (64 episodes)")
    left.set_ylabel("task reward per episode")
    right.set_xlabel("iteration (64 episodes)")
    right.set_ylabel("KL(π ‖ π_ref) per episode (nats)")
    left.legend(fontsize=8)
    fig.suptitle("PPO on the full vocabulary (84 actions, horizon 16); moving average of 5", fontsize=10)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=80)
    return fig


def _smooth(x, width: int = 5):
    import numpy as np

    kernel = np.ones(width) / width
    padded = np.concatenate([np.full(width - 1, x[0]), x])
    return np.convolve(padded, kernel, mode="valid")
