"""The accelerator path, checked on the CPU: device placement, the attention's fused-kernel path,
float64 only on the host, mixed precision and compilation off on the CPU, deterministic and pure runs.

No test here needs a GPU. Device placement is checked by making torch's *default* device "meta"
(``with torch.device("meta")``) while the model is on a real device: a tensor that the code
creates without naming its device lands on "meta", where it has no data, and the computation
fails or leaves a meta tensor in the results. That is exactly the tensor that would sit on the
CPU beside a CUDA model. The tests that take the ``device`` fixture also run on every accelerator
the machine has (``bench/gpu_check.py`` runs this suite on a GPU).
"""

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

import lmenv
import lmenv.model
from lmenv import rewards as R
from lmenv.learners import a2c, common, ppo, reinforce
from lmenv.model import GPT, GPTConfig, gradient_step
from lmenv.policy import PolicyValueModel
from lmenv.rollout import Rollout, check_generator, rollout, sample_rollout

TASK = R.ContainsWord("the") + R.AvoidCharacters("s", 0.2)


def env_on(tiny, device, **kwargs):
    model, tokenizer = tiny
    if torch.device(device).type != "cpu":
        model = copy.deepcopy(model).to(device)
    kwargs = {"prompt": "ROMEO:\nI ", "max_new_tokens": 4, "actions": "etaoinsh", "reward": TASK, "kl_coef": 0.1,
              **kwargs}
    return lmenv.TokenEnv(model=model, tokenizer=tokenizer, **kwargs)


def tensors_of(batch: Rollout):
    return {name: value for name, value in vars(batch).items() if isinstance(value, torch.Tensor)}


# ---------------------------------------------------------------------------------------------- placement
def test_no_tensor_is_made_off_the_models_device(tiny, device):
    """Rollouts, the batched evaluation, π_ref, to_mdp and three learners, with "meta" as torch's default device."""
    env = env_on(tiny, device)
    vocab = env_on(tiny, device, actions="vocab", max_new_tokens=3)
    stop = env_on(tiny, device, actions="eth ", stop_token=" ")
    with torch.device("meta"):
        tree = lmenv.to_mdp(env)
        model = PolicyValueModel(env)
        batches = [rollout(model, env, 8, torch.Generator(device=device).manual_seed(0)),
                   rollout(PolicyValueModel(vocab), vocab, 4, torch.Generator(device=device).manual_seed(1),
                           reference_source="forward"),
                   rollout(PolicyValueModel(stop), stop, 8, torch.Generator(device=device).manual_seed(2)),
                   sample_rollout(model, env, 4, torch.Generator(device=device).manual_seed(3))]
        soft_q = PolicyValueModel(env, q_head=True, readout="soft_q", kl_coef=0.1)
        batches.append(rollout(soft_q, env, 4, torch.Generator(device=device).manual_seed(4)))
        out = model.evaluate(batches[0].tokens)
        log_probs = model.log_probs_of_prefixes([tree.prefixes[s] for s in tree.live_states[:50]])
        env.reference.log_probs((3, 1, 4))  # one token at a time from the parent's key/value cache
        results = [module.train(env, module.Config(iterations=2, batch_size=8, progress=False), tree=tree)
                   for module in (reinforce, a2c, ppo)]
    for batch in batches:
        for name, value in tensors_of(batch).items():
            assert value.device.type == device.type, (name, value.device)
    assert {t.device.type for t in (out.logits, out.values)} == {device.type}
    assert np.isfinite(log_probs).all() and np.isfinite(tree.reference).all()
    assert all(np.isfinite(r.score.objective) for r in results)


def test_gradient_step_makes_the_optimizers_state_beside_the_parameters():
    """Under another default device (here "meta"), state an optimizer makes lazily is on the parameters'
    device (torch 2.11's Adam made its step counts on the default device), and the step is the textbook
    one: gradient 2p = (2, 2, 2) clipped to norm 1, then p ← p − 0.1 · g."""
    class LazySGD(torch.optim.SGD):
        def step(self, closure=None):
            for p in self.param_groups[0]["params"]:
                self.state[p]["made_on"] = torch.zeros(()).device
            return super().step(closure)

    p = torch.nn.Parameter(torch.ones(3))
    optimizer = LazySGD([p], lr=0.1)
    with torch.device("meta"):
        gradient_step(optimizer, (p * p).sum(), max_grad_norm=1.0)
    assert optimizer.state[p]["made_on"].type == "cpu"
    assert torch.allclose(p.detach(), torch.full((3,), 1 - 0.1 / 3 ** 0.5))
    gradient_step(optimizer, (p * p).sum())  # no clipping: g = 2p
    assert torch.allclose(p.detach(), torch.full((3,), (1 - 0.1 / 3 ** 0.5) * 0.8))


