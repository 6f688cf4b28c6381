"""Exploration (not a library test): a whole-distribution radioactivity statistic vs the top-1 differential test.

The top-1 differential test only sees positions where the student's argmax flips away from the base. This
script scores, at every answer position of the scoring texts, the student-minus-base log-probability shift
of the student's top-K tokens, summed per distinct (context, token) pair:  S = sum_(c,v) D(c,v) (G(c,v) - gamma),
G = green indicator of the provider layer. Under H0 (student and base independent of the key) the G of
distinct pairs are independent Bernoulli(gamma) given D, so E S = 0 and Var S = gamma (1 - gamma) sum D^2;
p = normal upper tail of z = S / sd (a CLT approximation, checked here by KS over random keys — not exact).

Students: SmolLM2 fine-tuned (last 2 blocks, 3 epochs) on the 128-prompt harvest of trace_smollm2.py with a
share rho of watermarked answers; scoring texts: the unwatermarked answers to the same 128 prompts.

    nice -n 5 .venv/bin/python benchmarks/trace/trace_shift.py [--rhos 0,0.1] [--top-k 64] [--keys 24] [--weight logprob|prob]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/, for _lib
import _lib  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rhos", default="0,0.1")
    ap.add_argument("--top-k", type=int, default=64)
    ap.add_argument("--keys", type=int, default=24)
    ap.add_argument("--weight", choices=("logprob", "prob"), default="logprob",
                    help="shift measured in log-probabilities, or in probabilities (the score test of a small green bias)")
    ap.add_argument("--harvest", default=str(_lib.OUT / "trace_smollm2" / "smollm2"))
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch
    from scipy import stats

    torch.set_num_threads(1)
    from stillwatch.distill.student import load_pretrained_student
    from stillwatch.distill.train import FrozenPrefix, TrainConfig, build_examples, collate, train
    from stillwatch.records import read_transcripts
    from stillwatch.mark import MasterKey, score_pairs
    from stillwatch.core import prf, schemes
    from stillwatch.models import load_backend
    from stillwatch.cli.trace_demo import demo_mark_config
    from stillwatch.trace.radioactivity import ScoringText, open_model_pairs

    t0 = time.perf_counter()
    hv = Path(args.harvest)
    master = MasterKey.load(hv / "master.key")
    teacher = load_backend("smollm2", dtype="float32")
    mc = demo_mark_config(teacher.tokenizer_id)
    spec = mc.provider_spec()
    wm = sorted(read_transcripts(hv / "wm.jsonl"), key=lambda r: r.prompt_id)
    un = sorted(read_transcripts(hv / "un.jsonl"), key=lambda r: r.prompt_id)
    N, L, K = len(un), 2, args.top_k
    ex_un = build_examples(un, teacher, 256)
    texts = [ScoringText(np.asarray(e.ids, dtype=np.int64), e.n_prompt) for e in ex_un]
    cache: dict = {}

    def logprobs(model):
        """Per text: (top-1 [T], log-probs [T_a, V] at answer-predicting positions a = n_prompt-1 .. T-2)."""
        pre = FrozenPrefix(model, L, cache)
        out = []
        with torch.no_grad():
            for s in range(0, len(ex_un), 8):
                batch = ex_un[s : s + 8]
                hid = pre.final_hidden(batch, collate(batch, 0))
                for r, e in enumerate(batch):
                    a = e.n_prompt - 1
                    lp = torch.log_softmax(model.lm_head(hid[r, a : len(e.ids) - 1]).float(), -1)  # [T_a, V]
                    top1 = np.full(len(e.ids), -1, dtype=np.int64)
                    top1[a : len(e.ids) - 1] = lp.argmax(-1).numpy()
                    out.append((top1, lp))
        return out

    base = logprobs(teacher.model)
    base_top1 = [b[0] for b in base]
    print(f"[{time.perf_counter() - t0:6.0f}s] base pass done", flush=True)
    rng_keys = [MasterKey.generate() for _ in range(args.keys)]
    tcfg = TrainConfig(epochs=3, batch_size=8, lr=1e-3, warmup_steps=2, max_len=256, eval_fraction=0.05, train_layers=L,
                       checkpoint_every=10**6)
    results = {}
    for rho in [float(x) for x in args.rhos.split(",")]:
        k = round(rho * N)
        st = load_pretrained_student("smollm2")
        train(list(wm[:k]) + list(un[k:]), st, Path("/tmp") / f"sw-shift-{rho}", tcfg, resume=False, prefix_cache=cache)
        shutil.rmtree(Path("/tmp") / f"sw-shift-{rho}", ignore_errors=True)
        sus = logprobs(st.model)
        # D(c, v): summed shift of the student's top-K tokens, per distinct (context, token)
        ctx_l, tok_l, d_l = [], [], []
        for (s1, slp), (_, blp), e in zip(sus, base, ex_un, strict=True):
            a = e.n_prompt - 1
            top = torch.topk(slp, K, dim=-1).indices  # [T_a, K]
            if args.weight == "prob":
                d = (slp.gather(1, top).exp() - blp.gather(1, top).exp()).numpy()  # [T_a, K]
            else:
                d = (slp.gather(1, top) - blp.gather(1, top)).numpy()  # [T_a, K]
            c = np.asarray(e.ids[a : len(e.ids) - 1], dtype=np.int64)  # context token at each position (h = 1)
            ctx_l.append(np.repeat(c, K))
            tok_l.append(top.numpy().reshape(-1))
            d_l.append(d.reshape(-1))
        ctx, tok, dd = np.concatenate(ctx_l), np.concatenate(tok_l), np.concatenate(d_l)
        pair = ctx * 1_000_003 + tok
        uniq, inv = np.unique(pair, return_inverse=True)
        D = np.bincount(inv, weights=dd)
        uc = ctx[np.unique(inv, return_index=True)[1]]
        ut = tok[np.unique(inv, return_index=True)[1]]

        def zp(mk) -> tuple[float, float]:
            k0, k1 = mk.provider_key().words
            g = schemes.kgw_green(k0, k1, prf.fold(uc[:, None]), ut, spec.gamma).astype(np.float64)
            sd = np.sqrt(spec.gamma * (1 - spec.gamma) * np.sum(D**2))
            z = float(np.sum(D * (g - spec.gamma)) / sd)
            return z, float(stats.norm.sf(z))

        z, p = zp(master)
        null = [zp(m)[1] for m in rng_keys]
        diff = open_model_pairs([s[0] for s in sus], texts, 1, exclude_answers=False, base_predictions=base_top1)
        d1 = score_pairs(diff.contexts, diff.tokens, spec, master.provider_key(), exclude_windows=diff.exclude)
        results[rho] = {"wm_answers": k, "pairs": int(len(uniq)), "z": z, "p_shift": p, "null_ks": float(stats.kstest(null, "uniform").pvalue),
                        "null_min_p": float(min(null)), "p_top1_diff": float(d1.p_value), "n_top1_diff": int(d1.n_scored)}
        print(f"[{time.perf_counter() - t0:6.0f}s] rho {rho:.0%}: shift z={z:.2f} p={p:.3g} over {len(uniq)} pairs (wrong keys KS "
              f"{results[rho]['null_ks']:.2f}, min p {min(null):.3g}); top-1 differential p={d1.p_value:.3g} (n {d1.n_scored})", flush=True)
        del st, sus
    out = _lib.OUT / f"trace_shift_{args.weight}.json"
    out.write_text(json.dumps({"argv": " ".join(sys.argv[1:]), "seconds": time.perf_counter() - t0, "load": os.getloadavg(),
                               "results": results}, indent=1))


if __name__ == "__main__":
    main()
