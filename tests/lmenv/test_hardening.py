"""Hardening: no silent wrong answers, errors that name the problem, Gymnasium and SB3 conventions kept.

1. a reward that returns a non-number, the wrong shape, NaN or ±inf, or raises, is named with what it
   returned, by every caller (TokenEnv, TokenVectorEnv, to_mdp, rollout);
2. ``stop_token`` is one character of the vocabulary;
3. TokenVectorEnv: ``reset_mask``, ``_key`` info masks (checked against SyncVectorEnv), a vector entry
   point, AsyncVectorEnv, SB3's ``render_mode="rgb_array"``, action masks on top-k environments;
4. checkpoints carry a SHA-256 digest of their tensors, checked on load;
5. with a subword tokenizer every action is one token by itself.

The environments run on a tiny random GPT (fast); the digest test reads the bundled checkpoint.
"""

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import textwrap

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from safetensors.torch import load_file, save_file

import lmenv
from lmenv import rewards as R
from lmenv.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from lmenv.model import GPT, GPTConfig
from lmenv.tokenizer import CharTokenizer

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VOCAB = "\n !,.:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def make(tiny, **kwargs):
    model, tokenizer = tiny
    defaults = dict(prompt="ROMEO:\n", max_new_tokens=4, actions="etaoinsh")
    return lmenv.TokenEnv(model=model, tokenizer=tokenizer, **{**defaults, **kwargs})


def make_vector(tiny, num_envs, **kwargs):
    model, tokenizer = tiny
    defaults = dict(prompt="ROMEO:\n", max_new_tokens=4, actions="etaoinsh")
    return lmenv.TokenVectorEnv(num_envs, model=model, tokenizer=tokenizer, **{**defaults, **kwargs})


# ---------------------------------------------------------------------------------------------- 1. rewards
def returns_text(text_before, token, terminal):
    return "abc"


def returns_none(text_before, token, terminal):
    return None


def returns_nan(text_before, token, terminal):
    return float("nan") if terminal else 0.0


def returns_inf(text_before, token, terminal):
    return -np.inf


def raises(text_before, token, terminal):
    return 1 / 0


class TwoColumns(R.Reward):
    def __call__(self, batch):
        return np.zeros((len(batch), 2))

    def __repr__(self):
        return "TwoColumns()"


class OneNumber(R.Reward):
    def __call__(self, batch):
        return 0.5

    def __repr__(self):
        return "OneNumber()"


BAD_REWARDS = {
    "text": (returns_text, r"returns_text.*returned.*'abc'"),
    "none": (returns_none, r"returns_none.*returned.*None"),
    "nan": (returns_nan, r"returns_nan.*returned nan for transition \d+ \(text before '[ab]'"),  # names it
    "inf": (returns_inf, r"returns_inf.*returned -inf"),
    "shape": (TwoColumns(), r"TwoColumns\(\).*shape \(\d+,\).*shape \(\d+, 2\)"),
    "scalar": (OneNumber(), r"OneNumber\(\).*returned 0\.5"),
    "raises": (raises, r"FunctionReward\(raises\) raised ZeroDivisionError"),
}


def step_env(tiny, reward):
    env = make(tiny, reward=reward, max_new_tokens=2, actions="ab")
    env.reset(seed=0)
    env.step(0)
    env.step(0)


def step_vector_env(tiny, reward):
    vec = make_vector(tiny, 3, reward=reward, max_new_tokens=2, actions="ab")
    vec.reset(seed=0)
    vec.step(np.zeros(3, dtype=int))
    vec.step(np.zeros(3, dtype=int))


def enumerate_tree(tiny, reward):
    lmenv.to_mdp(make(tiny, reward=reward, max_new_tokens=2, actions="ab"))


def roll_out(tiny, reward):
    from lmenv.policy import PolicyValueModel
    from lmenv.rollout import rollout

    env = make(tiny, reward=reward, max_new_tokens=2, actions="ab")
    rollout(PolicyValueModel(env), env, 4, torch.Generator().manual_seed(0))


@pytest.mark.parametrize("caller", [step_env, step_vector_env, enumerate_tree, roll_out])
@pytest.mark.parametrize("case", list(BAD_REWARDS))
def test_a_bad_reward_is_named_with_what_it_returned(tiny, caller, case):
    reward, message = BAD_REWARDS[case]
    with pytest.raises(ValueError, match=message) as excinfo:
        caller(tiny, reward)
    assert isinstance(excinfo.value, R.RewardError)
    if case == "raises":  # the reward's own exception is chained
        assert isinstance(excinfo.value.__cause__, ZeroDivisionError)


