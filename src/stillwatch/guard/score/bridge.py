"""Split a cluster held together by one shared item (issue 13: two campaigns whose accounts share one
style suffix and nothing else).

Two operators can draw on one public item — a popular style suffix, a common wrapper — while each
runs its own scaffolds on its own accounts. Every account that sends the item is linked to every
other one, so the two campaigns become one connected cluster, and when the item carries most of
the cluster's weight the content communities of
:func:`~stillwatch.guard.score.links.split_by_content` do not separate them either (measured on the
simulator's swarm family: one suffix on 6,257 of 7,000 accounts). What separates them is the
*conditional* link structure: with the item set aside, the rest of their links fall into large
parts that share nothing.

The rule
========
In each cluster of >= ``2 split.min_accounts`` accounts, the *bridge* is the linking *content* key
(template prefix or suffix, near-duplicate group) used by the most members (every key tied at that
count: the same on every engine, whatever its key hashes). Its edges are set aside and the cluster's
remaining linking content edges are taken apart into connected parts. Content only: a cohort cell
of the null model (:mod:`~stillwatch.guard.score.nullmodel`) puts each account in one arrival window
by construction, so cells are never draws from one pool — held-out D's cohort (58 accounts, each
on one shared item and one of two arrival cells, six also on a third key) was cut in two at its
cells, p = 1/101, when every linking edge took part; cards and addresses are
:func:`~stillwatch.guard.score.links.split_by_infrastructure`'s. A cluster is a candidate when the
parts meet the size criteria of every split (``SplitConfig``: >= 2 large parts covering
``coverage`` of it); it is split (accounts linked only through the bridge join its largest part) when
the null model below rejects one operator.

Null model
==========
**H0** (one operator): with the bridge set aside, the cluster's remaining account–key links form a
random bipartite graph with the observed degrees — each of the operator's accounts draws its other
scaffolds from the cluster's pool in proportion to how many of its links each
has, regardless of which part it lies in (the configuration model; Newman, Strogatz & Watts 2001,
Phys. Rev. E 64, 026118). Statistic: the size of the second-largest part. ``B`` degree-preserving
rewirings (the key ends of the edge list permuted, a seeded generator over a canonical edge order, so
the draw is the same on every engine); the Monte Carlo p-value ``(1 + #{draw >= observed}) / (B + 1)``
is exact under H0 (Davison & Hinkley 1997, ch. 4). A split needs ``p <= LinkConfig.alpha / m`` with
``m`` the candidate clusters of the log (Bonferroni); ``B = ceil(m / alpha)``, and a cluster stops
drawing once the draws that reach its observed size already rule the split out.
One operator rotating its accounts through disjoint template sets, each account on one set, keeps
its parts under the rewiring as well (an account with one key cannot bridge two sets), so it is not
split; one operator whose accounts mix its scaffolds freely is one part before any rewiring.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from stillwatch.core.sets import unique, unique_pairs
from stillwatch.guard.score import cluster as _cluster

if TYPE_CHECKING:  # pragma: no cover - typing only
    from stillwatch.guard.score.config import DetectConfig

#: Seed of the rewiring draws: fixed, so a scan is reproducible and engines agree.
SEED = 20261204


def _mix(key: np.ndarray, lab: np.ndarray) -> np.ndarray:
    """One int64 per (key, cluster): keeps each cluster's parts inside it."""
    with np.errstate(over="ignore"):
        return (key.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
                ^ (lab.astype(np.uint64) * np.uint64(0xBF58476D1CE4E5B9))).view(np.int64)


