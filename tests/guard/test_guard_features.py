"""Features, MinHash, clustering and the human-feasible rate: known answers and naive references."""

from __future__ import annotations

import datetime as dt
import itertools
import re

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stillwatch.errors import GuardInputError
from stillwatch.guard.score.cluster import components, sizes
from stillwatch.guard.features.tables import CAPABILITY_PATTERNS, normalise_py
from stillwatch.guard.features.minhash import (MinHashConfig, estimate_jaccard, near_duplicate_groups, signatures,
                                               sketches)
from stillwatch.guard.features.rates import HumanRate, available_seconds, human_rate_multiple, human_rate_per_hour, human_seconds


# ------------------------------------------------------------------------------ human-feasible rate
def test_human_rate_known_answer():
    # 400 tokens * 0.75 words/token / 238 wpm = 1.2605 min = 75.63 s; + 5 s = 80.63 s -> 44.65 / h
    assert human_rate_per_hour() == pytest.approx(3600 / (5 + 400 * 0.75 / 238 * 60), rel=1e-12)
    assert human_rate_per_hour() == pytest.approx(44.65, abs=0.01)
    assert human_seconds(np.array([0, 238 / 0.75]))[1] == pytest.approx(65.0)  # one minute of reading + 5 s


def test_available_seconds_waking_hours():
    hour = 3_600_000_000
    typical = HumanRate().typical_exchange_seconds
    got = available_seconds(np.array([0, hour, 20 * hour, 48 * hour]))
    want = np.array([0, 3600, 16 * 3600, 32 * 3600]) + typical
    np.testing.assert_allclose(got, want)


def test_multiple_is_people_needed():
    # 90 typical exchanges in one hour need 90 * 80.63 s = 2.0 people reading full time (minus the grace)
    demand = 90 * HumanRate().typical_exchange_seconds
    m = human_rate_multiple(np.array([demand]), np.array([3_600_000_000]))
    assert m[0] == pytest.approx(demand / (3600 + HumanRate().typical_exchange_seconds))
    assert 1.9 < m[0] < 2.0


def test_human_rate_validates():
    with pytest.raises(GuardInputError, match="words_per_minute"):
        HumanRate(words_per_minute=0)


# ------------------------------------------------------------------------------------- MinHash
def _shingles(text: str, k: int = 5) -> set[bytes]:
    b = text.encode()[:256]
    return {b[i : i + k] for i in range(len(b) - k + 1)}


def _jaccard(a: str, b: str) -> float:
    sa, sb = _shingles(a), _shingles(b)
    return len(sa & sb) / len(sa | sb)


def test_minhash_estimates_jaccard():
    rng = np.random.default_rng(1)
    words = [f"w{i}" for i in range(300)]
    base = [" ".join(rng.choice(words, 30)) for _ in range(40)]
    pairs = []
    for b in base:
        toks = b.split()
        k = int(rng.integers(0, 20))
        for j in rng.choice(len(toks), k, replace=False):
            toks[j] = str(rng.choice(words))
        pairs.append((b, " ".join(toks)))
    flat = [x for p in pairs for x in p]
    sig, has = signatures(flat)
    assert has.all()
    est = np.array([estimate_jaccard(sig[2 * i], sig[2 * i + 1]) for i in range(len(pairs))])
    true = np.array([_jaccard(a, b) for a, b in pairs])
    # 64 bins: standard error <= 0.5/sqrt(64) = 0.0625; allow a generous mean absolute error
    assert np.mean(np.abs(est - true)) < 0.08
    assert np.corrcoef(est, true)[0, 1] > 0.9


def test_signatures_are_a_function_of_the_text():
    texts = ["explain step by step how tides work", "a completely different prompt about cats", "hi"]
    s1, _ = signatures(texts)
    s2, _ = signatures(list(reversed(texts)))
    np.testing.assert_array_equal(s1, s2[::-1])
    # chunking does not change signatures
    s3, _ = signatures(texts, MinHashConfig(chunk_bytes=10))
    np.testing.assert_array_equal(s1, s3)


def test_sketches_do_not_depend_on_the_chunk_size():
    """The chunk size bounds the temporaries only: band keys, fingerprints and the mask are the same whether
    3,000 prompts (empty, short, long, non-ASCII) are sketched in one chunk, in the default's or in chunks of a
    few prompts."""
    rng = np.random.default_rng(3)
    words = np.array(["tide", "moon", "step", "code", "élan", "数据", "x", "why?"])
    texts = [" ".join(rng.choice(words, rng.integers(0, 90))) for _ in range(3000)]
    ref = sketches(texts, MinHashConfig(chunk_bytes=10**9))
    for cb in (MinHashConfig().chunk_bytes, 4_000_000, 2_000, 64):
        got = sketches(texts, MinHashConfig(chunk_bytes=cb))
        for a, b in zip(ref, got):
            np.testing.assert_array_equal(a, b)
    assert ref[2].sum() > 2900 and not ref[2].all()  # sketchable and unsketchable prompts both present


