"""Live (provisional) alarms of the streaming scorer: infrastructure and pacing evidence.

* A small campaign whose prompts share no text (each a different code question) but whose accounts
  a scheduler drives on clockwork through one small pool of proxy addresses must alarm within its
  first few rounds: the accounts share and rotate through the same addresses, and their gaps, pooled,
  are regular long before any one account has shown it (the batch's "shared addresses link
  machine-paced accounts" rule, applied live).
* The same pool driven at a human (bursty) pace, and a class of students behind one school address
  working at a steady rhythm, must not alarm: people share addresses too.
* A team of colleagues who paste the same code boilerplate into many of their questions (so the
  boilerplate links them, as machine-scale reuse) must not alarm: capability focus is harvest
  evidence only at machine scale or pace, and they work at a human rate and pace.
* The clusters' pooled pacing sums, kept incrementally, equal a naive recount over their members.

The populations are generated here, independently of the simulator and of the code under test.
"""

from __future__ import annotations

import numpy as np
import pytest

from stillwatch.guard.live.stream import StreamConfig, StreamingScorer

T0 = 1_772_409_600_000_000  # 2026-03-02 00:00 UTC, microseconds
_WORDS = tuple((
    "apple bridge candle desert engine forest garden harbor island jungle kettle ladder meadow needle orchard "
    "pepper quarry ribbon saddle temple umbrella valley wagon yarn zebra anchor basket cactus dolphin eagle "
    "falcon glacier hammer igloo jacket kayak lantern magnet nectar oyster parrot quiver rocket sponge tunnel "
    "velvet walnut").split())


def _question(rng: np.random.Generator) -> str:
    """A code question in words of its own: no template or near-duplicate shared with any other."""
    w = [str(x) for x in rng.choice(_WORDS, 10, replace=False)]
    return (f"{w[0]} {w[1]} {w[2]} {w[3]}: write a python function that sorts the {w[4]} by {w[5]} "
            f"and keeps {w[6]} {w[7]} {w[8]} {w[9]} {int(rng.integers(10**6))}")


def _people(rng: np.random.Generator, n_accounts: int, hours: float) -> list[dict]:
    """Ordinary people, 1-6 requests each at a bursty pace, each on their own address."""
    rows = []
    for i in range(n_accounts):
        t = T0 + int(rng.uniform(0, hours * 3600e6))
        for _ in range(int(rng.integers(1, 7))):
            rows.append({"request_id": f"p{len(rows):07d}", "ts": t, "account_id": f"person-{i:04d}",
                         "ip": f"10.{i // 250}.{i % 250}.7", "user_agent": "Mozilla/5.0 Firefox",
                         "prompt": " ".join(str(x) for x in rng.choice(_WORDS, 9)) + "?",
                         "completion_tokens": int(rng.integers(200, 700))})
            t += int(rng.exponential(400e6)) + 20_000_000
    return rows


def _pool_campaign(rng: np.random.Generator, n_accounts: int, rounds: int, clockwork: bool) -> list[dict]:
    """n_accounts accounts, each sending a request every ~10 minutes (clockwork: +-1 %; else
    exponential gaps), request k of account i through address (i + k) mod 4 of a 4-address pool."""
    rows = []
    for i in range(n_accounts):
        t = T0 + int(3600e6) + i * 37_000_000
        for k in range(rounds):
            rows.append({"request_id": f"s{i:03d}{k:04d}", "ts": t, "account_id": f"sybil-{i:03d}",
                         "ip": f"203.0.{113 + (i + k) % 4}.9", "user_agent": "python-requests/2.31",
                         "prompt": _question(rng), "completion_tokens": int(rng.integers(400, 900))})
            t += int(600e6 * rng.uniform(0.99, 1.01)) if clockwork else int(rng.exponential(600e6)) + 5_000_000
    return rows


def _replay(rows: list[dict], scorer: StreamingScorer | None = None) -> tuple[StreamingScorer, list]:
    scorer = scorer or StreamingScorer(StreamConfig())
    rows = sorted(rows, key=lambda r: (r["ts"], r["request_id"]))
    return scorer, [(r, scorer.observe(r)) for r in rows]


def test_clockwork_proxy_pool_alarms_within_a_few_rounds():
    rng = np.random.default_rng(21)
    n = 10
    rows = _people(rng, 800, hours=8.0) + _pool_campaign(rng, n, rounds=30, clockwork=True)
    _, out = _replay(rows)
    camp = [v for r, v in out if r["account_id"].startswith("sybil-")]
    first = next((k for k, v in enumerate(camp) if v.flagged), None)
    assert first is not None, "the proxy-pool campaign never alarmed live"
    # linking needs >= 3 rotating accounts with >= 20 gaps pooled: about 3 rounds of 10 accounts
    assert first < 5 * n, f"first live alarm on the campaign's request #{first + 1}"
    assert not any(v.flagged for r, v in out if r["account_id"].startswith("person-"))


