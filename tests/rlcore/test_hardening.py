"""No silent wrong answers, no endless loops, one rule and one wording for arguments, and the
ecosystem's conventions (pymdptoolbox's layout, Gymnasium's toy-text table) kept."""

import warnings

import gymnasium as gym
import numpy as np
import pytest
import scipy.sparse as sp

import rlcore as rl
from rlcore import mdps
from rlcore.exact.policies import draw_epsilon_greedy, draw_greedy, draw_softmax, sample_epsilon_greedy, sample_softmax


def stay_or_leave(reward_stay=0.0):
    """State 0: "stay" (a loop paying ``reward_stay``) or "leave" (−1, into the terminal state 1)."""
    P = np.zeros((2, 2, 2))
    P[0, 0, 0] = P[0, 1, 1] = 1.0
    P[1, :, 1] = 1.0
    R = np.array([[reward_stay, -1.0], [0.0, 0.0]])
    return rl.MDP(P, R, 1.0, terminal=[False, True], state_names=["s", "end"], action_names=["stay", "leave"])


def no_way_out():
    """Two states that only lead to each other: no policy ever terminates."""
    P = np.zeros((2, 1, 2))
    P[0, 0, 1] = P[1, 0, 0] = 1.0
    return rl.MDP(P, np.zeros((2, 1)), 1.0)


# ---------------------------------------------------------------------- endless episodes
def looping_agent(mdp):
    agent = rl.QLearning(mdp, alpha=0.5, epsilon=0.0)
    agent.Q[0] = [5.0, 0.0]  # "stay" looks best and staying never teaches it otherwise (reward 0, γ = 1)
    return agent


def test_train_truncates_an_endless_episode_at_the_default_cap_and_warns_once():
    mdp = stay_or_leave()
    with pytest.warns(RuntimeWarning, match="max_episode_steps=10000") as caught:
        history = rl.train(looping_agent(mdp), mdp.to_env(), 3, seed=0, progress=False)
    assert len([w for w in caught if "max_episode_steps" in str(w.message)]) == 1
    assert np.all(history.truncated) and np.all(history.lengths == 10_000)


def test_an_explicit_cap_truncates_without_warning():
    mdp = stay_or_leave()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = rl.train(looping_agent(mdp), mdp.to_env(), 2, seed=0, max_episode_steps=50, progress=False)
        lock = rl.train_lockstep(looping_agent(mdp), mdp, 3, 2, seed=0, max_episode_steps=50)
    assert np.all(history.lengths == 50) and np.all(lock.lengths == 50) and lock.truncated.all()


def test_lockstep_truncates_an_endless_episode_at_the_default_cap_and_warns():
    mdp = stay_or_leave()
    with pytest.warns(RuntimeWarning, match="train_lockstep.*max_episode_steps=10000"):
        lock = rl.train_lockstep(looping_agent(mdp), mdp, 4, 2, seed=0)
    assert lock.truncated.all() and np.all(lock.lengths == 10_000)


def test_no_cap_is_refused_where_episodes_cannot_end():
    mdp = no_way_out()
    with pytest.raises(ValueError, match="would never end"):
        rl.train(rl.TDZero(mdp), mdp.to_env(), 1, max_episode_steps=None, progress=False)
    with pytest.raises(ValueError, match="would never end"):
        rl.train_lockstep(rl.TDZero(mdp), mdp, 2, 1, max_episode_steps=None)
    with pytest.raises(ValueError, match="never reaches a terminal state from the start states"):
        rl.sample_episode(mdps.garnet(3, 2, 2, seed=0, gamma=1.0), np.full((3, 2), 0.5), np.random.default_rng(0))


# ---------------------------------------------------------------------- γ = 1
def test_value_iteration_refuses_states_no_policy_can_leave_like_policy_evaluation():
    mdp = no_way_out()
    with pytest.raises(ValueError, match="no policy reaches a terminal state"):
        rl.value_iteration(mdp)
    with pytest.raises(ValueError, match="reference policy never reaches a terminal state"):
        rl.soft_value_iteration(mdp, 0.5)
    with pytest.raises(ValueError, match="never reaches a terminal state"):
        rl.policy_evaluation(mdp, rl.uniform_policy(mdp))


