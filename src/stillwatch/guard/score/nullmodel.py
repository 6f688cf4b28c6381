"""Links with a stated null model: a pair of accounts, or a cohort, is linked only as far as what it
shares is surprising against the background population of the log being scanned.

Shared items (content and infrastructure) — the popularity null
================================================================
Items of one kind (a template prefix, a template suffix, a near-duplicate group; an IP address, a
payment fingerprint) have a *popularity* read off the log: ``f_k`` = distinct accounts using item
``k``. Each account has an *activity* ``m_a`` (its sampled rows for content kinds — every account's
text features come from a bounded sample —, its distinct values for infrastructure kinds), ``M =
sum_a m_a``.

**H0** (independent accounts): every account picks its items independently of every other account,
account ``a`` holding item ``k`` with probability ``q_ak = 1 - (1 - pi_k)^m_a <= m_a pi_k``,
``pi_k = f_k / M`` (so that ``sum_a m_a pi_k = f_k``: the observed popularity; an IDF-style
background, Spärck Jones 1972). Two accounts then share item ``k`` with probability ``q_ak q_bk <=
m_a m_b pi_k^2``, independently over items, and the number of items they share among those of
popularity ``<= t`` is a sum of independent Bernoullis with mean at most

    ``mu_ab(t) = m_a m_b C(t)``,   ``C(t) = sum_{k : 2 <= f_k <= t} pi_k^2``

(items used by one account cannot be shared and do not count). Its upper tail is bounded by the
Poisson tail of the same mean (Hoeffding 1956, Thm. 4: for ``x >= mu + 1`` the binomial — and in the
limit the Poisson — maximises ``P(X >= x)`` over sums of Bernoullis of mean ``mu``; for smaller ``x``
the Poisson tail is large and no link is made), and ``mu_ab(t)`` only overstates the mean, so

    ``p_ab(t) = P(Poisson(mu_ab(t)) >= X_ab(t))``

is a conservative p-value. Rarity is scanned over popularity tiers ``t = 2, 4, 8, ...`` (a pair
sharing two items used by five accounts each is strong evidence even when both also asked the
log's most popular questions, which a plain count would drown); the pair's p-value is the smallest
over the ``J`` tiers times ``J``, then times the number of kinds tested (Bonferroni). A link exists
when that p-value times the number of **all** account pairs, ``A (A - 1) / 2``, is ``<= alpha``
(``LinkConfig.alpha``): the family-wise chance of any false link in the log is at most ``alpha``,
whichever pairs were actually examined. Popular items can never link: an item sent by many unrelated
accounts has a large ``pi_k`` and adds to every pair's expectation, so one popular question shared
with one member is no evidence at all. Pairs are enumerated from items of popularity up to the
largest tier whose pairs fit ``LinkConfig.pair_budget`` (a bound on work and memory; pairs that share
only more popular items are not examined, which the all-pairs correction already pays for).

Cohorts — the arrival null
==========================
A cohort is a group of accounts first seen (or created, where the log gives an account-creation
time) within a short window who behave alike. An account's *class* is its user agent (one edge per
user agent it used) together with whether its traffic is capability-focused (``capability_share >=
AccountConfig.capability_base``); for the join of address groups
(:func:`~stillwatch.guard.score.links.join_address_cohorts`) also whether it is machine-paced (round the
clock or clockwork gaps: a proxy pool's accounts on a browser's user agent are not compared with the
thousands of people who use that browser). **H0**: the accounts of one class arrive as a Poisson process
whose rate follows the time of day (people sign up and start work at the hours they keep) and is
otherwise the same every day, so a window of width ``w`` holds ``Poisson(E)`` of them with ``E``
read off the class's arrivals at the same time of day on the log's *other* days (leave-one-out,
so a cohort does not raise its own expectation; one pseudo-arrival, so an hour quiet on every other
day does not make any two arrivals a certainty). Windows are the bins of two grids per
width (offset by half a width, so a cohort is not cut in two) for each width in
``LinkConfig.cohort_windows_us``; a cell's p-value is its Poisson tail times the number of cells
tested (Bonferroni), significant at ``<= alpha``. An account's first request is an *arrival* only
when the account could not plausibly have been active, unseen, since the log's start: an account
active in a share ``f`` of the hours of its own span (active hours / span in hours) stays unseen
for the ``h`` hours between the end of the log's first day and its first request with
probability ``(1 - f)^h`` (hours independent beyond the first day: people keep diurnal hours, so
an account already active shows up somewhere in the first day), and the first request is an
arrival when that is ``<= cohort_fdr`` — a
person using the service a few hours a week and first seen on the log's first day was most likely
there before; a script working round the clock and first seen on day three was not (one-request
accounts have no span and take no part; without active hours, the request rate stands in). An
account-creation time, where the log gives one, is an arrival as it stands. Weekends: an account that keeps
weekends off (its active hours fall on weekends significantly less often than the weekend's share of its span) was
not going to show up on one, so the hours of its own weekend (placed by its night: the hours of the day it is never
active in) in its silence do not count, before its first request as after its last (:mod:`~stillwatch.guard.score.weeks`,
:func:`departures`): a log starting on a weekend does not see office workers "arrive" on Monday, nor one ending on a
Sunday see them "leave" on Friday, in whatever time zone they work. A region's holiday is taken the same way, whole
and as far as the account's peers (the weekday workers of its hours) were off that day too
(:mod:`~stillwatch.guard.score.daysoff`). Without the ``weekend_hours`` feature (an older
producer, the live scorer) nobody keeps weekends off. The pause null of :mod:`~stillwatch.guard.score.pauses`
models the rule without weekends (more counted events than the rule gives such accounts: conservative).
Bystanders must still pass the class and purity tests. A
significant cell links its members only when chance arrivals are a small part of it: the local
false discovery rate ``E / X`` (expected over observed members; Efron et al. 2001) is ``<=
LinkConfig.cohort_fdr``; each account belongs to the cells of the narrowest width at which it is
in a significant cell (both offset grids: a cohort cut by one grid's bin edge is joined by the
other's; a wider window around a cohort also holds bystanders arriving in the hours around it),
and each cell is judged again on the members it keeps. This is SynchroTrap's
question (Cao et al. 2014: accounts acting together in time) asked of arrivals against the log's own
arrival rate instead of a fixed similarity threshold.

Everything here is numpy over (account, key) edge arrays: no loop per account, per pair or per row.
The inputs are engine-independent (counts and set structure, never hash values), so Spark and
DuckDB give the same links.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from scipy.special import pdtrc

from stillwatch.core.sets import unique, unique_pairs
from stillwatch.guard.score.daysoff import edge_grant, less_days_off
from stillwatch.guard.score.signals import credible_created
from stillwatch.guard.score.weeks import granted_days

if TYPE_CHECKING:  # pragma: no cover - typing only
    from stillwatch.guard.score.config import DetectConfig

#: Item kinds tested for shared content (activity: sampled rows) and shared infrastructure
#: (activity: distinct values). ``ip_prefix`` is left out (it restates ``ip``) and so is the user
#: agent (a handful of browser strings cover most people; it enters cohorts as a class instead).
CONTENT_ITEM_KINDS: tuple[str, ...] = ("tpl_prefix", "tpl_suffix", "near_dup")
INFRA_ITEM_KINDS: tuple[tuple[str, str], ...] = (("ip", "n_ip"), ("payment", "n_payment"))

_HOUR_US = 3_600_000_000


def poisson_tail(x: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """``P(Poisson(mu) >= x)`` exactly (regularised incomplete gamma), 1 for ``x <= 0``."""
    x = np.asarray(x, np.float64)
    mu = np.maximum(np.asarray(mu, np.float64), 0.0)
    with np.errstate(invalid="ignore"):
        out = pdtrc(np.maximum(x - 1.0, 0.0), mu)
    return np.where(x <= 0, 1.0, np.where(mu <= 0, 0.0, out))


def tiers(fan: np.ndarray) -> np.ndarray:
    """Popularity tier of an item used by ``fan >= 2`` accounts: ``j = ceil(log2 fan)`` (tier ``j``
    holds fans ``2^(j-1) < f <= 2^j``)."""
    return np.maximum(np.ceil(np.log2(np.maximum(np.asarray(fan, np.float64), 2.0))).astype(np.int64), 1)


def key_pairs(acc_s: np.ndarray, key_s: np.ndarray, f_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair of users of each key, vectorised: ``acc_s``/``key_s`` are (account, key index)
    rows sorted by key, ``f_s`` the key's users on each row. Returns ``(left, lo, hi)``: the row of
    the pair's first user and the pair's accounts, ``lo < hi`` (one entry per (pair, key))."""
    start = np.searchsorted(key_s, key_s, side="left")
    r = np.arange(len(key_s)) - start  # position within the key's users
    nrep = f_s - 1 - r  # each user pairs with the users after it
    left = np.repeat(np.arange(len(key_s)), nrep)
    right = left + np.arange(len(left)) - np.repeat(np.cumsum(nrep) - nrep, nrep) + 1
    return left, np.minimum(acc_s[left], acc_s[right]), np.maximum(acc_s[left], acc_s[right])


