"""Prompt records: one ``{"prompt": ..., "id"?: ..., "family"?: ...}`` object per JSONL line, the
input of ``mark generate`` and ``distill harvest`` (and what ``distill prompts`` writes)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from stillwatch.errors import InputError
from stillwatch.records.jsonl import iter_lines, write_atomic


@dataclass(frozen=True)
class Prompt:
    """One prompt: ``id`` unique within its file, ``family`` a free label (``custom`` by default)."""

    id: str
    family: str
    prompt: str

    def to_dict(self) -> dict:
        return {"id": self.id, "family": self.family, "prompt": self.prompt}


def read_prompts(path: Path) -> list[Prompt]:
    """Read a prompts file whole; each line needs a non-empty string ``prompt`` (``id`` and ``family``
    optional strings). Raises :class:`InputError` naming the file and line of the first bad record,
    and for an empty file or duplicate ids (a resumable harvest keys on them)."""
    path = Path(path)
    out: list[Prompt] = []
    for line in iter_lines(path, what="prompt file"):
        rec = line.obj
        if not isinstance(rec.get("prompt"), str) or not rec["prompt"].strip():
            raise InputError(f"{path}:{line.no}: each line needs a non-empty string field 'prompt'")
        for k in ("id", "family"):
            if k in rec and not isinstance(rec[k], (str, int)) or isinstance(rec.get(k), bool):
                raise InputError(f"{path}:{line.no}: field {k!r} must be a string")
        out.append(Prompt(id=str(rec.get("id", f"line{line.no:06d}")), family=str(rec.get("family", "custom")), prompt=rec["prompt"]))
    if not out:
        raise InputError(f"prompt file {path} holds no prompts")
    ids = [p.id for p in out]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise InputError(f"prompt file {path} has duplicate id {dup!r}; ids must be unique for resumable harvests")
    return out


def write_prompts(path: Path, prompts: Sequence[Prompt]) -> int:
    """Write prompts as JSONL (atomically: temporary file, fsync, rename). Returns the count."""
    return write_atomic(path, (p.to_dict() for p in prompts))
