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


# ---------------------------------------------------------------------------------------------
# simulate (data/evaluation)


@app.command("simulate")
def simulate_cmd(
    out: str = typer.Option(..., "--out", help="Parquet file to write the simulated log to."),
    labels: str = typer.Option(..., "--labels", help="Parquet file to write the ground-truth labels to."),
    scenario: str = typer.Option("mixed", "--scenario", help="Scenario family: cot_templates, cot_paraphrase, coding, agentic, rubric, reseller, pivot, swarm, heldout, mixed."),
    exchanges: int = typer.Option(100_000, "--exchanges", help="Number of exchanges (rows) to simulate."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    json_out: bool = typer.Option(False, "--json", help="Print a machine-readable summary."),
) -> None:
    """Simulate API traffic: a benign population plus harvesting campaigns, with labels."""
    import json

    import pyarrow.compute as pc
    from rich.console import Console

    from stillwatch.guard.simulate import simulate, write_simulation

    console = Console(stderr=True)
    with console.status(f"simulating {exchanges:,} exchanges ({scenario})"):
        log_table, label_table = simulate(scenario, exchanges, seed)
        write_simulation(log_table, label_table, out, labels)
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


@app.command("scan")
def scan_cmd(
    input_path: str = typer.Option(..., "--input", help="Log to scan: Parquet or JSONL."),
    out: str = typer.Option(None, "--out", help="Write the findings JSON here."),
    engine: str = typer.Option("duckdb", "--engine", help="Feature engine: duckdb (embedded) or spark (local mode)."),
    json_out: bool = typer.Option(False, "--json", help="Print the findings JSON to stdout."),
) -> None:
    """Scan a log for harvesting accounts and coordinated campaigns; explain every finding."""
    import json
    from pathlib import Path

    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from stillwatch.guard.scan import scan

    console = Console(stderr=True)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
                  transient=True) as progress:
        task = progress.add_task(f"scanning {input_path} ({engine})", total=None)
        findings = scan(input_path, engine=engine,
                        progress=lambda msg: progress.update(task, description=f"scan: {msg}"))
    doc = findings.to_json()
    if out:
        Path(out).write_text(json.dumps(doc, indent=2))
    if json_out:
        typer.echo(json.dumps(doc))
        return
    bad = sum(findings.malformed.values())
    typer.echo(
        f"{findings.n_rows:,} exchanges from {len(findings.accounts):,} accounts; "
        f"{len(findings.flagged):,} accounts flagged in {len(findings.campaigns)} campaigns"
        + (f"; {bad:,} malformed rows skipped ({', '.join(f'{k}={v}' for k, v in sorted(findings.malformed.items()))})" if bad else "")
    )
    for c in findings.campaigns[:20]:
        typer.echo(
            f"  {c.campaign_id}: {len(c.accounts)} accounts, {c.exchanges:,} exchanges, "
            f"{c.human_rate_multiple:.1f}x human-feasible rate, score {c.score:.2f}; fired: {', '.join(c.fired)}"
        )
    if out:
        typer.echo(f"findings written to {out}")
