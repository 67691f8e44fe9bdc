import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lmenv.corpus import load_corpus, train_val_split
from lmenv.tokenizer import CharTokenizer


def test_corpus_and_split():
    text = load_corpus()
    assert len(text) == 5_057_321  # as documented in lmenv/data/README.md
    assert text.isascii()
    train, val = train_val_split(text)
    assert train + val == text
    assert len(train) == int(0.9 * len(text)) == 4_551_588
    with pytest.raises(ValueError):
        train_val_split(text, 1.5)


def test_vocab_and_round_trip():
    text = load_corpus()[:20_000]
    tok = CharTokenizer.from_text(text)
    assert tok.vocab == "".join(sorted(set(text)))
    assert tok.vocab_size == len(tok.vocab)
    ids = tok.encode(text)
    assert all(0 <= i < tok.vocab_size for i in ids)
    assert tok.decode(ids) == text
    assert [tok.stoi[c] for c in tok.vocab] == list(range(tok.vocab_size))
    assert CharTokenizer(tok.vocab).encode("to be") == tok.encode("to be")


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet="abc XYZ\n!", max_size=50))
def test_round_trip_property(s):
    tok = CharTokenizer("\n !XYZabc")
    assert tok.decode(tok.encode(s)) == s


def test_unknown_character_raises():
    tok = CharTokenizer.from_text("hello world")
    with pytest.raises(ValueError, match="'Z'"):
        tok.encode("hello Zorro")
    with pytest.raises(ValueError, match="out of range"):
        tok.decode([tok.vocab_size])
    with pytest.raises(ValueError):
        CharTokenizer("aa")
