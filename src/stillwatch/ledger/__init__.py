"""Stillwatch's evidence ledger: an append-only, tamper-evident Merkle log (RFC 9162).

It holds every API exchange, each account's accepted terms of service, investment records for
each model, chain-of-custody and guard-policy records; signed checkpoints (Ed25519) fix its state,
inclusion proofs show a record is in it, consistency proofs show it only grew.

Python API (the gateway and auditors call this)::

    from stillwatch.ledger import Ledger, Exchange, ToSAcceptance, Investment

    led = Ledger.create("evidence.db", exchange_content="full")   # or "digest"; or a postgresql:// URL
    led = Ledger.open("evidence.db")                                # keys: evidence.db.key (0600) / .pub
    led = Ledger.open("evidence.db", pub_path=trusted, read_only=True)  # an auditor: nothing is written;
                                                                    # an unreadable trusted key is an error
    i = led.append(Exchange(account="acct-1", api_key_id="key-7", ts="2026-01-01T00:00:00Z",
                            model="m", spec_fingerprint="kgw-...", prompt="hi", response="hello"))
    # -> index; the record is on disk when append returns. Concurrent append() calls from
    #    several threads are group-committed (one transaction + fsync for all waiting callers).
    led.append_many([...])        # one transaction for a batch; returns the indices
    cp = led.checkpoint()         # checks the ledger extends its last signed checkpoint, then signs
    p = led.prove(i)              # InclusionProof(index, size, leaf_hash, hashes, root); p.verify()
    p, cp = led.prove_signed(i)   # the proof checked against a signed checkpoint (returned with it)
    led.append_and_checkpoint(recs, before_commit=f)  # records + checkpoint in one transaction;
                                  # f(cp, indices) runs before the commit (raise: nothing is stored)
    led.consistency(m)            # consistency proof from size m to now
    led.verify()                  # re-checks everything; raises TamperError saying where
    led.verify(since=old_checkpoint_text)
    led.close()                   # or use `with Ledger.open(...) as led:`

Records may also be given as dicts with a ``"type"`` key (``exchange``, ``tos_acceptance``,
``investment``, ``custody``, ``policy``) and the type's fields; see :mod:`.records` for the
canonical serialization. Pure RFC 9162 functions are in :mod:`.merkle`, checkpoints in
:mod:`.checkpoint`, evidence bundles in :mod:`.bundle`.

Secrets: the Ed25519 private key lives in a file of mode 0600 next to the database (SQLite) or at
``key_path`` (PostgreSQL) and never enters the ledger, messages or logs. Records must carry API key
*ids*, never API keys.
"""

from __future__ import annotations

from .checkpoint import Checkpoint, Signer, Verifier
from .errors import (
    HashSizeError,
    IndexOutOfRangeError,
    ProofSizeError,
    RecordError,
    RootMismatchError,
    SignatureError,
    StoreError,
    TamperError,
)
from .ledger import InclusionProof, Ledger
from .records import Custody, Exchange, Investment, Policy, ToSAcceptance

__all__ = [
    "Ledger",
    "InclusionProof",
    "Checkpoint",
    "Signer",
    "Verifier",
    "Exchange",
    "ToSAcceptance",
    "Investment",
    "Custody",
    "Policy",
    "HashSizeError",
    "IndexOutOfRangeError",
    "ProofSizeError",
    "RecordError",
    "RootMismatchError",
    "SignatureError",
    "StoreError",
    "TamperError",
]
