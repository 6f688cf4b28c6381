"""Count score vs round-weighted score on the frontier's cached answers (no generation).

The frontier (``frontier.py``) generated SmolLM2's answers to 48 held-out prompts under each tournament
setting; the detection statistic does not change the answers, so this script re-scores the same cached
answers with both statistics of :mod:`stillwatch.core.weighted` and shows them side by side, per layer:
median tokens to exact p <= 1e-6, TPR at FPR 1e-3 (exact test at alpha = 1e-3) on the first 50/100/150/200
tokens, the share of 200-token answers reaching p <= 1e-7, TPR after 10/20/30 % random substitution, the
FPR on the unwatermarked answers, and attribution among 100 / 10,000 accounts (Šidák-corrected p < 1e-3).

The weights are fixed a priori, not fitted on these answers: Dathathri et al. 2024's default weighted
mean score, linearly decreasing from 10 to 1 over the key's layers, rounded to integers
(``linear_weights``). Run:  nice -n 10 .venv/bin/python benchmarks/mark/weighted_score.py [--prompts 48]
Writes the section "Weighted score" of benchmarks/results/mark.md; settings whose answers are not cached are skipped.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _data as data  # noqa: E402
from mark._frontier_measure import ALPHA, LENGTHS, SUBST, Layer, measure_attribution, measure_layer  # noqa: E402
from mark._frontier_settings import ACCOUNT, NEW_TOKENS, PROMPT_SEED, TEMPERATURE, _slug, cache_id, settings, with_score  # noqa: E402
from _power import median_with_censoring  # noqa: E402

from stillwatch.distill.prompts import generate_prompts  # noqa: E402
from stillwatch.mark import MarkConfig  # noqa: E402

SMOLLM2_VOCAB = 49_152  # substitution draws uniform ids below this (SmolLM2-135M-Instruct's vocabulary)


class NotCached(Exception):
    """A setting's answers are not in benchmarks/out/mark_data (run frontier.py with the same --prompts)."""


def _refuse():
    raise NotCached


def measure(cfg: MarkConfig, rows, plain, mk) -> dict:
    out = {}
    layers = {"provider": Layer(cfg.provider_spec(), mk.provider_key(), cfg.provider.context_width)}
    if cfg.account is not None:
        layers["account"] = Layer(cfg.account_spec(ACCOUNT), mk.account_key(ACCOUNT), cfg.account.context_width)
    for lname, layer in layers.items():
        if layer.spec.scheme != "tournament":
            continue
        r = measure_layer(layer, rows, [], SMOLLM2_VOCAB, np.random.default_rng(5))  # same substitutions for both scores
        r["fpr_plain"] = float(np.mean([layer.pvalue(x["prompt_ids"], np.asarray(x["ids"])) <= ALPHA
                                        for x in plain if len(x["ids"]) > 10]))
        out[lname] = r
    if cfg.account is not None and cfg.account.scheme == "tournament":
        out["attr"] = measure_attribution(cfg, rows, plain, mk)
    return out


def _rate(x) -> str:
    return "-" if not x[1] else f"{x[0]:.2f}"


def tables(results: dict) -> tuple[str, str]:
    hl = (["setting", "layer", "score", "median tokens to p<=1e-6"] + [f"TPR@{k}" for k in LENGTHS]
          + ["p<=1e-7 @200"] + [f"TPR {int(s * 100)}% subst." for s in SUBST] + ["FPR unwatermarked", "n (@150)"])
    ha = ["setting", "score", "right @100, 150 tok", "right @100, 200 tok", "right @10k, 150 tok", "right @10k, 200 tok",
          "wrong account (max)", "false attribution (100 / 10k)"]
    rl, ra = [], []
    for name, by_score in results.items():
        for lname in ("provider", "account"):
            for score, r in by_score.items():
                if lname in r:
                    L = r[lname]
                    rl.append([name, lname, score, median_with_censoring(L["need"])] + [_rate(L["tpr"][k]) for k in LENGTHS]
                              + [_rate(L["strict"][(200, 1e-7)])] + [_rate(L["sub"][s]) for s in SUBST]
                              + [f"{L['fpr_plain']:.3f}", L["tpr"][150][1]])
        for score, r in by_score.items():
            a = r.get("attr")
            if a is not None:
                cells = [a[(N, L)] for N in (100, 10_000) for L in (150, 200)]
                ra.append([name, score] + [f"{c[0]:.2f} (n={c[2]})" for c in cells] + [f"{max(c[1] for c in cells):.3f}",
                                                                                      f"{a[(100, 'null')][0]:.3f} / {a[(10_000, 'null')][0]:.3f}"])
    return data.md_table(hl, rl), data.md_table(ha, ra)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prompts", type=int, default=48)
    ap.add_argument("--settings", default="tournament", help="comma-separated substrings of setting names")
    args = ap.parse_args()
    t0 = time.perf_counter()
    prompts = [p.prompt for p in generate_prompts(args.prompts, seed=PROMPT_SEED)]
    mk = data.master_key()
    gen = dict(max_new_tokens=NEW_TOKENS, seed=17, temperature=TEMPERATURE, batch_size=32, processor_factory=_refuse)
    plain = data.generate_cached("fr-plain", prompts, None, watermark=False, **gen)
    sel = {k: v for k, v in settings().items() if isinstance(v, MarkConfig)
           and any(s.strip() in k for s in args.settings.split(","))
           and "tournament" in (v.provider.scheme, getattr(v.account, "scheme", None))}
    results = {}
    for name, cfg in sel.items():
        try:
            rows = data.generate_cached(_slug(name), prompts, ACCOUNT, cache_id(cfg), **gen)
        except NotCached:
            print(f"  {name}: answers not cached (frontier.py generates them), skipped", file=sys.stderr, flush=True)
            continue
        results[name] = {s: measure(with_score(cfg, s), rows, plain, mk) for s in ("count", "weighted")}
        print(f"  {name}: {time.perf_counter() - t0:.0f}s", file=sys.stderr, flush=True)
    tl, ta = tables(results)
    cmd = "benchmarks/mark/weighted_score.py" + (f" --prompts {args.prompts}" if args.prompts != 48 else "")
    body = data.header(cmd) + (
        f"- the frontier's cached answers ({args.prompts} held-out prompts, SmolLM2 at temperature {TEMPERATURE}, <= "
        f"{NEW_TOKENS} tokens; see section Frontier), each re-scored with the count score (ones among the g-values, "
        f"Binomial(n depth, 1/2)) and the weighted score (sum of w_l g_l, weights rint(linspace(10, 1, depth)) fixed a "
        f"priori from Dathathri et al. 2024's default; exact null: a convolution of scaled binomials, "
        f"src/stillwatch/core/weighted.py). Same answers, same keys, same random substitutions for both scores.\n"
        f"- runtime {time.perf_counter() - t0:.0f}s\n\n### Detection per layer\n\n" + tl + "\n\n### Attribution\n\n" + ta + "\n")
    print(tl + "\n\n" + ta)
    data.write_section("Weighted score", body)


if __name__ == "__main__":
    main()
