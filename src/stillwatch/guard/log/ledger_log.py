"""Read a Stillwatch ledger's exchange records as a guard API log.

The gateway appends one ``exchange`` record per request to the ledger (see
:mod:`stillwatch.ledger.records`). With its optional request metadata (``request_id``, ``ip``,
``user_agent``, ``payment_fingerprint``, ``prompt_tokens``, ``completion_tokens``) such a record
holds every column of the guard log schema, so the same scan runs on the evidence store itself:

=====================  =====================================================================
log column             taken from the exchange record
=====================  =====================================================================
request_id             ``request_id``; when absent, ``ledger:<leaf index>`` (unique per log)
ts, api_key_id, model  the fields of the same name
account_id             ``account``
ip, user_agent, ...    the optional metadata; absent -> the row is counted as malformed
                       (``missing_value:<col>``) like any other log row, never dropped silently
=====================  =====================================================================

Other record types (terms-of-service acceptances, investments, custody, policy decisions) are not
exchanges and are skipped; their number is logged. A ledger that stores exchanges as digests only
(``exchange_content = digest``) cannot feed the text signals, so it is refused with a clear error.

Leaves are decoded in batches by Arrow's JSON reader (one call per batch, no per-row parsing).
"""

from __future__ import annotations

import io
import logging
from itertools import islice
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from stillwatch.errors import InputError

from stillwatch.guard.log.schema import LOG_COLUMNS, LOG_SCHEMA

log = logging.getLogger(__name__)

__all__ = ["is_ledger_source", "read_ledger_table"]

_SQLITE_MAGIC = b"SQLite format 3\x00"
_PREFIX = "ledger:"

# the log columns as an exchange record names and writes them (account, ts as ISO text)
_RECORD_NAME = {"account_id": "account"}
_FIELDS = pa.struct([pa.field(_RECORD_NAME.get(f.name, f.name), pa.string() if f.name == "ts" else f.type)
                     for f in LOG_SCHEMA])
_ENVELOPE = pa.schema([pa.field("fields", _FIELDS), pa.field("seq", pa.int64()), pa.field("type", pa.string())])


def ledger_location(source: str | Path) -> str | None:
    """The ledger location named by ``source``, or None when it is not a ledger.

    A ledger is named as ``ledger:<path or postgresql:// URL>``, as a PostgreSQL URL, or as a path
    to an SQLite file (recognised by its header, whatever its suffix).
    """
    from stillwatch.ledger.ledger import is_postgres_url  # the ledger package loads only when asked about

    text = str(source)
    if text.startswith(_PREFIX):
        return text[len(_PREFIX):]
    if is_postgres_url(text):
        return text
    path = Path(text)
    if path.is_file():
        with path.open("rb") as fh:
            if fh.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC:
                return text
    return None


def is_ledger_source(source: str | Path) -> bool:
    """True when ``source`` names a ledger (see :func:`ledger_location`)."""
    return ledger_location(source) is not None


def read_ledger_table(location: str, *, batch: int = 50_000) -> tuple[pa.Table, int]:
    """(raw log table with the guard log columns as read, number of exchange records) of the ledger at
    ``location`` (a path or PostgreSQL URL, as :func:`ledger_location` returns it).

    The table is not validated here: :func:`stillwatch.guard.log.ingest.read_log` validates it like any
    other log. Raises :class:`~stillwatch.errors.InputError` when the ledger cannot be opened or
    stores exchange digests only. Requires ``batch >= 1``.
    """
    from stillwatch.ledger import Ledger
    from stillwatch.ledger.errors import LedgerError

    if batch < 1:
        raise InputError(f"batch = {batch} must be >= 1")
    try:
        led = Ledger.open(location)
    except (LedgerError, OSError) as exc:
        raise InputError(f"cannot read ledger {location}: {exc}") from exc
    try:
        if led.exchange_content != "full":
            raise InputError(
                f"ledger {location} stores exchanges as digests only (exchange_content = "
                f"{led.exchange_content}); guard's text signals need the prompt and response text — "
                "scan the gateway's log export instead")
        parts: list[pa.Table] = []
        skipped = 0
        leaves = led.store.iter_leaves(batch=batch)
        while chunk := list(islice(leaves, batch)):
            env = _decode(b"\n".join(row[2] for row in chunk))
            is_exchange = pc.equal(env["type"], "exchange")
            skipped += len(chunk) - (pc.sum(is_exchange).as_py() or 0)
            parts.append(_log_columns(env.filter(is_exchange)))
    except LedgerError as exc:
        raise InputError(f"cannot read ledger {location}: {exc}") from exc
    finally:
        led.close()
    if skipped:
        log.info("ledger %s: %d records that are not exchanges skipped", location, skipped)
    table = pa.concat_tables(parts) if parts else _log_columns(_ENVELOPE.empty_table())
    return table, table.num_rows


def _decode(data: bytes) -> pa.Table:
    import pyarrow.json as pj

    opts = pj.ParseOptions(explicit_schema=_ENVELOPE, unexpected_field_behavior="ignore")
    try:
        return pj.read_json(io.BytesIO(data), parse_options=opts)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InputError(f"ledger leaves are not canonical exchange records: {exc}") from exc


def _log_columns(env: pa.Table) -> pa.Table:
    """Envelope rows -> the guard log's columns (account -> account_id; request_id defaulted)."""
    fields = env["fields"].combine_chunks() if env.num_rows else pa.array([], type=_FIELDS)
    cols = {name: fields.field(name) for name in _FIELDS.names}
    fallback = pc.binary_join_element_wise("ledger:", pc.cast(env["seq"].combine_chunks(), pa.string()), "")
    cols["request_id"] = pc.coalesce(cols["request_id"], fallback)
    return pa.table([cols[_RECORD_NAME.get(c, c)] for c in LOG_COLUMNS], names=list(LOG_COLUMNS))
