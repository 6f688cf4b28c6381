"""Per-account and per-key state of the streaming scorer (:mod:`~stillwatch.guard.live.stream`): bounded heavy-hitter
maps, the account's counters, text sample and live key memberships, and each key's live user-set
statistics with the live linking rule."""

from __future__ import annotations

import math
from collections import deque
from typing import NamedTuple

from stillwatch.guard.features.tables import WORKDAY_GAP_US
from stillwatch.guard.score.config import DetectConfig


class SampleRow(NamedTuple):
    """One row of an account's bottom-K text sample (a max-heap on ``neg_skey``: a tuple, so the heap
    orders rows by the negated sampling key first). Content and infrastructure keys are int64
    hashes, None when the row has none."""

    neg_skey: int  # minus the row's sampling key (features.tables.sample_key_py of the request id)
    prompt_h: int  # hash of the normalised prompt
    tpl_prefix: int | None  # template prefix fingerprint
    tpl_suffix: int | None  # template suffix fingerprint
    text: str | None  # the normalised prompt (truncated), None when shorter than min_template_len
    caps: tuple[int, ...]  # 0/1 per capability pattern (features.tables.CAPABILITY_PATTERNS order)
    ip: int | None
    user_agent: int | None
    payment: int | None
    ip_prefix: int | None
    #: affix hashes, lengths and the prompt's length (features.frames.affix_py), None when shorter than
    #: min_template_len
    affix: tuple[tuple[int, ...], tuple[int, ...], int] | None = None
    #: the request's configuration (features.keytext.params_key_py, hashed), None when the row records none
    params: int | None = None


class SpaceSaving:
    """Top-K heavy hitters with counts (Metwally, Agrawal & El Abbadi 2005). O(K) worst case per
    update only when the map is full and the key is new (K is a small constant)."""

    __slots__ = ("k", "counts")

    def __init__(self, k: int) -> None:
        self.k = k
        self.counts: dict[int, int] = {}

    def add(self, key: int) -> None:
        c = self.counts
        if key in c:
            c[key] += 1
        elif len(c) < self.k:
            c[key] = 1
        else:
            victim = min(c, key=c.__getitem__)
            c[key] = c.pop(victim) + 1


