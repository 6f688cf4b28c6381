"""Units of the gateway: rate limits against a naive reference (hypothesis), API keys, configs,
request rendering, the master secret from the environment."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stillwatch.errors import InputError, KeyFileError
from stillwatch.gateway.config import EngineConfig, GatewayConfig, PolicyConfig
from stillwatch.gateway.policy import WINDOW_S, RateLimiter
from stillwatch.gateway.schemas import APIError, ChatMessage, render_chat
from stillwatch.gateway.secrets import MASTER_KEY_ENV, digest_matches, key_digest, load_master_key, new_api_key, parse_api_key


def naive_check(history: list[tuple[float, int]], rpm: int, tpm: int, tokens: int, now: float) -> str | None:
    """Recount the window from the full history: requests and tokens admitted in (now - 60, now]."""
    live = [(t, n) for t, n in history if t > now - WINDOW_S]
    if rpm and len(live) >= rpm:
        return "rate_limit_requests"
    if tpm and sum(n for _, n in live) + tokens > tpm:
        return "rate_limit_tokens"
    return None


events = st.lists(st.tuples(st.floats(0, 40, allow_nan=False), st.integers(0, 400), st.sampled_from(["a", "b"])),
                  min_size=1, max_size=80)


@settings(max_examples=200, deadline=None)
@given(events=events, rpm=st.integers(0, 6), tpm=st.integers(0, 1500))
def test_rate_limiter_matches_naive_recount(events, rpm, tpm):
    lim = RateLimiter()
    history: dict[str, list[tuple[float, int]]] = {"a": [], "b": []}
    now = 1000.0
    for gap, tokens, acct in events:
        now += gap
        got = lim.check(acct, rpm, tpm, tokens, now)
        want = naive_check(history[acct], rpm, tpm, tokens, now)
        assert (got[0] if got else None) == want
        if got is None:
            lim.admit(acct, tokens, now)
            history[acct].append((now, tokens))
        else:
            assert 1 <= got[1] <= WINDOW_S
            if got[0] == "rate_limit_requests":  # Retry-After: the oldest request leaves the window then
                oldest = min(t for t, _ in history[acct] if t > now - WINDOW_S)
                # a microsecond after Retry-After (``now + 60`` can round below the window's edge by an ulp)
                assert naive_check(history[acct], rpm, 0, 0, now + got[1] + 1e-6) is None
                assert got[1] >= oldest + WINDOW_S - now - 1e-9


def test_rate_limiter_correction_and_rotation_independence():
    lim = RateLimiter()
    entry = lim.admit("acct", 500, 0.0)  # reserved prompt + max_tokens
    lim.correct("acct", entry, 20)  # the answer was short
    assert lim.check("acct", 0, 100, 70, 1.0) is None and lim.check("acct", 0, 100, 81, 1.0)[0] == "rate_limit_tokens"
    assert lim.check("acct", 0, 100, 81, 61.0) is None  # the window moved on


def test_api_keys_are_random_parsed_and_compared_by_digest():
    ids = set()
    for _ in range(50):
        key_id, key, digest = new_api_key()
        ids.add(key_id)
        assert parse_api_key(key) == key_id and digest == hashlib.sha256(key.encode()).hexdigest() == key_digest(key)
        assert digest_matches(key, digest) and not digest_matches(key[:-1] + ("A" if key[-1] != "A" else "B"), digest)
    assert len(ids) == 50
    for bad in ("", "sw-", "sw-zzzzzzzzzzzz-" + "A" * 43, "sk-" + "A" * 50, key + " ", "sw-" + key_id + "-" + "A" * 42):
        assert parse_api_key(bad) is None


def test_master_key_from_environment(monkeypatch):
    monkeypatch.setenv(MASTER_KEY_ENV, "ab" * 32)
    assert load_master_key(None).provider_key().key_id == "provider"
    for bad, msg in (("zz" * 32, "not hexadecimal"), ("ab" * 16, "32 bytes")):
        monkeypatch.setenv(MASTER_KEY_ENV, bad)
        with pytest.raises(KeyFileError, match=msg) as e:
            load_master_key(None)
        assert bad not in str(e.value)
    monkeypatch.delenv(MASTER_KEY_ENV)
    with pytest.raises(KeyFileError, match=MASTER_KEY_ENV):
        load_master_key(None)


@pytest.mark.parametrize("make, field", [
    (lambda: EngineConfig(window_ms=-1), "window_ms"), (lambda: EngineConfig(max_batch=0), "max_batch"),
    (lambda: EngineConfig(max_new_tokens=1.5), "max_new_tokens"), (lambda: PolicyConfig(block_after=0), "block_after"),
    (lambda: PolicyConfig(throttle_seconds=True), "throttle_seconds"), (lambda: GatewayConfig(model_id=""), "model_id"),
    (lambda: GatewayConfig(max_body_bytes=10), "max_body_bytes"), (lambda: GatewayConfig(trusted_proxies=["1.2.3.4"]), "trusted_proxies"),
])
def test_configs_name_the_bad_field(make, field):
    with pytest.raises(InputError, match=field):
        make()


def test_chat_rendering_and_system_hash():
    one = [ChatMessage(role="user", content="Hello")]
    assert render_chat(one) == ("Hello", None)
    conv = [ChatMessage(role="system", content="Sys"), ChatMessage(role="user", content=[{"type": "text", "text": "a"}, {"type": "text", "text": "b"}])]
    text, sha = render_chat(conv)
    assert text == "system: Sys\nuser: ab" and sha == hashlib.sha256(b"Sys").hexdigest()
    with pytest.raises(APIError) as e:
        render_chat([ChatMessage(role="user", content=[{"type": "image_url"}])])
    assert e.value.code == "unsupported_content" and e.value.status == 400


def test_exchange_request_params_are_canonical_and_optional():
    """The gateway's addition to the exchange record: written only when given (older records keep
    their bytes), floats as decimal strings, flat values only."""
    from stillwatch.ledger.records import Exchange, RecordError, leaf_bytes

    base = dict(account="a", api_key_id="k", ts="2026-01-01T00:00:00Z", model="m", spec_fingerprint="s", prompt="p", response="r")
    plain = leaf_bytes(Exchange(**base), 0)
    assert b"request_params" not in plain
    rec = Exchange(**base, request_params={"temperature": 0.7, "max_tokens": 12, "stream": False, "seed": None})
    data = leaf_bytes(rec, 0)
    assert b'"request_params":{"max_tokens":12,"seed":null,"stream":false,"temperature":"0.7"}' in data
    for bad in ({"nested": {"a": 1}}, {"": 1}, {"x": [1]}, "not a mapping"):
        with pytest.raises(RecordError):
            Exchange(**base, request_params=bad)


def test_handoff_settles_each_loop_once_per_batch():
    """Results made on a worker thread reach asyncio futures (one loop wake-up for the whole batch)
    and concurrent futures alike; errors arrive as errors; a cancelled waiter is skipped."""
    import asyncio
    import concurrent.futures as cf
    import threading

    from stillwatch.gateway.handoff import claim, settle

    async def main() -> tuple[list, int, cf.Future]:
        loop = asyncio.get_running_loop()
        wakeups = 0
        real = loop.call_soon_threadsafe

        def counted(*args):
            nonlocal wakeups
            wakeups += 1
            return real(*args)

        loop.call_soon_threadsafe = counted
        futs = [loop.create_future() for _ in range(5)]
        futs[4].cancel()
        plain: cf.Future = cf.Future()
        assert claim(plain) and [claim(f) for f in futs] == [True] * 4 + [False]
        outcomes = [(f, i * 10, None) for i, f in enumerate(futs[:3])] + [(futs[3], None, ValueError("bad")), (futs[4], 1, None),
                                                                          (plain, "p", None)]
        worker = threading.Thread(target=settle, args=(outcomes,))
        worker.start()
        worker.join()
        got = await asyncio.gather(*futs[:4], return_exceptions=True)
        return got, wakeups, plain

    got, wakeups, plain = asyncio.run(main())
    assert got[:3] == [0, 10, 20] and isinstance(got[3], ValueError) and str(got[3]) == "bad"
    assert wakeups == 1 and plain.result(timeout=1) == "p"


def test_the_scorers_row_is_the_same_here_and_through_the_ledger(tmp_path):
    """A request as this process's live scorer reads it (``service.scorer_row``) and as another gateway process
    reads it from the ledger record it became (``tail._row``): the same fields, the request parameters among
    them — temperature 0.7 written as the decimal string "0.7" and read back as the float, the system prompt's
    hash — so every process's scorer keys the request's configuration alike. A record without request parameters
    gives a row without them."""
    import dataclasses
    import json

    from stillwatch.gateway.accounts import KeyRecord
    from stillwatch.gateway.service import _iso, scorer_row
    from stillwatch.gateway.tail import _row
    from stillwatch.guard.features.keytext import params_key_py
    from stillwatch.ledger.records import Exchange, leaf_bytes

    rec = KeyRecord("key-1", "acct-1", "00" * 32, False, False, "card-9", None, None, "v1", None, "v1")
    sha = hashlib.sha256(b"You are a grader.").hexdigest()
    params = {"endpoint": "chat.completions", "temperature": 0.7, "max_tokens": 256, "top_p": None, "top_k": None,
              "seed": None, "stream": False, "system_prompt_sha256": sha, "watermark": "provider+account"}
    now = 1_772_400_000.123457  # both rows take the microsecond the ledger record writes
    here = scorer_row(rec, "req_1", now, "198.51.100.7", "curl/8", "m", "grade this answer", 5, params)
    ex = Exchange(account="acct-1", api_key_id="key-1", ts=_iso(now), model="m", spec_fingerprint="s",
                  prompt="grade this answer", response="B", request_id="req_1", ip="198.51.100.7", user_agent="curl/8",
                  payment_fingerprint="card-9", prompt_tokens=5, completion_tokens=40,
                  request_params={**params, "finish_reason": "stop"})
    there = _row(json.loads(leaf_bytes(ex, 0))["fields"])
    assert b'"temperature":"0.7"' in leaf_bytes(ex, 0)
    assert {k: there[k] for k in here} == here
    assert here["temperature"] == 0.7 and here["max_tokens"] == 256 and here["system_prompt_hash"] == sha
    assert here["ts"] == there["ts"] == 1_772_400_000_123_457
    assert params_key_py(there) == f"=700|=256|={sha}"
    plain = _row(json.loads(leaf_bytes(dataclasses.replace(ex, request_params=None), 0))["fields"])
    assert not {"temperature", "max_tokens", "system_prompt_hash"} & set(plain)
    assert plain["completion_tokens"] == 40  # no max_tokens asked: the answer's length


def test_the_scorers_rows_carry_the_accounts_creation_time_here_and_through_the_tail(tmp_path):
    """The live scorer gets the account's creation time (the gateway's account table) on its own rows
    (``KeyRecord.account_created_us`` -> ``scorer_row``) and on the rows of records another process served
    (``LedgerTail``, one table read per account): the same microsecond either way, read independently here from the
    stored ISO text. An account the table does not name, or whose time was edited to garbage, gets no column."""
    import dataclasses
    import datetime as dt

    from stillwatch.gateway.accounts import AccountStore
    from stillwatch.gateway.service import _iso, scorer_row
    from stillwatch.gateway.tail import LedgerTail
    from stillwatch.ledger import Ledger
    from stillwatch.ledger.records import Exchange

    led_path = tmp_path / "l.db"
    led = Ledger.create(led_path, key_path=tmp_path / "l.key")
    store = AccountStore(str(led_path))
    store.add_account("acct-1", "card-9")
    store.add_key("acct-1", "key-1", "00" * 32)
    store.add_account("acct-2")
    store._exec("UPDATE gw_accounts SET created = 'last spring' WHERE account_id = 'acct-2'")
    (stored,), = store._exec("SELECT created FROM gw_accounts WHERE account_id = 'acct-1'")
    whole = dt.datetime.strptime(stored[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.timezone.utc)
    expect = int(whole.timestamp()) * 1_000_000 + int(stored[20:26])  # seconds, then the six digits after the point
    assert stored[19] == "." and stored.endswith("Z")
    rec = store.lookup("key-1")
    assert rec.account_created_us == expect
    params = {"endpoint": "chat.completions", "temperature": 0.7, "max_tokens": 16, "top_p": None, "top_k": None,
              "seed": None, "stream": False, "system_prompt_sha256": None, "watermark": "none"}
    now = 1_772_400_000.5
    here = scorer_row(rec, "req_1", now, "198.51.100.7", "curl/8", "m", "p", 5, params)
    assert here["account_created_at"] == expect
    assert "account_created_at" not in scorer_row(dataclasses.replace(rec, account_created_us=None), "req_1", now,
                                                  "198.51.100.7", "curl/8", "m", "p", 5, params)

    class Collect:
        def __init__(self):
            self.rows = []

        def observe_remote(self, row):
            self.rows.append(row)

    def ex(i, acct):
        return Exchange(account=acct, api_key_id="key-1", ts=_iso(now + i), model="m", spec_fingerprint="s", prompt="p",
                        response="r", request_id=f"req_{i}", prompt_tokens=5, completion_tokens=4)
    led.append_many([ex(1, "acct-1"), ex(2, "acct-1"), ex(3, "acct-2"), ex(4, "acct-3")])
    reads = []

    def created(acct):
        reads.append(acct)
        return store.account_created_us(acct)
    policy = Collect()
    tail = LedgerTail(led, policy, "other", interval=60.0, created=created)
    try:
        got = {r["request_id"]: r.get("account_created_at") for r in policy.rows}
        assert got == {"req_1": expect, "req_2": expect, "req_3": None, "req_4": None}
        assert sorted(reads) == ["acct-1", "acct-2", "acct-3"]  # once per account, not per record
    finally:
        tail.close()
        store.close()
        led.close()
