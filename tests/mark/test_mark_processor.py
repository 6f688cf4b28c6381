"""The Hugging Face logits processor: equal to the naive reference, batch/padding independent,
non-mutating, and producing detectable text through a real transformers `generate`."""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the processor needs the `models` extra (torch)")

import naive_prf as naive  # noqa: E402
from stillwatch.mark import LayerParams, MarkConfig, Marker, MasterKey, detect_ids  # noqa: E402

MASTER = MasterKey(bytes(range(1, 33)))


def _expected_bias(marker, ctx_row, V):
    """Naive per-token bias: sum of delta over KGW layers where the token is green."""
    out = np.zeros(V)
    for layer in marker.layers:
        s = layer.spec
        ctx = list(map(int, ctx_row[len(ctx_row) - s.context_width :]))
        for v in range(V):
            if naive.is_green(layer.key._secret, ctx, v, s.gamma):
                out[v] += s.delta
    return out


def test_processor_equals_naive_reference_full_vocab():
    V = 300
    cfg = MarkConfig(provider=LayerParams(context_width=2, delta=2.0), account=LayerParams(context_width=1, delta=1.5), candidates=0)
    m = Marker(MASTER, "alice", cfg, vocab_size=V)
    proc = m.hf_processor()
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(3, V, generator=g)
    ids = torch.randint(0, V, (3, 9), generator=g)
    ids[0, :4] = 0  # left padding on row 0
    s0, i0 = scores.clone(), ids.clone()
    out = proc(ids, scores)
    assert torch.equal(scores, s0) and torch.equal(ids, i0)  # inputs untouched
    for b in range(3):
        want = scores[b].numpy() + _expected_bias(m, ids[b].numpy(), V)
        np.testing.assert_allclose(out[b].numpy(), want, rtol=0, atol=1e-5)


def test_candidate_restriction_leaves_far_tokens_alone_and_is_batch_independent():
    V = 500
    m = Marker(MASTER, "bob", MarkConfig(candidates=64, margin=5.0), vocab_size=V)
    proc = m.hf_processor()
    g = torch.Generator().manual_seed(1)
    scores = torch.randn(4, V, generator=g) * 4
    ids = torch.randint(0, V, (4, 6), generator=g)
    out = proc(ids, scores)
    far = scores < scores.max(dim=-1, keepdim=True).values - 5.0
    assert torch.equal(out[far], scores[far])
    near_bias = (out - scores)[~far]
    d = m.config.provider.delta
    assert m.config.account.delta == d
    assert set(np.round(np.unique(near_bias.numpy()), 4).tolist()) <= {0.0, round(d, 4), round(2 * d, 4)}
    # row 2 alone, with a different left-padded context length, gets the same result
    alone = proc(torch.cat([torch.zeros(1, 3, dtype=torch.long), ids[2:3]], dim=1), scores[2:3])
    assert torch.equal(alone[0], out[2])


def test_gumbel_processor_forces_the_independently_computed_argmax():
    V = 200
    cfg = MarkConfig(provider=LayerParams(scheme="gumbel", context_width=1), account=None, candidates=0)
    m = Marker(MASTER, None, cfg, vocab_size=V)
    proc = m.hf_processor()
    g = torch.Generator().manual_seed(2)
    scores = torch.randn(2, V, generator=g) * 2
    ids = torch.randint(0, V, (2, 5), generator=g)
    out = proc(ids, scores)
    key = m.layers[0].key._secret
    for b in range(2):
        p = torch.softmax(scores[b].double(), -1).numpy()
        r = np.array([((naive.prf(key, [int(ids[b, -1])], v) >> 12) + 0.5) * 2.0**-52 for v in range(V)])
        want = int(np.argmax(np.log(r) / p))
        assert int(out[b].argmax()) == want
        assert torch.isinf(out[b]).sum() == V - 1