class Rhythm:
    """An account's streamed inputs of :mod:`~stillwatch.guard.score.signals`, exactly as the batch's
    :func:`~stillwatch.guard.features.tables.account_peaks`, ``account_volume`` (fast rows) and
    :func:`~stillwatch.guard.features.tables.account_keys` define them, in O(1) amortised per
    request: the current clock hour's count and reading seconds, the last 24 hours' counts (a
    deque of at most 24 buckets), each API key's first and last use and rows (at most ``max_keys`` keys;
    beyond that the key silent the longest is forgotten — it has long handed over, so only a later
    return of that key could make the counts differ from the batch's), the key-order test's switches
    and row-count sums (equal to the batch's when rows arrive in time order, an account's rows at one
    instant in the batch's order of them: by sampling key), and the distinct prompts as
    sent and those sent once only (exact up to ``max_sent``)."""

    __slots__ = ("hour", "c", "d", "day", "day_n", "peak_day_n", "peak_end_us", "upto_peak_n", "n", "peak_hour_s",
                 "peak_hr", "ends", "pre_max", "before_peak", "after_n", "after_max",
                 "fast_expected", "fast_n", "fast_s", "prev_s", "prev_ts", "keys", "max_keys", "dropped", "created_us",
                 "sent", "n_sent", "n_once", "max_sent", "prev_key", "key_switches", "key_rows", "key_f",
                 "day_pairs", "day_chained", "day_switches", "prev_in_day")

    def __init__(self, max_keys: int = 64, max_sent: int = 4096) -> None:
        self.hour = None
        self.c = 0
        self.d = 0.0
        self.day: deque = deque()
        self.day_n = 0
        self.peak_day_n = 0
        self.peak_end_us = 0
        self.upto_peak_n = 0
        # the runner-up (features.tables.account_peaks' runner_day_n): the closed hours' window counts
        # of the last day (hour, count), the most in any window ending 24 h or more ago, that value
        # when the peak was set (windows before it), and the requests after the peak's hour in the
        # last 24 hours with their most (windows after it)
        self.peak_hr = -(1 << 62)
        self.ends: deque = deque()
        self.pre_max = 0
        self.before_peak = 0
        self.after_n = 0
        self.after_max = 0
        self.n = 0
        self.peak_hour_s = 0.0
        self.fast_expected = 0.0
        self.fast_n = 0
        self.fast_s = 0.0
        self.prev_s = None
        self.prev_ts = None
        self.keys: dict[str, list[int]] = {}  # key -> [first use, last use, rows]
        self.max_keys = max_keys
        # the key-order test's inputs (features.tables.account_volume / account_keys): adjacent rows on different
        # keys (no key is a label of its own), rows with a key, and sum (c)_2, (c)_3, (c)_4, (c)_2^2 over the keys'
        # row counts c, kept exact by their increments as a count steps c -> c + 1
        self.prev_key: str | None = None
        self.key_switches = 0
        # ... and the same within a day of work (features.tables.WORKDAY_GAP_US: adjacent rows less than that apart)
        self.day_pairs = self.day_chained = self.day_switches = 0
        self.prev_in_day = False
        self.key_rows = 0
        self.key_f = [0, 0, 0, 0]
        self.dropped = 0
        self.created_us = math.nan  # the optional account creation time (earliest seen), NaN if none
        # distinct prompts as sent and those sent once only (the batch's exact counts): exact up to
        # max_sent distinct hashes; beyond that every prompt not among them counts as new and sent once
        # (upper bounds)
        self.sent: dict[int, int] = {}
        self.n_sent = 0
        self.n_once = 0
        self.max_sent = max_sent

    def observe_prompt(self, prompt_hash: int) -> None:
        c = self.sent.get(prompt_hash)
        if c is not None:
            if c == 1:
                self.n_once -= 1
            self.sent[prompt_hash] = c + 1
            return
        self.n_sent += 1
        self.n_once += 1
        if len(self.sent) < self.max_sent:
            self.sent[prompt_hash] = 1

    def _close_hour(self) -> None:
        if self.hour is not None:
            self.fast_expected += self.c * -math.expm1(-self.d / 3600.0)

    def observe(self, ts_us: int, human_s: float, api_key: str | None) -> None:
        hour = ts_us // 3_600_000_000
        if hour != self.hour:
            self._close_hour()
            if self.hour is not None:
                self.ends.append((self.hour, self.day_n))  # the window ending at the closed hour
            self.hour, self.c, self.d = hour, 0, 0.0
            self.day.append([hour, 0])
        self.c += 1
        self.d += human_s
        self.day[-1][1] += 1
        self.day_n += 1
        self.after_n += hour > self.peak_hr
        while self.day[0][0] <= hour - 24:
            h, c = self.day.popleft()
            self.day_n -= c
            self.after_n -= c if h > self.peak_hr else 0
        while self.ends and self.ends[0][0] <= hour - 24:
            self.pre_max = max(self.pre_max, self.ends.popleft()[1])
        self.n += 1
        if self.day_n > self.peak_day_n:  # the first hour reaching the peak, and the requests up to it
            self.peak_day_n, self.peak_end_us, self.upto_peak_n = self.day_n, (hour + 1) * 3_600_000_000, self.n
            self.peak_hr, self.before_peak, self.after_n, self.after_max = hour, self.pre_max, 0, 0
        else:
            self.after_max = max(self.after_max, self.after_n)
        self.peak_hour_s = max(self.peak_hour_s, self.d)
        if self.prev_ts is not None and ts_us - self.prev_ts < self.prev_s * 1e6:
            self.fast_n += 1
            self.fast_s += human_s
        if self.prev_ts is not None and api_key != self.prev_key:
            self.key_switches += 1
        in_day = self.prev_ts is not None and ts_us - self.prev_ts < WORKDAY_GAP_US
        if in_day:
            self.day_pairs += 1
            self.day_chained += self.prev_in_day
            self.day_switches += api_key != self.prev_key
        self.prev_in_day = in_day
        self.prev_ts, self.prev_s, self.prev_key = ts_us, human_s, api_key
        if api_key is not None:
            k = self.keys.get(api_key)
            if k is None:
                if len(self.keys) >= self.max_keys:
                    del self.keys[min(self.keys, key=lambda x: self.keys[x][1])]
                    self.dropped += 1
                k = self.keys[api_key] = [ts_us, ts_us, 0]
            else:
                k[1] = ts_us
            c = k[2]
            f = self.key_f
            f[0] += 2 * c
            f[1] += 3 * c * (c - 1)
            f[2] += 4 * c * (c - 1) * (c - 2)
            f[3] += 4 * c * c * c
            k[2] = c + 1
            self.key_rows += 1

    @property
    def runner_day_n(self) -> int:
        """The most requests in any 24 clock hours not overlapping the peak's."""
        return max(self.before_peak, self.after_max)

    def fast_expected_now(self) -> float:
        """``fast_expected`` with the current hour included."""
        return self.fast_expected + (self.c * -math.expm1(-self.d / 3600.0) if self.hour is not None else 0.0)

    def key_counts(self) -> tuple[int, int]:
        """(distinct keys, hand-overs): keys first used after every earlier-starting key fell silent."""
        spans = sorted(self.keys.values())
        rot, before = 0, None
        for first, last, _ in spans:
            if before is not None and before < first:
                rot += 1
            before = last if before is None else max(before, last)
        return len(spans) + self.dropped, rot + self.dropped