def test_a_zero_reward_loop_gives_one_answer_not_two():
    """Staying forever is worth 0, leaving −1: the optimum over all policies (0) is not the optimum
    over policies that terminate (−1). Value iteration from V = 0 lands on the first; rlcore's
    optimum at γ = 1 is the second, which policy iteration returns, so value iteration says so."""
    mdp = stay_or_leave()
    pi = rl.policy_iteration(mdp)
    assert pi.converged and pi.V[0] == -1.0
    assert not rl.exact.states_that_never_terminate(mdp, pi.policy).size  # a policy that terminates
    with pytest.raises(ValueError, match=r"best actions of 1 state\(s\) \(e.g. \['s'\]\) never reach a terminal state"):
        rl.value_iteration(mdp)
    assert rl.value_iteration(mdp, V0=[-5.0, 0.0]).V[0] == pytest.approx(-1.0)  # from below it finds −1


def test_a_positive_loop_is_reported_at_once_not_after_100000_sweeps():
    mdp = stay_or_leave(reward_stay=1.0)
    with pytest.raises(ValueError, match="never reach a terminal state"):
        rl.value_iteration(mdp)  # the values grow without bound
    with pytest.raises(ValueError, match="every action that improves the policy leads into a loop"):
        rl.policy_iteration(mdp)


def test_policy_iteration_keeps_its_action_among_ties():
    """Equally good actions do not make policy iteration alternate between policies (S&B Exercise 4.4)."""
    mdp = mdps.gridworld_4x4()  # many ties in Q*
    solution = rl.policy_iteration(mdp)
    assert solution.converged and solution.iterations <= 4
    np.testing.assert_allclose(solution.V, rl.value_iteration(mdp, tol=1e-12).V, atol=1e-9)


# ---------------------------------------------------------------------- non-finite numbers
class NaNReward(gym.Wrapper):
    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, float("nan") if obs == 2 else reward, terminated, truncated, info


def test_a_nan_reward_from_the_environment_is_named():
    env = NaNReward(mdps.random_walk().to_env())
    with pytest.raises(ValueError, match=r"environment paid reward nan at step \d+ of episode \d+"):
        rl.train(rl.TDZero(env, gamma=1.0), env, 20, seed=0, progress=False)


def test_nan_initial_values_and_overflow_are_refused():
    mdp = mdps.gridworld_4x4()
    with pytest.raises(ValueError, match=r"V0\[2\] = nan is not finite"):
        rl.value_iteration(mdp, V0=[0.0, 0.0, np.nan] + [0.0] * 13)
    with pytest.raises(ValueError, match="initial_value must be a finite number"):
        rl.QLearning(mdp, initial_value=np.nan)
    huge = rl.MDP(mdp.P, np.full((16, 4), 1e308), 0.99)
    with pytest.raises(ValueError, match="overflowed"):
        rl.value_iteration(huge)


def test_a_tiny_temperature_is_the_greedy_limit_not_nan():
    q = np.array([[1.0, 2.0, 2.0], [0.0, -3.0, 5.0]])
    for tau in (1e-300, 1e-320):
        np.testing.assert_array_equal(rl.softmax_policy(q, tau), rl.greedy_policy(q))
        np.testing.assert_allclose(rl.soft_v_from_q(q, tau), q.max(axis=1))
    mdp = mdps.gridworld_4x4()
    np.testing.assert_allclose(rl.soft_value_iteration(mdp, 1e-300).V, rl.value_iteration(mdp).V, atol=1e-8)


def test_a_row_of_minus_infinity_gets_what_greedy_gives():
    q = np.array([[-np.inf, -np.inf, -np.inf], [0.0, 1.0, -np.inf]])
    greedy = rl.greedy_policy(q)
    for policy in (rl.softmax_policy(q, 0.7), rl.epsilon_greedy_policy(q, 0.0)):
        np.testing.assert_allclose(policy[0], greedy[0])
    rng = np.random.default_rng(0)
    draws = [draw_softmax([-np.inf] * 3, 0.7, rng.random) for _ in range(300)]
    draws += [draw_greedy([-np.inf] * 3, rng.random) for _ in range(300)]
    draws += [draw_epsilon_greedy([-np.inf] * 3, 0.1, rng.random) for _ in range(300)]
    assert set(draws) == {0, 1, 2}
    u = rng.random((300, 4))
    assert set(sample_epsilon_greedy(np.tile(q[0], (300, 1)), 0.1, u).tolist()) == {0, 1, 2}
    assert set(sample_softmax(np.tile(q[0], (300, 1)), 0.7, u).tolist()) == {0, 1, 2}


