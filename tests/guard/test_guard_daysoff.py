"""The peers' days off of weekday workers (score/daysoff.py): a known answer, a naive reference written from the
module docstring (peers counted one by one), the whole-day silence of :func:`off_hours` checked against its defining
equation, and the departure rule played both ways — a region's holiday is not a departure, a campaign that is a
fifth or two fifths of its region's weekday workers stopping on a weekday still departs."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from stillwatch.guard.score.config import DetectConfig
from stillwatch.guard.score.daysoff import day_rates, day_weight, off_hours
from stillwatch.guard.score.nullmodel import departures
from stillwatch.guard.score.weeks import hour_mask, night_shift, weekend_active, weekends_off

from _fixtures_weeks import DAY, HOUR, MONDAY, assert_last_sightings_follow, weekday_workers

CFG = DetectConfig()
FDR = CFG.link.cohort_fdr


def _reference(acc: dict, ai: np.ndarray, minute: np.ndarray, fdr: float) -> tuple[int, np.ndarray]:
    """From the docstring, one account, one peer and one day at a time: (j0, r [A, D])."""
    n = len(acc["n"])
    shift = night_shift(acc)
    pop = [i for i in range(n) if weekends_off(acc, fdr)[i] and hour_mask(acc)[i] != 0]
    # judged: the population and every account with a bit set but none on its own weekend (peers: the population)
    judged = [i for i in range(n) if i in pop or (hour_mask(acc)[i] != 0 and not weekend_active(acc)[i])]
    t_lo, t_hi = acc["first_us"].min(), acc["last_us"].max()
    j0 = int(np.floor((t_lo - 12 * HOUR) / DAY))
    days = int(np.floor((t_hi + 12 * HOUR) / DAY)) - j0 + 1
    active = {(int(a), int(np.floor((m * 60_000_000 - shift[a] * HOUR) / DAY))) for a, m in zip(ai, minute)}
    band = {i: int(np.floor(shift[i])) % 24 for i in range(n)}
    js = [j0 + d for d in range(days)]
    ordinary = [j for j in js if (j + 3) % 7 < 5 and j * DAY - 12 * HOUR >= t_lo and (j + 1) * DAY + 12 * HOUR <= t_hi]
    r = np.ones((n, days))
    if len(ordinary) < 3:
        return j0, r
    day_of = {i: (int(np.floor((acc["first_us"][i] - shift[i] * HOUR) / DAY)),
                  int(np.floor((acc["last_us"][i] - shift[i] * HOUR) / DAY))) for i in range(n)}
    for i in judged:
        peers = [b for b in pop if b != i and min(abs(band[b] - band[i]), 24 - abs(band[b] - band[i])) <= 3]
        o = {j: sum((b, j) in active for b in peers) for j in js}
        t = float(np.median([o[j] for j in ordinary]))
        alive = {j: [b for b in peers if day_of[b][0] < j < day_of[b][1]] for j in js}
        n_a = {j: len(alive[j]) for j in js}
        o_a = {j: sum((b, j) in active for b in alive[j]) for j in js}
        rhos = [o_a[j] / n_a[j] for j in ordinary if n_a[j] > 0]
        tau = float(np.median(rhos)) if rhos else 0.0
        covered = {j: ((j + 3) % 7 < 5 and j * DAY + shift[i] * HOUR - 4 * HOUR >= t_lo
                       and (j + 1) * DAY + shift[i] * HOUR + 4 * HOUR <= t_hi) for j in js}
        # by the count: significantly few peers active, and most of them silent
        off_count = {j: stats.poisson.cdf(o[j], t) <= fdr and (o[j] + 1) / (t + 1) <= 0.5 for j in js}
        for d, j in enumerate(js):
            if not covered[j]:
                continue
            later = any(covered[k] and not off_count[k] for k in js if k > j)  # most peers back at work later
            if later and n_a[j] >= 3 and tau > 0 and (1 - tau) ** n_a[j] <= fdr:  # the peers known to exist
                if stats.binom.cdf(o_a[j], n_a[j], tau) <= fdr and (o_a[j] + 1) / (n_a[j] * tau + 1) <= 0.5:
                    r[i, d] = min((o_a[j] + 1) / (n_a[j] * tau + 1), 1.0)
            elif off_count[j]:
                r[i, d] = min((o[j] + 1) / (t + 1), 1.0)
    return j0, r


def test_known_answer_a_region_off_on_one_thursday():
    """Ten workers at UTC, every working hour busy, all off on the log's second Thursday (day 10); a lone worker at
    UTC+9 off that day too; the account at the log's end. Each of the ten sees 0 of its 9 peers that day and 9 on its
    ordinary weekdays: r = (0 + 1) / (9 + 1) = 0.1 there, 1 on every other day; the lone worker has no peers (no
    calendar: r 1 throughout), nor has the account at the end (it keeps no weekends off)."""
    rng = np.random.default_rng(0)
    tz = np.array([0.0] * 10 + [9.0])
    off = np.zeros((11, 14), bool)
    off[:, 10] = True
    acc, ai, minute = weekday_workers(rng, tz, np.ones(11), off)
    cal = day_rates(acc, ai, minute, FDR)
    j0 = int(cal["day_rate_j0"][0])
    thursday = MONDAY // DAY + 10 - j0
    want = np.ones_like(cal["day_rate"])
    want[:10, thursday] = 0.1
    np.testing.assert_allclose(cal["day_rate"], want)
    np.testing.assert_allclose(cal["day_shift_h"][:10], 1.0)  # night 17-09 UTC: its middle at 01:00


def test_known_answer_a_third_of_a_region_off_is_no_day_off_two_thirds_are():
    """Thirty workers at UTC, every working hour busy (tau = 1), the log's first Thursday (day 3) off for the first
    ``k`` of them. Read by the 29 peers known to exist through it: a worker who came in sees ``30 - k - 1`` of them
    active, one who was off ``30 - k``. At k = 10 that is r = (19 + 1) / (29 + 1) = 2/3 and (20 + 1) / 30 = 0.7: a
    minority's silence, its own (binomially far below tau, it was a day off at level 5 % before the majority rule:
    E's logs, holding no holiday at all, had 1,400-1,600 of 9,035 accounts with such days, r 0.8 at the median);
    at k = 20, r = (9 + 1) / 30 = 1/3 and (10 + 1) / 30 = 11/30 on that day for everyone, 1 on every other day."""
    for k, want_in, want_off in ((10, 1.0, 1.0), (20, 1.0 / 3.0, 11.0 / 30.0)):
        rng = np.random.default_rng(5)
        off = np.zeros((30, 14), bool)
        off[:k, 3] = True
        acc, ai, minute = weekday_workers(rng, np.zeros(30), np.ones(30), off)
        cal = day_rates(acc, ai, minute, FDR)
        day = MONDAY // DAY + 3 - int(cal["day_rate_j0"][0])
        want = np.ones_like(cal["day_rate"])
        want[:k, day], want[k:30, day] = want_off, want_in
        np.testing.assert_allclose(cal["day_rate"], want, rtol=1e-12)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_day_rates_match_the_naive_reference(seed):
    """Workers in five time zones (three bands of peers overlapping), sparse and busy, with days off drawn per time
    zone (a region's holidays) and per worker (a day off of one's own), some leaving early."""
    rng = np.random.default_rng(seed)
    j = 90
    zones = np.array([-8.0, -5.0, 0.0, 2.0, 9.0])
    tz = rng.choice(zones, j)
    off = rng.random((j, 14)) < 0.05
    for z in zones:
        off[tz == z] |= rng.random(14) < 0.15
    acc, ai, minute = weekday_workers(rng, tz, rng.uniform(0.2, 0.9, j), off,
                                  last_day=np.where(rng.random(j) < 0.2, rng.integers(5, 13, j), 99))
    cal = day_rates(acc, ai, minute, FDR)
    j0, want = _reference(acc, ai, minute, FDR)
    assert int(cal["day_rate_j0"][0]) == j0
    assert (want < 1).any()
    np.testing.assert_allclose(cal["day_rate"], want, rtol=1e-12)
    # the calendar's reader: r of the local day holding each time
    t = MONDAY + rng.uniform(-1, 15, 40) * DAY
    r, day = day_weight(cal | {"n": acc["n"]}, t)
    i = day - j0
    inside = (i >= 0) & (i < want.shape[1])
    np.testing.assert_allclose(r, np.where(inside, np.take_along_axis(want, np.clip(i, 0, want.shape[1] - 1), 1), 1))


def test_the_account_and_its_peers_are_never_modified_and_bad_fdr_is_named():
    rng = np.random.default_rng(4)
    acc, ai, minute = weekday_workers(rng, np.zeros(8), np.full(8, 0.5), np.zeros((8, 14), bool))
    before = {k: v.copy() for k, v in acc.items()}
    day_rates(acc, ai, minute, FDR)
    for k, v in acc.items():
        np.testing.assert_array_equal(v, before[k])
    with pytest.raises(ValueError, match="fdr must be in"):
        day_rates(acc, ai, minute, 1.5)
    # without hour masks or weekend hours (an older producer, the live scorer) there is no calendar
    bare = {k: acc[k] for k in ("n", "first_us", "last_us", "active_hours")}
    assert day_rates(bare, ai, minute, FDR)["day_rate"].shape == (9, 0)
    np.testing.assert_array_equal(off_hours(bare, acc["first_us"], acc["last_us"], acc["first_us"],
                                            np.full(9, -0.1)), 0.0)


def test_off_hours_take_whole_days_and_never_the_day_worked():
    """Local days 0-2 of one account (shift 0) at r = 1, 0.5, 1; silence from day 0 20:00 to day 2 06:00, idle hours
    at q = 0.9. Day 0 holds its own request (a day it worked): nothing taken there; day 1's 24 hours count as the h
    hours with q^h = 0.5 + 0.5 q^24 (silent whether it worked that day or not); day 2 is an ordinary day."""
    j0 = MONDAY // DAY
    acc = {"n": np.array([5.0]), "day_rate": np.array([[1.0, 0.5, 1.0]]), "day_rate_j0": np.array([j0]),
           "day_shift_h": np.array([0.0])}
    lo = np.array([MONDAY + 20.0 * HOUR])
    hi = np.array([MONDAY + 2 * DAY + 6.0 * HOUR])
    taken = off_hours(acc, lo, hi, lo, np.log(np.array([0.9])))[0]
    assert 0.9 ** (24 - taken) == pytest.approx(0.5 + 0.5 * 0.9 ** 24, rel=1e-12)
    # the request seen on day 1 instead: that day was worked, nothing is taken
    assert off_hours(acc, lo, hi, lo + DAY, np.log(np.array([0.9])))[0] == 0.0
    # an account that never idles (q -> 0) is silent on such a day only by not working it: all 24 hours go
    assert off_hours(acc, lo, hi, lo, np.array([-50.0]))[0] == pytest.approx(24 - np.log(0.5) / -50.0)


def _departed(acc, ai, minute, calendar: bool) -> np.ndarray:
    cal = day_rates(acc, ai if calendar else ai[:0], minute if calendar else minute[:0], FDR)
    return departures({**acc, **cal} if calendar else acc, CFG)[1]


def test_a_regions_holiday_is_not_a_departure():
    """Fifty busy workers at UTC-5 off the log's last Thursday and Friday (days 10-11): last seen on the Wednesday,
    silent to the log's granted last day. Without the calendar every one of them has left; with it none."""
    rng = np.random.default_rng(5)
    off = np.zeros((50, 14), bool)
    off[:, 10:12] = True
    acc, ai, minute = weekday_workers(rng, np.full(50, -5.0), np.full(50, 0.6), off)
    assert _departed(acc, ai, minute, calendar=False)[:50].mean() >= 0.9
    assert not _departed(acc, ai, minute, calendar=True)[:50].any()


