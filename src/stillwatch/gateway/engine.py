"""Dynamic batching for a local model, with each row's own watermark.

One engine thread owns the model. Requests queue up; when one arrives the engine waits
``EngineConfig.window_ms`` for others (up to ``max_batch``), then decodes them together with a KV
cache, one step for all rows at a time. Each row has its own temperature, top-k, length limit and
*account*: every step, each account's rows get that account's two-layer watermark from
:class:`stillwatch.mark.hf_processor.MarkLogitsProcessor` (the project's only implementation of the
bias; the engine only selects the rows), applied at the sampling temperature exactly as
:meth:`stillwatch.models.hf.HFBackend.generate` applies it. A row that finishes is answered at once
(its future resolves while the others decode on), and a streaming row's tokens are handed to its
callback as each step produces them. Requests arriving while a batch decodes form the next one.
The rows that finish in one step are answered together (:func:`.handoff.settle`: one wake-up of the
event loop waiting for them, however many rows).

Per step the work is vectorized over the batch; the Python-level loops are over the accounts present
in the batch (one processor call each) and over the streaming rows (one callback each).
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from stillwatch.errors import BackendError, InputError
from stillwatch.mark import Marker, MasterKey
from stillwatch.mark.generate import bind_config

from .config import EngineConfig
from .handoff import Outcome, claim, settle

log = logging.getLogger(__name__)


@dataclass
class GenRequest:
    """One answer to produce. ``account`` None = no watermark. ``on_token`` (engine thread) gets
    each new token id of a streaming request; the future (a ``concurrent.futures`` future, or an
    asyncio future of the caller's loop) gets ``(completion ids, finish reason)``."""

    prompt_ids: list[int]
    max_new_tokens: int
    temperature: float = 1.0
    top_k: int | None = None
    account: str | None = None
    on_token: Callable[[int], None] | None = None
    future: Any = field(default_factory=cf.Future)


class MarkerCache:
    """Watermark processors per account (least recently used beyond ``size`` are rebuilt on demand).
    The configuration is mark's default for the backend's tokenizer (:class:`MarkConfig`)."""

    def __init__(self, master: MasterKey, backend: Any, size: int = 4096) -> None:
        self.master = master
        self.config = bind_config(None, backend.tokenizer_id)  # mark's default configuration, bound to the tokenizer
        self.vocab_size = int(backend.vocab_size)
        self.size = size
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, tuple[Any, dict[str, Any]]] = OrderedDict()

    def get(self, account: str) -> tuple[Any, dict[str, Any]]:
        """(logits processor, spec record with the fingerprint) of ``account``'s two-layer watermark."""
        with self._lock:
            hit = self._cache.get(account)
            if hit is not None:
                self._cache.move_to_end(account)
                return hit
        marker = Marker(self.master, account, self.config, vocab_size=self.vocab_size)
        entry = (marker.hf_processor(), marker.spec_record())
        with self._lock:
            self._cache[account] = entry
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return entry

    @property
    def context_width(self) -> int:
        return max(self.config.provider.context_width, self.config.account.context_width if self.config.account else 1)


