"""Scale benchmark for `guard scan`: N exchanges (default 16 million), Parquet in -> findings out.

Generates a synthetic log with vectorised numpy/pyarrow (short texts: benign prompts from an
opener + random words + a closer; campaign prompts from capability templates with slot fillers),
writes it to ``benchmarks/out/guard_scale_<N>.parquet`` (kept out of git), then, in fresh
subprocesses so peak memory is measured per run:

* the full scan (``stillwatch.guard.batch.scan.scan``): wall time, CPU time, peak RSS, stage times;
* the features alone through the Ibis definitions (``scan.feature_tables`` without MinHash);
* a hand-written DuckDB SQL baseline of the same features (``_scale_sql.py``), in the same
  run, and a check that both give the same account table.

Usage: ``.venv/bin/python benchmarks/guard/guard_scale.py [--rows 16000000] [--repeats 1]``.
Writes a Markdown section to ``benchmarks/results/guard_scale.md`` (figure, baseline, ratio, peak
RSS, machine, load average, date, command).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/, for _lib
import _lib  # noqa: E402
ROOT = _lib.REPO
OUT = _lib.OUT

WORDS = np.array(
    ("garden river planet history music recipe travel budget weather poem novel football chess painting camera "
     "holiday coffee mountain ocean language grammar email letter meeting resume birthday wedding dog cat bicycle "
     "train airport museum castle forest desert island volcano kitchen bakery market festival theatre library "
     "village harbour bridge tower salad soup bread cheese apple orange lemon pepper onion carrot rice pasta").split()
)
WORDS = np.array([f"{w}{s}" for w in WORDS for s in ("", "s", "ing", "er", "ed", "ly", "ish", "ness")])
OPENERS = np.array(["", "hey, ", "quick question: ", "can you help? ", "ok so ", "please ", "hi! "])
BENIGN_BODY = np.array(["tell me about", "what do you think of", "ideas for", "help me plan", "write a note about",
                        "summarise", "compare", "how do i fix", "recommend", "describe"])
CLOSERS = np.array(["", "?", " thanks!", " :)", " ty", ". keep it short.", " please."])
CAMPAIGN_TEMPLATES = np.array([
    "think step by step and show your reasoning before you answer: how does {a} affect {b} in case",
    "write a python function that sorts {a} records by {b} and explain the algorithm, variant",
    "you are an agent with tools. call the search tool to find {a} then summarise {b} as json, task",
    "grade the answer below using this rubric (correctness, reasoning, clarity): {a} vs {b}, item",
    "solve the following problem step by step. a shop sells {a} and {b}; show all work. problem",
    "implement in python a class that caches {a} lookups keyed by {b}; include unit tests, case",
])
UAS = np.array(["Mozilla/5.0 Chrome", "Mozilla/5.0 Firefox", "Mozilla/5.0 Safari", "Mozilla/5.0 Edge"])
T0 = int(dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc).timestamp() * 1_000_000)
DAY = 86_400_000_000


def _s(arr) -> pa.Array:
    return pa.array(arr, pa.string())


def _pick(vocab: np.ndarray, idx: np.ndarray) -> pa.Array:
    """vocab[idx] as an Arrow string array, by an Arrow take (no per-row Python objects)."""
    return pa.array(vocab.tolist(), pa.string()).take(pa.array(idx))


def _const(value: str, m: int) -> pa.Array:
    return pa.array([value], pa.string()).take(pa.array(np.zeros(m, np.int64)))


def _flat(a) -> pa.Array:
    return a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a


def _num(x: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(x), pa.string())


def generate(path: Path, n_rows: int, seed: int = 0, chunk: int = 2_000_000) -> dict:
    """Write the synthetic log; returns counts. Campaigns take 15 % of rows over 5,000 accounts."""
    rng = np.random.default_rng(seed)
    n_benign_acc, n_camp_acc, n_camps = 60_000, 5_000, 5
    camp_of = np.arange(n_camp_acc) * n_camps // n_camp_acc  # contiguous blocks: cards stay inside a campaign
    # heavy-tailed benign volumes (Zipf-like weights)
    w = 1.0 / np.arange(1, n_benign_acc + 1) ** 0.8
    w /= w.sum()
    writer = None
    done = 0
    while done < n_rows:
        m = min(chunk, n_rows - done)
        is_camp = rng.random(m) < 0.15
        nb, nc = int((~is_camp).sum()), int(is_camp.sum())
        acct = np.empty(m, np.int64)
        acct[~is_camp] = rng.choice(n_benign_acc, nb, p=w)
        ca = rng.integers(0, n_camp_acc, nc)
        acct[is_camp] = n_benign_acc + ca
        ts = np.empty(m, np.int64)
        ts[~is_camp] = T0 + rng.integers(0, 7 * DAY, nb)
        cstart = T0 + (camp_of[ca] * DAY)  # each campaign starts on its own day and runs two days
        ts[is_camp] = cstart + rng.integers(0, 2 * DAY, nc)
        # prompts
        bp = pc.binary_join_element_wise(
            _pick(OPENERS, rng.integers(0, len(OPENERS), nb)), _pick(BENIGN_BODY, rng.integers(0, len(BENIGN_BODY), nb)),
            _pick(WORDS, rng.integers(0, len(WORDS), nb)), _pick(WORDS, rng.integers(0, len(WORDS), nb)),
            _pick(WORDS, rng.integers(0, len(WORDS), nb)), " ")
        bp = pc.binary_join_element_wise(bp, _pick(CLOSERS, rng.integers(0, len(CLOSERS), nb)), "")
        tpl = (camp_of[ca] + rng.integers(0, 2, nc)) % len(CAMPAIGN_TEMPLATES)
        cp = _pick(CAMPAIGN_TEMPLATES, tpl)
        cp = pc.replace_substring(cp, "{a}", "\x00")
        parts = pc.split_pattern(cp, "\x00")
        head = pc.list_element(parts, 0)
        rest = pc.list_element(parts, 1)
        rparts = pc.split_pattern(rest, "{b}")
        cp = pc.binary_join_element_wise(
            head, _pick(WORDS, rng.integers(0, len(WORDS), nc)), pc.list_element(rparts, 0),
            _pick(WORDS, rng.integers(0, len(WORDS), nc)), pc.list_element(rparts, 1), " ", _num(rng.integers(0, 10_000, nc)), "")
        prompt_arr = pa.concat_arrays([_flat(bp).cast(pa.string()), _flat(cp).cast(pa.string())])
        order = np.concatenate([np.nonzero(~is_camp)[0], np.nonzero(is_camp)[0]])
        inv = np.empty(m, np.int64)
        inv[order] = np.arange(m)
        prompt_arr = prompt_arr.take(pa.array(inv))
        ip = np.where(is_camp, 200_000 + (camp_of[np.maximum(acct - n_benign_acc, 0)] * 50 + rng.integers(0, 50, m)),
                      acct % 150_000)
        ip_s = pc.binary_join_element_wise(_const("10", m), _num(ip // 65536), _num((ip // 256) % 256), _num(ip % 256), ".")
        ua = pc.if_else(pa.array(is_camp), _const("python-httpx/0.27", m), _pick(UAS, acct % len(UAS)))
        pay_idx = np.where(is_camp, (acct - n_benign_acc) // 25, acct)  # a card per 25 sybils
        pay = pc.binary_join_element_wise(pc.if_else(pa.array(is_camp), _const("cardc", m), _const("card", m)), _num(pay_idx), "-")
        ids = _num(np.arange(done, done + m))
        acc_s = pc.binary_join_element_wise(_const("acct", m), _num(acct), "-")
        table = pa.table({
            "request_id": pc.binary_join_element_wise(_const("r", m), ids, ""),
            "ts": pa.array(ts).cast(pa.timestamp("us", tz="UTC")),
            "account_id": acc_s,
            "api_key_id": acc_s,
            "ip": ip_s,
            "user_agent": ua,
            "payment_fingerprint": pay,
            "model": _const("m-1", m),
            "prompt": prompt_arr,
            "response": _const("ok", m),
            "prompt_tokens": pa.array(rng.integers(5, 60, m)),
            "completion_tokens": pa.array(np.where(is_camp, rng.integers(300, 900, m), rng.integers(50, 600, m))),
        })
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema, compression="zstd")
        writer.write_table(table, row_group_size=1_000_000)
        done += m
    writer.close()
    return {"rows": n_rows, "benign_accounts": n_benign_acc, "campaign_accounts": n_camp_acc, "campaigns": n_camps}


_CHILD = r"""
import json, os, resource, sys, time
mode, path, dump = sys.argv[1], sys.argv[2], sys.argv[3]
import logging
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s")
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
t0, c0 = time.perf_counter(), cpu()
if mode == "scan":
    from stillwatch.guard.batch.scan import scan
    f = scan(path)
    extra = {"accounts": len(f.accounts), "flagged": len(f.flagged), "campaigns": len(f.campaigns),
             "campaign_sizes": sorted((len(c.accounts) for c in f.campaigns), reverse=True)[:10]}
    # the generator's truth: acct-60000.. are sybils, campaign (number - 60000) // 1000
    def truth(a):
        k = int(a.split("-")[1])
        return None if k < 60000 else (k - 60000) // 1000
    flagged = {a.account_id for a in f.flagged}
    sybils = {a.account_id for a in f.accounts if truth(a.account_id) is not None}
    camps = []
    for c in f.campaigns:
        labels = [truth(a) for a in c.accounts]
        top = max(set(labels), key=labels.count)
        camps.append({"size": len(labels), "majority": top, "purity": labels.count(top) / len(labels),
                      "benign": labels.count(None), "score": round(c.score, 3), "fired": list(c.fired)})
    extra["truth"] = {"tp": len(flagged & sybils), "fp": len(flagged - sybils), "fn": len(sybils - flagged),
                      "campaigns": camps}
