"""guard eval's figures per population and the same-run comparison with the baselines: known
answers computed by hand, a naive per-account reference, and the CLI showing a detector behind the
rate limiter as a failing result."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from stillwatch.guard_eval.population import POPULATION_FP_GOAL, per_population, versus_baselines


def test_per_population_known_answer():
    # 4 benign "a", 2 benign "b", 2 campaign accounts of family "x"
    family = np.array(["a", "a", "a", "a", "b", "b", "x", "x"])
    is_c = np.array([False] * 6 + [True] * 2)
    score = np.array([0.1, 0.2, 0.9, -np.inf, 0.3, 0.4, 0.95, 0.5])
    flagged = np.array([False, False, True, False, False, False, True, False])
    # fpr 0.2 over 6 benign: k = 1, threshold = 2nd highest benign score = 0.4
    figs = {p.population: p for p in per_population(family, is_c, score, flagged, fpr=0.2)}
    assert (figs["a"].accounts, figs["a"].flagged, figs["a"].above) == (4, 0.25, 0.25)
    assert (figs["b"].accounts, figs["b"].flagged, figs["b"].above) == (2, 0.0, 0.0)
    assert (figs["x"].benign, figs["x"].flagged, figs["x"].above) == (False, 0.5, 1.0)
    assert figs["a"].meets_goal is False and figs["b"].meets_goal is True and figs["x"].meets_goal is None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["p", "q", "r", "camp"]), st.floats(0, 1), st.booleans()),
                min_size=3, max_size=40),
       st.sampled_from([1e-4, 0.1, 0.3]))
def test_per_population_matches_naive(rows, fpr):
    family = np.array([r[0] for r in rows])
    score = np.array([r[1] for r in rows])
    flagged = np.array([r[2] for r in rows])
    is_c = family == "camp"
    if is_c.all():
        return
    benign = sorted(score[~is_c], reverse=True)
    k = int(np.floor(fpr * len(benign) + 1e-9))
    thr = benign[k] if k < len(benign) else -np.inf
    for p in per_population(family, is_c, score, flagged, fpr=fpr):
        members = [i for i, f in enumerate(family) if f == p.population]
        assert p.accounts == len(members)
        assert p.flagged == sum(flagged[i] for i in members) / len(members)
        assert p.above == sum(score[i] > thr for i in members) / len(members)
        assert p.benign == (p.population != "camp")


def test_population_goal_is_one_percent():
    assert POPULATION_FP_GOAL == 0.01
    fam = np.array(["a"] * 200 + ["c"])
    is_c = fam == "c"
    flagged = np.zeros(201, bool)
    flagged[:2] = True  # exactly 1 %: meets the goal; a third one does not
    assert per_population(fam, is_c, np.zeros(201), flagged)[0].meets_goal is True
    flagged[2] = True
    assert per_population(fam, is_c, np.zeros(201), flagged)[0].meets_goal is False


def test_versus_baselines():
    evals = [SimpleNamespace(detector="stillwatch", pr_auc=0.4), SimpleNamespace(detector="rate_limit", pr_auc=0.5),
             SimpleNamespace(detector="seat", pr_auc=0.2)]
    v = versus_baselines(evals)
    assert v["behind_rate_limit"] is True
    assert v["seat"]["ratio"] == 2.0 and v["rate_limit"]["ratio"] == 0.8
    assert versus_baselines(evals[:1])["behind_rate_limit"] is None
    evals[0].pr_auc = 0.5
    assert versus_baselines(evals)["behind_rate_limit"] is False  # equal is not behind


def test_evaluation_carries_the_populations_and_their_goal():
    from stillwatch.guard_eval.contract import DetectorOutput
    from stillwatch.guard_eval.evaluate import evaluate_output

    labels = pa.table({"account_id": ["a1", "a2", "m1", "m2", "c1"],
                       "campaign_id": pa.array([None, None, None, None, "k"], pa.string()),
                       "family": ["benign:casual", "benign:casual", "benign:monitor", "benign:monitor", "keyrot"]})
    out = DetectorOutput("x", np.array(["a1", "a2", "m1", "m2", "c1"], dtype=object), np.array([0.1, 0.2, 0.9, 0.1, 0.8]),
                         np.array([False, False, True, False, True]), None, None)
    ev = evaluate_output(pa.table({"account_id": ["a1"]}), labels, out, "t")
    js = {p["population"]: p for p in ev.to_json()["populations"]}
    assert js["benign:monitor"]["flagged"] == 0.5 and js["benign:monitor"]["meets_goal"] is False
    assert js["benign:casual"]["flagged"] == 0.0 and js["benign:casual"]["meets_goal"] is True
    assert js["keyrot"]["benign"] is False and js["keyrot"]["meets_goal"] is None
    assert ev.goals()["benign_fp_per_population"] is False


def test_cli_reports_populations_and_the_rate_limit_verdict(tmp_path, cli, monkeypatch):
    """A log where the rate limit wins by construction: the only "campaign" account is the
    originally benign account closest to the rate limit, and the simulated campaign's accounts are
    relabelled benign (so Stillwatch's top scores are false positives). The CLI must print the
    populations and report the failing comparison."""
    import re

    import pyarrow.parquet as pq

    from stillwatch.guard_eval.baselines import run_baseline
    from stillwatch.guard_sim.simulate import simulate

    log, labels = simulate("rubric", 4_000, 2)
    pq.write_table(log, tmp_path / "log.parquet")
    rl = run_baseline("rate_limit", log)
    benign = set(labels.filter(pc.is_null(labels["campaign_id"]))["account_id"].to_pylist())
    cand = [(s, a) for a, s in zip(rl.account_id, rl.score) if a in benign]
    busiest = max(cand)[1]
    fam = ["busy" if a == busiest else "benign:" + f.split(":")[-1]
           for a, f in zip(labels["account_id"].to_pylist(), labels["family"].to_pylist())]
    camp = [("c0" if a == busiest else None) for a in labels["account_id"].to_pylist()]
    pq.write_table(pa.table({"account_id": labels["account_id"], "campaign_id": pa.array(camp, pa.string()),
                             "family": pa.array(fam, pa.string())}), tmp_path / "labels.parquet")
    args = ["guard", "eval", "--log", str(tmp_path / "log.parquet"), "--labels", str(tmp_path / "labels.parquet"),
            "--detectors", "stillwatch,rate_limit", "--no-stream"]
    monkeypatch.setenv("COLUMNS", "200")  # wide enough that no table cell or verdict line wraps
    output = cli(*args).ok().out
    assert "per population" in output
    for pop in {f for f in fam if f != "busy"} | {"busy"}:
        assert pop in output
    m = re.search(r"Stillwatch vs rate limit, PR-AUC ([0-9.]+) vs ([0-9.]+): FAIL: Stillwatch ranks behind the rate limiter",
                  output)
    assert m is not None, output
    assert float(m.group(2)) == 1.0 and float(m.group(1)) < 1.0
