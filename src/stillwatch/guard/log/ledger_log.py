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
temperature            ``request_params.temperature`` (the gateway writes it as a decimal string,
                       canonical JSON having no floats; a whole number may be a JSON integer)
max_tokens             ``request_params.max_tokens``
system_prompt_hash     ``request_params.system_prompt_sha256``
=====================  =====================================================================

The last three are the log schema's optional columns (``docs/guard-log-schema.md``): present in the table only when
some exchange record holds ``request_params``, null where a record does not say (the API's default is then unknown).
A batch whose temperatures mix JSON numbers and strings cannot be read by one Arrow schema; its request parameters
are then read as unknown and the number of such records logged. A temperature string that is not a decimal number is
read as unknown and counted in the log too. The account's creation time is not in the ledger: the gateway keeps it
in its own table of the same database, and ``stillwatch guard scan`` joins it as ``account_created_at`` with
:func:`with_account_created` (``gateway.accounts.account_creation_times`` reads it); :func:`read_ledger_table` alone
leaves the column absent.

Other record types (terms-of-service acceptances, investments, custody, policy decisions) are not
exchanges and are skipped; their number is logged. A ledger that stores exchanges as digests only
(``exchange_content = digest``) cannot feed the text signals, so it is refused with a clear error.

Leaves are decoded in batches by Arrow's JSON reader (one call per batch, no per-row parsing).
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Mapping
from itertools import islice
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from stillwatch.errors import InputError

from stillwatch.guard.log.schema import COUNT_COLUMNS, LOG_COLUMNS, LOG_SCHEMA, OPTIONAL_SCHEMA

log = logging.getLogger(__name__)

__all__ = ["is_ledger_source", "read_ledger_table", "row_params", "with_account_created"]

_SQLITE_MAGIC = b"SQLite format 3\x00"
_PREFIX = "ledger:"

# the log columns as an exchange record names and writes them (account, ts as ISO text)
_RECORD_NAME = {"account_id": "account"}
_FIELDS = pa.struct([pa.field(_RECORD_NAME.get(f.name, f.name), pa.string() if f.name == "ts" else f.type)
                     for f in LOG_SCHEMA])
# request_params -> the optional log columns (records.py: a flat object; floats as decimal strings)
_PARAMS = {"temperature": "temperature", "max_tokens": "max_tokens", "system_prompt_sha256": "system_prompt_hash"}
_DECIMAL = r"^-?[0-9]+(\.[0-9]+)?$"
_DECIMAL_RE = re.compile(_DECIMAL)


def row_params(request_params: object) -> dict[str, object]:
    """One exchange's ``request_params`` as the guard log's optional fields, for a row of the streaming scorer
    (:mod:`~stillwatch.guard.live.stream`; the gateway's own requests and those another process served): what
    :func:`read_ledger_table` reads from a batch of records. A temperature written as a decimal string, or a number,
    as a float (another string unknown); ``max_tokens`` and the system prompt's hash as written (the scorer reads a
    value of the wrong type as unknown, as ingest does). Empty when the record holds no request parameters: the row
    then says nothing of them."""
    if not isinstance(request_params, Mapping):
        return {}
    out = {column: request_params.get(name) for name, column in _PARAMS.items()}
    t = out["temperature"]
    if isinstance(t, str):
        out["temperature"] = float(t) if _DECIMAL_RE.match(t) else None
    return out


def _envelope(float_counts: bool, temperature: pa.DataType | None) -> pa.Schema:
    """The envelope schema Arrow's JSON reader is given. ``float_counts``: token counts read as float64 (the schema
    accepts counts written as whole-number floats, 12.0, which the int64 reader refuses; ingest then keeps whole
    numbers and counts the rest as ``non_integer_count:<col>``). ``temperature``: the type ``request_params``'
    temperature is read as (the gateway's decimal strings; JSON numbers from a writer whose temperatures are all
    whole), None: ``request_params`` not read."""
    fields = [pa.field(f.name, pa.float64()) if float_counts and f.name in COUNT_COLUMNS else f for f in _FIELDS]
    if temperature is not None:
        fields.append(pa.field("request_params", pa.struct([  # the other parameters as their log columns' types
            pa.field(name, temperature if name == "temperature" else OPTIONAL_SCHEMA.field(column).type)
            for name, column in _PARAMS.items()])))
    return pa.schema([pa.field("fields", pa.struct(fields)), pa.field("seq", pa.int64()),
                      pa.field("type", pa.string())])


# tried in turn on each batch: integer counts first (exact), request parameters as the gateway writes them first
_ENVELOPES = tuple(_envelope(fc, tt) for tt in (pa.string(), pa.float64(), None) for fc in (False, True))
_ENVELOPE = _ENVELOPES[0]


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
        led = Ledger.open(location, read_only=True)  # a scan never writes to the evidence it reads
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
            env = _decode(b"\n".join(row[2] for row in chunk), max(len(row[2]) for row in chunk))
            is_exchange = pc.equal(env["type"], "exchange")
            skipped += len(chunk) - (pc.sum(is_exchange).as_py() or 0)
            parts.append(_log_columns(env.filter(is_exchange)))
    except LedgerError as exc:
        raise InputError(f"cannot read ledger {location}: {exc}") from exc
    finally:
        led.close()
    if skipped:
        log.info("ledger %s: %d records that are not exchanges skipped", location, skipped)
    table = pa.concat_tables(parts, promote_options="permissive") if parts else _log_columns(_ENVELOPE.empty_table())
    return table, table.num_rows


def with_account_created(table: pa.Table, created: Mapping) -> pa.Table:
    """``table`` (a log as :func:`read_ledger_table` reads it) with the optional ``account_created_at`` column from
    ``created`` (account id -> timezone-aware datetime: the gateway keeps its accounts' creation times beside the
    ledger, not in it); null for an account ``created`` does not name. One vectorised lookup, not a loop per row.
    A table that has the column already is returned as it is."""
    if "account_created_at" in table.column_names or not created:
        return table
    ids = pa.array(list(created), pa.string())
    when = pa.array(list(created.values()), pa.timestamp("us", tz="UTC"))
    at = pc.index_in(table["account_id"].cast(pa.string()), value_set=ids)
    return table.append_column("account_created_at", pc.take(when, at))


def _decode(data: bytes, longest: int) -> pa.Table:
    """Decode newline-joined leaves; ``longest``: the longest leaf's length (Arrow's JSON reader
    needs every record inside one block: a 3 MB answer would otherwise "straddle" two 1 MB blocks)."""
    import pyarrow.json as pj

    read = pj.ReadOptions(block_size=max(1 << 20, 2 * longest + 2))
    for schema in _ENVELOPES:
        opts = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
        try:
            table = pj.read_json(io.BytesIO(data), read_options=read, parse_options=opts)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            error = exc
            continue
        if schema.field("fields").type.get_field_index("request_params") < 0 and b'"request_params":' in data:
            log.warning("a batch of %d ledger records holds request parameters of mixed types; read as unknown",
                        table.num_rows)
        return table
    raise InputError(f"ledger leaves are not canonical exchange records: {error}") from error


def _log_columns(env: pa.Table) -> pa.Table:
    """Envelope rows -> the guard log's columns (account -> account_id; request_id defaulted)."""
    fields = env["fields"].combine_chunks() if env.num_rows else pa.array([], type=_FIELDS)
    cols = {name: fields.field(name) for name in _FIELDS.names}
    fallback = pc.binary_join_element_wise("ledger:", pc.cast(env["seq"].combine_chunks(), pa.string()), "")
    cols["request_id"] = pc.coalesce(cols["request_id"], fallback)
    table = pa.table([cols[_RECORD_NAME.get(c, c)] for c in LOG_COLUMNS], names=list(LOG_COLUMNS))
    if fields.type.get_field_index("request_params") < 0 or not env.num_rows:
        return table
    params = fields.field("request_params")
    if not params.is_valid().to_numpy(zero_copy_only=False).any():
        return table  # no record says: an ordinary log, without the optional columns
    for name, column in _PARAMS.items():
        table = table.append_column(column, _param(params.field(name), name))
    return table


def _param(values: pa.Array, name: str) -> pa.Array:
    """One request parameter as its log column: a temperature written as a decimal string read as float64 (a string
    that is not a decimal number is unknown, and counted in the log); the others as they are."""
    if name != "temperature" or not pa.types.is_string(values.type):
        return values
    ok = pc.fill_null(pc.match_substring_regex(values, _DECIMAL), False)
    bad = pc.sum(pc.and_(pc.is_valid(values), pc.invert(ok))).as_py() or 0
    if bad:
        log.warning("%d ledger records hold a temperature that is not a decimal number; read as unknown", bad)
    return pc.cast(pc.if_else(ok, values, pa.scalar(None, pa.string())), pa.float64())
