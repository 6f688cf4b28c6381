"""Features: per-row keys, per-account volume / timing / text features, near-duplicate groups and
the human-feasible reading rate they are measured against."""
