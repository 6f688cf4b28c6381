"""guard on held-out log C (manual pages and Debian package descriptions as text, populations neither the simulator nor A/B use); the log's builder lives in ``_heldout_c.py``,
the detector runs and the report in ``_heldout.py`` (shared with variants A-D).

    .venv/bin/python benchmarks/guard/guard_heldout_c.py [--scale 1.0] [--seed 23]
"""

from _heldout import run
from _heldout_c import build_c


def main(argv: list[str] | None = None) -> int:
    return run(argv, build_log=build_c, default_seed=23, out_dir="heldout_c", scenario="heldout-c",
               title="## guard: held-out traffic, variant C (built after the session-3 changes, kept from their developers)",
               script="guard_heldout_c.py", out_name="guard_heldout_c.md")


if __name__ == "__main__":
    raise SystemExit(main())
