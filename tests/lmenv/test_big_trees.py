"""The compact prefix tree of lmenv.to_mdp: equal to the tree by definition, solved exactly by backward
induction (equal to rlcore's solvers), sized before it is built, refused when it would not fit.

The environments run on a small random GPT (fast); bench/bench_tree.py measures the large trees
(600k states × 84 actions, 1.7M × 36) with the bundled model.
"""

import tracemalloc

import numpy as np
import pytest

import lmenv
import rlcore as rl
from lmenv import rewards as R
from lmenv.rewards import Transitions, call_reward
from lmenv.token_mdp import TreeTooLarge, estimate_tree

TASK = R.ContainsWord("the") + R.AvoidCharacters("s", 0.2)


def make(tiny, **kwargs):
    model, tokenizer = tiny
    kwargs = {"prompt": "ROMEO:\nI ", "max_new_tokens": 3, "actions": "etaoinsh", "reward": TASK, "kl_coef": 0.2,
              **kwargs}
    return lmenv.TokenEnv(model=model, tokenizer=tokenizer, **kwargs)


KINDS = {
    "fixed set": {},
    "stop token": {"actions": "eth ", "stop_token": " ", "max_new_tokens": 5},
    "top_k": {"actions": "vocab", "top_k": 3, "max_new_tokens": 4},
    "vocabulary": {"actions": "vocab", "max_new_tokens": 2, "reward": R.ContainsWord("e")},
}


@pytest.fixture(scope="module", params=list(KINDS))
def env_and_tree(request, tiny):
    env = make(tiny, **KINDS[request.param])
    return env, lmenv.to_mdp(env)


def by_definition(env):
    """The tree from the definitions alone, depth first: prefix -> (π_ref over the MDP actions,
    task rewards, children), each child's reward from its own one-transition call of the reward."""
    ref = env.reference
    tree = {}

    def visit(prefix):
        if len(prefix) == env.max_new_tokens or (prefix and prefix[-1] == env.stop_id):
            return
        log_probs = ref.log_probs(prefix)
        kids = ref.children(prefix)
        if ref.top_k is not None:
            kids = kids[:ref.top_k]
        tokens = [k[-1] for k in kids]
        rows = tokens if ref.action_tokens is None else list(range(len(kids)))
        probs = np.exp(log_probs[rows])
        rewards = []
        for kid in kids:
            leaf = len(kid) == env.max_new_tokens or kid[-1] == env.stop_id
            batch = Transitions(env.prompt, [prefix], np.array([kid[-1]]), np.array([leaf]), env.tokenizer)
            rewards.append(float(call_reward(env.reward_fn, batch)[0]))
        tree[prefix] = (probs / probs.sum(), np.array(rewards), kids, tokens)
        for kid in kids:
            visit(kid)

    visit(())
    return tree


# ---------------------------------------------------------------------------------------------- the tree
def test_the_compact_tree_is_the_tree_by_definition(env_and_tree):
    env, tree = env_and_tree
    expected = by_definition(env)
    assert tree.live_states.size == len(expected)
    assert tree.n_states == 1 + sum(len(kids) for _, _, kids, _ in expected.values())
    for s in tree.live_states:
        prefix = tree.prefixes[s]
        probs, rewards, kids, tokens = expected[prefix]
        row = tree._live_row[s]
        order = np.argsort(tokens) if env.action_tokens is None and env.top_k is None else np.arange(len(tokens))
        np.testing.assert_allclose(tree.live_reference[row], probs[order], rtol=1e-12, atol=0)
        np.testing.assert_array_equal(tree.live_task_rewards[row], rewards[order])
        assert [tree.prefixes[c] for c in tree.live_children[row]] == [kids[i] for i in order]
        np.testing.assert_array_equal(tree.env_actions[s], np.array(tokens)[order] if env.top_k or
                                      env.action_tokens is None else np.arange(len(tokens)))
    assert int(tree.terminal.sum()) == tree.n_states - len(expected)
    # prefixes, index and depth agree with one another
    prefixes = list(tree.prefixes)
    assert prefixes == [tree.prefixes[s] for s in range(tree.n_states)] and prefixes[0] == ()
    assert all(tree.index[p] == s for s, p in enumerate(prefixes))
    np.testing.assert_array_equal(tree.depth, [len(p) for p in prefixes])
    assert (99, 98) not in tree.index and len(tree.index) == tree.n_states
    with pytest.raises(KeyError):
        tree.index[(99, 98)]


