"""Live (provisional) alarms of the streaming scorer.

* Many small benign accounts (1-3 requests each) sharing a few dozen common, slot-filled templates —
  some asking for step-by-step reasoning or code — must never alarm live: a phrase many people use
  once is common language, not a campaign (the batch's key-level rule, applied live).
* A small coordinated campaign (12 fresh accounts round-robin over one reasoning scaffold) mixed
  into that population must alarm within its first 3 x 12 requests.
* The per-key live statistics the scorer maintains incrementally equal a naive recomputation from
  the accounts' membership maps, and every membership map stays bounded.

The populations are generated here, independently of the simulator and of the code under test.
"""

from __future__ import annotations

import numpy as np
import pytest

from stillwatch.guard.live.stream import _CONTENT, StreamConfig, StreamingScorer

T0 = 1_772_409_600_000_000  # 2026-03-02 00:00 UTC, microseconds
_FILL = ("a garden", "my budget", "the river", "a poem", "chess openings", "our wedding", "a bakery", "the museum",
         "volcanoes", "train travel", "a resume", "the harbour", "coffee", "grammar", "a castle", "the weather")
# common phrasings many people use (a few ask for reasoning or code: ordinary users do too)
_COMMON = (
    "can you help me write a short and friendly email to my landlord about {x} please",
    "what are some good ideas for a weekend trip that involves {x} and not too much money",
    "explain step by step how to get started with {x} as a complete beginner with no experience",
    "write a python function that keeps track of {x} and explain how it works line by line",
    "summarize the main points of this article about {x} in three short bullet points for me",
    "i need a catchy title for a blog post about {x}, give me ten options in different styles",
    "translate this sentence about {x} into french and spanish and explain any tricky words",
    "what is the difference between the two most common ways people think about {x} today",
    "give me a simple weekly plan so that i can learn more about {x} in my spare evenings",
    "help me write a birthday message for my sister that mentions {x} in a funny way please",
    "show your reasoning: is it a good idea to spend my savings on {x} this year or to wait",
    "rewrite the following paragraph about {x} so that it sounds more professional and clear",
)
_SCAFFOLD = ("You are a careful tutor. Think step by step and show every intermediate step of your reasoning "
             "before the final answer. Question {j}: how does {x} relate to {y}?")


def _benign_rows(rng: np.random.Generator, n_accounts: int, hours: float) -> list[dict]:
    """n_accounts people, 1-3 requests each (minutes apart, human pacing), each request a random
    common template filled with a random topic; accounts arrive uniformly over ``hours``."""
    rows = []
    for i in range(n_accounts):
        t = T0 + int(rng.uniform(0, hours * 3600e6))
        for _ in range(int(rng.integers(1, 4))):
            prompt = _COMMON[int(rng.integers(len(_COMMON)))].format(x=_FILL[int(rng.integers(len(_FILL)))])
            rows.append({"request_id": f"b{len(rows):07d}", "ts": t, "account_id": f"person-{i:05d}",
                         "ip": f"10.{i // 250}.{i % 250}.7", "user_agent": ("Mozilla/5.0 Firefox", "Mozilla/5.0 Chrome")[i % 2],
                         "payment_fingerprint": f"card-{i}", "prompt": prompt,
                         "completion_tokens": int(rng.integers(300, 900))})
            t += int(rng.exponential(300e6)) + 20_000_000
    return rows


def _campaign_rows(rng: np.random.Generator, n_accounts: int, n_requests: int, start_h: float) -> list[dict]:
    """A campaign: fresh accounts, round-robin over one reasoning scaffold, a request every 2-6 s."""
    rows, t = [], T0 + int(start_h * 3600e6)
    for j in range(n_requests):
        t += int(rng.uniform(2e6, 6e6))
        prompt = _SCAFFOLD.format(j=j, x=_FILL[int(rng.integers(len(_FILL)))], y=_FILL[int(rng.integers(len(_FILL)))])
        rows.append({"request_id": f"c{j:07d}", "ts": t, "account_id": f"sybil-{j % n_accounts:03d}",
                     "ip": f"45.3.2.{j % 5}", "user_agent": "harvest-client/1.0", "payment_fingerprint": None,
                     "prompt": prompt, "completion_tokens": int(rng.integers(400, 900))})
    return rows


def _replay(rows: list[dict]) -> tuple[StreamingScorer, list]:
    scorer = StreamingScorer(StreamConfig())
    rows = sorted(rows, key=lambda r: (r["ts"], r["request_id"]))
    return scorer, [(r, scorer.observe(r)) for r in rows]


@pytest.fixture(scope="module")
def common_language():
    rng = np.random.default_rng(11)
    rows = _benign_rows(rng, 2500, hours=6.0)
    return _replay(rows)


def test_common_templates_never_alarm_live(common_language):
    scorer, out = common_language
    people = {r["account_id"] for r, _ in out}
    # the population really does share its phrasing: every common template is used by hundreds of
    # accounts with many different prompts (what made the old live rule link them all)
    users_per_template = {}
    for r, _ in out:
        users_per_template.setdefault(r["prompt"][:20], set()).add(r["account_id"])
    assert len(users_per_template) == len(_COMMON)
    assert min(len(u) for u in users_per_template.values()) >= 200
    alarmed = {r["account_id"] for r, v in out if v.flagged}
    assert len(people) == 2500
    assert alarmed == set(), f"{len(alarmed)} of {len(people)} ordinary accounts alarmed live"


