"""The tabular agents' common engine: one agent class serves one run and many runs in lockstep.

Lectures 5–7. Every agent speaks the same two-call protocol, which :func:`rlcore.train` and
:func:`rlcore.train_lockstep` both drive::

    action = agent.start(obs)                    # a new episode begins in obs: choose A_0
    action = agent.step(reward, obs, terminated, truncated, restart=None)
                                                 # learn from the transition that just happened,
                                                 # then choose the next action (None once the
                                                 # episode is over)

``restart``, where :func:`rlcore.train_lockstep` gives it, says where each run goes on: S_t for
the runs whose episode continues, a fresh start state for those whose episode is over — these
begin their next episode there, and the action returned for them is its A_0.

so each algorithm keeps its own order of "choose" and "learn" — SARSA chooses A_{t+1} before it
updates Q(S_t, A_t), Q-learning after — exactly as in the book's boxed pseudocode.

**One run or N runs, one code.** An agent is written once, with array expressions that work on
one transition or on one transition per run: ``obs``, ``reward``, ``terminated`` and the returned
action are numbers for one run and arrays of shape (N,) for the N copies that
:meth:`Agent.copies` makes for :func:`rlcore.train_lockstep`. The update rules are the pure
functions of :mod:`rlcore.learning.td` (batch-agnostic), the behaviour policies those of
:mod:`rlcore.exact.policies`, and the table (:class:`rlcore.learning.table.Table`) is addressed by
row index, one row per run and state. For one run the behaviour policy is drawn in plain Python
on the few action values of a state (the fast path); for N runs, for all of them at once.

Observations can be anything hashable (see :mod:`rlcore.learning.table`): with a ``Discrete``
observation space ``agent.Q`` is an (S, A) numpy array, otherwise a dict ``{observation: row}``
that grows as states are visited. The action space must be ``Discrete``.

**Actions that exist only in some states.** An :class:`rlcore.MDP` has the same A actions in
every state; an MDP that carries ``action_mask`` (bool, (S, A); e.g.
:func:`rlcore.mdps.maximization_bias`) says which of them exist in each state. The control agents
read it from the MDP (or from ``env.unwrapped.mdp``) and give an absent action the value −∞: the
greedy choice and every max over actions pass it by, and ε-greedy exploration draws among the
actions that exist. Agents that cannot respect a mask (``handles_action_mask = False``, or a target
that averages over all actions) refuse such an MDP with a ``TypeError``.

Randomness (exploration, tie-breaking, sampled target actions) comes from one
``numpy.random.Generator``, ``agent.rng``, seeded by ``seed=`` or by ``rlcore.train(seed=...)``:
the same seed gives the same run, bit for bit.
"""

from __future__ import annotations

import copy

import numpy as np
from gymnasium import spaces

from rlcore import _checks
from rlcore.exact.model import MDP
from rlcore.exact.policies import (
    TIE_ATOL,
    draw_greedy,
    draw_softmax,
    epsilon_greedy_policy,
    greedy_policy,
    sample_epsilon_greedy,
    sample_softmax,
    softmax_policy,
)
from rlcore.learning import schedules
from rlcore.learning.table import Table


