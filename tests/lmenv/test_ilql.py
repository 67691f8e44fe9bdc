"""ILQL on the transformer (lmenv.learners.ilql) and value-guided decoding (lmenv.decoding), checked exactly.

The documented task (β = 0.1) and its tree come from the conftest fixtures.
"""

import copy as pycopy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.optimize import minimize_scalar

import lmenv
import rlcore
from lmenv import decoding
from lmenv.export import completion_returns
from lmenv.learners import ilql, ilql_experiments
from lmenv.scoring import score, visitation

BETA = 0.1


# ---------------------------------------------------------------------- the update rules
def test_the_loss_terms_are_their_formulas():
    torch.manual_seed(0)
    q, a = torch.randn(5, 3, 8), torch.randint(0, 8, (5, 3))
    torch.testing.assert_close(ilql.cql_loss(q, a), F.cross_entropy(q.reshape(-1, 8), a.reshape(-1),
                                                                      reduction="none").reshape(5, 3))
    u = torch.randn(100)
    torch.testing.assert_close(ilql.expectile_loss(u, 0.5), 0.5 * u**2)  # τ = ½: half the squared error
    assert torch.all(ilql.expectile_loss(torch.tensor([1.0, -1.0]), 0.9) == torch.tensor([0.9, 0.1]))
    r, d, v = torch.randn(4, 5), torch.tensor([[1.0, 1, 1, 1, 0]] * 4), torch.randn(4, 5)
    torch.testing.assert_close(ilql.q_target(r, d, v), r + d * v)


def test_expectile_is_the_minimiser_of_the_expectile_loss():
    rng = np.random.default_rng(0)
    for _ in range(30):
        n = rng.integers(2, 9)
        x, p = rng.normal(size=n), rng.dirichlet(np.ones(n))
        p[rng.integers(n)] = 0.0  # an action the data never takes: it must not matter
        p /= p.sum()
        tau = rng.uniform(0.01, 0.99)
        loss = lambda v: float((p * ilql.expectile_loss(torch.tensor(x - v), tau).numpy()).sum())  # noqa: E731
        best = minimize_scalar(loss, bounds=(x.min() - 1, x.max() + 1), method="bounded", options={"xatol": 1e-12})
        assert ilql.expectile(x, p, tau) == pytest.approx(best.x, abs=1e-6)
    x, p = np.array([0.0, 1.0, 5.0, 100.0]), np.array([0.5, 0.3, 0.2, 0.0])
    assert ilql.expectile(x, p, 0.5) == pytest.approx((p * x).sum())  # the mean
    assert ilql.expectile(x, p, 1 - 1e-9) == pytest.approx(5.0, abs=1e-6)  # → the max over the support
    taus = [0.1, 0.3, 0.5, 0.7, 0.9, 0.99]
    assert np.all(np.diff([ilql.expectile(x, p, t) for t in taus]) > 0)


def test_the_exact_fixed_point_spans_sarsa_to_in_sample_q_learning(kl_tree):
    """τ = ½ with the data from π_ref: Q^{π_ref}, V^{π_ref}; τ → 1: the hard Q*, V* (the data covers every action)."""
    tree = kl_tree
    reference = rlcore.policy_evaluation(tree.task_mdp, tree.reference)
    Q, V = ilql.expectile_values(tree, tree.reference, 0.5)
    np.testing.assert_allclose(V, reference.V, atol=1e-12)
    np.testing.assert_allclose(Q, rlcore.q_from_v(tree.task_mdp, reference.V), atol=1e-12)
    hard = rlcore.value_iteration(tree.task_mdp)
    _, V_max = ilql.expectile_values(tree, tree.reference, 1 - 1e-12)
    np.testing.assert_allclose(V_max, hard.V, atol=1e-4)  # V_τ = max − O((1 − τ)/π_ref(best action))
    roots = [ilql.expectile_values(tree, tree.reference, t)[1][0] for t in (0.5, 0.7, 0.9, 0.99)]
    assert np.all(np.diff(roots) > 0) and roots[-1] < hard.V[0]


