"""Multi-armed bandits: the 10-armed testbed and the action-value and gradient methods (Sutton & Barto, 2nd ed., Chapter 2).

Lecture 1. A k-armed bandit is an MDP with one state: each step the learner pulls an arm
A_t ∈ {0, …, k − 1} and receives R_t ~ N(q*(A_t), 1). The learners estimate the action values
q*(a) — or learn action preferences H(a) — and face the trade-off between exploiting the arm that
looks best and exploring the others.

Every array has a leading **runs axis**: N independent bandit problems (the book averages 2000)
are played in lockstep, one numpy expression per step for all of them, the actions on the last
axis as everywhere in rlcore. The behaviour policies are those of :mod:`rlcore.exact.policies`
(ε-greedy draws, greedy draws with random tie-breaking, the softmax), not copies of them.

    sample average       Q_{n+1} = Q_n + (1/n) [R_n − Q_n]                          (S&B eq. 2.3)
    constant α           Q_{n+1} = Q_n + α [R_n − Q_n]                              (S&B eq. 2.5)
    ε-greedy             A_t = argmax_a Q_t(a) w.p. 1 − ε, a uniform arm w.p. ε       (S&B Section 2.2)
    optimistic values    Q_1(a) = initial_value > 0 (e.g. +5), greedy                (S&B Section 2.6)
    UCB                  A_t = argmax_a [Q_t(a) + c √(ln t / N_t(a))]                 (S&B eq. 2.10)
    gradient bandit      π_t = softmax(H_t); H_{t+1}(a) = H_t(a) + α (R_t − R̄_t)(1{a = A_t} − π_t(a))
                                                                                    (S&B eqs. 2.11, 2.12)

The learners share a three-call protocol, which :func:`run_bandit` drives::

    learner.start(n_runs, k, rng)     # fresh estimates for N problems with k arms
    a = learner.act()                 # (N,) arms, one per run
    learner.learn(a, r)               # (N,) rewards: update the estimates

:func:`run_bandit` returns a :class:`BanditHistory` (rewards and optimal-action indicators,
(N, T)), whose per-step averages come with 95% confidence bands
(:func:`rlcore.plots.confidence_band`). :func:`parameter_study` gives Figure 2.6's average reward
over the first T steps as a function of each method's parameter.

References: Sutton & Barto (2018), Sections 2.1–2.8 and Figures 2.1–2.6; Auer, Cesa-Bianchi &
Fischer (2002) for UCB; Williams (1992) for the gradient bandit (REINFORCE on one state).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from rlcore import _checks
from rlcore.exact.policies import sample, sample_epsilon_greedy, softmax_policy
from rlcore.plots.learning import confidence_band


# ---------------------------------------------------------------------- the testbed
@dataclass(frozen=True, eq=False)
class Testbed:
    """N independent k-armed bandit problems with Gaussian rewards R ~ N(q*(a), 1) (S&B Section 2.3).

    Attributes:
        q_star: the true action values q*(a), shape (N, k): one row per run.
    """

    q_star: np.ndarray

    def __post_init__(self):
        q_star = _checks.real_array(self.q_star, "q_star")
        if q_star.ndim != 2 or q_star.shape[0] < 1 or q_star.shape[1] < 1:
            raise ValueError(f"q_star must have shape (n_runs, k) with n_runs ≥ 1 and k ≥ 1; got shape {q_star.shape}")
        object.__setattr__(self, "q_star", q_star)

    @property
    def n_runs(self) -> int:
        """N, the number of independent problems."""
        return self.q_star.shape[0]

    @property
    def k(self) -> int:
        """k, the number of arms."""
        return self.q_star.shape[1]

    @property
    def optimal_action(self) -> np.ndarray:
        """argmax_a q*(a) of each run, shape (N,) (ties have probability 0 under the testbed's draw)."""
        return self.q_star.argmax(axis=1)

    def rewards(self, a, rng: np.random.Generator) -> np.ndarray:
        """R ~ N(q*(A), 1) for the arms ``a`` pulled in each run, shape (N,)."""
        a = np.asarray(a)
        if a.shape != (self.n_runs,) or a.dtype.kind not in "iu" or (a.size and (a.min() < 0 or a.max() >= self.k)):
            raise ValueError(f"the arms pulled must be integers in [0, {self.k}), one per run (shape ({self.n_runs},)); "
                             f"got {a if a.size <= 10 else f'shape {a.shape}, dtype {a.dtype}'}")
        return self.q_star[np.arange(self.n_runs), a] + rng.standard_normal(self.n_runs)


def ten_armed_testbed(n_runs: int = 2000, k: int = 10, *, mean: float = 0.0, seed=None) -> Testbed:
    """The 10-armed testbed: q*(a) ~ N(mean, 1) drawn independently for each arm and run (S&B Section 2.3, Figure 2.1).

    ``mean=4`` is the shifted testbed of the gradient bandit (Figure 2.5): a baseline makes the
    gradient bandit indifferent to the shift, while without one it learns much more slowly.

    Args:
        n_runs: N, the number of independent problems (the book: 2000).
        k: arms per problem (the book: 10).
        mean: the mean of the q*(a) draws (0, or 4 for Figure 2.5).
        seed: seed of the draw.

    Returns:
        a :class:`Testbed` with q_star of shape (N, k).
    """
    n_runs = _checks.whole(n_runs, "n_runs", 1, meaning="independent bandit problems")
    k = _checks.whole(k, "k", 1, meaning="arms per problem")
    mean = _finite(mean, "mean", "the mean of the true action values")
    return Testbed(mean + np.random.default_rng(seed).standard_normal((n_runs, k)))


# ---------------------------------------------------------------------- the update rules, as pure functions
def ucb_scores(q, counts, t, c):
    """Q_t(a) + c √(ln t / N_t(a)), +inf for the arms never pulled (S&B eq. 2.10).

    Args:
        q: action-value estimates Q_t, shape (..., k).
        counts: N_t(a), the number of times each arm was pulled before step t, shape (..., k).
        t: the current step, 1, 2, … (a number).
        c: c ≥ 0, the degree of exploration.

    Returns:
        the upper confidence bounds, shape (..., k); an arm with N_t(a) = 0 is a maximising arm.
    """
    with np.errstate(divide="ignore", invalid="ignore"):  # N_t(a) = 0: replaced by +inf below
        bonus = c * np.sqrt(math.log(t) / counts)
    return np.where(counts > 0, q + bonus, np.inf)


def gradient_bandit_update(h, probs, a, r_t, baseline, alpha):
    """H_{t+1}(a) = H_t(a) + α (R_t − R̄_t)(1{a = A_t} − π_t(a)) for every arm a (S&B eq. 2.12).

    Its expectation over A_t ~ π_t is a step of gradient ascent on E[R_t] = Σ_a π_t(a) q*(a)
    whatever the baseline R̄_t (S&B Section 2.8, eq. 2.13 and the derivation that follows).

    Args:
        h: preferences H_t, shape (..., k).
        probs: π_t = softmax(H_t), shape (..., k).
        a: the arms A_t pulled, shape (...).
        r_t: the rewards R_t, shape (...).
        baseline: R̄_t, shape (...) (0 for the gradient bandit without a baseline).
        alpha: the step size α > 0.

    Returns:
        H_{t+1}, shape (..., k).
    """
    one_hot = np.arange(h.shape[-1]) == np.asarray(a)[..., None]
    return h + alpha * np.asarray(r_t - baseline)[..., None] * (one_hot - probs)


# ---------------------------------------------------------------------- learners
class ActionValueBandit:
    """Shared by the action-value methods: the estimates Q (N, k), the counts N (N, k) and the step size.

    ``alpha="1/n"`` makes each Q(a) the sample average of the rewards of arm a (S&B eq. 2.3); a
    number α ∈ (0, 1] the exponential recency-weighted average (eq. 2.5), which also remembers
    ``initial_value`` with weight (1 − α)^n (eq. 2.6) — the optimistic initial values of
    Section 2.6 rely on that. With sample averages the initial value is forgotten at the first pull.
    """

    def __init__(self, *, alpha="1/n", initial_value: float = 0.0):
        if isinstance(alpha, str):
            if alpha.replace(" ", "") != "1/n":
                raise ValueError(f"alpha must be a number in (0, 1] (the step size α) or '1/n' (sample averages); got {alpha!r}")
            self._alpha = None
        else:
            self._alpha = _checks.number(alpha, "alpha", 0.0, 1.0, low_open=True, meaning="the step size α")
        self.alpha = alpha
        self.initial_value = _finite(initial_value, "initial_value", "Q_1(a), the estimate before any pull")
        self.Q = self.N = self.rng = None

    def start(self, n_runs: int, k: int, rng: np.random.Generator) -> None:
        """Fresh estimates Q_1(a) = ``initial_value`` and counts 0 for N problems with k arms."""
        n_runs = _checks.whole(n_runs, "n_runs", 1)
        k = _checks.whole(k, "k", 1)
        self.Q = np.full((n_runs, k), self.initial_value)
        self.N = np.zeros((n_runs, k), dtype=np.int64)
        self.rng, self.t = rng, 0
        self._runs = np.arange(n_runs)

    def act(self) -> np.ndarray:
        """The arms A_t, shape (N,)."""
        raise NotImplementedError

    def learn(self, a, r_t) -> None:
        """Q(A_t) ← Q(A_t) + α_n [R_t − Q(A_t)], with α_n = 1/N(A_t) for sample averages (S&B eqs. 2.3, 2.5)."""
        runs = self._runs
        self.N[runs, a] += 1
        alpha = 1.0 / self.N[runs, a] if self._alpha is None else self._alpha
        q = self.Q[runs, a]
        self.Q[runs, a] = q + alpha * (r_t - q)

    def _settings(self) -> str:
        return f"alpha={self.alpha!r}, initial_value={self.initial_value:g}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._settings()})"


class EpsilonGreedyBandit(ActionValueBandit):
    """The ε-greedy action-value method (S&B Sections 2.2–2.4, the boxed "simple bandit algorithm").

    ## Action
    With probability 1 − ε the arm with the largest Q_t(a) (ties broken uniformly at random), with
    probability ε an arm drawn uniformly from all k — :func:`rlcore.exact.policies.sample_epsilon_greedy`.
    ε = 0 is the greedy method; with a high ``initial_value`` it is the optimistic greedy method
    of Section 2.6 (Figure 2.3: ``EpsilonGreedyBandit(0.0, alpha=0.1, initial_value=5.0)``).

    ## Arguments
    - ``epsilon``: ε ∈ [0, 1].
    - ``alpha``: ``"1/n"`` (sample averages, the default) or a constant step size α ∈ (0, 1].
    - ``initial_value``: Q_1(a) for every arm.
    """

    def __init__(self, epsilon: float = 0.1, *, alpha="1/n", initial_value: float = 0.0):
        super().__init__(alpha=alpha, initial_value=initial_value)
        self.epsilon = _checks.number(epsilon, "epsilon", 0.0, 1.0, meaning="a probability of exploring")

    def act(self) -> np.ndarray:
        """A_t ~ ε-greedy(Q_t), one per run."""
        self.t += 1
        k = self.Q.shape[1]
        return sample_epsilon_greedy(self.Q, self.epsilon, self.rng.random((self.Q.shape[0], k + 1)))

    def _settings(self) -> str:
        return f"epsilon={self.epsilon:g}, " + super()._settings()


class UCBBandit(ActionValueBandit):
    """Upper-confidence-bound action selection (S&B Section 2.7, eq. 2.10; Auer et al. 2002).

    ## Action
    A_t = argmax_a [Q_t(a) + c √(ln t / N_t(a))] (:func:`ucb_scores`), ties broken uniformly at
    random. An arm never pulled is a maximising arm, so the first k steps pull every arm once
    (in random order) — the spike at step k + 1 of Figure 2.4.

    ## Arguments
    - ``c``: c ≥ 0, the degree of exploration (c = 0: greedy after one pull of each arm).
    - ``alpha``, ``initial_value``: as :class:`EpsilonGreedyBandit`.
    """

    def __init__(self, c: float = 2.0, *, alpha="1/n", initial_value: float = 0.0):
        super().__init__(alpha=alpha, initial_value=initial_value)
        self.c = _checks.number(c, "c", 0.0, None, meaning="the degree of exploration of UCB")

    def act(self) -> np.ndarray:
        """A_t = argmax_a of the upper confidence bounds, one per run."""
        self.t += 1
        scores = ucb_scores(self.Q, self.N, self.t, self.c)
        k = self.Q.shape[1]
        return sample_epsilon_greedy(scores, 0.0, self.rng.random((self.Q.shape[0], k + 1)))  # ε = 0: greedy, random ties

    def _settings(self) -> str:
        return f"c={self.c:g}, " + super()._settings()


class GradientBandit:
    """The gradient bandit algorithm: soft-max action preferences learned by stochastic gradient ascent (S&B Section 2.8).

    ## Action
    A_t ~ π_t = softmax(H_t) (eq. 2.11; :func:`rlcore.exact.policies.softmax_policy` at τ = 1).

    ## Update
    H_{t+1}(a) = H_t(a) + α (R_t − R̄_t)(1{a = A_t} − π_t(a)) for all a (eq. 2.12,
    :func:`gradient_bandit_update`), where the baseline R̄_t is the average of the rewards up to
    but not including step t, with R̄_1 = R_1 (the book's definition after its errata); without a
    baseline R̄_t = 0. The baseline does not depend on A_t, so the update stays an unbiased
    gradient step; it only changes its variance — which matters on the testbed shifted by +4
    (Figure 2.5).

    ## Arguments
    - ``alpha``: the step size α > 0 (Figure 2.6 tries 1/32 … 2).
    - ``baseline``: subtract R̄_t (True) or not (False).
    """

    def __init__(self, alpha: float = 0.1, *, baseline: bool = True):
        self.alpha = _checks.number(alpha, "alpha", 0.0, None, low_open=True, meaning="the step size α of the preferences")
        if not isinstance(baseline, (bool, np.bool_)):
            raise ValueError(f"baseline must be True or False; got {baseline!r}")
        self.baseline = bool(baseline)
        self.H = self.rng = None

    def start(self, n_runs: int, k: int, rng: np.random.Generator) -> None:
        """Preferences H_1(a) = 0 (a uniform π_1) and no rewards seen, for N problems with k arms."""
        n_runs = _checks.whole(n_runs, "n_runs", 1)
        k = _checks.whole(k, "k", 1)
        self.H = np.zeros((n_runs, k))
        self.average_reward = np.zeros(n_runs)  # the mean of the rewards seen so far
        self.rng, self.t = rng, 0

    @property
    def policy(self) -> np.ndarray:
        """π_t = softmax(H_t), shape (N, k)."""
        return softmax_policy(self.H, 1.0)

    def act(self) -> np.ndarray:
        """A_t ~ π_t, one per run (inverting each run's cumulative π_t at one uniform number)."""
        self.t += 1
        self._probs = self.policy
        return sample(self._probs, self.rng.random(self.H.shape[0]))

    def learn(self, a, r_t) -> None:
        """H ← H + α (R_t − R̄_t)(1{a = A_t} − π_t(a)); then R̄ takes R_t in."""
        r_t = np.asarray(r_t, dtype=float)
        if self.baseline:
            baseline = r_t if self.t == 1 else self.average_reward  # R̄_1 = R_1
        else:
            baseline = 0.0
        self.H = gradient_bandit_update(self.H, self._probs, a, r_t, baseline, self.alpha)
        self.average_reward = self.average_reward + (r_t - self.average_reward) / self.t  # eq. 2.3

    def __repr__(self) -> str:
        return f"GradientBandit(alpha={self.alpha:g}, baseline={self.baseline})"


# ---------------------------------------------------------------------- running them
@dataclass(frozen=True, eq=False)
class BanditHistory:
    """What :func:`run_bandit` returns: every run's rewards and whether it pulled an optimal arm.

    Attributes:
        rewards: R_t of each run and step, shape (N, T).
        optimal: whether A_t was the optimal arm argmax_a q*(a), shape (N, T).

    The curves of Figures 2.2–2.5 are the means over runs (axis 0);
    :attr:`average_reward` and :attr:`optimal_fraction` give them with their 95% confidence bands.
    """

    rewards: np.ndarray
    optimal: np.ndarray

    @property
    def n_runs(self) -> int:
        return self.rewards.shape[0]

    @property
    def n_steps(self) -> int:
        return self.rewards.shape[1]

    @property
    def average_reward(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(mean, low, high) of R_t over runs at each step, shape (T,) each: the mean and its 95% band."""
        return confidence_band(self.rewards)

    @property
    def optimal_fraction(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(mean, low, high) of the fraction of runs that pulled an optimal arm at each step, (T,) each."""
        return confidence_band(self.optimal)


def run_bandit(learner, testbed: Testbed, n_steps: int = 1000, *, seed=None, progress: bool = False) -> BanditHistory:
    """Play ``learner`` on every problem of ``testbed`` for ``n_steps`` steps, all runs in lockstep.

    Args:
        learner: an :class:`EpsilonGreedyBandit`, :class:`UCBBandit`, :class:`GradientBandit` (or any object
            with ``start(n_runs, k, rng)``, ``act()`` and ``learn(a, r)``); it is restarted.
        testbed: the N problems (:func:`ten_armed_testbed`).
        n_steps: T, steps per run (the book: 1000).
        seed: seed of the one ``numpy.random.Generator`` behind the learner's choices and the
            rewards. Same learner settings, testbed and seed → the same history, bit for bit.
        progress: show a tqdm bar over the steps.

    Returns:
        a :class:`BanditHistory` with arrays of shape (N, T).
    """
    if not isinstance(testbed, Testbed):
        raise TypeError(f"testbed must be a Testbed (see ten_armed_testbed); got {type(testbed).__name__}")
    n_steps = _checks.whole(n_steps, "n_steps", 1)
    rng = np.random.default_rng(seed)
    N = testbed.n_runs
    learner.start(N, testbed.k, rng)
    best = testbed.optimal_action
    rewards = np.empty((n_steps, N))
    optimal = np.empty((n_steps, N), dtype=bool)
    for t in tqdm(range(n_steps), desc=repr(learner), disable=not progress, leave=False):
        a = learner.act()
        r = testbed.rewards(a, rng)
        learner.learn(a, r)
        rewards[t], optimal[t] = r, a == best
    return BanditHistory(rewards.T, optimal.T)


def parameter_study(make, values, testbed: Testbed, n_steps: int = 1000, *, seed=None, progress: bool = False):
    """The average reward over the first ``n_steps`` steps as a function of a parameter (S&B Figure 2.6).

    Args:
        make: a callable ``value -> learner``, e.g. ``lambda eps: EpsilonGreedyBandit(eps)``.
        values: the parameter values, shape (V,).
        testbed: the N problems (the same for every value: common random problems).
        n_steps: the steps averaged over (the book: 1000).
        seed: seed of each :func:`run_bandit` call.
        progress: a tqdm bar over the values.

    Returns:
        (mean, low, high), each of shape (V,): the average over runs of each run's mean reward
        over the steps, and its 95% confidence band.
    """
    values = list(values)
    if not values:
        raise ValueError("values must hold at least one parameter value")
    per_run = np.empty((testbed.n_runs, len(values)))
    for i, value in enumerate(tqdm(values, desc="parameter study", disable=not progress, leave=False)):
        per_run[:, i] = run_bandit(make(value), testbed, n_steps, seed=seed).rewards.mean(axis=1)
    return confidence_band(per_run)


def _finite(value, name: str, meaning: str) -> float:
    """``value`` as a float, or ValueError unless it is a finite real number."""
    x = _checks.number(value, name, meaning=meaning)
    if not math.isfinite(x):
        raise ValueError(f"{name} must be a finite number ({meaning}); got {value!r}")
    return x


__all__ = [
    "Testbed",
    "ten_armed_testbed",
    "ucb_scores",
    "gradient_bandit_update",
    "ActionValueBandit",
    "EpsilonGreedyBandit",
    "UCBBandit",
    "GradientBandit",
    "BanditHistory",
    "run_bandit",
    "parameter_study",
]
