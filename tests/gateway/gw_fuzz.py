"""Hostile traffic for a running gateway: schema-driven fuzzing (schemathesis, from the app's own
OpenAPI document, valid and invalid cases) and hand-written abuse (bad JSON, wrong types, huge
prompts, unknown models, bad / revoked / rotated keys, header abuse, slow clients, clients that leave
mid-stream). Shared by ``test_gateway_hostile.py`` (a small run in ``make test``) and
``benchmarks/gateway/hostile.py`` (>= 5,000 requests).

Every function returns a list of (label, HTTP status) pairs; 0 stands for "no HTTP response" (the
connection was refused or closed without a status line), which only the disconnecting clients expect.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator

import httpx

Result = tuple[str, int]


def schema_fuzz(url: str, api_key: str, examples: int, seed: int = 0) -> list[Result]:
    """``examples`` schemathesis cases per operation and generation mode (positive and negative),
    sent with a valid key (so cases reach the handlers) and, for a tenth of them, without one."""
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed
    from hypothesis.errors import Unsatisfiable

    schema = schemathesis.openapi.from_url(url + "/openapi.json")
    out: list[Result] = []

    def runner(client: httpx.Client, op, mode, label: str):
        n = [0]

        @hseed(seed)
        @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck),
                  phases=[Phase.generate])
        @given(case=op.as_strategy(generation_mode=mode))
        def run(case) -> None:
            n[0] += 1
            kw = case.as_transport_kwargs(base_url=url)
            headers = {k: v for k, v in (kw.get("headers") or {}).items() if isinstance(v, str)}
            if n[0] % 10:
                headers["Authorization"] = f"Bearer {api_key}"
            try:
                r = client.request(kw["method"], kw["url"], headers=headers, params=kw.get("params"), content=_body(kw))
                out.append((label, r.status_code))
            except (httpx.HTTPError, UnicodeEncodeError, ValueError) as exc:  # the client refused to send it
                out.append((label + f":unsendable:{type(exc).__name__}", -1))

        return run

    with httpx.Client(base_url=url, timeout=120) as client:
        for op in schema.get_all_operations():
            op = op.ok()
            for mode in schemathesis.GenerationMode:
                try:
                    runner(client, op, mode, f"schema:{op.method.upper()} {op.path}:{mode.value}")()
                except Unsatisfiable:  # e.g. no invalid case exists for an operation without parameters
                    continue
    return out


def _body(kw: dict) -> bytes | None:
    if "json" in kw:
        return json.dumps(kw["json"], allow_nan=True).encode("utf-8", "surrogatepass")
    data = kw.get("data") or kw.get("content")
    if isinstance(data, str):
        return data.encode("utf-8", "surrogatepass")
    return data if isinstance(data, bytes) else None


def _raw(url: str, payload: bytes, *, read: int = 65536, delay: float = 0.0, pieces: int = 1, close_after: int | None = None) -> int:
    """Send ``payload`` as raw bytes on a fresh socket (in ``pieces`` with ``delay`` between them);
    return the status code of the answer (0 when the server closed without one)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        step = max(1, len(payload) // pieces)
        for i in range(0, len(payload), step):
            s.sendall(payload[i: i + step])
            if delay:
                time.sleep(delay)
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(read)
            if not chunk:
                break
            data += chunk
            if close_after is not None and len(data) >= close_after:
                break
        line = data.split(b"\r\n", 1)[0].split()
        return int(line[1]) if len(line) >= 2 and line[1].isdigit() else 0


def _chat(content: object = "hello there", **extra) -> dict:
    return {"model": "tiny", "messages": [{"role": "user", "content": content}], "max_tokens": 4, **extra}


def abuse_cases(keys: dict[str, str], model: str = "tiny") -> Iterator[tuple[str, Callable[[httpx.Client, str], int]]]:
    """Hand-written hostile requests: (label, send(client, url) -> status). ``keys`` needs
    ``good``, ``revoked`` and ``rotated_old`` (a key replaced by rotation)."""
    good = {"Authorization": f"Bearer {keys['good']}"}

    def post(path: str, body: object = None, headers: dict | None = None, content: bytes | None = None):
        def send(c: httpx.Client, url: str) -> int:
            h = {**good, **(headers or {})}
            if content is not None:
                return c.post(path, content=content, headers={"content-type": "application/json", **h}).status_code
            return c.post(path, json=body, headers=h).status_code
        return send

    chat = "/v1/chat/completions"
    bad_json = [b"{", b"{\"model\": ", b"[]", b"null", b"1e999999", b"\"str\"", b"{\"model\": NaN}", b"\xff\xfe\x00",
                b"{" * 50000 + b"}" * 50000, b"[" * 100000, b"{\"a\":" * 20000 + b"1" + b"}" * 20000,
                json.dumps(_chat()).encode()[:-3], b"{\"model\":\"tiny\",\"messages\":[{\"role\":\"user\",\"content\":\"\\ud800\"}]}",
                b"{\"model\":\"tiny\",\"messages\":[{\"role\":\"user\",\"content\":\"a\\u0000b\"}],\"max_tokens\":2}"]
    for i, raw in enumerate(bad_json):
        yield f"bad_json:{i}", post(chat, content=raw)
        yield f"bad_json_completions:{i}", post("/v1/completions", content=raw)
    wrong_types = [{"model": 1, "messages": []}, {"model": "tiny", "messages": "hi"}, _chat(max_tokens="many"),
                   _chat(max_tokens=-1), _chat(max_tokens=10**30), _chat(temperature="hot"), _chat(temperature=1e308),
                   _chat(temperature=-1), _chat(n=5), _chat(stream="yes"), _chat(content=123), _chat(content=[{"type": "image_url"}]),
                   _chat(content=[{"type": "text", "text": 5}]), _chat(content=None), {"model": "tiny", "messages": [{"role": "robot", "content": "x"}]},
                   _chat(top_k=0), _chat(top_p=0), _chat(seed=2**80), _chat(seed=2**62), _chat(seed=-(2**63)), _chat(stop=["x"] * 1000), _chat(user="u" * 10000),
                   {"model": "tiny", "prompt": ["a", "b"]}, _chat(logit_bias={"1": 100}), _chat(tools=[{"type": "function"}]),
                   {"model": "tiny", "messages": [{"role": "user", "content": "x"}] * 300}, _chat(content="")]
    for i, body in enumerate(wrong_types):
        yield f"wrong_type:{i}", post(chat, body)
    yield "completions_list_prompt", post("/v1/completions", {"model": "tiny", "prompt": ["a", "b"]})
    yield "completions_short_prompt", post("/v1/completions", {"model": "tiny", "prompt": "", "max_tokens": 2})
    for size in (20_000, 200_000, 900_000, 2_000_000):
        yield f"huge_prompt:{size}", post(chat, _chat("x" * size))
    yield "huge_unicode_prompt", post(chat, _chat("\U0001f600" * 100_000))
    for m in ("gpt-4", "", "../../etc/passwd", "tiny\x00", "t" * 300, "TINY"):
        yield f"unknown_model:{m[:12]!r}", post(chat, {**_chat(), "model": m})
    for label, auth in [("none", None), ("empty", ""), ("basic", "Basic dXNlcjpwYXNz"), ("bearer_only", "Bearer"),
                        ("garbage", "Bearer " + "A" * 5000), ("revoked", f"Bearer {keys['revoked']}"),
                        ("rotated_old", f"Bearer {keys['rotated_old']}"), ("almost", f"Bearer {keys['good'][:-1]}X"),
                        ("other_id", "Bearer sw-000000000000-" + keys['good'][-43:]), ("lowercase", f"bearer {keys['good']}"),
                        ("spaces", f"Bearer   {keys['good']}  ")]:
        def send(c: httpx.Client, url: str, auth=auth) -> int:
            h = {} if auth is None else {"Authorization": auth}
            return c.post(chat, json=_chat(), headers=h).status_code
        yield f"key:{label}", send
    header_abuse = [{"X-Forwarded-For": "not-an-ip, 999.1.1.1"}, {"X-Forwarded-For": "1.2.3.4," * 2000},
                    {"User-Agent": "x" * 20000}, {"User-Agent": ""}, {"Content-Type": "text/plain"},
                    {"Content-Type": "application/json; charset=latin-1"}, {"Accept": "*/*" * 500}, {"X-Request-Id": "\t" * 10}]
    for i, h in enumerate(header_abuse):
        yield f"header:{i}", post(chat, _chat(), headers=h)
    body = json.dumps(_chat()).encode()
    auth_line = f"Authorization: Bearer {keys['good']}\r\n".encode()

    def raw_case(payload: bytes, **kw):
        return lambda c, url: _raw(url, payload, **kw)

    req = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" + auth_line + b"Content-Type: application/json\r\n"
    yield "raw:length_mismatch_short", raw_case(req + b"Content-Length: 5\r\n\r\n" + body)
    yield "raw:length_negative", raw_case(req + b"Content-Length: -4\r\n\r\n" + body)
    yield "raw:length_huge", raw_case(req + b"Content-Length: 99999999999\r\n\r\n" + body[:10])
    yield "raw:bad_chunked", raw_case(req + b"Transfer-Encoding: chunked\r\n\r\nZZ\r\nxx\r\n0\r\n\r\n")
    yield "raw:chunked_too_big", raw_case(req + b"Transfer-Encoding: chunked\r\n\r\n" + (b"100000\r\n" + b"a" * 0x100000 + b"\r\n") * 2 + b"0\r\n\r\n")
    yield "raw:header_non_ascii", raw_case(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nUser-Agent: \xff\xfe\xc3\r\n"
                                           + auth_line + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    yield "raw:header_tabs", raw_case(req.replace(auth_line, f"Authorization: Bearer   {keys['good']}\t \r\n".encode())
                                      + b"X-Request-Id: \t\t\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    yield "raw:header_nul", raw_case(req + b"X-Evil: a\x00b\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    yield "raw:huge_header", raw_case(req + b"X-Big: " + b"a" * 200_000 + b"\r\nContent-Length: 2\r\n\r\n{}")
    yield "raw:many_headers", raw_case(req + b"".join(b"X-H%d: v\r\n" % i for i in range(5000)) + b"Content-Length: 2\r\n\r\n{}")
    yield "raw:not_http", raw_case(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 100)
    yield "raw:bad_method", raw_case(b"BREW /v1/chat/completions HTTP/1.1\r\nHost: x\r\n\r\n")
    yield "raw:slow_client", raw_case(req + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body, delay=0.05, pieces=20)
    stream_body = json.dumps(_chat(stream=True, max_tokens=64)).encode()
    yield "raw:disconnect_mid_stream", raw_case(req + b"Content-Length: " + str(len(stream_body)).encode() + b"\r\n\r\n" + stream_body,
                                                read=64, close_after=1)
    yield "raw:disconnect_before_answer", raw_case(req + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body,
                                                   read=1, close_after=0)
    for path, method in [("/v1/nothing", "GET"), ("/v1/chat/completions", "GET"), ("/v1/models", "DELETE"), ("/health", "POST"),
                         ("/v1/chat/completions/../../health", "GET"), ("/%00", "GET")]:
        yield f"route:{method} {path}", (lambda c, url, p=path, m=method: c.request(m, p, headers=good).status_code)


def run_abuse(url: str, keys: dict[str, str], rounds: int = 1) -> list[Result]:
    out: list[Result] = []
    with httpx.Client(base_url=url, timeout=120) as client:
        for _ in range(rounds):
            for label, send in abuse_cases(keys):
                try:
                    out.append((label, send(client, url)))
                except httpx.LocalProtocolError as exc:  # httpx itself refused to send it: raw variants cover it
                    out.append((f"{label}:unsendable:{type(exc).__name__}", -1))
                except (httpx.HTTPError, OSError) as exc:
                    out.append((f"{label}:{type(exc).__name__}", 0))
    return out
