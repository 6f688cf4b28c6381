"""Run a radioactivity test from what an investigator holds: a suspect (model directory or URL), the
master key, and optionally the harvest transcripts (e.g. exported from the ledger).

The transcripts supply the watermark spec (from their spec records), the accounts to test, the
teacher's tokenizer and the scoring material. Without transcripts the spec comes from ``mark_config``
(default: ``MarkConfig.default()``), the accounts from ``accounts``, and the scoring material from
``prompts`` (the caller's scoring prompts, e.g. ``distill``'s built-in generator at the CLI).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from stillwatch.records import Transcript, read_transcripts
from stillwatch.errors import InputError, TraceError
from stillwatch.trace.radioactivity import (
    PredictionCache,
    RadioactivityConfig,
    RadioactivityResult,
    ScoringText,
    check_base,
    check_open_model,
    closed_model_test,
    distinct_harvest_accounts,
    open_model_test,
)

log = logging.getLogger(__name__)


def specs_from_transcripts(records: Sequence[Transcript]) -> tuple[Any, Any | None]:
    """(provider spec, account spec or None) from the first watermarked record's spec record.
    Raises TraceError when the records hold no spec or disagree on the provider spec."""
    from stillwatch.mark import WatermarkSpec

    recs = [r for r in records if r.spec]
    if not recs:
        raise TraceError(
            "the transcripts carry no watermark spec (harvested without a watermark, or from a remote teacher); "
            "pass the deployment's watermark settings instead"
        )
    prov = {tuple(sorted((k, str(v)) for k, v in r.spec["provider"].items())) for r in recs}
    if len(prov) > 1:
        raise TraceError(f"the transcripts mix {len(prov)} provider watermark specs; test one deployment at a time")
    first = recs[0].spec
    acc = WatermarkSpec.from_dict(first["account"]) if first.get("account") else None
    return WatermarkSpec.from_dict(first["provider"]), acc


def _sample(items: list, k: int, seed: int) -> list:
    if len(items) <= k:
        return items
    idx = sorted(random.Random(seed).sample(range(len(items)), k))
    return [items[i] for i in idx]


def run_radioactivity(
    suspect: Any,
    master: Any,
    *,
    transcripts: Path | Sequence[Transcript] | None = None,
    config: RadioactivityConfig = RadioactivityConfig(),
    mark_config: Any | None = None,
    accounts: Sequence[str] | None = None,
    teacher: Any | None = None,
    teacher_loader: Callable[[str], Any] | None = None,
    progress: Callable[[int], None] | None = None,
    reference: Path | Sequence[Transcript] | None = None,
    base: Any | None = None,
    prompts: Sequence[str] | None = None,
    cache: PredictionCache | None = None,
    harvest_accounts: Sequence[str] = (),
) -> RadioactivityResult:
    """Test ``suspect`` (a Backend) for the provider layer of ``master``'s watermark, and attribute
    accounts. ``teacher`` (or ``teacher_loader(name)``) supplies the teacher's tokenizer when the
    suspect's differs (closed setting only). ``reference``: unwatermarked transcripts scored
    teacher-forced when ``config.scoring == "reference"`` (open setting). ``base``: the model the
    suspect is believed to be fine-tuned from (local, the teacher's tokenizer) for the differential test.
    ``prompts``: scoring prompts when there are no transcripts (required then, except for reference scoring).
    ``harvest_accounts``: accounts the harvest went through (named before the test), whose account layers join
    the provider layer in one exact test (result field ``combined``; needs tournament layers)."""
    from stillwatch.mark import MarkConfig

    records: list[Transcript] = []
    if transcripts is not None:
        records = read_transcripts(transcripts) if isinstance(transcripts, (str, Path)) else list(transcripts)
        if not records:
            raise InputError("the transcripts hold no records")
    if records and any(r.spec for r in records):
        spec, acc_spec = specs_from_transcripts(records)
    else:
        mc = mark_config or MarkConfig.default()
        spec = mc.provider_spec()
        acc_spec = mc.account_spec("x") if mc.account is not None else None
        if records:
            log.warning("transcripts carry no spec records; assuming the given/default watermark settings")
    if accounts is None:
        accounts = sorted({r.account for r in records if r.watermark != "none"})
    wm_tok = next((r.tokenizer_id for r in records if r.tokenizer_id), None) or spec.tokenizer_id
    key = master.provider_key()
    if harvest_accounts:  # checked before the suspect generates anything
        distinct_harvest_accounts(harvest_accounts)
        if acc_spec is None:
            raise InputError("harvest accounts were named, but this deployment's watermark has no account layer")
        bad = [sp.scheme for sp in (spec, acc_spec) if sp.scheme != "tournament"]
        if bad:
            raise InputError(f"the combined provider + account test adds fair-coin g-values: it needs tournament layers, "
                             f"got {bad[0]!r}")
    common = dict(config=config, account_spec=acc_spec, master=master, accounts=list(accounts), cache=cache,
                  harvest_accounts=list(harvest_accounts))

    if config.setting == "open":
        check_open_model(suspect, wm_tok)
        if config.scoring == "reference":
            texts = reference_texts(suspect, reference, config)
        else:
            texts = _open_texts(suspect, records, config, progress, prompts)
        return open_model_test(suspect, texts, spec, key, watermark_tokenizer_id=wm_tok, base=base, **common)

    # closed setting
    prompts = [r.prompt for r in _sample(records, config.max_texts, config.seed)] if records else _given_prompts(prompts)
    same = bool(wm_tok) and getattr(suspect, "tokenizer_id", None) == wm_tok
    if same or not wm_tok:
        if not wm_tok and not getattr(suspect, "local", False):
            raise TraceError("cannot tell which tokenizer the watermark used: pass the transcripts or the teacher")
        encoder = (teacher or suspect).encode
    else:
        if teacher is None:
            name = next((r.model for r in records if r.model), None)
            if name is None or teacher_loader is None:
                raise TraceError("the suspect's tokenizer differs from the teacher's; pass the teacher to re-tokenize its answers")
            teacher = teacher_loader(name)
        if teacher.tokenizer_id != wm_tok:
            raise TraceError(f"teacher {teacher.name!r} does not use the tokenizer the transcripts were watermarked with")
        encoder = teacher.encode
    if base is not None:
        check_base(base, wm_tok, suspect if getattr(suspect, "local", False) else None)
    return closed_model_test(suspect, prompts, encoder, spec, key, same_tokenizer=same, progress=progress, base=base, **common)


def reference_texts(suspect: Any, reference: Path | Sequence[Transcript] | None,
                    config: RadioactivityConfig) -> list[ScoringText]:
    """Scoring texts from unwatermarked reference transcripts (prompt ids as context, answer scored).
    Refuses watermarked records: the test is exact only when the scoring text is independent of the key."""
    if reference is None:
        raise InputError("scoring 'reference' needs reference transcripts (unwatermarked answers, e.g. a --no-watermark harvest)")
    recs = read_transcripts(reference) if isinstance(reference, (str, Path)) else list(reference)
    if not recs:
        raise InputError("the reference transcripts hold no records")
    marked = sum(1 for r in recs if r.watermark != "none")
    if marked:
        raise InputError(f"{marked} of {len(recs)} reference records are watermarked; reference texts must be unwatermarked "
                         "(harvest them with --no-watermark)")
    return _transcript_texts(suspect, recs, config, "the reference transcripts")


def _transcript_texts(suspect: Any, records: Sequence[Transcript], config: RadioactivityConfig,
                      what: str) -> list[ScoringText]:
    """Prompt + answer of a sample of ``records`` as scoring texts (answers scored, prompts as
    context): the stored ids when the tokenizer is the suspect's, else the text re-tokenized."""
    texts = []
    for r in _sample(list(records), config.max_texts, config.seed):
        if r.prompt_ids and r.completion_ids and r.tokenizer_id == suspect.tokenizer_id:
            p, a = list(r.prompt_ids), list(r.completion_ids)
        else:
            p, a = suspect.chat_prompt_ids(r.prompt), suspect.encode(r.text)
        if a:
            texts.append(ScoringText(np.asarray(p + a, dtype=np.int64), score_from=len(p)))
    if not texts:
        raise TraceError(f"{what} hold no non-empty answer to score")
    return texts


def _given_prompts(prompts: Sequence[str] | None) -> list[str]:
    if not prompts:
        raise InputError("without transcripts the test needs scoring prompts")
    return list(prompts)


def _open_texts(suspect: Any, records: Sequence[Transcript], config: RadioactivityConfig,
                progress: Callable[[int], None] | None, prompts: Sequence[str] | None) -> list[ScoringText]:
    """Scoring texts for the open setting (answers scored, prompts as context): with
    ``config.scoring == "transcripts"`` the harvested prompt + answer ids; otherwise the suspect's own
    sampled answers to the harvest's prompts (or, without transcripts, to ``prompts``), each prompt answered
    ``config.reanswer_rounds`` times (round r with sampling seed ``config.seed + r``). Under H0 the prompts,
    the suspect and the seeds are all independent of the key, so every round's text is too."""
    if records and config.scoring == "transcripts":
        return _transcript_texts(suspect, records, config, "the transcripts")
    if records:
        prompts = [r.prompt for r in _sample(list(records), config.max_texts, config.seed)]
    else:
        prompts = _given_prompts(prompts)[: config.max_texts]
    gens = []
    for r in range(config.reanswer_rounds):  # one batched generate call per round
        done = len(gens)
        tick = None if progress is None else (lambda k, done=done: progress(done + k))
        gens += suspect.generate(prompts, max_new_tokens=config.reanswer_tokens, temperature=config.reanswer_temperature,
                                 seed=config.seed + r, batch_size=config.batch_size, progress=tick)
    texts = [ScoringText(np.asarray(list(g.prompt_ids) + list(g.completion_ids), dtype=np.int64), len(g.prompt_ids))
             for g in gens if g.completion_ids]
    if not texts:
        raise TraceError("the suspect answered every scoring prompt with an empty text")
    return texts
