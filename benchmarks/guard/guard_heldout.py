"""guard on a held-out log built apart from the simulator (variant A: Python docstrings and code as
text); the builder, the detector runs and the report live in ``_heldout.py`` (shared with variants B
and C).

    .venv/bin/python benchmarks/guard/guard_heldout.py [--scale 1.0] [--seed 7]
"""

from _heldout import main

if __name__ == "__main__":
    raise SystemExit(main())