@dataclass(frozen=True)
class PairTests:
    """Per examined pair (``a < b``, account indices) of one item kind: the tier-scanned p-value
    (smallest tier p-value times the number of tiers) and the number of items shared."""

    a: np.ndarray
    b: np.ndarray
    p: np.ndarray
    shared: np.ndarray


@dataclass(frozen=True)
class ItemPopularity:
    """The popularity of one item kind's items (module docstring): per distinct (item, account) row, sorted by item,
    ``kinv`` (the item's index) and ``acc`` (the account); per item ``fan`` (accounts using it) and ``tier``
    (:func:`tiers`); ``n_tiers`` the largest tier of a shared item (1 with none) and ``c_t[j]`` the cumulative
    ``C(2^j)``."""

    kinv: np.ndarray
    acc: np.ndarray
    fan: np.ndarray
    tier: np.ndarray
    n_tiers: int
    c_t: np.ndarray


def item_popularity(ea: np.ndarray, ek: np.ndarray, act: np.ndarray) -> ItemPopularity:
    """:class:`ItemPopularity` of the (account index, item key) edges ``ea``/``ek`` (duplicates counted once), with
    ``M = sum(act)`` (``act``: ``m_a`` for every account of the log). Requires ``0 <= ea < len(act)``."""
    # distinct (item, account) rows sorted by item (core.sets.unique_pairs: one int64 code per row, sorted)
    _, kinv0 = np.unique(np.asarray(ek, np.int64), return_inverse=True)
    kinv, acc_e = unique_pairs(kinv0, ea)
    fan = np.bincount(kinv)
    m_tot = max(float(np.sum(act)), 1.0)
    # C(t) per tier: sum of pi_k^2 over items of fan 2..2^j (items of fan 1 cannot be shared)
    shared_key = fan >= 2
    tier_k = tiers(fan)
    n_tiers = int(tier_k[shared_key].max()) if shared_key.any() else 1
    c_t = np.cumsum(np.bincount(tier_k[shared_key], weights=(fan[shared_key] / m_tot) ** 2,
                                minlength=n_tiers + 1))
    return ItemPopularity(kinv, acc_e, fan, tier_k, n_tiers, c_t)


