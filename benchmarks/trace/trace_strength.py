"""Radioactivity of fine-tuned SmolLM2 students against fine-tune strength, at fixed data.

Session 3 (``trace_scale.py``) found that at a fixed recipe (last 2 blocks, lr 1e-3, 3 epochs) the open
differential test's lift follows the watermarked share rho. This script holds the data fixed — the N = 512
harvest, key and scoring corpus of a ``trace_scale.py`` run (copied, never modified) — and varies how
strongly the student learns: epochs, learning rate, number of trained blocks. Each job ``E:LR:L:RHO`` is one
student (E epochs, lr LR, last L blocks trained, share RHO of watermarked answers chosen exactly as
``trace_scale.py`` does; RHO = 1: the first ``--full-prompts`` watermarked answers alone). The recipe of
session 3 is the baseline: its cached predictions are copied in as ``e3_lr0.001_L2_rho*``.

Per student: held-out CE per epoch; open differential p, n scored, green rate and lift on the whole corpus
(the unwatermarked answers to all N prompts) and on the *harvested-topic subset* (the unwatermarked answers
to the prompts that were harvested watermarked at rho = 10%, which no rho < 100% student trained on as
unwatermarked text); KS of the p-values of ``--keys`` wrong keys (null). ``--snap`` epochs take predictions
mid-run (same schedule, so epoch 3 of an 8-epoch cosine run is not the 3-epoch recipe).

    nice -n 5 .venv/bin/python benchmarks/trace/trace_strength.py --jobs 8:1e-3:2:0.1,8:1e-3:2:0 [--snap 3] [--report]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/, for _lib
import _lib  # noqa: E402
from _common import ks_over_keys, load_preds, open_state, p_test, predict_top1, required_tuples, run_log, save_preds, write_section  # noqa: E402

BASELINE = (3, 1e-3, 2)  # session 3's recipe: epochs, lr, trained blocks
TOPIC_RHO = 0.1  # the harvested-topic subset = the prompts watermarked at this rho
TOPIC_RHOS = (0.01, 0.05, 0.1)  # each rho's own watermarked prompts, scored as subsets too


def _name(epochs: int, lr: float, layers: int, rho: float) -> str:
    return f"e{epochs}_lr{lr:g}_L{layers}_rho{rho:g}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", default="8:1e-3:2:0.1,8:1e-3:2:0", help="students E:LR:L:RHO, run in this order (cached ones skipped)")
    ap.add_argument("--snap", default="", help="epochs at which to also take predictions mid-run (e.g. 3,5)")
    ap.add_argument("--prompts", type=int, default=512)
    ap.add_argument("--full-prompts", type=int, default=128)
    ap.add_argument("--keys", type=int, default=24)
    ap.add_argument("--reanswers", type=int, default=0,
                    help="K extra unwatermarked teacher answers (seeds 1000..1000+K-1) to each prompt of the rho = 10%% topic set, "
                         "scored with the topic texts as a re-answer corpus (students of this run are retrained when it lacks them)")
    ap.add_argument("--source", default=str(_lib.OUT / "trace_scale" / "scale"), help="trace_scale.py run to copy the harvest from")
    ap.add_argument("--tag", default="strength")
    ap.add_argument("--report", action="store_true", help="only rewrite the trace.md section from result.json")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    work, state_path, state = open_state("trace_strength", args.tag)
    if not args.report:
        _run(args, work, state, state_path)
    _write_md(state, args.tag)


def _copy_source(src: Path, work: Path, state: dict, n: int) -> None:
    """Copy the harvest, key and base predictions, and the baseline students (session 3 recipe) of ``src``."""
    for f in ("master.key", "wm.jsonl", "un.jsonl", "preds_base.npz"):
        if not (work / f).exists():
            shutil.copy(src / f, work / f)
    old = json.loads((src / "result.json").read_text())["students"]
    for rho in (0.0, 0.01, 0.05, 0.1, 1.0):
        name = _name(*BASELINE, rho)
        s = old.get(f"rho_{rho:g}")
        if s is None or name in state.setdefault("students", {}):
            continue
        shutil.copy(src / f"preds_rho_{rho:g}.npz", work / f"preds_{name}.npz")
        state["students"][name] = {"epochs": BASELINE[0], "lr": BASELINE[1], "layers": BASELINE[2], "rho": rho,
                                   "n_answers": s["n_answers"], "n_watermarked": s["n_watermarked"], "wm_tokens_trained": s["wm_tokens_trained"],
                                   "train_s": s["train_s"], "predict_s": s["predict_s"], "eval_loss_before": s["eval_loss_before"],
                                   "eval_loss": s["eval_loss"], "eval_history": [], "baseline": f"session 3 run ({src.name}), same harvest"}


def _run(args, work: Path, state: dict, state_path: Path) -> None:  # noqa: C901 - one staged driver
    import torch

    torch.set_num_threads(1)
    from stillwatch.distill.prompts import generate_prompts
    from stillwatch.distill.student import load_pretrained_student
    from stillwatch.distill.train import TrainConfig, build_examples, split_examples, train
    from stillwatch.records import read_transcripts
    from stillwatch.mark import MasterKey
    from stillwatch.models import load_backend
    from stillwatch.cli.trace_demo import demo_mark_config
    from stillwatch.trace.radioactivity import ScoringText

    _copy_source(Path(args.source), work, state, args.prompts)
    log, save = run_log(state, state_path)

    master = MasterKey.load(work / "master.key")
    teacher = load_backend("smollm2", dtype="float32")
    mc = demo_mark_config(teacher.tokenizer_id)
    spec, key = mc.provider_spec(), master.provider_key()
    N = args.prompts
    prompts = generate_prompts(N, seed=11)
    order = {p.id: i for i, p in enumerate(prompts)}
    un = sorted((r for r in read_transcripts(work / "un.jsonl") if r.prompt_id in order), key=lambda r: order[r.prompt_id])
    wm = sorted((r for r in read_transcripts(work / "wm.jsonl") if r.prompt_id in order), key=lambda r: order[r.prompt_id])
    if [r.prompt_id for r in un] != [p.id for p in prompts] or [r.prompt_id for r in wm] != [p.id for p in prompts[: len(wm)]]:
        raise SystemExit(f"{work}: the harvest does not match generate_prompts({N}, seed=11)")
    ex_un = build_examples(un, teacher, 256)
    ref_texts = [ScoringText(np.asarray(e.ids, dtype=np.int64), e.n_prompt) for e in ex_un]
    base_preds = load_preds(work / "preds_base.npz", ex_un)
    held = {e.prompt_id for e in split_examples(ex_un, 0.05)[1]}
    trainable = [i for i, r in enumerate(un) if r.prompt_id not in held]
    topics = {f"{r:g}": sorted(trainable[: round(r * N)]) for r in TOPIC_RHOS}
    topic = topics[f"{TOPIC_RHO:g}"]
    state["sizes"] = {"prompts": N, "full_prompts": args.full_prompts, "keys": args.keys, "topic_texts": len(topic),
                      "un_tokens": int(sum(len(r.completion_ids) for r in un)), "source": str(Path(args.source).relative_to(_lib.REPO))}

    def records(rho: float) -> list:
        if rho >= 1:
            return list(wm[: args.full_prompts])
        marked = set(trainable[: round(rho * N)])
        return [wm[i] if i in marked else un[i] for i in range(N)]

    def score(name: str, preds: list) -> dict:
        out = _score(preds, base_preds, ref_texts, spec, key, topic, topics)
        out["wrong_keys"] = _wrong_keys(preds, base_preds, ref_texts, spec, args.keys)
        d, t = out["open_diff"], out["topic_diff"]
        log(f"{name}: flips {out['flips']}, open diff p={d['p_value']:.3g} (n {d['n_scored']}, green {d['green_rate'] or 0:.4f}); "
            f"topic subset p={t['p_value']:.3g} (n {t['n_scored']}, green {t['green_rate'] or 0:.4f}); wrong keys KS {out['wrong_keys']['ks_pvalue']:.2f}")
        return out

    for name, s in state["students"].items():
        if "topics" not in s:
            s.update(score(name, load_preds(work / f"preds_{name}.npz", ex_un)))
    save()

    ex_re = [ex_un[i] for i in topic] + _reanswers(teacher, [prompts[i] for i in topic], work, args.reanswers, state, log)
    re_texts = [ScoringText(np.asarray(e.ids, dtype=np.int64), e.n_prompt) for e in ex_re]
    re_groups = {f"{r:g}": [j for j, e in enumerate(ex_re) if e.prompt_id in {un[i].prompt_id for i in topics[f"{r:g}"]}] for r in TOPIC_RHOS}
    save()

    def done(name: str) -> bool:
        return name in state["students"] and (work / f"preds_{name}.npz").exists() and (not args.reanswers or (work / f"preds_{name}_re.npz").exists())

    jobs = [tuple(j.split(":")) for j in args.jobs.split(",") if j]
    snaps = [int(x) for x in args.snap.split(",") if x]
    cache: dict = {}
    n_layers = len(teacher.model.model.layers)
    todo = [(n_layers - int(j[2]), build_examples(records(float(j[3])), teacher, 256)) for j in jobs
            if not done(_name(int(j[0]), float(j[1]), int(j[2]), float(j[3])))]
    for cut in sorted({c for c, _ in todo}):  # lowest cut first: the higher ones are derived from it
        t0 = time.perf_counter()
        _warm_prefix(teacher.model, cache, ex_un + ex_re + [e for c, exs in todo for e in exs], cut)
        log(f"frozen prefix at cut {cut} (first {cut} blocks) ready in {time.perf_counter() - t0:.0f}s")
        save()
    if args.reanswers and todo and not (work / "preds_base_re.npz").exists():
        t0 = time.perf_counter()
        save_preds(work / "preds_base_re.npz", predict_top1(teacher.model, ex_re, n_layers - min(c for c, _ in todo), cache)[0])
        log(f"base predictions on the re-answer corpus ({len(ex_re)} texts) in {time.perf_counter() - t0:.0f}s")
    base_re = load_preds(work / "preds_base_re.npz", ex_re) if (work / "preds_base_re.npz").exists() else None

    def score_re(name: str, preds: list) -> dict:
        out = {"texts": len(ex_re), "tokens": int(sum(len(e.ids) - e.n_prompt for e in ex_re)),
               "all": _diff_subset(preds, base_re, re_texts, spec, key, list(range(len(ex_re)))),
               "groups": {k: _diff_subset(preds, base_re, re_texts, spec, key, v) for k, v in re_groups.items()},
               "fresh": _diff_subset(preds, base_re, re_texts, spec, key, list(range(len(topic), len(ex_re)))),
               "fresh_groups": {k: _diff_subset(preds, base_re, re_texts, spec, key, [j for j in v if j >= len(topic)]) for k, v in re_groups.items()},
               "wrong_keys": _wrong_keys(preds, base_re, re_texts, spec, args.keys)}
        a = out["all"]
        log(f"{name} re-answer corpus ({out['texts']} texts): p={a['p_value']:.3g} (n {a['n_scored']}, green {a['green_rate'] or 0:.4f}); "
            + ", ".join(f"rho {k} prompts: p={g['p_value']:.3g} (n {g['n_scored']})" for k, g in out["groups"].items())
            + f"; wrong keys KS {out['wrong_keys']['ks_pvalue']:.2f}")
        return out
    for name, s_ in state["students"].items():
        if base_re is not None and (work / f"preds_{name}_re.npz").exists() and "fresh" not in s_.get("reanswer", {}):
            s_["reanswer"] = score_re(name, load_preds(work / f"preds_{name}_re.npz", ex_re))
    save()

    for e_s, lr_s, l_s, rho_s in jobs:
        E, lr, L, rho = int(e_s), float(lr_s), int(l_s), float(rho_s)
        name = _name(E, lr, L, rho)
        if done(name):
            log(f"{name}: cached")
            continue
        recs = records(rho)
        exs = build_examples(recs, teacher, 256)
        tcfg = TrainConfig(epochs=E, batch_size=8, lr=lr, warmup_steps=2, max_len=256, eval_fraction=0.05, train_layers=L, checkpoint_every=10**6)
        train_set, eval_set = split_examples(exs, tcfg.eval_fraction)
        wm_in = [e for e in train_set if e.prompt_id in {r.prompt_id for r in recs if r.watermark != "none"}]
        st = load_pretrained_student("smollm2")
        bpe = math.ceil(len(train_set) / tcfg.batch_size)
        snap_at = {e * bpe: e for e in snaps if e < E}
        snap_out: dict = {}
        t_ep = [time.perf_counter()]

        def progress(step: int, total: int, loss: float, st=st, snap_at=snap_at, snap_out=snap_out, bpe=bpe, name=name, L=L, t_ep=t_ep) -> None:
            if step and step % bpe == 0:
                log(f"{name}: epoch {step // bpe} done ({time.perf_counter() - t_ep[0]:.0f}s since the last), train loss {loss:.4f}")
                t_ep[0] = time.perf_counter()
            if step in snap_at:
                t1 = time.perf_counter()
                p, _ = predict_top1(st.model, ex_un, L, cache)
                save_preds(work / f"preds_{name}@e{snap_at[step]}.npz", p)
                snap_out[snap_at[step]] = {"predict_s": time.perf_counter() - t1, **score(f"{name}@e{snap_at[step]}", p)}
                t_ep[0] = time.perf_counter()

        log(f"{name}: fine-tune on {len(recs)} answers ({len(train_set)} trained, {len(wm_in)} of them watermarked), {E} epochs x {bpe} steps")
        summ = train(recs, st, work / f"student_{name}", tcfg, resume=False, prefix_cache=cache, progress=progress)
        t1 = time.perf_counter()
        preds, _ = predict_top1(st.model, ex_un, L, cache)
        old = work / f"preds_{name}.npz"
        same = float(np.mean(np.concatenate(preds) == np.concatenate(load_preds(old, ex_un)))) if old.exists() else None
        if same is not None:
            log(f"{name}: retrained; {same:.4%} of its predictions equal the earlier run's")
        save_preds(old, preds)
        extra = {}
        if args.reanswers:
            p_re, _ = predict_top1(st.model, ex_re, L, cache)
            save_preds(work / f"preds_{name}_re.npz", p_re)
            extra = {"reanswer": score_re(name, p_re), "retrain_same_predictions": same}
        snap_s = sum(v["predict_s"] for v in snap_out.values())
        state["students"][name] = {"epochs": E, "lr": lr, "layers": L, "rho": rho, "n_answers": len(recs), "n_watermarked": len(wm_in),
                                   "wm_tokens_trained": int(sum(len(e.ids) - e.n_prompt for e in wm_in)),
                                   "train_s": summ.seconds - snap_s, "predict_s": time.perf_counter() - t1,
                                   "eval_loss_before": summ.eval_loss_before, "eval_loss": summ.eval_loss, "eval_history": summ.eval_history,
                                   "snapshots": {str(k): v for k, v in snap_out.items()}, **score(name, preds), **extra}
        shutil.rmtree(work / f"student_{name}", ignore_errors=True)
        save()
        _write_md(state, args.tag)
    state["runs"][-1]["done"] = True
    save()
    log("done")


def _warm_prefix(model, cache: dict, examples: list, cut: int) -> None:
    """Fill ``cache`` (the :class:`FrozenPrefix` cache of ``model``) at ``cut`` for ``examples``: from a cached
    lower cut when there is one (only the blocks in between are run), else from the embeddings."""
    import torch

    from stillwatch.distill.train import FrozenPrefix, collate

    todo = [e for e in dict.fromkeys(examples) if (cut, e.ids) not in cache]
    lower = sorted({c for c, _ in cache if c < cut})
    lo = next((c for c in reversed(lower) if all((c, e.ids) in cache for e in todo)), None)
    if lo is None:
        pre = FrozenPrefix(model, len(model.model.layers) - cut, cache)
        for s in range(0, len(todo), 16):
            pre._hidden(todo[s : s + 16])
        return
    body = model.model
    layers, norm = body.layers, body.norm
    for s in range(0, len(todo), 16):
        batch = todo[s : s + 16]
        col = collate(batch, 0)
        x = torch.zeros((len(batch), col["input_ids"].shape[1], model.config.hidden_size))  # [B, T, H]
        for r, e in enumerate(batch):
            x[r, : len(e.ids)] = cache[(lo, e.ids)]
        try:
            body.layers, body.norm = torch.nn.ModuleList(list(layers)[lo:cut]), torch.nn.Identity()
            with torch.no_grad():
                h = body(inputs_embeds=x, attention_mask=col["attention_mask"], use_cache=False).last_hidden_state  # [B, T, H]
        finally:
            body.layers, body.norm = layers, norm
        for r, e in enumerate(batch):
            cache[(cut, e.ids)] = h[r, : len(e.ids)].detach().clone()


def _score(preds, base_preds, ref_texts, spec, key, topic: list, topics: dict) -> dict:
    """Open differential and plain test on the whole corpus, the differential test on the harvested-topic
    subset ``topic``, on the rest, and on each subset of ``topics`` (name -> text indexes), and the number of
    answer positions where the student's top-1 left the base's."""
    from stillwatch.trace.radioactivity import open_model_pairs

    h = spec.context_width
    rest = sorted(set(range(len(ref_texts))) - set(topic))

    def diff(idx: list) -> dict:
        return _diff_subset(preds, base_preds, ref_texts, spec, key, idx)

    flips = sum(int(((p != b) & (p >= 0)).sum()) for p, b in zip(preds, base_preds, strict=True))
    return {"flips": flips, "open_diff": diff(list(range(len(ref_texts)))), "topic_diff": diff(topic), "rest_diff": diff(rest),
            "topics": {k: diff(v) for k, v in topics.items()},
            "open_plain": p_test(open_model_pairs(preds, ref_texts, h, exclude_answers=False), spec, key)}


def _diff_subset(preds, base_preds, ref_texts, spec, key, idx: list) -> dict:
    """The open differential test on the texts ``idx`` of ``ref_texts`` (de-duplicated over them)."""
    from stillwatch.trace.radioactivity import open_model_pairs

    return p_test(open_model_pairs([preds[i] for i in idx], [ref_texts[i] for i in idx], spec.context_width, exclude_answers=False,
                               base_predictions=[base_preds[i] for i in idx]), spec, key)


def _reanswers(teacher, prompts: list, work: Path, k: int, state: dict, log) -> list:
    """``k`` unwatermarked teacher answers to each of ``prompts`` (seeds 1000..1000+k-1; resumable files
    ``re_<i>.jsonl``), as training-style examples in prompt order."""
    from dataclasses import replace

    from stillwatch.distill.harvest import HarvestConfig, harvest
    from stillwatch.distill.train import build_examples
    from stillwatch.records import read_transcripts

    hc = HarvestConfig(accounts=4, account_prefix="campaign", max_new_tokens=96, temperature=0.7, batch_size=64, watermark=False)
    order = {p.id: i for i, p in enumerate(prompts)}
    out = []
    for i in range(k):
        path = work / f"re_{i}.jsonl"
        t0 = time.perf_counter()
        harvest(teacher, prompts, path, replace(hc, seed=1000 + i))
        recs = sorted((r for r in read_transcripts(path) if r.prompt_id in order), key=lambda r: order[r.prompt_id])
        st = state.setdefault("reanswer_harvest", {}).setdefault(str(i), {"seconds": time.perf_counter() - t0})
        st["tokens"] = int(sum(len(r.completion_ids) for r in recs))
        log(f"re-answers, seed {1000 + i}: {len(recs)} answers, {st['tokens']} tokens ({time.perf_counter() - t0:.0f}s)")
        out += build_examples(recs, teacher, 256)
    return out


def _wrong_keys(preds, base_preds, ref_texts, spec, n_keys: int) -> dict:
    """Null check: the differential test of ``n_keys`` fresh random keys; KS of their p-values against U(0, 1)."""
    from stillwatch.mark import MasterKey
    from stillwatch.trace.radioactivity import open_model_pairs

    pairs = open_model_pairs(preds, ref_texts, spec.context_width, exclude_answers=False, base_predictions=base_preds)
    return ks_over_keys(pairs, spec, [MasterKey.generate() for _ in range(n_keys)])


# ---------------------------------------------------------------------------------------------- report
def _write_md(state: dict, tag: str) -> None:

    studs = state.get("students", {})
    if not any("open_diff" in v for v in studs.values()):
        return
    s, run = state["sizes"], state["runs"][-1]
    tot = sum(r.get("seconds", 0) for r in state["runs"])
    lf = ", ".join(f"{x:.1f}" for x in run.get("load_end", (0, 0, 0)))
    ls = ", ".join(f"{x:.1f}" for x in run.get("load_start", (0, 0, 0)))
    g = 0.25
    rows = sorted([v | {"name": k} for k, v in studs.items() if "open_diff" in v],
                  key=lambda v: ((v["epochs"], v["lr"], v["layers"]) != BASELINE, v["layers"], v["epochs"], v["lr"], v["rho"]))
    ctrl = {(v["epochs"], v["lr"], v["layers"]): v for v in rows if v["rho"] == 0}
    base10 = studs.get(_name(*BASELINE, 0.1))
    lines = ["### SmolLM2: radioactivity against fine-tune strength (`benchmarks/trace/trace_strength.py`)", "",
             "Commands (one per run; students cached between runs): " + "; ".join(
                 f"`nice -n 5 .venv/bin/python benchmarks/trace/trace_strength.py {r['argv']}`" for r in state["runs"]) + "  ",
             f"Machine: {_lib.describe_machine(threads=1)} (load averages {ls} at the start, {lf} at the end of the "
             f"last run), torch 1 thread, float32, nice 5. Date: {run['started'][:10]} (last run started {run['started'][11:]} UTC). Wall time "
             f"{tot:.0f} s over {len(state['runs'])} run(s).", "",
             f"Data held fixed: the N = {s['prompts']} harvest, key and scoring corpus of the `scale` section above ({s['source']}, copied): "
             f"students fine-tuned from SmolLM2's base weights on {s['prompts']} answers, round(rho N) watermarked (rho = 100%: the first "
             f"{s['full_prompts']} watermarked answers alone); scoring = the unwatermarked answers to all {s['prompts']} prompts, teacher-forced, "
             "differential against the base (exact under H0). Varied: epochs, lr, trained blocks (batch 8, warmup 2, cosine to 0.1 lr, "
             f"5% held out). **Baseline** = session 3's recipe (3 epochs, lr 1e-3, last 2 blocks), its predictions from the same run. "
             f"'Topic subset' = the unwatermarked answers to the {s['topic_texts']} prompts harvested watermarked at rho = 10% (the rho = 10% "
             "students never trained on these texts; every other student did); 'lift' = green rate - gamma (0.25); the binomial sd of a "
             "green rate over 3,000 tuples is 0.008. Wrong keys: KS p of the differential test under "
             f"{s['keys']} random keys.", "",
             f"![lift vs fine-tune strength](trace_strength_{tag}.png)", "",
             "| recipe (epochs, lr, blocks) | rho | held-out CE before -> after (min over epochs) | train s | flips | open diff p | n | green | "
             "lift | lift - control | topic subset p | n | green | wrong keys KS |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for v in rows:
        r = (v["epochs"], v["lr"], v["layers"])
        d, t = v["open_diff"], v["topic_diff"]
        hist = [x["eval_loss"] for x in v.get("eval_history", []) if x.get("eval_loss") is not None]
        c = ctrl.get(r)
        lc = f"{(d['green_rate'] or 0) - (c['open_diff']['green_rate'] or 0):+.4f}" if c is not None and v["rho"] > 0 and v["rho"] < 1 else "-"
        lines.append(f"| {v['epochs']}, {v['lr']:g}, {v['layers']}{' (baseline)' if r == BASELINE else ''} | {v['rho']:.0%} | "
                     f"{v['eval_loss_before']:.3f} -> {v['eval_loss']:.3f}{f' ({min(hist):.3f})' if hist else ''} | {v['train_s']:.0f} | {v['flips']} | "
                     f"{d['p_value']:.2g} | {d['n_scored']} | {d['green_rate'] or 0:.4f} | {(d['green_rate'] or 0) - g:+.4f} | {lc} | "
                     f"{t['p_value']:.2g} | {t['n_scored']} | {t['green_rate'] or 0:.4f} | {v['wrong_keys']['ks_pvalue']:.2f} |")
    own = [v | {"name": k} for k, v in studs.items() if "topics" in v and f"{v['rho']:g}" in v["topics"]]
    if own:
        lines += ["", "Scoring restricted to the texts of each student's *own* watermarked prompts (the unwatermarked answers to the "
                  "prompts it was trained on watermarked), beside the same recipe's control (rho = 0) on the same texts:", "",
                  "| recipe | rho | texts | student p | n | green | control p | n | green | lift - control |", "|---|---|---|---|---|---|---|---|---|---|"]
        for v in sorted(own, key=lambda v: (v["layers"], v["epochs"], v["lr"], v["rho"])):
            r, k = (v["epochs"], v["lr"], v["layers"]), f"{v['rho']:g}"
            d = v["topics"][k]
            c = ctrl.get(r, {}).get("topics", {}).get(k)
            cs = f"{c['p_value']:.2g} | {c['n_scored']} | {c['green_rate'] or 0:.4f} | {(d['green_rate'] or 0) - (c['green_rate'] or 0):+.4f}" if c else "- | - | - | -"
            lines.append(f"| {r[0]}, {r[1]:g}, {r[2]} | {v['rho']:.0%} | {round(v['rho'] * s['prompts'])} | {d['p_value']:.2g} | {d['n_scored']} | "
                         f"{d['green_rate'] or 0:.4f} | {cs} |")
    rea = sorted([v for v in studs.values() if "reanswer" in v], key=lambda v: (v["layers"], v["epochs"], v["lr"], -v["rho"]))
    if rea:
        h = state.get("reanswer_harvest", {})
        x = rea[0]["reanswer"]
        lines += ["", f"**Re-answer corpus** (what a provider can build from its logs: it knows which prompts the suspect's accounts sent): "
                  f"the {s['topic_texts']} topic texts plus {len(h)} fresh unwatermarked teacher answers to each of the same prompts "
                  f"(other seeds; {x['texts']} texts, {x['tokens']} answer tokens; generated in "
                  f"{sum(v['seconds'] for v in h.values()):.0f} s), differential test de-duplicated over the whole corpus; the rho = 5% "
                  "column scores only the texts of the prompts watermarked at rho = 5% (the first 26 of the 51). Students retrained for "
                  "this (same recipe and seed; share of predictions equal to the earlier run's in the last column).", "",
                  "| recipe | student rho | all texts: p | n | green | lift - control | fresh re-answers only: p | n | green | lift - control "
                  "| rho = 5% prompts (all texts): p | n | green | wrong keys KS | retrain: same predictions |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for v in rea:
            r = (v["epochs"], v["lr"], v["layers"])
            ra, cr = v["reanswer"], ctrl.get(r, {}).get("reanswer", {})
            cells = []
            for part in ("all", "fresh"):
                a, c = ra.get(part), cr.get(part)
                if a is None:
                    cells.append("- | - | - | -")
                    continue
                lc = f"{(a['green_rate'] or 0) - (c['green_rate'] or 0):+.4f}" if c and v["rho"] > 0 else "-"
                cells.append(f"{a['p_value']:.2g} | {a['n_scored']} | {a['green_rate'] or 0:.4f} | {lc}")
            g5 = ra["groups"]["0.05"]
            same = v.get("retrain_same_predictions")
            lines.append(f"| {r[0]}, {r[1]:g}, {r[2]} | {v['rho']:.0%} | " + " | ".join(cells) + f" | {g5['p_value']:.2g} | {g5['n_scored']} | "
                         f"{g5['green_rate'] or 0:.4f} | {ra['wrong_keys']['ks_pvalue']:.2f} | {'-' if same is None else f'{same:.2%}'} |")
    snaps = [(v, e, sv) for v in rows for e, sv in sorted(v.get("snapshots", {}).items(), key=lambda x: int(x[0]))]
    if snaps:
        lines += ["", "Mid-run snapshots (same run, same cosine schedule; not the same as a shorter recipe):", "",
                  "| recipe | rho | after epoch | held-out CE | flips | open diff p | n | green | topic subset p | n | green |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for v, e, sv in snaps:
            ce = next((x["eval_loss"] for x in v["eval_history"] if x["epoch"] == int(e)), float("nan"))
            d, t = sv["open_diff"], sv["topic_diff"]
            lines.append(f"| {v['epochs']}, {v['lr']:g}, {v['layers']} | {v['rho']:.0%} | {e} | {ce:.3f} | {sv['flips']} | {d['p_value']:.2g} | "
                         f"{d['n_scored']} | {d['green_rate'] or 0:.4f} | {t['p_value']:.2g} | {t['n_scored']} | {t['green_rate'] or 0:.4f} |")
    lines += ["", "Tuples an exact binomial test needs for p ~ 1e-5 at a lift over the same recipe's control, (4.27 x 0.433 / lift)^2. "
              "Whole corpus: rho = 5% and 1% extrapolated as lift x rho / 10% (session 3: the lift follows rho at a fixed recipe). "
              "Topic subset: the lift over the control on the same texts (the harvested prompts' unwatermarked answers), which a "
              "provider can re-sample; not extrapolated (whether it holds per prompt at lower rho is measured above only at the baseline):", "",
              "| recipe | whole corpus: lift at 10% | ratio to baseline | tuples for 1e-5 at 10% | at 5% | at 1% | topic subset: lift at 10% "
              "| ratio to baseline | tuples for 1e-5 |", "|---|---|---|---|---|---|---|---|---|"]

    def lift(v: dict, c: dict, k: str) -> float:
        return (v[k]["green_rate"] or 0) - (c[k]["green_rate"] or 0)

    def fmt(x: float) -> str:
        return "-" if math.isinf(x) else f"{x:,.0f}"

    b10, c0 = base10, ctrl.get(BASELINE)
    for r, c in ctrl.items():
        v = studs.get(_name(*r, 0.1))
        if v is None or "open_diff" not in v:
            continue
        lw, lt = lift(v, c, "open_diff"), lift(v, c, "topic_diff")
        bw, bt = (lift(b10, c0, "open_diff"), lift(b10, c0, "topic_diff")) if b10 and c0 else (math.nan, math.nan)
        lines.append(f"| {r[0]}, {r[1]:g}, {r[2]} | {lw:+.4f} | {lw / bw:.2f} | " + " | ".join(fmt(required_tuples(lw * f)) for f in (1, 0.5, 0.1))
                     + f" | {lt:+.4f} | {lt / bt:.2f} | {fmt(required_tuples(lt))} |")
    lines += [""]
    write_section(tag, "\n".join(lines))
    _plot(rows, tag)


def _plot(rows: list, tag: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6))
    labels = sorted({(v["epochs"], v["lr"], v["layers"]) for v in rows}, key=lambda r: (r != BASELINE, r[2], r[0], r[1]))
    for j, (rho, mk) in enumerate(((0.0, "o"), (0.1, "s"), (1.0, "^"))):
        xs, ys, es = [], [], []
        for i, r in enumerate(labels):
            v = next((v for v in rows if (v["epochs"], v["lr"], v["layers"]) == r and v["rho"] == rho), None)
            if v is None:
                continue
            d = v["open_diff"]
            xs.append(i + 0.1 * (j - 1))
            ys.append((d["green_rate"] or 0) - 0.25)
            es.append(math.sqrt(0.1875 / max(d["n_scored"], 1)))
        ax.errorbar(xs, ys, yerr=es, fmt=mk, capsize=3, label=f"rho {rho:.0%}")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(range(len(labels)), [f"{r[0]} ep, lr {r[1]:g}, {r[2]} blocks" for r in labels], fontsize=7)
    ax.set_ylabel("lift of differential tuples (green - 0.25)")
    ax.set_title("Open differential lift vs fine-tune strength (N = 512 harvest; bars = 1 binomial sd)", fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(_lib.RESULTS / f"trace_strength_{tag}.png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
