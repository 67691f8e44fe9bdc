"""The count-based exploration bonus."""

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import rlcore as rl
from rlcore import mdps


def test_bonus_is_beta_over_root_count_and_info_splits_it():
    env = rl.CountBonus(mdps.two_state().to_env(), scale=0.5)
    env.reset(seed=0)
    env.unwrapped._state = 0
    seen = {}
    for _ in range(6):
        obs, reward, terminated, truncated, info = env.step(0)  # "stay" in A: reward 0, next state A
        seen.setdefault(obs, 0)
        seen[obs] += 1
        assert info["extrinsic_reward"] == 0.0
        assert info["intrinsic_reward"] == pytest.approx(0.5 / np.sqrt(seen[obs]))
        assert reward == pytest.approx(info["extrinsic_reward"] + info["intrinsic_reward"])
    assert env.counts[0] == 6


def test_state_action_counts_and_array_observations():
    env = rl.CountBonus(mdps.two_state().to_env(), scale=1.0, per="state_action")
    s, _ = env.reset(seed=0)
    bonuses = [env.step(0)[4]["intrinsic_reward"] for _ in range(2)]  # "stay" twice: the same (s, a)
    assert bonuses == pytest.approx([1.0, 1 / np.sqrt(2)])
    assert env.counts[(s, 0)] == 2
    check_env(rl.CountBonus(mdps.cliff_walking().to_env(), scale=0.1).unwrapped)


def test_bad_arguments():
    with pytest.raises(ValueError, match="scale must be"):
        rl.CountBonus(mdps.two_state().to_env(), scale=-1)
    with pytest.raises(ValueError, match="per must be"):
        rl.CountBonus(mdps.two_state().to_env(), per="episode")
