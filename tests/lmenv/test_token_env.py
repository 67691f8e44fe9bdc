"""TokenEnv, its rewards, the prefix cache, the vector environment and the state abstraction.

Mechanics are tested on a tiny randomly initialised GPT (fast); test_token_mdp.py uses the
bundled model.
"""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import lmenv
from lmenv import rewards as R

VOCAB = "\n !,.:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def make(tiny, **kwargs):
    model, tokenizer = tiny
    defaults = dict(prompt="ROMEO:\n", max_new_tokens=4, actions="etaoinsh")
    return lmenv.TokenEnv(model=model, tokenizer=tokenizer, **{**defaults, **kwargs})


@pytest.mark.parametrize("kwargs", [
    dict(),
    dict(actions="vocab"),
    dict(actions="etaoins.", stop_token=".", reward=R.LengthBonus(0.1, stop=".", stop_bonus=1.0)),
    dict(kl_coef=0.5, reward=R.ContainsWord("he")),
])
def test_passes_gymnasium_env_checker(tiny, kwargs):
    check_env(make(tiny, render_mode="ansi", **kwargs), skip_render_check=False)
    # (top_k passes check_env too, whose random actions are mostly masked: see test_hardening.py.)


def test_registered_with_gymnasium(tiny):
    model, tokenizer = tiny
    env = gym.make("lmenv/TokenGeneration-v0", model=model, tokenizer=tokenizer, actions="ab", max_new_tokens=2)
    obs, info = env.reset(seed=0)
    assert obs.tolist() == [env.unwrapped.pad] * 2 and info["text"] == "ROMEO:\n"


def test_observation_info_and_termination(tiny):
    env = make(tiny, render_mode="ansi")
    obs, info = env.reset(seed=0)
    assert np.isclose(np.exp(info["ref_log_probs"]).sum(), 1.0)
    tokens = []
    for step, a in enumerate([1, 7, 2, 0]):  # t, h, a, e
        obs, reward, terminated, truncated, info = env.step(a)
        tokens.append(env.action_tokens[a])
        assert obs[:step + 1].tolist() == tokens and (obs[step + 1:] == env.pad).all()
        assert terminated == (step == 3) and not truncated
    assert info["text"] == "ROMEO:\nthae" and "ref_log_probs" not in info
    assert env.render() == "ROMEO:\n\u2502thae\n"
    with pytest.raises(RuntimeError, match="terminated: call reset"):
        env.step(0)


def test_invalid_and_masked_actions(tiny):
    env = make(tiny)
    with pytest.raises(RuntimeError, match="call reset"):
        env.step(0)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"invalid action 8"):
        env.step(8)
    topk = make(tiny, actions="vocab", top_k=3)
    _, info = topk.reset(seed=0)
    assert info["action_mask"].sum() == 3
    allowed = np.exp(info["ref_log_probs"][info["action_mask"] == 1])
    assert np.isclose(allowed.sum(), 1.0)
    masked = int(np.flatnonzero(info["action_mask"] == 0)[0])
    assert topk.step(masked)[4]["ref_log_prob"] == -np.inf  # valid (Gymnasium's convention), π_ref(a|s) = 0


def test_bad_arguments(tiny):
    model, tokenizer = tiny
    with pytest.raises(ValueError, match="not in the vocabulary"):
        make(tiny, actions="ab\u00e9")
    with pytest.raises(ValueError, match="stop_token"):
        make(tiny, stop_token=".")
    with pytest.raises(ValueError, match="kl_coef"):
        make(tiny, kl_coef=-1)
    with pytest.raises(ValueError, match="block_size"):
        make(tiny, max_new_tokens=40)
    with pytest.raises(ValueError, match="temperature"):
        make(tiny, temperature=0)
    with pytest.raises(ValueError, match="give both model and tokenizer"):
        lmenv.TokenEnv(model=model)
    with pytest.raises(TypeError, match="reward must be"):
        make(tiny, reward=3)


def test_temperature_and_top_k_reference(tiny):
    env = make(tiny, actions="vocab")
    hot = make(tiny, actions="vocab", temperature=2.0)
    top = make(tiny, actions="vocab", top_k=4)
    lp, lp_hot, lp_top = (e.reference.log_probs(()) for e in (env, hot, top))
    # π_T ∝ π^(1/T): log-probabilities at T = 2 are half those at T = 1, up to normalisation.
    np.testing.assert_allclose(lp_hot - lp_hot.max(), (lp - lp.max()) / 2, atol=1e-6)
    best = np.argsort(-lp)[:4]
    np.testing.assert_allclose(np.exp(lp_top[best]), np.exp(lp[best]) / np.exp(lp[best]).sum(), atol=1e-9)


def test_rewards_compose_and_mean_what_they_say(tiny):
    model, tokenizer = tiny
    batch = R.Transitions("ROMEO:\n", [(tokenizer.stoi["t"], tokenizer.stoi["h"]), ()],
                          np.array([tokenizer.stoi["e"], tokenizer.stoi["e"]]), np.array([True, False]), tokenizer)
    assert batch.texts_after == ["the", "e"]
    np.testing.assert_array_equal(R.ContainsWord("the", bonus=2.0)(batch), [2.0, 0.0])  # terminal only
    np.testing.assert_array_equal(R.AvoidCharacters("ex", penalty=0.5)(batch), [-0.5, -0.5])
    np.testing.assert_array_equal(R.LengthBonus(0.1, stop="e", stop_bonus=1.0)(batch), [1.1, 1.1])
    fn = R.FunctionReward(lambda before, token, terminal: len(before) + (10 if terminal else 0))
    np.testing.assert_array_equal(fn(batch), [12.0, 0.0])
    combined = R.ContainsWord("the") + 0.5 * R.AvoidCharacters("e") + fn
    np.testing.assert_array_equal(combined(batch), [1.0 - 0.5 + 12.0, -0.5])
    assert sum([R.ContainsWord("a"), R.AvoidCharacters("b")])(batch).shape == (2,)


