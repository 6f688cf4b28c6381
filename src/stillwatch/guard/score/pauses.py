"""The pause null of arrivals and departures: how many of a set of accounts the arrival and departure
rules would count inside a time window *although none of them arrived or left* (issue 13).

Why it is needed
================
:func:`~stillwatch.guard.score.nullmodel.departures` counts an account's last request as a departure when
an account active in a share ``f`` of its hours would have shown up, had it stayed, in the hours between that
request and the log's last day: ``(1 - f)^h <= cohort_fdr``. So an account that never left is still counted
with probability up to ``cohort_fdr`` (a person pausing), and — this is the point — *when* such a false
departure is counted is not spread like real departures: it can only fall before the account's own cut-off
``cut = E - h_min`` (``E`` the start of the log's granted last day, ``h_min = log(cohort_fdr) / log(1 - f)``),
and it piles up just before it, since a long silence is rare for a busy account. Busy accounts of similar
``f`` share that cut-off. On the simulator's agentic seed 2, 6 of 177 power users holding several keys were
counted as departed, all within one day — the day before their common cut-off — and the several-key departure
signal of :mod:`~stillwatch.guard.score.grouping` made them a campaign (corrected p 0.0054 under its
hypergeometric null, which compares the carriers with the log's other departures: mostly one-session users,
whose departures are real and spread over the week). The group is what pausing gives (below).
Arrivals mirror it: an account active since before the log is counted as arriving when unseen long enough
after the log's granted first day ``S``, and such false arrivals pile up just after ``S + h_min``.

Model (H0', the pause null)
===========================
None of the ``members`` (the accounts that could carry the signal, e.g. every account with several keys,
whether or not it has a counted time) arrived during the log or left before its end: each was active all
along, in each hour independently with probability ``f0`` (H0's estimate: its active hours over the hours it
was observable, from its first request to the granted last day ``E``; for arrivals, from the granted first day
``S`` to its last request), with the same granted days as the rules. For departures, with ``q = 1 - f0``:

- its last activity falls ``k`` whole hours before ``E`` with probability ``f0 q^k``;
- the rule then counts it when its own estimate ``f = active hours / span`` reaches ``1 - fdr^(1 / (k + 1/2))``
  (the silence the rule reads runs to the request itself: half an hour more than ``k`` on average), where the
  span is the ``L`` hours of life before that activity and the active hours are ``2 + Binomial(L - 1, f0)``
  (the life's first and last hours are active): an exact binomial tail. Reading ``f`` off the shortened span is
  what makes pausing accounts count more often than ``fdr``: an account that happens to be quiet at the end
  looks busier than it is, and then needs a shorter silence (:func:`_hour_mass`).

Arrivals mirror it (the first activity ``k`` hours after ``S``, the life after it). The *last-seen* signal
(``kind="last"``) counts every member's last activity before ``E``, with no rule (an account too sparse for the
rule, active in 4 % of its hours, is last seen 1-3 days before ``E`` a third of the time although it never left; the
pause null says how many such accounts a window should hold). Every last activity counts, so *where* in the day and
week it can fall matters as much as how often: a member is active only in its own hours
(:func:`~stillwatch.guard.score.weeks.on_hours`: the hours of the day it was ever active in, less its own weekend
where it was never active on one), in each independently at ``f0 = active hours / its own hours observable``, and its
mass in hour ``k`` is ``f0 q^k'`` in its own hours (``k'`` its own hours between ``k`` and ``E``), 0 in the others
(:func:`_last_curve`), on UTC clock hours as the hour masks are. Own hours are read off the member's traffic as it
stands, as ``f0`` is: an hour of the day it never used (seen fourteen times in two weeks) or a weekend it never used
(one unit, seen twice) is not one of its own; single hours of the week are not used (seen twice each, "ever used"
would overfit them). A weekday worker who never left is last seen at the end of the last working day before ``E``,
in its own time zone; under hours independent round the clock it would have shown up on the weekend, and two
hundred such developers made a false group (``tests/guard/test_guard_key_groups.py``). Its peers' days off (a region's
holiday, :mod:`~stillwatch.guard.score.daysoff`) are taken whole: on local day ``d`` the member works with probability
``r(d)`` and then at ``f0`` in its own hours, so a day is silent with probability ``1 - r + r prod (1 - f0)``
(:func:`_silent_after`), and ``f0`` is read over its own hours weighted by ``r``. Members with an
account-creation time are left out of arrivals (their arrival is a fact). So are members seen in the granted
day (active in the log's last day: never counted as departed; in its first day: never counted as arriving):
the model is conditional on each member's silence there, an event of hours the counted silence does not use, so
under H0' (hours independent) it leaves the rest of the member's hours as they were. Summed over members, the hours give a
curve of expected counted events (:func:`pause_curve`); a window's ``mu`` is read off it.

The window's count of counted members is then a sum of independent Bernoullis with mean ``mu``, and
``P(Poisson(mu) >= x)`` bounds its upper tail for ``x >= mu + 1`` (Hoeffding 1956, Thm. 4, as the item links of
:mod:`~stillwatch.guard.score.nullmodel` use it); below that the p-value is 1. Checked against the rules
themselves (``tests/guard/test_guard_pauses.py``): accounts simulated hour by hour are counted as the model says,
within sampling error, whether or not they were silent in the granted day. On agentic seed 2, 39 of the 177
several-key power users were silent in its last day; the model expects 3.8 counted departures among them (6
observed) and 1.9 in the false group's day (6: Poisson tail 0.014, times the cells tested: no group). Real
people's hours are not independent (a pause lasts days): the null is the rules' own model, no stronger.

Attacker model: an operator controls when its accounts start and stop. Stopping them all at once long before
the log ends — the batch stop the departure signal is for — gives far more counted departures in one window
than pausing would (held-out D's spread: 174 accounts leaving over a few days, where pausing expects a handful
near each account's own cut-off). An operator stopping within ``h_min`` of the log's end is not counted at all (as
before); one that stops each account just before its own cut-off, where pausing accounts' false departures fall,
now hides among them — the price of not grouping people who pause.

Everything is numpy over a [members, hours] block at a time (hours: the log's length in hours).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy import special

from stillwatch.guard.score.nullmodel import poisson_tail
from stillwatch.guard.score.signals import credible_created
from stillwatch.guard.score.daysoff import COLUMNS as _DAY_COLUMNS, day_weight, edge_grant
from stillwatch.guard.score.weeks import granted_days, on_hours

_HOUR_US = 3_600_000_000
#: members per [members, hours] block (bounds the block at ~ BLOCK x the log's hours floats)
BLOCK = 2048
KINDS = ("arrival", "departure", "last")


def pause_curve(acc: Mapping[str, np.ndarray], kind: str, members: np.ndarray, cohort_fdr: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """``(edges [H + 1], cum [H + 1])``: the expected number of ``members`` (bool [A]) whose ``kind``
    (``"arrival"``, ``"departure"``, or ``"last"``: every last activity before the granted last day, no rule) the
    rules of :mod:`~stillwatch.guard.score.nullmodel` would count before
    each hour edge (microseconds, ascending) under the pause null (module docstring); :func:`window_means` reads
    windows off it. Requires ``acc`` with ``n``, ``first_us``, ``last_us`` (and ``active_hours``, ``created_us``
    where the log has them) and ``0 < cohort_fdr < 1``."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if not 0.0 < cohort_fdr < 1.0:
        raise ValueError(f"cohort_fdr must be in (0, 1), got {cohort_fdr!r}")
    n = np.asarray(acc["n"], np.float64)
    first = np.asarray(acc["first_us"], np.float64)
    last = np.asarray(acc["last_us"], np.float64)
    m = np.asarray(members, bool) & (n >= 2)  # one-request accounts are never counted as arriving or leaving
    created = credible_created(acc) if kind == "arrival" else None
    if created is not None:
        m &= np.isnan(created)  # a (credible) creation time is an arrival, not a guess
    # a member seen in the granted day is never counted (its silence is shorter): only those silent there take part
    if kind != "arrival":
        edge = float(np.max(last)) - 24 * _HOUR_US if len(last) else 0.0  # E: the log's last day is granted
        m &= last < edge
    else:
        edge = float(np.min(first)) + 24 * _HOUR_US if len(first) else 0.0  # S: the log's first day is granted
        m &= first >= edge
    # without active hours (an older producer) the rules' own stand-in: the request rate, (n - 1) per span
    ah = np.asarray(acc["active_hours"], np.float64)[m] if "active_hours" in acc else n[m] - 1.0
    if kind == "last":
        return _last_curve({c: np.asarray(v)[m] for c, v in acc.items() if c in _OWN_HOURS}, first[m], ah, edge)
    # hours each member was observable before E (after S)
    own = (edge - first[m]) / _HOUR_US if kind == "departure" else (last[m] - edge) / _HOUR_US
    hours = int(np.ceil(max(float(own.max()) if len(own) else 0.0, 0.0)))
    mass = np.zeros(hours)  # [H]: hour k = the k-th hour before E (departures) or after S (arrivals)
    if hours and m.any():
        f0 = np.clip(ah / np.maximum(own, 1.0), 1e-12, 1.0 - 1e-12)  # H0's activity rate: observable all along
        # the rules grant a weekday worker the edge of its day next to a day off (daysoff.edge_grant)
        shift, granted = (v[m][:, None] for v in granted_days(acc, cohort_fdr))  # [J, 1]
        back = kind == "departure"
        t_k = edge + (-1.0 if back else 1.0) * (np.arange(hours) + 0.5) * _HOUR_US  # [H] the middle of hour k
        cal = {c: np.asarray(v)[m] for c, v in acc.items() if c in _DAY_COLUMNS}
        for s in range(0, len(f0), BLOCK):  # every member's hours at once, a block of members at a time
            grant = edge_grant({c: v[s:s + BLOCK] for c, v in cal.items()},
                               np.broadcast_to(t_k[None, :], (len(f0[s:s + BLOCK]), hours)), shift[s:s + BLOCK],
                               granted[s:s + BLOCK], after=back, edge_us=edge)  # [J, H]
            mass += _hour_mass(f0[s:s + BLOCK], own[s:s + BLOCK], hours, cohort_fdr, grant)
    cum = np.concatenate(([0.0], np.cumsum(mass)))  # [H + 1], by hours away from the edge
    away = np.arange(hours + 1) * float(_HOUR_US)
    if kind != "arrival":  # hour k lies in [E - (k + 1) h, E - k h): ascending edges, mass before each
        return edge - away[::-1], cum[-1] - cum[::-1]
    return edge + away, cum


