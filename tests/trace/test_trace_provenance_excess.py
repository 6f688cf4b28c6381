"""The excess statistic of `trace provenance`: agreement beyond what the suspect's own answer
frequencies give, which gates each mode's agreement statistic.

Worlds here are drawn with numpy (answers as strings per prompt), and the test runs on precomputed
answers. Attackers / failure modes played: a suspect that answers one string to every prompt (the
fourth session's students: "The" to 93-98 % of the prompts), attributed by the agreement statistic
to whichever candidate says "The" most often; a suspect whose answers are drawn from the candidate's
own answer frequencies but do not depend on the prompt. Positive control: a model that copies the
candidate's answer on most prompts. Expected values are computed here by naive loops and scipy.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from stillwatch.core.stats import binomial_interval
from stillwatch.errors import InputError
from stillwatch.trace.provenance import ProvenanceConfig, run_provenance
from stillwatch.trace.provenance_stats import agreement, excess_scores, excess_test, gate_combine

VOCAB = np.array([f"w{i:02d}" for i in range(40)])


class _N:
    def __init__(self, name):
        self.name = name


def _naive_excess(s, panel, usable):
    """m[k, j] by explicit loops over pairs and models (an unusable panel answer agrees with nothing)."""
    k_pairs = len(s) // 2
    m = np.zeros((k_pairs, len(panel)), int)
    for k in range(k_pairs):
        i, i2 = 2 * k, 2 * k + 1
        for j, p in enumerate(panel):
            def a(x, at):
                return int(bool(usable[at, j]) and bool(agreement([x], [p[at]])[0]))
            m[k, j] = a(s[i], i) + a(s[i2], i2) - a(s[i2], i) - a(s[i], i2)
    return m


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 31), st.integers(2, 4))
def test_excess_scores_match_a_naive_loop(seed, n, n_models):
    rng = np.random.default_rng(seed)
    words = ["The", "Th", "To", "I", "```", " ", "", "Sure"]
    s = list(rng.choice(words, n))
    panel = [list(rng.choice(words, n)) for _ in range(n_models)]
    usable = rng.random((n, n_models)) < 0.8
    assert np.array_equal(excess_scores(s, panel, usable), _naive_excess(s, panel, usable))
    assert not excess_scores(["The"] * n, panel, usable).any()  # a constant answer: zero on every pair


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(3, 5))
def test_excess_test_is_the_sign_test_against_the_hardest_rival(seed, n_models):
    rng = np.random.default_rng(seed)
    m = rng.integers(-2, 3, size=(40, n_models))
    answered = np.ones(n_models, bool)
    answered[-1] = bool(seed % 2)  # sometimes a model that answered nothing informative: no rival
    t = excess_test(m, 2, answered)
    for c in range(2):
        per_rival = []
        for r in range(n_models):
            if r == c or not answered[r]:
                continue
            d = m[:, c] - m[:, r]
            wins, losses = int((d > 0).sum()), int((d < 0).sum())
            p = stats.binomtest(wins, wins + losses, 0.5, alternative="greater").pvalue if wins + losses else 1.0
            per_rival.append((p, wins, losses))
        worst = max(p for p, _, _ in per_rival)
        assert t.p_value[c] == pytest.approx(worst, rel=1e-9, abs=1e-12)
        # rivals can tie at the worst p-value (e.g. 16 of 31 and 19 of 37 wins both give exactly 0.5): any of them
        hardest = {(w, lo) for p, w, lo in per_rival if p == pytest.approx(worst, rel=1e-9, abs=1e-12)}
        assert (int(t.wins[c]), int(t.losses[c])) in hardest
    assert gate_combine([0.01, 0.5], [0.2, 0.04]).tolist() == [0.2, 0.5]
    with pytest.raises(InputError, match="excess"):
        ProvenanceConfig(excess="yes")


def _generic_world(n, rng, blank=0.0):
    """A candidate that says "The" to 55 % of the prompts and a reference that says it to 35 %, other
    answers prompt-specific words; the two models' answers independent of each other. ``blank``: the
    share of prompts the reference answers with whitespace (uninformative; Gemma base answers "\n\n" to
    about half the chat prompts)."""
    cand = np.where(rng.random(n) < 0.55, "The", rng.choice(VOCAB, n))
    ref = np.where(rng.random(n) < 0.35, "The", rng.choice(VOCAB, n))
    return [list(cand), list(np.where(rng.random(n) < blank, "\n\n", ref))]


def _run(suspect, panel, n, *, excess, alpha=0.05):
    cfg = ProvenanceConfig(max_queries=n, look_every=n, alpha=alpha, habit_top=0, excess=excess)
    return run_provenance(_N("suspect"), [_N("cand")], [_N("ref")], config=cfg, panel_answers=panel, suspect_answers=suspect)


def test_a_constant_answer_is_attributed_without_the_gate_and_not_with_it():
    rng = np.random.default_rng(7)
    n = 400
    panel = _generic_world(n, rng)
    suspect = ["The"] * n
    # by hand: McNemar on the prompts where exactly one of the two says "The"
    c, r = np.array(panel[0]) == "The", np.array(panel[1]) == "The"
    n10, n01 = int((c & ~r).sum()), int((~c & r).sum())
    p_hand = stats.binomtest(n10, n10 + n01, 0.5, alternative="greater").pvalue
    assert p_hand < 1e-3  # the world is as intended: the agreement statistic alone rejects
    old = _run(suspect, panel, n, excess=False)
    assert old.most_likely_parent == "cand"
    assert old.candidates[0]["statistics"]["agreement/chat"]["p_value"] == pytest.approx(p_hand, rel=1e-9)
    new = _run(suspect, panel, n, excess=True)
    assert new.most_likely_parent is None and new.decision == "none"
    ex = new.candidates[0]["statistics"]["excess/chat"]
    assert ex["p_value"] == 1.0 and ex["wins"] == 0 and ex["losses"] == 0  # zero excess on every pair
    assert new.candidates[0]["p_value"] == 1.0  # the gate: max(agreement p, 1)
    assert new.caveats  # the reading aid still says the answers barely depend on the prompt


def test_a_derived_model_is_still_attributed_through_the_gate():
    rng = np.random.default_rng(11)
    n = 200
    panel = _generic_world(n, rng)
    copy = rng.random(n) < 0.6  # copies the candidate's answer on 60 % of the prompts, else its own word
    suspect = list(np.where(copy, panel[0], rng.choice(VOCAB, n)))
    r = _run(suspect, panel, n, excess=True)
    assert r.most_likely_parent == "cand"
    assert r.candidates[0]["statistics"]["excess/chat"]["p_value"] < 1e-6
    assert r.p_values["cand"] <= 0.05


def test_prompt_independent_suspects_stay_within_alpha_with_the_gate_and_do_not_without_it():
    """The boundary of the excess null: the suspect draws each answer from the candidate's own answer
    frequencies, independently of the prompt. Its agreement with the candidate beats the reference's
    (the candidate's answers are its distribution), so the ungated test attributes it nearly always;
    the gated test must stay within alpha (99 % binomial interval over the seeds)."""
    n, seeds, alpha = 200, 300, 0.1
    gated = ungated = 0
    for seed in range(seeds):
        rng = np.random.default_rng(1000 + seed)
        panel = _generic_world(n, rng, blank=0.4 if seed % 2 else 0.0)  # half the seeds with a half-blank reference
        suspect = list(rng.choice(np.array(panel[0]), n))  # the candidate's marginal, shuffled away from the prompts
        gated += _run(suspect, panel, n, excess=True, alpha=alpha).most_likely_parent is not None
        if seed < 30:
            ungated += _run(suspect, panel, n, excess=False, alpha=alpha).most_likely_parent is not None
    lo, hi = binomial_interval(gated, seeds, 0.99)
    assert gated / seeds <= alpha or lo <= alpha, (gated, seeds, hi)
    assert ungated >= 20, ungated  # without the gate the base rate alone attributes it (the mutation check)


def test_a_constant_answer_behind_in_agreement_stops_for_futility():
    """A constant "The" beside a candidate that says it less often than the reference: the agreement statistic
    is behind with many discordant prompts, so the test stops early; the excess statistic (no discordant pair
    at all) must not keep it running to the budget."""
    rng = np.random.default_rng(3)
    n = 400
    cand, ref = _generic_world(n, rng)
    cfg = ProvenanceConfig(max_queries=n, look_every=50, alpha=0.05, habit_top=0)
    r = run_provenance(_N("suspect"), [_N("cand")], [_N("ref")], config=cfg, panel_answers=[ref, cand], suspect_answers=["The"] * n)
    assert r.most_likely_parent is None and r.stopped == "futility" and r.queries_spent < n
    assert r.candidates[0]["statistics"]["excess/chat"]["wins"] + r.candidates[0]["statistics"]["excess/chat"]["losses"] == 0