class BatchEngine:
    """The engine thread around an :class:`~stillwatch.models.hf.HFBackend` (or any backend with a
    transformers ``model`` and the same token attributes)."""

    def __init__(self, backend: Any, markers: MarkerCache | None, cfg: EngineConfig) -> None:
        self.backend = backend
        self.markers = markers
        self.cfg = cfg
        eos = set(int(e) for e in backend.eos_token_ids)
        special = {t for t in (backend.pad_token_id, backend.bos_token_id) if t is not None}
        unused = set(range(len(backend.tokenizer), int(backend.vocab_size)))
        self._suppress = np.array(sorted((special | unused) - eos), dtype=np.int64)
        self._eos = np.array(sorted(eos), dtype=np.int64)
        # transformers >= 5.2x names the KV cache ``cache`` (``past_key_values`` before)
        import inspect

        params = inspect.signature(backend.model.forward).parameters
        self._cache_arg = "cache" if "cache" in params else "past_key_values"
        self._queue: queue.Queue[GenRequest | None] = queue.Queue()
        self._stop = threading.Event()
        self.batches: list[int] = []  # sizes of the batches decoded (bounded; for tests and benchmarks)
        self.served = self.n_batches = self.largest = 0  # totals since start (logged at close)
        self._thread = threading.Thread(target=self._run, name="stillwatch-engine", daemon=True)
        self._thread.start()

    def submit(self, req: GenRequest) -> Any:
        if self._stop.is_set():
            raise BackendError("the model engine is shut down")
        if not req.prompt_ids:
            raise InputError("the prompt encodes to no tokens")
        self._queue.put(req)
        return req.future

    def close(self) -> None:
        self._stop.set()
        self._queue.put(None)
        self._thread.join(timeout=30)
        if self.n_batches:
            log.info("engine: %d requests decoded in %d batches (mean batch %.1f, largest %d)",
                     self.served, self.n_batches, self.served / self.n_batches, self.largest)

    # ------------------------------------------------------------------ the engine thread
    def _run(self) -> None:
        import torch

        if getattr(self.backend, "num_threads", None):
            torch.set_num_threads(int(self.backend.num_threads))
        while not self._stop.is_set():
            first = self._queue.get()
            if first is None:
                break
            batch = [first]
            deadline = time.monotonic() + self.cfg.window_ms / 1000.0
            while len(batch) < self.cfg.max_batch:
                left = deadline - time.monotonic()
                try:
                    nxt = self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._stop.set()
                    break
                batch.append(nxt)
            batch = [r for r in batch if claim(r.future)]
            if not batch:
                continue
            self.batches.append(len(batch))
            del self.batches[:-10000]
            self.served += len(batch)
            self.n_batches += 1
            self.largest = max(self.largest, len(batch))
            try:
                self._decode(batch)
            except Exception as exc:  # a model failure fails this batch's requests, never the engine
                log.error("model step failed for a batch of %d: %s", len(batch), type(exc).__name__)
                err = BackendError(f"the model failed: {type(exc).__name__}")
                settle((r.future, None, err) for r in batch)
        while True:  # answer whatever still waits
            try:
                r = self._queue.get_nowait()
            except queue.Empty:
                break
            if r is not None and claim(r.future):
                settle([(r.future, None, BackendError("the model engine is shut down"))])

    def _logits_step(self, z: Any, hist: Any, groups: list[tuple[Any, Any]], top_k: Any) -> Any:
        """Sampling scores of one step: suppressed tokens, each account's watermark, top-k."""
        import torch

        if self._suppress.size:
            z[:, torch.from_numpy(self._suppress)] = float("-inf")
        if groups:
            ctx = hist[:, -self.markers.context_width:]  # [B, w]: all a processor reads of the history
            for proc, rows in groups:  # one call per account in the batch
                z[rows] = proc(ctx[rows], z[rows])
        if top_k is not None:
            ks, kmax = top_k
            vals = torch.topk(z, kmax, dim=-1).values  # [B, kmax]
            thr = vals.gather(1, (ks - 1).clamp(max=kmax - 1)[:, None])  # [B, 1]
            z = torch.where(z < thr, torch.full_like(z, float("-inf")), z)
        return z

    def _decode(self, batch: list[GenRequest]) -> None:
        import torch

        be = self.backend
        B = len(batch)
        width = max(len(r.prompt_ids) for r in batch)
        ids = np.full((B, width), be.pad_token_id, dtype=np.int64)  # [B, L] left-padded
        mask = np.zeros((B, width), dtype=np.int64)  # [B, L]
        for r, req in enumerate(batch):
            ids[r, width - len(req.prompt_ids):] = req.prompt_ids
            mask[r, width - len(req.prompt_ids):] = 1
        device = be.model.device
        hist = torch.from_numpy(ids).to(device)  # [B, L + t]
        mask_t = torch.from_numpy(mask).to(device)
        pos = (mask_t.cumsum(-1) - 1).clamp(min=0)  # [B, L]
        temps = torch.tensor([[float(r.temperature)] for r in batch], dtype=torch.float32, device=device)  # [B, 1]
        max_new = np.array([r.max_new_tokens for r in batch], dtype=np.int64)  # [B]
        ks = [r.top_k for r in batch]
        top_k = None
        if any(k is not None for k in ks):
            V = int(be.vocab_size)
            kv = torch.tensor([min(k, V) if k is not None else V for k in ks], device=device)
            top_k = (kv, int(kv.max()))
        groups: list[tuple[Any, Any]] = []
        if self.markers is not None:
            by_acc: dict[str, list[int]] = {}
            for r, req in enumerate(batch):
                if req.account is not None:
                    by_acc.setdefault(req.account, []).append(r)
            groups = [(self.markers.get(a)[0], torch.tensor(rows, device=device)) for a, rows in by_acc.items()]
        streaming = [r for r, req in enumerate(batch) if req.on_token is not None]
        out_ids = np.zeros((B, int(max_new.max())), dtype=np.int64)  # [B, N]
        done = np.zeros(B, dtype=bool)
        with torch.inference_mode():
            out = be.model(input_ids=hist, attention_mask=mask_t, position_ids=pos, use_cache=True)
            for step in range(int(max_new.max())):
                z = out.logits[:, -1, :].float() / temps  # [B, V]
                z = self._logits_step(z, hist, groups, top_k)
                tok = torch.multinomial(torch.softmax(z, dim=-1), 1)[:, 0]  # [B]
                tok_np = tok.cpu().numpy()
                tok_np[done] = be.pad_token_id
                out_ids[:, step] = tok_np
                is_eos = np.isin(tok_np, self._eos)
                for r in streaming:
                    if not done[r] and not is_eos[r]:
                        batch[r].on_token(int(tok_np[r]))
                finished = ~done & (is_eos | (step + 1 >= max_new))
                answers: list[Outcome] = []
                for r in np.flatnonzero(finished):
                    n = step if is_eos[r] else step + 1
                    answers.append((batch[r].future, (out_ids[r, :n].tolist(), "stop" if is_eos[r] else "length"), None))
                settle(answers)
                done |= finished
                if done.all():
                    break
                tok_t = torch.from_numpy(tok_np).to(device)
                hist = torch.cat([hist, tok_t[:, None]], dim=1)
                mask_t = torch.cat([mask_t, torch.ones((B, 1), dtype=mask_t.dtype, device=device)], dim=1)
                pos = pos[:, -1:] + 1
                out = be.model(input_ids=tok_t[:, None], attention_mask=mask_t, position_ids=pos,
                               use_cache=True, **{self._cache_arg: out[self._cache_arg]})