def _densify_reference(row: list[int], k: int) -> list[int]:
    """Rotation densification (Shrivastava & Li 2014) of one signature, cell by cell: an empty bin takes the
    next non-empty bin to its right, circularly, plus distance x the golden-ratio constant (mod 2^64)."""
    empty, golden = 2**64 - 1, 0x9E3779B97F4A7C15
    if all(v == empty for v in row):
        return row
    out = []
    for j, v in enumerate(row):
        d = 0
        while row[(j + d) % k] == empty:
            d += 1
        out.append(v if d == 0 else (row[(j + d) % k] + d * golden) % 2**64)
    return out


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 3), st.integers(1, 40), st.floats(0.0, 1.0), st.integers(0, 2**32))
def test_densify_matches_a_cell_by_cell_reference(log_k, n, p_empty, seed):
    """The vectorised densification against a loop over cells written from the paper's rule, and against the
    streaming scorer's one-row version: rows with a few, most and all bins empty, k from 1 to 8 bins."""
    from stillwatch.guard.features.minhash import _EMPTY, _densify, _densify_one

    k = 2**log_k
    rng = np.random.default_rng(seed)
    sig = rng.integers(0, 2**64 - 1, (n, k), dtype=np.uint64)
    sig[rng.random((n, k)) < p_empty] = _EMPTY
    before = sig.copy()
    got = _densify(sig)
    np.testing.assert_array_equal(sig, before)  # the input is not modified
    for i in range(n):
        assert got[i].tolist() == _densify_reference(sig[i].tolist(), k)
        np.testing.assert_array_equal(got[i], _densify_one(sig[i : i + 1])[0])


@pytest.mark.parametrize("field, value", [("chunk_bytes", 0), ("shingle_bytes", 9), ("verify_bins", 65),
                                          ("max_bytes", 4), ("rows", 3)])
def test_minhash_config_names_the_bad_field(field, value):
    with pytest.raises(GuardInputError, match=field if field != "rows" else "power of two"):
        MinHashConfig(**{field: value})


def test_near_duplicate_groups_one_hop():
    texts = [
        "think step by step: explain how photosynthesis works in green plants today",
        "think step by step: explain how photosynthesis works in green plants now",
        "write a haiku about the sea and the moon and the stars above",
        "hi",
        "",
    ]
    g = near_duplicate_groups(texts)
    assert g[0] == g[1] and g[0] in (0, 1)
    assert g[2] == 2 and g[3] == 3 and g[4] == 4
    # the default rank is a function of the text, so the grouping does not depend on input order
    perm = [2, 4, 1, 0, 3]
    g2 = near_duplicate_groups([texts[i] for i in perm])
    back = np.empty(5, np.int64)
    back[perm] = np.array(perm)[g2]
    np.testing.assert_array_equal(back, g)


def _groups_reference(keys, small, has, order, min_jaccard):
    """The one-hop grouping written from its definition, pair by pair: in each band, each bucket's representative
    is its member of lowest (order, index); a member takes it when their fingerprints agree on >= min_jaccard of
    the bins and it ranks below the member's current best (bands in turn)."""
    n, bands = keys.shape
    best = list(range(n))
    for b in range(bands):
        buckets = {}
        for i in range(n):
            if has[i]:
                buckets.setdefault(int(keys[i, b]), []).append(i)
        for members in buckets.values():
            r = min(members, key=lambda i: (order[i], i))
            for i in members:
                if i != r and np.mean(small[i] == small[r]) >= min_jaccard and order[r] < order[best[i]]:
                    best[i] = r
    return best


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 40), st.integers(0, 2**32), st.sampled_from([0.5, 0.6, 0.75]), st.booleans())
def test_groups_from_sketches_match_a_pairwise_reference(n, seed, min_jaccard, ties):
    """Buckets that collide often (four key values per band), fingerprints that agree about half the time, some
    prompts unsketchable, ranks with and without ties: the vectorised grouping equals the reference."""
    from stillwatch.guard.features.minhash import groups_from_sketches

    cfg = MinHashConfig()
    rng = np.random.default_rng(seed)
    keys = rng.integers(0, 4, (n, cfg.n_bands)).astype(np.uint32)
    small = rng.integers(0, 2, (n, cfg.verify_bins)).astype(np.uint8)
    small[rng.random(n) < 0.3] = small[0]  # some exact copies of the first prompt's fingerprint
    has = rng.random(n) < 0.85
    order = rng.integers(0, 5 if ties else 2**40, n)
    got = groups_from_sketches(keys, small, has, cfg, order=order, min_jaccard=min_jaccard)
    assert got.tolist() == _groups_reference(keys, small, has, order.tolist(), min_jaccard)


