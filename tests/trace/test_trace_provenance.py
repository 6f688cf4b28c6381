"""`trace provenance` on real (tiny) models: calibration among independent models over many prompt
seeds, detection of weight-derived models, the answer cache, a suspect behind a real
OpenAI-compatible HTTP server queried with the official client, and the CLI.

Attacker played: the suspect's owner took the candidate's weights and changed them (noise as a
stand-in for fine-tuning, int8 quantization, pruning) and serves the result behind an API that
answers with one token; the tests check that the derived model is attributed, and that independent
models are not (beyond alpha).
"""

from __future__ import annotations

import json
import math

import numpy as np

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from loopback import serve

from stillwatch.core.stats import binomial_interval
from stillwatch.errors import InputError
from stillwatch.models.tiny import TinyConfig, load_tiny
from stillwatch.trace.provenance import ProvenanceConfig, run_provenance
from stillwatch.trace.provenance_query import read_candidates
from stillwatch.trace.provenance_query import AnswerCache, LocalModel, RemoteModel

CFG = TinyConfig(n_layers=1, hidden=32, n_heads=2, intermediate=64)


def _backend(seed: int):
    """A tiny byte-level model whose greedy answer depends on the prompt: the default initialisation
    (std 0.02) makes a random model answer every prompt with the same byte, so the weights are
    redrawn with std 0.5 (seeded), and the output rows of bytes other than visible ASCII (33..126)
    are zeroed, so that it answers with a visible character (a space, a control byte or half a
    UTF-8 character would carry no information in a string comparison)."""
    import torch

    b = load_tiny(seed, CFG)
    g = torch.Generator().manual_seed(1000 + seed)
    with torch.no_grad():
        for p in b.model.parameters():
            if p.dim() == 2:
                p.copy_(0.5 * torch.randn(p.shape, generator=g))
        head = b.model.get_output_embeddings().weight
        head[:33] = 0.0
        head[127:] = 0.0
    return b


def _tiny(seed: int) -> LocalModel:
    b = _backend(seed)
    b.name = f"tiny-{seed}"
    return LocalModel(b, batch_size=64)


def _derived(seed: int, how: str) -> LocalModel:
    import torch

    b = _backend(seed)
    with torch.no_grad():
        if how == "noise":  # a light "fine-tune": every weight moved by 5% of its tensor's spread
            g = torch.Generator().manual_seed(99)
            for p in b.model.parameters():
                p.add_(0.05 * p.std() * torch.randn(p.shape, generator=g))
        elif how == "int8":
            b.model = torch.ao.quantization.quantize_dynamic(b.model, {torch.nn.Linear}, dtype=torch.qint8)
    b.name = f"derived-{how}"
    return LocalModel(b, batch_size=64)


class Counting:
    """Wraps a model and counts the prompts it is asked."""

    def __init__(self, inner):
        self.inner, self.name, self.identity, self.asked = inner, inner.name, inner.identity, 0

    def answers(self, prompts, **kw):
        self.asked += len(prompts)
        return self.inner.answers(prompts, **kw)

    def distributions(self, prompts, **kw):  # one query per prompt, as an API's top_logprobs
        self.asked += len(prompts)
        return self.inner.distributions(prompts, **kw)


@pytest.fixture(scope="module")
def panel():
    return [_tiny(1), _tiny(2)], [_tiny(3), _tiny(4)]


def test_answers_equal_the_backends_teacher_forced_argmax():
    """The last-position-only path gives exactly the backend's own greedy token (naive reference:
    ``next_token_argmax`` over every position, last entry), in batches of mixed lengths."""
    b = _backend(3)
    prompts = ProvenanceConfig(max_queries=100, look_every=100).prompts()
    ref = [b.decode([int(t[-1])]) for t in b.next_token_argmax([b.chat_prompt_ids(p) for p in prompts], batch_size=7)]
    assert LocalModel(b, batch_size=16).answers(prompts) == ref
    raw = [b.decode([int(t[-1])]) for t in b.next_token_argmax([b.tokenizer.encode(p, add_special_tokens=True) for p in prompts])]
    assert LocalModel(b).answers(prompts, mode="raw") == raw
    assert raw != ref  # the two modes really differ (chat template or not)


