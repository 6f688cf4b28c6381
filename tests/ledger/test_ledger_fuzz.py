"""Hostile files in every file position of every `ledger` command, through ``main()``.

Hypothesis picks a command and a file put where the command expects a records file, a checkpoint, a
public or private key, a bundle or the ledger itself: missing, empty, a directory, a dangling
symlink, bytes that are not UTF-8, JSON with a lone surrogate, a 1 MB line, JSON of the wrong type,
random bytes. Whatever it picks: the exit code is 0 or 2, an error is exactly one line on stderr,
there is never a traceback, and a command that fails changes nothing already stored (a reading
command changes nothing at all).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_attack import digest, make_ledger, state

KINDS = {
    "missing": None,
    "empty": b"",
    "not_utf8": b"\xff\xfe\xfa not text\n",
    "surrogate": b'{"type": "custody", "actor": "\\ud800", "action": "a", "subject": "s"}\n',
    "huge_line": b'{"type": "custody", "actor": "' + b"a" * (1 << 20) + b'"}\n',
    "wrong_json": b"5\n[]\nnull\n{\"type\": 5}\n",
    "bundle_like": b'{"format": "stillwatch-evidence-bundle/1", "origin": 1, "verifier_key": [], "records": {}}',
    "checkpoint_like": "example.com/evidence\n-1\nAAAA\n\n\u2014 x AAAA\n".encode(),
    "key_like": b"PRIVATE+KEY+x+00000000+AAAA\n",
}


def _place(tmp: Path, kind: str, n: int) -> Path:
    p = tmp / f"hostile-{n}-{kind}"
    if kind == "missing":
        return p
    if kind == "directory":
        p.mkdir()
    elif kind == "dangling_symlink":
        os.symlink(tmp / "nowhere" / "x", p)
    else:
        p.write_bytes(KINDS[kind])
        os.chmod(p, 0o600)
    return p


COMMANDS = [
    ("append", lambda db, f, out: ["ledger", "append", db, f], False),
    ("verify_since", lambda db, f, out: ["ledger", "verify", db, "--since", f], True),
    ("verify_pubkey", lambda db, f, out: ["ledger", "verify", db, "--pubkey", f], True),
    ("verify_ledger", lambda db, f, out: ["ledger", "verify", f], True),
    ("prove_pubkey", lambda db, f, out: ["ledger", "prove", db, "0", "--pubkey", f], True),
    ("prove_ledger", lambda db, f, out: ["ledger", "prove", f, "0"], True),
    ("consistency_ledger", lambda db, f, out: ["ledger", "consistency", f, "0"], True),
    ("check_bundle", lambda db, f, out: ["ledger", "check-bundle", f], True),
    ("check_bundle_pubkey", lambda db, f, out: ["ledger", "check-bundle", f, "--pubkey", f], True),
    ("checkpoint_key", lambda db, f, out: ["ledger", "checkpoint", db, "--key", f], False),
    ("export_since", lambda db, f, out: ["ledger", "export", db, "-o", out, "--actor", "x", "--index", "0",
                                         "--since", f], False),
    ("export_key", lambda db, f, out: ["ledger", "export", db, "-o", out, "--actor", "x", "--index", "0",
                                       "--key", f], False),
    ("export_output", lambda db, f, out: ["ledger", "export", db, "-o", f, "--actor", "x", "--index", "0"], False),
    ("init", lambda db, f, out: ["ledger", "init", f, "--key", f], False),
    ("keys_new", lambda db, f, out: ["keys", "new", "--out", f], False),
]


@pytest.fixture
def ledger(tmp_path, cli):
    """One ledger for the whole hypothesis run (a function-scoped fixture is made once per test, not
    per example: the examples share it, and each checks that it is unchanged)."""
    return tmp_path, make_ledger(cli, tmp_path, n=6)


@settings(max_examples=70, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cmd=st.sampled_from(COMMANDS), kind=st.sampled_from([*KINDS, "directory", "dangling_symlink"]),
       n=st.integers(0, 10**9))
def test_hostile_files_anywhere_give_one_line_and_change_nothing(ledger, cli, cmd, kind, n):
    tmp, db = ledger
    name, argv, reading = cmd
    here = Path(tempfile.mkdtemp(dir=tmp))  # per example: draws repeat (kind, n), and a file left by one must not collide
    f = _place(here, kind, n)
    out = here / f"out-{n}.json"
    before, h = state(db), digest(db)
    r = cli(*argv(db, f, out))
    assert r.code in (0, 2), (name, kind, r.code, r.err[-2000:])
    assert "Traceback" not in r.err, (name, kind, r.err[-2000:])
    if r.code == 2:
        r.user_error()  # one line, no traceback
        assert state(db) == before, (name, kind)
    if reading:
        assert digest(db) == h and state(db) == before, (name, kind)
