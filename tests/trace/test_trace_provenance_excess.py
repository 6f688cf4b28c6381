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
from stillwatch.trace.provenance_stats import (agreement, agreement_matrix, excess_scores, excess_test, gate_combine,
                                               signflip_tail)

VOCAB = np.array([f"w{i:02d}" for i in range(40)])


class _N:
    def __init__(self, name):
        self.name = name


def _naive_excess(s, panel, usable, drop=False):
    """m[k, j] by explicit loops over pairs and models (an unusable panel answer agrees with nothing); with ``drop``,
    a pair where the suspect's answer is whitespace-only on either prompt scores 0 (an empty answer, the end of text,
    is informative here: it is blanked before the statistic when ``end_of_text="blank"``)."""
    k_pairs = len(s) // 2
    m = np.zeros((k_pairs, len(panel)), int)
    for k in range(k_pairs):
        i, i2 = 2 * k, 2 * k + 1
        if drop and any(x != "" and not x.strip() for x in (s[i], s[i2])):
            continue
        for j, p in enumerate(panel):
            def a(x, at):
                return int(bool(usable[at, j]) and bool(agreement([x], [p[at]])[0]))
            m[k, j] = a(s[i], i) + a(s[i2], i2) - a(s[i2], i) - a(s[i], i2)
    return m


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 25), st.integers(1, 4), st.sampled_from(["prefix", "exact"]))
def test_agreement_matrix_is_agreement_one_answer_at_a_time(seed, n, n_models, mode):
    """The matrix (each answer list normalised once) equals :func:`agreement` of single answers, entry by entry."""
    rng = np.random.default_rng(seed)
    words = ["The", "Th", " The", "To", "I", "\ufffd", "T\ufffd", " ", "", "\n", "Sure"]
    s = list(rng.choice(words, n))
    panel = [list(rng.choice(words, n)) for _ in range(n_models)]
    want = np.array([[bool(agreement([s[i]], [p[i]], mode=mode)[0]) for p in panel] for i in range(n)])
    assert np.array_equal(agreement_matrix(s, panel, mode=mode), want)
    with pytest.raises(InputError, match="differ in length"):
        agreement_matrix(s, [*panel, s + ["x"]], mode=mode)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 31), st.integers(2, 4))
def test_excess_scores_match_a_naive_loop(seed, n, n_models):
    rng = np.random.default_rng(seed)
    words = ["The", "Th", "To", "I", "```", " ", "", "Sure"]
    s = list(rng.choice(words, n))
    panel = [list(rng.choice(words, n)) for _ in range(n_models)]
    usable = rng.random((n, n_models)) < 0.8
    assert np.array_equal(excess_scores(s, panel, usable), _naive_excess(s, panel, usable))
    assert np.array_equal(excess_scores(s, panel, usable, drop_blank_pairs=True), _naive_excess(s, panel, usable, drop=True))
    assert not excess_scores(["The"] * n, panel, usable).any()  # a constant answer: zero on every pair


def _random_scores(seed: int, n_models: int, pairs: int):
    """Random pair scores m [pairs, n_models] and which models answered (the last one sometimes nothing
    informative: no rival)."""
    m = np.random.default_rng(seed).integers(-2, 3, size=(pairs, n_models))
    answered = np.ones(n_models, bool)
    answered[-1] = bool(seed % 2)
    return m, answered


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(3, 5))
def test_excess_test_is_the_sign_test_against_the_hardest_rival(seed, n_models):
    m, answered = _random_scores(seed, n_models, 40)
    t = excess_test(m, 2, answered, method="sign")
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
    with pytest.raises(InputError, match="per_mode"):
        ProvenanceConfig(per_mode="both")
    with pytest.raises(InputError, match="excess_method"):
        ProvenanceConfig(excess_method="t-test")
    with pytest.raises(InputError, match="method"):
        excess_test(m, 2, method="wilcoxon")


