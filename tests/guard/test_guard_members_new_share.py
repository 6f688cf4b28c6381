"""What a group obtained when its members ask each other's questions (score/extraction.py ``members_new_share``).

Layers: known answers (evaluation labs on two benchmarks), a naive reference with Python sets cross-checked on random
groups (hypothesis), the engine's exact (account, prompt) pairs (``features/shared.py`` ``shared_prompts``) against
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


def _pairs(sets: list[set[int]]) -> tuple[np.ndarray, ...]:
    """(account, key, fan) of the keys >= 2 accounts hold (as the engine ships them) and each account's count."""
    fan: dict[int, int] = {}
    for s in sets:
        for k in s:
            fan[k] = fan.get(k, 0) + 1
    acc = [i for i, s in enumerate(sets) for k in sorted(s) if fan[k] >= 2]
    key = [k for s in sets for k in sorted(s) if fan[k] >= 2]
    return (np.array(acc, np.int64), np.array(key, np.int64), np.array([fan[k] for k in key], np.int64),
            np.array([len(s) for s in sets], np.float64))


def _naive(labels: list[int], sets: list[set[int]]) -> list[float]:
    """Distinct prompts of the group, where a prompt also sent outside the group counts once per member sending it."""
    out = []
    for lab in labels:
        members = [i for i, m in enumerate(labels) if m == lab]
        outside = set().union(*(sets[i] for i in range(len(sets)) if labels[i] != lab))
        total = sum(len(sets[i]) for i in members)
        own = set().union(*(sets[i] - outside for i in members))
        public = sum(len(sets[i] & outside) for i in members)
        out.append((len(own) + public) / total if total else 1.0)
    return out


def test_labs_on_two_benchmarks_obtain_each_question_once():
    bench_a, bench_b = set(range(300)), set(range(1000, 1300))
    # three labs linked into one group: two ran benchmark A once each, one ran B; a fourth account alone ran A too
    sets = [bench_a, bench_a, bench_b, bench_a]
    ea, ek, fan, raw = _pairs(sets)
    got = members_new_share(np.array([0, 0, 0, 3]), ea, ek, fan, raw)
    # benchmark A is also sent by the fourth account, outside the group: public, its copies stay (900 / 900)
    assert got.tolist() == [1.0] * 4
    # without the fourth account, A is the group's own: two labs ran it, the group obtained it once
    ea, ek, fan, raw = _pairs(sets[:3])
    assert members_new_share(np.array([0, 0, 0]), ea, ek, fan, raw).tolist() == [pytest.approx(600 / 900)] * 3


def test_a_prompt_every_member_sends_is_counted_once_not_once_per_pair():
    # four members each send prompt 7 and one of their own: 5 distinct of 8 (pairwise counting would give 8 - 6 = 2)
    sets = [{7, 10}, {7, 11}, {7, 12}, {7, 13}]
    ea, ek, fan, raw = _pairs(sets)
    assert members_new_share(np.zeros(4, np.int64), ea, ek, fan, raw).tolist() == [pytest.approx(5 / 8)] * 4


def test_members_with_their_own_prompts_and_no_pairs():
    sets = [{1, 2}, {3}, set()]
    ea, ek, fan, raw = _pairs(sets)
    assert len(ea) == 0
    assert members_new_share(np.array([0, 0, 2]), ea, ek, fan, raw).tolist() == [1.0, 1.0, 1.0]
    # a reseller's pair: both relay a popular question (prompt 1) that an outside account asks too, and share a
    # private one (prompt 5): only the private copy is subtracted (4 of 5)
    sets = [{1, 2, 5}, {1, 5}, {1, 9}]
    ea, ek, fan, raw = _pairs(sets)
    assert members_new_share(np.array([0, 0, 2]), ea, ek, fan, raw).tolist() == [
        pytest.approx(4 / 5), pytest.approx(4 / 5), 1.0]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.sets(st.integers(0, 30), max_size=12)), min_size=1, max_size=12))
def test_matches_python_sets_on_random_groups(spec):
    # labels: each account's group is the first account of the drawn group number (a member's index)
    first: dict[int, int] = {}
    labels = [first.setdefault(g, i) for i, (g, _) in enumerate(spec)]
    sets = [s for _, s in spec]
    ea, ek, fan, raw = _pairs(sets)
    got = members_new_share(np.array(labels, np.int64), ea, ek, fan, raw)
    assert got.tolist() == pytest.approx(_naive(labels, sets), abs=1e-12)


