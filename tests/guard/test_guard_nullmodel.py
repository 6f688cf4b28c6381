"""Issue 13: links with a stated null model (:mod:`stillwatch.guard.score.nullmodel`).

Layers: known-answer Poisson tails; a naive reference of the pair test (loops over pairs and items,
scipy's Poisson) cross-checked against the vectorised one; calibration on logs drawn from the null
itself (independent accounts, heavy-tailed item popularity): the empirical rate of p <= x stays
within x, and no pair link forms at the stated alpha; power on planted groups (so the calibration
checks cannot pass by linking nothing ever); the mutation-style check that one popular item shared
with one member never joins a campaign while the same account sharing rare items does; cohorts
against the log's own arrival rate.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from stillwatch.errors import GuardInputError
from stillwatch.guard.score import cluster
from stillwatch.guard.score.config import DetectConfig, LinkConfig
from stillwatch.guard.score.nullmodel import (arrivals, campaign_strength, cohort_links, null_links, pair_links, pair_tests,
                                              poisson_tail)

HOUR = 3_600e6
DAY = 24 * HOUR


def test_poisson_tail_known_answers():
    # P(X >= 3 | 0.5) = 1 - e^-0.5 (1 + 0.5 + 0.125)
    assert poisson_tail(np.array([3]), np.array([0.5]))[0] == pytest.approx(1 - math.exp(-0.5) * 1.625, rel=1e-12)
    assert poisson_tail(np.array([0, 1]), np.array([2.0, 2.0])).tolist() == pytest.approx([1.0, 1 - math.exp(-2)])
    # far tail, exact (no normal approximation): P(X >= 10 | 0.01) ~ 0.01^10 / 10!
    assert poisson_tail(np.array([10]), np.array([0.01]))[0] == pytest.approx(stats.poisson.sf(9, 0.01), rel=1e-9)


def _null_edges(rng, n_acc: int, n_items: int, s: float = 1.0, m_max: int = 32):
    """Accounts drawing items independently from one Zipf(s) pool, each with its own activity
    (1..m_max draws): H0 of the pair test. Returns (edge account, edge item, activity)."""
    w = 1.0 / np.arange(1, n_items + 1) ** s
    w /= w.sum()
    m = rng.integers(1, m_max + 1, n_acc)
    owner = np.repeat(np.arange(n_acc), m)
    item = rng.choice(n_items, len(owner), p=w)
    e = np.unique(np.stack([owner, item], 1), axis=0)
    return e[:, 0], e[:, 1], m.astype(np.float64)


def _naive_pair_p(ea, ek, act):
    """The pair test written out: popularity per item, C(t) per tier and the tier scan by loops."""
    users = {}
    for a, k in zip(ea.tolist(), ek.tolist()):
        users.setdefault(k, set()).add(a)
    m_tot = float(np.sum(act))
    fan = {k: len(u) for k, u in users.items()}
    tier = {k: max(1, math.ceil(math.log2(f))) for k, f in fan.items() if f >= 2}
    n_tiers = max(tier.values())
    c = [sum((fan[k] / m_tot) ** 2 for k, j in tier.items() if j <= t) for t in range(n_tiers + 1)]
    items_of = {}
    for k, u in users.items():
        for a in u:
            items_of.setdefault(a, set()).add(k)
    out = {}
    for a, b in itertools.combinations(sorted(items_of), 2):
        common = items_of[a] & items_of[b]
        if not common:
            continue
        best = 1.0
        for t in range(1, n_tiers + 1):
            x = sum(1 for k in common if tier[k] <= t)
            if x:
                best = min(best, stats.poisson.sf(x - 1, act[a] * act[b] * c[t]))
        out[(a, b)] = min(best * n_tiers, 1.0)
    return out


def test_pair_test_matches_naive_reference():
    rng = np.random.default_rng(3)
    ea, ek, act = _null_edges(rng, 60, 150, s=0.8, m_max=12)
    # a planted pair sharing four items nobody else uses: a small p the reference must agree on too
    ea = np.concatenate([ea, [5, 5, 5, 5, 9, 9, 9, 9]])
    ek = np.concatenate([ek, [900, 901, 902, 903] * 2])
    pt = pair_tests(ea, ek, act, budget=10**7)
    ref = _naive_pair_p(ea, ek, act)
    got = {(int(a), int(b)): float(p) for a, b, p in zip(pt.a, pt.b, pt.p)}
    assert set(got) == set(ref) and len(ref) > 200
    for k, p in ref.items():
        assert got[k] == pytest.approx(p, rel=1e-9, abs=1e-300), k
    assert got[(5, 9)] < 1e-6


def test_pair_test_budget_drops_only_popular_tiers():
    rng = np.random.default_rng(4)
    ea, ek, act = _null_edges(rng, 80, 100, s=1.2)
    full = pair_tests(ea, ek, act, budget=10**7)
    small = pair_tests(ea, ek, act, budget=200)
    assert 0 < len(small.a) < len(full.a)
    # the pairs still examined get a p-value no smaller than with every tier (fewer tiers scanned)
    fp = dict(zip(zip(full.a.tolist(), full.b.tolist()), full.p.tolist()))
    assert all(p >= fp[(a, b)] - 1e-15 for a, b, p in zip(small.a.tolist(), small.b.tolist(), small.p.tolist()))


@pytest.mark.parametrize("s", [0.8, 1.1])
def test_pair_p_value_is_calibrated_on_a_null_log(s):
    """H0 holds by construction: independent accounts, heavy-tailed popularity. Over all pairs of the
    log (a pair sharing nothing has p = 1), the share with p <= x must stay within x (upper 99.9 %
    binomial bound); the test is conservative, so it is usually far below."""
    rng = np.random.default_rng(int(s * 10))
    n_acc = 500
    ea, ek, act = _null_edges(rng, n_acc, 3000, s=s)
    pt = pair_tests(ea, ek, act, budget=10**8)
    n_pairs = n_acc * (n_acc - 1) // 2
    for x in (0.1, 0.01, 0.001):
        hits = int(np.sum(pt.p <= x))
        assert hits <= stats.binom.ppf(0.999, n_pairs, x), (x, hits)


def test_no_pair_link_on_null_logs_and_planted_groups_link():
    """Family-wise: across 20 null logs no link at alpha 0.01 (expected <= 0.2 logs with any); a planted
    group of 6 accounts sharing 8 items of popularity 6 in each log is linked into one component
    every time."""
    cfg = DetectConfig()
    with_links = 0
    for seed in range(20):
        rng = np.random.default_rng(100 + seed)
        ea, ek, act = _null_edges(rng, 300, 2000, s=1.0)
        acc = {"sampled_rows": act, "n": act}
        a, b, _ = pair_links({"tpl_prefix": (ea, ek)}, acc, len(act), cfg)
        with_links += len(a) > 0
        group = np.arange(6)
        pea = np.concatenate([ea, np.repeat(group, 8)])
        pek = np.concatenate([ek, np.tile(10_000 + np.arange(8), 6)])
        a, b, p = pair_links({"tpl_prefix": (pea, pek)}, acc, len(act), cfg)
        planted = [(int(x), int(y)) for x, y in zip(a, b) if x < 6 and y < 6]
        assert len(planted) >= 5, seed  # at least a spanning tree (heavy accounts expect more shared items)
        assert np.all(p <= cfg.link.alpha)
        # ... and the group is one component, with none of the null accounts
        lab = cluster.components(len(act), np.concatenate([a, b]), np.tile(np.arange(len(a)), 2))
        assert len(set(lab[:6].tolist())) == 1 and np.sum(lab == lab[0]) == 6, seed
    assert with_links <= 1


def _campaign_and_popular_item(bystander_items: list[int]):
    """200 independent accounts on a Zipf pool (item 0 the most popular), a campaign of 8 accounts
    (200..207) each sharing 10 rare scaffold items with the others, and one bystander (208) whose
    items are ``bystander_items`` (it also shares them with campaign member 200)."""
    rng = np.random.default_rng(7)
    ea, ek, act = _null_edges(rng, 200, 1500, s=1.0, m_max=20)
    camp = np.arange(200, 208)
    ea = np.concatenate([ea, np.repeat(camp, 10), np.full(len(bystander_items), 208), [200] * len(bystander_items)])
    ek = np.concatenate([ek, np.tile(50_000 + np.arange(10), 8), bystander_items, bystander_items])
    act = np.concatenate([act, np.full(9, 20.0)])
    return ea, ek, act


def _clusters(ea, ek, act):
    cfg = DetectConfig()
    acc = {"sampled_rows": act, "n": act}
    nl = null_links(acc, {"tpl_prefix": (ea, ek)}, len(act), cfg)
    g_ea, g_ek = nl.graph(len(act))
    return cluster.components(len(act), g_ea, g_ek)


def test_one_popular_item_shared_with_one_member_never_joins():
    # the most popular item of the pool (hundreds of users): the bystander shares it with a member
    labels = _clusters(*_campaign_and_popular_item([0]))
    camp = labels[200:208]
    assert np.all(camp == camp[0])  # the campaign itself is linked
    assert labels[208] != camp[0]
    # mutation: the same bystander sharing the campaign's rare scaffolds does join — the check above
    # fails for a linker that ignores popularity or counts any shared item
    labels = _clusters(*_campaign_and_popular_item(list(range(50_000, 50_010))))
    assert labels[208] == labels[200]


def test_a_chain_of_popular_items_does_not_grow_a_campaign():
    # twenty bystanders, each sharing one of the five most popular items with the next: no link
    ea, ek, act = _campaign_and_popular_item([])
    chain = np.arange(len(act), len(act) + 20)
    ea = np.concatenate([ea, chain, chain[1:], [200]])
    ek = np.concatenate([ek, chain % 5, chain[:-1] % 5, [chain[0] % 5]])
    act = np.concatenate([act, np.full(20, 5.0)])
    labels = _clusters(ea, ek, act)
    assert cluster.sizes(labels)[chain].max() == 1 or not np.isin(labels[chain], labels[200]).any()


def _arrivals(rng, n_bg: int, cohort: int, n_ua: int = 4):
    """Background accounts arriving uniformly over 20 days (user agents from a few browsers, mixed
    capability focus), plus ``cohort`` accounts arriving within one hour on day 9 with one agent and
    capability-focused traffic. Every account sends 20-40 requests over the days after it arrives."""
    n = n_bg + cohort
    first = np.concatenate([rng.uniform(1, 20, n_bg) * DAY, 9 * DAY + rng.uniform(0, HOUR, cohort)])
    cnt = rng.integers(20, 41, n).astype(np.float64)
    ua = np.concatenate([rng.integers(0, n_ua, n_bg), np.zeros(cohort, np.int64)])
    cap = np.concatenate([rng.random(n_bg) < 0.4, np.ones(cohort, bool)])
    acc = {"n": cnt, "first_us": first, "last_us": first + 2 * DAY,
           "cap_any": np.where(cap, 0.8, 0.05) * (cnt + 2.0)}
    # the log starts at 0 with a few long-standing accounts
    acc["first_us"][:3] = 0.0
    return acc, {"user_agent": (np.arange(n), ua)}


def test_cohort_arriving_together_is_linked_and_background_is_not():
    """Every cohort member is linked; bystanders (background accounts of the cohort's class arriving
    in the same hour window) are statistically indistinguishable from it, and few: the class arrives
    at 800 x 1/4 x 0.4 / 19 days ~ 0.18 per hour, so ~0.3 per log over the cohort's hour and the
    offset grid's half hours each side, ~1.3 over five logs (Poisson 99.9 % bound: 6)."""
    cfg = DetectConfig()
    bystanders = 0
    for seed in range(5):
        rng = np.random.default_rng(seed)
        acc, edges = _arrivals(rng, 800, 25)
        ca, _, cp = cohort_links(acc, edges, cfg)
        members = set(ca.tolist())
        assert set(range(800, 825)) <= members, seed
        bystanders += len(members - set(range(800, 825)))
        assert np.all(cp <= cfg.link.alpha)
        # the null: the same background with no cohort links nobody
        acc, edges = _arrivals(rng, 800, 0)
        assert len(cohort_links(acc, edges, cfg)[0]) == 0, seed
    assert bystanders <= 6


