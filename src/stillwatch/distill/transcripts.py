"""Harvest transcripts: an append-only JSONL file, one record per answered prompt.

Every record is written with ``flush`` + ``fsync`` as soon as its batch is answered, so an
interrupted harvest loses at most the batch in flight; a restart reads the file, skips the
prompts already answered and appends the rest. A torn last line (the process died mid-write) is
the only thing ever dropped: it never held a complete record.

Record fields: ``prompt_id``, ``family``, ``prompt``, ``answer``, ``account``, ``watermark``
("local" — applied here with the account's Marker, "server-side" — a remote teacher such as a
Stillwatch gateway applied it, or "none"), ``spec`` (the Marker's JSON-safe spec record, or null),
``teacher``, ``tokenizer_id``, and for local teachers ``prompt_ids`` / ``answer_ids``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from stillwatch.errors import InputError

log = logging.getLogger(__name__)

REQUIRED_FIELDS = ("prompt_id", "prompt", "answer", "account")


@dataclass(frozen=True)
class Transcript:
    """One harvested exchange."""

    prompt_id: str
    prompt: str
    answer: str
    account: str
    family: str = "custom"
    watermark: str = "none"
    spec: dict | None = None
    teacher: str = ""
    tokenizer_id: str = ""
    prompt_ids: tuple[int, ...] = ()
    answer_ids: tuple[int, ...] = ()
    extra: dict = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict:
        d = {
            "prompt_id": self.prompt_id, "family": self.family, "prompt": self.prompt, "answer": self.answer,
            "account": self.account, "watermark": self.watermark, "spec": self.spec, "teacher": self.teacher,
            "tokenizer_id": self.tokenizer_id,
        }
        if self.prompt_ids:
            d["prompt_ids"] = list(self.prompt_ids)
        if self.answer_ids:
            d["answer_ids"] = list(self.answer_ids)
        d.update(self.extra)
        return d

    @classmethod
    def from_dict(cls, rec: dict) -> Transcript:
        known = {"prompt_id", "family", "prompt", "answer", "account", "watermark", "spec", "teacher",
                 "tokenizer_id", "prompt_ids", "answer_ids"}
        return cls(
            prompt_id=str(rec["prompt_id"]), prompt=rec["prompt"], answer=rec["answer"], account=str(rec["account"]),
            family=str(rec.get("family", "custom")), watermark=str(rec.get("watermark", "none")), spec=rec.get("spec"),
            teacher=str(rec.get("teacher", "")), tokenizer_id=str(rec.get("tokenizer_id", "")),
            prompt_ids=tuple(int(i) for i in rec.get("prompt_ids") or ()),
            answer_ids=tuple(int(i) for i in rec.get("answer_ids") or ()),
            extra={k: v for k, v in rec.items() if k not in known},
        )


def read_transcripts(path: Path, *, allow_empty: bool = False) -> list[Transcript]:
    """Read a transcript file. A torn *last* line is ignored (logged); any other bad line raises
    :class:`InputError` naming the file and line. Raises when the file is missing, or holds no
    record and ``allow_empty`` is False."""
    path = Path(path)
    if not path.exists():
        if allow_empty:
            return []
        raise InputError(f"transcript file not found: {path}")
    lines = path.read_text(encoding="utf-8").split("\n")
    torn_tail = lines[-1] != ""  # a complete file ends with a newline
    out: list[Transcript] = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            if torn_tail and lineno == len(lines):
                log.warning("%s: ignoring a torn last line (an interrupted write)", path)
                continue
            raise InputError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
        missing = [f for f in REQUIRED_FIELDS if not isinstance(rec, dict) or f not in rec]
        if missing:
            raise InputError(f"{path}:{lineno}: transcript record lacks field(s) {', '.join(missing)}")
        out.append(Transcript.from_dict(rec))
    if not out and not allow_empty:
        raise InputError(f"transcript file {path} holds no records")
    return out


class TranscriptWriter:
    """Append records durably (flush + fsync per :meth:`write_many`). A torn last line left by an
    interrupted writer is cut off before appending, so the file stays valid JSONL."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
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

    def write_many(self, records: Iterable[Transcript]) -> int:
        n = 0
        for rec in records:
            self._fh.write(json.dumps(rec.to_dict(), ensure_ascii=False) + "\n")
            n += 1
        self._fh.flush()
        os.fsync(self._fh.fileno())
        return n

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> TranscriptWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
