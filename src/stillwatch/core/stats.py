"""Exact tail probabilities for watermark detection, and multiple-testing corrections.

All functions are vectorised and return float64 arrays (or scalars for scalar input).
"""

from __future__ import annotations

import numpy as np
from scipy import special  # not scipy.stats: importing it costs seconds, and detection needs none of it


def binomial_tail(k, n, p):
    """P(X >= k) for X ~ Binomial(n, p): the exact one-sided p-value of a green-list count.

    Null hypothesis (Kirchenbauer et al. 2023, "A Watermark for Large Language Models", Sec. 3): each of
    the n de-duplicated (context, token) tuples is green independently with probability gamma = p.
    Requires 0 <= k (k > n gives 0), n >= 0, 0 < p < 1. Uses scipy's regularised incomplete beta
    (``binom.sf(k - 1, n, p)``), accurate far into the tail (no normal approximation).
    """
    k = np.asarray(k).astype(np.int64)
    n = np.asarray(n).astype(np.int64)
    # bdtrc(k - 1, n, p) = P(X > k - 1) = binom.sf(k - 1, n, p), without scipy.stats' per-call overhead
    out = special.bdtrc(np.maximum(k - 1, 0), n, p)
    out = np.where(k <= 0, 1.0, np.where(k > n, 0.0, out))
    return np.clip(out, 0.0, 1.0)


def gamma_tail(score, n):
    """P(S >= score) for S ~ Gamma(n, 1): the exact p-value of the Gumbel/Aaronson score.

    Null hypothesis (Aaronson 2023; Fernandez et al. 2023, "Three Bricks to Consolidate Watermarks for
    LLMs", Sec. III-B): each of the n de-duplicated tuples contributes -log(1 - r) with r ~ U(0, 1)
    independent, i.e. an Exp(1) variable, so the sum is Gamma(n, 1). Uses the regularised upper
    incomplete gamma function Q(n, score). n = 0 gives 1.
    """
    score = np.asarray(score, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    safe_n = np.where(n > 0, n, 1.0)
    out = special.gammaincc(safe_n, np.maximum(score, 0.0))
    return np.clip(np.where(n > 0, out, 1.0), 0.0, 1.0)


def poisson_lower_log(c, mu):
    """ln P(X <= c) for X ~ Poisson(mu): the log lower tail, for counts far below their mean.

    Exact at ``c = 0`` (``-mu``, whatever its size); otherwise the regularised upper incomplete gamma
    ``Q(c + 1, mu)`` (scipy's ``pdtr``), whose float64 value underflows to 0 (log ``-inf``) only beyond
    ~1e-308. Requires integer ``c >= 0`` and ``mu > 0``."""
    c = np.asarray(c, dtype=np.float64)
    mu = np.asarray(mu, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.where(c <= 0, -mu, np.log(special.pdtr(np.maximum(c, 0.0), mu)))


def sidak(p, m):
    """Family-wise p-value of the smallest of m independent tests: 1 - (1 - p)**m (Šidák).

    Computed as -expm1(m * log1p(-p)) so tiny p keep their precision (then ~ m * p). Requires m >= 1.
    """
    p = np.asarray(p, dtype=np.float64)
    if np.any(np.asarray(m) < 1):
        raise ValueError(f"number of tests m must be >= 1, got {m}")
    with np.errstate(divide="ignore"):
        return np.clip(-np.expm1(np.asarray(m, dtype=np.float64) * np.log1p(-np.minimum(p, 1.0))), 0.0, 1.0)


def binomial_interval(k: int, n: int, confidence: float = 0.99) -> tuple[float, float]:
    """Clopper–Pearson interval for a binomial proportion (used for calibration checks): the
    ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles of Beta(k, n - k + 1) and
    Beta(k + 1, n - k), via the inverse regularised incomplete beta (``beta.ppf(q, a, b)``)."""
    if n <= 0:
        raise ValueError(f"n must be >= 1, got {n}")
    a = 1.0 - confidence
    lo = 0.0 if k == 0 else float(special.betaincinv(k, n - k + 1, a / 2))
    hi = 1.0 if k == n else float(special.betaincinv(k + 1, n - k, 1 - a / 2))
    return lo, hi
