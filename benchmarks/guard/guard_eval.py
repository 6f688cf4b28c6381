"""Per-family evaluation of Stillwatch's guard against the baselines (issue 4's detection goals).

Runs every scenario family of the simulator SEPARATELY (never averaged) with enough exchanges for
>= 10,000 benign accounts (so FPR 1e-4 is measurable), plus the held-out family, and writes
``benchmarks/results/guard_eval.md``. Each shortfall is diagnosed from the data (which campaigns
were missed, how they were split, when the alarm came).

    .venv/bin/python benchmarks/guard/guard_eval.py                       # all families, 320k exchanges each
    .venv/bin/python benchmarks/guard/guard_eval.py --families coding,rubric --exchanges 100000
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

from stillwatch.guard_eval.contract import NEVER
from stillwatch.guard_eval.evaluate import (
    DETECTORS,
    GOALS,
    evaluate_output,
    harvest_before_alarm,
    run_detector,
    stillwatch_stream,
)
from stillwatch.guard_sim.simulate import DEVELOPMENT_FAMILIES, SCENARIOS, simulate

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/, for _lib
import _lib  # noqa: E402
ROOT = _lib.REPO
OUT = _lib.RESULTS / "guard_eval.md"


def fmt(x, pct=False, digits=3):
    if x is None:
        return "n/a"
    return f"{100 * x:.2f}%" if pct else f"{x:.{digits}f}"


def diagnose(ev, out, log, labels) -> list[str]:
    """Factual reasons for each missed goal of Stillwatch on one family."""
    lines = []
    lab_ids = labels["account_id"].to_pylist()
    camp = np.asarray(labels["campaign_id"].to_pylist(), dtype=object)
    where = {a: i for i, a in enumerate(out.account_id)}
    idx = np.array([where.get(a, -1) for a in lab_ids])
    score = np.where(idx >= 0, np.asarray(out.score)[np.maximum(idx, 0)], -np.inf)
    cluster = (np.where(idx >= 0, np.asarray(out.cluster, dtype=object)[np.maximum(idx, 0)], None)
               if out.cluster is not None else None)
    is_c = np.array([c is not None for c in camp])
    vol = dict(zip(*np.unique(np.asarray(log["account_id"].to_pylist(), dtype=object), return_counts=True)))
    g = ev.goals()
    if g["tpr_at_1e-4"] is False:
        neg = np.sort(score[~is_c])[::-1]
        k = int(np.floor(1e-4 * len(neg) + 1e-9))
        thr = neg[k] if k < len(neg) else -np.inf
        missed = is_c & ~(score > thr)
        fams = labels["family"].to_pylist()
        top_benign = [fams[i] for i in np.argsort(-np.where(is_c, -np.inf, score))[: k + 1]]
        mv = [vol.get(lab_ids[i], 0) for i in np.flatnonzero(missed)]
        per_camp = {}
        for i in np.flatnonzero(missed):
            per_camp[camp[i]] = per_camp.get(camp[i], 0) + 1
        lines.append(
            f"TPR@1e-4 = {ev.tpr_at['1e-4']:.3f}: the threshold is set by the highest benign score(s) "
            f"({', '.join(sorted(set(top_benign)))} at {thr:.3f}); {int(missed.sum())} campaign accounts score at or "
            f"below it (median {np.median(mv) if mv else 0:.0f} exchanges each; by campaign: "
            f"{', '.join(f'{c}: {n}' for c, n in sorted(per_camp.items()))})."
        )
    if g["campaigns_recovered"] is False or g["ari"] is False:
        for c in sorted({x for x in camp if x is not None}):
            m = camp == c
            pred = cluster[m] if cluster is not None else np.array([None] * int(m.sum()))
            none = sum(p is None for p in pred)
            uniq = {p for p in pred if p is not None}
            if none == 0 and len(uniq) == 1:
                p = next(iter(uniq))
                size_p = int(sum(1 for x in cluster if x == p))
                if size_p <= 2 * int(m.sum()):
                    continue
                lines.append(f"campaign {c} ({int(m.sum())} accounts) sits inside a predicted campaign of {size_p} accounts "
                             f"(merged with other accounts).")
                continue
            if none == int(m.sum()):
                lines.append(f"campaign {c} ({int(m.sum())} accounts): none of its accounts is in a predicted campaign.")
            else:
                lines.append(f"campaign {c} ({int(m.sum())} accounts): {none} accounts in no predicted campaign, the "
                             f"rest split over {len(uniq)} predicted campaign(s).")
    if ev.own_fpr > 1e-3 and cluster is not None:
        in_c = np.array([c is not None for c in cluster])
        ids, counts = np.unique(cluster[in_c].astype(str), return_counts=True) if in_c.any() else (np.array([]), np.array([]))
        big = ids[np.argmax(counts)] if len(ids) else None
        big_b = int(np.sum((cluster.astype(str) == big) & ~is_c)) if big is not None else 0
        lines.append(
            f"own operating point flags {100 * ev.own_fpr:.2f}% of benign accounts; {100 * in_c[~is_c].mean():.2f}% of "
            f"benign accounts sit in predicted campaigns (largest predicted campaign: {int(counts.max()) if len(counts) else 0} "
            f"accounts, {big_b} of them benign)."
        )
    if g["harvest_before_alarm"] is False and ev.harvest_before_alarm:
        late = {c: v for c, v in ev.harvest_before_alarm.items() if v >= GOALS["harvest_before_alarm"]}
        lines.append("alarm after >= 1% of the harvest for: "
                     + ", ".join(f"{c} ({100 * v:.1f}%)" for c, v in sorted(late.items())) + ".")
    if ev.harvest_before_alarm is None:
        lines.append("no streaming alarm measured: " + ("; ".join(ev.notes) or "the detector has no streaming mode"))
    return lines


def naive_rows(n: int, seed: int) -> list[dict]:
    """Baseline: the same kind of benign text made the obvious way, one Python dict per row."""
    import random

    from stillwatch.guard_sim.textbank import PREFIXES, SLOTS, SUFFIXES, TOPICS
    from stillwatch.guard_sim.textgen import parse_template

    rnd = random.Random(seed)
    names = list(TOPICS)
    weights = [TOPICS[t]["weight"] for t in names]
    rows = []
    for i in range(n):
        spec = TOPICS[rnd.choices(names, weights)[0]]
        vals = {}

        def fill(t):
            out = []
            for is_slot, text in parse_template(t):
                if is_slot:
                    vals.setdefault(text, rnd.choice(SLOTS[text]))
                    out.append(vals[text])
                else:
                    out.append(text)
            return "".join(out)

        prompt = rnd.choice(PREFIXES) + fill(rnd.choice(spec["prompts"])) + rnd.choice(SUFFIXES)
        body = " ".join(rnd.choice(spec["body"]) for _ in range(rnd.randint(2, 6)))
        response = fill(rnd.choice(spec["openers"])) + " " + body
        rows.append({"request_id": f"req_{i}", "ts": 1_772_409_600_000_000 + rnd.randint(0, 7 * 86_400_000_000),
                     "prompt": prompt, "response": response, "prompt_tokens": len(prompt) // 4 + 8,
                     "completion_tokens": len(response) // 4})
    return rows


def simulator_speed(n: int, seed: int, repeats: int = 3) -> list[str]:
    """Median time to simulate n rows vs a per-row Python generator (measured on n/20 rows, scaled)."""
    fast = []
    for r in range(repeats):
        t0 = time.perf_counter()
        simulate("mixed", n, seed + r)
        fast.append(time.perf_counter() - t0)
    m = max(1000, n // 20)
    slow = []
    for r in range(repeats):
        t0 = time.perf_counter()
        pa.Table.from_pylist(naive_rows(m, seed + r))
        slow.append((time.perf_counter() - t0) * n / m)
    f, s = float(np.median(fast)), float(np.median(slow))
    print(f"simulator: {n:,} rows in {f:.1f}s (median of {repeats}); per-row baseline {s:.1f}s (scaled)", flush=True)
    return [
        "### Simulator speed",
        "",
        "| figure | value | baseline (same run) | ratio |",
        "|---|---|---|---|",
        f"| `simulate('mixed', {n:,})`, median of {repeats} | {f:.1f} s ({n / f:,.0f} rows/s) | per-row Python generator of "
        f"benign text only (dict per row, `str` formatting), timed on {m:,} rows and scaled: {s:.1f} s | {s / f:.1f}x faster |",
        "",
        "The vectorized simulator produces full rows (benign + campaign traffic, infrastructure, labels); the "
        "baseline makes only the text and timestamps, so the ratio understates the gain. Goal: 1M rows well under "
        "a minute.",
        "",
    ]


def stream_alarms(name, n, seed, log=None, labels=None, whole=False):
    """Stillwatch's streaming replay: on the batch's own log when ``log``/``labels`` are given,
    else on a separate n-exchange simulation of the family (same seed). ``whole``: replay every row
    (live false alarms over the whole log) instead of stopping once every campaign has alarmed;
    the campaigns' first alarms are the same either way (verdicts are causal)."""
    import pyarrow.compute as pc

    same = log is not None
    if not same:
        log, labels = simulate(name, n, seed)
    lab = labels.filter(pc.is_valid(labels["campaign_id"]))
    camp = dict(zip(lab["account_id"].to_pylist(), lab["campaign_id"].to_pylist()))
    t0 = time.perf_counter()
    alarms, replayed = stillwatch_stream(log, campaigns_of=None if whole else camp)
    dt = time.perf_counter() - t0
    hba = harvest_before_alarm(log, labels, alarms)
    how = ("stopped once every campaign had alarmed" if replayed < log.num_rows else
           "the whole log (--stream-whole-log)" if whole else "the whole log: some campaign never alarmed")
    # live false alarms: benign accounts alarmed among the benign accounts seen in the replayed rows
    ordered = log.sort_by([("ts", "ascending"), ("request_id", "ascending")])
    seen = set(ordered["account_id"].slice(0, replayed).to_pylist())
    benign_seen = [a for a in seen if a not in camp]
    benign_alarmed = sum(1 for a in benign_seen if a in alarms)
    where = (f"on the same {log.num_rows:,}-exchange log as the batch figures" if same else
             f"on a separate {n:,}-exchange simulation of this family (same seed)")
    note = (f"streaming alarm measured {where}: "
            f"{replayed:,} rows replayed ({how}), "
            f"{1e3 * dt / max(1, replayed):.2f} ms per observe() call; live false alarms: "
            f"{benign_alarmed:,} of {len(benign_seen):,} benign accounts seen by then")
    return hba, note, dt, (benign_alarmed, len(benign_seen), replayed, log.num_rows)


