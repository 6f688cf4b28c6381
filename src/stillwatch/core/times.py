"""Timestamps as integer microseconds since the Unix epoch, the unit every log row, ledger record and scorer row uses:
one definition for the gateway's rows, its ledger tail and the streaming scorer, in integer arithmetic (exact by
construction, no float seconds in between)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

__all__ = ["epoch_us"]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_US = timedelta(microseconds=1)


def epoch_us(t: datetime) -> int:
    """``t`` as whole microseconds since 1970-01-01 UTC (negative before it). Requires ``t`` timezone-aware (a naive
    time is the caller's to place: Python refuses to subtract it from the aware epoch)."""
    return (t - _EPOCH) // _US
