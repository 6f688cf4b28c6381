"""Per-population evaluation for the held-out benchmarks: every detector on the same log in one run,
the false-positive share of each benign population, each campaign family's TPR at FPR 1e-4 (the
threshold set on *all* benign accounts), PR-AUC and ARI, and what each population obtained
(distinct prompts, answer tokens per account). Stillwatch's ranking behind the rate-limit baseline's
(a lower PR-AUC) is reported as a failing result."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from stillwatch.guard_eval.evaluate import adjusted_rand_index, average_precision, evaluate_output, run_detector, tpr_at_fpr

FPR = 1e-4


@dataclass
class DetectorResult:
    name: str
    seconds: float
    pr_auc: float
    tpr: float
    measurable: bool
    own_tpr: float
    own_fpr: float
    threshold: float
    per_population: dict  # family -> dict(n, above, flagged, tpr, pr_auc, ari)
    #: ARI over every campaign account of the log (None for a detector that does not cluster); a family holding
    #: one campaign has a within-family ARI of 0 unless recovered whole, so the log's is the one to read there
    ari: float | None = None


def richer(log: pa.Table, extras: dict) -> pa.Table:
    """The log with the side tables joined in as the log schema's optional columns (a gateway that
    records them writes them into each row), in time order."""
    params = extras["request_params"]
    acc = extras["accounts"].rename_columns(["account_id", "account_created_at"])
    out = log.join(params, "request_id", join_type="left outer").join(acc, "account_id", join_type="left outer")
    return out.sort_by([("ts", "ascending"), ("request_id", "ascending")])


def obtained(log: pa.Table, labels: pa.Table) -> dict[str, tuple[int, float, float]]:
    """family -> (accounts, median distinct prompts per account, median answer tokens per account)."""
    g = pa.table({"account_id": log["account_id"], "prompt": log["prompt"], "tok": log["completion_tokens"]}).group_by(
        "account_id").aggregate([("prompt", "count_distinct"), ("tok", "sum")])
    j = g.join(labels.select(["account_id", "family"]), "account_id")
    fam = j["family"].to_numpy(zero_copy_only=False).astype(str)
    dp = j["prompt_count_distinct"].to_numpy()
    tk = j["tok_sum"].to_numpy()
    return {f: (int((fam == f).sum()), float(np.median(dp[fam == f])), float(np.median(tk[fam == f])))
            for f in sorted(set(fam))}


def _per_population(labels: pa.Table, out, thr: float) -> dict:
    acc = labels["account_id"].to_pylist()
    camp = np.asarray(labels["campaign_id"].to_pylist(), dtype=object)
    fam = np.asarray(labels["family"].to_pylist(), dtype=object).astype(str)
    where = {a: i for i, a in enumerate(out.account_id)}
    idx = np.array([where.get(a, -1) for a in acc])
    score = np.where(idx >= 0, np.asarray(out.score, float)[np.maximum(idx, 0)], -np.inf)
    flagged = np.where(idx >= 0, np.asarray(out.flagged, bool)[np.maximum(idx, 0)], False)
    is_b = np.array([c is None for c in camp])
    res = {}
    for f in sorted(set(fam)):
        m = fam == f
        r = {"n": int(m.sum()), "above": int((score[m] > thr).sum()), "flagged": int(flagged[m].sum())}
        if not is_b[m].all():
            both = m | is_b
            s = np.where(np.isfinite(score[both]), score[both], -1e300)
            r["tpr"] = tpr_at_fpr(score[m], score[is_b], FPR)
            r["pr_auc"] = average_precision(~is_b[both], s)
            if out.cluster is not None:
                cl = np.where(idx >= 0, np.asarray(out.cluster, dtype=object)[np.maximum(idx, 0)], None)
                pred = np.array([c if c is not None else f"__single_{i}" for i, c in enumerate(cl)], dtype=object)
                r["ari"] = adjusted_rand_index(camp[m].astype(str), pred[m].astype(str))
        res[f] = r
    return res


def evaluate_log(log: pa.Table, labels: pa.Table, detectors: list[str]) -> dict:
    """Every detector on ``log``; returns {"detectors": [DetectorResult], "obtained": ..., "n_rows": ...}."""
    results = []
    camp = labels["campaign_id"].to_pylist()
    for d in detectors:
        t0 = time.perf_counter()
        out, notes = run_detector(d, log, stream=False)
        sec = time.perf_counter() - t0
        ev = evaluate_output(log, labels, out, "heldout", notes)
        where = {a: i for i, a in enumerate(out.account_id)}
        benign = np.sort([out.score[where[a]] if a in where else -np.inf
                          for a, c in zip(labels["account_id"].to_pylist(), camp) if c is None])[::-1]
        k = int(np.floor(FPR * len(benign) + 1e-9))
        thr = float(benign[k]) if k < len(benign) else -np.inf
        results.append(DetectorResult(d, sec, ev.pr_auc, ev.tpr_at["1e-4"], ev.measurable["1e-4"], ev.own_tpr,
                                      ev.own_fpr, thr, _per_population(labels, out, thr), ev.ari))
        print(f"{d}: PR-AUC {ev.pr_auc:.3f} TPR@1e-4 {ev.tpr_at['1e-4']:.3f} ({sec:.0f} s)", flush=True)
    return {"detectors": results, "obtained": obtained(log, labels), "n_rows": log.num_rows,
            "n_accounts": labels.num_rows}


def _f(x) -> str:
    return "—" if x is None else f"{x:.3g}"


def render_section(title: str, r: dict) -> list[str]:
    dets = r["detectors"]
    sw = next((d for d in dets if d.name == "stillwatch"), None)
    rl = next((d for d in dets if d.name == "rate_limit"), None)
    lines = [f"### {title}: {r['n_rows']:,} exchanges, {r['n_accounts']:,} accounts", "",
             "| detector | PR-AUC | TPR@1e-4 (all campaigns) | own flags TPR / FPR | ARI (all campaigns) | seconds |",
             "|---|---|---|---|---|---|"]
    for d in dets:
        meas = "" if d.measurable else " (not measurable: < 10,000 benign)"
        lines.append(f"| {d.name} | {d.pr_auc:.3f} | {d.tpr:.3f}{meas} | {d.own_tpr:.3f} / {d.own_fpr:.4f} | "
                     f"{_f(d.ari)} | {d.seconds:.0f} |")
    if sw and rl:
        verdict = "**FAIL: Stillwatch ranks behind the rate limiter**" if sw.pr_auc < rl.pr_auc else "pass"
        lines += ["", f"Stillwatch vs rate limit, PR-AUC {sw.pr_auc:.3f} vs {rl.pr_auc:.3f} "
                  f"(ratio {sw.pr_auc / max(rl.pr_auc, 1e-12):.2f}): {verdict}."]
    fams = list(dets[0].per_population)
    benign = [f for f in fams if "tpr" not in dets[0].per_population[f]]
    camps = [f for f in fams if f not in benign]
    lines += ["", "Benign populations: share flagged by each detector's own decision (goal <= 1 %), "
              "and share above its FPR-1e-4 threshold:", "",
              "| population | accounts | " + " | ".join(d.name for d in dets) + " |", "|---|---|" + "---|" * len(dets)]
    for f in benign:
        n = dets[0].per_population[f]["n"]
        cells = []
        for d in dets:
            p = d.per_population[f]
            bad = " ✗" if p["flagged"] / n > 0.01 else ""
            cells.append(f"{p['flagged'] / n:.1%}{bad} ({p['above'] / n:.1%})")
        lines.append(f"| {f} | {n:,} | " + " | ".join(cells) + " |")
    lines += ["", "Campaign families: TPR at FPR 1e-4 (goal >= 0.99) / PR-AUC against all benign accounts / "
              "ARI of the campaigns within the family (goal >= 0.9; Stillwatch and SynchroTrap cluster; a family of one "
              "campaign scores 1 when it is recovered whole and 0 otherwise: read the log's ARI in the table above):",
              "",
              "| family | accounts | " + " | ".join(d.name for d in dets) + " |", "|---|---|" + "---|" * len(dets)]
    for f in camps:
        cells = []
        for d in dets:
            p = d.per_population[f]
            cells.append(f"{p['tpr']:.2f} / {p['pr_auc']:.2f}" + (f" / {p['ari']:.2f}" if "ari" in p else ""))
        lines.append(f"| {f} | {dets[0].per_population[f]['n']:,} | " + " | ".join(cells) + " |")
    lines += ["", "What each population obtained (median per account): distinct prompts, answer tokens:", "",
              "| population | accounts | distinct prompts | answer tokens |", "|---|---|---|---|"]
    for f, (n, dp, tk) in r["obtained"].items():
        lines.append(f"| {f} | {n:,} | {dp:,.0f} | {tk:,.0f} |")
    return lines + [""]


def render(sections: list[tuple[str, dict]], *, command: str, date: str,
           title: str = "## guard: held-out D (real shared prompts, campaigns hiding in plain sight) and the "
                        "earlier held-out logs, beside the baselines") -> str:
    lines = [title, "",
             "Every detector ran on the same log in the same run (batch scan; no streaming replay). "
             "Thresholds: FPR 1e-4 over all benign accounts of the log; ✗ marks a benign population above the "
             "1 % false-positive goal.", ""]
    for title, r in sections:
        lines += render_section(title, r)
    lines += [f"Machine: 2 vCPU cloud VM, shared. Date: {date}.", f"Command: {command}", ""]
    return "\n".join(lines)


def plot(r: dict, path) -> None:
    """Two panels for one log: each benign population's flagged share and each campaign family's
    PR-AUC, one bar per detector."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dets = r["detectors"]
    fams = list(dets[0].per_population)
    benign = [f for f in fams if "tpr" not in dets[0].per_population[f]]
    camps = [f for f in fams if f not in benign]
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    width = 0.8 / len(dets)
    for j, d in enumerate(dets):
        fb = [100 * d.per_population[f]["flagged"] / d.per_population[f]["n"] for f in benign]
        axes[0].bar(np.arange(len(benign)) + j * width, fb, width, label=d.name)
        axes[1].bar(np.arange(len(camps)) + j * width, [d.per_population[f]["pr_auc"] for f in camps], width,
                    label=d.name)
    axes[0].axhline(1.0, color="k", lw=0.8, ls="--")
    axes[0].set_xticks(np.arange(len(benign)) + 0.4 - width / 2, [f.split(":")[-1] for f in benign], rotation=30)
    axes[0].set_ylabel("benign accounts flagged (%)  — goal <= 1 %")
    axes[1].set_xticks(np.arange(len(camps)) + 0.4 - width / 2, camps, rotation=30)
    axes[1].set_ylabel("PR-AUC against all benign accounts")
    axes[1].set_ylim(0, 1)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


