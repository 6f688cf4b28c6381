"""Hand-written DuckDB SQL baseline of the guard features, for ``benchmarks/guard/guard_scale.py``.

The same two-tier design as ``stillwatch.guard.features.tables`` (see its docstring), written directly
in DuckDB SQL instead of compiled from the Ibis definitions: narrow keys of every row (one
Parquet pass, validated), exact volume/timing per account (one sort by time), each account's
bottom-K sample by ``md5(request_id)`` (the same candidate prefilter), text features on the sampled
rows only, shared templates over the samples, the account table (estimates ``n * x_s / m``) and the
cross-account edges (infrastructure: exact counts; content: from the samples). No near-duplicate
MinHash (that is numpy, not SQL) and no scoring: the Ibis side of the comparison is
``stillwatch.guard.batch.scan.feature_tables(..., near_duplicates=False)``, which computes the same.
"""

from stillwatch.guard.features.tables import CAPABILITY_PATTERNS, FeatureConfig, sample_margin

_FC = FeatureConfig()
_R = _FC.rate
_CAPS = ",\n    ".join(
    f"CAST(regexp_matches(norm, '{p.replace(chr(39), chr(39) * 2)}') AS BIGINT) AS cap_{k}" for k, p in CAPABILITY_PATTERNS.items()
)
_CAP_ANY = "greatest(" + ", ".join(f"cap_{k}" for k in CAPABILITY_PATTERNS) + ")"
_CAP_SUMS = ", ".join(f"sum(cap_{k}) AS cap_{k}" for k in CAPABILITY_PATTERNS)
_H = "% 9223372036854775807"  # fold DuckDB's unsigned hash into int64, as the Ibis side does


