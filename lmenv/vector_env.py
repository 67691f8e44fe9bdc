"""Many token-generation environments advanced by one batched, KV-cached forward pass per step."""

from __future__ import annotations

import numpy as np
import torch
from gymnasium.vector import VectorEnv
from gymnasium.vector.utils import batch_space
from gymnasium.vector.vector_env import AutoresetMode

from lmenv.model import select_cache
from lmenv.rewards import Transitions, call_reward
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
    ``reset(options={"reset_mask": mask})`` resets only the sub-environments where the boolean
    array ``mask`` (num_envs,) is true, as ``gymnasium.vector.SyncVectorEnv`` does.

    Infos are those of ``SyncVectorEnv`` over :class:`lmenv.TokenEnv` but the texts: arrays over
    the sub-environments, each key with Gymnasium's boolean mask ``"_key"`` (num_envs,) of the
    sub-environments that report it (0 elsewhere). ``"ref_log_probs"`` (num_envs, A) at the new
    states (not at terminal states), ``"ref_log_prob"`` (num_envs,) of the actions taken (not for
    the sub-environments that autoreset) and, with ``top_k``, ``"action_mask"`` (num_envs, A) int8,
    masked like ``"ref_log_probs"``. :meth:`action_masks` gives the masks as bool for every row.
    Texts are not put in infos (decoding costs time): call :meth:`texts`.

    Masked actions (``top_k``) are valid, as in :class:`lmenv.TokenEnv`: log π_ref(a|s) = −inf.

    Args:
        num_envs: number of sub-environments.
        remember_prefixes: write every new prefix's distribution into ``env.reference`` (about
            1 KB per prefix, never freed). Default (None): only for a fixed action set or top_k,
            whose prefix trees are small enough to revisit; with ``actions="vocab"`` nearly every
            generated token is a new prefix, and the cache would grow by ~1 KB per token.
        **kwargs: the arguments of :class:`lmenv.TokenEnv` (the same for every sub-environment);
            with ``render_mode="ansi"``, :meth:`render` returns one text per sub-environment.
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": ["ansi"]}

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
        self.render_mode = self.env.render_mode
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
        """Reset every sub-environment, or those where ``options["reset_mask"]`` is true.

        Returns:
            (observations (num_envs, H), infos): the infos of the reset sub-environments only.
        """
        super().reset(seed=seed)
        mask = np.ones(self.num_envs, dtype=bool)
        if options is not None and "reset_mask" in options:
            mask = self._check_reset_mask(options["reset_mask"])
        self._never_reset = False
        self._cohorts = self._cohorts_without(mask)
        self._needs_reset[mask] = False
        self._start(np.flatnonzero(mask))
        return self._observations(), self._infos(mask)

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
        taken = self._log_probs[active, acts]  # −inf for a masked action
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
            rewards[active] = call_reward(env.reward_fn, batch)
            if env.kl_coef > 0:  # (0 · log π_ref would be NaN for a masked action)
                rewards[active] += env.kl_coef * taken
            terminated[active] = terminal_active
            ref_log_prob[active] = taken
            for i, prefix in zip(active, after):
                self._prefixes[i] = prefix
            self._obs[active, lengths - 1] = tokens
            self._advance(active, np.asarray(tokens, dtype=np.int64), terminal_active)
        if resetting.any():
            self._start(np.flatnonzero(resetting))
        self._needs_reset = terminated
        infos = self._infos(~terminated)
        infos["ref_log_prob"], infos["_ref_log_prob"] = ref_log_prob, ~resetting
        return self._observations(), rewards, terminated, np.zeros(self.num_envs, dtype=bool), infos

    def render(self) -> tuple[str, ...] | None:
        """With ``render_mode="ansi"``: prompt, a bar, and the generated text of every sub-environment."""
        if self.render_mode != "ansi":
            return None
        return tuple(f"{self.env.prompt}\u2502{self.env.tokenizer.decode(p)}\n" for p in self._prefixes)

    # ------------------------------------------------------------------ helpers
    def texts(self) -> list[str]:
        """Prompt plus generated text of every sub-environment."""
        return [self.env.prompt + self.env.tokenizer.decode(p) for p in self._prefixes]

    def action_masks(self) -> np.ndarray:
        """The actions allowed in every sub-environment, bool (num_envs, A): π_ref(a|s) > 0.

        All true unless ``top_k`` is set. Equal to ``infos["action_mask"]`` where
        ``infos["_action_mask"]``; the rows of terminal states are all true, since the next step
        resets those sub-environments and ignores their actions. sb3-contrib's ``MaskablePPO``
        calls this method.
        """
        if self._never_reset:
            raise RuntimeError("call reset() before action_masks()")
        return np.isfinite(self._log_probs)

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

    def _cohorts_without(self, leaving: np.ndarray) -> list[tuple[np.ndarray, list]]:
        """The cohorts without the sub-environments where ``leaving`` (bool, (num_envs,)) is true."""
        cohorts = []
        for members, cache in self._cohorts:
            keep = np.flatnonzero(~leaving[members])
            if keep.size == 0:
                continue
            if keep.size < members.size:
                cache = select_cache(cache, torch.as_tensor(keep, device=self._device))
            cohorts.append((members[keep], cache))
        return cohorts

    def _check_reset_mask(self, mask) -> np.ndarray:
        """``options["reset_mask"]``, checked as ``SyncVectorEnv`` checks it."""
        if not isinstance(mask, np.ndarray):
            raise TypeError(f"`options['reset_mask']` must be a numpy array, got {type(mask)}")
        if mask.shape != (self.num_envs,):
            raise ValueError(f"`options['reset_mask']` must have shape `({self.num_envs},)`, got {mask.shape}")
        if mask.dtype != np.bool_:
            raise TypeError(f"`options['reset_mask']` must have `dtype=np.bool_`, got {mask.dtype}")
        if not mask.any():
            raise ValueError(f"`options['reset_mask']` must contain a boolean array with at least one True value, "
                             f"got reset_mask={mask}")
        return mask.copy()

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
        for members_on, cache in self._cohorts_without((token_of < 0) | ended):
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

    def _infos(self, reporting: np.ndarray) -> dict:
        """``ref_log_probs`` (and ``action_mask``) of the sub-environments where ``reporting`` (bool,
        (num_envs,)) is true, 0 elsewhere, each with its ``_key`` mask."""
        infos = {"ref_log_probs": np.where(reporting[:, None], self._log_probs, 0.0),
                 "_ref_log_probs": reporting.copy()}
        if self.env.top_k is not None:
            infos["action_mask"] = (np.isfinite(self._log_probs) & reporting[:, None]).astype(np.int8)
            infos["_action_mask"] = reporting.copy()
        return infos
