"""PostgreSQL store (psycopg 3): same tables and guarantees as the SQLite store.

The URL is a libpq URL; a schema other than ``public`` can be chosen with the standard
``options`` parameter, e.g. ``postgresql://u:p@host/db?options=-csearch_path%3Dledger_a`` (the
schema is created by ``init``). Appends from several processes serialize on a transaction-level
advisory lock; commits are durable with PostgreSQL's default ``synchronous_commit = on``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence

from .errors import StoreError
from .store import CheckpointRow, LeafRow, ManifestRow, NodeRow, Store

__all__ = ["PostgresStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS leaves (idx BIGINT PRIMARY KEY, kind TEXT NOT NULL, data BYTEA NOT NULL,
                                   hash BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS nodes (level INTEGER NOT NULL, idx BIGINT NOT NULL, hash BYTEA NOT NULL,
                                  PRIMARY KEY (level, idx));
CREATE TABLE IF NOT EXISTS checkpoints (id BIGSERIAL PRIMARY KEY, size BIGINT NOT NULL, root BYTEA NOT NULL,
                                        text TEXT NOT NULL, created TIMESTAMPTZ NOT NULL DEFAULT now());
"""
_MANIFEST_SCHEMA = """
CREATE TABLE IF NOT EXISTS manifests ("end" BIGINT PRIMARY KEY, start BIGINT NOT NULL, peaks BYTEA NOT NULL,
                                      hashes BYTEA NOT NULL);
"""
_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '/stillwatch.ledger'))"


