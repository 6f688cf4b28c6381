"""Near-duplicate groups of the sampled prompts for the batch scan (:mod:`~stillwatch.guard.batch.scan`): MinHash
sketches of the distinct sampled prompts, batch by batch, grouped in an order that is the same on every engine."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from stillwatch.guard.features.minhash import MinHashConfig, groups_from_sketches, sketches
from stillwatch.guard.features.tables import distinct_prompts


def near_duplicates(eng, srows, cfg: MinHashConfig) -> pa.Table:
    """(nd_prompt_h, near_dup): distinct sampled prompts in a near-duplicate group of >= 2 and the
    group's representative prompt hash. Sketched batch by batch: the texts are never all in memory."""
    parts = []
    for batch in eng.batches(distinct_prompts(srows), 500_000):
        k, sm, h = sketches(batch.column("text"), cfg)
        parts.append((batch.column("prompt_h").to_numpy(zero_copy_only=False).astype(np.int64), k, sm, h,
                      batch.column("skey").to_numpy(zero_copy_only=False).astype(np.int64)))
    if not parts or not sum(len(p[0]) for p in parts):
        return pa.table({"nd_prompt_h": pa.array([], pa.int64()), "near_dup": pa.array([], pa.int64())})
    ph = np.concatenate([p[0] for p in parts])
    keys = np.concatenate([p[1] for p in parts])
    small = np.concatenate([p[2] for p in parts])
    has = np.concatenate([p[3] for p in parts])
    skey = np.concatenate([p[4] for p in parts])
    del parts
    # One order whatever the engine: grouping breaks ties between prompts of equal rank (identical band keys: texts
    # that agree on the bytes sketched) by position, and an engine returns the distinct prompts in no fixed order
    # (DuckDB's threads; without an order the same held-out log gave other groups run to run, 2026-12-05). The order
    # is each prompt's smallest sampling key, the same on every engine; the prompt hash is not (DuckDB's hash vs
    # Spark's xxhash64: ordering by it gave the two engines other groups, held-out E 43, 2026-12-06).
    o = np.argsort(skey, kind="stable")
    ph, keys, small, has = ph[o], keys[o], small[o], has[o]
    groups = groups_from_sketches(keys, small, has, cfg)
    gsize = np.bincount(groups, minlength=len(groups))[groups]
    keep = gsize >= 2
    return pa.table({"nd_prompt_h": ph[keep], "near_dup": ph[groups[keep]]})
