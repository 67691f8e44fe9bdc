"""rlcore: exact value functions — V, Q and the advantage A = Q − V — on finite MDPs.

Notation and equation numbers follow Sutton & Barto, *Reinforcement Learning: An
Introduction*, 2nd ed. (2018). The public API below is grouped in the order of a course; each
group's home is a subpackage:

0. Bandits — :mod:`rlcore.bandits` (the 10-armed testbed, ε-greedy, UCB, gradient bandit)
1. MDPs and policies — :mod:`rlcore.exact` (model, sampling, policies), :mod:`rlcore.mdps` (the book's MDPs)
2. V, Q, A and the Bellman operators — :mod:`rlcore.exact.bellman`
3. Dynamic programming — :mod:`rlcore.exact.dp`
4. Reward design — :mod:`rlcore.exact.shaping`, :mod:`rlcore.learning.intrinsic`
5. Learning from samples (TD, Monte Carlo, control) — :mod:`rlcore.learning`, :mod:`rlcore.blackjack` (Example 5.1)
5b. Approximation and eligibility traces — :mod:`rlcore.approximation`, :mod:`rlcore.learning.traces`
6. Policy gradient and advantage estimation — :mod:`rlcore.policy_gradient`
7. Plots and tables — :mod:`rlcore.plots`

Checking a student's code against the exact answers: :mod:`rlcore.testing`; one backup written out
term by term: :func:`rlcore.explain_backup`; the exercises and their grader: :mod:`rlcore.exercises`,
``python -m rlcore.grade``.

Helpers that are not concepts of the course stay in their subpackage (for example
``rlcore.exact.check_policy``, ``rlcore.learning.q_error``, ``rlcore.plots.path_text``).
The names used for each concept are listed in ``docs/glossary.md``.
"""

from rlcore import approximation, exact, learning, mdps, plots, policy_gradient, testing
from rlcore import bandits, blackjack

# 0. Bandits
from rlcore.bandits import (
    BanditHistory,
    EpsilonGreedyBandit,
    GradientBandit,
    Testbed,
    UCBBandit,
    gradient_bandit_update,
    parameter_study,
    run_bandit,
    ten_armed_testbed,
    ucb_scores,
)

# 1. MDPs and policies
from rlcore.exact.model import MDP
from rlcore.exact.sampling import MDPEnv, TransitionSampler
from rlcore.exact.policies import (
    epsilon_greedy_log_policy,
    epsilon_greedy_policy,
    greedy_policy,
    softmax_log_policy,
    softmax_policy,
    uniform_policy,
)

