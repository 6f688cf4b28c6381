"""Harvest (local tiny teacher with watermark, resume after interruption, remote concurrency path)
and training (sequence-level and token-level KD, held-out loss, checkpoint resume, bad input)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

import numpy as np
import pytest
import torch

from stillwatch.distill.harvest import HarvestConfig, assign_accounts, harvest
from stillwatch.distill.prompts import generate_prompts
from stillwatch.distill.student import StudentConfig, build_student, resolve_student_config
from stillwatch.models.byte_tokenizer import ByteTokenizer
from stillwatch.distill.train import TrainConfig, collate, train
from stillwatch.records import Transcript, read_transcripts
from stillwatch.errors import BackendError, DistillError, InputError
from stillwatch.mark import MarkConfig, MasterKey, detect_ids
from stillwatch.models import load_backend
from stillwatch.models.base import Backend, Generation


@pytest.fixture(scope="module")
def teacher():
    return load_backend("tiny")


@pytest.fixture(scope="module")
def master():
    # a fixed key: with a random one per run the outcome depended on which tokens the key boosted
    # (once <eos> first: an empty answer); the assertions below were checked on 44 other keys (0 failures)
    return MasterKey(hashlib.sha256(b"stillwatch-test-distill-harvest").digest())


def test_accounts_round_robin():
    ps = generate_prompts(7)
    by = assign_accounts(ps, HarvestConfig(accounts=3))
    assert [by[p.id] for p in ps] == ["acct-000", "acct-001", "acct-002"] * 2 + ["acct-000"]


def test_local_harvest_is_watermarked_per_account(tmp_path, teacher, master):
    ps = generate_prompts(6, seed=2)
    s = harvest(teacher, ps, tmp_path / "t.jsonl", HarvestConfig(accounts=2, max_new_tokens=48, batch_size=8), master=master)
    assert (s.n_written, s.n_skipped, s.watermark) == (6, 0, "local")
    recs = read_transcripts(tmp_path / "t.jsonl")
    assert sorted(r.prompt_id for r in recs) == sorted(p.id for p in ps)
    cfg = MarkConfig.default(tokenizer_id=teacher.tokenizer_id)  # the default, naming the teacher's tokenizer (never null)
    for r in recs:
        assert r.spec["provider"] == cfg.provider_spec().to_dict()
        assert r.spec["account"]["key_id"] == f"account:{r.account}"
        assert r.tokenizer_id == teacher.tokenizer_id and r.text == teacher.decode(list(r.completion_ids))
    # an answer may legitimately be empty (the model's first token was <eos>), but not most of them
    assert sum(len(r.completion_ids) > 0 for r in recs) >= 4
    # the answers really carry the provider layer: pooled, the key's green fraction is far above gamma
    ids = np.concatenate([np.asarray(r.completion_ids, dtype=np.int64) for r in recs])
    res = detect_ids(ids, cfg.provider_spec(), master.provider_key())
    assert res.p_value < 1e-4
    assert "secret" not in (tmp_path / "t.jsonl").read_text().lower()
    # accounts are batched together, yet each row carries its own account's layer (and not the other's)
    for acct, other in (("acct-000", "acct-001"), ("acct-001", "acct-000")):
        ids = np.concatenate([np.asarray(r.completion_ids, dtype=np.int64) for r in recs if r.account == acct])
        own = detect_ids(ids, cfg.account_spec(acct), master.account_key(acct))
        wrong = detect_ids(ids, cfg.account_spec(other), master.account_key(other))
        assert own.p_value < 1e-3 and wrong.p_value > 1e-3


class _Flaky(Backend):
    """Delegates to a real backend but fails on the n-th generate call (an interrupted harvest)."""

    def __init__(self, inner: Backend, fail_on_call: int):
        self.inner, self.fail_on, self.calls = inner, fail_on_call, 0
        self.name, self.tokenizer_id, self.vocab_size, self.local = inner.name, inner.tokenizer_id, inner.vocab_size, True

    def encode(self, text):
        return self.inner.encode(text)

    def decode(self, ids):
        return self.inner.decode(ids)

    def generate(self, prompts, **kw):
        self.calls += 1
        if self.calls == self.fail_on:
            raise BackendError("connection lost")
        return self.inner.generate(prompts, **kw)


def test_harvest_resumes_after_interruption_without_duplicates(tmp_path, teacher, master):
    ps = generate_prompts(8, seed=5)
    out = tmp_path / "t.jsonl"
    cfg = HarvestConfig(accounts=2, max_new_tokens=16, batch_size=2)
    with pytest.raises(BackendError):
        harvest(_Flaky(teacher, fail_on_call=3), ps, out, cfg, master=master)
    first = read_transcripts(out)
    assert len(first) == 4  # two complete batches of two were stored before the failure
    s = harvest(teacher, ps, out, cfg, master=master)
    assert (s.n_skipped, s.n_written) == (4, 4)
    final = read_transcripts(out)
    assert sorted(r.prompt_id for r in final) == sorted(p.id for p in ps)
    assert [r.to_dict() for r in final[:4]] == [r.to_dict() for r in first]  # nothing stored was lost or rewritten


class _Remote(Backend):
    """A stand-in for an OpenAI-compatible teacher: no ids, no logits, records which key asked."""

    local = False

    def __init__(self, name: str, log: list):
        self.name, self.tokenizer_id, self.vocab_size, self.log = name, "", 0, log

    def encode(self, text):
        raise BackendError("remote")

    def decode(self, ids):
        raise BackendError("remote")

    def generate(self, prompts: Sequence[str], **kw):
        self.log.append(self.name)
        return [Generation(prompt=p, text=f"answer to {p[:10]}") for p in prompts]


def test_remote_harvest_uses_one_backend_per_account_and_server_side_mark(tmp_path):
    ps = generate_prompts(9, seed=1)
    log: list = []
    backends = {a: _Remote(a, log) for a in HarvestConfig(accounts=3).account_ids()}
    s = harvest(_Remote("gateway", log), ps, tmp_path / "t.jsonl", HarvestConfig(accounts=3, concurrency=4),
                account_backends=backends)
    assert s.watermark == "server-side" and s.n_written == 9
    recs = read_transcripts(tmp_path / "t.jsonl")
    assert sorted(log) == sorted(r.account for r in recs)  # each answer came through its own account
    assert all(r.spec is None and r.watermark == "server-side" for r in recs)
    with pytest.raises(InputError, match="local teacher"):
        harvest(_Remote("g", []), ps, tmp_path / "u.jsonl", HarvestConfig(watermark=False))


def test_local_watermark_needs_a_master_key(tmp_path, teacher):
    with pytest.raises(InputError, match="master key"):
        harvest(teacher, generate_prompts(2), tmp_path / "t.jsonl", HarvestConfig())


def _records(n: int, seed: int = 0) -> list[Transcript]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        p = [257] + list(b"User: q\nAssistant: ")
        a = rng.integers(97, 101, size=24).tolist()  # a 4-letter alphabet: learnable
        out.append(Transcript(prompt_id=f"p{i}", prompt="q", text="", account="a", prompt_ids=tuple(p),
                              completion_ids=tuple(a), tokenizer_id=_TINY_TOK))
    return out


#: The tiny student's tokenizer is the byte tokenizer (its id is the tokenizer's fingerprint); taken from the tokenizer,
#: not from a student built at import time (that cost every pytest worker seconds of collection).
_TINY_TOK = ByteTokenizer().fingerprint()


def test_collate_masks_prompt_and_padding():
    from stillwatch.distill.train import Example

    b = collate([Example("x", (1, 2, 3, 4), 2), Example("y", (5, 6), 1)], pad_id=0)
    assert b["input_ids"].tolist() == [[1, 2, 3, 4], [5, 6, 0, 0]]
    assert b["labels"].tolist() == [[-100, 3, 4, -100], [6, -100, -100, -100]]
    assert b["attention_mask"].tolist() == [[1, 1, 1, 1], [1, 1, 0, 0]]


def test_sequence_kd_lowers_held_out_loss_and_reopens(tmp_path):
    st = build_student(resolve_student_config("tiny"))
    s = train(_records(40), st, tmp_path / "s", TrainConfig(epochs=3, batch_size=8, lr=5e-3, warmup_steps=2))
    assert s.n_eval == 4 and s.n_train == 36
    # uniform over 4 letters + eos is ln 5 ~ 1.61 nats; a random init starts near ln 260 ~ 5.6
    assert s.eval_loss_before > 4.5 and s.eval_loss < 2.6
    re = load_backend(str(tmp_path / "s"))
    assert re.tokenizer_id == st.tokenizer_id
    assert json.loads((tmp_path / "s" / "train_summary.json").read_text())["steps"] == s.steps


def test_answers_whose_prompt_fills_max_len_are_counted_and_named(tmp_path, caplog):
    """Records whose prompt alone reaches max_len cannot be trained on: the summary counts them (by
    construction here: prompts of 20 ids, and of 20 + 40 ids for every third record) and a warning says so."""
    recs = _records(30)
    recs = [r if i % 3 else Transcript(prompt_id=r.prompt_id, prompt="q", text="", account="a",
                                       prompt_ids=r.prompt_ids + (32,) * 40, completion_ids=r.completion_ids,
                                       tokenizer_id=_TINY_TOK) for i, r in enumerate(recs)]
    assert {len(r.prompt_ids) for r in recs} == {20, 60}
    with caplog.at_level("WARNING", logger="stillwatch.distill.train"):
        s = train(recs, build_student(StudentConfig()), tmp_path / "s", TrainConfig(epochs=1, batch_size=8, max_len=40))
    assert s.n_dropped == 10 and s.n_train + s.n_eval == 20
    assert "10 of 30 answers cannot be trained on" in caplog.text
    s2 = train(recs, build_student(StudentConfig()), tmp_path / "t", TrainConfig(epochs=1, batch_size=8, max_len=80))
    assert s2.n_dropped == 0 and s2.n_train + s2.n_eval == 30


def test_training_resumes_from_checkpoint(tmp_path):
    cfg = TrainConfig(epochs=2, batch_size=8, checkpoint_every=3, warmup_steps=1)
    recs = _records(30)

    class Stop(Exception):
        pass

    def stop_at_4(step, total, loss):
        if step == 4:
            raise Stop

    with pytest.raises(Stop):
        train(recs, build_student(StudentConfig()), tmp_path / "s", cfg, progress=stop_at_4)
    s = train(recs, build_student(StudentConfig()), tmp_path / "s", cfg)
    assert s.resumed_from_step == 3 and s.steps == 8  # 27 train records / 8 -> 4 batches x 2 epochs
    with pytest.raises(DistillError, match="different run"):
        train(recs, build_student(StudentConfig()), tmp_path / "s", TrainConfig(epochs=3, batch_size=8))


def test_token_level_kd_runs_against_a_local_teacher(tmp_path, teacher):
    for loss in ("fkl", "jsd"):
        st = build_student(StudentConfig(seed=1))
        s = train(_records(12), st, tmp_path / loss, TrainConfig(loss=loss, epochs=1, batch_size=4), teacher=teacher)
        assert np.isfinite(s.final_train_loss) and s.final_train_loss >= 0
    with pytest.raises(InputError, match="teacher"):
        train(_records(12), build_student(StudentConfig()), tmp_path / "x", TrainConfig(loss="fkl"))


def test_tiny_and_empty_transcripts_are_clear_errors(tmp_path):
    with pytest.raises(InputError, match="too small"):
        train(_records(1), build_student(StudentConfig()), tmp_path / "s", TrainConfig())
    with pytest.raises(InputError, match="too small"):
        train([], build_student(StudentConfig()), tmp_path / "s", TrainConfig())


def test_student_config_validation(tmp_path):
    with pytest.raises(InputError, match="hidden"):
        StudentConfig(hidden=30, n_heads=4)
    f = tmp_path / "c.json"
    f.write_text('{"preset": "tiny", "n_layers": 1, "colour": 3}')
    with pytest.raises(InputError, match="colour"):
        resolve_student_config(str(f))
    f.write_text('{"preset": "tiny", "n_layers": 1}')
    assert resolve_student_config(str(f)).n_layers == 1
    with pytest.raises(InputError, match="neither a preset"):
        resolve_student_config(str(tmp_path / "nope"))


def test_partial_fine_tune_changes_only_the_last_blocks(tmp_path):
    st = build_student(StudentConfig(n_layers=3))
    before = {n: p.detach().clone() for n, p in st.model.named_parameters()}
    train(_records(20), st, tmp_path / "s", TrainConfig(epochs=1, batch_size=8, lr=5e-3, warmup_steps=1, train_layers=1))
    changed = {n for n, p in st.model.named_parameters() if not torch.equal(p.detach(), before[n])}
    assert changed, "nothing was trained"
    assert all(n.startswith(("model.layers.2.", "model.norm.")) for n in changed), sorted(changed)
    assert not any(n.startswith(("model.layers.0.", "model.layers.1.", "model.embed_tokens", "lm_head")) for n in changed)
    with pytest.raises(InputError, match="only 3 decoder blocks"):
        train(_records(20), build_student(StudentConfig(n_layers=3)), tmp_path / "x", TrainConfig(train_layers=4))
    with pytest.raises(InputError, match="train_layers"):
        TrainConfig(train_layers=-1)


def test_pretrained_student_names_resolve_to_fine_tuning(tmp_path):
    assert resolve_student_config("smollm2") is None and resolve_student_config("SmolLM2") is None
    build_student(StudentConfig()).save_pretrained(tmp_path / "m")
    assert resolve_student_config(str(tmp_path / "m")) is None
    assert resolve_student_config("tiny") is not None


def test_frozen_prefix_logits_match_the_full_forward():
    from stillwatch.distill.train import Example, FrozenPrefix

    st = build_student(StudentConfig(n_layers=3))
    batch = [Example("a", tuple(range(5, 17)), 4), Example("b", tuple(range(40, 47)), 3)]
    b = collate(batch, 0)
    with torch.no_grad():
        full = st.model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits
        cache: dict = {}
        fast = FrozenPrefix(st.model, 1, cache).logits(batch, b)
    mask = b["attention_mask"].bool()
    assert torch.allclose(full[mask], fast[mask], atol=1e-5)
    from stillwatch.distill.losses import sequence_kd_loss

    with torch.no_grad():  # the head applied only at labelled positions gives the same loss
        assert float(FrozenPrefix(st.model, 1, cache).seq_loss(batch, b)) == pytest.approx(
            float(sequence_kd_loss(full, b["labels"])), abs=1e-5)
    assert len(cache) == 2 and len(st.model.model.layers) == 3  # cached per example; the blocks are restored
    with torch.no_grad():  # a second call reads the cache (a changed lower block would go unseen: same base only)
        again = FrozenPrefix(st.model, 1, cache).logits(batch[:1], collate(batch[:1], 0))
    assert torch.allclose(again[0, :12], fast[0, :12], atol=1e-6)


def _tied_student():
    """A tiny student whose output layer is tied to its embeddings, as SmolLM2's is."""
    st = build_student(StudentConfig())
    st.model.config.tie_word_embeddings = True
    st.model.lm_head.weight = st.model.model.embed_tokens.weight
    return st


