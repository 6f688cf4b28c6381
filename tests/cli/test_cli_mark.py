"""The `stillwatch keys` / `mark` command-line contract through `main()`: output fields, exit code 2
with a one-line message for user mistakes, never a traceback."""

import json
import os
import stat

import pytest

from stillwatch.records import read_transcripts


def test_keys_new_mode_and_no_overwrite(tmp_path, cli):
    k = tmp_path / "master.key"
    cli("keys", "new", "--out", k).ok()
    assert stat.S_IMODE(os.stat(k).st_mode) == 0o600
    before = k.read_bytes()
    cli("keys", "new", "--out", k).user_error("already exists")
    assert k.read_bytes() == before


@pytest.mark.slow
def test_generate_then_detect_and_attribute_on_smollm2(tmp_path, cli, smollm2, monkeypatch):
    # the session's SmolLM2 serves `--model smollm2` (loading is tested in tests/models; `mark detect`
    # still reads only the tokenizer, from the cache)
    from stillwatch.models import registry

    real = registry.load_backend
    monkeypatch.setattr(registry, "load_backend", lambda name, **kw: smollm2 if name == "smollm2" else real(name, **kw))
    # a fixed master key (as the suite's fixed sampling seed): with a fresh key each run, the check on the
    # unwatermarked answers below fails by design with probability ~3 x 1e-3 (three texts at alpha 1e-3; measured
    # calibrated: 1 of 1,200 such attributions under random keys, 2026-12-05) — it did once in CI. `keys new` is
    # exercised in tests/ledger/test_ledger_adversary.py and test_ledger_fuzz.py.
    import hashlib

    from stillwatch.mark import MasterKey

    key = tmp_path / "master.key"
    MasterKey(hashlib.sha256(b"test_generate_then_detect_and_attribute_on_smollm2").digest()).save(key)
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in [
        "Explain how a bicycle gear works.", "Write a short poem about the sea.", "List four uses of baking soda."]))
    out, plain = tmp_path / "out.jsonl", tmp_path / "plain.jsonl"
    # 60 new tokens: SmolLM2's answers to these prompts run 7-60 tokens, enough for p < 1e-6 on the longest (measured
    # 2026-12-05: 8e-7 and 1.5e-9 with the suite's seed, against the 1e-3 asserted below)
    common = ("--account", "acct-7", "--prompts", prompts, "--model", "smollm2", "--max-new-tokens", "60")
    cli("mark", "generate", "--master-key", key, *common, "--out", out, "--temperature", "1.0").ok()
    cli("mark", "generate", *common[:-2], "--max-new-tokens", "24", "--out", plain, "--no-watermark").ok()
    recs = read_transcripts(out)  # the one record format: what distill train and trace read
    assert len(recs) == 3
    for rec in recs:
        assert rec.account == "acct-7" and rec.text and rec.watermark == "local" and rec.model == "smollm2"
        assert rec.spec["provider"]["key_id"] == "provider" and rec.spec["account"]["key_id"] == "account:acct-7"
        assert rec.spec["provider"]["tokenizer_id"] == rec.tokenizer_id
        assert rec.spec["fingerprint"].startswith("sha256:")
        assert rec.sampling == {"max_new_tokens": 60, "temperature": 1.0, "top_k": None, "seed": 0}
    assert key.read_text().split()[-1] not in out.read_text()  # never the secret
    assert all(r.spec is None and r.watermark == "none" for r in read_transcripts(plain))

    accounts = tmp_path / "accounts.txt"
    accounts.write_text("\n".join(["acct-1", "acct-7", "acct-9"] + [f"decoy-{i}" for i in range(50)]) + "\n")
    res = [json.loads(x) for x in cli("mark", "detect", "--master-key", key, "--input", out, "--accounts", accounts,
                                      "--json").ok().out.splitlines()]
    assert len(res) == 3
    for r in res:
        assert {"p_value", "n_scored", "account", "account_p_value"} <= r.keys()
        assert 0 <= r["p_value"] <= 1 and r["n_scored"] > 0
    # on 3 answers of <= 60 tokens, the provider layer is found in the combined evidence:
    assert min(r["p_value"] for r in res) < 1e-3
    assert sum(r["account"] == "acct-7" for r in res) >= 1 and all(r["account"] in ("acct-7", None) for r in res)
    res_plain = [json.loads(x) for x in cli("mark", "detect", "--master-key", key, "--input", plain, "--accounts", accounts,
                                            "--json").ok().out.splitlines()]
    assert all(r["p_value"] > 1e-4 and r["account"] is None for r in res_plain), res_plain