#: the columns that place a member's own hours (score/weeks.py)
_OWN_HOURS = ("n", "hour_mask", *(f"day_mask_{d}" for d in range(7)), *_DAY_COLUMNS)


def _last_curve(own_cols: Mapping[str, np.ndarray], first: np.ndarray, ah: np.ndarray, edge: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`pause_curve` of the last-seen signal (module docstring) for the members ``own_cols`` (their ``n`` and
    hour masks), first requests ``first`` and active hours ``ah``, before ``edge`` (E). Hours are UTC clock hours,
    as the masks are: hour k = ``[u - (k + 1) h, u - k h)`` with ``u`` the first clock hour at or after E, hour 0
    cut at E (only its share ``phi`` before E can hold a last sighting). Member j is active only in its own hours
    (``on`` [J, H], :func:`~stillwatch.guard.score.weeks.on_hours`), in each independently at ``f0 = active hours /
    its own hours observable before E`` (each hour by its share after the member's first request and before E, and by
    its day's ``r``): its mass in hour k of local day d is ``r(d) f0 phi_k`` times the chance it is silent in every
    hour between k and E (:func:`_silent_after`: idle in d's own hours after k, each later day silent, worked or not;
    without days off ``prod (1 - f0 phi_k')`` over its own hours ``k'`` there), ``phi`` 1 but in hour 0, in its own
    hours after a whole hour of its life."""
    hour = float(_HOUR_US)
    u = np.ceil(edge / hour) * hour
    phi0 = (edge - (u - hour)) / hour if u > edge else 1.0
    own = (u - np.asarray(first, np.float64)) / hour  # [J] clock hours from each first request to u
    hours = int(np.ceil(max(float(own.max()) if len(own) else 0.0, 0.0)))
    mass = np.zeros(hours)
    if hours:
        k = np.arange(hours)[None, :]
        share = np.ones(hours)
        share[0] = phi0
        mid = u - (np.arange(hours) + 0.5) * hour  # [H] the middle of clock hour k
        for s in range(0, len(own), BLOCK):  # every member's hours at once, a block of members at a time
            cols = {c: v[s:s + BLOCK] for c, v in own_cols.items()}
            on = on_hours(cols, mid)  # [J, H]
            r, day = day_weight(cols, mid)  # [J, H] its peers' days off (score/daysoff.py) and its local days
            o = own[s:s + BLOCK, None]
            seen = on * r * share[None, :] * np.clip(o - k, 0.0, 1.0)  # [J, H] own hours observable before E
            f0 = np.clip(ah[s:s + BLOCK] / np.maximum(seen.sum(axis=1), 1.0), 1e-12, 1.0 - 1e-12)[:, None]
            rate = np.where(on, f0 * share[None, :], 0.0)  # [J, H] on a day it works
            mass += np.where(on & (k + 1 <= o), r * rate * np.exp(_silent_after(np.log1p(-rate), r, day)), 0.0
                             ).sum(axis=0)
    cum = np.concatenate(([0.0], np.cumsum(mass)))
    edges = u - np.arange(hours + 1)[::-1] * hour  # ascending; hour 0 ends at E
    if hours:
        edges[-1] = edge
    return edges, cum[-1] - cum[::-1]


def _silent_after(log_q: np.ndarray, r: np.ndarray, day: np.ndarray) -> np.ndarray:
    """``[J, H]``: the log chance that member j is silent in every hour before hour k (nearer E), its hours grouped
    in its local days (``day``, constant along runs of hours): in a day it works its hours are idle independently
    (``log_q`` each), and it works day d with probability ``r`` (:mod:`~stillwatch.guard.score.daysoff`), so a whole
    day is silent with probability ``1 - r + r prod q``; the day holding hour k is one it works (it is active in k)."""
    j, h = log_q.shape
    new = np.ones((j, h), bool)  # the first hour (nearest E) of each day
    new[:, 1:] = day[:, 1:] != day[:, :-1]
    end = np.ones((j, h), bool)  # the last hour (farthest from E) of each day
    end[:, :-1] = new[:, 1:]
    c = np.cumsum(log_q, axis=1)
    start = np.maximum.accumulate(np.where(new, np.arange(h)[None, :], 0), axis=1)  # [J, H] the day's first hour
    whole = c - np.where(start > 0, np.take_along_axis(c, np.maximum(start - 1, 0), axis=1), 0.0)  # at ends: the day
    with np.errstate(divide="ignore"):
        day_log = np.where(r < 1.0, np.log(1.0 - r + r * np.exp(whole)), whole)  # the day silent, worked or not
    x = log_q + np.where(end, day_log - whole, 0.0)
    return np.cumsum(x, axis=1) - x


def _hour_mass(f0: np.ndarray, own: np.ndarray, hours: int, fdr: float, grant: np.ndarray | float = 0.0
               ) -> np.ndarray:
    """Summed over the members: the chance that the member's last (first) activity falls in the k-th hour before E
    (after S) and that the rule then counts it ([hours]). With ``L = own - k`` hours of the member's life on the
    other side (``own``: its hours between its first request and E), the activity is there with probability
    ``f0 (1 - f0)^k`` and the rule counts it when its estimate ``f = active hours / L`` reaches
    ``1 - fdr^(1 / (k + 1/2 - g))`` (a silence of that many hours is then ``<= fdr`` likely; ``g``, ``grant`` [J, H]:
    the hours of the member's own day the rules grant a weekday worker next to a day off, after a last activity in
    hour k or before a first one — :func:`~stillwatch.guard.score.daysoff.edge_grant` at the hour's middle; never
    counted where nothing is left), the
    active hours being ``2 + Binomial(L - 1, f0)`` (the life's first and last hours are active): an exact binomial
    tail."""
    k = np.arange(hours, dtype=np.float64)[None, :]  # [1, H] whole hours of silence beyond the granted day
    life = np.floor(own)[:, None] - k  # [J, H] hours of the member's life before the activity
    # the rule reads the silence to the request itself (half an hour more, on average, than the whole hours), less
    # the rest of the member's day
    silence = k + 0.5 - grant  # [J, H] (or [1, H])
    with np.errstate(divide="ignore"):
        f_req = np.where(silence > 0, -np.expm1(np.log(fdr) / np.maximum(silence, 1e-9)), 1.0)  # the estimate needed
    need = np.ceil(f_req * np.maximum(life, 1.0) - 1e-9) - 2.0  # active hours needed beyond the two ends
    inner = np.maximum(life - 1.0, 0.0)  # hours strictly between the life's first and last hours
    tail = special.bdtrc(np.clip(need - 1.0, 0.0, inner).astype(np.int64), inner.astype(np.int64), f0[:, None])  # P(Bin >= need)
    tail = np.where(silence <= 0, 0.0, np.where(need <= 0, 1.0, np.where(need > inner, 0.0, tail)))
    p = f0[:, None] * np.exp(k * np.log1p(-f0[:, None])) * tail
    return np.where(life >= 1, p, 0.0).sum(axis=0)


def window_means(curve: tuple[np.ndarray, np.ndarray], lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``mu`` [W]: the pause null's expected count in each window ``[lo, hi)`` (microseconds), read off
    :func:`pause_curve` (the mass spread evenly within each hour). Requires equal-length 1-d ``lo`` / ``hi``."""
    lo = np.asarray(lo, np.float64)
    hi = np.asarray(hi, np.float64)
    if lo.shape != hi.shape or lo.ndim != 1:
        raise ValueError(f"lo and hi must be 1-d of one length, got {lo.shape} and {hi.shape}")
    edges, cum = curve
    if len(edges) < 2:
        return np.zeros(len(lo))
    return np.maximum(np.interp(hi, edges, cum) - np.interp(lo, edges, cum), 0.0)


def pause_means(acc: Mapping[str, np.ndarray], kind: str, members: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                cohort_fdr: float) -> np.ndarray:
    """:func:`window_means` of :func:`pause_curve`: the pause null's expected count of ``members`` counted in each
    window ``[lo, hi)``."""
    if np.shape(lo) != np.shape(hi) or np.ndim(lo) != 1:  # before the curve's work
        raise ValueError(f"lo and hi must be 1-d of one length, got {np.shape(lo)} and {np.shape(hi)}")
    return window_means(pause_curve(acc, kind, members, cohort_fdr), lo, hi)


def pause_tail(x: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """``P(X >= x)`` bounded for ``X`` a sum of independent Bernoullis of mean ``mu``: the Poisson tail where
    ``x >= mu + 1`` (Hoeffding 1956, Thm. 4), else 1."""
    x = np.asarray(x, np.float64)
    mu = np.asarray(mu, np.float64)
    return np.where(x >= mu + 1.0, poisson_tail(x, mu), 1.0)
