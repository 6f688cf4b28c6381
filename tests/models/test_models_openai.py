"""OpenAIBackend against a real local HTTP server (FastAPI + uvicorn on 127.0.0.1, random port)
through the official ``openai`` client."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from loopback import serve

from stillwatch.errors import BackendError, InputError
from stillwatch.models import load_backend
from stillwatch.models.openai_api import OpenAIBackend

SECRET = "sk-test-SECRET-do-not-leak-123"


class FakeAPI:
    """A tiny OpenAI-compatible server: answers ``"echo: <prompt>"`` cut to ``max_tokens``
    words, fails the first ``fail_first`` requests with ``fail_status``, records every request."""

    def __init__(self):
        self.requests: list[dict] = []
        self.auth: list[str] = []
        self.fail_first = 0
        self.fail_status = 429
        self.in_flight = 0
        self.max_in_flight = 0
        self.delay = 0.0
        app = FastAPI()

        @app.get("/v1/models")
        async def models():
            return {"object": "list", "data": [{"id": "fake-teacher", "object": "model", "created": 0, "owned_by": "t"}]}

        @app.post("/v1/chat/completions")
        async def chat(request: Request):
            body = await request.json()
            self.auth.append(request.headers.get("authorization", ""))
            self.requests.append(body)
            if len(self.requests) <= self.fail_first:
                headers = {"retry-after": "0"} if self.fail_status == 429 else {}
                return JSONResponse({"error": {"message": "slow down", "type": "x"}}, status_code=self.fail_status, headers=headers)
            if body.get("model") == "forbidden":
                return JSONResponse({"error": {"message": "no access", "type": "x"}}, status_code=403)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            await asyncio.sleep(self.delay)
            self.in_flight -= 1
            words = ("echo: " + body["messages"][-1]["content"]).split()
            n = body.get("max_tokens") or 1000
            text, reason = " ".join(words[:n]), ("length" if len(words) > n else "stop")
            return {
                "id": "c1", "object": "chat.completion", "created": 0, "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": reason}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }

        self.app = app


@pytest.fixture(scope="module")
def server():
    api = FakeAPI()
    with serve(api.app) as url:
        yield api, url


@pytest.fixture()
def api(server):
    fake, url = server
    fake.requests.clear()
    fake.auth.clear()
    fake.fail_first, fake.fail_status, fake.delay, fake.max_in_flight = 0, 429, 0.0, 0
    return fake, url


def test_generate_roundtrip_order_and_fields(api):
    fake, url = api
    b = load_backend(url + "/v1", model="fake-teacher", api_key=SECRET, user="acct-7")
    assert not b.local and b.base_url == url + "/v1"
    prompts = [f"question {i} is here" for i in range(10)]
    calls = []
    gens = b.generate(prompts, max_new_tokens=3, temperature=0.5, seed=11, top_k=5, batch_size=4, progress=calls.append)
    assert [g.prompt for g in gens] == prompts
    assert [g.text for g in gens] == [f"echo: question {i}" for i in range(10)]
    assert {g.finish_reason for g in gens} == {"length"} and all(g.completion_ids == () for g in gens)
    assert calls == [4, 8, 10]
    body = fake.requests[0]
    assert body["max_tokens"] == 3 and body["temperature"] == 0.5 and body["seed"] == 11
    assert body["top_k"] == 5 and body["user"] == "acct-7" and body["model"] == "fake-teacher"
    assert set(fake.auth) == {f"Bearer {SECRET}"}
    assert b.generate(["hi"], max_new_tokens=50, user="acct-9")[0].finish_reason == "stop"
    assert fake.requests[-1]["user"] == "acct-9"


def test_model_discovered_and_bare_host_gets_v1(api):
    fake, url = api
    b = OpenAIBackend(url)
    assert b.base_url == url + "/v1" and b.model == "fake-teacher"
    assert b.generate(["x"], max_new_tokens=5)[0].text == "echo: x"


def test_requests_run_concurrently_but_bounded(api):
    fake, url = api
    fake.delay = 0.15
    b = OpenAIBackend(url, model="m", max_concurrency=3)
    t = time.perf_counter()
    b.generate([f"p{i}" for i in range(9)], max_new_tokens=4)
    elapsed = time.perf_counter() - t
    assert fake.max_in_flight == 3
    assert elapsed < 9 * 0.15 * 0.6, elapsed  # far below the serial time


@pytest.mark.parametrize("status", [429, 503])
def test_retries_with_backoff_then_succeeds(api, status):
    fake, url = api
    fake.fail_first, fake.fail_status = 2, status
    b = OpenAIBackend(url, model="m", max_retries=3, backoff=0.01, max_concurrency=1)
    assert b.generate(["hello"], max_new_tokens=4)[0].text == "echo: hello"
    assert len(fake.requests) == 3


def test_gives_up_after_max_retries(api):
    fake, url = api
    fake.fail_first, fake.fail_status = 10, 500
    b = OpenAIBackend(url, model="m", max_retries=2, backoff=0.01, api_key=SECRET)
    with pytest.raises(BackendError, match=r"after 3 attempt\(s\): HTTP 500") as exc:
        b.generate(["hello"], max_new_tokens=4)
    assert len(fake.requests) == 3 and SECRET not in str(exc.value)


def test_client_error_not_retried_and_key_not_leaked(api):
    fake, url = api
    b = OpenAIBackend(url, model="forbidden", api_key=SECRET, max_retries=3)
    with pytest.raises(BackendError, match="HTTP 403") as exc:
        b.generate(["hello"])
    assert len(fake.requests) == 1
    assert url in str(exc.value) and SECRET not in str(exc.value)


def test_unreachable_url_names_url_not_key():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens here now
    url = f"http://127.0.0.1:{port}/v1"
    b = load_backend(url, model="m", api_key=SECRET, max_retries=1, backoff=0.01)
    with pytest.raises(BackendError, match="connection failed") as exc:
        b.generate(["hello"])
    assert url in str(exc.value) and SECRET not in str(exc.value)


def test_remote_limits_are_clear(api):
    fake, url = api
    b = OpenAIBackend(url, model="m")
    with pytest.raises(BackendError, match="logits processor"):
        b.generate(["x"], logits_processor=lambda ids, s: s)
    with pytest.raises(BackendError, match="local tokenizer"):
        b.encode("x")
    with pytest.raises(BackendError, match="logits"):
        b.next_token_logits([[1, 2]])
    with pytest.raises(InputError, match="temperature"):
        b.generate(["x"], temperature=0)
    with pytest.raises(InputError, match="URL"):
        OpenAIBackend("ftp://example.com")
    assert fake.requests == []


def test_local_tokenizer_enables_ids(api):
    fake, url = api
    b = OpenAIBackend(url, model="m", tokenizer="tiny")
    tiny = load_backend("tiny")
    assert b.tokenizer_id == tiny.tokenizer_id and b.vocab_size == tiny.vocab_size
    assert b.encode("hé") == list("hé".encode()) and b.decode(b.encode("hé")) == "hé"
