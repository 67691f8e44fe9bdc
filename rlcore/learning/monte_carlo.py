"""Monte Carlo methods of Chapter 5 beyond ε-soft control: exploring starts, importance sampling, off-policy control
(Sutton & Barto, 2nd ed., Sections 5.3, 5.5–5.7).

Lecture 5. On-policy Monte Carlo prediction and ε-soft control are :class:`rlcore.MonteCarloPrediction`
and :class:`rlcore.MonteCarloControl`; this module adds

- :class:`MonteCarloES`, Monte Carlo control with exploring starts (Section 5.3, Figure 5.2);
- :func:`importance_sampling_ratios`, :func:`ordinary_importance_sampling` and
  :func:`weighted_importance_sampling`, off-policy prediction from the returns of episodes played
  by a behaviour policy b (Section 5.5, eqs. 5.3–5.6, Figures 5.3 and 5.4);
- :func:`off_policy_returns`, which plays N episodes of b on an :class:`rlcore.MDP` at once and
  returns each one's ratio ρ and return G — the data those estimators average;
- :func:`infinite_variance_mdp`, Example 5.5's one-state MDP, on which ordinary importance sampling
  has infinite variance;
- :class:`OffPolicyMonteCarloControl`, off-policy Monte Carlo control with weighted importance
  sampling (Section 5.7).

The two control agents are written on the engine of :mod:`rlcore.learning.agents`, so they run
one run (:func:`rlcore.train`, any observations — Blackjack's tuples too) and N runs
(:func:`rlcore.train_lockstep`) with the same code. The importance-sampling estimators are not
agents: they are running averages over a batch of episodes generated beforehand, so they are
pure functions of arrays (the body is the formula), with any leading axes (e.g. runs).
"""

from __future__ import annotations

import numpy as np

from rlcore import _checks
from rlcore.exact.model import MDP
from rlcore.exact.policies import TIE_ATOL, check_policy, sample
from rlcore.exact.sampling import TransitionSampler
from rlcore.learning.agents import EpisodeLearner, _Control, _of_run
from rlcore.learning.control import MonteCarloControl
from rlcore.learning.td import discounted_returns


# ---------------------------------------------------------------------- exploring starts
class MonteCarloES(MonteCarloControl):
    """Monte Carlo control with exploring starts (S&B Section 5.3, the boxed "Monte Carlo ES").

    ## Update
    Every episode begins with a uniformly random action A_0 (the *exploring start*; the start
    state S_0 comes from the environment, which must give every state a chance — e.g.
    ``BlackjackEnv(exploring_starts=True)`` or an MDP whose μ₀ covers every state), then follows
    the greedy policy π(s) = argmax_a Q(s, a) (ties broken at random). At the end of the episode,
    for the first visit of each (S_t, A_t),

    Q(S_t, A_t) ← average of the returns G_t observed after (S_t, A_t)   (α = 1/N(s, a))

    — :class:`rlcore.MonteCarloControl`'s update, with ``epsilon=0`` and the exploring start.
    On Blackjack this finds the optimal policy of Figure 5.2.

    ## Arguments
    As :class:`rlcore.MonteCarloControl` (``alpha="1/n"``, ``first_visit=True``), with
    ``epsilon=0`` by default (the greedy policy; ε > 0 adds ε-greedy exploration after the start).
    """

    def __init__(self, env, *, alpha="1/n", gamma=None, epsilon=0.0, first_visit=True, initial_value=0.0, seed=None):
        super().__init__(env, alpha=alpha, gamma=gamma, epsilon=epsilon, first_visit=first_visit,
                         initial_value=initial_value, seed=seed)
        self._exploring = False

    def _episode_begins(self, runs=None) -> None:
        super()._episode_begins(runs)
        self._exploring = True if runs is None else np.asarray(runs, dtype=bool)  # the runs whose A_0 is drawn next

    def _behaviour(self, rows, obs=None, runs=None, exploration=None):
        """A_t from the greedy (or ε-greedy) policy, except A_0 of an episode: uniformly random."""
        action = super()._behaviour(rows, obs, runs, exploration)
        exploring, self._exploring = self._exploring, False
        if exploring is False:
            return action
        if self.n_runs is None:
            return int(self._random() * self.n_actions)
        if exploring is not True:
            exploring = exploring if runs is None else exploring[runs]
        uniform = (self._random(np.shape(action)) * self.n_actions).astype(np.int64)
        return np.where(exploring, uniform, action)


