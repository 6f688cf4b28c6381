"""SIGKILL and Ctrl-C at random moments during `ledger append`, `checkpoint` and `export`.

Each round forks a child that runs the real CLI entry point (``main(argv)``) with its stdout and
stderr on pipes. SIGKILL comes from the parent after a random delay spanning the command's run time.
Ctrl-C is injected by the child itself at a named point of the command (while parsing, right after
opening the ledger, just before and just after the database commit, after the temporary output is
written, before it is moved into place, while printing): a random delay would mostly land in the
CLI start-up, outside the command. After every round the parent checks, on the ledger as stored:

- no acknowledged result is lost: when the child printed its result (append: the indices; export:
  the bundle path), those records / that bundle are there;
- no record of an action that did not happen: every custody record of an export has its bundle on
  disk (at the output path, or — killed in the instant between the commit and the rename — as the
  complete temporary file next to it), and a bundle at the output path checks against the ledger;
  append is all-or-nothing; a checkpoint is stored whole or not at all;
- the ledger still verifies (records, subtree hashes, every checkpoint);
- Ctrl-C exits 130 with exactly one line on stderr, and what that line says is true.
"""

from __future__ import annotations

import os
import random
import signal
import sys
import time
from pathlib import Path

import pytest
from ledger_attack import read_pipe, records_file

from stillwatch.ledger import Ledger
from stillwatch.ledger.bundle import check_bundle

ROUNDS = 12
BATCH = 400


APPEND_POINTS = ("parse", "open", "before_commit", "after_commit", "emit")


@pytest.fixture(scope="module", autouse=True)
def _commands_imported(tmp_path_factory, cli):
    """Run each command once in this process (on a scratch ledger) before any child is forked: the children then
    inherit what the commands import instead of importing it again (a forked `ledger append` took 0.5-1.0 s from a
    cold test process, 0.1-0.15 s after this, 2026-12-05). What is tested is unchanged: every round still runs the
    whole command in its own process."""
    tmp = tmp_path_factory.mktemp("warm")
    db = str(tmp / "w.db")
    Ledger.create(db, origin="example.com/warm").close()
    cli("ledger", "append", db, records_file(tmp / "r.jsonl", 2)).ok()
    cli("ledger", "checkpoint", db, "-o", tmp / "cp.json").ok()
    cli("ledger", "export", db, "-o", tmp / "b.json", "--actor", "x", "--type", "custody").ok()
SIGN_POINTS = ("open", "before_commit", "after_commit", "write", "publish", "emit")


def _inject_ctrl_c(point: str) -> None:
    """Make the command send itself SIGINT once, at ``point`` (before or after the patched call)."""
    import stillwatch.cli._ledger_io as lio
    import stillwatch.cli.ledger_cmd as lc
    import stillwatch.ledger.records as rec
    from stillwatch.ledger.store import SQLiteStore

    obj, name, when = {"parse": (rec, "record_from_dict", "after"), "open": (lc, "_open", "after"),
                       "before_commit": (SQLiteStore, "commit", "before"),
                       "after_commit": (SQLiteStore, "commit", "after"), "write": (lio, "write_temp", "after"),
                       "publish": (lio, "publish", "before"), "emit": (lc, "_emit", "before")}[point]
    real = getattr(obj, name)
    fired = []

    def patched(*args, **kwargs):
        if when == "before" and not fired:
            fired.append(1)
            os.kill(os.getpid(), signal.SIGINT)
        result = real(*args, **kwargs)
        if when == "after" and not fired:
            fired.append(1)
            os.kill(os.getpid(), signal.SIGINT)
        return result

    setattr(obj, name, patched)


def _child(argv: list[str], out_w: int, err_w: int, inject: str | None) -> None:
    os.dup2(out_w, 1)
    os.dup2(err_w, 2)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    sys.stderr = os.fdopen(2, "w", buffering=1)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from stillwatch.cli.main import main

    if inject is not None:
        _inject_ctrl_c(inject)

    code = 0
    try:
        main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - report, never return into pytest
        import traceback

        traceback.print_exc()
        code = 99
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _run_and_signal(argv: list[str], delay: float | None, sig: int,
                    inject: str | None = None) -> tuple[int | None, int | None, str, str]:
    """(exit code or None, signal that killed it or None, stdout, stderr); ``delay=None``: no signal
    from the parent; ``inject``: the point where the child sends itself SIGINT."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(out_r)
        os.close(err_r)
        _child(argv, out_w, err_w, inject)
    os.close(out_w)
    os.close(err_w)
    if delay is not None:
        time.sleep(delay)
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
    out, err = (read_pipe(fd).decode("utf-8", "replace") for fd in (out_r, err_r))
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return None, os.WTERMSIG(status), out, err
    return os.WEXITSTATUS(status), None, out, err


def _timed(argv: list[str]) -> float:
    t0 = time.perf_counter()
    code, _, _, err = _run_and_signal(argv, None, 0)
    assert code == 0, err
    return time.perf_counter() - t0


def _customs(led: Ledger) -> list[dict]:
    out = []
    for idx, kind, data, _ in led.store.iter_leaves():
        if kind == "custody":
            from stillwatch.ledger.records import decode_leaf

            env = decode_leaf(bytes(data))
            if env["fields"]["action"] == "export":
                out.append({"index": idx, **env["fields"]})
    return out


def _check_interrupt_line(code, err: str) -> str:
    """The command's own one-line Ctrl-C report (without the "interrupted: " prefix)."""
    assert code == 130, (code, err)
    lines = err.strip().splitlines()
    assert "Traceback" not in err
    assert len(lines) == 1 and lines[0].startswith("interrupted: "), err
    return lines[0].removeprefix("interrupted: ")


