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
    distinctive_habits,
    habit_matrix,
    holm,
    mcnemar_one_sided,
    nikolic_compare,
    nikolic_test,
    panel_test,
    sequential_p_value,
    spending_weights,
    weighted_bonferroni,
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
    # " T" vs "The": a one-character prefix is too generic to count; "Sure" vs "Su": a 2-character one counts;
    # whitespace (uninformative) agrees with no informative answer, the end of sequence ("") included
    assert agreement(sus, oth, mode="prefix").tolist() == [True, False, True, False, False, False, False]
    # an empty answer (end of sequence) agrees with another empty one, not with a word
    assert agreement(["", ""], ["Hello", ""]).tolist() == [False, True]
    assert EMPTY_ANSWER not in "Hello"
    # a partial UTF-8 byte decodes to U+FFFD: uninformative, not "equal to every other partial byte"
    assert agreement(["\ufffd", "\ufffd"], ["x", "\ufffd"]).tolist() == [False, True]
    assert agreement(["\ufffdA"], ["B"]).tolist() == [False]
    with pytest.raises(InputError):
        agreement(["a"], ["a", "b"])


def test_cross_tokenizer_strings_compare_by_prefix():
    """First tokens of the same answer under two word-piece tokenizers agree; different words do
    not; a byte tokenizer's single characters agree with nothing but the same character."""
    bpe = ["Sure", " The", "Here", "To", "```"]
    other_bpe = ["Su", "Th", "Her", "To", "``"]
    byte = ["S", "T", "H", "T", "`"]
    other = ["O", "I", "W", "A", "#"]
    assert agreement(bpe, other_bpe).all()
    assert agreement(bpe, other_bpe, mode="exact").sum() == 1  # exact matching cannot compare them
    assert not agreement(bpe, byte).any()
    assert not agreement(bpe, other).any()
    assert agreement(byte, byte).all()


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


def _run(sus, panel, n_cand, cfg, profile=None):
    names = [_N(f"m{i}") for i in range(len(panel["chat"] if isinstance(panel, dict) else panel))]
    return run_provenance(_N("s"), names[:n_cand], names[n_cand:], config=cfg, panel_answers=panel, suspect_answers=sus,
                          profile_answers=profile)


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
    """With no discordant prompt at all, "not ahead" is "no evidence yet": judged by agreement (gated), the test
    uses its budget. Judged by the excess alone, a suspect with no non-zero pair after two looks is not ahead
    (here it answers one string, so its excess is zero whatever comes): it stops for futility at the second look."""
    same = ["The"] * 400
    r = _run(same, [same, same], 1, ProvenanceConfig(max_queries=400, look_every=100, per_mode="gated"))
    assert r.stopped == "budget" and r.queries_spent == 400 and r.decision == "none"
    r = _run(same, [same, same], 1, ProvenanceConfig(max_queries=400, look_every=100))
    assert r.stopped == "futility" and r.queries_spent == 200 and r.decision == "none"


# ---------------------------------------------------------------------------- issue 17, second session
def _naive_norm(x: str) -> str:
    return "\u2205" if x == "" else x.replace("\ufffd", "").strip()


def _naive_agree(a: str, b: str) -> bool:
    a, b = _naive_norm(a), _naive_norm(b)
    return a == b or ((a.startswith(b) or b.startswith(a)) and min(len(a), len(b)) >= 2)


@given(st.lists(st.tuples(st.text("Th e\n", max_size=4), st.text("Th e\n", max_size=4)), min_size=1, max_size=30))
@settings(max_examples=80, deadline=None)
def test_prefix_agreement_matches_a_naive_reference(pairs):
    a, b = [p[0] for p in pairs], [p[1] for p in pairs]
    assert agreement(a, b).tolist() == [_naive_agree(x, y) for x, y in pairs]


def _single_character_world(rng, n, *, min_chars_rule: bool):
    """The zoo's failure: an independent byte-level suspect answers single characters ("t" most
    often); candidate g (Gemma-like) often answers " the"; candidate s and the reference answer
    other words. Returns the suspect's answers and the panel."""
    sus = list(rng.choice(["t", "a", "i", "s"], n, p=[0.4, 0.2, 0.2, 0.2]))
    g = list(rng.choice(["the", "and", "in", "\n\n"], n, p=[0.5, 0.2, 0.2, 0.1]))
    s = list(rng.choice(["The", "Here", "```", "Sure"], n))
    ref = list(rng.choice(["def", "self", "return", "import"], n))
    return sus, [g, s, ref]


