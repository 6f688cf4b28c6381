"""What a group obtained when its members ask each other's questions (score/extraction.py ``members_new_share``).

Layers: known answers (evaluation labs on two benchmarks), a naive reference with Python sets cross-checked on random
groups (hypothesis), the engine's exact (account, prompt) pairs (``features/shared.py`` ``shared_prompts``) against
the log read in Python, and a scan whose campaign reports the union. Attacker: an operator that wants its campaign
to look small must have its accounts send the same prompts — and then the campaign did obtain each of them once.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))
from _fixtures_frames import _table as rows_table  # noqa: E402
from _fixtures_pipeline import make_log  # noqa: E402

from stillwatch.guard.score.extraction import members_new_share  # noqa: E402


def _pairs(sent: list[dict[int, int]]) -> tuple[np.ndarray, ...]:
    """(account, key, rows) of the prompts >= 2 accounts send (as the engine ships them), from each account's
    {prompt: rows}, and each account's distinct prompts."""
    fan: dict[int, int] = {}
    for s in sent:
        for k in s:
            fan[k] = fan.get(k, 0) + 1
    pairs = [(i, k, r) for i, s in enumerate(sent) for k, r in sorted(s.items()) if fan[k] >= 2]
    acc, key, rows = (np.array([p[j] for p in pairs], np.int64) for j in range(3))
    return acc, key, rows, np.array([len(s) for s in sent], np.float64)


def _once(sets: list[set[int]]) -> list[dict[int, int]]:
    return [{k: 1 for k in s} for s in sets]


def _naive(labels: list[int], sent: list[dict[int, int]]) -> list[float]:
    """The null model written out with Python loops over groups, prompts and members (math.pow, no vector code):
    each account draws its rows on shared prompts (prompts >= 2 accounts send) as the other accounts' such rows do."""
    fan: dict[int, int] = {}
    for s in sent:
        for p in s:
            fan[p] = fan.get(p, 0) + 1
    m = [float(sum(r for p, r in s.items() if fan[p] >= 2)) for s in sent]
    out = []
    for lab in labels:
        members = [i for i, g in enumerate(labels) if g == lab]
        total = sum(len(sent[i]) for i in members)
        if len(members) < 2 or not total:
            out.append(1.0)
            continue
        m_g = sum(m[i] for i in members)
        excess = 0.0
        for p in set().union(*(sent[i] for i in members)):
            if fan[p] < 2:
                continue  # a prompt only one account sends has no copies
            k = sum(1 for i in members if p in sent[i])
            outside_rows = sum(s[p] for i, s in enumerate(sent) if p in s and labels[i] != lab)
            pi = outside_rows / max(sum(m) - m_g, 1.0)
            if pi == 0:
                excess += k - 1
                continue
            pi = min(pi, 1 - 1e-12)
            e_k = sum(1 - math.pow(1 - pi, m[i]) for i in members)
            p_any = 1 - math.pow(1 - pi, m_g)
            excess += k - e_k / p_any
        out.append(min(max((total - max(excess, 0.0)) / total, 0.0), 1.0))
    return out


def _share(x: float) -> float:
    """Copies beyond chance of a prompt two members with ``x = (1 - pi)^300`` each send (a third member never draws
    shared prompts, or draws them as the two do): ``2 - E[K] / P(K >= 1)``."""
    return 2 - 2 * (1 - x) / (1 - x * x)


