"""The key-order test (core/runs.py; score/signals.py ``key_order_p``) and what it changes in the grouping.

Layers: the moments of the repeats against every arrangement of small multisets (a naive reference written
here); the p-value's calibration under its null (exchangeable orders) and its power against keys used one at
a time; the exact feature-table columns on DuckDB against a per-row reference (ties, blocks, interleaving);
the live scorer's columns equal to the batch's; and the grouping's carriers: developers who work through
one key a day are not carriers, an operator spreading each account's requests over its keys is."""

from __future__ import annotations

import itertools

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stillwatch.core.runs import clustered_p, label_moments, repeat_moments

HOUR = 3_600_000_000
DAY = 24 * HOUR
T0 = 1_760_000_000_000_000


def _exact_repeats(counts) -> tuple[float, float]:
    """Mean and variance of the adjacent repeats over every distinct arrangement of the multiset (each
    arrangement equally likely: the exchangeable null), by enumeration."""
    seq = [i for i, c in enumerate(counts) for _ in range(c)]
    reps = np.array([sum(p[j] == p[j + 1] for j in range(len(p) - 1)) for p in set(itertools.permutations(seq))],
                    np.float64)
    return float(reps.mean()), float(reps.var())


def _moments(counts):
    c = np.asarray(counts)
    f2, f3, f4, f2sq = label_moments(c, np.zeros(len(c), np.int64), 1)
    return repeat_moments(c.sum(), f2, f3, f4, f2sq)


@pytest.mark.parametrize("counts", [(2, 2), (3, 2), (3, 3, 1), (4, 2, 2), (1, 1, 1, 1), (5, 3), (2, 2, 2, 2),
                                    (6, 1, 1), (4, 4)])
def test_moments_equal_the_enumeration_of_every_arrangement(counts):
    mean, var = _moments(counts)
    em, ev = _exact_repeats(counts)
    assert float(mean[0]) == pytest.approx(em, abs=1e-12)
    assert float(var[0]) == pytest.approx(ev, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=2, max_size=4).filter(lambda c: 4 <= sum(c) <= 8))
def test_moments_equal_the_enumeration_property(counts):
    mean, var = _moments(counts)
    em, ev = _exact_repeats(counts)
    assert float(mean[0]) == pytest.approx(em, abs=1e-9)
    assert float(var[0]) == pytest.approx(ev, abs=1e-9)


def _exact_subset_repeats(counts, pairs) -> tuple[float, float]:
    """As :func:`_exact_repeats`, counting only the adjacent pairs ``pairs`` (pair j: positions j, j + 1)."""
    seq = [i for i, c in enumerate(counts) for _ in range(c)]
    reps = np.array([sum(p[j] == p[j + 1] for j in pairs) for p in set(itertools.permutations(seq))], np.float64)
    return float(reps.mean()), float(reps.var())


@pytest.mark.parametrize("counts,pairs", [((3, 2), (0, 1, 3)), ((3, 3, 1), (0, 2, 3, 5)), ((4, 2, 2), (1,)),
                                          ((2, 2, 2, 2), (0, 1, 2, 4, 5)), ((5, 3), (0, 3, 6)), ((4, 4), ()),
                                          ((3, 2, 2), (0, 1, 2, 3, 4, 5))])
def test_subset_moments_equal_the_enumeration_of_every_arrangement(counts, pairs):
    """The repeats over a subset of the adjacent pairs (those within a day of work): ``m`` pairs, ``s`` of the
    ordered pairs of them sharing a position (consecutive pair indices), against every arrangement."""
    c = np.asarray(counts)
    f2, f3, f4, f2sq = label_moments(c, np.zeros(len(c), np.int64), 1)
    s = sum(1 for j in pairs if j + 1 in pairs)
    mean, var = repeat_moments(c.sum(), f2, f3, f4, f2sq, pairs=len(pairs), chained=s)
    em, ev = _exact_subset_repeats(counts, pairs)
    assert float(mean[0]) == pytest.approx(em, abs=1e-12)
    assert float(var[0]) == pytest.approx(ev, abs=1e-12)


