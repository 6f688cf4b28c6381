"""Round-weighted tournament score with its exact null distribution.

Dathathri et al. 2024, "Scalable watermarking for identifying large language model outputs" (Nature 634),
Methods, "Scoring functions": the *weighted mean score* gives tournament layer l a weight w_l and scores
a text by sum_t sum_l w_l g_l(x_t) (normalised by n sum_l w_l in the paper; the normalisation does not
change the test). Their reference implementation (synthid-text, ``detector_mean.weighted_mean_score``)
uses weights decreasing linearly from 10 to 1 over the layers: early rounds act on the model's own
distribution and carry more signal than late ones, which act on an already sharpened distribution, and
the linear statistic sum_l w_l g_l has the largest signal-to-noise ratio when w_l is proportional to the
layer's lift E[g_l] - 1/2 (matched filter: mean shift sum w_l d_l over standard deviation
sqrt(n sum w_l^2) / 2).

**Weights (fixed a priori).** :func:`linear_weights` is the paper's default, linearly decreasing from
``top`` to 1 over the key's ``depth`` layers, rounded to integers (round half to even, numpy's rint):
``rint(linspace(top, 1, depth))``, top = 10 as in the paper. Integer weights make the null an exact
lattice distribution; the rounding costs nothing measurable: under the paper's model of a lift falling
linearly over the layers, the rounded weights keep 99.8 % of the real-valued weights' squared
signal-to-noise ratio at depth 16 (equal weights, the count score, keep 79.8 %).

**Null hypothesis H0** (the text was written without the key; the same H0 as the count score,
:mod:`stillwatch.core.tournament`): the g-values of the n de-duplicated (context, token) tuples and the
depth layers are independent fair coins. Grouping the layers by weight, with c_v layers of weight v,
the score is

    S = sum_v v X_v,    X_v = sum_t sum_{l: w_l = v} g_l(x_t) ~ Binomial(n c_v, 1/2), independent,  (2)

so its distribution is the convolution of the scaled binomials v X_v. :class:`WeightedNull` computes it
exactly (every term non-negative, no FFT: relative precision is kept far into the tail) and returns
P(S >= s), the exact p-value. Weights all 1 give back Binomial(n depth, 1/2), the count score.

All functions are pure except :class:`WeightedNull`'s cache of computed null distributions (per n) and the kept
laws of :func:`coins_sf` (per law).
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import special

from stillwatch.core import tournament

#: the largest weight accepted (keeps the null's support, n * sum(weights), small)
MAX_WEIGHT = 16


def linear_weights(depth: int, top: int = 10) -> tuple[int, ...]:
    """``rint(linspace(top, 1, depth))``: the paper's linearly decreasing weights, as integers (depth 1: (top,))."""
    depth = tournament.check_depth(depth)
    if not isinstance(top, (int, np.integer)) or not 1 <= top <= MAX_WEIGHT:
        raise ValueError(f"top weight must be an integer in 1..{MAX_WEIGHT}, got {top!r}")
    return tuple(int(x) for x in np.rint(np.linspace(top, 1, depth)))


def check_weights(weights, depth: int) -> tuple[int, ...]:
    """Validate integer weights, one per layer (1..MAX_WEIGHT each); returns them as a tuple of ints."""
    w = tuple(weights)
    if len(w) != depth:
        raise ValueError(f"weights must have one entry per layer (depth {depth}), got {len(w)}")
    if not all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) and 1 <= x <= MAX_WEIGHT for x in w):
        raise ValueError(f"weights must be integers in 1..{MAX_WEIGHT}, got {list(w)!r}")
    return tuple(int(x) for x in w)


def _binom_pmf(N: int) -> np.ndarray:
    """pmf of Binomial(N, 1/2) over 0..N: C(N, k) 2^-N, via exp of log-gamma (relative accuracy ~1e-13)."""
    k = np.arange(N + 1, dtype=np.float64)
    return np.exp(special.gammaln(N + 1) - special.gammaln(k + 1) - special.gammaln(N - k + 1) - N * np.log(2.0))


def _conv_scaled(a: np.ndarray, b: np.ndarray, v: int) -> np.ndarray:
    """pmf of A + v B from pmfs a (of A) and b (of B) on 0..: out[k] = sum_j b[j] a[k - v j]. Splits a by
    residue mod v (a loop over the v residues), each a dense direct convolution of non-negative terms."""
    out = np.zeros(a.shape[0] + v * (b.shape[0] - 1))
    for r in range(min(v, a.shape[0])):
        out[r::v] = np.convolve(a[r::v], b)
    return out