def test_checkpoints_of_tied_students_are_quiet_and_resume(tmp_path, caplog, monkeypatch):
    import contextlib
    import logging

    import stillwatch.models.hf as hf

    cfg = TrainConfig(epochs=1, batch_size=8, checkpoint_every=2, warmup_steps=1)
    recs = _records(30)
    # the premise: unguarded, accelerate's save_state logs "Removed shared tensor" for a tied model
    with monkeypatch.context() as m:
        m.setattr(hf, "quiet_tied_weights", lambda _model: contextlib.nullcontext())
        with caplog.at_level(logging.WARNING):
            train(recs, _tied_student(), tmp_path / "loud", cfg)
    assert any("Removed shared tensor" in r.getMessage() for r in caplog.records)
    caplog.clear()

    class Stop(Exception):
        pass

    def stop_at_3(step, total, loss):
        if step == 3:
            raise Stop

    level = logging.getLogger("accelerate.utils.other").level
    with caplog.at_level(logging.WARNING):
        with pytest.raises(Stop):
            train(recs, _tied_student(), tmp_path / "s", cfg, progress=stop_at_3)
        s = train(recs, _tied_student(), tmp_path / "s", cfg)
    assert not any("Removed shared tensor" in r.getMessage() for r in caplog.records)
    assert logging.getLogger("accelerate.utils.other").level == level  # restored after each save
    assert s.resumed_from_step == 2 and s.steps == 4  # 27 train records / 8 -> 4 batches
    re = load_backend(str(tmp_path / "s"))
    assert re.model.config.tie_word_embeddings
    assert torch.equal(re.model.lm_head.weight, re.model.model.embed_tokens.weight)


