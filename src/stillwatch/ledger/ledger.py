"""The :class:`Ledger`: an append-only, tamper-evident log of evidence records (see the package docs)."""

from __future__ import annotations

import datetime as _dt
import hashlib
import logging
import secrets
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stillwatch.errors import KeyFileError

from . import merkle
from .checkpoint import Checkpoint, Signer, Verifier, generate_signer, load_signer, load_verifier, write_key_files
from .errors import IndexOutOfRangeError, LedgerError, RecordError, StoreError, VerificationError
from .presign import check_before_signing, signed_checkpoints
from .records import CONTENT_MODES, RECORD_TYPES, decode_leaf, leaf_bytes, record_from_dict
from .store import SQLiteStore, Store
from .tree import StoredTree

__all__ = ["Ledger", "InclusionProof", "is_postgres_url"]

log = logging.getLogger(__name__)
FORMAT = "stillwatch-ledger/1"


def is_postgres_url(location: str | Path) -> bool:
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


def _open_store(location: str | Path, create: bool, read_only: bool = False) -> Store:
    if is_postgres_url(location):
        from .pgstore import PostgresStore

        return PostgresStore(str(location), create=create, read_only=read_only)
    return SQLiteStore(Path(location), create=create, read_only=read_only)


@dataclass(frozen=True)
class InclusionProof:
    """Proof that the leaf ``index`` (hash ``leaf_hash``) is in the tree ``(size, root)``."""

    index: int
    size: int
    leaf_hash: bytes
    hashes: tuple[bytes, ...]
    root: bytes

    def verify(self) -> None:
        """Raise a :class:`~stillwatch.ledger.errors.VerificationError` unless the proof holds."""
        merkle.verify_inclusion(self.leaf_hash, self.index, self.size, list(self.hashes), self.root)

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "tree_size": self.size,
            "leaf_hash": self.leaf_hash.hex(),
            "proof": [h.hex() for h in self.hashes],
            "root": self.root.hex(),
        }


class _Pending:
    __slots__ = ("record", "index", "error", "done", "lead", "event")

    def __init__(self, record: Any) -> None:
        self.record = record
        self.index = -1
        self.error: BaseException | None = None
        self.done = False
        self.lead = False
        self.event = threading.Event()