def test_the_rlcore_mdp_is_made_on_first_use_and_is_the_same_tree(env_and_tree):
    env, tree = env_and_tree
    fresh = lmenv.to_mdp(env)
    fresh.kl_regularised_optimum(0.3)
    fresh.optimum()
    assert not {"mdp", "task_mdp", "reference", "env_actions"} & set(vars(fresh))  # the solvers need none of them
    mdp = fresh.mdp
    assert "mdp" in vars(fresh)
    P = mdp.P_flat.tocsr()
    assert np.all(np.diff(P.indptr) == 1)  # one successor per (s, a)
    child = P.indices.reshape(tree.n_states, tree.n_actions)
    np.testing.assert_array_equal(child[tree.live_states], tree.live_children)
    np.testing.assert_array_equal(mdp.terminal, tree.terminal)
    with np.errstate(divide="ignore"):
        paid = tree.live_task_rewards + env.kl_coef * np.log(tree.live_reference)
    np.testing.assert_array_equal(fresh.task_mdp.R[tree.live_states], tree.live_task_rewards)
    np.testing.assert_array_equal(mdp.R[tree.live_states], paid)
    assert mdp.state_names[tree.live_states[-1]] == tree.state_name(tree.live_states[-1])


# ---------------------------------------------------------------------------------------------- the solvers
def test_backward_induction_equals_rlcores_solvers(env_and_tree):
    env, tree = env_and_tree
    rng = np.random.default_rng(0)
    S, A = tree.n_states, tree.n_actions
    for beta in (0.05, 0.7):
        lean = tree.kl_regularised_optimum(beta)
        vi = rl.soft_value_iteration(tree.task_mdp, beta, reference=tree.reference)
        np.testing.assert_allclose(lean.V, vi.V, atol=1e-10)
        np.testing.assert_allclose(lean.Q, vi.Q, atol=1e-10)
        np.testing.assert_allclose(lean.policy, vi.policy, atol=1e-10)
        # the environment's own MDP, soft value iteration without a reference, gives the same optimum
        np.testing.assert_allclose(rl.soft_value_iteration(tree.mdp, beta).V, lean.V, atol=1e-9) \
            if beta == env.kl_coef else None
    for env_rewards, mdp in ((False, tree.task_mdp), (True, tree.mdp)):
        hard, vi = tree.optimum(env_rewards=env_rewards), rl.value_iteration(mdp)
        np.testing.assert_allclose(hard.V, vi.V, atol=1e-12)
        np.testing.assert_array_equal(hard.policy, vi.policy)
        policy = rng.dirichlet(np.ones(A), size=S)
        np.testing.assert_allclose(tree.policy_value(policy, env_rewards), rl.policy_evaluation(mdp, policy).V,
                                   atol=1e-12)
    policy = rng.dirichlet(np.ones(A), size=S)
    with np.errstate(divide="ignore"):
        kl = np.where(tree.terminal, 0.0, (policy * np.log(policy / tree.reference)).sum(1))
    regularised = rl.MDP(tree.task_mdp.P, tree.task_mdp.R - 0.3 * kl[:, None], 1.0, terminal=tree.terminal,
                         initial=tree.task_mdp.initial)
    np.testing.assert_allclose(tree.kl_regularised_value(policy, 0.3), rl.policy_evaluation(regularised, policy).V,
                               atol=1e-12)
    np.testing.assert_allclose(tree.kl_regularised_value(policy[tree.live_states], 0.3),
                               tree.kl_regularised_value(policy, 0.3), atol=0)  # the live rows alone will do


def test_a_wrong_backup_is_caught(env_and_tree):
    """Negative control: the soft backup without π_ref (uniform prior) is another optimum."""
    env, tree = env_and_tree
    right = tree.kl_regularised_optimum(0.2)
    wrong = rl.soft_value_iteration(tree.task_mdp, 0.2)
    assert np.abs(right.V - wrong.V).max() > 1e-3


