"""Watermark schemes as (generation bias, detection score) pairs sharing one seeding path.

Both schemes draw u(k, ctx, v) from :mod:`stillwatch.core.prf`:

* **Green list / KGW** (Kirchenbauer et al. 2023, Alg. 2 with a per-(context, token) hash as in the
  "self-hash"/"LeftHash" family): token v is *green* after context ctx iff u < gamma * 2**64. Generation
  adds ``delta`` to green logits; detection counts green tuples and uses the exact binomial tail.
* **Gumbel / Aaronson** (Aaronson 2023; Fernandez et al. 2023 Sec. III-B): r_v = to_unit(u); generation
  picks argmax_v r_v ** (1 / p_v) (the Gumbel-max trick keyed by the PRF); detection sums
  -log(1 - r_token), Gamma(n, 1) under the null.

All functions are pure: they return new arrays and never mutate their inputs.
"""

from __future__ import annotations

import numpy as np

from stillwatch.core import prf, stats


def kgw_green(k0, k1, seeds_fold: np.ndarray, tokens: np.ndarray, gamma: float) -> np.ndarray:
    """Green mask for tokens given context folds; broadcasts folds [..., 1] against tokens [..., K]."""
    u = prf.prf_from_seed(prf.row_seed(k0, seeds_fold), k1, prf.tok(tokens))
    return u < prf.green_threshold(gamma)


def kgw_bias(logits: np.ndarray, green: np.ndarray, delta: float) -> np.ndarray:
    """Logits with ``delta`` added where ``green``; a new array (shape of ``logits``)."""
    return np.asarray(logits) + np.where(green, delta, 0.0).astype(np.asarray(logits).dtype)


def kgw_pvalue(n_green, n_scored, gamma: float):
    """Exact p-value of observing >= n_green green tuples among n_scored (binomial tail)."""
    return stats.binomial_tail(n_green, n_scored, gamma)


def gumbel_uniforms(k0, k1, folds: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """r in (0, 1) for each (context, token); broadcasts like :func:`kgw_green`."""
    return prf.to_unit(prf.prf_from_seed(prf.row_seed(k0, folds), k1, prf.tok(tokens)))


def gumbel_choice(logits: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Index of argmax_v log(r_v) / p_v along the last axis (p = softmax(logits)).

    The normalising constant of p cancels in the argmax, so ``logits`` may cover any candidate subset.
    logits, r: [..., K] -> int64 [...].
    """
    logits = np.asarray(logits, dtype=np.float64)
    z = logits - logits.max(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", over="ignore"):
        key = np.log(r) / np.exp(z)  # log r < 0, so tokens with tiny p get a huge negative key
    return np.argmax(key, axis=-1)


def gumbel_scores(r: np.ndarray) -> np.ndarray:
    """Per-token detection score -log(1 - r): Exp(1) under the null."""
    return -np.log1p(-np.asarray(r, dtype=np.float64))


def gumbel_pvalue(score_sum, n_scored):
    """Exact p-value of the summed Gumbel score over n_scored tuples (Gamma(n, 1) tail)."""
    return stats.gamma_tail(score_sum, n_scored)
