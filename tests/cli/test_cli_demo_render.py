"""`stillwatch demo` rendering: the guard step on its real (small) simulation, the trace step's table
from a given result (the real trace step trains SmolLM2 and is timed in the notes, not here)."""

from __future__ import annotations

import io

from rich.console import Console

from stillwatch.cli import _demo


def _console() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, width=220, color_system=None), buf


def test_guard_step_prints_campaigns_with_their_signals(tmp_path):
    console, buf = _console()
    res = _demo.guard_step(console, tmp_path)
    out = buf.getvalue()
    assert res["campaigns"], "the demo scenario holds campaigns; the scan must find at least one"
    first = res["campaigns"][0]
    assert str(first["campaign_id"])[:20] in out and str(first["exchanges"]) in out
    fired = list(first.get("fired") or [])
    assert fired and fired[0] in out  # the explanation, not only the verdict
    assert f"{res['human_rate_per_hour']:.3g} exchanges/hour" in out


def test_trace_step_table_names_the_verdict_and_the_account(tmp_path, monkeypatch):
    fake = {"alpha": 1e-3, "results": [
        {"model": "student", "setting": "open", "n_scored": 1234, "p_value": 2.8e-6, "combined_p_value": 7.5e-9, "verdict": "radioactive",
         "best_account": "campaign-002", "best_account_corrected_p_value": 4.1e-4},
        {"model": "control", "setting": "open", "n_scored": 1200, "p_value": 0.59, "verdict": "no evidence",
         "best_account": "campaign-003", "best_account_corrected_p_value": 0.52},
    ]}
    import stillwatch.cli.trace_demo as trace_demo

    monkeypatch.setattr(trace_demo, "demo_step", lambda workdir, master, settings=("open", "closed"): fake)
    console, buf = _console()
    assert _demo.trace_step(console, tmp_path, tmp_path / "master.key") is fake
    lines = [ln for ln in buf.getvalue().splitlines() if "│" in ln and ("student" in ln or "control" in ln)]
    student = next(ln for ln in lines if "student" in ln)
    control = next(ln for ln in lines if "control" in ln)
    assert "2.8e-06" in student and "radioactive" in student and "campaign-002 (0.00041)" in student
    assert "0.59" in control and "no evidence" in control and "none (closest campaign-003, 0.52)" in control
    assert "7.5e-09" in student and "—" in control  # the campaign accounts' combined test, where it ran
