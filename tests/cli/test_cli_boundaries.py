"""Every command's boundary, through `main()` (issue 12, items 9-13, 15, 16): usage errors and bad
input are one line and exit 2, Ctrl-C is exit 130 and one line saying what was stored, outputs are
checked before the job and never silently replaced, --json prints only JSON, a resumed harvest with
other settings is refused, and the tiny model's own watermark survives its decoding."""

from __future__ import annotations

import hashlib
import json

import pytest

from stillwatch.mark import MasterKey
from stillwatch.models.hf import HFBackend
from stillwatch.records import read_transcripts


@pytest.fixture
def key(tmp_path):
    k = tmp_path / "master.key"
    MasterKey.generate().save(k)
    return k


@pytest.fixture
def prompts(tmp_path):
    p = tmp_path / "p.jsonl"
    p.write_text("".join(json.dumps({"id": f"q{i}", "prompt": f"Question number {i}?"}) + "\n" for i in range(12)))
    return p


@pytest.mark.parametrize(("argv", "fragment"), [
    ([], "missing command"),
    (["mark"], "missing command"),
    (["--no-such-option"], "No such option"),
    (["mark", "generate", "--account", "a", "--prompts", "p", "--out", "o", "--max-new-tokens", "0"], "--max-new-tokens"),
    (["keys", "new"], "Missing option '--out'"),
    (["ledger", "prove", "x", "notanint"], "index"),
    (["distill", "harvest", "--prompts", "p", "--out", "o", "--accounts", "zero"], "--accounts"),
    (["trace", "radioactivity", "--suspect", "tiny", "--master-key", "k", "--alpha", "2"], "--alpha"),
])
def test_usage_errors_are_one_line_exit_2(cli, argv, fragment):
    cli(*argv).user_error(fragment)


def _interrupt_on_call(monkeypatch, n: int) -> None:
    """Make the n-th call of HFBackend.generate raise KeyboardInterrupt (what Ctrl-C does mid-job)."""
    real, calls = HFBackend.generate, []

    def generate(self, *a, **kw):
        calls.append(1)
        if len(calls) == n:
            raise KeyboardInterrupt
        return real(self, *a, **kw)

    monkeypatch.setattr(HFBackend, "generate", generate)


def test_ctrl_c_in_harvest_keeps_what_was_stored_and_says_so(tmp_path, cli, key, prompts, monkeypatch):
    out = tmp_path / "t.jsonl"
    argv = ("distill", "harvest", "--teacher", "tiny", "--prompts", prompts, "--out", out, "--master-key", key,
            "--accounts", "2", "--batch-size", "4", "--max-new-tokens", "8")
    _interrupt_on_call(monkeypatch, 2)
    r = cli(*argv)
    assert r.code == 130 and "Traceback" not in r.err
    line = r.err.strip().splitlines()[-1]
    assert line.startswith("interrupted:") and "4 new answers are stored" in line and "rerun" in line
    assert len(read_transcripts(out)) == 4  # the first batch, durable; the one in flight is not
    monkeypatch.undo()
    assert cli(*argv, "--json").ok().json()["n_skipped"] == 4
    assert len(read_transcripts(out)) == 12


def test_ctrl_c_in_mark_generate_writes_nothing_and_says_so(tmp_path, cli, key, prompts, monkeypatch):
    out = tmp_path / "answers.jsonl"
    _interrupt_on_call(monkeypatch, 2)
    r = cli("mark", "generate", "--master-key", key, "--account", "a", "--prompts", prompts, "--out", out,
            "--model", "tiny", "--batch-size", "4", "--max-new-tokens", "8")
    assert r.code == 130 and "Traceback" not in r.err
    line = r.err.strip().splitlines()[-1]
    assert line.startswith("interrupted:") and f"nothing was written to {out}" in line and "4 of 12" in line
    assert not out.exists() and list(tmp_path.glob("*partial*")) == []


