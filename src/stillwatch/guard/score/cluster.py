"""Cross-account campaign clustering: connected components of an account-key graph.

Accounts are linked through keys they share — a shared prompt template, a near-duplicate prompt
group, a payment fingerprint — but only along *eligible* edges (an account joins a content key only
when templated / near-duplicate prompts make up much of its own traffic; see :mod:`~stillwatch.guard.score.detect`). A
campaign candidate is a connected component with at least two accounts. The whole computation is
one sparse graph and one :func:`scipy.sparse.csgraph.connected_components` call — no loop per
account or per row. :func:`group_median` and :class:`Groups` aggregate an
account column over each account's cluster (vectorised, broadcast back to the members).
"""

from __future__ import annotations

import numpy as np


def components(n_accounts: int, edge_account: np.ndarray, edge_key: np.ndarray) -> np.ndarray:
    """Component label per account (int64), accounts ``0..n_accounts-1`` linked through keys.

    Requires ``0 <= edge_account < n_accounts``; ``edge_key`` may be any int64 values (a key joins
    every account it has an edge to). The label of a component is its smallest account index, so
    labels are deterministic and an account alone keeps its own index.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    ea = np.asarray(edge_account, dtype=np.int64)
    ek = np.asarray(edge_key, dtype=np.int64)
    if ea.shape != ek.shape:
        raise ValueError(f"edge_account and edge_key must have the same shape, got {ea.shape} and {ek.shape}")
    if len(ea) and (ea.min() < 0 or ea.max() >= n_accounts):
        raise ValueError(f"edge_account must be in [0, {n_accounts}), got range [{ea.min()}, {ea.max()}]")
    if n_accounts == 0:
        return np.zeros(0, np.int64)
    _, key_idx = np.unique(ek, return_inverse=True)
    n_keys = int(key_idx.max()) + 1 if len(key_idx) else 0
    n = n_accounts + n_keys
    g = coo_matrix((np.ones(len(ea), np.int8), (ea, n_accounts + key_idx)), shape=(n, n))
    _, comp = connected_components(g, directed=False)
    comp = comp[:n_accounts]
    first = np.full(comp.max() + 1, n_accounts, dtype=np.int64)
    np.minimum.at(first, comp, np.arange(n_accounts, dtype=np.int64))
    return first[comp]


def sizes(labels: np.ndarray) -> np.ndarray:
    """Size of each account's component (int64, same shape as ``labels``)."""
    _, inv, counts = np.unique(labels, return_inverse=True, return_counts=True)
    return counts[inv].astype(np.int64)


def split_parts(labels: np.ndarray, sub: np.ndarray, split) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per account, for clusters ``labels`` cut into parts ``sub`` (labels of member accounts): (its
    part is large, its cluster splits, its part's size). A part is large with >= ``split.min_accounts``
    accounts and >= ``split.min_share`` of its cluster; a cluster splits when 2..``split.max_parts`` large
    parts cover >= ``split.coverage`` of it (``split``: a :class:`~stillwatch.guard.score.config.SplitConfig`).
    Requires ``sub`` to refine ``labels``."""
    a = len(labels)
    size = sizes(labels)
    subsize = sizes(sub).astype(np.float64)
    big = (subsize >= split.min_accounts) & (subsize >= split.min_share * size) & (size >= 2)
    head = big & (sub == np.arange(a))
    n_big = np.bincount(labels, weights=head.astype(np.float64), minlength=a)[labels]
    cover = np.bincount(labels, weights=big.astype(np.float64), minlength=a)[labels] / np.maximum(size, 1)
    return big, (n_big >= 2) & (n_big <= split.max_parts) & (cover >= split.coverage), subsize


def _weighted_mode(owner: np.ndarray, label: np.ndarray, weight: np.ndarray, n_owner: int,
                   default: np.ndarray) -> np.ndarray:
    """Per owner: the label with the largest summed weight among its (owner, label, weight) rows,
    ties to the smallest label; owners without rows keep ``default``."""
    if len(owner) == 0:
        return default.copy()
    o = np.lexsort((label, owner))
    owner, label, weight = owner[o], label[o], weight[o]
    new = np.concatenate(([True], (owner[1:] != owner[:-1]) | (label[1:] != label[:-1])))
    starts = np.flatnonzero(new)
    tot = np.add.reduceat(weight, starts)
    g_owner, g_label = owner[starts], label[starts]
    o2 = np.lexsort((g_label, -tot, g_owner))
    first = np.concatenate(([True], g_owner[o2][1:] != g_owner[o2][:-1]))
    out = default.copy()
    out[g_owner[o2][first]] = g_label[o2][first]
    return out


def label_propagation(n_accounts: int, edge_account: np.ndarray, edge_key: np.ndarray, weight: np.ndarray,
                      max_iter: int = 20, return_keys: bool = False):
    """Communities of the weighted account-key bipartite graph by label propagation (Raghavan,
    Albert & Kumara 2007; alternating updates on the two sides as in Barber & Clark 2009): every
    account starts with its own label; keys take the weighted-majority label of their accounts,
    accounts the weighted-majority label of their keys (ties: smallest label), until nothing
    changes. Labels never leave a connected component. Deterministic. With ``return_keys``, also
    returns each edge's key label (aligned with the edges)."""
    lab = np.arange(n_accounts, dtype=np.int64)
    if len(edge_account) == 0:
        return (lab, np.zeros(0, np.int64)) if return_keys else lab
    keys, kidx = np.unique(np.asarray(edge_key, np.int64), return_inverse=True)
    ea = np.asarray(edge_account, np.int64)
    w = np.asarray(weight, np.float64)
    key_lab = np.zeros(len(keys), np.int64)
    for _ in range(max_iter):
        key_lab = _weighted_mode(kidx, lab[ea], w, len(keys), key_lab)
        new = _weighted_mode(ea, key_lab[kidx], w, n_accounts, lab)
        if np.array_equal(new, lab):
            break
        lab = new
    key_lab = _weighted_mode(kidx, lab[ea], w, len(keys), key_lab)
    return (lab, key_lab[kidx]) if return_keys else lab


def group_median(labels: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Per element: the (lower) median of ``x`` over its label group, vectorised with one sort."""
    order = np.lexsort((x, labels))
    ls = labels[order]
    starts = np.searchsorted(ls, ls, side="left")
    ends = np.searchsorted(ls, ls, side="right")
    mid = starts + (ends - starts - 1) // 2
    med_sorted = x[order][mid]
    out = np.empty_like(x)
    out[order] = med_sorted
    return out


class Groups:
    """Per-cluster sum / min / max of an account column, broadcast back to the members."""

    def __init__(self, labels: np.ndarray) -> None:
        self.labels = labels

    def sum(self, x: np.ndarray) -> np.ndarray:
        s = np.zeros(len(self.labels), np.float64)
        np.add.at(s, self.labels, x)
        return s[self.labels]

    def min(self, x: np.ndarray) -> np.ndarray:
        s = np.full(len(self.labels), np.inf)
        np.minimum.at(s, self.labels, x)
        return s[self.labels]

    def max(self, x: np.ndarray) -> np.ndarray:
        s = np.full(len(self.labels), -np.inf)
        np.maximum.at(s, self.labels, x)
        return s[self.labels]
