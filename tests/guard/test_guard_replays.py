"""A time group's member that replayed one outside account's list of prompts (score/replays.py, issue 13).

Layers: known answers in closed form (an evaluation lab whose benchmark another lab also runs; a harvester that
copies less than half its prompts; copies inside the group; popular questions), the pair test's loop reference
(tests/guard/test_guard_nullmodel.py) cross-checked under hypothesis, the budget, and ``group_step``: a lab on a burst operator's
night leaves the group, the operator's accounts stay. Attacker: an operator hiding an account must make most of what
it asks copies of one outside account's rare prompts; pairing its own accounts does not count.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

sys.path.insert(0, str(Path(__file__).parent))
from test_guard_nullmodel import _naive_pair_p  # noqa: E402

from stillwatch.guard.score.config import DetectConfig  # noqa: E402
from stillwatch.guard.score.replays import replay_tests, replayed  # noqa: E402

CFG = DetectConfig()
BUDGET = 10**7


def _edges(sets: list[set[int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(account, prompt) of the prompts >= 2 accounts send, as the engine ships them, and each account's distinct
    prompts (every prompt it sends, shared or not)."""
    fan: dict[int, int] = {}
    for s in sets:
        for k in s:
            fan[k] = fan.get(k, 0) + 1
    pairs = [(i, k) for i, s in enumerate(sets) for k in sorted(s) if fan[k] >= 2]
    ea = np.array([p[0] for p in pairs], np.int64)
    ek = np.array([p[1] for p in pairs], np.int64)
    return ea, ek, np.array([len(s) for s in sets], np.float64)


def _naive(group: list[int], sets: list[set[int]]) -> dict[tuple[int, int], tuple[float, int]]:
    """The null written out with Python loops and sets: for every member and every account outside its group sharing
    a prompt, the pair test's p-value (the nullmodel tests' loop reference over the same prompts, activity every
    distinct prompt) times the number of all account pairs, and the prompts they share."""
    ea, ek, act = _edges(sets)
    pair_p = _naive_pair_p(ea, ek, act) if len(ea) else {}
    a_n = len(sets)
    out = {}
    for i, gi in enumerate(group):
        for j in range(a_n):
            common = sets[i] & sets[j]
            if gi < 0 or j == i or group[j] == gi or not common:
                continue
            p = pair_p[(min(i, j), max(i, j))]
            out[(i, j)] = (min(p * a_n * (a_n - 1) / 2.0, 1.0), len(common))
    return out


def _background(rng, n: int, popular: int, start: int) -> list[set[int]]:
    """``n`` people asking a few of ``popular`` public questions each (keys ``start`` ...), Zipf-like."""
    w = 1.0 / np.arange(1, popular + 1)
    w /= w.sum()
    return [set((start + rng.choice(popular, size=int(rng.integers(3, 12)), p=w)).tolist()) for _ in range(n)]


def _labs_night(rng):
    """Accounts 0-2: a burst group (label 0) — 0 is an evaluation lab whose 300-question benchmark (keys 0-299)
    account 3, another lab outside the group, also runs; 1 is a harvester of 300 new questions (keys 1000-1299)
    that also copies 100 of the lab's (keys 0-99: a third of its prompts); 2 is a harvester whose 300 questions
    (keys 2000-2299) account 1 also sends — a copy inside the group. 400 people ask popular questions (keys
    10,000...)."""
    bench = set(range(300))
    sets = [set(bench), set(range(1000, 1300)) | set(range(100)) | set(range(2000, 2050)),
            set(range(2000, 2300)), set(bench)]
    sets += _background(rng, 400, 300, 10_000)
    group = [0, 0, 0] + [-1] * 400 + [-1]
    return group, sets


def test_a_lab_replaying_another_labs_benchmark_leaves_harvesters_stay():
    group, sets = _labs_night(np.random.default_rng(0))
    ea, ek, act = _edges(sets)
    out = replayed(np.array(group), ea, ek, act, CFG.link.alpha, BUDGET)
    assert out.tolist()[:4] == [True, False, False, False] and not out[4:].any()
    t = replay_tests(np.array(group), ea, ek, act, BUDGET)
    got = {(int(a), int(b)): (float(p), int(x)) for a, b, p, x in zip(t.member, t.partner, t.p, t.shared)}
    # the lab and its partner: 300 prompts of fan 3 (the lab, account 3 and the harvester for 0-99) or 2
    p_lab, x_lab = got[(0, 3)]
    assert x_lab == 300 and p_lab < 1e-100
    # the harvester's 100 copies of the lab's benchmark are significant, but a third of what it asked
    p_h, x_h = got[(1, 3)]
    assert x_h == 100 and p_h <= CFG.link.alpha and 2 * x_h < len(sets[1])
    # copies inside the group are never tested
    assert (1, 2) not in got and (2, 1) not in got and (0, 1) not in got


