"""SIGKILL and Ctrl-C at random moments during `ledger append`, `checkpoint` and `export`.

Each round forks a child that runs the real CLI entry point (``main(argv)``) with its stdout and
stderr on pipes, and the parent sends SIGKILL or SIGINT after a random delay spanning the command's
run time. After every round the parent checks, on the ledger as stored:

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
from ledger_attack import records_file

from stillwatch.ledger import Ledger
from stillwatch.ledger.bundle import check_bundle

ROUNDS = 14
BATCH = 400


def _child(argv: list[str], out_w: int, err_w: int) -> None:
    os.dup2(out_w, 1)
    os.dup2(err_w, 2)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    sys.stderr = os.fdopen(2, "w", buffering=1)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from stillwatch.cli.main import main

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


def _read_all(fd: int) -> str:
    chunks = []
    while True:
        b = os.read(fd, 65536)
        if not b:
            break
        chunks.append(b)
    os.close(fd)
    return b"".join(chunks).decode("utf-8", "replace")


def _run_and_signal(argv: list[str], delay: float | None, sig: int) -> tuple[int | None, int | None, str, str]:
    """(exit code or None, signal that killed it or None, stdout, stderr); ``delay=None``: no signal."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(out_r)
        os.close(err_r)
        _child(argv, out_w, err_w)
    os.close(out_w)
    os.close(err_w)
    if delay is not None:
        time.sleep(delay)
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
    out, err = _read_all(out_r), _read_all(err_r)
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
    """The one line; "" when Ctrl-C came before the command started or after it had finished
    (main()'s own "interrupted" line: the command's effects are then judged by its acknowledgement)."""
    assert code == 130, (code, err)
    lines = err.strip().splitlines()
    assert "Traceback" not in err
    assert len(lines) == 1 and lines[0].startswith("interrupted"), err
    return lines[0].removeprefix("interrupted").strip()


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
    for _ in range(ROUNDS):
        code, killed, out, err = _run_and_signal(["ledger", "append", db, str(src)], rng.uniform(0, span * 1.2), sig)
        with Ledger.open(db, read_only=True) as led:
            new = led.size
            assert new in (size, size + BATCH), "a partial batch was stored"
            if "appended" in out:  # acknowledged: must be stored
                assert new == size + BATCH
            assert led.verify().ok
        if sig == signal.SIGINT and code != 0:
            line = _check_interrupt_line(code, err)
            stored = new == size + BATCH
            if line:
                assert ("nothing was stored" in line) == (not stored), line
                assert ("had been stored" in line) == stored, line
            else:  # outside the command: stored exactly when it was acknowledged
                assert stored == ("appended" in out)
        outcomes.add((code, killed, new > size))
        size = new
    assert len(outcomes) >= 2  # the delays did hit different moments


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
        with Ledger.open(db, read_only=True) as led:
            n_cps = len(led.store.checkpoints())
        if r % 2:
            argv = ["ledger", "checkpoint", db]
            delay = rng.uniform(0, span_cp * 1.2)
        else:
            argv = ["ledger", "export", db, "-o", str(dest), "--actor", f"round-{r}", "--type", "custody"]
            delay = rng.uniform(0, span_export * 1.2)
        code, killed, out, err = _run_and_signal(argv, delay, sig)
        with Ledger.open(db, read_only=True) as led:
            assert led.verify().ok
            cps = led.store.checkpoints()
            assert len(cps) in (n_cps, n_cps + 1)
            mine = [c for c in _customs(led) if c["actor"] == f"round-{r}"]
            partial = list(tmp_path.glob(f".b{r}.json.*.partial"))
            if argv[1] == "export":
                assert len(mine) <= 1
                if mine:  # recorded: the bundle exists (moved into place, or complete beside it)
                    assert len(cps) == n_cps + 1
                    path = dest if dest.exists() else (partial[0] if partial else None)
                    assert path is not None, "a custody record for an export that wrote nothing"
                    summary = check_bundle(path.read_text(), led.verifier)
                    assert summary["tree_size"] == cps[-1][1]
                else:
                    assert not dest.exists() and len(cps) == n_cps, "an export happened that was not recorded"
                if "wrote" in out:
                    assert mine and dest.exists()
            if sig == signal.SIGINT and code not in (0, None):
                line = _check_interrupt_line(code, err)
                did = len(cps) == n_cps + 1
                if line:
                    said_nothing = "nothing was exported" in line or "no checkpoint was signed" in line
                    assert said_nothing == (not did), line
                else:
                    assert did == bool(out.strip())
                assert not partial  # Ctrl-C never leaves a temporary file behind