# ---------------------------------------------------------------------- importance sampling
def importance_sampling_ratios(target_probs, behaviour_probs):
    """ρ = Π_t π(A_t|S_t) / b(A_t|S_t), the importance-sampling ratio of whole episodes (S&B eq. 5.3).

    Args:
        target_probs: π(A_t|S_t) of each step, shape (..., T) (1 on the padding after an episode's end).
        behaviour_probs: b(A_t|S_t), the same shape (1 on the padding).

    Returns:
        ρ_{0:T−1} of each episode, shape (...).

    Raises:
        ValueError: where b(A_t|S_t) = 0 (b must *cover* π: b(a|s) > 0 wherever π(a|s) > 0, and an
            action b took has b > 0).
    """
    target_probs = _checks.real_array(target_probs, "target_probs")
    behaviour_probs = _checks.real_array(behaviour_probs, "behaviour_probs")
    if np.any(behaviour_probs <= 0):
        raise ValueError("behaviour_probs must be positive: b(A_t|S_t) > 0 for every action the behaviour policy took")
    return np.prod(target_probs / behaviour_probs, axis=-1)


def ordinary_importance_sampling(ratios, returns):
    """V_n = Σ_{k≤n} ρ_k G_k / n, the ordinary importance-sampling estimate after each of n episodes (S&B eq. 5.5).

    Unbiased, but its variance can be unbounded (Example 5.5). A pure function rather than an
    agent: it is a running average over episodes already played (the batch axis last), so it runs
    for many runs at once (leading axes) with one ``cumsum``.

    Args:
        ratios: ρ of each episode, shape (..., n).
        returns: G of each episode, shape (..., n).

    Returns:
        the estimate after 1, 2, …, n episodes, shape (..., n).
    """
    ratios, returns = np.asarray(ratios, dtype=float), np.asarray(returns, dtype=float)
    n = np.arange(1, ratios.shape[-1] + 1)
    return np.cumsum(ratios * returns, axis=-1) / n


def weighted_importance_sampling(ratios, returns):
    """V_n = Σ_{k≤n} ρ_k G_k / Σ_{k≤n} ρ_k, the weighted importance-sampling estimate (S&B eq. 5.6); 0 while Σ ρ = 0.

    Biased (toward b's returns) for finitely many episodes, consistent, and of bounded variance
    when the returns are bounded. A pure function of arrays, as :func:`ordinary_importance_sampling`.

    Args:
        ratios: ρ of each episode, shape (..., n).
        returns: G of each episode, shape (..., n).

    Returns:
        the estimate after 1, 2, …, n episodes, shape (..., n).
    """
    ratios, returns = np.asarray(ratios, dtype=float), np.asarray(returns, dtype=float)
    numerator, denominator = np.cumsum(ratios * returns, axis=-1), np.cumsum(ratios, axis=-1)
    return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), 0.0)


