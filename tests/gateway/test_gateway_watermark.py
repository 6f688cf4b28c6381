"""End to end with SmolLM2: answers fetched through the gateway (several accounts decoding in the
same dynamic batch) are detected and attributed to the right account by `stillwatch mark detect`,
with the master key only; `stillwatch ledger verify` passes afterwards."""

from __future__ import annotations

import asyncio
import json

import openai
import pytest
from gw_helpers import GatewayProcess, cli, make_site

ACCOUNTS = ["acct-north", "acct-south"]
PROMPTS = ["Explain how tides work.", "Describe a good breakfast.", "Why is the sky blue?"]


@pytest.mark.slow
def test_answers_detected_and_attributed(tmp_path):
    # 64 new tokens (was 100): over 10 fresh master keys, the same 2 accounts x 3 prompts watermarked at 64 tokens
    # (`mark generate`, 2026-12-05) gave 4-6 of 6 answers attributed (>= 3 asserted), 5-6 of 6 with p < 1e-3
    # (>= 4 asserted) and never a wrong account
    site = make_site(tmp_path, ACCOUNTS)
    with GatewayProcess(site, "--batch-window-ms", "200", model="smollm2") as gw:
        async def fetch() -> list[tuple[str, str, str]]:
            clients = {a: openai.AsyncOpenAI(base_url=gw.url + "/v1", api_key=site.keys[a], max_retries=0, timeout=600) for a in ACCOUNTS}

            async def one(a: str, p: str) -> tuple[str, str, str]:
                raw = await clients[a].chat.completions.with_raw_response.create(
                    model="smollm2", messages=[{"role": "user", "content": p}], max_tokens=64, temperature=1.0)
                return a, raw.parse().choices[0].message.content, raw.headers["x-stillwatch-watermark"]

            try:
                return await asyncio.gather(*[one(a, p) for a in ACCOUNTS for p in PROMPTS])
            finally:
                for c in clients.values():
                    await c.close()

        answers = asyncio.run(fetch())
        log = gw.log_path.read_text()
    texts = tmp_path / "texts.jsonl"
    texts.write_text("".join(json.dumps({"text": t}) + "\n" for _, t, _ in answers))
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(ACCOUNTS + [f"decoy-{i}" for i in range(30)]) + "\n")
    res = [json.loads(x) for x in cli("mark", "detect", "--master-key", str(site.master_key), "--input", str(texts),
                                      "--accounts", str(ids), "--model", "smollm2", "--json").out.splitlines()]
    truth = [a for a, _, _ in answers]
    named = [r["account"] for r in res]
    assert all(n in (t, None) for n, t in zip(named, truth)), (named, truth)  # never the wrong account
    assert sum(n == t for n, t in zip(named, truth)) >= 3, res  # answers may stop early (one had 2 tokens)
    assert sum(r["p_value"] < 1e-3 for r in res) >= 4, res  # the provider layer
    assert all(h.startswith("provider+account; spec=sha256:") for _, _, h in answers)
    cli("ledger", "verify", site.ledger)
    assert "Traceback" not in log
