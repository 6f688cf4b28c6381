"""``stillwatch case build``: render the dossier (HTML + JSON twin) and write the evidence bundle.

Bundle layout (``DIR/build/bundle``; every path below is relative to it)::

    statement.dsse.json            in-toto Statement v1 in a DSSE envelope, signed by the case key
    MANIFEST.sha256                "<sha256>  <path>" for every other file (``sha256sum -c`` reads it)
    report.json, report.html       the JSON twin and the dossier
    case.json, case.pub            the case's description and public key (a copy: verify with your own)
    custody.jsonl                  the chain of custody, ending with this build
    evidence/...                   the evidence files as added
    ledger/checkpoint.note         the ledger's signed checkpoint (C2SP signed note)
    ledger/ledger.pub              the ledger's verifier key (also bound by the signed statement)
    ledger/exhibits.zip            the exhibited records and their proofs, one member each (stored, not compressed):
        records/<index>.json       an exhibited record, canonical bytes (its leaf is SHA-256(0x00 || bytes))
        proofs/<index>.tlog-proof  its C2SP tlog-proof against ledger/checkpoint.note

The records and proofs are members of one zip rather than loose files: a case exhibiting 100,000
exchanges would otherwise be 200,000 small files, whose creation alone took minutes on this machine's
disk; any unzip tool gives back the loose files.

Nothing is exported unchecked: the case's custody chain is verified before building, the ledger
against its signed checkpoint while proving, and the finished bundle with :func:`verify_bundle`.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

from . import custody
from .case import Case, default_actor
from .dsse import sign_envelope, statement
from .exhibits import ledger_proofs, records_table, summarise
from .html import render_html
from .twin import build_twin
from .verify import EXHIBITS, MANIFEST, STATEMENT, verify_bundle

__all__ = ["build_case", "SELF_CHECK_PROOFS"]

#: tlog-proofs the builder re-folds in its self-check of the finished bundle (all of them when fewer)
SELF_CHECK_PROOFS = 2000

README = """Stillwatch evidence bundle.

Verify it with only the case's public key (obtained from the case's owner, not from this folder):

    stillwatch case verify <this folder> --public-key case.pub [--ledger-key ledger.pub]

By hand: statement.dsse.json is a DSSE envelope (payloadType application/vnd.in-toto+json) whose
Ed25519 signature covers PAE(type, payload); its in-toto statement gives the SHA-256 of
MANIFEST.sha256, which gives the SHA-256 of every other file (sha256sum -c MANIFEST.sha256).
Unzip ledger/exhibits.zip: each proofs/<i>.tlog-proof is a C2SP tlog-proof (c2sp.org/tlog-proof@v1)
of records/<i>.json (leaf hash SHA-256(0x00 || file bytes)) against the signed checkpoint
ledger/checkpoint.note, verifiable with the ledger key in ledger/ledger.pub, which the signed
statement names.
"""


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write(root: Path, rel: str, data: bytes, digests: dict[str, str]) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    digests[rel] = _sha(data)


def _zip(exhibits: list[tuple[int, bytes]], proofs: dict[int, str]) -> bytes:
    """The records and proofs as one deterministic zip (sorted by index, fixed member dates, stored)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for idx, data in sorted(exhibits):
            for name, body in ((f"records/{idx}.json", data), (f"proofs/{idx}.tlog-proof", proofs[idx].encode())):
                zf.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), body)
    return buf.getvalue()


def _predicate(doc: dict[str, Any], chain: list[bytes], n_records: int) -> dict[str, Any]:
    return {
        "case": {k: doc["case"][k] for k in ("case_id", "title", "built_at", "case_key")},
        "report_schema": f"{doc['schema']}/{doc['schema_version']}",
        "ledger": {k: doc["ledger"][k] for k in ("origin", "key", "tree_size", "root_sha256")},
        "exhibited_records": n_records,
        "custody": {"entries": len(chain), "head": custody.head(chain)},
        "summary": doc["summary"],
        "findings": [{k: m[k] for k in ("id", "finding", "value", "null_hypothesis", "correction", "command")} for m in doc["methods"]],
    }


def build_case(root: Path, *, key_path: Path | None = None, ledger: str | None = None, actor: str | None = None) -> dict[str, Any]:
    """Build ``root``'s dossier and bundle under ``root/build``; returns their paths and the verification summary."""
    case = Case(Path(root))
    key = case.load_key(key_path)
    entries = case.check()
    exhibits = case.exhibits()
    note = case.root / "exhibits" / "checkpoint.note"
    cp, proofs = ledger_proofs(ledger or case.info["ledger"], case.info["ledger_key"], note.read_text() if note.exists() else None, exhibits)
    evidence = case.evidence(entries)
    table = records_table(exhibits)
    flagged = {a["account_id"] for e in evidence if e["kind"] == "guard" for a in e["content"]["accounts"]}
    doc = build_twin(case.info, evidence, table, summarise(table, flagged), cp, entries)
    report = (json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")
    html = render_html(doc).encode("utf-8")

    out = case.root / "build"
    if out.exists():
        shutil.rmtree(out)  # derived output only: rebuilt whole each time
    bundle = out / "bundle"
    bundle.mkdir(parents=True)
    (out / "report.json").write_bytes(report)
    (out / "report.html").write_bytes(html)
    custody.append_entry(case.root / "custody.jsonl", key, actor=actor or default_actor(), action="build",
                         subject="build/report.json", sha256=_sha(report), size=len(report),
                         meta={"kind": "build", "exhibited_records": len(exhibits), "checkpoint_size": cp.size})
    digests: dict[str, str] = {}
    chain_bytes = (case.root / "custody.jsonl").read_bytes()
    for rel, data in (("README.txt", README.encode()), ("report.json", report), ("report.html", html),
                      ("case.json", (case.root / "case.json").read_bytes()), ("case.pub", (case.root / "case.pub").read_bytes()),
                      ("custody.jsonl", chain_bytes), ("ledger/checkpoint.note", cp.text.encode()),
                      ("ledger/ledger.pub", (case.info["ledger_key"] + "\n").encode())):
        _write(bundle, rel, data, digests)
    for e in evidence:
        _write(bundle, e["path"], (case.root / e["path"]).read_bytes(), digests)
    _write(bundle, EXHIBITS, _zip(exhibits, proofs), digests)
    manifest = "".join(f"{digests[p]}  {p}\n" for p in sorted(digests)).encode()
    (bundle / MANIFEST).write_bytes(manifest)
    subjects = {MANIFEST: _sha(manifest), "report.json": digests["report.json"], "report.html": digests["report.html"],
                "ledger/checkpoint.note": digests["ledger/checkpoint.note"]}
    chain = custody.read_chain(case.root / "custody.jsonl")
    (bundle / STATEMENT).write_bytes(sign_envelope(statement(subjects, _predicate(doc, chain, len(exhibits))), key))
    # every proof was derived from a tree whose root matched the signed checkpoint, over leaf hashes
    # recomputed from the exhibited bytes; the self-check folds a sample of them and checks all else
    checked = verify_bundle(bundle, key.verifier, proof_sample=SELF_CHECK_PROOFS)
    return {"report_html": str(out / "report.html"), "report_json": str(out / "report.json"), "bundle": str(bundle),
            "verified": checked}
