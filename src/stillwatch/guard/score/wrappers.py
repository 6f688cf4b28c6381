"""Wrappers with a popularity null of their own: when one system prompt shared by many accounts is
evidence of coordination.

A *wrapper* (:func:`~stillwatch.guard.score.links.key_link_stats`) is a content key on nearly every
request of its users over ordinary traffic: a system prompt, a tool's boilerplate, an instruction
scaffold. It is **one choice per account**, so how many rows carry it says nothing, and neither does
how many accounts chose it on its own: a framework's default system prompt is chosen by thousands
of unrelated developers, an internal tool's by every employee of a firm, and the log's distribution
of wrapper popularity cannot tell a popular default from a large campaign (one campaign *is* the
tail of that distribution). What unrelated accounts choosing one wrapper by chance do not do is
crowd onto the same few addresses and payment instruments.

Null model
==========
**H0** (the wrapper's users chose it independently of where they run): the ``f_k`` users of wrapper
``k`` are a uniformly random ``f_k``-subset of the log's ``A`` accounts as far as their
infrastructure goes. An infrastructure value ``v`` (an IP address, a payment fingerprint) used by
``N_v`` accounts of the log then holds

    ``X_kv ~ Hypergeometric(A, N_v, f_k)``

of the wrapper's users, exactly (whatever else each account uses), and a cell's p-value is the
upper tail ``P(X_kv >= x)``, bounded from above by the exact pmf at ``x`` over ``1 - r_x`` (a
geometric series, :func:`hypergeom_tail`; conservative, and the exact tail for a cell holding all
it can). The cells tested are every (wrapper with ``f_k >= 3``, value with ``N_v >= 2``) pair of each infrastructure kind; a cell is
significant when its p-value times their number (Bonferroni) is ``<= LinkConfig.alpha``, so the
chance that a log of unrelated wrapper users gets any significant cell is at most ``alpha``, and it
must hold ``>= 2`` of the wrapper's users. Everything is read off the log being scanned (``A``,
``N_v``, ``f_k``); no constant is fitted to a simulator. A wrapper's edge is *tied* when its account
is in a significant cell of that wrapper: only those users are linked by it (a campaign of 300
accounts on 24 addresses inside a default prompt's 5,000 users links the 300, not the 5,000), and
the key rules still need >= 3 tied users (:func:`~stillwatch.guard.score.links.key_link_stats`).

Attacker model
==============
The operator controls the wrapper text, how many accounts use it, their addresses and their cards.
What must hold: a campaign pushing its accounts through one wrapper from a proxy pool, a handful of
datacenter addresses or shared cards (held-out A's alpaca: 300 accounts, one Alpaca scaffold, 24
addresses) is linked by its wrapper, because that crowding is far beyond chance in the log's own
address population; unrelated apps and developers choosing one wrapper from their own addresses are
never linked by it (their users are spread over addresses like everyone else). A campaign that gives
every account its own residential address and card is not linked by its wrapper: it is linked by
what it sends under it (scaffolds, near-duplicates, the pair, timing and cohort tests of
:mod:`~stillwatch.guard.score.nullmodel`), or not at all. A company whose employees share a NAT
address, a card and an internal tool's system prompt *is* linked (they are coordinated — by their
employer); whether the group is a harvest is the campaign score's question (human pace, human-scale
rate), not the link's.

Vectorised: one join of the wrapper edges with each kind's (account, value) edges through a sort by
account; no loop per account, wrapper or value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy.special import gammaln

from stillwatch.core.sets import equal_pairs, unique_pairs

#: Infrastructure kinds a wrapper's users are tested on (the pair tests' infrastructure kinds).
WRAPPER_INFRA_KINDS: tuple[str, ...] = ("ip", "payment")


def infra_edges(edges: Mapping) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (account index, value key) arrays of each kind of :data:`WRAPPER_INFRA_KINDS` in ``edges``."""
    return [(np.asarray(edges[k][0], np.int64), np.asarray(edges[k][1], np.int64))
            for k in WRAPPER_INFRA_KINDS if k in edges]


