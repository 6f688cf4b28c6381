"""Account signals that hide in plain sight, each a count tested against its expected value under a
stated null model calibrated on the log being scanned (issue 13).

Every test gives an exact tail probability ``p`` for one account; across the ``A`` accounts of the
scan the family-wise statement is Bonferroni's ``p * A`` (Dunn 1961). :func:`fwer_evidence` maps it
to evidence in [0, 1]: 0 while ``p * A >= 1`` (the account is not surprising among this many),
rising log-linearly to 1 at ``p * A <= 10**-FWER_DECADES`` (a family-wise error of 1 %). A signal's
*evidence* is that significance times a *magnitude* stated against the human-feasible rate
(:mod:`~stillwatch.guard.features.rates`), so a surprising but small deviation (one person's busy
afternoon) stays weak, and a large but expected volume (a steady app backend) stays quiet.

Attacker model: the attacker controls its accounts' timing, keys and prompts, but must still obtain
its answers through them; each rule below names what it must give up to stay quiet.

* **burst against the account's own baseline** (:func:`burst`) — H0: up to its busiest day the
  account was *steady*: the ``n`` requests it sent from the start of its baseline (its creation
  time when the log records it, not before the log's start; else its first request) to the end of
  its busiest 24 hours fall independently and uniformly over those ``T`` days (at least one). Any
  24 consecutive hours lie inside one of ``ceil(T)`` aligned 48-hour windows, each holding
  ``Bin(n, 2/T)`` requests under H0, so ``P(peak 24 h >= k) <= ceil(T) * P(Bin(n, min(1, 2/T)) >=
  k)`` (a union bound on the scan statistic; Naus 1982 gives the sharper form). An account whose
  busiest day *is* its first (a one-off batch job, a new account) has no baseline to burst
  against (T = 1, p = 1) and is judged by its volume instead; an aged account — history in the
  log, or a creation time long before — that sends hundreds of requests in one night is surprising
  whatever its age. Magnitude: the account's busiest clock hour as a multiple of one person
  reading full-time (1 = a person could just keep up). To stay quiet the harvest must be spread
  over the account's whole life at a human rate.
* **key rotation** (:func:`key_rotation`) — H0: the account hands its traffic over from an
  abandoned key to a new one at the *population's* pooled rate per request ``lambda = sum r /
  sum n`` (everyone rotates keys now and then); its hand-overs ``r`` are ``Poisson(lambda * n)``.
  The account's history follows the account, not the key: many short-lived keys in sequence is
  itself the evidence. Magnitude: 1 (a hand-over is a deliberate act; the count is the statement).
* **fast sub-stream** (:func:`fast_substream`) — rows sent before one person could have read the
  previous answer (the gap shorter than that answer's reading time plus 5 s). H0: within each
  clock hour the account's requests arrive as a Poisson process at that hour's own rate (a
  reseller or app relaying many independent people is such a process, busier by day than by
  night): with ``c`` requests demanding ``d`` reading seconds in the hour, a gap is shorter than
  a mean reading ``d/c`` with probability ``1 - exp(-d/3600)``, and the expected fast rows are
  ``mu = sum c (1 - exp(-d/3600))`` (at least the population's median fast share times the
  account's gaps: what people in this log do); the fast rows are tested with the Poisson upper
  tail ``P(Poisson(mu) >= k)``, conservative against the Poisson-binomial count of independent
  gaps. A minority of an account's traffic produced by a program at machine speed (a reseller's
  nightly harvest among its customers' requests) is far beyond it. Magnitude: the
  reading hours those rows demanded, on the campaign volume scale (``full_harvest_hours``). To stay
  quiet the harvest must wait for a reader between answers.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

#: Family-wise evidence is full at ``p * A <= 10 ** -FWER_DECADES``: 2, a 1 % family-wise error
#: over the scan's accounts. Between ``p * A = 1`` and there it rises linearly in ``-log10``.
FWER_DECADES = 2.0
_DAY_US = 86_400e6


def fwer_evidence(p: np.ndarray, m: int) -> np.ndarray:
    """Evidence in [0, 1] of per-account tail probabilities ``p`` among ``m`` accounts (module
    docstring): ``clip(-log10(p * m) / FWER_DECADES, 0, 1)``."""
    p = np.clip(np.asarray(p, np.float64), 1e-300, 1.0)
    return np.clip(-(np.log10(p) + np.log10(max(m, 1))) / FWER_DECADES, 0.0, 1.0)


def burst_p(n: np.ndarray, peak_day_n: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Upper bound on ``P(peak 24 h >= k)`` for a steady account of ``n`` requests observable for
    ``days`` days (module docstring): ``ceil(T) * P(Bin(n, min(1, 2/T)) >= k)``, capped at 1."""
    n = np.asarray(n, np.float64)
    t = np.maximum(np.asarray(days, np.float64), 1.0)
    q = np.minimum(1.0, 2.0 / t)
    tail = stats.binom.sf(np.asarray(peak_day_n, np.float64) - 1.0, n, q)
    return np.minimum(1.0, np.ceil(t) * tail)