def test_labs_on_one_benchmark_obtain_each_question_once_unless_its_popularity_explains_it():
    """Three labs linked into one group: two ran benchmark A once each, one ran B; a fourth lab outside the group ran
    A once; two other accounts each send the same 1,000 popular prompts once. Closed forms: the shared rows outside
    the group are 300 + 2,000, so each A prompt has pi = 1 / 2,300; the A labs draw 300 shared rows each, the B lab
    none (nobody else sends B); E[K] = 2 (1 - x), P(K >= 1) = 1 - x^2 with x = (1 - pi)^300, and two members send it."""
    bench_a, bench_b, popular = set(range(300)), set(range(1000, 1300)), set(range(5000, 6000))
    sent = _once([bench_a, bench_a, bench_b, bench_a, popular, popular])
    ea, ek, rows, raw = _pairs(sent)
    got = members_new_share(np.array([0, 0, 0, 3, 4, 5]), ea, ek, rows, raw)
    excess = 300 * _share((1 - 1 / 2300) ** 300)
    assert excess == pytest.approx(280.46, abs=0.01)  # 0.94 of a copy each: the outside lab does not make A popular
    assert got[:3].tolist() == [pytest.approx((900 - excess) / 900, rel=1e-9)] * 3
    assert got[3:].tolist() == [1.0, 1.0, 1.0]
    assert got[:3].tolist() == pytest.approx(_naive([0, 0, 0, 3, 4, 5], sent)[:3], rel=1e-12)
    # without the fourth lab A is the group's own: exactly one copy per prompt
    ea, ek, rows, raw = _pairs(sent[:3] + sent[4:])
    got = members_new_share(np.array([0, 0, 0, 3, 4]), ea, ek, rows, raw)
    assert got[:3].tolist() == [pytest.approx(600 / 900, rel=1e-12)] * 3
    # with the four labs alone, A is every shared row outside the group (pi = 1 / 300): chance gives each member an
    # A prompt with probability 0.63, and nearly half of each second copy is what chance gives
    ea, ek, rows, raw = _pairs(sent[:4])
    got = members_new_share(np.array([0, 0, 0, 3]), ea, ek, rows, raw)
    excess = 300 * _share((1 - 1 / 300) ** 300)
    assert excess == pytest.approx(161.0, abs=0.2)
    assert got[0] == pytest.approx((900 - excess) / 900, rel=1e-9)


def test_a_prompt_every_member_sends_is_counted_once_not_once_per_pair():
    # four members each send prompt 7 and one of their own: 5 distinct of 8 (pairwise counting would give 8 - 6 = 2)
    sent = _once([{7, 10}, {7, 11}, {7, 12}, {7, 13}])
    ea, ek, rows, raw = _pairs(sent)
    got = members_new_share(np.zeros(4, np.int64), ea, ek, rows, raw)
    assert got.tolist() == [pytest.approx(5 / 8)] * 4


def test_members_with_their_own_prompts_and_no_pairs():
    sent = _once([{1, 2}, {3}, set()])
    ea, ek, rows, raw = _pairs(sent)
    assert len(ea) == 0
    assert members_new_share(np.array([0, 0, 2]), ea, ek, rows, raw).tolist() == [1.0] * 3


def test_a_popular_question_relayed_by_two_resellers_is_what_its_popularity_gives():
    """Two resellers relay prompt 1 (one and two rows) and share a private prompt 5; reseller 0 also asks prompt 2,
    which nobody else does. Outside, account 2 sends prompt 1 1,000 times and prompt 9 1,000 times, account 3 prompt
    9 once: 2,001 shared rows, pi = 1000 / 2001 for prompt 1. The resellers' shared draws are 2 and 3 (prompt 2 is
    nobody else's), so E[K] = (1 - x^2) + (1 - x^3), P(K >= 1) = 1 - x^5 with x = 1 - pi, and prompt 1's second copy
    is 2 - E[K] / P(K >= 1) beyond chance; prompt 5 is one copy."""
    sent = [{1: 1, 2: 1, 5: 1}, {1: 2, 5: 1}, {1: 1000, 9: 1000}, {9: 1}]
    ea, ek, rows, raw = _pairs(sent)
    got = members_new_share(np.array([0, 0, 2, 3]), ea, ek, rows, raw)
    x = 1 - 1000 / 2001
    excess = 1.0 + (2 - ((1 - x ** 2) + (1 - x ** 3)) / (1 - x ** 5))
    assert excess == pytest.approx(1.323, abs=1e-3)
    assert got.tolist() == [pytest.approx((5 - excess) / 5, rel=1e-12)] * 2 + [1.0, 1.0]


