"""The campaign's shared infrastructure against the popularity of what it shares
(stillwatch.guard.score.infra_null): known answers worked out here with exact integer arithmetic, a
naive reference (loops over clusters and values, the hypergeometric tail summed term by term), and the
attacker and the bystander of the module's docstring."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stillwatch.guard.score.cluster import sizes
from stillwatch.guard.score.infra_null import surprising_share


def _tail(m: int, a: int, u: int, k: int) -> Fraction:
    """P(X >= m), X ~ Hypergeom(a accounts, u on the value, k drawn), summed exactly."""
    return sum((Fraction(math.comb(u, x) * math.comb(a - u, k - x), math.comb(a, k))
                for x in range(m, min(u, k) + 1)), Fraction(0))


def _naive(labels, ea, ek, alpha):
    """The module's rule written out with Python sets and loops, one cluster and one value at a time."""
    a = len(labels)
    users = {}
    for acc, key in zip(ea.tolist(), ek.tolist()):
        users.setdefault(key, set()).add(acc)
    members = {}
    for i, lab in enumerate(labels.tolist()):
        members.setdefault(lab, set()).add(i)
    share = {}
    for lab, mem in members.items():
        k = len(mem)
        if k < 2:
            share[lab] = 0.0
            continue
        values = [v for v, us in users.items() if len(us) >= 2 and us & mem]
        best = 0.0
        for v in values:
            m, u = len(users[v] & mem), len(users[v])
            if m < 2 or float(_tail(m, a, u, k)) * len(values) > alpha:
                continue
            e = k * u / a
            if k > e:  # a value every account of the log uses: nothing beyond chance
                best = max(best, min(max((m - e) / (k - e), 0.0), 1.0))
        share[lab] = best
    return np.array([share[lab] for lab in labels.tolist()])


def _run(labels, ea, ek, alpha=0.01):
    labels = np.asarray(labels, np.int64)
    return surprising_share(labels, np.asarray(ea), np.asarray(ek), sizes(labels), alpha)


def test_known_answer_private_value_of_a_cluster():
    # 200 accounts; cluster {0..4}; four of its five members on value 9, which one outsider also uses
    a = 200
    labels = np.array([0] * 5 + list(range(5, a)))
    ea, ek = np.array([0, 1, 2, 3, 150]), np.array([9, 9, 9, 9, 9])
    got = _run(labels, ea, ek)
    p = Fraction(math.comb(5, 4) * math.comb(195, 1), math.comb(200, 5))  # C(5,4) C(195,1) / C(200,5)
    assert float(p) < 1e-6
    e = 5 * 5 / 200
    assert got[:5] == pytest.approx([(4 - e) / (5 - e)] * 5)
    assert got[5:].tolist() == [0.0] * (a - 5)  # singletons: nothing shared


def test_known_answer_popular_value_counts_only_beyond_chance():
    # 1,000 accounts, 250 on user agent 1 (a quarter of the log); a cluster of 40 with 39 on it is
    # significant and keeps nearly all; one of 8 with 4 on it is what chance gives (E = 2)
    a = 1000
    labels = np.array([0] * 40 + [40] * 8 + list(range(48, a)))
    on = list(range(39)) + [40, 41, 42, 43] + list(range(500, 500 + 250 - 43))
    ea, ek = np.array(on), np.ones(len(on), np.int64)
    got = _run(labels, ea, ek)
    assert float(_tail(39, a, 250, 40)) < 1e-20 and float(_tail(4, a, 250, 8)) > 0.05
    assert got[0] == pytest.approx((39 - 10) / (40 - 10))
    assert got[40] == 0.0


