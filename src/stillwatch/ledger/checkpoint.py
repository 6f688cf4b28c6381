"""Signed tree heads ("checkpoints") as Ed25519-signed text notes.

The format is the C2SP ``tlog-checkpoint`` body inside a C2SP ``signed-note``, the one
transparency-dev and Go's ``sumdb/note`` use, so third-party tools can read it::

    <origin>\\n
    <tree size, decimal>\\n
    <root hash, base64>\\n
    \\n
    — <key name> <base64(key id (4 bytes) || Ed25519 signature (64 bytes))>\\n

The signature covers the three body lines (with their newlines). The key id is the first four bytes
of ``SHA-256(key name || "\\n" || 0x01 || public key)``. A verifier key is written as
``<name>+<key id hex>+<base64(0x01 || public key)>``; anyone can check a checkpoint with it alone.

Private keys live in a file of mode 0600 (``PRIVATE+KEY+<name>+<key id hex>+<base64(0x01 || seed)>``),
never in the ledger, and never appear in messages.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .errors import HashSizeError, SignatureError
from stillwatch.errors import KeyFileError
from stillwatch.secretfile import read_secret_text, refuse_if_secret

__all__ = [
    "Checkpoint",
    "Signer",
    "Verifier",
    "generate_signer",
    "load_signer",
    "load_verifier",
    "write_key_files",
    "parse_checkpoint",
    "b64decode_strict",
]

_ED25519 = b"\x01"
_DASH = "\u2014"  # the em dash that starts a signature line


def b64decode_strict(text: str) -> bytes:
    """Decode canonical standard base64 (RFC 4648 section 4, padded) or raise ``ValueError``.

    Canonical means the one encoding of the bytes: no characters outside the alphabet, no line breaks
    and no set bits in the padding (``...l8U=`` and ``...l8V=`` decode to the same bytes with a lax
    decoder; only the first is accepted). The signed-note format signs and compares text, so two
    spellings of one value would make one signed checkpoint look like two different notes.
    """
    if not isinstance(text, str) or not text.isascii():
        raise ValueError("not ASCII base64")
    raw = base64.b64decode(text, validate=True)
    if base64.b64encode(raw).decode("ascii") != text:
        raise ValueError("not canonical base64")
    return raw


def _key_id(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + _ED25519 + public).digest()[:4]


def _check_name(name: str) -> None:
    if not name or any(c.isspace() for c in name) or "+" in name:
        raise KeyFileError(f"key name {name!r} must be non-empty, without spaces or '+'")


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: origin, size and root. ``text`` is the signed note when it was signed/parsed."""

    origin: str
    size: int
    root: bytes
    text: str = ""

    def body(self) -> str:
        """The three signed lines."""
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"


class Verifier:
    """Checks checkpoint signatures with an Ed25519 public key only."""

    def __init__(self, name: str, public: bytes) -> None:
        _check_name(name)
        if len(public) != 32:
            raise KeyFileError(f"Ed25519 public key must be 32 bytes, got {len(public)}")
        self.name = name
        self.public = bytes(public)
        self.key_id = _key_id(name, self.public)
        self._key = Ed25519PublicKey.from_public_bytes(self.public)

    @classmethod
    def from_string(cls, text: str) -> Verifier:
        """Parse ``<name>+<key id hex>+<base64(0x01 || public key)>``."""
        if not isinstance(text, str):
            raise KeyFileError(f"a verifier key must be a string, got {type(text).__name__}")
        parts = text.strip().split("+", 2)
        if len(parts) != 3:
            raise KeyFileError("verifier key must look like <name>+<key id hex>+<base64 key>")
        name, kid, b64 = parts
        try:
            raw = b64decode_strict(b64)
            if len(kid) != 8 or kid != kid.lower():
                raise ValueError("key id must be 8 lower-case hex digits")
            kid_bytes = bytes.fromhex(kid)
        except (binascii.Error, ValueError) as exc:
            raise KeyFileError(f"verifier key for {name[:64]!r} is not valid hex/base64") from exc
        if len(raw) != 33 or raw[:1] != _ED25519:
            raise KeyFileError(f"verifier key for {name!r} is not an Ed25519 key")
        v = cls(name, raw[1:])
        if v.key_id != kid_bytes:
            raise KeyFileError(f"verifier key for {name!r} has a wrong key id {kid}")
        return v

    def to_string(self) -> str:
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(_ED25519 + self.public).decode()}"

    def verify(self, text: str, origin: str | None = None) -> Checkpoint:
        """Parse a signed checkpoint and check this key's signature on it; return the checkpoint.

        Raises :class:`SignatureError` when no signature by this key verifies, and
        :class:`SignatureError` too for a malformed note or an unexpected origin.
        """
        cp, sigs = _split_note(text)
        if origin is not None and cp.origin != origin:
            raise SignatureError(f"checkpoint origin {cp.origin!r} is not the expected {origin!r}")
        found = False
        for name, blob in sigs:
            if name != self.name or blob[:4] != self.key_id:
                continue
            found = True
            try:
                self._key.verify(blob[4:], cp.body().encode())
            except InvalidSignature:
                continue
            return cp
        if found:
            raise SignatureError(f"checkpoint signature by key {self.name!r} does not verify (size {cp.size})")
        raise SignatureError(f"checkpoint carries no signature by key {self.name!r}")


