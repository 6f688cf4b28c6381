"""The demo's last step builds a verified case from the demo's step results (here: the ledger step's own
code on a few exchanges, a small guard findings file, and result summaries shaped like the demo's)."""

from __future__ import annotations

import json

from stillwatch.ledger.demo import demo_step
from stillwatch.report import verify_bundle
from stillwatch.report.demo import demo_case

ROWS = [{"provider_p": 1e-9, "tokens": 80, "attributed": "acct-alice", "account_p": 2e-6}]


def test_demo_case_builds_and_verifies(tmp_path):
    ex = [{"account": a, "api_key_id": f"key-{a}", "ts": f"2026-11-27T12:00:0{i}", "model": "m", "spec_fingerprint": "kgw",
           "prompt": f"q{i}", "response": f"answer {i}"} for i, a in enumerate(["acct-alice", "acct-bob", "acct-alice"])]
    ledger = demo_step(tmp_path / "ledger", ex, ["acct-alice", "acct-bob"], "m")
    findings = {"n_rows": 10, "n_accounts": 3, "human_rate_per_hour": 44.6, "accounts": [], "campaigns": []}
    (tmp_path / "f.json").write_text(json.dumps(findings))
    rows = [{"provider_p": 1e-9, "tokens": 80, "attributed": "acct-alice", "account_p": 2e-6},
            {"provider_p": None, "tokens": 0, "attributed": "(too short)", "account_p": None}]
    trace = {"radioactivity": {"student/open": {"setting": "open", "p_value": 1e-5, "n_scored": 900, "n_green": 300},
                               "control/open": {"setting": "open", "p_value": 0.4, "n_scored": 880, "n_green": 220}}}
    out = demo_case(tmp_path, {"mark": {"rows": rows}, "ledger": ledger, "guard": {"findings_path": str(tmp_path / "f.json")},
                               "trace": trace}, accounts=["acct-alice", "acct-bob"], n_candidates=100)
    res = verify_bundle(out["bundle"], tmp_path / "case" / "case.pub")
    assert res["records_proven"] == 3 + 2 + 1  # exchanges, acceptances, investment
    doc = json.loads((tmp_path / "case" / "build" / "report.json").read_text())
    assert doc["suspect_model"]["suspect"]["radioactive"] and doc["watermark"]["detected"] == 1
    assert "training" in doc["suspect_model"]["validation_vs_training"]
    again = demo_case(tmp_path, {"mark": {"rows": rows}, "ledger": ledger, "guard": {"findings_path": str(tmp_path / "f.json")},
                                 "trace": trace}, accounts=["acct-alice"], n_candidates=100)
    assert verify_bundle(again["bundle"], tmp_path / "case" / "case.pub")["ok"]


