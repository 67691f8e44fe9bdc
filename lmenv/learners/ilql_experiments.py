"""The documented ILQL runs of docs/ilql_and_decoding.md: the datasets, the exact fixed points, the trained runs.

``python -m lmenv.learners.ilql_experiments --seeds 0 1 2 --data reference mixture`` prints the
table of the three-seed runs; ``--taus 0.5 0.7 0.99`` trains at other expectiles.
"""

from __future__ import annotations

import rlcore
import torch

from lmenv.learners.ilql import (Config, OfflineData, expectile_values, mixture_policy, train, tree_heads,
                                 value_errors)

DATA_MIXTURES = {"reference": 0.0, "mixture": 0.5}
"""the documented datasets: the fraction of episodes drawn from π*_β (the rest from π_ref)"""


def documented_data(env, tree, kind: str = "reference", n: int = 4096, seed: int = 0) -> OfflineData:
    """The documented datasets: ``n`` episodes from π_ref (``"reference"``) or half from π*_β (``"mixture"``)."""
    if kind not in DATA_MIXTURES:
        raise ValueError(f"kind must be one of {tuple(DATA_MIXTURES)}; got {kind!r}")
    optimum = tree.kl_regularised_optimum(env.unwrapped.kl_coef)
    return OfflineData.from_mixture(env, tree, n, optimum.policy, DATA_MIXTURES[kind], seed=seed)


def exact_row(env, tree, kind: str, tau: float) -> dict:
    """The exact fixed point of ILQL at τ on the documented data's distribution: its V(s_0) and the decoding's score."""
    from lmenv.decoding import guided_policy
    from lmenv.scoring import score

    kl_coef = env.unwrapped.kl_coef
    optimum = tree.kl_regularised_optimum(kl_coef)
    w = DATA_MIXTURES[kind]
    data_policy, _ = mixture_policy(tree, [tree.reference, optimum.policy], [1 - w, w])
    Q, V = expectile_values(tree, data_policy, tau)
    s = score(guided_policy(tree, Q, kl_coef), tree, kl_coef, optimum)
    return {"data": kind, "tau": tau, "V(s0)": float(V[0]), "fraction": s.fraction, "kl_to_optimum": s.kl_to_optimum}


def run(env, tree, kind: str = "reference", seed: int = 0, config: Config = Config(), n: int = 4096) -> dict:
    """Train ILQL on a documented dataset and compare it exactly: the decoding's score and the value errors against
    the exact τ fixed point on the data's distribution (visited / unvisited states)."""
    import dataclasses
    import time

    config = dataclasses.replace(config, seed=seed)
    data = documented_data(env, tree, kind, n, seed=seed)
    start = time.process_time()
    result = train(env, data, config, tree=tree)
    cpu = time.process_time() - start
    kl_coef = env.unwrapped.kl_coef
    optimum = tree.kl_regularised_optimum(kl_coef)
    w = DATA_MIXTURES[kind]
    data_policy, data_visitation = mixture_policy(tree, [tree.reference, optimum.policy], [1 - w, w])
    Q, V = expectile_values(tree, data_policy, config.tau)
    heads = tree_heads(result.model, tree)
    visited = data.states(tree)
    errors = value_errors(tree, visited, heads.target_q, heads.v, Q, V, data_visitation)
    hard = tree.optimum() if hasattr(tree, "optimum") else rlcore.value_iteration(tree.task_mdp)  # Q*, V* of the task
    errors_hard = value_errors(tree, visited, heads.target_q, heads.v, hard.Q, hard.V, data_visitation)
    return {"data": kind, "seed": seed, "tau": config.tau, "fraction": result.score.fraction,
            "kl_to_optimum": result.score.kl_to_optimum, "V(s0)": float(heads.v[0]), "exact V(s0)": float(V[0]),
            "errors": errors, "errors_hard": errors_hard, "wall": result.wall_time, "cpu": cpu, "result": result}


def main(argv=None) -> None:
    """``python -m lmenv.learners.ilql_experiments [--seeds 0 1 2] [--data reference mixture] [--taus 0.9]``:
    a Markdown table of :func:`run` for every dataset, τ and seed."""
    import argparse

    from lmenv.learners.experiments import documented_env
    from lmenv.token_mdp import to_mdp

    parser = argparse.ArgumentParser(description="ILQL on the documented task, scored exactly")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--data", nargs="+", default=list(DATA_MIXTURES))
    parser.add_argument("--taus", type=float, nargs="+", default=[0.9])
    parser.add_argument("--iterations", type=int, default=Config.iterations)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    env = documented_env()
    tree = to_mdp(env)
    print("| data | τ | seed | J_β / J_β(π*) | KL(π‖π*) | V(s0) learned / exact | |V − V_τ| visited (weighted) "
          "| unvisited | |Q − Q_τ| visited / unvisited | |V − V*| visited (weighted) / unvisited | wall s | CPU s |")
    print("| --- | ---: | ---: | ---: | ---: | --- | --- | ---: | --- | --- | ---: | ---: |")
    for kind in args.data:
        for tau in args.taus:
            for seed in args.seeds:
                r = run(env, tree, kind, seed, Config(iterations=args.iterations, tau=tau, progress=False))
                e = r["errors"]
                print(f"| {kind} | {tau} | {seed} | {100 * r['fraction']:.1f}% | {r['kl_to_optimum']:.3f} | "
                      f"{r['V(s0)']:.3f} / {r['exact V(s0)']:.3f} | {e.v_visited:.3f} ({e.v_visited_weighted:.3f}) | "
                      f"{e.v_unvisited:.3f} | {e.q_visited:.3f} / {e.q_unvisited:.3f} | "
                      f"{r['errors_hard'].v_visited:.3f} ({r['errors_hard'].v_visited_weighted:.3f}) / "
                      f"{r['errors_hard'].v_unvisited:.3f} | {r['wall']:.0f} | {r['cpu']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
