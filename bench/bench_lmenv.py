#!/usr/bin/env python
"""Token-level environment speed: lmenv against its own model, Hugging Face generate() and rlcore.

Reproduce the numbers of docs/benchmarks.md (section "Token-level environment"):

    .venv/bin/python bench/bench_lmenv.py            # ~1 min on 2 loaded CPU cores (plus a CUDA pass when there is a GPU)
    .venv/bin/python bench/bench_lmenv.py --quick    # smoke run, ~20 s

Every target is a ratio of two measurements taken in the same run (or, where the spec gives an
absolute number, the number next to the reference measured in that run):

1. Decoding at batch 64 (tokens/s), on the CPU and on CUDA when available:
   * ``raw loop`` (the reference): the bare model, what ``GPT.generate`` does — sample the next
     token from softmax(logits), one KV-cached one-token forward pass — over episodes of H tokens
     that start from the prompt's cache (computed once, as the environment does), without
     generate's last, unused forward pass. H tokens cost H − 1 forward passes.
   * ``TokenVectorEnv``: ``TokenVectorEnv(64, actions="vocab", max_new_tokens=H)`` stepped with
     ``sample_reference_actions()``. One episode is H + 1 steps: H steps that append a token to
     every sub-environment (the H-th terminates them; no forward pass follows a terminal state)
     and one autoreset step (Gymnasium's next-step mode) that appends nothing and is *counted in
     the time but not in the tokens*. Tokens = 64 H per episode, as for the raw loop.
   * ``TokenVectorEnv, zero reward``: the same with an explicit reward that returns zeros without
     decoding texts (the default, ``ZeroReward``, does the same).
   * ``GPT.generate``: lmenv's own generate, prompt included (for context, no target).
   * ``HF generate()``: ``GPT2LMHeadModel`` of the same n_layer/n_head/n_embd/vocab/n_positions,
     random weights, built locally; ``generate(do_sample=True, max_new_tokens=H, use_cache=True)``
     from the prompt at batch 64. Its prompt forward pass is part of every call (its API has no
     way to reuse it); the environment computes the prompt once.
   Measurements are interleaved in rounds (load drifts on a shared machine); each row is the
   median over rounds of tokens/s, and each ratio the median over rounds of the ratio of two
   measurements taken next to each other (env vs HF: ratio of their ratios to the raw loop).
2. ``lmenv.to_mdp`` on ``TokenEnv(actions="etaoinsh", max_new_tokens=5)`` (37,449 prefixes) from a
   cold prefix cache, plus the exact soft solve ``tree.kl_regularised_optimum(β)``: seconds
   (target < 10 s). The same to_mdp on the now warm cache shows the part that is not the model.
3. Tabular Q-learning (``rlcore.QLearning`` through ``rlcore.train``) on that TokenEnv with the
   prefix cache warm: environment steps/s (target ≥ 5,000), next to the reference: the same agent
   on the same tree read from arrays (``TreeEnv`` below: the same observations and rewards at
   table speed, so the ratio is the share of time left to the agent and the training loop).
   (``rlcore.MDPEnv`` on the tree would be a reference too; the array-backed TreeEnv isolates
   the agent's cost more cleanly.)

Threads: ``torch.set_num_threads(1)`` by default (``--threads``); numpy/scipy BLAS on one thread.
The matrices of a one-token step at batch 64 are (64 × 80)·(80 × 240): splitting them over
threads buys little, and the target machine has 2 cores shared with other work, where torch's
default of 2 OpenMP threads makes every forward pass wait for a second core: measured here under
load, ``--threads 2`` ran batch-64 decoding 15–20× *slower* than one thread.

Clocks: on the CPU with one torch thread, rates and ratios use this process's CPU time
(``time.process_time``, as bench_dp.py does): on an idle machine it equals the wall time, and on
a shared one it leaves out the time spent waiting for a core. Wall-clock rates are printed
beside them; ``--clock wall`` makes them the primary. On CUDA (and with more threads) the wall
clock is used, with the device synchronised before a clock is read.
"""

