"""The training text: Shakespeare's collected works (Globe edition), shipped with the package.

The file and its provenance are described in ``lmenv/data/README.md``. The split into training
and validation text is fixed: the last 10% of characters are the validation split.
"""

from __future__ import annotations

import gzip
from importlib import resources

CORPUS_FILE = "shakespeare_globe.txt.gz"  # inside the package folder lmenv/data/
VAL_FRACTION = 0.1  # the last 10% of characters are held out for validation


def load_corpus() -> str:
    """Return the whole corpus as one string (5,057,321 characters)."""
    data = resources.files("lmenv").joinpath("data", CORPUS_FILE).read_bytes()
    return gzip.decompress(data).decode("utf-8")


def train_val_split(text: str, val_fraction: float = VAL_FRACTION) -> tuple[str, str]:
    """Split ``text`` at character ``int((1 - val_fraction) * len(text))``.

    No shuffling: the training split is the first part, the validation split the rest, so the
    validation text is whole plays (and the end of one) that training never sees.

    Returns:
        (train_text, val_text), with ``train_text + val_text == text``.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    n = int((1.0 - val_fraction) * len(text))
    return text[:n], text[n:]
