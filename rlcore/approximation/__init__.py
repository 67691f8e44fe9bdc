"""Linear function approximation: features, update rules, exact solutions and agents (Sutton & Barto, 2nd ed., Chapters 9–10).

- :mod:`~rlcore.approximation.features`: state aggregation, polynomial and Fourier bases, tile
  coding (and a port of Sutton's ``tiles3`` as the reference).
- :mod:`~rlcore.approximation.linear`: v̂ = wᵀx and q̂ = w_aᵀx; gradient Monte Carlo, semi-gradient
  TD(0) and semi-gradient SARSA as pure functions; the on-policy distribution μ, the value error
  VE, the VE minimiser and the TD fixed point, exactly, on a finite MDP.
- :mod:`~rlcore.approximation.agents`: :class:`GradientMonteCarlo` and :class:`SemiGradientTD` on
  the tabular engine (one run or many in lockstep), :class:`SemiGradientSarsa` over continuous states.
- :mod:`~rlcore.approximation.mountain_car`: Mountain Car (Example 10.1) batched in numpy, the
  book's tile coder, the cost-to-go picture; :mod:`~rlcore.approximation.lockstep`: N runs on such
  dynamics.

Eligibility traces (Chapter 12) are in :mod:`rlcore.learning.traces`.
"""

from rlcore.approximation.features import (
    IHT,
    FourierBasis,
    PolynomialBasis,
    StateAggregation,
    TileCoder,
    one_hot_features,
    tiles,
)
from rlcore.approximation.linear import (
    feature_matrix,
    gradient_mc_update,
    linear_q_values,
    linear_update,
    linear_value,
    mc_solution,
    on_policy_distribution,
    semi_gradient_sarsa_update,
    semi_gradient_td_update,
    td_fixed_point,
    value_error,
)
from rlcore.approximation.agents import GradientMonteCarlo, SemiGradientSarsa, SemiGradientTD
from rlcore.approximation.mountain_car import MountainCar, book_tile_coder, cost_to_go_grid, plot_cost_to_go
from rlcore.approximation.lockstep import train_lockstep_dynamics

__all__ = [
    "StateAggregation",
    "PolynomialBasis",
    "FourierBasis",
    "TileCoder",
    "IHT",
    "tiles",
    "one_hot_features",
    "linear_value",
    "linear_q_values",
    "linear_update",
    "gradient_mc_update",
    "semi_gradient_td_update",
    "semi_gradient_sarsa_update",
    "feature_matrix",
    "on_policy_distribution",
    "value_error",
    "mc_solution",
    "td_fixed_point",
    "GradientMonteCarlo",
    "SemiGradientTD",
    "SemiGradientSarsa",
    "MountainCar",
    "book_tile_coder",
    "cost_to_go_grid",
    "plot_cost_to_go",
    "train_lockstep_dynamics",
]
