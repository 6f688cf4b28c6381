"""Full verification of a ledger: every record, every stored subtree hash, every checkpoint.

One streaming pass over the records (in index order) checks, for each row:

1. the index sequence has no gap (a deleted row is named by its index);
2. the record's ``seq`` equals its row index (reordered / inserted / renumbered rows are named);
3. ``SHA-256(0x00 || data)`` equals the stored leaf hash (an edited record is named);

and recomputes the tree from the records' data. Then:

4. every stored interior node is compared with the recomputed one (names the leaf range);
5. every stored checkpoint's signature is checked with the trusted public key and its root with the
   recomputed root at its size; a mismatch is located between the last matching checkpoint and it;
6. an external checkpoint (``since``, e.g. one handed to an auditor earlier) is checked the same way
   — this catches a history rewritten wholesale into a new, self-consistent tree.

When a signed root does not match, the change is named by record where the evidence allows: a
record whose data no longer matches its stored leaf hash (1.-3.), a stored subtree hash that
disagrees (4.), or — when the attacker recomputed the leaf hash and rebuilt the subtree hashes too —
the checkpoint's *manifest* (the leaf hashes it covered, stored when it was signed; see
:mod:`.presign`). A manifest is trusted only after it is authenticated by two signed roots (its
compact range folds to the signed root at its start, and extended by its leaf hashes to the signed
root at its end), so editing it cannot hide anything: an attacker who also edits it only loses the
record-level message, and the range-level one remains.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import merkle
from .checkpoint import Checkpoint, Verifier
from .errors import RecordError, SignatureError, TamperError
from .records import decode_leaf
from .store import STRIDE, Store
from .tree import CompactRange

if TYPE_CHECKING:
    from .ledger import Ledger

__all__ = ["Problem", "VerifyReport", "verify_ledger"]

_FLUSH = 65536
_MAX_PER_KIND = 20


@dataclass(frozen=True)
class Problem:
    kind: str
    message: str
    index: int | None = None
    span: tuple[int, int] | None = None


@dataclass
class VerifyReport:
    size: int = 0
    root: bytes = b""
    checkpoints_checked: int = 0
    latest_checkpoint_size: int | None = None
    since_size: int | None = None
    problems: list[Problem] = field(default_factory=list)
    suppressed: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def unsigned_tail(self) -> int:
        """Records appended after the latest checkpoint (not yet covered by a signature)."""
        return self.size - (self.latest_checkpoint_size or 0)

    def add(self, kind: str, message: str, index: int | None = None, span: tuple[int, int] | None = None) -> None:
        if sum(p.kind == kind for p in self.problems) >= _MAX_PER_KIND:
            self.suppressed += 1
            return
        self.problems.append(Problem(kind, message, index, span))

    def raise_if_failed(self) -> None:
        if self.problems:
            first = self.problems[0]
            more = len(self.problems) - 1 + self.suppressed
            tail = f" (and {more} more problem{'s' if more != 1 else ''})" if more else ""
            raise TamperError(f"ledger verification failed: {first.message}{tail}", first.index, first.span)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "size": self.size,
            "root": self.root.hex(),
            "checkpoints_checked": self.checkpoints_checked,
            "latest_checkpoint_size": self.latest_checkpoint_size,
            "unsigned_tail": self.unsigned_tail,
            "since_size": self.since_size,
            "problems": [p.__dict__ for p in self.problems],
            "suppressed_problems": self.suppressed,
            "seconds": round(self.seconds, 3),
        }


def _span_text(a: int, b: int) -> str:
    return f"record {a}" if b - a == 1 else f"records {a}..{b - 1}"


def verify_ledger(
    ledger: Ledger,
    since: str | Checkpoint | None = None,
    verifier: Verifier | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> VerifyReport:
    t0 = time.perf_counter()
    rep = VerifyReport()
    store = ledger.store
    verifier = verifier or ledger.verifier

    # (size, root, label) of every signed tree head to check
    heads: list[tuple[int, bytes, str]] = []
    for cid, size, root, text in store.checkpoints():
        try:
            cp = verifier.verify(text, origin=ledger.origin)
        except SignatureError as exc:
            rep.add("checkpoint", f"stored checkpoint #{cid} (size {size}) is not validly signed: {exc}")
            continue
        if cp.size != size or cp.root != bytes(root):
            rep.add("checkpoint", f"stored checkpoint #{cid}: its size/root columns disagree with its signed text")
        heads.append((cp.size, cp.root, f"stored checkpoint #{cid} (size {cp.size})"))
        rep.latest_checkpoint_size = cp.size
    if since is not None:
        text = since.text if isinstance(since, Checkpoint) else since
        try:
            cp = verifier.verify(text, origin=ledger.origin)
        except SignatureError as exc:
            rep.add("checkpoint", f"the --since checkpoint is not validly signed by this ledger's key: {exc}")
        else:
            rep.since_size = cp.size
            heads.append((cp.size, cp.root, f"the --since checkpoint (size {cp.size})"))
    targets = {s for s, _, _ in heads}
    signed_roots = {0: merkle.EMPTY_ROOT, **{s: r for s, r, _ in heads}}
    roots_at: dict[int, bytes] = {0: merkle.EMPTY_ROOT}

    total = store.size()
    rng = CompactRange()
    completed: list[tuple[int, int, bytes]] = []
    bad_leaf: int | None = None  # the first leaf found wrong, to locate checkpoint mismatches
    bad_nodes: list[tuple[int, int]] = []
    expected = 0
    prev_seq = None
    lh = merkle.leaf_hash
    for idx, kind, data, stored_hash in store.iter_leaves():
        if idx != expected:
            rep.add("missing", f"{_span_text(expected, idx)} {_be(expected, idx)} missing (rows deleted)",
                    expected, (expected, idx))
            bad_leaf = expected if bad_leaf is None else bad_leaf
            expected = idx
        data = _as_bytes(data)
        h = lh(data)
        pos = rng.size
        if h != _as_bytes(stored_hash):
            rep.add("edited", f"record {idx}: its data does not match its stored leaf hash (the record was edited)",
                    idx, (idx, idx + 1))
            bad_leaf = pos if bad_leaf is None else bad_leaf
        try:
            env = decode_leaf(data)
            seq, etype = env["seq"], env["type"]
        except RecordError as exc:
            rep.add("malformed", f"record {idx}: {exc}", idx, (idx, idx + 1))
            seq, etype = None, kind
        if seq is not None and seq == prev_seq:
            rep.add("order", f"rows {idx - 1} and {idx} both hold the record written as seq {seq}: a row was "
                    f"inserted at index {idx - 1} or {idx}", idx - 1, (idx - 1, idx + 1))
            bad_leaf = pos - 1 if bad_leaf is None else bad_leaf
        elif seq != idx:
            rep.add("order", f"row {idx} holds the record written as seq {seq}: rows were reordered, inserted "
                    f"or renumbered at index {idx}", idx, (idx, idx + 1))
            bad_leaf = pos if bad_leaf is None else bad_leaf
        elif etype != kind:
            rep.add("edited", f"record {idx}: type column {kind!r} disagrees with the record's type {etype!r}",
                    idx, (idx, idx + 1))
        prev_seq = seq
        rng.append(h, completed)
        if rng.size in targets:
            roots_at[rng.size] = rng.root()
        expected = idx + 1
        if len(completed) >= _FLUSH // 16:
            bad_nodes += _compare_nodes(store, completed, rep)
            completed = []
        if progress is not None and rng.size % 8192 == 0:
            progress(rng.size, total)
    bad_nodes += _compare_nodes(store, completed, rep)
    size = rng.size
    for level in range(STRIDE, max(size, 1).bit_length() + STRIDE, STRIDE):
        extra = sum(1 for _ in store.iter_nodes(level, size >> level))
        if extra:
            rep.add("nodes", f"{extra} stored subtree hash(es) at level {level} lie beyond the last record")
    if progress is not None:
        progress(size, total)

    rep.size = size
    rep.root = rng.root()
    good_sizes = [0]
    for hsize, hroot, label in sorted(heads):
        rep.checkpoints_checked += 1
        if hsize > size:
            rep.add("truncated", f"{label} covers {hsize} records but the ledger has only {size}: "
                    f"{_span_text(size, hsize)} {_be(size, hsize, past=True)} deleted", size, (size, hsize))
            continue
        if roots_at[hsize] == hroot:
            good_sizes.append(hsize)
            continue
        lo = max(s for s in good_sizes if s < hsize)
        named = _name_by_manifests(store, lo, hsize, signed_roots) if bad_leaf is None else None
        if named:
            first = named[0]
            rep.add("edited", f"{label} does not match the records: {_named_text(named)} "
                    f"{'differs' if len(named) == 1 else 'differ'} from what was signed (the leaf hash was recomputed to "
                    f"match the edit; found by the checkpoint's manifest)", first, (first, named[-1] + 1))
            continue
        where = _locate(lo, hsize, bad_leaf, bad_nodes)
        rep.add("checkpoint", f"{label} does not match the records: {where}", None, (lo, hsize))
    rep.seconds = time.perf_counter() - t0
    return rep


def _as_bytes(value: Any) -> bytes:
    """A stored BLOB as bytes; a tampering tool may have turned it into text or NULL."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    if value is None:
        return b""
    if isinstance(value, (int, float)):
        return str(value).encode()
    return bytes(value)


