import json

import torch

from lmenv.checkpoint import load_checkpoint
from lmenv.pretrain import main, pretrain


def test_same_seed_same_weights():
    m1, tok1, h1 = pretrain("tiny", seed=3, iterations=8, progress=False)
    m2, tok2, h2 = pretrain("tiny", seed=3, iterations=8, progress=False)
    m3, _, _ = pretrain("tiny", seed=4, iterations=8, progress=False)
    s1, s2, s3 = m1.state_dict(), m2.state_dict(), m3.state_dict()
    assert all(torch.equal(s1[k], s2[k]) for k in s1)  # bit-identical
    assert not all(torch.equal(s1[k], s3[k]) for k in s1)
    assert h1["val_loss"] == h2["val_loss"] and tok1.vocab == tok2.vocab


def test_tiny_training_learns_and_saves(tmp_path):
    model, tok, hist = pretrain("tiny", seed=0, out=tmp_path / "tiny", progress=False)
    assert not model.training
    assert hist["iter"][0] == 0 and hist["iter"][-1] == 30
    assert hist["val_loss"][-1] < hist["val_loss"][0] - 0.5  # from ln(84) = 4.43 down
    loaded, tok2, meta = load_checkpoint(tmp_path / "tiny")
    assert tok2.vocab == tok.vocab
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), model.state_dict().values()))
    assert meta["preset"] == "tiny" and meta["seed"] == 0
    assert abs(meta["val_loss"] - hist["val_loss_final"]) < 1e-12


def test_cli(tmp_path, capsys):
    main(["--preset", "tiny", "--iterations", "2", "--out", str(tmp_path / "cli"), "--no-progress"])
    meta = json.loads((tmp_path / "cli.json").read_text())["metadata"]
    assert meta["train_config"]["iterations"] == 2


def test_cli_never_writes_into_the_package_unless_asked(tmp_path, monkeypatch):
    import lmenv.pretrain as pretraining

    monkeypatch.chdir(tmp_path)
    shipped = pretraining.SHIPPED_CHECKPOINT.with_suffix(".safetensors").read_bytes()
    main(["--preset", "tiny", "--iterations", "1", "--no-progress"])
    assert (tmp_path / "lmenv_tiny.safetensors").exists() and (tmp_path / "lmenv_tiny.json").exists()
    assert pretraining.SHIPPED_CHECKPOINT.with_suffix(".safetensors").read_bytes() == shipped


def test_the_pretraining_module_is_not_shadowed():
    """`import lmenv.pretrain` gives the module, whose PRESETS the docs cite (a function of the
    same name re-exported by lmenv/__init__.py used to shadow it)."""
    import importlib
    import pkgutil
    import types

    import lmenv
    import lmenv.pretrain

    assert isinstance(lmenv.pretrain, types.ModuleType)
    assert set(lmenv.pretrain.PRESETS) == {"tiny", "default"}
    assert lmenv.pretrain.PRESETS["default"].model.n_embd == 80  # the shipped model's width
    for package in (lmenv, importlib.import_module("rlcore")):
        for info in pkgutil.iter_modules(package.__path__):
            value = getattr(package, info.name, None)
            assert value is None or isinstance(value, types.ModuleType), f"{package.__name__}.{info.name} is shadowed"
