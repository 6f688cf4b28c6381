"""Accounts that keep weekends off (score/nullmodel.py ``weekends_off``, ``weekend_hours_between``; the feature
``weekend_hours`` of features/tables.py): known answers, an hour-by-hour reference for the weekend hours of an
interval, the binomial test against its exact tail, the departure and arrival rules with and without the feature
(a weekday worker's silence over a weekend is not a departure), and the feature itself on DuckDB and Spark against a
count written here."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from stillwatch.guard.score.config import DetectConfig
from stillwatch.guard.score.nullmodel import arrivals, departures, weekend_hours_between, weekends_off

HOUR = 3_600_000_000
DAY = 24 * HOUR
MONDAY = 1_772_409_600_000_000  # 2026-03-02 00:00 UTC, a Monday
CFG = DetectConfig()


def _weekend_hours_reference(a: int, b: int) -> float:
    """Hour by hour (whole and partial hours): the part of [a, b) on UTC Saturdays and Sundays."""
    total, t = 0.0, a
    while t < b:
        edge = min((t // HOUR + 1) * HOUR, b)
        if (t // DAY + 3) % 7 >= 5:  # 1970-01-01 is a Thursday
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


def _acc(active, weekend, first, last, n=None):
    k = len(active)
    return {"n": np.full(k, 50.0) if n is None else np.asarray(n, float), "first_us": np.asarray(first, float),
            "last_us": np.asarray(last, float), "active_hours": np.asarray(active, float),
            "weekend_hours": np.asarray(weekend, float)}


def test_weekends_off_is_the_binomial_lower_tail():
    # two weeks from a Monday: the span's weekend share is 96 / 336 = 2/7
    first, last = np.full(4, float(MONDAY)), np.full(4, float(MONDAY + 14 * DAY))
    acc = _acc([20, 20, 3, 40], [0, 5, 0, 4], first, last)
    off = weekends_off(acc, CFG)
    w = 2 / 7
    tails = [sum(math.comb(a, j) * w ** j * (1 - w) ** (a - j) for j in range(k + 1))
             for a, k in ((20, 0), (20, 5), (3, 0), (40, 4))]
    assert [t <= CFG.link.cohort_fdr for t in tails] == off.tolist() == [True, False, False, True]
    # without the feature (an older producer, the live scorer): nothing known, nobody keeps weekends off
    assert not weekends_off({k: v for k, v in acc.items() if k != "weekend_hours"}, CFG).any()


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


def _keys_table(ts: dict) -> pa.Table:
    rows = [(a, t) for a, v in ts.items() for t in v]
    n = len(rows)
    return pa.table({"account_id": [r[0] for r in rows], "ts_us": pa.array([r[1] for r in rows], pa.int64()),
                     "human_s": pa.array([5.0] * n), "skey": pa.array(list(range(n)), pa.int64()),
                     "api_key": pa.array([1] * n, pa.int64()), "created_us": pa.array([None] * n, pa.int64()),
                     "prompt_raw": pa.array(list(range(n)), pa.int64())})


def test_weekend_hours_feature_on_duckdb_matches_the_count():
    import ibis

    from stillwatch.guard.features.tables import account_volume

    ts, want = _log_rows()
    got = ibis.duckdb.connect().to_pyarrow(account_volume(ibis.memtable(_keys_table(ts))).select(
        "account_id", "weekend_hours", "active_hours"))
    got = {r["account_id"]: r for r in got.to_pylist()}
    assert {a: got[a]["weekend_hours"] for a in want} == want
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
    from stillwatch.guard.features.tables import account_volume

    ts, want = _log_rows()
    t = _SparkEngine(ScanConfig()).put("wk", _keys_table(ts))
    got = account_volume(t).select("account_id", "weekend_hours").to_pyarrow().to_pylist()
    assert {r["account_id"]: r["weekend_hours"] for r in got} == want
