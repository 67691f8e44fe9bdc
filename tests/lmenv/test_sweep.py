"""lmenv.sweep: (config, seed) runs as tasks give what the learners give when called one after another.

The Ray test starts a Ray instance on this machine (2 CPUs) and is skipped where Ray is not
installed (the optional extra ``ray``). Ray 2.x has no "local mode" any more: its tasks run in
worker processes, which is the case worth testing (nothing is shared with the driver).
"""

import dataclasses
import shutil
import tempfile

import numpy as np
import pytest
import torch

import lmenv
from lmenv import rewards as R
from lmenv import sweep
from lmenv.learners import a2c, reinforce
from lmenv.policy import PolicyValueModel
from lmenv.scoring import score_model

ENV = {"prompt": "ROMEO:\nI ", "max_new_tokens": 3, "actions": "etaoinsh",
       "reward": R.ContainsWord("he") + R.AvoidCharacters("s", 0.2), "kl_coef": 0.1}
CONFIGS = {"reinforce": reinforce.Config(iterations=3, batch_size=16, learning_rate=1e-3),
           "a2c": a2c.Config(iterations=3, batch_size=16, learning_rate=1e-3)}
SEEDS = (0, 1)


def direct(name, seed):
    """The run as a user writes it: a fresh environment and tree, the learner's train with the seed."""
    env = lmenv.TokenEnv(**ENV)
    tree = lmenv.to_mdp(env)
    config = dataclasses.replace(CONFIGS[name], seed=seed, progress=False)
    return lmenv.learners.learner_of(config).train(env, config, tree=tree)


def assert_same_run(run, result):
    assert run.score == result.score  # every field, exactly
    assert run.history.keys() == result.history.keys()
    for key, (steps, values) in result.history.items():
        np.testing.assert_array_equal(run.history[key][0], steps)
        np.testing.assert_array_equal(run.history[key][1], values)
    assert (run.tokens, run.episodes) == (result.tokens, result.episodes)


@pytest.fixture(scope="module")
def local_runs():
    return sweep.run(CONFIGS, SEEDS, env=ENV, progress=False, keep_weights=True)


def test_a_sweep_here_equals_the_runs_one_after_another(local_runs):
    assert [(r.name, r.seed) for r in local_runs] == [(n, s) for n in CONFIGS for s in SEEDS]
    for run in local_runs:
        assert run.config.seed == run.seed and run.config.iterations == 3
        assert_same_run(run, direct(run.name, run.seed))
    assert local_runs[0].score != local_runs[1].score  # the seed matters


def test_runs_do_not_depend_on_what_ran_before(local_runs):
    """The seeds in the other order, and the global RNG disturbed: the same runs (no shared state)."""
    torch.manual_seed(999)
    again = sweep.run({"a2c": CONFIGS["a2c"]}, SEEDS[::-1], env=ENV, progress=False)
    by_seed = {r.seed: r for r in local_runs if r.name == "a2c"}
    for run in again:
        assert run.score == by_seed[run.seed].score


def test_the_kept_weights_are_the_trained_network(local_runs):
    run = local_runs[0]
    env = lmenv.TokenEnv(**ENV)
    net = PolicyValueModel(env)
    net.load_state_dict(run.state_dict)
    assert score_model(net, lmenv.to_mdp(env)) == run.score


def test_table_and_argument_checks(local_runs):
    text = sweep.table(local_runs)
    assert text.count("\n") == 3 and "| reinforce | 2 |" in text and "%" in text
    assert [r.name for r in sweep.run([CONFIGS["a2c"], CONFIGS["a2c"]], [0], env=ENV, exact=False,
                                      progress=False)] == ["a2c", "a2c#2"]
    with pytest.raises(ValueError, match="seed must be a whole number"):
        sweep.run(CONFIGS, [-1], env=ENV)
    with pytest.raises(ValueError, match="at least one seed"):
        sweep.run(CONFIGS, [], env=ENV)
    with pytest.raises(TypeError, match="learner's Config"):
        sweep.run({"x": {"iterations": 3}}, [0], env=ENV)
    with pytest.raises(TypeError, match="env must be a callable"):
        sweep.run(CONFIGS, [0], env=3)
    with pytest.raises(ValueError, match="threads"):
        sweep.run(CONFIGS, [0], env=ENV, threads=0)


def test_a_sweep_on_ray_equals_the_runs_one_after_another(local_runs):
    pytest.importorskip("ray")
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths must stay under 108 bytes
    try:
        runs = sweep.run({"reinforce": CONFIGS["reinforce"]}, SEEDS, env=ENV, address="local", progress=False,
                         ray_options={"num_cpus": 2, "_temp_dir": temp})  # two tasks, in parallel
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    here = [r for r in local_runs if r.name == "reinforce"]
    assert [(r.name, r.seed) for r in runs] == [(r.name, r.seed) for r in here]
    for run, here in zip(runs, here):
        assert run.score == here.score
        for key, (steps, values) in here.history.items():
            np.testing.assert_array_equal(run.history[key][1], values)
