"""Baselines: each building block against a naive reference, and each method on hand-made logs
whose verdict follows from the paper's rule (so a broken rule makes these fail)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from stillwatch.guard_eval.baselines import run_baseline
from stillwatch.guard_eval.baselines.common import hashed_ngrams
from stillwatch.guard_eval.contract import NEVER
from stillwatch.guard_eval.baselines.prada import PradaConfig, checkpoints, min_distances, shapiro_w
from stillwatch.guard_eval.baselines.rate_limit import RateLimitConfig, trailing_counts
from stillwatch.guard_eval.baselines.seat import SeatConfig, similar_pairs_running
from stillwatch.guard_eval.baselines.synchrotrap import SynchroTrapConfig
from stillwatch.guard.log.ingest import read_log

T0 = 1_772_409_600_000_000
S = 1_000_000
H = 3600 * S


def make_log(rows):
    """rows: (account, ts_us, ip, prompt)."""
    return read_log(
        pa.table(
            {
                "request_id": [f"r{i}" for i in range(len(rows))],
                "ts": pa.array([r[1] for r in rows], type=pa.int64()),
                "account_id": [r[0] for r in rows],
                "api_key_id": ["k"] * len(rows),
                "ip": [r[2] for r in rows],
                "user_agent": ["ua"] * len(rows),
                "model": ["m"] * len(rows),
                "prompt": [r[3] for r in rows],
                "response": ["ok"] * len(rows),
                "prompt_tokens": [1] * len(rows),
                "completion_tokens": [1] * len(rows),
            }
        )
    ).table


def by_account(out):
    return {a: i for i, a in enumerate(out.account_id)}


# ------------------------------------------------------------------------ building blocks
@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 10_000)), min_size=1, max_size=60), st.integers(1, 3000))
def test_trailing_counts_matches_naive(events, window):
    events = sorted(events)
    acc = np.array([a for a, _ in events])
    ts = np.array([t for _, t in events], dtype=np.int64)
    got = trailing_counts(acc, ts, window)
    for i in range(len(events)):
        expected = sum(1 for j in range(i + 1) if acc[j] == acc[i] and ts[i] - window < ts[j] <= ts[i])
        assert got[i] == expected


def test_hashed_ngrams_cosines():
    m = hashed_ngrams(pa.array(["the cat sat", "The  cat sat", "quantum flux capacitor", "the cat sat down"]))
    g = (m @ m.T).toarray()
    assert g[0, 1] == pytest.approx(1.0, abs=1e-6)  # case and whitespace do not matter
    assert g[0, 2] == pytest.approx(0.0, abs=1e-6)
    # "the cat sat" vs "the cat sat down": 3 unigrams + 2 bigrams shared of 5 and 7 features
    assert g[0, 3] == pytest.approx(5 / np.sqrt(5 * 7), abs=1e-6)
    assert np.allclose(np.sqrt(m.multiply(m).sum(axis=1)).A.ravel(), 1.0, atol=1e-6)


def test_min_distances_and_pairs_match_naive():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 5))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    x[5] = x[2]  # an exact repeat
    d = min_distances(x)
    for j in range(1, 12):
        assert d[j - 1] == pytest.approx(min(np.linalg.norm(x[i] - x[j]) for i in range(j)), abs=1e-6)
    assert d[4] == pytest.approx(0.0, abs=1e-6)
    run = similar_pairs_running(x, 0.5)
    for j in range(12):
        expected = sum(1 for b in range(j + 1) for a in range(b) if x[a] @ x[b] >= 0.5 - 1e-6)
        assert run[j] == expected


def test_shapiro_and_checkpoints():
    v = np.random.default_rng(1).normal(size=50)
    assert shapiro_w(v) == pytest.approx(stats.shapiro(v).statistic)
    assert shapiro_w(np.zeros(30)) == 0.0
    assert checkpoints(20, 100) == [20, 30, 45, 67, 100]


# ------------------------------------------------------------------------ methods on hand-made logs
def test_rate_limit_flags_and_alarms_at_the_first_excess():
    rows = [("fast", T0 + i * 20 * S, "1.1.1.1", "hi") for i in range(130)]  # 130 in 43 min
    rows += [("slow", T0 + i * 60 * S, "2.2.2.2", "hi") for i in range(100)]  # 60/h
    out = run_baseline("rate_limit", make_log(rows), RateLimitConfig(per_hour=120, per_day=1000))
    i = by_account(out)
    assert out.flagged[i["fast"]] and not out.flagged[i["slow"]]
    assert out.alarm_us[i["fast"]] == T0 + 120 * 20 * S  # the 121st request
    assert out.alarm_us[i["slow"]] == NEVER
    assert out.score[i["fast"]] == pytest.approx(130 / 120)
    assert out.score[i["slow"]] == pytest.approx(60 / 120)  # a 1 h window holds at most 60 of them


def _words(rng, n, k=12, v=5000):
    vocab = [f"w{j}" for j in range(v)]
    return [" ".join(rng.choice(vocab, size=k)) for _ in range(n)]


def test_prada_separates_templated_from_diverse_queries():
    rng = np.random.default_rng(2)
    # benign: queries over one shared everyday vocabulary -> a spread of overlaps, near-normal d_min
    diverse = _words(rng, 60, v=100)
    # extraction-style: one scaffold, one slot changed -> tiny, near-constant minimum distances,
    # plus occasional fresh seeds: a far-from-normal distance distribution
    templated = [f"solve step by step problem number {int(n)} and show all work" for n in rng.integers(0, 10**6, 50)]
    templated += _words(rng, 10)
    rows = [("benign", T0 + i * 60 * S, "1.1.1.1", p) for i, p in enumerate(diverse)]
    rows += [("attacker", T0 + i * 60 * S, "2.2.2.2", p) for i, p in enumerate(templated)]
    rows += [("tiny", T0 + i * 60 * S, "3.3.3.3", p) for i, p in enumerate(diverse[:5])]
    out = run_baseline("prada", make_log(rows), PradaConfig(delta=0.9, min_queries=20))
    i = by_account(out)
    assert out.flagged[i["attacker"]] and not out.flagged[i["benign"]]
    assert out.score[i["attacker"]] > out.score[i["benign"]]
    assert out.score[i["tiny"]] == 0.0 and out.alarm_us[i["tiny"]] == NEVER  # too few queries to test


def test_seat_counts_similar_pairs_and_alarms_when_the_bound_is_reached():
    rng = np.random.default_rng(3)
    rows = [("same", T0 + i * 60 * S, "1.1.1.1", "please grade this answer using the rubric") for i in range(20)]
    rows += [("diverse", T0 + i * 60 * S, "2.2.2.2", p) for i, p in enumerate(_words(rng, 20))]
    out = run_baseline("seat", make_log(rows), SeatConfig(similarity=0.8, min_pairs=50))
    i = by_account(out)
    assert out.score[i["same"]] == 20 * 19 / 2 and out.flagged[i["same"]]
    assert out.score[i["diverse"]] == 0 and not out.flagged[i["diverse"]]
    assert out.alarm_us[i["same"]] == T0 + 10 * 60 * S  # after 11 queries: 55 >= 50 pairs


def test_synchrotrap_clusters_synchronised_accounts():
    rows = []
    for a in range(6):  # six accounts on one IP in the same four hours
        for h in range(4):
            rows.append((f"sync{a}", T0 + h * H + a * S, "9.9.9.9", "x"))
    for a in range(6):  # six accounts on their own IPs
        for h in range(4):
            rows.append((f"solo{a}", T0 + h * H + a * S, f"10.0.0.{a}", "x"))
    # two accounts matching in only one hour of four each: Jaccard 1 / (4 + 4 - 1)
    for h in range(4):
        rows.append(("half0", T0 + (10 + h) * H, "8.8.8.8" if h == 0 else "7.7.7.1", "x"))
        rows.append(("half1", T0 + (10 + h) * H, "8.8.8.8" if h == 0 else "7.7.7.2", "x"))
    out = run_baseline("synchrotrap", make_log(rows), SynchroTrapConfig(threshold=0.5, min_matched=1, min_cluster=5))
    i = by_account(out)
    sync = [i[f"sync{a}"] for a in range(6)]
    assert all(out.flagged[s] for s in sync) and len({out.cluster[s] for s in sync}) == 1
    assert not any(out.flagged[i[f"solo{a}"]] for a in range(6))
    assert out.score[sync[0]] == pytest.approx(1.0)
    assert out.score[i["half0"]] == pytest.approx(1 / 7)
    assert out.cluster[i["solo0"]] is None
    # the daily job first sees the cluster at the end of day one
    assert out.alarm_us[sync[0]] == T0 + 24 * H
