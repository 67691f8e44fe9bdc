"""Chapter 2, multi-armed bandits: the 10-armed testbed, Figures 2.2–2.6, the update rules and their identities.

Two kinds of reference values, named in each test's docstring:

- **the book's stated results** (Sutton & Barto, 2nd ed., Figures 2.2–2.6 and the text around
  them), read off the figures to the stated tolerance;
- **an independent implementation written here**: a plain-Python loop, one run and one step at a
  time, on Python's ``random`` module (no numpy, no rlcore), compared with the vectorised library
  statistically — per-run means agree within 4.5 standard errors of their difference (the rule of
  test_lockstep / test_engine). A deliberately different setting must fail the same comparison.
"""

import math
import random

import numpy as np
import pytest

from rlcore import bandits as B
from rlcore.exact.policies import epsilon_greedy_policy, softmax_policy
from testkit import assert_same_mean

RUNS, STEPS = 2000, 1000  # the book's


@pytest.fixture(scope="module")
def testbed():
    return B.ten_armed_testbed(RUNS, seed=0)


@pytest.fixture(scope="module")
def figure_2_2(testbed):
    return {eps: B.run_bandit(B.EpsilonGreedyBandit(eps), testbed, STEPS, seed=1) for eps in (0.0, 0.01, 0.1)}


# ---------------------------------------------------------------------- the book's figures
def test_figure_2_2_epsilon_greedy_reaches_the_books_values(figure_2_2):
    """Reference: the book's stated results (Figure 2.2 and Section 2.3), 2000 runs × 1000 steps, read over
    the last 50 steps: ε = 0.1 averages ≈ 1.4 reward (the figure: a little under) and ≈ 80% optimal
    action; greedy ≈ 1.0 and about a third optimal; ε = 0.01 in between and still improving."""
    last = slice(-50, None)
    reward = {eps: h.rewards[:, last].mean() for eps, h in figure_2_2.items()}
    optimal = {eps: h.optimal[:, last].mean() for eps, h in figure_2_2.items()}
    assert 1.30 <= reward[0.1] <= 1.45 and 0.75 <= optimal[0.1] <= 0.86
    assert 0.95 <= reward[0.0] <= 1.15 and 0.28 <= optimal[0.0] <= 0.42
    assert reward[0.0] < reward[0.01] < reward[0.1] and optimal[0.0] < optimal[0.01] < optimal[0.1]
    h = figure_2_2[0.01]  # "the ε = 0.01 method improved more slowly, but eventually would perform better"
    assert h.optimal[:, 900:].mean() > h.optimal[:, 400:500].mean() + 0.03
    # greedy is best over the first few steps (it exploits at once), worst by step 1000
    early = {eps: h.rewards[:, :5].mean() for eps, h in figure_2_2.items()}
    assert early[0.0] >= early[0.1] - 0.05


def test_figure_2_2_has_confidence_bands_that_cover_the_mean(figure_2_2):
    h = figure_2_2[0.1]
    mean, low, high = h.average_reward
    assert mean.shape == low.shape == high.shape == (STEPS,)
    assert np.all(low < mean) and np.all(mean < high)
    np.testing.assert_allclose(mean, h.rewards.mean(axis=0))
    frac, low, high = h.optimal_fraction
    np.testing.assert_allclose(frac, h.optimal.mean(axis=0))
    assert 0.01 < np.median(high - low) < 0.05  # 95% band of a proportion over 2000 runs: ≈ ±1.8%
    assert h.n_runs == RUNS and h.n_steps == STEPS


def test_figure_2_3_optimistic_initial_values(testbed):
    """Reference: the book's stated results (Figure 2.3, Section 2.6): greedy with Q_1 = +5 and α = 0.1
    explores at first (worse early), ends above ε-greedy with Q_1 = 0 (≈ 85% vs ≈ 80% optimal), and
    shows a spike at step 11, when every arm has been tried once."""
    optimistic = B.run_bandit(B.EpsilonGreedyBandit(0.0, alpha=0.1, initial_value=5.0), testbed, STEPS, seed=2)
    realistic = B.run_bandit(B.EpsilonGreedyBandit(0.1, alpha=0.1), testbed, STEPS, seed=2)
    frac_opt, frac_real = optimistic.optimal.mean(axis=0), realistic.optimal.mean(axis=0)
    assert optimistic.optimal[:, 20:100].mean() < realistic.optimal[:, 20:100].mean()
    assert optimistic.optimal[:, -200:].mean() > realistic.optimal[:, -200:].mean() + 0.04
    assert 0.80 <= optimistic.optimal[:, -50:].mean() <= 0.92
    assert frac_opt[10] > 0.35 and frac_opt[10] > 2 * max(frac_opt[9], frac_opt[12])  # the spike at step 11
    assert frac_real[10] < 0.4


