"""A several-key group's carriers left outside it, joined on its user agent (score/agents.py).

Layers: known answers on hand-built arrays (the hypergeometric tail written out from binomial coefficients, the
local false discovery bound, the group's time, the signals that count); a naive reference written from the module
docstring — a loop over groups, user agents and accounts — cross-checked against the vectorised step on random
inputs (hypothesis); the attacker and the bystander end to end on realistic logs (real ShareGPT prompts): an
operator whose accounts left one by one days before its stop is whole again, and developers who interleave their
keys on the operator's own user agent do not join it."""

from __future__ import annotations

import collections
import math
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from stillwatch.guard.score.agents import KEY_KINDS, agent_cells, join_on_agent
from stillwatch.guard.score.config import DetectConfig
from stillwatch.guard.score.grouping import Groups

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
HOUR = 3_600e6
DAY = 24 * HOUR
CFG = DetectConfig()


def _tail(x: int, n: int, k: int, draws: int) -> float:
    """P(X >= x), X ~ Hypergeometric(n, k, draws), from binomial coefficients."""
    return float(_tail_exact(x, n, k, draws))


def _tail_exact(x: int, n: int, k: int, draws: int) -> Fraction:
    """:func:`_tail` as an exact fraction."""
    return Fraction(sum(math.comb(k, j) * math.comb(n - k, draws - j) for j in range(x, min(k, draws) + 1)),
                    math.comb(n, draws))


def _groups(head, kind):
    a = len(head)
    head = np.asarray(head, np.int64)
    return Groups(head, np.asarray(kind, np.int64), np.where(head >= 0, 1e-6, 1.0), np.where(head >= 0, DAY, 0.0),
                  np.where(head >= 0, 0.9, 0.0))


def _case(n_members=10, cell_carriers=3, cell_others=0, bg_carriers=0, bg_others=40, kind=4, cell_single=0,
          bg_single=0):
    """A group of ``n_members`` (head 0, ``kind``) on user agent 7, active days 0-10; outsiders with several keys:
    ``cell_carriers`` carriers and ``cell_others`` non-carriers on agent 7 in days 2-4, ``bg_carriers`` carriers and
    ``bg_others`` non-carriers on agent 9; outsiders with one key: ``cell_single`` on agent 7 and ``bg_single`` on
    agent 9, in days 2-4."""
    sizes = (n_members, cell_carriers, cell_others, bg_carriers, bg_others, cell_single, bg_single)
    a = sum(sizes)
    part = np.repeat(np.arange(7), sizes)
    head = np.where(part == 0, 0, -1)
    kind_ = np.where(part == 0, kind, 0)
    acc = {"first_us": np.where(part == 0, 0.0, 2 * DAY), "last_us": np.where(part == 0, 10 * DAY, 4 * DAY)}
    keyed = part <= 4
    carrier = np.isin(part, (0, 1, 3))
    ua = np.where(np.isin(part, (0, 1, 2, 5)), 7, 9)
    edges = {"user_agent": (np.arange(a), ua.astype(np.int64))}
    return _groups(head, kind_), acc, keyed, carrier, np.ones(a, bool), edges, part


def test_known_answer_carriers_on_the_groups_agent_join():
    g, acc, keyed, carrier, free, edges, part = _case(cell_carriers=3, bg_others=40)
    c = agent_cells(g.head, g.kind, acc, keyed, carrier, free, edges, CFG.group.fdr)
    assert c["n"] == 43 and c["k"] == 3 and c["n_bg"] == 40 and c["k_bg"] == 0
    assert list(c["n_c"]) == [3] and list(c["x_c"]) == [3]
    p = _tail(3, 43, 3, 3)  # 1 / C(43, 3)
    assert p == pytest.approx(1 / 12341) and p <= CFG.group.alpha
    r = (0 + 1) / (40 + 1)
    assert (3 - 3 + 1) * r / (1 - r) == pytest.approx(1 / 40) and 1 / 40 <= CFG.group.fdr * 3  # 0.025 <= 0.15
    out = join_on_agent(g, acc, keyed, carrier, free, edges, CFG)
    joined = part == 1
    assert np.all(out.head[joined] == 0) and np.all(out.kind[joined] == 4)
    assert np.all(out.p[joined] == g.p[0]) and np.all(out.width_us[joined] == g.width_us[0])
    assert np.all(out.head[part >= 2] == -1)