import os

# numpy/scipy (the sparse MDP and the solve) on one core, as in bench_dp.py; torch threads: --threads.
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shlex  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing

import lmenv  # noqa: E402
import rlcore  # noqa: E402
from lmenv import rewards  # noqa: E402

PROMPT = "ROMEO:\n"
BATCH = 64


# ---------------------------------------------------------------------- helpers
def rate(run, seconds: float) -> dict:
    """Call ``run() -> units`` for ``seconds`` of wall time (at least twice); units per second by
    the wall clock and by this process's CPU time."""
    units, calls, wall, cpu = 0, 0, time.perf_counter(), time.process_time()
    while calls < 2 or time.perf_counter() - wall < seconds:
        units += run()
        calls += 1
    return {"wall": units / (time.perf_counter() - wall), "cpu": units / max(time.process_time() - cpu, 1e-9)}


class Stopwatch:
    """Wall and CPU seconds of a ``with`` block: ``sw.wall``, ``sw.cpu``."""

    def __enter__(self):
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self._wall, time.process_time() - self._cpu


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def the_model(device: torch.device):
    """The shipped checkpoint if it is there, else a random GPT of the default shape (same speed)."""
    try:
        model, tokenizer = lmenv.load_pretrained(device=device)
        source = f"shipped checkpoint {lmenv.pretrained_path().name}"
    except (FileNotFoundError, lmenv.CheckpointError, OSError):
        torch.manual_seed(0)
        tokenizer = lmenv.CharTokenizer.from_text(lmenv.load_corpus())
        model = lmenv.GPT(lmenv.GPTConfig(vocab_size=tokenizer.vocab_size)).to(device).eval()
        source = "random init, default GPTConfig (no checkpoint found)"
    return model, tokenizer, source


class ZeroReward(rewards.Reward):
    """r = 0 without decoding any text."""

    def __call__(self, batch):
        return np.zeros(len(batch))


def fmt(x: float) -> str:
    return f"{x:,.0f}"


# ---------------------------------------------------------------------- 0. calibration
def calibration(model, seconds: float) -> dict:
    """The spec's machine yardsticks: batch-1 forward passes/s on 8 tokens; 256 prefixes of 12 tokens."""
    device = next(model.parameters()).device
    g = torch.Generator().manual_seed(0)
    x8 = torch.randint(0, model.config.vocab_size, (1, 8), generator=g).to(device)
    x256 = torch.randint(0, model.config.vocab_size, (256, 12), generator=g).to(device)

    def one(x):
        def run():
            model(x)
            sync(device)
            return 1
        return run

    with torch.no_grad():
        for x in (x8, x256):  # warm-up
            one(x)()
        forwards = rate(one(x8), seconds)
        recompute = rate(one(x256), seconds)
    return {"b1_forwards_per_s": forwards, "recompute_256_ms": {k: 1e3 / v for k, v in recompute.items()}}


# ---------------------------------------------------------------------- 1. decoding at batch 64
def hf_twin(model):
    """A GPT2LMHeadModel of the same shape as ``model``, random weights, built locally."""
    import transformers

    c = model.config
    config = transformers.GPT2Config(n_layer=c.n_layer, n_head=c.n_head, n_embd=c.n_embd, vocab_size=c.vocab_size,
                                     n_positions=c.block_size, bos_token_id=0, eos_token_id=None, pad_token_id=0)
    torch.manual_seed(0)
    twin = transformers.GPT2LMHeadModel(config).to(next(model.parameters()).device).eval()
    twin.generation_config.eos_token_id = None  # always exactly max_new_tokens tokens
    twin.generation_config.pad_token_id = 0
    return twin


