"""The transformer as a policy: the network, batched rollouts, exact scores, GAE, Monte Carlo values.

The documented task (docs/token_mdp.md) with β = 0.1: prompt "ROMEO:\\nI ", actions "etaoinsh",
horizon 5, reward ContainsWord("the") + AvoidCharacters("s", 0.2).
"""

import numpy as np
import pytest
import torch

import lmenv
import rlcore as rl
from lmenv import rewards as R
from lmenv.learners import common
from lmenv.monte_carlo import monte_carlo_value
from lmenv.policy import PolicyValueModel
from lmenv.rollout import rollout
from lmenv.scoring import score, score_model, tree_policy, visitation
from rlcore.policy_gradient import discounted_occupancy

BETA = 0.1


@pytest.fixture(scope="module")
def model(kl_env):
    return PolicyValueModel(kl_env)


@pytest.fixture(scope="module")
def untrained_policy(model, kl_tree):
    return tree_policy(model, kl_tree)


def test_untrained_network_is_the_reference(kl_env, kl_tree, kl_optimum, model, untrained_policy):
    policy = untrained_policy
    np.testing.assert_allclose(policy, kl_tree.reference, atol=1e-5)
    s = score(policy, kl_tree, optimum=kl_optimum)
    assert s.optimum == pytest.approx(0.7210, abs=1e-4)
    assert s.objective == pytest.approx(-0.0545, abs=1e-4)  # J_β(π_ref) = V^π_ref: no KL
    assert s.kl_to_reference == pytest.approx(0.0, abs=1e-6)
    assert s.fraction < 0
    # the reference model itself is not a parameter of the trained network
    assert all(p is not q for p in model.parameters() for q in kl_env.reference.model.parameters())


def test_kl_to_optimum_both_ways(kl_tree, kl_optimum):
    """V*_β(s_0) − J_β(π) = β · E_π[Σ_t KL(π(·|s_t) ‖ π*(·|s_t))] for any π."""
    rng = np.random.default_rng(0)
    S, A = kl_tree.reference.shape
    uniform = np.full((S, A), 1.0 / A)
    mixture = 0.5 * kl_optimum.policy + 0.5 * kl_tree.reference
    random_policy = rng.dirichlet(np.ones(A), size=S)
    for policy in (kl_tree.reference, uniform, mixture, random_policy, kl_optimum.policy):
        s = score(policy, kl_tree, optimum=kl_optimum)
        assert s.kl_to_optimum == pytest.approx(s.kl_to_optimum_from_gap, abs=1e-8)
        assert s.kl_to_optimum >= -1e-12
    # the visitation-weighted sums agree with rlcore's policy evaluation on the tree, and the
    # visitation is rlcore's occupancy η (γ = 1)
    live = ~kl_tree.mdp.terminal
    for policy in (random_policy, mixture):
        np.testing.assert_allclose(visitation(kl_tree, policy)[live], discounted_occupancy(kl_tree.mdp, policy)[live],
                                   atol=1e-12)
        s = score(policy, kl_tree, optimum=kl_optimum)
        assert s.objective == pytest.approx(kl_tree.kl_regularised_value(policy, BETA)[0], abs=1e-10)
        assert s.task_return == pytest.approx(rl.policy_evaluation(kl_tree.task_mdp, policy).V[0], abs=1e-10)
    best = score(kl_optimum.policy, kl_tree, optimum=kl_optimum)
    assert best.fraction == pytest.approx(1.0, abs=1e-9) and best.kl_to_optimum == pytest.approx(0.0, abs=1e-9)
    hard = score(rl.value_iteration(kl_tree.task_mdp).policy, kl_tree, optimum=kl_optimum)
    assert hard.objective == pytest.approx(0.040, abs=1e-3)  # the hard optimum pays for its KL
    assert hard.task_return == pytest.approx(1.0)


def generator(model, seed: int) -> torch.Generator:
    """The sampling generator on the model's device (a CPU generator cannot drive a CUDA rollout)."""
    return torch.Generator(device=model.device).manual_seed(seed)


