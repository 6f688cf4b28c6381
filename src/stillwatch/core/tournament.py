"""Tournament sampling (SynthID-Text) with g-values from the ``swprf1`` PRF, in closed form.

Dathathri et al. 2024, "Scalable watermarking for identifying large language model outputs"
(Nature 634), Algorithm 2 (tournament sampling) and Supplementary "vectorized tournament": to sample a
token with an m-layer tournament, draw 2**m candidates independently from the model's distribution
p, then play m rounds; in round l the candidates are paired and in each pair the one with the larger
g-value g_l(context, token) goes on (a tie is broken uniformly at random; two copies of the same
token tie and that token goes on). The last remaining candidate is the sampled token.

**g-values.** For one layer key (provider or account) and one (context, token) tuple the PRF gives one
64-bit word u (:func:`stillwatch.core.prf.prf`); tournament layer j (0 <= j < depth <= 64) uses bit j
of it: g_j = (u >> j) & 1. Under the PRF's idealisation (u uniform on 64 bits, independent across
distinct tuples and keys) the g-values of distinct (tuple, layer) pairs are independent fair coins.
One PRF evaluation therefore serves every layer of a key: detection costs what KGW costs.

**Closed form (exact for fair-coin g-values).** The winners of two disjoint sub-tournaments are
independent draws from the distribution p_{l-1} of a round-(l-1) winner, so a round-l winner is x with
probability ::

    p_l(x) = p_{l-1}(x) * (1 + g_l(x) - G_l),    G_l = sum_y p_{l-1}(y) g_l(y)          (1)

(a pair (x, y) and (y, x) each has probability p(x)p(y); x wins with probability 1, 1/2 or 0 as
g_l(x) >, =, < g_l(y), summing to 2 p(x) [P(g_l(Y) < g_l(x)) + P(g_l(Y) = g_l(x)) / 2] = the
right-hand side). Sampling from p_m is therefore *the same* as running the tournament with fresh
candidates, and (1) is a distribution: it is non-negative (G_l <= 1) and sums to 1 + G_l - G_l = 1.

**Non-distortion (per step).** Over keys, g_l is independent of p_{l-1} (which depends only on
earlier layers), with E[g_l(x)] = 1/2 and E[G_l | p_{l-1}] = 1/2, so E[p_l | p_{l-1}] = p_{l-1}
and by induction E_key[p_m] = p: averaged over keys, the watermarked sampler is the model's sampler.

**Detection (exact).** Null hypothesis H0 for one key: the text was written without knowledge of the
key. Then each de-duplicated (context, token) tuple contributes ``depth`` independent fair coins, so
the number of ones among n distinct tuples is Binomial(n * depth, 1/2): the p-value is that exact
binomial tail (the paper's "mean score", here with its exact null distribution instead of a normal
approximation).

All functions are pure: they return new arrays and never mutate their inputs.
"""

from __future__ import annotations

import numpy as np

from stillwatch.core import prf, stats

MAX_DEPTH = 64
#: Stand-in token id for "any token outside the candidates" (no vocabulary is this large): generation
#: plays the tail's total probability as one candidate with this id's g-values and, if it wins, samples
#: within the tail from the model's own distribution, so truncating to candidates distorts nothing.
REST_TOKEN = 2**40


def check_depth(depth: int) -> int:
    """Validate a tournament depth (layers per key): an integer in 1..64 (bits of one PRF word)."""
    if not isinstance(depth, (int, np.integer)) or isinstance(depth, bool) or not 1 <= int(depth) <= MAX_DEPTH:
        raise ValueError(f"tournament depth must be an integer in 1..{MAX_DEPTH}, got {depth!r}")
    return int(depth)