def test_the_data_policy_of_a_mixture_has_the_mixtures_visitation(kl_tree, kl_optimum):
    tree = kl_tree
    policy, d = ilql.mixture_policy(tree, [tree.reference, kl_optimum.policy], [0.7, 0.3])
    np.testing.assert_allclose(visitation(tree, policy), d, atol=1e-12)
    np.testing.assert_allclose(d, 0.7 * visitation(tree, tree.reference) + 0.3 * visitation(tree, kl_optimum.policy),
                               atol=1e-15)


def test_the_documented_fixed_points(kl_env, kl_tree):
    """ILQL's exact fixed point, decoded with π ∝ π_ref exp((Q − V)/β), scored exactly (docs/ilql_and_decoding.md)."""
    rows = {tau: ilql_experiments.exact_row(kl_env, kl_tree, "reference", tau) for tau in (0.5, 0.9, 0.999)}
    assert rows[0.5]["fraction"] == pytest.approx(0.910, abs=5e-4)  # one step of soft policy improvement on π_ref
    assert rows[0.9]["fraction"] == pytest.approx(0.988, abs=5e-4)
    assert rows[0.999]["fraction"] == pytest.approx(0.854, abs=5e-4)  # near the hard Q*: over-confident decoding
    assert rows[0.9]["V(s0)"] == pytest.approx(0.628, abs=5e-4)


# ---------------------------------------------------------------------- the data
def test_offline_data(kl_env, kl_tree):
    env, tree = kl_env, kl_tree
    data = ilql.OfflineData.from_policy(env, tree, tree.reference, 4000, seed=0)
    assert data.tokens.shape == (4000, 5) and data.alive.all() and data.terminated[:, -1].all()
    texts = [env.tokenizer.decode(row) for row in data.tokens[:50].tolist()]
    again = ilql.OfflineData.from_texts(env, texts)  # the environment's reward object, called on every step
    torch.testing.assert_close(again.rewards, data.rewards[:50])
    assert torch.equal(again.actions, data.actions[:50])
    empirical, counts = data.empirical_policy(tree)
    assert counts[0] == 4000
    assert np.abs(empirical[0] - tree.reference[0]).max() < 4 * np.sqrt(0.25 / 4000)
    assert set(data.states(tree).tolist()) >= {0} and len(data.states(tree)) <= tree.n_states


def test_bad_input(kl_env, kl_tree):
    env = kl_env
    with pytest.raises(ValueError, match="'x', which is not in the action set"):
        ilql.OfflineData.from_texts(env, ["hathe", "xathe"])
    with pytest.raises(ValueError, match="episodes have 1 to 5"):
        ilql.OfflineData.from_texts(env, ["hathehat"])
    with pytest.raises(ValueError, match="does not end with the stop token"):
        ilql.OfflineData.from_texts(env, ["hat"])
    with pytest.raises(ValueError, match="not in the vocabulary"):
        ilql.OfflineData.from_texts(env, ["hath\u00e9"])
    data = ilql.OfflineData.from_texts(env, ["hathe", "tithe"])
    for tau in (0.0, 1.0, 1.5, -0.1, float("nan")):
        with pytest.raises(ValueError, match="tau must be"):
            ilql.train(env, data, ilql.Config(iterations=1, tau=tau, progress=False))
        with pytest.raises(ValueError, match="tau must be"):
            ilql.expectile_values(kl_tree, kl_tree.reference, tau)
    for beta in (0.0, -0.1):
        with pytest.raises(ValueError, match="kl_coef must be"):
            ilql.train(env, data, ilql.Config(iterations=1, kl_coef=beta, progress=False))
        with pytest.raises(ValueError, match="kl_coef must be"):
            decoding.guided_policy(kl_tree, kl_tree.kl_regularised_optimum(BETA).Q, beta)
    with pytest.raises(ValueError, match="kl_coef must be"):
        ilql.train(lmenv.learners.documented_env(kl_coef=0.0), data, ilql.Config(iterations=1, progress=False))
    outside = ilql.OfflineData(data.tokens, data.actions + 8, data.rewards, data.terminated, data.alive)
    with pytest.raises(ValueError, match=r"indices in \[0, 8\)"):
        ilql.train(env, outside, ilql.Config(iterations=1, progress=False))
    fields = ("tokens", "actions", "rewards", "terminated", "alive")
    short = ilql.OfflineData(*(getattr(data, f)[:, :3] for f in fields))
    with pytest.raises(ValueError, match="horizon 3"):
        ilql.train(env, short, ilql.Config(iterations=1, progress=False))
    with pytest.raises(ValueError, match="shape"):
        decoding.guided_policy(kl_tree, np.zeros((3, 8)), BETA)


