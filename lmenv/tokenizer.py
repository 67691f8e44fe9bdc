"""A character-level tokenizer: one token id per distinct character, in sorted order."""

from __future__ import annotations

from collections.abc import Iterable


class CharTokenizer:
    """Maps characters to ids ``0 .. vocab_size - 1`` and back.

    ``vocab`` is the string of characters in id order, so ``vocab[i]`` is the character of id ``i``;
    it is all a checkpoint needs to store to rebuild the tokenizer.
    """

    def __init__(self, vocab: str):
        if len(set(vocab)) != len(vocab):
            raise ValueError("vocab has repeated characters")
        if not vocab:
            raise ValueError("vocab is empty")
        self.vocab = vocab
        self.stoi = {ch: i for i, ch in enumerate(vocab)}
        self.itos = dict(enumerate(vocab))

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        """The tokenizer whose vocabulary is the sorted set of characters of ``text``."""
        return cls("".join(sorted(set(text))))

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def encode(self, s: str) -> list[int]:
        """Token ids of the characters of ``s``; raises ValueError on a character not in vocab."""
        try:
            return [self.stoi[c] for c in s]
        except KeyError as e:
            raise ValueError(f"character {e.args[0]!r} is not in the vocabulary") from None

    def decode(self, ids: Iterable[int]) -> str:
        """The string of the token ids ``ids`` (any iterable of ints, e.g. a 1-D tensor)."""
        try:
            return "".join(self.itos[int(i)] for i in ids)
        except KeyError as e:
            raise ValueError(f"token id {e.args[0]} is out of range 0..{self.vocab_size - 1}") from None

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"
