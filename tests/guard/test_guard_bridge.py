"""bridge.py: a cluster held together by one shared item is split when the rest of its links fall into
large parts beyond what degree-preserving rewiring (one operator) gives.

Expected labellings are written out from the documented rule (labels are the smallest member's index);
the rewiring p-values are checked against an independent count (components by union-find, written here).
"""

from __future__ import annotations

import numpy as np
import pytest

from stillwatch.guard.score.bridge import SEED, rewiring_p, split_by_bridge
from stillwatch.guard.score.config import DetectConfig
from stillwatch.guard.score.links import _apply_split

CFG = DetectConfig()
SHARED = 10_000  # the shared item's key


def _group(rng, first: int, n: int, keys: np.ndarray, per: int) -> tuple[list[int], list[int]]:
    """``n`` accounts from ``first``, each on ``per`` distinct keys drawn from ``keys``."""
    ea, ek = [], []
    for i in range(first, first + n):
        for k in rng.choice(keys, size=per, replace=False):
            ea.append(i)
            ek.append(int(k))
    return ea, ek


def _with_shared(ea: list[int], ek: list[int], users: range) -> tuple[np.ndarray, np.ndarray]:
    return (np.array(ea + list(users), np.int64), np.array(ek + [SHARED] * len(users), np.int64))


def _uf_second_largest(n: int, ea: np.ndarray, ek: np.ndarray) -> int:
    """Second-largest part by union-find over accounts sharing a key (independent of cluster.py)."""
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    seen: dict[int, int] = {}
    for a, k in zip(ea.tolist(), ek.tolist()):
        if k in seen:
            ra, rb = find(a), find(seen[k])
            if ra != rb:
                parent[ra] = rb
        else:
            seen[k] = a
    sizes = sorted(np.bincount([find(i) for i in range(n)], minlength=n).tolist())
    return sizes[-2]


def _splitmix(x: int) -> int:
    """splitmix64's finaliser of x + golden gamma, in Python integers (Steele, Lea & Flood 2014)."""
    m = (1 << 64) - 1
    z = (x + 0x9E3779B97F4A7C15) & m
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
    return z ^ (z >> 31)


