"""The malformed-row rules, defined once for both readers of a log.

A row that fails a rule is counted under the rule's reason and left out; it fails the *first* rule
in :data:`ROW_RULES` order (after the type checks only the Arrow reader needs, see
:mod:`stillwatch.guard.log.ingest`), then :data:`DUPLICATE` among the rows that pass every rule:

1. ``missing_value:<col>`` — null in a required column (every column but ``payment_fingerprint``),
   in :data:`~stillwatch.guard.log.schema.LOG_COLUMNS` order; an *empty* ``request_id`` or
   ``account_id`` counts as missing (an id that names nothing);
2. ``negative_count:<col>`` — a negative ``prompt_tokens`` / ``completion_tokens``;
3. ``duplicate_request_id`` — a ``request_id`` (compared exactly) that an earlier row *in log order*
   already used; the first occurrence is kept. Log order is the order a reader meets the rows (file
   row order for Parquet, line order for JSONL, row order for a table): a retried or re-exported
   request repeats an earlier row, and keeping the first makes the choice independent of the
   timestamps a retry may rewrite. (Before this module the SQL path kept the *earliest timestamp*
   and compared 64-bit hashes of the ids, so it could keep a different row than the Arrow path.)

:func:`arrow_mask` evaluates a rule on an Arrow column (:mod:`stillwatch.guard.log.ingest`);
:func:`sql_reason` generates the SQL ``CASE`` the batch scan's DuckDB fast path evaluates in its one
pass over a Parquet file (:mod:`stillwatch.guard.batch.scan`), and :func:`sql_duplicates` the SQL that
finds the later occurrences. A parity test runs both readers on the same malformed rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from stillwatch.guard.log.schema import COUNT_COLUMNS, ID_COLUMNS, LOG_COLUMNS, NULLABLE_COLUMNS

#: The reason of a later occurrence of a request id (see the module docstring).
DUPLICATE = "duplicate_request_id"


@dataclass(frozen=True)
class RowRule:
    """One malformed-row rule: ``reason`` is counted when column ``column`` fails ``test``:
    ``"null"`` (null), ``"null_or_empty"`` (null or the empty string) or ``"negative"`` (< 0)."""

    reason: str
    column: str
    test: str

    def sql(self, quote: Callable[[str], str] = lambda c: c) -> str:
        """The rule as a SQL predicate (true when the row fails it)."""
        c = quote(self.column)
        return {"null": f"{c} IS NULL", "null_or_empty": f"({c} IS NULL OR length({c}) = 0)",
                "negative": f"{c} < 0"}[self.test]


def _rules() -> tuple[RowRule, ...]:
    missing = tuple(RowRule(f"missing_value:{c}", c, "null_or_empty" if c in ID_COLUMNS else "null")
                    for c in LOG_COLUMNS if c not in NULLABLE_COLUMNS)
    return missing + tuple(RowRule(f"negative_count:{c}", c, "negative") for c in COUNT_COLUMNS)


#: Every row rule, in the order a row is checked.
ROW_RULES: tuple[RowRule, ...] = _rules()


def bool_mask(arr: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Boolean Arrow array (nulls -> False) to numpy."""
    filled = pc.fill_null(arr, False)
    if isinstance(filled, pa.ChunkedArray):
        filled = filled.combine_chunks() if filled.num_chunks != 1 else filled.chunk(0)
    return filled.to_numpy(zero_copy_only=False).astype(bool, copy=False)


def arrow_mask(rule: RowRule, col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Rows of ``col`` (already of its schema type) that fail ``rule``."""
    if rule.test == "negative":
        return bool_mask(pc.less(col, 0))
    missing = bool_mask(pc.is_null(col))
    if rule.test == "null_or_empty":
        missing |= bool_mask(pc.equal(pc.utf8_length(col), 0))
    return missing


def sql_reason(rules: Iterable[RowRule] = ROW_RULES, quote: Callable[[str], str] = lambda c: c) -> str:
    """A SQL expression giving each row's first failed rule's reason (NULL for a good row)."""
    whens = " ".join(f"WHEN {r.sql(quote)} THEN '{r.reason}'" for r in rules)
    return f"CASE {whens} ELSE NULL END" if whens else "CAST(NULL AS VARCHAR)"


def sql_duplicates(relation: str, position: str, request_id: str = "request_id") -> str:
    """SQL selecting the ``position`` of every later occurrence of a request id among the rows of
    ``relation`` (the rows that pass every rule, each with its position in log order)."""
    return (f"SELECT {position} FROM {relation} "
            f"QUALIFY row_number() OVER (PARTITION BY {request_id} ORDER BY {position}) > 1")
