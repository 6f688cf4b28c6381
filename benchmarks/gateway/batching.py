"""SmolLM2 throughput through the gateway under dynamic batching, against offline batched generation
of the same prompts in the same run.

    .venv/bin/python benchmarks/gateway/batching.py [--prompts 16] [--tokens 64] [--rounds 2]

Gateway: ``--prompts`` requests sent at once through HTTP (one account each, so every row carries its
own watermark layer), decoded by the engine in one dynamic batch, each recorded durably before its
answer. Baseline: ``HFBackend.generate`` on the same prompts in one batch with one account's
watermark processor (what ``mark generate`` does), in this process. Throughput = completion tokens
per second of wall time (answers may stop early at end-of-sequence in either run, so tokens, not
requests, are counted); medians over ``--rounds``. Writes benchmarks/results/gateway_batching.md.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import httpx
from _common import OUT, GatewayProcess, bulk_site, write_section

PROMPTS = ["Explain how tides work.", "Give three tips for learning a language.", "What is a prime number?",
           "Describe a rainy afternoon in a city.", "How does a refrigerator keep food cold?", "Why do leaves change colour?",
           "Write a short note thanking a colleague.", "What is the difference between weather and climate?"]


async def through_gateway(url: str, keys: list[str], prompts: list[str], tokens: int) -> tuple[int, float]:
    async with httpx.AsyncClient(base_url=url, timeout=1200) as client:
        async def one(key: str, p: str) -> int:
            r = await client.post("/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                                  json={"model": "smollm2", "messages": [{"role": "user", "content": p}], "max_tokens": tokens, "temperature": 1.0})
            r.raise_for_status()
            return r.json()["usage"]["completion_tokens"]

        t0 = time.perf_counter()
        got = await asyncio.gather(*[one(k, p) for k, p in zip(keys, prompts)])
        return sum(got), time.perf_counter() - t0


def offline(prompts: list[str], tokens: int, site) -> tuple[int, float]:
    from stillwatch.gateway.engine import MarkerCache
    from stillwatch.mark import MasterKey
    from stillwatch.models import load_backend

    backend = load_backend("smollm2")
    proc = MarkerCache(MasterKey.load(site.master_key), backend).get("acct-00000")[0]
    t0 = time.perf_counter()
    gens = backend.generate(prompts, max_new_tokens=tokens, logits_processor=proc, temperature=1.0, batch_size=len(prompts))
    return sum(len(g.completion_ids) for g in gens), time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    prompts = [PROMPTS[i % len(PROMPTS)] + ("" if i < len(PROMPTS) else " Be concise.") for i in range(args.prompts)]
    site = bulk_site(OUT / "batching", args.prompts)
    keys = [site.keys[a] for a in sorted(site.keys)]
    base = [offline(prompts, args.tokens, site) for _ in range(args.rounds)]
    with GatewayProcess(site, "--batch-window-ms", "100", "--max-batch", str(args.prompts), "--log-level", "warning",
                        model="smollm2") as gw:
        asyncio.run(through_gateway(gw.url, keys[:2], prompts[:2], 4))  # warm-up
        runs = [asyncio.run(through_gateway(gw.url, keys, prompts, args.tokens)) for _ in range(args.rounds)]
    gw_tps = statistics.median(n / s for n, s in runs)
    base_tps = statistics.median(n / s for n, s in base)
    rows = [(f"SmolLM2 completion tokens/s, {args.prompts} concurrent requests x {args.tokens} tokens through the gateway "
             f"(median of {args.rounds})", f"{gw_tps:.1f}/s", f"{base_tps:.1f}/s (offline batched generate, same prompts)",
             f"{gw_tps / base_tps:.2f}x")]
    rows += [(f"round {i + 1}: gateway / offline", f"{n} tok in {s:.1f} s", f"{bn} tok in {bs:.1f} s", f"{(n / s) / (bn / bs):.2f}x")
             for i, ((n, s), (bn, bs)) in enumerate(zip(runs, base))]
    notes = """Target (issue 15): >= 80% of offline batched generation. The gateway run includes HTTP, the key check, the live
guard, a different watermark layer per row (one processor call per account per step, the offline run has one
account), and a durable ledger commit before each answer; the engine decodes with a KV cache, one step for all rows."""
    write_section("gateway_batching", "gateway: dynamic batching (SmolLM2)",
                  f".venv/bin/python benchmarks/gateway/batching.py --prompts {args.prompts} --tokens {args.tokens} --rounds {args.rounds}",
                  rows, notes)


if __name__ == "__main__":
    main()
