"""Helpers for the adversarial ledger tests: the attacker's tools. The commands themselves run
through the suite's one in-process CLI fixture, ``cli`` (tests/conftest.py), passed in by the test."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path

from stillwatch.ledger import merkle as M
from stillwatch.ledger.records import canonical_json, decode_leaf


def records_file(path: Path, n: int, start: int = 0) -> Path:
    lines = [json.dumps({"type": "custody", "actor": "clerk", "action": "file", "subject": f"exhibit {i}",
                         "ts": "2026-02-02T00:00:00Z"}) for i in range(start, start + n)]
    path.write_text("\n".join(lines) + "\n")
    return path


def make_ledger(cli, tmp: Path, n: int = 13, name: str = "ev.db", origin: str = "example.com/evidence") -> str:
    """A ledger of ``n`` custody records with one checkpoint at ``n``, made through the real CLI
    (``cli``: the suite's fixture)."""
    db = str(tmp / name)
    cli("ledger", "init", db, "--origin", origin).ok()
    cli("ledger", "append", db, records_file(tmp / f"{name}.jsonl", n)).ok()
    cli("ledger", "checkpoint", db).ok()
    return db


def sql(db: str, stmt: str, params: tuple = ()) -> list:
    con = sqlite3.connect(db)
    try:
        rows = con.execute(stmt, params).fetchall()
        con.commit()
        return rows
    finally:
        con.close()


def edit_record(db: str, idx: int, subject: str, *, fix_hash: bool = True, rebuild_nodes: bool = False) -> None:
    """The attacker edits record ``idx``; optionally recomputes its leaf hash and rebuilds the nodes table."""
    (data,) = [bytes(r[0]) for r in sql(db, "SELECT data FROM leaves WHERE idx = ?", (idx,))]
    env = decode_leaf(data)
    env["fields"]["subject"] = subject
    new = canonical_json(env)
    if fix_hash:
        sql(db, "UPDATE leaves SET data = ?, hash = ? WHERE idx = ?", (new, M.leaf_hash(new), idx))
    else:
        sql(db, "UPDATE leaves SET data = ? WHERE idx = ?", (new, idx))
    if rebuild_nodes:
        rebuild_tree(db)


def rebuild_tree(db: str) -> None:
    """Recompute every stored subtree hash from the leaves table (so the stored tree agrees with an edit)."""
    from stillwatch.ledger.tree import CompactRange

    hashes = [bytes(r[0]) for r in sql(db, "SELECT hash FROM leaves ORDER BY idx")]
    rng, nodes = CompactRange(), []
    for h in hashes:
        rng.append(h, nodes)
    con = sqlite3.connect(db)
    con.execute("DELETE FROM nodes")
    con.executemany("INSERT INTO nodes (level, idx, hash) VALUES (?, ?, ?)", nodes)
    con.commit()
    con.close()


def digest(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def state(db: str) -> tuple[int, int]:
    """(records, checkpoints) as stored."""
    return (sql(db, "SELECT count(*) FROM leaves")[0][0], sql(db, "SELECT count(*) FROM checkpoints")[0][0])


def read_pipe(fd: int) -> bytes:
    """Everything until EOF on the pipe ``fd`` (then closed)."""
    chunks = []
    while True:
        b = os.read(fd, 65536)
        if not b:
            break
        chunks.append(b)
    os.close(fd)
    return b"".join(chunks)
