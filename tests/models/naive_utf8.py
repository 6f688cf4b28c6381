"""A naive reference for the byte tokenizer's UTF-8 constraint, built on Python's own incremental
UTF-8 decoder (independent of the vectorised implementation under test)."""

from __future__ import annotations

import codecs

import numpy as np

SPECIAL = (256, 257, 258)


def is_valid_prefix(data: bytes) -> bool:
    """True when ``data`` is valid UTF-8 or a valid UTF-8 text cut inside its last character."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data, final=False)
    except UnicodeDecodeError:
        return False
    return True


def is_complete(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def allowed_next(prefix: list[int], vocab: int) -> np.ndarray:
    """bool [vocab]: the ids that may follow ``prefix`` (byte ids, specials ignored as boundaries):
    a byte when prefix + byte stays a valid UTF-8 prefix; a special id only between characters."""
    body = bytes(i for i in prefix if i < 256)
    out = np.zeros(vocab, dtype=bool)
    for b in range(256):
        out[b] = is_valid_prefix(body + bytes([b]))
    out[256:] = is_complete(body)
    return out
