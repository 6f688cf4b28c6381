"""The pause null of arrivals and departures (score/pauses.py) and its use by the time groups
(score/grouping.py): known answers, an hour-by-hour reference written from the module docstring, a
simulation of accounts that never leave run through the real departure rule (the model predicts what the
rule counts), and the group step played both ways — busy several-key accounts that only pause make no
group (the hypergeometric null alone makes one: agentic seed 2's false group), an operator's batch stop
among them is still one."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from stillwatch.guard.score.config import DetectConfig
from stillwatch.guard.score.grouping import KINDS, group_step
from stillwatch.guard.score.nullmodel import arrivals, departures
from stillwatch.guard.score.pauses import pause_means, pause_tail

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


def _reference(acc: dict, kind: str, lo_h: np.ndarray, hi_h: np.ndarray) -> np.ndarray:
    """From the docstring, one member and one hour at a time (windows in whole hours): H0's rate f0 = active hours
    / hours observable before E (after S); the member's last activity is k whole hours before E (first: k after S)
    with probability f0 (1 - f0)^k; the rule then counts it when 2 + Binomial(L - 1, f0) active hours over its
    L = floor(observable hours) - k hours of life reach (1 - fdr^(1 / (k + 1/2))) L; members seen in the granted
    day take no part."""
    from scipy import stats

    first, last = acc["first_us"] / HOUR, acc["last_us"] / HOUR
    end, start = last.max() - 24, first.min() + 24
    out = np.zeros(len(lo_h))
    for j in range(len(first)):
        if (kind == "departure" and last[j] >= end) or (kind == "arrival" and first[j] < start):
            continue  # seen in the granted day: never counted
        own = (end - first[j]) if kind == "departure" else (last[j] - start)
        f0 = min(max(acc["active_hours"][j] / max(own, 1.0), 1e-12), 1 - 1e-12)
        for k in range(int(np.ceil(own))):
            life = np.floor(own) - k
            if life < 1:
                continue
            need = np.ceil((1 - FDR ** (1 / (k + 0.5))) * life - 1e-9) - 2
            p_count = 1.0 if need <= 0 else float(stats.binom.sf(need - 1, life - 1, f0))
            mass = f0 * (1 - f0) ** k * p_count
            hour = end - k - 1 if kind == "departure" else start + k  # the hour [hour, hour + 1)
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
    assert 0 < max(per_member) <= 1


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
    for kind in ("arrival", "departure"):
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
    """(what the rule of score/nullmodel.py counts per day, what the pause null expects per day)."""
    rule = departures if kind == "departure" else arrivals
    t, counted = rule(acc, CFG)
    t = np.asarray(t, float)
    lo = np.arange(0, hours, 24.0) * HOUR
    got = np.array([np.sum(counted & (t >= a) & (t < a + DAY)) for a in lo])
    return got, pause_means(acc, kind, np.ones(len(acc["n"]), bool), lo, lo + DAY, FDR)


@pytest.mark.parametrize("kind", ["departure", "arrival"])
def test_the_model_predicts_what_the_rules_count_where_the_granted_day_is_quiet(kind):
    """3,000 accounts active all along (f 0.04-0.3, hour by hour, over 10 days) and, as the rules grant, silent in
    the log's last (first) day — a night, a day off —: the departures (arrivals) the rules count among them per day
    equal the pause null's means, computed from the accounts' own estimated f, within sampling error (Poisson,
    4 sd + 2) and overall within 20 %."""
    rng = np.random.default_rng(11)
    j, hours = 3000, 240
    quiet = range(216, 240) if kind == "departure" else range(0, 24)
    acc = _never_leaving(rng, j, hours, rng.uniform(0.04, 0.3, j), np.zeros(j), quiet, opened=kind == "departure")
    acc["last_us"][0], acc["first_us"][0] = hours * HOUR, 0.0  # the log's last and first requests
    got, mu = _counted_per_day(acc, kind, hours)
    assert got.sum() > 50  # the rules do count pausing accounts
    assert abs(got.sum() - mu.sum()) <= 0.2 * mu.sum(), (got, mu)
    assert np.all(np.abs(got - mu) <= 4 * np.sqrt(mu) + 2), (got, mu)


@pytest.mark.parametrize("kind", ["departure", "arrival"])
def test_the_model_predicts_what_the_rules_count_when_every_hour_is_independent(kind):
    """The same accounts active in the granted day too (every hour independent): most are seen there and are never
    counted; the model leaves them out and predicts the others, as above."""
    rng = np.random.default_rng(12)
    j, hours = 6000, 240
    acc = _never_leaving(rng, j, hours, rng.uniform(0.04, 0.3, j), np.zeros(j), opened=kind == "departure")
    acc["last_us"][0], acc["first_us"][0] = hours * HOUR, 0.0
    got, mu = _counted_per_day(acc, kind, hours)
    assert got.sum() > 10
    assert abs(got.sum() - mu.sum()) <= 0.25 * mu.sum() + 2 * np.sqrt(mu.sum()), (got, mu)
    assert np.all(np.abs(got - mu) <= 4 * np.sqrt(mu) + 2), (got, mu)


def _log_with_pausing_carriers(rng, leavers: int = 0) -> tuple[dict, int]:
    """5,000 light accounts (a few sessions each, first and last requests anywhere in 10 days: their departures
    spread over the log) and 400 busy accounts holding 3 keys side by side, active all along at f = 0.12 (so they
    share one cut-off) but for the log's last day (a weekend); optionally ``leavers`` more busy several-key accounts (f = 0.3) that stop together at the end of day 4."""
    light = 5000
    first = rng.uniform(0, 9 * DAY, light)
    base = {"n": rng.integers(2, 12, light).astype(float), "first_us": first,
            "last_us": np.minimum(first + rng.uniform(0.5 * HOUR, 30 * HOUR, light), 10 * DAY),
            "active_hours": rng.integers(1, 4, light).astype(float)}
    busy = _never_leaving(rng, 400, 240, np.full(400, 0.12), np.zeros(400), range(216, 240))  # the last day off
    parts = [base, busy]
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
    assert KINDS[int(g.kind[light + 400]) - 1] == "keys_departure"
