"""Assemble benchmarks/RESULTS.md from the per-part sections in benchmarks/results/*.md.

Each benchmark script writes its own section file (figure, baseline, ratio, machine, date, command);
this script only concatenates them, in a fixed order, under one table of contents.

    .venv/bin/python benchmarks/assemble_results.py
"""

from __future__ import annotations

import re
from pathlib import Path

HERE = Path(__file__).parent
ORDER = ["relayout", "mark", "models", "ledger", "guard_eval", "guard_early", "guard_heldout", "guard_heldout_b", "guard_heldout_c", "guard_heldout_c_seeds", "guard_heldout_d", "guard_heldout_e", "guard_heldout_events", "guard_week_shapes", "guard_heldout_windows", "guard_eval_hard", "guard_scale", "distill", "trace", "trace_provenance", "report", "gateway_load", "gateway_batching", "gateway_hostile"]


def _rebase_links(body: str) -> str:
    """Links in a section are relative to results/; in RESULTS.md they must point into results/."""

    def fix(m: re.Match) -> str:
        target = m.group(2)
        if "://" in target or target.startswith(("#", "/", "results/")) or not (HERE / "results" / target).exists():
            return m.group(0)
        return f"{m.group(1)}(results/{target})"

    return re.sub(r"(!?\[[^\]]*\])\(([^)\s]+)\)", fix, body)


def main() -> None:
    parts = sorted((HERE / "results").glob("*.md"), key=lambda p: (ORDER.index(p.stem) if p.stem in ORDER else len(ORDER), p.stem))
    out = [
        "# Benchmark results",
        "",
        "Assembled from `benchmarks/results/*.md` by `.venv/bin/python benchmarks/assemble_results.py`;",
        "each section names the exact command that produced it and the machine it ran on (measured by the",
        "script). Timings on a shared machine are noisy, so speed figures are ratios against a baseline",
        "measured in the same run, with absolute numbers only beside their baseline.",
        "",
        "## Contents",
        "",
    ]
    out += [f"- [{p.stem}](results/{p.name})" for p in parts]
    for p in parts:
        body = p.read_text(encoding="utf-8").rstrip()
        out += ["", "---", "", _rebase_links(body)]
    (HERE / "RESULTS.md").write_text("\n".join(out) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
