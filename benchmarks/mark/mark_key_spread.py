"""Is the provider layer miscalibrated on docstrings, or is one fixed key's corpus FPR itself random?

The detection p-value is exact *over keys* for every text (H0: the text was written without the key;
the g-values of its distinct tuples are then independent fair coins). A corpus whose texts share
frequent (context, token) tuples (docstrings: indentation runs, ``>>>``, ``Args:``) shares those
tuples' g-values under one fixed key, so the false-positive rate of that key on that corpus is a
random variable whose mean over keys is the test's exact size, but whose spread is wider than the
binomial spread of independent texts. This script measures both, on the same texts as
``mark_calibration.py``, for the default's provider spec with the count and the weighted score:

* mean over K independent keys of the corpus FPR at alpha = 1e-2 and 1e-3, with its 99 % t-interval
  over keys, against the exact size (the mean over texts of the largest attainable tail <= alpha):
  a real miscalibration would put the exact size outside that interval;
* the spread of one key's FPR (standard deviation over keys) against the binomial standard deviation
  sqrt(size (1 - size) / N) of N independent texts: their squared ratio is the *design effect*
  (how many times fewer independent texts the corpus is worth), and N / design effect the
  effective number of independent texts.

Keys: provider keys of K master keys derived from their index (public, figures only).
Run:  nice -n 10 .venv/bin/python benchmarks/mark/mark_key_spread.py [--keys 100] [--quick]
Writes the section "Calibration over keys" of benchmarks/results/mark.md.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats as sstats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _data as data  # noqa: E402
from _power import tournament_exact_size  # noqa: E402

from stillwatch.mark import MarkConfig, MasterKey, detect_many  # noqa: E402

ALPHAS = (1e-2, 1e-3)
MIN_TOKENS = 40


def corpora(quick: bool) -> dict[str, list[np.ndarray]]:
    docs = [np.asarray(ids, dtype=np.int64) for _, ids in data.human_texts(MIN_TOKENS, quick=quick)]
    chat = [np.asarray(ids, dtype=np.int64) for ids in data.sharegpt_answers(1_000 if quick else 12_000, MIN_TOKENS)]
    return {"human-written docstrings": docs, "ShareGPT answers": chat}


def spread(texts: list[np.ndarray], spec, n_keys: int) -> dict:
    fpr = {a: [] for a in ALPHAS}
    n_scored = None
    for i in range(n_keys):
        key = MasterKey(hashlib.sha256(f"stillwatch key-spread {i}".encode()).digest()).provider_key()
        res = detect_many(texts, spec, key)
        n_scored = res.n_scored
        for a in ALPHAS:
            fpr[a].append(float(np.mean(res.p_values <= a)))
    out = {}
    N = len(texts)
    for a in ALPHAS:
        f = np.array(fpr[a])
        size = tournament_exact_size(spec, n_scored, a)
        m, sd = float(f.mean()), float(f.std(ddof=1))
        half = float(sstats.t.ppf(0.995, n_keys - 1) * sd / np.sqrt(n_keys))
        sd_indep = float(np.sqrt(size * (1 - size) / N))
        out[a] = {"mean": m, "lo": m - half, "hi": m + half, "size": size, "sd": sd, "sd_indep": sd_indep,
                  "deff": (sd / sd_indep) ** 2, "min": float(f.min()), "max": float(f.max()), "N": N,
                  "inside": m - half <= size <= m + half}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keys", type=int, default=100)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    t0, load0 = time.perf_counter(), os.getloadavg()[0]
    texts = corpora(args.quick)
    rows = []
    for score in ("count", "weighted"):
        spec = MarkConfig.from_dict({"provider": {"score": score, "weights": None}}).provider_spec()
        for name, tx in texts.items():
            r = spread(tx, spec, args.keys)
            for a, v in r.items():
                rows.append([name, score, a, v["N"], f"{v['size']:.4%}", f"{v['mean']:.4%} [{v['lo']:.4%}, {v['hi']:.4%}]",
                             "yes" if v["inside"] else "NO", f"{v['min']:.3%} ... {v['max']:.3%}", f"{v['sd']:.4%}",
                             f"{v['sd_indep']:.4%}", f"{v['deff']:.1f}", f"{v['N'] / v['deff']:,.0f}"])
            print(f"  {score} / {name}: {time.perf_counter() - t0:.0f}s", file=sys.stderr, flush=True)
    h = ["corpus", "score", "alpha", "texts", "exact size", "mean FPR over keys [99% CI]", "size inside?",
         "one key's FPR (min ... max)", "SD over keys", "SD if texts independent", "design effect", "effective texts"]
    cmd = "benchmarks/mark/mark_key_spread.py" + (f" --keys {args.keys}" if args.keys != 100 else "") + (" --quick" if args.quick else "")
    body = data.header(cmd) + (
        f"- the default's provider spec (tournament h2, 16 layers) under {args.keys} independent keys, count and weighted "
        f"score, on the calibration corpora (docstrings of the standard library and installed packages; ShareGPT answers), "
        f">= {MIN_TOKENS} tokens each. Load average {load0:.1f} at the start; runtime {time.perf_counter() - t0:.0f}s.\n"
        f"- 'mean FPR over keys': mean of the {args.keys} keys' corpus FPRs and its 99 % t-interval; the test is exact over "
        f"keys if the exact size lies inside. 'design effect' = (SD over keys / binomial SD of independent texts)^2.\n\n"
        + data.md_table(h, rows) + "\n")
    data.print_table(h, rows)
    data.write_section("Calibration over keys", body, args.quick)


if __name__ == "__main__":
    main()
