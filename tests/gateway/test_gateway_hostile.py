"""Hostile input against a gateway process (the small run; `benchmarks/gateway/hostile.py` sends
>= 5,000): no response with a 5xx status, the server still answers, the ledger still verifies,
and nothing is half-written (every allow decision sits next to its exchange, in one commit)."""

from __future__ import annotations

import json
from collections import Counter

import httpx
import pytest
from gw_fuzz import run_abuse, schema_fuzz
from gw_helpers import GatewayProcess, chat, make_site

from stillwatch.gateway.admin import Admin
from stillwatch.ledger import Ledger


def prepare(tmp_path) -> tuple:
    site = make_site(tmp_path, ["fuzzer", "victim"])
    with Admin(site.ledger) as adm:
        revoked_id, revoked = adm.issue_key("victim")
        adm.revoke_key(revoked_id)
        old_id, old = adm.issue_key("victim")
        adm.rotate_key(old_id)
    keys = {"good": site.keys["fuzzer"], "revoked": revoked, "rotated_old": old}
    return site, keys


def check_after(gw: GatewayProcess, results: list[tuple[str, int]]) -> Counter:
    """The invariants every hostile run must keep; returns the status counts."""
    server_errors = [(label, s) for label, s in results if s >= 500]
    assert not server_errors, server_errors[:20]
    unsendable = [label for label, s in results if s < 0]
    assert len(unsendable) <= 0.05 * len(results), unsendable[:20]
    no_answer = [label for label, s in results if s == 0]
    assert all(label.startswith(("raw:disconnect", "raw:not_http", "raw:huge_header", "raw:many_headers", "raw:bad_chunked",
                                 "raw:length_", "raw:chunked_too_big"))
               for label in no_answer), no_answer
    assert httpx.get(gw.url + "/health", timeout=10).status_code == 200
    assert chat(gw.url, gw.site.keys["victim"]).status_code == 200  # still serves a normal client
    with Ledger.open(gw.site.ledger) as led:
        led.verify()
        leaves = [(k, json.loads(d)["fields"]) for _, k, d, _ in led.store.iter_leaves()]
    for i, (kind, f) in enumerate(leaves):  # each allow is followed by its exchange, each exchange preceded by an allow
        if kind == "policy" and f["decision"] == "allow":
            assert leaves[i + 1][0] == "exchange" and leaves[i + 1][1]["account"] == f["account"]
        if kind == "exchange":
            assert leaves[i - 1][0] == "policy" and leaves[i - 1][1]["decision"] == "allow"
    log = gw.log_path.read_text()
    assert "Traceback" not in log and "unexpected" not in log, log[-3000:]
    return Counter(s for _, s in results)


def test_hostile_requests_get_no_5xx(tmp_path):
    site, keys = prepare(tmp_path)
    with GatewayProcess(site, "--max-new-tokens", "2", "--block-after", "1000") as gw:
        results = run_abuse(gw.url, keys)
        results += schema_fuzz(gw.url, keys["good"], examples=12)
        counts = check_after(gw, results)
    assert len(results) >= 150, len(results)
    assert counts[400] >= 50 and counts[401] >= 5 and counts[200] >= 5, counts
