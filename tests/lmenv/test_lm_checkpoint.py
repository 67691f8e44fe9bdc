import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from lmenv.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from lmenv.model import GPT, GPTConfig
from lmenv.tokenizer import CharTokenizer

VOCAB = "\n !,.?abcdefghijklmnopqrstuvwxyz"
CFG = GPTConfig(vocab_size=len(VOCAB), block_size=16, n_layer=2, n_head=2, n_embd=8)


@pytest.fixture
def ckpt(tmp_path):
    """A saved random model; returns (model, base path)."""
    torch.manual_seed(0)
    model = GPT(CFG).eval()
    save_checkpoint(model, CharTokenizer(VOCAB), tmp_path / "m", metadata={"val_loss": 1.5, "note": "x"})
    return model, tmp_path / "m"


def edit_json(path, fn):
    doc = json.loads(path.with_suffix(".json").read_text())
    fn(doc)
    path.with_suffix(".json").write_text(json.dumps(doc))


def test_round_trip(ckpt):
    model, path = ckpt
    assert path.with_suffix(".safetensors").is_file() and path.with_suffix(".json").is_file()
    for p in (path, path.with_suffix(".json"), str(path.with_suffix(".safetensors"))):
        loaded, tok, meta = load_checkpoint(p)
        assert not loaded.training
        assert tok.vocab == VOCAB and loaded.config == CFG
        assert meta == {"val_loss": 1.5, "note": "x"}
        x = torch.randint(0, CFG.vocab_size, (2, 16))
        assert torch.equal(loaded(x)[0], model(x)[0])


def test_missing_files(ckpt, tmp_path):
    _, path = ckpt
    with pytest.raises(CheckpointError, match="not found.*nothere.json"):
        load_checkpoint(tmp_path / "nothere")
    path.with_suffix(".safetensors").unlink()
    with pytest.raises(CheckpointError, match="not found.*m.safetensors"):
        load_checkpoint(path)


def test_truncated_safetensors(ckpt):
    _, path = ckpt
    st = path.with_suffix(".safetensors")
    data = st.read_bytes()
    for cut in (4, 100, len(data) // 2, len(data) - 1):
        st.write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match="m.safetensors: unreadable or corrupt"):
            load_checkpoint(path)


def test_garbage_safetensors(ckpt):
    _, path = ckpt
    path.with_suffix(".safetensors").write_bytes(bytes(range(256)) * 10)
    with pytest.raises(CheckpointError, match="m.safetensors: unreadable or corrupt"):
        load_checkpoint(path)
    path.with_suffix(".safetensors").write_bytes(b"")
    with pytest.raises(CheckpointError, match="m.safetensors"):
        load_checkpoint(path)


def test_bad_json(ckpt):
    _, path = ckpt
    path.with_suffix(".json").write_text("{not json")
    with pytest.raises(CheckpointError, match="m.json: not valid JSON"):
        load_checkpoint(path)
    path.with_suffix(".json").write_text("[1, 2]")
    with pytest.raises(CheckpointError, match="expected a JSON object"):
        load_checkpoint(path)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d.pop("vocab"), "missing key 'vocab'"),
        (lambda d: d.pop("format_version"), "missing key 'format_version'"),
        (lambda d: d.update(format_version=99), "format_version 99 is not supported"),
        (lambda d: d.update(format="other"), "format is 'other'"),
        (lambda d: d.update(metadata=[1]), "'metadata' should be dict"),
        (lambda d: d["config"].pop("n_head"), "config is missing key 'n_head'"),
        (lambda d: d["config"].update(n_layer="2"), r"config\['n_layer'\] should be int"),
        (lambda d: d["config"].update(n_layer=2.0), r"config\['n_layer'\] should be int"),
        (lambda d: d["config"].update(bias=1), r"config\['bias'\] should be bool"),
        (lambda d: d["config"].update(extra=1), "unknown keys \\['extra'\\]"),
        (lambda d: d["config"].update(n_head=3), "invalid config.*not divisible"),
        (lambda d: d.update(vocab=d["vocab"] + "A"), "vocab has 33 characters but config.vocab_size is 32"),
        (lambda d: d.update(vocab="aa" + d["vocab"][2:]), "repeated characters"),
    ],
)
def test_json_errors(ckpt, edit, message):
    _, path = ckpt
    edit_json(path, edit)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)


def test_config_does_not_match_tensors(ckpt):
    _, path = ckpt
    edit_json(path, lambda d: d["config"].update(n_embd=12))
    with pytest.raises(CheckpointError, match=r"tensor 'wte.weight' has shape \(32, 8\).*needs \(32, 12\)"):
        load_checkpoint(path)
    edit_json(path, lambda d: d["config"].update(n_embd=8, n_layer=3))
    with pytest.raises(CheckpointError, match=r"missing tensor\(s\) \['h.2.attn.c_attn.bias'"):
        load_checkpoint(path)
    edit_json(path, lambda d: d["config"].update(n_layer=1))
    with pytest.raises(CheckpointError, match=r"unexpected tensor\(s\) \['h.1.attn.c_attn.bias'"):
        load_checkpoint(path)
    edit_json(path, lambda d: d["config"].update(n_layer=2, bias=False))
    with pytest.raises(CheckpointError, match="unexpected tensor"):
        load_checkpoint(path)


def test_wrong_vocabulary_size(ckpt):
    """A vocabulary (and config) of another size than the embedding table is reported as such."""
    _, path = ckpt
    edit_json(path, lambda d: (d.update(vocab=d["vocab"][:-1]), d["config"].update(vocab_size=31)))
    with pytest.raises(CheckpointError, match="vocabulary has 31 characters but tensor 'wte.weight'.* 32 rows"):
        load_checkpoint(path)


def test_bad_tensor_values(ckpt):
    _, path = ckpt
    st = path.with_suffix(".safetensors")
    tensors = load_file(str(st))
    tensors["ln_f.weight"][0] = float("nan")
    save_file(tensors, str(st))
    with pytest.raises(CheckpointError, match="'ln_f.weight' has non-finite values"):
        load_checkpoint(path)
    tensors["ln_f.weight"] = torch.ones(8, dtype=torch.int64)
    save_file(tensors, str(st))
    with pytest.raises(CheckpointError, match="'ln_f.weight' has dtype torch.int64"):
        load_checkpoint(path)


def test_checkpoint_error_is_value_error():
    assert issubclass(CheckpointError, ValueError)


def test_save_rejects_mismatched_tokenizer(tmp_path):
    with pytest.raises(ValueError, match="vocab_size"):
        save_checkpoint(GPT(CFG), CharTokenizer("abc"), tmp_path / "x")
