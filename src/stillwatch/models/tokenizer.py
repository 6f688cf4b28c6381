"""A model's tokenizer without the model: all that detecting a watermark in text needs.

``mark detect`` turns texts into token ids and nothing else, so it loads only the tokenizer — the
built-in byte tokenizer for ``tiny``, and for SmolLM2 (or a model directory Stillwatch saved) the
``tokenizer.json`` read with the small ``tokenizers`` library, never torch or the weights. Each
such directory carries ``stillwatch-tokenizer.json`` with the tokenizer's fingerprint and the
model's output size, exactly as the full backend computes them (:func:`stillwatch.models.hf.tokenizer_fingerprint`),
so a text marked by the full model is detected under the same ``tokenizer_id``. The SmolLM2 cache
gets that file once (written with transformers the first time; the cache itself is built from the
GGUF by :mod:`stillwatch.models.smollm2`). Any other model falls back to its full backend.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stillwatch.errors import BackendError, InputError

#: the file beside a tokenizer that records its fingerprint and the model's output size
SIDECAR = "stillwatch-tokenizer.json"
_FORMAT = "stillwatch-tokenizer/1"


class TextTokenizer:
    """Text <-> token ids of one model, without the model.

    Attributes (as on :class:`stillwatch.models.base.Backend`): ``name``, ``tokenizer_id``,
    ``vocab_size`` (rows of the model's output layer), ``local`` (True: ids are exact).
    """

    local = True

    def __init__(self, name: str, tokenizer: Any, tokenizer_id: str, vocab_size: int) -> None:
        if not isinstance(vocab_size, int) or vocab_size < 2:
            raise InputError(f"vocab_size must be an integer >= 2, got {vocab_size!r}")
        self.name = name
        self.tokenizer_id = tokenizer_id
        self.vocab_size = vocab_size
        self._tok = tokenizer

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` with no special tokens added (as ``Backend.encode``)."""
        if not isinstance(text, str):
            raise InputError(f"text must be a str, got {type(text).__name__}")
        out = self._tok.encode(text, add_special_tokens=False)
        return [int(i) for i in (out.ids if hasattr(out, "ids") else out)]

    def decode(self, ids: Sequence[int]) -> str:
        return self._tok.decode([int(i) for i in ids], skip_special_tokens=True)


def write_sidecar(directory: str | os.PathLike, tokenizer_id: str, vocab_size: int) -> None:
    """Record ``tokenizer_id`` and ``vocab_size`` beside the tokenizer in ``directory`` (atomically)."""
    d = Path(directory)
    fd, tmp = tempfile.mkstemp(prefix=f".{SIDECAR}.", dir=d)
    with os.fdopen(fd, "w") as fh:
        json.dump({"format": _FORMAT, "tokenizer_id": tokenizer_id, "vocab_size": int(vocab_size)}, fh)
    os.chmod(tmp, 0o644)
    os.replace(tmp, d / SIDECAR)


def _read_sidecar(d: Path) -> tuple[str, int] | None:
    try:
        meta = json.loads((d / SIDECAR).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
        return None
    tid, vs = meta.get("tokenizer_id"), meta.get("vocab_size")
    return (tid, vs) if isinstance(tid, str) and isinstance(vs, int) else None


def _from_directory(d: Path, name: str) -> TextTokenizer | None:
    """The tokenizer of a model directory that has a sidecar, or None."""
    from stillwatch.models.byte_tokenizer import BYTE_TOKENIZER_FILE, ByteTokenizer

    meta = _read_sidecar(d)
    if meta is None:
        return None
    if (d / BYTE_TOKENIZER_FILE).is_file():
        return TextTokenizer(name, ByteTokenizer.from_pretrained(d), *meta)
    if not (d / "tokenizer.json").is_file():
        return None
    try:
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise BackendError("reading this model's tokenizer needs the `tokenizers` package (pip install 'stillwatch[models]')") from exc
    try:
        return TextTokenizer(name, Tokenizer.from_file(str(d / "tokenizer.json")), *meta)
    except Exception as exc:  # noqa: BLE001 - the Rust library raises its own exception type
        raise BackendError(f"cannot read the tokenizer in {str(d)!r}: {exc}") from exc


def _smollm2_tokenizer() -> TextTokenizer:
    from stillwatch.models.smollm2 import CACHE_SUBDIR, cache_root, convert_gguf, find_gguf, _cache_is_valid

    gguf = find_gguf()
    cache = cache_root() / CACHE_SUBDIR
    if not _cache_is_valid(cache, gguf):
        convert_gguf(gguf, cache)  # once: the GGUF into an HF-format cache (needs the models extra)
    tok = _from_directory(cache, "smollm2")
    if tok is not None:
        return tok
    try:  # a cache built before the sidecar existed: fingerprint it once, as the full backend does
        from transformers import AutoTokenizer

        from stillwatch.models.hf import hub_offline, tokenizer_fingerprint
    except ImportError as exc:
        raise BackendError("reading SmolLM2's tokenizer the first time needs the models extra (pip install 'stillwatch[models]')") from exc
    with hub_offline():
        hf_tok = AutoTokenizer.from_pretrained(str(cache), local_files_only=True)
    vocab = json.loads((cache / "config.json").read_text())["vocab_size"]
    write_sidecar(cache, tokenizer_fingerprint(hf_tok), int(vocab))
    tok = _from_directory(cache, "smollm2")
    if tok is None:  # pragma: no cover - the sidecar was just written
        raise BackendError(f"cannot read SmolLM2's tokenizer from {cache}")
    return tok


def load_tokenizer(name: str) -> Any:
    """The tokenizer of the model ``name`` names (the forms of ``load_backend``): ``tiny`` and
    ``smollm2`` without torch or weights, a model directory Stillwatch saved likewise; any other
    model (a URL, a foreign directory) through its full backend."""
    from stillwatch.models.registry import load_backend

    if not isinstance(name, (str, os.PathLike)) or not str(name).strip():
        return load_backend(name)  # raises InputError naming the allowed forms
    text = str(name).strip()
    low = text.lower()
    if low == "tiny":
        from stillwatch.models.byte_tokenizer import ByteTokenizer
        from stillwatch.models.tiny import TinyConfig

        tok = ByteTokenizer()
        return TextTokenizer("tiny", tok, tok.fingerprint(), TinyConfig().vocab_size)
    if low == "smollm2":
        return _smollm2_tokenizer()
    path = Path(text).expanduser()
    if path.is_dir():
        tok = _from_directory(path, text)
        if tok is not None:
            return tok
    return load_backend(text)
