"""Quality cost of watermark settings on SmolLM2 (no students): for each setting the teacher answers the
same prompts watermarked; reported: the unwatermarked model's NLL of those answers (nats/token) minus that
of its unwatermarked answers, and the answers' provider green rate (the per-token signal a student can
learn). Radioactivity per setting on fine-tuned students is in trace.md only for the demo setting.

    .venv/bin/python benchmarks/trace/trace_quality.py [--prompts 32] [--tokens 96]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/, for _lib
import _lib  # noqa: E402
from _common import teacher_nll, write_section  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--tokens", type=int, default=96)
    ap.add_argument("--temperature", type=float, default=0.7)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)

    from stillwatch.distill.harvest import HarvestConfig, harvest
    from stillwatch.distill.prompts import generate_prompts
    from stillwatch.records import read_transcripts
    from stillwatch.mark import MarkConfig, MasterKey, score_pairs
    from stillwatch.mark.config import LayerParams
    from stillwatch.models import load_backend

    t_all = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="sw-quality-"))
    teacher = load_backend("smollm2", dtype="float32")
    master = MasterKey.generate()
    prompts = generate_prompts(args.prompts, seed=31)
    hc = HarvestConfig(accounts=4, account_prefix="campaign", max_new_tokens=args.tokens, temperature=args.temperature,
                       batch_size=args.prompts, seed=2)
    settings = {
        "h=1, delta=3 (+account h=1, delta=1.5) — demo": (LayerParams(context_width=1, delta=3.0), LayerParams(context_width=1, delta=1.5)),
        "h=1, delta=1.5 (+account h=1, delta=1.5)": (LayerParams(context_width=1, delta=1.5), LayerParams(context_width=1, delta=1.5)),
        "h=2, delta=1.5 (+account h=2, delta=1.5) — MarkConfig default": (LayerParams(), LayerParams()),
    }
    harvest(teacher, prompts, work / "un.jsonl", replace(hc, watermark=False))
    un = read_transcripts(work / "un.jsonl")
    nll_un = teacher_nll(teacher, un)
    rows = []
    for i, (name, (prov, acc)) in enumerate(settings.items()):
        mc = MarkConfig(provider=prov, account=acc, tokenizer_id=teacher.tokenizer_id)
        harvest(teacher, prompts, work / f"wm{i}.jsonl", hc, master=master, mark_config=mc)
        wm = read_transcripts(work / f"wm{i}.jsonl")
        spec, h = mc.provider_spec(), prov.context_width
        ids = [np.asarray(r.completion_ids) for r in wm if len(r.completion_ids) > h]
        c = np.concatenate([np.lib.stride_tricks.sliding_window_view(a, h + 1)[:, :h] for a in ids])
        t = np.concatenate([a[h:] for a in ids])
        g = score_pairs(c, t, spec, master.provider_key(), dedup=False)
        rows.append((name, teacher_nll(teacher, wm) - nll_un, g.n_green / g.n_scored))
        print(f"[{time.perf_counter() - t_all:6.0f}s] {name}: quality cost {rows[-1][1]:+.3f} nats/token, green rate {rows[-1][2]:.3f}", flush=True)
    la = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = ["### Quality cost of watermark settings on SmolLM2 (`benchmarks/trace/trace_quality.py`)", "",
             f"Command: `.venv/bin/python benchmarks/trace/trace_quality.py {' '.join(sys.argv[1:])}`".rstrip() + "  ",
             f"Machine: {_lib.describe_machine(threads=1)} (load averages at the end {la}). Date: {dt.date.today().isoformat()}. "
             f"Wall time {time.perf_counter() - t_all:.0f} s.", "",
             f"{args.prompts} prompts, answers of up to {args.tokens} tokens at temperature {args.temperature}; baseline = the same "
             f"model's unwatermarked answers (NLL {nll_un:.3f} nats/token under the unwatermarked model). Green rate = share of "
             "the answers' tokens green under the provider layer (gamma 0.25): the per-token signal a student can learn.", "",
             "| setting | quality cost (NLL, nats/token) | provider green rate |", "|---|---|---|"]
    lines += [f"| {n} | {q:+.3f} | {g:.3f} |" for n, q, g in rows]
    lines += [""]
    write_section("quality", "\n".join(lines))


if __name__ == "__main__":
    main()
