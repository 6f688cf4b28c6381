"""Radioactivity against the number of re-answers: how many of the suspect's own answers does p <= 1e-6 need?

The open-model test with ``--scoring suspect`` (the CLI's default) feeds the suspect its own sampled answers,
teacher-forced, and scores the (context, top-1 prediction) tuples where it departs from the base model's top-1
(differential test), de-duplicated, prompt windows excluded. Its power grows with the number of distinct tuples,
and re-answers are cheap (the 135M student generates). This script fine-tunes the same two SmolLM2 students as
``radioactivity_schemes.py`` (rho = 100 %: the frontier's 48 default-watermarked answers; control: the 48
unwatermarked answers to the same prompts; last 2 blocks, lr 1e-3, 3 epochs, warmup 2), lets each answer two
prompt sets, and scores nested prefixes of each set (48, 96, 144, ... re-answers):

* **fresh** — prompts from the built-in generator (``distill.prompts.generate_prompts``, seed ``FRESH_SEED``), minus
  any prompt of the harvest: the suspect never saw them in training, so a tuple can be evidence only through what
  the fine-tune changed in the model's predictions, not through a memorised answer.
* **harvest** — the 48 harvested prompts, each answered K times (sampling seeds 3, 4, ...): the topics the student
  was trained on (stronger lift, fewer new tuples per answer; a memorised answer repeated K times counts once,
  because tuples are de-duplicated).

Per prefix: the provider layer's p-value (weighted score, the default) with the right key, with 20 wrong master
keys (their median, minimum and a KS test against U(0, 1)), the control student's p-value on its own re-answers
of the same prompts, and the p-value with every (h+1)-window of the harvested answers also excluded ("no harvest
windows": evidence that does not come from tuples the training text holds; conservative, since those excluded
windows are key-dependent).

Why the null holds with either prompt set (H0: the suspect never trained on text watermarked with the key): the
prompts (the attacker's harvested prompts, or the generator's), the suspect, the base model and the sampling seeds
are all independent of the key, so the suspect's text and its predictions are too, and each distinct tuple's
g-values are fair coins (stillwatch.trace.radioactivity). De-duplication makes a tuple repeated in several
re-answers count once; prompt windows are excluded as in the CLI.

Run:  nice -n 10 env PYTHONPATH=src .venv/bin/python benchmarks/trace/radioactivity_reanswers.py
Writes the section "Radioactivity vs re-answers" of benchmarks/results/mark.md (after every stage: a run cut
short leaves the stages it finished). Re-answers, predictions and the two students are cached under
benchmarks/out/mark_data/radioactivity_reanswers/ (a rerun only scores).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "mark"))
import _data as data  # noqa: E402
from mark._frontier_settings import ACCOUNT, NEW_TOKENS, PROMPT_SEED, TEMPERATURE, _slug, cache_id  # noqa: E402

FRESH_SEED = 7919
REANSWER_TOKENS = 128  # the CLI's --reanswer-tokens default
REANSWER_TEMPERATURE = 1.0  # the CLI's --reanswer-temperature default
BATCH = 48
WORK = data.OUT / "radioactivity_reanswers"


def _records(rows: list[dict], tok_id: str, watermark: str) -> list:
    from stillwatch.records import Transcript

    return [Transcript(prompt_id=f"p{i}", prompt=r["prompt"], text="", account=ACCOUNT, watermark=watermark, tokenizer_id=tok_id,
                       prompt_ids=tuple(r["prompt_ids"]), completion_ids=tuple(r["ids"])) for i, r in enumerate(rows)]


class Study:
    """The students, their re-answer sets (cached on disk) and the scoring."""

    def __init__(self, args, log) -> None:
        from stillwatch.distill.prompts import generate_prompts
        from stillwatch.mark import MarkConfig, Marker, MasterKey
        from stillwatch.models import load_backend

        self.args, self.log = args, log
        self.mk = data.master_key()
        self.cfg = MarkConfig.default()
        prompts = [p.prompt for p in generate_prompts(48, seed=PROMPT_SEED)]
        gen = dict(max_new_tokens=NEW_TOKENS, seed=17, temperature=TEMPERATURE, batch_size=32)
        self.plain = data.generate_cached("fr-plain", prompts, None, watermark=False, **gen)
        vocab = data.backend().vocab_size
        # the frontier's generation path (a Marker processor per batch), so the cache names the same answers
        self.marked = data.generate_cached(_slug("tournament h2 16+16 interleaved, 128 candidates (default)"), prompts, ACCOUNT,
                                           cache_id(self.cfg), **gen,
                                           processor_factory=lambda: Marker(self.mk, ACCOUNT, self.cfg, vocab_size=vocab).hf_processor())
        self.harvest_prompts = prompts
        seen = set(prompts)
        fresh = [p.prompt for p in generate_prompts(2 * args.fresh + 64, seed=FRESH_SEED)]
        self.fresh_prompts = list(dict.fromkeys(p for p in fresh if p not in seen))[: args.fresh]
        self.base = load_backend("smollm2", dtype="float32")  # the students' dtype
        rng = np.random.default_rng(12345)
        self.wrong = [MasterKey(rng.bytes(32)) for _ in range(args.wrong_keys)]
        self.accounts = [ACCOUNT] + [f"acct-{i:05d}" for i in range(99)]
        h = self.cfg.provider_spec().context_width
        win = [np.lib.stride_tricks.sliding_window_view(np.asarray(r["ids"], dtype=np.int64), h + 1)
               for r in self.marked if len(r["ids"]) > h]
        self.harvest_windows = np.concatenate(win)
        self._students: dict = {}
        WORK.mkdir(parents=True, exist_ok=True)

    # -------------------------------------------------------------------------------------- students
    def student(self, tag: str):
        """The fine-tuned student ``tag`` ('suspect': rho = 100 %, 'control': rho = 0), trained once and kept on disk."""
        from stillwatch.distill.student import load_pretrained_student
        from stillwatch.distill.train import TrainConfig, train

        if tag in self._students:
            return self._students[tag]
        out = WORK / f"student-{tag}"
        if (out / "config.json").exists():
            st = load_pretrained_student(str(out))
        else:
            rows, mark = (self.marked, "local") if tag == "suspect" else (self.plain, "none")
            self.log(f"training the {tag} student on {len(rows)} answers")
            st = load_pretrained_student("smollm2")
            tcfg = TrainConfig(epochs=3, batch_size=8, lr=1e-3, warmup_steps=2, max_len=320, eval_fraction=0.05, train_layers=2,
                               checkpoint_every=10**6)
            train(_records(rows, self.base.tokenizer_id, mark), st, out, tcfg, resume=False)
        self._students = {tag: st}  # one student in memory at a time
        return st

    # -------------------------------------------------------------------------------------- re-answers
    def reanswers(self, tag: str, kind: str, n: int) -> dict:
        """``n`` re-answers of student ``tag`` to the ``kind`` prompt set (generated in chunks of BATCH, each chunk
        cached with the suspect's and the base's teacher-forced top-1 predictions)."""
        texts, preds, base = [], [], []
        for c in range(-(-n // BATCH)):
            path = WORK / f"{tag}-{kind}-{c}.json"
            if not path.exists():
                if kind == "fresh":
                    chunk, seed = self.fresh_prompts[c * BATCH:(c + 1) * BATCH], 3 + c
                else:  # round c over the harvested prompts
                    chunk, seed = self.harvest_prompts, 3 + c
                t0 = time.process_time()
                st = self.student(tag)
                gens = st.generate(chunk, max_new_tokens=REANSWER_TOKENS, temperature=REANSWER_TEMPERATURE, seed=seed, batch_size=BATCH)
                seqs = [list(g.prompt_ids) + list(g.completion_ids) for g in gens if g.completion_ids]
                froms = [len(g.prompt_ids) for g in gens if g.completion_ids]
                p_st = st.next_token_argmax(seqs, batch_size=16)
                p_base = self.base.next_token_argmax(seqs, batch_size=16)
                path.write_text(json.dumps({"seqs": seqs, "from": froms, "pred": [p.tolist() for p in p_st],
                                            "base": [p.tolist() for p in p_base], "cpu_s": time.process_time() - t0}))
                self.log(f"  {tag}/{kind} chunk {c + 1}: {sum(len(s) - f for s, f in zip(seqs, froms))} answer tokens, "
                         f"{time.process_time() - t0:.0f} CPU-s")
            d = json.loads(path.read_text())
            texts += list(zip(d["seqs"], d["from"]))
            preds += d["pred"]
            base += d["base"]
        return {"texts": texts[:n], "pred": preds[:n], "base": base[:n]}

    def cpu_per_reanswer(self) -> tuple[float, float, float]:
        """CPU seconds per re-answer (generation and both teacher-forced passes): median, min and max over the chunks."""
        chunks = [json.loads(p.read_text()) for p in WORK.glob("*-*-*.json")]
        per = np.array([d["cpu_s"] / max(1, len(d["seqs"])) for d in chunks])
        return float(np.median(per)), float(per.min()), float(per.max())

    # -------------------------------------------------------------------------------------- scoring
    def pairs(self, ra: dict, n: int, *, no_harvest: bool = False):
        from stillwatch.trace.radioactivity import Pairs, ScoringText, open_model_pairs

        texts = [ScoringText(np.asarray(s, dtype=np.int64), f) for s, f in ra["texts"][:n]]
        h = self.cfg.provider_spec().context_width
        p = open_model_pairs([np.asarray(x) for x in ra["pred"][:n]], texts, h, exclude_answers=False,
                             base_predictions=[np.asarray(x) for x in ra["base"][:n]])
        if no_harvest:
            p = Pairs(p.contexts, p.tokens, np.ascontiguousarray(np.concatenate([p.exclude, self.harvest_windows])), p.n_texts)
        return p

    def p_value(self, pairs, master) -> tuple[float, int]:
        from stillwatch.trace.radioactivity import score

        res, _ = score(pairs, self.cfg.provider_spec(), master.provider_key(), curve_points=0)
        return float(res.p_value), int(res.n_scored)

    def p_combined(self, pairs, master) -> float:
        """The provider layer and the harvest account's layer (ACCOUNT, the account the harvest went through) of
        ``master`` in one exact test (trace radioactivity --harvest-account)."""
        from stillwatch.trace.radioactivity import combined_test

        return float(combined_test(lambda h: pairs, self.cfg.provider_spec(), master.provider_key(), self.cfg.account_spec(ACCOUNT),
                                   master, [ACCOUNT])["p_value"])

    def row(self, kind: str, n: int, sus: dict, ctl: dict | None) -> list:
        from scipy.stats import kstest

        from stillwatch.trace.radioactivity import attribute

        pairs = self.pairs(sus, n)
        p, n_scored = self.p_value(pairs, self.mk)
        p_nh, n_nh = self.p_value(self.pairs(sus, n, no_harvest=True), self.mk)
        wrong = np.array([self.p_value(pairs, k)[0] for k in self.wrong])
        pc = self.p_combined(pairs, self.mk)
        wrong_c = np.array([self.p_combined(pairs, k) for k in self.wrong])
        rows, _ = attribute(pairs, self.cfg.account_spec("x"), self.mk, self.accounts)
        best = min(rows, key=lambda r: r["p_value"])
        ctl_p = ctl_c = "-"
        if ctl is not None and len(ctl["texts"]) >= n:
            ctl_pairs = self.pairs(ctl, n)
            cp, cn = self.p_value(ctl_pairs, self.mk)
            ctl_p, ctl_c = f"{cp:.3g} ({cn})", f"{self.p_combined(ctl_pairs, self.mk):.3g}"
        tokens = sum(len(s) - f for s, f in sus["texts"][:n])
        return [kind, n, tokens, n_scored, f"{p:.3g}", f"{p_nh:.3g} ({n_nh})", ctl_p,
                f"{np.median(wrong):.2f} / {wrong.min():.3g} / {kstest(wrong, 'uniform').pvalue:.2f}",
                f"{best['account']} ({best['corrected_p_value']:.2g})", f"{pc:.3g}", ctl_c,
                f"{np.median(wrong_c):.2f} / {wrong_c.min():.3g} / {kstest(wrong_c, 'uniform').pvalue:.2f}"]


HEADERS = ["prompt set", "re-answers", "answer tokens", "distinct tuples scored", "p (right key)",
           "p, harvest windows excluded (tuples)", "control student p (tuples)",
           "wrong keys: median / min / KS p", "best of 100 accounts (Šidák p)",
           f"combined p: provider + {ACCOUNT}'s layer", "control combined p", "wrong keys combined: median / min / KS p"]


def write(study: Study, rows: list[list], t_all: float) -> None:
    a = study.args
    body = data.header("benchmarks/trace/radioactivity_reanswers.py " + " ".join(sys.argv[1:])) + (
        f"- students: SmolLM2 float32 fine-tuned (last 2 blocks, lr 1e-3, 3 epochs, warmup 2) on the frontier's 48 answers "
        f"(T {TEMPERATURE}, <= {NEW_TOKENS} tokens): 'suspect' = all 48 watermarked with MarkConfig.default() (rho = 100 %), "
        f"'control' = the 48 unwatermarked answers to the same prompts.\n"
        f"- re-answers: each student's own answers (<= {REANSWER_TOKENS} tokens, T {REANSWER_TEMPERATURE}: the CLI's "
        f"--reanswer-tokens / --reanswer-temperature defaults) to 'fresh' prompts (generate_prompts seed {FRESH_SEED}, the "
        f"harvested prompts removed) or to the 48 'harvest' prompts answered K times (K = re-answers / 48, seeds 3, 4, ...); "
        f"nested prefixes of one set per row. Scoring: open-model differential test against the float32 base (provider layer, "
        f"weighted score, the default), prompt windows excluded, tuples de-duplicated. 'harvest windows excluded': every 3-window "
        f"of the 48 harvested answers excluded too (conservative). Wrong keys: {a.wrong_keys} fixed random master keys on the "
        f"suspect's tuples (KS test against U(0, 1)). Control: the control student on its own re-answers to the same prompts. "
        f"Combined: the provider layer and the harvest account {ACCOUNT}'s layer (the account the harvest went through, "
        f"its key derived from the master key) in one exact test over the same tuples (`trace radioactivity --harvest-account`; "
        f"H0: the suspect is independent of both keys, so 32 fair coins per distinct tuple, weighted); wrong master keys "
        f"use their own provider and {ACCOUNT} keys.\n"
        "- cost: {:.2f} CPU-s per re-answer, median over the chunks of 48 (range {:.2f}-{:.2f}, with the machine's load): generation "
        "+ two teacher-forced passes, suspect and base, one torch thread; ".format(*study.cpu_per_reanswer())
        + f"total runtime of this invocation {time.perf_counter() - t_all:.0f}s (re-answers cached across invocations)\n\n" + data.md_table(HEADERS, rows) + "\n")
    data.write_section("Radioactivity vs re-answers", body)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fresh", type=int, default=192, help="fresh re-answers of the suspect (a multiple of 48)")
    ap.add_argument("--harvest-rounds", type=int, default=8, help="rounds over the 48 harvested prompts (suspect)")
    ap.add_argument("--control-fresh", type=int, default=0)
    ap.add_argument("--control-rounds", type=int, default=4)
    ap.add_argument("--wrong-keys", type=int, default=20)
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    t_all = time.perf_counter()
    log = lambda m: print(f"[{time.perf_counter() - t_all:7.1f}s] {m}", file=sys.stderr, flush=True)  # noqa: E731
    study = Study(args, log)
    sizes = lambda n: sorted(set(range(BATCH, n + 1, BATCH)) | {n})  # noqa: E731  (every chunk: the p-value is not monotone)
    stages = [("suspect", "fresh", args.fresh), ("suspect", "harvest", 48 * args.harvest_rounds),
              ("control", "harvest", 48 * args.control_rounds), ("control", "fresh", args.control_fresh)]
    have: dict = {}
    rows: list[list] = []
    for tag, kind, n in [st for st in stages if st[2] > 0]:
        log(f"stage {tag}/{kind}: {n} re-answers")
        have[(tag, kind)] = study.reanswers(tag, kind, n)
        rows = [study.row(k, m, have[("suspect", k)], have.get(("control", k)))
                for k in ("fresh", "harvest") if ("suspect", k) in have for m in sizes(len(have[("suspect", k)]["texts"]))]
        data.print_table(HEADERS, rows)
        write(study, rows, t_all)


if __name__ == "__main__":
    main()
