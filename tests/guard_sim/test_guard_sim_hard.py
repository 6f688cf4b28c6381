"""The simulator's hard negatives and campaign shapes (issues 13 and 18): each population and shape
has the property it is named for, measured on the generated table (not read from the generator)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from stillwatch.errors import GuardInputError
from stillwatch.guard_sim.hard import BATCH_INSTRUCTION, HEALTH_CHECK, HardConfig
from stillwatch.guard_sim.shapes import RESELLER_SUFFIXES
from stillwatch.guard_sim.simulate import SCENARIOS, SHAPE_FAMILIES, simulate

HOUR = 3_600_000_000


@pytest.fixture(scope="module")
def logs():
    return {s: simulate(s, 20_000, 5) for s in SHAPE_FAMILIES}


def rows_of(log: pa.Table, labels: pa.Table, family: str) -> pa.Table:
    acc = labels.filter(pc.equal(labels["family"], family))["account_id"]
    return log.filter(pc.is_in(log["account_id"], value_set=acc))


def per_account(t: pa.Table, aggs) -> pa.Table:
    return t.group_by("account_id").aggregate(aggs)


def gaps_s(t: pa.Table) -> np.ndarray:
    """Gaps between an account's consecutive requests, seconds."""
    s = t.sort_by([("account_id", "ascending"), ("ts", "ascending")])
    ts = s["ts"].cast(pa.int64()).to_numpy()
    a = s["account_id"].to_numpy(zero_copy_only=False)
    return np.diff(ts)[a[1:] == a[:-1]] / 1e6


def test_shape_families_hold_three_campaigns_and_every_hard_negative(logs):
    hard = {"benign:popular", "benign:homework", "benign:company_nat", "benign:eval_lab", "benign:app",
            "benign:monitor", "benign:reseller"}
    for shape, (log, labels) in logs.items():
        assert log.num_rows == 20_000
        camp = labels.filter(pc.is_valid(labels["campaign_id"]))
        assert set(camp["family"].to_pylist()) == {shape}
        assert pc.count_distinct(camp["campaign_id"]).as_py() == 3
        assert hard <= set(labels["family"].to_pylist()), shape
        assert labels.num_rows == pc.count_distinct(labels["account_id"]).as_py()
        assert set(labels["account_id"].to_pylist()) == set(log["account_id"].to_pylist())


def test_popular_prompts_are_shared_verbatim_by_unrelated_users(logs):
    log, labels = logs["spread"]
    pop = rows_of(log, labels, "benign:popular")
    senders = pop.group_by(["prompt", "account_id"]).aggregate([]).group_by("prompt").aggregate(
        [("account_id", "count")]).sort_by([("account_id_count", "descending")])["account_id_count"].to_numpy()
    # Zipf head: the top prompt has dozens of senders, the 20th still several; most prompts one sender
    assert senders[0] >= 30 and senders[19] >= 3
    assert np.mean(senders == 1) > 0.4
    # ... and the top prompts are sent by other populations too (companies, classes, apps)
    top = pop.group_by("prompt").aggregate([("account_id", "count_distinct")]).sort_by(
        [("account_id_count_distinct", "descending")])["prompt"][:50]
    others = log.filter(pc.is_in(log["prompt"], value_set=top))
    fam = dict(zip(labels["account_id"].to_pylist(), labels["family"].to_pylist()))
    assert len({fam[a] for a in others["account_id"].to_pylist()}) >= 3


def test_monitors_are_machine_paced_and_information_free(logs):
    log, labels = logs["keyrot"]
    mon = rows_of(log, labels, "benign:monitor")
    prompts = set(mon["prompt"].to_pylist())
    assert prompts <= {HEALTH_CHECK[0]} | {p for p in prompts if p.startswith(BATCH_INSTRUCTION)}
    assert len(prompts) <= 6
    assert max(len(r.split()) for r in set(mon["response"].to_pylist())) == 1
    g = gaps_s(mon)
    assert np.median(g) <= 600


def test_eval_labs_repeat_one_benchmark_at_machine_pace(logs):
    log, labels = logs["cohort"]
    lab = rows_of(log, labels, "benign:eval_lab")
    t = per_account(lab, [("prompt", "count_distinct"), ("prompt", "count")])
    assert np.all(t["prompt_count"].to_numpy() >= 2 * t["prompt_count_distinct"].to_numpy())
    assert np.median(gaps_s(lab)) < 5


def test_company_employees_share_nat_addresses_and_one_card(logs):
    log, labels = logs["burst"]
    co = rows_of(log, labels, "benign:company_nat")
    # group accounts by card: each card is shared by the whole company, behind <= 3 addresses
    by_card = co.group_by("payment_fingerprint").aggregate([("account_id", "count_distinct"), ("ip", "count_distinct")])
    assert by_card["account_id_count_distinct"].to_numpy().min() >= 3
    assert by_card["ip_count_distinct"].to_numpy().max() <= 3


