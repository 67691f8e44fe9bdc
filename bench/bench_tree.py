#!/usr/bin/env python
"""Exact trees of a million states: lmenv.to_mdp and its exact solution, time and peak memory, before and after.

    .venv/bin/python bench/bench_tree.py              # ~4 min on 2 CPU cores, needs ~10 GiB free for "before"
    .venv/bin/python bench/bench_tree.py --quick      # the 37,449-state tree only, ~40 s
    .venv/bin/python bench/bench_tree.py --no-before  # the compact representation only (~1.5 GiB)

Each measurement runs in a fresh Python process (``--one CASE IMPL``), so that its peak resident
memory (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) is its own. The process loads the bundled
model on the CPU (one torch thread), makes the environment, reads its resident memory, then

1. builds the tree (cold prefix cache: the forward passes, the rewards, the arrays): "build";
2. solves the KL-regularised optimum, β = 0.1: "soft";
3. solves the hard optimum V*, Q* of the task: "hard";

and reports the wall times and the peak resident memory above what it held before building.

Implementations:

* ``before``: the representation this project used before (kept below as the benchmark's
  reference, ``to_mdp_before``): per-state Python lists (prefix tuples, the ``index`` dict,
  decoded state names), a CSR transition matrix with (S·A) rows built from COO, two
  ``rlcore.MDP``s, dense (S, A) float64 reference and int64 actions; solved with rlcore's
  ``soft_value_iteration`` and ``value_iteration``.
* ``after``: ``lmenv.to_mdp`` now — parent/token arrays, per-live-state (N, A) children,
  π_ref and rewards, lazy prefixes/index/names/rlcore MDPs; solved by backward induction over the
  levels (``tree.kl_regularised_optimum``, ``tree.optimum``), which returns dense (S, A) Q and
  policy (float64) as rlcore's ``Solution`` does.
* ``after+mdp``: ``after``, then the rlcore MDP on demand (``tree.mdp``): the price of rlcore's
  generic solvers on a tree of that size.

Cases:

* ``doc``: the documented tree, prompt "ROMEO:\\nI ", 8 actions "etaoinsh", H = 5: 37,449 states;
* ``vocab3``: the whole vocabulary (84 actions), prompt "ROMEO:\\n", H = 3: 599,845 states;
* ``a36h4``: 36 actions, H = 4: 1,727,605 states (before: refused by neither check, then out of memory);
* ``synthetic``: a tree of 1,011,445 states × 84 actions (84 + 84² + 84³ states, then 4,900 of the
  depth-3 states with 84 children), random π_ref and rewards: no model makes this shape (a full
  tree with 84 actions has 7,141 or 599,845 or 50 million states), so it measures the solver on
  the 10⁶ × 84 target alone ("build" is making the arrays).

The task is ContainsWord("the") + AvoidCharacters("s", 0.2) with β = 0.1 everywhere.
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing

CASES = {
    "doc": dict(prompt="ROMEO:\nI ", max_new_tokens=5, actions="etaoinsh"),
    "vocab3": dict(prompt="ROMEO:\n", max_new_tokens=3, actions="vocab"),
    "a36h4": dict(prompt="ROMEO:\n", max_new_tokens=4, actions="etaoinshrdlucmfwypvbgkjqxzABCDEFGHIJ"),
    "synthetic": None,
}
BETA = 0.1


def rss() -> int:
    """Resident memory now, bytes (Linux)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