#: A results file keeps everything from this line on when its script rewrites it.
NOTES_MARKER = "<!-- hand-written notes below: kept when the script rewrites this file -->"


def population_cell(p: dict | None, ari: bool = True) -> str:
    """One population's own flags as a table cell: "flagged / accounts", ✗ for a benign population above 1 % or a
    campaign family below 0.99, with the family's ARI where it has one (and ``ari``); "—" where the log lacks it."""
    if p is None:
        return "—"
    if "tpr" in p:
        mark = " ✗" if p["flagged"] < 0.99 * p["n"] else ""
        return f"{p['flagged']} / {p['n']:,}{mark}" + (f" (ARI {p['ari']:.2f})" if ari and "ari" in p else "")
    return f"{p['flagged']} / {p['n']:,}{' ✗' if p['flagged'] > 0.01 * p['n'] else ''}"


def across_seeds(results: list[tuple[int, dict]], title: str = "Stillwatch across the seeds") -> list[str]:
    """Stillwatch's own flags per population, one column per seed (benign: flagged / accounts, goal <= 1 %;
    campaigns: flagged / accounts, goal >= 0.99, and the family's ARI). Own flags, not TPR at FPR 1e-4: with
    ~8,400 benign accounts a log cannot measure an FPR of 1e-4 (the per-seed sections say so)."""
    seeds = [s for s, _ in results]
    sw = [next(d for d in r["detectors"] if d.name == "stillwatch") for _, r in results]
    fams = sorted(set().union(*(d.per_population for d in sw)))
    lines = [f"### {title}", "",
             "Accounts flagged by Stillwatch's own decision / accounts: benign populations ✗ above 1 %, campaign "
             "families ✗ below 0.99, with the family's ARI (a family of one campaign: 1 when recovered whole, else 0). "
             "Own flags, not TPR at FPR 1e-4: ~8,400 benign accounts cannot measure an FPR of 1e-4.", "",
             "| population | " + " | ".join(f"seed {s}" for s in seeds) + " |", "|---|" + "---|" * len(seeds)]
    for f in fams:
        cells = [population_cell(d.per_population.get(f)) for d in sw]
        lines.append(f"| {f} | " + " | ".join(cells) + " |")
    return lines + [""]


def write_keeping_notes(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` followed by the hand-written notes the file already had."""
    old = path.read_text() if path.exists() else ""
    if NOTES_MARKER in old:
        text = text.rstrip("\n") + "\n\n" + old[old.index(NOTES_MARKER):]
    path.write_text(text)
