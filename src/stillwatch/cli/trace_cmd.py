"""`stillwatch trace` sub-commands: radioactivity (open / closed model) with account attribution."""

from __future__ import annotations

import json
import sys
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
    harvest_account: list[str] = typer.Option(None, "--harvest-account", help="An account the harvest went through (repeat for several; from the ledger or the guard's findings, named before the test): its account layer joins the provider layer in one exact test (more coins per tuple; tournament watermarks)."),
    teacher: str = typer.Option(None, "--teacher", help="Teacher whose tokenizer re-tokenizes a foreign suspect's answers (default: from transcripts)."),
    max_texts: int = typer.Option(512, "--max-texts", min=1, max=1_000_000, help="Scoring texts (open) or prompts (closed) to use."),
    max_new_tokens: int = typer.Option(128, "--max-new-tokens", min=1, max=4096, help="Closed setting: tokens per answer."),
    temperature: float = typer.Option(1.0, "--temperature", min=0.01, max=100.0, help="Closed setting: sampling temperature of the suspect's answers."),
    reanswer_tokens: int = typer.Option(128, "--reanswer-tokens", min=1, max=4096, help="Open setting, --scoring suspect: tokens per re-answer."),
    reanswer_temperature: float = typer.Option(1.0, "--reanswer-temperature", min=0.01, max=100.0, help="Open setting, --scoring suspect: sampling temperature of the re-answers."),
    reanswer_rounds: int = typer.Option(1, "--reanswer-rounds", min=1, max=1000, help="Open setting, --scoring suspect: how many times the suspect answers each prompt (new sampling seed per round; tuples de-duplicated over all rounds)."),
    watermark_config: Path = typer.Option(None, "--watermark-config", help="JSON watermark settings of the deployment, when the transcripts carry no spec records (default: the built-in default)."),
    api_key: str = typer.Option(None, "--api-key", help="API key for a URL suspect."),
    seed: int = typer.Option(0, "--seed", min=0),
    alpha: float = typer.Option(1e-3, "--alpha", min=0.0, max=1.0, help="Level at which an account layer is called present (after correction)."),
    plot: Path = typer.Option(None, "--plot", help="Write the p-value-versus-tokens curve as a PNG."),
    force: bool = typer.Option(False, "--force", help="Replace the --plot file if it exists."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Test whether SUSPECT was trained on text watermarked with the provider key (exact p-value)."""
    from stillwatch.cli._io import progress_bar, read_accounts, status
    from stillwatch.distill.prompts import generate_prompts
    from stillwatch.mark import MarkConfig, MasterKey
    from stillwatch.models import load_backend
    from stillwatch.records import check_output, read_transcripts
    from stillwatch.trace.api import run_radioactivity
    from stillwatch.trace.radioactivity import RadioactivityConfig, model_dtype

    cfg = RadioactivityConfig(setting=setting, scoring=scoring, max_texts=max_texts, max_new_tokens=max_new_tokens, temperature=temperature,
                              reanswer_tokens=reanswer_tokens, reanswer_temperature=reanswer_temperature,
                              reanswer_rounds=reanswer_rounds, seed=seed, alpha=alpha)
    if harvest_account:  # refused before any model loads
        from stillwatch.trace.radioactivity import distinct_harvest_accounts

        distinct_harvest_accounts(harvest_account)
    master = MasterKey.load(master_key)
    acc = read_accounts(accounts) if accounts is not None else None
    if plot is not None:
        check_output(plot, force=force, what="plot file")
    records = read_transcripts(transcripts) if transcripts is not None else None
    refs = read_transcripts(reference, what="reference file") if reference is not None else None
    prompts = None if records else [p.prompt for p in generate_prompts(min(cfg.max_texts, 64), seed=cfg.seed + 7919)]
    remote = suspect.lower().startswith(("http://", "https://"))
    with status(f"loading the suspect {suspect} …"):
        s_backend = load_backend(suspect, **({"api_key": api_key} if (remote and api_key) else {}))
    with status("loading the teacher and the base model …"):
        t_backend = load_backend(teacher) if teacher else None
        # the base in the suspect's dtype: precision alone would move top-1 predictions the differential test counts
        sd = model_dtype(s_backend)
        b_backend = load_backend(base, **({"dtype": sd} if sd else {})) if base else None
    n_gen = min(cfg.max_texts, len(records) if records else len(prompts)) * (cfg.reanswer_rounds if setting == "open" else 1)
    with progress_bar(f"{setting}-model test: the suspect answers", n_gen) as update:
        result = run_radioactivity(s_backend, master, transcripts=records, config=cfg, accounts=acc, teacher=t_backend,
                                   teacher_loader=load_backend, reference=refs, base=b_backend, prompts=prompts,
                                   progress=update, mark_config=MarkConfig.load(watermark_config) if watermark_config else None,
                                   harvest_accounts=harvest_account or ())
    d = result.to_dict()
    if plot is not None:
        from stillwatch.trace.plots import plot_curve

        plot_curve(result, plot)
    if json_out:
        sys.stdout.write(json.dumps(d) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    con = Console()
    from stillwatch.trace.radioactivity import judged_p_value

    c = result.combined
    judged = judged_p_value(result.p_value, None if c is None else c["p_value"])
    verdict = f"-> [bold]{'RADIOACTIVE' if judged <= alpha else 'no evidence'}[/] at alpha = {alpha}"
    con.print(f"[bold]{setting}-model radioactivity[/] of {suspect}: p = {result.p_value:.3g} over {result.n_scored} "
              f"distinct tuples ({result.n_green} green, gamma = {result.gamma})" + ("" if c is not None else f" {verdict}"))
    if c is not None:  # two tests of one model: one verdict, on the smaller p-value times two (Bonferroni)
        con.print(f"[bold]provider + {len(c['accounts'])} harvest account layer(s)[/] ({', '.join(c['accounts'])}): "
                  f"p = {c['p_value']:.3g} over {c['n_coins']} fair coins; judged on the smaller p-value of the two "
                  f"tests times two = {judged:.3g} {verdict}")
    if result.accounts:
        t = Table("account", "p_value", "corrected", "present")
        for row in sorted(result.accounts, key=lambda r: r["p_value"])[:20]:
            t.add_row(row["account"], f"{row['p_value']:.3g}", f"{row['corrected_p_value']:.3g}", "yes" if row["present"] else "")
        con.print(t)


@app.command("provenance")
def provenance_cmd(
    suspect: str = typer.Option(..., "--suspect", help="The suspect: a model directory, smollm2, tiny, or an OpenAI-compatible URL (URL#model)."),
    candidates: Path = typer.Option(..., "--candidates", help="File: one candidate parent per line; 'reference: MODEL' lines add independent reference models."),
    prompts: int = typer.Option(1000, "--prompts", help="Query budget N: the most prompts the suspect is asked (the panel answers all N once, cached)."),
    look_every: int = typer.Option(250, "--look-every", help="Prompts per look of the adaptive test (it stops when decided)."),
    alpha: float = typer.Option(0.01, "--alpha", help="Family-wise level of a false attribution."),
    seed: int = typer.Option(0, "--seed", help="Prompt sampler seed."),
    max_tokens: int = typer.Option(1, "--max-tokens", help="Tokens per answer (1: one-token queries)."),
    suspect_max_tokens: str = typer.Option("auto", "--suspect-max-tokens", help="Tokens per suspect answer, compared by its first word when above --max-tokens; auto = more tokens only when a probe shows the suspect answering single characters (a byte-level model)."),
    modes: str = typer.Option("auto", "--modes", help="Prompt modes: chat, raw or chat,raw; auto = chat,raw when the suspect and at least two panel models are local (remote panel models sit raw mode out), else chat."),
    logprobs: str = typer.Option("auto", "--logprobs", help="auto = where the suspect gives its top-20 next tokens with probabilities (a local model; an API honouring top_logprobs), each mode's excess statistic reads them too, at no extra query; off = its answers only."),
    panel_logprobs: str = typer.Option("", "--panel-logprobs", help="Modes (chat, raw or chat,raw) where the panel models' own top-20 distributions also enter, as their overlap with the suspect's (one more query per panel prompt, cached; off by default: not yet measured on the model zoo)."),
    budget_split: str = typer.Option("auto", "--budget-split", help="How a suspect tested in chat and raw mode splits its 2N queries: auto = 2/3 chat when a 20-prompt probe (profile prompts, not test prompts) shows chat answers that depend on the prompt, else half each; even; chat-heavy."),
    per_mode: str = typer.Option("excess", "--per-mode", help="How each prompt mode is judged: excess (agreement beyond the suspect's own answer frequencies), gated (agreement and excess must both reject) or agreement."),
    cache: Path = typer.Option(None, "--cache", help="Directory of cached panel answers (default: the Stillwatch cache)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Answer the panel afresh and store nothing."),
    api_key: str = typer.Option(None, "--api-key", help="API key for URL models (default $OPENAI_API_KEY)."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON (the diligence section of a case dossier)."),
) -> None:
    """Black-box provenance: was SUSPECT derived from one of the candidates (fine-tuned, quantized, pruned, or distilled from its answers)?"""
    from stillwatch.trace.provenance import ProvenanceConfig, run_provenance
    from stillwatch.trace.provenance_query import AnswerCache, LocalModel, open_model, read_candidates

    cand_specs, ref_specs = read_candidates(candidates)
    if cache is None and not no_cache:
        from stillwatch.models.smollm2 import cache_root

        cache = cache_root() / "provenance"
    store = None if no_cache else AnswerCache(cache)
    s_model = open_model(suspect, api_key=api_key)
    cands = [open_model(c, api_key=api_key) for c in cand_specs]
    refs = [open_model(r, api_key=api_key) for r in ref_specs]
    if modes == "auto":
        local_panel = sum(isinstance(m, LocalModel) for m in (*cands, *refs))
        chosen = ("chat", "raw") if isinstance(s_model, LocalModel) and local_panel >= 2 else ("chat",)
    else:
        chosen = tuple(m.strip() for m in modes.split(",") if m.strip())
    s_tokens = suspect_max_tokens.strip().lower()
    if s_tokens != "auto":
        from stillwatch.errors import InputError

        try:
            s_tokens = int(s_tokens)
        except ValueError:
            raise InputError(f"--suspect-max-tokens must be 'auto' or an int, got {suspect_max_tokens!r}") from None
    cfg = ProvenanceConfig(max_queries=prompts, look_every=min(look_every, prompts), alpha=alpha, seed=seed, max_tokens=max_tokens,
                           modes=chosen, suspect_max_tokens=s_tokens, per_mode=per_mode.strip().lower(),
                           budget_split=budget_split.strip().lower(), logprobs=logprobs.strip().lower(),
                           panel_logprobs=tuple(m.strip().lower() for m in panel_logprobs.split(",") if m.strip()))
    from rich.console import Console

    con = Console(stderr=True)
    with con.status("provenance test") as status:
        result = run_provenance(s_model, cands, refs, config=cfg, cache=store, progress=lambda msg: status.update(msg))
    d = result.to_dict()
    if json_out:
        typer.echo(json.dumps(d))
        return
    from rich.table import Table

    out = Console()
    verdict = f"derived from [bold]{result.most_likely_parent}[/]" if result.most_likely_parent else "no candidate attributed"
    out.print(f"provenance of {suspect}: {verdict} (alpha = {alpha}, {result.queries_spent} queries, stopped: {result.stopped})")
    plan = ", ".join(f"{m} {n}" for m, n in result.budget.items())
    out.print(f"budget: {result.budget_split} ({plan} prompts at most): {result.budget_reason}", markup=False)
    used = [m for m, on in result.logprobs.items() if on]
    out.print(f"next-token distributions: {', '.join(used) if used else 'not used (answers only)'}", markup=False)
    overlap = [m for m, on in result.panel_logprobs.items() if on]
    if overlap:
        out.print(f"overlap with the panel's distributions: {', '.join(overlap)}", markup=False)
    t = Table("candidate", "agreement", "p (sequential, Holm)", "hardest rival", "wins/losses")
    for c in result.candidates:
        t.add_row(c["name"], f"{c['agreement']:.3f}", f"{c['p_value_sequential']:.3g}", c["hardest_rival"],
                  f"{c['wins_vs_rival']}/{c['losses_vs_rival']}")
    out.print(t)
    for caveat in result.caveats:
        out.print(f"caveat: {caveat}", markup=False)
    out.print(f"H0: {result.null_hypothesis}")
