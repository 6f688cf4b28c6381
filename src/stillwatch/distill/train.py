"""Train a student on harvested transcripts.

* ``loss="seq"`` — sequence-level KD: fine-tuning on the teacher's answers, prompt tokens masked.
* ``loss="fkl"`` / ``loss="jsd"`` — token-level KD against a local teacher's logits (computed on
  the fly, teacher-forced on the same ids), forward KL or generalised JSD
  (:mod:`stillwatch.distill.losses`); needs teacher and student to share a tokenizer.

Runs through `accelerate` (CPU here; ``accelerate launch`` spreads it over GPUs elsewhere).
Checkpoints (model, optimizer, RNG, position in the epoch) go to ``OUT/checkpoint`` every
``checkpoint_every`` steps and at each epoch end; a second run with the same config resumes
from there. The held-out loss (cross-entropy on held-out answers) is measured after each epoch.
The finished student is saved to ``OUT`` so ``load_backend(OUT)`` reopens it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from stillwatch.distill.losses import IGNORE_INDEX, forward_kl_loss, generalized_jsd_loss, sequence_kd_loss
from stillwatch.errors import DistillError, InputError
from stillwatch.records import Transcript

log = logging.getLogger(__name__)

LOSSES = ("seq", "fkl", "jsd")
MIN_RECORDS = 2


@dataclass(frozen=True)
class TrainConfig:
    """How to train. ``eval_fraction`` of the records (chosen by a hash of ``prompt_id``, so the
    split is stable across runs and resumes) are held out."""

    loss: str = "seq"
    epochs: int = 3
    batch_size: int = 8
    lr: float = 2e-3
    weight_decay: float = 0.0
    warmup_steps: int = 10
    max_len: int = 256
    eval_fraction: float = 0.1
    grad_clip: float = 1.0
    jsd_beta: float = 0.5
    temperature: float = 1.0
    checkpoint_every: int = 200
    seed: int = 0
    #: Train only the last ``train_layers`` decoder blocks (and the final norm), all other weights
    #: frozen; 0 trains every parameter. Partial fine-tuning of an existing model is several times
    #: cheaper on a CPU (no graph below the first trainable block, a small optimizer state).
    train_layers: int = 0

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise InputError(f"TrainConfig.loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        for name in ("epochs", "batch_size", "max_len", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise InputError(f"TrainConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise InputError(f"TrainConfig.lr must be > 0, got {self.lr}")
        if not 0.0 <= self.eval_fraction < 1.0:
            raise InputError(f"TrainConfig.eval_fraction must be in [0, 1), got {self.eval_fraction}")
        if not 0.0 < self.jsd_beta < 1.0:
            raise InputError(f"TrainConfig.jsd_beta must be in (0, 1), got {self.jsd_beta}")
        if not self.temperature > 0:
            raise InputError(f"TrainConfig.temperature must be > 0, got {self.temperature}")
        if not isinstance(self.train_layers, int) or self.train_layers < 0:
            raise InputError(f"TrainConfig.train_layers must be an int >= 0, got {self.train_layers!r}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Example:
    """One training sequence: ``ids`` = prompt ids + answer ids (+ eos); ``n_prompt`` leading ids
    are masked out of the loss."""

    prompt_id: str
    ids: tuple[int, ...]
    n_prompt: int


def build_examples(records: Sequence[Transcript], student: Any, max_len: int) -> list[Example]:
    """Tokenize transcripts for ``student``. Stored ids are used when the teacher's tokenizer is the
    student's (exact, and byte-level answers survive no decode/encode round trip); otherwise the
    prompt goes through the student's chat template and the answer through its tokenizer."""
    eos = int(student.eos_token_ids[0]) if getattr(student, "eos_token_ids", None) else None
    out: list[Example] = []
    for r in records:
        if r.tokenizer_id == student.tokenizer_id and r.prompt_ids:
            p_ids, a_ids = list(r.prompt_ids), list(r.completion_ids)
        else:
            p_ids, a_ids = student.chat_prompt_ids(r.prompt), student.encode(r.text)
        if eos is not None:
            a_ids = a_ids + [eos]
        ids = (p_ids + a_ids)[:max_len]
        if len(ids) <= len(p_ids):  # no answer token survives truncation
            continue
        out.append(Example(prompt_id=r.prompt_id, ids=tuple(ids), n_prompt=len(p_ids)))
    return out


