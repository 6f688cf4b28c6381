"""Watermarked generation: the one path from prompts to answer records.

``mark generate`` (one account), ``distill harvest`` (many accounts, resumable), the demo and the
benchmarks all answer prompts through :class:`MarkedGenerator`: it binds the deployment's
:class:`~stillwatch.mark.config.MarkConfig` (default: ``MarkConfig()``, whatever the current default
scheme is) to the model's tokenizer, builds one :class:`~stillwatch.mark.marker.Marker` per account,
batches prompts of several accounts together (each row gets its own account's watermark) and
returns :class:`~stillwatch.records.Transcript` records carrying the spec record (never a key).

The model is any backend object with ``generate``, ``name``, ``tokenizer_id``, ``vocab_size`` and
``local`` (see :class:`stillwatch.models.base.Backend`); ``mark`` does not import ``models``. A
remote model cannot be watermarked here (its logits never reach us): it answers unwatermarked, or
its server marks its answers itself.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from stillwatch.errors import BackendError, InputError, TokenizerMismatchError
from stillwatch.mark.config import MarkConfig
from stillwatch.mark.keys import MasterKey
from stillwatch.mark.marker import Marker
from stillwatch.records.prompts import Prompt
from stillwatch.records.transcripts import Transcript, from_generation

#: the most new tokens one answer may ask for
MAX_NEW_TOKENS = 4096


@dataclass(frozen=True)
class Sampling:
    """How answers are sampled.

    Attributes:
        max_new_tokens: tokens per answer at most, 1..4096.
        temperature: sampling temperature, > 0 and finite (1.0 = the model's own distribution).
        top_k: sample among the k most likely tokens only; None = the whole vocabulary.
        seed: base seed; each batch's seed is derived from it and the batch's first prompt, so a
            resumed job answers the remaining prompts as an uninterrupted one would; >= 0.
    """

    max_new_tokens: int = 128
    temperature: float = 1.0
    top_k: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.max_new_tokens, bool) or not isinstance(self.max_new_tokens, int) or not 1 <= self.max_new_tokens <= MAX_NEW_TOKENS:
            raise InputError(f"max_new_tokens must be an integer in 1..{MAX_NEW_TOKENS}, got {self.max_new_tokens!r}")
        if not isinstance(self.temperature, (int, float)) or not (self.temperature > 0 and math.isfinite(self.temperature)):
            raise InputError(f"temperature must be a finite number > 0, got {self.temperature!r}")
        if self.top_k is not None and (isinstance(self.top_k, bool) or not isinstance(self.top_k, int) or self.top_k < 1):
            raise InputError(f"top_k must be None or an integer >= 1, got {self.top_k!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise InputError(f"seed must be an integer >= 0, got {self.seed!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def batch_seed(self, account: str, first_prompt_id: str) -> int:
        """The seed of a batch that starts with ``first_prompt_id`` served to ``account``."""
        digest = hashlib.sha256(f"{self.seed}|{account}|{first_prompt_id}".encode()).digest()
        return int.from_bytes(digest[:4], "little")


def bind_config(config: MarkConfig | None, tokenizer_id: str) -> MarkConfig:
    """``config`` (default ``MarkConfig()``) for a model whose tokenizer is ``tokenizer_id``: the
    tokenizer is recorded in every spec, so a text is never detected under another tokenizer.
    Raises TokenizerMismatchError when ``config`` already names another tokenizer."""
    cfg = config if config is not None else MarkConfig()
    if not isinstance(cfg, MarkConfig):
        raise InputError(f"config must be a MarkConfig, got {type(cfg).__name__}")
    if cfg.tokenizer_id is None:
        return dataclasses.replace(cfg, tokenizer_id=tokenizer_id)
    if cfg.tokenizer_id != tokenizer_id:
        raise TokenizerMismatchError(
            f"the watermark configuration is for tokenizer {cfg.tokenizer_id[:12]}..., but the model uses {tokenizer_id[:12]}..."
        )
    return cfg


class MarkedGenerator:
    """Answers prompts with ``model``, each row watermarked with its account's layer and the
    provider layer (``watermark=True``, a local model and a master key), or unwatermarked.

    Args:
        model: the backend that answers.
        master: the provider's master secret (required when ``watermark``).
        config: the deployment's watermark configuration (default ``MarkConfig()``).
        watermark: False answers without any watermark (records say ``"none"``, spec null).
    """

    def __init__(self, model: Any, master: MasterKey | None, *, config: MarkConfig | None = None, watermark: bool = True) -> None:
        self.model = model
        self.watermark = bool(watermark)
        self.config: MarkConfig | None = None
        self._markers: dict[str, Marker] = {}
        self._processors: dict[str, Any] = {}
        if not self.watermark:
            return
        if not isinstance(master, MasterKey):
            raise InputError("a master key is needed to watermark answers (or answer without a watermark)")
        if not getattr(model, "local", False):
            raise BackendError(
                f"cannot watermark answers of the remote model {model.name!r}: the bias is applied to the model's logits, "
                "which an API does not expose. Run the model locally (--model smollm2, tiny or a directory), or answer without a watermark."
            )
        self.master = master
        self.config = bind_config(config, model.tokenizer_id)

    @property
    def mode(self) -> str:
        """What the records' ``watermark`` field says: ``local`` or ``none``."""
        return "local" if self.watermark else "none"

    def marker(self, account: str) -> Marker | None:
        """The account's :class:`Marker` (None without watermark); one per account, reused."""
        if not self.watermark:
            return None
        if account not in self._markers:
            self._markers[account] = Marker(self.master, account, self.config, vocab_size=self.model.vocab_size)
        return self._markers[account]

    def processor(self, account: str) -> Any:
        """The account's logits processor (one per account, so rows of one account share it)."""
        if account not in self._processors:
            self._processors[account] = self.marker(account).hf_processor()
        return self._processors[account]

    def spec_record(self, account: str) -> dict | None:
        m = self.marker(account)
        return m.spec_record() if m is not None else None

    def generate(self, items: Sequence[tuple[str, Prompt]], sampling: Sampling = Sampling(), *, batch_size: int = 16,
                 progress: Callable[[int], None] | None = None) -> Iterator[list[Transcript]]:
        """Answer ``items`` ((account, prompt) pairs) in batches of ``batch_size``; yields each batch's
        records as soon as it is answered (a caller can store them before the next batch starts).
        ``progress(n)`` is called with the number of items answered so far."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InputError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        items = list(items)
        done = 0
        for start in range(0, len(items), batch_size):
            chunk = items[start : start + batch_size]
            processor = _RowDispatch([self.processor(a) for a, _ in chunk]) if self.watermark else None
            gens = self.model.generate(
                [p.prompt for _, p in chunk], max_new_tokens=sampling.max_new_tokens, logits_processor=processor,
                temperature=float(sampling.temperature), top_k=sampling.top_k,
                seed=sampling.batch_seed(chunk[0][0], chunk[0][1].id), batch_size=len(chunk),
            )
            if len(gens) != len(chunk):
                raise BackendError(f"model {self.model.name!r} returned {len(gens)} answers for {len(chunk)} prompts")
            yield [from_generation(g, p, account=a, watermark=self.mode, spec=self.spec_record(a), model=self.model,
                                   sampling=sampling.to_dict())
                   for (a, p), g in zip(chunk, gens, strict=True)]
            done += len(chunk)
            if progress is not None:
                progress(done)


class _RowDispatch:
    """A logits processor applying ``processors[r]`` to row r of the batch (rows sharing a processor
    are processed together). Requires the batch's rows in the order of ``processors``; inputs are
    never mutated."""

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
