"""Runs of equal labels in a sequence: is its order clustered beyond an exchangeable order?

A sequence of ``n`` labels (an account's requests, each labelled by the API key it came through) holds
``T`` *repeats*: adjacent positions with the same label (``T = n - 1 - switches``). **H0**: the order is
exchangeable given the label counts ``n_1, ..., n_k`` — every arrangement of the multiset is equally
likely, as when each request's label is drawn independently of its time (a client spreading its requests
over its keys). Clustered use (a person working through one key at a time: a project a day, a key a
session) gives *more* repeats than that; the test is the upper tail of ``T``.

Moments under H0 (the multi-category runs test; Wald & Wolfowitz 1940 for two labels, Barton & David
1957 for several): with the falling factorials ``(x)_j = x (x - 1) ... (x - j + 1)`` and the sums
``F_j = sum_i (n_i)_j`` over labels, positions ``a != b`` hold one label with probability
``p2 = F_2 / (n)_2``, three distinct positions with ``p3 = F_3 / (n)_3``, and two disjoint pairs each
hold one label with ``p22 = (F_4 + F_2^2 - sum_i (n_i)_2^2) / (n)_4``. ``T`` sums the ``n - 1`` adjacent
indicators, of which ``n - 2`` ordered pairs share a position and the rest are disjoint:

    E[T]   = (n - 1) p2
    Var[T] = (n - 1) p2 (1 - p2) + 2 [(n - 2) (p3 - p2^2) + ((n - 1)(n - 2) / 2 - (n - 2)) (p22 - p2^2)]

The same holds for any subset of the adjacent pairs (the repeats among the pairs of requests sent the same day of
work, say): every adjacent pair is alike under H0, and two of them either share a position or are disjoint, so
with ``m`` pairs in the subset of which ``s`` ordered pairs share a position, ``n - 1`` becomes ``m`` and ``n - 2``
becomes ``s`` above.

Both are exact (``tests/guard/test_guard_key_order.py`` enumerates every arrangement of small multisets). The
tail is the normal approximation with a continuity correction, ``P(T >= t) ~ 1 - Phi((t - 1/2 - E) / sd)``;
its calibration under H0 is measured in the tests (at a nominal 1e-3, exchangeable sequences of 20 to 200
labels over 2 to 5 labels fall below it at a rate of at most 1.4e-3 over 20,000 each; the tests hold it
below 2e-3 over 40,000).
"""

from __future__ import annotations

import numpy as np
from scipy import special


def repeat_moments(n, f2, f3, f4, f2sq, pairs=None, chained=None) -> tuple[np.ndarray, np.ndarray]:
    """``(E[T], Var[T])`` of the repeats of an exchangeable arrangement (module docstring), per sequence.

    ``n``: the sequence's length; ``f2``, ``f3``, ``f4``: ``sum_i (n_i)_2``, ``(n_i)_3``, ``(n_i)_4`` over its
    labels; ``f2sq``: ``sum_i (n_i)_2^2``. ``pairs``/``chained``: the repeats counted over a subset of the
    adjacent pairs only — ``pairs`` of them, of which ``chained`` ordered pairs share a position (None: all
    ``n - 1`` pairs, ``n - 2`` chained). Requires ``n >= 4`` for the variance (NaN below), ``0 <= pairs <= n - 1``
    and ``0 <= chained <= max(pairs - 1, 0)``; arrays broadcast."""
    n = np.asarray(n, np.float64)
    f2, f3, f4, f2sq = (np.asarray(x, np.float64) for x in (f2, f3, f4, f2sq))
    m = n - 1 if pairs is None else np.asarray(pairs, np.float64)
    s = n - 2 if chained is None else np.asarray(chained, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        n2, n3, n4 = n * (n - 1), n * (n - 1) * (n - 2), n * (n - 1) * (n - 2) * (n - 3)
        p2 = f2 / n2
        p3 = f3 / n3
        p22 = (f4 + f2 * f2 - f2sq) / n4
        mean = m * p2
        var = m * p2 * (1 - p2) + 2 * (s * (p3 - p2 * p2) + (m * (m - 1) / 2 - s) * (p22 - p2 * p2))
    mean = np.where(n >= 2, mean, 0.0)
    var = np.where(n >= 4, var, np.nan)
    return mean, var


def clustered_p(repeats, n, f2, f3, f4, f2sq, pairs=None, chained=None) -> np.ndarray:
    """P-value of H0 (an exchangeable order) against clustering: ``P(T >= repeats)`` by the normal
    approximation with continuity correction (module docstring), ``T`` counted over all adjacent pairs or over
    the subset ``pairs``/``chained`` describe (:func:`repeat_moments`). 1 where the test cannot speak: fewer
    than 4 labels in the sequence, one label only (zero variance: every order is the same), or no pair counted."""
    t = np.asarray(repeats, np.float64)
    mean, var = repeat_moments(n, f2, f3, f4, f2sq, pairs, chained)
    ok = np.isfinite(var) & (var > 1e-12)
    z = np.where(ok, (t - 0.5 - mean) / np.sqrt(np.where(ok, var, 1.0)), -np.inf)
    return np.where(ok, special.ndtr(-z), 1.0)


def label_moments(counts, owner, n_owners: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(F_2, F_3, F_4, sum (n_i)_2^2)`` per owner from one count per (owner, label) — ``counts[j]`` rows
    of owner ``owner[j]`` — vectorised (the reference the feature tables' SQL sums are tested against)."""
    c = np.asarray(counts, np.float64)
    o = np.asarray(owner, np.int64)
    c2 = c * (c - 1)
    return (np.bincount(o, c2, n_owners), np.bincount(o, c2 * (c - 2), n_owners),
            np.bincount(o, c2 * (c - 2) * (c - 3), n_owners), np.bincount(o, c2 * c2, n_owners))
