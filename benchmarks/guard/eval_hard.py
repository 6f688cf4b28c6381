"""Every simulator family against the hard negatives (issue 13): each family simulated with the
populations of ``stillwatch.guard_sim.hard`` (popular public prompts shared verbatim, classes,
companies on NAT, evaluation labs, apps, monitors, resellers), the five shape families included,
and every detector run on the same log; figures per population beside the baselines.

Run: ``.venv/bin/python benchmarks/guard/eval_hard.py [--exchanges 320000] [--families a,b] [--seed 0]``
— writes ``benchmarks/results/guard_eval_hard.md``. ``--seeds 1,2 --out benchmarks/results/guard_eval_hard_seeds.md``
runs the same families on other seeds into a file of their own (one section per family and seed), so that no figure
rests on one draw of the simulator.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))

from _heldout_d_report import evaluate_log, render, write_keeping_notes  # noqa: E402

from stillwatch.guard_sim.simulate import DEVELOPMENT_FAMILIES, SHAPE_FAMILIES, simulate  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="simulator families with the hard negatives, beside the baselines")
    ap.add_argument("--exchanges", type=int, default=320_000)
    ap.add_argument("--families", default=",".join(SHAPE_FAMILIES + DEVELOPMENT_FAMILIES + ("heldout",)))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seeds", default=None, help="comma-separated seeds (overrides --seed; sections name their seed)")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "guard_eval_hard.md"))
    ap.add_argument("--detectors", default="stillwatch,rate_limit,prada,seat,synchrotrap")
    args = ap.parse_args(argv)
    seeds = [int(x) for x in args.seeds.split(",")] if args.seeds else [args.seed]
    sections = []
    for seed in seeds:
        for fam in args.families.split(","):
            t0 = time.perf_counter()
            log, labels = simulate(fam, args.exchanges, seed, hard_negatives=True)
            print(f"{fam} seed {seed}: {log.num_rows:,} exchanges ({time.perf_counter() - t0:.0f} s)", flush=True)
            title = f"family {fam} + hard negatives" + (f", seed {seed}" if args.seeds else "")
            sections.append((title, evaluate_log(log, labels, args.detectors.split(","))))
    which = f"--seeds {args.seeds} --out {Path(args.out).resolve().relative_to(REPO)}" if args.seeds else f"--seed {args.seed}"
    cmd = (f"`.venv/bin/python benchmarks/guard/eval_hard.py --exchanges {args.exchanges} {which} "
           f"--families {args.families} --detectors {args.detectors}`")
    text = render(sections, command=cmd, date=dt.date.today().isoformat(),
                  title="## guard: simulator families against the hard negatives, beside the baselines"
                  + (f" (seeds {args.seeds})" if args.seeds else ""))
    print(text)
    write_keeping_notes(Path(args.out), text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