def test_call_reward_returns_floats_and_accepts_numbers_of_any_kind(tiny):
    model, tokenizer = tiny
    batch = R.Transitions("ROMEO:\n", [(), ()], np.array([1, 2]), np.array([False, True]), tokenizer)
    for fn in (lambda b, t, d: d, lambda b, t, d: 3, lambda b, t, d: np.float32(0.5), lambda b, t, d: torch.tensor(1.5)):
        r = R.call_reward(R.FunctionReward(fn), batch)
        assert r.dtype == np.float64 and r.shape == (2,)
    assert "FunctionReward(returns_text)" == repr(R.FunctionReward(returns_text))


# ---------------------------------------------------------------------------------------------- 2. stop_token
@pytest.mark.parametrize("stop_token, message", [
    ("ab", "stop_token must be one character; got 'ab'"),
    ("", "stop_token must be one character; got ''"),
    (7, "stop_token must be one character; got 7"),
    ("\u00e9", "stop_token '\u00e9' is not in the vocabulary"),
])
def test_stop_token_is_one_character_of_the_vocabulary(tiny, stop_token, message):
    with pytest.raises(ValueError, match=message):
        make(tiny, actions="vocab", stop_token=stop_token)


# ---------------------------------------------------------------------------------------------- 3. vector env
def assert_same_infos(vec_infos, sync_infos):
    """The vector env's infos are SyncVectorEnv's (but the texts): every key with its `_key` mask."""
    keys = {k for k in set(vec_infos) | set(sync_infos) if not k.startswith("_") and k != "text"}
    for key in keys:
        assert f"_{key}" in vec_infos or key not in vec_infos, f"info {key!r} has no '_{key}' mask"
        n = len(vec_infos.get(f"_{key}", sync_infos.get(f"_{key}")))
        vec_mask = vec_infos.get(f"_{key}", np.zeros(n, dtype=bool))
        sync_mask = sync_infos.get(f"_{key}", np.zeros(n, dtype=bool))
        np.testing.assert_array_equal(vec_mask, sync_mask, err_msg=f"_{key}")
        if key in vec_infos and key in sync_infos:
            np.testing.assert_allclose(vec_infos[key], sync_infos[key], atol=1e-5, err_msg=key)


def test_vector_env_matches_sync_vector_env_with_reset_mask_and_info_masks(tiny):
    model, tokenizer = tiny
    kwargs = dict(model=model, tokenizer=tokenizer, prompt="ROMEO:\n", max_new_tokens=3, actions="vocab", top_k=3,
                  stop_token=".", kl_coef=0.3, reward=R.ContainsWord("e") + R.AvoidCharacters("a", 0.1))
    vec = lmenv.TokenVectorEnv(4, **kwargs)
    sync = gym.vector.SyncVectorEnv([lambda: lmenv.TokenEnv(**kwargs) for _ in range(4)])
    obs, infos = vec.reset(seed=0)
    sync_obs, sync_infos = sync.reset(seed=0)
    np.testing.assert_array_equal(obs, sync_obs)
    assert_same_infos(infos, sync_infos)
    masked = 0
    for t in range(10):
        if t in (2, 6):  # reset sub-environments 0 and 2 only, mid-episode
            mask = np.array([True, False, True, False])
            obs, infos = vec.reset(options={"reset_mask": mask.copy()})
            sync_obs, sync_infos = sync.reset(options={"reset_mask": mask.copy()})
            np.testing.assert_array_equal(obs, sync_obs)
            assert_same_infos(infos, sync_infos)
        actions = vec.sample_reference_actions()
        masks = vec.action_masks()
        if t in (1, 4, 8) and not masks[3].all():
            actions[3] = int(np.flatnonzero(~masks[3])[0])  # a masked action: valid, π_ref(a|s) = 0
            masked += 1
        out, sync_out = vec.step(actions), sync.step(actions)
        for name, a, b in zip(("obs", "rewards", "terminated", "truncated"), out[:4], sync_out[:4]):
            np.testing.assert_allclose(a, b, atol=1e-5, err_msg=f"step {t}: {name}")
        assert_same_infos(out[4], sync_out[4])
    assert masked >= 2


