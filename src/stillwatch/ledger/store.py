"""Storage behind one interface: :class:`Store`, with :class:`SQLiteStore` (embedded default).

A store keeps, durably:

- ``leaves``: one row per record — index, record type, canonical data, leaf hash;
- ``nodes``: the hashes of complete (perfect) subtrees at every ``STRIDE``-th level
  (levels 4, 8, 12, ...), so any subtree hash is a fold of at most ``2**(STRIDE-1)`` stored hashes
  and proofs never recompute the log (the ``nodes`` table holds about n/15 rows);
- ``checkpoints``: every signed tree head the ledger issued;
- ``manifests``: for each checkpoint, the leaf hashes it newly covers ``[start, end)`` and the
  compact range (the perfect-subtree "peaks") at ``start``; the two signed roots at ``start`` and
  ``end`` authenticate them, so ``verify`` can name each record that differs from what was signed
  even when the leaf hashes and subtree hashes were rebuilt to match an edit;
- ``meta``: origin, exchange content mode, the public (verifier) key.

Writes happen in :meth:`Store.write_batch`, one transaction that is on disk when it returns
(SQLite: WAL with ``synchronous=FULL``; PostgreSQL: ``synchronous_commit`` on). The caller first
takes the writer lock with :meth:`Store.begin` (which returns the current size, so several
processes may append to one ledger). ``write_batch(..., commit=False)`` keeps the transaction open so
a checkpoint (and what an export records) can join it; :meth:`Store.commit` ends it.

Reading commands open a store with ``read_only=True``: SQLite is opened through a ``mode=ro`` URI
and nothing is written — not the journal mode, not a schema, not a file that was not a ledger.
"""

from __future__ import annotations

import abc
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .errors import StoreError

__all__ = ["STRIDE", "Store", "SQLiteStore", "LeafRow", "NodeRow", "CheckpointRow", "ManifestRow"]

STRIDE = 4  # stored node levels are multiples of STRIDE (level 0: the leaf hashes)

LeafRow = tuple[int, str, bytes, bytes]  # (index, type, data, leaf hash)
NodeRow = tuple[int, int, bytes]  # (level, index, hash)
CheckpointRow = tuple[int, int, bytes, str]  # (id, size, root, text)
ManifestRow = tuple[int, int, bytes, bytes]  # (start, end, peaks, leaf hashes), 32-byte hashes concatenated