def _be(a: int, b: int, past: bool = False) -> str:
    if past:
        return "was" if b - a == 1 else "were"
    return "is" if b - a == 1 else "are"


def _locate(lo: int, hi: int, bad_leaf: int | None, bad_nodes: list[tuple[int, int]]) -> str:
    if bad_leaf is not None and lo <= bad_leaf < hi:
        return f"the first change is at record {bad_leaf}"
    spans = [(a, b) for a, b in bad_nodes if lo <= a < hi]
    if spans:
        a, b = min(spans)
        return f"the first change lies in {_span_text(a, min(b, hi))}"
    return (f"{_span_text(lo, hi)} {_be(lo, hi, past=True)} rewritten after it was signed (the stored tree is consistent "
            f"with itself, so history was rebuilt)")


def _compare_nodes(store: Any, completed: list[tuple[int, int, bytes]], rep: VerifyReport) -> list[tuple[int, int]]:
    bad: list[tuple[int, int]] = []
    by_level: dict[int, list[tuple[int, bytes]]] = {}
    for level, idx, h in completed:
        by_level.setdefault(level, []).append((idx, h))
    for level, items in by_level.items():
        lo, hi = items[0][0], items[-1][0] + 1
        stored = {i: bytes(h) for _, i, h in store.iter_nodes(level, lo, hi)}
        for idx, h in items:
            got = stored.get(idx)
            if got != h:
                a, b = idx << level, (idx + 1) << level
                what = "is missing" if got is None else "disagrees with the records"
                rep.add("nodes", f"stored subtree hash for {_span_text(a, b)} (level {level}) {what}", a, (a, b))
                bad.append((a, b))
    return bad


