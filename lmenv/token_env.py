"""Token generation by a language model as a Gymnasium environment."""

from __future__ import annotations

from collections.abc import Sequence

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from lmenv.reference import ReferencePolicy
from lmenv.rewards import FunctionReward, Reward, Transitions, ZeroReward

_PRETRAINED: dict[str, tuple] = {}


def bundled_model(device=None):
    """The shipped (model, tokenizer), loaded once per device and shared by every environment."""
    from lmenv.pretrained import load_pretrained

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
      (int8, 1 = allowed) holding the reference model's k most likely tokens; a masked action
      raises ``ValueError``.

    ## Observation Space
    ``MultiDiscrete([vocab_size + 1] * max_new_tokens)``: the generated token ids, padded with
    ``vocab_size`` (= ``env.pad``) after the last generated token. The prompt is fixed per
    environment. Tabular agents key their tables by ``tuple(obs)``.

    ## Starting State
    The prompt, nothing generated (observation all ``pad``).

    ## Rewards
    ``reward(Transitions) + kl_coef · log π_ref(a_t|s_t)``. With β = ``kl_coef`` > 0 the
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
    - ``"ref_log_prob"``: after a step, log π_ref(a_t|s_t) of the action taken.

    ## Arguments
    ``model``/``tokenizer`` (default: the bundled Shakespeare model), ``prompt``,
    ``max_new_tokens`` (H), ``actions``, ``top_k``, ``temperature``, ``reward`` (a
    :class:`lmenv.rewards.Reward`, or a function ``(text_before, token, terminal) -> float``),
    ``kl_coef`` (β ≥ 0), ``stop_token`` (a character, or None), ``render_mode`` (None or
    ``"ansi"``), ``device``, ``reference`` (share another environment's ``ReferencePolicy`` and
    its prefix cache; it must have the same model, prompt, actions and temperature).

    ## Version History
    v0: first version.
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
        if render_mode not in (None, "ansi"):
            raise ValueError(f"render_mode must be None or 'ansi'; got {render_mode!r}")
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
            if any(len(c) != 1 for c in chars):
                raise ValueError(f"actions must be 'vocab' or single characters; got {actions!r}")
            self.action_tokens = np.array(tokenizer.encode("".join(chars)), dtype=np.int64)
        self.top_k = top_k
        self.stop_id = None if stop_token is None else tokenizer.encode(stop_token)[0]
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
        log_probs = self.reference.log_probs(self._prefix)
        if not np.isfinite(log_probs[action]):
            raise ValueError(f"action {action} ({self.tokenizer.decode([action])!r}) is masked: it is not among "
                             f"the reference model's top-{self.top_k} tokens here")
        token = action if self.action_tokens is None else int(self.action_tokens[action])
        before = self._prefix
        self._prefix = before + (token,)
        terminal = len(self._prefix) == self.max_new_tokens or token == self.stop_id
        self._done = terminal
        batch = Transitions(self.prompt, [before], np.array([token]), np.array([terminal]), self.tokenizer)
        reward = float(self.reward_fn(batch)[0]) + self.kl_coef * float(log_probs[action])
        info = self._info(terminal)
        info["ref_log_prob"] = float(log_probs[action])
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
