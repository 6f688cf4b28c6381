"""Entry point of the `stillwatch` command: one sub-command per part.

User mistakes (any :class:`stillwatch.errors.StillwatchError`) become a one-line message on stderr
and exit code 2 — never a traceback. Sub-command modules import heavy dependencies (torch, duckdb)
lazily, inside the commands, so `stillwatch --help` stays fast.
"""

from __future__ import annotations

import logging
import os
import sys

# torch/OpenMP: leave one core for the rest of the process (tokenisation, the watermark's numpy
# work). On a 2-vCPU machine shared with other work, two spinning OpenMP threads made generation
# 5-20x slower than one (benchmarks/models_threads.py); an explicit OMP_NUM_THREADS wins.
os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 2) - 1)))

import typer
from rich.console import Console

from stillwatch.errors import StillwatchError

from . import demo_cmd, distill_cmd, gateway_cmd, guard_cmd, keys_cmd, ledger_cmd, mark_cmd, trace_cmd

app = typer.Typer(
    name="stillwatch",
    help="Mark, watch, trace and prove model distillation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(keys_cmd.app, name="keys")
app.add_typer(mark_cmd.app, name="mark")
app.add_typer(ledger_cmd.app, name="ledger")
app.add_typer(guard_cmd.app, name="guard")
app.add_typer(distill_cmd.app, name="distill")
app.add_typer(trace_cmd.app, name="trace")
app.add_typer(gateway_cmd.app, name="gateway")
demo_cmd.register(app)


@app.callback()
def _root(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress details.")) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; user errors exit with code 2 and a one-line message."""
    err = Console(stderr=True)
    try:
        app(args=argv, standalone_mode=False)
    except StillwatchError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except FileNotFoundError as exc:
        err.print(f"[bold red]error:[/] file not found: {exc.filename}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err.print("[bold red]interrupted[/]")
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # click usage errors arrive here in non-standalone mode
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(2)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(1)
        raise


if __name__ == "__main__":  # pragma: no cover
    main()
