"""A backend over any Hugging Face transformers causal language model.

torch and transformers are imported lazily (inside functions), so that ``import
stillwatch.models`` works on the core install without torch.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from stillwatch.errors import BackendError, InputError
from stillwatch.models.base import Backend, Generation

log = logging.getLogger(__name__)


# A private-use character pair no tokenizer treats as special; stands in for the user text while
# the chat template is rendered (see HFBackend.chat_prompt_ids).
_CONTENT_SENTINEL = "\ue000stillwatch-user-content\ue001"


@contextlib.contextmanager

def hub_offline() -> Iterator[None]:
    """Within the block, transformers and huggingface_hub may not touch the network."""
    old = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """A stable sha256 hex digest of a tokenizer: its token -> id map, its BPE merges (if any)
    and its special tokens. Equal fingerprints mean equal ids for equal text (same vocabulary
    and merge rules); it does not depend on file layout, dict order or library version."""
    own = getattr(tokenizer, "fingerprint", None)
    if callable(own):
        return own()
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda kv: (kv[1], kv[0]))
    merges: list[str] = []
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        model = json.loads(backend.to_str()).get("model", {})
        merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", []) or []]
    special = {
        name: getattr(tokenizer, f"{name}_token", None) for name in ("bos", "eos", "pad", "unk")
    }
    payload = json.dumps(
        {"vocab": vocab, "merges": merges, "special": special,
         "all_special": sorted(map(str, getattr(tokenizer, "all_special_tokens", [])))},
        sort_keys=True, separators=(",", ":"), ensure_ascii=True,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _as_processor_list(logits_processor: Any, temperature: float = 1.0, constraint: Any | None = None) -> Any:
    """The caller's processors as one ``LogitsProcessorList`` that sees the *sampled* logits.

    transformers runs custom logits processors before its temperature warper, so a watermark
    adding ``delta`` to green logits would act as ``delta / T`` and a Gumbel layer would pick from
    the untempered distribution. The processors are therefore run on ``scores / T`` and their
    result multiplied by ``T``: after the warper divides by ``T`` the sampler sees exactly
    ``processors(scores / T)``. ``constraint`` (the tokenizer's, e.g. valid UTF-8 for the byte
    tokenizer) runs first, so a watermark only ever chooses among allowed tokens. Requires temperature > 0.
    """
    from transformers import LogitsProcessor, LogitsProcessorList

    if logits_processor is None:
        return LogitsProcessorList([constraint]) if constraint is not None else None
    if isinstance(logits_processor, (LogitsProcessorList, list, tuple)):
        procs = list(logits_processor)
    elif callable(logits_processor):
        procs = [logits_processor]
    else:
        raise InputError(
            f"logits_processor must be a transformers LogitsProcessor or a list of them, got {type(logits_processor).__name__}"
        )
    inner = LogitsProcessorList(([constraint] if constraint is not None else []) + procs)
    if temperature == 1.0:
        return inner

    class _AtSamplingTemperature(LogitsProcessor):
        def __call__(self, input_ids: Any, scores: Any) -> Any:
            return inner(input_ids, scores / temperature) * temperature

    return LogitsProcessorList([_AtSamplingTemperature()])


def _check_sequences(sequences: Sequence[Sequence[int]], vocab_size: int) -> list[np.ndarray]:
    out = []
    for i, s in enumerate(sequences):
        arr = np.asarray(list(s), dtype=np.int64)
        if arr.ndim != 1:
            raise InputError(f"sequence {i} must be a flat list of token ids, got shape {arr.shape}")
        if arr.size and (arr.min() < 0 or arr.max() >= vocab_size):
            raise InputError(f"sequence {i} holds token id {int(arr.max() if arr.max() >= vocab_size else arr.min())} outside 0..{vocab_size - 1}")
        out.append(arr)
    return out


class HFBackend(Backend):
    """Generation and teacher-forced scoring with a transformers causal LM.

    Args:
        model: a ``transformers`` causal LM (``PreTrainedModel`` with ``generate``).
        tokenizer: a Hugging Face tokenizer, or a :class:`~stillwatch.models.byte_tokenizer.ByteTokenizer`.
        name: a short name for messages and records.
        num_threads: torch intra-op threads while this backend computes (restored afterwards);
            None keeps torch's setting. On a shared, oversubscribed CPU one thread can be ten
            times faster than two (OpenMP threads wait on each other); see notes/issue-2-models.md.

    The backend owns ``model``: it puts it in eval mode and replaces its ``generation_config``
    with a clean one (only bos/eos/pad ids), so that no sampling default shipped with a checkpoint
    (``top_k=50``, ``top_p=0.9``, repetition penalties) silently changes the distribution.
    """

    local = True

    def __init__(self, model: Any, tokenizer: Any, name: str, *, num_threads: int | None = None) -> None:
        from transformers import GenerationConfig

        if num_threads is not None and (not isinstance(num_threads, int) or num_threads < 1):
            raise InputError(f"num_threads must be None or an int >= 1, got {num_threads!r}")
        self.num_threads = num_threads

        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name
        self.vocab_size = int(model.get_output_embeddings().weight.shape[0])
        mp = getattr(getattr(model, "config", None), "max_position_embeddings", None)
        self.max_positions: int | None = int(mp) if isinstance(mp, int) and mp > 0 else None
        self.tokenizer_id = tokenizer_fingerprint(tokenizer)
        eos: list[int] = []
        for cand in (getattr(tokenizer, "eos_token_id", None), getattr(model.generation_config, "eos_token_id", None)):
            for e in cand if isinstance(cand, (list, tuple)) else [cand]:
                if e is not None and int(e) not in eos:
                    eos.append(int(e))
        if not eos:
            raise BackendError(f"model {name!r}: the tokenizer has no end-of-sequence token")
        self.eos_token_ids: tuple[int, ...] = tuple(eos)
        pad = getattr(tokenizer, "pad_token_id", None)
        self.pad_token_id: int = int(pad) if pad is not None else eos[0]
        bos = getattr(tokenizer, "bos_token_id", None)
        self.bos_token_id: int | None = int(bos) if bos is not None else None
        # Never sample pad / bos inside an answer (a random tiny model would), nor output rows
        # past the tokenizer's vocabulary (padding rows); eos ends an answer.
        unused = set(range(len(tokenizer), self.vocab_size))
        self._suppress = sorted(({t for t in (self.pad_token_id, self.bos_token_id) if t is not None} | unused) - set(eos))
        self.model.generation_config = GenerationConfig(
            bos_token_id=self.bos_token_id, eos_token_id=list(eos), pad_token_id=self.pad_token_id
        )
        self.has_chat_template = bool(getattr(tokenizer, "chat_template", None))
        # a tokenizer whose ids are not all valid text in any order (the byte tokenizer) constrains
        # generation and trims a character cut off at the token limit, so answers decode losslessly
        make = getattr(tokenizer, "generation_constraint", None)
        self._constraint = make() if callable(make) else None
        self._complete_length = getattr(tokenizer, "complete_length", None)
        # strings the tokenizer would parse as special tokens (checked in user text: prompt injection)
        added = getattr(tokenizer, "added_tokens_decoder", {}) or {}
        self._special_strings = tuple(sorted(
            {str(t) for t in getattr(tokenizer, "all_special_tokens", [])}
            | {str(getattr(t, "content", t)) for t in added.values() if getattr(t, "special", True)}
        ))

    @contextlib.contextmanager
    def _threads(self) -> Any:
        import torch

        old = torch.get_num_threads()
        if self.num_threads is None or self.num_threads == old:
            yield
            return
        torch.set_num_threads(self.num_threads)
        try:
            yield
        finally:
            torch.set_num_threads(old)

    # ------------------------------------------------------------------ text <-> ids
    def encode(self, text: str) -> list[int]:
        if not isinstance(text, str):
            raise InputError(f"text must be a str, got {type(text).__name__}")
        return [int(i) for i in self.tokenizer.encode(text, add_special_tokens=False)]

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode([int(i) for i in ids], skip_special_tokens=True)

    def chat_prompt_ids(self, prompt: str) -> list[int]:
        """Token ids of ``prompt`` as one user turn, ready for generation.

        The user's text is tokenized as *text*: a prompt that contains a special token's string
        (``<|im_end|>``, ``<|im_start|>system``) cannot close its turn or open a new one. Such a
        prompt is tokenized apart from the rendered template (the template around a sentinel, the
        text with special-token strings split into ordinary tokens); any other prompt is tokenized
        with the template in one piece, exactly as the model was trained.
        """
        if not isinstance(prompt, str):
            raise InputError(f"prompt must be a str, got {type(prompt).__name__}")
        injects = any(tok in prompt for tok in self._special_strings)
        if not self.has_chat_template:
            if not injects:
                return [int(i) for i in self.tokenizer.encode(prompt, add_special_tokens=True)]
            return [int(i) for i in self.tokenizer.encode("", add_special_tokens=True)] + self._text_ids(prompt)
        if not injects:
            text = self.tokenizer.apply_chat_template(
                [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
            )
            return [int(i) for i in self.tokenizer.encode(text, add_special_tokens=False)]
        rendered = self.tokenizer.apply_chat_template(
            [{"role": "user", "content": _CONTENT_SENTINEL}], tokenize=False, add_generation_prompt=True
        )
        if rendered.count(_CONTENT_SENTINEL) != 1:
            raise BackendError(f"the chat template of {self.name!r} does not place the user's message exactly once")
        head, tail = rendered.split(_CONTENT_SENTINEL)
        ids = self.tokenizer.encode(head, add_special_tokens=False) + self._text_ids(prompt)
        return [int(i) for i in ids] + [int(i) for i in self.tokenizer.encode(tail, add_special_tokens=False)]

    def _text_ids(self, text: str) -> list[int]:
        """Ids of ``text`` with special-token strings split into ordinary tokens."""
        return [int(i) for i in self.tokenizer.encode(text, add_special_tokens=False, split_special_tokens=True)]

    # ------------------------------------------------------------------ generation
    def generate(
        self,
        prompts: Sequence[str],
        *,
        max_new_tokens: int = 128,
        logits_processor: Any | None = None,
        temperature: float = 1.0,
        top_k: int | None = None,
        seed: int | None = None,
        batch_size: int = 32,
        progress: Any | None = None,
    ) -> list[Generation]:
        import torch

        prompts = self.check_generate_args(prompts, max_new_tokens, temperature, top_k, batch_size)
        processors = _as_processor_list(logits_processor, float(temperature), self._constraint)
        prompt_ids = [self.chat_prompt_ids(p) for p in prompts]
        for p, ids in zip(prompts, prompt_ids):
            if not ids:
                raise InputError(f"prompt {p!r} encodes to no tokens")
            if self.max_positions is not None and len(ids) + max_new_tokens > self.max_positions:
                raise InputError(f"a prompt of {len(ids)} tokens plus {max_new_tokens} new tokens exceeds the context of "
                                 f"{self.name!r} ({self.max_positions} tokens); shorten the prompt ({p[:40]!r}...)")
        device = self.model.device
        eos = np.asarray(self.eos_token_ids, dtype=np.int64)
        results: list[Generation] = []
        rng_ctx = (
            torch.random.fork_rng(devices=[device] if device.type == "cuda" else [])
            if seed is not None else contextlib.nullcontext()
        )
        with rng_ctx, self._threads(), torch.inference_mode():
            if seed is not None:
                torch.manual_seed(int(seed))
            for start in range(0, len(prompts), batch_size):
                batch = prompt_ids[start : start + batch_size]
                width = max(len(x) for x in batch)
                ids = np.full((len(batch), width), self.pad_token_id, dtype=np.int64)  # [B, L]
                mask = np.zeros((len(batch), width), dtype=np.int64)  # [B, L]
                for r, x in enumerate(batch):  # left padding
                    ids[r, width - len(x):] = x
                    mask[r, width - len(x):] = 1
                out = self.model.generate(
                    input_ids=torch.from_numpy(ids).to(device),
                    attention_mask=torch.from_numpy(mask).to(device),
                    max_new_tokens=max_new_tokens,
                    do_sample=True,
                    temperature=float(temperature),
                    top_k=int(top_k) if top_k is not None else 0,
                    top_p=1.0,
                    suppress_tokens=self._suppress or None,
                    logits_processor=processors,
                    eos_token_id=list(self.eos_token_ids),
                    pad_token_id=self.pad_token_id,
                )
                new = out[:, width:].cpu().numpy()  # [B, N] generated ids (padded after eos)
                is_eos = np.isin(new, eos)  # [B, N]
                has_eos = is_eos.any(axis=1)
                stop_at = np.where(has_eos, is_eos.argmax(axis=1), new.shape[1])  # [B]
                for r, x in enumerate(batch):
                    comp = new[r, : stop_at[r]]
                    if self._complete_length is not None:
                        comp = comp[: self._complete_length(comp)]
                    results.append(Generation(
                        prompt=prompts[start + r],
                        text=self.decode(comp),
                        prompt_ids=tuple(int(i) for i in x),
                        completion_ids=tuple(int(i) for i in comp.tolist()),
                        finish_reason="stop" if has_eos[r] else "length",
                    ))
                if progress is not None:
                    progress(len(results))
        return results

    # ------------------------------------------------------------------ teacher forcing
    def _forward_batches(self, sequences: Sequence[Sequence[int]], batch_size: int, reduce: Any) -> list[np.ndarray]:
        """Run the model over right-padded batches (padding after the tokens cannot change a
        causal model's outputs at real positions) and apply ``reduce(logits[b, :T])`` per row."""
        import torch

        if not isinstance(batch_size, int) or batch_size < 1:
            raise InputError(f"batch_size must be an int >= 1, got {batch_size!r}")
        seqs = _check_sequences(sequences, self.vocab_size)
        longest = max((len(x) for x in seqs), default=0)
        if self.max_positions is not None and longest > self.max_positions:
            raise InputError(f"a sequence of {longest} tokens exceeds the context of {self.name!r} ({self.max_positions} tokens)")
        results: list[np.ndarray | None] = [None] * len(seqs)
        order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))  # similar lengths together
        device = self.model.device
        with self._threads(), torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                width = max(len(seqs[i]) for i in idx)
                if width == 0:
                    for i in idx:
                        results[i] = reduce(None)
                    continue
                ids = np.full((len(idx), width), self.pad_token_id, dtype=np.int64)  # [B, T]
                mask = np.zeros((len(idx), width), dtype=np.int64)  # [B, T]
                for r, i in enumerate(idx):
                    ids[r, : len(seqs[i])] = seqs[i]
                    mask[r, : len(seqs[i])] = 1
                logits = self.model(
                    input_ids=torch.from_numpy(ids).to(device),
                    attention_mask=torch.from_numpy(mask).to(device),
                    use_cache=False,
                ).logits  # [B, T, V]
                for r, i in enumerate(idx):
                    results[i] = reduce(logits[r, : len(seqs[i])])
        return results  # type: ignore[return-value]

    def next_token_logits(self, sequences: Sequence[Sequence[int]], *, batch_size: int = 16) -> list[np.ndarray]:
        def reduce(lg: Any) -> np.ndarray:
            if lg is None:
                return np.zeros((0, self.vocab_size), dtype=np.float32)
            return lg.float().cpu().numpy()  # [T, V] float32

        return self._forward_batches(sequences, batch_size, reduce)

    def next_token_argmax(self, sequences: Sequence[Sequence[int]], *, batch_size: int = 16) -> list[np.ndarray]:
        def reduce(lg: Any) -> np.ndarray:
            if lg is None:
                return np.zeros((0,), dtype=np.int64)
            return lg.argmax(dim=-1).cpu().numpy().astype(np.int64)  # [T]

        return self._forward_batches(sequences, batch_size, reduce)

    # ------------------------------------------------------------------ persistence
    def save_pretrained(self, directory: str | os.PathLike) -> None:
        """Write model and tokenizer to ``directory`` so that ``load_backend(directory)`` reopens it
        (and ``load_tokenizer(directory)`` reads its tokenizer alone, with the same ``tokenizer_id``)."""
        from stillwatch.models.tokenizer import write_sidecar

        Path(directory).mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(directory)
        self.tokenizer.save_pretrained(directory)
        write_sidecar(directory, self.tokenizer_id, self.vocab_size)