def lattice_pmf(groups) -> np.ndarray:
    """pmf of S = sum_v v X_v over 0 .. sum_v v N_v, with X_v ~ Binomial(N_v, 1/2) independent, for ``groups``
    ((v, N_v), ...) (integer weights v >= 1, coin counts N_v >= 0; a weight may appear more than once, its
    counts add). Every term non-negative: relative precision is kept far into the tail."""
    pmf = np.ones(1)
    for v, N in _merged(groups):
        pmf = _conv_scaled(pmf, _binom_pmf(N), v)
    return pmf


def _merged(groups) -> tuple[tuple[int, int], ...]:
    """``groups`` checked (weight >= 1, count >= 0), the counts of equal weights added, sorted by weight, empty
    groups dropped."""
    m: dict[int, int] = {}
    for v, N in groups:
        if int(v) < 1 or int(N) < 0:
            raise ValueError(f"a coin group needs weight >= 1 and count >= 0, got ({v}, {N})")
        m[int(v)] = m.get(int(v), 0) + int(N)
    return tuple((v, m[v]) for v in sorted(m) if m[v])


def _upper_tail(pmf: np.ndarray) -> np.ndarray:
    """P(S >= s) for s = 0 .. len(pmf) - 1, summed smallest terms first; P(S >= 0) = 1 exactly."""
    sf = np.minimum(np.cumsum(pmf[::-1])[::-1], 1.0)
    sf[0] = 1.0
    return sf


@functools.lru_cache(maxsize=64)
def _lattice_sf(merged: tuple[tuple[int, int], ...]) -> np.ndarray:
    """P(S >= s) for s = 0 .. max of the law :func:`lattice_pmf` names (read-only). Kept per law: scoring the same
    tuples with other keys (wrong keys, a control) asks for the same law, and building it costs O(len N)."""
    sf = _upper_tail(lattice_pmf(merged))
    sf.setflags(write=False)
    return sf


def coins_sf(s: int, groups) -> float:
    """Exact P(S >= s) for S = sum_v v X_v, X_v ~ Binomial(N_v, 1/2) independent (:func:`lattice_pmf`): the
    p-value of a weighted count of fair coins that come from several keys at once (e.g. a provider layer and
    the account layers of named accounts, each a sum of its own tuples' weighted g-values)."""
    s = int(s)
    if s <= 0:
        return 1.0
    sf = _lattice_sf(_merged(groups))
    return 0.0 if s >= sf.shape[0] else float(sf[s])


class WeightedNull:
    """Exact null distribution of the weighted score (equation (2)) for fixed integer weights.

    ``sf(s, n)`` = P(S >= s) with S the score of n tuples under H0. The survival function of each n is
    computed once (a convolution of one scaled binomial per distinct weight) and kept: create one per
    spec and reuse it (:attr:`stillwatch.mark.spec.WatermarkSpec.scorer` does)."""

    def __init__(self, weights) -> None:
        w = check_weights(weights, len(tuple(weights)))
        self.weights = w
        vals, counts = np.unique(np.asarray(w), return_counts=True)
        self._groups = tuple(zip(vals.tolist(), counts.tolist()))  # (weight v, layers c_v)
        self.total = int(sum(w))
        self._sf: dict[int, np.ndarray] = {}

    def survival(self, n: int) -> np.ndarray:
        """P(S >= s) for s = 0 .. n * sum(weights) (float64, length n * sum(weights) + 1)."""
        n = int(n)
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        sf = self._sf.get(n)
        if sf is None:
            sf = _upper_tail(lattice_pmf((v, n * c) for v, c in self._groups))
            self._sf[n] = sf
        return sf

    def sf(self, s, n):
        """Exact p-value P(S >= s) under H0 for scores s and tuple counts n (broadcast; float64).
        Loops over the distinct values of n (each computed once per instance), not over texts."""
        s, n = np.broadcast_arrays(np.asarray(s, dtype=np.int64), np.asarray(n, dtype=np.int64))
        out = np.ones(s.shape, dtype=np.float64)
        for m in np.unique(n):
            sel = n == m
            tab = self.survival(int(m))
            si = s[sel]
            out[sel] = np.where(si <= 0, 1.0, np.where(si >= tab.shape[0], 0.0, tab[np.clip(si, 0, tab.shape[0] - 1)]))
        return out if out.ndim else float(out)


