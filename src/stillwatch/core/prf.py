"""The keyed pseudo-random function over token ids (version ``swprf1``).

Every watermark in Stillwatch derives its randomness here, through one code path, so generation
(bias) and detection (score) can never disagree. The outputs are pinned by known-answer vectors in
the tests: **changing anything in this file destroys the evidence value of every text watermarked
before the change.** A new PRF must get a new version name, never replace this one.

Definition (all arithmetic on unsigned 64-bit integers, modulo 2**64)::

    mix(x)      = x ^= x >> 32; x *= M1; x ^= x >> 29; x *= M2; x ^= x >> 32
    fold(ctx)   = F0; for t in ctx (oldest first): fold = mix(fold ^ (t + 1))
    tok(v)      = mix((v + 1) * G)
    u(k, ctx, v) = mix(mix(fold(ctx) ^ k0) ^ tok(v) ^ k1)

``(k0, k1)`` are the first 16 bytes of a layer key, read little-endian. ``fold`` and ``tok`` do not
depend on the key, so attribution over N keys costs two mixes per (key, tuple) and generation costs one
mix per candidate token once the row's seed ``mix(fold ^ k0)`` is known.

This is a fast keyed mixing function, not a cryptographic MAC: it is unpredictable without the key for
the purposes of watermark detection (uniform, independent outputs for distinct inputs), and the keys
themselves are derived with HKDF-SHA256 (:mod:`stillwatch.mark.keys`). numpy's uint64 arithmetic wraps
modulo 2**64 identically on every platform, which is what makes the outputs stable.
"""

from __future__ import annotations

import sys

import numpy as np

PRF_VERSION = "swprf1"

M1 = np.uint64(0xBF58476D1CE4E5B9)
M2 = np.uint64(0x94D049BB133111EB)
G = np.uint64(0x9E3779B97F4A7C15)
F0 = np.uint64(0x6A09E667F3BCC908)  # first 64 bits of the fractional part of sqrt(2)
_S32 = np.uint64(32)
_S29 = np.uint64(29)
_ONE = np.uint64(1)


def mix(x: np.ndarray) -> np.ndarray:
    """Bijective 64-bit finaliser (xor-shift / multiply). Returns a new uint64 array (a numpy scalar for
    0-d input); never mutates ``x``. Array arithmetic wraps modulo 2**64 silently (numpy checks integer
    overflow only on scalars), so only scalars need the errstate."""
    x = np.asarray(x, dtype=np.uint64)
    if x.ndim == 0:
        with np.errstate(over="ignore"):
            return _mix_array(x.reshape(1))[0]
    return _mix_array(x)


def _mix_array(x: np.ndarray) -> np.ndarray:
    """:func:`mix` on a uint64 array of any shape: two temporaries, the rest in place."""
    y = x >> _S32
    y ^= x
    y *= M1
    t = y >> _S29
    y ^= t
    y *= M2
    np.right_shift(y, _S32, out=t)
    y ^= t
    return y


_LITTLE = sys.byteorder == "little"


def halves(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) 32-bit halves of the contiguous uint64 array ``x``, as uint32 views into it (writing ``low``
    writes x). ``x ^= x >> 32`` changes only the low half, to low ^ high: with the views that is one pass
    (``np.bitwise_xor(low, high, out=low)``) instead of a shift and a xor."""
    v = x.view(np.uint32)  # [..., 2 n]: the last axis holds each word's two halves
    return (v[..., 0::2], v[..., 1::2]) if _LITTLE else (v[..., 1::2], v[..., 0::2])


def mix_into(x: np.ndarray, tmp: np.ndarray, hv: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """:func:`mix` of the contiguous uint64 array ``x`` computed in place (``x`` is overwritten and returned);
    ``tmp`` is scratch space of x's shape and dtype, ``hv`` x's :func:`halves` (made here when None). The same
    result as :func:`mix` in six passes and no allocation: the two ``x ^= x >> 32`` steps as one half-word xor
    each. Detection's per-text path runs three mixes on arrays of a few hundred words, where the number of
    numpy calls, not the words, sets the cost."""
    lo, hi = hv if hv is not None else halves(x)
    np.bitwise_xor(lo, hi, out=lo)  # x ^= x >> 32
    x *= M1
    np.right_shift(x, _S29, out=tmp)
    x ^= tmp
    x *= M2
    np.bitwise_xor(lo, hi, out=lo)  # x ^= x >> 32
    return x


def fold(contexts: np.ndarray) -> np.ndarray:
    """Key-independent hash of context windows.

    Requires ``contexts`` int64 of shape [n, h] with h >= 0 and non-negative ids; returns uint64 [n].
    Loops over the h (<= a few) columns, never over rows.
    """
    ctx = np.asarray(contexts)
    if ctx.ndim != 2:
        raise ValueError(f"contexts must be 2-D [n, h], got shape {ctx.shape}")
    return fold_columns([ctx[:, j] for j in range(ctx.shape[1])], ctx.shape[0])


def fold_columns(columns, n: int, start: np.ndarray | None = None) -> np.ndarray:
    """:func:`fold` of the contexts whose j-th ids are ``columns[j]`` (h arrays [n], oldest first): the
    same hashes without building the [n, h] context array (detection slices the columns off the text).
    ``start`` (uint64 [n]): the folds of the contexts' earlier ids, continued by these columns (F0 if None)."""
    out = np.full(n, F0, dtype=np.uint64) if start is None else start
    for col in columns:
        c = np.asarray(col).astype(np.uint64)  # a copy: updated in place
        c += _ONE
        c ^= out
        out = _mix_array(c)
    return out


