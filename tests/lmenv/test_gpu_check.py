"""bench/gpu_check.py on the CPU: its dry run goes through every step of the accelerator check.

The test suite step is skipped here (``--tests none``: CI runs the suite itself); the dry run of
the script with its smoke tests is ``.venv/bin/python bench/gpu_check.py --dry-run``.
"""

import hashlib
import importlib.util
import json
import math
from pathlib import Path

import pytest

import lmenv

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", REPO / "bench" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_dry_run_goes_through_every_step(gpu_check, tmp_path, capsys):
    bundled = Path(str(lmenv.pretrained_path()) + ".safetensors")
    before = digest(bundled)
    report = tmp_path / "gpu_check.json"
    results = gpu_check.main(["--dry-run", "--tests", "none", "--json", str(report)])
    printed = capsys.readouterr().out
    assert json.loads(report.read_text())["device"] == "cpu" == results["device"]
    assert results["tests"] == {"skipped": True}
    # pre-training ran on the device and wrote its checkpoint elsewhere than the bundled model
    assert results["pretrain"]["iterations"] > 0 and math.isfinite(results["pretrain"]["val_loss_final"])
    assert results["pretrain"]["written"] == ["check.json", "check.safetensors"]
    assert digest(bundled) == before
    # every speed row is measured against the raw decoding loop of the same run
    speed = results["speed"]
    assert speed["raw KV-cached decoding (reference)"]["ratio_to_raw"] == 1.0
    for name in ("TokenVectorEnv.step", "rollout (PolicyValueModel)", "to_mdp, 8 actions, H = 5 (37,449 states)",
                 "PPO training, float32"):
        assert speed[name]["tokens_per_second"] > 0 and 0 < speed[name]["ratio_to_raw"] < math.inf, name
        assert name in printed
    assert not any("bf16" in name for name in speed)  # mixed precision is a GPU option
    assert results["determinism"]["identical"]
    if not results["hugging_face"].get("skipped"):
        assert -1 < results["hugging_face"]["fraction"] <= 1


def test_the_command_line_options(gpu_check):
    with pytest.raises(SystemExit):
        gpu_check.main(["--tests", "some"])
    assert set(gpu_check.GPU_TEST_FILES) <= {p.name for p in (REPO / "tests" / "lmenv").glob("test_*.py")}
