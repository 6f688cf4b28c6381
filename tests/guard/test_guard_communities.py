"""communities.py: a cluster is split when its account-key links hold several communities beyond the
configuration model (one operator drawing every key from one pool), and one operator is not.

The spectrum is checked against a dense SVD written here; expected labellings are written out from
the planted groups (labels are the smallest member's index); the p-value's calibration is checked
over many one-operator graphs against binomial bounds.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom

from stillwatch.guard.score.bridge import canonical_edges
from stillwatch.guard.score.communities import community_p, kmeans_rows, spectrum, split_by_communities
from stillwatch.guard.score.config import DetectConfig
from stillwatch.guard.score.links import _apply_split

CFG = DetectConfig()


def _operators(rng, sizes: list[int], own: int = 12, common: int = 6, tasks: int = 40, per: int = 30,
               first_key: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Operators of one family (the simulator's shape, written independently): operator ``o`` writes
    ``own`` scaffolds of its own and uses ``common`` public ones every operator uses too; every
    account sends ``per`` rows, each through one of its operator's scaffolds (uniform) and one task
    of a public task bank shared by all (``tasks`` keys, popularity 1/rank). Distinct (account, key)
    edges; task keys offset by 10,000, public scaffolds by 5,000."""
    ea, ek = [], []
    tw = 1.0 / np.arange(1, tasks + 1)
    start = 0
    for o, n in enumerate(sizes):
        pool = np.concatenate([o * own + np.arange(own), 5_000 + np.arange(common)])
        for i in range(start, start + n):
            sc = rng.choice(pool, size=per)
            tk = 10_000 + rng.choice(tasks, size=per, p=tw / tw.sum())
            ea += [i] * (2 * per)
            ek += (first_key + np.concatenate([sc, tk])).tolist()
        start += n
    return np.array(ea, np.int64), np.array(ek, np.int64)


def _expected(sizes: list[int]) -> list[int]:
    out, start = [], 0
    for n in sizes:
        out += [start] * n
        start += n
    return out


@pytest.mark.parametrize("own, tasks", [(8, 10), (2, 3)])  # more keys than accounts, and fewer (both dense paths)
def test_spectrum_matches_a_dense_svd(own, tasks):
    rng = np.random.default_rng(0)
    ea, ek = _operators(rng, [15, 12], own=own, common=2, tasks=tasks, per=4)
    n, nk, ai, ki = canonical_edges(ea, ek)
    assert (n < nk) if own == 8 else (n > nk)
    x = np.zeros((n, nk))
    x[ai, ki] = 1.0
    da, dk = x.sum(axis=1), x.sum(axis=0)
    nm = x / np.sqrt(da + da.mean())[:, None] / np.sqrt(dk + dk.mean())[None, :]
    u, s, _ = np.linalg.svd(nm)
    rel, vec = spectrum(n, nk, ai, ki, 4, vectors=True)
    assert rel == pytest.approx(s[:4] / s[0], rel=1e-8)
    for j in range(4):  # singular vectors up to sign
        assert abs(float(vec[:, j] @ u[:, j])) == pytest.approx(1.0, abs=1e-6)


def test_kmeans_rows_known_answer():
    # three tight groups; the first centre is the row farthest from the mean (row 6: 51.7 in squares),
    # then the row farthest from it (row 4: 107.0), then the row farthest from both (row 2: 26.02 from
    # row 4, row 0 26.01); parts are numbered by their centre
    x = np.array([[0.0, 0.0], [0.1, 0.0], [0.0, 0.1], [5.0, 0.0], [5.1, 0.0], [5.0, 0.1],
                  [0.0, 9.0], [0.1, 9.0]])
    lab = kmeans_rows(x, 3)
    assert lab.tolist() == [2, 2, 2, 1, 1, 1, 0, 0]


@pytest.mark.parametrize("sizes", [[60, 45], [50, 70, 40]])
def test_planted_operators_of_one_family_are_split(sizes):
    rng = np.random.default_rng(len(sizes))
    ea, ek = _operators(rng, sizes)
    labels = np.zeros(sum(sizes), np.int64)
    out = _apply_split(labels, split_by_communities(labels, ea, ek, CFG), CFG)
    assert out.tolist() == _expected(sizes)


