"""Radioactivity benchmark on the tiny byte-level teacher (cheap enough for 2 shared vCPUs).

Figures (written to stdout and benchmarks/results/trace.md, plots beside it):
  1. p-value vs rho (fraction of watermarked answers in the student's training data), rho in
     {0, 1%, 5%, 10%, 100%}, open model (both scoring modes) and closed model.
  2. Null controls, KS against U(0,1) over >= 20 keys: a student trained on unwatermarked answers
     (random keys), "validation only" (answers harvested with 24 different keys, never trained on;
     scored in reading mode on those answers), and the radioactive student scored with wrong keys.
  3. Watermark settings (context width, delta, layer sharing) at rho = 10%, with the quality cost
     (teacher NLL of its own answers, watermarked minus unwatermarked).

Sizes (stated in the results): tiny teacher = random 2-layer Llama, hidden 64, byte vocabulary (260);
student = same shape, fresh init; N_RECORDS answers of up to 96 bytes per student, 3 epochs.

    .venv/bin/python benchmarks/trace/trace_radioactivity.py [--records 200] [--keys 24]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/, for _lib
import _lib  # noqa: E402
from _common import plot_rho, teacher_nll, write_section  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=200)
    ap.add_argument("--keys", type=int, default=24)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--tokens", type=int, default=96)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rhos", default="0,0.01,0.05,0.1,1", help="comma-separated rho values")
    ap.add_argument("--probe", type=int, default=48, help="held-out prompts the suspect answers for scoring")
    ap.add_argument("--only-rho", action="store_true", help="skip null controls and the settings sweep")
    ap.add_argument("--tag", default="tiny", help="section tag in trace.md (a second run at another size keeps the first)")
    args = ap.parse_args()
    import torch
    from scipy import stats

    torch.set_num_threads(args.threads)
    from stillwatch.distill.harvest import HarvestConfig, harvest
    from stillwatch.distill.prompts import generate_prompts
    from stillwatch.distill.student import StudentConfig, build_student
    from stillwatch.distill.train import TrainConfig, train
    from stillwatch.records import read_transcripts
    from stillwatch.mark import MarkConfig, MasterKey, score_pairs
    from stillwatch.mark.config import LayerParams
    from stillwatch.models import load_backend
    from stillwatch.trace.radioactivity import ScoringText, closed_model_pairs, open_model_pairs

    t_all = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="sw-trace-bench-"))
    teacher = load_backend("tiny")
    master = MasterKey.generate()
    N, T = args.records, args.tokens
    main_cfg = MarkConfig(provider=LayerParams(context_width=1, delta=3.0), account=LayerParams(context_width=1, delta=1.5))
    prompts = generate_prompts(N, seed=11)
    hc = HarvestConfig(accounts=4, max_new_tokens=T, batch_size=50, seed=3)

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - t_all:7.1f}s] {msg}", flush=True)

    log(f"harvest: {N} prompts watermarked + unwatermarked (tiny teacher, {T} new tokens)")
    harvest(teacher, prompts, work / "wm.jsonl", hc, master=master, mark_config=main_cfg)
    harvest(teacher, prompts, work / "un.jsonl", replace(hc, watermark=False))
    wm, un = read_transcripts(work / "wm.jsonl"), read_transcripts(work / "un.jsonl")
    order = {p.id: i for i, p in enumerate(prompts)}
    wm.sort(key=lambda r: order[r.prompt_id])
    un.sort(key=lambda r: order[r.prompt_id])

    tcfg = TrainConfig(epochs=args.epochs, batch_size=16, lr=3e-3, warmup_steps=3, eval_fraction=0.05)
    probe_prompts = [p.prompt for p in generate_prompts(args.probe, seed=999)]  # held-out prompts for scoring

    def mix(rho: float, wm_recs) -> list:
        k = int(round(rho * N))
        return list(wm_recs[:k]) + list(un[k:])  # prompt i answered by the watermarked OR the plain teacher

    def student_on(recs, name: str):
        st = build_student(StudentConfig(seed=0))
        s = train(recs, st, work / name, tcfg)
        return st, s

    def open_pairs(model, h: int, texts=None):
        if texts is None:  # "suspect" scoring: the model's own answers to held-out prompts
            gens = model.generate(probe_prompts, max_new_tokens=T, seed=5, batch_size=64)
            texts = [ScoringText(np.asarray(list(g.prompt_ids) + list(g.completion_ids)), len(g.prompt_ids)) for g in gens]
        preds = model.next_token_argmax([t.ids.tolist() for t in texts], batch_size=16)
        return open_model_pairs(preds, texts, h)

    def closed_pairs(model, h: int):
        gens = model.generate(probe_prompts, max_new_tokens=T, seed=6, batch_size=64)
        return closed_model_pairs([np.asarray(g.completion_ids, dtype=np.int64) for g in gens], [np.asarray(g.prompt_ids) for g in gens], h)

    def reading_texts(recs):
        return [ScoringText(np.asarray(list(r.prompt_ids) + list(r.completion_ids)), len(r.prompt_ids)) for r in recs]

    def p_of(pairs, spec, key) -> dict:
        r = score_pairs(pairs.contexts, pairs.tokens, spec, key, exclude_windows=pairs.exclude)
        return {"p_value": r.p_value, "n_scored": r.n_scored, "green_rate": (r.n_green / r.n_scored) if r.n_scored else None}

    spec, key = main_cfg.provider_spec(), master.provider_key()
    out: dict = {"sizes": {"records": N, "new_tokens": T, "epochs": args.epochs, "teacher": "tiny (random 2x64 Llama, 260 byte vocab)",
                           "student": "2x64 Llama, byte vocab, fresh init", "probe_prompts": len(probe_prompts)},
                 "watermark": spec.to_dict(), "rho": [], "null": {}, "settings": []}

    # ---------------------------------------------------------------- 1. rho curve
    students = {}
    for rho in [float(x) for x in args.rhos.split(",")]:
        log(f"rho = {rho:.0%}: train")
        st, s = student_on(mix(rho, wm), f"rho{rho}")
        students[rho] = st
        row = {"rho": rho, "n_watermarked_answers": int(round(rho * N)), "train_steps": s.steps, "eval_loss": s.eval_loss,
               "open_suspect": p_of(open_pairs(st, 1), spec, key),
               "open_reading": p_of(open_pairs(st, 1, reading_texts(wm[: max(1, int(round(rho * N)))] if rho > 0 else wm[:20])), spec, key),
               "closed": p_of(closed_pairs(st, 1), spec, key)}
        out["rho"].append(row)
        log(f"  open(suspect) p={row['open_suspect']['p_value']:.3g}  open(reading) p={row['open_reading']['p_value']:.3g}  "
            f"closed p={row['closed']['p_value']:.3g}")

    if args.only_rho:
        _finish(out, args, t_all, work)
        return
    # ---------------------------------------------------------------- 2. null controls
    K = args.keys
    log(f"null controls over {K} keys")
    ctl, rad = students[0.0], students[1.0]
    ctl_open, ctl_closed = open_pairs(ctl, 1), closed_pairs(ctl, 1)
    rad_open, rad_closed = open_pairs(rad, 1), closed_pairs(rad, 1)
    keys = [MasterKey.generate() for _ in range(K)]
    null = {
        "control_student_open": [p_of(ctl_open, spec, k.provider_key())["p_value"] for k in keys],
        "control_student_closed": [p_of(ctl_closed, spec, k.provider_key())["p_value"] for k in keys],
        "wrong_key_open": [p_of(rad_open, spec, k.provider_key())["p_value"] for k in keys],
        "wrong_key_closed": [p_of(rad_closed, spec, k.provider_key())["p_value"] for k in keys],
    }
    # validation only: each key's own watermarked harvest (never trained on), read by the control student
    vo_read, vo_suspect = [], []
    small = generate_prompts(8, seed=77)
    for i, k in enumerate(keys):
        f = work / f"val{i}.jsonl"
        harvest(teacher, small, f, replace(hc, batch_size=8, seed=100 + i), master=k, mark_config=main_cfg)
        vo_read.append(p_of(open_pairs(ctl, 1, reading_texts(read_transcripts(f))), spec, k.provider_key())["p_value"])
        vo_suspect.append(p_of(ctl_open, spec, k.provider_key())["p_value"])
    null["validation_only_open_reading"] = vo_read
    null["validation_only_open_suspect"] = vo_suspect
    for name, ps in null.items():
        ks = stats.kstest(ps, "uniform")
        out["null"][name] = {"ks_pvalue": float(ks.pvalue), "ks_stat": float(ks.statistic), "median_p": float(np.median(ps)),
                             "min_p": float(np.min(ps)), "n": len(ps)}
        log(f"  {name}: KS p={ks.pvalue:.3g} median p={np.median(ps):.3f} min p={np.min(ps):.3g}")

    # ---------------------------------------------------------------- 3. settings at rho = 10%
    nll_un = teacher_nll(teacher, un)
    variants = [
        ("h=1, delta=1.5", MarkConfig(provider=LayerParams(context_width=1, delta=1.5), account=LayerParams(context_width=1, delta=1.5))),
        ("h=1, delta=3 (main)", main_cfg),
        ("h=2, delta=3", MarkConfig(provider=LayerParams(context_width=2, delta=3.0), account=LayerParams(context_width=2, delta=1.5))),
        ("h=1, delta=3, split 50/50", MarkConfig(provider=LayerParams(context_width=1, delta=3.0), account=LayerParams(context_width=1, delta=3.0),
                                                 sharing="split", provider_share=0.5)),
    ]
    k10 = int(round(0.1 * N))
    for label, cfg in variants:
        log(f"setting {label}")
        if cfg is main_cfg:
            recs_wm, st = wm, students[0.1]
        else:
            f = work / f"set-{len(out['settings'])}.jsonl"
            harvest(teacher, prompts[:k10], f, replace(hc, batch_size=k10), master=master, mark_config=cfg)
            recs_wm = read_transcripts(f)
            recs_wm.sort(key=lambda r: order[r.prompt_id])
            st, _ = student_on(mix(0.1, recs_wm), f"set{len(out['settings'])}")
        sp = cfg.provider_spec()
        row = {"setting": label, "spec": sp.to_dict(),
               "quality_cost_nll": teacher_nll(teacher, recs_wm[:k10]) - nll_un,
               "open_suspect": p_of(open_pairs(st, sp.context_width), sp, key),
               "closed": p_of(closed_pairs(st, sp.context_width), sp, key)}
        out["settings"].append(row)
        log(f"  quality cost {row['quality_cost_nll']:+.3f} nats/token; open p={row['open_suspect']['p_value']:.3g} closed p={row['closed']['p_value']:.3g}")

    _finish(out, args, t_all, work)


def _finish(out: dict, args, t_all: float, work: Path) -> None:
    out["seconds"] = time.perf_counter() - t_all
    out["date"] = dt.date.today().isoformat()
    print(json.dumps(out), flush=True)  # raw figures on stdout
    _plots(out, args.tag)
    _write_md(out, " ".join(sys.argv[1:]), args.tag)
    shutil.rmtree(work, ignore_errors=True)
    print("done", flush=True)




def _plots(out: dict, tag: str) -> None:
    plot_rho(out, (("open_suspect", "open model (suspect's own text)"), ("open_reading", "open model (reading mode, harvest text)"),
                   ("closed", "closed model")),
             "rho: share of watermarked answers in the student's training data",
             f"radioactivity vs rho (tiny teacher, h=1, delta=3, {out['sizes']['records']} answers)", tag)


def _write_md(out: dict, argv: str, tag: str) -> None:
    s = out["sizes"]
    lines = [
        f"### Radioactivity on the tiny teacher, {s['records']} answers per student (`benchmarks/trace/trace_radioactivity.py`)",
        "",
        f"Command: `.venv/bin/python benchmarks/trace/trace_radioactivity.py {argv}`".rstrip() + "  ",
        f"Machine: {_lib.describe_machine(threads=1)} (at the end of the run). Date: {out['date']}. "
        f"Wall time {out['seconds']:.0f} s.",
        "",
        f"Sizes: teacher = {s['teacher']}; student = {s['student']}; {s['records']} answers of up to {s['new_tokens']} byte "
        f"tokens per student ({s['epochs']} epochs); scoring on {s['probe_prompts']} held-out prompts. Watermark: provider "
        f"KGW h={out['watermark']['context_width']}, gamma={out['watermark']['gamma']}, delta={out['watermark']['delta']} "
        "(account layer h=1, delta=1.5, additive). Baseline: rho = 0 (a student trained only on unwatermarked answers).",
        "",
        f"![p-value vs rho](trace_rho_{tag}.png)",
        "",
        "| rho | watermarked answers | open (suspect text) p | n | open (reading mode) p | n | closed p | n |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in out["rho"]:
        lines.append(f"| {r['rho']:.0%} | {r['n_watermarked_answers']} | {r['open_suspect']['p_value']:.2g} | {r['open_suspect']['n_scored']} | "
                     f"{r['open_reading']['p_value']:.2g} | {r['open_reading']['n_scored']} | {r['closed']['p_value']:.2g} | {r['closed']['n_scored']} |")
    if out["null"]:
        lines += ["", f"Null controls (KS against U(0,1) over {next(iter(out['null'].values()))['n']} independent keys):", "",
                  "| control | KS p | median p | min p |", "|---|---|---|---|"]
    for k, v in out["null"].items():
        lines.append(f"| {k} | {v['ks_pvalue']:.3g} | {v['median_p']:.3f} | {v['min_p']:.3g} |")
    if out["settings"]:
        lines += ["", "Watermark settings at rho = 10% (quality cost = teacher NLL of its watermarked answers minus that of its "
              "unwatermarked answers, nats/token, under the unwatermarked teacher):", "",
                  "| setting | quality cost | open p | n | closed p | n |", "|---|---|---|---|---|---|"]
    for r in out["settings"]:
        lines.append(f"| {r['setting']} | {r['quality_cost_nll']:+.3f} | {r['open_suspect']['p_value']:.2g} | {r['open_suspect']['n_scored']} | "
                     f"{r['closed']['p_value']:.2g} | {r['closed']['n_scored']} |")
    lines += [""]
    write_section(tag, "\n".join(lines))



if __name__ == "__main__":
    main()
