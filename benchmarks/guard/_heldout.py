"""Held-out traffic for `guard`: a labelled log built apart from the simulator, to check that the
detector generalises beyond the data it was developed on.

Nothing here comes from ``stillwatch.guard_sim.simulate`` or its text banks. The text is real prose and
code written by people: paragraphs of the docstrings and function bodies of the Python standard
library on this machine (thousands of authors, decades of writing). Populations, framings, campaign
formats, schedules and infrastructure were written for this file only:

benign
  * ``people`` — one to a few hundred exchanges each (log-normal), evening-heavy sessions in their own
    time zone, human gaps; pasted prose or code with or without one of a few dozen everyday framings,
    and free questions built from a sentence of the corpus; 1/5 behind 200 carrier-NAT addresses.
  * ``developers`` — heavier (log-normal around 120), working hours, SDK user agents, real functions
    pasted with a request; a fifth share an employer's office IP and card.
  * ``viral`` — 600 accounts that each send the same viral prompt once or twice on the same day.
  * ``workshop`` — 3 workshops of 25-60 attendees on one venue IP, same starter prompts in the same
    two hours, then ordinary use.
  * ``batch`` — 4 legitimate single-account batch customers (classification / extraction over their own
    documents, one instruction each, machine pace, 2-6k exchanges).

campaigns (each its own id)
  * ``alpaca`` — 300 sybils on 24 datacenter IPs, one SDK user agent, Alpaca-format instructions over
    corpus paragraphs, round robin, 60-140 exchanges per account across 4 days.
  * ``codeharvest`` — 90 accounts, one residential IP each, 3 rotating browser user agents, functions
    pasted under 6 paraphrases of "explain step by step, then write tests", random pacing.
  * ``jsonl`` — 1,500 accounts with 3-9 exchanges each, self-instruct JSON records (12 instructions)
    over corpus paragraphs, proxies from one /16, no payment, onsets spread over 3 days.
  * ``reseller`` — 4 reseller accounts: end-customer traffic like ``people`` plus one third
    "Q: ... A: Let's think step by step." harvest prompts shared across the 4.

Run: ``.venv/bin/python benchmarks/guard/guard_heldout.py [--scale 1.0] [--seed 7]`` — writes the log and
labels under ``benchmarks/out/heldout/``, evaluates Stillwatch (batch + stream) and the baselines with
``stillwatch.guard_eval.evaluate.evaluate_files`` and writes ``benchmarks/results/guard_heldout.md``.
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/, for _lib
import _lib  # noqa: E402
T0 = int(dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc).timestamp() * 1e6)
DAY = 86_400_000_000
HOUR = 3_600_000_000


def docstring_corpus(files: list[Path], cache: Path, *, node_types: tuple, max_para: int, min_letters: float,
                     code_lines: tuple[int, int]) -> tuple[list[str], list[str]]:
    """(prose paragraphs, function sources) from the docstrings and functions of ``files``, cached in
    ``cache``: paragraphs of 60..``max_para`` characters, more than ``min_letters`` of them letters;
    functions spanning ``code_lines`` (lo, hi) lines."""
    import json

    if cache.exists():
        d = json.loads(cache.read_text())
        return d["prose"], d["code"]
    prose, code = [], []
    for f in files:
        try:
            src = f.read_text(encoding="utf-8")
            tree = ast.parse(src)
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, node_types):
                doc = ast.get_docstring(node)
                if doc:
                    for para in doc.split("\n\n"):
                        para = " ".join(para.split())
                        if 60 <= len(para) <= max_para and sum(c.isalpha() for c in para) > min_letters * len(para):
                            prose.append(para)
            if isinstance(node, ast.FunctionDef) and node.end_lineno and code_lines[0] <= node.end_lineno - node.lineno <= code_lines[1]:
                seg = ast.get_source_segment(src, node)
                if seg:
                    code.append(seg)
    prose, code = sorted(set(prose)), sorted(set(code))
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"prose": prose, "code": code}))
    return prose, code


def corpus(limit_files: int = 900) -> tuple[list[str], list[str]]:
    """(prose paragraphs, function sources) from the standard library's own source files (cached)."""
    import sysconfig

    cache = _lib.OUT / "heldout" / f"corpus-{limit_files}.json"
    lib = Path(sysconfig.get_paths()["stdlib"])
    files = [] if cache.exists() else sorted(
        p for p in lib.rglob("*.py") if "test" not in p.parts and "idlelib" not in p.parts)[:limit_files]
    return docstring_corpus(files, cache, node_types=(ast.FunctionDef, ast.ClassDef, ast.Module, ast.AsyncFunctionDef),
                            max_para=600, min_letters=0.7, code_lines=(4, 30))