@pytest.mark.parametrize("campaign", [10, 20])
def test_a_campaign_that_is_a_minority_of_its_region_still_departs(campaign):
    """The attacker: ``campaign`` of fifty workers at UTC-5 (its accounts, keeping the region's hours and weekdays)
    stop after the log's second Tuesday; their peers work on. Wednesday and Thursday are read by the peers known to
    exist through them (the campaign's accounts are not among them; Friday shows the others back at work): no day off.
    Friday, the log's last weekday, has no later day to tell who still exists and is read by the count of active peers:
    within chance for a fifth, and for two fifths a minority's silence (r 0.62 > 1/2): no day off either. Every
    account that departs without the calendar departs with it. (Three fifths would be most of the region: at the
    log's edge its silence reads as the region's holiday — the module's stated limit.)"""
    rng = np.random.default_rng(6)
    last_day = np.where(np.arange(50) < campaign, 8, 99)
    acc, ai, minute = weekday_workers(rng, np.full(50, -5.0), np.full(50, 0.6), np.zeros((50, 14), bool),
                                  last_day=last_day)
    cal = day_rates(acc, ai, minute, FDR)
    j0 = int(cal["day_rate_j0"][0])
    wed = MONDAY // DAY + 9 - j0
    assert (cal["day_rate"][:campaign] == 1.0).all()
    without = _departed(acc, ai, minute, calendar=False)[:campaign]
    assert without.all()
    np.testing.assert_array_equal(_departed(acc, ai, minute, calendar=True)[:campaign], without)


