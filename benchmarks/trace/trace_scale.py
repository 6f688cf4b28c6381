"""Radioactivity of fine-tuned SmolLM2 students at the largest harvest this CPU allows, staged and resumable.

What it measures (stdout, ``benchmarks/out/trace_scale/<tag>/result.json`` after every stage, and the
``<tag>`` section of benchmarks/results/trace.md at the end or with ``--report``):

1. **rho curve** at a harvest of ``--prompts`` N answers: students = SmolLM2's base weights fine-tuned on
   N answers of which round(rho N) are watermarked (the rest: the unwatermarked teacher's answers to the
   same prompts). rho = 100% is measured at ``--full-prompts`` answers (a smaller harvest, stated).
   Open-model test, differential against the base (only positions where the student's top-1 differs
   from the base's), **scored on a larger corpus**: the unwatermarked teacher answers to *all* N prompts
   (teacher-forced). Any key-independent text is valid scoring text under H0 (the test stays exact:
   de-duplicated tuples, prompt windows excluded, answer windows kept because the text is
   unwatermarked), so the scoring corpus can grow with the harvest at no generation cost. p is also
   reported against the number of scoring texts (128, 256, ... N) and against watermarked training
   tokens, which is what the extrapolation at the end uses.
2. **Watermark settings** (``--settings-prompts`` S answers per setting, rho = 100%): provider h / delta /
   sharing varied, the quality cost beside each (the base model's NLL of the watermarked answers minus
   that of the unwatermarked answers to the same prompts, nats/token).
3. **Account attribution** on the rho = 100% student: the 4 campaign accounts and ``--innocent``
   accounts that never harvested, scored in one pass, Šidák-corrected over all of them; KS of the
   innocent accounts' raw p-values against U(0,1).
4. **Null controls**, KS over ``--keys`` keys on the big corpus: control student (rho = 0), wrong keys on
   the rho = 100% student, validation only (the base model itself, plain test).

Stages are cached under benchmarks/out/trace_scale/<tag>/: harvests are append-only transcripts
(resumable), each student's predictions on the scoring corpus are saved (.npz) as soon as it is
trained, and result.json is rewritten after every stage, so a crash loses at most one student.
``--reuse DIR`` starts from an existing harvest (master key + wm.jsonl + un.jsonl of the same prompts,
seed and sampling settings, e.g. benchmarks/out/trace_smollm2/smollm2).

    nice -n 5 .venv/bin/python benchmarks/trace/trace_scale.py --prompts 768 [--full-prompts 128] [--settings-prompts 96]
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/, for _lib
import _lib  # noqa: E402
from _common import ks_over_keys, load_preds, open_state, p_test, predict_top1, required_tuples, run_log, save_preds, write_section  # noqa: E402

#: watermark settings compared in stage 2 (provider layer; account layer h=1/2 delta 1.5 as in each deployment)
SETTINGS = {
    "h1_d3": {"label": "h=1, delta=3 (demo / main)", "provider": {"context_width": 1, "delta": 3.0}, "account": {"context_width": 1, "delta": 1.5}},
    "h1_d1.5": {"label": "h=1, delta=1.5", "provider": {"context_width": 1, "delta": 1.5}, "account": {"context_width": 1, "delta": 1.5}},
    "h2_d1.5": {"label": "h=2, delta=1.5 (MarkConfig default)", "provider": {"context_width": 2, "delta": 1.5},
                "account": {"context_width": 2, "delta": 1.5}},
    "h1_d3_split": {"label": "h=1, delta=3, split 50/50 (provider gets half the positions)", "provider": {"context_width": 1, "delta": 3.0},
                    "account": {"context_width": 1, "delta": 3.0}, "sharing": "split"},
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=768, help="harvest size N for the rho < 100% students")
    ap.add_argument("--full-prompts", type=int, default=128, help="harvest size of the rho = 100% student")
    ap.add_argument("--settings-prompts", type=int, default=96, help="harvest size per watermark setting (0: skip stage 2)")
    ap.add_argument("--settings", default="h1_d1.5,h2_d1.5,h1_d3_split", help=f"extra settings of stage 2 among {', '.join(SETTINGS)}")
    ap.add_argument("--rhos", default="0,0.1,0.05,0.01")
    ap.add_argument("--tokens", type=int, default=96)
    ap.add_argument("--temperature", type=float, default=0.7)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--train-layers", type=int, default=2)
    ap.add_argument("--keys", type=int, default=24)
    ap.add_argument("--innocent", type=int, default=24, help="accounts that never harvested, tested beside the 4 campaign accounts")
    ap.add_argument("--reuse", default=str(_lib.OUT / "trace_smollm2" / "smollm2"))
    ap.add_argument("--tag", default="scale")
    ap.add_argument("--report", action="store_true", help="only rewrite the trace.md section from result.json")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    work, state_path, state = open_state("trace_scale", args.tag)
    if args.report:
        _write_md(state, args.tag)
        return
    _run(args, work, state, state_path)



def _run(args, work: Path, state: dict, state_path: Path) -> None:  # noqa: C901 - one staged driver
    import torch

    torch.set_num_threads(1)
    from stillwatch.distill.harvest import HarvestConfig, harvest
    from stillwatch.distill.prompts import generate_prompts
    from stillwatch.distill.student import load_pretrained_student
    from stillwatch.distill.train import TrainConfig, build_examples, split_examples, train
    from stillwatch.records import read_transcripts
    from stillwatch.mark import MarkConfig, MasterKey
    from stillwatch.mark.config import LayerParams
    from stillwatch.models import load_backend
    from stillwatch.trace.radioactivity import ScoringText

    log, save = run_log(state, state_path)
    state.setdefault("stages", {})
    state.setdefault("students", {})

    reuse = Path(args.reuse) if args.reuse else None
    if not (work / "master.key").exists():
        if reuse and (reuse / "master.key").exists():
            for f in ("master.key", "wm.jsonl", "un.jsonl"):
                if (reuse / f).exists():
                    shutil.copy(reuse / f, work / f)
            log(f"reusing the harvest and key of {reuse}")
        else:
            MasterKey.generate().save(work / "master.key")
    master = MasterKey.load(work / "master.key")
    teacher = load_backend("smollm2", dtype="float32")
    N, T, L = args.prompts, args.tokens, args.train_layers
    rhos = [float(x) for x in args.rhos.split(",")]
    n_wm = max([args.full_prompts] + [math.ceil(r * N / 0.9) + 2 for r in rhos if r < 1])
    prompts = generate_prompts(max(N, n_wm, args.settings_prompts), seed=11)
    order = {p.id: i for i, p in enumerate(prompts)}
    hc = HarvestConfig(accounts=4, account_prefix="campaign", max_new_tokens=T, temperature=args.temperature, batch_size=64, seed=3)

    def mark_config(name: str):
        s = SETTINGS[name]
        return MarkConfig(provider=LayerParams(**s["provider"]), account=LayerParams(**s["account"]), sharing=s.get("sharing", "additive"),
                          tokenizer_id=teacher.tokenizer_id)

    def timed_harvest(path: Path, ps, cfg, stage: str, **kw) -> list:
        before = len(read_transcripts(path, allow_empty=True))
        t0 = time.perf_counter()
        harvest(teacher, ps, path, cfg, **kw)
        recs = sorted((r for r in read_transcripts(path) if r.prompt_id in order), key=lambda r: order[r.prompt_id])
        ids = {p.id for p in ps}
        recs = [r for r in recs if r.prompt_id in ids]
        new = len(recs) - before
        if new > 0:
            st = state["stages"].setdefault(stage, {"seconds": 0.0, "answers": 0, "tokens": 0})
            new_tok = sum(len(r.completion_ids) for r in recs[-new:])
            st["seconds"] += time.perf_counter() - t0
            st["answers"] += new
            st["tokens"] += new_tok
            log(f"{stage}: {new} new answers, {new_tok} tokens in {time.perf_counter() - t0:.0f}s "
                f"({new_tok / (time.perf_counter() - t0):.0f} tokens/s)")
        save()
        return recs

    # ------------------------------------------------------------------ stage 1: harvests (resumable)
    log(f"harvest: unwatermarked answers to {N} prompts, watermarked to the first {n_wm} (resumes from {work})")
    un = timed_harvest(work / "un.jsonl", prompts[:N], replace(hc, watermark=False), "harvest_unwatermarked")
    wm = timed_harvest(work / "wm.jsonl", prompts[:n_wm], hc, "harvest_watermarked", master=master, mark_config=mark_config("h1_d3"))
    accounts = sorted({r.account for r in wm})
    mc_main = mark_config("h1_d3")
    spec, key = mc_main.provider_spec(), master.provider_key()
    state["sizes"] = {"prompts": N, "full_prompts": args.full_prompts, "settings_prompts": args.settings_prompts, "new_tokens": T,
                      "temperature": args.temperature, "epochs": args.epochs, "lr": args.lr, "train_layers": L, "keys": args.keys,
                      "innocent": args.innocent, "accounts": accounts, "un_tokens": int(sum(len(r.completion_ids) for r in un)),
                      "wm_tokens_full": int(sum(len(r.completion_ids) for r in wm[: args.full_prompts]))}
    state["watermark"] = spec.to_dict()

    # ------------------------------------------------------------------ scoring corpus + base pass
    cache: dict = {}
    ex_un = build_examples(un, teacher, 256)
    ref_texts = [ScoringText(np.asarray(e.ids, dtype=np.int64), e.n_prompt) for e in ex_un]
    ex_by_pid = {e.prompt_id: e for e in ex_un}

    def predict(model, examples, *, nll: bool = False):
        return predict_top1(model, examples, L, cache, nll=nll)

    t0 = time.perf_counter()
    base_path = work / "preds_base.npz"
    if base_path.exists():
        base_preds = load_preds(base_path, ex_un)
    else:
        base_preds, _ = predict(teacher.model, ex_un)
        save_preds(base_path, base_preds)
    state["stages"]["base_pass"] = {"seconds": time.perf_counter() - t0, "texts": len(ex_un),
                                    "tokens": int(sum(len(e.ids) for e in ex_un))}
    log(f"base pass over the scoring corpus ({len(ex_un)} texts, {state['stages']['base_pass']['tokens']} tokens) "
        f"in {state['stages']['base_pass']['seconds']:.0f}s")
    save()

    tcfg = TrainConfig(epochs=args.epochs, batch_size=8, lr=args.lr, warmup_steps=2, max_len=256, eval_fraction=0.05,
                       train_layers=L, checkpoint_every=10**6)

    def student(name: str, recs: list, extra: dict) -> list:
        path = work / f"preds_{name}.npz"
        if path.exists() and name in state["students"]:
            log(f"{name}: cached")
            return load_preds(path, ex_un)
        st = load_pretrained_student("smollm2")
        log(f"{name}: fine-tune on {len(recs)} answers ({extra})")
        s = train(recs, st, work / f"student_{name}", tcfg, resume=False, prefix_cache=cache)
        t1 = time.perf_counter()
        preds, _ = predict(st.model, ex_un)
        save_preds(path, preds)
        state["students"][name] = {**extra, "n_answers": len(recs), "train_s": s.seconds, "predict_s": time.perf_counter() - t1,
                                   "eval_loss_before": s.eval_loss_before, "eval_loss": s.eval_loss}
        shutil.rmtree(work / f"student_{name}", ignore_errors=True)
        save()
        return preds

    # ------------------------------------------------------------------ stage 2: rho students
    # the watermarked answers of a rho student are the first round(rho N) prompts of the *training* split
    # (the 5% held out is a hash of the prompt id), so every one of them is trained on
    held = {e.prompt_id for e in split_examples(ex_un, tcfg.eval_fraction)[1]}
    trainable = [i for i, r in enumerate(un) if r.prompt_id not in held]

    def trained(recs: list) -> tuple[int, int]:
        """(watermarked answers, their tokens) in the training split of a student fine-tuned on ``recs``."""
        out = {e.prompt_id for e in split_examples(build_examples(recs, teacher, 256), tcfg.eval_fraction)[1]}
        wm_in = [r for r in recs if r.watermark != "none" and r.prompt_id not in out]
        return len(wm_in), int(sum(len(r.completion_ids) for r in wm_in))

    preds: dict[str, list] = {}
    for rho in [r for r in rhos if r < 1]:
        k = round(rho * N)
        marked = set(trainable[:k])
        if k and max(marked) >= len(wm):
            raise SystemExit(f"rho = {rho}: needs watermarked answers up to prompt {max(marked)}; harvest more (--full-prompts)")
        recs = [wm[i] if i in marked else un[i] for i in range(N)]
        name = f"rho_{rho:g}"
        n_in, tok_in = trained(recs)
        preds[name] = student(name, recs, {"rho": rho, "n_watermarked": n_in, "wm_tokens_trained": tok_in, "setting": "h1_d3"})
        _score_all(state, preds, base_preds, ref_texts, spec, key, master, mc_main, accounts, args, log)
        save()
    full = list(wm[: args.full_prompts])
    n_in, tok_in = trained(full)
    preds["rho_1"] = student("rho_1", full, {"rho": 1.0, "n_watermarked": n_in, "setting": "h1_d3", "wm_tokens_trained": tok_in})
    _score_all(state, preds, base_preds, ref_texts, spec, key, master, mc_main, accounts, args, log)
    save()
    _write_md(state, args.tag)

    # ------------------------------------------------------------------ stage 3: attribution + nulls
    _attribution(state, preds, base_preds, ref_texts, master, mc_main, accounts, args, log)
    _nulls(state, preds, base_preds, ref_texts, spec, master, args, log)
    save()
    _write_md(state, args.tag)

    # ------------------------------------------------------------------ stage 4: watermark settings
    S = args.settings_prompts
    if S > 0:
        ex_base_nll = [ex_by_pid[r.prompt_id] for r in un[:S] if r.prompt_id in ex_by_pid]
        _, (tot, cnt) = predict(teacher.model, ex_base_nll, nll=True)
        nll_un = tot / max(cnt, 1)
        state["settings_nll_unwatermarked"] = nll_un
        for name in ["h1_d3"] + [s for s in args.settings.split(",") if s]:
            mc = mark_config(name)
            path = work / ("wm.jsonl" if name == "h1_d3" else f"wm_{name}.jsonl")
            recs = timed_harvest(path, prompts[:S], hc, f"harvest_{name}", master=master, mark_config=mc)
            _, (tot, cnt) = predict(teacher.model, build_examples(recs, teacher, 256), nll=True)
            sname = f"setting_{name}"
            if name == "h1_d3" and S == args.full_prompts:  # the rho = 100% student is this setting's student
                state["students"][sname] = dict(state["students"]["rho_1"])
                preds[sname] = preds["rho_1"]
            n_in, tok_in = trained(recs)
            p = preds.get(sname) or student(sname, recs, {"rho": 1.0, "setting": name, "n_watermarked": n_in, "wm_tokens_trained": tok_in})
            sp = mc.provider_spec()
            text_green = _text_green_rate(recs, sp, key)
            res = _score_one(p, base_preds, ref_texts, sp, key, ks_points=())
            state.setdefault("settings", {})[name] = {"label": SETTINGS[name]["label"], "quality_cost_nll": tot / max(cnt, 1) - nll_un,
                                                     "nll_watermarked": tot / max(cnt, 1), "text_green_rate": text_green, **res,
                                                     "wm_tokens_trained": state["students"][sname]["wm_tokens_trained"]}
            log(f"setting {name}: quality cost {tot / max(cnt, 1) - nll_un:+.3f} nats/token, text green {text_green:.3f}, "
                f"open diff p={res['open_diff']['p_value']:.3g} (n {res['open_diff']['n_scored']})")
            save()
            _write_md(state, args.tag)
    state["done"] = True
    save()
    _write_md(state, args.tag)
    log("done")


# ---------------------------------------------------------------------------------------------- scoring

def _score_one(preds, base_preds, ref_texts, spec, key, ks_points=(128, 256, 512, 1024, 2048)) -> dict:
    """Open plain + differential test on the whole corpus, and the differential test on the first k texts."""
    from stillwatch.trace.radioactivity import open_model_pairs

    h = spec.context_width
    out = {"open_diff": p_test(open_model_pairs(preds, ref_texts, h, exclude_answers=False, base_predictions=base_preds), spec, key),
           "open_plain": p_test(open_model_pairs(preds, ref_texts, h, exclude_answers=False), spec, key), "by_texts": []}
    for k in [k for k in ks_points if k < len(ref_texts)] + [len(ref_texts)]:
        d = p_test(open_model_pairs(preds[:k], ref_texts[:k], h, exclude_answers=False, base_predictions=base_preds[:k]), spec, key)
        out["by_texts"].append({"texts": k, "tokens": int(sum(len(t.ids) - t.score_from for t in ref_texts[:k])), **d})
    return out


def _score_all(state, preds, base_preds, ref_texts, spec, key, master, mc, accounts, args, log) -> None:
    for name, p in preds.items():
        if name.startswith("rho_") and "open_diff" not in state["students"][name]:
            res = _score_one(p, base_preds, ref_texts, spec, key)
            state["students"][name].update(res)
            log(f"{name}: open diff p={res['open_diff']['p_value']:.3g} (n {res['open_diff']['n_scored']}, green "
                f"{res['open_diff']['green_rate'] or 0:.3f}); plain p={res['open_plain']['p_value']:.3g} (n {res['open_plain']['n_scored']}); "
                f"by texts " + ", ".join(f"{b['texts']}: {b['p_value']:.2g} (n {b['n_scored']})" for b in res["by_texts"]))


def _attribution(state, preds, base_preds, ref_texts, master, mc, accounts, args, log) -> None:
    """Campaign accounts + innocent accounts in one Šidák family, per student."""
    from scipy import stats

    from stillwatch.core.stats import sidak
    from stillwatch.mark import attribute_pairs
    from stillwatch.trace.radioactivity import open_model_pairs

    innocent = [f"innocent-{i:03d}" for i in range(args.innocent)]
    names = list(accounts) + innocent
    ring = master.key_ring(names)
    aspec = mc.account_spec("x")
    out = {}
    for sname, p in preds.items():
        pairs = open_model_pairs(p, ref_texts, aspec.context_width, exclude_answers=False, base_predictions=base_preds)
        res = attribute_pairs(pairs.contexts, pairs.tokens, aspec, ring, exclude_windows=pairs.exclude)
        raw = res.p_values
        corr = np.atleast_1d(sidak(raw, len(names)))
        inn = raw[len(accounts):]
        out[sname] = {"n_scored": int(res.n_scored), "family_size": len(names),
                      "campaign": {a: {"p_value": float(raw[i]), "corrected_p_value": float(corr[i])} for i, a in enumerate(accounts)},
                      "innocent_ks_pvalue": float(stats.kstest(inn, "uniform").pvalue), "innocent_min_corrected_p": float(corr[len(accounts):].min()),
                      "innocent_median_p": float(np.median(inn)), "innocent_frac_below_0.05": float(np.mean(inn <= 0.05)),
                      "present": [names[i] for i in range(len(names)) if corr[i] <= 1e-3]}
        log(f"attribution {sname}: campaign corrected p {[f'{corr[i]:.2g}' for i in range(len(accounts))]}; innocent KS p "
            f"{out[sname]['innocent_ks_pvalue']:.3g}, min corrected {out[sname]['innocent_min_corrected_p']:.3g}; present {out[sname]['present']}")
    state["attribution"] = out



def _nulls(state, preds, base_preds, ref_texts, spec, master, args, log) -> None:
    from stillwatch.mark import MasterKey
    from stillwatch.trace.radioactivity import open_model_pairs

    rng_keys = [MasterKey.generate() for _ in range(args.keys)]
    h = spec.context_width

    out = {}
    if "rho_0" in preds:
        out["control_student_open_diff"] = ks_over_keys(open_model_pairs(preds["rho_0"], ref_texts, h, exclude_answers=False,
                                                                          base_predictions=base_preds), spec, [master] + rng_keys[:-1])
    if "rho_1" in preds:
        out["wrong_key_rho100_open_diff"] = ks_over_keys(open_model_pairs(preds["rho_1"], ref_texts, h, exclude_answers=False,
                                                                           base_predictions=base_preds), spec, rng_keys)
    out["validation_only_base_open_plain"] = ks_over_keys(open_model_pairs(base_preds, ref_texts, h, exclude_answers=False), spec,
                                                           [master] + rng_keys[:-1])
    for k, v in out.items():
        log(f"null {k}: KS p={v['ks_pvalue']:.3g} over {v['n']} keys, median p={v['median_p']:.3f}, min p={v['min_p']:.3g} (n {v['n_scored']})")
    state["null"] = out


def _text_green_rate(recs, spec, key) -> float:
    from stillwatch.mark import score_pairs

    h = spec.context_width
    ids = [np.asarray(r.completion_ids, dtype=np.int64) for r in recs if len(r.completion_ids) > h]
    c = np.concatenate([np.lib.stride_tricks.sliding_window_view(a, h + 1)[:, :h] for a in ids])
    t = np.concatenate([a[h:] for a in ids])
    g = score_pairs(c, t, spec, key, dedup=False)
    return g.n_green / max(g.n_scored, 1)


# ---------------------------------------------------------------------------------------------- report

def _write_md(state: dict, tag: str) -> None:

    if not state.get("students"):
        return
    s = state["sizes"]
    run = state["runs"][-1]
    tot = sum(r.get("seconds", 0) for r in state["runs"])
    la = ", ".join(f"{x:.1f}" for x in run.get("load_end", (0, 0, 0)))
    ls = ", ".join(f"{x:.1f}" for x in run.get("load_start", (0, 0, 0)))
    st = state["stages"]
    lines = ["### SmolLM2 students at a larger harvest, scored on a larger corpus (`benchmarks/trace/trace_scale.py`)", "",
             f"Command: `nice -n 5 .venv/bin/python benchmarks/trace/trace_scale.py {run['argv']}`".rstrip() + "  ",
             f"Machine: {_lib.describe_machine(threads=1)} (load averages {ls} at the start, {la} at the "
             f"end of the last run), torch 1 thread, float32, nice 5. Date: {run['started'][:10]} (started {run['started'][11:]} UTC). Wall time "
             f"{tot:.0f} s over {len(state['runs'])} run(s) (resumable stages; the 128-prompt harvest of the `smollm2` section reused)"
             + ("" if state.get("done") else "; **partial: the run had not finished when this was written**") + ".", "",
             "Costs measured in this run: " + "; ".join(
                 f"{k.replace('_', ' ')} {v['tokens']} tokens in {v['seconds']:.0f} s ({v['tokens'] / max(v['seconds'], 1e-9):.0f} tokens/s)"
                 for k, v in st.items() if "tokens" in v and v.get("seconds")) + ".", "",
             f"Sizes: teacher SmolLM2-135M-Instruct (provider KGW h=1, gamma 0.25, delta 3; account layer h=1, delta 1.5; 4 accounts), "
             f"answers of up to {s['new_tokens']} tokens at T = {s['temperature']}. Students: SmolLM2 fine-tuned (last {s['train_layers']} of 30 "
             f"blocks, lr {s['lr']}, {s['epochs']} epochs, 5% held out) on N = {s['prompts']} answers, round(rho N) of them watermarked "
             f"(rho = 100%: the {s['full_prompts']} watermarked answers alone — a smaller harvest). Scoring corpus (open model, "
             f"teacher-forced, differential against the base): the unwatermarked answers to all {s['prompts']} prompts "
             f"({s['un_tokens']} answer tokens) — key-independent, so the test stays exact (null rows below).", "",
             f"![p-value vs watermarked tokens](trace_scale_{tag}.png)", "",
             "| student | wm answers | wm tokens trained | open differential p | n scored | green rate | open plain p | n | held-out CE before -> after | train s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    rows = sorted([v | {"name": k} for k, v in state["students"].items() if k.startswith("rho_") and "open_diff" in v], key=lambda v: v["rho"])
    for v in rows:
        d, p = v["open_diff"], v["open_plain"]
        lines.append(f"| rho = {v['rho']:.0%} (N = {v['n_answers']}) | {v['n_watermarked']} | {v['wm_tokens_trained']} | {d['p_value']:.2g} | "
                     f"{d['n_scored']} | {d['green_rate'] or 0:.4f} | {p['p_value']:.2g} | {p['n_scored']} | "
                     f"{v['eval_loss_before']:.3f} -> {v['eval_loss']:.3f} | {v['train_s']:.0f} |")
    if rows:
        ks = [b["texts"] for b in rows[0]["by_texts"]]
        lines += ["", "Differential p against the number of scoring texts (first k of the corpus; n scored in brackets):", "",
                  "| student | " + " | ".join(f"{k} texts ({rows[0]['by_texts'][i]['tokens']} tok)" for i, k in enumerate(ks)) + " |",
                  "|---|" + "---|" * len(ks)]
        for v in rows:
            lines.append(f"| rho = {v['rho']:.0%} | " + " | ".join(f"{b['p_value']:.2g} ({b['n_scored']})" for b in v["by_texts"]) + " |")
        base = next((v for v in rows if v["rho"] == 0), None)
        if base is not None:
            g0 = state["watermark"].get("gamma", 0.25)
            lines += ["", "What it would take (exact binomial, p ~ 1e-5 needs z = 4.27): lift = green rate of the differential tuples "
                      f"minus gamma = {g0}; tuples needed = (4.27 x 0.433 / lift)^2 at that lift.", "",
                      "| student | wm tokens | lift over gamma | lift over rho = 0 | tuples needed at that lift | tuples scored |", "|---|---|---|---|---|---|"]
            for v in rows:
                lift = (v["open_diff"]["green_rate"] or 0) - g0
                l0 = (v["open_diff"]["green_rate"] or 0) - (base["open_diff"]["green_rate"] or 0)
                need = required_tuples(lift)
                lines.append(f"| rho = {v['rho']:.0%} | {v['wm_tokens_trained']} | {lift:+.4f} | {l0:+.4f} | "
                             f"{'-' if math.isinf(need) else f'{need:,.0f}'} | {v['open_diff']['n_scored']} |")
    if "attribution" in state:
        a = state["attribution"]
        lines += ["", f"Account attribution (differential open tuples scored against the account layer of the 4 campaign accounts and "
                  f"{s['innocent']} accounts that never harvested; Šidák over all {len(s['accounts']) + s['innocent']}; 'present' = corrected "
                  "p <= 1e-3):", "",
                  "| student | n scored | campaign accounts: corrected p | innocent: KS p (U(0,1)) | innocent: min corrected p | present |",
                  "|---|---|---|---|---|---|"]
        for k, v in sorted(a.items()):
            lines.append(f"| {k} | {v['n_scored']} | " + ", ".join(f"{n[-3:]} {c['corrected_p_value']:.2g}" for n, c in v["campaign"].items())
                         + f" | {v['innocent_ks_pvalue']:.2g} | {v['innocent_min_corrected_p']:.2g} | {', '.join(v['present']) or 'none'} |")
    if "null" in state:
        lines += ["", f"Null controls on this corpus (KS against U(0,1) over {s['keys']} keys; control and validation rows include the true key):",
                  "", "| control | n scored | KS p | median p | min p | share p <= 0.05 |", "|---|---|---|---|---|---|"]
        for k, v in state["null"].items():
            lines.append(f"| {k} | {v['n_scored']} | {v['ks_pvalue']:.3g} | {v['median_p']:.3f} | {v['min_p']:.3g} | {v['frac_below_0.05']:.2f} |")
    if state.get("settings"):
        lines += ["", f"Watermark settings (rho = 100%, {s['settings_prompts']} watermarked answers per setting, same prompts, same fine-tune, "
                  "same scoring corpus; quality cost = the base model's NLL of the watermarked answers minus that of the unwatermarked "
                  f"answers to the same prompts, {state.get('settings_nll_unwatermarked', float('nan')):.3f} nats/token):", "",
                  "| setting | quality cost (nats/token) | text green rate | wm tokens trained | open differential p | n scored | green rate | open plain p |",
                  "|---|---|---|---|---|---|---|---|"]
        for v in state["settings"].values():
            lines.append(f"| {v['label']} | {v['quality_cost_nll']:+.3f} | {v['text_green_rate']:.3f} | {v['wm_tokens_trained']} | "
                         f"{v['open_diff']['p_value']:.2g} | {v['open_diff']['n_scored']} | {v['open_diff']['green_rate'] or 0:.3f} | "
                         f"{v['open_plain']['p_value']:.2g} |")
    lines += [""]
    write_section(tag, "\n".join(lines))
    _plot(state, tag)


def _plot(state: dict, tag: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sorted([v for k, v in state["students"].items() if k.startswith("rho_") and "open_diff" in v], key=lambda v: v["rho"])
    if not rows:
        return
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    ax = axes[0]
    x = [max(v["wm_tokens_trained"], 30) for v in rows]
    ax.loglog(x, [max(v["open_diff"]["p_value"], 1e-300) for v in rows], marker="o", label="open, differential (full corpus)")
    ax.loglog(x, [max(v["open_plain"]["p_value"], 1e-300) for v in rows], marker="s", label="open, plain")
    for xi, v in zip(x, rows, strict=True):
        ax.annotate(f"rho {v['rho']:.0%}", (xi, max(v["open_diff"]["p_value"], 1e-300)), fontsize=7, textcoords="offset points", xytext=(3, 3))
    ax.axhline(1e-5, color="grey", ls="--", lw=0.8)
    ax.set_xlabel("watermarked tokens in the fine-tuning data (rho = 0 drawn at 30)")
    ax.set_ylabel("p-value")
    ax.legend(fontsize=7)
    ax = axes[1]
    for v in rows:
        ax.loglog([b["n_scored"] for b in v["by_texts"]], [max(b["p_value"], 1e-300) for b in v["by_texts"]], marker="o", label=f"rho {v['rho']:.0%}")
    ax.axhline(1e-5, color="grey", ls="--", lw=0.8)
    ax.set_xlabel("distinct differential tuples scored (first k scoring texts)")
    ax.legend(fontsize=7)
    fig.suptitle(f"SmolLM2 students, N = {state['sizes']['prompts']} answers (rho = 100% at {state['sizes']['full_prompts']})", fontsize=9)
    fig.tight_layout()
    fig.savefig(_lib.RESULTS / f"trace_scale_{tag}.png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
