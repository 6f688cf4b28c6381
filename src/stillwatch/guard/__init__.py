"""guard: find distillation / harvesting campaigns in API logs — the detector.

Read it top to bottom in the order the data flows:

1. :mod:`.log` — what a log is and how it is read: :mod:`.log.schema` (the columns),
   :mod:`.log.rules` (each malformed-row rule, defined once for the Arrow and the SQL path),
   :mod:`.log.ingest` (JSONL / Parquet / Arrow reading with malformed-row accounting) and
   :mod:`.log.ledger_log` (a Stillwatch ledger read as a log).
2. :mod:`.features` — per-row keys and per-account features as Ibis expressions
   (:mod:`.features.tables`), MinHash/LSH near-duplicate groups (:mod:`.features.minhash`) and the
   human-feasible reading rate (:mod:`.features.rates`).
3. :mod:`.score` — the verdicts: :mod:`.score.config` (every scoring constant, grouped by concern),
   :mod:`.score.detect` (account signals → links → campaigns → scores → findings, one function per
   step), :mod:`.score.links` and :mod:`.score.cluster` (which accounts form a campaign) and
   :mod:`.score.findings` (the explained output).
4. :mod:`.batch` — :func:`.batch.scan.scan`: a whole log on DuckDB or Spark.
5. :mod:`.live` — :class:`.live.stream.StreamingScorer`: the same verdicts request by request, with a
   provisional live alarm.

The traffic simulator is :mod:`stillwatch.guard_sim`, the evaluation harness and the published
baselines are :mod:`stillwatch.guard_eval`; the detector imports neither (a test checks it).
Heavy dependencies (pyarrow, duckdb, ibis) are imported by the modules, not here, so
``import stillwatch.guard`` stays cheap.
"""

from __future__ import annotations
