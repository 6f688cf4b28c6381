"""Keys, accounts, terms of service and limits, administered with the CLI against a running gateway:
each change takes effect on the next request, and rotating a key resets nothing."""

from __future__ import annotations

import json

import httpx
import pytest
from gw_helpers import GatewayProcess, chat, make_site

from stillwatch.ledger import Ledger


@pytest.fixture(scope="module")
def gw(tmp_path_factory):
    site = make_site(tmp_path_factory.mktemp("gw-accounts"), [])
    with GatewayProcess(site, fork=False) as proc:
        yield proc


def _records(ledger: str, kind: str) -> list[dict]:
    with Ledger.open(ledger) as led:
        return [json.loads(d)["fields"] for _, k, d, _ in led.store.iter_leaves() if k == kind]


def test_admin_cli_keys_shown_once_and_stored_as_digests(gw):
    site = gw.site
    site.admin("accounts", "add", "carol", "--payment-fingerprint", "pm_77")
    issued = json.loads(site.admin("keys", "issue", "carol", "--json").out)
    key = issued["api_key"]
    listed = site.admin("accounts", "list", "--json").out
    assert issued["key_id"] in listed and key not in listed
    import sqlite3

    with sqlite3.connect(site.ledger) as db:
        stored = db.execute("SELECT key_sha256 FROM gw_keys WHERE key_id = ?", (issued["key_id"],)).fetchone()[0]
    import hashlib

    assert stored == hashlib.sha256(key.encode()).hexdigest()
    custody = [r for r in _records(site.ledger, "custody") if r["subject"] == "carol"]
    assert [r["action"] for r in custody] == ["account_add", "key_issue"]
    assert all(key not in json.dumps(r) for r in custody)


def test_terms_must_be_accepted_and_acceptance_is_recorded(gw, tmp_path):
    site = gw.site
    key = site.add_account("dave", accept=False)
    r = chat(gw.url, key)
    assert r.status_code == 403 and r.json()["error"]["code"] == "tos_not_accepted", r.text
    tos = httpx.get(gw.url + "/v1/tos").json()
    assert tos["version"] == "v1"
    r = httpx.post(gw.url + "/v1/tos/accept", json={"version": "v0"}, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "tos_version_mismatch"
    r = httpx.post(gw.url + "/v1/tos/accept", json={"version": "v1"}, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    assert chat(gw.url, key).status_code == 200
    acc = [a for a in _records(site.ledger, "tos_acceptance") if a["account"] == "dave"]
    assert len(acc) == 1 and acc[0]["terms_version"] == "v1" and acc[0]["source_address"] == "127.0.0.1"
    # a new version: the next request needs a new acceptance (through the CLI this time)
    terms = tmp_path / "v2.txt"
    terms.write_text("New terms.\n")
    site.admin("tos", "publish", "--version", "v2", "--file", str(terms))
    r = chat(gw.url, key)
    assert r.status_code == 403 and "v2" in r.json()["error"]["message"]
    site.admin("tos", "accept", "dave")
    assert chat(gw.url, key).status_code == 200
    pub = [r for r in _records(site.ledger, "custody") if r["action"] == "tos_publish"]
    import hashlib

    assert [p["subject"] for p in pub] == ["v1", "v2"]
    assert json.loads(pub[1]["details"])["terms_sha256"] == hashlib.sha256(b"New terms.\n").hexdigest()
    site.admin("accounts", "add", "erin")
    r = site.admin("tos", "accept", "erin", "--version", "v1", check=False)
    assert r.code == 2 and "not the current version" in r.err


def test_revoke_disable_take_effect_on_next_request(gw):
    site = gw.site
    key = site.add_account("frank")
    assert chat(gw.url, key).status_code == 200
    site.admin("keys", "revoke", site.key_ids["frank"])
    r = chat(gw.url, key)
    assert r.status_code == 401 and r.json()["error"]["code"] == "revoked_api_key"
    new = json.loads(site.admin("keys", "issue", "frank", "--json").out)["api_key"]
    assert chat(gw.url, new).status_code == 200
    site.admin("accounts", "disable", "frank")
    r = chat(gw.url, new)
    assert r.status_code == 403 and r.json()["error"]["code"] == "account_disabled"
    site.admin("accounts", "disable", "frank", "--enable")
    assert chat(gw.url, new).status_code == 200


def test_rate_limits_follow_the_account_through_rotation(gw):
    site = gw.site
    key = site.add_account("gina")
    site.admin("limits", "set", "gina", "--rpm", "3")
    codes = [chat(gw.url, key).status_code for _ in range(3)]
    assert codes == [200, 200, 200]
    r = chat(gw.url, key)
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limit_requests"
    assert 1 <= int(r.headers["retry-after"]) <= 60
    rotated = json.loads(site.admin("keys", "rotate", site.key_ids["gina"], "--json").out)
    assert chat(gw.url, key).json()["error"]["code"] == "revoked_api_key"
    r = chat(gw.url, rotated["api_key"])
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limit_requests"  # rotation reset nothing
    decisions = [p for p in _records(site.ledger, "policy") if p["account"] == "gina"]
    assert [d["decision"] for d in decisions] == ["allow"] * 3 + ["throttle"] * 2
    assert {d["reason"] for d in decisions[3:]} == {"rate_limit_requests"}
    # tokens per minute: a request whose prompt + max_tokens exceed the budget is throttled
    key2 = site.add_account("hank")
    site.admin("limits", "set", "hank", "--tpm", "60")
    r = chat(gw.url, key2, max_tokens=100)
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limit_tokens"
    assert chat(gw.url, key2, max_tokens=4).status_code == 200