def _naive_signflip(d):
    """P(sum of the d with fair random signs >= sum d), by a dict of reachable sums updated one difference at a time."""
    law = {0: 1.0}
    for x in d:
        if x:
            nxt = {}
            for s, q in law.items():
                for y in (x, -x):
                    nxt[s + y] = nxt.get(s + y, 0.0) + q / 2
            law = nxt
    return sum(q for s, q in law.items() if s >= sum(d))


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(-4, 4), min_size=0, max_size=60))
def test_signflip_tail_is_the_exact_randomisation_law(d):
    v = np.arange(1, 5)
    pos = (np.array(d, int)[:, None] == v).sum(axis=0) if d else np.zeros(4, int)
    neg = (np.array(d, int)[:, None] == -v).sum(axis=0) if d else np.zeros(4, int)
    assert signflip_tail(pos, neg) == pytest.approx(_naive_signflip(d), rel=1e-9, abs=1e-12)
    if len(d) <= 12:  # and by brute force over every sign pattern of the non-zero differences
        nz = np.array([x for x in d if x], int)
        signs = 1 - 2 * ((np.arange(2 ** nz.size)[:, None] >> np.arange(nz.size)) & 1)
        brute = float(np.mean((signs * np.abs(nz)).sum(axis=1) >= nz.sum())) if nz.size else 1.0
        assert signflip_tail(pos, neg) == pytest.approx(brute, rel=1e-9)


def test_signflip_with_unit_differences_is_the_sign_test_and_counts_magnitudes_otherwise():
    assert signflip_tail([42], [22]) == pytest.approx(stats.binomtest(42, 64, 0.5, alternative="greater").pvalue, rel=1e-12)
    # 30 wins (10 of them by 2) against 20 losses by 1: the sign test sees 30 of 50, the sign-flip test the sum +20;
    # by hand: P(B1 + 2 B2 >= 40), B1 ~ Bin(40, 1/2), B2 ~ Bin(10, 1/2)
    hand = sum(stats.binom.pmf(b2, 10, 0.5) * stats.binom.sf(40 - 2 * b2 - 1, 40, 0.5) for b2 in range(11))
    assert signflip_tail([20, 10, 0, 0], [20, 0, 0, 0]) == pytest.approx(hand, rel=1e-9)
    assert hand < stats.binomtest(30, 50, 0.5, alternative="greater").pvalue  # the magnitudes are evidence here
    assert signflip_tail(np.zeros((2, 3, 4), int), np.zeros((2, 3, 4), int)).tolist() == [[1.0] * 3] * 2  # no difference: p = 1
    with pytest.raises(InputError, match="shape"):
        signflip_tail([1, 2], [1])


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.integers(3, 5))
def test_excess_test_signflip_is_the_max_over_rivals_of_the_naive_law(seed, n_models):
    m, answered = _random_scores(seed, n_models, 25)
    t = excess_test(m, 2, answered)  # the default method
    for c in range(2):
        worst = max(_naive_signflip(list(m[:, c] - m[:, r])) for r in range(n_models) if r != c and answered[r])
        assert t.p_value[c] == pytest.approx(worst, rel=1e-9, abs=1e-12)


def _generic_world(n, rng, blank=0.0):
    """A candidate that says "The" to 55 % of the prompts and a reference that says it to 35 %, other
    answers prompt-specific words; the two models' answers independent of each other. ``blank``: the
    share of prompts the reference answers with whitespace (uninformative; Gemma base answers "\n\n" to
    about half the chat prompts)."""
    cand = np.where(rng.random(n) < 0.55, "The", rng.choice(VOCAB, n))
    ref = np.where(rng.random(n) < 0.35, "The", rng.choice(VOCAB, n))
    return [list(cand), list(np.where(rng.random(n) < blank, "\n\n", ref))]


def _run(suspect, panel, n, *, per_mode, alpha=0.05):
    cfg = ProvenanceConfig(max_queries=n, look_every=n, alpha=alpha, habit_top=0, per_mode=per_mode)
    return run_provenance(_N("suspect"), [_N("cand")], [_N("ref")], config=cfg, panel_answers=panel, suspect_answers=suspect)


