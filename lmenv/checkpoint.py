"""Save and load a GPT and its tokenizer as ``<name>.safetensors`` + ``<name>.json``, no pickle.

``<name>.safetensors`` holds the weights (float32, the names of ``model.state_dict()``).
``<name>.json`` holds everything else::

    {
      "format": "lmenv-gpt",            # what this file is
      "format_version": 2,              # bumped on incompatible changes
      "config": {...},                  # every GPTConfig field
      "vocab": "\\n !...",              # CharTokenizer.vocab: the characters in id order
      "tensors_sha256": "9f2c...",      # tensors_digest of the weights (64 hex digits)
      "metadata": {...}                 # free-form, e.g. training preset, seed, val_loss
    }

``load_checkpoint`` checks both files against each other and raises ``CheckpointError`` (a
ValueError) naming the file, key or tensor at fault; it never runs code from the files. It
recomputes the digest of the tensors it read, so weights altered after saving (a flipped bit, a
partial copy, an edit of the wrong file) are refused rather than loaded. The digest guards against
accidents, not an adversary, who could rewrite the JSON as well.

Format version 1 (before digests) still loads, with a warning: those checkpoints were written by
earlier versions of ``save_checkpoint`` (e.g. a user's own ``lmenv.pretrain`` runs), and loading
then saving one again adds the digest.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from dataclasses import asdict, fields
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from lmenv.model import GPT, GPTConfig
from lmenv.tokenizer import CharTokenizer

FORMAT = "lmenv-gpt"
FORMAT_VERSION = 2  # 2: the JSON carries tensors_sha256; 1 (no digest) still loads, with a warning
_DIGEST = re.compile(r"[0-9a-f]{64}")
# The JSON types of the GPTConfig fields (bool is not accepted where an int is expected).
_CONFIG_TYPES = {
    "vocab_size": int,
    "block_size": int,
    "n_layer": int,
    "n_head": int,
    "n_embd": int,
    "dropout": float,
    "bias": bool,
}
assert set(_CONFIG_TYPES) == {f.name for f in fields(GPTConfig)}


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable, or inconsistent."""


