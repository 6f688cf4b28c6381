"""Round-weighted tournament score (stillwatch.core.weighted): known answers, the exact null against
brute-force enumeration of every g-value assignment, properties, detection against the naive per-token
loop, calibration, power, and the spec / config fields that keep issued evidence readable."""

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import naive_prf as naive
from lm_sim import BigramLM
from stillwatch.core import stats
from stillwatch.core.weighted import TournamentScorer, WeightedNull, linear_weights
from stillwatch.errors import SpecError
from stillwatch.mark import LayerParams, MarkConfig, Marker, MasterKey, WatermarkSpec, attribute_ids, detect_ids, detect_many

MASTER = MasterKey(bytes(range(32)))


def _brute_sf(weights, n):
    """P(S >= s) for s = 0..n sum(w) by enumerating all 2^(n depth) fair-coin assignments (exact fractions)."""
    d = len(weights)
    counts = [0] * (n * sum(weights) + 1)
    for g in itertools.product((0, 1), repeat=n * d):
        counts[sum(weights[i % d] * g[i] for i in range(n * d))] += 1
    total = 2 ** (n * d)
    return [float(Fraction(sum(counts[s:]), total)) for s in range(len(counts))]


def _naive_weighted(key, ids, h, weights, exclude=None):
    """Per-token, per-layer loop: sum of w_l g_l over each distinct window, and the window count."""
    windows = [tuple(ids[t - h : t + 1]) for t in range(h, len(ids))]
    distinct = [w for i, w in enumerate(windows) if w not in windows[:i] and not (exclude and w in exclude)]
    s = sum(weights[j] * naive.g_value(key, list(w[:h]), w[h], j) for w in distinct for j in range(len(weights)))
    return s, len(distinct)


# ------------------------------------------------------------------------------------------ known answers
def test_linear_weights_known_answer():
    # linspace(10, 1, 16) = 10, 9.4, 8.8, 8.2, 7.6, 7.0, 6.4, 5.8, 5.2, 4.6, 4.0, 3.4, 2.8, 2.2, 1.6, 1.0
    assert linear_weights(16) == (10, 9, 9, 8, 8, 7, 6, 6, 5, 5, 4, 3, 3, 2, 2, 1)
    assert linear_weights(1) == (10,) and linear_weights(4, top=4) == (4, 3, 2, 1)


def test_null_known_answers():
    # weights (2, 1), one tuple: S = 2a + b takes 0, 1, 2, 3 with probability 1/4 each
    np.testing.assert_allclose(WeightedNull((2, 1)).survival(1), [1, 0.75, 0.5, 0.25], rtol=1e-13)
    # two tuples: S = 2X + Y, X, Y ~ Bin(2, 1/2); by hand pmf(0..6) = (1, 2, 3, 4, 3, 2, 1) / 16
    sf = np.cumsum(np.array([1, 2, 3, 4, 3, 2, 1])[::-1])[::-1] / 16
    np.testing.assert_allclose(WeightedNull((2, 1)).survival(2), sf, rtol=1e-13)
    nl = WeightedNull((2, 1))
    assert nl.sf(5, 2) == pytest.approx(3 / 16, rel=1e-13) and nl.sf(7, 2) == 0.0 and nl.sf(0, 2) == 1.0 and nl.sf(-3, 2) == 1.0
    assert nl.sf(1, 0) == 0.0 and nl.sf(0, 0) == 1.0


def test_equal_weights_give_the_count_test():
    nl = WeightedNull((1,) * 16)
    k = np.array([1, 1600, 1700, 1800, 1900, 2500])
    np.testing.assert_allclose(nl.sf(k, 200), stats.binomial_tail(k, 3200, 0.5), rtol=1e-10)
    # far tail: relative precision kept (no FFT), against the exact binomial tail
    exact = Fraction(sum(math.comb(3200, i) for i in range(2400, 3201)), 2**3200)  # ~1e-180
    assert nl.sf(2400, 200) == pytest.approx(float(exact), rel=1e-9)