def test_figure_2_4_ucb_beats_epsilon_greedy_after_the_first_steps(testbed, figure_2_2):
    """Reference: the book's stated results (Figure 2.4, Section 2.7): UCB with c = 2 has a higher average
    reward than ε-greedy (ε = 0.1) after the first k steps, and a spike at step 11."""
    ucb = B.run_bandit(B.UCBBandit(2.0), testbed, STEPS, seed=3)
    eps = figure_2_2[0.1]
    assert ucb.rewards[:, 100:].mean() > eps.rewards[:, 100:].mean() + 0.05
    reward = ucb.rewards.mean(axis=0)
    assert abs(reward[:10].mean()) < 0.1  # the first 10 steps try every arm once: an average arm
    assert reward[10] > 0.9 and reward[10] > reward[11] + 0.1 and reward[10] > reward[9] + 0.5  # the spike
    assert (ucb.optimal[:, :10].sum(axis=1) == 1).all()  # each run pulls its optimal arm once in its first 10 steps


def test_figure_2_5_gradient_bandit_with_and_without_baseline():
    """Reference: the book's stated results (Figure 2.5, Section 2.8), on the testbed shifted to q* ~ N(4, 1),
    read off the figure at step 1000 to about ±0.07: with baseline ≈ 0.8 (α = 0.1) and ≈ 0.75 (α = 0.4);
    without baseline ≈ 0.5 (α = 0.1) and ≈ 0.3 (α = 0.4)."""
    shifted = B.ten_armed_testbed(RUNS, mean=4.0, seed=4)
    final = {}
    for baseline in (True, False):
        for alpha in (0.1, 0.4):
            h = B.run_bandit(B.GradientBandit(alpha, baseline=baseline), shifted, STEPS, seed=5)
            final[baseline, alpha] = h.optimal[:, -50:].mean()
    assert 0.78 <= final[True, 0.1] <= 0.90
    assert 0.65 <= final[True, 0.4] <= 0.80
    assert 0.42 <= final[False, 0.1] <= 0.58
    assert 0.22 <= final[False, 0.4] <= 0.38
    assert final[True, 0.1] > final[True, 0.4] > final[False, 0.1] > final[False, 0.4]


def test_figure_2_6_parameter_study():
    """Reference: the book's stated results (Figure 2.6, Section 2.10), average reward over the first 1000
    steps (here 400 runs instead of 2000, for time): every curve is an inverted U; the best values are
    ≈ 1.5 for UCB (c ≈ 1/2–1), ≈ 1.45 for optimistic greedy (Q_0 ≈ 1), ≈ 1.4 for the gradient bandit
    (α ≈ 1/4) and ≈ 1.3 for ε-greedy (ε ≈ 1/16), UCB the best of all."""
    tb = B.ten_armed_testbed(400, seed=6)
    studies = {
        "ε-greedy": (lambda e: B.EpsilonGreedyBandit(e), 2.0 ** np.arange(-7, -1)),
        "gradient bandit": (lambda a: B.GradientBandit(a), 2.0 ** np.arange(-5, 2)),
        "UCB": (lambda c: B.UCBBandit(c), 2.0 ** np.arange(-4, 3)),
        "optimistic greedy": (lambda q: B.EpsilonGreedyBandit(0.0, alpha=0.1, initial_value=q), 2.0 ** np.arange(-2, 3)),
    }
    best = {}
    for name, (make, values) in studies.items():
        mean, low, high = B.parameter_study(make, values, tb, STEPS, seed=7)
        assert mean.shape == (values.size,) and np.all(low < high)
        peak = int(mean.argmax())
        assert 0 < peak < values.size - 1, f"{name}: the best parameter lies inside the range (inverted U)"
        assert mean[0] < mean[peak] - 0.04 and mean[-1] < mean[peak] - 0.04, name
        best[name] = (mean[peak], values[peak])
    assert 1.40 <= best["UCB"][0] <= 1.56 and 1 / 4 <= best["UCB"][1] <= 1
    assert 1.38 <= best["optimistic greedy"][0] <= 1.52 and best["optimistic greedy"][1] in (0.5, 1.0, 2.0)
    assert 1.32 <= best["gradient bandit"][0] <= 1.46 and 1 / 8 <= best["gradient bandit"][1] <= 1 / 2
    assert 1.25 <= best["ε-greedy"][0] <= 1.38 and 1 / 32 <= best["ε-greedy"][1] <= 1 / 8
    assert best["UCB"][0] == max(b[0] for b in best.values())


