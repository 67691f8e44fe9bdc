"""Chapter 5: Blackjack (Example 5.1) three ways, Monte Carlo ES (Figure 5.2), importance sampling (Example 5.4,
Figure 5.3; Example 5.5, Figure 5.4) and off-policy Monte Carlo control (Section 5.7).

Reference values, named in each test's docstring, are of three kinds:

- **the book's stated results**: the optimal policy of Figure 5.2 (written below as the book draws
  it), the value −0.27726 of Example 5.4, the derivation of Example 5.5;
- **an independent implementation**: the exact model (:func:`rlcore.blackjack.blackjack_mdp`,
  solved by dynamic programming), against which the card-drawing samplers are checked, and the
  card samplers against it — each written separately;
- **hand-computed** updates.

Statistical comparisons use the rule of test_engine: means agree within 4.5 standard errors.
"""

import math

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import rlcore as rl
from rlcore import blackjack as bj
from rlcore.learning import monte_carlo as mc
from rlcore.learning.monte_carlo import MonteCarloES, OffPolicyMonteCarloControl
from testkit import assert_same_mean, walk_with_choice

# Figure 5.2, π*: rows are the player's sum from 21 down to 12, columns the dealer's card A, 2, …, 10.
BOOK_FIGURE_5_2 = {
    "usable ace": """
        21 SSSSSSSSSS
        20 SSSSSSSSSS
        19 SSSSSSSSSS
        18 HSSSSSSSHH
        17 HHHHHHHHHH
        16 HHHHHHHHHH
        15 HHHHHHHHHH
        14 HHHHHHHHHH
        13 HHHHHHHHHH
        12 HHHHHHHHHH""",
    "no usable ace": """
        21 SSSSSSSSSS
        20 SSSSSSSSSS
        19 SSSSSSSSSS
        18 SSSSSSSSSS
        17 SSSSSSSSSS
        16 HSSSSSHHHH
        15 HSSSSSHHHH
        14 HSSSSSHHHH
        13 HSSSSSHHHH
        12 HHHSSSHHHH""",
}
EXAMPLE_5_4_VALUE = -0.27726  # the book's estimate from 100 million episodes of the target policy


def book_policy() -> np.ndarray:
    """The book's π* as action indices over the 200 states (0 stick, 1 hit)."""
    actions = np.zeros(bj.N_STATES, dtype=int)
    for ace, panel in ((1, BOOK_FIGURE_5_2["usable ace"]), (0, BOOK_FIGURE_5_2["no usable ace"])):
        for line in panel.split("\n")[1:]:
            player_sum, cells = line.split()
            for card, cell in enumerate(cells, start=1):
                actions[bj.state_index(int(player_sum), card, ace)] = bj.HIT if cell == "H" else bj.STICK
    return actions


@pytest.fixture(scope="module")
def exact():
    """Value iteration on the exact model: q*, v*, the greedy π* and each state's action gap |q*(hit) − q*(stick)|."""
    solution = rl.value_iteration(bj.blackjack_mdp(), tol=1e-12)
    Q = solution.Q[:bj.N_STATES]
    return dict(Q=Q, V=solution.V[:bj.N_STATES], policy=Q.argmax(axis=1), gap=np.abs(Q[:, 1] - Q[:, 0]))


def assert_learned_figure_5_2(Q, exact, max_wrong=20, clear_gap=0.2, max_mean_error=0.045):
    """A learned Q (200, 2) gives Figure 5.2: the book's action in every state where the exact action gap
    is at least ``clear_gap``, at most ``max_wrong`` states wrong in all, and v = max Q near v*."""
    policy, book = Q.argmax(axis=1), book_policy()
    wrong = np.flatnonzero(policy != book)
    clear = wrong[exact["gap"][wrong] >= clear_gap]
    assert clear.size == 0, f"wrong action in clear states {[bj.state_of(s) for s in clear]}"
    assert wrong.size <= max_wrong, f"{wrong.size} states differ from Figure 5.2: {[bj.state_of(s) for s in wrong]}"
    error = np.abs(Q.max(axis=1) - exact["V"]).mean()
    assert error <= max_mean_error, f"mean |v − v*| = {error:.3f}"


# ---------------------------------------------------------------------- the optimal policy, exactly
def test_the_books_figure_5_2_is_the_exact_optimal_policy(exact):
    """Reference: the book's stated result (Figure 5.2's π*), against the independent exact model solved by
    value iteration: the same action in all 200 states."""
    np.testing.assert_array_equal(exact["policy"], book_policy())
    assert exact["gap"].min() > 1e-3  # no ties: π* is unique
    assert exact["V"][bj.state_index(21, 10, 0)] == pytest.approx(1 - bj.dealer_final_distribution()[9, 4], abs=1e-12)


