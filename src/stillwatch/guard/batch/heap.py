"""Keeping freed memory in the process while a batch scan runs (glibc's ``mallopt``; elsewhere nothing is done).

Why: the scan's numpy stages — above all the MinHash sketches of ~2M sampled prompts, chunk after chunk of
megabyte temporaries (features/minhash.py) — free their arrays and allocate the same sizes again. glibc's
defaults hand freed memory at the top of the heap back to the kernel once it exceeds the trim threshold, and serve
allocations above the mmap threshold with fresh mappings, so every chunk faulted its temporaries in anew: at 16M
rows the sketches took 18.9-19.7 s, 9.2-10.0 s of it in the kernel, on the 2-vCPU AMD EPYC host (2026-12-07). With
the thresholds raised for the scan's duration, 8.4-9.5 s, 0.2-0.3 s in the kernel; the same sketches (the sampled
prompts dumped from a scan and sketched alone; the numbers are the kernel's page-fault cost, which varies by host:
``tests/guard/test_guard_heap.py`` counts the faults themselves).

The settings are process-wide (glibc has one allocator per process): while a scan runs, any thread's frees are
kept up to ``trim_bytes`` at the heap's top. On exit the trim threshold goes down to :data:`AFTER_TRIM_THRESHOLD`
and the retained memory is handed back (``malloc_trim``); the mmap threshold stays at :data:`MMAP_THRESHOLD`, the
state glibc's dynamic thresholds reach in a process that has freed a large array (after any ``mallopt`` call glibc
no longer moves them itself). The 16M-row scan's peak resident memory did not rise (3.10-3.21 GB in the A/B, against
3.42-3.45 GB before this and the account-feature changes of the same day).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import platform
from collections.abc import Iterator

from stillwatch.errors import GuardInputError

log = logging.getLogger(__name__)

#: glibc's ``mallopt`` parameters (malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
#: Allocations below this come from the heap (so their pages are reused); glibc's ceiling for the mmap threshold
#: on 64-bit systems (``DEFAULT_MMAP_THRESHOLD_MAX``): larger arrays still get their own mapping, returned on free.
MMAP_THRESHOLD = 32 * 1024 * 1024
#: The trim threshold left after the scan: twice the mmap threshold, where glibc's own dynamic rule puts it once a
#: chunk of that size has been freed (setting either by ``mallopt`` turns that rule off for the process, so
#: glibc's 128 KiB start values would leave every later megabyte temporary a fresh mapping: measured, 8x the page
#: faults of the process before the scan).
AFTER_TRIM_THRESHOLD = 2 * MMAP_THRESHOLD


def _glibc():
    """The C library when it is glibc (``mallopt`` and ``malloc_trim`` as documented), else None."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    name = ctypes.util.find_library("c")
    if name is None:  # pragma: no cover - glibc without its soname on the search path
        return None
    libc = ctypes.CDLL(name)
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


@contextlib.contextmanager
def retained_heap(trim_bytes: int) -> Iterator[bool]:
    """Within the block, keep up to ``trim_bytes`` of freed heap memory and serve allocations below
    :data:`MMAP_THRESHOLD` from the heap (module docstring). Yields whether the settings took effect (False off
    glibc, or for ``trim_bytes`` 0). Requires ``trim_bytes >= 0``."""
    if trim_bytes < 0:
        raise GuardInputError(f"retained_heap: trim_bytes must be >= 0, got {trim_bytes}")
    libc = _glibc() if trim_bytes else None
    applied = bool(libc is not None and libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                   and libc.mallopt(M_TRIM_THRESHOLD, int(trim_bytes)))
    if libc is not None and not applied:
        log.debug("mallopt refused the scan's heap thresholds; the allocator is left as it was")
    try:
        yield applied
    finally:
        if applied:
            libc.mallopt(M_TRIM_THRESHOLD, AFTER_TRIM_THRESHOLD)
            libc.malloc_trim(0)
