"""The gateway's secrets: the master secret and the accounts' API keys.

* The master secret comes from a key file (``stillwatch keys new``) or from the environment variable
  ``STILLWATCH_MASTER_KEY`` (64 hex digits). It is only ever held as a :class:`MasterKey`, whose
  ``repr`` hides it; messages name the file or the variable, never the content.
* An API key reads ``sw-<key id>-<secret>``: the key id (12 hex digits) is public and is what the
  ledger records; the secret is 32 random bytes (base64url). Only SHA-256 of the whole key is
  stored; a presented key is looked up by its id and its hash compared in constant time
  (:func:`hmac.compare_digest`). A key is shown once, when issued.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

from stillwatch.errors import KeyFileError
from stillwatch.mark import MasterKey

MASTER_KEY_ENV = "STILLWATCH_MASTER_KEY"
_KEY_RE = re.compile(r"^sw-([0-9a-f]{12})-([A-Za-z0-9_-]{43})$")


def load_master_key(path: str | Path | None) -> MasterKey:
    """The master secret from ``path`` or, when None, from ``$STILLWATCH_MASTER_KEY`` (hex)."""
    if path is not None:
        return MasterKey.load(path)
    text = os.environ.get(MASTER_KEY_ENV)
    if text is None:
        raise KeyFileError(f"no master key: pass --master-key FILE or set {MASTER_KEY_ENV} (64 hex digits)")
    try:
        raw = bytes.fromhex(text.strip())
    except ValueError:
        raise KeyFileError(f"{MASTER_KEY_ENV} is not hexadecimal (expected 64 hex digits)") from None
    if len(raw) != 32:
        raise KeyFileError(f"{MASTER_KEY_ENV} must hold 32 bytes (64 hex digits), got {len(raw)} bytes")
    return MasterKey(raw)


def new_api_key() -> tuple[str, str, str]:
    """A fresh API key: (key id, the key itself, its SHA-256 hex digest)."""
    key_id = secrets.token_hex(6)
    key = f"sw-{key_id}-{secrets.token_urlsafe(32)}"
    return key_id, key, key_digest(key)


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def parse_api_key(key: str) -> str | None:
    """The key id of a well-formed key, else None (nothing about a malformed key is echoed)."""
    m = _KEY_RE.match(key)
    return m.group(1) if m else None


def digest_matches(key: str, stored_digest: str) -> bool:
    """Constant-time comparison of ``key``'s SHA-256 with the stored digest."""
    return hmac.compare_digest(key_digest(key).encode(), stored_digest.encode())
