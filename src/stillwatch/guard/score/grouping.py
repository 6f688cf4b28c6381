"""Campaign grouping of accounts that share no wording, address or card, by *when* they act (issue 13).

The links of :mod:`~stillwatch.guard.score.links` and :mod:`~stillwatch.guard.score.nullmodel` group
accounts by what they share. Campaigns that share nothing — burst-then-dormant accounts on their own
residential addresses, each harvesting on one of a few nights; accounts created in one hour and then
used at a human pace — are one operator only in time. This step groups the accounts the other rules
left outside any listed campaign by a time signal, each with a stated null model calibrated on the
log being scanned, after scoring (the groups change no account's own evidence).

Signals
=======
* **burst night** — the median hour of each account's busiest 24 hours (``peak_mid_us``: the first hour by which
  half of its requests were sent; a straggler request after the burst moves the window's end, not it); *carriers*
  are the accounts that are burst-then-dormant family-wise (``dormant`` > 0,
  :func:`~stillwatch.guard.score.signals.dormant_carrier`: the busiest day against the account's whole observable
  life, silence after it included, and against a workload recurring on another day — ten-fold at fewer than one
  expected by chance, or five-fold at 1 %).
* **arrival** — each account's arrival (its creation time, or a first request that is an arrival at
  all, :func:`~stillwatch.guard.score.nullmodel.arrivals`); *carriers* are the flagged accounts.
* **several keys, by arrival and by departure** — the same arrival times, and each account's last
  request where it is a departure at all (:func:`~stillwatch.guard.score.nullmodel.departures`: the
  arrival rule run backwards, an account that would have shown up again had it stayed); *carriers*
  are the accounts that sent their traffic through two or more API keys *side by side*: ``n_keys -
  key_rotations >= 2`` (exact on every engine, :func:`~stillwatch.guard.features.tables.account_keys`;
  a person who replaces a key hands over from the abandoned one, which is a rotation, not a second
  key in use), whose keys are not used *one at a time*: the order of their requests' keys does not
  reject an exchangeable order (``key_order_p >= GroupConfig.key_order_alpha``,
  :func:`~stillwatch.guard.score.signals.key_order_p`, a runs test over the account's own rows), over the whole
  order nor within its days of work (``key_day_order_p``: the same test over the requests less than six hours
  apart; a developer's switches come at the day's edge). A client whose keys are spread at random fails either
  test at ``key_order_alpha`` each, so it loses at most twice that share of its accounts.
* **several keys, by last sighting** — the same carriers' last requests before the log's granted last day,
  whether or not the departure rule counts them. The rule asks each account on its own whether its silence is
  surprising; an account active in 4 % of its hours is not, after two days, so a batch stop of sparse accounts
  shows only its busier members as departures (held-out E seed 43: 23 of the operator's 150 accounts, last seen
  1-3 days before the granted day, were in no group). Their number is what is surprising: the pause null
  (:mod:`~stillwatch.guard.score.pauses`, ``kind="last"``) gives the carriers that would be last seen in each
  window had none of them left — each in its own hours of the day and week, so a weekday worker who never left is
  expected on its last working day, not on the weekend — and a cell must beat it as the departure cells do. Its
  cells join the departure cells where they share a carrier (one operator's stop seen both ways).
  Attacker model: an operator spreading a harvest of distinct public prompts over many
  accounts at a human pace, each account behind several keys (each key under its own quota), gives
  each account nothing a person does not also have — its prompts, pace, address and volume are a
  person's (held-out D's ``spread``: 45 distinct prompts per account, below a heavy user). What it
  cannot avoid is running its accounts *as a batch*: registered, started and stopped by one job.
  Several keys are not evidence on their own: a developer keeps one key per project, and works through
  them one at a time (a project a day, a key a session), which the order test tells apart from a
  client spreading its requests over its keys with a few dozen requests (held-out E seed 43: 291 of 300
  such developers reject the order test, 1 of the operator's 150 accounts does). The null below asks only
  whether the accounts that carry arrive or leave together, beyond the log's own arrivals and
  departures. To stay quiet the operator must use one key per account, or one key at a time (a key a
  session: then its accounts are a developer's to every rule here), or spread its accounts' arrivals
  and departures over the log as the population's are. *Limit*: a carrier there by chance is an
  ordinary account that interleaves its keys (a developer whose staging and production keys serve at
  once; one with too few requests for the order test to speak) arriving or leaving in the campaign's
  window, and the local false discovery rate below lets up to 5 % of a group be such accounts; time
  cannot tell them from the operator's. Where a log holds a few such accounts beside a campaign, a few
  of them join it (``tests/guard/test_guard_key_groups.py``; held-out E: 2 of 300 developers at seed 43,
  both with ~30 requests); where they are many, no cell is pure enough and the signal stays silent.

Null model
==========
**H0**: carrying the signal is independent of the time. Of the ``N`` accounts that have a time,
``K`` carry the signal; a time cell holding ``N_C`` accounts then holds ``X_C ~
Hypergeometric(N, K, N_C)`` carriers (sampling without replacement: the population's own timing —
most accounts' busiest days fall on the busy days of the log, most arrivals in its first hours —
is the background, nothing is assumed about rates). A cell's p-value is the exact upper tail
``P(X >= X_C)`` times the number of cells tested (Bonferroni over every width, both grids offset by
half a width, every bin, every signal); a cell groups its carriers when that is ``<=
GroupConfig.alpha`` and chance carriers are a small part of it: the carriers expected by chance,
``E_C = N_C r`` with ``r`` the carrier rate of the accounts outside every significant cell of the
signal and not in a significant cell of any other signal (one pseudo-carrier: ``(K_bg + 1) / (N_bg + 1)``;
campaigns do not raise the background, as a peak caller's local background excludes the peaks: an operator's
account outside the signal's own cells — an early departure of a stop spread over days — but inside another
signal's, its arrival's, is the campaign's, not the background's), are ``<= GroupConfig.fdr *
X_C`` (local false discovery rate, Efron et al. 2001). Widths run from an hour (a cohort created together) to a week (a
campaign's bursts over several nights). A group is a region of excess carriers: the carriers of
significant cells, cells sharing a carrier joined — as a scan statistic's overlapping significant
windows are merged into one cluster. Every joining cell is itself significant and pure, so a group
never grows through weak links; campaigns whose windows no significant cell spans stay separate (two
campaigns within one week of each other are one group when a significant week-long cell holds
both: time alone cannot tell them apart). Accounts already listed in a campaign keep it and are never
carriers — but a listed campaign whose members all carry a group's signal inside the group's time is the same
operator's, and joins the group (:func:`absorb_listed`, its own null: the members' times against any as many accounts'
times). A member that re-sends its prompts far beyond the group's other members leaves it (the linked clusters'
repetition test, :func:`~stillwatch.guard.score.repetition.repeats_beyond`): a harvest wants new answers, and an
evaluation lab that ran its benchmark twice on the campaign's night, then fell silent, is a burst-then-dormant
carrier by the signal's own test (held-out E seed 44) — time cannot tell it apart, its repetition does. So does a
member that ran, once, a list one account outside the group also runs (:mod:`~stillwatch.guard.score.replays`: most
of its prompts that account's, beyond their popularity — a lab's single benchmark pass on the campaign's night,
held-out E seeds 43-44 cut to windows). Both rules are in :mod:`~stillwatch.guard.score.leavers`.

**Times known to within an interval** (arrivals and departures). The log shows when an account was last (first)
seen, not when it left (arrived): the departure rule skips the days of an account's week it was not going to use
anyway, so a weekday worker last seen on a Friday left somewhere before its Monday, and a weekend-only user last
seen on a Sunday somewhere before its next Saturday (:func:`~stillwatch.guard.score.daysoff.unseen_run`; the account's
week must be significant at ``GroupConfig.week_alpha``, or its span hold none of its weekend or weekdays; a creation
time is a moment). Read as a moment, such a last request stands for several days of leaving, and a population of
weekday workers leaving at a steady rate piles up on Fridays (the week-shape benchmark's nine-day log: 34 of 59
departing carriers last seen on its one Friday; 10-13 developers of 200 grouped as one stop) — and hobbyists whose
whole life is one weekend all "arrive" on its Saturday. So a cell holds an account only when the whole interval lies
inside it, and each grid's hypergeometric population (``N``, ``K``) is the accounts whose interval fits one of its
cells: a Friday's leaving is weighed in the cells that hold the weekend, beside the other accounts' leaving over the
same days. The time-of-day null (H0'') and the background rate read each account at its request. Attacker model: an
operator that keeps its accounts' weekends off and stops them on a Friday evening is found in those cells — 40 of 40
at every seed in ``benchmarks/guard/week_shapes.py`` (``operator-friday``), the cells a weekend wide —; *limit*: they
also hold the weekend's ordinary leavers, so where many weekday workers that carry the signal leave over the same
weekend (developers interleaving keys), the stop is found only when they are few
(``tests/guard/test_guard_grouping.py``).

**H0''** (cells narrower than a day): carrying the signal is independent of the *day*, given the hours of the
day. Carriers can keep other hours than the rest of the log — developers who stop at the end of a working day
beside casual users who stop in the evening —, and then every hour of their habits holds carriers only, which H0
calls surprising on any day. Of the ``N_s`` accounts whose time falls in the cell's hours of the day on any day,
``K_s`` carry; the cell's ``N_C`` accounts hold ``Hypergeometric(N_s, K_s, N_C)`` carriers. A narrow cell must
reject both (an intersection-union test: the larger p-value), and its chance carriers are ``N_C`` times the carrier
rate of the background in its hours of the day (one pseudo-account at the day-blind rate: hours seen on few
accounts stay near it). Cells a day wide or wider hold every hour and are H0's alone.

**H0'** (arrivals and departures; :mod:`~stillwatch.guard.score.pauses`): none of the accounts that could
carry the signal arrived or left at all — they were active all along, and the rules counted some of them
because they paused. Such false events are not spread like the log's real ones: a busy account's false
departure piles up just before its own cut-off, which accounts of similar activity share (agentic seed 2: six
power users holding several keys, all "leaving" the day before their common cut-off, grouped at p 0.0054
under H0 alone). A cell of an arrival or departure signal is significant only when it rejects both nulls (an
intersection-union test: the larger p-value, each with the same Bonferroni factor), and its chance members
are the larger of ``E_C`` and the carriers that pausing would put in it — counted over the members outside
every significant cell of every signal (accounts a time signal already holds for a campaign are presumed its
members, not chance ones, as campaigns do not raise the background above). Without that, a real batch stop's
week-long cell takes in every pausing carrier of the week (``tests/guard/test_guard_pauses.py``).

Score
=====
A group is a campaign, scored as the linked campaigns are (:mod:`~stillwatch.guard.score.detect`):
``sqrt(harvest * coordination)`` with harvest the reading hours of what the members obtained
together (their extracted hours, :mod:`~stillwatch.guard.score.extraction`, on the campaign volume
scale ``campaign.full_harvest_hours``) and coordination the group's own significance,
``clip(-log10 p / FWER_DECADES, 0, 1)`` of its strongest cell's corrected p-value (full at 1 %
family-wise, :mod:`~stillwatch.guard.score.signals`). Each member's score is the larger of its own
and its group's: one fresh account that harvests one night and stops is what a one-off batch
customer also looks like; thirty of them on the same nights are a campaign.

Everything is numpy over per-account arrays (one vectorised pass per window grid); the inputs are
exact counts and times, the same on every engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from stillwatch.core.sets import unique
from stillwatch.guard.score import cluster as _cluster
# scipy.stats is imported in the functions that use it: importing it costs ~1 s of start-up (the gateway and the
# CLI import this module whether or not a scan runs)

from stillwatch.guard.score.config import DetectConfig
from stillwatch.guard.score.nullmodel import arrivals, departures
from stillwatch.guard.score.pauses import pause_curve, pause_means, pause_tail, window_means

#: The signals, in the order of ``Groups.kind`` (0: none).
KINDS = ("burst_night", "arrival", "keys_arrival", "keys_departure", "keys_last_seen")


@dataclass(frozen=True)
class Groups:
    """Per account: ``head`` (the group's smallest account index, -1 outside any group), ``kind``
    (index into :data:`KINDS` + 1; 0 none), ``p`` (the group cell's corrected p-value, 1 none),
    ``width_us`` (its window) and ``score`` (the group's median member score, 0 none); ``new_share``, where
    :func:`group_step` measured it, the share of the group's distinct prompts new to it (:func:`group_hours`)."""

    head: np.ndarray
    kind: np.ndarray
    p: np.ndarray
    width_us: np.ndarray
    score: np.ndarray
    new_share: np.ndarray | None = None


def _cells(t: np.ndarray, has: np.ndarray, carrier: np.ndarray, windows, far: np.ndarray | None = None
           ) -> tuple[dict, int]:
    """One signal's cells holding >= 2 carriers, one entry per (carrier, cell): ``acc``, ``code``
    (bin * 64 + grid), ``x`` (carriers in the cell), ``n_c`` (accounts in it), ``n``/``k`` (accounts and carriers
    in the grid's population), ``w``, ``lo``/``hi`` (its time bounds), with the signal's ``t`` (per account with a
    time), ``idx`` and ``car``; and the number of cells tested.

    ``far``: the other edge of each account's time where it is known only to within an interval
    (:func:`~stillwatch.guard.score.daysoff.unseen_run`; ``None``: every time a moment). A cell holds an account
    only when the whole interval lies inside it, and a grid's population (``n``, ``k``) is the accounts whose
    interval fits one of its cells: a weekday worker last seen on a Friday left somewhere in its weekend, which a
    cell of six Friday hours cannot claim and a cell of three days holds with the other accounts' three days of
    leaving."""
    idx = np.flatnonzero(has)
    n, k = len(idx), int(np.count_nonzero(carrier[idx]))
    if k < 2 or n < 2:
        return {}, 0
    tt = t[idx]
    ff = tt if far is None else np.asarray(far, np.float64)[idx]
    lo_t, hi_t = np.minimum(tt, ff), np.maximum(tt, ff)
    point = hi_t <= lo_t
    t0 = float(lo_t.min())
    car = carrier[idx]
    parts, n_tests = [], 0
    for g, (w, off) in enumerate((w, off) for w in windows for off in (0.0, 0.5)):
        b = np.floor((lo_t - t0) / w + off).astype(np.int64)
        n_tests += int(b.max()) + 1
        fits = point | (np.floor((hi_t - 1.0 - t0) / w + off).astype(np.int64) == b)  # [lo, hi) inside one bin
        n_c = np.bincount(b[fits], minlength=int(b.max()) + 1)
        x_c = np.bincount(b[car & fits], minlength=len(n_c))
        sel = car & fits
        bc = b[sel]
        m = x_c[bc] >= 2
        lo = t0 + (bc[m] - off) * w
        n_g, k_g = int(np.count_nonzero(fits)), int(np.count_nonzero(sel))
        parts.append((idx[sel][m], bc[m] * 64 + g, x_c[bc][m], n_c[bc][m], np.full(int(m.sum()), n_g),
                      np.full(int(m.sum()), k_g), np.full(int(m.sum()), w), lo, lo + w))
    if not parts:
        return {}, n_tests
    cols = [np.concatenate(c) for c in zip(*parts)]
    return dict(zip(("acc", "code", "x", "n_c", "n", "k", "w", "lo", "hi"), cols), t=tt, idx=idx, car=car), n_tests


def _tail(x, n, k, n_c) -> np.ndarray:
    """Exact hypergeometric upper tail ``P(X >= x)``, X ~ Hypergeometric(N = n, K = k, draws n_c)."""
    from scipy import stats
    return stats.hypergeom.sf(np.asarray(x) - 1, n, k, np.asarray(n_c))


_DAY_US = 86_400e6


def _same_hours(t: np.ndarray, lo: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Per window ``[lo, lo + w)`` narrower than a day: how many of the times ``t`` fall in the same hours of the
    (UTC) day, on any day (a window reaching past midnight wraps round). Requires ``0 < w < 1 day``."""
    tod = np.sort(np.mod(np.asarray(t, np.float64), _DAY_US))
    a = np.mod(np.asarray(lo, np.float64), _DAY_US)
    b = a + np.asarray(w, np.float64)

    def upto(x):
        return np.searchsorted(tod, x, side="left")
    return np.where(b <= _DAY_US, upto(b) - upto(a), len(tod) - upto(a) + upto(b - _DAY_US))


def _slot_null(c: dict, p: np.ndarray, m: float, cfg: DetectConfig) -> None:
    """The cells of ``c`` narrower than a day that the day-blind null already rejects are tested against the
    time-of-day null too (module docstring, H0''): of the ``N_s`` accounts whose time falls in the cell's hours of
    the day on any day, ``K_s`` carry; the cell's ``N_C`` accounts hold ``Hypergeometric(N_s, K_s, N_C)`` carriers.
    ``p`` (modified in place) becomes the larger of the two p-values, each with the same Bonferroni factor ``m``."""
    cand = (p <= cfg.group.alpha) & (c["w"] < _DAY_US)
    if not cand.any():
        return
    n_s = _same_hours(c["t"], c["lo"][cand], c["w"][cand])
    k_s = _same_hours(c["t"][c["car"]], c["lo"][cand], c["w"][cand])
    p[cand] = np.maximum(p[cand], np.minimum(_tail(c["x"][cand], n_s, k_s, c["n_c"][cand]) * m, 1.0))


def _time_of_day_rate(t: np.ndarray, car: np.ndarray, lo: np.ndarray, w: np.ndarray, rate: float) -> np.ndarray:
    """Per cell ``[lo, lo + w)``: the carrier rate of the background accounts ``t`` (``car``: carriers) whose time
    falls in the same hours of the day on any day, with one pseudo-account at the day-blind ``rate`` (``(K_s +
    rate) / (N_s + 1)``: hours seen on few accounts stay near the day-blind rate); ``rate`` itself for cells a day
    wide or wider (they hold every hour of the day)."""
    out = np.full(len(lo), rate)
    narrow = np.asarray(w) < _DAY_US
    if narrow.any() and len(t):
        car = np.asarray(car, bool)
        out[narrow] = ((_same_hours(t[car], lo[narrow], w[narrow]) + rate)
                       / (_same_hours(t, lo[narrow], w[narrow]) + 1.0))
    return out


def _outside(t: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Per time in ``t``: whether it lies outside every interval ``[lo, hi)`` (vectorised sweep)."""
    if not len(lo):
        return np.ones(len(t), bool)
    edges = np.concatenate([lo, hi])
    step = np.concatenate([np.ones(len(lo), np.int64), -np.ones(len(hi), np.int64)])
    o = np.argsort(edges, kind="stable")
    edges, depth = edges[o], np.cumsum(step[o])
    pos = np.searchsorted(edges, t, side="right") - 1
    return np.where(pos >= 0, depth[np.maximum(pos, 0)] <= 0, True)


def time_groups(times: list[tuple], cfg: DetectConfig) -> Groups:
    """Groups of carriers by time cells (module docstring). ``times``: one ``(t, has, carrier)`` per
    signal of :data:`KINDS` (per-account time, whether it has one, whether it carries the signal), or
    ``(t, has, carrier, pause)`` where ``pause(lo, hi, exclude=None)`` gives the carriers expected in each window
    ``[lo, hi)`` under the signal's pause null (:mod:`~stillwatch.guard.score.pauses`; the accounts ``exclude``
    left out of its members): a cell must then also beat it (an intersection-union test: the larger p-value);
    ``(t, has, carrier, pause, far)`` (``pause`` may be None) where each account's time is known only to within
    ``[t, far)`` or ``[far, t)`` (:func:`_cells`)."""
    a = len(times[0][0])
    windows = [float(w) for w in cfg.group.windows_us]
    head = np.full(a, -1, np.int64)
    none = Groups(head, np.zeros(a, np.int64), np.ones(a), np.zeros(a), np.zeros(a))
    sigs = [_cells(t, has, np.asarray(car, bool) & np.asarray(has, bool), windows, rest[1] if len(rest) > 1 else None)
            for t, has, car, *rest in times]
    pauses = [sig[3] if len(sig) > 3 else None for sig in times]
    m = float(sum(n for _, n in sigs))
    ps = []
    for s, (c, _) in enumerate(sigs):  # first every signal's significant cells
        p = np.minimum(_tail(c["x"], c["n"], c["k"], c["n_c"]) * m, 1.0) if c else np.ones(0)
        if c:
            _slot_null(c, p, m, cfg)  # raises p where the carriers' own hours of the day would explain the cell
            _pause_null(c, p, pauses[s], m, cfg)  # raises p where carriers pausing would explain the cell
        ps.append(p)
    # accounts in a significant cell of any signal: presumed campaign accounts, not chance members
    presumed = unique(np.concatenate([c["acc"][p <= cfg.group.alpha] for (c, _), p in zip(sigs, ps) if c] or
                                     [np.zeros(0, np.int64)]))
    keep = []
    for s, (c, _) in enumerate(sigs):
        if not c:
            continue
        p = ps[s]
        # chance carriers expected in a cell: the carrier rate of the accounts outside every significant
        # cell of the signal and not presumed a campaign's by another signal's (one pseudo-carrier), so campaigns
        # do not raise the background; under the pause null, the carriers that the members outside every
        # significant cell would give by pausing
        sig = p <= cfg.group.alpha
        bg = _outside(c["t"], c["lo"][sig], c["hi"][sig])
        bg[np.isin(c["idx"], presumed)] = False
        rate = (int(np.count_nonzero(c["car"] & bg)) + 1.0) / (int(bg.sum()) + 1.0)
        rate = _time_of_day_rate(c["t"][bg], c["car"][bg], c["lo"], c["w"], rate)
        chance = np.maximum(c["n_c"] * rate, _pause_means(c, sig, pauses[s], presumed))
        ok = sig & (c["x"] >= 2) & (chance <= cfg.group.fdr * c["x"])
        keep.append((c["acc"][ok], c["code"][ok] * len(KINDS) + s, p[ok], c["w"][ok]))
    if not keep or not sum(len(k[0]) for k in keep):
        return none
    acc, code, p, wid = (np.concatenate(v) for v in zip(*keep))
    # groups: the carriers of significant cells, cells that share a carrier joined (a region of excess
    # carriers, as overlapping significant windows are merged into one; every cell is strong evidence)
    from stillwatch.guard.score.cluster import components

    lab = components(a, acc, code)
    head[acc] = lab[acc]
    # each member's strongest cell, for the report
    o = np.lexsort((-wid, p, acc))
    first = np.concatenate(([True], acc[o][1:] != acc[o][:-1]))
    acc, code, p2, wid = acc[o][first], code[o][first], p[o][first], wid[o][first]
    kind = np.zeros(a, np.int64)
    kind[acc] = code % len(KINDS) + 1
    pp = np.ones(a)
    np.minimum.at(pp, head[acc], p2)  # the group's strongest cell, at its head
    pp[acc] = np.minimum(p2, pp[head[acc]])
    ww = np.zeros(a)
    ww[acc] = wid
    return Groups(head, kind, pp, ww, np.zeros(a))


def _pause_means(c: dict, where: np.ndarray, pause, exclude: np.ndarray | None = None) -> np.ndarray:
    """Per (carrier, cell) entry of ``c``: the carriers its cell would hold under the pause null, computed for the
    entries ``where`` once per distinct cell (0 elsewhere and without a pause null), the accounts ``exclude`` left
    out of the members."""
    mu = np.zeros(len(c["x"]))
    if pause is None or not where.any():
        return mu
    _, first, inv = np.unique(c["code"][where], return_index=True, return_inverse=True)  # distinct cells
    mu[where] = pause(c["lo"][where][first], c["hi"][where][first], exclude)[inv]
    return mu


def _pause_null(c: dict, p: np.ndarray, pause, m: float, cfg: DetectConfig) -> None:
    """The cells of ``c`` that the hypergeometric null already rejects are tested against the pause null too (every
    member counted: valid whoever left), and ``p`` (modified in place) becomes the larger of the two p-values, each
    with the same Bonferroni factor ``m``."""
    cand = p <= cfg.group.alpha
    mu = _pause_means(c, cand, pause)
    p[cand] = np.maximum(p[cand], np.minimum(pause_tail(c["x"][cand], mu[cand]) * m, 1.0))


def group_step(acc: Mapping[str, np.ndarray], hidden: Mapping[str, np.ndarray], scores: np.ndarray,
               flagged: np.ndarray, listed: np.ndarray, cfg: DetectConfig, labels: np.ndarray | None = None,
               edges=None) -> Groups:
    """The groups of a scan: burst nights, arrivals, and the arrivals, departures and last sightings of accounts
    with several keys (module docstring) among the accounts not ``listed`` in a campaign;
    ``hidden``: the evidence of :func:`~stillwatch.guard.score.signals.hidden_signals` (``dormant``) and, where the
    caller has it, its ``key_order_p`` (else computed here); ``scores``/``flagged``: each account's score and flag so
    far. With ``labels`` (each listed account's campaign), a listed campaign whose members all carry a group's signal
    inside its time joins it (:func:`absorb_listed`).
    ``edges``: the scan's edges, for the prompts the members of a group share (``edges["prompt"]``, what the group
    obtained: :func:`~stillwatch.guard.score.extraction.members_new_share`)."""
    a = len(scores)
    free = ~np.asarray(listed, bool)
    zeros = np.zeros(a)
    # the burst's time: its median hour (a straggler request after the burst moves the window's end, not its
    # median); the window's end where the producer has no median
    col = "peak_mid_us" if "peak_mid_us" in acc else "peak_end_us"
    peak = np.asarray(acc[col], np.float64) if col in acc else zeros
    dormant = np.asarray(hidden["dormant"], np.float64) > 0
    burst = dormant & free
    arrive, arrived = arrivals(acc, cfg)
    carriers = np.asarray(flagged, bool) & free & arrived
    several = np.zeros(a, bool)
    multi = np.zeros(a, bool)  # several keys in use, whatever their order
    loose = np.zeros(a, bool)  # their carriers at the join's level (score/agents.py)
    if "n_keys" in acc:  # keys side by side: those not explained by hand-overs from an abandoned key, and
        # not used one at a time (a key a project, a day, a session)
        from stillwatch.guard.score.signals import key_day_order_p, key_order_p

        rot = np.asarray(acc["key_rotations"], np.float64) if "key_rotations" in acc else np.zeros(a)
        order = np.asarray(hidden["key_order_p"], np.float64) if "key_order_p" in hidden else key_order_p(acc)
        day = (np.asarray(hidden["key_day_order_p"], np.float64) if "key_day_order_p" in hidden
               else key_day_order_p(acc))
        multi = np.asarray(acc["n_keys"], np.float64) - rot >= 2
        several = multi & (order >= cfg.group.key_order_alpha) & (day >= cfg.group.key_order_alpha)
        loose = multi & (order >= cfg.group.agent_order_alpha) & (day >= cfg.group.agent_order_alpha)
    keys = several & free
    depart, departed = departures(acc, cfg)
    # last sightings before the granted last day (as the departure rule and the pause null grant it), every one
    seen = (np.asarray(acc["n"], np.float64) >= 2) & (depart < float(np.max(depart, initial=0.0)) - 24 * 3_600e6)
    arrive = np.asarray(arrive, np.float64)
    fdr = cfg.link.cohort_fdr

    def pause(kind: str, members: np.ndarray):  # the pause null of the members that could carry the signal
        curve = []  # built once: the members' curve is a sum over members, so leaving some out subtracts theirs

        def means(lo, hi, exclude=None):
            if not curve:
                curve.append(pause_curve(acc, kind, members, fdr))
            mu = window_means(curve[0], lo, hi)
            left_out = np.zeros(len(members), bool)
            if exclude is not None:
                left_out[exclude] = True  # indices or a mask
            if (members & left_out).any():
                mu = np.maximum(mu - pause_means(acc, kind, members & left_out, lo, hi, fdr), 0.0)
            return mu
        return means

    # what the log shows of each arrival and departure: the run of days the rules do not count next to it
    # (daysoff.unseen_run: a weekday worker last seen on a Friday left somewhere in its weekend); a creation time is
    # a moment
    from stillwatch.guard.score.daysoff import unseen_run
    from stillwatch.guard.score.weeks import night_shift

    shift = night_shift(acc)
    first = np.asarray(acc["first_us"], np.float64)
    arrive_far = np.where(arrive == first, unseen_run(acc, first, False, cfg.group.week_alpha, shift), arrive)
    depart_far = unseen_run(acc, depart, True, cfg.group.week_alpha, shift)
    g = time_groups([(peak, np.full(a, "peak_end_us" in acc), burst),
                     (arrive, arrived, carriers, pause("arrival", np.asarray(flagged, bool) & free), arrive_far),
                     (arrive, arrived, keys & arrived, pause("arrival", keys), arrive_far),
                     (depart, departed, keys & departed, pause("departure", keys), depart_far),
                     (depart, seen, keys & seen, pause("last", keys), depart_far)], cfg)
    from stillwatch.guard.score.leavers import without_repeaters, without_replays

    g = without_replays(without_repeaters(g, acc, cfg), acc, edges, cfg)
    if not (g.head >= 0).any():
        return g
    if labels is not None and np.asarray(listed, bool).any():
        has_peak = np.full(a, "peak_end_us" in acc)
        g = absorb_listed(g, [(peak, has_peak, dormant), (arrive, arrived, np.asarray(flagged, bool)),
                              (arrive, arrived, several), (depart, departed, several), (depart, seen, several)],
                          np.asarray(labels, np.int64), np.asarray(listed, bool), cfg)
    from stillwatch.guard.score.agents import join_on_agent

    g = join_on_agent(g, acc, multi, loose, free, edges, cfg)  # carriers left outside, on the group's user agent
    from stillwatch.guard.score.campaign_signals import harvest_volume_evidence, prompts_new_share
    from stillwatch.guard.score.signals import FWER_DECADES

    grouped = g.head >= 0
    share = prompts_new_share(_group_labels(g.head), acc, edges)
    harvest = harvest_volume_evidence(group_hours(acc, g.head, edges, cfg, share), cfg)
    coord = np.clip(-np.log10(np.clip(g.p, 1e-300, 1.0)) / FWER_DECADES, 0.0, 1.0)
    return Groups(g.head, g.kind, g.p, g.width_us, np.where(grouped, np.sqrt(harvest * coord), 0.0), share)


def _group_labels(head: np.ndarray) -> np.ndarray:
    """Cluster labels of the groups: a group's head, and each account outside any group (``head`` < 0) its own."""
    return np.where(head >= 0, head, np.arange(len(head)))


def _new_share(acc: Mapping[str, np.ndarray], lab: np.ndarray, edges, new_share: np.ndarray | None) -> np.ndarray:
    """``new_share`` where the caller measured it for these groups, else the share of the members' distinct prompts
    new to each group (:func:`~stillwatch.guard.score.campaign_signals.prompts_new_share`)."""
    from stillwatch.guard.score.campaign_signals import prompts_new_share

    return prompts_new_share(lab, acc, edges) if new_share is None else np.asarray(new_share, np.float64)


def group_hours(acc: Mapping[str, np.ndarray], head: np.ndarray, edges, cfg: DetectConfig,
                new_share: np.ndarray | None = None) -> np.ndarray:
    """Per account, its group's extracted hours (the members' own, :mod:`~stillwatch.guard.score.extraction`) times
    the share of the members' distinct prompts new to the group (a prompt several members and no one else send is
    obtained once; ``new_share``: that share where the caller has it for these groups)."""
    from stillwatch.guard.score.campaign_signals import own_extracted_hours

    lab = _group_labels(head)
    return _cluster.Groups(lab).sum(own_extracted_hours(acc, acc["n"], cfg)) * _new_share(acc, lab, edges, new_share)


def group_extraction(acc: Mapping[str, np.ndarray], head: np.ndarray, edges, cfg: DetectConfig,
                     new_share: np.ndarray | None = None) -> dict:
    """What each account's group obtained (:func:`~stillwatch.guard.score.extraction.extraction` of the members'
    summed figures, a prompt several members and no one else send counted once), broadcast to the members
    (``new_share`` as :func:`group_hours` takes it)."""
    from stillwatch.guard.score.extraction import extraction

    lab = _group_labels(head)
    g = _cluster.Groups(lab)
    col = {k: np.asarray(acc[k], np.float64) for k in ("n", "n_prompts", "demand_s", "first_us", "last_us")}
    return extraction(g.sum(col["n"]), g.sum(col["n_prompts"]) * _new_share(acc, lab, edges, new_share),
                      g.sum(col["demand_s"]), g.max(col["last_us"]) - g.min(col["first_us"]), cfg.rate)


def absorb_listed(g: Groups, times: list[tuple], labels: np.ndarray, listed: np.ndarray, cfg: DetectConfig) -> Groups:
    """``g`` with each listed campaign that is part of a group joined to it. A campaign the links listed (its members
    share content, a cohort, an address) is one operator's; a time group holds the same operator's accounts that
    share nothing but when they act. When every member of a listed campaign carries a group's signal (``times[s]``:
    per account its time, whether it has one, whether it carries signal ``s`` — listed or not) at a time inside the
    group's own (from its first member's to its last member's), both are one campaign: held-out E seed 44's burst
    operator, 6 of whose 20 accounts were first seen in one hour (a cohort, listed) and 14 on its three nights, was
    reported as two campaigns.

    H0: the listed campaign's ``L`` members are placed in time as any ``L`` of the ``N`` accounts with a time are;
    all of them land among the ``M`` inside the group's time with probability ``C(M, L) / C(N, L)`` (the
    hypergeometric's top term; the population's own timing is the background, as in :func:`time_groups`). A pair
    joins when that, times the number of (group, listed campaign) pairs tested — those whose members all carry the
    group's signal, whatever their time —, is ``<= GroupConfig.alpha``. A campaign with a member that does not
    carry, or lies outside, is never joined; campaigns of one member are not tested. Joined members take the group's
    head, signal, p-value and window. Attacker model: the operator controls its accounts' times and what links them;
    splitting its accounts between a linked campaign and time-only ones no longer splits the report. Joining changes
    no account's own evidence; the group's harvest then counts the joined campaign's, which can raise the group's
    score (its members are the time signal's carriers in a significant, pure cell either way), and the joined
    campaign's members — flagged already as listed ones — keep the larger of their scores."""
    from scipy import stats

    heads = unique(g.head[g.head >= 0])
    labs, size = np.unique(labels[listed], return_counts=True)
    if not len(heads) or not len(labs):
        return g
    head, kind, p, width = g.head.copy(), g.kind.copy(), g.p.copy(), g.width_us.copy()
    li = np.searchsorted(labs, labels[listed])  # each listed account's campaign, as an index into labs
    cand = []
    for h in heads:  # one pass per group (a few per scan), vectorised over listed campaigns
        t, has, carry = (np.asarray(v) for v in times[int(g.kind[h]) - 1][:3])
        has = has.astype(bool)
        carry = carry.astype(bool) & has
        in_g = (g.head == h) & has
        if not in_g.any():
            continue
        lo, hi = float(t[in_g].min()), float(t[in_g].max())
        inside = has & (t >= lo) & (t <= hi)
        carry_all = np.bincount(li, weights=(~carry[listed]).astype(np.float64), minlength=len(labs)) == 0
        inside_all = np.bincount(li, weights=(~(carry & inside)[listed]).astype(np.float64), minlength=len(labs)) == 0
        tested = carry_all & (size >= 2)
        n, m = int(has.sum()), int(inside.sum())
        cand.append((h, tested, inside_all & tested, stats.hypergeom.pmf(size, n, m, size)))
    n_tests = sum(int(c[1].sum()) for c in cand)
    taken = np.zeros(len(labs), bool)
    for h, _, ok, top in cand:  # a campaign joins the first group that takes it
        join = ok & (top * n_tests <= cfg.group.alpha) & ~taken
        taken |= join
        if join.any():
            members = listed & np.isin(labels, labs[join])
            head[members], kind[members], p[members], width[members] = h, g.kind[h], g.p[h], g.width_us[h]
    return Groups(head, kind, p, width, g.score)


def with_groups(sc, groups: Groups, cfg: DetectConfig):
    """``sc`` (:class:`~stillwatch.guard.score.detect.Scores`) with each group member's score the larger
    of its own and its group's, and the flags and listings that follow."""
    from dataclasses import replace

    grouped = groups.head >= 0
    score = np.where(grouped, np.maximum(sc.score, groups.score), sc.score)
    return replace(sc, score=score, flagged=score >= cfg.flag_threshold)


def group_findings(account_ids: np.ndarray, acc: Mapping[str, np.ndarray], groups: Groups,
                   cfg: DetectConfig, edges=None) -> list:
    """One :class:`~stillwatch.guard.score.findings.CampaignFinding` per group whose score is flagged
    (one Python object per campaign is output, not a hot path)."""
    from stillwatch.guard.features.rates import human_rate_multiple
    from stillwatch.guard.score.findings import CampaignFinding

    members = np.flatnonzero((groups.head >= 0) & (groups.score >= cfg.flag_threshold))
    if not len(members):
        return []
    o = members[np.argsort(groups.head[members], kind="stable")]
    heads, starts = np.unique(groups.head[o], return_index=True)
    ends = np.append(starts[1:], len(o))
    col = {k: np.asarray(acc[k], np.float64) for k in ("n", "demand_s", "first_us", "last_us")}
    multiple = group_extraction(acc, groups.head, edges, cfg, groups.new_share)["extraction_multiple"]
    out = []
    for h, b, e in zip(heads, starts, ends):
        m = o[b:e]
        n, demand = col["n"][m].sum(), col["demand_s"][m].sum()
        span = col["last_us"][m].max() - col["first_us"][m].min()
        kind = KINDS[int(groups.kind[h]) - 1]
        out.append(CampaignFinding(
            campaign_id=f"campaign-{account_ids[h]}",
            accounts=tuple(str(v) for v in np.sort(np.asarray(account_ids)[m])),
            exchanges=int(n), human_rate_multiple=float(human_rate_multiple(np.array([demand]), np.array([span]),
                                                                               cfg.rate)[0]),
            extraction_multiple=float(multiple[h]), score=float(groups.score[h]),
            signals={"accounts": float(len(m)), "group_p": float(groups.p[h]),
                     "window_hours": float(groups.width_us[h] / 3_600e6)},
            fired=(kind,)))
    return out