def test_human_paced_pool_and_a_class_behind_one_address_do_not_alarm():
    rng = np.random.default_rng(22)
    rows = _pool_campaign(rng, 10, rounds=30, clockwork=False)  # same pool, bursty (human) pace
    # a class: 15 students behind one school address, a question every ~4 minutes (+-20 %)
    for i in range(15):
        t = T0 + int(2 * 3600e6) + int(rng.uniform(0, 300e6))
        for k in range(12):
            rows.append({"request_id": f"k{i:02d}{k:03d}", "ts": t, "account_id": f"student-{i:02d}",
                         "ip": "192.0.2.50", "user_agent": "Mozilla/5.0 Chrome", "prompt": _question(rng),
                         "completion_tokens": int(rng.integers(300, 800))})
            t += int(240e6 * rng.uniform(0.8, 1.2))
    scorer, out = _replay(rows)
    alarmed = {r["account_id"] for r, v in out if v.flagged}
    assert alarmed == set(), f"alarmed live: {sorted(alarmed)}"
    # the pool's addresses are shared and rotated (what the rule looks at), yet linked nothing
    assert len({r["account_id"] for r in rows if r["ip"] == "203.0.113.9"}) == 10
    assert all(scorer._find(("a", f"sybil-{i:03d}")) == ("a", f"sybil-{i:03d}") for i in range(10))


_BOILERPLATE = ("import pandas as pd\nimport numpy as np\ndf = pd.read_csv('sales.csv')\n# question: ")


def test_colleagues_sharing_boilerplate_at_a_human_pace_do_not_alarm():
    """Six analysts, one office address, 160 code questions each over four working days at a
    human pace; a quarter of their questions start with the team's shared boilerplate (>= 20 times
    each: the machine-scale reuse rule links them, as it links a reseller's scripted slice)."""
    rng = np.random.default_rng(23)
    rows = []
    for i in range(6):
        for day in range(4):
            t = T0 + day * 86_400_000_000 + int(9 * 3600e6) + int(rng.uniform(0, 1800e6))
            for _ in range(40):
                q = _question(rng)
                rows.append({"request_id": f"a{i}{len(rows):06d}", "ts": t, "account_id": f"analyst-{i}",
                             "ip": "198.51.100.20", "user_agent": "Mozilla/5.0 Firefox",
                             "prompt": (_BOILERPLATE + q) if rng.random() < 0.25 else q,
                             "completion_tokens": int(rng.integers(300, 900))})
                t += int(rng.exponential(600e6)) + 30_000_000
    scorer, out = _replay(rows)
    per = {f"analyst-{i}": sum(r["account_id"] == f"analyst-{i}" and r["prompt"].startswith("import pandas")
                               for r in rows) for i in range(6)}
    assert min(per.values()) >= 20, per  # the boilerplate is reused at machine scale by every analyst
    roots = {scorer._find(("a", a)) for a in per}
    assert len(roots) == 1, "the boilerplate should link the team (else this test checks nothing)"
    alarmed = {r["account_id"] for r, v in out if v.flagged}
    assert alarmed == set(), f"alarmed live: {sorted(alarmed)}"


@pytest.mark.parametrize("seed", [31, 32])
def test_cluster_pacing_sums_match_naive_recount(seed):
    rng = np.random.default_rng(seed)
    rows = _people(rng, 200, hours=3.0) + _pool_campaign(rng, 8, rounds=12, clockwork=seed == 31)
    scorer, _ = _replay(rows)
    members: dict = {}
    for acct in scorer._acc:
        members.setdefault(scorer._find(("a", acct)), []).append(acct)
    for root, accts in members.items():
        q = dof = gaps = 0.0
        for acct in accts:
            ts = sorted(r["ts"] for r in rows if r["account_id"] == acct)
            g = np.diff(np.array(ts, np.float64))
            if len(g) >= 2 and g.mean() > 0:
                q += float(((g - g.mean()) ** 2).sum() / g.mean() ** 2)
                dof += len(g) - 1
                gaps += len(g)
        agg = scorer._agg[root]
        assert agg[8] == dof and agg[9] == gaps
        assert agg[7] == pytest.approx(q, rel=1e-6, abs=1e-9)
