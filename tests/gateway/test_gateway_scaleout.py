"""Scale-out: two gateway processes on one PostgreSQL ledger keep one consistent Merkle log under
concurrent appends, and share what the policy needs (limits and live-guard state through the ledger
tail, blocks and revocations through the store). Skips, saying why, only when no PostgreSQL server
can be started (see tests/ledger/ledger_fixtures.py, which runs .ci/start-postgres)."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
from gw_helpers import GatewayProcess, chat, make_site
from ledger_fixtures import drop_schema, fresh_pg_location

from stillwatch.gateway.accounts import AccountStore
from stillwatch.ledger import Ledger

ACCOUNTS = ["pg-a", "pg-b", "pg-c"]


@pytest.mark.postgres
def test_two_processes_one_postgres_ledger(tmp_path):
    url, schema = fresh_pg_location()
    try:
        Ledger.create(url, key_path=tmp_path / "pg.key").close()
        site = make_site(tmp_path, ACCOUNTS, ledger=url)
        with GatewayProcess(site, "--max-new-tokens", "3", wait=False) as g1, GatewayProcess(site, "--max-new-tokens", "3", wait=False) as g2:
            g1.wait_ready()  # the two processes start side by side
            g2.wait_ready()
            async def burst() -> list[int]:
                async with httpx.AsyncClient(timeout=120) as client:
                    async def one(i: int) -> int:
                        gw = (g1, g2)[i % 2]
                        acct = ACCOUNTS[i % 2]
                        r = await client.post(gw.url + "/v1/chat/completions", headers={"Authorization": f"Bearer {site.keys[acct]}"},
                                              json={"model": "tiny", "messages": [{"role": "user", "content": f"question {i}"}], "max_tokens": 3})
                        return r.status_code
                    return await asyncio.gather(*[one(i) for i in range(60)])

            assert asyncio.run(burst()) == [200] * 60
            # limits are per account across processes: 2 requests through each, then the 5th is over rpm = 4
            site.admin("limits", "set", "pg-c", "--rpm", "4")
            for gw in (g1, g1, g2, g2):
                assert chat(gw.url, site.keys["pg-c"]).status_code == 200
            time.sleep(1.0)  # > the ledger tail's interval
            for gw in (g1, g2):
                r = chat(gw.url, site.keys["pg-c"])
                assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limit_requests"
            # a block decided by one process (stored with the account) is refused by the other at once
            store = AccountStore(url)
            store.block("pg-a", "guard_repeated_flags")
            store.close()
            for gw in (g1, g2):
                assert chat(gw.url, site.keys["pg-a"]).json()["error"]["code"] == "account_blocked"
        with Ledger.open(url, key_path=tmp_path / "pg.key") as led:
            cp = led.checkpoint()
            led.verify(since=cp.text)
            leaves = list(led.store.iter_leaves())
        assert [i for i, *_ in leaves] == list(range(len(leaves)))
        envs = [json.loads(d) for _, _, d, _ in leaves]
        assert all(e["seq"] == i for i, e in enumerate(envs))  # each record bound to its position
        exchanges = [e["fields"] for e in envs if e["type"] == "exchange"]
        assert len(exchanges) == 64 and len({x["request_id"] for x in exchanges}) == 64
        versions = {e["fields"]["policy_version"] for e in envs if e["type"] == "policy"}
        assert len(versions) == 2  # both processes wrote into the one log
    finally:
        drop_schema(schema)
