"""RFC 9162 Merkle tree: known answers, naive cross-check, systematic mutations, properties."""

from __future__ import annotations

import hashlib

import ledger_naive as naive
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stillwatch.ledger import merkle as M
from stillwatch.ledger.errors import (
    HashSizeError,
    IndexOutOfRangeError,
    ProofSizeError,
    RootMismatchError,
    VerificationError,
)

# Certificate Transparency reference leaves and roots (RFC 6962 test data as published in
# transparency-dev/merkle testonly/constants.go and proof/verify_test.go).
CT_LEAVES = [bytes.fromhex(x) for x in [
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f",
]]
CT_ROOTS = [bytes.fromhex(x) for x in [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]]
CT_EMPTY = bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
CT_LEAF_HASHES = [bytes.fromhex(x) for x in [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
]]


def hx(*xs: str) -> list[bytes]:
    return [bytes.fromhex(x) for x in xs]


# (index, size, proof) — transparency-dev/merkle proof/verify_test.go (their leaf numbers are 1-based).
CT_INCLUSION = [
    (0, 8, hx("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
              "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
              "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")),
    (5, 8, hx("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
              "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
              "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")),
    (2, 3, hx("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")),
    (1, 5, hx("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
              "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
              "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")),
    (0, 1, []),
]
# (m, n, proof)
CT_CONSISTENCY = [
    (1, 1, []),
    (1, 8, hx("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
              "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
              "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")),
    (6, 8, hx("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
              "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
              "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")),
    (2, 5, hx("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
              "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")),
    (6, 7, hx("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
              "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
              "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")),
]


# ------------------------------------------------------------------ known-answer vectors


def test_empty_tree_hash_is_the_published_value():
    assert M.EMPTY_ROOT == CT_EMPTY
    assert M.root([]) == CT_EMPTY
    assert naive.mth([]) == CT_EMPTY


@pytest.mark.parametrize("i", range(8))
def test_leaf_hashes_match_published_values(i):
    assert M.leaf_hash(CT_LEAVES[i]) == CT_LEAF_HASHES[i]
    assert hashlib.sha256(b"\x00" + CT_LEAVES[i]).digest() == CT_LEAF_HASHES[i]


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_match_published_values_for_every_size(size):
    assert M.root(CT_LEAVES[:size]) == CT_ROOTS[size - 1]
    assert naive.mth(CT_LEAVES[:size]) == CT_ROOTS[size - 1]


@pytest.mark.parametrize(("index", "size", "proof"), CT_INCLUSION)
def test_inclusion_proofs_match_published_vectors(index, size, proof):
    assert M.inclusion_proof(CT_LEAVES[:size], index) == proof
    M.verify_inclusion(CT_LEAF_HASHES[index], index, size, proof, CT_ROOTS[size - 1])


@pytest.mark.parametrize(("m", "n", "proof"), CT_CONSISTENCY)
def test_consistency_proofs_match_published_vectors(m, n, proof):
    assert M.consistency_proof(CT_LEAVES[:n], m) == proof
    M.verify_consistency(m, n, CT_ROOTS[m - 1], CT_ROOTS[n - 1], proof)


# ------------------------------------------------------------------ naive cross-check


def _leaves(n: int) -> list[bytes]:
    return [f"leaf-{i}".encode() * (i % 3) for i in range(n)]  # includes empty leaves


LEAVES64 = _leaves(64)


def test_roots_agree_with_naive_for_every_size_up_to_64():
    for n in range(0, 65):
        expected = naive.mth(LEAVES64[:n])
        assert M.root(LEAVES64[:n]) == expected, n
        assert M.root_from_hashes([M.leaf_hash(x) for x in LEAVES64[:n]]) == expected, n
        assert M.PerfectLevels([M.leaf_hash(x) for x in LEAVES64[:n]]).root() == expected, n


def test_every_inclusion_proof_agrees_with_naive_up_to_64():
    for n in range(1, 65):
        d = LEAVES64[:n]
        hashes = [M.leaf_hash(x) for x in d]
        r = naive.mth(d)
        for i in range(n):
            expected = naive.path(i, d)
            assert M.inclusion_proof_from_hashes(hashes, i) == expected, (i, n)
            M.verify_inclusion(hashes[i], i, n, expected, r)


