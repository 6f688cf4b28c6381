"""The bundle's attacker plays here: any changed byte of an exhibited record, a proof, the checkpoint,
the statement, the manifest, the report or the chain of custody makes `case verify` fail, naming what
failed; files added, removed or swapped too. Also: C2SP tlog-proof and DSSE known-structure checks."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from stillwatch.errors import VerificationError
from stillwatch.ledger import Exchange, Investment, Ledger, ToSAcceptance, merkle
from stillwatch.report import BundleError, Case, build_case, verify_bundle
from stillwatch.report import tlogproof

FINDINGS = {"n_rows": 40, "n_accounts": 6, "n_flagged": 2, "engine": "duckdb", "human_rate_per_hour": 44.6, "malformed": {},
            "accounts": [{"account_id": f"a{i}", "score": 0.9, "flagged": True, "campaign_id": "campaign-a0", "exchanges": 10,
                          "human_rate_multiple": 31.5, "signals": {"shared_payment": 1.0}, "fired": ["shared_payment"]} for i in range(2)],
            "campaigns": [{"campaign_id": "campaign-a0", "accounts": ["a0", "a1"], "n_accounts": 2, "exchanges": 20,
                           "human_rate_multiple": 31.5, "score": 0.9, "signals": {}, "fired": ["machine_pacing"]}]}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("tamper")
    db = tmp / "l.db"
    with Ledger.create(db, origin="example.com/tamper") as led:
        sha = hashlib.sha256(b"terms").hexdigest()
        led.append_many([ToSAcceptance(account=f"a{i}", terms_version="v1", terms_sha256=sha, ts="2026-01-01T00:00:00Z",
                                       source_address="192.0.2.1") for i in range(6)])
        led.append_many([Exchange(account=f"a{i % 6}", api_key_id=f"k{i % 6}", ts=f"2026-01-02T0{i % 10}:00:00Z", model="m",
                                  spec_fingerprint="s", prompt=f"p{i}", response=f"r{i}", ip="203.0.113.5") for i in range(40)])
        led.append(Investment(model_id="m", compute_hours="10", cost="100", ts="2026-01-01T00:00:00Z"))
        led.checkpoint()
    (tmp / "findings.json").write_text(json.dumps(FINDINGS))
    case = Case.init(tmp / "case", title="Tamper test", ledger=str(db), actor="t")
    key = case.load_key()
    case.add_evidence("guard", tmp / "findings.json", key=key, actor="t")
    case.exhibit(key=key, actor="t", accounts=("a0", "a1"), kinds=("investment",))
    out = build_case(tmp / "case", actor="t")
    return Path(out["bundle"]), tmp / "case" / "case.pub"


def test_clean_bundle_verifies(bundle):
    res = verify_bundle(*bundle)
    assert res["ok"] and res["records_proven"] == 2 + 14 + 1  # two acceptances, 14 exchanges of a0/a1, one investment


def _positions(n: int) -> list[int]:
    """Systematic positions: every byte of a short file, else the first and last 64 and a stride."""
    if n <= 400:
        return list(range(n))
    return sorted(set(range(64)) | set(range(n - 64, n)) | set(range(0, n, max(1, n // 150))))


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _rezip(path: Path, members: dict[str, bytes]) -> None:
    """What an attacker with zip tools does: rewrite the archive with consistent CRCs."""
    with zipfile.ZipFile(path, "w") as zf:
        for n, b in members.items():
            zf.writestr(n, b)


@pytest.mark.parametrize("member", ["records/6.json", "proofs/6.tlog-proof"])
def test_every_byte_change_of_a_record_or_proof_is_named(bundle, tmp_path, member):
    src, pub = bundle
    work = tmp_path / "b"
    shutil.copytree(src, work)
    z = work / "ledger/exhibits.zip"
    orig = _members(z)
    body = orig[member]
    for pos in _positions(len(body)):
        data = bytearray(body)
        data[pos] ^= 0x01
        _rezip(z, orig | {member: bytes(data)})
        with pytest.raises(BundleError) as err:
            verify_bundle(work, pub)
        assert "records/6.json" in err.value.part or "proofs/6.tlog-proof" in err.value.part, (member, pos, str(err.value))
    _rezip(z, orig)  # rewritten (not byte-identical): still refused, by the signed manifest
    with pytest.raises(BundleError, match="ledger/exhibits.zip"):
        verify_bundle(work, pub)


@pytest.mark.parametrize("target", ["ledger/exhibits.zip", "ledger/checkpoint.note", "statement.dsse.json",
                                    "report.json", "MANIFEST.sha256", "custody.jsonl", "evidence/000-guard.json"])
def test_every_byte_change_is_detected_and_named(bundle, tmp_path, target):
    src, pub = bundle
    work = tmp_path / "b"
    shutil.copytree(src, work)
    path = work / target
    orig = path.read_bytes()
    with open(path, "r+b") as fh:  # one byte changed in place, then put back (no rewrite of the whole file)
        for pos in _positions(len(orig)):
            for flip in (0x01, 0x20):
                fh.seek(pos)
                fh.write(bytes([orig[pos] ^ flip]))
                fh.flush()
                with pytest.raises(BundleError) as err:
                    verify_bundle(work, pub)
                names = {target, "statement.dsse.json", "MANIFEST.sha256"}
                assert any(n in err.value.part for n in names), (target, pos, str(err.value))
                fh.seek(pos)
                fh.write(orig[pos:pos + 1])
                fh.flush()
    assert path.read_bytes() == orig
    verify_bundle(work, pub)


def test_files_removed_added_or_swapped_are_named(bundle, tmp_path):
    src, pub = bundle
    work = tmp_path / "b"
    shutil.copytree(src, work)
    z = work / "ledger/exhibits.zip"
    orig = _members(z)
    _rezip(z, {n: b for n, b in orig.items() if n != "records/6.json"})
    with pytest.raises(BundleError, match="exhibits.zip.*one records/<i>.json and one proofs"):
        verify_bundle(work, pub)
    _rezip(z, orig | {"proofs/6.tlog-proof": orig["proofs/7.tlog-proof"], "proofs/7.tlog-proof": orig["proofs/6.tlog-proof"]})
    with pytest.raises(BundleError, match="tlog-proof"):
        verify_bundle(work, pub)
    shutil.copy(src / "ledger/exhibits.zip", z)
    (work / "extra.txt").write_text("planted")
    with pytest.raises(BundleError, match="extra.txt.*not listed"):
        verify_bundle(work, pub)
    (work / "extra.txt").unlink()
    (work / "report.html").unlink()
    with pytest.raises(BundleError, match="report.html.*missing"):
        verify_bundle(work, pub)


def test_wrong_public_key_or_ledger_key_fails(bundle, tmp_path):
    from stillwatch.report import CaseKey

    src, _ = bundle
    other = CaseKey.generate("someone-else")
    with pytest.raises(BundleError, match="statement.dsse.json: no signature by the given key"):
        verify_bundle(src, other.verifier)
    with pytest.raises(BundleError, match="another ledger key"):
        verify_bundle(src, bundle[1], ledger_key=other.verifier)


def test_cli_verify_failure_is_one_line_exit_2(bundle, tmp_path, cli):
    src, pub = bundle
    work = tmp_path / "b"
    shutil.copytree(src, work)
    z = work / "ledger/exhibits.zip"
    orig = _members(z)
    _rezip(z, orig | {"records/6.json": orig["records/6.json"].replace(b'"a0"', b'"a9"')})
    cli("case", "verify", work, "--public-key", pub).user_error("records/6.json")


def test_tlog_proof_format_against_an_independent_fold(bundle):
    """The proof file's layout follows c2sp.org/tlog-proof@v1 and its path folds (computed here from
    RFC 6962's definition, not with the ledger's code) to the checkpoint's root."""
    src, _ = bundle
    members = _members(src / "ledger/exhibits.zip")
    text = members["proofs/6.tlog-proof"].decode()
    head, _, note = text.partition("\n\n")
    lines = head.split("\n")
    assert lines[0] == "c2sp.org/tlog-proof@v1" and lines[1] == "index 6"
    assert note == (src / "ledger/checkpoint.note").read_text()
    size = int(note.split("\n")[1])
    root = base64.b64decode(note.split("\n")[2])
    path = [base64.b64decode(x) for x in lines[2:]]
    h = hashlib.sha256(b"\x00" + members["records/6.json"]).digest()
    fn, sn = 6, size - 1  # RFC 9162 section 2.1.3.2
    for p in path:
        if fn & 1 or fn == sn:
            h = hashlib.sha256(b"\x01" + p + h).digest()
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            h = hashlib.sha256(b"\x01" + h + p).digest()
        fn, sn = fn >> 1, sn >> 1
    assert h == root
    for bad in (text.replace("index 6", "index 06"), text.replace("\n\n", "\n \n", 1), text.replace("=\n", "\n", 1)):
        with pytest.raises(VerificationError):
            tlogproof.parse(bad)


