"""Engine parity: the same Ibis feature definitions on Apache Spark (local mode) and DuckDB.

Tolerances: every account signal within 1e-9 (absolute) and the same flags and campaigns. Spark
hashes with ``xxhash64`` and DuckDB with its own ``hash``; the features exported are counts,
shares and statistics that do not depend on hash values, so they agree exactly up to float
summation order (64-bit hashes make a collision among the fixture's few thousand keys negligible).
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _fixtures_pipeline import make_log  # noqa: E402

from stillwatch.guard.batch.scan import scan  # noqa: E402

pytestmark = pytest.mark.spark


def _require_spark() -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        pytest.skip("pyspark is not installed (install the 'spark' extra)")
    if shutil.which("java") is None:
        pytest.skip("no Java runtime on PATH: Spark local mode needs Java 17")


def _noisy(table: pa.Table) -> tuple[pa.Table, int, dict[str, int]]:
    """The log with null payment fingerprints on half the humans (free tier: nulls must never match
    each other), 7 repeated request ids (retries, later copies) and 5 malformed rows; returns (log,
    valid rows, malformed counts expected)."""
    rows = table.to_pylist()
    for r in rows:
        if r["account_id"].startswith("human-") and int(r["account_id"][-1]) % 2:
            r["payment_fingerprint"] = None
    dups = [dict(rows[i * 97]) for i in range(7)]
    bad = [dict(rows[i * 89], request_id=f"bad-{i}") for i in range(5)]
    for r in bad[:3]:
        r["completion_tokens"] = -1
    for r in bad[3:]:
        r["account_id"] = None
    # the optional columns a gateway records (issue 13), with nulls: request parameters on two rows
    # in three, a system-prompt hash on half the humans, a creation time on the campaign accounts
    created = min(r["ts"] for r in rows) - dt.timedelta(hours=1)
    for i, r in enumerate(rows + dups + bad):
        acct = r["account_id"] or ""
        r["temperature"] = None if i % 3 == 0 else 0.2 * (i % 5)
        r["max_tokens"] = None if i % 3 == 0 else 256 + (i % 7)
        r["system_prompt_hash"] = f"sp-{acct[-1]}" if acct.startswith("human-") and int(acct[-1]) % 2 == 0 else None
        r["account_created_at"] = None if acct.startswith("human-") else created
    fields = [f.with_nullable(True) for f in table.schema] + [
        pa.field("temperature", pa.float64()), pa.field("max_tokens", pa.int64()),
        pa.field("system_prompt_hash", pa.string()),
        pa.field("account_created_at", pa.timestamp("us", tz="UTC"))]
    schema = pa.schema(fields)  # a log as written, nulls and all
    out = pa.Table.from_pylist(rows + dups + bad, schema=schema)
    return out, len(rows), {"negative_count:completion_tokens": 3, "missing_value:account_id": 2,
                            "duplicate_request_id": 7}


def _hidden_signals_log(like: pa.Table) -> pa.Table:
    """Burst, key-rotation, fast sub-stream and crowded-component inputs (people, a burst-then-dormant
    account, a key rotator, nightly batches inside a person's sessions, several-key accounts leaving
    together) and the optional
    ``account_created_at`` column (an aged account first seen at its burst, whose creation time alone gives
    it a baseline; null for the accounts above), moved onto ``like``'s clock and schema with request ids of
    their own (account ids differ from the pipeline log's)."""
    import numpy as np

    from test_guard_optional_columns import burst_rows, with_creation
    from test_guard_signals import DAY, HOUR, T0, _log, _people

    rng = np.random.default_rng(9)
    rows = _people(rng, 40)
    rows += [("burst", T0 + 2 * DAY, "kb", 300)] + [("burst", T0 + 9 * DAY + 22 * HOUR + i * 40_000_000, "kb", 350)
                                                     for i in range(200)]
    rows += [("rotator", T0 + DAY + i * 20_000_000, f"kr-{i // 25}", 300) for i in range(150)]
    # a crowded component: three nightly batches 2 s apart inside a person's ordinary sessions
    rows += [("crowd", T0 + d * DAY + 15 * HOUR + j * 300_000_000, "kc", 300) for d in range(6) for j in range(4)]
    rows += [("crowd", T0 + d * DAY + HOUR + i * 2_000_000, "kc", 300) for d in (1, 3, 5) for i in range(60)]
    # an operator's 25 accounts, three keys each, a few human-paced sessions on days 1-4, then gone
    # (score/grouping.py: several-key accounts leaving together)
    for a in range(25):
        for s in range(3):
            t = T0 + int(rng.integers(1, 4)) * DAY + int(rng.integers(8, 22)) * HOUR
            for j in range(4):
                rows.append((f"keyed-{a:02d}", t, f"kk{a}-{(s + j) % 3}", 400))
                t += int(rng.uniform(90, 400) * 1e6)
    t = with_creation(_log(rows + burst_rows()))
    shift = pc.min(like["ts"].cast(pa.int64())).as_py() - T0
    t = t.set_column(0, "request_id", pa.array([f"h{i:07d}" for i in range(t.num_rows)]))
    for c in ("ts", "account_created_at"):
        t = t.set_column(t.schema.get_field_index(c), c, pc.add(t[c].cast(pa.int64()), shift).cast(like.schema.field(c).type))
    return pa.Table.from_pylist(t.to_pylist(), schema=like.schema)


@pytest.fixture(scope="module")
def parity(tmp_path_factory):
    """One log scanned once by each engine (a Spark scan costs seconds of query planning whatever the rows,
    so every parity check shares it): the pipeline log with nulls, duplicates, malformed rows and the optional
    columns (:func:`_noisy`), the hidden-signal accounts (:func:`_hidden_signals_log`) and two operators that share
    one style suffix and nothing else (``_fixtures_bridge.operator_rows``), and three operators of one family on
public scaffolds and tasks (``_fixtures_communities.family_rows``), and two operators that picked most of the same
    public scaffolds (``_fixtures_exclusive.exclusive_rows``). DuckDB reads the
    Parquet file through its SQL pass; Spark reads the same rows as JSONL in the accepted forms (four timestamp
    forms, whole-number float counts), through ingest. Returns (log, labels of the pipeline accounts, valid
    rows, malformed counts expected, DuckDB findings, Spark findings, labels of the operators' accounts)."""
    _require_spark()
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow.parquet as pq

    from _fixtures_bridge import operator_rows
    from _fixtures_communities import family_rows
    from _fixtures_exclusive import exclusive_rows
    from _fixtures_frames import slot_operator_rows
    from test_guard_accepted_forms import _jsonl

    from stillwatch.guard.batch.scan import ScanConfig, _SparkEngine

    with ThreadPoolExecutor(1) as pool:
        # Spark's JVM (its own process, ~3-4 s to start) comes up while this process builds the log and scans it
        # with DuckDB; the Spark scan below then gets the same session (the engine's builder is getOrCreate)
        session = pool.submit(_SparkEngine, ScanConfig())
        clean, labels = make_log(seed=11, n_human=15, camp_a=6, camp_b=5)
        noisy, n_valid, malformed = _noisy(clean)
        hidden = _hidden_signals_log(noisy)
        ops, op_labels = operator_rows(noisy.schema)
        fam, fam_labels = family_rows(noisy.schema)
        slot, slot_ids = slot_operator_rows(noisy.schema, n_accounts=4)
        ex, ex_labels = exclusive_rows(noisy.schema)
        ops = pa.concat_tables([ops, fam, slot, ex])
        op_labels = {**op_labels, **fam_labels, **{a: "S" for a in slot_ids}, **ex_labels}
        table = pa.concat_tables([noisy, hidden, ops])
        tmp = tmp_path_factory.mktemp("parity")
        pq.write_table(table, tmp / "log.parquet")
        duck = scan(tmp / "log.parquet", engine="duckdb")
        session.result()
    spark = scan(_jsonl(table, tmp / "log.jsonl", fractional_row=False), engine="spark")
    return table, labels, n_valid + hidden.num_rows + ops.num_rows, malformed, duck, spark, op_labels


def test_spark_scan_leaves_no_view_or_cache_behind(parity):
    """The shared session outlives a scan; the scan's temporary views and their caches do not (before, a long-lived
    process kept every scan's cached tables)."""
    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession()
    assert spark is not None
    left = [t.name for t in spark.catalog.listTables() if t.isTemporary and t.name.startswith("sw_")]
    assert left == []


def test_spark_and_duckdb_agree(parity):
    """Every account signal, score, flag and campaign (signals included: the null-model links,
    timing links among them) on a log with nulls, duplicates, malformed rows and the optional
    columns."""
    table, labels, n_valid, malformed, duck, spark, _ = parity
    assert spark.engine == "spark" and duck.engine == "duckdb"
    assert spark.n_rows == duck.n_rows == n_valid
    assert dict(spark.malformed) == dict(duck.malformed) == malformed
    # a null payment fingerprint never matches another null (the camp-b accounts and half the humans)
    no_card = {r["account_id"] for r in table.to_pylist() if r["payment_fingerprint"] is None and r["account_id"]}
    assert len(no_card) >= 10
    for f in (duck, spark):
        assert all(f.account(a).signals["shared_payment"] == 0 for a in no_card)
    d = {a.account_id: a for a in duck.accounts}
    s = {a.account_id: a for a in spark.accounts}
    assert set(d) == set(s) == {a for a in table["account_id"].to_pylist() if a}
    assert set(labels) <= set(d)
    for k in d:
        assert s[k].flagged == d[k].flagged, k
        assert s[k].campaign_id == d[k].campaign_id, k
        assert s[k].fired == d[k].fired, k
        assert s[k].score == pytest.approx(d[k].score, abs=1e-9), k
        assert set(s[k].signals) == set(d[k].signals), k
        for name, value in d[k].signals.items():
            assert s[k].signals[name] == pytest.approx(value, abs=1e-9), (k, name)
    # the exact repeats (distinct prompts as sent, after the duplicate request ids are dropped) are
    # among the signals compared above, and some accounts do repeat (the comparison is not vacuous)
    assert sum(a.signals["repeated_rows"] > 0 for a in duck.accounts) >= 2
    # ... and the re-sent rows (every sending of a prompt sent more than once; score/repetition.py)
    assert sum(a.signals["resent_rows"] > a.signals["repeated_rows"] for a in duck.accounts) >= 2
    assert sorted(c.accounts for c in spark.campaigns) == sorted(c.accounts for c in duck.campaigns)
    # every campaign signal agrees too, the null-model link strength included (issue 13), and the
    # pipeline log's planted campaigns are tied together by null-model links (so the comparison is not vacuous)
    dc = {c.accounts: c for c in duck.campaigns}
    for c in spark.campaigns:
        assert c.score == pytest.approx(dc[c.accounts].score, abs=1e-9)
        for name, value in dc[c.accounts].signals.items():
            assert c.signals[name] == pytest.approx(value, abs=1e-9), (c.campaign_id, name)
        if set(c.accounts) <= set(labels):
            assert c.signals["link_strength"] > 2.0 and c.signals["linked_share"] == 1.0
    # and both find the planted campaigns (and no other account of the pipeline log)
    assert {a.account_id for a in spark.flagged if a.account_id in labels} == {a for a, c in labels.items() if c}


def test_spark_and_duckdb_agree_on_the_hidden_signals_and_creation_times(parity):
    """The hidden-signal inputs (burst, key rotation, fast sub-stream, crowded component, dormancy) to 1e-12
    on both engines, and each planted habit is there to compare (so the comparison is not vacuous)."""
    _, _, _, _, duck, spark, _ = parity
    d = {a.account_id: a for a in duck.accounts}
    s = {a.account_id: a for a in spark.accounts}
    for k in d:
        for name in ("peak_day_requests", "baseline_days", "burst_p", "peak_hour_multiple", "api_keys", "key_rotations",
                     "key_rotation_p", "fast_share", "fast_expected", "fast_p", "fast_hours", "burst_multiple",
                     "crowded_hours", "crowd_p", "component_rows", "component_novelty", "component_hours",
                     "observed_days", "dormant_p", "key_order_p", "key_day_order_p"):
            assert s[k].signals[name] == pytest.approx(d[k].signals[name], rel=1e-12, abs=1e-12), (k, name)
    assert d["rotator"].signals["key_rotations"] == 5 and d["burst"].signals["peak_day_requests"] == 200
    # the rotator's six keys one after the other: an order far from exchangeable
    assert d["rotator"].signals["key_order_p"] < 1e-6
    assert d["crowd"].signals["crowded_hours"] == 3 and d["crowd"].signals["component_rows"] == 180
    assert "burst" in d["aged"].fired  # its creation time gave it a baseline (without: burst_p is 1)


def test_sample_key_same_on_spark_as_in_python():
    _require_spark()
    import ibis
    import pyarrow as pa

    from stillwatch.guard.features.tables import sample_key, sample_key_py
    from stillwatch.guard.batch.scan import ScanConfig, _SparkEngine

    ids = ["r0000001", "r0000002", "", "ÜBER-straße-7", "x" * 300]
    eng = _SparkEngine(ScanConfig())
    t = eng.put("sk", pa.table({"rid": ids}))
    got = t.select(k=sample_key(t.rid, "spark")).to_pyarrow()["k"].to_pylist()
    assert got == [sample_key_py(x) for x in ids]
    assert ibis.duckdb.connect().execute(ibis.memtable({"rid": ids}).select(
        k=sample_key(ibis._.rid, "duckdb")))["k"].tolist() == got


def test_active_minutes_same_on_spark_as_on_duckdb():
    """The synchronised-timing links' input (score/timing.py): each account's distinct active
    minutes, the same integer minute index on both engines (no hash values)."""
    _require_spark()
    import ibis

    from stillwatch.guard.batch.scan import ScanConfig, _SparkEngine
    from stillwatch.guard.score.timing import MINUTE_US

    ts = [0, 59_999_999, 60_000_000, 1_764_000_000_123_456, 1_764_000_059_999_999, 1_764_000_060_000_000]
    data = pa.table({"account_id": ["a", "a", "a", "b", "b", "b"], "ts_us": pa.array(ts, pa.int64())})
    eng = _SparkEngine(ScanConfig())
    t = eng.put("am", data)
    got = sorted(t.select("account_id", minute=t.ts_us // MINUTE_US).distinct().to_pyarrow().to_pylist(),
                 key=lambda r: (r["account_id"], r["minute"]))
    m = ibis.memtable(data)
    duck = sorted(ibis.duckdb.connect().execute(m.select("account_id", minute=m.ts_us // MINUTE_US).distinct())
                  .to_dict("records"), key=lambda r: (r["account_id"], r["minute"]))
    want = sorted({(a, x // MINUTE_US) for a, x in zip(data["account_id"].to_pylist(), ts)})
    assert [(r["account_id"], r["minute"]) for r in got] == want
    assert [(r["account_id"], int(r["minute"])) for r in duck] == want


def test_spark_and_duckdb_split_three_campaigns_of_one_family(parity):
    """The community split (score/communities.py: spectrum of the canonical account-key graph, rewiring
    draws from one seeded generator) gives the same campaigns on both engines (scores and signals:
    :func:`test_spark_and_duckdb_agree`), and it does split the three operators (not vacuous)."""
    _, _, _, _, duck, spark, op_labels = parity
    for f in (duck, spark):
        for op in ("P", "Q", "R"):
            assert {f.account(a).campaign_id for a, c in op_labels.items() if c == op} == {f"campaign-op-{op.lower()}-00"}


def test_spark_and_duckdb_cut_two_campaigns_by_their_exclusive_keys(parity):
    """The exclusive-key split (score/exclusive.py: co-use counts on the canonical account-key graph, no
    randomness) gives the same campaigns on both engines (scores and signals: :func:`test_spark_and_duckdb_agree`),
    and it does cut the two operators that share eight of their ten scaffolds (not vacuous: without the rule they
    are one campaign, tests/guard/test_guard_exclusive.py)."""
    _, _, _, _, duck, spark, op_labels = parity
    for f in (duck, spark):
        for op in ("X", "Y"):
            assert {f.account(a).campaign_id for a, c in op_labels.items() if c == "E" + op} == {f"campaign-ex-{op.lower()}-00"}


def test_spark_and_duckdb_split_two_campaigns_at_their_shared_suffix(parity):
    """The bridge split (score/bridge.py: a rewiring test with a seeded generator over a canonical edge
    order) gives the same campaigns on both engines (scores and signals: :func:`test_spark_and_duckdb_agree`),
    and it does split the two operators that share one suffix (not vacuous)."""
    _, _, _, _, duck, spark, op_labels = parity
    for f in (duck, spark):
        for op in ("X", "Y"):
            assert {f.account(a).campaign_id for a, c in op_labels.items() if c == op} == {f"campaign-op-{op.lower()}-00"}


def test_spark_and_duckdb_group_several_key_accounts_leaving_together(parity):
    """The several-key departure groups (score/grouping.py; exact key counts, last requests and active
    hours) are the same on both engines (scores and campaigns: :func:`test_spark_and_duckdb_agree`), and
    the operator's accounts are grouped (not vacuous)."""
    _, _, _, _, duck, spark, _ = parity
    for f in (duck, spark):
        keyed = [a for a in f.accounts if a.account_id.startswith("keyed-")]
        assert len(keyed) == 25 and all(a.flagged for a in keyed)
        # their keys side by side: the key-order test does not reject an exchangeable order (carriers)
        assert all(a.signals["key_order_p"] >= 1e-3 for a in keyed)
        groups = [c for c in f.campaigns if {"keys_departure", "keys_arrival", "keys_last_seen"} & set(c.fired)]
        assert len(groups) == 1 and {a.account_id for a in keyed} <= set(groups[0].accounts)
    dg = [c for c in duck.campaigns if {"keys_departure", "keys_arrival", "keys_last_seen"} & set(c.fired)][0]
    sg = [c for c in spark.campaigns if {"keys_departure", "keys_arrival", "keys_last_seen"} & set(c.fired)][0]
    assert dg.accounts == sg.accounts and dg.fired == sg.fired
    assert sg.signals["group_p"] == pytest.approx(dg.signals["group_p"], rel=1e-12)


def test_spark_and_duckdb_link_a_slot_template_by_its_frame(parity):
    """Template frames (features/frames.py: affixes hashed on each engine, frames found from their
    lengths and counts) link the same accounts on both engines (every score and campaign:
    :func:`test_spark_and_duckdb_agree`), and they do link the slot operator (not vacuous: on main its
    four accounts stay apart)."""
    _, _, _, _, duck, spark, op_labels = parity
    for f in (duck, spark):
        assert {f.account(a).campaign_id for a, c in op_labels.items() if c == "S"} == {"campaign-slot-00"}


def test_affixes_same_on_spark_as_in_python():
    """Affix lengths equal to Python's on Spark, and equal affixes hash equal (the values are Spark's own)."""
    _require_spark()
    import hashlib

    from stillwatch.guard.batch.scan import ScanConfig, _SparkEngine
    from stillwatch.guard.features.frames import FRAME_WORDS, affix_py, affix_table

    prompts = ["q: what does the parser return for an empty list? a: let's think step by step.",
               "explain recursion", "x  y", "a b c d", "a b x d", "z b c d", "über straße 7 ende"]
    eng = _SparkEngine(ScanConfig())
    t = eng.put("aff", pa.table({"norm": prompts}))
    got = sorted(affix_table(t, "spark", ("norm",)).to_pyarrow().to_pylist(), key=lambda r: prompts.index(r["norm"]))

    def h(s):
        return int.from_bytes(hashlib.md5(s.encode()).digest()[:8], "little")

    for row, p in zip(got, prompts):
        hs, ls, _ = affix_py(p, h)
        for j in range(2 * FRAME_WORDS):
            side, n = ("p" if j < FRAME_WORDS else "s"), j % FRAME_WORDS + 1
            assert row[f"{side}_l{n}"] == ls[j], (p, side, n)
            assert (row[f"{side}_h{n}"] is None) == (hs[j] == 0), (p, side, n)
    assert got[3]["p_h1"] == got[4]["p_h1"] != got[5]["p_h1"]
    assert got[3]["s_h2"] == got[5]["s_h2"] != got[4]["s_h2"]


def test_frames_on_spark_match_the_reference():
    """frame_table on Spark (features/frames.py) finds the frames of the naive reference of
    test_guard_frames_engine.py on its fixture (wrappers, phrases, slot templates, nulls, duplicates):
    the same prompts, and a shared key exactly where the frame is shared — as DuckDB does there."""
    _require_spark()
    from test_guard_frames_engine import _same_partition, engine_frames, fixture_rows, reference_frames

    from stillwatch.guard.batch.scan import ScanConfig, _SparkEngine

    eng = _SparkEngine(ScanConfig())
    rows = fixture_rows()
    _same_partition(engine_frames(eng, rows, eng.put), reference_frames(rows))


def test_key_order_columns_same_on_spark_as_on_duckdb_and_the_reference():
    """The key-order tests' inputs (features/tables.py ``key_switches``, ``day_*``, ``key_rows``, ``key_f*``) on a narrow
    keys table: ties at one instant on different keys (ordered by sampling key, the same on both engines where
    a key's hash is not), and a key of 120,000 rows whose (c)_4 ~ 2e20 is past float64's exact integers (the
    decimal sums must still round to the exact value's nearest float on both engines)."""
    _require_spark()
    import ibis

    from stillwatch.guard.batch.scan import ScanConfig, _SparkEngine
    from stillwatch.guard.features.tables import account_keys, account_volume

    rows = [("a", 100, 7, 11), ("a", 100, 3, 12), ("a", 100, 9, 11), ("a", 200, 1, 12), ("a", 300, 2, 11),
            ("b", 10, 1, 21), ("b", 20, 2, 21), ("b", 30, 3, 22), ("b", 40, 4, 22), ("b", 50, 5, 21)]
    rows += [("c", 1_000 + i, 10_000 + i, 31) for i in range(120_000)] + [("c", 500, 1, 32), ("c", 501, 2, 32),
                                                                          ("c", 200_000, 3, 32)]
    # d's gaps: 1 h, exactly 6 h (not within a day of work), 1 s, 1 s, 13 h; keys 41 42 42 41 41 42
    h = 3_600_000_000
    rows += [("d", 0, 1, 41), ("d", h, 2, 42), ("d", 7 * h, 3, 42), ("d", 7 * h + 10**6, 4, 41),
             ("d", 7 * h + 2 * 10**6, 5, 41), ("d", 20 * h + 2 * 10**6, 6, 42)]
    data = pa.table({"account_id": [r[0] for r in rows], "ts_us": pa.array([r[1] for r in rows], pa.int64()),
                     "human_s": pa.array([5.0] * len(rows)), "skey": pa.array([r[2] for r in rows], pa.int64()),
                     "api_key": pa.array([r[3] for r in rows], pa.int64()),
                     "created_us": pa.array([None] * len(rows), pa.int64()),
                     "prompt_raw": pa.array([r[2] for r in rows], pa.int64())})
    # the reference: a's rows in (time, sampling key) order are keys 12 11 11 12 11 (3 switches); b: 21 21 22 22 21
    # (2); c: 32 32 then 120,000 on 31, then 32 (2)
    # (d: 3 switches; within a day of work, the pairs 1 h, 1 s, 1 s apart: 3, two of them switching, and one
    # chained pair of them — the last two; every other account's rows lie within one day)
    want = {"a": (3, 5, [3, 2]), "b": (2, 5, [3, 2]), "c": (2, 120_003, [120_000, 3]), "d": (3, 6, [3, 3])}
    want_day = {"a": (4, 3, 3), "b": (4, 3, 2), "c": (120_002, 120_001, 2), "d": (3, 1, 2)}

    def cols(t):
        v = account_volume(t).select("account_id", "key_switches", "day_pairs", "day_chained", "day_switches")
        k = account_keys(t).select("account_id", "key_rows", "key_f2", "key_f3", "key_f4", "key_f2sq")
        return v, k

    eng = _SparkEngine(ScanConfig())
    t = eng.put("ko", data)
    con = ibis.duckdb.connect()
    m = ibis.memtable(data)
    for got_v, got_k in ((x.to_pyarrow() for x in cols(t)), (con.to_pyarrow(x) for x in cols(m))):
        sw = dict(zip(got_v["account_id"].to_pylist(), got_v["key_switches"].to_pylist()))
        day = {r["account_id"]: (r["day_pairs"], r["day_chained"], r["day_switches"]) for r in got_v.to_pylist()}
        ks = {r["account_id"]: r for r in got_k.to_pylist()}
        for acct, (switches, n_rows, counts) in want.items():
            assert sw[acct] == switches, acct
            assert day[acct] == want_day[acct], acct
            assert ks[acct]["key_rows"] == n_rows, acct
            exact = (sum(c * (c - 1) for c in counts), sum(c * (c - 1) * (c - 2) for c in counts),
                     sum(c * (c - 1) * (c - 2) * (c - 3) for c in counts), sum((c * (c - 1)) ** 2 for c in counts))
            for name, value in zip(("key_f2", "key_f3", "key_f4", "key_f2sq"), exact):
                assert ks[acct][name] == float(value), (acct, name)
