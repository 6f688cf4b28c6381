"""Throughput of the model backends: SmolLM2-135M-Instruct generation (batch 1 and 32) and
teacher-forced scoring, in bfloat16 (the default) against float32 as the baseline measured in the
same run; plus the tiny built-in model (8 prompts x 64 tokens).

    .venv/bin/python benchmarks/models/models_bench.py [--repeats 3] [--new-tokens 16] [--threads 1]

Each rate is given on wall time and on process CPU time: on a shared machine other jobs stretch
wall time, while CPU time (one thread) is what the work itself costs.

Prints a Markdown section and writes it to benchmarks/results/models.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from stillwatch.models import load_backend

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/, for _lib
import _lib  # noqa: E402

PROMPTS = [
    "Write a long story about a lighthouse keeper.", "Explain how photosynthesis works in detail.",
    "Describe the history of the printing press.", "Give ten tips for learning a new language.",
    "Write an essay about rivers.", "Explain the rules of chess to a beginner.",
    "Describe a busy market in the morning.", "What are the causes of inflation? Explain at length.",
]


class NoEos:
    """Keeps every row generating to the full length, so that tokens/s counts a full batch."""

    def __init__(self, eos):
        self.eos = list(eos)

    def __call__(self, input_ids, scores):
        scores = scores.clone()
        scores[:, self.eos] = float("-inf")
        return scores


def median_rate(fn, repeats):
    """(median wall rate, median CPU rate, raw wall rates)."""
    wall, cpu = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        n = fn()
        wall.append(n / (time.perf_counter() - t))
        cpu.append(n / (time.process_time() - c))
    return statistics.median(wall), statistics.median(cpu), wall


def gen_rate(b, batch, new_tokens, repeats):
    prompts = [PROMPTS[i % len(PROMPTS)] for i in range(batch)]
    proc = NoEos(b.eos_token_ids)

    def run():
        gens = b.generate(prompts, max_new_tokens=new_tokens, batch_size=batch, seed=0, logits_processor=proc)
        return sum(len(g.completion_ids) for g in gens)

    b.generate(prompts[:2], max_new_tokens=2, seed=0)  # warm-up
    return median_rate(run, repeats)


def score_rate(b, n_seq, length, repeats, argmax):
    rng = np.random.default_rng(0)
    seqs = [rng.integers(0, 49152, size=length).tolist() for _ in range(n_seq)]
    fn = b.next_token_argmax if argmax else b.next_token_logits

    def run():
        fn(seqs, batch_size=16)
        return n_seq * length

    fn(seqs[:2], batch_size=2)  # warm-up
    return median_rate(run, repeats)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--new-tokens", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--score-seqs", type=int, default=8)
    args = ap.parse_args()
    rows = []
    rates = {}
    for dtype in ("bfloat16", "float32"):
        b = load_backend("smollm2", dtype=dtype, num_threads=args.threads)
        rates[(dtype, "gen1")] = gen_rate(b, 1, args.new_tokens, args.repeats)
        rates[(dtype, "gen32")] = gen_rate(b, 32, args.new_tokens, args.repeats)
        rates[(dtype, "argmax")] = score_rate(b, args.score_seqs, 128, args.repeats, True)
        rates[(dtype, "logits")] = score_rate(b, args.score_seqs, 128, args.repeats, False)
        print(dtype, {k: v[:2] for k, v in rates.items()}, flush=True)
        del b
    tiny = load_backend("tiny")
    tiny_prompts = [f"prompt {i}" for i in range(8)]
    tiny.generate(tiny_prompts, max_new_tokens=64, seed=0)
    tiny_times = []
    for _ in range(max(3, args.repeats)):
        t, c = time.perf_counter(), time.process_time()
        tiny.generate(tiny_prompts, max_new_tokens=64, seed=0, logits_processor=NoEos(tiny.eos_token_ids))
        tiny_times.append((time.perf_counter() - t, time.process_time() - c))
    labels = {
        "gen1": f"SmolLM2 generation, batch 1 ({args.new_tokens} new tokens)",
        "gen32": f"SmolLM2 generation, batch 32 ({args.new_tokens} new tokens each)",
        "argmax": f"SmolLM2 teacher-forced scoring, next_token_argmax ({args.score_seqs} x 128 tokens, batch 16)",
        "logits": f"SmolLM2 teacher-forced scoring, next_token_logits [T,V] float32 out ({args.score_seqs} x 128, batch 16)",
    }
    for key, label in labels.items():
        (bw, bc, _), (fw, fc, _) = rates[("bfloat16", key)], rates[("float32", key)]
        rows.append(f"| {label} | {bw:,.0f} wall / {bc:,.0f} CPU tok/s | {fw:,.0f} wall / {fc:,.0f} CPU tok/s | {bw / fw:.2f} wall / {bc / fc:.2f} CPU |")
    date = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    md = "\n".join([
        "## Model backends (`stillwatch.models`)",
        "",
        f"Machine: {_lib.describe_machine(threads=args.threads)} (torch threads while computing). Date: {date}.",
        "",
        f"Command: `.venv/bin/python benchmarks/models/models_bench.py --repeats {args.repeats} --new-tokens {args.new_tokens} --threads {args.threads} --score-seqs {args.score_seqs}`",
        "",
        f"Medians of {args.repeats} timed runs after one warm-up; generation keeps every row going to the full length (eos masked) so tokens/s counts real generated tokens of a full batch.",
        "",
        "| figure | bfloat16 | baseline: float32 (same bf16 weights) | ratio bf16 / float32 |",
        "|---|---|---|---|",
        *rows,
        f"| tiny model (1 thread): 8 prompts x 64 new tokens | {statistics.median(t[0] for t in tiny_times) * 1000:.0f} ms wall / {statistics.median(t[1] for t in tiny_times) * 1000:.0f} ms CPU | target < 1000 ms | {statistics.median(t[1] for t in tiny_times):.2f} of target (CPU) |",
        "",
        "Raw wall-time runs (tok/s): " + "; ".join(f"{d}/{k}: " + ", ".join(f"{r:,.0f}" for r in v[2]) for (d, k), v in rates.items()),
        "",
    ])
    print(md)
    _lib.write_section("models.md", "backends", md)


if __name__ == "__main__":
    main()
