"""rlcore: exact value functions — V, Q and the advantage A = Q − V — on finite MDPs.

Notation and equation numbers follow Sutton & Barto, *Reinforcement Learning: An
Introduction*, 2nd ed. (2018).
"""

from rlcore import mdps, plots
from rlcore.bellman import (
    advantage,
    bellman_optimality_q,
    bellman_optimality_v,
    bellman_q,
    bellman_v,
    q_from_v,
    soft_bellman_q,
    soft_bellman_v,
    soft_optimal_policy,
    soft_v_from_q,
    v_from_q,
)
from rlcore.dp import (
    FiniteHorizonSolution,
    Solution,
    finite_horizon,
    policy_evaluation,
    policy_iteration,
    policy_transition,
    soft_value_iteration,
    states_that_never_terminate,
    value_iteration,
)
from rlcore.env import MDPEnv
from rlcore.intrinsic import CountBonus
from rlcore.mdp import MDP
from rlcore.policies import (
    check_policy,
    epsilon_greedy_policy,
    greedy_policy,
    softmax_policy,
    uniform_policy,
)
from rlcore.tables import q_table, value_table
from rlcore import exploration, learning_plots, td
from rlcore.agents import (
    ExpectedSarsa,
    MonteCarloControl,
    MonteCarloPrediction,
    NStepTD,
    QLearning,
    Sarsa,
    TDZero,
)
from rlcore.exploration import ExponentialDecay, LinearDecay, VisitCountStepSize
from rlcore.lockstep import LockstepHistory, train_lockstep
from rlcore.td import (
    discounted_returns,
    expected_sarsa_target,
    n_step_return,
    q_learning_target,
    sarsa_target,
    td_target,
)
from rlcore.training import History, greedy_path, path_text, q_error, train
from rlcore.advantages import (
    generalized_advantage_estimation,
    lambda_returns,
    monte_carlo_advantages,
    td_errors,
)
from rlcore.pg_agents import ActorCritic, Reinforce
from rlcore.policy_gradient import (
    Episode,
    discounted_occupancy,
    exact_policy_gradient,
    policy_from_logits,
    policy_objective,
    reinforce_gradient,
    sample_episode,
    softmax_score,
)
from rlcore.shaping import add_reward, potential_based_shaping, shaped_mdp

__all__ = [
    # policy gradients, advantage estimation, reward shaping (issue 4)
    "policy_from_logits",
    "softmax_score",
    "discounted_occupancy",
    "policy_objective",
    "exact_policy_gradient",
    "reinforce_gradient",
    "Episode",
    "sample_episode",
    "td_errors",
    "lambda_returns",
    "generalized_advantage_estimation",
    "monte_carlo_advantages",
    "Reinforce",
    "ActorCritic",
    "potential_based_shaping",
    "shaped_mdp",
    "add_reward",
    # learning from experience (issue 3)
    "td",
    "exploration",
    "learning_plots",
    "td_target",
    "q_learning_target",
    "sarsa_target",
    "expected_sarsa_target",
    "n_step_return",
    "discounted_returns",
    "QLearning",
    "Sarsa",
    "ExpectedSarsa",
    "MonteCarloControl",
    "TDZero",
    "NStepTD",
    "MonteCarloPrediction",
    "LinearDecay",
    "ExponentialDecay",
    "VisitCountStepSize",
    "train",
    "History",
    "train_lockstep",
    "LockstepHistory",
    "greedy_path",
    "path_text",
    "q_error",
    "MDP",
    "MDPEnv",
    "CountBonus",
    "mdps",
    "plots",
    "value_table",
    "q_table",
    # policies
    "check_policy",
    "uniform_policy",
    "greedy_policy",
    "epsilon_greedy_policy",
    "softmax_policy",
    # V/Q/A and Bellman operators
    "q_from_v",
    "v_from_q",
    "advantage",
    "bellman_v",
    "bellman_q",
    "bellman_optimality_v",
    "bellman_optimality_q",
    "soft_v_from_q",
    "soft_bellman_v",
    "soft_bellman_q",
    "soft_optimal_policy",
    # dynamic programming
    "Solution",
    "FiniteHorizonSolution",
    "policy_transition",
    "states_that_never_terminate",
    "policy_evaluation",
    "value_iteration",
    "policy_iteration",
    "soft_value_iteration",
    "finite_horizon",
]
