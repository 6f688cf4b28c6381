"""The batch scan of a whole log on DuckDB (embedded) or Spark (local mode)."""