def decoding_runners(model, tokenizer, horizon: int, with_hf: bool):
    """name -> run() that produces one batch-64 episode of ``horizon`` tokens; returns tokens made."""
    device = next(model.parameters()).device
    prompt = torch.tensor([tokenizer.encode(PROMPT)], device=device)
    with torch.no_grad():
        prompt_logits, prompt_cache = model(prompt)
    zeros = torch.zeros(BATCH, dtype=torch.long, device=device)
    g = torch.Generator(device=device).manual_seed(0)

    @torch.no_grad()
    def raw_loop():
        cache = lmenv.select_cache(prompt_cache, zeros)  # the prompt's cache, once per sub-episode
        logits = prompt_logits[:, -1].expand(BATCH, -1)  # (B, V)
        for t in range(horizon):
            nxt = torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=g)  # (B, 1)
            if t < horizon - 1:  # no forward pass after the last token
                logits, cache = model(nxt, cache=cache)
                logits = logits[:, -1]
        sync(device)
        return BATCH * horizon

    def env_runner(**kwargs):
        env = lmenv.TokenVectorEnv(BATCH, model=model, tokenizer=tokenizer, prompt=PROMPT, actions="vocab",
                                   max_new_tokens=horizon, **kwargs)
        env.reset(seed=0)

        def run():
            tokens, terminated = 0, np.zeros(BATCH, dtype=bool)
            for _ in range(horizon + 1):  # H token steps, then the autoreset step
                tokens += int((~terminated).sum())  # autoresetting sub-environments append nothing
                _, _, terminated, _, _ = env.step(env.sample_reference_actions())
            assert tokens == BATCH * horizon and not terminated.any()
            return tokens
        run.env = env
        return run

    @torch.no_grad()
    def lmenv_generate():
        model.generate(prompt.expand(BATCH, -1), horizon, generator=g)
        sync(device)
        return BATCH * horizon

    runners = {
        "raw loop (reference)": raw_loop,
        "TokenVectorEnv": env_runner(),
        "TokenVectorEnv, zero reward": env_runner(reward=ZeroReward()),
        "GPT.generate": lmenv_generate,
    }
    if with_hf:
        twin = hf_twin(model)
        hf_prompt = prompt.expand(BATCH, -1).contiguous()
        mask = torch.ones_like(hf_prompt)

        @torch.no_grad()
        def hf_generate():
            out = twin.generate(hf_prompt, attention_mask=mask, do_sample=True, max_new_tokens=horizon,
                                min_new_tokens=horizon, use_cache=True)
            sync(device)
            assert out.shape == (BATCH, hf_prompt.shape[1] + horizon)
            return BATCH * horizon
        runners["HF generate()"] = hf_generate
    return runners


def decoding(model, tokenizer, horizon: int, seconds: float, rounds: int, with_hf: bool, clock: str) -> dict:
    """tokens/s of every runner: medians over interleaved rounds (by ``clock`` and by the wall
    clock) and the median over rounds of each runner's ratio to the raw loop of the same round."""
    runners = decoding_runners(model, tokenizer, horizon, with_hf)
    for run in runners.values():  # warm-up
        run()
    samples = {name: [] for name in runners}
    for _ in range(rounds):
        for name, run in runners.items():
            samples[name].append(rate(run, seconds))
    medians = {name: statistics.median(x[clock] for x in s) for name, s in samples.items()}
    wall = {name: statistics.median(x["wall"] for x in s) for name, s in samples.items()}
    ref = samples["raw loop (reference)"]
    ratios = {name: statistics.median(x[clock] / r[clock] for x, r in zip(s, ref)) for name, s in samples.items()}
    cached = len(runners["TokenVectorEnv"].env.env.reference)
    return {"medians": medians, "wall": wall, "ratios": ratios, "samples": samples, "prefix_cache_entries": cached}


