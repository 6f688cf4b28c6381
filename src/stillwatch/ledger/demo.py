"""The ledger's step of `stillwatch demo`: record the demo's exchanges, terms and investment, sign, prove."""

from __future__ import annotations

import datetime as _dt
import hashlib
import pathlib
from typing import Any

from . import merkle
from .checkpoint import load_verifier
from .ledger import Ledger
from .records import Exchange, Investment, ToSAcceptance

__all__ = ["demo_step", "DEMO_TERMS"]

DEMO_TERMS = (
    "Stillwatch demo API terms, version 2026-01. You may not use the outputs of this service to "
    "develop, train or improve models that compete with it."
)


def _utc(ts: Any) -> str:
    """Demo input times may lack a timezone; the demo states they are UTC."""
    if isinstance(ts, str):
        dt = _dt.datetime.fromisoformat(ts.strip())
    elif isinstance(ts, _dt.datetime):
        dt = ts
    else:
        raise TypeError(f"ts must be an ISO 8601 string or datetime, got {type(ts).__name__}")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=_dt.timezone.utc)
    return dt.isoformat()


def demo_step(workdir: pathlib.Path, exchanges: list[dict], accounts: list[str], model_id: str) -> dict:
    """Create a ledger under ``workdir``, record the demo, sign a checkpoint, verify one proof.

    ``exchanges``: dicts with account, api_key_id, ts (ISO string; naive times are taken as UTC),
    model, spec_fingerprint, prompt, response. Appends every exchange, one ``tos_acceptance`` per
    account and one ``investment`` record for ``model_id``; returns a JSON-safe summary.
    """
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "evidence-ledger.db"
    for suffix in ("", ".key", ".pub", "-wal", "-shm"):
        p = path.with_name(path.name + suffix)
        if p.exists():
            p.unlink()
    terms_sha = hashlib.sha256(DEMO_TERMS.encode()).hexdigest()
    first_ts = min((_utc(e["ts"]) for e in exchanges), default=_dt.datetime.now(_dt.timezone.utc).isoformat())
    with Ledger.create(path, origin="stillwatch.demo/evidence") as led:
        tos = [ToSAcceptance(account=a, terms_version="2026-01", terms_sha256=terms_sha, ts=first_ts,
                             source_address=f"192.0.2.{1 + n % 254}") for n, a in enumerate(accounts)]
        tos_idx = led.append_many(tos)
        recs = [Exchange(account=e["account"], api_key_id=e["api_key_id"], ts=_utc(e["ts"]), model=e["model"],
                         spec_fingerprint=e["spec_fingerprint"], prompt=e["prompt"], response=e["response"])
                for e in exchanges]
        ex_idx = led.append_many(recs)
        inv_idx = led.append(Investment(model_id=model_id, compute_hours="1840", cost="52000.00", currency="USD",
                                        dataset_digests=[hashlib.sha256(b"demo-sft-mix-v1").hexdigest()],
                                        notes="demo figures", ts=first_ts))
        cp = led.checkpoint()
        target = ex_idx[len(ex_idx) // 2] if ex_idx else inv_idx
        proof = led.prove(target, cp.size)
        verifier = load_verifier(led.pub_path)  # an auditor's view: public key file only
        checked = verifier.verify(cp.text, origin=led.origin)
        data, _ = led.record(target)
        try:
            merkle.verify_inclusion(merkle.leaf_hash(data), target, checked.size, list(proof.hashes), checked.root)
            verified = True
        except merkle.RootMismatchError:
            verified = False
        report = led.verify(raise_on_error=False)
        return {
            "ledger": str(path),
            "size": cp.size,
            "root": cp.root.hex(),
            "checkpoint": cp.text,
            "public_key": verifier.to_string(),
            "exchanges": len(ex_idx),
            "tos_acceptances": len(tos_idx),
            "investment_index": inv_idx,
            "proof_index": target,
            "proof_hashes": len(proof.hashes),
            "proof_verified": verified,
            "ledger_verified": report.ok,
        }
