"""The demo's trace step end to end on the tiny model (teacher = the student's base weights), small
sizes: it must run, report both models in both settings, and keep its JSON shape for the CLI."""

from __future__ import annotations

import json

from stillwatch.mark import MasterKey
from stillwatch.cli.trace_demo import demo_step


def test_demo_step_runs_on_tiny_and_reports_both_models(tmp_path):
    key = tmp_path / "master.key"
    MasterKey.generate().save(key)
    res = demo_step(tmp_path / "w", key, teacher_name="tiny", n_prompts=12, max_new_tokens=16, epochs=1)
    json.dumps(res)  # JSON-safe
    assert [(r["model"], r["setting"]) for r in res["results"]] == [
        ("student", "open"), ("student", "closed"), ("control", "open"), ("control", "closed")]
    for r in res["results"]:
        assert 0.0 <= r["p_value"] <= 1.0 and r["n_scored"] > 0
        # the campaign's four accounts are tested with the provider layer; two tests reported -> Bonferroni
        assert 0.0 <= r["combined_p_value"] <= 1.0
        assert r["judged_p_value"] == min(1.0, 2 * min(r["p_value"], r["combined_p_value"]))
        assert r["verdict"] == ("radioactive" if r["judged_p_value"] <= res["alpha"] else "no evidence")
    assert res["radioactivity"]["student/open"]["combined"]["accounts"] == res["campaign"]["accounts"]
    assert res["campaign"]["answers"] == 12 and len(res["campaign"]["accounts"]) == 4
    acc = res["radioactivity"]["student/open"]["accounts"]
    assert sorted(a["account"] for a in acc) == res["campaign"]["accounts"]
    # the fine-tune is partial and it ran: train_layers blocks of the base, held-out loss measured
    t = res["training"]["student"]
    assert t["steps"] >= 1 and t["train_layers"] == min(2, t["of_layers"]) and t["eval_loss"] is not None
    assert (tmp_path / "w" / "student" / "config.json").is_file()
    # the finished runs' resume state is not left behind (at SmolLM2 size it was ~0.5 GB per student)
    assert not (tmp_path / "w" / "student" / "checkpoint").exists()
    assert not (tmp_path / "w" / "control" / "checkpoint").exists()
    assert res["differential_base"] == "tiny"
