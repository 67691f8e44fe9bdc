"""Token generation by a language model as a Gymnasium environment."""

from __future__ import annotations

import os
from collections.abc import Sequence

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from lmenv.reference import ReferencePolicy
from lmenv.rewards import FunctionReward, Reward, Transitions, ZeroReward, call_reward

_PRETRAINED: dict[str, tuple] = {}


def _one_torch_thread() -> None:
    """Run torch on one thread in a forked child process (e.g. a worker of ``AsyncVectorEnv``).

    torch's CPU thread pool (OpenMP) does not survive ``fork``: once the parent has used it, the
    child's first parallel operation (a layer norm of the model) waits forever for threads that
    were not copied. With one thread the child never enters the pool. One thread per worker is
    also what N worker processes on N cores want.
    """
    torch.set_num_threads(1)


os.register_at_fork(after_in_child=_one_torch_thread)


class UnsupportedRenderMode(ValueError, TypeError):
    """A ``render_mode`` the environment cannot render.

    Also a TypeError: Stable-Baselines3's ``make_vec_env`` passes ``render_mode="rgb_array"`` and,
    on a TypeError, makes the environment again without it.
    """


def _token_id(tokenizer, char: str, what: str) -> int:
    """The id of the one token that is exactly the character ``char``.

    Args:
        tokenizer: a :class:`lmenv.CharTokenizer` or :class:`lmenv.HFTokenizer`.
        char: one character.
        what: how errors name ``char`` (e.g. ``"stop_token"``, ``"action"``).

    Raises:
        ValueError: if ``char`` is not one character, is not in the vocabulary, or is not a
            single token by itself (a subword tokenizer may split it into bytes).
    """
    if not isinstance(char, str) or len(char) != 1:
        raise ValueError(f"{what} must be one character; got {char!r}")
    try:
        ids = tokenizer.encode(char)
    except ValueError:  # CharTokenizer: an unknown character
        ids = []
    if not ids:
        raise ValueError(f"{what} {char!r} is not in the vocabulary of the tokenizer")
    if len(ids) != 1 or tokenizer.decode(ids) != char:
        raise ValueError(f"{what} {char!r} is not a single token: it encodes to {len(ids)} tokens {list(ids)} "
                         f"that decode to {tokenizer.decode(ids)!r}")
    return int(ids[0])


def bundled_model(device=None):
    """The shipped (model, tokenizer), loaded once per device and shared by every environment.

    The default device is the CPU, not the GPU: a TokenEnv steps one sequence at a time, where a
    335k-parameter model runs faster on the CPU than through CUDA's launch overhead. Batched work
    (TokenVectorEnv with many copies, the learners' rollouts) may pass ``device="cuda"``.
    """
    from lmenv.pretrained import load_pretrained

    device = "cpu" if device is None else device
    key = str(device)
    if key not in _PRETRAINED:
        _PRETRAINED[key] = load_pretrained(device=device)
    return _PRETRAINED[key]


