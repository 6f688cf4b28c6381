"""Small helpers shared by the CLI commands: output encoding, candidate-account lists, progress on
stderr (stdout carries only results, e.g. the JSON of ``--json``), and Ctrl-C turned into a message
that says what was stored."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from stillwatch.errors import InputError, Interrupted
from stillwatch.records import read_text_lines
from stillwatch.secretfile import refuse_if_secret


def read_list(path: Path, what: str) -> list[str]:
    """Non-blank lines of a list file (strict UTF-8), e.g. account ids or API keys. A secret key file
    passed by mistake is refused without echoing any of it (stillwatch.secretfile's one policy)."""
    refuse_if_secret(path, what)
    lines = read_text_lines(path, what=what)
    if not lines:
        raise InputError(f"the {what} {path} lists nothing")
    return lines


def read_accounts(path: Path) -> list[str]:
    """Candidate account ids, one per line."""
    return read_list(path, "accounts file")


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=False, default=_default)


def _default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


@contextlib.contextmanager
def progress_bar(description: str, total: int | None) -> Iterator[Callable[..., None]]:
    """A Rich progress bar on stderr; yields ``update(completed, total=None, info="")``. The bar
    appears at the first update, so a job refused during its own checks prints only its error."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    prog = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TimeRemainingColumn(), TextColumn("{task.fields[info]}"), console=stderr_console(), transient=False)
    task = prog.add_task(description, total=total, info="")
    started = []

    def update(completed: int, total: int | None = None, info: str = "") -> None:
        if not started:
            prog.start()
            started.append(True)
        kw = {"total": total} if total is not None else {}
        prog.update(task, completed=completed, info=info, **kw)

    try:
        yield update
    finally:
        if started:
            prog.stop()


@contextlib.contextmanager
def status(message: str) -> Iterator[None]:
    """A spinner with ``message`` on stderr while a slow step (loading a model) runs."""
    with stderr_console().status(message):
        yield


@contextlib.contextmanager
def on_interrupt(describe: Callable[[], str]) -> Iterator[None]:
    """Within the block, Ctrl-C becomes :class:`Interrupted` with ``describe()`` — what was and was
    not stored at that moment — which ``main()`` prints on one line before exiting with code 130.
    Commands that store things wrap their storing part in it (``mark generate``, ``distill harvest``,
    ``ledger append`` ...)."""
    try:
        yield
    except KeyboardInterrupt:
        raise Interrupted(describe()) from None
