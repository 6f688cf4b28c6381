"""What a group obtained when its members ask each other's questions (score/extraction.py ``members_new_share``).

Layers: known answers (evaluation labs on two benchmarks), a naive reference with Python sets cross-checked on random
groups (hypothesis), the engine's exact (account, prompt) pairs (``features/tables.py`` ``shared_prompts``) against
the log read in Python, and a scan whose campaign reports the union. Attacker: an operator that wants its campaign
to look small must have its accounts send the same prompts — and then the campaign did obtain each of them once.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))
from _fixtures_pipeline import make_log  # noqa: E402

from stillwatch.guard.score.extraction import members_new_share  # noqa: E402


def _pairs(sets: list[set[int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(account, key) pairs of the keys >= 2 accounts hold (as the engine ships them) and each account's count."""
    fan: dict[int, int] = {}
    for s in sets:
        for k in s:
            fan[k] = fan.get(k, 0) + 1
    acc = [i for i, s in enumerate(sets) for k in sorted(s) if fan[k] >= 2]
    key = [k for s in sets for k in sorted(s) if fan[k] >= 2]
    return np.array(acc, np.int64), np.array(key, np.int64), np.array([len(s) for s in sets], np.float64)


def _naive(labels: list[int], sets: list[set[int]]) -> list[float]:
    out = []
    for lab in labels:
        members = [i for i, m in enumerate(labels) if m == lab]
        total = sum(len(sets[i]) for i in members)
        union = set().union(*(sets[i] for i in members))
        out.append(len(union) / total if total else 1.0)
    return out


def test_labs_on_two_benchmarks_obtain_each_question_once():
    bench_a, bench_b = set(range(300)), set(range(1000, 1300))
    # three labs linked into one group: two ran benchmark A once each, one ran B; a fourth account alone ran A too
    sets = [bench_a, bench_a, bench_b, bench_a]
    ea, ek, raw = _pairs(sets)
    got = members_new_share(np.array([0, 0, 0, 3]), ea, ek, raw)
    assert got.tolist() == [pytest.approx(600 / 900)] * 3 + [1.0]  # the fourth account's own prompts are all new to it


def test_a_prompt_every_member_sends_is_counted_once_not_once_per_pair():
    # four members each send prompt 7 and one of their own: 5 distinct of 8 (pairwise counting would give 8 - 6 = 2)
    sets = [{7, 10}, {7, 11}, {7, 12}, {7, 13}]
    ea, ek, raw = _pairs(sets)
    assert members_new_share(np.zeros(4, np.int64), ea, ek, raw).tolist() == [pytest.approx(5 / 8)] * 4


def test_members_with_their_own_prompts_and_no_pairs():
    sets = [{1, 2}, {3}, set()]
    ea, ek, raw = _pairs(sets)
    assert len(ea) == 0
    assert members_new_share(np.array([0, 0, 2]), ea, ek, raw).tolist() == [1.0, 1.0, 1.0]
    # prompts shared with accounts outside the group are new to the group
    sets = [{1, 2}, {3}, {1, 2, 3}]
    ea, ek, raw = _pairs(sets)
    assert members_new_share(np.array([0, 0, 2]), ea, ek, raw).tolist() == [1.0, 1.0, 1.0]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.sets(st.integers(0, 30), max_size=12)), min_size=1, max_size=12))
def test_matches_python_sets_on_random_groups(spec):
    # labels: each account's group is the first account of the drawn group number (a member's index)
    first: dict[int, int] = {}
    labels = [first.setdefault(g, i) for i, (g, _) in enumerate(spec)]
    sets = [s for _, s in spec]
    ea, ek, raw = _pairs(sets)
    got = members_new_share(np.array(labels, np.int64), ea, ek, raw)
    assert got.tolist() == pytest.approx(_naive(labels, sets), abs=1e-12)


def test_engine_pairs_are_exactly_the_prompts_two_accounts_send():
    """``shared_prompts`` on DuckDB: each (account, prompt as sent) once, for the prompts >= 2 accounts send; a null
    prompt matches nothing; case and spacing make another prompt (as sent, byte for byte)."""
    import ibis

    from stillwatch.guard.features.tables import hash64, shared_prompts

    rows = [("a", "what is 2+2?"), ("a", "what is 2+2?"), ("b", "what is 2+2?"), ("b", "What is 2+2?"),
            ("c", None), ("d", None), ("c", "own question"), ("d", "what is 2+2? "), ("e", "What is 2+2?")]
    t = ibis.memtable(pa.table({"account_id": [r[0] for r in rows], "prompt": [r[1] for r in rows]}))
    keys = t.select("account_id", "prompt", prompt_raw=hash64(t.prompt, "duckdb"))
    sp = shared_prompts(keys)
    text = keys.select("prompt", "prompt_raw").distinct()
    got = ibis.duckdb.connect().execute(sp.join(text, "prompt_raw").select("account_id", "prompt"))
    pairs = sorted(got.itertuples(index=False, name=None))
    assert pairs == [("a", "what is 2+2?"), ("b", "What is 2+2?"), ("b", "what is 2+2?"), ("e", "What is 2+2?")]


def test_a_campaign_whose_members_repeat_each_other_reports_what_it_obtained(tmp_path):
    """The pipeline log's campaign A draws its prompts from a few thousand slot fillings, so its members send some of
    the same prompts: the campaign's novelty is its members' distinct prompts, each counted once — computed here from
    the log with Python sets — over its exchanges."""
    from stillwatch.guard.batch.scan import scan

    table, labels = make_log(0)
    f = scan(table)
    camp = next(c for c in f.campaigns if set(c.accounts) & {a for a, v in labels.items() if v == "A"})
    members = set(camp.accounts)
    assert members == {a for a, v in labels.items() if v == "A"}
    sent: dict[str, set[str]] = {}
    for a, p in zip(table["account_id"].to_pylist(), table["prompt"].to_pylist()):
        if a in members:
            sent.setdefault(a, set()).add(p)
    total = sum(len(s) for s in sent.values())
    union = set().union(*sent.values())
    assert len(union) < total  # the members do ask each other's questions (the check is not vacuous)
    acc = {a.account_id: a for a in f.accounts}
    n = sum(acc[a].signals["exchanges"] for a in members)
    distinct_own = sum(acc[a].signals["prompt_diversity"] * acc[a].signals["exchanges"] for a in members)
    assert camp.signals["novelty"] == pytest.approx(distinct_own * len(union) / total / n, rel=1e-9)
