"""Monte Carlo estimates of V^π(prefix): sample continuations, average their returns, report a confidence interval.

For the reference model, V^{π_ref}(s) = E_{π_ref}[Σ_{t ≥ |s|} R_{t+1} | S = s] is estimated by
generating n continuations of the prefix s in lockstep batches (:func:`lmenv.rollout.rollout`,
KV-cached) and averaging their returns (Sutton & Barto, Section 5.1, first-visit MC on a tree:
every state is visited at most once per episode). By the central limit theorem the mean is
within z·σ̂/√n of the true value with probability ≈ the confidence level (z = 1.96 for 95%), so
the interval shrinks like 1/√n; on an enumerable task ``lmenv.to_mdp`` gives the exact value to
compare with::

    exact = rlcore.policy_evaluation(tree.mdp, tree.reference).V[tree.index[prefix]]

Returns are what the environment pays: r_t + kl_coef · log π_ref(a_t|s_t) (the task rewards when
kl_coef = 0), matching ``tree.mdp``.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import torch

from lmenv.policy import PolicyValueModel
from lmenv.rollout import rollout


@dataclass(frozen=True, eq=False)
class MonteCarloEstimate:
    """A sample mean of returns with its normal-approximation confidence interval.

    Attributes:
        value: the mean return, the estimate of V^π(prefix).
        standard_error: σ̂ / √n (σ̂ the sample standard deviation).
        low: value − z · standard_error.
        high: value + z · standard_error.
        confidence: the level of [low, high] (z = Φ⁻¹((1 + confidence)/2)).
        returns: the n sampled returns, in sampling order, shape (n,).
    """

    value: float
    standard_error: float
    low: float
    high: float
    confidence: float
    returns: np.ndarray

    @property
    def n(self) -> int:
        return self.returns.size

    def running_mean(self) -> np.ndarray:
        """The estimate after 1, 2, …, n continuations, shape (n,)."""
        return np.cumsum(self.returns) / np.arange(1, self.n + 1)

    def __str__(self) -> str:
        return (f"{self.value:.4f} ± {self.high - self.value:.4f} ({100 * self.confidence:g}% CI, "
                f"n = {self.n:,})")


def estimate(returns: np.ndarray, confidence: float = 0.95) -> MonteCarloEstimate:
    """The :class:`MonteCarloEstimate` of a sample of returns."""
    returns = np.asarray(returns, dtype=float)
    if returns.ndim != 1 or returns.size < 2:
        raise ValueError("need a 1-D sample of at least 2 returns")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1); got {confidence}")
    mean = float(returns.mean())
    se = float(returns.std(ddof=1) / np.sqrt(returns.size))
    z = NormalDist().inv_cdf((1 + confidence) / 2)
    return MonteCarloEstimate(mean, se, mean - z * se, mean + z * se, confidence, returns)


def monte_carlo_value(env, prefix: tuple[int, ...] = (), n: int = 1024, batch_size: int = 256, seed: int = 0,
                      model: PolicyValueModel | None = None, confidence: float = 0.95,
                      reference_source: str = "cache") -> MonteCarloEstimate:
    """Estimate V^π(prefix) from ``n`` sampled continuations of the generated tokens ``prefix``.

    Args:
        env: a :class:`lmenv.TokenEnv` (prompt, horizon, reward, kl_coef).
        prefix: generated token ids of the state (``()``: the prompt).
        n: number of continuations.
        batch_size: continuations generated in lockstep per batch.
        seed: seeds the sampling generator.
        model: the policy π as a :class:`lmenv.policy.PolicyValueModel` (its acting policy);
            default: the reference model itself (an untrained copy, so π = π_ref).
        confidence: level of the interval.
        reference_source: where log π_ref comes from (see :func:`lmenv.rollout.rollout`).
    """
    env = env.unwrapped
    model = PolicyValueModel(env) if model is None else model
    generator = torch.Generator(device=model.device).manual_seed(seed)
    returns = []
    for start in range(0, n, batch_size):
        batch = rollout(model, env, min(batch_size, n - start), generator, prefix=prefix,
                        reference_source=reference_source)
        returns.append(batch.env_rewards.sum(dim=1).double().cpu().numpy())
    return estimate(np.concatenate(returns), confidence)
