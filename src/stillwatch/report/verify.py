"""``stillwatch case verify BUNDLE --public-key K``: check an evidence bundle offline.

Attacker model: the other side may alter, add, remove or swap any file of the bundle (records,
proofs, the checkpoint, the statement, the report, the manifest, the chain of custody, the evidence
files, and the public keys shipped inside it). The verifier holds only the case's public key (and,
optionally, the ledger's). What must hold: every alteration makes :func:`verify_bundle` raise a
:class:`BundleError` whose ``part`` names the file or check that failed — because

1. the DSSE envelope must verify with the given key and be byte-for-byte canonical;
2. its in-toto statement fixes the SHA-256 of ``MANIFEST.sha256``, the report and the checkpoint,
   and names the ledger key, tree size and root, the number of exhibited records and the custody head;
3. the manifest fixes the SHA-256 of every other file, and no file may be missing or unlisted;
4. each record's C2SP tlog-proof must fold its leaf hash to the root of the checkpoint, whose
   signature must verify with the ledger key the statement names;
5. the chain of custody must verify with the case key, end in this build, and match the evidence.

Checks that explain *what* is wrong (a proof, a signature) run before the digest checks that would
catch the same change less specifically.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from stillwatch.errors import VerificationError
from stillwatch.ledger import Verifier

from . import custody, tlogproof
from .dsse import open_envelope
from .errors import BundleError
from .keys import load_public_key

__all__ = ["verify_bundle", "MANIFEST", "STATEMENT"]

MANIFEST = "MANIFEST.sha256"
STATEMENT = "statement.dsse.json"
_LINE = re.compile(r"^([0-9a-f]{64})  ([A-Za-z0-9._/-]+)$")
_RECORD = re.compile(r"^ledger/records/(0|[1-9][0-9]*)\.json$")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _files(root: Path) -> set[str]:
    out = set()
    for dirpath, _dirs, names in os.walk(root):
        for n in names:
            out.add((Path(dirpath) / n).relative_to(root).as_posix())
    return out


def _manifest(data: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise BundleError(MANIFEST, "is not ASCII text") from None
    if not text.endswith("\n"):
        raise BundleError(MANIFEST, "does not end with a newline")
    for n, line in enumerate(text[:-1].split("\n"), start=1):
        m = _LINE.match(line)
        if not m or ".." in m.group(2).split("/"):
            raise BundleError(f"{MANIFEST} line {n}", "is not '<sha256>  <relative path>'")
        out[m.group(2)] = m.group(1)
    if list(out) != sorted(out):
        raise BundleError(MANIFEST, "is not sorted by path")
    return out


def _read(root: Path, rel: str) -> bytes:
    p = root / rel
    if not p.is_file():
        raise BundleError(rel, "is missing")
    return p.read_bytes()


def _records(root: Path, manifest: dict[str, str], ledger_key: Verifier, origin: str, checkpoint: str) -> list[int]:
    indices = []
    for rel in manifest:
        m = _RECORD.match(rel)
        if not m:
            continue
        idx = int(m.group(1))
        data = _read(root, rel)
        prel = f"ledger/proofs/{idx}.tlog-proof"
        try:
            proof_text = _read(root, prel).decode("utf-8")
        except UnicodeDecodeError:
            raise BundleError(prel, "is not UTF-8 text") from None
        try:
            proof, _ = tlogproof.verify(proof_text, data, ledger_key, origin)
        except VerificationError as exc:
            raise BundleError(f"{rel} / {prel}", f"the record is not proven by its tlog-proof: {exc}") from None
        if proof.index != idx:
            raise BundleError(prel, f"proves index {proof.index}, not {idx}")
        if proof.checkpoint != checkpoint:
            raise BundleError(prel, "proves against another checkpoint than ledger/checkpoint.note")
        try:
            env = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise BundleError(rel, "is not JSON") from None
        if not isinstance(env, dict) or env.get("seq") != idx:
            raise BundleError(rel, f"is not the ledger record with seq {idx}")
        indices.append(idx)
    proofs = {r for r in manifest if r.startswith("ledger/proofs/")}
    if len(proofs) != len(indices):
        raise BundleError("ledger/proofs", f"{len(proofs)} proofs for {len(indices)} records")
    return sorted(indices)


def _custody(root: Path, key: Verifier, pred: dict[str, Any], report_sha: str) -> list[dict[str, Any]]:
    data = _read(root, "custody.jsonl")
    entries = custody.verify_chain(data, key)
    chain = custody.read_chain(root / "custody.jsonl")
    if len(entries) != pred["custody"]["entries"] or custody.head(chain) != pred["custody"]["head"]:
        raise BundleError("custody.jsonl", "is not the chain of custody the signed statement names (lines added or removed)")
    if not entries or entries[-1]["action"] != "build" or entries[-1]["sha256"] != report_sha:
        raise BundleError("custody.jsonl", "does not end with the build of this report.json")
    for e in entries:
        if e["action"].startswith("add-"):
            if _sha(_read(root, e["subject"])) != e["sha256"]:
                raise BundleError(e["subject"], "its SHA-256 is not the one in the chain of custody")
    return entries


def verify_bundle(root: Path, public_key: Verifier | str | Path, *, ledger_key: Verifier | str | Path | None = None) -> dict[str, Any]:
    """Verify the bundle at ``root`` with the case's public key; return a summary or raise BundleError."""
    root = Path(root)
    if not root.is_dir():
        raise BundleError(str(root), "is not a bundle folder")
    key = public_key if isinstance(public_key, Verifier) else load_public_key(public_key)
    stmt = open_envelope(_read(root, STATEMENT), key)
    pred = stmt["predicate"]
    subjects = {s["name"]: s["digest"]["sha256"] for s in stmt["subject"]}
    try:
        lkey = Verifier.from_string(pred["ledger"]["key"])
    except (KeyError, TypeError, VerificationError, ValueError) as exc:
        raise BundleError(STATEMENT, f"names no valid ledger key ({exc})") from None
    if ledger_key is not None:
        want = ledger_key if isinstance(ledger_key, Verifier) else load_public_key(ledger_key)
        if want.to_string() != lkey.to_string():
            raise BundleError(STATEMENT, "names another ledger key than the one given with --ledger-key")
    checkpoint = _read(root, "ledger/checkpoint.note").decode("utf-8", errors="replace")
    try:
        cp = lkey.verify(checkpoint, origin=pred["ledger"]["origin"])
    except VerificationError as exc:
        raise BundleError("ledger/checkpoint.note", f"its signature does not verify with the ledger key: {exc}") from None
    if cp.size != pred["ledger"]["tree_size"] or cp.root.hex() != pred["ledger"]["root_sha256"]:
        raise BundleError("ledger/checkpoint.note", "is not the checkpoint the signed statement names")
    mdata = _read(root, MANIFEST)
    if subjects.get(MANIFEST) != _sha(mdata):
        raise BundleError(MANIFEST, "its SHA-256 is not the one the signed statement gives")
    manifest = _manifest(mdata)
    indices = _records(root, manifest, lkey, cp.origin, checkpoint)
    if len(indices) != pred["exhibited_records"]:
        raise BundleError("ledger/records", f"{len(indices)} records, the signed statement says {pred['exhibited_records']}")
    for name, digest in subjects.items():
        if _sha(_read(root, name)) != digest:
            raise BundleError(name, "its SHA-256 is not the one the signed statement gives")
    for rel, digest in manifest.items():
        if _sha(_read(root, rel)) != digest:
            raise BundleError(rel, "its SHA-256 is not the one in the signed manifest")
    extra = _files(root) - set(manifest) - {MANIFEST, STATEMENT}
    if extra:
        raise BundleError(sorted(extra)[0], "is not listed in the signed manifest")
    entries = _custody(root, key, pred, subjects["report.json"])
    try:
        report = json.loads(_read(root, "report.json"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BundleError("report.json", "is not JSON") from None
    if report.get("ledger", {}).get("checkpoint") != checkpoint or report.get("case", {}).get("case_key") != key.to_string():
        raise BundleError("report.json", "names another checkpoint or case key than the bundle's")
    return {"ok": True, "case_id": pred["case"]["case_id"], "title": pred["case"]["title"], "records_proven": len(indices),
            "tree_size": cp.size, "ledger_origin": cp.origin, "custody_entries": len(entries), "files_checked": len(manifest) + 2,
            "findings": len(pred["findings"])}