# ---------------------------------------------------------------------- the representation before (reference)
def to_mdp_before(env, max_states: int = 10**8, batch_size: int = 2048):
    """lmenv.to_mdp as it was: per-state lists, COO -> CSR of (S·A) rows, two rlcore MDPs, dense tables."""
    import numpy as np
    import scipy.sparse as sp

    import rlcore
    from lmenv.rewards import Transitions, call_reward

    env = env.unwrapped
    reference = env.reference
    H = env.max_new_tokens
    width = reference.top_k if reference.top_k is not None else reference.n_actions
    leaf = lambda p: len(p) == H or (len(p) > 0 and p[-1] == env.stop_id)  # noqa: E731
    prefixes, index = [()], {(): 0}
    rows, cols, task_rewards, ref_rows, env_action_rows = [], [], [], [], []
    level = [()]
    for _ in range(H):
        open_nodes = [p for p in level if not leaf(p)]
        reference.warm(open_nodes, batch_size=batch_size)
        next_level, edges_from, edges_token, edges_action = [], [], [], []
        for p in open_nodes:
            log_probs = reference.log_probs(p)
            kids = reference.children(p)
            actions = [k[-1] for k in kids] if env.action_tokens is None else list(range(len(kids)))
            ref_rows.append((index[p], np.exp(log_probs[actions])))
            env_action_rows.append((index[p], actions))
            for a, kid in enumerate(kids):
                index[kid] = len(prefixes)
                prefixes.append(kid)
                next_level.append(kid)
                edges_from.append(index[p])
                edges_token.append(kid[-1])
                edges_action.append(a)
        if not next_level:
            break
        terminal = np.array([leaf(k) for k in next_level])
        batch = Transitions(env.prompt, [prefixes[i] for i in edges_from], np.array(edges_token), terminal,
                            env.tokenizer)
        r = call_reward(env.reward_fn, batch)
        rows.extend(np.array(edges_from) * width + np.array(edges_action))
        cols.extend(index[k] for k in next_level)
        task_rewards.extend(r)
        level = next_level
    S, A = len(prefixes), width
    terminal = np.array([leaf(p) for p in prefixes])
    reference_policy = np.full((S, A), 1.0 / A)
    env_actions = np.tile(np.arange(A), (S, 1))
    for s, probs in ref_rows:
        reference_policy[s] = probs / probs.sum()
    for s, actions in env_action_rows:
        env_actions[s] = actions
    leaf_rows = (np.flatnonzero(terminal)[:, None] * A + np.arange(A)).ravel()
    all_rows = np.concatenate([np.asarray(rows, dtype=np.int64), leaf_rows])
    all_cols = np.concatenate([np.asarray(cols, dtype=np.int64), np.repeat(np.flatnonzero(terminal), A)])
    flat = sp.csr_matrix((np.ones(all_rows.size), (all_rows, all_cols)), shape=(S * A, S))
    P = [flat[a::A] for a in range(A)]
    R_task = np.zeros(S * A)
    R_task[np.asarray(rows, dtype=np.int64)] = task_rewards
    R_task = R_task.reshape(S, A)
    with np.errstate(divide="ignore"):
        kl_term = np.where(terminal[:, None], 0.0, env.kl_coef * np.log(reference_policy))
    initial = np.zeros(S)
    initial[0] = 1.0
    names = [env.tokenizer.decode(p) for p in prefixes]
    common = dict(terminal=terminal, initial=initial, state_names=names)
    task_mdp = rlcore.MDP(P, R_task, 1.0, **common)
    mdp = task_mdp if env.kl_coef == 0 else rlcore.MDP(P, R_task + kl_term, 1.0, **common)
    return dict(mdp=mdp, task_mdp=task_mdp, reference=reference_policy, prefixes=prefixes, index=index,
                env_actions=env_actions)


# ---------------------------------------------------------------------- a synthetic 10^6 × 84 tree
def synthetic_tree(A: int = 84, extra_open: int = 4900, seed: int = 0):
    """A TokenMDP of 1 + A + A² + A³ + extra_open·A states, made from arrays (no model)."""
    import numpy as np

    from lmenv.token_mdp import TokenMDP

    rng = np.random.default_rng(seed)
    level_sizes, live_sizes = [1], []
    for depth in range(4):
        live = level_sizes[-1] if depth < 3 else extra_open
        live_sizes.append(live)
        level_sizes.append(live * A)
    S = sum(level_sizes)
    parent = np.empty(S, np.int32)
    depth = np.repeat(np.arange(5, dtype=np.int32), level_sizes)
    terminal = np.ones(S, bool)
    children, start = [], 1
    first = np.cumsum([0] + level_sizes)
    for d, live in enumerate(live_sizes):
        ids = first[d] + np.arange(live)  # the first `live` states of level d are live
        terminal[ids] = False
        kids = start + np.arange(live * A, dtype=np.int64)
        parent[kids] = np.repeat(ids, A)
        children.append(kids.reshape(live, A))
        start += live * A
    parent[0] = -1
    token = np.where(depth > 0, np.arange(S) % A, -1).astype(np.int32)
    N = sum(live_sizes)
    reference = rng.dirichlet(np.ones(A), size=N)
    rewards = np.where(rng.random((N, A)) < 0.01, 1.0, 0.0) - 0.2 * (rng.random((N, A)) < 0.1)
    return TokenMDP(parent=parent, token=token, depth=depth, terminal=terminal,
                    live_children=np.concatenate(children).astype(np.int32), live_reference=reference,
                    live_task_rewards=rewards, live_env_actions=None, kl_coef=BETA, pad=A,
                    observation_of=lambda prefix: prefix, tokenizer=None, action_names=[str(a) for a in range(A)],
                    action_positions=None)


