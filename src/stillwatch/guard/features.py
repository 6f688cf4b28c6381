"""Traffic features, defined once as Ibis expressions and run on DuckDB (default) or Spark.

Input: the *canonical* table built by :func:`stillwatch.guard.scan.load` — the log's columns with
``ts`` replaced by ``ts_us`` (int64 microseconds since the Unix epoch, UTC). Every expression here is
engine-neutral except :func:`hash64`, which picks each engine's 64-bit hash (DuckDB ``hash``, Spark
``xxhash64``); hash *values* therefore differ between engines, but every feature we export is a
count, a share or a statistic that does not depend on them (parity is tested).

Data contract: hashes are int64; timestamps are int64 UTC microseconds; orderings break ties on
``request_id`` so window features are deterministic.

What the features measure (grounded in what harvesting *is*, not in one simulator):

* **volume vs. a person** — exchanges, active span and the human reading time the answers demand
  (:mod:`.rates`);
* **templating** — prompts are normalised (lower case, digit runs -> ``0``, whitespace collapsed)
  and fingerprinted by their first and last 32 characters; a fingerprint is a *shared template*
  when at least ``min_accounts`` accounts used it with at least ``min_prompts`` different prompts
  (slot filling makes many prompts per template; one common phrase makes one);
* **near-duplicates** — MinHash/LSH groups over distinct prompts (:mod:`.minhash`), joined back in;
* **capability coverage** — prompts eliciting reasoning traces, code, tool use or grading;
* **timing** — inter-arrival gaps (mean, standard deviation) per account, active minutes/hours;
* **infrastructure** — IP, user agent and payment fingerprint, hashed, for cross-account sharing.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.datatypes as dt
from ibis import _

from .rates import HumanRate

#: Capability-elicitation patterns, matched on the normalised prompt (RE2 / Java / Python compatible).
CAPABILITY_PATTERNS: dict[str, str] = {
    "reasoning": r"step[ -]by[ -]step|chain[ -]of[ -]thought|think (it )?through|show (your|all) (work|reasoning|steps)"
    r"|explain your reasoning|reason (carefully|step)|let's think|before (you )?answer",
    "coding": r"```|\bdef |\bpython\b|\bjavascript\b|\btypescript\b|\brust\b|\bsql\b|\bcode\b|\bfunction\b"
    r"|\bimplement|\balgorithm|\bcompile|\bunit tests?\b|\bregex\b",
    "tool_use": r"\btools?\b|function[ _]call|\bjson\b|\bapi call|\bagent\b|\bcall the\b|\bschema\b",
    "grading": r"\brubric\b|\bgrade\b|\bgrading\b|on a scale of|\bscore (the|this|each|from)\b"
    r"|evaluate the (following|response|answer)|which (response|answer) is better",
}

#: Kinds of cross-account keys, in the order used for edge tables.
KEY_KINDS: tuple[str, ...] = ("tpl_prefix", "tpl_suffix", "near_dup", "payment", "ip", "user_agent")


@dataclass(frozen=True)
class FeatureConfig:
    """Feature parameters. Defaults are set from the meaning of each quantity, not fitted."""

    template_chars: int = 32
    min_template_len: int = 40
    min_accounts: int = 3
    min_prompts: int = 3
    rate: HumanRate = HumanRate()

    def __post_init__(self) -> None:
        if self.template_chars < 8:
            raise ValueError(f"FeatureConfig.template_chars must be >= 8, got {self.template_chars}")
        if self.min_template_len <= self.template_chars:
            raise ValueError(
                f"FeatureConfig.min_template_len must exceed template_chars ({self.template_chars}), "
                f"got {self.min_template_len}"
            )
        if self.min_accounts < 2 or self.min_prompts < 1:
            raise ValueError(
                f"FeatureConfig.min_accounts must be >= 2 and min_prompts >= 1, got {self.min_accounts}, {self.min_prompts}"
            )


@ibis.udf.scalar.builtin(name="xxhash64")
def _xxhash64(x: str) -> dt.int64:  # Spark's 64-bit hash
    ...


@ibis.udf.scalar.builtin(name="hash")
def _duck_hash(x: str) -> dt.uint64:  # DuckDB's 64-bit hash
    ...


def hash64(expr: ibis.Value, engine: str) -> ibis.Value:
    """An int64 hash of a string expression on ``engine`` (null stays null). On DuckDB the unsigned
    64-bit hash is folded into [0, 2^63 - 1) (Ibis' own ``hash()`` goes through a slow bit-string cast)."""
    if engine == "spark":
        h = _xxhash64(expr).cast("int64")
    else:
        h = (_duck_hash(expr) % ibis.literal(9223372036854775807, dt.uint64)).cast("int64")
    return ibis.ifelse(expr.isnull(), ibis.null(dt.int64), h)


def normalise(prompt: ibis.StringValue) -> ibis.StringValue:
    """Lower case, digit runs -> ``0``, whitespace runs -> one space, trimmed (see :func:`normalise_py`)."""
    return prompt.lower().re_replace(r"[0-9]+", "0").re_replace(r"\s+", " ").strip()


def normalise_py(prompt: str) -> str:
    """The same normalisation in Python, for the streaming scorer (must match :func:`normalise`)."""
    import re

    return re.sub(r"\s+", " ", re.sub(r"[0-9]+", "0", prompt.lower())).strip()


def row_features(t: ibis.Table, engine: str, cfg: FeatureConfig = FeatureConfig()) -> ibis.Table:
    """One row per exchange: hashed keys, capability flags, human seconds, inter-arrival gap."""
    # normalise once in a sub-select (the filter keeps Ibis from inlining it into every use)
    t = t.mutate(norm=normalise(t.prompt)).filter(_.norm.notnull())
    norm = t.norm
    nlen = norm.length()
    long_enough = nlen >= cfg.min_template_len
    null64 = ibis.null(dt.int64)
    spt = cfg.rate.seconds_per_token
    pay = ibis.ifelse(t.payment_fingerprint.strip() == "", ibis.null(dt.string), t.payment_fingerprint)
    w = ibis.window(group_by=t.account_id, order_by=[t.ts_us, t.request_id])
    cols = {
        "account_id": t.account_id,
        "ts_us": t.ts_us,
        "prompt_h": hash64(norm, engine),
        "tpl_prefix": ibis.ifelse(long_enough, hash64(norm.substr(0, cfg.template_chars), engine), null64),
        "tpl_suffix": ibis.ifelse(long_enough, hash64(norm.right(cfg.template_chars), engine), null64),
        "payment": hash64(pay, engine),
        "ip": hash64(t.ip, engine),
        "user_agent": hash64(t.user_agent, engine),
        "human_s": cfg.rate.seconds_per_prompt + t.completion_tokens.clip(lower=0).cast("float64") * spt,
        "gap_us": t.ts_us - t.ts_us.lag().over(w),
        "minute": t.ts_us // 60_000_000,
        "hour": t.ts_us // 3_600_000_000,
    }
    for name, pattern in CAPABILITY_PATTERNS.items():
        cols[f"cap_{name}"] = norm.re_search(pattern).cast("int64")
    return t.select(**cols)


def distinct_prompts(t: ibis.Table, engine: str, max_chars: int = 256, min_chars: int = 0) -> ibis.Table:
    """Distinct normalised prompts (cut to ``max_chars``) with their hash, for MinHash; prompts
    shorter than ``min_chars`` are left out (too short to carry a template)."""
    t = t.mutate(norm=normalise(t.prompt)).filter(_.norm.notnull())
    if min_chars:
        t = t.filter(t.norm.length() >= min_chars)
    norm = t.norm
    return (
        t.select(prompt_h=hash64(norm, engine), text=norm.substr(0, max_chars))
        .group_by("prompt_h")
        .agg(text=_.text.min())
    )


def content_key_stats(rows: ibis.Table, kind: str) -> ibis.Table:
    """Per content key: distinct accounts and distinct prompts using it."""
    return (
        rows.filter(rows[kind].notnull())
        .group_by(key=rows[kind])
        .agg(n_accounts=_.account_id.nunique(), n_prompts=_.prompt_h.nunique())
    )


def with_shared_flag(rows: ibis.Table, cfg: FeatureConfig = FeatureConfig()) -> ibis.Table:
    """Add ``shared`` (int64 0/1): the row's prompt is on a shared template or near-duplicate group."""
    flags = []
    out = rows
    for kind in ("tpl_prefix", "tpl_suffix", "near_dup"):
        st = content_key_stats(rows, kind)
        st = st.filter((st.n_accounts >= cfg.min_accounts) & (st.n_prompts >= cfg.min_prompts))
        st = st.select(**{f"{kind}_k": st.key, f"{kind}_sh": ibis.literal(1, "int64")})
        out = out.left_join(st, out[kind] == st[f"{kind}_k"]).drop(f"{kind}_k")
        flags.append(out[f"{kind}_sh"].fill_null(0))
    shared = ibis.greatest(*flags) if len(flags) > 1 else flags[0]
    return out.mutate(shared=shared).drop("tpl_prefix_sh", "tpl_suffix_sh", "near_dup_sh")


def account_features(rows: ibis.Table) -> ibis.Table:
    """One row per account (rows must carry ``shared`` from :func:`with_shared_flag`)."""
    aggs = {
        "n": _.count(),
        "first_us": _.ts_us.min(),
        "last_us": _.ts_us.max(),
        "n_prompts": _.prompt_h.nunique(),
        "n_templates": _.tpl_prefix.nunique(),
        "n_ip": _.ip.nunique(),
        "n_ua": _.user_agent.nunique(),
        "n_payment": _.payment.nunique(),
        "demand_s": _.human_s.sum(),
        "shared_rows": _.shared.sum(),
        "gap_n": _.gap_us.count(),
        "gap_mean": _.gap_us.cast("float64").mean(),
        "gap_std": _.gap_us.cast("float64").std(how="pop"),
        "active_minutes": _.minute.nunique(),
        "active_hours": _.hour.nunique(),
    }
    cap_any = None
    for name in CAPABILITY_PATTERNS:
        col = rows[f"cap_{name}"]
        aggs[f"cap_{name}"] = col.sum()
        cap_any = col if cap_any is None else ibis.greatest(cap_any, col)
    aggs["cap_any"] = cap_any.sum()
    return rows.group_by("account_id").agg(**aggs).order_by("account_id")


def key_edges(rows: ibis.Table, kind: str, min_accounts: int = 2) -> ibis.Table:
    """(account, key, count, key_cap) for keys of ``kind`` used by at least ``min_accounts`` accounts;
    ``key_cap`` is the share of the key's rows (all accounts) that elicit a capability."""
    cap = None
    for name in CAPABILITY_PATTERNS:
        cap = rows[f"cap_{name}"] if cap is None else ibis.greatest(cap, rows[f"cap_{name}"])
    k = rows.filter(rows[kind].notnull()).select("account_id", key=rows[kind], cap=cap)
    per = k.group_by(["key", "account_id"]).agg(cnt=_.count(), cap=_.cap.sum())
    fan = per.group_by("key").agg(fan=_.account_id.count(), key_rows=_.cnt.sum(), key_cap=_.cap.sum())
    fan = fan.filter(fan.fan >= min_accounts).select(
        key2=fan.key, key_cap=fan.key_cap.cast("float64") / fan.key_rows.cast("float64")
    )
    return per.inner_join(fan, per.key == fan.key2).select("account_id", "key", "cnt", "key_cap")


def cluster_minutes(rows: ibis.Table, assignment: ibis.Table) -> ibis.Table:
    """Distinct active minutes per cluster (``assignment``: account_id, cluster int64)."""
    j = rows.select("account_id", "minute").inner_join(assignment, "account_id")
    return j.group_by("cluster").agg(cluster_minutes=_.minute.nunique()).order_by("cluster")
