"""Master key files and HKDF derivation, checked against an independent HMAC implementation."""

import hashlib
import hmac
import os
import stat

import pytest

from stillwatch.errors import KeyFileError
from stillwatch.mark import MasterKey


def _hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int = 32) -> bytes:
    """RFC 5869 written from the RFC with the stdlib hmac module (independent of `cryptography`)."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    okm, t, i = b"", b"", 1
    while len(okm) < length:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        okm += t
        i += 1
    return okm[:length]


def test_rfc5869_vector_of_reference_implementation():
    # RFC 5869 Appendix A.1 (test case 1), to check the reference used below
    ikm = bytes.fromhex("0b" * 22)
    salt = bytes.fromhex("000102030405060708090a0b0c")
    info = bytes.fromhex("f0f1f2f3f4f5f6f7f8f9")
    okm = _hkdf_sha256(ikm, salt, info, 42)
    assert okm.hex() == "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"


def test_derivation_matches_independent_hkdf():
    master = MasterKey(bytes(range(32)))
    salt = b"stillwatch/v1/hkdf-salt"
    assert master.provider_key()._secret == _hkdf_sha256(bytes(range(32)), salt, b"stillwatch/v1/provider")
    assert master.account_key("alice")._secret == _hkdf_sha256(bytes(range(32)), salt, b"stillwatch/v1/account/alice")
    assert master.account_key("alice").key_id == "account:alice"
    assert master.account_key("alice")._secret != master.account_key("bob")._secret


def test_save_load_roundtrip_mode_0600(tmp_path):
    p = tmp_path / "master.key"
    k = MasterKey.generate()
    k.save(p)
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    assert MasterKey.load(p).provider_key()._secret == k.provider_key()._secret
    with pytest.raises(KeyFileError, match="already exists"):
        k.save(p)


def test_secret_never_in_repr_or_errors(tmp_path):
    k = MasterKey(bytes(range(32)))
    secret_hex = bytes(range(32)).hex()
    for text in (repr(k), str(k), repr(k.provider_key()), repr(k.account_key("a")), repr(k.key_ring(["a", "b"]))):
        assert secret_hex not in text and "\\x00\\x01" not in text
    bad = tmp_path / "bad.key"
    bad.write_text("stillwatch-master-key v1\n" + "ab" * 20 + "\n")
    with pytest.raises(KeyFileError) as ei:
        MasterKey.load(bad)
    assert "ab" * 20 not in str(ei.value) and "got 20 bytes" in str(ei.value)


@pytest.mark.parametrize(
    "content,match",
    [
        ("", "not a Stillwatch master key file"),
        ("hello\nworld\n", "not a Stillwatch master key file"),
        ("stillwatch-master-key v1\nzz" + "0" * 62 + "\n", "not hexadecimal"),
        ("stillwatch-master-key v1\n" + "00" * 31 + "\n", "must be 32 bytes"),
    ],
)
def test_bad_key_files(tmp_path, content, match):
    p = tmp_path / "k"
    p.write_text(content)
    with pytest.raises(KeyFileError, match=match):
        MasterKey.load(p)


def test_missing_and_binary_key_file(tmp_path):
    with pytest.raises(KeyFileError, match="not found"):
        MasterKey.load(tmp_path / "nope")
    p = tmp_path / "bin"
    p.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(KeyFileError, match="not a Stillwatch master key file"):
        MasterKey.load(p)
    with pytest.raises(KeyFileError, match="directory"):
        MasterKey.load(tmp_path)


def test_master_key_wrong_length():
    with pytest.raises(KeyFileError, match="must be 32 bytes, got 16"):
        MasterKey(b"x" * 16)

