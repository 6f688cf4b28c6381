"""Per-account rate limits and the live policy (allow / throttle / block), with reason codes.

Attacker model: the client controls its requests, how many accounts and keys it holds, when it
rotates keys, and how fast it sends; it does not control the gateway's clock or its store. Whatever
it does, its limits and its guard history belong to the *account*: rotating a key resets nothing
(unlike proxies whose budget window is per key), and a block is stored with the account, so every
gateway process refuses it on the next request.

Every request that passed authentication, the terms check and validation is first *observed* by
guard's streaming scorer (the live guard; the completion length it counts is the ``max_tokens`` the
client asked for, known before any answer exists), then decided:

=================================  ==========  ===========================================
condition                          decision    reason code
=================================  ==========  ===========================================
account already blocked            block       ``account_blocked``
scorer flags it, strike < N        throttle    ``guard_account_flagged`` / ``guard_campaign_flagged``
scorer flags it, strike = N        block       ``guard_repeated_flags``
over its requests per minute       throttle    ``rate_limit_requests``
over its tokens per minute         throttle    ``rate_limit_tokens``
otherwise                          allow       ``ok``
=================================  ==========  ===========================================

Rate limits are sliding 60-second windows per account: requests, and tokens (prompt tokens plus the
``max_tokens`` reserved at admission, corrected to the tokens really produced when the answer is
done). A throttle's ``Retry-After`` is the time until the window admits the request, or
``throttle_seconds * strikes`` for the guard.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .config import PolicyConfig

WINDOW_S = 60.0


@dataclass(frozen=True)
class Decision:
    decision: str  # allow | throttle | block
    reason: str
    retry_after: int = 0
    scores: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Usage:
    requests: deque = field(default_factory=deque)  # request times
    tokens: deque = field(default_factory=deque)  # [time, tokens] pairs (lists: corrected in place)
    token_sum: int = 0

    def expire(self, now: float) -> None:
        while self.requests and self.requests[0] <= now - WINDOW_S:
            self.requests.popleft()
        while self.tokens and self.tokens[0][0] <= now - WINDOW_S:
            self.token_sum -= self.tokens.popleft()[1]


def _retry_after(t: float, now: float) -> int:
    """Whole seconds until an entry made at ``t`` leaves the window (1..60; float error never adds a second)."""
    return min(int(WINDOW_S), max(1, math.ceil(t + WINDOW_S - now)))


class RateLimiter:
    """Sliding-window requests and tokens per minute, per account (not per key)."""

    def __init__(self) -> None:
        self._usage: dict[str, _Usage] = {}

    def check(self, account: str, rpm: int, tpm: int, tokens: int, now: float) -> tuple[str, int] | None:
        """(reason, retry-after seconds) when the request would exceed a limit (0 = no limit), else None."""
        u = self._usage.setdefault(account, _Usage())
        u.expire(now)
        if rpm and len(u.requests) >= rpm:
            return "rate_limit_requests", _retry_after(u.requests[0], now)
        if tpm and u.token_sum + tokens > tpm:
            if tokens > tpm:
                return "rate_limit_tokens", int(WINDOW_S)
            need, acc = u.token_sum + tokens - tpm, 0
            for t, n in u.tokens:  # oldest first: when have enough tokens left the window?
                acc += n
                if acc >= need:
                    return "rate_limit_tokens", _retry_after(t, now)
            return "rate_limit_tokens", int(WINDOW_S)
        return None

    def admit(self, account: str, tokens: int, now: float) -> list:
        """Count an admitted request; returns its token entry for :meth:`correct`."""
        u = self._usage.setdefault(account, _Usage())
        u.requests.append(now)
        entry = [now, tokens]
        u.tokens.append(entry)
        u.token_sum += tokens
        return entry

    def correct(self, account: str, entry: list, tokens: int) -> None:
        """Replace a reservation by the tokens really used (if it is still in the window)."""
        u = self._usage.get(account)
        if u is not None and u.tokens and entry[0] >= u.tokens[0][0]:
            u.token_sum += tokens - entry[1]
            entry[1] = tokens


class LivePolicy:
    """The live guard and the limits of one gateway process (see the module docstring).

    Args:
        config: thresholds of the policy.
        clock: seconds since the epoch (``time.time``; tests replay a log's own timestamps).
        scorer: guard's streaming scorer (a fresh one by default).
    """

    def __init__(self, config: PolicyConfig, clock: Callable[[], float] = time.time, scorer: Any = None) -> None:
        from stillwatch.guard.live.stream import StreamingScorer

        self.cfg = config
        self.clock = clock
        self.scorer = scorer if scorer is not None else StreamingScorer()
        self.limits = RateLimiter()
        self.strikes: dict[str, int] = {}
        self._lock = threading.Lock()  # the handlers and the ledger tail (another thread) share the state

    def observe_remote(self, row: Mapping[str, Any]) -> None:
        """An exchange another gateway process served (see :mod:`.tail`): into the scorer and the limits."""
        with self._lock:
            self.scorer.observe(row)
            self.limits.admit(str(row["account_id"]), int(row.get("used_tokens") or 0), row["ts"] / 1e6)

    def remote_strike(self, account: str) -> None:
        """A guard throttle another gateway process decided counts as a strike here too."""
        with self._lock:
            self.strikes[account] = self.strikes.get(account, 0) + 1

    def decide(self, row: Mapping[str, Any], blocked: str | None, rpm: int, tpm: int, tokens: int, now: float) -> Decision:
        """Observe ``row`` (guard log fields; ``ts`` in microseconds) and decide on it.
        ``tokens`` = prompt tokens + max_tokens (the reservation counted against ``tpm``)."""
        with self._lock:
            return self._decide(row, blocked, rpm, tpm, tokens, now)

    def _decide(self, row: Mapping[str, Any], blocked: str | None, rpm: int, tpm: int, tokens: int, now: float) -> Decision:
        acct = str(row["account_id"])
        if blocked:
            return Decision("block", "account_blocked", 0, {"strikes": self.strikes.get(acct, 0)})
        v = self.scorer.observe(row)
        scores = {"score": round(float(v.score), 6)}
        if v.flagged:
            n = self.strikes[acct] = self.strikes.get(acct, 0) + 1
            scores["strikes"] = n
            if n >= self.cfg.block_after:
                return Decision("block", "guard_repeated_flags", 0, scores)
            reason = "guard_campaign_flagged" if v.campaign_id else "guard_account_flagged"
            return Decision("throttle", reason, self.cfg.throttle_seconds * n, scores)
        hit = self.limits.check(acct, rpm, tpm, tokens, now)
        if hit is not None:
            return Decision("throttle", hit[0], hit[1], scores)
        return Decision("allow", "ok", 0, scores)