class Agent:
    """The plumbing of every tabular agent: spaces, γ, the step size α, the table and the random stream.

    Subclasses write ``start`` and ``step`` once, for one run or N runs (see the module docstring).

    Attributes:
        n_runs: None for one run (:func:`rlcore.train`); N for the copies of :meth:`copies`.
        episode: episodes started so far (the episode index k seen by schedules); (N,) for N runs.
        rng: the ``numpy.random.Generator`` of all the agent's random choices.
    """

    handles_action_mask = False  # whether the agent respects an MDP's action_mask (see the module docstring)

    def __init__(self, env, *, gamma, seed):
        name = type(self).__name__
        self.observation_space, self.action_space, default_gamma = spaces_of(env, name)
        self.n_actions = int(self.action_space.n)
        self._action_start = int(self.action_space.start)
        self.gamma = check_gamma(default_gamma if gamma is None else gamma, name)
        self.action_mask = action_mask_of(env, self.n_actions)
        if self.action_mask is not None and (not self.handles_action_mask or hasattr(self, "target_probs")):
            raise TypeError(f"{name} cannot respect the MDP's action_mask (some actions do not exist in some "
                            "states): it would choose them or average over them. Use an agent that chooses and "
                            "maximises over the actions that exist (QLearning, Sarsa, DoubleQLearning, "
                            "NStepSarsa, TreeBackup, DynaQ)")
        self.n_runs = None
        self.retired = None  # N runs: the runs whose learning no longer counts (set by train_lockstep)
        self.episode = 0
        self.seed(seed)

    def _value_table(self, alpha, initial_value, width: int) -> None:
        """The table of values learned with step size α (constant, ``"1/n"`` or by visit count)."""
        self.alpha = alpha
        self._alpha, self._alpha_schedule = schedules.as_step_size(alpha)
        self.initial_value = _checks.number(initial_value, "initial_value", meaning="the value of every entry before its first update")
        self._table = Table(self.observation_space, width, self.initial_value, counts=self._alpha_schedule is not None)

    def seed(self, seed=None) -> None:
        """Reset the agent's random stream: ``numpy.random.default_rng(seed)``."""
        self.rng = np.random.default_rng(seed)
        self._random = self.rng.random
        self._blocks = {}

    def _uniforms(self, width: int, k: int, epsilon=None):
        """(k, width) uniform numbers for one batched draw (k ≤ N), cut from blocks of 256 draws
        (fewer when N · width is large: a block holds at most 2²¹ numbers, 16 MB).

        With a constant ``epsilon``: (u[:, :−1], the ε-greedy coin flips u[:, −1:] < ε), both
        computed a block at a time."""
        block = self._blocks.get(width if epsilon is None else -width)
        if block is None or block[0] == len(block[1]):
            u = self._random((max(1, min(256, (1 << 21) // (self.n_runs * width))), self.n_runs, width))
            parts = [u] if epsilon is None else [np.ascontiguousarray(u[..., :-1]), u[..., -1:] < epsilon]
            block = self._blocks[width if epsilon is None else -width] = [0, *parts]
        i = block[0]
        block[0] = i + 1
        if k == self.n_runs:
            return block[1][i] if epsilon is None else (block[1][i], block[2][i])
        return block[1][i, :k] if epsilon is None else (block[1][i, :k], block[2][i, :k])

    # ------------------------------------------------------------------ many runs
    def copies(self, n_runs: int, rng: np.random.Generator, alpha=None):
        """N independent copies of this agent in one object, for :func:`rlcore.train_lockstep`.

        The copies have this agent's class and settings; each run starts from a copy of this
        agent's current table(s), with visit counts and episode counters at 0, and every random
        choice comes from ``rng``. This agent is left unchanged. Needs a Discrete observation space.

        Args:
            alpha: one constant step size per run, shape (n_runs,), instead of the agent's own α:
                a parameter study over α in one call (agents with a constant α only).
        """
        if not self._table.is_array:
            raise TypeError(f"{type(self).__name__}: many runs need a Discrete observation space (one table row per state)")
        per_run_alpha = None
        if alpha is not None:
            if getattr(self, "_alpha_schedule", None) is not None or not hasattr(self, "_alpha"):
                raise TypeError(f"{type(self).__name__}: one α per run needs an agent with a constant step size α")
            per_run_alpha = _checks.real_array(alpha, "alpha")
            if per_run_alpha.shape != (n_runs,):
                raise ValueError(f"alpha must have one step size per run, shape ({n_runs},); got shape {per_run_alpha.shape}")
            schedules.check_alpha(per_run_alpha)
        runs = copy.copy(self)
        runs._alpha_per_run = per_run_alpha
        for name, value in vars(self).items():
            if isinstance(value, Table):
                setattr(runs, name, value.replicate(n_runs))
        runs.n_runs = int(n_runs)
        runs.retired = np.zeros(n_runs, dtype=bool)
        runs.episode = np.zeros(n_runs, dtype=np.int64)
        runs.rng, runs._random, runs._blocks = rng, rng.random, {}
        return runs

    @property
    def table(self) -> np.ndarray:
        """The learned table, live: (S, A) or (S,) for one run, (N, S, A) or (N, S) for N runs.

        Q for control agents, V for evaluation agents, the logits θ for policy-gradient agents.
        """
        table = self._learned()
        values = table.as_data()
        if self.n_runs is not None:
            values = table.per_run()
        return values[..., 0] if table.width == 1 and isinstance(values, np.ndarray) else values

    def _learned(self) -> Table:
        return self._table

    # ------------------------------------------------------------------ the shared steps
    def _row(self, obs, terminated=False, truncated=False):
        """The table row of ``obs`` (one per run for N runs). The last state of an episode of a
        keyed table is only read: an unseen one gets row −1 (initial values), so the table does
        not grow with states that are never updated."""
        if self.n_runs is None and (terminated or truncated):
            return self._table.lookup(obs)
        return self._table.index(obs)

    def _update(self, rows, a, target, table: Table | None = None, alpha=None) -> None:
        """x ← x + α (target − x) for the entries (rows, a) (S&B eq. 2.4): one, or one per run."""
        table = self._table if table is None else table
        values = table._values
        old = values[rows, a]
        if alpha is None:
            alpha = self._alpha if self._alpha_schedule is None else self._step_size(table, rows, a)
            if getattr(self, "_alpha_per_run", None) is not None:
                alpha = self._alpha_per_run[np.asarray(rows) // table.n]  # row run·S + s: the run's own α
        values[rows, a] = old + alpha * (target - old)

    def _update_in_order(self, rows, a, targets, table: Table | None = None) -> None:
        """The updates x ← x + α (target_i − x) of the entries (rows[i], a[i]), one after another in the
        order i = 0, 1, … (one episode of one run; ``a`` a number or one per update).

        With a constant α, k updates of one entry compose to x ← (1 − α)^k x + Σ_i α (1 − α)^(k−1−i) target_i
        (i counting that entry's updates), which is applied to every entry at once; with α by visit
        count, one at a time. The same numbers up to rounding.
        """
        table = self._table if table is None else table
        rows = np.asarray(rows, dtype=np.int64)
        keys = rows * table.width + np.asarray(a, dtype=np.int64)  # the flat entry of each update
        if self._alpha_schedule is not None or keys.size < 16:  # (a short loop is quicker than the closed form)
            for row, action, target in zip(rows.tolist(), np.broadcast_to(a, rows.shape).tolist(), np.asarray(targets).tolist()):
                self._update(row, action, target, table=table)
            return
        alpha = self._alpha
        if getattr(self, "_alpha_per_run", None) is not None:
            alpha = self._alpha_per_run[rows[0] // table.n]  # one run: its own α
        entries, group, counts = np.unique(keys, return_inverse=True, return_counts=True)
        order = np.argsort(group, kind="stable")  # updates grouped by entry, in time order within a group
        start = np.concatenate(([0], np.cumsum(counts)[:-1]))
        position = np.arange(keys.size) - np.repeat(start, counts)  # rank of each update within its entry, in time
        later = np.empty(keys.size, dtype=np.int64)  # how many updates of the same entry come after each one
        later[order] = counts[group[order]] - 1 - position
        flat = table._values.reshape(-1)
        decayed = (1.0 - alpha) ** counts * flat[entries]
        flat[entries] = decayed + np.bincount(group, weights=alpha * (1.0 - alpha) ** later * np.asarray(targets, dtype=float),
                                              minlength=entries.size)

    def _step_size(self, table: Table, rows, a):
        """α for the entries (rows, a): the constant α, or α(N) after counting this visit."""
        if self._alpha_schedule is None:
            return self._alpha
        counts = table._counts
        counts[rows, a] += 1
        return self._alpha_schedule(counts[rows, a])

    def _episode_begins(self, runs=None) -> None:
        """Count a new episode (in the runs where the mask ``runs`` is set, for N runs)."""
        if self.n_runs is None:
            self.episode += 1
        elif runs is None:
            self.episode = self.episode + 1
        else:
            self.episode = self.episode + runs

    def _behaviour(self, rows, obs=None):
        """Action indices drawn from the behaviour policy at the table rows (one, or one per run)."""
        raise NotImplementedError

    def _continue(self, s_t, a_t, terminated, truncated, restart, obs=None):
        """Choose A_t in S_t (or keep the A_t already chosen); where the episode is over, begin the
        next one in ``restart`` instead. Returns the environment actions (None: over, no restart).

        For N runs the runs whose episode is over begin their next one here, in their entries of
        ``restart``; their first action is drawn after the update, as :meth:`start` would.
        """
        if self.n_runs is None:
            if terminated or truncated:
                return None if restart is None else self.start(restart)
            if a_t is None:
                a_t = self._behaviour(s_t, obs)
            self._s_tm1, self._a_tm1 = s_t, a_t
            return a_t + self._action_start
        done = terminated if truncated is False else terminated | truncated  # N runs from here on
        if restart is not None:  # some episodes are over (lockstep passes restart only then)
            s_t = self._row(restart)
            self._episode_begins(done)
            if a_t is None:
                a_t = self._behaviour(s_t)
            else:
                again = np.flatnonzero(done)
                a_t[again] = self._behaviour(s_t[again], runs=again)
        elif a_t is None:
            a_t = self._behaviour(s_t)
        self._s_tm1, self._a_tm1 = s_t, a_t
        return a_t + self._action_start if self._action_start else a_t

    def _start(self, obs):
        """Begin an episode (in every run) in ``obs``: count it, remember S_0, return A_0."""
        self._episode_begins()
        self._s_tm1 = self._row(obs)
        self._a_tm1 = self._behaviour(self._s_tm1, obs)
        return self._a_tm1 + self._action_start

    @property
    def counts(self):
        """Visit counts N(s, a) (N(s) for state values) when α depends on them, else None."""
        if self._table._counts is None:
            return None
        counts = self._table.as_data(counts=True)
        if isinstance(counts, np.ndarray) and self._table.width == 1:
            return counts[:, 0]
        return counts


class _Control(Agent):
    """Shared by the control agents: Q, the ε-greedy or softmax behaviour policy, acting."""

    handles_action_mask = True

    def __init__(self, env, *, gamma, alpha, epsilon, temperature, initial_value, seed):
        super().__init__(env, gamma=gamma, seed=seed)
        self._value_table(alpha, initial_value, self.n_actions)
        self._allowed = None  # per state, the list of the actions that exist (with an action mask)
        if self.action_mask is not None:
            self._mask_table(self._table)
            self._allowed = [np.flatnonzero(row).tolist() for row in self.action_mask]
        if epsilon is not None and temperature is not None:
            raise ValueError("give epsilon (ε-greedy exploration) or temperature (softmax exploration), not both")
        if temperature is None:
            epsilon = 0.1 if epsilon is None else epsilon
            self._epsilon, self._epsilon_schedule = schedules.as_schedule(epsilon, "epsilon", schedules.check_epsilon)
            self._temperature = self._temperature_schedule = None
            if self._epsilon_schedule is not None:
                self._epsilon = float(self._epsilon_schedule(0))  # until the first episode starts
        else:
            self._temperature, self._temperature_schedule = schedules.as_schedule(
                temperature, "temperature", schedules.check_temperature)
            self._epsilon = self._epsilon_schedule = None
            if self._temperature_schedule is not None:
                self._temperature = float(self._temperature_schedule(0))
        self.epsilon_setting, self.temperature_setting = epsilon, temperature

    def _mask_table(self, table: Table) -> None:
        """Set the entries of the actions that do not exist (``action_mask`` False) to −∞."""
        table._values[~self.action_mask] = -np.inf

    @property
    def Q(self):
        """Action values: an (S, A) array for Discrete observations, else a dict ``{obs: (A,) array}``;
        (N, S, A) for N runs.

        The array is the agent's live table: writing into it changes what the agent knows.
        """
        return self.table

    @property
    def epsilon(self):
        """ε of the current episode (one per run for N runs; None with softmax exploration)."""
        return self._epsilon

    @property
    def temperature(self):
        """τ of the current episode (one per run for N runs; None with ε-greedy exploration)."""
        return self._temperature

    def snapshot(self):
        """A copy of Q (array, or dict of copied rows)."""
        return self._table.copy() if self.n_runs is None else self.table.copy()

    def q_values(self, obs) -> np.ndarray:
        """Q(obs, ·), shape (A,) (a copy)."""
        return self._table.read(self._table.lookup(obs)).copy()

    def greedy_action(self, obs) -> int:
        """argmax_a Q(obs, a), ties broken at random (uses ``agent.rng``; does not learn)."""
        return draw_greedy(self._table.read(self._table.lookup(obs)).tolist(), self._random) + self._action_start

    def act(self, obs) -> int:
        """An action from the behaviour policy (ε-greedy or softmax) in obs, without learning."""
        return self._behaviour(self._table.lookup(obs)) + self._action_start

    def action_probs(self, obs) -> np.ndarray:
        """The behaviour policy π(·|obs) of the current episode, shape (A,)."""
        return self._probs(self._table.read(self._table.lookup(obs)))

    def _probs(self, q, run=None):
        """π(·|s) of the behaviour policy for action values q, (A,) or one row per run (N, A);
        with ``run``, for action values (A,) of that one run (its own ε or τ)."""
        if self._temperature is None:
            epsilon = _of_run(self._epsilon, run)
            if self.action_mask is None:
                return epsilon_greedy_policy(q, epsilon)
            exists = np.asarray(q) > -np.inf  # ε spread over the actions that exist
            epsilon = np.asarray(epsilon, dtype=float)[..., None] if np.ndim(epsilon) else epsilon
            return (1.0 - epsilon) * greedy_policy(q) + epsilon * exists / exists.sum(axis=-1, keepdims=True)
        return softmax_policy(q, _of_run(self._temperature, run))

    def _behaviour(self, rows, obs=None, runs=None, exploration=None):
        """Action indices drawn from the behaviour policy at the table rows (one, or one per run).

        One run: ε-greedy is :func:`rlcore.exact.policies.draw_epsilon_greedy` written out, as this
        runs at every step. N runs: one batched draw, for every run or for the runs ``runs``
        (indices) at their ``rows``; ``exploration`` overrides ε (or τ), one per row.
        """
        table = self._table
        if self.n_runs is None:
            q = table.read(rows).tolist()
            if self._temperature is not None:
                return draw_softmax(q, self._temperature, self._random)
            if self._random() < self._epsilon:
                if self._allowed is None:
                    return int(self._random() * self.n_actions)
                allowed = self._allowed[rows]
                return allowed[int(self._random() * len(allowed))]
            return draw_greedy(q, self._random)
        q = table._values.take(rows, axis=0)
        if exploration is None:
            if self._temperature is None and self._epsilon_schedule is None:  # a constant ε: coin flips drawn ahead
                noise, explore = self._uniforms(self.n_actions + 1, len(rows), self._epsilon)
                if self._allowed is not None:
                    explore = explore & (q > -np.inf)  # explore among the actions that exist
                return sample_epsilon_greedy(q, self._epsilon, noise, explore)
            exploration = _of_run(self._epsilon if self._temperature is None else self._temperature, runs)
        if self._temperature is not None:
            return sample_softmax(q, exploration, self._uniforms(1, len(rows)))
        u = self._uniforms(self.n_actions + 1, len(rows))
        if self._allowed is not None:
            explore = (u[:, -1:] < np.reshape(exploration, (-1, 1))) & (q > -np.inf)
            return sample_epsilon_greedy(q, exploration, u[:, :-1], explore)
        return sample_epsilon_greedy(q, exploration, u)

    def _episode_begins(self, runs=None) -> None:
        """Count the episode and read ε_k or τ_k off its schedule (per run for N runs)."""
        k = self.episode
        super()._episode_begins(runs)
        if self._epsilon_schedule is None and self._temperature_schedule is None:  # constant ε or τ
            return
        for name, check in (("epsilon", schedules.check_epsilon), ("temperature", schedules.check_temperature)):
            schedule = getattr(self, f"_{name}_schedule")
            if schedule is None:
                continue
            if self.n_runs is None:
                value = float(schedule(k))
                check(value, f"{name} schedule at episode {k}")
            else:
                value = np.broadcast_to(np.asarray(schedule(k), dtype=float), k.shape).copy()
                check(value, f"{name} schedule (at episodes {k.min()}…{k.max()})")
                old = getattr(self, f"_{name}")
                if runs is not None:
                    value = np.where(runs, value, old)
            setattr(self, f"_{name}", value)

    def _settings(self) -> str:
        explore = (f"epsilon={self.epsilon_setting!r}" if self.temperature_setting is None
                   else f"temperature={self.temperature_setting!r}")
        table = f"array{self._table.values.shape}" if self._table.is_array else f"dict({len(self._table)} states)"
        return f"alpha={self.alpha!r}, {explore}, gamma={self.gamma}, table={table}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._settings()})"


class OneStepControl(_Control):
    """A one-step TD control agent: after each transition, one update of Q(S_t, A_t) toward a target.

    A subclass gives the target (:meth:`target`) and whether it needs A_{t+1} first
    (``chooses_first``, SARSA); this class keeps the order of choosing and learning of the book's
    boxed algorithms, for one run or N runs.
    """

    chooses_first = False  # draw A_{t+1} before the update (SARSA), or after it (Q-learning)

    def target(self, r_t, discount_t, q_t, a_t):
        """The target for Q(S_t, A_t) from R_{t+1}, γ_{t+1}, Q(S_{t+1}, ·) and (for SARSA) A_{t+1}."""
        raise NotImplementedError

    def start(self, obs):
        """Begin an episode in ``obs`` and return A_0 from the behaviour policy."""
        return self._start(obs)

    def step(self, r_t, obs, terminated, truncated=False, restart=None):
        """Learn from (S_{t−1}, A_{t−1}, R_t, S_t = obs); return A_t (or A_0 of the next episode)."""
        if self.n_runs is not None:
            return self._step_runs(r_t, obs, terminated, truncated, restart)
        s_t = self._row(obs, terminated, truncated)
        discount_t = self.gamma * (1.0 - terminated)
        a_t = self._behaviour(s_t) if self.chooses_first else None
        self._update(self._s_tm1, self._a_tm1, self.target(r_t, discount_t, self._table.read(s_t), a_t))
        return self._continue(s_t, a_t, terminated, truncated, restart)

    def _step_runs(self, r_t, s_t, terminated, truncated, restart):
        """:meth:`step` for N runs: the same update, and one batched draw of the next actions.

        Runs whose episode is over begin the next one in ``restart``. SARSA draws A_t before its
        update; where an episode terminated, A_t does not enter the target (γ_t = 0), so the action
        drawn there is already A_0 of the next episode, in its start state with its ε — as if drawn
        after the update, which changes only the row of S_{t−1} (runs that restart in that very
        state draw again after it). Where an episode was truncated, A_t is drawn in S_t with the ε
        of the episode that ended, to bootstrap from, and A_0 after the update.
        """
        table = self._table
        rows_t = table._offsets + s_t  # table.index(s_t) of the N runs
        discount_t = self.gamma * (1.0 - terminated)
        cut = truncated is not False and truncated.any()  # some runs were truncated
        rows_next = rows_t
        if restart is not None:  # some episodes are over
            rows_next = table._offsets + restart
            if self.chooses_first and cut:
                old = self._epsilon if self._temperature is None else self._temperature
                self._episode_begins(terminated | truncated)
                new = self._epsilon if self._temperature is None else self._temperature
                a_t = self._behaviour(np.where(terminated, rows_next, rows_t),
                                      exploration=np.where(terminated, new, old) if isinstance(new, np.ndarray) else None)
            else:
                self._episode_begins(terminated | truncated if cut else terminated)
        if self.chooses_first and not (restart is not None and cut):
            a_t = self._behaviour(rows_next)
        values = table._values
        target = self.target(r_t, discount_t, values.take(rows_t, axis=0), a_t if self.chooses_first else None)
        self._update(self._s_tm1, self._a_tm1, target)
        if not self.chooses_first:
            a_t = self._behaviour(rows_next)
        elif restart is not None:  # draw again where the update changed the start state's row, or A_t was a bootstrap
            again = terminated & (rows_next == self._s_tm1)
            again = np.flatnonzero(again | truncated if cut else again)
            if again.size:
                a_t[again] = self._behaviour(rows_next[again], runs=again)
        self._s_tm1, self._a_tm1 = rows_next, a_t
        return a_t + self._action_start if self._action_start else a_t


class EpisodeLearner(Agent):
    """An agent that learns from whole episodes (Monte Carlo methods, n-step windows, REINFORCE).

    It records (S_t, A_t, R_{t+1}, γ_{t+1}) of each run's episode (:class:`Episodes`); after every
    step it may learn from a window (:meth:`learn_window`, n-step methods), and when an episode
    ends it learns from all of it (:meth:`learn_episode`) — the same code for one run and N runs.
    """

    handles_action_mask = False  # a subclass that chooses only among the actions that exist sets it

    def start(self, obs):
        """Begin an episode in ``obs`` and return A_0."""
        self._episodes = Episodes(self.n_runs)
        return self._start(obs)

    def step(self, r_t, obs, terminated, truncated=False, restart=None):
        """Record R_t and S_t = obs; at the end of an episode learn from all of it; return A_t (or A_0 of the next)."""
        s_t = self._row(obs, terminated, truncated)
        self._episodes.record(self._s_tm1, self._a_tm1, r_t, self.gamma * (1.0 - terminated))
        self.learn_window(s_t)
        ended = terminated | truncated
        if self.retired is not None:
            ended = ended & ~self.retired  # the episodes of retired runs are not learned from
        for run, rows, actions, rewards, discounts in self._episodes.ended(ended):
            self.learn_episode(rows, actions, rewards, discounts, s_t if run is None else s_t[run], run)
        return self._continue(s_t, None, terminated, truncated, restart, obs)

    def learn_window(self, s_t) -> None:
        """Learn after each step from the recorded part of the episodes (nothing by default)."""

    def learn_episode(self, rows, actions, rewards, discounts, last_row, run) -> None:
        """Learn from one ended episode: its rows S_0 … S_{T−1}, actions, rewards R_1 … R_T, discounts,
        the row of S_T (read only when it was truncated) and its run (None for one run)."""
        raise NotImplementedError


class Episodes:
    """The transitions of each run's current episode, (S_t, A_t, R_{t+1}, γ_{t+1}), kept until it ends.

    One run: Python lists. N runs: arrays (N, capacity) that grow by doubling. :meth:`ended`
    hands over each episode that has just ended, as arrays, and forgets it.
    """

    def __init__(self, n_runs: int | None):
        self.n_runs = n_runs
        if n_runs is None:
            self.rows, self.actions, self.rewards, self.discounts = [], [], [], []
        else:
            self.length = np.zeros(n_runs, dtype=np.int64)
            self._arrays = {name: np.zeros((n_runs, 64), dtype=dtype) for name, dtype in
                            (("rows", np.int64), ("actions", np.int64), ("rewards", float), ("discounts", float))}

    def record(self, rows, actions, rewards, discounts) -> None:
        """Append one step to the episode of the run, or of every run."""
        if self.n_runs is None:
            self.rows.append(rows)
            self.actions.append(actions)
            self.rewards.append(rewards)
            self.discounts.append(discounts)
            return
        t = self.length
        if t.max() >= self._arrays["rows"].shape[1]:
            self._arrays = {name: np.concatenate([old, np.zeros_like(old)], axis=1) for name, old in self._arrays.items()}
        runs = np.arange(self.n_runs)
        for name, value in (("rows", rows), ("actions", actions), ("rewards", rewards), ("discounts", discounts)):
            self._arrays[name][runs, t] = value
        self.length = t + 1

    def ended(self, done):
        """(run, rows, actions, rewards, discounts) of each episode that just ended (``done``: a
        bool, or a mask over runs), as arrays; run is None for one run."""
        if self.n_runs is None:
            if done:
                episode = (None, np.array(self.rows), np.array(self.actions, dtype=np.int64),
                           np.array(self.rewards, dtype=float), np.array(self.discounts, dtype=float))
                self.rows, self.actions, self.rewards, self.discounts = [], [], [], []
                yield episode
            return
        for run in np.flatnonzero(done).tolist():
            n = self.length[run]
            yield (run, *(self._arrays[name][run, :n].copy() for name in ("rows", "actions", "rewards", "discounts")))
            self.length[run] = 0

    def window(self, n: int):
        """(runs, rows, rewards (k, n), discounts (k, n)) of the runs whose episode is at least n
        steps long: the first state of their last n steps, and those steps' rewards and discounts."""
        if self.n_runs is None:
            if len(self.rows) < n:
                return None
            return None, self.rows[-n], np.array(self.rewards[-n:]), np.array(self.discounts[-n:])
        runs = np.flatnonzero(self.length >= n)
        if runs.size == 0:
            return None
        tau = self.length[runs] - n
        steps = tau[:, None] + np.arange(n)
        return (runs, self._arrays["rows"][runs, tau], self._arrays["rewards"][runs[:, None], steps],
                self._arrays["discounts"][runs[:, None], steps])

    def last(self, n: int):
        """(runs, rows, actions, rewards, discounts), each (k, n), of the last n steps of the runs whose
        episode is at least n steps long: S_τ … S_{τ+n−1}, A_τ … A_{τ+n−1}, R_{τ+1} … R_{τ+n} and
        γ_{τ+1} … γ_{τ+n} with τ = t − n (runs is None for one run, and the arrays are (n,)); None
        when no episode is that long."""
        if self.n_runs is None:
            if len(self.rows) < n:
                return None
            return (None, np.array(self.rows[-n:]), np.array(self.actions[-n:], dtype=np.int64),
                    np.array(self.rewards[-n:], dtype=float), np.array(self.discounts[-n:], dtype=float))
        runs = np.flatnonzero(self.length >= n)
        if runs.size == 0:
            return None
        steps = (self.length[runs] - n)[:, None] + np.arange(n)
        return (runs, *(self._arrays[name][runs[:, None], steps] for name in ("rows", "actions", "rewards", "discounts")))


# ---------------------------------------------------------------------- helpers
def _of_run(value, run):
    """A per-run setting (a number, or one per run) for one run (None: all of them)."""
    return value if run is None or np.ndim(value) == 0 else value[run]


def spaces_of(env, who: str):
    """(observation_space, action_space, default γ) of an environment or an rlcore.MDP."""
    if isinstance(env, MDP):
        return spaces.Discrete(env.n_states), spaces.Discrete(env.n_actions), env.gamma
    try:
        observation_space, action_space = env.observation_space, env.action_space
    except AttributeError:
        raise TypeError(f"{who} needs a Gymnasium environment (with observation_space and action_space) "
                        f"or an rlcore.MDP; got {type(env).__name__}") from None
    if not isinstance(action_space, spaces.Discrete):
        raise TypeError(f"{who} needs a Discrete action space (a tabular agent picks one of A actions); "
                        f"got {action_space}")
    return observation_space, action_space, None


def action_mask_of(env, n_actions: int):
    """The ``action_mask`` of an :class:`rlcore.MDP` (or of ``env.unwrapped.mdp``): bool (S, A), True
    where the action exists in the state; None when the MDP has none (every action everywhere)."""
    mdp = env if isinstance(env, MDP) else getattr(getattr(env, "unwrapped", env), "mdp", None)
    mask = getattr(mdp, "action_mask", None) if isinstance(mdp, MDP) else None
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.dtype != bool or mask.shape != (mdp.n_states, n_actions):
        raise ValueError(f"action_mask must be a bool array of shape (S, A) = ({mdp.n_states}, {n_actions}); "
                         f"got {mask.dtype} {mask.shape}")
    if not mask.any(axis=1).all():
        raise ValueError(f"action_mask must leave every state at least one action; state "
                         f"{int(np.flatnonzero(~mask.any(axis=1))[0])} has none")
    return mask


def check_gamma(gamma, who: str) -> float:
    """γ as a float; ValueError unless it is a number in [0, 1] (and given, for Gymnasium environments)."""
    if gamma is None:
        raise ValueError(f"{who} needs gamma (the discount γ) for a Gymnasium environment; "
                         "only an rlcore.MDP carries its own γ")
    return _checks.number(gamma, "gamma", 0.0, 1.0, meaning="the discount γ")


__all__ = ["Agent", "OneStepControl", "Episodes", "TIE_ATOL"]
