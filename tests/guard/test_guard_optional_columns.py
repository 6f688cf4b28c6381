"""The log schema's optional columns (``temperature``, ``max_tokens``, ``system_prompt_hash``,
``account_created_at``): every accepted form is read, an unreadable value is null (counted, the row
kept), a log without them scans as before, and the creation time is used when present. The same on Spark: in
``test_guard_spark.py``, whose hidden-signal log carries :func:`burst_rows` and their creation times
(one Spark scan for both)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from stillwatch.guard.batch.scan import scan
from stillwatch.guard.log.ingest import read_log
from stillwatch.guard.log.schema import OPTIONAL_COLUMNS

from test_guard_signals import DAY, HOUR, T0, _log

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CREATED = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def _base_row(i: int) -> dict:
    return {"request_id": f"r{i}", "ts": "2026-03-02T10:00:00Z", "account_id": f"a{i % 2}", "api_key_id": "k",
            "ip": "10.0.0.1", "user_agent": "ua", "payment_fingerprint": None, "model": "m", "prompt": "p",
            "response": "r", "prompt_tokens": 3, "completion_tokens": 4}


def _write(path, rows):
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


# every accepted JSON form of each optional column, with the value it must be read as
ACCEPTED = [
    ("temperature", 0, 0.0), ("temperature", 0.7, 0.7), ("max_tokens", 256, 256), ("max_tokens", 256.0, 256),
    ("system_prompt_hash", "sha256:ab12", "sha256:ab12"),
    ("account_created_at", "2025-06-01T12:00:00Z", CREATED), ("account_created_at", "2025-06-01 14:00:00+02:00", CREATED),
    ("account_created_at", "2025-06-01T12:00:00", CREATED),
    ("account_created_at", (CREATED - _EPOCH) // timedelta(microseconds=1), CREATED),
]


@pytest.mark.parametrize("col,value,expected", ACCEPTED)
def test_each_accepted_json_form_is_read(tmp_path, col, value, expected):
    rows = [dict(_base_row(0), **{col: value}), _base_row(1)]  # the second row lacks the key: null
    res = read_log(_write(tmp_path / "log.jsonl", rows))
    assert res.n_valid == 2 and res.malformed == {} and res.invalid_optional == {}
    assert res.table.column_names[-1] == col and res.table[col].to_pylist() == [expected, None]


# unreadable values: null, counted under a reason, the row kept
INVALID = [
    ("temperature", "hot", "wrong_type:temperature"), ("temperature", -0.5, "bad_value:temperature"),
    ("max_tokens", 12.5, "non_integer_count:max_tokens"), ("max_tokens", -3, "negative_count:max_tokens"),
    ("max_tokens", "many", "wrong_type:max_tokens"), ("system_prompt_hash", 7, "wrong_type:system_prompt_hash"),
    ("account_created_at", "last spring", "bad_timestamp:account_created_at"),
]


@pytest.mark.parametrize("col,value,reason", INVALID)
def test_unreadable_optional_values_are_null_and_counted_row_kept(tmp_path, col, value, reason):
    rows = [dict(_base_row(0), **{col: value}), _base_row(1)]
    res = read_log(_write(tmp_path / "log.jsonl", rows))
    assert res.n_valid == 2 and res.malformed == {}
    assert res.invalid_optional == {reason: 1}
    assert res.table[col].to_pylist() == [None, None]


def test_parquet_and_arrow_forms(tmp_path):
    n = 3
    base = pa.Table.from_pylist([dict(_base_row(i), ts=datetime(2026, 3, 2, 10, tzinfo=UTC)) for i in range(n)])
    t = (base.append_column("temperature", pa.array([0.2, 1, None], pa.float32()))
         .append_column("max_tokens", pa.array([16, None, 4], pa.int32()))
         .append_column("system_prompt_hash", pa.array(["h", None, "h"]).dictionary_encode())
         .append_column("account_created_at", pa.array([datetime(2025, 6, 1, 12), None, None], pa.timestamp("ms"))))
    pq.write_table(t, tmp_path / "log.parquet")
    for src in (t, tmp_path / "log.parquet"):
        res = read_log(src)
        assert res.table.column_names[-4:] == list(OPTIONAL_COLUMNS)
        assert res.table["temperature"].to_pylist() == pytest.approx([0.2, 1.0, None], abs=1e-7)
        assert res.table["max_tokens"].to_pylist() == [16, None, 4]
        assert res.table["system_prompt_hash"].to_pylist() == ["h", None, "h"]
        assert res.table["account_created_at"].to_pylist() == [CREATED, None, None]  # naive: taken as UTC
    bad = base.append_column("temperature", pa.array(["warm", None, "cold"]))
    res = read_log(bad)
    assert res.n_valid == n and res.invalid_optional == {"wrong_type:temperature": 2}


def test_a_log_without_them_reads_as_before(tmp_path):
    res = read_log(_write(tmp_path / "log.jsonl", [_base_row(0)]))
    assert not set(OPTIONAL_COLUMNS) & set(res.table.column_names)


def burst_rows() -> list[tuple[str, int, str, int]]:
    """People over three weeks and an account ``aged`` first seen at its 300-request burst in week three."""
    rng = np.random.default_rng(4)
    rows = [(f"user-{a}", T0 + int(rng.integers(0, 21)) * DAY + 15 * HOUR + j * 200_000_000, f"k{a}", 300)
            for a in range(30) for j in range(int(rng.integers(1, 6)))]
    return rows + [("aged", T0 + 18 * DAY + 22 * HOUR + i * 40_000_000, "ka", 350) for i in range(300)]


def with_creation(t: pa.Table) -> pa.Table:
    """``account_created_at``: 200 days before the log for ``aged``, 30 days for the people of
    :func:`burst_rows`, null for any other account."""
    people = {f"user-{a}" for a in range(30)}
    created = [T0 - 200 * DAY if a == "aged" else T0 - 30 * DAY if a in people else None
               for a in t["account_id"].to_pylist()]
    return t.append_column("account_created_at", pa.array(created, pa.int64()).cast(pa.timestamp("us", tz="UTC")))


def _burst_log_with_creation() -> pa.Table:
    """An aged account (created 200 days before the log) first seen at its burst in week three —
    silent in the log before, so only its creation time gives it a baseline — among people."""
    return with_creation(_log(burst_rows()))


def test_creation_time_is_used_when_present(tmp_path):
    t = _burst_log_with_creation()
    with_c = scan(t)
    without = scan(t.drop(["account_created_at"]))
    assert without.account("aged").signals["burst_p"] == 1.0  # first seen at its burst: no baseline
    # baseline: from the log's first request (the creation is before it) to the end of the hour the
    # burst's last request falls in (all 300 lie within one 24-hour window)
    ts = t["ts"].cast(pa.int64()).to_numpy()
    last_burst = T0 + 18 * DAY + 22 * HOUR + 299 * 40_000_000
    expect = ((last_burst // HOUR + 1) * HOUR - ts.min()) / DAY
    assert with_c.account("aged").signals["baseline_days"] == pytest.approx(expect)
    assert "burst" in with_c.account("aged").fired and "burst" not in without.account("aged").fired
    # the DuckDB Parquet pass reads the column as the Arrow path does
    pq.write_table(t, tmp_path / "log.parquet")
    via_sql = scan(tmp_path / "log.parquet")
    assert [(a.account_id, a.score, a.fired) for a in via_sql.accounts] == \
        [(a.account_id, a.score, a.fired) for a in with_c.accounts]
