"""Tampering with stored rows is detected by `verify`, with a message that says where."""

from __future__ import annotations

import shutil

import pytest
from ledger_fixtures import location  # noqa: F401  (fixture)

from stillwatch.ledger import Custody, Ledger, TamperError
from stillwatch.ledger import merkle as M
from stillwatch.ledger.records import canonical_json, decode_leaf

N = 40  # records; stored level-4 nodes cover 0..15 and 16..31, level 5+ are folded


def _sql(led: Ledger, stmt: str, params: tuple = ()) -> list:
    """Run raw SQL on either backend, as an attacker with database access would."""
    db = led.store._db
    if type(led.store).__name__ == "PostgresStore":
        cur = db.execute(stmt.replace("?", "%s"), params)
        return cur.fetchall() if cur.description else []
    return db.execute(stmt, params).fetchall()


def _make(loc, key, n=N, checkpoint_at=(N,)) -> tuple[Ledger, list[str]]:
    led = Ledger.create(loc, key_path=key)
    cps = []
    cuts = sorted({0, n, *(c for c in checkpoint_at if 0 < c <= n)})
    for lo, hi in zip(cuts, cuts[1:]):  # one durable commit per stretch between checkpoints (not one per record)
        led.append_many([Custody(actor="clerk", action="file", subject=f"exhibit {i}", ts="2026-02-02T00:00:00Z")
                         for i in range(lo, hi)])
        if hi in checkpoint_at:
            cps.append(led.checkpoint().text)
    led.verify()  # clean before tampering
    return led, cps


def _rewrite(led: Ledger, idx: int, new_subject: str, *, fix_hash: bool) -> None:
    (data,) = [bytes(r[0]) for r in _sql(led, "SELECT data FROM leaves WHERE idx = ?", (idx,))]
    env = decode_leaf(data)
    env["fields"]["subject"] = new_subject
    new = canonical_json(env)
    if fix_hash:
        _sql(led, "UPDATE leaves SET data = ?, hash = ? WHERE idx = ?", (new, M.leaf_hash(new), idx))
    else:
        _sql(led, "UPDATE leaves SET data = ? WHERE idx = ?", (new, idx))


def _problems(led: Ledger, since=None) -> list[str]:
    rep = led.verify(since, raise_on_error=False)
    assert not rep.ok
    with pytest.raises(TamperError):
        rep.raise_if_failed()
    return [p.message for p in rep.problems]


def test_edited_record_is_named(location):  # noqa: F811
    led, _ = _make(*location)
    _rewrite(led, 7, "a different exhibit", fix_hash=False)
    msgs = _problems(led)
    assert msgs[0] == "record 7: its data does not match its stored leaf hash (the record was edited)"
    assert any("stored checkpoint #1 (size 40) does not match the records: the first change is at record 7" in m
               for m in msgs)
    with pytest.raises(TamperError, match="record 7") as ei:
        led.verify()
    assert ei.value.index == 7
    led.close()


def test_edit_with_recomputed_leaf_hash_is_located_to_its_subtree(location):  # noqa: F811
    led, _ = _make(*location)
    _rewrite(led, 20, "forged", fix_hash=True)
    msgs = _problems(led)
    assert msgs[0] == "stored subtree hash for records 16..31 (level 4) disagrees with the records"
    # the checkpoint's manifest (leaf hashes authenticated by the signed roots) names the record itself
    assert msgs[-1] == ("stored checkpoint #1 (size 40) does not match the records: record 20 differs from what was "
                        "signed (the leaf hash was recomputed to match the edit; found by the checkpoint's manifest)")
    led.close()


def test_deleted_row_in_the_middle_is_named(location):  # noqa: F811
    led, _ = _make(*location)
    _sql(led, "DELETE FROM leaves WHERE idx = 12")
    msgs = _problems(led)
    assert msgs[0] == "record 12 is missing (rows deleted)"
    led.close()


def test_deleted_row_inside_the_unstored_right_edge_is_named(location):  # noqa: F811
    led, _ = _make(*location)
    loc, key = location
    led.close()
    led = Ledger.open(loc, key_path=key)
    _sql(led, "DELETE FROM leaves WHERE idx = 35")  # leaves 32..39 have no stored subtree hash
    led.close()
    with Ledger.open(loc, key_path=key) as led:  # still opens, so verify can say where
        msgs = _problems(led)
        assert msgs[0] == "record 35 is missing (rows deleted)"
        with pytest.raises(Exception, match="missing nodes"):
            led.append(Custody(actor="x", action="y", subject="z"))  # refuses to build on a damaged tree


def test_deleted_rows_at_the_end_are_named(location):  # noqa: F811
    led, _ = _make(*location)
    _sql(led, "DELETE FROM leaves WHERE idx >= 37")
    msgs = _problems(led)
    assert "stored checkpoint #1 (size 40) covers 40 records but the ledger has only 37: records 37..39 were deleted" in msgs
    led.close()


def test_reordered_rows_are_named(location):  # noqa: F811
    led, _ = _make(*location)
    a = _sql(led, "SELECT data, hash FROM leaves WHERE idx = 3")[0]
    b = _sql(led, "SELECT data, hash FROM leaves WHERE idx = 8")[0]
    _sql(led, "UPDATE leaves SET data = ?, hash = ? WHERE idx = 3", (bytes(b[0]), bytes(b[1])))
    _sql(led, "UPDATE leaves SET data = ?, hash = ? WHERE idx = 8", (bytes(a[0]), bytes(a[1])))
    msgs = _problems(led)
    assert msgs[0].startswith("row 3 holds the record written as seq 8: rows were reordered")
    assert msgs[1].startswith("row 8 holds the record written as seq 3")
    led.close()