def test_user_errors_are_one_line_exit_2(tmp_path, cli):
    key = tmp_path / "k"
    cli("keys", "new", "--out", key).ok()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "ok"}\n{not json}\n')
    gen = ("mark", "generate", "--master-key", key, "--account", "a", "--out", tmp_path / "o")
    cli(*gen, "--prompts", bad, "--model", "tiny").user_error("bad.jsonl:2", "not valid JSON")
    texts = tmp_path / "t.jsonl"
    texts.write_text(json.dumps({"text": "hello there, general"}) + "\n")
    cli("mark", "detect", "--master-key", tmp_path / "missing.key", "--input", texts, "--model", "tiny").user_error("missing.key")
    wrong = tmp_path / "wrong.key"
    wrong.write_text("stillwatch-master-key v1\nabcd\n")
    cli("mark", "detect", "--master-key", wrong, "--input", texts, "--model", "tiny").user_error("must be 32 bytes")
    cli(*gen, "--prompts", texts, "--model", "nosuchmodel").user_error("t.jsonl:1", "'prompt'")
    p = tmp_path / "p.jsonl"
    p.write_text(json.dumps({"prompt": "hi"}) + "\n")
    cli(*gen, "--prompts", p, "--model", "nosuchmodel").user_error("unknown model 'nosuchmodel'")
    cli(*gen, "--prompts", p, "--model", "tiny", "--max-new-tokens", "0").user_error("--max-new-tokens")
    assert not (tmp_path / "o").exists()  # nothing was written by any of them
    # a master key passed where the accounts list belongs is refused without echoing it
    r = cli("mark", "detect", "--master-key", key, "--input", texts, "--model", "tiny", "--accounts", key).user_error("secret key file")
    assert key.read_text().split()[-1] not in r.err + r.out


def test_detect_reports_bad_lines_and_keeps_going(tmp_path, cli):
    key = tmp_path / "k"
    cli("keys", "new", "--out", key).ok()
    texts = tmp_path / "t.jsonl"
    texts.write_bytes((
        json.dumps({"text": ""}) + "\n"
        + json.dumps({"text": "a"}) + "\n"
        + json.dumps({"text": "a reasonably long text for the tiny byte-level tokenizer"}) + "\n"
        + json.dumps({"text": "another one", "spec": {"provider": {"scheme": "kgw", "context_width": 2, "gamma": 0.25, "delta": 1.5, "layer": "provider", "key_id": "provider", "tokenizer_id": "f" * 64}}}) + "\n"
        + json.dumps({"text": "and one with an unknown scheme", "spec": {"provider": {"scheme": "rainbow"}}}) + "\n"
        + '{"text": "a lone surrogate \\ud800 is not text"}\n'
    ).encode() + b'{"text": "latin-1 bytes: \xe9t\xe9"}\n' + b"{not json}\n"
        + json.dumps({"text": "a spec of the wrong shape", "spec": {"provider": {"gamma": "much"}}}).encode() + b"\n")
    res = [json.loads(x) for x in cli("mark", "detect", "--master-key", key, "--input", texts, "--model", "tiny", "--json").ok().out.splitlines()]
    assert [r["line"] for r in res] == list(range(1, 10))
    assert "empty text" in res[0]["error"]
    assert "needs at least 3" in res[1]["error"]
    assert 0 <= res[2]["p_value"] <= 1
    assert "TokenizerMismatchError" in res[3]["error"]
    assert "scheme must be one of kgw, gumbel, tournament; got 'rainbow'" in res[4]["error"]
    assert "lone surrogate" in res[5]["error"]
    assert "not valid UTF-8" in res[6]["error"]
    assert "not valid JSON" in res[7]["error"]
    assert "SpecError" in res[8]["error"]