def test_carriers_as_common_on_other_agents_do_not_join():
    """Developers interleaving keys at one rate everywhere (4 in 40 elsewhere, 1 in 10 on the group's agent)."""
    g, acc, keyed, carrier, free, edges, part = _case(cell_carriers=1, cell_others=9, bg_carriers=4, bg_others=36)
    c = agent_cells(g.head, g.kind, acc, keyed, carrier, free, edges, CFG.group.fdr)
    assert list(c["n_c"]) == [10] and list(c["x_c"]) == [1]
    assert _tail(1, 50, 5, 10) > CFG.group.alpha
    out = join_on_agent(g, acc, keyed, carrier, free, edges, CFG)
    assert np.array_equal(out.head, g.head)


def test_significant_but_impure_cell_does_not_join():
    """Significant against the population, but the chance carriers expected among the cell's bystanders exceed one in
    twenty of its carriers: three carriers and 27 non-carriers on the agent, 1 carrier in 300 elsewhere (r = 2 / 301;
    bystanders (27 + 1) / (1 - r), of which 28 r / (1 - r) = 0.187 carry by chance, > 0.15)."""
    g, acc, keyed, carrier, free, edges, part = _case(cell_carriers=3, cell_others=27, bg_carriers=1, bg_others=299)
    n, k = 330, 4
    assert _tail(3, n, k, 30) * 1 <= CFG.group.alpha
    r = 2 / 301
    assert 28 * r / (1 - r) == pytest.approx(0.1873, abs=1e-4) and 28 * r / (1 - r) > CFG.group.fdr * 3
    assert np.array_equal(join_on_agent(g, acc, keyed, carrier, free, edges, CFG).head, g.head)


def test_a_cell_of_carriers_only_is_pure_beside_a_busy_background():
    """Every outsider on the agent carries (71 of 71), while 19 of 249 several-key accounts elsewhere do (r = 0.08):
    the cell holds no bystander that did not carry, so about 0.09 chance carriers are expected, not 71 r = 5.7."""
    g, acc, keyed, carrier, free, edges, part = _case(n_members=79, cell_carriers=71, bg_carriers=19, bg_others=230)
    out = join_on_agent(g, acc, keyed, carrier, free, edges, CFG)
    assert np.all(out.head[part == 1] == 0)
    r = 20 / 250
    assert 71 * r > CFG.group.fdr * 71 >= 1 * r / (1 - r)


def test_a_log_of_several_key_accounts_only_cannot_speak():
    """Every outsider is a several-key carrier on the group's agent: nothing to compare with, under either null."""
    g, acc, keyed, carrier, free, edges, part = _case(cell_carriers=8, bg_others=0)
    c = agent_cells(g.head, g.kind, acc, keyed, carrier, free, edges, CFG.group.fdr)
    assert c["n"] == 8 and c["k"] == 8
    assert np.array_equal(join_on_agent(g, acc, keyed, carrier, free, edges, CFG).head, g.head)


def _h0_prime(cell_carriers, cell_single, bg_single, bg_carriers=0):
    """H0' written out for :func:`_case`: every outsider the population (p-value, chance carriers, allowed)."""
    n = cell_carriers + cell_single + bg_single + bg_carriers
    k = cell_carriers + bg_carriers
    p = _tail(cell_carriers, n, k, cell_carriers + cell_single)  # one cell: m = 1
    r = (bg_carriers + 1) / (bg_single + bg_carriers + 1)
    return p, (cell_single + 1) * r / (1 - r), CFG.group.fdr * cell_carriers