# ---------------------------------------------------------------------- an independent implementation
def reference_runs(method, n_runs, seed, *, steps=STEPS, k=10, mean=0.0, epsilon=0.0, alpha=None,
                   initial_value=0.0, c=0.0, baseline=True):
    """Per-run Python loops, one step at a time (the book's pseudocode; Python's ``random``).

    Returns (rewards, optimal), lists of n_runs lists of ``steps`` numbers."""
    rng = random.Random(seed)
    all_rewards, all_optimal = [], []
    for _ in range(n_runs):
        q_star = [rng.gauss(mean, 1.0) for _ in range(k)]
        best = max(range(k), key=lambda i: q_star[i])
        Q, N, H, average = [initial_value] * k, [0] * k, [0.0] * k, 0.0
        rewards, optimal = [], []
        for t in range(1, steps + 1):
            if method == "epsilon-greedy":
                if rng.random() < epsilon:
                    a = rng.randrange(k)
                else:
                    top = max(Q)
                    a = rng.choice([i for i in range(k) if Q[i] == top])
            elif method == "ucb":
                untried = [i for i in range(k) if N[i] == 0]
                if untried:
                    a = rng.choice(untried)
                else:
                    scores = [Q[i] + c * math.sqrt(math.log(t) / N[i]) for i in range(k)]
                    top = max(scores)
                    a = rng.choice([i for i in range(k) if scores[i] == top])
            else:  # gradient bandit
                top = max(H)
                weights = [math.exp(h - top) for h in H]
                total = sum(weights)
                pi = [w / total for w in weights]
                a = rng.choices(range(k), weights=pi)[0]
            r = rng.gauss(q_star[a], 1.0)
            if method == "gradient":
                rbar = (r if t == 1 else average) if baseline else 0.0
                H = [H[i] + alpha * (r - rbar) * ((i == a) - pi[i]) for i in range(k)]
                average += (r - average) / t
            else:
                N[a] += 1
                Q[a] += (1.0 / N[a] if alpha is None else alpha) * (r - Q[a])
            rewards.append(r)
            optimal.append(a == best)
        all_rewards.append(rewards)
        all_optimal.append(optimal)
    return np.array(all_rewards), np.array(all_optimal, dtype=float)


BLOCKS = {"steps 1–10": slice(0, 10), "step 11": slice(10, 11), "steps 12–100": slice(11, 100),
          "steps 101–1000": slice(100, None)}


def assert_same_curves(history, reference, what):
    rewards, optimal = reference
    for block, steps in BLOCKS.items():
        assert_same_mean(history.rewards[:, steps].mean(axis=1), rewards[:, steps].mean(axis=1), f"{what}, reward, {block}")
        assert_same_mean(history.optimal[:, steps].mean(axis=1), optimal[:, steps].mean(axis=1), f"{what}, optimal, {block}")


CASES = {
    "ε-greedy, ε = 0.1": (lambda: B.EpsilonGreedyBandit(0.1), dict(method="epsilon-greedy", epsilon=0.1), 0.0),
    "optimistic greedy, Q1 = 5, α = 0.1": (lambda: B.EpsilonGreedyBandit(0.0, alpha=0.1, initial_value=5.0),
                                           dict(method="epsilon-greedy", alpha=0.1, initial_value=5.0), 0.0),
    "UCB, c = 2": (lambda: B.UCBBandit(2.0), dict(method="ucb", c=2.0), 0.0),
    "gradient bandit, α = 0.1, baseline, mean 4": (lambda: B.GradientBandit(0.1),
                                                   dict(method="gradient", alpha=0.1, mean=4.0), 4.0),
    "gradient bandit, α = 0.4, no baseline, mean 4": (lambda: B.GradientBandit(0.4, baseline=False),
                                                      dict(method="gradient", alpha=0.4, baseline=False, mean=4.0), 4.0),
}


@pytest.mark.parametrize("name", CASES)
def test_the_vectorised_learners_match_an_independent_per_run_loop(name):
    """Reference: an independent implementation written here (:func:`reference_runs`, 150 runs), compared
    with 1000 of the library's lockstep runs per block of steps — early, the step-11 spike, and late."""
    make, settings, mean = CASES[name]
    history = B.run_bandit(make(), B.ten_armed_testbed(1000, mean=mean, seed=8), STEPS, seed=9)
    assert_same_curves(history, reference_runs(n_runs=150, seed=10, **settings), name)