@pytest.mark.parametrize("per_mode", ["excess", "gated"])
def test_a_constant_answer_is_attributed_by_agreement_alone_and_not_with_the_excess(per_mode):
    rng = np.random.default_rng(7)
    n = 400
    panel = _generic_world(n, rng)
    suspect = ["The"] * n
    # by hand: McNemar on the prompts where exactly one of the two says "The"
    c, r = np.array(panel[0]) == "The", np.array(panel[1]) == "The"
    n10, n01 = int((c & ~r).sum()), int((~c & r).sum())
    p_hand = stats.binomtest(n10, n10 + n01, 0.5, alternative="greater").pvalue
    assert p_hand < 1e-3  # the world is as intended: the agreement statistic alone rejects
    old = _run(suspect, panel, n, per_mode="agreement")
    assert old.most_likely_parent == "cand"
    assert old.candidates[0]["statistics"]["agreement/chat"]["p_value"] == pytest.approx(p_hand, rel=1e-9)
    new = _run(suspect, panel, n, per_mode=per_mode)
    assert new.most_likely_parent is None and new.decision == "none"
    assert new.candidates[0]["statistics"]["agreement/chat"]["p_value"] == pytest.approx(p_hand, rel=1e-9)  # still reported
    ex = new.candidates[0]["statistics"]["excess/chat"]
    assert ex["p_value"] == 1.0 and ex["wins"] == 0 and ex["losses"] == 0  # zero excess on every pair
    assert new.candidates[0]["p_value"] == 1.0  # gated: max(agreement p, 1); excess alone: 1
    assert new.caveats  # the reading aid still says the answers barely depend on the prompt
    assert new.null_hypothesis != old.null_hypothesis and "symmetric" in new.null_hypothesis
    assert ("gated" in new.correction) == (per_mode == "gated")


@pytest.mark.parametrize("per_mode", ["excess", "gated"])
def test_a_derived_model_is_still_attributed_with_the_excess(per_mode):
    rng = np.random.default_rng(11)
    n = 200
    panel = _generic_world(n, rng)
    copy = rng.random(n) < 0.6  # copies the candidate's answer on 60 % of the prompts, else its own word
    suspect = list(np.where(copy, panel[0], rng.choice(VOCAB, n)))
    r = _run(suspect, panel, n, per_mode=per_mode)
    assert r.most_likely_parent == "cand"
    assert r.candidates[0]["statistics"]["excess/chat"]["p_value"] < 1e-6
    assert r.p_values["cand"] <= 0.05


def test_a_copy_that_shares_the_rivals_frequent_answer_is_found_by_the_excess_alone():
    """The case for judging a mode by its excess alone (pruned SmolLM2's raw continuations in the zoo): the
    suspect copies the candidate's answer on 25 % of the prompts and otherwise says "the", the rival's frequent
    answer (60 % of its prompts; the candidate's 20 %). It agrees with the rival more often than with the
    candidate (the agreement statistic is behind, so the gate blocks the attribution), while its agreement
    beyond its own answer frequencies is the candidate's alone."""
    rng = np.random.default_rng(23)
    n = 400
    cand = np.where(rng.random(n) < 0.2, "the", rng.choice(VOCAB, n))
    ref = np.where(rng.random(n) < 0.6, "the", rng.choice(VOCAB, n))
    suspect = np.where(rng.random(n) < 0.25, cand, "the")
    assert agreement(suspect, ref).mean() > agreement(suspect, cand).mean()  # the world is as intended
    panel = [list(cand), list(ref)]
    alone, gated = (_run(list(suspect), panel, n, per_mode=m) for m in ("excess", "gated"))
    assert alone.candidates[0]["statistics"]["agreement/chat"]["p_value"] > 0.5
    assert alone.candidates[0]["statistics"]["excess/chat"]["p_value"] < 1e-4
    assert alone.most_likely_parent == "cand" and gated.most_likely_parent is None


def test_prompt_independent_suspects_stay_within_alpha_with_the_excess_and_do_not_without_it():
    """The boundary of the excess null: the suspect draws each answer from the candidate's own answer
    frequencies, independently of the prompt. Its agreement with the candidate beats the reference's
    (the candidate's answers are its distribution), so agreement alone attributes it nearly always;
    judged by the excess (alone or gated) the test must stay within alpha (99 % binomial interval over the seeds)."""
    n, seeds, alpha = 200, 300, 0.1
    hits = {"excess": 0, "gated": 0, "agreement": 0}
    for seed in range(seeds):
        rng = np.random.default_rng(1000 + seed)
        panel = _generic_world(n, rng, blank=0.4 if seed % 2 else 0.0)  # half the seeds with a half-blank reference
        suspect = list(rng.choice(np.array(panel[0]), n))  # the candidate's marginal, shuffled away from the prompts
        for per_mode in hits:
            if per_mode != "agreement" or seed < 30:
                hits[per_mode] += _run(suspect, panel, n, per_mode=per_mode, alpha=alpha).most_likely_parent is not None
    for per_mode in ("excess", "gated"):
        lo, hi = binomial_interval(hits[per_mode], seeds, 0.99)
        assert hits[per_mode] / seeds <= alpha or lo <= alpha, (per_mode, hits, hi)
    assert hits["agreement"] >= 20, hits  # without the excess the base rate alone attributes it (the mutation check)


