import pytest
import torch

from lmenv.model import GPT, GPTConfig, cache_length, default_device, select_cache

CFG = GPTConfig(vocab_size=13, block_size=24, n_layer=2, n_head=4, n_embd=16)


@pytest.fixture
def model():
    torch.manual_seed(0)
    return GPT(CFG).eval()


def test_kv_cache_parity(model):
    """Decoding in chunks with the cache gives the logits of one full forward pass."""
    x = torch.randint(0, CFG.vocab_size, (3, 20))  # a batch of three different prefixes
    full, full_cache, full_hidden = model(x, return_hidden=True)
    assert full.shape == (3, 20, CFG.vocab_size)
    assert full_hidden.shape == (3, 20, CFG.n_embd)
    assert torch.allclose(model.lm_head(full_hidden), full)
    assert len(full_cache) == CFG.n_layer
    assert full_cache[0][0].shape == (3, CFG.n_head, 20, CFG.n_embd // CFG.n_head)

    pieces, hiddens, cache = [], [], None
    for a, b in [(0, 5), (5, 6), (6, 7), (7, 12), (12, 20)]:  # multi-token and one-token steps
        logits, cache, hidden = model(x[:, a:b], cache=cache, return_hidden=True)
        pieces.append(logits)
        hiddens.append(hidden)
    assert cache_length(cache) == 20
    assert torch.allclose(torch.cat(pieces, dim=1), full, atol=1e-5)
    assert torch.allclose(torch.cat(hiddens, dim=1), full_hidden, atol=1e-5)
    for (k1, v1), (k2, v2) in zip(cache, full_cache):
        assert torch.allclose(k1, k2, atol=1e-5) and torch.allclose(v1, v2, atol=1e-5)


def test_forward_does_not_modify_cache(model):
    x = torch.randint(0, CFG.vocab_size, (2, 6))
    _, cache = model(x)
    before = [(k.clone(), v.clone()) for k, v in cache]
    model(x[:, :2], cache=cache)
    assert all(torch.equal(k, k0) and torch.equal(v, v0) for (k, v), (k0, v0) in zip(cache, before))


def test_select_cache(model):
    """Selecting/reordering/repeating cache rows, then continuing, matches a full recompute."""
    x = torch.randint(0, CFG.vocab_size, (3, 10))
    _, cache = model(x[:, :7])
    index = torch.tensor([2, 0, 0, 1])
    sel = select_cache(cache, index)
    assert sel[0][0].shape[0] == 4
    logits, _ = model(x[index, 7:], cache=sel)
    full, _ = model(x[index])
    assert torch.allclose(logits, full[:, 7:], atol=1e-5)


def test_block_size_overflow(model):
    with pytest.raises(ValueError, match="block_size 24"):
        model(torch.zeros(1, 25, dtype=torch.long))
    _, cache = model(torch.zeros(1, 20, dtype=torch.long))
    model(torch.zeros(1, 4, dtype=torch.long), cache=cache)  # exactly block_size: fine
    with pytest.raises(ValueError, match="cached 20 \\+ new 5"):
        model(torch.zeros(1, 5, dtype=torch.long), cache=cache)
    with pytest.raises(ValueError, match="batch size"):
        model(torch.zeros(2, 1, dtype=torch.long), cache=cache)
    with pytest.raises(ValueError, match="\\(B, T\\)"):
        model(torch.zeros(5, dtype=torch.long))


def test_generate_greedy_matches_recompute(model):
    """generate (cached, and cropping past block_size) = the naive loop over full forward passes."""
    prompt = torch.randint(0, CFG.vocab_size, (2, 5))
    out = model.generate(prompt, max_new_tokens=30, temperature=0.0)  # 35 > block_size 24
    assert out.shape == (2, 35) and torch.equal(out[:, :5], prompt)
    idx = prompt
    for _ in range(30):
        logits, _ = model(idx[:, -CFG.block_size :])
        idx = torch.cat([idx, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(out, idx)


def test_generate_sampling_reproducible(model):
    prompt = torch.zeros(3, 1, dtype=torch.long)
    a = model.generate(prompt, 40, temperature=1.0, top_k=5, generator=torch.Generator().manual_seed(1))
    b = model.generate(prompt, 40, temperature=1.0, top_k=5, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    assert a.shape == (3, 41) and int(a.max()) < CFG.vocab_size


def test_config_validation_and_device():
    with pytest.raises(ValueError, match="divisible"):
        GPTConfig(n_embd=10, n_head=4)
    with pytest.raises(ValueError):
        GPTConfig(n_layer=0)
    assert default_device().type in ("cpu", "cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_parity(model):
    x = torch.randint(0, CFG.vocab_size, (2, 12))
    cpu, _ = model(x)
    gpu_model = model.to("cuda")
    gpu, cache = gpu_model(x[:, :6].cuda())
    gpu2, _ = gpu_model(x[:, 6:].cuda(), cache=cache)
    assert torch.allclose(torch.cat([gpu, gpu2], 1).cpu(), cpu, atol=1e-4)
