"""The gateway under attack, one gateway process for the whole module (the small run;
`benchmarks/gateway/hostile.py` sends >= 5,000 hostile requests):

* hostile input (hand-written abuse and schemathesis cases): no response with a 5xx status, the
  server still answers, the ledger still verifies, and nothing is half-written (every allow decision
  sits next to its exchange, in one commit);
* no secret leaves the gateway: every log line (uvicorn at debug, Stillwatch at info), every response of the secret probes
  (bodies and headers, errors included), every ledger record and the database files themselves are
  scanned for the master secret, the derived provider and account watermark keys, and the accounts'
  API keys — raw, hex and base64 (standard and URL-safe, with and without padding) — and none is found.

The attacker controls the requests (bodies, headers, the raw bytes on the socket, when it leaves) and
holds keys that were revoked or replaced by rotation; it does not control the gateway's host. The
master secret comes from the environment variable in this run (the key file is what every other
gateway test uses); the API keys are used, rotated and revoked during the run.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from pathlib import Path

import httpx
import pytest
from gw_fuzz import run_abuse, schema_fuzz
from gw_helpers import GatewayProcess, chat, cli, make_site

from stillwatch.gateway.admin import Admin
from stillwatch.ledger import Ledger
from stillwatch.mark import MasterKey


def prepare(tmp_path) -> tuple:
    """Accounts ``fuzzer`` and ``victim``; keys: ``good`` (the fuzzer's), ``revoked``, ``rotated_old``
    (replaced by rotation) and ``rotated_new`` (its replacement), all of the victim."""
    site = make_site(tmp_path, ["fuzzer", "victim"])
    with Admin(site.ledger) as adm:
        revoked_id, revoked = adm.issue_key("victim")
        adm.revoke_key(revoked_id)
        old_id, old = adm.issue_key("victim")
        _, _, new = adm.rotate_key(old_id)
    keys = {"good": site.keys["fuzzer"], "revoked": revoked, "rotated_old": old, "rotated_new": new}
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


def _secret_probes(gw: GatewayProcess, keys: dict[str, str]) -> list[bytes]:
    """Requests made to provoke every kind of answer (each key, streaming or not, every route,
    a revoked key); returns what came back (bodies and headers)."""
    seen: list[bytes] = []
    api_keys = [gw.site.keys["fuzzer"], gw.site.keys["victim"], keys["revoked"], keys["rotated_old"], keys["rotated_new"]]
    for key in api_keys + ["sw-000000000000-" + "A" * 43, None]:
        for stream in (False, True):
            r = chat(gw.url, key, stream=stream)
            seen += [r.content, json.dumps(dict(r.headers)).encode()]
    for path in ("/v1/models", "/health", "/v1/tos", "/openapi.json", "/v1/nothing"):
        r = httpx.get(gw.url + path, headers={"Authorization": f"Bearer {gw.site.keys['fuzzer']}"})
        seen += [r.content, json.dumps(dict(r.headers)).encode()]
    r = httpx.post(gw.url + "/v1/completions", json={"model": "tiny", "prompt": "x" * 10, "max_tokens": 3},
                   headers={"Authorization": f"Bearer {keys['rotated_new']}"})
    seen.append(r.content)
    return seen


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    """One gateway process (master secret from the environment, verbose logging) after the whole attack:
    the secret probes, the hand-written abuse and the schemathesis cases. Yields
    (gateway, keys, hostile results, master secret, probe responses); the gateway is still running."""
    master = MasterKey.generate()
    site, keys = prepare(tmp_path_factory.mktemp("gw-hostile"))
    site.master_key.unlink()  # only the environment variable holds the master secret in this run
    env = {"STILLWATCH_MASTER_KEY": master._secret.hex()}
    with GatewayProcess(site, "--max-new-tokens", "2", "--block-after", "1000", "--log-level", "debug", env=env,
                        cli_flags=("-v",)) as gw:
        seen = _secret_probes(gw, keys)
        results = run_abuse(gw.url, keys)
        results += schema_fuzz(gw.url, keys["good"], examples=12)
        yield gw, keys, results, master, seen


def test_hostile_requests_get_no_5xx(attacked):
    gw, _, results, _, _ = attacked
    counts = check_after(gw, results)
    assert len(results) >= 150, len(results)
    assert counts[400] >= 50 and counts[401] >= 5 and counts[200] >= 5, counts


def _forms(secret: bytes) -> list[bytes]:
    """The encodings a leak could take (each at least 16 characters, so no accidental match)."""
    forms = [secret, secret.hex().encode(), secret.hex().upper().encode()]
    for enc in (base64.b64encode, base64.urlsafe_b64encode):
        b = enc(secret)
        forms += [b, b.rstrip(b"=")]
    return forms


def _secret_part(api_key: str) -> str:
    """The 43 random characters after ``sw-<key id>-``. The secret itself may contain ``-``
    (URL-safe base64), so the split is on the first two dashes: splitting on the last one took a
    tail of the secret that could be two characters long and match any database file by chance."""
    prefix, key_id, secret = api_key.split("-", 2)
    assert prefix == "sw" and len(key_id) == 12 and len(secret) == 43, "unexpected API key layout"
    return secret


def _layer_secret(key) -> bytes:
    return key._secret  # the derived 32 bytes (test-only access: what must never leak)


def test_no_secret_in_logs_responses_or_ledger(attacked):
    gw, keys, _, master, seen = attacked
    site = gw.site
    site.admin("keys", "revoke", site.key_ids["fuzzer"])  # revoked through the CLI while the gateway runs
    seen = seen + [chat(gw.url, site.keys["fuzzer"]).content]
    log = gw.log_path.read_bytes()
    listed = site.admin("accounts", "list", "--json").out.encode()
    verify = cli("ledger", "verify", site.ledger, "--json").out.encode()
    with Ledger.open(site.ledger) as led:
        leaves = b"\n".join(d for _, _, d, _ in led.store.iter_leaves())
    files = b"".join(p.read_bytes() for p in Path(site.ledger).parent.glob(Path(site.ledger).name + "*"))
    haystacks = {"log": log, "responses": b"\n".join(seen), "ledger records": leaves, "database files": files,
                 "admin list": listed, "verify": verify}
    secrets = {"master": master._secret, "provider key": _layer_secret(master.provider_key())}
    for a in ("fuzzer", "victim"):
        secrets[f"account key {a}"] = _layer_secret(master.account_key(a))
    api_keys = [site.keys["fuzzer"], site.keys["victim"], keys["revoked"], keys["rotated_old"], keys["rotated_new"]]
    for i, k in enumerate(api_keys):
        secrets[f"api key {i}"] = k.encode()
        secrets[f"api key {i} secret part"] = _secret_part(k).encode()
    found = [(name, where) for name, s in secrets.items() for form in _forms(s)
             for where, hay in haystacks.items() if form in hay]
    assert not found, found
    assert len(leaves) > 1000 and b"fuzzer" in leaves and len(log) > 100  # the scan looked at real material
