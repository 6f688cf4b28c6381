"""Ledger benchmarks: durable appends/s (SQLite, PostgreSQL), proof time and size at 1M and 10M leaves,
`verify` throughput. Each figure comes with a baseline measured in the same run.

    .venv/bin/python benchmarks/ledger/ledger_bench.py                 # full run (builds a 10M-leaf tree)
    .venv/bin/python benchmarks/ledger/ledger_bench.py --sizes 1000000 # quicker

Writes benchmarks/results/ledger.md and prints the same table. Scratch files go to benchmarks/out/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from stillwatch.ledger import Exchange, Ledger
from stillwatch.ledger import merkle as M
from stillwatch.ledger.store import SQLiteStore
from stillwatch.ledger.tree import CompactRange, StoredTree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/, for _lib
import _lib  # noqa: E402
ROOT = _lib.REPO
OUT = _lib.OUT / "ledger"


def records(n: int, start: int = 0) -> list[Exchange]:
    return [Exchange(account=f"acct-{i % 97}", api_key_id=f"kid-{i % 97}", ts="2026-03-01T12:00:00Z",
                     model="teacher-v1", spec_fingerprint="kgw:h=1:gamma=0.25",
                     prompt=f"Question {i}: explain the proof of lemma {i % 13} step by step.",
                     response=("The argument proceeds by induction on n. " * 5) + str(i))
            for i in range(start, start + n)]


def bench_appends(loc: str, key: Path | None, label: str, rows: list) -> list[tuple[str, str, str, str]]:
    led = Ledger.create(loc, key_path=key)
    single_n = 300
    t = time.perf_counter()
    for r in records(single_n, 10**7):
        led.append(r)
    single = single_n / (time.perf_counter() - t)
    batches = []
    per = 1000
    c0 = time.process_time()
    for k in range(0, len(rows), per):
        t = time.perf_counter()
        led.append_many(rows[k:k + per])
        batches.append(per / (time.perf_counter() - t))
    cpu_rate = len(rows) / (time.process_time() - c0)
    grouped = statistics.median(batches)
    # 32 threads calling append() concurrently: the group commit batches whoever is waiting
    th_n, threads = 6000, 32
    recs = records(th_n, 2 * 10**7)
    chunks = [recs[i::threads] for i in range(threads)]

    def work(chunk):
        for r in chunk:
            led.append(r)

    t = time.perf_counter()
    ts = [threading.Thread(target=work, args=(c,)) for c in chunks]
    for x in ts:
        x.start()
    for x in ts:
        x.join()
    threaded = th_n / (time.perf_counter() - t)
    led.close()
    return [
        (f"{label}: durable appends/s, append_many batches of {per} (median of {len(batches)})",
         f"{grouped:,.0f}/s", f"{single:,.0f}/s (one append() = one commit)", f"{grouped / single:.1f}x"),
        (f"{label}: same appends per CPU-second of this process (excludes fsync waits and other "
         f"processes' load)", f"{cpu_rate:,.0f}/s", "-", "-"),
        (f"{label}: durable appends/s, {threads} threads calling append() (group commit)",
         f"{threaded:,.0f}/s", f"{single:,.0f}/s (one append() = one commit)", f"{threaded / single:.1f}x"),
    ]


def bench_verify(path: Path) -> tuple[str, str, str, str]:
    led = Ledger.open(path)
    t = time.perf_counter()
    rep = led.verify()
    v = rep.size / (time.perf_counter() - t)
    t = time.perf_counter()
    n = 0
    for _, _, data, _ in led.store.iter_leaves():
        M.leaf_hash(data)
        n += 1
    base = n / (time.perf_counter() - t)
    led.close()
    return (f"`verify` throughput ({rep.size:,} exchange records, SQLite)", f"{v:,.0f} records/s",
            f"{base:,.0f} records/s (read + leaf-hash only)", f"{v / base:.2f}x")


def build_synthetic(path: Path, n: int) -> float:
    """A store of n leaves (16-byte data) with its stored nodes, built in big transactions."""
    if path.exists():
        path.unlink()
    st = SQLiteStore(path, create=True)
    st._db.execute("PRAGMA synchronous=OFF")  # bench setup only; the measured appends use FULL
    rng = CompactRange()
    t = time.perf_counter()
    step = 250_000
    for a in range(0, n, step):
        rows, nodes = [], []
        for i in range(a, min(n, a + step)):
            d = i.to_bytes(16, "big")
            h = M.leaf_hash(d)
            rows.append((i, "synthetic", d, h))
            rng.append(h, nodes)
        st.begin()
        st.write_batch(rows, nodes)
        print(f"  built {min(n, a + step):,}/{n:,} leaves", file=sys.stderr, flush=True)
    st.close()
    return time.perf_counter() - t


def bench_proofs(path: Path, n: int, samples: int, baseline: bool) -> list[tuple[str, str, str, str]]:
    st = SQLiteStore(path)
    tree = StoredTree(st)
    root = tree.range.root()
    rnd = random.Random(n)
    idx = [rnd.randrange(n) for _ in range(samples)]
    times, sizes = [], []
    for i in idx:
        t = time.perf_counter()
        proof = tree.inclusion_proof(i, n)
        (lh,) = st.node_hashes(0, i, i + 1)
        times.append(time.perf_counter() - t)
        sizes.append(len(proof))
        M.verify_inclusion(lh, i, n, proof, root)  # untimed: every sampled proof is correct
    times.sort()
    med, p99 = statistics.median(times) * 1e3, times[int(0.99 * len(times)) - 1] * 1e3
    rows = []
    base_txt, ratio = "n/a", "n/a"
    if baseline:
        hashes = [h for (h,) in st._db.execute("SELECT hash FROM leaves ORDER BY idx")]
        bt = []
        for i in idx[:3]:
            t = time.perf_counter()
            p = M.inclusion_proof_from_hashes(hashes, i)
            bt.append(time.perf_counter() - t)
            assert p == tree.inclusion_proof(i, n)
        b = statistics.median(bt) * 1e3
        base_txt, ratio = f"{b:,.0f} ms (recompute from all leaf hashes in memory)", f"{b / med:,.0f}x faster"
        del hashes
    rows.append((f"inclusion proof at {n:,} leaves, SQLite (median of {samples}; p99 {p99:.2f} ms)",
                 f"{med:.2f} ms", base_txt, ratio))
    rows.append((f"inclusion proof size at {n:,} leaves", f"{statistics.median(sizes):.0f} hashes = "
                 f"{32 * statistics.median(sizes):.0f} bytes (max {max(sizes)})", f"ceil(log2 n) = {(n - 1).bit_length()}",
                 "-"))
    (nodes,) = st._db.execute("SELECT count(*) FROM nodes").fetchone()
    rows.append((f"stored interior nodes at {n:,} leaves", f"{nodes:,} ({nodes / n:.3f} per leaf)",
                 f"{n - 1:,} (every interior node)", f"{(n - 1) / nodes:.1f}x fewer"))
    st.close()
    return rows


def pg_url() -> str | None:
    url_file = ROOT / ".ci" / "postgres.url"
    if not url_file.exists():
        subprocess.run([str(ROOT / ".ci" / "start-postgres")], check=False)
    if not url_file.exists():
        return None
    try:
        import psycopg

        with psycopg.connect(url_file.read_text().strip(), connect_timeout=5):
            pass
    except Exception as exc:  # noqa: BLE001 - reported, not hidden
        print(f"PostgreSQL unavailable: {exc}", file=sys.stderr)
        return None
    return url_file.read_text().strip()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000000,10000000", help="leaf counts for the proof benchmark")
    ap.add_argument("--appends", type=int, default=50_000)
    ap.add_argument("--samples", type=int, default=1000)
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    table: list[tuple[str, str, str, str]] = []

    db = OUT / "appends.db"
    for p in OUT.glob("appends.db*"):
        p.unlink()
    rows = records(args.appends)
    print("appends (SQLite)...", file=sys.stderr)
    table += bench_appends(str(db), None, "SQLite (WAL, synchronous=FULL)", rows)
    print("verify...", file=sys.stderr)
    table.append(bench_verify(db))
    url = pg_url()
    if url:
        import psycopg

        with psycopg.connect(url, autocommit=True) as c:
            c.execute("DROP SCHEMA IF EXISTS bench CASCADE")
        key = OUT / "pg.key"
        for p in (key, OUT / "pg.key.pub"):
            p.unlink(missing_ok=True)
        print("appends (PostgreSQL)...", file=sys.stderr)
        table += bench_appends(f"{url}?options=-csearch_path%3Dbench", key,
                               "PostgreSQL 15 (synchronous_commit=on)", rows)
    else:
        table.append(("PostgreSQL appends", "not measured: no server could be started", "-", "-"))
    for n in [int(x) for x in args.sizes.split(",")]:
        path = OUT / f"synthetic-{n}.db"
        print(f"building {n:,}-leaf tree...", file=sys.stderr)
        secs = build_synthetic(path, n)
        table.append((f"build {n:,}-leaf tree (bench setup, synchronous=OFF)", f"{secs:.0f} s", "-", "-"))
        table += bench_proofs(path, n, args.samples, baseline=n <= 2_000_000)
        path.unlink()
        for extra in OUT.glob(f"synthetic-{n}.db-*"):
            extra.unlink()

    date = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    cmd = "`.venv/bin/python benchmarks/ledger/ledger_bench.py" + (" " + " ".join(sys.argv[1:]) if sys.argv[1:] else "") + "`"
    lines = ["## ledger", "", f"Machine: {_lib.describe_machine()}. "
             f"Date: {date}. Command: {cmd}.", "",
             "| figure | value | baseline (same run) | ratio |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in table]
    lines += ["", "Targets (issue 3): >= 20,000 durable appends/s on SQLite with group commit; <= 5 ms per "
              "inclusion proof at 1M and 10M leaves. Appends are of pre-built `Exchange` records "
              "(~300 bytes of canonical JSON each); every append is fsynced before it is acknowledged.", ""]
    text = "\n".join(lines)
    _lib.write_file("ledger.md", text)
    print(text)
    shutil.rmtree(OUT, ignore_errors=True)


if __name__ == "__main__":
    main()
