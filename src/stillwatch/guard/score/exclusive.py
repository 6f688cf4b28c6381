"""Split a cluster whose accounts fall into groups using *mutually exclusive* popular keys (issue 13:
campaigns of independent operators on one public scaffold bank, merged by content).

Independent operators writing prompts from one public bank each pick their own subset of its
scaffolds, and two subsets overlap by chance. When they overlap on most of their keys, the cluster's
link communities stand out of the random graph's bulk by less than
:mod:`~stillwatch.guard.score.communities`' effect-size floor (burst seeds 1-2: 0.13-0.19 against
0.2), yet the operators are told apart at once by what each *never* sends: a scaffold that most of
one operator's accounts use and none of the other's. One operator's accounts, drawing their prompts
from one pool, do not leave a key untouched by a whole group of its heavy accounts.

The rule
========
Within each cluster of >= ``2 split.min_accounts`` accounts, on its linking *content* edges (distinct
account-key pairs, as the community rule), take the keys used by >= ``max(split.min_accounts,
split.exclusive_key_share x accounts)`` of its accounts and, for every pair of them ``(x, y)``, the
number ``C_xy`` of accounts using both. A pair is *exclusive* when

* ``C_xy <= split.exclusive_share x mu_xy`` with ``mu_xy >= split.exclusive_min_expected`` (the effect
  size: nearly none of the ``mu_xy`` accounts that chance puts on both keys are there), and
* ``P(Poisson(mu_xy) <= C_xy)`` is at most the part's level divided by its number of tested pairs
  (those with ``mu_xy >= exclusive_min_expected``: chosen from the degrees alone; Bonferroni).

A cluster with exclusive pairs is cut into parts seeded by the keys of those pairs, the most used
first, each key's users a part's seed when none of them is a seed already; every other account joins
the part whose seed accounts' key profile fits its keys best (:func:`anchors_partition`). The cut is
made when every part then has >= ``split.exclusive_own_keys`` *own keys*: keys that >=
``split.exclusive_own`` of its accounts use and no account outside it does (:func:`own_key_count`).
An operator's own material is several scaffolds, each sent by a good share of its accounts (the
simulator's merged operators: 7-26 own keys at a quarter); a single key that a group of accounts sends
instead of another is one operator's per-account choice — a persona, a client version, a wrapper —
and does not make two operators (the demo's 300-account campaign: three groups of one own key each,
cut before this criterion, and the part of 41 accounts went unflagged). One operator dealing its
templates out in overlapping sets (account ``i`` on templates ``i`` and ``i + 1`` mod 5) has exclusive
pairs but no such partition either, and stays whole. Each part is tested again the same way, on
the keys popular in the whole cluster (a key two of three operators share seeds their part first), up
to ``split.max_parts`` parts; a cut is kept only where its parts meet the criteria of every split
(:func:`~stillwatch.guard.score.cluster.split_parts`).

Levels: the log's ``LinkConfig.alpha`` is shared among its clusters in proportion to their tested
pairs (Bonferroni over every first-level test of the log); within a cluster of level ``a``, the ``m_d``
parts at depth ``d`` of the cut tree are each tested at ``a 2^-(d+1) / m_d`` (breadth first, so every
part of a depth is known before the first of them is tested), and the levels of one cluster sum to
<= ``a``.

Null model
==========
**H0** (one operator): the cluster's account-key graph is drawn as a configuration model of its own
degrees: account ``i``, with ``d_i`` distinct keys, uses key ``x`` with probability
``p_ix = 1 - exp(-theta_x d_i)`` (a key's popularity ``theta_x`` acting on each of the account's
draws; Newman, Strogatz & Watts 2001, Phys. Rev. E 64, 026118), ``theta_x`` fitted so that the key's
expected users equal its observed ``d_x`` (:func:`use_probabilities`), independently over accounts
and, given ``d_i``, over keys. Then ``C_xy`` is
a sum of independent Bernoulli(``p_ix p_iy``) with mean ``mu_xy = sum_i p_ix p_iy``; at ``c = 0``,
``P(C_xy = 0) = prod_i (1 - p_ix p_iy) <= exp(-mu_xy)``, and for ``c <= mu_xy - 1`` the lower tail is
at most the Poisson's of the same mean (Anderson & Samuels 1967, Proc. Fifth Berkeley Symp. 1, 1-12:
the Poisson-binomial is more concentrated than the Poisson). The effect-size floor keeps every
tested ``c`` in that range. A part below the first level is tested as if it were its own cluster;
that is approximate (the cut chose its accounts by their keys), and the deeper levels are smaller.

Why the floor: with thousands of accounts any departure of one operator's scheduling from the
configuration model is significant (a template mix changing over the days, accounts active on
different days); the floor asks that nine in ten of the co-users chance gives be missing. Measured
on the simulator (320,000 rows; ``notes/issue-13-guard.md``): on seed 1 of the 14 families no
one-operator or benign cluster has a pair meeting the floor and the test (swarm's 5,000 accounts: best
``mu`` 65 with ``C`` = 41); the merged burst operators reach ``C = 0`` against ``mu`` = 24-26
(``p ~ 1e-11``), the two left together ``p ~ 1e-6``; end to end on seeds 0-2 of every family and on
the held-out logs A-D no campaign was cut (every ARI the same or higher) and no benign account newly flagged.

Attacker model
==============
The operator controls its accounts' prompts, so it can make its accounts look like several
operators (give each account pool a disjoint scaffold set: each pool is then cut off as its own
campaign with its own evidence, as :mod:`.communities` does) or like one (share every scaffold between
its pools: nothing to split, as before). One operator whose scaffolds drift while its accounts stay
active keeps old and new scaffolds on the same accounts and is not cut; one whose *generations* of
accounts (active in different weeks) use disjoint scaffold sets is, like several operators (each part
keeps its own evidence; tests/guard/test_guard_exclusive.py). What must still hold: the rule only cuts an existing cluster
(it never links accounts, so popular public content cannot pull benign accounts into a campaign
through it), and it draws nothing at random (the same cut on every engine and run: the graph is taken
in :func:`~stillwatch.guard.score.bridge.canonical_edges` order).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from stillwatch.core.stats import poisson_lower_log
from stillwatch.guard.score import cluster as _cluster
from stillwatch.guard.score.bridge import canonical_edges
from stillwatch.core.sets import unique

if TYPE_CHECKING:  # pragma: no cover - typing only
    from stillwatch.guard.score.config import DetectConfig


def use_matrix(n: int, nk: int, ai: np.ndarray, ki: np.ndarray):
    """The 0/1 account x key matrix (``n x nk``, sparse CSR) of the pairs ``(ai, ki)``.
    Requires ``0 <= ai < n``, ``0 <= ki < nk`` and no pair twice."""
    from scipy.sparse import csr_matrix

    return csr_matrix((np.ones(len(ai)), (ai, ki)), shape=(n, nk))


def use_probabilities(deg: np.ndarray, n_deg: np.ndarray, users: np.ndarray, iters: int = 60) -> np.ndarray:
    """The null's ``p = 1 - exp(-theta_x d)`` per account degree ``deg`` (``n_deg`` accounts each) and key,
    ``theta_x`` solved so that the expected users of key ``x`` equal its observed ``users``:
    ``sum_d n_d (1 - exp(-theta_x d)) = u_x`` (Newton from ``theta = 0``: the left side is concave and
    increasing, so the steps rise monotonically to the root). A key used by every account gets ``p = 1``.
    Requires ``deg >= 1`` and ``0 <= users <= sum n_deg``. Returns ``[D, K]``."""
    deg = np.asarray(deg, np.float64)[:, None]  # [D, 1]
    w = np.asarray(n_deg, np.float64)[:, None]
    u = np.asarray(users, np.float64)[None, :]  # [1, K]
    full = u >= w.sum() - 1e-9
    theta = np.zeros_like(u)
    for _ in range(iters):
        e = np.exp(-theta * deg)  # [D, K]
        f = (w * (1.0 - e)).sum(axis=0, keepdims=True) - u
        fp = (w * deg * e).sum(axis=0, keepdims=True)
        theta = np.where(full, theta, theta - f / np.maximum(fp, 1e-300))
    return np.where(full, 1.0, -np.expm1(-theta * deg))


def co_use_null(x, popular: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For the keys ``popular`` (column indices of the 0/1 matrix ``x``): the observed co-use counts ``C``
    (``K x K``: accounts using both keys) and their null means ``mu`` (module docstring), computed per
    distinct account degree (``p_ix`` depends on the account through ``d_i`` only). Requires every row of
    ``x`` to hold a link."""
    da = np.asarray(x.sum(axis=1)).ravel()  # [n] distinct keys per account
    deg, n_deg = np.unique(da, return_counts=True)  # [D]
    p = use_probabilities(deg, n_deg, np.asarray(x.sum(axis=0)).ravel()[popular])  # [D, K]
    xp = x[:, popular]  # [n, K]
    return (xp.T @ xp).toarray(), (p * n_deg[:, None]).T @ p  # [K, K] each


