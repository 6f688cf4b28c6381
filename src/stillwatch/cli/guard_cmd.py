"""`stillwatch guard` sub-commands: simulate traffic, scan logs for harvesting campaigns, evaluate.

Each command lives in its own block below (``simulate`` and ``eval``: data/evaluation;
``scan``: detection pipeline). Heavy imports (pyarrow, duckdb) happen inside the commands.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Find distillation / harvesting campaigns in API logs (simulate, scan, eval).",
    no_args_is_help=True,
)


def _check_output(path: str, force: bool, what: str) -> None:
    """The CLI's one output check (:func:`stillwatch.records.check_output`), before any work."""
    from pathlib import Path

    from stillwatch.records import check_output

    check_output(Path(path), force=force, what=what)


def _replace_atomically(write, *paths: str) -> None:
    """Call ``write(*temporary paths)`` then rename each temporary file onto its path: a run killed
    mid-write leaves the old file (or none), never a truncated Parquet file."""
    import os
    from pathlib import Path

    tmps = [str(Path(p).with_name(f".{Path(p).name}.{os.getpid()}.tmp")) for p in paths]
    try:
        write(*tmps)
        for tmp, final in zip(tmps, paths):
            os.replace(tmp, final)
    finally:
        for tmp in tmps:
            Path(tmp).unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------
# simulate (data/evaluation)


@app.command("simulate")
def simulate_cmd(
    out: str = typer.Option(..., "--out", help="Parquet file to write the simulated log to."),
    labels: str = typer.Option(..., "--labels", help="Parquet file to write the ground-truth labels to."),
    scenario: str = typer.Option("mixed", "--scenario", help="Scenario family: cot_templates, cot_paraphrase, coding, agentic, rubric, reseller, pivot, swarm, heldout, mixed; with hard negatives: keyrot, reseller30, burst, cohort, spread."),
    exchanges: int = typer.Option(100_000, "--exchanges", help="Number of exchanges (rows) to simulate."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    json_out: bool = typer.Option(False, "--json", help="Print a machine-readable summary."),
    hard_negatives: bool = typer.Option(False, "--hard-negatives", help="Add the hard-negative populations "
                                        "(popular public prompts, classes, NAT, labs, apps, monitors, resellers)."),
    force: bool = typer.Option(False, "--force", help="Replace OUT and LABELS if they exist."),
) -> None:
    """Simulate API traffic: a benign population plus harvesting campaigns, with labels."""
    import json
    from pathlib import Path

    import pyarrow.compute as pc
    from rich.console import Console

    from stillwatch.errors import InputError
    from stillwatch.guard_sim.simulate import simulate, write_simulation

    if Path(out).resolve() == Path(labels).resolve():
        raise InputError(f"--out and --labels name the same file ({out}); give two paths")
    _check_output(out, force, "--out")
    _check_output(labels, force, "--labels")
    console = Console(stderr=True)
    with console.status(f"simulating {exchanges:,} exchanges ({scenario})"):
        log_table, label_table = simulate(scenario, exchanges, seed, hard_negatives=hard_negatives)
        _replace_atomically(lambda o, lb: write_simulation(log_table, label_table, o, lb), out, labels)
    camp = label_table.filter(pc.is_valid(label_table["campaign_id"]))
    summary = {
        "scenario": scenario,
        "seed": seed,
        "exchanges": log_table.num_rows,
        "accounts": label_table.num_rows,
        "campaign_accounts": camp.num_rows,
        "campaigns": sorted(pc.unique(camp["campaign_id"]).to_pylist()),
        "out": out,
        "labels": labels,
    }
    if json_out:
        typer.echo(json.dumps(summary))
    else:
        typer.echo(
            f"wrote {summary['exchanges']:,} exchanges from {summary['accounts']:,} accounts "
            f"({summary['campaign_accounts']:,} in {len(summary['campaigns'])} campaigns) to {out}; labels in {labels}"
        )


# ---------------------------------------------------------------------------------------------
# scan (detection pipeline)


def _with_gateway_creation_times(input_path: str):
    """What ``guard scan`` reads: a ledger whose database also holds the gateway's accounts, as its log table with
    their creation times as the optional ``account_created_at`` column (an aged account's burst is measured from
    its creation; a creation is an arrival: docs/guard-log-schema.md); any other source as given."""
    from stillwatch.guard.log.ledger_log import ledger_location, read_ledger_table, with_account_created

    location = ledger_location(input_path)
    if location is None:
        return input_path
    from stillwatch.gateway.accounts import account_creation_times

    created = account_creation_times(location)
    if not created:
        return input_path
    table, _ = read_ledger_table(location)
    return with_account_created(table, created)


@app.command("scan")
def scan_cmd(
    input_path: str = typer.Option(..., "--input", help="Log to scan: Parquet, JSONL, or a Stillwatch ledger (SQLite file, postgresql:// URL, ledger:LOCATION)."),
    out: str = typer.Option(None, "--out", help="Write the findings JSON here."),
    engine: str = typer.Option("duckdb", "--engine", help="Feature engine: duckdb (embedded) or spark (local mode)."),
    json_out: bool = typer.Option(False, "--json", help="Print the findings JSON to stdout."),
    force: bool = typer.Option(False, "--force", help="Replace the --out file if it exists."),
) -> None:
    """Scan a log for harvesting accounts and coordinated campaigns; explain every finding."""
    import json
    import logging
    from pathlib import Path

    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from stillwatch.errors import InputError
    from stillwatch.guard.batch.scan import scan

    if out:
        _check_output(out, force, "--out")  # before the job, not after it
    # the malformed-row counts are reported once, in this command's summary (or its one-line error)
    logging.getLogger("stillwatch.guard.log.ingest").setLevel(logging.ERROR)
    console = Console(stderr=True)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
                  transient=True) as progress:
        task = progress.add_task(f"scanning {input_path} ({engine})", total=None)
        findings = scan(_with_gateway_creation_times(input_path), engine=engine,
                        progress=lambda msg: progress.update(task, description=f"scan: {msg}"))
    bad = sum(findings.malformed.values())
    if findings.n_rows == 0 and bad:
        reasons = ", ".join(f"{k}={v}" for k, v in sorted(findings.malformed.items()))
        raise InputError(f"{input_path}: 0 of {bad:,} rows valid ({reasons}); see docs/guard-log-schema.md")
    doc = findings.to_json()
    if out:
        _replace_atomically(lambda tmp: Path(tmp).write_text(json.dumps(doc, indent=2)), out)
    if json_out:
        typer.echo(json.dumps(doc))
        return
    typer.echo(
        f"{findings.n_rows:,} exchanges from {len(findings.accounts):,} accounts; "
        f"{len(findings.flagged):,} accounts flagged in {len(findings.campaigns)} campaigns"
        + (f"; {bad:,} malformed rows skipped ({', '.join(f'{k}={v}' for k, v in sorted(findings.malformed.items()))})" if bad else "")
    )
    for c in findings.campaigns[:20]:
        typer.echo(
            f"  {c.campaign_id}: {len(c.accounts)} accounts, {c.exchanges:,} exchanges, "
            f"{c.human_rate_multiple:.1f}x human-feasible rate ({c.extraction_multiple:.1f}x in new information), "
            f"score {c.score:.2f}; fired: {', '.join(c.fired)}"
        )
    if out:
        typer.echo(f"findings written to {out}")


