"""Each account's own week (score/weeks.py: ``weekends_off``, ``weekend_hours_between``, ``quiet_run``,
``night_shift``; the features ``weekend_hours`` of features/tables.py and ``day_mask_d`` of
features/components.py): known answers, hour-by-hour references for the (shifted) weekend hours of an interval and
for an account's night, the binomial test against its exact tail, the departure and arrival rules with and without
the features (a weekday worker's silence over its own weekend is not a departure, in whatever time zone), and the
features themselves on DuckDB and Spark against counts written here."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from stillwatch.guard.score.config import DetectConfig
from stillwatch.guard.score.nullmodel import arrivals, departures
from stillwatch.guard.score.weeks import (night_shift, quiet_run, weekdays_off, weekend_hours_between,
                                         weekends_off)

HOUR = 3_600_000_000
DAY = 24 * HOUR
MONDAY = 1_772_409_600_000_000  # 2026-03-02 00:00 UTC, a Monday
CFG = DetectConfig()


def _weekend_hours_reference(a: int, b: int, shift_h: float = 0.0) -> float:
    """Minute by minute: the part of [a, b) on Saturdays and Sundays of the clock ``shift_h`` hours behind UTC
    (its Saturday 00:00 is UTC Saturday 00:00 + shift)."""
    minute = HOUR // 60
    s = int(round(shift_h * 60)) * minute
    total, t = 0.0, a
    while t < b:
        edge = min((t // minute + 1) * minute, b)
        if ((t - s) // DAY + 3) % 7 >= 5:  # 1970-01-01 is a Thursday
            total += (edge - t) / HOUR
        t = edge
    return total


def test_weekend_hours_known_answers():
    fri, sat, sun, mon = MONDAY + 4 * DAY, MONDAY + 5 * DAY, MONDAY + 6 * DAY, MONDAY + 7 * DAY
    a = np.array([fri, sat + 12 * HOUR, sun + 23 * HOUR, MONDAY, sat, mon, fri])
    b = np.array([mon, sat + 18 * HOUR, mon + HOUR, MONDAY + 14 * DAY, sat + HOUR // 2, sat, fri + DAY])
    want = [48.0, 6.0, 1.0, 96.0, 0.5, 0.0, 0.0]
    np.testing.assert_allclose(weekend_hours_between(a, b), want, rtol=0, atol=1e-9)


def test_weekend_hours_match_the_hour_by_hour_reference():
    rng = np.random.default_rng(5)
    a = MONDAY + rng.integers(-20 * DAY, 20 * DAY, 60)
    b = a + rng.integers(-DAY, 16 * DAY, 60)
    got = weekend_hours_between(a, b)
    want = [_weekend_hours_reference(int(x), int(y)) for x, y in zip(a, b)]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


def test_shifted_weekend_hours_match_the_reference():
    rng = np.random.default_rng(6)
    a = MONDAY + rng.integers(-10 * DAY, 10 * DAY, 40)
    b = a + rng.integers(-DAY, 9 * DAY, 40)
    shift = rng.choice([-12.0, -7.5, -3.0, 0.0, 5.5, 9.5, 11.75], 40)
    want = [_weekend_hours_reference(int(x), int(y), float(z)) for x, y, z in zip(a, b, shift)]
    np.testing.assert_allclose(weekend_hours_between(a, b, shift), want, rtol=0, atol=1e-6)


def _mask(hours) -> int:
    return sum(1 << h for h in set(hours))


def _quiet_reference(mask: int) -> tuple[int, float]:
    """The longest circular run of clear bits, tried from every start hour; its middle (first from hour 0)."""
    best, best_mid = 0, float("nan")
    for start in range(24):
        length = 0
        while length < 24 and not (mask >> ((start + length) % 24)) & 1:
            length += 1
        if length > best:
            best, best_mid = length, (start + length / 2.0) % 24
    return best, (best_mid if 0 < best < 24 else float("nan"))


def test_quiet_run_known_answers_and_reference():
    # a worker at UTC+9 (09-18 local: 00-08 UTC), one at UTC-8 (17-01 UTC), an evening user, round the clock, none
    masks = [_mask(range(0, 9)), _mask(list(range(17, 24)) + [0, 1]), _mask(range(7, 24)), _mask(range(24)), 0]
    length, middle = quiet_run(np.array(masks))
    assert length.tolist() == [15, 15, 7, 0, 24]
    np.testing.assert_allclose(middle[:3], [16.5, 9.5, 3.5])
    assert np.isnan(middle[3:]).all()
    shift = night_shift({"n": np.ones(5), "hour_mask": np.array(masks)})
    np.testing.assert_allclose(shift, [-7.5, 9.5, 3.5, 0.0, 0.0])
    assert night_shift({"n": np.ones(2)}).tolist() == [0.0, 0.0]  # without the feature: UTC weekends
    rng = np.random.default_rng(8)
    masks = rng.integers(0, 1 << 24, 300) & rng.integers(0, 1 << 24, 300)  # sparse-ish masks, many runs each
    length, middle = quiet_run(masks)
    ref = [_quiet_reference(int(m)) for m in masks]
    assert length.tolist() == [r[0] for r in ref]
    np.testing.assert_allclose(middle, [r[1] for r in ref])


def test_a_weekday_worker_far_east_of_utc_silent_over_its_own_weekend_has_not_left():
    """A busy weekday worker at UTC+9 (60 active hours over two weeks, none on a weekend) ends its last Friday at
    18:00 local, 09:00 UTC; the log's last request is on Sunday 23:00 UTC (granted last day from Saturday 23:00).
    Under UTC weekends 15 Friday hours count ((1 - f)^15 = 0.025 <= cohort_fdr: a departure); its own weekend starts
    at its night's middle, Friday 16:30 UTC, leaving 7.5 hours (0.16: not a departure). The same account active on
    weekends has left."""
    fri9 = MONDAY + 11 * DAY + 9 * HOUR
    end = MONDAY + 13 * DAY + 23 * HOUR
    acc = _acc([60, 60, 1], [0, 17, 0], [MONDAY, MONDAY, end - HOUR], [fri9, fri9, end])
    acc["hour_mask"] = np.array([_mask(range(0, 9)), _mask(range(0, 9)), 1 << 22])
    _, left = departures(acc, CFG)
    assert left.tolist() == [False, True, False]
    _, left_utc = departures({k: v for k, v in acc.items() if k != "hour_mask"}, CFG)
    assert left_utc.tolist() == [True, True, False]
    f = 60 / ((fri9 - MONDAY) / HOUR)
    assert (1 - f) ** 7.5 > CFG.link.cohort_fdr >= (1 - f) ** 15


def _acc(active, weekend, first, last, n=None):
    k = len(active)
    return {"n": np.full(k, 50.0) if n is None else np.asarray(n, float), "first_us": np.asarray(first, float),
            "last_us": np.asarray(last, float), "active_hours": np.asarray(active, float),
            "weekend_hours": np.asarray(weekend, float)}


def test_weekends_off_is_the_binomial_lower_tail():
    # two weeks from a Monday: the span's weekend share is 96 / 336 = 2/7
    first, last = np.full(4, float(MONDAY)), np.full(4, float(MONDAY + 14 * DAY))
    acc = _acc([20, 20, 3, 40], [0, 5, 0, 4], first, last)
    off = weekends_off(acc, CFG.link.cohort_fdr)
    w = 2 / 7
    tails = [sum(math.comb(a, j) * w ** j * (1 - w) ** (a - j) for j in range(k + 1))
             for a, k in ((20, 0), (20, 5), (3, 0), (40, 4))]
    assert [t <= CFG.link.cohort_fdr for t in tails] == off.tolist() == [True, False, False, True]
    # without the feature (an older producer, the live scorer): nothing known, nobody keeps weekends off
    assert not weekends_off({k: v for k, v in acc.items() if k != "weekend_hours"}, CFG.link.cohort_fdr).any()


def test_a_weekday_worker_silent_over_the_weekend_has_not_left():
    """A busy weekday worker (60 active hours over two weeks, none on a weekend) last seen on Friday at 17:00 UTC, in
    a log whose last request is on Sunday at 23:00 (the granted last day starts on Saturday at 23:00): without the
    weekend hours its 30 silent hours count as a departure ((1 - 60/281)^30 ~ 7e-4); with them only the 7 Friday hours
    do (0.19). A person active on weekends too, silent as long, has still left."""
    fri5pm = MONDAY + 11 * DAY + 17 * HOUR
    end = MONDAY + 13 * DAY + 23 * HOUR
    acc = _acc([60, 60, 1], [0, 17, 0], [MONDAY, MONDAY, end - HOUR], [fri5pm, fri5pm, end])
    _, left = departures(acc, CFG)
    assert left.tolist() == [False, True, False]
    _, left_old = departures({k: v for k, v in acc.items() if k != "weekend_hours"}, CFG)
    assert left_old.tolist() == [True, True, False]
    f = 60 / ((fri5pm - MONDAY) / HOUR)
    assert (1 - f) ** 7 > CFG.link.cohort_fdr >= (1 - f) ** 30


def test_a_weekday_worker_first_seen_on_monday_has_not_arrived():
    """The mirror: a log that starts on a Friday; a weekday worker first seen on Monday morning was there all along."""
    fri = MONDAY + 4 * DAY
    mon9 = MONDAY + 7 * DAY + 9 * HOUR
    acc = _acc([60, 60, 1], [0, 17, 0], [mon9, mon9, fri], [mon9 + 9 * DAY, mon9 + 9 * DAY, fri + HOUR])
    _, arrived = arrivals(acc, CFG)
    assert arrived.tolist() == [False, True, False]


def _log_rows():
    """Three accounts: one at work on weekdays only, one on a Saturday night across midnight into Sunday (two
    weekend hours begun, one hour counted once), one with nothing but a Friday 23:59 request and a Monday 00:00 one."""
    sat = MONDAY + 5 * DAY
    ts = {"weekday": [MONDAY + d * DAY + h * HOUR for d in range(5) for h in (9, 10, 14)],
          "weekend": [sat + 23 * HOUR + 10, sat + 23 * HOUR + 50_000_000, sat + DAY + 5, MONDAY + 8 * HOUR],
          "edges": [sat - 60_000_000, sat + 2 * DAY]}
    return ts, {"weekday": 0, "weekend": 2, "edges": 0}


#: the hours of each UTC day of the week (Monday first) of _log_rows' accounts
_DAY_MASKS = {"weekday": [(1 << 9) | (1 << 10) | (1 << 14)] * 5 + [0, 0],
              "weekend": [1 << 8, 0, 0, 0, 0, 1 << 23, 1], "edges": [1, 0, 0, 0, 1 << 23, 0, 0]}
_MASK_COLUMNS = [f"day_mask_{d}" for d in range(7)]


def _keys_table(ts: dict) -> pa.Table:
    rows = [(a, t) for a, v in ts.items() for t in v]
    n = len(rows)
    return pa.table({"account_id": [r[0] for r in rows], "ts_us": pa.array([r[1] for r in rows], pa.int64()),
                     "human_s": pa.array([5.0] * n), "skey": pa.array(list(range(n)), pa.int64()),
                     "api_key": pa.array([1] * n, pa.int64()), "created_us": pa.array([None] * n, pa.int64()),
                     "prompt_raw": pa.array(list(range(n)), pa.int64())})


def test_weekend_hours_feature_on_duckdb_matches_the_count():
    import ibis

    from stillwatch.guard.features.components import hour_buckets, week_masks
    from stillwatch.guard.features.tables import account_volume

    ts, want = _log_rows()
    con = ibis.duckdb.connect()
    t = ibis.memtable(_keys_table(ts))
    got = {r["account_id"]: r for r in con.to_pyarrow(account_volume(t).select(
        "account_id", "weekend_hours", "active_hours")).to_pylist()}
    masks = {r["account_id"]: r for r in con.to_pyarrow(week_masks(hour_buckets(t))).to_pylist()}
    assert {a: got[a]["weekend_hours"] for a in want} == want
    assert {a: [masks[a][c] for c in _MASK_COLUMNS] for a in want} == _DAY_MASKS
    assert got["weekday"]["active_hours"] == 15


def test_weekend_hours_feature_same_on_spark():
    import shutil

    try:
        import pyspark  # noqa: F401
    except ImportError:
        pytest.skip("pyspark is not installed (install the 'spark' extra)")
    if shutil.which("java") is None:
        pytest.skip("no Java runtime on PATH: Spark local mode needs Java 17")
    from stillwatch.guard.batch.scan import ScanConfig, _SparkEngine
    from stillwatch.guard.features.components import hour_buckets, week_masks
    from stillwatch.guard.features.tables import account_volume

    ts, want = _log_rows()
    t = _SparkEngine(ScanConfig()).put("wk", _keys_table(ts))
    got = account_volume(t).select("account_id", "weekend_hours").to_pyarrow().to_pylist()
    masks = week_masks(hour_buckets(t)).to_pyarrow().to_pylist()
    assert {r["account_id"]: r["weekend_hours"] for r in got} == want
    assert {r["account_id"]: [r[c] for c in _MASK_COLUMNS] for r in masks} == _DAY_MASKS


def test_weekend_active_matches_an_hour_by_hour_reference():
    """``weekend_active`` against a direct reading of random day masks: the account's night (the reference's longest
    quiet run) gives its shift d; it was active on its own weekend when a set bit's hour of the week, at its middle,
    lies in [Sat 00:00 + d, Mon 00:00 + d) of the week from Monday 00:00 UTC; an account without a bit counts as
    active (nothing known)."""
    from stillwatch.guard.score.weeks import weekend_active

    rng = np.random.default_rng(12)
    a = 400
    sparse = rng.integers(0, 1 << 24, (a, 7)) & rng.integers(0, 1 << 24, (a, 7)) & rng.integers(0, 1 << 24, (a, 7))
    sparse[rng.random((a, 7)) < 0.4] = 0  # whole days off, weekends among them
    sparse[:5] = 0
    acc = {"n": np.ones(a), **{f"day_mask_{d}": sparse[:, d] for d in range(7)}}
    got = weekend_active(acc)
    want = []
    for j in range(a):
        mask = 0
        for d in range(7):
            mask |= int(sparse[j, d])
        if mask == 0:
            want.append(True)
            continue
        _, middle = _quiet_reference(mask)
        shift = 0.0 if math.isnan(middle) else (middle + 12.0) % 24.0 - 12.0
        on = [(d * 24 + h + 0.5 - shift) % 168 >= 120 for d in range(7) for h in range(24) if (int(sparse[j, d]) >> h) & 1]
        want.append(any(on))
    assert got.tolist() == want
    assert 0 < sum(want) < a  # both answers occur


# ------------------------------------------------------------------ what the log cannot show of an account's week
def test_weekdays_off_is_the_binomial_upper_tail():
    """The mirror of weekends_off: one week from a Monday (the span's weekend share 48 / 168 = 2/7); all of 6 active
    hours on the weekend: (2/7)^6 = 5e-4, a weekend-only user; all of 2: 0.08, too few to tell; 5 of 10: the upper
    tail 0.09; a span inside a weekend (w = 1) is never tested."""

    first = np.array([MONDAY, MONDAY, MONDAY, MONDAY + 5 * DAY + HOUR], float)
    last = np.array([MONDAY + 7 * DAY, MONDAY + 7 * DAY, MONDAY + 7 * DAY, MONDAY + 6 * DAY], float)
    acc = _acc([6, 2, 10, 8], [6, 2, 5, 8], first, last)
    w = 2 / 7
    tails = [sum(math.comb(a, j) * w ** j * (1 - w) ** (a - j) for j in range(k, a + 1))
             for a, k in ((6, 6), (2, 2), (10, 5))]
    assert [t <= CFG.link.cohort_fdr for t in tails] == [True, False, False]
    assert weekdays_off(acc, CFG.link.cohort_fdr).tolist() == [True, False, False, False]


def test_a_span_without_a_weekend_or_without_a_weekday_is_seen_as_such():
    """weekend_unseen: Monday 09:00 to Friday 17:00 UTC holds no weekend (an office worker at UTC, its night's middle
    at 01:00: own weekend from Saturday 01:00); Saturday 10:00 to Sunday 20:00 no weekday; Monday to the next Monday
    both; a worker at UTC+9 (own weekend from Friday 16:30 UTC) seen to Friday 17:00 UTC has touched its weekend."""
    from stillwatch.guard.score.weeks import weekend_unseen

    first = np.array([MONDAY + 9 * HOUR, MONDAY + 5 * DAY + 10 * HOUR, MONDAY, MONDAY], float)
    last = np.array([MONDAY + 4 * DAY + 17 * HOUR, MONDAY + 6 * DAY + 20 * HOUR, MONDAY + 7 * DAY,
                     MONDAY + 4 * DAY + 17 * HOUR], float)
    acc = _acc([30, 10, 40, 30], [0, 10, 10, 0], first, last)
    acc["hour_mask"] = np.array([_mask(range(9, 17)), _mask(range(9, 21)), _mask(range(9, 17)), _mask(range(0, 9))])
    np.testing.assert_allclose(night_shift(acc), [1.0, 3.0, 1.0, -7.5])
    no_weekend, no_weekday = weekend_unseen(acc)
    assert no_weekend.tolist() == [True, False, False, False]
    assert no_weekday.tolist() == [False, True, False, False]


def test_edge_grant_known_answers():
    """An office worker at UTC (night 17-09 UTC, its middle at 01:00: its days run from 01:00). After a last request
    (its day's end at 01:00 next day): Friday 15:00 before its weekend, 10 hours; Thursday 15:00 before a working
    Friday, 0; the same before a Friday its peers took off (r 0.2), 10; before a Friday that starts after the
    silence's edge E (Friday 00:30), 10. Before a first request (from its day's start): Monday 10:00 after its weekend,
    9; Wednesday 10:00 after a working Tuesday, 0 — 9 where the Tuesday ends (Wednesday 01:00) before the silence's
    start (Wednesday 02:00). Not granted: 0."""
    from stillwatch.guard.score.daysoff import edge_grant

    j0 = MONDAY // DAY
    rate = np.ones((1, 14))
    rate[0, 11] = 0.2  # the second Friday (day 11 of the calendar)
    acc = {"n": np.array([9.0]), "day_rate": rate, "day_rate_j0": np.array([j0]), "day_shift_h": np.array([1.0])}

    def grant(t, after, edge, granted=True):
        return edge_grant(acc, np.array([float(t)]), np.array([1.0]), np.array([granted]), after, float(edge))[0]
    far_end, far_start = MONDAY + 30 * DAY, MONDAY - 30 * DAY
    assert grant(MONDAY + 4 * DAY + 15 * HOUR, True, far_end) == pytest.approx(10.0)
    assert grant(MONDAY + 3 * DAY + 15 * HOUR, True, far_end) == 0.0
    assert grant(MONDAY + 10 * DAY + 15 * HOUR, True, far_end) == pytest.approx(10.0)  # the peers' Friday off
    assert grant(MONDAY + 3 * DAY + 15 * HOUR, True, MONDAY + 4 * DAY + HOUR // 2) == pytest.approx(10.0)
    assert grant(MONDAY + 7 * DAY + 10 * HOUR, False, far_start) == pytest.approx(9.0)
    assert grant(MONDAY + 2 * DAY + 10 * HOUR, False, far_start) == 0.0
    assert grant(MONDAY + 2 * DAY + 10 * HOUR, False, MONDAY + 2 * DAY + 2 * HOUR) == pytest.approx(9.0)
    assert grant(MONDAY + 4 * DAY + 15 * HOUR, True, far_end, granted=False) == 0.0


def test_unseen_run_known_answers():
    """What a log shows of an arrival or a departure (daysoff.unseen_run). An office worker at UTC (9-17, its night's
    middle at 01:00: its days run from 01:00) that keeps weekends off (40 active hours, none on its weekend:
    significant at GroupConfig.week_alpha): last seen on a Friday at 15:00, it left before
    its Monday began (Monday 01:00); last seen on a Tuesday, on the Tuesday; first seen on a Monday at 10:00, it
    arrived after its Saturday began (Saturday 01:00). A weekend-only hobbyist (10-20 UTC, days from 03:00): last seen
    on a Sunday, it left before its next Saturday began; first seen on a Saturday, after the Monday before began. An
    account active on every day of the week: the moment itself."""
    from stillwatch.guard.score.daysoff import unseen_run

    week1, week2 = MONDAY, MONDAY + 7 * DAY
    first = [week1 + 9 * HOUR, week1 + 5 * DAY + 10 * HOUR, week1 + 9 * HOUR]
    last = [week2 + 4 * DAY + 15 * HOUR, week2 + 6 * DAY + 20 * HOUR, week2 + 4 * DAY + 15 * HOUR]
    acc = _acc([40, 12, 100], [0, 12, 18], first, last)
    acc["hour_mask"] = np.array([_mask(range(9, 17)), _mask(range(10, 20)), _mask(range(9, 17))])
    alpha = CFG.group.week_alpha
    assert weekends_off(acc, alpha).tolist() == [True, False, False]
    assert weekdays_off(acc, alpha).tolist() == [False, True, False]

    def run(t, after):
        return unseen_run(acc, np.asarray(t, float), after, alpha).tolist()
    tuesday = week2 + DAY + 15 * HOUR
    assert run(last, True) == [week2 + 7 * DAY + HOUR, week2 + 12 * DAY + 3 * HOUR, last[2]]
    assert run([tuesday] * 3, True) == [tuesday, week2 + 5 * DAY + 3 * HOUR, tuesday]
    assert run([week2 + 10 * HOUR, first[1], week2 + 10 * HOUR], False) == [
        week1 + 5 * DAY + HOUR, week1 + 3 * HOUR, week2 + 10 * HOUR]


def test_a_one_week_log_does_not_make_weekday_workers_leave_on_friday(monkeypatch):
    """A log of one week from a Monday, its last request on Sunday 23:00 (granted last day from Saturday 23:00). A busy
    office worker (30 active hours, 9-17 UTC) last seen Friday 15:00: its span holds no weekend, so whether it works
    weekends is unknown and the weekend's silence is no evidence, and the rest of its working day (to its night's
    middle, Saturday 01:00) is granted: not a departure. Without the grant the 10 Friday hours count ((1 - 30/102)^10
    = 0.03: a departure); an account active every hour of the day (no night, no grant), silent as long, has left."""
    import stillwatch.guard.score.nullmodel as nullmodel
    from stillwatch.guard.score import weeks

    fri3pm = MONDAY + 4 * DAY + 15 * HOUR
    end = MONDAY + 6 * DAY + 23 * HOUR
    acc = _acc([30, 30, 1], [0, 0, 0], [MONDAY + 9 * HOUR, MONDAY + 9 * HOUR, end - HOUR], [fri3pm, fri3pm, end])
    acc["hour_mask"] = np.array([_mask(range(9, 17)), _mask(range(24)), 1 << 22])
    _, left = departures(acc, CFG)
    assert left.tolist() == [False, True, False]
    f = 30 / ((fri3pm - MONDAY - 9 * HOUR) / HOUR)
    assert (1 - f) ** 10 <= CFG.link.cohort_fdr
    monkeypatch.setattr(nullmodel, "granted_days", lambda acc, fdr: (weeks.night_shift(acc), np.zeros(3, bool)))
    assert departures(acc, CFG)[1].tolist() == [True, True, False]


def test_a_weekend_only_user_first_seen_on_saturday_has_not_arrived():
    """A log from a Monday; a hobbyist active only on weekends (12 active hours over two weekends, all of them on a
    weekend: weekdays_off) is first seen on the first Saturday — its weekdays' silence is no evidence that it was not
    there. The same first request from an account active on weekdays too is an arrival."""
    sat = MONDAY + 5 * DAY + 10 * HOUR
    end = MONDAY + 13 * DAY + 23 * HOUR
    acc = _acc([12, 40, 1], [12, 12, 0], [sat, sat, MONDAY], [MONDAY + 13 * DAY + 18 * HOUR] * 2 + [end])
    _, arrived = arrivals(acc, CFG)
    assert arrived.tolist() == [False, True, False]


def test_a_weekend_only_users_own_hours_are_its_weekend():
    """on_hours, the mirror of a weekday worker's: an account active only on Saturdays and Sundays 10-18 UTC has no
    weekday among its own hours; one active on weekdays too keeps them."""
    from stillwatch.guard.score.weeks import on_hours

    days = {f"day_mask_{d}": np.array([0, _mask(range(10, 18))]) for d in range(5)}
    days |= {f"day_mask_{d}": np.array([_mask(range(10, 18))] * 2) for d in (5, 6)}
    acc = {"n": np.array([20.0, 20.0]), **days}
    t = MONDAY + np.array([2 * DAY + 12 * HOUR, 5 * DAY + 12 * HOUR, 6 * DAY + 3 * HOUR], float)  # Wed, Sat, Sun 3am
    assert on_hours(acc, t).tolist() == [[False, True, False], [True, True, False]]
