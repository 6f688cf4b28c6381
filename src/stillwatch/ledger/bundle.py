"""Evidence bundles: selected records, their inclusion proofs, a signed checkpoint and the public key.

A bundle is one JSON file that :func:`check_bundle` (and ``stillwatch ledger check-bundle``)
verifies offline, with nothing but the bundle — or, better, with a public key obtained separately
(``trusted``), since a key inside the bundle only proves the bundle is self-consistent::

    {"format": "stillwatch-evidence-bundle/1", "origin": ..., "verifier_key": "<name>+<id>+<base64>",
     "checkpoint": "<signed note>", "exported_at": ..., "exported_by": ...,
     "records": [{"index": i, "data": "<canonical JSON of the leaf>", "leaf_hash": hex,
                  "proof": [hex, ...]}, ...],
     "consistency": {"checkpoint": "<older signed note>", "proof": [hex, ...]}   # optional
    }

Exporting appends a ``custody`` record (who exported what, when) and signs a checkpoint covering it
in one transaction, and puts that record in the bundle too; nothing is recorded unless the bundle
was built, checked and handed over (see :func:`export_bundle`).

Attacker model of :func:`check_bundle`: the bundle file is entirely in the attacker's hands (any
field may be edited, have another type, or be missing). What must hold: with a trusted key, a
bundle passes only if every record's data is in a tree whose root was signed by that key; every
malformed field is a :class:`VerificationError` naming it, never another exception.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from stillwatch.errors import KeyFileError

from . import merkle
from .checkpoint import Checkpoint, Verifier
from .errors import RecordError, TamperError, VerificationError
from .records import Custody, decode_leaf

if TYPE_CHECKING:
    from .ledger import Ledger

__all__ = ["BUNDLE_FORMAT", "export_bundle", "check_bundle", "select_indices"]

BUNDLE_FORMAT = "stillwatch-evidence-bundle/1"


def select_indices(
    ledger: Ledger, *, indices: Iterable[int] = (), account: str | None = None, kind: str | None = None
) -> list[int]:
    """Explicit ``indices`` plus every record matching ``account`` and/or ``kind`` (sorted, unique)."""
    out = set(int(i) for i in indices)
    if account is not None or kind is not None:
        for idx, k, data, _ in ledger.store.iter_leaves():
            if kind is not None and k != kind:
                continue
            if account is not None:
                fields = decode_leaf(bytes(data))["fields"]
                if not isinstance(fields, dict) or fields.get("account") != account:
                    continue
            out.add(idx)
    return sorted(out)


def export_bundle(
    ledger: Ledger,
    indices: Iterable[int],
    *,
    actor: str,
    since: str | None = None,
    note: str = "",
    before_commit: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Build an evidence bundle for ``indices``: appends a custody record and signs a checkpoint.

    Everything that can be checked is checked before anything is recorded: the indices, the
    ``since`` checkpoint (signature and consistency), each exported record against the latest signed
    checkpoint covering it, and the ledger against its last signed checkpoint (:mod:`.presign`).
    The custody record and the checkpoint are then written in one transaction, the finished bundle
    is checked with :func:`check_bundle`, and ``before_commit(bundle)`` runs (the CLI writes the
    file there); if any of this fails, neither the custody record nor the checkpoint is stored.
    """
    idx = sorted(set(indices))
    if any(isinstance(i, bool) or not isinstance(i, int) for i in idx):
        raise RecordError("record indices must be integers")
    size = ledger.size
    bad = [i for i in idx if not 0 <= i < size]
    if bad:
        raise RecordError(f"cannot export record(s) {bad[:5]}: the ledger has {size} records")
    old = ledger.verifier.verify(since, origin=ledger.origin) if since is not None else None
    signed = ledger.signed_checkpoints()
    covered = max((cp.size for _, cp in signed), default=0)
    for i in idx:
        if i < covered:  # records after the last checkpoint are checked by the pre-signing checks
            ledger.prove_signed(i)
    subject = f"{len(idx)} record(s): " + ",".join(map(str, idx[:50])) + ("..." if len(idx) > 50 else "")
    custody = Custody(actor=actor, action="export", subject=subject, details=note)
    out: dict[str, Any] = {}

    def build(cp: Checkpoint, new: list[int]) -> None:
        records = []
        for i in [*idx, *new]:
            data, _ = ledger.record(i)
            hashes = ledger.inclusion_hashes(i, cp.size)
            records.append({"index": i, "data": bytes(data).decode("utf-8"),
                            "leaf_hash": merkle.leaf_hash(bytes(data)).hex(), "proof": [h.hex() for h in hashes]})
        bundle: dict[str, Any] = {
            "format": BUNDLE_FORMAT,
            "origin": ledger.origin,
            "verifier_key": ledger.verifier.to_string(),
            "checkpoint": cp.text,
            "exported_by": actor,
            "records": records,
        }
        if old is not None:
            proof = ledger.consistency_hashes(old.size, cp.size)
            merkle.verify_consistency(old.size, cp.size, old.root, cp.root, proof)
            bundle["consistency"] = {"checkpoint": since, "proof": [h.hex() for h in proof]}
        check_bundle(bundle, ledger.signer().verifier)  # what we hand out must check, or nothing is recorded
        if before_commit is not None:
            before_commit(bundle)
        out.update(bundle)

    ledger.append_and_checkpoint([custody], before_commit=build)
    return out


