"""Set operations on integer arrays by sorting: distinct values (not by NumPy's hash table), and every pair of
positions of two arrays holding equal values.

Since NumPy 2.3, ``np.unique(x)`` asked for the values alone (no index, inverse or counts) finds the
distinct values of an integer array with a hash table, then sorts them. When most values are distinct
that path is one to two orders of magnitude slower than a sort on this machine: 16M int64 codes (15.7M
distinct) took 34 s against 0.24 s for ``np.sort`` and a comparison of neighbours
(``benchmarks/guard/guard_unique.py``). Guard's detection calls it on one code per (account, minute)
row of the whole log, so at 16M exchanges it cost most of a minute. :func:`unique` sorts instead; so does
:func:`unique_pairs`, the distinct rows of two integer columns (``np.unique(np.stack([a, b], 1), axis=0)``, which
sorts the rows as opaque bytes: 1.1M (key, account) rows of the 16M-row scan took 0.5-1 s that way, ~0.05 s as one
int64 code per row where the two ranges fit in one).
"""

from __future__ import annotations

import numpy as np

__all__ = ["equal_pairs", "unique", "unique_pairs"]


def unique(x) -> np.ndarray:
    """The sorted distinct values of ``x`` (flattened): ``np.unique(x)``, computed by a sort for
    integer and boolean arrays. Other dtypes (floats: NaNs collapse into one, as ``np.unique`` does;
    strings; objects) go to ``np.unique``, which has no hash path for them. Never modifies ``x``."""
    a = np.asarray(x).ravel()
    if a.dtype.kind not in "biu":
        return np.unique(a)
    s = np.sort(a)  # a copy: the input is left as it was
    if len(s) < 2:
        return s
    keep = np.empty(len(s), bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]


def unique_pairs(a, b) -> tuple[np.ndarray, np.ndarray]:
    """The distinct pairs ``(a[i], b[i])`` in lexicographic order, as two int64 arrays: the rows of
    ``np.unique(np.stack([a, b], 1), axis=0)``. Requires ``a`` and ``b`` integer arrays (or lists) of one length.
    Where ``(max a - min a + 1) * (max b - min b + 1)`` fits in an int64, each pair is one code (order-preserving:
    offsets from the minima) and :func:`unique` sorts the codes; otherwise (e.g. 64-bit hashes) a two-key lexsort.
    Never modifies its inputs."""
    a = np.asarray(a, np.int64).ravel()
    b = np.asarray(b, np.int64).ravel()
    if len(a) != len(b):
        raise ValueError(f"unique_pairs needs columns of one length, got {len(a)} and {len(b)}")
    if not len(a):
        return a.copy(), b.copy()
    lo_a, hi_a, lo_b, hi_b = int(a.min()), int(a.max()), int(b.min()), int(b.max())
    span_b = hi_b - lo_b + 1
    if (hi_a - lo_a + 1) * span_b <= np.iinfo(np.int64).max:
        # the spans are Python ints (hi - lo of two int64 values may not fit one); each offset and the code do fit
        code = (a - np.int64(lo_a)) * np.int64(span_b) + (b - np.int64(lo_b))
        u = unique(code)
        return u // np.int64(span_b) + np.int64(lo_a), u % np.int64(span_b) + np.int64(lo_b)
    o = np.lexsort((b, a))
    sa, sb = a[o], b[o]
    keep = np.empty(len(sa), bool)
    keep[0] = True
    np.logical_or(sa[1:] != sa[:-1], sb[1:] != sb[:-1], out=keep[1:])
    return sa[keep], sb[keep]


def equal_pairs(left, right) -> tuple[np.ndarray, np.ndarray]:
    """Every pair ``(i, j)`` with ``left[i] == right[j]`` (an equi-join of two key arrays), as two index arrays:
    ``i`` ascending, and for each ``i`` its ``j`` in the order of a stable sort of ``right``. One sort of ``right``
    and two binary searches per ``left`` value; the output is as long as the number of pairs. Requires 1-d arrays
    of one comparable dtype. Never modifies its inputs."""
    left = np.asarray(left)
    right = np.asarray(right)
    o = np.argsort(right, kind="stable")
    r = right[o]
    start = np.searchsorted(r, left, side="left")
    cnt = np.searchsorted(r, left, side="right") - start
    i = np.repeat(np.arange(len(left)), cnt)
    off = np.arange(len(i)) - np.repeat(np.cumsum(cnt) - cnt, cnt)  # rank of each pair within its i
    return i, o[np.repeat(start, cnt) + off]