def test_closed_form_on_one_tier():
    """Two members (labels 0 and 1) and one outsider, every shared prompt sent by exactly two accounts: one tier,
    C(1) = n_shared (2 / M)^2, mu = m_a m_b C(1), p = P(Poisson(mu) >= x) x 1 tier x 3 pairs."""
    sets = [set(range(10)) | {100, 101}, set(range(10, 14)) | {200}, set(range(14))]
    ea, ek, act = _edges(sets)
    t = replay_tests(np.array([0, 1, -1]), ea, ek, act, BUDGET)
    m_tot = 12 + 5 + 14
    c1 = 14 * (2 / m_tot) ** 2
    got = {(int(a), int(b)): (float(p), int(x)) for a, b, p, x in zip(t.member, t.partner, t.p, t.shared)}
    assert set(got) == {(0, 2), (1, 2)}
    for (a, b), x in (((0, 2), 10), ((1, 2), 4)):
        mu = len(sets[a]) * len(sets[b]) * c1
        assert got[(a, b)][1] == x
        assert math.isclose(got[(a, b)][0], min(1.0, stats.poisson.sf(x - 1, mu) * 3), rel_tol=1e-9)


def test_popular_questions_are_no_evidence():
    """A member that asks only the log's ten most popular questions, every one of which a heavy user outside also
    asks (its whole list, so the share condition holds): not significant, it stays."""
    rng = np.random.default_rng(1)
    sets = _background(rng, 600, 50, 10_000)
    top = set(range(10_000, 10_010))
    sets = [set(top), top | set(range(10_010, 10_050))] + sets
    group = [0] + [-1] * (len(sets) - 1)
    ea, ek, act = _edges(sets)
    t = replay_tests(np.array(group), ea, ek, act, BUDGET)
    hit = (t.member == 0) & (t.partner == 1)
    assert t.shared[hit].tolist() == [10] and t.p[hit][0] > CFG.link.alpha
    assert not replayed(np.array(group), ea, ek, act, CFG.link.alpha, BUDGET).any()


def test_the_attacker_must_copy_at_least_half():
    """An operator's member copying k of its 200 prompts from one outside account's rare list: it stays in its group
    while its copies are fewer than half what it asks (k = 99), and leaves at k = 100 (the stated limit: it then
    asked no more new questions than copies)."""
    for k, left in ((99, False), (100, True)):
        sets = [set(range(k)) | set(range(1000, 1200 - k)), set(range(500)), set(range(5000, 5200))]
        sets += _background(np.random.default_rng(2), 300, 200, 10_000)
        group = [0, -1, 0] + [-1] * 300
        ea, ek, act = _edges(sets)
        assert len(sets[0]) == 200
        assert bool(replayed(np.array(group), ea, ek, act, CFG.link.alpha, BUDGET)[0]) is left, k


def test_no_groups_no_prompts_or_no_budget_replay_nothing():
    group, sets = _labs_night(np.random.default_rng(0))
    ea, ek, act = _edges(sets)
    g = np.array(group)
    assert not replayed(np.full(len(g), -1), ea, ek, act, CFG.link.alpha, BUDGET).any()
    assert not replayed(g, ea[:0], ek[:0], act, CFG.link.alpha, BUDGET).any()
    # a budget below the rarest tier's pairs enumerates nothing
    assert not replayed(g, ea, ek, act, CFG.link.alpha, 1).any()


def test_inputs_are_not_modified():
    group, sets = _labs_night(np.random.default_rng(0))
    ea, ek, act = _edges(sets)
    g = np.array(group)
    copies = [x.copy() for x in (g, ea, ek, act)]
    replayed(g, ea, ek, act, CFG.link.alpha, BUDGET)
    assert all(np.array_equal(a, b) for a, b in zip(copies, (g, ea, ek, act)))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(-1, 2), st.sets(st.integers(0, 40), min_size=1, max_size=25)),
                min_size=2, max_size=9))
