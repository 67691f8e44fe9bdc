"""Exact answers on token generation: the prefix tree of a TokenEnv, solved by backward induction or as an rlcore MDP.

With a small action set A and horizon H the tree has Σ_{t=0}^{H} A^t prefixes (37,449 for
A = 8, H = 5), so V*, Q*, the value of the reference model itself and the KL-regularised optimum
can all be computed exactly, and any tabular agent's table evaluated.

The representation. A tree has one successor per (state, action), and the leaves (most of the
states: A^H of them) have no actions at all. So the tree is kept as arrays:

- per state (S): ``parent``, ``token`` (the last generated token), ``depth``, ``terminal``;
- per non-terminal ("live") state (N ≈ S / A) and action: ``live_children`` (N, A), the reference
  policy ``live_reference`` (N, A) and the task rewards ``live_task_rewards`` (N, A).

That is about 17 bytes per state plus 20·A bytes per live state; a prefix, a state's text and
the dense (S, A) tables are made only when asked for. The solvers (:meth:`TokenMDP.optimum`,
:meth:`TokenMDP.kl_regularised_optimum`, :meth:`TokenMDP.policy_value`,
:meth:`TokenMDP.kl_regularised_value`) run backward induction over the tree's levels — exact and
O(S·A) — and return rlcore's ``Solution``, whose dense Q and policy (S, A) float64 (16 bytes per
state and action) are then the largest arrays. ``tree.mdp`` and ``tree.task_mdp`` (rlcore MDPs,
for every other rlcore tool) are built on first use; they cost ≈ 24 bytes per (state, action)
each to keep and about three times that while being built.

Memory. Before building, :func:`to_mdp` estimates what the tree and one exact solution will need
(:func:`estimate_tree`) and refuses, with the estimate, when it exceeds ``max_memory`` or the
memory available (``/proc/meminfo``, capped by a cgroup limit).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp
import torch

import rlcore
from rlcore import _checks
from rlcore.exact.policies import TIE_ATOL, max_over_actions
from lmenv.rewards import Transitions, call_reward

REWARD_CHUNK = 1 << 16  # transitions per call of the reward while enumerating a level (bounds its memory)


class TreeTooLarge(MemoryError, ValueError):
    """The prefix tree (or an rlcore MDP of it) would not fit in the memory allowed; the message gives the estimate."""


# ---------------------------------------------------------------------- memory
def available_memory() -> int | None:
    """Bytes this process can still allocate: MemAvailable, capped by a cgroup limit; None if unknown."""
    found = []
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)
                    break
    except OSError:
        pass
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            with open(limit_file) as f:
                limit = f.read().strip()
            with open(usage_file) as f:
                usage = int(f.read().strip())
        except (OSError, ValueError):
            continue
        if limit.isdigit() and int(limit) < 1 << 60:  # "max" or a huge number: no limit
            found.append(max(int(limit) - usage, 0))
        break
    if not found:
        try:
            import psutil

            found.append(int(psutil.virtual_memory().available))
        except ImportError:
            return None
    return min(found)


def _gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"


def _check_bytes(max_memory, name: str = "max_memory") -> int | None:
    if max_memory is None:
        return None
    if isinstance(max_memory, bool) or not isinstance(max_memory, (int, float, np.integer, np.floating)) \
            or not np.isfinite(max_memory) or max_memory <= 0:
        raise ValueError(f"{name} must be a positive number of bytes (e.g. 4 * 2**30) or None; got {max_memory!r}")
    return int(max_memory)


@dataclass(frozen=True)
class TreeEstimate:
    """What :func:`to_mdp` expects a prefix tree to need, before building it (bytes are upper bounds).

    Attributes:
        states: S, the number of prefixes (exact unless ``top_k`` and a stop token are both set).
        live_states: N, the non-terminal prefixes (those with actions).
        actions: A, actions per state.
        tree_bytes: the tree's arrays and the working memory of one level's enumeration.
        cache_bytes: the reference's prefix cache for the live states (0 with ``fill_cache=False``).
        solution_bytes: one exact solution (V, and Q and the policy as dense (S, A) float64 arrays).
        mdp_bytes: one rlcore MDP of the tree (``tree.mdp``), built on first use; not in ``total``.
    """

    states: int
    live_states: int
    actions: int
    tree_bytes: int
    cache_bytes: int
    solution_bytes: int
    mdp_bytes: int

    @property
    def total(self) -> int:
        """Bytes of the tree, its prefix cache and one exact solution."""
        return self.tree_bytes + self.cache_bytes + self.solution_bytes

    def __str__(self) -> str:
        return (f"{self.states:,} states × {self.actions} actions ({self.live_states:,} non-terminal): about "
                f"{_gib(self.total)} (tree {_gib(self.tree_bytes)}, prefix cache {_gib(self.cache_bytes)}, "
                f"one exact solution {_gib(self.solution_bytes)}); an rlcore MDP of it would add "
                f"{_gib(self.mdp_bytes)}")


def estimate_tree(env, fill_cache: bool = True, batch_size: int | None = None) -> TreeEstimate:
    """The size of ``env``'s prefix tree and the memory :func:`to_mdp` and one solve need, without building it.

    Level by level: the root is live; a live prefix at depth t < H has A children, which are live
    unless they end with the stop token or reach the horizon H. With ``top_k`` the stop token may
    fall outside the k allowed tokens, so the count is then an upper bound.
    """
    env = env.unwrapped
    reference = env.reference
    A = reference.top_k if reference.top_k is not None else reference.n_actions
    H = env.max_new_tokens
    stop_among_actions = env.stop_id is not None and reference.top_k is None
    states, live, level_live, largest_level = 1, 0, 1, 1
    for t in range(H):
        live += level_live
        children = level_live * A
        states += children
        largest_level = max(largest_level, children)
        level_live = 0 if t + 1 == H else level_live * (A - 1 if stop_among_actions else A)
    vocab = reference.model.config.vocab_size
    batch = batch_size or _default_batch_size(reference.device)
    per_state = 4 + 4 + 4 + 1 + 4  # parent, token, depth (int32), terminal (bool), live row (int32)
    per_live = 8 + A * (4 + 8 + 8 + (4 if reference.top_k is not None else 0))  # children, π_ref, rewards (+ tokens)
    working = (largest_level * (8 + 8 + 8 + 1)  # one level's edge lists: parents, tokens, rewards, flags
               + min(largest_level, REWARD_CHUNK) * 400  # the reward's decoded texts, one chunk at a time
               + batch * vocab * 8 * 3 + (64 << 20))  # a batch of logits on the host, and slack
    tree_bytes = states * per_state + live * per_live + working
    cache_bytes = live * (8 * A + 112 + 64 + 8 * H + 100) if fill_cache else 0  # array, tuple, dict slot
    solution_bytes = states * (8 + 2 * 8 * A) + live * A * 8 * 3  # V; Q, policy (S, A); the live rows' work
    mdp_bytes = states * A * (24 + 8)  # P_flat (data, indices, indptr) and R, kept
    return TreeEstimate(states, live, A, tree_bytes, cache_bytes, solution_bytes, mdp_bytes)


def _default_batch_size(device) -> int:
    """Sequences per forward pass while enumerating: larger on an accelerator, which is idle at small batches."""
    return 2048 if torch.device(device).type == "cpu" else 16384


# ---------------------------------------------------------------------- the tree
class TreePrefixes(Sequence):
    """``tree.prefixes``: the generated token ids of every state, made on access from the parent links.

    ``prefixes[s]`` is a tuple of ints (``()`` for the root); slicing gives a list; iteration walks
    the states in order. Nothing is stored per state beyond the tree's own arrays.
    """

    def __init__(self, tree: TokenMDP):
        self._tree = tree

    def __len__(self) -> int:
        return self._tree.n_states

    def __getitem__(self, s):
        if isinstance(s, slice):
            return [self[i] for i in range(*s.indices(len(self)))]
        s = int(s)
        if s < 0:
            s += len(self)
        if not 0 <= s < len(self):
            raise IndexError(f"state {s} is not in the tree of {len(self):,} states")
        parent, token = self._tree.parent, self._tree.token
        tokens = []
        while s > 0:
            tokens.append(int(token[s]))
            s = int(parent[s])
        return tuple(reversed(tokens))

    def __iter__(self):
        made = {0: ()}  # the prefixes of the previous level, by state
        for depth in range(int(self._tree.depth.max()) + 1):
            states = np.flatnonzero(self._tree.depth == depth)
            level = {}
            for s in states.tolist():
                prefix = () if s == 0 else made[int(self._tree.parent[s])] + (int(self._tree.token[s]),)
                level[s] = prefix
                yield prefix
            made = level

    def __repr__(self) -> str:
        return f"TreePrefixes({len(self):,} states)"


class TreeIndex(Mapping):
    """``tree.index``: prefix (tuple of token ids) → state, found by walking down from the root."""

    def __init__(self, tree: TokenMDP):
        self._tree = tree

    def __getitem__(self, prefix) -> int:
        s = self._tree._state_of_prefix(prefix)
        if s is None:
            raise KeyError(prefix)
        return s

    def __contains__(self, prefix) -> bool:
        try:
            return self._tree._state_of_prefix(prefix) is not None
        except TypeError:
            return False

    def __iter__(self):
        return iter(self._tree.prefixes)

    def __len__(self) -> int:
        return self._tree.n_states

    def __repr__(self) -> str:
        return f"TreeIndex({len(self):,} states)"


class TokenMDP:
    """The enumerated prefix tree of a :class:`lmenv.TokenEnv`.

    State i is the generated prefix ``prefixes[i]`` (state 0 the root, then level by level),
    γ = 1, leaves terminal (prefixes of ``max_new_tokens`` tokens, or ending with the stop token).
    MDP action a in state s is the token ``env_actions[s, a]``.

    The tree's own arrays (always present):
        parent: the parent state of each state (−1 at the root), (S,) int32.
        token: the last generated token of each state (−1 at the root), (S,) int32.
        depth: number of generated tokens of each state, (S,) int32.
        terminal: whether each state is a leaf, (S,) bool.
        live_states: the non-terminal states in increasing order, (N,).
        live_children: the successor of (live_states[i], a), (N, A) int32.
        live_reference: π_ref(a|s) at the live states, (N, A) float64.
        live_task_rewards: r(s, a) of the task at the live states, (N, A) float64.
        kl_coef: the environment's β.
        pad: the observation's padding id.
        observation_of: prefix -> environment observation.

    Made on first use and then kept (they cost memory proportional to S·A or to S):
        mdp: the environment's MDP as an rlcore ``MDP`` (sparse): rewards exactly as the
            environment pays them (so including kl_coef·log π_ref when kl_coef > 0); ≈ 24 bytes
            per (state, action), and about three times that while it is built.
        task_mdp: the same tree with the task reward alone (no KL term); ``mdp`` itself when β = 0.
        reference: π_ref(a|s) over the MDP's actions, (S, A) float64 (uniform at terminal states).
        env_actions: the environment action that MDP action a is in state s, (S, A). The identity
            for a fixed action set or the whole vocabulary; with top_k, MDP action a is the
            (a+1)-th most likely token.
        prefixes: generated token ids of each state (a sequence that makes each tuple on access).
        index: prefix -> state (a mapping that walks the tree on access).

    The solvers work on the arrays (backward induction over the levels, exact, O(S·A)) and return
    ``rlcore.Solution`` with dense (S, A) ``Q`` and ``policy``: :meth:`optimum`,
    :meth:`kl_regularised_optimum`, :meth:`policy_value`, :meth:`kl_regularised_value`.
    """

    def __init__(self, *, parent, token, depth, terminal, live_children, live_reference, live_task_rewards,
                 live_env_actions, kl_coef, pad, observation_of, tokenizer, action_names, action_positions,
                 max_memory=None):
        self.parent, self.token, self.depth, self.terminal = parent, token, depth, terminal
        self.live_states = np.flatnonzero(~terminal)
        self.live_children = live_children
        self.live_reference = live_reference
        self.live_task_rewards = live_task_rewards
        self._live_env_actions = live_env_actions  # (N, A) ranked tokens with top_k, else None (the identity)
        self.kl_coef = float(kl_coef)
        self.pad = pad
        self.observation_of = observation_of
        self._tokenizer = tokenizer
        self._action_names = action_names
        self._action_positions = action_positions  # token -> MDP action (a fixed action set), or None
        self.max_memory = max_memory
        self._live_row = np.full(len(parent), -1, dtype=np.int32)
        self._live_row[self.live_states] = np.arange(self.live_states.size, dtype=np.int32)
        # the live states of each depth are consecutive rows (states are numbered level by level)
        live_depth = depth[self.live_states]
        self._levels = [(int(d), int(np.searchsorted(live_depth, d)), int(np.searchsorted(live_depth, d, "right")))
                        for d in np.unique(live_depth)]

    # ------------------------------------------------------------------ sizes and lookups
    @property
    def n_states(self) -> int:
        return int(self.parent.size)

    @property
    def n_actions(self) -> int:
        return int(self.live_children.shape[1])

    @cached_property
    def prefixes(self) -> TreePrefixes:
        return TreePrefixes(self)

    @cached_property
    def index(self) -> TreeIndex:
        return TreeIndex(self)

    def state_name(self, s: int) -> str:
        """The generated text of state ``s`` (decoded on demand)."""
        return self._tokenizer.decode(self.prefixes[s])

    def child(self, s: int, a: int) -> int:
        """The state that MDP action ``a`` leads to from the non-terminal state ``s``."""
        row = int(self._live_row[s])
        if row < 0:
            raise ValueError(f"state {s} is terminal: no action follows")
        return int(self.live_children[row, a])

    def state_of(self, obs) -> int:
        """The state index of an environment observation (token ids padded with ``pad``).

        Raises:
            KeyError: if the prefix is not in the tree (with top_k, a masked action leaves it).
        """
        prefix = tuple(int(t) for t in np.asarray(obs) if t != self.pad)
        s = self._state_of_prefix(prefix)
        if s is None:
            raise KeyError(f"prefix {prefix} is not a state of the tree: it holds the prefixes that π_ref can "
                           f"generate (with top_k, a masked action, π_ref(a|s) = 0, leaves it)")
        return s

    def _state_of_prefix(self, prefix) -> int | None:
        s = 0
        for t in prefix:
            row = int(self._live_row[s])
            if row < 0:
                return None
            t = int(t)
            if self._live_env_actions is not None:  # top_k: the rank of the token there
                ranks = np.flatnonzero(self._live_env_actions[row] == t)
                a = int(ranks[0]) if ranks.size else None
            elif self._action_positions is not None:  # a fixed action set
                a = self._action_positions.get(t)
            else:  # the whole vocabulary
                a = t if 0 <= t < self.n_actions else None
            if a is None:
                return None
            s = int(self.live_children[row, a])
        return s

    # ------------------------------------------------------------------ dense tables, made on first use
    @cached_property
    def reference(self) -> np.ndarray:
        S, A = self.n_states, self.n_actions
        reference = np.full((S, A), 1.0 / A)
        reference[self.live_states] = self.live_reference
        return reference

    @cached_property
    def env_actions(self) -> np.ndarray:
        S, A = self.n_states, self.n_actions
        env_actions = np.tile(np.arange(A), (S, 1))
        if self._live_env_actions is not None:
            env_actions[self.live_states] = self._live_env_actions
        return env_actions

    def live_rewards(self, env_rewards: bool = True) -> np.ndarray:
        """r(s, a) at the live states, (N, A): as the environment pays it (with β log π_ref), or the task's alone."""
        if not env_rewards or self.kl_coef == 0:
            return self.live_task_rewards
        with np.errstate(divide="ignore"):
            return self.live_task_rewards + self.kl_coef * np.log(self.live_reference)

    @cached_property
    def task_mdp(self) -> rlcore.MDP:
        return self._rlcore_mdp(env_rewards=False)

    @cached_property
    def mdp(self) -> rlcore.MDP:
        return self.task_mdp if self.kl_coef == 0 else self._rlcore_mdp(env_rewards=True)

    def _rlcore_mdp(self, env_rewards: bool) -> rlcore.MDP:
        """The tree as a sparse rlcore MDP: one successor per (s, a); terminal rows loop on themselves."""
        S, A = self.n_states, self.n_actions
        need = S * A * (24 + 8) * 3  # P and R kept, and the copies rlcore's checks make while building
        limit = self.max_memory if self.max_memory is not None else available_memory()
        if limit is not None and need > limit:
            raise TreeTooLarge(f"an rlcore MDP of this tree ({S:,} states × {A} actions) needs about {_gib(need)} "
                               f"to build; {_gib(limit)} {'allowed' if self.max_memory else 'available'}. The tree's "
                               "own solvers need no MDP: tree.optimum(), tree.kl_regularised_optimum(kl_coef), "
                               "tree.policy_value(policy), tree.kl_regularised_value(policy, kl_coef)")
        successor = np.repeat(np.arange(S, dtype=np.int32)[:, None], A, axis=1)  # terminal rows: self-loops
        successor[self.live_states] = self.live_children
        rows = np.arange(S + 1, dtype=np.int32 if S < 2**31 else np.int64)
        ones = np.ones(S)
        P = [sp.csr_matrix((ones, successor[:, a], rows), shape=(S, S)) for a in range(A)]
        del successor
        R = np.zeros((S, A))
        R[self.live_states] = self.live_rewards(env_rewards)
        initial = np.zeros(S)
        initial[0] = 1.0
        names = tuple(self._tokenizer.decode(p) for p in self.prefixes)
        return rlcore.MDP(P, R, 1.0, terminal=self.terminal, initial=initial, state_names=names,
                          action_names=self._action_names)

    # ------------------------------------------------------------------ solvers: backward induction
    def _backward(self, live_rewards: np.ndarray, backup) -> tuple[np.ndarray, np.ndarray]:
        """V (S,) and Q at the live states (N, A), deepest level first: Q(s, a) = r(s, a) + V(child), V(s) = backup(Q rows)."""
        V = np.zeros(self.n_states)
        Q_live = np.empty_like(live_rewards)
        for _, lo, hi in reversed(self._levels):
            Q_live[lo:hi] = live_rewards[lo:hi] + V[self.live_children[lo:hi]]  # (n, A): γ = 1
            V[self.live_states[lo:hi]] = backup(Q_live[lo:hi], slice(lo, hi))
        return V, Q_live

    def _solution(self, V, Q_live, policy_live) -> rlcore.Solution:
        """rlcore's Solution with dense (S, A) Q (0 at terminal states) and policy (uniform there)."""
        S, A = self.n_states, self.n_actions
        Q = np.zeros((S, A))
        Q[self.live_states] = Q_live
        policy = np.full((S, A), 1.0 / A)
        policy[self.live_states] = policy_live
        return rlcore.Solution(V, Q, policy, 1, np.zeros(1), True, 0.0)

    def optimum(self, env_rewards: bool = False) -> rlcore.Solution:
        """V*, Q* and the greedy policy (ties split evenly) by backward induction over the tree's levels.

        Q*(s, a) = r(s, a) + V*(child(s, a)), V*(s) = max_a Q*(s, a), V* = 0 at the leaves
        (S&B eq. 3.20 with γ = 1, Puterman 1994 Section 4.5): exact in one pass, and equal to
        ``rlcore.value_iteration(tree.task_mdp)`` (tested); ties are actions within 2·10⁻⁸ of the best,
        as value iteration counts them. ``env_rewards=True`` solves the environment's rewards
        (``tree.mdp``, with β log π_ref) instead of the task's: its optimum is the best
        deterministic policy for J_β.
        """
        atol = max(TIE_ATOL, 2e-8)  # value_iteration's ties with its default tol = 1e-8
        V, Q_live = self._backward(self.live_rewards(env_rewards), lambda q, rows: max_over_actions(q))
        return self._solution(V, Q_live, rlcore.greedy_policy(Q_live, atol=atol))

    def kl_regularised_optimum(self, kl_coef: float) -> rlcore.Solution:
        """The KL-regularised optimum with KL weight β = ``kl_coef`` and reference π_ref, by backward induction.

        Q(s, a) = r(s, a) + V(child(s, a)), V(s) = β log Σ_a π_ref(a|s) exp(Q(s, a)/β)
        (``rlcore.soft_v_from_q``), π*(a|s) = π_ref(a|s) exp((Q(s, a) − V(s))/β)
        (``rlcore.softmax_policy``); one exact pass over the levels, equal to soft value iteration
        ``rlcore.soft_value_iteration(tree.task_mdp, kl_coef, reference=tree.reference)`` (tested).
        """
        kl_coef = _checks.number(kl_coef, "kl_coef", 0.0, None, low_open=True, meaning="the KL weight β")
        ref = self.live_reference
        V, Q_live = self._backward(self.live_task_rewards,
                                   lambda q, rows: rlcore.soft_v_from_q(q, kl_coef, ref[rows]))
        return self._solution(V, Q_live, rlcore.softmax_policy(Q_live, kl_coef, ref))

    def policy_value(self, policy, env_rewards: bool = False) -> np.ndarray:
        """V^π from every state, (S,), by backward induction: V(s) = Σ_a π(a|s) (r(s, a) + V(child)).

        Equal to ``rlcore.policy_evaluation(tree.task_mdp, policy).V`` (``tree.mdp`` with
        ``env_rewards=True``). ``policy``: π(a|s), (S, A), or (N, A) for the live states only.
        """
        policy_live = self._live_policy(policy)
        V, _ = self._backward(self.live_rewards(env_rewards),
                              lambda q, rows: np.einsum("sa,sa->s", policy_live[rows], q))
        return V

    def kl_regularised_value(self, policy, kl_coef: float) -> np.ndarray:
        """J_β(π) from every state: E_π[Σ_t r_t − β Σ_t KL(π(·|s_t) ‖ π_ref(·|s_t))], shape (S,).

        Evaluates π exactly on the task rewards minus β·KL(π(·|s) ‖ π_ref(·|s)) per state
        (backward induction; −inf wherever π puts mass where π_ref has none).
        """
        policy_live = self._live_policy(policy)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_ratio = np.where(policy_live > 0, np.log(policy_live) - np.log(self.live_reference), 0.0)
        if np.any(np.isinf(log_ratio)):
            return np.where(self.terminal, 0.0, -np.inf)  # π puts mass where π_ref has none
        kl = (policy_live * log_ratio).sum(axis=1)  # (N,)
        V, _ = self._backward(self.live_task_rewards,
                              lambda q, rows: np.einsum("sa,sa->s", policy_live[rows], q) - kl_coef * kl[rows])
        return V

    def _live_policy(self, policy) -> np.ndarray:
        """The rows of a policy (S, A) at the live states, checked; (N, A) is taken as those rows."""
        policy = np.asarray(policy, dtype=float)
        N, A = self.live_children.shape
        if policy.shape == (N, A) and N != self.n_states:
            return rlcore.exact.check_policy(policy, N, A)
        return rlcore.exact.check_policy(policy, self.n_states, A)[self.live_states]

    # ------------------------------------------------------------------ tabular agents' tables
    def policy_from_values(self, values_of) -> np.ndarray:
        """The greedy policy (ties split evenly) of per-observation action values, shape (S, A).

        Args:
            values_of: function obs -> action values over the *environment's* actions, e.g.
                ``lambda obs: agent.q_values(obs)``.
        """
        S, A = self.n_states, self.n_actions
        Q = np.zeros((S, A))
        for row, s in enumerate(self.live_states.tolist()):
            values = np.asarray(values_of(self.observation_of(self.prefixes[s])), dtype=float)
            Q[s] = values[self._env_actions_row(row)]
        return rlcore.greedy_policy(Q)

    def policy_from_env_policy(self, probs_of) -> np.ndarray:
        """An (S, A) policy from a function obs -> probabilities over the environment's actions."""
        S, A = self.n_states, self.n_actions
        policy = np.full((S, A), 1.0 / A)
        for row, s in enumerate(self.live_states.tolist()):
            p = np.asarray(probs_of(self.observation_of(self.prefixes[s])), dtype=float)[self._env_actions_row(row)]
            policy[s] = p / p.sum()
        return policy

    def _env_actions_row(self, row: int):
        return slice(None) if self._live_env_actions is None else self._live_env_actions[row]

    def __repr__(self) -> str:
        return (f"TokenMDP({self.n_states:,} states, {self.live_states.size:,} non-terminal, "
                f"{self.n_actions} actions, kl_coef={self.kl_coef:g})")


