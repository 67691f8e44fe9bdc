"""lmenv.export: the bundled model as a standard GPT-2 ``transformers`` model, and TRL on it (skipped without TRL).

Nothing is downloaded: the export is written to a temporary directory and loaded from there.
"""

import numpy as np
import pytest
import torch

import lmenv
from lmenv.export import (completion_returns, export_hf, gpt2_config, gpt2_state_dict, restrict_to_actions,
                          reward_function, to_hf)

transformers = pytest.importorskip("transformers")

TEXTS = ["ROMEO:\nI the wall and", "JULIET:\nAy, me! ever!!", "First Citizen:\nWe are"]


@pytest.fixture(scope="module")
def bundled():
    return lmenv.load_pretrained("cpu")


@pytest.fixture(scope="module")
def exported(bundled, tmp_path_factory):
    model, tokenizer = bundled
    return export_hf(tmp_path_factory.mktemp("export"), model, tokenizer)


def _batch(tokenizer):
    ids = [tokenizer.encode(t) for t in TEXTS]
    n = min(len(i) for i in ids)
    return torch.tensor([i[:n] for i in ids])


def test_logits_equal_lmenvs(bundled):
    model, tokenizer = bundled
    hf, _ = to_hf(model, tokenizer)
    assert type(hf).__name__ == "GPT2LMHeadModel"
    idx = _batch(tokenizer)
    with torch.no_grad():
        expected, _ = model(idx)
        got = hf(idx).logits
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)
    # incremental decoding with Hugging Face's own cache gives the same logits
    with torch.no_grad():
        first = hf(idx[:, :5], use_cache=True)
        rest = hf(idx[:, 5:], use_cache=True, **{("cache" if "cache" in first else "past_key_values"):
                                                 first["cache" if "cache" in first else "past_key_values"]})
    torch.testing.assert_close(rest.logits, expected[:, 5:], rtol=0, atol=1e-5)


def test_the_parity_check_can_fail(bundled):
    """Negative controls: GPT-2's default tanh GELU, or an untransposed attention weight, break the 1e-5 parity."""
    model, tokenizer = bundled
    idx = _batch(tokenizer)
    with torch.no_grad():
        expected, _ = model(idx)
    config = gpt2_config(model)
    config.activation_function = "gelu_new"  # GPT-2's default
    wrong_gelu = transformers.GPT2LMHeadModel(config).eval()
    wrong_gelu.load_state_dict(gpt2_state_dict(model), strict=False)
    untransposed = transformers.GPT2LMHeadModel(gpt2_config(model)).eval()
    state = gpt2_state_dict(model)
    state["transformer.h.0.attn.c_proj.weight"] = state["transformer.h.0.attn.c_proj.weight"].t().contiguous()
    untransposed.load_state_dict(state, strict=False)
    for broken in (wrong_gelu, untransposed):
        with torch.no_grad():
            assert (broken(idx).logits - expected).abs().max() > 1e-4


