"""The ledger under attack, through every command that reads, proves, signs or exports.

Attacker model. The attacker can write the ledger's database file: edit, insert or delete rows of
any table (``leaves``, ``nodes``, ``checkpoints``, ``manifests``, ``meta``), recompute a leaf hash
after editing a record, rebuild the whole stored tree so it agrees with an edit, replace the file
with a ledger of their own (same origin, their own key), hand over edited bundles and checkpoint
files, and pass any file where a file is expected. The attacker does NOT hold the ledger's signing
key (the file of mode 0600 next to the database, or given with --key) and cannot change the public
key an auditor obtained separately (``--pubkey``).

What must hold, for each command:

- nothing forged verifies: ``verify``, ``prove``, ``consistency`` and ``check-bundle`` with the
  trusted key fail (exit 2, one line, no traceback) on a forged ledger or bundle, and a trusted key
  that cannot be read is an error, never a reason to trust the key stored in the ledger;
- nothing is signed over a forgery: ``checkpoint`` and ``export`` check the ledger against its last
  signed checkpoint (RFC 9162 consistency) first and refuse, storing nothing;
- nothing is recorded that did not happen: a failed ``export`` stores no custody record and no
  checkpoint;
- reading commands create and change nothing, whatever path they are given;
- no command shows a secret, even when handed a secret key file where something else belongs;
- ``verify`` names the records that differ from what was signed.

Each test plays the attacker. Run against the code before this suite (commit 07e20c5), every test
failed except eight of the twelve hostile-bundle cases and the forged-bundle-with-trusted-key test,
which already held there and stay as guards of the sweep.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
from pathlib import Path

import pytest
from ledger_attack import digest, edit_record, make_ledger, records_file, sql, state

from stillwatch.errors import KeyFileError
from stillwatch.ledger import SignatureError
from stillwatch.ledger.checkpoint import generate_signer

# ----------------------------------------------------------------------------- trusted keys (item 1)


def _forged_copy(cli, tmp: Path) -> tuple[str, str]:
    """(the genuine ledger, a forged one the attacker built with their own key under the same origin)."""
    real = make_ledger(cli, tmp, name="real.db")
    forged_dir = tmp / "attacker"
    forged_dir.mkdir()
    forged = make_ledger(cli, forged_dir, name="forged.db")  # same origin, attacker's own key
    os.unlink(forged + ".pub")  # the attacker hands over the database only
    return real, forged


def test_unreadable_trusted_key_is_an_error_never_a_fallback(tmp_path, cli):
    real, forged = _forged_copy(cli, tmp_path)
    missing = tmp_path / "no-such.pub"
    for cmd in (["verify", forged], ["prove", forged, "4"], ["consistency", forged, "13"]):
        r = cli("ledger", *cmd, "--pubkey", missing)
        r.user_error()
        assert f"public key file {missing} does not exist" in r.err and "OK" not in r.out
    r = cli("ledger", "verify", forged, "--pubkey", tmp_path)  # a directory
    r.user_error()
    assert "is a directory" in r.err
    # with the genuine trusted key the forgery fails for every reading command
    for cmd in (["verify", forged], ["prove", forged, "4"], ["consistency", forged, "13"]):
        r = cli("ledger", *cmd, "--pubkey", real + ".pub")
        r.user_error()
        assert "does not match the key recorded in the ledger" in r.err
    # without --pubkey the report says the key came from inside the ledger
    r = cli("ledger", "verify", forged)
    assert r.code == 0 and "the key stored inside the ledger (not independent evidence: give --pubkey)" in r.out


# ----------------------------------------------------------------------------- prove (item 2)


def test_prove_checks_the_proof_against_a_signed_checkpoint(tmp_path, cli):
    db = make_ledger(cli, tmp_path, n=40)
    r = cli("ledger", "prove", db, "20", "--json")
    p = json.loads(r.out)
    assert r.code == 0 and p["verified"] and p["tree_size"] == 40
    signed_root = base64.b64decode(p["checkpoint"].split("\n")[2]).hex()
    assert p["root"] == signed_root  # the root proven against is the one in the signed text
    edit_record(db, 20, "forged exhibit", rebuild_nodes=True)  # leaves and nodes rebuilt to match
    r = cli("ledger", "prove", db, "20", "--json")
    r.user_error()
    assert r.out == "" and "record 20 is not in the tree signed by checkpoint #1 (size 40)" in r.err
    # an untouched record's proof now also passes through the forged subtree: it fails too, never "verified"
    r = cli("ledger", "prove", db, "21")
    r.user_error()
    assert "not in the tree signed by checkpoint #1" in r.err


def test_prove_without_a_covering_signed_checkpoint_fails(tmp_path, cli):
    db = make_ledger(cli, tmp_path, n=5)
    cli("ledger", "append", db, records_file(tmp_path / "more.jsonl", 3, start=5)).ok()
    r = cli("ledger", "prove", db, "6")
    r.user_error()
    assert "record 6 is not covered by a signed checkpoint yet (the latest covers records 0..4)" in r.err
    r = cli("ledger", "prove", db, "--", "-1")
    r.user_error()
    assert "record index must be >= 0, got -1" in r.err


# ----------------------------------------------------------------------------- signing (item 3)


@pytest.mark.parametrize("n,rebuild", [(13, False), (40, True)])
def test_checkpoint_and_export_refuse_to_sign_a_tampered_ledger(tmp_path, cli, n, rebuild):
    db = make_ledger(cli, tmp_path, n=n)
    edit_record(db, 4, "forged exhibit", rebuild_nodes=rebuild)
    before = state(db)
    r = cli("ledger", "checkpoint", db)
    r.user_error()
    assert "refusing to sign" in r.err and "were changed after they were signed" in r.err
    bundle = tmp_path / "b.json"
    r = cli("ledger", "export", db, "-o", bundle, "--actor", "x", "--index", "4")
    r.user_error()
    assert state(db) == before and not bundle.exists()
    assert list(tmp_path.glob(".b.json.*")) == []  # no temporary file left either


def test_signing_refuses_edited_unsigned_records_and_forged_checkpoint_rows(tmp_path, cli):
    db = make_ledger(cli, tmp_path, n=10)
    cli("ledger", "append", db, records_file(tmp_path / "t.jsonl", 10, start=10)).ok()
    edit_record(db, 15, "changed before anyone signed", fix_hash=False)  # in the unsigned tail
    r = cli("ledger", "checkpoint", db)
    r.user_error()
    assert "refusing to sign: record 15 does not match its stored leaf hash" in r.err
    db2 = make_ledger(cli, tmp_path, n=10, name="two.db")
    sql(db2, "INSERT INTO checkpoints (size, root, text) VALUES (3, x'00', 'junk')")  # an unsigned row
    r = cli("ledger", "checkpoint", db2)
    r.user_error()
    assert "stored checkpoint #2 is not validly signed" in r.err
    db3 = make_ledger(cli, tmp_path, n=10, name="three.db")
    sql(db3, "DELETE FROM leaves WHERE idx >= 8")  # truncation below the signed size
    r = cli("ledger", "checkpoint", db3)
    r.user_error()
    assert "covers 10 records but the ledger has only 8" in r.err
    assert state(db3) == (8, 1)


# ----------------------------------------------------------------------------- custody (item 4)


def test_failed_export_records_no_custody_and_no_checkpoint(tmp_path, cli):
    db = make_ledger(cli, tmp_path)
    before = state(db)
    r = cli("ledger", "export", db, "-o", tmp_path / "missing" / "b.json", "--actor", "x",
                       "--index", "1")
    r.user_error()
    assert "folder" in r.err and "does not exist" in r.err and state(db) == before
    existing = tmp_path / "taken.json"
    existing.write_text("keep me")
    r = cli("ledger", "export", db, "-o", existing, "--actor", "x", "--index", "1")
    r.user_error()
    assert "already exists; refusing to overwrite it (give --force" in r.err
    assert existing.read_text() == "keep me" and state(db) == before
    r = cli("ledger", "export", db, "-o", tmp_path / "b.json", "--actor", "x", "--index", "99")
    r.user_error()
    assert state(db) == before
    # what succeeds is recorded exactly once, and the bundle checks with the trusted key
    r = cli("ledger", "export", db, "-o", existing, "--actor", "x", "--index", "1", "--force")
    assert r.code == 0 and state(db) == (before[0] + 1, before[1] + 1)
    cli("ledger", "check-bundle", existing, "--pubkey", db + ".pub").ok()


# ----------------------------------------------------------------------------- base64 (item 5)


def _flip_padding_bits(b64: str) -> str:
    """Another spelling of the same bytes: set the unused low bits of the last data character."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    body = b64.rstrip("=")
    pad = len(b64) - len(body)
    assert pad in (1, 2)
    last = alphabet.index(body[-1])
    bits = 0b11 if pad == 1 else 0b1111  # 2 unused bits with one '=', 4 with two
    assert last & bits == 0
    forged = body[:-1] + alphabet[last | 1] + "=" * pad
    assert base64.b64decode(forged) == base64.b64decode(b64) and forged != b64
    return forged


