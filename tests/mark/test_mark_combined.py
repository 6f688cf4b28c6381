"""One exact test over several tournament layer keys (stillwatch.mark.combined, core.weighted.coins_sf):
the null law against brute-force enumeration of every coin assignment, the summed score against the naive
per-token per-layer loop, calibration over independent keys, power over one key alone, and input errors."""

import itertools
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

import naive_prf as naive
from stillwatch.core import stats
from stillwatch.core.weighted import WeightedNull, coins_sf, lattice_pmf
from stillwatch.errors import InputError
from stillwatch.mark import LayerTuples, MasterKey, WatermarkSpec, score_combined, score_pairs

MASTER = MasterKey(bytes(range(32)))
WEIGHTED = WatermarkSpec(scheme="tournament", context_width=2, depth=16, score="weighted")
COUNT = WatermarkSpec(scheme="tournament", context_width=2, depth=16, score="count")


def _brute_sf(groups):
    """P(S >= s) for every s, S = sum of v * coin over (v, N) groups, by enumerating all 2^(sum N) assignments."""
    ws = [v for v, N in groups for _ in range(N)]
    counts = [0] * (sum(ws) + 1)
    for g in itertools.product((0, 1), repeat=len(ws)):
        counts[sum(w * b for w, b in zip(ws, g))] += 1
    return [float(Fraction(sum(counts[s:]), 2 ** len(ws))) for s in range(len(counts))]


# ------------------------------------------------------------------------------------------- the null law
def test_coins_sf_known_answers():
    # one coin of weight 2 and two of weight 1: S in 0..4 with pmf (1, 2, 2, 2, 1) / 8 (by hand)
    assert [coins_sf(s, [(2, 1), (1, 2)]) for s in range(6)] == pytest.approx([1, 7 / 8, 5 / 8, 3 / 8, 1 / 8, 0], rel=1e-13)
    # a weight named twice: its counts add ((1, 2) and (1, 3) are Binomial(5, 1/2))
    assert coins_sf(4, [(1, 2), (1, 3)]) == pytest.approx(6 / 32, rel=1e-13)
    assert coins_sf(0, []) == 1.0 and coins_sf(1, []) == 0.0 and coins_sf(-2, [(3, 4)]) == 1.0
    with pytest.raises(ValueError, match="weight >= 1"):
        lattice_pmf([(0, 3)])


@settings(max_examples=40, deadline=None)
@given(groups=st.lists(st.tuples(st.integers(1, 5), st.integers(0, 4)), min_size=1, max_size=4).filter(
    lambda g: sum(n for _, n in g) <= 12))
def test_coins_sf_equals_brute_force_enumeration(groups):
    brute = _brute_sf(groups)
    assert [coins_sf(s, groups) for s in range(len(brute) + 1)] == pytest.approx(brute + [0.0], rel=1e-12, abs=0)


def test_two_layers_law_is_the_convolution_of_each_layers_null():
    """Provider (weighted, n1 tuples) + account (count, n2 tuples): the combined law computed here as the
    convolution of WeightedNull's pmf with a scipy Binomial(n2 depth, 1/2) pmf."""
    n1, n2 = 7, 5
    sf1 = WeightedNull(WEIGHTED.weights).survival(n1)
    pmf1 = sf1 - np.append(sf1[1:], 0.0)
    pmf2 = sps.binom.pmf(np.arange(n2 * 16 + 1), n2 * 16, 0.5)
    pmf = np.convolve(pmf1, pmf2)
    groups = WEIGHTED.scorer.coin_groups(n1) + COUNT.scorer.coin_groups(n2)
    for s in (0, 100, 400, 500, 560, 600, len(pmf) - 1):
        assert coins_sf(s, groups) == pytest.approx(pmf[s:].sum(), rel=1e-9)


# ------------------------------------------------------------------------------------------- the statistic
def _naive_layer(key, ctx, toks, spec, exclude):
    """Per-tuple, per-layer loop over the distinct (context, token) tuples not excluded: (score, n)."""
    seen, s = [], 0
    w = spec.weights or (1,) * spec.depth
    for c, t in zip(ctx.tolist(), toks.tolist()):
        tup = (*c, t)
        if tup in seen or tup in exclude:
            continue
        seen.append(tup)
        s += sum(w[j] * naive.g_value(key._secret, c, t, j) for j in range(spec.depth))
    return s, len(seen)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(1, 60), accounts=st.integers(0, 3), mult=st.integers(1, 4))
