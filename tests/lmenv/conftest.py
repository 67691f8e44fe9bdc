"""Shared fixtures for the lmenv tests: one torch thread, and the corpus encoded once."""

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