class Signer:
    """Signs checkpoints with an Ed25519 private key. Its repr never shows the key."""

    def __init__(self, name: str, private: Ed25519PrivateKey) -> None:
        _check_name(name)
        self.name = name
        self._private = private
        public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.verifier = Verifier(name, public)

    def __repr__(self) -> str:
        return f"Signer(name={self.name!r}, key_id={self.verifier.key_id.hex()})"

    def sign(self, origin: str, size: int, root: bytes) -> Checkpoint:
        """Return a signed checkpoint for (origin, size, root)."""
        if len(root) != 32:
            raise HashSizeError(f"root must be 32 bytes, got {len(root)}")
        if "\n" in origin or not origin:
            raise SignatureError(f"origin {origin!r} must be one non-empty line")
        cp = Checkpoint(origin, int(size), bytes(root))
        sig = self._private.sign(cp.body().encode())
        line = f"{_DASH} {self.name} {base64.b64encode(self.verifier.key_id + sig).decode()}\n"
        return Checkpoint(cp.origin, cp.size, cp.root, cp.body() + "\n" + line)

    def private_string(self) -> str:
        from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

        seed = self._private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        kid = self.verifier.key_id.hex()
        return f"PRIVATE+KEY+{self.name}+{kid}+{base64.b64encode(_ED25519 + seed).decode()}"


def _split_note(text: str) -> tuple[Checkpoint, list[tuple[str, bytes]]]:
    if not isinstance(text, str) or "\n\n" not in text:
        raise SignatureError("checkpoint is not a signed note (no blank line before signatures)")
    body, _, sig_block = text.partition("\n\n")
    lines = body.split("\n")
    if len(lines) < 3:
        raise SignatureError("checkpoint body must have origin, size and root lines")
    origin, size_s, root_s = lines[0], lines[1], lines[2]
    if not size_s.isdigit() or (len(size_s) > 1 and size_s[0] == "0"):
        raise SignatureError(f"checkpoint size {size_s!r} is not a decimal number")
    try:
        root = b64decode_strict(root_s)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError("checkpoint root is not canonical base64") from exc
    if len(root) != 32:
        raise SignatureError(f"checkpoint root must be 32 bytes, got {len(root)}")
    if len(lines) > 3:
        raise SignatureError("checkpoint has extension lines, which this ledger does not write")
    sigs: list[tuple[str, bytes]] = []
    for line in sig_block.split("\n"):
        if not line:
            continue
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != _DASH:
            raise SignatureError(f"malformed signature line {line[:40]!r}")
        try:
            blob = b64decode_strict(parts[2])
        except (binascii.Error, ValueError) as exc:
            raise SignatureError("signature is not canonical base64") from exc
        if len(blob) != 68:
            raise SignatureError(f"Ed25519 signature blob must be 68 bytes, got {len(blob)}")
        sigs.append((parts[1], blob))
    if not sigs:
        raise SignatureError("checkpoint carries no signature")
    return Checkpoint(origin, int(size_s), root, text), sigs


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse a checkpoint's body WITHOUT checking any signature (use :meth:`Verifier.verify`)."""
    return _split_note(text)[0]


def generate_signer(name: str) -> Signer:
    """A fresh Ed25519 signer named ``name`` (the ledger uses its origin as the name)."""
    return Signer(name, Ed25519PrivateKey.generate())


def write_key_files(signer: Signer, key_path: Path, pub_path: Path) -> None:
    """Write the private key (mode 0600, refusing to overwrite) and the verifier key."""
    key_path = Path(key_path)
    try:
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:  # also a (dangling) symlink: O_EXCL never follows one
        raise KeyFileError(f"key file {key_path} already exists; refusing to overwrite it") from exc
    except OSError as exc:
        raise KeyFileError(f"cannot create key file {key_path}: {exc.strerror}") from exc
    with os.fdopen(fd, "w") as f:
        f.write(signer.private_string() + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.chmod(key_path, 0o600)
    Path(pub_path).write_text(signer.verifier.to_string() + "\n")


def load_signer(key_path: Path) -> Signer:
    """Load a private key file; the policy of :mod:`stillwatch.secretfile` applies (mode 0600 or refused)."""
    key_path = Path(key_path)

    def parse(text: str) -> Signer:
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise KeyFileError(f"signing key file {key_path} is malformed")
        name, kid, b64 = parts[2], parts[3], parts[4]
        try:
            raw = b64decode_strict(b64)
        except (binascii.Error, ValueError) as exc:
            raise KeyFileError(f"signing key file {key_path} is malformed") from exc
        if len(raw) != 33 or raw[:1] != _ED25519:
            raise KeyFileError(f"signing key file {key_path} does not hold an Ed25519 key")
        signer = Signer(name, Ed25519PrivateKey.from_private_bytes(raw[1:]))
        if signer.verifier.key_id.hex() != kid:
            raise KeyFileError(f"signing key file {key_path} has an inconsistent key id")
        return signer

    return read_secret_text(key_path, "signing key", parse)


def load_verifier(pub_path: Path) -> Verifier:
    """Load a verifier key file (``<name>+<key id>+<base64>``).

    A trusted key that cannot be read is an error (never a reason to trust something else); a
    secret key file given here by mistake is refused without showing its content.
    """
    pub_path = Path(pub_path)
    if pub_path.is_dir():
        raise KeyFileError(f"public key path {pub_path} is a directory, not a key file")
    refuse_if_secret(pub_path, "a public key")
    try:
        raw = pub_path.read_bytes()
    except FileNotFoundError:
        raise KeyFileError(f"public key file {pub_path} does not exist") from None
    except OSError as exc:
        raise KeyFileError(f"cannot read public key file {pub_path}: {exc.strerror}") from None
    if len(raw) > 4096:
        raise KeyFileError(f"{pub_path} is not a public key file (larger than 4096 bytes)")
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise KeyFileError(f"{pub_path} is not a public key file (not ASCII text)") from None
    try:
        return Verifier.from_string(text)
    except KeyFileError as exc:
        raise KeyFileError(f"public key file {pub_path}: {exc}") from None