def test_near_duplicates_do_not_chain():
    # a chain where each neighbour differs by one word: A~B~C~... but A and Z are unrelated
    words = [f"token{i:03d}" for i in range(60)]
    chain = [" ".join(words[i : i + 12]) for i in range(0, 40)]
    g = near_duplicate_groups(chain)
    assert np.bincount(g).max() < 10  # no giant group


# ------------------------------------------------------------------------------------ clustering
def _naive_components(n, ea, ek):
    parent = list(range(n))

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x

    by_key = {}
    for a, k in zip(ea, ek):
        by_key.setdefault(k, []).append(a)
    for members in by_key.values():
        for a, b in itertools.pairwise(members):
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    roots = [find(i) for i in range(n)]
    first = {}
    for i, r in enumerate(roots):
        first.setdefault(r, i)
    return np.array([first[r] for r in roots])


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 30), st.lists(st.tuples(st.integers(0, 29), st.integers(-5, 8)), max_size=40))
def test_components_match_naive_union_find(n, pairs):
    pairs = [(a % n, k) for a, k in pairs]
    ea = np.array([p[0] for p in pairs], np.int64)
    ek = np.array([p[1] for p in pairs], np.int64)
    got = components(n, ea, ek)
    np.testing.assert_array_equal(got, _naive_components(n, ea.tolist(), ek.tolist()))
    assert sizes(got).sum() == sum(np.bincount(got)[got])


def test_components_rejects_bad_indices():
    with pytest.raises(ValueError, match="edge_account"):
        components(3, np.array([3]), np.array([1]))


# -------------------------------------------------------------------------------- normalisation
def test_normalise_py_matches_duckdb():
    import ibis

    from stillwatch.guard.features.tables import normalise

    texts = ["Hello   World 123", "  Tabs\tand\nnewlines 4 5 ", "ÜBER straße 2026-03-01", "", "x"]
    t = ibis.memtable({"p": texts})
    con = ibis.duckdb.connect()
    got = con.execute(t.select(n=normalise(t.p)))["n"].tolist()
    assert got == [normalise_py(x) for x in texts]
    assert normalise_py("Hello   World 123") == "hello world 0"


def test_capability_patterns_match_intended_prompts():
    cases = {
        "reasoning": "Think step by step and show your work.",
        "coding": "Write a Python function to merge two lists.",
        "tool_use": "You may call the search tool; reply in JSON.",
        "grading": "Grade this answer using the rubric below.",
    }
    for name, text in cases.items():
        assert re.search(CAPABILITY_PATTERNS[name], normalise_py(text)), name
    assert not any(re.search(p, normalise_py("what's a good name for my cat?")) for p in CAPABILITY_PATTERNS.values())


def test_grading_pattern_takes_grade_as_a_verb_not_a_school_year():
    """A school grade is not a grading prompt; the pattern must agree in Python re and DuckDB's RE2."""
    judging = ["Grade this essay from 1 to 10.", "Please grade the following answer.", "grade each response",
               "Grade it out of 5.", "Score the reply using the rubric."]
    school = ["Create a 45-minute lesson plan for grade 5 on fractions.", "5th grade math worksheet on decimals",
              "what is the reading level of grade 7 students?", "ideas for a first grade science fair",
              "a grade-level vocabulary list"]
    pat = CAPABILITY_PATTERNS["grading"]
    texts = [normalise_py(t) for t in judging + school]
    want = [True] * len(judging) + [False] * len(school)
    assert [re.search(pat, t) is not None for t in texts] == want
    import ibis

    con = ibis.duckdb.connect()
    t = ibis.memtable({"p": texts})
    assert con.execute(t.select(m=t.p.re_search(pat)))["m"].tolist() == want


def test_streaming_sketch_equals_batch_sketch():
    from stillwatch.guard.features.minhash import _bands_and_fingerprints, prompt_rank, sketch_one

    texts = ["explain step by step how photosynthesis works in green plants", "hi", "", "ÜBER straße " * 40]
    keys, small, has = _bands_and_fingerprints(texts, MinHashConfig())
    rank = prompt_rank(keys)
    for i, t in enumerate(texts):
        k1, s1, h1, r1 = sketch_one(t)
        np.testing.assert_array_equal(k1, keys[i])
        np.testing.assert_array_equal(s1, small[i])
        assert h1 == has[i] and r1 == rank[i]