# ---------------------------------------------------------------------------------------------- memory
def test_the_estimate_counts_the_states_exactly(env_and_tree):
    env, tree = env_and_tree
    estimate = estimate_tree(env)
    assert estimate.actions == tree.n_actions
    assert (estimate.states, estimate.live_states) == (tree.n_states, tree.live_states.size)
    assert "states ×" in str(estimate) and "GiB" in str(estimate)


def test_a_tree_that_would_not_fit_is_refused_with_the_estimate(tiny):
    env = make(tiny)
    estimate = estimate_tree(env)
    with pytest.raises(TreeTooLarge, match=r"585 states × 8 actions .* about 0\.\d\d GiB .* max_memory = ") as error:
        lmenv.to_mdp(env, max_memory=estimate.total - 1)
    assert isinstance(error.value, MemoryError) and isinstance(error.value, ValueError)
    tree = lmenv.to_mdp(env, max_memory=estimate.total)  # just enough
    assert tree.n_states == 585
    tree.max_memory = 1000  # an rlcore MDP of it would need more
    with pytest.raises(TreeTooLarge, match="rlcore MDP .* tree.kl_regularised_optimum"):
        tree.mdp
    for bad in (0, -5, "4GiB", float("nan"), True):
        with pytest.raises(ValueError, match="max_memory must be a positive number of bytes"):
            lmenv.to_mdp(env, max_memory=bad)
    with pytest.raises(ValueError, match="max_states"):
        lmenv.to_mdp(make(tiny, max_new_tokens=8))  # 8^8: more than the default max_states


def test_the_estimate_bounds_what_is_allocated(tiny):
    """tracemalloc (numpy's arrays and Python's objects) during to_mdp and one solve stays under the
    estimate; the solution's own arrays are what the estimate says."""
    env = make(tiny, max_new_tokens=5)  # 37,449 states
    lmenv.to_mdp(env)  # the forward passes once (torch's own buffers are not traced)
    estimate = estimate_tree(env)
    tracemalloc.start()
    try:
        tree = lmenv.to_mdp(env)
        _, build_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        solution = tree.kl_regularised_optimum(0.2)
        _, solve_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert tree.n_states == estimate.states == 37_449
    assert build_peak < estimate.tree_bytes + estimate.cache_bytes
    kept = solution.V.nbytes + solution.Q.nbytes + solution.policy.nbytes
    assert kept <= estimate.solution_bytes < 2 * kept
    assert solve_peak - before <= estimate.solution_bytes


def test_fill_cache_false_builds_the_same_tree_without_caching(tiny):
    env = make(tiny, max_new_tokens=4)
    assert len(env.reference) == 0
    lean = lmenv.to_mdp(env, fill_cache=False)
    assert len(env.reference) == 0  # nothing kept
    full = lmenv.to_mdp(env)
    assert len(env.reference) == full.live_states.size
    for name in ("parent", "token", "depth", "terminal", "live_children", "live_reference", "live_task_rewards"):
        np.testing.assert_array_equal(getattr(lean, name), getattr(full, name))


def test_a_larger_tree_is_solved_exactly(tiny):
    """8 actions, horizon 6: 299,593 states, the KL-regularised optimum checked against soft value iteration."""
    env = make(tiny, max_new_tokens=6, reward=R.AvoidCharacters("ea", 0.5))
    tree = lmenv.to_mdp(env, batch_size=4096)
    assert tree.n_states == sum(8**t for t in range(7))
    lean = tree.kl_regularised_optimum(0.1)
    np.testing.assert_allclose(lean.V, rl.soft_value_iteration(tree.task_mdp, 0.1, reference=tree.reference).V,
                               atol=1e-10)
    # V*_β(s_0) = β log E_π_ref[exp(R(y)/β)] over the finished sequences (the optimum's closed form on a tree)
    leaves = np.flatnonzero(tree.terminal)
    log_p = np.zeros(tree.n_states)
    returns = np.zeros(tree.n_states)
    for _, lo, hi in tree._levels:
        states = tree.live_states[lo:hi]
        log_p[tree.live_children[lo:hi]] = log_p[states, None] + np.log(tree.live_reference[lo:hi])
        returns[tree.live_children[lo:hi]] = returns[states, None] + tree.live_task_rewards[lo:hi]
    closed_form = 0.1 * np.log(np.sum(np.exp(log_p[leaves] + returns[leaves] / 0.1)))
    assert lean.V[0] == pytest.approx(closed_form, abs=1e-10)
