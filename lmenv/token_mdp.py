"""Exact answers on token generation: the prefix tree of a TokenEnv as an rlcore MDP.

With a small action set A and horizon H the tree has Σ_{t=0}^{H} A^t prefixes (37,449 for
A = 8, H = 5), so V*, Q*, the value of the reference model itself and the KL-regularised optimum
can all be computed exactly with rlcore's solvers, and any tabular agent's table evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

import rlcore
from lmenv.rewards import Transitions, call_reward


@dataclass(frozen=True, eq=False)
class TokenMDP:
    """The enumerated prefix tree of a :class:`lmenv.TokenEnv`.

    Attributes:
        mdp: the environment's MDP: state i is the generated prefix ``prefixes[i]`` (state 0 the
            root), rewards exactly as the environment pays them (so including kl_coef·log π_ref when
            the environment's kl_coef > 0), γ = 1, leaves terminal. Sparse.
        task_mdp: the same tree with the task reward alone (no KL term).
        reference: π_ref(a|s) over the MDP's actions, shape (S, A) (uniform at terminal states).
        prefixes: generated token ids of each state.
        index: prefix -> state.
        env_actions: the environment action that MDP action a is in state s, shape (S, A). The
            identity for a fixed action set or the whole vocabulary; with top_k, MDP action a is
            the (a+1)-th most likely token.
        depth: number of generated tokens of each state, shape (S,).
        kl_coef: the environment's β.
        pad: the observation's padding id.
        observation_of: prefix -> environment observation.
    """

    mdp: rlcore.MDP
    task_mdp: rlcore.MDP
    reference: np.ndarray
    prefixes: list
    index: dict
    env_actions: np.ndarray
    depth: np.ndarray
    kl_coef: float
    pad: int
    observation_of: object

    @property
    def n_states(self) -> int:
        return self.mdp.n_states

    def state_of(self, obs) -> int:
        """The state index of an environment observation (token ids padded with ``pad``).

        Raises:
            KeyError: if the prefix is not in the tree (with top_k, a masked action leaves it).
        """
        prefix = tuple(int(t) for t in np.asarray(obs) if t != self.pad)
        if prefix not in self.index:
            raise KeyError(f"prefix {prefix} is not a state of the tree: it holds the prefixes that π_ref can "
                           f"generate (with top_k, a masked action, π_ref(a|s) = 0, leaves it)")
        return self.index[prefix]

    def policy_from_values(self, values_of) -> np.ndarray:
        """The greedy policy (ties split evenly) of per-observation action values, shape (S, A).

        Args:
            values_of: function obs -> action values over the *environment's* actions, e.g.
                ``lambda obs: agent.q_values(obs)``.
        """
        S, A = self.env_actions.shape
        Q = np.zeros((S, A))
        for s in range(S):
            if self.mdp.terminal[s]:
                continue
            values = np.asarray(values_of(self.observation_of(self.prefixes[s])), dtype=float)
            Q[s] = values[self.env_actions[s]]
        return rlcore.greedy_policy(Q)

    def policy_from_env_policy(self, probs_of) -> np.ndarray:
        """An (S, A) policy from a function obs -> probabilities over the environment's actions."""
        S, A = self.env_actions.shape
        policy = np.full((S, A), 1.0 / A)
        for s in np.flatnonzero(~self.mdp.terminal):
            p = np.asarray(probs_of(self.observation_of(self.prefixes[s])), dtype=float)[self.env_actions[s]]
            policy[s] = p / p.sum()
        return policy

    def kl_regularised_value(self, policy, kl_coef: float) -> np.ndarray:
        """J_β(π) from every state: E_π[Σ_t r_t − β Σ_t KL(π(·|s_t) ‖ π_ref(·|s_t))], shape (S,).

        Evaluates π exactly on the task rewards minus β·KL(π(·|s) ‖ π_ref(·|s)) per state.
        """
        policy = rlcore.exact.check_policy(policy, *self.reference.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_ratio = np.where(policy > 0, np.log(policy) - np.log(self.reference), 0.0)
        if np.any(np.isinf(log_ratio)):
            return np.where(self.mdp.terminal, 0.0, -np.inf)  # π puts mass where π_ref has none
        kl = (policy * log_ratio).sum(axis=1)
        kl[self.mdp.terminal] = 0.0
        regularised = rlcore.MDP(self.task_mdp.P, self.task_mdp.R - kl_coef * kl[:, None], 1.0,
                                 terminal=self.mdp.terminal, initial=self.mdp.initial)
        return rlcore.policy_evaluation(regularised, policy).V

    def kl_regularised_optimum(self, kl_coef: float) -> rlcore.Solution:
        """The KL-regularised optimum: soft value iteration with KL weight β = ``kl_coef`` and reference π_ref."""
        return rlcore.soft_value_iteration(self.task_mdp, kl_coef, reference=self.reference)


def to_mdp(env, max_states: int = 2_000_000, batch_size: int = 2048, progress: bool = False) -> TokenMDP:
    """Enumerate the prefix tree of a :class:`lmenv.TokenEnv` (breadth-first) into an rlcore MDP.

    The reference distributions of the non-leaf prefixes come from the environment's prefix
    cache, computed in batches of ``batch_size`` sequences; rewards are computed one tree level at
    a time (all edges of a level in one call). Leaves are terminal: prefixes of ``max_new_tokens``
    tokens, or ending with the stop token.

    Raises:
        ValueError: if the tree would have more than ``max_states`` states.
    """
    from tqdm.auto import tqdm

    env = env.unwrapped
    reference = env.reference
    H = env.max_new_tokens
    if reference.top_k is not None:
        width = reference.top_k
    else:
        width = reference.n_actions
    estimate = sum(width**t for t in range(H + 1))
    if estimate > max_states:
        raise ValueError(f"the prefix tree has up to {estimate:,} states (A = {width}, H = {H}); "
                         f"max_states = {max_states:,}. Use fewer actions, top_k, or a shorter horizon.")

    prefixes: list[tuple[int, ...]] = [()]
    index = {(): 0}
    rows, cols, task_rewards, ref_rows, env_action_rows = [], [], [], [], []
    level = [()]
    for depth in tqdm(range(H), desc="prefix tree", disable=not progress):
        open_nodes = [p for p in level if not _is_leaf(p, env)]
        reference.warm(open_nodes, batch_size=batch_size)
        next_level, edges_from, edges_token, edges_action = [], [], [], []
        for p in open_nodes:
            log_probs = reference.log_probs(p)
            kids = reference.children(p)
            actions = [k[-1] for k in kids] if env.action_tokens is None else list(range(len(kids)))
            ref_rows.append((index[p], np.exp(log_probs[actions])))
            env_action_rows.append((index[p], actions))
            for a, kid in enumerate(kids):
                index[kid] = len(prefixes)
                prefixes.append(kid)
                next_level.append(kid)
                edges_from.append(index[p])
                edges_token.append(kid[-1])
                edges_action.append(a)
        if not next_level:
            break
        terminal = np.array([_is_leaf(k, env) for k in next_level])
        batch = Transitions(env.prompt, [prefixes[i] for i in edges_from], np.array(edges_token), terminal, env.tokenizer)
        r = call_reward(env.reward_fn, batch)
        rows.extend(np.array(edges_from) * width + np.array(edges_action))
        cols.extend(index[k] for k in next_level)
        task_rewards.extend(r)
        level = next_level

    S, A = len(prefixes), width
    terminal = np.array([_is_leaf(p, env) for p in prefixes])
    reference_policy = np.full((S, A), 1.0 / A)
    env_actions = np.tile(np.arange(A), (S, 1))
    for s, probs in ref_rows:
        reference_policy[s] = probs / probs.sum()
    for s, actions in env_action_rows:
        env_actions[s] = actions
    # Terminal rows: self-loops (the MDP makes them absorbing with reward 0 anyway).
    leaf_rows = (np.flatnonzero(terminal)[:, None] * A + np.arange(A)).ravel()
    all_rows = np.concatenate([np.asarray(rows, dtype=np.int64), leaf_rows])
    all_cols = np.concatenate([np.asarray(cols, dtype=np.int64), np.repeat(np.flatnonzero(terminal), A)])
    flat = sp.csr_matrix((np.ones(all_rows.size), (all_rows, all_cols)), shape=(S * A, S))
    P = [flat[a::A] for a in range(A)]
    R_task = np.zeros(S * A)
    R_task[np.asarray(rows, dtype=np.int64)] = task_rewards
    R_task = R_task.reshape(S, A)
    with np.errstate(divide="ignore"):
        kl_term = np.where(terminal[:, None], 0.0, env.kl_coef * np.log(reference_policy))
    initial = np.zeros(S)
    initial[0] = 1.0
    names = [env.tokenizer.decode(p) for p in prefixes]
    action_names = ([env.tokenizer.decode([t]) for t in env.action_tokens] if env.action_tokens is not None
                    else [f"rank {a + 1}" if env.top_k else env.tokenizer.decode([a]) for a in range(A)])
    common = dict(terminal=terminal, initial=initial, state_names=names, action_names=action_names)
    task_mdp = rlcore.MDP(P, R_task, 1.0, **common)
    mdp = task_mdp if env.kl_coef == 0 else rlcore.MDP(P, R_task + kl_term, 1.0, **common)
    return TokenMDP(mdp, task_mdp, reference_policy, prefixes, index, env_actions,
                    np.array([len(p) for p in prefixes]), env.kl_coef, env.pad, env.observation_of)


def _is_leaf(prefix, env) -> bool:
    return len(prefix) == env.max_new_tokens or (len(prefix) > 0 and prefix[-1] == env.stop_id)
