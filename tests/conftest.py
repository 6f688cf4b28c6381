"""Suite-wide test settings.

torch runs single-threaded in the tests: on a 2-vCPU machine shared with other work, OpenMP's
spinning threads make small-model generation 10-20x slower than one thread (measured: tiny model,
batch 64, 48 tokens: 1.1 s with 1 thread vs 8-22 s with 2 threads under load).
"""

from __future__ import annotations

import dataclasses
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

try:  # torch is part of the `models` extra; the core tests do not need it
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover
    pass


import pytest  # noqa: E402


@dataclasses.dataclass(frozen=True)
class CliResult:
    """What one `stillwatch` command did: exit code, stdout, stderr."""

    code: int
    out: str
    err: str

    def ok(self) -> CliResult:
        """Assert success (exit 0, no traceback); returns self."""
        assert self.code == 0, (self.code, self.out[-2000:], self.err[-2000:])
        assert "Traceback" not in self.err, self.err
        return self

    def user_error(self, *fragments: str) -> CliResult:
        """Assert the user-error contract: exit 2, exactly one line on stderr, no traceback, and each
        of ``fragments`` in that line."""
        assert self.code == 2, (self.code, self.out[-2000:], self.err[-2000:])
        assert "Traceback" not in self.err + self.out, self.err
        lines = self.err.strip().splitlines()
        assert len(lines) == 1, self.err
        for f in fragments:
            assert f in lines[0], (f, lines[0])
        return self

    def json(self) -> object:
        """stdout parsed as one JSON document (``--json`` prints nothing else there)."""
        import json

        return json.loads(self.out)


@pytest.fixture
def cli(capsys):
    """Run `stillwatch ARGS...` in-process through ``main()`` — the entry point users run — and
    return a :class:`CliResult`. The one way the suite drives the command line."""
    from stillwatch.cli.main import main

    def run(*args: object) -> CliResult:
        capsys.readouterr()  # drop anything printed before the command
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out, err = capsys.readouterr()
        return CliResult(code, out, err)

    return run


@pytest.fixture(scope="session")
def smollm2():
    """SmolLM2-135M-Instruct, loaded once for the whole session (a load costs seconds; the tests that
    need it only read it). Tests of loading itself load their own."""
    from stillwatch.models import load_backend

    return load_backend("smollm2")