def test_matches_python_loops(spec):
    group = [g for g, _ in spec]
    sets = [s for _, s in spec]
    ea, ek, act = _edges(sets)
    t = replay_tests(np.array(group), ea, ek, act, BUDGET)
    got = {(int(a), int(b)): (float(p), int(x)) for a, b, p, x in zip(t.member, t.partner, t.p, t.shared)}
    want = _naive(group, sets)
    assert set(got) == set(want)
    for k, (p, x) in want.items():
        assert got[k][1] == x and math.isclose(got[k][0], p, rel_tol=1e-7, abs_tol=1e-300), (k, got[k], p)
    expect = np.zeros(len(sets), bool)
    for (a, _), (p, x) in want.items():
        if p <= CFG.link.alpha and 2 * x >= len(sets[a]):
            expect[a] = True
    assert replayed(np.array(group), ea, ek, act, CFG.link.alpha, BUDGET).tolist() == expect.tolist()


def test_group_step_takes_the_lab_out_of_the_burst_night():
    """``group_step`` (score/leavers.py ``without_replays``): 15 harvesters and a lab (account 0) burst on one
    night; the lab's 300 prompts are another lab's (account 20, outside) benchmark, the harvesters ask 300 new
    questions each, and 200 people ask popular ones. The lab leaves; the harvesters stay, headed by account 1.
    Without the prompt pairs (an older producer) the lab stays."""
    from test_guard_grouping import _burst_night

    from stillwatch.guard.score.grouping import group_step

    rng = np.random.default_rng(4)
    a = 1500
    acc, dormant = _burst_night(rng, a, 16)
    sets = [set(range(300))] + [set(range(1000 * i, 1000 * i + 300)) for i in range(1, 16)]
    sets += [set() for _ in range(16, a)]
    sets[20] = set(range(300))
    for i, s in enumerate(_background(rng, 200, 100, 10**7)):
        sets[100 + i] = s
    acc["n_prompts_raw"] = np.array([max(len(s), 1) for s in sets], np.float64)
    ea, ek, _ = _edges(sets)
    edges = {"prompt": (ea, ek, np.ones(len(ea), np.int64))}
    zeros = np.zeros(a)
    g = group_step(acc, {"dormant": dormant}, zeros, np.zeros(a, bool), np.zeros(a, bool), CFG, edges=edges)
    assert g.head[0] == -1 and (g.head[1:16] == 1).all() and not (g.head[16:] >= 0).any()
    g_old = group_step(acc, {"dormant": dormant}, zeros, np.zeros(a, bool), np.zeros(a, bool), CFG)
    assert (g_old.head[:16] == 0).all()


# ------------------------------------------------------------------------------- an account's own share of its list
def _own_share_naive(cands: list[int], sets: list[set[int]]) -> list[float]:
    """score/replays.py ``own_list_share`` written out: each candidate's significant partners (the pair test's loop
    reference, every other account a partner), and per prompt it sends, ``1 / (1 + s)`` with ``s`` its partners that
    sent it too."""
    sig = {}
    for (i, j), (p, _) in _naive([i if i in cands else -1 for i in range(len(sets))], sets).items():
        if p <= CFG.link.alpha:
            sig.setdefault(i, []).append(j)
    out = []
    for i, s in enumerate(sets):
        if i not in cands:
            out.append(1.0)
            continue
        partners = sig.get(i, [])
        out.append(sum(1.0 / (1 + sum(k in sets[j] for j in partners)) for k in s) / len(s))
    return out


def _own_share(cands, sets):
    from stillwatch.guard.score.replays import own_list_share

    ea, ek, act = _edges(sets)
    mask = np.zeros(len(sets), bool)
    mask[list(cands)] = True
    return own_list_share(mask, {"n_prompts_raw": act}, {"prompt": (ea, ek, np.ones(len(ea)))}, CFG.link.alpha, BUDGET)


def test_own_share_known_answers():
    """The labs' night: the lab (account 0) shares its benchmark with lab 3 and a third of it with harvester 1, both
    significantly — keys 0-99 are split three ways, 100-299 two ways: (100 / 3 + 200 / 2) / 300 = 4 / 9. Lab 3: the same.
    Harvester 1 (450 prompts): its 100 copies of the labs' benchmark split three ways, its 50 of harvester 2's two
    ways: (300 + 100 / 3 + 50 / 2) / 450. Harvester 2 (300 prompts, 50 of them in 1's list): (250 + 50 / 2) / 300.
    People asking popular questions keep everything; accounts not marked are 1."""
    group, sets = _labs_night(np.random.default_rng(0))
    got = _own_share([0, 1, 2, 3, 10, 11], sets)
    assert got[0] == pytest.approx(4 / 9, abs=1e-12) and got[3] == pytest.approx(4 / 9, abs=1e-12)
    assert got[1] == pytest.approx((300 + 100 / 3 + 50 / 2) / 450, abs=1e-12)
    assert got[2] == pytest.approx((250 + 50 / 2) / 300, abs=1e-12)
    assert got[10] == 1.0 and got[11] == 1.0 and got[5] == 1.0


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10**6))
def test_own_share_matches_python_loops(seed):
    rng = np.random.default_rng(seed)
    bench = set(range(int(rng.integers(20, 60))))
    sets = [set(bench), set(range(500, 540)) | set(list(bench)[: int(rng.integers(0, 30))]), set(bench) | {900},
            set(range(600, 650))]
    sets += _background(rng, 60, 40, 10_000)
    cands = [0, 1, 2, 3, 4]
    assert _own_share(cands, sets) == pytest.approx(_own_share_naive(cands, sets), abs=1e-12)


