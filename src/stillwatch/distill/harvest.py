"""Harvest a teacher: answer prompts through N accounts, durably and resumably.

Prompt ``i`` goes to account ``i mod N`` (a campaign spreads its load over many accounts). A local
teacher is watermarked here through :class:`stillwatch.mark.generate.MarkedGenerator` (each row with
its account's layer and the provider layer, the accounts' rows batched together); a remote teacher
(any OpenAI-compatible URL) watermarks server-side, if at all, and answers through one backend per
account (one API key each), ``concurrency`` requests at a time.

Records (:class:`stillwatch.records.Transcript`, the same format ``mark generate`` writes) are
appended as each batch / request completes, flushed and fsynced, so an interrupted harvest loses at
most what was in flight and a rerun skips what is done. A rerun must use the settings the file was
harvested with (teacher, tokenizer, watermark, sampling, accounts): a resume with other settings is
refused, naming them, so a control harvest is never contaminated with watermarked answers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stillwatch.errors import DistillError, InputError
from stillwatch.mark.generate import MarkedGenerator, Sampling
from stillwatch.models.base import Backend, Generation
from stillwatch.records import Appender, Prompt, Transcript, from_generation, read_transcripts
from stillwatch.records.transcripts import spec_key

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HarvestConfig:
    """How to harvest. ``watermark`` False answers without any watermark (control harvests; local
    teachers only)."""

    accounts: int = 4
    account_prefix: str = "acct"
    max_new_tokens: int = 128
    temperature: float = 1.0
    top_k: int | None = None
    batch_size: int = 16
    concurrency: int = 4
    seed: int = 0
    watermark: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.accounts, bool) or not isinstance(self.accounts, int) or not 1 <= self.accounts <= 100_000:
            raise InputError(f"accounts must be an integer in 1..100000, got {self.accounts!r}")
        for name in ("batch_size", "concurrency"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 4096:
                raise InputError(f"{name} must be an integer in 1..4096, got {v!r}")
        self.sampling()  # validates max_new_tokens, temperature, top_k, seed

    def sampling(self) -> Sampling:
        return Sampling(max_new_tokens=self.max_new_tokens, temperature=self.temperature, top_k=self.top_k, seed=self.seed)

    def account_ids(self) -> list[str]:
        width = max(3, len(str(self.accounts - 1)))
        return [f"{self.account_prefix}-{j:0{width}d}" for j in range(self.accounts)]


@dataclass(frozen=True)
class HarvestSummary:
    out: str
    n_prompts: int
    n_written: int
    n_skipped: int
    accounts: list[str]
    watermark: str

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def assign_accounts(prompts: Sequence[Prompt], config: HarvestConfig) -> dict[str, str]:
    """Prompt i -> account i mod N; returns prompt id -> account."""
    ids = config.account_ids()
    return {p.id: ids[i % len(ids)] for i, p in enumerate(prompts)}


def harvest(
    teacher: Backend,
    prompts: Sequence[Prompt],
    out: Path,
    config: HarvestConfig = HarvestConfig(),
    *,
    master: Any | None = None,
    mark_config: Any | None = None,
    account_backends: Mapping[str, Backend] | None = None,
    progress: Callable[[int], None] | None = None,
) -> HarvestSummary:
    """Answer ``prompts`` through ``config.accounts`` accounts and append them to ``out``.

    Local teacher + ``config.watermark``: requires ``master`` (a :class:`stillwatch.mark.MasterKey`);
    ``mark_config`` defaults to ``MarkConfig()``. Remote teacher: ``account_backends`` maps an
    account to its own backend (its API key); without it every account uses ``teacher``.
    ``progress(n)`` is called with the number of prompts finished so far (skipped ones included).
    Raises InputError, before answering anything, when ``out`` holds records harvested with other
    settings.
    """
    if not prompts:
        raise InputError("no prompts to harvest")
    if teacher.local:
        gen = MarkedGenerator(teacher, master, config=mark_config, watermark=config.watermark)
        mode = gen.mode
    else:
        if not config.watermark:
            raise InputError("a remote teacher watermarks server-side; --no-watermark needs a local teacher")
        gen, mode = None, "server-side"
    sampling = config.sampling()
    assigned = assign_accounts(prompts, config)
    existing = read_transcripts(out, allow_empty=True)
    check_resume(out, existing, teacher=teacher, mode=mode, spec=gen.spec_record(config.account_ids()[0]) if gen else None,
                 sampling=sampling.to_dict(), assigned=assigned)
    done = {t.prompt_id for t in existing}
    n_skipped = sum(1 for p in prompts if p.id in done)
    pending = [(assigned[p.id], p) for p in prompts if p.id not in done]
    if progress:
        progress(n_skipped)
    n_written = 0
    with Appender(out) as writer:
        if gen is not None:
            # the pending prompts of all accounts batched together, each row with its own account's watermark
            for recs in gen.generate(pending, sampling, batch_size=config.batch_size,
                                     progress=(lambda n: progress(n_skipped + n)) if progress else None):
                n_written += writer.write_many(recs)
        else:
            backends = account_backends or {}
            with ThreadPoolExecutor(max_workers=config.concurrency) as pool:
                futures = {pool.submit(_ask_remote, backends.get(a, teacher), p, sampling): (a, p) for a, p in pending}
                for fut in as_completed(futures):
                    account, p = futures[fut]
                    rec = from_generation(fut.result(), p, account=account, watermark=mode, spec=None, model=teacher,
                                          sampling=sampling.to_dict())  # a BackendError propagates; what is written stays
                    n_written += writer.write_many([rec])
                    if progress:
                        progress(n_skipped + n_written)
    log.info("harvest: wrote %d records, skipped %d already done", n_written, n_skipped)
    return HarvestSummary(out=str(out), n_prompts=len(prompts), n_written=n_written, n_skipped=n_skipped,
                          accounts=config.account_ids(), watermark=mode)


def check_resume(out: Path, existing: Sequence[Transcript], *, teacher: Backend, mode: str, spec: dict | None,
                 sampling: dict, assigned: Mapping[str, str]) -> None:
    """Refuse (InputError naming every differing setting) to append to ``out`` when its ``existing``
    records were harvested with another teacher, tokenizer, watermark, sampling or account assignment."""
    if not existing:
        return
    want = {"teacher": teacher.name, "tokenizer": teacher.tokenizer_id or None, "watermark": mode,
            "watermark settings": spec_key(spec), "sampling": tuple(sorted(sampling.items()))}
    have = {"teacher": {r.model for r in existing}, "tokenizer": {r.tokenizer_id for r in existing},
            "watermark": {r.watermark for r in existing}, "watermark settings": {spec_key(r.spec) for r in existing},
            "sampling": {tuple(sorted(r.sampling.items())) for r in existing}}
    if have["watermark"] != {want["watermark"]}:
        del want["watermark settings"]  # implied by the watermark's difference
    diffs = [f"{k} ({_show(have[k])} in the file, {_show({v})} now)" for k, v in want.items() if have[k] != {v}]
    moved = [r for r in existing if r.prompt_id in assigned and assigned[r.prompt_id] != r.account]
    if moved:
        accts = sorted({r.account for r in existing})
        diffs.append(f"accounts ({len(accts)} in the file: {accts[0]}..{accts[-1]}; now prompt {moved[0].prompt_id} "
                     f"would go to {assigned[moved[0].prompt_id]}, not {moved[0].account})")
    if diffs:
        raise InputError(f"{out} holds {len(existing)} answers harvested with other settings: {'; '.join(diffs)}. "
                         "Resume with the same settings, or harvest into another --out")


def _show(values: set) -> str:
    def one(v: Any) -> str:
        if isinstance(v, tuple):
            return ", ".join(f"{k}={x}" for k, x in v)
        if isinstance(v, str) and len(v) > 40:
            return v[:12] + "..."
        return str(v)

    return " / ".join(sorted(one(v) for v in values))


def _ask_remote(backend: Backend, prompt: Prompt, sampling: Sampling) -> Generation:
    gens = backend.generate([prompt.prompt], max_new_tokens=sampling.max_new_tokens, temperature=sampling.temperature,
                            top_k=sampling.top_k, batch_size=1)
    if len(gens) != 1:
        raise DistillError(f"teacher returned {len(gens)} answers for one prompt ({prompt.id})")
    return gens[0]
