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