def test_raw_answers_of_several_tokens_are_the_greedy_continuation():
    """``max_tokens > 1`` in raw mode (byte-level suspects need a few tokens to say a word): the
    teacher-forced argmax appended and asked again, against a naive one-prompt-at-a-time loop over
    the backend's own ``next_token_argmax``; its first character is the one-token answer."""
    b = _backend(5)
    prompts = ProvenanceConfig(max_queries=30, look_every=30).prompts()
    got = LocalModel(b, batch_size=7).answers(prompts, max_tokens=4, mode="raw")
    eos = set(b.eos_token_ids or ())
    ref = []
    for p in prompts:
        ids, new = b.tokenizer.encode(p, add_special_tokens=True), []
        for _ in range(4):
            t = int(b.next_token_argmax([ids])[0][-1])
            if t in eos:
                break
            ids, new = ids + [t], new + [t]
        ref.append(b.decode(new) if new else "")
    assert got == ref and all(len(a) == 4 for a in got)  # visible ASCII bytes: 4 tokens, 4 characters
    assert [a[0] for a in got] == LocalModel(b).answers(prompts, mode="raw")


def test_greedy_answers_never_pick_a_padding_row_of_the_output_layer():
    """The tiny model's output layer has one padding row (id 259) past its 259-token tokenizer. An
    untrained model may rank it first (the zoo's random byte model did, and decoding failed); the
    greedy answers must then be the argmax over real tokens only, checked against the backend's full
    logits cut to the tokenizer by hand, in one-token and several-token raw answers."""
    import torch

    b = _backend(5)
    assert b.vocab_size == len(b.tokenizer) + 1 == 260
    with torch.no_grad():
        head = b.model.get_output_embeddings().weight
        head[259] = 3.0 * head[65]  # a padding row scaled from the row of 'A': it wins wherever 'A' scores high
    prompts = ProvenanceConfig(max_queries=60, look_every=60).prompts()
    ids = [b.tokenizer.encode(p, add_special_tokens=True) for p in prompts]
    full = [lg[-1] for lg in b.next_token_logits(ids)]
    assert any(int(np.argmax(lg)) == 259 for lg in full)  # the trap is live
    assert LocalModel(b).answers(prompts, mode="raw") == [b.decode([int(np.argmax(lg[:259]))]) for lg in full]
    assert all(len(a) == 3 for a in LocalModel(b).answers(prompts, max_tokens=3, mode="raw"))


@pytest.mark.parametrize("how", ["noise", "int8"])
def test_weight_derived_tiny_model_is_attributed_early(panel, how):
    cands, refs = panel
    r = run_provenance(_derived(1, how), cands, refs, config=ProvenanceConfig(max_queries=400, look_every=100, alpha=0.01))
    assert r.decision == "derived" and r.most_likely_parent == "tiny-1"
    assert r.p_values["tiny-1"] <= 0.01 and r.queries_spent < 400  # decided before the budget ran out
    assert r.candidates[0]["wins_vs_rival"] > r.candidates[0]["losses_vs_rival"]


def test_independent_tiny_models_are_not_attributed_over_many_prompt_seeds(panel, tmp_path):
    """Calibration: 4 independent suspects x 12 prompt seeds at alpha = 0.1; the false attribution
    rate must be consistent with <= alpha (99% Clopper-Pearson interval). The panel's answers are cached,
    as a provider testing many suspects would (each seed is its own prompt set, so its own entries)."""
    cands, refs = panel
    suspects = [_tiny(s) for s in (11, 12, 13, 14)]
    cache = AnswerCache(tmp_path / "cache")
    tests = hits = 0
    for seed in range(12):
        cfg = ProvenanceConfig(max_queries=120, look_every=40, alpha=0.1, seed=seed)
        for s in suspects:
            tests += 1
            hits += run_provenance(s, cands, refs, config=cfg, cache=cache).most_likely_parent is not None
    lo, _ = binomial_interval(hits, tests, 0.99)
    assert lo <= 0.1, f"{hits}/{tests} false attributions"