def test_where_several_key_accounts_cannot_speak_every_outsider_is_the_population():
    """Held-out D's shape: the operator's 8 left-outs are the log's only several-key outsiders (H0: ``N = K = N_C = 8``,
    p = 1 whatever happens), beside 40 one-key accounts on its agent and 160 elsewhere. Under H0' 8 of 48 carry on
    the agent, none of 160 elsewhere: p = C(48, 8) / C(208, 8), chance carriers 41 / 160 <= 0.4: they join."""
    g, acc, keyed, carrier, free, edges, part = _case(cell_carriers=8, bg_others=0, cell_single=40, bg_single=160)
    p, chance, allowed = _h0_prime(8, 40, 160)
    assert p == pytest.approx(math.comb(48, 8) / math.comb(208, 8)) and p <= CFG.group.alpha
    assert chance == pytest.approx(41 / 160) and chance <= allowed
    out = join_on_agent(g, acc, keyed, carrier, free, edges, CFG)
    assert np.all(out.head[part == 1] == 0) and np.all(out.head[part >= 2] == -1)
    # one several-key account elsewhere does not silence it: H0's best outcome is then p = 1 / 9 > 0.01
    g, acc, keyed, carrier, free, edges, part = _case(cell_carriers=8, bg_others=1, cell_single=40, bg_single=160)
    assert _tail(8, 9, 8, 8) == pytest.approx(1 / 9)
    assert np.all(join_on_agent(g, acc, keyed, carrier, free, edges, CFG).head[part == 1] == 0)


def test_under_h0_prime_carriers_as_common_elsewhere_do_not_join():
    """H0' asked, and answering no: 8 of 48 outsiders on the agent carry, and 30 of 190 elsewhere (all several-key
    carriers, so H0 has no non-carrier to compare with: its best p-value is 1)."""
    g, acc, keyed, carrier, free, edges, part = _case(cell_carriers=8, bg_others=0, bg_carriers=30, cell_single=40,
                                                      bg_single=160)
    p, chance, allowed = _h0_prime(8, 40, 160, bg_carriers=30)
    assert p > CFG.group.alpha and chance > allowed
    assert np.array_equal(join_on_agent(g, acc, keyed, carrier, free, edges, CFG).head, g.head)


def test_a_background_of_carrying_several_key_accounts_is_data_not_silence():
    """H0 can speak and says no: the group's agent holds 3 carriers and 7 non-carriers among its several-key
    outsiders, about as often as elsewhere (12 of 40). H0' would say yes — the 5,000 one-key accounts elsewhere make
    carriers rare there — but it is not asked: H0 could have rejected (all 10 carriers: p = C(15, 10) / C(50, 10)),
    so its no is an answer, not silence."""
    g, acc, keyed, carrier, free, edges, part = _case(cell_carriers=3, cell_others=7, bg_carriers=12, bg_others=28,
                                                      cell_single=0, bg_single=5000)
    c = agent_cells(g.head, g.kind, acc, keyed, carrier, free, edges, CFG.group.fdr)
    assert (c["n"], c["k"], c["n_bg"], c["k_bg"]) == (50, 15, 40, 12)
    assert _tail(3, 50, 15, 10) > CFG.group.alpha  # H0: no
    assert _tail(10, 50, 15, 10) <= CFG.group.alpha  # and it could have said yes: informative
    p_prime = _tail(3, 5050, 15, 10)  # H0' would: 3 of 10 on the agent against 12 of 5,040 elsewhere
    r_prime = 13 / 5041
    assert p_prime <= CFG.group.alpha and (10 - 3 + 1) * r_prime / (1 - r_prime) <= CFG.group.fdr * 3
    assert np.array_equal(join_on_agent(g, acc, keyed, carrier, free, edges, CFG).head, g.head)


def test_the_limit_a_librarys_interleavers_alone_on_the_operators_agent_join():
    """The stated limit (module docstring): a client library whose users all interleave their keys, sending the
    operator's agent, and no several-key account anywhere else: H0 cannot speak, H0' sees carriers only on that
    agent, and the library's 20 users active in the group's time join with its 3 left-outs."""
    g, acc, keyed, carrier, free, edges, part = _case(cell_carriers=23, bg_others=0, cell_single=100, bg_single=800)
    p, chance, allowed = _h0_prime(23, 100, 800)
    assert p <= CFG.group.alpha and chance <= allowed
    assert np.all(join_on_agent(g, acc, keyed, carrier, free, edges, CFG).head[part == 1] == 0)