@contextlib.contextmanager
def quiet_tied_weights(model: Any) -> Iterator[None]:
    """Silence accelerate's "Removed shared tensor {'lm_head.weight'} while saving" (logged by
    ``Accelerator.save_state``) for a model whose output layer is tied to its embeddings (SmolLM2):
    the tied copy is dropped on purpose and re-tied on load (``tie_word_embeddings``), so the warning
    would only alarm the user. Models without tied embeddings keep it, where a dropped tensor would
    be a real loss."""
    if not getattr(getattr(model, "config", None), "tie_word_embeddings", False):
        yield
        return
    log = logging.getLogger("accelerate.utils.other")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


_DEVICE = re.compile(r"^(auto|cpu|cuda(:[0-9]+)?)$")


def resolve_device(device: str) -> str:
    """The torch device a loader puts its model on: ``"auto"`` is ``"cuda"`` when torch sees a GPU and
    ``"cpu"`` otherwise; ``"cpu"``, ``"cuda"`` and ``"cuda:N"`` are taken as given. Raises InputError for
    any other value and BackendError when a GPU is asked for but torch sees none (or not that many)."""
    if not isinstance(device, str) or not _DEVICE.match(device):
        raise InputError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        index = int(device.partition(":")[2] or 0)
        if not torch.cuda.is_available() or index >= torch.cuda.device_count():
            raise BackendError(f"device {device!r} was asked for, but torch sees {torch.cuda.device_count()} GPU(s)")
    return device