def test_one_operator_sharing_one_template_bank_is_not_split():
    # 3,000 accounts of one operator: every account draws from the whole bank (its own rows only),
    # the failure that sank the diurnal split (thousands of accounts make any departure significant)
    rng = np.random.default_rng(7)
    ea, ek = _operators(rng, [3000], own=30, per=6)
    labels = np.zeros(3000, np.int64)
    assert (split_by_communities(labels, ea, ek, CFG) == labels).all()


def test_one_operator_whose_accounts_each_keep_their_own_subset_is_not_split():
    # per-account persistence without communities: each account keeps its own random third of the bank
    rng = np.random.default_rng(8)
    ea, ek = [], []
    for i in range(800):
        mine = rng.choice(60, size=20, replace=False)
        for k in rng.choice(mine, size=10):
            ea += [i, i]
            ek += [int(k), 10_000 + int(rng.integers(0, 40))]
    labels = np.zeros(800, np.int64)
    out = split_by_communities(labels, np.array(ea, np.int64), np.array(ek, np.int64), CFG)
    assert (out == labels).all()


@pytest.mark.xfail(strict=True, reason="issue 13 (notes, eighth session): one request gives one key of each content "
                   "kind (template prefix, suffix, near-duplicate group), so over the kinds together an account's keys "
                   "come in bundles that no rewiring of single keys keeps; the rewired bulk is lower than the observed "
                   "one and this one-operator graph is cut into 9 parts (each kind alone sits inside its bulk)")
def test_one_operator_whose_requests_each_give_a_key_of_every_kind_is_not_split():
    # 1,500 accounts of one operator, 3 requests each through scaffolds drawn uniformly from 30; each
    # request gives the scaffold's prefix key, its suffix key and a (scaffold, task) near-duplicate key
    rng = np.random.default_rng(0)
    ea, ek = [], []
    for i in range(1500):
        sc = rng.choice(30, size=3)
        tk = rng.choice(40, size=3)
        ea += [i] * 9
        ek += sc.tolist() + (100_000 + sc).tolist() + (200_000 + sc * 1000 + tk).tolist()
    pairs = np.unique(np.stack([np.array(ea), np.array(ek)], axis=1), axis=0)
    labels = np.zeros(1500, np.int64)
    out = _apply_split(labels, split_by_communities(labels, pairs[:, 0], pairs[:, 1], CFG), CFG)
    assert len(np.unique(out)) == 1


def test_only_the_mixed_cluster_splits_and_small_clusters_are_left():
    rng = np.random.default_rng(3)
    ea1, ek1 = _operators(rng, [50, 40])
    ea2, ek2 = _operators(rng, [70], first_key=100_000)  # one operator, a cluster of its own
    ea2 += 90
    ea3 = np.array([160, 161, 162, 163, 164], np.int64)  # a 5-account cluster on one key
    ek3 = np.full(5, 999_999, np.int64)
    ea, ek = np.concatenate([ea1, ea2, ea3]), np.concatenate([ek1, ek2, ek3])
    labels = np.array([0] * 90 + [90] * 70 + [160] * 5, np.int64)
    out = _apply_split(labels, split_by_communities(labels, ea, ek, CFG), CFG)
    assert out.tolist() == [0] * 50 + [50] * 40 + [90] * 70 + [160] * 5


def test_the_split_does_not_depend_on_the_key_labels():
    # engines hash content keys differently: any relabelling of the keys gives the same parts
    rng = np.random.default_rng(4)
    ea, ek = _operators(rng, [40, 30, 35])
    keys = np.unique(ek)
    relabel = dict(zip(keys.tolist(), (rng.permutation(len(keys)) * 7919 + 5).tolist()))
    ek2 = np.array([relabel[k] for k in ek.tolist()], np.int64)
    labels = np.zeros(105, np.int64)
    a = split_by_communities(labels, ea, ek, CFG)
    assert a.tolist() == split_by_communities(labels, ea, ek2, CFG).tolist()
    assert len(np.unique(a)) == 3


