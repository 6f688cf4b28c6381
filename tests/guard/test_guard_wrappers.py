"""A wrapper's own popularity null (score/wrappers.py, issue 13): a system prompt shared by many
accounts links only the users that crowd onto addresses / cards beyond what unrelated accounts
choosing it by chance would.

Expected values come from the hypergeometric law written out with ``math.comb`` and from a naive
loop over every (wrapper, value) cell; the attacker and the benign populations are played on
hand-built logs: apps with many end users (one account each, own address), a popular default
prompt over a carrier-NAT population, a campaign wrapping everything in one scaffold from a few
datacenter addresses, inside and outside a popular default.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from stillwatch.guard.score.config import DetectConfig, LinkConfig
from stillwatch.guard.score.links import key_link_stats
from stillwatch.guard.score.wrappers import infra_edges, crowded_edges, wrapper_cells

CFG = DetectConfig()


def _tail(x: int, a: int, n: int, f: int) -> float:
    """P(X >= x), X ~ Hypergeometric(a, n, f), from the definition."""
    return sum(math.comb(n, k) * math.comb(a - n, f - k) for k in range(x, min(n, f) + 1)) / math.comb(a, f)


def _naive_tied(ea, ek, infra, a, alpha) -> np.ndarray:
    """Loop over every wrapper (>= 3 users) and every value (>= 2 accounts) of every kind."""
    users = {int(k): {int(x) for x, kk in zip(ea, ek) if kk == k} for k in set(ek.tolist())}
    kinds = []
    for acc_v, val_v in infra:
        holders = {}
        for x, v in zip(acc_v.tolist(), val_v.tolist()):
            holders.setdefault(v, set()).add(x)
        kinds.append({v: h for v, h in holders.items() if len(h) >= 2})
    tests = sum(1 for u in users.values() if len(u) >= 3) * sum(len(h) for h in kinds)
    tied = set()
    for k, u in users.items():
        if len(u) < 3:
            continue
        for holders in kinds:
            for h in holders.values():
                x = len(u & h)
                if x >= 2 and _tail(x, a, len(h), len(u)) * tests <= alpha:
                    tied |= {(acc, k) for acc in u & h}
    return np.array([(int(x), int(k)) in tied for x, k in zip(ea, ek)])


def _log(rng, a: int, nat: int, nat_users: int):
    """``a`` accounts: ``nat_users`` of them behind ``nat`` carrier-NAT addresses, the rest each on
    its own address; every account its own card. Returns the ip and payment edges."""
    ip = np.arange(a, dtype=np.int64) + 10_000
    ip[:nat_users] = rng.integers(0, nat, nat_users)
    acc = np.arange(a, dtype=np.int64)
    return [(acc, ip), (acc, acc + 50_000)]


def test_hypergeometric_tail_known_answer():
    # 3 of a wrapper's 3 users on an address 3 accounts of 100 use: 1 / C(100, 3)
    a = 100
    infra = [(np.arange(a, dtype=np.int64), np.r_[np.zeros(3), np.arange(3, a)].astype(np.int64))]
    cells, n_tests = wrapper_cells(np.arange(3), np.zeros(3, np.int64), infra, a)
    assert n_tests == 1  # one wrapper with >= 3 users x one address with >= 2 accounts
    (left, _, p), = cells
    assert left.tolist() == [0, 1, 2]
    assert p == pytest.approx(np.full(3, 1 / math.comb(100, 3)))
    assert p[0] == pytest.approx(_tail(3, 100, 3, 3))


@pytest.mark.parametrize("seed", range(4))
def test_tied_edges_match_the_naive_reference(seed):
    rng = np.random.default_rng(seed)
    a = 60
    infra = _log(rng, a, nat=4, nat_users=20)
    infra[1] = (infra[1][0], np.where(rng.random(a) < 0.2, 7, infra[1][1]))  # some share a card
    ea = rng.choice(a, 25, replace=False).astype(np.int64)
    ek = rng.integers(0, 3, 25).astype(np.int64)
    # a planted crowd: wrapper 9 on one address, so some seeds have significant cells
    ea = np.r_[ea, np.arange(40, 46)]
    ek = np.r_[ek, np.full(6, 9)]
    infra[0][1][40:46] = 999
    o = np.unique(np.stack([ek, ea], 1), axis=0)
    ek, ea = o[:, 0], o[:, 1]
    got = crowded_edges(ea, ek, infra, a, 0.05)
    assert got.tolist() == _naive_tied(ea, ek, infra, a, 0.05).tolist()
    assert got[ek == 9].all()


def test_apps_sharing_a_default_prompt_from_their_own_addresses_stay_unlinked():
    # 8 apps (one account each, thousands of end users' rows) chose one default system prompt;
    # each runs from its own address with its own card, in a log of 3,000 accounts
    rng = np.random.default_rng(1)
    a = 3000
    infra = _log(rng, a, nat=40, nat_users=1200)
    apps = np.arange(2000, 2008, dtype=np.int64)
    n = np.full(a, 5.0)
    n[apps] = rng.integers(500, 3000, 8)
    ea, ek = apps, np.full(8, 7, np.int64)
    kl = key_link_stats(ea, ek, n[apps], n, CFG, infra=infra)
    assert kl["focus"][0] >= CFG.link.full_template_share  # a wrapper
    assert not kl["links"].any()


def test_a_popular_default_over_a_nat_population_stays_unlinked():
    # 400 accounts of 3,000 (a random draw, many behind 40 carrier-NAT addresses) chose one prompt
    rng = np.random.default_rng(2)
    a = 3000
    infra = _log(rng, a, nat=40, nat_users=1500)
    users = np.sort(rng.choice(a, 400, replace=False)).astype(np.int64)
    tied = crowded_edges(users, np.zeros(400, np.int64), infra, a, CFG.link.alpha)
    assert not tied.any()


def test_a_campaign_wrapping_everything_in_one_scaffold_links():
    # 30 sybils on 3 datacenter addresses put one scaffold on every request over ordinary text;
    # 400 unrelated accounts use the same scaffold (a public template) from their own addresses
    rng = np.random.default_rng(3)
    a = 3000
    infra = _log(rng, a, nat=40, nat_users=1500)
    camp = np.arange(2500, 2530, dtype=np.int64)
    infra[0][1][camp] = 777_000 + np.arange(30) % 3
    others = rng.choice(np.arange(1500, 2500), 400, replace=False).astype(np.int64)
    users = np.r_[camp, others]
    n = np.full(a, 5.0)
    n[users] = 100.0
    kl = key_link_stats(users, np.zeros(len(users), np.int64), n[users], n, CFG, infra=infra)
    assert kl["links"][:30].all()  # the crowded sybils link through the scaffold
    assert not kl["links"][30:].any()  # the public template's other users do not
    # mutation: without the wrapper's null (the rule of the previous session) nothing links
    assert not key_link_stats(users, np.zeros(len(users), np.int64), n[users], n, CFG)["links"].any()


def test_two_crowded_users_are_not_enough_for_a_key_to_link():
    # a crowded cell of 2 users is significant, but a key links >= 3 users (the focus rule's bound)
    a = 2000
    infra = [(np.arange(a, dtype=np.int64), np.r_[[5, 5], np.arange(2, a) + 100].astype(np.int64))]
    users = np.array([0, 1, 900, 901, 902], np.int64)
    n = np.full(a, 200.0)
    tied = crowded_edges(users, np.zeros(5, np.int64), infra, a, CFG.link.alpha)
    assert tied.tolist() == [True, True, False, False, False]
    assert not key_link_stats(users, np.zeros(5, np.int64), n[users], n, CFG, infra=infra)["links"].any()


def test_wrapper_ties_are_calibrated_on_null_logs():
    # logs of unrelated accounts (NAT addresses, shared family cards), wrappers chosen at random:
    # the share of logs with any tied edge is at most alpha (binomial 99.9 % upper bound)
    alpha, runs, hits = 0.2, 150, 0
    for s in range(runs):
        rng = np.random.default_rng(100 + s)
        a = 400
        infra = _log(rng, a, nat=8, nat_users=200)
        infra[1] = (infra[1][0], np.where(rng.random(a) < 0.3, rng.integers(0, 20, a), infra[1][1]))
        ea = rng.choice(a, 120, replace=False).astype(np.int64)
        ek = rng.integers(0, 6, 120).astype(np.int64)
        hits += bool(crowded_edges(ea, ek, infra, a, alpha).any())
    from scipy.stats import binom

    assert hits <= binom.ppf(0.999, runs, alpha)


def test_infra_edges_takes_the_address_and_card_kinds():
    e = {"ip": ([0, 1], [5, 5]), "payment": ([1], [9]), "user_agent": ([0], [3])}
    got = infra_edges(e)
    assert [(x.tolist(), y.tolist()) for x, y in got] == [([0, 1], [5, 5]), ([1], [9])]
    assert LinkConfig().alpha == CFG.link.alpha


def test_hypergeometric_tail_bound_is_conservative_and_tight():
    # against the definition (math.comb) on random cells: never below the exact tail, and within
    # the documented factor 1 / (1 - r_x) above it; exact when x is the largest possible value
    from stillwatch.guard.score.wrappers import hypergeom_tail

    rng = np.random.default_rng(0)
    for _ in range(300):
        m = int(rng.integers(5, 200))
        n, f = int(rng.integers(0, m + 1)), int(rng.integers(0, m + 1))
        x = int(rng.integers(-1, min(n, f) + 3))
        exact = _tail(max(x, 0), m, n, f) if x <= min(n, f) else 0.0
        got = float(hypergeom_tail(np.array([x]), m, np.array([n]), np.array([f]))[0])
        assert got >= exact * (1 - 1e-9)
        if 0 < x <= min(n, f) and x > max(0, f + n - m):
            r = (n - x) * (f - x) / ((x + 1) * (m - n - f + x + 1))
            if r < 1:
                assert got <= exact / (1 - r) * (1 + 1e-9)
    assert hypergeom_tail(np.array([4]), 50, np.array([4]), np.array([10]))[0] == pytest.approx(
        _tail(4, 50, 4, 10), rel=1e-9)
