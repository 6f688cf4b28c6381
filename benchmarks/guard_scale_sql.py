"""Hand-written DuckDB SQL baseline of the guard account features (same definitions as
``stillwatch.guard.features`` without near-duplicate groups), for ``benchmarks/guard_scale.py``."""

from stillwatch.guard.features import CAPABILITY_PATTERNS
from stillwatch.guard.rates import HumanRate

_R = HumanRate()
_CAPS = ",\n    ".join(
    f"CAST(regexp_matches(norm, '{p.replace(chr(39), chr(39) * 2)}') AS BIGINT) AS cap_{k}" for k, p in CAPABILITY_PATTERNS.items()
)
_CAP_SUMS = ", ".join(f"sum(cap_{k}) AS cap_{k}" for k in CAPABILITY_PATTERNS)
_CAP_ANY = "sum(greatest(" + ", ".join(f"cap_{k}" for k in CAPABILITY_PATTERNS) + ")) AS cap_any"

BASELINE_SQL = f"""
WITH src AS (
  SELECT request_id, account_id, epoch_us(ts) AS ts_us, ip, user_agent, payment_fingerprint, completion_tokens,
         trim(regexp_replace(regexp_replace(lower(prompt), '[0-9]+', '0', 'g'), '\\s+', ' ', 'g')) AS norm
  FROM read_parquet('{{path}}')
  WHERE account_id IS NOT NULL AND length(account_id) > 0 AND ts IS NOT NULL AND prompt IS NOT NULL
), r AS (
  SELECT account_id, ts_us,
    hash(norm) AS prompt_h,
    CASE WHEN length(norm) >= 40 THEN hash(substr(norm, 1, 32)) END AS tpl_prefix,
    CASE WHEN length(norm) >= 40 THEN hash(right(norm, 32)) END AS tpl_suffix,
    hash(ip) AS ip_h, hash(user_agent) AS ua_h,
    CASE WHEN payment_fingerprint IS NULL OR trim(payment_fingerprint) = '' THEN NULL ELSE hash(payment_fingerprint) END AS pay_h,
    {_R.seconds_per_prompt} + greatest(completion_tokens, 0) * {_R.seconds_per_token} AS human_s,
    ts_us - lag(ts_us) OVER (PARTITION BY account_id ORDER BY ts_us, request_id) AS gap_us,
    {_CAPS}
  FROM src
), pre AS (
  SELECT tpl_prefix AS k FROM r WHERE tpl_prefix IS NOT NULL GROUP BY 1
  HAVING count(DISTINCT account_id) >= 3 AND count(DISTINCT prompt_h) >= 3
), suf AS (
  SELECT tpl_suffix AS k FROM r WHERE tpl_suffix IS NOT NULL GROUP BY 1
  HAVING count(DISTINCT account_id) >= 3 AND count(DISTINCT prompt_h) >= 3
), f AS (
  SELECT r.*, CAST(pre.k IS NOT NULL OR suf.k IS NOT NULL AS BIGINT) AS shared
  FROM r LEFT JOIN pre ON r.tpl_prefix = pre.k LEFT JOIN suf ON r.tpl_suffix = suf.k
)
SELECT account_id, count(*) AS n, min(ts_us) AS first_us, max(ts_us) AS last_us,
  count(DISTINCT prompt_h) AS n_prompts, count(DISTINCT tpl_prefix) AS n_templates,
  count(DISTINCT ip_h) AS n_ip, count(DISTINCT ua_h) AS n_ua, count(DISTINCT pay_h) AS n_payment,
  sum(human_s) AS demand_s, sum(shared) AS shared_rows, count(gap_us) AS gap_n,
  avg(CAST(gap_us AS DOUBLE)) AS gap_mean, stddev_pop(CAST(gap_us AS DOUBLE)) AS gap_std,
  count(DISTINCT ts_us // 60000000) AS active_minutes, count(DISTINCT ts_us // 3600000000) AS active_hours,
  {_CAP_SUMS}, {_CAP_ANY}
FROM f GROUP BY account_id ORDER BY account_id
"""
