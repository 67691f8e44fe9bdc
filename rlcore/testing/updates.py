"""Checks of a student's learning updates and returns, on chosen transitions and trajectories (Sutton & Barto, 2nd ed., Chapters 5–7, 12).

The student's function is fed transitions of every kind that breaks code — ordinary ones,
*terminal* ones (S_{t+1} terminal: the target is the reward alone), *truncated* ones (a time limit:
S_{t+1} still has a value, so the target bootstraps), self-loops (s' = s), ties, γ = 0, α = 1 — and
its result is compared with the reference update built from :mod:`rlcore.learning.td`. A failure
says which kind of transition broke, with the numbers, and names the mistake when one of the
usual ones reproduces the result ("on a terminal transition you bootstrapped from Q(s', ·)").

To expose a bootstrap on termination, the table handed to the student holds nonzero values at the
terminal next state: in a real run they stay 0 and hide the mistake.

Signatures (positional arguments; the student returns the updated table — a new array or the one
it was given, updated in place; returning None counts as "updated in place"):

==================  ==============================================================================
``kind``            the student's function
==================  ==============================================================================
``"td0"``           ``td0(V, s, r, s_next, terminated, truncated, alpha, gamma) -> V``
``"q_learning"``    ``q_learning(Q, s, a, r, s_next, terminated, truncated, alpha, gamma) -> Q``
``"sarsa"``         ``sarsa(Q, s, a, r, s_next, a_next, terminated, truncated, alpha, gamma) -> Q``
``"expected_sarsa"`` ``expected_sarsa(Q, s, a, r, s_next, policy_next, terminated, truncated, alpha, gamma) -> Q``
==================  ==============================================================================

``V`` has shape (S,), ``Q`` shape (S, A); ``s``, ``a``, ``s_next``, ``a_next`` are ints; ``r``,
``alpha``, ``gamma`` floats; ``terminated`` and ``truncated`` bools (never both); ``policy_next``
is π(·|s_next), shape (A,). ``a_next`` is meaningless on a terminal transition (any action is passed).

Returns (:func:`check_returns`), with time on the last axis as in :mod:`rlcore.learning.td`:

==================  ==============================================================================
``"monte_carlo"``   ``returns(rewards, gamma) -> G``: G_t = R_{t+1} + γ G_{t+1} of a terminated
                    episode, rewards R_1..R_T shape (T,), G shape (T,)
``"discounted"``    ``returns(r_t, discount_t, v_T) -> G``, shape (T,) (:func:`rlcore.discounted_returns`)
``"n_step"``        ``n_step_return(r_t, discount_t, v_tpn) -> float`` (:func:`rlcore.n_step_return`)
``"lambda"``        ``lambda_returns(r_t, discount_t, values, lambda_) -> G``, values shape (T + 1,),
                    G shape (T,) (:func:`rlcore.lambda_returns`)
==================  ==============================================================================

``discount_t[t] = γ (1 − terminated)`` after step t: a 0 ends an episode (nothing after it may be
added in), a γ at the end is a truncation (bootstrap from ``v_T``).

Monte Carlo prediction (:func:`check_monte_carlo_prediction`):
``mc_prediction(episodes, n_states, gamma) -> V`` where ``episodes`` is a list of ``(states,
rewards)`` pairs of terminated episodes — states S_0..S_{T−1} (ints, shape (T,)) and rewards
R_1..R_T (shape (T,)) — and V (shape (n_states,)) averages the first-visit (or every-visit)
returns of each state, 0 for states never visited.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rlcore.learning.td import discounted_returns, expected_sarsa_target, n_step_return, q_learning_target, sarsa_target, td_target
from rlcore.policy_gradient.advantages import lambda_returns
from rlcore.testing._core import (
    DEFAULT_TIME_LIMIT,
    CheckFailed,
    answer_array,
    call_student,
    close,
    diagnose,
    num,
    run_cases,
    signed,
)
from rlcore.testing.battery import Case

KINDS = ("td0", "q_learning", "sarsa", "expected_sarsa")
RETURN_KINDS = ("monte_carlo", "discounted", "n_step", "lambda")
N_STATES, N_ACTIONS = 5, 3
ATOL = 1e-9


# ---------------------------------------------------------------------- one transition
def _transition(rng, kind, *, terminated=False, truncated=False, self_loop=False, tie=False, gamma=None, alpha=None):
    S, A = N_STATES, N_ACTIONS
    table = rng.normal(0.0, 2.0, S if kind == "td0" else (S, A))
    s = int(rng.integers(S))
    s_next = s if self_loop else int((s + 1 + rng.integers(S - 1)) % S)
    if tie and kind != "td0":
        table[s_next, :] = table[s_next].max()
    return dict(
        table=table, s=s, a=int(rng.integers(A)), r=float(np.round(rng.normal(0.0, 1.0), 3)), s_next=s_next,
        a_next=int(rng.integers(A)), policy_next=rng.dirichlet(np.ones(A)),
        terminated=bool(terminated), truncated=bool(truncated),
        alpha=float(rng.choice([0.1, 0.5]) if alpha is None else alpha),
        gamma=float(rng.choice([0.9, 0.99]) if gamma is None else gamma))


def _args(kind, t, table):
    head = (table, t["s"]) if kind == "td0" else (table, t["s"], t["a"])
    middle = {"td0": (), "q_learning": (), "sarsa": (t["a_next"],), "expected_sarsa": (t["policy_next"].copy(),)}[kind]
    return head + (t["r"], t["s_next"]) + middle + (t["terminated"], t["truncated"], t["alpha"], t["gamma"])


def _target(kind, t, table, discount):
    """The target of ``kind`` with a given discount (the reference uses γ(1 − terminated))."""
    r = t["r"]
    if kind == "td0":
        return td_target(r, discount, table[t["s_next"]])
    q_t = table[t["s_next"]]
    if kind == "q_learning":
        return q_learning_target(r, discount, q_t)
    if kind == "sarsa":
        return sarsa_target(r, discount, q_t, t["a_next"])
    return expected_sarsa_target(r, discount, q_t, t["policy_next"])


def _updated(kind, t, target=None, alpha=None, sign=1.0, discount=None):
    """The table after the update toward ``target`` (default: the reference target)."""
    table = t["table"].copy()
    if discount is None:
        discount = t["gamma"] * (1.0 - t["terminated"])
    if target is None:
        target = _target(kind, t, t["table"], discount)
    index = t["s"] if kind == "td0" else (t["s"], t["a"])
    alpha = t["alpha"] if alpha is None else alpha
    table[index] = table[index] + sign * alpha * (target - table[index])
    return table


def _mistakes(kind, t):
    """(message, thunk) for the usual mistakes on this transition."""
    nxt = "V(s')" if kind == "td0" else "Q(s', ·)"
    g = t["gamma"]
    table = t["table"]
    out = [
        (f"on a terminal transition you bootstrapped from {nxt}: when s' is terminal the target is r alone "
         "(discount γ·(1 − terminated) = 0).", lambda: _updated(kind, t, discount=g) if t["terminated"] else None),
        (f"on a truncated transition (a time limit, s' not terminal) you did not bootstrap from {nxt}: truncation is not "
         "termination — s' still has a value, so the target is r + γ·(value of s').",
         lambda: _updated(kind, t, discount=0.0) if t["truncated"] else None),
        ("γ is missing from the target: it is r + γ·(value of s').",
         lambda: _updated(kind, t, discount=1.0 - t["terminated"])),
        ("the step size α is missing: the update moves the estimate by α·(target − estimate), it does not replace it.",
         lambda: _updated(kind, t, alpha=1.0)),
        ("a sign error: the estimate moves toward the target, estimate += α·(target − estimate).",
         lambda: _updated(kind, t, sign=-1.0)),
    ]
    discount = g * (1.0 - t["terminated"])
    if kind == "td0":
        out.append(("the target bootstraps from V(s) of the state being updated, not from V(s').",
                    lambda: _updated(kind, t, target=t["r"] + discount * table[t["s"]])))
    else:
        q_t = table[t["s_next"]]
        if kind != "q_learning":
            out.append(("you used max_a Q(s', a) (Q-learning's target) where this target needs "
                        + ("Q(s', a_next), the action actually taken next." if kind == "sarsa"
                           else "the expectation Σ_a π(a|s') Q(s', a)."),
                        lambda: _updated(kind, t, target=t["r"] + discount * q_t.max())))
        if kind == "expected_sarsa":
            out.append(("you averaged Q(s', ·) uniformly instead of weighting by π(·|s').",
                        lambda: _updated(kind, t, target=t["r"] + discount * q_t.mean())))
        if kind == "q_learning":
            out.append(("you used the mean of Q(s', ·), not its maximum.", lambda: _updated(kind, t, target=t["r"] + discount * q_t.mean())))
        out.append(("the target bootstraps from Q(s, ·) of the state being updated, not from Q(s', ·).",
                    lambda: _updated(kind, t, target=_target(kind, dict(t, s_next=t["s"]), table, discount))))
    return out


def _scenarios(kind):
    """(name, kwargs of _transition) for every kind of transition, several draws each."""
    out = [("an ordinary transition", {}), ("a terminal transition", {"terminated": True}),
           ("a truncated transition (time limit)", {"truncated": True}),
           ("a self-loop (s' = s)", {"self_loop": True}), ("γ = 0", {"gamma": 0.0}), ("α = 1", {"alpha": 1.0})]
    if kind != "td0":
        out.insert(4, ("a tie in Q(s', ·)", {"tie": True}))
    return out


def check_td_update(fn: Callable, kind: str = "q_learning", *, draws: int = 4, seed: int = 0,
                    time_limit: float | None = DEFAULT_TIME_LIMIT, raise_on_failure: bool = True):
    """Check a student's one-step update — TD(0), Q-learning, SARSA or Expected SARSA (S&B eqs. 6.2, 6.7–6.9).

    The reference: ``table[s(, a)] += alpha * (target − table[s(, a)])`` with the target of
    :mod:`rlcore.learning.td` and ``discount_t = gamma * (1 − terminated)``. Every other entry of
    the table must stay unchanged. See the module docstring for each kind's signature.

    Args:
        fn: the student's update.
        kind: ``"td0"``, ``"q_learning"``, ``"sarsa"`` or ``"expected_sarsa"``.
        draws: random transitions per kind of transition.
        seed: seeds the transitions.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}; got {kind!r}")
    rng = np.random.default_rng(seed)
    cases = [Case(name, (lambda kw=kw: [_transition(rng, kind, **kw) for _ in range(draws)])) for name, kw in _scenarios(kind)]
    shape = (N_STATES,) if kind == "td0" else (N_STATES, N_ACTIONS)
    what = "V" if kind == "td0" else "Q"

    def run_one(case):
        for t in case.make():
            given = t["table"].copy()
            result = call_student(fn, _args(kind, t, given), name=f"your {kind} update", time_limit=time_limit,
                                  case=case.name)
            if result is None:
                result = given  # updated in place
            new = answer_array(result, f"the updated {what}", shape, f"the {what} table after the update", case.name)
            expected = _updated(kind, t)
            if np.all(close(new, expected, ATOL, ATOL)):
                continue
            raise _td_failure(kind, t, new, expected, case.name)

    return run_cases(f"check_td_update (kind={kind!r})", cases, run_one, raise_on_failure)


