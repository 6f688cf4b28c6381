"""Issues 13 and 18, test-sized: the detector on realistic logs built apart from the simulator
(``tests/guard_heldout_logs.py``: real ShareGPT prompts and answers, popular prompts shared verbatim
across unrelated users).

* Popular public prompts from a heavy-tailed pool and **zero campaigns** must flag nothing (issue 13).
* Machine-paced but information-free automation (health checks, fixed batch jobs) must flag none of
  it, while the same volume of distinct capability-seeking prompts spread over many accounts and keys
  at a human pace per account is flagged (issue 18).

Each log is first checked to be what it claims (computed from the table, not from the builders'
parameters), so a test cannot pass because its fixture lost the property under test.
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
from guard_heldout_logs import (automation_vs_extraction_log, popular_benign_log,  # noqa: E402
                                popular_with_scaffold_campaign_log)

from stillwatch.guard.batch.scan import scan  # noqa: E402

POOL_BYTES = 96_000_000  # ~35k real pairs, ~8.5k capability-seeking; ~3 s to read


@pytest.fixture(scope="module")
def pool():
    return load_pool(POOL_BYTES)


@pytest.fixture(scope="module")
def popular(pool):
    log, labels, extras = popular_benign_log(pool)
    return log, labels, extras, scan(log)


@pytest.fixture(scope="module")
def scaffolded(pool):
    log, labels, extras = popular_with_scaffold_campaign_log(pool)
    return log, labels, extras, scan(log)


@pytest.fixture(scope="module")
def automation(pool):
    log, labels, extras = automation_vs_extraction_log(pool)
    return log, labels, extras, scan(log)


def _family(labels: pa.Table) -> dict[str, str]:
    return dict(zip(labels["account_id"].to_pylist(), labels["family"].to_pylist()))


def _row_family(log: pa.Table, labels: pa.Table) -> np.ndarray:
    """The family of each row's account (a join on account_id)."""
    pos = pc.index_in(log["account_id"], value_set=labels["account_id"]).to_numpy()
    return labels["family"].to_numpy(zero_copy_only=False).astype(str)[pos]


def _senders(log: pa.Table) -> pa.Table:
    """prompt -> number of distinct accounts that sent it verbatim, most shared first."""
    pairs = log.group_by(["prompt", "account_id"]).aggregate([])
    return pairs.group_by("prompt").aggregate([("account_id", "count")]).sort_by([("account_id_count", "descending")])


def _flagged_by_family(findings, labels) -> collections.Counter:
    fam = _family(labels)
    return collections.Counter(fam[a.account_id] for a in findings.accounts if a.flagged)


# ------------------------------------------------------------------------ issue 13: popular prompts
def test_popular_log_shares_real_prompts_across_unrelated_populations(popular):
    log, labels, extras, _ = popular
    assert labels["campaign_id"].null_count == labels.num_rows  # zero campaigns
    senders = _senders(log)
    counts = senders["account_id_count"].to_numpy()
    # heavy tail: the most popular prompt is sent verbatim by hundreds of accounts, the tenth by dozens,
    # while most distinct prompts have a single sender
    assert counts[0] >= 100 and counts[9] >= 20
    assert np.mean(counts == 1) > 0.5
    # ... and the top prompts are shared across unrelated populations
    top = senders["prompt"][:10]
    rows = log.filter(pc.is_in(log["prompt"], value_set=top))
    fam = _family(labels)
    pops = {fam[a] for a in rows["account_id"].to_pylist()}
    assert {"benign:casual", "benign:power"} <= pops and len(pops) >= 3
    # the side tables cover every row and every account
    assert extras["request_params"].num_rows == log.num_rows
    assert set(extras["accounts"]["account_id"].to_pylist()) == set(fam)


def test_popular_prompts_without_campaigns_flag_nothing(popular):
    _, labels, _, findings = popular
    assert not _flagged_by_family(findings, labels)
    assert findings.campaigns == ()


def test_scaffold_campaign_shares_popular_questions_with_benign_users(scaffolded):
    log, labels, _, _ = scaffolded
    is_c = _row_family(log, labels) == "wrapped"
    prompts = np.asarray(log["prompt"].to_pylist(), dtype=object)
    benign_prompts = set(prompts[~is_c])
    # a campaign prompt wraps a public instruction: count those whose wrapped text a benign user sent verbatim
    inner = [p for p in benign_prompts if len(p) >= 30]
    camp_text = "\x00".join(prompts[is_c])
    shared = sum(p in camp_text for p in inner[:3000])
    assert shared >= 100
    assert len(set(prompts[is_c])) == is_c.sum()  # distinct within the campaign


def test_no_benign_account_joins_a_campaign_through_popular_questions(scaffolded):
    _, labels, _, findings = scaffolded
    fam = _family(labels)
    assert not {fam[a.account_id] for a in findings.accounts if a.flagged or a.campaign_id} - {"wrapped"}
    flagged = _flagged_by_family(findings, labels)
    assert flagged["wrapped"] == 40


