"""Near-duplicate groups do not depend on the order in which the engine returns the distinct prompts.

Grouping (``minhash.groups_from_sketches``) breaks ties between prompts of equal rank — prompts whose band keys are
identical, e.g. texts that differ only past the sketched prefix — by their position; an engine returns distinct
prompts in no fixed order (DuckDB's threads). The same held-out log once gave other groups run to run. Here a stub
engine hands ``scan._near_duplicates`` the same prompts in every order of a few permutations, and the groups (which
prompt is grouped with which, and under which representative) must be identical.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from stillwatch.guard.batch.scan import ScanConfig, _near_duplicates

PREFIX = "Summarise the following customer review in one sentence and rate its sentiment from one to five: " * 40


class _Engine:
    """Hands out the distinct prompts as one batch, in the order given (whatever expression is asked for)."""

    def __init__(self, prompts: pa.Table) -> None:
        self.prompts = prompts

    def batches(self, expr, size: int):
        yield from self.prompts.to_batches(max_chunksize=size)


def _prompts() -> pa.Table:
    """Four prompts equal in their sketched prefix (equal rank: a tie), near-duplicate variants of them whose rank
    is higher (each is grouped under one of the tied prompts: which one is the tie-break), and two loners."""
    from stillwatch.guard.features.minhash import prompt_rank, sketches

    cfg = ScanConfig().minhash
    assert len(PREFIX.encode()) > cfg.max_bytes  # the tied prompts differ only past the sketched prefix
    tied = [PREFIX + f" Review number {i}." for i in range(4)]
    words = PREFIX.split()
    variants = []
    for i in range(40):  # one word changed near the start: similar, not identical; keep those ranked above the tie
        v = " ".join(words[:3] + [f"w{i}"] + words[4:])
        variants.append(v)
    k, _, _ = sketches(pa.array(tied + variants), cfg)
    r = prompt_rank(k)
    variants = [v for v, rv in zip(variants, r[len(tied):]) if rv > r[0]][:3]
    assert len(variants) == 3
    texts = tied + variants + ["How do I reverse a linked list in place?", "What is the capital of Australia?"]
    return pa.table({"prompt_h": pa.array(np.arange(101, 101 + len(texts), dtype=np.int64)[::-1] * 7919),
                     "text": pa.array(texts)})


def _groups(prompts: pa.Table) -> dict[int, int]:
    t = _near_duplicates(_Engine(prompts), srows=None, cfg=ScanConfig())
    return dict(zip(t["nd_prompt_h"].to_pylist(), t["near_dup"].to_pylist()))


def test_groups_are_the_same_in_every_input_order(monkeypatch):
    import stillwatch.guard.batch.scan as scan_mod

    monkeypatch.setattr(scan_mod, "distinct_prompts", lambda srows: None)  # the stub engine ignores the expression
    base = _prompts()
    ph = base["prompt_h"].to_pylist()
    tied, variants = ph[:4], ph[4:7]
    ref = _groups(base)
    assert all(v in ref for v in variants)  # the variants are grouped ...
    assert {ref[v] for v in variants} == {min(tied)}  # ... under the tied prompt with the smallest hash
    rng = np.random.default_rng(0)
    for _ in range(12):
        assert _groups(base.take(pa.array(rng.permutation(base.num_rows)))) == ref
