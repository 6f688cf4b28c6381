"""Members of a cluster that re-send their prompts far beyond the cluster's own accounts (issue 13:
evaluation labs re-running a public benchmark built from the prompt bank a campaign also uses).

A harvest wants new answers: each request of a campaign's accounts asks something the account has
not asked before, but for retries and the repeats its own prompt source brings. An evaluation lab
sends the same benchmark pass after pass: two to five passes re-send a half to four fifths of its
rows. Its content ties it to the campaign (the same public scaffolds); its repetition does not.

The statistic
=============
Each account's ``D`` distinct prompts as sent, byte for byte, and ``S`` of them sent exactly once,
counted exactly over every row on both engines (``n_prompts_raw`` and ``n_once_raw`` of
:func:`~stillwatch.guard.features.tables.account_volume`; the live scorer's counts are exact up to
``Rhythm.max_sent`` distinct prompts and upper bounds beyond, as the batch's). Its *re-sent rows*
``d = n - S`` are the rows whose prompt the account sends more than once (each sending of it, the first
included); without ``S`` (an older table) its repeats ``n - D`` stand in. Both are lower bounds on the
same counts over normalised prompts (a counter or a timestamp makes two rows distinct).

Why re-sent rows and not repeats ``n - D``: the two separate *how* an account repeats. A benchmark
re-run sends every item again, so nearly every row is re-sent (two passes: ``d = n`` while ``n - D =
n / 2``); a reseller's customers re-ask a few popular questions many times while most of its rows
(its harvest slice, its customers' own questions) are asked once — measured on the simulator's
reseller30 family (seed 1): the 26 resellers of one campaign repeat 20-36 % of their rows and re-send
27-50 % (both growing with volume), the evaluation lab that joined them through the campaign's math
templates repeats 50 % and re-sends 100 %: by repeats the lab sat inside the heavier resellers' spread
and stayed in their campaign; by re-sent rows it is far outside it.

Who is tested
=============
Only members that repeat at least half of their rows (novelty ``D / n <= 1/2``, :data:`MAX_NOVELTY`:
on average every prompt sent at least twice — a benchmark run at least twice): an account asking
something new in most of its requests is harvest-shaped and keeps the cluster its content gave it,
whatever else it relays. Held-out C's two resellers (half their customers' traffic, half a harvest;
39 % of their rows repeat) sit in another campaign's cluster through the harvest's scaffolds; they
are not that operator's accounts, but cut off they form a pair whose own evidence stays below the flag
(campaign score 0.47) — and an account that still asks new questions in most of its requests is not
the evaluation behaviour this rule describes.

Null model (H0: the member is one more of the operator's accounts)
==================================================================
The operator's accounts each re-send at their own rate ``rho_j`` (retries, several samples per
prompt, a prompt source drawn with replacement: a reseller's customers re-ask popular questions, and
the more rows an account sends the more of them repeat), the rates spread around the operator's
typical rate; the member's rate is one more draw, and ``d`` is Binomial(``n``, ``rho``) given its rate.
The rates' law is taken as a Beta law calibrated on the member's *reference*: the cluster's reference
accounts (its operator core and the members tied to it; without a core, all its members —
score/membership.py) that repeat *less* than the member does (a smaller share ``d_j / n_j``), and that
are not outsiders already:

* its mean ``mu`` is the exact Clopper-Pearson upper limit at ``alpha / 2`` of their pooled rate
  ``sum d / sum n``;
* its variance ``s^2`` is the sample variance of their shares ``d_j / n_j`` (at least 2 accounts): it
  includes each account's binomial noise, so it over-states the spread of the rates (conservative).

The member's p-value is the exact upper tail ``P(X >= d)`` of the Beta-binomial law with that mean and
variance (the binomial at ``mu`` when ``s = 0``; no test when ``s^2 >= mu (1 - mu)`` — a reference
spread over the whole range says nothing — or with fewer than 2 reference accounts), and it is an
outsider when the p-value is ``<= alpha / 2`` divided by the number of the cluster's candidates
(Bonferroni). Taking the reference below the member (and without the outsiders found so far, repeated
until none is added) keeps a few labs from hiding each other — two labs running one benchmark repeat
alike — at the price of a step-down test: the member is compared with the accounts that repeat less
than it does, so the level is about ``alpha`` per cluster rather than exactly (the Beta law of the rates
is a model too, made conservative by the binomial noise in its spread).

Known answers: a lab re-sending 480 of 600 (five passes of 120) among 400 sybils that repeat nothing
is a tail below 1e-300; accounts whose repeats grow with their volume (a reseller's customers re-ask
popular questions: shares 0.52-0.70 over one cluster) keep their heaviest account.

Attacker model
==============
The operator controls what its accounts send. To leave a campaign's cluster this way an account must
re-send its own prompts far more often than the operator's other accounts do — the repeats bring no new
prompt (several samples of one answer at most) —, and it is then judged on its own harvest evidence,
which is weighted by its novelty (score/extraction.py). What must hold: a campaign whose accounts all
repeat alike keeps them all (the reference is the campaign itself), and an account asking new
questions is never cut by this rule whatever its workload.
"""

