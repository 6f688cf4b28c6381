"""The null model of the content-community split (:func:`~stillwatch.guard.score.links.split_by_content`).

Label propagation finds communities in any graph, random ones included, and the split's cohesion share is read
off the same communities; so on one operator whose accounts pick their prompts at random from one pool (held-out
A's codeharvest: 90 accounts, code snippets each under six asks) it found three "operators" of 62, 14 and 14.

The test
========
For a cluster the split would cut into large parts, count the *cross uses* ``O``: distinct (account, key) links
of an account of one large part on a key another large part *owns* — holds >= ``split.content_own_share`` (0.9) of
its users, so a key several parts use alike (a relayed customer pool, a public scaffold) is nobody's and says
nothing. Ownership is read off the accounts of even index and the cross uses counted on the accounts of odd index:
read off the same links, a key is owned where its part happened to use it most, which alone pulled ``O`` to about
half its expectation on random graphs. **H0** (one operator): the cluster's account-key graph is a configuration
model of its own degrees (:func:`~stillwatch.guard.score.exclusive.use_probabilities`: account ``i`` with ``d_i``
keys uses key ``x`` with ``p_ix = 1 - exp(-theta_x d_i)``, ``theta_x`` fitted to the key's users; Newman, Strogatz &
Watts 2001), under which the odd accounts of a part use the keys other parts own ``E = sum p_ix`` times, whatever
the even accounts did: ``O`` is then a sum of independent Bernoullis (ownership depends on the even accounts
only), whose lower tail is at most the Poisson's of the same mean for ``O <= E - 1`` (Anderson & Samuels 1967, as
:mod:`~stillwatch.guard.score.exclusive` uses it). The cut is kept only where ``O <= split.content_cross_share x E``
(0.5: twofold avoidance, the effect size) and ``P(Poisson(E) <= O) <= link.alpha / m`` (``m`` the clusters whose
cut is tested: Bonferroni); a cluster whose parts own no key (``E = 0``) has nothing to test and stays whole.

Measured (``notes/issue-13-guard.md``, eighteenth session; simulator seed 0 with the hard negatives, held-out A):
every cut of one operator's campaigns from another's, or of evaluation labs from a campaign, at ``O / E`` 0-0.13
with ``E`` 23-12,900 (reseller30's three resellers relaying one customer pool: 0 of 24 expected, Poisson
tail 3e-11); held-out A's
codeharvest (one operator, random snippet picks) owns no key at 0.9 (``E = 0``: kept whole, was cut 62 / 14 / 14).
Benign groups that label propagation cut (classes, power users) are kept whole where the avoidance is not
significant or ``O / E`` is 0.44-1.08.

Attacker model: the operator controls its accounts' prompts. The test only keeps a cluster whole (it never links
accounts); an operator who wants to look like several gives each account pool its own keys (``O`` then falls to
zero and the pools are cut apart, each with its own evidence, as before); one who wants to hide inside a benign
cluster gains nothing from it. Everything is numpy over the cut clusters' links; deterministic on every engine.
"""

from __future__ import annotations

import numpy as np

from stillwatch.guard.score.cluster import split_parts
from stillwatch.guard.score.exclusive import use_probabilities
from stillwatch.core.sets import unique_pairs


def cross_use(labels: np.ndarray, sub: np.ndarray, big: np.ndarray, ea: np.ndarray, ek: np.ndarray,
              own_share: float) -> tuple[np.ndarray, np.ndarray]:
    """``(O, E)`` per account (its cluster's values; 0 for accounts of clusters not cut): cross uses among the
    large parts of each cluster (``big``: per account, whether its part ``sub`` is large) and their expectation
    under the cluster's configuration model (module docstring). ``ea``/``ek``: the links (account, key), repeats
    allowed. Requires ``labels`` in [0, A) and ``sub`` to refine them."""
    a = len(labels)
    o_lab, e_lab = np.zeros(a), np.zeros(a)  # per cluster label
    # the clusters cut into >= 2 large parts: the only ones with anything to test
    lp_lab, _ = unique_pairs(labels[big], sub[big])
    cut = np.flatnonzero(np.bincount(lp_lab, minlength=a) >= 2)
    if not len(ea) or not len(cut):
        return o_lab[labels], e_lab[labels]
    pa_, pk = unique_pairs(ea, ek)
    in_cut = np.isin(labels[pa_], cut)
    pa_, pk = pa_[in_cut], pk[in_cut]
    o = np.argsort(labels[pa_], kind="stable")
    pa_, pk = pa_[o], pk[o]
    starts = np.flatnonzero(np.concatenate(([True], labels[pa_][1:] != labels[pa_][:-1])))
    ends = np.append(starts[1:], len(pa_))
    for s, e in zip(starts, ends):  # one pass per cut cluster (a handful per log), numpy inside
        acc, key = pa_[s:e], pk[s:e]
        part = np.where(big[acc], sub[acc], -1)  # accounts of small parts take no side
        parts = np.unique(part[part >= 0])
        uk, kinv = np.unique(key, return_inverse=True)
        users = np.bincount(kinv, minlength=len(uk)).astype(np.float64)
        # ownership is read off the accounts of even index, cross uses counted on the others: read off the same
        # links, a key is owned where its part happened to use it most, which pulls O to about half of E under H0
        even = acc % 2 == 0
        e_users = np.bincount(kinv[even], minlength=len(uk)).astype(np.float64)
        owner = np.full(len(uk), -1, np.int64)
        for q in parts:  # a part owns the keys it holds >= own_share of the (even) users of
            held = np.bincount(kinv[even & (part == q)], minlength=len(uk))
            owner = np.where((e_users > 0) & (held >= own_share * e_users), q, owner)
        ua, ainv = np.unique(acc, return_inverse=True)
        deg, dinv, n_deg = np.unique(np.bincount(ainv), return_inverse=True, return_counts=True)
        p = use_probabilities(deg, n_deg, users)  # [D, K]
        apart = np.where(big[ua] & (ua % 2 == 1), sub[ua], -1)  # the odd accounts' side
        obs, exp = 0.0, 0.0
        for q in parts:
            other = (owner >= 0) & (owner != q)  # keys another large part owns
            obs += float(np.count_nonzero((part == q) & ~even & other[kinv]))
            nd = np.bincount(dinv[apart == q], minlength=len(deg)).astype(np.float64)
            exp += float(nd @ p[:, other].sum(axis=1))
        o_lab[labels[acc[0]]], e_lab[labels[acc[0]]] = obs, exp
    return o_lab[labels], e_lab[labels]


def cut_beyond_chance(labels: np.ndarray, sub: np.ndarray, ea: np.ndarray, ek: np.ndarray, cfg) -> np.ndarray:
    """``sub`` where its cut of a cluster passes the test (module docstring), the cluster's own label elsewhere
    (``cfg``: a :class:`~stillwatch.guard.score.config.DetectConfig`)."""
    from stillwatch.core.stats import poisson_lower_log

    obs, exp = cross_use(labels, sub, split_parts(labels, sub, cfg.split)[0], ea, ek, cfg.split.content_own_share)
    tested = exp > 0
    m = max(len(np.unique(labels[tested])), 1)  # Bonferroni over the cuts tested
    log_p = np.where(tested, poisson_lower_log(np.floor(obs), np.maximum(exp, 1e-12)), 0.0)
    keep = tested & (obs <= cfg.split.content_cross_share * exp) & (log_p <= np.log(cfg.link.alpha / m))
    return np.where(keep, sub, labels)