def words(k0, k1, folds: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """PRF words u for (context, token) tuples; broadcasts folds [..., 1] against tokens [..., K]."""
    return prf.prf_from_seed(prf.row_seed(k0, folds), k1, prf.tok(tokens))


def g_values(u: np.ndarray, depth: int) -> np.ndarray:
    """g-values of the first ``depth`` tournament layers: uint8 [..., depth], g[..., j] = bit j of u."""
    depth = check_depth(depth)
    shifts = np.arange(depth, dtype=np.uint64)
    return ((np.asarray(u, dtype=np.uint64)[..., None] >> shifts) & np.uint64(1)).astype(np.uint8)


def ones(u: np.ndarray, depth: int) -> np.ndarray:
    """Number of g-values equal to 1 among the first ``depth`` layers of each word: int64, shape of u."""
    depth = check_depth(depth)
    mask = np.uint64((1 << depth) - 1) if depth < 64 else np.uint64(2**64 - 1)
    return np.bitwise_count(np.asarray(u, dtype=np.uint64) & mask).astype(np.int64)


def winner_distribution(probs: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Distribution of the tournament winner, equation (1) applied for l = 1..m.

    Args:
        probs: float [B, K] — each row a distribution over K candidates (zeros allowed; rows sum to 1).
        g: {0, 1} [B, K, m] — the candidates' g-values, layer l in g[..., l] (the order of play).
    Returns:
        float64 [B, K], each row summing to 1.
    """
    g = np.asarray(g)
    if g.shape[:-1] != np.shape(probs):
        raise ValueError(f"g must have shape {np.shape(probs) + ('m',)}, got {g.shape}")
    return winner_dense(probs, np.moveaxis(g, -1, 0))


def winner_dense(probs: np.ndarray, g: np.ndarray) -> np.ndarray:
    """:func:`winner_distribution` with layer-major g-values: g {0, 1} [m, B, K] (layer l in g[l], each
    layer contiguous), probs float [B, K]. Returns float64 [B, K]. Loops over the m layers (<= 128),
    never over rows or candidates; per layer a few passes over B x K values."""
    p = np.array(probs, dtype=np.float64)  # a copy: updated in place below
    g = np.asarray(g)
    if g.ndim != 3 or g.shape[1:] != p.shape:
        raise ValueError(f"g must have shape [m, {', '.join(map(str, p.shape))}], got {g.shape}")
    for gl in g:  # [B, K] per layer
        one_minus_G = 1.0 - np.einsum("bk,bk->b", p, gl, dtype=np.float64)[:, None]  # [B, 1]
        p *= gl + one_minus_G
        np.maximum(p, 0.0, out=p)  # >= 0 exactly; rounding of G near 1 could give -1e-17
    return p


def winner_flat(probs: np.ndarray, rows: np.ndarray, n_rows: int, g: np.ndarray) -> np.ndarray:
    """:func:`winner_distribution` on a flat candidate list (rows of different lengths, no padding).

    Args:
        probs: float [M] — candidate probabilities, each row's summing to 1.
        rows: int64 [M] — row of each candidate, in 0..n_rows-1.
        g: {0, 1} [m, M] — layer-major g-values (layer l of every candidate is contiguous).
    Returns:
        float64 [M]. Loops over the m layers; per layer one bincount over the M candidates.
    """
    p = np.asarray(probs, dtype=np.float64)
    rows = np.asarray(rows, dtype=np.int64)
    g = np.asarray(g)
    if g.ndim != 2 or g.shape[1] != p.shape[0] or rows.shape != p.shape:
        raise ValueError(f"g must have shape [m, {p.shape[0]}] and rows [{p.shape[0]}], got {g.shape} and {rows.shape}")
    for layer in range(g.shape[0]):
        gl = g[layer]  # [M]
        G = np.bincount(rows, weights=np.where(gl, p, 0.0), minlength=n_rows)  # [n_rows]
        p = np.maximum(p * (gl + (1.0 - G[rows])), 0.0)
    return p


def g_layers(u: np.ndarray, depth: int) -> np.ndarray:
    """Layer-major g-values of words u [...]: uint8 [depth, ...] (g[j] = bit j), for :func:`winner_flat`
    (u [M]) and :func:`winner_dense` (u [B, K])."""
    depth = check_depth(depth)
    u = np.asarray(u, dtype=np.uint64)
    shifts = np.arange(depth, dtype=np.uint64).reshape((depth,) + (1,) * u.ndim)
    return ((u[None] >> shifts) & np.uint64(1)).astype(np.uint8)


def pvalue(n_ones, n_scored, depth: int):
    """Exact p-value P(X >= n_ones), X ~ Binomial(n_scored * depth, 1/2) (H0 in the module docstring)."""
    return stats.binomial_tail(n_ones, np.asarray(n_scored, dtype=np.int64) * check_depth(depth), 0.5)
