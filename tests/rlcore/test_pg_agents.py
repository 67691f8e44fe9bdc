"""REINFORCE (with and without a baseline) and one-step actor-critic: their updates by hand, the
identity between REINFORCE's step and the pure estimator, learning to the exact optimum on the 4x4
gridworld through rlcore.train, the variance reduction of the learned baseline (measured), seeds."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

import rlcore as rl
from rlcore import mdps
from rlcore.policy_gradient import ActorCritic, Reinforce, monte_carlo_advantages
from rlcore.policy_gradient import policy_from_logits, policy_objective, reinforce_gradient, sample_episode
from rlcore.learning import discounted_returns, train

AGENTS = [
    lambda env, **kw: Reinforce(env, alpha=0.05, **kw),
    lambda env, **kw: Reinforce(env, alpha=0.05, baseline=True, alpha_value=0.1, **kw),
    lambda env, **kw: ActorCritic(env, alpha=0.1, alpha_value=0.1, **kw),
]


def play(agent, states, rewards, terminated=True):
    """Feed the agent a fixed episode S_0, R_1, S_1, …; return the actions it chose."""
    actions = [agent.start(states[0])]
    for t, (r, s) in enumerate(zip(rewards, states[1:])):
        last = t == len(rewards) - 1
        a = agent.step(r, s, terminated=terminated and last, truncated=last and not terminated)
        if a is not None:
            actions.append(a)
    return actions


# ---------------------------------------------------------------------- updates by hand
def test_reinforce_takes_one_step_along_the_episode_gradient():
    mdp = mdps.gridworld_4x4()
    agent = Reinforce(mdp, alpha=0.3, seed=0)
    agent.theta[:] = np.random.default_rng(1).normal(size=agent.theta.shape)
    theta0 = agent.theta.copy()
    states, rewards = [5, 6, 6, 2, 3, 0], [-1.0] * 5  # S_5 = 0 is terminal; state 6 visited twice
    actions = play(agent, states, rewards)
    discounts = np.array([1.0] * 4 + [0.0])
    expected = theta0 + 0.3 * reinforce_gradient(theta0, states[:-1], actions, discounted_returns(rewards, discounts), discounts)
    np.testing.assert_allclose(agent.theta, expected, atol=1e-12)


def test_reinforce_with_baseline_by_hand():
    """ψ_t = G_t − V(S_t) with V from before the episode; then V(S_t) += α_V (G_t − V(S_t)) in time order."""
    mdp = mdps.two_state()  # γ = 0.9; no terminal state, so the episode is truncated and bootstraps from V(S_T)
    agent = Reinforce(mdp, alpha=0.5, baseline=True, alpha_value=0.5, seed=3)
    agent.V[:] = [2.0, 4.0]
    states, rewards = [0, 1, 0], [1.0, 2.0]
    actions = play(agent, states, rewards, terminated=False)
    G = [1.0 + 0.9 * (2.0 + 0.9 * 2.0), 2.0 + 0.9 * 2.0]  # bootstrapped from V(S_2) = V(A) = 2
    psi = [G[0] - 2.0, G[1] - 4.0]
    pi = np.full(2, 0.5)  # θ = 0 before the episode
    theta = np.zeros((2, 2))
    theta[0] += 0.5 * 1.0 * psi[0] * (np.eye(2)[actions[0]] - pi)
    theta[1] += 0.5 * 0.9 * psi[1] * (np.eye(2)[actions[1]] - pi)
    np.testing.assert_allclose(agent.theta, theta, atol=1e-12)
    np.testing.assert_allclose(agent.V, [2.0 + 0.5 * (G[0] - 2.0), 4.0 + 0.5 * (G[1] - 4.0)], atol=1e-12)


def test_actor_critic_by_hand():
    mdp = mdps.two_state()
    agent = ActorCritic(mdp, alpha=0.5, alpha_value=0.25, seed=0)
    agent.V[:] = [1.0, 3.0]
    a0 = agent.start(0)
    a1 = agent.step(2.0, 1, terminated=False)
    delta0 = 2.0 + 0.9 * 3.0 - 1.0  # δ = R + γ V(S') − V(S) = 3.7
    assert agent.V[0] == pytest.approx(1.0 + 0.25 * delta0)
    np.testing.assert_allclose(agent.theta[0], 0.5 * delta0 * (np.eye(2)[a0] - 0.5))  # I = 1
    agent.step(-1.0, 0, terminated=True)  # S' terminal (as far as the agent knows): no bootstrap
    delta1 = -1.0 - 3.0
    assert agent.V[1] == pytest.approx(3.0 + 0.25 * delta1)
    np.testing.assert_allclose(agent.theta[1], 0.5 * 0.9 * delta1 * (np.eye(2)[a1] - 0.5))  # I = γ
    # a new episode starts again with I = 1
    agent.start(1)
    assert agent._I == 1.0


def test_actor_critic_bootstraps_on_truncation():
    mdp = mdps.two_state()
    agent = ActorCritic(mdp, alpha=0.5, alpha_value=1.0, seed=0)
    agent.V[:] = [1.0, 3.0]
    agent.start(0)
    assert agent.step(0.0, 1, terminated=False, truncated=True) is None
    assert agent.V[0] == pytest.approx(0.9 * 3.0)  # α_V = 1: V(S) = R + γ V(S')


# ---------------------------------------------------------------------- learning, scored exactly
@pytest.mark.parametrize("make", AGENTS, ids=["reinforce", "reinforce+baseline", "actor-critic"])
def test_agents_learn_the_gridworld_to_near_its_exact_optimum(make):
    """J(θ) climbs from −18.3 (uniform policy) to within 1.5 of J* = −2 in 300 episodes, via rlcore.train."""
    mdp = mdps.gridworld_4x4()
    J_star = mdp.initial @ rl.value_iteration(mdp).V
    agent = make(mdp)
    history = train(agent, mdp.to_env(), 300, seed=1, snapshot_every=100, progress=False)
    J = [policy_objective(mdp, theta) for theta in history.snapshots]
    assert J[0] == pytest.approx(-128 / 7)
    assert J_star - J[-1] < 1.5, J
    assert J[-1] > J[1] > J[0]


def test_same_seed_same_run():
    mdp = mdps.gridworld_4x4()
    runs = []
    for seed in (7, 7, 8):
        agent = ActorCritic(mdp, alpha=0.1)
        history = train(agent, mdp.to_env(), 20, seed=seed, progress=False)
        runs.append((agent.theta.copy(), history.returns))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert not np.array_equal(runs[0][0], runs[2][0])


def test_learned_baseline_reduces_the_variance_of_reinforce():
    """Measured, not assumed: with θ fixed (α tiny) the learned baseline approaches v_π, and the
    total variance of the single-episode gradient estimates drops to about half (gridworld, b = 0
    vs the learned V)."""
    mdp = mdps.gridworld_4x4()
    agent = Reinforce(mdp, alpha=1e-9, baseline=True, alpha_value=0.02)
    train(agent, mdp.to_env(), 300, seed=0, progress=False)
    theta = agent.theta.copy()
    pi = policy_from_logits(theta)
    v_pi = rl.policy_evaluation(mdp, pi).V
    assert np.abs(agent.V - v_pi).mean() < 3.0  # a noisy Monte Carlo estimate of values from −14 to −22
    rng = np.random.default_rng(5)
    plain, baselined = [], []
    for _ in range(1500):
        ep = sample_episode(mdp, pi, rng)
        G = discounted_returns(ep.rewards, ep.discounts)
        plain.append(reinforce_gradient(theta, ep.states[:-1], ep.actions, G, ep.discounts))
        psi = monte_carlo_advantages(ep.rewards, ep.discounts, agent.V[ep.states])
        baselined.append(reinforce_gradient(theta, ep.states[:-1], ep.actions, psi, ep.discounts))
    ratio = np.var(baselined, axis=0).sum() / np.var(plain, axis=0).sum()
    assert 0.3 < ratio < 0.75, ratio


# ---------------------------------------------------------------------- any hashable observation
class ChooseTwo(gym.Env):
    """Pick two tokens; reward 1 for the sequence (1, 0). Observations are tuples of tokens."""

    action_space = spaces.Discrete(2)
    observation_space = spaces.Sequence(spaces.Discrete(2))

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.tokens = ()
        return self.tokens, {}

    def step(self, action):
        self.tokens += (int(action),)
        done = len(self.tokens) == 2
        return self.tokens, float(self.tokens == (1, 0)), done, False, {}


@pytest.mark.parametrize("make", AGENTS[1:], ids=["reinforce+baseline", "actor-critic"])
def test_agents_on_tuple_observations(make):
    agent = make(ChooseTwo(), gamma=1.0)
    train(agent, ChooseTwo(), 400, seed=0, progress=False)
    assert isinstance(agent.theta, dict) and isinstance(agent.V, dict)
    assert agent.action_probs(())[1] > 0.8 and agent.action_probs((1,))[0] > 0.8
    with pytest.raises(TypeError, match="Discrete observation space"):
        agent.policy


def test_bad_settings_are_rejected():
    mdp = mdps.two_state()
    with pytest.raises(ValueError, match="alpha"):
        Reinforce(mdp, alpha=0.0)
    with pytest.raises(ValueError, match="alpha"):
        ActorCritic(mdp, alpha="big")
    with pytest.raises(ValueError, match="alpha_value"):
        ActorCritic(mdp, alpha_value=1.5)
    with pytest.raises(ValueError, match="gamma"):
        Reinforce(ChooseTwo())
    with pytest.raises(TypeError, match="Discrete action space"):
        env = ChooseTwo()
        env.action_space = spaces.Box(0, 1)
        Reinforce(env, gamma=1.0)
    assert "baseline=True" in repr(Reinforce(mdp, baseline=True))
    assert Reinforce(mdp).V is None


def test_baseline_and_critic_keep_one_row_per_observation_on_tuple_observations():
    """V is kept beside θ: on observations keyed by a dict the two tables must grow together (the
    critic used to be indexed with θ's rows and ran out of them)."""
    from gymnasium import spaces

    class Count(gym.Env):  # observations: tuples of the actions taken so far; ends after 3 steps
        observation_space = spaces.Sequence(spaces.Discrete(2))
        action_space = spaces.Discrete(2)

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            self.tokens = ()
            return self.tokens, {}

        def step(self, action):
            self.tokens += (int(action),)
            done = len(self.tokens) == 3
            return self.tokens, float(done and sum(self.tokens) == 3), done, False, {}

    env = Count()
    for agent in (Reinforce(env, alpha=0.5, baseline=True, alpha_value=0.2, gamma=1.0),
                  ActorCritic(env, alpha=0.5, alpha_value=0.2, gamma=1.0)):
        history = train(agent, env, 300, seed=0, progress=False)
        assert set(agent.V) == set(agent.theta) and len(agent.V) >= 3
        assert history.returns[-50:].mean() > 0.6, type(agent).__name__  # learns to choose 1, 1, 1
