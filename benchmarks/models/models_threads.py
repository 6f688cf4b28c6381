"""Torch intra-op threads on a shared CPU: the same generation with 1 thread (baseline) and 2.

    .venv/bin/python benchmarks/models/models_threads.py [--repeats 3]

Writes its section (``threads``) of benchmarks/results/models.md and prints it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

from stillwatch.models import load_backend

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/, for _lib
import _lib  # noqa: E402


def timed(b, prompts, new_tokens, repeats):
    b.generate(prompts[:1], max_new_tokens=2, seed=0)  # warm-up
    wall = []
    for _ in range(repeats):
        t = time.perf_counter()
        b.generate(prompts, max_new_tokens=new_tokens, seed=0)
        wall.append(time.perf_counter() - t)
    return statistics.median(wall)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    cases = [
        ("tiny, 8 prompts x 64 tokens", lambda n: load_backend("tiny", num_threads=n), [f"p{i}" for i in range(8)], 64),
        ("SmolLM2 float32, 1 prompt x 8 tokens", lambda n: load_backend("smollm2", dtype="float32", num_threads=n),
         ["Write a long story about a lighthouse keeper."], 8),
    ]
    rows = []
    for label, make, prompts, n in cases:
        t1 = timed(make(1), prompts, n, args.repeats)
        t2 = timed(make(2), prompts, n, args.repeats)
        rows.append(f"| {label} | {t2 * 1000:,.0f} ms | {t1 * 1000:,.0f} ms | {t2 / t1:.1f} |")
        print(rows[-1], flush=True)
    md = "\n".join([
        "",
        "### Torch threads on the shared machine",
        "",
        f"Machine: {_lib.describe_machine()} (load average when it finished). "
        f"Date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M UTC}.",
        "",
        f"Command: `.venv/bin/python benchmarks/models/models_threads.py --repeats {args.repeats}` (medians of wall time)",
        "",
        "| figure | 2 threads | baseline: 1 thread | ratio 2 / 1 |",
        "|---|---|---|---|",
        *rows,
        "",
    ])
    print(md)
    _lib.write_section("models.md", "threads", md)


if __name__ == "__main__":
    main()
