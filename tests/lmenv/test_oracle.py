"""lmenv.oracle: exact J_β, KL, V/Q/A and ∇J of any policy, and the loss check (biased vs unbiased estimators).

A small task (4 actions, horizon 3: 85 states) keeps every check fast; the documented task appears
where its numbers are documented.
"""

import copy

import numpy as np
import pytest
import torch

import lmenv
import rlcore
from lmenv import rewards as R
from lmenv.oracle import Oracle, PolicyAdapter, TabularPolicy, sample_episodes
from lmenv.scoring import score, visitation

BETA = 0.1
REWARD = R.ContainsWord("he") + R.AvoidCharacters("s", 0.2)


@pytest.fixture(scope="module")
def oracle():
    return Oracle.for_task("ROMEO:\nI ", REWARD, kl_coef=BETA, max_new_tokens=3, actions="ehst")


@pytest.fixture(scope="module")
def bundled():
    return lmenv.load_pretrained("cpu")


def random_tabular(oracle, seed=0):
    rng = np.random.default_rng(seed)
    return TabularPolicy(oracle, init=[rng.normal(size=t.reference.shape) for t in oracle.trees])


def directional_fd(oracle, policy, parameters, direction, eps=1e-5):
    """(J(θ + εv) − J(θ − εv)) / 2ε of the oracle's exact J."""
    with torch.no_grad():
        for p, v in zip(parameters, direction):
            p += eps * v
    plus = oracle.evaluate(policy).objective
    with torch.no_grad():
        for p, v in zip(parameters, direction):
            p -= 2 * eps * v
    minus = oracle.evaluate(policy).objective
    with torch.no_grad():
        for p, v in zip(parameters, direction):
            p += eps * v
    return (plus - minus) / (2 * eps)


# ---------------------------------------------------------------------- exact scores and values
def test_the_reference_model_is_pi_ref_and_pi_star_is_optimal(oracle, bundled):
    model, _ = bundled
    report = oracle.evaluate(model)  # the bundled GPT over the whole vocabulary, restricted to the actions
    tree, opt = oracle.trees[0], oracle.optima[0]
    assert report.kl_to_reference < 1e-9
    assert report.objective == pytest.approx(rlcore.policy_evaluation(tree.task_mdp, tree.reference).V[0], abs=1e-9)
    assert report.optimum == pytest.approx(opt.V[0])
    assert report.kl_to_optimum == pytest.approx((report.optimum - report.objective) / BETA, abs=1e-9)
    assert 0.5 < report.mass_outside_actions < 1.0  # the model's probability of other characters (not the task's)
    best = oracle.evaluate([opt.policy])  # tables work too
    assert best.fraction == pytest.approx(1.0) and best.kl_to_optimum == pytest.approx(0.0, abs=1e-12)


def test_every_kind_of_policy_gives_the_same_answer(oracle, bundled):
    """lmenv's GPT, its exported GPT-2 (Hugging Face), lmenv's HF wrapper, and a function ids -> log-probs."""
    transformers = pytest.importorskip("transformers")  # noqa: F841
    from lmenv.export import to_hf
    from lmenv.hf import HFCausalLM

    model, tokenizer = bundled
    hf, _ = to_hf(model, tokenizer)

    def function(ids):
        with torch.no_grad():
            return torch.log_softmax(model(torch.tensor([ids]))[0][0, -1], -1)

    expected = oracle.policy_tables(model)[0]
    np.testing.assert_allclose(expected[~oracle.trees[0].mdp.terminal], oracle.trees[0].reference[
        ~oracle.trees[0].mdp.terminal], atol=1e-6)
    for policy in (hf, HFCausalLM(hf), function, lmenv.PolicyValueModel(oracle.envs[0])):
        np.testing.assert_allclose(oracle.policy_tables(policy)[0], expected, atol=1e-5)