def test_rewiring_p_values_are_super_uniform_on_one_operator_graphs():
    # 150 one-operator graphs (sizes, banks, rows per account and popularity drawn at random): the
    # share of p-values <= x may exceed x only by binomial noise (upper 0.999 quantile), at every x
    rng = np.random.default_rng(5)
    ps = []
    for _ in range(150):
        n = int(rng.integers(20, 120))
        ea, ek = _operators(rng, [n], own=int(rng.integers(5, 60)), common=0, tasks=int(rng.integers(5, 40)),
                            per=int(rng.integers(2, 10)))
        ps.append(community_p(ea, ek, 19))
    ps = np.array(ps)
    for x in (0.05, 0.1, 0.2, 0.5):
        assert (ps <= x).sum() <= binom.ppf(0.999, len(ps), x)


def test_rewiring_p_of_planted_operators_is_the_smallest_possible():
    rng = np.random.default_rng(6)
    ea, ek = _operators(rng, [40, 40])
    assert community_p(ea, ek, 49) == pytest.approx(1 / 50)


def _scan_family(one_operator: bool, pools: int = 0):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from _fixtures_communities import family_log

    from stillwatch.guard.batch.scan import scan

    log, labels = family_log(one_operator=one_operator, pools=pools)
    f = scan(log)
    return labels, {a.account_id: a for a in f.accounts}


def test_three_operators_of_one_family_are_three_campaigns_end_to_end():
    # main: one campaign of 75 (the public scaffolds and the public task bank link all three)
    labels, d = _scan_family(False)
    for op, n in (("P", 30), ("Q", 25), ("R", 20)):
        ids = [a for a, c in labels.items() if c == op]
        assert len(ids) == n and all(d[a].flagged for a in ids)
        assert {d[a].campaign_id for a in ids} == {f"campaign-op-{op.lower()}-00"}
    assert not [a for a, c in labels.items() if c is None and d[a].flagged]


def test_one_operator_on_all_the_scaffolds_is_one_campaign_end_to_end():
    labels, d = _scan_family(True)
    ids = [a for a, c in labels.items() if c == "O"]
    assert len(ids) == 75 and all(d[a].flagged for a in ids)
    assert {d[a].campaign_id for a in ids} == {"campaign-op-p-00"}


def test_one_operator_on_four_address_pools_is_one_campaign_end_to_end():
    # held-out C's evalfarm: one operator's accounts on four datacenter /24s, machine-paced, so the
    # address links form four communities; the first form of the rule (every linking edge) cut it in
    # four. Infrastructure communities are split_by_infrastructure's (it rejoins one workload).
    labels, d = _scan_family(True, pools=4)
    ids = [a for a, c in labels.items() if c == "O"]
    assert len(ids) == 75 and all(d[a].flagged for a in ids)
    assert {d[a].campaign_id for a in ids} == {"campaign-op-p-00"}


@pytest.mark.parametrize("sizes", [[60], [200], [40, 30], [50, 40, 30]])
def test_the_pilot_that_stops_early_gives_the_full_pilot_verdict(sizes):
    from stillwatch.guard.score.communities import _Cluster

    rng = np.random.default_rng(sum(sizes))
    ea, ek = _operators(rng, sizes, per=8)
    early, full = _Cluster(ea, ek, 8), _Cluster(ea, ek, 8)
    early.pilot(CFG.split.community_pilot, CFG.split.community_excess)
    full.draw(CFG.split.community_pilot)
    k_full = full.parts(CFG.split.community_excess, None)
    k_early = early.parts(CFG.split.community_excess, None) if len(early.null) == CFG.split.community_pilot else 1
    assert k_early == k_full
    assert early.null == full.null[:len(early.null)]  # the same draws, in the same order
    if len(sizes) == 1:
        assert len(early.null) < CFG.split.community_pilot  # one operator stops early
