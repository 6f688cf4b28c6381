"""The guard log schema: one row per exchange (request + response) seen by a model API.

Other tools produce this schema, so it is documented for users in ``docs/guard-log-schema.md``.
Column order is the contract's order; :data:`LOG_SCHEMA` is the Arrow type every ingested table
has after :func:`stillwatch.guard.log.ingest.read_log` (timestamps are UTC microseconds, token counts
int64). :data:`LABEL_SCHEMA` is the ground truth the simulator writes: one row per account.
"""

from __future__ import annotations

import pyarrow as pa

TS_TYPE = pa.timestamp("us", tz="UTC")

#: One row per exchange, in contract order; the column lists below are read off it.
LOG_SCHEMA: pa.Schema = pa.schema(
    [
        pa.field("request_id", pa.string(), nullable=False),
        pa.field("ts", TS_TYPE, nullable=False),
        pa.field("account_id", pa.string(), nullable=False),
        pa.field("api_key_id", pa.string(), nullable=False),
        pa.field("ip", pa.string(), nullable=False),
        pa.field("user_agent", pa.string(), nullable=False),
        pa.field("payment_fingerprint", pa.string(), nullable=True),
        pa.field("model", pa.string(), nullable=False),
        pa.field("prompt", pa.string(), nullable=False),
        pa.field("response", pa.string(), nullable=False),
        pa.field("prompt_tokens", pa.int64(), nullable=False),
        pa.field("completion_tokens", pa.int64(), nullable=False),
    ]
)

#: Optional columns a gateway may record (docs/guard-log-schema.md): read when present, never
#: required. A value that cannot be read as its type becomes null (unknown) and is counted in
#: ``IngestResult.invalid_optional``; the row is kept — guard works without these columns.
OPTIONAL_SCHEMA: pa.Schema = pa.schema(
    [
        pa.field("temperature", pa.float64(), nullable=True),
        pa.field("max_tokens", pa.int64(), nullable=True),
        pa.field("system_prompt_hash", pa.string(), nullable=True),
        pa.field("account_created_at", TS_TYPE, nullable=True),
    ]
)

#: Names of the optional columns, in order.
OPTIONAL_COLUMNS: tuple[str, ...] = tuple(OPTIONAL_SCHEMA.names)

#: Column names of a log, in contract order.
LOG_COLUMNS: tuple[str, ...] = tuple(LOG_SCHEMA.names)

#: Columns that may be null (every other column is required in every row).
NULLABLE_COLUMNS: frozenset[str] = frozenset(f.name for f in LOG_SCHEMA if f.nullable)

#: Text columns (UTF-8 strings).
STRING_COLUMNS: tuple[str, ...] = tuple(f.name for f in LOG_SCHEMA if f.type == pa.string())

#: Identifier columns that must also be non-empty.
ID_COLUMNS: tuple[str, ...] = ("request_id", "account_id")

#: Non-negative integer columns.
COUNT_COLUMNS: tuple[str, ...] = tuple(f.name for f in LOG_SCHEMA if f.type == pa.int64())

#: Ground-truth labels: one row per account. ``campaign_id`` is null for benign accounts;
#: ``family`` names the scenario family of the campaign, or the benign sub-population
#: (e.g. ``"benign:power_user"``) for benign accounts.
LABEL_SCHEMA: pa.Schema = pa.schema(
    [
        pa.field("account_id", pa.string(), nullable=False),
        pa.field("campaign_id", pa.string(), nullable=True),
        pa.field("family", pa.string(), nullable=False),
    ]
)

