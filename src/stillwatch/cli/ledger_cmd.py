"""`stillwatch ledger` sub-commands: init, append, verify, prove, consistency, checkpoint, export, check-bundle.

LEDGER is a SQLite file path (keys next to it: LEDGER.key, mode 0600, and LEDGER.pub) or a
``postgresql://`` URL (give the key file with --key). Errors are one line and exit code 2; Ctrl-C
exits 130 with one line saying what was and was not stored.

Trust: the reading commands (verify, prove, consistency, check-bundle) open the ledger read-only
and never create or change a file. ``--pubkey`` names the trusted public key; when it cannot be
read that is an error, never a reason to use the key stored inside the ledger (which anyone who can
write the database can replace). ``prove`` checks each proof against a signed checkpoint and names
it; ``checkpoint`` and ``export`` check the ledger against its last signed checkpoint before signing.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console

from stillwatch.cli import _ledger_io as lio

app = typer.Typer(help="Tamper-evident evidence ledger (RFC 9162 Merkle log, Ed25519 checkpoints).",
                  no_args_is_help=True)

_out = Console(highlight=False, soft_wrap=True)
_err = Console(stderr=True, highlight=False, soft_wrap=True)

LedgerArg = typer.Argument(..., help="SQLite ledger file or postgresql:// URL.")
KeyOpt = typer.Option(None, "--key", help="Private key file (default: LEDGER.key for SQLite).")
PubOpt = typer.Option(None, "--pubkey", help="Trusted public key file (default: LEDGER.pub when present); "
                      "a file that cannot be read is an error.")
JsonOpt = typer.Option(False, "--json", help="Machine-readable output.")
ForceOpt = typer.Option(False, "--force", help="Replace the output file if it exists.")


def _emit(as_json: bool, payload: dict[str, Any], text: str) -> None:
    if as_json:
        sys.stdout.write(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    else:
        _out.print(text)


def _open(ledger: str, key: Optional[Path] = None, pub: Optional[Path] = None, *, read_only: bool = False):
    from stillwatch.ledger import Ledger

    led = Ledger.open(ledger, key_path=key, pub_path=pub, read_only=read_only)
    if pub is not None:
        try:
            led.verifier  # noqa: B018 - load the trusted key now: unreadable is an error before any work
        except BaseException:
            led.close()
            raise
    return led


def _reading(what: str) -> Callable:
    """Ctrl-C in a reading command: exit 130, saying nothing was changed."""

    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except KeyboardInterrupt:
                raise lio.interrupted(f"{what} stopped; nothing was changed") from None

        return run

    return wrap


def _index(value: int, name: str) -> int:
    from stillwatch.errors import InputError

    if value < 0:
        raise InputError(f"{name} must be >= 0, got {value}")
    return value


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


def _parse_records(source: Path) -> list:
    from stillwatch.errors import InputError
    from stillwatch.ledger.records import record_from_dict

    records = []
    for n, raw in enumerate(lio.read_bytes(source, "records file").split(b"\n"), 1):
        if not raw.strip():
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"{source} line {n} is not UTF-8 text (invalid byte at column {exc.start + 1})") from None
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{source} line {n} is not JSON: {exc.msg}") from None
        try:
            records.append(record_from_dict(obj))
        except InputError as exc:
            raise type(exc)(f"{source} line {n}: {exc}") from None
    if not records:
        raise InputError(f"{source} holds no records")
    return records


def _stored_at(ledger: str, records: list, start: int) -> int | None:
    """Where ``records`` (one transaction) were stored at or after ``start``, or None if they were not."""
    from stillwatch.ledger import Ledger
    from stillwatch.ledger.records import leaf_bytes

    with Ledger.open(ledger, read_only=True) as led:
        for i in range(start, led.size - len(records) + 1):
            data, _ = led.record(i)
            if bytes(data) == leaf_bytes(records[0], i, led.exchange_content):
                return i
    return None


@app.command("append")
def append(
    ledger: str = LedgerArg,
    source: Path = typer.Argument(Path("-"), help="JSON Lines file of records (each with a 'type'), or - for stdin."),
    as_json: bool = JsonOpt,
) -> None:
    """Append records (one transaction for the whole file; durable when the command returns)."""
    start = None
    records: list = []
    try:
        records = _parse_records(source)
        with _open(ledger) as led:
            start = led.size
            indices = led.append_many(records)
            size = led.size
        _emit(as_json, {"indices": indices, "size": size},
              f"appended {len(indices)} record(s) at {indices[0]}..{indices[-1]}; ledger size {size}")
    except KeyboardInterrupt:
        at = _stored_at(ledger, records, start) if start is not None and records else None
        if at is None:
            raise lio.interrupted(f"nothing was stored ({len(records)} record(s) read, none appended)") from None
        raise lio.interrupted(f"all {len(records)} record(s) had been stored at {at}..{at + len(records) - 1}; "
                              f"nothing else was") from None


@app.command("verify")
@_reading("verification")
def verify(
    ledger: str = LedgerArg,
    since: Optional[Path] = typer.Option(None, "--since", help="An older signed checkpoint file to check against."),
    pubkey: Optional[Path] = PubOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Re-check every record against the tree, the stored checkpoints and --since; say where it breaks."""
    from rich.progress import Progress

    since_text = lio.read_text(since, "checkpoint file", lio.SMALL_INPUT) if since else None
    with _open(ledger, pub=pubkey, read_only=True) as led:
        key_source = led.key_source
        with Progress(console=_err, transient=True, disable=as_json) as prog:
            task = prog.add_task("verifying records", total=max(led.size, 1))
            report = led.verify(since_text, progress=lambda d, t: prog.update(task, completed=d, total=max(t, 1)),
                                raise_on_error=False)
    if as_json:
        _emit(True, {**report.to_json(), "key": key_source}, "")
    elif report.ok:
        tail = f"; {report.unsigned_tail} record(s) after the latest checkpoint" if report.unsigned_tail else ""
        cps = report.checkpoints_checked
        _out.print(f"OK: {report.size} records, root {report.root.hex()}, {cps} checkpoint(s) verified with "
                   f"{key_source}{tail} ({report.seconds:.2f}s)")
        if cps == 0:
            _out.print("note: no signed checkpoint yet; only the records' internal consistency was checked")
    else:
        for p in report.problems:  # the report goes to stdout; the one-line error to stderr
            _out.print(f"TAMPERED {p.message}")
    report.raise_if_failed()


