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
  *Volume whatever the age*: the account's ``burst_multiple`` is the human-rate multiple of its
  busiest 24 hours alone (their reading time over their first-to-last span,
  :func:`~stillwatch.guard.features.rates.human_rate_multiple`), so an aged account's harvest night
  is as much volume as a fresh account's whole life (the scorer takes the larger of it and the
  whole-life extraction multiple).
  *Dormant after it* (``dormant_p``, a grouping signal, :mod:`~stillwatch.guard.score.grouping`):
  the same test over the account's whole observable life, to the log's end, with all its
  requests — the silence after a burst makes a fresh account's burst night surprising too. It is
  not own-score evidence: one fresh account that works one night and stops is also what a one-off
  batch customer looks like; many of them in the same nights are a campaign. Its recurring null is
  five-fold (``DORMANT_RECUR_RATIO``), not the own-score ten-fold: a carrier is not evidence — the
  cell is, the carriers' coincidence in time against the population's (:mod:`~stillwatch.guard.score.grouping`)
  — so it may be the looser candidate: an aged account that hides its harvest night behind one
  ordinary busy day of a person's (17-30 requests before 250-300; held-out E seeds 45-46, 5 of 40
  burst accounts outside their campaign at ten-fold) carries its night, while a firm's one big batch
  day after small ones (the simulator's ``business``: 832 after 60) stays quiet on its own score. An
  account *carries* the burst-night signal (:func:`dormant_carrier`) when its ``dormant_p`` is
  significant at full evidence (``p * A <= 10 ** -FWER_DECADES``, 1 % family-wise, the level of
  every other test of guard) — not merely "fewer than one expected by chance" (``p * A < 1``), which
  at five-fold made a person whose whole life in the log was one busy day of 53 requests a carrier
  (held-out D seeds 31-32, ``p * A`` 0.69) and grouped them with a burst campaign's week — or when
  the same test against the ten-fold null is below one expected by chance (the carrier rule before
  the five-fold tier; alone, the five-fold tier's stricter level lost carriers in scans cut to windows,
  which see less of the silence after a night: held-out E seed 41 days 3-12, 18 -> 4 of 20). A busiest day that began
  in the log's first day is no dormancy evidence unless a creation time in the log shows the account
  new (:func:`first_day_peak`: an account that used the service up to the log's start and stops a day
  in looks the same).
  *A burst that recurs is the account's baseline, not a departure* (a firm's batch job busy on
  several days): H0' — the busiest 24 h and the busiest 24 h not overlapping them (the runner-up,
  ``k2``; 0 if none) are Poisson counts whose rates differ by at most ``RECUR_RATIO``; given their
  sum ``m`` the peak is then at most ``Bin(m, R / (1 + R))`` (the conditional test of two Poisson
  rates, Przyborowski & Wilenski 1940), ``p' = P(Bin(m, R/(1+R)) >= k1)``. The burst is evidence
  only when both nulls are rejected — the intersection-union test, whose p-value is ``max(p, p')``
  (Berger 1982). A harvest night after a few ordinary sessions (runner-up a handful) rejects H0'; a
  job whose other days carry a tenth of its busiest or more does not. To stay quiet the harvest
  must recur at a tenth of its size on other days of the same account — as own-score evidence. As a
  grouping carrier (below) the burst is held to ``DORMANT_RECUR_RATIO``, five-fold.
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
* **crowded component** (:func:`crowding_p`, :func:`crowded_component`) — a part of an account's
  traffic with its own rhythm: a program sending batches inside a relay of real customers (a
  reseller whose harvest is a minority of its traffic). H0: within each clock hour, the account's
  ``c`` requests of that hour fall independently and uniformly over its 60 minutes (whatever the
  hour's rate — a relay of many independent people, a person's session, a steady job: the test is
  conditional on the hour's own count, so no rate is assumed). The busiest minute then holds ``>=
  m`` with probability at most ``60 * P(Bin(c, 1/60) >= m)`` (union bound over the minutes, the
  discrete scan statistic; Naus 1982). The family is every account-hour of the log (Bonferroni over
  ``H`` hours; an hour is *crowded* when ``p * H <= 1``; only hours passing a work prefilter are
  computed, :mod:`~stillwatch.guard.features.components`). The component is the account's crowded
  hours; its magnitude is what it obtained: the reading hours of its *distinct* prompts on the
  campaign volume scale (``full_harvest_hours``) times its novelty (distinct prompts / rows) — a
  nightly batch of six fixed inputs (a monitor) or a benchmark run again and again (an evaluation
  lab) obtains little that is new — times how much it is a *part*: ``min(1, 2 (1 - share))`` of the
  account's rows (full while the component is at most half of them; a component that is all of the
  account is the account itself, whose pacing and volume the account-level signals already
  measure — a one-off batch customer is not counted twice). Evidence: ``fwer_evidence(min p, H)``
  times that magnitude. To stay quiet the harvest must be sent no faster per minute than the rest of
  the hour's traffic.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
# scipy.stats is imported in the functions that use it: importing it costs ~1 s of start-up (the gateway and the
# CLI import this module whether or not a scan runs)

from stillwatch.guard.features.rates import HumanRate, human_rate_multiple

#: Family-wise evidence is full at ``p * A <= 10 ** -FWER_DECADES``: 2, a 1 % family-wise error
#: over the scan's accounts. Between ``p * A = 1`` and there it rises linearly in ``-log10``.
FWER_DECADES = 2.0
#: H0' of the burst rule: the busiest day's rate is at most this multiple of the runner-up day's.
#: An order of magnitude: a recurring workload whose days differ by more than ten-fold on counts
#: of hundreds is no longer one workload (a firm's batch job varies by a few-fold, and once in a
#: while runs one large batch: the simulator's ``business``, 832 requests after days of 60 — on its
#: own score the account must not be flagged for it).
RECUR_RATIO = 10.0
#: H0' of the burst-night *carrier* (``dormant_p``, a grouping signal, module docstring): half an
#: order of magnitude. A carrier is only a candidate whose timing the grouping tests against the
#: population; at ten-fold an aged account hid a harvest night of 250-300 behind one ordinary busy
#: day of 17-30 requests (held-out E seeds 45-46: 5 of 40 burst accounts; D seed 33: 2 of 30).
DORMANT_RECUR_RATIO = 5.0
_DAY_US = 86_400e6


def fwer_evidence(p: np.ndarray, m: int) -> np.ndarray:
    """Evidence in [0, 1] of per-account tail probabilities ``p`` among ``m`` accounts (module
    docstring): ``clip(-log10(p * m) / FWER_DECADES, 0, 1)``."""
    p = np.clip(np.asarray(p, np.float64), 1e-300, 1.0)
    return np.clip(-(np.log10(p) + np.log10(max(m, 1))) / FWER_DECADES, 0.0, 1.0)


def dormant_carrier(dormant_p: np.ndarray, peak_hour_multiple: np.ndarray, m: int,
                    ten_fold_p: np.ndarray | None = None) -> np.ndarray:
    """Per account: its busiest clock hour's multiple of one person reading (clipped to [0, 1]) where it carries the
    burst-night signal, 0 elsewhere (module docstring). It carries when its burst-then-dormant p-value against the
    five-fold recurring null (``dormant_p``) is significant at full evidence (``p * m <= 10 ** -FWER_DECADES``, 1 %
    family-wise over the ``m`` accounts), or — with ``ten_fold_p``, the same test against the ten-fold null — when
    that is below one expected by chance (``p * m < 1``, the rule before the five-fold tier: a scan cut to a window
    sees less of the silence after a night, and its carriers there are the ten-fold rule's)."""
    full = fwer_evidence(dormant_p, m) >= 1.0
    if ten_fold_p is not None:  # or the ten-fold null at fewer than one expected by chance
        full = full | (fwer_evidence(ten_fold_p, m) > 0.0)
    return np.where(full, np.clip(np.asarray(peak_hour_multiple, np.float64), 0.0, 1.0), 0.0)


def burst_p(n: np.ndarray, peak_day_n: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Upper bound on ``P(peak 24 h >= k)`` for a steady account of ``n`` requests observable for
    ``days`` days (module docstring): ``ceil(T) * P(Bin(n, min(1, 2/T)) >= k)``, capped at 1."""
    from scipy import stats
    n = np.asarray(n, np.float64)
    t = np.maximum(np.asarray(days, np.float64), 1.0)
    q = np.minimum(1.0, 2.0 / t)
    tail = stats.binom.sf(np.asarray(peak_day_n, np.float64) - 1.0, n, q)
    return np.minimum(1.0, np.ceil(t) * tail)


def credible_created(acc) -> np.ndarray | None:
    """Per account: its creation time (microseconds) where the log gives one that could be true, NaN elsewhere; None
    where the log has no ``created_us`` column.

    Attacker model: the creation time comes from the provider's account table (the gateway's ``gw_accounts``, another
    gateway's export), mutable bookkeeping outside the Merkle log; whoever can write that table can set any account's
    time. What must still hold: a time no honest producer could have written is never read as an arrival. An account
    is created before it sends its first request, so a creation time *after* the account's first request in the log is
    impossible for an honest producer (or comes from a clock the log's timestamps do not share) and is read as
    unknown: the account is then judged as in a log without the column (its arrival by the first-request rule of
    :func:`~stillwatch.guard.score.nullmodel.arrivals`, its baseline from its first request). Without this, moving many
    benign accounts' creation times into one hour after their first requests would make them a created-together
    cohort, and a creation time set inside the log would take from an aged account the first-day grace of
    :func:`first_day_peak`. A time at or before the first request stays as given: it cannot be told from the truth
    (a forged earlier time is the limit stated in ``docs``: the table is a detection input, never evidence).
    Requires ``acc`` with ``first_us`` where it has ``created_us``."""
    if "created_us" not in acc:
        return None
    c = np.asarray(acc["created_us"], np.float64)
    first = np.asarray(acc["first_us"], np.float64)
    return np.where(c <= first, c, np.nan)  # NaN compares false: an unknown time stays unknown


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


def first_day_peak(first_us: np.ndarray, peak_end_us: np.ndarray, created_us: np.ndarray | None,
                   log_start_us: float | None) -> np.ndarray:
    """Per account: whether its busiest 24 hours began in the log's first day and nothing shows it new there (no
    creation time at or after the log's start) — a burst the log cannot tell from the end of ordinary use. An account
    already active before the log shows up in its first day (the arrival rule grants that day for the same reason),
    and one that used the service steadily up to the log's start and stops a day in has all its requests in its
    first day: a scan of the days 1-11 of held-out E found 14 hackathon participants (created on day 0, working to
    day 2) "burst-then-dormant" on day 1 and grouped them as one burst night. Its dormancy is no evidence then; a
    night of machine-paced volume still is (``burst_multiple``, the account's own evidence)."""
    first = np.asarray(first_us, np.float64)
    if log_start_us is None or not len(first):
        return np.zeros(len(first), bool)
    new = np.zeros(len(first), bool)
    if created_us is not None:
        c = np.asarray(created_us, np.float64)
        new = np.isfinite(c) & (c >= log_start_us)
    return (np.asarray(peak_end_us, np.float64) - _DAY_US < log_start_us + _DAY_US) & ~new


def recur_p(peak_day_n: np.ndarray, runner_day_n: np.ndarray, ratio: float = RECUR_RATIO) -> np.ndarray:
    """``P(Bin(k1 + k2, R / (1 + R)) >= k1)``: the peak ``k1`` against the runner-up ``k2`` under H0'
    (module docstring: their Poisson rates differ by at most ``R``)."""
    from scipy import stats
    k1 = np.asarray(peak_day_n, np.float64)
    k2 = np.asarray(runner_day_n, np.float64)
    return stats.binom.sf(k1 - 1.0, k1 + k2, ratio / (1.0 + ratio))


def burst(n, peak_day_n, peak_hour_s, days, m: int, runner_day_n=None) -> dict[str, np.ndarray]:
    """Burst-then-dormant: ``burst_p`` (the steady null's tail), ``burst_recur_p`` (the recurring
    null's, :func:`recur_p`; 0 without a runner-up column), ``peak_hour_multiple`` (busiest clock
    hour's reading time over one hour) and ``evidence`` = fwer_evidence(max of the two) x min(1,
    multiple)."""
    p = burst_p(n, peak_day_n, days)
    rp = np.zeros_like(p) if runner_day_n is None else recur_p(peak_day_n, runner_day_n)
    mult = np.asarray(peak_hour_s, np.float64) / 3600.0
    ev = fwer_evidence(np.maximum(p, rp), m) * np.clip(mult, 0.0, 1.0)
    return {"burst_p": p, "burst_recur_p": rp, "peak_hour_multiple": mult, "evidence": ev}


def key_rotation(n, rotations, m: int) -> dict[str, np.ndarray]:
    """Key hand-overs against the population's pooled rate: ``key_rotation_p`` = P(Poisson(lambda n)
    >= r) (1 where r = 0) and ``evidence`` = its family-wise evidence."""
    from scipy import stats
    n = np.asarray(n, np.float64)
    r = np.asarray(rotations, np.float64)
    lam = r.sum() / max(n.sum(), 1.0)
    p = np.where(r > 0, stats.poisson.sf(r - 1.0, lam * n), 1.0) if lam > 0 else np.ones(len(n))
    return {"key_rotation_p": p, "evidence": fwer_evidence(p, m)}


_KEY_SUMS = ("key_rows", "key_f2", "key_f3", "key_f4", "key_f2sq")


def _key_order(acc, counts: tuple[str, ...], repeats_and_pairs) -> np.ndarray:
    """The runs test of :func:`key_order_p` / :func:`key_day_order_p`: ``repeats_and_pairs(col, n)`` gives the
    repeats and the subset of pairs counted (``(repeats, pairs, chained)``, None for all pairs) from the columns
    ``counts``; rows without a key are one more label, their falling factorials added to the keys' sums. 1 where a
    column is missing (an older producer: the test stays silent)."""
    n = np.asarray(acc["n"], np.float64)
    if not all(c in acc for c in counts + _KEY_SUMS):
        return np.ones(len(n))
    from stillwatch.core.runs import clustered_p

    col = {c: np.asarray(acc[c], np.float64) for c in counts + _KEY_SUMS}
    z = np.maximum(n - col["key_rows"], 0.0)
    z2 = z * (z - 1)
    repeats, pairs, chained = repeats_and_pairs(col, n)
    return clustered_p(repeats, n, col["key_f2"] + z2, col["key_f3"] + z2 * (z - 2),
                       col["key_f4"] + z2 * (z - 2) * (z - 3), col["key_f2sq"] + z2 * z2, pairs=pairs, chained=chained)


def key_order_p(acc) -> np.ndarray:
    """Per account: whether its requests' API keys were used *one at a time* rather than side by side — the
    p-value of H0 "the order of the account's key labels is exchangeable" against clustering
    (:func:`stillwatch.core.runs.clustered_p`; a row without a key is a label of its own), from the exact
    counts of :func:`~stillwatch.guard.features.tables.account_volume` (``key_switches``) and
    :func:`~stillwatch.guard.features.tables.account_keys` (``key_rows``, ``key_f*``). 1 where the columns are
    missing (an older producer: the test stays silent) or the test cannot speak (one label, < 4 rows).

    Not evidence on its own, in either direction: it tells a grouping signal which several-key accounts
    hold their keys side by side (:mod:`~stillwatch.guard.score.grouping`). A developer with a key per
    project works through one at a time — a project a day, a key a session — and rejects H0 with a few
    dozen requests; a client that spreads its requests over its keys (each under its own quota) does not."""
    return _key_order(acc, ("key_switches",),
                      lambda col, n: (np.maximum(n - 1.0, 0.0) - col["key_switches"], None, None))


def key_day_order_p(acc) -> np.ndarray:
    """Per account: whether its keys were used one at a time *within its days of work* — :func:`key_order_p`'s
    test counted over the adjacent requests less than ``WORKDAY_GAP_US`` apart only (features/tables.py
    ``day_pairs``, ``day_chained``, ``day_switches``; core/runs.py: the exact moments of a subset of the pairs).

    Why beside the whole-order test: a developer with a key per project works a project a day, and its requests
    are mostly hours apart — its switches come at the day's edge, where an exchangeable order switches too, so
    over the whole order 22-48 requests on two keys may not reject H0 (held-out E: 5-10 of 300 developers a seed
    stayed carriers; with account creation times they formed a group with the spread operator's first days). Inside
    its days it never switches, which rejects H0 with a dozen pairs; a client that spreads each day's requests over
    its keys (the operator of :mod:`~stillwatch.guard.score.grouping`) keeps switching there. 1 where the columns
    are missing (an older producer) or the test cannot speak (fewer than 4 rows, one label, no such pair)."""
    return _key_order(acc, ("day_pairs", "day_chained", "day_switches"),
                      lambda col, n: (col["day_pairs"] - col["day_switches"], col["day_pairs"], col["day_chained"]))


def fast_substream(n, fast_n, fast_s, fast_expected, m: int, full_hours: float) -> dict[str, np.ndarray]:
    """Rows faster than a reader beyond the account's own hour-by-hour Poisson rate: ``fast_share``,
    ``fast_p`` = P(Poisson(mu) >= fast_n) with ``mu = max(fast_expected, population median fast
    share x gaps)``, ``fast_hours`` (reading hours those rows demanded) and ``evidence`` =
    fwer_evidence x log1p(hours) / log1p(full_hours) (capped at 1)."""
    from scipy import stats
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


def crowding_p(c, m) -> np.ndarray:
    """``min(1, 60 * P(Bin(c, 1/60) >= m))``: the busiest of an hour's 60 minutes holding ``>= m`` of
    its ``c`` requests under the within-hour uniform null (module docstring)."""
    from scipy import stats
    c = np.asarray(c, np.float64)
    return np.minimum(1.0, 60.0 * stats.binom.sf(np.asarray(m, np.float64) - 1.0, c, 1.0 / 60.0))


def crowded_hours(cand: pa.Table, n_hours: int) -> pa.Table:
    """The crowded hours among the candidates ``cand`` (account_id, hr, c, m;
    :func:`~stillwatch.guard.features.components.crowd_candidates`): those with ``crowding_p * n_hours
    <= 1`` (``n_hours``: every account-hour of the log, the test's family). Returns (account_id, hr,
    crowd_p)."""
    c = cand["c"].to_numpy(zero_copy_only=False)
    m = cand["m"].to_numpy(zero_copy_only=False)
    p = crowding_p(c, m) if len(c) else np.zeros(0)
    keep = p * max(n_hours, 1) <= 1.0
    return pa.table({"account_id": cand["account_id"].filter(pa.array(keep)),
                     "hr": cand["hr"].filter(pa.array(keep)), "crowd_p": pa.array(p[keep], pa.float64())})


def crowded_component(crowd_p, comp_n, comp_prompts, comp_s, n_hours: float, full_hours: float,
                      n=None) -> dict[str, np.ndarray]:
    """The crowded component's evidence (module docstring): ``crowd_p`` (the smallest hour p-value,
    1 where none; 0 in the input means no crowded hour), ``novelty`` (distinct prompts / rows),
    ``hours`` (reading hours of its distinct prompts), ``part`` (``min(1, 2 (1 - comp_n / n))``: 1
    while the component is at most half of the account's ``n`` rows, 0 when it is all of them) and
    ``evidence`` = fwer_evidence(p, n_hours) x log1p(hours) / log1p(full_hours) x novelty x part."""
    k = np.asarray(comp_n, np.float64)
    total = k if n is None else np.asarray(n, np.float64)
    part = np.clip(2.0 * (1.0 - k / np.maximum(total, 1.0)), 0.0, 1.0) if n is not None else np.ones(len(k))
    p = np.where(k > 0, np.asarray(crowd_p, np.float64), 1.0)
    p = np.where(p > 0, p, np.where(k > 0, 1e-300, 1.0))
    nov = np.where(k > 0, np.asarray(comp_prompts, np.float64) / np.maximum(k, 1.0), 0.0)
    hours = np.asarray(comp_s, np.float64) * nov / 3600.0
    mag = np.clip(np.log1p(hours) / np.log1p(full_hours), 0.0, 1.0)
    return {"crowd_p": p, "novelty": nov, "hours": hours, "part": part,
            "evidence": fwer_evidence(p, int(n_hours)) * mag * nov * part}


def hidden_signals(acc, n: np.ndarray, span_us: np.ndarray, full_hours: float,
                   rate: HumanRate = HumanRate()) -> tuple[dict, dict]:
    """The four rules on an account feature table (``acc``: the columns of
    :func:`~stillwatch.guard.features.tables.account_features`; a column it lacks — an older
    producer — leaves its rule quiet). Returns ``(signals, evidence)``: reported values and evidence
    per rule (``burst``, ``key_rotation``, ``fast_substream``, ``component``)."""
    a = len(n)
    zeros = np.zeros(a)

    def col(name: str) -> np.ndarray:
        return np.asarray(acc[name], np.float64) if name in acc else zeros

    first, last = col("first_us"), col("last_us")
    created = credible_created(acc)
    # the observable life: to the end of the log (the silence after a burst is part of it)
    start = float(first.min()) if a else None
    end = col("peak_end_us") if "peak_end_us" in acc else last
    days = baseline_days(first, end, created, start)
    runner = col("runner_day_n") if "runner_day_n" in acc else None
    b = burst(col("upto_peak_n") if "upto_peak_n" in acc else n, col("peak_day_n"), col("peak_hour_s"), days, a, runner)
    # burst-then-dormant over the whole observable life, to the log's end (a grouping signal only)
    life = baseline_days(first, np.full(a, float(last.max()) if a else 0.0), created, start)
    # the steady null over the life, once for both recurring nulls (five-fold: the carrier's; ten-fold: the burst's)
    steady = burst_p(n, col("peak_day_n"), life)
    five = recur_p(col("peak_day_n"), runner, DORMANT_RECUR_RATIO) if runner is not None else 0.0
    first_peak = first_day_peak(first, end, created, start)
    dormant_p = np.where(first_peak, 1.0, np.maximum(steady, five))
    ten_fold_p = np.where(first_peak, 1.0, np.maximum(steady, b["burst_recur_p"]))
    # the burst window's own rate, measured as a whole (short) life is
    burst_mult = np.where(col("peak_s") > 0, human_rate_multiple(col("peak_s"), col("peak_span_us"), rate), 0.0)
    cc = crowded_component(col("crowd_p"), col("comp_n"), col("comp_prompts"), col("comp_s"),
                           float(col("active_hours").sum()), full_hours, n)
    r = key_rotation(n, col("key_rotations"), a)
    f = fast_substream(n, col("fast_n"), col("fast_s"), col("fast_expected"), a, full_hours)
    signals = {"peak_day_requests": col("peak_day_n"), "baseline_days": days, "burst_p": b["burst_p"],
               "runner_up_day_requests": col("runner_day_n"), "burst_recur_p": b["burst_recur_p"],
               "peak_hour_multiple": b["peak_hour_multiple"], "api_keys": col("n_keys"),
               "key_rotations": col("key_rotations"), "key_rotation_p": r["key_rotation_p"],
               "key_order_p": key_order_p(acc), "key_day_order_p": key_day_order_p(acc),
               "fast_share": f["fast_share"], "fast_expected": f["fast_expected"], "fast_p": f["fast_p"],
               "fast_hours": f["fast_hours"], "burst_multiple": burst_mult, "crowded_hours": col("crowd_hours"),
               "crowd_p": cc["crowd_p"], "component_rows": col("comp_n"), "component_novelty": cc["novelty"],
               "component_hours": cc["hours"], "observed_days": life, "dormant_p": dormant_p}
    return signals, {"burst": b["evidence"], "key_rotation": r["evidence"], "fast_substream": f["evidence"],
                     "component": cc["evidence"], "dormant": dormant_carrier(dormant_p, b["peak_hour_multiple"], a, ten_fold_p)}
