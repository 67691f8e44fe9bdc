"""Policy gradients and advantage estimation (Sutton & Barto, 2nd ed., Chapter 13, Section 12.1; lectures 8–9).

- :mod:`~rlcore.policy_gradient.gradients`: the tabular softmax policy, its exact objective J(θ)
  and gradient ∇J (the policy gradient theorem), the REINFORCE estimate, sampling episodes.
- :mod:`~rlcore.policy_gradient.advantages`: TD errors, λ-returns, GAE and Monte Carlo advantages.
- :mod:`~rlcore.policy_gradient.agents`: REINFORCE (with or without a baseline) and one-step actor-critic.
"""

from rlcore.policy_gradient.advantages import (
    generalized_advantage_estimation,
    lambda_returns,
    monte_carlo_advantages,
    td_errors,
)
from rlcore.policy_gradient.agents import ActorCritic, Reinforce
from rlcore.policy_gradient.gradients import (
    Episode,
    discounted_occupancy,
    exact_policy_gradient,
    policy_from_logits,
    policy_objective,
    reinforce_gradient,
    reinforce_terms,
    sample_episode,
    softmax_score,
)