class Ledger:
    """An evidence ledger on SQLite (a file path) or PostgreSQL (a ``postgresql://`` URL).

    Use :meth:`create` or :meth:`open`; both work as context managers. Thread-safe: concurrent
    :meth:`append` calls are group-committed (one transaction and one fsync for all waiting callers).
    """

    def __init__(self, store: Store, key_path: Path | None, pub_path: Path | None,
                 *, pub_required: bool = False) -> None:
        self.store = store
        try:
            meta = store.get_meta()
            if meta.get("format") != FORMAT:
                raise StoreError(f"{store.location} is not a {FORMAT} ledger")
            self.origin = meta["origin"]
            self.exchange_content = meta["exchange_content"]
            self._stored_verifier = Verifier.from_string(meta["verifier"])
        except (KeyError, KeyFileError) as exc:
            store.close()
            raise StoreError(f"{store.location} is not a {FORMAT} ledger (its meta table is damaged)") from exc
        except BaseException:
            store.close()
            raise
        self.key_path = key_path
        self.pub_path = pub_path
        #: True when ``pub_path`` was given explicitly: it must then be readable (never a fallback).
        self.pub_required = pub_required
        self._signer: Signer | None = None
        self._tree = StoredTree(store)
        self._write_lock = threading.Lock()
        self._queue_lock = threading.Lock()
        self._queue: list[_Pending] = []
        self._leader_active = False

    # ------------------------------------------------------------------ creation

    @staticmethod
    def default_key_paths(location: str | Path) -> tuple[Path | None, Path | None]:
        """Key file locations: ``<db>.key`` (private, 0600) and ``<db>.pub`` next to a SQLite file."""
        if is_postgres_url(location):
            return None, None
        p = Path(location)
        if not p.name:  # '.', '/': not a ledger file; the store says so when it is opened
            return None, None
        return p.with_name(p.name + ".key"), p.with_name(p.name + ".pub")

    @classmethod
    def create(
        cls,
        location: str | Path,
        *,
        origin: str | None = None,
        exchange_content: str = "full",
        key_path: Path | None = None,
        pub_path: Path | None = None,
    ) -> Ledger:
        """Create a new ledger and its Ed25519 key pair (the private key goes to ``key_path``, mode 0600).

        For SQLite the keys default to ``<db>.key`` / ``<db>.pub``; PostgreSQL needs ``key_path``.
        """
        if exchange_content not in CONTENT_MODES:
            raise LedgerError(f"exchange_content {exchange_content!r} must be one of {CONTENT_MODES}")
        dk, dp = cls.default_key_paths(location)
        key_path = Path(key_path) if key_path else dk
        if key_path is None:
            raise KeyFileError("a PostgreSQL ledger needs a signing key path (--key PATH)")
        pub_path = Path(pub_path) if pub_path else (dp or key_path.with_name(key_path.name + ".pub"))
        for what, path in (("key file", key_path), ("public key file", pub_path)):
            if path.exists() or path.is_symlink():
                raise KeyFileError(f"{what} {path} already exists; refusing to overwrite it")
        if not key_path.parent.is_dir():
            raise KeyFileError(f"cannot create key file {key_path}: folder {key_path.parent} does not exist")
        origin = origin or f"stillwatch.local/ledger/{secrets.token_hex(6)}"
        signer = generate_signer(_key_name(origin))
        store = _open_store(location, create=True)
        try:
            store.set_meta({
                "format": FORMAT,
                "origin": origin,
                "exchange_content": exchange_content,
                "verifier": signer.verifier.to_string(),
                "created": _dt.datetime.now(_dt.timezone.utc).isoformat(),
            })
            write_key_files(signer, key_path, pub_path)
        except BaseException:
            store.close()
            raise
        led = cls(store, key_path, pub_path)
        led._signer = signer
        log.info("created ledger %s (origin %s)", store.location, origin)
        return led

    @classmethod
    def open(cls, location: str | Path, *, key_path: Path | None = None, pub_path: Path | None = None,
             read_only: bool = False) -> Ledger:
        """Open an existing ledger. The signing key is only loaded when :meth:`checkpoint` needs it.

        ``pub_path`` given explicitly is the trusted public key: if it cannot be read, every
        signature check raises :class:`KeyFileError` (it never falls back to the key stored in the
        ledger, which whoever can write the database can replace). ``read_only=True`` opens the
        store so that nothing can be written (reading commands use it).
        """
        dk, dp = cls.default_key_paths(location)
        key = Path(key_path) if key_path else dk
        if pub_path is None and dp is None and key is not None:
            dp = key.with_name(key.name + ".pub")
        return cls(_open_store(location, create=False, read_only=read_only), key,
                   Path(pub_path) if pub_path else dp, pub_required=pub_path is not None)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ keys

    @property
    def verifier(self) -> Verifier:
        """The trusted verifier key: the ``.pub`` file when present (it must match the stored one).

        An explicitly given public key file that cannot be read raises :class:`KeyFileError`.
        """
        if self.pub_path is not None and (self.pub_required or self.pub_path.exists() or self.pub_path.is_symlink()):
            v = load_verifier(self.pub_path)
            if v.to_string() != self._stored_verifier.to_string():
                raise KeyFileError(
                    f"public key file {self.pub_path} does not match the key recorded in the ledger"
                )
            return v
        return self._stored_verifier

    @property
    def key_source(self) -> str:
        """Where :attr:`verifier` comes from, for reports (a stored key proves only self-consistency)."""
        if self.pub_path is not None and (self.pub_required or self.pub_path.exists()):
            return f"public key file {self.pub_path}"
        return "the key stored inside the ledger (not independent evidence: give --pubkey)"

    def signer(self) -> Signer:
        if self._signer is None:
            if self.key_path is None:
                raise KeyFileError("no signing key file given (--key PATH)")
            s = load_signer(self.key_path)
            if s.verifier.to_string() != self._stored_verifier.to_string():
                raise KeyFileError(f"signing key {self.key_path} is not this ledger's key")
            self._signer = s
        return self._signer

    # ------------------------------------------------------------------ appends

    @property
    def size(self) -> int:
        """Number of records (reads the store, so appends by other processes count)."""
        return self.store.size()

    def _coerce(self, record: Any) -> Any:
        if isinstance(record, dict):
            return record_from_dict(record)
        if type(record) not in RECORD_TYPES.values():
            raise RecordError(f"expected a ledger record or a dict with 'type', got {type(record).__name__}")
        return record

    def append_many(self, records: Iterable[Any]) -> list[int]:
        """Append records in one transaction (all or none); durable on return. Returns their indices."""
        recs = [self._coerce(r) for r in records]
        if not recs:
            return []
        with self._write_lock:
            return self._append_locked(recs)

    def _append_locked(self, recs: Sequence[Any]) -> list[int]:
        start = self.store.begin()
        try:
            if self._tree.range is None or start != self._tree.range.size:  # another process appended
                self._tree.range = self._tree.load_range(start)
            rng = self._tree.range.copy()
            nodes: list = []
            content = self.exchange_content
            datas = [leaf_bytes(rec, start + i, content) for i, rec in enumerate(recs)]
            sha = hashlib.sha256
            hashes = [sha(b"\x00" + d).digest() for d in datas]  # merkle.leaf_hash, inlined
            rng.extend(hashes, nodes)
            rows = list(zip(range(start, start + len(recs)), [r.TYPE for r in recs], datas, hashes))
            self.store.write_batch(rows, nodes)
        except BaseException:
            self.store.rollback()
            raise
        self._tree.range = rng
        return list(range(start, start + len(recs)))

    def append(self, record: Any) -> int:
        """Append one record; durable when this returns. Concurrent callers share one commit.

        Group commit: the first caller becomes the leader and commits everything queued in one
        transaction; callers arriving meanwhile queue up and the oldest of them leads the next commit.
        """
        p = _Pending(self._coerce(record))
        with self._queue_lock:
            self._queue.append(p)
            if not self._leader_active:
                self._leader_active = True
                p.lead = True
        while not p.done:
            if p.lead:
                self._lead()
            else:
                p.event.wait()
                p.event.clear()
        if p.error is not None:
            raise p.error
        return p.index

    def _lead(self) -> None:
        with self._queue_lock:
            batch, self._queue = self._queue, []
        try:
            with self._write_lock:
                indices = self._append_locked([q.record for q in batch])
            for q, i in zip(batch, indices):
                q.index = i
        except BaseException as exc:  # every caller in the failed batch sees the error; nothing is stored
            for q in batch:
                q.error = exc
        with self._queue_lock:
            nxt = self._queue[0] if self._queue else None
            if nxt is not None:
                nxt.lead = True
            else:
                self._leader_active = False
        for q in batch:
            q.done = True
            q.event.set()
        if nxt is not None:
            nxt.event.set()

    # ------------------------------------------------------------------ reads

    def _sync(self) -> int:
        n = self.store.size()
        if self._tree.range is None or n != self._tree.range.size:
            with self._write_lock:
                self._tree.range = self._tree.load_range(n)
        return n

    def root(self, size: int | None = None) -> bytes:
        """Root hash of the first ``size`` records (default: all)."""
        n = self._sync()
        size = n if size is None else size
        if not 0 <= size <= n:
            raise IndexOutOfRangeError(f"tree size {size} is out of range (ledger has {n} records)")
        return self._tree.root_at(size)

    def record(self, index: int) -> tuple[bytes, dict[str, Any]]:
        """(canonical data, decoded envelope) of record ``index``."""
        rows = list(self.store.iter_leaves(index, index + 1))
        if not rows:
            raise IndexOutOfRangeError(f"record {index} does not exist (ledger has {self.size} records)")
        return rows[0][2], decode_leaf(rows[0][2])

    def prove(self, index: int, size: int | None = None) -> InclusionProof:
        """Inclusion proof of record ``index`` in the tree of ``size`` records (default: all)."""
        n = self._sync()
        size = n if size is None else size
        if size > n:
            raise IndexOutOfRangeError(f"tree size {size} is larger than the ledger ({n} records)")
        hashes = self._tree.inclusion_proof(index, size)
        (leaf,) = self.store.node_hashes(0, index, index + 1)
        return InclusionProof(index, size, leaf, tuple(hashes), self._tree.root_at(size))

    def inclusion_hashes(self, index: int, size: int) -> list[bytes]:
        """``PATH(index, D[size])`` read from the stored tree as is (no reload; usable inside
        ``before_commit`` of :meth:`append_and_checkpoint`). Requires ``0 <= index < size <= stored size``."""
        return self._tree.inclusion_proof(index, size)

    def consistency_hashes(self, m: int, n: int) -> list[bytes]:
        """``PROOF(m, D[n])`` read from the stored tree as is (see :meth:`inclusion_hashes`)."""
        return self._tree.consistency_proof(m, n)

    def consistency(self, m: int, n: int | None = None) -> list[bytes]:
        """Consistency proof from the tree of ``m`` records to the tree of ``n`` (default: all)."""
        cur = self._sync()
        n = cur if n is None else n
        if n > cur:
            raise IndexOutOfRangeError(f"tree size {n} is larger than the ledger ({cur} records)")
        return self._tree.consistency_proof(m, n)

    # ------------------------------------------------------------------ checkpoints

    def checkpoint(self) -> Checkpoint:
        """Sign, store and return a checkpoint of the current tree (needs the private key file).

        Before signing, the ledger must extend its last signed checkpoint (:mod:`.presign`): a
        ledger edited since is refused with :class:`TamperError` and nothing is signed or stored.
        """
        return self.append_and_checkpoint([])[1]

    def append_and_checkpoint(
        self, records: Iterable[Any], before_commit: Callable[[Checkpoint, list[int]], None] | None = None
    ) -> tuple[list[int], Checkpoint]:
        """Append ``records`` and sign a checkpoint covering them, in one transaction (all or nothing).

        The checks of :mod:`.presign` run first, under the writer lock. ``before_commit(checkpoint,
        indices)`` runs while the transaction is still open — an export writes its bundle there — and
        if it raises, nothing at all is stored. Returns the records' indices and the checkpoint.
        """
        recs = [self._coerce(r) for r in records]
        signer = self.signer()
        with self._write_lock:
            start = self.store.begin()
            try:
                if self._tree.range is None or start != self._tree.range.size:
                    self._tree.range = self._tree.load_range(start)
                base = check_before_signing(self.store, self._tree, signer.verifier, self.origin, start)
                rng = self._tree.range.copy()
                indices = list(range(start, start + len(recs)))
                hashes: list[bytes] = []
                if recs:
                    datas = [leaf_bytes(rec, i, self.exchange_content) for i, rec in zip(indices, recs)]
                    hashes = [merkle.leaf_hash(d) for d in datas]
                    nodes: list = []
                    rng.extend(hashes, nodes)
                    rows = list(zip(indices, [r.TYPE for r in recs], datas, hashes))
                    self.store.write_batch(rows, nodes, commit=False)
                n = rng.size
                cp = signer.sign(self.origin, n, rng.root())
                self.store.add_checkpoint(cp.size, cp.root, cp.text)
                m = base.range.size
                if n > m:
                    self.store.add_manifest(m, n, b"".join(h for _, h in base.range.stack),
                                            b"".join(base.tail_hashes + hashes))
                if before_commit is not None:
                    before_commit(cp, indices)
                self.store.commit()
            except BaseException:
                self.store.rollback()
                self._tree.range = None  # reloaded from the store on the next use
                raise
            self._tree.range = rng
        log.info("checkpoint at size %d", n)
        return indices, cp

    def signed_checkpoints(self, verifier: Verifier | None = None) -> list[tuple[int, Checkpoint]]:
        """Stored checkpoints whose signature verifies with ``verifier`` (default :attr:`verifier`), as (id, cp)."""
        return signed_checkpoints(self.store, verifier or self.verifier, self.origin)[0]

    def prove_signed(self, index: int, size: int | None = None, *,
                     verifier: Verifier | None = None) -> tuple[InclusionProof, Checkpoint]:
        """Inclusion proof of record ``index`` checked against a *signed* checkpoint; returns both.

        The leaf hash is recomputed from the record's data, and the proof must lead to the root in the
        checkpoint's signed text — not to a root recomputed from the (writable) stored tree. The
        checkpoint is the latest one covering ``index``, or the one of tree size ``size``. Raises
        :class:`VerificationError` when no signed checkpoint covers the record or the proof fails.
        """
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise IndexOutOfRangeError(f"record index must be an integer >= 0, got {index!r}")
        n = self._sync()
        if index >= n:
            raise IndexOutOfRangeError(f"record {index} is out of range (the ledger has {n} records)")
        good = self.signed_checkpoints(verifier)
        cands = [(cid, cp) for cid, cp in good if cp.size > index and (size is None or cp.size == size)]
        if not cands:
            if size is not None:
                raise VerificationError(f"no signed checkpoint of tree size {size} covers record {index}")
            if not good:
                raise VerificationError("the ledger has no signed checkpoint yet, so nothing can be proven against a "
                                        "signature (sign one with `stillwatch ledger checkpoint`)")
            top = max(cp.size for _, cp in good)
            raise VerificationError(f"record {index} is not covered by a signed checkpoint yet (the latest covers "
                                    f"records 0..{top - 1}); sign one with `stillwatch ledger checkpoint`")
        cid, cp = max(cands, key=lambda t: (t[1].size, t[0]))
        if cp.size > n:
            raise VerificationError(f"signed checkpoint #{cid} covers {cp.size} records but the ledger has only {n}: "
                                    f"records were deleted")
        data, _ = self.record(index)
        leaf = merkle.leaf_hash(bytes(data))
        try:
            hashes = tuple(self._tree.inclusion_proof(index, cp.size))
            merkle.verify_inclusion(leaf, index, cp.size, list(hashes), cp.root)
        except (VerificationError, StoreError) as exc:
            raise VerificationError(f"record {index} is not in the tree signed by checkpoint #{cid} (size {cp.size}): "
                                    f"the ledger was changed after it was signed ({exc}); run `stillwatch ledger "
                                    f"verify` to see where") from exc
        return InclusionProof(index, cp.size, leaf, hashes, cp.root), cp

    def latest_checkpoint(self) -> Checkpoint | None:
        """The most recent stored checkpoint, signature checked with :attr:`verifier`."""
        rows = self.store.checkpoints()
        if not rows:
            return None
        return self.verifier.verify(rows[-1][3], origin=self.origin)

    def verify(
        self,
        since: str | Checkpoint | None = None,
        *,
        verifier: Verifier | None = None,
        progress: Callable[[int, int], None] | None = None,
        raise_on_error: bool = True,
    ):
        """Re-check every stored record against the tree, the stored checkpoints and ``since``.

        Returns a :class:`~stillwatch.ledger.verify.VerifyReport`; when problems are found and
        ``raise_on_error`` is true, raises :class:`~stillwatch.ledger.errors.TamperError` naming the first.
        """
        from .verify import verify_ledger

        report = verify_ledger(self, since=since, verifier=verifier, progress=progress)
        if raise_on_error:
            report.raise_if_failed()
        return report


def _key_name(origin: str) -> str:
    name = origin.replace(" ", "_").replace("+", "_")
    return name or "stillwatch"
