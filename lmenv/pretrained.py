"""The shipped model: a 0.34M-parameter character GPT trained on Shakespeare (see docs/lmenv_model.md)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import torch

from lmenv.checkpoint import load_checkpoint
from lmenv.model import GPT, default_device
from lmenv.tokenizer import CharTokenizer

PRETRAINED_NAME = "shakespeare_char"  # lmenv/checkpoints/shakespeare_char.{safetensors,json}


def load_pretrained(device: str | torch.device | None = None) -> tuple[GPT, CharTokenizer]:
    """Load the shipped checkpoint from the package files (no network); returns (model, tokenizer).

    The model is in eval mode on ``device`` (default: ``default_device()``). Its training metadata
    (validation loss, preset, seed) is the third value of
    ``load_checkpoint(pretrained_path())``.
    """
    model, tokenizer, _ = load_checkpoint(pretrained_path(), device=device or default_device())
    return model, tokenizer


def pretrained_path() -> Path:
    """Path of the shipped checkpoint, without suffix, inside the installed package."""
    return Path(str(resources.files("lmenv").joinpath("checkpoints", PRETRAINED_NAME)))