def test_single_characters_no_longer_attribute_an_independent_model():
    """Mutation check of the >= 2 characters rule: with one-character prefixes counted (the old
    rule, computed here by hand) the independent suspect is "attributed" to g; with the rule it is not."""
    rng = np.random.default_rng(3)
    sus, panel = _single_character_world(rng, 300, min_chars_rule=True)
    old = np.array([[y.strip().startswith(x) or x.startswith(y.strip()) for y in col] for x, col in zip(sus, zip(*panel))])
    assert panel_test(old, 2).p_holm[0] < 1e-6  # the old rule: a confident false attribution
    r = _run(sus, panel, 2, ProvenanceConfig(max_queries=300, look_every=100, alpha=0.05, habit_top=0))
    assert r.most_likely_parent is None
    assert all(c["agreement"] == 0.0 for c in r.candidates)


def test_equal_weight_bonferroni_known_values():
    p = np.array([[0.01, 0.5], [0.2, 0.03], [1.0, 1.0]])
    assert weighted_bonferroni(p, np.full(3, 1 / 3)).tolist() == pytest.approx([0.03, 0.09])
    assert weighted_bonferroni(np.array([[0.6], [0.9]]), [0.5, 0.5]).tolist() == [1.0]
    assert weighted_bonferroni([0.2, 0.4], [1.0]).tolist() == pytest.approx([0.2, 0.4])  # one statistic: unchanged
    with pytest.raises(InputError):
        weighted_bonferroni(np.zeros((0, 2)), [])


def test_distinctive_habits_and_habit_matrix_match_naive_sets():
    """Known answer: shared openings ("The", "Th" by prefix) leave both sets; one-character answers
    never enter; ties of counts are broken by the string; the matrix equals a naive loop."""
    prof = [["The"] * 5 + ["```"] * 4 + ["Here"] * 3 + ["Sure"] * 3 + ["a"] * 9,
            ["Th"] * 6 + ["**"] * 4 + ["\n\n"] * 9 + ["Yes"] * 1,
            ["def"] * 3 + ["import"] * 2 + ["Here's"] * 2]
    h = distinctive_habits(prof, 3)
    # top-3: m0 {The, ```, Here|Sure -> Here (tie, string order)}, m1 {Th, **, Yes}, m2 {def, import, Here's}
    assert sorted(h[0].tolist()) == ["```"]  # "The" ~ "Th" (m1), "Here" ~ "Here's" (m2)
    assert sorted(h[1].tolist()) == ["**", "Yes"]
    assert sorted(h[2].tolist()) == ["def", "import"]
    sus = ["```", "**", "Yes!", "import", "The", "x", "", "``"]
    m = habit_matrix(sus, h)
    naive = [[any(_naive_agree(a, x) for x in hj) for hj in h] for a in sus]
    assert m.tolist() == naive
    assert m[0].tolist() == [True, False, False] and m[4].tolist() == [False, False, False]
    with pytest.raises(InputError):
        distinctive_habits(prof, 0)


def _student_world(rng, n):
    """A student that learnt the teacher's favourite openings ("```", "Here") but not which prompt
    gets which: it answers them at random. The teacher opens with them on few test prompts (7 % and
    5 %; "The" on 85 %), the rival candidate about as often (5 % each) but among a dozen commoner
    openings, so per-prompt agreement cannot tell the two apart, while "```" and "Here" are among
    the teacher's most frequent answers and not the rival's. Returns (profile, test panel, suspect)."""
    rival_words = ["**", "Yes", "In", "A", "To", "It", "We", "On", "So", "If", "As", "At", "```", "Here"]
    rival_p = [0.075] * 12 + [0.05, 0.05]

    def draw(k):
        return [list(rng.choice(["The", "```", "Here", "1"], k, p=[0.85, 0.07, 0.05, 0.03])),
                list(rng.choice(rival_words, k, p=rival_p)),
                list(rng.choice(["def", "import", "return", "class"], k))]

    return draw(200), draw(n), list(rng.choice(["```", "Here"], n))


def test_habit_statistic_finds_a_student_that_per_prompt_agreement_misses():
    rng = np.random.default_rng(21)
    profile, panel, sus = _student_world(rng, 300)
    names = [_N("teacher"), _N("rival"), _N("ref")]
    base = dict(max_queries=300, look_every=100, alpha=0.01)
    only_agree = run_provenance(_N("s"), names[:2], names[2:], config=ProvenanceConfig(**base, habit_top=0),
                                panel_answers=panel, suspect_answers=sus)
    both = run_provenance(_N("s"), names[:2], names[2:], config=ProvenanceConfig(**base, habit_top=4),
                          panel_answers=panel, suspect_answers=sus, profile_answers=profile)
    assert only_agree.most_likely_parent is None and only_agree.statistics == ["agreement/chat", "excess/chat"]
    assert both.most_likely_parent == "teacher" and both.statistics == ["agreement/chat", "excess/chat", "habits/chat"]
    st_ = both.candidates[0]["statistics"]
    # the reported p-value is Bonferroni over the two statistics at the last look
    assert both.candidates[0]["p_value"] == pytest.approx(min(1.0, 2 * min(s["p_value"] for s in st_.values())))