@settings(max_examples=30, deadline=None)
@given(w=st.lists(st.integers(1, 5), min_size=1, max_size=4), n=st.integers(1, 3))
def test_null_equals_brute_force_enumeration(w, n):
    if n * len(w) > 12:
        n = 12 // len(w)
    np.testing.assert_allclose(WeightedNull(tuple(w)).survival(n), _brute_sf(w, n), rtol=1e-12, atol=0)


@settings(max_examples=30, deadline=None)
@given(w=st.lists(st.integers(1, 16), min_size=1, max_size=64), n=st.integers(0, 60))
def test_null_properties(w, n):
    """sf(0) = 1, non-increasing, positive on the support, mean n sum(w) / 2 (E S = sum_{s>=1} P(S >= s)),
    symmetric about it (S and n sum(w) - S have the same law: flip every coin)."""
    sf = WeightedNull(tuple(w)).survival(n)
    W = n * sum(w)
    assert sf.shape == (W + 1,) and sf[0] == 1.0 and np.all(np.diff(sf) <= 1e-15) and np.all(sf >= 0)
    # P(S >= s) >= P(every coin 1) = 2^-(n len(w)): positive on the support wherever float64 can hold that
    # (below 2^-1074 the top of the support underflows to 0, e.g. 64 layers x 60 tuples)
    if n * len(w) <= 1000:
        assert np.all(sf > 0)
    assert sf[1:].sum() == pytest.approx(W / 2, rel=1e-9, abs=1e-9)
    # symmetry: P(S >= s) + P(S >= W - s + 1) = P(S >= s) + P(S <= s - 1) = 1
    np.testing.assert_allclose(sf[1:] + sf[1:][::-1], 1.0, rtol=0, atol=1e-12)


def test_scorer_statistic_is_the_weighted_bit_sum():
    rng = np.random.default_rng(3)
    u = rng.integers(0, 2**63, size=500, dtype=np.int64).astype(np.uint64) * np.uint64(2) + np.uint64(1)
    w = linear_weights(16)
    want = sum(wj * ((u >> np.uint64(j)) & np.uint64(1)).astype(np.int64) for j, wj in enumerate(w))
    np.testing.assert_array_equal(TournamentScorer(16, w).stat(u), want)
    np.testing.assert_array_equal(TournamentScorer(16).stat(u), np.bitwise_count(u & np.uint64(0xFFFF)))
    # deeper layers span several 16-layer lookup tables; total() is the per-text sum (any length, also empty)
    for depth in (5, 17, 32, 64):
        wd = tuple(int(x) for x in rng.integers(1, 17, size=depth))
        naive = sum(wj * ((u >> np.uint64(j)) & np.uint64(1)).astype(np.int64) for j, wj in enumerate(wd))
        sc = TournamentScorer(depth, wd)
        np.testing.assert_array_equal(sc.stat(u), naive)
        assert sc.total(u) == int(naive.sum()) and sc.total(u[:0]) == 0
        long = np.tile(u, 5)  # longer than the summing vector total() starts with
        assert sc.total(long) == 5 * int(naive.sum())
    with pytest.raises(ValueError, match="one entry per layer"):
        TournamentScorer(4, (1, 2))
    with pytest.raises(ValueError, match="integers in 1..16"):
        TournamentScorer(2, (0, 1))


