"""An upstream OpenAI-compatible API as the gateway's backend (``--model http://host:port/v1``).

An API exposes no logits, so its answers cannot be watermarked: they pass unmarked, and the gateway
says so in the ``x-stillwatch-watermark`` response header. They are still authenticated, limited,
guarded and recorded like any other exchange. The upstream's key comes from ``$STILLWATCH_UPSTREAM_KEY``
and never appears in a message (errors name the URL and the status only).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from stillwatch.errors import BackendError, InputError

UPSTREAM_KEY_ENV = "STILLWATCH_UPSTREAM_KEY"


@dataclass(frozen=True)
class UpstreamAnswer:
    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int


def _normalise_url(url: str) -> str:
    """``http://host:port`` -> ``http://host:port/v1``; other paths kept (minus a trailing /)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(f"upstream URL {url!r} must look like http://host:port/v1")
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") or "/v1", "", ""))


class UpstreamBackend:
    """Chat completions from ``base_url`` (``/v1`` added to a bare host) with the model ``model``."""

    local = False

    def __init__(self, base_url: str, model: str | None = None, timeout: float = 120.0) -> None:
        import httpx

        self.base_url = _normalise_url(base_url)
        self.name = self.base_url
        key = os.environ.get(UPSTREAM_KEY_ENV)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=timeout)
        self.model = model or self._ask_model(headers, timeout)

    def _ask_model(self, headers: dict[str, str], timeout: float) -> str:
        import httpx

        try:
            r = httpx.get(self.base_url + "/models", headers=headers, timeout=timeout)
            r.raise_for_status()
            ids = [m["id"] for m in r.json().get("data", [])]
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            raise BackendError(f"cannot list the models of the upstream API at {self.base_url} ({type(exc).__name__})") from None
        if not ids:
            raise InputError(f"the upstream API at {self.base_url} lists no models; name one with --upstream-model")
        return str(ids[0])

    async def complete(self, prompt: str, max_tokens: int, temperature: float, top_p: float | None) -> UpstreamAnswer:
        import httpx

        body: dict[str, Any] = {"model": self.model, "messages": [{"role": "user", "content": prompt}],
                                "max_tokens": max_tokens, "temperature": temperature}
        if top_p is not None:
            body["top_p"] = top_p
        try:
            r = await self._client.post("/chat/completions", json=body)
        except httpx.HTTPError as exc:
            raise BackendError(f"the upstream API at {self.base_url} failed ({type(exc).__name__})") from None
        if r.status_code != 200:
            raise BackendError(f"the upstream API at {self.base_url} answered HTTP {r.status_code}")
        try:
            doc = r.json()
            choice = doc["choices"][0]
            usage = doc.get("usage") or {}
            return UpstreamAnswer(str(choice["message"].get("content") or ""), str(choice.get("finish_reason") or "stop"),
                                  int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise BackendError(f"the upstream API at {self.base_url} sent an answer that is not a chat completion") from None

    async def aclose(self) -> None:
        await self._client.aclose()
