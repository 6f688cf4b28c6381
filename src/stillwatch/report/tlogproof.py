"""C2SP ``tlog-proof`` (https://c2sp.org/tlog-proof, ``c2sp.org/tlog-proof@v1``): an offline-verifiable
proof that one entry is in a transparency log, written from the spec::

    c2sp.org/tlog-proof@v1
    [extra <base64 opaque data>]          (optional; unauthenticated, never trusted)
    index <decimal, no leading zeroes>
    <base64 SHA-256 hash>                 (zero or more: the RFC 6962 inclusion path, leaf's sibling first)
    ...
    <empty line>
    <the log's checkpoint, verbatim: a C2SP signed note>

The entry's leaf hash is not in the proof: the verifier recomputes it from the entry itself,
``SHA-256(0x00 || entry bytes)`` (RFC 6962/9162), here the exhibited record's canonical bytes.

Attacker model: the other side may alter any byte of a proof, of the record it proves, or swap
either for another. What must hold: :func:`verify` accepts only when the record's leaf hash, at the
stated index, folds through the stated path to the root of a checkpoint whose signature verifies
with the trusted log key; and :func:`parse` accepts only the canonical text of a proof, so a proof
that verifies has exactly one spelling (non-canonical base64, leading zeroes, stray spaces or
trailing lines are refused).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from stillwatch.ledger import Checkpoint, Verifier
from stillwatch.ledger import merkle
from stillwatch.ledger.errors import VerificationError

__all__ = ["HEADER", "TlogProof", "format_proof", "parse", "verify"]

HEADER = "c2sp.org/tlog-proof@v1"


@dataclass(frozen=True)
class TlogProof:
    index: int
    hashes: tuple[bytes, ...]
    checkpoint: str
    extra: bytes | None = None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise VerificationError(f"{what} is not base64") from exc
    if _b64(raw) != text:
        raise VerificationError(f"{what} is not canonical base64")
    return raw


def format_proof(index: int, hashes: list[bytes] | tuple[bytes, ...], checkpoint: str, extra: bytes | None = None) -> str:
    """The proof's text. Requires ``index >= 0``, 32-byte hashes and a signed-note ``checkpoint``."""
    if index < 0:
        raise ValueError(f"index {index} must be >= 0")
    lines = [HEADER]
    if extra is not None:
        lines.append("extra " + _b64(extra))
    lines.append(f"index {int(index)}")
    for h in hashes:
        if len(h) != 32:
            raise ValueError(f"inclusion path hashes must be 32 bytes, got {len(h)}")
        lines.append(_b64(h))
    return "\n".join(lines) + "\n\n" + checkpoint


def parse(text: str) -> TlogProof:
    """Parse a proof (no signature or path check: see :func:`verify`). Raises VerificationError."""
    head, sep, checkpoint = text.partition("\n\n")
    if not sep:
        raise VerificationError("no empty line between the inclusion path and the checkpoint")
    lines = head.split("\n")
    if lines[0] != HEADER:
        raise VerificationError(f"first line is not {HEADER!r}")
    pos, extra = 1, None
    if len(lines) > pos and lines[pos].startswith("extra "):
        extra = _unb64(lines[pos][6:], "extra data")
        pos += 1
    if len(lines) <= pos or not lines[pos].startswith("index "):
        raise VerificationError("no 'index' line")
    digits = lines[pos][6:]
    if not digits.isdigit() or not digits.isascii() or (len(digits) > 1 and digits[0] == "0"):
        raise VerificationError(f"index {digits!r} is not a decimal without leading zeroes")
    hashes = []
    for n, line in enumerate(lines[pos + 1:]):
        h = _unb64(line, f"inclusion path hash #{n}")
        if len(h) != 32:
            raise VerificationError(f"inclusion path hash #{n} is {len(h)} bytes, not 32")
        hashes.append(h)
    return TlogProof(int(digits), tuple(hashes), checkpoint, extra)


def verify(text: str, entry: bytes, log_key: Verifier, origin: str | None = None,
           checked: Checkpoint | None = None) -> tuple[TlogProof, Checkpoint]:
    """Verify that ``entry`` is in the log at the proof's index, against a checkpoint signed by
    ``log_key`` (and of ``origin`` when given). Returns the parsed proof and the checked checkpoint.
    ``checked``: a checkpoint whose signature the caller already verified (its ``text``); a proof
    carrying exactly that text is not re-verified (many proofs share one checkpoint), any other is.
    Raises a VerificationError (its subclass says which check) otherwise."""
    proof = parse(text)
    if checked is not None and checked.text and proof.checkpoint == checked.text:
        cp = checked
    else:
        cp = log_key.verify(proof.checkpoint, origin=origin)
    if not proof.index < cp.size:
        raise VerificationError(f"index {proof.index} is not inside the checkpoint's tree of size {cp.size}")
    merkle.verify_inclusion(merkle.leaf_hash(entry), proof.index, cp.size, list(proof.hashes), cp.root)
    return proof, cp