def test_known_answers_and_where_the_test_cannot_speak():
    # two labels, two each: arrangements AABB ABAB ABBA BAAB BABA BBAA hold 2, 0, 1, 1, 0, 2 repeats
    mean, var = _moments((2, 2))
    assert float(mean[0]) == 1.0 and float(var[0]) == pytest.approx(2 / 3)
    f2, f3, f4, f2sq = label_moments(np.array([5, 3]), np.zeros(2, np.int64), 1)
    # one label (no order to test), three rows (too few), a sequence with every order the same
    one = label_moments(np.array([9]), np.zeros(1, np.int64), 1)
    assert clustered_p(8, 9, *one)[0] == 1.0
    three = label_moments(np.array([2, 1]), np.zeros(2, np.int64), 1)
    assert clustered_p(1, 3, *three)[0] == 1.0
    # AAAAABBB (6 repeats, the most there can be) against E = 3.25, Var = 1.4732: z = (6 - .5 - 3.25) / 1.2138
    from scipy import stats
    p = clustered_p(6, 8, f2, f3, f4, f2sq)[0]
    assert p == pytest.approx(stats.norm.sf((6 - 0.5 - 3.25) / np.sqrt(1.4732142857142858)), rel=1e-9)


def test_label_moments_per_owner_equal_a_loop():
    rng = np.random.default_rng(0)
    owner = np.sort(rng.integers(0, 30, 200))
    counts = rng.integers(1, 5000, 200)
    got = label_moments(counts, owner, 30)
    for o in range(30):
        c = [int(x) for x in counts[owner == o]]  # Python integers: exact
        want = (sum(x * (x - 1) for x in c), sum(x * (x - 1) * (x - 2) for x in c),
                sum(x * (x - 1) * (x - 2) * (x - 3) for x in c), sum((x * (x - 1)) ** 2 for x in c))
        for g, w in zip(got, want):
            assert g[o] == pytest.approx(float(w), rel=1e-12)


def _sequence_stats(lab: np.ndarray, k: int):
    """Per row of ``lab`` (R x n labels in 0..k-1): repeats and the moment sums, vectorised."""
    reps = (lab[:, 1:] == lab[:, :-1]).sum(1)
    cnt = np.stack([(lab == i).sum(1) for i in range(k)], 1).astype(np.float64)
    c2 = cnt * (cnt - 1)
    return reps, (c2.sum(1), (c2 * (cnt - 2)).sum(1), (c2 * (cnt - 2) * (cnt - 3)).sum(1), (c2 * c2).sum(1))


@pytest.mark.parametrize("n,k", [(20, 2), (20, 4), (45, 3), (45, 5), (100, 2), (200, 3)])
def test_calibration_under_an_exchangeable_order(n, k):
    """Labels drawn independently per row (a client spreading its requests over its keys): the share of
    p-values <= 1e-3 stays below 2e-3 and <= 1e-2 below 1.3e-2 (the normal tail is close; 40,000 sequences
    per shape, so 2e-3 is ~3 standard errors above the nominal 1e-3)."""
    rng = np.random.default_rng(n * 10 + k)
    lab = rng.integers(0, k, (40_000, n))
    reps, f = _sequence_stats(lab, k)
    p = clustered_p(reps, np.full(len(reps), n), *f)
    assert np.mean(p <= 1e-3) <= 2e-3
    assert np.mean(p <= 1e-2) <= 1.3e-2
    # and not degenerate: the p-values spread over (0, 1] (a median near one half)
    assert 0.3 <= float(np.median(p)) <= 0.8


