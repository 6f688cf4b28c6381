"""Accounts, API keys, limits and terms-of-service state, in the ledger's own database.

The gateway's tables (``gw_accounts``, ``gw_keys``, ``gw_tos``) live beside the ledger's tables in
the same SQLite file or PostgreSQL schema, so the admin commands and every gateway process read and
write one store; each request reads its key and account afresh (one indexed query), so a revoked key,
a disabled account, new limits or a block by another process take effect on the next request.
What must be provable (terms published and accepted, keys issued and revoked, blocks) is also
appended to the ledger by :mod:`.admin` and the policy; these tables only hold the current state.
Keys are stored as SHA-256 digests only (see :mod:`.secrets`).
"""

from __future__ import annotations

import datetime as _dt
import threading
from dataclasses import dataclass
from typing import Any

from stillwatch.core.times import epoch_us
from stillwatch.errors import InputError, LedgerError

_TABLES = (
    """CREATE TABLE IF NOT EXISTS gw_accounts (
        account_id TEXT PRIMARY KEY, created TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0,
        payment_fingerprint TEXT, rpm INTEGER, tpm INTEGER, tos_version TEXT, blocked_reason TEXT)""",
    """CREATE TABLE IF NOT EXISTS gw_keys (
        key_id TEXT PRIMARY KEY, account_id TEXT NOT NULL, key_sha256 TEXT NOT NULL,
        created TEXT NOT NULL, revoked TEXT)""",
    """CREATE TABLE IF NOT EXISTS gw_tos (
        seq INTEGER PRIMARY KEY, version TEXT NOT NULL UNIQUE, sha256 TEXT NOT NULL, published TEXT NOT NULL)""",
)

_LOOKUP = """SELECT k.account_id, k.key_sha256, k.revoked, a.disabled, a.payment_fingerprint, a.rpm, a.tpm,
    a.tos_version, a.blocked_reason, (SELECT version FROM gw_tos ORDER BY seq DESC LIMIT 1), a.created
    FROM gw_keys k JOIN gw_accounts a ON a.account_id = k.account_id WHERE k.key_id = ?"""


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def account_creation_times(location: str) -> dict[str, _dt.datetime]:
    """Account id -> when the gateway created it (``gw_accounts.created``, UTC) in the gateway store of the ledger
    database at ``location`` (a path or a ``postgresql://`` URL); empty when the database holds no gateway tables.
    Read only (:class:`AccountStore` with ``read_only=True``): nothing is created or changed. A value that is not an
    ISO-8601 time is left out (guard then knows no creation time for that account, as for a log without the column).

    Attacker model: the table is the gateway's mutable bookkeeping, not the Merkle log. Whoever can write the
    database can move an account's creation time; guard reads it as the optional ``account_created_at`` column
    (an arrival and the start of the account's silence), and no evidence record is derived from it."""
    store = AccountStore(location, read_only=True)
    try:
        rows = store._exec("SELECT account_id, created FROM gw_accounts")
    finally:
        store.close()
    out = {}
    for account, created in rows:
        t = created_time(created)
        if t is not None:
            out[str(account)] = t
    return out


def created_time(value: Any) -> _dt.datetime | None:
    """A ``gw_accounts.created`` value as a UTC time (a naive time read as UTC), None where it is not ISO-8601."""
    try:
        t = _dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=_dt.timezone.utc)


def created_us(value: Any) -> int | None:
    """:func:`created_time` as integer microseconds since the epoch (:func:`~stillwatch.core.times.epoch_us`), as the
    live scorer reads ``account_created_at``."""
    t = created_time(value)
    return None if t is None else epoch_us(t)


@dataclass(frozen=True)
class KeyRecord:
    """What one request needs to know about its key and account (no secret: a digest only)."""

    key_id: str
    account_id: str
    key_sha256: str
    revoked: bool
    disabled: bool
    payment_fingerprint: str | None
    rpm: int | None
    tpm: int | None
    tos_version: str | None
    blocked_reason: str | None
    current_tos: str | None
    #: the account's creation time (``gw_accounts.created``) in epoch microseconds; None where unreadable. Mutable
    #: bookkeeping, a detection input of the live scorer only (:func:`account_creation_times`' attacker model)
    account_created_us: int | None = None


def _check_id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 200 or any(c.isspace() for c in value):
        raise InputError(f"{what} must be a non-empty string of at most 200 characters without spaces, got {value!r}")
    return value