def test_cohort_of_accounts_active_since_the_log_start_is_not_an_arrival():
    # heavy accounts first seen in the log's first hour were active before it: not a cohort
    rng = np.random.default_rng(9)
    acc, edges = _arrivals(rng, 800, 0)
    acc["first_us"][:40] = rng.uniform(0, HOUR, 40)
    acc["n"][:40] = 500.0
    acc["last_us"][:40] = 20 * DAY
    edges["user_agent"][1][:40] = 0
    acc["cap_any"][:40] = 0.8 * 502
    assert len(cohort_links(acc, edges, DetectConfig())[0]) == 0


def test_campaign_strength_is_the_median_member_tie():
    labels = np.array([0, 0, 0, 0, 4, 4])
    support = np.array([1e-8, 1e-4, 1.0, 1.0, 1e-3, 1e-5])
    strength, share = campaign_strength(labels, support)
    # lower median of (8, 4, 0, 0) is 0: a campaign half of whose members are not tied in is weak
    assert strength[:4].tolist() == [0.0] * 4 and share[0] == 0.5
    assert strength[4] == pytest.approx(3.0) and share[4] == 1.0


@pytest.mark.parametrize("field,value", [("alpha", 1.5), ("cohort_fdr", -0.1), ("pair_budget", 0),
                                         ("cohort_windows_us", ()), ("cohort_windows_us", (0.0,))])