def split_examples(examples: Sequence[Example], eval_fraction: float) -> tuple[list[Example], list[Example]]:
    """Stable train/held-out split by a hash of ``prompt_id``; at least one held-out example when
    ``eval_fraction`` > 0 and at least one training example always."""
    def u(e: Example) -> float:
        return int.from_bytes(hashlib.sha256(e.prompt_id.encode()).digest()[:8], "big") / 2**64

    ranked = sorted(examples, key=u)
    n_eval = 0 if eval_fraction == 0 else max(1, round(eval_fraction * len(examples)))
    n_eval = min(n_eval, len(examples) - 1)
    held = {e.prompt_id for e in ranked[:n_eval]}
    return [e for e in examples if e.prompt_id not in held], [e for e in examples if e.prompt_id in held]


def collate(batch: Sequence[Example], pad_id: int) -> dict[str, Any]:
    """Right-pad a batch: ``input_ids`` [B, T], ``attention_mask`` [B, T], ``labels`` [B, T] where
    labels[b, t] is the token at t + 1 (IGNORE_INDEX on prompt, padding and the last position)."""
    import torch

    width = max(len(e.ids) for e in batch)
    ids = np.full((len(batch), width), pad_id, dtype=np.int64)  # [B, T]
    mask = np.zeros((len(batch), width), dtype=np.int64)  # [B, T]
    labels = np.full((len(batch), width), IGNORE_INDEX, dtype=np.int64)  # [B, T]
    for r, e in enumerate(batch):
        n = len(e.ids)
        ids[r, :n] = e.ids
        mask[r, :n] = 1
        # position t predicts ids[t + 1]; only answer tokens (index >= n_prompt) are targets
        labels[r, e.n_prompt - 1 : n - 1] = e.ids[e.n_prompt : n]
    return {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(mask), "labels": torch.from_numpy(labels)}


@dataclass(frozen=True)
class TrainSummary:
    """``n_dropped``: records left out because their prompt alone fills ``max_len`` (no answer token fits)."""

    out: str
    n_train: int
    n_eval: int
    n_dropped: int
    steps: int
    resumed_from_step: int
    train_tokens: int
    final_train_loss: float
    eval_loss_before: float | None
    eval_loss: float | None
    eval_history: list[dict]
    seconds: float
    config: dict
    student: str

    def to_dict(self) -> dict:
        return asdict(self)


def evaluate(model: Any, examples: Sequence[Example], pad_id: int, batch_size: int = 8,
             logits_fn: Callable[[Sequence[Example], dict], Any] | None = None) -> float | None:
    """Mean held-out cross-entropy per answer token (None with no held-out example). ``logits_fn(batch,
    collated)`` computes the logits when given (the frozen-prefix path), else ``model`` does."""
    import torch

    if not examples:
        return None
    total, count = 0.0, 0
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(examples), batch_size):
            batch = examples[start : start + batch_size]
            b = collate(batch, pad_id)
            if logits_fn is not None:
                logits = logits_fn(batch, b)
            else:
                logits = model(input_ids=b["input_ids"].to(model.device), attention_mask=b["attention_mask"].to(model.device)).logits
            n = int((b["labels"] != IGNORE_INDEX).sum())
            total += float(sequence_kd_loss(logits, b["labels"].to(model.device))) * n
            count += n
    model.train(was_training)
    return total / max(count, 1)


