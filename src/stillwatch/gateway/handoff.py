"""Results made on a worker thread (the engine, the ledger writer), handed to the futures that wait
for them: ``concurrent.futures`` futures directly, asyncio futures with *one* wake-up of their event
loop per batch of results (``loop.call_soon_threadsafe`` once, not once per request: under load a
batch of 32 answers or a group commit of 32 exchanges would otherwise wake the loop 32 times).
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
from collections.abc import Iterable
from typing import Any

#: (future, result, exception or None)
Outcome = tuple[Any, Any, BaseException | None]


def claim(fut: Any) -> bool:
    """True when ``fut`` still wants a result (marks a concurrent future running, as its executor would)."""
    if isinstance(fut, cf.Future):
        return fut.set_running_or_notify_cancel()
    return not fut.done()


def _settle_here(outcomes: list[Outcome]) -> None:
    for fut, result, exc in outcomes:
        if fut.done():  # the waiter went away (cancelled): nothing to deliver
            continue
        if exc is not None:
            fut.set_exception(exc)
        else:
            fut.set_result(result)


def settle(outcomes: Iterable[Outcome]) -> None:
    """Deliver ``outcomes``; call from any thread. Asyncio futures are settled on their own loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[Outcome]] = {}
    direct: list[Outcome] = []
    for item in outcomes:
        fut = item[0]
        if isinstance(fut, asyncio.Future):
            by_loop.setdefault(fut.get_loop(), []).append(item)
        else:
            direct.append(item)
    _settle_here(direct)
    for loop, items in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle_here, items)
        except RuntimeError:  # the loop is closed (server shut down): nobody waits any more
            pass
