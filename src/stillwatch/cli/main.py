"""Entry point of the `stillwatch` command: one sub-command per part.

User mistakes (any :class:`stillwatch.errors.StillwatchError`, and usage errors of the command
line) become a one-line message on stderr and exit code 2; Ctrl-C becomes exit code 130 and one
line saying what was stored (:class:`stillwatch.errors.Interrupted`) — never a traceback.
Sub-command modules import heavy dependencies (torch, duckdb) lazily, inside the commands, so
`stillwatch --help` stays fast.
"""

from __future__ import annotations

import functools
import logging
import os
import sys

# torch/OpenMP: leave one core for the rest of the process (tokenisation, the watermark's numpy
# work). On a 2-vCPU machine shared with other work, two spinning OpenMP threads made generation
# 5-20x slower than one (benchmarks/models/models_threads.py); an explicit OMP_NUM_THREADS wins.
os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 2) - 1)))

import typer
from rich.console import Console

from stillwatch.errors import Interrupted, StillwatchError

from . import case_cmd, demo_cmd, distill_cmd, gateway_cmd, guard_cmd, keys_cmd, ledger_cmd, mark_cmd, trace_cmd

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
app.add_typer(case_cmd.app, name="case")
app.add_typer(gateway_cmd.app, name="gateway")
demo_cmd.register(app)


@app.callback()
def _root(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress details.")) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _say(prefix: str, message: str) -> None:
    """One line on stderr: ``prefix: message`` (the message is plain text, never Rich markup)."""
    from rich.text import Text

    Console(stderr=True, soft_wrap=True).print(Text.assemble((prefix + ":", "bold red"), " ", _one_line(message)))


def _usage_error(exc: Exception) -> bool:
    """Report a usage error of the command-line library (unknown option, missing or malformed value,
    missing command) on one line; False when ``exc`` is not one. Recognised by the interface click's
    and typer's usage errors share (``format_message()`` and ``exit_code``), not by class: the
    installed typer vendors its own copy of click."""
    fmt, code = getattr(exc, "format_message", None), getattr(exc, "exit_code", None)
    if not callable(fmt) or not isinstance(code, int):
        return False
    message = fmt()
    ctx = getattr(exc, "ctx", None)
    path = getattr(ctx, "command_path", None) or "stillwatch"
    if not message.strip():  # a group called without a command: the library has shown its help on stdout
        _say("error", f"missing command: '{path}' needs one of the commands its help lists")
    else:
        _say("error", f"{message} (see '{path} --help')")
    return True


#: optional dependencies and the extra that installs each (see pyproject.toml)
_EXTRAS = {
    "torch": "models", "transformers": "models", "accelerate": "models", "gguf": "models", "tokenizers": "models",
    "sentencepiece": "models", "duckdb": "guard", "ibis": "guard", "pyarrow": "guard", "pyspark": "spark",
    "fastapi": "gateway", "uvicorn": "gateway", "httpx": "gateway", "psycopg": "postgres", "matplotlib": "report",
}


def _missing_extra(exc: ImportError) -> str | None:
    """The extra to install when ``exc`` is a missing optional dependency, else None."""
    top = (exc.name or "").split(".")[0]
    return _EXTRAS.get(top)


@functools.cache
def _command():
    """The click command typer builds from ``app``, built once per process: building it inspects the
    signature of every command (~15 ms here), which a process that calls :func:`main` many times (the
    test suite, an embedding program) would otherwise pay on every call."""
    return typer.main.get_command(app)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI. User errors (bad input, bad usage) exit with code 2 and one line on stderr;
    Ctrl-C exits with 130 and one line saying what was stored; never a traceback for either."""
    try:
        code = _command()(args=argv, standalone_mode=False)
    except Interrupted as exc:
        _say("interrupted", str(exc))
        sys.exit(130)
    except StillwatchError as exc:
        _say("error", str(exc))
        sys.exit(2)
    except ImportError as exc:
        extra = _missing_extra(exc)
        if extra is None:
            raise
        _say("error", f"this command needs the '{extra}' extra (missing: {exc.name}): pip install 'stillwatch[{extra}]'")
        sys.exit(2)
    except typer.Abort:
        _say("error", "aborted: the input ended early")
        sys.exit(2)
    except OSError as exc:
        if exc.filename is None:
            raise
        _say("error", f"{exc.strerror or exc}: {exc.filename}")
        sys.exit(2)
    except Exception as exc:
        if _usage_error(exc):
            sys.exit(2)
        raise
    if isinstance(code, int) and code == 130:  # Ctrl-C outside any command's storing step
        _say("interrupted", "stopped before the command stored anything")
        sys.exit(130)
    if isinstance(code, int) and code != 0:
        sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    main()
