"""The report's findings as an in-toto Statement v1 inside a DSSE envelope signed by the case key.

- in-toto Statement v1 (https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md):
  ``{"_type": "https://in-toto.io/Statement/v1", "subject": [{"name", "digest": {"sha256"}}],
  "predicateType": <URI>, "predicate": {...}}``.
- DSSE v1 (https://github.com/secure-systems-lab/dsse/blob/master/protocol.md): the signature covers
  ``PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`` (LEN in ASCII decimal);
  the envelope is ``{"payload": b64(body), "payloadType": type, "signatures": [{"keyid", "sig": b64}]}``.

Attacker model: the other side may alter any byte of the envelope file. What must hold, given only
the case's public key: :func:`open_envelope` returns the statement only when an Ed25519 signature by
that key verifies over the PAE of exactly the payload and payload type in the file, and the file is
the one canonical serialization of its content (sorted keys, no whitespace, canonical base64), so no
byte of it can change without :func:`open_envelope` failing.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from cryptography.exceptions import InvalidSignature

from stillwatch.ledger import Verifier

from .errors import BundleError
from .keys import CaseKey, ed25519_public

__all__ = ["PAYLOAD_TYPE", "STATEMENT_TYPE", "PREDICATE_TYPE", "pae", "statement", "sign_envelope", "open_envelope"]

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "urn:stillwatch:predicate:case-findings:v1"


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding."""
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(t), t, len(payload), payload)


def statement(subjects: dict[str, str], predicate: dict[str, Any]) -> dict[str, Any]:
    """An in-toto Statement v1 over ``subjects`` (name -> sha256 hex), sorted by name."""
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": n, "digest": {"sha256": subjects[n]}} for n in sorted(subjects)],
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate,
    }


def sign_envelope(stmt: dict[str, Any], key: CaseKey) -> bytes:
    """The canonical bytes of a DSSE envelope holding ``stmt``, signed by ``key``."""
    body = _canonical(stmt)
    sig = key.sign(pae(PAYLOAD_TYPE, body))
    env = {"payload": base64.b64encode(body).decode(), "payloadType": PAYLOAD_TYPE,
           "signatures": [{"keyid": key.key_id, "sig": base64.b64encode(sig).decode()}]}
    return _canonical(env)


def _b64(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise BundleError("statement.dsse.json", f"{what} is not a string")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BundleError("statement.dsse.json", f"{what} is not base64") from exc
    if base64.b64encode(raw).decode() != text:
        raise BundleError("statement.dsse.json", f"{what} is not canonical base64")
    return raw


def open_envelope(data: bytes, key: Verifier) -> dict[str, Any]:
    """Verify a DSSE envelope with ``key`` and return its in-toto statement. Raises BundleError."""
    part = "statement.dsse.json"
    try:
        env = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(part, f"not JSON ({exc})") from exc
    if not isinstance(env, dict) or set(env) != {"payload", "payloadType", "signatures"}:
        raise BundleError(part, "not a DSSE envelope (keys payload, payloadType, signatures)")
    if _canonical(env) != data:
        raise BundleError(part, "not in canonical form (its bytes were altered)")
    if env["payloadType"] != PAYLOAD_TYPE:
        raise BundleError(part, f"payloadType is {env['payloadType']!r}, not {PAYLOAD_TYPE!r}")
    body = _b64(env["payload"], "payload")
    sigs = env["signatures"]
    if not isinstance(sigs, list) or not sigs:
        raise BundleError(part, "carries no signature")
    pub, kid, ok = ed25519_public(key), key.key_id.hex(), False
    for s in sigs:
        if not isinstance(s, dict) or set(s) != {"keyid", "sig"}:
            raise BundleError(part, "a signature entry is malformed")
        raw = _b64(s["sig"], "signature")
        if s["keyid"] != kid:
            continue
        try:
            pub.verify(raw, pae(env["payloadType"], body))
            ok = True
        except InvalidSignature:
            raise BundleError(part, f"the signature by key {kid} does not verify") from None
    if not ok:
        raise BundleError(part, f"no signature by the given key (key id {kid})")
    try:
        stmt = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(part, "the signed payload is not JSON") from exc
    if not isinstance(stmt, dict) or stmt.get("_type") != STATEMENT_TYPE or stmt.get("predicateType") != PREDICATE_TYPE:
        raise BundleError(part, f"the payload is not an in-toto {STATEMENT_TYPE} with predicate {PREDICATE_TYPE}")
    return stmt
