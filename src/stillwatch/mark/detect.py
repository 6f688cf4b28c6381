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
from stillwatch.core.windows import first_occurrence, sliding_windows, unique_windows, window_hash
from stillwatch.errors import InputError, TokenizerMismatchError, TooShortError
from stillwatch.mark.keys import KeyRing, LayerKey
from stillwatch.mark.spec import WatermarkSpec

SPLIT_SALT = np.uint64(0x243F6A8885A308D3)  # first 64 bits of pi's fraction: the public split hash
_KEY_CHUNK_ELEMS = 200_000  # [keys x tuples] elements per chunk: bounds memory and stays cache-resident


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
    contexts = np.asarray(contexts, dtype=np.int64)
    tokens = np.asarray(tokens, dtype=np.int64)
    h = spec.context_width
    if contexts.ndim != 2 or contexts.shape[1] != h:
        raise InputError(f"contexts must have shape [n, {h}] for context width {h}, got {contexts.shape}")
    if tokens.shape != (contexts.shape[0],):
        raise InputError(f"tokens must have shape [{contexts.shape[0]}], got {tokens.shape}")
    if tokens.size and (tokens.min() < 0 or contexts.min(initial=0) < 0):
        raise InputError("token ids must be non-negative")
    keep = np.arange(tokens.shape[0])
    mask = split_mask(contexts, spec)
    if mask is not None:
        keep = keep[mask]
    if dedup:
        sub = unique_windows(contexts[keep], tokens[keep], exclude_hashes)
        keep = keep[sub]
    elif exclude_hashes is not None and len(exclude_hashes):
        keep = keep[~np.isin(window_hash(contexts[keep], tokens[keep]), exclude_hashes)]
    return contexts[keep], tokens[keep]


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
    ctx, tok = _select(contexts, tokens, spec, dedup, ex)
    return _score_selected(ctx, tok, spec, key, int(np.asarray(tokens).shape[0]))


def _score_selected(ctx: np.ndarray, tok: np.ndarray, spec: WatermarkSpec, key: LayerKey, n_tokens: int) -> DetectionResult:
    """Score tuples already validated, split-filtered and de-duplicated by :func:`_select`."""
    n = int(tok.shape[0])
    k0, k1 = key.words
    folds = prf.fold(ctx)
    if spec.scheme == "kgw":
        g = int(np.count_nonzero(schemes.kgw_green(k0, k1, folds, tok, spec.gamma)))
        p = float(schemes.kgw_pvalue(g, n, spec.gamma)) if n else 1.0
        return DetectionResult(p, n, n_tokens, g, (g / n) if n else 0.0, key.key_id, spec.fingerprint)
    if spec.scheme == "tournament":
        ones = int(tournament.ones(tournament.words(k0, k1, folds, tok), spec.depth).sum())
        p = float(tournament.pvalue(ones, n, spec.depth)) if n else 1.0
        return DetectionResult(p, n, n_tokens, ones, ones / (n * spec.depth) if n else 0.0, key.key_id, spec.fingerprint)
    s = float(schemes.gumbel_scores(schemes.gumbel_uniforms(k0, k1, folds, tok)).sum())
    p = float(schemes.gumbel_pvalue(s, n)) if n else 1.0
    return DetectionResult(p, n, n_tokens, None, s, key.key_id, spec.fingerprint)


