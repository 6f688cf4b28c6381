"""The streaming scorer: per-request state, a provisional live alarm, and batch-equal final verdicts."""
