"""``core.times.epoch_us``: known answers computed from calendar arithmetic here, not from the function."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from stillwatch.core.times import epoch_us

DAY_US = 86_400 * 1_000_000


@pytest.mark.parametrize("t,expected", [
    (datetime(1970, 1, 1, tzinfo=timezone.utc), 0),
    (datetime(1970, 1, 2, 0, 0, 0, 1, tzinfo=timezone.utc), DAY_US + 1),
    (datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=timezone.utc), -1),
    # 2026-03-02T10:00:00.123457Z: 20,514 days after the epoch (56 years, 14 leap days, + Jan 31 + Feb 28 + 1)
    (datetime(2026, 3, 2, 10, 0, 0, 123_457, tzinfo=timezone.utc), (20_514 * 86_400 + 36_000) * 1_000_000 + 123_457),
    # the same instant written with a +02:00 offset
    (datetime(2026, 3, 2, 12, 0, 0, 123_457, tzinfo=timezone(timedelta(hours=2))),
     (20_514 * 86_400 + 36_000) * 1_000_000 + 123_457),
])
def test_known_answers(t, expected):
    assert epoch_us(t) == expected


def test_every_microsecond_is_kept():
    base = datetime(2026, 3, 2, 10, 0, 0, tzinfo=timezone.utc)
    got = [epoch_us(base + timedelta(microseconds=u)) for u in range(1000)]
    assert got == [epoch_us(base) + u for u in range(1000)]


def test_a_naive_time_is_refused():
    with pytest.raises(TypeError):
        epoch_us(datetime(2026, 3, 2))