def test_cache_makes_a_retest_cost_only_the_suspects_queries(tmp_path, panel):
    cands, refs = panel
    wrapped = [Counting(m) for m in (*cands, *refs)]
    cache = AnswerCache(tmp_path / "cache")
    cfg = ProvenanceConfig(max_queries=100, look_every=100, profile_queries=50)
    first = run_provenance(_derived(2, "noise"), wrapped[:2], wrapped[2:], config=cfg, cache=cache)
    assert [w.asked for w in wrapped] == [150] * 4  # the test prompts and the profile prompts
    assert first.statistics == ["agreement/chat", "excess/chat", "habits/chat"]
    suspect = Counting(_derived(2, "noise"))
    second = run_provenance(suspect, wrapped[:2], wrapped[2:], config=cfg, cache=cache)
    assert [w.asked for w in wrapped] == [150] * 4 and suspect.asked == 100
    assert second.p_values == first.p_values and second.most_likely_parent == "tiny-2"
    # another prompt seed is another prompt set: never served from the old entries
    run_provenance(suspect, wrapped[:2], wrapped[2:], config=ProvenanceConfig(max_queries=100, look_every=100, seed=1,
                                                                              profile_queries=50), cache=cache)
    assert [w.asked for w in wrapped] == [300] * 4


def test_local_suspect_in_chat_and_raw_mode(tmp_path, panel):
    """Both prompt modes: the suspect answers every prompt twice (queries = prompts x 2), the panel
    answers both modes once (cached), and the result reports a statistic per mode."""
    cands, refs = panel
    suspect = Counting(_derived(1, "int8"))
    cfg = ProvenanceConfig(max_queries=200, look_every=100, alpha=0.01, modes=("chat", "raw"), profile_queries=50)
    r = run_provenance(suspect, cands, refs, config=cfg, cache=AnswerCache(tmp_path / "c"))
    assert r.most_likely_parent == "tiny-1" and r.mode == "chat+raw"
    assert r.statistics == ["agreement/chat", "excess/chat", "agreement/raw", "excess/raw", "habits/chat"]
    # every query counted: the test prompts of both modes, and the 20 probe prompts of budget_split="auto"
    assert r.queries_spent == suspect.asked == r.looks[-1]["queries"] + 20
    assert set(r.candidates[0]["agreement_by_mode"]) == {"chat", "raw"}
    assert set(r.answers) == {"chat", "raw"} and r.looks[-1]["prompts"] == {m: len(a) for m, a in r.answers.items()}
    assert r.budget == ({"chat": 267, "raw": 133} if r.budget_split == "chat-heavy" else {"chat": 200, "raw": 200})


class TinyAPI:
    """An OpenAI-compatible chat server over a tiny model: greedy answers of ``max_tokens`` tokens,
    with ``logprobs`` when asked (or a 400 when ``refuse_logprobs``); records every request."""

    def __init__(self, model: LocalModel):
        self.requests: list[dict] = []
        self.refuse_logprobs = False
        app = FastAPI()

        @app.get("/v1/models")
        async def models():
            return {"object": "list", "data": [{"id": "tiny-suspect", "object": "model", "created": 0, "owned_by": "t"}]}

        @app.post("/v1/chat/completions")
        async def chat(request: Request):
            body = await request.json()
            self.requests.append(body)
            if body.get("logprobs") and self.refuse_logprobs:
                return JSONResponse({"error": {"message": "logprobs not supported", "type": "invalid_request_error"}}, status_code=400)
            prompt, n_tok = body["messages"][-1]["content"], int(body.get("max_tokens") or 1)
            text = model.answers([prompt], max_tokens=n_tok)[0]
            choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "length"}
            if body.get("logprobs") and n_tok == 1:  # the model's real top-k, as a server computes it
                toks, probs = model.distributions([prompt], k=int(body.get("top_logprobs") or 1))[0]
                top = [{"token": t, "logprob": math.log(p), "bytes": None} for t, p in zip(toks, probs)]
                choice["logprobs"] = {"content": [{**top[0], "top_logprobs": top}]}
            elif body.get("logprobs"):
                choice["logprobs"] = {"content": [{"token": text, "logprob": -0.1, "bytes": None,
                                                   "top_logprobs": [{"token": text, "logprob": -0.1, "bytes": None}]}]}
            return {"id": "c", "object": "chat.completion", "created": 0, "model": body["model"], "choices": [choice],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}

        self.app = app


@pytest.fixture(scope="module")
def served_suspect():
    api = TinyAPI(_derived(1, "noise"))
    with serve(api.app) as url:
        yield api, f"{url}/v1"