def test_rollout_pays_what_the_environment_pays(kl_env, kl_tree, model, untrained_policy):
    batch = rollout(model, kl_env, 16, generator(model, 0))
    assert batch.alive.all() and batch.terminated[:, -1].all() and not batch.terminated[:, :-1].any()
    np.testing.assert_array_equal(batch.tokens.cpu().numpy(), kl_env.action_tokens[batch.actions.cpu().numpy()])
    policy = untrained_policy
    single = lmenv.TokenEnv(prompt=kl_env.prompt, max_new_tokens=5, actions="etaoinsh", reward=kl_env.reward_fn,
                            kl_coef=BETA, reference=kl_env.reference)
    for b in range(16):
        single.reset(seed=b)
        for t in range(5):
            s = kl_tree.index[single.prefix]
            a = int(batch.actions[b, t])
            # the KV-cached lockstep rollout gives the policy of the batched tree evaluation
            np.testing.assert_allclose(batch.log_probs[b, t].exp().cpu().numpy(), policy[s], atol=1e-5)
            np.testing.assert_allclose(batch.ref_log_probs[b, t].exp().cpu().numpy(), kl_tree.reference[s], atol=1e-6)
            _, r, terminated, _, info = single.step(a)
            assert float(batch.env_rewards[b, t]) == pytest.approx(r, abs=1e-5)
            assert float(batch.rewards[b, t]) == pytest.approx(kl_tree.task_mdp.R[s, a], abs=1e-6)
            assert bool(batch.terminated[b, t]) == terminated
    # one full pass over the episodes gives the same log-probabilities and values as the rollout
    out = model.evaluate(batch.tokens)
    torch.testing.assert_close(torch.log_softmax(out.logits, -1), batch.log_probs, atol=1e-4, rtol=0)
    torch.testing.assert_close(out.values, batch.values)
    # the per-state KL is exact and ≈ 0 for the untrained network
    assert float(batch.kl.abs().max()) < 1e-4


def test_reference_sources_agree_and_vocab_actions(kl_env):
    vocab = lmenv.TokenEnv(prompt="ROMEO:\n", max_new_tokens=6, actions="vocab", reward=R.AvoidCharacters("e"),
                           kl_coef=0.05)
    net = PolicyValueModel(vocab)
    cached = rollout(net, vocab, 8, generator(net, 3), reference_source="cache")
    forward = rollout(net, vocab, 8, generator(net, 3), reference_source="forward")
    torch.testing.assert_close(cached.tokens, forward.tokens)
    torch.testing.assert_close(cached.ref_log_probs, forward.ref_log_probs, atol=1e-4, rtol=0)
    for b in range(8):
        prefix = tuple(cached.tokens[b, :3].tolist())
        np.testing.assert_allclose(forward.ref_log_probs[b, 3].cpu().numpy(), vocab.reference.log_probs(prefix),
                                   atol=1e-4)
    with pytest.raises(ValueError, match="top_k"):
        PolicyValueModel(lmenv.TokenEnv(prompt="ROMEO:\n", max_new_tokens=3, top_k=5))


def test_rollout_with_a_stop_token(kl_env):
    """Episodes that stop early stay in the batch with alive = False; rewards and flags match the env."""
    stop = lmenv.TokenEnv(prompt="ROMEO:\nI ", max_new_tokens=5, actions="eth ", stop_token=" ",
                          reward=R.ContainsWord("the") + R.AvoidCharacters("e", 0.1), kl_coef=BETA)
    net = PolicyValueModel(stop)
    batch = rollout(net, stop, 64, generator(net, 1))
    lengths = batch.alive.sum(1)
    assert lengths.min() < 5 and lengths.max() == 5  # some stopped early
    assert torch.equal(batch.terminated.sum(1).cpu(), torch.ones(64, dtype=torch.long))  # one terminal step each
    for b in range(64):
        stop.reset()
        for t in range(int(lengths[b])):
            _, r, terminated, _, _ = stop.step(int(batch.actions[b, t]))
            assert float(batch.env_rewards[b, t]) == pytest.approx(r, abs=1e-5)
            assert bool(batch.terminated[b, t]) == terminated
        dead = ~batch.alive[b]
        assert not batch.rewards[b, dead].any() and not batch.values[b, dead].any()
    advantages = common.generalized_advantage_estimation(common.kl_penalised_rewards(batch, BETA), batch.discount_t,
                                                         batch.values_to_horizon, 0.9)
    assert not advantages[~batch.alive].any()


def _gae_by_hand(r, v, terminated, gamma, lam):
    """The textbook backward loop, one episode and one step at a time."""
    B, H = r.shape
    out = np.zeros((B, H))
    for b in range(B):
        following = 0.0
        for t in reversed(range(H)):
            next_v = 0.0 if (terminated[b, t] or t == H - 1) else v[b, t + 1]
            keep = 0.0 if terminated[b, t] else 1.0
            delta = r[b, t] + gamma * next_v - v[b, t]
            following = delta + gamma * lam * keep * following
            out[b, t] = following
    return out