def hypergeom_tail(x: np.ndarray, m: int, n: np.ndarray, f: np.ndarray) -> np.ndarray:
    """``P(X >= x)`` for ``X ~ Hypergeometric(m, n, f)`` (population ``m``, ``n`` marked, ``f``
    drawn), bounded from above in closed form: the pmf at ``x`` is exact (log-gamma), and since the
    pmf's ratio ``r_k = P(k+1)/P(k) = (n-k)(f-k) / ((k+1)(m-n-f+k+1))`` falls with ``k``, the tail
    is at most ``P(x) / (1 - r_x)`` when ``r_x < 1`` (a geometric series; exact when ``x`` is the
    largest value, within a factor ``1/(1 - r_x)`` otherwise); 1 where ``r_x >= 1`` (at or below
    the mode, never significant). Conservative, so every test built on it keeps its level.
    Vectorised: one pass of log-gamma over the cells (``scipy.stats.hypergeom.sf`` took 44 s for
    200,000 cells)."""
    x, n, f = (np.asarray(v, np.float64) for v in (x, n, f))
    m = float(m)
    hi, lo = np.minimum(n, f), np.maximum(0.0, f + n - m)
    ok = (x <= hi) & (x > lo)

    def lc(a, b):  # log C(a, b)
        return gammaln(a + 1.0) - gammaln(b + 1.0) - gammaln(a - b + 1.0)

    xs = np.where(ok, x, 0.0)
    logp = lc(n, xs) + lc(m - n, np.clip(f - xs, 0.0, m - n)) - lc(m, f)
    r = (n - xs) * (f - xs) / ((xs + 1.0) * np.maximum(m - n - f + xs + 1.0, 1e-300))
    tail = np.exp(logp) / np.maximum(1.0 - r, 1e-300)
    return np.where(x > hi, 0.0, np.where(ok & (r < 1.0), np.minimum(tail, 1.0), 1.0))


def wrapper_cells(ea: np.ndarray, ek: np.ndarray, infra: Sequence[tuple[np.ndarray, np.ndarray]],
                  n_accounts: int) -> tuple[list[tuple[np.ndarray, np.ndarray, np.ndarray]], int]:
    """The tested cells of every kind and the number of tests: per kind ``(edge rows, cell index,
    cell p-value per row)`` — each wrapper edge row in a cell of that kind, with its cell's
    hypergeometric tail (:func:`hypergeom_tail`) — and the Bonferroni count (module docstring)."""
    ea, ek = np.asarray(ea, np.int64), np.asarray(ek, np.int64)
    keys, kinv, fan = np.unique(ek, return_inverse=True, return_counts=True)
    n_keys = int((fan >= 3).sum())
    out, n_tests = [], 0
    for acc_v, val_v in infra:
        p_val, p_acc = unique_pairs(val_v, acc_v)
        vals, vinv, n_v = np.unique(p_val, return_inverse=True, return_counts=True)
        n_tests += n_keys * int((n_v >= 2).sum())
        left, right = equal_pairs(ea, p_acc)
        ok = (fan[kinv[left]] >= 3) & (n_v[vinv[right]] >= 2)
        left, right = left[ok], right[ok]
        cell = kinv[left].astype(np.int64) * np.int64(max(len(vals), 1)) + vinv[right]
        _, cinv, x = np.unique(cell, return_inverse=True, return_counts=True)
        p = hypergeom_tail(x[cinv], n_accounts, n_v[vinv[right]], fan[kinv[left]])
        out.append((left, cinv, p))
    return out, n_tests


def crowded_edges(ea: np.ndarray, ek: np.ndarray, infra: Sequence[tuple[np.ndarray, np.ndarray]],
                       n_accounts: int, alpha: float) -> np.ndarray:
    """Per wrapper edge ``(ea, ek)`` (one per account and wrapper key): whether its account is in a
    significant (wrapper, infrastructure value) cell of >= 2 of the wrapper's users (module docstring)."""
    tied = np.zeros(len(ea), bool)
    if len(ea) == 0 or n_accounts < 2:
        return tied
    cells, n_tests = wrapper_cells(ea, ek, infra, n_accounts)
    for left, cinv, p in cells:
        x = np.bincount(cinv, minlength=int(cinv.max()) + 1 if len(cinv) else 0)[cinv]
        tied[left[(x >= 2) & (p * n_tests <= alpha)]] = True
    return tied
