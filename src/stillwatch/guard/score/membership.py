"""Outsiders of a campaign: accounts that a cluster took in through public content alone and that
do not behave like the operator's accounts (issue 13: evaluation labs re-running a public benchmark
built from the scaffolds a campaign also uses).

Content keys link every account that pushes its traffic through a campaign's scaffolds; a lab
running a benchmark built from the same public scaffold bank does so as much as any sybil, and so
joins the cluster and inherits its score. Nothing in the content separates them: what separates
them is the *operator* evidence the campaign's score rests on, which the lab does not share.

The operator core
=================
A member of a cluster is in its *core* when a null-model test ties it to the cluster's operator:
it sits in a significant (cluster, address / card) cell — the cluster's members crowd onto that
value beyond what a random subset of the log's accounts would (the hypergeometric test of
:mod:`~stillwatch.guard.score.wrappers`, Bonferroni over every (cluster, value) cell) —, or it has a
cohort or synchronised-timing link (:mod:`~stillwatch.guard.score.nullmodel`,
:mod:`~stillwatch.guard.score.timing`) to another member. Shared rare *content* does not make a core
(two labs running one public benchmark share its rare prompts: a common source, not an operator).

The outsider test
=================
**H0** (the member is one more account of the operator that runs the cluster): its workload is
exchangeable with the workloads of the cluster's core accounts — a scheduler spreads its work over
its accounts alike (the same argument as :func:`~stillwatch.guard.score.links.split_by_workload`).
With ``k`` core accounts (the member itself left out), the rank of the member's ``ln n`` among the
``k + 1`` values gives the exact conformal p-value (Vovk, Gammerman & Shafer 2005, *Algorithmic
Learning in a Random World*, ch. 2; ties counted against the test)

    ``p = min(1, 2 min(#{core <= x} + 1, #{core >= x} + 1) / (k + 1))``

(its upper side, ``min(1, 2 (#{core >= x} + 1) / (k + 1))``, is what is tested: below),

which can reach ``alpha`` only when ``k >= 2 / alpha - 1`` (199 at 0.01): a small core cuts nobody.
The whole cluster is not used as the reference when the core is small: at ``alpha`` per account
that cuts about ``alpha`` of a core-less campaign's own accounts (the extremes of any workload
spread; measured: 16 of 2,800 in a two-pool test, 25 of a 7,000-account swarm), too many against an
account-level detection goal of 0.99.

**The core's selection, and why only the upper side is tested.** Exchangeability holds only if
whether an operator's account is tied to the core does not depend on its workload, and it does: every
tie grows likelier with an account's traffic (more rows reach more addresses and cards, and a first
request counts as an arrival for a cohort tie only when the account is active in enough hours of its
span, :func:`~stillwatch.guard.score.nullmodel.arrivals`). Measured on the simulator's cohort family
(seed 1, 320,000 rows): the 181 accounts of one campaign all first appear within one hour, 60-120
requests each, but only the 4 heaviest (112-120 requests) pass the arrival rule, so they alone form
the core, and the lower-side test below cut the 96 accounts under 112 requests off their own campaign
(a random core of 4 lands in the top 31 of 181 with probability ``C(31, 4) / C(181, 4) = 7.3e-4``).
The tests therefore read **H0'**: the member is one of the operator's accounts, and the chance that
an operator's account is tied to the core is non-decreasing in its workload. A selection that
favours heavy accounts moves the core up among the cluster's workloads, so the number of untied
accounts above every core value (and one account's rank from the top) is stochastically no larger
than under exchangeability: the upper-side p-values below stay valid (conservative). The lower side
is not valid under H0' (the light accounts lie below a heavy core by the selection alone) and is not
tested: an account below every core value stays a member. Each side keeps the level it had in the
two-sided test (``alpha / 2``).

A member is an *outsider* when it is not in the core, shares no address or card with a core member,
has no null-model link (of any kind, shared rare content included) to a core member, and ``p <=
LinkConfig.alpha``: the chance that one of the operator's own accounts is cut off this way is at most
``alpha`` per account.

**Several outsiders together** (a small core). Under the same H0 the untied members ``U`` (``m`` of
them: not in the core, no tie to it) and the ``k`` core accounts are exchangeable in ``ln n``. The
number ``T`` of untied members above every core value is ``>= t`` only if the top ``t`` of the ``k + m``
values all belong to ``U``, which has the exact probability ``C(m, t) / C(k + m, t)`` (ties counted
against the test). When that probability is ``<= alpha / 2`` the ``T`` members above the core are
outsiders — four labs at 600-900 requests above a core of
20 cohort-tied sybils at 201 each: ``1 / C(24, 4) = 9.4e-5``, where no single member's rank can reach
``alpha`` (``2 / 21``). The chance of cutting the operator's own accounts this way is at most ``alpha``
per cluster.
**Repetition** (:mod:`~stillwatch.guard.score.repetition`; the rule that also works without a
core). A harvest wants new answers; an evaluation lab sends the same benchmark prompts pass after pass.
A member that repeats at least half of its rows and whose re-sent rows (rows whose prompt it sends more
than once) lie far beyond what the cluster's reference accounts (its core and the members tied to it;
without a core, all its members) would send, is an outsider too, at about ``alpha`` per cluster (the
module states its null model).

Outsiders leave the cluster; those of one cluster and one kind (workload, repetition) that the linking
keys still join form their own cluster (:func:`split_outsiders`), judged on its own evidence like any other.

Attacker model
==============
The operator controls its accounts' content, addresses, cards, timing and workloads. What must hold:
a campaign whose accounts crowd addresses, arrive together or act in step keeps every account that
shares any of that with them, or that works at the core's level (one scheduler's work); an account
that shares nothing with the operator but public content and works above every core account
is judged as what it then is — an independent user of that content — on its own evidence, together
with any other outsiders it is linked to. An independent user lighter than every core account is
not cut by workload (the lower side is not tested) and keeps inheriting the campaign's score unless
it repeats itself (below). An operator that runs a few accounts at a much higher
workload and on separate infrastructure can thereby split them off its campaign; they keep their own
score (and their own cluster's). A cluster without a core of >= 199 accounts (no crowding, cohort
or timing: e.g. sybils on residential proxies, a human-paced swarm) is never cut by workload: an outsider there
keeps inheriting the campaign's score (held-out and simulator figures say where that happens),
unless it repeats itself beyond the cluster's own repetition rate. An operator that makes some accounts
re-send their prompts to leave the cluster pays for it in what they obtain: their repeated prompts
bring no new prompt (several samples of one answer at most), and those accounts are judged on their
own harvest evidence, which is weighted by their novelty.

Vectorised over accounts and edges: sorts, bincounts and one join; no loop per cluster or account.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import gammaln

from stillwatch.guard.score import cluster as _cluster
from stillwatch.guard.score.repetition import repeats_beyond
from stillwatch.guard.score.wrappers import crowded_edges

if TYPE_CHECKING:  # pragma: no cover - typing only
    from stillwatch.guard.score.config import DetectConfig
    from stillwatch.guard.score.nullmodel import NullLinks


def operator_core(labels: np.ndarray, infra: Sequence[tuple[np.ndarray, np.ndarray]], nl: "NullLinks",
                  alpha: float) -> np.ndarray:
    """Per account: in its cluster's operator core (module docstring). Singletons never are."""
    a = len(labels)
    size = _cluster.sizes(labels)
    core = np.zeros(a, bool)
    mem = np.flatnonzero(size >= 3)
    if len(mem):
        core[mem] = crowded_edges(mem, labels[mem], infra, a, alpha)
    # cohort and timing ties to another member of the same cluster
    core |= nl.support(labels, pairs=False) <= alpha
    if nl.pair_timing is not None and len(nl.pair_a):
        t = nl.pair_timing & (labels[nl.pair_a] == labels[nl.pair_b])
        core[nl.pair_a[t]] = True
        core[nl.pair_b[t]] = True
    return core & (size >= 2)


