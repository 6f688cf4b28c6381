"""The blank co-location rule of `trace provenance` (issue 17, eighth session): a pair of prompts counts in the excess
statistic only when the suspect answers informatively on both (``ProvenanceConfig.blank_pairs = "drop"``).

Worlds are drawn with numpy and the test runs on precomputed answers; expected values come from hand-worked pairs (the
naive loop of ``excess_scores(drop_blank_pairs=True)`` is in test_trace_provenance_excess.py). Failure mode played: an independent suspect that puts its blanks (whitespace, an end of text) where
a candidate does — both follow sentence ends, as any chat-tuned model or any model with the candidate's tokenizer
does — and otherwise answers the common words at their usual rates with no regard to the prompt. Counting every pair
(``"keep"``, the seventh session's) turns that co-location into evidence for the candidate (the mutation check);
dropping the pairs with a suspect blank leaves it at alpha. Power: a derived model (a weight edit, which copies its
parent's blanks and part of its words) is still attributed.
"""

from __future__ import annotations

import numpy as np
import pytest

from stillwatch.core.stats import binomial_interval
from stillwatch.errors import InputError
from stillwatch.trace.provenance import ProvenanceConfig, run_provenance
from stillwatch.trace.provenance_stats import excess_scores

WORDS = np.array([f"w{i:02d}" for i in range(30)])
#: Zipf-like frequencies of the common words: two models drawing from it agree on ~1/6 of the prompts by chance
FREQ = 1.0 / np.arange(1, WORDS.size + 1)
FREQ = FREQ / FREQ.sum()


class _N:
    def __init__(self, name):
        self.name = name


def test_co_located_blank_known_values():
    """One pair (a, b): the suspect is blank at a where model 0 is blank too, and says model 0's word at b. Model 1
    answers at a. Kept, model 0 scores its marginal agreement (+1: matched at b, no swapped term at a); model 1 scores
    +1 - 1 = 0 (its word at a equals the suspect's at b). Dropped: 0 for both."""
    s, m0, m1 = [" ", "Yes"], [" ", "Yes"], ["Yes", "Yes"]
    usable = np.array([[False, True], [True, True]])
    assert excess_scores(s, [m0, m1], usable).tolist() == [[1, 0]]
    assert excess_scores(s, [m0, m1], usable, drop_blank_pairs=True).tolist() == [[0, 0]]
    # an informative pair is scored the same under both rules: matched 2, swapped 0 for model 0
    s2, p2 = ["No", "Yes"], [["No", "Yes"], ["Ok", "Ok"]]
    both = np.ones((2, 2), bool)
    assert excess_scores(s2, p2, both).tolist() == excess_scores(s2, p2, both, drop_blank_pairs=True).tolist() == [[2, 0]]


def _run(sus, panel, n, alpha, **kw):
    cfg = ProvenanceConfig(max_queries=n, look_every=n, alpha=alpha, modes=("raw",), habit_top=0, **kw)
    return run_provenance(_N("s"), [_N("cand")], [_N("ref")], config=cfg, panel_answers={"raw": panel},
                          suspect_answers={"raw": sus})


#: raw text's commonest continuations ("the", ",", ...): geometric frequencies, chance agreement ~1/3
COMMON = 0.5 ** np.arange(1, 11)
COMMON = COMMON / COMMON.sum()


def _colocated_world(rng, n, ends=0.4):
    """Raw mode. The candidate (chat-tuned) and the suspect put a blank line after the same complete sentences (share
    ``ends`` of the prompts); the reference (a base model) continues every text. Elsewhere each draws a common
    continuation from COMMON, independently of the prompt and of each other: nothing of the candidate's
    prompt-specific behaviour."""
    e = rng.random(n) < ends
    cand = np.where(e, "\n\n", rng.choice(WORDS[:10], n, p=COMMON))
    ref = rng.choice(WORDS[:10], n, p=COMMON)
    sus = np.where(e, "\n", rng.choice(WORDS[:10], n, p=COMMON))
    return list(sus), [list(cand), list(ref)]


