"""Shared pieces of the baselines: account codes and a cheap text embedding (the output type is
:mod:`stillwatch.guard_eval.contract`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

@dataclass(frozen=True)
class Canonical:
    """A log sorted by (account, ts) with integer account codes: the baselines' working form."""

    account_id: np.ndarray  # (A,) object: code -> id
    acc: np.ndarray  # (n,) int64 account code per row, non-decreasing
    ts_us: np.ndarray  # (n,) int64, non-decreasing within an account
    starts: np.ndarray  # (A+1,) row offsets of each account's rows
    order: np.ndarray  # (n,) row index into the original log


def canonical(log: pa.Table) -> Canonical:
    """Dictionary-encode accounts and sort rows by (account, ts, original position)."""
    enc = pc.dictionary_encode(log["account_id"]).combine_chunks()
    acc = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    ts = log["ts"].cast(pa.int64()).to_numpy()
    order = np.lexsort((np.arange(len(acc)), ts, acc))
    acc_s = acc[order]
    n_acc = len(enc.dictionary)
    starts = np.searchsorted(acc_s, np.arange(n_acc + 1))
    return Canonical(
        account_id=np.asarray(enc.dictionary.to_pylist(), dtype=object),
        acc=acc_s,
        ts_us=ts[order],
        starts=starts,
        order=order,
    )


def _splitmix(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.uint64)
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def hashed_ngrams(texts: pa.Array | pa.ChunkedArray, dim: int = 1 << 18, max_chars: int = 400) -> sp.csr_matrix:
    """L2-normalised hashed word 1-2-gram count vectors, (n, dim) sparse; vectorized.

    A cheap stand-in for the learned embeddings of PRADA/SEAT (documented deviation): lower-cased
    words split on whitespace, unigrams and in-row bigrams hashed into ``dim`` buckets. Texts are
    cut to their first ``max_chars`` characters. An empty text is one empty word.
    """
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    n = len(texts)
    low = pc.utf8_lower(pc.utf8_slice_codeunits(texts, 0, max_chars))
    words = pc.utf8_split_whitespace(low)
    lengths = pc.list_value_length(words).to_numpy(zero_copy_only=False).astype(np.int64)
    flat = pc.list_flatten(words)
    if len(flat) == 0:
        return sp.csr_matrix((n, dim), dtype=np.float32)
    ids = pc.dictionary_encode(flat).indices.to_numpy(zero_copy_only=False).astype(np.uint64)
    row = np.repeat(np.arange(n), lengths)
    uni = _splitmix(ids) % np.uint64(dim)
    same = np.zeros(len(ids), dtype=bool)
    same[1:] = row[1:] == row[:-1]
    bi_ids = ids[:-1][same[1:]] * np.uint64(1_000_003) + ids[1:][same[1:]]
    bi = _splitmix(bi_ids ^ np.uint64(0xB16A)) % np.uint64(dim)
    rows = np.concatenate([row, row[1:][same[1:]]])
    cols = np.concatenate([uni, bi]).astype(np.int64)
    m = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n, dim))
    m.sum_duplicates()
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.diags(1.0 / norms).astype(np.float32) @ m


def prompt_vectors(log: pa.Table, can: Canonical, cap: int) -> tuple[sp.csr_matrix, np.ndarray]:
    """Embeddings of at most the first ``cap`` prompts of every account, in canonical order.

    Returns ``(X, starts)``: rows of account ``a`` are ``X[starts[a]:starts[a+1]]``.
    """
    counts = np.minimum(np.diff(can.starts), cap)
    pos = np.arange(len(can.acc)) - can.starts[can.acc]  # position of each row within its account
    rows = can.order[pos < cap]
    texts = log["prompt"].take(pa.array(rows))
    starts = np.concatenate([[0], np.cumsum(counts)])
    return hashed_ngrams(texts), starts


def gram(x: sp.csr_matrix) -> np.ndarray:
    """Dense Gram matrix ``x @ x.T`` of a few rows of a wide sparse matrix, (m, m).

    Compacts the used columns first, so the cost does not grow with the hashing dimension.
    """
    cols, inv = np.unique(x.indices, return_inverse=True)
    small = sp.csr_matrix((x.data, inv.astype(np.int64), x.indptr), shape=(x.shape[0], max(1, len(cols))))
    return (small @ small.T).toarray()