def test_keyrot_rotates_keys_every_few_dozen_requests_behind_six_addresses(logs):
    log, labels = logs["keyrot"]
    k = rows_of(log, labels, "keyrot")
    keys = k.group_by("api_key_id").aggregate([("account_id", "count_distinct"), ("request_id", "count")])
    assert keys["account_id_count_distinct"].to_numpy().max() == 1  # a key belongs to one account
    assert keys["request_id_count"].to_numpy().max() <= 50
    acc = per_account(k, [("api_key_id", "count_distinct")])
    assert acc["api_key_id_count_distinct"].to_numpy().min() >= 3
    assert pc.count_distinct(k["ip"]).as_py() <= 3 * 6
    g = gaps_s(k)
    assert np.std(g) / np.mean(g) < 0.3  # clockwork


def test_reseller30_carries_a_thirty_percent_harvest(logs):
    log, labels = logs["reseller30"]
    r = rows_of(log, labels, "reseller30")
    harvest = pc.or_(pc.or_(pc.ends_with(r["prompt"], RESELLER_SUFFIXES[0]), pc.ends_with(r["prompt"], RESELLER_SUFFIXES[1])),
                     pc.or_(pc.ends_with(r["prompt"], RESELLER_SUFFIXES[2]), pc.ends_with(r["prompt"], RESELLER_SUFFIXES[3])))
    t = pa.table({"account_id": r["account_id"], "h": pc.cast(harvest, pa.int64())}).group_by("account_id").aggregate(
        [("h", "mean")])
    share = t["h_mean"].to_numpy()
    assert np.all((share > 0.25) & (share < 0.35))


def test_burst_accounts_send_hundreds_in_one_night_then_nothing(logs):
    log, labels = logs["burst"]
    b = rows_of(log, labels, "burst")
    t = b.sort_by([("account_id", "ascending"), ("ts", "ascending")])
    ts = t["ts"].cast(pa.int64()).to_numpy()
    acc = t["account_id"].to_numpy(zero_copy_only=False)
    last = np.r_[acc[1:] != acc[:-1], True]
    ends = ts[last]
    # rows of each account within 6 hours before its last request
    owner = np.cumsum(np.r_[True, acc[1:] != acc[:-1]]) - 1
    in_night = (ends[owner] - ts) <= 6 * HOUR
    night = np.bincount(owner, weights=in_night.astype(float))
    total = np.bincount(owner)
    assert night.min() >= 150
    assert np.any(total > night)  # some accounts had ordinary use before their night (aged accounts)


def test_cohort_accounts_are_first_seen_within_one_hour(logs):
    log, labels = logs["cohort"]
    c = rows_of(log, labels, "cohort")
    camp = dict(zip(labels["account_id"].to_pylist(), labels["campaign_id"].to_pylist()))
    first = per_account(c, [("ts", "min")])
    cid = np.array([camp[a] for a in first["account_id"].to_pylist()])
    t = first["ts_min"].cast(pa.int64()).to_numpy()
    for k in set(cid):
        assert np.ptp(t[cid == k]) <= HOUR
    assert np.std(np.log(gaps_s(c))) > 1.0  # then a human pace


def test_spread_prompts_are_distinct_over_many_accounts_and_keys(logs):
    log, labels = logs["spread"]
    s = rows_of(log, labels, "spread")
    assert pc.count_distinct(s["prompt"]).as_py() >= 0.99 * s.num_rows
    acc = per_account(s, [("api_key_id", "count_distinct"), ("ip", "count_distinct")])
    assert acc["api_key_id_count_distinct"].to_numpy().min() >= 3
    assert np.std(np.log(gaps_s(s))) > 1.0


def test_hard_negatives_can_be_added_to_any_family():
    log, labels = simulate("coding", 20_000, 3, hard_negatives=True)
    fam = set(labels["family"].to_pylist())
    assert {"benign:popular", "benign:monitor", "coding"} <= fam
    assert log.num_rows == 20_000
    plain, plain_labels = simulate("coding", 20_000, 3)
    assert not {f for f in plain_labels["family"].to_pylist() if f in ("benign:popular", "benign:monitor")}


def test_config_validation():
    with pytest.raises(GuardInputError, match="share"):
        HardConfig(share=0.95)
    with pytest.raises(GuardInputError, match="n_popular"):
        HardConfig(n_popular=5000, n_public=3000)
    from stillwatch.guard_sim.simulate import ScenarioConfig

    with pytest.raises(GuardInputError, match="shapes"):
        ScenarioConfig("x", "x", (), shapes=("nope",))
    assert all(SCENARIOS[s].hard is not None for s in SHAPE_FAMILIES)
