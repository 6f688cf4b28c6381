"""Detection on a fixture written independently of the simulator: who is flagged, how campaigns
are grouped, and that every finding is explained."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _fixtures_pipeline import make_log  # noqa: E402

from stillwatch.errors import GuardInputError  # noqa: E402
from stillwatch.guard.batch.scan import scan  # noqa: E402
from stillwatch.guard.features.rates import human_rate_multiple  # noqa: E402
from stillwatch.guard.score.config import (  # noqa: E402
    AccountConfig,
    CampaignConfig,
    DetectConfig,
    LinkConfig,
    LiveConfig,
    SplitConfig,
)
from stillwatch.guard.score.detect import detect  # noqa: E402


@pytest.fixture(scope="module", params=[(0, 12, 10), (7, 25, 6)], ids=["seed0", "seed7-bigger-A"])
def scanned(request):
    seed, a, b = request.param
    table, labels = make_log(seed=seed, camp_a=a, camp_b=b)
    return table, labels, scan(table)


def test_every_campaign_account_flagged_and_no_benign(scanned):
    _, labels, f = scanned
    flagged = {x.account_id for x in f.accounts if x.flagged}
    truth = {a for a, c in labels.items() if c}
    assert flagged == truth
    assert len(f.accounts) == len(labels)


def test_campaigns_recovered_exactly(scanned):
    _, labels, f = scanned
    want = {}
    for a, c in labels.items():
        if c:
            want.setdefault(c, set()).add(a)
    got = sorted(sorted(c.accounts) for c in f.campaigns)
    assert got == sorted(sorted(v) for v in want.values())
    for c in f.campaigns:
        assert c.campaign_id == f"campaign-{min(c.accounts)}"  # deterministic id
        for a in c.accounts:
            assert f.account(a).campaign_id == c.campaign_id


def test_scores_rank_campaign_accounts_first(scanned):
    _, labels, f = scanned
    pos = [x.score for x in f.accounts if labels[x.account_id]]
    neg = [x.score for x in f.accounts if not labels[x.account_id]]
    assert min(pos) > max(neg)
    assert all(0.0 <= x.score <= 1.0 for x in f.accounts)


def test_findings_are_explained(scanned):
    _, _, f = scanned
    doc = f.to_json()
    json.dumps(doc)  # JSON-safe
    assert len(doc["accounts"]) == len(f.flagged)
    for acc in doc["accounts"]:
        assert set(acc) >= {"account_id", "score", "campaign_id", "signals"}
        assert acc["fired"], acc
        assert all(isinstance(v, (int, float)) or v is None for v in acc["signals"].values())
    for c in doc["campaigns"]:
        assert set(c) >= {"campaign_id", "accounts", "exchanges", "human_rate_multiple", "signals"}
        assert "templated_share" in c["fired"] or "shared_infrastructure" in c["fired"]


def test_campaign_volume_and_human_multiple_computed_independently(scanned):
    table, labels, f = scanned
    acct = np.array(table["account_id"].to_pylist())
    ts = table["ts"].cast("int64").to_numpy()
    ctoks = table["completion_tokens"].to_numpy()
    for c in f.campaigns:
        m = np.isin(acct, list(c.accounts))
        assert c.exchanges == int(m.sum())
        demand = float(np.sum(5.0 + ctoks[m] * 0.75 / 238.0 * 60.0))
        want = human_rate_multiple(np.array([demand]), np.array([ts[m].max() - ts[m].min()]))[0]
        assert c.human_rate_multiple == pytest.approx(want, rel=1e-9)


def test_benign_hard_cases_stay_clean(scanned):
    _, _, f = scanned
    # a regular high-volume integration, a heavy human and an office behind one IP
    for a in ("bot-0", "power-0", "office-0", "office-1", "office-2"):
        assert not f.account(a).flagged, f.account(a)


def test_detect_without_edges_flags_only_on_own_evidence():
    ids = np.array(["a", "b"])
    hour = 3_600_000_000
    acc = {
        "n": np.array([5000, 10]), "first_us": np.array([0, 0]), "last_us": np.array([hour, 10 * hour]),
        "n_prompts": np.array([5000, 10]), "n_templates": np.array([1, 10]), "n_ip": np.array([1, 1]),
        "n_ua": np.array([1, 1]), "n_payment": np.array([1, 1]),
        "demand_s": np.array([5000 * 80.0, 10 * 80.0]), "shared_rows": np.array([0, 0]),
        "gap_n": np.array([4999, 9]), "gap_mean": np.array([720e3, 3600e6]), "gap_std": np.array([10e3, 7200e6]),
        "active_minutes": np.array([60, 10]), "active_hours": np.array([1, 10]),
        "cap_any": np.array([5000, 0]),
    }
    accounts, campaigns = detect(ids, acc, {}, DetectConfig())
    assert campaigns == []
    # 5000 capability-eliciting exchanges in an hour (~110 people's reading) by a regular script
    assert accounts[0].flagged and accounts[0].campaign_id is None
    assert "human_rate_multiple" in accounts[0].fired and "capability_share" in accounts[0].fired
    assert not accounts[1].flagged


def test_detect_config_validates():
    with pytest.raises(GuardInputError, match="flag_threshold"):
        DetectConfig(flag_threshold=1.5)


def _population(groups):
    """Account table + content edges from ``groups``: list of (n_accounts, rows_each, key_rows_each,
    key, ip_each_distinct, demand_s_per_row, cap_share, first_us_spread)."""
    hour = 3_600_000_000
    rows, ids, n, first, last, demand, cap, ea, ek, cnt, ip_a, ip_k = [], [], [], [], [], [], [], [], [], [], [], []
    i = 0
    for g, (na, per, on_key, key, distinct_ip, dem, capshare, spread) in enumerate(groups):
        for j in range(na):
            ids.append(f"g{g:02d}-{j:05d}")
            n.append(per)
            f0 = (j * spread) % (5 * 24 * hour)
            first.append(f0)
            last.append(f0 + 48 * hour)
            demand.append(per * dem)
            cap.append(per * capshare)
            if on_key:
                ea.append(i); ek.append(key); cnt.append(on_key)
            ip_a.append(i); ip_k.append(10_000_000 + (i if distinct_ip else g))
            i += 1
    order = np.argsort(np.array(ids))
    rank = np.empty(len(ids), np.int64); rank[order] = np.arange(len(ids))
    ids = np.array(ids)[order]
    col = lambda x: np.asarray(x, np.float64)[order]  # noqa: E731
    a = len(ids)
    acc = {"n": col(n), "first_us": col(first), "last_us": col(last), "n_prompts": col(n), "n_templates": col(n),
           "n_ip": np.ones(a), "n_ua": np.ones(a), "n_payment": np.ones(a), "demand_s": col(demand),
           "shared_rows": np.zeros(a), "gap_n": col(n) - 1, "gap_mean": np.full(a, 3600e6), "gap_std": np.full(a, 7200e6),
           "active_minutes": col(n), "active_hours": np.maximum(col(n) / 4.0, 1.0), "cap_any": col(cap)}  # sessions
    ea, ip_a = rank[np.array(ea, np.int64)], rank[np.array(ip_a, np.int64)]
    acc["shared_rows"][ea] = np.array(cnt, np.float64)
    edges = {"tpl_prefix": (ea, np.array(ek, np.int64), np.ones(len(ea)), np.array(cnt, np.float64), np.array(cnt, np.float64)),
             "ip": (ip_a, np.array(ip_k, np.int64), np.zeros(len(ip_a)), np.ones(len(ip_a)), np.ones(len(ip_a)))}
    return ids, acc, edges


def test_common_phrase_does_not_link_but_scaffold_and_reseller_reuse_do():
    ids, acc, edges = _population([
        # 3,000 unrelated users, 30 requests each, 2 of them start with the same everyday phrase
        (3000, 30, 2, 1, True, 80.0, 0.1, 7_919_000_000),
        # 200 sybils, 6 requests each, all on one scaffold (focus 1.0), 400-token answers
        (200, 6, 6, 2, True, 85.0, 0.9, 1_000_000),
        # 4 reseller accounts: 900 requests, 300 on a shared scaffold (focus 1/3, reuse 300)
        (4, 900, 300, 3, True, 85.0, 0.3, 1_000_000),
    ])
    accounts, campaigns = detect(ids, acc, edges, DetectConfig())
    by = {a.account_id: a for a in accounts}
    common = [by[i] for i in ids if i.startswith("g00")]
    assert not any(a.flagged for a in common)
    assert all(a.campaign_id is None for a in common)
    sizes = sorted(len(c.accounts) for c in campaigns)
    assert sizes == [4, 200]
    for c in campaigns:
        assert all(x.startswith("g01") for x in c.accounts) or all(x.startswith("g02") for x in c.accounts)
        assert "reading_hours" in c.signals and c.fired


def test_swarm_outranks_one_batch_job_and_batch_job_stays_below_flag():
    hour = 3_600_000_000
    # one firm's batch job: 3,000 short-answer requests in 10 hours on its own template, at machine pace
    ids_b = np.array(["firm"])
    acc_b = {"n": np.array([3000.0]), "first_us": np.array([0.0]), "last_us": np.array([10.0 * hour]),
             "n_prompts": np.array([3000.0]), "n_templates": np.array([1.0]), "n_ip": np.ones(1), "n_ua": np.ones(1),
             "n_payment": np.ones(1), "demand_s": np.array([3000 * 10.0]), "shared_rows": np.zeros(1),
             "gap_n": np.array([2999.0]), "gap_mean": np.array([12e6]), "gap_std": np.array([1e6]),
             "active_minutes": np.array([600.0]), "active_hours": np.array([10.0]), "cap_any": np.array([3000.0])}
    firm, _ = detect(ids_b, acc_b, {}, DetectConfig())
    assert not firm[0].flagged
    # a 5,000-account swarm with 6 requests each on a few scaffolds, no shared infrastructure
    ids, acc, edges = _population([(5000, 6, 4, 7, True, 85.0, 0.4, 97_000_000), (50, 20, 1, 8, True, 80.0, 0.1, 1)])
    accounts, campaigns = detect(ids, acc, edges, DetectConfig())
    swarm = [a for a in accounts if a.account_id.startswith("g00")]
    assert min(a.score for a in swarm) > firm[0].score
    assert all(a.flagged for a in swarm)
    assert len(campaigns) == 1 and len(campaigns[0].accounts) == 5000


def test_label_propagation_separates_two_operators_sharing_one_scaffold():
    from stillwatch.guard.score.cluster import components, label_propagation

    rng = np.random.default_rng(3)
    ea, ek = [], []
    # operator A: accounts 0..59 over keys 0..9; operator B: accounts 60..99 over keys 100..109
    for acc in range(100):
        base = 0 if acc < 60 else 100
        for k in rng.choice(10, size=6, replace=False):
            ea.append(acc)
            ek.append(base + int(k))
    # a public scaffold (key 999) used once by three accounts of each operator: a weak bridge
    for acc in (1, 2, 3, 61, 62, 63):
        ea.append(acc)
        ek.append(999)
    ea, ek = np.array(ea), np.array(ek)
    w = np.ones(len(ea))
    assert len(np.unique(components(100, ea, ek))) == 1
    lab = label_propagation(100, ea, ek, w)
    assert len(np.unique(lab[:60])) == 1 and len(np.unique(lab[60:])) == 1
    assert lab[0] != lab[99]
    # one operator alone stays one community
    one = label_propagation(60, ea[ea < 60], ek[ea < 60], w[ea < 60])
    assert len(np.unique(one)) == 1


def test_shared_infrastructure_counts_more_for_machine_paced_accounts():
    # two groups of 12 accounts, each group on one shared IP and one scaffold; identical except pacing
    ids, acc, edges = _population([(12, 60, 60, 1, False, 85.0, 0.2, 1_000_000), (12, 60, 60, 2, False, 85.0, 0.2, 1_000_000)])
    machine = np.array([i.startswith("g00") for i in ids])
    acc["gap_std"] = np.where(machine, 0.05 * acc["gap_mean"], 2.0 * acc["gap_mean"])
    accounts, campaigns = detect(ids, acc, edges, DetectConfig(flag_threshold=0.0))
    by = {c.accounts[0][:3]: c for c in campaigns}
    assert set(by) == {"g00", "g01"}
    assert by["g00"].signals["machine_pacing"] > 0.9 and by["g01"].signals["machine_pacing"] == 0.0
    assert by["g00"].signals["shared_infrastructure"] == by["g01"].signals["shared_infrastructure"] == 1.0
    assert by["g00"].score > by["g01"].score


@pytest.mark.parametrize("group,field,value", [
    (LinkConfig, "focus", 1.5), (LinkConfig, "reuse", 0.0), (CampaignConfig, "full_size", 2.0),
    (SplitConfig, "cohesion", -0.1), (LiveConfig, "reuse", 2.0), (CampaignConfig, "hetero_sd", 0.0),
    (AccountConfig, "capability", 1.01), (LinkConfig, "coherence_min_users", 0), (SplitConfig, "min_accounts", 1),
])
def test_detect_config_groups_validate_with_the_field_the_value_and_the_range(group, field, value):
    with pytest.raises(GuardInputError, match=rf"{group.__name__}\.{field} must be .*got {value!r}"):
        group(**{field: value})


def test_config_errors_are_input_errors():
    from stillwatch.errors import GuardError, InputError

    with pytest.raises(InputError):
        DetectConfig(flag_threshold=-0.5)
    assert issubclass(GuardInputError, GuardError)
    with pytest.raises(GuardInputError, match="DetectConfig.link must be a LinkConfig"):
        DetectConfig(link=SplitConfig())


def test_account_signals_report_the_sampled_rows_the_shares_came_from():
    from stillwatch.guard.score.detect import account_signals

    base = {"n": np.array([100.0, 5.0]), "first_us": np.array([0.0, 0.0]), "last_us": np.array([3.6e9, 3.6e9]),
            "gap_n": np.array([99.0, 4.0]), "gap_mean": np.array([1.0, 1.0]), "gap_std": np.array([1.0, 1.0]),
            "shared_rows": np.array([50.0, 5.0]), "cap_any": np.array([0.0, 0.0]), "demand_s": np.array([10.0, 1.0]),
            "n_prompts": np.array([90.0, 5.0]), "n_ip": np.array([1.0, 1.0])}
    with_m = account_signals(base | {"sampled_rows": np.array([32.0, 5.0])}, DetectConfig())
    assert with_m["sampled_rows"].tolist() == [32.0, 5.0]
    # without a sample (all-row features) every row was read: m = n
    assert account_signals(base, DetectConfig())["sampled_rows"].tolist() == [100.0, 5.0]


def _template_users(n_rows, firsts, share_per_key, n_keys=5):
    """Accounts that are fully templated and each use two of ``n_keys`` shared templates, each key
    carrying ``share_per_key`` of the account's rows; no shared infrastructure, human gaps."""
    a = len(n_rows)
    n = np.asarray(n_rows, np.float64)
    acc = {"n": n, "first_us": np.asarray(firsts, np.float64), "last_us": np.asarray(firsts, np.float64) + 5 * 86_400e6,
           "gap_n": n - 1, "gap_mean": np.full(a, 3_600e6), "gap_std": np.full(a, 9_000e6),
           "shared_rows": n.copy(), "cap_any": np.zeros(a), "demand_s": n * 300.0, "n_prompts": n.copy(),
           "n_templates": n.copy(), "n_ip": np.ones(a), "n_ua": np.ones(a), "n_payment": np.zeros(a),
           "active_minutes": n.copy(), "active_hours": np.maximum(np.round(n / 4.0), 1.0), "sampled_rows": n.copy()}  # sessions
    ea = np.repeat(np.arange(a), 2)
    ek = np.array([(i + j) % n_keys for i in range(a) for j in (0, 1)], np.int64) + 1000
    cnt = np.round(n[ea] * share_per_key)
    e = (ea, ek, np.zeros(len(ea)), cnt, np.full(len(ea), 50.0))
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0))
    edges = {"tpl_prefix": e, "tpl_suffix": empty, "near_dup": empty, "ip": empty, "user_agent": empty, "payment": empty}
    return np.array([f"u{i:03d}" for i in range(a)]), acc, edges


def test_independent_people_sharing_famous_prompts_are_not_a_campaign():
    """A public prompt library: many independent people put a small share of their traffic on a few
    famous templates (heavy-tailed volumes, unsynchronised onsets, human pacing): common language.
    The same templates carrying most of each account's traffic, switched on together with even
    volumes, is a scripted campaign."""
    rng = np.random.default_rng(3)
    a = 80
    people = _template_users(np.round(np.exp(rng.normal(3.5, 1.2, a))) + 5,
                             rng.uniform(0, 6 * 86_400e6, a), share_per_key=0.06)
    accounts, campaigns = detect(*people, DetectConfig())
    assert not campaigns
    assert not any(x.flagged for x in accounts)
    script = _template_users(np.full(a, 60.0), np.full(a, 86_400e6) + rng.uniform(0, 600e6, a), share_per_key=0.45)
    accounts, campaigns = detect(*script, DetectConfig())
    assert len(campaigns) == 1 and len(campaigns[0].accounts) == a
    assert campaigns[0].signals["scripted_share"] > 0.3
