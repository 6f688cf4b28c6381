"""`stillwatch ledger` sub-commands: init, append, verify, prove, consistency, checkpoint, export, check-bundle.

LEDGER is a SQLite file path (keys next to it: LEDGER.key, mode 0600, and LEDGER.pub) or a
``postgresql://`` URL (give the key file with --key). Errors are one line and exit code 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console

app = typer.Typer(help="Tamper-evident evidence ledger (RFC 9162 Merkle log, Ed25519 checkpoints).",
                  no_args_is_help=True)

_out = Console(highlight=False, soft_wrap=True)
_err = Console(stderr=True, highlight=False, soft_wrap=True)

LedgerArg = typer.Argument(..., help="SQLite ledger file or postgresql:// URL.")
KeyOpt = typer.Option(None, "--key", help="Private key file (default: LEDGER.key for SQLite).")
PubOpt = typer.Option(None, "--pubkey", help="Trusted public key file (default: LEDGER.pub when present).")
JsonOpt = typer.Option(False, "--json", help="Machine-readable output.")


def _emit(as_json: bool, payload: dict[str, Any], text: str) -> None:
    if as_json:
        sys.stdout.write(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    else:
        _out.print(text)


def _open(ledger: str, key: Optional[Path] = None, pub: Optional[Path] = None):
    from stillwatch.ledger import Ledger

    return Ledger.open(ledger, key_path=key, pub_path=pub)


def _read_text(path: Path, what: str) -> str:
    from stillwatch.errors import InputError

    try:
        return sys.stdin.read() if str(path) == "-" else Path(path).read_text()
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror}") from exc


@app.command("init")
def init(
    ledger: str = LedgerArg,
    origin: Optional[str] = typer.Option(None, help="Log origin line (default: a random stillwatch.local name)."),
    exchange_content: str = typer.Option("full", help="Store exchanges in 'full' or as 'digest' only."),
    key: Optional[Path] = KeyOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Create a ledger and its Ed25519 signing key (written with mode 0600)."""
    from stillwatch.ledger import Ledger

    with Ledger.create(ledger, origin=origin, exchange_content=exchange_content, key_path=key) as led:
        payload = {"ledger": led.store.location, "origin": led.origin, "exchange_content": led.exchange_content,
                   "key_file": str(led.key_path), "public_key_file": str(led.pub_path),
                   "verifier_key": led.verifier.to_string()}
    _emit(as_json, payload, f"created ledger {payload['ledger']} (origin {payload['origin']})\n"
          f"signing key: {payload['key_file']} (mode 0600) — keep it off the evidence copies\n"
          f"public key:  {payload['public_key_file']}")


