"""Days off that a population shares: the public holidays of weekday workers (issue 13).

Why it is needed
================
:mod:`~stillwatch.guard.score.weeks` gives each weekday worker its own weekend: its silence there is not a
departure nor a missed arrival. A public holiday is the same silence on a weekday, but it happens once, so no
account's own history shows it. It shows in the population: on a regional holiday most of the region's weekday
workers are silent on the same local day. A log that ends (or starts) around one would otherwise see every weekday
worker of that region "leave" (or "arrive") together — a batch stop to the departure and last-seen signals of
:mod:`~stillwatch.guard.score.grouping`. Measured on the weekday-developer log of
``tests/guard/test_guard_key_groups.py`` with the Americas' developers off its last Thursday and Friday: 23 / 38 /
30 of 200 developers flagged at seeds 41-43 before this module.

Model
=====
*Population* (the peers counted): the accounts that keep weekends off
(:func:`~stillwatch.guard.score.weeks.weekends_off`, the binomial test) and have a night (hour masks). *Judged*: the
population and every account never seen on its own weekend (:func:`~stillwatch.guard.score.weeks.weekend_active`: the
weekday workers of the last-seen null, many too sparse for the binomial test — with them left out, the model put a
third of a holiday region's sparse workers' last sightings on its holiday, where there were none). Each has its own
local day ``j``: ``[j DAY + d, (j + 1) DAY + d)`` UTC with ``d`` its
:func:`~stillwatch.guard.score.weeks.night_shift` (the day whose weekday is ``(j + 3) mod 7``, Monday 0: the same
days its own weekend is made of). Its *peers*: the accounts of the population whose shift is within
``PEER_HOURS`` of its own (integer bands of ``d``; +-3 hours holds a region: UTC-8 to -5, or Europe from UTC+0 to +2),
the account itself left out (its own silence is what is being judged, never evidence of a holiday). A day is read
only on weekdays the log covers for the account and its peers (``PEER_HOURS + 1`` hours beyond the day on either
side: a day cut by the log's edge is not a day off), and only with ``MIN_DAYS`` ordinary weekdays (wholly inside the
log for every shift) to compare with; weekend days are never days off here (the weekend rule takes those hours).

**H0** (day ``j`` is an ordinary working day of the account's peers), read two ways:

- *By the peers known to exist through the day* (alive: seen on an earlier and on a later local day of their own),
  where that can tell a day off from a stop: a later covered weekday on which most peers worked again (a peer that
  only took day ``j`` off would have been seen again) and enough of them to show a day off (``n(j) >= MIN_PEERS``
  and ``(1 - tau)^n(j) <= cohort_fdr``). Of the ``n(j)``, ``o(j)`` were active; H0 makes that ``Binomial(n(j),
  tau)`` with ``tau`` the median share active over the ordinary days; a lower tail ``<= LinkConfig.cohort_fdr`` is a
  day off at ``r = (o + 1) / (n tau + 1)`` when ``r <= MAJORITY`` too (most peers silent, as read by the count below).
  The binomial alone is no day off: the days of a real population differ more than binomially (weekly rhythms,
  classes, companies), and held-out E — no holiday in it — had a "day off" at level 5 % for 1,400-1,600 of its 9,035
  accounts (r 0.8 at the median), each taking up to a day of silence from the evidence of an arrival or a departure
  (E seed 49: a member of a cohort, first seen inside its hour, no longer an arrival). A minority's silence is its
  own: a holiday of a third of a band is not excused. Accounts that left (or had not arrived) are not in ``n``: a
  campaign that stops does not make the days after it look like days off.
- *Else by the count of active peers* — on the log's last weekdays and on a holiday at its end, where no later day
  shows who still exists (the peers seen again then are those who worked through it): ``O(j)`` peers active against
  ``T``, the median of ``O`` over ordinary weekdays; ``O(j)`` is a sum of independent peers' days of mean ``T`` under
  H0, its lower tail bounded by that of ``Poisson(T)`` below ``T - 1`` (Anderson & Samuels 1967: the Poisson
  distribution function lies above the binomial's there); a day off at ``r = (O + 1) / (T + 1)`` when that tail is
  ``<= cohort_fdr`` *and* ``r <= MAJORITY`` (most peers silent: there a region's holiday and the stop of some of its
  accounts differ only in how many went quiet, and a minority's silence is its own).

(One pseudo-peer in both: three silent peers are not a certainty.) Every other day ``r = 1``; ``r`` never exceeds 1.
A day off is taken whole: the account works on day ``j`` with probability ``r(j)``, and then at its usual rate, so
its ``h`` silent hours there weigh what ``log(1 - r + r q^h) / log q`` ordinary hours do toward a departure or a
missed arrival (:func:`off_hours`, :func:`less_days_off`; ``q`` its chance of an idle hour), and the last-seen null of
:mod:`~stillwatch.guard.score.pauses` takes each such day as silent with probability ``1 - r + r prod (1 - f0)``
(:func:`day_weight`).

Attacker model: an operator controls its accounts' traffic, so their membership of the population (keeping
weekends off) and their shift. Its accounts' silence is excused only as far as their peers — the accounts of the
log that keep the same hours, mostly not its own — are silent too: read by the peers known to exist through a day,
its stopped accounts are not counted at all; read by the count, only a silence of most of the region is a day off.
What must still hold (``tests/guard/test_guard_daysoff.py``): a campaign of a fifth or two fifths of its region's
fifty weekday workers, stopping on a weekday three working days before the log's last, keeps every departure (no day
off at all); ``benchmarks/guard/week_shapes.py``'s operator (40 accounts beside the Americas' weekday developers,
stopping on the second Wednesday) is found at every seed. Silence on a day its peers worked counts in full. *Limit*:
an operator whose accounts are most of their region's weekday workers in the log (three fifths of fifty in that
test), stopping them on a weekday near the log's end, looks like that region's holiday there — at the log's edge the
two cannot be told apart by timing (the peers' return after a holiday is not in the log); such a campaign must be
found by what else it shares (that operator is, by its last sightings, while only 7 of its 40 still count as
departures).

Everything is numpy over [population accounts, log days]: no loop per account or per row.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from stillwatch.guard.score.weeks import (days_not_counted, hour_mask, less_weekends, night_shift, weekend_active,
                                         weekends_off)

if TYPE_CHECKING:  # pragma: no cover - typing only
    from stillwatch.guard.score.config import DetectConfig

_HOUR_US = 3_600_000_000
_DAY_US = 24 * _HOUR_US
_MINUTE_US = 60_000_000
#: peers: accounts whose night shift is within this many (integer) hours of the account's own — a region's
#: time zones (UTC-8 to -5 is three hours apart; so is Europe's UTC+0 to +2 with its nights' spread)
PEER_HOURS = 3
#: ordinary weekdays (wholly inside the log) needed before a calendar is read: the median of fewer is not typical
MIN_DAYS = 3
#: peers known to exist through a day needed to read it by them (else by the count of active peers): fewer than three
#: cannot show a day off beyond chance (two silent peers of rate 0.8 are silent together once in 25 days)
MIN_PEERS = 3
#: a day is off only when most of the peers were silent (r <= 1/2): at the log's edge, where no later day shows who
#: still exists, a region's holiday and the stop of some of its accounts differ only in how many went quiet; and
#: everywhere, a minority's silence is that minority's own (the days of a real population differ beyond the binomial)
MAJORITY = 0.5
#: the columns a calendar adds to an account table (:func:`day_rates`)
COLUMNS = ("day_rate", "day_rate_j0", "day_shift_h")


def day_rates(acc: Mapping[str, np.ndarray], ai: np.ndarray, minute: np.ndarray, fdr: float) -> dict[str, np.ndarray]:
    """The peers' calendar of each account (module docstring): ``day_rate`` [A, D] (``r`` on local day ``j0 + i``;
    1 for every account outside the population), ``day_rate_j0`` [A] (``j0``, the same for all), ``day_shift_h`` [A]
    (the shift of its local day). ``ai``, ``minute``: the log's distinct (account index, minute since the epoch)
    pairs. Requires ``acc`` with ``n``, ``first_us``, ``last_us``, ``active_hours``, ``weekend_hours`` and
    ``day_mask_0..6`` for a calendar (without them every ``r`` is 1) and ``0 < fdr < 1``."""
    if not 0.0 < fdr < 1.0:
        raise ValueError(f"fdr must be in (0, 1), got {fdr!r}")
    from scipy import stats  # at call time: start-up paths import this module (tests/test_layers.py)

    n = len(np.asarray(acc["n"]))
    first = np.asarray(acc["first_us"], np.float64)
    last = np.asarray(acc["last_us"], np.float64)
    ai = np.asarray(ai, np.int64)
    minute = np.asarray(minute, np.int64)
    shift = night_shift(acc) if n else np.zeros(0)
    none = {"day_rate": np.ones((n, 0)), "day_rate_j0": np.zeros(n, np.int64), "day_shift_h": shift}
    mask = hour_mask(acc)
    if n == 0 or mask is None or "weekend_hours" not in acc:
        return none
    t_lo, t_hi = float(first.min()), float(last.max())
    j0 = int(np.floor((t_lo - 12 * _HOUR_US) / _DAY_US))
    days = int(np.floor((t_hi + 12 * _HOUR_US) / _DAY_US)) - j0 + 1
    j = j0 + np.arange(days)  # [D] local day indices
    weekday = ~_on_weekend(j)
    whole = (j * _DAY_US - 12 * _HOUR_US >= t_lo) & ((j + 1) * _DAY_US + 12 * _HOUR_US <= t_hi)  # for every shift
    ordinary = weekday & whole
    in_pop = weekends_off(acc, fdr) & (mask != 0)
    pop = np.flatnonzero(in_pop)
    # the calendar applies to the population and to every account never seen on its own weekend (the last-seen
    # null's weekday workers, score/weeks.py on_hours: too sparse for the binomial test, they are not counted as peers)
    use = np.flatnonzero(in_pop | (~weekend_active(acc, shift) & (mask != 0)))
    if len(pop) == 0 or ordinary.sum() < MIN_DAYS:
        return {**none, "day_rate": np.ones((n, days)), "day_rate_j0": np.full(n, j0, np.int64)}
    pos = np.full(n, -1, np.int64)
    pos[use] = np.arange(len(use))
    sel = pos[ai] >= 0
    day = np.floor((minute[sel] * float(_MINUTE_US) - shift[ai[sel]] * _HOUR_US) / _DAY_US).astype(np.int64) - j0
    act = np.zeros((len(use), days), np.float32)  # [U, D] active on its local day
    act[pos[ai[sel]], np.clip(day, 0, days - 1)] = 1.0
    peer = in_pop[use]  # [U] counted as a peer
    sh = shift[use]
    band = (np.floor(sh).astype(np.int64) + 24) % 24  # [U]
    # alive on day j: seen on an earlier and on a later local day of its own (it existed all through day j)
    first_d = np.floor((first[use] - sh * _HOUR_US) / _DAY_US).astype(np.int64) - j0
    last_d = np.floor((last[use] - sh * _HOUR_US) / _DAY_US).astype(np.int64) - j0
    alive = ((np.arange(days)[None, :] > first_d[:, None]) & (np.arange(days)[None, :] < last_d[:, None])
             ).astype(np.float32)  # [U, D]

    def peers(x):  # [U, D]: the sum of x over each account's peers, the account itself left out
        per_band = np.zeros((24, days))
        np.add.at(per_band, band[peer], x[peer])
        near = sum(np.roll(per_band, s, axis=0) for s in range(-PEER_HOURS, PEER_HOURS + 1))  # a fixed sum
        return near[band] - np.where(peer[:, None], x, 0.0)
    o = peers(act)  # [U, D] the peers active on each day
    t = np.median(o[:, ordinary], axis=1, keepdims=True)  # [U, 1] their ordinary working day
    n_a = peers(alive)  # [U, D] the peers alive through each day
    o_a = peers(act * alive)  # [U, D] ... and active on it
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an account with no peer alive on any ordinary day
        rho = np.where(n_a > 0, o_a / n_a, np.nan)
        tau = np.nanmedian(np.where(ordinary[None, :], rho, np.nan), axis=1, keepdims=True)  # [U, 1]
    tau = np.nan_to_num(tau, nan=0.0)
    # a day is read only where the log covers it for the account and its peers (their shifts are < PEER_HOURS + 1
    # hours apart): a day cut by the log's edge is not a day off
    start_us = j[None, :] * float(_DAY_US) + sh[:, None] * _HOUR_US  # [U, D]
    margin = (PEER_HOURS + 1) * _HOUR_US
    seen = (start_us - margin >= t_lo) & (start_us + _DAY_US + margin <= t_hi) & weekday[None, :]
    # by the count of active peers: a day off of most of them (a minority's silence is that minority's own)
    r_count = (o + 1.0) / (t + 1.0)
    off_count = (stats.poisson.cdf(o, t) <= fdr) & (r_count <= MAJORITY)
    # by the peers known to exist through the day, where a peer that only took the day off would have been seen
    # again (a later covered weekday on which most peers worked) and they could show a day off ((1 - tau)^n <= fdr)
    back = seen & ~off_count
    later = np.flip(np.cumsum(np.flip(back, axis=1), axis=1), axis=1) - back > 0  # [U, D] a later such day
    with np.errstate(divide="ignore"):
        can_speak = n_a * np.log1p(-np.minimum(tau, 1.0 - 1e-12)) <= np.log(fdr)
    by_alive = later & (n_a >= MIN_PEERS) & (tau > 0) & can_speak
    off_alive = stats.binom.cdf(o_a, np.maximum(n_a, 0).astype(np.int64), np.clip(tau, 0.0, 1.0)) <= fdr
    r_alive = (o_a + 1.0) / (n_a * tau + 1.0)
    off = seen & np.where(by_alive, off_alive & (r_alive <= MAJORITY), off_count)
    r = np.where(by_alive, r_alive, r_count)
    rate = np.ones((n, days))
    rate[use] = np.where(off, np.minimum(r, 1.0), 1.0)
    return {"day_rate": rate, "day_rate_j0": np.full(n, j0, np.int64), "day_shift_h": shift}


def _on_weekend(day: np.ndarray) -> np.ndarray:
    """Whether each local day index (days since 1970-01-01 in the account's own clock, day 0 a Thursday) is a
    Saturday or a Sunday."""
    return np.mod(np.asarray(day) + 3, 7) >= 5  # + 3: Monday 0, ..., Saturday 5, Sunday 6


def _days(acc: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(rate [A, D], start of each local day [A, D] in microseconds, shift [A]) or None without a calendar."""
    if "day_rate" not in acc or np.asarray(acc["day_rate"]).ndim != 2 or np.asarray(acc["day_rate"]).shape[1] == 0:
        return None
    rate = np.asarray(acc["day_rate"], np.float64)
    shift = np.asarray(acc["day_shift_h"], np.float64)
    j = np.asarray(acc["day_rate_j0"], np.float64)[:, None] + np.arange(rate.shape[1])[None, :]
    return rate, j * _DAY_US + shift[:, None] * _HOUR_US, shift


def _rate_on(acc: Mapping[str, np.ndarray], day: np.ndarray) -> np.ndarray:
    """``r`` of each account's local day ``day`` (its own day indices, ``[A]`` or ``[A, T]``); 1 outside its
    calendar or without one."""
    days = _days(acc)
    d = np.asarray(day, np.int64)
    if days is None:
        return np.ones(d.shape)
    rate = days[0]
    two = d.reshape(len(d), -1)  # [A, T]
    i = two - np.asarray(acc["day_rate_j0"], np.int64)[:, None]
    inside = (i >= 0) & (i < rate.shape[1])
    got = np.where(inside, np.take_along_axis(rate, np.clip(i, 0, rate.shape[1] - 1), axis=1), 1.0)
    return got.reshape(d.shape)


def edge_grant(acc: Mapping[str, np.ndarray], t_us: np.ndarray, shift_h: np.ndarray, granted: np.ndarray,
               after: bool, edge_us: float) -> np.ndarray:
    """Hours of each account's own day holding ``t`` that the arrival and departure rules grant (``0`` where not
    ``granted``, :func:`~stillwatch.guard.score.weeks.granted_days`: weekday workers with a night): from ``t`` to the
    day's end (``after``: after a last request) or from its start to ``t`` (before a first one), where the day next
    to it on that side is a day off — on the account's own weekend, one of its peers' days off (``r < 1``,
    :func:`day_rates`), or past the silence's edge ``edge_us`` (``after``: a day starting at or after E; before: a
    day ending at or before the silence's start). Its days run from the middle of its night (``[j DAY + d, (j + 1)
    DAY + d)``, ``d`` = ``shift_h``). Why: hours are not independent within a day — an office worker last seen on
    Friday at 15:00 was not going to show up that evening, nor one first seen on Monday at 10:00 after a weekend
    that morning — so the edge of a working day next to a day off is no evidence; a silence that runs on into a
    working day keeps every hour. ``t`` is ``[A]`` or ``[A, T]``, ``shift_h``/``granted`` broadcast with it
    (``[A]`` or ``[A, 1]``); ``acc`` gives the calendar of the same accounts."""
    t = np.asarray(t_us, np.float64)
    sh = np.asarray(shift_h, np.float64) * _HOUR_US
    day = np.floor((t - sh) / _DAY_US)
    start = day * _DAY_US + sh
    step = 1.0 if after else -1.0
    near = day + step  # the day next to it on the silence's side
    near_start = near * _DAY_US + sh
    off = _on_weekend(near) | (_rate_on(acc, np.broadcast_to(near, t.shape)) < 1.0)
    off |= (near_start >= edge_us) if after else (near_start + _DAY_US <= edge_us)
    hours = (start + _DAY_US - t) / _HOUR_US if after else (t - start) / _HOUR_US
    return np.where(np.asarray(granted, bool) & off, hours, 0.0)


#: the longest run of days of an account's week that :func:`unseen_run` can cross: a weekend-only user's five
#: weekdays (a weekday worker's weekend is two)
MAX_RUN_DAYS = 5


def unseen_run(acc: Mapping[str, np.ndarray], t_us: np.ndarray, after: bool, alpha: float,
               shift_h: np.ndarray | None = None) -> np.ndarray:
    """Per account: the far edge of the time its arrival (``after`` False) or departure (``after`` True) at ``t``
    could have happened in — ``t`` itself, unless the day next to ``t``'s own day on the silence's side is one of
    the days of its week the rules do not count for it; then the far edge of that run of days (at most
    :data:`MAX_RUN_DAYS`): the start of the run's first day before an arrival, the end of its last day after a
    departure. The days of its week, as :func:`~stillwatch.guard.score.weeks.less_weekends` takes them: its own
    weekend where it keeps weekends off or its span holds none, its own weekdays where it keeps weekdays off (a
    weekend-only user) or its span holds none — each test at level ``alpha`` (``GroupConfig.week_alpha``). Days run
    from the middle of its night (``shift_h``: :func:`~stillwatch.guard.score.weeks.night_shift` where the caller has
    it).

    Why: the rules find a departure in the silence that follows a last request, but skip the hours the account was
    not going to use anyway. A developer who works weekdays and leaves at any time between Friday evening and Monday
    morning is last seen on Friday: its last request stands for three days of leaving, a Tuesday's for one. Read as
    a moment, a population of weekday workers that leave at a steady rate "leaves" three times as often on Fridays
    (the week-shape benchmark's nine-day log: 34 of 59 departing carriers last seen on its one Friday), and a time
    cell can call that a stop; the interval is what the log shows of the event. Only the account's own week counts
    here — that pile-up comes back every week and sets weekday workers apart from everyone else. Not its peers'
    days off (a holiday happens once; and at the log's end an operator stopping most of a region's weekday workers
    makes the days after its stop read as that region's days off, which would then hide the stop itself), nor the
    log's edge (it cuts every account's silence alike). ``t``: ``[A]`` microseconds."""
    t = np.asarray(t_us, np.float64)
    shift = night_shift(acc) if shift_h is None else np.asarray(shift_h, np.float64)
    off, only = days_not_counted(acc, alpha, shift)
    out = t.copy()
    if not (off.any() or only.any()):
        return out
    sh = shift * _HOUR_US
    day = np.floor((t - sh) / _DAY_US)
    step = 1.0 if after else -1.0
    run = off | only
    for k in range(1, MAX_RUN_DAYS + 1):  # a fixed number of vectorised steps, not a loop per account
        near = day + step * k
        weekend = _on_weekend(near)
        run &= (off & weekend) | (only & ~weekend)
        if not run.any():
            break
        start = near * _DAY_US + sh
        out = np.where(run, start + _DAY_US if after else start, out)
    return out


def off_hours(acc: Mapping[str, np.ndarray], lo_us: np.ndarray, hi_us: np.ndarray, seen_us: np.ndarray,
              log_q: np.ndarray) -> np.ndarray:
    """Per account: the hours of its silence ``[lo, hi)`` (microseconds, per account) that its peers' days off take
    away (module docstring). A day off is taken whole: the account works on day ``j`` with probability ``r(j)``, and
    then at its usual rate, so its ``h`` silent hours there are silent with probability ``1 - r + r q^h`` (``q``: its
    chance of an idle hour, ``log_q`` per account) — as many as ``log(1 - r + r q^h) / log q`` hours at the usual
    rate; the rest are taken away. The day holding ``seen`` (the account's own request at the silence's edge) is a
    day it worked: nothing is taken there. 0 without a calendar or where ``hi <= lo``."""
    n = len(np.asarray(acc["n"]))
    out = np.zeros(n)
    if _days(acc) is None:
        return out
    # only accounts with a day off in their calendar have anything taken: the [rows, days] work is theirs alone
    rows = np.flatnonzero((np.asarray(acc["day_rate"]) < 1.0).any(axis=1))
    if not len(rows):
        return out
    rate, start, _ = _days({c: np.asarray(acc[c])[rows] for c in COLUMNS})
    lo = np.broadcast_to(np.asarray(lo_us, np.float64), (n,))[rows]
    hi = np.broadcast_to(np.asarray(hi_us, np.float64), (n,))[rows]
    seen = np.broadcast_to(np.asarray(seen_us, np.float64), (n,))[rows][:, None]
    rate = np.where((start <= seen) & (seen < start + _DAY_US), 1.0, rate)  # [R, D]
    h = np.clip(np.minimum(hi[:, None], start + _DAY_US) - np.maximum(lo[:, None], start), 0.0, None) / _HOUR_US
    lq = np.minimum(np.broadcast_to(np.asarray(log_q, np.float64), (n,))[rows], 0.0)[:, None]  # [R, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        kept = np.where(lq < 0, np.log(1.0 - rate + rate * np.exp(h * lq)) / lq, rate * h)  # [R, D]
    kept = np.where(rate < 1.0, np.clip(kept, 0.0, h), h)
    out[rows] = (h - kept).sum(axis=1)
    return out


def day_weight(acc: Mapping[str, np.ndarray], t_us: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(r, day)``, both ``[A, T]``: ``r`` of each account's local day holding each time ``t`` (``[T]``,
    microseconds; 1 outside its calendar or without one) and that day's index (its own local days; 0 without a
    calendar, where every ``r`` is 1)."""
    t = np.asarray(t_us, np.float64)
    n = len(np.asarray(acc["n"]))
    days = _days(acc)
    if days is None:
        return np.ones((n, len(t))), np.zeros((n, len(t)), np.int64)
    rate, _, shift = days
    day = np.floor((t[None, :] - shift[:, None] * _HOUR_US) / _DAY_US).astype(np.int64)  # [A, T]
    i = day - np.asarray(acc["day_rate_j0"], np.int64)[:, None]
    inside = (i >= 0) & (i < rate.shape[1])
    return np.where(inside, np.take_along_axis(rate, np.clip(i, 0, rate.shape[1] - 1), axis=1), 1.0), day


def less_days_off(acc: Mapping[str, np.ndarray], unseen_h: np.ndarray, lo_us, hi_us, seen_us, log_q,
                  cfg: "DetectConfig", shift_h: np.ndarray | None = None) -> np.ndarray:
    """``unseen_h``, the hours of each account's silence ``[lo, hi)``, less its own weekend where it keeps weekends
    off (:func:`~stillwatch.guard.score.weeks.less_weekends`) and less what its peers' days off take away
    (:func:`off_hours`, ``seen``: its request at the silence's edge, ``log_q``: its log chance of an idle hour;
    weekdays only, so the two never take the same hour; ``shift_h``: each account's night shift where the caller has
    it); not below 0."""
    left = less_weekends(acc, unseen_h, lo_us, hi_us, cfg, shift_h)
    if _days(acc) is None:
        return left
    return np.maximum(left - off_hours(acc, lo_us, hi_us, seen_us, log_q), 0.0)