def tensors_digest(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 of a state dict's tensors, 64 hex digits: each name, dtype, shape and raw bytes, in name order.

    It depends on the tensors only, not on how the safetensors file lays them out.
    """
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu").contiguous()
        h.update(json.dumps([name, str(t.dtype), list(t.shape)]).encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy())  # the raw bytes, any dtype
    return h.hexdigest()


def _paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """``x``, ``x.json`` or ``x.safetensors`` -> (``x.safetensors``, ``x.json``)."""
    p = Path(path)
    if p.suffix in (".json", ".safetensors"):
        p = p.with_suffix("")
    return p.with_name(p.name + ".safetensors"), p.with_name(p.name + ".json")


def save_checkpoint(
    model: GPT, tokenizer: CharTokenizer, path: str | os.PathLike, metadata: dict | None = None
) -> tuple[Path, Path]:
    """Write ``<path>.safetensors`` and ``<path>.json``; returns the two paths.

    ``path`` may also end in ``.safetensors`` or ``.json``. ``metadata`` must be JSON-serialisable.
    """
    if tokenizer.vocab_size != model.config.vocab_size:
        raise ValueError(
            f"tokenizer has {tokenizer.vocab_size} characters, model.config.vocab_size is "
            f"{model.config.vocab_size}"
        )
    st_path, json_path = _paths(path)
    st_path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()}
    doc = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": asdict(model.config),
        "vocab": tokenizer.vocab,
        "tensors_sha256": tensors_digest(tensors),
        "metadata": metadata or {},
    }
    # write to temporary names, then rename, so a crash never leaves half a checkpoint behind
    tmp_st, tmp_json = st_path.with_name(st_path.name + ".tmp"), json_path.with_name(json_path.name + ".tmp")
    save_file(tensors, str(tmp_st), metadata={"format": FORMAT})
    tmp_json.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp_st, st_path)
    os.replace(tmp_json, json_path)
    os.chmod(st_path, 0o644)  # safetensors creates the file readable by its owner only
    return st_path, json_path


def _has_type(value, typ: type) -> bool:
    """JSON type check: bool is not an int, and an int is acceptable where a float is expected."""
    if typ is bool or isinstance(value, bool):
        return typ is bool and isinstance(value, bool)
    if typ is float:
        return isinstance(value, (int, float))
    return isinstance(value, typ)


def _read_json(json_path: Path) -> tuple[GPTConfig, str, dict, str | None]:
    """(config, vocab, metadata, tensors_sha256 or None for format version 1), checked."""
    try:
        doc = json.loads(json_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{json_path}: not valid JSON ({e})") from e
    if not isinstance(doc, dict):
        raise CheckpointError(f"{json_path}: expected a JSON object, got {type(doc).__name__}")
    top_level = [("format", str), ("format_version", int), ("config", dict), ("vocab", str), ("metadata", dict)]
    for key, typ in top_level:
        if key not in doc:
            raise CheckpointError(f"{json_path}: missing key {key!r}")
        if not _has_type(doc[key], typ):
            raise CheckpointError(
                f"{json_path}: key {key!r} should be {typ.__name__}, got {type(doc[key]).__name__}"
            )
    if doc["format"] != FORMAT:
        raise CheckpointError(f"{json_path}: format is {doc['format']!r}, expected {FORMAT!r}")
    if doc["format_version"] not in (1, FORMAT_VERSION):
        raise CheckpointError(
            f"{json_path}: format_version {doc['format_version']} is not supported "
            f"(expected 1 or {FORMAT_VERSION})"
        )
    digest = None
    if doc["format_version"] >= 2:
        if "tensors_sha256" not in doc:
            raise CheckpointError(f"{json_path}: missing key 'tensors_sha256'")
        digest = doc["tensors_sha256"]
        if not isinstance(digest, str):
            raise CheckpointError(f"{json_path}: key 'tensors_sha256' should be str, got {type(digest).__name__}")
        if not _DIGEST.fullmatch(digest):
            raise CheckpointError(f"{json_path}: key 'tensors_sha256' should be 64 hexadecimal digits, got {digest!r}")

    cfg = doc["config"]
    for key, typ in _CONFIG_TYPES.items():
        if key not in cfg:
            raise CheckpointError(f"{json_path}: config is missing key {key!r}")
        v = cfg[key]
        if not _has_type(v, typ):
            raise CheckpointError(
                f"{json_path}: config[{key!r}] should be {typ.__name__}, got {type(v).__name__} {v!r}"
            )
    unknown = sorted(set(cfg) - set(_CONFIG_TYPES))
    if unknown:
        raise CheckpointError(f"{json_path}: config has unknown keys {unknown}")
    try:
        config = GPTConfig(**{k: (float(v) if _CONFIG_TYPES[k] is float else v) for k, v in cfg.items()})
    except ValueError as e:
        raise CheckpointError(f"{json_path}: invalid config: {e}") from e

    vocab = doc["vocab"]
    if len(set(vocab)) != len(vocab):
        raise CheckpointError(f"{json_path}: vocab has repeated characters")
    if len(vocab) != config.vocab_size:
        raise CheckpointError(
            f"{json_path}: vocab has {len(vocab)} characters but config.vocab_size is {config.vocab_size}"
        )
    return config, vocab, doc["metadata"], digest


def load_checkpoint(
    path: str | os.PathLike, device: str | torch.device | None = None
) -> tuple[GPT, CharTokenizer, dict]:
    """Load a checkpoint written by ``save_checkpoint``.

    Args:
        path: ``<name>``, ``<name>.safetensors`` or ``<name>.json``.
        device: where to put the model (default: CPU).
    Returns:
        (model in eval mode, tokenizer, metadata dict).
    Raises:
        CheckpointError: a file is missing, corrupt, or the two files disagree (including tensors
            whose SHA-256 digest is not the one in the JSON).
    Warns:
        UserWarning: for a checkpoint of format version 1, which has no digest to check.
    """
    st_path, json_path = _paths(path)
    for p in (json_path, st_path):
        if not p.is_file():
            raise CheckpointError(f"checkpoint file not found: {p}")
    config, vocab, metadata, digest = _read_json(json_path)

    try:
        tensors = load_file(str(st_path))
    except (SafetensorError, OSError) as e:
        raise CheckpointError(f"{st_path}: unreadable or corrupt safetensors file ({e})") from e

    wte = tensors.get("wte.weight")
    if wte is not None and wte.dim() == 2 and wte.shape[0] != len(vocab):
        raise CheckpointError(
            f"{json_path}: vocabulary has {len(vocab)} characters but tensor 'wte.weight' in "
            f"{st_path.name} has {wte.shape[0]} rows"
        )
    model = GPT(config)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    if missing:
        raise CheckpointError(
            f"{st_path}: missing tensor(s) {missing} required by the config in {json_path.name}"
        )
    unexpected = sorted(set(tensors) - set(expected))
    if unexpected:
        raise CheckpointError(
            f"{st_path}: unexpected tensor(s) {unexpected} for the config in {json_path.name}"
        )
    for name, want in expected.items():
        got = tensors[name]
        if got.shape != want.shape:
            raise CheckpointError(
                f"{st_path}: tensor {name!r} has shape {tuple(got.shape)}, the config in "
                f"{json_path.name} needs {tuple(want.shape)}"
            )
        if not got.is_floating_point():
            raise CheckpointError(f"{st_path}: tensor {name!r} has dtype {got.dtype}, expected a float dtype")
        if not torch.isfinite(got).all():
            raise CheckpointError(f"{st_path}: tensor {name!r} has non-finite values")
    if digest is None:
        warnings.warn(f"{json_path} has no digest of its tensors (format_version 1): they cannot be checked "
                      f"for corruption; load and save it again with save_checkpoint to add one", stacklevel=2)
    elif (found := tensors_digest(tensors)) != digest:
        raise CheckpointError(
            f"{st_path}: the tensors' SHA-256 digest {found} does not match the one in {json_path.name} "
            f"({digest}): the weights were altered or corrupted after saving"
        )
    model.load_state_dict(tensors, strict=True)
    model.to(device if device is not None else "cpu")
    model.eval()
    return model, CharTokenizer(vocab), metadata
