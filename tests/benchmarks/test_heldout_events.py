"""The real-world events of ``benchmarks/guard/_heldout_events.py`` on a small hand-built log: what each event does to
the rows is computed here from the spec, independently of the helpers' code, and inputs are never modified."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "benchmarks" / "guard")]

from guard_heldout_base import DAY, HOUR, MINUTE, T0  # noqa: E402
from _heldout_events import Launch, Outage, Viral, launch, outage, viral  # noqa: E402

from stillwatch.guard.log.schema import LOG_SCHEMA  # noqa: E402

FAMILIES = {"acct_app": "benign:app", "acct_person": "benign:casual", "acct_power": "benign:power",
            "acct_sybil": "burst"}


def _log() -> tuple[pa.Table, pa.Table]:
    """Four accounts, one request every 10 minutes each over the log's first five days."""
    acc = np.repeat(np.array(list(FAMILIES)), 720)
    ts = T0 + np.tile(np.arange(720) * 10 * MINUTE, 4) + np.repeat(np.arange(4) * MINUTE, 720)
    n = len(ts)
    cols = {"request_id": [f"req_{i:06d}" for i in range(n)], "ts": pa.array(ts, pa.int64()).cast(LOG_SCHEMA.field("ts").type),
            "account_id": acc, "api_key_id": np.char.add("key_", acc), "ip": np.full(n, "24.1.2.3"),
            "user_agent": np.full(n, "ua"), "payment_fingerprint": pa.nulls(n, pa.string()), "model": np.full(n, "m"),
            "prompt": np.full(n, "hello"), "response": np.full(n, "hi"), "prompt_tokens": np.full(n, 2),
            "completion_tokens": np.full(n, 1)}
    log = pa.table({f.name: pa.array(cols[f.name]).cast(f.type) if not isinstance(cols[f.name], pa.Array)
                    else cols[f.name].cast(f.type) for f in LOG_SCHEMA}, schema=LOG_SCHEMA)
    labels = pa.table({"account_id": list(FAMILIES), "campaign_id": [None, None, None, "burst-0"],
                       "family": list(FAMILIES.values())})
    return log, labels


def _ts(t: pa.Table) -> np.ndarray:
    return t["ts"].cast(pa.int64()).to_numpy()


def test_an_outage_replays_queued_clients_and_drops_or_retries_people():
    log, labels = _log()
    before = log.to_pylist()
    spec = Outage(start_us=DAY + 2 * HOUR, hours=2.0, replay_min=5.0, retry_share=0.5)
    out, lab = outage(log, labels, np.random.default_rng(0), spec)
    assert log.to_pylist() == before and lab is labels
    o0, o1 = T0 + DAY + 2 * HOUR, T0 + DAY + 4 * HOUR
    t, acc = _ts(log), log["account_id"].to_numpy(zero_copy_only=False)
    t2, acc2 = _ts(out), out["account_id"].to_numpy(zero_copy_only=False)
    assert not ((t2 >= o0) & (t2 < o1)).any()  # nothing is served while the service is down
    inside = (t >= o0) & (t < o1)
    # the app queues: all twelve of its window's requests come back within five minutes of recovery
    assert (acc2 == "acct_app").sum() == (acc == "acct_app").sum()
    queued = log.filter(pa.array(inside & (acc == "acct_app")))["request_id"]
    replayed = _ts(out.filter(pc.is_in(out["request_id"], queued)))
    assert len(queued) == 12 and len(replayed) == 12
    assert np.all((replayed >= o1) & (replayed < o1 + 5 * MINUTE))
    # people: each request of the window is retried after recovery or dropped; nothing outside the window moves
    for a in ("acct_person", "acct_power", "acct_sybil"):
        kept = (acc2 == a).sum()
        assert (acc == a).sum() - 12 <= kept < (acc == a).sum()
    same = set(zip(out["request_id"].to_pylist(), t2.tolist()))
    assert all((r, int(x)) in same for r, x, i in zip(log["request_id"].to_pylist(), t, inside) if not i)
    assert out.num_rows == len(set(out["request_id"].to_pylist()))


def test_a_viral_prompt_adds_its_requests_to_people_with_their_own_key_and_address():
    log, labels = _log()
    out, lab = viral(log, labels, np.random.default_rng(1), Viral(accounts=2, start_us=2 * DAY, mean_hours=1.0))
    added = out.filter(pc.starts_with(out["request_id"], "req_viral_"))
    assert out.num_rows == log.num_rows + added.num_rows and 2 <= added.num_rows <= 6
    assert set(added["account_id"].to_pylist()) == {"acct_person", "acct_power"}  # only casual and power users
    assert set(added["api_key_id"].to_pylist()) == {"key_acct_person", "key_acct_power"}
    assert all(p.startswith("Write a short poem about my cat") for p in added["prompt"].to_pylist())
    assert _ts(added).min() >= T0 + 2 * DAY
    assert np.all(np.diff(_ts(out)) >= 0) and lab is labels
    assert out.num_rows == len(set(out["request_id"].to_pylist()))


def test_a_launch_wave_adds_labelled_new_accounts_first_seen_within_the_hour():
    log, labels = _log()
    out, lab = launch(log, labels, np.random.default_rng(2), Launch(accounts=30, start_us=3 * DAY))
    new = lab.filter(pc.equal(lab["family"], "benign:launch"))
    assert new.num_rows == 30 and lab.num_rows == labels.num_rows + 30 and labels.num_rows == 4
    rows = out.filter(pc.is_in(out["account_id"], new["account_id"]))
    first = rows.group_by("account_id").aggregate([("ts", "min"), ("ts", "count")])
    f = first["ts_min"].cast(pa.int64()).to_numpy()
    assert np.all((f >= T0 + 3 * DAY) & (f < T0 + 3 * DAY + HOUR))
    assert set(first["ts_count"].to_pylist()) <= set(range(1, 11))
    assert set(rows["prompt"].to_pylist()) == {"hello"}  # what the log's casual users ask
    assert out.num_rows == len(set(out["request_id"].to_pylist()))


@pytest.mark.parametrize("make, field, value", [(Outage, "hours", 0.0), (Outage, "retry_share", 1.5),
                                                (Viral, "accounts", 0), (Launch, "return_share", -0.1)])
def test_bad_specs_name_the_field(make, field, value):
    with pytest.raises(ValueError, match=f"{make.__name__}.{field}"):
        make(**{field: value})