from __future__ import annotations

import numpy as np
# scipy.stats is imported in the functions that use it: importing it costs ~1 s of start-up (the gateway and the
# CLI import this module whether or not a scan runs)

#: Highest novelty (distinct prompts / rows) of a member the rule tests. 1/2: every prompt sent at least
#: twice on average (a benchmark run at least twice); see "Who is tested".
MAX_NOVELTY = 0.5
#: Most passes of the step-down (each adds the outsiders found to what the others' references leave out).
_MAX_PASSES = 8


def _below(lab: np.ndarray, y: np.ndarray, ref: np.ndarray, cols: tuple[np.ndarray, ...]) -> list[np.ndarray]:
    """Per account: sums of each of ``cols`` over the reference accounts of its cluster whose ``y`` is
    strictly smaller than its own. (cluster, rank of y) codes, one sort, prefix sums, two searchsorted."""
    rank = np.unique(y, return_inverse=True)[1].astype(np.int64).ravel()
    m = np.int64(rank.max() + 1 if len(rank) else 1)
    ri = np.flatnonzero(ref)
    code = lab[ri] * m + rank[ri]
    o = np.argsort(code, kind="stable")
    code, ri = code[o], ri[o]
    lo = np.searchsorted(code, lab * m, side="left")
    hi = np.searchsorted(code, lab * m + rank, side="left")  # strictly below the account's own y
    out = []
    for c in cols:
        cum = np.r_[0.0, np.cumsum(c[ri])]
        out.append(cum[hi] - cum[lo])
    return out


def repeats_beyond(labels: np.ndarray, n_rows: np.ndarray, distinct: np.ndarray, cand: np.ndarray,
                   ref: np.ndarray, alpha: float, once: np.ndarray | None = None) -> np.ndarray:
    """Per account: a candidate ``cand`` that re-sends its prompts beyond its cluster's reference
    accounts ``ref`` (module docstring). ``distinct``: distinct prompts as sent per account (the
    candidates' gate, novelty ``<= 1/2``); ``once``: those sent exactly once (the statistic: re-sent rows
    ``n - once``; None: repeats ``n - distinct``). Requires ``0 < alpha < 1``; more distinct (or once-sent)
    prompts than rows count as none repeated. Vectorised: per pass one sort, prefix sums and one
    Beta-binomial tail per candidate."""
    from scipy.stats import beta, betabinom, binom
    a = len(labels)
    lab = np.asarray(labels, np.int64)
    n = np.round(np.maximum(np.asarray(n_rows, np.float64), 0.0))
    novel = np.clip(np.round(np.asarray(distinct, np.float64)), 0.0, n)
    d = n - (novel if once is None else np.clip(np.round(np.asarray(once, np.float64)), 0.0, n))
    y = np.where(n > 0, d / np.maximum(n, 1.0), 0.0)
    cand = np.asarray(cand, bool)
    # Bonferroni over every candidate of the cluster, the ones that repeat too little to be tested included
    m_cand = np.bincount(lab[cand], minlength=a)[lab].astype(np.float64)
    cand = cand & (n > 0) & (novel <= MAX_NOVELTY * n)  # at least half repeated
    ref = np.asarray(ref, bool) & (n > 0)
    out = np.zeros(a, bool)
    for _ in range(_MAX_PASSES):
        k, sy, syy, big_r, big_m = _below(lab, y, ref & ~out, (np.ones(a), y, y * y, d, n))
        test = cand & ~out & (d > 0) & (k >= 2) & (big_m > 0)
        if not test.any():
            break
        kt, r, m = k[test], big_r[test], big_m[test]
        s2 = np.maximum((syy[test] - sy[test] ** 2 / kt) / (kt - 1.0), 0.0)
        # exact upper confidence limit of a binomial rate (Clopper & Pearson 1934): the beta quantile
        mu = np.where(r < m, beta.ppf(1.0 - alpha / 2.0, r + 1.0, np.maximum(m - r, 1.0)), 1.0)
        dt, nt = d[test], n[test]
        p = np.ones(len(dt))
        flat = s2 <= 1e-15
        p[flat] = binom.sf(dt[flat] - 1.0, nt[flat], mu[flat])  # P(X >= d)
        wide = ~flat & (s2 < mu * (1.0 - mu))
        if wide.any():
            ab = mu[wide] * (1.0 - mu[wide]) / s2[wide] - 1.0  # a + b of the Beta law: that mean, variance
            p[wide] = betabinom.sf(dt[wide] - 1.0, nt[wide], mu[wide] * ab, (1.0 - mu[wide]) * ab)
        new = np.zeros(a, bool)
        new[np.flatnonzero(test)[p * m_cand[test] <= alpha / 2.0]] = True
        if not new.any():
            break
        out |= new
    return out
