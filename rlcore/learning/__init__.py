"""Learning from samples: TD, Monte Carlo and their control versions (Sutton & Barto, 2nd ed., Chapters 5–7; lectures 5–7).

- :mod:`~rlcore.learning.td`: the update targets and discounted returns, as pure functions that
  work on one transition or a batch.
- :mod:`~rlcore.learning.agents`: the engine every tabular agent is written on — one class serves
  one run and N runs in lockstep.
- :mod:`~rlcore.learning.control`: SARSA, Q-learning, Expected SARSA, Monte Carlo control.
- :mod:`~rlcore.learning.prediction`: TD(0), n-step TD, Monte Carlo prediction.
- :mod:`~rlcore.learning.traces`: eligibility traces — the off-line λ-return, TD(λ), true online
  TD(λ), SARSA(λ) (on linear features, :mod:`rlcore.approximation`; imported from ``rlcore``).
- :mod:`~rlcore.learning.monte_carlo`: Monte Carlo with exploring starts, off-policy prediction with
  importance sampling, off-policy Monte Carlo control.
- :mod:`~rlcore.learning.double_q`: double Q-learning; :mod:`~rlcore.learning.nstep_control`:
  n-step SARSA and tree backup; :mod:`~rlcore.learning.planning`: Dyna-Q, Dyna-Q+ and a world
  that changes.
- :mod:`~rlcore.learning.schedules`: ε, τ and step-size schedules.
- :mod:`~rlcore.learning.table`: the value table, keyed by any hashable observation.
- :mod:`~rlcore.learning.training`: :func:`~rlcore.learning.training.train`, one run on any
  Gymnasium environment; :mod:`~rlcore.learning.lockstep`: N runs on an MDP at once.
- :mod:`~rlcore.learning.evaluation`: a learned Q against the exact Q* (greedy paths, errors).
- :mod:`~rlcore.learning.intrinsic`: a count-based exploration bonus.
"""

from rlcore.learning.agents import Agent, OneStepControl
from rlcore.learning.control import ExpectedSarsa, MonteCarloControl, QLearning, Sarsa
from rlcore.learning.evaluation import greedy_path, q_error
from rlcore.learning.intrinsic import CountBonus
from rlcore.learning.lockstep import MultiRunHistory, train_lockstep
from rlcore.learning.monte_carlo import MonteCarloES, OffPolicyMonteCarloControl
from rlcore.learning.prediction import MonteCarloPrediction, NStepTD, TDZero
from rlcore.learning.double_q import DoubleQLearning, double_q_learning_target
from rlcore.learning.nstep_control import NStepSarsa, TreeBackup, tree_backup_return, tree_backup_returns
from rlcore.learning.planning import ChangingWorldHistory, DynaQ, DynaQPlus, train_changing
from rlcore.learning.schedules import ExponentialDecay, LinearDecay, VisitCountStepSize
from rlcore.learning.table import Table
from rlcore.learning.td import (
    discounted_returns,
    expected_sarsa_target,
    n_step_return,
    q_learning_target,
    sarsa_target,
    td_target,
)
from rlcore.learning.training import EpisodeHistory, train