elif mode == "ibis_features":
    import pyarrow as pa, pyarrow.parquet as pq
    from stillwatch.guard.batch.scan import feature_tables
    ft = feature_tables(path, near_duplicates=False)
    extra = {"accounts": len(ft.ids), "edges": int(sum(len(e[0]) for e in ft.edges.values()))}
    pq.write_table(pa.table({"account_id": ft.ids, **{c: ft.cols[c] for c in sorted(ft.cols)}}), dump)
else:
    import duckdb, pyarrow.parquet as pq, tempfile
    from _scale_sql import statements
    con = duckdb.connect()
    con.execute("SET memory_limit='2500MB'")
    con.execute(f"SET temp_directory='{tempfile.mkdtemp(prefix='guard-sql-')}'")
    con.execute("SET preserve_insertion_order=false")
    con.execute("SET enable_progress_bar=false")
    *ddl, acc_sql, edge_sql = statements(path)
    for st in ddl:
        con.execute(st)
    acc = con.sql(acc_sql).to_arrow_table()
    edges = con.sql(edge_sql).to_arrow_table()
    extra = {"accounts": acc.num_rows, "edges": edges.num_rows}
    pq.write_table(acc, dump)
wall = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
print(json.dumps({"mode": mode, "wall_s": wall, "cpu_s": cpu() - c0, "peak_rss_mb": rss, **extra}))
"""

_STAGE = re.compile(r"stillwatch\.guard\.batch\.scan: (.+) \((\d+(?:\.\d+)?)s\)$")


def run_child(mode: str, path: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src") + os.pathsep + str(_lib.BENCH / "guard"))
    dump = OUT / f"guard_scale_{mode}_accounts.parquet"
    load0 = os.getloadavg()[0]
    out = subprocess.run([sys.executable, "-c", _CHILD, mode, str(path), str(dump)], capture_output=True, text=True, env=env)
    load1 = os.getloadavg()[0]
    (OUT / f"guard_scale_{mode}.log").write_text(out.stderr[-20000:])
    if out.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{out.stderr[-3000:]}")
    line = [x for x in out.stdout.splitlines() if x.startswith('{"mode"')][-1]
    r = json.loads(line)
    r["load_before"], r["load_after"] = round(load0, 2), round(load1, 2)
    r["stages"] = [(m.group(1), float(m.group(2))) for m in map(_STAGE.search, out.stderr.splitlines()) if m]
    return r


def compare_features() -> dict:
    """Max relative difference per account column between the Ibis features and the SQL baseline."""
    a = pq.read_table(OUT / "guard_scale_ibis_features_accounts.parquet")
    b = pq.read_table(OUT / "guard_scale_sql_baseline_accounts.parquet")
    if a.num_rows != b.num_rows or a["account_id"].to_pylist() != b["account_id"].to_pylist():
        return {"same_accounts": False}
    worst = {}
    for c in b.column_names:
        if c == "account_id" or c not in a.column_names:
            continue
        x = np.nan_to_num(a[c].to_numpy(zero_copy_only=False).astype(float))
        y = np.nan_to_num(b[c].to_numpy(zero_copy_only=False).astype(float))
        worst[c] = float(np.max(np.abs(x - y) / np.maximum(np.abs(y), 1.0))) if len(y) else 0.0
    return {"same_accounts": True, "max_rel_diff": max(worst.values()) if worst else 0.0, "columns": len(worst)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=16_000_000)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--no-write", action="store_true", help="do not write benchmarks/results/guard_scale.md")
    ap.add_argument("--modes", default="sql_baseline,ibis_features,scan",
                    help="comma-separated subset of sql_baseline,ibis_features,scan")
    ap.add_argument("--note", default="", help="free text appended to the Markdown")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"guard_scale_{args.rows}.parquet"
    if not path.exists():
        t = time.perf_counter()
        info = generate(path, args.rows)
        print(f"generated {path} in {time.perf_counter() - t:.1f}s: {info}", flush=True)
    runs: dict[str, list[dict]] = {"scan": [], "ibis_features": [], "sql_baseline": []}
    modes = [m for m in args.modes.split(",") if m]
    for _ in range(args.repeats):
        for mode in modes:
            r = run_child(mode, path)
            print(json.dumps(r), flush=True)
            runs[mode].append(r)
            with open(OUT / f"guard_scale_{args.rows}_runs.jsonl", "a") as fh:
                fh.write(json.dumps(r) + "\n")
    parity = compare_features() if runs["ibis_features"] and runs["sql_baseline"] else {}
    if parity:
        print(json.dumps({"ibis_vs_sql": parity}), flush=True)
    _report(args, runs, parity)


def _truth_line(t: dict | None) -> str:
    if not t:
        return "n/a"
    camps = "; ".join(
        f"{c['size']} accounts: {'benign' if c['majority'] is None else 'campaign ' + str(c['majority'])} "
        f"{c['purity']:.0%} pure, {c['benign']} benign" for c in t["campaigns"])
    return f"TP {t['tp']:,}, FP {t['fp']:,} (benign accounts flagged), FN {t['fn']:,}; campaigns found: {camps}"


def _report(args, runs: dict[str, list[dict]], parity: dict) -> None:
    nan = float("nan")
    med = {k: float(np.median([r["wall_s"] for r in v])) if v else nan for k, v in runs.items()}
    cpu = {k: float(np.median([r["cpu_s"] for r in v])) if v else nan for k, v in runs.items()}
    rss = {k: float(max(r["peak_rss_mb"] for r in v)) if v else nan for k, v in runs.items()}
    loads = [x for v in runs.values() for r in v for x in (r["load_before"], r["load_after"])]
    scan_info = runs["scan"][-1] if runs["scan"] else {"accounts": 0, "flagged": 0, "campaigns": 0, "stages": []}
    cmd = f".venv/bin/python benchmarks/guard/guard_scale.py --rows {args.rows}" + (
        f" --repeats {args.repeats}" if args.repeats != 1 else "") + (
        f" --modes {args.modes}" if args.modes != "sql_baseline,ibis_features,scan" else "")
    n_runs = {k: len(v) for k, v in runs.items()}
    met = med["scan"] <= 120 and rss["scan"] <= 4096
    stages = ", ".join(f"{name} {sec:.1f} s" for name, sec in scan_info.get("stages", []))
    par = ("identical account set; largest relative difference over "
           f"{parity['columns']} columns {parity['max_rel_diff']:.1e}") if parity.get("same_accounts") else (
        "account sets differ" if parity else "not compared")
    md = f"""## guard: scan at scale ({args.rows:,} exchanges, Parquet in -> findings out)

