"""`stillwatch demo`: the whole story end to end on the embedded defaults."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        workdir: Path | None = typer.Option(None, "--workdir", help="Where to keep the demo's files (default: a new temporary directory)."),
        json_out: bool = typer.Option(False, "--json", help="Also print the results as JSON."),
    ) -> None:
        """Run the end-to-end demo: mark, ledger, guard, trace."""
        from stillwatch.cli._demo import run_demo
        from stillwatch.cli._io import dumps

        res = run_demo(workdir)
        if json_out:
            print(dumps({k: v for k, v in res.items() if k != "mark"} | {"mark": res["mark"]["rows"]}))