class AccountState:
    """One account's streamed state: exact counters, heavy-hitter key maps, the bottom-K text
    sample (the batch's) and its live key memberships (key -> its rows on the key)."""

    __slots__ = ("n", "first", "last", "demand", "cap", "gap_n", "gap_mean", "gap_m2", "keys", "minutes",
                 "hours", "shared_now", "sample", "member", "linked", "pace_q", "pace_dof",
                 "scripted", "rhythm")

    def __init__(self, k: int, kinds: tuple[str, ...]) -> None:
        self.n = 0
        self.first = None
        self.last = None
        self.demand = 0.0
        self.cap = 0
        self.gap_n = 0
        self.gap_mean = 0.0
        self.gap_m2 = 0.0
        self.keys = {kind: SpaceSaving(k) for kind in kinds}
        self.minutes = 0
        self.hours = 0
        self.rhythm = Rhythm()
        self.shared_now = 0
        # bottom-K rows by sampling key, as a max-heap on the key
        self.sample: list[SampleRow] = []
        # live: the content keys whose user-set statistics this account contributes to (bounded,
        # see StreamingScorer._live_keys; key -> its rows on the key), and whether it is linked
        self.member: dict[tuple[str, int], int] = {}
        self.linked = False
        # the account's current share of its cluster's pooled pacing sums (pace_terms, updated by StreamingScorer.observe)
        self.pace_q = 0.0
        self.pace_dof = 0
        # its rows on linking content keys, as last counted when one of its rows linked (its share of
        # its cluster's scripted rows; see StreamingScorer._live_link)
        self.scripted = 0


class KeyState:
    """One key's streamed state: rows, capability rows, a few prompts and accounts (for the
    shared-template test) and the live user-set statistics of :meth:`links`."""

    __slots__ = ("rows", "cap", "prompts", "accounts", "users", "urows", "sum_n", "rep_users", "rep_rows", "returning",
                 "devoted", "recent")

    def __init__(self) -> None:
        self.rows = 0
        self.cap = 0
        self.prompts: set[int] = set()  # capped at min_prompts
        self.accounts: set[str] = set()  # capped at min_accounts
        # live user-set statistics over the accounts holding the key in their membership map:
        # users, their rows on the key, their rows in all, users with >= 2 rows on the key and those
        # users' rows on it, users with >= 2 requests and those of them whose every request so far
        # was on this key
        self.users = 0
        self.urows = 0
        self.sum_n = 0
        self.rep_users = 0
        self.rep_rows = 0
        self.returning = 0
        self.devoted = 0
        # address keys only: their most recent distinct users, oldest first (bounded; see
        # StreamingScorer._infra_link)
        self.recent: dict[str, None] | None = None

    def links(self, d: DetectConfig, min_prompts: int) -> bool:
        """Whether the key links its users live, judged by its user set as the batch judges keys
        (:func:`~stillwatch.guard.score.links.key_link_stats`): focus >= ``link.focus`` with ``own_prior_rows`` pseudo-rows
        per user over >= 3 users; machine-scale reuse (>= ``link.reuse`` rows per user) by >= 2
        repeat users; or one of two statements about >= ``link.coherence_min_users`` accounts, with
        >= ``min_prompts`` different prompts on the key (a scaffold, not one example):

        * *single-purpose*: the key is >= ``link.full_template_share`` (90 %) of everything its users
          ever sent (with that many accounts the share needs no pseudo-rows: ten accounts doing
          nothing else is a workload, not a phrase that people use among other requests);
        * *devoted returning users*: >= ``link.coherence`` of its users who came back (>= 2
          requests) sent every request so far on this key — a person sends a common phrasing
          once among other requests, a script's accounts return to their scaffold.

        The batch's third rule (coherence: users fully templated on *any* shared templates) is not
        used live: people who use a public prompt library are fully templated too, and the live
        score has no operator evidence (pacing, homogeneity, synchrony) to tell them apart.
        O(1)."""
        u = self.users
        if u >= 3 and self.urows >= d.link.focus * (self.sum_n + d.own_prior_rows * u):
            return True
        if self.rep_users >= 2 and self.rep_rows >= d.link.reuse * self.rep_users:
            return True
        if (u >= d.link.coherence_min_users and self.urows >= d.link.full_template_share * self.sum_n
                and len(self.prompts) >= min_prompts):
            return True
        return (self.devoted >= d.link.coherence_min_users and self.devoted >= d.link.coherence * self.returning
                and len(self.prompts) >= min_prompts)


def pace_terms(a: AccountState) -> tuple[float, int]:
    """The account's terms of a pooled timing-regularity estimate: the sum of its squared gap
    deviations relative to its own mean gap, and their degrees of freedom (gaps - 1), over >= 2
    gaps. Summed over accounts, ``1 - sqrt(q / dof)`` is the pooled regularity (1 - coefficient of
    variation) of their gaps, each account measured against its own mean gap: a scheduler driving
    several accounts on clockwork is regular over their few gaps together long before any one
    account has shown it; people's gaps are bursty (CV >= 1) in any pool."""
    if a.gap_n < 2 or a.gap_mean <= 0:
        return 0.0, 0
    return a.gap_m2 / (a.gap_mean * a.gap_mean), a.gap_n - 1


def pooled_pacing(d: DetectConfig, q: float, dof: int, gaps: int) -> float:
    """Pooled regularity from summed :func:`pace_terms`; 0 under ``link.pacing_gaps`` gaps (the
    batch's bar for pacing that is statistically clear)."""
    if gaps < d.link.pacing_gaps or dof <= 0:
        return 0.0
    return max(0.0, 1.0 - math.sqrt(max(q, 0.0) / dof))
