#!/usr/bin/env python
"""The accelerator check: lmenv's tests on the GPU, a short pre-training run, and the speed of the
environment, the rollouts, to_mdp and a learner against raw KV-cached decoding on the same device.

    .venv/bin/python bench/gpu_check.py                 # on a machine with a GPU: ~5 min
    .venv/bin/python bench/gpu_check.py --dry-run       # the CPU path of every step, < 1 min (CI runs it)
    .venv/bin/python bench/gpu_check.py --device cpu --quick --tests none

Steps (each prints its lines; ``--json PATH`` writes them all):

1. **tests** — ``pytest tests/lmenv/<files>`` in a subprocess; on a GPU machine the environments
   of the tests are on the GPU (``lmenv.default_device()``). ``--tests gpu`` (default) runs the
   files that exercise the device path, ``all`` every lmenv test, ``none`` skips.
2. **pre-training** — ``lmenv.pretrain.pretrain`` for a few hundred steps of the default preset
   on the device (the checkpoint goes to a temporary directory, never over the bundled model):
   steps/s and the validation loss.
3. **speed against raw decoding**, tokens/s at batch B on the same device; the reference is the
   bare model's KV-cached decoding loop (one prompt pass, its cache broadcast to B rows, then one
   one-token pass per step, sampling from softmax(logits)), the least any sampler must do:
   * ``TokenVectorEnv``: B environments stepped with π_ref's actions (full vocabulary, H = 16);
   * ``rollout``: ``lmenv.rollout.rollout`` of a ``PolicyValueModel`` (the same task, π_ref by
     one batched reference pass);
   * ``to_mdp``: the tokens of its batched forward passes per second (the 37,449-state tree,
     cold prefix cache; with ``--big`` also the 599,845-state full-vocabulary tree);
   * ``learner``: PPO's training tokens/s on the documented task (rollouts and updates), with
     float32 and, on a GPU, ``precision="bfloat16"`` with and without ``torch_compile=True``
     (a warm-up run first, which is where compilation happens).
   Rounds are interleaved; rows are medians and ratios medians of per-round ratios.
4. **determinism** — the same PPO run twice on the device: identical exact scores?
5. **Hugging Face** — a tiny GPT-2 (random weights, built here) trained by REINFORCE for a few
   iterations on the device and scored exactly (skipped without ``transformers``).

Only the CPU path of this script is exercised by CI (``tests/lmenv/test_gpu_check.py`` runs
``--dry-run``); the GPU numbers are whatever the machine it runs on measures.
"""

import os

os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # before torch touches cuBLAS: deterministic GEMMs

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing
sys.path.insert(0, str(REPO / "bench"))  # _common, also when this file is imported (tests/lmenv/test_gpu_check.py)

import lmenv  # noqa: E402
from lmenv import rewards  # noqa: E402
from lmenv.learners import documented_env, ppo, reinforce  # noqa: E402
from lmenv.policy import PolicyValueModel  # noqa: E402
from lmenv.rollout import rollout  # noqa: E402
from _common import interleaved_rates, raw_decode, sync  # noqa: E402

GPU_TEST_FILES = ["test_gpu_path.py", "test_lm_model.py", "test_pg_rollout.py", "test_learners.py", "test_hf.py",
                  "test_hf_learners.py", "test_token_mdp.py", "test_big_trees.py", "test_token_env.py"]
TASK = rewards.ContainsWord("the") + rewards.AvoidCharacters("s", 0.2)


# ---------------------------------------------------------------------- 1. tests
def run_tests(which: str, device, workers: int = 0) -> dict:
    if which == "none":
        return {"skipped": True}
    files = ["tests/lmenv"] if which == "all" else [f"tests/lmenv/{f}" for f in GPU_TEST_FILES]
    if which == "smoke":
        files = ["tests/lmenv/test_gpu_path.py::test_a_generator_on_another_device_is_refused",
                 "tests/lmenv/test_gpu_path.py::test_the_transformer_runs_on_the_meta_device"]
    start = time.perf_counter()
    parallel = ["-n", str(workers)] if workers > 0 else []  # pytest-xdist's workers share the one device
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *parallel, *files], cwd=REPO,
                          capture_output=True, text=True)
    summary = (proc.stdout.strip().splitlines() or ["(no output)"])[-1]
    print(f"pytest {' '.join(files) if which != 'gpu' else 'tests/lmenv (' + str(len(files)) + ' files)'}: "
          f"{summary} [{time.perf_counter() - start:.0f} s, exit {proc.returncode}]")
    if proc.returncode != 0:
        print(proc.stdout[-4000:])
        print(proc.stderr[-2000:])
    return {"files": files, "returncode": proc.returncode, "summary": summary}


