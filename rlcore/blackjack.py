"""Blackjack exactly as Sutton & Barto define it (2nd ed., Example 5.1), three ways: a Gymnasium
environment, a sampler of many episodes at once, and the exact model.

Lecture 5. The game: cards are drawn from an infinite deck (with replacement: ace … 9 with
probability 1/13 each, a ten-valued card — 10, jack, queen, king — with probability 4/13). The
player and the dealer get two cards each; one of the dealer's is face up. A player whose sum is
below 12 always hits (no decision), so the player's decisions happen in 200 states

    (player sum 12–21, dealer's showing card 1–10 (ace = 1), usable ace 0/1)

— an ace is *usable* when it can count as 11 without the sum exceeding 21. The player hits
(action 1) or sticks (action 0); going over 21 (*busting*) loses (reward −1). Once the player
sticks the dealer plays a fixed strategy: hit until the sum is 17 or more, then stick (a usable
ace counts as 11: the dealer sticks on a soft 17). A dealer who busts loses (+1); otherwise the
larger sum wins (+1 or −1) and equal sums draw (0). A *natural* (an ace and a ten-valued card as
the first two cards) wins at once (+1) unless the dealer also has one, in which case the game
is a draw (0). Every reward is 0 until the end and γ = 1, so the return is the final reward.

Three implementations of the same rules, each checked against the others in the tests:

- :class:`BlackjackEnv`, a Gymnasium environment with tuple observations, for one episode at a
  time (:func:`rlcore.train` and the tabular agents, whose tables are then dicts keyed by the
  tuples).
- :func:`play_blackjack`, a sampler of N episodes at once with numpy (no :class:`rlcore.MDP`
  involved), for the off-policy prediction experiments (Example 5.4, Figure 5.3).
- :func:`blackjack_mdp`, the exact model of the 200 decision states as an :class:`rlcore.MDP`
  (the dealer's final sum computed exactly by :func:`dealer_final_distribution`), whose
  optimal policy (value iteration) is the one of Figure 5.2.

States are also numbered 0–199 (:func:`state_index`): ``s = 100·usable_ace + 10·(player_sum − 12)
+ (dealer_card − 1)``, so that ``values.reshape(2, 10, 10)`` (:func:`as_grid`) gives the two panels
of the book's figures — [no usable ace, usable ace] × player sum 12–21 × dealer card ace–10.

References: Sutton & Barto (2018), Example 5.1 (Figures 5.1 and 5.2), Example 5.3, Example 5.4
(Figure 5.3); E. O. Thorp, *Beat the Dealer* (1966) for the basic strategy that Figure 5.2 matches.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from rlcore import _checks
from rlcore.exact.model import MDP
from rlcore.exact.policies import check_policy, sample

STICK, HIT = 0, 1  # the actions (Gymnasium's Blackjack-v1 uses the same numbers)
ACTIONS = ("stick", "hit")
PLAYER_SUMS = np.arange(12, 22)  # the player's sums at which a decision is made
DEALER_CARDS = np.arange(1, 11)  # the dealer's showing card, ace = 1
N_STATES = 200  # 10 sums × 10 dealer cards × usable ace or not
CARD_PROBS = np.r_[np.full(9, 1 / 13), 4 / 13]  # P(card value = 1, …, 10): an infinite deck
DEALER_STICKS = 17  # the dealer hits below this sum and sticks on it or more (a soft 17 included)


# ---------------------------------------------------------------------- states
def state_index(player_sum, dealer_card, usable_ace):
    """The index 0–199 of a decision state (numbers or arrays): 100·usable_ace + 10·(player_sum − 12) + dealer_card − 1.

    Raises:
        ValueError: for a sum outside 12–21 or a card outside 1–10.
    """
    player_sum, dealer_card = np.asarray(player_sum), np.asarray(dealer_card)
    if np.any((player_sum < 12) | (player_sum > 21)):
        raise ValueError(f"player_sum must lie in 12–21 (below 12 the player always hits); got {player_sum}")
    if np.any((dealer_card < 1) | (dealer_card > 10)):
        raise ValueError(f"dealer_card must lie in 1–10 (ace = 1); got {dealer_card}")
    index = 100 * np.asarray(usable_ace, dtype=np.int64) + 10 * (player_sum - 12) + dealer_card - 1
    return int(index) if index.ndim == 0 else index


def state_of(index):
    """(player_sum, dealer_card, usable_ace) of a state index 0–199 (numbers or arrays), the inverse of :func:`state_index`."""
    index = np.asarray(index)
    if np.any((index < 0) | (index >= N_STATES)):
        raise ValueError(f"a Blackjack state index lies in 0–199; got {index}")
    usable, rest = np.divmod(index, 100)
    sums, cards = np.divmod(rest, 10)
    if index.ndim == 0:
        return int(sums) + 12, int(cards) + 1, int(usable)
    return sums + 12, cards + 1, usable


def as_grid(values) -> np.ndarray:
    """A (200,) or (200, A) array over the states as (2, 10, 10) or (2, 10, 10, A): [usable ace][player sum − 12][dealer card − 1]."""
    values = np.asarray(values)
    if values.shape[0] != N_STATES:
        raise ValueError(f"expected one entry per Blackjack state, shape (200, ...); got shape {values.shape}")
    return values.reshape(2, 10, 10, *values.shape[1:])


def table_array(table, default: float = 0.0) -> np.ndarray:
    """An agent's dict table ``{(player_sum, dealer_card, usable_ace): values}`` as a (200, ...) array.

    States the agent never visited get ``default``. Keys outside the 200 decision states raise ValueError.
    """
    rows = {state_index(*key): np.asarray(value, dtype=float) for key, value in table.items()}
    width = next(iter(rows.values())).shape if rows else ()
    array = np.full((N_STATES, *width), float(default))
    for index, value in rows.items():
        array[index] = value
    return array


# ---------------------------------------------------------------------- the rules, on numbers or arrays
def draw_cards(rng: np.random.Generator, size=None):
    """Card values from an infinite deck: 1 (ace) … 9 with probability 1/13 each, 10 with 4/13."""
    return np.minimum(rng.integers(1, 14, size=size), 10)


def hand_value(hard, has_ace):
    """The value of a hand: its hard total (aces as 1), plus 10 when it has an ace that fits (a usable ace)."""
    return hard + 10 * usable(hard, has_ace)


def usable(hard, has_ace):
    """Whether a hand with hard total ``hard`` and an ace (``has_ace``) can count one ace as 11."""
    return has_ace & (hard + 10 <= 21)


def dealer_plays(hard, has_ace, rng: np.random.Generator) -> np.ndarray:
    """The dealer's final sums for hands (hard totals, has-an-ace), arrays of shape (N,): hit below 17, stick on 17 or more
    (a soft 17 included). A sum above 21 is a bust."""
    hard, has_ace = np.array(hard, dtype=np.int64), np.array(has_ace, dtype=bool)
    hitting = np.flatnonzero(hand_value(hard, has_ace) < DEALER_STICKS)
    while hitting.size:
        cards = draw_cards(rng, hitting.size)
        hard[hitting] += cards
        has_ace[hitting] |= cards == 1
        hitting = hitting[hand_value(hard[hitting], has_ace[hitting]) < DEALER_STICKS]
    return hand_value(hard, has_ace)


def outcome(player_sum, dealer_sum):
    """The reward when the player sticks on ``player_sum`` (≤ 21): +1 if the dealer busts or has less, 0 if equal, −1 if more."""
    if isinstance(dealer_sum, int):
        return 1.0 if dealer_sum > 21 else float((player_sum > dealer_sum) - (player_sum < dealer_sum))
    return np.where(dealer_sum > 21, 1.0, np.sign(player_sum - dealer_sum).astype(float))


# ---------------------------------------------------------------------- the environment
class BlackjackEnv(gym.Env):
    """Blackjack as in Sutton & Barto, Example 5.1 (see the module docstring for the rules).

    ## Description
    One game of blackjack against a dealer who sticks on 17 or more, with an infinite deck.

    ## Action Space
    ``Discrete(2)``: 0 = stick, 1 = hit.

    ## Observation Space
    ``Tuple(Discrete(20, start=12), Discrete(10, start=1), Discrete(2))``: the player's sum, the
    dealer's showing card (1 = ace … 10) and whether the player holds a usable ace (0 or 1). The
    sum is 12–21 at every decision; only the last observation after a bust shows more (up to 31).
    Sums below 12 are never observed: the player hits automatically there.

    ## Starting State
    By default the deal of the game: two cards each, then the player's automatic hits up to 12.
    ``exploring_starts=True`` draws the state uniformly from the 200 decision states instead (the
    dealer's hidden card is still drawn from the deck; such a start is never a natural), as Monte
    Carlo ES needs (Example 5.3). ``start=(player_sum, dealer_card, usable_ace)`` begins every
    episode in that state (Example 5.4 uses (13, 2, 1)); ``reset(options={"state": ...})`` does
    so for one episode.

    ## Rewards
    0 on every step but the last; +1 (win), 0 (draw) or −1 (loss) on the last.

    ## Episode End
    Termination when the player busts, when the player sticks (the dealer then plays out its
    hand), or on the first step after a natural deal — whatever the action, since a natural
    settles the game (+1, or 0 if the dealer has one too). Never truncated.

    ## Information
    ``info["natural"]`` after ``reset``: whether the deal is a natural. ``info["dealer_sum"]``: the
    dealer's final sum, on the last step when the dealer played.

    ## Arguments
    ``exploring_starts`` (default False), ``start`` (default None), ``render_mode`` (None or ``"ansi"``).
    """

    metadata = {"render_modes": ["ansi"]}

    def __init__(self, *, exploring_starts: bool = False, start=None, render_mode: str | None = None):
        if not isinstance(exploring_starts, (bool, np.bool_)):
            raise ValueError(f"exploring_starts must be True or False; got {exploring_starts!r}")
        if exploring_starts and start is not None:
            raise ValueError("give exploring_starts=True or a fixed start state, not both")
        if render_mode not in (None, "ansi"):
            raise ValueError(f"render_mode must be None or 'ansi'; got {render_mode!r}")
        self.exploring_starts = bool(exploring_starts)
        self.start = None if start is None else _check_state(start)
        self.render_mode = render_mode
        self.action_space = spaces.Discrete(2)
        self.observation_space = spaces.Tuple((spaces.Discrete(20, start=12), spaces.Discrete(10, start=1), spaces.Discrete(2)))
        self._over = True

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is not None or not hasattr(self, "_deck"):
            self._deck, self._next = [], 0  # cards are drawn from np_random in blocks
        state = self.start if not options or "state" not in options else _check_state(options["state"])
        self._natural = False
        if state is None and self.exploring_starts:
            ace, rest = divmod(int(self.np_random.integers(N_STATES)), 100)  # a uniform state (state_of)
            state = (rest // 10 + 12, rest % 10 + 1, ace)
        if state is not None:
            player_sum, self.dealer_card, ace = state
            self._hard, self._ace = player_sum - 10 * ace, bool(ace)
        else:
            first, second, self.dealer_card = self._card(), self._card(), self._card()
            self._hard, self._ace = first + second, 1 in (first, second)
            self._natural = hand_value(self._hard, self._ace) == 21
            while hand_value(self._hard, self._ace) < 12:  # no decision below 12: the player hits
                card = self._card()
                self._hard, self._ace = self._hard + card, self._ace or card == 1
        hidden = self._card()
        self._dealer = (self.dealer_card + hidden, self.dealer_card == 1 or hidden == 1)
        self._over = False
        return self._observation(), {"natural": self._natural}

    def step(self, action):
        if self._over:
            raise RuntimeError("the episode is over: call reset()")
        if action not in (STICK, HIT):
            raise ValueError(f"action must be 0 (stick) or 1 (hit); got {action!r}")
        info = {}
        if self._natural:  # a natural settles the game at once
            reward = 0.0 if hand_value(*self._dealer) == 21 else 1.0
            self._over = True
        elif action == HIT:
            card = self._card()
            self._hard, self._ace = self._hard + card, self._ace or card == 1
            self._over = hand_value(self._hard, self._ace) > 21
            reward = -1.0 if self._over else 0.0
        else:
            hard, ace = self._dealer
            while hand_value(hard, ace) < DEALER_STICKS:  # the dealer's fixed strategy (dealer_plays, one hand)
                card = self._card()
                hard, ace = hard + card, ace or card == 1
            dealer_sum = hand_value(hard, ace)
            reward = float(outcome(hand_value(self._hard, self._ace), dealer_sum))
            info["dealer_sum"] = dealer_sum
            self._over = True
        return self._observation(), reward, self._over, False, info

    def _card(self) -> int:
        """The next card of the infinite deck (drawn from ``np_random`` 256 at a time)."""
        if self._next == len(self._deck):
            self._deck, self._next = draw_cards(self.np_random, 256).tolist(), 0
        self._next += 1
        return self._deck[self._next - 1]

    def _observation(self):
        return int(hand_value(self._hard, self._ace)), self.dealer_card, int(usable(self._hard, self._ace))

    def render(self):
        if self.render_mode == "ansi":
            player_sum, card, ace = self._observation()
            return f"player {player_sum}{' (usable ace)' if ace else ''}, dealer shows {'A' if card == 1 else card}"
        return None


def _check_state(state):
    """(player_sum, dealer_card, usable_ace) as ints, or ValueError naming the problem."""
    try:
        player_sum, dealer_card, ace = state
    except (TypeError, ValueError):
        raise ValueError(f"a Blackjack state is (player_sum, dealer_card, usable_ace); got {state!r}") from None
    player_sum = _checks.whole(player_sum, "player_sum", 12)
    dealer_card = _checks.whole(dealer_card, "dealer_card", 1)
    state_index(player_sum, dealer_card, bool(ace))  # range checks
    if ace not in (0, 1):
        raise ValueError(f"usable_ace must be 0/1 or False/True; got {ace!r}")
    return player_sum, dealer_card, int(ace)


# ---------------------------------------------------------------------- many episodes at once
@dataclass(frozen=True, eq=False)
class BlackjackEpisodes:
    """N episodes of Blackjack, padded to the longest: what :func:`play_blackjack` returns.

    Attributes:
        states: the state index S_t of each decision (:func:`state_index`), shape (N, L); −1 after the end.
        actions: A_t (0 stick, 1 hit), shape (N, L); −1 after the end.
        lengths: T, the number of decisions of each episode, shape (N,).
        returns: G_0, the final reward (γ = 1, every other reward is 0), shape (N,).
        natural: whether the deal was a natural (settled on the first step, whatever the action), shape (N,).
    """

    states: np.ndarray
    actions: np.ndarray
    lengths: np.ndarray
    returns: np.ndarray
    natural: np.ndarray

    def probabilities(self, policy) -> np.ndarray:
        """π(A_t|S_t) of every decision under ``policy`` (200, 2), shape (N, L); 1 after the end
        (so that products over time, as in :func:`rlcore.learning.monte_carlo.importance_sampling_ratios`, ignore it)."""
        policy = check_policy(policy, N_STATES, 2)
        played = self.states >= 0
        probs = np.ones(self.states.shape)
        probs[played] = policy[self.states[played], self.actions[played]]
        return probs


def play_blackjack(policy, n_episodes: int, *, start=None, seed=None) -> BlackjackEpisodes:
    """Play N episodes of Blackjack under ``policy``, all at once with numpy (no :class:`rlcore.MDP` involved).

    Each step, every episode still running draws its action from π(·|S_t) and, if it hits, a card;
    the dealer then plays out all the hands that stuck at once. The rules are those of
    :class:`BlackjackEnv` (naturals included).

    Args:
        policy: π as a (200, 2) array over the states of :func:`state_index` (columns: stick, hit).
        n_episodes: N.
        start: None (the deal of the game), ``"exploring"`` (a uniform state of the 200 and a
            uniform first action: exploring starts, Example 5.3), or a state
            ``(player_sum, dealer_card, usable_ace)`` to begin every episode in (Example 5.4).
        seed: seed of the one ``numpy.random.Generator`` behind every draw (or a Generator).

    Returns:
        a :class:`BlackjackEpisodes`.
    """
    policy = check_policy(policy, N_STATES, 2)
    N = _checks.whole(n_episodes, "n_episodes", 1)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    exploring = isinstance(start, str)
    if exploring and start != "exploring":
        raise ValueError(f"start must be None, 'exploring' or a state (player_sum, dealer_card, usable_ace); got {start!r}")
    natural = np.zeros(N, dtype=bool)
    if start is None:
        cards = draw_cards(rng, (N, 3))
        hard, ace, dealer_card = cards[:, 0] + cards[:, 1], (cards[:, :2] == 1).any(axis=1), cards[:, 2]
        natural = hand_value(hard, ace) == 21
        low = np.flatnonzero(hand_value(hard, ace) < 12)
        while low.size:  # the automatic hits below 12
            card = draw_cards(rng, low.size)
            hard[low] += card
            ace[low] |= card == 1
            low = low[hand_value(hard[low], ace[low]) < 12]
    else:
        if exploring:
            player_sum, dealer_card, ace = state_of(rng.integers(N_STATES, size=N))
        else:
            player_sum, dealer_card, ace = (np.full(N, x) for x in _check_state(start))
        ace = ace.astype(bool)
        hard = player_sum - 10 * ace
    hidden = draw_cards(rng, N)
    dealer_hard, dealer_ace = dealer_card + hidden, (dealer_card == 1) | (hidden == 1)

    states = np.full((N, 8), -1, dtype=np.int16)
    actions = np.full((N, 8), -1, dtype=np.int8)
    returns = np.zeros(N)
    stuck = np.zeros(N, dtype=bool)
    playing = np.arange(N)
    t = 0
    while playing.size:
        if t == states.shape[1]:  # a long episode (many small cards): make room
            states = np.concatenate([states, np.full_like(states, -1)], axis=1)
            actions = np.concatenate([actions, np.full_like(actions, -1)], axis=1)
        s = state_index(hand_value(hard[playing], ace[playing]), dealer_card[playing], usable(hard[playing], ace[playing]))
        if exploring and t == 0:
            a = rng.integers(2, size=playing.size)
        else:
            a = sample(policy[s], rng.random(playing.size))  # A_t ~ π(·|S_t), one uniform number each
        states[playing, t], actions[playing, t] = s, a
        settled = natural[playing]  # a natural ends the game on its first step, whatever the action
        hitting = (a == HIT) & ~settled
        hits = playing[hitting]
        card = draw_cards(rng, hits.size)
        hard[hits] += card
        ace[hits] |= card == 1
        bust = np.zeros(playing.size, dtype=bool)
        bust[hitting] = hand_value(hard[hits], ace[hits]) > 21
        returns[playing[bust]] = -1.0
        stuck[playing[(a == STICK) & ~settled]] = True
        playing = playing[hitting & ~bust]
        t += 1
    naturals = np.flatnonzero(natural)
    returns[naturals] = np.where(hand_value(dealer_hard[naturals], dealer_ace[naturals]) == 21, 0.0, 1.0)
    stuck = np.flatnonzero(stuck)
    dealer_sum = dealer_plays(dealer_hard[stuck], dealer_ace[stuck], rng)
    returns[stuck] = outcome(hand_value(hard[stuck], ace[stuck]), dealer_sum)
    lengths = (states >= 0).sum(axis=1)
    L = int(lengths.max())
    return BlackjackEpisodes(states[:, :L], actions[:, :L], lengths, returns, natural)


# ---------------------------------------------------------------------- the exact model
@lru_cache(maxsize=None)
def dealer_final_distribution() -> np.ndarray:
    """P(dealer's final sum | showing card), exactly: shape (10, 6), rows = showing card 1–10,
    columns = final sum 17, 18, 19, 20, 21, bust. The hidden card is drawn from the deck (the
    dealer may have a natural 21; the player's decisions do not change it)."""

    @lru_cache(maxsize=None)
    def final(hard: int, ace: bool) -> tuple:
        value = hand_value(hard, ace)
        if value > 21:
            return (0.0,) * 5 + (1.0,)
        if value >= DEALER_STICKS:
            return tuple(float(value == v) for v in range(17, 22)) + (0.0,)
        total = np.zeros(6)
        for card, p in zip(range(1, 11), CARD_PROBS):
            total += p * np.array(final(hard + card, ace or card == 1))
        return tuple(total)

    table = np.zeros((10, 6))
    for showing in range(1, 11):
        for hidden, p in zip(range(1, 11), CARD_PROBS):
            table[showing - 1] += p * np.array(final(showing + hidden, showing == 1 or hidden == 1))
    table.setflags(write=False)
    return table


def blackjack_mdp(initial=None) -> MDP:
    """The exact model of Blackjack's 200 decision states as an :class:`rlcore.MDP` (γ = 1).

    States 0–199 are those of :func:`state_index`; states 200, 201, 202 are the terminal outcomes
    "win", "draw" and "loss", reached with rewards +1, 0, −1 (transition rewards, so a sampled
    episode pays what the card game pays). Hitting moves to the new sum — or to "loss" on a bust —
    with the card probabilities of an infinite deck; sticking moves to an outcome with the
    probabilities of :func:`dealer_final_distribution`. Value iteration on it gives q* and the
    optimal policy of Figure 5.2; policy evaluation gives v_π exactly (Example 5.4's −0.27726).

    Naturals settle the game before any decision, so they are not among these states; the model
    is the game from any decision state on. Start states (μ₀): uniform over the 200 states by
    default (exploring starts), or ``initial``, shape (203,).
    """
    S = N_STATES + 3
    WIN, DRAW, LOSS = N_STATES, N_STATES + 1, N_STATES + 2
    P = np.zeros((S, 2, S))
    R = np.zeros((S, 2, S))
    final = dealer_final_distribution()
    for s in range(N_STATES):
        player_sum, dealer_card, ace = state_of(s)
        dealer = final[dealer_card - 1]  # P(17), …, P(21), P(bust)
        sums = np.arange(17, 22)
        P[s, STICK, WIN] = dealer[5] + dealer[:5][sums < player_sum].sum()
        P[s, STICK, DRAW] = dealer[:5][sums == player_sum].sum()
        P[s, STICK, LOSS] = dealer[:5][sums > player_sum].sum()
        hard = player_sum - 10 * ace
        for card, p in zip(range(1, 11), CARD_PROBS):
            new_hard, new_ace = hard + card, bool(ace) or card == 1
            value = hand_value(new_hard, new_ace)
            target = LOSS if value > 21 else state_index(value, dealer_card, usable(new_hard, new_ace))
            P[s, HIT, target] += p
    for outcome_state in (WIN, DRAW, LOSS):
        P[outcome_state, :, outcome_state] = 1.0  # terminal: absorbing, value 0
    R[:N_STATES, :, WIN], R[:N_STATES, :, LOSS] = 1.0, -1.0
    terminal = np.zeros(S, dtype=bool)
    terminal[N_STATES:] = True
    if initial is None:
        initial = np.r_[np.full(N_STATES, 1 / N_STATES), np.zeros(3)]
    names = [f"({a}, {'A' if c == 1 else c}, {'usable' if u else 'no ace'})" for a, c, u in zip(*state_of(np.arange(N_STATES)))]
    return MDP(P, R, 1.0, terminal=terminal, initial=initial, state_names=[*names, "win", "draw", "loss"],
               action_names=list(ACTIONS))


def stick_on(threshold: int) -> np.ndarray:
    """The deterministic policy that sticks on sums ≥ ``threshold`` and hits below, shape (200, 2)
    (Example 5.1's policy is ``stick_on(20)``, also the target policy of Example 5.4)."""
    threshold = _checks.whole(threshold, "threshold", 12)
    sums, _, _ = state_of(np.arange(N_STATES))
    policy = np.zeros((N_STATES, 2))
    policy[np.arange(N_STATES), np.where(sums >= threshold, STICK, HIT)] = 1.0
    return policy


__all__ = [
    "STICK", "HIT", "ACTIONS", "N_STATES", "PLAYER_SUMS", "DEALER_CARDS", "CARD_PROBS",
    "state_index", "state_of", "as_grid", "table_array",
    "draw_cards", "hand_value", "usable", "dealer_plays", "outcome",
    "BlackjackEnv", "BlackjackEpisodes", "play_blackjack",
    "dealer_final_distribution", "blackjack_mdp", "stick_on",
]