def test_the_comparison_with_the_per_run_loop_rejects_another_setting():
    """Negative control: the library's ε = 0.01 against the loop's ε = 0.1 fails the same comparison."""
    history = B.run_bandit(B.EpsilonGreedyBandit(0.01), B.ten_armed_testbed(1000, seed=8), STEPS, seed=9)
    reference = reference_runs("epsilon-greedy", 150, seed=10, epsilon=0.1)
    with pytest.raises(AssertionError):
        assert_same_curves(history, reference, "ε = 0.01 vs ε = 0.1")


# ---------------------------------------------------------------------- the update rules
def test_sample_averages_and_the_recency_weighted_average():
    """Hand-computed: with α = 1/n, Q(a) is the mean of arm a's rewards (eq. 2.3); with constant α,
    Q_{n+1} = (1 − α)^n Q_1 + Σ_i α (1 − α)^{n−i} R_i (eq. 2.6)."""
    rewards = [1.0, -2.0, 4.0, 0.5]
    averaging = B.EpsilonGreedyBandit(0.0, initial_value=7.0)
    weighted = B.EpsilonGreedyBandit(0.0, alpha=0.3, initial_value=7.0)
    for learner in (averaging, weighted):
        learner.start(2, 3, np.random.default_rng(0))
        for r in rewards:
            learner.learn(np.array([1, 2]), np.array([r, 10.0]))
    np.testing.assert_allclose(averaging.Q, [[7.0, np.mean(rewards), 7.0], [7.0, 7.0, 10.0]])
    np.testing.assert_array_equal(averaging.N, [[0, 4, 0], [0, 0, 4]])
    n, alpha = len(rewards), 0.3
    expected = (1 - alpha) ** n * 7.0 + sum(alpha * (1 - alpha) ** (n - i) * r for i, r in enumerate(rewards, start=1))
    assert weighted.Q[0, 1] == pytest.approx(expected, abs=1e-12)
    assert weighted.Q[0, 0] == 7.0


def test_ucb_scores_are_equation_2_10():
    q = np.array([[1.0, 0.5, 0.0], [0.2, 0.2, 0.2]])
    counts = np.array([[4, 1, 0], [2, 2, 8]])
    scores = B.ucb_scores(q, counts, 9, 2.0)
    expected = [[1.0 + 2 * math.sqrt(math.log(9) / 4), 0.5 + 2 * math.sqrt(math.log(9) / 1), np.inf],
                [0.2 + 2 * math.sqrt(math.log(9) / 2)] * 2 + [0.2 + 2 * math.sqrt(math.log(9) / 8)]]
    np.testing.assert_allclose(scores, expected)
    np.testing.assert_array_equal(B.ucb_scores(q, counts, 9, 0.0)[0, :2], q[0, :2])  # c = 0: the estimates
    assert np.isinf(B.ucb_scores(q, counts, 1, 2.0)[0, 2])  # t = 1, N = 0: untried arms first, no warning


def test_gradient_bandit_update_is_equation_2_12_and_ascends_the_expected_reward():
    """Hand-computed update; and its expectation over A_t ~ π is α π(a)(q*(a) − Σ_b π(b) q*(b)), the
    gradient of E[R_t] (S&B Section 2.8), whatever the baseline — checked by averaging 400 000 runs."""
    h = np.array([0.0, 1.0, -1.0])
    pi = softmax_policy(h, 1.0)
    new = B.gradient_bandit_update(h, pi, 1, 2.0, 0.5, 0.1)
    np.testing.assert_allclose(new, h + 0.1 * 1.5 * (np.array([0, 1, 0]) - pi))
    assert new.sum() == pytest.approx(h.sum(), abs=1e-12)  # the preferences' sum never changes

    q_star = np.array([0.3, -0.5, 1.2])
    gradient = pi * (q_star - pi @ q_star)
    n = 400_000
    rng = np.random.default_rng(11)
    testbed = B.Testbed(np.tile(q_star, (n, 1)))
    for baseline in (0.0, 5.0):
        learner = B.GradientBandit(1.0, baseline=False)
        learner.start(n, 3, rng)
        learner.H[:] = h
        a = learner.act()
        r = testbed.rewards(a, rng)
        step = B.gradient_bandit_update(learner.H, learner.policy, a, r, baseline, 1.0) - h
        se = step.std(axis=0, ddof=1) / math.sqrt(n)
        assert np.all(np.abs(step.mean(axis=0) - gradient) <= 4.5 * se), (baseline, step.mean(axis=0), gradient)