def test_combined_score_equals_naive_reference(seed, n, accounts, mult):
    rng = np.random.default_rng(seed)
    ctx, toks = rng.integers(0, 6, size=(n, 2)), rng.integers(0, 6, size=n)  # small ids: repeats occur
    ex = rng.integers(0, 6, size=(3, 3))
    keys = [(WEIGHTED, MASTER.provider_key(), mult)] + [
        (COUNT if i % 2 else WEIGHTED, MASTER.account_key(f"a{i}"), 1) for i in range(accounts)]
    res = score_combined([LayerTuples(sp, k, ctx, toks, ex, multiplier=m) for sp, k, m in keys])
    excl = {tuple(r) for r in ex.tolist()}
    parts = [_naive_layer(k, ctx, toks, sp, excl) for sp, k, _ in keys]
    assert res.score == sum(m * s for (_, _, m), (s, _) in zip(keys, parts))
    assert [row["n_scored"] for row in res.layers] == [c for _, c in parts]
    assert [row["multiplier"] for row in res.layers] == [m for _, _, m in keys]
    groups = [(m * v, c) for (sp, _, m), (_, c) in zip(keys, parts) for v in (sp.weights or (1,) * sp.depth)]
    assert res.n_coins == sum(c for _, c in parts) * 16
    assert res.p_value == pytest.approx(coins_sf(res.score, groups), rel=1e-12)
    # each layer alone is the one-key test
    for row, (sp, k, _) in zip(res.layers, keys):
        assert row["p_value"] == pytest.approx(score_pairs(ctx, toks, sp, k, exclude_windows=ex).p_value, rel=1e-12)


def test_one_layer_is_the_one_key_test():
    rng = np.random.default_rng(3)
    ctx, toks = rng.integers(0, 5000, size=(300, 2)), rng.integers(0, 5000, size=300)
    one = score_combined([LayerTuples(WEIGHTED, MASTER.provider_key(), ctx, toks)])
    assert one.p_value == pytest.approx(score_pairs(ctx, toks, WEIGHTED, MASTER.provider_key()).p_value, rel=1e-9)


# ------------------------------------------------------------------------------------------- calibration and power
def test_combined_null_is_calibrated_over_keys():
    """Key-independent tuples, 400 independent master keys (provider + two accounts each): the rate of
    p <= 0.05 and <= 0.2 inside the 99 % binomial interval, and a KS test cannot tell the p-values from U(0, 1)
    (about 5,000 coins per test: the lattice is fine enough for a continuous check)."""
    rng = np.random.default_rng(11)
    ctx, toks = rng.integers(0, 49152, size=(100, 2)), rng.integers(0, 49152, size=100)
    ps = []
    for i in range(400):
        mk = MasterKey(rng.bytes(32))
        layers = [LayerTuples(WEIGHTED, mk.provider_key(), ctx, toks)] + [
            LayerTuples(WEIGHTED, mk.account_key(a), ctx, toks) for a in ("acct-a", "acct-b")]
        ps.append(score_combined(layers).p_value)
    ps = np.asarray(ps)
    for alpha in (0.05, 0.2):
        lo, hi = stats.binomial_interval(int((ps <= alpha).sum()), len(ps), 0.99)
        assert lo <= alpha <= hi
    assert sps.kstest(ps, "uniform").pvalue > 1e-3


def test_a_second_key_with_signal_adds_power():
    """Tuples whose tokens prefer high scores under both the provider and an account key (a student of that
    account's harvest): the combined p-value is far below either key's alone; adding a key whose layer carries
    no signal (another account) costs power but keeps the test valid (still far below the null's range)."""
    rng = np.random.default_rng(5)
    n, cands = 600, 3
    ctx = rng.integers(0, 49152, size=(n, 2))
    alts = rng.integers(0, 49152, size=(n, cands))
    pk, ak = MASTER.provider_key(), MASTER.account_key("acct-x")
    # per tuple: of `cands` candidate tokens keep the one with the largest summed score under both keys
    score = sum(
        np.stack([WEIGHTED.scorer.stat(_words(k, ctx, alts[:, j])) for j in range(cands)], axis=1) for k in (pk, ak))
    toks = alts[np.arange(n), score.argmax(axis=1)]
    keep = rng.random(n) < 0.3  # a weak student: 30 % of its predictions moved
    toks = np.where(keep, toks, alts[:, 0])
    p_prov = score_pairs(ctx, toks, WEIGHTED, pk).p_value
    p_acc = score_pairs(ctx, toks, WEIGHTED, ak).p_value
    both = score_combined([LayerTuples(WEIGHTED, pk, ctx, toks), LayerTuples(WEIGHTED, ak, ctx, toks)]).p_value
    assert both < min(p_prov, p_acc) / 10  # seen: provider 7e-6, account 1.2e-7, both 8.7e-12
    diluted = score_combined([LayerTuples(WEIGHTED, pk, ctx, toks), LayerTuples(WEIGHTED, ak, ctx, toks),
                              LayerTuples(WEIGHTED, MASTER.account_key("acct-other"), ctx, toks)]).p_value
    assert both < diluted < 1e-3


