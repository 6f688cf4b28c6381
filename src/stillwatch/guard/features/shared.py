"""Each account's prompts as sent (issue 13), counted once over every row: what a group's members ask each other's
questions, and how many of its prompts an account sends exactly once.

One aggregate over every row, on the engine (DuckDB or Spark through Ibis): :func:`prompt_counts`, one row per
(account, prompt as sent). The scan stores it once and reads two results from it — :func:`shared_prompts` (the
prompts >= 2 accounts send, brought back to numpy for score/extraction.py ``members_new_share``) and
:func:`prompt_sends` (per account, for :func:`~stillwatch.guard.features.tables.account_volume`) — then drops it:
before 2026-12-07 each result grouped every row by (account, prompt) on its own (about 3 s of a 16M-row scan).
"""

from __future__ import annotations

import ibis
from ibis import _


def prompt_counts(keys: ibis.Table) -> ibis.Table:
    """(account_id, prompt_raw, rows): each distinct prompt, as sent byte for byte (the engine's 64-bit hash of it), of
    each account, with the account's rows on it; a null prompt is left out (it matches nothing)."""
    return keys.filter(keys.prompt_raw.notnull()).group_by(["account_id", "prompt_raw"]).agg(rows=_.count())


def shared_prompts(counts: ibis.Table) -> ibis.Table:
    """(account_id, prompt_raw, fan, rows): the rows of :func:`prompt_counts` ``counts`` whose prompt ``fan`` >= 2
    accounts send — exact over every row (score/extraction.py ``members_new_share``: what a group's members ask each
    other's questions, against the prompt's popularity among the other accounts' rows). The hash is the engine's, but
    which accounts share a prompt, and how often each sends it, is the same on every engine."""
    fan = counts.group_by(p_fan=counts.prompt_raw).agg(fan=_.count())
    fan = fan.filter(fan.fan >= 2)
    j = counts.inner_join(fan, counts.prompt_raw == fan.p_fan)
    return j.select("account_id", "prompt_raw", "fan", "rows")


def prompt_sends(counts: ibis.Table) -> ibis.Table:
    """(acc_r, n_prompts_raw, n_once_raw) per account with a prompt in :func:`prompt_counts` ``counts``: its distinct
    prompts as sent, and how many of them it sends exactly once (score/repetition.py: a harvest's rows are mostly
    first and only askings, a benchmark re-run's are not)."""
    return counts.group_by(acc_r=counts.account_id).agg(n_prompts_raw=_.count(),
                                                         n_once_raw=(_.rows == 1).cast("int64").sum())
