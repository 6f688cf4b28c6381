"""A simulated harvesting campaign driven through the gateway is throttled, then blocked, while the
benign simulated users around it are served; every decision is in the ledger.

The attacker here is the simulator's campaign (guard's ``cot_templates`` family: slot-filled
chain-of-thought scaffolds over shared infrastructure, many accounts): it controls its prompts, its
accounts, its addresses and its pace, and ignores Retry-After. The log is replayed request by request
in its own time order through a real HTTP server; the gateway's clock follows the log's timestamps
(the only thing the test controls), client addresses arrive as X-Forwarded-For from a trusted proxy,
the user agent as sent, each account's payment fingerprint from its record, and ``max_tokens`` is the
row's completion length (the answers themselves are cut at one token: the test is about the policy, and the
guard counts the length the client asked for).
"""

from __future__ import annotations

import json
from collections import defaultdict

import httpx
import pytest
from gw_helpers import InProcessServer, ManualClock, make_site

from stillwatch.gateway.admin import Admin
from stillwatch.gateway.config import EngineConfig, GatewayConfig, PolicyConfig
from stillwatch.gateway.server import build_gateway
from stillwatch.ledger import Ledger

N_EXCHANGES = 1500


@pytest.fixture(scope="module")
def replay(tmp_path_factory):
    pytest.importorskip("pyarrow", reason="the simulator needs pyarrow (guard extra)")
    from stillwatch.guard_sim.simulate import simulate
    from stillwatch.models import load_backend

    log, labels = simulate("cot_templates", N_EXCHANGES, 0)
    truth = dict(zip(labels["account_id"].to_pylist(), labels["campaign_id"].to_pylist()))
    rows = log.to_pylist()
    site = make_site(tmp_path_factory.mktemp("gw-campaign"), [])
    payment = {}
    for r in rows:
        payment.setdefault(r["account_id"], r["payment_fingerprint"])
    keys = {}
    with Admin(site.ledger) as adm:
        for acct, pay in payment.items():
            adm.add_account(acct, pay)
            keys[acct] = adm.issue_key(acct)[1]
            adm.accept_tos(acct, "127.0.0.1")
    clock = ManualClock(rows[0]["ts"].timestamp())
    cfg = GatewayConfig(model_id="tiny", trusted_proxies=("127.0.0.1",), engine=EngineConfig(window_ms=0.0, max_new_tokens=1),
                        policy=PolicyConfig(block_after=3))
    gw = build_gateway(site.ledger, load_backend("tiny"), master_key=site.master_key, config=cfg, clock=clock)
    statuses: dict[str, list[tuple[int, str]]] = defaultdict(list)
    with InProcessServer(gw) as srv, httpx.Client(base_url=srv.url, timeout=60) as client:
        for r in rows:
            clock.t = r["ts"].timestamp()
            resp = client.post("/v1/chat/completions", json={
                "model": "tiny", "messages": [{"role": "user", "content": r["prompt"]}],
                "max_tokens": max(1, int(r["completion_tokens"]))},
                headers={"Authorization": f"Bearer {keys[r['account_id']]}", "User-Agent": r["user_agent"],
                         "X-Forwarded-For": r["ip"]})
            code = resp.json()["error"]["code"] if resp.status_code != 200 else "ok"
            statuses[r["account_id"]].append((resp.status_code, code))
    return site, truth, statuses, len(rows)


def test_campaign_throttled_then_blocked_benign_served(replay):
    site, truth, statuses, n = replay
    campaign = [a for a in statuses if truth[a]]
    benign = [a for a in statuses if not truth[a]]
    assert len(campaign) >= 50 and len(benign) >= 30
    # no benign user was throttled or blocked; nobody got a server error
    assert all(s == 200 for a in benign for s, _ in statuses[a]), {a: statuses[a] for a in benign if any(s != 200 for s, _ in statuses[a])}
    assert all(s < 500 for a in statuses for s, _ in statuses[a])
    refused = [a for a in campaign if any(s in (429, 403) for s, _ in statuses[a])]
    blocked = [a for a in campaign if any(s == 403 for s, _ in statuses[a])]
    assert len(refused) >= 0.8 * len(campaign), (len(refused), len(campaign))
    assert len(blocked) >= 0.5 * len(campaign), (len(blocked), len(campaign))
    for a in blocked:  # throttled first, then blocked, and blocked from then on
        seq = [s for s, _ in statuses[a]]
        first_block = seq.index(403)
        assert 429 in seq[:first_block] and all(s == 403 for s in seq[first_block:]), seq
        assert {c for s, c in statuses[a] if s == 403} <= {"guard_repeated_flags", "account_blocked"}


def test_every_decision_is_in_the_ledger(replay):
    site, truth, statuses, n = replay
    with Ledger.open(site.ledger) as led:
        led.verify()
        recs = [(k, json.loads(d)["fields"]) for _, k, d, _ in led.store.iter_leaves()]
    policy = [f for k, f in recs if k == "policy"]
    exchanges = [f for k, f in recs if k == "exchange"]
    assert len(policy) == n  # one decision per request
    assert len(exchanges) == sum(1 for a in statuses for s, _ in statuses[a] if s == 200)
    by_acct = defaultdict(list)
    for p in policy:
        by_acct[p["account"]].append((p["decision"], p["reason"]))
    for a, seq in statuses.items():
        expect = ["allow" if s == 200 else "throttle" if s == 429 else "block" for s, _ in seq]
        assert [d for d, _ in by_acct[a]] == expect
        if not truth[a]:
            assert {r for _, r in by_acct[a]} == {"ok"}
    reasons = {r for a in by_acct if truth[a] for _, r in by_acct[a]}
    assert {"guard_repeated_flags"} <= reasons and reasons & {"guard_campaign_flagged", "guard_account_flagged"}
