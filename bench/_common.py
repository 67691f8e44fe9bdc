"""What the benchmarks share: one core, the timers, and the reference loop of the decoding benchmarks.

Importing this module pins numpy's and torch's math libraries to one thread (the variables must be
set before numpy is first imported, so each script imports this module first): every timing is
of one core, which on a shared 2-core machine is also the faster setting.
"""

import os
import statistics
import time

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
              "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_name] = "1"


def timed(fn):
    """(CPU seconds, wall seconds, result) of one call of ``fn()``."""
    cpu, wall = time.process_time(), time.perf_counter()
    result = fn()
    return time.process_time() - cpu, time.perf_counter() - wall, result


def rate(run, seconds: float) -> float:
    """Tokens per wall second of ``run() -> tokens``, called for at least ``seconds`` (and at least twice)."""
    tokens, calls, start = 0, 0, time.perf_counter()
    while calls < 2 or time.perf_counter() - start < seconds:
        tokens += run()
        calls += 1
    return tokens / (time.perf_counter() - start)


def interleaved_rates(runs: dict, reference: str, seconds: float, rounds: int) -> dict:
    """name -> (median tokens/s, median of the per-round ratios to ``runs[reference]``).

    Every runner is called once to warm up, then the runners take turns for ``rounds`` rounds of
    ``seconds`` each, so that a slow spell of a shared machine falls on all of them.
    """
    for run in runs.values():
        run()
    samples = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            samples[name].append(rate(run, seconds))
    base = samples[reference]
    return {name: (statistics.median(s), statistics.median(x / r for x, r in zip(s, base)))
            for name, s in samples.items()}


def sync(device) -> None:
    """Wait for the accelerator's queued work (a no-op on the CPU), so that a timer stops when it is done."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def raw_decode(model, prompt_ids, batch: int, horizon: int, generator, *, prompt_pass: bool = True):
    """The reference of every decoding benchmark: the bare model's KV-cached sampling loop.

    ``run()`` does one prompt pass (batch 1, its cache broadcast to ``batch`` rows) — or reuses one
    done here, with ``prompt_pass=False`` — then ``horizon − 1`` one-token passes, sampling each of
    the ``horizon`` tokens from softmax(logits), and returns the tokens made (batch · horizon). This
    is the least any sampler of a policy must do (``GPT.generate`` without its last, unused pass).
    """
    import torch

    device = next(model.parameters()).device
    prompt = torch.tensor([list(prompt_ids)], device=device)
    with torch.no_grad():
        fixed = model(prompt)

    @torch.no_grad()
    def run():
        logits, cache = model(prompt) if prompt_pass else fixed
        cache = [(k.expand(batch, -1, -1, -1), v.expand(batch, -1, -1, -1)) for k, v in cache]
        logits = logits[:, -1].expand(batch, -1)  # (B, V)
        for t in range(horizon):
            token = torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator)  # (B, 1)
            if t < horizon - 1:
                logits, cache = model(token, cache=cache)
                logits = logits[:, -1]
        sync(device)
        return batch * horizon

    return run