def test_values_match_rlcore_and_the_optimum(oracle):
    policy = random_tabular(oracle)
    tree = oracle.trees[0]
    everything = [tree.prefixes[s] for s in range(tree.n_states)]
    values = oracle.values(policy, everything)
    table = oracle.policy_tables(policy)[0]
    np.testing.assert_allclose(values.V, tree.kl_regularised_value(table, BETA), atol=1e-12)
    live = ~tree.mdp.terminal
    # V = Σ_a π (Q − β log π/π_ref) and Σ_a π A = 0 (the soft advantage has mean 0 under π)
    log_ratio = np.log(table) - np.log(tree.reference)
    np.testing.assert_allclose((table * (values.Q - BETA * log_ratio)).sum(1)[live], values.V[live], atol=1e-12)
    np.testing.assert_allclose((table * values.A).sum(1)[live], 0.0, atol=1e-12)
    assert np.isnan(values.Q[~live]).all()
    # β → 0 is plain policy evaluation of the task rewards
    hard = Oracle(lmenv.TokenEnv(prompt="ROMEO:\nI ", max_new_tokens=3, actions="ehst", reward=REWARD, kl_coef=1e-12))
    np.testing.assert_allclose(hard.values(policy, everything).V, rlcore.policy_evaluation(tree.task_mdp, table).V,
                               atol=1e-9)
    # at π*: V = V*, A = 0; texts work as prefixes
    star = oracle.values([oracle.optima[0].policy], ["", "h", "he"])
    np.testing.assert_allclose(star.V, oracle.optimal_values(["", "h", "he"]).V, atol=1e-9)
    np.testing.assert_allclose(star.A[:2], 0.0, atol=1e-9)
    assert star.texts == ["", "h", "he"]


