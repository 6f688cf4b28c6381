"""Shared helpers of the benchmark scripts: paths, the machine description (measured at run time)
and the one writer of results sections. Scripts import this package, never each other:

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/
    import _lib
"""

from _lib.machine import describe_machine
from _lib.paths import BENCH, OUT, REPO, RESULTS
from _lib.results import NOTES_MARKER, write_file, write_section

__all__ = ["BENCH", "NOTES_MARKER", "OUT", "REPO", "RESULTS", "describe_machine", "write_file", "write_section"]
