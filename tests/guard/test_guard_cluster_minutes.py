"""Distinct active minutes per cluster (the minute-crowding explanation), now computed in numpy from the
(account, minute) rows the scan already holds: checked against a naive reference with Python sets."""

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from stillwatch.guard.score.timing import cluster_minutes

sys.path.insert(0, str(Path(__file__).parent))
from _fixtures_pipeline import make_log  # noqa: E402


def _naive(labels, ea, minute):
    members = {}
    for i, lab in enumerate(labels):
        members.setdefault(int(lab), []).append(i)
    per = {}
    for a, m in zip(ea, minute):
        per.setdefault(int(labels[a]), set()).add(int(m))
    return np.array([float(len(per.get(int(lab), ()))) if len(members[int(lab)]) >= 2 else 0.0 for lab in labels])


def _labels(rng, a):
    """Labels that are account indices: each account points at its cluster's first member."""
    group = rng.integers(0, max(1, a // 2), size=a)
    first = {}
    for i, g in enumerate(group):
        first.setdefault(int(g), i)
    return np.array([first[int(g)] for g in group], np.int64)


def test_known_answer():
    labels = np.array([0, 0, 2, 2, 4])  # clusters {0, 1}, {2, 3}, {4} alone
    ea = np.array([0, 0, 1, 1, 2, 3, 4, 4])
    minute = np.array([5, 6, 6, 7, 100, 100, 1, 2])  # duplicates across members count once
    np.testing.assert_array_equal(cluster_minutes(labels, ea, minute), [3.0, 3.0, 1.0, 1.0, 0.0])


def test_empty_inputs():
    assert cluster_minutes(np.array([], np.int64), np.array([], np.int64), np.array([], np.int64)).shape == (0,)
    np.testing.assert_array_equal(cluster_minutes(np.array([0, 0]), np.array([], np.int64), np.array([], np.int64)),
                                  [0.0, 0.0])


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40), st.integers(0, 300), st.integers(0, 2**31))
def test_matches_naive_reference(a, rows, seed):
    rng = np.random.default_rng(seed)
    labels = _labels(rng, a)
    ea = rng.integers(0, a, size=rows)
    minute = rng.integers(-50, 50, size=rows) + 29_000_000  # minutes since the epoch, negative offsets too
    np.testing.assert_array_equal(cluster_minutes(labels, ea, minute), _naive(labels, ea, minute))


def test_inputs_not_mutated():
    rng = np.random.default_rng(3)
    labels = _labels(rng, 20)
    ea, minute = rng.integers(0, 20, 100), rng.integers(0, 9, 100)
    copies = labels.copy(), ea.copy(), minute.copy()
    cluster_minutes(labels, ea, minute)
    for x, y in zip((labels, ea, minute), copies):
        np.testing.assert_array_equal(x, y)


def test_scan_measures_cluster_minutes_after_releasing_the_engine(monkeypatch):
    """The scan lets DuckDB go before detection (nothing there reads its tables), and the minutes it hands to
    ``verdicts`` are each cluster's distinct active minutes counted straight from the log's rows."""
    from stillwatch.guard.batch import scan as scan_mod

    made, seen = [], {}
    real_engine, real_step, real_verdicts = scan_mod._engine, scan_mod.account_step, scan_mod.verdicts

    def engine_spy(name, cfg):
        made.append(real_engine(name, cfg))
        return made[-1]

    def step_spy(cols, edges, cfg):
        seen["released_before_detection"] = made[0].raw is None
        return real_step(cols, edges, cfg)

    def verdicts_spy(ids, cols, edges, acct, lk, cfg, minutes=None):
        seen.update(ids=ids, labels=lk.labels, minutes=minutes)
        return real_verdicts(ids, cols, edges, acct, lk, cfg, minutes)

    monkeypatch.setattr(scan_mod, "_engine", engine_spy)
    monkeypatch.setattr(scan_mod, "account_step", step_spy)
    monkeypatch.setattr(scan_mod, "verdicts", verdicts_spy)
    table, _ = make_log(seed=3, n_human=30, camp_a=8, camp_b=6)
    scan_mod.scan(table)
    assert seen["released_before_detection"] is True
    index = {a: i for i, a in enumerate(seen["ids"])}
    acc = np.array([index[a] for a in table.column("account_id").to_pylist()])
    minute = table.column("ts").cast(pa.int64()).to_numpy() // 60_000_000  # microseconds since the epoch
    expected = _naive(seen["labels"], acc, minute)
    assert (expected > 0).any()  # the fixture's campaigns form clusters
    np.testing.assert_array_equal(seen["minutes"], expected)
