"""The trace step of `stillwatch demo`: a campaign of several accounts harvests the teacher, a small
student is trained on the harvest, and radioactivity is tested on that student and on a control
student trained the same way on unwatermarked answers to the same prompts.

Sizes are chosen to finish in a few minutes on 2 CPU cores: 48 prompts, 4 accounts, 96-token answers,
a 2-layer Llama student (hidden 64) over the teacher's 49,152-token vocabulary. At this scale the
provider layer uses context width h = 1 and delta = 3 so that a few thousand harvested tokens are
enough (the benchmarks in benchmarks/results/trace.md vary these settings).
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

N_PROMPTS = 48
N_ACCOUNTS = 4
MAX_NEW_TOKENS = 96


def demo_mark_config(tokenizer_id: str | None) -> Any:
    """The watermark settings of the demo deployment (h = 1, delta = 3 provider layer; h = 1 account layer)."""
    from stillwatch.mark import MarkConfig
    from stillwatch.mark.config import LayerParams

    return MarkConfig(provider=LayerParams(context_width=1, delta=3.0), account=LayerParams(context_width=1, delta=1.5),
                      tokenizer_id=tokenizer_id)


def demo_step(workdir: Path, master_key_path: Path, *, teacher_name: str = "smollm2", n_prompts: int = N_PROMPTS,
              max_new_tokens: int = MAX_NEW_TOKENS, epochs: int = 4, progress: Any | None = None) -> dict:
    """Run the campaign -> student -> radioactivity story; return a JSON-safe summary."""
    from stillwatch.distill.harvest import HarvestConfig, harvest
    from stillwatch.distill.prompts import generate_prompts
    from stillwatch.distill.student import PRESETS, StudentConfig, build_student
    from stillwatch.distill.train import TrainConfig, train
    from stillwatch.distill.transcripts import read_transcripts
    from stillwatch.mark import MasterKey
    from stillwatch.models import load_backend
    from stillwatch.trace.api import run_radioactivity
    from stillwatch.trace.radioactivity import RadioactivityConfig

    def say(msg: str) -> None:
        if progress is not None:
            progress(msg)
        log.info(msg)

    t_start = time.perf_counter()
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    master = MasterKey.load(master_key_path)
    teacher = load_backend(teacher_name)
    mc = demo_mark_config(teacher.tokenizer_id)
    prompts = generate_prompts(n_prompts, seed=2026)
    hc = HarvestConfig(accounts=N_ACCOUNTS, account_prefix="campaign", max_new_tokens=max_new_tokens,
                       batch_size=n_prompts, seed=1)
    timings: dict[str, float] = {}

    t0 = time.perf_counter()
    say(f"harvest: {n_prompts} prompts through {N_ACCOUNTS} accounts (watermarked) …")
    harvest(teacher, prompts, workdir / "harvest.jsonl", hc, master=master, mark_config=mc)
    say("harvest: the same prompts without watermark (control) …")
    harvest(teacher, prompts, workdir / "control.jsonl", replace(hc, watermark=False))
    timings["harvest_s"] = time.perf_counter() - t0

    wm, ctl = read_transcripts(workdir / "harvest.jsonl"), read_transcripts(workdir / "control.jsonl")
    preset = {k: v for k, v in PRESETS["small-smollm2"].items() if k != "tokenizer"}
    scfg = StudentConfig(tokenizer=teacher_name, seed=0, **preset)
    tcfg = TrainConfig(epochs=epochs, batch_size=8, lr=3e-3, warmup_steps=5, max_len=256, eval_fraction=0.1)
    students: dict[str, Any] = {}
    train_summaries: dict[str, dict] = {}
    t0 = time.perf_counter()
    for name, recs in (("student", wm), ("control", ctl)):
        say(f"train: {name} on {len(recs)} {'watermarked' if name == 'student' else 'unwatermarked'} answers …")
        st = build_student(scfg, tokenizer=teacher.tokenizer)
        s = train(recs, st, workdir / name, tcfg)
        students[name] = st
        train_summaries[name] = {"steps": s.steps, "train_tokens": s.train_tokens, "eval_loss_before": s.eval_loss_before,
                                 "eval_loss": s.eval_loss}
    timings["train_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    results: dict[str, dict] = {}
    for name, st in students.items():
        for setting in ("open", "closed"):
            say(f"trace: {setting}-model radioactivity of the {name} …")
            r = run_radioactivity(st, master, transcripts=wm,
                                  config=RadioactivityConfig(setting=setting, max_texts=n_prompts, max_new_tokens=max_new_tokens,
                                                             batch_size=n_prompts))
            results[f"{name}/{setting}"] = {
                "p_value": r.p_value, "n_scored": r.n_scored, "n_green": r.n_green, "setting": r.setting,
                "best_account": r.best_account, "best_account_corrected_p_value": r.best_account_corrected_p_value,
                "accounts": [{"account": a["account"], "p_value": a["p_value"], "corrected_p_value": a["corrected_p_value"]}
                             for a in r.accounts],
            }
    timings["trace_s"] = time.perf_counter() - t0
    alpha = 1e-3
    rows = [
        {"model": name.split("/")[0], "setting": r["setting"], "n_scored": r["n_scored"], "p_value": r["p_value"],
         "verdict": "radioactive" if r["p_value"] <= alpha else "no evidence", "best_account": r["best_account"],
         "best_account_corrected_p_value": r["best_account_corrected_p_value"]}
        for name, r in results.items()
    ]
    timings["total_s"] = time.perf_counter() - t_start
    return {
        "teacher": teacher.name,
        "watermark": {"provider": mc.provider_spec().to_dict(), "account": mc.account_spec("campaign-000").to_dict()},
        "campaign": {"accounts": hc.account_ids(), "prompts": n_prompts, "answers": len(wm),
                     "harvested_tokens": int(sum(len(r.answer_ids) for r in wm))},
        "student": {**scfg.to_dict(), "vocab_size": students["student"].vocab_size},
        "training": train_summaries,
        "radioactivity": results,
        "results": rows,
        "alpha": alpha,
        "timings": timings,
    }
