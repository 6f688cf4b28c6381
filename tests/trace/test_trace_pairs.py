"""Pair extraction for the radioactivity tests, cross-checked against a naive per-position loop."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stillwatch.trace.radioactivity import ScoringText, closed_model_pairs, open_model_pairs


def _naive_open(preds, texts, h):
    ctx, tok, ex = [], [], set()
    for pred, text in zip(preds, texts):
        ids = list(text.ids)
        for t in range(len(ids)):
            if t >= h - 1 and t + 1 >= text.score_from:
                ctx.append(tuple(ids[t - h + 1 : t + 1]))
                tok.append(int(pred[t]))
        for t in range(h, len(ids)):
            ex.add(tuple(ids[t - h : t + 1]))
    return ctx, tok, ex


def test_open_pairs_known_answer():
    ids = np.array([5, 6, 7, 8, 9])
    pred = np.array([60, 70, 80, 90, 100])  # pred[t] = model's guess for ids[t+1]
    p = open_model_pairs([pred], [ScoringText(ids, score_from=3)], h=2)
    # tokens at positions >= 3 are scored: predictions made at t = 2, 3, 4
    assert p.contexts.tolist() == [[6, 7], [7, 8], [8, 9]]
    assert p.tokens.tolist() == [80, 90, 100]
    assert p.exclude.tolist() == [[5, 6, 7], [6, 7, 8], [7, 8, 9]]
    # key-independent scoring text: only windows inside the prompt part (ids[:3]) are excluded
    q = open_model_pairs([pred], [ScoringText(ids, score_from=3)], h=2, exclude_answers=False)
    assert q.exclude.tolist() == [[5, 6, 7]]
    assert q.contexts.tolist() == p.contexts.tolist() and q.tokens.tolist() == p.tokens.tolist()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.lists(st.integers(0, 20), min_size=0, max_size=12), st.integers(0, 14)), min_size=1, max_size=4),
    st.integers(1, 4),
)
def test_open_pairs_match_naive_reference(spec, h):
    rng = np.random.default_rng(0)
    texts = [ScoringText(np.array(ids, dtype=np.int64), score_from=sf) for ids, sf in spec]
    preds = [rng.integers(0, 30, size=len(t.ids)) for t in texts]
    p = open_model_pairs(preds, texts, h)
    ctx, tok, ex = _naive_open(preds, texts, h)
    assert [tuple(c) for c in p.contexts.tolist()] == ctx
    assert p.tokens.tolist() == tok
    assert {tuple(w) for w in p.exclude.tolist()} == ex
    assert p.contexts.shape == (len(tok), h)


def test_closed_pairs_known_answer():
    p = closed_model_pairs([np.array([1, 2, 3, 4]), np.array([9])], [np.array([7, 1, 2])], h=1)
    assert p.contexts.tolist() == [[1], [2], [3]]
    assert p.tokens.tolist() == [2, 3, 4]
    assert p.exclude.tolist() == [[7, 1], [1, 2]]
    assert p.n_texts == 2


def test_mismatched_predictions_are_rejected():
    with pytest.raises(ValueError, match="shape"):
        open_model_pairs([np.arange(3)], [ScoringText(np.arange(4))], 1)


def test_differential_pairs_keep_only_departures_from_the_base():
    ids = np.array([5, 6, 7, 8, 9])
    pred = np.array([60, 70, 80, 90, 100])
    base = np.array([60, 0, 80, 0, 0])  # agrees with the suspect at t = 0 and t = 2
    p = open_model_pairs([pred], [ScoringText(ids, score_from=1)], h=1, base_predictions=[base])
    assert p.contexts.tolist() == [[6], [8], [9]] and p.tokens.tolist() == [70, 90, 100]
    # closed: answer [3, 4, 5, 6]; base predicted 4 for the token 4 (t = 1): that window is dropped
    q = closed_model_pairs([np.array([3, 4, 5, 6])], [np.array([1, 2])], 1, base_predictions=[np.array([9, 4, 0, 0])])
    assert q.contexts.tolist() == [[4], [5]] and q.tokens.tolist() == [5, 6]
    with pytest.raises(ValueError, match="base predictions"):
        open_model_pairs([pred], [ScoringText(ids)], 1, base_predictions=[base[:3]])
