"""The two-layer design: how the provider and account layers share the logits, and what it costs.

For additive sharing at a few (provider delta, account delta) pairs and for split sharing
(provider_share 0.5), SmolLM2 answers the same prompts with the watermark; for each design we measure
the detection power of EACH layer (median tokens to p <= 1e-6, TPR at alpha = 1e-3 on the first 100
tokens) and the text-quality cost: SmolLM2's own per-token negative log-likelihood (teacher-forced,
log perplexity) of the watermarked answers minus that of unwatermarked answers to the same prompts.

Run:  .venv/bin/python benchmarks/mark/mark_layers.py [--quick]
Writes the section "Two-layer design" of benchmarks/results/mark.md and benchmarks/results/mark_layers.png.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/, for _lib
import _data as data  # noqa: E402  (this part's shared data)
from _power import median_with_censoring, prefix_pvalues, tokens_to_target  # noqa: E402

from stillwatch.mark import LayerParams, MarkConfig, detect_ids  # noqa: E402

ACCOUNT = "acct-alice"
NEW_TOKENS = 100
TPR_LEN = 100
ALPHA = 1e-3


def designs() -> dict[str, MarkConfig]:
    def add(dp, da):
        return MarkConfig(provider=LayerParams(delta=dp), account=LayerParams(delta=da))

    return {
        "additive 1.5 + 1.5 (default)": add(1.5, 1.5),
        "additive 2.0 + 2.0": add(2.0, 2.0),
        "additive 3.0 + 1.0": add(3.0, 1.0),
        "additive 1.0 + 3.0": add(1.0, 3.0),
        "split 0.5, delta 1.5": MarkConfig(provider=LayerParams(delta=1.5), account=LayerParams(delta=1.5), sharing="split", provider_share=0.5),
    }


def nll_per_token(rows: list[dict], batch: int = 8) -> np.ndarray:
    """SmolLM2's mean negative log-likelihood (nats/token) of each answer given its prompt, teacher-forced.
    Answers of length 0 get nan. Batches of ``batch`` so the [T, V] logits never pile up."""
    be = data.backend()
    out = np.full(len(rows), np.nan)
    for s in range(0, len(rows), batch):
        chunk = rows[s : s + batch]
        seqs = [r["prompt_ids"] + r["ids"] for r in chunk]
        logits = be.next_token_logits(seqs, batch_size=batch)
        for j, (r, lg) in enumerate(zip(chunk, logits)):
            P, C = len(r["prompt_ids"]), len(r["ids"])
            if C == 0:
                continue
            lg = lg[P - 1 : P + C - 1].astype(np.float64)  # rows predicting the answer's tokens
            m = lg.max(axis=1, keepdims=True)
            logz = m[:, 0] + np.log(np.exp(lg - m).sum(axis=1))
            out[s + j] = float(np.mean(logz - lg[np.arange(C), r["ids"]]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="16 prompts, 3 designs")
    ap.add_argument("--prompts", type=int, default=16)
    args = ap.parse_args()
    t_start = time.perf_counter()
    ps = data.prompt_set()
    n = 16 if args.quick else args.prompts
    prompts = ps[len(ps) - n :]  # the last prompts of the shuffled set
    mk = data.master_key()
    ds = designs()
    if args.quick:
        ds = dict(list(ds.items())[:1] + list(ds.items())[4:5])

    plain = data.generate_cached("layers-plain", prompts, None, watermark=False, max_new_tokens=NEW_TOKENS, seed=7)
    nll_plain = nll_per_token(plain)
    res = {}
    for name, cfg in ds.items():
        cache_name = {"split 0.5, delta 1.5": "split 0.5 delta 2.0"}.get(name, name)  # file name of the first run
        rows = data.generate_cached("layers-" + cache_name.split(" (")[0].replace(" ", "_").replace(",", ""), prompts, ACCOUNT, cfg,
                                    max_new_tokens=NEW_TOKENS, seed=7)
        nll = nll_per_token(rows)
        diff = nll - nll_plain
        r = {"nll": float(np.nanmean(nll)), "dnll": float(np.nanmean(diff)),
             "dnll_se": float(np.nanstd(diff, ddof=1) / np.sqrt(np.sum(~np.isnan(diff)))),
             "len": float(np.mean([len(x["ids"]) for x in rows]))}
        for layer in ("provider", "account"):
            spec = cfg.provider_spec() if layer == "provider" else cfg.account_spec(ACCOUNT)
            key = mk.provider_key() if layer == "provider" else mk.account_key(ACCOUNT)
            need, hits, n_tpr = [], [], 0
            for x in rows:
                ids = np.asarray(x["ids"], dtype=np.int64)
                if len(ids) <= spec.context_width:
                    need.append(float("inf"))
                    continue
                need.append(tokens_to_target(prefix_pvalues(ids, spec, key)))
                if len(ids) >= TPR_LEN:
                    n_tpr += 1
                    hits.append(detect_ids(ids[:TPR_LEN], spec, key).p_value <= ALPHA)
            r[layer] = {"need": np.array(need), "tpr": float(np.mean(hits)) if hits else float("nan"), "n_tpr": n_tpr}
        res[name] = r
        print(f"  {name}: provider median {median_with_censoring(r['provider']['need'])}, account "
              f"{median_with_censoring(r['account']['need'])}, dNLL {r['dnll']:+.3f}", file=sys.stderr)

    h = ["design", "provider: median tokens to p<=1e-6", "provider: TPR@100", "account: median tokens to p<=1e-6",
         "account: TPR@100", "NLL (nats/token)", "ΔNLL vs unwatermarked (± s.e.)", "perplexity ratio"]
    rows_t = [["unwatermarked", "-", "-", "-", "-", f"{np.nanmean(nll_plain):.3f}", "0", "1.00"]]
    for name, r in res.items():
        rows_t.append([name, median_with_censoring(r["provider"]["need"]), f"{r['provider']['tpr']:.2f} (n={r['provider']['n_tpr']})",
                       median_with_censoring(r["account"]["need"]), f"{r['account']['tpr']:.2f} (n={r['account']['n_tpr']})",
                       f"{r['nll']:.3f}", f"{r['dnll']:+.3f} ± {r['dnll_se']:.3f}", f"{np.exp(r['dnll']):.2f}"])
    data.print_table(h, rows_t)
    plot = data.results_dir(args.quick) / "mark_layers.png"
    _plot(res, plot)
    body = data.header("benchmarks/mark/mark_layers.py" + (" --quick" if args.quick else "")) + (
        f"- {n} prompts (the last {n} of the shuffled prompt set), SmolLM2 at temperature {data.TEMPERATURE}, "
        f"{NEW_TOKENS} new tokens max, batch 32; every design and the unwatermarked baseline answer the same prompts with "
        f"the same sampling seed. All layers KGW, h=2, gamma=0.25; 'a + b' = provider delta a, account delta b. "
        f"Split: each position belongs to one layer by a public hash of the previous token (half each).\n"
        f"- power: median over answers of the shortest prefix with exact p <= 1e-6 ('not reached' if more than half never "
        f"get there); TPR@100 = share of answers with >= {TPR_LEN} tokens whose first {TPR_LEN} tokens give p <= {ALPHA:g}.\n"
        f"- quality: mean over answers of SmolLM2's teacher-forced NLL per answer token (prompt given, chat template); "
        f"ΔNLL = mean paired difference against the unwatermarked answer to the same prompt (± its standard error over "
        f"the {n} prompts: answers differ, so this is noisy); perplexity ratio = exp(ΔNLL).\n"
        f"- total runtime {time.perf_counter() - t_start:.0f}s\n\n" + data.md_table(h, rows_t) + f"\n\n![two-layer design]({plot.name})\n"
    )
    data.write_section("Two-layer design", body, args.quick)
    print(f"\nwrote the section and {plot}", file=sys.stderr)


def _plot(res: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    ax = axes[0]
    for name, r in res.items():
        ax.scatter(r["provider"]["tpr"], r["account"]["tpr"], s=40 + 400 * max(r["dnll"], 0))
        ax.annotate(f"{name}\nΔNLL {r['dnll']:+.2f}", (r["provider"]["tpr"], r["account"]["tpr"]), fontsize=7,
                    xytext=(4, 4), textcoords="offset points")
    ax.set_xlabel(f"provider layer TPR @ {TPR_LEN} tokens")
    ax.set_ylabel(f"account layer TPR @ {TPR_LEN} tokens")
    ax.set_xlim(-0.05, 1.1)
    ax.set_ylim(-0.05, 1.1)
    ax.set_title("power of each layer per design (marker size ~ quality cost)")
    ax.grid(alpha=0.3)
    ax = axes[1]
    names = list(res)
    x = np.arange(len(names))
    med = lambda v: float(np.median(np.minimum(v, 1e9)))  # noqa: E731
    ax.bar(x - 0.2, [min(med(res[k]["provider"]["need"]), NEW_TOKENS + 10) for k in names], 0.4, label="provider")
    ax.bar(x + 0.2, [min(med(res[k]["account"]["need"]), NEW_TOKENS + 10) for k in names], 0.4, label="account")
    ax.axhline(NEW_TOKENS, color="k", lw=0.8, ls="--")
    ax.set_xticks(x, [k.replace(" (default)", "*") for k in names], rotation=25, ha="right", fontsize=7)
    ax.set_ylabel("median tokens to p <= 1e-6 (capped)")
    ax2 = ax.twinx()
    ax2.plot(x, [res[k]["dnll"] for k in names], "k.-", label="ΔNLL")
    ax2.set_ylabel("ΔNLL (nats/token)")
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title("tokens needed per layer, and quality cost")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