# -------------------------------------------------------------------------------------------- the spec
def test_weighted_spec_known_answer_and_count_specs_unchanged():
    s = WatermarkSpec(scheme="tournament", context_width=2, depth=4, score="weighted", weights=(4, 3, 2, 1))
    assert s.canonical() == (
        b'{"context_width":2,"delta":null,"depth":4,"gamma":null,"key_id":"provider","layer":"provider",'
        b'"prf":"swprf1","scheme":"tournament","score":"weighted","split":null,"split_width":1,"tokenizer_id":null,'
        b'"weights":[4,3,2,1]}'
    )
    assert WatermarkSpec.from_dict(s.to_dict()) == s
    count = WatermarkSpec(scheme="tournament", context_width=1, depth=16)  # pinned in test_mark_tournament too
    assert count.fingerprint == "sha256:11c88850e743916352c0a68bb605910dc5e43edc442e917006699db963fc7beb"
    assert WatermarkSpec(scheme="tournament", depth=16, score="weighted").weights == linear_weights(16)
    assert WatermarkSpec(scheme="tournament", depth=16, score="weighted").fingerprint != count.fingerprint
    for kw, msg in [(dict(score="mean"), "score must be one of"), (dict(weights=(1,) * 16), "only used with score 'weighted'"),
                    (dict(score="weighted", weights=(1, 2)), "one entry per layer"),
                    (dict(score="weighted", weights=(0,) * 16), "integers in 1..16")]:
        with pytest.raises(SpecError, match=msg):
            WatermarkSpec(scheme="tournament", depth=16, **kw)
    with pytest.raises(SpecError, match="needs scheme tournament"):
        WatermarkSpec(scheme="kgw", score="weighted")
    cfg = MarkConfig.from_dict({"provider": {"score": "weighted", "weights": [3, 2, 1] + [1] * 13}})
    assert cfg.provider_spec().weights == (3, 2, 1) + (1,) * 13 and cfg.account_spec("a").score == MarkConfig.default().account.score


# ------------------------------------------------------------------------------------------- detection
@settings(max_examples=30, deadline=None)
@given(ids=st.lists(st.integers(0, 30), min_size=5, max_size=80), h=st.integers(1, 3), depth=st.sampled_from([1, 5, 16, 64]),
       exclude=st.booleans())
