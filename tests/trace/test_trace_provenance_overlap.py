"""The overlap of the suspect's next-token distribution with the panel's (trace/provenance_overlap.py): known
answers, a naive loop reference, the null's level (a suspect whose distributions do not depend on the prompt) and
the power it adds where neither the suspect's answers nor the log-probability of the panel's answers carry anything
(a student that says "The" and lists its teacher's runners-up, never the teacher's own answer); the provenance test
with it switched on and off, and the panel's distributions queried once through the cache."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from stillwatch.core.stats import binomial_interval
from stillwatch.errors import InputError
from stillwatch.trace.provenance import ProvenanceConfig, run_provenance
from stillwatch.trace.provenance_logprobs import combined_excess_test, logprob_excess_scores
from stillwatch.trace.provenance_overlap import bhattacharyya, overlap_scores, string_masses
from stillwatch.trace.provenance_query import AnswerCache, cached_distributions
from stillwatch.trace.provenance_stats import excess_scores, excess_test
from test_trace_provenance_logprobs import _random_dists

WORDS = [f"w{i}" for i in range(40)] + ["The", "A", "Yes", "No", "1", "I"]


def test_string_masses_known_answers():
    # " The" and "The" are one string (stripped): 0.5 + 0.2 at its first place; the end of text ("") and a broken
    # byte (U+FFFD only) are blank; a repeat of "A" adds to the first "A"
    toks, mass = string_masses([(["The", "A", " The", "", "\ufffd", " A"], [0.5, 0.1, 0.2, 0.1, 0.05, 0.05])])
    assert toks[0].tolist()[:3] == ["The", "A", "The"]
    np.testing.assert_allclose(mass[0], [0.7, 0.15, 0.0, 0.0, 0.0, 0.0])


def test_bhattacharyya_known_answer():
    s = string_masses([(["The", "A", "B"], [0.5, 0.3, 0.2])])
    q = string_masses([(["A", "The", "C"], [0.6, 0.2, 0.2])])
    want = math.sqrt(0.5 * 0.2) + math.sqrt(0.3 * 0.6)
    assert bhattacharyya(*s, *q)[0] == pytest.approx(want)
    assert bhattacharyya(*s, *s)[0] == pytest.approx(1.0)  # a distribution with itself: all of its mass


def _naive(suspect, panel, keep):
    """From the docstring, one pair, model and string at a time."""
    def masses(d):
        out = {}
        for t, p in zip(*d):
            t = t.strip()
            if t:
                out[t] = out.get(t, 0.0) + p
        return out

    def bc(a, b):
        return sum(math.sqrt(a[s] * b[s]) for s in a if s in b)

    n = len(suspect) // 2
    out = np.zeros((n, len(panel)))
    for k in range(n):
        if keep is not None and not keep[k]:
            continue
        s0, s1 = masses(suspect[2 * k]), masses(suspect[2 * k + 1])
        for j, dists in enumerate(panel):
            q0, q1 = masses(dists[2 * k]), masses(dists[2 * k + 1])
            out[k, j] = bc(s0, q0) + bc(s1, q1) - bc(s1, q0) - bc(s0, q1)
    return out


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 41))
def test_scores_match_a_naive_loop(seed, n):
    rng = np.random.default_rng(seed)
    suspect = _random_dists(rng, n, 5, WORDS[:12])  # a small vocabulary: many shared strings
    panel = [_random_dists(rng, n + 3, 5, WORDS[:12]) for _ in range(3)]
    keep = rng.random(n // 2) < 0.8
    before = [list(d) for d in suspect]
    got = overlap_scores(suspect, panel, keep)
    np.testing.assert_allclose(got, _naive(suspect, panel, keep), atol=1e-12)
    assert got.shape == (n // 2, 3) and [list(d) for d in suspect] == before


def test_a_prompt_independent_suspect_scores_zero_and_bad_input_is_named():
    rng = np.random.default_rng(1)
    panel = [_random_dists(rng, 10, 5, WORDS) for _ in range(2)]
    same = (["The", "A"], [0.6, 0.3])
    assert np.all(overlap_scores([same] * 10, panel) == 0)
    with pytest.raises(InputError, match="no model"):
        overlap_scores([same] * 10, [])
    with pytest.raises(InputError, match="at least 10"):
        overlap_scores([same] * 10, [panel[0][:6]])


def _world(rng, n, follows: float):
    """Three panel models (the candidate first) with prompt-specific distributions — a top answer from one vocabulary,
    four runners-up from another — and a suspect that answers "The" on every prompt; with probability ``follows`` it
    lists, below "The", the candidate's first three runners-up on *that* prompt, else three random runner words. It
    never lists any panel model's top answer."""
    tops, runner_words = [f"top{i:02d}" for i in range(20)], [f"run{i:02d}" for i in range(20)]  # no prefix of another
    panel_d = []
    for _ in range(3):
        panel_d.append([([str(rng.choice(tops)), *rng.choice(runner_words, size=4, replace=False)],
                         [0.5, 0.2, 0.15, 0.1, 0.05]) for _ in range(n)])
    suspect = []
    for i in range(n):
        runners = panel_d[0][i][0][1:4]
        rest = list(runners) if rng.random() < follows else list(rng.choice(runner_words, size=3, replace=False))
        suspect.append((["The", *rest], [0.85, 0.07, 0.05, 0.03]))
    answers = [[d[0][0] for d in dists] for dists in panel_d]
    return answers, panel_d, suspect