def test_nan_action_values_are_an_error_not_an_index_error():
    with pytest.raises(ValueError, match="NaN"):
        draw_greedy([np.nan, np.nan], np.random.default_rng(0).random)
    with pytest.raises(ValueError, match="NaN"):
        draw_softmax([np.nan, 1.0], 1.0, np.random.default_rng(0).random)
    with pytest.raises(ValueError, match="NaN"):
        rl.greedy_policy(np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match=r"\+inf"):
        rl.softmax_policy(np.array([[np.inf, 1.0]]), 1.0)


# ---------------------------------------------------------------------- one rule, one wording
@pytest.mark.parametrize("call, name", [
    (lambda: rl.MDP(*stay_or_leave_arrays(), "0.9"), "gamma"),
    (lambda: rl.MDP(*stay_or_leave_arrays(), 0.9 + 0j), "gamma"),
    (lambda: rl.MDP(*stay_or_leave_arrays(), True), "gamma"),
    (lambda: rl.QLearning(mdps.two_state(), alpha="0.5"), "alpha"),
    (lambda: rl.QLearning(mdps.two_state(), epsilon="0.1"), "epsilon"),
    (lambda: rl.QLearning(mdps.two_state(), temperature="1"), "temperature"),
    (lambda: rl.Reinforce(mdps.two_state(), alpha="0.1"), "alpha"),
    (lambda: rl.value_iteration(mdps.two_state(), tol=0.0), "tol"),
    (lambda: rl.value_iteration(mdps.two_state(), tol=-1e-3), "tol"),
    (lambda: rl.value_iteration(mdps.two_state(), tol="1e-8"), "tol"),
    (lambda: rl.value_iteration(mdps.two_state(), max_iterations=0), "max_iterations"),
    (lambda: rl.value_iteration(mdps.two_state(), max_iterations=2.5), "max_iterations"),
    (lambda: rl.policy_iteration(mdps.two_state(), max_iterations=0), "max_iterations"),
    (lambda: rl.policy_evaluation(mdps.two_state(), rl.uniform_policy(mdps.two_state()), method="iterative",
                                  max_iterations="10"), "max_iterations"),
    (lambda: rl.finite_horizon(mdps.two_state(), 2.5), "horizon"),
    (lambda: rl.soft_value_iteration(mdps.two_state(), "0.1"), "kl_coef"),
    (lambda: rl.train(rl.QLearning(mdps.two_state()), mdps.two_state().to_env(), 3.5), "n_episodes"),
    (lambda: rl.train(rl.QLearning(mdps.two_state()), mdps.two_state().to_env(), 3, max_episode_steps=0), "max_episode_steps"),
    (lambda: rl.train_lockstep(rl.QLearning(mdps.two_state()), mdps.two_state(), 2.5, 3), "n_runs"),
    (lambda: rl.NStepTD(mdps.two_state(), n=2.5), "n"),
    (lambda: rl.LinearDecay(1.0, 0.1, "10"), "LinearDecay duration"),
    (lambda: rl.CountBonus(mdps.two_state().to_env(), scale="1"), "scale"),
])
def test_arguments_follow_one_rule_with_one_wording(call, name):
    with pytest.raises(ValueError, match=rf"^{name} must be (a|an|the|True) .*; got "):
        call()


def stay_or_leave_arrays():
    mdp = stay_or_leave()
    return mdp.P, mdp.R


def test_whole_numbers_given_as_floats_are_accepted():
    mdp = mdps.gridworld_4x4()
    assert rl.value_iteration(mdp, max_iterations=1e3).converged
    assert len(rl.train(rl.QLearning(mdp), mdp.to_env(), 2.0, seed=0, progress=False)) == 2


def test_arrays_that_numpy_would_silently_mangle_are_refused():
    with pytest.raises(ValueError, match="complex"):
        rl.MDP(np.ones((2, 2, 2)) / 2 + 0j, np.zeros((2, 2)), 0.9)  # numpy would drop the imaginary part
    with pytest.raises(ValueError, match="complex"):
        rl.MDP(np.ones((2, 2, 2)) / 2, np.zeros((2, 2)) + 1j, 0.9)
    with pytest.raises(ValueError, match="ragged"):
        rl.MDP([[[1.0, 0.0], [1.0]], [[0.0, 1.0], [0.0, 1.0]]], np.zeros((2, 2)), 0.9)
    with pytest.raises(ValueError, match="at least one state"):
        rl.MDP([sp.csr_matrix((0, 0))], np.zeros((0, 1)), 0.9)
    with pytest.raises(ValueError, match=r"sparse P\[1\] must have shape \(S, S\) = \(2, 2\)"):
        rl.MDP([sp.identity(2, format="csr"), sp.identity(3, format="csr")], np.zeros((2, 2)), 0.9)
    with pytest.raises(ValueError, match="one per action"):
        rl.MDP(sp.identity(2, format="csr"), np.zeros((2, 2)), 0.9)


