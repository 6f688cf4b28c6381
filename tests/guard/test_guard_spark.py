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
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _fixtures_pipeline import make_log  # noqa: E402

from stillwatch.guard.batch.scan import scan  # noqa: E402
from stillwatch.guard.log.ingest import read_log  # noqa: E402
from test_guard_accepted_forms import _encodings, _summary, reference  # noqa: E402,F401  (fixture)

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


def test_spark_and_duckdb_agree(tmp_path):
    """Every account signal, score, flag and campaign (signals included: the null-model links,
    timing links among them) on a log with nulls, duplicates, malformed rows and the optional
    columns."""
    _require_spark()
    import pyarrow.parquet as pq

    clean, labels = make_log(seed=11, n_human=15, camp_a=6, camp_b=5)
    table, n_valid, malformed = _noisy(clean)
    pq.write_table(table, tmp_path / "noisy.parquet")  # DuckDB: the SQL pass; Spark: ingest
    duck = scan(tmp_path / "noisy.parquet", engine="duckdb")
    spark = scan(tmp_path / "noisy.parquet", engine="spark")
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
    assert set(d) == set(s) == set(labels)
    for k in d:
        assert s[k].flagged == d[k].flagged, k
        assert s[k].campaign_id == d[k].campaign_id, k
        assert s[k].score == pytest.approx(d[k].score, abs=1e-9), k
        for name, value in d[k].signals.items():
            assert s[k].signals[name] == pytest.approx(value, abs=1e-9), (k, name)
    # the exact repeats (distinct prompts as sent, after the duplicate request ids are dropped) are
    # among the signals compared above, and some accounts do repeat (the comparison is not vacuous)
    assert sum(a.signals["repeated_rows"] > 0 for a in duck.accounts) >= 2
    assert sorted(c.accounts for c in spark.campaigns) == sorted(c.accounts for c in duck.campaigns)
    # every campaign signal agrees too, the null-model link strength included (issue 13), and the
    # planted campaigns are tied together by null-model links (so the comparison is not vacuous)
    dc = {c.accounts: c for c in duck.campaigns}
    for c in spark.campaigns:
        assert c.score == pytest.approx(dc[c.accounts].score, abs=1e-9)
        for name, value in dc[c.accounts].signals.items():
            assert c.signals[name] == pytest.approx(value, abs=1e-9), (c.campaign_id, name)
        assert c.signals["link_strength"] > 2.0 and c.signals["linked_share"] == 1.0
    # and both find the planted campaigns
    assert {a.account_id for a in spark.flagged} == {a for a, c in labels.items() if c}


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


def test_spark_and_duckdb_agree_on_the_hidden_signals_and_creation_times(tmp_path):
    """Burst, key-rotation, fast sub-stream and crowded-component inputs and verdicts on a log that has
    them (people, a burst-then-dormant account, a key rotator, nightly batches inside a person's
    sessions), and the optional ``account_created_at`` column (an aged account first seen at its burst,
    whose creation time alone gives it a baseline; null for the accounts above): the same on both
    engines. One Spark scan for both (a scan costs Spark seconds of query planning, whatever the rows)."""
    _require_spark()
    import numpy as np
    import pyarrow.parquet as pq

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
    table = with_creation(_log(rows + burst_rows()))
    pq.write_table(table, tmp_path / "log.parquet")  # DuckDB: the SQL Parquet pass reads the optional column
    duck, spark = scan(tmp_path / "log.parquet", engine="duckdb"), scan(table, engine="spark")
    d = {a.account_id: a for a in duck.accounts}
    s = {a.account_id: a for a in spark.accounts}
    assert set(d) == set(s)
    for k in d:
        assert s[k].fired == d[k].fired and s[k].flagged == d[k].flagged, k
        assert s[k].score == pytest.approx(d[k].score, abs=1e-9), k
        for name in ("peak_day_requests", "baseline_days", "burst_p", "peak_hour_multiple", "api_keys", "key_rotations",
                     "key_rotation_p", "fast_share", "fast_expected", "fast_p", "fast_hours", "burst_multiple",
                     "crowded_hours", "crowd_p", "component_rows", "component_novelty", "component_hours",
                     "observed_days", "dormant_p"):
            assert s[k].signals[name] == pytest.approx(d[k].signals[name], rel=1e-12, abs=1e-12), (k, name)
    assert d["rotator"].signals["key_rotations"] == 5 and d["burst"].signals["peak_day_requests"] == 200
    assert d["crowd"].signals["crowded_hours"] == 3 and d["crowd"].signals["component_rows"] == 180
    assert "burst" in d["aged"].fired  # its creation time gave it a baseline (without: burst_p is 1)


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


def test_every_accepted_form_scans_like_the_canonical_log_on_spark(reference, tmp_path):
    try:
        import pyspark  # noqa: F401
    except ImportError:
        pytest.skip("pyspark is not installed (install the 'spark' extra)")
    if shutil.which("java") is None:
        pytest.skip("no Java runtime on PATH: Spark local mode needs Java 17")
    for name, source, malformed, canonical in _encodings(reference, tmp_path):
        if name != "jsonl":
            # Spark reads every source through read_log, as DuckDB does for all but the SQL Parquet
            # pass: the typed table each encoding gives is the canonical one (one Spark scan below)
            assert read_log(source).table.equals(read_log(canonical).table), name
            continue
        got = scan(source, engine="spark")
        assert dict(got.malformed) == malformed, name
        assert _summary(got) == _summary(scan(canonical, engine="duckdb")), name
