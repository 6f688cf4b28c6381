"""The one answer record of Stillwatch: what ``mark generate`` and ``distill harvest`` write, and
what ``mark detect``, ``distill train`` and ``trace radioactivity`` read.

One JSON object per line (see :mod:`stillwatch.records.jsonl`):

======================  =====================================================================
``prompt_id``           the prompt's id (from the prompts file, else ``line<N>``), unique per file
``family``              the prompt's family (``reasoning``, ``coding``, ``tool_use``, ``custom``)
``prompt``              the prompt as sent (before the chat template)
``text``                the answer
``account``             the account it was served to (whose watermark layer it carries)
``watermark``           ``"local"`` (applied here), ``"server-side"`` (a remote teacher's server
                        applied it; not checked here) or ``"none"``
``spec``                the watermark's spec record (both layers' parameters and a fingerprint,
                        never a key) or null
``model``               the model that answered (``smollm2``, ``tiny``, a URL, a directory)
``tokenizer_id``        fingerprint of that model's tokenizer (null when unknown: a remote model)
``sampling``            ``max_new_tokens``, ``temperature``, ``top_k``, ``seed``
``finish_reason``       ``stop`` or ``length``
``prompt_ids``          local models only: the ids the model was conditioned on (chat template applied)
``completion_ids``      local models only: the ids it generated
======================  =====================================================================

Files of these records are read whole (:func:`read_transcripts`); a torn last line (an interrupted
append) is the only thing ever skipped.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stillwatch.errors import InputError
from stillwatch.records.jsonl import iter_lines

REQUIRED_FIELDS = ("prompt_id", "prompt", "text", "account")
WATERMARK_MODES = ("local", "server-side", "none")
_KNOWN = ("prompt_id", "family", "prompt", "text", "account", "watermark", "spec", "model", "tokenizer_id", "sampling",
          "finish_reason", "prompt_ids", "completion_ids")


@dataclass(frozen=True)
class Transcript:
    """One answered prompt (see the module docstring for the fields)."""

    prompt_id: str
    prompt: str
    text: str
    account: str
    family: str = "custom"
    watermark: str = "none"
    spec: dict | None = None
    model: str = ""
    tokenizer_id: str | None = None
    sampling: dict = field(default_factory=dict)
    finish_reason: str = "stop"
    prompt_ids: tuple[int, ...] = ()
    completion_ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.watermark not in WATERMARK_MODES:
            raise InputError(f"watermark must be one of {', '.join(WATERMARK_MODES)}, got {self.watermark!r}")

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "prompt_id": self.prompt_id, "family": self.family, "prompt": self.prompt, "text": self.text,
            "account": self.account, "watermark": self.watermark, "spec": self.spec, "model": self.model,
            "tokenizer_id": self.tokenizer_id, "sampling": dict(self.sampling), "finish_reason": self.finish_reason,
        }
        if self.prompt_ids:
            d["prompt_ids"] = list(self.prompt_ids)
        if self.completion_ids:
            d["completion_ids"] = list(self.completion_ids)
        return d

    @classmethod
    def from_dict(cls, rec: dict[str, Any], where: str = "record") -> Transcript:
        """Parse one record; InputError naming ``where`` (e.g. "file:line") and the field on a bad one."""
        missing = [f for f in REQUIRED_FIELDS if f not in rec]
        if missing:
            hint = " (a file written before the record format was unified: 'answer' is now 'text')" if "answer" in rec else ""
            raise InputError(f"{where}: record lacks field(s) {', '.join(missing)}{hint}")
        for f in ("prompt_id", "prompt", "text", "account", "family", "model", "watermark", "finish_reason"):
            if f in rec and not isinstance(rec[f], str):
                raise InputError(f"{where}: field {f!r} must be a string, got {type(rec[f]).__name__}")
        for f in ("spec", "sampling"):
            if rec.get(f) is not None and not isinstance(rec[f], dict):
                raise InputError(f"{where}: field {f!r} must be an object or null, got {type(rec[f]).__name__}")
        if rec.get("tokenizer_id") is not None and not isinstance(rec["tokenizer_id"], str):
            raise InputError(f"{where}: field 'tokenizer_id' must be a string or null")
        ids = {}
        for f in ("prompt_ids", "completion_ids"):
            v = rec.get(f) or []
            if not isinstance(v, list) or not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in v):
                raise InputError(f"{where}: field {f!r} must be a list of non-negative integers")
            ids[f] = tuple(v)
        try:
            return cls(
                prompt_id=rec["prompt_id"], prompt=rec["prompt"], text=rec["text"], account=rec["account"],
                family=rec.get("family", "custom"), watermark=rec.get("watermark", "none"), spec=rec.get("spec"),
                model=rec.get("model", ""), tokenizer_id=rec.get("tokenizer_id"), sampling=dict(rec.get("sampling") or {}),
                finish_reason=rec.get("finish_reason", "stop"), **ids,
            )
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None


def read_transcripts(path: Path, *, allow_empty: bool = False, what: str = "transcript file") -> list[Transcript]:
    """Read a file of records. A torn *last* line is skipped (logged); any other bad line raises
    :class:`InputError` naming the file and line. Raises when the file is missing, or holds no
    record and ``allow_empty`` is False (a missing file then reads as empty)."""
    path = Path(path)
    if allow_empty and not path.exists():
        return []
    out = [Transcript.from_dict(line.obj, f"{path}:{line.no}") for line in iter_lines(path, what=what, allow_torn_tail=True)]
    if not out and not allow_empty:
        raise InputError(f"{what} {path} holds no records")
    return out


def from_generation(gen: Any, prompt: Any, *, account: str, watermark: str, spec: dict | None, model: Any,
                    sampling: dict) -> Transcript:
    """The record of one answer: ``gen`` a :class:`stillwatch.models.Generation`, ``prompt`` a
    :class:`stillwatch.records.prompts.Prompt`, ``model`` the backend (its ``name`` and ``tokenizer_id``)."""
    return Transcript(
        prompt_id=prompt.id, family=prompt.family, prompt=prompt.prompt, text=gen.text, account=account,
        watermark=watermark, spec=spec, model=model.name, tokenizer_id=getattr(model, "tokenizer_id", None) or None,
        sampling=dict(sampling), finish_reason=gen.finish_reason,
        prompt_ids=tuple(int(i) for i in gen.prompt_ids), completion_ids=tuple(int(i) for i in gen.completion_ids),
    )


def settings_of(records: Sequence[Transcript]) -> dict[str, Any]:
    """What a set of records was produced with, for refusing to mix runs: model, tokenizer, watermark
    mode, watermark spec fingerprint and sampling. Values seen in the records (a set when they differ)."""
    out: dict[str, Any] = {}
    for name, get in (("model", lambda r: r.model), ("tokenizer_id", lambda r: r.tokenizer_id),
                      ("watermark", lambda r: r.watermark),
                      ("spec", lambda r: spec_key(r.spec)),
                      ("sampling", lambda r: tuple(sorted(r.sampling.items())))):
        vals = {get(r) for r in records}
        out[name] = next(iter(vals)) if len(vals) == 1 else vals
    return out


def spec_key(spec: dict | None) -> str | None:
    """A short fingerprint of the deployment part of a spec record (both layers' parameters without
    the account id), so that records of different accounts of one deployment compare equal."""
    if not spec:
        return None
    prov = spec.get("provider") or {}
    acc = dict(spec.get("account") or {})
    acc.pop("key_id", None)
    body = json.dumps([prov, acc, spec.get("sharing")], sort_keys=True, default=str)
    return "wm:" + hashlib.sha256(body.encode()).hexdigest()[:12]
