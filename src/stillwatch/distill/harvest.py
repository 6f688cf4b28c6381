"""Harvest a teacher: answer prompts through N accounts, durably and resumably.

Prompt ``i`` goes to account ``i mod N`` (a campaign spreads its load over many accounts). A local
teacher is watermarked here with each account's :class:`stillwatch.mark.Marker` (provider layer +
account layer); a remote teacher (any OpenAI-compatible URL, e.g. a Stillwatch gateway) is
watermarked server-side and answers through one backend per account (one API key each).

Local teachers batch (``batch_size`` prompts per forward pass); remote teachers run
``concurrency`` requests at once in a thread pool. Records are appended as each batch / request
completes (see :mod:`stillwatch.distill.transcripts`), so a restart skips what is done.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stillwatch.distill.prompts import Prompt
from stillwatch.distill.transcripts import Transcript, TranscriptWriter, read_transcripts
from stillwatch.errors import DistillError, InputError
from stillwatch.models.base import Backend, Generation

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
        if not 1 <= self.accounts <= 100_000:
            raise InputError(f"accounts must be in 1..100000, got {self.accounts}")
        if self.max_new_tokens < 1:
            raise InputError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if not self.temperature > 0:
            raise InputError(f"temperature must be > 0, got {self.temperature}")
        if self.batch_size < 1 or self.concurrency < 1:
            raise InputError(f"batch_size and concurrency must be >= 1, got {self.batch_size}, {self.concurrency}")

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


def assign_accounts(prompts: Sequence[Prompt], config: HarvestConfig) -> dict[str, list[Prompt]]:
    """Prompt i -> account i mod N; returns account -> its prompts, in input order."""
    ids = config.account_ids()
    out: dict[str, list[Prompt]] = {a: [] for a in ids}
    for i, p in enumerate(prompts):
        out[ids[i % len(ids)]].append(p)
    return out


def _batch_seed(seed: int, account: str, first_prompt_id: str) -> int:
    digest = hashlib.sha256(f"{seed}|{account}|{first_prompt_id}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


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
    ``mark_config`` defaults to ``MarkConfig.default()``. Remote teacher: ``account_backends`` maps an
    account to its own backend (its API key); without it every account uses ``teacher``.
    ``progress(n)`` is called with the number of prompts finished so far (skipped ones included).
    """
    if not prompts:
        raise InputError("no prompts to harvest")
    done = {t.prompt_id for t in read_transcripts(out, allow_empty=True)}
    by_account = assign_accounts(prompts, config)
    n_skipped = sum(1 for p in prompts if p.id in done)
    finished = n_skipped
    if progress:
        progress(finished)
    if teacher.local:
        mode = "local" if config.watermark else "none"
        if config.watermark and master is None:
            raise InputError("a master key is needed to watermark a local teacher (or harvest with no watermark)")
    else:
        if not config.watermark:
            raise InputError("a remote teacher watermarks server-side; --no-watermark needs a local teacher")
        mode = "server-side"
    n_written = 0
    with TranscriptWriter(out) as writer:
        if teacher.local:
            # Pending prompts of all accounts are batched together; each row gets its own account's
            # watermark (one Marker per account, rows dispatched to it), so accounts cost no extra passes.
            pending = [(a, p) for a, ps in by_account.items() for p in ps if p.id not in done]
            markers = {a: _account_marker(teacher, a, master, mark_config, config.watermark)
                       for a in dict.fromkeys(a for a, _ in pending)}
            for start in range(0, len(pending), config.batch_size):
                chunk = pending[start : start + config.batch_size]
                processor = _RowDispatch([markers[a][0] for a, _ in chunk]) if config.watermark else None
                gens = teacher.generate(
                    [p.prompt for _, p in chunk], max_new_tokens=config.max_new_tokens, logits_processor=processor,
                    temperature=config.temperature, top_k=config.top_k,
                    seed=_batch_seed(config.seed, chunk[0][0], chunk[0][1].id), batch_size=len(chunk),
                )
                recs = [r for (a, p), g in zip(chunk, gens, strict=True)
                        for r in _records(teacher, [p], [g], a, mode, markers[a][1])]
                n_written += writer.write_many(recs)
                finished += len(chunk)
                if progress:
                    progress(finished)
        else:
            jobs = [(a, p) for a, ps in by_account.items() for p in ps if p.id not in done]
            backends = account_backends or {}
            with ThreadPoolExecutor(max_workers=config.concurrency) as pool:
                futures = {
                    pool.submit(_ask_remote, backends.get(a, teacher), p, config): (a, p) for a, p in jobs
                }
                for fut in as_completed(futures):
                    account, p = futures[fut]
                    gen = fut.result()  # a BackendError propagates; what is written stays written
                    n_written += writer.write_many(_records(teacher, [p], [gen], account, mode, None))
                    finished += 1
                    if progress:
                        progress(finished)
    log.info("harvest: wrote %d records, skipped %d already done", n_written, n_skipped)
    return HarvestSummary(out=str(out), n_prompts=len(prompts), n_written=n_written, n_skipped=n_skipped,
                          accounts=config.account_ids(), watermark=mode)


def _account_marker(teacher: Backend, account: str, master: Any, mark_config: Any, watermark: bool):
    if not watermark:
        return None, None
    from stillwatch.mark import MarkConfig, Marker

    marker = Marker(master, account, config=mark_config or MarkConfig.default(tokenizer_id=teacher.tokenizer_id), vocab_size=teacher.vocab_size)
    return marker.hf_processor(), marker.spec_record()


class _RowDispatch:
    """A logits processor applying ``processors[r]`` to row r of the batch (rows sharing a processor are
    processed together). Requires the batch's rows in the order of ``processors``; inputs never mutated."""

    def __init__(self, processors: Sequence[Any]) -> None:
        self.groups: dict[int, tuple[Any, list[int]]] = {}
        for row, proc in enumerate(processors):
            self.groups.setdefault(id(proc), (proc, []))[1].append(row)

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        if len(self.groups) == 1:
            proc, _ = next(iter(self.groups.values()))
            return proc(input_ids, scores)
        out = scores.clone()  # [B, V]
        for proc, rows in self.groups.values():
            idx = torch.as_tensor(rows, device=scores.device)
            out[idx] = proc(input_ids[idx], scores[idx])
        return out


def _ask_remote(backend: Backend, prompt: Prompt, config: HarvestConfig) -> Generation:
    gens = backend.generate([prompt.prompt], max_new_tokens=config.max_new_tokens, temperature=config.temperature,
                            top_k=config.top_k, batch_size=1)
    if len(gens) != 1:
        raise DistillError(f"teacher returned {len(gens)} answers for one prompt ({prompt.id})")
    return gens[0]


def _records(teacher: Backend, batch: Sequence[Prompt], gens: Sequence[Generation], account: str, mode: str,
             spec: dict | None) -> list[Transcript]:
    if len(gens) != len(batch):
        raise DistillError(f"teacher returned {len(gens)} answers for {len(batch)} prompts")
    return [
        Transcript(
            prompt_id=p.id, family=p.family, prompt=p.prompt, answer=g.text, account=account, watermark=mode,
            spec=spec, teacher=teacher.name, tokenizer_id=teacher.tokenizer_id,
            prompt_ids=tuple(int(i) for i in g.prompt_ids), answer_ids=tuple(int(i) for i in g.completion_ids),
        )
        for p, g in zip(batch, gens, strict=True)
    ]
