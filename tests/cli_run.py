"""The suite's one way to drive the command line: `stillwatch ARGS...` in-process through ``main()``
(the entry point users run), used through the ``cli`` fixture of ``tests/conftest.py`` and by helpers
that build material with the commands (``gw_helpers``)."""

from __future__ import annotations

import dataclasses


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


def run_cli(*args: object) -> CliResult:
    """Run `stillwatch ARGS...` in-process through ``main()`` — the entry point users run — with
    stdout and stderr captured for this call only (so it works in fixtures of any scope)."""
    import contextlib
    import io

    from stillwatch.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return CliResult(code, out.getvalue(), err.getvalue())