def test_only_several_key_groups_free_carriers_and_the_groups_time_count():
    for kind in range(1, 6):
        g, acc, keyed, carrier, free, edges, part = _case(kind=kind)
        out = join_on_agent(g, acc, keyed, carrier, free, edges, CFG)
        assert (out.head[part == 1] == 0).all() == (kind in KEY_KINDS)
    g, acc, keyed, carrier, free, edges, part = _case()
    listed = free.copy()
    listed[np.flatnonzero(part == 1)[0]] = False  # listed in a campaign of the links: not an outsider
    out = join_on_agent(g, acc, keyed, carrier, listed, edges, CFG)
    assert (out.head[part == 1] == 0).sum() == 2
    late = {k: v.copy() for k, v in acc.items()}
    i = np.flatnonzero(part == 1)[0]
    late["first_us"][i], late["last_us"][i] = 11 * DAY, 12 * DAY  # after the group's last request
    out = join_on_agent(g, late, keyed, carrier, free, edges, CFG)
    assert out.head[i] == -1 and (out.head[part == 1] == 0).sum() == 2
    assert np.array_equal(join_on_agent(g, acc, keyed, carrier, free, {}, CFG).head, g.head)  # no user agents


def test_a_chance_members_agent_is_not_the_groups():
    """A user agent sent by one member in thirty (at most ``fdr`` of the group: a chance member's) forms no cell; by
    one in ten it does."""
    for n_members, cells in ((30, 1), (10, 2)):
        g, acc, keyed, carrier, free, edges, part = _case(n_members=n_members)
        a_idx, ua = edges["user_agent"]
        two = {"user_agent": (np.r_[a_idx, 0], np.r_[ua, 9])}  # member 0 also sent agent 9
        c = agent_cells(g.head, g.kind, acc, keyed, carrier, free, two, CFG.group.fdr)
        assert len(c["n_c"]) == cells


def test_inputs_are_left_as_they_were():
    g, acc, keyed, carrier, free, edges, part = _case()
    before = [x.copy() for x in (g.head, g.kind, g.p, g.width_us, keyed, carrier, free, edges["user_agent"][1],
                                 acc["first_us"])]
    join_on_agent(g, acc, keyed, carrier, free, edges, CFG)
    after = (g.head, g.kind, g.p, g.width_us, keyed, carrier, free, edges["user_agent"][1], acc["first_us"])
    assert all(np.array_equal(x, y) for x, y in zip(before, after))


# ------------------------------------------------------------------------------ naive reference
def _reference(head, kind, first, last, keyed, carrier, free, ua_of, cfg, ties: list | None = None,
               used: list | None = None):
    """The module docstring, a loop at a time: ``ua_of[i]`` the set of account i's user agents. The tests in exact
    rational arithmetic; a cell whose p-value or chance carriers equal their threshold (within 1e-9 of it: a decision
    the floating-point code makes by its last bits) is appended to ``ties``; the null each tested cell was decided
    under ("H0" or "H0'") to ``used``."""
    a = len(head)
    everyone = [i for i in range(a) if free[i] and head[i] < 0]
    out = [i for i in everyone if keyed[i]]
    car = {i for i in out if carrier[i]}
    members = [i for i in range(a) if head[i] >= 0 and kind[i] in KEY_KINDS]
    groups = sorted({head[i] for i in members})
    cells = []
    for h in groups:
        mem = [i for i in members if head[i] == h]
        lo, hi = min(first[i] for i in mem), max(last[i] for i in mem)
        for u in sorted(set().union(*(ua_of[i] for i in mem))):
            if sum(u in ua_of[i] for i in mem) <= cfg.group.fdr * len(mem):
                continue  # a chance member's agent
            cells.append((h, [i for i in everyone if u in ua_of[i] and first[i] <= hi and last[i] >= lo]))
    if not cells or not members or not car:
        return np.asarray(head)
    alpha, fdr = Fraction(str(cfg.group.alpha)), Fraction(str(cfg.group.fdr))  # the decimal values configured
    near = Fraction(1, 10**9)  # relative: a float product lands within this of an exact tie

    def population(pool):
        """(N, the cells restricted to ``pool``, the background carrier rate, the background's size N_bg)"""
        pool_set = set(pool)
        cs = [(h, [i for i in c if i in pool_set]) for h, c in cells]
        in_cell = set().union(*(set(c) for _, c in cs))
        n_bg = sum(1 for i in pool if i not in in_cell)
        k_bg = sum(1 for i in car if i not in in_cell)
        return len(pool), cs, Fraction(k_bg + 1, n_bg + 1), n_bg

    n_k, cells_k, rate_k, n_bg_k = population(out)
    n_a, cells_a, rate_a, _ = population(everyone)
    m = sum(1 for _, c in cells_k if c)
    best = {}
    for (h, ck), (_, ca) in zip(cells_k, cells_a):
        if not ck:
            continue
        p_best = min(_tail_exact(min(len(car), len(ck)), n_k, len(car), len(ck)) * m, Fraction(1))
        if ties is not None and abs(p_best - alpha) <= near * alpha:
            ties.append(h)
        mute = p_best > alpha or n_bg_k == 0
        n, c, rate = (n_a, ca, rate_a) if mute else (n_k, ck, rate_k)
        if used is not None:
            used.append("H0'" if mute else "H0")
        if rate >= 1:
            continue
        x = sum(1 for i in c if i in car)
        p = min(_tail_exact(x, n, len(car), len(c)) * m, Fraction(1))
        chance = (len(c) - x + 1) / (1 - rate) * rate
        if ties is not None and x >= 1 and (abs(p - alpha) <= near * alpha or abs(chance - fdr * x) <= near * fdr * x):
            ties.append(h)
        if x >= 1 and p <= alpha and chance <= fdr * x:
            for i in c:
                if i in car and (i not in best or p < best[i][0]):
                    best[i] = (p, h)
    res = np.asarray(head).copy()
    for i, (_, h) in best.items():
        res[i] = h
    return res