def statements(path: str, k: int = _FC.sample_k) -> list[str]:
    """The baseline as a list of SQL statements; the last two SELECTs return accounts and edges."""
    src = f"read_parquet('{path}')"
    margin = sample_margin(k)
    return [
        f"""CREATE TEMP TABLE keys AS
SELECT account_id, epoch_us(ts) AS ts_us,
  CAST(hash(request_id) {_H} AS BIGINT) AS rid_h,
  CAST(md5_number(request_id) & 1152921504606846975 AS BIGINT) AS skey,
  CAST(hash(ip) {_H} AS BIGINT) AS ip, CAST(hash(user_agent) {_H} AS BIGINT) AS ua,
  CASE WHEN trim(payment_fingerprint) = '' OR payment_fingerprint IS NULL THEN NULL
       ELSE CAST(hash(payment_fingerprint) {_H} AS BIGINT) END AS pay,
  {_R.seconds_per_prompt} + greatest(completion_tokens, 0) * {_R.seconds_per_token} AS human_s
FROM {src}
WHERE account_id IS NOT NULL AND length(account_id) > 0 AND request_id IS NOT NULL AND length(request_id) > 0
  AND ts IS NOT NULL AND ip IS NOT NULL AND user_agent IS NOT NULL AND prompt IS NOT NULL
  AND prompt_tokens >= 0 AND completion_tokens >= 0""",
        """CREATE TEMP TABLE vol AS
SELECT account_id, count(*) AS n, min(ts_us) AS first_us, max(ts_us) AS last_us, sum(human_s) AS demand_s,
  count(gap) AS gap_n, avg(gap::DOUBLE) AS gap_mean, stddev_pop(gap::DOUBLE) AS gap_std,
  sum(CASE WHEN prev IS NULL OR prev // 60000000 <> ts_us // 60000000 THEN 1 ELSE 0 END) AS active_minutes,
  sum(CASE WHEN prev IS NULL OR prev // 3600000000 <> ts_us // 3600000000 THEN 1 ELSE 0 END) AS active_hours
FROM (SELECT account_id, ts_us, human_s, prev, ts_us - prev AS gap
      FROM (SELECT *, lag(ts_us) OVER (PARTITION BY account_id ORDER BY ts_us) AS prev FROM keys))
GROUP BY account_id""",
        f"""CREATE TEMP TABLE samp AS
SELECT account_id, rid_h, ip, ua, pay FROM (
  SELECT k.*, row_number() OVER (PARTITION BY k.account_id ORDER BY skey, rid_h) AS rn
  FROM keys k JOIN vol v USING (account_id)
  WHERE v.n <= {margin} OR skey::DOUBLE < {float(1 << 60)} * {margin} / v.n)
WHERE rn <= {k}""",
        f"""CREATE TEMP TABLE srows AS
SELECT account_id, ip, ua, pay, hash(norm) AS prompt_h,
  CASE WHEN length(norm) >= {_FC.min_template_len} THEN hash(norm[1:{_FC.template_chars}]) END AS pre,
  CASE WHEN length(norm) >= {_FC.min_template_len} THEN hash(right(norm, {_FC.template_chars})) END AS suf,
  {_CAPS}
FROM (SELECT s.account_id, s.ip, s.ua, s.pay,
        trim(regexp_replace(regexp_replace(lower(p.prompt), '[0-9]+', '0', 'g'), '[\\t\\n\\f\\r ]+', ' ', 'g')) AS norm
      FROM {src} p JOIN samp s ON CAST(hash(p.request_id) {_H} AS BIGINT) = s.rid_h)""",
        f"""CREATE TEMP TABLE tagged AS
WITH pre AS (SELECT pre AS key FROM srows WHERE pre IS NOT NULL GROUP BY 1
             HAVING count(DISTINCT account_id) >= {_FC.min_accounts} AND count(DISTINCT prompt_h) >= {_FC.min_prompts}),
     suf AS (SELECT suf AS key FROM srows WHERE suf IS NOT NULL GROUP BY 1
             HAVING count(DISTINCT account_id) >= {_FC.min_accounts} AND count(DISTINCT prompt_h) >= {_FC.min_prompts})
SELECT r.*, CAST(pre.key IS NOT NULL OR suf.key IS NOT NULL AS BIGINT) AS shared, {_CAP_ANY} AS cap
FROM srows r LEFT JOIN pre ON r.pre = pre.key LEFT JOIN suf ON r.suf = suf.key""",
        """CREATE TEMP TABLE infra AS
SELECT kind, key, account_id, count(*) AS cnt FROM (
  SELECT 0 AS kind, pay AS key, account_id FROM keys WHERE pay IS NOT NULL
  UNION ALL SELECT 1, ip, account_id FROM keys
  UNION ALL SELECT 2, ua, account_id FROM keys)
GROUP BY ALL""",
        f"""SELECT v.*, i.n_ip, i.n_ua, i.n_payment, t.m AS sampled_rows,
  t.shared * v.n / t.m AS shared_rows, t.cap_any * v.n / t.m AS cap_any,
  t.n_prompts * v.n / t.m AS n_prompts, t.n_templates * v.n / t.m AS n_templates,
  {", ".join(f"t.cap_{c} * v.n / t.m AS cap_{c}" for c in CAPABILITY_PATTERNS)}
FROM vol v
JOIN (SELECT account_id, sum(CASE WHEN kind = 1 THEN 1 ELSE 0 END) AS n_ip, sum(CASE WHEN kind = 2 THEN 1 ELSE 0 END) AS n_ua,
             sum(CASE WHEN kind = 0 THEN 1 ELSE 0 END) AS n_payment FROM infra GROUP BY 1) i USING (account_id)
JOIN (SELECT account_id, count(*) AS m, sum(shared) AS shared, sum(cap) AS cap_any, count(DISTINCT prompt_h) AS n_prompts,
             count(DISTINCT pre) AS n_templates, {_CAP_SUMS} FROM tagged GROUP BY 1) t USING (account_id)
ORDER BY account_id""",
        """WITH fan AS (SELECT kind, key FROM infra GROUP BY 1, 2 HAVING count(*) >= 2),
     content AS (
       SELECT kind, key, account_id, count(*) AS cnt_s FROM (
         SELECT 3 AS kind, pre AS key, account_id, cap, prompt_h FROM tagged WHERE pre IS NOT NULL
         UNION ALL SELECT 4, suf, account_id, cap, prompt_h FROM tagged WHERE suf IS NOT NULL) GROUP BY 1, 2, 3)
SELECT i.kind, i.key, i.account_id, i.cnt::DOUBLE AS cnt FROM infra i JOIN fan USING (kind, key)
UNION ALL
SELECT c.kind, c.key, c.account_id, c.cnt_s::DOUBLE FROM content c
  JOIN (SELECT kind, key FROM content GROUP BY 1, 2 HAVING count(*) >= 2) f USING (kind, key)""",
    ]
