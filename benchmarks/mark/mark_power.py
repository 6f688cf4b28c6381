"""Detection power of the two watermark layers on watermarked SmolLM2 answers.

Figures, per layer (provider, account; default MarkConfig: additive KGW, h=2, gamma=0.25):
* tokens needed for p <= 1e-6: the shortest prefix of each answer whose exact p-value is <= 1e-6
  (median over answers; answers that never get there count as "more than their length");
* true-positive rate at false-positive rate 1e-3 for answers truncated to 50/100/200 tokens, with two
  thresholds: alpha = 1e-3 on the exact p-value, and the empirical 1e-3 quantile of the null p-values
  measured by mark_calibration.py on unwatermarked text;
* the same after replacing 10/20/30% of the tokens (chosen uniformly, without replacement) by ids drawn
  uniformly from the vocabulary.

Run:  .venv/bin/python benchmarks/mark/mark_power.py [--quick]
Writes the section "Power" of benchmarks/results/mark.md and benchmarks/results/mark_power.png.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/, for _lib
import _data as data  # noqa: E402  (this part's shared data)
from _power import median_with_censoring, prefix_pvalues, substitute, tokens_to_target  # noqa: E402

from stillwatch.mark import MarkConfig, detect_ids  # noqa: E402

LENGTHS = (50, 100, 200)
SUBST = (0.0, 0.1, 0.2, 0.3)
FPR = 1e-3


def null_thresholds(quick: bool) -> dict[str, float]:
    """Empirical 1e-3 quantile of the null p-values saved by mark_calibration.py, per layer."""
    path = data.OUT / ("null_pvalues" + ("-quick" if quick else "") + ".npz")
    if not path.exists():
        raise SystemExit(f"{path} not found: run benchmarks/mark/mark_calibration.py{' --quick' if quick else ''} first")
    z = np.load(path)
    return {"provider": float(np.quantile(z["provider_kgw"], FPR)), "account": float(np.quantile(z["account_kgw"], FPR)),
            "n_null": int(len(z["provider_kgw"]))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    t_start = time.perf_counter()
    mk = data.master_key()
    cfg = MarkConfig()
    rows = data.marked_answers(args.quick)
    vocab = data.backend().vocab_size
    texts = [(np.asarray(r["ids"], dtype=np.int64), r["account"]) for r in rows if len(r["ids"]) > 4]
    lens = np.array([len(t) for t, _ in texts])
    print(f"{len(texts)} watermarked answers, median {int(np.median(lens))} tokens, "
          f"{int((lens >= 200).sum())} with >= 200 tokens", file=sys.stderr)

    def layer(name, acc):
        if name == "provider":
            return cfg.provider_spec(), mk.provider_key()
        return cfg.account_spec(acc), mk.account_key(acc)

    thr = null_thresholds(args.quick)
    # 1. tokens to p <= 1e-6, with a cross-check of the prefix scan against detect_ids
    need = {"provider": [], "account": []}
    checked = 0
    for ids, acc in texts:
        for name in need:
            spec, key = layer(name, acc)
            pp = prefix_pvalues(ids, spec, key)
            need[name].append(tokens_to_target(pp))
            for T in (len(ids), min(len(ids), 50)):
                if T > spec.context_width:
                    want = detect_ids(ids[:T], spec, key).p_value
                    if not np.isclose(pp[T], want, rtol=1e-9, atol=0):
                        raise SystemExit(f"prefix scan disagrees with detect_ids at T={T}: {pp[T]} vs {want}")
                    checked += 1
    need = {k: np.array(v) for k, v in need.items()}
    need_rows = []
    for name, v in need.items():
        fin = v[np.isfinite(v)]
        need_rows.append([name, len(v), median_with_censoring(v), f"{np.mean(np.isfinite(v)):.1%}",
                          f"{np.percentile(fin, 25):.0f} / {np.percentile(fin, 75):.0f}" if fin.size else "-"])

    # 2. TPR at FPR 1e-3 by length and substitution rate
    rng = np.random.default_rng(2026)
    tpr = {}  # (layer, rate, L) -> (n, tpr_alpha, tpr_empirical)
    for rate in SUBST:
        for L in LENGTHS:
            sel = [(ids[:L], acc) for ids, acc in texts if len(ids) >= L]
            for name in ("provider", "account"):
                ps = []
                for ids, acc in sel:
                    spec, key = layer(name, acc)
                    ps.append(detect_ids(substitute(ids, rate, vocab, rng), spec, key).p_value)
                ps = np.array(ps)
                tpr[(name, rate, L)] = (len(ps), float(np.mean(ps <= FPR)) if len(ps) else float("nan"),
                                        float(np.mean(ps <= thr[name])) if len(ps) else float("nan"))
    tpr_rows = []
    for name in ("provider", "account"):
        for rate in SUBST:
            r = [name, f"{rate:.0%}"]
            for L in LENGTHS:
                n, a, e = tpr[(name, rate, L)]
                r.append(f"{a:.3f} / {e:.3f} (n={n})")
            tpr_rows.append(r)

    h1 = ["layer", "answers", "median tokens to p <= 1e-6", "reached within the answer", "25th / 75th pct (of reached)"]
    h2 = ["layer", "substituted"] + [f"TPR @ {L} tokens (alpha / empirical)" for L in LENGTHS]
    data.print_table(h1, need_rows)
    print()
    data.print_table(h2, tpr_rows)

    plot = data.results_dir(args.quick) / "mark_power.png"
    _plot(tpr, plot)
    body = data.header("benchmarks/mark/mark_power.py" + (" --quick" if args.quick else "")) + (
        f"- texts: {len(texts)} SmolLM2 answers watermarked with the default MarkConfig (two {cfg.sharing} {cfg.provider.scheme.upper()} layers, "
        f"h={cfg.provider.context_width}, gamma={cfg.provider.gamma}, delta={cfg.provider.delta} + {cfg.account.delta}) for {len(set(a for _, a in texts))} accounts, sampled at temperature "
        f"{data.TEMPERATURE} (no top-k/top-p), max {data.MAX_NEW_TOKENS} new tokens; median length {int(np.median(lens))} "
        f"tokens, {int((lens >= 200).sum())} reach 200 tokens. The account layer is tested with the answer's own account key.\n"
        f"- tokens to p <= 1e-6: shortest prefix whose exact de-duplicated p-value is <= 1e-6 (prefix scan, "
        f"cross-checked against detect_ids at {checked} points); answers that never reach it are counted as longer "
        f"than any that do.\n"
        f"- TPR at FPR 1e-3: 'alpha' = exact p-value <= 1e-3; 'empirical' = p-value <= the 1e-3 quantile of "
        f"{thr['n_null']} null p-values from mark_calibration.py (provider {thr['provider']:.2e}, account "
        f"{thr['account']:.2e}). Truncation to L tokens keeps only answers with >= L tokens (n shown). "
        f"Substitution replaces that fraction of the L token ids by uniform random ids from the {vocab}-token vocabulary.\n"
        f"- baseline: the same detector on unwatermarked text has FPR <= 1e-3 by construction (see Calibration).\n"
        f"- total runtime {time.perf_counter() - t_start:.0f}s\n\n"
        + data.md_table(h1, need_rows) + "\n\n" + data.md_table(h2, tpr_rows) + f"\n\n![TPR vs length]({plot.name})\n"
    )
    data.write_section("Power", body, args.quick)
    print(f"\nwrote the section and {plot}", file=sys.stderr)


def _plot(tpr: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, name in zip(axes, ("provider", "account")):
        for rate in SUBST:
            ys = [tpr[(name, rate, L)][1] for L in LENGTHS]
            ax.plot(LENGTHS, ys, marker="o", label=f"{rate:.0%} substituted")
        ax.set_title(f"{name} layer: TPR at alpha = 1e-3")
        ax.set_xlabel("answer length (tokens)")
        ax.set_xticks(LENGTHS)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("true-positive rate")
    axes[0].set_ylim(-0.02, 1.02)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