FRAMINGS = [
    "", "", "", "", "what does this mean? ", "Can you explain this in simple words: ", "eli5: ",
    "Help me understand the following.\n", "is this right?? ", "My professor wrote this, I don't get it: ",
    "translate to french: ", "make this shorter: ", "Rewrite this so it sounds more friendly:\n",
    "summarize pls\n", "What's the main point here? ", "give me an example of this: ",
    "I read this in a manual. What should I do? ", "fix grammar: ", "Explain like I'm new to programming: ",
    "hmm, ", "quick question - ", "Turn this into a tweet: ", "Why would anyone do this? ",
    "Does this apply to windows too? ", "write a haiku about this: ", "Could you list the steps in this?\n",
]
CODE_ASKS = [
    "why does this not work", "can you add type hints", "what's the complexity of this", "refactor this please",
    "explain this function", "is there a bug here?", "convert this to javascript", "add error handling",
    "write a docstring for this", "how do I call this", "make it faster", "what does the return value mean",
]
UAS_HUMAN = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0", "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) Safari/17.2",
             "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1) Mobile/15E148"]
UAS_SDK = ["openai-python/1.54.0", "openai-node/4.73.0", "langchain/0.3.7", "curl/8.5.0", "python-requests/2.32.3"]


class Builder:
    """Accumulates rows column-wise; one ``add`` call per account (vectorised over its rows)."""

    def __init__(self, rng: np.random.Generator, prose: list[str], code: list[str]) -> None:
        self.rng, self.prose, self.code = rng, prose, code
        self.cols: dict[str, list] = {k: [] for k in ("ts", "account_id", "ip", "user_agent", "payment_fingerprint",
                                                       "model", "prompt", "response")}
        self.labels: list[tuple[str, str | None, str]] = []

    def answer(self, n: int) -> list[str]:
        k = self.rng.integers(1, 5, n)
        idx = self.rng.integers(0, len(self.prose), (n, 4))
        return ["\n\n".join(self.prose[j] for j in idx[i, : k[i]]) for i in range(n)]

    def add(self, account: str, ts: np.ndarray, prompts: list[str], ip, ua, pay, label: str | None, family: str,
            model: str = "atlas-1") -> None:
        n = len(prompts)
        self.cols["ts"].append(np.asarray(ts, np.int64))
        self.cols["account_id"] += [account] * n
        self.cols["ip"] += list(ip) if isinstance(ip, (list, np.ndarray)) else [ip] * n
        self.cols["user_agent"] += list(ua) if isinstance(ua, (list, np.ndarray)) else [ua] * n
        self.cols["payment_fingerprint"] += [pay] * n
        self.cols["model"] += [model] * n
        self.cols["prompt"] += prompts
        self.cols["response"] += self.answer(n)
        self.labels.append((account, label, family))

    def table(self) -> tuple[pa.Table, pa.Table]:
        ts = np.concatenate(self.cols["ts"])
        n = len(ts)
        prompt_tokens = np.fromiter((len(p) // 4 + 1 for p in self.cols["prompt"]), np.int64, n)
        completion_tokens = np.fromiter((len(r) // 4 + 1 for r in self.cols["response"]), np.int64, n)
        rid = [f"req-{i:09d}" for i in self.rng.permutation(n)]
        acct = self.cols["account_id"]
        log = pa.table({
            "request_id": rid,
            "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
            "account_id": acct,
            "api_key_id": [f"key-{a}" for a in acct],
            "ip": self.cols["ip"], "user_agent": self.cols["user_agent"],
            "payment_fingerprint": pa.array(self.cols["payment_fingerprint"], pa.string()),
            "model": self.cols["model"], "prompt": self.cols["prompt"], "response": self.cols["response"],
            "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
        })
        log = log.take(np.argsort(ts, kind="stable"))
        a, c, f = zip(*self.labels)
        labels = pa.table({"account_id": pa.array(a, pa.string()), "campaign_id": pa.array(c, pa.string()),
                           "family": pa.array(f, pa.string())})
        return log, labels


def human_times(rng, n: int, days: float, tz_h: int, evening: bool = True) -> np.ndarray:
    """Sessions of a few exchanges, human gaps (log-normal ~70 s), at waking hours of one time zone."""
    out, left = [np.zeros(0, np.int64)], n
    while left > 0:
        k = int(min(left, rng.geometric(0.25)))
        day = rng.integers(0, max(1, int(days)))
        hour = (rng.normal(20.5, 2.0) if evening else rng.normal(14.0, 2.5)) % 24
        start = T0 + day * DAY + int((hour - tz_h) % 24 * HOUR)
        gaps = rng.lognormal(np.log(70e6), 0.9, k)
        out.append(start + np.cumsum(gaps).astype(np.int64))
        left -= k
    return np.concatenate(out)


def prose_prompts(b: Builder, n: int) -> list[str]:
    r = b.rng
    fr = r.integers(0, len(FRAMINGS), n)
    px = r.integers(0, len(b.prose), n)
    free = r.random(n) < 0.3
    out = []
    for i in range(n):
        p = b.prose[px[i]]
        if free[i]:
            first = p.split(". ")[0].rstrip(".")
            words = first.split()
            topic = " ".join(words[: r.integers(3, 8)])
            out.append(f"{['how do i', 'what is', 'why does', 'when should I use'][i % 4]} {topic.lower()}?")
        else:
            out.append(FRAMINGS[fr[i]] + p)
    return out


def code_prompts(b: Builder, n: int) -> list[str]:
    r = b.rng
    cx, ax, order = r.integers(0, len(b.code), n), r.integers(0, len(CODE_ASKS), n), r.random(n) < 0.5
    return [f"{CODE_ASKS[ax[i]]}\n\n{b.code[cx[i]]}" if order[i] else f"{b.code[cx[i]]}\n{CODE_ASKS[ax[i]]}?"
            for i in range(n)]


def build(scale: float, seed: int) -> tuple[pa.Table, pa.Table]:
    rng = np.random.default_rng(seed)
    prose, code = corpus()
    b = Builder(rng, prose, code)
    nat = [f"100.{64 + i // 250}.{i % 250}.{rng.integers(1, 250)}" for i in range(200)]
    # --- benign people
    for i in range(int(9000 * scale)):
        n = int(min(400, max(1, rng.lognormal(1.6, 1.1))))
        tz = int(rng.integers(-8, 10))
        ip = nat[rng.integers(0, len(nat))] if rng.random() < 0.2 else f"{rng.integers(11, 223)}.{rng.integers(0, 255)}.{rng.integers(0, 255)}.{rng.integers(1, 255)}"
        k_code = rng.binomial(n, 0.15)
        prompts = prose_prompts(b, n - k_code) + code_prompts(b, k_code)
        rng.shuffle(prompts)
        pay = f"card-p{i}" if rng.random() < 0.4 else None
        b.add(f"u{i:05d}", np.sort(human_times(rng, n, 7, tz)), prompts, ip, UAS_HUMAN[rng.integers(0, 4)], pay, None, "benign:people")
    # --- developers
    offices = [f"203.0.{113 + j}.{10 + j}" for j in range(12)]
    for i in range(int(1200 * scale)):
        n = int(min(3000, max(5, rng.lognormal(np.log(120), 0.8))))
        office = rng.random() < 0.2
        j = int(rng.integers(0, len(offices)))
        ip = offices[j] if office else f"{rng.integers(11, 223)}.{rng.integers(0, 255)}.{rng.integers(0, 255)}.{rng.integers(1, 255)}"
        prompts = code_prompts(b, int(n * 0.7)) + prose_prompts(b, n - int(n * 0.7))
        rng.shuffle(prompts)
        b.add(f"dev{i:05d}", np.sort(human_times(rng, n, 7, int(rng.integers(-8, 10)), evening=False)), prompts, ip,
              UAS_SDK[rng.integers(0, len(UAS_SDK))], f"corp-{j}" if office else f"card-d{i}", None, "benign:developer")
    # --- viral prompt
    viral = "Write a short poem about a cat who learns to code, in the style of a pirate."
    for i in range(int(600 * scale)):
        k = int(rng.integers(1, 3))
        ts = T0 + 2 * DAY + rng.integers(0, 16 * HOUR, k)
        b.add(f"vir{i:05d}", np.sort(ts), [viral] * k, f"{rng.integers(11, 223)}.{rng.integers(0, 255)}.{rng.integers(0, 255)}.7",
              UAS_HUMAN[rng.integers(0, 4)], None, None, "benign:viral")
    # --- workshops
    for w in range(3):
        starters = [f"Workshop {w}: set up a Python virtual environment and explain each step.",
                    "Explain step by step what a list comprehension is, with an example.",
                    "Write a function that reverses a string, then explain the code line by line."]
        for i in range(int(rng.integers(25, 61))):
            k_more = int(rng.integers(0, 30))
            ts0 = T0 + (1 + 2 * w) * DAY + 9 * HOUR + rng.integers(0, 2 * HOUR, 3)
            more = prose_prompts(b, k_more) + code_prompts(b, k_more // 3)
            ts = np.concatenate([np.sort(ts0), human_times(rng, len(more), 6, 0, evening=False)])
            b.add(f"ws{w}-{i:03d}", ts, starters + more, f"198.51.100.{w + 1}", UAS_HUMAN[i % 4], None, None, "benign:workshop")
    # --- legitimate batch customers
    tasks = ["Classify the sentiment of this customer review as positive, negative or neutral:\n",
             "Extract all product names and prices from the text below as JSON.\n",
             "Label the topic of this support ticket (billing, login, bug, other):\n",
             "Translate this paragraph into German, keep technical terms:\n"]
    for j, task in enumerate(tasks):
        n = int(rng.integers(2000, 6001) * scale)
        ts = T0 + rng.integers(0, 2, 1)[0] * DAY + np.cumsum(rng.exponential(9e6, n)).astype(np.int64)
        px = rng.integers(0, len(prose), n)
        b.add(f"biz{j}", ts, [task + prose[p] for p in px], f"52.10.{j}.20", UAS_SDK[j], f"card-biz{j}", None, "benign:batch")
    # --- campaign: alpaca
    dcs = [f"45.{rng.integers(0, 255)}.{rng.integers(0, 255)}.{rng.integers(1, 255)}" for _ in range(24)]
    instr = ["Summarize the following documentation.", "Rewrite the input as a numbered list of steps.",
             "Explain the input to a beginner and give two examples.", "Write three quiz questions about the input."]
    n_acc = int(300 * scale)
    for i in range(n_acc):
        n = int(rng.integers(60, 141))
        ts = np.sort(T0 + rng.integers(0, 4 * DAY, n))
        px, ix = rng.integers(0, len(prose), n), rng.integers(0, len(instr), n)
        prompts = [f"Below is an instruction that describes a task, paired with an input.\n\n### Instruction:\n{instr[ix[k]]}\n\n### Input:\n{prose[px[k]]}\n\n### Response:\n" for k in range(n)]
        b.add(f"acme-{i:04d}", ts, prompts, dcs[i % 24], "python-httpx/0.27.2", f"card-alp{i}", "c:alpaca", "heldout:alpaca")
    # --- campaign: code harvest
    asks = ["Explain step by step what this function does, then write unit tests for it.",
            "Walk through this code one step at a time and then give pytest tests.",
            "Describe, step by step, how this works; afterwards write tests.",
            "Go through the function below step by step. Then provide unit tests.",
            "Step-by-step explanation of this code please, followed by tests.",
            "Explain each step of this function and finish with unit tests."]
    for i in range(int(90 * scale)):
        n = int(rng.integers(100, 201))
        ts = np.sort(T0 + DAY + rng.integers(0, 5 * DAY, n))
        cx, ax = rng.integers(0, len(code), n), rng.integers(0, len(asks), n)
        prompts = [f"{code[cx[k]]}\n\n{asks[ax[k]]}" for k in range(n)]
        b.add(f"dev-x{i:04d}", ts, prompts, f"{rng.integers(60, 99)}.{rng.integers(0, 255)}.{rng.integers(0, 255)}.{rng.integers(1, 255)}",
              np.asarray(UAS_HUMAN[:3])[rng.integers(0, 3, n)], None, "c:code", "heldout:codeharvest")
    # --- campaign: jsonl swarm
    si = ["Answer the question implied by the context.", "Write a detailed explanation of the context.",
          "List the key facts in the context.", "Give a step-by-step reasoning about the context.",
          "Create an exam question from the context and solve it.", "Paraphrase the context formally.",
          "Identify assumptions in the context.", "Explain the context to a ten year old.",
          "Write a counter-argument to the context.", "Summarise the context in one sentence.",
          "Extract definitions from the context.", "Rate the clarity of the context from 1 to 10 and justify."]
    for i in range(int(1500 * scale)):
        n = int(rng.integers(3, 10))
        start = T0 + rng.integers(0, 3 * DAY)
        ts = start + np.sort(rng.integers(0, 6 * HOUR, n))
        px, ix = rng.integers(0, len(prose), n), rng.integers(0, len(si), n)
        prompts = [f'{{"id": {int(rng.integers(1e6))}, "instruction": "{si[ix[k]]}", "context": "{prose[px[k]]}"}}' for k in range(n)]
        b.add(f"user{rng.integers(1e8):08d}", ts, prompts, f"91.23.{rng.integers(0, 255)}.{rng.integers(1, 255)}",
              UAS_HUMAN[rng.integers(0, 4)], None, "c:jsonl", "heldout:jsonl")
    # --- campaign: resellers
    for j in range(4):
        n_leg = int(rng.integers(1500, 3000) * scale)
        n_h = n_leg // 2
        legit = prose_prompts(b, n_leg - n_leg // 4) + code_prompts(b, n_leg // 4)
        px = rng.integers(0, len(prose), n_h)
        harvest = [f"Q: {prose[p].split('. ')[0]}?\nA: Let's think step by step." for p in px]
        ts = np.sort(T0 + rng.integers(0, 7 * DAY, n_leg + n_h))
        prompts = legit + harvest
        order = rng.permutation(len(prompts))
        b.add(f"proxyco{j}", ts, [prompts[k] for k in order], f"34.80.{j}.1", "openai-python/1.54.0", f"card-rs{j}",
              "c:reseller", "heldout:reseller")
    return b.table()


def run(argv: list[str] | None, *, build_log, default_seed: int, out_dir: str, scenario: str, title: str,
        script: str, out_name: str) -> int:
    """Build a held-out log with ``build_log(scale, seed)``, write it under ``benchmarks/out/<out_dir>/``,
    run the detectors on it and write ``benchmarks/results/<out_name>``."""
    ap = argparse.ArgumentParser(description=f"guard on a held-out log ({script})")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=default_seed)
    ap.add_argument("--detectors", default="stillwatch,rate_limit,prada,seat,synchrotrap")
    ap.add_argument("--no-stream", action="store_true")
    args = ap.parse_args(argv)
    from stillwatch.guard_eval.evaluate import evaluate_output, run_detector

    out = _lib.OUT / out_dir
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    log, labels = build_log(args.scale, args.seed)
    pq.write_table(log, out / "log.parquet")
    pq.write_table(labels, out / "labels.parquet")
    print(f"{scenario}: {log.num_rows:,} exchanges, {labels.num_rows:,} accounts ({time.perf_counter() - t0:.1f} s)", flush=True)
    rows = []
    for d in args.detectors.split(","):
        t1 = time.perf_counter()
        res, notes = run_detector(d, log, stream=not args.no_stream and d == "stillwatch", labels=labels)
        ev = evaluate_output(log, labels, res, scenario, notes)
        rows.append((ev, res, time.perf_counter() - t1))
        print(d, ev.to_json(), flush=True)
    write_results(rows, log, labels, title=title, out_name=out_name,
                  command=f"`.venv/bin/python benchmarks/guard/{script} --scale {args.scale} --seed {args.seed}`")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(argv, build_log=build, default_seed=7, out_dir="heldout", scenario="heldout-files",
               title="## guard: held-out traffic (built apart from the simulator)", script="guard_heldout.py",
               out_name="guard_heldout.md")


def per_family(res, labels, threshold: float) -> dict[str, tuple[int, int, int]]:
    """family -> (accounts, above the FPR-1e-4 threshold, flagged by the method itself)."""
    import collections

    fam = dict(zip(labels["account_id"].to_pylist(), labels["family"].to_pylist()))
    out: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0, 0])
    for a, s, f in zip(res.account_id, res.score, res.flagged):
        k = fam.get(a)
        if k is None:
            continue
        out[k][0] += 1
        out[k][1] += int(s > threshold)
        out[k][2] += int(bool(f))
    return {k: tuple(v) for k, v in sorted(out.items())}


def live_alarms(res, labels) -> dict[str, tuple[int, int]]:
    """family -> (accounts, accounts with a streaming alarm) from a detector output's ``alarm_us``."""
    from stillwatch.guard_eval.contract import NEVER

    fam = dict(zip(labels["account_id"].to_pylist(), labels["family"].to_pylist()))
    keys = np.array([fam.get(a, "") for a in res.account_id], dtype=object)
    alarmed = np.asarray(res.alarm_us) != NEVER
    return {k: (int((keys == k).sum()), int(alarmed[keys == k].sum())) for k in sorted(set(keys) - {""})}


def write_results(rows, log, labels, *, title: str, command: str, out_name: str) -> None:
    import collections

    fam = collections.Counter(labels["family"].to_pylist())
    lines = [title, "",
             f"Log: {log.num_rows:,} exchanges, {labels.num_rows:,} accounts — "
             + ", ".join(f"{k} {v:,}" for k, v in sorted(fam.items())) + ".", "",
             "| detector | TPR@1e-3 | TPR@1e-4 | PR-AUC | campaigns recovered | ARI | harvest before alarm (max) | own flags: TPR / FPR | seconds |",
             "|---|---|---|---|---|---|---|---|---|"]
    def f(x):
        return "—" if x is None else f"{x:.3g}"
    for ev, _res, sec in rows:
        lines.append(f"| {ev.detector} | {f(ev.tpr_at['1e-3'])} | {f(ev.tpr_at['1e-4'])} | {f(ev.pr_auc)} | "
                     f"{f(ev.campaigns_recovered)} | {f(ev.ari)} | {f(ev.harvest_max)} | {f(ev.own_tpr)} / {f(ev.own_fpr)} | {sec:.0f} |")
    for ev, res, _ in rows:
        if ev.detector != "stillwatch":
            continue
        lab = dict(zip(labels["account_id"].to_pylist(), labels["campaign_id"].to_pylist()))
        benign = np.sort([s for a, s in zip(res.account_id, res.score) if a in lab and lab[a] is None])[::-1]
        k = int(np.floor(1e-4 * len(benign)))
        thr = float(benign[k]) if len(benign) > k else float("inf")
        lines += ["", f"Stillwatch per population (threshold at FPR 1e-4 = {thr:.3f}: the {k + 1}-th highest benign score):", "",
                  "| population | accounts | above the 1e-4 threshold | flagged by Stillwatch |", "|---|---|---|---|"]
        for name, (n, above, flagged) in per_family(res, labels, thr).items():
            lines.append(f"| {name} | {n:,} | {above:,} ({above / n:.1%}) | {flagged:,} ({flagged / n:.1%}) |")
        if ev.harvest_before_alarm:
            lines += ["", "Harvest before the streaming alarm: " + ", ".join(f"{c} {v:.2%}" for c, v in sorted(ev.harvest_before_alarm.items())) + "."]
        if res.alarm_us is not None:
            live = live_alarms(res, labels)
            replay = next((n for n in ev.notes if n.startswith("streaming replay")), "streaming replay")
            lines += ["", f"Accounts alarmed live by the streaming scorer ({replay}; a replay stops once every campaign has "
                      "alarmed, so benign counts cover the rows replayed): "
                      + ", ".join(f"{k} {a:,} / {n:,}" for k, (n, a) in live.items()) + "."]
    lines += ["", f"Machine: {_lib.describe_machine()}. Date: {dt.date.today().isoformat()}.",
              f"Command: {command}", ""]
    text = "\n".join(lines)
    print(text)
    _lib.write_file(out_name, text)
