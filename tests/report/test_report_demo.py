"""The demo's last step builds a verified case from the demo's step results (here: the ledger step's own
code on a few exchanges, a small guard findings file, and result summaries shaped like the demo's)."""

from __future__ import annotations

import json

from stillwatch.ledger.demo import demo_step
from stillwatch.report import verify_bundle
from stillwatch.report.demo import demo_case


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
