"""Model backends behind one small interface (see :mod:`stillwatch.models.base`)."""

from stillwatch.models.base import Backend, Generation

__all__ = ["Backend", "Generation", "check_same_tokenizer", "load_backend"]


def load_backend(name: str, **kwargs) -> Backend:
    """Return a backend by name: ``smollm2`` (default teacher), ``tiny``, an ``http(s)://`` URL
    (OpenAI-compatible API), or a local path to a Hugging Face model directory."""
    from stillwatch.models.registry import load_backend as _load

    return _load(name, **kwargs)


def check_same_tokenizer(a: Backend, b: Backend) -> None:
    """Raise TokenizerMismatchError naming both backends unless they tokenize alike."""
    from stillwatch.models.registry import check_same_tokenizer as _check

    _check(a, b)
