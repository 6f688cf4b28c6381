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
4. each record's C2SP tlog-proof (both members of ``ledger/exhibits.zip``) must fold its leaf hash to the root of the checkpoint, whose
   signature must verify with the ledger key the statement names;
5. the chain of custody must verify with the case key, end in this build, and match the evidence.

Checks that explain *what* is wrong (a proof, a signature) run before the digest checks that would
catch the same change less specifically.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import zipfile
from pathlib import Path
from typing import Any

from stillwatch.errors import VerificationError
from stillwatch.ledger import Checkpoint, Verifier

from . import custody, tlogproof
from .dsse import open_envelope
from .errors import BundleError
from .keys import load_public_key

__all__ = ["verify_bundle", "MANIFEST", "STATEMENT", "EXHIBITS"]

MANIFEST = "MANIFEST.sha256"
STATEMENT = "statement.dsse.json"
EXHIBITS = "ledger/exhibits.zip"
_LINE = re.compile(r"^([0-9a-f]{64})  ([A-Za-z0-9._/-]+)$")
_RECORD = re.compile(r"^records/(0|[1-9][0-9]*)\.json$")


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


def _records(root: Path, ledger_key: Verifier, cp: Checkpoint, sample: int | None = None) -> list[int]:
    """Check every record of ``ledger/exhibits.zip`` against its proof and the (verified) checkpoint
    (with ``sample``: the member list of all, the proofs of a seeded sample of that many)."""
    try:
        zf = zipfile.ZipFile(root / EXHIBITS)
    except FileNotFoundError:
        raise BundleError(EXHIBITS, "is missing") from None
    except Exception as exc:  # noqa: BLE001 - untrusted bytes: zipfile fails in many ways on an altered archive
        raise BundleError(EXHIBITS, f"is not a readable zip ({type(exc).__name__}: {exc})") from None
    with zf:
        names = zf.namelist()
        if any(i.flag_bits & 0x1 or i.compress_type != zipfile.ZIP_STORED for i in zf.infolist()):
            raise BundleError(EXHIBITS, "holds an encrypted or compressed member (the bundle writes them stored)")
        if len(names) != len(set(names)):
            raise BundleError(EXHIBITS, "holds a member name twice")
        records = {int(m.group(1)) for m in map(_RECORD.match, names) if m}
        if sorted(names) != sorted([f"records/{i}.json" for i in records] + [f"proofs/{i}.tlog-proof" for i in records]):
            raise BundleError(EXHIBITS, "holds members other than one records/<i>.json and one proofs/<i>.tlog-proof per record")
        chosen = sorted(records)
        if sample is not None and len(chosen) > sample:
            chosen = sorted(random.Random(0).sample(chosen, sample))
        for idx in chosen:
            rel, prel = f"{EXHIBITS}:records/{idx}.json", f"{EXHIBITS}:proofs/{idx}.tlog-proof"
            try:
                data = zf.read(f"records/{idx}.json")
                proof_text = zf.read(f"proofs/{idx}.tlog-proof").decode("utf-8")
            except Exception as exc:  # noqa: BLE001 - altered headers make zipfile raise BadZipFile, RuntimeError, zlib.error, ...
                raise BundleError(f"{rel} / {prel}", f"cannot be read ({type(exc).__name__}: {exc})") from None
            try:
                proof, _ = tlogproof.verify(proof_text, data, ledger_key, cp.origin, checked=cp)
            except VerificationError as exc:
                raise BundleError(f"{rel} / {prel}", f"the record is not proven by its tlog-proof: {exc}") from None
            if proof.index != idx:
                raise BundleError(prel, f"proves index {proof.index}, not {idx}")
            if proof.checkpoint != cp.text:
                raise BundleError(prel, "proves against another checkpoint than ledger/checkpoint.note")
            try:
                env = json.loads(data)
            except (UnicodeDecodeError, json.JSONDecodeError):
                raise BundleError(rel, "is not JSON") from None
            if not isinstance(env, dict) or env.get("seq") != idx:
                raise BundleError(rel, f"is not the ledger record with seq {idx}")
    return sorted(records)


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


def verify_bundle(root: Path, public_key: Verifier | str | Path, *, ledger_key: Verifier | str | Path | None = None,
                  proof_sample: int | None = None) -> dict[str, Any]:
    """Verify the bundle at ``root`` with the case's public key; return a summary or raise BundleError.

    ``proof_sample``: fold only a seeded sample of that many tlog-proofs (everything else is checked in
    full). Only the builder uses it, on proofs it has just derived from a tree whose root it checked
    against the signed checkpoint; `case verify` always folds every proof."""
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
    note = _read(root, "ledger/checkpoint.note")
    checkpoint = note.decode("utf-8", errors="replace")
    try:
        cp = lkey.verify(checkpoint, origin=pred["ledger"]["origin"])
    except VerificationError as exc:
        raise BundleError("ledger/checkpoint.note", f"its signature does not verify with the ledger key: {exc}") from None
    if cp.size != pred["ledger"]["tree_size"] or cp.root.hex() != pred["ledger"]["root_sha256"]:
        raise BundleError("ledger/checkpoint.note", "is not the checkpoint the signed statement names")
    if subjects.get("ledger/checkpoint.note") != _sha(note):  # also catches a re-spelling that still verifies
        raise BundleError("ledger/checkpoint.note", "its SHA-256 is not the one the signed statement gives")
    mdata = _read(root, MANIFEST)
    if subjects.get(MANIFEST) != _sha(mdata):
        raise BundleError(MANIFEST, "its SHA-256 is not the one the signed statement gives")
    manifest = _manifest(mdata)
    indices = _records(root, lkey, cp, proof_sample)
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
    folded = len(indices) if proof_sample is None else min(proof_sample, len(indices))
    return {"ok": True, "case_id": pred["case"]["case_id"], "title": pred["case"]["title"], "records_proven": len(indices),
            "proofs_folded": folded, "tree_size": cp.size, "ledger_origin": cp.origin, "custody_entries": len(entries), "files_checked": len(manifest) + 2,
            "findings": len(pred["findings"])}
