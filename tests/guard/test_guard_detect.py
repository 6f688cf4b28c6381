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

from stillwatch.guard.detect import DetectConfig, detect  # noqa: E402
from stillwatch.guard.rates import human_rate_multiple  # noqa: E402
from stillwatch.guard.scan import scan  # noqa: E402


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
    accounts, campaigns = detect(ids, acc, {}, None, DetectConfig())
    assert campaigns == []
    # 5000 capability-eliciting exchanges in an hour (~110 people's reading) by a regular script
    assert accounts[0].flagged and accounts[0].campaign_id is None
    assert "human_rate_multiple" in accounts[0].fired and "capability_share" in accounts[0].fired
    assert not accounts[1].flagged


def test_detect_config_validates():
    with pytest.raises(ValueError, match="flag_threshold"):
        DetectConfig(flag_threshold=1.5)
