"""Held-out E cut into windows: a provider scanning the last week or ten days of its log, not the whole (issue 13).

Each seed's held-out E log (``heldout_e.py``: two weeks from a Monday, every benign population and campaign of it) is
cut to windows of 7 to 11 days starting on different days, and each window is scanned on its own. A window cuts
every history: accounts already active before it (an event under way, a benchmark run before it) and campaigns
half inside it. Reported per window: the benign accounts flagged, per population (goal <= 1 % of each population
seen in the window), and each campaign family's accounts flagged of those seen (a window shows part of a campaign,
so recall here is context, not a goal).

Run: ``.venv/bin/python benchmarks/guard/heldout_windows.py [--seeds 41,42]`` — writes
``benchmarks/results/guard_heldout_windows.md`` (hand-written notes below its marker are kept).
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path[:0] = [str(REPO / "tests"), str(REPO / "src"), str(HERE)]

from _heldout_d_report import write_keeping_notes  # noqa: E402
from _heldout_e import build  # noqa: E402
from guard_heldout_base import DAY, T0, load_pool  # noqa: E402

#: (first day, length in days) of each window of the two-week log
WINDOWS = ((0, 7), (2, 7), (7, 7), (1, 10), (4, 10), (3, 9), (0, 11), (3, 11))


def scan_window(log, fam: dict, start: float, days: float) -> tuple[collections.Counter, collections.Counter, float]:
    """(flagged, seen) per family for the window ``[start, start + days)`` days of ``log``, and the scan's seconds."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from stillwatch.guard.batch.scan import scan

    ts = pc.cast(log["ts"], pa.int64())
    cut = log.filter(pc.and_(pc.greater_equal(ts, T0 + int(start * DAY)), pc.less(ts, T0 + int((start + days) * DAY))))
    t0 = time.perf_counter()
    f = scan(cut)
    took = time.perf_counter() - t0
    flagged = collections.Counter(fam[a.account_id] for a in f.accounts if a.flagged)
    seen = collections.Counter(fam[a.account_id] for a in f.accounts)
    return flagged, seen, took


def cell(flagged: collections.Counter, seen: collections.Counter) -> tuple[str, str]:
    """(benign flags per population, ✗ above 1 %; campaign families' flagged / seen)."""
    benign = [f"{k.split(':', 1)[1]} {flagged[k]}/{seen[k]}" + (" ✗" if flagged[k] > 0.01 * seen[k] else "")
              for k in sorted(seen) if k.startswith("benign") and flagged[k]]
    camps = [f"{k} {flagged[k]}/{seen[k]}" for k in sorted(seen) if not k.startswith("benign")]
    return ", ".join(benign) or "0", ", ".join(camps)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="41,42")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "guard_heldout_windows.md"))
    args = ap.parse_args(argv)
    pool = load_pool()
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        log, labels, _ = build(seed, pool)
        fam = dict(zip(labels["account_id"].to_pylist(), labels["family"].to_pylist()))
        for start, days in WINDOWS:
            flagged, seen, took = scan_window(log, fam, start, days)
            benign, camps = cell(flagged, seen)
            print(seed, start, days, benign, "|", camps, flush=True)
            rows.append(f"| {seed} | {start}-{start + days} | {benign} | {camps} | {took:.0f} |")
    about = __doc__.split("\n\n", 1)[1].split("Run:")[0]
    text = (f"# Guard — held-out E cut into windows\n\n{about}"
            "| seed | days | benign flagged (population flagged/seen, ✗ above 1 %) | campaigns (flagged/seen) | s |\n"
            "|---|---|---|---|---|\n" + "\n".join(rows)
            + f"\n\nMachine: 2 vCPU cloud VM, shared. Date: {dt.date.today().isoformat()}.\n"
            f"Command: `.venv/bin/python benchmarks/guard/heldout_windows.py --seeds {args.seeds}`\n")
    write_keeping_notes(Path(args.out), text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
