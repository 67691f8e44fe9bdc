"""One engine: every agent class runs one run (rlcore.train) and N runs (rlcore.train_lockstep) with the
same code; the solvers are the operators they teach; one sampler, one set of behaviour policies.

Statistical comparisons use the rule of test_lockstep: means over runs agree within 4.5 standard
errors of their difference (a false alarm about once in 150 000 comparisons).
"""

import numpy as np
import pytest

import rlcore as rl
from rlcore import mdps
from rlcore.exact.policies import (
    draw_epsilon_greedy,
    epsilon_greedy_policy,
    greedy_policy,
    sample,
    sample_epsilon_greedy,
    softmax_policy,
)
from rlcore.exact.sampling import TransitionSampler
from rlcore.learning import NStepTD, TDZero, train, train_lockstep
from testkit import assert_both_runners_agree

ALL_AGENTS = {
    "QLearning": lambda env, **kw: rl.QLearning(env, alpha=0.2, epsilon=0.2, **kw),
    "Sarsa": lambda env, **kw: rl.Sarsa(env, alpha=0.2, epsilon=0.2, **kw),
    "ExpectedSarsa": lambda env, **kw: rl.ExpectedSarsa(env, alpha=0.2, epsilon=0.2, **kw),
    "MonteCarloControl": lambda env, **kw: rl.MonteCarloControl(env, epsilon=0.2, **kw),
    "TDZero": lambda env, **kw: rl.TDZero(env, alpha=0.1, **kw),
    "NStepTD": lambda env, **kw: rl.NStepTD(env, n=3, alpha=0.1, **kw),
    "MonteCarloPrediction": lambda env, **kw: rl.MonteCarloPrediction(env, alpha=0.1, **kw),
    "Reinforce": lambda env, **kw: rl.Reinforce(env, alpha=0.2, baseline=True, alpha_value=0.1, **kw),
    "ActorCritic": lambda env, **kw: rl.ActorCritic(env, alpha=0.2, alpha_value=0.1, **kw),
}


# ---------------------------------------------------------------------- one agent class, two runners
@pytest.mark.parametrize("name", ALL_AGENTS)
def test_every_agent_runs_under_both_runners_with_the_same_statistics(name):
    """The 7-state random walk with two actions (left/right chosen by the agent), 15-step time limit."""
    assert_both_runners_agree(ALL_AGENTS[name], name)


def test_n_step_td_under_lockstep_reproduces_train_exactly_with_a_deterministic_policy():
    mdp = mdps.cliff_walking()
    up, right, down = 0, 1, 2
    policy = np.zeros((mdp.n_states, mdp.n_actions))
    policy[:, up] = 1.0
    policy[:12] = np.eye(4)[right]
    policy[[11, 23, 35]] = np.eye(4)[down]
    lock = train_lockstep(NStepTD(mdp, n=4, alpha=0.3, policy=policy, initial_value=0.5), mdp, 2, 20, seed=1,
                          max_episode_steps=30)
    env = mdp.to_env(max_episode_steps=30)
    single = NStepTD(env, n=4, alpha=0.3, gamma=1.0, policy=policy, initial_value=0.5)
    history = train(single, env, 20, seed=3, progress=False)
    np.testing.assert_array_equal(lock.returns[0], history.returns)
    np.testing.assert_array_equal(lock.tables[1], single.V)


def test_copies_leave_the_agent_unchanged_and_runs_start_from_its_table():
    mdp = mdps.cliff_walking()
    agent = rl.QLearning(mdp, alpha="1/n", epsilon=rl.LinearDecay(0.5, 0.1, 10), seed=0)
    agent.Q[:] = np.random.default_rng(0).random(agent.Q.shape)
    before, state = agent.Q.copy(), agent.rng.bit_generator.state
    runs = agent.copies(5, np.random.default_rng(1))
    assert runs.n_runs == 5 and runs.table.shape == (5, 48, 4)
    np.testing.assert_array_equal(runs.table, np.broadcast_to(before, (5, 48, 4)))
    runs.start(np.full(5, 36))
    runs.step(np.full(5, -1.0), np.full(5, 24), np.zeros(5, dtype=bool))
    assert not np.array_equal(runs.table[0], before)  # the copies learned ...
    np.testing.assert_array_equal(agent.Q, before)  # ... the agent did not
    assert agent.rng.bit_generator.state == state and agent.counts.sum() == 0
    assert np.all(runs.epsilon == 0.5)  # each run's own ε_k, from the agent's schedule


def test_lockstep_refuses_a_callable_policy():
    mdp = mdps.random_walk()
    with pytest.raises(TypeError, match="callable"):
        TDZero(mdp, policy=lambda s: [1.0]).copies(2, np.random.default_rng(0))


