"""Detection and attribution: agreement with the naive per-token reference, de-duplication,
exclusion, calibration under the null, power under the watermark, and bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sstats

import naive_prf as naive
from lm_sim import BigramLM
from stillwatch.core import stats
from stillwatch.errors import InputError, SpecError, TokenizerMismatchError, TooShortError
from stillwatch.mark import (
    LayerParams,
    MarkConfig,
    Marker,
    MasterKey,
    WatermarkSpec,
    attribute_ids,
    attribute_pairs,
    detect_ids,
    score_pairs,
)
from stillwatch.mark.keys import LayerKey

MASTER = MasterKey(bytes(range(32)))


def _key(name="provider"):
    return MASTER.provider_key() if name == "provider" else MASTER.account_key(name)


@settings(max_examples=80, deadline=None)
@given(
    ids=st.lists(st.integers(0, 30), min_size=6, max_size=120),  # small alphabet => many repeats
    h=st.integers(1, 4),
    gamma=st.sampled_from([0.1, 0.25, 0.5]),
)
def test_kgw_detection_equals_naive_reference(ids, h, gamma):
    if len(ids) <= h:
        return
    spec = WatermarkSpec(context_width=h, gamma=gamma)
    key = _key()
    res = detect_ids(np.array(ids), spec, key)
    g, n = naive.naive_kgw_detect(key._secret, ids, h, gamma)
    assert (res.n_green, res.n_scored) == (g, n)
    assert res.n_scored <= res.n_tokens == len(ids) - h  # de-duplicated never exceeds raw
    assert res.p_value == pytest.approx(naive.binom_tail_exact(g, n, gamma), rel=1e-8, abs=1e-300)
    assert 0.0 <= res.p_value <= 1.0


@settings(max_examples=40, deadline=None)
@given(ids=st.lists(st.integers(0, 50), min_size=5, max_size=80), h=st.integers(1, 3))
def test_gumbel_detection_equals_naive_reference(ids, h):
    if len(ids) <= h:
        return
    spec = WatermarkSpec(scheme="gumbel", context_width=h)
    key = _key()
    res = detect_ids(np.array(ids), spec, key)
    s, n = naive.naive_gumbel_score(key._secret, ids, h)
    assert res.n_scored == n
    assert res.score == pytest.approx(s, rel=1e-12)
    assert res.p_value == pytest.approx(float(sstats.gamma.sf(s, n)), rel=1e-8, abs=1e-300)


def test_repeated_text_is_scored_once():
    spec = WatermarkSpec(context_width=2)
    one = np.array([5, 6, 7, 8, 9, 10])
    many = np.tile(one, 50)
    r1, r50 = detect_ids(one, spec, _key()), detect_ids(many, spec, _key())
    # windows of the repeated text: the 4 of `one` plus the 2 that straddle the seam, and no more
    assert r1.n_scored == 4 and r50.n_scored == 6
    assert r50.n_tokens == len(many) - 2


def test_prompt_windows_excluded():
    spec = WatermarkSpec(context_width=1)
    prompt = np.array([1, 2, 3, 4])
    text = np.array([1, 2, 3, 4, 9, 8])
    with_ex = detect_ids(text, spec, _key(), exclude_ids=[prompt])
    g, n = naive.naive_kgw_detect(_key()._secret, text.tolist(), 1, 0.25, exclude={(1, 2), (2, 3), (3, 4)})
    assert (with_ex.n_green, with_ex.n_scored) == (g, n) == (with_ex.n_green, 2)


def test_score_pairs_exclude_windows_shape_checked():
    spec = WatermarkSpec(context_width=2)
    with pytest.raises(InputError, match=r"\[m, 3\]"):
        score_pairs(np.zeros((3, 2), dtype=np.int64), np.zeros(3, dtype=np.int64), spec, _key(), exclude_windows=np.zeros((2, 2)))


def _exact_size(n: int, gamma: float, alpha: float) -> float:
    """The true size of the discrete binomial test at level alpha: the largest tail P(X >= k) <= alpha."""
    tails = sstats.binom.sf(np.arange(n + 1) - 1, n, gamma)
    ok = tails[tails <= alpha]
    return float(ok.max()) if ok.size else 0.0


def test_null_calibration_kgw_and_gumbel():
    """Unwatermarked sequences: the false-positive rate at alpha stays inside the 99% binomial interval
    around the test's exact size (alpha itself for the continuous Gumbel score; the attainable level
    below alpha for the discrete binomial count)."""
    rng = np.random.default_rng(7)
    texts = rng.integers(0, 5000, size=(3000, 60))
    for spec in (WatermarkSpec(context_width=2, gamma=0.25), WatermarkSpec(scheme="gumbel", context_width=2)):
        res = [detect_ids(t, spec, _key()) for t in texts]
        p = np.array([r.p_value for r in res])
        for alpha in (0.05, 0.01):
            if spec.scheme == "kgw":
                size = float(np.mean([_exact_size(r.n_scored, 0.25, alpha) for r in res]))
            else:
                size = alpha
            k = int((p <= alpha).sum())
            lo, hi = stats.binomial_interval(k, len(p), 0.99)
            assert lo <= size <= hi, (spec.scheme, alpha, k, size)


def test_power_and_both_layers_detectable_additive():
    lm = BigramLM(vocab=2000, seed=3)
    m = Marker(MASTER, "alice", MarkConfig(), vocab_size=2000)
    ids = lm.sample(batch=6, length=150, marker=m, seed=5)
    plain = lm.sample(batch=6, length=150, marker=None, seed=5)
    for row, prow in zip(ids, plain):
        assert detect_ids(row[4:], m.provider_spec, MASTER.provider_key()).p_value < 1e-6
        assert detect_ids(row[4:], m.account_spec, MASTER.account_key("alice")).p_value < 1e-6
        # another account's layer is not present: its p-value is not small
        assert detect_ids(row[4:], m.account_spec.with_key("account:bob"), MASTER.account_key("bob")).p_value > 1e-3
        assert detect_ids(prow[4:], m.provider_spec, MASTER.provider_key()).p_value > 1e-4


def test_split_sharing_each_layer_on_its_positions():
    lm = BigramLM(vocab=2000, seed=4)
    cfg = MarkConfig(sharing="split", provider_share=0.5, split_width=1)
    m = Marker(MASTER, "carol", cfg, vocab_size=2000)
    ids = lm.sample(batch=3, length=200, marker=m, seed=9)
    for row in ids:
        rp = detect_ids(row[4:], m.provider_spec, MASTER.provider_key())
        ra = detect_ids(row[4:], m.account_spec, MASTER.account_key("carol"))
        assert rp.p_value < 1e-5 and ra.p_value < 1e-5
        assert rp.n_scored + ra.n_scored <= len(row) - 4 - 2 + 1


def test_gumbel_provider_layer_power():
    lm = BigramLM(vocab=2000, seed=5)
    cfg = MarkConfig(provider=LayerParams(scheme="gumbel", context_width=2))
    m = Marker(MASTER, "dave", cfg, vocab_size=2000)
    ids = lm.sample(batch=3, length=120, marker=m, seed=11)
    for row in ids:
        assert detect_ids(row[4:], m.provider_spec, MASTER.provider_key()).p_value < 1e-6
        assert detect_ids(row[4:], m.account_spec, MASTER.account_key("dave")).p_value < 1e-3


def test_attribution_matches_per_key_loop_and_finds_account():
    lm = BigramLM(vocab=2000, seed=6)
    accounts = [f"acct-{i}" for i in range(300)]
    m = Marker(MASTER, "acct-123", MarkConfig(), vocab_size=2000)
    row = lm.sample(batch=1, length=200, marker=m, seed=2)[0][4:]
    ring = MASTER.key_ring(accounts)
    res = attribute_ids(row, m.account_spec, ring)
    per_key = np.array([detect_ids(row, m.account_spec, MASTER.account_key(a)).p_value for a in accounts])
    np.testing.assert_allclose(res.p_values, per_key, rtol=1e-12)
    assert res.best_account == "acct-123"
    assert res.corrected_p_value == pytest.approx(-np.expm1(300 * np.log1p(-res.best_p_value)), rel=1e-9)
    assert res.corrected_p_value < 1e-4


def test_attribution_null_is_calibrated():
    """Unmarked text: the corrected p-value of the best of N keys is ~uniform (checked at 0.05 and 0.2)."""
    rng = np.random.default_rng(12)
    ring = MASTER.key_ring([f"a{i}" for i in range(50)])
    spec = WatermarkSpec(layer="account", context_width=2)
    ctx = rng.integers(0, 4000, size=(400, 80, 2))
    tok = rng.integers(0, 4000, size=(400, 80))
    corr = np.array([attribute_pairs(ctx[i], tok[i], spec, ring).corrected_p_value for i in range(400)])
    for alpha in (0.05, 0.2):
        k = int((corr <= alpha).sum())
        lo, hi = stats.binomial_interval(k, 400, 0.99)
        # the binomial tail is discrete, so the test is conservative: allow at most alpha
        assert k / 400 <= hi and lo <= alpha + 0.05


def test_bad_input_messages():
    spec = WatermarkSpec(context_width=3)
    with pytest.raises(TooShortError, match="empty text"):
        detect_ids(np.array([], dtype=np.int64), spec, _key())
    with pytest.raises(TooShortError, match="2 token.*context width 3.*at least 4"):
        detect_ids(np.array([1, 2]), spec, _key())
    with pytest.raises(TokenizerMismatchError, match="token id 70000 is outside the vocabulary"):
        detect_ids(np.array([1, 2, 3, 70000, 5]), spec, _key(), vocab_size=49152)
    # a negative id is named, with or without a vocabulary (its uint64 reading is >= 2**63)
    for vocab in (None, 49152):
        with pytest.raises(TokenizerMismatchError, match="token id -7 is outside the vocabulary"):
            detect_ids(np.array([1, 2, 3, -7, 5]), spec, _key(), vocab_size=vocab)
    with pytest.raises(InputError, match="must be integers, got dtype float64"):
        detect_ids(np.array([1.0, 2.0, 3.0, 4.0]), spec, _key())
    assert detect_ids(np.array([1, 2, 3, 49151, 5]), spec, _key(), vocab_size=49152).n_tokens == 2  # the largest valid id
    with pytest.raises(SpecError, match="scheme must be one of kgw, gumbel, tournament; got 'redgreen'"):
        WatermarkSpec(scheme="redgreen")
    with pytest.raises(SpecError, match="context_width must be an integer in 1..4, got 7"):
        WatermarkSpec(context_width=7)
    with pytest.raises(SpecError, match=r"gamma must be in \(0, 1\)"):
        WatermarkSpec(gamma=1.5)
    with pytest.raises(SpecError, match="delta must be in"):
        WatermarkSpec(delta=-1)
    with pytest.raises(SpecError, match="unknown watermark spec field"):
        WatermarkSpec.from_dict({"scheme": "kgw", "colour": "green"})
    with pytest.raises(SpecError, match="account layer must be kgw"):
        MarkConfig(account=LayerParams(scheme="gumbel"))


def test_spec_canonical_and_fingerprint_stable():
    s = WatermarkSpec(context_width=2, gamma=0.25, delta=2.0, key_id="provider")
    assert s.canonical() == (
        b'{"context_width":2,"delta":2.0,"gamma":0.25,"key_id":"provider","layer":"provider",'
        b'"prf":"swprf1","scheme":"kgw","split":null,"split_width":1,"tokenizer_id":null}'
    )
    import hashlib

    assert s.fingerprint == "sha256:" + hashlib.sha256(s.canonical()).hexdigest()
    assert WatermarkSpec.from_dict(s.to_dict()) == s
    g = WatermarkSpec(scheme="gumbel", gamma=0.3, delta=9)
    assert g.gamma is None and g.delta is None  # irrelevant fields normalised away


def test_layer_key_wrong_length():
    from stillwatch.errors import KeyFileError

    with pytest.raises(KeyFileError, match="must be 32 bytes, got 5"):
        LayerKey("provider", b"12345")


@settings(max_examples=40, deadline=None)
@given(
    texts=st.lists(st.lists(st.integers(0, 25), min_size=5, max_size=60), min_size=1, max_size=8),
    h=st.integers(1, 3),
    scheme=st.sampled_from(["kgw", "gumbel", "tournament"]),
    split=st.sampled_from([None, (0.0, 0.5), (0.5, 1.0)]),
    exclude=st.booleans(),
    group=st.sampled_from([32_768, 40, 7]),
)
def test_detect_many_equals_detect_ids_per_text(texts, h, scheme, split, exclude, group):
    """Also with the texts scored in several groups (detect_many groups about _GROUP_WINDOWS tokens)."""
    from unittest import mock

    from stillwatch.mark import detect as detect_mod
    from stillwatch.mark import detect_many

    spec = WatermarkSpec(scheme=scheme, context_width=h, split=split, split_width=1, depth=5 if scheme == "tournament" else None)
    arrays = [np.array(t) for t in texts if len(t) > h]
    if not arrays:
        return
    ex = [[a[: len(a) // 2]] for a in arrays] if exclude else None
    with mock.patch.object(detect_mod, "_GROUP_WINDOWS", group):
        batch = detect_many(arrays, spec, _key(), exclude_ids=ex)
    assert len(batch) == len(arrays)
    for i, a in enumerate(arrays):
        one = detect_ids(a, spec, _key(), exclude_ids=ex[i] if ex else ())
        r = batch.result(i)
        assert (r.n_scored, r.n_tokens, r.n_green) == (one.n_scored, one.n_tokens, one.n_green)
        assert r.p_value == pytest.approx(one.p_value, rel=1e-12, abs=1e-300)
        assert r.score == pytest.approx(one.score, rel=1e-12, abs=1e-12)