def baseline_days(first_us: np.ndarray, end_us, created_us: np.ndarray | None = None,
                    log_start_us: float | None = None) -> np.ndarray:
    """Days of each account's baseline: from its creation (when known, not before the log's start)
    or else its first request, to ``end_us`` (the end of its busiest day); at least 1."""
    start = np.asarray(first_us, np.float64)
    if created_us is not None:
        c = np.asarray(created_us, np.float64)
        known = np.isfinite(c)
        lo = -np.inf if log_start_us is None else float(log_start_us)
        start = np.where(known, np.minimum(start, np.maximum(c, lo)), start)
    return np.maximum((np.asarray(end_us, np.float64) - start) / _DAY_US, 1.0)


def burst(n, peak_day_n, peak_hour_s, days, m: int) -> dict[str, np.ndarray]:
    """Burst-then-dormant: ``burst_p`` (the steady null's tail), ``peak_hour_multiple`` (busiest clock
    hour's reading time over one hour) and ``evidence`` = fwer_evidence x min(1, multiple)."""
    p = burst_p(n, peak_day_n, days)
    mult = np.asarray(peak_hour_s, np.float64) / 3600.0
    return {"burst_p": p, "peak_hour_multiple": mult, "evidence": fwer_evidence(p, m) * np.clip(mult, 0.0, 1.0)}


def key_rotation(n, rotations, m: int) -> dict[str, np.ndarray]:
    """Key hand-overs against the population's pooled rate: ``key_rotation_p`` = P(Poisson(lambda n)
    >= r) (1 where r = 0) and ``evidence`` = its family-wise evidence."""
    n = np.asarray(n, np.float64)
    r = np.asarray(rotations, np.float64)
    lam = r.sum() / max(n.sum(), 1.0)
    p = np.where(r > 0, stats.poisson.sf(r - 1.0, lam * n), 1.0) if lam > 0 else np.ones(len(n))
    return {"key_rotation_p": p, "evidence": fwer_evidence(p, m)}


def fast_substream(n, fast_n, fast_s, fast_expected, m: int, full_hours: float) -> dict[str, np.ndarray]:
    """Rows faster than a reader beyond the account's own hour-by-hour Poisson rate: ``fast_share``,
    ``fast_p`` = P(Poisson(mu) >= fast_n) with ``mu = max(fast_expected, population median fast
    share x gaps)``, ``fast_hours`` (reading hours those rows demanded) and ``evidence`` =
    fwer_evidence x log1p(hours) / log1p(full_hours) (capped at 1)."""
    n = np.asarray(n, np.float64)
    k = np.asarray(fast_n, np.float64)
    gaps = np.maximum(n - 1.0, 0.0)
    many = gaps >= 2
    base = float(np.median(k[many] / gaps[many])) if many.any() else 0.0
    mu = np.maximum(np.asarray(fast_expected, np.float64), base * gaps)
    p = np.where(k > 0, stats.poisson.sf(k - 1.0, np.maximum(mu, 1e-12)), 1.0)
    hours = np.asarray(fast_s, np.float64) / 3600.0
    mag = np.clip(np.log1p(hours) / np.log1p(full_hours), 0.0, 1.0)
    return {"fast_share": k / np.maximum(gaps, 1.0), "fast_expected": mu, "fast_p": p, "fast_hours": hours,
            "evidence": fwer_evidence(p, m) * mag}


def hidden_signals(acc, n: np.ndarray, span_us: np.ndarray, full_hours: float) -> tuple[dict, dict]:
    """The three rules on an account feature table (``acc``: the columns of
    :func:`~stillwatch.guard.features.tables.account_features`; a column it lacks — an older
    producer — leaves its rule quiet). Returns ``(signals, evidence)``: reported values and evidence
    per rule (``burst``, ``key_rotation``, ``fast_substream``)."""
    a = len(n)
    zeros = np.zeros(a)

    def col(name: str) -> np.ndarray:
        return np.asarray(acc[name], np.float64) if name in acc else zeros

    first, last = col("first_us"), col("last_us")
    created = np.asarray(acc["created_us"], np.float64) if "created_us" in acc else None
    end = col("peak_end_us") if "peak_end_us" in acc else last
    days = baseline_days(first, end, created, float(first.min()) if a else None)
    upto = col("upto_peak_n") if "upto_peak_n" in acc else n
    b = burst(upto, col("peak_day_n"), col("peak_hour_s"), days, a)
    r = key_rotation(n, col("key_rotations"), a)
    f = fast_substream(n, col("fast_n"), col("fast_s"), col("fast_expected"), a, full_hours)
    signals = {"peak_day_requests": col("peak_day_n"), "baseline_days": days, "burst_p": b["burst_p"],
               "peak_hour_multiple": b["peak_hour_multiple"], "api_keys": col("n_keys"),
               "key_rotations": col("key_rotations"), "key_rotation_p": r["key_rotation_p"],
               "fast_share": f["fast_share"], "fast_expected": f["fast_expected"], "fast_p": f["fast_p"],
               "fast_hours": f["fast_hours"]}
    return signals, {"burst": b["evidence"], "key_rotation": r["evidence"], "fast_substream": f["evidence"]}
