"""SEAT (Zhang, Chen, Xu, Li, Qi, Yang, Zhang: "SEAT: Similarity Encoder by Adversarial Training
for Detecting Model Extraction Attack Queries", ACM AISec 2021), adapted to text prompts.

The paper's detector: embed every query of an account with a similarity encoder, count the pairs
of the account's queries whose embeddings are closer than a threshold, and flag the account when
the count of similar pairs exceeds a bound (extraction queries are generated from few seeds, so
they come in similar pairs far more often than benign queries do).

Adaptation and documented deviations: the adversarially trained encoder is replaced by L2-normalised
hashed word 1-2-gram vectors (:func:`.common.hashed_ngrams`), "similar" means cosine similarity
``>= similarity``; pairs are counted among at most the first ``max_queries`` queries of an account.

Score: the number of similar pairs; flagged when it reaches ``min_pairs``. The streaming alarm is
the query at which the running count of similar pairs first reaches ``min_pairs``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from stillwatch.errors import GuardInputError
from stillwatch.guard_eval.contract import NEVER, DetectorOutput

from .common import canonical, gram, prompt_vectors


@dataclass(frozen=True)
class SeatConfig:
    similarity: float = 0.8
    min_pairs: int = 50
    max_queries: int = 600

    def __post_init__(self) -> None:
        if not 0.0 < self.similarity <= 1.0:
            raise GuardInputError(f"SeatConfig.similarity={self.similarity} must lie in (0, 1]")
        if self.min_pairs < 1 or self.max_queries < 2:
            raise GuardInputError("SeatConfig.min_pairs must be >= 1 and max_queries >= 2")


def similar_pairs_running(x, similarity: float) -> np.ndarray:
    """Row j: number of pairs (i, i') with i < i' <= j and cosine >= similarity (rows unit-norm)."""
    g = gram(x) if hasattr(x, "indptr") else np.asarray(x @ x.T)
    new = np.triu(g >= similarity - 1e-6, k=1).sum(axis=0)  # (m,) similar earlier partners of each query
    return np.cumsum(new)


def run(log: pa.Table, config: SeatConfig = SeatConfig()) -> DetectorOutput:
    can = canonical(log)
    n_acc = len(can.account_id)
    counts = np.diff(can.starts)
    x, xs = prompt_vectors(log, can, config.max_queries)
    score = np.zeros(n_acc)
    alarm = np.full(n_acc, NEVER, dtype=np.int64)
    for a in np.flatnonzero(counts >= 2):  # one Gram matrix per account, not a loop per row
        running = similar_pairs_running(x[xs[a] : xs[a + 1]], config.similarity)
        score[a] = running[-1]
        hit = np.flatnonzero(running >= config.min_pairs)
        if len(hit):
            alarm[a] = can.ts_us[can.starts[a] + hit[0]]
    return DetectorOutput("seat", can.account_id, score, score >= config.min_pairs, None, alarm)