def off_policy_returns(mdp: MDP, target, behaviour, n_episodes: int, *, seed=None, max_steps: int = 100_000):
    """Play N episodes of the behaviour policy b on an MDP at once; return each one's ratio ρ and return G.

    S_0 ~ μ₀, A_t ~ b(·|S_t), S_{t+1} ~ p(·|S_t, A_t) (:class:`rlcore.exact.sampling.TransitionSampler`),
    until a terminal state. Only two numbers per episode are kept, so millions of episodes fit in
    memory (Figure 5.4):

        ρ = Π_t π(A_t|S_t) / b(A_t|S_t)   (eq. 5.3),      G = Σ_t γ^t R_{t+1}

    Args:
        mdp: the MDP (its μ₀ gives the start states: put all of it on one state to evaluate that state).
        target: π, shape (S, A).
        behaviour: b, shape (S, A); it must cover π (b(a|s) > 0 wherever π(a|s) > 0).
        n_episodes: N.
        seed: seed of the ``numpy.random.Generator`` (or a Generator).
        max_steps: refuse to go on (RuntimeError) when an episode is still running after this many steps.

    Returns:
        (ratios, returns), each of shape (N,).
    """
    target = check_policy(target, mdp.n_states, mdp.n_actions)
    behaviour = check_policy(behaviour, mdp.n_states, mdp.n_actions)
    uncovered = (target > 0) & (behaviour == 0)
    if uncovered.any():
        s, a = np.argwhere(uncovered)[0]
        raise ValueError(f"the behaviour policy must cover the target policy: b({a}|{s}) = 0 but π({a}|{s}) > 0")
    N = _checks.whole(n_episodes, "n_episodes", 1)
    max_steps = _checks.whole(max_steps, "max_steps", 1)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio_table = np.where(behaviour > 0, target / behaviour, 0.0)  # π(a|s)/b(a|s)
    sampler = TransitionSampler(mdp)
    terminal, gamma = mdp.terminal, mdp.gamma
    ratios, returns = np.ones(N), np.zeros(N)
    discount = np.ones(N)  # γ^t of each running episode
    running = np.arange(N)
    s = sampler.starts(N, rng)
    for _ in range(max_steps):
        a = sample(behaviour[s], rng.random(s.size))
        ratios[running] *= ratio_table[s, a]
        s, r = sampler.steps(s, a, rng)
        returns[running] += discount[running] * r
        discount[running] *= gamma
        going = ~terminal[s]
        running, s = running[going], s[going]
        if running.size == 0:
            return ratios, returns
    raise RuntimeError(f"{running.size} episodes were still running after max_steps={max_steps} steps")


def infinite_variance_mdp() -> MDP:
    """S&B Example 5.5: one nonterminal state s, from which "right" ends the episode with reward 0,
    and "left" returns to s with probability 0.9 (reward 0) or ends it with reward +1 (probability 0.1); γ = 1.

    States: 0 = s, 1 = the terminal state. Actions: 0 = left, 1 = right. The target policy
    "always left" has v_π(s) = 1; under the behaviour policy b(left) = b(right) = ½, the ordinary
    importance-sampling estimate of v_π(s) has infinite variance (Figure 5.4):
    E_b[(ρG)²] = Σ_k 0.1 · 0.9^{k−1} · 0.5^k · 4^k = 0.2 Σ_k 1.8^{k−1} = ∞.
    """
    P = np.zeros((2, 2, 2))
    P[0, 0] = [0.9, 0.1]
    P[0, 1, 1] = 1.0
    P[1, :, 1] = 1.0
    R = np.zeros((2, 2, 2))
    R[0, 0, 1] = 1.0
    return MDP(P, R, 1.0, terminal=[False, True], initial=[1.0, 0.0], state_names=["s", "end"],
               action_names=["left", "right"])