def _last_reference_days(acc: dict, members, lo_h, hi_h) -> np.ndarray:
    """The last-seen model of score/pauses.py with days off, from its docstrings, one member and one clock hour at a
    time, walking back from E: an own hour k of local day d (the member's ``day_shift_h``) is active at f0 phi on a day
    it works, which it does with probability r(d); the member is silent after k when it is idle in the hours of k's
    day nearer E and each later day is silent, worked or not (1 - r + r prod (1 - f0 phi)); f0 = active hours / the
    sum over its own hours of phi r x the hour's share after its first request. Own hours: every clock hour here
    (masks without a bit)."""
    first, last = acc["first_us"] / HOUR, acc["last_us"] / HOUR
    end = last.max() - 24
    u = np.ceil(end)
    out = np.zeros(len(lo_h))
    for j in np.flatnonzero(members):
        if last[j] >= end or acc["n"][j] < 2:
            continue

        def r_of(k):
            d = int(np.floor((u - k - 0.5 - acc["day_shift_h"][j]) / 24)) - int(acc["day_rate_j0"][j])
            return (acc["day_rate"][j, d] if 0 <= d < acc["day_rate"].shape[1] else 1.0), d
        own = u - first[j]
        ks = list(range(int(np.ceil(own))))
        phi = [(end - (u - 1)) if k == 0 else 1.0 for k in ks]
        seen = sum(p * r_of(k)[0] * min(1.0, max(0.0, own - k)) for k, p in zip(ks, phi))
        f0 = min(max(acc["active_hours"][j] / max(seen, 1.0), 1e-12), 1 - 1e-12)
        days_silent, day_idle, cur = 1.0, 1.0, None
        for k, p in zip(ks, phi):
            r, d = r_of(k)
            if d != cur:
                if cur is not None:
                    days_silent *= 1 - r_cur + r_cur * day_idle
                cur, r_cur, day_idle = d, r, 1.0
            if k + 1 <= own:
                a, b = (u - k - 1, u - k) if k else (u - 1, end)
                for w, (x, y) in enumerate(zip(lo_h, hi_h)):
                    out[w] += r * f0 * p * days_silent * day_idle * max(0.0, min(y, b) - max(x, a)) / (b - a)
            day_idle *= 1 - f0 * p
    return out