@app.command("prove")
@_reading("proof")
def prove(
    ledger: str = LedgerArg,
    index: int = typer.Argument(..., help="Record index (>= 0)."),
    size: Optional[int] = typer.Option(None, help="Tree size of the signed checkpoint to prove against "
                                       "(default: the latest one covering the record)."),
    pubkey: Optional[Path] = PubOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Print the inclusion proof of one record, checked against a signed checkpoint (named in the output)."""
    _index(index, "record index")
    with _open(ledger, pub=pubkey, read_only=True) as led:
        p, cp = led.prove_signed(index, size)
        data, _ = led.record(index)
        key_source = led.key_source
    payload = {**p.to_json(), "data": bytes(data).decode("utf-8", "replace"), "verified": True,
               "checkpoint": cp.text, "key": key_source}
    _emit(as_json, payload, "\n".join([
        f"record {p.index}: verified against the signed checkpoint of tree size {p.size} (root {p.root.hex()}, "
        f"signature checked with {key_source})", *[f"  {h.hex()}" for h in p.hashes]]))


@app.command("consistency")
@_reading("consistency check")
def consistency(
    ledger: str = LedgerArg,
    old_size: int = typer.Argument(..., help="Tree size of an older signed checkpoint."),
    new_size: Optional[int] = typer.Option(None, help="Size of the newer tree (default: all)."),
    pubkey: Optional[Path] = PubOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Print a consistency proof from a signed checkpoint to a newer tree, checked against the signed root."""
    from stillwatch.errors import VerificationError
    from stillwatch.ledger import merkle

    _index(old_size, "old tree size")
    with _open(ledger, pub=pubkey, read_only=True) as led:
        n = led.size if new_size is None else _index(new_size, "new tree size")
        signed = {cp.size: cp for _, cp in led.signed_checkpoints()}
        if old_size not in signed and old_size != 0:
            raise VerificationError(f"no signed checkpoint of tree size {old_size}: a consistency proof needs a signed "
                                    f"old root (signed sizes: {sorted(signed)[-5:] or 'none'})")
        r1 = signed[old_size].root if old_size else merkle.EMPTY_ROOT
        proof = led.consistency(old_size, n)
        r2 = signed[n].root if n in signed else led.root(n)
        key_source = led.key_source
    merkle.verify_consistency(old_size, n, r1, r2, proof)
    payload = {"old_size": old_size, "new_size": n, "old_root": r1.hex(), "new_root": r2.hex(),
               "new_root_signed": n in signed, "proof": [h.hex() for h in proof], "verified": True, "key": key_source}
    _emit(as_json, payload, "\n".join([f"tree {old_size} (signed) -> {n} ({'signed' if n in signed else 'unsigned'}):"
                                       f" consistent", *[f"  {h.hex()}" for h in proof]]))


def _pending_row(led) -> tuple[int, str]:
    """(id, text) of the checkpoint row the open transaction just inserted (called inside it)."""
    cid, _size, _root, text = led.store.checkpoints()[-1]
    return int(cid), text


def _checkpoint_stored(ledger: str, key: Optional[Path], row: tuple[int, str] | None) -> bool:
    """Whether the transaction that inserted ``row`` committed (its id and text are stored)."""
    if row is None:
        return False
    with _open(ledger, key=key, read_only=True) as led:
        return any(int(r[0]) == row[0] and r[3] == row[1] for r in led.store.checkpoints())


@app.command("checkpoint")
def checkpoint(
    ledger: str = LedgerArg,
    key: Optional[Path] = KeyOpt,
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Also write the checkpoint to this file."),
    force: bool = ForceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Check the ledger against its last signed checkpoint, then sign, store and print a new one."""
    dest = lio.check_output(output, force, "checkpoint file") if output is not None else None
    state: dict[str, Any] = {}

    def write(cp, _indices) -> None:
        state["row"] = _pending_row(led)
        if dest is not None:
            lio.write_temp(dest, cp.text, state)

    try:
        with _open(ledger, key=key) as led:
            _, cp = led.append_and_checkpoint([], before_commit=write)
        if dest is not None:
            lio.publish(state["tmp"], dest, force)
            state.pop("tmp")
        _emit(as_json, {"size": cp.size, "root": cp.root.hex(), "checkpoint": cp.text}, cp.text.rstrip("\n"))
    except KeyboardInterrupt:
        if not _checkpoint_stored(ledger, key, state.get("row")):
            lio.discard(state.get("tmp"))
            raise lio.interrupted("no checkpoint was signed or stored") from None
        if dest is not None:
            lio.finish(state.get("tmp"), dest, force)
        raise lio.interrupted("the checkpoint had been signed and stored" +
                              (f" and written to {dest}" if dest is not None else "")) from None
    except BaseException:
        lio.discard(state.get("tmp"))
        raise


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
    force: bool = ForceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Write an evidence bundle: records, their inclusion proofs, a signed checkpoint, the public key.

    The custody record and the checkpoint are stored only if the bundle was written: every check
    comes first, and the file is moved into place right after the ledger commit.
    """
    from stillwatch.errors import InputError
    from stillwatch.ledger.bundle import export_bundle, select_indices

    for i in index:
        _index(i, "--index")
    since_text = lio.read_text(since, "checkpoint file", lio.SMALL_INPUT) if since else None
    dest = lio.check_output(output, force, "bundle")
    state: dict[str, Any] = {}

    def write(bundle: dict[str, Any]) -> None:
        state["row"] = _pending_row(led)
        lio.write_temp(dest, json.dumps(bundle, indent=1, sort_keys=True, ensure_ascii=False) + "\n", state)

    try:
        with _open(ledger, key=key) as led:
            chosen = select_indices(led, indices=index, account=account, kind=record_type)
            if not chosen:
                raise InputError("nothing to export: give --index, --account or --type matching some records")
            bundle = export_bundle(led, chosen, actor=actor, since=since_text, note=note, before_commit=write)
        lio.publish(state["tmp"], dest, force)
        state.pop("tmp")
        _emit(as_json, {"bundle": str(dest), "records": len(bundle["records"]), "checkpoint": bundle["checkpoint"]},
              f"wrote {dest}: {len(bundle['records'])} record(s) (incl. the custody record) with proofs")
    except KeyboardInterrupt:
        if not _checkpoint_stored(ledger, key, state.get("row")):
            lio.discard(state.get("tmp"))
            raise lio.interrupted("nothing was exported and no custody record or checkpoint was stored") from None
        lio.finish(state.get("tmp"), dest, force)
        raise lio.interrupted(f"the export had been recorded (custody record and checkpoint); the bundle was "
                              f"written to {dest}") from None
    except BaseException:
        lio.discard(state.get("tmp"))
        raise


@app.command("check-bundle")
@_reading("bundle check")
def check_bundle_cmd(
    bundle: Path = typer.Argument(..., help="Evidence bundle written by `export`."),
    pubkey: Optional[Path] = typer.Option(None, "--pubkey", help="Trusted public key file obtained separately."),
    as_json: bool = JsonOpt,
) -> None:
    """Verify an evidence bundle offline, with nothing but the bundle (and optionally a trusted key)."""
    from stillwatch.ledger.bundle import check_bundle
    from stillwatch.ledger.checkpoint import load_verifier

    trusted = load_verifier(pubkey) if pubkey else None
    summary = check_bundle(lio.read_text(bundle, "bundle"), trusted)
    _emit(as_json, summary, f"OK: {summary['records_checked']} record(s) proven in tree of size "
          f"{summary['tree_size']} (root {summary['root']}), signature checked with the {summary['key']}")