def test_own_share_lowers_a_lab_below_the_flag_and_keeps_a_harvester(monkeypatch):
    """End to end on held-out E seed 44's shape (with account creation times): a lab that ran its 300-prompt benchmark
    twice on one day after ten silent days, created long before the log, flags on its own score (an aged account's
    burst night, its harvest halved by its repeats) unless its benchmark is another lab's too; then its own share is
    a half and it is not flagged. A harvester asking 300 new prompts the same way keeps all of its share and stays
    flagged. (The other lab, one pass on another day at machine pace, keeps its flag at share 0.5: measured 0.593 —
    a single aged pass is the burst rule's own target, as the results notes say.)"""
    import pyarrow as pa

    from stillwatch.guard.batch.scan import scan

    day, hour = 86_400_000_000, 3_600_000_000
    t0 = 1_772_400_000_000_000
    rng = np.random.default_rng(2)
    rows = []

    def add(acct, ts, prompt, created):
        rows.append({"request_id": f"r{len(rows)}", "ts": int(ts), "account_id": acct, "api_key_id": f"k-{acct}",
                     "ip": f"10.1.{len(acct)}.{hash(acct) % 250}", "user_agent": "python-httpx/0.27",
                     "payment_fingerprint": None, "model": "m", "prompt": prompt, "response": "x " * 150,
                     "prompt_tokens": 30, "completion_tokens": 380, "account_created_at": int(created)})
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))

    def words(k):  # digits are normalised away (features/tables.py): questions differ by their words
        return " ".join("".join(rng.choice(letters, 7)) for _ in range(k))

    # half of it reasoning items, half trivia (held-out E's labs: capability share 0.5)
    bench = [f"Solve step by step and explain your reasoning: {words(6)}" if i % 2 else f"Which country has {words(5)}?"
             for i in range(300)]
    for lab, d in (("lab-a", 10), ("lab-b", 4)):  # lab-b ran it once before, on another day
        for rep in range(2 if lab == "lab-a" else 1):
            for i, q in enumerate(bench):
                add(lab, t0 + d * day + 9 * hour + rep * 700_000_000 + i * 2_000_000, q, t0 - 140 * day)
    for i in range(300):
        add("harvester", t0 + 10 * day + 9 * hour + i * 4_000_000, f"Explain your reasoning step by step: {words(6)}",
            t0 - 140 * day)
    for u in range(300):  # people
        for j in range(int(rng.integers(1, 8))):
            add(f"person-{u}", t0 + int(rng.integers(0, 14 * day)), f"what is a good recipe for {words(1)}",
                t0 - int(rng.integers(1, 400)) * day)
    t = pa.Table.from_pylist(rows)
    t = t.set_column(t.schema.get_field_index("ts"), "ts", pa.array(t["ts"].to_numpy().astype("datetime64[us]")))
    t = t.set_column(t.schema.get_field_index("account_created_at"), "account_created_at",
                     pa.array(t["account_created_at"].to_numpy().astype("datetime64[us]")))
    f = scan(t)
    lab, harv = f.account("lab-a"), f.account("harvester")
    assert lab.signals["own_list_share"] == pytest.approx(0.5, abs=1e-12)
    assert f.account("lab-b").signals["own_list_share"] == pytest.approx(0.5, abs=1e-12)
    assert not lab.flagged and harv.flagged and harv.signals["own_list_share"] == 1.0
    # the rule under test is what lowers it: without it the lab is flagged on its own score
    from stillwatch.guard.score import replays

    monkeypatch.setattr(replays, "own_list_share", lambda cand, *a, **k: np.ones(len(cand)))
    assert scan(t).account("lab-a").flagged
