"""The batch scan end to end: Parquet (DuckDB fast path) vs Arrow table vs JSONL, bad input, the CLI."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _fixtures_pipeline import make_log  # noqa: E402

from stillwatch.errors import InputError  # noqa: E402
from stillwatch.guard.batch.scan import scan  # noqa: E402



@pytest.fixture(scope="module")
def log():
    return make_log(seed=3, n_human=30, camp_a=8, camp_b=6)


def _summary(f):
    return (
        f.n_rows,
        sorted((a.account_id, round(a.score, 9), a.flagged, a.campaign_id) for a in f.accounts),
        sorted(c.accounts for c in f.campaigns),
    )


def test_parquet_fast_path_equals_table_path(log, tmp_path):
    table, _ = log
    p = tmp_path / "log.parquet"
    pq.write_table(table, p)
    assert _summary(scan(p)) == _summary(scan(table))


def test_malformed_rows_are_counted_and_the_rest_scanned(log, tmp_path):
    table, labels = log
    rows = table.slice(0, 5).to_pylist()
    bad = [
        dict(rows[0], request_id="bad-1", account_id=""),  # empty id
        dict(rows[1], request_id="bad-2", account_id=None),  # null id
        dict(rows[2], request_id="bad-3", ts=None),  # no timestamp
        dict(rows[3], request_id="bad-4", completion_tokens=-3),  # negative count
        dict(rows[4]),  # duplicate request id
    ]
    schema = pa.schema([f.with_nullable(True) for f in table.schema])
    extra = pa.Table.from_pylist(bad, schema=schema)
    full = pa.concat_tables([table.cast(extra.schema), extra])
    p = tmp_path / "bad.parquet"
    pq.write_table(full, p)
    for source in (p, full):
        f = scan(source)
        assert f.malformed == {
            "missing_value:account_id": 2,
            "missing_value:ts": 1,
            "negative_count:completion_tokens": 1,
            "duplicate_request_id": 1,
        }, source
        assert f.n_rows == table.num_rows
        assert {a.account_id for a in f.flagged} == {a for a, c in labels.items() if c}


def test_jsonl_with_broken_lines_and_non_utf8(log, tmp_path):
    table, labels = log
    p = tmp_path / "log.jsonl"
    with open(p, "wb") as fh:
        for r in table.to_pylist():
            r["ts"] = r["ts"].isoformat()
            fh.write(json.dumps(r).encode() + b"\n")
        fh.write(b"{this is not json\n")
        r = table.slice(0, 1).to_pylist()[0]
        r["ts"] = r["ts"].isoformat()
        r["request_id"] = "nonutf8"
        fh.write(json.dumps(r).encode().replace(b'"prompt": "', b'"prompt": "\xff\xfe', 1) + b"\n")
        r["request_id"] = "wrongtype"
        r["prompt_tokens"] = "many"
        fh.write(json.dumps(r).encode() + b"\n")
    f = scan(p)
    assert f.n_rows == table.num_rows
    assert sum(f.malformed.values()) == 3, f.malformed
    assert {a.account_id for a in f.flagged} == {a for a, c in labels.items() if c}


def test_missing_column_and_empty_log(log, tmp_path):
    table, _ = log
    p = tmp_path / "nocol.parquet"
    pq.write_table(table.drop(["prompt"]), p)
    f = scan(p)
    assert f.n_rows == 0 and f.accounts == ()
    assert f.malformed == {"missing_column:prompt": table.num_rows}
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    f = scan(empty)
    assert f.n_rows == 0 and f.accounts == () and f.campaigns == ()
    assert f.to_json()["n_flagged"] == 0


def test_payment_column_may_be_absent(log, tmp_path):
    table, labels = log
    p = tmp_path / "nopay.parquet"
    pq.write_table(table.drop(["payment_fingerprint"]), p)
    f = scan(p)
    assert f.malformed == {}
    assert {a.account_id for a in f.flagged} == {a for a, c in labels.items() if c}


def test_unknown_engine_and_missing_file(log, tmp_path):
    with pytest.raises(InputError, match="unknown engine"):
        scan(log[0], engine="bogus")
    with pytest.raises(InputError, match="not found"):
        scan(tmp_path / "nope.parquet")


def test_cli_scan_writes_findings(log, tmp_path, cli):
    table, labels = log
    p = tmp_path / "log.parquet"
    pq.write_table(table, p)
    out = tmp_path / "findings.json"
    doc = cli("guard", "scan", "--input", p, "--out", out, "--json").ok().json()
    assert json.loads(out.read_text()) == doc
    assert {a["account_id"] for a in doc["accounts"]} == {a for a, c in labels.items() if c}
    assert len(doc["campaigns"]) == 2
    cli("guard", "scan", "--input", tmp_path / "missing.parquet").user_error("not found")


def test_demo_step_returns_explained_campaigns(tmp_path):
    import json as _json

    from stillwatch.guard_sim.demo import demo_step

    r = demo_step(tmp_path)
    _json.dumps(r)
    assert r["exchanges"] == 20000 and r["accounts"] > 0
    assert r["campaigns"], r
    for c in r["campaigns"]:
        assert c["fired"] and set(c["signals"]) >= {"templated_share", "human_rate_multiple"}
    # most flagged accounts really are campaign accounts (the simulator knows)
    assert r["flagged_that_are_campaign_accounts"] >= 0.9 * r["flagged_accounts"]
    assert (tmp_path / "guard_findings.json").exists()