def check_ids(ids: np.ndarray, spec: WatermarkSpec, vocab_size: int | None = None) -> np.ndarray:
    """Validate a token-id sequence for scoring; returns it as int64 [T]."""
    ids = np.asarray(ids)
    if ids.ndim != 1:
        raise InputError(f"token ids must be a 1-D sequence, got shape {ids.shape}")
    if ids.size == 0:
        raise TooShortError("empty text: there are no tokens to score")
    if not np.issubdtype(ids.dtype, np.integer):
        raise InputError(f"token ids must be integers, got dtype {ids.dtype}")
    ids = ids.astype(np.int64, copy=False)
    h = spec.context_width
    if ids.size <= h:
        raise TooShortError(f"text has {ids.size} token(s); a watermark with context width {h} needs at least {h + 1}")
    if ids.min() < 0 or (vocab_size is not None and ids.max() >= vocab_size):
        raise TokenizerMismatchError(
            f"token id {int(ids.max()) if ids.min() >= 0 else int(ids.min())} is outside the vocabulary [0, {vocab_size}): "
            "the ids come from a different tokenizer"
        )
    return ids


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
    ids = check_ids(ids, spec, vocab_size)
    ctx, tok = sliding_windows(ids, spec.context_width)
    ex = _exclusion_hashes(exclude_ids, spec.context_width)
    c2, t2 = _select(ctx, tok, spec, dedup, ex)
    return _score_selected(c2, t2, spec, key, int(tok.shape[0]))


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
    texts = [check_ids(t, spec, vocab_size) for t in texts]
    T = len(texts)
    h = spec.context_width
    if T == 0:
        e = np.zeros(0)
        return BatchDetection(e, e.astype(np.int64), e.astype(np.int64), None if spec.scheme == "gumbel" else e.astype(np.int64), e, key.key_id, spec.fingerprint)
    lens = np.fromiter((len(t) for t in texts), dtype=np.int64, count=T)
    ids = np.concatenate(texts)  # [S]
    tid = np.repeat(np.arange(T), lens)  # [S] text of each position
    pos = np.arange(ids.shape[0]) - np.repeat(np.cumsum(lens) - lens, lens)  # [S] position in its text
    at = np.nonzero(pos >= h)[0]  # [n] window ends
    ctx = np.stack([ids[at - h + j] for j in range(h)], axis=1)  # [n, h]
    tok, wt = ids[at], tid[at]  # [n], [n]
    n_tokens = lens - h
    hashes = window_hash(ctx, tok)  # [n]
    # identity of a window within its text: mix in the text index
    tagged = prf.mix(hashes ^ (wt.astype(np.uint64) * prf.G))
    keep = first_occurrence(tagged)  # [n]
    mask = split_mask(ctx, spec)
    if mask is not None:
        keep &= mask
    if exclude_ids is not None:
        if len(exclude_ids) != T:
            raise InputError(f"exclude_ids must have one entry per text ({T}), got {len(exclude_ids)}")
        ex = [(i, _exclusion_hashes(seqs, h)) for i, seqs in enumerate(exclude_ids)]
        with np.errstate(over="ignore"):  # modular uint64 arithmetic is intended
            ex_tagged = [prf.mix(hs ^ (np.uint64(i) * prf.G)) for i, hs in ex if hs is not None]
        if ex_tagged:
            keep &= ~np.isin(tagged, np.concatenate(ex_tagged))
    k0, k1 = key.words
    n = np.bincount(wt, weights=keep, minlength=T).astype(np.int64)
    if spec.scheme == "kgw":
        green = schemes.kgw_green(k0, k1, prf.fold(ctx), tok, spec.gamma) & keep
        g = np.bincount(wt, weights=green, minlength=T).astype(np.int64)
        p = np.where(n > 0, schemes.kgw_pvalue(g, n, spec.gamma), 1.0)
        return BatchDetection(p, n, n_tokens, g, np.where(n > 0, g / np.maximum(n, 1), 0.0), key.key_id, spec.fingerprint)
    if spec.scheme == "tournament":
        o = np.where(keep, tournament.ones(tournament.words(k0, k1, prf.fold(ctx), tok), spec.depth), 0)
        g = np.bincount(wt, weights=o, minlength=T).astype(np.int64)
        p = np.where(n > 0, tournament.pvalue(g, n, spec.depth), 1.0)
        return BatchDetection(p, n, n_tokens, g, np.where(n > 0, g / np.maximum(n * spec.depth, 1), 0.0), key.key_id, spec.fingerprint)
    sc = np.where(keep, schemes.gumbel_scores(schemes.gumbel_uniforms(k0, k1, prf.fold(ctx), tok)), 0.0)
    s = np.bincount(wt, weights=sc, minlength=T)
    p = np.where(n > 0, schemes.gumbel_pvalue(s, n), 1.0)
    return BatchDetection(p, n, n_tokens, None, s, key.key_id, spec.fingerprint)


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
    ctx, tok = _select(contexts, tokens, spec, dedup, ex)
    return _attribute_selected(ctx, tok, spec, ring)


def _attribute_selected(ctx: np.ndarray, tok: np.ndarray, spec: WatermarkSpec, ring: KeyRing) -> AttributionResult:
    """Test every key of ``ring`` on tuples already prepared by :func:`_select`."""
    n = int(tok.shape[0])
    N = len(ring)
    folds = prf.fold(ctx)[None, :]  # [1, n]
    tokh = prf.tok(tok)[None, :]  # [1, n]
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
            stat[s : s + chunk] = tournament.ones(u, spec.depth).sum(axis=1)
        else:
            stat[s : s + chunk] = schemes.gumbel_scores(prf.to_unit(u)).sum(axis=1)
    if not n:
        pvals = np.ones(N)
    elif kgw:
        pvals = schemes.kgw_pvalue(stat, n, spec.gamma)
    else:
        pvals = tournament.pvalue(stat, n, spec.depth) if tour else schemes.gumbel_pvalue(stat, n)
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
    ids = check_ids(ids, spec, vocab_size)
    ctx, tok = sliding_windows(ids, spec.context_width)
    ex = _exclusion_hashes(exclude_ids, spec.context_width)
    ring = keys if isinstance(keys, KeyRing) else KeyRing.from_keys(list(keys))
    c2, t2 = _select(ctx, tok, spec, True, ex)
    return _attribute_selected(c2, t2, spec, ring)