# ---------------------------------------------------------------------- training, scored exactly
SHORT = dict(iterations=200, learning_rate=3e-4, polyak=0.05, progress=False)  # 97.3/97.8/94.4%, seeds 0–2


def test_ilql_decoding_reaches_the_optimum_and_its_values_the_fixed_point(kl_env, kl_tree, kl_optimum):
    env, tree = kl_env, kl_tree
    data = ilql_experiments.documented_data(env, tree, "mixture", 2048, seed=0)
    result = ilql.train(env, data, ilql.Config(**SHORT), tree=tree)
    assert result.score.fraction >= 0.85, result.score
    assert result.rollout_time == 0 and result.episodes == 200 * 64
    # the scored policy is π ∝ π_ref exp(Q̂/β) of the target heads, at every state
    heads = ilql.tree_heads(result.model, tree)
    decoded = score(decoding.guided_policy(tree, heads.target_q, BETA), tree, BETA, kl_optimum)
    assert decoded.objective == pytest.approx(result.score.objective, abs=1e-6)
    # the learned V against the exact τ = 0.9 fixed point of the data's distribution
    data_policy, d = ilql.mixture_policy(tree, [tree.reference, kl_optimum.policy], [0.5, 0.5])
    Q, V = ilql.expectile_values(tree, data_policy, 0.9)
    errors = ilql.value_errors(tree, data.states(tree), heads.target_q, heads.v, Q, V, d)
    assert errors.v_visited_weighted < 0.1, errors  # 0.02–0.03 after the documented 1,500 steps
    assert errors.n_visited + errors.n_unvisited == int((~tree.mdp.terminal).sum())
    # rollouts sample the same decoding policy
    batch = lmenv.rollout.rollout(result.model, env, 256, torch.Generator().manual_seed(0))
    assert batch.episode_returns.mean() > 0.8


def test_ilql_with_the_reward_flipped_fails(kl_env, kl_tree):
    """Negative control: the same learner on the same episodes with −r learns to avoid "the"."""
    data = ilql_experiments.documented_data(kl_env, kl_tree, "mixture", 2048, seed=0)
    flipped = ilql.OfflineData(data.tokens, data.actions, -data.rewards, data.terminated, data.alive)
    result = ilql.train(kl_env, flipped, ilql.Config(**{**SHORT, "iterations": 50}), tree=kl_tree)  # −51% measured
    assert result.score.fraction < 0.0, result.score


def test_same_seed_same_run(kl_env, kl_tree):
    data = ilql_experiments.documented_data(kl_env, kl_tree, "reference", 256, seed=0)
    runs = [ilql.train(kl_env, data, ilql.Config(iterations=5, progress=False, seed=s)) for s in (3, 3, 4)]
    with torch.no_grad():
        v = [r.model.heads(data.tokens[:16]).q1.numpy() for r in runs]
    assert np.array_equal(v[0], v[1]) and not np.array_equal(v[0], v[2])


# ---------------------------------------------------------------------- value-guided decoding
def test_decoding_with_the_exact_soft_q_is_the_optimum(kl_tree, kl_optimum):
    tree = kl_tree
    live = ~tree.mdp.terminal
    policy = decoding.guided_policy(tree, kl_optimum.Q, BETA)
    np.testing.assert_allclose(policy[live], kl_optimum.policy[live], atol=1e-12)
    assert score(policy, tree, BETA, kl_optimum).fraction == pytest.approx(1.0, abs=1e-12)
    # a V head through the one-token look-ahead: with V*, the same policy
    via_v = decoding.guided_policy(tree, decoding.q_from_state_values(tree, kl_optimum.V), BETA)
    np.testing.assert_allclose(via_v[live], kl_optimum.policy[live], atol=1e-12)
    # with the reference's own values: one step of soft policy improvement, better than π_ref, below π*
    v_ref = rlcore.policy_evaluation(tree.task_mdp, tree.reference).V
    improved = score(decoding.guided_policy(tree, decoding.q_from_state_values(tree, v_ref), BETA), tree, BETA)
    assert improved.fraction == pytest.approx(0.910, abs=5e-4)


