"""links.py's split and merge functions on hand-built clusters.

Each expected labelling is written out from the documented rule (labels are the smallest member's
index), not computed by the code under test: which communities are *large* (>= 3 accounts), whether
they cover >= 80 % of the cluster, how many parts there are, whether two parts send the same content,
whether workload levels are far enough apart.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from stillwatch.guard.score import cluster as _cluster
from stillwatch.guard.score.config import DetectConfig, SplitConfig
from stillwatch.guard.score.links import (
    merge_same_content,
    size_evidence,
    split_by_content,
    split_by_infrastructure,
    split_by_workload,
)

CFG = DetectConfig()


def _ip_edges(groups: list[tuple[int, int, int]]) -> dict:
    """``groups``: (first account, number of accounts, ip key): those accounts share that address."""
    ea = np.concatenate([np.arange(s, s + n) for s, n, _ in groups]).astype(np.int64)
    ek = np.concatenate([np.full(n, k) for _, n, k in groups]).astype(np.int64)
    return {"ip": (ea, ek)}


def test_size_evidence_known_values():
    ev = size_evidence(np.array([1, 2, 3, 32, 1000, 5000]), CFG)
    assert ev.tolist() == pytest.approx([0.0, 0.0, math.log(2) / math.log(999), math.log(31) / math.log(999), 1.0, 1.0])


def test_infrastructure_splits_two_large_communities():
    labels = np.zeros(12, np.int64)
    got = split_by_infrastructure(labels, _ip_edges([(0, 6, 100), (6, 6, 200)]), CFG)
    assert got.tolist() == [0] * 6 + [6] * 6


def test_small_communities_join_the_largest_part():
    # 7 + 5 large, 2 on their own address: the large parts cover 12/14 >= 0.8; the pair joins the
    # largest part (7 accounts, labelled 0)
    labels = np.zeros(14, np.int64)
    got = split_by_infrastructure(labels, _ip_edges([(0, 7, 100), (7, 5, 200), (12, 2, 300)]), CFG)
    assert got.tolist() == [0] * 7 + [7] * 5 + [0] * 2


def test_no_split_when_large_parts_cover_too_little():
    # 6 + 6 of 16 accounts (four share no address): 12/16 = 0.75 < 0.8
    labels = np.zeros(16, np.int64)
    got = split_by_infrastructure(labels, _ip_edges([(0, 6, 100), (6, 6, 200)]), CFG)
    assert got.tolist() == [0] * 16


def test_no_split_into_more_than_max_parts():
    # 21 address communities of 3: one campaign rotating through proxies stays whole
    labels = np.zeros(63, np.int64)
    edges = _ip_edges([(3 * i, 3, 1000 + i) for i in range(21)])
    assert split_by_infrastructure(labels, edges, CFG).tolist() == [0] * 63
    # with max_parts raised to 21 the same cluster splits into its 21 parts
    wide = DetectConfig(split=SplitConfig(max_parts=21))
    assert split_by_infrastructure(labels, edges, wide).tolist() == [3 * (i // 3) for i in range(63)]


def test_only_the_cluster_with_the_communities_splits():
    # two clusters: 0..11 (two address communities) and 12..19 (one address): only the first splits
    labels = np.array([0] * 12 + [12] * 8, np.int64)
    got = split_by_infrastructure(labels, _ip_edges([(0, 6, 100), (6, 6, 200), (12, 8, 300)]), CFG)
    assert got.tolist() == [0] * 6 + [6] * 6 + [12] * 8


def _content(rows: list[tuple[int, int, float]]):
    ea, ek, w = zip(*rows)
    return np.array(ea, np.int64), np.array(ek, np.int64), np.array(w, np.float64)


def test_merge_same_content_joins_parts_with_the_same_mix():
    labels = np.zeros(12, np.int64)
    sub = np.array([0] * 6 + [6] * 6, np.int64)
    # every account sends keys 1 and 2 in the ratio 3:1 -> both parts' mixes have cosine 1
    same = _content([(i, 1, 3.0) for i in range(12)] + [(i, 2, 1.0) for i in range(12)])
    assert merge_same_content(labels, sub, *same, CFG).tolist() == [0] * 12
    # part A sends key 1, part B key 2: cosine 0, the parts stay apart
    apart = _content([(i, 1, 1.0) for i in range(6)] + [(i, 2, 1.0) for i in range(6, 12)])
    assert merge_same_content(labels, sub, *apart, CFG).tolist() == sub.tolist()
    # mixes (3, 1) and (1, 3): cosine 6/10 = 0.6 < 0.8 -> apart
    mixed = _content([(i, 1, 3.0) for i in range(6)] + [(i, 2, 1.0) for i in range(6)]
                     + [(i, 1, 1.0) for i in range(6, 12)] + [(i, 2, 3.0) for i in range(6, 12)])
    assert merge_same_content(labels, sub, *mixed, CFG).tolist() == sub.tolist()
    # the same two mixes with the threshold lowered to 0.6 are one workload
    low = DetectConfig(split=SplitConfig(same_content=0.6))
    assert merge_same_content(labels, sub, *mixed, low).tolist() == [0] * 12


def test_merge_never_joins_parts_of_different_clusters():
    labels = np.array([0] * 6 + [6] * 6, np.int64)
    sub = labels.copy()
    same = _content([(i, 1, 1.0) for i in range(12)])
    assert merge_same_content(labels, sub, *same, CFG).tolist() == sub.tolist()


def test_infrastructure_split_is_undone_for_one_workload():
    labels = np.zeros(12, np.int64)
    edges = _ip_edges([(0, 6, 100), (6, 6, 200)])
    same = _content([(i, 1, 1.0) for i in range(12)])
    assert split_by_infrastructure(labels, edges, CFG, content=same).tolist() == [0] * 12
    apart = _content([(i, 1, 1.0) for i in range(6)] + [(i, 2, 1.0) for i in range(6, 12)])
    assert split_by_infrastructure(labels, edges, CFG, content=apart).tolist() == [0] * 6 + [6] * 6


def test_content_split_along_two_communities_joined_by_a_weak_bridge():
    # accounts 0..4 send keys 10, 11 (weight 10 each), accounts 5..9 keys 20, 21; all ten send the
    # public key 99 once: each community keeps 20/21 >= 0.7 of its weight on its own keys
    rows = [(i, k, 10.0) for i in range(5) for k in (10, 11)] + [(i, k, 10.0) for i in range(5, 10) for k in (20, 21)]
    rows += [(i, 99, 1.0) for i in range(10)]
    labels = np.zeros(10, np.int64)
    assert split_by_content(labels, *_content(rows), CFG).tolist() == [0] * 5 + [5] * 5


def test_content_does_not_split_one_campaign_on_one_scaffold_set():
    rows = [(i, k, 5.0) for i in range(10) for k in (1, 2, 3, 4)]
    labels = np.zeros(10, np.int64)
    assert split_by_content(labels, *_content(rows), CFG).tolist() == [0] * 10


def test_content_split_of_operators_relaying_one_pool_beside_their_own_harvests():
    # three resellers of 5 accounts: each its own harvest key (weight 10 a account) and three customers'
    # keys that all fifteen hold (weight 3 each: 9 a account). On plain weight shares each community
    # keeps 10/19 = 0.53 < 0.7 on its own key and the three stay merged; the customers' keys are held by
    # every community alike (5 of their 15 users in the one each is labelled with: < half), so they
    # are neutral and each reseller owns all of what is left
    rows = [(i, 100 + i // 5, 10.0) for i in range(15)] + [(i, k, 3.0) for i in range(15) for k in (7, 8, 9)]
    labels = np.zeros(15, np.int64)
    assert split_by_content(labels, *_content(rows), CFG).tolist() == [0] * 5 + [5] * 5 + [10] * 5
    # the same with the old reading (every key counted) keeps them together
    every = DetectConfig(split=SplitConfig(own_key_share=0.0))
    assert split_by_content(labels, *_content(rows), every).tolist() == [0] * 15


def test_content_does_not_split_off_a_fragment_whose_weight_is_on_its_siblings_key():
    # one campaign of ten accounts: all send its boilerplate key 20 (weight 6), half a variant key 10,
    # half a variant 11 (weight 10). Label propagation finds the two halves and gives key 20 to the
    # first; it holds half of the key's users, so it owns it, and the second half keeps only 50 / 80 =
    # 0.625 < 0.7 of its weight on keys of its own: not split off (with the sibling's key neutral it
    # would be: 50 / 50)
    rows = [(i, 20, 6.0) for i in range(10)] + [(i, 10, 10.0) for i in range(5)] + [(i, 11, 10.0) for i in range(5, 10)]
    labels = np.zeros(10, np.int64)
    assert split_by_content(labels, *_content(rows), CFG).tolist() == [0] * 10
    sub = _cluster.label_propagation(10, *_content(rows))
    assert len(set(sub.tolist())) == 2  # the halves are found: cohesion is what keeps them together


def _levels(*pools: tuple[int, int]) -> np.ndarray:
    return np.concatenate([np.full(n, v, np.float64) for n, v in pools])


def test_workload_levels_split_a_scripted_cluster():
    n = _levels((10, 20), (10, 400))  # ln 20 = 3.0 vs ln 400 = 6.0: far apart, ratio 20, lower >= 5
    labels = np.zeros(20, np.int64)
    assert split_by_workload(labels, n, CFG, np.ones(20)).tolist() == [0] * 10 + [10] * 10


def test_workload_levels_three_pools_in_two_rounds():
    n = _levels((10, 10), (10, 100), (10, 1000))
    labels = np.zeros(30, np.int64)
    assert split_by_workload(labels, n, CFG, np.ones(30)).tolist() == [0] * 10 + [10] * 10 + [20] * 10
    # one round makes one cut: two parts, each pool kept whole (which side the middle pool joins is
    # the EM refinement's choice between two equally good cuts)
    one = split_by_workload(labels, n, CFG, np.ones(30), rounds=1).tolist()
    assert one in ([0] * 10 + [10] * 20, [0] * 20 + [20] * 10)


@pytest.mark.parametrize("n,share,why", [
    (_levels((10, 20), (10, 400)), 0.1, "not scripted (median share 0.1 < scripted_full 0.5)"),
    (_levels((10, 20), (10, 30)), 1.0, "levels differ by 1.5x < 2x"),
    (_levels((10, 2), (10, 40)), 1.0, "lower level below 5 requests per account"),
    (_levels((2, 20), (18, 400)), 1.0, "a level of 2 accounts is not a group"),
    (np.round(np.exp(np.linspace(np.log(50), np.log(800), 20))), 1.0, "one even spread, no two levels"),
])
def test_workload_levels_do_not_split(n, share, why):
    labels = np.zeros(len(n), np.int64)
    assert split_by_workload(labels, n, CFG, np.full(len(n), share)).tolist() == [0] * len(n), why


def test_join_address_cohorts_joins_only_address_groups_held_by_cells():
    """links.join_address_cohorts, on labels written out by hand. Clusters: 0-2 and 3-5 are address groups of
    machine-paced accounts with every member in cell 100 (joined); 6-8 is machine-paced but one member sends a
    linking content key (never joined); 9-11 has one member in the cell (a minority: not held); 12-14 is held by
    cell 100 but human-paced (not joined); 15-17 is held by cell 200 (a cell of its own: stays one group)."""
    from stillwatch.guard.score.links import join_address_cohorts

    labels = np.repeat([0, 3, 6, 9, 12, 15], 3)
    paced = np.ones(18, bool)
    paced[12:15] = False
    content_ea = np.array([7])
    cohort_a = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 14, 15, 16, 17])
    cohort_key = np.array([100] * 11 + [100, 100, 200, 200, 200])
    out = join_address_cohorts(labels, content_ea, paced, (cohort_a, cohort_key, np.zeros(len(cohort_a))))
    assert out.tolist() == [0] * 6 + [6] * 3 + [9] * 3 + [12] * 3 + [15] * 3
    # no cells: nothing changes
    none = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    assert join_address_cohorts(labels, content_ea, paced, none).tolist() == labels.tolist()
    # labels need not name a member: the two held groups (labels 5 and 7) join and stay apart from the cluster
    # labelled 0 (accounts 6-8, one on content), whose label is the joined groups' smallest account
    other = np.repeat([5, 7, 0], 3)
    out = join_address_cohorts(other, content_ea, paced[:9], (cohort_a[:9], cohort_key[:9], np.zeros(9)))
    assert out.tolist() == [0] * 6 + [6] * 3
    # ... nor be as large as the account of their own number: a group of 2 labelled 5 (account 5 sits in a
    # cluster of 3) is held like any group
    other = np.array([5, 5, 7, 7, 7, 0, 0, 0])
    out = join_address_cohorts(other, np.array([6]), np.ones(8, bool), (np.arange(8), np.full(8, 100), np.zeros(8)))
    assert out.tolist() == [0] * 5 + [5] * 3


def _proxy_pool_world(rng, spread: bool):
    """800 background accounts arriving over 20 days on four user agents (40 % capability-focused, 5 %
    machine-paced), three long-standing ones at the log's start; a machine-paced proxy pool of four address groups
    of 10 on user agent 0, capability-focused, switched on within one hour of day 9 — or, with ``spread``, started
    at random times over the 20 days as the background is; and two machine-paced integrations of 3 accounts each (a
    firm's two NATs) arriving at random. Labels: the four groups, the two integrations, everyone else alone."""
    day, hour = 86_400e6, 3_600e6
    n_bg, n_pool = 800, 40
    n = n_bg + n_pool
    first = rng.uniform(1, 20, n) * day
    if not spread:
        first[n_bg:] = 9 * day + rng.uniform(0, hour, n_pool)
    first[:3] = 0.0
    cnt = rng.integers(20, 41, n).astype(np.float64)
    ua = np.concatenate([rng.integers(0, 4, n_bg), np.zeros(n_pool, np.int64)])
    cap = np.concatenate([rng.random(n_bg) < 0.4, np.ones(n_pool, bool)])
    paced = np.concatenate([rng.random(n_bg) < 0.05, np.ones(n_pool, bool)])
    paced[10:16] = True
    acc = {"n": cnt, "first_us": first, "last_us": first + 2 * day, "cap_any": np.where(cap, 0.8, 0.05) * (cnt + 2.0)}
    labels = np.arange(n, dtype=np.int64)
    labels[n_bg:] = n_bg + np.repeat(np.arange(4), 10) * 10
    labels[10:13], labels[13:16] = 10, 13
    return acc, {"user_agent": (np.arange(n), ua)}, paced, labels


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_join_address_cohorts_plays_the_proxy_operator(seed):
    """The attacker of join_address_cohorts' docstring, end to end through cohort_links with pacing in the class:
    a pool switched on together is one cluster; the same pool started as the population starts stays four groups
    (to stay apart the operator must spread its starts); the firm's two machine-paced integrations arriving at
    random are never joined, and no background account moves."""
    from stillwatch.guard.score.links import join_address_cohorts
    from stillwatch.guard.score.nullmodel import cohort_links

    none = np.zeros(0, np.int64)
    for spread in (False, True):
        acc, edges, paced, labels = _proxy_pool_world(np.random.default_rng(seed), spread)
        out = join_address_cohorts(labels, none, paced, cohort_links(acc, edges, CFG, paced))
        pool = out[800:]
        if spread:
            assert pool.tolist() == labels[800:].tolist(), seed
        else:
            assert (pool == 800).all(), seed
        assert out[:800].tolist() == labels[:800].tolist(), seed