def gae(r, v, terminated, gamma, lam):
    """lmenv's GAE with the per-step discount γ (1 − terminated) and V(s_H) = 0."""
    discount_t = gamma * (~terminated).to(r.dtype)
    return common.generalized_advantage_estimation(r, discount_t, torch.cat([v, torch.zeros_like(v[:, :1])], 1), lam)


def returns_to_go(r, terminated, gamma):
    return common.discounted_returns(r, gamma * (~terminated).to(r.dtype))


def test_gae_and_reward_to_go_identities():
    rng = np.random.default_rng(0)
    r = torch.tensor(rng.normal(size=(32, 7)))
    v = torch.tensor(rng.normal(size=(32, 7)))
    terminated = torch.tensor(rng.random((32, 7)) < 0.2)
    terminated[:, -1] = True
    for gamma, lam in ((1.0, 0.9), (0.9, 0.5), (0.99, 1.0), (1.0, 0.0)):
        expected = _gae_by_hand(r.numpy(), v.numpy(), terminated.numpy(), gamma, lam)
        np.testing.assert_allclose(gae(r, v, terminated, gamma, lam).numpy(), expected, atol=1e-12)
    g = returns_to_go(r, terminated, 0.9)
    torch.testing.assert_close(g, gae(r, torch.zeros_like(v), terminated, 0.9, 1.0))  # λ = 1, V = 0
    torch.testing.assert_close(gae(r, v, terminated, 0.9, 1.0), g - v)  # λ = 1: G_t − V(s_t)
    next_v = torch.where(terminated, 0.0, torch.cat([v[:, 1:], torch.zeros(32, 1, dtype=v.dtype)], 1))
    torch.testing.assert_close(gae(r, v, terminated, 0.9, 0.0), r + 0.9 * next_v - v)  # λ = 0: δ_t


def test_gae_equals_rlcore_numpy_version():
    """The batched torch GAE and reward-to-go against rlcore's per-trajectory numpy estimators."""
    from rlcore import discounted_returns, generalized_advantage_estimation, lambda_returns

    rng = np.random.default_rng(1)
    r = torch.tensor(rng.normal(size=(16, 6)))
    v = torch.tensor(rng.normal(size=(16, 6)))
    terminated = torch.tensor(rng.random((16, 6)) < 0.25)
    terminated[:, -1] = True  # the horizon terminates every row
    for gamma, lam in ((1.0, 0.9), (0.95, 0.0), (0.9, 1.0)):
        advantages = gae(r, v, terminated, gamma, lam).numpy()
        returns = returns_to_go(r, terminated, gamma).numpy()
        for b in range(16):
            discount_t = gamma * (1.0 - terminated[b].numpy())
            values = np.append(v[b].numpy(), 0.0)  # V(S_0), …, V(S_T)
            np.testing.assert_allclose(advantages[b], generalized_advantage_estimation(r[b].numpy(), discount_t,
                                                                                       values, lam), atol=1e-12)
            np.testing.assert_allclose(advantages[b] + v[b].numpy(),
                                       lambda_returns(r[b].numpy(), discount_t, values, lam), atol=1e-12)
            np.testing.assert_allclose(returns[b], discounted_returns(r[b].numpy(), discount_t), atol=1e-12)


def test_monte_carlo_value_of_the_reference_converges(kl_env, kl_tree):
    task = lmenv.TokenEnv(prompt=kl_env.prompt, max_new_tokens=5, actions="etaoinsh", reward=kl_env.reward_fn,
                          reference=kl_env.reference)
    exact_task = rl.policy_evaluation(kl_tree.task_mdp, kl_tree.reference).V
    exact_paid = rl.policy_evaluation(kl_tree.mdp, kl_tree.reference).V  # with β log π_ref in the rewards
    for text, e, exact in (("", task, exact_task), ("t", kl_env, exact_paid)):
        prefix = tuple(kl_env.tokenizer.encode(text))
        est = monte_carlo_value(e, prefix, n=1024, seed=0)
        truth = exact[kl_tree.index[prefix]]
        assert abs(est.value - truth) < 4 * est.standard_error, (text, est, truth)
        assert est.standard_error < 0.03
        running = est.running_mean()
        assert running[-1] == pytest.approx(est.value)
        assert abs(running[-1] - truth) < np.abs(running[:64] - truth).max()  # the error shrinks with n


def test_score_model_is_score_of_tree_policy(kl_env, kl_tree, kl_optimum, model, untrained_policy):
    assert score_model(model, kl_tree, optimum=kl_optimum) == score(untrained_policy, kl_tree, optimum=kl_optimum)
