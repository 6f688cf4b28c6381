"""Detection with exact p-values, (context, token) de-duplication, prompt exclusion, and
one-pass attribution over many account keys.

Null hypothesis H0 for a layer with key k: the text was produced without knowledge of k. Under H0 the
PRF values of distinct (context, token) tuples are independent uniforms, so the number of green tuples
among n distinct ones is Binomial(n, gamma) (KGW), the Gumbel score is Gamma(n, 1), and the number of
g-values equal to 1 is Binomial(n * depth, 1/2) (tournament: :mod:`stillwatch.core.tournament`). Repeated tuples
are scored once (Fernandez et al. 2023, "Three Bricks", Sec. IV-B); tuples that also occur in the prompt
can be excluded, since a model copying its prompt repeats the prompt's colours, not the key's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from stillwatch.core import prf, schemes, stats, tournament
from stillwatch.core.windows import first_occurrence, sliding_windows, window_hash
from stillwatch.errors import InputError, TokenizerMismatchError, TooShortError
from stillwatch.mark.keys import KeyRing, LayerKey
from stillwatch.mark.spec import WatermarkSpec

SPLIT_SALT = np.uint64(0x243F6A8885A308D3)  # first 64 bits of pi's fraction: the public split hash
_KEY_CHUNK_ELEMS = 200_000  # [keys x tuples] elements per chunk: bounds memory and stays cache-resident
_GROUP_WINDOWS = 32_768  # detect_many scores texts in groups of about this many tokens (arrays stay in cache)


@dataclass(frozen=True)
class DetectionResult:
    """Outcome of testing one layer key on one text (or set of tuples)."""

    p_value: float
    n_scored: int
    n_tokens: int
    n_green: int | None
    score: float
    key_id: str
    spec_fingerprint: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "p_value": self.p_value,
            "n_scored": self.n_scored,
            "n_tokens": self.n_tokens,
            "n_green": self.n_green,
            "score": self.score,
            "key_id": self.key_id,
            "spec": self.spec_fingerprint,
        }


@dataclass(frozen=True)
class AttributionResult:
    """Outcome of testing N candidate account keys at once.

    ``corrected_p_value`` is the Šidák-corrected p-value of the best key: the probability, under the
    null that none of the N keys was used, that the best of N independent tests is this extreme.
    """

    key_ids: tuple[str, ...]
    p_values: np.ndarray
    n_green: np.ndarray | None
    n_scored: int
    best_key_id: str
    best_p_value: float
    corrected_p_value: float

    @property
    def best_account(self) -> str:
        return self.best_key_id.removeprefix("account:")

    def to_dict(self, top: int = 5) -> dict[str, Any]:
        order = np.argsort(self.p_values, kind="stable")[:top]
        return {
            "best_account": self.best_account,
            "best_p_value": self.best_p_value,
            "corrected_p_value": self.corrected_p_value,
            "n_candidates": len(self.key_ids),
            "n_scored": self.n_scored,
            "top": [{"account": self.key_ids[i].removeprefix("account:"), "p_value": float(self.p_values[i])} for i in order],
        }


def split_mask(contexts: np.ndarray, spec: WatermarkSpec) -> np.ndarray | None:
    """Positions where the layer is active under split sharing (None = all positions).

    Requires contexts [n, h] with h >= spec.split_width.
    """
    if spec.split is None:
        return None
    w = spec.split_width
    if contexts.shape[1] < w:
        raise InputError(f"split sharing needs context width >= split_width ({w}), got {contexts.shape[1]}")
    u = prf.to_unit(prf.mix(prf.fold(contexts[:, contexts.shape[1] - w :]) ^ SPLIT_SALT))
    lo, hi = spec.split
    return (u >= lo) & (u < hi)


def windows_to_hashes(windows: np.ndarray | None, h: int) -> np.ndarray | None:
    """Hashes of (context, token) windows given as int64 [m, h+1] (context first, token last)."""
    if windows is None:
        return None
    w = np.asarray(windows, dtype=np.int64)
    if w.ndim != 2 or w.shape[1] != h + 1:
        raise InputError(f"exclude_windows must have shape [m, {h + 1}] (context width {h} + token), got {w.shape}")
    return window_hash(w[:, :h], w[:, h])


def _select(contexts, tokens, spec, dedup, exclude_hashes):
    """Validate n (context, token) tuples and keep the ones to score: (folds uint64 [m], token hashes
    uint64 [m]) of the kept tuples (split-filtered, de-duplicated, exclusions dropped)."""
    contexts = np.asarray(contexts, dtype=np.int64)
    tokens = np.asarray(tokens, dtype=np.int64)
    h = spec.context_width
    if contexts.ndim != 2 or contexts.shape[1] != h:
        raise InputError(f"contexts must have shape [n, {h}] for context width {h}, got {contexts.shape}")
    if tokens.shape != (contexts.shape[0],):
        raise InputError(f"tokens must have shape [{contexts.shape[0]}], got {tokens.shape}")
    if tokens.size and (tokens.min() < 0 or contexts.min(initial=0) < 0):
        raise InputError("token ids must be non-negative")
    return _keep(prf.fold(contexts), prf.tok(tokens), contexts, spec, dedup, exclude_hashes)


def _keep(folds, th, contexts, spec, dedup, exclude_hashes):
    """The kept tuples' (folds, token hashes), from every tuple's (:func:`_keep_mask`)."""
    keep = _keep_mask(folds, th, contexts, spec, dedup, exclude_hashes)
    return (folds, th) if keep is None else (folds[keep], th[keep])


def _keep_mask(folds, th, contexts, spec, dedup, exclude_hashes) -> np.ndarray | None:
    """bool [n]: the tuples to score, or None for all of them: split-filtered (``contexts`` [n, h] are read
    only under split sharing; None otherwise), de-duplicated, exclusions dropped. The window hash
    mix(fold ^ tok) (what :func:`stillwatch.core.windows.window_hash` computes) is needed only to match
    exclusions: ``mix`` is a bijection, so de-duplicating on fold ^ tok keeps exactly the same tuples. A
    tuple's split membership depends on its context alone, so the first occurrence of an in-split tuple
    among all positions is its first among the in-split ones: the masks combine with ``&``."""
    keep = split_mask(contexts, spec) if spec.split is not None else None
    excl = exclude_hashes is not None and len(exclude_hashes)
    if not (dedup or excl):
        return keep
    ident = folds ^ th
    if dedup:
        first = _repeats_dropped(ident)
        keep = first if keep is None else (keep if first is None else keep & first)
    if excl:
        ok = ~np.isin(prf.mix(ident), exclude_hashes)
        keep = ok if keep is None else keep & ok
    return keep


def _repeats_dropped(ident: np.ndarray) -> np.ndarray | None:
    """bool [n]: True at the first occurrence of each distinct value of ``ident`` (one text's), or None when
    nothing repeats (then there is no mask to apply). One stable argsort of the text's few hundred values:
    cheaper per text than :func:`first_occurrence`, which is built for long concatenations."""
    n = ident.shape[0]
    if n < 2:
        return None
    order = np.argsort(ident, kind="stable")
    srt = ident[order]
    first = np.empty(n, dtype=bool)  # first of each run of equal values = its earliest position (stable sort)
    first[0] = True
    np.not_equal(srt[1:], srt[:-1], out=first[1:])
    if np.count_nonzero(first) == n:  # count_nonzero: no ufunc-reduce machinery (this runs once per text)
        return None
    keep = np.zeros(n, dtype=bool)
    keep[order[first]] = True
    return keep


def _text_tuples(ids: np.ndarray, spec: WatermarkSpec, max_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, tuple]:
    """(folds [n], token hashes [n], contexts [n, h] or None, work) of the n = T - h windows of ids [T] (non-negative,
    largest ``max_id``): the folds come from column slices of the text; the contexts only under split sharing
    (which reads them). The first fold step and the token hashes are looked up in the spec's tables (one
    gather each), the later fold steps run in place (:func:`stillwatch.core.prf.mix_into`). The folds are a
    new contiguous array the caller may overwrite; ``work`` = (scratch of its shape, its
    :func:`~stillwatch.core.prf.halves`), for the caller's in-place PRF."""
    h = spec.context_width
    n = ids.shape[0] - h
    cols = [ids[j : j + n] for j in range(h)]
    ctx = np.stack(cols, axis=1) if spec.split is not None else None
    tabs = spec.hash_tables
    if h == 0 or not tabs.covers(max_id):
        folds = prf.fold_columns(cols, n)
        return folds, prf.tok(ids[h:]), ctx, (np.empty_like(folds), prf.halves(folds))
    folds = tabs.fold1[cols[0]]
    work = (np.empty_like(folds), prf.halves(folds))
    tmp = work[0]
    for col in cols[1:]:  # fold = mix(fold ^ (id + 1)) per later column (h is a few): the first step's table, then in place
        np.add(col.view(np.uint64), prf._ONE, out=tmp)  # ids are non-negative: the uint64 view is the id
        folds ^= tmp
        prf.mix_into(folds, tmp, work[1])
    return folds, tabs.tok[ids[h:]], ctx, work