def _td_failure(kind, t, new, expected, case_name):
    table = t["table"]
    index = t["s"] if kind == "td0" else (t["s"], t["a"])
    label = f"V({t['s']})" if kind == "td0" else f"Q({t['s']}, {t['a']})"
    others = np.ones(table.shape, dtype=bool)
    others[index] = False
    changed = np.argwhere(others & ~close(new, table, ATOL, ATOL))
    desc = (f"s={t['s']}" + ("" if kind == "td0" else f", a={t['a']}") + f", r={t['r']:g}, s'={t['s_next']}"
            + (f", a'={t['a_next']}" if kind == "sarsa" else "")
            + (f", π(·|s')={np.round(t['policy_next'], 3).tolist()}" if kind == "expected_sarsa" else "")
            + f", terminated={t['terminated']}, truncated={t['truncated']}, α={t['alpha']:g}, γ={t['gamma']:g}")
    if changed.size:
        where = tuple(int(i) for i in changed[0])
        cell = f"V[{where[0]}]" if kind == "td0" else f"Q[{where[0]}, {where[1]}]"
        message = (f"On {case_name} ({desc}) your update changed {cell} from {num(table[where])} to {num(new[where])}: "
                   f"only {label} may change.")
        return CheckFailed(message, expected=float(table[where]), received=float(new[where]), case=case_name)
    diagnosis = diagnose(new, expected, _mistakes(kind, t), ATOL, ATOL)
    discount = t["gamma"] * (1.0 - t["terminated"])
    target = float(_target(kind, t, table, discount))
    bootstrap = {"td0": "V(s')", "q_learning": "max_a Q(s', a)", "sarsa": "Q(s', a')",
                 "expected_sarsa": "Σ_a π(a|s') Q(s', a)"}[kind]
    lines = [f"On {case_name} ({desc}):",
             f"  {label} should become {num(expected[index])}; yours is {num(new[index])} (it was {num(table[index])}).",
             f"  target = r + γ·(1 − terminated)·{bootstrap} = {t['r']:g} + {discount:g}·"
             f"{signed(float(_target(kind, t, table, 1.0)) - t['r'])} = {num(target)};  "
             f"{label} + α·(target − {label}) = {num(table[index])} + {t['alpha']:g}·({num(target)} − {signed(table[index])})."]
    return CheckFailed.from_lines(lines, expected=float(expected[index]), received=float(new[index]),
                                  diagnosis=diagnosis, case=case_name)


