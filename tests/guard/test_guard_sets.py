"""core.sets — ``unique``, the sort-based distinct values guard's detection uses instead of NumPy's hash path, and
``equal_pairs``, the equi-join of two key arrays guard's scoring steps share (the wrappers' account join, the
user-agent cells, the own-list share).

Layers: known answers, a naive reference (Python's ``sorted(set(...))``) cross-checked on random arrays of
every integer width and on edge values, the input left untouched, other dtypes passed to ``np.unique``
(NaNs collapsed), and a hypothesis property test."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stillwatch.core.sets import equal_pairs, unique, unique_pairs


def _reference(values) -> list:
    return sorted(set(values))


def test_known_answers():
    assert unique(np.array([3, 1, 3, 2, 1], np.int64)).tolist() == [1, 2, 3]
    assert unique(np.array([[5, 5], [0, -7]])).tolist() == [-7, 0, 5]  # flattened, as np.unique
    assert unique(np.array([], np.int64)).tolist() == []
    assert unique(np.array([9], np.int32)).tolist() == [9]
    assert unique(np.array([True, False, True])).tolist() == [False, True]
    assert unique([4, 4, 2]).tolist() == [2, 4]  # a list is accepted


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint32, np.uint64])
def test_matches_the_naive_reference_on_every_integer_width(dtype):
    rng = np.random.default_rng(int(np.dtype(dtype).itemsize))
    info = np.iinfo(dtype)
    for n, span in [(1, 3), (50, 5), (2_000, 2_000_000), (10_000, 40)]:
        x = rng.integers(max(info.min, -span), min(info.max, span), n, dtype=dtype, endpoint=True)
        x[:2] = [info.min, info.max] if n >= 2 else x[:2]  # the extremes: no overflow in the comparison
        got = unique(x)
        assert got.dtype == x.dtype
        assert got.tolist() == _reference(x.tolist())


def test_input_is_not_modified():
    x = np.array([5, 3, 5, 1], np.int64)
    before = x.copy()
    unique(x)
    assert np.array_equal(x, before)


def test_other_dtypes_go_to_numpy_and_nans_collapse():
    f = np.array([2.5, np.nan, 1.0, np.nan, 2.5])
    got = unique(f)
    assert got[:2].tolist() == [1.0, 2.5] and len(got) == 3 and np.isnan(got[2])
    assert unique(np.array(["b", "a", "b"])).tolist() == ["a", "b"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-(2**63), 2**63 - 1), max_size=60))
def test_property_sorted_distinct_and_complete(values):
    got = unique(np.array(values, np.int64)).tolist()
    assert got == _reference(values)
    assert all(a < b for a, b in zip(got, got[1:]))


# ------------------------------------------------------------------------------ equal_pairs
def _pairs_reference(left, right) -> list[tuple[int, int]]:
    """Every (i, j) with equal values, i ascending and, within an i, j in the order of a stable sort of ``right``."""
    order = sorted(range(len(right)), key=lambda j: right[j])
    return [(i, j) for i in range(len(left)) for j in order if left[i] == right[j]]


def test_equal_pairs_known_answers():
    i, j = equal_pairs(np.array([5, 1, 7, 5]), np.array([5, 9, 5, 1]))
    assert list(zip(i.tolist(), j.tolist())) == [(0, 0), (0, 2), (1, 3), (3, 0), (3, 2)]
    i, j = equal_pairs(np.array([], np.int64), np.array([1, 2]))
    assert i.tolist() == [] and j.tolist() == []
    i, j = equal_pairs(np.array([3]), np.array([], np.int64))
    assert i.tolist() == [] and j.tolist() == []


def test_equal_pairs_leaves_its_inputs():
    left, right = np.array([2, 1, 2]), np.array([2, 2, 1])
    equal_pairs(left, right)
    assert left.tolist() == [2, 1, 2] and right.tolist() == [2, 2, 1]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-4, 4), max_size=30), st.lists(st.integers(-4, 4), max_size=30))
def test_equal_pairs_match_the_reference(left, right):
    i, j = equal_pairs(np.array(left, np.int64), np.array(right, np.int64))
    assert list(zip(i.tolist(), j.tolist())) == _pairs_reference(left, right)


# ------------------------------------------------------------------------------ unique_pairs
def _rows_reference(a, b) -> list[tuple[int, int]]:
    return sorted(set(zip(a, b)))


def test_unique_pairs_known_answers():
    ua, ub = unique_pairs(np.array([3, 1, 3, 1, 2]), np.array([7, 9, 7, 2, 9]))
    assert list(zip(ua.tolist(), ub.tolist())) == [(1, 2), (1, 9), (2, 9), (3, 7)]
    ua, ub = unique_pairs(np.array([], np.int64), np.array([], np.int64))
    assert ua.tolist() == [] and ub.tolist() == []
    # 64-bit hashes in b: the spans do not fit one code, the lexsort path gives the same rows
    big = np.array([2**62, -(2**62), 2**62, 5], np.int64)
    ua, ub = unique_pairs(np.array([0, 0, 0, 1]), big)
    assert list(zip(ua.tolist(), ub.tolist())) == [(0, -(2**62)), (0, 2**62), (1, 5)]
    with pytest.raises(ValueError, match="one length, got 2 and 1"):
        unique_pairs([1, 2], [3])


@pytest.mark.parametrize("span_a, span_b", [(5, 5), (70_000, 3_000), (2**40, 2**40), (3, 2**62)])
def test_unique_pairs_match_numpy_rows_and_the_naive_reference(span_a, span_b):
    rng = np.random.default_rng(span_a % 1000 + span_b % 997)
    a = rng.integers(-span_a, span_a, 5_000, dtype=np.int64)
    b = rng.integers(-span_b, span_b, 5_000, dtype=np.int64)
    a[::7] = a[3]  # repeated rows
    b[::7] = b[3]
    ua, ub = unique_pairs(a, b)
    want = np.unique(np.stack([a, b], 1), axis=0)
    assert np.array_equal(np.stack([ua, ub], 1), want)
    assert list(zip(ua.tolist(), ub.tolist())) == _rows_reference(a.tolist(), b.tolist())


def test_unique_pairs_leave_the_inputs_alone():
    a, b = np.array([4, 1, 4], np.int64), np.array([2, 2, 2], np.int64)
    a0, b0 = a.copy(), b.copy()
    unique_pairs(a, b)
    assert np.array_equal(a, a0) and np.array_equal(b, b0)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(-(2**63), 2**63 - 1), st.integers(-(2**63), 2**63 - 1)), max_size=40),
       st.booleans())
def test_property_unique_pairs_sorted_distinct_complete(rows, small):
    if small:  # small values: the one-code path; the full range: mostly the lexsort path
        rows = [(x % 50, y % 50) for x, y in rows]
    a = np.array([r[0] for r in rows], np.int64)
    b = np.array([r[1] for r in rows], np.int64)
    ua, ub = unique_pairs(a, b)
    got = list(zip(ua.tolist(), ub.tolist()))
    assert got == _rows_reference(a.tolist(), b.tolist())
