"""The case key: an Ed25519 key pair that signs a case's chain of custody and its findings (DSSE).

The private key lives in a file of mode 0600 *outside* the case folder (default ``<case dir>.key``),
so a case folder or bundle can be handed over whole without handing over a secret. Its text format
is the ledger's (``PRIVATE+KEY+<name>+<key id hex>+<base64(0x01 || seed)>``) and the public key is a
C2SP signed-note verifier key (``<name>+<key id hex>+<base64(0x01 || public key)>``), parsed and
printed by :class:`stillwatch.ledger.Verifier`, so one key format serves checkpoints and cases.

The DSSE ``keyid`` of a case key is its verifier-key string's key id (8 hex digits), and any
Ed25519 library verifies its signatures from the 32 raw public-key bytes.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from stillwatch.errors import KeyFileError
from stillwatch.ledger import Verifier
from stillwatch.ledger.checkpoint import load_verifier
from stillwatch.secretfile import read_secret_text

__all__ = ["CaseKey", "load_public_key"]

_ED25519 = b"\x01"


class CaseKey:
    """An Ed25519 signing key with a name. Its repr and str never show the key."""

    def __init__(self, name: str, private: Ed25519PrivateKey) -> None:
        self._private = private
        raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.verifier = Verifier(name, raw)  # validates the name

    def __repr__(self) -> str:
        return f"CaseKey(name={self.verifier.name!r}, key_id={self.key_id})"

    @property
    def key_id(self) -> str:
        return self.verifier.key_id.hex()

    @classmethod
    def generate(cls, name: str) -> CaseKey:
        return cls(name, Ed25519PrivateKey.generate())

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message``."""
        return self._private.sign(message)

    def public_string(self) -> str:
        return self.verifier.to_string()

    def save(self, path: Path) -> None:
        """Write the private key to ``path`` (mode 0600), refusing to overwrite an existing file."""
        seed = self._private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        text = f"PRIVATE+KEY+{self.verifier.name}+{self.key_id}+{base64.b64encode(_ED25519 + seed).decode()}\n"
        try:
            fd = os.open(Path(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError as exc:
            raise KeyFileError(f"key file {path} already exists; refusing to overwrite it") from exc
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())

    @classmethod
    def load(cls, path: Path) -> CaseKey:
        """Load a private key file under the project's secret-file policy (:mod:`stillwatch.secretfile`:
        mode 0600, small ASCII file, content never in messages)."""
        path = Path(path)

        def parse(text: str) -> CaseKey:
            parts = text.strip().split("+", 4)
            if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
                raise KeyFileError(f"case key file {path} is malformed")
            try:
                raw = base64.b64decode(parts[4], validate=True)
            except (binascii.Error, ValueError) as exc:
                raise KeyFileError(f"case key file {path} is malformed") from exc
            if len(raw) != 33 or raw[:1] != _ED25519:
                raise KeyFileError(f"case key file {path} does not hold an Ed25519 key")
            key = cls(parts[2], Ed25519PrivateKey.from_private_bytes(raw[1:]))
            if key.key_id != parts[3]:
                raise KeyFileError(f"case key file {path} has an inconsistent key id")
            return key

        return read_secret_text(path, "case key", parse)


def load_public_key(source: str | Path) -> Verifier:
    """A verifier key from a file holding ``<name>+<key id>+<base64>`` (or that string itself)."""
    text = str(source)
    if "+" not in text or Path(text).is_file():
        return load_verifier(Path(text))  # the ledger's reader: bounded, ASCII only, secrets refused
    return Verifier.from_string(text.strip())


def ed25519_public(verifier: Verifier) -> Ed25519PublicKey:
    """The pyca/cryptography public key of a verifier key (for DSSE verification)."""
    return Ed25519PublicKey.from_public_bytes(verifier.public)