def score_pairs(
    contexts: np.ndarray,
    tokens: np.ndarray,
    spec: WatermarkSpec,
    key: LayerKey,
    *,
    dedup: bool = True,
    exclude_windows: np.ndarray | None = None,
) -> DetectionResult:
    """Test one key on n (context [h], token) tuples: contexts int64 [n, h], tokens int64 [n].

    ``exclude_windows`` int64 [m, h+1]: tuples to drop (e.g. windows seen in the prompts).
    """
    ex = windows_to_hashes(exclude_windows, spec.context_width)
    folds, th = _select(contexts, tokens, spec, dedup, ex)
    return _score_selected(folds, th, spec, key, int(np.asarray(tokens).shape[0]))


def _score_selected(folds: np.ndarray, th: np.ndarray, spec: WatermarkSpec, key: LayerKey, n_tokens: int) -> DetectionResult:
    """Score tuples already validated, split-filtered and de-duplicated by :func:`_select` / :func:`_keep`
    (given as context folds and token hashes: u = mix(mix(fold ^ k0) ^ tok ^ k1), :mod:`stillwatch.core.prf`)."""
    k0, k1 = key.words
    return _score_words(prf.prf_hashed(k0, k1, folds, th), spec, key, n_tokens)


def _score_words(u: np.ndarray, spec: WatermarkSpec, key: LayerKey, n_tokens: int) -> DetectionResult:
    """Score the PRF words u [n] of n selected tuples (u = mix(mix(fold ^ k0) ^ tok ^ k1))."""
    n = int(u.shape[0])
    if spec.scheme == "kgw":
        g = int(np.count_nonzero(u < prf.green_threshold(spec.gamma)))
        p = float(schemes.kgw_pvalue(g, n, spec.gamma)) if n else 1.0
        return DetectionResult(p, n, n_tokens, g, (g / n) if n else 0.0, key.key_id, spec.fingerprint)
    if spec.scheme == "tournament":
        sc = spec.scorer
        ones = sc.total(u)
        p = sc.pvalue(ones, n) if n else 1.0
        return DetectionResult(p, n, n_tokens, ones, ones / (n * sc.per_tuple) if n else 0.0, key.key_id, spec.fingerprint)
    s = float(schemes.gumbel_scores(prf.to_unit(u)).sum())
    p = float(schemes.gumbel_pvalue(s, n)) if n else 1.0
    return DetectionResult(p, n, n_tokens, None, s, key.key_id, spec.fingerprint)


