"""Plain per-account rate limits: the defence every API already has.

An account trips the limit when its requests in any trailing window exceed the cap: by default
more than 120 in one hour or more than 1,000 in one day (a generous interactive tier). The score
is the largest ratio of a window's count to its cap, so ranking by score is ranking by how close
an account came to a limit. The streaming alarm is the first request that exceeds a cap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from stillwatch.errors import GuardInputError
from stillwatch.guard_eval.contract import NEVER, DetectorOutput

from .common import canonical


HOUR_US = 3_600_000_000


@dataclass(frozen=True)
class RateLimitConfig:
    per_hour: int = 120
    per_day: int = 1_000

    def __post_init__(self) -> None:
        if self.per_hour < 1 or self.per_day < 1:
            raise GuardInputError(f"RateLimitConfig caps must be >= 1 (per_hour={self.per_hour}, per_day={self.per_day})")


def trailing_counts(acc: np.ndarray, ts_us: np.ndarray, window_us: int) -> np.ndarray:
    """Row i: number of rows of the same account with ts in (ts[i] - window, ts[i]] up to and including i.

    Requires rows sorted by (acc, ts). Accounts are kept apart by offsetting each account's times
    by more than the log's time span plus the window.
    """
    if len(acc) == 0:
        return np.zeros(0, dtype=np.int64)
    t = ts_us - ts_us.min()
    span = int(t.max()) + window_us + 1
    key = acc.astype(np.int64) * span + t
    lo = np.searchsorted(key, key - window_us, side="right")
    return np.arange(len(key)) - lo + 1


def run(log: pa.Table, config: RateLimitConfig = RateLimitConfig()) -> DetectorOutput:
    can = canonical(log)
    n_acc = len(can.account_id)
    hour = trailing_counts(can.acc, can.ts_us, HOUR_US)
    day = trailing_counts(can.acc, can.ts_us, 24 * HOUR_US)
    ratio = np.maximum(hour / config.per_hour, day / config.per_day)
    score = np.zeros(n_acc)
    np.maximum.at(score, can.acc, ratio)
    over = ratio > 1.0
    alarm = np.full(n_acc, NEVER, dtype=np.int64)
    np.minimum.at(alarm, can.acc[over], can.ts_us[over])
    return DetectorOutput("rate_limit", can.account_id, score, score > 1.0, None, alarm)
