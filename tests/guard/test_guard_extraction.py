"""Issue 18: automation is not extraction.

The attacker: a harvest of distinct, long, capability-seeking answers — here spread over many
accounts that each rotate several API keys. The benign foil: monitors and fixed batch jobs that
send the same few prompts at machine pace around the clock and receive one-word replies — fully
scripted, clockwork, shared infrastructure, one card, and no information obtained. The scan must
flag the first and none of the second, and report what each obtained (distinct prompts, answer
tokens of non-repeated answers, novelty) beside the human-feasible multiple. Expected quantities
are computed here from the rows, not by the code under test.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _fixtures_pipeline import T0, make_log  # noqa: E402

from stillwatch.guard.batch.scan import scan  # noqa: E402
from stillwatch.guard.features.tables import FeatureConfig  # noqa: E402
from stillwatch.guard.log.schema import LOG_SCHEMA  # noqa: E402

MIN = 60_000_000
_CHECKS = ("GET /health: reply with the single word OK", "ping", "status check: are you up? answer yes or no")


def _automation_rows(rng: np.random.Generator) -> list[dict]:
    """8 monitors (one fixed prompt each, every minute for two days) and 4 fixed batch jobs (three
    prompts cycled every two minutes), all from one address with one card and one user agent."""
    rows = []
    for i in range(12):
        acct, every = (f"monitor-{i}", MIN) if i < 8 else (f"batchjob-{i}", 2 * MIN)
        n = 2 * 24 * 60 * MIN // every
        ts = T0 + i * 1_000_000 + np.arange(n) * every + rng.integers(0, 300_000, n)
        for j, t in enumerate(ts):
            prompt = _CHECKS[0] if i < 8 else _CHECKS[j % 3]
            rows.append(dict(request_id=f"auto-{i}-{j}", ts=int(t), account_id=acct, api_key_id=f"k-{acct}",
                             ip="10.200.0.5", user_agent="uptime-bot/2.1", payment_fingerprint="card-ops",
                             model="m-1", prompt=prompt, response="OK", prompt_tokens=12, completion_tokens=1))
    return rows


def _spread_rows(rng: np.random.Generator) -> list[dict]:
    """30 accounts, 4 keys each, ~55 distinct capability-seeking prompts each over one day at a
    bursty pace, long answers; prompts vary systematically (one harvest plan spread thin)."""
    tasks = ["Write a python function that", "Prove step by step that", "Explain the algorithm that",
             "Call the search tool to find how", "Grade this answer and explain why"]
    objs = ["sorts {w} records by date", "merges sorted {w} lists", "parses {w} log lines",
            "every {w} graph has a spanning tree", "finds the shortest {w} path"]
    words = ("garden river planet history music recipe travel budget weather poem novel chess camera "
             "coffee mountain ocean grammar email letter meeting resume birthday wedding bicycle train "
             "airport museum castle forest desert island volcano kitchen bakery market festival theatre "
             "library village harbour bridge tower").split()
    rows = []
    k = 0
    for a in range(30):
        acct = f"spread-{a:02d}"
        t = T0 + 6 * 3600 * 1_000_000 + int(rng.integers(0, 3600 * 1_000_000))
        for j in range(55):
            t += int(rng.exponential(40e6)) if rng.random() < 0.8 else int(rng.exponential(1800e6))
            w = f"{words[(k // 25) % len(words)]} {words[k % len(words)]}"  # distinct after normalisation
            prompt = f"{tasks[k % 5]} {objs[(k // 5) % 5].format(w=w)}, think step by step and show your reasoning."
            k += 1
            rows.append(dict(request_id=f"spread-{a}-{j}", ts=t, account_id=acct, api_key_id=f"k-{acct}-{j % 4}",
                             ip=f"198.51.100.{a % 6}", user_agent="python-httpx/0.27", payment_fingerprint=None,
                             model="m-1", prompt=prompt, response="answer " * 300, prompt_tokens=30,
                             completion_tokens=int(rng.integers(600, 1200))))
    return rows


def _table(rows: list[dict], base: pa.Table) -> pa.Table:
    cols = {f.name: [r[f.name] for r in rows] for f in LOG_SCHEMA}
    extra = pa.table({f.name: (pa.array(cols[f.name], pa.int64()).cast(f.type) if f.name == "ts"
                               else pa.array(cols[f.name], f.type)) for f in LOG_SCHEMA}, schema=LOG_SCHEMA)
    return pa.concat_tables([base, extra])


@pytest.fixture(scope="module")
def automation_log():
    rng = np.random.default_rng(18)
    base, _ = make_log(seed=18, n_human=20, camp_a=0, camp_b=0)
    table = _table(_automation_rows(rng) + _spread_rows(rng), base)
    return table, scan(table)


def _by_prefix(findings, prefix):
    return [a for a in findings.accounts if a.account_id.startswith(prefix)]


def test_information_free_automation_is_context_not_evidence(automation_log):
    table, f = automation_log
    auto = _by_prefix(f, "monitor-") + _by_prefix(f, "batchjob-")
    assert len(auto) == 12
    assert not [a.account_id for a in auto if a.flagged]
    # what they obtained, computed from the rows: one (monitor) or three (batch job) distinct
    # normalised prompts, estimated as documented from the uniform sample of K rows (which holds every
    # one of them), capped by the exact count of distinct prompts as sent over all rows
    k = FeatureConfig().sample_k
    acc_col, prompts = table["account_id"].to_pylist(), table["prompt"].to_pylist()
    for a in auto:
        n = a.exchanges
        distinct = 1 if a.account_id.startswith("monitor-") else 3
        sent = len({p for x, p in zip(acc_col, prompts) if x == a.account_id})
        nu = min(distinct / min(n, k), sent / n)
        assert a.signals["novelty"] == pytest.approx(nu)
        assert a.signals["answer_tokens"] == pytest.approx(n)  # one answer token each
        assert a.signals["extracted_tokens"] == pytest.approx(n * nu)
        assert a.extraction_multiple == pytest.approx(a.signals["extraction_multiple"])
        assert a.extraction_multiple < 0.01


def test_distinct_capability_prompts_over_many_accounts_and_keys_are_flagged(automation_log):
    table, f = automation_log
    spread = _by_prefix(f, "spread-")
    assert len(spread) == 30
    assert sum(a.flagged for a in spread) >= 27
    acct = table.filter(pa.compute.equal(table["account_id"], "spread-00"))
    want_tokens = float(np.sum(acct["completion_tokens"].to_numpy()))  # every prompt distinct
    a0 = f.account("spread-00")
    assert a0.signals["novelty"] == pytest.approx(1.0)
    assert a0.signals["extracted_tokens"] == pytest.approx(want_tokens, rel=1e-6)
    camp = [c for c in f.campaigns if "spread-00" in c.accounts]
    assert camp and camp[0].signals["extracted_tokens"] >= 0.9 * 30 * 55 * 600
    # the human-readable report carries the extracted quantity beside the human-feasible multiple
    doc = f.to_json()
    assert {"extraction_multiple", "human_rate_multiple"} <= set(doc["accounts"][0])
    assert {"extraction_multiple", "human_rate_multiple"} <= set(doc["campaigns"][0])


def test_benign_humans_stay_unflagged(automation_log):
    _, f = automation_log
    assert not [a.account_id for a in f.accounts if a.flagged and not a.account_id.startswith("spread-")]


def test_extraction_known_answers():
    """Hand-computed: 100 exchanges, 25 distinct prompts, 400 answer tokens each, over one hour."""
    from stillwatch.guard.features.rates import HumanRate
    from stillwatch.guard.score.extraction import extraction, novelty_weight

    rate = HumanRate()
    spt = 60.0 * 0.75 / 238.0  # reading seconds per token (238 wpm, 0.75 words per token)
    demand = 100 * (5.0 + 400 * spt)
    x = extraction(np.array([100.0]), np.array([25.0]), np.array([demand]), np.array([3600e6]), rate)
    assert x["novelty"][0] == pytest.approx(0.25)
    assert x["answer_tokens"][0] == pytest.approx(40_000.0)
    assert x["extracted_tokens"][0] == pytest.approx(10_000.0)
    seconds = 10_000 * spt + 25 * 5.0
    assert x["extracted_hours"][0] == pytest.approx(seconds / 3600.0)
    # one hour of span: a person has the hour plus one typical exchange (5 s + 400 tokens)
    assert x["extraction_multiple"][0] == pytest.approx(seconds / (3600.0 + 5.0 + 400 * spt))
    assert novelty_weight(np.array([0.0, 0.25, 0.5, 1.0])).tolist() == [0.0, 0.25, 0.5, 1.0]  # the share of new information
    # an account with no rows obtained nothing (no division by zero)
    z = extraction(np.array([0.0]), np.array([0.0]), np.array([0.0]), np.array([0.0]), rate)
    assert z["novelty"][0] == 0.0 and z["extracted_tokens"][0] == 0.0