def test_bonferroni_over_the_clusters_values():
    # a pair on a value 3 of 100 accounts use: P = C(3,2)C(97,0)/C(100,2) = 3/4950 ~ 6.1e-4; with
    # one value it passes alpha 1e-3, with the pair's members using two shared values it does not
    a = 100
    labels = np.array([0, 0] + list(range(2, a)))
    p = Fraction(3, 4950)
    assert float(p) == pytest.approx(float(_tail(2, a, 3, 2)))
    one = _run(labels, [0, 1, 50], [7, 7, 7], alpha=1e-3)
    assert one[0] > 0
    two = _run(labels, [0, 1, 50, 0, 60], [7, 7, 7, 8, 8], alpha=1e-3)  # value 8: member 0 and account 60
    assert two[0] == 0.0 and float(p) * 2 > 1e-3


def test_edges_repeated_and_values_of_one_account_change_nothing():
    a = 60
    labels = np.array([0, 0, 0] + list(range(3, a)))
    base = _run(labels, [0, 1, 2], [4, 4, 4])
    again = _run(labels, [0, 1, 2, 2, 1, 0, 30], [4, 4, 4, 4, 4, 4, 99])  # repeats; value 99 only account 30's
    assert base.tolist() == again.tolist() and base[0] > 0.9


def test_attacker_on_a_popular_value_keeps_only_what_chance_does_not_give():
    # the operator's 20 accounts behind a residential proxy provider's exit that 3,000 of the log's
    # 6,000 accounts use. All 20 on it is still improbable by chance (about 0.5^20) and counts; 12 of
    # 20 on it is what chance nearly gives (E = 10) and counts nothing, as it would for 20 people
    # on one carrier NAT.
    a = 6000
    labels = np.array([0] * 20 + list(range(20, a)))
    users = list(range(20)) + list(range(100, 100 + 2980))
    everyone = _run(labels, users, np.ones(len(users), np.int64))
    assert float(_tail(20, a, 3000, 20)) < 1e-6 and everyone[0] == 1.0  # (20 - 10) / (20 - 10)
    half = _run(labels, list(range(12)) + list(range(100, 100 + 2988)), np.ones(3000, np.int64))
    assert half[0] == 0.0 and float(_tail(12, a, 3000, 20)) > 0.01
    # the same 12 of 20 on a private proxy: significant, share beyond chance ~ 12 / 20
    private = _run(labels, list(range(12)), np.ones(12, np.int64))
    e = 20 * 12 / a
    assert private[0] == pytest.approx((12 - e) / (20 - e))


def test_more_unrelated_accounts_on_a_value_never_raise_the_share():
    a = 400
    labels = np.array([0] * 6 + list(range(6, a)))
    prev = 2.0
    for outsiders in (0, 5, 20, 80, 200):
        users = list(range(4)) + list(range(100, 100 + outsiders))
        s = _run(labels, users, np.zeros(len(users), np.int64))[0]
        assert s <= prev
        prev = s
    assert prev == 0.0


def test_one_member_on_a_value_is_nothing_shared():
    # a pair with one member on a value two of ten accounts use: even at alpha 1 (no gate) one member
    # shares nothing with the other
    labels = np.array([0, 0] + list(range(2, 10)))
    assert _run(labels, [0, 5], [1, 1], alpha=1.0).tolist() == [0.0] * 10


@settings(max_examples=120, deadline=None)
@given(st.integers(4, 40).flatmap(lambda a: st.tuples(
    st.just(a),
    st.lists(st.integers(0, max(1, a // 3)), min_size=a, max_size=a),
    st.lists(st.tuples(st.integers(0, a - 1), st.integers(0, 5)), max_size=3 * a),
    st.sampled_from([1.37e-4, 1.37e-2, 0.2137, 1.0]))))
def test_matches_the_naive_reference(case):
    a, cluster, uses, alpha = case  # levels no exact tail of these small logs equals (float ties)
    # each account's label is the first account of its cluster (the cluster's head)
    cluster = np.array(cluster)
    first = {c: i for i, c in reversed(list(enumerate(cluster.tolist())))}
    labels = np.array([first[c] for c in cluster.tolist()], np.int64)
    ea = np.array([u for u, _ in uses], np.int64)
    ek = np.array([k for _, k in uses], np.int64)
    got = _run(labels, ea, ek, alpha)
    assert got == pytest.approx(_naive(labels, ea, ek, alpha), abs=1e-9)
