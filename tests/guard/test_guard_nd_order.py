"""Near-duplicate groups do not depend on the order in which the engine returns the distinct prompts.

Grouping (``minhash.groups_from_sketches``) breaks ties between prompts of equal rank — prompts whose band keys are
identical, e.g. texts that differ only past the sketched prefix — by their position; an engine returns distinct
prompts in no fixed order (DuckDB's threads), and each engine hashes a prompt to its own value. The same held-out log
once gave other groups run to run, and later other groups on Spark than on DuckDB. Here a stub engine hands
``batch.neardup.near_duplicates`` the same prompts in every order of a few permutations, and under other prompt hashes, and
the groups (which prompt is grouped with which, and under which representative) must be identical: ties are broken
by each prompt's smallest sampling key, the same on every engine.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from stillwatch.guard.batch.neardup import near_duplicates
from stillwatch.guard.batch.scan import ScanConfig

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
    # the prompt hash (engine-specific) and the smallest sampling key (the same on every engine) in unrelated orders
    skey = np.array([40, 10, 30, 20, 70, 50, 60, 90, 80], np.int64)[: len(texts)] * 1_000_003
    return pa.table({"prompt_h": pa.array(np.arange(101, 101 + len(texts), dtype=np.int64)[::-1] * 7919),
                     "text": pa.array(texts), "skey": pa.array(skey)})


def _groups(prompts: pa.Table) -> dict[int, int]:
    t = near_duplicates(_Engine(prompts), srows=None, cfg=ScanConfig().minhash)
    return dict(zip(t["nd_prompt_h"].to_pylist(), t["near_dup"].to_pylist()))


def test_groups_are_the_same_in_every_input_order(monkeypatch):
    import stillwatch.guard.batch.neardup as nd_mod

    monkeypatch.setattr(nd_mod, "distinct_prompts", lambda srows: None)  # the stub engine ignores the expression
    base = _prompts()
    ph = base["prompt_h"].to_pylist()
    tied, variants = ph[:4], ph[4:7]
    ref = _groups(base)
    assert all(v in ref for v in variants)  # the variants are grouped ...
    sk = dict(zip(ph, base["skey"].to_pylist()))
    first = min(tied, key=sk.get)
    assert first != min(tied) and first != max(tied)  # (the hash order would pick another)
    assert {ref[v] for v in variants} == {first}  # ... under the tied prompt with the smallest sampling key
    rng = np.random.default_rng(0)
    for _ in range(12):
        assert _groups(base.take(pa.array(rng.permutation(base.num_rows)))) == ref


def test_groups_are_the_same_whatever_the_engine_hashes_prompts_to(monkeypatch):
    """DuckDB and Spark hash a prompt to different values (their own hash functions): the groups, read through the
    prompts they stand for, must not depend on those values (held-out E seed 43 gave 9,855 near-duplicate edges on
    DuckDB and 9,749 on Spark while grouping ties by hash order)."""
    import stillwatch.guard.batch.neardup as nd_mod

    monkeypatch.setattr(nd_mod, "distinct_prompts", lambda srows: None)
    base = _prompts()
    texts = base["text"].to_pylist()
    rng = np.random.default_rng(1)
    ref = None
    for _ in range(8):  # another engine: every prompt hashed to another value, in another order
        ph = rng.permutation(np.arange(1, len(texts) + 1, dtype=np.int64)) * 104_729
        t = base.set_column(0, "prompt_h", pa.array(ph))
        g = _groups(t.take(pa.array(rng.permutation(t.num_rows))))
        back = dict(zip(ph.tolist(), range(len(texts))))
        by_prompt = {back[a]: back[b] for a, b in g.items()}  # prompt index -> its representative's index
        assert len(by_prompt) >= 4
        ref = by_prompt if ref is None else ref
        assert by_prompt == ref
