"""`stillwatch mark`: watermarked generation, detection and attribution."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console

from stillwatch.cli._io import dumps, read_jsonl, read_lines

app = typer.Typer(help="Watermark answers, and detect/attribute watermarks in texts.", no_args_is_help=True)


@app.command("generate")
def generate(
    master_key: Path = typer.Option(..., "--master-key", help="Master key file (from `stillwatch keys new`)."),
    account: str = typer.Option(..., "--account", help="Account the answers are for (its layer is added)."),
    prompts: Path = typer.Option(..., "--prompts", help='JSONL input, one {"prompt": ...} per line.'),
    out: Path = typer.Option(..., "--out", help="JSONL output: prompt, text, account, spec, model, token counts."),
    model: str = typer.Option("smollm2", "--model", help="smollm2 | tiny | URL of an OpenAI-compatible API | model directory."),
    no_watermark: bool = typer.Option(False, "--no-watermark", help="Answer without any watermark (spec is null)."),
    max_new_tokens: int = typer.Option(128, "--max-new-tokens", min=1, max=4096),
    temperature: float = typer.Option(0.8, "--temperature", min=0.01),
    batch_size: int = typer.Option(32, "--batch-size", min=1, max=256),
    seed: int = typer.Option(0, "--seed"),
    watermark_config: Path = typer.Option(None, "--watermark-config", help="JSON watermark settings (MarkConfig fields, e.g. {\"provider\": {\"scheme\": \"kgw\", \"delta\": 2.0}}); unset fields keep the default, recorded in every spec."),
    json_out: bool = typer.Option(False, "--json", help="Print a JSON summary instead of a sentence."),
) -> None:
    """Answer prompts with the model, marking each answer with the provider and account layers."""
    from stillwatch.cli._mark_ops import generate_answers
    from stillwatch.mark import MarkConfig

    rows = [obj for _, obj in read_jsonl(prompts, required=("prompt",))]
    summary = generate_answers(
        rows, master_key=master_key, account=account, out=out, model=model, watermark=not no_watermark,
        max_new_tokens=max_new_tokens, temperature=temperature, batch_size=batch_size, seed=seed,
        config=MarkConfig.load(watermark_config) if watermark_config else None,
    )
    if json_out:
        print(dumps(summary))
    else:
        Console(stderr=True).print(f"wrote {summary['answers']} answers to {out} ({summary['completion_tokens']} tokens, watermark={'on' if summary['watermark'] else 'off'})")


@app.command("detect")
def detect(
    master_key: Path = typer.Option(..., "--master-key", help="Master key file."),
    input: Path = typer.Option(..., "--input", help='JSONL input, one {"text": ...} per line (optional "prompt", "spec").'),
    accounts: Path | None = typer.Option(None, "--accounts", help="File with one candidate account id per line: attribute each text."),
    model: str = typer.Option("smollm2", "--model", help="Model whose tokenizer produced the texts."),
    alpha: float = typer.Option(1e-3, "--alpha", min=0.0, max=1.0, help="Significance level for naming an account and for 'detected'."),
    exclude_prompt: bool = typer.Option(False, "--exclude-prompt", help="Do not score windows that also occur in the line's prompt."),
    watermark_config: Path = typer.Option(None, "--watermark-config", help="JSON watermark settings for lines without a spec record (lines with one are scored with their own)."),
    json_out: bool = typer.Option(False, "--json", help="One JSON object per input line on stdout."),
) -> None:
    """Test each text for the provider layer (exact p-value) and, with --accounts, attribute it."""
    from stillwatch.cli._mark_ops import detect_texts
    from stillwatch.mark import MarkConfig

    rows = list(read_jsonl(input, required=("text",)))
    account_ids = read_lines(accounts) if accounts is not None else None
    results = detect_texts(rows, master_key=master_key, account_ids=account_ids, model=model, alpha=alpha, exclude_prompt=exclude_prompt,
                           config=MarkConfig.load(watermark_config) if watermark_config else None)
    if json_out:
        for r in results:
            sys.stdout.write(dumps(r) + "\n")
    else:
        from rich.table import Table

        t = Table(title=f"watermark detection ({len(results)} texts)")
        for col in ("line", "tokens scored", "provider p-value", "detected", "account", "account p (corrected)", "note"):
            t.add_column(col)
        for r in results:
            if "error" in r:
                t.add_row(str(r["line"]), "-", "-", "-", "-", "-", r["error"])
                continue
            t.add_row(
                str(r["line"]), str(r["n_scored"]), f"{r['p_value']:.3g}", "yes" if r["detected"] else "no",
                str(r.get("account") or "-"), f"{r['account_p_value']:.3g}" if r.get("account_p_value") is not None else "-", "",
            )
        Console().print(t)
    errors = sum(1 for r in results if "error" in r)
    if results and errors == len(results):
        from stillwatch.errors import InputError

        raise InputError(f"no text could be scored ({errors} errors; first: {results[0]['error']})")
