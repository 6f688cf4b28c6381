"""The Merkle tree of RFC 9162 (Certificate Transparency v2), section 2.1, as small pure functions.

Hashing (SHA-256): ``leaf_hash(d) = SHA-256(0x00 || d)``, ``node_hash(l, r) = SHA-256(0x01 || l || r)``,
the empty tree's root is ``SHA-256("")``. A tree of ``n > 1`` leaves splits at ``k``, the largest
power of two below ``n``: ``MTH(D[n]) = node_hash(MTH(D[0:k]), MTH(D[k:n]))``.

The auditor's contract (leaves are raw data, hashed inside):

- :func:`leaf_hash`, :func:`root`, :func:`inclusion_proof`, :func:`verify_inclusion`,
  :func:`consistency_proof`, :func:`verify_consistency`.

Proof *shapes* are computed from sizes alone (:func:`inclusion_ranges`, :func:`consistency_ranges`):
each proof element is the hash of one subtree, given as a leaf range ``[start, end)``. A range is
always *aligned* (``start`` is a multiple of the power of two just at or above ``end - start``),
so its hash folds from at most ``log2(n)`` perfect subtrees (:func:`perfect_parts`,
:func:`fold_parts`). Stores use these to answer proofs from stored subtree hashes without
recomputing the log; the ``*_from_hashes`` variants do the same from a list of leaf hashes.

Verification follows the iterative algorithms of RFC 9162 sections 2.1.3.2 and 2.1.4.2 and raises
typed errors from :mod:`stillwatch.ledger.errors`: :class:`IndexOutOfRangeError`,
:class:`ProofSizeError`, :class:`HashSizeError`, :class:`RootMismatchError`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from .errors import HashSizeError, IndexOutOfRangeError, ProofSizeError, RootMismatchError

__all__ = [
    "HASH_SIZE",
    "EMPTY_ROOT",
    "leaf_hash",
    "node_hash",
    "root",
    "root_from_hashes",
    "inclusion_proof",
    "inclusion_proof_from_hashes",
    "consistency_proof",
    "consistency_proof_from_hashes",
    "verify_inclusion",
    "root_from_inclusion_proof",
    "verify_consistency",
    "inclusion_ranges",
    "consistency_ranges",
    "perfect_parts",
    "fold_parts",
    "PerfectLevels",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
_LEAF = b"\x00"
_NODE = b"\x01"
_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """Return ``SHA-256(0x00 || data)``, the RFC 9162 hash of one leaf's raw data."""
    return _sha256(_LEAF + bytes(data)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return ``SHA-256(0x01 || left || right)``, the RFC 9162 hash of an interior node."""
    return _sha256(_NODE + left + right).digest()


# ---------------------------------------------------------------------------- proof shapes


def _check_size(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise IndexOutOfRangeError(f"{name} must be an integer >= 0, got {value!r}")


def _path_ranges(level: int, index: int, size: int) -> list[tuple[int, int]]:
    """Sibling ranges from the perfect node ``(level, index)`` up to the root of a tree of ``size``.

    Requires ``index << level < size``. Siblings that start past ``size`` do not exist (the node
    is promoted unchanged) and are skipped; a right sibling cut by ``size`` is a partial range.
    """
    out: list[tuple[int, int]] = []
    top = (size - 1).bit_length()  # level of the root
    while level < top:
        start = (index ^ 1) << level
        if start < size:
            out.append((start, min(start + (1 << level), size)))
        level += 1
        index >>= 1
    return out


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Leaf ranges whose subtree hashes form ``PATH(index, D[size])``, leaf level first.

    Requires ``0 <= index < size``.
    """
    _check_size("size", size)
    _check_size("index", index)
    if index >= size:
        raise IndexOutOfRangeError(f"index {index} is out of range for tree size {size}")
    return _path_ranges(0, index, size)


def consistency_ranges(m: int, n: int) -> list[tuple[int, int]]:
    """Leaf ranges whose subtree hashes form ``PROOF(m, D[n])`` (RFC 9162 2.1.4.1).

    Requires ``0 <= m <= n``. Empty when ``m == 0`` or ``m == n``.
    """
    _check_size("m", m)
    _check_size("n", n)
    if m > n:
        raise IndexOutOfRangeError(f"old size m={m} is larger than new size n={n}")
    if m == 0 or m == n:
        return []
    level = (m & -m).bit_length() - 1  # the largest perfect subtree that ends at m
    index = (m - 1) >> level
    path = _path_ranges(level, index, n)
    if index == 0:  # m is a power of two: the verifier already knows this node (the old root)
        return path
    return [(index << level, m), *path]


def perfect_parts(start: int, end: int) -> list[tuple[int, int]]:
    """Split an aligned range ``[start, end)`` into perfect subtrees ``(level, index)``, left first.

    Requires ``start < end`` and ``start`` a multiple of the power of two at or above ``end - start``.
    """
    parts: list[tuple[int, int]] = []
    width = end - start
    while width:
        level = width.bit_length() - 1
        parts.append((level, start >> level))
        start += 1 << level
        width -= 1 << level
    return parts


def fold_parts(hashes: Sequence[bytes]) -> bytes:
    """Fold perfect-subtree hashes (left first, decreasing sizes) into the range's MTH."""
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


# ---------------------------------------------------------------------------- in-memory trees


class PerfectLevels:
    """All perfect subtree hashes of a list of leaf hashes, built bottom-up in O(n).

    ``levels[l][i]`` is the hash of leaves ``[i * 2**l, (i + 1) * 2**l)``.
    """

    def __init__(self, hashes: Sequence[bytes]) -> None:
        self.size = len(hashes)
        levels = [list(hashes)]
        while len(levels[-1]) >= 2:
            below = levels[-1]
            levels.append([node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])
        self.levels = levels

    def range_hash(self, start: int, end: int) -> bytes:
        """MTH of the aligned range ``[start, end)``; requires ``0 <= start < end <= size``."""
        return fold_parts([self.levels[lv][ix] for lv, ix in perfect_parts(start, end)])

    def root(self) -> bytes:
        """MTH of all leaves (``EMPTY_ROOT`` when there are none)."""
        return EMPTY_ROOT if self.size == 0 else self.range_hash(0, self.size)


def root_from_hashes(hashes: Sequence[bytes]) -> bytes:
    """MTH of a tree given its leaf hashes (``EMPTY_ROOT`` for an empty list)."""
    level = list(hashes)
    if not level:
        return EMPTY_ROOT
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])  # promoted unchanged: same as RFC's split at the largest 2^k < n
        level = nxt
    return level[0]


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH of a tree given its leaves as raw data (hashed inside with :func:`leaf_hash`)."""
    return root_from_hashes([leaf_hash(d) for d in leaves])


def inclusion_proof_from_hashes(hashes: Sequence[bytes], index: int, size: int | None = None) -> list[bytes]:
    """``PATH(index, D[size])`` from leaf hashes; ``size`` defaults to ``len(hashes)``.

    Requires ``0 <= index < size <= len(hashes)``.
    """
    size = len(hashes) if size is None else size
    if size > len(hashes):
        raise IndexOutOfRangeError(f"tree size {size} exceeds the {len(hashes)} leaves given")
    ranges = inclusion_ranges(index, size)
    tree = PerfectLevels(hashes[:size])
    return [tree.range_hash(a, b) for a, b in ranges]


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """``PATH(index, D[n])`` for raw ``leaves`` (n = len(leaves)). Requires ``0 <= index < n``."""
    return inclusion_proof_from_hashes([leaf_hash(d) for d in leaves], index)


def consistency_proof_from_hashes(hashes: Sequence[bytes], m: int, n: int | None = None) -> list[bytes]:
    """``PROOF(m, D[n])`` from leaf hashes; ``n`` defaults to ``len(hashes)``.

    Requires ``0 <= m <= n <= len(hashes)``.
    """
    n = len(hashes) if n is None else n
    if n > len(hashes):
        raise IndexOutOfRangeError(f"tree size {n} exceeds the {len(hashes)} leaves given")
    ranges = consistency_ranges(m, n)
    tree = PerfectLevels(hashes[:n])
    return [tree.range_hash(a, b) for a, b in ranges]


def consistency_proof(leaves: Sequence[bytes], m: int) -> list[bytes]:
    """``PROOF(m, D[n])`` for raw ``leaves`` (n = len(leaves)). Requires ``0 <= m <= n``."""
    return consistency_proof_from_hashes([leaf_hash(d) for d in leaves], m)


# ---------------------------------------------------------------------------- verification


def _check_hash(name: str, value: bytes) -> None:
    if not isinstance(value, (bytes, bytearray)) or len(value) != HASH_SIZE:
        got = len(value) if isinstance(value, (bytes, bytearray)) else type(value).__name__
        raise HashSizeError(f"{name} must be {HASH_SIZE} bytes, got {got}")


def root_from_inclusion_proof(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root implied by an inclusion proof (RFC 9162 2.1.3.2, steps 1-4).

    Requires ``0 <= index < size`` and ``len(proof)`` equal to the path length for (index, size).
    """
    expected = len(inclusion_ranges(index, size))
    if len(proof) != expected:
        raise ProofSizeError(expected, len(proof), "inclusion proof")
    _check_hash("leaf hash", leaf_hash)
    fn, sn = index, size - 1
    r = bytes(leaf_hash)
    for i, p in enumerate(proof):
        _check_hash(f"proof[{i}]", p)
        if sn == 0:  # unreachable given the length check; kept as the RFC states it
            raise ProofSizeError(i, len(proof), "inclusion proof")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofSizeError(expected, len(proof), "inclusion proof")
    return r


