"""Exact tails checked against independent computations, and their properties."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate

import naive_prf as naive
from stillwatch.core import stats


@pytest.mark.parametrize("n,p", [(1, 0.25), (10, 0.25), (37, 0.5), (60, 0.1)])
def test_binomial_tail_matches_exact_sum(n, p):
    for k in range(0, n + 2):
        want = naive.binom_tail_exact(k, n, p) if k <= n else 0.0
        assert stats.binomial_tail(k, n, p) == pytest.approx(want, rel=1e-9, abs=1e-300)


def test_binomial_tail_deep_tail_is_not_normal_approximation():
    # 200 of 200 green at gamma=0.25: exactly 0.25**200 ~ 3.9e-121; a normal approximation is far off.
    assert stats.binomial_tail(200, 200, 0.25) == pytest.approx(0.25**200, rel=1e-9)


@pytest.mark.parametrize("n", [1, 2, 5, 30])
def test_gamma_tail_matches_numeric_integration(n):
    for s in [0.1, 1.0, n, 2.0 * n + 3]:
        dens = lambda x: x ** (n - 1) * math.exp(-x) / math.gamma(n)  # noqa: E731
        want, _ = integrate.quad(dens, s, np.inf)
        assert stats.gamma_tail(s, n) == pytest.approx(want, rel=1e-7)


def test_gamma_tail_n1_is_exponential():
    assert stats.gamma_tail(3.0, 1) == pytest.approx(math.exp(-3.0), rel=1e-12)


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 2000), gamma=st.floats(0.01, 0.99), data=st.data())
def test_binomial_pvalue_in_unit_interval_and_monotone(n, gamma, data):
    k = data.draw(st.integers(0, n - 1))
    p1 = float(stats.binomial_tail(k, n, gamma))
    p2 = float(stats.binomial_tail(k + 1, n, gamma))
    assert 0.0 <= p2 <= p1 <= 1.0


@settings(max_examples=100, deadline=None)
@given(n=st.integers(1, 500), s=st.floats(0, 2000), ds=st.floats(0, 50))
def test_gamma_pvalue_in_unit_interval_and_monotone(n, s, ds):
    p1 = float(stats.gamma_tail(s, n))
    p2 = float(stats.gamma_tail(s + ds, n))
    assert 0.0 <= p2 <= p1 <= 1.0


def test_sidak_small_p_precision_and_bounds():
    assert stats.sidak(1e-12, 10_000) == pytest.approx(1e-8, rel=1e-6)
    assert stats.sidak(0.5, 1) == pytest.approx(0.5)
    assert stats.sidak(0.5, 2) == pytest.approx(0.75)
    assert stats.sidak(1.0, 3) == 1.0
    with pytest.raises(ValueError, match="m must be >= 1"):
        stats.sidak(0.1, 0)


def test_clopper_pearson_known_values():
    lo, hi = stats.binomial_interval(0, 10, 0.95)
    assert lo == 0.0 and hi == pytest.approx(1 - 0.025 ** (1 / 10), rel=1e-9)