def test_last_seen_means_match_the_reference_with_days_off():
    """Members with hand-set calendars (a third of their days off, at r drawn in [0, 1); local days shifted by -7.5,
    0 or +9 hours), the log's E off the clock hour (hour 0 cut)."""
    from stillwatch.guard.score.pauses import pause_means

    rng = np.random.default_rng(8)
    j = 30
    first = MONDAY / HOUR + rng.integers(0, 150, j) + rng.uniform(0, 1, j)
    last = np.minimum(first + rng.integers(24, 300, j), MONDAY / HOUR + 330)
    first[0], last[0] = MONDAY / HOUR, MONDAY / HOUR + 335.4
    j0 = MONDAY // DAY - 1
    rate = np.where(rng.random((j, 17)) < 0.33, rng.uniform(0, 1, (j, 17)), 1.0)
    acc = {"n": np.full(j, 40.0), "first_us": first * HOUR, "last_us": last * HOUR,
           "active_hours": np.floor((last - first) * rng.uniform(0.05, 0.3, j)), "day_rate": rate,
           "day_rate_j0": np.full(j, j0), "day_shift_h": rng.choice([-7.5, 0.0, 9.0], j)}
    members = rng.random(j) < 0.8
    lo = MONDAY / HOUR + np.array([0, 100, 200, 250, 280, 300, 120, 310.2])
    hi = lo + np.array([400, 30, 6, 24, 12, 9, 1, 0.7])
    got = pause_means(acc, "last", members, lo * HOUR, hi * HOUR, FDR)
    want = _last_reference_days(acc, members, lo, hi)
    assert want.sum() > 1
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    # the calendar matters here: all days worked is another curve
    flat = pause_means({**acc, "day_rate": np.ones_like(rate)}, "last", members, lo * HOUR, hi * HOUR, FDR)
    assert np.abs(flat - got).max() > 0.05


