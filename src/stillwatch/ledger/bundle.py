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

Exporting appends a ``custody`` record (who exported what, when) before the checkpoint is signed,
and puts that record in the bundle too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from . import merkle
from .checkpoint import Verifier
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
            if account is not None and decode_leaf(bytes(data))["fields"].get("account") != account:
                continue
            out.add(idx)
    return sorted(out)


def export_bundle(
    ledger: Ledger, indices: Iterable[int], *, actor: str, since: str | None = None, note: str = ""
) -> dict[str, Any]:
    """Build an evidence bundle for ``indices`` (appends a custody record and signs a checkpoint)."""
    idx = sorted(set(int(i) for i in indices))
    size = ledger.size
    bad = [i for i in idx if not 0 <= i < size]
    if bad:
        raise RecordError(f"cannot export record(s) {bad[:5]}: the ledger has {size} records")
    subject = f"{len(idx)} record(s): " + ",".join(map(str, idx[:50])) + ("..." if len(idx) > 50 else "")
    custody = ledger.append(Custody(actor=actor, action="export", subject=subject, details=note))
    cp = ledger.checkpoint()
    records = []
    for i in [*idx, custody]:
        data, _ = ledger.record(i)
        p = ledger.prove(i, cp.size)
        records.append({"index": i, "data": data.decode("utf-8"), "leaf_hash": p.leaf_hash.hex(),
                        "proof": [h.hex() for h in p.hashes]})
    bundle: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "origin": ledger.origin,
        "verifier_key": ledger.verifier.to_string(),
        "checkpoint": cp.text,
        "exported_by": actor,
        "records": records,
    }
    if since is not None:
        old = ledger.verifier.verify(since, origin=ledger.origin)
        proof = ledger.consistency(old.size, cp.size)
        merkle.verify_consistency(old.size, cp.size, old.root, cp.root, proof)
        bundle["consistency"] = {"checkpoint": since, "proof": [h.hex() for h in proof]}
    return bundle


def _hexes(value: Any, where: str) -> list[bytes]:
    if not isinstance(value, list):
        raise VerificationError(f"{where} must be a list of hex hashes")
    try:
        return [bytes.fromhex(v) for v in value]
    except (TypeError, ValueError) as exc:
        raise VerificationError(f"{where} holds a value that is not hex") from exc


def check_bundle(bundle: dict[str, Any] | str, trusted: Verifier | None = None) -> dict[str, Any]:
    """Verify a bundle offline; return a summary. Raises a VerificationError naming the record at fault."""
    if isinstance(bundle, str):
        try:
            bundle = json.loads(bundle)
        except json.JSONDecodeError as exc:
            raise VerificationError(f"bundle is not JSON: {exc}") from exc
    if not isinstance(bundle, dict) or bundle.get("format") != BUNDLE_FORMAT:
        raise VerificationError(f"not a {BUNDLE_FORMAT} bundle")
    for key in ("origin", "verifier_key", "checkpoint", "records"):
        if key not in bundle:
            raise VerificationError(f"bundle lacks {key!r}")
    own = Verifier.from_string(bundle["verifier_key"])
    if trusted is not None and trusted.to_string() != own.to_string():
        raise VerificationError("the bundle's public key is not the trusted key given")
    key = trusted or own
    cp = key.verify(bundle["checkpoint"], origin=bundle["origin"])
    checked = []
    for n, rec in enumerate(bundle["records"]):
        try:
            index, data = int(rec["index"]), rec["data"].encode("utf-8")
            leaf = bytes.fromhex(rec["leaf_hash"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise VerificationError(f"bundle record #{n} is malformed") from exc
        if merkle.leaf_hash(data) != leaf:
            raise TamperError(f"record {index}: its data does not match its leaf hash", index)
        env = decode_leaf(data)
        if env["seq"] != index:
            raise TamperError(f"record {index}: the data says seq {env['seq']}", index)
        try:
            merkle.verify_inclusion(leaf, index, cp.size, _hexes(rec.get("proof"), f"record {index} proof"), cp.root)
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
        old = key.verify(cons["checkpoint"], origin=bundle["origin"])
        merkle.verify_consistency(old.size, cp.size, old.root, cp.root, _hexes(cons.get("proof"), "consistency proof"))
        out["consistent_with_size"] = old.size
    return out