@pytest.mark.parametrize("part", ["root", "signature"])
def test_non_canonical_base64_in_a_checkpoint_is_rejected(tmp_path, cli, part):
    db = make_ledger(cli, tmp_path)
    cpf = tmp_path / "cp.txt"
    r = cli("ledger", "checkpoint", db, "-o", cpf)
    assert r.code == 0
    text = cpf.read_text()
    lines = text.split("\n")
    if part == "root":
        lines[2] = _flip_padding_bits(lines[2])
    else:
        dash, name, sig = lines[4].split(" ")
        lines[4] = " ".join([dash, name, _flip_padding_bits(sig)])
    forged = "\n".join(lines)
    signer_pub = (Path(db + ".pub")).read_text()
    from stillwatch.ledger.checkpoint import Verifier

    with pytest.raises(SignatureError, match="not canonical base64"):
        Verifier.from_string(signer_pub).verify(forged)
    cpf.write_text(forged)
    r = cli("ledger", "verify", db, "--since", cpf)
    r.user_error()
    assert "not canonical base64" in r.err
    sql(db, "UPDATE checkpoints SET text = ? WHERE id = 2", (forged,))  # and stored in the database
    r = cli("ledger", "verify", db)
    r.user_error()
    assert "stored checkpoint #2 (size 13) is not validly signed" in r.err


