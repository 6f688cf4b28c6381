"""The Merkle tree over a :class:`~stillwatch.ledger.store.Store`: appends, roots and proofs.

The right edge of the tree is kept in memory as a *compact range* (the perfect subtrees that cover
``[0, size)``, largest first, as in transparency-dev's ``compact.Range``), so an append costs
O(1) amortized hashes and the root O(log n). Perfect subtrees whose level is a multiple of
``STRIDE`` are written to the store as they complete; any other subtree hash is folded from at
most ``2**(STRIDE-1)`` stored hashes one stored level below. A proof at tree size n reads
O(log n) short index ranges — it never rereads the log.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence

from . import merkle
from .errors import StoreError
from .store import STRIDE, NodeRow, Store

log = logging.getLogger(__name__)

__all__ = ["CompactRange", "StoredTree"]


class CompactRange:
    """Perfect subtree hashes covering ``[0, size)``, largest first (a Merkle mountain range)."""

    def __init__(self, size: int = 0, hashes: Sequence[tuple[int, bytes]] = ()) -> None:
        self.size = size
        self.stack: list[tuple[int, bytes]] = list(hashes)  # (level, hash)

    def copy(self) -> CompactRange:
        return CompactRange(self.size, self.stack)

    def append(self, leaf_hash: bytes, completed: list[NodeRow] | None = None) -> None:
        """Add one leaf; append the newly complete nodes at stored levels to ``completed``."""
        stack = self.stack
        stack.append((0, leaf_hash))
        self.size += 1
        size = self.size
        node = merkle.node_hash
        while len(stack) >= 2 and stack[-1][0] == stack[-2][0]:
            level, right = stack.pop()
            _, left = stack.pop()
            level += 1
            h = node(left, right)
            stack.append((level, h))
            if completed is not None and level % STRIDE == 0:
                completed.append((level, (size >> level) - 1, h))

    def extend(self, leaf_hashes: Sequence[bytes], completed: list[NodeRow]) -> None:
        """:meth:`append` for many leaves (the same result, with less per-leaf overhead)."""
        stack = self.stack
        push, pop = stack.append, stack.pop
        sha = hashlib.sha256
        size = self.size
        for h in leaf_hashes:
            size += 1
            level = 0
            # the low set bits of `size` say how many merges this leaf completes
            s = size
            while not s & 1:
                _, left = pop()
                h = sha(b"\x01" + left + h).digest()
                level += 1
                s >>= 1
                if level % STRIDE == 0:
                    completed.append((level, (size >> level) - 1, h))
            push((level, h))
        self.size = size

    def root(self) -> bytes:
        if not self.stack:
            return merkle.EMPTY_ROOT
        return merkle.fold_parts([h for _, h in self.stack])


class StoredTree:
    """Tree operations answered from a store's leaf hashes and stored interior nodes."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.range: CompactRange | None = None
        try:
            self.range = self.load_range(store.size())
        except StoreError as exc:  # damaged (e.g. rows deleted): still openable so `verify` can say where
            log.warning("stored tree cannot be loaded: %s", exc)

    # -- reading subtree hashes

    def perfect_hash(self, level: int, index: int) -> bytes:
        """Hash of the perfect subtree ``(level, index)``; requires it to be complete in the store."""
        base = level - level % STRIDE
        width = 1 << (level - base)
        hashes = self.store.node_hashes(base, index * width, (index + 1) * width)
        while len(hashes) > 1:
            hashes = [merkle.node_hash(hashes[i], hashes[i + 1]) for i in range(0, len(hashes), 2)]
        return hashes[0]

    def range_hash(self, start: int, end: int) -> bytes:
        """MTH of the aligned leaf range ``[start, end)`` (a proof element)."""
        return merkle.fold_parts([self.perfect_hash(lv, ix) for lv, ix in merkle.perfect_parts(start, end)])

    def load_range(self, size: int) -> CompactRange:
        """The compact range of the first ``size`` leaves, read from the store."""
        parts = merkle.perfect_parts(0, size) if size else []
        return CompactRange(size, [(lv, self.perfect_hash(lv, ix)) for lv, ix in parts])

    # -- tree heads and proofs

    def root_at(self, size: int) -> bytes:
        """Root of the first ``size`` leaves. Requires ``0 <= size <= stored size``."""
        if self.range is not None and size == self.range.size:
            return self.range.root()
        return merkle.EMPTY_ROOT if size == 0 else self.range_hash(0, size)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """``PATH(index, D[size])``. Requires ``0 <= index < size <= stored size``."""
        return [self.range_hash(a, b) for a, b in merkle.inclusion_ranges(index, size)]

    def consistency_proof(self, m: int, n: int) -> list[bytes]:
        """``PROOF(m, D[n])``. Requires ``0 <= m <= n <= stored size``."""
        return [self.range_hash(a, b) for a, b in merkle.consistency_ranges(m, n)]
