"""The finite Markov decision process (Sutton & Barto, 2nd ed., Section 3.1).

An MDP is the tuple (S, A, P, R, γ): ``P[s, a, s2] = p(s2 | s, a)`` (S&B eq. 3.4) and the
expected reward ``R[s, a] = r(s, a) = Σ_{s2} p(s2 | s, a) r(s, a, s2)`` (S&B eq. 3.5/3.6).
Terminal states are absorbing and have value 0 by definition (S&B Section 3.4): the model
rewrites their rows to "stay here, reward 0", so every backup can treat them uniformly.

P is stored either dense, shape (S, A, S), or sparse, one ``scipy.sparse`` (S, S) matrix per
action. Both forms expose ``P_flat``, the (S·A, S) matrix whose row ``s·A + a`` is
p(· | s, a), so that a one-step backup is a single matrix-vector product in either form.

Lectures 1–2. The layout of P is (S, A, S): state, *then* action, then next state.
pymdptoolbox (and much MATLAB-era code) uses (A, S, S); the two cannot be told apart when
A == S, so read such arrays with :meth:`MDP.from_mdptoolbox` instead of transposing by hand.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from rlcore import _checks

PROBABILITY_ATOL = 1e-8  # how far a row of P may sum from 1 before it is rejected


class MDP:
    """A finite MDP with dense or sparse transitions.

    Args:
        P: transition probabilities, either an array of shape (S, A, S) with
            ``P[s, a, s2] = p(s2 | s, a)``, or a sequence of A ``scipy.sparse`` matrices of
            shape (S, S), ``P[a][s, s2] = p(s2 | s, a)``.
        R: rewards, either expected rewards of shape (S, A), or transition rewards
            ``R[s, a, s2] = r(s, a, s2)`` of shape (S, A, S) (with sparse P: a sequence of A
            sparse (S, S) matrices). The expected reward is derived from transition rewards.
        gamma: discount factor γ in [0, 1].
        terminal: boolean mask of shape (S,) marking absorbing states with value 0.
        initial: start-state distribution μ₀ of shape (S,); default uniform over the
            non-terminal states.
        state_names, action_names: labels used in tables, plots and rendering.
        grid_shape: (rows, cols) when states are the cells of a grid, numbered row-major.

    The layout trap: P is (S, A, S) — ``P[s, a, s2]`` — not pymdptoolbox's (A, S, S). With A ≠ S
    the wrong layout fails the shape check; with A == S it cannot be detected (every row still
    sums to 1), so convert such arrays with :meth:`from_mdptoolbox`.

    Raises:
        ValueError: naming the problem, for wrong shapes, ragged or complex arrays, negative or
            non-finite probabilities, rows of P that do not sum to 1, non-finite rewards, γ
            outside [0, 1] and inconsistent masks or names.
    """

    def __init__(
        self,
        P,
        R,
        gamma: float,
        terminal=None,
        initial=None,
        state_names: Sequence[str] | None = None,
        action_names: Sequence[str] | None = None,
        grid_shape: tuple[int, int] | None = None,
    ):
        self._sparse = _is_sparse_input(P)
        if self._sparse:
            P_actions = _check_sparse_P(P)
            n_states, n_actions = P_actions[0].shape[0], len(P_actions)
        else:
            P_dense = _check_dense_P(P)
            n_states, n_actions = P_dense.shape[0], P_dense.shape[1]
        self._n_states, self._n_actions = n_states, n_actions
        self._gamma = _check_gamma(gamma)
        self._terminal = _check_mask(terminal, n_states)

        if self._sparse:
            self._P_flat = _interleave_actions(P_actions)
            self._transition_R = _sparse_transition_rewards(R, n_states, n_actions)
            R_expected = (
                _check_expected_R(R, n_states, n_actions)
                if self._transition_R is None
                else _expected_from_sparse(self._P_flat, self._transition_R)
            )
        else:
            self._P_flat = P_dense.reshape(n_states * n_actions, n_states)
            R_arr = _checks.real_array(R, "R", finite=False)
            if R_arr.shape == (n_states, n_actions, n_states):
                _check_finite(R_arr, "R")
                self._transition_R = R_arr.reshape(n_states * n_actions, n_states).copy()
                R_expected = np.einsum("sat,sat->sa", P_dense, R_arr)
            else:
                self._transition_R = None
                R_expected = _check_expected_R(R_arr, n_states, n_actions)
        self._R = np.array(R_expected, dtype=float)
        self._make_terminals_absorbing()

        self._initial = _check_initial(initial, self._terminal)
        self._state_names = None if state_names is None else _check_names(state_names, n_states, "state_names", "s")
        self._action_names = None if action_names is None else _check_names(action_names, n_actions, "action_names", "a")
        if grid_shape is not None and int(np.prod(grid_shape)) != n_states:
            raise ValueError(f"grid_shape {tuple(grid_shape)} has {int(np.prod(grid_shape))} cells but the MDP has {n_states} states")
        self.grid_shape = None if grid_shape is None else tuple(int(n) for n in grid_shape)

    # ------------------------------------------------------------------ properties
    @property
    def n_states(self) -> int:
        """S, the number of states."""
        return self._n_states

    @property
    def n_actions(self) -> int:
        """A, the number of actions."""
        return self._n_actions

    @property
    def gamma(self) -> float:
        """γ, the discount factor."""
        return self._gamma

    @property
    def state_names(self) -> tuple[str, ...]:
        """Labels of the states (default "s0", "s1", …, made on first use)."""
        if self._state_names is None:
            self._state_names = _check_names(None, self._n_states, "state_names", "s")
        return self._state_names

    @property
    def action_names(self) -> tuple[str, ...]:
        """Labels of the actions (default "a0", "a1", …)."""
        if self._action_names is None:
            self._action_names = _check_names(None, self._n_actions, "action_names", "a")
        return self._action_names

    @property
    def is_sparse(self) -> bool:
        """True when P is stored as sparse matrices."""
        return self._sparse

    @property
    def P(self):
        """p(s2 | s, a): an array (S, A, S), or a tuple of A sparse (S, S) matrices when sparse."""
        if self._sparse:
            A = self._n_actions
            return tuple(self._P_flat[a::A].tocsr() for a in range(A))
        return self._P_flat.reshape(self._n_states, self._n_actions, self._n_states)

    @property
    def P_flat(self):
        """p(s2 | s, a) as an (S·A, S) matrix, row ``s·A + a``; dense array or sparse CSR."""
        return self._P_flat

    @property
    def R(self) -> np.ndarray:
        """r(s, a) = E[R_{t+1} | S_t = s, A_t = a], the expected reward, shape (S, A)."""
        return self._R

    @property
    def terminal(self) -> np.ndarray:
        """Boolean mask (S,) of absorbing states whose value is 0 by definition."""
        return self._terminal

    @property
    def initial(self) -> np.ndarray:
        """μ₀, the start-state distribution, shape (S,)."""
        return self._initial

    def transition_rewards(self, s: int, a: int):
        """r(s, a, s2) for every s2, shape (S,), or None when only expected rewards were given."""
        if self._transition_R is None:
            return None
        row = self._transition_R[s * self._n_actions + a]
        return row.toarray().ravel() if sp.issparse(row) else np.asarray(row)

    def __repr__(self) -> str:
        form = "sparse" if self._sparse else "dense"
        return (
            f"MDP(n_states={self.n_states}, n_actions={self.n_actions}, gamma={self.gamma}, "
            f"terminal={int(self.terminal.sum())}, {form})"
        )

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_gymnasium(cls, env, gamma: float = 1.0, **kwargs) -> MDP:
        """Build the MDP of a Gymnasium toy-text environment from its transition table.

        Reads ``env.unwrapped.P[s][a] = [(prob, next_state, reward, terminated), ...]`` (FrozenLake,
        CliffWalking, Taxi). A next state reached with ``terminated=True`` becomes a terminal
        state; CliffWalking's cliff sends the agent back to the start without terminating, so it
        stays an ordinary transition. Several entries with the same next state are merged:
        their probabilities add and ``r(s, a, s2)`` is their probability-weighted mean reward.
        The start distribution is the environment's ``initial_state_distrib`` when it has one.

        Only transitions that can happen in an episode are checked for consistency: Taxi's table
        also lists moves out of states that exist only as the end of an episode (the passenger
        already delivered), which no episode ever takes.

        Raises:
            ValueError: if the environment has no transition table, if its dynamics are not all in
                the table (Taxi with ``fickle_passenger=True`` changes the destination outside it),
                or if a state is reached both with and without ``terminated`` in episodes
                (termination would then not be a property of the state, so it cannot be an MDP
                terminal state).
        """
        base = env.unwrapped
        table = getattr(base, "P", None)
        if not isinstance(table, dict):
            raise ValueError(f"{type(base).__name__} has no toy-text transition table env.unwrapped.P")
        if getattr(base, "fickle_passenger", False):
            raise ValueError(f"{type(base).__name__} with fickle_passenger=True changes the passenger's destination "
                             "outside its transition table P: its dynamics are not an MDP on P's states")
        S, A = int(base.observation_space.n), int(base.action_space.n)
        P = np.zeros((S, A, S))
        weighted_reward = np.zeros((S, A, S))
        continuing = np.zeros((S, S), dtype=bool)  # s -> s2 possible without termination
        terminating = np.zeros((S, S), dtype=bool)  # s -> s2 possible with termination
        for s in range(S):
            for a in range(A):
                for prob, s2, reward, terminated in table[s][a]:
                    P[s, a, s2] += prob
                    weighted_reward[s, a, s2] += prob * reward
                    if prob > 0:
                        (terminating if terminated else continuing)[s, s2] = True
        initial = getattr(base, "initial_state_distrib", None)
        starts = np.ones(S, dtype=bool) if initial is None else np.asarray(initial) > 0
        in_episodes = _reachable(continuing, starts)
        terminal = terminating.any(axis=0)
        both = np.flatnonzero(terminating[in_episodes].any(axis=0) & continuing[in_episodes].any(axis=0))
        if both.size:
            raise ValueError(
                f"states {both.tolist()} are reached both with and without terminated=True; "
                "termination must be a property of the next state"
            )
        R = np.divide(weighted_reward, P, out=np.zeros_like(P), where=P > 0)
        grid = kwargs.pop("grid_shape", None)
        if grid is None:  # FrozenLake's map `desc` or CliffWalking's `shape`, when cells are states
            candidates = [np.shape(getattr(base, "desc", ())), tuple(getattr(base, "shape", ()))]
            grid = next((c for c in candidates if len(c) == 2 and c[0] * c[1] == S), None)
        return cls(P, R, gamma, terminal=terminal, initial=initial, grid_shape=grid, **kwargs)

    @classmethod
    def from_mdptoolbox(cls, P, R, gamma: float, **kwargs) -> MDP:
        """Build an MDP from pymdptoolbox's layout: P of shape (A, S, S) (or a list of A sparse (S, S)
        matrices), R of shape (S, A), (S,) (a reward per state, the same for every action) or
        (A, S, S) (transition rewards, dense or a list of A sparse matrices).

        pymdptoolbox's models have no terminal states and start anywhere; ``**kwargs`` (``terminal``,
        ``initial``, names) are passed on to :class:`MDP`.
        """
        if _is_sparse_input(P):
            P_actions = list(P)  # already one (S, S) matrix per action: rlcore's sparse input
        else:
            P_dense = _checks.real_array(P, "P")
            if P_dense.ndim != 3 or P_dense.shape[1] != P_dense.shape[2]:
                raise ValueError(f"pymdptoolbox's P must have shape (A, S, S); got shape {P_dense.shape}")
            P_actions = None
        if _is_sparse_input(R):
            R_rlcore = list(R)
        else:
            R_arr = _checks.real_array(R, "R")
            A = len(P_actions) if P_actions is not None else P_dense.shape[0]
            S = P_actions[0].shape[0] if P_actions is not None else P_dense.shape[1]
            if R_arr.shape == (S,):
                R_rlcore = np.repeat(R_arr[:, None], A, axis=1)
            elif R_arr.shape == (S, A):
                R_rlcore = R_arr
            elif R_arr.shape == (A, S, S):
                R_rlcore = R_arr.transpose(1, 0, 2) if P_actions is None else [sp.csr_matrix(m) for m in R_arr]
            else:
                raise ValueError(f"pymdptoolbox's R must have shape (S,), (S, A) or (A, S, S) = ({S},), ({S}, {A}) or "
                                 f"({A}, {S}, {S}); got shape {R_arr.shape}")
        if P_actions is None:
            return cls(P_dense.transpose(1, 0, 2), R_rlcore, gamma, **kwargs)
        return cls(P_actions, R_rlcore, gamma, **kwargs)

    def to_env(self, render_mode: str | None = None, max_episode_steps: int | None = None):
        """A Gymnasium environment that samples from this MDP (see :class:`rlcore.MDPEnv`).

        With ``max_episode_steps`` the environment is wrapped in ``TimeLimit``, which reports
        truncation (not termination) when the limit is reached.
        """
        from rlcore.exact.sampling import MDPEnv

        env = MDPEnv(self, render_mode=render_mode)
        if max_episode_steps is not None:
            from gymnasium.wrappers import TimeLimit

            env = TimeLimit(env, max_episode_steps=max_episode_steps)
        return env

    # ------------------------------------------------------------------ internals
    def _make_terminals_absorbing(self) -> None:
        """Rewrite terminal rows to 'stay, reward 0' so that v(terminal) = 0 is a fixed point."""
        terminal = np.flatnonzero(self._terminal)
        if terminal.size == 0:
            return
        S, A = self._n_states, self._n_actions
        rows = (terminal[:, None] * A + np.arange(A)).ravel()
        cols = np.repeat(terminal, A)
        self._R[terminal] = 0.0
        if self._sparse:
            keep = np.ones(S * A)
            keep[rows] = 0.0
            absorbing = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(S * A, S))
            self._P_flat = (sp.diags(keep) @ self._P_flat + absorbing).tocsr()
            if self._transition_R is not None:
                self._transition_R = (sp.diags(keep) @ self._transition_R).tocsr()
        else:
            self._P_flat = self._P_flat.copy()
            self._P_flat[rows] = 0.0
            self._P_flat[rows, cols] = 1.0
            if self._transition_R is not None:
                self._transition_R[rows] = 0.0


def _reachable(edges: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """States reachable from ``starts`` (bool (S,)) along ``edges`` (bool (S, S), s -> s2)."""
    reached = starts.copy()
    frontier = starts.copy()
    while frontier.any():
        frontier = edges[frontier].any(axis=0) & ~reached
        reached |= frontier
    return reached


# ---------------------------------------------------------------------- validation helpers
def _is_sparse_input(P) -> bool:
    return isinstance(P, (list, tuple)) and len(P) > 0 and all(sp.issparse(m) for m in P)


def _check_dense_P(P) -> np.ndarray:
    if isinstance(P, (list, tuple)) and any(sp.issparse(m) for m in P):
        raise ValueError("P mixes sparse and dense matrices; give one scipy.sparse (S, S) matrix per action")
    if sp.issparse(P):
        raise ValueError("a sparse P must be a sequence of A sparse (S, S) matrices, one per action; got one "
                         f"sparse matrix of shape {P.shape}")
    P = _checks.real_array(P, "P", finite=False)
    if P.ndim != 3 or P.shape[0] != P.shape[2]:
        raise ValueError(f"P must have shape (S, A, S) with P[s, a, s2] = p(s2 | s, a); got shape {P.shape}")
    if P.shape[0] == 0 or P.shape[1] == 0:
        raise ValueError(f"P must have at least one state and one action; got shape {P.shape}")
    _check_finite(P, "P")
    if P.min() < 0:  # one pass, no index array unless something is wrong
        s, a, s2 = np.argwhere(P < 0)[0]
        raise ValueError(f"P[{s}, {a}, {s2}] = {P[s, a, s2]:g} is a negative probability")
    _check_rows_sum_to_one(P.sum(axis=2))
    return P


def _check_sparse_P(P) -> list:
    for a, m in enumerate(P):
        if m.dtype.kind == "c":
            raise ValueError(f"sparse P[{a}] must hold real numbers; got complex entries (dtype {m.dtype})")
    P = [sp.csr_matrix(m, dtype=float) for m in P]
    S = P[0].shape[0]
    if S == 0:
        raise ValueError(f"P must have at least one state and one action; got sparse P[0] of shape {P[0].shape}")
    for a, m in enumerate(P):
        if m.shape != (S, S):
            raise ValueError(f"sparse P[{a}] must have shape (S, S) = ({S}, {S}); got {m.shape}")
        if not np.all(np.isfinite(m.data)):
            raise ValueError(f"sparse P[{a}] contains NaN or inf")
        if np.any(m.data < 0):
            coo = m.tocoo()
            i = int(np.flatnonzero(coo.data < 0)[0])
            raise ValueError(
                f"P[{a}][{coo.row[i]}, {coo.col[i]}] = {coo.data[i]:g} is a negative probability"
            )
    row_sums = np.stack([np.asarray(m.sum(axis=1)).ravel() for m in P], axis=1)  # (S, A)
    _check_rows_sum_to_one(row_sums)
    return P


def _check_rows_sum_to_one(row_sums: np.ndarray) -> None:
    """row_sums: (S, A) array of Σ_{s2} p(s2 | s, a)."""
    bad = np.argwhere(np.abs(row_sums - 1.0) > PROBABILITY_ATOL)
    if bad.size:
        s, a = bad[0]
        raise ValueError(
            f"transition probabilities P[s={s}, a={a}, :] sum to {row_sums[s, a]:.10g}, not 1 "
            f"({len(bad)} (state, action) rows are off)"
        )


def _check_finite(x: np.ndarray, name: str) -> None:
    if np.isfinite(x.sum()):  # NaN and inf propagate into the sum; an overflowing sum is checked below
        return
    bad = np.argwhere(~np.isfinite(x))
    if bad.size:
        index = tuple(int(i) for i in bad[0])
        raise ValueError(f"{name}{list(index)} = {x[index]} is not finite (NaN or inf)")


def _check_expected_R(R, S: int, A: int) -> np.ndarray:
    if isinstance(R, (list, tuple)) and any(sp.issparse(m) for m in R):
        raise ValueError("R mixes sparse and dense matrices")
    R = _checks.real_array(R, "R", finite=False)
    if R.shape != (S, A):
        raise ValueError(
            f"R must have shape (S, A) = ({S}, {A}) (expected reward) or (S, A, S) = ({S}, {A}, {S}) "
            f"(transition reward); got shape {R.shape}"
        )
    _check_finite(R, "R")
    return R


def _sparse_transition_rewards(R, S: int, A: int):
    """Transition rewards given as A sparse (S, S) matrices -> (S·A, S) CSR, else None."""
    if not _is_sparse_input(R):
        return None
    if len(R) != A:
        raise ValueError(f"R has {len(R)} sparse matrices; expected one per action ({A})")
    for a, m in enumerate(R):
        if m.dtype.kind == "c":
            raise ValueError(f"sparse R[{a}] must hold real numbers; got complex entries (dtype {m.dtype})")
    R = [sp.csr_matrix(m, dtype=float) for m in R]
    for a, m in enumerate(R):
        if m.shape != (S, S):
            raise ValueError(f"sparse R[{a}] must have shape ({S}, {S}); got {m.shape}")
        if not np.all(np.isfinite(m.data)):
            raise ValueError(f"sparse R[{a}] contains NaN or inf")
    return _interleave_actions(R)


def _expected_from_sparse(P_flat, R_flat) -> np.ndarray:
    """r(s, a) = Σ_{s2} p(s2|s,a) r(s,a,s2) from (S·A, S) sparse P and R."""
    S = P_flat.shape[1]
    return np.asarray(P_flat.multiply(R_flat).sum(axis=1)).reshape(S, -1)


def _interleave_actions(per_action: list):
    """A sparse (S, S) matrices -> one (S·A, S) CSR matrix with row s·A + a."""
    A = len(per_action)
    S = per_action[0].shape[0]
    stacked = sp.vstack(per_action, format="csr")  # row a·S + s
    order = (np.arange(A)[None, :] * S + np.arange(S)[:, None]).ravel()  # row s·A + a <- a·S + s
    return stacked[order]


def _check_gamma(gamma) -> float:
    return _checks.number(gamma, "gamma", 0.0, 1.0, meaning="the discount γ")


def _check_mask(terminal, S: int) -> np.ndarray:
    if terminal is None:
        return np.zeros(S, dtype=bool)
    mask = np.asarray(terminal)
    if mask.shape != (S,):
        raise ValueError(f"terminal must be a boolean mask of shape ({S},); got shape {mask.shape}")
    if mask.dtype != bool:
        if not np.all(np.isin(mask, (0, 1))):
            raise ValueError("terminal must be a boolean mask (True for terminal states)")
        mask = mask.astype(bool)
    return mask.copy()


def _check_initial(initial, terminal: np.ndarray) -> np.ndarray:
    S = terminal.size
    if initial is None:
        if terminal.all():
            raise ValueError("every state is terminal; there is nowhere to start")
        mu = (~terminal).astype(float)
        return mu / mu.sum()
    mu = _checks.real_array(initial, "initial", finite=False)
    if mu.shape != (S,):
        raise ValueError(f"initial must have shape ({S},); got {mu.shape}")
    _check_finite(mu, "initial")
    if np.any(mu < 0) or abs(mu.sum() - 1.0) > PROBABILITY_ATOL:
        raise ValueError(f"initial must be a probability vector (non-negative, sums to 1); sums to {mu.sum():g}")
    return mu


def _check_names(names, n: int, what: str, prefix: str) -> tuple[str, ...]:
    if names is None:
        return tuple(f"{prefix}{i}" for i in range(n))
    names = tuple(str(x) for x in names)
    if len(names) != n:
        raise ValueError(f"{what} has {len(names)} entries; expected {n}")
    return names
