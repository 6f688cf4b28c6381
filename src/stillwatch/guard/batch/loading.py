"""Reading a log for the batch scan: the canonical columns from an Arrow table (:func:`canonical_from_arrow`,
after :mod:`~stillwatch.guard.log.ingest` validated it), or DuckDB's one SQL pass over a Parquet file that
validates as ingest does (:func:`parquet_sql`). Split out of :mod:`~stillwatch.guard.batch.scan`, which
imports them."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from stillwatch.errors import GuardInputError
from stillwatch.guard.features.tables import PARAM_COLUMNS
from stillwatch.guard.log.rules import ROW_RULES, sql_reason
from stillwatch.guard.log.schema import COUNT_COLUMNS, LOG_COLUMNS, NULLABLE_COLUMNS, STRING_COLUMNS

#: Columns the features read (everything else in the log is left on disk).
NEEDED = ("request_id", "ts", "account_id", "api_key_id", "ip", "user_agent", "payment_fingerprint", "prompt",
          "prompt_tokens", "completion_tokens")


def canonical_from_arrow(table: pa.Table) -> pa.Table:
    """LOG_SCHEMA table -> canonical columns (ts -> ts_us int64 microseconds)."""
    ts = table["ts"].cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
    cols = {c: table[c] for c in NEEDED if c != "ts"}
    cols["ts_us"] = ts
    # the optional account creation time (log schema's optional columns), null when the log lacks it
    cols["created_us"] = (table["account_created_at"].cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
                          if "account_created_at" in table.column_names else pa.nulls(table.num_rows, pa.int64()))
    # the request parameters (validated by ingest: an unreadable value is null), where the log records them
    for c in PARAM_COLUMNS:
        if c in table.column_names:
            cols[c] = table[c]
    return pa.table(cols)


#: DuckDB types the Parquet pass reads each request-parameter column from as it stands (any other type goes through
#: ingest's coercion), and the SQL that reads a value as ingest does: a value ingest would null is null.
_PARAM_SQL = {
    "temperature": (("DOUBLE", "FLOAT", "BIGINT", "INTEGER", "SMALLINT", "TINYINT"),
                    "CASE WHEN isfinite(CAST(temperature AS DOUBLE)) AND temperature >= 0 "
                    "THEN CAST(temperature AS DOUBLE) END"),
    "max_tokens": (("BIGINT", "INTEGER", "SMALLINT", "TINYINT"),
                   "CASE WHEN max_tokens >= 0 THEN CAST(max_tokens AS BIGINT) END"),
    "system_prompt_hash": (("VARCHAR",), "system_prompt_hash"),
}


def parquet_sql(con, path: Path) -> bool | None:
    """Create the view ``sw_raw`` over a Parquet log: the canonical columns, ``_pos`` (the row's
    position in the file) and ``_bad``, the malformed-row reason (null for a good row) generated from
    :data:`~stillwatch.guard.log.rules.ROW_RULES`. Returns None when a column is missing or its type
    needs :mod:`~stillwatch.guard.log.ingest`'s coercion (ingest then reports it row by row)."""
    src = f"read_parquet('{sql_str(str(path))}', file_row_number=true)"
    try:
        desc = con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()
    except Exception as exc:  # noqa: BLE001 - DuckDB raises several types for unreadable files
        raise GuardInputError(f"cannot read Parquet log {path}: {exc}") from exc
    types = {r[0]: r[1].upper() for r in desc}
    for c in LOG_COLUMNS:
        if c not in types:
            if c in NULLABLE_COLUMNS:
                continue
            return None
        t = types[c]
        if c in STRING_COLUMNS and t != "VARCHAR":
            return None
        if c == "ts" and not t.startswith("TIMESTAMP"):
            return None
        if c in COUNT_COLUMNS and t not in ("BIGINT", "INTEGER", "SMALLINT", "TINYINT"):
            return None
    # a null test on a column the file's statistics record as null-free cannot fire: it is left out
    # of the SQL, so the pass does not decode text columns the scan never reads (e.g. ``response``)
    null_free = null_free_columns(path)
    rules = [r for r in ROW_RULES if not (r.test == "null" and r.column in null_free)]
    pay = "payment_fingerprint" if "payment_fingerprint" in types else "CAST(NULL AS VARCHAR)"
    tsx = "ts" if types["ts"].startswith("TIMESTAMP WITH TIME ZONE") else "timezone('UTC', ts)"
    # the optional creation time is read here only as a timestamp (any other encoding goes through
    # ingest, which reads an unreadable value as null — the same on every engine)
    created = types.get("account_created_at")
    if created is not None and not created.startswith("TIMESTAMP"):
        return None
    cr = ("CAST(NULL AS BIGINT)" if created is None else "epoch_us(account_created_at)" if "TIME ZONE" in created
          else "epoch_us(timezone('UTC', account_created_at))")
    params = ""
    for c in PARAM_COLUMNS:
        if c in types:
            readable, sql = _PARAM_SQL[c]
            if types[c] not in readable:
                return None
            params += f"{sql} AS {c}, "
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW sw_raw AS SELECT request_id, account_id, api_key_id, epoch_us({tsx}) AS ts_us, ip, "
        f"user_agent, {pay} AS payment_fingerprint, prompt, prompt_tokens, completion_tokens, {cr} AS created_us, "
        f"{params}file_row_number AS _pos, {sql_reason(rules)} AS _bad FROM {src}"
    )
    return True


def null_free_columns(path: Path) -> set[str]:
    """Columns whose Parquet statistics record zero nulls in every row group."""
    import pyarrow.parquet as pq

    md = pq.ParquetFile(path).metadata
    nulls: dict[str, int | None] = {}
    for g in range(md.num_row_groups):
        rg = md.row_group(g)
        for i in range(rg.num_columns):
            col = rg.column(i)
            st = col.statistics
            known = st is not None and st.has_null_count
            prev = nulls.get(col.path_in_schema, 0)
            nulls[col.path_in_schema] = None if prev is None or not known else prev + st.null_count
    return {c for c, k in nulls.items() if k == 0}


def sql_str(s: str) -> str:
    return s.replace("'", "''")


def ingest_source(source) -> tuple[pa.Table, dict[str, int], int]:
    from stillwatch.guard.log.ingest import read_log

    res = read_log(source)
    return canonical_from_arrow(res.table), dict(res.malformed), int(res.n_rows_read)