# ---------------------------------------------------------------------- 2. pre-training
def pretraining(device, iterations: int, preset: str) -> dict:
    from lmenv.pretrain import pretrain

    with tempfile.TemporaryDirectory() as directory:
        start = time.perf_counter()
        _, _, history = pretrain(preset, device=device, iterations=iterations, out=Path(directory) / "check",
                                 progress=False)
        seconds = time.perf_counter() - start
        written = sorted(p.name for p in Path(directory).iterdir())
    out = {"preset": preset, "iterations": iterations, "seconds": seconds, "steps_per_second": iterations / seconds,
           "val_loss_final": history["val_loss_final"], "written": written}
    print(f"pretrain({preset!r}, iterations={iterations}) on {device}: {iterations / seconds:.1f} steps/s, "
          f"final validation loss {history['val_loss_final']:.3f} nats ({seconds:.1f} s; wrote {', '.join(written)} "
          "in a temporary directory)")
    return out


# ---------------------------------------------------------------------- 3. speed against raw decoding
def speed(device, batch: int, seconds: float, rounds: int, iterations: int, big: bool) -> dict:
    model, tokenizer = lmenv.load_pretrained(device=device)
    H = 16
    vocab_kwargs = dict(model=model, tokenizer=tokenizer, prompt="ROMEO:\n", max_new_tokens=H, actions="vocab",
                        reward=TASK, kl_coef=0.1)
    env = lmenv.TokenEnv(**vocab_kwargs)
    vec = lmenv.TokenVectorEnv(batch, remember_prefixes=False, **vocab_kwargs)
    policy = PolicyValueModel(env)
    g = torch.Generator(device=device).manual_seed(0)
    raw = raw_decode(model, env.reference.prompt_ids, batch, H, g)

    def vector_env():
        vec.reset(seed=0)
        for _ in range(H):
            vec.step(vec.sample_reference_actions())
        sync(device)
        return batch * H

    def rollouts():
        n = rollout(policy, env, batch, g, reference_source="forward").n_tokens
        sync(device)
        return n

    runs = {"raw KV-cached decoding (reference)": raw, "TokenVectorEnv.step": vector_env,
            "rollout (PolicyValueModel)": rollouts}
    table = interleaved_rates(runs, "raw KV-cached decoding (reference)", seconds, rounds)

    # to_mdp: the tokens of its batched forward passes per second, cold prefix cache
    trees = [("to_mdp, 8 actions, H = 5", dict(prompt="ROMEO:\nI ", max_new_tokens=5, actions="etaoinsh"))]
    if big:
        trees.append(("to_mdp, 84 actions, H = 3", dict(prompt="ROMEO:\n", max_new_tokens=3, actions="vocab")))
    raw_rate = table["raw KV-cached decoding (reference)"][0]
    for name, kwargs in trees:
        tree_env = lmenv.TokenEnv(model=model, tokenizer=tokenizer, reward=TASK, kl_coef=0.1, **kwargs)
        start = time.perf_counter()
        tree = lmenv.to_mdp(tree_env, max_states=10**7)
        sync(device)
        built = time.perf_counter() - start
        start = time.perf_counter()
        tree.kl_regularised_optimum(0.1)
        solved = time.perf_counter() - start
        tokens = int(tree.depth[tree.live_states].sum()) + tree.live_states.size  # prefix tokens + the prompt pass
        table[f"{name} ({tree.n_states:,} states)"] = (tokens / built, tokens / built / raw_rate)
        print(f"{name}: {tree.n_states:,} states built in {built:.2f} s (forward passes, rewards, arrays), "
              f"solved exactly in {solved:.2f} s")

    # one learner: PPO on the documented task, float32; bf16, with and without torch.compile, on an accelerator.
    # Each variant trains twice: the first run warms up (and compiles: compiled graphs are cached for the
    # second); the second run's rate is the row.
    doc = documented_env(model, tokenizer)
    lmenv.to_mdp(doc)  # warm prefix cache, as when training with a tree
    variants = {"PPO training, float32": {}}
    if device.type != "cpu":
        variants["PPO training, bf16"] = {"precision": "bfloat16"}
        variants["PPO training, bf16 + torch.compile"] = {"precision": "bfloat16", "torch_compile": True}
    for name, options in variants.items():
        try:
            torch._dynamo.reset()
            config = ppo.Config(iterations=iterations, batch_size=batch, progress=False, **options)
            warm_up, run = ppo.train(doc, config), ppo.train(doc, config)
            rate = run.tokens / run.wall_time
            table[name] = (rate, rate / raw_rate)
            graphs = torch._dynamo.utils.counters["stats"]["unique_graphs"] if options.get("torch_compile") else 0
            print(f"{name}: {iterations} iterations in {warm_up.wall_time:.1f} s (first run), then in "
                  f"{run.wall_time:.1f} s ({rate:,.0f} tokens/s)" + (f"; {graphs} graphs compiled" if graphs else ""))
        except Exception as error:  # report, do not stop the check
            print(f"{name}: FAILED {type(error).__name__}: {error}")
            table[name] = (float("nan"), float("nan"))

    print(f"\ntokens/s at B = {batch} on {device} (median of {rounds} rounds; ratios against the reference)")
    print(f"  {'':52s} {'tokens/s':>12s} {'vs raw':>8s}")
    for name, (value, ratio) in table.items():
        print(f"  {name:52s} {value:12,.0f} {100 * ratio:7.0f}%")
    return {name: {"tokens_per_second": value, "ratio_to_raw": ratio} for name, (value, ratio) in table.items()}


