"""guard: find distillation / harvesting campaigns in API logs.

Modules: :mod:`.schema` (the log and label schemas), :mod:`.ingest` (JSONL / Parquet / Arrow reading
with malformed-row accounting), :mod:`.simulate` (benign traffic + campaign families),
:mod:`.evaluate` and :mod:`.baselines` (metrics and the published baselines). Heavy dependencies
(pyarrow, duckdb) are imported by those modules, not here, so ``import stillwatch.guard`` stays cheap.
"""

from __future__ import annotations
