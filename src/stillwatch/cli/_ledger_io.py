"""File handling of the `stillwatch ledger` commands: strict input reading, safe output, Ctrl-C.

- Inputs are read as bytes and decoded as UTF-8 with errors that name the file (and line); a secret
  key file given as an input is refused without showing its content; small inputs (checkpoints) are
  read with a size cap so ``--since /dev/zero`` cannot hang.
- Outputs are checked before anything is recorded (the folder exists, the file does not — unless
  ``--force``), written to a temporary file in the same folder, fsynced, and moved into place only
  after the ledger transaction that they report committed.
- Ctrl-C exits 130 with one line saying what was and was not stored (:func:`interrupted`).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from stillwatch.errors import InputError, Interrupted
from stillwatch.secretfile import refuse_if_secret

__all__ = ["read_bytes", "read_text", "check_output", "write_temp", "publish", "finish", "discard", "interrupted"]

SMALL_INPUT = 1 << 20  # checkpoints and other one-screen inputs


def read_bytes(path: Path, what: str, limit: int | None = None) -> bytes:
    """The bytes of ``path`` (``-``: stdin); a clear InputError for anything that is not a readable file."""
    if str(path) == "-":
        return sys.stdin.buffer.read() if limit is None else sys.stdin.buffer.read(limit + 1)
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{what} {p} is a directory, not a file")
    refuse_if_secret(p, f"a {what}")
    try:
        with open(p, "rb") as fh:
            raw = fh.read() if limit is None else fh.read(limit + 1)
    except FileNotFoundError:
        raise InputError(f"{what} {p} does not exist") from None
    except OSError as exc:
        raise InputError(f"cannot read {what} {p}: {exc.strerror}") from None
    if limit is not None and len(raw) > limit:
        raise InputError(f"{what} {p} is larger than {limit} bytes; it is not a {what}")
    return raw


def read_text(path: Path, what: str, limit: int | None = None) -> str:
    """:func:`read_bytes` decoded as UTF-8; a non-UTF-8 file is an InputError naming the byte offset."""
    raw = read_bytes(path, what, limit)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{what} {path} is not UTF-8 text (invalid byte at offset {exc.start})") from None


def check_output(path: Path, force: bool, what: str) -> Path:
    """Refuse an output that cannot be written, before anything is recorded; return it as a Path."""
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"cannot write {what} {p}: folder {parent} does not exist")
    if p.is_dir():
        raise InputError(f"cannot write {what} {p}: it is a directory")
    if (p.exists() or p.is_symlink()) and not force:
        raise InputError(f"{what} {p} already exists; refusing to overwrite it (give --force to replace it)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"cannot write {what} {p}: folder {parent} is not writable")
    return p


def write_temp(dest: Path, text: str, state: dict | None = None) -> Path:
    """Write ``text`` to a new temporary file next to ``dest`` (fsynced); return its path.

    The path is put in ``state["tmp"]`` as soon as the file exists, so whoever handles a Ctrl-C
    knows what to clean up even if it lands before this function returns.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent if str(dest.parent) else ".")
    if state is not None:
        state["tmp"] = Path(tmp)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        discard(Path(tmp))
        raise
    return Path(tmp)


def publish(tmp: Path, dest: Path, force: bool) -> None:
    """Move the finished temporary file into place (never replacing a file unless ``force``)."""
    if force:
        os.replace(tmp, dest)
    else:
        try:
            os.link(tmp, dest)  # atomic, and fails if dest appeared meanwhile
        except FileExistsError:
            raise InputError(f"{dest} appeared while writing; the result is kept in {tmp}") from None
        os.unlink(tmp)
    try:
        dfd = os.open(dest.parent if str(dest.parent) else ".", os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:  # some filesystems cannot fsync a directory; the file itself is synced
        pass


def finish(tmp: Path | None, dest: Path, force: bool) -> None:
    """Complete an interrupted :func:`publish` of ``tmp`` (idempotent: safe wherever it stopped)."""
    if tmp is None or not tmp.exists():
        return
    if dest.exists() and os.path.samefile(tmp, dest):  # linked, not yet unlinked
        os.unlink(tmp)
        return
    publish(tmp, dest, force)


def discard(tmp: Path | None) -> None:
    if tmp is not None:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass


def interrupted(message: str) -> Interrupted:
    """The Ctrl-C report to raise: ``main()`` prints it on one line ("interrupted: ...") and exits
    with 130, as for every command (see ``stillwatch.cli._io.on_interrupt``)."""
    return Interrupted(message)