def conformal_p(labels: np.ndarray, x: np.ndarray, ref: np.ndarray, upper: bool = False) -> np.ndarray:
    """Per account: the two-sided conformal p-value of ``x`` among the values of its cluster's
    reference accounts ``ref``, itself left out (module docstring); 1 where there are none. With
    ``upper``, its upper side only at the same level per side, ``min(1, 2 (#{ref >= x} + 1) / (k + 1))``.
    Vectorised: (cluster, rank of x) codes, one sort of the reference codes and four ``searchsorted``."""
    a = len(labels)
    lab = np.asarray(labels, np.int64)
    rank = np.unique(np.asarray(x, np.float64), return_inverse=True)[1].astype(np.int64).ravel()
    m = np.int64(rank.max() + 1 if len(rank) else 1)
    ci = np.flatnonzero(ref)
    code_c = np.sort(lab[ci] * m + rank[ci])
    code_q = lab * m + rank
    le = np.searchsorted(code_c, code_q, side="right") - np.searchsorted(code_c, lab * m, side="left")
    ge = np.searchsorted(code_c, lab * m + m, side="left") - np.searchsorted(code_c, code_q, side="left")
    own = np.asarray(ref, bool).astype(np.float64)  # an account never counts against itself
    le, ge = le - own, ge - own
    k = np.bincount(lab[ci], minlength=a)[lab].astype(np.float64) - own
    p = np.minimum(1.0, 2.0 * (ge + 1.0 if upper else np.minimum(le + 1.0, ge + 1.0)) / (k + 1.0))
    return np.where(k > 0, p, 1.0)


