"""Per-row keys' building blocks, the same on every engine: 64-bit hashes (DuckDB's and Spark's own), the sampling key
(:func:`sample_key`, also in Python for the streaming scorer), an address's network prefix, a prompt's normal
form and a request's configuration (each with its Python twin). Split out of :mod:`~stillwatch.guard.features.tables`,
which re-exports them."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping

import ibis
import ibis.expr.datatypes as dt


@ibis.udf.scalar.builtin(name="xxhash64")
def _xxhash64(x: str) -> dt.int64:  # Spark's 64-bit hash
    ...


@ibis.udf.scalar.builtin(name="hash")
def _duck_hash(x: str) -> dt.uint64:  # DuckDB's 64-bit hash
    ...


@ibis.udf.scalar.builtin(name="md5_number")
def _duck_md5_number(x: str) -> dt.uint64:  # DuckDB: the 16 md5 bytes as a little-endian UHUGEINT (typed here as
    ...                                     # uint64: only its low 64 bits, the first 8 bytes, are ever read)


@ibis.udf.scalar.builtin(name="conv")
def _spark_conv(x: str, base_from: int, base_to: int) -> str:  # Spark: base conversion
    ...


def hash64(expr: ibis.Value, engine: str, nullable: bool = True) -> ibis.Value:
    """An int64 hash of a string expression on ``engine`` (null stays null; ``nullable=False``: the
    caller knows it is never null, so it is not evaluated twice). On DuckDB the unsigned
    64-bit hash is folded into [0, 2^63 - 1) (Ibis' own ``hash()`` goes through a slow bit-string cast)."""
    if engine == "spark":
        h = _xxhash64(expr).cast("int64")
    else:
        h = (_duck_hash(expr) % ibis.literal(9223372036854775807, dt.uint64)).cast("int64")
    return ibis.ifelse(expr.isnull(), ibis.null(dt.int64), h) if nullable else h


def hash63(expr: ibis.StringValue, engine: str) -> ibis.Value:
    """A non-null string's int64 hash on ``engine``, cheaper than :func:`hash64` on DuckDB (the
    unsigned hash's top 63 bits, a shift instead of a division; other values than hash64's)."""
    if engine == "spark":
        return _xxhash64(expr).cast("int64")
    return (_duck_hash(expr) >> ibis.literal(1, dt.uint8)).cast("int64")


def sample_key(request_id: ibis.StringValue, engine: str) -> ibis.Value:
    """The sampling key of a row: the first 8 bytes of ``md5(request_id)`` read little-endian,
    modulo 2^60 (a non-negative int64, integer arithmetic only) — the same value on every engine
    and in :func:`sample_key_py`."""
    if engine == "spark":
        hx = request_id.hexdigest("md5")
        rev = hx.substr(14, 2)
        for i in range(6, -1, -1):
            rev = rev.concat(hx.substr(2 * i, 2))
        return _spark_conv(rev.substr(1, 15), 16, 10).cast("int64")  # the low 15 hex digits
    # the low 60 bits of md5_number (the first 8 bytes read little-endian, as md5_number_upper gives them): DuckDB
    # 2.0's md5_number_upper took 10 s of a 16M-row load on this machine, md5_number 1.5 s (the same values)
    return (_duck_md5_number(request_id) & ibis.literal((1 << 60) - 1, dt.uint64)).cast("int64")


def sample_key_py(request_id: str) -> int:
    """:func:`sample_key` in Python (for the streaming scorer)."""
    d = hashlib.md5(request_id.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(d[:8], "little") & ((1 << 60) - 1)


#: ASCII whitespace as RE2 (DuckDB) spells ``\s``; Java's ``\s`` adds \v, Python's all of Unicode's,
#: so the class is written out to mean the same on every engine.
_WS = "[\t\n\f\r ]"


#: An IPv6 address's "::" written out far enough that its first three groups are explicit.
_V6_FILL = ":0:0:0:0:0:0:"
_V6_HEAD = r"^([0-9a-f]*:[0-9a-f]*:[0-9a-f]*)"
_V4_HEAD = r"^([0-9]+\.[0-9]+\.[0-9]+)\."


def ip_prefix(ip: ibis.StringValue) -> ibis.StringValue:
    """The network prefix of an address as text: the first three octets of an IPv4 address (/24),
    the first three groups of an IPv6 address (/48, with ``::`` expanded; lower case); null when
    the text is neither. Addresses are compared as written (RFC 5952 canonical text for IPv6)."""
    v6 = ip.lower().replace("::", _V6_FILL).re_extract(_V6_HEAD, 1)
    v4 = ip.re_extract(_V4_HEAD, 1)
    p = ibis.ifelse(ip.contains(":"), v6, v4)
    return ibis.ifelse(p.isnull() | (p == ""), ibis.null(dt.string), p)


def ip_prefix_py(ip: str) -> str | None:
    """:func:`ip_prefix` in Python (for the streaming scorer)."""
    import re

    if ":" in ip:
        m = re.match(_V6_HEAD, ip.lower().replace("::", _V6_FILL))
    else:
        m = re.match(_V4_HEAD, ip)
    return m.group(1) if m and m.group(1) else None


def normalise(prompt: ibis.StringValue) -> ibis.StringValue:
    """Lower case, digit runs -> ``0``, whitespace runs -> one space, trimmed (see :func:`normalise_py`).

    Only runs of two or more whitespace characters, or a single tab/newline/form feed/carriage
    return, are rewritten (a single space is already normal): the same output as replacing every
    run, with far fewer regex replacements (about 30 % faster on DuckDB)."""
    return prompt.lower().re_replace(r"[0-9]+", "0").re_replace(f"{_WS}{_WS}+|[\t\n\f\r]", " ").strip()


def normalise_py(prompt: str) -> str:
    """The same normalisation in Python, for the streaming scorer (must match :func:`normalise`)."""
    import re

    return re.sub(f"{_WS}+", " ", re.sub(r"[0-9]+", "0", prompt.lower())).strip(" \t\n\r\x0b\x0c")


#: Optional log columns that describe the client's request (docs/guard-log-schema.md), in :func:`params_key`'s order.
PARAM_COLUMNS: tuple[str, ...] = ("temperature", "max_tokens", "system_prompt_hash")


def params_key(t: ibis.Table) -> ibis.StringValue | None:
    """A row's request parameters as text — the configuration of the client that sent it: the parameters the log
    records (:data:`PARAM_COLUMNS`: temperature in thousandths, rounded half up; max_tokens; the system-prompt
    hash), each written ``=value``, or ``~`` where the request did not set it (the API's default). Null when the
    row records none of them (nothing is known of its configuration), and None when the table has none of the
    columns (an ordinary log: no such kind at all).

    What it is for: an operator's harvesting client sends every account's requests with one configuration — its
    script's sampling settings and system prompt —, which people, each with their own tool and habits, share
    only as far as they share popular defaults. The configuration is an infrastructure value like a user agent
    (kept apart from it: an operator that rotates user agents keeps its script's parameters), and like one it
    counts only beyond its popularity (:mod:`~stillwatch.guard.score.infra_null`). The text is built with
    ``floor`` and integer casts only (no engine's rounding mode is involved), so DuckDB and Spark group the
    same rows together; its hash (:func:`hash64`) differs per engine, the grouping does not.
    Requires the present columns validated as ingest does: temperature finite and >= 0, max_tokens >= 0 (or null)."""
    present = [c for c in PARAM_COLUMNS if c in t.columns]
    if not present:
        return None
    none = ibis.literal("~")
    temp, mt, sph = (t[c] if c in present else None for c in PARAM_COLUMNS)
    milli = None if temp is None else (temp.clip(upper=1e9) * 1000.0 + 0.5).floor().cast("int64").cast("string")
    mt_s = None if mt is None else mt.cast("int64").cast("string")
    text = None
    recorded = None
    for v, raw in ((milli, temp), (mt_s, mt), (sph, sph)):
        part = none if v is None else ibis.ifelse(v.isnull(), none, ibis.literal("=").concat(v))
        text = part if text is None else text.concat(ibis.literal("|"), part)
        if raw is not None:
            recorded = raw.notnull() if recorded is None else recorded | raw.notnull()
    return ibis.ifelse(recorded, text, ibis.null(dt.string))


def params_key_py(row: Mapping) -> str | None:
    """:func:`params_key` of one row (the streaming scorer's): the same text for the same recorded values.

    ``row`` a mapping with the log's fields; a field it lacks is written ``~``, as is a value ingest would read as
    unknown (:mod:`~stillwatch.guard.log.ingest`: a temperature that is not a number, negative or not finite; a
    max_tokens that is not a whole number or negative; a system-prompt hash that is not text or not valid Unicode).
    Temperature in thousandths with the batch's own arithmetic (``floor(min(t, 1e9) * 1000 + 0.5)`` in binary
    floating point), so both round a value like 0.0005 alike. None when the row records none of the three."""
    temp, mt, sph = (row.get(c) for c in PARAM_COLUMNS)
    if isinstance(temp, bool) or not isinstance(temp, (int, float)) or not math.isfinite(temp) or temp < 0:
        temp = None
    if isinstance(mt, float) and mt.is_integer():
        mt = int(mt)
    if isinstance(mt, bool) or not isinstance(mt, int) or not 0 <= mt < 2**63:
        mt = None
    if isinstance(sph, str):
        try:
            sph.encode("utf-8")
        except UnicodeEncodeError:
            sph = None
    else:
        sph = None
    if temp is None and mt is None and sph is None:
        return None
    milli = None if temp is None else math.floor(min(float(temp), 1e9) * 1000.0 + 0.5)
    return "|".join("~" if v is None else f"={v}" for v in (milli, mt, sph))