# ---------------------------------------------------------------------- returns
def _trajectories(rng, kind):
    """(name, make) pairs; make() -> list of dicts with r_t, discount_t, v_T / values, gamma, lambda_."""
    def episode(T, gamma, end="terminated", inner_end=False, lam=None):
        r = np.round(rng.normal(0.0, 1.0, T), 3)
        d = np.full(T, gamma)
        if end == "terminated":
            d[-1] = 0.0
        if inner_end and T > 2:
            d[T // 2] = 0.0
        values = np.round(rng.normal(0.0, 2.0, T + 1), 3)  # v_T ≠ 0 even after a termination: it must not be read
        return dict(r_t=r, discount_t=d, v_T=float(values[-1]), values=values, gamma=gamma,
                    lambda_=float(rng.choice([0.5, 0.8]) if lam is None else lam))

    if kind == "monte_carlo":
        return [("a one-step episode", lambda: [episode(1, 0.9)]),
                ("episodes of 5 steps, γ = 0.9", lambda: [episode(5, 0.9) for _ in range(3)]),
                ("an episode of 12 steps, γ = 0.5", lambda: [episode(12, 0.5)]),
                ("γ = 1", lambda: [episode(6, 1.0)]), ("γ = 0", lambda: [episode(4, 0.0)])]
    out = [("a terminated trajectory", lambda: [episode(5, 0.9) for _ in range(3)]),
           ("a truncated trajectory (bootstrap from the last state)", lambda: [episode(5, 0.9, end="truncated") for _ in range(3)]),
           ("a termination inside the window", lambda: [episode(6, 0.9, end="truncated", inner_end=True) for _ in range(3)]),
           ("one step", lambda: [episode(1, 0.9, end="truncated")]),
           ("γ = 1", lambda: [episode(4, 1.0, end="truncated")])]
    if kind == "lambda":
        out += [("λ = 0 (the TD target)", lambda: [episode(5, 0.9, end="truncated", lam=0.0)]),
                ("λ = 1 (the Monte Carlo return)", lambda: [episode(5, 0.9, end="truncated", lam=1.0)])]
    return out


def _return_reference(kind, x):
    if kind == "monte_carlo":
        return discounted_returns(x["r_t"], x["discount_t"], 0.0)
    if kind == "discounted":
        return discounted_returns(x["r_t"], x["discount_t"], x["v_T"])
    if kind == "n_step":
        return np.asarray(n_step_return(x["r_t"], x["discount_t"], x["v_T"]))
    return lambda_returns(x["r_t"], x["discount_t"], x["values"], x["lambda_"])


def _return_args(kind, x):
    if kind == "monte_carlo":
        return (x["r_t"].copy(), x["gamma"])
    if kind in ("discounted", "n_step"):
        return (x["r_t"].copy(), x["discount_t"].copy(), x["v_T"])
    return (x["r_t"].copy(), x["discount_t"].copy(), x["values"].copy(), x["lambda_"])


def _return_mistakes(kind, x):
    r, d, g = x["r_t"], x["discount_t"], x["gamma"]
    T = r.size
    never_stop = np.where(d == 0.0, g, d)  # as if no step terminated

    def forward():  # discounted sums of the rewards *before* each step
        out, acc = np.zeros(T), 0.0
        for t in range(T):
            acc = r[t] + g * acc
            out[t] = acc
        return out

    def pick(G):
        return G[..., 0] if kind == "n_step" else G

    if kind == "monte_carlo":
        return [("γ is missing: G_t = R_{t+1} + γ G_{t+1}.", lambda: discounted_returns(r, np.ones(T), 0.0)),
                ("you accumulated forwards in time: G_t sums the rewards *after* step t, so compute it backwards "
                 "from the end (G_T = 0).", forward),
                ("the returns are in reverse order: G[0] must be the return from the first step.",
                 lambda: discounted_returns(r, d, 0.0)[::-1]),
                ("you gave every step the return of the whole episode, G_0.", lambda: np.full(T, discounted_returns(r, d, 0.0)[0]))]
    out = [("bootstrapping across a termination: after a step with discount_t = 0 nothing more may be added "
            "(the episode ended there).", lambda: pick(discounted_returns(r, never_stop, x["v_T"])) if kind != "lambda"
            else lambda_returns(r, never_stop, x["values"], x["lambda_"])),
           ("the last state's value v_T is missing: a truncated trajectory bootstraps from it.",
            lambda: pick(discounted_returns(r, d, 0.0)) if kind != "lambda"
            else lambda_returns(r, d, np.append(x["values"][:-1], 0.0), x["lambda_"])),
           ("γ is missing (the discounts multiply the future).",
            lambda: pick(discounted_returns(r, (d > 0).astype(float), x["v_T"])) if kind != "lambda"
            else lambda_returns(r, (d > 0).astype(float), x["values"], x["lambda_"]))]
    if kind == "lambda":
        lam, values = x["lambda_"], x["values"]
        out += [("the (1 − λ) weight of the bootstrapped value is missing: G^λ_t = R_{t+1} + γ[(1 − λ) V(S_{t+1}) + λ G^λ_{t+1}].",
                 lambda: discounted_returns(r + d * values[1:], lam * d, values[-1])),
                ("λ and 1 − λ are swapped.", lambda: lambda_returns(r, d, values, 1.0 - lam))]
    return out


def check_returns(fn: Callable, kind: str = "discounted", *, seed: int = 0,
                  time_limit: float | None = DEFAULT_TIME_LIMIT, raise_on_failure: bool = True):
    """Check a student's return: Monte Carlo G_t, discounted returns with bootstrap, the n-step
    return or the λ-return (S&B eqs. 3.9, 7.1, 12.3). See the module docstring for the signatures."""
    if kind not in RETURN_KINDS:
        raise ValueError(f"kind must be one of {RETURN_KINDS}; got {kind!r}")
    rng = np.random.default_rng(seed)
    cases = [Case(name, make) for name, make in _trajectories(rng, kind)]

    def run_one(case):
        for x in case.make():
            result = call_student(fn, _return_args(kind, x), name="your return", time_limit=time_limit, case=case.name)
            expected = _return_reference(kind, x)
            shape = () if kind == "n_step" else expected.shape
            meaning = "the n-step return, one number" if kind == "n_step" else "one return per step"
            got = answer_array(result, "the return", shape, meaning, case.name)
            if np.all(close(got, expected, ATOL, ATOL)):
                continue
            diagnosis = diagnose(got, expected, _return_mistakes(kind, x), ATOL, ATOL)
            t = 0 if kind == "n_step" else int(np.argmax(np.abs(got - expected)))
            detail = (f"rewards {x['r_t'].tolist()}, " + (f"γ = {x['gamma']:g}" if kind == "monte_carlo"
                      else f"discount_t {x['discount_t'].tolist()}")
                      + ("" if kind == "monte_carlo" else (f", v_T = {x['v_T']:g}" if kind != "lambda"
                         else f", values {x['values'].tolist()}, λ = {x['lambda_']:g}")))
            where = "" if kind == "n_step" else f"G[{t}] "
            lines = [f"On {case.name} ({detail}):",
                     f"  {where}should be {num(np.ravel(expected)[t])}; yours is {num(np.ravel(got)[t])}."]
            if kind != "n_step":
                lines.append(f"  expected {np.round(expected, 4).tolist()}\n  received {np.round(got, 4).tolist()}")
            raise CheckFailed.from_lines(lines, expected=float(np.ravel(expected)[t]), received=float(np.ravel(got)[t]),
                                         diagnosis=diagnosis, case=case.name)

    return run_cases(f"check_returns (kind={kind!r})", cases, run_one, raise_on_failure)


# ---------------------------------------------------------------------- Monte Carlo prediction
def _mc_reference(episodes, n_states, gamma, first_visit=True):
    total, count = np.zeros(n_states), np.zeros(n_states)
    for states, rewards in episodes:
        G = discounted_returns(rewards, np.full(len(rewards), float(gamma)), 0.0)
        seen = set()
        for t, s in enumerate(states):
            if first_visit and s in seen:
                continue
            seen.add(s)
            total[s] += G[t]
            count[s] += 1
    return np.divide(total, count, out=np.zeros(n_states), where=count > 0)


def check_monte_carlo_prediction(fn: Callable, *, first_visit: bool = True, seed: int = 0,
                                 time_limit: float | None = DEFAULT_TIME_LIMIT, raise_on_failure: bool = True):
    """Check ``mc_prediction(episodes, n_states, gamma) -> V``: the average of the first-visit (or,
    with ``first_visit=False``, every-visit) returns of each state over the given episodes (S&B
    Section 5.1). The answer is exact for the episodes given, so it is compared to 1e-9.

    The episodes are sampled from the uniform policy on the random walk, the 4x4 gridworld (many
    revisits) and a random episodic MDP, with γ = 1 and γ = 0.9.
    """
    from rlcore import mdps
    from rlcore.exact.policies import uniform_policy
    from rlcore.policy_gradient.gradients import sample_episode
    from rlcore.testing.battery import episodic_garnet

    def episodes_of(make, n, gamma, episode_seed):
        mdp = make()
        rng = np.random.default_rng(episode_seed)
        out = []
        for _ in range(n):
            e = sample_episode(mdp, uniform_policy(mdp), rng)
            out.append((e.states[:-1].astype(int), e.rewards.astype(float)))
        return mdp.n_states, out, gamma

    cases = [
        Case("random_walk, 20 episodes, γ = 1", lambda: episodes_of(mdps.random_walk, 20, 1.0, seed)),
        Case("gridworld_4x4, 10 episodes, γ = 1 (states revisited)", lambda: episodes_of(mdps.gridworld_4x4, 10, 1.0, seed + 1)),
        Case("gridworld_4x4, 10 episodes, γ = 0.9", lambda: episodes_of(mdps.gridworld_4x4, 10, 0.9, seed + 2)),
        Case("episodic garnet, 15 episodes, γ = 0.9", lambda: episodes_of(lambda: episodic_garnet(6, 2, 3, seed=11), 15, 0.9, seed + 3)),
    ]
    visit = "first-visit" if first_visit else "every-visit"

    def run_one(case):
        n_states, episodes, gamma = case.make()
        given = [(s.copy(), r.copy()) for s, r in episodes]
        V = call_student(fn, (given, n_states, gamma), name="mc_prediction", time_limit=time_limit, case=case.name)
        V = answer_array(V, "V", (n_states,), "one value per state", case.name)
        expected = _mc_reference(episodes, n_states, gamma, first_visit)
        if np.all(close(V, expected, 1e-9, 1e-9)):
            return
        candidates = [
            ("you averaged every visit's return; first-visit Monte Carlo counts only the first visit of a state in each episode."
             if first_visit else "you counted only first visits; every-visit Monte Carlo averages every visit's return.",
             lambda: _mc_reference(episodes, n_states, gamma, not first_visit)),
            ("γ is missing from the returns.", lambda: _mc_reference(episodes, n_states, 1.0, first_visit)),
            ("you averaged over all episodes, counting episodes that never visit the state as a return of 0.",
             lambda: _mc_reference(episodes, n_states, gamma, first_visit) * _visit_share(episodes, n_states)),
        ]
        diagnosis = diagnose(V, expected, candidates, 1e-9, 1e-9)
        s = int(np.argmax(np.abs(V - expected)))
        lines = [f"On {case.name}: V[{s}] should be {num(expected[s])}, the average of the {visit} returns of state {s}; "
                 f"yours is {num(V[s])}."]
        raise CheckFailed.from_lines(lines, state=s, expected=float(expected[s]), received=float(V[s]),
                                     diagnosis=diagnosis, case=case.name)

    return run_cases(f"check_monte_carlo_prediction ({visit})", cases, run_one, raise_on_failure)


def _visit_share(episodes, n_states):
    visited = np.zeros(n_states)
    for states, _ in episodes:
        visited[np.unique(states)] += 1
    return visited / len(episodes)


__all__ = ["check_td_update", "check_returns", "check_monte_carlo_prediction", "KINDS", "RETURN_KINDS"]