def _random_case(seed: int):
    """Random groups and outsiders; outsiders on agent 0 (the groups' usual one) carry at a rate drawn per case,
    elsewhere at a low one, so that some cases join and some do not; in two cases of five several keys are (nearly)
    only on agent 0, where H0 often cannot speak and H0' decides."""
    rng = np.random.default_rng(seed)
    a = int(rng.integers(30, 160))
    n_groups = int(rng.integers(1, 3))
    head = np.full(a, -1)
    kind = np.zeros(a, np.int64)
    for gi in range(n_groups):
        idx = np.arange(gi * 6, gi * 6 + 6)
        head[idx] = idx[0]
        kind[idx] = rng.choice([1, 2, 3, 4, 5], p=[0.1, 0.1, 0.3, 0.3, 0.2])
    first = rng.uniform(0, 10, a) * DAY
    last = first + rng.uniform(0, 6, a) * DAY
    keyed = rng.random(a) < 0.9
    ua_of = [{0} if rng.random() < 0.8 else {int(rng.integers(0, 5))} for _ in range(a)]
    for i in range(6 * n_groups, a):
        ua_of[i] = ({0} if rng.random() < 0.1 else set(rng.choice(np.arange(1, 5), int(rng.integers(1, 3)),
                                                                    replace=False).tolist()))
        if rng.random() < 0.05:
            ua_of[i].add(0)
    on0 = np.array([0 in u for u in ua_of])
    if rng.random() < 0.4:  # several keys mostly on agent 0 (H0 often cannot speak, H0' decides)
        keyed &= on0 | (rng.random(a) < 0.02)
    carrier = keyed & np.where(on0, rng.random(a) < rng.uniform(0, 1), rng.random(a) < rng.uniform(0, 0.1))
    carrier[head >= 0] = True
    free = rng.random(a) < 0.95
    acct = np.array([i for i in range(a) for _ in ua_of[i]], np.int64)
    code = np.array([u for i in range(a) for u in sorted(ua_of[i])], np.int64)
    return head, kind, first, last, keyed, carrier, free, ua_of, {"user_agent": (acct, code)}


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 100_000))
def test_vectorised_step_matches_the_reference(seed):
    head, kind, first, last, keyed, carrier, free, ua_of, edges = _random_case(seed)
    cfg = DetectConfig()
    g = _groups(head, kind)
    out = join_on_agent(g, {"first_us": first, "last_us": last}, keyed, carrier, free, edges, cfg)
    ties: list = []
    ref = _reference(head, kind, first, last, keyed, carrier, free, ua_of, cfg, ties)
    assume(not ties)  # seed 21507: p = 3 x 1/300 = alpha exactly, 0.010000000000000002 in floating point
    assert np.array_equal(out.head, ref)