@pytest.mark.parametrize("batch", [1, 7, 64])
def test_generation_through_transformers_is_detectable(batch):
    from stillwatch.models import load_backend

    tiny = load_backend("tiny")
    strong = LayerParams(delta=3.0)  # this test checks the mechanics end to end, not the default strength
    m = Marker(MASTER, "carol", MarkConfig(provider=strong, account=strong), vocab_size=tiny.vocab_size)
    prompts = [f"question number {i} " + "x" * (i % 5) for i in range(batch)]  # different lengths: left padding
    gens = tiny.generate(prompts, max_new_tokens=48, logits_processor=m.hf_processor(), seed=3, batch_size=batch)
    plain = tiny.generate(prompts[:4], max_new_tokens=48, seed=3, batch_size=batch)
    long_enough = [g for g in gens if len(g.completion_ids) >= 24]  # the random model may stop early
    assert len(long_enough) >= max(1, batch // 2)
    for gen in long_enough[:8]:
        ids = np.array(gen.prompt_ids[-2:] + gen.completion_ids)
        assert detect_ids(ids, m.provider_spec, MASTER.provider_key()).p_value < 1e-4
        assert detect_ids(ids, m.account_spec, MASTER.account_key("carol")).p_value < 1e-4
    for gen in [g for g in plain if len(g.completion_ids) >= 8]:
        ids = np.array(gen.prompt_ids[-2:] + gen.completion_ids)
        assert detect_ids(ids, m.provider_spec, MASTER.provider_key()).p_value > 1e-4


def test_processor_rejects_too_short_context():
    from stillwatch.errors import InputError

    m = Marker(MASTER, "dan", MarkConfig(provider=LayerParams(context_width=3)), vocab_size=50)
    with pytest.raises(InputError, match="at least 3 of context"):
        m.hf_processor()(torch.zeros(1, 2, dtype=torch.long), torch.zeros(1, 50))


def test_tournament_processor_equals_marker_and_naive_g_values():
    """Full vocabulary: the processor returns log of the closed-form winner distribution, computed here
    independently from the naive PRF's g-values and an explicit per-layer loop of equation (1)."""
    V = 120
    cfg = MarkConfig(provider=LayerParams(scheme="tournament", context_width=2, depth=3),
                     account=LayerParams(scheme="tournament", context_width=1, depth=2), candidates=0, margin=1e9)
    m = Marker(MASTER, "alice", cfg, vocab_size=V)
    proc = m.hf_processor()
    g = torch.Generator().manual_seed(5)
    scores = torch.randn(3, V, generator=g) * 2
    ids = torch.randint(0, V, (3, 7), generator=g)
    s0, i0 = scores.clone(), ids.clone()
    out = proc(ids, scores)
    assert torch.equal(scores, s0) and torch.equal(ids, i0)
    acc, prov = MASTER.account_key("alice")._secret, MASTER.provider_key()._secret
    for b in range(3):
        row = ids[b].tolist()
        p = torch.softmax(scores[b].double(), -1).numpy()
        layers = [(acc, row[-1:], j) for j in range(2)] + [(prov, row[-2:], j) for j in range(3)]  # account first
        for key, ctx, j in layers:
            gv = np.array([naive.g_value(key, ctx, v, j) for v in range(V)], dtype=float)
            p = p * (1 + gv - (p * gv).sum())
        np.testing.assert_allclose(torch.softmax(out[b].double(), -1).numpy(), p, rtol=1e-5, atol=1e-9)


def test_tournament_processor_candidates_and_batch_independence():
    V = 400
    cfg = MarkConfig(provider=LayerParams(scheme="tournament", context_width=1, depth=6), account=None, candidates=32, margin=4.0)
    proc = Marker(MASTER, None, cfg, vocab_size=V).hf_processor()
    g = torch.Generator().manual_seed(6)
    scores = torch.randn(4, V, generator=g) * 3
    ids = torch.randint(0, V, (4, 5), generator=g)
    out = proc(ids, scores)
    far = scores < scores.max(dim=-1, keepdim=True).values - 4.0
    for b in range(4):  # tokens beyond the margin keep their relative probabilities (one shift per row)
        d = (out[b] - scores[b])[far[b]]
        assert far[b].sum() > V // 2 and float(d.max() - d.min()) < 1e-4
    np.testing.assert_allclose(torch.logsumexp(out.double(), -1).numpy(), 0.0, atol=1e-5)  # a distribution per row
    alone = proc(torch.cat([torch.zeros(1, 2, dtype=torch.long), ids[1:2]], dim=1), scores[1:2])
    assert torch.equal(alone[0], out[1])


def test_tournament_generation_through_transformers_is_detectable():
    from stillwatch.models import load_backend

    tiny = load_backend("tiny")
    cfg = MarkConfig(provider=LayerParams(scheme="tournament", context_width=2, depth=16),
                     account=LayerParams(scheme="tournament", context_width=2, depth=16))
    m = Marker(MASTER, "carol", cfg, vocab_size=tiny.vocab_size)
    prompts = [f"question number {i} " + "x" * (i % 5) for i in range(6)]
    gens = tiny.generate(prompts, max_new_tokens=48, logits_processor=m.hf_processor(), seed=3, batch_size=6, temperature=0.8)
    long_enough = [g for g in gens if len(g.completion_ids) >= 24]
    assert len(long_enough) >= 3
    for gen in long_enough:
        ids = np.array(gen.prompt_ids[-2:] + gen.completion_ids)
        assert detect_ids(ids, m.provider_spec, MASTER.provider_key()).p_value < 1e-4
        assert detect_ids(ids, m.account_spec, MASTER.account_key("carol")).p_value < 1e-4


def test_tournament_processor_is_distortion_free_over_keys_with_a_tail():
    """Averaged over 1,500 master keys, the processor's next-token distribution (8 candidates of 60
    tokens, the other 52 played as one 'rest' candidate) equals softmax(scores) within 5 standard errors."""
    V = 60
    cfg = MarkConfig(provider=LayerParams(scheme="tournament", context_width=1, depth=6),
                     account=LayerParams(scheme="tournament", context_width=1, depth=4), candidates=8, margin=30.0)
    g = torch.Generator().manual_seed(8)
    scores = torch.randn(1, V, generator=g) * 1.5
    ids = torch.tensor([[3, 4]])
    probs = np.stack([torch.softmax(Marker(MasterKey(bytes([i % 256, i // 256]) + bytes(30)), "a", cfg, vocab_size=V).hf_processor()(
        ids, scores)[0].double(), -1).numpy() for i in range(1500)])
    want = torch.softmax(scores[0].double(), -1).numpy()
    se = probs.std(axis=0) / np.sqrt(len(probs))
    assert (np.abs(probs.mean(axis=0) - want) < 5 * se + 1e-9).all()
    assert probs.std(axis=0).max() > 0.02  # the keys do move the distribution
