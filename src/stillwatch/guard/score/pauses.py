"""The pause null of arrivals and departures: how many of a set of accounts the arrival and departure
rules would count inside a time window *although none of them arrived or left* (issue 13).

Why it is needed
================
:func:`~stillwatch.guard.score.nullmodel.departures` counts an account's last request as a departure when
an account active in a share ``f`` of its hours would have shown up, had it stayed, in the hours between that
request and the log's last day: ``(1 - f)^h <= cohort_fdr``. So an account that never left is still counted
with probability up to ``cohort_fdr`` (a person pausing), and — this is the point — *when* such a false
departure is counted is not spread like real departures: it can only fall before the account's own cut-off
``cut = E - h_min`` (``E`` the start of the log's granted last day, ``h_min = log(cohort_fdr) / log(1 - f)``),
and it piles up just before it, since a long silence is rare for a busy account. Busy accounts of similar
``f`` share that cut-off. On the simulator's agentic seed 2, 6 of 177 power users holding several keys were
counted as departed, all within one day — the day before their common cut-off — and the several-key departure
signal of :mod:`~stillwatch.guard.score.grouping` made them a campaign (corrected p 0.0054 under its
hypergeometric null, which compares the carriers with the log's other departures: mostly one-session users,
whose departures are real and spread over the week). The pause model below expects 8.7 counted departures
among those 177 accounts (6 observed) and 4.4 in that day (6 observed): the group is what pausing gives.
Arrivals mirror it: an account active since before the log is counted as arriving when unseen long enough
after the log's granted first day ``S``, and such false arrivals pile up just after ``S + h_min``.

Model (H0', the pause null)
===========================
None of the ``members`` (the accounts that could carry the signal, e.g. every account with several keys,
whether or not it has a counted time) arrived during the log or left before its end: each was active all
along, in each hour independently with probability ``f`` (the same model, with the same ``f`` and the same
granted first and last day, as the rules that count arrivals and departures). Then, with ``q = 1 - f``:

- departures: member j's last activity before ``E`` lies in ``[a, b]`` with probability
  ``q^((E - b) / 1 h) - q^((E - a) / 1 h)``, and it is counted only if that time is ``<= cut_j``; so its
  chance of a counted departure in the window ``[lo, hi)`` is that difference with ``a = max(lo, first_j)``,
  ``b = min(hi, cut_j)`` (0 when ``a >= b``). Summed over every window of a grid: ``<= q^h_min = cohort_fdr``.
- arrivals: member j's first activity after ``S`` lies in ``[a, b]`` with probability
  ``q^((a - S) / 1 h) - q^((b - S) / 1 h)``, counted only at ``>= S + h_min``: ``a = max(lo, S + h_min_j)``,
  ``b = min(hi, last_j)``. Members with an account-creation time are left out (their arrival is a fact).

The window's count of counted members is then a sum of independent Bernoullis with mean ``mu`` (the sum of
those chances), and ``P(Poisson(mu) >= x)`` bounds its upper tail for ``x >= mu + 1`` (Hoeffding 1956,
Thm. 4, as the item links of :mod:`~stillwatch.guard.score.nullmodel` use it); below that the p-value is 1.
Granting the last (first) day is generous to H0' (people keep diurnal hours; a pause that spans it is
likelier than the hour-by-hour model says), so ``mu`` is, if anything, overstated: conservative.

Attacker model: an operator controls when its accounts start and stop. Stopping them all at once long before
the log ends — the batch stop the departure signal is for — gives far more counted departures in one window
than pausing would (held-out D's spread: 174 accounts leaving over a few days, where pausing expects a handful
near each account's own cut-off); an operator stopping within ``h_min`` of the log's end, or staggering its
stops as pauses would fall, is not found by time (it was not before: such stops are not counted at all).

Everything is numpy over a [windows, members] block at a time (windows are the few candidate cells).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from stillwatch.guard.score.nullmodel import log_unseen_per_hour, poisson_tail

_HOUR_US = 3_600_000_000
#: candidate windows per [windows, members] block (bounds the block at ~ BLOCK x members floats)
BLOCK = 256
KINDS = ("arrival", "departure")


def pause_means(acc: Mapping[str, np.ndarray], kind: str, members: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                cohort_fdr: float) -> np.ndarray:
    """``mu`` [W] (float): the expected number of ``members`` (bool [A]) whose ``kind`` (``"arrival"`` or
    ``"departure"``) the rules of :mod:`~stillwatch.guard.score.nullmodel` would count inside each window
    ``[lo[w], hi[w])`` (microseconds) under the pause null (module docstring). Requires ``acc`` with ``n``,
    ``first_us``, ``last_us`` (and ``active_hours``, ``created_us`` where the log has them), equal-length
    ``lo`` / ``hi``, and ``0 < cohort_fdr < 1``."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if not 0.0 < cohort_fdr < 1.0:
        raise ValueError(f"cohort_fdr must be in (0, 1), got {cohort_fdr!r}")
    lo = np.asarray(lo, np.float64)
    hi = np.asarray(hi, np.float64)
    if lo.shape != hi.shape or lo.ndim != 1:
        raise ValueError(f"lo and hi must be 1-d of one length, got {lo.shape} and {hi.shape}")
    n = np.asarray(acc["n"], np.float64)
    first = np.asarray(acc["first_us"], np.float64)
    last = np.asarray(acc["last_us"], np.float64)
    m = np.asarray(members, bool) & (n >= 2)  # one-request accounts are never counted as arriving or leaving
    if kind == "arrival" and "created_us" in acc:
        m &= np.isnan(np.asarray(acc["created_us"], np.float64))  # a creation time is an arrival, not a guess
    out = np.zeros(len(lo))
    if not m.any() or not len(lo):
        return out
    lq = log_unseen_per_hour(acc)[m]  # [J] log q per hour, < 0
    with np.errstate(divide="ignore"):  # lq = 0 (never active): never counted, h_min infinite
        h_min = np.where(lq < 0, np.log(cohort_fdr) / np.minimum(lq, -1e-300), np.inf) * _HOUR_US  # [J] silence needed
    if kind == "departure":
        edge = float(np.max(last)) - 24 * _HOUR_US  # E: the log's last day is granted
        a0, b0 = first[m], edge - h_min  # counted only up to the cut-off
    else:
        edge = float(np.min(first)) + 24 * _HOUR_US  # S: the log's first day is granted
        a0, b0 = edge + h_min, last[m]  # counted only from S + h_min on
    for s in range(0, len(lo), BLOCK):  # a few candidate windows per block, all members at once
        a = np.maximum(lo[s:s + BLOCK, None], a0[None, :])  # [w, J]
        b = np.minimum(hi[s:s + BLOCK, None], b0[None, :])
        with np.errstate(invalid="ignore", over="ignore"):  # windows a member cannot be counted in: masked below
            p = _mass(kind, lq, edge, a, b)
        out[s:s + BLOCK] = np.where(a < b, p, 0.0).sum(axis=1)
    return out


def _mass(kind: str, lq: np.ndarray, edge: float, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The chance that a member's last (first) activity before (after) ``edge`` lies in ``[a, b]``."""
    if kind == "departure":
        return np.exp(lq * (edge - b) / _HOUR_US) - np.exp(lq * (edge - a) / _HOUR_US)
    return np.exp(lq * (a - edge) / _HOUR_US) - np.exp(lq * (b - edge) / _HOUR_US)


def pause_tail(x: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """``P(X >= x)`` bounded for ``X`` a sum of independent Bernoullis of mean ``mu``: the Poisson tail where
    ``x >= mu + 1`` (Hoeffding 1956, Thm. 4), else 1."""
    x = np.asarray(x, np.float64)
    mu = np.asarray(mu, np.float64)
    return np.where(x >= mu + 1.0, poisson_tail(x, mu), 1.0)