def test_link_config_rejects_bad_values(field, value):
    with pytest.raises(GuardInputError, match=f"LinkConfig.{field}"):
        LinkConfig(**{field: value})


def test_arrivals_leave_out_accounts_active_before_the_log():
    # account 0 opens the log; the first day is granted (diurnal hours). 1: first seen at hour 24,
    # already there; 2: active 120 of its 360 hours, first seen on day 5: (2/3)^96, an arrival; 3: one
    # request (no span); 4: active 10 of 240 hours, first seen on day 2: (1 - 1/24)^24 = 0.36
    cfg = DetectConfig()
    acc = {"n": np.array([10.0, 100.0, 500.0, 1.0, 30.0]),
           "first_us": np.array([0.0, 24 * HOUR, 5 * DAY, 9 * DAY, 2 * DAY]),
           "last_us": np.array([20 * DAY, 20 * DAY, 20 * DAY, 9 * DAY, 12 * DAY]),
           "active_hours": np.array([100.0, 24.0, 120.0, 1.0, 10.0])}
    t, new = arrivals(acc, cfg)
    assert new.tolist() == [False, False, True, False, False]
    # a threshold check: account 4 first seen on day 4 instead is (1 - 1/24)^72 = 0.047: an arrival
    acc4 = dict(acc, first_us=np.array([0.0, 24 * HOUR, 5 * DAY, 9 * DAY, 4 * DAY]))
    assert arrivals(acc4, cfg)[1].tolist() == [False, False, True, False, True]
    assert t.tolist() == acc["first_us"].tolist()
    # with an account-creation time, the creation time is the arrival; accounts without one (null in
    # the column) are judged by their first request as before
    acc["created_us"] = np.array([-DAY, np.nan, 4 * DAY, 8 * DAY, np.nan])
    t, new = arrivals(acc, cfg)
    assert new.tolist() == [True, False, True, True, False]
    assert t.tolist() == [-DAY, 24 * HOUR, 4 * DAY, 8 * DAY, 2 * DAY]


