"""The PRF: known-answer vectors (pinned forever), and exact agreement with the naive reference."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import naive_prf as naive
from stillwatch.core import prf

KEY = bytes(range(32))

# Pinned outputs of swprf1. If one of these changes, every watermark made before the change is lost:
# never update these numbers — add a new PRF version instead.
KAT = [
    ([], 0, 0x3A1E42E0DDADB675),
    ([0], 0, 0x281D019B5EB821B9),
    ([1, 2], 3, 0xF9B84CACE53EFCC3),
    ([49151, 17, 256, 9], 12345, 0x62B072511AD837AC),
    ([5], 2**31, 0x7CFFEA7621075402),
]


@pytest.mark.parametrize("ctx,v,expected", KAT)
def test_known_answer_vectors(ctx, v, expected):
    k0, k1 = prf.key_words(KEY)
    got = prf.prf(k0, k1, np.array([ctx], dtype=np.int64).reshape(1, len(ctx)), np.array([v]))
    assert int(got[0]) == expected
    assert naive.prf(KEY, ctx, v) == expected


def test_building_blocks_known_answers():
    assert int(prf.mix(np.array([0], dtype=np.uint64))[0]) == 0
    assert int(prf.mix(np.array([1], dtype=np.uint64))[0]) == 0x08AED0390BD5BAE2
    assert int(prf.fold(np.array([[7, 8]]))[0]) == 0x8123DF6C99A5DF12
    assert int(prf.tok(np.array([42]))[0]) == 0x25FD3C13788BE902


@settings(max_examples=60, deadline=None)
@given(
    key=st.binary(min_size=32, max_size=32),
    h=st.integers(0, 4),
    data=st.data(),
)
def test_vectorised_matches_naive(key, h, data):
    n = data.draw(st.integers(1, 20))
    ctx = np.array(data.draw(st.lists(st.lists(st.integers(0, 2**40), min_size=h, max_size=h), min_size=n, max_size=n)), dtype=np.int64).reshape(n, h)
    toks = np.array(data.draw(st.lists(st.integers(0, 2**40), min_size=n, max_size=n)), dtype=np.int64)
    k0, k1 = prf.key_words(key)
    got = prf.prf(k0, k1, ctx, toks)
    want = [naive.prf(key, list(map(int, ctx[i])), int(toks[i])) for i in range(n)]
    assert [int(x) for x in got] == want
    # detection's hot path: the same u from precomputed folds and token hashes, allocating or in place
    assert [int(x) for x in prf.prf_hashed(k0, k1, prf.fold(ctx), prf.tok(toks))] == want
    folds = prf.fold(ctx)
    out = prf.prf_hashed_into(k0, k1, folds, prf.tok(toks), np.empty(n, dtype=np.uint64))
    assert out is folds and [int(x) for x in out] == want


def test_mix_into_is_mix_in_place():
    x = np.random.default_rng(5).integers(0, 2**63, size=300, dtype=np.int64).astype(np.uint64) * np.uint64(2) + np.uint64(1)
    want = prf.mix(x)
    y = x.copy()
    assert prf.mix_into(y, np.empty_like(y)) is y
    np.testing.assert_array_equal(y, want)
    assert int(prf.mix_into(np.array([1], dtype=np.uint64), np.empty(1, dtype=np.uint64))[0]) == 0x08AED0390BD5BAE2
    # with the halves made once and reused over three mixes (detection's per-text path): the same words
    z = x.copy()
    hv, tmp = prf.halves(z), np.empty_like(z)
    for _ in range(3):
        prf.mix_into(z, tmp, hv)
    np.testing.assert_array_equal(z, prf.mix(prf.mix(want)))
    lo, hi = prf.halves(x.copy())  # the halves are the word's low and high 32 bits
    np.testing.assert_array_equal(lo.astype(np.uint64), x & np.uint64(0xFFFFFFFF))
    np.testing.assert_array_equal(hi.astype(np.uint64), x >> np.uint64(32))


def test_inputs_not_mutated():
    x = np.array([1, 2, 3], dtype=np.uint64)
    before = x.copy()
    prf.mix(x)
    np.testing.assert_array_equal(x, before)


def test_uniformity_of_outputs():
    """Outputs for distinct inputs look uniform: KS test on 200k values, and green fraction ~ gamma."""
    from scipy import stats

    k0, k1 = prf.key_words(KEY)
    rng = np.random.default_rng(1)
    ctx = rng.integers(0, 50_000, size=(200_000, 2))
    toks = rng.integers(0, 50_000, size=200_000)
    u = prf.to_unit(prf.prf(k0, k1, ctx, toks))
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    frac = float((prf.prf(k0, k1, ctx, toks) < prf.green_threshold(0.25)).mean())
    assert abs(frac - 0.25) < 5 * np.sqrt(0.25 * 0.75 / 200_000)


def test_to_unit_open_interval():
    u = prf.to_unit(np.array([0, 2**64 - 1], dtype=np.uint64))
    assert 0.0 < u[0] < 1e-15 and 1 - 1e-15 < u[1] < 1.0


def test_green_threshold_rejects_bad_gamma():
    for g in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="gamma"):
            prf.green_threshold(g)


def test_key_words_needs_16_bytes():
    with pytest.raises(ValueError, match="16 bytes"):
        prf.key_words(b"short")


@settings(max_examples=80, deadline=None)
@given(keys=st.lists(st.integers(0, 12), min_size=0, max_size=60))
def test_first_occurrence_equals_numpy_unique(keys):
    from stillwatch.core.windows import first_occurrence

    k = np.array(keys, dtype=np.uint64)
    want = np.zeros(len(keys), dtype=bool)
    if len(keys):
        want[np.unique(k, return_index=True)[1]] = True
    k0 = k.copy()
    assert np.array_equal(first_occurrence(k), want)
    assert np.array_equal(k, k0)
