"""The Ledger on SQLite and PostgreSQL: roots, proofs, checkpoints and appends, checked independently."""

from __future__ import annotations

import os
import stat
import threading

import ledger_naive as naive
import pytest
from ledger_fixtures import location  # noqa: F401  (fixture)

from stillwatch.errors import KeyFileError
from stillwatch.ledger import Custody, Exchange, Ledger, RecordError, ToSAcceptance
from stillwatch.ledger import merkle as M
from stillwatch.ledger.checkpoint import parse_checkpoint
from stillwatch.ledger.errors import IndexOutOfRangeError, SignatureError


def _ex(i: int) -> Exchange:
    return Exchange(account=f"acct-{i % 5}", api_key_id=f"key-{i % 3}", ts=f"2026-03-01T10:{i % 60:02d}:00Z",
                    model="teacher", spec_fingerprint="kgw:h=1", prompt=f"prompt {i}", response=f"response {i} ü")


def _stored_data(led: Ledger) -> list[bytes]:
    return [bytes(d) for _, _, d, _ in led.store.iter_leaves()]


def test_roots_and_proofs_match_the_naive_reference_at_every_size(location):  # noqa: F811
    loc, key = location
    led = Ledger.create(loc, key_path=key)
    try:
        sizes_seen = []
        batches = [1, 1, 2, 3, 5, 8, 13, 21, 34, 1, 1, 47, 16, 64]  # 217 records, stored levels 4 and 8 in use
        i = 0
        for b in batches:
            idx = led.append_many([_ex(i + k) for k in range(b)])
            assert idx == list(range(i, i + b))
            i += b
            sizes_seen.append(i)
        data = _stored_data(led)
        assert len(data) == i == led.size
        for n in sizes_seen + [100, 128, 129, 200]:
            assert led.root(n) == naive.mth(data[:n]), n
        n = led.size
        for idx in (0, 1, 15, 16, 17, 100, 127, 128, n - 1):
            p = led.prove(idx)
            assert list(p.hashes) == naive.path(idx, data), idx
            M.verify_inclusion(M.leaf_hash(data[idx]), idx, n, list(p.hashes), naive.mth(data))
        for m in (1, 4, 16, 17, 100, 128, 129, n - 1, n):
            assert led.consistency(m) == naive.proof(m, data), m
        for idx, size in ((3, 17), (100, 129), (0, 1)):
            assert list(led.prove(idx, size).hashes) == naive.path(idx, data[:size])
        with pytest.raises(IndexOutOfRangeError):
            led.prove(n)
        with pytest.raises(IndexOutOfRangeError):
            led.prove(0, n + 1)
    finally:
        led.close()


def test_leaf_data_is_the_canonical_record_with_its_seq(location):  # noqa: F811
    loc, key = location
    with Ledger.create(loc, key_path=key) as led:
        led.append(_ex(0))
        (data,) = _stored_data(led)
    expected = ('{"fields":{"account":"acct-0","api_key_id":"key-0","content":"full","model":"teacher",'
                '"prompt":"prompt 0","response":"response 0 \u00fc","spec_fingerprint":"kgw:h=1",'
                '"ts":"2026-03-01T10:00:00.000000Z"},"seq":0,"type":"exchange","v":1}').encode("utf-8")
    assert data == expected


def test_checkpoint_signed_and_reopened(location):  # noqa: F811
    loc, key = location
    led = Ledger.create(loc, key_path=key)
    led.append_many([_ex(i) for i in range(10)])
    cp = led.checkpoint()
    assert (cp.size, cp.root) == (10, naive.mth(_stored_data(led)))
    assert parse_checkpoint(cp.text) == cp.__class__(cp.origin, 10, cp.root, cp.text)
    led.close()
    led2 = Ledger.open(loc, key_path=key)
    try:
        assert led2.latest_checkpoint().root == cp.root
        assert led2.size == 10 and led2.root() == cp.root
        led2.append(_ex(10))  # the reopened ledger continues the same tree
        assert led2.root() == naive.mth(_stored_data(led2))
        M.verify_consistency(10, 11, cp.root, led2.root(), led2.consistency(10))
        rep = led2.verify()
        assert rep.ok and rep.size == 11 and rep.unsigned_tail == 1
    finally:
        led2.close()


def test_signing_key_file_is_private_and_never_in_the_ledger(location):  # noqa: F811
    loc, key = location
    with Ledger.create(loc, key_path=key) as led:
        led.append(_ex(1))
        cp = led.checkpoint()
        key_file = led.key_path
        # PRIVATE+KEY+<name>+<key id>+<base64 seed>: the base64 part may itself hold '+'
        secret = key_file.read_text().strip().split("+", 4)[4]
        assert len(secret) >= 44
        assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
        everything = b"".join(_stored_data(led)) + repr(led.store.get_meta()).encode() + cp.text.encode()
        assert secret.encode() not in everything
        assert secret not in repr(led.signer())
    os.chmod(key_file, 0o644)
    with Ledger.open(loc, key_path=key) as led:
        with pytest.raises(KeyFileError, match="mode 0644; it must be 0600") as ei:
            led.checkpoint()
        assert secret not in str(ei.value)


