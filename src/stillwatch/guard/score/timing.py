"""Synchronised-timing links with a stated null model (issue 13): accounts that act in the same
minutes far more often than independent accounts keeping their own hours would.

This is SynchroTrap's question (Cao, Yang, Yu & Palow 2014, "Uncovering large groups of active
malicious accounts in online social networks", CCS: accounts whose actions fall into the same time
windows again and again) asked against a stated null instead of a fixed similarity threshold.

Model
=====
Time is cut into minutes (``MINUTE_US``); account ``a`` is *active* in minute ``k`` when it sent a
request in it. Its rate is read off the log per *slot* of ``SLOT_MINUTES`` consecutive minutes
(``H``: one slot of one day): ``c_a(H)`` = its active minutes in slot ``H``.

**H0** (independent accounts, each keeping its own hours): within slot ``H`` account ``a`` is
active in each minute with probability ``q_a(H) = c_a(H) / S`` (``S = SLOT_MINUTES``) — its own
rate in that slot —
independently of every other account. Two accounts then share a minute of slot ``H`` with
probability ``q_a(H) q_b(H)`` and their shared minutes are a sum of independent Bernoullis with mean

    ``mu_ab = sum_H c_a(H) c_b(H) / S``

Its upper tail is bounded by the Poisson tail of the same mean (Hoeffding 1956, Thm. 4), so
``p_ab = P(Poisson(mu_ab) >= X_ab)`` is a conservative p-value. The time-of-day profile enters
through each account's *own* activity, conditioned to the slot: people who happen to chat in the
same quarter of an hour of the same afternoon are active in the same slots, and within a slot
their minutes are close to independent — their shared minutes are what ``mu_ab`` predicts. A
coarser null would link them: an account's rate spread over every day, the population's
time-of-day profile (it would also link two independent services relaying people in every time
zone: round the clock by the superposition of many people, while the population sleeps), even a
clock hour (a person's session of twenty minutes packs its activity into a third of the hour, so
two sessions in the same hour share more minutes than hour-uniform rates predict, every day
anew). Accounts firing in lock-step (one scheduler sending at the same minutes) share minutes their
slot rates cannot explain; two scripts each busy in every minute of the same slots cannot be told
from independent ones at this resolution, and are not linked.

Pairs are enumerated from the quietest minutes up (fewest active accounts) until
``LinkConfig.pair_budget`` (pair, minute) rows; a pair's ``X_ab`` counts the shared minutes
enumerated (a lower bound on the true count, so the p-value stays conservative). A link exists
when ``p_ab`` times the number of **all** account pairs ``A (A - 1) / 2`` is ``<= LinkConfig.alpha``
(Bonferroni over every pair that could have been tested, whichever were). Like the other null
links, timing links join only accounts the key rules leave unlinked and each link is significant on
its own (:class:`~stillwatch.guard.score.nullmodel.NullLinks`), so no campaign grows through a chain
of weak ties and no timing link bridges two content clusters.

Inputs are minute indices and counts (never hash values), so Spark and DuckDB give the same links.
Numpy only: no loop per account, pair or row (a loop over chunks of pairs bounds memory).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from stillwatch.core.sets import unique
from stillwatch.guard.score.nullmodel import key_pairs, poisson_tail

if TYPE_CHECKING:  # pragma: no cover - typing only
    from stillwatch.guard.score.config import DetectConfig

#: One minute in microseconds: the width of a timing window. SynchroTrap's windows are minutes to
#: an hour; a minute is the finest scale at which a person's requests (tens of seconds apart within a
#: session) still fall into few windows, and a scheduler's lock-step shows.
MINUTE_US = 60_000_000
#: Minutes per slot in which an account's own rate is read (the null's conditioning). 10: shorter
#: than a person's session (so a session fills its slots about evenly), long enough that a
#: scheduler's few requests per slot are a rate, not a certainty (a slot of one minute would make
#: every shared minute expected).
SLOT_MINUTES = 10
_CHUNK = 500_000


def slot_counts(acc: np.ndarray, minute: np.ndarray, n_accounts: int):
    """Sparse ``(A, slots)``: each account's distinct active minutes per slot, ``c_a(H)``. Requires
    distinct (account, minute) rows (:func:`_distinct_active`)."""
    from scipy.sparse import coo_matrix

    hour = minute // SLOT_MINUTES
    hour = hour - (hour.min() if len(hour) else 0)
    return coo_matrix((np.ones(len(acc)), (acc, hour)), shape=(n_accounts, int(hour.max()) + 1 if len(hour) else 1)
                      ).tocsr()


def _distinct_active(ea: np.ndarray, minute: np.ndarray, n_accounts: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (account, minute) rows, sorted by minute then account: one 1-D ``np.unique`` of
    ``(minute - first) * n_accounts + account`` (a 2-column ``unique(axis=0)`` is several times slower).
    Requires ``0 <= ea < n_accounts``; the code fits int64 for any log shorter than ~10^5 years at
    10^8 accounts."""
    ea = np.asarray(ea, np.int64)
    minute = np.asarray(minute, np.int64)
    if len(ea) == 0:
        return ea, minute
    first = int(minute.min())
    code = unique((minute - first) * np.int64(n_accounts) + ea)
    return code % n_accounts, code // n_accounts + first


