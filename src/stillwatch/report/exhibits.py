"""Exhibited ledger records, summarised column-wise (pyarrow), and their inclusion proofs.

Records are parsed in one vectorised pass (``pyarrow.json``) — a case may exhibit 100,000 exchanges —
and summarised per account, per hour and per piece of shared infrastructure (an IP address, user
agent or payment fingerprint used by two or more of the exhibited accounts).
"""

from __future__ import annotations

import io
from typing import Any

from stillwatch.ledger import Checkpoint, Ledger, merkle

from .errors import CaseError
from .tlogproof import format_proof

__all__ = ["records_table", "summarise", "ledger_proofs"]

INFRA_FIELDS = ("ip", "user_agent", "payment_fingerprint")


def records_table(exhibits: list[tuple[int, bytes]]) -> Any:
    """A pyarrow table with ``index``, ``type`` and the records' fields (``fields.<name>``) as columns."""
    import pyarrow as pa
    import pyarrow.json as pj

    if not exhibits:
        return pa.table({"index": pa.array([], pa.int64()), "type": pa.array([], pa.string())})
    raw = pj.read_json(io.BytesIO(b"\n".join(d for _, d in exhibits)), read_options=pj.ReadOptions(block_size=1 << 24))
    cols = {"index": pa.array([i for i, _ in exhibits], pa.int64()), "type": raw.column("type")}
    fields = raw.column("fields").combine_chunks()
    for f in fields.type:
        cols[f.name] = fields.field(f.name)
    return pa.table(cols)


def _col(table: Any, name: str) -> Any:
    import pyarrow as pa

    return table.column(name) if name in table.column_names else pa.nulls(table.num_rows, pa.string())


def summarise(table: Any, flagged: set[str]) -> dict[str, Any]:
    """Counts by type; the exchanges' hourly timeline; shared infrastructure among their accounts."""
    import pyarrow as pa
    import pyarrow.compute as pc

    types = {r["values"]: r["counts"] for r in pc.value_counts(table.column("type")).to_pylist()} if table.num_rows else {}
    ex = table.filter(pc.equal(table.column("type"), "exchange")) if table.num_rows else table
    out: dict[str, Any] = {"by_type": dict(sorted(types.items())), "timeline": [], "infrastructure": [], "accounts": []}
    if ex.num_rows == 0:
        return out
    ts = pc.strptime(pc.utf8_slice_codeunits(_col(ex, "ts"), 0, 19), format="%Y-%m-%dT%H:%M:%S", unit="s")
    hours = pc.floor_temporal(ts, unit="hour")
    tl = pa.table({"h": hours}).group_by("h").aggregate([("h", "count")]).sort_by("h")
    out["timeline"] = [{"hour": h.strftime("%Y-%m-%dT%H:00Z"), "exchanges": n}
                       for h, n in zip(tl.column("h").to_pylist(), tl.column("h_count").to_pylist(), strict=True)]
    acc = pa.table({"account": _col(ex, "account"), "ts": ts})
    per = acc.group_by("account").aggregate([("ts", "count"), ("ts", "min"), ("ts", "max")]).sort_by([("ts_count", "descending")])
    out["accounts"] = [{"account": a, "exchanges": n, "first": f.strftime("%Y-%m-%dT%H:%M:%SZ"), "last": last.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "flagged": a in flagged}
                       for a, n, f, last in zip(*(per.column(c).to_pylist() for c in ("account", "ts_count", "ts_min", "ts_max")), strict=True)]
    infra = []
    for field in INFRA_FIELDS:
        t = pa.table({"v": _col(ex, field), "account": _col(ex, "account")}).filter(pc.is_valid(_col(ex, field)))
        if t.num_rows == 0:
            continue
        g = t.group_by("v").aggregate([("account", "count_distinct"), ("account", "count")])
        g = g.filter(pc.greater_equal(g.column("account_count_distinct"), 2)).sort_by([("account_count_distinct", "descending")])
        for v, na, ne in zip(*(g.column(c).to_pylist() for c in ("v", "account_count_distinct", "account_count")), strict=True):
            infra.append({"kind": field, "value": str(v), "accounts": na, "exchanges": ne})
    out["infrastructure"] = sorted(infra, key=lambda r: (-r["accounts"], -r["exchanges"], r["kind"], r["value"]))
    return out


def ledger_proofs(location: str, ledger_key: str, pinned_text: str | None,
                  exhibits: list[tuple[int, bytes]]) -> tuple[Checkpoint, dict[int, str]]:
    """One C2SP tlog-proof per exhibited record against the ledger's latest signed checkpoint.

    Checks, before anything is written: the ledger's key is ``ledger_key``; its latest checkpoint's
    signature; consistency from ``pinned_text`` (the checkpoint signed when the records were exhibited);
    that the stored leaf hashes fold to the signed root; and that each exhibited record's bytes are
    the ledger's bytes at its index. Raises CaseError naming what differs.
    """
    with Ledger.open(location, read_only=True) as led:
        if led.verifier.to_string() != ledger_key:
            raise CaseError(f"the ledger at {location} is not signed by the key this case was opened with")
        cp = led.latest_checkpoint()
        if cp is None:
            raise CaseError("the ledger has no signed checkpoint")
        if pinned_text:
            old = led.verifier.verify(pinned_text, origin=led.origin)
            if old.size > cp.size:
                raise CaseError(f"the ledger's latest checkpoint ({cp.size}) is older than the case's ({old.size})")
            if old.size < cp.size:
                merkle.verify_consistency(old.size, cp.size, old.root, cp.root, led.consistency(old.size, cp.size))
            elif old.root != cp.root:
                raise CaseError("the ledger's latest checkpoint contradicts the one the case pinned (same size, other root)")
        want = dict(exhibits)
        if want and max(want) >= cp.size:
            raise CaseError(f"record {max(want)} is not covered by the ledger's latest checkpoint (size {cp.size})")
        hashes: list[bytes] = []
        for idx, _kind, data, leaf in led.store.iter_leaves(0, cp.size):
            hashes.append(bytes(leaf))
            if idx in want and bytes(data) != want[idx]:
                raise CaseError(f"exhibited record {idx} differs from the ledger's record {idx}")
    tree = merkle.PerfectLevels(hashes)
    if tree.root() != cp.root:
        raise CaseError("the ledger's stored leaf hashes do not fold to its signed root; run `stillwatch ledger verify`")
    proofs = {}
    for idx, data in exhibits:
        if merkle.leaf_hash(data) != hashes[idx]:
            raise CaseError(f"exhibited record {idx}: its leaf hash is not the ledger's")
        path = [tree.range_hash(a, b) for a, b in merkle.inclusion_ranges(idx, cp.size)]
        proofs[idx] = format_proof(idx, path, cp.text)
    return cp, proofs
