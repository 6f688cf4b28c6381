"""Evaluation metrics against independent reference computations, and the evaluation end to end."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stillwatch.guard_eval.contract import NEVER, DetectorOutput
from stillwatch.guard_eval.evaluate import (
    adjusted_rand_index,
    average_precision,
    evaluate_output,
    harvest_before_alarm,
    recovered_campaigns,
    tpr_at_fpr,
)
from stillwatch.guard_sim.simulate import simulate


def naive_ari(a, b):
    """ARI from its definition over all pairs of items (Hubert & Arabie 1985)."""
    n = len(a)
    pairs = list(itertools.combinations(range(n), 2))
    same_a = np.array([a[i] == a[j] for i, j in pairs])
    same_b = np.array([b[i] == b[j] for i, j in pairs])
    index = float(np.sum(same_a & same_b))
    sa, sb, total = float(same_a.sum()), float(same_b.sum()), len(pairs)
    expected = sa * sb / total
    mx = (sa + sb) / 2
    return 1.0 if mx == expected else (index - expected) / (mx - expected)


def test_ari_known_values():
    # the examples of scikit-learn's adjusted_rand_score documentation
    assert adjusted_rand_index([0, 0, 1, 1], [0, 0, 1, 1]) == pytest.approx(1.0)
    assert adjusted_rand_index([0, 0, 1, 1], [1, 1, 0, 0]) == pytest.approx(1.0)
    assert adjusted_rand_index([0, 0, 1, 2], [0, 0, 1, 1]) == pytest.approx(0.5714285714)
    assert adjusted_rand_index([0, 0, 1, 1], [0, 1, 0, 1]) == pytest.approx(-0.5)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 4)), min_size=2, max_size=25))
def test_ari_matches_pair_definition(pairs):
    a = [p[0] for p in pairs]
    b = [p[1] for p in pairs]
    assert adjusted_rand_index(a, b) == pytest.approx(naive_ari(a, b), abs=1e-9)


def naive_ap(y, s):
    """AP over distinct thresholds: sum of (recall gain) x (precision at that threshold)."""
    ap, prev_r = 0.0, 0.0
    for t in sorted(set(s), reverse=True):
        sel = [i for i in range(len(s)) if s[i] >= t]
        tp = sum(y[i] for i in sel)
        r = tp / sum(y)
        ap += (r - prev_r) * (tp / len(sel))
        prev_r = r
    return ap


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 6)), min_size=1, max_size=30))
def test_average_precision_matches_naive(rows):
    y = [int(r[0]) for r in rows]
    s = [float(r[1]) for r in rows]
    if not any(y):
        with pytest.raises(ValueError):
            average_precision(np.array(y), np.array(s))
        return
    assert average_precision(np.array(y), np.array(s)) == pytest.approx(naive_ap(y, s), abs=1e-12)


def test_tpr_at_fpr():
    neg = np.arange(10_000, dtype=float)  # 0..9999
    pos = np.array([9999.5, 9998.5, 9990.5, 5.0])
    # FPR 1e-4: one benign may exceed -> threshold is the 2nd largest benign score (9998)
    assert tpr_at_fpr(pos, neg, 1e-4) == pytest.approx(0.5)
    # FPR 1e-3: ten may exceed -> threshold 9989
    assert tpr_at_fpr(pos, neg, 1e-3) == pytest.approx(0.75)
    # ties at the threshold count against the detector
    assert tpr_at_fpr(np.array([1.0]), np.ones(100), 1e-3) == 0.0


def test_recovered_campaigns():
    truth = np.array(["A"] * 4 + ["B"] * 4 + ["C"] * 2 + [None] * 4, dtype=object)
    pred = np.array(["x"] * 3 + [None] + ["y", "z", None, None] + ["w", "w"] + ["w"] * 4, dtype=object)
    # A: x holds 3/4 of A and x is all A -> recovered; B: split into singletons -> not;
    # C: w holds all of C but C is only 2 of w's 6 accounts -> not recovered
    assert recovered_campaigns(truth, pred).tolist() == [True, False, False]


def _tiny_log():
    t0 = 1_772_409_600_000_000
    rows = [("c1", t0 + i) for i in range(100)] + [("c2", t0 + 1000 + i) for i in range(100)] + [("b1", t0 + 5)]
    log = pa.table({"account_id": [r[0] for r in rows], "ts": pa.array([r[1] for r in rows], pa.int64()).cast(pa.timestamp("us", tz="UTC"))})
    labels = pa.table({"account_id": ["c1", "c2", "b1"], "campaign_id": ["K", "K", None], "family": ["f", "f", "benign:casual"]})
    return t0, log, labels


def test_harvest_before_alarm():
    t0, log, labels = _tiny_log()
    # alarm on c2 at its 10th exchange: all 100 of c1's and 9 of c2's came earlier -> 109 / 200
    assert harvest_before_alarm(log, labels, {"c2": t0 + 1009}) == {"K": pytest.approx(109 / 200)}
    assert harvest_before_alarm(log, labels, {"c1": t0}) == {"K": 0.0}
    assert harvest_before_alarm(log, labels, {}) == {"K": 1.0}


def test_oracle_and_blind_detectors_end_to_end():
    log, labels = simulate("rubric", 20_000, 11)
    ids = np.asarray(labels["account_id"].to_pylist(), dtype=object)
    camp = np.asarray(labels["campaign_id"].to_pylist(), dtype=object)
    is_c = np.array([c is not None for c in camp])
    t_first = int(log["ts"].cast(pa.int64()).to_numpy().min())
    oracle = DetectorOutput("oracle", ids, is_c.astype(float), is_c, camp, np.where(is_c, t_first, NEVER))
    ev = evaluate_output(log, labels, oracle, "rubric")
    assert ev.tpr_at["1e-3"] == 1.0 and ev.pr_auc == 1.0 and ev.ari == pytest.approx(1.0)
    assert ev.campaigns_recovered == 1.0 and ev.harvest_max == 0.0
    assert ev.own_fpr == 0.0 and ev.n_campaigns == 3
    assert ev.measurable == {"1e-3": False, "1e-4": False}  # fewer than 1,000 benign accounts
    assert ev.goals()["tpr_at_1e-4"] is None
    # a blind detector (all scores equal, one big cluster, no alarm)
    blind = DetectorOutput("blind", ids, np.zeros(len(ids)), np.ones(len(ids), bool),
                           np.array(["all"] * len(ids), dtype=object), np.full(len(ids), NEVER))
    ev = evaluate_output(log, labels, blind, "rubric")
    assert ev.tpr_at["1e-3"] == 0.0 and ev.own_fpr == 1.0
    assert ev.pr_auc == pytest.approx(is_c.mean())
    assert ev.ari == pytest.approx(0.0) and ev.campaigns_recovered == 0.0 and ev.harvest_max == 1.0
    # accounts missing from a detector's output count as unscored, not as errors
    partial = DetectorOutput("partial", ids[is_c], np.ones(int(is_c.sum())), np.ones(int(is_c.sum()), bool))
    ev = evaluate_output(log, labels, partial, "rubric")
    assert ev.tpr_at["1e-3"] == 1.0 and ev.own_fpr == 0.0 and ev.ari is None and ev.harvest_before_alarm is None


def test_eval_cli_json(cli):
    data = cli("guard", "eval", "--scenario", "coding", "--exchanges", "5000", "--detectors", "rate_limit,synchrotrap", "--json").ok().json()
    assert [e["detector"] for e in data[0]["results"]] == ["rate_limit", "synchrotrap"]
    assert data[0]["results"][1]["ari"] is not None and data[0]["results"][0]["ari"] is None
    cli("guard", "eval", "--detectors", "nope").user_error("unknown detector")


def test_eval_cli_on_files(tmp_path, cli):
    import pyarrow.parquet as pq

    log, labels = simulate("rubric", 4_000, 2)
    pq.write_table(log, tmp_path / "log.parquet")
    # one labelled account that never appears in the log, and one log account left unlabelled
    extra = pa.table({"account_id": ["ghost"], "campaign_id": pa.array([None], pa.string()), "family": ["benign:casual"]})
    pq.write_table(pa.concat_tables([labels.slice(1), extra.cast(labels.schema)]), tmp_path / "labels.parquet")
    data = cli("guard", "eval", "--log", tmp_path / "log.parquet", "--labels", tmp_path / "labels.parquet",
               "--detectors", "rate_limit", "--json").ok().json()[0]
    assert data["info"]["unlabeled_accounts"] == 1
    res = data["results"][0]
    assert res["n_benign"] + res["n_campaign_accounts"] == labels.num_rows - 1
    cli("guard", "eval", "--log", tmp_path / "log.parquet").user_error("--log and --labels go together")
    # labels of another simulation name none of the log's accounts: one line, exit 2 (was a TypeError traceback)
    other_log, other_labels = simulate("rubric", 4_000, 3)
    pq.write_table(other_labels.filter(pa.compute.invert(pa.compute.is_in(other_labels["account_id"], value_set=log["account_id"]))),
                   tmp_path / "other.parquet")
    cli("guard", "eval", "--log", tmp_path / "log.parquet", "--labels", tmp_path / "other.parquet",
        "--detectors", "rate_limit").user_error("name none of the")


def test_stillwatch_adapters_cover_every_account():
    """The adapters call guard-pipeline's scan and streaming scorer through their public contract."""
    from stillwatch.guard_eval.evaluate import run_detector

    log, labels = simulate("coding", 3_000, 4)
    out, notes = run_detector("stillwatch", log, stream=True, labels=labels)
    assert set(out.account_id) == set(labels["account_id"].to_pylist())
    assert out.cluster is not None and out.alarm_us is not None
    assert notes and notes[0].startswith("streaming replay:")
    flagged_ts = out.alarm_us[out.alarm_us != NEVER]
    t = log["ts"].cast(pa.int64()).to_numpy()
    assert np.all((flagged_ts >= t.min()) & (flagged_ts <= t.max()))  # alarms are times of logged requests
    ev = evaluate_output(log, labels, out, "coding", notes)
    assert ev.harvest_before_alarm is not None and set(ev.harvest_before_alarm) == {"coding-c0", "coding-c1", "coding-c2"}