def test_members_asking_different_popular_questions_keep_their_whole_volume():
    """The attacker's case for what must hold: 20 members each ask 10 different popular questions (each question is
    sent by 50 outside accounts) and none of each other's: nothing is subtracted — the copies fewer than chance
    predicts are not a licence to subtract anything (the excess is clipped at 0 for the group, not raised)."""
    sent = [{10 * m + j: 1 for j in range(10)} for m in range(20)]
    sent += [{p: 1 for p in range(200)} for _ in range(50)]
    labels = np.array([0] * 20 + list(range(20, 70)))
    ea, ek, rows, raw = _pairs(sent)
    got = members_new_share(labels, ea, ek, rows, raw)
    assert got.tolist() == [1.0] * 70
    assert _naive(labels.tolist(), sent) == [1.0] * 70


def test_chunks_give_the_same_answer():
    rng = np.random.default_rng(3)
    sent = [{int(p): int(rng.integers(1, 4)) for p in rng.choice(60, size=rng.integers(1, 15), replace=False)}
            for _ in range(40)]
    labels = np.array([i % 5 for i in range(40)])
    ea, ek, rows, raw = _pairs(sent)
    from stillwatch.guard.score import extraction as ex

    whole = members_new_share(labels, ea, ek, rows, raw)
    real = ex._expected_senders
    try:
        ex._expected_senders = lambda *a: real(*a, chunk=7)
        small = members_new_share(labels, ea, ek, rows, raw)
    finally:
        ex._expected_senders = real
    assert small.tolist() == pytest.approx(whole.tolist(), rel=1e-12)
    assert whole.tolist() == pytest.approx(_naive(labels.tolist(), sent), rel=1e-9)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.dictionaries(st.integers(0, 30), st.integers(1, 4), max_size=12)),
                min_size=1, max_size=12))
def test_matches_python_loops_on_random_groups(spec):
    # labels: each account's group is the first account of the drawn group number (a member's index)
    first: dict[int, int] = {}
    labels = [first.setdefault(g, i) for i, (g, _) in enumerate(spec)]
    sent = [s for _, s in spec]
    ea, ek, rows, raw = _pairs(sent)
    got = members_new_share(np.array(labels, np.int64), ea, ek, rows, raw)
    assert got.tolist() == pytest.approx(_naive(labels, sent), rel=1e-9, abs=1e-12)


def test_engine_pairs_are_exactly_the_prompts_two_accounts_send():
    """``shared_prompts`` on DuckDB: each (account, prompt as sent) once with the account's rows on it, for the prompts
    >= 2 accounts send; a null prompt matches nothing; case and spacing make another prompt (as sent, byte for
    byte). ``prompt_sends`` from the same counts: each account's distinct prompts and those it sends once."""
    import ibis

    from stillwatch.guard.features.shared import prompt_counts, prompt_sends, shared_prompts
    from stillwatch.guard.features.tables import hash64

    rows = [("a", "what is 2+2?"), ("a", "what is 2+2?"), ("b", "what is 2+2?"), ("b", "What is 2+2?"),
            ("c", None), ("d", None), ("c", "own question"), ("d", "what is 2+2? "), ("e", "What is 2+2?")]
    t = ibis.memtable(pa.table({"account_id": [r[0] for r in rows], "prompt": [r[1] for r in rows]}))
    keys = t.select("account_id", "prompt", prompt_raw=hash64(t.prompt, "duckdb"))
    sp = shared_prompts(prompt_counts(keys))
    text = keys.select("prompt", "prompt_raw").distinct()
    got = ibis.duckdb.connect().execute(sp.join(text, "prompt_raw").select("account_id", "prompt", "rows"))
    pairs = sorted(got.itertuples(index=False, name=None))
    assert pairs == [("a", "what is 2+2?", 2), ("b", "What is 2+2?", 1), ("b", "what is 2+2?", 1),
                     ("e", "What is 2+2?", 1)]
    fans = ibis.duckdb.connect().execute(sp.join(text, "prompt_raw").select("prompt", "fan").distinct())
    assert sorted(fans.itertuples(index=False, name=None)) == [("What is 2+2?", 2), ("what is 2+2?", 2)]
    sends = ibis.duckdb.connect().execute(prompt_sends(prompt_counts(keys)))
    # a: one prompt twice; b: two prompts once each; c, d: one own prompt (their nulls count nothing); e: one once
    assert sorted(sends.itertuples(index=False, name=None)) == [("a", 1, 0), ("b", 2, 2), ("c", 1, 1), ("d", 1, 1),
                                                               ("e", 1, 1)]


