"""lmenv: a small character-level GPT on Shakespeare, to be used as a token-generation environment.

Importing the package loads no data and no model; see ``load_pretrained`` and docs/lmenv_model.md.
Pre-training lives in :mod:`lmenv.pretrain` (``PRESETS``, ``pretrain``, ``evaluate``), the learners
in :mod:`lmenv.learners`, rollouts in :mod:`lmenv.rollout`: no name here shadows a module.
"""

import gymnasium

from lmenv.bigram import cross_entropy as bigram_cross_entropy
from lmenv.bigram import fit_bigram
from lmenv.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from lmenv.corpus import load_corpus, train_val_split
from lmenv.model import GPT, GPTConfig, KVCache, cache_length, default_device, select_cache
from lmenv.pretrained import load_pretrained, pretrained_path
from lmenv.tokenizer import CharTokenizer
from lmenv import pretrain
from lmenv import rewards
from lmenv.abstraction import LastTokens
from lmenv.hf import HFCausalLM, HFConfig, HFTokenizer, load_hf
from lmenv import learners
from lmenv.monte_carlo import MonteCarloEstimate, monte_carlo_value
from lmenv.policy import PolicyValueModel
from lmenv.rollout import Rollout, sample_rollout  # the function rollout stays lmenv.rollout.rollout: no shadowed module
from lmenv.scoring import Score, score, score_model, tree_policy, visitation
from lmenv.reference import ReferencePolicy
from lmenv.token_env import TokenEnv, bundled_model
from lmenv.token_mdp import TokenMDP, to_mdp
from lmenv.vector_env import TokenVectorEnv
from lmenv import sweep  # (config, seed) runs as tasks, here or on a Ray cluster (docs/scaling.md)
from lmenv import kl_estimators, preferences, reward_model  # RLHF on the tree (docs/rlhf.md)
from lmenv.preferences import BradleyTerry, PreferencePairs, PromptDistribution, sample_preferences
from lmenv.reward_model import RewardModel
from lmenv import decoding, export, oracle  # value-guided decoding, the HF export, the exact oracle (docs/oracle.md)
from lmenv.oracle import Oracle

# gymnasium.make gives a TokenEnv; gymnasium.make_vec a TokenVectorEnv (one batched forward pass per
# step) unless vectorization_mode="sync" or "async" asks for Gymnasium's wrappers of TokenEnv.
gymnasium.register(id="lmenv/TokenGeneration-v0", entry_point="lmenv.token_env:TokenEnv",
                   vector_entry_point="lmenv.vector_env:TokenVectorEnv")

__all__ = [
    "GPT",
    "GPTConfig",
    "KVCache",
    "cache_length",
    "select_cache",
    "default_device",
    "CharTokenizer",
    "load_corpus",
    "train_val_split",
    "save_checkpoint",
    "load_checkpoint",
    "CheckpointError",
    "load_pretrained",
    "pretrained_path",
    "pretrain",
    "fit_bigram",
    "bigram_cross_entropy",
    # the token-level MDP
    "TokenEnv",
    "TokenVectorEnv",
    "ReferencePolicy",
    "rewards",
    "to_mdp",
    "TokenMDP",
    "LastTokens",
    "bundled_model",
    # the optional Hugging Face adapter (transformers is imported only when used)
    "HFCausalLM",
    "HFConfig",
    "HFTokenizer",
    "load_hf",
    # the transformer as the policy: learners scored exactly on the prefix tree
    "learners",
    "sweep",
    # RLHF: synthetic preferences, the reward model, KL estimators (docs/rlhf.md)
    "preferences",
    "reward_model",
    "kl_estimators",
    "BradleyTerry",
    "PreferencePairs",
    "PromptDistribution",
    "sample_preferences",
    "RewardModel",
    # exact answers for anyone's policy, value-guided decoding, the model in Hugging Face form (docs/oracle.md)
    "oracle",
    "Oracle",
    "decoding",
    "export",
    "PolicyValueModel",
    "Rollout",
    "sample_rollout",
    "Score",
    "score",
    "score_model",
    "tree_policy",
    "visitation",
    "MonteCarloEstimate",
    "monte_carlo_value",
]