def _p_by_hand(ea: np.ndarray, ek: np.ndarray, draws: int) -> float:
    """The documented Monte Carlo p-value, written out: canonical (account, key) order, the same seed."""
    acc = {a: i for i, a in enumerate(sorted(set(ea.tolist())))}
    first: dict[int, int] = {}
    for a, k in zip(ea.tolist(), ek.tolist()):
        first[k] = min(first.get(k, 1 << 60), acc[a])
    members: dict[int, set[int]] = {}
    for a, k in zip(ea.tolist(), ek.tolist()):
        members.setdefault(k, set()).add(acc[a])
    sig = {k: sum(_splitmix(a) for a in m) % (1 << 64) for k, m in members.items()}
    order = sorted(first, key=lambda k: (first[k], len(members[k]), sig[k], sorted(first).index(k)))
    rank = {k: r for r, k in enumerate(order)}
    pairs = sorted({(acc[a], rank[k]) for a, k in zip(ea.tolist(), ek.tolist())})
    ai = np.array([p[0] for p in pairs], np.int64)
    ki = np.array([p[1] for p in pairs], np.int64)
    obs = _uf_second_largest(len(acc), ai, ki)
    rng = np.random.default_rng(SEED)
    reach = sum(_uf_second_largest(len(acc), ai, rng.permutation(ki)) >= obs for _ in range(draws))
    return (1 + reach) / (draws + 1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rewiring_p_matches_the_documented_count(seed):
    rng = np.random.default_rng(seed)
    a1, k1 = _group(rng, 0, 12, np.arange(100, 106), 2)
    a2, k2 = _group(rng, 12, 9, np.arange(200, 204) if seed else np.arange(100, 104), 2)
    ea, ek = np.array(a1 + a2, np.int64), np.array(k1 + k2, np.int64) * 7919 + 3  # any key labels
    assert rewiring_p(ea, ek, 30) == pytest.approx(_p_by_hand(ea, ek, 30))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rewiring_draws_do_not_depend_on_the_key_labels(seed):
    """Engines hash content keys differently: relabelling the keys (any injective map) must give the
    same draws, so the same p-value, even where keys share their smallest account."""
    rng = np.random.default_rng(seed)
    a1, k1 = _group(rng, 0, 12, np.arange(100, 106), 3)
    a2, k2 = _group(rng, 12, 9, np.arange(100, 104), 2)
    ea, ek = np.array(a1 + a2, np.int64), np.array(k1 + k2, np.int64)
    keys = np.unique(ek)
    relabel = dict(zip(keys.tolist(), rng.permutation(len(keys)).tolist()))
    ek2 = np.array([relabel[k] * 104729 + 11 for k in ek.tolist()], np.int64)
    for draws in (5, 40):
        assert rewiring_p(ea, ek, draws) == rewiring_p(ea, ek2, draws)


def test_two_disjoint_groups_joined_by_one_item_are_split():
    rng = np.random.default_rng(0)
    a1, k1 = _group(rng, 0, 60, np.arange(100, 112), 2)
    a2, k2 = _group(rng, 60, 40, np.arange(200, 210), 2)
    ea, ek = _with_shared(a1 + a2, k1 + k2, range(5, 95))  # the item on 90 of 100 accounts
    labels = np.zeros(100, np.int64)
    out = _apply_split(labels, split_by_bridge(labels, ea, ek, CFG), CFG)
    assert out.tolist() == [0] * 60 + [60] * 40


def test_one_operator_mixing_its_pool_is_not_split():
    rng = np.random.default_rng(1)
    a1, k1 = _group(rng, 0, 100, np.arange(100, 122), 2)
    ea, ek = _with_shared(a1, k1, range(0, 100))
    labels = np.zeros(100, np.int64)
    assert split_by_bridge(labels, ea, ek, CFG).tolist() == [0] * 100


def test_one_operator_rotating_accounts_over_template_sets_is_not_split():
    # every account on exactly one of two templates plus the shared item: two parts once the item is
    # set aside, but rewiring keeps them (an account with one key bridges nothing): not one operator
    # rejected
    ea = list(range(100))
    ek = [100 if i < 55 else 200 for i in range(100)]
    ea, ek = _with_shared(ea, ek, range(100))
    labels = np.zeros(100, np.int64)
    assert split_by_bridge(labels, ea, ek, CFG).tolist() == [0] * 100


def test_only_the_cluster_with_the_bridge_splits_and_small_clusters_are_left():
    rng = np.random.default_rng(2)
    a1, k1 = _group(rng, 0, 30, np.arange(100, 108), 2)
    a2, k2 = _group(rng, 30, 30, np.arange(200, 208), 2)
    a3, k3 = _group(rng, 60, 40, np.arange(300, 312), 2)  # a second cluster: one pool
    ea, ek = _with_shared(a1 + a2 + a3, k1 + k2 + k3, range(0, 60))
    ea = np.concatenate([ea, [100, 101, 102, 103, 104]])  # a 5-account cluster on one key
    ek = np.concatenate([ek, [999] * 5])
    labels = np.array([0] * 60 + [60] * 40 + [100] * 5, np.int64)
    out = _apply_split(labels, split_by_bridge(labels, ea, ek, CFG), CFG)
    assert out.tolist() == [0] * 30 + [30] * 30 + [60] * 40 + [100] * 5


def test_no_cluster_of_one_operator_is_split_calibration():
    # 200 clusters, each one operator: accounts draw 1-3 keys from one pool by popularity, most also
    # send a shared item. At level alpha / m no cluster may split (bound: alpha in expectation).
    rng = np.random.default_rng(3)
    ea, ek, labels = [], [], []
    start = 0
    for c in range(200):
        n = int(rng.integers(12, 60))
        pool = 1000 * (c + 1) + np.arange(int(rng.integers(3, 30)))
        w = rng.pareto(1.2, len(pool)) + 1
        for i in range(start, start + n):
            ks = rng.choice(pool, size=min(int(rng.integers(1, 4)), len(pool)), replace=False, p=w / w.sum())
            ea += [i] * len(ks)
            ek += ks.tolist()
            if rng.random() < 0.8:
                ea.append(i)
                ek.append(-(c + 1))
        labels += [start] * n
        start += n
    labels = np.array(labels, np.int64)
    sub = split_by_bridge(labels, np.array(ea, np.int64), np.array(ek, np.int64), CFG)
    assert (sub == labels).all()


def test_two_campaigns_sharing_one_suffix_are_two_campaigns_end_to_end():
    # main: one campaign of 70 (both operators joined by the suffix on every prompt)
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from _fixtures_bridge import bridged_log

    from stillwatch.guard.batch.scan import scan

    log, labels = bridged_log()
    f = scan(log)
    d = {a.account_id: a for a in f.accounts}
    for op, n in (("X", 40), ("Y", 30)):
        ids = [a for a, c in labels.items() if c == op]
        assert len(ids) == n and all(d[a].flagged for a in ids)
        assert {d[a].campaign_id for a in ids} == {f"campaign-op-{op.lower()}-00"}
    assert not [a for a, c in labels.items() if c is None and d[a].flagged]


def test_a_bridge_seen_as_two_keys_is_set_aside_whole():
    # the shared item appears under two keys with the same members (a template key and a near-duplicate
    # group): both are the bridge; setting aside only one would leave the clusters joined by the other
    rng = np.random.default_rng(4)
    a1, k1 = _group(rng, 0, 50, np.arange(100, 110), 2)
    a2, k2 = _group(rng, 50, 50, np.arange(200, 210), 2)
    ea, ek = _with_shared(a1 + a2, k1 + k2, range(0, 100))
    ea = np.concatenate([ea, np.arange(100)])
    ek = np.concatenate([ek, np.full(100, SHARED + 1)])
    labels = np.zeros(100, np.int64)
    out = _apply_split(labels, split_by_bridge(labels, ea, ek, CFG), CFG)
    assert out.tolist() == [0] * 50 + [50] * 50