def test_power_against_keys_used_one_at_a_time():
    """A developer's 2-4 keys, a key a working day: 3-10 requests a day over 10 days, each day's key drawn
    at random among its keys. Rejected at 1e-3 in >= 90 % of 2,000 such accounts (> 30 requests);
    requests on one key per session of ~5 within a day, the same."""
    rng = np.random.default_rng(1)
    rejected = []
    for per_session in (False, True):
        for _ in range(1000):
            k = int(rng.integers(2, 5))
            days = rng.integers(3, 11, 10)
            if per_session:  # sessions of ~5 requests, a key each
                sizes = np.concatenate([rng.multinomial(d, np.ones(max(d // 5, 1)) / max(d // 5, 1)) for d in days])
            else:
                sizes = days
            lab = np.repeat(rng.integers(0, k, len(sizes)), sizes)[None, :]
            reps, f = _sequence_stats(lab, k)
            rejected.append(clustered_p(reps, np.array([lab.shape[1]]), *f)[0] <= 1e-3)
    assert np.mean(rejected) >= 0.9


def test_the_signal_reads_rows_without_a_key_as_a_label_of_their_own():
    """key_order_p from the account table's columns: rows without a key are one more label (their falling
    factorials added to the keys' sums), and a table without the columns leaves the test silent."""
    from stillwatch.guard.score.signals import key_order_p

    # 12 rows: 4 on key a, 4 on key b, 4 without a key, in blocks (AAAA BBBB ----): 9 repeats of 11
    counts = np.array([4, 4])
    f2, f3, f4, f2sq = label_moments(counts, np.zeros(2, np.int64), 1)
    acc = {"n": np.array([12.0]), "key_switches": np.array([2.0]), "key_rows": np.array([8.0]),
           "key_f2": f2, "key_f3": f3, "key_f4": f4, "key_f2sq": f2sq}
    want = clustered_p(9, 12, *label_moments(np.array([4, 4, 4]), np.zeros(3, np.int64), 1))
    assert key_order_p(acc)[0] == pytest.approx(want[0], rel=1e-12)
    assert key_order_p(acc)[0] < 1e-3
    assert key_order_p({"n": np.array([12.0])})[0] == 1.0


def _day_stats(lab: np.ndarray, in_day: np.ndarray, k: int):
    """Per row of ``lab`` (R x n labels) with ``in_day`` (R x n - 1: pair j within a day of work): the repeats
    over those pairs, their number, the chained pairs, and the moment sums."""
    rep = lab[:, 1:] == lab[:, :-1]
    _, f = _sequence_stats(lab, k)
    return (rep & in_day).sum(1), in_day.sum(1), (in_day[:, 1:] & in_day[:, :-1]).sum(1), f


@pytest.mark.parametrize("n,k,share", [(20, 2, 0.5), (45, 3, 0.7), (45, 5, 0.3), (100, 2, 0.8), (30, 4, 0.9)])
def test_day_test_calibration_under_an_exchangeable_order(n, k, share):
    """The within-day test (score/signals.py ``key_day_order_p``) under its null: labels drawn independently per
    row, a share of the adjacent pairs within a day (in runs, as days are); p <= 1e-3 at most 2e-3 of 40,000."""
    rng = np.random.default_rng(n + 7 * k)
    lab = rng.integers(0, k, (40_000, n))
    in_day = rng.random((40_000, n - 1)) < share
    reps, m, s, f = _day_stats(lab, in_day, k)
    p = clustered_p(reps, np.full(len(reps), n), *f, pairs=m, chained=s)
    assert np.mean(p <= 1e-3) <= 2e-3
    assert np.mean(p <= 1e-2) <= 1.3e-2


def test_day_test_rejects_a_key_a_day_that_the_whole_order_does_not():
    """A developer on two keys, a project a day: 12 days of two requests each, the keys alternating by day. Over
    the whole order its 11 switches are what an exchangeable order gives (p > 0.3: not rejected), within its days
    it never switches (12 pairs, 0 switches): rejected at 1e-3. A client drawing a key per request is rejected by
    neither."""
    lab = np.repeat(np.arange(12) % 2, 2)[None, :]
    in_day = np.zeros((1, 23), bool)
    in_day[0, 0::2] = True  # the two requests of each day
    reps, m, s, f = _day_stats(lab, in_day, 2)
    whole = clustered_p((lab[:, 1:] == lab[:, :-1]).sum(1), np.array([24]), *f)
    day = clustered_p(reps, np.array([24]), *f, pairs=m, chained=s)
    assert (int(reps[0]), int(m[0]), int(s[0])) == (12, 12, 0)
    assert whole[0] > 0.3 and day[0] < 1e-3
    rng = np.random.default_rng(5)
    lab = rng.integers(0, 2, (2000, 24))
    reps, m, s, f = _day_stats(lab, np.broadcast_to(in_day, (2000, 23)), 2)
    assert np.mean(clustered_p(reps, np.full(2000, 24), *f, pairs=m, chained=s) <= 1e-3) <= 5e-3


# ------------------------------------------------------------------- the feature tables, batch and live
def _keyed_log() -> pa.Table:
    """Accounts with ties (two rows at one instant, on different keys where the account has several, with different
    answer lengths: ties are ordered by sampling key, not by reading time), blocks and interleaving, and rows sent
    faster than their previous answer reads (the log schema requires a key on every row: a row without one is
    malformed)."""
    rng = np.random.default_rng(3)
    rows = []
    for a in range(12):
        n = int(rng.integers(5, 60))
        ts = T0 + np.sort(rng.integers(0, 5 * DAY, n))
        if a % 3 == 0:
            ts[1] = ts[0]  # a tie
        if a % 4 == 1:
            ts[n // 2: n // 2 + 6] = ts[n // 2] + np.arange(6) * 20_000_000  # six rows 20 s apart: some fast
        tokens = rng.integers(20, 600, n)
        keys = [f"k{a}_{int(rng.integers(0, 1 + a % 4))}" for _ in range(n)]
        if a % 5 == 0:  # blocks: a key a day
            keys = [f"k{a}_{int((t - T0) // DAY) % 3}" for t in ts]
        for i, (t, k) in enumerate(zip(ts, keys)):
            rows.append({"request_id": f"r{a}_{i}", "ts": int(t), "account_id": f"acct{a:02d}", "api_key_id": k,
                         "ip": "10.0.0.1", "user_agent": "ua", "payment_fingerprint": None, "model": "m",
                         "prompt": f"prompt {a} {i}", "response": "answer", "prompt_tokens": 5,
                         "completion_tokens": int(tokens[i])})
    t = pa.Table.from_pylist(rows)
    return t.set_column(t.schema.get_field_index("ts"), "ts", pa.array(t["ts"].to_numpy().astype("datetime64[us]")))


def _reference(log: pa.Table) -> dict[str, dict[str, float]]:
    """Per account, from the rows: switches along (time, sampling key: md5 of the request id, as documented
    for ties) and the key sums."""
    out = {}
    acc = np.asarray(log["account_id"].to_pylist())
    ts = log["ts"].cast(pa.int64()).to_numpy()
    key = log["api_key_id"].to_pylist()
    rid = log["request_id"].to_pylist()
    # the reading time an answer demands: features/rates.py HumanRate's defaults (5 s a prompt, 0.75 words a token
    # read at 238 words a minute)
    read_s = [5.0 + t * 0.75 * 60 / 238 for t in log["completion_tokens"].to_pylist()]
    for a in sorted(set(acc)):
        idx = [i for i in range(len(acc)) if acc[i] == a]
        idx.sort(key=lambda i: (ts[i], _skey(rid[i])))
        labels = [key[i] for i in idx]
        fast = [j for i, j in zip(idx, idx[1:]) if ts[j] - ts[i] < read_s[i] * 1e6]  # sent before the last read
        sw = sum(x != y for x, y in zip(labels, labels[1:]))
        in_day = [ts[j] - ts[i] < 6 * HOUR for i, j in zip(idx, idx[1:])]  # features/tables.py WORKDAY_GAP_US
        day = {"day_pairs": sum(in_day), "day_chained": sum(x and y for x, y in zip(in_day, in_day[1:])),
               "day_switches": sum(d and x != y for d, x, y in zip(in_day, labels, labels[1:]))}
        cnt = {}
        for k in labels:
            if k is not None:
                cnt[k] = cnt.get(k, 0) + 1
        c = list(cnt.values())
        out[a] = {"key_switches": sw, "key_rows": sum(c), "key_f2": sum(x * (x - 1) for x in c),
                  "key_f3": sum(x * (x - 1) * (x - 2) for x in c),
                  "key_f4": sum(x * (x - 1) * (x - 2) * (x - 3) for x in c), "key_f2sq": sum((x * (x - 1)) ** 2 for x in c),
                  "fast_n": len(fast), "fast_s": sum(read_s[j] for j in fast), **day}
    return out


def _skey(request_id: str) -> int:
    """The sampling key from its definition: md5's first 8 bytes little-endian, modulo 2^60."""
    import hashlib

    return int.from_bytes(hashlib.md5(request_id.encode()).digest()[:8], "little") % (1 << 60)


COLS = ("key_switches", "key_rows", "key_f2", "key_f3", "key_f4", "key_f2sq", "day_pairs", "day_chained", "day_switches",
        "fast_n")


def test_feature_table_columns_equal_a_per_row_reference():
    from stillwatch.guard.batch.scan import feature_tables

    log = _keyed_log()
    ft = feature_tables(log)
    ref = _reference(log)
    assert list(ft.ids) == sorted(ref)
    for i, a in enumerate(ft.ids):
        for c in COLS:
            assert float(ft.cols[c][i]) == float(ref[a][c]), (a, c)
        assert float(ft.cols["fast_s"][i]) == pytest.approx(ref[a]["fast_s"], rel=1e-12), a
    # not vacuous: ties whose two rows demand different reading times, and fast rows
    assert sum(ref[a]["fast_n"] for a in ref) >= 10


def test_live_scorer_columns_equal_the_batch():
    from stillwatch.guard.batch.scan import feature_tables
    from stillwatch.guard.live.stream import StreamConfig, StreamingScorer
    from stillwatch.guard.live.tables import account_tables

    log = _keyed_log()
    # the live order of a tie is its arrival order; the batch orders ties by sampling key: feed ties in that order
    ft = feature_tables(log)
    rows = sorted(log.to_pylist(), key=lambda r: (r["ts"], _skey(r["request_id"])))
    scorer = StreamingScorer(StreamConfig())
    for r in rows:
        scorer.observe(r)
    ids, acc, _ = account_tables(scorer._acc, scorer.cfg)
    pos = {a: i for i, a in enumerate(ids)}
    for i, a in enumerate(ft.ids):
        for c in COLS:
            assert float(acc[c][pos[a]]) == float(ft.cols[c][i]), (a, c)
