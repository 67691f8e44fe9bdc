"""Helpers shared by test modules (on the path through ``pythonpath = ["tests"]`` in pyproject.toml)."""

import numpy as np

import rlcore as rl


def assert_same_mean(a, b, what):
    """Two independent samples have the same mean, within 4.5 standard errors of the difference.

    Used to check that ``train`` (one run at a time) and ``train_lockstep`` (N runs at once) draw
    from the same distribution: the runs use different random streams, so only statistics agree.
    A small absolute slack (1e-12) lets two constant samples with equal means pass.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    se = np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    assert abs(a.mean() - b.mean()) <= 4.5 * se + 1e-12, (
        f"{what}: {a.mean():.4f} vs {b.mean():.4f} (SE of difference {se:.4f})")


def walk_with_choice():
    """States 0..6, both ends terminal, start in 3; actions left and right; +1 for stepping onto 6. γ = 1."""
    S = 7
    P = np.zeros((S, 2, S))
    R = np.zeros((S, 2))
    for s in range(1, S - 1):
        P[s, 0, s - 1] = P[s, 1, s + 1] = 1.0
        R[s, 1] = 1.0 if s + 1 == S - 1 else 0.0
    P[0, :, 0] = P[S - 1, :, S - 1] = 1.0
    terminal = np.zeros(S, dtype=bool)
    terminal[[0, S - 1]] = True
    return rl.MDP(P, R, 1.0, terminal=terminal, initial=np.eye(S)[3])


def assert_both_runners_agree(make, name):
    """An agent under ``train_lockstep`` (300 runs at once) and under ``train`` (60 runs, one at a time)
    on :func:`walk_with_choice` with a 15-step time limit (so truncation is exercised): the same mean
    return, mean length and late return. ``make(mdp_or_env, **kwargs)`` builds the agent."""
    mdp = walk_with_choice()
    lock = rl.train_lockstep(make(mdp), mdp, 300, 30, seed=0, max_episode_steps=15)
    env = mdp.to_env(max_episode_steps=15)
    singles = [rl.train(make(env, gamma=1.0), env, 30, seed=seed, progress=False) for seed in range(60)]
    assert lock.returns.shape == (300, 30) and lock.truncated.any()
    assert_same_mean(lock.returns.mean(axis=1), [h.returns.mean() for h in singles], f"{name}: mean return")
    assert_same_mean(lock.lengths.mean(axis=1), [h.lengths.mean() for h in singles], f"{name}: mean length")
    assert_same_mean(lock.returns[:, -10:].mean(axis=1), [h.returns[-10:].mean() for h in singles],
                     f"{name}: late return")