def verify_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Check that the leaf with hash ``leaf_hash`` sits at ``index`` in the tree ``(size, root)``.

    Requires ``0 <= index < size``. Raises :class:`IndexOutOfRangeError`, :class:`ProofSizeError`,
    :class:`HashSizeError` or :class:`RootMismatchError(expected=root, calculated=...)`.
    """
    _check_hash("root", root)
    calculated = root_from_inclusion_proof(leaf_hash, index, size, proof)
    if calculated != bytes(root):
        raise RootMismatchError(root, calculated, f"inclusion proof for leaf {index} of {size}: root")


def verify_consistency(m: int, n: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> None:
    """Check that the tree ``(n, new_root)`` extends the tree ``(m, old_root)`` (RFC 9162 2.1.4.2).

    Requires ``0 <= m <= n``. When ``m == n`` the proof must be empty and the roots equal; when
    ``m == 0`` the proof must be empty and ``old_root`` the empty tree's root. Raises
    :class:`IndexOutOfRangeError`, :class:`ProofSizeError`, :class:`HashSizeError` or
    :class:`RootMismatchError` (naming the old or the new root).
    """
    expected = len(consistency_ranges(m, n))
    _check_hash("old root", old_root)
    _check_hash("new root", new_root)
    if len(proof) != expected:
        raise ProofSizeError(expected, len(proof), f"consistency proof {m}->{n}")
    for i, p in enumerate(proof):
        _check_hash(f"proof[{i}]", p)
    if m == 0:
        if bytes(old_root) != EMPTY_ROOT:
            raise RootMismatchError(EMPTY_ROOT, old_root, "old root of the empty tree")
        return
    if m == n:
        if bytes(old_root) != bytes(new_root):
            raise RootMismatchError(old_root, new_root, f"roots of two trees of size {n}")
        return
    path = list(proof)
    if m & (m - 1) == 0:  # m is a power of two: the old root is the first node
        path.insert(0, bytes(old_root))
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofSizeError(expected, len(proof), f"consistency proof {m}->{n}")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofSizeError(expected, len(proof), f"consistency proof {m}->{n}")
    if fr != bytes(old_root):
        raise RootMismatchError(old_root, fr, f"consistency proof {m}->{n}: old root")
    if sr != bytes(new_root):
        raise RootMismatchError(new_root, sr, f"consistency proof {m}->{n}: new root")