def enumerate_pairs(pop: ItemPopularity, items: np.ndarray, budget: int
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair of users of the shared ``items`` (a mask over ``pop``'s items) from the rarest tier up to the
    largest tier whose pairs fit ``budget`` (rows of (pair, item)): ``(lo, hi, tier_row)``, one row per (pair, item),
    ``lo < hi``; empty when not even the rarest tier fits."""
    fan, tier_k = pop.fan, pop.tier
    items = np.asarray(items, bool) & (fan >= 2)
    rows = np.cumsum(np.bincount(tier_k[items], weights=fan[items] * (fan[items] - 1) / 2.0,
                                 minlength=pop.n_tiers + 1))
    fits = np.flatnonzero(rows <= budget)
    j_enum = int(fits.max()) if len(fits) else 0
    if j_enum < 1:
        z = np.zeros(0, np.int64)
        return z, z, z
    sel = items[pop.kinv] & (tier_k[pop.kinv] <= j_enum)
    key_s = pop.kinv[sel]  # sorted by item (item_popularity's rows are)
    left, lo, hi = key_pairs(pop.acc[sel], key_s, fan[key_s])
    return lo, hi, tier_k[key_s[left]]


def pair_tests(ea: np.ndarray, ek: np.ndarray, activity: np.ndarray, budget: int) -> PairTests:
    """The popularity-null test of every pair of accounts sharing an item of one kind (module
    docstring). ``ea``/``ek``: (account index, item key) edges; ``activity``: ``m_a`` for every
    account of the log; ``budget``: the most (pair, item) rows enumerated."""
    act = np.asarray(activity, np.float64)
    a_n = len(act)
    empty = PairTests(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64))
    if len(ea) == 0 or a_n < 2:
        return empty
    pop = item_popularity(ea, ek, act)
    lo, hi, tier_row = enumerate_pairs(pop, pop.fan >= 2, budget)
    if not len(lo):
        return empty
    pairs, best, shared = tier_scan(lo * np.int64(a_n) + hi, tier_row, pop.c_t, act)
    return PairTests(pairs // a_n, pairs % a_n, np.minimum(best * pop.n_tiers, 1.0), shared)


def tier_scan(code: np.ndarray, tier_row: np.ndarray, c_t: np.ndarray, act: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The tier scan of the popularity null (module docstring) for pairs of accounts given by their shared items:
    ``code`` is ``a * A + b`` per (pair, shared item) row (``A = len(act)``), ``tier_row`` the item's tier (>= 1),
    ``c_t[j]`` the cumulative ``C(t)`` of tier ``j``. Returns ``(pairs, best, shared)``, one entry per distinct
    pair code (sorted): the smallest ``P(Poisson(m_a m_b C(2^j)) >= X_ab(j))`` over the tiers ``j`` and the items
    shared. A tier holding none of the pair's items has the count of the tier below and a larger mean, so its tail
    is never the smallest: only the tiers a pair has items in are evaluated (one tail per distinct (pair, tier)
    instead of one per pair and tier). Requires ``1 <= tier_row < len(c_t)``."""
    if not len(code):
        return np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64)
    a_n = np.int64(len(act))
    j1 = np.int64(len(c_t))
    u, cnt = np.unique(np.asarray(code, np.int64) * j1 + np.asarray(tier_row, np.int64), return_counts=True)
    pcode, tj = u // j1, u % j1
    start = np.concatenate(([True], pcode[1:] != pcode[:-1]))
    first, pid = np.flatnonzero(start), np.cumsum(start) - 1
    csum = np.cumsum(cnt)
    x = csum - (csum - cnt)[first][pid]  # the pair's items of tier <= tj
    pairs = pcode[first]
    mm = act[pairs // a_n] * act[pairs % a_n]
    tail = poisson_tail(x, mm[pid] * c_t[tj])
    return pairs, np.minimum.reduceat(tail, first), np.add.reduceat(cnt, first).astype(np.int64)


def pair_links(edges: Mapping, acc: Mapping[str, np.ndarray], n_accounts: int, cfg: "DetectConfig"
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Significant pair links over every tested kind: ``(a, b, p)`` with ``p`` the family-wise
    corrected p-value (kinds x all pairs, module docstring), ``p <= LinkConfig.alpha``."""
    tests = []
    sampled = np.asarray(acc["sampled_rows"], np.float64) if "sampled_rows" in acc else np.asarray(acc["n"], np.float64)
    kinds = [(k, sampled) for k in CONTENT_ITEM_KINDS if k in edges]
    kinds += [(k, np.asarray(acc[col], np.float64)) for k, col in INFRA_ITEM_KINDS if k in edges and col in acc]
    for kind, activity in kinds:
        e = edges[kind]
        tests.append(pair_tests(np.asarray(e[0]), np.asarray(e[1]), activity, cfg.link.pair_budget))
    n_pairs = n_accounts * (n_accounts - 1) / 2.0
    if not tests:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    a = np.concatenate([t.a for t in tests])
    b = np.concatenate([t.b for t in tests])
    p = np.minimum(np.concatenate([t.p for t in tests]) * len(kinds) * n_pairs, 1.0)
    if len(a) == 0:
        return a, b, p
    # one p per pair: the smallest over kinds (already paid for by the factor len(kinds))
    code = a * np.int64(max(n_accounts, 1)) + b
    o = np.lexsort((p, code))
    first = np.concatenate(([True], code[o][1:] != code[o][:-1]))
    a, b, p = a[o][first], b[o][first], p[o][first]
    keep = p <= cfg.link.alpha
    return a[keep], b[keep], p[keep]


def _log_idle(acc: Mapping[str, np.ndarray]) -> np.ndarray:
    """Per account: the log of its chance of an idle hour, ``log(1 - f)`` with ``f`` its active hours / span in hours
    (module docstring, the arrival null); without active hours, the request rate stands in, ``-(n - 1) / span``."""
    n = np.asarray(acc["n"], np.float64)
    first = np.asarray(acc["first_us"], np.float64)
    span_h = np.maximum((np.asarray(acc["last_us"], np.float64) - first) / _HOUR_US, 1.0)
    if "active_hours" in acc:
        # (1 - f)^unseen_h <= cohort_fdr, f = the share of its own hours the account is active in
        f = np.clip(np.asarray(acc["active_hours"], np.float64) / span_h, 0.0, 1.0)
        return np.log1p(-np.minimum(f, 1.0 - 1e-12))
    return -(n - 1.0) / span_h  # an older producer without active hours: the request rate


def arrivals(acc: Mapping[str, np.ndarray], cfg: "DetectConfig") -> tuple[np.ndarray, np.ndarray]:
    """Per account: its arrival time (creation time where the log gives a credible ``created_us``, else its first
    request) and whether that time is an arrival at all (module docstring: an account already active
    before the log would have shown up in one of its active hours since the log's start)."""
    n = np.asarray(acc["n"], np.float64)
    first = np.asarray(acc["first_us"], np.float64)
    created = credible_created(acc)  # a time after the account's first request: unknown (its docstring)
    c = np.full(len(n), np.nan) if created is None else created
    has = ~np.isnan(c)  # a creation time is an arrival as it stands; the others by the rule below
    t0 = float(np.min(first)) if len(first) else 0.0
    # hours are not independent within a day (people keep diurnal hours: an account already active
    # shows up somewhere in the log's first day), so the first day is granted, unseen, for free; so is a weekday
    # worker's day before its first request where the day before that was a day off (daysoff.edge_grant)
    log_q = _log_idle(acc)
    lo = t0 + 24 * _HOUR_US
    shift, granted = granted_days(acc, cfg.link.cohort_fdr)
    hi = first - edge_grant(acc, first, shift, granted, after=False, edge_us=lo) * _HOUR_US
    unseen_h = less_days_off(acc, np.maximum((hi - lo) / _HOUR_US, 0.0), lo, hi, first, log_q, cfg, shift)
    return np.where(has, c, first), has | ((n >= 2) & (unseen_h * log_q <= np.log(cfg.link.cohort_fdr)))


def departures(acc: Mapping[str, np.ndarray], cfg: "DetectConfig") -> tuple[np.ndarray, np.ndarray]:
    """Per account: its last request and whether that is a *departure* — the arrival rule run
    backwards: an account active in a share ``f`` of its own hours that still used the service would
    have shown up in the ``h`` hours between its last request and the log's last day (the last day
    granted, as the first is for arrivals) with probability ``1 - (1 - f)^h``; its last request is a
    departure when ``(1 - f)^h <= cohort_fdr`` (a casual user last seen a day before the log ends has
    most likely not left; an account busy every day for two weeks and silent for the last week has). For an
    account that keeps weekends off (:mod:`~stillwatch.guard.score.weeks`) the hours of its own weekend in ``h`` do
    not count, nor, as far as its peers were off too, those of its peers' days off
    (:mod:`~stillwatch.guard.score.daysoff`);
    nor, for such a weekday worker, the rest of its own day after its last request where its next day is a day off
    (``daysoff.edge_grant``)."""
    n = np.asarray(acc["n"], np.float64)
    last = np.asarray(acc["last_us"], np.float64)
    t1 = float(np.max(last)) if len(last) else 0.0
    log_q = _log_idle(acc)
    hi = t1 - 24 * _HOUR_US
    shift, granted = granted_days(acc, cfg.link.cohort_fdr)
    lo = last + edge_grant(acc, last, shift, granted, after=True, edge_us=hi) * _HOUR_US  # before a day off
    unseen_h = less_days_off(acc, np.maximum((hi - lo) / _HOUR_US, 0.0), lo, hi, last, log_q, cfg, shift)
    return last, (n >= 2) & (unseen_h * log_q <= np.log(cfg.link.cohort_fdr))


def _expected(cells: np.ndarray, x: np.ndarray, stride: int, n_c: np.ndarray, w: float, span: float) -> np.ndarray:
    """Expected chance arrivals of each cell (``cells`` = class index * ``stride`` + bin; ``x`` its
    members): the same time of day on the log's other days (module docstring), ``(S - x + 1) /
    (days - 1)`` with ``S`` the class's arrivals in that slot over every day and one pseudo-arrival
    (a slot with no other arrivals is not a certainty); windows that do not divide a day: the class's
    rate over the span, ``N_c w / T``."""
    cls, b = cells // stride, cells % stride
    per_day = 24 * _HOUR_US / w
    if abs(per_day - round(per_day)) > 1e-9:
        return n_c[cls] * w / span
    slot = cls * int(round(per_day)) + b % int(round(per_day))
    s_slot = np.bincount(slot, weights=x.astype(np.float64), minlength=int(slot.max()) + 1)[slot]
    days = span / (24 * _HOUR_US)
    return (s_slot - x + 1.0) / max(days - 1.0, 1.0)


def cohort_links(acc: Mapping[str, np.ndarray], edges: Mapping, cfg: "DetectConfig",
                 paced: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cohort links (module docstring): ``(account, cell key, p)`` for every member of a significant
    cell whose local false discovery rate is ``<= LinkConfig.cohort_fdr``. With ``paced`` (per account:
    machine-paced, the scorer's pacing evidence), pacing is part of an account's class."""
    none = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    ua = edges.get("user_agent")
    n = np.asarray(acc["n"], np.float64)
    if ua is None or len(ua[0]) == 0 or len(n) < 2:
        return none
    arrive, arrived = arrivals(acc, cfg)
    t0 = float(np.min(arrive))
    span = max(float(np.max(np.asarray(acc["last_us"], np.float64)) - t0), 1.0)
    cap = np.asarray(acc["cap_any"], np.float64) / (n + 2.0) >= cfg.account.capability_base
    ea = np.asarray(ua[0], np.int64)
    cls = np.asarray(ua[1], np.int64) * 2 + cap[ea].astype(np.int64)
    if paced is not None:
        cls = cls * 2 + np.asarray(paced, bool)[ea].astype(np.int64)
    out_a, out_k, out_p, out_e, out_w = [], [], [], [], []
    windows = [float(w) for w in cfg.link.cohort_windows_us if w < span]
    grids = [(w, off) for w in windows for off in (0.0, 0.5)]
    if not grids:
        return none
    n_cls = len(unique(cls))
    n_tests = n_cls * sum(int(np.ceil(span / w)) + 1 for w, _ in grids)
    ok = arrived[ea]
    for g, (w, off) in enumerate(grids):  # a handful of grids: one vectorised pass each
        ea_g, cls_g = ea[ok], cls[ok]
        if len(ea_g) == 0:
            continue
        cu, cinv, n_c = np.unique(cls_g, return_inverse=True, return_counts=True)
        b = np.floor((arrive[ea_g] - t0) / w + off).astype(np.int64)
        cell = cinv.astype(np.int64) * (int(np.ceil(span / w)) + 2) + b
        cells, kinv, x = np.unique(cell, return_inverse=True, return_counts=True)
        expect = _expected(cells, x, int(np.ceil(span / w)) + 2, n_c, w, span)
        p = np.minimum(poisson_tail(x, expect) * n_tests, 1.0)
        good = (p <= cfg.link.alpha) & (expect <= cfg.link.cohort_fdr * x) & (x >= 2)
        m = good[kinv]
        out_a.append(ea_g[m])
        out_k.append((cells[kinv[m]] * 64 + g).astype(np.int64))
        out_p.append(p[kinv[m]])
        out_e.append(expect[kinv[m]])
        out_w.append(np.full(int(m.sum()), windows.index(w), np.int64))
    if not out_a or not sum(len(x) for x in out_a):
        return none
    ca, ck, cp, ce, cw = (np.concatenate(x) for x in (out_a, out_k, out_p, out_e, out_w))
    # each account belongs to the cells of the narrowest width at which it is in a cohort (both offset
    # grids, so a cohort cut by one grid's bin edge is joined by the other's): a wider window around a
    # true cohort also holds bystanders who arrived in the hours around it. Each cell is then judged
    # again on the members it keeps (significance and lfdr), so bystanders cannot ride on its count
    finest = np.full(len(n), np.iinfo(np.int64).max)
    np.minimum.at(finest, ca, cw)
    best = cw == finest[ca]
    ca, ck, ce = ca[best], ck[best], ce[best]
    _, kinv, kcnt = np.unique(ck, return_inverse=True, return_counts=True)
    cp = np.minimum(poisson_tail(kcnt[kinv], ce) * n_tests, 1.0)
    keep = (kcnt[kinv] >= 2) & (cp <= cfg.link.alpha) & (ce <= cfg.link.cohort_fdr * kcnt[kinv])
    return ca[keep], ck[keep], cp[keep]


@dataclass(frozen=True)
class NullLinks:
    """The null-model links of a log: significant pairs ``(pair_a, pair_b, pair_p)`` and cohort
    edges ``(cohort_a, cohort_key, cohort_p)``; p-values are family-wise corrected."""

    pair_a: np.ndarray
    pair_b: np.ndarray
    pair_p: np.ndarray
    cohort_a: np.ndarray
    cohort_key: np.ndarray
    cohort_p: np.ndarray
    #: per pair link: made by the timing test (:mod:`~stillwatch.guard.score.timing`), not by shared
    #: items; None: not recorded
    pair_timing: np.ndarray | None = None

    def graph(self, n_accounts: int, free: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(account, key) edges for :func:`~stillwatch.guard.score.cluster.components`: one key per
        pair link, one per cohort cell (keys distinct from each other). With ``free`` (per account),
        links join free accounts only — those the key rules link to nobody: null-model links are the
        evidence for accounts that share no scaffold or address, and must not bridge others to a
        campaign already linked by its content (a viral post's new users arriving beside it; a public
        prompt library's users sharing its rare prompts with a campaign that draws on the library:
        a common source, not coordination)."""
        pk = np.arange(len(self.pair_a), dtype=np.int64)
        ck = len(pk) + np.unique(self.cohort_key, return_inverse=True)[1].astype(np.int64)
        fr = np.ones(n_accounts, bool) if free is None else np.asarray(free, bool)
        pkeep = fr[self.pair_a] & fr[self.pair_b]
        keep = fr[self.cohort_a]
        ea = np.concatenate([self.pair_a[pkeep], self.pair_b[pkeep], self.cohort_a[keep]])
        ek = np.concatenate([pk[pkeep], pk[pkeep], ck[keep]])
        return ea.astype(np.int64), ek

    def support(self, labels: np.ndarray, pairs: bool = True) -> np.ndarray:
        """Per account: the smallest corrected p-value of its null-model links to other accounts of
        its own cluster (1 when it has none): how strongly the account itself is tied in. With
        ``pairs=False``, cohort ties only."""
        a = len(labels)
        best = np.ones(a)
        same = (labels[self.pair_a] == labels[self.pair_b]) & pairs
        np.minimum.at(best, self.pair_a[same], self.pair_p[same])
        np.minimum.at(best, self.pair_b[same], self.pair_p[same])
        if len(self.cohort_a):
            # a cohort cell ties a member in when another member of the cell shares its cluster
            key = np.unique(self.cohort_key, return_inverse=True)[1]
            code = key.astype(np.int64) * np.int64(a) + labels[self.cohort_a]
            _, cinv, cnt = np.unique(code, return_inverse=True, return_counts=True)
            ok = cnt[cinv] >= 2
            np.minimum.at(best, self.cohort_a[ok], self.cohort_p[ok])
        return best


def null_links(acc: Mapping[str, np.ndarray], edges: Mapping, n_accounts: int, cfg: "DetectConfig") -> NullLinks:
    """Pair, timing and cohort links of a log under the stated null models (module docstring;
    timing: :mod:`~stillwatch.guard.score.timing`, its own family at ``alpha``, so the log's chance
    of any false pair or timing link is at most ``2 alpha``)."""
    from stillwatch.guard.score.timing import timing_links

    pa_, pb_, pp = pair_links(edges, acc, n_accounts, cfg)
    timing = np.zeros(len(pa_), bool)
    if "minute" in edges:
        ta, tb, tp = timing_links(edges["minute"][0], edges["minute"][1], n_accounts, cfg)
        pa_, pb_, pp = np.concatenate([pa_, ta]), np.concatenate([pb_, tb]), np.concatenate([pp, tp])
        timing = np.concatenate([timing, np.ones(len(ta), bool)])
    ca, ck, cp = cohort_links(acc, edges, cfg)
    return NullLinks(pa_, pb_, pp, ca, ck, cp, timing)


def campaign_strength(labels: np.ndarray, support: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A campaign's strength from its links, broadcast to its members: the median over members of
    ``-log10`` of each member's own strongest null-model tie (0 for a member tied in only by the
    key-level rules) — the evidence that the typical member belongs, so a campaign that grew by
    one weak attachment after another has a median near 0 — and the share of members with such a
    tie."""
    from stillwatch.guard.score import cluster as _cluster

    s = -np.log10(np.clip(np.asarray(support, np.float64), 1e-300, 1.0))
    tied = (np.asarray(support) < 1.0).astype(np.float64)
    size = _cluster.sizes(labels)
    return _cluster.group_median(labels, s), _cluster.Groups(labels).sum(tied) / np.maximum(size, 1)