def test_every_consistency_proof_agrees_with_naive_up_to_64():
    hashes = [M.leaf_hash(x) for x in LEAVES64]
    roots = [naive.mth(LEAVES64[:n]) for n in range(65)]
    for n in range(1, 65):
        for m in range(1, n + 1):
            expected = naive.proof(m, LEAVES64[:n])
            assert M.consistency_proof_from_hashes(hashes, m, n) == expected, (m, n)
            M.verify_consistency(m, n, roots[m], roots[n], expected)
        M.verify_consistency(0, n, M.EMPTY_ROOT, roots[n], [])


def test_proof_lengths_are_at_most_ceil_log2():
    for n in range(1, 300):
        top = (n - 1).bit_length()
        for i in range(n):
            assert len(M.inclusion_ranges(i, n)) <= top
        for m in range(1, n + 1):
            assert len(M.consistency_ranges(m, n)) <= top + 1


# ------------------------------------------------------------------ systematic mutations


def _flip(b: bytes, bit: int) -> bytes:
    out = bytearray(b)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def _same_inclusion_shape(i, s, index, size):
    """True when (i, s) is indistinguishable from (index, size) for any verifier (see ledger_naive)."""
    return 0 <= i < s and naive.inclusion_shape(i, s) == naive.inclusion_shape(index, size)


def _same_consistency_shape(a, b, m, n):
    return 0 < a <= b and naive.consistency_shape(a, b) == naive.consistency_shape(m, n)


