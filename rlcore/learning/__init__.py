"""Learning from samples: TD, Monte Carlo and their control versions (Sutton & Barto, 2nd ed., Chapters 5–7; lectures 5–7).

- :mod:`~rlcore.learning.td`: the update targets and discounted returns, as pure functions that
  work on one transition or a batch.
- :mod:`~rlcore.learning.agents`: the engine every tabular agent is written on — one class serves
  one run and N runs in lockstep.
- :mod:`~rlcore.learning.control`: SARSA, Q-learning, Expected SARSA, Monte Carlo control.
- :mod:`~rlcore.learning.prediction`: TD(0), n-step TD, Monte Carlo prediction.
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
from rlcore.learning.prediction import MonteCarloPrediction, NStepTD, TDZero
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
