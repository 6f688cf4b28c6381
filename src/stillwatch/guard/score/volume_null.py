"""A campaign's volume against the same number of the log's own people.

A cluster's harvest evidence used to judge its extracted reading hours on a fixed scale (100 hours is
full evidence). That has no null model: 23 participants of one hackathon, created in the same hour
and working at a human pace for two days, read ~23 hours between them — what 23 of the log's own
people read —, and the fixed scale called it two thirds of a harvest. This module states the null and
calibrates it on the scanned log.

Null model (H0)
===============
A cluster of ``k`` accounts is ``k`` of the log's people: its members' extracted hours
(:mod:`~stillwatch.guard.score.extraction`) are ``k`` independent draws from the per-account extracted
hours of the log's **other human-paced accounts** (machine pacing below ``fire_threshold``; the
cluster's own members left out, so a campaign never raises its own reference). The test statistic is
the cluster's summed extracted hours ``h``.

The upper tail of the sum of ``k`` draws is bounded with the reference's exact empirical moment
generating function ``M(t) = mean(exp(t x))`` (Chernoff): ``P(S_k >= h) <= exp(k ln M(t) - t h)`` for
every ``t > 0``. No normal approximation: the bound holds at any ``k`` (a pair, a swarm) and for the
heavy right tail of people's volumes; it is conservative (a true tail is smaller). The *people's
volume* ``Q_k`` is the smallest ``h`` at which the bound reaches ``alpha``:
``Q_k = min_t (k ln M(t) + ln(1/alpha)) / t`` over a geometric grid of ``t`` (any ``t`` gives a valid
bound, so the grid's minimum is one too). ``Q_k`` is at most ``k`` times the reference's largest
value plus ``ln(1/alpha) / t_max`` (the grid's largest ``t``) and approaches ``k`` times its mean plus a
``sqrt(k)`` margin for large ``k``.
``alpha`` is ``link.alpha`` (0.01) divided by the number of clusters tested (Bonferroni: one cluster
in a hundred logs above its people's volume by chance).

Evidence: ``log(h / Q_k) / log(full_ratio)`` clipped to [0, 1] — 0 up to what ``k`` of the log's people
read, 1 at ``CampaignConfig.people_full_ratio`` (10: an order of magnitude) times that.

Leaving the members out: ``ln(sum_all - sum_members)`` of ``exp(t x)``; where that difference is not
numerically reliable (the members hold all but ``1e-12`` of the mass at some ``t``) that ``t`` is
dropped — the minimum over fewer ``t`` is still a valid, larger bound. With fewer than
``MIN_REFERENCE`` other human-paced accounts no null can be calibrated and ``Q_k`` is NaN (the caller
falls back to the fixed scale).

What it does not cover: members that are not human-paced (a machine reading is not a person reading;
:func:`~stillwatch.guard.score.campaign_signals.campaign_step` counts their volume on the fixed scale
in proportion to their pacing), and capability focus (judged on its own term).
"""

from __future__ import annotations

import numpy as np

#: Fewest other human-paced accounts a reference needs. 10: below it an empirical distribution of
#: people's volumes is not a distribution.
MIN_REFERENCE = 10
#: Grid of Chernoff exponents, in units of 1 / (the reference's mean hours): 1e-4 .. 1e4, 8 per decade.
_T_GRID = np.geomspace(1e-4, 1e4, 65)
#: Relative mass the members may hold at one exponent before that exponent is dropped (see above).
_RELIABLE = 1.0 - 1e-12


