"""Sequence-level vs token-level distillation on the tiny teacher: held-out loss after the same number
of steps, and the cost per step relative to sequence-level KD (the baseline), in one run.

    .venv/bin/python benchmarks/distill/distill_losses.py [--records 120] [--epochs 2]

Writes stdout and benchmarks/results/distill.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/, for _lib
import _lib  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=120)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--tokens", type=int, default=64)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    from stillwatch.distill.harvest import HarvestConfig, harvest
    from stillwatch.distill.prompts import generate_prompts
    from stillwatch.distill.student import StudentConfig, build_student
    from stillwatch.distill.train import TrainConfig, train
    from stillwatch.records import Transcript, read_transcripts

    work = Path(tempfile.mkdtemp(prefix="sw-distill-bench-"))
    # A teacher worth distilling: a tiny Llama first trained on templated English (the built-in prompts as
    # answers), so its next-token distribution is peaked (a random model's is near-uniform: nothing to learn).
    corpus = [Transcript(prompt_id=p.id, prompt="Say something.", text=p.prompt, account="corpus")
              for p in generate_prompts(400, seed=99)]
    teacher = build_student(StudentConfig(seed=7, hidden=96, intermediate=256))
    train(corpus, teacher, work / "teacher", TrainConfig(epochs=3, batch_size=16, lr=3e-3, warmup_steps=5))
    teacher.model.eval()
    harvest(teacher, generate_prompts(args.records, seed=3), work / "t.jsonl",
            HarvestConfig(accounts=1, max_new_tokens=args.tokens, batch_size=60, watermark=False))
    recs = read_transcripts(work / "t.jsonl")
    base = TrainConfig(epochs=args.epochs, batch_size=16, lr=3e-3, warmup_steps=3, eval_fraction=0.1)
    rows = []
    for loss in ("seq", "fkl", "jsd"):
        st = build_student(StudentConfig(seed=0))
        t0 = time.perf_counter()
        s = train(recs, st, work / loss, replace(base, loss=loss), teacher=teacher if loss != "seq" else None)
        sec = time.perf_counter() - t0
        rows.append({"loss": loss, "steps": s.steps, "eval_before": s.eval_loss_before, "eval_after": s.eval_loss,
                     "sec_per_step": sec / max(1, s.steps)})
        print(rows[-1], flush=True)
    seq = rows[0]["sec_per_step"]
    lines = ["## distill — sequence-level vs token-level KD (`benchmarks/distill/distill_losses.py`)", "",
             f"Command: `.venv/bin/python benchmarks/distill/distill_losses.py {' '.join(sys.argv[1:])}`".rstrip() + "  ",
             f"Machine: {_lib.describe_machine(threads=1)}. Date: {dt.date.today().isoformat()}.", "",
             f"Teacher: a 2x96 byte-level Llama pre-trained here on 400 templated English prompts (3 epochs); student: a 2x64 byte-level Llama, fresh init; {len(recs)} answers of up to "
             f"{args.tokens} tokens, {args.epochs} epochs, batch 16. Held-out loss = cross-entropy of held-out teacher answers "
             "(nats/token). Baseline: sequence-level KD (seq); cost ratio = seconds per step / seq's, same run.", "",
             "| loss | steps | held-out before | held-out after | cost per step vs seq |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['loss']} | {r['steps']} | {r['eval_before']:.3f} | {r['eval_after']:.3f} | {r['sec_per_step'] / seq:.2f}x |")
    _lib.write_file("distill.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
