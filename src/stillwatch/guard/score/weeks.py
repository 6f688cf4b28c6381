"""Each account's own week: whether it keeps weekends off, and where its weekend falls (issue 13).

The arrival and departure rules of :mod:`~stillwatch.guard.score.nullmodel` treat an account's hours as independent
at one rate ``f``: an account silent for ``h`` of them would have shown up with probability ``1 - (1 - f)^h``. A
person who works weekdays only is not going to show up on a weekend, so a log ending on a Sunday would see every
such person "leave" on Friday, together, and a log starting on a Saturday see them "arrive" on Monday. Three
quantities fix that, all read off the account's own traffic:

- **Whether it keeps weekends off** (:func:`weekends_off`). **H0**: its active hours are spread over its span's
  hours alike, weekend or not; its weekend active hours are then ``Binomial(active hours, w)``, ``w`` the share of
  its span on weekends, and an exact lower tail ``<= LinkConfig.cohort_fdr`` rejects H0. The count uses UTC
  weekends (the ``weekend_hours`` feature is one pass over the rows, before any account's time zone is known):
  for an account whose local weekend is shifted by ``d`` hours from the UTC one, ``|d|`` of the UTC weekend's 48
  hours are its weekdays, which costs the test power (a worker at UTC+9 may show its Monday morning there), never
  validity.
- **Where its weekend falls** (:func:`night_shift`). The account's *night* is the longest run of hours of the
  (UTC) day in which it never sent anything (:func:`hour_mask`, below); its middle ``m`` is taken as the account's
  day boundary, and its weekend as the two days from the boundary nearest to UTC Saturday 00:00: ``[Sat 00:00 +
  d, Mon 00:00 + d)`` with ``d = ((m + 12) mod 24) - 12`` hours. A developer at UTC+9 working 9-18 local (00-09
  UTC) has its night from 09 to 24 UTC, ``m = 16.5``, ``d = -7.5``:
  its weekend runs from Friday 16:30 UTC (01:30 local Saturday). An account active in every hour of the day has no
  night: its weekend is the UTC one (``d = 0``), as it is without the feature. The night comes from the account's
  *hour masks* (``day_mask_0..6``: one 24-bit mask of the UTC hours it was active in per UTC day of the week, from
  the scan's hour buckets, :func:`~stillwatch.guard.features.components.week_masks`; :func:`hour_mask` is their OR).
- **Its own hours** (:func:`on_hours`, for the last-seen null of :mod:`~stillwatch.guard.score.pauses`, which
  spreads each account's chance last sighting over the hours it could show up in): the hours of the day it was ever
  active in, less its own weekend where it was never active on one (:func:`weekend_active`, read off the hour masks
  in its own week). These are read off the traffic as it stands, as an activity rate is: an hour of the day is seen
  fourteen times in two weeks and a weekend is one unit seen twice, so "never used" is a fair estimate of "not one
  of its hours"; single hours of the week are seen twice each and are not used (it would overfit them). The mirror:
  an account never active on one of its own weekdays has only its weekend among its own hours.
- **What the log cannot show** (:func:`weekend_unseen`, :func:`weekdays_off`, :func:`granted_days`). An account whose
  span holds none of its own weekend (every weekday worker in a log of one week from a Monday) cannot show whether it
  works weekends: its weekend's silence is no evidence, as for one that keeps weekends off. The mirror: a weekend-only
  user (its active hours on weekends significantly *more* often than the weekend's share of its span, the binomial
  upper tail; or a span inside one weekend) is not counted as arriving or leaving for the silence of its weekdays —
  a log from a Monday would otherwise see every weekend hobbyist "arrive" on its first Saturday (200 of 200 such
  developers, interleaving keys, flagged as one arrival batch before this). And a weekday worker's last day is its
  own to the middle of its night (:func:`granted_days`): hours are not independent within a day, and an office
  worker last seen on Friday afternoon was not going to show up that evening (a one-week log flagged 102 to 128 of 200
  such developers as one departure batch) — where its next day is a day off (its weekend, a holiday, or past the log's
  end), as the start of its first day after one is (:func:`~stillwatch.guard.score.daysoff.edge_grant`). The grant is
  for weekday workers only: accounts active on their weekends, human-paced campaigns among them, keep every silent
  hour, and so does a weekday worker's silence that runs into a working day.

Attacker model: the account's owner controls its traffic, so both quantities. An operator who keeps its accounts off
on weekends gains what every weekday worker gains — the weekend hours of a silence do not count toward a departure
or a missed arrival — and no more: at most 48 hours per weekend of silence are taken off, the rest of the silence
still counts, and the binomial test needs the account's own weekday activity to reject H0 (an account with a handful
of active hours never keeps weekends off). Choosing a night moves which 48 hours those are, not how many. An
operator whose accounts live inside one week's weekdays (or one weekend) gains that week's weekend (weekdays) and
the edge of its accounts' last (first) day next to it — a bound of the same kind; its accounts' silence on the days
they could show up still counts. What must hold: an account active on weekends like on weekdays is judged on every
silent hour, whatever its night. For the last-seen null, an operator whose accounts keep narrow hours concentrates
the null's expectation where its accounts are last seen, which only makes a stop in those hours harder to call
surprising (the null is the operator's own hours, not a looser one); its accounts stopping days before the log ends
are far from every own hour near the end, where a pausing account's last sighting would fall.

Everything is numpy over accounts: the night is a fixed pass over the 24 (doubled: 48) hours of the day, no loop
per account.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover - typing only
    from stillwatch.guard.score.config import DetectConfig

_HOUR_US = 3_600_000_000
_WEEK_US = 7 * 24 * _HOUR_US
_EPOCH_MONDAY_US = 3 * 24 * _HOUR_US  # 1970-01-01 is a Thursday: t + 3 days counts from a Monday


def weekend_hours_between(a_us: np.ndarray, b_us: np.ndarray, shift_h: np.ndarray | float = 0.0) -> np.ndarray:
    """Hours of weekend in each interval ``[a, b)`` (microseconds; 0 where ``b <= a``), the weekend being
    ``[Saturday 00:00 + shift, Monday 00:00 + shift)`` UTC with ``shift_h`` hours per interval (0: UTC weekends)."""
    s = np.asarray(shift_h, np.float64) * _HOUR_US

    def upto(t):
        t = np.asarray(t, np.float64) - s + _EPOCH_MONDAY_US
        return (np.floor(t / _WEEK_US) * 48.0 * _HOUR_US
                + np.clip(np.mod(t, _WEEK_US) - 5 * 24 * _HOUR_US, 0.0, 48.0 * _HOUR_US)) / _HOUR_US
    return np.maximum(upto(b_us) - upto(a_us), 0.0)


def quiet_run(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The longest circular run of hours of the day whose bit is clear in each 24-bit ``mask``: ``(length,
    middle)``, ``length`` in 0..24 hours and ``middle`` in [0, 24) (hour ``h`` covers ``[h, h + 1)``; the first
    such run from hour 0 where several are as long; ``middle`` NaN where ``length`` is 0 or 24)."""
    m = np.asarray(mask, np.int64)
    quiet = ((m[:, None] >> np.arange(24)) & 1) == 0  # (A, 24)
    q2 = np.concatenate([quiet, quiet], axis=1)  # (A, 48): a run across midnight is whole in the doubled day
    run = np.zeros(q2.shape, np.int64)
    prev = np.zeros(len(m), np.int64)
    for h in range(48):  # a fixed pass over the doubled day, vectorised over accounts
        prev = np.where(q2[:, h], prev + 1, 0)
        run[:, h] = prev
    end = np.argmax(run, axis=1)
    length = np.minimum(run[np.arange(len(m)), end], 24)
    middle = np.mod(end + 1 - length / 2.0, 24.0)
    return length, np.where((length > 0) & (length < 24), middle, np.nan)


