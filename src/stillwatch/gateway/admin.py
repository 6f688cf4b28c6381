"""Administration of a gateway store: accounts, keys, terms of service, limits.

Each operation changes the current state (:class:`.accounts.AccountStore`) and appends what a court
may ask about to the ledger *first* (a state change whose record failed is not made):

* terms published: a ``custody`` record (actor ``gateway-admin``, action ``tos_publish``, subject the
  version, details the terms' SHA-256 and text); each acceptance: a ``tos_acceptance`` record;
* accounts added / disabled / enabled, keys issued / rotated / revoked, limits set: ``custody``
  records naming the account and the key *id* (never the key).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from stillwatch.errors import InputError
from stillwatch.ledger import Custody, Ledger, ToSAcceptance
from stillwatch.ledger.ledger import is_postgres_url

from .accounts import AccountStore, now_iso
from .secrets import new_api_key

ADMIN = "gateway-admin"


def open_ledger(location: str, *, create: bool = False, key_path: Path | None = None) -> Ledger:
    """Open the ledger at ``location``; with ``create``, a missing SQLite ledger is created."""
    if create and not is_postgres_url(location) and not Path(location).exists():
        return Ledger.create(location, key_path=key_path)
    if not is_postgres_url(location) and not Path(location).exists():
        raise InputError(f"no ledger at {location}: start `stillwatch gateway serve --ledger {location}` once, or `stillwatch ledger init`")
    return Ledger.open(location, key_path=key_path)


class Admin:
    """Admin operations on the store and ledger at one location."""

    def __init__(self, location: str, *, create: bool = False) -> None:
        self.ledger = open_ledger(location, create=create)
        self.store = AccountStore(location)

    def close(self) -> None:
        self.store.close()
        self.ledger.close()

    def __enter__(self) -> Admin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _custody(self, action: str, subject: str, **details: Any) -> int:
        return self.ledger.append(Custody(actor=ADMIN, action=action, subject=subject, ts=now_iso(),
                                          details=json.dumps(details, sort_keys=True)))

    # ------------------------------------------------------------------ accounts
    def add_account(self, account_id: str, payment_fingerprint: str | None = None) -> dict[str, Any]:
        if self.store.account(account_id) is not None:
            raise InputError(f"account {account_id!r} already exists")
        self._custody("account_add", account_id, payment_fingerprint=payment_fingerprint)
        self.store.add_account(account_id, payment_fingerprint)
        return self.store.require_account(account_id)

    def set_disabled(self, account_id: str, disabled: bool) -> None:
        self.store.require_account(account_id)
        self._custody("account_disable" if disabled else "account_enable", account_id)
        self.store.set_disabled(account_id, disabled)

    def set_limits(self, account_id: str, rpm: int | None, tpm: int | None) -> None:
        self.store.require_account(account_id)
        self._custody("limits_set", account_id, rpm=rpm, tpm=tpm)
        self.store.set_limits(account_id, rpm, tpm)

    # ------------------------------------------------------------------ keys
    def issue_key(self, account_id: str) -> tuple[str, str]:
        """(key id, key): the key itself is returned once and never stored."""
        self.store.require_account(account_id)
        key_id, key, digest = new_api_key()
        self._custody("key_issue", account_id, key_id=key_id)
        self.store.add_key(account_id, key_id, digest)
        return key_id, key

    def revoke_key(self, key_id: str) -> str:
        account_id, revoked = self.store.key_account(key_id)
        if revoked:
            raise InputError(f"API key {key_id!r} is already revoked")
        self._custody("key_revoke", account_id, key_id=key_id)
        self.store.revoke_key(key_id)
        return account_id

    def rotate_key(self, key_id: str) -> tuple[str, str, str]:
        """Revoke ``key_id`` and issue a new key for the same account: (account, new key id, new key).
        The account's limits, guard state and policy decisions follow the account, so nothing resets."""
        account_id, revoked = self.store.key_account(key_id)
        if revoked:
            raise InputError(f"API key {key_id!r} is already revoked; issue a new key instead")
        new_id, key, digest = new_api_key()
        self._custody("key_rotate", account_id, old_key_id=key_id, new_key_id=new_id)
        self.store.add_key(account_id, new_id, digest)
        self.store.revoke_key(key_id)
        return account_id, new_id, key

    # ------------------------------------------------------------------ terms of service
    def publish_tos(self, version: str, text: str) -> str:
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        self.store.check_new_tos(version)
        self._custody("tos_publish", version, terms_sha256=digest, text=text)
        self.store.publish_tos(version, digest)
        return digest

    def accept_tos(self, account_id: str, source_address: str, version: str | None = None) -> str:
        return accept_tos(self.ledger, self.store, account_id, source_address, version)


def accept_tos(ledger: Ledger, store: AccountStore, account_id: str, source_address: str, version: str | None = None) -> str:
    """Record ``account_id`` accepting the current terms (``version``, when given, must be current)."""
    current = store.current_tos()
    if current is None:
        raise InputError("no terms of service are published yet (`stillwatch gateway tos publish`)")
    if version is not None and version != current[0]:
        raise InputError(f"terms version {version!r} is not the current version {current[0]!r}")
    store.require_account(account_id)
    ledger.append(ToSAcceptance(account=account_id, terms_version=current[0], terms_sha256=current[1],
                                ts=now_iso(), source_address=source_address))
    store.accept_tos(account_id, current[0])
    return current[0]
