"""Live alarms of the streaming scorer on a benign *event*, and the cluster sums behind them.

* A hackathon: participants created within one hour behind the venue's address, one sponsor's promo
  payment fingerprint, each running the starter kit's three identical prompts at an exactly equal
  interval, then two days of their own work at a human pace. Live, the kit links them (one key,
  devoted returning users) and makes them look like a sybil campaign's start. They must not alarm:
  the kit harvests three answers however many run it, and after it the members' traffic is their own,
  not a script.
* The cluster's harvest counts each prompt once: linked accounts repeating a prompt add nothing.
* The cluster's scripted rows equal the sum of its members' counts (a naive recount).

The traffic is generated here, independently of the simulator and of the code under test.
"""

from __future__ import annotations

import numpy as np
import pytest

from stillwatch.errors import GuardInputError
from stillwatch.guard.live.stream import StreamConfig
from test_guard_stream_live import _replay  # the time-ordered replay the other live tests use

T0 = 1_772_409_600_000_000  # 2026-03-02 00:00 UTC, microseconds
HOUR = 3600_000_000
_WORDS = ("garden", "budget", "river", "poem", "chess", "wedding", "bakery", "museum", "volcano", "train", "resume",
          "harbour", "coffee", "grammar", "castle", "weather", "sensor", "drone", "recipe", "playlist", "map", "vote",
          "tide", "moss", "lantern", "ferry", "quilt", "orbit", "pixel", "canyon")
_KIT = tuple(f"HackWeek starter kit, step {k}: list three project ideas that combine the {w} dataset with an LLM."
             for k, w in ((1, "transit"), (2, "weather"), (3, "library")))
_SCAFFOLD = ("You are a careful tutor. Think step by step and show every intermediate step of your reasoning "
             "before the final answer. Question {j}: how does {x} relate to {y}?")


def _own_prompt(rng: np.random.Generator, i: int, k: int) -> str:
    """A participant's own request: free text, different every time."""
    w = rng.choice(_WORDS, 7)
    return f"{w[0]} {w[1]} for our {w[2]} project: how would {w[3]} and {w[4]} fit with {w[5]} {w[6]}? ({i}.{k})"


def _event_rows(rng: np.random.Generator, n: int) -> list[dict]:
    rows = []
    start = T0 + 2 * 24 * HOUR + 7 * HOUR
    for i in range(n):
        acct = f"hk{i:03d}"
        t = start + int(rng.integers(0, HOUR))
        step = int(rng.integers(60, 300)) * 1_000_000  # the kit's script: an exactly equal interval
        for k, prompt in enumerate(_KIT):
            rows.append({"request_id": f"k{i:03d}{k}", "ts": t + k * step, "account_id": acct, "ip": "203.0.113.20",
                         "user_agent": "hack-sdk/1.2", "payment_fingerprint": "promo-hackweek", "prompt": prompt,
                         "completion_tokens": int(rng.integers(200, 500))})
        m = int(rng.integers(40, 120))
        own = start + 2 * HOUR + np.sort(rng.uniform(0, 2 * 24 * HOUR, m)).astype(np.int64)
        for k in range(m):
            ip = "203.0.113.20" if rng.random() < 0.9 else f"198.51.{i}.{k % 200 + 1}"
            rows.append({"request_id": f"o{i:03d}{k:03d}", "ts": int(own[k]), "account_id": acct, "ip": ip,
                         "user_agent": "hack-sdk/1.2", "payment_fingerprint": "promo-hackweek",
                         "prompt": _own_prompt(rng, i, k), "completion_tokens": int(rng.integers(150, 900))})
    return rows


@pytest.fixture(scope="module")
def event():
    return _replay(_event_rows(np.random.default_rng(31), 80))


def test_event_starter_kit_does_not_alarm_live(event):
    scorer, out = event
    participants = {r["account_id"] for r, _ in out}
    # the kit really links them live (the situation under test): most participants share one cluster
    roots = [scorer._find(("a", p)) for p in participants]
    assert max(roots.count(x) for x in set(roots)) >= 40
    alarmed = {r["account_id"] for r, v in out if v.flagged}
    assert alarmed == set(), f"{len(alarmed)} of {len(participants)} participants alarmed live"


def test_cluster_scripted_rows_match_naive_recount(event):
    scorer, _ = event
    want: dict = {}
    for acct, a in scorer._acc.items():
        root = scorer._find(("a", acct))
        want[root] = want.get(root, 0) + a.scripted
        assert a.scripted <= a.n
    for root, g in scorer._agg.items():
        assert g[10] == want.get(root, 0), root
    # the kit's rows are on linking keys, the participants' own work is not
    linked = [a for a in scorer._acc.values() if a.linked]
    assert linked and all(1 <= a.scripted <= len(_KIT) for a in linked)


def test_cluster_harvest_counts_each_prompt_once():
    rng = np.random.default_rng(32)
    n = 10
    rows, t = [], T0
    for j in range(120):  # a campaign linked by its scaffold, every prompt different
        t += int(rng.uniform(2e6, 6e6))
        rows.append({"request_id": f"c{j:05d}", "ts": t, "account_id": f"sybil-{j % n:02d}",
                     "prompt": _SCAFFOLD.format(j=j, x=rng.choice(_WORDS), y=rng.choice(_WORDS)),
                     "completion_tokens": int(rng.integers(400, 900))})
    scorer, out = _replay(rows)
    assert out[-1][1].flagged
    root = scorer._find(("a", "sybil-00"))
    members = [a for acct, a in scorer._acc.items() if scorer._find(("a", acct)) == root]
    assert len(members) == n
    g = scorer._agg[root]
    assert g[4] == pytest.approx(sum(a.demand for a in members))  # distinct prompts: all of it counts
    rate = scorer.cfg.features.rate
    before = g[4]
    for k in range(n):  # every member now asks one and the same question: one answer harvested
        t += 3_000_000
        scorer.observe({"request_id": f"r{k:03d}", "ts": t, "account_id": f"sybil-{k:02d}",
                        "prompt": "What is the capital of France, and why did it become the capital?",
                        "completion_tokens": 100})
    root = scorer._find(("a", "sybil-00"))
    assert scorer._agg[root][4] - before == pytest.approx(rate.seconds_per_prompt + 100 * rate.seconds_per_token)
    # an account outside the cluster asking it too harvests it for its own cluster
    scorer.observe({"request_id": "x", "ts": t + 1, "account_id": "stranger", "prompt":
                    "What is the capital of France, and why did it become the capital?", "completion_tokens": 100})
    assert scorer._agg[scorer._find(("a", "stranger"))][4] == pytest.approx(
        rate.seconds_per_prompt + 100 * rate.seconds_per_token)


def test_config_rejects_bad_prompt_map_size():
    with pytest.raises(GuardInputError, match="max_prompts must be >= 1, got 0"):
        StreamConfig(max_prompts=0)
