"""One definition of each malformed-row rule: the Arrow reader (ingest) and the batch scan's DuckDB
fast path over Parquet must count the same reasons and keep the same rows.

The expected reasons come from a naive per-row reference written here from the documented rules
(:mod:`stillwatch.guard.log.rules`), not from the rule table; rows carry several faults at once and
duplicates whose timestamps run backwards, where the two paths used to differ.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stillwatch.guard.batch.scan import ScanConfig, _DuckEngine, feature_tables
from stillwatch.guard.log.ingest import read_log
from stillwatch.guard.log.rules import ROW_RULES, RowRule, sql_reason
from stillwatch.guard.log.schema import LOG_SCHEMA

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
# the documented order, written out by hand
ORDER = ["request_id", "ts", "account_id", "api_key_id", "ip", "user_agent", "model", "prompt", "response",
         "prompt_tokens", "completion_tokens"]
FAULTS = [f"null:{c}" for c in ORDER] + ["empty:request_id", "empty:account_id", "neg:prompt_tokens",
                                         "neg:completion_tokens"]


def test_rule_table_is_the_documented_order():
    assert [r.reason for r in ROW_RULES] == [f"missing_value:{c}" for c in ORDER] + [
        "negative_count:prompt_tokens", "negative_count:completion_tokens"]
    assert {r.column for r in ROW_RULES if r.test == "null_or_empty"} == {"request_id", "account_id"}


def test_sql_reason_is_generated_from_the_rules():
    rules = (RowRule("missing_value:a", "a", "null_or_empty"), RowRule("negative_count:b", "b", "negative"))
    assert sql_reason(rules) == ("CASE WHEN (a IS NULL OR length(a) = 0) THEN 'missing_value:a' "
                                 "WHEN b < 0 THEN 'negative_count:b' ELSE NULL END")


def _row(i: int, faults: list[str], dup_of: int | None, back_s: int) -> dict:
    r = {"request_id": f"r{i}" if dup_of is None else f"r{dup_of}", "ts": T0 + timedelta(seconds=60 * i - back_s),
         "account_id": f"a{i:03d}", "api_key_id": "k", "ip": "10.0.0.1", "user_agent": "curl/8",
         "payment_fingerprint": None, "model": "m", "prompt": f"prompt {i}", "response": "x",
         "prompt_tokens": 3, "completion_tokens": 5}
    for f in faults:
        kind, col = f.split(":")
        r[col] = None if kind == "null" else "" if kind == "empty" else -1
    return r


def _naive(rows: list[dict]) -> tuple[dict[str, int], list[str]]:
    """(reason counts, accounts of the kept rows in log order) by the documented rules."""
    counts: dict[str, int] = {}
    kept, seen = [], set()
    for r in rows:
        reason = None
        for c in ORDER:
            if r[c] is None or (c in ("request_id", "account_id") and r[c] == ""):
                reason = f"missing_value:{c}"
                break
        if reason is None:
            for c in ("prompt_tokens", "completion_tokens"):
                if r[c] < 0:
                    reason = f"negative_count:{c}"
                    break
        if reason is None and r["request_id"] in seen:
            reason = "duplicate_request_id"
        if reason is None:
            seen.add(r["request_id"])
            kept.append(r["account_id"])
        else:
            counts[reason] = counts.get(reason, 0) + 1
    return counts, kept


row_spec = st.tuples(st.lists(st.sampled_from(FAULTS), max_size=3), st.booleans(), st.integers(0, 7200))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=st.lists(row_spec, min_size=2, max_size=25))
def test_arrow_and_sql_paths_agree_with_the_reference(tmp_path, specs):
    rows = []
    for i, (faults, dup, back_s) in enumerate(specs):
        rows.append(_row(i, [] if i == 0 else faults, back_s % i if dup and i else None, back_s))
    expected, kept = _naive(rows)
    table = pa.Table.from_pylist(rows, schema=pa.schema([f.with_nullable(True) for f in LOG_SCHEMA]))
    p = tmp_path / "log.parquet"
    pq.write_table(table, p)
    arrow = read_log(p)
    assert arrow.malformed == expected
    assert arrow.table["account_id"].to_pylist() == kept
    malformed, rows = _sql_path(p)
    assert malformed == expected
    assert sorted(rows) == sorted(kept)


def _sql_path(path) -> tuple[dict[str, int], list[str]]:
    """The batch scan's DuckDB load of a Parquet file (the SQL path alone, without the features):
    (malformed counts, account of every kept row)."""
    cfg = ScanConfig()
    eng = _DuckEngine(cfg)
    try:
        _, keys, malformed, _ = eng.load(path, cfg.features)
        codes = keys.select("account_id").to_pyarrow()["account_id"].to_numpy()
        return malformed, eng.names(codes).tolist()
    finally:
        eng.close()


def test_a_null_free_column_is_left_out_of_the_sql_but_a_null_still_counts(tmp_path):
    rows = [_row(i, [], None, 0) for i in range(6)]
    rows[4]["response"] = None
    table = pa.Table.from_pylist(rows, schema=pa.schema([f.with_nullable(True) for f in LOG_SCHEMA]))
    p = tmp_path / "log.parquet"
    pq.write_table(table, p, row_group_size=3)  # the null sits in the second row group only
    ft = feature_tables(p, near_duplicates=False)
    assert ft.malformed == {"missing_value:response": 1}
    assert "a004" not in ft.ids.tolist() and len(ft.ids) == 5


@pytest.mark.parametrize("back_s", [0, 3600])
def test_the_first_occurrence_in_log_order_is_kept_whatever_its_timestamp(tmp_path, back_s):
    rows = [_row(0, [], None, 0), _row(1, [], None, 0), _row(2, [], 0, back_s + 60)]  # r0 again, earlier ts
    table = pa.Table.from_pylist(rows, schema=pa.schema([f.with_nullable(True) for f in LOG_SCHEMA]))
    p = tmp_path / "log.parquet"
    pq.write_table(table, p)
    for source in (p, table):
        ft = feature_tables(source, near_duplicates=False)
        assert ft.malformed == {"duplicate_request_id": 1}
        assert ft.ids.tolist() == ["a000", "a001"]
