"""The suspect's next-token distribution as evidence (stillwatch.trace.provenance_logprobs).

Layers: the distribution excess scores against a naive per-prompt loop; the sign-flip p-value against exact
enumeration and against its Hoeffding branch; calibration of the combined test under the null it states (a
suspect whose distribution does not depend on the prompt: 400 worlds, rejection rate within the binomial 99 %
interval of alpha); power where the answers-only test has none (a student that answers "The" to every prompt but
ranks its teacher's answer next); a real tiny model's distributions against softmax over its full forward pass;
and the attacker: a suspect that fabricates distributions (prompt-independent ones cannot pass; one that refuses
top_logprobs falls back to answers), played in these tests.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from stillwatch.core.stats import binomial_interval
from stillwatch.errors import InputError
from stillwatch.trace.provenance_logprobs import (
    MIN_FLOOR,
    check_distributions,
    combined_excess_test,
    logprob_excess_scores,
    signflip_mc,
)
from stillwatch.trace.provenance_stats import excess_scores, excess_test, informative_pairs

WORDS = ["The", "I", "A", "In", "Yes", "No", "Here", "To", "It", "We", "This", "Let", "1", "Sure", "One", "When"]


def _naive_b(dists, panel, usable, keep):
    """Per pair and panel model, the module docstring's formula with explicit loops (prefix compatibility: equal,
    or one a prefix of the other with the shorter >= 2 characters; stripped strings)."""

    def comp(x, y):
        x, y = x.strip(), y.strip()
        if not x or not y:
            return False
        return x == y or ((x.startswith(y) or y.startswith(x)) and min(len(x), len(y)) >= 2)

    def loglik(i, j, i_panel):
        toks, probs = dists[i]
        if not usable[i_panel][j]:
            return 0.0
        mass = sum(p for t, p in zip(toks, probs) if comp(" " if t == "" else t, panel[j][i_panel]))
        return math.log(max(mass, max(min(probs), MIN_FLOOR)))

    n = len(dists) // 2 * 2
    out = np.zeros((n // 2, len(panel)))
    for k in range(n // 2):
        if keep is not None and not keep[k]:
            continue
        a, b = 2 * k, 2 * k + 1
        for j in range(len(panel)):
            # the swapped term scores the partner prompt's distribution against the panel answer of this prompt
            out[k, j] = loglik(a, j, a) + loglik(b, j, b) - loglik(b, j, a) - loglik(a, j, b)
    return out


def _random_dists(rng, n, k=6, vocab=None):
    out = []
    for _ in range(n):
        toks = list(rng.choice(WORDS if vocab is None else vocab, size=k, replace=False))
        p = np.sort(rng.dirichlet(np.ones(k)))[::-1] * rng.uniform(0.5, 1.0)
        out.append((toks, [float(x) for x in p]))
    return out


def test_scores_match_a_naive_loop():
    rng = np.random.default_rng(0)
    for _ in range(20):
        n, m = int(rng.integers(2, 30)), int(rng.integers(2, 5))
        dists = _random_dists(rng, n)
        panel = [list(rng.choice(WORDS + ["Th", "Lets", " "], size=n)) for _ in range(m)]
        usable = rng.random((n, m)) > 0.2
        keep = rng.random(n // 2) > 0.3
        got = logprob_excess_scores(dists, panel, usable, keep_pairs=keep, blank_end_of_text=True)
        np.testing.assert_allclose(got, _naive_b(dists, panel, usable, keep), rtol=1e-12, atol=1e-12)


def test_a_prompt_independent_distribution_scores_zero():
    """The null's key fact: the matched and swapped terms are the same numbers when the distribution does not
    depend on the prompt, whatever the panel says."""
    rng = np.random.default_rng(1)
    one = _random_dists(rng, 1)[0]
    panel = [list(rng.choice(WORDS, size=40)) for _ in range(3)]
    assert np.all(logprob_excess_scores([one] * 40, panel) == 0.0)


def test_inputs_are_checked_and_not_mutated():
    rng = np.random.default_rng(2)
    dists = _random_dists(rng, 8)
    panel = [list(rng.choice(WORDS, size=8)) for _ in range(2)]
    before = [(list(t), list(p)) for t, p in dists], [list(x) for x in panel]
    logprob_excess_scores(dists, panel)
    assert [(list(t), list(p)) for t, p in dists] == before[0] and panel == before[1]
    with pytest.raises(InputError, match="distribution 1: probabilities must lie in"):
        check_distributions([(["a"], [0.5]), (["b"], [1.5])])
    with pytest.raises(InputError, match="distribution 0: 2 tokens and 1 probabilities"):
        check_distributions([(["a", "b"], [0.5])])
    with pytest.raises(InputError, match="the panel holds no model"):
        logprob_excess_scores(dists, [])
    with pytest.raises(InputError, match="share one shape"):
        combined_excess_test(np.zeros((4, 3)), np.zeros((4, 2)), 1)
    with pytest.raises(InputError, match="n_candidates must be in 1..3"):
        combined_excess_test(np.zeros((4, 3)), np.zeros((4, 3)), 4)


def _exact_tail(d):
    obs = d.sum()
    sums = [np.dot(s, d) for s in itertools.product((-1.0, 1.0), repeat=len(d))]
    return np.mean([x >= obs - 1e-12 for x in sums])


def test_signflip_p_against_exact_enumeration():
    """Small K: the Monte Carlo branch (Hoeffding's bound above 1 / (B + 1) there) is the exact tail plus c, up
    to Monte Carlo error (4 sd)."""
    rng = np.random.default_rng(3)
    draws = 19_999
    c = 1.0 / (draws + 1)
    for _ in range(6):
        d = rng.normal(0.3, 1.0, size=12) * (rng.random(12) > 0.2)
        exact = _exact_tail(d)
        got = signflip_mc(d[:, None], draws=draws, seed=5)[0]
        sd = math.sqrt(max(exact * (1 - exact), 1e-4) / draws)
        assert abs(got - min(1.0, exact + c)) <= 4 * sd + c, (got, exact)


def test_signflip_uses_hoeffding_below_the_monte_carlo_resolution():
    d = np.full((400, 1), 1.0)
    d[::10] = -1.0  # T = 320 over 400 unit terms
    h = math.exp(-(320.0**2) / (2 * 400))
    assert h < 1e-50
    assert signflip_mc(d)[0] == pytest.approx(h, rel=1e-12, abs=0)
    d2 = np.where(np.arange(100) < 76, 1.0, -1.0)[:, None]  # T = 52 over 100 unit terms: h = exp(-13.52), below 1 / 20,000
    assert signflip_mc(d2)[0] == pytest.approx(math.exp(-(52.0**2) / 200), rel=1e-12, abs=0)
    assert signflip_mc(np.zeros((10, 2))).tolist() == [1.0, 1.0]  # no evidence at all
    with pytest.raises(InputError, match="draws must be an int >= 1"):
        signflip_mc(d, draws=0)


def _world(rng, n, depends: float):
    """Panel answers of 3 models and a suspect's distributions over n prompts. The candidate (column 0) has its
    own answer per prompt; the suspect puts ``depends`` of its second-rank mass on the candidate's answer of
    *that* prompt (0: its distribution does not depend on the prompt, beyond noise drawn independently)."""
    panel = [list(rng.choice(WORDS, size=n)) for _ in range(3)]
    dists = []
    for i in range(n):
        others = [w for w in WORDS if w not in ("The", panel[0][i])]
        follow = rng.random() < depends
        second = panel[0][i] if follow else str(rng.choice(others))
        rest = list(rng.choice([w for w in others if w != second], size=3, replace=False))
        noise = rng.dirichlet(np.ones(3)) * 0.05
        dists.append((["The", second, *rest], [0.9, 0.05, *[float(x) for x in noise]]))
    return panel, dists


def test_combined_test_keeps_its_level_under_the_null():
    """400 worlds whose suspect does not depend on the prompt (its distribution's noise drawn independently of
    the prompt): the combined test rejects at alpha = 0.05 no more often than the binomial 99 % interval allows."""
    rng = np.random.default_rng(7)
    alpha, rejections, worlds = 0.05, 0, 400
    for w in range(worlds):
        panel, dists = _world(rng, 60, depends=0.0)
        answers = [t[0] for t, _ in dists]
        m = excess_scores(answers, panel)
        b = logprob_excess_scores(dists, panel)
        rejections += combined_excess_test(m, b, 1, draws=999, seed=w).p_value[0] <= alpha
    lo, _ = binomial_interval(rejections, worlds, 0.99)
    assert lo <= alpha, f"{rejections}/{worlds} rejections"


def test_power_where_the_top_token_carries_nothing():
    """A student that answers "The" to every prompt and ranks its teacher's answer of that prompt second 60 % of
    the time: the answers-only excess cannot see it (p = 1: its answers are constant), the combined test can."""
    rng = np.random.default_rng(11)
    panel, dists = _world(rng, 200, depends=0.6)
    answers = [t[0] for t, _ in dists]
    m = excess_scores(answers, panel)
    assert excess_test(m, 1).p_value[0] == 1.0
    b = logprob_excess_scores(dists, panel)
    res = combined_excess_test(m, b, 1)
    assert res.p_value[0] < 1e-3 and res.wins[0] > res.losses[0]


def test_fabricated_prompt_independent_distributions_cannot_pass():
    """The attacker fabricates its top_logprobs: any list that does not depend on the prompt scores b = 0 on every
    pair, so with constant answers the combined test has no evidence at all (p = 1), whatever the list says."""
    rng = np.random.default_rng(13)
    panel = [list(rng.choice(WORDS, size=100)) for _ in range(3)]
    fake = (["The", "I", "Yes"], [0.5, 0.3, 0.2])
    m = excess_scores(["The"] * 100, panel)
    b = logprob_excess_scores([fake] * 100, panel)
    assert combined_excess_test(m, b, 2).p_value.tolist() == [1.0, 1.0]


def test_informative_pairs():
    assert informative_pairs(["The", "a", " ", "I", "x"]).tolist() == [True, False]


def test_local_model_distributions_are_softmax_of_the_full_forward():
    """A real tiny model: the top-k tokens and probabilities equal softmax over the last position of a plain
    forward pass of the whole sequence (naive reference), the first token is the greedy answer, k is respected."""
    import torch

    from test_trace_provenance import _tiny

    model = _tiny(3)
    prompts = ["Why is the sky blue?", "Name a prime.", "Yesterday, the river"]
    got = model.distributions(prompts, mode="chat", k=5)
    assert [t[0] for t, _ in got] == model.answers(prompts)
    b = model.backend
    for (toks, probs), p in zip(got, prompts):
        ids = torch.tensor([b.chat_prompt_ids(p)])
        with torch.no_grad():
            logits = b.model(input_ids=ids).logits[0, -1, : len(b.tokenizer)].float()
        ref = torch.softmax(logits, -1)
        top = torch.topk(ref, 5)
        assert len(toks) == 5 and probs == sorted(probs, reverse=True)
        np.testing.assert_allclose(probs, top.values.numpy(), rtol=1e-4, atol=1e-7)
        assert toks == [b.decode([int(i)]) for i in top.indices]
    with pytest.raises(InputError, match="k must be an int in 1..100"):
        model.distributions(prompts, k=0)


def test_a_vocabulary_smaller_than_k_gives_all_of_it():
    """k above the vocabulary: every token once, probabilities summing to 1 (the softmax is over the tokenizer's
    rows), no placeholder entries."""
    from test_trace_provenance import _tiny

    model = _tiny(4)
    tok = model.backend.tokenizer

    class Five:  # the tokenizer seen as holding its first 5 tokens (the output rows past them are padding)
        def __len__(self):
            return 5

        def __getattr__(self, name):
            return getattr(tok, name)

    model.backend.tokenizer = Five()
    try:
        got = model.distributions(["Why is the sky blue?", "Name a prime."], k=20)
    finally:
        model.backend.tokenizer = tok
    for toks, probs in got:
        assert len(toks) == len(probs) == 5 and sum(probs) == pytest.approx(1.0, abs=1e-6)