@pytest.mark.parametrize("bad", [b'{"prompt": "caf\xe9"}\n', b'{"prompt": "lone \\ud800 surrogate"}\n', b'{"prompt": 5}\n'])
def test_bad_prompt_files_stop_generate_and_harvest_before_any_work(tmp_path, cli, key, bad, monkeypatch):
    p = tmp_path / "p.jsonl"
    p.write_bytes(b'{"prompt": "fine"}\n' + bad)
    monkeypatch.setattr("stillwatch.models.registry.load_backend", lambda *a, **k: pytest.fail("a model was loaded"))
    cli("mark", "generate", "--master-key", key, "--account", "a", "--prompts", p, "--out", tmp_path / "o.jsonl",
        "--model", "tiny").user_error("p.jsonl:2")
    cli("distill", "harvest", "--teacher", "tiny", "--prompts", p, "--out", tmp_path / "t.jsonl", "--master-key", key
        ).user_error("p.jsonl:2")
    assert not (tmp_path / "o.jsonl").exists() and not (tmp_path / "t.jsonl").exists()


@pytest.mark.parametrize("bad", [b"\xff\xfe not UTF-8\n", b'{"prompt_id": "x", "prompt": "q", "text": "\\udfff", "account": "a"}\n'])
def test_bad_transcripts_stop_train_and_trace_with_file_and_line(tmp_path, cli, key, bad):
    t = tmp_path / "t.jsonl"
    good = json.dumps({"prompt_id": "p0", "prompt": "q", "text": "an answer", "account": "a"}) + "\n"
    t.write_bytes(good.encode() + bad + good.replace("p0", "p1").encode())
    cli("distill", "train", "--transcripts", t, "--student", "tiny", "--out", tmp_path / "s").user_error("t.jsonl:2")
    cli("trace", "radioactivity", "--suspect", "tiny", "--master-key", key, "--transcripts", t).user_error("t.jsonl:2")
    assert not (tmp_path / "s").exists()


def test_non_utf8_accounts_and_api_keys_files(tmp_path, cli, key, prompts):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"acct-1\n\xe9t\xe9\n")
    texts = tmp_path / "t.jsonl"
    texts.write_text(json.dumps({"text": "some text to score here"}) + "\n")
    cli("mark", "detect", "--master-key", key, "--input", texts, "--model", "tiny", "--accounts", bad).user_error("bad.txt:2", "UTF-8")
    cli("trace", "radioactivity", "--suspect", "tiny", "--master-key", key, "--accounts", bad).user_error("bad.txt:2")
    cli("distill", "harvest", "--teacher", "http://127.0.0.1:9/v1", "--prompts", prompts, "--out", tmp_path / "o.jsonl",
        "--api-keys", bad).user_error("bad.txt:2")


def test_train_out_must_be_a_directory_and_a_finished_model_is_not_replaced(tmp_path, cli):
    t = tmp_path / "t.jsonl"
    t.write_text("".join(json.dumps({"prompt_id": f"p{i}", "prompt": "q", "text": f"answer {i}", "account": "a"}) + "\n" for i in range(4)))
    f = tmp_path / "a-file"
    f.write_text("precious")
    cli("distill", "train", "--transcripts", t, "--student", "tiny", "--out", f).user_error("is a file")
    assert f.read_text() == "precious"
    cli("distill", "train", "--transcripts", t, "--student", "tiny", "--out", tmp_path / "s", "--epochs", "1").ok()
    summary = (tmp_path / "s" / "train_summary.json").read_text()
    cli("distill", "train", "--transcripts", t, "--student", "tiny", "--out", tmp_path / "s", "--epochs", "1").user_error("--force")
    assert (tmp_path / "s" / "train_summary.json").read_text() == summary


