"""What a campaign has shown when 1 % of its harvest is in: the evidence a live alarm can use.

The issue's live goal is an alarm before 1 % of a campaign's harvest. This script measures, on the
same simulated logs as ``guard_eval.py`` (seed 20260302, 320,000 exchanges per family), what exists
at that point for each campaign: how many of its rows, how long after its first request, how many of
its accounts have appeared and how many requests each has sent, and over how many addresses. Where
a family misses the goal, these figures say why (a campaign whose accounts have sent one or two
requests each shows no per-account statistic; only cross-account evidence can fire). With
``--eval-json`` (the ``--json`` output of ``guard_eval.py``) the measured live alarm is put beside.

    .venv/bin/python benchmarks/guard/guard_early.py [--exchanges 320000] [--eval-json /tmp/L5/final.json]

Writes ``benchmarks/results/guard_early.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/, for _lib
import _lib  # noqa: E402


def early_table(log, labels, share: float = 0.01) -> list[dict]:
    """Per campaign: its totals and what its first ``share`` of rows (in time order) contain."""
    lab = labels.filter(pc.is_valid(labels["campaign_id"]))
    camps, camp_idx = np.unique(np.asarray(lab["campaign_id"].to_pylist(), dtype=str), return_inverse=True)
    # rows of campaign accounts only, joined to their campaign by the account's position in the labels
    pos = pc.index_in(log["account_id"], value_set=lab["account_id"])
    rows = log.filter(pc.is_valid(pos))
    cid = camp_idx[pc.drop_null(pos).to_numpy()]
    acc = np.asarray(rows["account_id"].to_pylist(), dtype=object)
    ts = rows["ts"].cast("int64").to_numpy()
    ip = np.asarray(rows["ip"].to_pylist(), dtype=object)
    out = []
    for j, c in enumerate(camps):
        idx = np.flatnonzero(cid == j)
        idx = idx[np.argsort(ts[idx], kind="stable")]
        n = len(idx)
        k = max(1, int(np.ceil(share * n)))
        head = idx[:k]
        _, per = np.unique(acc[head], return_counts=True)
        accounts = len(set(acc[idx]))
        out.append({
            "campaign": str(c), "accounts": accounts, "rows": n, "hours": (ts[idx[-1]] - ts[idx[0]]) / 3.6e9,
            "rows_per_account": n / accounts, "k": k, "k_hours": (ts[head[-1]] - ts[idx[0]]) / 3.6e9,
            "k_accounts": len(per), "k_median": float(np.median(per)), "k_max": int(per.max()),
            "k_ips": len(set(ip[head])),
        })
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--exchanges", type=int, default=320_000)
    ap.add_argument("--seed", type=int, default=20260302)
    ap.add_argument("--eval-json", default=None, help="guard_eval.py --json output, for the live alarm column")
    args = ap.parse_args(argv)
    from stillwatch.guard_sim.simulate import DEVELOPMENT_FAMILIES, simulate

    live: dict[str, float] = {}
    if args.eval_json:
        for fam in json.loads(Path(args.eval_json).read_text()):
            for res in fam["results"]:
                if res["detector"] == "stillwatch":
                    live.update(res.get("harvest_before_alarm") or {})
    rows = []
    for fam in (*DEVELOPMENT_FAMILIES, "heldout"):
        t0 = time.perf_counter()
        log, labels = simulate(fam, args.exchanges, args.seed)
        for r in early_table(log, labels):
            rows.append((fam, r))
        print(f"{fam}: {time.perf_counter() - t0:.0f} s", flush=True)
    lines = [
        "## guard: what a campaign has shown at 1 % of its harvest (`benchmarks/guard/guard_early.py`)",
        "",
        f"Command: `.venv/bin/python benchmarks/guard/guard_early.py --exchanges {args.exchanges}"
        + (f" --eval-json {args.eval_json}`" if args.eval_json else "`")
        + f" (seed {args.seed}: the logs of `guard_eval.py`). Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.",
        "",
        "Harvest = all rows of the campaign's accounts (as in the live goal). '1 %' = its first 1 % of rows in time",
        "order: how long after its first request, how many of its accounts had appeared, their requests each",
        "(median / max) and the addresses used. A live alarm before 1 % must fire on this much."
        + (" Live alarm = share of the harvest before the streaming scorer's first alarm (from guard_eval)." if live else ""),
        "",
        "| family | campaign | accounts | rows | span h | rows / account | 1 %: rows | 1 %: hours | 1 %: accounts seen "
        "| 1 %: requests each (median / max) | 1 %: addresses |" + (" live alarm |" if live else ""),
        "|---|---|---|---|---|---|---|---|---|---|---|" + ("---|" if live else ""),
    ]
    for fam, r in rows:
        alarm = live.get(r["campaign"])
        cell = "" if not live else (" never |" if alarm is None or alarm >= 1.0 else f" {100 * alarm:.2f} %{' ✓' if alarm < 0.01 else ' ✗'} |")
        lines.append(f"| {fam} | {r['campaign']} | {r['accounts']:,} | {r['rows']:,} | {r['hours']:.0f} | {r['rows_per_account']:.1f} "
                     f"| {r['k']:,} | {r['k_hours']:.2f} | {r['k_accounts']:,} | {r['k_median']:.0f} / {r['k_max']} | {r['k_ips']:,} |{cell}")
    _lib.write_file("guard_early.md", "\n".join(lines) + "\n")  # hand-written notes below its marker survive a rerun
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