# 2. V, Q, A and the Bellman operators
from rlcore.exact.bellman import (
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
from rlcore.explain import explain_backup

# 3. Dynamic programming
from rlcore.exact.dp import (
    FiniteHorizonSolution,
    Solution,
    finite_horizon,
    policy_evaluation,
    policy_iteration,
    policy_transition,
    soft_value_iteration,
    value_iteration,
)

# 4. Reward design
from rlcore.exact.shaping import add_reward, potential_based_shaping, shaped_mdp
from rlcore.learning.intrinsic import CountBonus

# 5. Learning from samples
from rlcore.learning.td import (
    discounted_returns,
    expected_sarsa_target,
    n_step_return,
    q_learning_target,
    sarsa_target,
    td_target,
)
from rlcore.learning.control import ExpectedSarsa, MonteCarloControl, QLearning, Sarsa
from rlcore.learning.prediction import MonteCarloPrediction, NStepTD, TDZero
from rlcore.learning.monte_carlo import (
    MonteCarloES,
    OffPolicyMonteCarloControl,
    importance_sampling_ratios,
    infinite_variance_mdp,
    off_policy_returns,
    ordinary_importance_sampling,
    weighted_importance_sampling,
)
from rlcore.blackjack import BlackjackEnv, blackjack_mdp, play_blackjack
from rlcore.learning.double_q import DoubleQLearning
from rlcore.learning.nstep_control import NStepSarsa, TreeBackup
from rlcore.learning.planning import DynaQ, DynaQPlus
from rlcore.learning.schedules import ExponentialDecay, LinearDecay, VisitCountStepSize
from rlcore.learning.training import EpisodeHistory, train
from rlcore.learning.lockstep import MultiRunHistory, train_lockstep

# 5b. Approximation and eligibility traces
from rlcore.approximation.features import FourierBasis, PolynomialBasis, StateAggregation, TileCoder
from rlcore.approximation.linear import (
    gradient_mc_update,
    on_policy_distribution,
    semi_gradient_sarsa_update,
    semi_gradient_td_update,
    td_fixed_point,
    value_error,
)
from rlcore.approximation.agents import GradientMonteCarlo, SemiGradientSarsa, SemiGradientTD
from rlcore.learning.traces import OfflineLambdaReturn, SarsaLambda, TDLambda, TrueOnlineTDLambda

# 6. Policy gradient and advantage estimation
from rlcore.policy_gradient.gradients import (
    Episode,
    discounted_occupancy,
    exact_policy_gradient,
    policy_from_logits,
    policy_objective,
    reinforce_gradient,
    sample_episode,
    softmax_score,
)
from rlcore.policy_gradient.advantages import (
    generalized_advantage_estimation,
    lambda_returns,
    monte_carlo_advantages,
    td_errors,
)
from rlcore.policy_gradient.agents import ActorCritic, Reinforce

# 7. Plots and tables
from rlcore.plots.text import q_table, value_table

__all__ = [
    # subpackages
    "exact",
    "learning",
    "policy_gradient",
    "plots",
    "mdps",
    "approximation",
    "testing",
    "bandits",
    "blackjack",
    # 0. Bandits
    "Testbed",
    "ten_armed_testbed",
    "ucb_scores",
    "gradient_bandit_update",
    "EpsilonGreedyBandit",
    "UCBBandit",
    "GradientBandit",
    "BanditHistory",
    "run_bandit",
    "parameter_study",
    # 1. MDPs and policies
    "MDP",
    "MDPEnv",
    "TransitionSampler",
    "uniform_policy",
    "greedy_policy",
    "epsilon_greedy_policy",
    "epsilon_greedy_log_policy",
    "softmax_policy",
    "softmax_log_policy",
    # 2. V, Q, A and the Bellman operators
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
    "explain_backup",
    # 3. Dynamic programming
    "Solution",
    "FiniteHorizonSolution",
    "policy_transition",
    "policy_evaluation",
    "policy_iteration",
    "value_iteration",
    "soft_value_iteration",
    "finite_horizon",
    # 4. Reward design
    "add_reward",
    "shaped_mdp",
    "potential_based_shaping",
    "CountBonus",
    # 5. Learning from samples
    "td_target",
    "q_learning_target",
    "sarsa_target",
    "expected_sarsa_target",
    "n_step_return",
    "discounted_returns",
    "TDZero",
    "NStepTD",
    "MonteCarloPrediction",
    "Sarsa",
    "QLearning",
    "ExpectedSarsa",
    "MonteCarloControl",
    "MonteCarloES",
    "OffPolicyMonteCarloControl",
    "importance_sampling_ratios",
    "ordinary_importance_sampling",
    "weighted_importance_sampling",
    "off_policy_returns",
    "infinite_variance_mdp",
    "BlackjackEnv",
    "blackjack_mdp",
    "play_blackjack",
    "DoubleQLearning",
    "NStepSarsa",
    "TreeBackup",
    "DynaQ",
    "DynaQPlus",
    "LinearDecay",
    "ExponentialDecay",
    "VisitCountStepSize",
    "train",
    "EpisodeHistory",
    "train_lockstep",
    "MultiRunHistory",
    # 5b. Approximation and eligibility traces
    "StateAggregation",
    "PolynomialBasis",
    "FourierBasis",
    "TileCoder",
    "gradient_mc_update",
    "semi_gradient_td_update",
    "semi_gradient_sarsa_update",
    "on_policy_distribution",
    "value_error",
    "td_fixed_point",
    "GradientMonteCarlo",
    "SemiGradientTD",
    "SemiGradientSarsa",
    "OfflineLambdaReturn",
    "TDLambda",
    "TrueOnlineTDLambda",
    "SarsaLambda",
    # 6. Policy gradient and advantage estimation
    "policy_from_logits",
    "softmax_score",
    "discounted_occupancy",
    "policy_objective",
    "exact_policy_gradient",
    "Episode",
    "sample_episode",
    "reinforce_gradient",
    "td_errors",
    "lambda_returns",
    "generalized_advantage_estimation",
    "monte_carlo_advantages",
    "Reinforce",
    "ActorCritic",
    # 7. Plots and tables
    "value_table",
    "q_table",
]
