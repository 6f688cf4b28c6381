"""`stillwatch distill` sub-commands: prompts, harvest, train."""

from __future__ import annotations

import json
from pathlib import Path

import typer

app = typer.Typer(help="Harvest a teacher and train a student on its answers.", no_args_is_help=True)


def _progress_bar(description: str, total: int):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return Progress(TextColumn(description), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TimeRemainingColumn(), TextColumn("{task.fields[info]}"), transient=False)


@app.command("prompts")
def prompts_cmd(
    out: Path = typer.Option(..., "--out", help="Output JSONL of prompts."),
    n: int = typer.Option(300, "--n", help="Number of prompts."),
    seed: int = typer.Option(0, "--seed"),
    families: str = typer.Option("reasoning,coding,tool_use", "--families", help="Comma-separated prompt families."),
) -> None:
    """Write built-in prompts (step-by-step reasoning, coding, tool use) — no external dataset needed."""
    from stillwatch.distill.prompts import generate_prompts, write_prompts

    ps = generate_prompts(n, seed=seed, families=tuple(f.strip() for f in families.split(",") if f.strip()))
    write_prompts(out, ps)
    typer.echo(f"wrote {len(ps)} prompts to {out}")


@app.command("harvest")
def harvest_cmd(
    teacher: str = typer.Option("smollm2", "--teacher", help="smollm2 | tiny | a model directory | an OpenAI-compatible URL."),
    prompts: Path = typer.Option(..., "--prompts", help="JSONL with a 'prompt' field per line."),
    accounts: int = typer.Option(4, "--accounts", help="Number of accounts the harvest is spread over."),
    out: Path = typer.Option(..., "--out", help="Transcript JSONL (appended to; a rerun resumes)."),
    master_key: Path = typer.Option(None, "--master-key", help="Master key that watermarks a local teacher."),
    no_watermark: bool = typer.Option(False, "--no-watermark", help="Answer without a watermark (local teacher; controls)."),
    max_new_tokens: int = typer.Option(128, "--max-new-tokens"),
    temperature: float = typer.Option(1.0, "--temperature"),
    batch_size: int = typer.Option(16, "--batch-size", help="Prompts per forward pass (local teacher)."),
    concurrency: int = typer.Option(4, "--concurrency", help="Requests in flight (remote teacher)."),
    api_keys: Path = typer.Option(None, "--api-keys", help="Remote teacher: file with one API key per line, one per account."),
    model: str = typer.Option(None, "--model", help="Remote teacher: model name to request."),
    seed: int = typer.Option(0, "--seed"),
    watermark_config: Path = typer.Option(None, "--watermark-config", help="JSON watermark settings (MarkConfig fields, e.g. {\"provider\": {\"scheme\": \"kgw\", \"delta\": 2.0}}); unset fields keep the default, recorded in every spec."),
    json_out: bool = typer.Option(False, "--json", help="Print a JSON summary."),
) -> None:
    """Answer PROMPTS with TEACHER through N accounts; durable, resumable transcripts."""
    from stillwatch.distill.harvest import HarvestConfig, harvest
    from stillwatch.distill.prompts import read_prompts
    from stillwatch.errors import InputError
    from stillwatch.models import load_backend

    ps = read_prompts(prompts)
    cfg = HarvestConfig(accounts=accounts, max_new_tokens=max_new_tokens, temperature=temperature, batch_size=batch_size,
                        concurrency=concurrency, seed=seed, watermark=not no_watermark)
    remote = teacher.lower().startswith(("http://", "https://"))
    master = None
    if not remote and not no_watermark:
        if master_key is None:
            raise InputError("--master-key is required to watermark a local teacher (or pass --no-watermark)")
        from stillwatch.mark import MasterKey

        master = MasterKey.load(master_key)
    kwargs = {"model": model} if (remote and model) else {}
    backend = load_backend(teacher, **kwargs)
    account_backends = None
    if remote and api_keys is not None:
        keys = [k.strip() for k in Path(api_keys).read_text().splitlines() if k.strip()]
        if len(keys) < accounts:
            raise InputError(f"{api_keys} holds {len(keys)} API key(s) for {accounts} accounts")
        account_backends = {a: load_backend(teacher, api_key=k, **kwargs) for a, k in zip(cfg.account_ids(), keys)}
    with _progress_bar("harvest", len(ps)) as bar:
        task = bar.add_task("harvest", total=len(ps), info="")
        from stillwatch.mark import MarkConfig

        summary = harvest(backend, ps, out, cfg, master=master, account_backends=account_backends,
                          mark_config=MarkConfig.load(watermark_config) if watermark_config else None,
                          progress=lambda n: bar.update(task, completed=n))
    if json_out:
        typer.echo(json.dumps(summary.to_dict()))
    else:
        typer.echo(f"{summary.n_written} answers written, {summary.n_skipped} already done, {len(summary.accounts)} accounts "
                   f"(watermark: {summary.watermark}) -> {out}")


