"""Storage behind one interface: :class:`Store`, with :class:`SQLiteStore` (embedded default).

A store keeps, durably:

- ``leaves``: one row per record — index, record type, canonical data, leaf hash;
- ``nodes``: the hashes of complete (perfect) subtrees at every ``STRIDE``-th level
  (levels 4, 8, 12, ...), so any subtree hash is a fold of at most ``2**(STRIDE-1)`` stored hashes
  and proofs never recompute the log (the ``nodes`` table holds about n/15 rows);
- ``checkpoints``: every signed tree head the ledger issued;
- ``meta``: origin, exchange content mode, the public (verifier) key.

Writes happen in :meth:`Store.write_batch`, one transaction that is on disk when it returns
(SQLite: WAL with ``synchronous=FULL``; PostgreSQL: ``synchronous_commit`` on). The caller first
takes the writer lock with :meth:`Store.begin` (which returns the current size, so several
processes may append to one ledger).
"""

from __future__ import annotations

import abc
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .errors import StoreError

__all__ = ["STRIDE", "Store", "SQLiteStore", "LeafRow", "NodeRow", "CheckpointRow"]

STRIDE = 4  # stored node levels are multiples of STRIDE (level 0: the leaf hashes)

LeafRow = tuple[int, str, bytes, bytes]  # (index, type, data, leaf hash)
NodeRow = tuple[int, int, bytes]  # (level, index, hash)
CheckpointRow = tuple[int, int, bytes, str]  # (id, size, root, text)


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
    def write_batch(self, leaves: Sequence[LeafRow], nodes: Sequence[NodeRow]) -> None:
        """Insert rows in the open transaction and commit durably."""

    @abc.abstractmethod
    def add_checkpoint(self, size: int, root: bytes, text: str) -> None: ...

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


class SQLiteStore(Store):
    """SQLite file store: WAL journal, ``synchronous=FULL`` (an acknowledged commit is on disk)."""

    _driver_error = sqlite3.DatabaseError

    def __init__(self, path: Path, *, create: bool = False) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        if create and self.path.exists():
            raise StoreError(f"ledger {self.path} already exists")
        if not create and not self.path.exists():
            raise StoreError(f"ledger {self.path} does not exist (create it with `stillwatch ledger init`)")
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            if create:
                self._db.executescript(_SCHEMA)
            else:
                tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
                if not {"meta", "leaves", "nodes", "checkpoints"} <= tables:
                    raise StoreError(f"{self.path} is not a Stillwatch ledger (tables missing)")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open ledger {self.path}: {exc}") from exc
        self._lock = threading.RLock()
        self._in_tx = False

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

    def write_batch(self, leaves: Sequence[LeafRow], nodes: Sequence[NodeRow]) -> None:
        if not self._in_tx:
            raise StoreError("write_batch called without begin()")
        try:
            self._db.executemany("INSERT INTO leaves (idx, kind, data, hash) VALUES (?, ?, ?, ?)", leaves)
            if nodes:
                self._db.executemany("INSERT INTO nodes (level, idx, hash) VALUES (?, ?, ?)", nodes)
            self._db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            self._safe_rollback()
            raise StoreError(f"cannot write to ledger {self.path}: {exc}") from exc
        finally:
            self._end_tx()

    def add_checkpoint(self, size: int, root: bytes, text: str) -> None:
        with self._lock:
            self._db.execute("INSERT INTO checkpoints (size, root, text) VALUES (?, ?, ?)", (size, root, text))
