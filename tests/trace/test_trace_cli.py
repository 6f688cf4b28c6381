"""The distill -> trace command chain through the real CLI entry point, and its error contract."""

from __future__ import annotations

import json

import pytest

from stillwatch.cli.main import main
from stillwatch.mark import MasterKey


def _run(argv, capsys):
    code = 0
    try:
        main(argv)
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def test_prompts_harvest_train_trace_chain(tmp_path, capsys):
    key = tmp_path / "master.key"
    MasterKey.generate().save(key)
    code, out, _ = _run(["distill", "prompts", "--out", str(tmp_path / "p.jsonl"), "--n", "12"], capsys)
    assert code == 0 and "wrote 12 prompts" in out
    code, out, err = _run(["distill", "harvest", "--teacher", "tiny", "--prompts", str(tmp_path / "p.jsonl"), "--accounts", "3",
                           "--out", str(tmp_path / "t.jsonl"), "--master-key", str(key), "--max-new-tokens", "24", "--json"], capsys)
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["n_written"] == 12 and summary["watermark"] == "local"
    # a second run resumes: nothing left to do
    code, out, _ = _run(["distill", "harvest", "--teacher", "tiny", "--prompts", str(tmp_path / "p.jsonl"), "--accounts", "3",
                         "--out", str(tmp_path / "t.jsonl"), "--master-key", str(key), "--max-new-tokens", "24", "--json"], capsys)
    assert json.loads(out.strip().splitlines()[-1])["n_skipped"] == 12
    code, out, err = _run(["distill", "train", "--transcripts", str(tmp_path / "t.jsonl"), "--student", "tiny",
                           "--out", str(tmp_path / "s"), "--epochs", "1", "--json"], capsys)
    assert code == 0, err
    assert json.loads(out.strip().splitlines()[-1])["n_train"] == 11
    code, out, err = _run(["trace", "radioactivity", "--suspect", str(tmp_path / "s"), "--master-key", str(key),
                           "--transcripts", str(tmp_path / "t.jsonl"), "--max-new-tokens", "16", "--json",
                           "--plot", str(tmp_path / "curve.png")], capsys)
    assert code == 0, err
    assert (tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG"
    res = json.loads(out.strip().splitlines()[-1])
    assert res["setting"] == "open" and 0 <= res["p_value"] <= 1 and res["n_scored"] > 0
    assert sorted(a["account"] for a in res["accounts"]) == ["acct-000", "acct-001", "acct-002"]
    assert all({"account", "p_value"} <= set(a) for a in res["accounts"])
    assert key.read_text().split()[-1] not in out  # the secret never appears in output
    # fine-tune an existing model (the tiny teacher's own weights, last block only), then the differential test
    # against that base with unwatermarked reference texts
    code, out, err = _run(["distill", "harvest", "--teacher", "tiny", "--prompts", str(tmp_path / "p.jsonl"), "--accounts", "3",
                           "--out", str(tmp_path / "ref.jsonl"), "--no-watermark", "--max-new-tokens", "24"], capsys)
    assert code == 0, err
    code, out, err = _run(["distill", "train", "--transcripts", str(tmp_path / "t.jsonl"), "--student", str(tmp_path / "s"),
                           "--train-layers", "1", "--out", str(tmp_path / "s2"), "--epochs", "1", "--json"], capsys)
    assert code == 0, err
    assert json.loads(out.strip().splitlines()[-1])["config"]["train_layers"] == 1
    code, out, err = _run(["trace", "radioactivity", "--suspect", str(tmp_path / "s2"), "--master-key", str(key),
                           "--transcripts", str(tmp_path / "t.jsonl"), "--scoring", "reference", "--reference",
                           str(tmp_path / "ref.jsonl"), "--base", str(tmp_path / "s"), "--json"], capsys)
    assert code == 0, err
    res = json.loads(out.strip().splitlines()[-1])
    assert res["base"] is not None and res["n_texts"] == 12 and 0 <= res["p_value"] <= 1


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
def test_bad_input_is_one_line_exit_2(tmp_path, capsys, argv, message):
    (tmp_path / "empty.jsonl").write_text("")
    (tmp_path / "p.jsonl").write_text('{"prompt": "hi"}\n')
    MasterKey.generate().save(tmp_path / "k")
    code, _, err = _run([a.format(tmp=tmp_path) for a in argv], capsys)
    assert code == 2
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
