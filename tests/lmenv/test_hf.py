"""lmenv.hf: a Hugging Face causal LM as the model of lmenv's environments.

A tiny randomly initialised GPT-2 is built in the test (nothing is downloaded), with lmenv's
character tokenizer of the Shakespeare corpus.
"""

import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

import lmenv
from lmenv.hf import HFCausalLM, HFTokenizer, load_hf

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def tokenizer():
    return lmenv.CharTokenizer.from_text(lmenv.load_corpus())


@pytest.fixture(scope="module")
def gpt2(tokenizer):
    torch.manual_seed(0)
    config = transformers.GPT2Config(n_layer=2, n_head=2, n_embd=32, vocab_size=tokenizer.vocab_size, n_positions=64,
                                     bos_token_id=0, eos_token_id=0)
    return transformers.GPT2LMHeadModel(config).eval()


@pytest.fixture(scope="module")
def model(gpt2):
    return HFCausalLM(gpt2)


def char_level_hf_tokenizer(tokenizer):
    """A Hugging Face fast tokenizer with the same ids as ``tokenizer``: one token per character."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

    backend = Tokenizer(models.WordLevel(vocab=dict(tokenizer.stoi), unk_token=None))
    backend.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")  # every character
    backend.decoder = decoders.Fuse()  # join the tokens without spaces
    return transformers.PreTrainedTokenizerFast(tokenizer_object=backend)


def test_config_and_device(model, tokenizer):
    assert model.config.vocab_size == tokenizer.vocab_size
    assert model.config.block_size == 64 and model.config.n_layer == 2
    assert next(model.parameters()).device.type == "cpu"
    assert HFCausalLM(model.model, vocab_size=10).config.vocab_size == 10


def test_logits_equal_the_models_own_forward(model, gpt2, tokenizer):
    idx = torch.tensor([tokenizer.encode("ROMEO:\nWhat"), tokenizer.encode("JULIET:\nAy,")])
    with torch.no_grad():
        logits, cache = model(idx)
        expected = gpt2(idx, use_cache=False).logits
    assert logits.shape == (2, 11, tokenizer.vocab_size)
    torch.testing.assert_close(logits, expected, rtol=0, atol=0)
    assert len(cache) == 2
    for k, v in cache:
        assert k.shape == v.shape == (2, 2, 11, 16)  # (B, n_head, T, head_size)


def test_incremental_logits_equal_full_recompute(model):
    torch.manual_seed(1)
    idx = torch.randint(0, model.config.vocab_size, (3, 12))
    with torch.no_grad():
        full, _ = model(idx)
        logits, cache = model(idx[:, :5])
        steps = [logits]
        for t in range(5, 12):
            before = [(k.clone(), v.clone()) for k, v in cache]
            logits, new_cache = model(idx[:, t:t + 1], cache=cache)
            for (k, v), (k0, v0) in zip(cache, before):  # the cache passed in is not modified
                assert torch.equal(k, k0) and torch.equal(v, v0)
            assert lmenv.cache_length(new_cache) == t + 1
            steps.append(logits)
            cache = new_cache
    torch.testing.assert_close(torch.cat(steps, dim=1), full, rtol=1e-5, atol=1e-5)


def test_select_cache_reorders_the_batch(model):
    torch.manual_seed(2)
    idx = torch.randint(0, model.config.vocab_size, (3, 6))
    nxt = torch.randint(0, model.config.vocab_size, (3, 1))
    order = torch.tensor([2, 0, 0])
    with torch.no_grad():
        _, cache = model(idx)
        logits, _ = model(nxt[order], cache=lmenv.select_cache(cache, order))
        expected, _ = model(torch.cat([idx, nxt], dim=1)[order])
    torch.testing.assert_close(logits[:, -1], expected[:, -1], rtol=1e-5, atol=1e-5)


def test_errors(model):
    with torch.no_grad():
        _, cache = model(torch.zeros(2, 60, dtype=torch.long))
        with pytest.raises(ValueError, match="block_size"):
            model(torch.zeros(2, 5, dtype=torch.long), cache=cache)
        with pytest.raises(ValueError, match="batch size"):
            model(torch.zeros(3, 1, dtype=torch.long), cache=cache)
        with pytest.raises(ValueError, match=r"\(B, T\)"):
            model(torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="vocab_size"):
        HFCausalLM(model.model, vocab_size=1000)


def test_token_env_on_the_adapter_passes_the_checker_and_matches_the_model(model, tokenizer):
    env = lmenv.TokenEnv(model=model, tokenizer=tokenizer, prompt="ROMEO:\n", max_new_tokens=3, actions="etaoinsh")
    check_env(env, skip_render_check=True)
    check_env(lmenv.TokenEnv(model=model, tokenizer=tokenizer, actions="vocab", max_new_tokens=3), skip_render_check=True)
    obs, info = env.reset(seed=0)
    with torch.no_grad():
        logits = model.model(torch.tensor([tokenizer.encode("ROMEO:\n")])).logits[0, -1]
    expected = torch.log_softmax(logits[env.action_tokens].double(), dim=0).numpy()
    np.testing.assert_allclose(info["ref_log_probs"], expected, atol=1e-6)


def test_to_mdp_on_a_tiny_tree(model, tokenizer):
    env = lmenv.TokenEnv(model=model, tokenizer=tokenizer, max_new_tokens=3, actions="ab",
                         reward=lmenv.rewards.ContainsWord("ab"))
    tree = lmenv.to_mdp(env)
    assert tree.n_states == 1 + 2 + 4 + 8
    np.testing.assert_allclose(tree.reference.sum(axis=1), 1.0)
    # π_ref of the state "ba" from the wrapped model directly
    s = tree.index[tuple(tokenizer.encode("ba"))]
    with torch.no_grad():
        logits = model.model(torch.tensor([tokenizer.encode("ROMEO:\nba")])).logits[0, -1]
    np.testing.assert_allclose(tree.reference[s], torch.softmax(logits[env.action_tokens].double(), 0).numpy(), atol=1e-6)
    solution = tree.kl_regularised_optimum(kl_coef=0.5)
    assert np.isfinite(solution.V).all()


def test_vector_env_on_the_adapter_matches_the_single_env(model, tokenizer):
    kwargs = dict(model=model, tokenizer=tokenizer, max_new_tokens=4, actions="etaoinsh")
    vec = lmenv.TokenVectorEnv(3, **kwargs)
    single = lmenv.TokenEnv(**kwargs)
    vec.reset(seed=0)
    for _ in range(6):  # crosses an autoreset
        obs, _, _, _, infos = vec.step(vec.sample_reference_actions())
        for i, row in enumerate(obs):
            prefix = tuple(int(t) for t in row if t != single.pad)
            if prefix and len(prefix) < 4:
                np.testing.assert_allclose(infos["ref_log_probs"][i], single.reference.log_probs(prefix), atol=1e-5)


def test_hf_tokenizer_matches_the_char_tokenizer(tokenizer):
    hf = HFTokenizer(char_level_hf_tokenizer(tokenizer))
    text = "ROMEO:\nWhat, ho!  Apothecary!\n"
    assert hf.vocab_size == tokenizer.vocab_size
    assert hf.encode(text) == tokenizer.encode(text)
    assert hf.decode(torch.tensor(tokenizer.encode(text))) == text
    assert hf.stoi == tokenizer.stoi


def test_load_hf_from_a_local_directory(tmp_path, gpt2, tokenizer):
    gpt2.save_pretrained(tmp_path)
    char_level_hf_tokenizer(tokenizer).save_pretrained(tmp_path)
    model, hf_tokenizer = load_hf(tmp_path, device="cpu")
    assert isinstance(hf_tokenizer, HFTokenizer) and model.config.vocab_size == tokenizer.vocab_size
    idx = torch.tensor([tokenizer.encode("ROMEO:\n")])
    with torch.no_grad():
        torch.testing.assert_close(model(idx)[0], gpt2(idx).logits)
    env = lmenv.TokenEnv(model=model, tokenizer=hf_tokenizer, actions="etaoinsh", max_new_tokens=2,
                         reward=lmenv.rewards.AvoidCharacters("e"))
    env.reset(seed=0)
    assert env.step(0)[1] == -1.0  # "e" is avoided
    with pytest.raises(FileNotFoundError, match="never downloads"):
        load_hf("gpt2")


def test_lmenv_imports_without_transformers():
    import subprocess
    import sys

    code = "import sys; sys.modules['transformers'] = None; import lmenv, lmenv.hf; print(lmenv.hf.HFCausalLM.__name__)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "HFCausalLM"