def test_another_deck_gives_another_policy(monkeypatch):
    """Negative control: a deck with one ten-valued card in ten (instead of four in thirteen) is a
    different game, and the comparison with Figure 5.2 fails."""
    monkeypatch.setattr(bj, "CARD_PROBS", np.full(10, 0.1))
    bj.dealer_final_distribution.cache_clear()
    try:
        Q = rl.value_iteration(bj.blackjack_mdp(), tol=1e-12).Q[:bj.N_STATES]
    finally:
        bj.dealer_final_distribution.cache_clear()
    assert (Q.argmax(axis=1) != book_policy()).sum() >= 3


def test_example_5_4_value_of_the_target_policy():
    """Reference: the book's stated result (Example 5.4): v_π(13, 2, usable ace) ≈ −0.27726 for the policy
    that sticks only on 20 or 21 (the book's 10⁸ episodes: standard error ≈ 10⁻⁴). Exact policy evaluation
    of the model gives it, and so does the card sampler with 10⁶ episodes (within 4.5 SE)."""
    mdp = bj.blackjack_mdp()
    target = np.r_[bj.stick_on(20), np.full((3, 2), 0.5)]
    v = rl.policy_evaluation(mdp, target).V
    s = bj.state_index(13, 2, True)
    assert v[s] == pytest.approx(EXAMPLE_5_4_VALUE, abs=5e-4)
    episodes = bj.play_blackjack(bj.stick_on(20), 1_000_000, start=(13, 2, 1), seed=0)
    se = episodes.returns.std() / 1000
    assert abs(episodes.returns.mean() - v[s]) <= 4.5 * se


# ---------------------------------------------------------------------- three implementations of the rules
def test_the_dealer_sampler_matches_the_exact_distribution():
    """Independent implementations: the vectorised dealer (dealer_plays) against the exact recursion."""
    rng = np.random.default_rng(1)
    n = 200_000
    final = bj.dealer_final_distribution()
    np.testing.assert_allclose(final.sum(axis=1), 1.0)
    for card in (1, 2, 6, 10):
        hidden = bj.draw_cards(rng, n)
        sums = bj.dealer_plays(card + hidden, (card == 1) | (hidden == 1), rng)
        freq = np.array([(sums == v).mean() for v in range(17, 22)] + [(sums > 21).mean()])
        p = final[card - 1]
        assert np.all(np.abs(freq - p) <= 4.5 * np.sqrt(p * (1 - p) / n)), (card, freq, p)
    assert final[5, 5] > final[6, 5]  # the dealer busts more often showing 6 than 7 (Figure 5.2's 16s)


@pytest.mark.parametrize("start", [(13, 2, 1), (16, 10, 0), (12, 4, 0), (20, 1, 0), (18, 9, 1)])
def test_sampler_environment_and_model_agree(start, exact):
    """Independent implementations: the vectorised sampler and the Gymnasium environment (each 4.5 SE)
    against exact policy evaluation on the model, for the stick-on-17 policy."""
    mdp = bj.blackjack_mdp()
    policy = bj.stick_on(17)
    v = rl.policy_evaluation(mdp, np.r_[policy, np.full((3, 2), 0.5)]).V[bj.state_index(*start)]
    returns = bj.play_blackjack(policy, 200_000, start=start, seed=2).returns
    assert abs(returns.mean() - v) <= 4.5 * returns.std() / math.sqrt(returns.size)
    env = bj.BlackjackEnv(start=start)
    env.reset(seed=3)
    rewards = []
    for _ in range(10_000):
        obs, _ = env.reset()
        assert obs == start
        while True:
            obs, reward, terminated, truncated, _ = env.step(int(policy[bj.state_index(*obs)].argmax()))
            if terminated:
                break
        rewards.append(reward)
    rewards = np.array(rewards)
    assert abs(rewards.mean() - v) <= 4.5 * rewards.std() / math.sqrt(rewards.size)


