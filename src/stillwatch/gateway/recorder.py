"""Durable ledger appends for the request handlers, group-committed.

A handler hands the records of one request (its policy decision, and its exchange when it was served)
to :meth:`LedgerWriter.commit` and awaits it: the records of every request waiting at that
moment go into one :meth:`stillwatch.ledger.Ledger.append_many` transaction (one commit, one fsync),
so a request's records are stored all together or not at all, and the handler answers only after
the commit returned. A failed commit fails every request in it (the client gets 503
``ledger_unavailable``, and no answer). The waiting handlers of one commit are woken together
(:mod:`.handoff`: one event-loop wake-up per commit).
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import logging
import threading
from collections.abc import Sequence
from typing import Any

from stillwatch.errors import LedgerError

from .handoff import settle

log = logging.getLogger(__name__)


class LedgerWriter:
    """The writer thread. ``on_commit`` (optional) gets the ledger indices of every commit, before
    the waiters are answered (the ledger tail uses it to skip what this process wrote itself)."""

    def __init__(self, ledger: Any, on_commit: Any = None) -> None:
        self.ledger = ledger
        self.on_commit = on_commit
        self._cond = threading.Condition()
        self._pending: list[tuple[list[Any], Any]] = []  # (records, concurrent or asyncio future)
        self._closed = False
        self.commits = 0
        self._thread = threading.Thread(target=self._run, name="stillwatch-ledger-writer", daemon=True)
        self._thread.start()

    def submit(self, records: Sequence[Any]) -> cf.Future:
        """Queue ``records`` (appended together, in order); the future gets their ledger indices."""
        return self._queue(records, cf.Future())

    async def commit(self, records: Sequence[Any]) -> list[int]:
        """:meth:`submit` for a coroutine: their ledger indices once they are durable."""
        return await self._queue(records, asyncio.get_running_loop().create_future())

    def _queue(self, records: Sequence[Any], fut: Any) -> Any:
        with self._cond:
            if self._closed:
                fut.set_exception(LedgerError("the ledger writer is closed"))
                return fut
            self._pending.append((list(records), fut))
            self._cond.notify()
        return fut

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                batch, self._pending = self._pending, []
                if not batch and self._closed:
                    return
            flat = [r for recs, _ in batch for r in recs]
            try:
                indices = self.ledger.append_many(flat)
            except Exception as exc:  # nothing of this batch is stored: every request in it fails
                log.error("ledger commit of %d records failed: %s", len(flat), type(exc).__name__)
                err = LedgerError(f"the ledger did not accept the records ({type(exc).__name__})")
                settle((fut, None, err) for _, fut in batch)
                continue
            self.commits += 1
            if self.on_commit is not None:
                self.on_commit(indices)
            pos, done = 0, []
            for recs, fut in batch:
                done.append((fut, indices[pos: pos + len(recs)], None))
                pos += len(recs)
            settle(done)