def load_hf_directory(
    path: str | os.PathLike, *, dtype: str | None = None, name: str | None = None, num_threads: int | None = None,
    device: str = "auto",
) -> HFBackend:
    """Open a Hugging Face model directory (``config.json`` + weights + tokenizer files, or a
    Stillwatch byte tokenizer) as a backend. Never downloads anything.

    ``dtype``: ``"float32"``, ``"bfloat16"``, ``"float16"`` or None (as saved). ``device``: see
    :func:`resolve_device` (a GPU when there is one)."""
    from stillwatch.models.byte_tokenizer import BYTE_TOKENIZER_FILE, ByteTokenizer

    d = Path(path)
    target = resolve_device(device)
    if not (d / "config.json").is_file():
        raise InputError(f"{str(d)!r} is not a Hugging Face model directory (no config.json)")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch_dtype = None
    if dtype is not None:
        if dtype not in ("float32", "bfloat16", "float16"):
            raise InputError(f"dtype must be one of float32, bfloat16, float16, got {dtype!r}")
        torch_dtype = getattr(torch, dtype)
    try:
        with hub_offline():
            if (d / BYTE_TOKENIZER_FILE).is_file():
                tokenizer = ByteTokenizer.from_pretrained(d)
            else:
                tokenizer = AutoTokenizer.from_pretrained(str(d), local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(str(d), local_files_only=True, dtype=torch_dtype)
    except InputError:
        raise
    except (OSError, ValueError, KeyError) as exc:
        raise BackendError(f"cannot load the model in {str(d)!r}: {exc}") from exc
    if num_threads is None and isinstance(tokenizer, ByteTokenizer):
        num_threads = 1  # a tiny byte-level student: one thread is fastest (see load_tiny)
    return HFBackend(model.to(target), tokenizer, name or str(d), num_threads=num_threads)