def test_the_deal_naturals_and_exploring_starts():
    """The deal of the game: a natural has probability 2 · (1/13)(4/13) = 8/169; it wins unless the dealer
    has one too (probability 8/169 again), so E[G | natural] = 1 − 8/169 — in the sampler and in the
    environment (whatever the action). Exploring starts cover all 200 states with a uniform first action."""
    n = 400_000
    p = 8 / 169
    episodes = bj.play_blackjack(bj.stick_on(20), n, seed=4)
    assert abs(episodes.natural.mean() - p) <= 4.5 * math.sqrt(p * (1 - p) / n)
    assert np.all(bj.state_of(episodes.states[episodes.natural, 0])[0] == 21) and np.all(episodes.lengths >= 1)
    env = bj.BlackjackEnv()
    env.reset(seed=5)
    for returns in (episodes.returns[episodes.natural],
                    [env.step(bj.HIT)[1] for _ in range(30_000) if env.reset()[1]["natural"]]):
        assert abs(np.mean(returns) - (1 - p)) <= 4.5 * math.sqrt(p * (1 - p) / len(returns))
    exploring = bj.play_blackjack(bj.stick_on(20), 20_000, start="exploring", seed=6)
    assert np.unique(exploring.states[:, 0]).size == bj.N_STATES and not exploring.natural.any()
    assert abs(exploring.actions[:, 0].mean() - 0.5) < 0.02  # a uniform first action


def test_blackjack_env_is_a_gymnasium_env_and_is_seeded():
    env = bj.BlackjackEnv()
    check_env(env, skip_render_check=True)
    runs = []
    for _ in range(2):
        env.reset(seed=7)
        runs.append([env.step(1)[:3] for _ in range(1)] + [env.reset()[0] for _ in range(20)])
    assert runs[0] == runs[1]
    env = bj.BlackjackEnv(exploring_starts=True, render_mode="ansi")
    obs, _ = env.reset(seed=0)
    assert obs in env.observation_space and "dealer shows" in env.render()
    env.step(bj.STICK)
    with pytest.raises(RuntimeError, match="call reset"):
        env.step(bj.STICK)
    obs, _ = env.reset(options={"state": (15, 3, 0)})
    assert obs == (15, 3, 0)


# ---------------------------------------------------------------------- Monte Carlo ES: Figure 5.2
def test_monte_carlo_es_finds_figure_5_2(exact):
    """Reference: the book's stated result (Figure 5.2). Monte Carlo ES under rlcore.train on the card game
    with exploring starts, 100 000 episodes (the book's figure used more): the book's action wherever
    the exact action gap is ≥ 0.2, at most 20 of 200 states different (the others are near-ties that
    need many more episodes), mean |v − v*| ≤ 0.045. (Calibration over 8 seeds: at most 12 states
    wrong, none with a gap above 0.14, mean error at most 0.035.)"""
    env = bj.BlackjackEnv(exploring_starts=True)
    agent = MonteCarloES(env, gamma=1.0)
    rl.train(agent, env, 100_000, seed=0, progress=False)
    assert isinstance(agent.Q, dict) and len(agent.Q) == bj.N_STATES
    assert_learned_figure_5_2(bj.table_array(agent.Q), exact)


def test_the_figure_5_2_check_rejects_a_wrong_learner(exact):
    """Negative control: Monte Carlo ES that learns from the negated rewards fails the same check."""
    env = bj.BlackjackEnv(exploring_starts=True)
    agent = MonteCarloES(env, gamma=1.0)
    for _ in range(20_000):
        obs, _ = env.reset(seed=None if _ else 8)
        action = agent.start(obs)
        while action is not None:
            obs, reward, terminated, truncated, _ = env.step(action)
            action = agent.step(-reward, obs, terminated, truncated)
    with pytest.raises(AssertionError):
        assert_learned_figure_5_2(bj.table_array(agent.Q), exact)


def test_exploring_starts_draw_a_uniform_first_action_then_follow_the_greedy_policy():
    mdp = bj.blackjack_mdp()
    agent = MonteCarloES(mdp, seed=0)
    agent.Q[:, bj.STICK] = 1.0  # greedy: stick everywhere
    firsts = [agent.start(bj.state_index(13, 2, 0)) for _ in range(4000)]
    assert abs(np.mean(firsts) - 0.5) < 0.04
    agent.start(bj.state_index(13, 2, 0))
    assert all(agent.step(0.0, bj.state_index(15, 2, 0), False) == bj.STICK for _ in range(50))
    runs = agent.copies(4000, np.random.default_rng(1))
    a0 = runs.start(np.full(4000, bj.state_index(13, 2, 0)))
    assert abs(a0.mean() - 0.5) < 0.04
    assert (runs.step(np.zeros(4000), np.full(4000, bj.state_index(15, 2, 0)), np.zeros(4000, dtype=bool)) == 0).all()