# ---------------------------------------------------------------------- the exact gradient
def test_exact_gradient_equals_finite_differences_tabular(oracle):
    policy = random_tabular(oracle)
    grad = oracle.gradient(policy)
    assert grad.value == pytest.approx(oracle.evaluate(policy).objective, abs=1e-12)
    for seed in range(3):
        v = torch.randn(policy.logits.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        assert abs(directional_fd(oracle, policy, [policy.logits], [v]) - float((grad.gradients[0] * v).sum())) < 1e-6


def test_exact_gradient_equals_finite_differences_on_the_gpt(oracle, bundled):
    """The bundled transformer in float64: ∇J through every prefix of the tree against finite differences of J."""
    model = copy.deepcopy(bundled[0]).double()
    params = list(model.parameters())
    grad = oracle.gradient(model)
    gen = torch.Generator().manual_seed(0)
    random = [torch.randn(p.shape, generator=gen, dtype=torch.float64) for p in params]
    norm = sum(float((v * v).sum()) for v in random) ** 0.5
    along_gradient = [g / grad.flat.norm() for g in grad.gradients]
    for direction in ([v / norm for v in random], along_gradient):
        exact = sum(float((g * v).sum()) for g, v in zip(grad.gradients, direction))
        assert abs(directional_fd(oracle, model, params, direction) - exact) < 1e-6
    assert sum(float((g * v).sum()) for g, v in zip(grad.gradients, along_gradient)) > 1e-3  # not a vacuous check


def test_the_gradient_is_the_policy_gradient_theorem(oracle):
    """∂J/∂z(s, a) = d_π(s) π(a|s) A^π(s, a) for the logits z of a tabular softmax policy (with the KL term)."""
    policy = random_tabular(oracle, seed=1)
    tree = oracle.trees[0]
    table = oracle.policy_tables(policy)[0]
    A = oracle.values(policy, [tree.prefixes[s] for s in range(tree.n_states)]).A
    live = ~tree.mdp.terminal
    expected = (visitation(tree, table)[:, None] * table * A)[live]
    np.testing.assert_allclose(oracle.gradient(policy).gradients[0].numpy(), expected, atol=1e-14)
    # ∇KL is 0 at π_ref, and points away from it elsewhere
    at_reference = TabularPolicy(oracle, init="reference")
    assert oracle.gradient(at_reference, target="kl").flat.abs().max() < 1e-12


def test_several_prompts_weight_their_objectives():
    two = Oracle.for_task(["ROMEO:\nI ", "JULIET:\n"], REWARD, kl_coef=BETA, max_new_tokens=2, actions="ehst",
                          weights=[0.25, 0.75])
    one = [Oracle.for_task(p, REWARD, kl_coef=BETA, max_new_tokens=2, actions="ehst")
           for p in ("ROMEO:\nI ", "JULIET:\n")]
    policy = random_tabular(two)
    report = two.evaluate(policy)
    tables = two.policy_tables(policy)
    parts = [o.evaluate([t]).objective for o, t in zip(one, tables)]
    assert report.objective == pytest.approx(0.25 * parts[0] + 0.75 * parts[1], abs=1e-12)
    v = torch.randn(policy.logits.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    exact = float((two.gradient(policy).gradients[0] * v).sum())
    assert abs(directional_fd(two, policy, [policy.logits], [v]) - exact) < 1e-6


# ---------------------------------------------------------------------- sampling and the loss check
def reward_to_go(x):
    return x.flip(1).cumsum(1).flip(1)


def reinforce_loss(policy, batch):
    """REINFORCE on the KL-penalised reward with reward-to-go: unbiased for −∇J_β."""
    log_pi = batch.log_probs(policy)
    with torch.no_grad():
        r = torch.where(batch.completion_mask, batch.rewards - batch.kl_coef * (log_pi - batch.ref_log_probs), 0.0)
    return -(log_pi * reward_to_go(r)).sum(1).mean()


def k3_loss(policy, batch):
    """k3 as a per-token loss (GRPO's KL term): its gradient is that of KL(π_ref ‖ π), not of KL(π ‖ π_ref)."""
    log_ratio = batch.ref_log_probs - batch.log_probs(policy)
    return ((log_ratio.exp() - log_ratio - 1) * batch.completion_mask).sum(1).mean()


def kl_reinforce_loss(policy, batch):
    """k1 with its score-function term and the KL of the later tokens: unbiased for ∇KL(π ‖ π_ref)."""
    log_pi = batch.log_probs(policy)
    with torch.no_grad():
        k1 = torch.where(batch.completion_mask, log_pi - batch.ref_log_probs, 0.0)
    return (log_pi * reward_to_go(k1)).sum(1).mean()


def test_sampling_is_exact(oracle):
    policy = random_tabular(oracle)
    table = oracle.policy_tables(policy)[0]
    tree = oracle.trees[0]
    episodes = sample_episodes(tree, table, 20000, np.random.default_rng(0))
    leaves = np.flatnonzero(tree.mdp.terminal)
    frequency = np.bincount(episodes.final, minlength=tree.n_states)[leaves] / 20000
    expected = visitation(tree, table)[leaves]
    assert np.abs(frequency - expected).max() < 4 * np.sqrt(expected.max() / 20000)
    batch = oracle.sample(policy, 256, rng=1)
    assert batch.completion_ids.shape == (256, 3) and batch.completion_mask.all()
    np.testing.assert_allclose(batch.log_probs(policy).detach().numpy(), batch.old_log_probs.numpy(), atol=1e-12)
    assert batch.returns.mean().item() == pytest.approx(score(table, tree, BETA).task_return, abs=0.1)
    assert [t for t in batch.texts if len(t) != 3] == []


def test_the_loss_check_passes_an_unbiased_estimator_and_flags_a_biased_one(oracle):
    policy = random_tabular(oracle)
    unbiased = oracle.check_loss(policy, reinforce_loss, n_batches=64, batch_size=64, scale=1.0)
    assert unbiased.verdict == "unbiased", unbiased
    assert unbiased.cosine_of_mean > 0.99
    kl_unbiased = oracle.check_loss(policy, kl_reinforce_loss, target="kl", n_batches=64, batch_size=64)
    assert kl_unbiased.verdict == "unbiased", kl_unbiased
    # k3 is unbiased for the KL's *value* (E_π[Σ_t k3_t] = KL(π ‖ π_ref)), so it claims scale 1; its gradient is not
    biased = oracle.check_loss(policy, k3_loss, target="kl", n_batches=64, batch_size=64, scale=1.0)
    assert biased.verdict == "biased", biased
    assert biased.cosine_of_mean < 0.9 and biased.relative_bias > 0.3
    fitted = oracle.check_loss(policy, k3_loss, target="kl", n_batches=64, batch_size=64)  # even at its best scale
    assert fitted.verdict == "biased", fitted
    # the same loss claiming the wrong direction (a loss to maximise passed as one to minimise)
    flipped = oracle.check_loss(policy, lambda p, b: -reinforce_loss(p, b), n_batches=16, batch_size=64)
    assert flipped.verdict == "biased"


def test_the_loss_check_on_the_transformer(oracle, bundled):
    """The bundled GPT moved away from π_ref: the k3 loss is flagged, REINFORCE passes."""
    model = copy.deepcopy(bundled[0])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(3):  # exact gradient ascent on J_β
        grad = oracle.gradient(model)
        for p, g in zip(model.parameters(), grad.gradients):
            p.grad = -g.float()
        optimizer.step()
    assert oracle.evaluate(model).kl_to_reference > 0.3
    assert oracle.check_loss(model, reinforce_loss, n_batches=24, batch_size=64, scale=1.0).verdict == "unbiased"
    k3 = oracle.check_loss(model, k3_loss, target="kl", n_batches=24, batch_size=64, scale=1.0)
    assert k3.verdict == "biased", k3


# ---------------------------------------------------------------------- bad input
def test_bad_input(oracle, bundled):
    model, tokenizer = bundled

    class WrongVocabulary(torch.nn.Module):
        def forward(self, ids):
            return torch.zeros(ids.shape[0], ids.shape[1], 50)

    class NaNLogits(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(()))

        def forward(self, ids):
            logits = torch.zeros(ids.shape[0], ids.shape[1], 84) + self.w
            logits[:, :, tokenizer.stoi["h"]] = float("nan")
            return logits

    with pytest.raises(ValueError, match="vocabulary has 84 tokens"):
        oracle.evaluate(WrongVocabulary())
    with pytest.raises(ValueError, match="NaN logits .* at 'ROMEO:\\\\nI '"):
        oracle.evaluate(NaNLogits())
    with pytest.raises(ValueError, match="NaN logits"):
        oracle.evaluate(lambda ids: np.full(84, np.nan))
    with pytest.raises(ValueError, match=r"max_entries"):
        Oracle.for_task("ROMEO:\n", REWARD, kl_coef=BETA, max_new_tokens=4, actions="vocab")
    with pytest.raises(ValueError, match="max_entries"):
        Oracle.for_task("ROMEO:\n", REWARD, kl_coef=BETA, max_new_tokens=3, actions="ehst", max_entries=100)
    for beta in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="kl_coef must be"):
            Oracle.for_task("ROMEO:\n", REWARD, kl_coef=beta, max_new_tokens=2, actions="ehst")
    with pytest.raises(ValueError, match="kl_coef must be"):
        Oracle(lmenv.TokenEnv(prompt="ROMEO:\n", max_new_tokens=2, actions="ehst"))  # kl_coef 0
    with pytest.raises(TypeError, match="torch module or a function"):
        PolicyAdapter(42, 84)
    with pytest.raises(KeyError, match="not a prefix"):
        oracle.values(model, ["xyz"])
    with pytest.raises(ValueError, match="target"):
        oracle.gradient(model, target="reward")
    with pytest.raises(ValueError, match="no parameters"):
        oracle.gradient(model, parameters=[])
    with pytest.raises(ValueError, match="score_model"):
        oracle.evaluate(lmenv.PolicyValueModel(oracle.envs[0], q_head=True, readout="soft_q", kl_coef=BETA))
    policy = random_tabular(oracle)
    with pytest.raises(TypeError, match="scalar tensor"):
        oracle.check_loss(policy, lambda p, b: b.log_probs(p), n_batches=4, batch_size=4)
    with pytest.raises(ValueError, match="tolerance"):
        oracle.check_loss(policy, reinforce_loss, tolerance=1.5)
    with pytest.raises(ValueError, match="exact gradient is 0"):
        oracle.check_loss(TabularPolicy(oracle, init="reference"), k3_loss, target="kl", n_batches=4, batch_size=4)
