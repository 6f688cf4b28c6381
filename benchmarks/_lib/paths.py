"""Where benchmarks live and write: results (committed) and out (scratch, git-ignored)."""

from pathlib import Path

#: benchmarks/
BENCH = Path(__file__).resolve().parents[1]
#: the repository root
REPO = BENCH.parent
#: benchmarks/results/: one Markdown file per part (and its plots), assembled into RESULTS.md
RESULTS = BENCH / "results"
#: benchmarks/out/: scratch data, caches and partial runs (never committed)
OUT = BENCH / "out"
