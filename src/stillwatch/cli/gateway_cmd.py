"""`stillwatch gateway`: serve the OpenAI-compatible gateway, and administer its store."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from stillwatch.cli._io import dumps

app = typer.Typer(help="OpenAI-compatible gateway: watermark, record, limit and guard every exchange.", no_args_is_help=True)
accounts_app = typer.Typer(help="Accounts of the gateway.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys (shown once, stored as SHA-256 digests).", no_args_is_help=True)
tos_app = typer.Typer(help="Terms of service: publish a version; record an account's acceptance.", no_args_is_help=True)
limits_app = typer.Typer(help="Per-account rate limits.", no_args_is_help=True)
app.add_typer(accounts_app, name="accounts")
app.add_typer(keys_app, name="keys")
app.add_typer(tos_app, name="tos")
app.add_typer(limits_app, name="limits")

LedgerOpt = typer.Option("gateway.db", "--ledger", help="Ledger (SQLite path or postgresql:// URL); the gateway's tables live in it.")
JsonOpt = typer.Option(False, "--json", help="Print JSON.")


def _say(as_json: bool, payload: dict, text: str) -> None:
    if as_json:
        sys.stdout.write(dumps(payload) + "\n")
    else:
        Console().print(text, highlight=False, soft_wrap=True)


def _admin(ledger: str):
    from stillwatch.gateway.admin import Admin

    return Admin(ledger, create=True)


@app.command("serve")
def serve(
    model: str = typer.Option("smollm2", "--model", help="smollm2 | tiny | model directory (watermarked) | URL of an OpenAI-compatible API (unmarked)."),
    ledger: str = LedgerOpt,
    master_key: Optional[Path] = typer.Option(None, "--master-key", help="Master key file; default: $STILLWATCH_MASTER_KEY (hex)."),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8000, "--port", min=0, max=65535),
    model_id: Optional[str] = typer.Option(None, "--model-id", help="Name clients pass as `model` (default: the --model name)."),
    upstream_model: Optional[str] = typer.Option(None, "--upstream-model", help="Model to request from an upstream URL (default: its first)."),
    batch_window_ms: float = typer.Option(5.0, "--batch-window-ms", help="Dynamic batching window."),
    max_batch: int = typer.Option(32, "--max-batch", min=1, max=1024),
    max_new_tokens: int = typer.Option(256, "--max-new-tokens", min=1, max=32768, help="Answers are cut at this many tokens."),
    trusted_proxy: list[str] = typer.Option([], "--trusted-proxy", help="Peer address whose X-Forwarded-For is believed (repeatable)."),
    default_rpm: int = typer.Option(0, "--default-rpm", min=0, help="Requests/minute for accounts without their own limit (0 = none)."),
    default_tpm: int = typer.Option(0, "--default-tpm", min=0, help="Tokens/minute for accounts without their own limit (0 = none)."),
    block_after: int = typer.Option(3, "--block-after", min=1, help="Guard strikes (flagged requests) that block an account."),
    log_level: str = typer.Option("warning", "--log-level"),
) -> None:
    """Serve the gateway (OpenAI-compatible) on HOST:PORT until interrupted."""
    from stillwatch.gateway.config import EngineConfig, GatewayConfig, PolicyConfig
    from stillwatch.gateway.server import build_gateway, load_gateway_backend
    from stillwatch.gateway.server import serve as run

    cfg = GatewayConfig(model_id=model_id or model, trusted_proxies=tuple(trusted_proxy), default_rpm=default_rpm,
                        default_tpm=default_tpm, engine=EngineConfig(batch_window_ms, max_batch, max_new_tokens),
                        policy=PolicyConfig(block_after=block_after))
    backend = load_gateway_backend(model, upstream_model)
    gw = build_gateway(ledger, backend, master_key=master_key, config=cfg)
    Console(stderr=True).print(f"gateway serving {cfg.model_id!r} on http://{host}:{port}/v1 (ledger {gw.ledger.store.location})", highlight=False)
    run(gw, host, port, log_level)


@accounts_app.command("add")
def accounts_add(account: str = typer.Argument(..., help="Account id."), ledger: str = LedgerOpt,
                 payment_fingerprint: Optional[str] = typer.Option(None, "--payment-fingerprint", help="Opaque fingerprint of the payment method."),
                 as_json: bool = JsonOpt) -> None:
    """Create an account."""
    with _admin(ledger) as adm:
        acc = adm.add_account(account, payment_fingerprint)
    _say(as_json, acc, f"account {account} created")


@accounts_app.command("list")
def accounts_list(ledger: str = LedgerOpt, as_json: bool = JsonOpt) -> None:
    """List accounts with their state, limits, accepted terms and active key ids."""
    with _admin(ledger) as adm:
        accs = adm.store.list_accounts()
    if as_json:
        _say(True, {"accounts": accs}, "")
        return
    from rich.table import Table

    t = Table(title=f"{len(accs)} accounts")
    for col in ("account", "disabled", "blocked", "rpm", "tpm", "terms", "keys"):
        t.add_column(col)
    for a in accs:
        t.add_row(a["account"], "yes" if a["disabled"] else "no", a["blocked_reason"] or "-", str(a["rpm"] or "-"),
                  str(a["tpm"] or "-"), a["tos_version"] or "-", ", ".join(a["keys"]) or "-")
    Console().print(t)


@accounts_app.command("disable")
def accounts_disable(account: str = typer.Argument(...), ledger: str = LedgerOpt,
                     enable: bool = typer.Option(False, "--enable", help="Enable the account again instead."), as_json: bool = JsonOpt) -> None:
    """Disable an account (effective on its next request), or enable it with --enable."""
    with _admin(ledger) as adm:
        adm.set_disabled(account, not enable)
    _say(as_json, {"account": account, "disabled": not enable}, f"account {account} {'enabled' if enable else 'disabled'}")


@keys_app.command("issue")
def keys_issue(account: str = typer.Argument(...), ledger: str = LedgerOpt, as_json: bool = JsonOpt) -> None:
    """Issue an API key for ACCOUNT. The key is printed once; only its digest is stored."""
    with _admin(ledger) as adm:
        key_id, key = adm.issue_key(account)
    _say(as_json, {"account": account, "key_id": key_id, "api_key": key},
         f"key {key_id} for {account} (shown once, store it now):\n{key}")


@keys_app.command("rotate")
def keys_rotate(key_id: str = typer.Argument(...), ledger: str = LedgerOpt, as_json: bool = JsonOpt) -> None:
    """Revoke KEY_ID and issue a new key for the same account (its limits and history stay)."""
    with _admin(ledger) as adm:
        account, new_id, key = adm.rotate_key(key_id)
    _say(as_json, {"account": account, "revoked": key_id, "key_id": new_id, "api_key": key},
         f"key {key_id} revoked; new key {new_id} for {account} (shown once):\n{key}")


@keys_app.command("revoke")
def keys_revoke(key_id: str = typer.Argument(...), ledger: str = LedgerOpt, as_json: bool = JsonOpt) -> None:
    """Revoke KEY_ID (effective on the next request)."""
    with _admin(ledger) as adm:
        account = adm.revoke_key(key_id)
    _say(as_json, {"account": account, "revoked": key_id}, f"key {key_id} of {account} revoked")


@tos_app.command("publish")
def tos_publish(version: str = typer.Option(..., "--version"), text_file: Path = typer.Option(..., "--file", help="The terms' text (UTF-8)."),
                ledger: str = LedgerOpt, as_json: bool = JsonOpt) -> None:
    """Publish a new version of the terms; accounts must accept it before their next completion."""
    from stillwatch.errors import InputError

    try:
        text = text_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the terms file {text_file}: {type(exc).__name__}") from None
    with _admin(ledger) as adm:
        digest = adm.publish_tos(version, text)
    _say(as_json, {"version": version, "sha256": digest}, f"terms {version} published (sha256 {digest})")


@tos_app.command("accept")
def tos_accept(account: str = typer.Argument(...), ledger: str = LedgerOpt,
               version: Optional[str] = typer.Option(None, "--version", help="Must be the current version (default: it)."),
               source_address: str = typer.Option("127.0.0.1", "--source-address", help="Address the acceptance came from."),
               as_json: bool = JsonOpt) -> None:
    """Record ACCOUNT accepting the current terms (accounts can also POST /v1/tos/accept)."""
    with _admin(ledger) as adm:
        accepted = adm.accept_tos(account, source_address, version)
    _say(as_json, {"account": account, "accepted": accepted}, f"{account} accepted terms {accepted}")


@limits_app.command("set")
def limits_set(account: str = typer.Argument(...), ledger: str = LedgerOpt,
               rpm: Optional[int] = typer.Option(None, "--rpm", min=0, help="Requests per minute (0 = no limit)."),
               tpm: Optional[int] = typer.Option(None, "--tpm", min=0, help="Tokens per minute (0 = no limit)."),
               as_json: bool = JsonOpt) -> None:
    """Set ACCOUNT's limits (unset ones fall back to the server's defaults)."""
    with _admin(ledger) as adm:
        adm.set_limits(account, rpm, tpm)
    _say(as_json, {"account": account, "rpm": rpm, "tpm": tpm}, f"limits of {account}: rpm={rpm} tpm={tpm}")