def test_provider_weighed_by_the_number_of_accounts_keeps_power_when_the_harvest_is_split():
    """A harvest split over 4 accounts: each quarter of the student's tuples prefers high scores under the provider
    key and that quarter's account key, so each account layer carries a quarter of the provider layer's lift. Over
    20 such students, the summed score's z-value (mean and variance of the exact law, from the weights): equal
    weights add more noise than signal (below the provider alone, expected ratio 2 / sqrt(5) = 0.89); the provider
    weighed 4 and each account 1 (weights proportional to the expected lift, what combined_test uses) is above it
    (expected (4 + 1) / sqrt(20) = 1.12). One student's p-values can order either way (seen); the means do not."""
    W = np.asarray(WEIGHTED.weights, dtype=np.float64)
    mu, var = W.sum() / 2, (W**2).sum() / 4  # per tuple and key, under H0
    n, cands, k = 800, 3, 4
    z = []
    for seed in range(20):
        rng = np.random.default_rng(100 + seed)
        ctx, alts = rng.integers(0, 49152, size=(n, 2)), rng.integers(0, 49152, size=(n, cands))
        keys = [MASTER.provider_key()] + [MASTER.account_key(f"acct-{i}") for i in range(k)]
        stat = [np.stack([WEIGHTED.scorer.stat(_words(key, ctx, alts[:, j])) for j in range(cands)], axis=1) for key in keys]
        own = np.stack(stat[1:])[np.arange(n) % k, np.arange(n)]  # [n, cands]: each tuple's own account's scores
        toks = alts[np.arange(n), (stat[0] + own).argmax(axis=1)]
        toks = np.where(rng.random(n) < 0.3, toks, alts[:, 0])
        res = score_combined([LayerTuples(WEIGHTED, key, ctx, toks, multiplier=k if i == 0 else 1) for i, key in enumerate(keys)])
        s = [row["score"] for row in res.layers]
        assert res.score == k * s[0] + sum(s[1:])
        zf = lambda m: (m * s[0] + sum(s[1:]) - (m + k) * n * mu) / np.sqrt((m * m + k) * n * var)  # noqa: E731
        z.append((zf(1), (s[0] - n * mu) / np.sqrt(n * var), zf(k)))
    equal, alone, weighted = np.mean(z, axis=0)
    assert equal < alone < weighted  # seen (30 students): 4.59 < 4.99 < 5.64
    assert weighted / alone == pytest.approx(1.12, abs=0.08) and equal / alone == pytest.approx(0.89, abs=0.08)


def _words(key, ctx, toks):
    from stillwatch.core import prf

    k0, k1 = key.words
    return prf.prf(k0, k1, ctx, toks)


# ------------------------------------------------------------------------------------------- bad input
def test_same_key_twice_and_non_tournament_layers_are_refused():
    ctx, toks = np.zeros((3, 2), dtype=np.int64), np.arange(3)
    pk = MASTER.provider_key()
    with pytest.raises(InputError, match="named twice"):
        score_combined([LayerTuples(WEIGHTED, pk, ctx, toks), LayerTuples(COUNT, pk, ctx, toks)])
    with pytest.raises(InputError, match="needs tournament layers, got a 'kgw' layer"):
        score_combined([LayerTuples(WEIGHTED, pk, ctx, toks), LayerTuples(WatermarkSpec(context_width=2), MASTER.account_key("a"), ctx, toks)])
    with pytest.raises(InputError, match="at least one"):
        score_combined([])
    with pytest.raises(InputError, match="multiplier must be an integer >= 1"):
        score_combined([LayerTuples(WEIGHTED, pk, ctx, toks, multiplier=0)])