# ---------------------------------------------------------------------- one measurement, in its own process
def measure_one(case: str, impl: str) -> dict:
    import torch

    torch.set_num_threads(1)
    import numpy as np

    import lmenv
    import rlcore
    from lmenv import rewards

    env = None
    if case != "synthetic":
        env = lmenv.TokenEnv(reward=rewards.ContainsWord("the") + rewards.AvoidCharacters("s", 0.2), kl_coef=BETA,
                             device="cpu", **CASES[case])
        env.reset(seed=0)
    before = rss()
    start = time.perf_counter()
    if case == "synthetic":
        tree = synthetic_tree()
    elif impl == "before":
        tree = to_mdp_before(env)
    else:
        tree = lmenv.to_mdp(env, max_states=10**8)
    built = time.perf_counter()
    if impl == "before":
        soft = rlcore.soft_value_iteration(tree["task_mdp"], BETA, reference=tree["reference"])
        solved = time.perf_counter()
        hard = rlcore.value_iteration(tree["task_mdp"])
        S, A = tree["reference"].shape
    else:
        if impl == "after+mdp":
            tree.mdp
            built = time.perf_counter()
        soft = tree.kl_regularised_optimum(BETA)
        solved = time.perf_counter()
        hard = tree.optimum()
        S, A = tree.n_states, tree.n_actions
    done = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"case": case, "impl": impl, "states": S, "actions": A, "build_s": built - start,
            "soft_s": solved - built, "hard_s": done - solved, "peak_above_before_bytes": peak - before,
            "peak_bytes": peak, "soft_V0": float(soft.V[0]), "hard_V0": float(hard.V[0]),
            "checksum": float(np.abs(soft.Q).sum())}


def run_one(case: str, impl: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--one", case, impl], capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return {"case": case, "impl": impl, "error": f"exit {proc.returncode}: {tail}"}
    return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the 37,449-state tree only")
    parser.add_argument("--no-before", action="store_true", help="skip the previous representation (needs ~10 GiB)")
    parser.add_argument("--one", nargs=2, metavar=("CASE", "IMPL"), help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, default=None, help="write the measurements here")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(*args.one)))
        return
    plan = [("doc", "before"), ("doc", "after")]
    if not args.quick:
        plan += [("vocab3", "before"), ("vocab3", "after"), ("vocab3", "after+mdp"), ("a36h4", "after"),
                 ("synthetic", "after")]
    if args.no_before:
        plan = [p for p in plan if p[1] != "before"]
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}; one torch thread; each row a fresh process\n")
    print("| tree | representation | states × actions | build s | soft optimum s | hard optimum s | "
          "peak memory above before | V*_β(s₀) | V*(s₀) |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    rows = []
    for case, impl in plan:
        row = run_one(case, impl)
        rows.append(row)
        if "error" in row:
            print(f"| {case} | {impl} | – | – | – | – | {row['error']} | – | – |")
            continue
        print(f"| {case} | {impl} | {row['states']:,} × {row['actions']} | {row['build_s']:.2f} | {row['soft_s']:.2f} | "
              f"{row['hard_s']:.2f} | {row['peak_above_before_bytes'] / 2**30:.2f} GiB | {row['soft_V0']:.6f} | "
              f"{row['hard_V0']:.4f} |", flush=True)
    by = {(r["case"], r["impl"]): r for r in rows if "error" not in r}
    print("\nRatios, before / after (same tree, same run):")
    for case in CASES:
        old, new = by.get((case, "before")), by.get((case, "after"))
        if old and new:
            total_old = old["build_s"] + old["soft_s"] + old["hard_s"]
            total_new = new["build_s"] + new["soft_s"] + new["hard_s"]
            same = abs(old["soft_V0"] - new["soft_V0"]) < 1e-9 and abs(old["hard_V0"] - new["hard_V0"]) < 1e-12
            print(f"  {case}: time {total_old / total_new:.1f}× less (build + both solves: {total_old:.1f} s → "
                  f"{total_new:.1f} s), memory {old['peak_above_before_bytes'] / new['peak_above_before_bytes']:.1f}× "
                  f"less; the same V*_β(s₀) and V*(s₀): {same}")
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2))
    print(f"\nReproduce: .venv/bin/python bench/bench_tree.py{' --quick' if args.quick else ''}"
          f"{' --no-before' if args.no_before else ''}")


if __name__ == "__main__":
    main()