def test_verifier_keys_have_one_spelling():
    """A key id in upper case is another spelling of the same key string: refused like base64 variants."""
    from stillwatch.ledger.checkpoint import Verifier

    v = generate_signer("log").verifier.to_string()
    name, kid, b64 = v.split("+", 2)
    assert Verifier.from_string(v).to_string() == v
    with pytest.raises(KeyFileError, match="not valid hex/base64"):
        Verifier.from_string(f"{name}+{kid.upper()}+{b64}" if kid.upper() != kid else f"{name}+{kid}x+{b64}")


# ----------------------------------------------------------------------------- reading never writes (item 6)


def test_reading_commands_never_create_or_modify_anything(tmp_path, cli):
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    missing = tmp_path / "missing.db"
    for target in (empty, missing, tmp_path, Path(".")):
        for cmd in (["verify", target], ["prove", target, "0"], ["consistency", target, "0"]):
            before = sorted(os.listdir(tmp_path))
            r = cli("ledger", *cmd)
            r.user_error()
            assert sorted(os.listdir(tmp_path)) == before  # nothing created (no -wal/-shm either)
    assert empty.stat().st_size == 0 and not missing.exists()
    r = cli("ledger", "verify", empty)
    assert "is not a Stillwatch ledger (an empty file)" in r.err
    r = cli("ledger", "verify", tmp_path)
    assert "is a directory" in r.err
    # on a real ledger the database file is not written by any reading command
    db = make_ledger(cli, tmp_path, n=20)
    h = digest(db)
    for cmd in (["verify", db], ["prove", db, "3"], ["consistency", db, "20"], ["verify", db, "--json"]):
        cli("ledger", *cmd).ok()
        assert digest(db) == h


# ----------------------------------------------------------------------------- naming the record (item 7)


