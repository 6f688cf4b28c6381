"""Model backends behind one small interface (see :mod:`stillwatch.models.base`)."""

from stillwatch.models.base import Backend, Generation
from stillwatch.models.byte_tokenizer import ByteTokenizer
from stillwatch.models.hf import HFBackend
from stillwatch.models.tiny import TinyConfig, new_tiny_model, tiny_config

# None of these imports torch: it is imported inside the functions that need it.
__all__ = [
    "Backend", "ByteTokenizer", "Generation", "HFBackend", "TinyConfig",
    "check_same_tokenizer", "load_backend", "load_tokenizer", "new_tiny_model", "tiny_config",
]


def load_backend(name: str, **kwargs) -> Backend:
    """Return a backend by name: ``smollm2`` (default teacher), ``tiny``, an ``http(s)://`` URL
    (OpenAI-compatible API), or a local path to a Hugging Face model directory."""
    from stillwatch.models.registry import load_backend as _load

    return _load(name, **kwargs)


def load_tokenizer(name: str):
    """Only the tokenizer of the model ``name`` names (no weights, no torch where it can be helped):
    enough to turn texts into token ids, e.g. for watermark detection. See :mod:`stillwatch.models.tokenizer`."""
    from stillwatch.models.tokenizer import load_tokenizer as _load

    return _load(name)


def check_same_tokenizer(a: Backend, b: Backend) -> None:
    """Raise TokenizerMismatchError naming both backends unless they tokenize alike."""
    from stillwatch.models.registry import check_same_tokenizer as _check

    _check(a, b)
