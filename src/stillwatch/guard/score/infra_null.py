"""A campaign's shared infrastructure against the popularity of what it shares (issue 13).

The campaign signal ``shared_infrastructure`` used to be the share of a cluster's members on its most
common address, /24 or /48 prefix, payment fingerprint or user agent, whatever that value's
popularity: three evaluation labs on the SDK's default user agent (used by 394 of the ~7,100 accounts of
a week of held-out E) counted as fully as three accounts on one private proxy, and two casual users behind one
carrier NAT as much as a sybil pair on one card. This module states the null and measures the share
beyond it.

Null model (H0: the members are accounts drawn at random from the log, as far as this value goes)
=================================================================================================
A value ``v`` of one kind is used by ``U_v`` of the log's ``A`` accounts (exact: every account on a value
that two or more accounts use is in the edges). Under H0 a cluster of ``k`` members is a random
``k``-subset of the ``A`` accounts with respect to ``v``, so the number ``m`` of members on ``v`` is
hypergeometric, ``X ~ Hypergeom(A, U_v, k)``, and ``p_v = P(X >= m)`` is its exact upper tail (Fisher's
test of one margin; scipy's ``hypergeom.sf``). The cluster picks its most striking value among the
``V_c`` values of that kind its members use that at least two accounts of the log use (values used by
one account cannot be shared), so a value is *significant* when ``V_c p_v <= alpha`` (Bonferroni
over the cluster's values); the caller divides ``alpha`` by the number of clusters and kinds tested
(family-wise over the scan, as the people's volume null of
:mod:`~stillwatch.guard.score.volume_null`).

The share beyond chance
=======================
A significant value's *excess share* is ``(m - E) / (k - E)`` with ``E = k U_v / A`` the members on it by
chance: 1 when every member is on it, 0 at what chance gives (39 of 39 members on a user agent that a
quarter of the log uses: 1; 20 of 39: 0.35, not 0.51). The cluster's share is the largest excess share
of its significant values (0 when none is significant). A private value (``U_v`` close to ``m``) keeps
its plain share.

What it does not decide: whether sharing is benign. Colleagues behind one office address share a
rare value and pass this test; :mod:`~stillwatch.guard.score.campaign_signals` discounts shared
infrastructure of human-paced members for that (``CampaignConfig.office_discount``).

Attacker model
==============
The operator controls its accounts' addresses, cards and user agents, and can put its members on a
popular value (a common browser's user agent, a residential proxy provider's exit, a big cloud's NAT)
or spread them over many. What must hold: a value counts only when the members share it more often
than random accounts of the same log would (significant under the null, family-wise), and then only by
the share beyond chance. Members on a popular value in the proportion chance gives count nothing —
benign users behind one carrier NAT or on one browser are not made coordinated by it, and an operator
that spreads its accounts like the public does loses this evidence (it is then judged on content,
timing and volume); an operator that puts *all* its accounts on one popular value still shows it (``k``
of ``k`` on a value a share ``q`` of the log uses has probability about ``q^k``). More unrelated accounts
on a value only raise ``U_v``: the p-value grows and the share beyond chance falls (``(m - E) / (k - E)``
decreases in ``E`` for ``m <= k``), so nobody can raise a cluster's evidence by crowding its value.
"""

from __future__ import annotations

import numpy as np

from stillwatch.core.sets import unique_pairs

# scipy.stats is imported where it is used: importing it costs ~1 s of start-up (the gateway and the CLI load this
# module; tests/test_layers.py checks it)


def surprising_share(labels: np.ndarray, edge_acc: np.ndarray, edge_key: np.ndarray, size: np.ndarray,
                     alpha: float) -> np.ndarray:
    """Per account: its cluster's largest excess share over the values of one kind that are
    significant at ``alpha`` under the popularity null (module docstring); 0 for singletons and
    clusters with no significant value.

    ``labels``: (A,) each account's cluster label, an account index in ``[0, A)`` (the cluster's head);
    ``edge_acc``, ``edge_key``: (E,) one (account, value) per value an account uses (repeats allowed),
    holding every account of every value that two or more accounts use; ``size``: (A,) the size of
    each account's cluster. Requires 0 < alpha <= 1 and len(edge_acc) == len(edge_key)."""
    labels = np.asarray(labels, np.int64)
    size = np.asarray(size, np.int64)
    a = len(labels)
    out = np.zeros(a, np.float64)
    if len(edge_acc) == 0 or a == 0:
        return out
    p_acc, p_key = unique_pairs(edge_acc, edge_key)
    _, key_idx, fan = np.unique(p_key, return_inverse=True, return_counts=True)  # U_v per value
    key_idx = key_idx.ravel()
    shared = (fan[key_idx] >= 2) & (size[p_acc] >= 2)  # values that can be shared, in clusters
    if not shared.any():
        return out
    cl = labels[p_acc[shared]]
    ck, m = np.unique(np.stack([cl, key_idx[shared]], axis=1), axis=0, return_counts=True)  # (cluster, value)
    n_values = np.bincount(ck[:, 0], minlength=a)  # V_c
    cand = m >= 2
    if not cand.any():
        return out
    c, v, m = ck[cand, 0], ck[cand, 1], m[cand].astype(np.float64)
    k = size[c].astype(np.float64)
    u = fan[v].astype(np.float64)
    from scipy.stats import hypergeom

    p = hypergeom.sf(m - 1.0, a, u, k)  # P(X >= m), exact
    sig = p * n_values[c] <= alpha
    e = k * u / a
    excess = np.clip((m - e) / np.maximum(k - e, 1e-12), 0.0, 1.0)
    best = np.zeros(a, np.float64)
    np.maximum.at(best, c[sig], excess[sig])
    return best[labels]