def test_detection_equals_naive_reference(ids, h, depth, exclude):
    spec = WatermarkSpec(scheme="tournament", context_width=h, depth=depth, score="weighted")
    if len(ids) <= h:
        return
    prompt = ids[: len(ids) // 3]
    ex = {tuple(prompt[t - h : t + 1]) for t in range(h, len(prompt))} if exclude else None
    s, n = _naive_weighted(MASTER.provider_key()._secret, ids, h, spec.weights, ex)
    r = detect_ids(np.array(ids), spec, MASTER.provider_key(), exclude_ids=[np.array(prompt)] if exclude else ())
    assert (r.n_green, r.n_scored) == (s, n)
    batch = detect_many([np.array(ids)], spec, MASTER.provider_key(), exclude_ids=[[np.array(prompt)]] if exclude else None)
    assert (int(batch.n_green[0]), int(batch.n_scored[0])) == (s, n)
    assert batch.p_values[0] == pytest.approx(r.p_value, rel=1e-12)
    if n * depth <= 12:  # small enough to enumerate: the p-value is the brute-force tail
        assert r.p_value == pytest.approx(_brute_sf(list(spec.weights), n)[min(s, n * sum(spec.weights))], rel=1e-12)


def test_null_calibration_smoke():
    """Unmarked random texts: the FPR at 1e-2 is inside the 99% interval of the test's exact size (the
    largest attainable tail <= alpha of the weighted null, averaged over texts' tuple counts)."""
    rng = np.random.default_rng(22)
    texts = list(rng.integers(0, 5000, size=(6000, 50)))
    spec = WatermarkSpec(scheme="tournament", context_width=2, depth=16, score="weighted")
    res = detect_many(texts, spec, MASTER.provider_key())
    alpha, null = 1e-2, WeightedNull(spec.weights)
    size = sum(float(null.survival(int(n))[null.survival(int(n)) <= alpha].max()) * int((res.n_scored == n).sum())
               for n in np.unique(res.n_scored)) / len(texts)
    k = int((res.p_values <= alpha).sum())
    lo, hi = stats.binomial_interval(k, len(texts), 0.99)
    assert lo <= size <= hi, (k, size)


def test_weighted_score_detects_attributes_and_beats_count_on_late_round_noise():
    """On tournament text the weighted score finds both layers and the right account; a wrong key and
    unmarked text stay null. The weights must follow the order of play: reversed weights (late rounds
    weighted most) lose power against the paper's weights on the same texts (a mutation test)."""
    lm = BigramLM(vocab=1500, seed=8)
    t = LayerParams(scheme="tournament", context_width=1, depth=16)
    cfg = MarkConfig(provider=t, account=t, order="interleaved")
    m = Marker(MASTER, "acct-17", cfg, vocab_size=1500)
    ids = lm.sample(batch=6, length=100, marker=m, seed=4)
    plain = lm.sample(batch=6, length=100, marker=None, seed=4)
    wspec = WatermarkSpec(scheme="tournament", context_width=1, depth=16, score="weighted")
    rev = WatermarkSpec(scheme="tournament", context_width=1, depth=16, score="weighted", weights=linear_weights(16)[::-1])
    aspec = wspec.with_key("account:acct-17")
    ring = MASTER.key_ring([f"acct-{i}" for i in range(100)])
    logp_w, logp_rev = [], []
    for row, prow in zip(ids, plain):
        pw = detect_ids(row[4:], wspec, MASTER.provider_key()).p_value
        assert pw < 1e-6 and detect_ids(row[4:], aspec, MASTER.account_key("acct-17")).p_value < 1e-6
        assert detect_ids(row[4:], aspec, MASTER.account_key("acct-18")).p_value > 1e-4
        assert detect_ids(prow[4:], wspec, MASTER.provider_key()).p_value > 1e-4
        att = attribute_ids(row[4:], aspec, ring)
        assert att.best_account == "acct-17" and att.corrected_p_value < 1e-4
        np.testing.assert_allclose(att.p_values[[3, 17]], [detect_ids(row[4:], aspec, MASTER.account_key(f"acct-{i}")).p_value
                                                          for i in (3, 17)], rtol=1e-12)
        logp_w.append(np.log10(pw))
        logp_rev.append(np.log10(detect_ids(row[4:], rev, MASTER.provider_key()).p_value))
    assert np.mean(logp_w) < np.mean(logp_rev) - 1.0, (logp_w, logp_rev)


# ------------------------------------------------------------------------ the per-text path's shortcuts
def test_hash_tables_hold_the_prf_values_and_large_ids_fall_back():
    from stillwatch.core import prf
    from stillwatch.core.hashtables import MAX_TABLE, TokenHashTables

    tabs = TokenHashTables()
    assert tabs.covers(70_000) and tabs.tok.shape[0] == 1 << 17 and not tabs.covers(MAX_TABLE)
    v = np.random.default_rng(1).integers(0, 70_000, size=300)
    np.testing.assert_array_equal(tabs.tok[v], prf.tok(v))
    np.testing.assert_array_equal(tabs.fold1[v], prf.fold(v[:, None]))
    # a text with an id beyond the tables is hashed directly: same counts as the naive per-token loop
    spec = WatermarkSpec(scheme="tournament", context_width=2, depth=16, score="weighted")
    ids = [3, 9, MAX_TABLE + 5, 4, 9, MAX_TABLE + 5, 4, 7, 1]
    s, n = _naive_weighted(MASTER.provider_key()._secret, ids, 2, spec.weights)
    r = detect_ids(np.array(ids), spec, MASTER.provider_key())
    assert (r.n_green, r.n_scored) == (s, n)


@settings(max_examples=50, deadline=None)
@given(x=st.lists(st.integers(0, 12), min_size=0, max_size=60))
def test_per_text_dedup_equals_first_occurrence(x):
    from stillwatch.core.windows import first_occurrence
    from stillwatch.mark.detect import _repeats_dropped

    a = np.asarray(x, dtype=np.uint64)
    got = _repeats_dropped(a)
    want = first_occurrence(a)
    np.testing.assert_array_equal(np.ones(a.shape[0], dtype=bool) if got is None else got, want)
    assert (got is None) == bool(want.all())


@settings(max_examples=50, deadline=None)
@given(x=st.lists(st.integers(0, 12), min_size=0, max_size=60))
def test_per_text_distinct_words_are_the_unique_values(x):
    from stillwatch.mark.detect import _distinct_words

    a = np.asarray(x, dtype=np.uint64)
    got = _distinct_words(a)
    np.testing.assert_array_equal(np.sort(got), np.unique(a))
    if got.shape[0] == a.shape[0]:
        assert got is a  # nothing repeats: the words themselves, no copy
