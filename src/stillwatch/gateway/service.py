"""The gateway's request pipeline, apart from HTTP: authenticate, admit, generate, record.

Order for every completion request: the key (401/403) -> the terms of service (403) -> the model
and the prompt's size (404/400) -> the live policy (the guard observes the request, then allow /
throttle 429 / block 403; the decision is a ledger record) -> the answer (watermarked with the
account's layer for a local model) -> the exchange and its allow decision appended to the ledger in
one durable transaction -> only then the answer goes out (a stream sends its tokens as they are
produced, but its closing chunk and ``[DONE]`` only after that commit).
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import ipaddress
import logging
import secrets as _secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stillwatch.errors import BackendError, LedgerError
from stillwatch.guard.log.ledger_log import row_params
from stillwatch.ledger import Exchange, Policy, ToSAcceptance

from .accounts import AccountStore, KeyRecord
from .config import GatewayConfig
from .engine import BatchEngine, GenRequest, MarkerCache
from .policy import Decision, LivePolicy
from .recorder import LedgerWriter
from .schemas import APIError
from .tail import LedgerTail, _ts_us
from .secrets import digest_matches, parse_api_key

log = logging.getLogger(__name__)

WATERMARK_HEADER = "x-stillwatch-watermark"
DEFAULT_TEMPERATURE = 1.0


def _iso(t: float) -> str:
    return _dt.datetime.fromtimestamp(t, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _clean_header(value: str | None, limit: int = 512) -> str:
    text = "".join(c for c in (value or "") if c.isprintable())[:limit].strip()
    return text or "unknown"


def scorer_row(rec: KeyRecord, request_id: str, now: float, ip: str, user_agent: str, model: str, prompt: str,
               n_prompt: int, params: dict[str, Any]) -> dict[str, Any]:
    """A request as the live scorer reads it (guard's log fields; ``ts`` in microseconds): its time the ledger
    record's (``now`` written to the microsecond, read back), its completion length the ``max_tokens`` asked for, and
    its request parameters read as guard reads them from the record
    (:func:`~stillwatch.guard.log.ledger_log.row_params`), so that this process and those that see the request through
    the ledger (:mod:`.tail`) feed their scorers the same row. The account's creation time (the gateway's account
    table, not the record) as ``account_created_at`` where it is readable, as a scan of the ledger joins it."""
    row = {"request_id": request_id, "ts": _ts_us(_iso(now)), "account_id": rec.account_id, "api_key_id": rec.key_id,
           "ip": ip, "user_agent": user_agent, "payment_fingerprint": rec.payment_fingerprint, "model": model,
           "prompt": prompt, "prompt_tokens": n_prompt, "completion_tokens": int(params["max_tokens"]),
           **row_params(params)}
    if rec.account_created_us is not None:
        row["account_created_at"] = rec.account_created_us
    return row


@dataclass
class Admitted:
    """A request that passed every check, with what its ledger records need."""

    key: KeyRecord
    request_id: str
    now: float
    ip: str
    user_agent: str
    prompt: str
    prompt_ids: list[int]
    max_new_tokens: int
    temperature: float
    top_k: int | None
    top_p: float | None
    params: dict[str, Any]
    decision: Decision
    usage: list


@dataclass
class Answer:
    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int


class Gateway:
    """One gateway process: the store, the ledger writer, the live policy and the backend.

    Args:
        config: see :class:`.config.GatewayConfig`.
        ledger: an open :class:`stillwatch.ledger.Ledger`; ``store`` the gateway tables beside it.
        master: the master secret (local models only; None for an upstream API).
        backend: a local ``HFBackend`` or an :class:`.upstream.UpstreamBackend`.
        clock: seconds since the epoch (tests replay a log's timestamps through it).
        share_state: tail the ledger for what other gateway processes record (see :mod:`.tail`).
    """

    def __init__(self, config: GatewayConfig, ledger: Any, store: AccountStore, master: Any, backend: Any,
                 clock: Callable[[], float] = time.time, share_state: bool = True) -> None:
        self.cfg = config
        self.ledger = ledger
        self.store = store
        self.backend = backend
        self.clock = clock
        self.policy = LivePolicy(config.policy, clock)
        self.instance = _secrets.token_hex(4)
        self.policy_version = f"{config.policy.version}@{self.instance}"
        self.tail: LedgerTail | None = None
        if share_state:
            self.tail = LedgerTail(ledger, self.policy, self.instance, created=store.account_created_us)
        self.writer = LedgerWriter(ledger, self.tail.committed if self.tail is not None else None)
        self.local = bool(getattr(backend, "local", False))
        self.markers: MarkerCache | None = None
        self.engine: BatchEngine | None = None
        if self.local:
            if master is None:
                raise BackendError("a local model is served watermarked: a master key is needed")
            self.markers = MarkerCache(master, backend)
            self.engine = BatchEngine(backend, self.markers, config.engine)

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()
        if self.tail is not None:
            self.tail.close()
        self.writer.close()

    # ------------------------------------------------------------------ checks
    def authenticate(self, authorization: str | None) -> KeyRecord:
        if not authorization:
            raise APIError(401, "missing_api_key", "no API key: send 'Authorization: Bearer <key>'")
        scheme, _, token = authorization.partition(" ")
        key_id = parse_api_key(token.strip()) if scheme.lower() == "bearer" else None
        rec = self.store.lookup(key_id) if key_id else None
        if rec is None or not digest_matches(token.strip(), rec.key_sha256):
            raise APIError(401, "invalid_api_key", "the API key is not valid")
        if rec.revoked:
            raise APIError(401, "revoked_api_key", f"API key {rec.key_id} has been revoked")
        if rec.disabled:
            raise APIError(403, "account_disabled", f"account {rec.account_id} is disabled")
        return rec

    def check_terms(self, rec: KeyRecord) -> None:
        if rec.current_tos is None:
            raise APIError(403, "tos_not_accepted", "no terms of service are published yet; completions are unavailable")
        if rec.tos_version != rec.current_tos:
            raise APIError(403, "tos_not_accepted", f"accept the terms of service version {rec.current_tos} first "
                           "(POST /v1/tos/accept)")

    async def accept_terms(self, rec: KeyRecord, ip: str, version: str | None) -> str:
        """Record the account accepting the current terms (a ``tos_acceptance`` ledger record first)."""
        current = self.store.current_tos()
        if current is None:
            raise APIError(404, "tos_not_published", "no terms of service are published yet")
        if version is not None and version != current[0]:
            raise APIError(409, "tos_version_mismatch", f"version {version[:128]!r} is not the current terms version {current[0]!r}",
                           param="version")
        await self.commit([ToSAcceptance(account=rec.account_id, terms_version=current[0], terms_sha256=current[1],
                                         ts=_iso(self.clock()), source_address=ip)])
        self.store.accept_tos(rec.account_id, current[0])
        return current[0]

    def client_address(self, peer: str | None, forwarded: str | None) -> str:
        peer = peer or "0.0.0.0"
        if forwarded and peer in self.cfg.trusted_proxies:
            last = forwarded.split(",")[-1].strip()
            try:
                return str(ipaddress.ip_address(last))
            except ValueError:
                pass
        try:
            return str(ipaddress.ip_address(peer))
        except ValueError:
            return "0.0.0.0"

    def encode_prompt(self, prompt: str, chat: bool) -> list[int]:
        if not self.local:
            return []
        be = self.backend
        if chat:
            ids = be.chat_prompt_ids(prompt)
        else:
            ids = ([be.bos_token_id] if be.bos_token_id is not None else []) + be.encode(prompt)
        return [int(i) for i in ids]

    # ------------------------------------------------------------------ admission
    async def admit(self, rec: KeyRecord, model: str, prompt: str, chat: bool, body: Any, system_sha: str | None,
                    ip: str, user_agent: str) -> Admitted:
        """Validate the request against the served model and the limits, then run the policy.
        A throttle or block is recorded in the ledger and raised as a 429 / 403 APIError."""
        if model != self.cfg.model_id:
            raise APIError(404, "model_not_found", f"the model {model[:256]!r} does not exist; this gateway serves "
                           f"{self.cfg.model_id!r}", param="model")
        try:
            prompt.encode("utf-8")
        except UnicodeEncodeError:
            raise APIError(400, "invalid_text", "the prompt is not valid Unicode text (it holds a lone surrogate)") from None
        if len(prompt) > 8 * self.cfg.max_prompt_tokens:
            raise APIError(400, "context_length_exceeded", f"the prompt is longer than {self.cfg.max_prompt_tokens} tokens")
        ids = self.encode_prompt(prompt, chat)
        n_prompt = len(ids) if self.local else max(1, len(prompt) // 4)
        if n_prompt > self.cfg.max_prompt_tokens:
            raise APIError(400, "context_length_exceeded", f"the prompt has {n_prompt} tokens; at most "
                           f"{self.cfg.max_prompt_tokens} are allowed", param="messages" if chat else "prompt")
        if self.markers is not None and len(ids) < self.markers.context_width:
            raise APIError(400, "prompt_too_short", f"the prompt has {len(ids)} token(s); at least "
                           f"{self.markers.context_width} are needed", param="prompt")
        requested = getattr(body, "max_completion_tokens", None) or body.max_tokens or self.cfg.engine.max_new_tokens
        temperature = DEFAULT_TEMPERATURE if body.temperature is None else float(body.temperature)
        now = self.clock()
        request_id = "req_" + _secrets.token_hex(12)
        params = {"endpoint": "chat.completions" if chat else "completions", "temperature": temperature,
                  "max_tokens": int(requested), "top_p": body.top_p, "top_k": body.top_k, "seed": None if body.seed is None else str(body.seed),
                  "stream": bool(body.stream), "system_prompt_sha256": system_sha,
                  "watermark": "provider+account" if self.local else "none"}
        row = scorer_row(rec, request_id, now, ip, user_agent, self.cfg.model_id, prompt, n_prompt, params)
        rpm = rec.rpm if rec.rpm is not None else self.cfg.default_rpm
        tpm = rec.tpm if rec.tpm is not None else self.cfg.default_tpm
        reserve = n_prompt + int(requested)
        decision = self.policy.decide(row, rec.blocked_reason, rpm, tpm, reserve, now)
        if decision.decision != "allow":
            await self._refuse(rec, decision, now)
        usage = self.policy.limits.admit(rec.account_id, reserve, now)
        return Admitted(rec, request_id, now, ip, user_agent, prompt, ids, min(int(requested), self.cfg.engine.max_new_tokens),
                        temperature, body.top_k, body.top_p, params, decision, usage)

    def _policy_record(self, account: str, d: Decision, now: float) -> Policy:
        return Policy(account=account, decision=d.decision, reason=d.reason, ts=_iso(now), scores=d.scores,
                      policy_version=self.policy_version)

    async def _refuse(self, rec: KeyRecord, d: Decision, now: float) -> None:
        records: list[Any] = [self._policy_record(rec.account_id, d, now)]
        await self.commit(records)
        if d.decision == "block":
            if not rec.blocked_reason:
                self.store.block(rec.account_id, d.reason)
            raise APIError(403, d.reason, f"account {rec.account_id} is blocked ({d.reason})")
        raise APIError(429, d.reason, f"too many requests ({d.reason}); retry after {d.retry_after} s",
                       headers={"Retry-After": str(d.retry_after)})

    async def commit(self, records: list[Any]) -> list[int]:
        try:
            return await self.writer.commit(records)
        except LedgerError:
            raise APIError(503, "ledger_unavailable", "the evidence ledger did not accept the exchange; "
                           "no answer is given for it", headers={"Retry-After": "1"}) from None

    # ------------------------------------------------------------------ generation and records
    def start(self, adm: Admitted, on_token: Callable[[int], None] | None = None) -> Any:
        """Start generating; returns an awaitable of :class:`Answer`."""
        if self.engine is not None:
            req = GenRequest(adm.prompt_ids, adm.max_new_tokens, max(adm.temperature, 1e-3), adm.top_k,
                             adm.key.account_id, on_token, asyncio.get_running_loop().create_future())
            fut = self.engine.submit(req)

            async def local() -> Answer:
                ids, finish = await fut
                return Answer(self.backend.decode(ids), finish, len(adm.prompt_ids), len(ids))

            return asyncio.ensure_future(local())

        async def remote() -> Answer:
            a = await self.backend.complete(adm.prompt, adm.max_new_tokens, adm.temperature, adm.top_p)
            return Answer(a.text, a.finish_reason, a.prompt_tokens, a.completion_tokens)

        return asyncio.ensure_future(remote())

    def spec_of(self, adm: Admitted) -> str:
        return self.markers.get(adm.key.account_id)[1]["fingerprint"] if self.markers is not None else ""

    def watermark_header(self, adm: Admitted) -> str:
        if self.markers is None:
            return "none; reason=upstream-api-exposes-no-logits"
        return f"provider+account; spec={self.spec_of(adm)}"

    async def record(self, adm: Admitted, ans: Answer) -> int:
        """Append the allow decision and the exchange in one durable transaction; the exchange's index."""
        self.policy.limits.correct(adm.key.account_id, adm.usage, ans.prompt_tokens + ans.completion_tokens)
        k = adm.key
        ex = Exchange(account=k.account_id, api_key_id=k.key_id, ts=_iso(adm.now), model=self.cfg.model_id,
                      spec_fingerprint=self.spec_of(adm), prompt=adm.prompt, response=ans.text,
                      request_id=adm.request_id, ip=adm.ip, user_agent=adm.user_agent,
                      payment_fingerprint=k.payment_fingerprint, prompt_tokens=ans.prompt_tokens,
                      completion_tokens=ans.completion_tokens,
                      request_params={**adm.params, "finish_reason": ans.finish_reason})
        if self.tail is not None:
            self.tail.mine(adm.request_id)
        idx = await self.commit([self._policy_record(k.account_id, adm.decision, adm.now), ex])
        return idx[1]
