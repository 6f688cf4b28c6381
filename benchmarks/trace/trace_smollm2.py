"""Radioactivity of fine-tuned SmolLM2 students (a real tokenizer, a real model) on 2 shared vCPUs.

The teacher is SmolLM2-135M-Instruct watermarked with the demo deployment's settings (provider KGW
h = 1, gamma 0.25, delta 3; account layer h = 1, delta 1.5; 4 accounts). Each student is SmolLM2's
own base weights fine-tuned on N harvested answers of which a share rho is watermarked (the rest are
the unwatermarked teacher's answers to the same prompts), the last ``--train-layers`` blocks trained.

Figures (stdout and benchmarks/results/trace.md, section ``--tag``):
  1. p-value vs rho in {0, 1%, 5%, 10%, 100%}: open model (reference texts = the unwatermarked answers,
     teacher-forced; plain and differential against the base) and closed model (the student answers
     ``--closed-prompts`` harvested prompts; differential).
  2. Null controls, KS against U(0,1) over ``--keys`` independent keys: the control student (rho = 0),
     the rho = 100% student scored with wrong keys, and "validation only" (the base model, which read
     the harvest but never trained on it; plain open test).
  3. Quality cost of the watermark: the base (unwatermarked) model's NLL of the watermarked answers
     minus that of the unwatermarked answers, nats/token, and the harvest's green rate.

Costs are kept down without changing any figure: the frozen lower blocks run once per text (shared
cache, see stillwatch.distill.train.FrozenPrefix) and serve both training and open-model scoring.

    .venv/bin/python benchmarks/trace/trace_smollm2.py [--prompts 128] [--keys 24]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/, for _lib
import _lib  # noqa: E402
from _common import plot_rho, write_section  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=128)
    ap.add_argument("--tokens", type=int, default=96)
    ap.add_argument("--temperature", type=float, default=0.7)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--train-layers", type=int, default=2)
    ap.add_argument("--rhos", default="0,0.01,0.05,0.1,1")
    ap.add_argument("--keys", type=int, default=24)
    ap.add_argument("--closed-prompts", type=int, default=48, help="prompts for the closed-model test (0: skip)")
    ap.add_argument("--paraphrase", action="store_true",
                    help="also: the watermarked harvest paraphrased by the teacher (unwatermarked) before fine-tuning")
    ap.add_argument("--tag", default="smollm2")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch
    from scipy import stats

    torch.set_num_threads(1)
    from stillwatch.distill.harvest import HarvestConfig, harvest
    from stillwatch.distill.prompts import generate_prompts
    from stillwatch.distill.student import load_pretrained_student
    from stillwatch.distill.train import FrozenPrefix, TrainConfig, build_examples, collate, train
    from stillwatch.records import read_transcripts
    from stillwatch.mark import MasterKey, attribute_pairs, score_pairs
    from stillwatch.models import load_backend
    from stillwatch.cli.trace_demo import demo_mark_config
    from stillwatch.trace.radioactivity import ScoringText, closed_model_pairs, open_model_pairs

    t_all = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - t_all:7.1f}s] {msg}", flush=True)

    work = _lib.OUT / "trace_smollm2" / args.tag
    work.mkdir(parents=True, exist_ok=True)
    key_path = work / "master.key"
    if not key_path.exists():
        MasterKey.generate().save(key_path)
    master = MasterKey.load(key_path)
    teacher = load_backend("smollm2", dtype="float32")
    mc = demo_mark_config(teacher.tokenizer_id)
    spec, key = mc.provider_spec(), master.provider_key()
    N, T = args.prompts, args.tokens
    prompts = generate_prompts(N, seed=11)
    hc = HarvestConfig(accounts=4, account_prefix="campaign", max_new_tokens=T, temperature=args.temperature, batch_size=64, seed=3)
    log(f"harvest: {N} prompts watermarked + unwatermarked (SmolLM2, {T} new tokens, T={args.temperature}; resumes from {work})")
    t0 = time.perf_counter()
    harvest(teacher, prompts, work / "wm.jsonl", hc, master=master, mark_config=mc)
    harvest(teacher, prompts, work / "un.jsonl", replace(hc, watermark=False))
    harvest_s = time.perf_counter() - t0
    order = {p.id: i for i, p in enumerate(prompts)}
    wm = sorted(read_transcripts(work / "wm.jsonl"), key=lambda r: order[r.prompt_id])
    un = sorted(read_transcripts(work / "un.jsonl"), key=lambda r: order[r.prompt_id])
    accounts = sorted({r.account for r in wm})
    log(f"harvest done in {harvest_s:.0f}s: {sum(len(r.completion_ids) for r in wm)} watermarked + {sum(len(r.completion_ids) for r in un)} plain tokens")

    # ------------------------------------------------------------ base pass: predictions + NLL (quality)
    ex_un = build_examples(un, teacher, 256)
    ex_wm = build_examples(wm, teacher, 256)
    ref_texts = [ScoringText(np.asarray(e.ids, dtype=np.int64), e.n_prompt) for e in ex_un]

    def full_pass(model, examples, bs=8):
        """top-1 predictions per text and the answer NLL sum/count under ``model`` (full forward)."""
        preds, tot, cnt = [], 0.0, 0
        with torch.inference_mode():
            for s in range(0, len(examples), bs):
                batch = examples[s : s + bs]
                b = collate(batch, 0)
                lg = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits  # [B, T, V]
                m = b["labels"] != -100
                tot += float(torch.nn.functional.cross_entropy(lg[m].float(), b["labels"][m], reduction="sum"))
                cnt += int(m.sum())
                am = lg.argmax(-1).numpy()
                preds += [am[r, : len(e.ids)].astype(np.int64) for r, e in enumerate(batch)]
        return preds, tot / max(cnt, 1)

    log("base model: predictions on the reference texts, NLL of both harvests")
    base_preds, nll_un = full_pass(teacher.model, ex_un)
    _, nll_wm = full_pass(teacher.model, ex_wm)

    def green_rate(recs):
        c = np.concatenate([np.asarray(r.completion_ids)[:-1] for r in recs if len(r.completion_ids) > 1])[:, None]
        t = np.concatenate([np.asarray(r.completion_ids)[1:] for r in recs if len(r.completion_ids) > 1])
        r = score_pairs(c, t, spec, key)
        return r.n_green / max(r.n_scored, 1)

    quality = {"nll_watermarked": nll_wm, "nll_unwatermarked": nll_un, "quality_cost_nll": nll_wm - nll_un,
               "green_rate_watermarked": green_rate(wm), "green_rate_unwatermarked": green_rate(un)}
    log(f"quality: base NLL wm {nll_wm:.3f} vs plain {nll_un:.3f} nats/token; harvest green rate "
        f"{quality['green_rate_watermarked']:.3f} vs {quality['green_rate_unwatermarked']:.3f}")

    # ------------------------------------------------------------ students
    cache: dict = {}
    tcfg = TrainConfig(epochs=args.epochs, batch_size=8, lr=args.lr, warmup_steps=2, max_len=256, eval_fraction=0.05,
                       train_layers=args.train_layers, checkpoint_every=10**6)
    closed_prompts = [r.prompt for r in wm[: args.closed_prompts]]
    base_closed_ctx = [teacher.chat_prompt_ids(p) for p in closed_prompts]
    rng_keys = [MasterKey.generate() for _ in range(args.keys)]

    def evaluate_student(st) -> dict:
        pre = FrozenPrefix(st.model, args.train_layers, cache)
        preds = []
        with torch.no_grad():
            for s in range(0, len(ex_un), 8):
                batch = ex_un[s : s + 8]
                am = pre.logits(batch, collate(batch, 0)).argmax(-1).numpy()
                preds += [am[r, : len(e.ids)].astype(np.int64) for r, e in enumerate(batch)]
        plain = open_model_pairs(preds, ref_texts, 1, exclude_answers=False)
        diff = open_model_pairs(preds, ref_texts, 1, exclude_answers=False, base_predictions=base_preds)
        res = {"open_plain": _p(score_pairs, plain, spec, key), "open_diff": _p(score_pairs, diff, spec, key),
               "pairs": {"open_diff": diff}}
        att = attribute_pairs(diff.contexts, diff.tokens, mc.account_spec("x"), master.key_ring(accounts), exclude_windows=diff.exclude)
        res["accounts_open_diff"] = {a: float(p) for a, p in zip(accounts, att.p_values.tolist(), strict=True)}
        if closed_prompts:
            gens = st.generate(closed_prompts, max_new_tokens=T, temperature=args.temperature, seed=5, batch_size=48)
            answers = [np.asarray(g.completion_ids, dtype=np.int64) for g in gens]
            full = teacher.next_token_argmax([c + a.tolist() for c, a in zip(base_closed_ctx, answers, strict=True)], batch_size=8)
            bp = [f[len(c) - 1 : len(c) - 1 + len(a)] for f, c, a in zip(full, base_closed_ctx, answers, strict=True)]
            prompt_ids = [np.asarray(g.prompt_ids, dtype=np.int64) for g in gens]
            cp = closed_model_pairs(answers, prompt_ids, 1, base_predictions=bp)
            res["closed_diff"] = _p(score_pairs, cp, spec, key)
            res["closed_plain"] = _p(score_pairs, closed_model_pairs(answers, prompt_ids, 1), spec, key)
            res["pairs"]["closed_diff"] = cp
        return res

    out: dict = {"date": dt.date.today().isoformat(), "argv": " ".join(sys.argv[1:]), "quality": quality, "rho": [], "null": {},
                 "sizes": {"prompts": N, "new_tokens": T, "temperature": args.temperature, "epochs": args.epochs, "lr": args.lr,
                           "train_layers": args.train_layers, "closed_prompts": len(closed_prompts), "keys": args.keys,
                           "wm_tokens": int(sum(len(r.completion_ids) for r in wm)), "harvest_s": harvest_s},
                 "watermark": spec.to_dict()}
    pairs_by_rho = {}
    for rho in [float(x) for x in args.rhos.split(",")]:
        k = int(round(rho * N))
        recs = list(wm[:k]) + list(un[k:])
        st = load_pretrained_student("smollm2")
        log(f"rho = {rho:.0%}: fine-tune on {k} watermarked + {N - k} plain answers")
        s = train(recs, st, work / f"student_{rho}", tcfg, resume=False, prefix_cache=cache)
        r = evaluate_student(st)
        pairs_by_rho[rho] = r.pop("pairs")
        row = {"rho": rho, "n_watermarked_answers": k, "wm_tokens_trained": int(sum(len(x.completion_ids) for x in wm[:k])),
               "train_s": s.seconds, "eval_loss_before": s.eval_loss_before, "eval_loss": s.eval_loss, **r}
        out["rho"].append(row)
        log(f"rho = {rho:.0%}: open plain p={r['open_plain']['p_value']:.3g} (n {r['open_plain']['n_scored']}), "
            f"open diff p={r['open_diff']['p_value']:.3g} (n {r['open_diff']['n_scored']}, green {r['open_diff']['green_rate']:.3f})"
            + (f", closed diff p={r['closed_diff']['p_value']:.3g} (n {r['closed_diff']['n_scored']})" if "closed_diff" in r else "")
            + f"; accounts {json.dumps({a: float(f'{p:.3g}') for a, p in r['accounts_open_diff'].items()})}")
        shutil.rmtree(work / f"student_{rho}", ignore_errors=True)
        del st

    # ------------------------------------------------------------ paraphrasing limitation
    if args.paraphrase:
        from stillwatch.records import Appender, Transcript

        para_path = work / "para.jsonl"
        if not para_path.exists() or len(read_transcripts(para_path)) != len(wm):
            log(f"paraphrase: the teacher rewrites the {len(wm)} watermarked answers (no watermark)")
            ask = [f"Rewrite the following text in your own words, keeping its meaning:\n\n{r.text}" for r in wm]
            gens = teacher.generate(ask, max_new_tokens=T, temperature=args.temperature, seed=9, batch_size=64)
            para_path.unlink(missing_ok=True)
            with Appender(para_path) as w:
                w.write_many([Transcript(prompt_id=r.prompt_id, family=r.family, prompt=r.prompt, text=g.text, account=r.account,
                                         watermark=r.watermark, spec=r.spec, model=r.model, tokenizer_id=r.tokenizer_id,
                                         prompt_ids=r.prompt_ids, completion_ids=g.completion_ids) for r, g in zip(wm, gens, strict=True)])
        para = sorted(read_transcripts(para_path), key=lambda r: order[r.prompt_id])
        st = load_pretrained_student("smollm2")
        log("paraphrased: fine-tune on the paraphrased watermarked harvest")
        s = train(para, st, work / "student_para", tcfg, resume=False, prefix_cache=cache)
        r = evaluate_student(st)
        r.pop("pairs")
        out["paraphrase"] = {"green_rate_paraphrased_text": green_rate(para), "train_s": s.seconds,
                             "para_tokens": int(sum(len(x.completion_ids) for x in para)), **r}
        log(f"paraphrased: text green rate {out['paraphrase']['green_rate_paraphrased_text']:.3f}; open diff "
            f"p={r['open_diff']['p_value']:.3g} (n {r['open_diff']['n_scored']}, green {r['open_diff']['green_rate']:.3f})"
            + (f", closed diff p={r['closed_diff']['p_value']:.3g}" if "closed_diff" in r else ""))
        shutil.rmtree(work / "student_para", ignore_errors=True)
        del st

    # ------------------------------------------------------------ null controls over independent keys
    def ks(pairs, keys) -> dict:
        ps = [score_pairs(pairs.contexts, pairs.tokens, spec, mk.provider_key(), exclude_windows=pairs.exclude).p_value for mk in keys]
        return {"n": len(ps), "ks_pvalue": float(stats.kstest(ps, "uniform").pvalue), "median_p": float(np.median(ps)),
                "min_p": float(np.min(ps)), "frac_below_0.05": float(np.mean(np.asarray(ps) <= 0.05))}

    if 0.0 in pairs_by_rho:
        for name, pr in pairs_by_rho[0.0].items():
            out["null"][f"control_student_{name}"] = ks(pr, [master] + rng_keys[:-1])
    if 1.0 in pairs_by_rho:
        for name, pr in pairs_by_rho[1.0].items():
            out["null"][f"wrong_key_{name}"] = ks(pr, rng_keys)
    # validation only: the base model read the harvest and never trained on it (plain open test)
    vo = open_model_pairs(base_preds, ref_texts, 1, exclude_answers=False)
    out["null"]["validation_only_base_open_plain"] = ks(vo, [master] + rng_keys[:-1])
    for k_, v in out["null"].items():
        log(f"null {k_}: KS p={v['ks_pvalue']:.3g}, median p={v['median_p']:.3f}, min p={v['min_p']:.3g}")
    out["seconds"] = time.perf_counter() - t_all
    out["load_average"] = os.getloadavg()
    (work / "result.json").write_text(json.dumps(out, indent=2, default=float))
    _plot(out, args.tag)
    _write_md(out, args.tag)
    log("done")


def _p(score_pairs, pairs, spec, key) -> dict:
    if pairs.n == 0:
        return {"p_value": 1.0, "n_scored": 0, "green_rate": None}
    r = score_pairs(pairs.contexts, pairs.tokens, spec, key, exclude_windows=pairs.exclude)
    return {"p_value": float(r.p_value), "n_scored": int(r.n_scored), "green_rate": (r.n_green / r.n_scored) if r.n_scored else None}


def _plot(out: dict, tag: str) -> None:

    plot_rho(out, (("open_diff", "open, differential vs base"), ("open_plain", "open, plain"), ("closed_diff", "closed, differential")),
             "rho: share of watermarked answers in the fine-tuning data",
             f"SmolLM2 fine-tuned on {out['sizes']['prompts']} answers (h=1, delta=3)", tag)


def _write_md(out: dict, tag: str) -> None:

    s, q = out["sizes"], out["quality"]
    la = ", ".join(f"{x:.1f}" for x in out["load_average"])
    lines = [
        f"### Radioactivity of fine-tuned SmolLM2 students (`benchmarks/trace/trace_smollm2.py`)",
        "",
        f"Command: `.venv/bin/python benchmarks/trace/trace_smollm2.py {out['argv']}`".rstrip() + "  ",
        f"Machine: {_lib.describe_machine(threads=1)} (load averages at the end {la}), "
        f"float32. Date: {out['date']}. Wall time {out['seconds']:.0f} s (harvest {s['harvest_s']:.0f} s; 0 s when resumed).",
        "",
        f"Sizes: teacher = SmolLM2-135M-Instruct, watermarked (provider KGW h={out['watermark']['context_width']}, gamma="
        f"{out['watermark']['gamma']}, delta={out['watermark']['delta']}; account layer h=1, delta=1.5; 4 accounts), "
        f"{s['prompts']} prompts, answers of up to {s['new_tokens']} tokens at temperature {s['temperature']} "
        f"({s['wm_tokens']} watermarked tokens at rho = 100%). Students = SmolLM2's base weights fine-tuned on the {s['prompts']} "
        f"answers (share rho watermarked, the rest the unwatermarked teacher's answers to the same prompts; 5% held out): "
        f"last {s['train_layers']} of 30 blocks trained, lr {s['lr']}, {s['epochs']} epochs. Open-model scoring: the "
        f"unwatermarked answers as reference texts (teacher-forced; key-independent, so exact). Differential = only positions "
        f"where the student's top-1 differs from the base model's. Closed: the student answers {s['closed_prompts']} harvested "
        f"prompts; differential against the base's teacher-forced top-1. Baseline: rho = 0.",
        "",
        f"![p-value vs rho](trace_rho_{tag}.png)",
        "",
        "| rho | wm answers (tokens) | open differential p | n | green rate | open plain p | n | closed differential p | n | closed plain p | min account p (open diff, raw) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in out["rho"]:
        cd, cp = r.get("closed_diff", {}), r.get("closed_plain", {})
        acc = min(r["accounts_open_diff"].items(), key=lambda kv: kv[1])
        lines.append(
            f"| {r['rho']:.0%} | {r['n_watermarked_answers']} ({r['wm_tokens_trained']}) | {r['open_diff']['p_value']:.2g} | "
            f"{r['open_diff']['n_scored']} | {r['open_diff']['green_rate'] or 0:.3f} | {r['open_plain']['p_value']:.2g} | "
            f"{r['open_plain']['n_scored']} | {cd.get('p_value', float('nan')):.2g} | {cd.get('n_scored', '-')} | "
            f"{cp.get('p_value', float('nan')):.2g} | {acc[0]} {acc[1]:.2g} |")
    if "paraphrase" in out:
        pp = out["paraphrase"]
        cd = pp.get("closed_diff", {})
        r100 = next((r for r in out["rho"] if r["rho"] == 1.0), None)
        lines += ["", "Paraphrasing limitation (the whole watermarked harvest rewritten by the teacher, unwatermarked, before "
                  f"fine-tuning; same prompts, same fine-tune): green rate of the text {pp['green_rate_paraphrased_text']:.3f} "
                  f"(harvest {q['green_rate_watermarked']:.3f}, gamma 0.25).", "",
                  "| student fine-tuned on | open differential p | n | green rate | closed differential p | n |", "|---|---|---|---|---|---|"]
        if r100 is not None:
            c1 = r100.get("closed_diff", {})
            lines.append(f"| watermarked harvest (rho = 100%) | {r100['open_diff']['p_value']:.2g} | {r100['open_diff']['n_scored']} | "
                         f"{r100['open_diff']['green_rate'] or 0:.3f} | {c1.get('p_value', float('nan')):.2g} | {c1.get('n_scored', '-')} |")
        lines.append(f"| the same, paraphrased | {pp['open_diff']['p_value']:.2g} | {pp['open_diff']['n_scored']} | "
                     f"{pp['open_diff']['green_rate'] or 0:.3f} | {cd.get('p_value', float('nan')):.2g} | {cd.get('n_scored', '-')} |")
    lines += ["", f"Null controls (KS against U(0,1) over {s['keys']} independent keys; the control rows include the true key):", "",
              "| control | KS p | median p | min p | share p <= 0.05 |", "|---|---|---|---|---|"]
    for k, v in out["null"].items():
        lines.append(f"| {k} | {v['ks_pvalue']:.3g} | {v['median_p']:.3f} | {v['min_p']:.3g} | {v['frac_below_0.05']:.2f} |")
    lines += ["", f"Quality cost of this setting (h=1, delta=3 + account delta 1.5, T={s['temperature']}): the unwatermarked base "
              f"model's NLL of the watermarked answers {q['nll_watermarked']:.3f} vs the unwatermarked answers {q['nll_unwatermarked']:.3f} "
              f"nats/token ({q['quality_cost_nll']:+.3f}); green rate of the harvest {q['green_rate_watermarked']:.3f} "
              f"(unwatermarked {q['green_rate_unwatermarked']:.3f}, gamma 0.25).",
              ""]
    write_section(tag, "\n".join(lines))


if __name__ == "__main__":
    main()
