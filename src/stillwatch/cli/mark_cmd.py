"""`stillwatch mark`: watermarked generation, detection and attribution."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from stillwatch.cli._io import dumps

app = typer.Typer(help="Watermark answers, and detect/attribute watermarks in texts.", no_args_is_help=True)


@app.command("generate")
def generate(
    master_key: Path = typer.Option(None, "--master-key", help="Master key file (from `stillwatch keys new`); not needed with --no-watermark."),
    account: str = typer.Option(..., "--account", help="Account the answers are for (its layer is added)."),
    prompts: Path = typer.Option(..., "--prompts", help='JSONL input, one {"prompt": ...} per line ("id", "family" optional).'),
    out: Path = typer.Option(..., "--out", help="JSONL output: one answer record per prompt (the format distill train and trace read)."),
    model: str = typer.Option("smollm2", "--model", help="smollm2 | tiny | URL of an OpenAI-compatible API | model directory."),
    no_watermark: bool = typer.Option(False, "--no-watermark", help="Answer without any watermark (spec is null)."),
    max_new_tokens: int = typer.Option(128, "--max-new-tokens", min=1, max=4096),
    temperature: float = typer.Option(0.8, "--temperature", min=0.01, max=100.0),
    batch_size: int = typer.Option(32, "--batch-size", min=1, max=256),
    seed: int = typer.Option(0, "--seed", min=0),
    force: bool = typer.Option(False, "--force", help="Replace OUT if it exists."),
    json_out: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout instead of a sentence."),
) -> None:
    """Answer prompts with the model, marking each answer with the provider and account layers."""
    from stillwatch.cli._mark_ops import generate_answers
    from stillwatch.errors import InputError
    from stillwatch.mark import MasterKey
    from stillwatch.records import check_output, read_prompts

    if not account.strip():
        raise InputError("--account must not be empty")
    check_output(out, force=force)  # before the job, not after it
    ps = read_prompts(prompts)
    if not no_watermark and master_key is None:
        raise InputError("--master-key is needed to watermark answers (or pass --no-watermark)")
    master = MasterKey.load(master_key) if not no_watermark else None
    summary = generate_answers(ps, master=master, account=account, out=out, model=model, watermark=not no_watermark,
                               max_new_tokens=max_new_tokens, temperature=temperature, batch_size=batch_size, seed=seed)
    if json_out:
        sys.stdout.write(dumps(summary) + "\n")
    else:
        sys.stdout.write(f"wrote {summary['answers']} answers to {out} ({summary['completion_tokens']} tokens, "
                         f"watermark={'on' if summary['watermark'] else 'off'})\n")


@app.command("detect")
def detect(
    master_key: Path = typer.Option(..., "--master-key", help="Master key file."),
    input: Path = typer.Option(..., "--input", help='JSONL input, one {"text": ...} per line (optional "prompt", "spec"); answer records of `mark generate` / `distill harvest` too.'),
    accounts: Path | None = typer.Option(None, "--accounts", help="File with one candidate account id per line: attribute each text."),
    model: str = typer.Option("smollm2", "--model", help="Model whose tokenizer produced the texts (only its tokenizer is loaded)."),
    alpha: float = typer.Option(1e-3, "--alpha", min=0.0, max=1.0, help="Significance level for naming an account and for 'detected'."),
    exclude_prompt: bool = typer.Option(False, "--exclude-prompt", help="Do not score windows that also occur in the line's prompt."),
    json_out: bool = typer.Option(False, "--json", help="One JSON object per input line on stdout."),
) -> None:
    """Test each text for the provider layer (exact p-value) and, with --accounts, attribute it.

    A reading command that reports per line: a line that cannot be scored (not UTF-8, not JSON, no
    text, too short, another tokenizer) gets an "error" and the other lines are still scored."""
    from stillwatch.cli._io import read_accounts
    from stillwatch.cli._mark_ops import detect_texts
    from stillwatch.errors import InputError
    from stillwatch.mark import MasterKey
    from stillwatch.models import load_tokenizer
    from stillwatch.records import iter_lines

    master = MasterKey.load(master_key)
    account_ids = read_accounts(accounts) if accounts is not None else None
    lines = list(iter_lines(input, what="input file", errors="report"))
    results = detect_texts(lines, master=master, account_ids=account_ids, tokenizer=load_tokenizer(model), alpha=alpha,
                           exclude_prompt=exclude_prompt)
    if json_out:
        for r in results:
            sys.stdout.write(dumps(r) + "\n")
    else:
        _print_table(results)
    errors = sum(1 for r in results if "error" in r)
    if not results:
        raise InputError(f"the input file {input} holds no lines")
    if errors == len(results):
        raise InputError(f"no text could be scored ({errors} errors; first: {results[0]['error']})")


def _print_table(results: list[dict]) -> None:
    from rich.console import Console
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
