"""Distinct values of guard's integer codes: ``np.unique`` (NumPy's hash path) against ``core.sets.unique``
(a sort), and ``timing._distinct_active`` (one code per (account, minute) row of the whole log) with each.

The arrays are shaped like the 16M-exchange benchmark's (``guard_scale.py``): one code per row,
``minute * accounts + account`` over 65,000 accounts and three weeks, most codes distinct; and a
smaller array with many repeats. Each figure is the median CPU time of ``--repeats`` runs, the two
functions alternating in the same process; the results are checked equal.

    .venv/bin/python benchmarks/guard/guard_unique.py [--rows 16000000] [--repeats 3]

Writes ``benchmarks/results/guard_unique.md``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from stillwatch.core.sets import unique
from stillwatch.guard.score import timing

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/, for _lib
import _lib  # noqa: E402


def _cpu(fn, *args) -> float:
    t = time.process_time()
    fn(*args)
    return time.process_time() - t


def _numpy_distinct_active(ea, minute, n_accounts):
    """``timing._distinct_active`` as it was, with ``np.unique``: the baseline."""
    first = int(minute.min())
    code = np.unique((minute - first) * np.int64(n_accounts) + ea)
    return code % n_accounts, code // n_accounts + first


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=16_000_000)
    ap.add_argument("--accounts", type=int, default=65_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    ea = rng.integers(0, args.accounts, args.rows).astype(np.int64)
    minute = rng.integers(0, 21 * 24 * 60, args.rows).astype(np.int64)
    codes = minute * np.int64(args.accounts) + ea
    repeats = rng.integers(0, args.rows // 80, args.rows // 16).astype(np.int64)  # ~5 copies of each value
    cases = [
        (f"`np.unique` of {args.rows:,} (minute, account) codes ({len(unique(codes)):,} distinct)",
         np.unique, unique, (codes,)),
        (f"`np.unique` of {len(repeats):,} codes with ~5 copies each", np.unique, unique, (repeats,)),
        (f"`timing._distinct_active` on {args.rows:,} rows", _numpy_distinct_active, timing._distinct_active,
         (ea, minute, args.accounts)),
    ]
    rows = []
    for what, base_fn, new_fn, a in cases:
        b0, n0 = base_fn(*a), new_fn(*a)
        same = all(np.array_equal(x, y) for x, y in zip(b0 if isinstance(b0, tuple) else (b0,),
                                                        n0 if isinstance(n0, tuple) else (n0,)))
        base_t, new_t = [], []
        for _ in range(args.repeats):
            base_t.append(_cpu(base_fn, *a))
            new_t.append(_cpu(new_fn, *a))
        b, n = statistics.median(base_t), statistics.median(new_t)
        rows.append(f"| {what} | {b:.2f} s | {n:.2f} s | {b / max(n, 1e-9):.0f}x | {'yes' if same else '**no**'} |")
    cmd = f".venv/bin/python benchmarks/guard/guard_unique.py --rows {args.rows} --repeats {args.repeats}"
    body = "\n".join([
        "| what | NumPy (hash path): CPU, median | `core.sets.unique` (sort): CPU, median | ratio | same result |",
        "|---|---|---|---|---|", *rows, "",
        f"NumPy {np.__version__}. Machine: {_lib.describe_machine()}.",
        f"Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC. Command: `{cmd}`.",
    ])
    print(body)
    _lib.write_section("guard_unique.md", "guard_unique", body,
                       title="guard: distinct values of integer codes (NumPy's hash path against a sort)")


if __name__ == "__main__":
    main()
