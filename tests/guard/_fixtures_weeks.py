"""Weekday workers simulated hour by hour (score/weeks.py, score/daysoff.py and the last-seen null of
score/pauses.py): their account table as the features give it, their active minutes, and the check that their last
sightings follow a pause-null model window by window."""

from __future__ import annotations

import numpy as np

HOUR = 3_600_000_000
DAY = 24 * HOUR
MONDAY = 1_772_409_600_000_000  # 2026-03-02 00:00 UTC, a Monday


def weekday_workers(rng, tz: np.ndarray, f: np.ndarray, off: np.ndarray | None = None, days: int = 14,
                    last_day: np.ndarray | None = None) -> tuple[dict, np.ndarray, np.ndarray]:
    """Weekday workers simulated hour by hour from a Monday: active in each hour 9-17 of their own time zone (``tz``
    hours east of UTC) on their own Monday-Friday with probability ``f``, except on the local days ``off[i, d]`` (day d
    of the log) and after ``last_day``; plus one account active every hour of the log's last day (the log's end).
    Returns the account table (as the features give it), and the distinct (account, minute) pairs."""
    j = len(tz)
    off = np.zeros((j, days), bool) if off is None else off
    hours = days * 24
    h = np.arange(hours)[None, :]
    local = h + tz[:, None]
    ld = np.floor(local / 24).astype(np.int64)  # [j, H] local day of the log
    work = (np.mod(local, 24) >= 9) & (np.mod(local, 24) < 17) & (np.mod(ld, 7) < 5)
    work &= ~np.take_along_axis(np.pad(off, ((0, 0), (1, 1))), np.clip(ld + 1, 0, days + 1), axis=1)
    if last_day is not None:
        work &= ld <= last_day[:, None]
    active = work & (rng.random((j, hours)) < f[:, None])
    active[:, 30] |= ~active.any(axis=1)
    end = np.zeros((1, hours), bool)
    end[0, -24:] = True
    active = np.concatenate([active, end])
    idx = np.broadcast_to(h, active.shape)
    first = np.where(active, idx, hours).min(axis=1)
    last = np.where(active, idx, -1).max(axis=1)
    bits = (1 << np.mod(h, 24)).astype(np.int64)
    dow = np.mod(h // 24, 7)
    acc = {"n": active.sum(axis=1) * 2.0, "first_us": MONDAY + (first + 0.5) * float(HOUR),
           "last_us": MONDAY + (last + 0.5) * float(HOUR), "active_hours": active.sum(axis=1).astype(float),
           "weekend_hours": (active & (dow >= 5)).sum(axis=1).astype(float),
           **{f"day_mask_{d}": np.bitwise_or.reduce(np.where(active & (dow == d), bits, 0), axis=1) for d in range(7)}}
    a, hh = np.nonzero(active)
    return acc, a.astype(np.int64), (MONDAY // 60_000_000 + hh * 60 + 30).astype(np.int64)


def assert_last_sightings_follow(acc: dict, members: np.ndarray, mu_of, at_least: int) -> tuple:
    """Counts every member's last request before the log's granted last day per 6-hour window of the log's first 13
    days, and asserts that ``mu_of(lo, hi)`` (a pause null's expected counts) follows them: the total within 10 %,
    every window within 4 sd + 2; more than ``at_least`` sightings. Returns (window starts, counts, counted mask)."""
    t = acc["last_us"]
    seen = members & (t < t.max() - DAY)
    lo = MONDAY + np.arange(0, 13 * 24, 6) * HOUR
    got = np.array([np.sum(seen & (t >= a) & (t < a + 6 * HOUR)) for a in lo])
    mu = mu_of(lo, lo + 6 * HOUR)
    assert got.sum() > at_least
    assert abs(got.sum() - mu.sum()) <= 0.1 * got.sum(), (got.sum(), mu.sum())
    assert np.all(np.abs(got - mu) <= 4 * np.sqrt(mu) + 2), np.stack([got, mu.round(1)])
    return lo, got, seen