# ---------------------------------------------------------------------- solvers are their operators
def test_one_sweep_of_each_solver_is_its_operator():
    mdp = mdps.gridworld_5x5()
    V0 = np.random.default_rng(0).normal(size=mdp.n_states)
    pi = rl.uniform_policy(mdp)
    with pytest.warns(RuntimeWarning):  # one sweep does not meet tol
        vi = rl.value_iteration(mdp, V0=V0, max_iterations=1)
        pe = rl.policy_evaluation(mdp, pi, method="iterative", V0=V0, max_iterations=1)
        soft = rl.soft_value_iteration(mdp, 0.5, reference=pi, V0=V0, max_iterations=1)
    np.testing.assert_allclose(vi.V, rl.bellman_optimality_v(mdp, V0), rtol=0, atol=1e-14)  # V ← T*V
    np.testing.assert_allclose(pe.V, rl.bellman_v(mdp, V0, pi), rtol=0, atol=1e-14)  # V ← T^π V
    np.testing.assert_allclose(soft.V, rl.soft_bellman_v(mdp, V0, 0.5, pi), rtol=0, atol=1e-14)  # V ← T_β V


def test_soft_value_iteration_checks_its_reference_once_not_every_sweep():
    mdp = mdps.gridworld_4x4()
    with pytest.raises(ValueError, match="sums to"):
        rl.soft_value_iteration(mdp, 1.0, reference=np.ones((mdp.n_states, mdp.n_actions)))
    with pytest.raises(ValueError, match="kl_coef"):
        rl.soft_value_iteration(mdp, 0.0)


# ---------------------------------------------------------------------- one sampler of P
def test_single_and_batched_draws_follow_p():
    mdp = mdps.garnet(6, 3, 4, seed=2)
    sampler = TransitionSampler(mdp)
    rng = np.random.default_rng(0)
    s, a, n = 2, 1, 40_000
    p = mdp.P[s, a]
    single = np.bincount([sampler.step(s, a, rng)[0] for _ in range(n)], minlength=6) / n
    batch = np.bincount(sampler.steps(np.full(n, s), np.full(n, a), rng)[0], minlength=6) / n
    for freq in (single, batch):
        assert np.all(np.abs(freq - p) <= 4.5 * np.sqrt(p * (1 - p) / n) + 1e-12), (freq, p)
    starts = np.bincount(sampler.starts(n, rng), minlength=6) / n
    assert np.all(np.abs(starts - mdp.initial) <= 4.5 * np.sqrt(mdp.initial * (1 - mdp.initial) / n) + 1e-12)


def test_mdp_env_and_sample_episode_draw_with_the_sampler():
    """Same generator state, same draws: the environment and sample_episode step through one sampler."""
    mdp = mdps.garnet(5, 2, 3, seed=4)
    sampler = TransitionSampler(mdp)
    env = mdp.to_env()
    env.reset(seed=7)
    rng = np.random.default_rng(7)
    assert env.unwrapped._state == sampler.start(rng)
    for a in (0, 1, 1, 0, 1):
        s = env.unwrapped._state
        s2, r, _, _, info = env.step(a)
        assert (s2, r, info["prob"]) == sampler.step(s, a, rng)


# ---------------------------------------------------------------------- one module of behaviour policies
def test_policies_work_over_the_last_axis_of_any_shape():
    q = np.random.default_rng(0).normal(size=(3, 4, 5))
    q[0, 0, :2] = q[0, 0].max() + 1.0  # a tie
    for make in (greedy_policy, lambda x: epsilon_greedy_policy(x, 0.3), lambda x: softmax_policy(x, 0.7)):
        policy = make(q)
        assert policy.shape == q.shape
        np.testing.assert_allclose(policy.sum(axis=-1), 1.0)
        for index in np.ndindex(q.shape[:-1]):  # each row is the policy of that row alone
            np.testing.assert_allclose(policy[index], make(q[index]), rtol=0, atol=1e-15)
    np.testing.assert_allclose(greedy_policy(q)[0, 0, :2], 0.5)
    eps = np.array([0.0, 0.5, 1.0, 0.2])  # one ε per row
    np.testing.assert_allclose(epsilon_greedy_policy(q[0], eps)[3], 0.2 / 5 + 0.8 * greedy_policy(q[0, 3]))
    np.testing.assert_allclose(epsilon_greedy_policy(q[0], eps)[2], 0.2)


