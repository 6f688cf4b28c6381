"""The dynamic-batching engine: requests of several accounts decode in one batch, each row carries
its own account's watermark layer (tested on the token ids with mark's detector, independently of
the engine) and the shared provider layer; limits, streaming callbacks and the batching window."""

from __future__ import annotations

import time

import numpy as np
import pytest

from stillwatch.gateway.config import EngineConfig
from stillwatch.gateway.engine import BatchEngine, GenRequest, MarkerCache
from stillwatch.mark import MarkConfig, MasterKey, detect_ids


@pytest.fixture(scope="module")
def tiny():
    from stillwatch.models import load_backend

    return load_backend("tiny")


@pytest.fixture(scope="module")
def master():
    return MasterKey(bytes(range(32)))


def test_mixed_batch_rows_carry_their_own_account_layer(tiny, master):
    eng = BatchEngine(tiny, MarkerCache(master, tiny), EngineConfig(window_ms=300, max_batch=16))
    try:
        accounts = ["north", "south"] * 4
        reqs = [GenRequest(tiny.chat_prompt_ids(f"prompt number {i}"), 160, 1.0, None, a) for i, a in enumerate(accounts)]
        results = [f.result(timeout=300) for f in [eng.submit(r) for r in reqs]]
    finally:
        eng.close()
    assert eng.batches == [8]  # all eight arrived within the window and decoded together
    cfg = MarkConfig.default(tokenizer_id=tiny.tokenizer_id)  # mark's deployment default, built here independently
    for acct, (ids, _) in zip(accounts, results):
        arr = np.asarray(ids, dtype=np.int64)
        if arr.size < 60:
            continue
        other = "south" if acct == "north" else "north"
        own = detect_ids(arr, cfg.account_spec(acct), master.account_key(acct), vocab_size=tiny.vocab_size)
        wrong = detect_ids(arr, cfg.account_spec(other), master.account_key(other), vocab_size=tiny.vocab_size)
        prov = detect_ids(arr, cfg.provider_spec(), master.provider_key(), vocab_size=tiny.vocab_size)
        assert own.p_value < 1e-4 and prov.p_value < 1e-4, (acct, own, prov)
        assert wrong.p_value > 1e-3, (acct, wrong)


def test_unmarked_rows_lengths_and_streaming(tiny, master):
    eng = BatchEngine(tiny, MarkerCache(master, tiny), EngineConfig(window_ms=200, max_batch=4))
    streamed: list[int] = []
    try:
        plain = GenRequest(tiny.chat_prompt_ids("no watermark please"), 120, 1.0, None, None)
        short = GenRequest(tiny.chat_prompt_ids("short"), 3, 1.0, None, "north")
        live = GenRequest(tiny.chat_prompt_ids("stream it"), 40, 0.7, 5, "south", on_token=streamed.append)
        futs = [eng.submit(r) for r in (plain, short, live)]
        (p_ids, _), (s_ids, s_fin), (l_ids, _) = [f.result(timeout=300) for f in futs]
    finally:
        eng.close()
    assert len(s_ids) <= 3 and (s_fin == "length") == (len(s_ids) == 3)
    assert streamed == l_ids  # the callback saw every token, in order, as produced
    cfg = MarkConfig.default(tokenizer_id=tiny.tokenizer_id)
    if len(p_ids) >= 60:
        prov = detect_ids(np.asarray(p_ids), cfg.provider_spec(), master.provider_key(), vocab_size=tiny.vocab_size)
        assert prov.p_value > 1e-3  # a row without an account is not marked
    eos = set(tiny.eos_token_ids)
    assert not eos & set(p_ids + s_ids + l_ids)


def test_window_zero_and_close_answers_waiting(tiny, master):
    eng = BatchEngine(tiny, None, EngineConfig(window_ms=0.0, max_batch=2, max_new_tokens=4))
    t0 = time.monotonic()
    ids, fin = eng.submit(GenRequest(tiny.chat_prompt_ids("hello"), 4)).result(timeout=60)
    assert len(ids) <= 4 and time.monotonic() - t0 < 30
    eng.close()
    with pytest.raises(Exception, match="shut down"):
        eng.submit(GenRequest(tiny.chat_prompt_ids("late"), 4))