# ---------------------------------------------------------------------- off-policy control
class OffPolicyMonteCarloControl(EpisodeLearner, _Control):
    """Off-policy Monte Carlo control with weighted importance sampling (S&B Section 5.7, the boxed algorithm).

    ## Update
    Episodes are played with a soft behaviour policy b — ε-greedy (or softmax) in the current Q —
    and Q learns the values of the greedy target policy π(s) = argmax_a Q(s, a). At the end of
    each episode, backwards from its last step, with G ← γG + R_{t+1} and W = 1 at first:

        C(S_t, A_t) ← C(S_t, A_t) + W
        Q(S_t, A_t) ← Q(S_t, A_t) + W / C(S_t, A_t) · [G − Q(S_t, A_t)]
        stop if π(A_t|S_t) = 0;  else W ← W · π(A_t|S_t) / b(A_t|S_t)

    — the incremental weighted importance-sampling average (eqs. 5.7–5.8). b(A_t|S_t) is the
    probability with which the action was taken (Q does not change during an episode); π is
    greedy in Q after the update, its ties split evenly (:func:`rlcore.greedy_policy`), which is
    the book's "argmax with ties broken consistently" when there are no ties. Only the tail of
    each episode after its last exploratory action is learned from. A truncated episode
    bootstraps from max_a Q(S_T, a).

    ## Arguments
    - ``env``: a Gymnasium environment (its spaces) or an :class:`rlcore.MDP`.
    - ``gamma``: γ; from the MDP when ``env`` is one, required otherwise.
    - ``epsilon``: ε of the ε-greedy behaviour policy, in (0, 1] or a schedule (default 0.1; it
      must stay soft: ε = 0 would leave b unable to cover the greedy policy after it changes).
      ``temperature``: τ > 0 for a softmax behaviour policy instead.
    - ``initial_value``: Q before any update; ``seed``: seed of ``agent.rng``.

    ## Attributes
    ``Q``; ``cumulative_weights``: C(s, a), the shape of Q.
    """

    def __init__(self, env, *, gamma=None, epsilon=None, temperature=None, initial_value=0.0, seed=None):
        super().__init__(env, gamma=gamma, alpha=1.0, epsilon=epsilon, temperature=temperature,
                         initial_value=initial_value, seed=seed)
        if self._temperature is None and self._epsilon_schedule is None and self._epsilon == 0:
            raise ValueError("epsilon must be positive for off-policy control (the behaviour policy must be soft); got 0")
        self.alpha = "W/C"
        self._C = np.zeros_like(self._table._values)

    def copies(self, n_runs, rng, alpha=None):
        runs = super().copies(n_runs, rng, alpha=alpha)
        runs._C = np.zeros_like(runs._table._values)
        return runs

    @property
    def cumulative_weights(self):
        """C(s, a), the sums of the weights W of every update: the shape and kind of ``Q`` (a copy)."""
        C = self._weights()
        if self.n_runs is not None:
            return self._table.per_run(C).copy()
        if self._table.is_array:
            return C.copy()
        return {key: C[row].copy() for key, row in self._table._keys.items()}

    def _weights(self) -> np.ndarray:
        """C, grown to the rows of Q (a keyed table adds rows as states are visited)."""
        rows = self._table._values.shape[0]
        if self._C.shape[0] < rows:
            self._C = np.concatenate([self._C, np.zeros((rows - self._C.shape[0], self._C.shape[1]))])
        return self._C

    def learn_episode(self, rows, actions, rewards, discounts, last_row, run) -> None:
        """The backward pass of weighted importance sampling over one ended episode."""
        Q, C = self._table._values, self._weights()
        T = len(rows)
        b = [self._behaviour_probability(Q[s].tolist(), a, run)  # b(A_t|S_t), as when the actions were taken
             for s, a in zip(rows.tolist(), actions.tolist())]
        v_T = float(self._table.read(last_row).max()) if discounts[-1] != 0.0 else 0.0  # bootstrap only after truncation
        G = discounted_returns(rewards, discounts, v_T).tolist()
        W = 1.0
        for t in range(T - 1, -1, -1):
            s, a = int(rows[t]), int(actions[t])
            C[s, a] += W
            Q[s, a] += W / C[s, a] * (G[t] - Q[s, a])
            pi = _greedy_probability(Q[s].tolist(), a)  # π(A_t|S_t) of the greedy target policy, after the update
            if pi == 0.0:
                break
            W *= pi / b[t]

    def _behaviour_probability(self, q: list, a: int, run) -> float:
        """b(a|s) for the action values q (a list) of s: (1 − ε)·π_greedy(a) + ε/A, or the softmax probability."""
        if self._temperature is None:
            epsilon = float(_of_run(self._epsilon, run))
            return (1.0 - epsilon) * _greedy_probability(q, a) + epsilon / len(q)
        return float(self._probs(np.asarray(q), run)[a])

    def _settings(self) -> str:
        return super()._settings().replace("alpha='W/C', ", "")


def _greedy_probability(q: list, a: int) -> float:
    """π(a) of :func:`rlcore.greedy_policy` for the action values q of one state (a list), without numpy:
    1/|argmax| if a is among the maximising actions (within ``TIE_ATOL``), else 0 — the per-step path."""
    best = max(q) - TIE_ATOL
    if q[a] < best:
        return 0.0
    return 1.0 / sum(value >= best for value in q)


__all__ = [
    "MonteCarloES",
    "OffPolicyMonteCarloControl",
    "importance_sampling_ratios",
    "ordinary_importance_sampling",
    "weighted_importance_sampling",
    "off_policy_returns",
    "infinite_variance_mdp",
]
