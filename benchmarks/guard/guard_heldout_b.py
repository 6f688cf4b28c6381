"""guard on held-out log B (other text, other populations, other campaign formats than variant A); the log's builder lives in ``_heldout_b.py``,
the detector runs and the report in ``_heldout.py`` (shared with variants A-D).

    .venv/bin/python benchmarks/guard/guard_heldout_b.py [--scale 1.0] [--seed 11]
"""

from _heldout import run
from _heldout_b import build_b


def main(argv: list[str] | None = None) -> int:
    return run(argv, build_log=build_b, default_seed=11, out_dir="heldout_b", scenario="heldout-b",
               title="## guard: held-out traffic, variant B (kept from the developers until the detector was final)",
               script="guard_heldout_b.py", out_name="guard_heldout_b.md")


if __name__ == "__main__":
    raise SystemExit(main())
