"""Gateway load on loopback with the tiny backend: requests/s through the whole pipeline (HTTP, key
check, terms, live guard, watermark, group-committed durable ledger append before each answer), and
the latency the gateway adds over calling the backend directly, measured in the same run.

    .venv/bin/python benchmarks/gateway/load.py [--requests 3000] [--concurrency 32] [--accounts 1500]

Bounded: loopback only, a fixed number of requests. Each request asks for one token (``max_tokens=1``),
so the figure is the gateway's own cost. Accounts are many and prompts varied, as real users are:
the live guard is on and would (rightly) throttle a few accounts sending machine-scale traffic.

Baseline: the same backend called directly in this process (``backend.generate`` of one prompt with
the same account's watermark processor), one request at a time; the added latency is the gateway's
single-client latency minus that baseline, at p50 and at p99. Writes benchmarks/results/gateway_load.md.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time

import httpx
from _common import OUT, GatewayProcess, bulk_site, q, write_section

WORDS = ("river mountain kitchen budget garden physics poem train market winter lesson camera "
         "doctor music planet recipe history engine letter window bridge forest coffee").split()


def prompt(rng: random.Random) -> str:
    return f"Tell me about the {rng.choice(WORDS)} and the {rng.choice(WORDS)} in {rng.randint(2, 9)} words."


async def closed_loop(url: str, keys: list[str], n: int, concurrency: int, seed: int) -> tuple[list[float], list[int], float]:
    rng = random.Random(seed)
    jobs = [(keys[i % len(keys)], prompt(rng)) for i in range(n)]
    lat: list[float] = []
    codes: list[int] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        it = iter(jobs)

        async def worker() -> None:
            for key, p in it:
                t = time.perf_counter()
                try:
                    r = await client.post("/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                                          json={"model": "tiny", "messages": [{"role": "user", "content": p}], "max_tokens": 1})
                except httpx.TransportError:  # counted (code 0) and reported, never hidden
                    codes.append(0)
                    continue
                lat.append(time.perf_counter() - t)
                codes.append(r.status_code)

        t0 = time.perf_counter()
        await asyncio.gather(*[worker() for _ in range(concurrency)])
        wall = time.perf_counter() - t0
    return lat, codes, wall


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` and its threads (from /proc)."""
    import os

    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def direct_latencies(keys: list[str], site, n: int, seed: int) -> tuple[list[float], float]:
    from stillwatch.gateway.engine import MarkerCache
    from stillwatch.mark import MasterKey
    from stillwatch.models import load_backend

    backend = load_backend("tiny")
    markers = MarkerCache(MasterKey.load(site.master_key), backend)
    rng = random.Random(seed)
    out = []
    c0 = time.process_time()
    for i in range(n):
        proc = markers.get(f"acct-{i % len(keys):05d}")[0]
        p = prompt(rng)
        t = time.perf_counter()
        backend.generate([p], max_new_tokens=1, logits_processor=proc, temperature=1.0)
        out.append(time.perf_counter() - t)
    return out, (time.process_time() - c0) / n


