"""Planning with a learned model: Dyna-Q and Dyna-Q+ (Sutton & Barto, 2nd ed., Sections 8.2–8.3).

Lecture 8. A Dyna agent learns from each real transition twice over: directly (one Q-learning
update) and through a *model* — a table of the last reward and next state seen after each (s, a)
— from which it replays ``planning_steps`` simulated transitions after every real one. Each
agent is written once on :mod:`rlcore.learning.agents` and runs under :func:`rlcore.train` and
:func:`rlcore.train_lockstep`; for N runs every run has its own model, and each planning step is
one batched update of all N runs.

The world of Examples 8.2 and 8.3 changes after a number of time steps; :func:`train_changing`
runs N copies of an agent for a number of time steps on an MDP that is replaced by another at a
given step (:func:`rlcore.mdps.blocking_maze`, :func:`rlcore.mdps.shortcut_maze`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from rlcore import _checks
from rlcore.exact.sampling import TransitionSampler
from rlcore.learning.agents import _Control
from rlcore.learning.td import q_learning_target


class DynaQ(_Control):
    """Tabular Dyna-Q (S&B Section 8.2, the boxed algorithm; Sutton 1990).

    ## Update
    After each real transition (S, A, R, S'):

    (d) direct RL:  Q(S, A) ← Q(S, A) + α [R + γ max_a Q(S', a) − Q(S, A)]
    (e) model:      Model(S, A) ← (R, S')   (with γ(1 − terminated), so a terminal S' ends the backup)
    (f) planning, ``planning_steps`` times: S̃ ← a random state observed before, Ã ← a random
        action taken in S̃ before, (R̃, S̃') ← Model(S̃, Ã), and the same Q-learning update on
        (S̃, Ã, R̃, S̃').

    Then A' is drawn from the behaviour policy (ε-greedy or softmax in Q). The model remembers the
    last outcome of each pair, which is exact in a deterministic world (the book's mazes). With
    ``planning_steps=0`` this is :class:`rlcore.QLearning`, update for update. For N runs each run
    keeps its own model, and starts with an empty one.

    ## Arguments
    - ``planning_steps``: n ≥ 0, simulated updates after each real step (Figure 8.2: 0, 5, 50).
    - ``alpha`` (default 0.1, the book's), ``gamma``, ``epsilon`` or ``temperature``,
      ``initial_value``, ``seed``: as :class:`rlcore.QLearning`.

    ## Raises
    ValueError for negative (or fractional) ``planning_steps``, α ∉ (0, 1], ε ∉ [0, 1], τ ≤ 0,
    γ ∉ [0, 1].
    """

    explores_untried = False  # plan with every action of an observed state (Dyna-Q+), not only those tried

    def __init__(self, env, *, planning_steps: int = 5, alpha=0.1, gamma=None, epsilon=None, temperature=None,
                 initial_value=0.0, seed=None):
        self.planning_steps = _checks.whole(planning_steps, "planning_steps", 0,
                                            meaning="the number of simulated updates after each real step")
        super().__init__(env, gamma=gamma, alpha=alpha, epsilon=epsilon, temperature=temperature,
                         initial_value=initial_value, seed=seed)
        self._new_model()

    # ------------------------------------------------------------------ the model
    def _new_model(self) -> None:
        """An empty model: for one run dicts keyed by table row; for N runs arrays over the N·S rows."""
        self.time = 0  # real time steps so far (the same in every run)
        if self.n_runs is None:
            self._model = {}       # (row, a) -> (R, γ(1 − terminated), row of S')
            self._observed = []    # rows of the states observed, in order
            self._tried = {}       # row -> actions taken there, in order
            self._last_tried = {}  # (row, a) -> time step it was last taken (Dyna-Q+)
            return
        rows, A = self._table._values.shape
        self._next = np.repeat(np.arange(rows), A).reshape(rows, A)  # untried: back to the same state,
        self._reward = np.zeros((rows, A))                           # reward 0 (Dyna-Q+'s initial model)
        self._discount = np.full((rows, A), self.gamma)
        self._known = np.zeros((rows, A), dtype=bool)
        self._tried_actions = np.zeros((rows, A), dtype=np.int64)
        self._n_tried = np.zeros(rows, dtype=np.int64)
        self._observed_rows = np.zeros((self.n_runs, self._table.n), dtype=np.int64)
        self._n_observed = np.zeros(self.n_runs, dtype=np.int64)
        self._is_observed = np.zeros(rows, dtype=bool)
        self._last_time = np.zeros((rows, A))

    def copies(self, n_runs, rng, alpha=None):
        """N copies (see :meth:`rlcore.learning.agents.Agent.copies`), each with its own empty model."""
        runs = super().copies(n_runs, rng, alpha=alpha)
        runs._new_model()
        return runs

    @property
    def model(self) -> dict:
        """The learned model of one run: ``{(state, action): (reward, discount, next_state)}``, with
        states as table rows (discount γ(1 − terminated))."""
        if self.n_runs is not None:
            raise TypeError("model is the model of one run; N runs keep theirs in arrays")
        return dict(self._model)

    # ------------------------------------------------------------------ the protocol
    def start(self, obs):
        """Begin an episode in ``obs`` and return A_0 from the behaviour policy."""
        return self._start(obs)

    def step(self, r_t, obs, terminated, truncated=False, restart=None):
        """Learn from (S_{t−1}, A_{t−1}, R_t, S_t = obs) directly and through the model, plan; return A_t."""
        self.time += 1
        discount_t = self.gamma * (1.0 - terminated)
        s_tm1, a_tm1 = self._s_tm1, self._a_tm1
        if self.n_runs is None:
            s_t = self._table.index(obs) if truncated else self._row(obs, terminated, truncated)
            self._update(s_tm1, a_tm1, q_learning_target(r_t, discount_t, self._table.read(s_t)))
            if s_tm1 not in self._tried:
                self._observed.append(s_tm1)
                self._tried[s_tm1] = []
            if (s_tm1, a_tm1) not in self._model:
                self._tried[s_tm1].append(a_tm1)
            self._model[s_tm1, a_tm1] = (r_t, discount_t, s_t)
            self._last_tried[s_tm1, a_tm1] = self.time
            self._plan_one()
            return self._continue(s_t, None, terminated, truncated, restart)
        s_t = self._table._offsets + obs
        self._update(s_tm1, a_tm1, q_learning_target(r_t, discount_t, self._table._values.take(s_t, axis=0)))
        self._remember(s_tm1, a_tm1, r_t, discount_t, s_t)
        self._plan_runs()
        return self._continue(s_t, None, terminated, truncated, restart)

    def _remember(self, rows, a, r_t, discount_t, s_t) -> None:
        """Model(S, A) ← (R, γ', S') in every run; note new states and newly tried actions."""
        self._next[rows, a] = s_t
        self._reward[rows, a] = r_t
        self._discount[rows, a] = discount_t
        self._last_time[rows, a] = self.time
        new = ~self._known[rows, a]
        if new.any():
            rows_new, a_new = rows[new], a[new]
            self._known[rows_new, a_new] = True
            self._tried_actions[rows_new, self._n_tried[rows_new]] = a_new
            self._n_tried[rows_new] += 1
            first = ~self._is_observed[rows]
            if first.any():
                runs = np.flatnonzero(first)
                self._observed_rows[runs, self._n_observed[runs]] = rows[runs]
                self._n_observed[runs] += 1
                self._is_observed[rows[runs]] = True

    # ------------------------------------------------------------------ planning
    def bonus(self, elapsed):
        """The reward bonus of a simulated transition last tried ``elapsed`` steps ago: 0 for Dyna-Q."""
        return 0.0

    def _plan_one(self) -> None:
        """``planning_steps`` simulated Q-learning updates of one run, from its model."""
        random, observed, model, A = self._random, self._observed, self._model, self.n_actions
        for _ in range(self.planning_steps):
            row = observed[int(random() * len(observed))]
            if self.explores_untried:
                a = int(random() * A)
            else:
                actions = self._tried[row]
                a = actions[int(random() * len(actions))]
            r, discount, s_next = model.get((row, a), (0.0, self.gamma, row))
            if self.explores_untried:
                r = r + self.bonus(self.time - self._last_tried.get((row, a), 0))
            self._update(row, a, q_learning_target(r, discount, self._table.read(s_next)))

    def _plan_runs(self) -> None:
        """``planning_steps`` simulated Q-learning updates in each of the N runs, one batched update per step."""
        values, A = self._table._values, self.n_actions
        first_observed = np.arange(self.n_runs) * self._observed_rows.shape[1]  # flat index of each run's list
        observed, tried, n_tried = self._observed_rows.ravel(), self._tried_actions.ravel(), self._n_tried
        next_row, reward, discount, last_time = (self._next.ravel(), self._reward.ravel(), self._discount.ravel(),
                                                 self._last_time.ravel())  # (N·S·A,) views, entry row·A + a
        for _ in range(self.planning_steps):
            u = self._uniforms(2, self.n_runs)
            rows = observed.take(first_observed + (u[:, 0] * self._n_observed).astype(np.int64))
            if self.explores_untried:
                a = (u[:, 1] * A).astype(np.int64)
            else:
                a = tried.take(rows * A + (u[:, 1] * n_tried.take(rows)).astype(np.int64))
            pair = rows * A + a
            r = reward.take(pair)
            if self.explores_untried:
                r = r + self.bonus(self.time - last_time.take(pair))
            self._update(rows, a, q_learning_target(r, discount.take(pair), values.take(next_row.take(pair), axis=0)))

    def _settings(self) -> str:
        return super()._settings() + f", planning_steps={self.planning_steps}"


class DynaQPlus(DynaQ):
    """Dyna-Q+: Dyna-Q with an exploration bonus for transitions not tried for a long time (S&B Section 8.3).

    ## Update
    As :class:`DynaQ`, except in planning: a simulated transition (S̃, Ã) last taken τ real time
    steps ago gets the reward R̃ + κ√τ, which keeps drawing the agent back to parts of the world
    it has not checked lately — so it finds the shortcut of Example 8.3 and the new path of
    Example 8.2. As in the book's Dyna-Q+ (the footnote to Example 8.3), planning may pick any
    action of an observed state, and an action never tried there is modelled as leading back to
    the same state with reward 0 (τ counted from the first step).

    ## Arguments
    ``kappa``: κ ≥ 0, the weight of the bonus (0: no bonus); the arguments of :class:`DynaQ`.

    ## Raises
    ValueError for κ < 0, and as :class:`DynaQ`.
    """

    explores_untried = True
    handles_action_mask = False  # it plans with every action, including absent ones

    def __init__(self, env, *, kappa: float = 1e-3, planning_steps: int = 5, alpha=0.1, gamma=None, epsilon=None,
                 temperature=None, initial_value=0.0, seed=None):
        self.kappa = _checks.number(kappa, "kappa", 0.0, meaning="the weight κ of the exploration bonus κ√τ")
        super().__init__(env, planning_steps=planning_steps, alpha=alpha, gamma=gamma, epsilon=epsilon,
                         temperature=temperature, initial_value=initial_value, seed=seed)

    def bonus(self, elapsed):
        """κ√τ for a transition last tried τ = ``elapsed`` real time steps ago."""
        return self.kappa * np.sqrt(elapsed)

    def _settings(self) -> str:
        return super()._settings() + f", kappa={self.kappa!r}"


# ---------------------------------------------------------------------- a world that changes
@dataclass(frozen=True, eq=False)
class ChangingWorldHistory:
    """What :func:`train_changing` returns: one entry per run and time step.

    Attributes:
        rewards: the reward of every time step, shape (N, T).
        episode_ends: whether an episode ended (the goal was reached) at that step, shape (N, T).
        tables: each run's final table (Q), shape (N, S, A).
        change_at: the time step at which the world changed.
    """

    rewards: np.ndarray
    episode_ends: np.ndarray
    tables: np.ndarray
    change_at: int

    @property
    def cumulative_reward(self) -> np.ndarray:
        """The cumulative reward after each time step, shape (N, T) (the y-axis of Figures 8.4 and 8.5)."""
        return np.cumsum(self.rewards, axis=1)


def train_changing(agent, before, after, change_at: int, n_steps: int, n_runs: int, *, seed=None,
                   progress: bool = False) -> ChangingWorldHistory:
    """Run N copies of ``agent`` for ``n_steps`` time steps on ``before``, replaced by ``after`` at step ``change_at``.

    The runs step in lockstep, as in :func:`rlcore.train_lockstep`, but for a number of time steps
    rather than episodes (an episode ends at a terminal state and the next begins at a start
    state). Time steps 0 … ``change_at`` − 1 are drawn from ``before``, the rest from ``after``;
    the agent is not told. Examples 8.2 and 8.3: ``train_changing(DynaQPlus(maze), blocking_maze(),
    blocking_maze(changed=True), BLOCKING_MAZE_CHANGES_AT, 3000, 20)``.

    Args:
        agent: a configured agent for ``before`` (a template: it is copied, not changed).
        before, after: two :class:`rlcore.MDP` with the same states and actions.
        change_at: the time step at which ``after`` replaces ``before`` (0 ≤ change_at ≤ n_steps).
        n_steps: T, time steps per run.
        n_runs: N, independent runs.
        seed: seed of the one generator that drives all runs.
        progress: show a tqdm bar over the time steps.

    Returns:
        a :class:`ChangingWorldHistory`.
    """
    n_steps = _checks.whole(n_steps, "n_steps", 1)
    n_runs = _checks.whole(n_runs, "n_runs", 1)
    change_at = _checks.whole(change_at, "change_at", 0, meaning="the time step at which the world changes")
    if change_at > n_steps:
        raise ValueError(f"change_at must be ≤ n_steps = {n_steps}; got {change_at}")
    for name, mdp in (("before", before), ("after", after)):
        if (mdp.n_states, mdp.n_actions) != (agent.observation_space.n, agent.n_actions):
            raise ValueError(f"{name} has {mdp.n_states} states and {mdp.n_actions} actions; the agent was built for "
                             f"{agent.observation_space.n} and {agent.n_actions}")
    rng = np.random.default_rng(seed)
    runs = agent.copies(n_runs, rng)
    worlds = [(TransitionSampler(mdp), mdp.terminal) for mdp in (before, after)]
    rewards = np.zeros((n_runs, n_steps))
    ends = np.zeros((n_runs, n_steps), dtype=bool)
    s = worlds[0][0].starts(n_runs, rng)
    a = runs.start(s)
    for t in tqdm(range(n_steps), desc=f"{type(agent).__name__} × {n_runs}", disable=not progress, leave=False):
        sampler, terminal = worlds[t >= change_at]
        s_t, r_t = sampler.steps(s, a, rng)
        terminated = terminal.take(s_t)
        rewards[:, t], ends[:, t] = r_t, terminated
        if terminated.any():
            s = np.where(terminated, sampler.starts(n_runs, rng), s_t)
            a = runs.step(r_t, s_t, terminated, False, restart=s)
        else:
            s = s_t
            a = runs.step(r_t, s_t, terminated, False)
    return ChangingWorldHistory(rewards, ends, runs.table.copy(), change_at)
