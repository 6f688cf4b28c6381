"""Gateway load on loopback with the tiny backend: requests/s through the whole pipeline (HTTP, key
check, terms, live guard, watermark, dynamic batching, durable ledger commit before each answer), and
the latency the gateway adds over calling the backend directly, measured in the same run.

    .venv/bin/python benchmarks/gateway/load.py [--requests 2000] [--concurrency 32] [--accounts 1500] [--repeats 3]

Bounded: loopback only, a fixed number of requests. Each request asks for one token (``max_tokens=1``),
so the figures are the gateway's own cost. Accounts are many (taken in turn: about two requests each
over the whole run) and prompts varied, as real users are (every row of a batch carries its own
account's watermark layer), each user with its own address (X-Forwarded-For from a trusted proxy),
browser, payment method and varied prompts; the live guard is on and refuses accounts that look
machine-driven (the refusals are counted and reported).

Measured, ``--repeats`` times each, interleaved (so every figure and its baseline met the same
machine), and reported as medians over the repeats:

* backend directly, one request at a time: ``backend.generate`` of one prompt with that account's
  watermark processor in this process (the issue's baseline); its latency p50 / p99 and CPU per request;
* the batching engine alone, in this process, under the same ``--concurrency`` (no HTTP, no ledger, no
  guard): the throughput dynamic batching gives the backend, i.e. what the gateway could reach at best;
* the gateway (a ``stillwatch gateway serve`` process): requests/s and server CPU per answered request
  under ``--concurrency`` clients, and single-client latency p50 / p99 (minus the direct call's = the
  latency the gateway adds). The engine's batch sizes come from the gateway's own log.

The load generator is a minimal HTTP/1.1 keep-alive client on raw asyncio streams (requests encoded
before the clock starts, every response's status, watermark header and JSON body checked), so that on
a 2-vCPU machine the client takes as little as possible of the CPU the server needs.
Writes benchmarks/results/gateway_load.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import time

from _common import OUT, GatewayProcess, bulk_site, q, write_section

WORDS = ("river mountain kitchen budget garden physics poem train market winter lesson camera doctor music planet "
         "recipe history engine letter window bridge forest coffee violin harbor desert lantern tunnel orchard glacier "
         "museum ferry pepper saddle quilt rocket spider tomato umbrella velvet walnut yogurt zebra anchor basket candle "
         "dolphin feather ginger hammer island jacket kettle ladder marble needle oyster parrot quarry ribbon salmon").split()
OPENERS = ("Tell me about", "Explain", "Write a line on", "Compare", "What do you know of", "Describe", "Summarise")
AGENTS = ("Mozilla/5.0 (X11; Linux x86_64)", "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2)", "OpenAI/Python 1.51.0",
          "Mozilla/5.0 (Windows NT 10.0; Win64; x64)", "curl/8.5.0", "python-httpx/0.27.0")


def prompt(rng: random.Random) -> str:
    """Varied text: no two users share a template (the live guard links accounts by shared content)."""
    return f"{rng.choice(OPENERS)} {' '.join(rng.sample(WORDS, rng.randint(3, 7)))}?"


def encode_request(key: str, account: int, text: str) -> bytes:
    """One chat request of the ``account``-th user: its own address (from the trusted proxy) and browser."""
    body = json.dumps({"model": "tiny", "messages": [{"role": "user", "content": text}], "max_tokens": 1}).encode()
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
            f"X-Forwarded-For: 10.{account >> 16 & 255}.{account >> 8 & 255}.{account & 255}\r\n"
            f"User-Agent: {AGENTS[account % len(AGENTS)]}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


def _ok(status: int, head: bytes, body: bytes) -> bool:
    """A 200 that is a chat completion with one choice and the account's watermark header."""
    if status != 200 or b"x-stillwatch-watermark: provider+account" not in head:
        return False
    doc = json.loads(body)
    return doc.get("object") == "chat.completion" and len(doc.get("choices", ())) == 1


