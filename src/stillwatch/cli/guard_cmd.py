"""`stillwatch guard` sub-commands: simulate traffic, scan logs for harvesting campaigns, evaluate.

Each command lives in its own block below (``simulate`` and ``eval``: data/evaluation;
``scan``: detection pipeline). Heavy imports (pyarrow, duckdb) happen inside the commands.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Find distillation / harvesting campaigns in API logs (simulate, scan, eval).",
    no_args_is_help=True,
)
