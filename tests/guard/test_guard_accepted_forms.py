"""Every value form ``docs/guard-log-schema.md`` accepts, read by the scan on DuckDB and on Spark.

One reference log (whole-second timestamps, so that every timestamp unit holds it exactly) is
re-encoded in each accepted form; the scan of each encoding must find exactly what the scan of the
canonical table finds, and a token count that is a fraction must be counted as
``non_integer_count:<col>``. Expectations come from the canonical table, not from the code under
test. On Spark every source goes through the same reader (``read_log``) before the engine sees a table;
``test_guard_spark.py`` checks that each encoding reads as its canonical table, and its one Spark scan
reads the JSONL encoding (the one that holds most forms) of the parity log.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _fixtures_pipeline import make_log  # noqa: E402

from stillwatch.guard.batch.scan import scan  # noqa: E402
from stillwatch.guard.log.ingest import read_log  # noqa: E402

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def reference() -> pa.Table:
    table, _ = make_log(seed=3, n_human=10, camp_a=4, camp_b=4)
    secs = pc.divide(table["ts"].cast(pa.int64()), 1_000_000).cast(pa.int64())
    ts = pc.multiply(secs, 1_000_000).cast(pa.timestamp("us", tz="UTC"))
    return table.set_column(1, "ts", ts)


def _summary(f):
    return (f.n_rows, sorted((a.account_id, round(a.score, 9), a.flagged, a.campaign_id, a.exchanges)
                             for a in f.accounts), sorted(c.accounts for c in f.campaigns))


def _bad_row(ref: pa.Table, col: str, value) -> dict:
    row = {k: v for k, v in ref.slice(0, 1).to_pylist()[0].items()}
    row.update(request_id="fractional-row", **{col: value})
    return row


def _jsonl(ref: pa.Table, path: Path, fractional_row: bool = True) -> Path:
    """ts as ISO with Z, ISO with an offset, ISO without an offset, integer epoch microseconds;
    token counts as integers and as whole-number floats; one fractional count (malformed) unless
    ``fractional_row`` is false. Other timestamp columns (``account_created_at``) as ISO with Z."""
    rows = ref.to_pylist() + ([_bad_row(ref, "completion_tokens", 12.5)] if fractional_row else [])
    with path.open("w") as fh:
        for i, r in enumerate(rows):
            ts: datetime = r["ts"]
            form = i % 4
            if form == 0:
                r["ts"] = ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            elif form == 1:
                r["ts"] = ts.astimezone(timezone(timedelta(hours=2))).isoformat(sep=" ")
            elif form == 2:
                r["ts"] = ts.replace(tzinfo=None).isoformat()
            else:
                r["ts"] = (ts - _EPOCH) // timedelta(microseconds=1)
            for k, v in r.items():
                if isinstance(v, datetime):
                    r[k] = v.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            if i % 2 and isinstance(r["completion_tokens"], int) and isinstance(r["prompt_tokens"], int):
                r["prompt_tokens"], r["completion_tokens"] = float(r["prompt_tokens"]), float(r["completion_tokens"])
            fh.write(json.dumps(r) + "\n")
    return path


def _parquet_ingest_forms(ref: pa.Table, path: Path) -> Path:
    """Forms that go through ingest's coercion: naive nanosecond timestamps, large_string and
    dictionary and binary text, int32 and whole float64 counts (one fractional), an extra column,
    no payment_fingerprint column."""
    t = pa.concat_tables([ref, pa.Table.from_pylist([_bad_row(ref, "completion_tokens", 0)], schema=ref.schema)])
    cols = {
        "request_id": t["request_id"].cast(pa.large_string()),
        "ts": t["ts"].cast(pa.timestamp("ns")),  # naive: taken as UTC
        "account_id": pc.dictionary_encode(t["account_id"]),
        "api_key_id": t["api_key_id"].cast(pa.binary()),
        "ip": t["ip"], "user_agent": t["user_agent"], "model": t["model"],
        "prompt": t["prompt"].cast(pa.binary()), "response": t["response"],
        "prompt_tokens": t["prompt_tokens"].cast(pa.int32()),
        "completion_tokens": pa.array(t["completion_tokens"].to_pylist()[:-1] + [0.5], pa.float64()),
        "extra_column": pa.array(["ignored"] * t.num_rows),
    }
    pq.write_table(pa.table(cols), path)
    return path


def _parquet_sql_forms(ref: pa.Table, path: Path) -> Path:
    """Forms DuckDB reads directly (the scan's SQL pass): millisecond timestamps in another zone,
    int16 counts, large_string text."""
    cols = {c: ref[c] for c in ref.column_names}
    cols["ts"] = ref["ts"].cast(pa.timestamp("ms", tz="Asia/Tokyo"))
    cols["prompt_tokens"] = ref["prompt_tokens"].cast(pa.int16())
    cols["user_agent"] = ref["user_agent"].cast(pa.large_string())
    pq.write_table(pa.table(cols), path)
    return path


def _table_forms(ref: pa.Table) -> pa.Table:
    """An Arrow table: ts as integer epoch microseconds, uint64 and float32 counts."""
    t = ref.set_column(1, "ts", ref["ts"].cast(pa.int64()))
    t = t.set_column(t.schema.get_field_index("prompt_tokens"), "prompt_tokens", ref["prompt_tokens"].cast(pa.uint64()))
    return t.set_column(t.schema.get_field_index("completion_tokens"), "completion_tokens",
                        ref["completion_tokens"].cast(pa.float32()))


def _encodings(ref: pa.Table, tmp: Path) -> list[tuple[str, object, dict, pa.Table]]:
    """(name, encoded source, malformed counts expected, the canonical table it must scan like)."""
    i = ref.schema.get_field_index("payment_fingerprint")
    no_pay = ref.set_column(i, "payment_fingerprint", pa.nulls(ref.num_rows, pa.string()))  # column absent: all null
    return [
        ("jsonl", _jsonl(ref, tmp / "forms.jsonl"), {"non_integer_count:completion_tokens": 1}, ref),
        ("parquet-ingest", _parquet_ingest_forms(ref, tmp / "forms_a.parquet"),
         {"non_integer_count:completion_tokens": 1}, no_pay),
        ("parquet-sql", _parquet_sql_forms(ref, tmp / "forms_b.parquet"), {}, ref),
        ("table", _table_forms(ref), {}, ref),
    ]


def test_two_row_repro_whole_float_counts_are_valid(tmp_path):
    row = {"ts": "2026-03-02T10:00:00Z", "account_id": "a", "api_key_id": "k", "ip": "203.0.113.7",
           "user_agent": "u", "payment_fingerprint": None, "model": "m", "prompt": "p", "response": "r"}
    p = tmp_path / "two.jsonl"
    p.write_text(json.dumps({**row, "request_id": "1", "prompt_tokens": 12.0, "completion_tokens": 3.0}) + "\n"
                 + json.dumps({**row, "request_id": "2", "prompt_tokens": 12, "completion_tokens": 3}) + "\n")
    res = read_log(p)
    assert res.summary() == f"{p}: 2 of 2 rows valid"
    assert res.table["prompt_tokens"].to_pylist() == [12, 12]
    assert res.table["completion_tokens"].to_pylist() == [3, 3]


@pytest.mark.parametrize("bad", [12.5, 1e300, -0.25])
def test_non_whole_float_counts_are_malformed_by_name(tmp_path, bad):
    t = pa.table({"request_id": ["1", "2"], "ts": ["2026-03-02T10:00:00Z"] * 2, "account_id": ["a", "a"],
                  "api_key_id": ["k", "k"], "ip": ["1.2.3.4"] * 2, "user_agent": ["u"] * 2, "model": ["m"] * 2,
                  "prompt": ["p"] * 2, "response": ["r"] * 2, "prompt_tokens": [3.0, bad],
                  "completion_tokens": [1.0, 2.0]})
    for source in (t, tmp_path / "t.parquet", tmp_path / "t.jsonl"):
        if isinstance(source, Path) and source.suffix == ".parquet":
            pq.write_table(t, source)
        elif isinstance(source, Path):
            source.write_text("\n".join(json.dumps(r) for r in t.to_pylist()) + "\n")
        res = read_log(source)
        assert res.malformed == {"non_integer_count:prompt_tokens": 1}, source
        assert res.table["prompt_tokens"].to_pylist() == [3]


def test_every_accepted_form_scans_like_the_canonical_log_on_duckdb(reference, tmp_path):
    expected: dict[int, tuple] = {}  # each canonical table is scanned once (three encodings share one)
    for name, source, malformed, canonical in _encodings(reference, tmp_path):
        got = scan(source, engine="duckdb")
        assert dict(got.malformed) == malformed, name
        if id(canonical) not in expected:
            expected[id(canonical)] = _summary(scan(canonical, engine="duckdb"))
        assert _summary(got) == expected[id(canonical)], name


def test_every_accepted_form_reads_as_its_canonical_table(reference, tmp_path):
    """Spark reads every source through ``read_log`` (as DuckDB does for all but the SQL Parquet pass): the
    typed table each encoding gives is its canonical one, with the malformed rows named. The JSONL forms also go
    through a whole Spark scan (``test_guard_spark.py``'s parity log)."""
    for name, source, malformed, canonical in _encodings(reference, tmp_path):
        res = read_log(source)
        assert res.table.equals(read_log(canonical).table), name
        assert dict(res.malformed) == malformed, name