def hour_mask(acc: Mapping[str, np.ndarray]) -> np.ndarray | None:
    """Per account: the 24-bit mask of the UTC hours of the day it was ever active in — the OR of its
    ``day_mask_0..6`` (or an ``hour_mask`` column as given); None where the log has neither."""
    if "day_mask_0" in acc:
        return np.bitwise_or.reduce([np.asarray(acc[f"day_mask_{d}"], np.int64) for d in range(7)])
    return np.asarray(acc["hour_mask"], np.int64) if "hour_mask" in acc else None


def night_shift(acc: Mapping[str, np.ndarray]) -> np.ndarray:
    """Per account: the shift ``d`` in hours, in [-12, 12), of its weekend from the UTC one (module docstring: the
    day boundary at the middle of its night); 0 where it has no night or the log has no hour masks."""
    return night(acc)[0]


def night(acc: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per account: (:func:`night_shift`, whether it has a night at all — some but not all hours of the day never
    used; False without hour masks)."""
    n = len(np.asarray(acc["n"]))
    mask = hour_mask(acc)
    if mask is None:
        return np.zeros(n), np.zeros(n, bool)
    _, middle = quiet_run(mask)
    has = ~np.isnan(middle)
    return np.where(has, np.mod(middle + 12.0, 24.0) - 12.0, 0.0), has


def granted_days(acc: Mapping[str, np.ndarray], fdr: float) -> tuple[np.ndarray, np.ndarray]:
    """Per account: (its :func:`night_shift`, whether the rules grant it the edge of its day next to a day off,
    :func:`~stillwatch.guard.score.daysoff.edge_grant`) —
    granted to weekday workers with a night: accounts that keep weekends off (:func:`weekends_off`) or whose span holds
    no weekend (:func:`weekend_unseen`), i.e. whose silence over their weekend is already no evidence. Their days are
    working days: a developer last seen on a Friday afternoon was not going to show up that evening (a one-week log
    from a Monday flagged 102 to 128 of 200 such developers, interleaving keys, as one stop). Accounts active on their
    weekends keep every silent hour (campaigns that keep people's hours every day lose no evidence: the cohort and
    keyed-operator tests of ``tests/guard``)."""
    shift, has = night(acc)
    return shift, has & (weekends_off(acc, fdr) | weekend_unseen(acc, shift)[0])


def weekend_active(acc: Mapping[str, np.ndarray], shift_h: np.ndarray | None = None) -> np.ndarray:
    """Per account: whether it was ever active on its own weekend (:func:`night_shift` places it; ``shift_h`` where
    the caller has it) — any hour of the week of its ``day_mask_0..6`` whose middle falls in ``[Sat 00:00 + d, Mon
    00:00 + d)``; True (nothing known) where the log has no day masks or the account's are empty."""
    return _week_parts_active(acc, night_shift(acc) if shift_h is None else shift_h)[0]


def _week_parts_active(acc: Mapping[str, np.ndarray], shift_h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ever active on its own weekend, ever active on one of its own weekdays) per account, read off its
    ``day_mask_0..6`` with its weekend shifted by ``shift_h``; both True (nothing known) without day masks or bits."""
    n = len(np.asarray(acc["n"]))
    if "day_mask_0" not in acc:
        return np.ones(n, bool), np.ones(n, bool)
    how = np.arange(7 * 24)  # hours of the week from UTC Monday 00:00
    days = np.stack([np.asarray(acc[f"day_mask_{d}"], np.int64) for d in range(7)], axis=1)  # [A, 7]
    bits = ((days[:, how // 24] >> (how % 24)[None, :]) & 1) == 1  # [A, 168]
    mid_us = (how + 0.5) * _HOUR_US - _EPOCH_MONDAY_US  # [168] each hour's middle, as a time in some week
    weekend = in_weekend(mid_us[None, :], np.asarray(shift_h, np.float64)[:, None])  # [A, 168]
    none = ~bits.any(axis=1)
    return (bits & weekend).any(axis=1) | none, (bits & ~weekend).any(axis=1) | none


def _weekend_counts(acc: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(weekend share ``w`` of each account's span, its active hours ``a``, its UTC weekend active hours ``k``); None
    where the log has no ``weekend_hours``."""
    if "weekend_hours" not in acc or "active_hours" not in acc:
        return None
    first = np.asarray(acc["first_us"], np.float64)
    last = np.asarray(acc["last_us"], np.float64)
    span_h = np.maximum((last - first) / _HOUR_US, 1.0)
    w = np.clip(weekend_hours_between(first, last) / span_h, 0.0, 1.0)
    return w, np.asarray(acc["active_hours"], np.float64), np.asarray(acc["weekend_hours"], np.float64)


def weekends_off(acc: Mapping[str, np.ndarray], fdr: float) -> np.ndarray:
    """Per account: whether it keeps weekends off — its active hours fall on (UTC) weekends significantly less
    often than the weekend's share of its own span (module docstring, H0; the exact binomial lower tail ``<= fdr``,
    ``LinkConfig.cohort_fdr``). A weekday worker active 20 hours over two weeks has none on a weekend with probability
    0.71^20 = 0.001. False (nothing known) where the log has no ``weekend_hours``."""
    c = _weekend_counts(acc)
    if c is None:
        return np.zeros(len(np.asarray(acc["n"])), bool)
    from scipy import stats

    w, a, k = c
    return (w > 0) & (stats.binom.cdf(k, a, w) <= fdr)


def weekdays_off(acc: Mapping[str, np.ndarray], fdr: float) -> np.ndarray:
    """Per account: whether it keeps weekdays off (a weekend-only user) — the mirror of :func:`weekends_off`: its
    active hours fall on (UTC) weekends significantly *more* often than the weekend's share of its span (the exact
    binomial upper tail ``<= fdr``). A hobbyist active 12 hours over two weekends and the week between (w = 0.47)
    has all of them on a weekend with probability 0.47^12 = 1e-4. False where the log has no ``weekend_hours``."""
    c = _weekend_counts(acc)
    if c is None:
        return np.zeros(len(np.asarray(acc["n"])), bool)
    from scipy import stats

    w, a, k = c
    return (w < 1) & (stats.binom.sf(k - 1, a, w) <= fdr)


def weekend_unseen(acc: Mapping[str, np.ndarray], shift_h: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per account: (whether its span holds no hour of its own weekend, whether it holds no hour of its own weekdays;
    weekend placed by :func:`night_shift`) — whether it works weekends (weekdays) cannot be read off it: in a log of
    one week from a Monday every weekday worker's span ends on its Friday, and a hobbyist who tried the service one
    weekend has a span inside it. Both False where the log has no ``weekend_hours``. ``shift_h``: each account's
    :func:`night_shift` where the caller has it."""
    n = len(np.asarray(acc["n"]))
    if "weekend_hours" not in acc:
        return np.zeros(n, bool), np.zeros(n, bool)
    first = np.asarray(acc["first_us"], np.float64)
    last = np.asarray(acc["last_us"], np.float64)
    weekend = weekend_hours_between(first, last, night_shift(acc) if shift_h is None else shift_h)
    return weekend == 0, (weekend > 0) & (weekend >= (last - first) / _HOUR_US - 1e-9)


def in_weekend(t_us: np.ndarray, shift_h: np.ndarray | float = 0.0) -> np.ndarray:
    """Whether each time ``t`` falls in the weekend ``[Saturday 00:00 + shift, Monday 00:00 + shift)`` UTC."""
    t = np.asarray(t_us, np.float64) - np.asarray(shift_h, np.float64) * _HOUR_US + _EPOCH_MONDAY_US
    return np.mod(t, _WEEK_US) >= 5 * 24 * _HOUR_US


def on_hours(acc: Mapping[str, np.ndarray], t_us: np.ndarray) -> np.ndarray:
    """``[A, T]``: whether the hour holding each time ``t`` (microseconds, ``[T]``) is one of each account's own
    hours — an hour of the (UTC) day it was ever active in (:func:`hour_mask`; every hour without one or where no
    bit is set), and not on its own weekend where it was never active on one (:func:`weekend_active`). The hours an
    account could show up in, read off its own traffic as it stands (an hour or a weekend it never used is not one
    of its own)."""
    t = np.asarray(t_us, np.float64)
    n = len(np.asarray(acc["n"]))
    mask = hour_mask(acc)
    if mask is None:
        return np.ones((n, len(t)), bool)
    hod = (np.floor(np.mod(t, 24 * _HOUR_US) / _HOUR_US)).astype(np.int64)  # [T]
    on = (((mask[:, None] >> hod[None, :]) & 1) == 1) | (mask == 0)[:, None]
    shift = night_shift(acc)
    weekend_on, weekday_on = _week_parts_active(acc, shift)
    quiet = ~weekend_on
    if quiet.any():
        on[quiet] &= ~in_weekend(t[None, :], shift[quiet][:, None])
    only = ~weekday_on  # a weekend-only user: its weekdays are not its own
    if only.any():
        on[only] &= in_weekend(t[None, :], shift[only][:, None])
    return on


def days_not_counted(acc: Mapping[str, np.ndarray], fdr: float,
                     shift_h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per account: (whether the silence of its own weekend does not count — it keeps weekends off,
    :func:`weekends_off`, or its span holds no weekend, :func:`weekend_unseen` —, whether the silence of its own
    weekdays does not count instead — it keeps weekdays off, :func:`weekdays_off`, or its span holds no weekday);
    the tests at level ``fdr``, its weekend placed by ``shift_h`` (:func:`night_shift`). Never both."""
    no_weekend, no_weekday = weekend_unseen(acc, shift_h)
    off = weekends_off(acc, fdr) | no_weekend
    return off, (weekdays_off(acc, fdr) | no_weekday) & ~off


def less_weekends(acc: Mapping[str, np.ndarray], unseen_h: np.ndarray, lo_us, hi_us,
                  cfg: "DetectConfig", shift_h: np.ndarray | None = None) -> np.ndarray:
    """``unseen_h``, the hours of each account's silence ``[lo, hi)``, less the hours of its own weekend in it
    where the account keeps weekends off (:func:`weekends_off`: it was not going to show up on one) or where its span
    holds no weekend (:func:`weekend_unseen`: whether it works weekends is unknown, and a weekend's silence is then
    no evidence), and less the hours of its own weekdays in it where it keeps weekdays off (:func:`weekdays_off`) or
    its span holds no weekday; its weekend placed by :func:`night_shift` (``shift_h`` where the caller has it); not
    below 0."""
    shift = night_shift(acc) if shift_h is None else shift_h
    off, only = days_not_counted(acc, cfg.link.cohort_fdr, shift)
    if not (off.any() or only.any()):
        return np.asarray(unseen_h, np.float64)
    weekend = weekend_hours_between(lo_us, hi_us, shift)
    weekday = np.maximum((np.asarray(hi_us, np.float64) - np.asarray(lo_us, np.float64)) / _HOUR_US - weekend, 0.0)
    left = np.where(off, unseen_h - weekend, np.where(only, unseen_h - weekday, unseen_h))
    return np.maximum(left, 0.0)
