"""The finite MDP and its exact solution (Sutton & Barto, 2nd ed., Chapters 3–4; lectures 1–4).

- :mod:`~rlcore.exact.model`: the MDP (S, A, P, R, γ), dense or sparse, with terminal states.
- :mod:`~rlcore.exact.sampling`: drawing from it — one sampler of its dynamics, and its Gymnasium environment.
- :mod:`~rlcore.exact.policies`: policies π(a|s) with the actions on the last axis — greedy,
  ε-greedy, Boltzmann — their probabilities, log-probabilities and draws.
- :mod:`~rlcore.exact.bellman`: V, Q and A from each other; the Bellman operators T^π, T* and T_β.
- :mod:`~rlcore.exact.dp`: policy evaluation, policy iteration, value iteration (and their soft
  and finite-horizon versions), each the operator it teaches applied until a stopping bound holds.
- :mod:`~rlcore.exact.shaping`: reward design on the model — added rewards and potential-based shaping.
"""

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
from rlcore.exact.dp import (
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
from rlcore.exact.model import MDP
from rlcore.exact.policies import (
    TIE_ATOL,
    check_policy,
    epsilon_greedy_log_policy,
    epsilon_greedy_policy,
    greedy_policy,
    max_over_actions,
    sample,
    sample_epsilon_greedy,
    sample_softmax,
    softmax_log_policy,
    softmax_policy,
    uniform_policy,
)
from rlcore.exact.sampling import MDPEnv, TransitionSampler
from rlcore.exact.shaping import add_reward, potential_based_shaping, shaped_mdp
