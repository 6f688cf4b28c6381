"""Exact per-account features of the *parts* of an account's traffic (issue 13): its busiest 24 hours
(the burst window) and the clock hours in which a sub-stream crowds into single minutes (a
component with its own rhythm), over every row, as Ibis expressions run on DuckDB or Spark.

Everything here is integer bucket arithmetic on ``ts_us`` (clock minutes and hours), sums of the
reading seconds already on each row (:func:`~stillwatch.guard.features.tables.row_keys`) and
distinct counts of the prompt-as-sent hash; none depends on hash *values* or on row order, so both
engines give the same numbers (tested). The statistics built on them are
:mod:`stillwatch.guard.score.signals`' (burst-then-dormant, crowded component).

* :func:`hour_buckets` — per account and clock hour: requests ``c``, reading seconds ``d``, first and
  last request time.
* :func:`peak_window` — the reading seconds and the span (first to last request) inside the
  account's busiest 24 clock hours (:func:`~stillwatch.guard.features.tables.account_peaks`'s
  window): how fast the burst itself ran, measured as a new account's whole life would be.
* :func:`crowd_candidates` — hours where one minute holds at least ``CROWD_MIN`` requests and at
  least ``CROWD_FACTOR`` times the hour's mean per minute: a superset of the hours the minute-scan
  test can find significant (score/signals.py), so only those come back to Python. The minutes
  (:func:`minute_counts`) are counted once, apart from the hour buckets, and also give the timing
  links their active minutes (at 16M rows: 13M minutes; the hour buckets built from the minutes'
  four aggregates took 8.4 s, hours from the rows 3.6 s).
* :func:`component_stats` — per account, over the rows of the hours the test kept: rows, distinct
  prompts as sent and reading seconds (what the crowded component obtained).
* :func:`week_masks` — per account, the UTC hours of each day of the week it was active in (its night and
  its own week: :mod:`stillwatch.guard.score.weeks`).
"""

from __future__ import annotations

import ibis
from ibis import _

MINUTE_US = 60_000_000
HOUR_US = 3_600_000_000
#: Prefilter on work, not a test: only hours whose busiest minute holds at least ``CROWD_MIN``
#: requests and at least ``CROWD_FACTOR`` times the hour's mean per minute (``c / 60``) are tested.
#: Leaving hours out can only cost power, never add a finding; below these a minute is within what
#: a person or a relay of independent people sends (five requests in one minute is already faster
#: than anyone reads, and the test's family-wise correction needs far more to reject).
CROWD_MIN = 5
CROWD_FACTOR = 3


def hour_buckets(keys: ibis.Table) -> ibis.Table:
    """(account_id, hr, c, d, t0, t1) per account and clock hour (module docstring)."""
    r = keys.select("account_id", "human_s", "ts_us", hr=keys.ts_us // HOUR_US)
    return r.group_by(["account_id", "hr"]).agg(c=_.count(), d=_.human_s.sum(), t0=_.ts_us.min(), t1=_.ts_us.max())


def week_masks(hours: ibis.Table) -> ibis.Table:
    """(account_id, day_mask_0 .. day_mask_6): bit ``h`` of mask ``d`` set when the account sent anything in UTC hour
    ``h`` of a UTC Monday + ``d`` days (score/weeks.py: its night and its own week). One distinct (account, day of the
    week, hour of the day) pass over the hour buckets; the bits are summed (distinct powers of two below 2^24: exact in
    float64 whatever the order of the sum, so the same on every engine)."""
    hw = hours.select("account_id", hod=(hours.hr % 24).cast("float64"), dow=(hours.hr // 24 + 3) % 7).distinct()
    bit = ibis.literal(2.0) ** hw.hod  # 1970-01-01 (hour 0) is a Thursday: day of the week 3 from Monday
    return hw.group_by("account_id").agg(
        **{f"day_mask_{d}": ibis.ifelse(hw.dow == d, bit, ibis.literal(0.0)).sum().cast("int64") for d in range(7)})


def peak_window(hours: ibis.Table, peaks: ibis.Table) -> ibis.Table:
    """(account_id, peak_s, peak_span_us): reading seconds and first-to-last span of the rows in the
    account's busiest 24 clock hours (``peaks``: :func:`~stillwatch.guard.features.tables.account_peaks`,
    whose ``peak_end_us`` ends the first such window)."""
    p = peaks.select(acc_w="account_id", end_hr=peaks.peak_end_us // HOUR_US)
    j = hours.inner_join(p, hours.account_id == p.acc_w)
    j = j.filter((j.hr >= j.end_hr - 24) & (j.hr < j.end_hr))
    return j.group_by("account_id").agg(peak_s=_.d.sum(), peak_span_us=_.t1.max() - _.t0.min())


def minute_counts(keys: ibis.Table) -> ibis.Table:
    """(account_id, mn, k): each account's requests in each clock minute it was active. The scan stores it once
    for the crowded minutes (:func:`crowd_candidates`) and the synchronised-timing links (score/timing.py)."""
    r = keys.select("account_id", mn=keys.ts_us // MINUTE_US)
    return r.group_by(["account_id", "mn"]).agg(k=_.count())


def crowd_candidates(minutes: ibis.Table, hours: ibis.Table) -> ibis.Table:
    """(account_id, hr, c, m): hours that may hold a crowded minute (module docstring), ``m`` the most requests
    in one clock minute of the hour. ``minutes`` and ``hours``: :func:`minute_counts` and :func:`hour_buckets`
    of the same rows; only minutes of ``CROWD_MIN`` requests or more are read (the test needs ``m >= CROWD_MIN``,
    so the others cannot set a candidate's ``m``)."""
    pm = minutes.filter(minutes.k >= CROWD_MIN)
    mh = pm.group_by(acc_m=pm.account_id, hr_m=pm.mn // 60).agg(m=_.k.max())
    j = mh.inner_join(hours, (mh.acc_m == hours.account_id) & (mh.hr_m == hours.hr))
    j = j.select(account_id=j.acc_m, hr=j.hr_m, c=j.c, m=j.m)
    return j.filter(j.m * 60 >= CROWD_FACTOR * j.c)


def component_stats(keys: ibis.Table, kept: ibis.Table) -> ibis.Table:
    """(account_id, comp_n, comp_prompts, comp_s): rows, distinct prompts as sent and reading seconds
    of each account's rows in the hours of ``kept`` (account_id, hr)."""
    k = kept.select(acc_k="account_id", hr_k="hr")
    r = keys.select("account_id", "prompt_raw", "human_s", hr=keys.ts_us // HOUR_US)
    j = r.inner_join(k, (r.account_id == k.acc_k) & (r.hr == k.hr_k))
    return j.group_by("account_id").agg(comp_n=_.count(), comp_prompts=_.prompt_raw.nunique(), comp_s=_.human_s.sum())
