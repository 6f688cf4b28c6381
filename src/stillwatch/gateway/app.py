"""The OpenAI-compatible HTTP API (FastAPI): routes, OpenAI-shaped errors, server-sent events.

Endpoints: ``POST /v1/chat/completions`` and ``POST /v1/completions`` (streaming or not),
``GET /v1/models``, ``GET /health`` (open), ``GET /v1/tos`` (open: the current terms' version and
SHA-256) and ``POST /v1/tos/accept`` (an account accepts them; recorded with the caller's address).
Every error is ``{"error": {"message", "type", "param", "code"}}`` with a stable ``code``; an
unexpected failure is logged by type only and answered 503 ``internal_error`` without details.
Bodies and stream chunks are encoded with orjson (compact UTF-8, as ``json.dumps(ensure_ascii=False)``
would write them), falling back to ASCII-escaped ``json`` for text orjson refuses (lone surrogates).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
import orjson
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from stillwatch.errors import BackendError, InputError, StillwatchError

from .schemas import APIError, ChatRequest, CompletionRequest, completion_prompt, render_chat
from .service import WATERMARK_HEADER, Admitted, Answer, Gateway, _clean_header

log = logging.getLogger(__name__)


class TermsAcceptance(BaseModel):
    version: str | None = Field(None, max_length=128)


def dump_bytes(doc: Any) -> bytes:
    """One JSON document, encoded (see the module docstring)."""
    try:
        return orjson.dumps(doc)
    except TypeError:  # orjson.JSONEncodeError: text that is not valid Unicode
        return json.dumps(doc, separators=(",", ":")).encode("ascii")


def _event(doc: Any) -> bytes:
    """One server-sent event carrying ``doc``."""
    return b"data: " + dump_bytes(doc) + b"\n\n"


class FastJSON(JSONResponse):
    """Starlette's JSONResponse, encoded with orjson."""

    def render(self, content: Any) -> bytes:
        return dump_bytes(content)


def _error(exc: APIError) -> JSONResponse:
    return FastJSON(exc.body(), status_code=exc.status, headers=exc.headers)


class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes gets 413 ``request_too_large``, whether
    it announces its length or not (chunked bodies are counted as they arrive)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        too_big = APIError(413, "request_too_large", f"the request body is larger than {self.limit} bytes")
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    n = int(value)
                except ValueError:
                    n = -1
                if n > self.limit or n < 0:
                    err = too_big if n > self.limit else APIError(400, "invalid_request", "Content-Length is not a number")
                    return await _error(err)(scope, receive, send)
        seen = 0

        async def counted() -> dict:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.limit:
                    raise too_big
            return msg

        await self.app(scope, counted, send)