def outsiders(labels: np.ndarray, n_rows: np.ndarray, infra: Sequence[tuple[np.ndarray, np.ndarray]],
              nl: "NullLinks", cfg: "DetectConfig", distinct: np.ndarray | None = None,
              once: np.ndarray | None = None) -> np.ndarray:
    """Per account (int8): 0 a member of its cluster, 1 an outsider by its workload (the rank tests),
    2 an outsider by its repetition (module docstring). ``distinct``: distinct prompts as sent per
    account, ``once``: those sent exactly once (the repetition test, :func:`repeats_beyond`; skipped
    when ``distinct`` is None)."""
    a = len(labels)
    alpha = cfg.link.alpha
    size = _cluster.sizes(labels)
    core = operator_core(labels, infra, nl, alpha)
    if not core.any():
        if distinct is None:
            return np.zeros(a, np.int8)
        every = size >= 2  # no core anywhere: each member against the cluster's other members
        return 2 * repeats_beyond(labels, n_rows, distinct, every, every, alpha, once).astype(np.int8)
    tied = core.copy()
    # shares an address or card with a core member of its own cluster
    for acc_v, val_v in infra:
        if len(acc_v) == 0:
            continue
        vals, vinv = np.unique(val_v, return_inverse=True)
        cell = labels[acc_v].astype(np.int64) * np.int64(len(vals)) + vinv
        cells, cinv = np.unique(cell, return_inverse=True)
        with_core = np.bincount(cinv, weights=core[acc_v].astype(np.float64), minlength=len(cells))
        tied[acc_v[with_core[cinv] > 0]] = True
    # a null-model link of any kind to a core member of its own cluster
    same = labels[nl.pair_a] == labels[nl.pair_b]
    tied[nl.pair_a[same & core[nl.pair_b]]] = True
    tied[nl.pair_b[same & core[nl.pair_a]]] = True
    x = np.log(np.maximum(np.asarray(n_rows, np.float64), 1.0))
    p = conformal_p(labels, x, core, upper=True)  # upper side only (module docstring: the core's selection)
    out = (~tied & ((p <= alpha) | beyond_core(labels, x, core, ~tied & (size >= 2), alpha)) & (size >= 2)).astype(np.int8)
    if distinct is not None:
        # reference: the core and the members tied to it; a cluster without a core: all its members
        has_core = np.bincount(labels[core], minlength=a)[labels] > 0
        ref = np.where(has_core, tied, size >= 2)
        out[repeats_beyond(labels, n_rows, distinct, ~tied & (size >= 2), ref, alpha, once)] = 2
    return out