def test_the_transformer_runs_on_the_meta_device():
    """Shapes only, on "meta": GPT.forward (with and without a cache) and PolicyValueModel.evaluate make
    every tensor on their input's device."""
    with torch.device("meta"):
        model = GPT(GPTConfig(vocab_size=13, block_size=24, n_layer=2, n_head=2, n_embd=16))
        x = torch.zeros(3, 7, dtype=torch.long)
        logits, cache, hidden = model(x, return_hidden=True)
        step, cache2 = model(x[:, :1], cache=cache)
        more, _ = model(x[:, :3], cache=cache)
    assert logits.device.type == step.device.type == hidden.device.type == "meta"
    assert logits.shape == (3, 7, 13) and step.shape == (3, 1, 13) and more.shape == (3, 3, 13)
    assert lmenv.cache_length(cache2) == 8


def test_a_generator_on_another_device_is_refused():
    check_generator(torch.Generator(), torch.device("cpu"))
    with pytest.raises(ValueError, match="generator is on cpu but the model is on cuda"):
        check_generator(torch.Generator(), torch.device("cuda"))
    with pytest.raises(TypeError, match="torch.Generator"):
        check_generator(np.random.default_rng(0), torch.device("cpu"))


# ---------------------------------------------------------------------------------------------- attention
class _Recorder:
    def __init__(self, attention):
        self.attention, self.calls = attention, []

    def __call__(self, q, k, v, attn_mask=None, is_causal=False, **kwargs):
        self.calls.append((q.shape[2], k.shape[2], attn_mask is not None, is_causal))
        return self.attention(q, k, v, attn_mask=attn_mask, is_causal=is_causal, **kwargs)


def test_attention_uses_is_causal_without_a_cache_and_no_mask_for_one_token(monkeypatch):
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=13, block_size=24, n_layer=2, n_head=4, n_embd=16)).eval()
    recorder = _Recorder(F.scaled_dot_product_attention)
    monkeypatch.setattr(lmenv.model.F, "scaled_dot_product_attention", recorder)
    x = torch.randint(0, 13, (3, 12))
    with torch.no_grad():
        full, _ = model(x)  # no cache: the whole sequence
        first, cache = model(x[:, :5])
        one, cache = model(x[:, 5:6], cache=cache)  # one token after a cache
        rest, _ = model(x[:, 6:], cache=cache)  # several tokens after a cache
    # (queries, keys, explicit mask?, is_causal?) per layer
    assert recorder.calls == [(12, 12, False, True)] * 2 + [(5, 5, False, True)] * 2 + [(1, 6, False, False)] * 2 \
        + [(6, 12, True, False)] * 2
    torch.testing.assert_close(torch.cat([first, one, rest], 1), full, atol=1e-5, rtol=0)


def test_dropping_the_causal_mask_is_caught(monkeypatch):
    """Negative control: attention without is_causal lets positions see the future, and the cache
    parity of test_lm_model fails."""
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=13, block_size=24, n_layer=2, n_head=4, n_embd=16)).eval()
    attention = F.scaled_dot_product_attention
    monkeypatch.setattr(lmenv.model.F, "scaled_dot_product_attention",
                        lambda q, k, v, attn_mask=None, is_causal=False, **kw: attention(q, k, v, attn_mask=attn_mask,
                                                                                         **kw))
    x = torch.randint(0, 13, (2, 10))
    with torch.no_grad():
        full, _ = model(x)
        first, cache = model(x[:, :4])
        rest, _ = model(x[:, 4:5], cache=cache)
    assert not torch.allclose(first[:, :3], full[:, :3], atol=1e-3)  # the early positions now read later tokens


# ---------------------------------------------------------------------------------------------- float64
class _Ops(TorchFunctionMode):
    """Records every torch call: (name, dtypes and devices of the tensors it returned)."""

    def __init__(self):
        super().__init__()
        self.ops = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        results = out if isinstance(out, (tuple, list)) else (out,)
        self.ops.append((getattr(func, "__name__", str(func)),
                         [(r.dtype, r.device.type) for r in results if isinstance(r, torch.Tensor)]))
        return out


@pytest.mark.parametrize("actions", ["etaoinsh", "vocab", "top_k"])
def test_reference_computes_in_float64_only_on_the_host(tiny, actions):
    kwargs = {"actions": "vocab", "top_k": 5} if actions == "top_k" else {"actions": actions}
    env = env_on(tiny, "cpu", **kwargs)
    ref = env.reference
    logits = torch.randn(6, ref.model.config.vocab_size)
    with _Ops() as recorder:
        table = ref.log_probs_from_logits(logits)
    names = [name for name, _ in recorder.ops]
    to_host = names.index("cpu")
    before = [dtype for _, outs in recorder.ops[:to_host] for dtype, _ in outs]
    assert torch.float64 not in before, recorder.ops  # nothing in float64 before the copy to the host
    # the numbers are those of computing everything in float64 (float32 -> float64 is exact)
    full = logits.double() / ref.temperature
    if ref.action_tokens is not None:
        full = full[:, torch.as_tensor(ref.action_tokens)]
    elif ref.top_k is not None:
        full = full.masked_fill(full < torch.topk(full, ref.top_k, -1).values[:, -1:], float("-inf"))
    np.testing.assert_array_equal(table, torch.log_softmax(full, -1).numpy())