def test_a_combined_result_is_judged_on_the_smaller_p_value_times_two(tmp_path):
    """``trace radioactivity --harvest-account`` reports two tests of one model; the dossier shows both and judges the
    model on the smaller p-value times two (Bonferroni), so a reader who picks the smaller after seeing both keeps
    the level. Expected verdicts are worked out here by hand."""
    ex = [{"account": "acct-alice", "api_key_id": "k", "ts": "2026-11-27T12:00:00", "model": "m", "spec_fingerprint": "t",
           "prompt": "q", "response": "a"}]
    ledger = demo_step(tmp_path / "ledger", ex, ["acct-alice"], "m")
    (tmp_path / "f.json").write_text(json.dumps({"n_rows": 1, "n_accounts": 1, "human_rate_per_hour": 44.6, "accounts": [],
                                                 "campaigns": []}))
    trace = {"radioactivity": {
        # provider alone 0.03 (not significant at 1e-3); with the harvest account 4e-7 -> judged on 8e-7: significant
        "student/open": {"setting": "open", "p_value": 0.03, "n_scored": 1569, "n_green": 800,
                         "combined": {"accounts": ["acct-alice"], "p_value": 4e-7, "n_coins": 50208}},
        # 6e-4 alone would pass 1e-3, but with two tests reported it is judged on 1.2e-3: not significant
        "control/open": {"setting": "open", "p_value": 0.9, "n_scored": 1500, "n_green": 700,
                         "combined": {"accounts": ["acct-alice"], "p_value": 6e-4, "n_coins": 48000}}}}
    demo_case(tmp_path, {"mark": {"rows": ROWS}, "ledger": ledger, "guard": {"findings_path": str(tmp_path / "f.json")},
                         "trace": trace}, accounts=["acct-alice"], n_candidates=100)
    doc = json.loads((tmp_path / "case" / "build" / "report.json").read_text())
    sus = doc["suspect_model"]["suspect"]
    assert sus["radioactive"] and abs(sus["verdict_p_value"] - 8e-7) < 1e-18
    assert sus["combined"] == {"accounts": ["acct-alice"], "p_value": 4e-7, "n_coins": 50208}
    ctl = next(r for r in doc["suspect_model"]["results"] if r["role"] == "control")
    assert not ctl["radioactive"] and abs(ctl["verdict_p_value"] - 1.2e-3) < 1e-15
    assert doc["suspect_model"]["controls_clean"]
    combined = [m for m in doc["methods"] if m["id"].startswith("radioactivity-combined/suspect/")]
    assert len(combined) == 1 and combined[0]["p_value"] == 4e-7 and "--harvest-account acct-alice" in combined[0]["command"]
    assert "Bonferroni" in combined[0]["correction"]
    html = (tmp_path / "case" / "build" / "report.html").read_text()
    assert "with harvest accounts: p-value" in html and "acct-alice" in html and "times two" in html


def test_a_result_without_harvest_accounts_is_judged_on_its_one_test(tmp_path):
    ex = [{"account": "acct-alice", "api_key_id": "k", "ts": "2026-11-27T12:00:00", "model": "m", "spec_fingerprint": "t",
           "prompt": "q", "response": "a"}]
    ledger = demo_step(tmp_path / "ledger", ex, ["acct-alice"], "m")
    (tmp_path / "f.json").write_text(json.dumps({"n_rows": 1, "n_accounts": 1, "human_rate_per_hour": 44.6, "accounts": [],
                                                 "campaigns": []}))
    trace = {"radioactivity": {"student/open": {"setting": "open", "p_value": 6e-4, "n_scored": 900, "n_green": 300}}}
    demo_case(tmp_path, {"mark": {"rows": ROWS}, "ledger": ledger, "guard": {"findings_path": str(tmp_path / "f.json")},
                         "trace": trace}, accounts=["acct-alice"], n_candidates=100)
    doc = json.loads((tmp_path / "case" / "build" / "report.json").read_text())
    sus = doc["suspect_model"]["suspect"]
    assert sus["radioactive"] and sus["verdict_p_value"] == 6e-4 and sus["combined"] is None
    assert "with harvest accounts" not in (tmp_path / "case" / "build" / "report.html").read_text()


def test_a_malformed_combined_result_is_refused_naming_the_field(tmp_path):
    from stillwatch.report.errors import CaseError
    from stillwatch.report.evidence import _trace

    good = {"setting": "open", "p_value": 0.5, "n_scored": 10, "curve": [], "null_hypothesis": "H0", "spec_fingerprint": "f"}
    for combined, field in (({"accounts": ["a"], "p_value": 1.5}, "combined.p_value"), ({"accounts": [], "p_value": 0.1}, "combined"),
                            ("x", "combined")):
        try:
            _trace(json.dumps(dict(good, combined=combined)).encode(), "t.json")
        except CaseError as e:
            assert f"t.json: {field}" in str(e), str(e)
        else:
            raise AssertionError(f"accepted combined={combined!r}")
    assert _trace(json.dumps(dict(good, combined={"accounts": ["a"], "p_value": 0.1})).encode(), "t.json")["combined"]["p_value"] == 0.1
