"""Tournament sampling (SynthID-Text): known answers, the closed form against an explicit bracket,
non-distortion over keys, exact detection against the naive per-token loop, calibration, power, and
the Hugging Face processor."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import naive_prf as naive
from lm_sim import BigramLM
from stillwatch.core import prf, stats, tournament
from stillwatch.errors import SpecError
from stillwatch.mark import LayerParams, MarkConfig, Marker, MasterKey, WatermarkSpec, attribute_ids, detect_ids, detect_many

KEY = bytes(range(32))
MASTER = MasterKey(bytes(range(32)))


def _tcfg(dp=4, da=3, h=1, **kw):
    return MarkConfig(provider=LayerParams(scheme="tournament", context_width=h, depth=dp),
                      account=LayerParams(scheme="tournament", context_width=h, depth=da), **kw)


# ------------------------------------------------------------------------------------ known answers
def test_g_values_known_answers():
    # swprf1 pinned word for (KEY, ctx [1, 2], token 3) is 0xF9B84CACE53EFCC3 (test_mark_prf's KAT):
    # its low byte 0xC3 = 0b11000011 gives layers 0..7 = 1,1,0,0,0,0,1,1; 37 of its 64 bits are 1.
    u = tournament.words(*prf.key_words(KEY), prf.fold(np.array([[1, 2]])), np.array([3]))
    assert int(u[0]) == 0xF9B84CACE53EFCC3
    assert tournament.g_values(u, 8)[0].tolist() == [1, 1, 0, 0, 0, 0, 1, 1]
    assert int(tournament.ones(u, 8)[0]) == 4 and int(tournament.ones(u, 16)[0]) == 10 and int(tournament.ones(u, 64)[0]) == 37


def test_winner_distribution_known_answer():
    # by hand from equation (1): G = 0.5 + 0.2 = 0.7, p1 = (0.5 * 1.3, 0.3 * 0.3, 0.2 * 1.3)
    got = tournament.winner_distribution(np.array([[0.5, 0.3, 0.2]]), np.array([[[1], [0], [1]]]))
    np.testing.assert_allclose(got[0], [0.65, 0.09, 0.26], atol=1e-15)
    # second round with g2 = (0, 1, 1): G2 = 0.09 + 0.26 = 0.35
    got2 = tournament.winner_distribution(np.array([[0.5, 0.3, 0.2]]), np.array([[[1, 0], [0, 1], [1, 1]]]))
    np.testing.assert_allclose(got2[0], [0.65 * 0.65, 0.09 * 1.65, 0.26 * 1.65], atol=1e-15)


def test_tournament_spec_known_answer_and_old_specs_unchanged():
    s = WatermarkSpec(scheme="tournament", context_width=1, depth=16)
    assert s.canonical() == (
        b'{"context_width":1,"delta":null,"depth":16,"gamma":null,"key_id":"provider","layer":"provider",'
        b'"prf":"swprf1","scheme":"tournament","split":null,"split_width":1,"tokenizer_id":null}'
    )
    assert s.fingerprint == "sha256:11c88850e743916352c0a68bb605910dc5e43edc442e917006699db963fc7beb"
    assert WatermarkSpec.from_dict(s.to_dict()) == s
    old = WatermarkSpec(context_width=2, gamma=0.25, delta=2.0)  # issued before depth existed: same bytes as then
    assert b"depth" not in old.canonical() and WatermarkSpec.from_dict(old.to_dict()) == old
    assert WatermarkSpec(scheme="kgw", depth=7).depth is None
    with pytest.raises(SpecError, match="depth must be an integer in 1..64"):
        WatermarkSpec(scheme="tournament", depth=65)
    with pytest.raises(SpecError, match="depth must be an integer in 1..64"):
        LayerParams(scheme="tournament", depth=0)
    with pytest.raises(SpecError, match="order must be one of"):
        _tcfg(order="random")
    with pytest.raises(SpecError, match="Gumbel provider layer cannot be combined"):
        MarkConfig(provider=LayerParams(scheme="gumbel"), account=LayerParams(scheme="tournament"))


def test_detection_known_answer():
    # counts pinned from the naive reference at the time of writing (they must never change)
    ids = np.array([5, 9, 5, 9, 5, 1, 2, 3, 40, 41, 42, 5, 9])
    r = detect_ids(ids, WatermarkSpec(scheme="tournament", context_width=1, depth=4), MASTER.provider_key())
    assert (r.n_green, r.n_scored) == (20, 9)
    assert r.p_value == pytest.approx(naive.binom_tail_exact(20, 36, 0.5), rel=1e-12)
    r64 = detect_ids(ids, WatermarkSpec(scheme="tournament", context_width=2, depth=64), MASTER.provider_key())
    assert (r64.n_green, r64.n_scored) == (321, 10)


# ------------------------------------------------------------------------ closed form vs explicit bracket
@settings(max_examples=25, deadline=None)
@given(p=st.lists(st.floats(0.0, 1.0), min_size=2, max_size=3), m=st.integers(1, 3), data=st.data())
def test_closed_form_equals_explicit_bracket(p, m, data):
    if sum(p) <= 0:
        return
    p = [x / sum(p) for x in p]
    g = [[data.draw(st.integers(0, 1)) for _ in range(m)] for _ in p]
    want = naive.bracket_winner_distribution(p, g)
    got = tournament.winner_distribution(np.array([p]), np.array([g]))[0]
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-14)


def test_marker_equals_bracket_on_its_own_g_values():
    """The Marker's two-key tournament (account layers first) equals the explicit bracket played with
    g-values computed by the naive PRF."""
    cfg = _tcfg(dp=2, da=1, h=2)
    m = Marker(MASTER, "alice", cfg, vocab_size=100)
    ctx, cand = np.array([[7, 8]]), np.array([[3, 50, 99]])
    z = np.array([[0.0, -0.4, -1.3]])
    p = np.exp(z[0]) / np.exp(z[0]).sum()
    acc, prov = MASTER.account_key("alice")._secret, MASTER.provider_key()._secret
    g = [[naive.g_value(acc, [7, 8], v, 0), naive.g_value(prov, [7, 8], v, 0), naive.g_value(prov, [7, 8], v, 1)] for v in cand[0].tolist()]
    want = naive.bracket_winner_distribution(list(p), g)
    got, rest = m.tournament_logprobs(ctx, np.zeros(3, dtype=np.int64), cand[0], z[0])
    np.testing.assert_allclose(np.exp(got), want, rtol=1e-10)
    assert rest.tolist() == [-np.inf]  # no tail: the candidates are the whole vocabulary


@settings(max_examples=40, deadline=None)
@given(K=st.integers(1, 12), m=st.integers(1, 20), seed=st.integers(0, 2**32 - 1))
def test_winner_distribution_properties(K, m, seed):
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.full(K, 0.3), size=4)
    p[:, 0] = 0.0  # an impossible candidate stays impossible
    p = np.where(p.sum(1, keepdims=True) > 0, p / np.maximum(p.sum(1, keepdims=True), 1e-300), 1.0 / K)
    g = rng.integers(0, 2, size=(4, K, m))
    p0, g0 = p.copy(), g.copy()
    out = tournament.winner_distribution(p, g)
    assert np.array_equal(p, p0) and np.array_equal(g, g0)  # inputs untouched
    np.testing.assert_allclose(out.sum(1), 1.0, rtol=1e-9)
    assert (out >= 0).all() and (out <= p * 2.0**m * (1 + 1e-9) + 1e-15).all()  # each round at most doubles
    assert (out[p == 0] == 0).all()
    same = tournament.winner_distribution(p, np.ones_like(g))  # every candidate ties every round
    np.testing.assert_allclose(same, p, rtol=1e-12)
    rows = np.repeat(np.arange(4), K)  # the flat (layer-major) form gives the same numbers
    flat = tournament.winner_flat(p.reshape(-1), rows, 4, np.moveaxis(g, -1, 0).reshape(m, -1))
    np.testing.assert_allclose(flat.reshape(4, K), out, rtol=1e-9, atol=1e-15)  # 1 - G cancels when G ~ 1


# ---------------------------------------------------------------------------------- non-distortion
def test_distortion_free_exactly_over_all_g_assignments():
    """E over fair-coin g-values of the winner distribution is p, exactly (all 2**(K*m) assignments)."""
    p = np.array([0.55, 0.3, 0.15])
    K, m = 3, 2
    allg = np.array(list(itertools.product([0, 1], repeat=K * m))).reshape(-1, K, m)  # [64, K, m]
    out = tournament.winner_distribution(np.broadcast_to(p, (allg.shape[0], K)), allg)
    np.testing.assert_allclose(out.mean(axis=0), p, rtol=1e-12)


def test_distortion_free_over_prf_keys():
    """Averaged over 20,000 random keys (same context, same candidates), the Marker's next-token
    distribution equals the model's within 5 standard errors per token."""
    rng = np.random.default_rng(3)
    N, K, depth = 20_000, 6, 12
    k0 = rng.integers(0, 2**63, size=(N, 1), dtype=np.uint64)
    k1 = rng.integers(0, 2**63, size=(N, 1), dtype=np.uint64)
    p = np.array([0.4, 0.25, 0.15, 0.1, 0.07, 0.03])
    u = tournament.words(k0, k1, prf.fold(np.array([[11, 12]])), np.arange(100, 100 + K)[None, :])  # [N, K]
    out = tournament.winner_distribution(np.broadcast_to(p, (N, K)), tournament.g_values(u, depth))
    se = out.std(axis=0) / np.sqrt(N)
    assert (np.abs(out.mean(axis=0) - p) < 5 * se + 1e-12).all(), (out.mean(axis=0), p)
    assert out.std(axis=0).max() > 0.05  # each key does move the distribution (the test can fail)