def inclusion_mutations(index, size, proof, root, lh):
    """Every wrong (leaf_hash, index, size, proof, root) derived from a valid one, with a label."""
    out = []
    for bit in range(256):
        out.append((f"root bit {bit}", (lh, index, size, proof, _flip(root, bit))))
        out.append((f"leaf bit {bit}", (_flip(lh, bit), index, size, proof, root)))
        for k in range(len(proof)):
            p = list(proof)
            p[k] = _flip(p[k], bit)
            out.append((f"proof[{k}] bit {bit}", (lh, index, size, p, root)))
    for label, (i, s) in {
        "index-1": (index - 1, size), "index+1": (index + 1, size), "index^2": (index ^ 2, size),
        "size*2": (index, size * 2), "size/2": (index, size // 2),
        "size-1": (index, size - 1), "size+1": (index, size + 1),
    }.items():
        if (i, s) != (index, size) and i >= 0 and s >= 0 and not _same_inclusion_shape(i, s, index, size):
            out.append((label, (lh, i, s, proof, root)))
    out += [
        ("empty root", (lh, index, size, proof, M.EMPTY_ROOT)),
        ("random root", (lh, index, size, proof, SOME_HASH)),
        ("root as leaf", (root, index, size, proof, root)) if root != lh else ("skip", None),
        ("trailing root", (lh, index, size, [*proof, root], root)),
        ("trailing garbage", (lh, index, size, [*proof, b""], root)),
        ("preceding root", (lh, index, size, [root, *proof], root)),
        ("preceding garbage", (lh, index, size, [b"", *proof], root)),
    ]
    if proof:
        out.append(("truncated", (lh, index, size, proof[:-1], root)))
        out.append(("first dropped", (lh, index, size, proof[1:], root)))
        out.append(("inserted", (lh, index, size, [proof[0], SOME_HASH, *proof[1:]], root)))
    if len(proof) > 1:
        out.append(("swapped", (lh, index, size, [proof[1], proof[0], *proof[2:]], root)))
    return [(label, args) for label, args in out if args is not None]


def consistency_mutations(m, n, r1, r2, proof):
    out = []
    for bit in range(256):
        out.append((f"old root bit {bit}", (m, n, _flip(r1, bit), r2, proof)))
        out.append((f"new root bit {bit}", (m, n, r1, _flip(r2, bit), proof)))
        for k in range(len(proof)):
            p = list(proof)
            p[k] = _flip(p[k], bit)
            out.append((f"proof[{k}] bit {bit}", (m, n, r1, r2, p)))
    for label, (a, b) in {
        "m-1": (m - 1, n), "m+1": (m + 1, n), "m^2": (m ^ 2, n), "n*2": (m, n * 2), "n/2": (m, n // 2),
        "n-1": (m, n - 1), "n+1": (m, n + 1), "m*2": (m * 2, n), "m/2": (m // 2, n),
    }.items():
        if (a, b) != (m, n) and a >= 0 and b >= 0 and not _same_consistency_shape(a, b, m, n):
            out.append((label, (a, b, r1, r2, proof)))
    out += [
        ("swapped roots", (m, n, r2, r1, proof)),
        ("empty proof", (m, n, r1, r2, [])),
        ("trailing garbage", (m, n, r1, r2, [*proof, b""])),
        ("trailing old root", (m, n, r1, r2, [*proof, r1])),
        ("trailing new root", (m, n, r1, r2, [*proof, r2])),
        ("preceding old root", (m, n, r1, r2, [r1, *proof])),
        ("preceding new root", (m, n, r1, r2, [r2, *proof])),
        ("preceding proof[0]", (m, n, r1, r2, [proof[0], *proof])),
        ("truncated", (m, n, r1, r2, proof[:-1])),
    ]
    if len(proof) > 1:
        out.append(("swapped", (m, n, r1, r2, [proof[1], proof[0], *proof[2:]])))
    return out


MUT_LEAVES = _leaves(23)
MUT_HASHES = [M.leaf_hash(x) for x in MUT_LEAVES]
INCLUSION_CASES = [(i, n) for n in (1, 2, 3, 5, 7, 8, 13, 16, 23) for i in sorted({0, n // 2, n - 1})]


@pytest.mark.parametrize(("index", "size"), INCLUSION_CASES)
def test_every_mutation_of_an_inclusion_proof_is_rejected(index, size):
    proof = naive.path(index, MUT_LEAVES[:size])
    r = naive.mth(MUT_LEAVES[:size])
    M.verify_inclusion(MUT_HASHES[index], index, size, proof, r)  # the original verifies
    accepted = []
    for label, (lh, i, s, p, rt) in inclusion_mutations(index, size, proof, r, MUT_HASHES[index]):
        try:
            M.verify_inclusion(lh, i, s, p, rt)
        except VerificationError:
            continue
        accepted.append(label)
    assert accepted == []


CONSISTENCY_CASES = [(m, n) for n in (2, 3, 5, 7, 8, 13, 16, 23) for m in sorted({1, n // 2, n - 1, 4}) if m < n]


@pytest.mark.parametrize(("m", "n"), CONSISTENCY_CASES)
def test_every_mutation_of_a_consistency_proof_is_rejected(m, n):
    proof = naive.proof(m, MUT_LEAVES[:n])
    r1, r2 = naive.mth(MUT_LEAVES[:m]), naive.mth(MUT_LEAVES[:n])
    M.verify_consistency(m, n, r1, r2, proof)
    accepted = []
    for label, args in consistency_mutations(m, n, r1, r2, proof):
        try:
            M.verify_consistency(*args)
        except VerificationError:
            continue
        accepted.append(label)
    assert accepted == []


def test_size_changes_are_accepted_exactly_when_indistinguishable():
    """A changed size passes only when its proof shape is identical (e.g. leaf 0 of 3 vs of 4).

    No verifier can tell those apart from (index, size, proof, root) alone; every other size is
    rejected. The shapes come from the naive module, not from the code under test.
    """
    leaves = _leaves(40)
    hashes = [M.leaf_hash(x) for x in leaves]
    equivalent = 0
    for n in range(1, 17):
        r = naive.mth(leaves[:n])
        for i in range(n):
            proof = naive.path(i, leaves[:n])
            for s in range(1, 33):
                try:
                    M.verify_inclusion(hashes[i], i, s, proof, r)
                    ok = True
                except VerificationError:
                    ok = False
                assert ok == _same_inclusion_shape(i, s, i, n), (i, n, s)
                equivalent += ok and s != n
        for m in range(1, n):
            proof = naive.proof(m, leaves[:n])
            r1 = naive.mth(leaves[:m])
            for a in range(1, 17):
                for b in range(a, 33):
                    try:
                        M.verify_consistency(a, b, r1, r, proof)
                        ok = True
                    except VerificationError:
                        ok = False
                    assert ok == _same_consistency_shape(a, b, m, n), (m, n, a, b)
    assert equivalent > 0  # such pairs exist (e.g. leaf 0 of 3 vs of 4); they must pass, not crash


# ------------------------------------------------------------------ typed errors


def test_root_mismatch_carries_both_roots():
    proof = M.inclusion_proof(CT_LEAVES, 5)
    with pytest.raises(RootMismatchError) as ei:
        M.verify_inclusion(CT_LEAF_HASHES[5], 5, 8, proof, CT_ROOTS[6])
    assert ei.value.expected == CT_ROOTS[6]
    assert ei.value.calculated == CT_ROOTS[7]
    assert CT_ROOTS[6].hex() in str(ei.value) and CT_ROOTS[7].hex() in str(ei.value)


def test_preconditions_raise_typed_errors():
    with pytest.raises(IndexOutOfRangeError, match="index 8 is out of range for tree size 8"):
        M.inclusion_proof(CT_LEAVES, 8)
    with pytest.raises(IndexOutOfRangeError):
        M.inclusion_proof(CT_LEAVES, -1)
    with pytest.raises(IndexOutOfRangeError, match="m=9 is larger than new size n=8"):
        M.consistency_proof(CT_LEAVES, 9)
    with pytest.raises(IndexOutOfRangeError):
        M.verify_inclusion(CT_LEAF_HASHES[0], 0, 0, [], M.EMPTY_ROOT)
    with pytest.raises(ProofSizeError) as ei:
        M.verify_inclusion(CT_LEAF_HASHES[0], 0, 8, [], CT_ROOTS[7])
    assert (ei.value.expected, ei.value.got) == (3, 0)
    with pytest.raises(HashSizeError):
        M.verify_inclusion(b"short", 0, 1, [], CT_ROOTS[0])
    with pytest.raises(RootMismatchError):
        M.verify_consistency(0, 3, SOME_HASH, CT_ROOTS[2], [])
    with pytest.raises(RootMismatchError):
        M.verify_consistency(3, 3, CT_ROOTS[1], CT_ROOTS[2], [])


def test_inputs_are_not_mutated():
    leaves = list(CT_LEAVES)
    proof = M.inclusion_proof(leaves, 3)
    before = list(proof)
    M.verify_inclusion(CT_LEAF_HASHES[3], 3, 8, proof, CT_ROOTS[7])
    assert proof == before and leaves == CT_LEAVES


# ------------------------------------------------------------------ hypothesis properties

leaf_lists = st.lists(st.binary(max_size=12), min_size=1, max_size=80)


@settings(max_examples=150, deadline=None)
@given(leaves=leaf_lists, data=st.data())
def test_property_inclusion_roundtrip_and_naive(leaves, data):
    i = data.draw(st.integers(0, len(leaves) - 1))
    proof = M.inclusion_proof(leaves, i)
    assert proof == naive.path(i, leaves)
    M.verify_inclusion(M.leaf_hash(leaves[i]), i, len(leaves), proof, naive.mth(leaves))


@settings(max_examples=150, deadline=None)
@given(leaves=leaf_lists, data=st.data())
def test_property_consistency_roundtrip_and_naive(leaves, data):
    n = len(leaves)
    m = data.draw(st.integers(1, n))
    proof = M.consistency_proof(leaves, m)
    assert proof == naive.proof(m, leaves)
    M.verify_consistency(m, n, M.root(leaves[:m]), M.root(leaves), proof)


@settings(max_examples=150, deadline=None)
@given(leaves=leaf_lists, data=st.data())
def test_property_changed_leaf_changes_root_and_breaks_proofs(leaves, data):
    n = len(leaves)
    i = data.draw(st.integers(0, n - 1))
    new = data.draw(st.binary(max_size=12).filter(lambda b: b != leaves[i]))
    changed = [*leaves[:i], new, *leaves[i + 1:]]
    assert M.root(changed) != M.root(leaves)
    with pytest.raises(RootMismatchError):
        M.verify_inclusion(M.leaf_hash(new), i, n, M.inclusion_proof(leaves, i), M.root(leaves))
    if i > 0 and i < n:  # the prefix of size i is unchanged, the rest is not
        with pytest.raises(RootMismatchError):
            M.verify_consistency(i + 1, n, M.root(leaves[: i + 1]), M.root(changed), M.consistency_proof(changed, i + 1))


@settings(max_examples=100, deadline=None)
@given(leaves=leaf_lists, data=st.data())
def test_property_random_proof_is_rejected(leaves, data):
    n = len(leaves)
    i = data.draw(st.integers(0, n - 1))
    k = len(M.inclusion_ranges(i, n))
    fake = [data.draw(st.binary(min_size=32, max_size=32)) for _ in range(k)]
    if fake == M.inclusion_proof(leaves, i):
        return
    if k == 0:
        return  # a size-1 tree's proof is empty: nothing to forge
    with pytest.raises(RootMismatchError):
        M.verify_inclusion(M.leaf_hash(leaves[i]), i, n, fake, M.root(leaves))