# ---------------------------------------------------------------------- importance sampling: Figures 5.3 and 5.4
def test_importance_sampling_estimators_by_hand():
    rho = mc.importance_sampling_ratios([[1.0, 1.0, 1.0], [1.0, 0.0, 1.0]], [[0.5, 0.5, 1.0], [0.5, 0.5, 1.0]])
    np.testing.assert_array_equal(rho, [4.0, 0.0])  # padding (1/1) does not count
    ratios, returns = np.array([0.0, 4.0, 2.0]), np.array([1.0, -1.0, 1.0])
    np.testing.assert_allclose(mc.ordinary_importance_sampling(ratios, returns), [0.0, -4 / 2, -2 / 3])  # eq. 5.5
    np.testing.assert_allclose(mc.weighted_importance_sampling(ratios, returns), [0.0, -1.0, -2 / 6])  # eq. 5.6
    batch = mc.weighted_importance_sampling(np.tile(ratios, (2, 1)), np.tile(returns, (2, 1)))  # leading axes
    np.testing.assert_allclose(batch[1], [0.0, -1.0, -2 / 6])
    with pytest.raises(ValueError, match="behaviour_probs must be positive"):
        mc.importance_sampling_ratios([1.0], [0.0])


def test_figure_5_3_weighted_importance_sampling_has_lower_error_early():
    """Reference: the book's stated results (Example 5.4, Figure 5.3): 100 runs × 10 000 episodes from
    (13, dealer 2, usable ace), b uniform, π sticks on 20 or 21; mean square error against −0.27726:
    weighted IS has the lower error early, and both go to 0. Also E_b[ρ] = 1 and E_b[ρG] = v_π (4.5 SE)."""
    behaviour, target = np.full((bj.N_STATES, 2), 0.5), bj.stick_on(20)
    episodes = bj.play_blackjack(behaviour, 100 * 10_000, start=(13, 2, 1), seed=9)
    rho = mc.importance_sampling_ratios(episodes.probabilities(target), episodes.probabilities(behaviour))
    for x, mean in ((rho, 1.0), (rho * episodes.returns, EXAMPLE_5_4_VALUE)):
        assert abs(x.mean() - mean) <= 4.5 * x.std() / math.sqrt(x.size)
    rho, G = rho.reshape(100, 10_000), episodes.returns.reshape(100, 10_000)
    ordinary = ((mc.ordinary_importance_sampling(rho, G) - EXAMPLE_5_4_VALUE) ** 2).mean(axis=0)
    weighted = ((mc.weighted_importance_sampling(rho, G) - EXAMPLE_5_4_VALUE) ** 2).mean(axis=0)
    assert weighted[:10].mean() < ordinary[:10].mean() / 3
    assert weighted[:100].mean() < ordinary[:100].mean()
    assert np.all(weighted <= (1 - EXAMPLE_5_4_VALUE) ** 2 + 1e-12)  # returns in [−1, 1]: bounded error
    assert ordinary[-1] < 0.005 and weighted[-1] < 0.005
    assert ordinary[999] > ordinary[-1] and weighted[999] > weighted[-1]


def test_the_model_and_the_card_sampler_give_the_same_importance_sampling_data():
    """Independent implementations: off_policy_returns on the exact model (TransitionSampler) against the card sampler."""
    s = bj.state_index(13, 2, 1)
    mdp = bj.blackjack_mdp(initial=np.eye(bj.N_STATES + 3)[s])
    target = np.r_[bj.stick_on(20), np.full((3, 2), 0.5)]
    ratios, returns = mc.off_policy_returns(mdp, target, np.full((bj.N_STATES + 3, 2), 0.5), 400_000, seed=10)
    x = ratios * returns
    assert abs(x.mean() - EXAMPLE_5_4_VALUE) <= 4.5 * x.std() / math.sqrt(x.size)
    assert set(np.unique(ratios)) <= {0.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0}


