"""The one writer of benchmark results: a script owns a *section* of a results file
(``benchmarks/results/<part>.md``) between two markers, or a whole file; rerunning it replaces
only what it owns. Hand-written notes below :data:`NOTES_MARKER` survive every rewrite."""

from __future__ import annotations

from pathlib import Path

from _lib.paths import RESULTS

#: Results files keep everything from this line on when a script rewrites them.
NOTES_MARKER = "<!-- hand-written notes below: kept when the script rewrites this file -->"


def _markers(tag: str) -> tuple[str, str]:
    return f"<!-- {tag}:begin -->", f"<!-- {tag}:end -->"


def write_section(file: str | Path, tag: str, body: str, *, title: str | None = None, header: str = "") -> Path:
    """Replace (or append) the section ``tag`` of ``file`` (a name in benchmarks/results/, or a path)
    with ``body`` (a ``## title`` heading first when given). ``header`` starts a file that does not
    exist yet. Returns the path written."""
    path = Path(file) if Path(file).is_absolute() else RESULTS / file
    path.parent.mkdir(parents=True, exist_ok=True)
    text = path.read_text(encoding="utf-8") if path.exists() else (header.rstrip() + "\n" if header else "")
    begin, end = _markers(tag)
    block = begin + "\n" + (f"## {title}\n\n" if title else "") + body.strip("\n") + "\n" + end
    if begin in text and end in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end):]
    else:
        notes = ""
        if NOTES_MARKER in text:
            text, notes = text[: text.index(NOTES_MARKER)], text[text.index(NOTES_MARKER):]
        text = (text.rstrip("\n") + "\n\n" if text.strip() else "") + block + "\n" + ("\n" + notes if notes else "")
    path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    return path


def write_file(file: str | Path, text: str) -> Path:
    """Write a whole results file, keeping the old file's hand-written notes (from
    :data:`NOTES_MARKER` on) below the new text. Returns the path written."""
    path = Path(file) if Path(file).is_absolute() else RESULTS / file
    path.parent.mkdir(parents=True, exist_ok=True)
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    if NOTES_MARKER in old:
        text = text.rstrip("\n") + "\n\n" + old[old.index(NOTES_MARKER):]
    path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    return path
