"""exclusive.py: a cluster is cut where its accounts fall into groups using mutually exclusive popular keys
(independent operators on one public scaffold bank), and one operator's accounts, however they draw, are not.

Layers: known answers for the null means; a naive per-account loop cross-checked against the vectorised
counts (hypothesis); the tail bound checked against the exact product; planted operators recovered
exactly; the level checked over many one-operator clusters drawn from the null; the attacker's moves
(labels only refined, no randomness, key labels and edge order irrelevant); the config's validation.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binom

from stillwatch.core.stats import poisson_lower_log
from stillwatch.errors import GuardInputError
from stillwatch.guard.score.bridge import canonical_edges
from stillwatch.guard.score.config import DetectConfig, SplitConfig
from stillwatch.guard.score.exclusive import (anchors_partition, co_use_null, cut_tree, exclusive_pairs, own_key_count,
                                              split_by_exclusive_keys, use_matrix, use_probabilities)
from stillwatch.guard.score.links import _apply_split

CFG = DetectConfig()


def _matrix(rows: list[list[int]], nk: int):
    ai = np.array([i for i, r in enumerate(rows) for _ in r], np.int64)
    ki = np.array([k for r in rows for k in r], np.int64)
    return use_matrix(len(rows), nk, ai, ki)


def test_null_means_known_answer():
    # 4 accounts on 3 keys, each account on 2: key 0 used by all four (p = 1), key 1 by accounts 0-1, key 2
    # by 2-3: 4 (1 - exp(-2 theta)) = 2 gives exp(-2 theta) = 1/2, p = 1/2; mu_12 = 4 (1/2)^2 = 1,
    # mu_01 = 4 (1)(1/2) = 2, mu_00 = 4
    x = _matrix([[0, 1], [0, 1], [0, 2], [0, 2]], 3)
    c, mu = co_use_null(x, np.array([0, 1, 2]))
    assert c.tolist() == [[4, 2, 2], [2, 2, 0], [2, 0, 2]]
    assert mu == pytest.approx(np.array([[4.0, 2, 2], [2, 1, 1], [2, 1, 1]]))


def test_use_probabilities_meet_the_observed_users():
    # degrees 1, 3 and 10 held by 5, 3 and 2 accounts; keys used by 0, 1, 4, 9.5 and 10 accounts
    deg, n_deg = np.array([1, 3, 10]), np.array([5, 3, 2])
    users = np.array([0.0, 1.0, 4.0, 9.5, 10.0])
    p = use_probabilities(deg, n_deg, users)
    assert (n_deg[:, None] * p).sum(axis=0) == pytest.approx(users, abs=1e-9)
    assert p[:, -1].tolist() == [1.0, 1.0, 1.0]
    # the form 1 - exp(-theta d): one theta per key reproduces every degree's p
    theta = -np.log1p(-p[0, 1:4])
    assert p[:, 1:4] == pytest.approx(-np.expm1(-np.outer(deg, theta)), rel=1e-9)


def _naive(rows: list[list[int]], nk: int, popular: list[int]):
    """C and mu by the definition: theta by bisection per key, then a loop over accounts and key pairs."""
    n = len(rows)
    users = [sum(k in r for r in rows) for k in range(nk)]
    theta = {}
    for k in popular:
        if users[k] >= n:
            theta[k] = math.inf
            continue
        lo, hi = 0.0, 1.0
        while sum(1 - math.exp(-hi * len(r)) for r in rows) < users[k]:
            hi *= 2
        for _ in range(200):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if sum(1 - math.exp(-mid * len(r)) for r in rows) < users[k] else (lo, mid)
        theta[k] = (lo + hi) / 2
    c = np.zeros((len(popular), len(popular)))
    mu = np.zeros((len(popular), len(popular)))
    for r in rows:
        for a, x in enumerate(popular):
            for b, y in enumerate(popular):
                c[a, b] += (x in r) and (y in r)
                mu[a, b] += (1 - math.exp(-theta[x] * len(r))) * (1 - math.exp(-theta[y] * len(r)))
    return c, mu


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sets(st.integers(0, 7), min_size=1, max_size=6), min_size=2, max_size=25))
def test_vectorised_counts_match_the_definition(sets):
    rows = [sorted(s) for s in sets]
    x = _matrix(rows, 8)
    popular = [k for k in range(8) if any(k in r for r in rows)]
    c, mu = co_use_null(x, np.array(popular))
    c0, mu0 = _naive(rows, 8, popular)
    assert c == pytest.approx(c0)
    assert mu == pytest.approx(mu0, rel=1e-7, abs=1e-9)


@pytest.mark.parametrize("c, mu", [(0, 0.5), (0, 900.0), (1, 10.0), (2, 24.5), (3, 140.0), (12, 13.0)])
def test_poisson_lower_log_matches_the_sum_of_the_mass(c, mu):
    # the definition, summed in log space: ln sum_j<=c exp(-mu + j ln mu - ln j!)
    terms = [-mu + j * math.log(mu) - math.lgamma(j + 1) for j in range(c + 1)]
    top = max(terms)
    want = top + math.log(sum(math.exp(t - top) for t in terms))
    assert float(poisson_lower_log(c, mu)) == pytest.approx(want, rel=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=40))
def test_the_poisson_bound_holds_at_zero(p):
    # P(no account uses both keys) = prod (1 - p_i) <= exp(-sum p_i), the tail the test charges at C = 0
    exact = float(np.prod(1.0 - np.asarray(p)))
    assert exact <= math.exp(-sum(p)) + 1e-15


def _operators(rng, sizes, *, own=6, shared=5, tasks=30, rows=32, first=0):
    """Operators of one family (written here, apart from the simulator): operator ``o`` sends its accounts'
    rows through ``own`` scaffolds of its own and ``shared`` scaffolds every operator also picked from the
    public bank (uniform over the operator's scaffolds), each row's task from a public bank of ``tasks``
    keys (popularity 1/rank). Distinct (account, key) pairs; accounts numbered from ``first``."""
    ea, ek = [], []
    tw = 1.0 / np.arange(1, tasks + 1)
    acc = first
    for o, n in enumerate(sizes):
        pool = np.concatenate([100 + o * own + np.arange(own), 50 + np.arange(shared)])
        for _ in range(n):
            sc = rng.choice(pool, size=rows)
            tk = 1_000 + rng.choice(tasks, size=rows, p=tw / tw.sum())
            keys = np.unique(np.concatenate([sc, tk]))
            ea += [acc] * len(keys)
            ek += keys.tolist()
            acc += 1
    return np.array(ea, np.int64), np.array(ek, np.int64)


def _expected(sizes, first=0):
    out, start = [], first
    for n in sizes:
        out += [start] * n
        start += n
    return out


@pytest.mark.parametrize("sizes", [[30, 40], [42, 59], [42, 59, 72], [60, 60, 60, 60]])
def test_operators_sharing_most_of_their_scaffolds_are_cut_apart(sizes):
    rng = np.random.default_rng(1)
    ea, ek = _operators(rng, sizes)
    labels = np.zeros(sum(sizes), np.int64)
    out = _apply_split(labels, split_by_exclusive_keys(labels, ea, ek, CFG), CFG)
    assert out.tolist() == _expected(sizes)


def _one_operator(rng, n, *, keys=25, rows_lo=3, rows_hi=40, zipf=1.0):
    """One operator's cluster drawn from the null: each account sends a heavy-tailed number of rows, each
    row through a key drawn from one pool by popularity 1/rank^zipf; the account's distinct keys."""
    w = 1.0 / np.arange(1, keys + 1) ** zipf
    ea, ek = [], []
    for i in range(n):
        k = np.unique(rng.choice(keys, size=int(rng.integers(rows_lo, rows_hi + 1)), p=w / w.sum()))
        ea += [i] * len(k)
        ek += k.tolist()
    return np.array(ea, np.int64), np.array(ek, np.int64)


def test_one_operator_clusters_are_not_cut_beyond_the_level():
    """The level over 300 one-operator clusters of several shapes (light and heavy accounts, flat and steep
    key popularity): the rule's alpha is 0.01 per log, each cluster a log of its own here, so at most
    binom.ppf(0.999, 300, 0.01) = 9 cut clusters; in practice none (the floor)."""
    rng = np.random.default_rng(7)
    cut = 0
    for t in range(300):
        n = int(rng.choice([30, 80, 200]))
        ea, ek = _one_operator(rng, n, keys=int(rng.choice([12, 25, 60])), rows_lo=2,
                               rows_hi=int(rng.choice([10, 40, 200])), zipf=float(rng.choice([0.0, 1.0, 1.5])))
        labels = np.zeros(n, np.int64)
        cut += int(len(np.unique(split_by_exclusive_keys(labels, ea, ek, CFG))) > 1)
    assert cut <= binom.ppf(0.999, 300, 0.01)
    assert cut == 0


def test_one_operator_dealing_template_pairs_round_a_ring_stays_whole():
    # account i on templates i and i + 1 mod 5: templates 0 and 2 are never sent together (an exclusive
    # pair, mu = 80 (1 - 0.8^2)^2 = 10.4), but no side of any cut has a template of its own sent by most of
    # it: the operator's deal, not two operators
    ea = np.repeat(np.arange(80), 2)
    ek = np.array([(i + j) % 5 for i in range(80) for j in (0, 1)], np.int64)
    x = use_matrix(*canonical_edges(ea, ek))
    assert len(exclusive_pairs(x, 3, 0.1, 10.0, 1.0)[0]) > 0
    labels = np.zeros(80, np.int64)
    assert split_by_exclusive_keys(labels, ea, ek, CFG).tolist() == [0] * 80


def test_one_operator_whose_template_mix_drifts_while_its_accounts_stay_active_is_not_cut():
    """One operator replaces its scaffolds one by one over its run (scaffold j in use from step j to step j + 8 of
    24), every account active throughout: old and new scaffolds share users, so no pair is exclusive. (Accounts of
    different generations on disjoint sets would be cut: by the rule's own account, several operators.)"""
    rng = np.random.default_rng(11)
    ea, ek = [], []
    for i in range(90):
        steps = rng.integers(0, 24, 40)  # the account's 40 requests spread over the whole run
        keys = np.unique(steps + rng.integers(0, 9, 40))  # the scaffold in use at each request's step
        ea += [i] * len(keys)
        ek += keys.tolist()
    labels = np.zeros(90, np.int64)
    assert split_by_exclusive_keys(labels, np.array(ea), np.array(ek), CFG).tolist() == [0] * 90
    # the control: the first 45 accounts active in steps 0-7 only, the others in steps 16-23 only
    ea, ek = [], []
    for i in range(90):
        steps = rng.integers(0, 8, 40) + (16 if i >= 45 else 0)
        keys = np.unique(steps + rng.integers(0, 9, 40))
        ea += [i] * len(keys)
        ek += keys.tolist()
    assert split_by_exclusive_keys(labels, np.array(ea), np.array(ek), CFG).tolist() == [0] * 45 + [45] * 45


def test_own_key_count_known_answer():
    # part 0 = accounts 0-2: keys 0 (3 of 3) and 3 (1 of 3) only in it; part 1 = accounts 3-4: key 2 (1 of 2) only
    # in it; key 1 is used in both parts
    x = _matrix([[0, 1, 3], [0], [0, 1], [1, 2], [1]], 4)
    part = np.array([0, 0, 0, 1, 1])
    assert own_key_count(x, part, 0.3) == 1  # part 0: keys 0 and 3 (1/3 >= 0.3); part 1: key 2 (1/2)
    assert own_key_count(x, part, 0.6) == 0  # part 1 has no key used by 60 % of it
    # three parts: part 2 = account 4 alone, whose only key (1) is used elsewhere: no own key
    assert own_key_count(x, np.array([0, 0, 0, 1, 2]), 0.1) == 0


def test_one_operator_giving_each_account_one_of_three_personas_is_not_cut():
    """One operator, one scaffold pool, and a per-account choice among three persona openers (260, 22 and 20
    accounts): the personas are mutually exclusive keys (exclusive pairs), but each group has one key of its own,
    not an operator's several scaffolds: one campaign (the demo's 300-account campaign, cut in three before the
    own-key count)."""
    rng = np.random.default_rng(4)
    ea, ek = _one_operator(rng, 302, keys=30, rows_lo=6, rows_hi=12)
    persona = np.repeat([0, 1, 2], [260, 22, 20])
    ea = np.concatenate([ea, np.arange(302)])
    ek = np.concatenate([ek, 900 + persona])
    x = use_matrix(*canonical_edges(ea, ek))
    assert len(exclusive_pairs(x, 15.1, 0.1, 10.0, 1.0)[0]) > 0  # the personas are exclusive pairs
    assert split_by_exclusive_keys(np.zeros(302, np.int64), ea, ek, CFG).tolist() == [0] * 302


def test_anchors_partition_known_answer():
    # anchors in order 5, 0, 1: key 5 (accounts 0, 1) seeds part 0; key 0 (accounts 0, 2) shares account 0
    # with it and seeds nothing; key 1 (accounts 3, 4) seeds part 1. Account 2 (keys 0, 2) fits part 0
    # (u = 1 of 2 seeds on key 0: ln(1.5/3) against part 1's ln(0.5/3)); account 5 (key 3) fits part 1
    x = _matrix([[0, 5, 2], [5, 2], [0, 2], [1, 3], [1, 3], [3]], 6)
    assert anchors_partition(x, np.array([5, 0, 1])).tolist() == [0, 0, 0, 1, 1, 1]
    assert anchors_partition(x, np.array([5, 0])).tolist() == [0] * 6  # one seed: no cut


def test_the_rule_only_refines_clusters_and_ignores_key_labels_and_edge_order():
    """The attacker cannot use the rule to pull an account into another cluster, and engines that label
    keys differently or list edges in another order get the same cut."""
    rng = np.random.default_rng(3)
    ea, ek = _operators(rng, [40, 50])
    ea2, ek2 = _operators(rng, [30], first=90)
    ea, ek = np.concatenate([ea, ea2]), np.concatenate([ek, ek2 + 7])
    labels = np.array([0] * 90 + [90] * 30, np.int64)
    out = split_by_exclusive_keys(labels, ea, ek, CFG)
    for c in np.unique(out):
        assert len(np.unique(labels[out == c])) == 1  # each part lies inside one input cluster
    assert out[:90].tolist() == _expected([40, 50]) and out[90:].tolist() == [90] * 30
    perm = rng.permutation(len(ea))
    relabel = (ek * 7919 + 13) % 1_000_003
    assert split_by_exclusive_keys(labels, ea[perm], relabel[perm], CFG).tolist() == out.tolist()


def test_a_cluster_cut_into_more_than_max_parts_stays_whole():
    rng = np.random.default_rng(5)
    ea, ek = _operators(rng, [60, 60, 60, 60])
    x = use_matrix(*canonical_edges(ea, ek))
    assert np.bincount(cut_tree(x, CFG, 0.01, 12)).tolist() == [60, 60, 60, 60]
    assert cut_tree(x, DetectConfig(split=SplitConfig(max_parts=3)), 0.01, 12).tolist() == [0] * 240


def test_a_scan_cuts_two_operators_on_mostly_the_same_public_scaffolds(tmp_path, monkeypatch):
    """End to end on DuckDB: the pipeline log's people and campaigns plus two operators sharing eight of their ten
    scaffolds (``_fixtures_exclusive``): two campaigns, every operator account flagged in its own; with the rule
    switched off (the proposal returned unchanged) the two are one campaign — the rule is what cuts them."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from _fixtures_exclusive import exclusive_rows
    from _fixtures_pipeline import make_log

    import stillwatch.guard.score.links as links
    from stillwatch.guard.batch.scan import scan

    base, _ = make_log(seed=11, n_human=15, camp_a=6, camp_b=5)
    ex, ex_labels = exclusive_rows(base.schema)
    pq.write_table(pa.concat_tables([base, ex]), tmp_path / "log.parquet")
    f = scan(tmp_path / "log.parquet")
    for op in ("X", "Y"):
        members = [f.account(a) for a, c in ex_labels.items() if c == "E" + op]
        assert {m.campaign_id for m in members} == {f"campaign-ex-{op.lower()}-00"} and all(m.flagged for m in members)
    monkeypatch.setattr(links, "split_by_exclusive_keys", lambda labels, ea, ek, cfg: labels)
    f = scan(tmp_path / "log.parquet")
    assert {f.account(a).campaign_id for a in ex_labels} == {"campaign-ex-x-00"}


def test_the_cut_tree_spends_at_most_its_level(monkeypatch):
    """Every test the tree makes, recorded: levels by depth (breadth first), summing to <= the cluster's alpha,
    on a cluster cut into four at its root (four parts at depth 1: each at alpha / 4 / 4)."""
    import stillwatch.guard.score.exclusive as ex

    seen = []
    real = ex.exclusive_pairs

    def spy(x, min_users, share, min_expected, alpha):
        seen.append(alpha)
        return real(x, min_users, share, min_expected, alpha)

    monkeypatch.setattr(ex, "exclusive_pairs", spy)
    ea, ek = _operators(np.random.default_rng(5), [60, 60, 60, 60])
    x = use_matrix(*canonical_edges(ea, ek))
    assert np.bincount(cut_tree(x, CFG, 0.01, 12)).tolist() == [60, 60, 60, 60]
    assert seen == pytest.approx([0.005] + [0.01 / 4 / 4] * 4)
    assert sum(seen) <= 0.01


@pytest.mark.parametrize("kw, field", [({"exclusive_share": 1.0}, "exclusive_share"),
                                       ({"exclusive_min_expected": 1.05}, "exclusive_min_expected"),
                                       ({"exclusive_own": 1.5}, "exclusive_own"),
                                       ({"exclusive_own_keys": 0}, "exclusive_own_keys"),
                                       ({"exclusive_key_share": -0.1}, "exclusive_key_share")])
def test_config_names_the_field_and_its_range(kw, field):
    with pytest.raises(GuardInputError, match=field):
        SplitConfig(**kw)
