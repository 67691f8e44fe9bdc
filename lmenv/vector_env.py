"""Many token-generation environments advanced by one batched, KV-cached forward pass per step."""

from __future__ import annotations

import numpy as np
import torch
from gymnasium.vector import VectorEnv
from gymnasium.vector.utils import batch_space
from gymnasium.vector.vector_env import AutoresetMode

from lmenv.model import select_cache
from lmenv.rewards import Transitions
from lmenv.token_env import TokenEnv


class TokenVectorEnv(VectorEnv):
    """``num_envs`` copies of :class:`lmenv.TokenEnv` stepped together (Gymnasium 1.x vector API).

    Every sub-environment keeps its key/value cache; sub-environments that started their episode
    at the same step form a *cohort* with one batched cache, so a step costs one one-token forward
    pass per cohort — a single pass when there is no stop token, since then every episode lasts
    exactly ``max_new_tokens`` steps. Sub-environments whose next state is terminal are left out of
    the forward pass (no action follows a terminal state). With ``remember_prefixes``, new
    distributions are also written into the shared prefix cache (``env.reference``).

    Autoreset is Gymnasium's default *next-step* mode: the step after a sub-environment terminates
    resets it, ignores its action and returns its first observation with reward 0.

    Infos (arrays over the sub-environments): ``"ref_log_probs"`` (num_envs, A) at the new states
    (rows of terminal states are 0), ``"ref_log_prob"`` (num_envs,) of the actions taken, and
    ``"action_mask"`` with ``top_k``. Texts are not put in infos (decoding costs time): call
    :meth:`texts`.

    Args:
        num_envs: number of sub-environments.
        remember_prefixes: write every new prefix's distribution into ``env.reference`` (about
            1 KB per prefix, never freed). Default (None): only for a fixed action set or top_k,
            whose prefix trees are small enough to revisit; with ``actions="vocab"`` nearly every
            generated token is a new prefix, and the cache would grow by ~1 KB per token.
        **kwargs: the arguments of :class:`lmenv.TokenEnv` (the same for every sub-environment).
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}

    def __init__(self, num_envs: int, remember_prefixes: bool | None = None, **kwargs):
        if int(num_envs) != num_envs or num_envs < 1:
            raise ValueError(f"num_envs must be a positive integer; got {num_envs}")
        self.env = TokenEnv(**kwargs)  # validates the arguments; holds model, reward and prefix cache
        if remember_prefixes is None:
            remember_prefixes = self.env.action_tokens is not None or self.env.top_k is not None
        self.remember_prefixes = bool(remember_prefixes)
        self.num_envs = int(num_envs)
        self.single_observation_space = self.env.observation_space
        self.single_action_space = self.env.action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.render_mode = None
        ref = self.env.reference
        self._device = ref.device
        with torch.no_grad():
            prompt = torch.tensor([ref.prompt_ids], device=self._device)
            logits, self._prompt_cache = ref.model(prompt)  # cache (1, nh, P, hs) per layer
        ref.forward_passes += 1
        self._root_log_probs = ref.log_probs_from_logits(logits[:, -1])[0]  # (A,)
        ref.remember([()], self._root_log_probs[None])
        self._prefixes: list[tuple[int, ...]] = [()] * self.num_envs
        self._log_probs = np.zeros((self.num_envs, ref.n_actions))
        self._needs_reset = np.zeros(self.num_envs, dtype=bool)
        self._obs = np.full((self.num_envs, self.env.max_new_tokens), self.env.pad, dtype=np.int64)
        self._never_reset = True
        self._cohorts: list[tuple[np.ndarray, list]] = []  # (sub-env indices, batched KV cache)

    # ------------------------------------------------------------------ Gymnasium API
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._never_reset = False
        self._cohorts = []
        self._needs_reset[:] = False
        self._start(np.arange(self.num_envs))
        return self._observations(), self._infos(np.zeros(self.num_envs, dtype=bool))

    def step(self, actions):
        if self._never_reset:
            raise RuntimeError("call reset() before step()")
        env, ref = self.env, self.env.reference
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs,) or not np.issubdtype(actions.dtype, np.integer):
            raise ValueError(f"actions must be an integer array of shape ({self.num_envs},); got {actions.dtype} {actions.shape}")
        resetting = self._needs_reset.copy()
        active = np.flatnonzero(~resetting)
        acts = actions[active]
        if np.any((acts < 0) | (acts >= ref.n_actions)):
            raise ValueError(f"invalid actions: each must lie in [0, {ref.n_actions})")
        taken = self._log_probs[active, acts]
        if not np.all(np.isfinite(taken)):
            bad = int(active[~np.isfinite(taken)][0])
            raise ValueError(f"sub-environment {bad}: action {int(actions[bad])} is masked (not in the top-{env.top_k})")
        tokens = acts if env.action_tokens is None else env.action_tokens[acts]
        before = [self._prefixes[i] for i in active]
        after = [p + (int(t),) for p, t in zip(before, tokens)]
        lengths = np.array([len(p) for p in after], dtype=int)
        terminal_active = (lengths == env.max_new_tokens) | (tokens == (-1 if env.stop_id is None else env.stop_id))

        rewards = np.zeros(self.num_envs)
        terminated = np.zeros(self.num_envs, dtype=bool)
        ref_log_prob = np.zeros(self.num_envs)
        if active.size:
            batch = Transitions(env.prompt, before, np.asarray(tokens), terminal_active, env.tokenizer)
            rewards[active] = env.reward_fn(batch) + env.kl_coef * taken
            terminated[active] = terminal_active
            ref_log_prob[active] = taken
            for i, prefix in zip(active, after):
                self._prefixes[i] = prefix
            self._obs[active, lengths - 1] = tokens
            self._advance(active, np.asarray(tokens, dtype=np.int64), terminal_active)
        if resetting.any():
            self._start(np.flatnonzero(resetting))
        self._needs_reset = terminated
        infos = self._infos(terminated)
        infos["ref_log_prob"] = ref_log_prob
        return self._observations(), rewards, terminated, np.zeros(self.num_envs, dtype=bool), infos

    # ------------------------------------------------------------------ helpers
    def texts(self) -> list[str]:
        """Prompt plus generated text of every sub-environment."""
        return [self.env.prompt + self.env.tokenizer.decode(p) for p in self._prefixes]

    def sample_reference_actions(self) -> np.ndarray:
        """One action per sub-environment drawn from π_ref(·|s) (terminal rows: action 0), shape (num_envs,)."""
        probs = np.exp(self._log_probs)  # (N, A)
        cumulative = np.cumsum(probs, axis=1)
        u = self.np_random.random(self.num_envs) * cumulative[:, -1]
        return np.minimum((cumulative < u[:, None]).sum(axis=1), probs.shape[1] - 1)

    def _start(self, envs: np.ndarray) -> None:
        """Reset sub-environments ``envs`` into one new cohort holding the prompt's cache."""
        for i in envs:
            self._prefixes[i] = ()
        self._obs[envs] = self.env.pad
        self._log_probs[envs] = self._root_log_probs
        index = torch.zeros(envs.size, dtype=torch.long, device=self._device)
        self._cohorts.append((envs.copy(), select_cache(self._prompt_cache, index)))

    def _advance(self, active: np.ndarray, tokens: np.ndarray, finished: np.ndarray) -> None:
        """One one-token forward pass per cohort for the sub-environments that go on.

        ``active``: sub-environments that appended ``tokens``; ``finished``: which of them are now terminal.
        """
        ref = self.env.reference
        token_of = np.full(self.num_envs, -1, dtype=np.int64)  # -1: appended nothing (autoreset)
        token_of[active] = tokens
        ended = np.zeros(self.num_envs, dtype=bool)
        ended[active[finished]] = True
        self._log_probs[ended] = 0.0
        cohorts = []
        for members, cache in self._cohorts:
            keep = np.flatnonzero((token_of[members] >= 0) & ~ended[members])
            if keep.size == 0:
                continue
            if keep.size < members.size:
                cache = select_cache(cache, torch.as_tensor(keep, device=self._device))
            members_on = members[keep]
            ids = torch.from_numpy(token_of[members_on, None]).to(self._device)  # (B, 1)
            with torch.no_grad():
                logits, cache = ref.model(ids, cache=cache)
            ref.forward_passes += 1
            log_probs = ref.log_probs_from_logits(logits[:, -1])  # (B, A)
            self._log_probs[members_on] = log_probs
            if self.remember_prefixes:
                ref.remember([self._prefixes[m] for m in members_on], log_probs, copy=False)
            cohorts.append((members_on, cache))
        self._cohorts = cohorts

    def _observations(self) -> np.ndarray:
        return self._obs.copy()

    def _infos(self, terminal: np.ndarray) -> dict:
        infos = {"ref_log_probs": np.where(terminal[:, None], 0.0, self._log_probs)}
        if self.env.top_k is not None:
            infos["action_mask"] = (np.isfinite(self._log_probs) & ~terminal[:, None]).astype(np.int8)
        return infos
