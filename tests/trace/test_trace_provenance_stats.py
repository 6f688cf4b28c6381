"""Statistics of `trace provenance`: known answers against independent computations, naive
reference implementations, and the calibration of the whole sequential procedure under H0."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from stillwatch.core.stats import binomial_interval
from stillwatch.errors import InputError
from stillwatch.trace.provenance import ProvenanceConfig, run_provenance
from stillwatch.trace.provenance_stats import (
    EMPTY_ANSWER,
    agreement,
    discordant_counts,
    holm,
    mcnemar_one_sided,
    nikolic_compare,
    nikolic_test,
    panel_test,
    sequential_p_value,
    spending_weights,
)


def _naive_binom_sf(k: int, n: int) -> float:
    return sum(math.comb(n, i) for i in range(k, n + 1)) / 2**n


@pytest.mark.parametrize("n10,n01", [(0, 0), (5, 0), (0, 5), (7, 3), (30, 12), (12, 30), (60, 40), (1, 1)])
def test_mcnemar_matches_exact_binomial_sum_and_scipy(n10, n01):
    p = float(mcnemar_one_sided(n10, n01))
    assert p == pytest.approx(_naive_binom_sf(n10, n10 + n01), rel=1e-12, abs=1e-300)
    if n10 + n01:
        assert p == pytest.approx(stats.binomtest(n10, n10 + n01, 0.5, alternative="greater").pvalue, rel=1e-10)


def test_mcnemar_known_values():
    assert float(mcnemar_one_sided(10, 0)) == pytest.approx(2.0**-10)
    assert float(mcnemar_one_sided(0, 10)) == 1.0
    assert float(mcnemar_one_sided(2, 1)) == pytest.approx(4 / 8)  # P(X >= 2), X ~ Bin(3, 1/2)
    with pytest.raises(InputError):
        mcnemar_one_sided(-1, 2)


@given(st.lists(st.lists(st.booleans(), min_size=4, max_size=4), min_size=1, max_size=40))
@settings(max_examples=60, deadline=None)
def test_discordant_counts_match_naive_loops(rows):
    a = np.array(rows, dtype=bool)
    n10, n01 = discordant_counts(a)
    for j in range(4):
        for k in range(4):
            assert n10[j, k] == sum(r[j] and not r[k] for r in rows)
            assert n01[j, k] == sum(r[k] and not r[j] for r in rows)


@given(st.lists(st.tuples(st.lists(st.booleans(), min_size=3, max_size=3), st.lists(st.booleans(), min_size=3, max_size=3)),
                min_size=1, max_size=30))
@settings(max_examples=60, deadline=None)
def test_discordant_counts_with_usable_mask_match_naive_loops(rows):
    a = np.array([r[0] for r in rows], dtype=bool)
    u = np.array([r[1] for r in rows], dtype=bool)
    n10, _ = discordant_counts(a, u)
    for j in range(3):
        for k in range(3):
            assert n10[j, k] == sum(x[j] and not x[k] and v[j] and v[k] for x, v in zip(a, u))


def test_a_panel_model_answering_whitespace_neither_wins_nor_blocks():
    """Gemma base answers "\\n\\n" to many chat prompts; a whitespace answer "agrees" with every
    suspect answer, so unmasked it would look closest to every suspect. Masked, it is compared only
    where it said something."""
    rng = np.random.default_rng(4)
    n = 600
    words = np.array(["The", "I", "A", "When", "In", "To", "Sure", "Yes"])
    sus = words[rng.integers(0, 8, n)]
    cand = np.where(rng.random(n) < 0.6, sus, words[rng.integers(0, 8, n)])  # derived: copies 60%
    blank = np.where(rng.random(n) < 0.5, "\n\n", words[rng.integers(0, 8, n)])  # independent, half blank
    ref = words[rng.integers(0, 8, n)]
    r = _run(list(sus), [list(cand), list(blank), list(ref)], 2, ProvenanceConfig(max_queries=n, look_every=n, alpha=0.01))
    assert r.most_likely_parent == "m0"
    assert r.candidates[1]["agreement"] < 0.25  # over its informative answers only (about 1/8 by chance)
    # an independent suspect is not attributed to the blank-answering candidate
    other = words[rng.integers(0, 8, n)]
    r2 = _run(list(other), [list(blank), list(cand), list(ref)], 2, ProvenanceConfig(max_queries=n, look_every=n, alpha=0.01))
    assert r2.most_likely_parent is None


def _naive_holm(p):
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    adj, running = [0.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adj[i] = running
    return adj


@given(st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=12))
@settings(max_examples=100, deadline=None)
def test_holm_matches_naive_step_down(p):
    assert np.allclose(holm(p), _naive_holm(p))


def test_holm_known_answer():
    assert np.allclose(holm([0.01, 0.04, 0.03, 0.5]), [0.04, 0.09, 0.09, 0.5])


def test_panel_test_is_the_max_over_rivals_then_holm():
    rng = np.random.default_rng(3)
    a = rng.random((200, 5)) < [0.6, 0.4, 0.3, 0.3, 0.2]
    t = panel_test(a, 2)
    for c in range(2):
        ps = []
        for r in range(5):
            if r != c:
                n10 = int((a[:, c] & ~a[:, r]).sum())
                n01 = int((a[:, r] & ~a[:, c]).sum())
                ps.append(_naive_binom_sf(n10, n10 + n01))
        assert t.p_value[c] == pytest.approx(max(ps), rel=1e-9)
    assert np.allclose(t.p_holm, _naive_holm(list(t.p_value)))
    assert t.p_value[0] < 1e-6 and t.p_value[1] > 0.5  # model 0 is clearly the closest
    with pytest.raises(InputError):
        panel_test(a[:, :1], 1)


def test_agreement_exact_and_prefix():
    sus = ["The", " T", "Sure", "", "Th", "x", " "]
    oth = ["The", "The", "Su", "  ", "To", "y", "Hi"]
    assert agreement(sus, oth, mode="exact").tolist() == [True, False, False, True, False, False, False]
    assert agreement(sus, oth, mode="prefix").tolist() == [True, True, True, True, False, False, True]
    # an empty answer (end of sequence) agrees with another empty one, not with a word
    assert agreement(["", ""], ["Hello", ""]).tolist() == [False, True]
    assert EMPTY_ANSWER not in "Hello"
    # a partial UTF-8 byte decodes to U+FFFD: uninformative, not "equal to every other partial byte"
    assert agreement(["\ufffd", "\ufffd"], ["x", "\ufffd"]).tolist() == [True, True]
    assert agreement(["\ufffdA"], ["B"]).tolist() == [False]
    with pytest.raises(InputError):
        agreement(["a"], ["a", "b"])


def test_cross_tokenizer_strings_compare_by_prefix():
    """First tokens of the same answer under a word-piece tokenizer and a byte tokenizer agree;
    different words do not (strings as SmolLM2's BPE and the byte tokenizer decode them)."""
    bpe = ["Sure", " The", "Here", "To", "```"]
    byte = ["S", " ", "H", "T", "`"]  # a space carries no information: it agrees with anything
    other = ["O", "I", "W", "A", "#"]
    assert agreement(bpe, byte).all()
    assert not agreement(bpe, other).any()
    assert agreement(bpe, byte, mode="exact").sum() == 0  # exact matching cannot compare them


def test_spending_weights_and_sequential_p():
    w = spending_weights([250, 500, 750, 1000], 1000, 1.0)
    assert np.allclose(w, 0.25) and w.sum() == pytest.approx(1.0)
    w3 = spending_weights([500, 1000], 1000, 3.0)
    assert np.allclose(w3, [0.125, 0.875])
    assert sequential_p_value([0.02, 0.5], w3) == pytest.approx(0.16)
    assert sequential_p_value([0.9, 0.9], w3) == 1.0
    with pytest.raises(InputError):
        spending_weights([500, 400, 1000], 1000)
    with pytest.raises(InputError):
        spending_weights([500], 1000)


def _naive_two_prop_two_sided(t1, n1, t2, n2):
    p = (t1 + t2) / (n1 + n2)
    z = (t1 / n1 - t2 / n2) / math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    return math.erfc(abs(z) / math.sqrt(2))


def _naive_fisher_two_sided(a, b, c, d):
    """Two-sided Fisher exact p for [[a, b], [c, d]]: sum of tables no more likely than the observed."""
    r1, c1, n = a + b, a + c, a + b + c + d

    def prob(x):
        return math.comb(c1, x) * math.comb(n - c1, r1 - x) / math.comb(n, r1)

    p_obs = prob(a)
    lo, hi = max(0, r1 + c1 - n), min(r1, c1)
    return sum(prob(x) for x in range(lo, hi + 1) if prob(x) <= p_obs * (1 + 1e-7))


def test_nikolic_pairwise_test_matches_independent_formulas():
    assert nikolic_compare(60, 100, 40, 100) == pytest.approx(_naive_two_prop_two_sided(60, 100, 40, 100), rel=1e-9)
    assert nikolic_compare(520, 1000, 480, 1000) == pytest.approx(_naive_two_prop_two_sided(520, 1000, 480, 1000), rel=1e-9)
    # a cell below 5: Fisher's exact test (table [[t1, t2], [n1 - t1, n2 - t2]])
    assert nikolic_compare(3, 50, 12, 50) == pytest.approx(_naive_fisher_two_sided(3, 12, 47, 38), rel=1e-9)


def test_nikolic_algorithm_picks_best_and_applies_holm():
    best, sig, pmax = nikolic_test([300, 200, 210], 1000, 0.05)
    assert best == 0 and sig and pmax == pytest.approx(_naive_two_prop_two_sided(300, 1000, 210, 1000), rel=1e-9)
    best, sig, _ = nikolic_test([300, 290, 100], 1000, 0.05)
    assert best == 0 and not sig


def _simulate(rng, n, rho_c, rho_r, vocab=6):
    """Suspect answers s; a panel model copies s with probability rho, else draws independently."""
    s = rng.integers(0, vocab, n)

    def copy(rho):
        return np.where(rng.random(n) < rho, s, rng.integers(0, vocab, n))

    return [str(x) for x in s], [[str(x) for x in copy(r)] for r in (*rho_c, *rho_r)]


class _N:
    def __init__(self, name):
        self.name = name


def _run(sus, panel, n_cand, cfg):
    names = [_N(f"m{i}") for i in range(len(panel))]
    return run_provenance(_N("s"), names[:n_cand], names[n_cand:], config=cfg, panel_answers=panel, suspect_answers=sus)


def test_sequential_procedure_is_calibrated_at_the_boundary_of_h0():
    """Candidate and the closest reference equally close to the suspect (the least favourable null
    for the IUT: one binding rival) plus a far candidate: the chance of any attribution over 600
    seeds stays within the binomial interval of alpha."""
    cfg = ProvenanceConfig(max_queries=200, look_every=50, alpha=0.1)
    rng = np.random.default_rng(7)
    hits = 0
    for _ in range(600):
        sus, panel = _simulate(rng, 200, (0.3, 0.0), (0.3,))
        hits += _run(sus, panel, 2, cfg).most_likely_parent is not None
    lo, hi = binomial_interval(hits, 600, 0.99)
    assert lo <= 0.1, f"false attribution rate {hits / 600:.3f} exceeds alpha"


def test_peeking_at_full_alpha_would_inflate_the_error_our_spending_does_not():
    """Mutation check of the alpha spending: testing every look at the full alpha (no spending)
    attributes more often under H0 than the spending rule, which stays at or below alpha."""
    cfg = ProvenanceConfig(max_queries=400, look_every=40, alpha=0.1)
    rng = np.random.default_rng(11)
    ours = naive = 0
    for _ in range(300):
        sus, panel = _simulate(rng, 400, (0.25,), (0.25,))
        r = _run(sus, panel, 1, cfg)
        ours += r.most_likely_parent is not None
        # naive: reject if any look's fixed-n p-value is below alpha
        a = np.array([[x == y for y in col] for x, col in zip(sus, zip(*panel))])
        naive += any(panel_test(a[:n], 1).p_holm[0] <= 0.1 for n in range(40, 401, 40))
    assert ours / 300 <= binomial_interval(int(0.1 * 300), 300, 0.99)[1]
    assert naive > ours and naive / 300 > 0.1


def test_power_on_a_derived_model_and_early_stop():
    rng = np.random.default_rng(5)
    sus, panel = _simulate(rng, 1000, (0.7, 0.2), (0.25, 0.1))
    r = _run(sus, panel, 2, ProvenanceConfig(alpha=0.01))
    assert r.most_likely_parent == "m0" and r.decision == "derived" and r.stopped == "rejected"
    assert r.queries_spent == 250 and r.p_values["m0"] <= 0.01 and r.p_values["m1"] > 0.5
    assert r.candidates[0]["hardest_rival"] == "m2"
    d = r.to_dict()
    assert {"most_likely_parent", "p_values", "correction", "queries_spent", "null_hypothesis", "decision"} <= set(d)
    assert "answers" not in d


def test_futility_stop_when_no_candidate_leads():
    rng = np.random.default_rng(9)
    sus, panel = _simulate(rng, 1000, (0.1,), (0.5,))
    r = _run(sus, panel, 1, ProvenanceConfig())
    assert r.decision == "none" and r.stopped == "futility" and r.queries_spent == 500


def test_no_futility_stop_without_evidence():
    """With no discordant prompt at all, "not ahead" is "no evidence yet": the test uses its budget."""
    same = ["The"] * 400
    r = _run(same, [same, same], 1, ProvenanceConfig(max_queries=400, look_every=100))
    assert r.stopped == "budget" and r.queries_spent == 400 and r.decision == "none"
