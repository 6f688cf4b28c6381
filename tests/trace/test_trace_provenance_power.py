"""Power of `trace provenance` (issue 17, seventh session): weighted Bonferroni over the statistics, O'Brien-Fleming-like
alpha spending (rho = 3), and an empty answer (end of text) counted as uninformative.

Worlds are drawn with numpy and the test runs on precomputed answers. Expected values are computed here by naive
loops and by hand. Each change is checked for calibration under its null (simulated, many seeds, within the 99 %
binomial interval of alpha) and for power on a planted derived model; each mutation check shows what the change
guards against. Attacker / failure modes played: a student whose only evidence is in chat mode (the zoo's weak
students); a model derived from a base model that, fine-tuned on assistant answers, ends raw text where a chat-tuned
rival does (the zoo's twin); an independent suspect that shares only *where* a candidate ends its text.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stillwatch.core.stats import binomial_interval
from stillwatch.errors import InputError
from stillwatch.trace.provenance import ProvenanceConfig, run_provenance
from stillwatch.trace.provenance_stats import (
    blank_end_of_text,
    informative,
    primary_weights,
    spending_weights,
    weighted_bonferroni,
)

VOCAB = np.array([f"w{i:02d}" for i in range(30)])


class _N:
    def __init__(self, name):
        self.name = name


def _run(sus, panel, n, *, cands=1, **kw):
    names = [_N(f"m{i}") for i in range(len(next(iter(panel.values())) if isinstance(panel, dict) else panel))]
    cfg = ProvenanceConfig(max_queries=n, **{"look_every": n // 4, "habit_top": 0, "budget_split": "even", **kw})
    return run_provenance(_N("s"), names[:cands], names[cands:], config=cfg, panel_answers=panel, suspect_answers=sus)


# ---------------------------------------------------------------------------- weighted Bonferroni
@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.floats(0.0, 1.0), min_size=3, max_size=3), min_size=1, max_size=4),
       st.lists(st.floats(0.0, 1.0), min_size=1, max_size=4))
def test_weighted_bonferroni_matches_a_naive_loop(p_rows, raw_w):
    p = np.array(p_rows)  # [S, C]
    w = np.array((raw_w * 4)[: p.shape[0]])
    if w.sum() == 0:
        w = np.ones_like(w)
    w = w / w.sum()
    expected = []
    w = np.where(w < 1e-9, 0.0, w)
    w = w / w.sum()
    for c in range(p.shape[1]):
        best = np.inf
        for s in range(p.shape[0]):
            if w[s] > 0:
                best = min(best, p[s, c] / w[s])
        expected.append(min(1.0, best))
    assert weighted_bonferroni(p, w) == pytest.approx(expected)


def test_weighted_bonferroni_known_values_and_bad_weights():
    p = np.array([[0.01, 0.2], [0.004, 0.5], [0.9, 0.03]])
    # primary 1/2, back-ups 1/4: candidate 0 -> min(0.02, 0.016, 3.6) = 0.016; candidate 1 -> min(0.4, 2, 0.12) = 0.12
    assert weighted_bonferroni(p, [0.5, 0.25, 0.25]).tolist() == pytest.approx([0.016, 0.12])
    assert weighted_bonferroni(p, np.full(3, 1 / 3)).tolist() == pytest.approx(np.minimum(1.0, 3 * p.min(axis=0)).tolist())  # plain Bonferroni
    assert weighted_bonferroni(p, [1.0, 0.0, 0.0]).tolist() == pytest.approx([0.01, 0.2])  # weight 0: never decides
    for bad in ([0.5, 0.5], [0.6, 0.3, 0.3], [1.2, -0.1, -0.1]):
        with pytest.raises(InputError):
            weighted_bonferroni(p, bad)
    assert primary_weights(["c", "r", "h"], "c").tolist() == [0.5, 0.25, 0.25]
    assert primary_weights(["r", "c"], "c").tolist() == [0.5, 0.5]
    assert primary_weights(["c"], "c").tolist() == [1.0]
    assert primary_weights(list("abcde"), "b").tolist() == [0.125, 0.5, 0.125, 0.125, 0.125]
    with pytest.raises(InputError):
        primary_weights(["c", "r"], "h")


def test_weighted_bonferroni_keeps_alpha_under_dependence():
    """Null p-values, uniform each, in the worst dependence for a union (the three statistics' rejection regions
    disjoint: p_2 and p_3 are shifts of p_1 mod 1) and in full dependence (all equal): the chance that the combined
    p-value is <= alpha stays within the 99 % binomial interval of alpha; disjoint regions reach it exactly."""
    rng = np.random.default_rng(3)
    n, alpha = 20_000, 0.1
    u = rng.random(n)
    w = np.array([0.5, 0.25, 0.25])
    for p in (np.stack([u, (u + 0.5) % 1, (u + 0.75) % 1]), np.stack([u, u, u])):
        rate = float(np.mean(weighted_bonferroni(p, w) <= alpha))
        lo, hi = binomial_interval(int(rate * n), n, 0.99)
        assert lo <= alpha, rate
    assert np.mean(weighted_bonferroni(np.stack([u, (u + 0.5) % 1, (u + 0.75) % 1]), w) <= alpha) > 0.09


# ---------------------------------------------------------------------------- spending and weights in the procedure
def _student(rng, n, lift):
    """Chat: the candidate and two references answer prompt-specific words; the suspect copies the candidate on a
    share ``lift`` of the prompts, each reference on 10 % and otherwise says a random word (a weak student: its
    evidence is in chat mode only). Raw: all independent (nothing carried there)."""
    cand, r1, r2 = (rng.choice(VOCAB, n) for _ in range(3))
    u = rng.random(n)
    chat_s = np.where(u < lift, cand, np.where(u < lift + 0.1, r1, np.where(u < lift + 0.2, r2, rng.choice(VOCAB, n))))
    raw_panel = [list(rng.choice(VOCAB, n)) for _ in range(3)]
    return ({"chat": list(chat_s), "raw": list(rng.choice(VOCAB, n))},
            {"chat": [list(cand), list(r1), list(r2)], "raw": raw_panel})


def test_power_on_a_weak_chat_only_student_rises_with_the_new_settings():
    """Planted derived model: a weak student (copies its teacher on 20 % of the prompts, two references on 10 % each).
    Over the same worlds, the seventh session's settings (rho 3, chat excess weighted 1/2) attribute it more often
    than the sixth session's (rho 1, equal weights), and never attribute it elsewhere."""
    new = old = wrong = 0
    for seed in range(60):
        rng = np.random.default_rng(500 + seed)
        sus, panel = _student(rng, 400, 0.2)
        a = _run(sus, panel, 400, modes=("chat", "raw"), alpha=0.05)
        b = _run(sus, panel, 400, modes=("chat", "raw"), alpha=0.05, rho=1.0, statistic_weights="equal")
        new += a.most_likely_parent == "m0"
        old += b.most_likely_parent == "m0"
        wrong += a.most_likely_parent not in (None, "m0")
    assert new >= old + 4 and new >= 0.5 * 60 and wrong == 0, (new, old, wrong)