def test_engine_pairs_are_exactly_the_prompts_two_accounts_send():
    """``shared_prompts`` on DuckDB: each (account, prompt as sent) once, for the prompts >= 2 accounts send; a null
    prompt matches nothing; case and spacing make another prompt (as sent, byte for byte)."""
    import ibis

    from stillwatch.guard.features.shared import shared_prompts
    from stillwatch.guard.features.tables import hash64

    rows = [("a", "what is 2+2?"), ("a", "what is 2+2?"), ("b", "what is 2+2?"), ("b", "What is 2+2?"),
            ("c", None), ("d", None), ("c", "own question"), ("d", "what is 2+2? "), ("e", "What is 2+2?")]
    t = ibis.memtable(pa.table({"account_id": [r[0] for r in rows], "prompt": [r[1] for r in rows]}))
    keys = t.select("account_id", "prompt", prompt_raw=hash64(t.prompt, "duckdb"))
    sp = shared_prompts(keys)
    text = keys.select("prompt", "prompt_raw").distinct()
    got = ibis.duckdb.connect().execute(sp.join(text, "prompt_raw").select("account_id", "prompt"))
    pairs = sorted(got.itertuples(index=False, name=None))
    assert pairs == [("a", "what is 2+2?"), ("b", "What is 2+2?"), ("b", "what is 2+2?"), ("e", "What is 2+2?")]
    fans = ibis.duckdb.connect().execute(sp.join(text, "prompt_raw").select("prompt", "fan").distinct())
    assert sorted(fans.itertuples(index=False, name=None)) == [("What is 2+2?", 2), ("what is 2+2?", 2)]


def test_a_campaign_whose_members_repeat_each_other_reports_what_it_obtained(tmp_path):
    """The pipeline log's campaign A draws its prompts from a few thousand slot fillings, so its members send some of
    the same prompts: the campaign's novelty is its members' distinct prompts, each counted once — computed here from
    the log with Python sets (a prompt an account outside the campaign also sends counts once per member) — over its
    exchanges."""
    from stillwatch.guard.batch.scan import scan

    table, labels = make_log(0)
    f = scan(table)
    camp = next(c for c in f.campaigns if set(c.accounts) & {a for a, v in labels.items() if v == "A"})
    members = set(camp.accounts)
    assert members == {a for a, v in labels.items() if v == "A"}
    sent: dict[str, set[str]] = {}
    outside: set[str] = set()
    for a, p in zip(table["account_id"].to_pylist(), table["prompt"].to_pylist()):
        if a in members:
            sent.setdefault(a, set()).add(p)
        elif a is not None:
            outside.add(p)
    total = sum(len(s) for s in sent.values())
    own = set().union(*(s - outside for s in sent.values()))
    public = sum(len(s & outside) for s in sent.values())
    assert len(own) + public < total  # the members do ask each other's questions (the check is not vacuous)
    acc = {a.account_id: a for a in f.accounts}
    n = sum(acc[a].signals["exchanges"] for a in members)
    distinct_own = sum(acc[a].signals["prompt_diversity"] * acc[a].signals["exchanges"] for a in members)
    assert camp.signals["novelty"] == pytest.approx(distinct_own * (len(own) + public) / total / n, rel=1e-9)


def _with_scripted_class(table: pa.Table, n_accounts: int, seed: int = 1) -> pa.Table:
    """The log plus a class (or a CI job) of ``n_accounts`` accounts, each running one script: the same 40 coding
    questions in one "Question: ... Answer:" scaffold, 2 s apart, from its own address and card, on its own day."""
    from _fixtures_pipeline import T0

    from stillwatch.guard.log.schema import LOG_SCHEMA

    rng = np.random.default_rng(seed)
    algos = ["merge", "quick", "heap", "bubble", "radix", "bucket", "shell", "tim"]
    qs = [f"Question: explain step by step how to implement {w} sort in python and analyse its complexity. Item {i}"
          "\nAnswer:" for i, w in enumerate(rng.choice(algos, 40))]
    rows = []
    for a in range(n_accounts):
        t = T0 + int(rng.uniform(0, 5 * 86_400e6))
        for j, q in enumerate(qs):
            t += int(2e6 + rng.normal(0, 1e5))
            rows.append(dict(request_id=f"s{a}-{j}", ts=t, account_id=f"class-{a:03d}", api_key_id=f"k-class-{a}",
                             ip=f"81.{a}.3.4", user_agent="python-requests/2.31", payment_fingerprint=f"card-s{a}",
                             model="m-1", prompt=q, response="ok", prompt_tokens=40, completion_tokens=400))
    arrays = [pa.array([r[f.name] for r in rows], pa.int64()).cast(f.type) if f.name == "ts"
              else pa.array([r[f.name] for r in rows], f.type) for f in LOG_SCHEMA]
    return pa.concat_tables([table, pa.Table.from_arrays(arrays, schema=LOG_SCHEMA)])


def test_a_class_running_one_script_is_not_a_campaign():
    """30 accounts each sending the same 40 capability questions through one scaffold at machine pace share a
    template, a workload size and a pace — and obtained 40 answers between them, not 1,200 (with the members'
    summed distinct prompts the group scored 0.72 and all 30 were flagged). The two harvests of the pipeline log,
    whose members ask different questions, are still found whole."""
    from stillwatch.guard.batch.scan import scan

    table, labels = make_log(0)
    f = scan(_with_scripted_class(table, 30))
    flagged = {a.account_id for a in f.flagged}
    assert not {a for a in flagged if a.startswith("class-")}
    assert {a for a, v in labels.items() if v} <= flagged
    assert not any(any(a.startswith("class-") for a in c.accounts) for c in f.campaigns)
