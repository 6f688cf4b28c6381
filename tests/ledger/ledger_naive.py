"""A naive, recursive transcription of RFC 9162 section 2.1 — the reference the fast code is checked against.

Written straight from the RFC's definitions (MTH, PATH, PROOF/SUBPROOF) with hashlib only; it shares
no code with ``stillwatch.ledger.merkle``.
"""

from __future__ import annotations

import hashlib


def h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: list[bytes]) -> bytes:
    n = len(d)
    if n == 0:
        return h(b"")
    if n == 1:
        return h(b"\x00" + d[0])
    k = _k(n)
    return h(b"\x01" + mth(d[:k]) + mth(d[k:]))


def path(m: int, d: list[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return path(m, d[:k]) + [mth(d[k:])]
    return path(m - k, d[k:]) + [mth(d[:k])]


def subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = _k(n)
    if m <= k:
        return subproof(m, d[:k], b) + [mth(d[k:])]
    return subproof(m - k, d[k:], False) + [mth(d[:k])]


def proof(m: int, d: list[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) for 0 < m <= n."""
    return subproof(m, d, True)


# Symbolic shapes: what a verifier computes from the proof elements p0, p1, ... (and the leaf x or
# the old root OLD). Two claims with the same shape are indistinguishable to any RFC 9162 verifier,
# e.g. leaf 0 of a 3-leaf tree and leaf 0 of a 4-leaf tree: both compute H(H(x,p0),p1).


def inclusion_shape(m: int, n: int) -> str:
    """The root expression PATH(m, D[n]) yields; requires 0 <= m < n."""
    def rec(m: int, n: int) -> tuple[str, int]:
        if n == 1:
            return "x", 0
        k = _k(n)
        if m < k:
            e, c = rec(m, k)
            return f"H({e},p{c})", c + 1
        e, c = rec(m - k, n - k)
        return f"H(p{c},{e})", c + 1
    return rec(m, n)[0]


def consistency_shape(m: int, n: int) -> tuple[int, str, str]:
    """(proof length, old-root expression, new-root expression) of PROOF(m, D[n]); 0 < m <= n."""
    def rec(m: int, n: int, b: bool) -> tuple[int, str, str]:
        if m == n:
            return (0, "OLD", "OLD") if b else (1, "p0", "p0")
        k = _k(n)
        if m <= k:
            c, o, w = rec(m, k, b)
            return c + 1, o, f"H({w},p{c})"
        c, o, w = rec(m - k, n - k, False)
        return c + 1, f"H(p{c},{o})", f"H(p{c},{w})"
    return rec(m, n, True)