def test_the_new_settings_stay_within_alpha_at_the_boundary_of_the_null():
    """Null with the primary statistic binding: in chat mode the suspect copies the candidate and a reference equally
    often (the least favourable case of the intersection-union test), raw mode and the habits carry nothing; with the
    new defaults (rho 3, weights 1/2, 1/4, 1/4) the rate of any attribution over 400 seeds stays within the 99 %
    binomial interval of alpha. Mutation check: giving every statistic the full alpha (no correction) exceeds it."""
    alpha, seeds, n = 0.1, 400, 160
    hits = naive = 0
    for seed in range(seeds):
        rng = np.random.default_rng(9000 + seed)
        cand, ref = rng.choice(VOCAB[:6], n), rng.choice(VOCAB[:6], n)
        u = rng.random(n)
        chat_s = np.where(u < 0.3, cand, np.where(u < 0.6, ref, rng.choice(VOCAB[:6], n)))
        raw = [list(rng.choice(VOCAB[:6], n)) for _ in range(3)]
        sus, panel = {"chat": list(chat_s), "raw": raw[0]}, {"chat": [list(cand), list(ref)], "raw": raw[1:]}
        r = _run(sus, panel, n, modes=("chat", "raw"), alpha=alpha, look_every=40)
        hits += r.most_likely_parent is not None
        stats_ = r.candidates[0]["statistics"]
        naive += min(stats_["excess/chat"]["p_value"], stats_["excess/raw"]["p_value"]) <= alpha
    lo, _ = binomial_interval(hits, seeds, 0.99)
    assert lo <= alpha, hits / seeds
    assert naive / seeds > alpha, naive / seeds


