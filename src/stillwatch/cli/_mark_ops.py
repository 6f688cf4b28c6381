"""The work behind `stillwatch mark generate|detect`: glue between models (backends) and mark
(watermarks), kept out of both so that neither depends on the other."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from stillwatch.errors import BackendError, InputError, StillwatchError, TokenizerMismatchError
from stillwatch.mark import MarkConfig, Marker, MasterKey, WatermarkSpec, attribute_ids, detect_many
from stillwatch.mark.detect import check_ids
from stillwatch.mark.keys import KeyRing


def progress_bar(total: int, description: str):
    """A Rich progress bar on stderr; returns (progress context, advance-to callable)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    prog = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
        console=Console(stderr=True), transient=False,
    )
    task = prog.add_task(description, total=total)
    return prog, lambda done: prog.update(task, completed=done)


def generate_answers(
    rows: list[dict[str, Any]],
    *,
    master_key: Path | MasterKey | None,
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
    """Answer ``rows`` ({"prompt": ...}) and write JSONL records to ``out``; returns a summary."""
    from stillwatch.models import load_backend

    if not rows:
        raise InputError("no prompts to answer: the prompts file has no lines")
    master = master_key if isinstance(master_key, MasterKey) or master_key is None else MasterKey.load(master_key)
    if watermark and master is None:
        raise InputError("a master key is needed to watermark answers (or pass --no-watermark)")
    backend = load_backend(model) if isinstance(model, str) else model
    processor, spec = None, None
    if watermark:
        if not backend.local:
            raise BackendError(
                f"cannot watermark answers of the remote model {backend.name!r}: the bias is applied to the model's "
                "logits, which an API does not expose. Serve the model behind a Stillwatch gateway instead, or pass --no-watermark."
            )
        cfg = config or MarkConfig.default()
        if cfg.tokenizer_id is None:  # every spec names the tokenizer its ids come from
            cfg = replace(cfg, tokenizer_id=backend.tokenizer_id)
        marker = Marker(master, account, cfg, vocab_size=backend.vocab_size)
        processor, spec = marker.hf_processor(), marker.spec_record()
    prompts = [r["prompt"] for r in rows]
    if show_progress:
        prog, advance = progress_bar(len(prompts), f"answering as {account}")
        with prog:
            gens = backend.generate(prompts, max_new_tokens=max_new_tokens, logits_processor=processor, temperature=temperature, seed=seed, batch_size=batch_size, progress=advance)
    else:
        gens = backend.generate(prompts, max_new_tokens=max_new_tokens, logits_processor=processor, temperature=temperature, seed=seed, batch_size=batch_size)
    tmp = out.with_name(out.name + ".partial")
    n_tok = 0
    with tmp.open("w", encoding="utf-8") as fh:
        for g in gens:
            n_tok += len(g.completion_ids)
            rec = {
                "prompt": g.prompt, "text": g.text, "account": account, "spec": spec, "model": backend.name,
                "prompt_tokens": len(g.prompt_ids), "completion_tokens": len(g.completion_ids), "finish_reason": g.finish_reason,
            }
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, out)
    return {"answers": len(gens), "completion_tokens": n_tok, "watermark": watermark, "model": backend.name, "out": str(out),
            "spec_fingerprint": spec["fingerprint"] if spec else None}


def _specs_for(row: dict[str, Any], default: MarkConfig) -> tuple[WatermarkSpec, WatermarkSpec | None]:
    rec = row.get("spec")
    if isinstance(rec, dict) and isinstance(rec.get("provider"), dict):
        prov = WatermarkSpec.from_dict(rec["provider"])
        acc = WatermarkSpec.from_dict(rec["account"]) if isinstance(rec.get("account"), dict) else None
        return prov, acc
    return default.provider_spec(), default.account_spec("candidate") if default.account is not None else None


def detect_texts(
    rows: list[tuple[int, dict[str, Any]]],
    *,
    master_key: Path | MasterKey,
    account_ids: list[str] | None,
    model: str | Any = "smollm2",
    alpha: float = 1e-3,
    exclude_prompt: bool = False,
    config: MarkConfig | None = None,
) -> list[dict[str, Any]]:
    """Detect the provider layer in each text and, given candidate accounts, attribute it.

    Returns one dict per row; rows that cannot be scored get {"line", "error"} instead, so one bad
    line never stops the rest.
    """
    from stillwatch.models import load_backend

    master = master_key if isinstance(master_key, MasterKey) else MasterKey.load(master_key)
    backend = load_backend(model) if isinstance(model, str) else model
    default = config or MarkConfig.default()
    ring: KeyRing | None = master.key_ring(account_ids) if account_ids else None
    if account_ids is not None and not account_ids:
        raise InputError("the accounts file lists no account ids")
    pkey = master.provider_key()
    results: dict[int, dict[str, Any]] = {}
    ready: list[tuple[int, np.ndarray, WatermarkSpec, WatermarkSpec | None, list[np.ndarray]]] = []
    for i, (line, row) in enumerate(rows):  # validate and tokenize each text; errors stay per line
        try:
            prov, acc = _specs_for(row, default)
            if prov.tokenizer_id is not None and prov.tokenizer_id != backend.tokenizer_id:
                raise TokenizerMismatchError(
                    f"the text was marked with tokenizer {prov.tokenizer_id[:12]}... but --model {backend.name!r} uses "
                    f"{backend.tokenizer_id[:12]}...; detect with the model that generated it"
                )
            if ring is not None and acc is None:
                raise InputError("attribution needs an account layer, but this text's spec has none")
            ids = check_ids(np.asarray(backend.encode(row["text"]), dtype=np.int64), prov, backend.vocab_size)
            excl = [np.asarray(backend.encode(row["prompt"]), dtype=np.int64)] if exclude_prompt and isinstance(row.get("prompt"), str) else []
            ready.append((i, ids, prov, acc, excl))
        except StillwatchError as exc:
            results[i] = {"line": line, "error": f"{type(exc).__name__}: {exc}"}
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
                a = attribute_ids(ids, acc, ring, exclude_ids=excl, vocab_size=backend.vocab_size)
                rec["account"] = a.best_account if a.corrected_p_value <= alpha else None
                rec["account_p_value"] = a.corrected_p_value
                rec["best_candidate"] = a.best_account
                rec["n_candidates"] = len(ring)
            results[i] = rec
    out = [results[i] for i in range(len(rows))]
    return out