def test_the_level_holds_under_the_null():
    """300 worlds whose suspect does not depend on the prompt: the three-term test rejects at alpha = 0.05 no more
    often than the binomial 99 % interval allows."""
    rng = np.random.default_rng(5)
    alpha, rejections, worlds = 0.05, 0, 300
    for w in range(worlds):
        answers, panel_d, suspect = _world(rng, 60, follows=0.0)
        m = excess_scores([t[0] for t, _ in suspect], answers)
        b = logprob_excess_scores(suspect, answers)
        c = overlap_scores(suspect, panel_d)
        rejections += combined_excess_test(m, b, 1, overlap=c, draws=999, seed=w).p_value[0] <= alpha
    lo, _ = binomial_interval(rejections, worlds, 0.99)
    assert lo <= alpha, f"{rejections}/{worlds}"


def test_power_that_only_the_overlap_has():
    """The suspect lists its teacher's runners-up on half the prompts and never its teacher's answer: its answers
    are constant (answers-only p = 1), no panel model's answer is ever in its list (log-probability excess 0 on every
    pair: the two-term test has nothing); the overlap term finds the candidate."""
    rng = np.random.default_rng(9)
    answers, panel_d, suspect = _world(rng, 200, follows=0.5)
    m = excess_scores([t[0] for t, _ in suspect], answers)
    b = logprob_excess_scores(suspect, answers)
    assert excess_test(m, 1).p_value[0] == 1.0 and np.allclose(b, 0.0)
    assert combined_excess_test(m, b, 1).p_value[0] == 1.0
    res = combined_excess_test(m, b, 1, overlap=overlap_scores(suspect, panel_d))
    assert res.p_value[0] < 1e-3 and res.wins[0] > res.losses[0]


def _provenance(answers, panel_d, suspect, on: bool):
    n = len(suspect)
    cfg = ProvenanceConfig(max_queries=n, look_every=n, alpha=0.01, habit_top=0, modes=("chat",),
                           panel_logprobs=("chat",) if on else ())

    class Named:
        def __init__(self, name):
            self.name = name

    models = [Named(x) for x in ("teacher", "other", "reference")]
    return run_provenance(Named("suspect"), models[:2], models[2:], config=cfg, panel_answers={"chat": answers},
                          suspect_answers={"chat": [t[0] for t, _ in suspect]}, suspect_dists={"chat": suspect},
                          panel_dists={"chat": panel_d})


def test_the_provenance_test_with_the_overlap_switched_on_and_off():
    rng = np.random.default_rng(21)
    answers, panel_d, suspect = _world(rng, 400, follows=0.5)
    on = _provenance(answers, panel_d, suspect, True)
    assert on.most_likely_parent == "teacher" and on.panel_logprobs == {"chat": True}
    assert "Bhattacharyya" in on.null_hypothesis
    off = _provenance(answers, panel_d, suspect, False)
    assert off.most_likely_parent is None and off.panel_logprobs == {"chat": False}
    with pytest.raises(InputError, match="panel_logprobs"):
        ProvenanceConfig(modes=("chat",), panel_logprobs=("raw",))


class _Fake:
    identity, name, modes = "fake:1", "fake", ("chat",)

    def __init__(self, give: bool):
        self.give, self.calls = give, 0

    def distributions(self, prompts, *, mode="chat", k=20):
        self.calls += 1
        return [(["a", "b"], [0.7, 0.2]) for _ in prompts] if self.give else None


def test_panel_distributions_are_asked_once_and_cached(tmp_path):
    cache = AnswerCache(tmp_path)
    m = _Fake(True)
    first = cached_distributions(m, ["p1", "p2"], mode="chat", k=20, cache=cache)
    again = cached_distributions(m, ["p1", "p2"], mode="chat", k=20, cache=cache)
    assert first == again == [(["a", "b"], [0.7, 0.2])] * 2 and m.calls == 1
    assert cached_distributions(m, ["p1", "p2"], mode="raw", k=20, cache=cache) is None  # a mode it does not serve
    refusing = _Fake(False)
    assert cached_distributions(refusing, ["p1"], mode="chat", k=20, cache=cache) is None
    assert cached_distributions(refusing, ["p1"], mode="chat", k=20, cache=cache) is None and refusing.calls == 2