def test_raw_mode_finds_a_model_whose_chat_behaviour_broke():
    """Pruned SmolLM2 in the zoo: chat answers no longer follow the parent, raw continuation does.
    With both modes (Bonferroni over the two) the candidate is attributed; chat alone misses it."""
    rng = np.random.default_rng(8)
    n = 300
    chat_sus, chat_panel = _simulate(rng, n, (0.05, 0.05), (0.05,))
    raw_sus, raw_panel = _simulate(rng, n, (0.6, 0.1), (0.1,))
    base = dict(max_queries=n, look_every=100, alpha=0.01, habit_top=0)
    chat_only = _run(chat_sus, chat_panel, 2, ProvenanceConfig(**base))
    both = _run({"chat": chat_sus, "raw": raw_sus}, {"chat": chat_panel, "raw": raw_panel}, 2,
                ProvenanceConfig(**base, modes=("chat", "raw"), budget_split="even"))
    assert chat_only.most_likely_parent is None
    assert both.most_likely_parent == "m0" and both.mode == "chat+raw"
    assert both.queries_spent == both.looks[-1]["queries"] == 2 * len(both.answers["raw"])
    with pytest.raises(InputError):  # several modes need answers per mode
        _run(chat_sus, chat_panel, 2, ProvenanceConfig(**base, modes=("chat", "raw")))


def test_combined_procedure_is_calibrated_over_many_seeds():
    """H0 at its boundary for every statistic at once: in chat and raw mode the candidate and the
    reference copy the suspect equally often; each panel model has two distinctive habits of equal
    frequency and the suspect, on half the prompts, answers one of the six at random, so it falls
    among each model's habits equally often. Any attribution over 400 seeds is a false one; its rate
    stays within the binomial interval of alpha (Bonferroni over three statistics, Holm over two
    candidates, alpha spending over three looks)."""
    cfg = ProvenanceConfig(max_queries=150, look_every=50, alpha=0.1, modes=("chat", "raw"), habit_top=2, budget_split="even")
    rng = np.random.default_rng(17)
    profile = [["aa", "bb"] * 20 + ["The"] * 50, ["cc", "dd"] * 20 + ["The"] * 50, ["ee", "ff"] * 20 + ["The"] * 50]
    habits = np.array(["aa", "bb", "cc", "dd", "ee", "ff"])
    hits = 0
    for _ in range(400):
        cs, cp = _simulate(rng, 150, (0.3, 0.0), (0.3,))
        rs, rp = _simulate(rng, 150, (0.2, 0.0), (0.2,))
        cs = [a if rng.random() < 0.5 else str(rng.choice(habits)) for a in cs]
        hits += _run({"chat": cs, "raw": rs}, {"chat": cp, "raw": rp}, 2, cfg, profile).most_likely_parent is not None
    lo, _ = binomial_interval(hits, 400, 0.99)
    assert lo <= 0.1, f"false attribution rate {hits / 400:.3f} exceeds alpha"


def _naive_first_word(s: str) -> str:
    words = s.split()
    return words[0] if words else (" " if s else "")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="ab T\t\n\r.", max_size=8), min_size=1, max_size=12))
def test_first_word_matches_a_naive_reference(answers):
    from stillwatch.trace.provenance_stats import first_word

    assert list(first_word(answers)) == [_naive_first_word(a) for a in answers]


def test_first_word_known_answers_and_what_it_means_for_agreement():
    from stillwatch.trace.provenance_stats import first_word

    got = first_word(["The cat", "\n\nHello world", "", "  \n", "Photosyn"])
    assert list(got) == ["The", "Hello", "", " ", "Photosyn"]
    # the cut answer agrees by prefix with one-token panel answers; whitespace stays uninformative
    # (agrees with no informative answer), an empty answer still means end of sequence
    assert list(agreement(got, [" The", "Hello", "", "Hi", "Photos"])) == [True, True, True, False, True]
    assert list(agreement(got, [" Th", "Help", " x", "\n", "Photon"])) == [True, False, False, True, False]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.booleans(), st.booleans(), st.booleans()), min_size=5, max_size=40))
def test_a_rival_without_any_usable_answer_is_no_rival(rows):
    """A panel column with no informative answer (a chat-only model in raw mode) is left out of the
    intersection-union test: the result equals the test on the panel without that column (naive
    reference); with it counted, the candidate could never reject (p = 1 from 0 discordant prompts)."""
    agree = np.array(rows, dtype=bool)  # [P, 4]: candidates 0, 1; references 2, 3
    use = np.ones_like(agree)
    use[:, 3] = False
    got = panel_test(agree, 2, use)
    ref = panel_test(agree[:, :3], 2, use[:, :3])
    assert np.array_equal(got.p_value, ref.p_value) and np.array_equal(got.rival, ref.rival)
    # one candidate and only the silent rival: no evidence, p = 1
    assert panel_test(agree[:, [0, 3]], 1, use[:, [0, 3]]).p_value[0] == 1.0