@pytest.mark.parametrize("n,idx,rebuild", [(13, 4, False), (40, 20, True), (40, 35, True)])
def test_verify_names_the_edited_record(tmp_path, cli, n, idx, rebuild):
    db = make_ledger(cli, tmp_path, n=n)
    edit_record(db, idx, "forged exhibit", rebuild_nodes=rebuild)
    r = cli("ledger", "verify", db)
    assert r.code == 2 and "Traceback" not in r.err
    assert f"record {idx} differs from what was signed" in r.err
    assert f"records 0..{n - 1}" not in r.out + r.err
    rep = cli("ledger", "verify", db, "--json").json()
    assert [(p["kind"], p["index"]) for p in rep["problems"]] == [("edited", idx)]


def test_an_edited_manifest_cannot_hide_an_edit(tmp_path, cli):
    """The attacker also rewrites the manifest: the record is no longer named, the range still is."""
    db = make_ledger(cli, tmp_path, n=13)
    edit_record(db, 4, "forged exhibit")
    ((peaks, hashes),) = sql(db, "SELECT peaks, hashes FROM manifests")
    forged = bytes(hashes[:4 * 32]) + bytes(sql(db, "SELECT hash FROM leaves WHERE idx = 4")[0][0]) + bytes(hashes[5 * 32:])
    sql(db, "UPDATE manifests SET hashes = ?", (forged,))
    r = cli("ledger", "verify", db)
    assert r.code == 2 and "records 0..12 were rewritten after it was signed" in r.err


# ----------------------------------------------------------------------------- secrets (item 8)


def test_secret_files_with_loose_modes_are_refused(tmp_path, cli):
    from stillwatch.mark import MasterKey

    mk = tmp_path / "master.key"
    cli("keys", "new", "--out", mk).ok()
    secret_hex = mk.read_text().split("\n")[1]
    os.chmod(mk, 0o644)
    with pytest.raises(KeyFileError, match="has mode 0644; it must be 0600") as ei:
        MasterKey.load(mk)
    assert secret_hex not in str(ei.value)
    db = make_ledger(cli, tmp_path)
    os.chmod(db + ".key", 0o640)
    r = cli("ledger", "checkpoint", db)
    r.user_error()
    assert "signing key file" in r.err and "has mode 0640; it must be 0600" in r.err


def test_no_command_echoes_a_secret_file_given_in_the_wrong_place(tmp_path, cli):
    mk = tmp_path / "master.key"
    cli("keys", "new", "--out", mk).ok()
    db = make_ledger(cli, tmp_path)
    bundle = tmp_path / "b.json"
    cli("ledger", "export", db, "-o", bundle, "--actor", "x", "--index", "1").ok()
    texts = tmp_path / "texts.jsonl"
    texts.write_text(json.dumps({"text": "hello there, a short text"}) + "\n")
    secrets = {mk: mk.read_text().split("\n")[1], Path(db + ".key"): Path(db + ".key").read_text().split("+")[4].strip()}
    for key_file, secret in secrets.items():
        attempts = [
            ["ledger", "append", db, key_file], ["ledger", "verify", db, "--since", key_file],
            ["ledger", "verify", db, "--pubkey", key_file], ["ledger", "prove", db, "1", "--pubkey", key_file],
            ["ledger", "check-bundle", key_file], ["ledger", "check-bundle", bundle, "--pubkey", key_file],
            ["ledger", "export", db, "-o", tmp_path / "o.json", "--actor", "x", "--index", "1", "--since", key_file],
            ["mark", "detect", "--master-key", mk, "--input", texts, "--accounts", key_file, "--json"],
        ]
        for argv in attempts:
            r = cli(*argv)
            r.user_error()
            assert secret not in r.out + r.err and secret[:16] not in r.out + r.err, argv
            assert "secret key file" in r.err, (argv, r.err)


# ----------------------------------------------------------------------------- hostile bundles and inputs