class TokenEnv(gym.Env):
    """Generate text one token at a time; the language model supplies the reference policy.

    ## Description
    The state is the prompt plus the tokens generated so far; an action appends one token, so
    transitions are deterministic. The language model's next-token distribution is the reference
    policy π_ref(a|s) (sampling temperature ``temperature``, renormalised over the allowed
    actions). Rewards are immediate (per token) and/or terminal (see :mod:`lmenv.rewards`).

    ## Action Space
    - ``actions="vocab"``: ``Discrete(vocab_size)``, the action is the token id.
    - ``actions="etaoins "`` (a string or list of characters): ``Discrete(len(actions))``, action
      i appends ``actions[i]``; π_ref is renormalised over the set.
    - ``actions="vocab", top_k=k``: ``Discrete(vocab_size)`` with ``info["action_mask"]``
      (int8, 1 = allowed) and :meth:`action_masks` (bool) holding the reference model's k most
      likely tokens. As every action of the action space, a masked action is valid (Gymnasium's
      convention, which ``check_env`` tests with random actions): the token is appended, and
      π_ref(a|s) = 0, so ``info["ref_log_prob"]`` is −inf and, with ``kl_coef`` > 0, so is the
      reward. Mask-aware agents (sb3-contrib's ``MaskablePPO``, ``action_space.sample(mask=...)``)
      never take one; ``lmenv.to_mdp`` enumerates the allowed tokens only.

    Each character of a fixed action set must be one token by itself (checked one by one: with a
    subword tokenizer, ``"in"`` may be one token but ``"i"`` and ``"n"`` must be too).

    ## Observation Space
    ``MultiDiscrete([vocab_size + 1] * max_new_tokens)``: the generated token ids, padded with
    ``vocab_size`` (= ``env.pad``) after the last generated token. The prompt is fixed per
    environment. Tabular agents key their tables by ``tuple(obs)``.

    ## Starting State
    The prompt, nothing generated (observation all ``pad``).

    ## Rewards
    ``reward(Transitions) + kl_coef · log π_ref(a_t|s_t)`` (the second term only when β > 0). The
    reward must return one finite number per transition; otherwise ``step`` raises
    :class:`lmenv.rewards.RewardError` naming it. With β = ``kl_coef`` > 0 the
    environment adds β log π_ref(a_t|s_t); the agent supplies −β log π(a_t|s_t) (its own
    entropy term). Together, E_π[Σ_t r_t + β log π_ref − β log π] = E_π[Σ_t r_t] − β Σ_t
    KL(π(·|s_t) ‖ π_ref(·|s_t)), the KL-regularised objective; so soft value iteration with
    temperature β and *no* reference on this environment's MDP (``lmenv.to_mdp``) gives the
    KL-regularised optimum, the same as temperature β with reference π_ref on the β = 0 MDP.

    ## Episode End
    Termination after ``max_new_tokens`` tokens (the horizon is part of the MDP) or on
    ``stop_token``. There is no truncation. Stepping a terminated episode raises ``RuntimeError``.

    ## Information
    - ``"text"``: prompt + generated text.
    - ``"ref_log_probs"``: log π_ref(·|s) over the action space at the new state, shape (A,)
      (−inf for masked tokens); absent at terminal states, where no action follows.
    - ``"action_mask"``: with ``top_k``, int8 (A,) of the allowed tokens; absent at terminal states.
    - ``"ref_log_prob"``: after a step, log π_ref(a_t|s_t) of the action taken (−inf for a masked one).

    :meth:`action_masks` gives the allowed actions at the current state as bool (A,), with or
    without ``top_k`` (all true without).

    ## Arguments
    ``model``/``tokenizer`` (default: the bundled Shakespeare model), ``prompt``,
    ``max_new_tokens`` (H), ``actions``, ``top_k``, ``temperature``, ``reward`` (a
    :class:`lmenv.rewards.Reward`, or a function ``(text_before, token, terminal) -> float``),
    ``kl_coef`` (β ≥ 0), ``stop_token`` (one character that is one token of the vocabulary, or
    None), ``render_mode`` (None or ``"ansi"``; another mode raises :class:`UnsupportedRenderMode`,
    a ValueError and a TypeError), ``device``, ``reference`` (share another environment's
    ``ReferencePolicy`` and its prefix cache; it must have the same model, prompt, actions and
    temperature).

    ## Vectorised
    :class:`lmenv.TokenVectorEnv` (``gymnasium.make_vec(..., vectorization_mode="vector_entry_point")``)
    steps many copies with one batched forward pass. ``gymnasium.vector.AsyncVectorEnv`` works with
    every start method for a model on the CPU: in a forked worker lmenv runs torch on one thread
    (torch's thread pool does not survive ``fork``). A model on CUDA cannot be used after ``fork``
    (torch raises): pass ``context="spawn"`` or ``"forkserver"``, which need the script's code under
    ``if __name__ == "__main__":``.

    ## Version History
    v0: first version. Later, without a new version (no valid call changes its result): masked
    actions are valid (they raised ValueError); each action character is encoded by itself (with a
    subword tokenizer the joined string could merge two into one action); ``stop_token`` must be one
    character that is one token; rewards that are not finite numbers raise ``RewardError``.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(self, model=None, tokenizer=None, prompt: str = "ROMEO:\n", max_new_tokens: int = 5,
                 actions: str | Sequence[str] = "vocab", top_k: int | None = None, temperature: float = 1.0,
                 reward=None, kl_coef: float = 0.0, stop_token: str | None = None,
                 render_mode: str | None = None, device=None, reference: ReferencePolicy | None = None):
        if (model is None) != (tokenizer is None):
            raise ValueError("give both model and tokenizer, or neither (the bundled model)")
        if model is None:
            model, tokenizer = bundled_model(device)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise UnsupportedRenderMode(f"render_mode {render_mode!r} is not supported: TokenEnv renders "
                                        f"None or one of {self.metadata['render_modes']}")
        if int(max_new_tokens) != max_new_tokens or max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be a positive integer; got {max_new_tokens}")
        if not (np.isfinite(kl_coef) and kl_coef >= 0):
            raise ValueError(f"kl_coef must be ≥ 0; got {kl_coef}")
        self.model, self.tokenizer = model, tokenizer
        self.prompt = prompt
        self.max_new_tokens = int(max_new_tokens)
        self.kl_coef = float(kl_coef)
        self.render_mode = render_mode
        self.vocab_size = tokenizer.vocab_size
        self.pad = self.vocab_size

        if isinstance(actions, str) and actions == "vocab":
            self.action_tokens = None
        else:
            chars = list(actions)
            if any(not isinstance(c, str) or len(c) != 1 for c in chars):
                raise ValueError(f"actions must be 'vocab' or single characters; got {actions!r}")
            self.action_tokens = np.array([_token_id(tokenizer, c, "action") for c in chars], dtype=np.int64)
        self.top_k = top_k
        self.stop_id = None if stop_token is None else _token_id(tokenizer, stop_token, "stop_token")
        if self.stop_id is not None and self.action_tokens is not None and self.stop_id not in self.action_tokens:
            raise ValueError(f"stop_token {stop_token!r} is not among the actions {actions!r}")
        if reward is None:
            reward = ZeroReward()
        elif not isinstance(reward, Reward):
            if not callable(reward):
                raise TypeError(f"reward must be a lmenv.rewards.Reward or a callable; got {type(reward).__name__}")
            reward = FunctionReward(reward)
        self.reward_fn = reward

        prompt_ids = tokenizer.encode(prompt)
        if reference is None:
            reference = ReferencePolicy(model, prompt_ids, self.action_tokens, top_k, temperature)
        elif (reference.prompt_ids != tuple(prompt_ids) or reference.top_k != top_k
              or reference.temperature != float(temperature)
              or not np.array_equal(reference.action_tokens if reference.action_tokens is not None else [],
                                    self.action_tokens if self.action_tokens is not None else [])):
            raise ValueError("the shared reference policy has a different prompt, action set, top_k or temperature")
        if self.max_new_tokens > reference.max_new_tokens:
            raise ValueError(f"prompt ({len(prompt_ids)} tokens) + max_new_tokens ({max_new_tokens}) exceeds the "
                             f"model's block_size ({model.config.block_size})")
        self.reference = reference

        self.action_space = spaces.Discrete(reference.n_actions)
        self.observation_space = spaces.MultiDiscrete(np.full(self.max_new_tokens, self.vocab_size + 1))
        self._prefix: tuple[int, ...] = ()
        self._done = True
        self._started = False

    # ------------------------------------------------------------------ Gymnasium API
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._prefix = ()
        self._done = False
        self._started = True
        return self._observation(), self._info(terminal=False)

    def step(self, action):
        if not self._started:
            raise RuntimeError("call reset() before step()")
        if self._done:
            raise RuntimeError("the episode has terminated: call reset() before step()")
        if not self.action_space.contains(action):
            raise ValueError(f"invalid action {action!r}: must be an integer in [0, {self.action_space.n})")
        action = int(action)
        ref_log_prob = float(self.reference.log_probs(self._prefix)[action])  # −inf for a masked action
        token = action if self.action_tokens is None else int(self.action_tokens[action])
        before = self._prefix
        self._prefix = before + (token,)
        terminal = len(self._prefix) == self.max_new_tokens or token == self.stop_id
        self._done = terminal
        batch = Transitions(self.prompt, [before], np.array([token]), np.array([terminal]), self.tokenizer)
        reward = float(call_reward(self.reward_fn, batch)[0])
        if self.kl_coef > 0:  # (0 · log π_ref would be NaN for a masked action)
            reward += self.kl_coef * ref_log_prob
        info = self._info(terminal)
        info["ref_log_prob"] = ref_log_prob
        return self._observation(), reward, terminal, False, info

    def render(self):
        if self.render_mode != "ansi":
            return None
        return f"{self.prompt}\u2502{self.tokenizer.decode(self._prefix)}\n"

    # ------------------------------------------------------------------ helpers
    @property
    def prefix(self) -> tuple[int, ...]:
        """The generated token ids so far."""
        return self._prefix

    @property
    def text(self) -> str:
        """Prompt plus generated text."""
        return self.prompt + self.tokenizer.decode(self._prefix)

    def observation_of(self, prefix: tuple[int, ...]) -> np.ndarray:
        """The observation of a generated prefix: its token ids padded with ``pad``, shape (H,)."""
        obs = np.full(self.max_new_tokens, self.pad, dtype=np.int64)
        obs[:len(prefix)] = prefix
        return obs

    def action_masks(self) -> np.ndarray:
        """The actions allowed at the current state, bool (A,): π_ref(a|s) > 0.

        All true unless ``top_k`` is set; the same as ``info["action_mask"]``. sb3-contrib's
        ``MaskablePPO`` calls this method.

        Raises:
            RuntimeError: before ``reset()`` or after termination (no action follows).
        """
        if not self._started:
            raise RuntimeError("call reset() before action_masks()")
        if self._done:
            raise RuntimeError("the episode has terminated: no action follows; call reset()")
        return np.isfinite(self.reference.log_probs(self._prefix))

    def sample_reference_action(self) -> int:
        """An action drawn from π_ref(·|s) with the environment's random generator."""
        probs = np.exp(self.reference.log_probs(self._prefix))
        return int(self.np_random.choice(probs.size, p=probs / probs.sum()))

    def _observation(self) -> np.ndarray:
        return self.observation_of(self._prefix)

    def _info(self, terminal: bool) -> dict:
        info = {"text": self.text}
        if not terminal:
            log_probs = self.reference.log_probs(self._prefix)
            info["ref_log_probs"] = log_probs.copy()
            if self.top_k is not None:
                info["action_mask"] = np.isfinite(log_probs).astype(np.int8)
        return info