def check_ids(ids: np.ndarray, spec: WatermarkSpec, vocab_size: int | None = None) -> np.ndarray:
    """Validate a token-id sequence for scoring; returns it as int64 [T]."""
    return _checked(ids, spec, vocab_size)[0]


def _checked(ids: np.ndarray, spec: WatermarkSpec, vocab_size: int | None) -> tuple[np.ndarray, int]:
    """:func:`check_ids` and the largest id. One reduction for a valid text: the largest id read as uint64
    (a negative int64 id reads as >= 2**63) bounds the ids from both sides; only a text that fails it gets
    the min that names the offending id."""
    ids = np.asarray(ids)
    if ids.ndim != 1:
        raise InputError(f"token ids must be a 1-D sequence, got shape {ids.shape}")
    if ids.size == 0:
        raise TooShortError("empty text: there are no tokens to score")
    if ids.dtype.kind not in "iu":  # np.issubdtype(dtype, np.integer), without its Python-level cost per text
        raise InputError(f"token ids must be integers, got dtype {ids.dtype}")
    ids = ids.astype(np.int64, copy=False)
    h = spec.context_width
    if ids.size <= h:
        raise TooShortError(f"text has {ids.size} token(s); a watermark with context width {h} needs at least {h + 1}")
    top = int(np.maximum.reduce(ids.view(np.uint64)))  # the ufunc itself: ndarray.max adds a Python wrapper
    if top >= (vocab_size if vocab_size is not None else 1 << 63):  # a negative id, or one outside the vocabulary
        low = int(ids.min())
        raise TokenizerMismatchError(
            f"token id {top if low >= 0 else low} is outside the vocabulary [0, {vocab_size}): the ids come from a different tokenizer"
        )
    return ids, top


