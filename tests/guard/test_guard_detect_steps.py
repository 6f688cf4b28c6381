"""Each step of detect() on its own, with expected values worked out here from the documented
formulas (stillwatch.guard.score.detect's docstring) on hand-sized inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stillwatch.guard.score.campaign_signals import CampaignSignals, campaign_step
from stillwatch.guard.score.config import DetectConfig
from stillwatch.guard.score.detect import (
    AccountSignals,
    OwnScore,
    Scores,
    account_step,
    detect,
    findings_step,
    link_step,
    own_score_step,
    score_step,
)
from stillwatch.guard.score.links import Links
from stillwatch.guard.score.replays import with_own_share

CFG = DetectConfig()
HOUR = 3_600_000_000.0


def _acc(n, first=None, gap_cv=None, gap_n=None, shared=None, cap=None, demand=None):
    n = np.asarray(n, np.float64)
    a = len(n)
    first = np.zeros(a) if first is None else np.asarray(first, np.float64)
    gap_mean = np.full(a, 60e6)
    return {"n": n, "first_us": first, "last_us": first + HOUR, "gap_n": n - 1 if gap_n is None else np.asarray(gap_n, float),
            "gap_mean": gap_mean, "gap_std": gap_mean * (np.full(a, 3.0) if gap_cv is None else np.asarray(gap_cv, float)),
            "shared_rows": np.zeros(a) if shared is None else np.asarray(shared, np.float64),
            "cap_any": np.zeros(a) if cap is None else np.asarray(cap, np.float64),
            "demand_s": np.ones(a) if demand is None else np.asarray(demand, np.float64),
            "n_prompts": n.copy(), "n_ip": np.ones(a), "active_minutes": np.minimum(n, 60.0), "active_hours": np.ones(a)}


def _noisy_or(*p):
    out = 1.0
    for x in p:
        out *= 1.0 - min(max(x, 0.0), 1.0)
    return 1.0 - out


def test_account_step_shared_payment_and_who_may_link_through_an_address():
    # accounts 0-2 pay with card 7, account 3 with card 8; gaps: 0 clockwork over 49 gaps, 1 clockwork
    # over only 9 gaps, 2-3 bursty (CV 3)
    acc = _acc([50, 10, 50, 50], gap_cv=[0.1, 0.1, 3.0, 3.0])
    edges = {"payment": (np.array([0, 1, 2, 3]), np.array([7, 7, 7, 8]))}
    st = account_step(acc, edges, CFG)
    assert st.signals["shared_payment"].tolist() == [2.0, 2.0, 2.0, 0.0]  # other accounts on the card
    assert st.payment.tolist() == [1.0, 1.0, 1.0, 0.0]  # 0.5 for one other, 1 for >= 2
    assert st.signals["timing_regularity"].tolist() == pytest.approx([0.9, 0.9, 0.0, 0.0])
    # linking through an address needs regularity >= 0.5 over >= link.pacing_gaps (20) gaps
    assert st.machine_paced.tolist() == [True, False, False, False]


def test_link_step_links_machine_paced_accounts_behind_one_address_only():
    acc = _acc([50, 50, 50, 50], gap_cv=[0.1, 0.1, 3.0, 3.0])
    edges = {"ip": (np.array([0, 1, 2, 3]), np.array([5, 5, 6, 6]))}
    lk = link_step(acc, edges, account_step(acc, edges, CFG), CFG)
    assert lk.labels.tolist() == [0, 0, 2, 3]  # the bursty pair behind address 6 stays apart
    assert lk.address_linked.tolist() == [True, True, False, False]


def test_own_score_step_is_the_geometric_mean_of_harvest_and_coordination():
    n = 100.0
    # account 0 asks a new question every time; account 1 repeats one prompt (novelty 1/100: a monitor)
    sig = {"exchanges": np.array([n, n]), "capability_share": np.array([0.0, 0.0]),
           "machine_pacing": np.array([0.9, 0.9]), "human_rate_multiple": np.array([0.0, 0.0]),
           "novelty": np.array([1.0, 0.01])}
    acct = AccountSignals(signals=sig, volume=np.zeros(2), payment=np.array([0.5, 0.5]),
                          machine_paced=np.array([True, True]), extracted=np.zeros(2),
                          hidden={"burst": np.zeros(2), "key_rotation": np.zeros(2), "fast_substream": np.ones(2),
                                  "component": np.zeros(2)})
    lk = Links(labels=np.array([0, 1]), scripted=np.array([100.0, 100.0]), plain_rows=np.array([100.0, 100.0]),
               reuse=np.zeros(2), address_linked=np.zeros(2, bool))
    own = own_score_step(acct, lk, CFG)
    e_script = (100 / 102) * (102 / 108)  # scripted share shrunk by 8 pseudo-rows
    harvest = _noisy_or(0.0, 0.0, 0.3 * 0.9)
    coordination = _noisy_or(0.8 * e_script, 0.3 * 0.5, 0.0)
    assert own.score[0] == pytest.approx(math.sqrt(harvest * coordination))
    # harvest requires extraction: weighted by novelty, the share of new information (pacing and
    # scripting alone are context); the fast sub-stream is context only, never scored
    assert own.score[1] == pytest.approx(math.sqrt(harvest * 0.01 * coordination))
    assert own.signals["scripted_share"][0] == pytest.approx(100 / 102)
    assert list(own.evidence) == ["scripted_share", "capability_share", "human_rate_multiple",
                                  "extraction_multiple", "machine_pacing", "shared_payment", "burst", "key_rotation",
                                  "crowded_component"]
    # a burst and key hand-overs are coordination evidence (weights account.burst, account.key_rotation)
    acct2 = AccountSignals(signals=sig, volume=np.zeros(2), payment=np.array([0.5, 0.5]),
                           machine_paced=np.array([True, True]), extracted=np.zeros(2),
                           hidden={"burst": np.array([1.0, 0.0]), "key_rotation": np.array([0.0, 0.5]),
                                   "fast_substream": np.zeros(2), "component": np.zeros(2)})
    own2 = own_score_step(acct2, lk, CFG)
    h0 = _noisy_or(0.0, 0.0, 0.3 * 0.9)  # a burst is coordination evidence only (no capability here either)
    assert own2.score[0] == pytest.approx(math.sqrt(h0 * _noisy_or(0.8 * e_script, 0.3 * 0.5, 0.8 * 1.0)))
    assert own2.score[1] == pytest.approx(math.sqrt(h0 * 0.01 * _noisy_or(0.8 * e_script, 0.3 * 0.5, 0.8 * 0.5)))
    # a burst does not open the capability gate: what was obtained does (a batch job of short labels sent in one
    # night is machine scale in requests, not in information); the gate is max(extracted, machine pacing)
    w = CFG.account
    cap_sig = dict(sig, capability_share=np.array([1.0, 1.0]), machine_pacing=np.zeros(2), novelty=np.ones(2))
    acct4 = AccountSignals(signals=cap_sig, volume=np.zeros(2), payment=np.zeros(2),
                           machine_paced=np.array([False, False]), extracted=np.array([0.05, 0.9]),
                           hidden={"burst": np.ones(2), "key_rotation": np.zeros(2), "fast_substream": np.zeros(2),
                                   "component": np.zeros(2)})
    own4 = own_score_step(acct4, Links(labels=np.array([0, 1]), scripted=np.zeros(2), plain_rows=np.full(2, 100.0),
                                       reuse=np.zeros(2), address_linked=np.zeros(2, bool)), CFG)
    cap = own4.evidence["capability_share"]
    for i, x in enumerate((0.05, 0.9)):
        h = _noisy_or(w.capability * cap[i] * math.sqrt(x), w.volume * x, 0.0)
        assert own4.score[i] == pytest.approx(math.sqrt(h * _noisy_or(w.burst * 1.0)))
    assert own4.score[0] < CFG.flag_threshold <= own4.score[1]
    # a crowded component (weight account.component 0.8) is harvest and coordination at once, and its
    # harvest is not discounted by the account's overall novelty (it carries its own)
    acct3 = AccountSignals(signals=sig, volume=np.zeros(2), payment=np.array([0.5, 0.5]),
                           machine_paced=np.array([True, True]), extracted=np.zeros(2),
                           hidden={"burst": np.zeros(2), "key_rotation": np.zeros(2), "fast_substream": np.zeros(2),
                                   "component": np.array([0.0, 0.5])})
    own3 = own_score_step(acct3, lk, CFG)
    assert own3.score[0] == pytest.approx(own.score[0])
    assert own3.score[1] == pytest.approx(math.sqrt(_noisy_or(h0 * 0.01, 0.8 * 0.5)
                                                    * _noisy_or(0.8 * e_script, 0.3 * 0.5, 0.8 * 0.5)))


def test_campaign_step_cluster_signals():
    # cluster {0,1,2,3} switched on together on day 2 with equal volumes, three on one IP that no one
    # else uses; account 4 alone, opening the log (onset synchrony counts arrivals only:
    # score/nullmodel.arrivals); 95 more accounts alone on their own addresses (the log's background)
    pad = 95
    acc = _acc([10, 10, 10, 10] + [5] * (1 + pad), first=[48 * HOUR] * 4 + [0] * (1 + pad),
               shared=[5, 5, 5, 5] + [0] * (1 + pad), cap=[10, 10] + [0] * (3 + pad))
    a = 5 + pad
    edges = {"ip": (np.array([0, 1, 2, 3, 4]), np.array([1, 1, 1, 2, 3]))}
    lk = Links(labels=np.array([0, 0, 0, 0] + list(range(4, a))), scripted=np.zeros(a), plain_rows=np.zeros(a),
               reuse=np.array([40.0, 40.0] + [0.0] * (a - 2)), address_linked=np.zeros(a, bool))
    signals = {"exchanges": acc["n"], "machine_pacing": np.zeros(a),
               "scripted_share": np.array([.6, .6, .2, .2] + [0] * (1 + pad))}
    cs = campaign_step(acc, edges, signals, lk, CFG)
    assert cs.size[:5].tolist() == [4, 4, 4, 4, 1]
    assert cs.exchanges[:5].tolist() == [40, 40, 40, 40, 5]
    assert cs.templated[0] == pytest.approx(20 / 42) and cs.capability[0] == pytest.approx(20 / 42)
    # 3 of 4 members on IP 1, which 3 of the log's 100 accounts use: hypergeometric tail
    # C(3,3) C(97,1) / C(100,4) ~ 2.5e-5 <= alpha / (1 cluster x 4 kinds); share beyond chance
    # (3 - E) / (4 - E) with E = 4 x 3 / 100 members on it by chance (score/infra_null.py)
    p = math.comb(97, 1) / math.comb(100, 4)
    assert p <= CFG.link.alpha / 4
    e = 4 * 3 / 100
    assert cs.infra[:5].tolist() == pytest.approx([(3 - e) / (4 - e)] * 4 + [0.0])
    # human-paced members: shared infrastructure discounted by office_discount
    assert cs.e_infra[0] == pytest.approx((3 - e) / (4 - e) * 0.5)
    assert cs.onset[0] == 1.0 and cs.e_sync[0] == 1.0 and cs.e_sync[4] == 0.0
    assert cs.sd_ln[0] == 0.0 and cs.e_hom[0] == 1.0
    assert cs.scripted[0] == pytest.approx(0.2)  # lower median of (.2, .2, .6, .6)
    assert cs.e_reuse[0] == 0.0  # lower median of reuse / link.reuse (0, 0, 2, 2 -> clipped 1)
    assert cs.crowding.tolist() == [1.0] * a  # not measured without cluster minutes
    assert cs.hours[0] == pytest.approx(4 / 3600)


def test_campaign_step_a_popular_value_is_no_shared_infrastructure():
    # the same cluster in a log of 8 accounts where IP 1 is everybody's (a carrier NAT): 3 of 4 members
    # on it is what chance gives (P(X >= 3) for Hypergeom(8, 7, 4) = 1)
    acc = _acc([10, 10, 10, 10, 5, 5, 5, 5], first=[48 * HOUR] * 4 + [0] * 4)
    edges = {"ip": (np.arange(8), np.array([1, 1, 1, 2, 1, 1, 1, 1]))}
    lk = Links(labels=np.array([0, 0, 0, 0, 4, 5, 6, 7]), scripted=np.zeros(8), plain_rows=np.zeros(8),
               reuse=np.zeros(8), address_linked=np.zeros(8, bool))
    signals = {"exchanges": acc["n"], "machine_pacing": np.ones(8), "scripted_share": np.zeros(8)}
    cs = campaign_step(acc, edges, signals, lk, CFG)
    assert cs.infra.tolist() == [0.0] * 8 and cs.e_infra.tolist() == [0.0] * 8


def _cs(**kw) -> CampaignSignals:
    a = 3
    base = {f: np.zeros(a) for f in CampaignSignals.__dataclass_fields__}
    base.update(labels=np.array([0, 0, 2]), size=np.array([2, 2, 1]), exchanges=np.array([200.0, 200.0, 5.0]),
                crowding=np.ones(a))
    base.update({k: np.asarray(v, np.float64) for k, v in kw.items()})
    return CampaignSignals(**base)


def test_score_step_campaign_score_and_membership():
    # the capability term's volume gate is the fixed-scale hours (e_hours); the volume term's evidence is
    # e_volume (against the log's own people, score/volume_null.py)
    cs = _cs(rate_multiple=[15, 15, 0], capability=[0.75, 0.75, 0], e_hours=[0.64, 0.64, 0], e_volume=[0.3, 0.3, 0],
             e_size=[0, 0, 0], scripted=[0.5, 0.5, 0], templated=[0.9, 0.9, 0], new_share=[0.8, 0.8, 0])
    own = OwnScore(score=np.array([0.1, 0.1, 0.2]), evidence={}, signals={"exchanges": np.array([100.0, 100.0, 5.0])})
    lk = Links(labels=cs.labels, scripted=np.zeros(3), plain_rows=np.array([27.0, 0.0, 0.0]),
               reuse=np.zeros(3), address_linked=np.zeros(3, bool))
    sc = score_step(cs, own, lk, CFG)
    operator = min(1.0, math.log2(16) / math.log2(5))  # rate evidence of a 15x multiple: capped at 1
    # capability (0.75-0.25)/0.5 = 1; the harvest weighted by the members' prompts that are not each other's copies
    harvest = _noisy_or(0.9 * 1.0 * math.sqrt(0.64), 0.7 * 0.3) * operator * 0.8
    coordination = _noisy_or(0.35 * 0.9 * 1.0)  # e_text = median scripted share / scripted_full = 1
    c = math.sqrt(harvest * coordination)
    assert sc.campaign[:2].tolist() == pytest.approx([c, c]) and sc.campaign[2] == 0.0
    member = min(1.0, 27 / 108 / 0.25)  # rows on the linking keys / (n + 8), full at 0.25
    assert sc.score[0] == pytest.approx(max(0.1, c * math.sqrt(member)))
    assert sc.score[1] == pytest.approx(0.1)  # no traffic on the campaign's keys: inherits nothing
    assert sc.campaign_flagged.tolist() == [c >= 0.5, c >= 0.5, False]
    assert sc.in_campaign.tolist() == [c * math.sqrt(member) >= 0.5, False, False]


def test_findings_step_lists_members_and_fired_signals():
    cs = _cs(templated=[0.9, 0.9, 0], e_size=[0.2, 0.2, 0], onset=[1, 1, 0], e_sync=[0.7, 0.7, 0])
    sig = {"exchanges": np.array([100.0, 100.0, 5.0]), "human_rate_multiple": np.array([3.0, 3.0, 0.1]),
           "extraction_multiple": np.array([2.0, 0.5, 0.0])}
    own = OwnScore(score=np.array([0.6, 0.2, 0.1]), signals=sig,
                   evidence={"scripted_share": np.array([0.9, 0.1, 0.0]), "machine_pacing": np.array([0.0, 0.6, 0.0])})
    sc = Scores(campaign=np.array([0.8, 0.8, 0.0]), e_text=np.array([0.4, 0.4, 0.0]), score=np.array([0.8, 0.3, 0.1]),
                flagged=np.array([True, False, False]), campaign_flagged=np.array([True, True, False]),
                in_campaign=np.array([True, False, False]))
    accounts, campaigns = findings_step(np.array(["a", "b", "c"]), own, cs, sc, CFG)
    assert [(f.account_id, f.flagged, f.campaign_id, f.fired) for f in accounts] == [
        ("a", True, "campaign-a", ("scripted_share", "campaign")), ("b", False, None, ("machine_pacing",)),
        ("c", False, None, ())]
    assert accounts[0].signals["campaign_score"] == 0.8 and accounts[2].exchanges == 5
    assert [f.extraction_multiple for f in accounts] == [2.0, 0.5, 0.0]
    (camp,) = campaigns
    assert camp.campaign_id == "campaign-a" and camp.accounts == ("a",) and camp.exchanges == 200
    assert camp.fired == ("templated_share", "onset_synchrony")  # evidence >= 0.5: 0.9 and 0.7


def test_detect_is_the_steps_in_order():
    # a machine-paced pair on one address and a human-paced pair on another, among 96 people alone
    # (in a log of four accounts two on one address is no surprise: score/infra_null.py)
    pad = 96
    acc = _acc([50, 50, 50, 50] + [5] * pad, gap_cv=[0.1, 0.1, 3.0, 3.0] + [3.0] * pad,
               cap=[40, 40, 0, 0] + [0] * pad, demand=[9e4, 9e4, 10, 10] + [10] * pad)
    edges = {"ip": (np.array([0, 1, 2, 3]), np.array([5, 5, 6, 6]))}
    ids = np.array(["a", "b", "c", "d"] + [f"z{i:03d}" for i in range(pad)])
    got = detect(ids, acc, edges, CFG)
    acct = account_step(acc, edges, CFG)
    lk = link_step(acc, edges, acct, CFG)
    own = with_own_share(own_score_step(acct, lk, CFG), acc, edges, CFG)
    cs = campaign_step(acc, edges, own.signals, lk, CFG)
    assert got == findings_step(ids, own, cs, score_step(cs, own, lk, CFG), CFG)
    assert got[0][0].flagged and got[0][0].campaign_id == "campaign-a" and not got[0][2].flagged