# ---------------------------------------------------------------------------------------------
# eval (data/evaluation)


def _fmt(x, pct: bool = False) -> str:
    if x is None:
        return "n/a"
    return f"{100 * x:.2f}%" if pct else f"{x:.3f}"


@app.command("eval")
def eval_cmd(
    scenario: list[str] = typer.Option(["mixed"], "--scenario", help="Scenario family; repeat for several."),
    exchanges: int = typer.Option(100_000, "--exchanges", help="Exchanges to simulate per scenario."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    detectors: str = typer.Option(
        "stillwatch,rate_limit,prada,seat,synchrotrap", "--detectors", help="Comma-separated detectors to compare."
    ),
    stream: bool = typer.Option(True, "--stream/--no-stream", help="Replay the log through the streaming scorer."),
    json_out: bool = typer.Option(False, "--json", help="Print machine-readable results."),
    log_path: str | None = typer.Option(None, "--log", help="Evaluate on this labelled log instead of simulating."),
    labels_path: str | None = typer.Option(None, "--labels", help="Labels (Parquet) for --log."),
    hard_negatives: bool = typer.Option(False, "--hard-negatives", help="Add the hard-negative populations "
                                        "(popular public prompts, classes, NAT, labs, apps, monitors, resellers)."),
) -> None:
    """Evaluate Stillwatch and the baselines on simulated scenario families (each reported separately),
    with figures per benign population; Stillwatch ranking behind the rate limiter is a failing result."""
    import json

    from rich.console import Console
    from rich.table import Table

    from stillwatch.errors import InputError
    from stillwatch.guard_eval.evaluate import DETECTORS, evaluate_files, evaluate_scenario
    from stillwatch.guard_sim.simulate import get_scenario

    names = [d.strip() for d in detectors.split(",") if d.strip()]
    unknown = [d for d in names if d not in DETECTORS]
    if unknown or not names:
        raise InputError(f"unknown detector(s) {unknown}; choose from {', '.join(DETECTORS)}")
    for s in scenario:
        get_scenario(s)  # fail fast on a typo
    console = Console(stderr=True)
    results = []
    if (log_path is None) != (labels_path is None):
        raise InputError("--log and --labels go together")
    if log_path is not None:
        _check_labels_describe_log(log_path, labels_path)
    with console.status("evaluating") as status:
        if log_path is not None:
            results.append(evaluate_files(log_path, labels_path, names, stream=stream, progress=status.update))
        for s in scenario if log_path is None else []:
            evals, info = evaluate_scenario(s, exchanges, seed, names, stream=stream, progress=status.update,
                                            hard_negatives=hard_negatives)
            results.append((evals, info))
    if json_out:
        typer.echo(json.dumps([{"info": info, "results": [e.to_json() for e in evals]} for evals, info in results]))
        return
    out = Console(width=max(Console().width, 132))
    for evals, info in results:
        e0 = evals[0]
        t = Table(title=f"{info['scenario']}: {e0.n_benign:,} benign accounts, {e0.n_campaign_accounts:,} campaign "
                        f"accounts in {e0.n_campaigns} campaigns, {info['n_exchanges']:,} exchanges (seed {info.get('seed', 'n/a')})")
        for col in ("detector", "TPR@1e-3", "TPR@1e-4", "PR-AUC", "own TPR", "own FPR", "ARI", "recovered",
                    "harvest before alarm (max)"):
            t.add_column(col, justify="right" if col != "detector" else "left")
        for e in evals:
            t1 = _fmt(e.tpr_at["1e-3"]) + ("" if e.measurable["1e-3"] else "*")
            t4 = _fmt(e.tpr_at["1e-4"]) + ("" if e.measurable["1e-4"] else "*")
            t.add_row(e.detector, t1, t4, _fmt(e.pr_auc), _fmt(e.own_tpr), _fmt(e.own_fpr), _fmt(e.ari),
                      _fmt(e.campaigns_recovered), _fmt(e.harvest_max, pct=True))
        out.print(t)
        if any(not v for e in evals for v in e.measurable.values()):
            out.print("* fewer benign accounts than 1/FPR: that FPR cannot be measured here (use more --exchanges)")
        _print_populations(out, evals, info)
        for e in evals:
            for note in e.notes:
                out.print(f"note ({e.detector}): {note}")


def _print_populations(out, evals, info: dict) -> None:
    """Per population: each detector's flagged share (benign: goal <= 1 %) and the share above its
    FPR-1e-4 threshold (campaign families: the TPR); then Stillwatch against the rate limiter."""
    from rich.table import Table

    from stillwatch.guard_eval.population import POPULATION_FP_GOAL

    if not evals or not evals[0].populations:
        return
    t = Table(title="per population: flagged by the detector's own decision (share above its FPR-1e-4 threshold)")
    t.add_column("population")
    t.add_column("accounts", justify="right")
    for e in evals:
        t.add_column(e.detector, justify="right")
    for i, p in enumerate(evals[0].populations):
        cells = []
        for e in evals:
            q = e.populations[i]
            bad = " FAIL" if q.benign and q.flagged > POPULATION_FP_GOAL else ""
            cells.append(f"{_fmt(q.flagged, pct=True)}{bad} ({_fmt(q.above, pct=True)})")
        t.add_row(p.population, f"{p.accounts:,}", *cells)
    out.print(t)
    vs = info.get("versus_baselines", {})
    if vs.get("behind_rate_limit") is not None:
        rl = vs["rate_limit"]["pr_auc"]
        verdict = "FAIL: Stillwatch ranks behind the rate limiter" if vs["behind_rate_limit"] else "pass"
        out.print(f"Stillwatch vs rate limit, PR-AUC {_fmt(vs['stillwatch'])} vs {_fmt(rl)}: {verdict}")


def _check_labels_describe_log(log_path: str, labels_path: str) -> None:
    """Refuse, before evaluating, labels that name none of a Parquet log's accounts (labels of
    another simulation): there would be nothing to score. Other log formats are checked by the harness."""
    from stillwatch.errors import InputError

    if not str(log_path).endswith(".parquet") or not str(labels_path).endswith(".parquet"):
        return
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        log_ids = pc.unique(pq.read_table(log_path, columns=["account_id"])["account_id"])
        label_ids = pq.read_table(labels_path, columns=["account_id"])["account_id"]
    except (OSError, KeyError, pa.ArrowException):
        return  # unreadable or without the column: the harness reports it with its own message
    if len(log_ids) and not pc.any(pc.is_in(log_ids, value_set=label_ids)).as_py():
        raise InputError(f"the labels {labels_path} name none of the {len(log_ids):,} accounts in {log_path}: "
                         "labels of another log or simulation?")
