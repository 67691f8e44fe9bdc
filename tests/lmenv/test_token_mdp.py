"""Exact answers on the bundled model's prefix tree: to_mdp, the soft optimum and its identities."""

import numpy as np
import pytest

import lmenv
import rlcore as rl
from lmenv import rewards as R

BETA = 0.5
TASK = R.ContainsWord("the") + R.AvoidCharacters("s", penalty=0.2)


@pytest.fixture(scope="module")
def env():
    return lmenv.TokenEnv(prompt="ROMEO:\nI ", max_new_tokens=4, actions="etaoinsh", reward=TASK)


@pytest.fixture(scope="module")
def tree(env):
    return lmenv.to_mdp(env)


@pytest.fixture(scope="module")
def soft(tree):
    return tree.kl_regularised_optimum(BETA)


def test_tree_shape_and_transitions(env, tree):
    assert tree.n_states == sum(8**t for t in range(5))
    assert tree.prefixes[0] == () and tree.mdp.initial[0] == 1.0
    np.testing.assert_array_equal(tree.mdp.terminal, tree.depth == 4)
    child = tree.index[(env.action_tokens[2],)]
    assert tree.mdp.P[2][0, child] == 1.0
    np.testing.assert_allclose(tree.reference[0], np.exp(env.reference.log_probs(())))


def test_environment_pays_the_tree_rewards(env, tree):
    kl_env = lmenv.TokenEnv(prompt="ROMEO:\nI ", max_new_tokens=4, actions="etaoinsh", reward=TASK,
                            kl_coef=BETA, reference=env.reference)
    kl_tree = lmenv.to_mdp(kl_env)
    rng = np.random.default_rng(0)
    for episode in range(30):
        for e, t in ((env, tree), (kl_env, kl_tree)):
            e.reset(seed=episode)
        s, terminated = 0, False
        while not terminated:
            a = int(rng.integers(8))
            obs, r, terminated, _, info = env.step(a)
            _, r_kl, *_ = kl_env.step(a)
            assert r == pytest.approx(tree.mdp.R[s, a], abs=1e-12)
            assert r_kl == pytest.approx(kl_tree.mdp.R[s, a], abs=1e-9)
            assert r_kl == pytest.approx(r + BETA * np.log(tree.reference[s, a]), abs=1e-9)
            s = tree.state_of(obs)
            assert s == tree.index[env.prefix]
    # Soft value iteration on the environment's own MDP with β = kl_coef and NO reference gives
    # the KL-regularised optimum, as the TokenEnv docstring promises.
    np.testing.assert_allclose(rl.soft_value_iteration(kl_tree.mdp, BETA).V, tree.kl_regularised_optimum(BETA).V, atol=1e-9)


def test_soft_optimal_policy_is_beta_log_ratio(tree, soft):
    live = ~tree.mdp.terminal
    # β log(π*(a|s)/π_ref(a|s)) = Q*(s, a) − V*(s) at every state
    np.testing.assert_allclose(BETA * np.log(soft.policy[live] / tree.reference[live]),
                               (soft.Q - soft.V[:, None])[live], atol=1e-9)
    # V*(s) = β log Σ_a π_ref(a|s) exp(Q*(s, a)/β)
    np.testing.assert_allclose(rl.soft_v_from_q(soft.Q, BETA, tree.reference)[live], soft.V[live], atol=1e-9)


def test_telescoping_identity_along_paths(env, tree, soft):
    """Σ_t β log(π*/π_ref)(a_t|s_t) = Σ_t r_t − V*(s_0) along ANY path."""
    rng = np.random.default_rng(1)
    for _ in range(50):
        s, log_ratio, rewards = 0, 0.0, 0.0
        while not tree.mdp.terminal[s]:
            a = int(rng.integers(8))
            log_ratio += BETA * np.log(soft.policy[s, a] / tree.reference[s, a])
            rewards += tree.mdp.R[s, a]
            s = int(tree.mdp.P[a][s].indices[0])
        assert log_ratio == pytest.approx(rewards - soft.V[0], abs=1e-8)


def test_kl_regularised_objective_of_optimum_and_reference(tree, soft):
    j_star = tree.kl_regularised_value(soft.policy, BETA)
    np.testing.assert_allclose(j_star, soft.V, atol=1e-9)  # J_β(π*) = V*
    v_ref = rl.policy_evaluation(tree.task_mdp, tree.reference).V
    np.testing.assert_allclose(tree.kl_regularised_value(tree.reference, BETA), v_ref, atol=1e-12)  # KL = 0
    hard = rl.value_iteration(tree.task_mdp)
    j_hard = tree.kl_regularised_value(hard.policy, BETA)[0]
    assert j_star[0] >= max(v_ref[0], j_hard) - 1e-12
    assert hard.V[0] >= j_star[0]  # the KL term only costs
    # finite-horizon backward induction agrees with value iteration on the tree
    np.testing.assert_allclose(rl.finite_horizon(tree.task_mdp, 4).V[0], hard.V, atol=1e-12)
    np.testing.assert_allclose(rl.finite_horizon(tree.task_mdp, 4, BETA, tree.reference).V[0], soft.V, atol=1e-9)


def test_reference_value_matches_monte_carlo(env, tree):
    exact = rl.policy_evaluation(tree.task_mdp, tree.reference).V[0]
    returns = []
    env.reset(seed=0)
    for _ in range(1500):
        env.reset()
        total, terminated = 0.0, False
        while not terminated:
            _, r, terminated, _, _ = env.step(env.sample_reference_action())
            total += r
        returns.append(total)
    standard_error = np.std(returns) / np.sqrt(len(returns))
    assert abs(np.mean(returns) - exact) < 4 * standard_error + 1e-9


def test_top_k_tree_uses_ranked_actions():
    env = lmenv.TokenEnv(prompt="ROMEO:\n", max_new_tokens=3, top_k=3, reward=R.AvoidCharacters("e"))
    tree = lmenv.to_mdp(env)
    assert tree.n_states == 1 + 3 + 9 + 27 and tree.mdp.n_actions == 3
    live = np.flatnonzero(~tree.mdp.terminal)
    assert np.all(np.diff(tree.reference[live], axis=1) <= 1e-12)  # most likely first
    lp = env.reference.log_probs(())
    np.testing.assert_array_equal(tree.env_actions[0], np.argsort(-lp)[:3])
    # the rank-a action from the root leads to the prefix of that token
    for a in range(3):
        assert tree.prefixes[int(tree.mdp.P[a][0].indices[0])] == (int(tree.env_actions[0, a]),)


def test_tree_size_guard():
    env = lmenv.TokenEnv(max_new_tokens=6)
    with pytest.raises(ValueError, match="max_states"):
        lmenv.to_mdp(env)
