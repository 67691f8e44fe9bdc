"""Shared fixtures for the lmenv tests: one torch thread, the corpus encoded once, and the documented
KL-regularised token task (β = 0.1) with its prefix tree and exact optimum, built once."""

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


KL_BETA = 0.1  # the documented task's β (docs/lm_policy_gradient.md)


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
