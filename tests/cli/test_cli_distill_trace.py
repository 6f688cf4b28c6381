"""The distill -> trace command chain through `main()`, and its error contract."""

from __future__ import annotations

import json

import pytest

from stillwatch.mark import MasterKey


def test_prompts_harvest_train_trace_chain(tmp_path, cli):
    """prompts -> harvest (resumed) -> train -> trace, each command's --json output the only thing on stdout."""
    key = tmp_path / "master.key"
    MasterKey.generate().save(key)
    p, t = tmp_path / "p.jsonl", tmp_path / "t.jsonl"
    assert "wrote 12 prompts" in cli("distill", "prompts", "--out", p, "--n", "12").ok().out
    harvest = ("distill", "harvest", "--teacher", "tiny", "--prompts", p, "--accounts", "3", "--out", t, "--master-key", key,
               "--max-new-tokens", "24", "--json")
    summary = cli(*harvest).ok().json()
    assert summary["n_written"] == 12 and summary["watermark"] == "local"
    assert cli(*harvest).ok().json()["n_skipped"] == 12  # a second run resumes: nothing left to do
    assert cli("distill", "train", "--transcripts", t, "--student", "tiny", "--out", tmp_path / "s", "--epochs", "1",
               "--json").ok().json()["n_train"] == 11
    r = cli("trace", "radioactivity", "--suspect", tmp_path / "s", "--master-key", key, "--transcripts", t,
            "--max-new-tokens", "16", "--json", "--plot", tmp_path / "curve.png").ok()
    assert (tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG"
    res = r.json()
    assert res["setting"] == "open" and 0 <= res["p_value"] <= 1 and res["n_scored"] > 0
    assert sorted(a["account"] for a in res["accounts"]) == ["acct-000", "acct-001", "acct-002"]
    assert all({"account", "p_value"} <= set(a) for a in res["accounts"])
    assert key.read_text().split()[-1] not in r.out + r.err  # the secret never appears in output
    # fine-tune an existing model (the tiny teacher's own weights, last block only), then the differential test
    # against that base with unwatermarked reference texts
    cli("distill", "harvest", "--teacher", "tiny", "--prompts", p, "--accounts", "3", "--out", tmp_path / "ref.jsonl",
        "--no-watermark", "--max-new-tokens", "24").ok()
    assert cli("distill", "train", "--transcripts", t, "--student", tmp_path / "s", "--train-layers", "1", "--out", tmp_path / "s2",
               "--epochs", "1", "--json").ok().json()["config"]["train_layers"] == 1
    res = cli("trace", "radioactivity", "--suspect", tmp_path / "s2", "--master-key", key, "--transcripts", t, "--scoring",
              "reference", "--reference", tmp_path / "ref.jsonl", "--base", tmp_path / "s", "--json").ok().json()
    assert res["base"] is not None and res["n_texts"] == 12 and 0 <= res["p_value"] <= 1


def test_mark_generate_output_is_read_by_train_trace_and_detect(tmp_path, cli):
    """One record format: what `mark generate` writes, `distill train`, `trace radioactivity` and
    `mark detect` read (train and trace once refused it: "record lacks field(s) prompt_id, answer").
    A fixed key: with a fresh random one, about one run in 15 had the tiny model answer a prompt with
    under 3 tokens, which detect rightly reports as an error for that line (seen 2 in 30)."""
    key = tmp_path / "master.key"
    MasterKey(bytes(range(32))).save(key)
    p, out = tmp_path / "p.jsonl", tmp_path / "answers.jsonl"
    cli("distill", "prompts", "--out", p, "--n", "6").ok()
    cli("mark", "generate", "--master-key", key, "--account", "acct-9", "--prompts", p, "--out", out, "--model", "tiny",
        "--max-new-tokens", "24").ok()
    assert cli("distill", "train", "--transcripts", out, "--student", "tiny", "--out", tmp_path / "s", "--epochs", "1",
               "--json").ok().json()["n_train"] >= 4
    res = cli("trace", "radioactivity", "--suspect", tmp_path / "s", "--master-key", key, "--transcripts", out,
              "--max-new-tokens", "8", "--harvest-account", "acct-9", "--harvest-account", "acct-1", "--json").ok().json()
    assert [a["account"] for a in res["accounts"]] == ["acct-9"]
    # the provider layer and the two named accounts' layers in one test (the default watermark: 16 layers per key)
    comb = res["combined"]
    assert comb["accounts"] == ["acct-9", "acct-1"] and [x["key_id"] for x in comb["layers"]] == ["provider", "account:acct-9", "account:acct-1"]
    assert comb["n_coins"] == 3 * 16 * res["n_scored"] and 0 <= comb["p_value"] <= 1
    assert [x["multiplier"] for x in comb["layers"]] == [2, 1, 1]  # two accounts: the provider layer weighs 2
    cli("trace", "radioactivity", "--suspect", tmp_path / "s", "--master-key", key, "--transcripts", out,
        "--harvest-account", "acct-9", "--harvest-account", "acct-9").user_error("named twice")
    text = cli("trace", "radioactivity", "--suspect", tmp_path / "s", "--master-key", key, "--transcripts", out,
               "--max-new-tokens", "8", "--harvest-account", "acct-9").ok().out
    assert "provider + 1 harvest account layer(s) (acct-9): p = " in text
    assert "judged on the smaller p-value of the two tests times two = " in text  # one verdict for the two tests
    det = [json.loads(x) for x in cli("mark", "detect", "--master-key", key, "--input", out, "--model", "tiny", "--json").ok().out.splitlines()]
    assert len(det) == 6 and all("error" not in d for d in det), det


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["trace", "radioactivity", "--suspect", "tiny", "--master-key", "{tmp}/missing.key"], "master key file not found"),
        (["distill", "train", "--transcripts", "{tmp}/empty.jsonl", "--student", "tiny", "--out", "{tmp}/s"], "holds no records"),
        (["distill", "harvest", "--teacher", "tiny", "--prompts", "{tmp}/empty.jsonl", "--out", "{tmp}/t.jsonl", "--no-watermark"],
         "holds no prompts"),
        (["distill", "harvest", "--teacher", "tiny", "--prompts", "{tmp}/p.jsonl", "--out", "{tmp}/t.jsonl"], "--master-key is required"),
        (["trace", "radioactivity", "--suspect", "tiny", "--master-key", "{tmp}/k", "--setting", "sideways"], "setting must be one of"),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path, cli, argv, message):
    (tmp_path / "empty.jsonl").write_text("")
    (tmp_path / "p.jsonl").write_text('{"prompt": "hi"}\n')
    MasterKey.generate().save(tmp_path / "k")
    cli(*[a.format(tmp=tmp_path) for a in argv]).user_error(message)
