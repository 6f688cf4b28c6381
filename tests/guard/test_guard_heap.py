"""The batch scan's heap settings (guard/batch/heap.py): the MinHash sketches fault far fewer pages in while they
hold, the process is left no worse than before, and a bad size is refused. Run in a fresh interpreter each: the
allocator's state is the process's, and pytest's own allocations would blur the counts."""

from __future__ import annotations

import json
import platform
import subprocess
import sys

import pytest

from stillwatch.errors import GuardInputError
from stillwatch.guard.batch.heap import retained_heap
from stillwatch.guard.batch.scan import ScanConfig

_PROBE = r"""
import json, resource, numpy as np
from stillwatch.guard.batch.heap import retained_heap
from stillwatch.guard.features.minhash import sketches
rng = np.random.default_rng(0)
words = np.array(["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "theta", "kappa"])
texts = [" ".join(rng.choice(words, 40)) for _ in range(20000)]
def faults(f):
    r0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    out = f()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - r0, out
sketches(texts[:100])  # imports and first-call allocations out of the way
before, ref = faults(lambda: sketches(texts))
with retained_heap(256 << 20) as on:
    during, got = faults(lambda: sketches(texts))
after, _ = faults(lambda: sketches(texts))
same = all(np.array_equal(a, b) for a, b in zip(ref, got))
print(json.dumps({"on": on, "before": before, "during": during, "after": after, "same": same}))
"""


def _probe() -> dict:
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_sketches_fault_fewer_pages_and_the_process_is_left_no_worse():
    r = _probe()
    assert r["same"]  # the settings change where memory comes from, never a result
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert r["on"] is True
        # measured on the 2-vCPU hosts: ~14,000 minor faults before, ~2,500 during, ~2,800 after
        assert r["during"] * 2 < r["before"], r
        assert r["after"] <= r["before"], r
    else:  # another C library: nothing is changed
        assert r["on"] is False


def test_zero_leaves_the_allocator_alone_and_a_negative_size_is_refused():
    with retained_heap(0) as on:
        assert on is False
    with pytest.raises(GuardInputError, match="trim_bytes must be >= 0, got -1"):
        with retained_heap(-1):
            pass
    with pytest.raises(GuardInputError, match="retained_heap_bytes must be >= 0, got -5"):
        ScanConfig(retained_heap_bytes=-5)
