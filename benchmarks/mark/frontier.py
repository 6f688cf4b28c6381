"""The quality / power frontier of the watermark designs on SmolLM2, on held-out prompts.

For each setting (today's KGW designs, Gumbel, the tournament scheme at a few depths and context
widths) SmolLM2 answers the same held-out prompts with the same sampling seeds as the unwatermarked
baseline, and we measure, per layer (provider, account):

* quality: ΔNLL = SmolLM2's teacher-forced NLL per token of the watermarked answer minus that of the
  unwatermarked answer to the same prompt (paired; mean and 95% t-interval over prompts);
* power: median tokens to exact p <= 1e-6; TPR at FPR 1e-3 (the exact test at alpha = 1e-3) on the
  first 50/100/150/200 tokens; on whole answers after 10/20/30% random token substitution and after a
  paraphrase by SmolLM2 itself (unwatermarked, same temperature);
* attribution: the right account named among 100 and 10,000 candidates (Šidák-corrected p < 1e-3)
  on the first 150 and 200 tokens, and the wrong-account rate (a wrong account named at that level);
* the baseline: transformers' ``SynthIDTextWatermarkLogitsProcessor`` (one key, no account layer),
  scored with its own g-value function and repetition mask and the paper's mean score (exact
  binomial tail; its Bayesian detector needs a trained model, which we do not have).

Held-out prompts: ``stillwatch.distill.prompts.generate_prompts`` with seed 424242 (never used while
developing the scheme, which was developed on a synthetic bigram model). Generated answers are cached
in benchmarks/out/mark_data/, so a rerun only recomputes the statistics.

Run:  nice -n 10 .venv/bin/python benchmarks/mark/frontier.py [--prompts 64] [--settings a,b] [--quick]
Writes the section "Frontier" of benchmarks/results/mark.md and benchmarks/results/mark_frontier.png.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats as sstats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _data as data  # noqa: E402
from mark._frontier_settings import (ACCOUNT, NEW_TOKENS, PROMPT_SEED, TEMPERATURE, SynthIDBaseline,  # noqa: E402
                                     _slug, cache_id, settings)
from mark._frontier_measure import ALPHA, Layer, measure_attribution, measure_layer  # noqa: E402
from _power import median_with_censoring  # noqa: E402

from stillwatch.distill.prompts import generate_prompts  # noqa: E402
from stillwatch.mark import Marker  # noqa: E402

N_PARAPHRASE = 16


def nll_and_excess(rows: list[dict], batch: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Per answer: SmolLM2's mean NLL per token (temperature 1, as mark_layers), and the mean *excess
    surprisal* -log p_T(x_t) - H(p_T(. | x_<t)) under the sampling distribution p_T (temperature T).

    Under an undistorted sampler E[-log p_T(x_t) | x_<t] = H(p_T), so the excess surprisal has mean 0
    at every position: it measures the distortion with the prompt-to-prompt variation of entropy
    removed (a far tighter interval than the paired ΔNLL at the same size)."""
    be = data.backend()
    nll, exc = np.full(len(rows), np.nan), np.full(len(rows), np.nan)
    for s in range(0, len(rows), batch):
        chunk = rows[s : s + batch]
        logits = be.next_token_logits([r["prompt_ids"] + r["ids"] for r in chunk], batch_size=batch)
        for j, (r, lg) in enumerate(zip(chunk, logits)):
            P, C = len(r["prompt_ids"]), len(r["ids"])
            if C == 0:
                continue
            lg = lg[P - 1 : P + C - 1].astype(np.float64)  # [C, V] rows predicting the answer's tokens
            idx = np.arange(C), np.asarray(r["ids"])
            lp1 = lg - (lg.max(1, keepdims=True) + np.log(np.exp(lg - lg.max(1, keepdims=True)).sum(1, keepdims=True)))
            lt = lg / TEMPERATURE
            lpt = lt - (lt.max(1, keepdims=True) + np.log(np.exp(lt - lt.max(1, keepdims=True)).sum(1, keepdims=True)))
            ent = -(np.exp(lpt) * lpt).sum(1)  # [C]
            nll[s + j] = float(-lp1[idx].mean())
            exc[s + j] = float((-lpt[idx] - ent).mean())
    return nll, exc


def paired(diff: np.ndarray) -> tuple[float, float, float]:
    """Mean of paired differences and its 95% t-interval (nan entries dropped)."""
    d = diff[~np.isnan(diff)]
    m = float(d.mean())
    half = float(sstats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d)))
    return m, m - half, m + half


