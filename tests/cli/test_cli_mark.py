"""The `stillwatch keys` / `mark` command-line contract, run as a real subprocess: output fields,
exit code 2 with a one-line message for user mistakes, never a traceback."""

import json
import os
import stat
import subprocess
import sys

import pytest


def run(*args, check=True):
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    p = subprocess.run([sys.executable, "-m", "stillwatch.cli.main", *args], capture_output=True, text=True, env=env, timeout=600)
    if check and p.returncode != 0:
        raise AssertionError(f"exit {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}")
    return p


def assert_user_error(p, *fragments):
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    assert "Traceback" not in p.stderr and "Traceback" not in p.stdout
    for f in fragments:
        assert f in p.stderr, (f, p.stderr)


def test_keys_new_mode_and_no_overwrite(tmp_path):
    k = tmp_path / "master.key"
    run("keys", "new", "--out", str(k))
    assert stat.S_IMODE(os.stat(k).st_mode) == 0o600
    assert_user_error(run("keys", "new", "--out", str(k), check=False), "already exists")


@pytest.fixture(scope="module")
def marked(tmp_path_factory):
    d = tmp_path_factory.mktemp("mark")
    key = d / "master.key"
    run("keys", "new", "--out", str(key))
    prompts = d / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in [
        "Explain how a bicycle gear works.", "Write a short poem about the sea.", "List four uses of baking soda."]))
    out, plain = d / "out.jsonl", d / "plain.jsonl"
    run("mark", "generate", "--master-key", str(key), "--account", "acct-7", "--prompts", str(prompts), "--out", str(out),
        "--model", "smollm2", "--max-new-tokens", "100", "--temperature", "1.0")
    run("mark", "generate", "--master-key", str(key), "--account", "acct-7", "--prompts", str(prompts), "--out", str(plain),
        "--model", "smollm2", "--max-new-tokens", "100", "--no-watermark")
    return d, key, out, plain


@pytest.mark.slow
def test_generate_output_contract(marked):
    d, key, out, plain = marked
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(lines) == 3
    for rec in lines:
        assert {"prompt", "text", "account", "spec"} <= rec.keys()
        assert rec["account"] == "acct-7" and rec["text"]
        assert rec["spec"]["provider"]["key_id"] == "provider" and rec["spec"]["account"]["key_id"] == "account:acct-7"
        assert rec["spec"]["fingerprint"].startswith("sha256:")
        assert "secret" not in json.dumps(rec["spec"]).lower()
    assert all(json.loads(x)["spec"] is None for x in plain.read_text().splitlines())


@pytest.mark.slow
def test_detect_and_attribute(marked):
    d, key, out, plain = marked
    accounts = d / "accounts.txt"
    accounts.write_text("\n".join(["acct-1", "acct-7", "acct-9"] + [f"decoy-{i}" for i in range(50)]) + "\n")
    res = [json.loads(x) for x in run("mark", "detect", "--master-key", str(key), "--input", str(out), "--accounts", str(accounts), "--json").stdout.splitlines()]
    assert len(res) == 3
    for r in res:
        assert {"p_value", "n_scored", "account", "account_p_value"} <= r.keys()
        assert 0 <= r["p_value"] <= 1 and r["n_scored"] > 0
    # on 3 answers of ~100 tokens, the provider layer is found in the combined evidence:
    assert min(r["p_value"] for r in res) < 1e-3
    assert sum(r["account"] == "acct-7" for r in res) >= 1 and all(r["account"] in ("acct-7", None) for r in res)
    res_plain = [json.loads(x) for x in run("mark", "detect", "--master-key", str(key), "--input", str(plain), "--accounts", str(accounts), "--json").stdout.splitlines()]
    assert all(r["p_value"] > 1e-4 and r["account"] is None for r in res_plain), (res_plain, plain.read_text())


def test_user_errors_are_one_line_exit_2(tmp_path):
    key = tmp_path / "k"
    run("keys", "new", "--out", str(key))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "ok"}\n{not json}\n')
    assert_user_error(run("mark", "generate", "--master-key", str(key), "--account", "a", "--prompts", str(bad), "--out", str(tmp_path / "o"), "--model", "tiny", check=False), "bad.jsonl:2", "not valid JSON")
    texts = tmp_path / "t.jsonl"
    texts.write_text(json.dumps({"text": "hello there, general"}) + "\n")
    assert_user_error(run("mark", "detect", "--master-key", str(tmp_path / "missing.key"), "--input", str(texts), "--model", "tiny", check=False), "missing.key")
    wrong = tmp_path / "wrong.key"
    wrong.write_text("stillwatch-master-key v1\nabcd\n")
    assert_user_error(run("mark", "detect", "--master-key", str(wrong), "--input", str(texts), "--model", "tiny", check=False), "must be 32 bytes")
    assert_user_error(run("mark", "generate", "--master-key", str(key), "--account", "a", "--prompts", str(texts), "--out", str(tmp_path / "o"), "--model", "nosuchmodel", check=False), "field 'prompt' must be a string")
    p = tmp_path / "p.jsonl"
    p.write_text(json.dumps({"prompt": "hi"}) + "\n")
    assert_user_error(run("mark", "generate", "--master-key", str(key), "--account", "a", "--prompts", str(p), "--out", str(tmp_path / "o"), "--model", "nosuchmodel", check=False), "unknown model 'nosuchmodel'")


def test_detect_reports_bad_lines_and_keeps_going(tmp_path):
    key = tmp_path / "k"
    run("keys", "new", "--out", str(key))
    texts = tmp_path / "t.jsonl"
    texts.write_text(
        json.dumps({"text": ""}) + "\n"
        + json.dumps({"text": "a"}) + "\n"
        + json.dumps({"text": "a reasonably long text for the tiny byte-level tokenizer"}) + "\n"
        + json.dumps({"text": "another one", "spec": {"provider": {"scheme": "kgw", "context_width": 2, "gamma": 0.25, "delta": 1.5, "layer": "provider", "key_id": "provider", "tokenizer_id": "f" * 64}}}) + "\n"
        + json.dumps({"text": "and one with an unknown scheme", "spec": {"provider": {"scheme": "rainbow"}}}) + "\n"
    )
    res = [json.loads(x) for x in run("mark", "detect", "--master-key", str(key), "--input", str(texts), "--model", "tiny", "--json").stdout.splitlines()]
    assert [r["line"] for r in res] == [1, 2, 3, 4, 5]
    assert "empty text" in res[0]["error"]
    assert "needs at least 3" in res[1]["error"]
    assert 0 <= res[2]["p_value"] <= 1
    assert "TokenizerMismatchError" in res[3]["error"]
    assert "scheme must be one of kgw, gumbel, tournament; got 'rainbow'" in res[4]["error"]