def train(
    records: Sequence[Transcript],
    student: Any,
    out: Path,
    config: TrainConfig = TrainConfig(),
    *,
    teacher: Any | None = None,
    resume: bool = True,
    progress: Callable[[int, int, float], None] | None = None,
    prefix_cache: dict | None = None,
) -> TrainSummary:
    """Train ``student`` (an ``HFBackend``) on ``records`` and save it to ``out``.

    Requires >= 2 usable records; for ``loss`` fkl/jsd a local ``teacher`` sharing the student's
    tokenizer. ``progress(step, total_steps, loss)`` is called after every step.

    With ``config.train_layers`` > 0 the frozen blocks below the trained ones are run once per
    example (their output cannot change) and the cached hidden states feed the trained blocks in
    every epoch (:class:`FrozenPrefix`). ``prefix_cache``: a dict shared between calls whose students
    start from the *same* weights (e.g. several students fine-tuned from one base model), so each
    example's frozen part is computed once in all.
    """
    import torch
    from accelerate import Accelerator

    out = Path(out)
    if config.loss != "seq":
        if teacher is None or not getattr(teacher, "local", False):
            raise InputError(f"loss {config.loss!r} needs a local teacher's logits (--teacher); use --loss seq for a remote teacher")
        if teacher.tokenizer_id != student.tokenizer_id:
            raise InputError(f"token-level KD needs the student to share the teacher's tokenizer ({teacher.name!r} differs)")
    examples = build_examples(records, student, config.max_len)
    n_dropped = len(records) - len(examples)
    if n_dropped:
        log.warning("%d of %d answers cannot be trained on: their prompt (chat template included) fills max_len %d; "
                    "raise max_len or shorten the prompts", n_dropped, len(records), config.max_len)
    if len(examples) < MIN_RECORDS:
        raise InputError(
            f"transcript too small to train on: {len(examples)} usable record(s), need at least {MIN_RECORDS} "
            f"(one to train on, one held out)"
        )
    train_set, eval_set = split_examples(examples, config.eval_fraction)
    pad_id = int(student.pad_token_id)
    batches_per_epoch = math.ceil(len(train_set) / config.batch_size)
    total_steps = batches_per_epoch * config.epochs

    ckpt = out / "checkpoint"
    state = _initial_state(out, ckpt, config, len(train_set), resume)

    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    model = student.model
    model.train()
    params = trainable_parameters(model, config.train_layers)
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(config.warmup_steps, total_steps))
    model, optimizer, sched = accelerator.prepare(model, optimizer, sched)
    t_model = None
    if teacher is not None and config.loss != "seq":
        t_model = teacher.model.to(accelerator.device).eval()
    if state["step"] > 0:
        accelerator.load_state(str(ckpt))
        log.info("resuming from step %d", state["step"])
    resumed_from = int(state["step"])
    prefix = FrozenPrefix(accelerator.unwrap_model(model), config.train_layers, prefix_cache) if config.train_layers else None
    logits_fn = prefix.logits if prefix is not None else None
    if state["eval_before"] is None:
        state["eval_before"] = evaluate(accelerator.unwrap_model(model), eval_set, pad_id, logits_fn=logits_fn)

    t0 = time.perf_counter()
    step = int(state["step"])
    if progress:
        progress(step, total_steps, float("nan"))
    for epoch in range(step // batches_per_epoch, config.epochs):
        perm = torch.randperm(len(train_set), generator=torch.Generator().manual_seed(config.seed * 100_003 + epoch)).tolist()
        batches = [[train_set[i] for i in perm[s : s + config.batch_size]] for s in range(0, len(perm), config.batch_size)]
        for bi in range(step - epoch * batches_per_epoch, len(batches)):
            b = {k: v.to(accelerator.device) for k, v in collate(batches[bi], pad_id).items()}
            loss = _batch_loss(model, prefix, t_model, batches[bi], b, config)
            optimizer.zero_grad(set_to_none=True)
            accelerator.backward(loss)
            if config.grad_clip > 0:
                accelerator.clip_grad_norm_(params, config.grad_clip)
            optimizer.step()
            sched.step()
            step += 1
            state["train_tokens"] += int((b["labels"] != IGNORE_INDEX).sum())
            state["last_loss"] = float(loss.detach())
            if progress:
                progress(step, total_steps, state["last_loss"])
            if step % config.checkpoint_every == 0 and step < total_steps:
                _checkpoint(accelerator, model, ckpt, state, step, config, len(train_set))
        ev = evaluate(accelerator.unwrap_model(model), eval_set, pad_id, logits_fn=logits_fn)
        state["history"].append({"epoch": epoch + 1, "step": step, "train_loss": state["last_loss"], "eval_loss": ev})
        log.info("epoch %d: train loss %.4f, held-out loss %s", epoch + 1, state["last_loss"], ev)
        if step < total_steps:
            _checkpoint(accelerator, model, ckpt, state, step, config, len(train_set))

    accelerator.wait_for_everyone()
    final = accelerator.unwrap_model(model)
    final.eval()
    summary = TrainSummary(
        out=str(out), n_train=len(train_set), n_eval=len(eval_set), n_dropped=n_dropped, steps=step, resumed_from_step=resumed_from,
        train_tokens=int(state["train_tokens"]), final_train_loss=float(state["last_loss"]),
        eval_loss_before=state["eval_before"], eval_loss=state["history"][-1]["eval_loss"] if state["history"] else None,
        eval_history=list(state["history"]), seconds=time.perf_counter() - t0, config=config.to_dict(), student=student.name,
    )
    _checkpoint(accelerator, model, ckpt, state, step, config, len(train_set))  # every process: save_state is collective
    student.model = final
    if accelerator.is_main_process:
        student.save_pretrained(out)
        (out / "train_summary.json").write_text(json.dumps(summary.to_dict(), indent=2))
    return summary


def _initial_state(out: Path, ckpt: Path, config: TrainConfig, n_train: int, resume: bool) -> dict:
    """The trainer state to start from: a fresh one, or (``resume``) the checkpoint's in ``ckpt``.
    Raises DistillError when that checkpoint is from a run with another config or data."""
    state = {"step": 0, "history": [], "eval_before": None, "train_tokens": 0, "last_loss": float("nan")}
    state_file = ckpt / "trainer_state.json"
    if resume and state_file.is_file():
        saved = json.loads(state_file.read_text())
        if saved.get("config") != config.to_dict() or saved.get("n_train") != n_train:
            raise DistillError(
                f"{out} holds a checkpoint from a different run (config or data differ); "
                f"use another --out or --no-resume"
            )
        state.update(saved)
    elif not resume and ckpt.exists():
        log.warning("%s: starting over; the old checkpoint will be overwritten", out)
    return state


def _batch_loss(model: Any, prefix: Any, t_model: Any, examples: list, b: dict, config: TrainConfig) -> Any:
    """The loss of one batch: sequence-level KD on the answers (through the frozen prefix when there is
    one), or forward KL / generalised JSD against the teacher's logits."""
    import torch

    if prefix is not None and config.loss == "seq":
        return prefix.seq_loss(examples, b)  # the head only where labels are
    if prefix is not None:
        logits = prefix.logits(examples, b)  # [B, T, V]
    else:
        logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits  # [B, T, V]
    if config.loss == "seq":
        return sequence_kd_loss(logits, b["labels"])
    with torch.inference_mode():
        t_logits = t_model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits  # [B, T, Vt]
    v = min(logits.shape[-1], t_logits.shape[-1])
    s_l, t_l = logits[..., :v], t_logits[..., :v].float().clone()
    mask = b["labels"] != IGNORE_INDEX  # [B, T]
    if config.loss == "fkl":
        return forward_kl_loss(s_l, t_l, mask, temperature=config.temperature)
    return generalized_jsd_loss(s_l, t_l, mask, beta=config.jsd_beta, temperature=config.temperature)


class FrozenPrefix:
    """Partial fine-tuning without recomputing the frozen part. The blocks below the last
    ``train_layers`` are frozen and deterministic (no dropout in Llama-style decoders), so the hidden
    state entering the first trained block depends only on the example's ids: it is computed once
    (no autograd graph) and cached, and each step runs only the trained blocks, the final norm and
    the head on it. Equivalent to the full forward up to float rounding (right padding cannot change
    a causal model's outputs at real positions; a test checks the logits match). Decoders whose body
    picks each block's attention kind by its position in ``config.layer_types`` (Gemma 2/3: sliding
    window or global attention, each with its own rotary base) see that list cut the same way as the
    blocks, so every block keeps its own kind (a test on a tiny Gemma 3 checks the logits match)."""

    def __init__(self, model: Any, train_layers: int, cache: dict | None = None) -> None:
        import torch

        self.model, self.body = model, model.model
        self.layers = self.body.layers
        self.cut = len(self.layers) - train_layers
        self.cache = cache if cache is not None else {}
        self._low = torch.nn.ModuleList(list(self.layers)[: self.cut])
        self._high = torch.nn.ModuleList(list(self.layers)[self.cut :])
        self._types = getattr(self.body.config, "layer_types", None)  # per-block attention kinds, by position

    @contextlib.contextmanager
    def _part(self, high: bool, norm: Any = None) -> Iterator[None]:
        """The body runs only the low (frozen) or the high (trained) blocks; ``norm`` replaces its final norm."""
        cfg, old_norm = self.body.config, self.body.norm
        self.body.layers = self._high if high else self._low
        if self._types is not None:
            cfg.layer_types = list(self._types[self.cut :] if high else self._types[: self.cut])
        if norm is not None:
            self.body.norm = norm
        try:
            yield
        finally:
            self.body.layers, self.body.norm = self.layers, old_norm
            if self._types is not None:
                cfg.layer_types = self._types

    def _hidden(self, batch: Sequence[Example]) -> list[Any]:
        import torch

        todo = [e for e in batch if (self.cut, e.ids) not in self.cache]
        if todo:
            b = collate(todo, 0)
            # normal (not inference-mode) tensors even when called under inference_mode, so a
            # state cached while evaluating can later feed training
            with self._part(False, torch.nn.Identity()), torch.inference_mode(False), torch.no_grad():
                h = self.body(input_ids=b["input_ids"].to(self.model.device),
                              attention_mask=b["attention_mask"].to(self.model.device), use_cache=False).last_hidden_state  # [B, T, H]
            for r, e in enumerate(todo):
                self.cache[(self.cut, e.ids)] = h[r, : len(e.ids)].detach().clone()
        return [self.cache[(self.cut, e.ids)] for e in batch]

    def logits(self, batch: Sequence[Example], collated: dict) -> Any:
        """Logits [B, T, V] for ``batch`` (``collated`` = its :func:`collate` output)."""
        return self.model.lm_head(self.final_hidden(batch, collated))

    def seq_loss(self, batch: Sequence[Example], collated: dict) -> Any:
        """:func:`sequence_kd_loss` for ``batch``, with the head applied only where a label is (the
        49k-way head is most of a partial fine-tune's cost; prompt positions need none)."""
        import torch

        labels = collated["labels"]
        mask = labels != IGNORE_INDEX  # [B, T]
        h = self.final_hidden(batch, collated)[mask.to(self.model.device)]  # [N, H]
        return torch.nn.functional.cross_entropy(self.model.lm_head(h).float(), labels[mask].to(h.device))

    def final_hidden(self, batch: Sequence[Example], collated: dict) -> Any:
        """Hidden states after the trained blocks and the final norm, [B, T, H]."""
        import torch

        hs = self._hidden(batch)
        width = collated["input_ids"].shape[1]
        x = torch.zeros((len(batch), width, hs[0].shape[-1]), dtype=hs[0].dtype, device=hs[0].device)  # [B, T, H]
        for r, h in enumerate(hs):
            x[r, : h.shape[0]] = h
        with self._part(True):
            return self.body(inputs_embeds=x, attention_mask=collated["attention_mask"].to(x.device), use_cache=False).last_hidden_state


def trainable_parameters(model: Any, train_layers: int) -> list[Any]:
    """Set ``requires_grad`` for a (partial) fine-tune and return the parameters to optimise: all of
    them when ``train_layers`` is 0, else only the last ``train_layers`` decoder blocks and the final
    norm (a decoder exposing ``model.model.layers``, as Llama/SmolLM2 do)."""
    if train_layers == 0:
        for p in model.parameters():
            p.requires_grad_(True)
        return list(model.parameters())
    body = getattr(model, "model", None)
    layers = getattr(body, "layers", None)
    if layers is None:
        raise InputError(f"train_layers={train_layers} needs a decoder with model.layers; {type(model).__name__} has none")
    if train_layers > len(layers):
        raise InputError(f"train_layers={train_layers} but the student has only {len(layers)} decoder blocks")
    for p in model.parameters():
        p.requires_grad_(False)
    keep = [p for block in list(layers)[-train_layers:] for p in block.parameters()]
    norm = getattr(body, "norm", None)
    if norm is not None:
        keep += list(norm.parameters())
    for p in keep:
        p.requires_grad_(True)
    return keep


def _checkpoint(accelerator: Any, model: Any, ckpt: Path, state: dict, step: int, config: TrainConfig, n_train: int) -> None:
    state = {**state, "step": step, "config": config.to_dict(), "n_train": n_train}
    ckpt.mkdir(parents=True, exist_ok=True)
    from stillwatch.models.hf import quiet_tied_weights

    with quiet_tied_weights(accelerator.unwrap_model(model)):
        accelerator.save_state(str(ckpt))
    if accelerator.is_main_process:
        tmp = ckpt / "trainer_state.json.tmp"
        tmp.write_text(json.dumps(state))
        tmp.replace(ckpt / "trainer_state.json")  # atomic: a crash leaves the old state intact


def _lr_lambda(warmup: int, total: int) -> Callable[[int], float]:
    def f(step: int) -> float:
        if warmup > 0 and step < warmup:
            return (step + 1) / warmup
        span = max(1, total - warmup)
        return max(0.1, 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / span))))

    return f
