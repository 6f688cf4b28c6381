"""The rules of ``score/signals.py``: known answers computed by hand, a naive reference of the
features cross-checked with the vectorised SQL, a null log where they must stay quiet (calibration),
and the attacker shapes they catch (burst-then-dormant, key rotation)."""

from __future__ import annotations

import math
import zlib

import numpy as np
import pyarrow as pa
import pytest

from stillwatch.guard.batch.scan import feature_tables, scan
from stillwatch.guard.score.signals import (baseline_days, burst_p, dormant_carrier, fast_substream, first_day_peak,
                                           fwer_evidence,
                                           key_rotation, recur_p)

HOUR = 3_600_000_000
DAY = 24 * HOUR
T0 = 1_760_000_000_000_000 - (1_760_000_000_000_000 % DAY)


def _log(rows: list[tuple[str, int, str, int]]) -> pa.Table:
    """(account, ts_us, api key, completion tokens) -> a log table. Addresses come from a stable hash
    of the account (``hash()`` of a string changes with each interpreter, so the log would too)."""
    n = len(rows)
    return pa.table({
        "request_id": [f"r{i:07d}" for i in range(n)],
        "ts": pa.array([r[1] for r in rows], pa.int64()).cast(pa.timestamp("us", tz="UTC")),
        "account_id": [r[0] for r in rows], "api_key_id": [r[2] for r in rows],
        "ip": [f"10.0.{zlib.crc32(r[0].encode()) % 200}.1" for r in rows], "user_agent": ["ua"] * n,
        "payment_fingerprint": pa.nulls(n, pa.string()), "model": ["m"] * n,
        "prompt": [f"a question about {_word(i * 7919)}" for i in range(n)],
        "response": ["a"] * n, "prompt_tokens": [10] * n, "completion_tokens": [r[3] for r in rows],
    })


def test_known_answers_by_hand():
    # fwer: p * m = 1 -> 0; 1e-2 -> 1; 1e-1 -> 0.5
    assert fwer_evidence(np.array([0.1, 0.01 * 0.1, 0.1 * 0.1]), 10).tolist() == pytest.approx([0.0, 1.0, 0.5])
    # burst: n = 3 requests, all in one day, observable T = 4 days: 4 * P(Bin(3, 1/2) >= 3) = 4 / 8
    assert burst_p(np.array([3.0]), np.array([3.0]), np.array([4.0]))[0] == pytest.approx(0.5)
    # T = 1 day: q = 1, nothing is surprising
    assert burst_p(np.array([50.0]), np.array([50.0]), np.array([1.0]))[0] == 1.0
    # baseline days: creation known and before the log -> from the log start; else from first use;
    # to the end of the busiest day; at least one
    d = baseline_days(np.array([10 * DAY, 10 * DAY, 10 * DAY]), np.array([20 * DAY, 20 * DAY, 10 * DAY + HOUR]),
                      np.array([-5 * DAY, np.nan, np.nan]), 0)
    assert d.tolist() == [20.0, 10.0, 1.0]
    # recurrence, R = 10: peak 3 against runner-up 0 -> (10/11)^3; 2 against 2 -> P(Bin(4, 10/11) >= 2)
    q = 10 / 11
    assert recur_p(np.array([3.0]), np.array([0.0]))[0] == pytest.approx(q**3)
    assert recur_p(np.array([2.0]), np.array([2.0]))[0] == pytest.approx(1 - (1 - q) ** 4 - 4 * q * (1 - q) ** 3)
    # key rotation: lambda = 2 / 200; account 0 (n 100, r 2): P(Poisson(1) >= 2) = 1 - 2/e
    r = key_rotation(np.array([100.0, 100.0]), np.array([2.0, 0.0]), 2)
    assert r["key_rotation_p"].tolist() == pytest.approx([1 - 2 / math.e, 1.0])
    # fast sub-stream: 5 fast of 10 rows, 1 expected: P(Poisson(1) >= 5)
    f = fast_substream(np.array([10.0, 10.0, 10.0]), np.array([5.0, 0.0, 0.0]), np.array([3600.0, 0, 0]),
                       np.array([1.0, 1.0, 1.0]), 3, 100.0)
    tail = 1 - sum(math.exp(-1) / math.factorial(j) for j in range(5))
    assert f["fast_p"][0] == pytest.approx(tail)
    assert f["fast_hours"][0] == 1.0