@app.command("train")
def train_cmd(
    transcripts: Path = typer.Option(..., "--transcripts", help="Harvest transcripts (JSONL)."),
    student: str = typer.Option(..., "--student", help="A preset (tiny, small-smollm2) or JSON StudentConfig (fresh model), or an existing model to fine-tune: smollm2 or a model directory."),
    out: Path = typer.Option(..., "--out", help="Output directory (checkpoints, final model)."),
    loss: str = typer.Option("seq", "--loss", help="seq (sequence-level KD) | fkl (forward KL) | jsd (generalised JSD)."),
    teacher: str = typer.Option(None, "--teacher", help="Local teacher for token-level KD (fkl/jsd)."),
    epochs: int = typer.Option(3, "--epochs"),
    batch_size: int = typer.Option(8, "--batch-size"),
    lr: float = typer.Option(2e-3, "--lr"),
    max_len: int = typer.Option(256, "--max-len"),
    eval_fraction: float = typer.Option(0.1, "--eval-fraction"),
    jsd_beta: float = typer.Option(0.5, "--jsd-beta"),
    temperature: float = typer.Option(1.0, "--temperature"),
    checkpoint_every: int = typer.Option(200, "--checkpoint-every"),
    warmup: int = typer.Option(10, "--warmup", min=0, help="Learning-rate warmup steps (linear); on a small harvest keep it well below the number of steps."),
    train_layers: int = typer.Option(0, "--train-layers", help="Fine-tune only the last N decoder blocks (0: all weights)."),
    seed: int = typer.Option(0, "--seed"),
    no_resume: bool = typer.Option(False, "--no-resume", help="Start over even if OUT holds a checkpoint."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Train a student on harvested answers (sequence-level or token-level KD); resumable."""
    from stillwatch.distill.student import build_student, load_pretrained_student, resolve_student_config
    from stillwatch.distill.train import TrainConfig, train
    from stillwatch.distill.transcripts import read_transcripts
    from stillwatch.models import load_backend

    cfg = TrainConfig(loss=loss, epochs=epochs, batch_size=batch_size, lr=lr, max_len=max_len, eval_fraction=eval_fraction,
                      jsd_beta=jsd_beta, temperature=temperature, checkpoint_every=checkpoint_every, seed=seed,
                      train_layers=train_layers, warmup_steps=warmup)
    records = read_transcripts(transcripts)
    scfg = resolve_student_config(student)
    st = build_student(scfg) if scfg is not None else load_pretrained_student(student)
    t_backend = load_backend(teacher) if teacher else None
    with _progress_bar("train", 1) as bar:
        task = bar.add_task("train", total=None, info="")

        def prog(step: int, total: int, loss_value: float) -> None:
            bar.update(task, completed=step, total=total, info=f"loss {loss_value:.3f}")

        summary = train(records, st, out, cfg, teacher=t_backend, resume=not no_resume, progress=prog)
    if json_out:
        typer.echo(json.dumps(summary.to_dict()))
    else:
        typer.echo(f"trained {summary.steps} steps on {summary.n_train} answers; held-out loss "
                   f"{summary.eval_loss_before} -> {summary.eval_loss}; saved to {out}")