def _second_largest(n_acc: int, n_key: int, ai: np.ndarray, ki: np.ndarray) -> int:
    """Size of the second-largest connected part of accounts ``0..n_acc-1`` linked through keys
    ``0..n_key-1`` (compact indices: one sparse graph, no relabelling per draw)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = n_acc + n_key
    g = coo_matrix((np.ones(len(ai), np.int8), (ai, n_acc + ki)), shape=(n, n))
    comp = connected_components(g, directed=False)[1][:n_acc]
    cnt = np.sort(np.bincount(comp))
    return int(cnt[-2]) if len(cnt) >= 2 else 0


def _spread64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser of non-negative int64 values (a fixed, engine-independent mixing)."""
    z = x.astype(np.uint64)
    with np.errstate(over="ignore"):
        z = (z + np.uint64(0x9E3779B97F4A7C15))
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def canonical_edges(ea: np.ndarray, ek: np.ndarray) -> tuple[int, int, np.ndarray, np.ndarray]:
    """(accounts, keys, account index, key index) of the distinct (account, key) pairs, on compact
    indices in an order that does not depend on the key labels (which differ between engines: content
    key hashes): accounts ranked by their value (the log's account index, the same on every engine),
    keys by their smallest account, then their degree, then a hash of their member set (keys with the
    same members are interchangeable, so the label order left among them changes no statistic of the
    graph), pairs sorted by (account, key)."""
    acc_u, ai = np.unique(np.asarray(ea, np.int64), return_inverse=True)
    key_u, ki = np.unique(np.asarray(ek, np.int64), return_inverse=True)
    ai, ki = unique_pairs(ai, ki)
    nk = len(key_u)
    first = np.full(nk, len(acc_u), np.int64)
    np.minimum.at(first, ki, ai)
    deg = np.bincount(ki, minlength=nk)
    sig = np.zeros(nk, np.uint64)
    with np.errstate(over="ignore"):
        np.add.at(sig, ki, _spread64(ai))
    rank = np.empty(nk, np.int64)
    rank[np.lexsort((np.arange(nk), sig, deg, first))] = np.arange(nk)
    ai, rk = unique_pairs(ai, rank[ki])
    return len(acc_u), nk, ai, rk


def rewired(rng: np.random.Generator, ki: np.ndarray) -> np.ndarray:
    """One degree-preserving rewiring: the key ends of the canonical edge list permuted."""
    return rng.permutation(ki)


def rewiring_p(ea: np.ndarray, ek: np.ndarray, draws: int, stop: int | None = None) -> float:
    """Monte Carlo p-value ``(1 + #{draw >= observed}) / (draws + 1)`` of the observed second-largest
    part of the bipartite graph (accounts ``ea``, keys ``ek``, any labels) under degree-preserving
    rewiring (module docstring) of the canonical edge list (:func:`canonical_edges`). With ``stop``,
    drawing ends once ``stop`` draws reached the observed size, and the value returned is then a
    lower bound (already too large for a level below ``(stop + 1) / (draws + 1)``)."""
    n, nk, ai, ki = canonical_edges(ea, ek)
    obs = _second_largest(n, nk, ai, ki)
    rng = np.random.default_rng(SEED)
    reach = 0
    for _ in range(draws):
        reach += _second_largest(n, nk, ai, rewired(rng, ki)) >= obs
        if stop is not None and reach >= stop:
            break
    return (1.0 + reach) / (draws + 1.0)


def split_by_bridge(labels: np.ndarray, ea: np.ndarray, ek: np.ndarray, cfg: "DetectConfig") -> np.ndarray:
    """Per account: its part when its cluster is split at its bridge (module docstring), else its
    label — a proposal for :func:`~stillwatch.guard.score.links._apply_split`, which keeps the size
    criteria and sends accounts outside every large part to the largest."""
    a = len(labels)
    ea = np.asarray(ea, np.int64)
    ek = np.asarray(ek, np.int64)
    size = _cluster.sizes(labels)
    ok = size[ea] >= 2 * cfg.split.min_accounts
    ea, ek = ea[ok], ek[ok]
    if len(ea) == 0:
        return labels
    lab = labels[ea]
    ck = _mix(ek, lab)
    cu, cinv = np.unique(ck, return_inverse=True)
    pu_key, pu_acc = unique_pairs(cinv, ea)  # distinct (cluster-key, account)
    fan = np.bincount(pu_key, minlength=len(cu))
    owner = labels[pu_acc[np.searchsorted(pu_key, np.arange(len(cu)))]]
    # the bridge of each cluster: every key used by the most members (a tie, e.g. one suffix seen as
    # a template and as a near-duplicate group, is set aside whole; key hashes, which differ between
    # engines, never decide)
    top = np.zeros(a, np.int64)
    np.maximum.at(top, owner, fan)
    bridge = fan == top[owner]
    rest = ~bridge[cinv]
    sub = _cluster.components(a, ea[rest], ck[rest])
    sub = np.where(size >= 2 * cfg.split.min_accounts, sub, labels)
    cand = unique(labels[_cluster.split_parts(labels, sub, cfg.split)[1]])  # clusters whose parts would split
    if len(cand) == 0:
        return labels
    m = len(cand)
    draws = int(np.ceil(m / cfg.link.alpha))
    out = labels.copy()
    for c in cand:
        e = rest & (lab == c)
        if rewiring_p(ea[e], ck[e], draws, stop=1) <= cfg.link.alpha / m:
            out = np.where(labels == c, sub, out)
    return out

