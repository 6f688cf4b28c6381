"""No secret leaves the gateway: every log line (debug level), every response (bodies and headers,
errors included), every ledger record and the database files themselves are scanned for the master
secret, the derived provider and account watermark keys, and the accounts' API keys — raw, hex and
base64 (standard and URL-safe, with and without padding) — and none is found.

The master secret comes from the environment variable here (the file path is covered by the other
tests); the API keys are used, rotated and revoked during the run, and hostile requests provoke errors.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
from gw_fuzz import run_abuse
from gw_helpers import GatewayProcess, chat, cli, make_site

from stillwatch.gateway.admin import Admin
from stillwatch.ledger import Ledger
from stillwatch.mark import MasterKey


def _forms(secret: bytes) -> list[bytes]:
    """The encodings a leak could take (each at least 16 characters, so no accidental match)."""
    forms = [secret, secret.hex().encode(), secret.hex().upper().encode()]
    for enc in (base64.b64encode, base64.urlsafe_b64encode):
        b = enc(secret)
        forms += [b, b.rstrip(b"=")]
    return forms


def _layer_secret(key) -> bytes:
    return key._secret  # the derived 32 bytes (test-only access: what must never leak)


def test_no_secret_in_logs_responses_or_ledger(tmp_path):
    master = MasterKey.generate()
    site = make_site(tmp_path, ["alpha", "beta"])
    site.master_key.unlink()  # only the environment variable holds the master secret in this run
    env = {"STILLWATCH_MASTER_KEY": master._secret.hex()}
    seen: list[bytes] = []
    with Admin(site.ledger) as adm:
        old_id, old = adm.issue_key("beta")
        _, _, rotated = adm.rotate_key(old_id)
    api_keys = [site.keys["alpha"], site.keys["beta"], old, rotated]
    with GatewayProcess(site, "--max-new-tokens", "8", "--log-level", "debug", env=env) as gw:
        for key in api_keys + ["sw-000000000000-" + "A" * 43, None]:
            for stream in (False, True):
                r = chat(gw.url, key, stream=stream)
                seen += [r.content, json.dumps(dict(r.headers)).encode()]
        for path in ("/v1/models", "/health", "/v1/tos", "/openapi.json", "/v1/nothing"):
            r = httpx.get(gw.url + path, headers={"Authorization": f"Bearer {site.keys['alpha']}"})
            seen += [r.content, json.dumps(dict(r.headers)).encode()]
        r = httpx.post(gw.url + "/v1/completions", json={"model": "tiny", "prompt": "x" * 10, "max_tokens": 3},
                       headers={"Authorization": f"Bearer {site.keys['beta']}"})
        seen.append(r.content)
        run_abuse(gw.url, {"good": site.keys["alpha"], "revoked": old, "rotated_old": old})
        site.admin("keys", "revoke", site.key_ids["alpha"])
        seen.append(chat(gw.url, site.keys["alpha"]).content)
        log = gw.log_path.read_bytes()
    listed = site.admin("accounts", "list", "--json").stdout.encode()
    verify = cli("ledger", "verify", site.ledger, "--json").stdout.encode()
    with Ledger.open(site.ledger) as led:
        leaves = b"\n".join(d for _, _, d, _ in led.store.iter_leaves())
    files = b"".join(p.read_bytes() for p in Path(site.ledger).parent.glob(Path(site.ledger).name + "*"))
    haystacks = {"log": log, "responses": b"\n".join(seen), "ledger records": leaves, "database files": files,
                 "admin list": listed, "verify": verify}
    secrets = {"master": master._secret, "provider key": _layer_secret(master.provider_key())}
    for a in ("alpha", "beta"):
        secrets[f"account key {a}"] = _layer_secret(master.account_key(a))
    for i, k in enumerate(api_keys):
        secrets[f"api key {i}"] = k.encode()
        secrets[f"api key {i} secret part"] = k.rsplit("-", 1)[1].encode()
    found = [(name, where) for name, s in secrets.items() for form in _forms(s)
             for where, hay in haystacks.items() if form in hay]
    assert not found, found
    assert len(leaves) > 1000 and b"alpha" in leaves and len(log) > 100  # the scan looked at real material
