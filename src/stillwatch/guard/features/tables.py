"""Traffic features, defined once as Ibis expressions and run on DuckDB (default) or Spark.

Input: the *canonical* table the scan's engines load (:mod:`stillwatch.guard.batch.scan`) — the log's columns with
``ts`` replaced by ``ts_us`` (int64 microseconds since the Unix epoch, UTC). Every expression here is
engine-neutral except :func:`hash64` (each engine's own 64-bit hash: DuckDB ``hash``, Spark
``xxhash64``) and :func:`sample_key` (the same md5-based value on both, spelt per engine). Hash
*values* therefore differ between engines, but every feature we export is a count, a share or a
statistic that does not depend on them (parity is tested).

Data contract: hashes are int64; timestamps are int64 UTC microseconds; orderings are
deterministic (inter-arrival gaps do not depend on how equal timestamps are ordered: tied rows
have equal ``ts_us``; the sample is ordered by a 60-bit md5 key of ``request_id``).

**Two tiers** (so the cost of text work does not grow with an account's volume):

* *exact, over every row* (:func:`row_keys`, :func:`account_volume`, :func:`infra_counts`): counts,
  first/last time, the human reading time the answers demand (:mod:`~stillwatch.guard.features.rates`), inter-arrival gap
  statistics, active minutes/hours, and the hashed infrastructure keys (IP, user agent, payment
  fingerprint) with their per-account row counts. Only cheap columns are read: no prompt text.
* *estimated, from a sample* (:func:`sample_rows`, :func:`sample_features`, :func:`account_text`,
  :func:`content_edges`): the text signals — templates, capability patterns, near-duplicates. Each
  account's sample is its ``K = FeatureConfig.sample_k`` rows with the smallest
  :func:`sample_key` (a uniform sample without replacement, the same rows on every engine and in
  the streaming scorer, which keeps it with a size-K heap: O(log K) per request). An account with
  ``n <= K`` rows is sampled completely (its figures are exact). For larger accounts a row count
  ``x`` is estimated by the Horvitz-Thompson estimator ``x_hat = n * x_s / m`` (``x_s`` the count in
  the sample of ``m = min(n, K)`` rows), unbiased, with standard error
  ``n * sqrt(p (1 - p) / m * (n - m) / (n - 1))`` for a share ``p``: at most 0.088 * n for K = 32.
  Key statistics across accounts (how many accounts / distinct prompts use a template) are computed
  over the union of the samples. Distinct counts (``n_prompts``, ``n_templates``) are the sample's
  distinct share times ``n``, a rough estimate (exact when ``n <= K``); ``n_prompts`` is capped by
  the exact number of distinct prompts as sent (a 64-bit hash of every row's prompt, exact tier),
  since a sample of K rows cannot see repetition on a scale larger than K (a benchmark run again).

What the features measure (grounded in what harvesting *is*, not in one simulator):

* **volume vs. a person** — exchanges, active span and the human reading time the answers demand;
* **templating** — prompts are normalised (lower case, digit runs -> ``0``, whitespace collapsed)
  and fingerprinted by their first and last 32 characters; a fingerprint is a *shared template*
  when at least ``min_accounts`` accounts used it with at least ``min_prompts`` different prompts
  (slot filling makes many prompts per template; one common phrase makes one);
* **near-duplicates** — MinHash/LSH groups over the distinct sampled prompts (:mod:`~stillwatch.guard.features.minhash`);
* **capability coverage** — prompts eliciting reasoning traces, code, tool use or grading;
* **timing** — inter-arrival gaps (mean, standard deviation) per account, active minutes/hours;
* **infrastructure** — IP, user agent and payment fingerprint, hashed, for cross-account sharing; where the log
  records request parameters, the request's configuration too (:func:`params_key`).
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.datatypes as dt
from ibis import _

from stillwatch.errors import GuardInputError
from stillwatch.guard.features.keytext import (  # noqa: F401 - re-exported: callers import them from here
    hash63,
    hash64,
    ip_prefix,
    ip_prefix_py,
    normalise,
    normalise_py,
    PARAM_COLUMNS,
    params_key,
    params_key_py,
    sample_key,
    sample_key_py,
)
from stillwatch.guard.features.rates import HumanRate
from stillwatch.guard.features.shared import prompt_counts, prompt_sends

#: Capability-elicitation patterns, matched on the normalised prompt (RE2 / Java / Python compatible).
CAPABILITY_PATTERNS: dict[str, str] = {
    "reasoning": r"step[ -]by[ -]step|chain[ -]of[ -]thought|think (it )?through|show (your|all) (work|reasoning|steps)"
    r"|explain your reasoning|reason (carefully|step)|let's think|before (you )?answer",
    "coding": r"```|\bdef |\bpython\b|\bjavascript\b|\btypescript\b|\brust\b|\bsql\b|\bcode\b|\bfunction\b"
    r"|\bimplement|\balgorithm|\bcompile|\bunit tests?\b|\bregex\b",
    "tool_use": r"\btools?\b|function[ _]call|\bjson\b|\bapi call|\bagent\b|\bcall the\b|\bschema\b",
    # "grade" only as the verb of judging ("grade this answer", "grade each response"): a school grade
    # ("lesson plan for grade 5", "5th grade math", "grade level") is the everyday sense in education
    "grading": r"\brubric\b|\bgrading\b|on a scale of|\bscore (the|this|each|from)\b"
    r"|\bgrade (this|that|the|these|those|each|every|it|them|my|our|your|an?|following|how|from|on|out of)\b"
    r"|evaluate the (following|response|answer)|which (response|answer) is better",
}

#: Kinds of cross-account keys, in the order used for edge tables.
KEY_KINDS: tuple[str, ...] = ("tpl_prefix", "tpl_suffix", "near_dup", "payment", "ip", "user_agent", "ip_prefix")
CONTENT_KINDS: tuple[str, ...] = ("tpl_prefix", "tpl_suffix", "near_dup")
#: The template frame (:mod:`~stillwatch.guard.features.frames`): a content key that links, but does
#: not mark rows as templated (``shared``) and is not a pair-test item.
FRAME_KIND = "tpl_frame"
INFRA_KINDS: tuple[str, ...] = ("payment", "ip", "user_agent", "ip_prefix")
#: The request parameters (:func:`params_key`): an infrastructure kind only where the log records them (the
#: log schema's optional columns), after :data:`INFRA_KINDS`.
PARAMS_KIND = "params"


@dataclass(frozen=True)
class FeatureConfig:
    """Feature parameters. Defaults are set from the meaning of each quantity, not fitted.

    ``sample_k``: rows per account on which the text signals are computed (see the module
    docstring; 32 keeps the standard error of a share below 0.09 and the text work bounded by
    ``32 x accounts`` rows however large the log)."""

    template_chars: int = 32
    min_template_len: int = 40
    min_accounts: int = 3
    min_prompts: int = 3
    sample_k: int = 32
    max_text_chars: int = 256
    #: A template frame (:mod:`~stillwatch.guard.features.frames`) needs >= this many fixed characters. 16:
    #: fewer are two or three common words ("how do i", "what is the") that open questions of every kind.
    min_frame_chars: int = 16
    rate: HumanRate = HumanRate()

    def __post_init__(self) -> None:
        if self.template_chars < 8:
            raise GuardInputError(f"FeatureConfig.template_chars must be >= 8, got {self.template_chars}")
        if self.min_template_len <= self.template_chars:
            raise GuardInputError(
                f"FeatureConfig.min_template_len must exceed template_chars ({self.template_chars}), "
                f"got {self.min_template_len}"
            )
        if self.min_accounts < 2 or self.min_prompts < 1:
            raise GuardInputError(
                f"FeatureConfig.min_accounts must be >= 2 and min_prompts >= 1, got {self.min_accounts}, {self.min_prompts}"
            )
        if self.min_frame_chars < 1:
            raise GuardInputError(f"FeatureConfig.min_frame_chars must be >= 1, got {self.min_frame_chars}")
        if self.sample_k < 1:
            raise GuardInputError(f"FeatureConfig.sample_k must be >= 1, got {self.sample_k}")
        if self.max_text_chars < self.min_template_len:
            raise GuardInputError(f"FeatureConfig.max_text_chars must be >= min_template_len, got {self.max_text_chars}")


def infra_kinds(keys: ibis.Table) -> tuple[str, ...]:
    """The infrastructure kinds of a key table (:func:`row_keys`): :data:`INFRA_KINDS`, and the request
    parameters where the log records them."""
    return INFRA_KINDS + ((PARAMS_KIND,) if PARAMS_KIND in keys.columns else ())


# ------------------------------------------------------------------------- exact tier: all rows
def row_keys(t: ibis.Table, engine: str, cfg: FeatureConfig = FeatureConfig(), keep: tuple[str, ...] = ()) -> ibis.Table:
    """One narrow row per exchange (no text): account, time, row hash, sampling key, hashed
    infrastructure keys and the human seconds its answer demands. ``keep``: extra columns passed
    through (e.g. a validation flag). Where ``t`` has request-parameter columns, also ``params``
    (:func:`params_key`, hashed)."""
    pay = ibis.ifelse(t.payment_fingerprint.strip() == "", ibis.null(dt.string), t.payment_fingerprint)
    spt = cfg.rate.seconds_per_token
    params = params_key(t)
    extra = {} if params is None else {PARAMS_KIND: hash64(params, engine)}
    return t.select(
        *keep,
        account_id=t.account_id,
        ts_us=t.ts_us,
        rid_h=hash64(t.request_id, engine),
        skey=sample_key(t.request_id, engine),
        ip=hash64(t.ip, engine),
        ip_prefix=hash64(ip_prefix(t.ip), engine),
        user_agent=hash64(t.user_agent, engine),
        payment=hash64(pay, engine),
        api_key=hash64(t.api_key_id, engine),
        created_us=t.created_us,
        # the prompt as sent (not normalised: normalising every row is the text work the sample avoids)
        prompt_raw=hash64(t.prompt, engine),
        human_s=cfg.rate.seconds_per_prompt + t.completion_tokens.clip(lower=0).cast("float64") * spt,
        **extra,
    )


#: Adjacent requests less than this apart belong to one day of work (score/signals.py ``key_day_order_p``): a
#: person's nightly pause is longer, so a developer's "a project a day" is a run of such pairs, and a client that
#: spreads its requests over its keys switches keys inside it. 6 hours.
WORKDAY_GAP_US = 6 * 3_600_000_000


def account_volume(keys: ibis.Table, sends: ibis.Table | None = None) -> ibis.Table:
    """Exact per-account volume and timing over all rows: ``n, first_us, last_us, demand_s, gap_n,
    gap_mean, gap_std, active_minutes, active_hours, weekend_hours`` (the active hours begun on a UTC Saturday or
    Sunday: score/weeks.py ``weekends_off``), the distinct prompts as sent ``n_prompts_raw``
    and those sent exactly once ``n_once_raw``, and ``key_switches``: adjacent rows whose API keys differ
    (a row without a key is a label of its own); the same counted over the adjacent rows less than
    :data:`WORKDAY_GAP_US` apart (``day_pairs``, ``day_switches``) with ``day_chained``, the consecutive pairs of
    them (two such pairs in a row: the key-order test's variance, core/runs.py). Rows are ordered by time within an account;
    active minutes/hours are the number of times the minute/hour changes along that order (= the
    number of distinct ones), so one sort gives gaps and activity. ``sends``: :func:`~stillwatch.guard.features.shared.
    prompt_sends` of the same rows where the caller already has it (the scan), else computed here."""
    # tied timestamps are ordered by the row's sampling key (md5 of its request id: the same on every engine, where a
    # key's hash is not, and unique among valid rows), so "the previous row" is the same on every engine. Two integer
    # sort keys: a third (the reading time, the tie-break before 2026-12-07) made the sort alone of every row take
    # about twice as long at 16M rows (DuckDB row numbers: 7.0-10.6 s against 4.1-4.4 s)
    w = ibis.window(group_by=keys.account_id, order_by=[keys.ts_us, keys.skey])
    # the four lags once, in their own projection: referenced inline, each use was a window expression of its own
    k = keys.select("account_id", "ts_us", "human_s", "created_us", "api_key",
                    prev=keys.ts_us.lag().over(w), prev_s=keys.human_s.lag().over(w),
                    prev_k=keys.api_key.lag().over(w), prev2=keys.ts_us.lag(2).over(w))
    prev, prev_s, prev_k, prev2 = k.prev, k.prev_s, k.prev_k, k.prev2
    in_day = prev.notnull() & (k.ts_us - prev < WORKDAY_GAP_US)
    minute, hour = 60_000_000, 3_600_000_000
    one, zero = ibis.literal(1, dt.int64), ibis.literal(0, dt.int64)
    # sent before a person could have read the previous answer (score/signals.py: fast sub-stream)
    fast = ibis.ifelse(prev.notnull() & ((k.ts_us - prev).cast("float64") < prev_s * 1e6), one, zero)
    r = k.select(
        "account_id", "ts_us", "human_s", "created_us",
        gap_us=k.ts_us - prev,
        new_min=ibis.ifelse(prev.isnull() | (prev // minute != k.ts_us // minute), one, zero),
        new_hour=ibis.ifelse(prev.isnull() | (prev // hour != k.ts_us // hour), one, zero),
        # an hour begun on a UTC Saturday or Sunday (day 0 of the epoch is a Thursday): score/nullmodel.py, weekends
        weekend_hour=ibis.ifelse((prev.isnull() | (prev // hour != k.ts_us // hour))
                                 & ((k.ts_us // (24 * hour) + 3) % 7 >= 5), one, zero),
        fast=fast,
        # the previous row came through another key (no key is a label of its own): score/signals.py, key order
        key_switch=ibis.ifelse(prev.notnull() & ~((prev_k.isnull() & k.api_key.isnull())
                                                  | (prev_k == k.api_key).fill_null(False)), one, zero),
        # ... and whether that pair, and the one before it, fall within one day of work
        day_pair=ibis.ifelse(in_day, one, zero),
        day_chain=ibis.ifelse(in_day & prev2.notnull() & (prev - prev2 < WORKDAY_GAP_US), one, zero),
    )
    vol = r.group_by("account_id").agg(
        n=_.count(),
        first_us=_.ts_us.min(),
        last_us=_.ts_us.max(),
        demand_s=_.human_s.sum(),
        gap_n=_.gap_us.count(),
        gap_mean=_.gap_us.cast("float64").mean(),
        gap_std=_.gap_us.cast("float64").std(how="pop"),
        active_minutes=_.new_min.sum(),
        active_hours=_.new_hour.sum(),
        weekend_hours=_.weekend_hour.sum(),
        created_us=_.created_us.min(),
        fast_n=_.fast.sum(),
        fast_s=(_.fast.cast("float64") * _.human_s).sum(),
        key_switches=_.key_switch.sum(),
        day_pairs=_.day_pair.sum(),
        day_chained=_.day_chain.sum(),
        day_switches=(_.day_pair * _.key_switch).sum(),
    )
    # distinct prompts as sent, and how many of them the account sends exactly once (features/shared.py)
    sent = prompt_sends(prompt_counts(keys)) if sends is None else sends
    j = vol.left_join(sent, vol.account_id == sent.acc_r)
    return j.select(*[c for c in vol.columns], n_prompts_raw=j.n_prompts_raw.fill_null(0),
                    n_once_raw=j.n_once_raw.fill_null(0))


def hour_windows(hours: ibis.Table) -> ibis.Table:
    """(account_id, hr, d, c24, f24, cum, e) per account and active clock hour of ``hours``
    (:func:`~stillwatch.guard.features.components.hour_buckets`): the requests in the 24 clock hours ending with it
    (``c24``) and starting with it (``f24``), the account's requests up to it (``cum``), and its expected fast gaps
    ``e = c * (1 - exp(-d / 3600))`` (:func:`account_peaks`). One sort of the hours for all three windows; the scan
    stores it, so :func:`account_peaks`' four reads of it do not each run the windows again (at 16M rows, 7 s -> 4 s)."""
    hb = hours.select("account_id", "hr", "c", "d")
    w = ibis.range_window(preceding=23, following=0, group_by=hb.account_id, order_by=hb.hr)
    fw = ibis.range_window(preceding=0, following=23, group_by=hb.account_id, order_by=hb.hr)
    upto = ibis.window(group_by=hb.account_id, order_by=hb.hr, rows=(None, 0))
    return hb.select("account_id", "hr", "d", c24=hb.c.sum().over(w), f24=hb.c.sum().over(fw),
                     cum=hb.c.sum().over(upto), e=hb.c.cast("float64") * (1.0 - (-hb.d / 3600.0).exp()))


def account_peaks(hours: ibis.Table, windows: ibis.Table | None = None) -> ibis.Table:
    """Exact per-account peaks over clock-hour buckets: ``peak_day_n`` (most requests in any 24
    consecutive clock hours; ``peak_end_us`` the end of the first such window, ``upto_peak_n`` the
    account's requests up to then; ``runner_day_n`` the most in any 24 clock hours not overlapping
    that window, 0 if none; ``peak_mid_us`` the end of its median hour), ``peak_hour_s`` (most human reading
    seconds demanded in one clock
    hour) and ``fast_expected``: the gaps expected to be shorter than a reading if, within each
    active hour, the account's ``c`` requests arrived as a Poisson process at that hour's own rate
    — ``sum over hours of c * (1 - exp(-d / 3600))``, ``d`` the hour's reading seconds (``c/3600``
    per second times a mean reading of ``d/c`` seconds; score/signals.py). Integer bucket
    arithmetic, the same on every engine. ``hours``: the hour buckets of
    :func:`~stillwatch.guard.features.components.hour_buckets` (``account_id, hr, c, d``: requests and reading
    seconds per account and clock hour), which the scan materialises once for every per-hour feature; ``windows``:
    :func:`hour_windows` of them where the caller stored it (the scan), else computed here."""
    hour = 3_600_000_000
    s = hour_windows(hours) if windows is None else windows
    agg = s.group_by(acc_pk="account_id").agg(peak_day_n=_.c24.max(), peak_hour_s=_.d.max(), fast_expected=_.e.sum())
    # the first hour at which the peak is reached, and the requests up to its end (the burst's baseline)
    at = s.inner_join(agg, (s.account_id == agg.acc_pk) & (s.c24 == agg.peak_day_n))
    first = at.group_by("account_id").agg(peak_end_hr=_.hr.min(), upto_peak_n=_.cum.min())
    # the runner-up: the most requests in any 24 clock hours not overlapping the peak's. A window
    # before it holds no more than the one ending at its last active hour (ending 24 h or more before
    # the peak's end), one after it no more than the one starting at its first active hour (after the
    # peak's end): windows ending, resp. starting, at active hours cover every case
    o = s.select("account_id", "hr", b24=s.c24, f24=s.f24)
    fr = first.rename(acc_r="account_id")
    o = o.inner_join(fr, o.account_id == fr.acc_r)
    zero = ibis.literal(0, dt.int64)
    o = o.select("account_id", r=ibis.greatest(ibis.ifelse(o.hr <= o.peak_end_hr - 24, o.b24, zero),
                                             ibis.ifelse(o.hr > o.peak_end_hr, o.f24, zero)))
    runner = o.group_by(acc_ru="account_id").agg(runner_day_n=_.r.max())
    j = agg.inner_join(first, agg.acc_pk == first.account_id)
    # the window's median hour: the first by which half its requests were sent (a straggler row moves its end)
    pj = j.select(acc_m="acc_pk", ph=j.peak_end_hr, up=j.upto_peak_n, pk=j.peak_day_n)
    md = s.inner_join(pj, s.account_id == pj.acc_m)
    md = md.filter((md.hr <= md.ph) & (2 * md.cum >= 2 * md.up - md.pk))
    md = md.group_by(acc_md="account_id").agg(mid=_.hr.min())
    j = j.left_join(runner, j.acc_pk == runner.acc_ru)
    j = j.left_join(md, j.acc_pk == md.acc_md)
    return j.select("account_id", "peak_day_n", "peak_hour_s", "fast_expected", "upto_peak_n",
                    runner_day_n=j.runner_day_n.fill_null(0), peak_end_us=(j.peak_end_hr + 1) * hour,
                    peak_mid_us=(j.mid + 1) * hour)


def account_keys(keys: ibis.Table) -> ibis.Table:
    """Exact per-account API-key use: ``n_keys`` (distinct key ids) and ``key_rotations`` — keys
    that *took over*: the number of keys first used after every key first used before them had
    fallen silent (a hand-over from an abandoned key; keys used side by side never count). Ordered by
    first use; keys first used at the same instant can never hand over to each other, so the count
    does not depend on how ties are ordered.

    With them, the sums of :mod:`stillwatch.core.runs` over the keys' row counts ``c`` (the key-order test
    of score/signals.py): ``key_rows`` (``sum c``), ``key_f2``, ``key_f3``, ``key_f4`` (``sum (c)_j``, falling
    factorials) and ``key_f2sq`` (``sum (c)_2^2``), summed exactly in 38-digit decimals and then rounded
    once to float64, so every engine gives the same values whatever the order it sums in."""
    k = keys.filter(keys.api_key.notnull()).group_by(["account_id", "api_key"]).agg(
        kf=_.ts_us.min(), kl=_.ts_us.max(), c=_.count())
    w = ibis.window(group_by=k.account_id, order_by=[k.kf, k.kl, k.api_key], rows=(None, -1))
    before = k.kl.max().over(w)
    one, zero = ibis.literal(1, dt.int64), ibis.literal(0, dt.int64)
    c = k.c.cast(dt.Decimal(38, 0))
    c2 = c * (c - 1)
    r = k.select("account_id", "c", rot=ibis.ifelse(before.notnull() & (before < k.kf), one, zero),
                 c2=c2, c3=c2 * (c - 2), c4=c2 * (c - 2) * (c - 3), c2sq=c2 * c2)
    return r.group_by("account_id").agg(n_keys=_.count(), key_rotations=_.rot.sum(), key_rows=_.c.sum(),
                                        **{f"key_{x}": _[y].sum().cast("float64")
                                           for x, y in (("f2", "c2"), ("f3", "c3"), ("f4", "c4"), ("f2sq", "c2sq"))})


def infra_counts(keys: ibis.Table) -> ibis.Table:
    """(kind, key, account_id, cnt): exact rows per account on each infrastructure key, all kinds
    (:func:`infra_kinds`, numbered in that order) in one aggregation."""
    parts = [
        keys.filter(keys[k].notnull()).select(kind=ibis.literal(i, dt.int64), key=keys[k], account_id=keys.account_id)
        for i, k in enumerate(infra_kinds(keys))
    ]
    u = parts[0].union(*parts[1:], distinct=False)
    return u.group_by(["kind", "key", "account_id"]).agg(cnt=_.count())


def infra_distinct(per: ibis.Table) -> ibis.Table:
    """Per account: distinct IPs, user agents and payment fingerprints (from :func:`infra_counts`)."""
    short = {"payment": "n_payment", "ip": "n_ip", "user_agent": "n_ua"}
    names = {i: short[k] for i, k in enumerate(INFRA_KINDS) if k in short}
    one, zero = ibis.literal(1, dt.int64), ibis.literal(0, dt.int64)
    return per.group_by("account_id").agg(
        **{name: ibis.ifelse(per.kind == i, one, zero).sum() for i, name in names.items()}
    )


def key_fan(per: ibis.Table, min_accounts: int = 2) -> ibis.Table:
    """Rows of :func:`infra_counts` whose key is used by at least ``min_accounts`` accounts."""
    fan = per.group_by(["kind", "key"]).agg(fan=_.count())
    fan = fan.filter(fan.fan >= min_accounts).select(kind2=fan.kind, key2=fan.key)
    j = per.inner_join(fan, [per.kind == fan.kind2, per.key == fan.key2])
    return j.select("kind", "key", "account_id", "cnt")


# ----------------------------------------------------------------------- sampled tier: text signals
def sample_margin(k: int) -> float:
    """Candidates kept per account before the exact bottom-k selection: ``k + 6 sqrt(k) + 10``."""
    return k + 6.0 * k**0.5 + 10.0


def account_counts(keys: ibis.Table) -> ibis.Table:
    """(acc_c, n_acc): rows per account."""
    return keys.group_by(acc_c="account_id").agg(n_acc=_.count())


def sample_candidates(keys: ibis.Table, counts: ibis.Table, k: int) -> ibis.Table:
    """A superset (with overwhelming probability) of each account's bottom-``k`` rows, so the exact
    selection sorts a few dozen rows per account instead of all of them: the rows whose 60-bit key
    lies below the quantile ``c / n`` of the key range, ``c = sample_margin(k)``, for an account of
    ``n`` rows (``counts``: :func:`account_counts`). The number kept is Binomial(n, c/n) with mean
    c; it falls short of ``k`` with probability ~3e-7 for k = 32 (a 5-sigma shortfall).
    :func:`short_accounts` finds such accounts and the caller takes all their rows instead, so the
    sample stays exact."""
    c = sample_margin(k)
    j = keys.inner_join(counts, keys.account_id == counts.acc_c)
    full = ibis.literal(float(1 << 60))
    thr = ibis.ifelse(j.n_acc.cast("float64") <= c, full, full * c / j.n_acc.cast("float64"))
    return j.filter(j.skey.cast("float64") < thr).drop("acc_c", "n_acc")


def short_accounts(cands: ibis.Table, counts: ibis.Table, k: int) -> ibis.Table:
    """Accounts whose candidates hold fewer than ``min(n, k)`` rows (``account_id`` only)."""
    g = cands.group_by(acc_g="account_id").agg(n_c=_.count())
    j = counts.left_join(g, counts.acc_c == g.acc_g)
    lack = j.n_c.fill_null(0) < ibis.least(j.n_acc, ibis.literal(k, dt.int64))
    return j.filter(lack).select(account_id=j.acc_c)


def sample_rows(keys: ibis.Table, k: int) -> ibis.Table:
    """Each account's ``k`` rows with the smallest :func:`sample_key` (all its rows when it has
    fewer; ties — equal 60-bit keys — broken by the row hash): ``account_id, rid_h, skey`` and the
    infrastructure keys. ``keys`` may be all rows or :func:`sample_candidates`."""
    w = ibis.window(group_by=keys.account_id, order_by=[keys.skey, keys.rid_h])
    r = keys.select("account_id", "rid_h", "skey", *infra_kinds(keys), rn=ibis.row_number().over(w))
    return r.filter(r.rn < k).drop("rn")


def sample_text(canon: ibis.Table, sample: ibis.Table, engine: str) -> ibis.Table:
    """The sampled rows with their normalised prompt: the prompt column is joined to the sample
    (only sampled rows are normalised). Materialise it before :func:`sample_features` — a filter
    on the normalised text in the same query would be pushed below the join by the optimiser and
    normalise every prompt of the log."""
    src = canon.select(rid_src=hash64(canon.request_id, engine), prompt=canon.prompt)
    j = src.inner_join(sample, src.rid_src == sample.rid_h)
    return j.select("account_id", "skey", *infra_kinds(sample), norm=normalise(j.prompt))


def sample_features(stext: ibis.Table, engine: str, cfg: FeatureConfig = FeatureConfig()) -> ibis.Table:
    """Text features of the sampled rows (``stext``: :func:`sample_text`, materialised):
    normalised-prompt hash, template fingerprints, capability flags and the normalised text cut to
    ``max_text_chars`` (null when shorter than ``min_template_len``, for near-duplicate sketching)."""
    t = stext
    norm = t.norm
    long_enough = norm.length() >= cfg.min_template_len
    null64 = ibis.null(dt.int64)
    cols = {
        "account_id": t.account_id,
        "skey": t.skey,
        "payment": t.payment,
        "ip": t.ip,
        "user_agent": t.user_agent,
        "ip_prefix": t.ip_prefix,
        **({PARAMS_KIND: t[PARAMS_KIND]} if PARAMS_KIND in t.columns else {}),
        "prompt_h": hash64(norm, engine),
        "tpl_prefix": ibis.ifelse(long_enough, hash64(norm.substr(0, cfg.template_chars), engine), null64),
        "tpl_suffix": ibis.ifelse(long_enough, hash64(norm.right(cfg.template_chars), engine), null64),
        "text": ibis.ifelse(long_enough, norm.substr(0, cfg.max_text_chars), ibis.null(dt.string)),
    }
    for name, pattern in CAPABILITY_PATTERNS.items():
        cols[f"cap_{name}"] = norm.re_search(pattern).cast("int64")
    return t.select(**cols)


def distinct_prompts(srows: ibis.Table) -> ibis.Table:
    """Distinct sampled prompts long enough to carry a template, with their hash, for MinHash, and ``skey``: the
    smallest sampling key among the sampled rows that sent it (md5 of a request id: the same on every engine, where
    ``prompt_h`` is not — the order near-duplicate grouping breaks ties in)."""
    return srows.filter(srows.text.notnull()).group_by("prompt_h").agg(text=_.text.min(), skey=_.skey.min())


def content_key_stats(rows: ibis.Table, kind: str) -> ibis.Table:
    """Per content key: distinct accounts and distinct prompts using it (over the samples)."""
    return (
        rows.filter(rows[kind].notnull())
        .group_by(key=rows[kind])
        .agg(n_accounts=_.account_id.nunique(), n_prompts=_.prompt_h.nunique())
    )


def with_shared_flag(rows: ibis.Table, cfg: FeatureConfig = FeatureConfig()) -> ibis.Table:
    """Add ``shared`` (int64 0/1): the row's prompt is on a shared template or near-duplicate group,
    and ``cap`` (int64 0/1): it elicits any capability."""
    flags = []
    out = rows
    for kind in CONTENT_KINDS:
        st = content_key_stats(rows, kind)
        st = st.filter((st.n_accounts >= cfg.min_accounts) & (st.n_prompts >= cfg.min_prompts))
        st = st.select(**{f"{kind}_k": st.key, f"{kind}_sh": ibis.literal(1, "int64")})
        out = out.left_join(st, out[kind] == st[f"{kind}_k"]).drop(f"{kind}_k")
        flags.append(out[f"{kind}_sh"].fill_null(0))
    shared = ibis.greatest(*flags) if len(flags) > 1 else flags[0]
    cap = ibis.greatest(*[out[f"cap_{name}"] for name in CAPABILITY_PATTERNS])
    return out.mutate(shared=shared, cap=cap).drop(*[f"{k}_sh" for k in CONTENT_KINDS])


def account_text(tagged: ibis.Table) -> ibis.Table:
    """Per account, counts in its sample (rows must carry ``shared``/``cap`` from
    :func:`with_shared_flag`): ``sampled_rows, shared_s, cap_<kind>_s, cap_any_s, n_prompts_s,
    n_templates_s``."""
    aggs = {
        "sampled_rows": _.count(),
        "shared_s": _.shared.sum(),
        "cap_any_s": _.cap.sum(),
        "n_prompts_s": _.prompt_h.nunique(),
        "n_templates_s": _.tpl_prefix.nunique(),
    }
    for name in CAPABILITY_PATTERNS:
        aggs[f"cap_{name}_s"] = tagged[f"cap_{name}"].sum()
    return tagged.group_by("account_id").agg(**aggs)


def account_features(volume: ibis.Table, text: ibis.Table, infra: ibis.Table, peaks: ibis.Table | None = None,
                     api_keys: ibis.Table | None = None, parts: tuple[ibis.Table, ...] = ()) -> ibis.Table:
    """One row per account, ordered by ``account_id``: the exact volume/timing/infrastructure columns
    (with :func:`account_peaks`, :func:`account_keys` and the per-account tables of ``parts`` —
    :mod:`~stillwatch.guard.features.components` — when given; missing values 0) and the text columns
    estimated from the sample (``x = n * x_s / sampled_rows``)."""
    t = text.rename(account_id_t="account_id")
    i = infra.rename(account_id_i="account_id")
    j = volume.left_join(t, volume.account_id == t.account_id_t)
    j = j.left_join(i, j.account_id == i.account_id_i)
    extra = []
    for name, tab in (("p", peaks), ("k", api_keys), *((f"x{i}", t) for i, t in enumerate(parts))):
        if tab is not None:
            tab = tab.rename(**{f"account_id_{name}": "account_id"})
            j = j.left_join(tab, j.account_id == tab[f"account_id_{name}"])
            extra += [c for c in tab.columns if c != f"account_id_{name}"]
    m = j.sampled_rows.fill_null(0).cast("float64")
    scale = ibis.ifelse(m > 0, j.n.cast("float64") / m, ibis.literal(0.0))
    cols = {c: j[c] for c in ("account_id", "n", "first_us", "last_us", "demand_s", "gap_n", "gap_mean", "gap_std",
                              "active_minutes", "active_hours", "weekend_hours", "fast_n", "fast_s", "created_us",
                              "key_switches", "day_pairs", "day_chained", "day_switches")}
    for c in ("n_ip", "n_ua", "n_payment", *extra):
        cols[c] = j[c].fill_null(0)
    cols["sampled_rows"] = j.sampled_rows.fill_null(0)
    for c in ["shared", "cap_any", "n_prompts", "n_templates"] + [f"cap_{name}" for name in CAPABILITY_PATTERNS]:
        out = "shared_rows" if c == "shared" else c
        cols[out] = j[f"{c}_s"].fill_null(0).cast("float64") * scale
    # distinct prompts: the sample's estimate (normalised text, but blind to repetition beyond the
    # sample: a benchmark run three times shows each prompt once in 32 rows) capped by the exact count
    # of distinct prompts as sent over every row (an upper bound on distinct normalised prompts)
    cols["n_prompts"] = ibis.least(cols["n_prompts"], j.n_prompts_raw.cast("float64"))
    # ... and the exact count itself: repeats ``n - n_prompts_raw``, and rows whose prompt the account
    # sends once only (score/repetition.py)
    cols["n_prompts_raw"] = j.n_prompts_raw
    cols["n_once_raw"] = j.n_once_raw
    return j.select(**cols).order_by("account_id")


def content_edges(tagged: ibis.Table, kind: str, min_accounts: int = 2) -> ibis.Table:
    """(account_id, key, cnt_s, key_cap, key_prompts) for content keys of ``kind`` seen in at least
    ``min_accounts`` accounts' samples; ``cnt_s`` counts the account's sampled rows on the key,
    ``key_cap`` is the share of the key's sampled rows (all accounts) that elicit a capability and
    ``key_prompts`` the number of distinct prompts among them."""
    k = tagged.filter(tagged[kind].notnull()).select("account_id", "prompt_h", key=tagged[kind], cap=tagged.cap)
    per = k.group_by(["key", "account_id"]).agg(cnt_s=_.count(), cap=_.cap.sum())
    fan = per.group_by("key").agg(fan=_.account_id.count(), key_rows=_.cnt_s.sum(), key_cap=_.cap.sum())
    fan = fan.filter(fan.fan >= min_accounts).select(
        key2=fan.key, key_cap=fan.key_cap.cast("float64") / fan.key_rows.cast("float64")
    )
    kp = k.group_by(key3=k.key).agg(key_prompts=_.prompt_h.nunique())
    j = per.inner_join(fan, per.key == fan.key2).inner_join(kp, per.key == kp.key3)
    return j.select("account_id", "key", "cnt_s", "key_cap", "key_prompts")


def infra_key_stats(tagged: ibis.Table, kind: str) -> ibis.Table:
    """(key, key_cap, key_prompts) of an infrastructure key over its sampled rows: the share that
    elicits a capability and the number of distinct prompts."""
    k = tagged.filter(tagged[kind].notnull())
    return k.group_by(key=k[kind]).agg(key_cap=k.cap.cast("float64").mean(), key_prompts=k.prompt_h.nunique())