# ---------------------------------------------------------------------- 4. determinism
def determinism(device, iterations: int, batch: int) -> dict:
    model, tokenizer = lmenv.load_pretrained(device=device)
    env = documented_env(model, tokenizer)
    tree = lmenv.to_mdp(env)
    config = ppo.Config(iterations=iterations, batch_size=batch, progress=False, seed=3)
    first, second = ppo.train(env, config, tree=tree), ppo.train(env, config, tree=tree)
    same = first.score == second.score
    print(f"the same PPO run twice on {device}: {'identical' if same else 'DIFFERENT'} exact scores "
          f"({100 * first.score.fraction:.4f}% and {100 * second.score.fraction:.4f}% of J_β(π*))")
    return {"identical": same, "fractions": [first.score.fraction, second.score.fraction]}


# ---------------------------------------------------------------------- 5. a Hugging Face model
def hugging_face(device, iterations: int) -> dict:
    try:
        import transformers
    except ImportError:
        print("Hugging Face: skipped (transformers is not installed)")
        return {"skipped": True}
    from lmenv.hf import HFCausalLM

    tokenizer = lmenv.CharTokenizer.from_text(lmenv.load_corpus())
    torch.manual_seed(0)
    config = transformers.GPT2Config(n_layer=2, n_head=2, n_embd=32, vocab_size=tokenizer.vocab_size, n_positions=64,
                                     bos_token_id=0, eos_token_id=0)
    model = HFCausalLM(transformers.GPT2LMHeadModel(config)).to(device)
    env = lmenv.TokenEnv(model=model, tokenizer=tokenizer, prompt="ROMEO:\nI ", max_new_tokens=3, actions="etaoinsh",
                         reward=rewards.ContainsWord("he") + rewards.AvoidCharacters("s", 0.2), kl_coef=0.1)
    tree = lmenv.to_mdp(env)
    start = time.perf_counter()
    result = reinforce.train(env, reinforce.Config(iterations=iterations, batch_size=32, learning_rate=1e-2,
                                                   progress=False), tree=tree)
    print(f"tiny GPT-2 through lmenv.hf on {device}: REINFORCE, {iterations} iterations in "
          f"{time.perf_counter() - start:.1f} s, {100 * result.score.fraction:.1f}% of J_β(π*) (exact)")
    return {"fraction": result.score.fraction, "tokens_per_second": result.tokens_per_second}


# ---------------------------------------------------------------------- main
def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="cuda, mps or cpu (default: cuda when available)")
    parser.add_argument("--quick", action="store_true", help="short measurements and runs")
    parser.add_argument("--dry-run", action="store_true", help="--device cpu --quick --tests smoke: the CPU path, < 1 min")
    parser.add_argument("--tests", choices=("gpu", "all", "smoke", "none"), default=None,
                        help="which lmenv tests to run (default: gpu; smoke with --dry-run)")
    parser.add_argument("--big", action="store_true", help="also build the 599,845-state full-vocabulary tree")
    parser.add_argument("--test-workers", type=int, default=0, help="pytest-xdist workers for step 1 (default: none)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args(argv)
    if args.dry_run:
        args.device, args.quick = args.device or "cpu", True
        args.tests = args.tests or "smoke"
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    tests = args.tests or "gpu"
    torch.set_num_threads(args.threads)
    quick = args.quick
    label = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
    print(f"torch {torch.__version__}, device {device} ({label}), {torch.get_num_threads()} CPU thread(s), "
          f"{os.cpu_count()} CPUs, CUBLAS_WORKSPACE_CONFIG={os.environ.get('CUBLAS_WORKSPACE_CONFIG')}")
    if device.type == "cuda":
        print(f"bf16 supported: {torch.cuda.is_bf16_supported()}, "
              f"capability {'.'.join(map(str, torch.cuda.get_device_capability(device)))}")
    started = time.perf_counter()
    results = {"device": str(device), "label": label, "torch": torch.__version__, "quick": quick}
    print("\n== 1. tests ==")
    results["tests"] = run_tests(tests, device, args.test_workers)
    print("\n== 2. pre-training ==")
    results["pretrain"] = pretraining(device, 10 if quick else 300, "tiny" if quick else "default")
    print("\n== 3. speed against raw KV-cached decoding ==")
    results["speed"] = speed(device, batch=16 if quick else 256, seconds=0.2 if quick else 1.0,
                             rounds=1 if quick else 5, iterations=2 if quick else 20, big=args.big)
    print("\n== 4. determinism ==")
    results["determinism"] = determinism(device, iterations=2 if quick else 10, batch=16 if quick else 64)
    print("\n== 5. a Hugging Face model ==")
    results["hugging_face"] = hugging_face(device, iterations=3 if quick else 20)
    results["seconds"] = time.perf_counter() - started
    print(f"\ndone in {results['seconds']:.0f} s")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2, default=str))
        print(f"wrote {args.json}")
    return results


if __name__ == "__main__":
    outcome = main()
    failed = outcome["tests"].get("returncode", 0) != 0 or not outcome["determinism"]["identical"]
    sys.exit(1 if failed else 0)
