"""One policy for every secret file Stillwatch reads: the master key and a ledger's signing key.

Policy (the same for both):

- a secret file must be readable by its owner only (no group/other permission bits, i.e. mode 0600
  or stricter); a looser mode is **refused** with a message naming the file, its mode and the fix
  (``chmod 600 FILE``) — never with the file's content. A key that others could read may already be
  copied; refusing makes the operator notice instead of silently signing or marking with it.
- a secret file is at most :data:`MAX_SECRET_BYTES` long and ASCII; anything else is "not a key
  file" (again without echoing content).
- a file that *looks like* a secret (:func:`looks_like_secret`) is refused wherever a list or a
  public key is expected, so a secret passed by mistake (``--accounts master.key``) is never read as
  data and echoed back.

Only the standard library: the ledger (hashlib + cryptography + its database) may use this module.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from stillwatch.errors import KeyFileError

T = TypeVar("T")

__all__ = ["MAX_SECRET_BYTES", "SECRET_PREFIXES", "looks_like_secret", "read_secret_text", "refuse_if_secret"]

MAX_SECRET_BYTES = 4096
#: First bytes of every secret file format Stillwatch writes (master key, ledger signing key).
SECRET_PREFIXES: tuple[bytes, ...] = (b"stillwatch-master-key", b"PRIVATE+KEY+")


def looks_like_secret(head: bytes) -> bool:
    """True when ``head`` (the first bytes of a file) starts like a Stillwatch secret file."""
    return head.lstrip().startswith(SECRET_PREFIXES)


def refuse_if_secret(path: Path, what: str) -> None:
    """Raise :class:`KeyFileError` when ``path`` holds a secret key (it was given where ``what`` belongs)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
    except OSError:
        return  # the caller's own read reports unreadable files
    if looks_like_secret(head):
        raise KeyFileError(f"{path} is a secret key file, not {what}; refusing to read it (its content is not shown)")


def read_secret_text(path: Path, what: str, parse: Callable[[str], T]) -> T:
    """``parse(text)`` of the secret file ``path``, after the checks of the module policy.

    ``what`` names the secret in messages ("master key", "signing key"); ``parse`` raises
    :class:`KeyFileError` for a malformed file (content problems are reported first, then a loose
    mode). Messages never contain the file's content. The mode is read from the open file
    descriptor, so it is the mode of the bytes that were read.
    """
    path = Path(path)
    if path.is_dir():
        raise KeyFileError(f"{what} path is a directory, not a key file: {path}")
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise KeyFileError(f"{what} file not found: {path}") from None
    except OSError as exc:
        raise KeyFileError(f"cannot read {what} file {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise KeyFileError(f"{what} file {path} is not a regular file")
        raw = fh.read(MAX_SECRET_BYTES + 1)
    if len(raw) > MAX_SECRET_BYTES:
        raise KeyFileError(f"{path} is not a {what} file (larger than {MAX_SECRET_BYTES} bytes)")
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise KeyFileError(f"{path} is not a {what} file (not ASCII text)") from None
    value = parse(text)
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise KeyFileError(f"{what} file {path} has mode {mode:04o}; it must be 0600 (others could read it: "
                           f"run `chmod 600 {path}` and consider the key exposed)")
    return value
