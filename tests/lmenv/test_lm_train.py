import json

import torch

from lmenv.checkpoint import load_checkpoint
from lmenv.train import main, train


def test_same_seed_same_weights():
    m1, tok1, h1 = train("tiny", seed=3, max_iters=8, progress=False)
    m2, tok2, h2 = train("tiny", seed=3, max_iters=8, progress=False)
    m3, _, _ = train("tiny", seed=4, max_iters=8, progress=False)
    s1, s2, s3 = m1.state_dict(), m2.state_dict(), m3.state_dict()
    assert all(torch.equal(s1[k], s2[k]) for k in s1)  # bit-identical
    assert not all(torch.equal(s1[k], s3[k]) for k in s1)
    assert h1["val_loss"] == h2["val_loss"] and tok1.vocab == tok2.vocab


def test_tiny_training_learns_and_saves(tmp_path):
    model, tok, hist = train("tiny", seed=0, out=tmp_path / "tiny", progress=False)
    assert not model.training
    assert hist["iter"][0] == 0 and hist["iter"][-1] == 30
    assert hist["val_loss"][-1] < hist["val_loss"][0] - 0.5  # from ln(84) = 4.43 down
    loaded, tok2, meta = load_checkpoint(tmp_path / "tiny")
    assert tok2.vocab == tok.vocab
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), model.state_dict().values()))
    assert meta["preset"] == "tiny" and meta["seed"] == 0
    assert abs(meta["val_loss"] - hist["val_loss_final"]) < 1e-12


def test_cli(tmp_path, capsys):
    main(["--preset", "tiny", "--max-iters", "2", "--out", str(tmp_path / "cli"), "--no-progress"])
    meta = json.loads((tmp_path / "cli.json").read_text())["metadata"]
    assert meta["train_config"]["max_iters"] == 2
