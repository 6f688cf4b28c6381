"""The one JSONL reader and the two JSONL writers of Stillwatch.

Reading is strict: every line must be UTF-8 (no replacement characters slipped in), hold one JSON
object, and contain no lone surrogate (JSON allows ``"\\ud800"``; such a string cannot be written
back as UTF-8, tokenized or stored). A line that breaks any of this raises :class:`InputError`
naming the file and the line — or, with ``errors="report"``, comes back as a :class:`Line` with its
``error`` set so that a per-line command can report it and go on. Blank lines are skipped.

Policy (the same for every command): a command that *produces or stores* something from a file
(``mark generate``, ``distill harvest``, ``distill train``, ``trace radioactivity``) reads the whole
file first and refuses it on its first bad line, before any work and before anything is written; a
command that only *reports on each line* (``mark detect``) reports bad lines in place and still
scores the others.

Writing: :func:`write_atomic` writes a whole file through a temporary name, fsync and rename (a
reader never sees half a file; an interrupted write leaves the old file or none);
:class:`Appender` appends records durably (flush + fsync per batch) for resumable jobs, after
cutting a torn last line an interrupted writer may have left.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stillwatch.errors import InputError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Line:
    """One non-blank line: its 1-based number, the object (None when the line is bad) and what was
    wrong with it (None when it is good)."""

    no: int
    obj: dict[str, Any] | None
    error: str | None = None


def _has_lone_surrogate(obj: Any) -> bool:
    if isinstance(obj, str):
        try:
            obj.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(obj, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in obj.items())
    if isinstance(obj, list):
        return any(_has_lone_surrogate(v) for v in obj)
    return False


def _parse(raw: bytes) -> tuple[dict[str, Any] | None, str | None]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"not valid UTF-8 (byte {exc.start + 1} of the line)"
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON ({exc.msg})"
    except RecursionError:
        return None, "not valid JSON (nested too deeply)"
    if not isinstance(obj, dict):
        return None, f"expected a JSON object, got {type(obj).__name__}"
    if _has_lone_surrogate(obj):
        return None, "holds a lone surrogate escape (e.g. \\ud800), which is not text"
    return obj, None


def open_input(path: Path, what: str) -> Path:
    """``path`` as a readable regular file, or :class:`InputError` saying what is wrong with it."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{what} not found: {path}")
    if path.is_dir():
        raise InputError(f"{what} {path} is a directory, not a file")
    if not os.access(path, os.R_OK):
        raise InputError(f"{what} {path} cannot be read (permission denied)")
    return path


def iter_lines(path: Path, *, what: str = "input file", errors: str = "raise",
               allow_torn_tail: bool = False) -> Iterator[Line]:
    """Yield each non-blank line of the JSONL file ``path``.

    ``errors="raise"``: the first bad line raises InputError("<path>:<line>: ..."); ``"report"``:
    bad lines are yielded with ``obj=None`` and ``error`` set. ``allow_torn_tail``: a last line
    without its newline that does not parse (an interrupted append) is skipped with a warning.
    Requires ``errors`` in {"raise", "report"}.
    """
    if errors not in ("raise", "report"):
        raise InputError(f"errors must be 'raise' or 'report', got {errors!r}")
    data = open_input(path, what).read_bytes()
    lines = data.split(b"\n")
    torn = data != b"" and not data.endswith(b"\n")
    for no, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        obj, err = _parse(raw)
        if err is not None:
            if allow_torn_tail and torn and no == len(lines):
                log.warning("%s: ignoring a torn last line (an interrupted write)", path)
                continue
            if errors == "raise":
                raise InputError(f"{path}:{no}: {err}")
        yield Line(no, obj, err)