| figure | value |
|---|---|
| full scan wall time (median of {n_runs['scan']}) | {med['scan']:.1f} s (goal <= 120 s) |
| full scan CPU time (user + system) | {cpu['scan']:.1f} s |
| full scan peak RSS (fresh subprocess) | {rss['scan']:.0f} MB (goal <= 4096 MB) |
| features alone via the Ibis definitions on DuckDB (median of {n_runs['ibis_features']}) | {med['ibis_features']:.1f} s, CPU {cpu['ibis_features']:.1f} s, peak {rss['ibis_features']:.0f} MB |
| baseline: hand-written DuckDB SQL of the same features, same run | {med['sql_baseline']:.1f} s, CPU {cpu['sql_baseline']:.1f} s, peak {rss['sql_baseline']:.0f} MB |
| ratio Ibis features / SQL baseline (wall) | {med['ibis_features'] / med['sql_baseline']:.2f} |
| Ibis features vs SQL baseline, account table | {par} |
| accounts / flagged / campaigns found | {scan_info['accounts']:,} / {scan_info.get('flagged', 0):,} / {scan_info['campaigns']} (generated: 65,000 accounts, 5,000 sybils in 5 campaigns of 1,000) |
| flagged vs the generator's truth | {_truth_line(scan_info.get('truth'))} |
| goal met in this run | {"yes" if met else "no"} |

Machine: {_lib.describe_machine()}. Load average (1 min) around the runs: {min(loads) if loads else nan:.2f}-{max(loads) if loads else nan:.2f}.
Date: {dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}. Command: `{cmd}`.
The Parquet file is generated by the script (vectorised, seed 0) under `benchmarks/out/` (not in git); each mode runs
in a fresh subprocess (peak RSS = that process's maximum resident set).
Stage times of the full scan: {stages or 'n/a'}.
What is compared: the features alone (``stillwatch.guard.batch.scan.feature_tables(..., near_duplicates=False)``: narrow
keys of every row with validation, exact volume/timing/infrastructure, each account's bottom-32 sample by md5(request_id),
text features on the sample, shared templates, account table and cross-account edges) against the same design written
by hand in DuckDB SQL (`benchmarks/guard/_scale_sql.py`; it skips the malformed-row report, the duplicate check and the
per-key capability share / distinct-prompt count of the edges). The full scan adds MinHash/LSH near-duplicates over the
distinct sampled prompts, clustering and scoring.
{args.note}
"""
    print(md)
    if not args.no_write:
        _lib.write_file("guard_scale.md", md)


if __name__ == "__main__":
    main()