def observe_ratio(rev: str, family: str, n: int, seed: int, reps: int = 3) -> list[str]:
    """``StreamingScorer.observe`` time per request, current code vs ``stream.py``/``stream_state.py``
    at git revision ``rev`` (loaded from git into throw-away modules; everything else is the
    current code), on one n-exchange simulation of ``family``, alternating runs, medians."""
    import importlib.util
    import shutil
    import subprocess
    import tempfile

    from stillwatch.guard.live.stream import StreamingScorer

    tmp = Path(tempfile.mkdtemp(prefix="guard_eval_rev_"))
    mods = {}
    for name in ("stream_state", "stream"):
        src = subprocess.run(["git", "show", f"{rev}:src/stillwatch/guard/{name}.py"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.replace("from .stream_state import", "from ._rev_stream_state import")
        path = tmp / f"_rev_{name}.py"
        path.write_text(src)
        spec = importlib.util.spec_from_file_location(f"stillwatch.guard._rev_{name}", path)
        mods[name] = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = mods[name]
        spec.loader.exec_module(mods[name])
    shutil.rmtree(tmp)  # the modules are loaded; their source files are no longer needed
    log, _ = simulate(family, n, seed)
    rows = log.sort_by([("ts", "ascending"), ("request_id", "ascending")]).to_pylist()
    times = {"baseline": [], "current": []}
    for _ in range(reps):
        for label, cls in (("baseline", mods["stream"].StreamingScorer), ("current", StreamingScorer)):
            scorer = cls()
            t0 = time.perf_counter()
            for r in rows:
                scorer.observe(r)
            times[label].append((time.perf_counter() - t0) / len(rows) * 1e3)
    b, c = float(np.median(times["baseline"])), float(np.median(times["current"]))
    line = (f"`observe()` cost: {c:.3f} ms per request now vs {b:.3f} ms with `stream.py` at `{rev}` in the same run "
            f"(ratio {c / b:.2f}; medians of {reps} alternating replays of a {log.num_rows:,}-exchange `{family}` "
            "simulation, each run on a fresh scorer).")
    print(line, flush=True)
    return [line, ""]


def run_family(name, n, seed, detectors, stream, stream_n, also_n=0, whole=False):
    live, extra = None, None
    t0 = time.perf_counter()
    log, labels = simulate(name, n, seed)
    sim_s = time.perf_counter() - t0
    rows = []
    diag = []
    timing = {}
    for d in detectors:
        t0 = time.perf_counter()
        out, notes = run_detector(d, log, stream=False)
        timing[d] = time.perf_counter() - t0
        ev = evaluate_output(log, labels, out, name, notes)
        if d == "stillwatch":
            if stream:
                if stream_n:
                    hba, note, dt, live = stream_alarms(name, stream_n, seed)
                else:
                    hba, note, dt, live = stream_alarms(name, n, seed, log, labels, whole)
                ev = replace(ev, harvest_before_alarm=hba, notes=ev.notes + (note,))
                timing[d] += dt
                if also_n:
                    hba2, note2, dt2, live2 = stream_alarms(name, also_n, seed)
                    extra = {"harvest_max": max(hba2.values()) if hba2 else None, "live": live2}
                    ev = replace(ev, notes=ev.notes + ("reference only, not the goal figure: " + note2 +
                                                       f"; harvest before alarm there, max {fmt(extra['harvest_max'], pct=True)}",))
            else:
                ev = replace(ev, notes=ev.notes + ("streaming replay skipped (--no-stream)",))
        rows.append(ev)
        if d == "stillwatch":
            diag = diagnose(ev, out, log, labels)
        print(f"  {name:15s} {d:12s} TPR@1e-4={fmt(ev.tpr_at['1e-4'])} PR-AUC={fmt(ev.pr_auc)} ARI={fmt(ev.ari)} "
              f"recovered={fmt(ev.campaigns_recovered)} harvest<alarm(max)={fmt(ev.harvest_max, pct=True)} "
              f"({timing[d]:.1f}s)", flush=True)
    return {"family": name, "n": log.num_rows, "sim_s": sim_s, "evals": rows, "diag": diag, "timing": timing,
            "live": live, "extra": extra}


def table_for(res) -> list[str]:
    e0 = res["evals"][0]
    out = [
        f"#### `{res['family']}` — {SCENARIOS[res['family']].description}",
        "",
        f"{res['n']:,} exchanges, {e0.n_benign:,} benign accounts, {e0.n_campaign_accounts:,} campaign accounts in "
        f"{e0.n_campaigns} campaigns.",
        "",
        "| detector | TPR@FPR 1e-3 | TPR@FPR 1e-4 | PR-AUC | own TPR | own FPR | ARI | campaigns recovered | "
        "harvest before alarm (median / max) | seconds |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for e in res["evals"]:
        hb = "n/a" if e.harvest_max is None else f"{fmt(e.harvest_median, True)} / {fmt(e.harvest_max, True)}"
        star = "" if e.measurable["1e-4"] else " (not measurable)"
        out.append(
            f"| {e.detector} | {fmt(e.tpr_at['1e-3'])} | {fmt(e.tpr_at['1e-4'])}{star} | {fmt(e.pr_auc)} | "
            f"{fmt(e.own_tpr)} | {fmt(e.own_fpr, digits=5)} | {fmt(e.ari)} | {fmt(e.campaigns_recovered)} | {hb} | "
            f"{res['timing'][e.detector]:.1f} |"
        )
    for e in res["evals"]:
        for note in e.notes:
            out.append(f"\nNote ({e.detector}): {note}.")
    if res["diag"]:
        out += ["", "Where Stillwatch falls short on this family, from the data:", ""]
        out += [f"- {line}" for line in res["diag"]]
    return out + [""]


def plot(raw: list[dict], path: Path) -> None:
    """Grouped bars per family: PR-AUC and TPR@1e-3 of every detector (raw = the --json records)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fams = [r["family"] for r in raw]
    dets = [e["detector"] for e in raw[0]["results"]]
    fig, axes = plt.subplots(2, 1, figsize=(12, 7), sharex=True)
    width = 0.8 / len(dets)
    for ax, key, title in ((axes[0], "pr_auc", "PR-AUC (account level)"),
                           (axes[1], "tpr_1e-3", "TPR at FPR 1e-3 (account level)")):
        for j, d in enumerate(dets):
            vals = []
            for r in raw:
                e = next(x for x in r["results"] if x["detector"] == d)
                vals.append(e["pr_auc"] if key == "pr_auc" else e["tpr_at_fpr"]["1e-3"])
            ax.bar(np.arange(len(fams)) + j * width, vals, width, label=d)
        ax.set_ylim(0, 1.05)
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
    axes[1].set_xticks(np.arange(len(fams)) + 0.4 - width / 2, fams, rotation=20)
    axes[0].legend(ncol=len(dets), fontsize=8, loc="lower left")
    fig.suptitle("guard: Stillwatch vs baselines, each scenario family separately")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--families", default=",".join(DEVELOPMENT_FAMILIES + ("heldout",)))
    ap.add_argument("--exchanges", type=int, default=320_000)
    ap.add_argument("--seed", type=int, default=20260302)
    ap.add_argument("--detectors", default=",".join(DETECTORS))
    ap.add_argument("--no-stream", action="store_true")
    ap.add_argument("--stream-exchanges", type=int, default=0,
                    help="0 (default): replay the batch's own log through the streaming scorer; N > 0: replay a "
                         "separate N-exchange simulation of the family instead")
    ap.add_argument("--stream-reference", type=int, default=0,
                    help="N > 0: also replay a separate N-exchange simulation and report its alarm as a reference")
    ap.add_argument("--stream-whole-log", default="",
                    help="comma-separated families whose same-log replay runs over every row (live false alarms over "
                         "the whole log) instead of stopping once every campaign has alarmed")
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--json", default=None, help="also write raw results as JSON here")
    ap.add_argument("--speed-rows", type=int, default=1_000_000, help="rows for the simulator-speed figure (0: skip)")
    ap.add_argument("--observe-baseline", default="",
                    help="git revision: also time observe() against stream.py at that revision (same run, ratio)")
    ap.add_argument("--observe-family", default="coding", help="family simulated for the observe() timing")
    ap.add_argument("--observe-exchanges", type=int, default=20_000, help="exchanges for the observe() timing")
    args = ap.parse_args(argv)
    families = [f for f in args.families.split(",") if f]
    detectors = [d for d in args.detectors.split(",") if d]
    cmd = " ".join(["benchmarks/guard/guard_eval.py"] + (argv if argv is not None else sys.argv[1:]))
    import subprocess

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"], cwd=ROOT, capture_output=True, text=True,
                               check=True).stdout.split()
        dirty = [d for d in dirty if d.startswith("src/")]
        if dirty:
            commit += " plus uncommitted changes to " + ", ".join(dirty)
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    speed = simulator_speed(args.speed_rows, args.seed) if args.speed_rows else []
    if args.observe_baseline:
        speed += observe_ratio(args.observe_baseline, args.observe_family, args.observe_exchanges, args.seed)
    results = []
    for f in families:
        print(f"== {f}", flush=True)
        results.append(run_family(f, args.exchanges, args.seed, detectors, not args.no_stream, args.stream_exchanges,
                                  args.stream_reference, f in args.stream_whole_log.split(",")))
    # ---- summary against the goals (Stillwatch only), one row per family
    lines = [
        "## guard: detection goals per scenario family (`benchmarks/guard/guard_eval.py`)",
        "",
        f"Machine: {_lib.describe_machine()}. "
        f"Date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}. Command: `.venv/bin/python {cmd.strip()}` "
        f"(seed {args.seed}, {args.exchanges:,} exchanges per family; code at commit `{commit}`).",
        "",
        "Goals (issue 4): account TPR >= 0.99 at FPR 1e-4; >= 95% of campaigns recovered with ARI >= 0.9; alarm before "
        "1% of a campaign's harvest (streaming). Each family is simulated and scored on its own; nothing is averaged. "
        "`heldout` uses capabilities, scaffolds and rates never used while the detector was developed. Baselines are "
        "the repository's implementations (`stillwatch.guard_eval.baselines`) at their documented default operating "
        "points; TPR@FPR and PR-AUC use their scores and need no threshold. 'harvest before alarm' is the share of "
        "a campaign's exchanges logged before the first alarm on any of its accounts (100% = never caught).",
        "",
        "Streaming: " + ("skipped (--no-stream)." if args.no_stream else (
            f"the alarm column replays the SAME {args.exchanges:,}-exchange log as the batch figures through "
            "`StreamingScorer.observe`, in time order, stopping once every campaign has alarmed (the whole log when "
            "one never does)." if not args.stream_exchanges else
            f"the alarm column replays a SEPARATE {args.stream_exchanges:,}-exchange simulation of each family "
            "(same seed), not the batch's log.")) +
        (f" A reference replay of a separate {args.stream_reference:,}-exchange simulation is listed in the last "
         "column (not a goal figure)." if args.stream_reference else "") +
        " 'live false alarms' = benign accounts alarmed live / benign accounts seen in the replayed rows"
        + (f"; the replays of {args.stream_whole_log.replace(',', ', ')} run over the whole log "
           "(--stream-whole-log), so their false alarms cover every benign account." if args.stream_whole_log else "."),
        "",
        "| family | benign accounts | TPR@1e-4 (>= 0.99) | campaigns recovered (>= 0.95) | ARI (>= 0.9) | "
        "harvest before alarm, max (< 1%) | all goals met | live false alarms (rows replayed)"
        + (f" | alarm max on a separate {args.stream_reference:,} log |" if args.stream_reference else " |"),
        "|---|---|---|---|---|---|---|---|" + ("---|" if args.stream_reference else ""),
    ]
    for r in results:
        sw = next((e for e in r["evals"] if e.detector == "stillwatch"), None)
        if sw is None:
            continue
        g = sw.goals()

        def mark(key, text):
            return f"{text} {'✓' if g[key] else ('✗' if g[key] is False else '')}".strip()

        lines.append(
            f"| `{r['family']}` | {sw.n_benign:,} | {mark('tpr_at_1e-4', fmt(sw.tpr_at['1e-4']))} | "
            f"{mark('campaigns_recovered', fmt(sw.campaigns_recovered))} | {mark('ari', fmt(sw.ari))} | "
            f"{mark('harvest_before_alarm', fmt(sw.harvest_max, pct=True))} | "
            f"{'yes' if all(v for v in g.values()) else 'no'} | "
            + ("n/a" if r["live"] is None else
               f"{r['live'][0]:,} / {r['live'][1]:,} ({r['live'][2]:,} of {r['live'][3]:,})")
            + (f" | {fmt(r['extra']['harvest_max'], pct=True)} |" if r["extra"] else " |")
        )
    lines += [""] + speed + ["### Side by side, per family", ""]
    for r in results:
        lines += table_for(r)
    raw = [{"family": r["family"], "timing": r["timing"], "results": [e.to_json() for e in r["evals"]]} for r in results]
    png = Path(args.out).with_suffix(".png")
    if raw:
        plot(raw, png)
        lines.insert(lines.index("### Side by side, per family"), f"![per-family PR-AUC and TPR]({png.name})\n")
    text = "\n".join(lines) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps(raw, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