def beyond_core(labels: np.ndarray, x: np.ndarray, core: np.ndarray, cand: np.ndarray, alpha: float) -> np.ndarray:
    """Per account: a candidate ``cand`` above every core value of its cluster where the exact
    probability that that many candidates do so by chance, ``C(m, t) / C(k + m, t)``, is ``<= alpha / 2``
    (module docstring: several outsiders together; the lower side is not tested, see the core's selection)."""
    a = len(labels)
    lab = np.asarray(labels, np.int64)
    x = np.asarray(x, np.float64)
    core = np.asarray(core, bool)
    cand = np.asarray(cand, bool) & ~core
    hi = np.full(a, -np.inf)
    np.maximum.at(hi, lab[core], x[core])
    k = np.bincount(lab[core], minlength=a).astype(np.float64)
    m = np.bincount(lab[cand], minlength=a).astype(np.float64)
    above = cand & (x > hi[lab])
    t = np.bincount(lab[above], minlength=a).astype(np.float64)
    heads = np.flatnonzero((t > 0) & (k > 0))
    if not len(heads):
        return np.zeros(a, bool)
    kk, mm, tt = k[heads], m[heads], t[heads]
    # C(m, t) / C(k + m, t) = [m! / (m - t)!] / [(k + m)! / (k + m - t)!]
    ln_p = gammaln(mm + 1) - gammaln(mm - tt + 1) - gammaln(kk + mm + 1) + gammaln(kk + mm - tt + 1)
    sig = np.zeros(a, bool)
    sig[heads] = ln_p <= np.log(alpha / 2.0)
    return above & sig[lab]


def split_outsiders(labels: np.ndarray, out: np.ndarray, ea: np.ndarray, ek: np.ndarray) -> np.ndarray:
    """Move the outsiders ``out`` (:func:`outsiders`' codes, or booleans) out of their clusters: those of
    one cluster and one kind (workload, repetition) joined by the linking edges ``(ea, ek)`` among
    themselves form one cluster, the others stand alone — a lab that left for its repetition is not
    joined again to the operator's accounts that left for their workload. Only keys that no remaining
    member of the cluster holds join outsiders again: a key the campaign they left also holds is what
    linked them to it (held-out E seed 46: six apps relaying popular questions were linked into the
    ``wrapped`` campaign through those questions' template suffixes, left it as outsiders, and were then
    joined among themselves through the same public keys into a "campaign" of apps). Attacker model: an
    operator's accounts that leave a campaign as outsiders and share only its keys each stand alone on
    their own scores; what they share only among themselves still joins them. Labels stay the smallest
    member's index."""
    kind = np.asarray(out).astype(np.int64)
    if not kind.any():
        return labels
    a = len(labels)
    with np.errstate(over="ignore"):
        h = np.asarray(ek, np.int64).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    # (key, cluster) codes of the keys the cluster's remaining members hold
    at = (h ^ labels[ea].astype(np.uint64)).view(np.int64)
    keep = (kind[ea] > 0) & ~np.isin(at, at[kind[ea] == 0])
    # keys are taken per original cluster and kind, so outsiders of two clusters are never joined
    mixed = (h[keep] ^ (labels[ea[keep]].astype(np.uint64) * np.uint64(4)
                        + kind[ea[keep]].astype(np.uint64))).view(np.int64)
    comp = _cluster.components(a, ea[keep], mixed)
    new = np.where(kind > 0, a + comp, labels)
    first = np.full(2 * a, a, np.int64)
    np.minimum.at(first, new, np.arange(a, dtype=np.int64))
    return first[new]
