"""Checks made before anything is signed: the ledger must extend its last signed checkpoint.

Attacker model: someone who can write the database file (edit, insert or delete rows in any table,
rebuild the ``leaves``/``nodes`` tables so they agree with an edit) but does not hold the signing
key. Such an attacker cannot make a forged record verify against a checkpoint signed *before* the
edit — unless the ledger signs a new checkpoint over the forged tree. So before signing:

1. every stored checkpoint must carry a valid signature by this ledger's key (an altered
   ``checkpoints`` table is refused, not skipped);
2. the stored tree at the size ``m`` of the last signed checkpoint must have exactly its signed root
   (the compact range at ``m`` is read from the stored subtree hashes and folded);
3. every record after it (``[m, n)``, not yet covered by any signature) must hash to its stored leaf
   hash, carry its own index as ``seq``, and the tree recomputed from those records' *data* must have
   the stored tree's root at ``n``;
4. the RFC 9162 consistency proof from ``(m, signed root)`` to ``(n, root)`` (section 2.1.4) must verify.

Any failure raises :class:`TamperError` naming what differs and refusing to sign.

What these checks do not re-read (to keep a checkpoint O(new records + log n), not O(n)): the data
of records below ``m``. An edit there whose leaf hash was recomputed but whose covering stored
subtree hash still holds the signed value leaves the stored tree with the signed root; the new
checkpoint then attests the *original* records, never the edit, which can never be proven
(``prove``/``export`` recompute each leaf hash from the record's data and refuse), and ``verify``
names the record. What the checks
return — the compact range at ``m`` and the recomputed leaf hashes of ``[m, n)`` — is stored with the
new checkpoint as its *manifest* (see :mod:`.verify`), so a later edit can be pinpointed by record.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import merkle
from .checkpoint import Checkpoint, Verifier
from .errors import RecordError, SignatureError, StoreError, TamperError, VerificationError
from .records import decode_leaf
from .store import Store
from .tree import CompactRange, StoredTree

__all__ = ["SignedBase", "signed_checkpoints", "check_before_signing"]

_REFUSE = "refusing to sign"
_HINT = "run `stillwatch ledger verify` to see what changed"


@dataclass
class SignedBase:
    """What a new checkpoint extends: the last signed one (``None`` if none), the compact range at
    its size, and the leaf hashes of the records after it, recomputed from their data."""

    last: Checkpoint | None
    last_id: int | None
    range: CompactRange
    tail_hashes: list[bytes]


def signed_checkpoints(store: Store, verifier: Verifier, origin: str) -> tuple[list[tuple[int, Checkpoint]], list[int]]:
    """(validly signed stored checkpoints as (id, checkpoint), ids of stored rows that are not)."""
    good: list[tuple[int, Checkpoint]] = []
    bad: list[int] = []
    for cid, size, root, text in store.checkpoints():
        try:
            cp = verifier.verify(text, origin=origin)
        except SignatureError:
            bad.append(cid)
            continue
        if cp.size != size or cp.root != bytes(root):
            bad.append(cid)
            continue
        good.append((cid, cp))
    return good, bad


def _latest(good: list[tuple[int, Checkpoint]]) -> tuple[int | None, Checkpoint | None]:
    if not good:
        return None, None
    cid, cp = max(good, key=lambda t: (t[1].size, t[0]))
    return cid, cp


def check_before_signing(store: Store, tree: StoredTree, verifier: Verifier, origin: str, size: int) -> SignedBase:
    """Run checks 1-4 of the module docstring on the first ``size`` records (inside the writer's transaction)."""
    good, bad = signed_checkpoints(store, verifier, origin)
    if bad:
        raise TamperError(f"{_REFUSE}: stored checkpoint #{bad[0]} is not validly signed by this ledger's key "
                          f"(the checkpoints table was altered); {_HINT}")
    cid, last = _latest(good)
    m = 0 if last is None else last.size
    if m > size:
        raise TamperError(f"{_REFUSE}: signed checkpoint #{cid} covers {m} records but the ledger has only {size} "
                          f"(records {size}..{m - 1} were deleted); {_HINT}", size, (size, m))
    try:
        rng = tree.load_range(m)
    except StoreError as exc:
        raise TamperError(f"{_REFUSE}: the stored tree below signed checkpoint #{cid} is damaged ({exc}); {_HINT}") from exc
    if last is not None and rng.root() != last.root:
        raise TamperError(f"{_REFUSE}: records 0..{m - 1} no longer have the root signed in checkpoint #{cid} "
                          f"(size {m}): they were changed after they were signed; {_HINT}", None, (0, m))
    base = rng.copy()
    tail = _tail_hashes(store, m, size, base)
    try:
        stored_root = tree.root_at(size)
    except StoreError as exc:
        raise TamperError(f"{_REFUSE}: the stored tree is damaged ({exc}); {_HINT}") from exc
    if base.root() != stored_root:
        raise TamperError(f"{_REFUSE}: the stored subtree hashes over records {m}..{size - 1} disagree with the "
                          f"records' data; {_HINT}", None, (m, size))
    if last is not None and m < size:
        try:
            proof = tree.consistency_proof(m, size)
            merkle.verify_consistency(m, size, last.root, stored_root, proof)
        except (VerificationError, StoreError) as exc:
            raise TamperError(f"{_REFUSE}: the ledger is not consistent with signed checkpoint #{cid} (size {m}): "
                              f"{exc}; {_HINT}") from exc
    return SignedBase(last, cid, rng, tail)


def _tail_hashes(store: Store, m: int, size: int, rng: CompactRange) -> list[bytes]:
    """Leaf hashes of records ``[m, size)`` recomputed from their data (appended to ``rng``), checked row by row."""
    out: list[bytes] = []
    expected = m
    for idx, _kind, data, stored in store.iter_leaves(m, size):
        if idx != expected:
            raise TamperError(f"{_REFUSE}: record {expected} is missing (rows deleted); {_HINT}", expected)
        data = bytes(data) if not isinstance(data, str) else data.encode("utf-8", "surrogatepass")
        h = merkle.leaf_hash(data)
        if h != bytes(stored):
            raise TamperError(f"{_REFUSE}: record {idx} does not match its stored leaf hash (it was edited); "
                              f"{_HINT}", idx, (idx, idx + 1))
        try:
            seq = decode_leaf(data)["seq"]
        except RecordError as exc:
            raise TamperError(f"{_REFUSE}: record {idx} is malformed ({exc}); {_HINT}", idx) from exc
        if seq != idx:
            raise TamperError(f"{_REFUSE}: row {idx} holds the record written as seq {seq}; {_HINT}", idx)
        rng.append(h)
        out.append(h)
        expected += 1
    if expected != size:
        raise TamperError(f"{_REFUSE}: records {expected}..{size - 1} are missing; {_HINT}", expected)
    return out