@pytest.mark.parametrize("edit", [
    {"verifier_key": 5}, {"verifier_key": None}, {"checkpoint": ["x"]}, {"origin": 7}, {"records": "all"},
    {"records": [5]}, {"records": [{"index": "1", "data": "{}", "leaf_hash": "00"}]},
    {"records": [{"index": 1, "data": 5, "leaf_hash": "00"}]},
    {"records": [{"index": 1, "data": "\ud800", "leaf_hash": "00" * 32, "proof": []}]},
    {"records": [{"index": 1, "data": "{}", "leaf_hash": 3}]}, {"consistency": 5},
    {"consistency": {"proof": []}},
])
def test_check_bundle_with_hostile_fields_is_a_one_line_error(tmp_path, cli, edit):
    db = make_ledger(cli, tmp_path)
    bundle = tmp_path / "b.json"
    cli("ledger", "export", db, "-o", bundle, "--actor", "x", "--index", "1").ok()
    b = json.loads(bundle.read_text())
    b.update(edit)
    bundle.write_text(json.dumps(b))
    r = cli("ledger", "check-bundle", bundle, "--pubkey", db + ".pub")
    r.user_error()
    assert r.out == ""


def test_forged_bundle_signed_with_the_attackers_key_fails_with_the_trusted_key(tmp_path, cli):
    real, forged = _forged_copy(cli, tmp_path)
    bundle = tmp_path / "forged.json"
    cli("ledger", "export", forged, "-o", bundle, "--actor", "x", "--index", "4").ok()
    r = cli("ledger", "check-bundle", bundle, "--pubkey", real + ".pub")
    r.user_error()
    assert "the bundle's public key is not the trusted key given" in r.err


def test_non_utf8_inputs_are_one_line_errors(tmp_path, cli):
    db = make_ledger(cli, tmp_path)
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b'{"type": "custody", "actor": "\xff\xfe"}\n')
    before = state(db)
    for argv, fragment in [
        (["ledger", "append", db, bad], "line 1 is not UTF-8 text"),
        (["ledger", "check-bundle", bad], "is not UTF-8 text"),
        (["ledger", "verify", db, "--since", bad], "is not UTF-8 text"),
        (["ledger", "verify", db, "--pubkey", bad], "is not a public key file (not ASCII text)"),
        (["ledger", "export", db, "-o", tmp_path / "o.json", "--actor", "x", "--index", "1", "--since", bad],
         "is not UTF-8 text"),
    ]:
        r = cli(*argv)
        r.user_error()
        assert fragment in r.err, (argv, r.err)
    assert state(db) == before and not (tmp_path / "o.json").exists()


def test_keys_new_and_init_refuse_dangling_symlinks(tmp_path, cli):
    link = tmp_path / "link.key"
    os.symlink(tmp_path / "elsewhere" / "target.key", link)
    r = cli("keys", "new", "--out", link)
    r.user_error()
    assert "already exists; refusing to overwrite" in r.err and not (tmp_path / "elsewhere").exists()
    r = cli("keys", "new", "--out", tmp_path / "nodir" / "m.key")
    r.user_error()
    db = tmp_path / "l.db"
    os.symlink(tmp_path / "nowhere.key", str(db) + ".key")
    r = cli("ledger", "init", db)
    r.user_error()
    assert not db.exists() and not (tmp_path / "nowhere.key").exists()


def test_checkpoint_output_is_not_overwritten_without_force(tmp_path, cli):
    db = make_ledger(cli, tmp_path)
    cp = tmp_path / "cp.txt"
    cp.write_text("old")
    before = state(db)
    r = cli("ledger", "checkpoint", db, "-o", cp)
    r.user_error()
    assert cp.read_text() == "old" and state(db) == before
    cli("ledger", "checkpoint", db, "-o", cp, "--force").ok()
    assert cp.read_text().startswith("example.com/evidence\n13\n")


def test_copied_evidence_keeps_verifying_and_forks_do_not(tmp_path, cli):
    """A copy of the ledger taken by an auditor and the original stay consistent; a forged copy does not."""
    db = make_ledger(cli, tmp_path, n=13)
    cp_old = tmp_path / "cp13.txt"
    cli("ledger", "checkpoint", db, "-o", cp_old).ok()
    copy = tmp_path / "copy.db"
    shutil.copy(db, copy)
    shutil.copy(db + ".pub", str(copy) + ".pub")
    cli("ledger", "verify", copy, "--since", cp_old, "--pubkey", db + ".pub").ok()
    edit_record(str(copy), 2, "forged", rebuild_nodes=True)
    r = cli("ledger", "verify", copy, "--since", cp_old, "--pubkey", db + ".pub")
    assert r.code == 2 and "record 2 differs from what was signed" in r.err