def test_small_campaign_alarms_within_three_rounds():
    rng = np.random.default_rng(12)
    n_sybils = 12
    rows = _benign_rows(rng, 1500, hours=6.0) + _campaign_rows(rng, n_sybils, 400, start_h=2.0)
    _, out = _replay(rows)
    camp = [(i, v) for i, (r, v) in enumerate(out) if r["account_id"].startswith("sybil-")]
    first = next((k for k, (_, v) in enumerate(camp) if v.flagged), None)
    assert first is not None, "the campaign never alarmed live"
    assert first < 3 * n_sybils, f"first live alarm on the campaign's request #{first + 1}"
    assert not any(v.flagged for r, v in out if r["account_id"].startswith("person-"))


def _naive_key_stats(scorer: StreamingScorer) -> dict:
    """Per content key: (users, rows on the key, their rows in all, users with >= 2 rows on the
    key, their rows on it, users with >= 2 requests, of those the ones with every request on the
    key), from scratch."""
    out: dict = {}
    for a in scorer._acc.values():
        for mk, c in a.member.items():
            s = out.setdefault(mk, [0] * 7)
            s[0] += 1
            s[1] += c
            s[2] += a.n
            s[3] += c >= 2
            s[4] += c if c >= 2 else 0
            s[5] += a.n >= 2
            s[6] += a.n >= 2 and c == a.n
    return out


def test_live_key_statistics_match_naive_recount():
    rng = np.random.default_rng(13)
    rows = _benign_rows(rng, 300, hours=2.0) + _campaign_rows(rng, 8, 200, start_h=0.5)
    # one heavy account with many distinct keys, so membership eviction is exercised
    rows += [{"request_id": f"h{j:05d}", "ts": T0 + j * 7_000_000, "account_id": "heavy",
              "prompt": f"question {j} about {_FILL[j % 16]} and {_FILL[(j * 5) % 16]}: " + "word " * (j % 9) + str(j * 7919),
              "completion_tokens": 200} for j in range(400)]
    scorer, _ = _replay(rows)
    cap = 3 * scorer.cfg.heavy_hitters
    assert max(len(a.member) for a in scorer._acc.values()) == cap  # the heavy account filled its map
    naive = _naive_key_stats(scorer)
    checked = 0
    for mk, ks in scorer._keys.items():
        if mk[0] not in _CONTENT:
            continue
        got = [ks.users, ks.urows, ks.sum_n, ks.rep_users, ks.rep_rows, ks.returning, ks.devoted]
        assert got == naive.get(mk, [0] * 7), mk
        checked += 1
    assert checked > 100


_QUESTIONS = tuple(f"why does {x} change when the seasons turn, and what should i watch for over the year"
                   for x in _FILL)


def test_one_coincident_request_does_not_join_a_campaign():
    """A campaign wraps everyday questions in its reasoning scaffold; people who asked one of the
    same questions plainly (among their other requests) share that question's suffix key with the
    campaign. They must not join it, nor be alarmed with it; the campaign still alarms.

    Stated limit: here each person's first request is in their own words. A person whose very first
    request is the coincident question does join — one request on a campaign-like key is what a
    sybil's first request looks like too (see notes/issue-4-data-eval.md, "Session 3")."""
    rng = np.random.default_rng(14)
    rows = []
    t = T0 + 3600_000_000
    for j in range(600):  # 30 sybils, round-robin, scaffold + everyday question
        t += int(rng.uniform(2e6, 6e6))
        rows.append({"request_id": f"c{j:07d}", "ts": t, "account_id": f"sybil-{j % 30:03d}",
                     "prompt": "You are a careful tutor. Think step by step and show every intermediate step of your "
                               f"reasoning (case {j}). " + _QUESTIONS[int(rng.integers(len(_QUESTIONS)))],
                     "completion_tokens": int(rng.integers(400, 900))})
    people = [f"person-{i:03d}" for i in range(200)]
    for i, acct in enumerate(people):  # 3-8 requests each: one of the everyday questions (not the first)
        t = T0 + int(rng.uniform(0, 6 * 3600e6))
        n = int(rng.integers(3, 9))
        q = int(rng.integers(1, n))
        for k in range(n):
            prompt = (_QUESTIONS[int(rng.integers(len(_QUESTIONS)))] if k == q else
                      " ".join(rng.choice(_FILL, 6)) + " " + " ".join(rng.choice(_FILL, 3)) + "?")
            rows.append({"request_id": f"p{i:03d}{k}", "ts": t, "account_id": acct, "ip": f"10.1.{i}.9",
                         "prompt": prompt, "completion_tokens": int(rng.integers(200, 600))})
            t += int(rng.exponential(600e6)) + 30_000_000
    scorer, out = _replay(rows)
    assert any(v.flagged for r, v in out if r["account_id"].startswith("sybil-")), "the campaign never alarmed live"
    sybil_root = scorer._find(("a", "sybil-000"))
    joined = [p for p in people if scorer._find(("a", p)) == sybil_root]
    assert joined == [], f"{len(joined)} people joined the campaign through one coincident question"
    assert not any(v.flagged for r, v in out if r["account_id"].startswith("person-"))
