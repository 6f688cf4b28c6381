"""Tables and plot of benchmarks/mark/frontier.py (kept apart so the measuring script stays short)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _data as data  # noqa: E402
from _power import median_with_censoring  # noqa: E402

LENGTHS = (50, 100, 150, 200)
SUBST = (0.1, 0.2, 0.3)


def _rate(x: tuple[float, int]) -> str:
    return "-" if not x[1] else f"{x[0]:.2f} (n={x[1]})"


def _layer_rows(results: dict, layer: str) -> list[list]:
    out = []
    for name, r in results.items():
        if layer not in r:
            continue
        L = r[layer]
        out.append([name, median_with_censoring(L["need"])] + [_rate(L["tpr"][k]) for k in LENGTHS]
                   + [_rate(L["strict"][(150, 1e-5)]), _rate(L["strict"][(200, 1e-7)])]
                   + [_rate(L["sub"][s]) for s in SUBST] + [_rate(L["para"]), f"{L['fpr_plain']:.3f}"])
    return out


ROUNDS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)


def _round_rows(results: dict) -> list[list]:
    """Mean g-value of each tournament round over the scored tuples (1/2 under H0): where the signal is."""
    out = []
    for name, r in results.items():
        for layer in ("provider", "account"):
            g = r.get(layer, {}).get("rounds")
            if g is not None:
                out.append([f"{name}: {layer}"] + [f"{g[k - 1]:.3f}" if k <= len(g) else "" for k in ROUNDS])
    return out


def _ci(x: tuple[float, float, float]) -> str:
    return f"{x[0]:+.3f} [{x[1]:+.3f}, {x[2]:+.3f}]"


def write_report(results: dict, plain_q: tuple, plain: list, n: int, new_tokens: int, temperature: float,
                 runtime: float, quick: bool) -> None:
    nll_plain, exc_plain = plain_q
    hq = ["setting", "ΔNLL (nats/token) [95% CI]", "perplexity ratio", "excess surprisal [95% CI]", "mean answer tokens",
          "answers", "paraphrases"]
    rq = [["unwatermarked", f"0 (NLL {np.nanmean(nll_plain):.3f})", "1.00", _ci(exc_plain),
           f"{np.mean([len(x['ids']) for x in plain]):.0f}", len(plain), "-"]]
    for name, r in results.items():
        m = r["dnll"][0]
        rq.append([name, _ci(r["dnll"]), f"{np.exp(m):.3f}", _ci(r["excess"]), f"{r['len']:.0f}", r["n"], r["n_para"]])
    hp = (["setting", "median tokens to p<=1e-6"] + [f"TPR@{k}" for k in LENGTHS]
          + ["p<=1e-5 @150 (100 accounts)", "p<=1e-7 @200 (10,000 accounts)"] + [f"TPR after {int(s * 100)}% subst." for s in SUBST]
          + ["TPR after paraphrase", "FPR on unwatermarked answers"])
    ha = ["setting", "right @100 acc., 150 tok", "right @100, 200 tok", "right @10k, 150 tok", "right @10k, 200 tok",
          "wrong account (max of the four)", "false attribution on unwatermarked (100 / 10k)"]
    ra = []
    for name, r in results.items():
        a = r.get("attr")
        if a is None:
            continue
        cells = [a[(N, L)] for N in (100, 10_000) for L in (150, 200)]
        ra.append([name] + [f"{c[0]:.2f} (n={c[2]})" for c in cells] + [f"{max(c[1] for c in cells):.3f}",
                                                                       f"{a[(100, 'null')][0]:.3f} / {a[(10_000, 'null')][0]:.3f}"])
    plot = data.results_dir(quick) / "mark_frontier.png"
    _plot(results, plot)
    body = data.header("benchmarks/mark/frontier.py" + (" --quick" if quick else "")) + (
        f"- sizes: {n} held-out prompts (distill prompt generator, seed 424242), SmolLM2-135M-Instruct (bfloat16) at "
        f"temperature {temperature} (the CLI's default), at most {new_tokens} new tokens, sampling seeds shared by every "
        f"setting and the unwatermarked baseline; paraphrases: SmolLM2 itself (unwatermarked, same temperature) rewrites "
        f"the first 16 answers of >= 100 tokens.\n"
        f"- ΔNLL: paired per prompt (teacher-forced NLL per answer token of the watermarked answer minus the unwatermarked "
        f"one), mean and 95% t-interval; perplexity ratio = exp(mean ΔNLL). Excess surprisal: per answer, the mean over "
        f"its tokens of -log p_T(token) - H(p_T) under the sampling distribution p_T (temperature {temperature}); 0 in "
        f"expectation at every position for an undistorted sampler, so it shows distortion with the prompt-to-prompt "
        f"variation removed (mean and 95% t-interval over answers).\n"
        f"- power: exact test at alpha = 1e-3 (so FPR <= 1e-3 by construction; the observed FPR on the unwatermarked "
        f"answers is in the last column). TPR@L over answers with >= L tokens, on their first L tokens; substitution "
        f"and paraphrase on whole answers (>= 100 tokens; paraphrases >= 50 tokens). Windows seen in the prompt are not scored.\n"
        f"- attribution: Šidák-corrected p < 1e-3 over N candidate account keys (the true one among N-1 others); "
        f"'wrong account' = a wrong account named at that level.\n"
        f"- baseline: transformers' SynthIDTextWatermarkLogitsProcessor (ngram_len 5, 30 layers, one key: no account "
        f"layer), scored with its own g-values and repetition mask and the mean score (see benchmarks/mark/_synthid_baseline.py).\n"
        f"- total runtime {runtime:.0f}s\n\n### Quality\n\n" + data.md_table(hq, rq)
        + "\n\n### Provider layer\n\n" + data.md_table(hp, _layer_rows(results, "provider"))
        + "\n\n### Account layer\n\n" + data.md_table(hp, _layer_rows(results, "account"))
        + "\n\n### Attribution\n\n" + data.md_table(ha, ra)
        + "\n\n### Signal per tournament round\n\nMean g-value of round k of the layer's own key over the scored "
        "tuples of all answers (0.5 under H0; detection counts every round equally, so rounds near 0.5 only add noise).\n\n"
        + data.md_table(["setting: layer"] + [f"round {k}" for k in ROUNDS], _round_rows(results))
        + f"\n\n![frontier]({plot.name})\n"
    )
    data.print_table(hq, rq)
    data.print_table(hp, _layer_rows(results, "provider"))
    data.print_table(hp, _layer_rows(results, "account"))
    data.print_table(ha, ra)
    data.write_section("Frontier", body, quick)


def _plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for ax, layer in zip(axes, ("provider", "account")):
        for name, r in results.items():
            if layer not in r:
                continue
            m, lo, hi = r["dnll"]
            t = r[layer]["tpr"][150][0]
            ax.errorbar(t, m, yerr=[[m - lo], [hi - m]], fmt="o", capsize=3)
            ax.annotate(name, (t, m), fontsize=7, xytext=(4, 4), textcoords="offset points")
        ax.axhline(0, color="k", lw=0.8)
        ax.axhline(0.02, color="r", lw=0.8, ls="--")
        ax.set_xlabel(f"{layer} layer TPR at FPR 1e-3, 150 tokens")
        ax.set_ylabel("ΔNLL vs unwatermarked (nats/token, 95% CI)")
        ax.set_xlim(-0.05, 1.15)
        ax.grid(alpha=0.3)
        ax.set_title(f"quality vs power: {layer} layer")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
