"""`stillwatch trace` sub-commands: radioactivity (open / closed model) with account attribution."""

from __future__ import annotations

import json
from pathlib import Path

import typer

app = typer.Typer(help="Trace a suspect model back to harvested, watermarked outputs.", no_args_is_help=True)


@app.command("radioactivity")
def radioactivity_cmd(
    suspect: str = typer.Option(..., "--suspect", help="A model directory (open or closed setting) or an OpenAI-compatible URL (closed)."),
    master_key: Path = typer.Option(..., "--master-key", help="The provider's master key file."),
    transcripts: Path = typer.Option(None, "--transcripts", help="Harvest transcripts: spec, accounts and scoring texts."),
    setting: str = typer.Option("open", "--setting", help="open (teacher-forced, needs weights) | closed (generations only)."),
    scoring: str = typer.Option("suspect", "--scoring", help="Open setting: suspect (its own answers; exact) | reference (unwatermarked --reference texts; exact, no generation) | transcripts (the harvested answers; conservative)."),
    base: str = typer.Option(None, "--base", help="The model the suspect is believed to be fine-tuned from (smollm2 or a directory): differential test, exact and far more powerful."),
    reference: Path = typer.Option(None, "--reference", help="Unwatermarked transcripts (a --no-watermark harvest) for --scoring reference."),
    accounts: Path = typer.Option(None, "--accounts", help="File with one account id per line to test (default: the transcripts' accounts)."),
    teacher: str = typer.Option(None, "--teacher", help="Teacher whose tokenizer re-tokenizes a foreign suspect's answers (default: from transcripts)."),
    max_texts: int = typer.Option(512, "--max-texts", help="Scoring texts (open) or prompts (closed) to use."),
    max_new_tokens: int = typer.Option(128, "--max-new-tokens", min=1, help="Closed setting: tokens per answer."),
    temperature: float = typer.Option(1.0, "--temperature", min=0.01, help="Closed setting: sampling temperature of the suspect's answers."),
    reanswer_tokens: int = typer.Option(128, "--reanswer-tokens", min=1, help="Open setting, --scoring suspect: tokens per re-answer."),
    reanswer_temperature: float = typer.Option(1.0, "--reanswer-temperature", min=0.01, help="Open setting, --scoring suspect: sampling temperature of the re-answers."),
    api_key: str = typer.Option(None, "--api-key", help="API key for a URL suspect."),
    seed: int = typer.Option(0, "--seed"),
    alpha: float = typer.Option(1e-3, "--alpha", help="Level at which an account layer is called present (after correction)."),
    watermark_config: Path = typer.Option(None, "--watermark-config", help="JSON watermark settings of the deployment, when the transcripts carry no spec records (default: the built-in default)."),
    plot: Path = typer.Option(None, "--plot", help="Write the p-value-versus-tokens curve as a PNG."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Test whether SUSPECT was trained on text watermarked with the provider key (exact p-value)."""
    from stillwatch.errors import InputError
    from stillwatch.mark import MarkConfig, MasterKey
    from stillwatch.models import load_backend
    from stillwatch.trace.api import run_radioactivity
    from stillwatch.trace.radioactivity import RadioactivityConfig

    cfg = RadioactivityConfig(setting=setting, scoring=scoring, max_texts=max_texts, max_new_tokens=max_new_tokens, temperature=temperature,
                              reanswer_tokens=reanswer_tokens, reanswer_temperature=reanswer_temperature, seed=seed, alpha=alpha)
    master = MasterKey.load(master_key)
    acc = None
    if accounts is not None:
        if not accounts.is_file():
            raise InputError(f"accounts file not found: {accounts}")
        acc = [a.strip() for a in accounts.read_text().splitlines() if a.strip()]
    remote = suspect.lower().startswith(("http://", "https://"))
    s_backend = load_backend(suspect, **({"api_key": api_key} if (remote and api_key) else {}))
    t_backend = load_backend(teacher) if teacher else None
    base_backend = None
    if base:  # in the suspect's dtype: precision alone would move top-1 predictions (the differential test counts those)
        from stillwatch.trace.radioactivity import model_dtype

        sd = model_dtype(s_backend)
        base_backend = load_backend(base, **({"dtype": sd} if sd else {}))
    result = run_radioactivity(s_backend, master, transcripts=transcripts, config=cfg, accounts=acc, teacher=t_backend,
                               teacher_loader=load_backend, reference=reference, base=base_backend,
                               mark_config=MarkConfig.load(watermark_config) if watermark_config else None)
    d = result.to_dict()
    if plot is not None:
        from stillwatch.trace.plots import plot_curve

        plot_curve(result, plot)
    if json_out:
        typer.echo(json.dumps(d))
        return
    from rich.console import Console
    from rich.table import Table

    con = Console()
    verdict = "RADIOACTIVE" if result.p_value <= alpha else "no evidence"
    what = (f"{result.n_green} of {result.n_scored * result.depth} g-values 1" if result.depth
            else f"{result.n_green} green, gamma = {result.gamma}")
    con.print(f"[bold]{setting}-model radioactivity[/] of {suspect}: p = {result.p_value:.3g} over {result.n_scored} "
              f"distinct tuples ({what}) -> [bold]{verdict}[/] at alpha = {alpha}")
    if result.accounts:
        t = Table("account", "p_value", "corrected", "present")
        for row in sorted(result.accounts, key=lambda r: r["p_value"])[:20]:
            t.add_row(row["account"], f"{row['p_value']:.3g}", f"{row['corrected_p_value']:.3g}", "yes" if row["present"] else "")
        con.print(t)
