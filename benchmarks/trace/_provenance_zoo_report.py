"""Evaluate the provenance zoo's cached answers: our test beside the Nikolic et al. baseline, both on
the same answers of the same models; writes benchmarks/results/trace_provenance.md and a figure."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

log = logging.getLogger("provenance_zoo")
RESULTS = Path(__file__).resolve().parents[1] / "results"


class _Named:
    def __init__(self, name: str) -> None:
        self.name = name


def _answers(out: Path, names: list[str], n: int) -> tuple[dict, dict]:
    from stillwatch.trace.provenance import ProvenanceConfig
    from stillwatch.trace.provenance_prompts import sample_prompts
    from stillwatch.trace.provenance_query import AnswerCache

    cache = AnswerCache(out / "answers")
    chat = ProvenanceConfig(max_queries=n).prompts()
    raw = sample_prompts(n, seed=0, families=("sentence",))
    got_chat, got_raw = {}, {}
    for name in names:
        a = cache.get(f"zoo:{name}:v1", chat, "chat", 1)
        b = cache.get(f"zoo:{name}:v1", raw, "raw", 1)
        if a is not None and b is not None:
            got_chat[name], got_raw[name] = a, b
    return got_chat, got_raw


def ours(suspect_answers, panel, n_cand: int, names: list[str], n: int, alpha: float = 0.05):
    from stillwatch.trace.provenance import ProvenanceConfig, run_provenance

    cfg = ProvenanceConfig(max_queries=n, look_every=max(10, n // 4), alpha=alpha)
    models = [_Named(x) for x in names]
    return run_provenance(_Named("suspect"), models[:n_cand], models[n_cand:], config=cfg,
                          panel_answers=panel, suspect_answers=suspect_answers)


def nikolic(suspect_raw, panel_raw, n_cand: int, names: list[str], alpha: float = 0.05):
    """Their tester; a guess of a reference model (a parent in their set, not a candidate here) counts as none."""
    from stillwatch.trace.provenance_stats import agreement, nikolic_test

    hits = [int(agreement(suspect_raw, p, mode="exact").sum()) for p in panel_raw]
    best, sig, pmax = nikolic_test(hits, len(suspect_raw), alpha)
    guess = names[best] if sig else None
    return (guess if best < n_cand else None), guess, pmax


def _score(rows: list[dict], key: str) -> dict:
    tp = sum(r["truth"] is not None and r[key] == r["truth"] for r in rows)
    fp = sum(r[key] is not None and r[key] != r["truth"] for r in rows)
    pos = sum(r["truth"] is not None for r in rows)
    return {"tp": tp, "fp": fp, "pos": pos, "precision": tp / (tp + fp) if tp + fp else float("nan"),
            "recall": tp / pos if pos else float("nan")}


def report(out: Path, truth_path: Path, cands: list[str], refs: list[str], n: int, seeds: int, *, command: str,
           machine: str, date: str) -> None:
    doc = json.loads(truth_path.read_text())
    spec = doc["suspects"]
    panel_names = cands + refs
    chat, raw = _answers(out, panel_names + list(spec), n)
    missing_panel = [x for x in panel_names if x not in chat]
    if missing_panel:
        log.warning("panel models without answers yet: %s; no report", missing_panel)
        return
    panel_c = [chat[x] for x in panel_names]
    panel_r = [raw[x] for x in panel_names]
    rows = []
    for name, s in spec.items():
        if name not in chat:
            continue
        r = ours(chat[name], panel_c, len(cands), panel_names, n)
        g, raw_guess, pmax = nikolic(raw[name], panel_r, len(cands), panel_names)
        rows.append({"suspect": name, "truth": s["parent"], "kind": s["kind"], "ours": r.most_likely_parent,
                     "ours_p": min(r.p_values.values()), "queries": r.queries_spent, "closest": r.closest_candidate,
                     "nikolic": g, "nikolic_raw_guess": raw_guess, "nikolic_p": pmax,
                     "agree": {c["name"]: round(c["agreement"], 3) for c in r.candidates}})
    calib = _calibration(chat, panel_c, [x for x in spec if spec[x]["parent"] is None and x in chat], cands, panel_names, seeds)
    _write(rows, calib, spec, cands, refs, n, command, machine, date)


def _calibration(chat, panel_c, independents, cands, names, seeds: int) -> dict:
    """Independent suspects re-tested on ``seeds`` random halves of the prompt pool (overlapping
    draws, not independent replicates): false attributions at alpha = 0.05."""
    rng = np.random.default_rng(2025)
    n = len(panel_c[0])
    tests = fa = 0
    for s in range(seeds):
        idx = np.sort(rng.choice(n, size=n // 2, replace=False))
        sub = [[p[i] for i in idx] for p in panel_c]
        for name in independents:
            r = ours([chat[name][i] for i in idx], sub, len(cands), names, n // 2)
            tests += 1
            fa += r.most_likely_parent is not None
    return {"tests": tests, "false_attributions": fa, "seeds": seeds, "suspects": len(independents)}


def _write(rows, calib, spec, cands, refs, n, command, machine, date) -> None:
    from stillwatch.core.stats import binomial_interval

    RESULTS.mkdir(parents=True, exist_ok=True)
    a, b = _score(rows, "ours"), _score(rows, "nikolic")
    stud = [r for r in rows if r["kind"] == "student" and r["truth"] == "smollm2"]
    indep = [r for r in rows if r["truth"] is None]
    lines = [
        "## trace provenance: the model zoo", "",
        f"Command: `{command}` (cached and resumable under benchmarks/out/provenance_zoo/). Machine: {machine}. Date: {date}.", "",
        f"Panel: candidates {', '.join(cands)}; references {', '.join(refs)}. {len(rows)} of {len(spec)} suspects built and "
        f"answered (truth: benchmarks/trace/provenance_zoo_truth.json). Budget {n} queries per suspect, alpha = 0.05 for both tests.", "",
        "| test | precision | recall | TP / positives | wrong attributions | queries per suspect (median) |",
        "|---|---|---|---|---|---|",
        f"| ours (exact paired McNemar IUT, Holm, alpha spending) | {a['precision']:.3f} | {a['recall']:.3f} | {a['tp']} / {a['pos']} | {a['fp']} | "
        f"{int(np.median([r['queries'] for r in rows])) if rows else 0} |",
        f"| Nikolic et al. 2025 (z / Fisher, Holm; raw text, exact match) | {b['precision']:.3f} | {b['recall']:.3f} | {b['tp']} / {b['pos']} | {b['fp']} | {n} |",
        "",
    ]
    if stud:
        lines.append(f"Output-distilled students of SmolLM2: ours {sum(r['ours'] == 'smollm2' for r in stud)}/{len(stud)}, "
                     f"Nikolic {sum(r['nikolic'] == 'smollm2' for r in stud)}/{len(stud)}.")
    if indep:
        lines.append(f"Independent suspects attributed to a candidate: ours {sum(r['ours'] is not None for r in indep)}/{len(indep)}, "
                     f"Nikolic {sum(r['nikolic'] is not None for r in indep)}/{len(indep)}.")
    if calib["tests"]:
        lo, hi = binomial_interval(calib["false_attributions"], calib["tests"], 0.95)
        lines.append(f"Calibration: {calib['suspects']} independent suspects x {calib['seeds']} random half-pools = {calib['tests']} tests, "
                     f"{calib['false_attributions']} false attributions ({calib['false_attributions'] / calib['tests']:.3f}; "
                     f"95% CI {lo:.3f}-{hi:.3f}; alpha = 0.05; the half-pools overlap, so they are not independent replicates).")
    lines += ["", "| suspect | truth | kind | ours | p (ours) | queries | agreement | Nikolic | p (Nikolic, max) |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['suspect']} | {r['truth']} | {r['kind']} | {r['ours']} | {r['ours_p']:.2g} | {r['queries']} | "
                     f"{r['agree']} | {r['nikolic_raw_guess']} | {r['nikolic_p']:.2g} |")
    not_run = [x for x in spec if x not in {r['suspect'] for r in rows}]
    if not_run:
        lines += ["", f"Not built / not answered in this run (the command resumes them): {', '.join(not_run)}."]
    lines += ["", "![per-suspect p-values](trace_provenance.png)", ""]
    (RESULTS / "trace_provenance.md").write_text("\n".join(lines))
    (RESULTS / "trace_provenance.json").write_text(json.dumps({"rows": rows, "calibration": calib, "ours": a, "nikolic": b}, indent=1))
    _plot(rows)
    log.info("\n%s", "\n".join(lines))


def _plot(rows) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not rows:
        return
    y = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(8, 0.3 * len(rows) + 1.5))
    clip = 1e-300
    ax.barh(y - 0.2, [-np.log10(max(r["ours_p"], clip)) for r in rows], 0.4, label="ours (sequential p of best candidate)")
    ax.barh(y + 0.2, [-np.log10(max(r["nikolic_p"], clip)) for r in rows], 0.4, label="Nikolic et al. (max pairwise p)")
    ax.axvline(-np.log10(0.05), color="k", lw=0.8, ls="--")
    ax.set_yticks(y, [f"{r['suspect']} ({r['truth']})" for r in rows], fontsize=7)
    ax.set_xlabel("-log10 p")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(RESULTS / "trace_provenance.png", dpi=110)
    plt.close(fig)