def _redact(url: str) -> str:
    """The URL without its password (URLs go into messages)."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


class PostgresStore(Store):
    def __init__(self, url: str, *, create: bool = False, read_only: bool = False) -> None:
        try:
            import psycopg
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise StoreError("PostgreSQL ledgers need psycopg: pip install 'stillwatch[postgres]'") from exc
        self._psycopg = psycopg
        self._driver_error = psycopg.Error
        self.location = _redact(url)
        try:
            self._db = psycopg.connect(url, autocommit=True)
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to PostgreSQL at {self.location}: {str(exc).strip()}") from exc
        self._lock = threading.RLock()
        self._in_tx = False
        try:
            with self._db.cursor() as cur:
                cur.execute("SELECT current_schemas(false)")
                schemas = cur.fetchone()[0]
                cur.execute("SHOW search_path")
                first = cur.fetchone()[0].split(",")[0].strip().strip('"')
                if create:
                    if first and first != "$user" and first not in schemas:
                        cur.execute(psycopg.sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(psycopg.sql.Identifier(first)))
                    cur.execute("SELECT to_regclass('leaves') IS NOT NULL")
                    if cur.fetchone()[0]:
                        raise StoreError(f"a ledger already exists at {self.location}")
                    cur.execute(_SCHEMA + _MANIFEST_SCHEMA)
                else:
                    cur.execute("SELECT to_regclass('leaves') IS NOT NULL AND to_regclass('meta') IS NOT NULL")
                    if not cur.fetchone()[0]:
                        raise StoreError(f"no ledger at {self.location} (create it with `stillwatch ledger init`)")
                    if read_only:  # reading commands: the server refuses any write in this session
                        cur.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
                    else:
                        cur.execute(_MANIFEST_SCHEMA)
                cur.execute("SELECT to_regclass('manifests') IS NOT NULL")
                self._has_manifests = bool(cur.fetchone()[0])
        except psycopg.Error as exc:
            self._db.close()
            raise StoreError(f"cannot open ledger at {self.location}: {str(exc).strip()}") from exc
        except StoreError:
            self._db.close()
            raise

    def _q(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._lock, self._db.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def get_meta(self) -> dict[str, str]:
        return dict(self._q("SELECT key, value FROM meta"))

    def set_meta(self, values: dict[str, str]) -> None:
        with self._lock, self._db.transaction(), self._db.cursor() as cur:
            cur.executemany(
                "INSERT INTO meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                list(values.items()),
            )

    def size(self) -> int:
        (m,) = self._q("SELECT max(idx) FROM leaves")[0]
        return 0 if m is None else int(m) + 1

    def node_hashes(self, level: int, start: int, end: int) -> list[bytes]:
        if level == 0:
            rows = self._q("SELECT hash FROM leaves WHERE idx >= %s AND idx < %s ORDER BY idx", (start, end))
        else:
            rows = self._q(
                "SELECT hash FROM nodes WHERE level = %s AND idx >= %s AND idx < %s ORDER BY idx", (level, start, end)
            )
        if len(rows) != end - start:
            raise StoreError(f"stored tree is missing nodes at level {level} in [{start}, {end})")
        return [bytes(r[0]) for r in rows]

    def iter_leaves(self, start: int = 0, end: int | None = None, batch: int = 20000) -> Iterator[LeafRow]:
        end = 2**62 if end is None else end
        pos = start
        while pos < end:
            rows = self._q(
                "SELECT idx, kind, data, hash FROM leaves WHERE idx >= %s AND idx < %s ORDER BY idx LIMIT %s",
                (pos, end, batch),
            )
            if not rows:
                return
            for idx, kind, data, h in rows:
                yield int(idx), kind, bytes(data), bytes(h)
            pos = int(rows[-1][0]) + 1

    def iter_nodes(self, level: int, start: int = 0, end: int | None = None) -> Iterator[NodeRow]:
        end = 2**62 if end is None else end
        rows = self._q(
            "SELECT level, idx, hash FROM nodes WHERE level = %s AND idx >= %s AND idx < %s ORDER BY idx",
            (level, start, end),
        )
        for lv, idx, h in rows:
            yield int(lv), int(idx), bytes(h)

    def checkpoints(self) -> list[CheckpointRow]:
        return [(int(i), int(s), bytes(r), t) for i, s, r, t in
                self._q("SELECT id, size, root, text FROM checkpoints ORDER BY id")]

    def begin(self) -> int:
        self._lock.acquire()
        try:
            self._db.execute("BEGIN")
        except BaseException as exc:
            self._lock.release()
            raise self._wrap(exc) from exc
        self._in_tx = True
        try:
            self._db.execute(_LOCK_SQL)
            return self.size()
        except BaseException as exc:
            self.rollback()
            raise self._wrap(exc) from exc

    def _wrap(self, exc: BaseException) -> BaseException:
        if isinstance(exc, self._psycopg.Error):
            return StoreError(f"cannot start a write on {self.location}: {str(exc).strip()}")
        return exc

    def write_batch(self, leaves: Sequence[LeafRow], nodes: Sequence[NodeRow], commit: bool = True) -> None:
        if not self._in_tx:
            raise StoreError("write_batch called without begin()")
        try:
            with self._db.cursor() as cur:
                with cur.copy("COPY leaves (idx, kind, data, hash) FROM STDIN (FORMAT BINARY)") as cp:
                    cp.set_types(["int8", "text", "bytea", "bytea"])
                    for row in leaves:
                        cp.write_row(row)
                if nodes:
                    with cur.copy("COPY nodes (level, idx, hash) FROM STDIN (FORMAT BINARY)") as cp:
                        cp.set_types(["int4", "int8", "bytea"])
                        for row in nodes:
                            cp.write_row(row)
        except self._psycopg.Error as exc:
            self._safe_rollback()
            self._end_tx()
            raise StoreError(f"cannot write to ledger at {self.location}: {str(exc).strip()}") from exc
        if commit:
            self.commit()

    def add_checkpoint(self, size: int, root: bytes, text: str) -> None:
        self._q("INSERT INTO checkpoints (size, root, text) VALUES (%s, %s, %s)", (size, root, text))

    def add_manifest(self, start: int, end: int, peaks: bytes, hashes: bytes) -> None:
        self._q('INSERT INTO manifests ("end", start, peaks, hashes) VALUES (%s, %s, %s, %s) '
                'ON CONFLICT ("end") DO UPDATE SET start = EXCLUDED.start, peaks = EXCLUDED.peaks, '
                'hashes = EXCLUDED.hashes', (end, start, peaks, hashes))

    def manifests(self) -> list[ManifestRow]:
        if not self._has_manifests:
            return []
        return [(int(a), int(b), bytes(p), bytes(h)) for a, b, p, h in
                self._q('SELECT start, "end", peaks, hashes FROM manifests ORDER BY "end"')]
