"""The two-tier features: exact columns over all rows, text columns from each account's bottom-K
sample. Expected values are computed here from the raw log in plain Python (hashlib, re, sorting),
independently of the Ibis definitions; the streaming scorer must reproduce the batch's sample."""

from __future__ import annotations

import hashlib
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _fixtures_pipeline import make_log  # noqa: E402

from stillwatch.guard.features.tables import CAPABILITY_PATTERNS, FeatureConfig, sample_key_py  # noqa: E402
from stillwatch.guard.batch.scan import ScanConfig, feature_tables  # noqa: E402
from stillwatch.guard.live.stream import StreamConfig, StreamingScorer  # noqa: E402
from stillwatch.guard.live.tables import account_tables  # noqa: E402

K = 8  # small, so that most fixture accounts are sampled (n > K)


def _norm(p: str) -> str:  # the documented normalisation, written out again
    return re.sub(r"[\t\n\f\r ]+", " ", re.sub(r"[0-9]+", "0", p.lower())).strip(" \t\n\r\x0b\x0c")


def _key(rid: str) -> int:
    return int.from_bytes(hashlib.md5(rid.encode()).digest()[:8], "little") % 2**60


@pytest.fixture(scope="module")
def log():
    table, _ = make_log(seed=7, n_human=25, camp_a=8, camp_b=6)
    return table


@pytest.fixture(scope="module")
def batch(log):
    cfg = ScanConfig(features=FeatureConfig(sample_k=K))
    return feature_tables(log, config=cfg, near_duplicates=False)


def test_sample_key_same_in_python_and_duckdb():
    import ibis

    from stillwatch.guard.features.tables import sample_key

    ids = ["r0000001", "r0000002", "", "ÜBER-straße-7", "x" * 300]
    t = ibis.memtable({"rid": ids})
    got = ibis.duckdb.connect().execute(t.select(k=sample_key(t.rid, "duckdb")))["k"].tolist()
    assert got == [_key(x) for x in ids] == [sample_key_py(x) for x in ids]
    assert all(0 <= k < 2**60 for k in got)