def _exclusion_hashes(exclude_ids: Sequence[np.ndarray], h: int) -> np.ndarray | None:
    parts = []
    for seq in exclude_ids:
        c, t = sliding_windows(np.asarray(seq, dtype=np.int64), h)
        if t.size:
            parts.append(window_hash(c, t))
    return np.concatenate(parts) if parts else None


def detect_ids(
    ids: np.ndarray,
    spec: WatermarkSpec,
    key: LayerKey,
    *,
    exclude_ids: Sequence[np.ndarray] = (),
    vocab_size: int | None = None,
    dedup: bool = True,
) -> DetectionResult:
    """Test one key on a token-id sequence [T]; windows that occur in any of ``exclude_ids`` (e.g. the
    prompt) are not scored. Raises TooShortError / TokenizerMismatchError on unusable input."""
    ids, top = _checked(ids, spec, vocab_size)
    folds, th, ctx, (tmp, hv) = _text_tuples(ids, spec, top)
    ex = _exclusion_hashes(exclude_ids, spec.context_width) if exclude_ids else None
    summed = spec.scheme != "gumbel"  # integer statistics: a sum over the distinct tuples in any order
    keep = _keep_mask(folds, th, ctx, spec, dedup and not summed, ex)  # split, exclusions (and Gumbel's dedup)
    k0, k1 = key.words
    u = prf.prf_hashed_into(k0, k1, folds, th, tmp, hv)  # every tuple's word, in place (folds consumed)
    if keep is not None:
        u = u[keep]
    return _score_words(_distinct_words(u) if dedup and summed else u, spec, key, int(th.shape[0]))


def _distinct_words(u: np.ndarray) -> np.ndarray:
    """The distinct values of one text's PRF words u [n] (sorted, or u itself when nothing repeats): the words of
    its distinct tuples, for statistics that are integer sums over them (KGW, tournament), where the order does
    not matter. A repeated tuple repeats its word; two distinct tuples share a word with probability 2**-64 (the
    same order as two sharing the 64-bit window hash that identifies tuples elsewhere), so this is the
    de-duplication of :func:`_repeats_dropped` with one unstable sort instead of a stable argsort and a mask
    (detect_ids' hot path; the Gumbel score, a float sum in text order, keeps the mask)."""
    n = u.shape[0]
    if n < 2:
        return u
    srt = np.sort(u)
    same = srt[1:] == srt[:-1]  # [n - 1] a value equal to the one before it: a repeat
    if not np.count_nonzero(same):  # count_nonzero: no ufunc-reduce machinery (this runs once per text)
        return u
    first = np.empty(n, dtype=bool)
    first[0] = True
    np.logical_not(same, out=first[1:])
    return srt[first]


@dataclass(frozen=True)
class BatchDetection:
    """Results of testing one key on many texts at once: arrays of length [n_texts]."""

    p_values: np.ndarray
    n_scored: np.ndarray
    n_tokens: np.ndarray
    n_green: np.ndarray | None
    scores: np.ndarray
    key_id: str
    spec_fingerprint: str

    def __len__(self) -> int:
        return int(self.p_values.shape[0])

    def result(self, i: int) -> DetectionResult:
        return DetectionResult(
            float(self.p_values[i]), int(self.n_scored[i]), int(self.n_tokens[i]),
            None if self.n_green is None else int(self.n_green[i]), float(self.scores[i]), self.key_id, self.spec_fingerprint,
        )


def detect_many(
    texts: Sequence[np.ndarray],
    spec: WatermarkSpec,
    key: LayerKey,
    *,
    exclude_ids: Sequence[Sequence[np.ndarray]] | None = None,
    vocab_size: int | None = None,
) -> BatchDetection:
    """:func:`detect_ids` for many texts in one vectorised pass over all their windows.

    Each text is de-duplicated on its own (a window repeated across two texts counts once in each),
    exactly as calling :func:`detect_ids` on each text; ``exclude_ids[i]`` lists the sequences whose
    windows are not scored in text i. Every text must pass :func:`check_ids` (raises otherwise: callers
    that want per-text errors validate first).
    """
    T = len(texts)
    if T == 0:
        e = np.zeros(0)
        return BatchDetection(e, e.astype(np.int64), e.astype(np.int64), None if spec.scheme == "gumbel" else e.astype(np.int64), e, key.key_id, spec.fingerprint)
    if exclude_ids is not None and len(exclude_ids) != T:
        raise InputError(f"exclude_ids must have one entry per text ({T}), got {len(exclude_ids)}")
    # groups of texts of about _GROUP_WINDOWS windows: each group's arrays stay in cache (a loop over groups)
    ends = np.cumsum([len(t) for t in texts])
    cuts = [0] + list(np.searchsorted(ends, np.arange(_GROUP_WINDOWS, int(ends[-1]), _GROUP_WINDOWS), side="right") + 1)
    cuts = sorted(set(min(c, T) for c in cuts) | {T})
    parts = [_detect_group(texts[a:b], spec, key, None if exclude_ids is None else exclude_ids[a:b], vocab_size)
             for a, b in zip(cuts[:-1], cuts[1:])]
    if len(parts) == 1:
        return parts[0]
    cat = lambda f: None if getattr(parts[0], f) is None else np.concatenate([getattr(x, f) for x in parts])  # noqa: E731
    return BatchDetection(cat("p_values"), cat("n_scored"), cat("n_tokens"), cat("n_green"), cat("scores"), key.key_id, spec.fingerprint)