def _group_lse(z: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """(G, T) log-sum-exp of the rows of ``z`` (R, T) by ``groups`` (R,); -inf for empty groups.
    One sort and ``reduceat`` (no per-element scatter)."""
    out = np.full((n_groups, z.shape[1]), -np.inf)
    if len(groups) == 0:
        return out
    o = np.argsort(groups, kind="stable")
    g, zs = groups[o], z[o]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    gmax = np.maximum.reduceat(zs, starts, axis=0)  # (G', T), finite: every group has a row
    zs -= np.repeat(gmax, np.diff(np.r_[starts, len(g)]), axis=0)
    np.exp(zs, out=zs)
    out[g[starts]] = np.log(np.add.reduceat(zs, starts, axis=0)) + gmax
    return out


def people_volume(hours: np.ndarray, human: np.ndarray, labels: np.ndarray, size: np.ndarray,
                  alpha: float) -> np.ndarray:
    """``Q_k`` of each account's cluster (module docstring), broadcast to its members; NaN for
    singletons and where the reference is too small.

    ``hours``: (A,) each account's extracted hours (>= 0); ``human``: (A,) bool, human-paced;
    ``labels``: (A,) cluster label (the cluster's head index); ``size``: (A,) its cluster's size.
    Requires 0 < alpha < 1."""
    x = np.maximum(np.asarray(hours, np.float64), 0.0)
    human = np.asarray(human, bool)
    a = len(x)
    out = np.full(a, np.nan)
    ref = x[human]
    in_cl = np.asarray(size) >= 2
    if len(ref) < MIN_REFERENCE or not in_cl.any():
        return out
    t = _T_GRID / max(float(ref.mean()), 1e-6)  # (T,)
    top = float(ref.max())
    # (T,) log sum exp(t x) over the whole reference, one exponent at a time (no (R, T) matrix)
    lse_all = np.array([ti * top + np.log(np.exp(ti * (ref - top)).sum()) for ti in t])
    heads, inv = np.unique(labels[in_cl], return_inverse=True)
    g = len(heads)
    mem = in_cl & human
    gi = np.full(a, -1, np.int64)
    gi[in_cl] = inv
    lse_mem = _group_lse(x[mem][:, None] * t[None, :], gi[mem], g)  # (G, T)
    m_h = np.bincount(gi[mem], minlength=g).astype(np.float64)  # human-paced members per cluster
    n_ref = len(ref) - m_h  # (G,)
    ratio = np.exp(lse_mem - lse_all[None, :])  # members' share of the exp-mass, in [0, 1]
    ok = ratio <= _RELIABLE
    with np.errstate(divide="ignore", invalid="ignore"):
        ln_m = lse_all[None, :] + np.log1p(-np.where(ok, ratio, 0.0)) - np.log(np.maximum(n_ref, 1.0))[:, None]
        k = np.asarray(size, np.float64)[in_cl]
        k_g = np.zeros(g)
        k_g[inv] = k
        bound = (k_g[:, None] * ln_m + np.log(1.0 / alpha)) / t[None, :]
    q = np.min(np.where(ok, bound, np.inf), axis=1)
    q = np.where((n_ref >= MIN_REFERENCE) & np.isfinite(q), q, np.nan)
    out[in_cl] = q[inv]
    return out


def person_volume(hours: np.ndarray, human: np.ndarray, alpha: float) -> np.ndarray:
    """``Q_1`` of every account: the volume beyond which one account is not one of the log's people,
    at level ``alpha`` per account — the exact conformal upper quantile of the *other* human-paced
    accounts' hours (the account itself left out; Vovk, Gammerman & Shafer 2005, ch. 2).

    H0: the account's hours are exchangeable with the log's human-paced accounts'. With ``R``
    reference values, ``P(x > v_(j)) <= j / (R + 1) <= alpha`` for the ``j``-th largest value ``v_(j)``,
    ``j = floor(alpha (R + 1))`` (ties counted against the test). NaN where ``j < 1`` or the reference
    holds fewer than :data:`MIN_REFERENCE` accounts (no null: the caller keeps the fixed scale).
    Requires 0 < alpha < 1. One sort of the reference."""
    x = np.maximum(np.asarray(hours, np.float64), 0.0)
    human = np.asarray(human, bool)
    out = np.full(len(x), np.nan)
    ref = np.sort(x[human])[::-1]  # descending
    r = len(ref)
    for own, rr in ((False, r), (True, r - 1)):  # accounts outside / inside the reference
        j = int(np.floor(alpha * (rr + 1) + 1e-12))
        if rr < MIN_REFERENCE or j < 1:
            continue
        sel = human if own else ~human
        if not own:
            out[sel] = ref[j - 1]
        else:  # leaving itself out: an account among the top j moves the j-th largest down by one
            out[sel] = np.where(x[sel] >= ref[j - 1], ref[j] if j < r else np.nan, ref[j - 1])
    return out


def people_evidence(h: np.ndarray, q: np.ndarray, full_ratio: float) -> np.ndarray:
    """``log(h / Q_k) / log(full_ratio)`` clipped to [0, 1]; NaN where ``q`` is NaN. Requires full_ratio > 1."""
    h = np.asarray(h, np.float64)
    q = np.asarray(q, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = np.log(np.maximum(h, 0.0) / q) / np.log(full_ratio)
    return np.where(np.isnan(q), np.nan, np.clip(np.nan_to_num(e, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0))