def test_a_campaign_whose_members_repeat_each_other_reports_what_it_obtained(tmp_path):
    """The pipeline log's campaign A draws its prompts from a few thousand slot fillings, so its members send some of
    the same prompts: the campaign's novelty is its members' distinct prompts less their copies beyond chance —
    computed here from the log's rows with the Python-loop reference (:func:`_naive`) — over its exchanges."""
    from stillwatch.guard.batch.scan import scan

    table, labels = make_log(0)
    f = scan(table)
    camp = next(c for c in f.campaigns if set(c.accounts) & {a for a, v in labels.items() if v == "A"})
    members = set(camp.accounts)
    assert members == {a for a, v in labels.items() if v == "A"}
    acc = {a.account_id: a for a in f.accounts}
    ids = sorted(acc)
    index = {a: i for i, a in enumerate(ids)}
    sent: list[dict[str, int]] = [{} for _ in ids]
    for a, p in zip(table["account_id"].to_pylist(), table["prompt"].to_pylist()):
        if a in index and p is not None:
            sent[index[a]][p] = sent[index[a]].get(p, 0) + 1
    group = min(index[a] for a in members)
    lab = [group if a in members else i for i, a in enumerate(ids)]
    share = _naive(lab, sent)[group]
    assert share < 0.99  # the members do ask each other's questions beyond chance (the check is not vacuous)
    total_n = sum(acc[a].exchanges for a in members)
    distinct_own = sum(acc[a].signals["prompt_diversity"] * acc[a].signals["exchanges"] for a in members)
    assert camp.signals["novelty"] == pytest.approx(distinct_own * share / total_n, rel=1e-9)


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
    return pa.concat_tables([table, rows_table(rows, LOG_SCHEMA)])


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


def _with_labs(table: pa.Table, seed: int = 2) -> pa.Table:
    """The log plus six evaluation labs on two public benchmarks of 200 capability questions in one "Question: ...
    Answer:" scaffold, each from its own address and card on an SDK's default user agent, one request every 2 s: labs
    0 and 1 run benchmark A once, lab 2 runs B once (the three a window catches after a single pass), labs 3-5 run A
    or B two or three times. And the public: 300 people each asking 5-30 questions of 800 popular ones (Zipf 1.1),
    minutes to hours apart — on a real API most shared prompts are popular questions, not benchmarks."""
    from _fixtures_pipeline import T0

    from stillwatch.guard.log.schema import LOG_SCHEMA

    rng = np.random.default_rng(seed)
    topics = ["photosynthesis", "inflation", "recursion", "entropy", "vaccination", "compound interest", "tectonics"]
    bench = {b: [f"Question: {b}{i}. Explain {rng.choice(topics)} step by step and derive the result for case "
                 f"{int(rng.integers(1_000_000))}.\nAnswer:" for i in range(200)] for b in "AB"}
    rows = []
    for lab, (b, passes) in enumerate((("A", 1), ("A", 1), ("B", 1), ("A", 3), ("B", 2), ("A", 2))):
        t = T0 + int(rng.uniform(0, 2 * 86_400e6))
        for p in range(passes):
            for j, q in enumerate(bench[b]):
                t += int(2e6 + rng.normal(0, 1e5))
                rows.append(dict(request_id=f"lab{lab}-{p}-{j}", ts=t, account_id=f"lab-{lab}", api_key_id=f"k-lab{lab}",
                                 ip=f"82.{lab}.5.6", user_agent="python-httpx/0.27", payment_fingerprint=f"card-lab{lab}",
                                 model="m-1", prompt=q, response="ok", prompt_tokens=40, completion_tokens=300))
            t += int(20 * 3_600e6)
    popular = [f"what is a good {w} for a {v}?" for w in ("name", "gift", "recipe", "book", "plan", "joke", "poem", "song")
               for v in range(100)]
    weights = 1.0 / np.arange(1, len(popular) + 1) ** 1.1
    for person in range(300):
        t = T0 + int(rng.uniform(0, 4 * 86_400e6))
        for j, q in enumerate(rng.choice(len(popular), int(rng.integers(5, 31)), p=weights / weights.sum())):
            t += int(rng.exponential(3 * 3_600e6))
            rows.append(dict(request_id=f"pub{person}-{j}", ts=t, account_id=f"public-{person:03d}",
                             api_key_id=f"k-pub{person}", ip=f"84.{person // 250}.{person % 250}.9",
                             user_agent="Mozilla/5.0", payment_fingerprint=None, model="m-1", prompt=popular[q],
                             response="ok", prompt_tokens=10, completion_tokens=200))
    return pa.concat_tables([table, rows_table(rows, LOG_SCHEMA)])


