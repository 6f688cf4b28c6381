"""The optional ``account_created_at`` column played by its attacker (``signals.credible_created``).

Attacker: whoever can write the provider's account table (the gateway's ``gw_accounts``, an export beside the log)
sets accounts' creation times; the Merkle log, and so every request's time, is out of reach. What must hold: a time
no honest producer could have written — after the account's first request in the log — is read as unknown, so the
account is judged as in a log without the column. A forged time *before* the first request cannot be told from the
truth: that limit is asserted here too, so a change that quietly fixes or worsens it is seen.
"""

from __future__ import annotations

import collections
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import guard_heldout_logs as HL  # noqa: E402
from guard_heldout_base import Builder, Popularity, load_pool  # noqa: E402
from guard_heldout_base import DAY as DAY_US, HOUR as HOUR_US, T0  # noqa: E402

from stillwatch.guard.batch.scan import scan  # noqa: E402
from stillwatch.guard.score import nullmodel, pauses, signals  # noqa: E402
from stillwatch.guard.score.config import DetectConfig  # noqa: E402
from stillwatch.guard.score.nullmodel import arrivals, cohort_links  # noqa: E402
from stillwatch.guard.score.signals import credible_created  # noqa: E402

from test_guard_nullmodel import DAY, HOUR, _arrivals  # noqa: E402


def test_credible_created_known_answers():
    acc = {"first_us": np.array([10.0, 10.0, 10.0, 10.0, 5.0]),
           "created_us": np.array([-100.0, 10.0, 11.0, np.nan, 4.0])}
    got = credible_created(acc)
    # before or at the first request: as given; after it: unknown; unknown stays unknown
    assert np.array_equal(got, np.array([-100.0, 10.0, np.nan, np.nan, 4.0]), equal_nan=True)
    assert np.array_equal(acc["created_us"], np.array([-100.0, 10.0, 11.0, np.nan, 4.0]), equal_nan=True)  # unmutated
    assert credible_created({"first_us": np.array([1.0])}) is None


def test_a_creation_after_the_first_request_is_judged_as_no_creation_time():
    cfg = DetectConfig()
    acc = {"n": np.array([10.0, 100.0, 500.0, 30.0]),
           "first_us": np.array([0.0, 24 * HOUR, 5 * DAY, 2 * DAY]),
           "last_us": np.array([20 * DAY, 20 * DAY, 20 * DAY, 12 * DAY]),
           "active_hours": np.array([100.0, 24.0, 120.0, 10.0])}
    plain_t, plain_new = arrivals(acc, cfg)
    # account 1 (already active at the log's start, not an arrival) and 3 (a casual user) given creation times
    # after their first requests: both judged as without one; 2 given a credible one: its creation is its arrival
    forged = dict(acc, created_us=np.array([np.nan, 3 * DAY, 4 * DAY, 2 * DAY + 1.0]))
    t, new = arrivals(forged, cfg)
    assert new.tolist() == [False, False, True, False] and plain_new.tolist() == new.tolist()
    assert t.tolist() == [0.0, 24 * HOUR, 4 * DAY, 2 * DAY] and plain_t[[0, 1, 3]].tolist() == t[[0, 1, 3]].tolist()


def _one_class_accounts(acc, edges, k: int) -> np.ndarray:
    """``k`` background accounts of one class (user agent 0, capability-focused), first seen before day 15."""
    ua = edges["user_agent"][1]
    cap = acc["cap_any"] / (acc["n"] + 2.0) > 0.5
    pick = np.flatnonzero((ua == 0) & cap & (acc["first_us"] < 15 * DAY) & (acc["first_us"] > 2 * DAY))
    assert len(pick) >= k, len(pick)
    return pick[:k]


def test_a_forged_creation_hour_after_the_first_requests_makes_no_cohort():
    """800 accounts arriving by chance (no cohort: nothing links, checked). The attacker writes one creation hour,
    on day 19, for 40 accounts of one class that were first seen between days 2 and 15: impossible times, so no
    cohort. The same hour written on day 1 — before every one of their first requests — is the stated limit: those 40
    read as created together and link."""
    cfg = DetectConfig()
    acc, edges = _arrivals(np.random.default_rng(3), 800, 0)
    assert len(cohort_links(acc, edges, cfg)[0]) == 0
    victims = _one_class_accounts(acc, edges, 40)
    hour = np.linspace(0.0, HOUR * 0.9, 40)
    late = np.full(800, np.nan)
    late[victims] = 19 * DAY + hour
    assert len(cohort_links(dict(acc, created_us=late), edges, cfg)[0]) == 0
    early = np.full(800, np.nan)
    early[victims] = DAY + hour
    linked = set(cohort_links(dict(acc, created_us=early), edges, cfg)[0].tolist())
    assert set(victims.tolist()) <= linked


@pytest.fixture(scope="module")
def hackathon_log():
    """A log that starts a day into a hackathon (120 participants, created together the day before, working two
    days) beside 3,000 casual users; as in test_guard_heldout_negatives, no one is flagged there."""
    b = Builder(np.random.default_rng(0), load_pool(96_000_000))
    pop = Popularity.make(b.rng, b.pool, 800, 1.3)
    HL.casual(b, pop, 3000, days=10.0)
    HL.hackathon(b, pop, 120)
    log, labels, _ = b.tables()
    log = log.filter(pc.greater_equal(pc.cast(log["ts"], pa.int64()), T0 + DAY_US))
    return log, dict(zip(labels["account_id"].to_pylist(), labels["family"].to_pylist()))


def test_forged_creation_times_inside_the_log_flag_no_one(hackathon_log, monkeypatch):
    """The attacker writes the participants a creation time in one hour of the log's third day, after every one of
    their requests: read as the truth, they would be new accounts whose busiest day is a burst night (the log's
    first-day grace, ``signals.first_day_peak``, is for accounts not known to be new) and a cohort created together
    — the mutant that believes every time flags most of them. Read as unknown, the scan equals the scan of the log
    without the column, account for account."""
    log, fam = hackathon_log
    ts = pc.cast(log["ts"], pa.int64()).to_numpy()
    forged_at = T0 + 2 * DAY_US + 12 * HOUR_US
    part = np.array([fam[a] == "benign:hackathon" for a in log["account_id"].to_pylist()])
    assert part.sum() > 0 and ts[part].max() < forged_at  # after every participant's request
    created = pa.array(np.where(part, forged_at, 0), pa.int64(), mask=~part).cast(pa.timestamp("us", tz="UTC"))
    forged = log.append_column("account_created_at", created)

    def rows(result):
        return [(a.account_id, a.flagged, tuple(a.fired)) for a in result.accounts]
    plain, read = scan(log), scan(forged)
    assert not [a for a in plain.accounts if a.flagged]
    assert rows(read) == rows(plain)
    # scores equal up to the last bits: the engine's parallel float sums (reading seconds, gap deviations) add rows
    # in an order that varies from run to run, even between two scans of one log
    assert [a.score for a in read.accounts] == pytest.approx([a.score for a in plain.accounts], rel=1e-9, abs=1e-12)
    believe = lambda acc: np.asarray(acc["created_us"], np.float64) if "created_us" in acc else None  # noqa: E731
    for module in (signals, nullmodel, pauses):
        monkeypatch.setattr(module, "credible_created", believe)
    flagged = collections.Counter(fam[a.account_id] for a in scan(forged).accounts if a.flagged)
    assert flagged["benign:hackathon"] >= 60 and set(flagged) == {"benign:hackathon"}