class TournamentScorer:
    """The statistic and exact p-value of one tournament layer: ``count`` (weights None: the number of
    g-values equal to 1, Binomial(n depth, 1/2)) or ``weighted`` (sum_l w_l g_l, :class:`WeightedNull`).
    Holds the weights' lookup tables and the null's cache, so create one per spec and reuse it."""

    def __init__(self, depth: int, weights=None) -> None:
        self.depth = tournament.check_depth(depth)
        self.weights = None if weights is None else check_weights(weights, self.depth)
        self.null = None if self.weights is None else WeightedNull(self.weights)
        w = np.ones(self.depth, dtype=np.int64) if self.weights is None else np.asarray(self.weights, dtype=np.int64)
        self.per_tuple = int(w.sum())  # largest score of one tuple
        self._w = w
        self._tables: tuple[tuple[np.uint64, np.ndarray], ...] | None = None
        self._ones = np.ones(1024, dtype=np.int64)  # total()'s summing vector (grown on demand)

    def stat(self, u: np.ndarray) -> np.ndarray:
        """Per word u (uint64, any shape): its score sum_l w_l g_l (int64, same shape): one table lookup per 16
        layers (:meth:`chunk_tables`)."""
        u = np.asarray(u, dtype=np.uint64)
        out = None
        for shift, tab in self.chunk_tables():  # <= 4 chunks
            c = tab[(u >> shift if shift else u).astype(np.uint16)]
            out = c if out is None else np.add(out, c, out=out)
        return out

    def chunk_tables(self) -> tuple[tuple[np.uint64, np.ndarray], ...]:
        """(shift, table) per 16 layers: ``table[v] = sum_j w_{shift + j} * bit j of v`` for v < 2^16 (int64),
        so a word's score is the sum over chunks of ``table[(u >> shift) mod 2^16]`` (one gather per 16 layers
        instead of one pass per layer or bit of the weights). Built on first use (a loop over the layers, once
        per scorer) and kept."""
        if self._tables is None:
            v = np.arange(1 << 16, dtype=np.uint64)
            tabs = []
            for c in range(0, self.depth, 16):  # <= 4 chunks
                t = np.zeros(1 << 16, dtype=np.int64)
                for j in range(c, min(c + 16, self.depth)):  # the chunk's layers, once per scorer
                    t += ((v >> np.uint64(j - c)) & np.uint64(1)).astype(np.int64) * int(self._w[j])
                tabs.append((np.uint64(c), t))
            self._tables = tuple(tabs)
        return self._tables

    def total(self, u: np.ndarray) -> int:
        """``stat(u).sum()`` for one text's words u [n] (uint64) -- the per-text detection path, where numpy
        calls, not words, cost: per 16 layers the low 16 bits (a truncating cast) looked up in
        :meth:`chunk_tables` and summed as a dot product with ones (an integer dot: exact, and without the
        ufunc-reduction machinery a ``sum`` call pays), three calls for depth <= 16."""
        tabs = self._tables if self._tables is not None else self.chunk_tables()
        n = u.shape[0]
        if self._ones.shape[0] < n:
            self._ones = np.ones(max(n, 2 * self._ones.shape[0]), dtype=np.int64)
        ones = self._ones[:n]
        if len(tabs) == 1:  # depth <= 16 (the default): no shift, no loop
            return int(tabs[0][1][u.astype(np.uint16)].dot(ones))
        s = 0
        for shift, tab in tabs:
            s += int(tab[(u >> shift if shift else u).astype(np.uint16)].dot(ones))
        return s

    def coin_groups(self, n: int) -> tuple[tuple[int, int], ...]:
        """The null law of the score of n distinct tuples as (weight v, fair coins with that weight) pairs
        (:func:`lattice_pmf`): (1, n depth) for the count score, (v, n c_v) per distinct weight otherwise."""
        if self.null is None:
            return ((1, int(n) * self.depth),)
        return tuple((v, int(n) * c) for v, c in self.null._groups)

    def pvalue(self, s, n):
        """Exact P(S >= s) under H0 for summed scores s of n distinct tuples (vectorised)."""
        if isinstance(s, (int, np.integer)) and isinstance(n, (int, np.integer)):  # one text: no array machinery
            s, n = int(s), int(n)
            if s <= 0:
                return 1.0
            if s > n * self.per_tuple:
                return 0.0
            if self.null is None:
                return min(1.0, float(special.bdtrc(s - 1, n * self.depth, 0.5)))
            return float(self.null.survival(n)[s])
        if self.null is None:
            return tournament.pvalue(s, n, self.depth)
        return self.null.sf(s, n)