def test_example_5_5_infinite_variance():
    """Reference: the book's stated derivation (Example 5.5): under b, an episode ends by the left action after
    k steps with probability 0.45^{k−1}·0.05 and then ρG = 2^k, so E_b[ρG] = Σ 0.1·0.9^{k−1} = 1 = v_π(s) but
    E_b[(ρG)²] = 0.2 Σ 1.8^{k−1} = ∞. The sampled episodes follow that law; weighted IS is exactly 1 after
    the first episode with ρ > 0 (the book: "would give an estimate of exactly 1 forever after")."""
    mdp = mc.infinite_variance_mdp()
    left = 0
    pi, b = np.array([[1.0, 0.0], [1.0, 0.0]]), np.full((2, 2), 0.5)
    assert rl.policy_evaluation(mdp, pi).V[0] == pytest.approx(1.0)
    loop, end = b[0, left] * mdp.P[0, left, 0], b[0, left] * mdp.P[0, left, 1]  # 0.45, 0.05
    k = np.arange(1, 200)
    p_k = loop ** (k - 1) * end
    assert (p_k * 2.0 ** k).sum() == pytest.approx(1.0, abs=1e-9)  # unbiased
    second = np.cumsum(p_k * 4.0 ** k)
    assert second[9] > 50 and second[49] > 1e12 and np.all(np.diff(second) > 0)  # diverges as 1.8^k

    ratios, returns = mc.off_policy_returns(mdp, pi, b, 1_000_000, seed=11)
    assert set(np.unique(returns[ratios > 0])) == {1.0}
    lengths = np.log2(ratios[ratios > 0]).round().astype(int)
    n = ratios.size
    for steps in range(1, 6):
        p = p_k[steps - 1]
        assert abs((lengths == steps).sum() / n - p) <= 4.5 * math.sqrt(p * (1 - p) / n), steps
    assert abs((ratios > 0).mean() - 1 / 11) <= 4.5 * math.sqrt((1 / 11) * (10 / 11) / n)
    weighted = mc.weighted_importance_sampling(ratios, returns)
    first = int(np.argmax(ratios > 0))
    assert np.all(weighted[:first] == 0.0) and np.all(weighted[first:] == 1.0)
    with pytest.raises(ValueError, match="cover"):
        mc.off_policy_returns(mdp, pi, np.array([[0.0, 1.0], [0.5, 0.5]]), 10)


# ---------------------------------------------------------------------- off-policy Monte Carlo control
def test_off_policy_control_update_by_hand():
    """Hand-computed: two episodes of the backward weighted-IS pass (S&B Section 5.7), ε = 0.5, two actions."""
    mdp = bj.blackjack_mdp()
    agent = OffPolicyMonteCarloControl(mdp, epsilon=0.5)
    # Q = 0: every behaviour probability is ½ (greedy ties split), so W doubles at each step back
    agent.learn_episode(np.array([0, 1]), np.array([0, 1]), np.array([0.0, 1.0]), np.array([1.0, 0.0]), 200, None)
    # t = 1: C(1,1) = 1, Q(1,1) = 1; π(1|1) = 1, W = 1/0.5 = 2. t = 0: G = 1, C(0,0) = 2, Q(0,0) = 1.
    assert agent.Q[1, 1] == 1.0 and agent.Q[0, 0] == 1.0 and agent.Q[0, 1] == 0.0
    np.testing.assert_array_equal(agent.cumulative_weights[[0, 1]], [[2.0, 0.0], [0.0, 1.0]])
    # now greedy in state 1 is action 1: b(1|1) = 0.75; an episode that takes it and then the other action in 0
    agent.learn_episode(np.array([1, 0]), np.array([1, 1]), np.array([0.0, -1.0]), np.array([1.0, 0.0]), 200, None)
    # t = 1 (state 0, action 1): C = 1, Q(0,1) = −1; π(1|0) = 0 (greedy is 0): stop — state 1 is not updated
    assert agent.Q[0, 1] == -1.0 and agent.Q[1, 1] == 1.0
    np.testing.assert_array_equal(agent.cumulative_weights[[0, 1]], [[2.0, 1.0], [0.0, 1.0]])
    agent.learn_episode(np.array([1]), np.array([1]), np.array([-1.0]), np.array([0.0]), 200, None)
    assert agent.Q[1, 1] == pytest.approx(1.0 + 1 / 2 * (-1.0 - 1.0))  # W = 1, C = 2: the weighted average
    with pytest.raises(ValueError, match="epsilon must be positive"):
        OffPolicyMonteCarloControl(mdp, epsilon=0.0)