def test_remote_suspect_end_to_end_over_http(served_suspect, panel):
    api, url = served_suspect
    cands, refs = panel
    api.requests.clear()
    r = run_provenance(RemoteModel(url, api_key="sk-test"), cands, refs, config=ProvenanceConfig(max_queries=200, look_every=100))
    assert r.most_likely_parent == "tiny-1" and r.queries_spent == len(api.requests)
    body = api.requests[0]
    assert body["max_tokens"] == 1 and body["temperature"] == 0 and body["logprobs"] is True
    assert body["model"] == "tiny-suspect" and body["top_logprobs"] == 20 and r.logprobs == {"chat": True}
    # the same answers and distributions as the local copy of the suspect: the remote path loses nothing
    local = run_provenance(_derived(1, "noise"), cands, refs, config=ProvenanceConfig(max_queries=200, look_every=100))
    assert local.logprobs == {"chat": True} and local.p_values == pytest.approx(r.p_values, rel=1e-5)  # batch of 1 vs 16: float noise


def test_remote_server_without_logprobs_is_asked_for_text(served_suspect):
    api, url = served_suspect
    api.requests.clear()
    api.refuse_logprobs = True
    try:
        m = RemoteModel(url)
        got = m.answers(["Why does gravity matter?", "Yesterday, the river"])
        n_first = len(api.requests)
        m.answers(["Explain DNA to a child."])
    finally:
        api.refuse_logprobs = False
    assert got == _derived(1, "noise").answers(["Why does gravity matter?", "Yesterday, the river"])
    flags = [bool(b.get("logprobs")) for b in api.requests]
    # each prompt answered once without logprobs (requests in flight may each have been refused once),
    # and once refused, the client stops asking for them
    assert flags[:n_first].count(False) == 2 and flags[n_first:] == [False]


def test_remote_suspect_refusing_top_logprobs_is_tested_on_its_answers(served_suspect, panel):
    """An API that refuses top_logprobs: one refused request, then answers only (the answers-only statistic, the
    same p-values as the local copy tested with logprobs="off"), and the result says so."""
    api, url = served_suspect
    cands, refs = panel
    api.requests.clear()
    api.refuse_logprobs = True
    try:
        r = run_provenance(RemoteModel(url), cands, refs, config=ProvenanceConfig(max_queries=200, look_every=100))
    finally:
        api.refuse_logprobs = False
    assert r.logprobs == {"chat": False} and "log-probability" not in r.null_hypothesis
    asked = [bool(b.get("top_logprobs")) for b in api.requests]
    assert asked[0] and asked.count(True) == 1  # one refused request, then never asked again
    local = run_provenance(_derived(1, "noise"), cands, refs,
                           config=ProvenanceConfig(max_queries=200, look_every=100, logprobs="off"))
    assert local.p_values == r.p_values and r.most_likely_parent == "tiny-1"
    with pytest.raises(InputError, match="ProvenanceConfig.logprobs must be one of auto, off"):
        ProvenanceConfig(logprobs="on")


def test_read_candidates(tmp_path):
    f = tmp_path / "c.txt"
    f.write_text("# parents\nsmollm2\nhttp://127.0.0.1:9/v1#m\n\nreference: tiny\n")
    assert read_candidates(f) == (["smollm2", "http://127.0.0.1:9/v1#m"], ["tiny"])
    f.write_text("reference: tiny\n")
    with pytest.raises(InputError, match="no candidate"):
        read_candidates(f)
    f.write_text("smollm2\n")
    with pytest.raises(InputError, match="at least 2"):
        read_candidates(f)
    f.write_bytes(b"caf\xe9\n")
    with pytest.raises(InputError, match="not UTF-8"):
        read_candidates(f)
    with pytest.raises(InputError):
        ProvenanceConfig(alpha=0.7)
    with pytest.raises(InputError):
        ProvenanceConfig(max_queries=100, look_every=101)