def test_the_random_cases_exercise_both_outcomes_and_both_nulls():
    """The property test above is not vacuous: over the first 200 seeds some cases join and some do not, and cells
    are decided under both nulls."""
    joined = 0
    used: list = []
    for seed in range(200):
        head, kind, first, last, keyed, carrier, free, ua_of, edges = _random_case(seed)
        out = join_on_agent(_groups(head, kind), {"first_us": first, "last_us": last}, keyed, carrier, free, edges,
                            CFG)
        _reference(head, kind, first, last, keyed, carrier, free, ua_of, CFG, used=used)
        joined += int((out.head != head).any())
    assert 10 <= joined <= 190  # measured: 64 of 200 (31 with H0 alone)
    assert used.count("H0") >= 20 and used.count("H0'") >= 20


# ------------------------------------------------------------------------------ end to end
POOL_BYTES = 96_000_000


@pytest.fixture(scope="module")
def pool():
    from guard_heldout_base import load_pool

    return load_pool(POOL_BYTES)


def _operator(b, items, n: int, stay: int, start: int, ua: str):
    """An operator's ``n`` accounts, 30-60 distinct pool prompts each at a human pace through 3-4 keys drawn at
    random per request, each on its own address, all sending ``ua``: started within three days of ``start`` and
    run for eight, but the last ``stay`` accounts run from the log's first day to its last (they neither arrive nor
    leave with the batch: nothing in time ties them to it)."""
    from guard_heldout_base import human_times, ids, residential_ips

    rng = b.rng
    acc = ids(rng, "acct_", n)
    counts = rng.integers(30, 61, n)
    begin = start + rng.uniform(0, 3, n) * DAY
    begin[n - stay:] = start - DAY  # the log's first day
    span = np.where(np.arange(n) >= n - stay, 20.0, 8.0)
    ts = human_times(rng, counts, begin.astype(np.int64), span, np.zeros(n))
    owner = np.repeat(np.arange(n), counts)
    k = 3 + (owner % 2)
    pick = (rng.integers(0, 1000, len(owner)) % k).astype(str)
    key = np.char.add(np.char.add(np.char.add("key_", acc[owner]), "_"), pick)
    b.add(acc, counts, ts, rng.choice(items, int(counts.sum()), replace=False), family="keyed", campaign="keyed-0",
          key=key.astype(object), ip=residential_ips(rng, n), ua=ua)
    return set(acc[n - stay:].tolist())