def test_dsse_pae_known_answer():
    from stillwatch.report.dsse import pae

    # the DSSE protocol's own example: PAE("http://example.com/HelloWorld", "hello world")
    assert pae("http://example.com/HelloWorld", b"hello world") == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"


def test_merkle_root_of_bundle_matches_naive(bundle):
    """The checkpoint's root equals a naive recursive RFC 9162 root over the ledger's leaves."""
    src, _ = bundle
    db = src.parents[2] / "l.db"
    with Ledger.open(db) as led:
        leaves = [bytes(d) for _, _, d, _ in led.store.iter_leaves()]
    cp_size = int((src / "ledger/checkpoint.note").read_text().split("\n")[1])

    def mth(xs):
        if len(xs) == 1:
            return hashlib.sha256(b"\x00" + xs[0]).digest()
        k = 1 << ((len(xs) - 1).bit_length() - 1)
        return hashlib.sha256(b"\x01" + mth(xs[:k]) + mth(xs[k:])).digest()

    root = base64.b64decode((src / "ledger/checkpoint.note").read_text().split("\n")[2])
    assert mth(leaves[:cp_size]) == root == merkle.root(leaves[:cp_size])


@pytest.mark.parametrize("content", [b'{"prompt": "caf\xe9", "text": "\xff\xfe"}\n', b"x" * 5000, b"", b"case+abc"])
def test_cli_verify_with_an_unreadable_public_key_file_is_one_line_exit_2(bundle, tmp_path, cli, content):
    """Found by test_cli_fuzz: a public key file that is not ASCII (here Latin-1 bytes) made `case verify`
    end in a UnicodeDecodeError traceback; every bad key file is now one line naming the file."""
    src, _ = bundle
    bad = tmp_path / "bad.pub"
    bad.write_bytes(content)
    cli("case", "verify", src, "--public-key", bad).user_error("bad.pub")