def test_cli_json_result_and_errors(tmp_path, cli):
    for seed in (1, 2, 3):
        _backend(seed).save_pretrained(tmp_path / f"m{seed}")
    d = _derived(1, "noise")
    d.backend.save_pretrained(tmp_path / "suspect")
    cands = tmp_path / "cands.txt"
    cands.write_text(f"{tmp_path / 'm1'}\n{tmp_path / 'm2'}\nreference: {tmp_path / 'm3'}\n")
    argv = ["trace", "provenance", "--suspect", str(tmp_path / "suspect"), "--candidates", str(cands), "--prompts", "200",
            "--look-every", "100", "--cache", str(tmp_path / "cache"), "--json"]
    res = json.loads(cli(*argv).ok().out.strip().splitlines()[-1])
    assert res["most_likely_parent"] == str(tmp_path / "m1") and res["decision"] == "derived"
    assert set(res["p_values"]) == {str(tmp_path / "m1"), str(tmp_path / "m2")}
    # found at the first look; the probe (20 profile prompts, chat) decides the token count and the budget split
    assert len(res["looks"]) == 1 and res["queries_spent"] == res["looks"][-1]["queries"] + 20
    assert "Holm" in res["correction"] and res["null_hypothesis"].startswith("H0(C)")
    assert res["budget_split"] in ("even", "chat-heavy") and sum(res["budget"].values()) == 400 and "probe" in res["budget_reason"]
    assert res["logprobs"] == {"chat": True, "raw": True} and "log-probability" in res["null_hypothesis"]
    off = json.loads(cli(*argv, "--logprobs", "off").ok().out.strip().splitlines()[-1])
    assert off["logprobs"] == {"chat": False, "raw": False} and "log-probability" not in off["null_hypothesis"]
    bad = cli(*argv, "--logprobs", "maybe")  # as --suspect-max-tokens below: checked once the models are loaded
    assert bad.code == 2 and "ProvenanceConfig.logprobs must be one of auto, off" in bad.err and "Traceback" not in bad.err
    over = json.loads(cli(*argv, "--panel-logprobs", "chat").ok().out.strip().splitlines()[-1])  # the panel's too
    assert over["panel_logprobs"] == {"chat": True, "raw": False} and "Bhattacharyya" in over["null_hypothesis"]
    assert over["most_likely_parent"] == str(tmp_path / "m1") and "Bhattacharyya" not in res["null_hypothesis"]
    assert res["panel_logprobs"] == {"chat": False, "raw": False}
    bad = cli(*argv, "--panel-logprobs", "sideways")
    assert bad.code == 2 and "ProvenanceConfig.panel_logprobs must be a tuple" in bad.err and "Traceback" not in bad.err
    even = json.loads(cli(*argv, "--budget-split", "even").ok().out.strip().splitlines()[-1])
    assert even["budget"] == {"chat": 200, "raw": 200} and even["budget_split"] == "even" and "set, not chosen" in even["budget_reason"]
    words = " ".join(cli(*argv[:-1]).ok().out.split())  # the table for people, from the cached panel answers (rich wraps)
    assert "derived from" in words and "m1" in words and "H0(C)" in words and f"budget: {res['budget_split']}" in words
    assert "next-token distributions: chat, raw" in words
    assert set(res["suspect_answer_spread"]) == {"chat", "raw"} and ("caveat:" in words) == bool(res["caveats"])
    cli("trace", "provenance", "--suspect", "tiny", "--candidates", tmp_path / "nope.txt").user_error("candidates file not found")
    r = cli(*argv[:-1], "--suspect-max-tokens", "many")  # not .user_error(): the models load (progress bars) before the check
    assert r.code == 2 and "--suspect-max-tokens" in r.err and "Traceback" not in r.err
    out = cli(*argv, "--suspect-max-tokens", "8").ok().out  # 8-token answers, compared by first word
    assert json.loads(out.strip().splitlines()[-1])["suspect_max_tokens"] == 8
    gated = json.loads(cli(*argv, "--per-mode", "gated").ok().out.strip().splitlines()[-1])  # the fifth session's combination
    assert "gated by the excess" in gated["correction"] and "excess p-value (the agreement" in res["correction"]
    assert gated["null_hypothesis"] != res["null_hypothesis"]
    r = cli(*argv[:-1], "--per-mode", "both")
    assert r.code == 2 and "per_mode" in r.err and "Traceback" not in r.err
    r = cli(*argv[:-1], "--budget-split", "lopsided")
    assert r.code == 2 and "budget_split" in r.err and "Traceback" not in r.err
