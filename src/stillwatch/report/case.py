"""A case folder: evidence added one file at a time, each addition signed into a chain of custody.

Layout (``stillwatch case init DIR``)::

    DIR/case.json                 format, id, title, the ledger it draws on and that ledger's public key
    DIR/case.pub                  the case's public key (signs custody and findings)
    DIR/custody.jsonl             chain of custody (see :mod:`.custody`)
    DIR/evidence/NNN-<kind>.<ext> each evidence file, byte for byte as added
    DIR/exhibits/records.jsonl    exhibited ledger records: {"index": i, "data": canonical leaf JSON}
    DIR/exhibits/checkpoint.note  the ledger checkpoint signed when records were last exhibited
    DIR.key                       the case's PRIVATE key, mode 0600 — beside the folder, never in it

Attacker model: whoever holds the folder may alter any file in it. What must hold: :meth:`Case.check`
(run by every build) fails naming the file when an evidence file, the exhibits or the custody chain
no longer match what the case key signed; the case key itself never enters the folder.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import secrets
import socket
from pathlib import Path
from typing import Any

from stillwatch.ledger import Custody, Ledger

from . import custody
from .errors import BundleError, CaseError
from .evidence import KINDS, TRACE_ROLES, parse_evidence
from .keys import CaseKey, load_public_key

__all__ = ["CASE_FORMAT", "Case", "default_actor", "default_key_path"]

CASE_FORMAT = "stillwatch-case/1"
#: record kinds exhibited for a named account (its exchanges and its terms acceptances)
ACCOUNT_KINDS = ("exchange", "tos_acceptance", "policy")


def default_actor() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def default_key_path(root: Path) -> Path:
    root = Path(root).resolve()
    return root.with_name(root.name + ".key")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


class Case:
    """An existing case folder (see the module docstring). Reading it never modifies it."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        meta = self.root / "case.json"
        if not meta.is_file():
            raise CaseError(f"{self.root} is not a case folder (no case.json); create one with `stillwatch case init`")
        try:
            self.info: dict[str, Any] = json.loads(meta.read_text())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CaseError(f"{meta} is not JSON ({exc})") from exc
        if self.info.get("format") != CASE_FORMAT:
            raise CaseError(f"{meta} is not a {CASE_FORMAT} case")
        self.public_key = load_public_key(self.info["case_key"])

    # ------------------------------------------------------------------ creation

    @classmethod
    def init(cls, root: Path, *, title: str, ledger: str, key_path: Path | None = None, actor: str | None = None) -> Case:
        """Create ``root`` (absent or empty), its case key (private half at ``key_path``, outside ``root``)."""
        root = Path(root)
        if root.exists() and any(root.iterdir()):
            raise CaseError(f"{root} exists and is not empty; a case needs a new folder")
        if not title.strip():
            raise CaseError("--title must not be empty")
        key_path = Path(key_path) if key_path else default_key_path(root)
        if key_path.resolve().is_relative_to(root.resolve()):
            raise CaseError(f"the case key {key_path} must not lie inside the case folder {root}")
        with Ledger.open(ledger) as led:
            origin, ledger_key = led.origin, led.verifier.to_string()
        case_id = "case-" + secrets.token_hex(6)
        key = CaseKey.generate(f"stillwatch-{case_id}")
        key.save(key_path)
        root.mkdir(parents=True, exist_ok=True)
        (root / "evidence").mkdir()
        (root / "exhibits").mkdir()
        info = {
            "format": CASE_FORMAT, "case_id": case_id, "title": title.strip(),
            "created": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "ledger": str(ledger), "ledger_origin": origin, "ledger_key": ledger_key, "case_key": key.public_string(),
        }
        data = (json.dumps(info, indent=2, sort_keys=True) + "\n").encode()
        (root / "case.json").write_bytes(data)
        (root / "case.pub").write_text(key.public_string() + "\n")
        custody.append_entry(root / "custody.jsonl", key, actor=actor or default_actor(), action="init",
                             subject="case.json", sha256=_sha(data), size=len(data), meta={"title": info["title"]})
        return cls(root)

    def load_key(self, key_path: Path | None = None) -> CaseKey:
        key = CaseKey.load(Path(key_path) if key_path else default_key_path(self.root))
        if key.public_string() != self.info["case_key"]:
            raise CaseError(f"the key in {key_path or default_key_path(self.root)} is not this case's key")
        return key

    # ------------------------------------------------------------------ adding evidence

    def add_evidence(self, kind: str, src: Path, *, key: CaseKey, actor: str | None = None, role: str | None = None,
                     command: str | None = None) -> dict[str, Any]:
        """Copy ``src`` into the case after validating it as ``kind``; record who/when/what digest."""
        src = Path(src)
        if not src.is_file():
            raise CaseError(f"evidence file {src} does not exist")
        if kind == "trace":
            role = role or "suspect"
            if role not in TRACE_ROLES:
                raise CaseError(f"--role {role!r} must be one of {', '.join(TRACE_ROLES)}")
        elif role is not None:
            raise CaseError(f"--role applies to trace results only, not {kind}")
        data = src.read_bytes()
        parse_evidence(kind, data, src.name)
        n = len(list((self.root / "evidence").iterdir()))
        ext = "jsonl" if kind == "mark" else "json"
        dest = self.root / "evidence" / f"{n:03d}-{kind}{'-' + role if role else ''}.{ext}"
        dest.write_bytes(data)
        meta = {"kind": kind, "source": src.name, "command": command or ""}
        if role:
            meta["role"] = role
        return custody.append_entry(self.root / "custody.jsonl", key, actor=actor or default_actor(), action=f"add-{kind}",
                                    subject=_rel(self.root, dest), sha256=_sha(data), size=len(data), meta=meta)

    def exhibit(self, *, key: CaseKey, actor: str | None = None, accounts: tuple[str, ...] = (), kinds: tuple[str, ...] = (),
                indices: tuple[int, ...] = (), ledger: str | None = None) -> dict[str, Any]:
        """Exhibit ledger records: every record of ``kinds``, the exchanges / terms acceptances of
        ``accounts``, and ``indices``. The ledger is verified against its last signed checkpoint first;
        when its private key is at hand a ``custody`` record is appended there and a checkpoint signed."""
        actor = actor or default_actor()
        want_acc, want_kind, want_idx = set(accounts), set(kinds), set(int(i) for i in indices)
        have = {i for i, _ in self.exhibits()}
        new: list[tuple[int, bytes]] = []
        with Ledger.open(ledger or self.info["ledger"]) as led:
            if led.verifier.to_string() != self.info["ledger_key"]:
                raise CaseError("the ledger's public key is not the one this case was opened with")
            led.verify()
            for idx, kind, data, *_ in led.store.iter_leaves():
                if idx in have:
                    continue
                hit = idx in want_idx or kind in want_kind
                if not hit and want_acc and kind in ACCOUNT_KINDS:
                    hit = json.loads(bytes(data))["fields"].get("account") in want_acc
                if hit:
                    new.append((idx, bytes(data)))
            if not new:
                raise CaseError("the selection matches no ledger record that is not already exhibited")
            if led.key_path is not None and led.key_path.exists():  # a key that is there but unreadable is an error
                led.signer()
                led.append(Custody(actor=actor, action="case-exhibit", subject=f"{self.info['case_id']}: {len(new)} record(s)",
                                   details=self.info["title"]))
                cp = led.checkpoint()
            else:  # no private key at hand: the last signed checkpoint must cover the records
                cp = led.latest_checkpoint()
                if cp is None or cp.size <= max(i for i, _ in new):
                    raise CaseError("the ledger's last signed checkpoint does not cover the selected records and its "
                                    "private key is not at hand; sign one with `stillwatch ledger checkpoint`")
        lines = b"".join(json.dumps({"index": i, "data": d.decode("utf-8")}, ensure_ascii=False, separators=(",", ":")).encode()
                         + b"\n" for i, d in new)
        path = self.root / "exhibits" / "records.jsonl"
        with path.open("ab") as fh:
            fh.write(lines)
        (self.root / "exhibits" / "checkpoint.note").write_text(cp.text)
        meta = {"kind": "ledger", "records": len(new), "checkpoint_size": cp.size, "file_sha256": _sha(path.read_bytes()),
                "selection": {"accounts": len(want_acc), "kinds": sorted(want_kind), "indices": len(want_idx)}}
        return custody.append_entry(self.root / "custody.jsonl", key, actor=actor, action="exhibit-ledger",
                                    subject="exhibits/records.jsonl", sha256=_sha(lines), size=len(lines), meta=meta)

    # ------------------------------------------------------------------ reading

    def exhibits(self) -> list[tuple[int, bytes]]:
        """(index, canonical leaf bytes) of every exhibited record, in the order exhibited."""
        path = self.root / "exhibits" / "records.jsonl"
        if not path.exists():
            return []
        out = []
        for line in path.read_bytes().splitlines():
            if line.strip():
                r = json.loads(line)
                out.append((int(r["index"]), r["data"].encode("utf-8")))
        return out

    def check(self) -> list[dict[str, Any]]:
        """Verify the custody chain and that every file it names still has its recorded digest.
        Returns the chain's entries. Raises BundleError naming the first file at fault."""
        entries = custody.verify_chain((self.root / "custody.jsonl").read_bytes(), self.public_key)
        last_exhibit = None
        for e in entries:
            path = self.root / e["subject"]
            if e["action"] == "exhibit-ledger":
                last_exhibit = e
                continue
            if e["action"] in ("init", "build"):  # a build's output is checked in its bundle (verify.py)
                continue
            if not path.is_file() or _sha(path.read_bytes()) != e["sha256"]:
                raise BundleError(e["subject"], "its SHA-256 is not the one recorded in the chain of custody")
        rec = self.root / "exhibits" / "records.jsonl"
        if last_exhibit is not None and (not rec.is_file() or _sha(rec.read_bytes()) != last_exhibit["meta"]["file_sha256"]):
            raise BundleError("exhibits/records.jsonl", "its SHA-256 is not the one recorded in the chain of custody")
        return entries

    def evidence(self, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The evidence added (custody entries of ``add-*``), each with its parsed content."""
        out = []
        for e in entries:
            kind = e["meta"].get("kind")
            if e["action"].startswith("add-") and kind in KINDS:
                data = (self.root / e["subject"]).read_bytes()
                out.append({"kind": kind, "role": e["meta"].get("role"), "path": e["subject"], "sha256": e["sha256"],
                            "command": e["meta"].get("command", ""), "added_by": e["actor"], "added_at": e["ts"],
                            "content": parse_evidence(kind, data, e["subject"])})
        return out


def implicated_accounts(case: Case) -> set[str]:
    """Accounts the evidence points at: flagged by guard, attributed by mark, or present per trace."""
    out: set[str] = set()
    for e in case.evidence(case.check()):
        c = e["content"]
        if e["kind"] == "guard":
            out |= {a["account_id"] for a in c["accounts"]}
        elif e["kind"] == "mark":
            out |= {r["account"] for r in c if r.get("account")}
        elif e["kind"] == "trace":
            out |= {a["account"] for a in c.get("accounts", []) if a.get("present")}
    return out
