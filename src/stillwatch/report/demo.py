"""The last step of ``stillwatch demo``: build the case for the demo's campaign.

The demo's steps return summaries; this writes them as the evidence files the real commands write
(``mark detect --json`` lines, ``trace radioactivity --json`` results — their p-value curves are not
kept by the demo, so the curve is empty), adds them with the guard findings to a case on the demo's
ledger, exhibits the served accounts' records and the investment record, and builds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .build import build_case
from .case import Case

__all__ = ["demo_case"]


def _trace_json(r: dict[str, Any], fingerprint: str) -> dict[str, Any]:
    from stillwatch.trace.radioactivity import NULL_HYPOTHESIS

    return {"setting": r["setting"], "p_value": r["p_value"], "n_scored": r["n_scored"], "n_green": r.get("n_green"),
            "curve": [], "null_hypothesis": NULL_HYPOTHESIS, "spec_fingerprint": fingerprint, "accounts": r.get("accounts", []),
            "best_account": r.get("best_account"), "best_account_corrected_p_value": r.get("best_account_corrected_p_value"),
            **({"combined": r["combined"]} if r.get("combined") else {})}


def demo_case(workdir: Path, results: dict[str, Any], *, accounts: list[str], n_candidates: int) -> dict[str, Any]:
    """Build ``workdir/case`` from the demo's ``results``; returns :func:`build_case`'s paths."""
    import shutil

    workdir = Path(workdir)
    shutil.rmtree(workdir / "case", ignore_errors=True)  # a re-run in the same --workdir rebuilds the demo's own case
    (workdir / "case.key").unlink(missing_ok=True)
    ev = workdir / "case-evidence"
    ev.mkdir(parents=True, exist_ok=True)
    lines = []
    for n, r in enumerate(results["mark"]["rows"], start=1):
        if r["provider_p"] is None:
            lines.append({"line": n, "error": str(r["attributed"])})
        else:
            lines.append({"line": n, "p_value": r["provider_p"], "n_scored": r["tokens"], "account": r["attributed"],
                          "account_p_value": r["account_p"], "n_candidates": n_candidates, "spec": None})
    (ev / "detections.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    case = Case.init(workdir / "case", title="Stillwatch demo: the harvesting campaign", ledger=results["ledger"]["ledger"],
                     key_path=workdir / "case.key", actor="stillwatch demo")
    key = case.load_key(workdir / "case.key")
    case.add_evidence("guard", Path(results["guard"]["findings_path"]), key=key, actor="stillwatch demo")
    case.add_evidence("mark", ev / "detections.jsonl", key=key, actor="stillwatch demo",
                      command="stillwatch mark detect --master-key master.key --input answers.jsonl --accounts candidates.txt --json")
    trace = results.get("trace") or {}
    prov = (trace.get("watermark") or {}).get("provider")
    fp = ""
    if isinstance(prov, dict):
        from stillwatch.mark import WatermarkSpec

        fp = WatermarkSpec.from_dict(prov).fingerprint
    for name, role in (("student/open", "suspect"), ("control/open", "control")):
        if name in trace.get("radioactivity", {}):
            (ev / f"trace-{role}.json").write_text(json.dumps(_trace_json(trace["radioactivity"][name], fp)))
            case.add_evidence("trace", ev / f"trace-{role}.json", key=key, actor="stillwatch demo", role=role)
    case.exhibit(key=key, actor="stillwatch demo", accounts=tuple(accounts), kinds=("investment",))
    return build_case(workdir / "case", key_path=workdir / "case.key", actor="stillwatch demo")