def create_app(gw: Gateway, on_shutdown: Callable[[], None] | None = None) -> FastAPI:
    """The app serving ``gw``; ``on_shutdown`` runs when the server shuts down (after the last answer)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if on_shutdown is not None:
            on_shutdown()

    app = FastAPI(title="Stillwatch gateway", version="1", docs_url=None, redoc_url=None, default_response_class=FastJSON,
                  lifespan=lifespan,
                  description="OpenAI-compatible API: every answer watermarked, every exchange in the ledger.")
    _errors(app)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "model": gw.cfg.model_id, "watermark": gw.markers is not None}

    @app.get("/v1/models")
    async def models(request: Request) -> dict[str, Any]:
        gw.authenticate(request.headers.get("authorization"))
        return {"object": "list", "data": [{"id": gw.cfg.model_id, "object": "model", "created": 0, "owned_by": "stillwatch"}]}

    @app.get("/v1/tos")
    async def tos() -> dict[str, Any]:
        cur = gw.store.current_tos()
        if cur is None:
            raise APIError(404, "tos_not_published", "no terms of service are published yet")
        return {"version": cur[0], "sha256": cur[1]}

    @app.post("/v1/tos/accept")
    async def tos_accept(body: TermsAcceptance, request: Request) -> dict[str, Any]:
        rec = gw.authenticate(request.headers.get("authorization"))
        ip = gw.client_address(request.client.host if request.client else None, request.headers.get("x-forwarded-for"))
        version = await gw.accept_terms(rec, ip, body.version)
        return {"account": rec.account_id, "accepted": version}

    @app.post("/v1/chat/completions")
    async def chat(body: ChatRequest, request: Request) -> Any:
        rec = gw.authenticate(request.headers.get("authorization"))
        gw.check_terms(rec)
        prompt, system_sha = render_chat(body.messages)
        return await _complete(gw, request, rec, body, prompt, system_sha, chat=True)

    @app.post("/v1/completions")
    async def completions(body: CompletionRequest, request: Request) -> Any:
        rec = gw.authenticate(request.headers.get("authorization"))
        gw.check_terms(rec)
        return await _complete(gw, request, rec, body, completion_prompt(body), None, chat=False)

    app.add_middleware(BodyLimit, limit=gw.cfg.max_body_bytes)
    return app


def _errors(app: FastAPI) -> None:
    @app.exception_handler(APIError)
    async def api_error(request: Request, exc: APIError) -> JSONResponse:
        return _error(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errs = exc.errors()
        first = errs[0] if errs else {}
        if first.get("type") == "json_invalid":
            return _error(APIError(400, "invalid_json", "the request body is not valid JSON"))
        loc = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or None
        msg = str(first.get("msg", "invalid request"))[:200]
        return _error(APIError(400, "invalid_request", f"{loc or 'body'}: {msg}", param=loc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "invalid_request")
        status = exc.status_code if exc.status_code < 500 else 400
        return _error(APIError(status, code, str(exc.detail)[:200]))

    @app.exception_handler(InputError)
    async def input_error(request: Request, exc: InputError) -> JSONResponse:
        return _error(APIError(400, "invalid_request", str(exc)[:300]))

    @app.exception_handler(BackendError)
    async def backend_error(request: Request, exc: BackendError) -> JSONResponse:
        return _error(APIError(503, "backend_unavailable", "the model could not answer", headers={"Retry-After": "1"}))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected %s on %s", type(exc).__name__, request.url.path)
        kind = "store_error" if isinstance(exc, StillwatchError) else "internal_error"
        return _error(APIError(503, kind, "the gateway could not answer this request", headers={"Retry-After": "1"}))


async def _complete(gw: Gateway, request: Request, rec: Any, body: Any, prompt: str, system_sha: str | None, *, chat: bool) -> Any:
    ip = gw.client_address(request.client.host if request.client else None, request.headers.get("x-forwarded-for"))
    ua = _clean_header(request.headers.get("user-agent"))
    adm = await gw.admit(rec, body.model, prompt, chat, body, system_sha, ip, ua)
    headers = {"x-request-id": adm.request_id, WATERMARK_HEADER: gw.watermark_header(adm)}
    if body.stream:
        include_usage = bool((body.stream_options or {}).get("include_usage"))
        return StreamingResponse(_stream(gw, adm, chat, include_usage), media_type="text/event-stream", headers=headers)
    ans = await gw.start(adm)
    idx = await gw.record(adm, ans)
    headers["x-stillwatch-ledger-index"] = str(idx)
    return FastJSON(_final_body(gw, adm, ans, chat), headers=headers)


def _usage(ans: Answer) -> dict[str, int]:
    return {"prompt_tokens": ans.prompt_tokens, "completion_tokens": ans.completion_tokens,
            "total_tokens": ans.prompt_tokens + ans.completion_tokens}


def _final_body(gw: Gateway, adm: Admitted, ans: Answer, chat: bool) -> dict[str, Any]:
    base = {"id": ("chatcmpl-" if chat else "cmpl-") + adm.request_id[4:], "created": int(adm.now),
            "model": gw.cfg.model_id, "system_fingerprint": gw.spec_of(adm) or None, "usage": _usage(ans)}
    if chat:
        choice = {"index": 0, "message": {"role": "assistant", "content": ans.text}, "finish_reason": ans.finish_reason,
                  "logprobs": None}
        return {**base, "object": "chat.completion", "choices": [choice]}
    choice = {"index": 0, "text": ans.text, "finish_reason": ans.finish_reason, "logprobs": None}
    return {**base, "object": "text_completion", "choices": [choice]}


def _chunk(gw: Gateway, adm: Admitted, chat: bool, text: str | None, finish: str | None, first: bool = False) -> bytes:
    if chat:
        delta: dict[str, Any] = {"role": "assistant", "content": ""} if first else ({"content": text} if text else {})
        choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        obj = "chat.completion.chunk"
    else:
        choice = {"index": 0, "text": text or "", "finish_reason": finish, "logprobs": None}
        obj = "text_completion"
    doc = {"id": ("chatcmpl-" if chat else "cmpl-") + adm.request_id[4:], "object": obj, "created": int(adm.now),
           "model": gw.cfg.model_id, "choices": [choice]}
    return _event(doc)


async def _stream(gw: Gateway, adm: Admitted, chat: bool, include_usage: bool) -> Any:
    """Server-sent events: a delta per decoded piece of text as the engine produces tokens; the
    closing chunk and ``[DONE]`` only once the exchange is in the ledger. A client that leaves early
    does not stop the record: the answer is finished and recorded in the background."""
    loop = asyncio.get_running_loop()
    tokens: asyncio.Queue[int] = asyncio.Queue()
    task = gw.start(adm, (lambda t: loop.call_soon_threadsafe(tokens.put_nowait, t)) if gw.local else None)
    recorded = False
    try:
        if chat:
            yield _chunk(gw, adm, chat, None, None, first=True)
        ids: list[int] = []
        sent = ""
        while not task.done() or not tokens.empty():
            getter = asyncio.ensure_future(tokens.get())
            done, _ = await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                continue
            ids.append(getter.result())
            text = gw.backend.decode(ids)
            if text.endswith("\ufffd") or not text.startswith(sent):
                continue  # an incomplete UTF-8 sequence: wait for its next byte
            if len(text) > len(sent):
                yield _chunk(gw, adm, chat, text[len(sent):], None)
                sent = text
        ans = task.result()
        if ans.text.startswith(sent) and len(ans.text) > len(sent):
            yield _chunk(gw, adm, chat, ans.text[len(sent):], None)
        await gw.record(adm, ans)
        recorded = True
        yield _chunk(gw, adm, chat, None, ans.finish_reason)
        if include_usage:
            doc = {"id": ("chatcmpl-" if chat else "cmpl-") + adm.request_id[4:], "object": "chat.completion.chunk" if chat else "text_completion",
                   "created": int(adm.now), "model": gw.cfg.model_id, "choices": [], "usage": _usage(ans)}
            yield _event(doc)
        yield b"data: [DONE]\n\n"
    except APIError as exc:
        yield _event(exc.body())
    except BackendError:
        yield _event(APIError(503, "backend_unavailable", "the model could not answer").body())
    finally:
        if not recorded:
            asyncio.ensure_future(_record_later(gw, adm, task))


async def _record_later(gw: Gateway, adm: Admitted, task: Any) -> None:
    try:
        await gw.record(adm, await task)
    except (APIError, StillwatchError) as exc:
        log.warning("request %s: answer of a client that left could not be recorded (%s)", adm.request_id, type(exc).__name__)