# ---------------------------------------------------------------------------------------------- speed options
def test_mixed_precision_and_compile_are_off_on_the_cpu(tiny):
    env = env_on(tiny, "cpu")
    plain = PolicyValueModel(env)
    asked = PolicyValueModel(env, precision="bfloat16", torch_compile=True)
    assert (plain.precision, plain.torch_compile) == ("float32", False)
    assert (asked.precision, asked.torch_compile) == ("float32", False)  # off on the CPU, whatever is asked
    assert asked.body._compiled_call_impl is None
    tokens = torch.tensor([[0, 1, 2, 3], [4, 5, 6, 7]])
    torch.testing.assert_close(asked.evaluate(tokens).logits, plain.evaluate(tokens).logits, rtol=0, atol=0)
    with pytest.raises(ValueError, match="precision must be one of"):
        PolicyValueModel(env, precision="float16")
    settings = common.Settings()
    assert (settings.precision, settings.torch_compile, settings.deterministic) == ("float32", False, True)
    # Run applies the settings: still off on the CPU
    run = common.Run(reinforce.Config(precision="bfloat16", torch_compile=True, iterations=1, progress=False), asked,
                     0.1)
    assert (asked.precision, asked.torch_compile) == ("float32", False) and run.model is asked


def test_the_bfloat16_path_keeps_logits_heads_and_log_probs_in_float32(tiny):
    """The autocast branch itself (forced on the CPU here, where bf16 autocast also exists)."""
    env = env_on(tiny, "cpu")
    model = PolicyValueModel(env, q_head=True)
    tokens = torch.tensor([[0, 1, 2, 3], [4, 5, 6, 7]])
    exact = model.evaluate(tokens)
    model.precision = "bfloat16"  # what configure() sets on a GPU
    mixed = model.evaluate(tokens)
    assert {t.dtype for t in (mixed.logits, mixed.values, mixed.q)} == {torch.float32}
    torch.testing.assert_close(mixed.logits, exact.logits, atol=0.05, rtol=0)  # bf16 body, float32 head
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits, _ = model.body(tokens)
    assert logits.dtype == torch.float32  # GPT's LM head leaves autocast


# ---------------------------------------------------------------------------------------------- determinism and purity
def test_deterministic_algorithms_are_set_inside_and_restored_after():
    before = torch.are_deterministic_algorithms_enabled()
    with common.deterministic_algorithms(True):
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.is_deterministic_algorithms_warn_only_enabled()
    assert torch.are_deterministic_algorithms_enabled() == before
    with common.deterministic_algorithms(False):
        assert torch.are_deterministic_algorithms_enabled() == before


def test_a_cpu_run_leaves_the_global_settings_alone(tiny):
    """On the CPU the learners do not switch torch's deterministic mode, and no run touches the global RNG."""
    env = env_on(tiny, "cpu")
    seen = []
    run = common.Run(reinforce.Config(iterations=2, progress=False), PolicyValueModel(env), 0.1)
    for _ in run.iterations():
        seen.append(torch.are_deterministic_algorithms_enabled())
    assert seen == [False, False]
    state = torch.get_rng_state()
    common.seeded_generator(3, "cpu")
    reinforce.train(env, reinforce.Config(iterations=2, batch_size=8, progress=False))
    assert torch.equal(torch.get_rng_state(), state)


def test_runs_are_pure_functions_of_env_config_and_seed(tiny):
    """The same seed gives the same run whatever the global RNG's state; another seed another run."""
    env = env_on(tiny, "cpu")
    tree = lmenv.to_mdp(env)
    config = a2c.Config(iterations=3, batch_size=16, learning_rate=1e-3, progress=False)

    def scored(seed, global_seed):
        torch.manual_seed(global_seed)
        result = a2c.train(env, a2c.Config(**{**vars(config), "seed": seed}), tree=tree)
        return result.score.objective, result.history["charts/reward"][1].tolist()

    assert scored(0, 1) == scored(0, 12345)
    assert scored(1, 1) != scored(0, 1)


def test_to_mdp_batches_more_sequences_per_pass_on_an_accelerator(tiny, device):
    from lmenv.token_mdp import _default_batch_size

    assert _default_batch_size("cpu") == 2048 and _default_batch_size("cuda") > 2048
    tree = lmenv.to_mdp(env_on(tiny, device))
    assert tree.n_states == 1 + 8 + 64 + 512 + 4096
