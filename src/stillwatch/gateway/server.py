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
    """Run the HTTP server until interrupted; closes the engine, the ledger writer and the ledger.

    The close runs in the app's shutdown, i.e. inside uvicorn's graceful shutdown on SIGTERM or
    SIGINT (requests in flight are answered, so recorded, first): uvicorn then raises the signal
    again, which on SIGTERM ends the process at once, before any ``finally`` here would run. The
    objects built before serving are frozen out of the garbage collector (``gc.freeze``)."""
    import gc
    import threading

    import uvicorn

    from .app import create_app

    once = threading.Lock()

    def shutdown() -> None:
        if once.acquire(blocking=False):
            gw.close()
            gw.store.close()
            gw.ledger.close()

    app = create_app(gw, on_shutdown=shutdown)
    # Everything allocated so far (torch, transformers, the model, the gateway) lives as long as the
    # process: out of the collector's sight, a full collection no longer walks it while serving (a
    # latency spike every few thousand requests).
    gc.collect()
    gc.freeze()
    try:
        uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False,
                    timeout_keep_alive=30, h11_max_incomplete_event_size=64 * 1024)
    finally:  # the server never started, or SIGINT (KeyboardInterrupt after the shutdown)
        shutdown()
