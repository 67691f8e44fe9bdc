"""A pytest plugin with MDP fixtures, so that a student's test file needs no set-up.

Installed with rlcore (the ``pytest11`` entry point ``rlcore``), it provides:

- ``textbook_mdp`` — parametrised over the book's MDPs: the two-state MDP, the 4x4 gridworld
  (Example 4.1, γ = 1), the 5x5 gridworld (Example 3.5), the random walk (Example 6.2) and the
  gambler's problem (Example 4.3, goal 16);
- ``random_mdp`` — parametrised over random MDPs: dense, sparse, with terminal states, γ = 0 and
  γ = 1 (episodic, every policy terminates).

Each test gets a fresh MDP, so a test that writes into ``mdp.P`` cannot spoil the next one::

    import rlcore
    from rlcore.testing import assert_value_of_policy

    def test_my_policy_evaluation(textbook_mdp):
        policy = rlcore.uniform_policy(textbook_mdp)
        assert_value_of_policy(textbook_mdp, policy, my_policy_evaluation(textbook_mdp, policy, 1e-10))

Nothing of rlcore is imported until a fixture is used, so the plugin costs nothing to other test suites.
"""

from __future__ import annotations

import pytest

TEXTBOOK = ("two_state", "gridworld_4x4", "gridworld_5x5", "random_walk", "gamblers_problem")
RANDOM = ("garnet_dense", "garnet_sparse", "garnet_terminal", "garnet_gamma0", "episodic_garnet")


def make_textbook_mdp(name: str):
    """The book's MDP called ``name`` (one of TEXTBOOK)."""
    from rlcore import mdps

    if name == "gamblers_problem":
        return mdps.gamblers_problem(0.4, goal=16)
    return getattr(mdps, name)()


def make_random_mdp(name: str):
    """The random MDP called ``name`` (one of RANDOM), the same on every run."""
    from rlcore import mdps
    from rlcore.testing.battery import episodic_garnet, garnet_with_terminals

    return {
        "garnet_dense": lambda: mdps.garnet(10, 3, 3, seed=101, gamma=0.9),
        "garnet_sparse": lambda: mdps.garnet(30, 4, 3, seed=102, gamma=0.9, sparse=True),
        "garnet_terminal": lambda: garnet_with_terminals(10, 3, 3, seed=103, gamma=0.95),
        "garnet_gamma0": lambda: mdps.garnet(6, 2, 2, seed=104, gamma=0.0),
        "episodic_garnet": lambda: episodic_garnet(8, 3, 3, seed=105),
    }[name]()


@pytest.fixture(params=TEXTBOOK)
def textbook_mdp(request):
    """A fresh copy of one of the book's MDPs (the test runs once per MDP)."""
    return make_textbook_mdp(request.param)


@pytest.fixture(params=RANDOM)
def random_mdp(request):
    """A fresh random MDP: dense, sparse, with terminal states, γ = 0, or γ = 1 episodic (one test run each)."""
    return make_random_mdp(request.param)