def test_inserted_row_is_named(location):  # noqa: F811
    led, _ = _make(*location)
    for i in range(N - 1, 4, -1):  # shift rows 5.. up by one, then forge a row 5 with a valid hash
        _sql(led, "UPDATE leaves SET idx = ? WHERE idx = ?", (i + 1, i))
    forged = canonical_json({"fields": {"actor": "clerk", "action": "file", "subject": "backdated", "details": "",
                                        "ts": "2026-02-02T00:00:00.000000Z"}, "seq": 5, "type": "custody", "v": 1})
    _sql(led, "INSERT INTO leaves (idx, kind, data, hash) VALUES (?, ?, ?, ?)",
         (5, "custody", forged, M.leaf_hash(forged)))
    msgs = _problems(led)
    assert msgs[0] == ("rows 5 and 6 both hold the record written as seq 5: a row was inserted at index 5 or 6")
    led.close()


def test_forged_checkpoint_signature_is_named(location):  # noqa: F811
    led, _ = _make(*location)
    (text,) = [r[0] for r in _sql(led, "SELECT text FROM checkpoints")]
    lines = text.split("\n")
    lines[1] = "39"
    _sql(led, "UPDATE checkpoints SET text = ?", ("\n".join(lines),))
    msgs = _problems(led)
    assert msgs[0].startswith("stored checkpoint #1 (size 40) is not validly signed: checkpoint signature by key")
    led.close()


def test_rewritten_history_is_caught_by_an_older_checkpoint(tmp_path):
    """An attacker who holds the key rebuilds the log from record 10 on into a new, consistent tree.

    The rebuilt ledger is self-consistent (a plain `verify` cannot know), but the checkpoint an
    auditor kept from before does not match it, and `verify --since` says which records changed.
    """
    loc = tmp_path / "orig.db"
    led, cps = _make(str(loc), None, n=30, checkpoint_at=(10, 30))
    led.close()
    forged_loc = tmp_path / "forged.db"
    shutil.copy(str(loc) + ".key", str(forged_loc) + ".key")
    shutil.copy(str(loc) + ".pub", str(forged_loc) + ".pub")
    orig = Ledger.open(loc)
    forged = Ledger(_clone_store(orig, forged_loc, keep=10), forged_loc.with_name("forged.db.key"),
                    forged_loc.with_name("forged.db.pub"))
    for i in range(10, 30):
        forged.append(Custody(actor="clerk", action="file", subject=f"rewritten {i}", ts="2026-02-02T00:00:00Z"))
    forged.checkpoint()
    assert forged.verify().ok  # self-consistent, re-signed with the stolen key
    old_at_10, old_at_30 = cps
    assert forged.verify(since=old_at_10).ok  # the first 10 records were not touched
    rep = forged.verify(since=old_at_30, raise_on_error=False)
    assert [p.message for p in rep.problems] == [
        "the --since checkpoint (size 30) does not match the records: records 0..29 were rewritten after it "
        "was signed (the stored tree is consistent with itself, so history was rebuilt)"
    ]
    orig.close()
    forged.close()


def _clone_store(src: Ledger, path, keep: int):
    """A new SQLite store holding src's meta and first `keep` records (the attacker's starting point)."""
    from stillwatch.ledger.store import SQLiteStore
    from stillwatch.ledger.tree import CompactRange

    st = SQLiteStore(path, create=True)
    st.set_meta(src.store.get_meta())
    rows = list(src.store.iter_leaves(0, keep))
    rng, nodes = CompactRange(), []
    for _, _, _, h in rows:
        rng.append(bytes(h), nodes)
    st.begin()
    st.write_batch(rows, nodes)
    return st


def test_signing_never_attests_an_edit_and_readers_cannot_write(location):  # noqa: F811
    """Both backends. Record 7 is edited with its leaf hash recomputed; the stored subtree hash over
    records 0..15 still holds the signed value. Then: `export` refuses and stores nothing, the proof
    against the signed root fails, a new checkpoint attests the *original* tree (its root is the one
    signed before the edit, so the edit can never be proven), and a read-only open cannot write."""
    from stillwatch.errors import StillwatchError, VerificationError
    from stillwatch.ledger.bundle import export_bundle

    led, _ = _make(*location)
    signed_root = led.signed_checkpoints()[-1][1].root
    assert led.prove_signed(7)[0].root == signed_root
    _rewrite(led, 7, "forged", fix_hash=True)
    n_cps = len(led.store.checkpoints())
    with pytest.raises(VerificationError, match="not in the tree signed by checkpoint #1"):
        led.prove_signed(7)
    with pytest.raises(VerificationError, match="not in the tree signed by checkpoint #1"):
        export_bundle(led, [7], actor="x")
    assert len(led.store.checkpoints()) == n_cps and led.size == N
    assert led.checkpoint().root == signed_root
    loc, key = location
    led.close()
    with Ledger.open(loc, key_path=key, read_only=True) as ro:
        with pytest.raises(StillwatchError):
            ro.append(Custody(actor="x", action="y", subject="z"))
        assert ro.size == N