def test_blank_co_location_alone_is_no_evidence_when_blank_pairs_are_dropped():
    """Calibration: 400 worlds of co-located blanks and prompt-independent words, alpha 0.1; dropped: false
    attributions within the 99 % binomial interval of alpha. Kept (the mutation check): the co-location attributes
    the suspect to the candidate in most worlds."""
    alpha, seeds, n = 0.1, 400, 400
    dropped = kept = 0
    for seed in range(seeds):
        sus, panel = _colocated_world(np.random.default_rng(40_000 + seed), n)
        dropped += _run(sus, panel, n, alpha).most_likely_parent is not None
        if seed < 40:
            kept += _run(sus, panel, n, alpha, blank_pairs="keep").most_likely_parent == "cand"
    lo, _ = binomial_interval(dropped, seeds, 0.99)
    assert lo <= alpha, dropped / seeds
    assert kept >= 30, kept


def test_prompt_independent_suspects_with_blanks_stay_within_alpha_when_blank_pairs_are_dropped():
    """The stated null: a suspect whose answers (blanks included) do not depend on the prompt. Its excess p-value
    against the hardest rival is super-uniform on the kept pairs: P(p <= alpha) within the 99 % interval of alpha at
    alpha 0.05 and 0.2 over 400 worlds."""
    n, seeds = 300, 400
    ps = []
    for seed in range(seeds):
        rng = np.random.default_rng(50_000 + seed)
        cand = rng.choice(np.append(WORDS, "\n\n"), n)
        ref = rng.choice(np.append(WORDS, "\n\n"), n)
        sus = np.where(rng.random(n) < 0.3, "\n", rng.choice(WORDS, n, p=FREQ))
        ps.append(_run(list(sus), [list(cand), list(ref)], n, 0.05).candidates[0]["statistics"]["excess/raw"]["p_value"])
    ps = np.array(ps)
    for alpha in (0.05, 0.2):
        lo, _ = binomial_interval(int((ps <= alpha).sum()), seeds, 0.99)
        assert lo <= alpha, (alpha, (ps <= alpha).mean())


def test_a_weight_edit_that_copies_its_parents_blanks_is_still_attributed():
    """Power on a planted derived model: it blanks where its parent does (lineage evidence that dropping the pairs
    gives up) and says the parent's word on 40 % of the other prompts; dropped, it is still attributed in every one of
    20 worlds, with p < 0.01 (kept: at least as strongly, the co-location adds to it)."""
    n = 400
    for seed in range(20):
        rng = np.random.default_rng(60_000 + seed)
        e = rng.random(n) < 0.4
        cand = np.where(e, "\n\n", rng.choice(WORDS, n, p=FREQ))
        ref = np.where(rng.random(n) < 0.4, "\n\n", rng.choice(WORDS, n, p=FREQ))
        sus = np.where(e, "\n", np.where(rng.random(n) < 0.4, cand, rng.choice(WORDS, n, p=FREQ)))
        dropped = _run(list(sus), [list(cand), list(ref)], n, 0.05)
        kept = _run(list(sus), [list(cand), list(ref)], n, 0.05, blank_pairs="keep")
        assert dropped.most_likely_parent == "cand" and dropped.p_values["cand"] < 0.01, (seed, dropped.p_values)
        assert kept.p_values["cand"] <= dropped.p_values["cand"] * 10, (seed, kept.p_values, dropped.p_values)


def test_blank_pairs_setting_is_validated_and_stated_in_the_null():
    with pytest.raises(InputError, match="blank_pairs"):
        ProvenanceConfig(blank_pairs="some")
    rng = np.random.default_rng(0)
    sus, panel = _colocated_world(rng, 40)
    drop, keep = _run(sus, panel, 40, 0.05), _run(sus, panel, 40, 0.05, blank_pairs="keep")
    assert "informatively on both" in drop.null_hypothesis and "informatively on both" not in keep.null_hypothesis