def test_bad_records_are_rejected_and_nothing_is_stored(location):  # noqa: F811
    loc, key = location
    with Ledger.create(loc, key_path=key) as led:
        led.append(_ex(0))
        with pytest.raises(RecordError, match="source_address 'not-an-ip' is not an IP address"):
            led.append_many([_ex(1), {"type": "tos_acceptance", "account": "a", "terms_version": "v1",
                                      "terms_sha256": "0" * 64, "ts": "2026-01-01T00:00:00Z",
                                      "source_address": "not-an-ip"}])
        with pytest.raises(RecordError, match="record type 'nope'"):
            led.append({"type": "nope"})
        assert led.size == 1
        led.verify()


def test_concurrent_appends_are_group_committed_and_all_land(location):  # noqa: F811
    loc, key = location
    with Ledger.create(loc, key_path=key) as led:
        results: dict[int, list[int]] = {}

        def worker(t: int) -> None:
            results[t] = [led.append(Custody(actor=f"t{t}", action="test", subject=str(k))) for k in range(40)]

        threads = [threading.Thread(target=worker, args=(t,)) for t in range(6)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        all_idx = sorted(i for v in results.values() for i in v)
        assert all_idx == list(range(240))
        # each thread's own records appear in its call order with the index it was told
        for idx, _, data, _ in led.store.iter_leaves():
            assert f'"seq":{idx},' in data.decode()
        led.verify()


def test_two_writers_on_one_ledger_interleave_correctly(location):  # noqa: F811
    loc, key = location
    a = Ledger.create(loc, key_path=key)
    b = Ledger.open(loc, key_path=key)
    try:
        for k in range(5):
            a.append_many([_ex(10 * k + j) for j in range(3)])
            b.append_many([_ex(10 * k + j + 5) for j in range(2)])
        assert a.size == b.size == 25
        assert a.root() == b.root() == naive.mth(_stored_data(a))
        b.checkpoint()
        a.verify()
    finally:
        a.close()
        b.close()


def test_digest_mode_stores_no_text(tmp_path):
    with Ledger.create(tmp_path / "d.db", exchange_content="digest") as led:
        led.append(_ex(7))
        (data,) = _stored_data(led)
    assert b"prompt 7" not in data and b"response 7" not in data
    import hashlib

    assert hashlib.sha256("prompt 7".encode()).hexdigest().encode() in data


def test_create_refuses_existing_and_open_needs_existing(tmp_path):
    p = tmp_path / "x.db"
    Ledger.create(p).close()
    with pytest.raises(Exception, match="already exists"):
        Ledger.create(p)
    with pytest.raises(Exception, match="does not exist"):
        Ledger.open(tmp_path / "missing.db")


def test_checkpoint_from_another_ledger_key_is_rejected(tmp_path):
    a = Ledger.create(tmp_path / "a.db")
    b = Ledger.create(tmp_path / "b.db", origin=a.origin)
    a.append(_ex(0))
    b.append(_ex(0))
    cp_b = b.checkpoint()
    with pytest.raises(SignatureError):
        a.verifier.verify(cp_b.text)
    rep = a.verify(since=cp_b.text, raise_on_error=False)
    assert not rep.ok and "not validly signed" in rep.problems[0].message
    a.close()
    b.close()


def test_tos_record_normalizes_time_and_address():
    r = ToSAcceptance(account="a", terms_version="2026-01", terms_sha256="AB" * 32,
                      ts="2026-01-01T01:00:00+01:00", source_address=" 2001:DB8::1 ")
    assert r.ts == "2026-01-01T00:00:00.000000Z"
    assert r.source_address == "2001:db8::1"
    assert r.terms_sha256 == "ab" * 32


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.integers(1, 40), min_size=1, max_size=8), data=st.data())
def test_property_stored_tree_equals_pure_functions(tmp_path_factory, batches, data):
    """Any sequence of batch sizes: the store's roots and proofs equal the pure in-memory ones."""
    path = tmp_path_factory.mktemp("prop") / "p.db"
    with Ledger.create(path) as led:
        i = 0
        for b in batches:
            led.append_many([Custody(actor="p", action="a", subject=str(i + k)) for k in range(b)])
            i += b
        hashes = [M.leaf_hash(d) for d in _stored_data(led)]
        n = len(hashes)
        idx = data.draw(st.integers(0, n - 1))
        m = data.draw(st.integers(0, n))
        assert led.root() == M.root_from_hashes(hashes)
        assert led.root(m) == M.root_from_hashes(hashes[:m])
        assert list(led.prove(idx).hashes) == M.inclusion_proof_from_hashes(hashes, idx)
        assert led.consistency(m) == M.consistency_proof_from_hashes(hashes, m)


def test_compact_range_extend_equals_append_and_the_pure_root():
    from stillwatch.ledger.tree import CompactRange

    hashes = [M.leaf_hash(str(i).encode()) for i in range(300)]
    for cut in (0, 1, 15, 16, 17, 255, 256, 299):
        a, b = CompactRange(), CompactRange()
        na: list = []
        nb: list = []
        for h in hashes[:cut]:
            a.append(h, na)
        b.extend(hashes[:cut], nb)
        for h in hashes[cut:]:
            a.append(h, na)
        b.extend(hashes[cut:], nb)
        assert a.stack == b.stack and a.size == b.size == 300 and na == nb
        assert b.root() == M.root_from_hashes(hashes)
        # stored nodes are exactly the perfect subtrees at levels 4 and 8
        expect = [(lv, i, M.root_from_hashes(hashes[i << lv:(i + 1) << lv]))
                  for lv in (4, 8) for i in range(300 >> lv)]
        assert sorted(nb) == sorted(expect)