# ---------------------------------------------------------------------- 2. to_mdp + soft solve, 3. Q-learning
def exact_and_tabular(model, tokenizer, kl_coef: float, episodes: int) -> dict:
    env = lmenv.TokenEnv(model=model, tokenizer=tokenizer, prompt=PROMPT, actions="etaoinsh", max_new_tokens=5,
                         reward=rewards.ContainsWord("the"))
    out = {}
    with Stopwatch() as cold:
        tree = lmenv.to_mdp(env)
    with Stopwatch() as solve:
        solution = tree.kl_regularised_optimum(kl_coef)
    with Stopwatch() as warm:
        lmenv.to_mdp(env)  # warm cache: no forward pass, only the tree, rewards and sparse matrices
    out.update(to_mdp_cold=cold, solve=solve, to_mdp_warm=warm, states=tree.n_states,
               forward_passes=env.reference.forward_passes, V0=float(solution.V[0]))

    QLearning, train, source = q_learning_api()
    passes = env.reference.forward_passes
    agent = QLearning(env, alpha=0.5, gamma=1.0, epsilon=0.1, seed=0)
    with Stopwatch() as sw:
        history = train(agent, env, episodes, seed=0, progress=False)
    out["q"] = {"wall": history.n_steps / sw.wall, "cpu": history.n_steps / sw.cpu}
    out["q_forward_passes"] = env.reference.forward_passes - passes  # 0: the cache is warm
    out["q_api"] = source

    tree_env = TreeEnv(tree, env)
    agent = QLearning(tree_env, alpha=0.5, gamma=1.0, epsilon=0.1, seed=0)
    with Stopwatch() as sw:
        tree_history = train(agent, tree_env, episodes, seed=0, progress=False)
    out["q_tree"] = {"wall": tree_history.n_steps / sw.wall, "cpu": tree_history.n_steps / sw.cpu}
    # Same seed, same dynamics: the two runs are the same episodes, return for return.
    assert np.array_equal(history.returns, tree_history.returns), "TreeEnv is not the TokenEnv's MDP"

    rng = np.random.default_rng(0)  # the environment alone: uniform random actions
    steps = 0
    with Stopwatch() as sw:
        for _ in range(episodes):
            env.reset()
            terminated = False
            while not terminated:
                _, _, terminated, _, _ = env.step(int(rng.integers(8)))
                steps += 1
    out["env_alone"] = {"wall": steps / sw.wall, "cpu": steps / sw.cpu}
    return out


class TreeEnv(gym.Env):
    """The prefix tree of a TokenEnv at table speed: the same observations, rewards and episode ends,
    read from arrays (next state, reward, observation per state) — the reference for Q-learning."""

    def __init__(self, tree, token_env):
        flat = tree.mdp.P_flat.tocsr()
        S, A = tree.env_actions.shape
        assert np.all(np.diff(flat.indptr) == 1), "a prefix tree has one successor per (s, a)"
        self.next_state = flat.indices.reshape(S, A)
        self.rewards = np.asarray(tree.mdp.R, dtype=float).reshape(S, A)
        self.terminal = tree.mdp.terminal
        self.observations = np.stack([tree.observation_of(p) for p in tree.prefixes])  # (S, H)
        self.observation_space, self.action_space = token_env.observation_space, token_env.action_space
        self._s = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._s = 0
        return self.observations[0], {}

    def step(self, action):
        s, a = self._s, int(action)
        self._s = s2 = int(self.next_state[s, a])
        return self.observations[s2], float(self.rewards[s, a]), bool(self.terminal[s2]), False, {}


def q_learning_api():
    """rlcore's QLearning and train, from the package or its modules."""
    if hasattr(rlcore, "QLearning") and hasattr(rlcore, "train"):
        return rlcore.QLearning, rlcore.train, "rlcore.QLearning + rlcore.train"
    from rlcore import QLearning, train
    return QLearning, train, "rlcore.QLearning + rlcore.train"