# ---------------------------------------------------------------------- pymdptoolbox's layout
def test_from_mdptoolbox_reads_the_action_first_layout_even_when_a_equals_s():
    rng = np.random.default_rng(0)
    A = S = 3
    P_toolbox = rng.random((A, S, S))
    P_toolbox /= P_toolbox.sum(axis=2, keepdims=True)  # P_toolbox[a, s, s2]
    R_toolbox = rng.normal(size=(S, A))
    mdp = rl.MDP.from_mdptoolbox(P_toolbox, R_toolbox, 0.9)
    np.testing.assert_array_equal(mdp.P[1, 2], P_toolbox[2, 1])  # p(·|s=1, a=2)
    wrong = rl.MDP(P_toolbox, R_toolbox, 0.9)  # accepted (A == S): the trap the docstring warns about
    assert not np.allclose(wrong.P, mdp.P)
    # value iteration written here in pymdptoolbox's layout: V ← max_a [R(s, a) + γ Σ P[a, s, s2] V(s2)]
    V = np.zeros(S)
    for _ in range(2000):
        V = np.max(R_toolbox + 0.9 * np.einsum("ast,t->sa", P_toolbox, V), axis=1)
    np.testing.assert_allclose(rl.value_iteration(mdp, tol=1e-12).V, V, atol=1e-10)
    # the other reward layouts and sparse P
    np.testing.assert_allclose(rl.MDP.from_mdptoolbox(P_toolbox, R_toolbox[:, 0], 0.9).R, np.repeat(R_toolbox[:, :1], A, 1))
    R3 = rng.normal(size=(A, S, S))
    np.testing.assert_allclose(rl.MDP.from_mdptoolbox(P_toolbox, R3, 0.9).R, np.einsum("ast,ast->sa", P_toolbox, R3))
    sparse = rl.MDP.from_mdptoolbox([sp.csr_matrix(m) for m in P_toolbox], R_toolbox, 0.9)
    np.testing.assert_allclose(rl.value_iteration(sparse, tol=1e-12).V, V, atol=1e-10)
    with pytest.raises(ValueError, match=r"pymdptoolbox's R must have shape"):
        rl.MDP.from_mdptoolbox(P_toolbox, np.zeros((4, 4)), 0.9)


# ---------------------------------------------------------------------- Gymnasium's toy-text table
@pytest.mark.parametrize("make", [mdps.gridworld_4x4, mdps.frozen_lake, mdps.cliff_walking,
                                  lambda: mdps.garnet(30, 3, 4, seed=1, sparse=True),
                                  lambda: rl.shaped_mdp(mdps.random_walk(), np.arange(7.0))])
def test_to_env_exposes_the_toy_text_table_and_round_trips(make):
    mdp = make()
    env = mdp.to_env()
    back = rl.MDP.from_gymnasium(env, gamma=mdp.gamma)
    P = np.stack([m.toarray() for m in mdp.P], axis=1) if mdp.is_sparse else mdp.P
    np.testing.assert_allclose(back.P, P, atol=1e-12)
    np.testing.assert_allclose(back.R, mdp.R, atol=1e-12)
    np.testing.assert_array_equal(back.terminal, mdp.terminal)
    np.testing.assert_allclose(back.initial, mdp.initial)


def test_frozen_lake_code_runs_on_any_rlcore_mdp():
    """Value iteration as tutorials write it for FrozenLake's env.unwrapped.P, on the cliff."""
    mdp = mdps.cliff_walking()
    table = mdp.to_env().unwrapped.P
    V = np.zeros(mdp.n_states)
    for _ in range(200):
        V = np.array([max(sum(p * (r + (0.0 if done else 1.0) * V[s2]) for p, s2, r, done in table[s][a])
                          for a in table[s]) if not mdp.terminal[s] else 0.0 for s in table])
    np.testing.assert_allclose(V, rl.value_iteration(mdp).V, atol=1e-8)


def test_from_gymnasium_knows_taxis_current_options():
    rainy = rl.MDP.from_gymnasium(gym.make("Taxi-v4", is_rainy=True), gamma=0.99)
    assert rainy.n_states == 500 and (rainy.P.max(axis=2) < 1.0).any()  # rain makes moves uncertain
    with pytest.raises(ValueError, match="fickle_passenger"):
        rl.MDP.from_gymnasium(gym.make("Taxi-v4", fickle_passenger=True))
