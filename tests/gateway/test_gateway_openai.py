"""The official `openai` client (sync, async, streaming) against `stillwatch gateway serve` run as a
real process on a loopback port, and what each exchange leaves in the ledger."""

from __future__ import annotations

import asyncio
import json

import openai
import pytest
from gw_helpers import GatewayProcess, cli, make_site

from stillwatch.ledger import Ledger


@pytest.fixture(scope="module")
def gw(tmp_path_factory):
    site = make_site(tmp_path_factory.mktemp("gw-openai"), ["alice", "bob"])
    with GatewayProcess(site) as proc:
        yield proc


def _exchanges(ledger: str) -> dict[str, dict]:
    """request_id -> exchange fields, read back from the ledger."""
    with Ledger.open(ledger) as led:
        out = {}
        for _, kind, data, _ in led.store.iter_leaves():
            env = json.loads(data)
            if kind == "exchange":
                out[env["fields"]["request_id"]] = env["fields"]
        return out


def test_sync_chat_is_watermarked_and_recorded(gw):
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key=gw.site.keys["alice"], max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="tiny", messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a colour."}],
        max_tokens=12, temperature=0.7)
    resp = raw.parse()
    assert resp.object == "chat.completion" and resp.choices[0].message.role == "assistant"
    # sampled at T = 0.7 (unseeded): the tiny model may stop at once (CI, 2026-12-06: 0 tokens, "stop"). The
    # engine stops with "length" exactly when it reached max_tokens, else at an end-of-text token ("stop")
    n_tok = resp.usage.completion_tokens
    assert 0 <= n_tok <= 12 and resp.choices[0].finish_reason == ("length" if n_tok == 12 else "stop")
    mark = raw.headers["x-stillwatch-watermark"]
    assert mark.startswith("provider+account; spec=sha256:")
    rid = raw.headers["x-request-id"]
    rec = _exchanges(gw.site.ledger)[rid]
    # the exchange holds guard's request metadata and the spec's fingerprint, and the answer that was sent
    assert rec["account"] == "alice" and rec["api_key_id"] == gw.site.key_ids["alice"]
    assert rec["response"] == resp.choices[0].message.content
    assert rec["prompt"] == "system: Be brief.\nuser: Name a colour."
    assert rec["spec_fingerprint"] == mark.split("spec=")[1] == resp.system_fingerprint
    assert rec["ip"] == "127.0.0.1" and rec["user_agent"].startswith("OpenAI/Python")
    assert rec["completion_tokens"] == resp.usage.completion_tokens
    import hashlib

    params = rec["request_params"]
    assert params["system_prompt_sha256"] == hashlib.sha256(b"Be brief.").hexdigest()
    assert params["temperature"] == "0.7" and params["max_tokens"] == 12 and params["watermark"] == "provider+account"


def test_account_layers_differ_between_accounts(gw):
    """Same request, two accounts: the spec names each account's own layer."""
    specs = {}
    for acct in ("alice", "bob"):
        client = openai.OpenAI(base_url=gw.url + "/v1", api_key=gw.site.keys[acct], max_retries=0)
        raw = client.chat.completions.with_raw_response.create(model="tiny", messages=[{"role": "user", "content": "hi there"}], max_tokens=4)
        specs[acct] = raw.headers["x-stillwatch-watermark"]
    assert specs["alice"] != specs["bob"]


def test_async_client_concurrent_requests_batch(gw):
    async def run() -> list:
        client = openai.AsyncOpenAI(base_url=gw.url + "/v1", api_key=gw.site.keys["bob"], max_retries=0)
        try:
            return await asyncio.gather(*[
                client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": f"question {i}"}], max_tokens=6)
                for i in range(6)])
        finally:
            await client.close()

    results = asyncio.run(run())
    assert len(results) == 6 and all(r.choices[0].message.content is not None for r in results)
    assert len({r.id for r in results}) == 6


def test_streaming_tokens_and_record(gw):
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key=gw.site.keys["alice"], max_retries=0)
    with client.chat.completions.with_streaming_response.create(
            model="tiny", messages=[{"role": "user", "content": "Count to ten."}], max_tokens=16, stream=True,
            stream_options={"include_usage": True}) as raw:
        rid = raw.headers["x-request-id"]
        chunks = list(raw.parse())
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes and finishes[-1] in ("stop", "length")
    usage = [c.usage for c in chunks if c.usage]
    rec = _exchanges(gw.site.ledger)[rid]
    assert rec["response"] == content and usage[-1].completion_tokens == rec["completion_tokens"]
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) >= 2  # tokens came as produced


def test_legacy_completions_models_and_errors(gw):
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key=gw.site.keys["alice"], max_retries=0)
    comp = client.completions.create(model="tiny", prompt="Once upon a time", max_tokens=5)
    assert comp.object == "text_completion" and comp.usage.completion_tokens <= 5
    stream = client.completions.create(model="tiny", prompt="Once upon a time", max_tokens=5, stream=True)
    assert sum(len(c.choices[0].text) for c in stream if c.choices) >= 0
    assert [m.id for m in client.models.list()] == ["tiny"]
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="gpt-99", messages=[{"role": "user", "content": "hi"}])
    assert e.value.code == "model_not_found"
    bad = openai.OpenAI(base_url=gw.url + "/v1", api_key="sk-not-a-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as e:
        bad.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hi"}])
    assert e.value.code == "invalid_api_key"
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hi"}], n=2)
    assert e.value.code == "invalid_request"


def test_ledger_verifies_and_guard_reads_it(gw, tmp_path):
    cli("ledger", "verify", gw.site.ledger)
    out = tmp_path / "findings.json"
    r = cli("guard", "scan", "--input", gw.site.ledger, "--out", str(out), "--json")
    doc = json.loads(out.read_text())
    assert doc["n_rows"] >= 10, r.out
