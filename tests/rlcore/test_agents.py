"""The agents: their updates by hand, identities between them, exploration, observations of any
hashable kind (as a token-generation environment produces), and clear errors on bad input."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from rlcore import mdps
from rlcore.learning import (
    ExpectedSarsa,
    MonteCarloControl,
    MonteCarloPrediction,
    NStepTD,
    QLearning,
    Sarsa,
    TDZero,
)
from rlcore.exact.policies import (
    draw_greedy,
    draw_softmax,
    epsilon_greedy_policy,
    sample_epsilon_greedy,
    sample_softmax,
    softmax_policy,
)
from rlcore.learning import ExponentialDecay, LinearDecay, VisitCountStepSize, train

CONTROL = [QLearning, Sarsa, ExpectedSarsa, MonteCarloControl]
EVALUATION = [TDZero, MonteCarloPrediction, lambda env, **kw: NStepTD(env, n=3, **kw)]


class TokenEnv(gym.Env):
    """A toy token-generation task: observations are the tuple of tokens generated so far.

    Actions are tokens 0..V−1, token V−1 is end-of-sequence. Reward 1 when the sequence ended by
    EOS equals ``target``, else 0. Episodes terminate at EOS and are truncated after ``max_len``
    tokens.
    """

    def __init__(self, target=(2, 0, 1), vocab=4, max_len=5, as_array=False):
        self.target, self.max_len, self.as_array = tuple(target), max_len, as_array
        self.eos = vocab - 1
        self.action_space = spaces.Discrete(vocab)
        self.observation_space = spaces.Sequence(spaces.Discrete(vocab))

    def _obs(self):
        return np.array(self.tokens, dtype=np.int64) if self.as_array else tuple(self.tokens)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.tokens = []
        return self._obs(), {}

    def step(self, action):
        if action == self.eos:
            return self._obs(), float(tuple(self.tokens) == self.target), True, False, {}
        self.tokens.append(int(action))
        return self._obs(), 0.0, False, len(self.tokens) >= self.max_len, {}


def greedy_rollout(agent, env, max_len=10):
    obs, _ = env.reset()
    for _ in range(max_len):
        obs, reward, terminated, truncated, _ = env.step(agent.greedy_action(obs))
        if terminated or truncated:
            return obs, reward
    return obs, None


# ---------------------------------------------------------------------- updates by hand
def test_one_q_learning_update_by_hand():
    agent = QLearning(mdps.cliff_walking(), alpha=0.5, epsilon=0.0, seed=0)
    agent.Q[25] = [1.0, 4.0, 2.0, 3.0]
    agent.Q[24] = [0.0, 9.0, 0.0, 0.0]  # unique greedy action: right
    assert agent.start(24) == 1
    agent.step(-1.0, 25, terminated=False)
    assert agent.Q[24, 1] == 9.0 + 0.5 * (-1.0 + 1.0 * 4.0 - 9.0)  # eq. 6.8 with γ = 1


def test_sarsa_bootstraps_on_the_action_it_will_take():
    agent = Sarsa(mdps.cliff_walking(), alpha=1.0, epsilon=0.0, seed=0)
    agent.Q[25] = [1.0, 4.0, 2.0, 3.0]
    agent.Q[24] = [0.0, 9.0, 0.0, 0.0]
    agent.start(24)
    a = agent.step(-1.0, 25, terminated=False)
    assert a == 1 and agent.Q[24, 1] == -1.0 + 4.0  # Q(S', A') with A' the greedy action taken next


def test_truncation_bootstraps_and_termination_does_not():
    for terminated, truncated, expected in [(True, False, -1.0), (False, True, -1.0 + 0.5 * 8.0)]:
        for cls in (QLearning, Sarsa, ExpectedSarsa):
            agent = cls(mdps.two_state(), alpha=1.0, gamma=0.5, epsilon=0.0, seed=0)
            agent.Q[1] = [8.0, 8.0]
            agent.Q[0] = [5.0, 0.0]
            agent.start(0)
            assert agent.step(-1.0, 1, terminated, truncated) is None
            assert agent.Q[0, 0] == expected, (cls.__name__, terminated)


def test_td_zero_update_by_hand():
    agent = TDZero(mdps.random_walk(), alpha=0.1, initial_value=0.5, seed=0)
    agent.start(3)
    agent.step(0.0, 4, terminated=False)
    assert agent.V[3] == 0.5 + 0.1 * (0.0 + 0.5 - 0.5)
    agent.step(1.0, 6, terminated=True)
    assert agent.V[4] == pytest.approx(0.5 + 0.1 * (1.0 + 0.0 - 0.5))  # V(terminal) never bootstraps


def test_monte_carlo_first_visit_and_every_visit_by_hand():
    # Episode C → D → C → D → right end: every reward 0 but the last (+1), γ = 1.
    steps = [(0.0, 4, False), (0.0, 3, False), (0.0, 4, False), (1.0, 6, True)]
    first = MonteCarloPrediction(mdps.random_walk(), alpha=0.5, first_visit=True, initial_value=0.0)
    every = MonteCarloPrediction(mdps.random_walk(), alpha=0.5, first_visit=False, initial_value=0.0)
    for agent in (first, every):
        agent.start(3)
        for r, s, done in steps:
            agent.step(r, s, done)
    assert first.V[3] == 0.5 and first.V[4] == 0.5  # one update each toward G = 1
    assert every.V[3] == 0.75 and every.V[4] == 0.75  # two updates each: 0 → 0.5 → 0.75


class ActionsInStartState(gym.Wrapper):
    """Records, per episode, the set of actions taken in state 0."""

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self.obs = obs
        self.sets = getattr(self, "sets", []) + [set()]
        return obs, info

    def step(self, action):
        if self.obs == 0:
            self.sets[-1].add(int(action))
        out = self.env.step(action)
        self.obs = out[0]
        return out


def test_monte_carlo_control_with_1_over_n_averages_the_returns():
    env = ActionsInStartState(gym.make("FrozenLake-v1", map_name="4x4", is_slippery=True))
    agent = MonteCarloControl(env, gamma=1.0, epsilon=1.0, first_visit=True)  # α = 1/N(s, a)
    history = train(agent, env, 400, seed=0, progress=False)
    # The only reward comes at the end, so with γ = 1 every return of an episode is its sum of
    # rewards; first-visit MC averages it once per episode in which (0, a) occurred.
    for a in range(4):
        visited = np.array([a in actions for actions in env.sets])
        assert agent.counts[0, a] == visited.sum() > 0
        assert agent.Q[0, a] == pytest.approx(history.returns[visited].mean(), rel=1e-12)


def test_n_step_td_with_n_1_is_td_zero():
    env = mdps.random_walk().to_env()
    a = NStepTD(env, n=1, alpha=0.1, gamma=1.0, initial_value=0.5)
    b = TDZero(env, alpha=0.1, gamma=1.0, initial_value=0.5)
    ha, hb = (train(x, env, 50, seed=7, progress=False) for x in (a, b))
    np.testing.assert_array_equal(ha.returns, hb.returns)
    np.testing.assert_array_equal(a.V, b.V)


def test_n_step_td_with_long_n_is_every_visit_monte_carlo():
    env = mdps.random_walk().to_env()
    a = NStepTD(env, n=1000, alpha=0.1, gamma=1.0, initial_value=0.5)
    b = MonteCarloPrediction(env, alpha=0.1, gamma=1.0, initial_value=0.5)
    for x in (a, b):
        train(x, env, 50, seed=3, progress=False)
    np.testing.assert_allclose(a.V, b.V, rtol=1e-12)


# ---------------------------------------------------------------------- identities between agents
def test_expected_sarsa_with_greedy_target_makes_q_learning_updates():
    """Same seed, same environment: identical histories, and the same Q tables.

    The greedy target policy splits actions within TIE_ATOL = 1e-9 of the maximum evenly (as
    ``rlcore.greedy_policy`` does), so where two action values have converged to within 1e-9 of
    each other its expectation can sit up to 1e-9 below the max; hence atol = 1e-8 on Q. With
    distinct values the two targets are equal exactly (test_td).
    """
    env = gym.make("CliffWalking-v1")
    q = QLearning(env, alpha=0.5, gamma=1.0, epsilon=0.1)
    e = ExpectedSarsa(env, alpha=0.5, gamma=1.0, epsilon=0.1, target_epsilon=0.0)
    hq = train(q, env, 100, seed=11, progress=False)
    he = train(e, env, 100, seed=11, progress=False)
    np.testing.assert_array_equal(hq.returns, he.returns)
    np.testing.assert_array_equal(hq.lengths, he.lengths)
    np.testing.assert_allclose(q.Q, e.Q, rtol=0, atol=1e-8)
    # ... while on-policy Expected SARSA (target = the ε-greedy behaviour) learns something else
    on_policy = ExpectedSarsa(env, alpha=0.5, gamma=1.0, epsilon=0.1)
    train(on_policy, env, 100, seed=11, progress=False)
    assert not np.array_equal(on_policy.Q, q.Q)


# ---------------------------------------------------------------------- exploration
def test_ties_are_broken_uniformly_at_random():
    rng = np.random.default_rng(0)
    counts = np.bincount([draw_greedy([0.0, 1.0, 1.0, 1.0 - 1e-12], rng.random) for _ in range(6000)], minlength=4)
    assert counts[0] == 0
    np.testing.assert_allclose(counts[1:] / 6000, 1 / 3, atol=4 * np.sqrt(2 / 9 / 6000))
    # a fresh agent does not always pick the first action
    agent = QLearning(mdps.gridworld_4x4(), epsilon=0.0, seed=1)
    assert len({agent.greedy_action(5) for _ in range(50)}) == 4


def test_epsilon_greedy_action_frequencies():
    agent = QLearning(mdps.two_state(), epsilon=0.3, seed=2)
    agent.Q[0] = [0.0, 1.0]
    n = 8000
    freq = np.bincount([agent.act(0) for _ in range(n)], minlength=2) / n
    p = epsilon_greedy_policy(agent.Q[0], 0.3)
    assert np.all(np.abs(freq - p) <= 4 * np.sqrt(p * (1 - p) / n)), (freq, p)
    np.testing.assert_allclose(agent.action_probs(0), p)


def test_lockstep_epsilon_greedy_frequencies_with_ties():
    rng = np.random.default_rng(3)
    n = 20000
    q = np.tile([1.0, 0.0, 1.0, 0.5], (n, 1))
    actions = sample_epsilon_greedy(q, np.full(n, 0.2), rng.random((n, 5)))
    freq = np.bincount(actions, minlength=4) / n
    p = epsilon_greedy_policy(q[0], 0.2)  # 0.45, 0.05, 0.45, 0.05
    assert np.all(np.abs(freq - p) <= 4 * np.sqrt(p * (1 - p) / n)), (freq, p)


def test_softmax_action_frequencies():
    rng = np.random.default_rng(4)
    q, tau, n = [1.0, 0.0, 2.0], 0.7, 20000
    p = softmax_policy(np.array(q), tau)
    single = np.bincount([draw_softmax(q, tau, rng.random) for _ in range(n)], minlength=3) / n
    batch = np.bincount(sample_softmax(np.tile(q, (n, 1)), np.full(n, tau), rng.random((n, 1))), minlength=3) / n
    for freq in (single, batch):
        assert np.all(np.abs(freq - p) <= 4 * np.sqrt(p * (1 - p) / n)), (freq, p)


def test_schedules():
    assert LinearDecay(1.0, 0.1, 10)(0) == 1.0
    assert LinearDecay(1.0, 0.1, 10)(5) == pytest.approx(0.55)
    assert LinearDecay(1.0, 0.1, 10)(100) == pytest.approx(0.1)
    assert ExponentialDecay(1.0, 0.0, 0.5)(3) == 0.125
    assert VisitCountStepSize()(4) == 0.25
    np.testing.assert_allclose(LinearDecay(1.0, 0.0, 4)(np.arange(6)), [1, 0.75, 0.5, 0.25, 0, 0])
    agent = Sarsa(mdps.two_state(), epsilon=LinearDecay(0.5, 0.1, 2), seed=0)
    assert agent.epsilon == 0.5 and agent.act(0) in (0, 1)  # usable before the first episode
    seen = []
    for _ in range(4):
        agent.start(0)
        seen.append(agent.epsilon)
    assert seen == [0.5, pytest.approx(0.3), pytest.approx(0.1), pytest.approx(0.1)]


def test_optimistic_initial_values():
    agent = QLearning(mdps.cliff_walking(), initial_value=5.0)
    assert np.all(agent.Q == 5.0)


# ---------------------------------------------------------------------- observations of any kind
@pytest.mark.parametrize("cls", CONTROL)
def test_control_agents_learn_a_token_sequence_on_tuple_observations(cls):
    env = TokenEnv()
    agent = cls(env, alpha=0.5 if cls is not MonteCarloControl else "1/n", gamma=1.0, epsilon=0.3)
    history = train(agent, env, 3000, seed=0, progress=False)
    assert isinstance(agent.Q, dict) and () in agent.Q and agent.Q[()].shape == (4,)
    assert history.returns[-500:].mean() > 0.3  # ε = 0.3 still explores
    assert greedy_rollout(agent, env) == ((2, 0, 1), 1.0)


@pytest.mark.parametrize("make", EVALUATION)
def test_evaluation_agents_on_tuple_observations(make):
    env = TokenEnv(target=(0,), vocab=2, max_len=3)  # tokens: 0, EOS
    agent = make(env, alpha="1/n", gamma=1.0, policy=lambda obs: [0.5, 0.5])
    train(agent, env, 2000, seed=1, progress=False)
    # v(()) = ½·0 (EOS at once) + ½·v((0,)), v((0,)) = ½·1 + ½·v((0, 0)), v((0, 0)) = ½·0 + ½·0
    # (the truncated (0, 0, 0) bootstraps from its never-updated value 0): v(()) = 1/4.
    assert agent.value(()) == pytest.approx(0.25, abs=0.05)
    assert isinstance(agent.V, dict)


def test_reading_does_not_grow_the_table_and_last_states_get_no_row():
    env = TokenEnv()
    agent = QLearning(env, gamma=1.0, epsilon=1.0, initial_value=0.5)
    np.testing.assert_array_equal(agent.q_values((1, 1)), [0.5] * 4)
    agent.greedy_action((1, 2))
    agent.act((2,))
    assert len(agent.Q) == 0
    agent.start(())
    agent.step(0.0, (0,), terminated=False)
    agent.step(0.0, (0,), terminated=True)  # EOS: the last observation
    assert set(agent.Q) == {(), (0,)}


def test_integer_array_observations_become_tuple_keys():
    env = TokenEnv(as_array=True)
    agent = QLearning(env, gamma=1.0, epsilon=0.3)
    train(agent, env, 300, seed=0, progress=False)
    assert all(isinstance(key, tuple) for key in agent.Q)
    np.testing.assert_array_equal(agent.q_values(np.array([2, 0])), agent.Q[(2, 0)])


def test_discrete_observation_with_start_offset():
    env = mdps.two_state().to_env()
    env.observation_space = spaces.Discrete(2, start=10)
    agent = QLearning(env, gamma=0.9, alpha=0.5)
    agent.Q[1] = [3.0, 1.0]
    assert agent.greedy_action(11) == 0
    with pytest.raises(ValueError, match="outside the Discrete"):
        agent.greedy_action(1)


# ---------------------------------------------------------------------- bad input
class BoxActions(gym.Env):
    observation_space = spaces.Discrete(3)
    action_space = spaces.Box(-1.0, 1.0, shape=(1,))


def test_non_discrete_action_space_is_rejected():
    env = BoxActions()
    for cls in (*CONTROL, TDZero):
        with pytest.raises(TypeError, match="Discrete action space"):
            cls(env, gamma=0.9)
    with pytest.raises(TypeError, match="Gymnasium environment"):
        QLearning(object(), gamma=1.0)


def test_unhashable_observations_are_rejected():
    env = TokenEnv()
    agent = QLearning(env, gamma=1.0)
    with pytest.raises(TypeError, match="unhashable"):
        agent.start([2, 0])
    with pytest.raises(TypeError, match="dtype float64"):
        agent.start(np.array([0.5, 1.5]))


@pytest.mark.parametrize("alpha", [0.0, -0.1, 1.5, float("nan"), "sometimes"])
def test_bad_step_sizes_are_rejected(alpha):
    with pytest.raises(ValueError, match="alpha"):
        QLearning(mdps.two_state(), alpha=alpha)


@pytest.mark.parametrize("epsilon", [-0.1, 1.1, LinearDecay(1.5, 0.1, 10)])
def test_bad_epsilons_are_rejected(epsilon):
    with pytest.raises(ValueError, match="epsilon"):
        Sarsa(mdps.two_state(), epsilon=epsilon)


def test_schedule_leaving_range_is_caught_at_that_episode():
    agent = QLearning(mdps.two_state(), epsilon=LinearDecay(0.2, -0.2, 2))
    agent.start(0)
    agent.start(0)
    with pytest.raises(ValueError, match="episode 2"):
        agent.start(0)


def test_other_bad_settings_are_rejected():
    mdp = mdps.two_state()
    with pytest.raises(ValueError, match="not both"):
        QLearning(mdp, epsilon=0.1, temperature=1.0)
    with pytest.raises(ValueError, match="temperature"):
        QLearning(mdp, temperature=0.0)
    with pytest.raises(ValueError, match="gamma"):
        QLearning(gym.make("CliffWalking-v1"))  # a Gymnasium env does not carry γ
    with pytest.raises(ValueError, match="gamma"):
        QLearning(mdp, gamma=1.5)
    with pytest.raises(ValueError, match="target_epsilon"):
        ExpectedSarsa(mdp, target_epsilon=2.0)
    with pytest.raises(ValueError, match="n "):
        NStepTD(mdp, n=0)
    with pytest.raises(ValueError, match="sums to"):
        TDZero(mdp, policy=np.ones((2, 2)))


def test_repr_and_copies():
    agent = ExpectedSarsa(mdps.cliff_walking(), alpha="1/n", epsilon=LinearDecay(1.0, 0.1, 10))
    text = repr(agent)
    assert "ExpectedSarsa(" in text and "1/n" in text and "array(48, 4)" in text
    snap = agent.snapshot()
    snap[:] = 7.0
    assert np.all(agent.Q == 0.0)
    assert "policy=uniform" in repr(TDZero(mdps.random_walk()))