def test_labs_that_ran_one_benchmark_once_are_not_a_campaign():
    """Three labs that ran a public benchmark once each (two of them the same one) are linked by its scaffold, pace
    alike and have equal volumes — because a benchmark has one size. What they obtained is two benchmarks, not three
    (the two on A asked each other's questions, beyond anything A's popularity among the other labs gives), and two
    workloads are no scheduler's split: not a campaign. The pipeline log's harvests are still found whole."""
    from stillwatch.guard.batch.scan import scan

    table, labels = make_log(0)
    f = scan(_with_labs(table))
    flagged = {a.account_id for a in f.flagged}
    assert not {a for a in flagged if a.startswith(("lab-", "public-"))}
    assert {a for a, v in labels.items() if v} <= flagged


def test_even_workloads_need_three_workloads_not_three_accounts():
    """Workload homogeneity's weight is ``clip(k * new_share - 2, 0, 1)``: members that run each other's lists are one
    workload. Known answers: three labs of which two ran one benchmark (new share 2/3) are two workloads; four of
    which three ran one are two; three accounts asking different questions are three (as before: ``size >= 3``)."""
    from stillwatch.guard.score.campaign_signals import workloads_weight

    size = np.array([3, 4, 2, 3, 5, 3])
    share = np.array([1.0, 0.5, 1.0, 2 / 3, 0.5, 0.9])
    assert workloads_weight(size, share).tolist() == pytest.approx([1.0, 0.0, 0.0, 0.0, 0.5, 0.7])
    # never above the old rule, for any share
    s = np.linspace(0, 1, 11)
    for k in range(1, 8):
        w = workloads_weight(np.full(11, k), s)
        assert (w <= (1.0 if k >= 3 else 0.0)).all() and (np.diff(w) >= 0).all()