def test_the_learners_draw_from_rlcore_policies():
    """One step of N runs follows the ε-greedy and softmax probabilities of rlcore.exact.policies."""
    n = 200_000
    rng = np.random.default_rng(12)
    learner = B.EpsilonGreedyBandit(0.3)
    learner.start(n, 4, rng)
    learner.Q[:] = [0.0, 2.0, 2.0, 1.0]  # a tie between arms 1 and 2
    freq = np.bincount(learner.act(), minlength=4) / n
    p = epsilon_greedy_policy(np.array([0.0, 2.0, 2.0, 1.0]), 0.3)
    assert np.all(np.abs(freq - p) <= 4.5 * np.sqrt(p * (1 - p) / n)), (freq, p)
    gradient = B.GradientBandit(0.1)
    gradient.start(n, 3, rng)
    gradient.H[:] = [0.5, -1.0, 0.0]
    freq = np.bincount(gradient.act(), minlength=3) / n
    p = softmax_policy(np.array([0.5, -1.0, 0.0]), 1.0)
    assert np.all(np.abs(freq - p) <= 4.5 * np.sqrt(p * (1 - p) / n)), (freq, p)


def test_same_seed_same_history_and_the_testbed():
    tb = B.ten_armed_testbed(50, seed=3)
    np.testing.assert_array_equal(tb.q_star, B.ten_armed_testbed(50, seed=3).q_star)
    assert tb.q_star.shape == (50, 10) and abs(B.ten_armed_testbed(4000, mean=4.0, seed=0).q_star.mean() - 4.0) < 0.05
    for make in (lambda: B.EpsilonGreedyBandit(0.1), lambda: B.UCBBandit(1.0), lambda: B.GradientBandit(0.2)):
        a, b = B.run_bandit(make(), tb, 100, seed=5), B.run_bandit(make(), tb, 100, seed=5)
        np.testing.assert_array_equal(a.rewards, b.rewards)
        np.testing.assert_array_equal(a.optimal, b.optimal)
        assert not np.array_equal(a.rewards, B.run_bandit(make(), tb, 100, seed=6).rewards)
    single = B.run_bandit(B.EpsilonGreedyBandit(0.1), B.ten_armed_testbed(1, k=1, seed=0), 20, seed=0)
    assert single.optimal.all()  # one arm: always optimal


# ---------------------------------------------------------------------- bad arguments
@pytest.mark.parametrize("make, message", [
    (lambda: B.EpsilonGreedyBandit(-0.1), "epsilon must be a number in \\[0, 1\\]"),
    (lambda: B.EpsilonGreedyBandit(1.5), "epsilon must be a number in \\[0, 1\\]"),
    (lambda: B.EpsilonGreedyBandit(0.1, alpha=0.0), "alpha must be a number in \\(0, 1\\]"),
    (lambda: B.EpsilonGreedyBandit(0.1, alpha=-1), "alpha must be a number in \\(0, 1\\]"),
    (lambda: B.EpsilonGreedyBandit(0.1, alpha=1.5), "alpha must be a number in \\(0, 1\\]"),
    (lambda: B.EpsilonGreedyBandit(0.1, alpha="1/t"), "alpha must be .* '1/n'"),
    (lambda: B.EpsilonGreedyBandit(0.1, initial_value=float("nan")), "initial_value must be a finite number"),
    (lambda: B.UCBBandit(-1.0), "c must be a non-negative number"),
    (lambda: B.UCBBandit("2"), "c must be a non-negative number"),
    (lambda: B.GradientBandit(0.0), "alpha must be a positive number"),
    (lambda: B.GradientBandit(0.1, baseline=1), "baseline must be True or False"),
    (lambda: B.ten_armed_testbed(10, k=0), "k must be a whole number ≥ 1"),
    (lambda: B.ten_armed_testbed(0), "n_runs must be a whole number ≥ 1"),
    (lambda: B.ten_armed_testbed(10, k=2.5), "k must be a whole number ≥ 1"),
    (lambda: B.ten_armed_testbed(10, mean=float("inf")), "mean must be a finite number"),
    (lambda: B.Testbed(np.zeros(5)), "q_star must have shape"),
    (lambda: B.run_bandit(B.UCBBandit(), B.ten_armed_testbed(5, seed=0), 0), "n_steps must be a whole number ≥ 1"),
    (lambda: B.ten_armed_testbed(3, seed=0).rewards(np.array([0, 1, 10]), np.random.default_rng()), "arms pulled"),
    (lambda: B.parameter_study(B.UCBBandit, [], B.ten_armed_testbed(3, seed=0)), "at least one"),
])
def test_bad_arguments_get_clear_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_run_bandit_needs_a_testbed():
    with pytest.raises(TypeError, match="testbed must be a Testbed"):
        B.run_bandit(B.UCBBandit(), np.zeros((3, 10)), 10)
