"""`stillwatch demo`: the whole story end to end on the embedded defaults.

Each part contributes one step (a function taking a :class:`DemoContext`); the demo grows as the
parts land.
"""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo() -> None:
        """Run the end-to-end demo on the embedded defaults."""
        from stillwatch.cli._demo import run_demo

        run_demo()
