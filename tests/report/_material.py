"""Demo-like material for a case, built through the real commands (kept small and fast: the tiny model).

A simulated API log (guard's simulator) is recorded in a ledger as exchanges with their request
metadata, with a terms acceptance per account and an investment record; ``guard scan`` reads the
ledger; watermarked answers of the tiny model for a flagged account are "leaked" and tested with
``mark detect``; a tiny student trained on a watermarked harvest is tested with ``trace
radioactivity`` (suspect), with the untrained model as control, and with a key never deployed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

from stillwatch.ledger import Exchange, Investment, Ledger, ToSAcceptance
from stillwatch.mark import MasterKey

TERMS = "Example API terms v3: outputs may not be used to train competing models."


def make_ledger(path: Path, n_exchanges: int = 10000) -> dict:
    from stillwatch.guard_sim.simulate import simulate

    log, _labels = simulate("mixed", n_exchanges, 0)
    rows = log.to_pylist()
    accounts = sorted({r["account_id"] for r in rows})
    first = min(r["ts"] for r in rows) - dt.timedelta(days=3)
    terms_sha = hashlib.sha256(TERMS.encode()).hexdigest()
    with Ledger.create(path, origin="example.com/evidence") as led:
        led.append_many([ToSAcceptance(account=a, terms_version="v3", terms_sha256=terms_sha, ts=first.isoformat(),
                                       source_address=f"198.51.100.{1 + n % 250}") for n, a in enumerate(accounts)])
        led.append_many([Exchange(account=r["account_id"], api_key_id=r["api_key_id"], ts=r["ts"].isoformat(), model=r["model"],
                                  spec_fingerprint="kgw-demo", prompt=r["prompt"], response=r["response"], request_id=r["request_id"],
                                  ip=r["ip"], user_agent=r["user_agent"], payment_fingerprint=r["payment_fingerprint"],
                                  prompt_tokens=r["prompt_tokens"], completion_tokens=r["completion_tokens"]) for r in rows])
        led.append(Investment(model_id="nova-1", compute_hours="120000", cost="2400000", currency="USD",
                              dataset_digests=[hashlib.sha256(b"nova-sft-v1").hexdigest()], notes="pre-training and SFT",
                              ts=first.isoformat()))
        led.checkpoint()
    return {"accounts": accounts}


def make_material(tmp: Path, cli) -> dict:
    """Every evidence file a case needs, built with ``cli`` (the conftest fixture); returns their paths
    and the secrets used (for the leak scan)."""
    tmp.mkdir(parents=True, exist_ok=True)
    ledger = tmp / "evidence.db"
    make_ledger(ledger)
    findings = tmp / "findings.json"
    cli("guard", "scan", "--input", ledger, "--out", findings).ok()
    flagged = [a["account_id"] for a in json.loads(findings.read_text())["accounts"]]
    assert flagged, "the scan must flag the simulated campaign"
    master, other = tmp / "master.key", tmp / "never-deployed.key"
    MasterKey.generate().save(master)
    MasterKey.generate().save(other)
    leaker = flagged[0]
    prompts = tmp / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": f"Explain topic number {i} in detail."}) + "\n" for i in range(4)))
    cli("mark", "generate", "--master-key", master, "--account", leaker, "--prompts", prompts, "--out", tmp / "leaked_wm.jsonl",
        "--model", "tiny", "--max-new-tokens", "160", "--seed", "1").ok()
    cli("mark", "generate", "--master-key", master, "--account", leaker, "--prompts", prompts, "--out", tmp / "leaked_plain.jsonl",
        "--model", "tiny", "--max-new-tokens", "160", "--no-watermark", "--seed", "2").ok()
    leaked = tmp / "leaked.jsonl"
    leaked.write_text((tmp / "leaked_wm.jsonl").read_text() + (tmp / "leaked_plain.jsonl").read_text())
    cands = tmp / "candidates.txt"
    cands.write_text("\n".join(sorted(set(flagged[:30]) | {leaker})) + "\n")
    detections = tmp / "detections.jsonl"
    detections.write_text(cli("mark", "detect", "--master-key", master, "--input", leaked, "--accounts", cands, "--model", "tiny",
                                "--json").ok().out)
    dp = tmp / "p.jsonl"
    cli("distill", "prompts", "--out", dp, "--n", "12").ok()
    cli("distill", "harvest", "--teacher", "tiny", "--prompts", dp, "--accounts", "3", "--out", tmp / "t.jsonl",
        "--master-key", master, "--max-new-tokens", "48").ok()
    cli("distill", "train", "--transcripts", tmp / "t.jsonl", "--student", "tiny", "--out", tmp / "student", "--epochs", "2").ok()
    traces = {}
    for role, suspect, key in (("suspect", tmp / "student", master), ("control", "tiny", master), ("wrong-key", tmp / "student", other)):
        out = cli("trace", "radioactivity", "--suspect", suspect, "--master-key", key, "--transcripts", tmp / "t.jsonl",
                  "--max-new-tokens", "16", "--json").ok().out
        traces[role] = tmp / f"trace-{role}.json"
        traces[role].write_text(out.strip().splitlines()[-1])
    secrets = [MasterKey.load(master), MasterKey.load(other)]
    return {"ledger": ledger, "findings": findings, "detections": detections, "traces": traces, "master": master,
            "secret_keys": secrets, "flagged": flagged, "leaker": leaker}
