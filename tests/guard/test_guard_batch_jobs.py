"""A business's one-night batch job is not a harvest (score/detect.py, ``own_score_step``; issue 13's
per-population goal: agentic seed 2's one flagged business account, own score 0.69).

A lone account that sends hundreds of distinct capability prompts within a few hours and then falls silent
shows a burst (machine scale in *requests*). Whether that is a harvest depends on what it obtained: a
classification job gets a label per request (a few tokens: less than a person reads in the same hours), a
distiller gets full answers. The own score's harvest term reads the information obtained (the extraction
multiple, at the faster of the whole life's and the busiest 24 hours' rate); the burst stays coordination
evidence. Played both ways on a realistic log (real ShareGPT prompts, held-out D's people): the job with short
answers is not flagged, the same burst with the real answers is."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from guard_heldout_base import DAY, HOUR, SDK_UAS, T0, Builder, Popularity, ids, load_pool, paced_times  # noqa: E402
import guard_heldout_logs as L  # noqa: E402

POOL_BYTES = 96_000_000


def _log(pool, seed: int = 3):
    """1,500 casual users and 60 power users over two weeks; a ``batch`` account and a ``harvest`` account (unrelated:
    other addresses, clients and nights), each with a few days of ordinary use and ten requests in the day before its
    job (agentic seed 2's flagged business account has the same shape), then 600 distinct capability prompts
    within one hour (day 8, 22:00; day 11, 03:00), then nothing. The batch job asks for a label in JSON
    and gets one (6 tokens); the harvest asks for reasoning and gets the pool's real answers."""
    b = Builder(np.random.default_rng(seed), pool)
    pop = Popularity.make(b.rng, pool, 1500, 1.0)
    L.casual(b, pop, 1500, days=14.0)
    L.power(b, pop, 60, days=14.0)
    rng = b.rng
    for name, short, night in (("batch", True, 8 * DAY + 22 * HOUR), ("harvest", False, 11 * DAY + 3 * HOUR)):
        acc = ids(rng, f"acct_{name}_", 1)
        hist = np.array([12])
        b.add(acc, hist, np.sort(T0 + rng.uniform(0, 5 * DAY, 12)).astype(np.int64), pop.draw(rng, 12, 0.5),
              family=f"lone:{name}", ip="203.0.113.7" if short else "198.51.100.9", ua=SDK_UAS[0 if short else 2], label=False)
        # the day's ordinary use: ten requests in the twenty hours before the job
        day = np.sort(T0 + night - rng.uniform(2 * HOUR, 20 * HOUR, 10)).astype(np.int64)
        b.add(acc, np.array([10]), day, pop.draw(rng, 10, 0.5), family=f"lone:{name}",
              ip="203.0.113.7" if short else "198.51.100.9", ua=SDK_UAS[0 if short else 2], label=False)
        n = 600
        ts = paced_times(rng, np.array([n]), np.array([T0 + night]), np.array([3600 / n]), jitter=0.6)
        items = L._distinct_capability(b, n)
        head = ("Label this support ticket as billing, bug or other; reply in JSON with one field: " if short else
                "Think step by step and explain your reasoning: ")
        prompts = pa.array([head + t for t in pool.prompts.take(pa.array(items)).to_pylist()])
        answers = pa.array([f'{{"label": "{x}"}}' for x in rng.choice(["billing", "bug", "other"], n)]) if short else None
        b.add(acc, np.array([n]), ts, items, family=f"lone:{name}", ip="203.0.113.7" if short else "198.51.100.9",
              ua=SDK_UAS[0 if short else 2], prompts=prompts, answers=answers,
              answer_tokens=np.full(n, 6) if short else None, max_tokens=8 if short else 1024)
    log, labels, _ = b.tables()
    return log, labels


@pytest.fixture(scope="module")
def scanned():
    from stillwatch.guard.batch.scan import scan

    log, labels = _log(load_pool(POOL_BYTES))
    fam = dict(zip(labels["account_id"].to_pylist(), labels["family"].to_pylist()))
    f = scan(log)
    return {fam[a.account_id]: a for a in f.accounts if fam[a.account_id].startswith("lone:")}, f, fam


def test_the_two_lone_accounts_burst_alike_and_obtain_very_different_amounts(scanned):
    acc, _, _ = scanned
    batch, harvest = acc["lone:batch"], acc["lone:harvest"]
    for a in (batch, harvest):  # the same burst: 600 requests in a few hours after quiet days
        assert a.signals["peak_day_requests"] >= 600 and a.signals["burst_p"] < 1e-20
        assert a.signals["capability_share"] > 0.9
    assert batch.signals["answer_tokens"] < 10_000 < 50_000 < harvest.signals["answer_tokens"]


def test_a_batch_job_with_short_answers_is_not_flagged_and_a_harvest_with_the_same_burst_is(scanned):
    acc, f, fam = scanned
    assert acc["lone:batch"].campaign_id is None and acc["lone:harvest"].campaign_id is None  # alone, as stated
    assert not acc["lone:batch"].flagged and acc["lone:batch"].score < 0.5
    assert acc["lone:harvest"].flagged
    # the people around them: nothing
    assert not [a for a in f.accounts if a.flagged and fam[a.account_id].startswith("benign:")]