def tok(tokens: np.ndarray) -> np.ndarray:
    """Key-independent hash of token ids. Requires non-negative ids; returns uint64 of the same shape."""
    t = np.asarray(tokens).astype(np.uint64)
    if t.ndim == 0:
        with np.errstate(over="ignore"):
            return mix((t + _ONE) * G)
    t += _ONE
    t *= G
    return _mix_array(t)


def key_words(key: bytes) -> tuple[np.uint64, np.uint64]:
    """The two 64-bit words (k0, k1) of a layer key. Requires len(key) >= 16."""
    if len(key) < 16:
        raise ValueError(f"layer key must have at least 16 bytes, got {len(key)}")
    return (np.uint64(int.from_bytes(key[0:8], "little")), np.uint64(int.from_bytes(key[8:16], "little")))


def row_seed(k0: np.ndarray | np.uint64, folds: np.ndarray) -> np.ndarray:
    """Per-context seed ``mix(fold ^ k0)``; broadcasts (e.g. k0 [N, 1] against folds [n])."""
    return mix(np.asarray(folds, dtype=np.uint64) ^ np.asarray(k0, dtype=np.uint64))


def prf_from_seed(seed: np.ndarray, k1: np.ndarray | np.uint64, tok_hash: np.ndarray) -> np.ndarray:
    """``mix(seed ^ tok_hash ^ k1)``, broadcasting (e.g. seed [B, 1] against tok_hash [B, K])."""
    return mix(np.asarray(seed, dtype=np.uint64) ^ np.asarray(tok_hash, dtype=np.uint64) ^ np.asarray(k1, dtype=np.uint64))


def prf_hashed(k0: np.uint64, k1: np.uint64, folds: np.ndarray, tok_hash: np.ndarray) -> np.ndarray:
    """u = ``prf_from_seed(row_seed(k0, folds), k1, tok_hash)`` for detection's hot paths: requires
    uint64 ``folds`` [n] and ``tok_hash`` [n] (:func:`fold`, :func:`tok`) and scalar uint64 key words
    (no conversion copies)."""
    return mix(mix(folds ^ k0) ^ tok_hash ^ k1)


def prf_hashed_into(k0: np.uint64, k1: np.uint64, folds: np.ndarray, tok_hash: np.ndarray, tmp: np.ndarray,
                    hv: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """:func:`prf_hashed` computed in place in the contiguous ``folds`` (overwritten and returned; ``tmp``: scratch
    of its shape; ``hv``: its :func:`halves`, made here when None), for detection's per-text path: no allocation."""
    hv = hv if hv is not None else halves(folds)
    folds ^= k0
    mix_into(folds, tmp, hv)
    folds ^= tok_hash
    folds ^= k1
    return mix_into(folds, tmp, hv)


def prf(k0, k1, contexts: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """u(k, ctx, v) for n (context, token) pairs: contexts [n, h], tokens [n] -> uint64 [n]."""
    return prf_from_seed(row_seed(k0, fold(contexts)), k1, tok(tokens))


def to_unit(u: np.ndarray) -> np.ndarray:
    """Map uint64 to float64 in the open interval (0, 1): (top 52 bits + 0.5) / 2**52.

    52 bits, not 53: (2**53 - 0.5) / 2**53 would round to exactly 1.0 in float64.
    """
    return ((np.asarray(u, dtype=np.uint64) >> np.uint64(12)).astype(np.float64) + 0.5) * (2.0**-52)


def green_threshold(gamma: float) -> np.uint64:
    """The uint64 t with P(u < t) = gamma (to within 2**-64). Requires 0 < gamma < 1."""
    if not 0.0 < gamma < 1.0:
        raise ValueError(f"gamma must be in (0, 1), got {gamma}")
    return np.uint64(min(int(gamma * 2.0**64), 2**64 - 1))