def test_outputs_are_checked_before_the_job_and_never_silently_replaced(tmp_path, cli, key, prompts, monkeypatch):
    calls = []
    real = HFBackend.generate
    monkeypatch.setattr(HFBackend, "generate", lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    gen = ("mark", "generate", "--master-key", key, "--account", "a", "--prompts", prompts, "--model", "tiny", "--max-new-tokens", "4")
    cli(*gen, "--out", tmp_path / "no-such-dir" / "o.jsonl").user_error("does not exist")
    assert calls == []  # refused before generating anything
    out = tmp_path / "o.jsonl"
    out.write_text("kept\n")
    cli(*gen, "--out", out).user_error("already exists", "--force")
    assert out.read_text() == "kept\n" and calls == []
    cli(*gen, "--out", out, "--force").ok()
    assert len(read_transcripts(out)) == 12
    p = tmp_path / "prompts.jsonl"
    cli("distill", "prompts", "--out", p, "--n", "3").ok()
    before = p.read_text()
    cli("distill", "prompts", "--out", p, "--n", "5").user_error("already exists")
    assert p.read_text() == before
    cli("distill", "prompts", "--out", p, "--n", "5", "--force").ok()
    assert len(p.read_text().splitlines()) == 5


def test_a_resumed_harvest_with_other_settings_is_refused_naming_them(tmp_path, cli, key, prompts):
    out = tmp_path / "t.jsonl"
    base = ("distill", "harvest", "--teacher", "tiny", "--prompts", prompts, "--out", out, "--max-new-tokens", "6")
    head = prompts.read_text().splitlines()[:4]
    few = tmp_path / "few.jsonl"
    few.write_text("\n".join(head) + "\n")
    cli(*base[:5], few, *base[6:], "--no-watermark", "--accounts", "2").ok()  # a control harvest, interrupted after 4
    before = out.read_bytes()
    r = cli(*base, "--master-key", key, "--accounts", "4").user_error("other settings")
    assert "watermark (none in the file, local now)" in r.err and "accounts (2 in the file" in r.err
    assert out.read_bytes() == before  # nothing mixed into the control set
    assert cli(*base, "--no-watermark", "--accounts", "2", "--json").ok().json()["n_skipped"] == 4


def test_tiny_watermark_survives_decoding_and_harvest_specs_name_the_tokenizer(tmp_path, cli):
    """20 watermarked answers of up to 128 tokens from the tiny model: every text is valid UTF-8 and
    encodes back to its ids, and detection from the text alone finds the watermark (1 of 20 before the
    fix). A fixed key and seed make it deterministic: 16 of 20 here, 16-19 on 10 other keys (the misses
    are answers that stop early: too few tokens at the default delta of 1.5)."""
    key = tmp_path / "fixed.key"
    MasterKey(hashlib.sha256(b"stillwatch-test-tiny-roundtrip").digest()).save(key)
    p = tmp_path / "p.jsonl"
    p.write_text("".join(json.dumps({"prompt": f"Tell me about topic {i}."}) + "\n" for i in range(20)))
    out = tmp_path / "answers.jsonl"
    cli("mark", "generate", "--master-key", key, "--account", "acct-1", "--prompts", p, "--out", out, "--model", "tiny",
        "--max-new-tokens", "128", "--temperature", "1.0", "--seed", "3").ok()
    recs = read_transcripts(out)
    assert not any("\ufffd" in r.text for r in recs)
    assert all(list(r.text.encode("utf-8")) == list(r.completion_ids) for r in recs)
    res = [json.loads(x) for x in cli("mark", "detect", "--master-key", key, "--input", out, "--model", "tiny", "--json").ok().out.splitlines()]
    assert sum(r.get("p_value", 1.0) < 1e-3 for r in res) >= 15, res  # an answer that stops at once is too short to score
    # harvest specs carry the teacher's tokenizer, so a text is never scored under another one
    t = tmp_path / "t.jsonl"
    cli("distill", "harvest", "--teacher", "tiny", "--prompts", p, "--out", t, "--master-key", key, "--accounts", "2",
        "--max-new-tokens", "8").ok()
    assert {r.spec["provider"]["tokenizer_id"] for r in read_transcripts(t)} == {recs[0].tokenizer_id}
    assert recs[0].tokenizer_id is not None