def test_single_and_batched_epsilon_greedy_draws_follow_the_policy():
    rng = np.random.default_rng(3)
    q = np.array([1.0, 0.0, 1.0, 0.5])
    p = epsilon_greedy_policy(q, 0.2)
    n = 40_000
    single = np.bincount([draw_epsilon_greedy(q.tolist(), 0.2, rng.random) for _ in range(n)], minlength=4) / n
    batch = np.bincount(sample_epsilon_greedy(np.tile(q, (n, 1)), 0.2, rng.random((n, 5))), minlength=4) / n
    inverse = np.bincount(sample(np.tile(p, (n, 1)), rng.random(n)), minlength=4) / n
    for freq in (single, batch, inverse):
        assert np.all(np.abs(freq - p) <= 4.5 * np.sqrt(p * (1 - p) / n)), (freq, p)


def test_lmenv_readouts_are_rlcore_policies_on_torch_tensors():
    torch = pytest.importorskip("torch")
    q = torch.tensor([[1.0, 2.0, 0.5], [0.0, 0.0, -1.0]], dtype=torch.float64, requires_grad=True)
    log_ref = torch.log(torch.tensor([[0.2, 0.3, 0.5], [0.5, 0.25, 0.25]], dtype=torch.float64))
    log_pi = rl.softmax_log_policy(q, 0.5, log_reference=log_ref)
    torch.testing.assert_close(log_pi, torch.log_softmax(log_ref + q / 0.5, dim=-1))
    np.testing.assert_allclose(log_pi.exp().detach().numpy(),
                               rl.softmax_policy(q.detach().numpy(), 0.5, log_ref.exp().numpy()), atol=1e-12)
    log_pi.sum().backward()
    assert q.grad is not None and torch.isfinite(q.grad).all()
    np.testing.assert_allclose(rl.epsilon_greedy_log_policy(q.detach(), 0.1).exp().numpy(),
                               epsilon_greedy_policy(q.detach().numpy(), 0.1), atol=1e-12)
    np.testing.assert_allclose(rl.soft_v_from_q(q.detach(), 0.5, log_reference=log_ref).numpy(),
                               rl.soft_v_from_q(q.detach().numpy(), 0.5, log_ref.exp().numpy()), atol=1e-12)


def test_one_step_size_per_run_is_a_parameter_study_in_one_call():
    """Without randomness (ε = 0, deterministic MDP, a random Q without ties) run i of a lockstep call
    with alpha=[α_0, α_1, …] is rlcore.train with α_i, bit for bit — for a one-step and an n-step agent."""
    mdp = mdps.cliff_walking()
    Q0 = np.random.default_rng(5).random((mdp.n_states, mdp.n_actions))
    alphas = np.array([0.1, 0.5, 0.9])
    agent = rl.QLearning(mdp, alpha=0.3, epsilon=0.0)
    agent.Q[:] = Q0
    lock = train_lockstep(agent, mdp, 3, 20, seed=0, max_episode_steps=60, alpha=alphas)
    for run, alpha in enumerate(alphas):
        single = rl.QLearning(mdp.to_env(max_episode_steps=60), alpha=alpha, gamma=1.0, epsilon=0.0)
        single.Q[:] = Q0
        history = train(single, mdp.to_env(max_episode_steps=60), 20, seed=1, progress=False)
        np.testing.assert_array_equal(lock.returns[run], history.returns)
        np.testing.assert_array_equal(lock.tables[run], single.Q)
    up, right, down = 0, 1, 2
    policy = np.zeros((mdp.n_states, mdp.n_actions))
    policy[:, up] = 1.0
    policy[:12] = np.eye(4)[right]
    policy[[11, 23, 35]] = np.eye(4)[down]
    lock = train_lockstep(NStepTD(mdp, n=4, alpha=0.1, policy=policy, initial_value=0.5), mdp, 3, 5, seed=0,
                          max_episode_steps=40, alpha=alphas)
    for run, alpha in enumerate(alphas):
        env = mdp.to_env(max_episode_steps=40)
        single = NStepTD(env, n=4, alpha=alpha, gamma=1.0, policy=policy, initial_value=0.5)
        train(single, env, 5, seed=0, progress=False)
        np.testing.assert_array_equal(lock.tables[run], single.V)
    with pytest.raises(ValueError, match=r"alpha must have one step size per run, shape \(3,\)"):
        train_lockstep(rl.QLearning(mdp), mdp, 3, 2, alpha=[0.1, 0.2])
    with pytest.raises(ValueError, match="alpha must be a number in"):
        train_lockstep(rl.QLearning(mdp), mdp, 2, 2, alpha=[0.1, 1.5])
    with pytest.raises(TypeError, match="constant step size"):
        train_lockstep(rl.MonteCarloControl(mdp), mdp, 2, 2, alpha=[0.1, 0.2])