def _popular(x, min_users: float) -> np.ndarray:
    return np.flatnonzero(np.asarray(x.sum(axis=0)).ravel() >= min_users)


def exclusive_pairs(x, min_users: float, share: float, min_expected: float,
                    alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """The exclusive key pairs of one cluster's 0/1 account x key matrix ``x`` (module docstring).

    The pairs *tested* are those of keys with >= ``min_users`` users whose null mean ``mu`` is >=
    ``min_expected``; each is tested at ``alpha / tested`` (Bonferroni). Returns ``(x_key, y_key, log p,
    tested)``: the tested pairs whose co-use count is <= ``share x mu`` and whose Poisson lower tail is <=
    that level, most significant first (ties: lower key indices); ``alpha = 1`` lists every pair meeting the
    effect size. Requires ``0 <= share < 1`` and ``min_expected >= 1 / (1 - share)`` (the tail bound's
    range)."""
    popular = _popular(x, min_users)
    none = np.zeros(0, np.int64)
    if len(popular) < 2:
        return none, none, np.zeros(0), 0
    c, mu = co_use_null(x, popular)
    iu, ju = np.triu_indices(len(popular), 1)
    c, mu = c[iu, ju], mu[iu, ju]
    tested = mu >= min_expected
    n_tested = int(tested.sum())
    ok = tested & (c <= share * mu)
    lp = np.zeros(len(c))
    lp[ok] = poisson_lower_log(c[ok], mu[ok])
    ok &= lp <= np.log(alpha / max(n_tested, 1))
    o = np.lexsort((ju[ok], iu[ok], lp[ok]))
    return popular[iu[ok][o]], popular[ju[ok][o]], lp[ok][o], n_tested


def anchors_partition(x, anchors: np.ndarray) -> np.ndarray:
    """Parts (``0..G-1``) of the rows of the 0/1 matrix ``x`` seeded by ``anchors`` (key columns, in order of
    preference): each anchor in turn becomes a part's seed when none of its users is a seed already (its
    users are that part's seed accounts); every other account joins the part whose seed accounts' key
    profile fits its keys best, ``argmax_g sum_k x_ik ln((u_gk + 1/2) / (n_g + 1))`` (``u_gk`` the seed
    accounts of part ``g`` using key ``k``, ``n_g`` their number; ties: the earlier part). Returns all zeros
    when fewer than two seeds are found."""
    n = x.shape[0]
    seed = np.full(n, -1, np.int64)
    xc = x.tocsc()
    g = 0  # seeds so far
    for g_key in anchors:  # one step per anchor key (a cluster's few significant keys), not per account
        users = xc.indices[xc.indptr[g_key]:xc.indptr[g_key + 1]]
        if len(users) and np.all(seed[users] < 0):
            seed[users] = g
            g += 1
    if g < 2:
        return np.zeros(n, np.int64)
    from scipy.sparse import csr_matrix

    member = csr_matrix((np.ones(int((seed >= 0).sum())), (np.flatnonzero(seed >= 0), seed[seed >= 0])), shape=(n, g))
    u = (member.T @ x).toarray()  # [G, nk] seed accounts of each part using each key
    ll = np.log((u + 0.5) / (np.asarray(member.sum(axis=0)).ravel()[:, None] + 1.0))  # [G, nk]
    fit = np.asarray(x @ ll.T)  # [n, G]
    return np.where(seed >= 0, seed, fit.argmax(axis=1))


def own_key_count(x, part: np.ndarray, share: float) -> int:
    """The smallest, over the parts ``part`` (``0..G-1`` per row of the 0/1 matrix ``x``), of the number of a
    part's *own keys*: keys that >= ``share`` of its accounts use and no account outside it does.
    Requires every part non-empty."""
    from scipy.sparse import csr_matrix

    g = int(part.max()) + 1
    member = csr_matrix((np.ones(len(part)), (np.arange(len(part)), part)), shape=(len(part), g))
    on = (member.T @ x).toarray()  # [G, nk] users of each key in each part
    off = on.sum(axis=0)[None, :] - on  # [G, nk] users outside the part
    size = np.bincount(part, minlength=g)[:, None]
    return int(((off == 0) & (on >= share * size)).sum(axis=1).min())


def cut_tree(x, cfg: "DetectConfig", alpha: float, min_users: float) -> np.ndarray:
    """Parts (``0..``) of the rows of one cluster's 0/1 account x key matrix ``x`` after recursive exclusive-pair
    cuts at family-wise level ``alpha`` for the cluster (module docstring: each of the ``m_d`` parts at depth ``d``
    at ``alpha 2^-(d+1) / m_d``),
    on the keys with >= ``min_users`` users, breadth first, up to ``cfg.split.max_parts`` parts. A cut is the
    :func:`anchors_partition` seeded by the keys of the significant pairs (most users first); it is made
    when every part has >= ``split.min_accounts`` accounts and >= ``split.exclusive_own_keys`` own keys each used
    by >= ``split.exclusive_own`` of them (:func:`own_key_count`)."""
    sp = cfg.split
    part = np.zeros(x.shape[0], np.int64)
    todo = [(np.arange(x.shape[0]), 0)]
    n_parts = 1
    at_depth: dict[int, int] = {}  # parts at each depth, counted when the depth's first part is taken
    while todo and n_parts < sp.max_parts:
        rows, depth = todo.pop(0)
        if depth not in at_depth:  # breadth first: every part of this depth is in the queue now
            at_depth[depth] = 1 + sum(d == depth for _, d in todo)
        if len(rows) < 2 * sp.min_accounts:
            continue
        sub = x[rows]
        sub = sub[:, np.flatnonzero(np.asarray(sub.sum(axis=0)).ravel() > 0)]
        xa, xb, _, _ = exclusive_pairs(sub, min_users, sp.exclusive_share, sp.exclusive_min_expected,
                                       alpha * 0.5 ** (depth + 1) / at_depth[depth])
        if len(xa) == 0:
            continue
        keys = unique(np.concatenate([xa, xb]))
        users = np.asarray(sub.sum(axis=0)).ravel()[keys]
        cut = anchors_partition(sub, keys[np.lexsort((keys, -users))])
        size = np.bincount(cut)
        if (cut.max() == 0 or size.min() < sp.min_accounts
                or own_key_count(sub, cut, sp.exclusive_own) < sp.exclusive_own_keys):
            continue
        g = int(cut.max()) + 1
        if n_parts + g - 1 > sp.max_parts:
            continue
        part[rows[cut > 0]] = n_parts + cut[cut > 0] - 1
        n_parts += g - 1
        todo += [(rows[cut == j], depth + 1) for j in range(g)]
    return part


def split_by_exclusive_keys(labels: np.ndarray, ea: np.ndarray, ek: np.ndarray, cfg: "DetectConfig") -> np.ndarray:
    """Per account: its part when its cluster's accounts fall into groups using mutually exclusive popular
    keys (module docstring), else its label: a proposal for :func:`~stillwatch.guard.score.links._apply_split`,
    which keeps the size criteria. ``ea``/``ek``: the linking content edges (account index, key label)."""
    sp = cfg.split
    ea = np.asarray(ea, np.int64)
    ek = np.asarray(ek, np.int64)
    size = _cluster.sizes(labels)
    ok = size[ea] >= 2 * sp.min_accounts
    ea, ek = ea[ok], ek[ok]
    if len(ea) == 0:
        return labels
    o = np.argsort(labels[ea], kind="stable")
    ea, ek = ea[o], ek[o]
    _, starts = np.unique(labels[ea], return_index=True)
    ends = np.append(starts[1:], len(ea))
    graphs = []  # per cluster with a tested pair: (members, use matrix, key threshold, tested pairs)
    for s0, s1 in zip(starts, ends):
        n, nk, ai, ki = canonical_edges(ea[s0:s1], ek[s0:s1])
        if n < 2 * sp.min_accounts or nk < 2:
            continue
        x = use_matrix(n, nk, ai, ki)
        min_users = max(sp.min_accounts, sp.exclusive_key_share * n)
        tested = exclusive_pairs(x, min_users, sp.exclusive_share, sp.exclusive_min_expected, 1.0)[3]
        if tested:
            graphs.append((unique(ea[s0:s1]), x, min_users, tested))
    total = sum(g[3] for g in graphs)
    out = labels.copy()
    for members, x, min_users, tested in graphs:
        part = cut_tree(x, cfg, cfg.link.alpha * tested / total, min_users)
        if part.max() > 0:
            first = np.full(part.max() + 1, len(members), np.int64)
            np.minimum.at(first, part, np.arange(len(members)))
            out[members] = members[first[part]]
    return out
