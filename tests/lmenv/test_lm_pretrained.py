"""The shipped checkpoint: loads fast, beats the bigram baseline, writes text, matches the docs."""

import math
import time
from pathlib import Path

import pytest
import torch

from lmenv.bigram import cross_entropy, fit_bigram
from lmenv.checkpoint import load_checkpoint
from lmenv.pretrained import load_pretrained, pretrained_path
from lmenv.pretrain import evaluate

VAL_SUBSET = 50_000  # validation characters scored in this test (the docs report the whole split)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "lmenv_model.md"


@pytest.fixture(scope="module")
def pretrained():
    return load_pretrained(device="cpu")


def test_load_pretrained_fast():
    load_pretrained(device="cpu")  # the first call may pay for file-system caches
    t0 = time.perf_counter()
    model, tok = load_pretrained(device="cpu")
    assert time.perf_counter() - t0 < 1.0
    assert not model.training and tok.vocab_size == model.config.vocab_size == 84
    assert 100_000 < model.num_params() < 1_000_000


def test_beats_bigram(pretrained, corpus):
    model, tok = pretrained
    vocab, train_ids, val_ids = corpus
    assert vocab.vocab == tok.vocab
    val = val_ids[:VAL_SUBSET]
    bigram = cross_entropy(fit_bigram(train_ids, tok.vocab_size, smoothing=1.0), val)
    lm = evaluate(model, torch.from_numpy(val))
    assert 2.0 < bigram < 3.0
    assert lm < bigram - 0.3, (lm, bigram)


def test_samples_are_text(pretrained):
    model, tok = pretrained
    device = next(model.parameters()).device
    prompt = torch.tensor([tok.encode("ROMEO.\n")], device=device)
    out = model.generate(prompt, 300, temperature=0.8, generator=torch.Generator(device=device).manual_seed(0))
    text = tok.decode(out[0, prompt.shape[1] :].tolist())
    assert len(text) == 300
    assert all(c.isprintable() or c == "\n" for c in text)
    assert text.count(" ") > 20
    assert sum(c.isalpha() for c in text) > 150
    words = text.split()
    assert sum(w.strip(".,;:!?'").lower() in {"the", "and", "to", "of", "i", "you", "my", "a"} for w in words) >= 3


def test_docs_report_the_measured_numbers():
    """docs/lmenv_model.md quotes the validation loss recorded in the shipped checkpoint."""
    _, _, meta = load_checkpoint(pretrained_path())
    docs = DOCS.read_text()
    assert f"{meta['val_loss']:.4f}" in docs
    assert f"{meta['val_loss'] / math.log(2):.4f}" in docs
    assert meta["preset"] == "default" and meta["seed"] == 0

