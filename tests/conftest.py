"""Suite-wide test settings.

torch runs single-threaded in the tests: on a 2-vCPU machine shared with other work, OpenMP's
spinning threads make small-model generation 10-20x slower than one thread (measured: tiny model,
batch 64, 48 tokens: 1.1 s with 1 thread vs 8-22 s with 2 threads under load).

Spark's driver JVM (the one JVM local mode starts, shared by every Spark test) runs with the C1 JIT
only and the serial collector: a test's queries are many small plans over a few thousand rows, so the
optimising C2 compiler and parallel GC threads cost far more CPU than they return (measured on
``tests/guard/test_guard_spark.py``: 123 s of CPU with the defaults, 66 s with these two flags), and
expressions are interpreted rather than compiled to Java source with Janino
(``spark.sql.codegen.factoryMode=NO_CODEGEN``: the file's wall time 24.1-24.3 s -> 21.5-21.8 s, two
quiet runs each, 2026-12-05). What Spark computes is the same; a PYSPARK_SUBMIT_ARGS already set is left alone.
"""

from __future__ import annotations

import gc
import os

# The youngest generation is collected every 50,000 net allocations instead of every 700: the tests allocate many
# short-lived objects (Ibis expression trees above all) and CPython's default collected them ~70 times as often;
# trace + mark tests 36.2 -> 35.6 CPU-s (two pairs of runs, quiet, 2026-12-05). No test depends on when garbage
# is collected (nothing here relies on finalizers running at a given moment).
gc.set_threshold(50_000, 50, 100)

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("PYSPARK_SUBMIT_ARGS", '--driver-java-options "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC" '
                      '--conf spark.sql.codegen.wholeStage=false --conf spark.sql.codegen.factoryMode=NO_CODEGEN '
                      '--conf spark.sql.adaptive.enabled=false pyspark-shell')

try:  # torch is part of the `models` extra; the core tests do not need it
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover
    pass


import pytest  # noqa: E402
from cli_run import run_cli  # noqa: E402

try:  # hypothesis is a dev dependency; the core-install test runs without it
    from hypothesis import settings as _hypothesis_settings

    # In CI (.ci/run exports CI=true) every property test draws the same examples on every run: a clean clone's
    # verdict must not depend on the draw (a tie between two rivals' p-values, found by one random draw in 24
    # runs, failed a run once). Locally the draws stay random, so new examples keep being tried.
    _hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
    if os.environ.get("CI"):
        _hypothesis_settings.load_profile("ci")
except ImportError:  # pragma: no cover
    pass


@pytest.fixture(scope="session")
def cli():
    """``cli(*args)`` runs `stillwatch ARGS...` through ``main()`` in-process and returns a
    :class:`cli_run.CliResult`: the one way the suite drives the command line (session-scoped, so that
    module-scoped fixtures that build material through the commands use it too)."""
    return run_cli


@pytest.fixture(scope="session")
def smollm2():
    """SmolLM2-135M-Instruct, loaded once for the whole session (a load costs seconds; the tests that
    need it only read it). Tests of loading itself load their own."""
    from stillwatch.models import load_backend

    return load_backend("smollm2")


#: The slowest test files, longest first (per-file totals of ``--durations=0`` under ``make test`` on a fresh clone, quiet, 2026-12-05 01:11 UTC),
#: run first. ``make test`` runs two pytest-xdist workers that take whole files (``--dist loadfile``: a file's
#: module-scoped servers and ledgers stay in one process); starting the long files first keeps one worker from being left
#: with a long file at the end (longest-first list scheduling). ``make test`` passes ``--no-loadscope-reorder``: without
#: it pytest-xdist (>= 3.6) re-sorts files by their NUMBER of tests, which put these files, few tests each, last.
#: Every Spark scan is in ``test_guard_spark.py`` (one scan serves every parity check), so one worker starts the JVM.
#: The order inside a file is kept.
SLOW_FIRST = (
    "guard/test_guard_spark.py", "gateway/test_gateway_watermark.py", "cli/test_cli_mark.py",
    "report/test_case_e2e.py", "gateway/test_gateway_campaign.py", "gateway/test_gateway_hostile.py",
    "trace/test_trace_provenance_stats.py", "guard_sim/test_guard_sim_simulate.py",
    "guard/test_guard_heldout_negatives.py", "ledger/test_ledger_interrupt.py", "guard/test_guard_scan.py",
    "guard/test_guard_communities.py", "gateway/test_gateway_scaleout.py", "cli/test_cli_distill_trace.py",
    "trace/test_trace_provenance.py", "ledger/test_ledger_crash.py", "report/test_bundle_tamper.py",
    "gateway/test_gateway_accounts.py", "guard/test_guard_key_groups.py", "trace/test_trace_provenance_power.py",
    "guard/test_guard_rules.py", "gateway/test_gateway_openai.py", "trace/test_trace_radioactivity.py",
    "guard/test_guard_signals.py", "guard_sim/test_guard_sim_killed.py", "guard/test_guard_accepted_forms.py",
    "guard/test_guard_stream_live.py", "cli/test_cli_fuzz.py", "models/test_models_smollm2.py",
    "guard/test_guard_stream_event.py",
)


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    root = os.path.dirname(__file__)

    def key(item):
        rel = os.path.relpath(str(item.path), root).replace(os.sep, "/")
        return rank.get(rel, len(SLOW_FIRST))

    items.sort(key=key)  # stable: the rest keep their collected order
