"""Shared fixtures for the lmenv tests: one torch thread, the corpus encoded once, the documented
KL-regularised token task (β = 0.1) with its prefix tree and exact optimum, built once, and the
devices this machine has (``device``: every test that takes it runs once per device); a tiny random GPT
for tests where the model's values do not matter (``tiny``), and the documented task at horizon 3
(``small_env``, ``small_tree``).

The environments here use ``lmenv.default_device()`` (CUDA where there is one), so a test that
samples must make its generator on the model's device (``torch.Generator(device=model.device)``)
and bring tensors to the host before ``.numpy()``.
"""

import numpy as np
import pytest
import torch

from lmenv.corpus import load_corpus, train_val_split
from lmenv.tokenizer import CharTokenizer


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """The models here are tiny: a second thread gains little and, on a busy 2-core machine,
    makes every matrix product wait for a core (the suite ran 4x slower that way)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def corpus():
    """(tokenizer, train_ids, val_ids); the ids are int64 numpy arrays."""
    text = load_corpus()
    tok = CharTokenizer.from_text(text)
    train_text, val_text = train_val_split(text)
    lut = np.zeros(128, dtype=np.int64)  # the corpus is ASCII (checked in test_lm_tokenizer)
    lut[[ord(c) for c in tok.vocab]] = np.arange(tok.vocab_size)
    enc = lambda s: lut[np.frombuffer(s.encode("ascii"), dtype=np.uint8)]  # noqa: E731
    return tok, enc(train_text), enc(val_text)


def available_devices() -> list[str]:
    """"cpu", and "cuda" / "mps" where this machine has them."""
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices.append("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        devices.append("mps")
    return devices


@pytest.fixture(params=available_devices())
def device(request) -> torch.device:
    """Each device of this machine in turn (only the CPU on a machine without an accelerator)."""
    return torch.device(request.param)


KL_BETA = 0.1  # the documented task's β (docs/lm_policy_gradient.md)


@pytest.fixture(scope="module")
def tiny(request):
    """(model, tokenizer): a random GPT of 2 layers, 2 heads, width 32 (seed 0), fast where values do not
    matter; the tokenizer is the test module's ``VOCAB`` if it defines one, else the corpus's characters."""
    from lmenv.model import GPT, GPTConfig

    vocab = getattr(request.module, "VOCAB", None)
    torch.manual_seed(0)
    tokenizer = CharTokenizer(vocab) if vocab else CharTokenizer.from_text(load_corpus())
    model = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, block_size=32, n_layer=2, n_head=2, n_embd=32)).eval()
    return model, tokenizer


@pytest.fixture(scope="module")
def small_env(kl_env):
    """The documented task at horizon 3 (585 states), on the bundled model as ``kl_env`` (β = 0.1)."""
    import lmenv
    from lmenv import rewards as R

    return lmenv.TokenEnv(prompt="ROMEO:\nI ", max_new_tokens=3, actions="etaoinsh",
                          reward=R.ContainsWord("the") + R.AvoidCharacters("s", 0.2), kl_coef=KL_BETA)


@pytest.fixture(scope="module")
def small_tree(small_env):
    """Its prefix tree."""
    import lmenv

    return lmenv.to_mdp(small_env)


@pytest.fixture(scope="session")
def kl_env():
    """The documented token task with kl_coef = β = 0.1 (lmenv.learners.documented_env)."""
    from lmenv.learners import documented_env

    return documented_env(kl_coef=KL_BETA)


@pytest.fixture(scope="session")
def kl_tree(kl_env):
    """Its prefix tree (37,449 states)."""
    import lmenv

    return lmenv.to_mdp(kl_env)


@pytest.fixture(scope="session")
def kl_optimum(kl_tree):
    """The exact KL-regularised optimum, soft value iteration at temperature β."""
    return kl_tree.kl_regularised_optimum(KL_BETA)
