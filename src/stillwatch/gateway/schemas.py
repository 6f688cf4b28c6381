"""Request bodies of the OpenAI-compatible endpoints (pydantic, so the OpenAPI schema documents them)
and the OpenAI-shaped error.

Unknown OpenAI fields are accepted and ignored (clients send many); fields the gateway cannot honour
with a different value than the default (``n > 1``, non-text message parts) are refused by name.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# OpenAI's error ``type`` for each HTTP status the gateway answers with
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
               404: "not_found_error", 405: "invalid_request_error", 409: "invalid_request_error",
               413: "invalid_request_error", 422: "invalid_request_error", 429: "rate_limit_error",
               503: "service_unavailable"}


class APIError(Exception):
    """An error answered in OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}``.
    ``code`` is stable (clients and tests match on it); ``message`` never holds a secret."""

    def __init__(self, status: int, code: str, message: str, *, param: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.param = status, code, message, param
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": ERROR_TYPES.get(self.status, "api_error"),
                          "param": self.param, "code": self.code}}


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str = Field(max_length=64)
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None
    name: str | None = Field(None, max_length=256)


class _Sampling(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str = Field(max_length=256)
    max_tokens: int | None = Field(None, ge=1, le=1_000_000)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    top_k: int | None = Field(None, ge=1, le=1_000_000)
    n: int | None = Field(None, ge=1, le=1)
    seed: int | None = Field(None, ge=-(2**63), le=2**63 - 1)
    stream: bool | None = False
    stream_options: dict[str, Any] | None = None
    user: str | None = Field(None, max_length=256)


class ChatRequest(_Sampling):
    messages: list[ChatMessage] = Field(min_length=1, max_length=256)
    max_completion_tokens: int | None = Field(None, ge=1, le=1_000_000)


class CompletionRequest(_Sampling):
    prompt: str | list[str] = Field(min_length=1)


def _text_of(msg: ChatMessage, i: int) -> str:
    if msg.content is None:
        return ""
    if isinstance(msg.content, str):
        return msg.content
    parts = []
    for j, part in enumerate(msg.content):
        if part.type != "text" or part.text is None:
            raise APIError(400, "unsupported_content", f"messages[{i}].content[{j}] has type {part.type[:64]!r}; only text parts are supported",
                           param=f"messages[{i}].content")
        parts.append(part.text)
    return "".join(parts)


def render_chat(messages: list[ChatMessage]) -> tuple[str, str | None]:
    """(prompt text, SHA-256 of the system prompt or None).

    A single user message is the prompt as written; a conversation is rendered one turn per line
    as ``role: text`` (the same text the ledger and the guard see, and the model answers as one
    user turn, so no message can open or close a turn of the model's chat template)."""
    texts = [_text_of(m, i) for i, m in enumerate(messages)]
    system = "\n".join(t for m, t in zip(messages, texts) if m.role in ("system", "developer"))
    system_sha = hashlib.sha256(system.encode("utf-8", "surrogatepass")).hexdigest() if system else None
    if len(messages) == 1 and messages[0].role == "user":
        return texts[0], system_sha
    return "\n".join(f"{m.role}: {t}" for m, t in zip(messages, texts)), system_sha


def completion_prompt(req: CompletionRequest) -> str:
    if isinstance(req.prompt, list):
        if len(req.prompt) != 1:
            raise APIError(400, "unsupported_parameter", "prompt must be a string or a list of exactly one string", param="prompt")
        return req.prompt[0]
    return req.prompt
