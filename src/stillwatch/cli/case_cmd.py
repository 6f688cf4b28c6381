"""`stillwatch case`: a case folder with chain of custody, the HTML dossier and its verifiable bundle."""

from __future__ import annotations

import json
from pathlib import Path

import typer

app = typer.Typer(help="Assemble evidence into a case: dossier (HTML + JSON) and an offline-verifiable bundle.",
                  no_args_is_help=True)

_KEY = typer.Option(None, "--key", help="The case's private key file (default: <DIR>.key beside the folder).")
_ACTOR = typer.Option(None, "--actor", help="Who is doing this, for the chain of custody (default: user@host).")
_CMD = typer.Option(None, "--command", help="The exact command that produced this evidence (shown in Methods).")


def _add(kind: str, case_dir: Path, path: Path, key: Path | None, actor: str | None, command: str | None, role: str | None = None) -> None:
    from stillwatch.report import Case

    case = Case(case_dir)
    e = case.add_evidence(kind, path, key=case.load_key(key), actor=actor, role=role, command=command)
    typer.echo(f"added {path} as {e['subject']} (sha256 {e['sha256'][:16]}…, custody #{e['seq']})")


@app.command("init")
def init_cmd(
    case_dir: Path = typer.Argument(..., help="New folder for the case."),
    title: str = typer.Option(..., "--title", help="The case's title, shown on the dossier."),
    ledger: str = typer.Option(..., "--ledger", help="The evidence ledger (SQLite path or postgresql:// URL)."),
    key: Path = _KEY,
    actor: str = _ACTOR,
) -> None:
    """Create a case folder and its signing key (kept outside the folder)."""
    from stillwatch.report import Case
    from stillwatch.report.case import default_key_path

    case = Case.init(case_dir, title=title, ledger=ledger, key_path=key, actor=actor)
    typer.echo(f"case {case.info['case_id']} in {case_dir}; private key {key or default_key_path(case_dir)} (mode 0600); "
               f"public key {case_dir / 'case.pub'}")


@app.command("add-guard")
def add_guard(case_dir: Path = typer.Argument(...), findings: Path = typer.Argument(..., help="`guard scan --out` JSON."),
              key: Path = _KEY, actor: str = _ACTOR, command: str = _CMD) -> None:
    """Add guard findings (flagged accounts, campaigns, volumes vs the human-feasible rate)."""
    _add("guard", case_dir, findings, key, actor, command)


@app.command("add-mark")
def add_mark(case_dir: Path = typer.Argument(...), detections: Path = typer.Argument(..., help="`mark detect --json` output (JSONL)."),
             key: Path = _KEY, actor: str = _ACTOR, command: str = _CMD) -> None:
    """Add watermark detections on a leaked corpus."""
    _add("mark", case_dir, detections, key, actor, command)


@app.command("add-trace")
def add_trace(case_dir: Path = typer.Argument(...), result: Path = typer.Argument(..., help="`trace radioactivity --json` output."),
              role: str = typer.Option("suspect", "--role", help="suspect | control | wrong-key"),
              key: Path = _KEY, actor: str = _ACTOR, command: str = _CMD) -> None:
    """Add a radioactivity result (the suspect, a control model, or a wrong-key test)."""
    _add("trace", case_dir, result, key, actor, command, role)


@app.command("add-provenance")
def add_provenance(case_dir: Path = typer.Argument(...), result: Path = typer.Argument(..., help="`trace provenance --json` output."),
                   key: Path = _KEY, actor: str = _ACTOR, command: str = _CMD) -> None:
    """Add a provenance (diligence) result."""
    _add("provenance", case_dir, result, key, actor, command)


@app.command("add-ledger")
def add_ledger(
    case_dir: Path = typer.Argument(...),
    account: list[str] = typer.Option([], "--account", help="Exhibit this account's exchanges and terms acceptances (repeatable)."),
    flagged: bool = typer.Option(False, "--flagged", help="Exhibit every account flagged or attributed by the evidence added so far."),
    kind: list[str] = typer.Option([], "--kind", help="Exhibit every record of this type, e.g. investment (repeatable)."),
    index: list[int] = typer.Option([], "--index", help="Exhibit this record index (repeatable)."),
    ledger: str = typer.Option(None, "--ledger", help="Override the ledger location recorded at init."),
    key: Path = _KEY,
    actor: str = _ACTOR,
) -> None:
    """Exhibit ledger records (verifies the ledger first; records custody in the ledger when its key is at hand)."""
    from stillwatch.report import Case
    from stillwatch.report.case import implicated_accounts

    case = Case(case_dir)
    accounts = set(account) | (implicated_accounts(case) if flagged else set())
    e = case.exhibit(key=case.load_key(key), actor=actor, accounts=tuple(sorted(accounts)), kinds=tuple(kind), indices=tuple(index),
                     ledger=ledger)
    typer.echo(f"exhibited {e['meta']['records']} ledger record(s) (checkpoint size {e['meta']['checkpoint_size']}, custody #{e['seq']})")


@app.command("build")
def build_cmd(case_dir: Path = typer.Argument(...), key: Path = _KEY, actor: str = _ACTOR,
              ledger: str = typer.Option(None, "--ledger", help="Override the ledger location recorded at init."),
              json_out: bool = typer.Option(False, "--json", help="Print the paths and the verification summary as JSON.")) -> None:
    """Render the dossier (HTML + JSON twin) and write the evidence bundle, verified before it is reported."""
    from stillwatch.report import build_case

    out = build_case(case_dir, key_path=key, ledger=ledger, actor=actor)
    if json_out:
        typer.echo(json.dumps(out))
    else:
        typer.echo(f"report: {out['report_html']}\nJSON twin: {out['report_json']}\nbundle: {out['bundle']} "
                   f"({out['verified']['records_proven']} records with tlog-proofs; bundle self-checked, {out['verified']['proofs_folded']} proofs re-folded)")


@app.command("verify")
def verify_cmd(bundle: Path = typer.Argument(..., help="The bundle folder (DIR/build/bundle)."),
               public_key: Path = typer.Option(..., "--public-key", help="The case's public key file (obtained separately)."),
               ledger_key: Path = typer.Option(None, "--ledger-key", help="Also require this ledger public key."),
               json_out: bool = typer.Option(False, "--json")) -> None:
    """Verify a bundle offline: signature, statement, manifest, every tlog-proof, chain of custody."""
    from stillwatch.report import verify_bundle

    res = verify_bundle(bundle, public_key, ledger_key=ledger_key)
    if json_out:
        typer.echo(json.dumps(res))
    else:
        typer.echo(f"OK: {res['title']} ({res['case_id']}): {res['records_proven']} records proven against the ledger checkpoint "
                   f"of size {res['tree_size']}; {res['files_checked']} files and {res['custody_entries']} custody entries verified")
