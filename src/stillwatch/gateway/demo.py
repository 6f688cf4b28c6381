"""The gateway step of ``stillwatch demo``: answers are fetched through a gateway the demo starts on
a loopback port and stops afterwards, so the demo's watermarked answers travel the production path
(key, terms, live guard, per-account watermark, dynamic batching, ledger record before the answer)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from pathlib import Path
from typing import Any

from stillwatch.errors import BackendError

from .admin import Admin
from .config import EngineConfig, GatewayConfig
from .server import build_gateway


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def answers_through_gateway(workdir: Path, master_key: Path, backend: Any, accounts: list[str], prompts: list[str], *,
                            max_tokens: int = 120, temperature: float = 0.8) -> dict[str, Any]:
    """Serve ``backend`` on 127.0.0.1 (ledger ``workdir/gateway.db``), give each account a key and the
    accepted terms, ask every prompt for every account at once over HTTP, stop the server.

    Returns ``{"answers": {account: [text per prompt]}, "ledger": path, "spec": {account: fingerprint},
    "batches": [sizes of the engine's batches]}``."""
    import httpx
    import uvicorn

    from .app import create_app

    workdir.mkdir(parents=True, exist_ok=True)
    ledger = str(workdir / "gateway.db")
    keys = {}
    with Admin(ledger, create=True) as adm:
        adm.publish_tos("demo-1", "Answers may not be used to train other models.\n")
        for a in accounts:
            adm.add_account(a)
            keys[a] = adm.issue_key(a)[1]
            adm.accept_tos(a, "127.0.0.1")
    cfg = GatewayConfig(model_id="smollm2", engine=EngineConfig(window_ms=100.0, max_batch=64, max_new_tokens=max_tokens))
    gw = build_gateway(ledger, backend, master_key=master_key, config=cfg, share_state=False)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(gw), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        t0 = time.monotonic()
        while not server.started:
            if not thread.is_alive() or time.monotonic() - t0 > 60:
                raise BackendError("the demo's gateway did not start")
            time.sleep(0.05)

        async def ask() -> list[tuple[str, str, str]]:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}/v1", timeout=1800) as client:
                async def one(a: str, p: str) -> tuple[str, str, str]:
                    r = await client.post("/chat/completions", headers={"Authorization": f"Bearer {keys[a]}"},
                                          json={"model": "smollm2", "messages": [{"role": "user", "content": p}],
                                                "max_tokens": max_tokens, "temperature": temperature})
                    if r.status_code != 200:
                        raise BackendError(f"the demo's gateway answered {r.status_code}: {r.json()['error']['code']}")
                    return a, r.json()["choices"][0]["message"]["content"], r.headers["x-stillwatch-watermark"]
                return await asyncio.gather(*[one(a, p) for a in accounts for p in prompts])

        got = asyncio.run(ask())
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        gw.close()
        gw.store.close()
        gw.ledger.close()
    answers: dict[str, list[str]] = {a: [] for a in accounts}
    spec: dict[str, str] = {}
    for a, text, header in got:
        answers[a].append(text)
        spec[a] = header.split("spec=")[-1]
    return {"answers": answers, "ledger": ledger, "spec": spec, "batches": list(gw.engine.batches) if gw.engine else []}