async def closed_loop(port: int, requests: list[bytes], concurrency: int) -> tuple[list[float], list[int], float]:
    """Send ``requests`` through ``concurrency`` keep-alive connections, each sending its next request
    when the previous answer is in. Returns (latencies in s, status codes (-1: a 200 that failed the
    check, 0: connection error), wall time)."""
    lat: list[float] = []
    codes: list[int] = []
    it = iter(requests)
    content_length = re.compile(rb"\r\ncontent-length: *(\d+)", re.I)

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for req in it:
                t = time.perf_counter()
                try:
                    writer.write(req)
                    head = await reader.readuntil(b"\r\n\r\n")
                    m = content_length.search(head)
                    body = await reader.readexactly(int(m.group(1)) if m else 0)
                except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                    codes.append(0)
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    continue
                lat.append(time.perf_counter() - t)
                status = int(head[9:12])
                codes.append(status if status != 200 or _ok(status, head, body) else -1)
        finally:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*[worker() for _ in range(concurrency)])
    return lat, codes, time.perf_counter() - t0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` and its threads (from /proc)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Direct:
    """The tiny backend in this process, with the gateway's watermark processors (same master key)."""

    def __init__(self, site, n_accounts: int) -> None:
        from stillwatch.gateway.config import EngineConfig
        from stillwatch.gateway.engine import BatchEngine, MarkerCache
        from stillwatch.mark import MasterKey
        from stillwatch.models import load_backend

        self.backend = load_backend("tiny")
        self.markers = MarkerCache(MasterKey.load(site.master_key), self.backend)
        self.engine = BatchEngine(self.backend, self.markers, EngineConfig(window_ms=0.0, max_batch=64))
        self.n_accounts = n_accounts

    def account(self, i: int) -> str:
        return f"acct-{i % self.n_accounts:05d}"

    def one_at_a_time(self, n: int, seed: int) -> tuple[list[float], float]:
        """``backend.generate`` of one prompt, one token: (latencies, CPU seconds per request)."""
        rng = random.Random(seed)
        out = []
        c0 = time.process_time()
        for i in range(n):
            proc = self.markers.get(self.account(i))[0]
            p = prompt(rng)
            t = time.perf_counter()
            self.backend.generate([p], max_new_tokens=1, logits_processor=proc, temperature=1.0)
            out.append(time.perf_counter() - t)
        return out, (time.process_time() - c0) / n

    def engine_batched(self, n: int, concurrency: int, seed: int) -> tuple[float, float, float]:
        """The batching engine alone under ``concurrency`` submitters: (requests/s, CPU s per request, mean batch)."""
        from stillwatch.gateway.engine import GenRequest

        rng = random.Random(seed)
        jobs = iter([(self.backend.chat_prompt_ids(prompt(rng)), self.account(i)) for i in range(n)])
        served0, batches0 = self.engine.served, self.engine.n_batches

        async def run() -> None:
            loop = asyncio.get_running_loop()

            async def worker() -> None:
                for ids, acct in jobs:
                    fut = loop.create_future()
                    self.engine.submit(GenRequest(ids, 1, 1.0, None, acct, None, fut))
                    await fut

            await asyncio.gather(*[worker() for _ in range(concurrency)])

        c0, t0 = time.process_time(), time.perf_counter()
        asyncio.run(run())
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        mean_batch = (self.engine.served - served0) / max(1, self.engine.n_batches - batches0)
        return n / wall, cpu / n, mean_batch


def batch_stats(log_text: str) -> str:
    m = re.search(r"engine: (\d+) requests decoded in (\d+) batches \(mean batch ([\d.]+), largest (\d+)\)", log_text)
    return f"mean batch {m.group(3)}, largest {m.group(4)} ({m.group(1)} requests in {m.group(2)} batches)" if m else "not logged"


class Requests:
    """Encoded requests, the accounts taken in turn across every call (so that each account sends as
    few requests as the run allows, spread out in time, as real users do)."""

    def __init__(self, keys: list[str]) -> None:
        self.keys, self.next = keys, 0

    def __call__(self, n: int, seed: int) -> list[bytes]:
        rng = random.Random(seed)
        idx = [(self.next + i) % len(self.keys) for i in range(n)]
        out = [encode_request(self.keys[a], a, prompt(rng)) for a in idx]
        self.next += n
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=2000, help="requests per load run")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--accounts", type=int, default=3600, help="accounts, taken in turn (about 2 requests each at the defaults)")
    ap.add_argument("--sequential", type=int, default=300, help="single-client requests per latency run")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    load_start = os.getloadavg()
    site = bulk_site(OUT / "load", args.accounts)
    requests_for = Requests([site.keys[a] for a in sorted(site.keys)])
    direct = Direct(site, args.accounts)
    runs: dict[str, list] = {k: [] for k in ("direct", "direct_cpu", "engine", "seq", "load", "cpu", "bad")}
    with GatewayProcess(site, "--batch-window-ms", "0", "--max-batch", "64", "--log-level", "warning", "--trusted-proxy", "127.0.0.1",
                        cli_flags=("-v",)) as gw:
        asyncio.run(closed_loop(gw.port, requests_for(300, 99), 8))  # warm-up (both sides)
        direct.one_at_a_time(50, 98)
        direct.engine_batched(200, args.concurrency, 97)
        for r in range(args.repeats):
            lat, cpu = direct.one_at_a_time(args.sequential, 10 + r)
            runs["direct"].append(lat)
            runs["direct_cpu"].append(cpu)
            runs["engine"].append(direct.engine_batched(args.requests, args.concurrency, 20 + r))
            seq, codes, _ = asyncio.run(closed_loop(gw.port, requests_for(args.sequential, 30 + r), 1))
            runs["seq"].append(seq)
            reqs = requests_for(args.requests, 40 + r)
            c0 = cpu_seconds(gw.proc.pid)
            lat, codes2, wall = asyncio.run(closed_loop(gw.port, reqs, args.concurrency))
            ok = sum(c == 200 for c in codes2)
            runs["cpu"].append((cpu_seconds(gw.proc.pid) - c0) / max(ok, 1))
            runs["load"].append((ok / wall, lat))
            runs["bad"] += [c for c in codes + codes2 if c != 200]
            print(f"repeat {r + 1}/{args.repeats}: gateway {ok / wall:,.0f} req/s, engine alone {runs['engine'][-1][0]:,.0f} req/s, "
                  f"load average {os.getloadavg()[0]:.1f}", flush=True)
    direct.engine.close()
    stats = batch_stats(gw.log_path.read_text())
    report(args, runs, stats, load_start)


def report(args: argparse.Namespace, runs: dict[str, list], stats: str, load_start: tuple[float, float, float]) -> None:
    med = statistics.median
    rps = med(r for r, _ in runs["load"])
    eng_rps, eng_cpu, eng_batch = (med(e[i] for e in runs["engine"]) for i in range(3))
    d50, d99 = med(q(x, 0.5) for x in runs["direct"]), med(q(x, 0.99) for x in runs["direct"])
    s50, s99 = med(q(x, 0.5) for x in runs["seq"]), med(q(x, 0.99) for x in runs["seq"])
    a50 = med(q(s, 0.5) - q(d, 0.5) for s, d in zip(runs["seq"], runs["direct"])) * 1e3
    a99 = med(q(s, 0.99) - q(d, 0.99) for s, d in zip(runs["seq"], runs["direct"])) * 1e3
    l50, l99 = med(q(x, 0.5) for _, x in runs["load"]), med(q(x, 0.99) for _, x in runs["load"])
    cpu, dcpu = med(runs["cpu"]), med(runs["direct_cpu"])
    bad = runs["bad"]
    n, c = args.requests, args.concurrency
    rows = [
        (f"served requests/s through the gateway, {c} concurrent clients x {n} requests (target >= 300/s)",
         f"{rps:,.0f}/s", f"{1 / d50:,.0f}/s (backend directly, one at a time)", f"{rps * d50:.2f}x"),
        (f"  the same against the batching engine alone, {c} concurrent submitters (no HTTP, ledger, guard)",
         f"{rps:,.0f}/s", f"{eng_rps:,.0f}/s (engine alone; mean batch {eng_batch:.1f})", f"{rps / eng_rps:.2f}x"),
        ("gateway CPU per served request (server process, all threads) -> requests/s per CPU core",
         f"{cpu * 1e3:.2f} ms -> {1 / cpu:,.0f}/s", f"{dcpu * 1e3:.2f} ms -> {1 / dcpu:,.0f}/s (backend directly, one at a time)",
         f"{dcpu / cpu:.2f}x"),
        ("  batching engine alone, CPU per request", f"{eng_cpu * 1e3:.2f} ms", f"{dcpu * 1e3:.2f} ms (backend directly, one at a time)",
         f"{dcpu / eng_cpu:.2f}x"),
        ("engine batches in the gateway (all runs, from its log)", stats, "-", "-"),
        ("single-client latency through the gateway, p50 / p99", f"{s50 * 1e3:.2f} / {s99 * 1e3:.2f} ms",
         f"{d50 * 1e3:.2f} / {d99 * 1e3:.2f} ms (backend called directly)", f"{s50 / d50:.2f}x / {s99 / d99:.2f}x"),
        ("latency the gateway adds, p50 / p99 (target <= 10 ms at p99)", f"{a50:.2f} / {a99:.2f} ms", "-", "-"),
        (f"latency under load ({c} clients), p50 / p99", f"{l50 * 1e3:.1f} / {l99 * 1e3:.1f} ms", "-", "-"),
        ("responses other than a checked 200 (-1: 200 failing the check, 0: connection error)",
         ", ".join(f"{k}: {bad.count(k)}" for k in sorted(set(bad))) or "none", "-", "-"),
    ]
    now = os.getloadavg()
    notes = f"""Medians over {args.repeats} repeats; each repeat runs, back to back: the backend directly ({args.sequential} requests, one at
a time), the batching engine alone ({n} requests, {c} submitters), the gateway with one client ({args.sequential} requests),
the gateway under {c} clients ({n} requests). Load average (1/5/15 min) at start {load_start[0]:.1f} / {load_start[1]:.1f} / {load_start[2]:.1f},
at the end {now[0]:.1f} / {now[1]:.1f} / {now[2]:.1f}: on a shared machine the absolute rates are low and the ratios are the figures
to read; rerun the command on a quiet machine for the absolute targets.
Each answered request went through: HTTP + JSON parsing, API-key lookup (constant-time digest compare), the terms
check, guard's streaming scorer, the rate limiter, the engine (window 0: whatever is queued decodes together, each
row with its account's two-layer watermark), and one durable SQLite commit (WAL, synchronous=FULL, group-committed
with the other requests waiting) of the allow decision and the exchange before the answer. {args.accounts} accounts.
The load generator shares the machine's vCPUs with the server."""
    write_section("gateway_load", "gateway: load (tiny backend)",
                  f".venv/bin/python benchmarks/gateway/load.py --requests {n} --concurrency {c} --accounts {args.accounts} "
                  f"--sequential {args.sequential} --repeats {args.repeats}", rows, notes)


if __name__ == "__main__":
    main()