def test_null_links_join_free_accounts_only():
    """A null-model link never bridges an account into a cluster the key rules already formed (a
    common source such as a public prompt library is not coordination): with ``free`` marking the
    accounts the key rules link to nobody, only links between free accounts remain."""
    from stillwatch.guard.score.nullmodel import NullLinks

    nl = NullLinks(pair_a=np.array([0, 2]), pair_b=np.array([1, 3]), pair_p=np.array([1e-9, 1e-9]),
                   cohort_a=np.array([3, 4, 5]), cohort_key=np.array([7, 7, 7]), cohort_p=np.full(3, 1e-9))
    free = np.array([True, True, False, True, True, True])  # account 2 is in a content-linked campaign
    ea, ek = nl.graph(6, free)
    labels = cluster.components(6, ea, ek)
    assert labels[0] == labels[1] and labels[2] == 2  # pair (2, 3) dropped: 2 is not free
    assert labels[3] == labels[4] == labels[5] != labels[0]
    ea, ek = nl.graph(6)  # without ``free`` every link stands
    assert len(set(cluster.components(6, ea, ek).tolist())) == 2


def test_tier_scan_skips_tiers_without_items_and_handles_no_pairs():
    """``tier_scan`` evaluates only the tiers a pair has items in: one pair (accounts 0 and 1 of 2, activity 10
    each) sharing one item of tier 1 and two of tier 3 gets min(P(Poisson(100 C1) >= 1), P(Poisson(100 C3) >= 3)) —
    tier 2 (the count of tier 1, a larger mean) is never smaller; no rows give no pairs."""
    from stillwatch.guard.score.nullmodel import tier_scan

    act = np.array([10.0, 10.0])
    c_t = np.array([0.0, 1e-3, 2e-3, 5e-3])
    pairs, best, shared = tier_scan(np.array([1, 1, 1]), np.array([1, 3, 3]), c_t, act)
    want = min(stats.poisson.sf(0, 100 * 1e-3), stats.poisson.sf(1, 100 * 2e-3), stats.poisson.sf(2, 100 * 5e-3))
    assert pairs.tolist() == [1] and shared.tolist() == [3] and math.isclose(best[0], want, rel_tol=1e-12)
    pairs, best, shared = tier_scan(np.zeros(0, np.int64), np.zeros(0, np.int64), c_t, act)
    assert len(pairs) == len(best) == len(shared) == 0