def cluster_minutes(labels: np.ndarray, ea: np.ndarray, minute: np.ndarray) -> np.ndarray:
    """Distinct active minutes of each account's cluster, aligned with the accounts (0 for an account alone in
    its cluster): the minute-crowding explanation of :func:`~stillwatch.guard.score.detect.verdicts`. ``labels``:
    (A,) cluster labels that are account indices (``0 <= labels < A``, as the link step's); ``ea``, ``minute``:
    the (account, minute) rows of ``edges["minute"]``, duplicates allowed. The rows of clusters of two or more
    accounts, relabelled by cluster, go through :func:`_distinct_active` (one sort, no loop over accounts or
    clusters); a cluster's count is its number of distinct (cluster, minute) rows."""
    labels = np.asarray(labels, np.int64)
    a = len(labels)
    if a == 0:
        return np.zeros(0)
    lab = labels[np.asarray(ea, np.int64)]  # [R] each row's cluster
    keep = np.bincount(labels, minlength=a)[lab] >= 2  # singletons' rows left out: their count stays 0
    cluster, _ = _distinct_active(lab[keep], np.asarray(minute, np.int64)[keep], a)
    return np.bincount(cluster, minlength=a).astype(np.float64)[labels]


def shared_minutes(ea: np.ndarray, minute: np.ndarray, n_accounts: int, budget: int
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(a, b, X)``: pairs ``a < b`` sharing active minutes and how many, enumerated from the
    quietest minutes up to ``budget`` (pair, minute) rows."""
    return _pairs(*_distinct_active(ea, minute, n_accounts), n_accounts, budget)


def _pairs(acc: np.ndarray, mins: np.ndarray, n_accounts: int, budget: int
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`shared_minutes` of distinct (account, minute) rows sorted by minute."""
    empty = np.zeros(0, np.int64)
    if len(acc) == 0:
        return empty, empty, empty
    keys, kinv, fan = np.unique(mins, return_inverse=True, return_counts=True)
    pairs_k = fan * (fan - 1) // 2
    order = np.argsort(fan, kind="stable")
    fits = np.cumsum(pairs_k[order]) <= budget
    take = np.zeros(len(keys), bool)
    take[order[fits]] = True
    sel = take[kinv] & (fan[kinv] >= 2)
    acc_s, key_s = acc[sel], kinv[sel]
    if len(acc_s) == 0:
        return empty, empty, empty
    _, lo, hi = key_pairs(acc_s, key_s, fan[key_s])
    codes, x = np.unique(lo * np.int64(n_accounts) + hi, return_counts=True)
    return codes // n_accounts, codes % n_accounts, x.astype(np.int64)


def expected_shared(counts, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``mu_ab = sum_H c_a(H) c_b(H) / S`` for each pair (module docstring); ``counts`` from
    :func:`slot_counts`."""
    out = np.empty(len(a))
    for s in range(0, len(a), _CHUNK):  # bounded memory: one chunk of pairs' sparse rows at a time
        pa_, pb_ = a[s:s + _CHUNK], b[s:s + _CHUNK]
        out[s:s + _CHUNK] = np.asarray(counts[pa_].multiply(counts[pb_]).sum(axis=1)).ravel()
    return out / float(SLOT_MINUTES)


def timing_links(ea: np.ndarray, minute: np.ndarray, n_accounts: int, cfg: "DetectConfig"
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Significant timing links ``(a, b, p)``, ``p`` Bonferroni-corrected over all account pairs
    (module docstring), ``p <= LinkConfig.alpha``."""
    ea = np.asarray(ea, np.int64)
    minute = np.asarray(minute, np.int64)
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    if len(ea) == 0 or n_accounts < 2:
        return empty
    acc, mins = _distinct_active(ea, minute, n_accounts)  # once, for the pairs and the slot rates
    a, b, x = _pairs(acc, mins, n_accounts, cfg.link.pair_budget)
    if len(a) == 0:
        return empty
    n_pairs = n_accounts * (n_accounts - 1) / 2.0
    # Exact pruning before the costly mu: every shared minute of slot H is an active minute of both
    # accounts there (c_a(H), c_b(H) >= s_H), so mu_ab >= sum_H s_H^2 / S >= X_ab / S, and the Poisson
    # tail grows with mu: a pair whose p at mu = X / S already exceeds alpha cannot be linked.
    can = np.minimum(poisson_tail(x, x / float(SLOT_MINUTES)) * n_pairs, 1.0) <= cfg.link.alpha
    a, b, x = a[can], b[can], x[can]
    if len(a) == 0:
        return empty
    mu = expected_shared(slot_counts(acc, mins, n_accounts), a, b)
    p = np.minimum(poisson_tail(x, mu) * n_pairs, 1.0)
    keep = p <= cfg.link.alpha
    return a[keep], b[keep], p[keep]