def _hexes(value: Any, where: str) -> list[bytes]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise VerificationError(f"{where} must be a list of hex hashes")
    try:
        return [bytes.fromhex(v) for v in value]
    except ValueError as exc:
        raise VerificationError(f"{where} holds a value that is not hex") from exc


def _field(obj: dict[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in obj:
        raise VerificationError(f"{where} lacks {key!r}")
    value = obj[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise VerificationError(f"{where}: {key!r} must be a {_TYPE_NAMES[kind]}, got {type(value).__name__}")
    return value


_TYPE_NAMES = {str: "string", int: "integer", list: "list", dict: "JSON object"}


def _record(rec: Any, n: int) -> tuple[int, bytes, bytes, Any]:
    where = f"bundle record #{n}"
    if not isinstance(rec, dict):
        raise VerificationError(f"{where} must be a JSON object")
    index = _field(rec, "index", int, where)
    if index < 0:
        raise VerificationError(f"{where}: index {index} must be >= 0")
    try:
        data = _field(rec, "data", str, where).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise VerificationError(f"{where}: data is not valid Unicode text") from exc
    (leaf,) = _hexes([_field(rec, "leaf_hash", str, where)], f"{where} leaf_hash")
    return index, data, leaf, rec.get("proof")


def check_bundle(bundle: dict[str, Any] | str, trusted: Verifier | None = None) -> dict[str, Any]:
    """Verify a bundle offline; return a summary. Raises a VerificationError naming the record at fault."""
    if isinstance(bundle, str):
        try:
            bundle = json.loads(bundle)
        except json.JSONDecodeError as exc:
            raise VerificationError(f"bundle is not JSON: {exc}") from exc
    if not isinstance(bundle, dict) or bundle.get("format") != BUNDLE_FORMAT:
        raise VerificationError(f"not a {BUNDLE_FORMAT} bundle")
    origin = _field(bundle, "origin", str, "bundle")
    try:
        own = Verifier.from_string(_field(bundle, "verifier_key", str, "bundle"))
    except KeyFileError as exc:
        raise VerificationError(f"the bundle's verifier_key is malformed: {exc}") from exc
    if trusted is not None and trusted.to_string() != own.to_string():
        raise VerificationError("the bundle's public key is not the trusted key given")
    key = trusted or own
    cp = key.verify(_field(bundle, "checkpoint", str, "bundle"), origin=origin)
    checked = []
    for n, rec in enumerate(_field(bundle, "records", list, "bundle")):
        index, data, leaf, proof = _record(rec, n)
        if merkle.leaf_hash(data) != leaf:
            raise TamperError(f"record {index}: its data does not match its leaf hash", index)
        try:
            env = decode_leaf(data)
        except RecordError as exc:
            raise TamperError(f"record {index}: {exc}", index) from exc
        if env["seq"] != index:
            raise TamperError(f"record {index}: the data says seq {env['seq']}", index)
        try:
            merkle.verify_inclusion(leaf, index, cp.size, _hexes(proof, f"record {index} proof"), cp.root)
        except VerificationError as exc:
            raise TamperError(f"record {index}: inclusion proof fails: {exc}", index) from exc
        checked.append(index)
    out: dict[str, Any] = {
        "ok": True,
        "origin": cp.origin,
        "tree_size": cp.size,
        "root": cp.root.hex(),
        "records_checked": len(checked),
        "key": "trusted key given" if trusted is not None else "key from the bundle itself",
    }
    cons = bundle.get("consistency")
    if cons is not None:
        if not isinstance(cons, dict):
            raise VerificationError("bundle: 'consistency' must be a JSON object")
        old = key.verify(_field(cons, "checkpoint", str, "bundle consistency"), origin=origin)
        merkle.verify_consistency(old.size, cp.size, old.root, cp.root, _hexes(cons.get("proof"), "consistency proof"))
        out["consistent_with_size"] = old.size
    return out