# ------------------------------------------------------------- issue 18: automation vs extraction
def test_automation_log_is_what_it_claims(automation):
    log, labels, _, _ = automation
    fam = _row_family(log, labels)
    mon, spr = fam == "benign:monitor", fam == "spread"
    # the same volume (within 10 %)
    assert abs(mon.sum() - spr.sum()) <= 0.1 * mon.sum()
    # automation: a handful of fixed prompts, one-token replies, machine pace (gaps within 5 % of their median)
    prompts = np.asarray(log["prompt"].to_pylist(), dtype=object)
    assert len(set(prompts[mon])) <= 7
    assert log["completion_tokens"].to_numpy()[mon].max() == 1
    # extraction: every prompt distinct, long real answers, >= 3 keys per account, human gaps
    assert len(set(prompts[spr])) == spr.sum()
    assert np.median(log["completion_tokens"].to_numpy()[spr]) > 100
    sub = log.filter(pa.array(spr))
    keys = sub.group_by("account_id").aggregate([("api_key_id", "count_distinct")])
    assert keys["api_key_id_count_distinct"].to_numpy().min() >= 3
    ts = sub.sort_by([("account_id", "ascending"), ("ts", "ascending")])
    t = ts["ts"].cast(pa.int64()).to_numpy()
    same = ts["account_id"].to_numpy(zero_copy_only=False)[1:] == ts["account_id"].to_numpy(zero_copy_only=False)[:-1]
    gaps = np.diff(t)[same] / 1e6
    assert np.std(np.log(gaps)) > 1.0  # bursty, human (a clock's log-gaps barely vary)


def test_information_free_automation_is_not_flagged(automation):
    _, labels, _, findings = automation
    flagged = _flagged_by_family(findings, labels)
    assert flagged["benign:monitor"] == 0
    assert flagged["benign:casual"] <= 0.01 * 600


def test_distinct_capability_prompts_spread_over_accounts_and_keys_are_flagged(automation):
    """Human-paced accounts that share no item, address or time are grouped by when accounts holding several keys side
    by side arrive or leave (score/grouping.py): here only part of the 80 leave together; the others stay active to
    the log's end and are first seen in its first days, so neither their arrival nor their departure is observed.
    They join on the group's user agent (score/agents.py): no other account in this log holds several keys, so the
    several-key test cannot speak, and among every account outside the group the carriers are all on the
    operator's agent (H0'). Measured: 20 of 80 without H0' (this test was an expected failure), 80 with it, one
    campaign, no casual user or monitor."""
    _, labels, _, findings = automation
    flagged = _flagged_by_family(findings, labels)
    n_spread = sum(f == "spread" for f in labels["family"].to_pylist())
    assert flagged["spread"] >= 0.95 * n_spread
    assert flagged["benign:casual"] == 0 and flagged["benign:monitor"] == 0
    fam = _family(labels)
    assert len({a.campaign_id for a in findings.accounts if a.flagged and fam[a.account_id] == "spread"}) == 1


# ------------------------------------------------------------------------ issue 13: one cohort, one campaign
def test_one_cohort_is_one_campaign_whatever_its_arrival_cells(pool):
    """Held-out D's cohort shape (60 accounts first seen within one hour, distinct capability prompts of
    the public pool, their own residential addresses) among 3,000 casual users: one campaign. With every
    linking edge in the bridge split (score/bridge.py), its null-model arrival cells — each account in
    one cell by construction, never a draw from one pool — cut it in two (39 / 21 here; 30 / 28 on D)."""
    b = Builder(np.random.default_rng(31), pool)
    HL.casual(b, Popularity.make(b.rng, b.pool, 3000, 1.0), 3000)
    HL.cohort(b, 60, "cohort-0")
    log, labels, _ = b.tables()
    camp = dict(zip(labels["account_id"].to_pylist(), labels["campaign_id"].to_pylist()))
    ids = [a for a, c in camp.items() if c == "cohort-0"]
    first = log.group_by("account_id").aggregate([("ts", "min")])
    t = dict(zip(first["account_id"].to_pylist(), first["ts_min"].cast(pa.int64()).to_pylist()))
    assert len(ids) == 60 and max(t[a] for a in ids) - min(t[a] for a in ids) <= 2 * 3600 * 10**6  # what it claims
    d = {a.account_id: a for a in scan(log).accounts}
    assert all(d[a].flagged for a in ids)
    assert len({d[a].campaign_id for a in ids}) == 1
    assert not [a for a, c in camp.items() if c is None and d[a].flagged]


def test_an_event_already_under_way_when_the_log_starts_is_not_a_burst_night(pool, monkeypatch):
    """A log that starts one day into a hackathon (120 participants created together the day before, working two
    days; tests/guard_heldout_logs.hackathon) beside 3,000 casual users: every participant's requests in the log
    fall in its first day and it is silent after — "burst-then-dormant" to a test that cannot see the day before.
    A busiest day that began in the log's first day is no dormancy evidence (signals.first_day_peak): none flagged;
    without it (the mutant) 28 participants were one burst night."""
    from guard_heldout_base import DAY, T0
    from stillwatch.guard.score import signals

    b = Builder(np.random.default_rng(0), pool)
    pop = Popularity.make(b.rng, b.pool, 800, 1.3)
    HL.casual(b, pop, 3000, days=10.0)
    HL.hackathon(b, pop, 120)
    log, labels, _ = b.tables()
    log = log.filter(pc.greater_equal(pc.cast(log["ts"], pa.int64()), T0 + DAY))
    fam = dict(zip(labels["account_id"].to_pylist(), labels["family"].to_pylist()))

    def flagged():
        return collections.Counter(fam[a.account_id] for a in scan(log).accounts if a.flagged)
    assert not flagged()
    monkeypatch.setattr(signals, "first_day_peak", lambda first, *a: np.zeros(len(first), bool))
    assert flagged()["benign:hackathon"] >= 10
