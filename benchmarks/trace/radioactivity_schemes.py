"""Radioactivity per watermark scheme: do SmolLM2 students fine-tuned on each scheme's answers carry it?

For each scheme the harvest is the frontier's cached answers (benchmarks/mark/frontier.py: SmolLM2 at
temperature 0.8, held-out prompts, <= 200 tokens, account acct-alice). Students are SmolLM2's own
weights (float32) fine-tuned on those answers (last 2 blocks, lr 1e-3, 3 epochs, warmup 2) with a
share rho of them watermarked (the rest: the unwatermarked answers to the same prompts). The open-model
test (stillwatch.trace.radioactivity.open_model_test) scores the student teacher-forced on the
unwatermarked answers ("reference" scoring, key-independent, so exact), differential against the base
model in the same dtype (its predictions computed once, PredictionCache); optionally also on the
student's own re-answers to the prompts ("suspect" scoring). Controls: the rho = 0 student scored with
each scheme's key, and the rho = 100% students scored with wrong master keys.

Run:  nice -n 10 .venv/bin/python benchmarks/trace/radioactivity_schemes.py [--schemes a,b] [--rhos 1,0.1] [--reanswer]
Writes the section "Radioactivity per scheme" of benchmarks/results/mark.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "mark"))
import _data as data  # noqa: E402
from mark._frontier_settings import ACCOUNT, NEW_TOKENS, PROMPT_SEED, TEMPERATURE, _slug, cache_id, settings, with_score  # noqa: E402

DEFAULT_SCHEMES = "interleaved,old default"


def _records(rows: list[dict], tok_id: str, watermark: str) -> list:
    from stillwatch.records import Transcript

    return [Transcript(prompt_id=f"p{i}", prompt=r["prompt"], text="", account=ACCOUNT, watermark=watermark, tokenizer_id=tok_id,
                       prompt_ids=tuple(r["prompt_ids"]), completion_ids=tuple(r["ids"])) for i, r in enumerate(rows)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--schemes", default=DEFAULT_SCHEMES, help="comma-separated substrings of frontier setting names")
    ap.add_argument("--rhos", default="1,0.1")
    ap.add_argument("--prompts", type=int, default=32, help="the frontier's prompt count (its cache)")
    ap.add_argument("--wrong-keys", type=int, default=8)
    ap.add_argument("--reanswer", action="store_true", help="also score the students' own re-answers (generation: slow)")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    from stillwatch.distill.prompts import generate_prompts
    from stillwatch.distill.student import load_pretrained_student
    from stillwatch.distill.train import TrainConfig, train
    from stillwatch.mark import MasterKey
    from stillwatch.models import load_backend
    from stillwatch.trace.radioactivity import PredictionCache, RadioactivityConfig, ScoringText, open_model_test

    t_all = time.perf_counter()
    log = lambda m: print(f"[{time.perf_counter() - t_all:7.1f}s] {m}", file=sys.stderr, flush=True)  # noqa: E731
    mk = data.master_key()
    prompts = [p.prompt for p in generate_prompts(args.prompts, seed=PROMPT_SEED)]
    gen = dict(max_new_tokens=NEW_TOKENS, seed=17, temperature=TEMPERATURE, batch_size=32)
    plain = data.generate_cached("fr-plain", prompts, None, watermark=False, **gen)
    base = load_backend("smollm2", dtype="float32")  # the students' dtype
    chosen = {k: v for k, v in settings().items() if any(s.strip() in k for s in args.schemes.split(",")) and hasattr(v, "provider_spec")}
    harvests = {name: data.generate_cached(_slug(name), prompts, ACCOUNT, cache_id(cfg), **gen) for name, cfg in chosen.items()}
    ref = [ScoringText(np.asarray(r["prompt_ids"] + r["ids"], dtype=np.int64), len(r["prompt_ids"])) for r in plain if r["ids"]]
    cache = PredictionCache()
    rc = RadioactivityConfig(scoring="reference", curve_points=0, batch_size=8)
    accounts = [ACCOUNT] + [f"acct-{i:05d}" for i in range(99)]
    tcfg = TrainConfig(epochs=3, batch_size=8, lr=1e-3, warmup_steps=2, max_len=320, eval_fraction=0.05, train_layers=2, checkpoint_every=10**6)
    work = data.OUT / "radioactivity_schemes"
    prefix: dict = {}

    def student(recs, tag):
        st = load_pretrained_student("smollm2")
        s = train(recs, st, work / tag, tcfg, resume=False, prefix_cache=prefix)
        shutil.rmtree(work / tag, ignore_errors=True)
        return st, s

    def test(st, cfg, master, texts=ref):
        return open_model_test(st, texts, cfg.provider_spec(), master.provider_key(), watermark_tokenizer_id=None, config=rc, base=base,
                               cache=cache, account_spec=cfg.account_spec("x"), master=master, accounts=accounts)

    def weighted(cfg) -> bool:
        return any(p is not None and p.score == "weighted" for p in (cfg.provider, cfg.account))

    def count_row(st, name, cfg, label, texts=ref):  # the same student scored with the count statistic
        if weighted(cfg):
            rc_ = test(st, with_score(cfg, "count"), mk, texts)
            rows_out.append([name, label, texts_label(texts) + ", count score", f"{rc_.p_value:.3g}", rc_.n_scored,
                             f"{rc_.best_account} ({rc_.best_account_corrected_p_value:.2g})", "-"])

    def texts_label(texts) -> str:
        return "reference" if texts is ref else "suspect re-answers"

    rows_out = []
    log("control student (rho = 0: unwatermarked answers only)")
    ctrl, _ = student(_records(plain, base.tokenizer_id, "none"), "control")
    for name, cfg in chosen.items():
        r = test(ctrl, cfg, mk)
        rows_out.append([name, "0 (control)", "reference", f"{r.p_value:.3g}", r.n_scored, "-", "-"])
    del ctrl
    for name, cfg in chosen.items():
        wm = harvests[name]
        for rho in [float(x) for x in args.rhos.split(",")]:
            k = int(round(rho * len(wm)))
            recs = _records(wm[:k], base.tokenizer_id, "local") + _records(plain[k:], base.tokenizer_id, "none")
            log(f"{name}: rho = {rho:.0%} ({k} watermarked answers)")
            st, summ = student(recs, f"{_slug(name)}-{rho}")
            r = test(st, cfg, mk)
            wrong = [test(st, cfg, MasterKey.generate()).p_value for _ in range(args.wrong_keys)] if rho == 1.0 else []
            rows_out.append([name, f"{rho:.0%} ({k} answers)", "reference", f"{r.p_value:.3g}", r.n_scored,
                             f"{r.best_account} ({r.best_account_corrected_p_value:.2g})",
                             ", ".join(f"{p:.2g}" for p in sorted(wrong)) or "-"])
            count_row(st, name, cfg, f"{rho:.0%} ({k} answers)")
            if args.reanswer and rho == 1.0:
                gens = st.generate(prompts, max_new_tokens=128, temperature=1.0, seed=3, batch_size=32)
                own = [ScoringText(np.asarray(list(g.prompt_ids) + list(g.completion_ids), dtype=np.int64), len(g.prompt_ids))
                       for g in gens if g.completion_ids]
                r2 = test(st, cfg, mk, own)
                rows_out.append([name, f"{rho:.0%} ({k} answers)", "suspect re-answers", f"{r2.p_value:.3g}", r2.n_scored,
                                 f"{r2.best_account} ({r2.best_account_corrected_p_value:.2g})", "-"])
                count_row(st, name, cfg, f"{rho:.0%} ({k} answers)", own)
            log(f"  p = {r.p_value:.3g} over {r.n_scored} tuples (train {summ.seconds:.0f}s)")
            del st
    h = ["scheme", "rho", "scoring corpus", "open-model p (differential)", "tuples scored", "best of 100 accounts (corrected p)",
         "wrong master keys: p-values"]
    data.print_table(h, rows_out)
    body = data.header("benchmarks/trace/radioactivity_schemes.py " + " ".join(sys.argv[1:])) + (
        f"- sizes: harvest = the frontier's {args.prompts} answers per scheme (SmolLM2, T = {TEMPERATURE}, <= {NEW_TOKENS} tokens); "
        f"students = SmolLM2 float32 fine-tuned (last 2 blocks, lr 1e-3, 3 epochs, warmup 2) on {args.prompts} answers, a share rho "
        f"watermarked; scoring = the {len(ref)} unwatermarked answers to the same prompts, teacher-forced, differential against the "
        f"base model in float32 (base predictions computed once for all students: {cache.hits} cache hits); control = the rho = 0 "
        f"student; wrong keys = {args.wrong_keys} random master keys on the rho = 100% student"
        + ("; 'suspect re-answers' = the rho = 100% student's own answers to the prompts (<= 128 tokens, T 1.0), scored the "
           "same way" if args.reanswer else "") + "; 'count score' rows: the same student scored with the count statistic.\n"
        f"- total runtime {time.perf_counter() - t_all:.0f}s\n\n" + data.md_table(h, rows_out) + "\n")
    data.write_section("Radioactivity per scheme", body)


if __name__ == "__main__":
    main()
