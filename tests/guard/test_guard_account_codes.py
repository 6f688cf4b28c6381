"""The DuckDB engine's account codes (``_DuckEngine._coded``, ``names``): each account id is keyed by its rank in
the ids' byte order inside the engine and mapped back at the boundary. What must hold, whatever the ids look like
(long UUIDs, non-ASCII, ids that are prefixes of each other, ids with only malformed rows): the scan's account ids
are the valid rows' distinct ids in sorted order, each with its own row count, on the Parquet (SQL) path and the
Arrow (ingest) path alike. Expected values are counted here from the rows, not read from the engine."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from stillwatch.guard.batch.scan import ScanConfig, _DuckEngine, feature_tables
from stillwatch.guard.log.schema import LOG_SCHEMA

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
IDS = ["b", "a", "ab", "Z", "é-user", "0f8fad5b-d9cb-469f-a165-70867728950e", "a\u00e9", "日本", "a "]


def _rows() -> list[dict]:
    rows = []
    for j, acc in enumerate(IDS):
        for i in range(j + 1):  # account j sends j + 1 rows
            rows.append({"request_id": f"r{j}-{i}", "ts": T0 + timedelta(minutes=7 * i + j), "account_id": acc,
                         "api_key_id": f"k{j}", "ip": f"10.0.{j}.{i}", "user_agent": "curl/8",
                         "payment_fingerprint": None, "model": "m", "prompt": f"prompt {j} {i}", "response": "x",
                         "prompt_tokens": 3, "completion_tokens": 5})
    # an account whose only row is malformed, and a row without an account: neither is an account of the scan
    rows.append({**rows[0], "request_id": "bad-1", "account_id": "only-bad", "prompt_tokens": -1})
    rows.append({**rows[0], "request_id": "bad-2", "account_id": None})
    return rows


def _table() -> pa.Table:
    return pa.Table.from_pylist(_rows(), schema=pa.schema([f.with_nullable(True) for f in LOG_SCHEMA]))


@pytest.mark.parametrize("path", ["parquet", "arrow"])
def test_ids_come_back_sorted_with_their_own_counts(tmp_path, path):
    t = _table()
    source = t
    if path == "parquet":
        source = tmp_path / "log.parquet"
        pq.write_table(t, source)
    ft = feature_tables(source, near_duplicates=False)
    want = Counter(r["account_id"] for r in _rows() if r["account_id"] and r["prompt_tokens"] >= 0)
    order = sorted(want, key=lambda s: s.encode("utf-8"))  # byte order, computed here
    assert ft.ids.tolist() == order
    assert np.asarray(ft.cols["n"]).tolist() == [want[a] for a in order]
    assert ft.malformed == {"negative_count:prompt_tokens": 1, "missing_value:account_id": 1}


def test_codes_are_ranks_in_byte_order_and_names_maps_them_back(tmp_path):
    pq.write_table(_table(), tmp_path / "log.parquet")
    cfg = ScanConfig()
    eng = _DuckEngine(cfg)
    try:
        _, keys, _, _ = eng.load(tmp_path / "log.parquet", cfg.features)
        codes = keys.select("account_id").to_pyarrow()["account_id"].to_numpy()
        assert codes.dtype == np.int64
        every = sorted({r["account_id"] for r in _rows() if r["account_id"] is not None}, key=lambda s: s.encode())
        # the codes are ranks among every id of the file (the malformed rows' too); the kept rows use theirs
        assert eng.names(np.arange(len(every))).tolist() == every
        names = eng.names(codes).tolist()
        assert Counter(names) == Counter(r["account_id"] for r in _rows()
                                         if r["account_id"] and r["prompt_tokens"] >= 0)
    finally:
        eng.close()
