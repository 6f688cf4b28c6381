"""Record types of the ledger and their canonical serialization.

Each leaf of the log is the canonical JSON of one record envelope::

    {"fields": {...}, "seq": <leaf index>, "type": "<record type>", "v": 1}

Canonical JSON (reproducible by anyone, in any language): UTF-8, object keys sorted, no
whitespace (separators ``,`` and ``:``), non-ASCII characters written as themselves, no floats
(numbers that are not integers are written as decimal strings, e.g. ``"12.5"``), integers within
``±(2**53 - 1)``. This is the subset of RFC 8785 (JCS) where both agree. The leaf hash is
``SHA-256(0x00 || canonical bytes)`` (RFC 9162). ``seq`` binds each record to its position, so a
reordered, inserted or deleted row is pinpointed by ``verify``.

Types (all times are ISO 8601 with a timezone, normalized to UTC ``YYYY-MM-DDTHH:MM:SS.ffffffZ``):

- ``exchange``: account, api_key_id (the key's public id, never the key), ts, model,
  spec_fingerprint (watermark spec), and either ``prompt``/``response`` (content ``full``) or
  ``prompt_sha256``/``response_sha256`` (content ``digest``: SHA-256 of the UTF-8 text), chosen
  per ledger at ``init``. Optional request metadata, written only when given (so records without
  it keep their canonical bytes): request_id, ip (client address), user_agent,
  payment_fingerprint (an opaque fingerprint, never card data), prompt_tokens, completion_tokens,
  request_params (the request's sampling parameters and the system prompt's SHA-256, a flat object
  of strings, integers, booleans and nulls; numbers that are not integers as decimal strings).
  With it, ``guard scan`` reads a ledger as an API log.
- ``tos_acceptance``: account, terms_version, terms_sha256, ts, source_address (an IP address).
- ``investment``: model_id, compute_hours, cost, currency, dataset_digests, notes, ts.
- ``custody``: actor, action, subject, ts, details (who exported what, when).
- ``policy``: account, decision (allow / throttle / block), reason, scores, policy_version, ts.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import ipaddress
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from .errors import RecordError

__all__ = [
    "CONTENT_MODES",
    "Exchange",
    "ToSAcceptance",
    "Investment",
    "Custody",
    "Policy",
    "RECORD_TYPES",
    "canonical_json",
    "record_from_dict",
    "leaf_bytes",
    "decode_leaf",
    "normalize_ts",
    "text_digest",
]

CONTENT_MODES = ("full", "digest")
_MAX_INT = 2**53 - 1
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_DECIMAL = re.compile(r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?$")


def _check_json(value: Any, path: str) -> None:
    if value is None or isinstance(value, (bool, str)):
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise RecordError(f"{path} is not valid Unicode text (lone surrogate)") from exc
        return
    if isinstance(value, int):
        if abs(value) > _MAX_INT:
            raise RecordError(f"{path} = {value} is outside ±(2**53 - 1); write it as a decimal string")
        return
    if isinstance(value, float):
        raise RecordError(f"{path} is a float; canonical records hold decimals as strings")
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise RecordError(f"{path} has a non-string key {k!r}")
            _check_json(v, f"{path}.{k}")
        return
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_json(v, f"{path}[{i}]")
        return
    raise RecordError(f"{path} has unsupported type {type(value).__name__}")


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_json(obj: Any) -> bytes:
    """Canonical JSON bytes of ``obj`` (see the module docstring); raises RecordError on floats etc."""
    _check_json(obj, "record")
    return _ENCODER.encode(obj).encode()


def normalize_ts(value: Any, name: str = "ts") -> str:
    """Parse an ISO 8601 time with a timezone (or a datetime) and return it as UTC ``...Z``."""
    if isinstance(value, _dt.datetime):
        dt = value
    elif isinstance(value, str):
        try:
            dt = _dt.datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise RecordError(f"{name} {value!r} is not an ISO 8601 time") from exc
    else:
        raise RecordError(f"{name} must be an ISO 8601 string, got {type(value).__name__}")
    if dt.tzinfo is None:
        raise RecordError(f"{name} {value!s} has no timezone; add one, e.g. 'Z' or '+00:00'")
    return dt.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def text_digest(text: str) -> str:
    """SHA-256 hex digest of ``text`` encoded as UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _decimal(value: Any, name: str) -> str:
    if isinstance(value, bool):
        raise RecordError(f"{name} must be a number, got a bool")
    if isinstance(value, float):
        value = repr(value)
    if isinstance(value, (int, Decimal)):
        value = str(value)
    if not isinstance(value, str):
        raise RecordError(f"{name} must be a number or decimal string, got {type(value).__name__}")
    try:
        d = Decimal(value)
    except InvalidOperation as exc:
        raise RecordError(f"{name} {value!r} is not a decimal number") from exc
    if not d.is_finite():
        raise RecordError(f"{name} {value!r} must be finite")
    text = format(d.normalize(), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text == "-0":
        text = "0"
    assert _DECIMAL.match(text), text
    return text


def _text(value: Any, name: str, *, allow_empty: bool = False, max_len: int | None = None) -> str:
    if not isinstance(value, str):
        raise RecordError(f"{name} must be a string, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise RecordError(f"{name} must not be empty")
    if max_len is not None and len(value) > max_len:
        raise RecordError(f"{name} is {len(value)} characters long; at most {max_len} allowed")
    _check_json(value, name)
    return value


def _hex64(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise RecordError(f"{name} must be a hex string")
    v = value.lower().removeprefix("sha256:")
    if not _HEX64.match(v):
        raise RecordError(f"{name} {value[:80]!r} is not a SHA-256 hex digest (64 hex digits)")
    return v


def _flat_params(value: Any) -> dict[str, Any]:
    """A flat mapping of names to str / int / bool / None; floats become decimal strings."""
    if not isinstance(value, dict):
        raise RecordError(f"request_params must be a mapping, got {type(value).__name__}")
    out: dict[str, Any] = {}
    for k, v in value.items():
        if not isinstance(k, str) or not k or len(k) > 64:
            raise RecordError(f"request_params key {k!r} must be a non-empty string of at most 64 characters")
        if isinstance(v, float):
            v = _decimal(v, f"request_params.{k}")
        elif isinstance(v, str):
            v = _text(v, f"request_params.{k}", allow_empty=True, max_len=512)
        elif v is not None and not isinstance(v, (bool, int)):
            raise RecordError(f"request_params.{k} must be a string, number, boolean or null, got {type(v).__name__}")
        _check_json(v, f"request_params.{k}")
        out[k] = v
    return out


class _Record:
    TYPE: ClassVar[str]

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)

    def fields(self, content: str = "full") -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]


@dataclass(frozen=True)
class Exchange(_Record):
    """One API exchange. Stored in full or as digests, by the ledger's ``exchange_content``."""

    TYPE: ClassVar[str] = "exchange"
    account: str
    api_key_id: str
    ts: str
    model: str
    spec_fingerprint: str
    prompt: str
    response: str
    request_id: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    payment_fingerprint: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    request_params: dict[str, Any] | None = None

    #: Request metadata: emitted in :meth:`fields` only when set.
    OPTIONAL: ClassVar[tuple[str, ...]] = (
        "request_id", "ip", "user_agent", "payment_fingerprint", "prompt_tokens", "completion_tokens",
        "request_params")

    def __post_init__(self) -> None:
        for name in ("account", "api_key_id", "model"):
            _text(getattr(self, name), name, max_len=512)
        _text(self.spec_fingerprint, "spec_fingerprint", allow_empty=True, max_len=512)
        _text(self.prompt, "prompt", allow_empty=True)
        _text(self.response, "response", allow_empty=True)
        self._set("ts", normalize_ts(self.ts))
        for name in ("request_id", "user_agent", "payment_fingerprint"):
            if getattr(self, name) is not None:
                _text(getattr(self, name), name, max_len=512)
        if self.ip is not None:
            try:
                self._set("ip", str(ipaddress.ip_address(str(self.ip).strip())))
            except ValueError as exc:
                raise RecordError(f"ip {self.ip!r} is not an IP address") from exc
        for name in ("prompt_tokens", "completion_tokens"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= _MAX_INT):
                raise RecordError(f"{name} = {v!r} must be an integer in [0, 2**53 - 1]")
        if self.request_params is not None:
            self._set("request_params", _flat_params(self.request_params))

    def fields(self, content: str = "full") -> dict[str, Any]:
        if content not in CONTENT_MODES:
            raise RecordError(f"exchange content {content!r} must be one of {CONTENT_MODES}")
        out: dict[str, Any] = {
            "account": self.account,
            "api_key_id": self.api_key_id,
            "ts": self.ts,
            "model": self.model,
            "spec_fingerprint": self.spec_fingerprint,
            "content": content,
        }
        if content == "full":
            out["prompt"], out["response"] = self.prompt, self.response
        else:
            out["prompt_sha256"], out["response_sha256"] = text_digest(self.prompt), text_digest(self.response)
        for name in self.OPTIONAL:
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out


@dataclass(frozen=True)
class ToSAcceptance(_Record):
    """An account accepting a version of the terms of service."""

    TYPE: ClassVar[str] = "tos_acceptance"
    account: str
    terms_version: str
    terms_sha256: str
    ts: str
    source_address: str

    def __post_init__(self) -> None:
        _text(self.account, "account", max_len=512)
        _text(self.terms_version, "terms_version", max_len=128)
        self._set("terms_sha256", _hex64(self.terms_sha256, "terms_sha256"))
        self._set("ts", normalize_ts(self.ts))
        try:
            self._set("source_address", str(ipaddress.ip_address(str(self.source_address).strip())))
        except ValueError as exc:
            raise RecordError(f"source_address {self.source_address!r} is not an IP address") from exc


@dataclass(frozen=True)
class Investment(_Record):
    """What was invested in a model: compute, cost, datasets."""

    TYPE: ClassVar[str] = "investment"
    model_id: str
    compute_hours: Any
    cost: Any
    currency: str = "USD"
    dataset_digests: tuple[str, ...] = ()
    notes: str = ""
    ts: str = ""

    def __post_init__(self) -> None:
        _text(self.model_id, "model_id", max_len=512)
        self._set("compute_hours", _decimal(self.compute_hours, "compute_hours"))
        self._set("cost", _decimal(self.cost, "cost"))
        if not isinstance(self.currency, str) or not re.fullmatch(r"[A-Z]{3}", self.currency):
            raise RecordError(f"currency {self.currency!r} must be a 3-letter ISO 4217 code like 'USD'")
        if isinstance(self.dataset_digests, str) or not isinstance(self.dataset_digests, (list, tuple)):
            raise RecordError("dataset_digests must be a list of SHA-256 hex digests")
        self._set("dataset_digests", tuple(_hex64(d, f"dataset_digests[{i}]") for i, d in enumerate(self.dataset_digests)))
        _text(self.notes, "notes", allow_empty=True)
        if self.compute_hours.startswith("-") or self.cost.startswith("-"):
            raise RecordError("compute_hours and cost must be >= 0")
        self._set("ts", normalize_ts(self.ts) if self.ts else normalize_ts(_dt.datetime.now(_dt.timezone.utc)))

    def fields(self, content: str = "full") -> dict[str, Any]:
        out = super().fields(content)
        out["dataset_digests"] = list(self.dataset_digests)
        return out


@dataclass(frozen=True)
class Custody(_Record):
    """Chain of custody: who did what with the evidence, when."""

    TYPE: ClassVar[str] = "custody"
    actor: str
    action: str
    subject: str
    ts: str = ""
    details: str = ""

    def __post_init__(self) -> None:
        _text(self.actor, "actor", max_len=512)
        _text(self.action, "action", max_len=128)
        _text(self.subject, "subject", allow_empty=True)
        _text(self.details, "details", allow_empty=True)
        self._set("ts", normalize_ts(self.ts) if self.ts else normalize_ts(_dt.datetime.now(_dt.timezone.utc)))


_DECISIONS = ("allow", "throttle", "block")


@dataclass(frozen=True)
class Policy(_Record):
    """A guard decision about an account."""

    TYPE: ClassVar[str] = "policy"
    account: str
    decision: str
    reason: str
    ts: str
    scores: dict[str, Any] = field(default_factory=dict)
    policy_version: str = ""

    def __post_init__(self) -> None:
        _text(self.account, "account", max_len=512)
        if self.decision not in _DECISIONS:
            raise RecordError(f"decision {self.decision!r} must be one of {_DECISIONS}")
        _text(self.reason, "reason", allow_empty=True)
        _text(self.policy_version, "policy_version", allow_empty=True, max_len=128)
        self._set("ts", normalize_ts(self.ts))
        if not isinstance(self.scores, dict):
            raise RecordError("scores must be a mapping of name to number")
        scores = {}
        for k, v in self.scores.items():
            if not isinstance(k, str):
                raise RecordError(f"scores key {k!r} must be a string")
            scores[k] = _decimal(v, f"scores.{k}")
        self._set("scores", scores)


RECORD_TYPES: dict[str, type[_Record]] = {
    cls.TYPE: cls for cls in (Exchange, ToSAcceptance, Investment, Custody, Policy)
}


def record_from_dict(d: dict[str, Any]) -> _Record:
    """Build a record from a dict with a ``type`` key and the type's fields (a CLI/JSON helper)."""
    if not isinstance(d, dict):
        raise RecordError(f"a record must be a JSON object, got {type(d).__name__}")
    kind = d.get("type")
    if kind not in RECORD_TYPES:
        raise RecordError(f"record type {kind!r} must be one of {sorted(RECORD_TYPES)}")
    cls = RECORD_TYPES[kind]
    names = {f.name for f in dataclasses.fields(cls)}
    extra = sorted(set(d) - names - {"type"})
    if extra:
        raise RecordError(f"{kind} record has unknown field(s) {extra}; allowed: {sorted(names)}")
    try:
        return cls(**{k: v for k, v in d.items() if k != "type"})
    except TypeError as exc:
        missing = sorted(n for n in names if n not in d)
        raise RecordError(f"{kind} record is missing field(s) {missing}") from exc


def leaf_bytes(record: _Record, seq: int, content: str = "full") -> bytes:
    """The canonical leaf data of ``record`` at index ``seq``."""
    if not isinstance(record, _Record):
        raise RecordError(f"expected a ledger record (Exchange, ToSAcceptance, ...), got {type(record).__name__}")
    # Fields were validated when the record was built (strings, ints, lists/dicts of strings only),
    # so the envelope goes straight to the canonical encoder.
    return _ENCODER.encode({"fields": record.fields(content), "seq": seq, "type": record.TYPE, "v": 1}).encode()


def decode_leaf(data: bytes) -> dict[str, Any]:
    """Parse leaf data back into its envelope dict (no validation beyond JSON and the envelope keys)."""
    try:
        env = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecordError(f"leaf data is not canonical JSON: {exc}") from exc
    if not isinstance(env, dict) or set(env) != {"fields", "seq", "type", "v"}:
        raise RecordError("leaf data is not a ledger record envelope")
    return env
