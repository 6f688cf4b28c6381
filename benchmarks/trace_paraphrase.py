"""Radioactivity with the real default teacher (SmolLM2-135M-Instruct) and the paraphrasing limitation.

Three students with SmolLM2's tokenizer (2-layer Llama, hidden 64, tied 49,152-row embeddings) are
trained the same way on answers to the same prompts: (a) the watermarked harvest, (b) unwatermarked
answers (control), (c) the watermarked harvest paraphrased by the teacher itself (unwatermarked) before
training. Each is tested open-model (its own answers to held-out prompts) and closed-model.
Also reports the quality cost of the watermark: the teacher's NLL on its watermarked answers minus
that on its unwatermarked answers (nats/token).

    .venv/bin/python benchmarks/trace_paraphrase.py [--prompts 24] [--tokens 48]
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

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=24)
    ap.add_argument("--tokens", type=int, default=48)
    ap.add_argument("--epochs", type=int, default=4)
    args = ap.parse_args()
    from trace_radioactivity import _replace_section, _teacher_nll

    from stillwatch.distill.harvest import HarvestConfig, harvest
    from stillwatch.distill.prompts import Prompt, generate_prompts
    from stillwatch.distill.student import StudentConfig, build_student
    from stillwatch.distill.train import TrainConfig, train
    from stillwatch.distill.transcripts import Transcript, TranscriptWriter, read_transcripts
    from stillwatch.mark import MasterKey, score_pairs
    from stillwatch.models import load_backend
    from stillwatch.trace.demo import demo_mark_config
    from stillwatch.trace.radioactivity import ScoringText, closed_model_pairs, open_model_pairs

    t_all = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - t_all:7.1f}s] {msg}", flush=True)

    work = Path(tempfile.mkdtemp(prefix="sw-para-bench-"))
    teacher = load_backend("smollm2")
    master = MasterKey.generate()
    mc = demo_mark_config(teacher.tokenizer_id)
    N, T = args.prompts, args.tokens
    prompts = generate_prompts(N, seed=21)
    hc = HarvestConfig(accounts=4, max_new_tokens=T, batch_size=N, seed=4)
    log("harvest watermarked + unwatermarked")
    harvest(teacher, prompts, work / "wm.jsonl", hc, master=master, mark_config=mc)
    harvest(teacher, prompts, work / "un.jsonl", replace(hc, watermark=False))
    wm, un = read_transcripts(work / "wm.jsonl"), read_transcripts(work / "un.jsonl")
    log("paraphrase the watermarked harvest with the teacher (no watermark)")
    para_prompts = [Prompt(id=r.prompt_id, family="paraphrase",
                           prompt=f"Rewrite the following text in your own words, keeping its meaning:\n\n{r.answer}") for r in wm]
    gens = teacher.generate([p.prompt for p in para_prompts], max_new_tokens=T, seed=9, batch_size=N)
    with TranscriptWriter(work / "para.jsonl") as w:
        w.write_many([Transcript(prompt_id=r.prompt_id, prompt=r.prompt, answer=g.text, account=r.account, watermark="paraphrased",
                                 spec=r.spec, teacher=r.teacher, tokenizer_id=r.tokenizer_id, prompt_ids=r.prompt_ids,
                                 answer_ids=g.completion_ids) for r, g in zip(wm, gens, strict=True)])
    para = read_transcripts(work / "para.jsonl")
    spec, key = mc.provider_spec(), master.provider_key()

    def text_p(recs) -> float:
        ids = [np.asarray(r.answer_ids) for r in recs if len(r.answer_ids) > 1]
        pairs = closed_model_pairs(ids, [], 1)
        return score_pairs(pairs.contexts, pairs.tokens, spec, key).p_value

    out = {"sizes": {"prompts": N, "new_tokens": T, "epochs": args.epochs, "student": "2x64 Llama, SmolLM2 tokenizer, tied embeddings"},
           "watermark": spec.to_dict(),
           "text_p": {"watermarked": text_p(wm), "paraphrased": text_p(para), "unwatermarked": text_p(un)},
           "quality_cost_nll": _teacher_nll(teacher, wm) - _teacher_nll(teacher, un), "students": {}}
    log(f"harvest text itself: {out['text_p']}")
    probe = [p.prompt for p in generate_prompts(N, seed=555)]
    tcfg = TrainConfig(epochs=args.epochs, batch_size=8, lr=3e-3, warmup_steps=3, eval_fraction=0.1)
    for name, recs in (("watermarked", wm), ("paraphrased", para), ("control", un)):
        log(f"train student on {name} answers")
        st = build_student(StudentConfig(tokenizer="smollm2", n_layers=2, hidden=64, n_heads=4, intermediate=256, tie_embeddings=True),
                           tokenizer=teacher.tokenizer)
        s = train(recs, st, work / name, tcfg)
        g = st.generate(probe, max_new_tokens=T, seed=5, batch_size=N)
        texts = [ScoringText(np.asarray(list(x.prompt_ids) + list(x.completion_ids)), len(x.prompt_ids)) for x in g]
        op = open_model_pairs(st.next_token_argmax([t.ids.tolist() for t in texts]), texts, 1)
        cp = closed_model_pairs([np.asarray(x.completion_ids) for x in g], [np.asarray(x.prompt_ids) for x in g], 1)
        ro = score_pairs(op.contexts, op.tokens, spec, key, exclude_windows=op.exclude)
        rc = score_pairs(cp.contexts, cp.tokens, spec, key, exclude_windows=cp.exclude)
        out["students"][name] = {"eval_loss": s.eval_loss, "open_p": ro.p_value, "open_n": ro.n_scored, "closed_p": rc.p_value,
                                 "closed_n": rc.n_scored}
        log(f"  {name}: open p={ro.p_value:.3g} (n={ro.n_scored})  closed p={rc.p_value:.3g} (n={rc.n_scored})")
    out["seconds"] = time.perf_counter() - t_all
    out["date"] = dt.date.today().isoformat()
    print(json.dumps(out), flush=True)  # raw figures on stdout
    lines = ["<!-- paraphrase:begin -->", "### SmolLM2 teacher and the paraphrasing limitation (`benchmarks/trace_paraphrase.py`)", "",
             f"Command: `.venv/bin/python benchmarks/trace_paraphrase.py {' '.join(sys.argv[1:])}`".rstrip() + "  ",
             f"Machine: 2 vCPU cloud VM, shared (heavily loaded). Date: {out['date']}. Wall time {out['seconds']:.0f} s.", "",
             f"Sizes: {N} prompts, answers of up to {T} tokens, student {out['sizes']['student']}, {args.epochs} epochs. Watermark: provider "
             f"KGW h=1, gamma=0.25, delta=3 (account h=1, delta=1.5). Quality cost (teacher NLL, watermarked minus unwatermarked answers): "
             f"{out['quality_cost_nll']:+.3f} nats/token.", "",
             f"Harvest text itself (provider layer, pooled): watermarked p={out['text_p']['watermarked']:.2g}, after paraphrase "
             f"p={out['text_p']['paraphrased']:.2g}, unwatermarked p={out['text_p']['unwatermarked']:.2g}.", "",
             "| student trained on | open p | n | closed p | n |", "|---|---|---|---|---|"]
    for k, v in out["students"].items():
        lines.append(f"| {k} | {v['open_p']:.2g} | {v['open_n']} | {v['closed_p']:.2g} | {v['closed_n']} |")
    lines += ["<!-- paraphrase:end -->", ""]
    _replace_section("paraphrase", "\n".join(lines))
    shutil.rmtree(work, ignore_errors=True)
    log("done")


if __name__ == "__main__":
    main()
