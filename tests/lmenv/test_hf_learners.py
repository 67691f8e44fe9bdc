"""The learners on a Hugging Face model: REINFORCE, A2C, PPO and DQN train a tiny GPT-2 through
``lmenv.hf.HFCausalLM`` and are scored exactly on its prefix tree.

The GPT-2 (2 layers, width 32, random weights) is built here as in test_hf.py; nothing is
downloaded; its weights are drawn here, in a fixed order, so that they do not depend on the
version of transformers. Its π_ref is nearly uniform over the 8 actions; the task (write an "e"
within 3 characters, avoid "s"; β = 0.1) is one that π_ref meets a third of the time (it scores
30% of J_β(π*)), and a few iterations of 32 episodes bring every learner above 80%.
"""

import numpy as np
import pytest
import torch

import lmenv
from lmenv import rewards as R
from lmenv.hf import HFCausalLM
from lmenv.learners import a2c, dqn, ppo, reinforce
from lmenv.policy import PolicyValueModel
from lmenv.rollout import rollout
from lmenv.scoring import score, tree_policy

transformers = pytest.importorskip("transformers")

BETA = 0.1
CONFIGS = {  # a few iterations of 32 episodes; a larger step than the bundled model's defaults
    "reinforce": reinforce.Config(iterations=8, batch_size=32, learning_rate=1e-2, progress=False),
    "a2c": a2c.Config(iterations=8, batch_size=32, learning_rate=1e-2, progress=False),
    "ppo": ppo.Config(iterations=6, batch_size=32, learning_rate=3e-3, progress=False),
    "dqn": dqn.Config(iterations=20, batch_size=32, learning_rate=1e-2, learning_starts=1, progress=False),
}
MODULES = {"reinforce": reinforce, "a2c": a2c, "ppo": ppo, "dqn": dqn}


@pytest.fixture(scope="module")
def hf_env():
    tokenizer = lmenv.CharTokenizer.from_text(lmenv.load_corpus())
    config = transformers.GPT2Config(n_layer=2, n_head=2, n_embd=32, vocab_size=tokenizer.vocab_size, n_positions=64,
                                     bos_token_id=0, eos_token_id=0)
    gpt2 = transformers.GPT2LMHeadModel(config)
    # our own initialisation, in a fixed order: the same weights whatever transformers' version initialises
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in sorted(gpt2.named_parameters()):
            if name.endswith("bias"):
                p.zero_()
            elif ".ln_" in name:
                p.fill_(1.0)
            else:
                p.copy_(0.02 * torch.randn(p.shape, generator=generator))
    model = HFCausalLM(gpt2)
    return lmenv.TokenEnv(model=model, tokenizer=tokenizer, prompt="ROMEO:\nI ", max_new_tokens=3,
                          actions="etaoinsh", reward=R.ContainsWord("e") + R.AvoidCharacters("s", 0.2),
                          kl_coef=BETA)


@pytest.fixture(scope="module")
def hf_tree(hf_env):
    return lmenv.to_mdp(hf_env)


@pytest.fixture(scope="module")
def hf_optimum(hf_tree):
    return hf_tree.kl_regularised_optimum(BETA)


def test_the_adapter_gives_hidden_features_and_their_width(hf_env):
    model = hf_env.reference.model
    assert model.config.n_embd == 32
    idx = torch.tensor([hf_env.tokenizer.encode("ROMEO:\nI he")])
    with torch.no_grad():
        logits, cache, hidden = model(idx, return_hidden=True)
        step, _, step_hidden = model(idx[:, -1:], cache=[(k[:, :, :-1], v[:, :, :-1]) for k, v in cache],
                                     return_hidden=True)
    assert hidden.shape == (1, idx.shape[1], 32)
    # the hidden features are the input of GPT-2's LM head, and the cache gives the same at the last position
    torch.testing.assert_close(model.model.lm_head(hidden), logits, atol=1e-5, rtol=0)
    torch.testing.assert_close(step_hidden[:, -1], hidden[:, -1], atol=1e-5, rtol=0)


def test_the_untrained_network_is_the_reference_and_rollouts_match_the_full_pass(hf_env, hf_tree, hf_optimum):
    net = PolicyValueModel(hf_env)
    policy = tree_policy(net, hf_tree)
    np.testing.assert_allclose(policy, hf_tree.reference, atol=1e-6)
    s = score(policy, hf_tree, optimum=hf_optimum)
    assert s.kl_to_reference == pytest.approx(0.0, abs=1e-9) and 0.25 < s.fraction < 0.35
    batch = rollout(net, hf_env, 16, torch.Generator(device=net.device).manual_seed(0))
    out = net.evaluate(batch.tokens)  # one pass with the prompt's cache broadcast to the batch
    torch.testing.assert_close(torch.log_softmax(out.logits, -1), batch.log_probs, atol=1e-5, rtol=0)
    torch.testing.assert_close(out.values, batch.values)
    for b in range(16):  # the rollout pays what the tree says
        s = 0
        for t in range(3):
            a = int(batch.actions[b, t])
            assert float(batch.rewards[b, t]) == pytest.approx(hf_tree.live_task_rewards[hf_tree._live_row[s], a])
            s = hf_tree.child(s, a)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_each_learner_trains_the_hf_model_and_is_scored_exactly(name, hf_env, hf_tree, hf_optimum):
    untrained = score(hf_tree.reference, hf_tree, optimum=hf_optimum)
    result = MODULES[name].train(hf_env, CONFIGS[name], tree=hf_tree)
    s = result.score
    assert s.kl_to_optimum == pytest.approx(s.kl_to_optimum_from_gap, abs=1e-9)  # V*_β − J_β(π) = β KL(π ‖ π*)
    assert s.fraction > 0.7 > untrained.fraction + 0.35, (name, s, untrained)
    assert result.tokens == CONFIGS[name].iterations * CONFIGS[name].batch_size * 3
    # the reference model is untouched: it is not among the trained parameters
    assert all(p is not q for p in result.model.parameters() for q in hf_env.reference.model.parameters())


def test_a_learner_with_the_reward_reversed_does_not_improve(hf_env, hf_tree, hf_optimum):
    """Negative control: the same budget on −reward moves away from the optimum of +reward."""
    untrained = score(hf_tree.reference, hf_tree, optimum=hf_optimum)
    flipped = lmenv.TokenEnv(model=hf_env.reference.model, tokenizer=hf_env.tokenizer, prompt=hf_env.prompt,
                             max_new_tokens=3, actions="etaoinsh", reward=-1.0 * hf_env.reward_fn, kl_coef=BETA,
                             reference=hf_env.reference)
    result = reinforce.train(flipped, CONFIGS["reinforce"])
    s = score(tree_policy(result.model, hf_tree), hf_tree, optimum=hf_optimum)
    assert s.fraction < untrained.fraction


def test_hf_runs_are_deterministic(hf_env, hf_tree):
    config = reinforce.Config(iterations=3, batch_size=16, learning_rate=3e-3, progress=False, seed=7)
    first = reinforce.train(hf_env, config, tree=hf_tree)
    second = reinforce.train(hf_env, config, tree=hf_tree)
    assert first.score == second.score