def test_frozen_prefix_keeps_each_block_s_attention_kind_in_a_gemma3_decoder():
    """Gemma 3 picks each block's attention (sliding window or global, each with its own rotary base)
    by its position in ``config.layer_types``; running only the upper blocks must not give them the
    kinds of the lowest ones (the zoo's Gemma students were trained on wrong logits before the fix)."""
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    from stillwatch.distill.train import Example, FrozenPrefix

    cfg = Gemma3TextConfig(vocab_size=96, hidden_size=32, intermediate_size=64, num_hidden_layers=4, num_attention_heads=2,
                           num_key_value_heads=1, head_dim=16, sliding_window=3, max_position_embeddings=64,
                           layer_types=["sliding_attention", "sliding_attention", "sliding_attention", "full_attention"])
    torch.manual_seed(0)
    model = Gemma3ForCausalLM(cfg).eval()
    batch = [Example("a", tuple(range(5, 19)), 4), Example("b", tuple(range(40, 49)), 3)]
    b = collate(batch, 0)
    mask = b["attention_mask"].bool()
    with torch.no_grad():
        full = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits
        for train_layers in (1, 2, 3):
            fast = FrozenPrefix(model, train_layers).logits(batch, b)
            assert torch.allclose(full[mask], fast[mask], atol=1e-5), train_layers
    assert model.config.layer_types[-1] == "full_attention" and len(model.config.layer_types) == 4  # restored
    assert len(model.model.layers) == 4
