"""Read API logs (JSONL, Parquet, or an Arrow table) into the guard log schema.

Malformed rows never abort a read and never vanish silently: each is counted under one reason
(the first check it fails, in the order below) and dropped from :attr:`IngestResult.table`. The
checks on values of the right type (missing values, negative counts, duplicates) are defined once in
:mod:`stillwatch.guard.log.rules`, shared with the batch scan's SQL path.

Reasons (``<col>`` names the column):

- ``missing_column:<col>`` — a required column is absent from the whole file/table;
- ``invalid_json`` / ``not_an_object`` / ``non_utf8:line`` — a JSONL line that is not a JSON object;
- ``wrong_type:<col>`` — a value of the wrong type (e.g. a number where text is expected, text in a
  token count);
- ``non_integer_count:<col>`` — a token count written as a number that is not a whole number in the
  int64 range (``12.5``, ``NaN``, ``1e300``); a float holding a whole number (``12.0``) is accepted
  as that integer, as ``docs/guard-log-schema.md`` promises;
- ``non_utf8:<col>`` — text that is not valid UTF-8;
- ``missing_value:<col>`` — null/absent in a required column, or an empty ``request_id``/``account_id``;
- ``bad_timestamp`` — a ``ts`` that cannot be parsed (ISO-8601 strings, with or without a UTC
  offset, and integer epoch microseconds are accepted; naive times are taken as UTC);
- ``negative_count:<col>`` — a negative token count;
- ``duplicate_request_id`` — a ``request_id`` already seen earlier in the same log (first kept).

Optional columns (:data:`~stillwatch.guard.log.schema.OPTIONAL_SCHEMA`: ``temperature``,
``max_tokens``, ``system_prompt_hash``, ``account_created_at``) are carried when present. They never
make a row malformed: a value that cannot be read as its type becomes null (unknown) and is counted
in :attr:`IngestResult.invalid_optional` under the same reason names (``wrong_type:<col>``,
``non_integer_count:max_tokens``, ``negative_count:max_tokens``, ``non_utf8:<col>``,
``bad_timestamp:account_created_at``) or ``bad_value:temperature`` (negative or not finite).

Parquet and Arrow inputs are validated column-wise with pyarrow compute (and DuckDB for timestamp
strings); JSONL is parsed by pyarrow's JSON reader, falling back to a line-by-line parser only when
that reader rejects the file (it fails as a whole on any bad line).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from stillwatch.errors import InputError

from stillwatch.guard.log.rules import DUPLICATE, ROW_RULES, arrow_mask, bool_mask
from stillwatch.guard.log.schema import (LOG_COLUMNS, LOG_SCHEMA, NULLABLE_COLUMNS, OPTIONAL_COLUMNS, OPTIONAL_SCHEMA,
                                        STRING_COLUMNS, TS_TYPE)

log = logging.getLogger(__name__)

_PARQUET_SUFFIXES = {".parquet", ".pq", ".parq"}
_JSONL_SUFFIXES = {".jsonl", ".ndjson", ".json"}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Prefix of the reason of a token count that is a number but not a whole int64 (``12.5``, NaN).
NON_INTEGER = "non_integer_count:"


@dataclass(frozen=True)
class IngestResult:
    """The valid rows of a log plus an account of everything that was dropped.

    ``table`` has :data:`~stillwatch.guard.log.schema.LOG_SCHEMA`'s columns and types, followed by
    the optional columns (:data:`~stillwatch.guard.log.schema.OPTIONAL_SCHEMA`) the input has;
    ``malformed`` maps reason -> number of rows dropped for it; ``n_rows_read`` counts every row
    (or non-blank JSONL line) read, so ``n_rows_read == table.num_rows + sum(malformed.values())``;
    ``invalid_optional`` maps reason -> optional values read as null (rows kept).
    """

    table: pa.Table
    malformed: dict[str, int] = field(default_factory=dict)
    n_rows_read: int = 0
    source: str = "<table>"
    invalid_optional: dict[str, int] = field(default_factory=dict)

    @property
    def n_valid(self) -> int:
        return self.table.num_rows

    @property
    def n_malformed(self) -> int:
        return sum(self.malformed.values())

    @property
    def is_empty(self) -> bool:
        """True when the log held no rows at all (not: when every row was malformed)."""
        return self.n_rows_read == 0

    def summary(self) -> str:
        """One human-readable line, e.g. ``'log.jsonl: 998 of 1000 rows valid; 2 malformed (...)'``."""
        if self.is_empty:
            return f"{self.source}: empty log (0 rows)"
        head = f"{self.source}: {self.n_valid} of {self.n_rows_read} rows valid"
        if not self.malformed:
            return head
        parts = ", ".join(f"{k}={v}" for k, v in sorted(self.malformed.items(), key=lambda kv: (-kv[1], kv[0])))
        return f"{head}; {self.n_malformed} malformed ({parts})"


def read_log(source: str | Path | pa.Table, *, fmt: str | None = None) -> IngestResult:
    """Read a log from a JSONL file, a Parquet file/directory, a Stillwatch ledger (an SQLite
    ledger file, a ``postgresql://`` URL or ``ledger:<location>``; see :mod:`~stillwatch.guard.log.ledger_log`), or an
    Arrow table.

    ``fmt`` ("jsonl", "parquet" or "ledger") overrides detection by file suffix. Raises
    :class:`~stillwatch.errors.InputError` for a missing or unreadable file or an unknown format;
    never for bad rows (those are counted in the result).
    """
    if isinstance(source, pa.Table):
        return _validate(source, source.num_rows, {}, "<table>")
    from stillwatch.guard.log.ledger_log import ledger_location, read_ledger_table

    if fmt in (None, "ledger"):
        location = ledger_location(source)
        if location is not None:
            raw, n = read_ledger_table(location)
            return _validate(raw, n, {}, str(source))
        if fmt == "ledger":
            raise InputError(f"{source} is not a Stillwatch ledger (SQLite file, postgresql:// URL or ledger:LOCATION)")
    path = Path(source)
    if not path.exists():
        raise InputError(f"log file not found: {path}")
    kind = fmt or _detect_format(path)
    if kind == "parquet":
        raw = _read_parquet(path)
        return _validate(raw, raw.num_rows, {}, str(path))
    if kind == "jsonl":
        return _read_jsonl(path)
    raise InputError(f"unknown log format {kind!r} for {path} (expected 'jsonl' or 'parquet')")


def empty_log() -> pa.Table:
    """A zero-row table with :data:`LOG_SCHEMA`."""
    return LOG_SCHEMA.empty_table()


# ---------------------------------------------------------------------------------------------
# readers


def _detect_format(path: Path) -> str:
    if path.is_dir():
        return "parquet"
    suffix = path.suffix.lower()
    if suffix in _PARQUET_SUFFIXES:
        return "parquet"
    if suffix in _JSONL_SUFFIXES:
        return "jsonl"
    with path.open("rb") as fh:
        magic = fh.read(4)
    if magic == b"PAR1":
        return "parquet"
    return "jsonl"


def _read_parquet(path: Path) -> pa.Table:
    import pyarrow.dataset as ds

    try:
        dataset = ds.dataset(str(path), format="parquet")
        present = [c for c in LOG_COLUMNS + OPTIONAL_COLUMNS if c in dataset.schema.names]
        return dataset.to_table(columns=present)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{path} is not a readable Parquet file: {exc}") from None


_ALL_COLUMNS = LOG_COLUMNS + OPTIONAL_COLUMNS
_TS_COLUMNS = ("ts", "account_created_at")


def _json_read_schema() -> pa.Schema:
    fields = []
    for f in list(LOG_SCHEMA) + list(OPTIONAL_SCHEMA):
        fields.append(pa.field(f.name, pa.string() if f.name in _TS_COLUMNS else f.type))
    return pa.schema(fields)


def _read_jsonl(path: Path) -> IngestResult:
    import pyarrow.json as pj

    if path.stat().st_size == 0:
        return _validate(pa.table({}), 0, {}, str(path))
    try:
        raw = pj.read_json(
            str(path),
            parse_options=pj.ParseOptions(explicit_schema=_json_read_schema(), unexpected_field_behavior="ignore"),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        log.info("fast JSON reader rejected %s (%s); parsing line by line", path, exc)
        return _read_jsonl_lines(path)
    return _validate(_present_columns(raw, path), raw.num_rows, {}, str(path))


def _present_columns(raw: pa.Table, path: Path) -> pa.Table:
    """The log columns of a JSONL table without those no line names: the explicit-schema reader
    fills an absent key with nulls, but a column missing from the file is ``missing_column:<col>``
    (every row), not ``missing_value:<col>``. The file is searched for the key only for a column
    that is null in every row."""
    data: bytes | None = None
    present = []
    for c in _ALL_COLUMNS:
        if c not in raw.column_names:
            continue
        col = raw[c]
        if len(col) and col.null_count == len(col):
            data = path.read_bytes() if data is None else data
            if json.dumps(c).encode() not in data:
                continue
        present.append(c)
    return raw.select(present)


_CHUNK_LINES = 4096


def _read_jsonl_lines(path: Path) -> IngestResult:
    """Fallback when the fast reader rejects the file: chunks of lines go through the fast reader,
    and only chunks it rejects are parsed line by line (structural/type problems classified there)."""
    import io

    import pyarrow.json as pj

    lines = [ln for ln in path.read_bytes().split(b"\n") if ln.strip()]
    opts = pj.ParseOptions(explicit_schema=_json_read_schema(), unexpected_field_behavior="ignore")
    reasons: dict[str, int] = {}
    optional: dict[str, int] = {}
    tables: list[pa.Table] = []
    for start in range(0, len(lines), _CHUNK_LINES):
        chunk = lines[start : start + _CHUNK_LINES]
        try:  # a block must hold the longest line (a 3 MB answer would straddle 1 MB blocks)
            read = pj.ReadOptions(block_size=max(1 << 20, 2 * max(map(len, chunk)) + 2))
            t = pj.read_json(io.BytesIO(b"\n".join(chunk)), read_options=read, parse_options=opts)
            tables.append(_json_columns(t))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            t, r, o = _parse_lines(chunk)
            tables.append(t)
            for into, got in ((reasons, r), (optional, o)):
                for k, v in got.items():
                    into[k] = into.get(k, 0) + v
    raw = pa.concat_tables(tables) if tables else _json_read_schema().empty_table()
    return _validate(_present_columns(raw, path), len(lines), reasons, str(path), optional)


def _json_columns(t: pa.Table) -> pa.Table:
    types = _json_read_schema()
    cols = [t[c] if c in t.column_names else pa.chunked_array([pa.nulls(t.num_rows, types.field(c).type)])
            for c in _ALL_COLUMNS]
    return pa.table(cols, schema=types)


def _parse_lines(lines: list[bytes]) -> tuple[pa.Table, dict[str, int], dict[str, int]]:
    """Parse JSONL lines one by one (the slow path): (table of structurally sound rows, reasons,
    optional values read as null)."""
    reasons: dict[str, int] = {}
    optional: dict[str, int] = {}
    cols: dict[str, list] = {c: [] for c in _ALL_COLUMNS}

    def bad(reason: str) -> None:
        reasons[reason] = reasons.get(reason, 0) + 1

    for raw_line in lines:
        try:
            text = raw_line.decode("utf-8")
        except UnicodeDecodeError:
            bad("non_utf8:line")
            continue
        try:
            obj = json.loads(text)
        except ValueError:
            bad("invalid_json")
            continue
        if not isinstance(obj, dict):
            bad("not_an_object")
            continue
        reason, row = _check_json_row(obj)
        if reason is not None:
            bad(reason)
            continue
        for c in OPTIONAL_COLUMNS:  # an unreadable optional value is null (the row is kept), counted
            row[c], problem = _json_optional(c, obj.get(c))
            if problem is not None:
                optional[problem] = optional.get(problem, 0) + 1
        for c in _ALL_COLUMNS:
            cols[c].append(row[c])
    types = _json_read_schema()
    table = pa.table({c: pa.array(cols[c], type=types.field(c).type) for c in _ALL_COLUMNS}, schema=types)
    return table, reasons, optional


def _json_optional(c: str, v) -> tuple[object, str | None]:
    """An optional column's JSON value in the line reader's types, or ``(None, reason)`` when it
    cannot be read (floats holding whole numbers are accepted for ``max_tokens``, as for token counts)."""
    if v is None:
        return None, None
    if c == "temperature":
        ok = isinstance(v, (int, float)) and not isinstance(v, bool)
        return (float(v), None) if ok else (None, f"wrong_type:{c}")
    if c == "max_tokens":
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return None, f"wrong_type:{c}"
        if isinstance(v, float):
            whole = math.isfinite(v) and v.is_integer() and -(2.0**63) <= v < 2.0**63
            return (int(v), None) if whole else (None, f"{NON_INTEGER}{c}")
        return (v, None) if -(2**63) <= v < 2**63 else (None, f"wrong_type:{c}")
    if c == "account_created_at":
        if isinstance(v, int) and not isinstance(v, bool):
            try:
                return (_EPOCH + timedelta(microseconds=v)).isoformat(), None
            except OverflowError:
                return None, f"bad_timestamp:{c}"
        return (v, None) if isinstance(v, str) else (None, f"wrong_type:{c}")
    if not isinstance(v, str):
        return None, f"wrong_type:{c}"
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        return None, f"non_utf8:{c}"
    return v, None


def _check_json_row(obj: dict) -> tuple[str | None, dict]:
    row: dict = {}
    for c in LOG_COLUMNS:
        v = obj.get(c)
        if v is None:
            row[c] = None  # null checks are vectorized later
            continue
        if c in STRING_COLUMNS:
            if not isinstance(v, str):
                return f"wrong_type:{c}", row
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:  # lone surrogates from \udXXX escapes
                return f"non_utf8:{c}", row
        elif c == "ts":
            if isinstance(v, bool) or not isinstance(v, (str, int)):
                return "wrong_type:ts", row
            if isinstance(v, int):
                try:
                    v = (_EPOCH + timedelta(microseconds=v)).isoformat()
                except OverflowError:
                    return "bad_timestamp", row
        else:  # token counts: integers, or floats holding whole numbers (12.0)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                return f"wrong_type:{c}", row
            if isinstance(v, float):
                if not (math.isfinite(v) and v.is_integer() and -(2.0**63) <= v < 2.0**63):
                    return f"{NON_INTEGER}{c}", row
                v = int(v)
            elif not -(2**63) <= v < 2**63:
                return f"wrong_type:{c}", row
        row[c] = v
    return None, row


# ---------------------------------------------------------------------------------------------
# vectorized validation


class _Reasons:
    """Per-row first-failure reason codes (0 = valid)."""

    def __init__(self, n: int) -> None:
        self.code = np.zeros(n, dtype=np.int32)
        self.names: list[str] = [""]

    def mark(self, mask: np.ndarray, reason: str) -> None:
        hit = mask & (self.code == 0)
        if hit.any():
            if reason not in self.names:
                self.names.append(reason)
            self.code[hit] = self.names.index(reason)

    def counts(self) -> dict[str, int]:
        binc = np.bincount(self.code, minlength=len(self.names))
        return {self.names[i]: int(binc[i]) for i in range(1, len(self.names)) if binc[i]}


def _validate(raw: pa.Table, n_rows: int, pre: dict[str, int], source: str,
              pre_optional: dict[str, int] | None = None) -> IngestResult:
    n = raw.num_rows
    reasons = _Reasons(n)
    out: dict[str, pa.ChunkedArray] = {}
    for f in LOG_SCHEMA:
        if f.name not in raw.column_names:
            if f.name not in NULLABLE_COLUMNS:
                reasons.mark(np.ones(n, dtype=bool), f"missing_column:{f.name}")
            out[f.name] = pa.chunked_array([pa.nulls(n, type=f.type)])
    for f in LOG_SCHEMA:
        c = f.name
        if c in out:
            continue
        col = raw[c]
        if c in STRING_COLUMNS:
            out[c] = _as_string(col, c, reasons)
        elif c == "ts":
            out[c] = _as_timestamp(col, reasons)
        else:
            out[c] = _as_count(col, c, reasons)
    for rule in ROW_RULES:
        reasons.mark(arrow_mask(rule, out[rule.column]), rule.reason)
    _mark_duplicates(out["request_id"], reasons)
    opt_cols, optional = _optional_columns(raw, dict(pre_optional or {}))
    valid = reasons.code == 0
    schema = pa.schema(list(LOG_SCHEMA) + [OPTIONAL_SCHEMA.field(c) for c in opt_cols])
    table = pa.table([out[c] for c in LOG_COLUMNS] + list(opt_cols.values()), schema=schema)
    if not valid.all():
        table = table.filter(pa.array(valid))
    counts = dict(pre)
    for k, v in reasons.counts().items():
        counts[k] = counts.get(k, 0) + v
    result = IngestResult(table=table, malformed=counts, n_rows_read=n_rows, source=source, invalid_optional=optional)
    if counts:
        log.warning("%s", result.summary())
    return result


def _optional_columns(raw: pa.Table, optional: dict[str, int]) -> tuple[dict[str, pa.ChunkedArray], dict[str, int]]:
    """The optional columns ``raw`` has, converted to their types; a value that cannot be read is
    null and counted in ``optional`` (reason -> values), whichever row it is in (counted before
    malformed rows are dropped)."""
    out = {}
    for c in OPTIONAL_COLUMNS:
        if c not in raw.column_names:
            continue
        col, r = raw[c], _Reasons(raw.num_rows)
        if c == "system_prompt_hash":
            v = _as_string(col, c, r)
        elif c == "account_created_at":
            v = _as_timestamp(col, r, c)
        elif c == "max_tokens":
            v = _as_count(col, c, r)
            r.mark(bool_mask(pc.less(v, 0)), f"negative_count:{c}")
        else:
            v = _as_float(col, c, r)
        bad = r.code != 0
        if bad.any():
            v = pc.if_else(pa.array(bad), pa.scalar(None, v.type), v)
        for k, cnt in r.counts().items():
            optional[k] = optional.get(k, 0) + cnt
        out[c] = v if isinstance(v, pa.ChunkedArray) else pa.chunked_array([v])
    return out, optional


def _as_float(col: pa.ChunkedArray, name: str, reasons: _Reasons) -> pa.ChunkedArray:
    """A non-negative finite float column (``temperature``); others are ``bad_value:<col>``."""
    t = col.type
    if pa.types.is_null(t):
        return pa.chunked_array([pa.nulls(len(col), type=pa.float64())])
    if not (pa.types.is_integer(t) or pa.types.is_floating(t)):
        reasons.mark(bool_mask(pc.is_valid(col)), f"wrong_type:{name}")
        return pa.chunked_array([pa.nulls(len(col), type=pa.float64())])
    col = col.cast(pa.float64())
    ok = pc.and_(pc.is_finite(col), pc.greater_equal(col, 0.0))
    reasons.mark(bool_mask(pc.and_(pc.is_valid(col), pc.invert(ok))), f"bad_value:{name}")
    return col


def _as_string(col: pa.ChunkedArray, name: str, reasons: _Reasons) -> pa.ChunkedArray:
    t = col.type
    if pa.types.is_dictionary(t):
        col = col.cast(t.value_type)
        t = col.type
    if pa.types.is_null(t):
        return pa.chunked_array([pa.nulls(len(col), type=pa.string())])
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        col = col.cast(pa.binary() if pa.types.is_string(t) else pa.large_binary())
        t = col.type
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        try:
            return col.cast(pa.string())
        except (pa.ArrowInvalid, pa.ArrowCapacityError):
            return _decode_rowwise(col, name, reasons)
    reasons.mark(np.ones(len(col), dtype=bool), f"wrong_type:{name}")
    return pa.chunked_array([pa.nulls(len(col), type=pa.string())])


def _decode_rowwise(col: pa.ChunkedArray, name: str, reasons: _Reasons) -> pa.ChunkedArray:
    """Slow path, only when a column holds invalid UTF-8: find and blank out the bad values."""
    values = col.to_pylist()
    bad = np.zeros(len(values), dtype=bool)
    decoded: list[str | None] = []
    for i, v in enumerate(values):
        if v is None:
            decoded.append(None)
            continue
        try:
            decoded.append(v.decode("utf-8"))
        except UnicodeDecodeError:
            bad[i] = True
            decoded.append("")
    reasons.mark(bad, f"non_utf8:{name}")
    return pa.chunked_array([pa.array(decoded, type=pa.string())])


def _as_timestamp(col: pa.ChunkedArray, reasons: _Reasons, name: str = "ts") -> pa.ChunkedArray:
    t = col.type
    n = len(col)
    if pa.types.is_timestamp(t):
        if t.tz is None:
            col = col.cast(pa.timestamp(t.unit, tz="UTC"))  # naive -> taken as UTC
        return col.cast(TS_TYPE, safe=False)
    if pa.types.is_integer(t):
        return col.cast(pa.int64()).cast(TS_TYPE)
    if pa.types.is_null(t):
        return pa.chunked_array([pa.nulls(n, type=TS_TYPE)])
    if pa.types.is_dictionary(t):
        col = col.cast(t.value_type)
        t = col.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        parsed = _parse_ts_strings(col)
        unparsable = bool_mask(pc.and_(pc.is_valid(col), pc.is_null(parsed)))
        reasons.mark(unparsable, "bad_timestamp" if name == "ts" else f"bad_timestamp:{name}")
        return parsed
    reasons.mark(np.ones(n, dtype=bool) if name == "ts" else bool_mask(pc.is_valid(col)), f"wrong_type:{name}")
    return pa.chunked_array([pa.nulls(n, type=TS_TYPE)])


def _parse_ts_strings(col: pa.ChunkedArray) -> pa.ChunkedArray:
    try:
        return col.cast(TS_TYPE)  # fast path: ISO-8601 with a zone designator everywhere
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        src = pa.table({"s": col.cast(pa.string())})  # noqa: F841  (scanned by DuckDB by name)
        res = con.sql("SELECT try_cast(s AS TIMESTAMPTZ) AS t FROM src").to_arrow_table()
    finally:
        con.close()
    return res["t"].cast(TS_TYPE)


def _as_count(col: pa.ChunkedArray, name: str, reasons: _Reasons) -> pa.ChunkedArray:
    t = col.type
    n = len(col)
    if pa.types.is_integer(t):
        if pa.types.is_uint64(t):
            too_big = bool_mask(pc.greater(col, 2**63 - 1))
            reasons.mark(too_big, f"wrong_type:{name}")
            col = pc.if_else(pa.array(too_big), None, col)
        return col.cast(pa.int64())
    if pa.types.is_floating(t):  # whole numbers are accepted; anything else is non_integer_count
        col = col.cast(pa.float64())
        whole = pc.and_(pc.is_finite(col), pc.equal(col, pc.floor(col)))
        in_range = pc.and_(pc.greater_equal(col, -(2.0**63)), pc.less(col, 2.0**63))
        bad_np = bool_mask(pc.and_(pc.is_valid(col), pc.invert(pc.and_(whole, in_range))))
        reasons.mark(bad_np, f"{NON_INTEGER}{name}")
        return pc.if_else(pa.array(bad_np), None, col).cast(pa.int64(), safe=False)
    if pa.types.is_null(t):
        return pa.chunked_array([pa.nulls(n, type=pa.int64())])
    reasons.mark(np.ones(n, dtype=bool), f"wrong_type:{name}")
    return pa.chunked_array([pa.nulls(n, type=pa.int64())])


def _mark_duplicates(request_id: pa.ChunkedArray, reasons: _Reasons) -> None:
    """Mark later occurrences of a request_id among rows still valid (first occurrence kept; the
    rule is :data:`stillwatch.guard.log.rules.DUPLICATE`)."""
    n = len(request_id)
    if n == 0:
        return
    valid_idx = np.flatnonzero(reasons.code == 0)
    if len(valid_idx) < 2:
        return
    ids = request_id.take(pa.array(valid_idx))
    enc = pc.dictionary_encode(ids).combine_chunks()
    codes = enc.indices.to_numpy(zero_copy_only=False)
    _, first = np.unique(codes, return_index=True)
    dup = np.ones(len(codes), dtype=bool)
    dup[first] = False
    if dup.any():
        mask = np.zeros(n, dtype=bool)
        mask[valid_idx[dup]] = True
        reasons.mark(mask, DUPLICATE)