@pytest.mark.parametrize("per_mode", ["excess", "gated"])
def test_a_constant_answer_stops_for_futility(per_mode):
    """A constant "The" beside a candidate that says it less often than the reference. Gated: the agreement
    statistic is behind with many discordant prompts, so the test stops early, and the excess statistic (no
    discordant pair at all) must not keep it running to the budget. Excess alone: a mode without a single
    non-zero pair after two looks is not ahead either."""
    rng = np.random.default_rng(3)
    n = 400
    cand, ref = _generic_world(n, rng)
    cfg = ProvenanceConfig(max_queries=n, look_every=50, alpha=0.05, habit_top=0, per_mode=per_mode)
    r = run_provenance(_N("suspect"), [_N("cand")], [_N("ref")], config=cfg, panel_answers=[ref, cand], suspect_answers=["The"] * n)
    assert r.most_likely_parent is None and r.stopped == "futility" and r.queries_spent < n
    assert r.candidates[0]["statistics"]["excess/chat"]["wins"] + r.candidates[0]["statistics"]["excess/chat"]["losses"] == 0


@pytest.mark.parametrize("method", ["signflip", "sign"])
def test_excess_p_values_are_super_uniform_for_prompt_independent_suspects(method):
    """Calibration of the excess test alone: suspects drawing answers from the candidate's own frequencies,
    independently of the prompt (the null's boundary), beside the generic world's candidate and reference
    (half the seeds with a half-blank reference). For every level x the share of p-values <= x must not
    exceed x beyond its 99 % binomial interval; the sign-flip test must also not be far more conservative
    than x (its p-values spread over (0, 1], not all at 1)."""
    seeds, n = 500, 200
    p = np.empty(seeds)
    for seed in range(seeds):
        rng = np.random.default_rng(5000 + seed)
        panel = _generic_world(n, rng, blank=0.4 if seed % 2 else 0.0)
        suspect = list(rng.choice(np.array(panel[0]), n))
        usable = np.stack([np.char.strip(np.array(a)) != "" for a in panel], axis=1)
        p[seed] = excess_test(excess_scores(suspect, panel, usable), 1, method=method).p_value[0]
    for x in (0.01, 0.05, 0.1, 0.25, 0.5):
        k = int((p <= x).sum())
        lo, _ = binomial_interval(k, seeds, 0.99)
        assert k / seeds <= x or lo <= x, (method, x, k)
    if method == "signflip":
        assert (p <= 0.5).mean() > 0.3 and (p <= 0.1).mean() > 0.03, np.quantile(p, [0.1, 0.5])


@pytest.mark.parametrize("values, probs, sign_rejects", [([1, -2, 0], [0.4, 0.2, 0.4], True),
                                                        ([2, -1, 0], [0.2, 0.4, 0.4], False)])
def test_the_two_excess_nulls_differ_on_skewed_differences_of_mean_zero(values, probs, sign_rejects):
    """Differences of mean zero but skewed: more small wins than large losses, or the reverse. The sign-flip
    test's null is about the sum (asymptotically E[d] <= 0): it rejects at about alpha either way. The sign test's
    null is P(d > 0) <= P(d < 0): the first case is outside it (rejected nearly always: the sign test would call
    an excess of zero evidence), the second inside (never rejected). Rates over 400 draws of 300 pairs at
    alpha 0.05; the sign-flip rate must sit within the 99 % interval of a rate at most 1.5 alpha (asymptotic,
    not exact, on this wider null)."""
    reps, n, alpha = 400, 300, 0.05
    hits = {"signflip": 0, "sign": 0}
    for seed in range(reps):
        d = np.random.default_rng(seed).choice(values, n, p=probs)
        m = np.stack([d, np.zeros(n, int)], axis=1)  # m[:, 0] - m[:, 1] = d
        for method in hits:
            hits[method] += bool(excess_test(m, 1, method=method).p_value[0] <= alpha)
    lo, _ = binomial_interval(hits["signflip"], reps, 0.99)
    assert lo <= 1.5 * alpha, hits
    assert (hits["sign"] > 0.9 * reps) if sign_rejects else (hits["sign"] == 0), hits
