"""A SIGKILLed `guard simulate` never leaves an unreadable Parquet file (issue 12, item 14).

The attacker here is only bad luck: the process dies at any instant, including halfway through
writing a file. What must hold: each output path holds either the file that was there before (byte for
byte) or a complete, readable new one — never a truncated one.

The kill is injected where it hurts: the child process's Parquet writer puts half of the file's bytes
on disk and then SIGKILLs its own process (the ``n``-th write of the run), so the test does not depend
on timing.
"""

from __future__ import annotations

import subprocess
import sys

import pyarrow.parquet as pq
import pytest

_CHILD = """
import io, os, signal, sys
import pyarrow.parquet as pq
_real, _n, _die_at = pq.write_table, [0], int(sys.argv[1])
def dying_write(table, where, **kw):
    _n[0] += 1
    if _n[0] != _die_at:
        return _real(table, where, **kw)
    buf = io.BytesIO()
    _real(table, buf, **kw)
    data = buf.getvalue()
    with open(where, "wb") as fh:          # half of the file reaches the disk, then the process dies
        fh.write(data[: len(data) // 2])
        fh.flush()
        os.fsync(fh.fileno())
    os.kill(os.getpid(), signal.SIGKILL)
pq.write_table = dying_write
from stillwatch.cli.main import main
sys.argv = ["stillwatch"] + sys.argv[2:]
main()
"""


def _args(out, labels, seed) -> list[str]:
    return ["guard", "simulate", "--out", str(out), "--labels", str(labels), "--exchanges", "3000", "--seed", str(seed),
            "--force"]


def _simulate_killed(out, labels, seed, die_at):
    """The run that dies: its own interpreter (the kill takes the whole process)."""
    return subprocess.run([sys.executable, "-c", _CHILD, str(die_at), *_args(out, labels, seed)], capture_output=True,
                          timeout=300)


@pytest.mark.parametrize("die_at", [1, 2])  # killed while writing the log, then while writing the labels
def test_a_killed_simulate_leaves_the_old_files_never_a_truncated_one(tmp_path, die_at, cli):
    out, labels = tmp_path / "log.parquet", tmp_path / "labels.parquet"
    cli(*_args(out, labels, seed=1)).ok()  # the runs that are not killed go through main() in this process
    old = {p: p.read_bytes() for p in (out, labels)}
    killed = _simulate_killed(out, labels, seed=2, die_at=die_at)
    assert killed.returncode == -9  # the injected SIGKILL happened
    for path, before in old.items():
        assert path.read_bytes() == before  # nothing was replaced by a half-written file
        assert pq.read_table(path).num_rows > 0
    # a run that is not killed replaces both with complete new files
    cli(*_args(out, labels, seed=2)).ok()
    assert all(path.read_bytes() != before for path, before in old.items())
    assert pq.read_table(out).num_rows == 3000