def _named_text(indices: list[int]) -> str:
    shown = ", ".join(map(str, indices[:10])) + (f" and {len(indices) - 10} more" if len(indices) > 10 else "")
    return f"record {shown}" if len(indices) == 1 else f"records {shown}"


def _name_by_manifests(store: Store, lo: int, hi: int, signed: dict[int, bytes]) -> list[int] | None:
    """Indices in ``[lo, hi)`` whose data differs from the leaf hashes an authenticated manifest holds.

    ``None`` when no authenticated manifest covers the range (no manifests, or edited ones).
    """
    try:
        rows = store.manifests()
    except Exception:  # noqa: BLE001 - a damaged manifests table only costs the record-level message
        return None
    found = False
    differing: list[int] = []
    for row in rows:
        leaf_hashes = _authenticated(row, signed)
        if leaf_hashes is None:
            continue
        start, end = int(row[0]), int(row[1])
        if end <= lo or start >= hi:
            continue
        found = True
        for idx, _kind, data, _h in store.iter_leaves(max(start, lo), min(end, hi)):
            if merkle.leaf_hash(_as_bytes(data)) != leaf_hashes[idx - start]:
                differing.append(idx)
    return sorted(set(differing)) if found else None


def _authenticated(row: Any, signed: dict[int, bytes]) -> list[bytes] | None:
    """The leaf hashes of a manifest row if two signed roots vouch for it, else ``None``."""
    try:
        start, end = int(row[0]), int(row[1])
        peaks, hashes = _as_bytes(row[2]), _as_bytes(row[3])
    except (TypeError, ValueError):
        return None
    if start not in signed or end not in signed or not 0 <= start < end:
        return None
    parts = merkle.perfect_parts(0, start) if start else []
    if len(peaks) != 32 * len(parts) or len(hashes) != 32 * (end - start):
        return None
    rng = CompactRange(start, [(lv, peaks[32 * k:32 * k + 32]) for k, (lv, _) in enumerate(parts)])
    if rng.root() != signed[start]:
        return None
    leaf_hashes = [hashes[32 * k:32 * k + 32] for k in range(end - start)]
    for h in leaf_hashes:
        rng.append(h)
    return leaf_hashes if rng.root() == signed[end] else None
