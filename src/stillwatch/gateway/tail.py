"""Shared live-guard state across gateway processes, through the ledger they share.

Every process appends its exchanges and policy decisions to one ledger; each process also *tails*
that ledger (every ``interval`` seconds, from a separate connection) and feeds what the other
processes recorded into its own state: their exchanges into its streaming scorer and its rate-limit
windows, their guard throttles into its strike counts. So an account's history follows it whichever
process its requests reach (key rotation, a load balancer without stickiness), within one tail
interval. On start a process replays the last ``warm_records`` records the same way, so a restart
does not reset anyone either. Records a process wrote itself are recognised (by the ledger indices its
writer reports after each commit, and, for what the tail reads before that report, exchanges by
request id and policy records by the instance tag in ``policy_version``) and not counted twice; the
first check skips them before their JSON is parsed.

What is not shared: requests another process refused are seen here only as its policy records (the
scorer observes served exchanges of other processes, not their refused prompts).
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from stillwatch.core.times import epoch_us
from stillwatch.guard.log.ledger_log import row_params

log = logging.getLogger(__name__)


def _ts_us(iso: str) -> int:
    """An ISO-8601 time with its offset as integer microseconds since the epoch (:func:`~stillwatch.core.times.epoch_us`)."""
    return epoch_us(_dt.datetime.fromisoformat(iso.replace("Z", "+00:00")))


class LedgerTail:
    """Follow ``ledger`` (the gateway's own open :class:`stillwatch.ledger.Ledger`, whose store is
    thread-safe) into ``policy`` (a :class:`.policy.LivePolicy`). The ledger is not opened a second
    time in this process: opening an SQLite ledger reads its file header through a separate file
    descriptor, and closing that descriptor drops the process's POSIX locks on the file, after which
    the other connections of the process read stale data."""

    def __init__(self, ledger: Any, policy: Any, instance: str, *, interval: float = 0.2, warm_records: int = 20_000,
                 created: Callable[[str], int | None] | None = None) -> None:
        self.policy = policy
        # account -> its creation time (epoch us) as ``created`` reads it from the gateway's account table, once per
        # account: the rows of other processes carry it as this process's own rows do (service.scorer_row)
        self._created = created
        self._created_at: dict[str, int | None] = {}
        self.instance = instance
        self.interval = interval
        self.own: OrderedDict[str, None] = OrderedDict()  # request ids this process recorded (bounded)
        self.own_indices: set[int] = set()  # ledger indices this process wrote that the tail has not passed yet
        self._idx_lock = threading.Lock()
        self._ledger = ledger
        self.pos = max(0, self._ledger.size - warm_records)
        self.seen = 0
        self._stop = threading.Event()
        self.poll()
        self._thread = threading.Thread(target=self._run, name="stillwatch-ledger-tail", daemon=True)
        self._thread.start()

    def mine(self, request_id: str) -> None:
        self.own[request_id] = None
        while len(self.own) > 1_000_000:
            self.own.popitem(last=False)

    def committed(self, indices: list[int]) -> None:
        """The writer's report of one commit of this process (called on the writer thread)."""
        with self._idx_lock:
            self.own_indices.update(i for i in indices if i >= self.pos)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll()
            except Exception as exc:  # a transient store error: try again at the next tick
                log.warning("ledger tail: %s", type(exc).__name__)

    def _with_created(self, row: dict[str, Any]) -> dict[str, Any]:
        if self._created is None:
            return row
        acct = str(row["account_id"])
        if acct not in self._created_at:
            self._created_at[acct] = self._created(acct)
        when = self._created_at[acct]
        return row if when is None else {**row, "account_created_at": when}

    def poll(self) -> int:
        """Feed the records appended since the last poll; returns how many were read."""
        n = self._ledger.size
        if n <= self.pos:
            return 0
        start = self.pos
        with self._idx_lock:
            own = {i for i in self.own_indices if i < n}
            self.own_indices -= own
        for i, kind, data, _ in self._ledger.store.iter_leaves(start, n):
            if kind not in ("exchange", "policy") or i in own:
                continue
            f = json.loads(data)["fields"]
            if kind == "exchange":
                rid = f.get("request_id")
                if rid is None or rid in self.own:
                    continue
                self.policy.observe_remote(self._with_created(_row(f)))
            elif f["decision"] == "throttle" and f["reason"].startswith("guard_") and not f["policy_version"].endswith("@" + self.instance):
                self.policy.remote_strike(f["account"])
        self.pos = n
        self.seen += n - start
        return n - start


def _row(f: dict[str, Any]) -> dict[str, Any]:
    """An exchange record as the scorer's row; its completion length is the ``max_tokens`` the
    client asked for, as this process counts its own requests; its request parameters as guard reads them from
    a ledger (:func:`~stillwatch.guard.log.ledger_log.row_params`)."""
    params = f.get("request_params") or {}
    asked = params.get("max_tokens")
    return {"request_id": f["request_id"], "ts": _ts_us(f["ts"]), "account_id": f["account"], "api_key_id": f["api_key_id"],
            "ip": f.get("ip"), "user_agent": f.get("user_agent"), "payment_fingerprint": f.get("payment_fingerprint"),
            "model": f["model"], "prompt": f.get("prompt", ""), "prompt_tokens": f.get("prompt_tokens") or 0,
            "completion_tokens": asked if isinstance(asked, int) else (f.get("completion_tokens") or 0),
            "used_tokens": (f.get("prompt_tokens") or 0) + (f.get("completion_tokens") or 0),
            **row_params(f.get("request_params"))}
