"""The guard step of ``stillwatch demo``: simulate a small scenario, scan it, explain the campaigns."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def demo_step(workdir: Path, *, scenario: str = "mixed", n_exchanges: int = 20000, seed: int = 0) -> dict[str, Any]:
    """Simulate ``n_exchanges`` of ``scenario`` traffic, scan it and return JSON-safe findings.

    Writes ``guard_log.parquet``, ``guard_labels.parquet`` and ``guard_findings.json`` into
    ``workdir``. The result holds the campaigns found (accounts, exchanges, human-rate multiple,
    score, fired signals with their values), the flagged-account count and, since the simulator
    knows the truth, how many flagged accounts really belong to a campaign.
    """
    import json

    import pyarrow.compute as pc

    from stillwatch.guard.batch.scan import scan
    from stillwatch.guard_sim.simulate import simulate, write_simulation

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    log_table, labels = simulate(scenario, n_exchanges, seed)
    log_path, labels_path = workdir / "guard_log.parquet", workdir / "guard_labels.parquet"
    write_simulation(log_table, labels, str(log_path), str(labels_path))
    findings = scan(log_path)
    doc = findings.to_json()
    (workdir / "guard_findings.json").write_text(json.dumps(doc, indent=2))
    truth = dict(zip(labels["account_id"].to_pylist(), labels["campaign_id"].to_pylist()))
    flagged = [a.account_id for a in findings.flagged]
    n_true = int(pc.sum(pc.is_valid(labels["campaign_id"])).as_py() or 0)
    campaigns = [
        {
            "campaign_id": c["campaign_id"],
            "n_accounts": c["n_accounts"],
            "exchanges": c["exchanges"],
            "human_rate_multiple": c["human_rate_multiple"],
            "score": c["score"],
            "fired": c["fired"],
            "signals": c["signals"],
            "true_campaigns": sorted({str(truth.get(a)) for a in c["accounts"]}),
        }
        for c in doc["campaigns"]
    ]
    return {
        "scenario": scenario,
        "exchanges": findings.n_rows,
        "accounts": len(findings.accounts),
        "human_rate_per_hour": doc["human_rate_per_hour"],
        "flagged_accounts": len(flagged),
        "flagged_that_are_campaign_accounts": sum(1 for a in flagged if truth.get(a)),
        "campaign_accounts_in_truth": n_true,
        "campaigns": campaigns,
        "findings_path": str(workdir / "guard_findings.json"),
        "seconds": round(time.perf_counter() - t0, 2),
    }