def paraphrase_rows(name: str, rows: list[dict]) -> list[dict]:
    """SmolLM2's own unwatermarked paraphrases of the first N_PARAPHRASE answers with >= 100 tokens."""
    be = data.backend()
    src = [x for x in rows if len(x["ids"]) >= 100][:N_PARAPHRASE]
    prompts = ["Rewrite the following text in your own words, keeping its meaning:\n\n" + be.decode(x["ids"]) for x in src]
    return data.generate_cached("para-" + _slug(name), prompts, None, watermark=False, max_new_tokens=NEW_TOKENS, seed=11,
                                temperature=TEMPERATURE)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--settings", default="", help="comma-separated substrings of setting names (default: all)")
    ap.add_argument("--no-paraphrase", action="store_true", help="skip the paraphrase attack (column '-')")
    ap.add_argument("--quick", action="store_true", help="8 prompts, 48 tokens, two settings")
    args = ap.parse_args()
    t_start = time.perf_counter()
    global NEW_TOKENS
    n = 8 if args.quick else args.prompts
    if args.quick:
        NEW_TOKENS = 48
    prompts = [p.prompt for p in generate_prompts(n, seed=PROMPT_SEED)]
    mk = data.master_key()
    be = data.backend()
    sel = settings()
    if args.settings:
        sel = {k: v for k, v in sel.items() if any(s.strip() in k for s in args.settings.split(","))}
    if args.quick and not args.settings:
        sel = {k: v for k, v in list(sel.items()) if "(default)" in k or "old default" in k}
    gen = dict(max_new_tokens=NEW_TOKENS, seed=17, temperature=TEMPERATURE, batch_size=32)
    plain = data.generate_cached("fr-plain", prompts, None, watermark=False, **gen)
    nll_plain, exc_plain = nll_and_excess(plain)
    rng = np.random.default_rng(5)
    results = {}
    for name, cfg in sel.items():
        t0 = time.perf_counter()
        if isinstance(cfg, SynthIDBaseline):
            rows = data.generate_cached(_slug(name), prompts, ACCOUNT, cfg.cache_id(), processor_factory=cfg.processor, **gen)
            layers = {"provider": cfg}
        else:
            rows = data.generate_cached(_slug(name), prompts, ACCOUNT, cache_id(cfg),
                                        processor_factory=lambda c=cfg: Marker(mk, ACCOUNT, c, vocab_size=be.vocab_size).hf_processor(), **gen)
            layers = {"provider": Layer(cfg.provider_spec(), mk.provider_key(), cfg.provider.context_width)}
            if cfg.account is not None:
                layers["account"] = Layer(cfg.account_spec(ACCOUNT), mk.account_key(ACCOUNT), cfg.account.context_width)
        paras = [] if args.no_paraphrase else paraphrase_rows(name, rows)
        nll, exc = nll_and_excess(rows)
        r = {"dnll": paired(nll - nll_plain), "excess": paired(exc), "len": float(np.mean([len(x["ids"]) for x in rows])),
             "n": len(rows), "n_para": len(paras)}
        for lname, layer in layers.items():
            r[lname] = measure_layer(layer, rows, paras, be.vocab_size, rng)
            r[lname]["fpr_plain"] = float(np.mean([layer.pvalue(x["prompt_ids"], np.asarray(x["ids"])) <= ALPHA
                                                   for x in plain if len(x["ids"]) > 10]))
        if "account" in layers:
            r["attr"] = measure_attribution(cfg, rows, plain, mk)
        results[name] = r
        print(f"  {name}: ΔNLL {r['dnll'][0]:+.3f} [{r['dnll'][1]:+.3f}, {r['dnll'][2]:+.3f}], provider TPR@150 "
              f"{r['provider']['tpr'][150][0]:.2f}, median need {median_with_censoring(r['provider']['need'])} "
              f"({time.perf_counter() - t0:.0f}s)", file=sys.stderr, flush=True)
    from mark._frontier_report import write_report

    write_report(results, (nll_plain, paired(exc_plain)), plain, n, NEW_TOKENS, TEMPERATURE, time.perf_counter() - t_start, args.quick)
    (data.OUT / ("frontier" + ("-quick" if args.quick else "") + ".json")).write_text(json.dumps(
        {k: _summary(v) for k, v in results.items()}, indent=1))


def _summary(r: dict) -> dict:
    """JSON-safe figures of one setting (benchmarks/out/mark_data/frontier.json, for the notes)."""
    out = {"dnll": r["dnll"], "excess": r["excess"], "n": r["n"]}
    for lname in ("provider", "account"):
        if lname in r:
            L = r[lname]
            out[lname] = {"tpr": {str(k): v for k, v in L["tpr"].items()}, "sub": {str(k): v for k, v in L["sub"].items()},
                          "strict": {f"{k[0]}@{k[1]:g}": v for k, v in L["strict"].items()},
                          "median_need": median_with_censoring(L["need"]), "fpr_plain": L["fpr_plain"]}
    if "attr" in r:
        out["attr"] = {f"{k[0]}/{k[1]}": v for k, v in r["attr"].items()}
    return out


if __name__ == "__main__":
    main()