def commit_latencies(n: int) -> list[float]:
    """Durable commit of one request's two records (decision + exchange) on a fresh SQLite ledger in
    the same directory: the part of the added latency that durability itself costs."""
    import shutil

    from stillwatch.ledger import Exchange, Ledger, Policy

    d = OUT / "load-commit"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    out = []
    with Ledger.create(str(d / "c.db")) as led:
        for i in range(n):
            recs = [Policy(account="a", decision="allow", reason="ok", ts="2026-01-01T00:00:00Z"),
                    Exchange(account="a", api_key_id="k", ts="2026-01-01T00:00:00Z", model="tiny", spec_fingerprint="s",
                             prompt=f"Tell me about the river {i}.", response="x", request_id=f"r{i}", ip="127.0.0.1",
                             user_agent="bench", prompt_tokens=40, completion_tokens=1)]
            t = time.perf_counter()
            led.append_many(recs)
            out.append(time.perf_counter() - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--accounts", type=int, default=1500)
    ap.add_argument("--sequential", type=int, default=400, help="single-client requests for the latency comparison")
    args = ap.parse_args()
    site = bulk_site(OUT / "load", args.accounts)
    keys = [site.keys[a] for a in sorted(site.keys)]
    direct, direct_cpu = direct_latencies(keys, site, args.sequential, 1)
    commits = commit_latencies(args.sequential)
    with GatewayProcess(site, "--batch-window-ms", "0", "--max-batch", "64", "--log-level", "warning") as gw:
        asyncio.run(closed_loop(gw.url, keys, 200, 8, 99))  # warm-up
        seq_lat, seq_codes, _ = asyncio.run(closed_loop(gw.url, keys, args.sequential, 1, 1))
        c0 = cpu_seconds(gw.proc.pid)
        lat, codes, wall = asyncio.run(closed_loop(gw.url, keys, args.requests, args.concurrency, 2))
        server_cpu = cpu_seconds(gw.proc.pid) - c0
    ok = sum(c == 200 for c in codes)
    cpu_per = server_cpu / max(ok, 1)
    rps = ok / wall
    added50 = (q(seq_lat, 0.5) - q(direct, 0.5)) * 1e3
    added99 = (q(seq_lat, 0.99) - q(direct, 0.99)) * 1e3
    rows = [
        (f"served requests/s, {args.concurrency} concurrent clients, {args.requests} requests ({ok} answered 200)",
         f"{rps:,.0f}/s", f"{1 / q(direct, 0.5):,.0f}/s (backend alone, one at a time)", f"{rps * q(direct, 0.5):.2f}x"),
        ("gateway CPU per served request (server process, all threads) -> requests/s per CPU core",
         f"{cpu_per * 1e3:.2f} ms -> {1 / cpu_per:,.0f}/s", f"{direct_cpu * 1e3:.2f} ms -> {1 / direct_cpu:,.0f}/s (backend alone, one at a time)",
         f"{direct_cpu / cpu_per:.2f}x"),
        ("latency under that load, p50 / p99", f"{q(lat, 0.5) * 1e3:.1f} / {q(lat, 0.99) * 1e3:.1f} ms", "-", "-"),
        ("single-client latency through the gateway, p50 / p99", f"{q(seq_lat, 0.5) * 1e3:.2f} / {q(seq_lat, 0.99) * 1e3:.2f} ms",
         f"{q(direct, 0.5) * 1e3:.2f} / {q(direct, 0.99) * 1e3:.2f} ms (backend called directly)", "-"),
        ("latency the gateway adds, p50 / p99", f"{added50:.2f} / {added99:.2f} ms", "target <= 10 ms at p99", "-"),
        ("  of which the durable commit before each answer (SQLite fsync, one client), p50 / p99",
         f"{q(commits, 0.5) * 1e3:.2f} / {q(commits, 0.99) * 1e3:.2f} ms", "-", "-"),
        ("responses other than 200 (load run; 0 = connection error)", ", ".join(f"{c}: {codes.count(c)}" for c in sorted(set(codes)) if c != 200) or "none", "-", "-"),
    ]
    notes = f"""Targets (issue 15): >= 300 requests/s with the tiny backend; <= 10 ms p99 latency added over the backend.
Each answered request went through: HTTP + JSON parsing, API-key lookup (SQLite, constant-time digest compare),
the terms check, guard's streaming scorer, the rate limiter, the account's two-layer watermark, the batching
engine (window 0: whatever is queued decodes together), and one durable SQLite commit (WAL, synchronous=FULL,
group-committed with the other requests waiting) of the allow decision and the exchange before the answer.
{args.accounts} accounts with varied prompts; the load generator (httpx, asyncio) shares the 2 vCPUs with the server,
and so do the other jobs on this machine (see the load average): the CPU-per-request row is the figure that does
not depend on how much of the machine this run got."""
    write_section("gateway_load", "gateway: load (tiny backend)",
                  f".venv/bin/python benchmarks/gateway/load.py --requests {args.requests} --concurrency {args.concurrency} --accounts {args.accounts}",
                  rows, notes)


if __name__ == "__main__":
    main()