def _naive(rows):
    """Per account from a plain loop: peak 24-clock-hour count, peak hour seconds, fast rows, keys
    and hand-overs, the peak window's end and median hour (the definitions of features.tables.account_peaks /
    account_volume / account_keys)."""
    out = {}
    spt = 60 * 0.75 / 238
    for acct in sorted({r[0] for r in rows}):
        rs = sorted((r for r in rows if r[0] == acct), key=lambda r: (r[1], 5 + r[3] * spt))
        hours: dict[int, list[float]] = {}
        for r in rs:
            h = hours.setdefault(r[1] // HOUR, [0, 0.0])
            h[0] += 1
            h[1] += 5 + r[3] * spt
        c24 = {h: sum(c for hh, (c, _) in hours.items() if h - 23 <= hh <= h) for h in hours}
        peak_day = max(c24.values())
        peak_hr = min(h for h, v in c24.items() if v == peak_day)
        upto = sum(1 for r in rs if r[1] // HOUR <= peak_hr)
        # runner-up: every 24-clock-hour window [a, a + 23] entirely before or after the peak's
        starts = {h - k for h in hours for k in range(24)}
        runner = max([sum(c for hh, (c, _) in hours.items() if a <= hh <= a + 23)
                      for a in starts if a + 23 <= peak_hr - 24 or a >= peak_hr + 1] or [0])
        fast = sum(1 for p, r in zip(rs, rs[1:]) if r[1] - p[1] < (5 + p[3] * spt) * 1e6)
        keys: dict[str, list[int]] = {}
        for r in rs:
            keys.setdefault(r[2], [r[1], r[1]])[1] = r[1]
        spans = sorted(keys.values())
        rot = sum(1 for i in range(1, len(spans)) if max(s[1] for s in spans[:i]) < spans[i][0])
        exp_fast = sum(c * (1 - math.exp(-d / 3600)) for c, d in hours.values())
        # the window's median hour: its rows in time order, the hour of the ceil(peak / 2)-th of them
        window = [r[1] // HOUR for r in rs if peak_hr - 23 <= r[1] // HOUR <= peak_hr]
        mid_hr = window[(peak_day + 1) // 2 - 1]
        out[acct] = (peak_day, max(d for _, d in hours.values()), fast, len(keys), rot, exp_fast,
                     (peak_hr + 1) * HOUR, upto, runner, (mid_hr + 1) * HOUR)
    return out


def test_vectorised_features_match_a_naive_reference():
    rng = np.random.default_rng(3)
    rows = []
    for a in range(12):
        n = int(rng.integers(5, 80))
        ts = T0 + np.sort(rng.integers(0, 6 * DAY, n))
        ts[: n // 3] = ts[0] + np.arange(n // 3) * 2_000_000  # a fast run
        keys = [f"k{a}-{int(x)}" for x in (np.arange(n) * rng.integers(1, 4) // 10)]
        if a % 3 == 0:
            keys = [f"k{a}-{int(rng.integers(0, 3))}" for _ in range(n)]  # side by side: no hand-overs
        toks = rng.integers(0, 900, n)
        rows += [(f"acct-{a:02d}", int(t), k, int(c)) for t, k, c in zip(np.sort(ts), keys, toks)]
    ft = feature_tables(_log(rows), near_duplicates=False)
    ref = _naive(rows)
    for i, acct in enumerate(ft.ids):
        pk, ph, fast, nk, rot, ef, pend, upto, runner, pmid = ref[acct]
        assert ft.cols["runner_day_n"][i] == runner, acct
        assert ft.cols["peak_mid_us"][i] == pmid, acct
        assert ft.cols["peak_end_us"][i] == pend and ft.cols["upto_peak_n"][i] == upto, acct
        assert ft.cols["peak_day_n"][i] == pk, acct
        assert ft.cols["peak_hour_s"][i] == pytest.approx(ph), acct
        assert ft.cols["fast_n"][i] == fast, acct
        assert ft.cols["n_keys"][i] == nk and ft.cols["key_rotations"][i] == rot, acct
        assert ft.cols["fast_expected"][i] == pytest.approx(ef), acct


def _word(i: int) -> str:
    return "".join(chr(97 + (i // 26**j) % 26) for j in range(4))


def _people(rng, n_acc: int, days: int = 21) -> list:
    """Ordinary users: a few waking-hour sessions over three weeks, one key each (one in ten rotates
    it once), answers of 100-800 tokens read before the next question."""
    rows = []
    for a in range(n_acc):
        sessions = int(rng.integers(1, 6))
        key_change = rng.random() < 0.1
        for s in range(sessions):
            t = T0 + int(rng.integers(0, days)) * DAY + int(rng.integers(8, 22)) * HOUR
            for _ in range(int(rng.integers(1, 8))):
                toks = int(rng.integers(100, 800))
                key = f"k{a}-{int(key_change and s >= sessions // 2)}"
                rows.append((f"user-{a:04d}", t, key, toks))
                t += int((5 + toks * 0.19 + rng.exponential(120)) * 1e6)
    return rows


def test_null_log_stays_quiet():
    """Calibration: a log of ordinary people (bursty sessions, the odd key rotation) — no burst or
    key-rotation evidence anywhere, nothing flagged."""
    rng = np.random.default_rng(5)
    f = scan(_log(_people(rng, 400)))
    ev = [(a.account_id, a.fired) for a in f.accounts if {"burst", "key_rotation"} & set(a.fired)]
    assert ev == []
    assert not [a for a in f.accounts if a.flagged]


def test_attackers_are_caught_among_people():
    """Burst-then-dormant aged accounts (a few ordinary requests in week one, then 300 distinct
    capability prompts in one night, then silence) and a key rotator (a new key every 30 requests):
    the rules fire on them and on no person."""
    rng = np.random.default_rng(7)
    rows = _people(rng, 300)
    for b in range(5):
        acct = f"burst-{b}"
        for j in range(4):
            rows.append((acct, T0 + (j + 1) * DAY + 15 * HOUR, f"kb{b}", 300))
        night = T0 + 17 * DAY + 22 * HOUR
        rows += [(acct, night + i * 50_000_000, f"kb{b}", 350) for i in range(300)]
    rows += [("rotator", T0 + 3 * DAY + i * 20_000_000, f"kr-{i // 30}", 300) for i in range(300)]
    table = _log(rows)
    prompts = table["prompt"].to_pylist()
    # distinct capability prompts (normalisation folds digits, so the variety is in letters)
    prompts = [p if not a.startswith(("burst", "rotator")) else f"Explain step by step how to implement the {_word(i)} algorithm"
               for i, (p, a) in enumerate(zip(prompts, table["account_id"].to_pylist()))]
    f = scan(table.set_column(table.schema.get_field_index("prompt"), "prompt", pa.array(prompts)))
    fired = {a.account_id: set(a.fired) for a in f.accounts}
    assert all("burst" in fired[f"burst-{b}"] for b in range(5))
    assert "key_rotation" in fired["rotator"]
    assert not [a for a, s in fired.items() if a.startswith("user-") and {"burst", "key_rotation"} & s]
    flagged = {a.account_id for a in f.accounts if a.flagged}
    assert {f"burst-{b}" for b in range(5)} <= flagged
    assert not [a for a in flagged if a.startswith("user-")]


def test_one_off_batch_job_has_no_baseline_to_burst_against_but_is_dormant_after_it():
    """A batch job whose busiest day is its first day (900 requests 2 s apart, then silence) is not a
    burst against its own baseline; the same day after two weeks of ordinary use is. Over its whole
    observable life (to the log's end) the fresh job is burst-then-dormant — the grouping signal
    (score/grouping.py), never own-score evidence — and the same job on the log's last day, watched
    for one day only, is not even that. Its busiest 24 hours run as fast in the aged account as in
    the fresh one (``burst_multiple``). The same job on the log's first day ("early") is not dormant either: the
    log cannot tell it from an account that used the service up to its start (signals.first_day_peak)."""
    rows = [("batch", T0 + 2 * DAY + i * 2_000_000, "kb", 200) for i in range(900)]
    rows += [("early", T0 + i * 2_000_000, "ke", 200) for i in range(900)]
    rows += [("aged", T0 + d * DAY + 14 * HOUR, "ka", 200) for d in range(0, 14, 3)]
    rows += [("aged", T0 + 15 * DAY + i * 2_000_000, "ka", 200) for i in range(900)]
    rows += [("late", T0 + 16 * DAY + 22 * HOUR + i * 2_000_000, "kl", 200) for i in range(900)]
    f = scan(_log(rows))
    assert f.account("batch").signals["burst_p"] == 1.0 and "burst" not in f.account("batch").fired
    assert f.account("aged").signals["burst_p"] < 1e-100 and "burst" in f.account("aged").fired
    # observable life: to the log's end, the late job's last request
    end = 16 * DAY + 22 * HOUR + 899 * 2_000_000
    assert f.account("batch").signals["observed_days"] == pytest.approx((end - 2 * DAY) / DAY)
    # ... where the carrier's recurring null (five-fold, no runner-up day: (5/6)^900) is the larger of the two tails
    assert f.account("batch").signals["dormant_p"] == pytest.approx((5 / 6) ** 900, rel=1e-9)
    assert f.account("late").signals["dormant_p"] == 1.0
    assert f.account("early").signals["burst_p"] == 1.0 and f.account("early").signals["dormant_p"] == 1.0
    # 900 answers of 200 tokens (5 s + 200 x 0.75 x 60 / 238 s each) over 1798 s + one typical exchange
    demand = 900 * (5 + 200 * 0.75 * 60 / 238)
    typical = 5 + 400 * 0.75 * 60 / 238
    for acct in ("batch", "aged"):
        assert f.account(acct).signals["burst_multiple"] == pytest.approx(demand / (1798 + typical)), acct


def test_streaming_scorer_has_the_batch_inputs():
    """The live scorer's final verdicts see the same burst / key-rotation inputs as the batch scan."""
    from stillwatch.guard.live.stream import StreamConfig, StreamingScorer

    rng = np.random.default_rng(11)
    rows = _people(rng, 30)
    rows += [("aged", T0 + d * DAY + 14 * HOUR, "ka", 200) for d in range(0, 10, 3)]
    rows += [("aged", T0 + 12 * DAY + i * 30_000_000, "ka", 300) for i in range(250)]
    rows += [("rotator", T0 + DAY + i * 20_000_000, f"kr-{i // 25}", 300) for i in range(150)]
    table = _log(rows)
    batch = {a.account_id: a for a in scan(table).accounts}
    scorer = StreamingScorer(StreamConfig())
    for r in table.sort_by([("ts", "ascending"), ("request_id", "ascending")]).to_pylist():
        scorer.observe(r)
    live = {a.account_id: a for a in scorer.verdicts()}
    for k, b in batch.items():
        for name in ("peak_day_requests", "baseline_days", "burst_p", "runner_up_day_requests", "burst_recur_p",
                     "peak_hour_multiple", "api_keys",
                     "key_rotations", "fast_share", "fast_expected"):
            assert live[k].signals[name] == pytest.approx(b.signals[name], rel=1e-9, abs=1e-9), (k, name)
    assert live["rotator"].signals["key_rotations"] == 5 and "burst" in live["aged"].fired


def _job(acct: str, day: int, n: int, key: str, start_hour: int = 9) -> list:
    """``n`` requests of a program 3 s apart from ``start_hour`` on ``day``."""
    return [(acct, T0 + day * DAY + start_hour * HOUR + i * 3_000_000, key, 200) for i in range(n)]


def test_recurring_batch_job_is_its_own_baseline_but_a_harvest_night_is_not():
    """A firm's batch job busy on every weekday of three weeks with a workload that varies (its
    busiest day two to four times its usual, after a light first week) is its own baseline: the steady null is
    rejected (the busiest day is a departure from a steady rate) but the recurring one is not, so
    it must stay quiet. An aged account with a few ordinary sessions and then one harvest night
    (the same night size) rejects both and fires."""
    rng = np.random.default_rng(13)
    rows = _people(rng, 200)
    for j in range(6):
        sizes = [40 + 10 * j] * 5 + [int(x) for x in rng.integers(150, 300, 9)] + [600]
        days = [d for w in range(3) for d in range(w * 7, w * 7 + 5)][: len(sizes)]
        for d, size in zip(days, sizes):
            rows += _job(f"job-{j}", d, size, f"kj{j}")
        acct = f"harvest-{j}"
        for d in (1, 4, 8):
            rows += [(acct, T0 + d * DAY + 19 * HOUR + i * 90_000_000, f"kh{j}", 300) for i in range(3)]
        rows += _job(acct, 18, 600, f"kh{j}", start_hour=22)
    f = scan(_log(rows))
    for j in range(6):
        job, harvest = f.account(f"job-{j}"), f.account(f"harvest-{j}")
        # independently: peak 600 against a runner-up of at least 150 -> P(Bin(>=750, 10/11) >= 600) ~ 1
        assert job.signals["runner_up_day_requests"] >= 150
        assert job.signals["burst_p"] < 1e-6 and job.signals["burst_recur_p"] > 0.5
        assert "burst" not in job.fired
        assert harvest.signals["runner_up_day_requests"] == 3
        assert harvest.signals["burst_recur_p"] < 1e-20 and "burst" in harvest.fired


def test_a_straggler_moves_the_peak_windows_end_not_its_median():
    """A burst of 240 requests from 22:00 to 01:59 (60 an hour), one request the day before and one straggler at
    09:30 the morning after: the busiest 24 clock hours hold 241 requests and first reach that at the straggler's
    hour (its end: 10:00), while half of them (121 of 241) were sent by 00:59 (the median hour's end: 01:00). The
    burst-night signal times the burst by the median (score/grouping.py)."""
    night = T0 + 5 * DAY + 22 * HOUR
    rows = [("burst", T0 + 4 * DAY + 12 * HOUR, "k", 100)]
    rows += [("burst", night + h * HOUR + j * 60_000_000, "k", 100) for h in range(4) for j in range(60)]
    rows += [("burst", T0 + 6 * DAY + 9 * HOUR + 30 * 60_000_000, "k", 100)]
    rows += [("other", T0 + d * DAY, "o", 100) for d in range(8)]
    ft = feature_tables(_log(rows), near_duplicates=False)
    i = list(ft.ids).index("burst")
    assert ft.cols["peak_day_n"][i] == 241
    assert ft.cols["peak_end_us"][i] == T0 + 6 * DAY + 10 * HOUR
    assert ft.cols["peak_mid_us"][i] == T0 + 6 * DAY + HOUR


def test_first_day_peak_known_answers():
    """A busiest 24 hours that began in the log's first day is no dormancy evidence unless a creation time in the
    log shows the account new: peak window ending 20 h in (began before the log) and 44 h in (began 20 h in):
    censored; ending 50 h in (began on day 2): not; the first with a creation time 1 h into the log: not (new);
    with one a year before the log (clipped to its start elsewhere): censored; a creation time unknown (NaN): as
    without one."""
    h = 3_600e6
    t0 = 1_000 * 24 * h
    first = np.full(6, t0 + h)
    end = t0 + np.array([20, 44, 50, 20, 20, 20]) * h
    created = np.array([np.nan, np.nan, np.nan, t0 + h, t0 - 365 * 24 * h, np.nan])
    assert first_day_peak(first, end, created, t0).tolist() == [True, True, False, False, True, True]
    assert first_day_peak(first, end, None, t0).tolist() == [True, True, False, True, True, True]
    assert first_day_peak(first, end, created, None).tolist() == [False] * 6


def _binom_sf_exact(k: int, n: int, num: int, den: int) -> float:
    """``P(Bin(n, num/den) >= k)`` summed term by term in exact rationals (independent of scipy)."""
    from fractions import Fraction
    q = Fraction(num, den)
    return float(sum(math.comb(n, j) * q**j * (1 - q) ** (n - j) for j in range(k, n + 1)))


def test_a_harvest_night_behind_a_persons_busy_day_is_not_a_recurrence():
    """Held-out E seed 45's shape: an aged account whose busiest ordinary day held 17 requests (a person's
    session), then a 259-request harvest night. Against a recurring workload whose days differ at most five-fold
    (DORMANT_RECUR_RATIO, the burst-night carrier's null) the night is a departure family-wise among 10,000
    accounts; against ten-fold (RECUR_RATIO, own-score evidence) it is not (p 0.05). The attacker at the
    carrier's boundary: a night recurring at a fifth of its size (60 against 300) is its baseline (p > 0.4); at a
    tenth (30) it is a departure (p < 1e-4)."""
    from stillwatch.guard.score.signals import DORMANT_RECUR_RATIO, RECUR_RATIO

    assert (RECUR_RATIO, DORMANT_RECUR_RATIO) == (10.0, 5.0)
    k1, k2 = 259, 17
    five = recur_p(np.array([k1 * 1.0]), np.array([k2 * 1.0]), ratio=DORMANT_RECUR_RATIO)[0]
    assert five == pytest.approx(_binom_sf_exact(k1, k1 + k2, 5, 6), rel=1e-9)
    assert five * 10_000 <= 0.01
    assert recur_p(np.array([259.0]), np.array([17.0]))[0] == pytest.approx(_binom_sf_exact(k1, k1 + k2, 10, 11),
                                                                            rel=1e-9)
    assert _binom_sf_exact(k1, k1 + k2, 10, 11) > 0.05
    assert recur_p(np.array([300.0]), np.array([60.0]), ratio=5.0)[0] > 0.4
    assert recur_p(np.array([300.0]), np.array([30.0]), ratio=5.0)[0] == pytest.approx(
        _binom_sf_exact(300, 330, 5, 6), rel=1e-9)
    assert _binom_sf_exact(300, 330, 5, 6) < 1e-4


def test_burst_night_carriers_are_significant_at_full_evidence():
    """``dormant_carrier``: the clipped peak-hour multiple where the five-fold ``p * m <= 1 %`` or the ten-fold
    ``p * m < 1``, else 0 — a whole life of one busy day (53 requests, no other day: ``(5/6)**53`` five-fold,
    ``(10/11)**53`` ten-fold) among 2,000 accounts is ``p * m`` = 0.13 and 12.8: not a carrier; among 100 accounts
    it is."""
    p = (5 / 6) ** 53
    out = dormant_carrier(np.array([p, p, 1e-9, 1e-9, 0.5]), np.array([0.67, 0.67, 1.7, 0.4, 3.0]), 2000)
    assert out.tolist() == [0.0, 0.0, 1.0, 0.4, 0.0]
    assert dormant_carrier(np.array([p]), np.array([0.67]), 100).tolist() == [0.67]
    # or the ten-fold null below one expected (p * m < 1): (10/11)**53 = 0.0064 among 100 accounts (0.64) carries,
    # among 2,000 (12.8) it does not
    q = (10 / 11) ** 53
    assert dormant_carrier(np.array([p, 0.5]), np.array([0.67, 0.9]), 100, np.array([q, 0.009])).tolist() == [0.67, 0.9]
    assert dormant_carrier(np.array([p]), np.array([0.67]), 2000, np.array([q])).tolist() == [0.0]
    # inputs not modified
    ps, mult = np.array([p]), np.array([0.67])
    dormant_carrier(ps, mult, 100)
    assert ps.tolist() == [p] and mult.tolist() == [0.67]


def test_an_aged_harvest_after_a_busy_ordinary_day_carries_its_night():
    """Scan level: 300 people, and an aged account with ordinary sessions over two weeks — its busiest 24 hours of
    them 20 requests — then 280 requests one night, 60 s apart, then silence. Its own burst evidence keeps the
    ten-fold recurring null (p > 1e-3: a firm's one large batch after small ones looks the same on its own), but it
    carries the burst-night signal (five-fold, ``dormant_p`` = that tail), and is the only carrier of the log."""
    from stillwatch.guard.score.signals import hidden_signals

    rng = np.random.default_rng(45)
    rows = _people(rng, 300)
    rows += [("aged", T0 + d * DAY + 15 * HOUR + i * 400_000_000, "ka", 300) for d in (1, 5, 9) for i in range(4)]
    rows += [("aged", T0 + 12 * DAY + 10 * HOUR + i * 600_000_000, "ka", 300) for i in range(20)]
    rows += [("aged", T0 + 16 * DAY + 22 * HOUR + i * 60_000_000, "ka", 300) for i in range(280)]
    log = _log(rows)
    aged = scan(log).account("aged")
    assert aged.signals["runner_up_day_requests"] == 20 and aged.signals["peak_day_requests"] == 280
    assert aged.signals["burst_recur_p"] == pytest.approx(_binom_sf_exact(280, 300, 10, 11), rel=1e-9)
    assert aged.signals["burst_recur_p"] > 1e-3
    assert aged.signals["dormant_p"] == pytest.approx(_binom_sf_exact(280, 300, 5, 6), rel=1e-9)
    ft = feature_tables(log)
    n = np.asarray(ft.cols["n"], np.float64)
    span = np.asarray(ft.cols["last_us"], np.float64) - np.asarray(ft.cols["first_us"], np.float64)
    _, ev = hidden_signals(ft.cols, n, span, 100.0)
    carriers = [a for a, d in zip(ft.ids, ev["dormant"]) if d > 0]
    assert carriers == ["aged"]
