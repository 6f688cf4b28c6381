"""`stillwatch ledger ...` end to end through the real CLI entry point, plus the demo step."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time

import pytest

from stillwatch.ledger import merkle as M


def run(cli, *args: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `stillwatch ARGS`, through the suite's one CLI fixture."""
    r = cli(*args)
    return r.code, r.out, r.err


def _records(n: int, start: int = 0) -> str:
    lines = []
    for i in range(start, start + n):
        lines.append(json.dumps({"type": "exchange", "account": f"acct-{i % 3}", "api_key_id": f"kid-{i % 3}",
                                 "ts": "2026-04-01T09:00:00Z", "model": "m", "spec_fingerprint": "kgw",
                                 "prompt": f"p{i}", "response": f"r{i}"}))
    lines.append(json.dumps({"type": "tos_acceptance", "account": "acct-1", "terms_version": "v2",
                             "terms_sha256": hashlib.sha256(b"terms").hexdigest(), "ts": "2026-03-31T00:00:00Z",
                             "source_address": "198.51.100.7"}))
    return "\n".join(lines) + "\n"


def test_cli_full_workflow(tmp_path, cli):
    db = str(tmp_path / "ev.db")
    recs = tmp_path / "recs.jsonl"
    recs.write_text(_records(9))
    assert run(cli, "ledger", "init", db, "--origin", "example.com/evidence")[0] == 0
    code, out, _ = run(cli, "ledger", "append", db, str(recs), "--json")
    assert code == 0 and json.loads(out) == {"indices": list(range(10)), "size": 10}
    cp1 = tmp_path / "cp1.txt"
    code, out, _ = run(cli, "ledger", "checkpoint", db, "-o", str(cp1), "--json")
    assert code == 0
    payload = json.loads(out)
    data = [r[0] for r in sqlite3.connect(db).execute("SELECT data FROM leaves ORDER BY idx")]
    assert payload["size"] == 10 and payload["root"] == M.root(data).hex()
    assert cp1.read_text().startswith("example.com/evidence\n10\n")

    recs.write_text(_records(5, start=100))
    assert run(cli, "ledger", "append", db, str(recs))[0] == 0
    code, out, _ = run(cli, "ledger", "verify", db, "--since", str(cp1), "--json")
    rep = json.loads(out)
    assert code == 0 and rep["ok"] and rep["size"] == 16 and rep["unsigned_tail"] == 6

    code, out, _ = run(cli, "ledger", "prove", db, "4", "--json")
    p = json.loads(out)
    assert code == 0 and p["tree_size"] == 10 and p["verified"]  # defaults to the latest checkpoint
    M.verify_inclusion(M.leaf_hash(data[4]), 4, 10, [bytes.fromhex(h) for h in p["proof"]], M.root(data))

    code, out, _ = run(cli, "ledger", "consistency", db, "10", "--json")
    c = json.loads(out)
    assert code == 0 and c["new_size"] == 16
    M.verify_consistency(10, 16, bytes.fromhex(c["old_root"]), bytes.fromhex(c["new_root"]),
                         [bytes.fromhex(h) for h in c["proof"]])

    bundle = tmp_path / "bundle.json"
    code, out, _ = run(cli, "ledger", "export", db, "-o", str(bundle), "--actor", "counsel@example.com",
                       "--account", "acct-1", "--since", str(cp1))
    assert code == 0
    b = json.loads(bundle.read_text())
    idx = [r["index"] for r in b["records"]]
    assert idx[:-1] == [1, 4, 7, 9, 10, 13, 15] and idx[-1] == 16  # acct-1 records + the custody record
    assert '"actor":"counsel@example.com"' in b["records"][-1]["data"]
    code, out, _ = run(cli, "ledger", "check-bundle", str(bundle), "--pubkey", db + ".pub", "--json")
    s = json.loads(out)
    assert code == 0 and s["records_checked"] == 8 and s["consistent_with_size"] == 10
    assert s["key"] == "trusted key given"

    # a bundle edited after export is rejected, naming the record
    b["records"][2]["data"] = b["records"][2]["data"].replace("p7", "p8")
    bundle.write_text(json.dumps(b))
    code, _, err = run(cli, "ledger", "check-bundle", str(bundle))
    assert code == 2 and "record 7: its data does not match its leaf hash" in err

    # tampering with the database makes `verify` fail with exit code 2 and say where
    con = sqlite3.connect(db)
    con.execute("UPDATE leaves SET data = replace(data, 'p3', 'p4') WHERE idx = 3")
    con.commit()
    con.close()
    code, _, err = run(cli, "ledger", "verify", db)
    assert code == 2
    assert "record 3: its data does not match its stored leaf hash" in err
    assert "Traceback" not in err


def test_cli_user_errors_are_one_line(tmp_path, cli):
    db = str(tmp_path / "e.db")
    code, _, err = run(cli, "ledger", "verify", db)
    assert code == 2 and "does not exist" in err and len(err.strip().splitlines()) == 1
    assert run(cli, "ledger", "init", db)[0] == 0
    code, _, err = run(cli, "ledger", "init", db)
    assert code == 2 and "already exists" in err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type": "investment", "model_id": "m", "compute_hours": 1.5, "cost": "abc"}\n')
    code, _, err = run(cli, "ledger", "append", db, str(bad))
    assert code == 2 and "cost 'abc' is not a decimal number" in err
    bad.write_text("not json\n")
    code, _, err = run(cli, "ledger", "append", db, str(bad))
    assert code == 2 and "line 1 is not JSON" in err
    code, _, err = run(cli, "ledger", "prove", db, "0")
    assert code == 2 and "out of range" in err


def test_demo_step_records_everything_and_verifies(tmp_path):
    from stillwatch.ledger.demo import demo_step

    exchanges = [dict(account=f"acct-{i % 3}", api_key_id=f"kid-{i % 3}", ts=f"2026-03-01T12:00:{i % 60:02d}",
                      model="smollm2", spec_fingerprint="kgw:h=1", prompt=f"q{i}", response="a" * 50)
                 for i in range(120)]
    t0 = time.perf_counter()
    out = demo_step(tmp_path / "demo", exchanges, ["acct-0", "acct-1", "acct-2"], "smollm2")
    assert time.perf_counter() - t0 < 2.0
    assert json.loads(json.dumps(out)) == out  # JSON-safe
    assert out["size"] == 120 + 3 + 1 and out["exchanges"] == 120 and out["tos_acceptances"] == 3
    assert out["proof_verified"] is True and out["ledger_verified"] is True
    data = [r[0] for r in sqlite3.connect(out["ledger"]).execute("SELECT data FROM leaves ORDER BY idx")]
    assert out["root"] == M.root(data).hex()
    assert out["checkpoint"].split("\n")[1] == "124"
    kinds = [json.loads(d)["type"] for d in data]
    assert kinds.count("tos_acceptance") == 3 and kinds.count("investment") == 1


@pytest.mark.parametrize("content", ["full", "digest"])
def test_cli_init_exchange_content(tmp_path, cli, content):
    db = str(tmp_path / f"{content}.db")
    assert run(cli, "ledger", "init", db, "--exchange-content", content)[0] == 0
    f = tmp_path / "r.jsonl"
    f.write_text(_records(1))
    assert run(cli, "ledger", "append", db, str(f))[0] == 0
    (data,) = sqlite3.connect(db).execute("SELECT data FROM leaves WHERE idx = 0").fetchone()
    assert (b'"prompt":"p0"' in data) == (content == "full")
    assert (hashlib.sha256(b"p0").hexdigest().encode() in data) == (content == "digest")
