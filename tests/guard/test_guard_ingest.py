"""read_log: valid rows typed to LOG_SCHEMA, every malformed row counted under one reason.

Expected counts are computed here by a naive per-row reference validator, independent of the
vectorized implementation, and cross-checked on randomly corrupted logs (hypothesis).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stillwatch.errors import InputError
from stillwatch.guard.log.ingest import read_log
from stillwatch.guard.log.schema import LOG_COLUMNS, LOG_SCHEMA


def good_row(i: int) -> dict:
    return {
        "request_id": f"r{i}",
        "ts": f"2026-03-02T10:{i % 60:02d}:{(i * 7) % 60:02d}.{i:06d}Z",
        "account_id": f"acct{i % 5}",
        "api_key_id": f"key{i % 5}",
        "ip": "10.0.0.1",
        "user_agent": "curl/8",
        "payment_fingerprint": None if i % 2 else f"pf{i}",
        "model": "nova-1",
        "prompt": f"prompt {i} é ✓",
        "response": f"answer {i}",
        "prompt_tokens": 3 + i,
        "completion_tokens": 4 * i,
    }


def write_jsonl(path, rows, extra_lines=()):
    with open(path, "wb") as fh:
        for r in rows:
            fh.write(json.dumps(r).encode() + b"\n")
        for line in extra_lines:
            fh.write(line + b"\n")


def test_jsonl_roundtrip_types_and_values(tmp_path):
    rows = [good_row(i) for i in range(20)]
    p = tmp_path / "log.jsonl"
    write_jsonl(p, rows)
    res = read_log(p)
    assert res.malformed == {}
    assert res.n_rows_read == 20 and res.n_valid == 20
    assert res.table.schema.equals(LOG_SCHEMA.with_metadata(None), check_metadata=False)
    got = res.table.to_pylist()
    for r, g in zip(rows, got):
        expected_ts = datetime.fromisoformat(r["ts"].replace("Z", "+00:00"))
        assert g["ts"] == expected_ts
        for c in LOG_COLUMNS:
            if c != "ts":
                assert g[c] == r[c], c


def test_parquet_and_table_inputs_agree(tmp_path):
    rows = [good_row(i) for i in range(10)]
    p = tmp_path / "log.jsonl"
    write_jsonl(p, rows)
    t = read_log(p).table
    pq.write_table(t, tmp_path / "log.parquet")
    assert read_log(tmp_path / "log.parquet").table.equals(t)
    assert read_log(t).table.equals(t)


def test_each_reason_counted_once(tmp_path):
    rows = [good_row(i) for i in range(12)]
    rows[1]["prompt_tokens"] = -5  # negative_count:prompt_tokens
    rows[2]["ts"] = "not a time"  # bad_timestamp
    rows[3]["prompt"] = 42  # wrong_type:prompt
    del rows[4]["account_id"]  # missing_value:account_id
    rows[5]["request_id"] = "r0"  # duplicate_request_id
    rows[6]["completion_tokens"] = 1.5  # wrong_type:completion_tokens
    rows[7]["account_id"] = ""  # missing_value:account_id
    rows[8]["ts"] = 1_772_445_600_000_000  # epoch microseconds: valid
    rows[9]["ts"] = "2026-03-02 12:00:00"  # naive: valid, taken as UTC
    rows[10]["response"] = "\udc80 lone surrogate"  # non_utf8:response
    p = tmp_path / "bad.jsonl"
    with open(p, "wb") as fh:
        for r in rows:
            fh.write(json.dumps(r).encode() + b"\n")
        fh.write(b"{not json\n")
        fh.write(b"[1, 2, 3]\n")
        fh.write(b"\n")  # blank lines are not rows
        fh.write(b'{"request_id": "x\xff\xfe"}\n')
    res = read_log(p)
    assert res.malformed == {
        "negative_count:prompt_tokens": 1,
        "bad_timestamp": 1,
        "wrong_type:prompt": 1,
        "missing_value:account_id": 2,
        "duplicate_request_id": 1,
        "wrong_type:completion_tokens": 1,
        "non_utf8:response": 1,
        "invalid_json": 1,
        "not_an_object": 1,
        "non_utf8:line": 1,
    }
    assert res.n_rows_read == 15
    assert res.n_valid == 4
    assert sorted(res.table["request_id"].to_pylist()) == ["r0", "r11", "r8", "r9"]
    ts = dict(zip(res.table["request_id"].to_pylist(), res.table["ts"].to_pylist()))
    assert ts["r8"] == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    assert ts["r9"] == datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    assert "15 rows" in res.summary() and "invalid_json=1" in res.summary()


def test_parquet_wrong_types_missing_columns_non_utf8(tmp_path):
    n = 6
    good = read_log(pa.Table.from_pylist([good_row(i) for i in range(n)])).table
    # token counts stored as strings: every row has the wrong type
    t = good.set_column(good.schema.get_field_index("prompt_tokens"), "prompt_tokens", pa.array(["1"] * n))
    pq.write_table(t, tmp_path / "a.parquet")
    assert read_log(tmp_path / "a.parquet").malformed == {"wrong_type:prompt_tokens": n}
    # a required column missing: all rows, one reason; the optional payment_fingerprint may be absent
    pq.write_table(good.drop_columns(["model", "payment_fingerprint"]), tmp_path / "b.parquet")
    res = read_log(tmp_path / "b.parquet")
    assert res.malformed == {"missing_column:model": n} and res.n_valid == 0
    res = read_log(good.drop_columns(["payment_fingerprint"]))
    assert res.malformed == {} and res.table["payment_fingerprint"].null_count == n
    # a binary prompt column with two invalid UTF-8 values
    vals = [r.encode() for r in good["prompt"].to_pylist()]
    vals[1] = b"\xff\xfebad"
    vals[4] = b"caf\xe9"
    t = good.set_column(good.schema.get_field_index("prompt"), "prompt", pa.array(vals, type=pa.binary()))
    pq.write_table(t, tmp_path / "c.parquet")
    res = read_log(tmp_path / "c.parquet")
    assert res.malformed == {"non_utf8:prompt": 2} and res.n_valid == n - 2
    # naive (tz-less) nanosecond timestamps are taken as UTC and truncated to microseconds
    naive = pa.array(np.array(["2026-03-02T01:02:03.123456789"], dtype="datetime64[ns]"))
    t = good.slice(0, 1).set_column(1, "ts", naive)
    got = read_log(t).table["ts"][0].as_py()
    assert got == datetime(2026, 3, 2, 1, 2, 3, 123456, tzinfo=UTC)


def test_input_table_not_mutated():
    t = pa.Table.from_pylist([good_row(i) for i in range(5)] + [{**good_row(9), "prompt_tokens": -1}])
    before = t.to_pylist()
    read_log(t)
    assert t.to_pylist() == before


def test_empty_and_missing(tmp_path):
    p = tmp_path / "empty.jsonl"
    p.write_bytes(b"")
    res = read_log(p)
    assert res.is_empty and res.n_valid == 0 and res.malformed == {}
    assert "empty log" in res.summary()
    pq.write_table(LOG_SCHEMA.empty_table(), tmp_path / "empty.parquet")
    res = read_log(tmp_path / "empty.parquet")
    assert res.is_empty and res.table.num_rows == 0
    with pytest.raises(InputError, match="not found"):
        read_log(tmp_path / "nope.parquet")
    (tmp_path / "junk.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(InputError, match="Parquet"):
        read_log(tmp_path / "junk.parquet")


# --- naive reference + property test ---------------------------------------------------------------

_STR = ("request_id", "account_id", "api_key_id", "ip", "user_agent", "payment_fingerprint", "model", "prompt", "response")


def naive_reason(row: dict, seen: set) -> str | None:
    """Per-row reference validator, written from the documented rules."""
    for c in _STR:
        v = row.get(c)
        if v is not None and not isinstance(v, str):
            return f"wrong_type:{c}"
    for c in ("prompt_tokens", "completion_tokens"):
        v = row.get(c)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
            return f"wrong_type:{c}"
    ts = row.get("ts")
    if isinstance(ts, str):
        try:
            datetime.fromisoformat(ts.replace("Z", "+00:00"))
        except ValueError:
            return "bad_timestamp"
    for c in LOG_COLUMNS:
        if c == "payment_fingerprint":
            continue
        v = row.get(c)
        if v is None or (c in ("request_id", "account_id") and v == ""):
            return f"missing_value:{c}"
    for c in ("prompt_tokens", "completion_tokens"):
        if row[c] < 0:
            return f"negative_count:{c}"
    if row["request_id"] in seen:
        return "duplicate_request_id"
    seen.add(row["request_id"])
    return None


corruptions = st.sampled_from(
    ["none", "none", "none", "neg", "badts", "wrongtype", "drop_acct", "empty_req", "dup", "float_count", "null_prompt"]
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kinds=st.lists(corruptions, min_size=1, max_size=40))
def test_matches_naive_reference(tmp_path, kinds):
    rows = []
    for i, k in enumerate(kinds):
        r = good_row(i)
        if k == "neg":
            r["completion_tokens"] = -1
        elif k == "badts":
            r["ts"] = "2026-13-45T99:00:00Z"
        elif k == "wrongtype":
            r["model"] = 7
        elif k == "drop_acct":
            del r["account_id"]
        elif k == "empty_req":
            r["request_id"] = ""
        elif k == "dup":
            r["request_id"] = "r0"
        elif k == "float_count":
            r["prompt_tokens"] = 2.5
        elif k == "null_prompt":
            r["prompt"] = None
        rows.append(r)
    seen: set = set()
    expected: dict[str, int] = {}
    valid = []
    for r in rows:
        reason = naive_reason(r, seen)
        if reason is None:
            valid.append(r["request_id"])
        else:
            expected[reason] = expected.get(reason, 0) + 1
    p = tmp_path / "prop.jsonl"
    write_jsonl(p, rows)
    res = read_log(p)
    assert res.malformed == expected
    assert res.table["request_id"].to_pylist() == valid
    assert res.n_rows_read == len(rows) == res.n_valid + res.n_malformed


def test_parquet_directory_and_extra_columns(tmp_path):
    t = read_log(pa.Table.from_pylist([good_row(i) for i in range(8)])).table
    d = tmp_path / "parts"
    d.mkdir()
    pq.write_table(t.slice(0, 5).append_column("region", pa.array(["eu"] * 5)), d / "a.parquet")
    pq.write_table(t.slice(5).append_column("region", pa.array(["us"] * 3)), d / "b.parquet")
    res = read_log(d)
    assert res.n_valid == 8 and res.malformed == {}
    assert res.table.column_names == list(LOG_COLUMNS)  # extra columns are ignored
    assert sorted(res.table["request_id"].to_pylist()) == sorted(t["request_id"].to_pylist())