# ------------------------------------------------------------------------------------------ detection
@settings(max_examples=40, deadline=None)
@given(ids=st.lists(st.integers(0, 30), min_size=5, max_size=80), h=st.integers(1, 3), depth=st.sampled_from([1, 5, 32, 64]),
       exclude=st.booleans())
def test_detection_equals_naive_reference(ids, h, depth, exclude):
    spec = WatermarkSpec(scheme="tournament", context_width=h, depth=depth)
    if len(ids) <= h:
        return
    prompt = ids[: len(ids) // 3]
    ex = {tuple(prompt[t - h : t + 1]) for t in range(h, len(prompt))} if exclude else None
    ones, n = naive.naive_tournament_detect(MASTER.provider_key()._secret, ids, h, depth, ex)
    r = detect_ids(np.array(ids), spec, MASTER.provider_key(), exclude_ids=[np.array(prompt)] if exclude else ())
    assert (r.n_green, r.n_scored) == (ones, n)
    if n:
        assert r.p_value == pytest.approx(float(stats.binomial_tail(ones, n * depth, 0.5)), rel=1e-12)
    batch = detect_many([np.array(ids)], spec, MASTER.provider_key(), exclude_ids=[[np.array(prompt)]] if exclude else None)
    assert (int(batch.n_green[0]), int(batch.n_scored[0])) == (ones, n)
    assert batch.p_values[0] == pytest.approx(r.p_value, rel=1e-12)


def test_null_calibration_smoke():
    """Unmarked random texts: the false-positive rate at 1e-2 is inside the 99% binomial interval of
    the test's exact size (the largest attainable binomial tail <= alpha, averaged over texts)."""
    rng = np.random.default_rng(21)
    texts = list(rng.integers(0, 5000, size=(6000, 50)))
    spec = WatermarkSpec(scheme="tournament", context_width=2, depth=16)
    res = detect_many(texts, spec, MASTER.provider_key())
    alpha = 1e-2
    sizes = []
    for n in np.unique(res.n_scored):
        trials = int(n) * 16
        k = np.arange(trials + 1)
        tails = stats.binomial_tail(k, trials, 0.5)
        sizes.append((float(tails[tails <= alpha].max()), int((res.n_scored == n).sum())))
    size = sum(s * c for s, c in sizes) / len(texts)
    k = int((res.p_values <= alpha).sum())
    lo, hi = stats.binomial_interval(k, len(texts), 0.99)
    assert lo <= size <= hi, (k, size)


def test_power_both_layers_attribution_and_wrong_keys():
    lm = BigramLM(vocab=1500, seed=8)
    cfg = _tcfg(dp=8, da=8, h=1)
    m = Marker(MASTER, "acct-17", cfg, vocab_size=1500)
    ids = lm.sample(batch=4, length=100, marker=m, seed=4)
    plain = lm.sample(batch=4, length=100, marker=None, seed=4)
    ring = MASTER.key_ring([f"acct-{i}" for i in range(200)])
    for row, prow in zip(ids, plain):
        assert detect_ids(row[4:], m.provider_spec, MASTER.provider_key()).p_value < 1e-8
        assert detect_ids(row[4:], m.account_spec, MASTER.account_key("acct-17")).p_value < 1e-8
        assert detect_ids(row[4:], m.account_spec, MASTER.account_key("acct-18")).p_value > 1e-4
        assert detect_ids(prow[4:], m.provider_spec, MASTER.provider_key()).p_value > 1e-4
        att = attribute_ids(row[4:], m.account_spec, ring)
        assert att.best_account == "acct-17" and att.corrected_p_value < 1e-6
        per_key = [detect_ids(row[4:], m.account_spec, MASTER.account_key(f"acct-{i}")).p_value for i in (3, 17, 150)]
        np.testing.assert_allclose(att.p_values[[3, 17, 150]], per_key, rtol=1e-12)


def test_mutations_are_caught():
    """Detection must depend on each ingredient: reading the g-values from the wrong bits, with the
    wrong context width or with another key must leave the watermark undetectable."""
    lm = BigramLM(vocab=1500, seed=9)
    m = Marker(MASTER, None, MarkConfig(provider=LayerParams(scheme="tournament", context_width=2, depth=8), account=None), vocab_size=1500)
    row = lm.sample(batch=1, length=120, marker=m, seed=6)[0][4:]
    assert detect_ids(row, m.provider_spec, MASTER.provider_key()).p_value < 1e-8
    wrong_h = WatermarkSpec(scheme="tournament", context_width=1, depth=8)
    assert detect_ids(row, wrong_h, MASTER.provider_key()).p_value > 1e-4
    c2 = np.stack([row[:-2], row[1:-1]], axis=1)
    u = tournament.words(*MASTER.provider_key().words, prf.fold(c2), row[2:])
    _, first = np.unique(prf.mix(prf.fold(c2) ^ prf.tok(row[2:])), return_index=True)
    high = np.bitwise_count(u[first] >> np.uint64(56)).sum()  # layers read from the top byte instead
    assert stats.binomial_tail(int(high), first.size * 8, 0.5) > 1e-4
    other = MasterKey(bytes(range(2, 34))).provider_key()  # another provider's key
    assert detect_ids(row, m.provider_spec, other).p_value > 1e-4


def test_split_sharing_and_kgw_account_with_tournament_provider():
    lm = BigramLM(vocab=1500, seed=10)
    split = _tcfg(dp=8, da=8, h=2, sharing="split", split_width=1)
    mixed = MarkConfig(provider=LayerParams(scheme="tournament", context_width=2, depth=12), account=LayerParams(delta=2.0))
    for cfg in (split, mixed):
        m = Marker(MASTER, "erin", cfg, vocab_size=1500)
        for row in lm.sample(batch=2, length=150, marker=m, seed=12):
            assert detect_ids(row[4:], m.provider_spec, MASTER.provider_key()).p_value < 1e-5
            assert detect_ids(row[4:], m.account_spec, MASTER.account_key("erin")).p_value < 1e-5


@settings(max_examples=25, deadline=None)
@given(cfg_i=st.integers(0, 3), K=st.integers(1, 9), seed=st.integers(0, 2**32 - 1))
def test_dense_form_equals_flat_form(cfg_i, K, seed):
    """The processor's dense form (K candidates per row, -inf = not a candidate, the rest as column K)
    gives the flat form's numbers on the same candidates, for interleaved, account-first, split and
    KGW + tournament configs."""
    cfg = [_tcfg(dp=5, da=3, h=2, order="interleaved"), _tcfg(dp=2, da=4, h=1),
           _tcfg(dp=4, da=4, h=2, sharing="split", split_width=1),
           MarkConfig(provider=LayerParams(scheme="kgw", context_width=1, delta=2.0), account=LayerParams(scheme="tournament", context_width=2, depth=6))][cfg_i]
    rng = np.random.default_rng(seed)
    B, V = 5, 300
    m = Marker(MASTER, "zoe", cfg, vocab_size=V)
    ctx = rng.integers(0, V, size=(B, 3))
    ids = np.stack([rng.choice(V, size=K, replace=False) for _ in range(B)])
    z = rng.normal(0, 2, size=(B, K))
    z[0, 0] = -np.inf  # a dropped candidate: probability 0
    z_rest = np.where(rng.random(B) < 0.7, rng.normal(-2, 1, size=B), -np.inf)
    z_rest[0] = 0.5  # the row with a dropped candidate has a rest
    dense, rest_d = m.tournament_logprobs_dense(ctx, ids, z, z_rest)
    keep = np.isfinite(z)
    rows = np.broadcast_to(np.arange(B)[:, None], (B, K))[keep]
    flat, rest_f = m.tournament_logprobs(ctx, rows, ids[keep], z[keep], z_rest)
    np.testing.assert_allclose(np.exp(dense[keep]), np.exp(flat), rtol=1e-9, atol=1e-15)  # 1 - G cancels when G ~ 1
    assert np.all(dense[~keep] == -np.inf)
    np.testing.assert_allclose(np.exp(rest_d), np.exp(rest_f), rtol=1e-9, atol=1e-15)
    # no rest in, no rest out (both forms); a rest that loses every round may underflow to 0 (-inf) in one
    # form and stay a subnormal in the other: the allclose above (atol 1e-15 on probabilities) covers that
    assert np.all(np.isneginf(rest_d)[np.isneginf(z_rest)]) and np.all(np.isneginf(rest_f)[np.isneginf(z_rest)])


def test_dense_form_rejects_bad_shapes_and_empty_rows():
    from stillwatch.errors import InputError

    m = Marker(MASTER, "zoe", MarkConfig.default(), vocab_size=100)
    ctx = np.zeros((2, 2), dtype=np.int64)
    with pytest.raises(InputError, match="same shape"):
        m.tournament_logprobs_dense(ctx, np.zeros((2, 3), dtype=np.int64), np.zeros((2, 4)))
    with pytest.raises(InputError, match="at least one candidate"):
        m.tournament_logprobs_dense(ctx, np.zeros((2, 1), dtype=np.int64), np.array([[0.0], [-np.inf]]))