def test_off_policy_control_learns_the_optimal_blackjack_policy(exact):
    """Reference: the book's Figure 5.2, by off-policy MC control (ε = 0.3-greedy behaviour, greedy target)
    under rlcore.train on the card game with exploring starts, 100 000 episodes: the book's action wherever
    the exact gap is ≥ 0.25, at most 25 states wrong, mean |v − v*| ≤ 0.05. (Calibration over 8 seeds: at
    most 13 states wrong, none with a gap above 0.16, mean error at most 0.034.)"""
    env = bj.BlackjackEnv(exploring_starts=True)
    agent = OffPolicyMonteCarloControl(env, gamma=1.0, epsilon=0.3)
    rl.train(agent, env, 100_000, seed=12, progress=False)
    assert_learned_figure_5_2(bj.table_array(agent.Q), exact, max_wrong=25, clear_gap=0.25, max_mean_error=0.05)
    weights = bj.table_array(agent.cumulative_weights)
    assert (weights > 0).any(axis=1).all()  # every state learned from


# ---------------------------------------------------------------------- the engine: one class, two runners
@pytest.mark.parametrize("make", [lambda env, **kw: MonteCarloES(env, **kw),
                                  lambda env, **kw: OffPolicyMonteCarloControl(env, epsilon=0.2, **kw)],
                         ids=["MonteCarloES", "OffPolicyMonteCarloControl"])
@pytest.mark.parametrize("problem", ["walk", "blackjack"])
def test_every_new_agent_runs_under_both_runners_with_the_same_statistics(make, problem):
    """rlcore.train_lockstep (300 runs) and rlcore.train (60 seeds) give the same statistics: on the walk with a
    15-step limit (truncations) and on the exact Blackjack model (exploring starts)."""
    mdp, cap, episodes = (walk_with_choice(), 15, 30) if problem == "walk" else (bj.blackjack_mdp(), None, 60)
    lock = rl.train_lockstep(make(mdp), mdp, 300, episodes, seed=0, max_episode_steps=cap)
    env = mdp.to_env(max_episode_steps=cap)
    singles = [rl.train(make(env, gamma=1.0), env, episodes, seed=seed, progress=False, max_episode_steps=cap)
               for seed in range(60)]
    assert_same_mean(lock.returns.mean(axis=1), [h.returns.mean() for h in singles], "mean return")
    assert_same_mean(lock.lengths.mean(axis=1), [h.lengths.mean() for h in singles], "mean length")
    assert_same_mean(lock.returns[:, -10:].mean(axis=1), [h.returns[-10:].mean() for h in singles], "late return")
    if problem == "walk":
        assert lock.truncated.any()


# ---------------------------------------------------------------------- bad arguments
@pytest.mark.parametrize("call, message", [
    (lambda: bj.state_index(11, 2, 0), "player_sum must lie in 12–21"),
    (lambda: bj.state_index(12, 11, 0), "dealer_card must lie in 1–10"),
    (lambda: bj.state_of(200), "lies in 0–199"),
    (lambda: bj.BlackjackEnv(start=(22, 1, 0)), "player_sum must lie in 12–21"),
    (lambda: bj.BlackjackEnv(start=(13, 2)), "a Blackjack state is"),
    (lambda: bj.BlackjackEnv(start=(13, 2, 2)), "usable_ace must be 0/1"),
    (lambda: bj.BlackjackEnv(exploring_starts=True, start=(13, 2, 0)), "not both"),
    (lambda: bj.BlackjackEnv(exploring_starts="yes"), "exploring_starts must be True or False"),
    (lambda: bj.play_blackjack(np.full((200, 2), 0.5), 10, start="random"), "start must be None, 'exploring'"),
    (lambda: bj.play_blackjack(np.full((200, 2), 0.6), 10), "sums to"),
    (lambda: bj.play_blackjack(np.full((200, 2), 0.5), 0), "n_episodes must be a whole number ≥ 1"),
    (lambda: bj.as_grid(np.zeros(10)), "one entry per Blackjack state"),
    (lambda: bj.stick_on(3), "threshold must be a whole number ≥ 12"),
])
def test_bad_arguments_get_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_tables_and_grids():
    assert bj.state_of(bj.state_index(13, 2, True)) == (13, 2, 1)
    np.testing.assert_array_equal(bj.state_index(*bj.state_of(np.arange(200))), np.arange(200))
    table = bj.table_array({(13, 2, 1): [0.5, -0.5], (21, 10, 0): [1.0, -1.0]})
    assert table.shape == (200, 2) and table[bj.state_index(13, 2, 1), 0] == 0.5 and table.sum() == 0.0
    grid = bj.as_grid(np.arange(200))
    assert grid[1, 13 - 12, 2 - 1] == bj.state_index(13, 2, 1)  # [usable ace][sum − 12][card − 1]
    env = bj.BlackjackEnv(start=(13, 2, 1))
    with pytest.raises(ValueError, match="action must be 0"):
        env.reset(seed=0)
        env.step(2)