# ---------------------------------------------------------------------- report
def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: short windows, one horizon, fewer episodes")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1; see the docstring)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                        help="auto: CPU, then CUDA too when available (default)")
    parser.add_argument("--clock", choices=["auto", "cpu", "wall"], default="auto",
                        help="clock of the rates and ratios; auto: process CPU time on the CPU with 1 thread, else wall")
    parser.add_argument("--seconds", type=float, default=None, help="wall-clock window per measurement (default 0.5, quick 0.25)")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 7, quick 2)")
    parser.add_argument("--horizons", type=int, nargs="+", default=None, help="episode lengths H (default 5 32, quick 5)")
    parser.add_argument("--episodes", type=int, default=None, help="Q-learning episodes (default 4000, quick 500)")
    parser.add_argument("--no-hf", action="store_true", help="skip Hugging Face generate()")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    seconds = args.seconds or (0.25 if args.quick else 0.5)
    rounds = args.rounds or (2 if args.quick else 7)
    horizons = args.horizons or ([5] if args.quick else [5, 32])
    episodes = args.episodes or (500 if args.quick else 4000)
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", module="transformers")
    with_hf = not args.no_hf
    if with_hf:
        try:
            import transformers
            transformers.logging.set_verbosity_error()
        except ImportError:
            print("transformers is not installed: HF generate() is skipped (pip install -e '.[hf]')")
            with_hf = False
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: CUDA is not available")
    devices = {"auto": ["cpu"] + (["cuda"] if torch.cuda.is_available() else []), "cpu": ["cpu"], "cuda": ["cuda"]}[args.device]

    command = "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(__file__, REPO), *(sys.argv[1:] if argv is None else argv)])
    wall = time.perf_counter()
    print("# Token-level environment speed")
    print(f"command: {command}")
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPU cores, python {platform.python_version()}, "
          f"torch {torch.__version__}, torch threads {torch.get_num_threads()}")
    if torch.cuda.is_available():
        print(f"cuda: {torch.cuda.get_device_name(0)}")
    print(f"load average at start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)

    targets, results = [], {"command": command, "torch_threads": torch.get_num_threads(), "devices": {}}
    for name in devices:
        device = torch.device(name)
        clock = args.clock if args.clock != "auto" else ("cpu" if device.type == "cpu" and args.threads == 1 else "wall")
        clock_name = {"cpu": "per second of this process's CPU time", "wall": "per wall-clock second"}[clock]
        model, tokenizer, source = the_model(device)
        print(f"\n## Device: {device}  (model: {source}, {model.num_params():,} parameters)")
        print(f"clock: rates {clock_name}" + (" (robust to other processes on a shared machine; with one torch "
                                              "thread it equals wall time on an idle one); wall-clock rates beside"
                                              if clock == "cpu" else ""))
        cal = calibration(model, seconds)
        record = results["devices"][name] = {"model": source, "clock": clock, "calibration": cal, "decoding": {}}
        print(f"calibration: {fmt(cal['b1_forwards_per_s'][clock])} batch-1 forward passes/s on 8 tokens "
              f"(wall {fmt(cal['b1_forwards_per_s']['wall'])}; spec's machine: ~300–500); full recompute of 256 "
              f"prefixes × 12 tokens {cal['recompute_256_ms'][clock]:.1f} ms (wall {cal['recompute_256_ms']['wall']:.1f} ms; "
              f"spec: ~30 ms)", flush=True)

        for horizon in horizons:
            print(f"\n### Decoding at batch {BATCH}, episodes of H = {horizon} tokens after {PROMPT!r} "
                  f"(median of {rounds} interleaved rounds of {seconds:g} s)\n")
            result = decoding(model, tokenizer, horizon, seconds, rounds, with_hf, clock)
            record["decoding"][horizon] = result
            m, r, w = result["medians"], result["ratios"], result["wall"]
            ref = m["raw loop (reference)"]
            print(f"| runner | tokens/s ({clock}) | vs raw loop | tokens/s (wall) |")
            print("| --- | ---: | ---: | ---: |")
            for runner, value in m.items():
                print(f"| {runner} | {fmt(value)} | {r[runner]:.2f} | {fmt(w[runner])} |")
            print(f"(prefix cache after this run: {result['prefix_cache_entries']:,} entries)")
            env_rate, ratio = m["TokenVectorEnv"], r["TokenVectorEnv"]
            targets.append(f"[{device}, H={horizon}] TokenVectorEnv {fmt(env_rate)} tok/s vs raw loop {fmt(ref)} "
                           f"tok/s: ratio {ratio:.2f} (target ≥ 0.80) — {verdict(ratio >= 0.8)}")
            if with_hf:
                vs_hf = ratio / r["HF generate()"]
                targets.append(f"[{device}, H={horizon}] TokenVectorEnv {fmt(env_rate)} tok/s vs HF generate() "
                               f"{fmt(m['HF generate()'])} tok/s: ratio {vs_hf:.2f} (target > 1) — {verdict(vs_hf > 1)}")
            sys.stdout.flush()

        if device.type == "cpu":
            print("\n### to_mdp + exact soft solve, then tabular Q-learning (CPU)\n")
            ex = exact_and_tabular(model, tokenizer, kl_coef=0.1, episodes=episodes)
            record["exact_and_tabular"] = {k: ({"wall": v.wall, "cpu": v.cpu} if isinstance(v, Stopwatch) else v) for k, v in ex.items()}
            cold, warm, solve = ex["to_mdp_cold"], ex["to_mdp_warm"], ex["solve"]
            print(f"to_mdp, cold prefix cache: {cold.wall:.2f} s wall, {cold.cpu:.2f} s CPU ({ex['states']:,} states, "
                  f"{ex['forward_passes']} batched forward passes); on the warm cache: {warm.wall:.2f} s wall, "
                  f"{warm.cpu:.2f} s CPU (the rest is the model)")
            print(f"soft solve (kl_regularised_optimum, β = 0.1): {solve.wall:.2f} s wall, {solve.cpu:.2f} s CPU; "
                  f"V*_β(root) = {ex['V0']:.4f}")
            total = {k: getattr(cold, k) + getattr(solve, k) for k in ("wall", "cpu")}
            targets.append(f"[cpu] to_mdp + soft solve, 8 actions × H = 5 ({ex['states']:,} states): {total['wall']:.2f} s "
                           f"wall, {total['cpu']:.2f} s CPU (target < 10 s: {total['wall'] / 10:.2f} of the budget) "
                           f"— {verdict(total['wall'] < 10)}")
            q, q_tree, alone = ex["q"], ex["q_tree"], ex["env_alone"]
            print(f"Q-learning ({ex['q_api']}, α = 0.5, ε = 0.1, {episodes} episodes): {fmt(q[clock])} steps/s on "
                  f"TokenEnv (wall {fmt(q['wall'])}; {ex['q_forward_passes']} forward passes during training). "
                  f"Reference, the same agent on the same tree read from arrays (TreeEnv; same episodes, checked): "
                  f"{fmt(q_tree[clock])} steps/s (ratio {q[clock] / q_tree[clock]:.2f}). TokenEnv alone, random "
                  f"actions: {fmt(alone[clock])} steps/s")
            targets.append(f"[cpu] Q-learning on TokenEnv, warm cache: {fmt(q[clock])} steps/s ({clock}; wall "
                           f"{fmt(q['wall'])}) (target ≥ 5,000: ratio {q[clock] / 5000:.2f}; the same agent on "
                           f"TreeEnv {fmt(q_tree[clock])}) — {verdict(q[clock] >= 5000)}")
        sys.stdout.flush()

    print("\n## Targets\n")
    for line in targets:
        print(f"- {line}")
    print(f"\nload average at end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"wall time {time.perf_counter() - wall:.0f} s")
    print(f"reproduce: {command}")
    if args.json:
        results["targets"] = targets
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1, default=float))
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