def to_mdp(env, max_states: int = 2_000_000, batch_size: int | None = None, progress: bool = False,
           max_memory: int | None = None, fill_cache: bool = True) -> TokenMDP:
    """Enumerate the prefix tree of a :class:`lmenv.TokenEnv` (level by level) into a :class:`TokenMDP`.

    The reference distributions of the non-terminal prefixes are computed in batched forward
    passes of ``batch_size`` sequences on top of the prompt's key/value cache, on the model's
    device (default 2048 on the CPU, 16384 on an accelerator), and kept in the environment's
    prefix cache (``fill_cache``). Rewards are computed one tree level at a time (all edges of a
    level in one call, or in calls of 65,536 edges on larger levels). Leaves are terminal:
    prefixes of ``max_new_tokens`` tokens, or ending with the stop token.

    Args:
        env: the environment.
        max_states: refuse trees with more states than this.
        batch_size: sequences per forward pass (default by device, see above).
        progress: a progress bar over the levels.
        max_memory: bytes the tree and one exact solution may use (default: the memory available).
        fill_cache: keep every non-terminal prefix's π_ref in ``env.reference`` (so that tabular
            learning afterwards runs at table speed); ``False`` for trees whose cache would not fit.

    Raises:
        ValueError: if the tree would have more than ``max_states`` states.
        TreeTooLarge: (a MemoryError and a ValueError) if :func:`estimate_tree` says the tree and
            one solution would need more than ``max_memory`` or the memory available.
    """
    from tqdm.auto import tqdm

    env = env.unwrapped
    reference = env.reference
    H = env.max_new_tokens
    max_memory = _check_bytes(max_memory)
    estimate = estimate_tree(env, fill_cache, batch_size)
    A = estimate.actions
    if estimate.states > max_states:
        raise ValueError(f"the prefix tree has up to {estimate.states:,} states (A = {A}, H = {H}); "
                         f"max_states = {max_states:,}. Use fewer actions, top_k, or a shorter horizon.")
    limit = max_memory if max_memory is not None else available_memory()
    if limit is not None and estimate.total > limit:
        where = f"max_memory = {_gib(limit)}" if max_memory is not None else f"{_gib(limit)} available"
        raise TreeTooLarge(f"the prefix tree would need more memory than allowed: {estimate}; {where}. Use fewer "
                           f"actions, top_k, a shorter horizon{', or fill_cache=False' if fill_cache else ''}.")
    batch_size = batch_size or _default_batch_size(reference.device)
    stop_id = -1 if env.stop_id is None else int(env.stop_id)
    top_k = reference.top_k is not None
    fixed = env.action_tokens  # a fixed action set (MDP action a = token fixed[a]), or None
    index_dtype = np.int32 if estimate.states < 2**31 else np.int64

    parents, tokens, depths = [np.array([-1], index_dtype)], [np.array([-1], np.int32)], [np.zeros(1, np.int32)]
    children_rows, reference_rows, reward_rows, env_action_rows = [], [], [], []
    level_ids = np.zeros(1, dtype=np.int64)  # the live states of the current level
    level_prefixes: list[tuple[int, ...]] = [()]  # and their prefixes
    n_states = 1
    bar = tqdm(total=H, desc="prefix tree", disable=not progress)
    for depth in range(H):
        n = len(level_prefixes)
        if n == 0:
            break
        log_probs = reference.log_probs_batch(level_prefixes, batch_size=batch_size, remember=fill_cache)  # (n, A_env)
        if top_k:  # MDP action a: the (a+1)-th most likely allowed token
            level_tokens = np.argsort(-log_probs, axis=1, kind="stable")[:, :A]  # (n, A)
            probs = np.exp(np.take_along_axis(log_probs, level_tokens, axis=1))
            env_action_rows.append(level_tokens.astype(np.int32))
        else:
            level_tokens = np.broadcast_to(fixed if fixed is not None else np.arange(A), (n, A))
            probs = np.exp(log_probs)
        reference_rows.append(probs / probs.sum(axis=1, keepdims=True))
        ids = n_states + np.arange(n * A, dtype=np.int64)  # the children, numbered level by level
        children_rows.append(ids.reshape(n, A).astype(index_dtype))
        n_states += n * A
        edge_tokens = np.ascontiguousarray(level_tokens, dtype=np.int64).ravel()  # (n·A,)
        leaf = (edge_tokens == stop_id) | (depth + 1 == H)
        parents.append(np.repeat(level_ids, A).astype(index_dtype))
        tokens.append(edge_tokens.astype(np.int32))
        depths.append(np.full(n * A, depth + 1, np.int32))
        # the task rewards of the level's edges, from the reward object, in chunks
        rewards = np.empty(n * A)
        for start in range(0, n * A, REWARD_CHUNK):
            stop = min(start + REWARD_CHUNK, n * A)
            before = [level_prefixes[e // A] for e in range(start, stop)]
            batch = Transitions(env.prompt, before, edge_tokens[start:stop], leaf[start:stop], env.tokenizer)
            rewards[start:stop] = call_reward(env.reward_fn, batch)
        reward_rows.append(rewards.reshape(n, A))
        # the next level's live states: the children that are not leaves
        live = np.flatnonzero(~leaf)
        level_ids = ids[live]
        level_prefixes = [level_prefixes[e // A] + (int(edge_tokens[e]),) for e in live.tolist()]
        bar.update()
    bar.close()

    depth = np.concatenate(depths)
    terminal = (depth == H)
    token = np.concatenate(tokens)
    if stop_id >= 0:
        terminal |= (token == stop_id) & (depth > 0)
    if fixed is not None:
        action_names = [env.tokenizer.decode([int(t)]) for t in fixed]
        positions = {int(t): a for a, t in enumerate(fixed)}
    else:
        action_names = [f"rank {a + 1}" if top_k else env.tokenizer.decode([a]) for a in range(A)]
        positions = None
    stack = (lambda rows, dtype, width: np.concatenate(rows).astype(dtype, copy=False) if rows
             else np.zeros((0, width), dtype))
    return TokenMDP(parent=np.concatenate(parents), token=token, depth=depth, terminal=terminal,
                    live_children=stack(children_rows, index_dtype, A), live_reference=stack(reference_rows, float, A),
                    live_task_rewards=stack(reward_rows, float, A),
                    live_env_actions=stack(env_action_rows, np.int32, A) if top_k else None,
                    kl_coef=env.kl_coef, pad=env.pad, observation_of=env.observation_of, tokenizer=env.tokenizer,
                    action_names=action_names, action_positions=positions, max_memory=max_memory)
