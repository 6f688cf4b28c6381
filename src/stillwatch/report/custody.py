"""A case's chain of custody: one signed, hash-chained line per thing done to the case.

Each line of ``custody.jsonl`` is the canonical JSON (sorted keys, no whitespace) of::

    {"seq": n, "ts": "<UTC ISO 8601>", "actor": who, "action": what, "subject": path or label,
     "sha256": digest of what was added, "bytes": its size, "meta": {kind, role, command, ...},
     "prev": SHA-256 hex of the previous line's bytes ("0" * 64 for the first), "sig": base64 Ed25519}

``sig`` is the case key's signature over the line's canonical JSON without ``sig``.

Attacker model: the other side may edit, reorder, delete or insert lines, or swap the files they
name. What must hold, given only the case's public key: :func:`verify_chain` fails naming the first
bad line when any line's bytes changed (signature), a line was inserted, deleted or reordered
(``seq``/``prev``), or a named file no longer has the recorded digest (checked by the caller with
:func:`expected_digests`). Truncating the *end* of the chain is caught by the signed statement of a
bundle, which records the chain's length and head.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature

from stillwatch.ledger import Verifier

from .errors import BundleError
from .keys import CaseKey, ed25519_public

__all__ = ["append_entry", "read_chain", "verify_chain", "head", "GENESIS"]

GENESIS = "0" * 64


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def read_chain(path: Path) -> list[bytes]:
    """The chain's lines (bytes, without newlines); empty when the file does not exist."""
    path = Path(path)
    if not path.exists():
        return []
    return [line for line in path.read_bytes().split(b"\n") if line]


def head(lines: list[bytes]) -> str:
    """SHA-256 hex of the last line (the chain's head), GENESIS for an empty chain."""
    return hashlib.sha256(lines[-1]).hexdigest() if lines else GENESIS


def append_entry(path: Path, key: CaseKey, *, actor: str, action: str, subject: str, sha256: str,
                 size: int, meta: dict[str, Any] | None = None, ts: str | None = None) -> dict[str, Any]:
    """Append one signed entry; returns it. The file is fsynced before this returns."""
    lines = read_chain(path)
    entry = {
        "seq": len(lines), "ts": ts or dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor": actor, "action": action, "subject": subject, "sha256": sha256, "bytes": int(size),
        "meta": meta or {}, "prev": head(lines),
    }
    entry["sig"] = base64.b64encode(key.sign(_canonical(entry))).decode()
    with Path(path).open("ab") as fh:
        fh.write(_canonical(entry) + b"\n")
        fh.flush()
        os.fsync(fh.fileno())
    return entry


def verify_chain(data: bytes, key: Verifier, part: str = "custody.jsonl") -> list[dict[str, Any]]:
    """Check every line's signature and links; return the entries. Raises BundleError naming the line."""
    if data and not data.endswith(b"\n"):
        raise BundleError(part, "does not end with a newline (truncated or altered)")
    lines = data.split(b"\n")[:-1] if data else []
    pub, prev, out = ed25519_public(key), GENESIS, []
    for n, line in enumerate(lines):
        where = f"{part} line {n + 1}"
        try:
            entry = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise BundleError(where, "not JSON") from None
        if not isinstance(entry, dict) or _canonical(entry) != line:
            raise BundleError(where, "not in canonical form (its bytes were altered)")
        sig_txt = entry.pop("sig", None)
        try:
            sig = base64.b64decode(sig_txt or "", validate=True)
            pub.verify(sig, _canonical(entry))
        except (binascii.Error, ValueError, TypeError, InvalidSignature):
            raise BundleError(where, "its signature by the case key does not verify") from None
        if entry.get("seq") != n:
            raise BundleError(where, f"says seq {entry.get('seq')!r}; lines were inserted, deleted or reordered")
        if entry.get("prev") != prev:
            raise BundleError(where, "does not link to the line before it (prev hash differs)")
        prev = hashlib.sha256(line).hexdigest()
        out.append(entry)
    return out