def read_objects(path: Path, *, what: str = "input file", required: tuple[str, ...] = ()) -> list[tuple[int, dict[str, Any]]]:
    """All (line number, object) pairs of ``path``; the first bad line, or a line whose ``required``
    fields are not strings, raises InputError naming the file and line."""
    out = []
    for line in iter_lines(path, what=what):
        for k in required:
            if not isinstance(line.obj.get(k), str):
                raise InputError(f"{path}:{line.no}: field {k!r} must be a string")
        out.append((line.no, line.obj))
    return out


def read_text_lines(path: Path, *, what: str = "file") -> list[str]:
    """Non-blank, stripped lines of a UTF-8 text file (e.g. account ids); InputError naming the
    file and line for bytes that are not UTF-8."""
    data = open_input(path, what).read_bytes()
    out = []
    for no, raw in enumerate(data.split(b"\n"), start=1):
        try:
            text = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise InputError(f"{path}:{no}: not valid UTF-8 text") from None
        if text:
            out.append(text)
    return out


def dumps_line(obj: Any) -> str:
    """One JSONL line (without the newline) of a dict or of a record with ``to_dict()``; non-ASCII
    is kept as is."""
    return json.dumps(obj.to_dict() if hasattr(obj, "to_dict") else obj, ensure_ascii=False)


def check_output(path: Path, *, force: bool = False, what: str = "output file") -> Path:
    """Check, before any work, that ``path`` can be written: its directory exists and it is not a
    directory; an existing file is refused unless ``force``. Returns ``path``."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{what} {path} is a directory")
    if not path.parent.is_dir():
        raise InputError(f"the directory of {what} {path} does not exist: {path.parent}")
    if (path.exists() or path.is_symlink()) and not force:
        raise InputError(f"{what} {path} already exists; pass --force to replace it")
    if not os.access(path.parent, os.W_OK):
        raise InputError(f"cannot write {what} {path}: its directory is not writable")
    return path


def check_appendable(path: Path, *, what: str = "output file") -> Path:
    """Check, before any work and without creating anything, that records can be appended to
    ``path``: not a directory, its directory exists and is writable, and an existing file is writable."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{what} {path} is a directory")
    if not path.parent.is_dir():
        raise InputError(f"the directory of {what} {path} does not exist: {path.parent}")
    if path.exists() and not os.access(path, os.W_OK) or not path.exists() and not os.access(path.parent, os.W_OK):
        raise InputError(f"cannot write {what} {path} (permission denied)")
    return path


def write_atomic(path: Path, objects: Iterable[Any]) -> int:
    """Write ``objects`` (dicts, or records with ``to_dict()``) as JSONL to ``path`` through a temporary file, fsync and rename. Returns the
    number of lines written. An interrupted call leaves ``path`` as it was."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    n = 0
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            for obj in objects:
                fh.write(dumps_line(obj) + "\n")
                n += 1
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return n


class Appender:
    """Append JSONL records durably (flush + fsync per :meth:`write_many`). A torn last line left by
    an interrupted writer is cut off before appending, so the file stays valid JSONL."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise InputError(f"output file {self.path} is a directory")
        if not self.path.parent.is_dir():
            raise InputError(f"the directory of output file {self.path} does not exist: {self.path.parent}")
        self._repair_tail()
        self._fh = self.path.open("a", encoding="utf-8")

    def _repair_tail(self) -> None:
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        data = self.path.read_bytes()
        if data.endswith(b"\n"):
            return
        cut = data.rfind(b"\n") + 1  # keep every complete line
        log.warning("%s: cutting a torn last line of %d bytes (an interrupted write)", self.path, len(data) - cut)
        with self.path.open("r+b") as fh:
            fh.truncate(cut)

    def write_many(self, objects: Iterable[Any]) -> int:
        """Append ``objects`` (dicts, or records with ``to_dict()``), then flush and fsync; returns the count."""
        n = 0
        for obj in objects:
            self._fh.write(dumps_line(obj) + "\n")
            n += 1
        self._fh.flush()
        os.fsync(self._fh.fileno())
        return n

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> Appender:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