def test_reset_mask_is_checked_like_sync_vector_env(tiny):
    vec = make_vector(tiny, 3)
    vec.reset(seed=0)
    with pytest.raises(TypeError, match="reset_mask.*numpy array"):
        vec.reset(options={"reset_mask": [True, False, True]})
    with pytest.raises(ValueError, match=r"reset_mask.*shape `\(3,\)`"):
        vec.reset(options={"reset_mask": np.ones(2, dtype=bool)})
    with pytest.raises(TypeError, match="reset_mask.*dtype"):
        vec.reset(options={"reset_mask": np.ones(3, dtype=int)})
    with pytest.raises(ValueError, match="reset_mask.*at least one True"):
        vec.reset(options={"reset_mask": np.zeros(3, dtype=bool)})


def test_partial_reset_keeps_the_other_episodes_exact(tiny):
    """After resetting some sub-environments mid-episode, the others go on with the right distributions."""
    vec = make_vector(tiny, 3, max_new_tokens=4)
    single = make(tiny, max_new_tokens=4)
    vec.reset(seed=0)
    for a in ([0, 1, 2], [3, 4, 5]):
        vec.step(np.array(a))
    obs, _ = vec.reset(options={"reset_mask": np.array([False, True, False])})
    assert (obs[1] == single.pad).all() and (obs[[0, 2], :2] != single.pad).all()
    obs, _, terminated, _, infos = vec.step(np.array([6, 7, 0]))
    for i in range(3):
        prefix = tuple(int(t) for t in obs[i] if t != single.pad)
        assert len(prefix) == (1 if i == 1 else 3) and not terminated[i]
        np.testing.assert_allclose(infos["ref_log_probs"][i], single.reference.log_probs(prefix), atol=1e-5)


def test_make_vec_uses_the_vector_entry_point(tiny):
    model, tokenizer = tiny
    vec = gym.make_vec("lmenv/TokenGeneration-v0", num_envs=4, vectorization_mode="vector_entry_point",
                       model=model, tokenizer=tokenizer, actions="ab", max_new_tokens=2)
    assert isinstance(vec, lmenv.TokenVectorEnv) and vec.num_envs == 4
    obs, infos = vec.reset(seed=0)
    assert obs.shape == (4, 2) and infos["_ref_log_probs"].all()
    sync = gym.make_vec("lmenv/TokenGeneration-v0", num_envs=2, vectorization_mode="sync",
                        model=model, tokenizer=tokenizer, actions="ab", max_new_tokens=2)
    assert isinstance(sync, gym.vector.SyncVectorEnv)


ASYNC_SCRIPT = textwrap.dedent("""
    import json
    import gymnasium as gym, numpy as np, torch
    import lmenv

    def make_env():
        return lmenv.TokenEnv(prompt="ROMEO:\\n", max_new_tokens=3, actions="etaoinsh", device="cpu")

    if __name__ == "__main__":
        torch.set_num_threads(2)  # the parent runs torch with a thread pool before forking
        env = make_env()
        env.reset(seed=0)
        env.step(0)
        vec = gym.vector.AsyncVectorEnv([make_env, make_env])  # the default start method: fork on Linux
        vec.reset(seed=0)
        for _ in range(3):
            obs, rewards, terminated, truncated, infos = vec.step(np.array([0, 1]))
        print(json.dumps([list(vec.call("text")), terminated.tolist()]))
        vec.close()
""")


def test_async_vector_env_with_fork_does_not_deadlock(tmp_path):
    script = tmp_path / "run_async.py"
    script.write_text(ASYNC_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, cwd=REPO)
    try:
        out, err = proc.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the script and its forked workers (its own process group)
        proc.communicate()
        pytest.fail("AsyncVectorEnv over TokenEnv deadlocked (fork start method)")
    assert proc.returncode == 0, err
    assert json.loads(out) == [["ROMEO:\neee", "ROMEO:\nttt"], [True, True]]


def test_unsupported_render_mode_fails_the_way_sb3_expects(tiny):
    """SB3's make_vec_env passes render_mode="rgb_array" and retries without it on a TypeError."""
    model, tokenizer = tiny
    with pytest.raises(TypeError, match=r"render_mode 'rgb_array' is not supported.*\['ansi'\]") as excinfo:
        make(tiny, render_mode="rgb_array")
    assert isinstance(excinfo.value, ValueError)  # as before, for callers that catch ValueError
    with pytest.raises(TypeError, match="render_mode"):
        gym.make("lmenv/TokenGeneration-v0", model=model, tokenizer=tokenizer, render_mode="rgb_array")
    vec = make_vector(tiny, 2, render_mode="ansi", max_new_tokens=2)
    vec.reset(seed=0)
    vec.step(np.array([1, 2]))
    assert vec.render_mode == "ansi" and vec.render() == ("ROMEO:\n\u2502t\n", "ROMEO:\n\u2502a\n")


