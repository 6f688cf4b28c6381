"""`stillwatch distill` sub-commands: prompts, harvest, train.

Results go to stdout (a sentence, or only JSON with ``--json``); progress bars and diagnostics go to
stderr. Every input and output is checked before the job starts.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from stillwatch.cli._io import dumps, on_interrupt, progress_bar, status

app = typer.Typer(help="Harvest a teacher and train a student on its answers.", no_args_is_help=True)


def _say(json_out: bool, summary: dict, sentence: str) -> None:
    sys.stdout.write((dumps(summary) if json_out else sentence) + "\n")


@app.command("prompts")
def prompts_cmd(
    out: Path = typer.Option(..., "--out", help="Output JSONL of prompts."),
    n: int = typer.Option(300, "--n", min=1, max=1_000_000, help="Number of prompts."),
    seed: int = typer.Option(0, "--seed", min=0),
    families: str = typer.Option("reasoning,coding,tool_use", "--families", help="Comma-separated prompt families: reasoning, coding, tool_use, knowledge, writing."),
    force: bool = typer.Option(False, "--force", help="Replace OUT if it exists."),
) -> None:
    """Write built-in prompts (step-by-step reasoning, coding, tool use; general knowledge and writing requests) — no external dataset needed."""
    from stillwatch.distill.prompts import generate_prompts
    from stillwatch.records import check_output, write_prompts

    check_output(out, force=force)
    ps = generate_prompts(n, seed=seed, families=tuple(f.strip() for f in families.split(",") if f.strip()))
    write_prompts(out, ps)
    sys.stdout.write(f"wrote {len(ps)} prompts to {out}\n")


@app.command("harvest")
def harvest_cmd(
    teacher: str = typer.Option("smollm2", "--teacher", help="smollm2 | tiny | a model directory | an OpenAI-compatible URL."),
    prompts: Path = typer.Option(..., "--prompts", help="JSONL with a 'prompt' field per line."),
    accounts: int = typer.Option(4, "--accounts", min=1, max=100_000, help="Number of accounts the harvest is spread over."),
    out: Path = typer.Option(..., "--out", help="Answer records, JSONL (appended to: a rerun with the same settings resumes)."),
    master_key: Path = typer.Option(None, "--master-key", help="Master key that watermarks a local teacher."),
    no_watermark: bool = typer.Option(False, "--no-watermark", help="Answer without a watermark (local teacher; controls)."),
    max_new_tokens: int = typer.Option(128, "--max-new-tokens", min=1, max=4096),
    temperature: float = typer.Option(1.0, "--temperature", min=0.01, max=100.0),
    batch_size: int = typer.Option(16, "--batch-size", min=1, max=4096, help="Prompts per forward pass (local teacher)."),
    concurrency: int = typer.Option(4, "--concurrency", min=1, max=4096, help="Requests in flight (remote teacher)."),
    api_keys: Path = typer.Option(None, "--api-keys", help="Remote teacher: file with one API key per line, one per account."),
    model: str = typer.Option(None, "--model", help="Remote teacher: model name to request."),
    seed: int = typer.Option(0, "--seed", min=0),
    json_out: bool = typer.Option(False, "--json", help="Print only a JSON summary on stdout."),
) -> None:
    """Answer PROMPTS with TEACHER through N accounts; durable, resumable answer records."""
    from stillwatch.distill.harvest import HarvestConfig, harvest
    from stillwatch.errors import InputError
    from stillwatch.mark import MasterKey
    from stillwatch.models import load_backend
    from stillwatch.cli._io import read_list
    from stillwatch.records import check_appendable, read_prompts

    ps = read_prompts(prompts)
    cfg = HarvestConfig(accounts=accounts, max_new_tokens=max_new_tokens, temperature=temperature, batch_size=batch_size,
                        concurrency=concurrency, seed=seed, watermark=not no_watermark)
    check_appendable(out)  # before loading anything; an existing file is resumed, never replaced
    remote = teacher.lower().startswith(("http://", "https://"))
    master = None
    if not remote and not no_watermark:
        if master_key is None:
            raise InputError("--master-key is required to watermark a local teacher (or pass --no-watermark)")
        master = MasterKey.load(master_key)
    keys = None
    if remote and api_keys is not None:
        keys = read_list(api_keys, "API keys file")
        if len(keys) < accounts:
            raise InputError(f"{api_keys} holds {len(keys)} API key(s) for {accounts} accounts")
    kwargs = {"model": model} if (remote and model) else {}
    with status(f"loading the teacher {teacher} …"):
        backend = load_backend(teacher, **kwargs)
    account_backends = {a: load_backend(teacher, api_key=k, **kwargs) for a, k in zip(cfg.account_ids(), keys)} if keys else None
    seen: list[int] = []

    def stored() -> str:
        new = (seen[-1] - seen[0]) if seen else 0
        return (f"{new} new answers are stored in {out} ({seen[-1] if seen else 0} of {len(ps)} prompts answered in all); "
                "the batch in flight was not stored; rerun the same command to resume")

    with on_interrupt(stored), progress_bar("harvest", len(ps)) as update:
        summary = harvest(backend, ps, out, cfg, master=master, account_backends=account_backends,
                          progress=lambda k: (seen.append(k), update(k)))
    _say(json_out, summary.to_dict(), f"{summary.n_written} answers written, {summary.n_skipped} already done, "
         f"{len(summary.accounts)} accounts (watermark: {summary.watermark}) -> {out}")


def _check_train_out(out: Path, force: bool) -> None:
    """``out`` must be a directory Stillwatch may write a model into: new, an interrupted run's
    (resumed), or a finished one with --force."""
    from stillwatch.errors import InputError

    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; train writes a model directory there")
    if not out.parent.is_dir():
        raise InputError(f"the directory of --out {out} does not exist: {out.parent}")
    if out.is_dir() and not force:
        if (out / "train_summary.json").exists():
            raise InputError(f"{out} already holds a trained model; pass --force to replace it (or another --out)")
        if any(out.iterdir()) and not (out / "checkpoint").is_dir():
            raise InputError(f"{out} is not empty and holds no interrupted training run to resume; pass --force or another --out")


@app.command("train")
def train_cmd(
    transcripts: Path = typer.Option(..., "--transcripts", help="Answer records (JSONL from harvest or mark generate)."),
    student: str = typer.Option(..., "--student", help="A preset (tiny, small-smollm2) or JSON StudentConfig (fresh model), or an existing model to fine-tune: smollm2 or a model directory."),
    out: Path = typer.Option(..., "--out", help="Output directory (checkpoints, final model); an interrupted run there resumes."),
    loss: str = typer.Option("seq", "--loss", help="seq (sequence-level KD) | fkl (forward KL) | jsd (generalised JSD)."),
    teacher: str = typer.Option(None, "--teacher", help="Local teacher for token-level KD (fkl/jsd)."),
    epochs: int = typer.Option(3, "--epochs", min=1, max=10_000),
    batch_size: int = typer.Option(8, "--batch-size", min=1, max=4096),
    lr: float = typer.Option(2e-3, "--lr", min=1e-12, max=10.0),
    max_len: int = typer.Option(256, "--max-len", min=2, max=1_000_000),
    eval_fraction: float = typer.Option(0.1, "--eval-fraction", min=0.0, max=0.99),
    jsd_beta: float = typer.Option(0.5, "--jsd-beta", min=0.001, max=0.999),
    temperature: float = typer.Option(1.0, "--temperature", min=0.01, max=100.0),
    checkpoint_every: int = typer.Option(200, "--checkpoint-every", min=1),
    warmup: int = typer.Option(10, "--warmup", min=0, max=1_000_000, help="Learning-rate warmup steps (linear); on a small harvest keep it well below the number of steps."),
    train_layers: int = typer.Option(0, "--train-layers", min=0, help="Fine-tune only the last N decoder blocks (0: all weights)."),
    seed: int = typer.Option(0, "--seed", min=0),
    no_resume: bool = typer.Option(False, "--no-resume", help="Start over even if OUT holds a checkpoint."),
    force: bool = typer.Option(False, "--force", help="Replace a finished model in OUT."),
    json_out: bool = typer.Option(False, "--json", help="Print only a JSON summary on stdout."),
) -> None:
    """Train a student on harvested answers (sequence-level or token-level KD); resumable."""
    from stillwatch.distill.student import build_student, load_pretrained_student, resolve_student_config
    from stillwatch.distill.train import TrainConfig, train
    from stillwatch.models import load_backend
    from stillwatch.records import read_transcripts

    cfg = TrainConfig(loss=loss, epochs=epochs, batch_size=batch_size, lr=lr, max_len=max_len, eval_fraction=eval_fraction,
                      jsd_beta=jsd_beta, temperature=temperature, checkpoint_every=checkpoint_every, seed=seed,
                      train_layers=train_layers, warmup_steps=warmup)
    _check_train_out(out, force or no_resume)
    records = read_transcripts(transcripts)
    scfg = resolve_student_config(student)
    with status(f"loading the student {student} …"):
        st = build_student(scfg) if scfg is not None else load_pretrained_student(student)
        t_backend = load_backend(teacher) if teacher else None
    at: list[tuple[int, int]] = []

    def stopped() -> str:
        step, total = at[-1] if at else (0, 0)
        return (f"training stopped at step {step} of {total}; {out} keeps the last checkpoint written (every "
                f"{checkpoint_every} steps and at each epoch's end) and no final model; rerun the same command to resume")

    with on_interrupt(stopped), progress_bar("train", None) as update:
        def prog(step: int, total: int, loss_value: float) -> None:
            at.append((step, total))
            update(step, total=total, info=f"loss {loss_value:.3f}")

        summary = train(records, st, out, cfg, teacher=t_backend, resume=not no_resume, progress=prog)
    dropped = (f" ({summary.n_dropped} answers left out: their prompt fills --max-len {max_len})" if summary.n_dropped else "")
    _say(json_out, summary.to_dict(), f"trained {summary.steps} steps on {summary.n_train} answers{dropped}; held-out loss "
         f"{summary.eval_loss_before} -> {summary.eval_loss}; saved to {out}")