def test_from_pretrained_loads_the_export_without_a_network(exported, bundled, monkeypatch):
    """AutoModelForCausalLM / AutoTokenizer.from_pretrained(directory), with every socket connection refused."""
    import socket

    def refuse(*args, **kwargs):
        raise OSError("the network is switched off in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    model, tokenizer = bundled
    hf = transformers.AutoModelForCausalLM.from_pretrained(exported)
    hf_tokenizer = transformers.AutoTokenizer.from_pretrained(exported)
    assert type(hf).__name__ == "GPT2LMHeadModel" and hf.config.activation_function == "gelu"
    text = "ROMEO:\nI "
    assert hf_tokenizer.encode(text) == tokenizer.encode(text)
    assert hf_tokenizer.decode(tokenizer.encode("What, ho!\n")) == "What, ho!\n"
    idx = torch.tensor([tokenizer.encode(text)])
    with torch.no_grad():
        torch.testing.assert_close(hf(idx).logits, model(idx)[0], rtol=0, atol=1e-5)


def test_the_export_is_an_environment_model(exported, bundled):
    """lmenv.load_hf of the export: the same π_ref on the documented task's tree as the bundled model."""
    model, tokenizer = bundled
    hf_model, hf_tokenizer = lmenv.load_hf(exported, device="cpu")
    assert hf_tokenizer.encode("ROMEO:\nI ") == tokenizer.encode("ROMEO:\nI ")
    kwargs = dict(prompt="ROMEO:\nI ", max_new_tokens=3, actions="etaoinsh")
    ours = lmenv.to_mdp(lmenv.TokenEnv(model=model, tokenizer=tokenizer, **kwargs))
    theirs = lmenv.to_mdp(lmenv.TokenEnv(model=hf_model, tokenizer=hf_tokenizer, **kwargs))
    np.testing.assert_allclose(theirs.reference, ours.reference, atol=1e-5)


def test_restrict_to_actions(bundled):
    model, tokenizer = bundled
    env = lmenv.TokenEnv(model=model, tokenizer=tokenizer, prompt="ROMEO:\nI ", actions="etaoinsh", max_new_tokens=3)
    hf, _ = to_hf(model, tokenizer)
    restrict_to_actions(hf, env.action_tokens)
    head = hf.get_output_embeddings()
    assert head.bias is not None and not head.bias.requires_grad
    idx = torch.tensor([tokenizer.encode("ROMEO:\nI ")])
    with torch.no_grad():
        probs = torch.softmax(hf(idx).logits[0, -1].double(), -1)
    np.testing.assert_allclose(probs[env.action_tokens].numpy(), np.exp(env.reference.log_probs(())), atol=1e-6)
    assert float(probs.sum() - probs[env.action_tokens].sum()) < 1e-12
    out = hf.generate(idx, max_new_tokens=5, do_sample=True, pad_token_id=0)
    assert set(out[0, idx.shape[1]:].tolist()) <= set(env.action_tokens.tolist())
    with pytest.raises(ValueError, match="action_tokens"):
        restrict_to_actions(hf, [100])
    with pytest.raises(ValueError, match="penalty"):
        restrict_to_actions(hf, env.action_tokens, penalty=-1.0)


def test_completion_returns_are_what_the_environment_pays(bundled):
    model, tokenizer = bundled
    reward = lmenv.rewards.ContainsWord("the") + lmenv.rewards.AvoidCharacters("s", 0.2)
    env = lmenv.TokenEnv(model=model, tokenizer=tokenizer, prompt="ROMEO:\nI ", actions="etaoinsh", max_new_tokens=5,
                         reward=reward)
    texts = ["hathe", "sssss", "these", "atone"]
    expected = []
    for text in texts:
        env.reset(seed=0)
        total = 0.0
        for ch in text:
            total += env.step(int(np.flatnonzero(env.action_tokens == tokenizer.stoi[ch])[0]))[1]
        expected.append(total)
    np.testing.assert_allclose(completion_returns(env, texts), expected)
    assert expected == pytest.approx([1.0, -1.0, 0.8, 0.0])
    fn = reward_function(env)
    assert fn(prompts=[env.prompt] * 4, completions=texts) == pytest.approx(expected)
    with pytest.raises(ValueError, match="not the environment's prompt"):
        fn(prompts=["JULIET:\n"], completions=["hathe"])


def test_trl_grpo_on_the_export_scored_by_the_oracle(tmp_path, bundled):
    """The smallest TRL run: GRPO on the exported model (documented task, CPU), scored and checked by the oracle."""
    pytest.importorskip("trl")
    pytest.importorskip("datasets")
    from lmenv.export import trl_grpo_kl_loss, trl_grpo_trainer
    from lmenv.learners import documented_env
    from lmenv.oracle import Oracle

    model, tokenizer = bundled
    directory = export_hf(tmp_path / "model", model, tokenizer)
    env = documented_env()
    oracle = Oracle(env)
    trainer = trl_grpo_trainer(env, directory, tmp_path / "out", max_steps=12, seed=0)  # 84.5% when measured
    before = oracle.evaluate(trainer.model)
    assert abs(before.fraction - (-0.0545 / 0.7210)) < 1e-3  # untrained: π_ref exactly
    trainer.train()
    after = oracle.evaluate(trainer.model)
    assert after.fraction > 0.5, after
    assert after.mass_outside_actions < 1e-6  # the restriction held during training
    # TRL's KL term (k3 as a loss, β × the mean over the B·H tokens: scale β/H) does not estimate ∇KL(π ‖ π_ref)
    check = oracle.check_loss(trainer.model, trl_grpo_kl_loss(trainer), target="kl", n_batches=32, batch_size=64,
                              scale=env.kl_coef / env.max_new_tokens)
    assert check.verdict == "biased", check