def test_sb3_make_vec_env(tiny):
    env_util = pytest.importorskip("stable_baselines3.common.env_util")
    model, tokenizer = tiny
    vec = env_util.make_vec_env("lmenv/TokenGeneration-v0", n_envs=2, seed=0,
                                env_kwargs=dict(model=model, tokenizer=tokenizer, actions="ab", max_new_tokens=2))
    obs = vec.reset()
    assert obs.shape == (2, 2)
    obs, rewards, dones, infos = vec.step(np.array([0, 1]))
    assert obs.shape == (2, 2) and not dones.any()


def test_top_k_env_passes_the_gymnasium_checker_and_masked_actions_are_valid(tiny):
    check_env(make(tiny, actions="vocab", top_k=3))
    check_env(make(tiny, actions="vocab", top_k=3, kl_coef=0.5, reward=R.ContainsWord("a")))
    env = make(tiny, actions="vocab", top_k=3, reward=R.AvoidCharacters("a"))
    _, info = env.reset(seed=0)
    masked = int(np.flatnonzero(info["action_mask"] == 0)[0])
    _, reward, terminated, _, info = env.step(masked)  # valid (in the action space); π_ref(a|s) = 0
    assert info["ref_log_prob"] == -np.inf and reward == (-1.0 if VOCAB[masked] == "a" else 0.0)
    kl = make(tiny, actions="vocab", top_k=3, kl_coef=0.5)
    kl.reset(seed=0)
    obs, reward, *_ = kl.step(masked)
    assert reward == -np.inf  # J_β of leaving π_ref's support is −∞
    tree = lmenv.to_mdp(make(tiny, actions="vocab", top_k=3, max_new_tokens=2))  # the allowed tokens only
    assert tree.n_states == 1 + 3 + 9
    with pytest.raises(KeyError, match="not a state of the tree"):
        tree.state_of(obs[:2])


def test_action_masks_agree_with_info(tiny):
    env = make(tiny, actions="vocab", top_k=3, max_new_tokens=3)
    with pytest.raises(RuntimeError, match="call reset"):
        env.action_masks()
    _, info = env.reset(seed=0)
    for _ in range(3):
        mask = env.action_masks()
        assert mask.dtype == bool and mask.sum() == 3
        np.testing.assert_array_equal(mask, info["action_mask"].astype(bool))
        _, _, terminated, _, info = env.step(int(np.flatnonzero(mask)[0]))
    assert terminated and "action_mask" not in info
    with pytest.raises(RuntimeError, match="terminated"):
        env.action_masks()
    fixed = make(tiny)
    fixed.reset(seed=0)
    assert fixed.action_masks().all() and fixed.action_masks().shape == (8,)

    vec = make_vector(tiny, 3, actions="vocab", top_k=3, max_new_tokens=2)
    _, infos = vec.reset(seed=0)
    for _ in range(4):  # crosses an autoreset
        masks = vec.action_masks()
        assert masks.shape == (3, len(VOCAB)) and masks.dtype == bool
        have = infos["_action_mask"]
        np.testing.assert_array_equal(masks[have], infos["action_mask"][have].astype(bool))
        assert masks[~have].all()  # terminal: the next action is ignored (autoreset), so any action will do
        _, _, terminated, _, infos = vec.step(vec.sample_reference_actions())
        assert np.array_equal(~infos["_action_mask"], terminated)


def test_maskable_ppo_on_a_top_k_env(tiny):
    sb3_contrib = pytest.importorskip("sb3_contrib")
    taken = []

    class RecordReferenceLogProb(gym.Wrapper):
        def step(self, action):
            out = self.env.step(action)
            taken.append(out[4]["ref_log_prob"])
            return out

    env = RecordReferenceLogProb(make(tiny, actions="vocab", top_k=3, max_new_tokens=3, reward=R.AvoidCharacters("e")))
    agent = sb3_contrib.MaskablePPO("MlpPolicy", env, n_steps=32, batch_size=16, n_epochs=1, seed=0, device="cpu")
    agent.learn(64)
    assert len(taken) >= 64 and np.isfinite(taken).all()  # only allowed (top-k) tokens were taken


# ---------------------------------------------------------------------------------------------- 4. checkpoints
CKPT_VOCAB = "\n !,.?abcdefghijklmnopqrstuvwxyz"
CKPT_CFG = GPTConfig(vocab_size=len(CKPT_VOCAB), block_size=16, n_layer=2, n_head=2, n_embd=8)
BUNDLED_SAFETENSORS_SHA256 = "b1dd34376becff5ca6364d619d7d01c068e9e31e03a5346fd6e0b9faa281e670"  # the released weights


