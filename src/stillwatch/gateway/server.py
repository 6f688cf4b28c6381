"""Build a gateway from its parts and serve it with uvicorn."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stillwatch.errors import InputError

from .accounts import AccountStore
from .admin import open_ledger
from .config import GatewayConfig
from .secrets import load_master_key
from .service import Gateway

log = logging.getLogger(__name__)


def load_gateway_backend(model: str, upstream_model: str | None = None) -> Any:
    """``smollm2``, ``tiny`` or a model directory (local: watermarked) or an ``http(s)://`` URL (upstream)."""
    if model.lower().startswith(("http://", "https://")):
        from .upstream import UpstreamBackend

        return UpstreamBackend(model, upstream_model)
    from stillwatch.models import load_backend

    backend = load_backend(model)
    if not hasattr(backend, "model") or not hasattr(backend, "eos_token_ids"):
        raise InputError(f"model {model!r} is not a local transformers model; the gateway serves smollm2, tiny, a model directory or a URL")
    return backend


def build_gateway(ledger: str, backend: Any, *, master_key: str | Path | None, config: GatewayConfig | None = None,
                  clock: Callable[[], float] = time.time, share_state: bool = True) -> Gateway:
    """A gateway over the ledger at ``ledger`` (a missing SQLite ledger is created). With
    ``share_state`` it tails the ledger for what other gateway processes record (see :mod:`.tail`)."""
    master = load_master_key(master_key) if getattr(backend, "local", False) else None
    led = open_ledger(ledger, create=True)
    store = AccountStore(ledger)
    return Gateway(config or GatewayConfig(), led, store, master, backend, clock, share_state)


def serve(gw: Gateway, host: str = "127.0.0.1", port: int = 8000, log_level: str = "warning") -> None:
    """Run the HTTP server until interrupted; closes the engine and the ledger writer afterwards.

    uvicorn shuts down gracefully on SIGTERM (requests in flight are answered, so recorded), then
    raises the signal again once its own handlers are gone; the handler set here turns that second
    SIGTERM into ``SystemExit`` so that the ``finally`` below still runs (a default handler would end
    the process at once, skipping it)."""
    import signal

    import uvicorn

    from .app import create_app

    def _leave(signum: int, frame: Any) -> None:
        raise SystemExit(0)

    app = create_app(gw)
    signal.signal(signal.SIGTERM, _leave)
    try:
        uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False,
                    timeout_keep_alive=30, h11_max_incomplete_event_size=64 * 1024)
    finally:
        gw.close()
        gw.store.close()
        gw.ledger.close()