def test_the_last_seen_model_follows_a_regions_holiday():
    """1,200 weekday workers who never leave, at UTC+9, UTC and UTC-8; those at UTC-8 take the log's last Thursday and
    Friday off, so they are last seen on its Wednesday. Their last sightings per 6-hour window are what the model with
    the peers' calendar predicts (within 4 sd + 2 in every window, the total within 10 %); the mutant without it expects
    a third or more of the UTC-8 workers' last sightings on those two days, where there are none."""
    from stillwatch.guard.score.pauses import pause_means

    rng = np.random.default_rng(9)
    j = 1200
    tz = rng.choice([9.0, 0.0, -8.0], j)
    off = np.zeros((j, 14), bool)
    off[tz == -8.0, 10:12] = True
    acc, ai, minute = weekday_workers(rng, tz, rng.uniform(0.1, 0.4, j), off)
    cal = acc | day_rates(acc, ai, minute, FDR)
    members = np.arange(j + 1) < j
    lo, _, seen = assert_last_sightings_follow(acc, members, lambda a, b: pause_means(cal, "last", members, a, b, FDR),
                                               at_least=800)
    t = acc["last_us"]
    holiday = (lo >= MONDAY + 10 * DAY + 8 * HOUR) & (lo < MONDAY + 12 * DAY + 8 * HOUR)  # UTC-8's Thu-Fri
    west = members & np.append(tz == -8.0, False)
    got_west = sum(np.sum(seen & west & (t >= a) & (t < a + 6 * HOUR)) for a in lo[holiday])
    mu_flat = pause_means(acc, "last", west, lo, lo + 6 * HOUR, FDR)[holiday].sum()  # the mutant: no calendar
    assert got_west == 0 and mu_flat >= 0.33 * np.sum(seen & west), (got_west, mu_flat, np.sum(seen & west))