def test_exact_columns_over_all_rows(log, batch):
    rows = log.to_pylist()
    by = defaultdict(list)
    for r in rows:
        by[r["account_id"]].append(r)
    assert list(batch.ids) == sorted(by)
    for i, acct in enumerate(batch.ids):
        rs = by[acct]
        ts = sorted(int(r["ts"].timestamp() * 1_000_000) for r in rs)
        gaps = np.diff(ts).astype(float)
        assert batch.cols["n"][i] == len(rs)
        assert batch.cols["first_us"][i] == ts[0] and batch.cols["last_us"][i] == ts[-1]
        assert batch.cols["active_minutes"][i] == len({t // 60_000_000 for t in ts})
        assert batch.cols["active_hours"][i] == len({t // 3_600_000_000 for t in ts})
        assert batch.cols["gap_n"][i] == len(gaps)
        if len(gaps):
            assert batch.cols["gap_mean"][i] == pytest.approx(gaps.mean(), rel=1e-12)
            assert batch.cols["gap_std"][i] == pytest.approx(gaps.std(), rel=1e-9, abs=1e-6)
        assert batch.cols["n_ip"][i] == len({r["ip"] for r in rs})
        assert batch.cols["n_payment"][i] == len({r["payment_fingerprint"] for r in rs if r["payment_fingerprint"]})


def test_text_columns_estimated_from_the_bottom_k_sample(log, batch):
    rows = log.to_pylist()
    by = defaultdict(list)
    for r in rows:
        by[r["account_id"]].append(r)
    sample = {a: sorted(rs, key=lambda r: _key(r["request_id"]))[:K] for a, rs in by.items()}
    caps = [re.compile(p) for p in CAPABILITY_PATTERNS.values()]
    # shared templates over the union of samples: >= 3 accounts and >= 3 distinct prompts
    fc = FeatureConfig()
    users, prompts = defaultdict(set), defaultdict(set)
    for a, rs in sample.items():
        for r in rs:
            n = _norm(r["prompt"])
            if len(n) >= fc.min_template_len:
                for kk in (("p", n[:32]), ("s", n[-32:])):
                    users[kk].add(a)
                    prompts[kk].add(n)
    shared_keys = {kk for kk in users if len(users[kk]) >= 3 and len(prompts[kk]) >= 3}
    n_sampled = 0
    for i, acct in enumerate(batch.ids):
        rs, s = by[acct], sample[acct]
        m = len(s)
        n_sampled += len(rs) > K
        norms = [_norm(r["prompt"]) for r in s]
        cap_any = sum(any(c.search(x) for c in caps) for x in norms)
        shared = sum(len(x) >= 40 and (("p", x[:32]) in shared_keys or ("s", x[-32:]) in shared_keys) for x in norms)
        assert batch.cols["sampled_rows"][i] == m == min(len(rs), K)
        assert batch.cols["cap_any"][i] == pytest.approx(len(rs) * cap_any / m, rel=1e-12)
        assert batch.cols["shared_rows"][i] == pytest.approx(len(rs) * shared / m, rel=1e-12), acct
        # the sample's estimate, capped by the exact count of distinct prompts as sent
        sent = len({r["prompt"] for r in rs})
        assert batch.cols["n_prompts"][i] == pytest.approx(min(len(rs) * len(set(norms)) / m, sent), rel=1e-12)
    assert n_sampled >= 20  # the fixture really exercises sampling


def test_infrastructure_edges_exact_and_content_edges_estimated(log, batch):
    rows = log.to_pylist()
    ids = list(batch.ids)
    n = {a: 0 for a in ids}
    ip_rows = defaultdict(lambda: defaultdict(int))
    for r in rows:
        n[r["account_id"]] += 1
        ip_rows[r["ip"]][r["account_id"]] += 1
    want = sorted((ids.index(a), c) for users in ip_rows.values() if len(users) >= 2 for a, c in users.items())
    ea, _, kcap, cnt, kprompts = batch.edges["ip"]
    assert sorted(zip(ea.tolist(), cnt.astype(int).tolist())) == want
    assert np.all((kcap >= 0) & (kcap <= 1)) and np.all(kprompts >= 0)
    ea, ek, kcap, cnt, _ = batch.edges["tpl_prefix"]
    m = batch.cols["sampled_rows"]
    # estimated counts are multiples of n/m and never exceed the account's rows
    k_s = cnt * m[ea] / batch.cols["n"][ea]
    np.testing.assert_allclose(k_s, np.round(k_s), atol=1e-9)
    assert np.all(cnt <= batch.cols["n"][ea] + 1e-9) and len(ea) > 0


def test_parquet_path_equals_arrow_path(log, tmp_path, batch):
    p = tmp_path / "log.parquet"
    pq.write_table(log, p)
    got = feature_tables(p, config=ScanConfig(features=FeatureConfig(sample_k=K)), near_duplicates=False)
    assert list(got.ids) == list(batch.ids)
    for c, v in batch.cols.items():
        np.testing.assert_allclose(np.asarray(got.cols[c], float), np.asarray(v, float), rtol=1e-12, err_msg=c)


def test_stream_keeps_the_batch_sample(log):
    fc = FeatureConfig(sample_k=K)
    full = feature_tables(log, config=ScanConfig(features=fc))  # with near-duplicates
    scorer = StreamingScorer(StreamConfig(features=fc))
    for r in log.sort_by([("ts", "ascending"), ("request_id", "ascending")]).to_pylist():
        scorer.observe(r)
    ids, acc, edges = account_tables(scorer._acc, scorer.cfg)
    assert list(ids) == list(full.ids)
    for c in ("n", "sampled_rows", "shared_rows", "cap_any", "n_prompts", "n_templates", "demand_s",
              *[f"cap_{k}" for k in CAPABILITY_PATTERNS]):
        np.testing.assert_allclose(acc[c], np.asarray(full.cols[c], float), rtol=1e-9, err_msg=c)
    for kind in ("tpl_prefix", "tpl_suffix", "near_dup"):  # same edges up to the key's hash values
        b = sorted(zip(full.edges[kind][0].tolist(), np.round(full.edges[kind][3], 9).tolist(),
                       np.round(full.edges[kind][2], 9).tolist(), full.edges[kind][4].tolist()))
        s = sorted(zip(edges[kind][0].tolist(), np.round(edges[kind][3], 9).tolist(),
                       np.round(edges[kind][2], 9).tolist(), edges[kind][4].tolist()))
        assert b == s, kind
    assert len(full.edges["near_dup"][0]) > 0


def test_candidate_shortfall_falls_back_to_all_rows(log, batch, monkeypatch):
    import stillwatch.guard.features.tables as features

    # a margin far too small: almost every account's candidates fall short of min(n, K)
    monkeypatch.setattr(features, "sample_margin", lambda k: 0.5)
    got = feature_tables(log, config=ScanConfig(features=FeatureConfig(sample_k=K)), near_duplicates=False)
    for c in ("sampled_rows", "cap_any", "shared_rows", "n_prompts"):
        np.testing.assert_allclose(np.asarray(got.cols[c], float), np.asarray(batch.cols[c], float), rtol=1e-12, err_msg=c)