def _detect_group(texts, spec: WatermarkSpec, key: LayerKey, exclude_ids, vocab_size: int | None) -> BatchDetection:
    """:func:`detect_many` on one group of texts (at least one), in one vectorised pass."""
    T = len(texts)
    h = spec.context_width
    ids, lens = _check_many(texts, spec, vocab_size)  # [S], [T]
    n_w = lens - h  # windows per text (>= 1)
    wt = np.repeat(np.arange(T), n_w)  # [n] text of each window
    at = np.arange(wt.shape[0]) + h * (wt + 1)  # [n] window ends: text t's windows start h (t + 1) positions later
    cols = [ids[at - h + j] for j in range(h)]  # h x [n] context ids, oldest first
    tabs = spec.hash_tables
    if tabs.covers(int(ids.max())):  # first fold step and token hashes looked up (one gather each)
        folds, th = prf.fold_columns(cols[1:], at.shape[0], tabs.fold1[cols[0]]), tabs.tok[ids[at]]  # [n], [n]
    else:
        folds, th = prf.fold_columns(cols, at.shape[0]), prf.tok(ids[at])
    ident = folds ^ th  # [n] window identity: window_hash = mix(ident), mix a bijection
    # identity of a window within its text: the text index mixed in (G is odd: t -> t G is a bijection)
    tag = wt.astype(np.uint64) * prf.G
    keep = first_occurrence(ident ^ tag)  # [n]
    if spec.split is not None:
        keep &= split_mask(np.stack(cols, axis=1), spec)
    if exclude_ids is not None:
        ex = [(i, _exclusion_hashes(seqs, h)) for i, seqs in enumerate(exclude_ids)]
        with np.errstate(over="ignore"):  # modular uint64 arithmetic is intended
            ex_tagged = [hs ^ (np.uint64(i) * prf.G) for i, hs in ex if hs is not None]
        if ex_tagged:
            keep &= ~np.isin(prf.mix(ident) ^ tag, np.concatenate(ex_tagged))
    starts = np.cumsum(n_w) - n_w  # [T] first window of each text
    k0, k1 = key.words
    n = np.add.reduceat(keep.astype(np.int64), starts)
    n_tokens = n_w
    u = prf.prf_hashed(k0, k1, folds, th)  # [n]
    if spec.scheme == "kgw":
        g = np.add.reduceat((u < prf.green_threshold(spec.gamma)) & keep, starts, dtype=np.int64)
        p = np.where(n > 0, schemes.kgw_pvalue(g, n, spec.gamma), 1.0)
        return BatchDetection(p, n, n_tokens, g, np.where(n > 0, g / np.maximum(n, 1), 0.0), key.key_id, spec.fingerprint)
    if spec.scheme == "tournament":
        sc = spec.scorer
        o = sc.stat(u)
        o[~keep] = 0
        g = np.add.reduceat(o, starts)
        p = np.where(n > 0, sc.pvalue(g, n), 1.0)
        return BatchDetection(p, n, n_tokens, g, np.where(n > 0, g / np.maximum(n * sc.per_tuple, 1), 0.0), key.key_id, spec.fingerprint)
    sc = np.where(keep, schemes.gumbel_scores(prf.to_unit(u)), 0.0)
    s = np.add.reduceat(sc, starts)
    p = np.where(n > 0, schemes.gumbel_pvalue(s, n), 1.0)
    return BatchDetection(p, n, n_tokens, None, s, key.key_id, spec.fingerprint)