class AccountStore:
    """The gateway tables in the ledger database at ``location`` (a path or a ``postgresql://`` URL).
    ``read_only``: for readers of the store (a scan of the ledger): an SQLite file is opened read-only and left as
    it is (no journal-mode change, never created), a PostgreSQL session's transactions are read-only; a write then
    fails as a :class:`LedgerError`."""

    def __init__(self, location: str, read_only: bool = False) -> None:
        self.location = str(location)
        self._lock = threading.RLock()
        self._pg = self.location.startswith(("postgresql://", "postgres://"))
        if self._pg:
            import psycopg

            self._errors: tuple[type[BaseException], ...] = (psycopg.Error,)
            try:
                self._db = psycopg.connect(self.location, autocommit=True)
                if read_only:
                    self._db.execute("SET default_transaction_read_only = on")
            except psycopg.Error as exc:
                raise LedgerError(f"cannot connect to the gateway store: {str(exc).strip().splitlines()[0]}") from None
        else:
            import sqlite3
            from pathlib import Path

            self._errors = (sqlite3.Error,)
            if read_only:
                try:
                    self._db = sqlite3.connect(f"{Path(self.location).resolve().as_uri()}?mode=ro", uri=True,
                                               isolation_level=None, check_same_thread=False, timeout=30.0)
                except sqlite3.Error as exc:
                    raise LedgerError(f"cannot open the gateway store: {str(exc).strip().splitlines()[0]}") from None
            else:
                self._db = sqlite3.connect(self.location, isolation_level=None, check_same_thread=False, timeout=30.0)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=FULL")
        # The tables are created by the first write, not on open: a refused admin command (an unknown
        # account, a bad limit) must leave the ledger database exactly as it was.
        self._ready = len(self._existing_tables()) == len(_TABLES)

    def _existing_tables(self) -> list[tuple]:
        if self._pg:
            return self._run("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
                              "AND table_name IN ('gw_accounts', 'gw_keys', 'gw_tos')")
        return self._run("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('gw_accounts', 'gw_keys', 'gw_tos')")

    def _ensure_tables(self) -> None:
        if not self._ready:
            for ddl in _TABLES:
                self._run(ddl)
            self._ready = True

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _exec(self, sql: str, params: tuple = ()) -> list[tuple]:
        verb = sql.lstrip()[:6].upper()
        if verb in ("INSERT", "UPDATE", "DELETE"):
            self._ensure_tables()
        elif verb == "SELECT" and not self._ready:
            # another process (the admin CLI, a second gateway) may have created them since
            self._ready = len(self._existing_tables()) == len(_TABLES)
            if not self._ready:
                return []  # no gateway table yet: no account, key or terms exists
        return self._run(sql, params)

    def _run(self, sql: str, params: tuple = ()) -> list[tuple]:
        if self._pg:
            sql = sql.replace("?", "%s")
        with self._lock:
            try:
                cur = self._db.execute(sql, params)
                rows = list(cur.fetchall()) if cur.description else []
                cur.close()
                return rows
            except self._errors as exc:
                raise LedgerError(f"gateway store error: {str(exc).strip().splitlines()[0]}") from None

    # ------------------------------------------------------------------ accounts
    def add_account(self, account_id: str, payment_fingerprint: str | None = None) -> None:
        _check_id(account_id, "account id")
        if self.account(account_id) is not None:
            raise InputError(f"account {account_id!r} already exists")
        self._exec("INSERT INTO gw_accounts (account_id, created, payment_fingerprint) VALUES (?, ?, ?)",
                   (account_id, now_iso(), payment_fingerprint))

    def account(self, account_id: str) -> dict[str, Any] | None:
        rows = self._exec("SELECT account_id, created, disabled, payment_fingerprint, rpm, tpm, tos_version, blocked_reason "
                          "FROM gw_accounts WHERE account_id = ?", (account_id,))
        if not rows:
            return None
        names = ("account", "created", "disabled", "payment_fingerprint", "rpm", "tpm", "tos_version", "blocked_reason")
        d = dict(zip(names, rows[0]))
        d["disabled"] = bool(d["disabled"])
        d["keys"] = [k for (k,) in self._exec("SELECT key_id FROM gw_keys WHERE account_id = ? AND revoked IS NULL ORDER BY created",
                                               (account_id,))]
        return d

    def require_account(self, account_id: str) -> dict[str, Any]:
        acc = self.account(account_id)
        if acc is None:
            raise InputError(f"no account {account_id!r} (create it with `stillwatch gateway accounts add`)")
        return acc

    def list_accounts(self) -> list[dict[str, Any]]:
        ids = [a for (a,) in self._exec("SELECT account_id FROM gw_accounts ORDER BY account_id")]
        return [self.account(a) for a in ids]  # type: ignore[misc]

    def set_disabled(self, account_id: str, disabled: bool) -> None:
        self.require_account(account_id)
        self._exec("UPDATE gw_accounts SET disabled = ? WHERE account_id = ?", (int(disabled), account_id))

    def set_limits(self, account_id: str, rpm: int | None, tpm: int | None) -> None:
        self.require_account(account_id)
        for name, v in (("rpm", rpm), ("tpm", tpm)):
            if v is not None and (not isinstance(v, int) or v < 0):
                raise InputError(f"{name} must be an int >= 0 (0 = no limit), got {v!r}")
        self._exec("UPDATE gw_accounts SET rpm = ?, tpm = ? WHERE account_id = ?", (rpm, tpm, account_id))

    def block(self, account_id: str, reason: str) -> None:
        self._exec("UPDATE gw_accounts SET blocked_reason = ? WHERE account_id = ?", (reason, account_id))

    # ------------------------------------------------------------------ keys
    def add_key(self, account_id: str, key_id: str, digest: str) -> None:
        self.require_account(account_id)
        self._exec("INSERT INTO gw_keys (key_id, account_id, key_sha256, created) VALUES (?, ?, ?, ?)",
                   (key_id, account_id, digest, now_iso()))

    def key_account(self, key_id: str) -> tuple[str, bool]:
        """(account id, revoked) of ``key_id``; InputError when there is no such key."""
        rows = self._exec("SELECT account_id, revoked FROM gw_keys WHERE key_id = ?", (key_id,))
        if not rows:
            raise InputError(f"no API key with id {key_id!r}")
        return rows[0][0], rows[0][1] is not None

    def revoke_key(self, key_id: str) -> str:
        account_id, revoked = self.key_account(key_id)
        if revoked:
            raise InputError(f"API key {key_id!r} is already revoked")
        self._exec("UPDATE gw_keys SET revoked = ? WHERE key_id = ?", (now_iso(), key_id))
        return account_id

    def lookup(self, key_id: str) -> KeyRecord | None:
        rows = self._exec(_LOOKUP, (key_id,))
        if not rows:
            return None
        acc, digest, revoked, disabled, pay, rpm, tpm, tos, blocked, current, created = rows[0]
        return KeyRecord(key_id, acc, digest, revoked is not None, bool(disabled), pay, rpm, tpm, tos, blocked, current,
                         created_us(created))

    def account_created_us(self, account_id: str) -> int | None:
        """The account's creation time in epoch microseconds (:func:`created_us`); None for an unknown account or an
        unreadable time."""
        rows = self._exec("SELECT created FROM gw_accounts WHERE account_id = ?", (account_id,))
        return created_us(rows[0][0]) if rows else None

    # ------------------------------------------------------------------ terms of service
    def check_new_tos(self, version: str) -> None:
        """InputError unless ``version`` is a valid name never published before."""
        if not isinstance(version, str) or not version.strip() or len(version) > 128:
            raise InputError(f"terms version must be a non-empty string of at most 128 characters, got {version!r}")
        if self._exec("SELECT 1 FROM gw_tos WHERE version = ?", (version,)):
            raise InputError(f"terms version {version!r} was already published; publish a new version")

    def publish_tos(self, version: str, sha256: str) -> None:
        self.check_new_tos(version)
        self._exec("INSERT INTO gw_tos (seq, version, sha256, published) VALUES "
                   "((SELECT COALESCE(MAX(seq), 0) + 1 FROM gw_tos), ?, ?, ?)", (version, sha256, now_iso()))

    def current_tos(self) -> tuple[str, str] | None:
        rows = self._exec("SELECT version, sha256 FROM gw_tos ORDER BY seq DESC LIMIT 1")
        return (rows[0][0], rows[0][1]) if rows else None

    def accept_tos(self, account_id: str, version: str) -> None:
        self.require_account(account_id)
        self._exec("UPDATE gw_accounts SET tos_version = ? WHERE account_id = ?", (version, account_id))
