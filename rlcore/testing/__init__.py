"""Checks of a *student's* code against exact answers: rlcore as an autograder (Sutton & Barto, 2nd ed., Chapters 3–7, 13).

A student's V either satisfies V = T^π V or it does not, and these checks say at which state, by
which term, and — when one of the usual mistakes reproduces the answer exactly — which mistake.

**Values and policies** (the student's arrays; each returns None or raises :class:`CheckFailed`):
:func:`assert_value_of_policy`, :func:`assert_action_values`, :func:`assert_optimal_values`,
:func:`assert_optimal_policy`, :func:`assert_bellman_consistent`, :func:`assert_advantage`,
:func:`assert_soft_optimal_values`.

**Functions** (the student's functions, run on a battery of MDPs or transitions; each returns a
:class:`CheckReport` and, unless ``raise_on_failure=False``, raises :class:`CheckFailed` when a case
fails): :func:`check_q_from_v`, :func:`check_bellman_backup`, :func:`check_policy_evaluation`,
:func:`check_value_iteration`, :func:`check_policy_iteration`, :func:`check_soft_backup`,
:func:`check_td_update`, :func:`check_returns`, :func:`check_monte_carlo_prediction`,
:func:`check_policy_gradient`, :func:`check_reinforce_gradient`. The signature each expects is in
its docstring (and in ``docs/testing.md``).

**Errors.** :class:`CheckFailed` (an ``AssertionError``, so pytest and plain ``assert`` tooling
report it as a test failure) means the student's answer is wrong; its subclasses
:class:`MalformedAnswer` (wrong type or shape, NaN, not a distribution) and
:class:`StudentCodeError` (the student's function raised or ran past its time limit) say why.
``TypeError``/``ValueError`` mean the check itself was called wrongly (an ``mdp`` that is not an
:class:`rlcore.MDP`, a given policy that is not a distribution).

**Property tests and pytest.** :mod:`rlcore.testing.strategies` holds hypothesis strategies
(``@given(mdps())``); it needs the ``testing`` extra (``pip install "rlcore-lmenv[testing]"``) and
is not imported here. :mod:`rlcore.testing.plugin` is a pytest plugin, registered through the
``pytest11`` entry point, with the fixtures ``textbook_mdp`` and ``random_mdp``.
"""

from rlcore.testing._core import CaseResult, CheckFailed, CheckReport, MalformedAnswer, StudentCodeError
from rlcore.testing.algorithms import (
    check_bellman_backup,
    check_policy_evaluation,
    check_policy_iteration,
    check_q_from_v,
    check_soft_backup,
    check_value_iteration,
)
from rlcore.testing.battery import Case, battery, episodic_garnet, random_cases, textbook_cases
from rlcore.testing.gradients import check_policy_gradient, check_reinforce_gradient
from rlcore.testing.updates import check_monte_carlo_prediction, check_returns, check_td_update
from rlcore.testing.values import (
    assert_action_values,
    assert_advantage,
    assert_bellman_consistent,
    assert_optimal_policy,
    assert_optimal_values,
    assert_soft_optimal_values,
    assert_value_of_policy,
)

__all__ = [
    # failures and reports
    "CheckFailed",
    "MalformedAnswer",
    "StudentCodeError",
    "CheckReport",
    "CaseResult",
    # values and policies
    "assert_value_of_policy",
    "assert_action_values",
    "assert_optimal_values",
    "assert_optimal_policy",
    "assert_bellman_consistent",
    "assert_advantage",
    "assert_soft_optimal_values",
    # dynamic programming
    "check_q_from_v",
    "check_bellman_backup",
    "check_policy_evaluation",
    "check_value_iteration",
    "check_policy_iteration",
    "check_soft_backup",
    # learning from samples
    "check_td_update",
    "check_returns",
    "check_monte_carlo_prediction",
    # policy gradient
    "check_policy_gradient",
    "check_reinforce_gradient",
    # the battery of MDPs
    "Case",
    "battery",
    "textbook_cases",
    "random_cases",
    "episodic_garnet",
]
