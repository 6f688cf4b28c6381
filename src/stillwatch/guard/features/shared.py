"""The prompts several accounts send, as sent (issue 13): what a group's members ask each other's questions.

One aggregate over every row, on the engine (DuckDB or Spark through Ibis), whose result — one row per (account,
prompt) of a prompt >= 2 accounts send — is brought back to numpy for score/extraction.py ``members_new_share``.
"""

from __future__ import annotations

import ibis
from ibis import _


def shared_prompts(keys: ibis.Table) -> ibis.Table:
    """(account_id, prompt_raw, fan, rows): each distinct prompt, as sent byte for byte, of an account, for the prompts
    sent by ``fan`` >= 2 accounts, with the account's rows on it — exact over every row (score/extraction.py
    ``members_new_share``: what a group's members ask each other's questions, against the prompt's popularity among
    the other accounts' rows). The hash is the engine's, but which accounts share a prompt, and how often each sends
    it, is the same on every engine; a null prompt matches nothing."""
    per = keys.filter(keys.prompt_raw.notnull()).group_by(["account_id", "prompt_raw"]).agg(rows=_.count())
    fan = per.group_by(p_fan=per.prompt_raw).agg(fan=_.count())
    fan = fan.filter(fan.fan >= 2)
    j = per.inner_join(fan, per.prompt_raw == fan.p_fan)
    return j.select("account_id", "prompt_raw", "fan", "rows")
