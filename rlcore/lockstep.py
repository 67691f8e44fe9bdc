"""Many independent runs of one agent on an :class:`rlcore.MDP`, stepped in lockstep with numpy.

The textbook learning curves average 50–2000 runs. :func:`train_lockstep` keeps the N runs'
tables in one array (N, S, A) and advances all runs by one environment step at a time: one
batched transition draw, one batched update, one batched action choice. Each run has its own
state, episode counter and ε schedule, and finishes after its own ``n_episodes``.

Same update rules. The targets below are those of :mod:`rlcore.td` with a batch axis in front
(the tests check them against the single-transition functions row by row), the behaviour
policies those of :mod:`rlcore.exploration` (ε-greedy with uniform random tie-breaking, softmax),
the order of "choose" and "learn" that of each agent class. Sampling follows
:class:`rlcore.MDPEnv`: S_0 ~ μ₀, S_{t+1} ~ p(·|S_t, A_t), reward r(s, a, s') (or r(s, a)),
``terminated`` when S_{t+1} is terminal, ``truncated`` after ``max_episode_steps``.

Statistically, one lockstep call with N runs is N separate ``rlcore.train`` calls on
``mdp.to_env()``; the random numbers are drawn in a different order, so single runs are not
reproduced bit for bit (the tests compare means across runs, and check exact equality where no
randomness is involved).

Supported agents: :class:`~rlcore.agents.QLearning`, :class:`~rlcore.agents.Sarsa`,
:class:`~rlcore.agents.ExpectedSarsa`, :class:`~rlcore.agents.MonteCarloControl`,
:class:`~rlcore.agents.TDZero` and :class:`~rlcore.agents.MonteCarloPrediction` (with a policy
array or the uniform policy). Others raise ``TypeError``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

from rlcore import agents as _agents
from rlcore import exploration
from rlcore.exploration import epsilon_greedy_probs, softmax_probs
from rlcore.policies import TIE_ATOL
from rlcore.td import discounted_returns
from rlcore.training import snapshot_schedule


@dataclass(frozen=True, eq=False)
class LockstepHistory:
    """What :func:`train_lockstep` returns; every array has the runs on its first axis.

    Attributes:
        returns: undiscounted sum of rewards per run and episode, shape (N, E).
        lengths: steps per run and episode, shape (N, E).
        truncated: whether each episode ended by truncation, shape (N, E).
        tables: the final Q (N, S, A) of control agents, or V (N, S) of evaluation agents.
        snapshots: the tables after the numbers of episodes in ``snapshot_episodes``, shape
            (N, K, S, A) or (N, K, S); None without ``snapshot_every``.
        snapshot_episodes: episodes completed at each snapshot (0 = before training), shape (K,).
    """

    returns: np.ndarray
    lengths: np.ndarray
    truncated: np.ndarray
    tables: np.ndarray
    snapshots: np.ndarray | None
    snapshot_episodes: np.ndarray

    @property
    def n_runs(self) -> int:
        return self.returns.shape[0]


def train_lockstep(agent, mdp, n_runs: int, n_episodes: int, *, seed=None, max_episode_steps: int | None = None,
                   snapshot_every: int | None = None, progress: bool = False) -> LockstepHistory:
    """Run ``n_runs`` independent copies of ``agent`` on ``mdp`` for ``n_episodes`` episodes each.

    Args:
        agent: a configured agent (built for this MDP or ``mdp.to_env()``). Only its settings and
            its current table are read — every run starts from a copy of ``agent.Q`` (or
            ``agent.V``) — and the agent itself is left unchanged.
        mdp: the :class:`rlcore.MDP` to sample from (dense or sparse).
        n_runs: N, the number of independent runs.
        n_episodes: E, episodes per run.
        seed: seed of the one ``numpy.random.Generator`` that drives all runs.
        max_episode_steps: truncate episodes after this many steps (as ``mdp.to_env(max_episode_steps=...)``).
        snapshot_every: copy every run's table every that many episodes (and before the first and
            after the last).
        progress: show a tqdm bar over the N·E episodes.

    Returns:
        a :class:`LockstepHistory`.

    Raises:
        TypeError: for an agent this runner does not support.
        ValueError: if the agent's spaces do not match the MDP, or an argument is out of range.
    """
    kind = _KINDS.get(type(agent))
    if kind is None:
        supported = ", ".join(cls.__name__ for cls in _KINDS)
        raise TypeError(f"train_lockstep supports {supported}; got {type(agent).__name__} (use rlcore.train)")
    if not agent._table.is_array or len(agent._table) != mdp.n_states or agent.n_actions != mdp.n_actions:
        raise ValueError(f"the agent's spaces ({agent.observation_space}, {agent.action_space}) do not match the MDP "
                         f"(Discrete({mdp.n_states}), Discrete({mdp.n_actions}))")
    for name, value in (("n_runs", n_runs), ("n_episodes", n_episodes)):
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer; got {value}")
    if max_episode_steps is not None and (int(max_episode_steps) != max_episode_steps or max_episode_steps < 1):
        raise ValueError(f"max_episode_steps must be a positive integer or None; got {max_episode_steps}")
    if np.any(mdp.initial[mdp.terminal] > 0):
        raise ValueError("the MDP can start in a terminal state; an episode there has no steps to learn from")
    runner = _Runner(agent, kind, mdp, int(n_runs), int(n_episodes), np.random.default_rng(seed),
                     max_episode_steps, snapshot_schedule(int(n_episodes), snapshot_every), progress)
    return runner.run()


_KINDS = {
    _agents.QLearning: "q_learning",
    _agents.Sarsa: "sarsa",
    _agents.ExpectedSarsa: "expected_sarsa",
    _agents.MonteCarloControl: "mc_control",
    _agents.TDZero: "td0",
    _agents.MonteCarloPrediction: "mc_prediction",
}


# ---------------------------------------------------------------------- batched targets
# rlcore.td's targets with the runs on the first axis: r_t, discount_t (k,), q_t (k, A), a_t (k,).
def q_learning_targets(r_t, discount_t, q_t):
    """r_t + discount_t · max_a q_t[:, a] (rlcore.td.q_learning_target per row)."""
    return r_t + discount_t * q_t.max(axis=1)


def sarsa_targets(r_t, discount_t, q_t, a_t):
    """r_t + discount_t · q_t[i, a_t[i]] (rlcore.td.sarsa_target per row)."""
    return r_t + discount_t * q_t[np.arange(len(a_t)), a_t]


def expected_sarsa_targets(r_t, discount_t, q_t, probs_a_t):
    """r_t + discount_t · Σ_a π(a) q_t[:, a] (rlcore.td.expected_sarsa_target per row)."""
    return r_t + discount_t * (probs_a_t * q_t).sum(axis=1)


def td_targets(r_t, discount_t, v_t):
    """r_t + discount_t · v_t (rlcore.td.td_target per element)."""
    return r_t + discount_t * v_t


# ---------------------------------------------------------------------- batched sampling
class _Transitions:
    """Batched draws S' ~ p(·|s, a) with the rewards of :class:`rlcore.MDPEnv`, for dense or sparse P.

    P_flat is kept as CSR: row s·A + a holds the possible next states. Within each row the
    cumulative probabilities are offset by the row index, so one ``searchsorted`` of
    ``row + u`` draws a next state for every run at once. When every row has a single next
    state (deterministic MDPs such as the gridworlds and the cliff) no random number is drawn.
    """

    def __init__(self, mdp):
        P = sp.csr_matrix(mdp.P_flat, dtype=float)
        P.eliminate_zeros()
        P.sort_indices()
        counts = np.diff(P.indptr)
        row_of = np.repeat(np.arange(P.shape[0]), counts)
        row_sums = np.asarray(P.sum(axis=1)).ravel()
        within = np.cumsum(P.data) - np.repeat(np.r_[0.0, np.cumsum(row_sums)[:-1]], counts)
        within = np.minimum(within / row_sums[row_of], 1.0)
        self.last = P.indptr[1:] - 1  # each row's last entry, which closes it exactly
        within[self.last] = 1.0
        self.keys = row_of + within  # increasing; row r's entries lie in (r, r + 1]
        self.indices = P.indices
        self.deterministic = bool(np.all(counts == 1))
        self.n_actions = mdp.n_actions
        if mdp.transition_rewards(0, 0) is None:
            self.rewards = mdp.R.ravel()[row_of]
        else:
            self.rewards = np.empty(P.nnz)
            for row in range(P.shape[0]):
                lo, hi = P.indptr[row], P.indptr[row + 1]
                self.rewards[lo:hi] = mdp.transition_rewards(*divmod(row, mdp.n_actions))[self.indices[lo:hi]]
        self.initial_cdf = np.cumsum(mdp.initial)
        self.initial_cdf[-1] = 1.0
        self.start = int(np.argmax(mdp.initial)) if np.max(mdp.initial) == 1.0 else None
        if self.deterministic:
            self.next_state, self.next_reward = self.indices[self.last], self.rewards[self.last]

    def reset(self, k: int, rng) -> np.ndarray:
        """k start states S_0 ~ μ₀."""
        if self.start is not None:  # a single start state (the cliff, the random walk)
            return np.full(k, self.start)
        return np.minimum(np.searchsorted(self.initial_cdf, rng.random(k), side="right"), self.initial_cdf.size - 1)

    def restart(self, s_t, done, rng):
        """S_t where the episode goes on, a fresh start state S_0 ~ μ₀ where it is over."""
        if self.start is not None:
            return np.where(done, self.start, s_t)
        s_next = s_t.copy()
        s_next[done] = self.reset(int(done.sum()), rng)
        return s_next

    def step(self, rows, rng):
        """(S', R) for every run, shapes (k,), from the rows s·A + a of P_flat."""
        if self.deterministic:
            return self.next_state.take(rows), self.next_reward.take(rows)
        # u < 1, so row + u lands in row r's interval; min() guards the rounding of r + u to r + 1
        entry = np.minimum(np.searchsorted(self.keys, rows + rng.random(rows.size), side="right"), self.last.take(rows))
        return self.indices.take(entry), self.rewards.take(entry)


# ---------------------------------------------------------------------- batched behaviour
def _epsilon_greedy(q, epsilon, u, explore=None):
    """ε-greedy actions for action values q (k, A), ties (within TIE_ATOL) broken uniformly at random.

    ``u`` holds k × (A + 1) uniform numbers. Among the candidates — the tied greedy actions, or,
    when u[:, A] < ε, all A actions — the one with the largest of u[:, :A] wins, which is a
    uniform choice among them (u > 0 almost surely, so a non-candidate, scored 0, never wins).
    ``explore`` (k, 1), if given, is u[:, A:] < ε computed beforehand.
    """
    A = q.shape[1]
    candidates = q >= q.max(axis=1, keepdims=True) - TIE_ATOL
    candidates |= (u[:, A:] < epsilon[:, None]) if explore is None else explore
    return (candidates * u[:, :A]).argmax(axis=1)


def _softmax(q, temperature, u):
    """Actions drawn from π ∝ exp(q/τ), q (k, A), by inverting each row's CDF at u[:, 0]."""
    cdf = np.cumsum(softmax_probs(q, temperature), axis=1)
    return np.minimum((cdf <= u[:, :1]).sum(axis=1), q.shape[1] - 1)


def _from_policy(cdf_rows, u):
    """Actions drawn from fixed policy rows given as CDFs (k, A), at u[:, 0]."""
    return np.minimum((cdf_rows <= u[:, :1]).sum(axis=1), cdf_rows.shape[1] - 1)


# ---------------------------------------------------------------------- the runner
class _Runner:
    """The N runs, stepped together; every per-run array has one entry per run.

    Tables are addressed through flat views of an (N + 1, S, A) array: row ``run·S + s`` of
    ``rows`` is Q(s, ·) of that run, entry ``(run·S + s)·A + a`` of ``flat`` is Q(s, a) (for V,
    entry ``run·S + s``). Run N is scratch: a run that has played its ``n_episodes`` keeps stepping
    (so that no array is ever resized) but learns in the scratch table and records into a scratch
    slot, both dropped at the end. Rewards are logged per step with the slot of their episode and
    summed per episode with ``bincount`` every ``chunk`` steps.
    """

    def __init__(self, agent, kind, mdp, n_runs, n_episodes, rng, max_episode_steps, snapshot_episodes, progress):
        self.agent, self.kind, self.rng = agent, kind, rng
        self.N, self.E, self.S, self.A = n_runs, n_episodes, mdp.n_states, mdp.n_actions
        self.gamma = agent.gamma
        self.max_steps = max_episode_steps
        self.control = kind in ("q_learning", "sarsa", "expected_sarsa", "mc_control")
        self.monte_carlo = kind in ("mc_control", "mc_prediction")
        self.softmax = self.control and agent.temperature_setting is not None
        self.scheduled = self.control and (agent._epsilon_schedule or agent._temperature_schedule) is not None
        self.transitions = _Transitions(mdp)
        self.terminal = mdp.terminal
        initial = agent.snapshot()  # (S, A) or (S,)
        self.table = np.broadcast_to(initial, (n_runs + 1, *initial.shape)).copy()
        self.flat = self.table.reshape(-1)
        self.rows = self.table.reshape((n_runs + 1) * self.S, -1)
        self.counts = None if agent._alpha_schedule is None else np.zeros(self.flat.size, dtype=np.int64)
        self.snapshot_episodes = snapshot_episodes
        self.snapshots = None
        if snapshot_episodes.size:
            self.snapshots = np.empty((n_runs, snapshot_episodes.size, *initial.shape))
            self.snapshots[:, 0] = initial
            self.slot = np.full(n_episodes + 1, -1)
            self.slot[snapshot_episodes] = np.arange(snapshot_episodes.size)
        if not self.control:
            policy = agent._policy_array
            if policy is None and agent.policy is not None:
                raise TypeError("train_lockstep needs the evaluated policy as an (S, A) array (or None for uniform), not a callable")
            policy = np.full((self.S, self.A), 1.0 / self.A) if policy is None else policy
            self.policy_cdf = np.cumsum(policy, axis=1)
        if self.monte_carlo:
            self.buffer = _EpisodeBuffer(n_runs)
        self.chunk = int(max(16, min(1024, 2**20 // (n_runs * (self.A + 1)))))  # steps per block of random numbers / log
        self.bar = tqdm(total=n_runs * n_episodes, desc=f"{type(agent).__name__} × {n_runs}", unit="ep",
                        disable=not progress, leave=False)
        self.progress = progress

    # -- behaviour -----------------------------------------------------------------------
    def exploration(self, episodes):
        """ε (or τ) of each run for its current episode index, shape (N,); zeros for evaluation agents."""
        agent = self.agent
        if not self.control:
            return np.zeros(episodes.shape)
        schedule = agent._temperature_schedule if self.softmax else agent._epsilon_schedule
        if schedule is None:
            return np.full(episodes.shape, agent._temperature if self.softmax else agent._epsilon)
        value = np.broadcast_to(np.asarray(schedule(episodes), dtype=float), episodes.shape).copy()
        check = exploration.check_temperature if self.softmax else exploration.check_epsilon
        check(value, f"{'temperature' if self.softmax else 'epsilon'} schedule (at episodes {episodes.min()}…{episodes.max()})")
        return value

    def behaviour(self, base, states, explore, u=None, explores=None):
        """Next actions of runs whose tables start at row ``base`` in ``states`` (k,), from uniforms u (k, A + 1)
        (``explores``: the ε-greedy coin flips u[:, A:] < ε, when drawn beforehand)."""
        if u is None:
            u = self.rng.random((len(states), self.A + 1))
        if not self.control:
            return _from_policy(self.policy_cdf.take(states, axis=0), u)
        q = self.rows.take(base + states, axis=0)
        if self.softmax:
            return _softmax(q, explore, u)
        return _epsilon_greedy(q, explore, u, explores)

    def target_probs(self, q_t, explore):
        """π(·|S_t) of Expected SARSA's target policy (or the behaviour policy), shape (k, A)."""
        target_epsilon = getattr(self.agent, "target_epsilon", None)
        if target_epsilon is not None:
            return epsilon_greedy_probs(q_t, np.full(len(q_t), target_epsilon))
        if self.softmax:
            return softmax_probs(q_t, explore)
        return epsilon_greedy_probs(q_t, explore)

    def step_size(self, index):
        """α for the entries ``flat[index]`` (one per run), counting this visit when α depends on N."""
        if self.counts is None:
            return self.agent._alpha
        self.counts[index] += 1
        return self.agent._alpha_schedule(self.counts.take(index))

    # -- the loop ------------------------------------------------------------------------
    def run(self) -> LockstepHistory:
        N, E, S, A, rng = self.N, self.E, self.S, self.A, self.rng
        runs = np.arange(N)
        base = runs * S  # table row of (state 0) of each run; the scratch run's once it is complete
        base_sa = base * A  # flat entry of (state 0, action 0)
        scratch = N * E  # record slot of complete runs
        entry = runs * E  # record slot of each run's current episode: run·E + episode
        episode = np.zeros(N, dtype=np.int64)  # episodes completed
        complete = np.zeros(N, dtype=bool)
        n_complete = 0
        t = np.zeros(N, dtype=np.int64) if self.max_steps is not None else None  # steps into the episode
        returns, lengths = np.zeros(scratch + 1), np.zeros(scratch + 1, dtype=np.int64)
        truncations = np.zeros(scratch + 1, dtype=bool)
        chunk = self.chunk
        log_r, log_slot = np.zeros((chunk, N)), np.zeros((chunk, N), dtype=np.int64)
        k = chunk  # position in the current block of uniforms and of the log
        U = None

        s = self.transitions.reset(N, rng)
        explore = self.exploration(episode)
        a = self.behaviour(base, s, explore)
        while n_complete < N:
            if k == chunk:  # flush the log, draw the next block of uniforms
                if U is not None:
                    self.flush(log_r, log_slot, chunk, returns, lengths)
                U = rng.random((chunk, N, A + 1))
                # with a constant ε the coin flips of the whole block are known now
                EXPLORES = None if self.scheduled or self.softmax or not self.control else U[:, :, A:] < explore[:, None]
                k = 0
            sa = s * A + a
            s_t, r_t = self.transitions.step(sa, rng)
            terminated = self.terminal.take(s_t)
            log_r[k], log_slot[k] = r_t, entry
            discount_t = self.gamma * (1.0 - terminated)
            if t is None:
                truncated, done = None, terminated
            else:
                t += 1
                truncated = ~terminated & (t >= self.max_steps)
                done = terminated | truncated

            # Where each run goes next: on to S_t, or to the start of its next episode.
            s_next, explore_next = s_t, explore
            any_done = done.any()
            if any_done:
                if truncated is not None:
                    truncations[entry[truncated]] = True
                    t[done] = 0
                entry = np.minimum(entry + done, scratch)
                episode = episode + done
                s_next = self.transitions.restart(s_t, done, rng)
                if self.scheduled:
                    explore_next = self.exploration(episode)

            if self.kind == "sarsa":
                a_next = self.sarsa_step(base, base_sa + sa, s, r_t, discount_t, s_t, s_next, explore, explore_next,
                                         terminated, truncated, any_done, U[k], None if EXPLORES is None else EXPLORES[k])
            else:
                self.learn(runs, base, base_sa + sa, s, a, r_t, discount_t, s_t, explore)
                if any_done and self.monte_carlo:
                    self.end_episodes(np.flatnonzero(done & ~complete), s_t, truncated, explore)
                    self.buffer.length[done] = 0  # complete runs' episodes are dropped
                a_next = self.behaviour(base, s_next, explore_next, U[k], None if EXPLORES is None else EXPLORES[k])  # after the update
            s, a, explore = s_next, a_next, explore_next
            k += 1

            if any_done:
                if self.snapshots is not None or self.progress:
                    finished = np.flatnonzero(done & ~complete)
                    self.bar.update(finished.size)
                    if self.snapshots is not None:
                        slot = self.slot[episode[finished]]
                        keep = slot >= 0
                        self.snapshots[finished[keep], slot[keep]] = self.table[finished[keep]]
                if np.count_nonzero(episode >= E) > n_complete:  # runs that have just played their last episode
                    newly = (episode >= E) & ~complete
                    complete |= newly
                    n_complete = int(complete.sum())
                    base = np.where(complete, N * S, base)
                    base_sa = base * A
                    entry = np.where(complete, scratch, entry)
        self.flush(log_r, log_slot, k, returns, lengths)
        self.bar.close()
        return LockstepHistory(returns[:scratch].reshape(N, E), lengths[:scratch].reshape(N, E),
                               truncations[:scratch].reshape(N, E), self.table[:N], self.snapshots, self.snapshot_episodes)

    @staticmethod
    def flush(log_r, log_slot, n, returns, lengths):
        """Add the logged rewards (and step counts) of the last n steps to their episodes."""
        slots = log_slot[:n].ravel()
        returns += np.bincount(slots, weights=log_r[:n].ravel(), minlength=returns.size)
        lengths += np.bincount(slots, minlength=lengths.size)

    def sarsa_step(self, base, index, s_tm1, r_t, discount_t, s_t, s_next, explore, explore_next,
                   terminated, truncated, any_done, u, explores):
        """SARSA: draw A_t, then update Q(S_{t−1}, A_{t−1}) toward R_t + γ_t Q(S_t, A_t); return the next actions.

        Where the episode terminated, A_t does not enter the target (γ_t = 0), so the action drawn
        for such a run is already the first action of its next episode (drawn in its new start
        state, with the next episode's ε). That is the agent's order — ``start`` after the last
        update — unless the update changed the start state's row; those runs, and truncated ones
        (whose A_t is a bootstrap action, never taken), draw again after the update.
        """
        s_choose, e_choose = s_t, explore
        if any_done:
            s_choose = np.where(terminated, s_next, s_t)
            if explore_next is not explore:  # ε changes with the episode
                e_choose = np.where(terminated, explore_next, explore)
        a_t = self.behaviour(base, s_choose, e_choose, u, explores)  # drawn before Q(S_{t−1}, A_{t−1}) changes
        q_t = self.rows.take(base + s_t, axis=0)
        target = sarsa_targets(r_t, discount_t, q_t, a_t)
        q_tm1 = self.flat.take(index)
        self.flat[index] = q_tm1 + self.step_size(index) * (target - q_tm1)
        if any_done:
            again = terminated & (s_tm1 == s_next)
            if truncated is not None:
                again |= truncated
            if again.any():
                redo = np.flatnonzero(again)
                a_t[redo] = self.behaviour(base[redo], s_next[redo], explore_next[redo])
        return a_t

    def learn(self, runs, base, index, s_tm1, a_tm1, r_t, discount_t, s_t, explore):
        """One batched update of every run (Q-learning, Expected SARSA, TD(0)); Monte Carlo agents
        only record the step here and learn in :meth:`end_episodes`. ``index`` is the flat entry of
        Q(S_{t−1}, A_{t−1}) of each run."""
        flat = self.flat
        if self.monte_carlo:
            self.buffer.record(runs, s_tm1, a_tm1, r_t, discount_t)
            return
        if self.kind == "td0":
            index = base + s_tm1
            v_tm1 = flat.take(index)
            target = td_targets(r_t, discount_t, flat.take(base + s_t))
            flat[index] = v_tm1 + self.step_size(index) * (target - v_tm1)
            return
        q_t = self.rows.take(base + s_t, axis=0)
        if self.kind == "q_learning":
            target = q_learning_targets(r_t, discount_t, q_t)
        else:
            target = expected_sarsa_targets(r_t, discount_t, q_t, self.target_probs(q_t, explore))
        q_tm1 = flat.take(index)
        flat[index] = q_tm1 + self.step_size(index) * (target - q_tm1)

    def end_episodes(self, finished, s_t, truncated, explore):
        """Monte Carlo agents learn from the whole episode of each run that just finished one."""
        agent, table = self.agent, self.table
        for run in finished.tolist():
            states, actions, rewards, discounts = self.buffer.episode(run)
            last, cut = int(s_t[run]), truncated is not None and bool(truncated[run])
            v_T = 0.0
            if cut and self.control:
                row = table[run, last]
                v_T = float(np.dot(self.target_probs(row[None], explore[[run]])[0], row))
            elif cut:
                v_T = float(table[run, last])
            returns = discounted_returns(rewards, discounts, v_T)
            seen = set()
            for step, (state, action) in enumerate(zip(states.tolist(), actions.tolist())):
                key = (state, action) if self.control else state
                if agent.first_visit:
                    if key in seen:
                        continue
                    seen.add(key)
                index = (run * self.S + state) * self.A + action if self.control else run * self.S + state
                if self.counts is None:
                    alpha = agent._alpha
                else:
                    self.counts[index] += 1
                    alpha = float(agent._alpha_schedule(self.counts[index]))
                self.flat[index] += alpha * (returns[step] - self.flat[index])
            self.buffer.clear(run)


class _EpisodeBuffer:
    """Per-run (S_t, A_t, R_{t+1}, γ_{t+1}) of the current episode, in arrays that grow by doubling."""

    def __init__(self, n_runs: int, capacity: int = 64):
        self.states = np.zeros((n_runs, capacity), dtype=np.int64)
        self.actions = np.zeros((n_runs, capacity), dtype=np.int64)
        self.rewards = np.zeros((n_runs, capacity))
        self.discounts = np.zeros((n_runs, capacity))
        self.length = np.zeros(n_runs, dtype=np.int64)

    def record(self, runs, s, a, r, discount):
        t = self.length[runs]
        if t.max() >= self.states.shape[1]:
            for name in ("states", "actions", "rewards", "discounts"):
                old = getattr(self, name)
                setattr(self, name, np.concatenate([old, np.zeros_like(old)], axis=1))
        self.states[runs, t], self.actions[runs, t] = s, a
        self.rewards[runs, t], self.discounts[runs, t] = r, discount
        self.length[runs] = t + 1

    def episode(self, run):
        n = self.length[run]
        return self.states[run, :n], self.actions[run, :n], self.rewards[run, :n], self.discounts[run, :n]

    def clear(self, run):
        self.length[run] = 0
