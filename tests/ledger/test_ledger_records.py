"""Canonical record serialization, validation messages, and checkpoint signing/verification."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from stillwatch.ledger import Exchange, Investment, Policy, RecordError, SignatureError
from stillwatch.ledger.checkpoint import Verifier, generate_signer, load_signer, parse_checkpoint, write_key_files
from stillwatch.ledger.records import canonical_json, leaf_bytes, record_from_dict


def test_canonical_json_known_answer():
    obj = {"b": [1, "é", None, True], "a": {"z": "x", "y": -3}}
    assert canonical_json(obj) == '{"a":{"y":-3,"z":"x"},"b":[1,"é",null,true]}'.encode("utf-8")


@pytest.mark.parametrize(("value", "message"), [
    (1.5, "record.x is a float"),
    (2**60, "outside ±(2**53 - 1)"),
    (b"raw", "unsupported type bytes"),
    ("\ud800", "lone surrogate"),
])
def test_canonical_json_rejects_what_is_not_portable(value, message):
    with pytest.raises(RecordError, match=message.replace("(", r"\(").replace(")", r"\)").replace("*", r"\*")):
        canonical_json({"x": value})


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(max_size=5), st.one_of(st.text(max_size=10), st.integers(-1000, 1000),
                                                       st.booleans(), st.none()), max_size=6))
def test_canonical_json_is_independent_of_key_order(d):
    reordered = dict(reversed(list(d.items())))
    assert canonical_json(d) == canonical_json(reordered)
    import json

    assert json.loads(canonical_json(d)) == d


def test_exchange_leaf_known_answer_and_digest_mode():
    ex = Exchange(account="a", api_key_id="k", ts="2026-01-01T00:00:00+02:00", model="m", spec_fingerprint="s",
                  prompt="Hi", response="Hello")
    full = leaf_bytes(ex, 3, "full")
    assert full == (b'{"fields":{"account":"a","api_key_id":"k","content":"full","model":"m","prompt":"Hi",'
                    b'"response":"Hello","spec_fingerprint":"s","ts":"2025-12-31T22:00:00.000000Z"},'
                    b'"seq":3,"type":"exchange","v":1}')
    digest = leaf_bytes(ex, 3, "digest")
    assert hashlib.sha256(b"Hi").hexdigest().encode() in digest
    assert hashlib.sha256(b"Hello").hexdigest().encode() in digest
    assert b"Hello" not in digest.replace(hashlib.sha256(b"Hello").hexdigest().encode(), b"")


@pytest.mark.parametrize(("record", "message"), [
    ({"type": "exchange", "account": "", "api_key_id": "k", "ts": "2026-01-01T00:00:00Z", "model": "m",
      "spec_fingerprint": "", "prompt": "", "response": ""}, "account must not be empty"),
    ({"type": "exchange", "account": "a", "api_key_id": "k", "ts": "2026-01-01T00:00:00", "model": "m",
      "spec_fingerprint": "", "prompt": "", "response": ""}, "has no timezone"),
    ({"type": "exchange", "account": "a", "api_key_id": "k", "ts": "yesterday", "model": "m",
      "spec_fingerprint": "", "prompt": "", "response": ""}, "'yesterday' is not an ISO 8601 time"),
    ({"type": "exchange", "account": "a"}, "missing field"),
    ({"type": "tos_acceptance", "account": "a", "terms_version": "1", "terms_sha256": "xyz",
      "ts": "2026-01-01T00:00:00Z", "source_address": "10.0.0.1"}, "terms_sha256 'xyz' is not a SHA-256"),
    ({"type": "investment", "model_id": "m", "compute_hours": "-1", "cost": "1"}, "must be >= 0"),
    ({"type": "investment", "model_id": "m", "compute_hours": "1", "cost": "1", "currency": "usd"},
     "currency 'usd' must be a 3-letter"),
    ({"type": "policy", "account": "a", "decision": "ban", "reason": "", "ts": "2026-01-01T00:00:00Z"},
     "decision 'ban' must be one of"),
    ({"type": "custody", "actor": "x", "action": "y", "subject": "z", "extra": 1}, "unknown field"),
])
def test_bad_records_name_the_field(record, message):
    with pytest.raises(RecordError, match=message):
        record_from_dict(record)


def test_decimals_are_canonical_strings():
    inv = Investment(model_id="m", compute_hours=1200.50, cost="0012.300", ts="2026-01-01T00:00:00Z")
    assert (inv.compute_hours, inv.cost) == ("1200.5", "12.3")
    pol = Policy(account="a", decision="block", reason="campaign", ts="2026-01-01T00:00:00Z",
                 scores={"harvest": 0.25, "volume": 3})
    assert pol.scores == {"harvest": "0.25", "volume": "3"}


def test_checkpoint_signature_is_standard_ed25519_over_the_body(tmp_path):
    signer = generate_signer("example.com/log")
    root = hashlib.sha256(b"root").digest()
    cp = signer.sign("example.com/log", 42, root)
    body = f"example.com/log\n42\n{base64.b64encode(root).decode()}\n"
    assert cp.text.startswith(body + "\n\u2014 example.com/log ")
    blob = base64.b64decode(cp.text.rstrip("\n").split(" ")[-1])
    pub = signer.verifier.public
    key_id = hashlib.sha256(b"example.com/log\n\x01" + pub).digest()[:4]  # C2SP signed-note key id
    assert blob[:4] == key_id
    Ed25519PublicKey.from_public_bytes(pub).verify(blob[4:], body.encode())  # raises if wrong
    # round trip through the verifier key string and key files
    v = Verifier.from_string(signer.verifier.to_string())
    assert v.verify(cp.text) == parse_checkpoint(cp.text)
    write_key_files(signer, tmp_path / "k", tmp_path / "k.pub")
    assert load_signer(tmp_path / "k").verifier.to_string() == v.to_string()


def test_tampered_checkpoints_are_rejected():
    signer = generate_signer("log")
    cp = signer.sign("log", 7, bytes(32))
    other = generate_signer("log")
    bad_texts = {
        "size changed": cp.text.replace("\n7\n", "\n8\n", 1),
        "root changed": cp.text.replace(base64.b64encode(bytes(32)).decode(), base64.b64encode(b"\x01" * 32).decode()),
        "origin changed": cp.text.replace("log\n", "lag\n", 1),
        "no signature": cp.text.split("\n\n")[0] + "\n\n",
        "other key": other.sign("log", 7, bytes(32)).text,
    }
    for label, text in bad_texts.items():
        with pytest.raises(SignatureError):
            signer.verifier.verify(text)
        assert label


def test_exchange_records_never_contain_an_api_key_unless_given_as_id():
    ex = Exchange(account="a", api_key_id="kid-123", ts="2026-01-01T00:00:00Z", model="m", spec_fingerprint="",
                  prompt="", response="")
    assert set(ex.fields()) == {"account", "api_key_id", "ts", "model", "spec_fingerprint", "content",
                                "prompt", "response"}
