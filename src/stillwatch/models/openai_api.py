"""A backend over any OpenAI-compatible chat completions API (remote teachers and suspects),
through the official ``openai`` client.

Requests run concurrently in a bounded thread pool; 429 and 5xx answers and dropped connections
are retried with exponential backoff (honouring ``Retry-After``). Errors name the URL and never
the API key. Remote models expose neither token ids nor logits: ``encode``/``decode`` work only
when a local tokenizer is named (``tokenizer="smollm2"``), and a logits processor is refused.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from stillwatch.errors import BackendError, InputError
from stillwatch.models.base import Backend, Generation

log = logging.getLogger(__name__)


def _normalise_url(url: str) -> str:
    """``http://host:port`` -> ``http://host:port/v1``; other paths are kept (minus a trailing /)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(f"API URL {url!r} must look like http://host:port/v1 or https://host/v1")
    path = parts.path.rstrip("/") or "/v1"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


class OpenAIBackend(Backend):
    """Chat completions from an OpenAI-compatible server.

    Args:
        base_url: the API root, e.g. ``http://127.0.0.1:8000/v1`` (``/v1`` is added to a bare host).
        model: the model name to request; None asks the server (``GET /models``, first entry).
        api_key: the bearer key (default ``$OPENAI_API_KEY``, else a placeholder for open servers).
        tokenizer: a local backend name (``smollm2``, ``tiny``, a directory) or a Backend whose
            tokenizer matches the remote model; enables ``encode``/``decode``/``tokenizer_id``.
        max_concurrency: requests in flight at once (>= 1).
        max_retries: retries per request after 429 / 5xx / connection errors (>= 0).
        backoff: first retry delay in seconds, doubled each retry (with up to 25% jitter).
        timeout: seconds per request.
        user: an account / end-user id sent as the ``user`` field of every request.
    """

    local = False

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        api_key: str | None = None,
        *,
        tokenizer: str | Backend | None = None,
        max_concurrency: int = 8,
        max_retries: int = 4,
        backoff: float = 0.5,
        timeout: float = 60.0,
        user: str | None = None,
    ) -> None:
        import openai

        if not isinstance(max_concurrency, int) or max_concurrency < 1:
            raise InputError(f"max_concurrency must be an int >= 1, got {max_concurrency!r}")
        if not isinstance(max_retries, int) or max_retries < 0:
            raise InputError(f"max_retries must be an int >= 0, got {max_retries!r}")
        if not backoff >= 0:
            raise InputError(f"backoff must be >= 0 seconds, got {backoff!r}")
        if not timeout > 0:
            raise InputError(f"timeout must be > 0 seconds, got {timeout!r}")
        self.base_url = _normalise_url(base_url)
        self.name = self.base_url if model is None else f"{self.base_url}#{model}"
        self._model = model
        self._api_key = api_key or os.environ.get("OPENAI_API_KEY") or "no-key"
        self.max_concurrency = max_concurrency
        self.max_retries = max_retries
        self.backoff = float(backoff)
        self.user = user
        self._client = openai.OpenAI(base_url=self.base_url, api_key=self._api_key, max_retries=0, timeout=timeout)
        self._model_lock = threading.Lock()
        if tokenizer is not None and not isinstance(tokenizer, Backend):
            from stillwatch.models.registry import load_backend

            if str(tokenizer).lower().startswith(("http://", "https://")):
                raise InputError(f"tokenizer must name a local model, got the URL {tokenizer!r}")
            tokenizer = load_backend(str(tokenizer))
        self._tok: Backend | None = tokenizer
        if tokenizer is not None:
            self.tokenizer_id = tokenizer.tokenizer_id
            self.vocab_size = tokenizer.vocab_size
        else:
            self.tokenizer_id = "remote-unknown:" + hashlib.sha256(self.name.encode()).hexdigest()
            self.vocab_size = 0

    # ------------------------------------------------------------------ helpers
    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    @property
    def model(self) -> str:
        """The model name requested (asked from the server once, when not given)."""
        with self._model_lock:
            if self._model is None:
                page = self._call(lambda: self._client.models.list(), what="list models")
                ids = [m.id for m in page.data]
                if not ids:
                    raise BackendError(f"the API at {self.base_url} lists no models; pass model=")
                self._model = ids[0]
                self.name = f"{self.base_url}#{self._model}"
            return self._model

    def _call(self, fn: Any, *, what: str) -> Any:
        """Run ``fn`` with retries on 429 / 5xx / connection errors; raise BackendError."""
        import openai

        for attempt in range(self.max_retries + 1):
            retry_after: float | None = None
            try:
                return fn()
            except (openai.RateLimitError, openai.InternalServerError) as exc:
                err: Exception = exc
                header = exc.response.headers.get("retry-after") if exc.response is not None else None
                try:
                    retry_after = min(float(header), 30.0) if header is not None else None
                except ValueError:
                    retry_after = None
                reason = f"HTTP {exc.status_code}"
            except openai.APIConnectionError as exc:  # includes timeouts
                err, reason = exc, f"connection failed ({type(exc).__name__})"
            except openai.APIStatusError as exc:
                msg = self._redact(str(getattr(exc, "message", exc)))
                raise BackendError(f"the API at {self.base_url} refused to {what}: HTTP {exc.status_code}: {msg}") from None
            except openai.OpenAIError as exc:
                raise BackendError(f"the API at {self.base_url} failed to {what}: {self._redact(str(exc))}") from None
            if attempt == self.max_retries:
                raise BackendError(
                    f"the API at {self.base_url} failed to {what} after {attempt + 1} attempt(s): {reason}: "
                    f"{self._redact(str(err))}"
                ) from None
            delay = retry_after if retry_after is not None else self.backoff * (2**attempt) * (1 + 0.25 * random.random())
            log.warning("API %s: %s; retry %d/%d in %.2fs", self.base_url, reason, attempt + 1, self.max_retries, delay)
            time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    # ------------------------------------------------------------------ text <-> ids
    def _need_tokenizer(self) -> Backend:
        if self._tok is None:
            raise BackendError(
                f"backend {self.name!r} is a remote API without a local tokenizer; "
                "pass tokenizer='smollm2' (or another local model) to encode or decode"
            )
        return self._tok

    def encode(self, text: str) -> list[int]:
        return self._need_tokenizer().encode(text)

    def decode(self, ids: Sequence[int]) -> str:
        return self._need_tokenizer().decode(ids)

    def chat_prompt_ids(self, prompt: str) -> list[int]:
        return self._need_tokenizer().chat_prompt_ids(prompt)

    # ------------------------------------------------------------------ generation
    def _one(self, prompt: str, params: dict[str, Any]) -> Generation:
        resp = self._call(
            lambda: self._client.chat.completions.create(messages=[{"role": "user", "content": prompt}], **params),
            what="answer a chat completion",
        )
        if not resp.choices:
            raise BackendError(f"the API at {self.base_url} returned no choices")
        choice = resp.choices[0]
        return Generation(prompt=prompt, text=choice.message.content or "", finish_reason=choice.finish_reason or "stop")

    def generate(
        self,
        prompts: Sequence[str],
        *,
        max_new_tokens: int = 128,
        logits_processor: Any | None = None,
        temperature: float = 1.0,
        top_k: int | None = None,
        seed: int | None = None,
        batch_size: int = 32,
        progress: Any | None = None,
        user: str | None = None,
    ) -> list[Generation]:
        """As :meth:`Backend.generate`; ``user`` (default: the backend's) is sent with each
        request as the OpenAI ``user`` field, e.g. the account id. ``top_k`` is sent as an
        extra body field (vLLM reads it). Ids are not returned."""
        if logits_processor is not None:
            raise BackendError(f"backend {self.name!r} is a remote API: it cannot apply a logits processor")
        prompts = self.check_generate_args(prompts, max_new_tokens, temperature, top_k, batch_size)
        for p in prompts:
            if not isinstance(p, str):
                raise InputError(f"each prompt must be a str, got {type(p).__name__}")
        params: dict[str, Any] = {"model": self.model, "max_tokens": max_new_tokens, "temperature": float(temperature)}
        if seed is not None:
            params["seed"] = int(seed)
        if user or self.user:
            params["user"] = user or self.user
        if top_k is not None:
            params["extra_body"] = {"top_k": top_k}
        results: list[Generation] = []
        with ThreadPoolExecutor(max_workers=min(self.max_concurrency, max(1, len(prompts)))) as pool:
            for start in range(0, len(prompts), batch_size):
                chunk = prompts[start : start + batch_size]
                results.extend(pool.map(lambda p: self._one(p, params), chunk))
                if progress is not None:
                    progress(len(results))
        return results