@pytest.fixture
def ckpt(tmp_path):
    torch.manual_seed(0)
    save_checkpoint(GPT(CKPT_CFG).eval(), CharTokenizer(CKPT_VOCAB), tmp_path / "m")
    return tmp_path / "m"


def test_altered_tensor_bytes_are_caught(ckpt):
    doc = json.loads(ckpt.with_suffix(".json").read_text())
    assert re.fullmatch(r"[0-9a-f]{64}", doc["tensors_sha256"])
    st = ckpt.with_suffix(".safetensors")
    data = bytearray(st.read_bytes())
    data[-4] ^= 0x01  # the lowest mantissa bit of the last weight (little-endian float32): finite, different logits
    st.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"m\.safetensors: the tensors' SHA-256 .* does not match .*m\.json"):
        load_checkpoint(ckpt)
    tensors = load_file(str(st))
    tensors["ln_f.weight"][0] += 0.5
    save_file(tensors, str(st))
    with pytest.raises(CheckpointError, match="SHA-256"):
        load_checkpoint(ckpt)


def test_digest_in_the_json_is_checked(ckpt):
    json_path = ckpt.with_suffix(".json")
    doc = json.loads(json_path.read_text())
    for bad, message in ((None, "missing key 'tensors_sha256'"), (12, "'tensors_sha256' should be str"),
                         ("abc", "'tensors_sha256' should be 64 hexadecimal digits")):
        edited = {k: v for k, v in doc.items() if k != "tensors_sha256"}
        if bad is not None:
            edited["tensors_sha256"] = bad
        json_path.write_text(json.dumps(edited))
        with pytest.raises(CheckpointError, match=message):
            load_checkpoint(ckpt)
    # a checkpoint of format version 1 (written before digests) still loads, with a warning
    legacy = {k: v for k, v in doc.items() if k != "tensors_sha256"} | {"format_version": 1}
    json_path.write_text(json.dumps(legacy))
    with pytest.warns(UserWarning, match=r"m\.json has no digest"):
        load_checkpoint(ckpt)


def test_bundled_checkpoint_carries_the_digest_of_its_unchanged_tensors():
    path = lmenv.pretrained_path()
    st, json_path = path.with_name(path.name + ".safetensors"), path.with_name(path.name + ".json")
    assert hashlib.sha256(st.read_bytes()).hexdigest() == BUNDLED_SAFETENSORS_SHA256
    doc = json.loads(json_path.read_text())
    assert doc["format_version"] == 2
    assert doc["tensors_sha256"] == lmenv.checkpoint.tensors_digest(load_file(str(st)))


# ---------------------------------------------------------------------------------------------- 5. subword tokenizers
def test_each_action_is_one_token_with_a_bpe_tokenizer():
    transformers = pytest.importorskip("transformers")
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    # a byte-level BPE (as GPT-2's): every byte is a token, and "i" "n" merge into one token "in"
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    backend = Tokenizer(models.BPE(vocab={c: i for i, c in enumerate(alphabet + ["in"])}, merges=[("i", "n")]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    tokenizer = lmenv.HFTokenizer(transformers.PreTrainedTokenizerFast(tokenizer_object=backend))
    assert len(tokenizer.encode("etaoinsh")) == 7  # encoding the joined string would give 7 actions
    assert len(tokenizer.encode("\u00e9")) == 2  # two bytes, two tokens
    torch.manual_seed(0)
    gpt2 = transformers.GPT2LMHeadModel(transformers.GPT2Config(n_layer=1, n_head=2, n_embd=16, n_positions=32,
                                                                vocab_size=tokenizer.vocab_size)).eval()
    model = lmenv.HFCausalLM(gpt2)
    env = lmenv.TokenEnv(model=model, tokenizer=tokenizer, max_new_tokens=2, actions="etaoinsh", stop_token="n")
    assert env.action_space.n == 8
    assert [tokenizer.decode([t]) for t in env.action_tokens] == list("etaoinsh")
    env.reset(seed=0)
    assert env.step(5)[4]["text"] == "ROMEO:\nn"  # the stop token
    with pytest.raises(ValueError, match="action '\u00e9' is not a single token: it encodes to 2 tokens"):
        lmenv.TokenEnv(model=model, tokenizer=tokenizer, actions="et\u00e9")
    with pytest.raises(ValueError, match="stop_token '\u00e9' is not a single token"):
        lmenv.TokenEnv(model=model, tokenizer=tokenizer, actions="vocab", stop_token="\u00e9")
