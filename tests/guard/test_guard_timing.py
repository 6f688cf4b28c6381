"""Synchronised-timing links (score/timing.py): the null of independent accounts, each active in
the minutes of a clock hour at its own rate in that hour.

Played as the attacker of the module docstring: a scheduler driving accounts at the same minutes is
linked; people who keep the same busy hours (and share minutes by chance inside them) are not. The
p-value is cross-checked against a naive pair-by-pair reference written from the docstring's
formula (sets of minutes, a dict of clock hours, the Poisson pmf summed by hand).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from stillwatch.guard.score.config import DetectConfig
from stillwatch.guard.score.timing import MINUTE_US, SLOT_MINUTES, timing_links

CFG = DetectConfig()
DAY_MIN = 1440


def _busy_hours_people(rng: np.random.Generator, n: int, days: int = 14) -> list[np.ndarray]:
    """``n`` people of one office: every working day a session of 10-40 active minutes somewhere in
    the same busy hours (09:00-12:00), minutes drawn independently."""
    out = []
    for _ in range(n):
        mins = []
        for d in range(days):
            start = d * DAY_MIN + 9 * 60 + int(rng.integers(0, 150))
            mins.append(start + np.sort(rng.choice(40, int(rng.integers(10, 40)), replace=False)))
        out.append(np.unique(np.concatenate(mins)))
    return out


def _edges(minutes: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    ea = np.concatenate([np.full(len(m), i, np.int64) for i, m in enumerate(minutes)])
    return ea, np.concatenate(minutes).astype(np.int64)


def test_many_people_active_at_the_same_busy_hours_are_never_linked():
    rng = np.random.default_rng(3)
    ea, em = _edges(_busy_hours_people(rng, 300))
    a, b, p = timing_links(ea, em, 300, CFG)
    assert len(a) == 0


def test_accounts_firing_in_lock_step_are_linked_and_people_beside_them_are_not():
    rng = np.random.default_rng(5)
    people = _busy_hours_people(rng, 200)
    # a scheduler: 12 accounts firing at the same two minutes of every hour, night and day, 5 days
    lock = np.sort(np.concatenate([h * 60 + np.array([7, 37]) for h in range(5 * 24)]))
    minutes = people + [lock.copy() for _ in range(12)]
    ea, em = _edges(minutes)
    a, b, p = timing_links(ea, em, len(minutes), CFG)
    pairs = set(zip(a.tolist(), b.tolist()))
    bots = range(200, 212)
    assert pairs == {(i, j) for i in bots for j in bots if i < j}
    assert (p <= CFG.link.alpha).all()


def _naive_p(m_a: set, m_b: set, n_accounts: int) -> float:
    """The docstring's p-value, pair by pair: mu = sum over slots of c_a c_b / S, X = shared
    minutes, P(Poisson(mu) >= X) as the pmf summed upwards from X, times all pairs."""
    ca, cb = {}, {}
    for m in m_a:
        ca[m // SLOT_MINUTES] = ca.get(m // SLOT_MINUTES, 0) + 1
    for m in m_b:
        cb[m // SLOT_MINUTES] = cb.get(m // SLOT_MINUTES, 0) + 1
    mu = sum(c * cb.get(h, 0) for h, c in ca.items()) / SLOT_MINUTES
    x = len(m_a & m_b)
    tail = sum(math.exp(k * math.log(mu) - mu - math.lgamma(k + 1)) for k in range(x, x + 400))
    return min(1.0, tail * n_accounts * (n_accounts - 1) / 2)


def test_timing_p_value_matches_a_naive_reference():
    # three accounts that share many minutes of a few hours; alpha = 1 so every tested pair is returned
    rng = np.random.default_rng(11)
    base = np.sort(rng.choice(600, 120, replace=False))
    minutes = [np.unique(np.concatenate([base[: 100 - 10 * i], rng.choice(600, 30)])) for i in range(3)]
    ea, em = _edges(minutes)
    cfg = DetectConfig(link=type(CFG.link)(alpha=1.0))
    a, b, p = timing_links(ea, em, 3, cfg)
    assert len(a) == 3
    for i, j, pv in zip(a, b, p):
        want = _naive_p(set(minutes[i].tolist()), set(minutes[j].tolist()), 3)
        assert pv == pytest.approx(want, rel=1e-9, abs=1e-300)


def test_minute_is_sixty_seconds_in_microseconds():
    assert MINUTE_US == 60 * 1_000_000


def test_pruning_by_the_lower_bound_of_mu_changes_no_link():
    """``timing_links`` drops pairs whose p at ``mu = X / S`` already fails before computing ``mu``;
    the links equal those of every enumerated pair tested at its full ``mu`` (computed here from the
    definition, pair by pair, without the module's sparse path)."""
    from stillwatch.guard.score.nullmodel import poisson_tail
    from stillwatch.guard.score.timing import SLOT_MINUTES, shared_minutes

    rng = np.random.default_rng(21)
    people = _busy_hours_people(rng, 120)
    lock = np.sort(np.concatenate([h * 60 + np.array([3, 33]) for h in range(3 * 24)]))
    minutes = people + [lock.copy() for _ in range(6)] + [np.unique(np.concatenate([lock[::2], rng.choice(4320, 40)]))]
    ea, em = _edges(minutes)
    n = len(minutes)
    a, b, x = shared_minutes(ea, em, n, CFG.link.pair_budget)
    act = [np.unique(np.asarray(m, np.int64)) for m in minutes]
    first = int(em.min()) // SLOT_MINUTES
    # each account's active minutes per slot, dense over every slot of the log (not the module's sparse edges);
    # mu of a pair is the sum over slots of the product of its two counts, divided by the slot's minutes
    slots = [m // SLOT_MINUTES - first for m in act]
    width = max(int(s.max()) for s in slots) + 1
    per_slot = np.stack([np.bincount(s, minlength=width) for s in slots]).astype(float)  # [n, slots]
    mu = np.array([per_slot[i] @ per_slot[j] / SLOT_MINUTES for i, j in zip(a, b)])
    p = np.minimum(poisson_tail(x, mu) * (n * (n - 1) / 2.0), 1.0)
    want = {(int(i), int(j)) for i, j, q in zip(a, b, p) if q <= CFG.link.alpha}
    got_a, got_b, _ = timing_links(ea, em, n, CFG)
    assert {(int(i), int(j)) for i, j in zip(got_a, got_b)} == want and len(want) >= 15  # the 7 lock-steppers' pairs