def _check_many(texts: Sequence[np.ndarray], spec: WatermarkSpec, vocab_size: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Validate many token-id sequences at once: (all ids concatenated int64 [S], lengths int64 [T]).
    The per-text checks of :func:`check_ids` on the concatenation; a text that fails is re-checked
    alone, so the error names the same problem :func:`check_ids` would."""
    arrs = [np.asarray(t) for t in texts]
    h = spec.context_width
    if any(a.ndim != 1 or a.dtype.kind not in "iu" or a.shape[0] <= h for a in arrs):
        for a in arrs:
            check_ids(a, spec, vocab_size)
    lens = np.fromiter((a.shape[0] for a in arrs), dtype=np.int64, count=len(arrs))
    ids = np.concatenate(arrs).astype(np.int64, copy=False)
    if ids.min() < 0 or (vocab_size is not None and ids.max() >= vocab_size):
        for a in arrs:
            check_ids(a, spec, vocab_size)
    return ids, lens


def attribute_pairs(
    contexts: np.ndarray,
    tokens: np.ndarray,
    spec: WatermarkSpec,
    keys: KeyRing | Sequence[LayerKey],
    *,
    dedup: bool = True,
    exclude_windows: np.ndarray | None = None,
) -> AttributionResult:
    """Test all N keys on the same tuples in one vectorised pass ([N, n] PRF evaluations, chunked
    over keys to bound memory) and report the best with a Šidák correction for N."""
    ring = keys if isinstance(keys, KeyRing) else KeyRing.from_keys(list(keys))
    ex = windows_to_hashes(exclude_windows, spec.context_width)
    folds, th = _select(contexts, tokens, spec, dedup, ex)
    return _attribute_selected(folds, th, spec, ring)


def _attribute_selected(folds: np.ndarray, th: np.ndarray, spec: WatermarkSpec, ring: KeyRing) -> AttributionResult:
    """Test every key of ``ring`` on tuples already prepared by :func:`_select` / :func:`_keep`."""
    n = int(th.shape[0])
    N = len(ring)
    folds = folds[None, :]  # [1, n]
    tokh = th[None, :]  # [1, n]
    chunk = max(1, _KEY_CHUNK_ELEMS // max(n, 1))
    kgw, tour = spec.scheme == "kgw", spec.scheme == "tournament"
    counts = kgw or tour
    thr = prf.green_threshold(spec.gamma) if kgw else None
    stat = np.empty(N, dtype=np.int64 if counts else np.float64)  # green / one counts, or score sums (Gumbel)
    for s in range(0, N, chunk):  # loop over key chunks, not keys
        u = prf.prf_from_seed(prf.row_seed(ring.k0[s : s + chunk, None], folds), ring.k1[s : s + chunk, None], tokh)  # [chunk, n]
        if kgw:
            stat[s : s + chunk] = np.count_nonzero(u < thr, axis=1)
        elif tour:
            stat[s : s + chunk] = spec.scorer.stat(u).sum(axis=1)
        else:
            stat[s : s + chunk] = schemes.gumbel_scores(prf.to_unit(u)).sum(axis=1)
    if not n:
        pvals = np.ones(N)
    elif kgw:
        pvals = schemes.kgw_pvalue(stat, n, spec.gamma)
    else:
        pvals = spec.scorer.pvalue(stat, n) if tour else schemes.gumbel_pvalue(stat, n)
    pvals = np.asarray(pvals, dtype=np.float64)
    best = int(np.argmin(pvals))
    return AttributionResult(
        key_ids=ring.key_ids,
        p_values=pvals,
        n_green=stat if counts else None,
        n_scored=n,
        best_key_id=ring.key_ids[best],
        best_p_value=float(pvals[best]),
        corrected_p_value=float(stats.sidak(pvals[best], N)),
    )


def attribute_ids(
    ids: np.ndarray,
    spec: WatermarkSpec,
    keys: KeyRing | Sequence[LayerKey],
    *,
    exclude_ids: Sequence[np.ndarray] = (),
    vocab_size: int | None = None,
) -> AttributionResult:
    """:func:`attribute_pairs` on a token-id sequence [T]."""
    ids, top = _checked(ids, spec, vocab_size)
    folds, th, ctx, _ = _text_tuples(ids, spec, top)
    ex = _exclusion_hashes(exclude_ids, spec.context_width)
    ring = keys if isinstance(keys, KeyRing) else KeyRing.from_keys(list(keys))
    f2, t2 = _keep(folds, th, ctx, spec, True, ex)
    return _attribute_selected(f2, t2, spec, ring)