def test_judge_log_likelihood_reward_is_the_judge_log_probability(tiny):
    model, tokenizer = tiny
    env = make(tiny, actions="vocab", reward=R.JudgeLogLikelihood(model))
    env.reset(seed=0)
    total, log_likelihood = 0.0, 0.0
    for _ in range(4):
        a = env.sample_reference_action()
        log_likelihood += env.reference.log_probs(env.prefix)[a]
        _, r, *_ = env.step(a)
        total += r
    assert total == pytest.approx(log_likelihood, abs=1e-5)


def test_kl_coefficient_adds_beta_log_reference(tiny):
    base, kl = make(tiny, reward=R.ContainsWord("a")), make(tiny, reward=R.ContainsWord("a"), kl_coef=0.7)
    for env in (base, kl):
        env.reset(seed=0)
    for a in [2, 2, 5, 1]:
        lp = base.reference.log_probs(base.prefix)[a]
        _, r0, *_ = base.step(a)
        _, r1, _, _, info = kl.step(a)
        assert r1 == pytest.approx(r0 + 0.7 * lp) and info["ref_log_prob"] == pytest.approx(lp)


def test_same_seed_same_episode(tiny):
    def episode(seed):
        env = make(tiny, actions="vocab", max_new_tokens=6)
        env.reset(seed=seed)
        while True:
            _, _, terminated, _, info = env.step(env.sample_reference_action())
            if terminated:
                return info["text"]
    assert episode(3) == episode(3)
    assert len({episode(s) for s in range(5)}) > 1


def test_prefix_cache_serves_revisited_prefixes_without_the_model(tiny):
    env = make(tiny)
    for _ in range(2):
        env.reset(seed=0)
        for a in [0, 1, 2]:
            env.step(a)
        if _ == 0:
            passes, cached = env.reference.forward_passes, len(env.reference)
    assert env.reference.forward_passes == passes and len(env.reference) == cached == 4


def test_vector_env_matches_single_env_and_autoresets(tiny):
    model, tokenizer = tiny
    kwargs = dict(model=model, tokenizer=tokenizer, prompt="ROMEO:\n", max_new_tokens=3, actions="etaoins.",
                  stop_token=".", reward=R.ContainsWord("te") + R.AvoidCharacters("a", 0.1), kl_coef=0.2)
    vec = lmenv.TokenVectorEnv(5, **kwargs)
    single = lmenv.TokenEnv(**kwargs)
    obs, infos = vec.reset(seed=1)
    assert obs.shape == (5, 3) and infos["ref_log_probs"].shape == (5, 8)
    checked = resets = 0
    for _ in range(25):
        actions = vec.sample_reference_actions()
        before = obs
        obs, rewards, terminated, truncated, infos = vec.step(actions)
        assert not truncated.any()
        for i in range(5):
            prefix = tuple(int(t) for t in before[i] if t != single.pad)
            if len(prefix) == 3 or (prefix and prefix[-1] == single.stop_id):  # next-step autoreset
                assert (obs[i] == single.pad).all() and rewards[i] == 0 and not terminated[i]
                resets += 1
                continue
            single.reset()
            single._prefix = prefix
            o, r, d, _, info = single.step(int(actions[i]))
            np.testing.assert_array_equal(o, obs[i])
            assert r == pytest.approx(rewards[i], abs=1e-5) and d == terminated[i]
            assert infos["ref_log_prob"][i] == pytest.approx(info["ref_log_prob"], abs=1e-5)
            if not d:
                np.testing.assert_allclose(infos["ref_log_probs"][i], info["ref_log_probs"], atol=1e-5)
            checked += 1
    assert checked > 60 and resets > 10


def test_vector_env_without_stop_token_uses_one_forward_per_step(tiny):
    model, tokenizer = tiny
    vec = lmenv.TokenVectorEnv(16, model=model, tokenizer=tokenizer, max_new_tokens=4, actions="etaoinsh")
    vec.reset(seed=0)
    start = vec.env.reference.forward_passes
    for _ in range(5):  # one episode (4 steps; the last needs no forward) and one reset step
        vec.step(vec.sample_reference_actions())
    assert vec.env.reference.forward_passes - start == 3
    with pytest.raises(ValueError, match="shape \\(16,\\)"):
        vec.step(np.zeros(3, dtype=int))


def test_last_tokens_abstraction(tiny):
    env = lmenv.LastTokens(make(tiny), k=2, with_position=True)
    obs, _ = env.reset(seed=0)
    pad = env.unwrapped.pad
    assert obs.tolist() == [pad, pad, 0]
    for a in [1, 7, 2]:
        obs, *_ = env.step(a)
    t, h, a_ = (env.unwrapped.action_tokens[i] for i in (1, 7, 2))
    assert obs.tolist() == [h, a_, 3]
    check_env(lmenv.LastTokens(make(tiny), k=1))
