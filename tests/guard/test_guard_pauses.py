"""The pause null of arrivals, departures and last sightings (score/pauses.py) and its use by the time groups
(score/grouping.py): known answers, an hour-by-hour reference written from the module docstring, a
simulation of accounts that never leave run through the real departure rule (the model predicts what the
rule counts), and the group step played both ways — busy several-key accounts that only pause make no
group (the hypergeometric null alone makes one: agentic seed 2's false group), an operator's batch stop
among them is still one; a batch stop of accounts too sparse for the departure rule is grouped by their last
sightings, and sparse accounts that only pause are not."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from stillwatch.guard.score.config import DetectConfig
from stillwatch.guard.score.grouping import KINDS, group_step
from stillwatch.guard.score.nullmodel import arrivals, departures
from stillwatch.guard.score.pauses import pause_means, pause_tail

from _fixtures_weeks import assert_last_sightings_follow, weekday_workers

HOUR = 3_600e6
DAY = 24 * HOUR
CFG = DetectConfig()
FDR = CFG.link.cohort_fdr


def _members(rng, j: int, log_hours: int) -> dict:
    """``j`` accounts on integer hours whose rule needs an integer number of silent hours ``h`` (``f = 1 -
    fdr^(1/h)``), so that every window edge, cut-off and start is a whole hour; one account spans the log."""
    h = rng.integers(3, 40, j)
    f = 1.0 - FDR ** (1.0 / h)
    first = rng.integers(0, log_hours // 2, j).astype(float)
    last = np.minimum(first + rng.integers(2, log_hours, j), log_hours).astype(float)
    first[0], last[0] = 0.0, float(log_hours)
    span = np.maximum(last - first, 1.0)
    return {"n": np.full(j, 50.0), "first_us": first * HOUR, "last_us": last * HOUR, "active_hours": f * span}


def _reference(acc: dict, kind: str, lo_h: np.ndarray, hi_h: np.ndarray, grant=None) -> np.ndarray:
    """From the docstring, one member and one hour at a time (windows in whole hours): H0's rate f0 = active hours
    / hours observable before E (after S); the member's last activity is k whole hours before E (first: k after S)
    with probability f0 (1 - f0)^k; the rule then counts it when 2 + Binomial(L - 1, f0) active hours over its
    L = floor(observable hours) - k hours of life reach (1 - fdr^(1 / (k + 1/2 - g))) L, g = ``grant(j, t)`` the hours
    the rule grants member j next to an activity at hour t (the hour's middle; never counted if nothing is left);
    members seen in the granted day take no part. (The last-seen model, in each member's own hours, has its
    own reference: _last_reference.)"""
    from scipy import stats

    first, last = acc["first_us"] / HOUR, acc["last_us"] / HOUR
    end, start = last.max() - 24, first.min() + 24
    out = np.zeros(len(lo_h))
    for j in range(len(first)):
        back = kind == "departure"  # departures count back from E
        if (back and last[j] >= end) or (not back and first[j] < start):
            continue  # seen in the granted day: never counted
        own = (end - first[j]) if back else (last[j] - start)
        f0 = min(max(acc["active_hours"][j] / max(own, 1.0), 1e-12), 1 - 1e-12)
        for k in range(int(np.ceil(own))):
            life = np.floor(own) - k
            if life < 1:
                continue
            g = grant(j, end - k - 0.5 if back else start + k + 0.5) if grant is not None else 0.0
            if k + 0.5 - g <= 0:
                continue  # the rest of its day covers the silence: never counted
            need = np.ceil((1 - FDR ** (1 / (k + 0.5 - g))) * life - 1e-9) - 2
            p_count = 1.0 if need <= 0 else float(stats.binom.sf(need - 1, life - 1, f0))
            mass = f0 * (1 - f0) ** k * p_count
            hour = end - k - 1 if back else start + k  # the hour [hour, hour + 1)
            for w, (lo, hi) in enumerate(zip(lo_h, hi_h)):
                out[w] += mass * max(0.0, min(hi, hour + 1) - max(lo, hour))
    return out


@pytest.mark.parametrize("kind", ["departure", "arrival"])
def test_pause_means_match_the_hour_by_hour_reference(kind):
    rng = np.random.default_rng(3)
    acc = _members(rng, 40, 240)
    lo = np.array([0, 24, 60, 100, 150, 170, 200, 0, 30.5], float)
    hi = np.array([24, 48, 66, 160, 151, 230, 240, 240, 31.25], float)
    members = np.ones(40, bool)
    got = pause_means(acc, kind, members, lo * HOUR, hi * HOUR, FDR)
    np.testing.assert_allclose(got, _reference(acc, kind, lo, hi), rtol=1e-9, atol=1e-12)
    # each member's chance of a counted false event over the whole log is a probability
    per_member = [pause_means(acc, kind, np.arange(40) == j, np.array([-1e18]), np.array([1e18]), FDR)[0] for j in range(40)]
    assert 0 < max(per_member) <= 1 + 1e-12


@pytest.mark.parametrize("kind", ["departure", "arrival"])
def test_pause_means_with_the_edge_of_a_weekday_workers_day_granted(kind):
    """Members in a log from a Wednesday to the next Wednesday, no span holding a weekend (whether they work weekends
    is unknown: the rules grant them the edge of their day next to a day off — their weekend, or beyond the silence's
    edge): office workers at UTC (night's middle 01:00), at UTC-5 (06:00), and members active round the clock (no
    night, no grant). Against the hour-by-hour reference with the grant written out; the model without it differs."""
    rng = np.random.default_rng(12)
    j = 36
    kind_of = np.arange(j) % 3
    wed = MONDAY / HOUR + 48
    early = rng.random(j) < 0.5  # before the weekend (Wednesday to Friday) or after it (Monday to Wednesday)
    first = np.where(early, wed + rng.integers(10, 40, j), wed + 120 + rng.integers(0, 30, j)) + 0.5
    last = np.where(early, np.minimum(first + rng.integers(5, 40, j), wed + 60), first + rng.integers(5, 40, j))
    first[0], last[0] = wed, wed + 7 * 24 + 0.5  # the log: E at Tuesday 00:30, S at Thursday 00:00
    masks = np.array([sum(1 << h for h in range(9, 17)), sum(1 << h for h in range(14, 22)), (1 << 24) - 1])
    acc = {"n": np.full(j, 30.0), "first_us": first * HOUR, "last_us": last * HOUR,
           "active_hours": np.floor((last - first) * rng.uniform(0.1, 0.4, j)) + 2, "weekend_hours": np.zeros(j),
           "hour_mask": masks[kind_of]}
    mid = np.array([1.0, 6.0, np.nan])[kind_of]  # the middle of each one's night, UTC hours
    end, start = last.max() - 24, first.min() + 24
    from stillwatch.guard.score.weeks import weekend_hours_between

    # granted: a night, and a span holding none of its own weekend (some of the UTC-5 workers' Mondays before 06:00
    # UTC are their Sunday night)
    shift = np.where(np.isnan(mid), 0.0, np.mod(mid + 12, 24) - 12)
    granted = ~np.isnan(mid) & (weekend_hours_between(first * HOUR, last * HOUR, shift) == 0)
    assert 10 <= granted.sum() < j - j // 3

    def grant(i, t_h):
        if not granted[i]:
            return 0.0
        day = np.floor((t_h - mid[i]) / 24)
        near = day + (1 if kind == "departure" else -1)
        near_start = near * 24 + mid[i]
        off = (near + 3) % 7 >= 5 or (near_start >= end if kind == "departure" else near_start + 24 <= start)
        into = t_h - (day * 24 + mid[i])
        return 0.0 if not off else (24 - into if kind == "departure" else into)
    members = np.ones(j, bool)
    lo = wed + np.array([0, 24, 60, 90, 100, 110, 130, 150, 0], float)
    hi = lo + np.array([24, 36, 12, 12, 10, 6, 20, 30, 170], float)
    got = pause_means(acc, kind, members, lo * HOUR, hi * HOUR, FDR)
    want = _reference(acc, kind, lo, hi, grant)
    assert want[-1] > 0.5
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    flat = pause_means({k: v for k, v in acc.items() if k != "hour_mask"}, kind, members, lo * HOUR, hi * HOUR, FDR)
    assert np.abs(flat - got).max() > 0.05


@pytest.mark.parametrize("kind", ["departure", "arrival", "last"])
def test_the_pause_null_is_a_sum_over_members(kind):
    """What the time groups rely on to build each curve once (score/grouping.py: leaving the presumed campaign's
    accounts out subtracts their own curve): the means of a set of members are the means of any part plus those of
    the rest, whatever the parts' spans."""
    rng = np.random.default_rng(13)
    acc = _members(rng, 60, 300)
    lo = np.array([0, 30, 90, 150, 200, 10.5], float) * HOUR
    hi = lo + np.array([300, 24, 6, 60, 40, 0.75]) * HOUR
    part = rng.random(60) < 0.3
    whole = pause_means(acc, kind, np.ones(60, bool), lo, hi, FDR)
    split = pause_means(acc, kind, part, lo, hi, FDR) + pause_means(acc, kind, ~part, lo, hi, FDR)
    assert whole.sum() > 0.5
    np.testing.assert_allclose(whole, split, rtol=1e-9, atol=1e-12)


def test_known_answers():
    # one member (first request at 0, 5 active hours) in a log ending at 100 h: E = 76 h, f0 = 5 / 76. Its last
    # activity 30 h before E (the hour [45, 46)) has probability f0 (1 - f0)^30; its life is then 46 h, and the
    # rule counts it when 2 + Binomial(45, f0) active hours reach (1 - 0.05^(1 / 30.5)) x 46 = 4.21, i.e. >= 5
    from scipy import stats

    acc = {"n": np.array([30.0, 2.0]), "first_us": np.array([0.0, 0.0]), "last_us": np.array([50.0, 100.0]) * HOUR,
           "active_hours": np.array([5.0, 1.0])}
    f0 = 5 / 76
    want = f0 * (1 - f0) ** 30 * stats.binom.sf(2, 45, f0)
    got = pause_means(acc, "departure", np.array([True, False]), np.array([45 * HOUR]), np.array([46 * HOUR]), 0.05)
    assert got[0] == pytest.approx(want, rel=1e-12)
    # its last sighting there, counted or not: f0 (1 - f0)^30 alone
    got = pause_means(acc, "last", np.array([True, False]), np.array([45 * HOUR]), np.array([46 * HOUR]), 0.05)
    assert got[0] == pytest.approx(f0 * (1 - f0) ** 30, rel=1e-12)
    # one-request members and non-members: nothing
    one = dict(acc, n=np.array([1.0, 2.0]))
    assert pause_means(one, "departure", np.array([True, False]), np.array([0.0]), np.array([100 * HOUR]), 0.05)[0] == 0
    assert pause_means(acc, "departure", np.array([False, False]), np.array([0.0]), np.array([100 * HOUR]), 0.05)[0] == 0
    # a member seen in the log's last day never departs falsely; one first seen after its first day may arrive
    # falsely, unless it has a creation time
    seen = dict(acc, last_us=np.array([80.0, 100.0]) * HOUR)
    assert pause_means(seen, "departure", np.array([True, False]), np.array([0.0]), np.array([100 * HOUR]), 0.05)[0] == 0
    late = dict(acc, first_us=np.array([30.0, 0.0]) * HOUR, last_us=np.array([90.0, 100.0]) * HOUR,
                active_hours=np.array([9.0, 1.0]))
    assert pause_means(late, "arrival", np.array([True, False]), np.array([0.0]), np.array([100 * HOUR]), 0.05)[0] > 0
    made = dict(late, created_us=np.array([-5 * DAY, np.nan]))
    assert pause_means(made, "arrival", np.array([True, False]), np.array([0.0]), np.array([100 * HOUR]), 0.05)[0] == 0


def test_pause_tail_is_the_poisson_tail_only_beyond_the_mean_plus_one():
    from scipy import stats

    x = np.array([0, 1, 3, 5, 6, 10, 20])
    mu = np.array([0.5, 0.5, 4.4, 4.4, 4.4, 4.4, 4.4])
    want = np.where(x >= mu + 1, stats.poisson.sf(x - 1, mu), 1.0)
    np.testing.assert_allclose(pause_tail(x, mu), want, rtol=1e-10)
    assert pause_tail(np.array([6]), np.array([4.38]))[0] > 0.1  # agentic seed 2's day: 6 where pausing gives 4.4


@pytest.mark.parametrize("bad, match", [
    (dict(kind="leave"), "kind"), (dict(cohort_fdr=1.0), "cohort_fdr"), (dict(hi=np.zeros(2)), "one length")])
def test_bad_arguments_are_named(bad, match):
    acc = _members(np.random.default_rng(0), 5, 100)
    args = dict(kind="departure", lo=np.zeros(3), hi=np.ones(3), cohort_fdr=FDR) | bad
    with pytest.raises(ValueError, match=match):
        pause_means(acc, args["kind"], np.ones(5, bool), args["lo"], args["hi"], args["cohort_fdr"])


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_inputs_are_not_modified_and_means_are_non_negative(seed):
    rng = np.random.default_rng(seed)
    acc = _members(rng, 12, 200)
    before = {k: v.copy() for k, v in acc.items()}
    members = rng.random(12) < 0.5
    m0 = members.copy()
    lo = rng.uniform(0, 200, 6) * HOUR
    for kind in ("arrival", "departure", "last"):
        mu = pause_means(acc, kind, members, lo, lo + rng.uniform(1, 50, 6) * HOUR, FDR)
        assert np.all(mu >= 0) and np.all(np.isfinite(mu))
    assert all(np.array_equal(before[k], acc[k]) for k in acc) and np.array_equal(m0, members)


def _never_leaving(rng, j: int, hours: int, f: np.ndarray, first_h: np.ndarray, quiet: tuple = (),
                   opened: bool = True) -> dict:
    """``j`` accounts active all along, each hour independently with probability ``f`` from ``first_h`` (and never in
    the hours ``quiet``): what the pause null assumes, generated hour by hour ([j, hours] draws). ``opened``: the
    hour ``first_h`` is active (the account opens its life there), else the log meets it already active."""
    active = (rng.random((j, hours)) < f[:, None]) & (np.arange(hours)[None, :] >= first_h[:, None])
    active[:, list(quiet)] = False
    if opened:
        active[np.arange(j), first_h.astype(int)] = True
    active[:, -1] |= ~active.any(axis=1)  # every account makes at least one request
    idx = np.arange(hours)[None, :]
    first = np.where(active, idx, hours).min(axis=1)
    last = np.where(active, idx, -1).max(axis=1)
    return {"n": active.sum(axis=1) * 2.0, "first_us": (first + 0.5) * HOUR, "last_us": (last + 0.5) * HOUR,
            "active_hours": active.sum(axis=1).astype(float)}


def _counted_per_day(acc, kind: str, hours: int) -> tuple[np.ndarray, np.ndarray]:
    """(what the rule of score/nullmodel.py counts per day, what the pause null expects per day); last sightings:
    every last request before the granted last day, as score/grouping.py counts them."""
    if kind == "last":
        t = np.asarray(acc["last_us"], float)
        counted = (np.asarray(acc["n"]) >= 2) & (t < t.max() - DAY)
    else:
        t, counted = (departures if kind == "departure" else arrivals)(acc, CFG)
    t = np.asarray(t, float)
    lo = np.arange(0, hours, 24.0) * HOUR
    got = np.array([np.sum(counted & (t >= a) & (t < a + DAY)) for a in lo])
    return got, pause_means(acc, kind, np.ones(len(acc["n"]), bool), lo, lo + DAY, FDR)


@pytest.mark.parametrize("kind", ["departure", "arrival", "last"])
def test_the_model_predicts_what_the_rules_count_where_the_granted_day_is_quiet(kind):
    """3,000 accounts active all along (f 0.04-0.3, hour by hour, over 10 days) and, as the rules grant, silent in
    the log's last (first) day — a night, a day off —: the departures (arrivals) the rules count among them per day
    equal the pause null's means, computed from the accounts' own estimated f, within sampling error (Poisson,
    4 sd + 2) and overall within 20 %."""
    rng = np.random.default_rng(11)
    j, hours = 3000, 240
    quiet = range(0, 24) if kind == "arrival" else range(216, 240)
    acc = _never_leaving(rng, j, hours, rng.uniform(0.04, 0.3, j), np.zeros(j), quiet, opened=kind != "arrival")
    acc["last_us"][0], acc["first_us"][0] = hours * HOUR, 0.0  # the log's last and first requests
    got, mu = _counted_per_day(acc, kind, hours)
    assert got.sum() > 50  # the rules do count pausing accounts
    assert abs(got.sum() - mu.sum()) <= 0.2 * mu.sum(), (got, mu)
    assert np.all(np.abs(got - mu) <= 4 * np.sqrt(mu) + 2), (got, mu)


@pytest.mark.parametrize("kind", ["departure", "arrival", "last"])
def test_the_model_predicts_what_the_rules_count_when_every_hour_is_independent(kind):
    """The same accounts active in the granted day too (every hour independent): most are seen there and are never
    counted; the model leaves them out and predicts the others, as above."""
    rng = np.random.default_rng(12)
    j, hours = 6000, 240
    acc = _never_leaving(rng, j, hours, rng.uniform(0.04, 0.3, j), np.zeros(j), opened=kind != "arrival")
    acc["last_us"][0], acc["first_us"][0] = hours * HOUR, 0.0
    got, mu = _counted_per_day(acc, kind, hours)
    assert got.sum() > 10
    assert abs(got.sum() - mu.sum()) <= 0.25 * mu.sum() + 2 * np.sqrt(mu.sum()), (got, mu)
    assert np.all(np.abs(got - mu) <= 4 * np.sqrt(mu) + 2), (got, mu)


def _log_with_pausing_carriers(rng, leavers: int = 0, busy: int = 400) -> tuple[dict, int]:
    """5,000 light accounts (a few sessions each, first and last requests anywhere in 10 days: their departures
    spread over the log) and ``busy`` (400) busy accounts holding 3 keys side by side, active all along at f = 0.12 (so they
    share one cut-off) but for the log's last day (a weekend); optionally ``leavers`` more busy several-key accounts (f = 0.3) that stop together at the end of day 4."""
    light = 5000
    first = rng.uniform(0, 9 * DAY, light)
    base = {"n": rng.integers(2, 12, light).astype(float), "first_us": first,
            "last_us": np.minimum(first + rng.uniform(0.5 * HOUR, 30 * HOUR, light), 10 * DAY),
            "active_hours": rng.integers(1, 4, light).astype(float)}
    parts = [base, _never_leaving(rng, busy, 240, np.full(busy, 0.12), np.zeros(busy), range(216, 240))]  # last day off
    if leavers:
        stop = _never_leaving(rng, leavers, 96, np.full(leavers, 0.3), np.zeros(leavers))  # busier: they stop within hours
        parts.append(stop)
    acc = {k: np.concatenate([p[k] for p in parts]) for k in base}
    a = len(acc["n"])
    acc["last_us"][0] = 10 * DAY
    acc.update(n_prompts=acc["n"].copy(), demand_s=acc["n"] * 60.0, peak_end_us=acc["first_us"] + HOUR,
               n_keys=np.where(np.arange(a) >= light, 3.0, 1.0))
    return acc, light


def _groups(acc: dict):
    a = len(acc["n"])
    zeros = np.zeros(a)
    return group_step(acc, {"dormant": zeros}, zeros, np.zeros(a, bool), np.zeros(a, bool), CFG)


def test_busy_several_key_accounts_that_only_pause_make_no_group(monkeypatch):
    """The false group of agentic seed 2, made certain: 400 busy carriers that never leave, about 20 of them counted
    as departed just before their common cut-off. The hypergeometric null alone (the rule before the pause null:
    the pause means forced to 0) groups them; with the pause null, nothing — in five logs."""
    from stillwatch.guard.score import grouping

    for seed in range(5):
        acc, light = _log_with_pausing_carriers(np.random.default_rng(40 + seed))
        _, counted = departures(acc, CFG)
        assert counted[light:].sum() >= 5  # pausing carriers the rule counts as departed
        assert not (_groups(acc).head >= 0).any(), seed
    with monkeypatch.context() as m:  # the mutant: no pause null
        m.setattr(grouping, "window_means", lambda curve, lo, hi: np.zeros(len(lo)))
        m.setattr(grouping, "pause_means", lambda acc, kind, members, lo, hi, fdr: np.zeros(len(lo)))
        grouped = _groups(acc).head >= 0
    assert grouped[light:].sum() >= 5 and KINDS[2 + 1] == "keys_departure"


def test_a_batch_stop_among_pausing_carriers_is_still_one_group():
    """40 busy several-key accounts that stop together after four days, beside the 400 that only pause: the 40 are
    one group; pausing carriers join it at most as chance members (none here: their false departures fall days later,
    near their own cut-off)."""
    acc, light = _log_with_pausing_carriers(np.random.default_rng(7), leavers=40)
    g = _groups(acc)
    grouped = np.flatnonzero(g.head >= 0)
    stoppers = set(range(light + 400, light + 440))
    assert stoppers <= set(grouped.tolist())
    assert len(set(grouped.tolist()) - stoppers) <= 0.05 * 40
    assert len(set(g.head[grouped].tolist())) == 1
    assert KINDS[int(g.kind[light + 400]) - 1] in ("keys_departure", "keys_last_seen")


def _log_with_sparse_stop(rng, stoppers: int, quiet_ones: int = 10, busy: int = 10, f: float = 0.05,
                          stop_h: int = 180) -> tuple[dict, int]:
    """The log of :func:`_log_with_pausing_carriers` (light accounts, ``busy`` carriers that pause), ``quiet_ones``
    sparse accounts holding 3 keys side by side and active all along at ``f`` but for the log's last day, and
    ``stoppers`` more such sparse several-key accounts that stop together ``stop_h`` hours into it (1.5 days before the granted
    last day, too sparse for the departure rule to count most of them one by one (held-out E's ``spread``).
    Returns ``(acc, first)``: the stoppers are the last ``stoppers`` accounts, the quiet ones just before them."""
    acc, _ = _log_with_pausing_carriers(rng, busy=busy)
    parts = [{k: acc[k] for k in ("n", "first_us", "last_us", "active_hours", "n_keys")}]
    for j, hours in ((quiet_ones, 240), (stoppers, stop_h)):
        if j:
            part = _never_leaving(rng, j, hours, np.full(j, f), np.zeros(j), range(216, 240) if hours == 240 else ())
            parts.append(dict(part, n_keys=np.full(j, 3.0)))
    acc = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    acc["last_us"][0] = 10 * DAY
    acc.update(n_prompts=acc["n"].copy(), demand_s=acc["n"] * 60.0, peak_end_us=acc["first_us"] + HOUR)
    return acc, len(acc["n"]) - stoppers


def test_a_batch_stop_of_sparse_accounts_is_grouped_by_their_last_sightings(monkeypatch):
    """60 sparse several-key accounts (active in 5 % of their hours) stop together 1.5 days before the granted last
    day, beside 6 several-key accounts that never leave (3 sparse, 3 busy) and 5,000 light ones (held-out E's
    ``spread`` and its few background carriers): the departure rule counts about half of the 60 one account at a
    time (a silence of a day or two is not surprising for one of them); their last sightings together are
    surprising. Over six logs: most of the 60 are one group (median >= 45; without the last-sighting signal, the
    mutant, median <= 15), never more than 5 % chance members; with ten times the sparse accounts that pause, four
    times the busy ones and no stop: no group."""
    from stillwatch.guard.score import grouping

    with_signal, without, others = [], [], []
    for seed in range(6):
        acc, first = _log_with_sparse_stop(np.random.default_rng(60 + seed), 60, quiet_ones=3, busy=3)
        _, counted = departures(acc, CFG)
        assert 20 <= counted[first:].sum() <= 45, seed  # the rule, one account at a time, misses many
        g = _groups(acc)
        grouped = np.flatnonzero(g.head >= 0)
        with_signal.append(int((grouped >= first).sum()))
        others.append(int((grouped < first).sum()))
        assert len(set(g.head[grouped].tolist())) <= 1
        with monkeypatch.context() as m:  # the mutant: the four other signals only
            m.setattr(grouping, "time_groups", lambda times, cfg, f=grouping.time_groups: f(times[:4], cfg))
            without.append(int((_groups(acc).head[first:] >= 0).sum()))
        quiet, _ = _log_with_sparse_stop(np.random.default_rng(70 + seed), 0, quiet_ones=30, busy=12)
        assert not (_groups(quiet).head >= 0).any(), seed
    assert np.median(with_signal) >= 45 and np.median(without) <= 15, (with_signal, without)
    assert max(others) <= 0.05 * 60, others


MONDAY = 1_772_409_600e6  # 2026-03-02 00:00 UTC, a Monday


def test_the_last_seen_model_follows_weekday_workers_own_hours(monkeypatch):
    """1,500 weekday workers in three time zones (UTC+9, UTC, UTC-8) who never leave, two weeks from a Monday; the
    log's last request is on its last Sunday, so its granted last day starts on Saturday and every worker is last
    seen on its last working day. Their last sightings per 6-hour window are what the model of each member's own
    hours (its hours of the day, its weekdays) predicts (within 4 sd + 2 in every window, the total within 10 %); the
    mutant with every hour of the week its own (hours independent round the clock) expects them on the weekend and
    puts less than a third of them on that Friday."""
    from stillwatch.guard.score import pauses

    rng = np.random.default_rng(21)
    j = 1500
    acc, _, _ = weekday_workers(rng, rng.choice([9.0, 0.0, -8.0], j), rng.uniform(0.1, 0.4, j))  # + the log's end
    members = np.arange(j + 1) < j
    lo, got, _ = assert_last_sightings_follow(acc, members, lambda a, b: pause_means(acc, "last", members, a, b, FDR),
                                              at_least=1000)
    friday = (lo >= MONDAY + 10 * DAY) & (lo < MONDAY + 12 * DAY)  # its Friday in every time zone (UTC Thu-Sat)
    with monkeypatch.context() as m:
        m.setattr(pauses, "on_hours", lambda acc, t: np.ones((len(acc["n"]), len(t)), bool))
        mu_flat = pause_means(acc, "last", members, lo, lo + 6 * HOUR, FDR)
    assert mu_flat[friday].sum() < 0.3 * got[friday].sum(), (mu_flat[friday].sum(), got[friday].sum())


def _last_reference(acc: dict, members, shift: np.ndarray, weekend_on: np.ndarray, lo_h, hi_h) -> np.ndarray:
    """The last-seen model from the docstring, one member and one clock hour at a time (windows in whole hours since
    the epoch): E = the log's last request - 24 h, u the first clock hour at or after it; clock hour k = [u - k - 1,
    u - k) holds a share phi (1 but for hour 0, cut at E) of an hour before E; it is the member's own when its hour
    of the day is a bit of the OR of its day masks (every hour without a bit) and, where the member was never active
    on its weekend (``weekend_on`` False), the hour's middle is not in [Sat 00:00, Mon 00:00) of its clock ``shift``
    hours behind UTC; f0 = active hours / sum over its own hours of phi x the hour's share after its first request;
    mass r_k prod (1 - r_k') over its own hours k' between k and E, r = f0 phi, in own hours after a whole hour of
    life."""
    first, last = acc["first_us"] / HOUR, acc["last_us"] / HOUR
    end = last.max() - 24
    u = np.ceil(end)
    out = np.zeros(len(lo_h))
    for j in np.flatnonzero(members):
        if last[j] >= end or acc["n"][j] < 2:
            continue
        mask = 0
        for d in range(7):
            mask |= int(acc[f"day_mask_{d}"][j])

        def mine(k):
            mid = u - k - 0.5
            if mask and not (mask >> int(np.floor(mid % 24))) & 1:
                return False
            return weekend_on[j] or ((mid - shift[j]) / 24 + 3) % 7 < 5
        own = u - first[j]
        ks = [k for k in range(int(np.ceil(own))) if mine(k)]
        phi = [(end - (u - 1)) if k == 0 else 1.0 for k in ks]
        seen = sum(p * min(1.0, max(0.0, own - k)) for k, p in zip(ks, phi))
        f0 = min(max(acc["active_hours"][j] / max(seen, 1.0), 1e-12), 1 - 1e-12)
        stay = 1.0
        for k, p in zip(ks, phi):
            if k + 1 <= own:
                a, b = (u - k - 1, u - k) if k else (u - 1, end)  # the hour before E
                for w, (x, y) in enumerate(zip(lo_h, hi_h)):
                    out[w] += f0 * p * stay * max(0.0, min(y, b) - max(x, a)) / (b - a)
            stay *= 1 - f0 * p
    return out


def _masks(rng, j: int, kind: np.ndarray) -> dict:
    """Day masks of four kinds of member: a weekday worker at UTC+9 (00-08 UTC, Monday-Friday), one at UTC-8 (its
    Monday-Friday 9-17: 17-24 UTC from Monday, 00-01 UTC to Saturday), an evening user on every day (07-23 UTC), and
    one without a bit (nothing known)."""
    day = np.zeros((j, 7), np.int64)
    east = sum(1 << h for h in range(9))
    west_eve, west_night = sum(1 << h for h in range(17, 24)), 1
    for d in range(7):
        day[kind == 0, d] = east if d < 5 else 0
        day[kind == 1, d] = (west_eve if d < 5 else 0) | (west_night if 1 <= d <= 5 else 0)
        day[kind == 2, d] = sum(1 << h for h in range(7, 24))
    return {f"day_mask_{d}": day[:, d] for d in range(7)}


def test_last_seen_means_match_the_hour_by_hour_reference_with_own_hours():
    """Members with hand-set day masks: a worker at UTC+9 (its night's middle 16.5 UTC: its weekend shifted by -7.5
    h), one at UTC-8 (its night 01-17 UTC: +9 h), an evening user on every day, a member without a bit; the log's E
    off the clock hour (hour 0 cut)."""
    from stillwatch.guard.score.weeks import night_shift, weekend_active

    rng = np.random.default_rng(4)
    j = 40
    kind = rng.integers(0, 4, j)
    first = MONDAY / HOUR + rng.integers(0, 150, j) + rng.uniform(0, 1, j)
    last = np.minimum(first + rng.integers(24, 300, j), MONDAY / HOUR + 330)
    first[0], last[0] = MONDAY / HOUR, MONDAY / HOUR + 335.4
    active = np.floor((last - first) * rng.uniform(0.05, 0.25, j))
    acc = {"n": np.full(j, 40.0), "first_us": first * HOUR, "last_us": last * HOUR, "active_hours": active,
           "weekend_hours": np.zeros(j), **_masks(rng, j, kind)}
    shift = night_shift(acc)
    np.testing.assert_allclose(shift[kind == 0], -7.5)
    np.testing.assert_allclose(shift[kind == 1], 9.0)
    on = weekend_active(acc)
    assert not on[kind <= 1].any() and on[kind >= 2].all()
    members = rng.random(j) < 0.8
    lo = MONDAY / HOUR + np.array([0, 100, 200, 250, 280, 300, 120, 310.2])
    hi = lo + np.array([400, 30, 6, 24, 12, 9, 1, 0.7])
    got = pause_means(acc, "last", members, lo * HOUR, hi * HOUR, FDR)
    want = _last_reference(acc, members, np.array([-7.5, 9.0, 0.0, 0.0])[kind], kind >= 2, lo, hi)
    assert want.sum() > 1
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
