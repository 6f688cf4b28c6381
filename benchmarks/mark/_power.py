"""Power helpers shared by the mark benchmarks (mark_power.py, mark_layers.py, frontier.py): p-values of every
prefix of a text, tokens needed to reach a target p-value, medians with censoring."""

from __future__ import annotations

import numpy as np

from stillwatch.core import prf, schemes, stats, tournament
from stillwatch.core.windows import sliding_windows, unique_windows
from stillwatch.mark import WatermarkSpec
from stillwatch.mark.detect import split_mask

#: the p-value a watermark must reach to count as detected in the power figures
TARGET_P = 1e-6


def prefix_pvalues(ids: np.ndarray, spec: WatermarkSpec, key) -> np.ndarray:
    """p-value of every prefix: out[T] = detect_ids(ids[:T]).p_value for T in 0..len(ids) (1.0 where T <= h).

    One PRF pass over the windows plus cumulative counts: a window first seen at position i is first
    seen in every prefix that contains it, so de-duplicated counts of a prefix are prefix sums."""
    h = spec.context_width
    ctx, tok = sliding_windows(ids, h)
    n = tok.shape[0]
    out = np.ones(len(ids) + 1)
    if n == 0:
        return out
    idx = np.arange(n)
    act = split_mask(ctx, spec)
    if act is not None:
        idx = idx[act]
    first = idx[unique_windows(ctx[idx], tok[idx])]
    scored = np.zeros(n, dtype=np.int64)
    scored[first] = 1
    k0, k1 = key.words
    folds = prf.fold(ctx)
    if spec.scheme == "kgw":
        hit = schemes.kgw_green(k0, k1, folds, tok, spec.gamma).astype(np.int64) * scored
        n_s, n_g = np.cumsum(scored), np.cumsum(hit)
        p = np.where(n_s > 0, stats.binomial_tail(n_g, n_s, spec.gamma), 1.0)
    elif spec.scheme == "tournament":
        hit = spec.scorer.stat(tournament.words(k0, k1, folds, tok)) * scored
        n_s, n_g = np.cumsum(scored), np.cumsum(hit)
        p = np.where(n_s > 0, spec.scorer.pvalue(n_g, n_s), 1.0)
    else:
        sc = schemes.gumbel_scores(schemes.gumbel_uniforms(k0, k1, folds, tok)) * scored
        n_s, s = np.cumsum(scored), np.cumsum(sc)
        p = np.where(n_s > 0, stats.gamma_tail(s, n_s), 1.0)
    out[h + 1 :] = p  # prefix of T tokens holds windows 0..T-h-1
    return out


def tournament_exact_size(spec: WatermarkSpec, n_scored: np.ndarray, alpha: float) -> float:
    """Exact size of a tournament layer's test at ``alpha``: the mean over texts of the largest attainable
    P(S >= s) <= alpha for the text's number of scored tuples (count or weighted null; cached per n)."""
    sizes = {}
    for n in np.unique(n_scored):
        top = int(n) * spec.scorer.per_tuple + 1
        sf = spec.scorer.pvalue(np.arange(top + 1), np.full(top + 1, int(n)))
        ok = sf[sf <= alpha]
        sizes[int(n)] = float(ok.max()) if ok.size else 0.0
    return float(np.mean([sizes[int(n)] for n in n_scored]))


def tokens_to_target(pp: np.ndarray, target: float = TARGET_P) -> float:
    """Smallest T with pp[T] <= target, or inf."""
    hit = np.nonzero(pp <= target)[0]
    return float(hit[0]) if hit.size else float("inf")


def median_with_censoring(x: np.ndarray) -> str:
    """Median of values where inf means 'not reached'; '>max' if more than half are censored."""
    if np.isfinite(np.median(x)):
        return f"{np.median(x):.0f}"
    return "not reached (>50% of answers)"


def substitute(ids: np.ndarray, rate: float, vocab: int, rng: np.random.Generator) -> np.ndarray:
    """A copy of ``ids`` with round(rate * len) positions (uniform, without replacement) replaced by
    uniform random ids."""
    out = ids.copy()
    m = int(round(rate * len(ids)))
    if m:
        pos = rng.choice(len(ids), size=m, replace=False)
        out[pos] = rng.integers(0, vocab, size=m)
    return out
