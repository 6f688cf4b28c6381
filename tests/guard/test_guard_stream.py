"""The streaming scorer: final verdicts agree with the batch scan; per-request state stays bounded;
alarms come early in a campaign."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _fixtures_pipeline import make_log  # noqa: E402

from stillwatch.errors import GuardInputError  # noqa: E402
from stillwatch.guard.batch.scan import scan  # noqa: E402
from stillwatch.guard.live.stream import StreamConfig, StreamingScorer  # noqa: E402
from stillwatch.guard.live.state import SpaceSaving as _SpaceSaving  # noqa: E402


@pytest.fixture(scope="module")
def streamed():
    table, labels = make_log(seed=5, n_human=40, camp_a=10, camp_b=8)
    batch = scan(table)
    rows = table.sort_by([("ts", "ascending"), ("request_id", "ascending")]).to_pylist()
    scorer = StreamingScorer(StreamConfig())
    live = [scorer.observe(r) for r in rows]
    return table, labels, batch, scorer, rows, live


def test_final_verdicts_agree_with_batch(streamed):
    _, _, batch, scorer, _, _ = streamed
    final = {a.account_id: a for a in scorer.verdicts()}
    b = {a.account_id: a for a in batch.accounts}
    assert set(final) == set(b)
    for k in b:
        assert final[k].flagged == b[k].flagged, k
        assert final[k].campaign_id == b[k].campaign_id, k
        # tolerance: heavy-hitter maps and the union of template kinds are approximations
        assert final[k].score == pytest.approx(b[k].score, abs=0.1), k
    assert sorted(c.accounts for c in scorer.campaigns) == sorted(c.accounts for c in batch.campaigns)


def test_alarm_before_much_of_the_campaign(streamed):
    _, labels, _, _, rows, live = streamed
    for camp in ("A", "B"):
        idx = [i for i, r in enumerate(rows) if labels[r["account_id"]] == camp]
        first = next((j for j, i in enumerate(idx) if live[i].flagged), None)
        assert first is not None, camp
        assert first / len(idx) < 0.25, (camp, first, len(idx))
    # no benign account is ever flagged live
    assert not any(v.flagged for r, v in zip(rows, live) if labels[r["account_id"]] is None)


def test_state_is_bounded():
    ss = _SpaceSaving(4)
    for k in [1, 2, 3, 4, 5, 6, 1, 1, 1, 7]:
        ss.add(k)
    assert len(ss.counts) == 4
    assert 1 in ss.counts  # the heavy hitter survives
    assert sum(ss.counts.values()) == 10  # space-saving keeps the total
    scorer = StreamingScorer(StreamConfig(max_buckets=16))
    for i in range(50):
        scorer.observe({"account_id": "x", "ts": 1_000_000 * i, "prompt": f"prompt number {i} about topic {i * 7}" * 3})
    assert len(scorer._buckets) <= 16
    assert all(len(m.counts) <= 32 for m in scorer._acc["x"].keys.values())


def test_stream_config_validates():
    with pytest.raises(GuardInputError, match="heavy_hitters"):
        StreamConfig(heavy_hitters=1)


def test_empty_stream():
    assert StreamingScorer().verdicts() == []
    v = StreamingScorer().observe({"account_id": "a", "ts": 0, "prompt": "hello"})
    assert v.account_id == "a" and not v.flagged and 0.0 <= v.score <= 1.0 and np.isfinite(v.score)
