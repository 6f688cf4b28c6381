"""PRADA (Juuti, Szyller, Marchal, Asokan: "PRADA: Protecting against DNN Model Stealing Attacks",
IEEE EuroS&P 2019), adapted from image queries to text prompts.

The paper's detector (Sec. IV-B, Alg. 1): for every new query ``x`` of a client, compute the
minimum distance ``d_min`` between ``x`` and the client's earlier queries; collect these minimum
distances in a set ``D``; once ``|D|`` is large enough, run the Shapiro–Wilk normality test on
``D`` and raise an alarm when the statistic ``W`` falls below a threshold ``delta``. Benign query
streams give roughly normally distributed minimum distances; synthetic/templated extraction
queries do not.

Adaptation and documented deviations:

- queries are prompts embedded as L2-normalised hashed word 1-2-gram vectors
  (:func:`.common.hashed_ngrams`) instead of images; the distance is Euclidean, as in the paper;
- ``d_min`` is taken against *all* earlier queries of the account (the paper keeps a growing set
  of queries whose ``d_min`` exceeded a running bound; using all queries avoids a per-query Python
  loop and can only make ``d_min`` smaller);
- the test uses at most the first ``max_queries`` queries of an account, and the streaming alarm
  is evaluated at checkpoints growing by a factor of 1.5 from ``min_queries`` (the paper tests after
  every query);
- accounts with fewer than ``min_queries`` queries are never tested (score 0), as in the paper.

Score: ``1 - W`` of the account's full (capped) sequence; flagged when ``W < delta``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from scipy import stats

from stillwatch.errors import GuardInputError
from stillwatch.guard_eval.contract import NEVER, DetectorOutput

from .common import canonical, gram, prompt_vectors


@dataclass(frozen=True)
class PradaConfig:
    delta: float = 0.90
    min_queries: int = 20
    max_queries: int = 600

    def __post_init__(self) -> None:
        if not 0.0 < self.delta < 1.0:
            raise GuardInputError(f"PradaConfig.delta={self.delta} must lie in (0, 1)")
        if not 4 <= self.min_queries <= self.max_queries:
            raise GuardInputError(f"PradaConfig needs 4 <= min_queries ({self.min_queries}) <= max_queries ({self.max_queries})")


def min_distances(x: np.ndarray | object) -> np.ndarray:
    """``d_min[j] = min_{i<j} ||x_i - x_j||`` for j >= 1 (rows unit-norm), shape (m-1,)."""
    g = gram(x) if hasattr(x, "indptr") else np.asarray(x @ x.T)
    d = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * g))
    d[np.tril_indices_from(d)] = np.inf  # keep i < j only
    return d.min(axis=0)[1:]


def shapiro_w(values: np.ndarray) -> float:
    """Shapiro–Wilk W; a constant sample (no spread at all) counts as maximally non-normal (0)."""
    if len(values) < 3 or np.ptp(values) < 1e-9:
        return 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(stats.shapiro(values).statistic)


def checkpoints(min_queries: int, n: int) -> list[int]:
    """Sizes at which the streaming test runs: min_queries, x1.5, ..., and n itself."""
    out, k = [], float(min_queries)
    while int(k) < n:
        out.append(int(k))
        k *= 1.5
    out.append(n)
    return sorted(set(out))


def run(log: pa.Table, config: PradaConfig = PradaConfig()) -> DetectorOutput:
    can = canonical(log)
    n_acc = len(can.account_id)
    counts = np.diff(can.starts)
    x, xs = prompt_vectors(log, can, config.max_queries)
    score = np.zeros(n_acc)
    flagged = np.zeros(n_acc, dtype=bool)
    alarm = np.full(n_acc, NEVER, dtype=np.int64)
    for a in np.flatnonzero(counts >= config.min_queries):  # one test per account, not per row
        xa = x[xs[a] : xs[a + 1]]
        dmin = min_distances(xa)
        m = xa.shape[0]
        for k in checkpoints(config.min_queries, m):
            w = shapiro_w(dmin[: k - 1])
            if w < config.delta and alarm[a] == NEVER:
                alarm[a] = can.ts_us[can.starts[a] + k - 1]
            if k == m:
                score[a] = 1.0 - w
                flagged[a] = w < config.delta
    return DetectorOutput("prada", can.account_id, score, flagged, None, alarm)