def test_labs_campaign_signals_count_their_workloads():
    """The campaign step on the three single-pass labs of :func:`_with_labs` put in one cluster: even volumes (``sd(ln
    n) = 0``), but their copies of each other's prompts beyond chance make them about two workloads, not three."""
    from stillwatch.guard.batch.scan import ScanConfig, feature_tables
    from stillwatch.guard.score.campaign_signals import campaign_step
    from stillwatch.guard.score.detect import account_step, link_step, own_score_step

    table, _ = make_log(0)
    cfg = ScanConfig()
    ft = feature_tables(_with_labs(table), config=cfg)
    acct = account_step(ft.cols, ft.edges, cfg.detect)
    lk = link_step(ft.cols, ft.edges, acct, cfg.detect)
    labs = [int(np.searchsorted(ft.ids, f"lab-{i}")) for i in range(3)]
    # put the three single-pass labs in one cluster, whatever the links did
    labels = lk.labels.copy()
    labels[labels == labels[labs[0]]] = np.arange(len(labels))[labels == labels[labs[0]]]
    labels[labs] = labs[0]
    lk3 = type(lk)(**{**lk.__dict__, "labels": labels})
    cs = campaign_step(ft.cols, ft.edges, own_score_step(acct, lk3, cfg.detect).signals, lk3, cfg.detect)
    i = labs[0]
    assert cs.size[i] == 3 and cs.sd_ln[i] == pytest.approx(0.0, abs=1e-12)
    # closed form: A's 200 prompts, 2 of 3 members each, 5 outside rows each (labs 3 and 5); B's 200, 1 member, 2 outside
    # rows each (lab 4); each member's 200 rows are on shared prompts, 600 of the log's rows on shared prompts
    out = float(np.sum(ft.edges["prompt"][2])) - 600

    def chance(rows_out: int) -> float:  # E[K] / P(K >= 1)
        pi = rows_out / out
        return 3 * (1 - (1 - pi) ** 200) / (1 - (1 - pi) ** 600)

    excess = 200 * (2 - chance(5)) + 200 * (1 - chance(2))
    assert cs.new_share[i] == pytest.approx((600 - excess) / 600, rel=1e-9)
    assert cs.new_share[i] < 0.8  # most of A's second copies are beyond chance
    # 3 x 0.78 = 2.3 workloads (in this small log, A's popularity among the other labs explains a fifth of the
    # copies): a third of the even-volume evidence
    assert cs.e_hom[i] == pytest.approx(min(max(3 * cs.new_share[i] - 2, 0.0), 1.0), rel=1e-12)
    assert 0.0 < cs.e_hom[i] < 0.4


def _with_word_problems(table: pa.Table, n_accounts: int = 30, seed: int = 4) -> pa.Table:
    """The log plus a harvest of one arithmetic word problem with other numbers in every request (held-out B's
    ``pivot`` shape): ``n_accounts`` accounts, 80 requests each, 90 s apart, each from its own address and card."""
    from _fixtures_pipeline import T0

    from stillwatch.guard.log.schema import LOG_SCHEMA

    rng = np.random.default_rng(seed)
    rows = []
    for a in range(n_accounts):
        t = T0 + int(rng.uniform(0, 3_600e6))
        for j, (x, p, c, q) in enumerate(rng.integers(2, 99, (80, 4))):
            t += int(90e6 + rng.normal(0, 5e6))
            rows.append(dict(request_id=f"w{a}-{j}", ts=t, account_id=f"words-{a:03d}", api_key_id=f"k-words-{a}",
                             ip=f"83.{a}.7.8", user_agent="python-httpx/0.27", payment_fingerprint=f"card-w{a}",
                             model="m-1", prompt=f"A shop sells {x} apples at {p} cents each and {c} pears. Reason "
                             f"carefully step by step: what is the total cost if pears cost {q} cents?",
                             response="ok", prompt_tokens=40, completion_tokens=350))
    return pa.concat_tables([table, rows_table(rows, LOG_SCHEMA)])


def test_word_problems_with_other_numbers_are_new_questions():
    """The campaign's harvest weight counts prompts as sent (``new_share``): 30 accounts asking one word problem with
    other numbers in each of 2,400 requests asked 2,400 questions, although their normalised prompt — digit runs as
    0, the extraction figures' — is one; the campaign is found whole, nothing of it a copy."""
    from stillwatch.guard.batch.scan import scan

    table, labels = make_log(0)
    f = scan(_with_word_problems(table))
    words = {f"words-{a:03d}" for a in range(30)}
    assert words <= {a.account_id for a in f.flagged}
    camp = next(c for c in f.campaigns if words & set(c.accounts))
    assert set(camp.accounts) == words
    assert camp.signals["new_share"] == pytest.approx(1.0) and camp.signals["novelty"] < 0.1
