"""Crash safety: SIGKILL a writer at random moments; no acknowledged record is ever lost.

The writer is a forked child (fast: no interpreter start-up) that appends single records and
batches and signs checkpoints in a loop, and reports on a pipe each index only after `append`
returned (= acknowledged). The parent kills it with SIGKILL after a random delay, reopens the
ledger, checks every acknowledged record is stored with the content the child wrote, and runs a
full `verify` (records, subtree hashes, every stored checkpoint) — then starts the next writer.
"""

from __future__ import annotations

import os
import random
import signal
import sys
import time

import pytest
from ledger_attack import read_pipe

from stillwatch.ledger import Custody, Ledger

ROUNDS = 60


def _writer(path, round_no: int, w: int) -> None:
    led = Ledger.open(path)
    k = 0
    while True:
        if k % 3 == 0:
            subjects = [f"r{round_no}-k{k}"]
            idx = [led.append(Custody(actor="w", action="crash-test", subject=subjects[0]))]
        else:
            subjects = [f"r{round_no}-k{k}-{j}" for j in range(1 + k % 5)]
            idx = led.append_many([Custody(actor="w", action="crash-test", subject=s) for s in subjects])
        os.write(w, "".join(f"{i} {s}\n" for i, s in zip(idx, subjects)).encode())
        if k % 4 == 3:
            led.checkpoint()
        k += 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX) to start writers quickly")
def test_sigkilled_writers_never_lose_acknowledged_records(tmp_path):
    path = tmp_path / "crash.db"
    Ledger.create(path).close()
    rng = random.Random(20260301)
    acked: dict[int, str] = {}
    kills_mid_write = 0
    prev_size = 0
    t0 = time.perf_counter()
    for round_no in range(ROUNDS):
        r, w = os.pipe()
        started_r, started_w = os.pipe()
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:  # child: write until killed
            code = 0
            try:
                os.close(r)
                os.close(started_r)
                os.close(started_w)  # the parent's cue: this process is running
                _writer(path, round_no, w)
            except BaseException:  # noqa: BLE001 - the child must never return into pytest
                code = 1
            os._exit(code)
        os.close(w)
        os.close(started_w)
        read_pipe(started_r)  # EOF once the child runs: the random delay below is the child's own time,
        # not fork and scheduling latency (on a loaded machine that latency alone outlasted the delay)
        time.sleep(rng.uniform(0.0, 0.06))
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, "writer died on its own"
        raw = read_pipe(r)
        lines = raw.decode().splitlines()
        if lines and not raw.endswith(b"\n"):
            lines = lines[:-1]  # a torn last ack line does not acknowledge anything
        for line in lines:
            i, s = line.split(" ", 1)
            acked[int(i)] = s
        acked_now = len(lines)

        led = Ledger.open(path)  # restart
        try:
            size = led.size
            assert size >= prev_size
            kills_mid_write += size - prev_size > acked_now  # committed, killed before acknowledging
            prev_size = size
            for i, s in acked.items():
                _, env = led.record(i)
                assert env["fields"]["subject"] == s, f"acknowledged record {i} changed or lost"
            rep = led.verify()
            assert rep.ok and rep.size == size
        finally:
            led.close()
    assert len(acked) > ROUNDS  # the writers did make progress between kills
    elapsed = time.perf_counter() - t0
    print(f"{ROUNDS} kills, {len(acked)} acknowledged records, {prev_size} stored, "
          f"{kills_mid_write} kills after a commit but before its acknowledgement, {elapsed:.1f}s")
