"""Near-duplicate prompts: one-permutation MinHash + LSH over distinct prompts, fully vectorised.

Each (already normalised) prompt is cut to ``max_bytes`` UTF-8 bytes and shingled into overlapping
``shingle_bytes``-byte windows. A window's bytes are packed into one integer and mixed with
splitmix64 (no Python loop: the whole batch's bytes are one numpy buffer). One-permutation hashing
(Li, Owen & Zhang, "One Permutation Hashing", NeurIPS 2012) splits the hash range into ``n_bins``
bins and keeps each bin's minimum, an unbiased MinHash sketch at the cost of a single hash per
shingle. Empty bins get a value unique to the prompt, so they never make two prompts collide.

LSH (Indyk & Motwani 1998; Broder 1997) groups the bins into ``n_bands`` bands of ``rows`` bins;
two prompts collide in a band when all its bins agree, which happens with probability J^rows for
Jaccard similarity J. With the defaults (64 bins = 8 bands x 8 rows) a pair is linked with
probability 1-(1-J^8)^8: 0.82 at J=0.8, 0.39 at J=0.7, 0.03 at J=0.5, 3e-10 at J=0.05. Prompts that
collide in a band and whose signatures agree on at least ``min_jaccard`` of the bins are
near-duplicates; each prompt is grouped under its lowest-ranked such neighbour (one hop, so chains
of pairwise-similar prompts cannot snowball into one giant group).

Signatures are a pure function of the prompt text, so the batch scan and the streaming scorer
(:mod:`~stillwatch.guard.live.stream`) compute identical bands for the same prompt.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from stillwatch.errors import GuardInputError

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_EMPTY = np.uint64(0xFFFFFFFFFFFFFFFF)


def _mix(x: np.ndarray) -> np.ndarray:
    """A cheap 64-bit mixer (multiply, xor-shift, multiply) for shingle words."""
    h = x * _M1
    h ^= h >> np.uint64(32)
    h *= _M2
    h ^= h >> np.uint64(29)
    return h


def _densify_one(sig: np.ndarray) -> np.ndarray:
    """:func:`_densify` for a single signature (1, k) in plain Python: O(k^2) worst case for a
    constant k, far cheaper than numpy's per-call overhead on one row. Same result."""
    vals = sig[0].tolist()
    empty = int(_EMPTY)
    if empty not in vals:
        return sig
    k = len(vals)
    golden = int(_GOLDEN)
    out = list(vals)
    for j in range(k):
        if vals[j] != empty:
            continue
        for d in range(1, k):
            v = vals[(j + d) % k]
            if v != empty:
                out[j] = (v + d * golden) & 0xFFFFFFFFFFFFFFFF
                break
    return np.array([out], dtype=np.uint64)


def _densify(sig: np.ndarray) -> np.ndarray:
    """Fill empty bins by rotation (Shrivastava & Li, ICML 2014): take the next non-empty bin to the
    right (circularly) plus a distance-dependent offset, so that similar prompts stay similar.
    Rows with no non-empty bin are left as they are.

    Vectorised over the matrix: one reverse running minimum over the flattened cells finds, for every cell, the
    next non-empty cell at or after it; a cell whose next one lies beyond its row wraps to the row's first
    non-empty cell. A handful of whole-matrix passes and one gather, no boolean-mask indexing (which cost more than
    all the rest: 4000 x 64 bins half empty took 10 ms with masks, 6.5 ms without), no loop per distance."""
    n, k = sig.shape
    empty = sig == _EMPTY  # (n, k)
    if not empty.any():
        return sig
    size = n * k
    it = np.int32 if size < 2**31 - 1 else np.int64
    at = np.arange(size, dtype=it).reshape(n, k)  # each cell's flat index
    nxt = np.maximum(at, empty.astype(it) * it(size))  # the cell itself, or past the end when empty
    flat_nxt = nxt.reshape(-1)
    np.minimum.accumulate(flat_nxt[::-1], out=flat_nxt[::-1])  # next non-empty cell at or after each cell
    row_end = at[:, :1] + it(k)  # (n, 1)
    first = nxt[:, :1]  # (n, 1): the row's first non-empty cell (>= row_end: the row is all empty)
    target = np.where(nxt < row_end, nxt, first)
    fill = empty & (first < row_end)
    dist = ((target - at) & it(k - 1)).astype(np.uint64)  # circular distance, 1..k-1 for a cell filled (k a power of 2)
    np.minimum(target, it(size - 1), out=target)  # an all-empty row's cells point past the end; they are not filled
    with np.errstate(over="ignore"):
        val = sig.reshape(-1)[target] + dist * _GOLDEN
    out = sig.copy()
    np.copyto(out, val, where=fill)
    return out


def splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser, elementwise over uint64 (wrapping arithmetic)."""
    x = np.asarray(x, dtype=np.uint64)
    z = x + _GOLDEN  # array integer arithmetic wraps silently
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@dataclass(frozen=True)
class MinHashConfig:
    """Sketch shape. Requires ``n_bins == n_bands * rows`` and ``n_bins`` a power of two.

    ``chunk_bytes``: text sketched at a time (and ``chunk_bytes // 64`` prompts' signatures). It sets no result, only
    the size of the temporaries (about ten arrays of 8 bytes per shingle window or bin): at 128 KB they are about a
    megabyte, which the allocator hands back and reuses chunk after chunk; at 4 MB (the first value) each chunk's
    were tens of MB of fresh pages, and faulting them in (with the kernel's huge-page compaction) cost as much as the
    hashing. The 16M-exchange benchmark's 1,946,325 distinct sampled prompts: 12.6 s at 4 MB (4.4 s of it in the
    kernel), 7.5 s at 128 KB, 4.6 s with :func:`_densify` rewritten without masks (median of three, 2026-12-07,
    this 2-vCPU machine; the same sketches; 64 KB no faster, 256 KB faulted again in one run of three)."""

    shingle_bytes: int = 5
    n_bands: int = 8
    rows: int = 8
    max_bytes: int = 256
    chunk_bytes: int = 128_000
    verify_bins: int = 32

    def __post_init__(self) -> None:
        if not 1 <= self.shingle_bytes <= 8:
            raise GuardInputError(f"MinHashConfig.shingle_bytes must be in [1, 8], got {self.shingle_bytes}")
        if self.n_bands < 1 or self.rows < 1:
            raise GuardInputError(f"MinHashConfig.n_bands and rows must be >= 1, got {self.n_bands}, {self.rows}")
        nb = self.n_bands * self.rows
        if nb & (nb - 1):
            raise GuardInputError(f"MinHashConfig: n_bands * rows must be a power of two, got {nb}")
        if not 1 <= self.verify_bins <= nb:
            raise GuardInputError(f"MinHashConfig.verify_bins must be in [1, {nb}], got {self.verify_bins}")
        if self.chunk_bytes < 1:
            raise GuardInputError(f"MinHashConfig.chunk_bytes must be >= 1, got {self.chunk_bytes}")
        if self.max_bytes < self.shingle_bytes:
            raise GuardInputError(f"MinHashConfig.max_bytes must be >= shingle_bytes, got {self.max_bytes}")

    @property
    def n_bins(self) -> int:
        return self.n_bands * self.rows


def _as_string_array(texts) -> pa.Array:
    arr = texts if isinstance(texts, (pa.Array, pa.ChunkedArray)) else pa.array(list(texts), pa.string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks else pa.array([], pa.string())
    arr = arr.cast(pa.large_string()) if not pa.types.is_large_string(arr.type) else arr
    return pc.fill_null(arr, "")


def _signatures_chunk(arr: pa.Array, cfg: MinHashConfig) -> tuple[np.ndarray, np.ndarray]:
    """Signatures (n, n_bins) uint64 and a mask of prompts with at least one shingle."""
    n = len(arr)
    arr = pc.binary_slice(arr.cast(pa.large_binary()), 0, cfg.max_bytes)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset : arr.offset + n + 1]
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8) if arr.buffers()[2] is not None else np.zeros(0, np.uint8)
    base = offsets[0]
    data = data[base : offsets[-1]]
    offs = offsets - base  # (n+1,)
    lengths = np.diff(offs)
    k = cfg.shingle_bytes
    n_win = np.maximum(lengths - k + 1, 0)  # windows per prompt
    has = n_win > 0
    total = int(n_win.sum())
    sig = np.full((n, cfg.n_bins), _EMPTY, dtype=np.uint64)
    if total:
        owner = np.repeat(np.arange(n, dtype=np.int64), n_win)  # (total,)
        first = np.repeat(offs[:-1] - np.concatenate(([0], np.cumsum(n_win)[:-1])), n_win)
        start = np.arange(total, dtype=np.int64) + first  # byte offset of each window
        padded = np.zeros(len(data) + 8, dtype=np.uint8)
        padded[: len(data)] = data
        # an (unaligned) uint64 read at every byte offset: one gather per window, masked to k bytes
        words = np.lib.stride_tricks.as_strided(
            padded[:8].view(np.uint64), shape=(len(data) + 1,), strides=(1,), writeable=False
        ) if len(data) else np.zeros(1, np.uint64)
        word = words[start] & np.uint64((1 << (8 * k)) - 1 if k < 8 else 0xFFFFFFFFFFFFFFFF)
        h = _mix(word)
        shift = np.uint64(64 - int(np.log2(cfg.n_bins)))
        b = (h >> shift).astype(np.int64)
        np.minimum.at(sig.reshape(-1), owner * cfg.n_bins + b, h)
    sig = _densify(sig)
    return sig, has


def signatures(texts, cfg: MinHashConfig = MinHashConfig()) -> tuple[np.ndarray, np.ndarray]:
    """MinHash signatures ``(n, n_bins)`` of ``texts`` and a mask of those long enough to sketch.

    Processes the batch in chunks of about ``cfg.chunk_bytes`` bytes to bound memory.
    """
    arr = _as_string_array(texts)
    n = len(arr)
    if n == 0:
        return np.zeros((0, cfg.n_bins), np.uint64), np.zeros(0, bool)
    lens = np.minimum(pc.binary_length(arr.cast(pa.large_binary())).to_numpy(zero_copy_only=False), cfg.max_bytes)
    cum = np.cumsum(lens)
    sigs, masks = [], []
    start = 0
    while start < n:
        base = cum[start - 1] if start else 0
        stop = int(np.searchsorted(cum, base + cfg.chunk_bytes, side="right"))
        stop = max(stop, start + 1)
        s, m = _signatures_chunk(arr.slice(start, stop - start), cfg)
        sigs.append(s)
        masks.append(m)
        start = stop
    return np.concatenate(sigs), np.concatenate(masks)


_ROW_MULT = splitmix64(np.arange(1, 65, dtype=np.uint64)) | np.uint64(1)  # odd multipliers per row
_BAND_SALT = splitmix64(np.arange(1000, 1064, dtype=np.uint64))


def band_keys(sig: np.ndarray, cfg: MinHashConfig = MinHashConfig()) -> np.ndarray:
    """One uint64 key per (prompt, band): ``(n, n_bands)``. Equal keys = a band collision.

    A band's key mixes its ``rows`` bin values with distinct odd multipliers (wrapping sum), then
    splitmix64 — equal bins give equal keys; different bins collide with probability ~2^-64."""
    n = sig.shape[0]
    s = sig.reshape(n, cfg.n_bands, cfg.rows)
    folded = (s * _ROW_MULT[: cfg.rows]).sum(axis=2, dtype=np.uint64)  # (n, n_bands), wrapping
    return splitmix64(folded ^ _BAND_SALT[: cfg.n_bands])


def _compact_keys(keys: np.ndarray) -> np.ndarray:
    """Band keys cut to 32 bits (memory): a spurious bucket collision is caught by verification."""
    return (keys >> np.uint64(32)).astype(np.uint32)


def _fingerprints(sig: np.ndarray, cfg: "MinHashConfig") -> np.ndarray:
    """The low 8 bits of the first ``verify_bins`` bins, for verifying a candidate pair."""
    return (sig[:, : cfg.verify_bins] & np.uint64(0xFF)).astype(np.uint8)


def sketches(texts, cfg: MinHashConfig = MinHashConfig()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Public name of the batch sketch: (band keys, fingerprints, sketchable mask)."""
    return _bands_and_fingerprints(texts, cfg)


def _bands_and_fingerprints(texts, cfg: MinHashConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Band keys ``(n, n_bands)`` uint64, 8-bit bin fingerprints ``(n, n_bins)`` uint8 (b-bit
    minwise hashing, Li & Koenig 2010) and the sketchable mask, computed chunk by chunk so that
    full 64-bit signatures never exist for the whole batch at once."""
    arr = _as_string_array(texts)
    n = len(arr)
    keys = np.zeros((n, cfg.n_bands), np.uint32)
    small = np.zeros((n, cfg.verify_bins), np.uint8)
    has = np.zeros(n, bool)
    step = max(1, cfg.chunk_bytes // 64)
    for start in range(0, n, step):  # one pass per chunk of prompts
        stop = min(n, start + step)
        sig, h = signatures(arr.slice(start, stop - start), cfg)
        keys[start:stop] = _compact_keys(band_keys(sig, cfg))
        small[start:stop] = _fingerprints(sig, cfg)
        has[start:stop] = h
    return keys, small, has


def prompt_rank(keys: np.ndarray) -> np.ndarray:
    """A pseudo-random int64 rank per prompt from its band keys (a pure function of the text): the xor over bands of
    each key times its band's odd multiplier, mixed. Folded band by band into one buffer (two arrays of n words,
    not a widened copy of the whole key matrix: 1.95M prompts took 2.4 s that way, half of it faulting pages in)."""
    n, bands = keys.shape
    folded = np.zeros(n, np.uint64)
    term = np.empty(n, np.uint64)
    for b in range(bands):  # n_bands passes over n words
        term[:] = keys[:, b]
        term *= _ROW_MULT[b]
        folded ^= term
    return splitmix64(folded).view(np.int64)


def sketch_one(text: str, cfg: MinHashConfig = MinHashConfig()) -> tuple[np.ndarray, np.ndarray, bool, int]:
    """(band keys, 8-bit fingerprints, sketchable, rank) of one prompt — the streaming scorer's view,
    identical to the batch's for the same text."""
    b = text.encode("utf-8", "surrogatepass")[: cfg.max_bytes]
    k = cfg.shingle_bytes
    n_win = len(b) - k + 1
    sig = np.full((1, cfg.n_bins), _EMPTY, dtype=np.uint64)
    if n_win > 0:
        data = np.frombuffer(b + bytes(8), dtype=np.uint8)
        words = np.lib.stride_tricks.as_strided(data[:8].view(np.uint64), shape=(n_win,), strides=(1,), writeable=False)
        word = words & np.uint64((1 << (8 * k)) - 1 if k < 8 else 0xFFFFFFFFFFFFFFFF)
        h = _mix(word)
        np.minimum.at(sig[0], (h >> np.uint64(64 - int(np.log2(cfg.n_bins)))).astype(np.int64), h)
        sig = _densify_one(sig)
    keys = _compact_keys(band_keys(sig, cfg))
    return keys[0], _fingerprints(sig, cfg)[0], n_win > 0, int(prompt_rank(keys)[0])


def near_duplicate_groups(texts, cfg: MinHashConfig = MinHashConfig(), order: np.ndarray | None = None,
                          min_jaccard: float = 0.6) -> np.ndarray:
    """Representative index per text (int64): its near-duplicate group is the set of texts that
    share a representative.

    A text's representative is the lowest-``order`` text among the members of its LSH buckets whose
    estimated Jaccard similarity to it is at least ``min_jaccard`` (itself when there is none).
    This is one hop, not a transitive closure, so chains of pairwise-similar texts (A~B~C~...)
    cannot glue unrelated prompts into one giant group. ``order`` (default: the index) must be a
    permutation-invariant rank such as a hash of the text (default: :func:`prompt_rank`, a pure
    function of the text, which the streaming scorer uses too). Texts with fewer bytes than one shingle are their own representative.
    """
    keys, small, has = _bands_and_fingerprints(texts, cfg)
    return groups_from_sketches(keys, small, has, cfg, order, min_jaccard)


def groups_from_sketches(keys: np.ndarray, small: np.ndarray, has: np.ndarray, cfg: MinHashConfig = MinHashConfig(),
                         order: np.ndarray | None = None, min_jaccard: float = 0.6,
                         block: int = 1 << 20) -> np.ndarray:
    """:func:`near_duplicate_groups` from precomputed :func:`sketches` (so a caller can sketch a
    large set batch by batch and never hold all the texts). Verification runs in blocks of
    ``block`` prompts to bound the temporary arrays. Requires fewer than 2^32 sketchable prompts (a prompt's rank
    position shares a 64-bit sort key with its 32-bit bucket)."""
    n = keys.shape[0]
    if n == 0:
        return np.zeros(0, np.int64)
    rank = prompt_rank(keys) if order is None else np.asarray(order)
    best = np.arange(n, dtype=np.int64)
    idx = np.nonzero(has)[0]
    m = len(idx)
    # by bucket, then by rank (ties: by index): one 64-bit sort key per band, (bucket << 32) | the prompt's position
    # in rank order. Positions are unique, so the sorted keys alone say which prompt each is (no argsort), and every
    # pass reuses the same buffers (n_bands x ten fresh arrays of m words cost more in page faults than the sorting).
    in_rank = np.argsort(rank[idx], kind="stable")
    by_pos = idx[in_rank]  # (m,) the prompts in rank order
    rpos = np.empty(m, np.uint64)
    rpos[in_rank] = np.arange(m, dtype=np.uint64)
    skey, bucket, low = (np.empty(m, np.uint64) for _ in range(3))
    starts, members, rep = (np.empty(m, np.int64) for _ in range(3))
    new_run = np.empty(m, bool)
    kb = np.empty(m, keys.dtype)
    at = np.arange(m, dtype=np.int64)
    low32 = np.uint64(0xFFFFFFFF)
    for b in range(cfg.n_bands):  # n_bands passes
        np.take(keys[:, b], idx, out=kb)
        skey[:] = kb
        skey <<= np.uint64(32)
        skey |= rpos
        skey.sort()  # each bucket's run starts with its lowest-ranked prompt
        np.right_shift(skey, np.uint64(32), out=bucket)
        np.bitwise_and(skey, low32, out=low)
        np.take(by_pos, low.view(np.int64), out=members)
        new_run[:1] = True
        np.not_equal(bucket[1:], bucket[:-1], out=new_run[1:])
        np.multiply(at, new_run, out=starts)
        np.maximum.accumulate(starts, out=starts)
        np.take(members, starts, out=rep)
        cand = np.flatnonzero(rep != members)  # a prompt is trivially similar to itself
        for start in range(0, len(cand), block):  # bounded temporaries
            c = cand[start : start + block]
            mc, rc = members[c], rep[c]
            sim = np.mean(small[mc] == small[rc], axis=1)  # 8-bit bins: bias <= (1-J)/256
            better = (sim >= min_jaccard) & (rank[rc] < rank[best[mc]])
            best[mc[better]] = rc[better]
    return best


def estimate_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    """Fraction of agreeing bins: an estimate of the Jaccard similarity of two shingle sets."""
    return float(np.mean(sig_a == sig_b))
