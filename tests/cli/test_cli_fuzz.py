"""Hostile input for every command, through `main()` (hypothesis).

Attacker / careless user model: controls every argument and every input file — missing, empty, not
UTF-8, lone surrogates, a huge line, JSON of the wrong type, not JSON, a dangling symlink, a
directory, a symlink to the master key, the master key itself where data belongs — but not the
program or its installed dependencies. What must hold for each command: exit code 0 or 2, never a
traceback; a refusal (exit 2) is one line on stderr; and a refused command changed nothing already
stored (a master key, a signed ledger, transcripts, prompts: byte-compared before and after).

The tiny model keeps it fast; each command draws a few examples (the strategies choose hostile
values for its path arguments and numbers, and sensible values elsewhere so the checks get past
the first argument)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stillwatch.mark import MasterKey

HOSTILE = ("missing", "empty", "non_utf8", "surrogate", "huge_line", "wrong_types", "not_json", "dangling_symlink",
           "directory", "secret", "symlink_to_secret")


def _store(root: Path) -> dict[str, Path]:
    """Things already stored, which a refused command must leave byte for byte."""
    s = root / "store"
    s.mkdir()
    key = s / "master.key"
    MasterKey.generate().save(key)
    prompts = s / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"id": f"q{i}", "prompt": f"Question {i}?"}) + "\n" for i in range(3)))
    trans = s / "transcripts.jsonl"
    trans.write_text("".join(json.dumps({"prompt_id": f"q{i}", "prompt": f"Question {i}?", "text": f"Answer number {i}.",
                                         "account": "acct-000"}) + "\n" for i in range(3)))
    from stillwatch.ledger import Ledger

    with Ledger.create(str(s / "ev.db"), origin="example.com/fuzz") as led:
        led.append_many([{"type": "exchange", "account": "acct-1", "api_key_id": "kid-1", "ts": "2026-04-01T09:00:00Z",
                     "model": "m", "spec_fingerprint": "kgw", "prompt": "p", "response": "r"}])
        led.checkpoint()
    return {"key": key, "prompts": prompts, "transcripts": trans, "ledger": s / "ev.db"}


def _snapshot(root: Path) -> dict[str, str]:
    out = {}
    for p in sorted((root / "store").rglob("*")):
        if p.is_file() and not p.is_symlink():
            out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _hostile(kind: str, root: Path, stored: dict[str, Path], n: int) -> Path:
    p = root / f"in-{n}-{kind}.jsonl"
    if kind == "missing":
        return p
    if kind == "empty":
        p.write_bytes(b"")
    elif kind == "non_utf8":
        p.write_bytes(b'{"prompt": "caf\xe9", "text": "\xff\xfe"}\n')
    elif kind == "surrogate":
        p.write_bytes(b'{"prompt": "\\ud800", "text": "\\udfff", "prompt_id": "x", "account": "a"}\n')
    elif kind == "huge_line":
        p.write_text(json.dumps({"prompt": "x" * 2_000_000, "text": "y" * 2_000_000}) + "\n")
    elif kind == "wrong_types":
        p.write_text(json.dumps({"prompt": 5, "text": ["a"], "prompt_id": None, "account": {}, "type": 7}) + "\n[1, 2]\n")
    elif kind == "not_json":
        p.write_text("{not json at all\n")
    elif kind == "dangling_symlink":
        os.symlink(root / "nowhere" / "x", p)
    elif kind == "directory":
        p.mkdir()
    elif kind == "secret":
        return stored["key"]
    elif kind == "symlink_to_secret":
        os.symlink(stored["key"], p)
    return p


NUMBERS = st.sampled_from(["0", "-1", "1", "3", "99999999999999999999", "nan", "abc", ""])


def _argv(cmd: str, draw, f, stored: dict[str, Path], root: Path) -> list[str]:
    """The arguments of ``cmd``: hostile files from ``f()``, hostile or sensible numbers from ``draw``."""
    num = lambda: draw(NUMBERS)  # noqa: E731
    out = lambda: draw(st.sampled_from([str(root / "new-out"), str(stored["transcripts"]), str(stored["key"]), str(f())]))  # noqa: E731
    k = draw(st.sampled_from([str(stored["key"]), str(f())]))
    if cmd == "keys new":
        return ["keys", "new", "--out", out()]
    if cmd == "mark generate":
        return ["mark", "generate", "--master-key", k, "--account", draw(st.sampled_from(["a", "", "acct-\u00e9"])),
                "--prompts", str(f()), "--out", out(), "--model", "tiny", "--max-new-tokens", draw(st.sampled_from(["2", "0", "x"]))]
    if cmd == "mark detect":
        acc = draw(st.sampled_from([[], ["--accounts", str(f())]]))
        return ["mark", "detect", "--master-key", k, "--input", str(f()), "--model", "tiny", "--json", *acc]
    if cmd == "distill prompts":
        return ["distill", "prompts", "--out", out(), "--n", num(), "--families", draw(st.sampled_from(["coding", "", "poetry"]))]
    if cmd == "distill harvest":
        return ["distill", "harvest", "--teacher", "tiny", "--prompts", str(f()), "--out", out(), "--master-key", k,
                "--accounts", num(), "--max-new-tokens", draw(st.sampled_from(["2", "0", "-5"]))]
    if cmd == "distill train":
        return ["distill", "train", "--transcripts", str(f()), "--student", draw(st.sampled_from(["tiny", str(f())])),
                "--out", out(), "--epochs", draw(st.sampled_from(["1", "0", "x"])), "--json"]
    if cmd == "trace radioactivity":
        return ["trace", "radioactivity", "--suspect", draw(st.sampled_from(["tiny", str(f())])), "--master-key", k,
                "--transcripts", str(f()), "--max-texts", draw(st.sampled_from(["2", "0"])), "--max-new-tokens", "2",
                *draw(st.sampled_from([[], ["--accounts", str(f())], ["--plot", out()]])), "--json"]
    if cmd == "guard scan":
        return ["guard", "scan", "--input", str(f()), "--out", out()]
    if cmd == "guard eval":
        return ["guard", "eval", "--log", str(f()), "--labels", str(f())]
    if cmd == "guard simulate":
        return ["guard", "simulate", "--out", out(), "--labels", out(), "--exchanges", draw(st.sampled_from(["0", "-1", "x", "200"]))]
    if cmd == "trace provenance":
        return ["trace", "provenance", "--suspect", draw(st.sampled_from(["tiny", str(f())])), "--candidates", str(f()),
                "--prompts", num(), "--no-cache", "--json"]
    if cmd == "case init":
        return ["case", "init", out(), "--title", draw(st.sampled_from(["t", ""])), "--ledger", draw(st.sampled_from([str(stored["ledger"]), str(f())])),
                *draw(st.sampled_from([[], ["--key", str(f())]]))]
    if cmd == "case add":
        sub = draw(st.sampled_from(["add-guard", "add-mark", "add-trace", "add-provenance"]))
        return ["case", sub, draw(st.sampled_from([str(f()), str(root / "store")])), str(f())]
    if cmd == "case add-ledger":
        return ["case", "add-ledger", str(f()), "--flagged", "--ledger", draw(st.sampled_from([str(stored["ledger"]), str(f())]))]
    if cmd == "case build":
        return ["case", "build", str(f()), *draw(st.sampled_from([[], ["--key", str(f())]]))]
    if cmd == "case verify":
        return ["case", "verify", str(f()), "--public-key", str(f()), "--json"]
    if cmd == "gateway admin":
        sub = draw(st.sampled_from([["accounts", "list"], ["accounts", "add", "acct-9"], ["accounts", "disable", "acct-9"],
                                    ["keys", "issue", "acct-9"], ["keys", "revoke", draw(st.sampled_from(["k", ""]))],
                                    ["tos", "publish", "--version", "v1", "--file", str(f())], ["tos", "accept", "acct-9"],
                                    ["limits", "set", "acct-9", "--rpm", num()]]))
        return ["gateway", *sub, "--ledger", draw(st.sampled_from([str(stored["ledger"]), str(f())]))]
    if cmd == "gateway serve":  # only configurations that must be refused before serving
        return ["gateway", "serve", "--model", "tiny", "--ledger", str(stored["ledger"]), "--master-key", str(f()),
                "--port", draw(st.sampled_from(["-1", "70000", "x"]))]
    if cmd == "demo":  # only workdirs that must be refused: a valid one would run the whole demo
        return ["demo", "--workdir", draw(st.sampled_from([str(stored["key"]), str(stored["transcripts"])]))]
    raise AssertionError(cmd)


COMMANDS = ("keys new", "mark generate", "mark detect", "distill prompts", "distill harvest", "distill train",
            "trace radioactivity", "trace provenance", "guard scan", "guard eval", "guard simulate", "case init",
            "case add", "case add-ledger", "case build", "case verify", "gateway admin", "gateway serve", "demo")


@pytest.mark.parametrize("cmd", COMMANDS)
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_hostile_input_never_crashes_and_never_changes_what_is_stored(cmd, data, cli, tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    stored = _store(root)
    counter = iter(range(10_000))
    files = lambda: _hostile(data.draw(st.sampled_from(HOSTILE)), root, stored, next(counter))  # noqa: E731
    argv = _argv(cmd, data.draw, files, stored, root)
    before = _snapshot(root)
    r = cli(*argv)
    assert "Traceback" not in r.err + r.out, (argv, r.err[-3000:])
    assert r.code in (0, 2), (argv, r.code, r.err[-3000:])
    if r.code == 2:
        lines = [ln for ln in r.err.strip().splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("error:"), (argv, r.err[-3000:])
        assert _snapshot(root) == before, argv
    assert stored["key"].read_text().split()[-1] not in r.out + r.err  # never echo the secret
