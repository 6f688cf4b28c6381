"""Master secret and per-layer keys.

One 32-byte master secret per provider. From it, HKDF-SHA256 (RFC 5869) derives:

* the **provider key** (info ``stillwatch/v1/provider``): one key for every answer, what makes a model
  trained on our outputs detectable however many accounts the harvest was spread over;
* one **account key** per account (info ``stillwatch/v1/account/<account id>``): what tells which
  account received a leaked text.

Keys never appear in ``repr``, logs, errors or records: only their public ``key_id``.
"""

from __future__ import annotations

import functools
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from stillwatch.core import prf
from stillwatch.errors import KeyFileError
from stillwatch.secretfile import read_secret_text

MASTER_KEY_BYTES = 32
_HEADER = "stillwatch-master-key v1"
_SALT = b"stillwatch/v1/hkdf-salt"


def _hkdf(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=info).derive(secret)


@dataclass(frozen=True, repr=False)
class LayerKey:
    """A derived 32-byte layer key with a public identifier. ``repr`` shows only the id."""

    key_id: str
    _secret: bytes = field(compare=False)

    def __post_init__(self) -> None:
        if len(self._secret) != 32:
            raise KeyFileError(f"layer key {self.key_id!r} must be 32 bytes, got {len(self._secret)}")

    @functools.cached_property
    def words(self) -> tuple[np.uint64, np.uint64]:
        """(k0, k1) for the PRF (computed once per key: detection asks for them on every text)."""
        return prf.key_words(self._secret)

    def __repr__(self) -> str:
        return f"LayerKey(key_id={self.key_id!r})"

    __str__ = __repr__


@dataclass(frozen=True, repr=False)
class MasterKey:
    """The provider's master secret (32 bytes)."""

    _secret: bytes = field(compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self._secret, bytes | bytearray) or len(self._secret) != MASTER_KEY_BYTES:
            n = len(self._secret) if isinstance(self._secret, bytes | bytearray) else type(self._secret).__name__
            raise KeyFileError(f"master key must be {MASTER_KEY_BYTES} bytes, got {n}")

    def __repr__(self) -> str:
        return "MasterKey(<secret>)"

    __str__ = __repr__

    @classmethod
    def generate(cls) -> MasterKey:
        return cls(secrets.token_bytes(MASTER_KEY_BYTES))

    def save(self, path: str | Path) -> None:
        """Write the key to ``path`` with mode 0600; refuses to overwrite an existing file."""
        path = Path(path)
        if path.exists() or path.is_symlink():  # O_EXCL also refuses a (dangling) symlink
            raise KeyFileError(f"{path} already exists; refusing to overwrite a master key")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise KeyFileError(f"{path} already exists; refusing to overwrite a master key") from None
        except OSError as exc:
            raise KeyFileError(f"cannot create master key file {path}: {exc.strerror}") from None
        with os.fdopen(fd, "w") as fh:
            fh.write(f"{_HEADER}\n{self._secret.hex()}\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(path, 0o600)

    @classmethod
    def load(cls, path: str | Path) -> MasterKey:
        """Read a key written by :meth:`save`. Errors name the file and the problem, never the content.

        The file policy of :mod:`stillwatch.secretfile` applies: a key file that group or others can
        read (mode other than 0600) is refused.
        """
        path = Path(path)

        def parse(text: str) -> MasterKey:
            lines = text.strip().splitlines()
            if len(lines) != 2 or lines[0].strip() != _HEADER:
                raise KeyFileError(f"{path} is not a Stillwatch master key file (expected header {_HEADER!r}); create one with `stillwatch keys new`")
            try:
                raw = bytes.fromhex(lines[1].strip())
            except ValueError:
                raise KeyFileError(f"{path}: key line is not hexadecimal") from None
            if len(raw) != MASTER_KEY_BYTES:
                raise KeyFileError(f"{path}: master key must be {MASTER_KEY_BYTES} bytes ({2 * MASTER_KEY_BYTES} hex digits), got {len(raw)} bytes")
            return cls(raw)

        return read_secret_text(path, "Stillwatch master key", parse)

    def provider_key(self) -> LayerKey:
        return LayerKey("provider", _hkdf(self._secret, b"stillwatch/v1/provider"))

    def account_key(self, account_id: str) -> LayerKey:
        if not isinstance(account_id, str) or not account_id:
            raise KeyFileError(f"account id must be a non-empty string, got {account_id!r}")
        return LayerKey(f"account:{account_id}", _hkdf(self._secret, b"stillwatch/v1/account/" + account_id.encode("utf-8")))

    def key_ring(self, account_ids: Sequence[str]) -> KeyRing:
        """Account keys for many accounts as word arrays, for one-pass attribution.

        Derivation is one HKDF call per account (a one-time set-up, cryptographic and so not
        vectorisable); scoring against the ring is vectorised over all keys.
        """
        return KeyRing.from_keys([self.account_key(a) for a in account_ids])


@dataclass(frozen=True, repr=False)
class KeyRing:
    """N layer keys as arrays: ``key_ids`` (public) and words k0, k1 (uint64 [N])."""

    key_ids: tuple[str, ...]
    k0: np.ndarray
    k1: np.ndarray

    @classmethod
    def from_keys(cls, keys: Sequence[LayerKey]) -> KeyRing:
        if not keys:
            raise KeyFileError("at least one key is needed for attribution")
        w = np.array([[int(x) for x in k.words] for k in keys], dtype=np.uint64)
        return cls(tuple(k.key_id for k in keys), w[:, 0].copy(), w[:, 1].copy())

    def __len__(self) -> int:
        return len(self.key_ids)

    def __repr__(self) -> str:
        return f"KeyRing({len(self)} keys)"