def _developers(b, pop, n: int, start: int, interleave_share: float):
    """Developers with 2-3 keys each (one per project) over the whole three weeks in working hours, on the five SDK
    user agents in turn: most work one project's key a day; ``interleave_share`` of them (on every agent alike)
    draw each request's key at random (a staging and a production key serving at once)."""
    from guard_heldout_base import SDK_UAS
    from guard_key_builders import developers_with_keys

    mix = ((np.arange(n) // len(SDK_UAS)) % round(1 / interleave_share) == 0) if interleave_share else np.zeros(n, bool)
    return set(developers_with_keys(b, pop, n, start, mix, SDK_UAS)[mix].tolist())


def _log(pool, ua: str, interleave_share: float, seed: int = 7, developers: int = 250):
    import guard_heldout_logs as L
    from guard_heldout_base import T0, Builder, Popularity

    b = Builder(np.random.default_rng(seed), pool)
    pop = Popularity.make(b.rng, pool, 1500, 1.0)
    L.casual(b, pop, 1500)
    L.power(b, pop, 60)
    mixers = _developers(b, pop, developers, T0, interleave_share) if developers else set()
    stay = _operator(b, pop.tail, 60, 6, T0 + int(DAY), ua)
    log, labels, _ = b.tables()
    return log, labels, stay, mixers


def _scan_both(log, monkeypatch):
    """The scan as it is, and with the join left out (the comparison shows what the step does)."""
    from stillwatch.guard.batch.scan import scan
    from stillwatch.guard.score import agents

    with_join = scan(log)
    with monkeypatch.context() as m:
        m.setattr(agents, "join_on_agent", lambda g, *a, **k: g)
        without = scan(log)
    return with_join, without


def test_an_operators_accounts_outside_its_time_join_it_on_its_user_agent(pool, monkeypatch):
    """The attacker: 6 of an operator's 60 accounts run over the whole log while the batch starts and stops
    together, all sending the operator's browser user agent; 250 developers keep their keys one at a time on SDK
    agents. Measured: without the join 53 of 60 (none of the six), with it 60."""
    from guard_heldout_base import BROWSER_UAS

    log, labels, stay, _ = _log(pool, BROWSER_UAS[0], 0.0)
    fam = dict(zip(labels["account_id"].to_pylist(), labels["family"].to_pylist()))
    f, f0 = _scan_both(log, monkeypatch)
    found = {a.account_id for a in f.flagged}
    found0 = {a.account_id for a in f0.flagged}
    assert sum(fam[a] == "keyed" for a in found0) >= 48  # time alone finds the batch
    assert len(stay & found0) <= 1  # but not the accounts outside its time
    assert len(stay & found) >= 5 and stay & found >= stay & found0
    assert sum(fam[a] == "keyed" for a in found) >= 58
    assert all(fam[a] == "keyed" for a in found)  # no developer, casual or power user
    # the joiners are in the operator's campaign, not a campaign of their own
    camp = {a: c.campaign_id for c in f.campaigns for a in c.accounts}
    assert len({camp[a] for a in stay & found}) == 1
    assert camp[next(iter(stay & found))] == collections.Counter(camp[a] for a in found).most_common(1)[0][0]


def test_an_operators_left_outs_join_where_its_accounts_are_the_only_several_key_ones(pool, monkeypatch):
    """Held-out D's shape: the same operator and its six accounts outside its time, with no developer — no several-key
    account in the log besides the operator's, so H0 has nothing to compare with and H0' (every outsider) decides:
    the left-outs are the only carriers outside the group, all on its agent. Measured: without the join none of the
    six, with it all six; no casual or power user flagged either way."""
    from guard_heldout_base import BROWSER_UAS

    log, labels, stay, _ = _log(pool, BROWSER_UAS[0], 0.0, developers=0)
    fam = dict(zip(labels["account_id"].to_pylist(), labels["family"].to_pylist()))
    f, f0 = _scan_both(log, monkeypatch)
    found = {a.account_id for a in f.flagged}
    found0 = {a.account_id for a in f0.flagged}
    assert sum(fam[a] == "keyed" for a in found0) >= 48 and len(stay & found0) <= 1
    assert len(stay & found) >= 5
    assert all(fam[a] == "keyed" for a in found) and all(fam[a] == "keyed" for a in found0)
    camp = {a: c.campaign_id for c in f.campaigns for a in c.accounts}
    assert len({camp[a] for a in stay & found}) == 1


def test_developers_interleaving_on_the_operators_agent_do_not_join(pool, monkeypatch):
    """The bystander: the same operator on an SDK's user agent, where one developer in ten (on every SDK agent alike)
    interleaves its keys. Carriers are then as common on the operator's agent as elsewhere: no cell is pure, and no
    interleaving developer joins (nor, here, do the operator's six accounts outside its time: the stated cost)."""
    from guard_heldout_base import SDK_UAS

    from stillwatch.guard.score import agents

    log, labels, stay, mixers = _log(pool, SDK_UAS[0], 0.1)
    seen = []
    cells = agents.agent_cells
    monkeypatch.setattr(agents, "agent_cells", lambda *a, **k: seen.append(cells(*a, **k)) or seen[-1])
    f, f0 = _scan_both(log, monkeypatch)
    # the test was put: a cell on the operator's agent holding carriers, beside carriers on the other agents
    assert seen and seen[0] and seen[0]["x_c"].max() >= 5 and seen[0]["k_bg"] >= 10
    found = {a.account_id for a in f.flagged}
    found0 = {a.account_id for a in f0.flagged}
    assert len(mixers) == 25
    assert mixers & found == mixers & found0  # the join adds no developer
    assert len(mixers & found) <= 1
