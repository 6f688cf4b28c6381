"""The tiny built-in backend and the generic HFBackend behaviour it exercises."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from naive_utf8 import allowed_next

from stillwatch.errors import InputError, TokenizerMismatchError
from stillwatch.models import Backend, check_same_tokenizer, load_backend
from stillwatch.models.byte_tokenizer import ByteTokenizer
from stillwatch.models.tiny import TinyConfig, load_tiny, new_tiny_model

PROMPTS = [f"prompt number {i} " + "x" * (3 * i) for i in range(8)]


@pytest.fixture(scope="module")
def tiny():
    return load_tiny()


class Recorder:
    """A logits processor that records the scores it sees and changes nothing."""

    def __init__(self):
        self.steps = []

    def __call__(self, input_ids, scores):
        self.steps.append(scores.detach().clone().numpy())
        return scores


class NoEos:
    def __call__(self, input_ids, scores):
        scores = scores.clone()
        scores[:, 258] = float("-inf")
        return scores


class ForceToken:
    def __init__(self, token):
        self.token = token

    def __call__(self, input_ids, scores):
        out = torch.full_like(scores, float("-inf"))
        out[:, self.token] = 0.0
        return out


def test_import_models_does_not_import_torch():
    code = "import sys, stillwatch.models, stillwatch.models.registry; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_byte_tokenizer_roundtrip_and_specials():
    tok = ByteTokenizer()
    text = "héllo, wörld ✓"
    assert tok.encode(text) == list(text.encode("utf-8"))
    assert tok.encode(text, add_special_tokens=True)[0] == 257
    assert tok.decode([257, *text.encode("utf-8"), 258, 256]) == text
    assert tok.decode([104, 258, 105], skip_special_tokens=False) == "h<eos>i"
    assert len(tok.get_vocab()) == 259 and sorted(tok.get_vocab().values()) == list(range(259))
    with pytest.raises(InputError, match="259"):
        tok.decode([259])


def test_tiny_init_is_deterministic_per_seed():
    a, b, c = new_tiny_model(0), new_tiny_model(0), new_tiny_model(1)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_tiny_shape_and_tokenizer_id(tiny):
    assert isinstance(tiny, Backend) and tiny.local
    assert tiny.vocab_size == 260 == tiny.model.lm_head.weight.shape[0]
    assert len(tiny.tokenizer_id) == 64 and tiny.tokenizer_id == load_tiny(seed=3).tokenizer_id
    assert tiny.chat_prompt_ids("hi") == list(b"User: hi\nAssistant: ")
    assert tiny.encode("hi") == [104, 105] and tiny.decode([104, 258, 105]) == "hi"


def test_tiny_generates_64_tokens_for_8_prompts_fast(tiny):
    """Judged by process CPU time (the tiny backend runs on one thread), which other jobs on a
    shared machine cannot inflate the way they inflate wall time."""
    assert tiny.num_threads == 1
    tiny.generate(PROMPTS, max_new_tokens=8, seed=0)  # warm-up
    cpu = []
    for _ in range(3):
        t = time.process_time()
        gens = tiny.generate(PROMPTS, max_new_tokens=64, seed=0, logits_processor=NoEos())
        cpu.append(time.process_time() - t)
    # 64 steps each; a character cut off by the limit is dropped (at most 3 bytes)
    assert len(gens) == 8 and all(61 <= len(g.completion_ids) <= 64 for g in gens)
    assert min(cpu) < 0.6, cpu


def test_generation_fields_are_consistent(tiny):
    gens = tiny.generate(PROMPTS, max_new_tokens=40, seed=5, batch_size=3)
    assert [g.prompt for g in gens] == PROMPTS
    for g in gens:
        assert list(g.prompt_ids) == list(f"User: {g.prompt}\nAssistant: ".encode())
        ids = np.asarray(g.completion_ids)
        assert ids.size and ids.max() < 256  # no pad, bos, eos or padding rows
        assert g.finish_reason == "stop" or 37 <= len(ids) <= 40  # a cut-off last character is dropped
        assert g.text == bytes(ids.astype(np.uint8)).decode("utf-8")  # valid UTF-8: decodes strictly
        assert tiny.encode(g.text) == list(g.completion_ids)  # and encodes back to exactly its ids
    # With 40 steps over ~260 near-uniform tokens, some answers stop at eos and most do not.
    reasons = {g.finish_reason for g in tiny.generate(PROMPTS * 4, max_new_tokens=40, seed=1)}
    assert reasons == {"stop", "length"}


def test_seed_reproducible_and_rng_untouched(tiny):
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = tiny.generate(PROMPTS, max_new_tokens=16, seed=7)
    after = torch.rand(1)
    b = tiny.generate(PROMPTS, max_new_tokens=16, seed=7)
    c = tiny.generate(PROMPTS, max_new_tokens=16, seed=8)
    assert a == b
    assert [g.completion_ids for g in a] != [g.completion_ids for g in c]
    assert torch.equal(before, after)  # the caller's RNG stream is not consumed


def test_left_padded_generation_matches_teacher_forcing(tiny):
    """Each step's scores inside a left-padded batch equal the teacher-forced logits of the
    same row computed alone: padding does not leak into positions or attention."""
    rec = Recorder()
    gens = tiny.generate(PROMPTS[:5], max_new_tokens=6, seed=2, logits_processor=rec)
    for r, g in enumerate(gens):
        for k in range(len(g.completion_ids)):
            seq = list(g.prompt_ids) + list(g.completion_ids[:k])
            expected = tiny.next_token_logits([seq])[0][-1]
            seen = rec.steps[k][r]
            finite = np.isfinite(seen)
            allowed = allowed_next(list(g.completion_ids[:k]), len(seen))  # the UTF-8 constraint (naive reference)
            allowed[[256, 257, 259]] = False  # suppressed ids
            assert np.array_equal(finite, allowed)
            np.testing.assert_allclose(seen[finite], expected[finite], atol=1e-4)


def test_top_k_1_is_greedy(tiny):
    gens = tiny.generate(PROMPTS[:4], max_new_tokens=12, top_k=1, seed=0)
    for g in gens:
        seq = list(g.prompt_ids) + list(g.completion_ids)
        logits = tiny.next_token_logits([seq])[0]  # [T, V]
        logits[:, [256, 257, 259]] = -np.inf
        n_p = len(g.prompt_ids)
        for k, tok in enumerate(g.completion_ids):  # greedy among the tokens that keep the text valid UTF-8
            step = np.where(allowed_next(list(g.completion_ids[:k]), logits.shape[1]), logits[n_p - 1 + k], -np.inf)
            assert tok == int(step.argmax())


def test_logits_processor_single_and_list_are_applied(tiny):
    for proc in (ForceToken(65), [Recorder(), ForceToken(66)]):
        gens = tiny.generate(PROMPTS[:3], max_new_tokens=10, logits_processor=proc, seed=0)
        want = "A" if isinstance(proc, ForceToken) else "B"
        assert all(g.text == want * 10 and g.finish_reason == "length" for g in gens)


def test_temperature_sharpens(tiny):
    """At a low temperature answers concentrate on the argmax token."""
    cold = tiny.generate(PROMPTS, max_new_tokens=20, temperature=1e-4, seed=3)
    greedy = tiny.generate(PROMPTS, max_new_tokens=20, top_k=1, seed=4)
    assert [g.completion_ids for g in cold] == [g.completion_ids for g in greedy]


def test_progress_called_per_batch(tiny):
    calls = []
    tiny.generate(PROMPTS, max_new_tokens=2, batch_size=3, progress=calls.append, seed=0)
    assert calls == [3, 6, 8]


def test_next_token_scores_padding_safe_and_float32(tiny):
    rng = np.random.default_rng(0)
    seqs = [rng.integers(0, 256, size=n).tolist() for n in (1, 7, 30, 0, 12)]
    batched = tiny.next_token_logits(seqs, batch_size=5)
    alone = [tiny.next_token_logits([s])[0] for s in seqs]
    argmax = tiny.next_token_argmax(seqs, batch_size=2)
    for s, lb, la, am in zip(seqs, batched, alone, argmax):
        assert lb.dtype == np.float32 and lb.shape == (len(s), 260)
        np.testing.assert_allclose(lb, la, atol=1e-5)
        assert am.dtype == np.int64 and am.tolist() == la.argmax(axis=-1).tolist()
    # an independent check of one row: the logits are the lm_head of the final hidden state
    with torch.no_grad():
        out = tiny.model(torch.tensor([seqs[2]]), output_hidden_states=True)
        ref = (out.hidden_states[-1][0] @ tiny.model.lm_head.weight.T).numpy()
    np.testing.assert_allclose(batched[2], ref, atol=1e-5)


def test_save_and_reopen_with_load_backend(tiny, tmp_path):
    student = load_tiny(seed=9)
    student.save_pretrained(tmp_path / "student")
    again = load_backend(str(tmp_path / "student"))
    assert again.tokenizer_id == student.tokenizer_id == tiny.tokenizer_id
    seq = [list(b"hello world")]
    np.testing.assert_allclose(again.next_token_logits(seq)[0], student.next_token_logits(seq)[0], atol=1e-6)
    assert again.generate(["q"], max_new_tokens=8, seed=1) == student.generate(["q"], max_new_tokens=8, seed=1)
    check_same_tokenizer(again, tiny)


def test_bad_inputs_give_clear_errors(tiny, tmp_path):
    with pytest.raises(InputError, match=r"'gpt-17'.*smollm2.*tiny.*http"):
        load_backend("gpt-17")
    with pytest.raises(InputError, match="no config.json"):
        load_backend(str(tmp_path))
    with pytest.raises(InputError, match="temperature"):
        tiny.generate(["a"], temperature=0)
    with pytest.raises(InputError, match="max_new_tokens"):
        tiny.generate(["a"], max_new_tokens=0)
    with pytest.raises(InputError, match="top_k"):
        tiny.generate(["a"], top_k=0)
    with pytest.raises(InputError, match="single string"):
        tiny.generate("abc")
    with pytest.raises(InputError, match="300"):
        tiny.next_token_logits([[1, 2, 300]])
    with pytest.raises(InputError, match="divisible"):
        TinyConfig(hidden=65)


def test_check_same_tokenizer_names_both(tiny):
    class Other(Backend):
        name, tokenizer_id, vocab_size = "other-model", "0" * 64, 10

        def encode(self, text):
            return []

        def decode(self, ids):
            return ""

        def generate(self, prompts, **kw):
            return []

    check_same_tokenizer(tiny, load_tiny(seed=1))
    with pytest.raises(TokenizerMismatchError, match=r"'tiny'.*'other-model'"):
        check_same_tokenizer(tiny, Other())


def test_tiny_student_config_for_another_tokenizer():
    """A small Llama over a foreign (here: stand-in) tokenizer takes its vocabulary and ids."""

    class Tok:
        pad_token_id, bos_token_id, eos_token_id = 2, 1, 2

        def __len__(self):
            return 300

    cfg = new_tiny_model(0, TinyConfig(hidden=32, n_heads=2), tokenizer=Tok()).config
    assert (cfg.vocab_size, cfg.hidden_size, cfg.pad_token_id, cfg.bos_token_id, cfg.eos_token_id) == (300, 32, 2, 1, 2)


class AddBias:
    def __init__(self, token, bias):
        self.token, self.bias = token, bias

    def __call__(self, input_ids, scores):
        return scores.index_add(1, torch.tensor([self.token]), torch.full((scores.shape[0], 1), self.bias))


def test_processors_act_on_the_sampled_temperature(tiny):
    """Custom processors see logits / T and their bias reaches the sampler unscaled (transformers
    would otherwise divide a watermark's delta by T)."""
    rec = Recorder()
    g = tiny.generate(PROMPTS[:1], max_new_tokens=1, seed=0, temperature=0.25, logits_processor=[rec])[0]
    raw = tiny.next_token_logits([list(g.prompt_ids)])[0][-1]
    finite = np.isfinite(rec.steps[0][0])
    np.testing.assert_allclose(rec.steps[0][0][finite], raw[finite] / 0.25, rtol=1e-4, atol=1e-4)
    # greedy decoding with a bias on the runner-up: at T = 0.25 the runner-up trails by gap / T,
    # so a bias of 2 * gap must NOT overtake the leader (it would if it were divided by T)
    raw[[256, 257, 259]] = -np.inf
    raw[~allowed_next([], len(raw))] = -np.inf  # the first byte of an answer starts a character
    lead, second = np.argsort(raw)[::-1][:2]
    gap = float(raw[lead] - raw[second])
    out = tiny.generate(PROMPTS[:1], max_new_tokens=1, top_k=1, temperature=0.25,
                        logits_processor=[AddBias(int(second), 2 * gap)])[0]
    assert out.completion_ids[0] == lead
    out1 = tiny.generate(PROMPTS[:1], max_new_tokens=1, top_k=1, temperature=1.0,
                         logits_processor=[AddBias(int(second), 2 * gap)])[0]
    assert out1.completion_ids[0] == second  # at T = 1 the same bias does overtake


def test_device_choice_is_validated_and_auto_follows_torch(tiny, tmp_path, monkeypatch):
    from stillwatch.errors import BackendError
    from stillwatch.models.hf import resolve_device

    for bad in ("gpu", "cuda:x", "CPU", "", 0):
        with pytest.raises(InputError, match="device must be 'auto', 'cpu', 'cuda' or 'cuda:N'"):
            resolve_device(bad)
    assert resolve_device("cpu") == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    assert resolve_device("auto") == "cpu"
    with pytest.raises(BackendError, match=r"device 'cuda:1' was asked for, but torch sees 0 GPU"):
        resolve_device("cuda:1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("auto") == "cuda" and resolve_device("cuda:1") == "cuda:1"
    with pytest.raises(BackendError, match="torch sees 2 GPU"):
        resolve_device("cuda:2")
    # a loader puts the model where it was asked to (here the CPU) and validates before loading
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    load_tiny(seed=9).save_pretrained(tmp_path / "m")
    assert load_backend(str(tmp_path / "m"), device="cpu").model.device.type == "cpu"
    assert load_backend(str(tmp_path / "m")).model.device.type == "cpu"
    with pytest.raises(InputError, match="device must be"):
        load_backend(str(tmp_path / "m"), device="tpu")