def jittered_tree(tree):
    """A copy of ``tree`` whose task rewards have small distinct noise added (all path returns differ)."""
    live = ~tree.mdp.terminal
    R = tree.task_mdp.R + np.random.default_rng(0).uniform(0, 1e-3, tree.task_mdp.R.shape) * live[:, None]
    copy = pycopy.copy(tree)
    object.__setattr__(copy, "task_mdp", rlcore.MDP(tree.task_mdp.P, R, 1.0, terminal=tree.mdp.terminal,
                                                    initial=tree.mdp.initial))
    if hasattr(tree, "live_task_rewards"):  # a tree that keeps its own reward arrays
        object.__setattr__(copy, "live_task_rewards", R[tree.live_states])
    return copy


def test_best_of_n_is_exact(kl_tree, kl_optimum):
    tree = kl_tree
    live = ~tree.mdp.terminal
    np.testing.assert_allclose(decoding.best_of_n_policy(tree, 1)[live], tree.reference[live], atol=1e-12)
    G = decoding.path_returns(tree)
    leaves = np.flatnonzero(tree.mdp.terminal)
    for n in (2, 16):
        policy = decoding.best_of_n_policy(tree, n)
        s = score(policy, tree, BETA, kl_optimum)
        assert s.kl_to_reference <= decoding.best_of_n_kl_bound(n) + 1e-12  # Beirami et al. (2024)
        # E[max of n returns] from the distribution of returns under π_ref
        p = visitation(tree, tree.reference)[leaves]
        g = np.round(G[leaves], 12)
        levels = np.unique(g)
        F = np.array([p[g <= x].sum() for x in levels])
        expected_max = (levels * np.diff(np.concatenate([[0.0], F**n]))).sum()
        assert s.task_return == pytest.approx(expected_max, abs=1e-9)
    assert score(decoding.best_of_n_policy(tree, 64), tree, BETA, kl_optimum).fraction > 0.99
    # with all returns distinct the bound is attained (the same tree, its rewards jittered)
    # all returns distinct (rewards jittered): P_n(y_i) = F_i^n − F_{i−1}^n in the order of the returns, and the
    # token-level KL (summed along the tree) is the sequence-level KL(P_n ‖ π_ref), just below the bound
    jittered = jittered_tree(tree)
    G = decoding.path_returns(jittered)[leaves]
    p = visitation(tree, tree.reference)[leaves]
    order = np.argsort(G)
    F = np.cumsum(p[order])
    for n in (2, 7):
        p_n = np.diff(np.concatenate([[0.0], F**n]))
        with np.errstate(divide="ignore", invalid="ignore"):
            sequence_kl = float(np.sum(np.where(p_n > 0, p_n * np.log(p_n / p[order]), 0.0)))
        kl = score(decoding.best_of_n_policy(jittered, n), jittered, BETA).kl_to_reference
        assert kl == pytest.approx(sequence_kl, abs=1e-9)
        assert decoding.best_of_n_kl_bound(n) - 0.01 < kl < decoding.best_of_n_kl_bound(n)


def test_sampled_decoders_run_on_the_environment(kl_env, kl_tree, kl_optimum):
    texts, returns = decoding.sample_best_of_n(kl_env, 16, outputs=6, seed=0)
    assert len(texts) == 6 and all(len(t) == 5 for t in texts)
    np.testing.assert_allclose(returns, completion_returns(kl_env, texts))
    Q = kl_optimum.Q
    texts = decoding.guided_decode(kl_env, lambda ps: Q[[kl_tree.index[p] for p in ps]], BETA, outputs=64, seed=0)
    assert np.mean(completion_returns(kl_env, texts)) > 0.8  # π* pays 0.994 on average
