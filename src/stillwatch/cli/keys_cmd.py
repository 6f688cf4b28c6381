"""`stillwatch keys`: master secrets."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

app = typer.Typer(help="Create master secrets (per-account watermark keys are derived from them).", no_args_is_help=True)


@app.command("new")
def new(out: Path = typer.Option(..., "--out", help="Where to write the new master key (created with mode 0600; never overwritten).")) -> None:
    """Create a fresh 32-byte master secret."""
    from stillwatch.mark import MasterKey

    MasterKey.generate().save(out)
    Console(stderr=True).print(f"wrote a new master key to {out} (mode 0600). Keep it secret; back it up.")
