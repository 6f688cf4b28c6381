"""The detector-output contract every evaluated detector returns (Stillwatch's batch scan, its
streaming scorer and the baselines): one score, flag, predicted campaign and first alarm time per
account. :mod:`stillwatch.guard_eval.evaluate` computes every metric from this type alone."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: "Never alarmed" in :attr:`DetectorOutput.alarm_us`.
NEVER = np.iinfo(np.int64).max


@dataclass(frozen=True)
class DetectorOutput:
    """A detector's verdict on every account of a log.

    ``account_id`` (n,) object array; ``score`` (n,) float, higher = more suspicious; ``flagged``
    (n,) bool at the method's own operating point; ``cluster`` (n,) object array of predicted
    campaign ids (None = not in any campaign) or None if the method does not cluster;
    ``alarm_us`` (n,) int64 UTC microseconds of the first streaming alarm (:data:`NEVER` = none)
    or None if the method has no streaming mode.
    """

    name: str
    account_id: np.ndarray
    score: np.ndarray
    flagged: np.ndarray
    cluster: np.ndarray | None = None
    alarm_us: np.ndarray | None = None
