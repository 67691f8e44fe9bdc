"""rlcore's tabular agents on token generation, unchanged, scored exactly on the prefix tree.

The documented task (docs/token_mdp.md): prompt "ROMEO:\\nI ", the 8 actions "etaoinsh",
horizon 5, reward = ContainsWord("the") (terminal, sparse) + AvoidCharacters("s", 0.2)
(immediate, dense). V*(s_0) = 1; the bundled model's own policy scores V^{π_ref}(s_0) ≈ −0.05.
"""

import pytest

import lmenv
import rlcore as rl
from lmenv import rewards as R
from rlcore import QLearning, Sarsa, train

TASK = R.ContainsWord("the") + R.AvoidCharacters("s", 0.2)


@pytest.fixture(scope="module")
def env():
    return lmenv.TokenEnv(prompt="ROMEO:\nI ", max_new_tokens=5, actions="etaoinsh", reward=TASK)


@pytest.fixture(scope="module")
def tree(env):
    return lmenv.to_mdp(env)  # also warms the prefix cache: training then runs at table speed


def fraction_of_optimum(tree, agent) -> float:
    greedy = tree.policy_from_values(agent.q_values)
    return rl.policy_evaluation(tree.task_mdp, greedy).V[0] / rl.value_iteration(tree.task_mdp).V[0]


@pytest.mark.parametrize("Agent, settings", [
    (QLearning, dict(alpha=0.5, epsilon=0.2)),
    (Sarsa, dict(alpha=0.5, epsilon=0.1)),
])
def test_tabular_agents_reach_95_percent_of_v_star(env, tree, Agent, settings):
    assert rl.value_iteration(tree.task_mdp).V[0] == pytest.approx(1.0)
    agent = Agent(env, gamma=1.0, seed=0, **settings)
    assert fraction_of_optimum(tree, agent) < 0.5  # an untrained table does not pass
    history = train(agent, env, 2000, seed=0, progress=False)
    assert isinstance(agent.Q, dict)  # keyed by observation: the agent code is unchanged
    assert fraction_of_optimum(tree, agent) >= 0.95
    assert history.returns[-200:].mean() > history.returns[:200].mean() + 0.2  # and it learns while exploring


def test_last_token_abstraction_costs_value(env):
    """'End with the word': the full prefix state learns it; a table keyed by the last token does not.

    A policy of the last token alone that ends with "the" exists ("eathe": e→a→t→h→e), but
    Q-learning on the aliased states averages the values of prefixes that share their last token
    but need different actions, and does not find it (Singh, Jaakkola & Jordan 1994). Exact
    evaluation on the tree measures the cost.
    """
    ends_with_the = R.FunctionReward(lambda before, token, terminal: float(terminal and (before + token).endswith("the")))
    base = lmenv.TokenEnv(prompt="ROMEO:\nI ", max_new_tokens=5, actions="etaoinsh", reward=ends_with_the,
                          reference=env.reference)
    task_tree = lmenv.to_mdp(base)
    v_star = rl.value_iteration(task_tree.task_mdp).V[0]
    assert v_star == 1.0
    scores = {}
    for name, wrapper in {"full prefix": None, "last token": lmenv.LastTokens(base, k=1)}.items():
        agent_env = base if wrapper is None else wrapper
        agent = QLearning(agent_env, alpha=0.5, epsilon=0.3, gamma=1.0, seed=1)
        train(agent, agent_env, 4000, seed=1, progress=False)
        abstraction = (lambda obs: obs) if wrapper is None else wrapper.observation
        policy = task_tree.policy_from_values(lambda obs: agent.q_values(abstraction(obs)))
        scores[name] = rl.policy_evaluation(task_tree.task_mdp, policy).V[0]
    assert scores["full prefix"] >= 0.95 * v_star
    assert scores["last token"] < 0.5 * v_star