@app.command("append")
def append(
    ledger: str = LedgerArg,
    source: Path = typer.Argument(Path("-"), help="JSON Lines file of records (each with a 'type'), or - for stdin."),
    as_json: bool = JsonOpt,
) -> None:
    """Append records (one transaction for the whole file; durable when the command returns)."""
    from stillwatch.errors import InputError

    records = []
    for n, line in enumerate(_read_text(source, "records file").splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise InputError(f"{source} line {n} is not JSON: {exc.msg}") from exc
    if not records:
        raise InputError(f"{source} holds no records")
    with _open(ledger) as led:
        indices = led.append_many(records)
        size = led.size
    _emit(as_json, {"indices": indices, "size": size},
          f"appended {len(indices)} record(s) at {indices[0]}..{indices[-1]}; ledger size {size}")


@app.command("verify")
def verify(
    ledger: str = LedgerArg,
    since: Optional[Path] = typer.Option(None, "--since", help="An older signed checkpoint file to check against."),
    pubkey: Optional[Path] = PubOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Re-check every record against the tree, the stored checkpoints and --since; say where it breaks."""
    from rich.progress import Progress

    since_text = _read_text(since, "checkpoint") if since else None
    with _open(ledger, pub=pubkey) as led:
        with Progress(console=_err, transient=True, disable=as_json) as prog:
            task = prog.add_task("verifying records", total=max(led.size, 1))
            report = led.verify(since_text, progress=lambda d, t: prog.update(task, completed=d, total=max(t, 1)),
                                raise_on_error=False)
    if as_json:
        _emit(True, report.to_json(), "")
    elif report.ok:
        tail = f"; {report.unsigned_tail} record(s) after the latest checkpoint" if report.unsigned_tail else ""
        cps = report.checkpoints_checked
        _out.print(f"OK: {report.size} records, root {report.root.hex()}, {cps} checkpoint(s) verified{tail} "
                   f"({report.seconds:.2f}s)")
        if cps == 0:
            _out.print("note: no signed checkpoint yet; only the records' internal consistency was checked")
    else:
        for p in report.problems:
            _err.print(f"[red]TAMPERED[/] {p.message}")
    report.raise_if_failed()


@app.command("prove")
def prove(
    ledger: str = LedgerArg,
    index: int = typer.Argument(..., help="Record index."),
    size: Optional[int] = typer.Option(None, help="Tree size (default: the latest checkpoint's, else all)."),
    as_json: bool = JsonOpt,
) -> None:
    """Print (and check) the inclusion proof of one record."""
    with _open(ledger) as led:
        cp = led.latest_checkpoint()
        size = size if size is not None else (cp.size if cp is not None and cp.size > index else None)
        p = led.prove(index, size)
        p.verify()
        data, _ = led.record(index)
    payload = {**p.to_json(), "data": data.decode("utf-8"), "verified": True,
               "checkpoint": cp.text if cp is not None and cp.size == p.size else None}
    _emit(as_json, payload, "\n".join([f"record {p.index} in tree of size {p.size} (root {p.root.hex()}): verified",
                                       *[f"  {h.hex()}" for h in p.hashes]]))


@app.command("consistency")
def consistency(
    ledger: str = LedgerArg,
    old_size: int = typer.Argument(..., help="Size of the older tree."),
    new_size: Optional[int] = typer.Option(None, help="Size of the newer tree (default: all)."),
    as_json: bool = JsonOpt,
) -> None:
    """Print (and check) a consistency proof between two tree sizes."""
    from stillwatch.ledger import merkle

    with _open(ledger) as led:
        n = led.size if new_size is None else new_size
        proof = led.consistency(old_size, n)
        r1, r2 = led.root(old_size), led.root(n)
    merkle.verify_consistency(old_size, n, r1, r2, proof)
    payload = {"old_size": old_size, "new_size": n, "old_root": r1.hex(), "new_root": r2.hex(),
               "proof": [h.hex() for h in proof], "verified": True}
    _emit(as_json, payload, "\n".join([f"tree {old_size} -> {n}: consistent", *[f"  {h.hex()}" for h in proof]]))


@app.command("checkpoint")
def checkpoint(
    ledger: str = LedgerArg,
    key: Optional[Path] = KeyOpt,
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Also write the checkpoint to this file."),
    as_json: bool = JsonOpt,
) -> None:
    """Sign, store and print a checkpoint of the current tree."""
    with _open(ledger, key=key) as led:
        cp = led.checkpoint()
    if output is not None:
        output.write_text(cp.text)
    _emit(as_json, {"size": cp.size, "root": cp.root.hex(), "checkpoint": cp.text}, cp.text.rstrip("\n"))


@app.command("export")
def export(
    ledger: str = LedgerArg,
    output: Path = typer.Option(..., "-o", "--output", help="Bundle file to write (JSON)."),
    actor: str = typer.Option(..., help="Who exports (recorded in a custody record)."),
    index: list[int] = typer.Option([], "--index", help="Record index to include (repeatable)."),
    account: Optional[str] = typer.Option(None, help="Include every record of this account."),
    record_type: Optional[str] = typer.Option(None, "--type", help="Include every record of this type."),
    since: Optional[Path] = typer.Option(None, "--since", help="Add a consistency proof from this older checkpoint."),
    key: Optional[Path] = KeyOpt,
    note: str = typer.Option("", help="Free text for the custody record."),
    as_json: bool = JsonOpt,
) -> None:
    """Write an evidence bundle: records, their inclusion proofs, a signed checkpoint, the public key."""
    from stillwatch.errors import InputError
    from stillwatch.ledger.bundle import export_bundle, select_indices

    since_text = _read_text(since, "checkpoint") if since else None
    with _open(ledger, key=key) as led:
        chosen = select_indices(led, indices=index, account=account, kind=record_type)
        if not chosen:
            raise InputError("nothing to export: give --index, --account or --type matching some records")
        bundle = export_bundle(led, chosen, actor=actor, since=since_text, note=note)
    output.write_text(json.dumps(bundle, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    _emit(as_json, {"bundle": str(output), "records": len(bundle["records"]), "checkpoint": bundle["checkpoint"]},
          f"wrote {output}: {len(bundle['records'])} record(s) (incl. the custody record) with proofs")


@app.command("check-bundle")
def check_bundle_cmd(
    bundle: Path = typer.Argument(..., help="Evidence bundle written by `export`."),
    pubkey: Optional[Path] = typer.Option(None, "--pubkey", help="Trusted public key file obtained separately."),
    as_json: bool = JsonOpt,
) -> None:
    """Verify an evidence bundle offline, with nothing but the bundle (and optionally a trusted key)."""
    from stillwatch.ledger.bundle import check_bundle
    from stillwatch.ledger.checkpoint import load_verifier

    trusted = load_verifier(pubkey) if pubkey else None
    summary = check_bundle(_read_text(bundle, "bundle"), trusted)
    _emit(as_json, summary, f"OK: {summary['records_checked']} record(s) proven in tree of size "
          f"{summary['tree_size']} (root {summary['root']}), signature checked with the {summary['key']}")
