"""The content split's null model (score/cross_use.py): a cut is kept only where its parts avoid each other's keys
beyond what the cluster's configuration model gives.

Layers: ``cross_use`` against a per-account, per-key reference written here from the docstring; one operator whose
accounts pick keys at random (any cut of it measures ``O / E`` near one) against two operators with keys of their
own beside a shared one (zero); and ``split_by_content`` end to end: a one-operator random graph that label
propagation cuts is kept whole, two operators are still cut apart."""

from __future__ import annotations

import numpy as np
import pytest

from stillwatch.guard.score.config import DetectConfig, SplitConfig
from stillwatch.guard.score.cross_use import cross_use
from stillwatch.guard.score.exclusive import use_probabilities
from stillwatch.guard.score.links import split_by_content

CFG = DetectConfig()


def _random_operator(rng, n_acc: int, n_keys: int, per_acc: int, offset: int = 0):
    """``n_acc`` accounts each using ``per_acc`` keys drawn at random from one pool of ``n_keys``."""
    ea = np.repeat(np.arange(n_acc), per_acc) + offset
    ek = np.concatenate([rng.choice(n_keys, per_acc, replace=False) for _ in range(n_acc)])
    return ea, ek


def _reference(labels, sub, big, ea, ek, own_share):
    """O and E of one cut cluster, a loop per account and key (the docstring's definitions): ownership read off
    the accounts of even index, cross uses and their expectation over the accounts of odd index."""
    pairs = sorted(set(zip(ea.tolist(), ek.tolist())))
    accs = sorted({a for a, _ in pairs})
    keys = sorted({k for _, k in pairs})
    uses = {(a, k) for a, k in pairs}
    part = {a: (int(sub[a]) if big[a] else -1) for a in accs}
    users = {k: sum((a, k) in uses for a in accs) for k in keys}
    even_users = {k: sum((a, k) in uses for a in accs if a % 2 == 0) for k in keys}
    owner = {}
    for k in keys:
        for q in sorted({p for p in part.values() if p >= 0}):
            held = sum((a, k) in uses and part[a] == q for a in accs if a % 2 == 0)
            if even_users[k] > 0 and held >= own_share * even_users[k]:
                owner[k] = q
    deg = {a: sum((a, k) in uses for k in keys) for a in accs}
    dvals, dcounts = np.unique(list(deg.values()), return_counts=True)
    p = use_probabilities(dvals, dcounts, np.array([users[k] for k in keys], float))
    row = {d: i for i, d in enumerate(dvals)}
    obs = exp = 0.0
    for a in accs:
        if part[a] < 0 or a % 2 == 0:
            continue
        for j, k in enumerate(keys):
            if k in owner and owner[k] != part[a]:
                obs += (a, k) in uses
                exp += p[row[deg[a]], j]
    return obs, exp


def test_cross_use_equals_the_reference():
    rng = np.random.default_rng(0)
    ea, ek = _random_operator(rng, 40, 60, 12)
    labels = np.zeros(40, np.int64)
    sub = np.where(np.arange(40) < 25, 0, 25)  # an arbitrary cut in two
    big = np.ones(40, bool)
    big[[3, 30]] = False  # two accounts of small parts take no side
    for share in (0.5, 0.9):
        o, e = cross_use(labels, sub, big, ea, ek, share)
        ro, re_ = _reference(labels, sub, big, ea, ek, share)
        assert o[0] == ro and e[0] == pytest.approx(re_, rel=1e-9)
        assert np.all(o == o[0]) and np.all(e == e[0])  # every member carries its cluster's values
        assert e[0] > 0


def test_one_operator_cut_anyhow_uses_the_other_part_keys_as_chance_does():
    rng = np.random.default_rng(1)
    ea, ek = _random_operator(rng, 90, 300, 30)
    labels = np.zeros(90, np.int64)
    ratios = []
    for seed in range(5):
        cut = np.random.default_rng(seed).permutation(90) < 30
        sub = np.where(cut, np.flatnonzero(cut)[0], np.flatnonzero(~cut)[0])
        o, e = cross_use(labels, sub, np.ones(90, bool), ea, ek, 0.5)
        ratios.append(o[0] / e[0])
    # ownership read off the even accounts, uses counted on the odd ones: about one under H0
    assert 0.75 < min(ratios) and max(ratios) < 1.25, ratios


def test_two_operators_with_keys_of_their_own_avoid_each_other():
    rng = np.random.default_rng(2)
    a1, k1 = _random_operator(rng, 50, 40, 12)  # operator 1: keys 0..39
    a2, k2 = _random_operator(rng, 30, 40, 12, offset=50)
    k2 = k2 + 40  # operator 2: keys 40..79
    shared_a = np.arange(80)
    shared_k = np.full(80, 999)  # one public scaffold both use
    ea, ek = np.concatenate([a1, a2, shared_a]), np.concatenate([k1, k2, shared_k])
    labels = np.zeros(80, np.int64)
    sub = np.where(np.arange(80) < 50, 0, 50)
    o, e = cross_use(labels, sub, np.ones(80, bool), ea, ek, CFG.split.content_own_share)
    assert o[0] == 0 and e[0] > 50  # the shared scaffold is nobody's own key


def _split_graph(seed: int):
    """One operator (90 accounts, random picks of 8 from 150 keys: sparse, which label propagation cuts at some
    seeds), beside two operators with keys of their own (40 + 40 accounts, a shared scaffold)."""
    rng = np.random.default_rng(seed)
    a0, k0 = _random_operator(rng, 90, 150, 8)
    w0 = rng.integers(1, 4, len(a0)).astype(float)
    a1, k1 = _random_operator(rng, 40, 30, 10, offset=90)
    a2, k2 = _random_operator(rng, 40, 30, 10, offset=130)
    k1, k2 = k1 + 1000, k2 + 2000
    ea = np.concatenate([a0, a1, a2, np.arange(90, 170)])
    ek = np.concatenate([k0, k1, k2, np.full(80, 5000)])
    labels = np.where(np.arange(170) < 90, 0, 90)
    return labels, ea, ek, np.concatenate([w0, np.ones(len(ea) - len(a0))])


def test_split_by_content_keeps_a_random_operator_whole_and_still_cuts_two_operators():
    from dataclasses import replace

    for seed in range(6):
        labels, ea, ek, w = _split_graph(seed)
        out = split_by_content(labels, ea, ek, w, CFG)
        assert len(np.unique(out[:90])) == 1, seed  # the random operator stays whole
        assert len(np.unique(out[90:])) == 2 and out[90] != out[130], seed  # the two operators are cut apart
    # without the null (every cut kept) label propagation cuts the random operator in some of these graphs
    off = replace(CFG, split=replace(CFG.split, content_cross_share=1.0), link=replace(CFG.link, alpha=1.0))
    cut = [len(np.unique(split_by_content(*_split_graph(s), off)[:90])) > 1 for s in range(6)]
    assert any(cut), cut


def test_config_names_the_field():
    with pytest.raises(Exception, match="content_cross_share"):
        SplitConfig(content_cross_share=1.5)
    with pytest.raises(Exception, match="content_own_share"):
        SplitConfig(content_own_share=-0.1)