class Store(abc.ABC):
    """What the ledger needs from a database. Levels passed to :meth:`node_hashes` are stored levels."""

    location: str

    # -- meta
    @abc.abstractmethod
    def get_meta(self) -> dict[str, str]: ...

    @abc.abstractmethod
    def set_meta(self, values: dict[str, str]) -> None: ...

    # -- reads
    @abc.abstractmethod
    def size(self) -> int: ...

    @abc.abstractmethod
    def node_hashes(self, level: int, start: int, end: int) -> list[bytes]:
        """Hashes of stored nodes ``[start, end)`` at ``level`` (0: leaf hashes), in order.

        Requires every node in the range to exist; a gap raises :class:`StoreError`.
        """

    @abc.abstractmethod
    def iter_leaves(self, start: int = 0, end: int | None = None, batch: int = 20000) -> Iterator[LeafRow]:
        """Leaf rows in index order, as stored (gaps and all)."""

    @abc.abstractmethod
    def iter_nodes(self, level: int, start: int = 0, end: int | None = None) -> Iterator[NodeRow]: ...

    @abc.abstractmethod
    def checkpoints(self) -> list[CheckpointRow]: ...

    # -- writes
    @abc.abstractmethod
    def begin(self) -> int:
        """Start a write transaction holding the ledger's writer lock; return the current size."""

    @abc.abstractmethod
    def write_batch(self, leaves: Sequence[LeafRow], nodes: Sequence[NodeRow], commit: bool = True) -> None:
        """Insert rows in the open transaction and (unless ``commit=False``) commit durably."""

    @abc.abstractmethod
    def add_checkpoint(self, size: int, root: bytes, text: str) -> None:
        """Store a signed checkpoint (inside the open transaction when there is one)."""

    @abc.abstractmethod
    def add_manifest(self, start: int, end: int, peaks: bytes, hashes: bytes) -> None:
        """Store the leaf-hash manifest of a checkpoint (inside the open transaction)."""

    @abc.abstractmethod
    def manifests(self) -> list[ManifestRow]:
        """Stored manifests ordered by ``end`` (empty for ledgers written before manifests existed)."""

    def commit(self) -> None:
        """Commit the transaction opened by :meth:`begin` durably and release the writer lock."""
        if not self._in_tx:
            raise StoreError("commit called without begin()")
        try:
            self._db.execute("COMMIT")
        except self._driver_error as exc:
            self._safe_rollback()
            raise StoreError(f"cannot write to ledger {self.location}: {str(exc).strip()}") from exc
        finally:
            self._end_tx()

    # -- transaction bookkeeping shared by the drivers: a subclass sets ``_db`` (a connection with
    # ``execute`` and ``close``), ``_lock`` (an RLock held from ``begin`` to the end of the
    # transaction), ``_in_tx`` and ``_driver_error`` (its driver's base exception class)
    _db: Any
    _lock: threading.RLock
    _in_tx: bool
    _driver_error: type[BaseException] = Exception

    def _safe_rollback(self) -> None:
        """Roll the open transaction back; a failure here (connection gone) is not worth reporting."""
        try:
            self._db.execute("ROLLBACK")
        except self._driver_error:
            pass

    def _end_tx(self) -> None:
        if self._in_tx:
            self._in_tx = False
            self._lock.release()

    def rollback(self) -> None:
        if self._in_tx:
            self._safe_rollback()
            self._end_tx()

    def close(self) -> None:
        with self._lock:
            self._db.close()


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS leaves (
    idx INTEGER PRIMARY KEY, kind TEXT NOT NULL, data BLOB NOT NULL, hash BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS nodes (
    level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL,
    PRIMARY KEY (level, idx)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (
    id INTEGER PRIMARY KEY AUTOINCREMENT, size INTEGER NOT NULL, root BLOB NOT NULL,
    text TEXT NOT NULL, created TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')));
"""
_MANIFEST_SCHEMA = """
CREATE TABLE IF NOT EXISTS manifests (
    "end" INTEGER PRIMARY KEY, start INTEGER NOT NULL, peaks BLOB NOT NULL, hashes BLOB NOT NULL);
"""


def _sqlite_ro_uri(path: Path) -> str:
    from urllib.parse import quote

    return "file:" + quote(str(path.resolve())) + "?mode=ro"


class SQLiteStore(Store):
    """SQLite file store: WAL journal, ``synchronous=FULL`` (an acknowledged commit is on disk)."""

    _driver_error = sqlite3.DatabaseError

    def __init__(self, path: Path, *, create: bool = False, read_only: bool = False) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        self.read_only = read_only
        if create and (self.path.exists() or self.path.is_symlink()):
            raise StoreError(f"ledger {self.path} already exists")
        if not create:
            self._check_existing()
        try:
            if read_only:
                self._db = sqlite3.connect(_sqlite_ro_uri(self.path), uri=True, isolation_level=None,
                                           check_same_thread=False, timeout=30.0)
            else:
                self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30.0)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=FULL")
            if create:
                self._db.executescript(_SCHEMA + _MANIFEST_SCHEMA)
            else:
                tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
                if not {"meta", "leaves", "nodes", "checkpoints"} <= tables:
                    self._db.close()
                    raise StoreError(f"{self.path} is not a Stillwatch ledger (tables missing)")
                self._has_manifests = "manifests" in tables
                if not read_only and not self._has_manifests:  # a ledger from before manifests
                    self._db.executescript(_MANIFEST_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open ledger {self.path}: {exc}") from exc
        self._has_manifests = create or not read_only or self._has_manifests
        self._lock = threading.RLock()
        self._in_tx = False

    def _check_existing(self) -> None:
        """An existing path that holds an SQLite database; refuse anything else before SQLite sees it."""
        p = self.path
        if p.is_dir():
            raise StoreError(f"ledger path {p} is a directory, not a ledger file")
        if not p.exists():
            raise StoreError(f"ledger {p} does not exist (create it with `stillwatch ledger init`)")
        # The file is never opened by Python here: closing any descriptor of a file drops every POSIX
        # lock this process holds on it, including those of SQLite connections already open on the
        # same ledger (the gateway's), which then read stale pages. SQLite's own probe is safe.
        try:
            empty = p.stat().st_size == 0
        except OSError as exc:
            raise StoreError(f"cannot read ledger {p}: {exc.strerror}") from exc
        if empty:
            raise StoreError(f"{p} is not a Stillwatch ledger (an empty file)")
        probe = None
        try:
            probe = sqlite3.connect(_sqlite_ro_uri(p), uri=True, timeout=30.0)
            probe.execute("PRAGMA schema_version").fetchone()
        except sqlite3.OperationalError as exc:
            raise StoreError(f"cannot read ledger {p}: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{p} is not a Stillwatch ledger (not an SQLite database)") from exc
        finally:
            if probe is not None:
                probe.close()

    def get_meta(self) -> dict[str, str]:
        with self._lock:
            return dict(self._db.execute("SELECT key, value FROM meta").fetchall())

    def set_meta(self, values: dict[str, str]) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", list(values.items()))
            self._db.execute("COMMIT")

    def size(self) -> int:
        with self._lock:
            (m,) = self._db.execute("SELECT max(idx) FROM leaves").fetchone()
        return 0 if m is None else m + 1

    def node_hashes(self, level: int, start: int, end: int) -> list[bytes]:
        with self._lock:
            if level == 0:
                rows = self._db.execute(
                    "SELECT hash FROM leaves WHERE idx >= ? AND idx < ? ORDER BY idx", (start, end)
                ).fetchall()
            else:
                rows = self._db.execute(
                    "SELECT hash FROM nodes WHERE level = ? AND idx >= ? AND idx < ? ORDER BY idx",
                    (level, start, end),
                ).fetchall()
        if len(rows) != end - start:
            raise StoreError(f"stored tree is missing nodes at level {level} in [{start}, {end})")
        return [r[0] for r in rows]

    def iter_leaves(self, start: int = 0, end: int | None = None, batch: int = 20000) -> Iterator[LeafRow]:
        end = 2**62 if end is None else end
        pos = start
        while pos < end:
            with self._lock:
                rows = self._db.execute(
                    "SELECT idx, kind, data, hash FROM leaves WHERE idx >= ? AND idx < ? ORDER BY idx LIMIT ?",
                    (pos, end, batch),
                ).fetchall()
            if not rows:
                return
            yield from rows
            pos = rows[-1][0] + 1

    def iter_nodes(self, level: int, start: int = 0, end: int | None = None) -> Iterator[NodeRow]:
        end = 2**62 if end is None else end
        with self._lock:
            rows = self._db.execute(
                "SELECT level, idx, hash FROM nodes WHERE level = ? AND idx >= ? AND idx < ? ORDER BY idx",
                (level, start, end),
            ).fetchall()
        yield from rows

    def checkpoints(self) -> list[CheckpointRow]:
        with self._lock:
            return self._db.execute("SELECT id, size, root, text FROM checkpoints ORDER BY id").fetchall()

    def begin(self) -> int:
        self._lock.acquire()
        try:
            self._db.execute("BEGIN IMMEDIATE")
            self._in_tx = True
            return self.size()
        except BaseException:
            self._lock.release()
            raise

    def write_batch(self, leaves: Sequence[LeafRow], nodes: Sequence[NodeRow], commit: bool = True) -> None:
        if not self._in_tx:
            raise StoreError("write_batch called without begin()")
        try:
            self._db.executemany("INSERT INTO leaves (idx, kind, data, hash) VALUES (?, ?, ?, ?)", leaves)
            if nodes:
                self._db.executemany("INSERT INTO nodes (level, idx, hash) VALUES (?, ?, ?)", nodes)
        except sqlite3.DatabaseError as exc:
            self._safe_rollback()
            self._end_tx()
            raise StoreError(f"cannot write to ledger {self.path}: {exc}") from exc
        if commit:
            self.commit()

    def add_checkpoint(self, size: int, root: bytes, text: str) -> None:
        with self._lock:
            self._db.execute("INSERT INTO checkpoints (size, root, text) VALUES (?, ?, ?)", (size, root, text))

    def add_manifest(self, start: int, end: int, peaks: bytes, hashes: bytes) -> None:
        with self._lock:
            self._db.execute('INSERT OR REPLACE INTO manifests ("end", start, peaks, hashes) VALUES (?, ?, ?, ?)',
                             (end, start, peaks, hashes))

    def manifests(self) -> list[ManifestRow]:
        if not self._has_manifests:
            return []
        with self._lock:
            rows = self._db.execute('SELECT start, "end", peaks, hashes FROM manifests ORDER BY "end"').fetchall()
        return rows  # as stored: a tampering tool may have changed the column types; verify checks them