def test_spending_with_rho_3_keeps_most_alpha_for_the_last_look():
    w = spending_weights([100, 200, 300, 400], 400, 3.0)
    assert w.tolist() == pytest.approx([1 / 64, 7 / 64, 19 / 64, 37 / 64])
    assert ProvenanceConfig().rho == 3.0 and ProvenanceConfig().statistic_weights == "primary"
    with pytest.raises(InputError):
        ProvenanceConfig(statistic_weights="holm")
    with pytest.raises(InputError):
        ProvenanceConfig(end_of_text="eos")


# ---------------------------------------------------------------------------- end of text
def test_blank_end_of_text_known_answers():
    assert blank_end_of_text(["", " The", "\n\n", "", "x"]) == [" ", " The", "\n\n", " ", "x"]
    assert informative(blank_end_of_text(["", "a"])).tolist() == [False, True]
    assert informative(["", "a"]).tolist() == [True, True]  # before: an end of text was an answer of its own


def _twin_world(rng, n, copy=0.35, end=0.5):
    """Raw mode. On a share ``end`` of the prompts (complete sentences) the chat-tuned rival ends the text at once ("")
    and the base candidate continues with a blank line ("\\n\\n"); elsewhere both say prompt-specific words. The
    suspect, derived from the candidate but fine-tuned on assistant answers, ends the text where the rival does and
    elsewhere copies the candidate on a share ``copy`` of the prompts."""
    ends = rng.random(n) < end
    cand = np.where(ends, "\n\n", rng.choice(VOCAB, n))
    rival = np.where(ends, "", rng.choice(VOCAB, n))
    sus = np.where(ends, "", np.where(rng.random(n) < copy, cand, rng.choice(VOCAB, n)))
    return list(sus), [list(cand), list(rival)]


def test_a_derived_model_that_ends_text_like_a_chat_model_is_found_only_with_end_of_text_blank():
    """The zoo's twin: counted as an answer, the shared end of text is prompt-specific agreement with the rival and
    outweighs the copied words; blanked, the candidate's excess decides."""
    rng = np.random.default_rng(4)
    sus, panel = _twin_world(rng, 400)
    kw = dict(modes=("raw",), alpha=0.05, look_every=400)
    blank = _run({"raw": sus}, {"raw": panel}, 400, **kw)
    answer = _run({"raw": sus}, {"raw": panel}, 400, end_of_text="answer", **kw)
    assert blank.most_likely_parent == "m0" and blank.p_values["m0"] < 1e-3
    assert answer.most_likely_parent is None and answer.candidates[0]["statistics"]["excess/raw"]["p_value"] > 0.5
    assert "empty answers" in blank.null_hypothesis and "another empty answer" in answer.null_hypothesis


def test_sharing_only_where_the_text_ends_is_no_evidence_with_end_of_text_blank():
    """Null for the end-of-text rule: an independent suspect that ends its text exactly where the candidate does
    (both chat-tuned; complete sentences) and otherwise says words unrelated to any panel model's, beside a reference
    that ends its text elsewhere. Blanked: at most alpha over 300 seeds (99 % interval). Counted as an answer (the
    mutation check): the shared end of text attributes it nearly always."""
    alpha, seeds, n = 0.1, 300, 200
    blank = answer = 0
    for seed in range(seeds):
        rng = np.random.default_rng(20_000 + seed)
        ends, ends_ref = rng.random(n) < 0.4, rng.random(n) < 0.4
        cand = np.where(ends, "", rng.choice(VOCAB, n))
        ref = np.where(ends_ref, "", rng.choice(VOCAB, n))
        sus = np.where(ends, "", rng.choice(VOCAB, n))
        kw = dict(modes=("raw",), alpha=alpha, look_every=n)
        blank += _run({"raw": list(sus)}, {"raw": [list(cand), list(ref)]}, n, **kw).most_likely_parent is not None
        if seed < 30:
            answer += _run({"raw": list(sus)}, {"raw": [list(cand), list(ref)]}, n, end_of_text="answer",
                           **kw).most_likely_parent is not None
    lo, _ = binomial_interval(blank, seeds, 0.99)
    assert lo <= alpha, blank / seeds
    assert answer >= 25, answer