def _round(argv: list[str], sig: int, rng: random.Random, span: float, r: int, points: tuple[str, ...]):
    if sig == signal.SIGKILL:
        return _run_and_signal(argv, rng.uniform(0, span * 1.2), sig)
    return _run_and_signal(argv, None, sig, inject=points[r % len(points)])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX) to start the CLI quickly")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_append_is_all_or_nothing_and_acknowledged_appends_stay(tmp_path, sig):
    db = str(tmp_path / "a.db")
    Ledger.create(db, origin="example.com/crash").close()
    src = records_file(tmp_path / "batch.jsonl", BATCH)
    span = _timed(["ledger", "append", db, str(src)])
    rng = random.Random(1000 + sig)
    size = BATCH
    outcomes = set()
    for r in range(ROUNDS):
        code, killed, out, err = _round(["ledger", "append", db, str(src)], sig, rng, span, r, APPEND_POINTS)
        with Ledger.open(db) as led:  # a writer's open, as after a restart: it recovers the WAL index
            new = led.size
            assert new in (size, size + BATCH), "a partial batch was stored"
            if "appended" in out:  # acknowledged: must be stored
                assert new == size + BATCH
            assert led.verify().ok
        stored = new == size + BATCH
        if sig == signal.SIGINT:
            line = _check_interrupt_line(code, err)
            point = APPEND_POINTS[r % len(APPEND_POINTS)]
            assert stored == (point in ("after_commit", "emit")), (point, line)
            assert ("nothing was stored" in line) == (not stored), line
            assert ("had been stored" in line) == stored, line
        outcomes.add((code, killed, stored))
        size = new
    if sig == signal.SIGINT:  # injected points: some before, some after the commit
        assert {o[2] for o in outcomes} == {True, False}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX) to start the CLI quickly")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_checkpoint_and_export_record_only_what_happened(tmp_path, sig):
    db = str(tmp_path / "e.db")
    with Ledger.create(db, origin="example.com/crash") as led:
        led.append_many([{"type": "custody", "actor": "c", "action": "file", "subject": f"s{i}"} for i in range(600)])
        led.checkpoint()
    rng = random.Random(2000 + sig)
    span_export = _timed(["ledger", "export", db, "-o", str(tmp_path / "warm.json"), "--actor", "x", "--type", "custody"])
    span_cp = _timed(["ledger", "checkpoint", db])
    for r in range(ROUNDS):
        dest = tmp_path / f"b{r}.json"
        with Ledger.open(db) as led:  # a writer's open, as after a restart: it recovers the WAL index
            n_cps = len(led.store.checkpoints())
        export = r % 2 == 0
        if export:
            argv = ["ledger", "export", db, "-o", str(dest), "--actor", f"round-{r}", "--type", "custody"]
        else:
            argv = ["ledger", "checkpoint", db, "-o", str(dest)]
        points = SIGN_POINTS if export else tuple(p for p in SIGN_POINTS if p != "write")
        code, killed, out, err = _round(argv, sig, rng, span_export if export else span_cp, r // 2, points)
        with Ledger.open(db) as led:  # a writer's open, as after a restart: it recovers the WAL index
            assert led.verify().ok
            cps = led.store.checkpoints()
            assert len(cps) in (n_cps, n_cps + 1)
            did = len(cps) == n_cps + 1
            mine = [c for c in _customs(led) if c["actor"] == f"round-{r}"]
            partial = list(tmp_path.glob(f".b{r}.json.*.partial"))
            assert len(mine) == (1 if export and did else 0)
            if did:  # recorded: the output exists (moved into place, or complete beside it after a SIGKILL)
                path = dest if dest.exists() else (partial[0] if partial else None)
                assert path is not None, "a record of an export/checkpoint file that was never written"
                if export:
                    assert check_bundle(path.read_text(), led.verifier)["tree_size"] == cps[-1][1]
                else:
                    assert path.read_text() == cps[-1][3]
            else:
                assert not dest.exists(), "an output was written that the ledger does not record"
            if out.strip():  # acknowledged
                assert did and dest.exists()
        if sig == signal.SIGINT:
            line = _check_interrupt_line(code, err)
            point = points[(r // 2) % len(points)]
            assert did == (point in ("after_commit", "publish", "emit")), (point, line)
            said_nothing = "nothing was exported" in line or "no checkpoint was signed" in line
            assert said_nothing == (not did), line
            assert not partial and dest.exists() == did  # Ctrl-C finishes what was recorded, discards the rest
