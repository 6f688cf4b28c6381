"""The work behind `stillwatch mark generate|detect`: glue between models (backends, tokenizers)
and mark (watermarks), kept out of both so that neither depends on the other."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from stillwatch.cli._io import on_interrupt, progress_bar, status
from stillwatch.errors import InputError, SpecError, StillwatchError, TokenizerMismatchError
from stillwatch.mark import MarkConfig, MasterKey, WatermarkSpec, attribute_ids, detect_many
from stillwatch.mark.detect import check_ids
from stillwatch.mark.generate import MarkedGenerator, Sampling
from stillwatch.mark.keys import KeyRing
from stillwatch.records import Line, Prompt, write_atomic


def generate_answers(
    prompts: Sequence[Prompt],
    *,
    master: MasterKey | None,
    account: str,
    out: Path,
    model: str | Any = "smollm2",
    watermark: bool = True,
    config: MarkConfig | None = None,
    max_new_tokens: int = 128,
    temperature: float = 0.8,
    batch_size: int = 32,
    seed: int = 0,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Answer ``prompts`` for ``account`` through the one watermarked-generation path and write the
    records to ``out`` atomically (all or nothing); returns a summary. Ctrl-C writes nothing."""
    from stillwatch.models import load_backend

    sampling = Sampling(max_new_tokens=max_new_tokens, temperature=temperature, seed=seed)
    if show_progress:
        with status(f"loading {model if isinstance(model, str) else model.name} …"):
            backend = load_backend(model) if isinstance(model, str) else model
    else:
        backend = load_backend(model) if isinstance(model, str) else model
    gen = MarkedGenerator(backend, master, config=config, watermark=watermark)
    records: list = []
    items = [(account, p) for p in prompts]
    with on_interrupt(lambda: f"nothing was written to {out} ({len(records)} of {len(items)} answers had been generated and were discarded)"):
        if show_progress:
            with progress_bar(f"answering as {account}", len(items)) as update:
                for batch in gen.generate(items, sampling, batch_size=batch_size, progress=update):
                    records.extend(batch)
        else:
            for batch in gen.generate(items, sampling, batch_size=batch_size):
                records.extend(batch)
        write_atomic(out, records)
    spec = gen.spec_record(account)
    return {"answers": len(records), "completion_tokens": sum(len(r.completion_ids) for r in records), "watermark": watermark,
            "model": backend.name, "out": str(out), "spec_fingerprint": spec["fingerprint"] if spec else None}


def _specs_for(row: dict[str, Any], default: MarkConfig) -> tuple[WatermarkSpec, WatermarkSpec | None]:
    rec = row.get("spec")
    if isinstance(rec, dict) and isinstance(rec.get("provider"), dict):
        prov = WatermarkSpec.from_dict(rec["provider"])
        acc = WatermarkSpec.from_dict(rec["account"]) if isinstance(rec.get("account"), dict) else None
        return prov, acc
    return default.provider_spec(), default.account_spec("candidate") if default.account is not None else None


def detect_texts(
    lines: Sequence[Line],
    *,
    master: MasterKey,
    account_ids: list[str] | None,
    tokenizer: Any,
    alpha: float = 1e-3,
    exclude_prompt: bool = False,
    config: MarkConfig | None = None,
) -> list[dict[str, Any]]:
    """Detect the provider layer in each line's ``text`` and, given candidate accounts, attribute it.
    ``tokenizer``: the texts' model's tokenizer (``encode``, ``tokenizer_id``, ``vocab_size``, ``name``).

    Returns one dict per line; lines that cannot be scored (a bad line, no text, too short, another
    tokenizer) get {"line", "error"} instead, so one bad line never stops the rest.
    """
    default = config or MarkConfig()
    if account_ids is not None and not account_ids:
        raise InputError("the accounts file lists no account ids")
    ring: KeyRing | None = master.key_ring(account_ids) if account_ids else None
    pkey = master.provider_key()
    rows = [(ln.no, ln.obj) for ln in lines]
    results: dict[int, dict[str, Any]] = {}
    ready: list[tuple[int, np.ndarray, WatermarkSpec, WatermarkSpec | None, list[np.ndarray]]] = []
    for i, ln in enumerate(lines):  # validate and tokenize each text; errors stay per line
        try:
            if ln.error is not None:
                raise InputError(ln.error)
            row = ln.obj
            if not isinstance(row.get("text"), str):
                raise InputError("the line has no string field 'text'")
            try:
                prov, acc = _specs_for(row, default)
            except (TypeError, ValueError) as exc:  # a hostile spec of the wrong shape or types
                raise SpecError(f"the line's spec is malformed ({exc})") from None
            if prov.tokenizer_id is not None and prov.tokenizer_id != tokenizer.tokenizer_id:
                raise TokenizerMismatchError(
                    f"the text was marked with tokenizer {prov.tokenizer_id[:12]}... but --model {tokenizer.name!r} uses "
                    f"{tokenizer.tokenizer_id[:12]}...; detect with the model that generated it"
                )
            if ring is not None and acc is None:
                raise InputError("attribution needs an account layer, but this text's spec has none")
            ids = check_ids(np.asarray(tokenizer.encode(row["text"]), dtype=np.int64), prov, tokenizer.vocab_size)
            excl = [np.asarray(tokenizer.encode(row["prompt"]), dtype=np.int64)] if exclude_prompt and isinstance(row.get("prompt"), str) else []
            ready.append((i, ids, prov, acc, excl))
        except StillwatchError as exc:
            results[i] = {"line": ln.no, "error": f"{type(exc).__name__}: {exc}"}
    by_spec: dict[str, list[int]] = {}
    for j, (_, _, prov, _, _) in enumerate(ready):
        by_spec.setdefault(prov.fingerprint, []).append(j)
    for members in by_spec.values():  # one vectorised pass over all texts that share a spec
        prov = ready[members[0]][2]
        batch = detect_many([ready[j][1] for j in members], prov, pkey, exclude_ids=[ready[j][4] for j in members])
        for b, j in enumerate(members):
            i, ids, _, acc, excl = ready[j]
            r = batch.result(b)
            rec: dict[str, Any] = {
                "line": rows[i][0], "p_value": r.p_value, "n_scored": r.n_scored, "n_tokens": r.n_tokens,
                "n_green": r.n_green, "detected": r.p_value <= alpha, "spec": prov.fingerprint,
            }
            if ring is not None:
                a = attribute_ids(ids, acc, ring, exclude_ids=excl, vocab_size=tokenizer.vocab_size)
                rec["account"] = a.best_account if a.corrected_p_value <= alpha else None
                rec["account_p_value"] = a.corrected_p_value
                rec["best_candidate"] = a.best_account
                rec["n_candidates"] = len(ring)
            results[i] = rec
    out = [results[i] for i in range(len(rows))]
    return out
