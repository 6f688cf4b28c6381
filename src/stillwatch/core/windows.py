"""Sliding (context, token) windows over token-id sequences, their hashes, and de-duplication.

A watermark score is only valid under its null hypothesis if every scored (context, token) tuple is
distinct: a repeated tuple has the same PRF value and is not independent evidence (Fernandez et al.
2023, "Three Bricks", Sec. IV-B). These helpers turn a sequence into its windows and keep each once.
"""

from __future__ import annotations

import numpy as np

from stillwatch.core import prf


def sliding_windows(ids: np.ndarray, h: int) -> tuple[np.ndarray, np.ndarray]:
    """Split ``ids`` [T] into contexts [T-h, h] and tokens [T-h]: token t is scored with ids[t-h:t].

    Requires h >= 0. Returns empty arrays when T <= h. Views, not copies, where numpy allows.
    """
    ids = np.asarray(ids, dtype=np.int64)
    if ids.ndim != 1:
        raise ValueError(f"ids must be 1-D, got shape {ids.shape}")
    if h < 0:
        raise ValueError(f"context width h must be >= 0, got {h}")
    n = ids.shape[0] - h
    if n <= 0:
        return np.empty((0, h), dtype=np.int64), np.empty(0, dtype=np.int64)
    if h == 0:
        return np.empty((n, 0), dtype=np.int64), ids
    win = np.lib.stride_tricks.sliding_window_view(ids, h + 1)  # [n, h+1]
    return win[:, :h], win[:, h]


def window_hash(contexts: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """Key-independent 64-bit identity of each (context, token) tuple: uint64 [n]."""
    return prf.mix(prf.fold(contexts) ^ prf.tok(tokens))


def first_occurrence(keys: np.ndarray) -> np.ndarray:
    """bool [n]: True at the first occurrence of each distinct value of ``keys`` (uint64 [n]).

    Same result as ``np.unique(keys, return_index=True)``, faster: one unstable value sort finds the
    values that repeat (few, in text), and only their positions get the stable (index) sort."""
    keys = np.asarray(keys, dtype=np.uint64)
    out = np.ones(keys.shape[0], dtype=bool)
    if keys.shape[0] < 2:
        return out
    s = np.sort(keys)
    rep = s[1:][s[1:] == s[:-1]]  # values seen more than once (with repeats)
    if rep.size:
        at = np.nonzero(np.isin(keys, rep))[0]  # positions of every copy, in order
        _, first = np.unique(keys[at], return_index=True)
        out[at] = False
        out[at[first]] = True
    return out


def unique_windows(contexts: np.ndarray, tokens: np.ndarray, exclude: np.ndarray | None = None) -> np.ndarray:
    """Indices of the first occurrence of each distinct (context, token) tuple, in order of position,
    dropping tuples whose hash is in ``exclude`` (uint64 hashes, e.g. of the prompt's windows)."""
    hashes = window_hash(contexts, tokens)
    first = np.nonzero(first_occurrence(hashes))[0]
    if exclude is not None and len(exclude):
        first = first[~np.isin(hashes[first], exclude)]
    return first
