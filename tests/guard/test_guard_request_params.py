"""The request parameters a richer log records (``temperature``, ``max_tokens``, ``system_prompt_hash``) as an
infrastructure kind, ``params`` (features/tables.py ``params_key``): which rows share a configuration (against a
reference written here with :mod:`decimal`, on every reading path and on Spark), that a log without the columns has
no such kind, and that a campaign on an uncommon configuration shows it in ``shared_infrastructure`` by the share
beyond chance of ``score/infra_null.py`` — while a configuration most of the log uses shows nothing.

Attacker played: an operator whose accounts spread over the public's browsers, addresses and cards, but whose
harvesting script sends every request with its own sampling settings and system prompt."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from stillwatch.guard.batch.loading import parquet_sql
from stillwatch.guard.batch.scan import ScanConfig, _DuckEngine, feature_tables, scan
from stillwatch.guard.features.tables import FeatureConfig

from _fixtures_pipeline import make_log

# (temperature, max_tokens, system_prompt_hash) per row; the first rows probe rounding to thousandths
PARAMS = [
    (0.7, 2048, "sp-a"), (0.6996, 2048, "sp-a"), (0.7004, 2048, "sp-a"), (0.7006, 2048, "sp-a"),
    (0.6000000000000001, None, None), (0.6, None, None), (0, None, None), (None, None, None),
    (None, 0, None), (None, None, "sp-a"), (None, None, ""), (1, 2048, "sp-a"), (1.0, 2048, "sp-a"),
    (-0.5, 2048, "sp-a"), (float("nan"), 2048, "sp-a"), (None, -3, "sp-b"), (5e300, 1, "x"), (5e300, 1, "x"),
    (None, None, "sp-b"),
]


def _log(params) -> pa.Table:
    """One row per parameter triple, each from its own account, on one browser user agent."""
    t0 = 1_772_400_000_000_000
    n = len(params)
    temp, mt, sph = zip(*params)
    cols = {
        "request_id": [f"r{i}" for i in range(n)], "ts": pa.array([t0 + i * 1_000_000 for i in range(n)], pa.int64())
        .cast(pa.timestamp("us", tz="UTC")), "account_id": [f"a{i}" for i in range(n)], "api_key_id": ["k"] * n,
        "ip": [f"10.0.0.{i}" for i in range(n)], "user_agent": ["Mozilla/5.0 Firefox"] * n,
        "payment_fingerprint": pa.array([None] * n, pa.string()), "model": ["m"] * n, "prompt": ["hello there"] * n, "response": ["hi"] * n,
        "prompt_tokens": [2] * n, "completion_tokens": [1] * n,
        "temperature": pa.array(temp, pa.float64()), "max_tokens": pa.array(mt, pa.int64()),
        "system_prompt_hash": pa.array(sph, pa.string()),
    }
    return pa.table(cols)


def _reference(params) -> list[tuple[int, ...]]:
    """Rows grouped by configuration, read as ingest reads the values (negative or non-finite temperature,
    negative max_tokens: unknown) and temperature rounded half up to thousandths of its exact decimal value;
    rows recording none of the three are in no group."""
    keys = {}
    for i, (t, m, s) in enumerate(params):
        t = None if t is None or not math.isfinite(t) or t < 0 else t
        m = None if m is None or m < 0 else m
        if t is None and m is None and s is None:
            continue
        milli = None if t is None else int((Decimal(min(t, 1e9)) * 1000).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        keys.setdefault((milli, m, s), []).append(i)
    return sorted(tuple(v) for v in keys.values())


def _partition(values: list) -> list[tuple[int, ...]]:
    groups = {}
    for i, v in enumerate(values):
        if v is not None:
            groups.setdefault(v, []).append(i)
    return sorted(tuple(g) for g in groups.values())


def _params_column(eng, source) -> list:
    """Each row's ``params`` key as the engine's loading path (``eng.load``) gives it, in the rows' order."""
    _, keys, _, _ = eng.load(source, FeatureConfig())
    t = keys.select("rid_h", "params").to_pyarrow()
    order = {h: i for i, h in enumerate(_rid_hashes(eng, len(PARAMS)))}
    out = [None] * len(PARAMS)
    for h, p in zip(t["rid_h"].to_pylist(), t["params"].to_pylist()):
        out[order[h]] = p
    return out


def _rid_hashes(eng, n) -> list[int]:
    from stillwatch.guard.features.tables import hash64

    ids = eng.put("ids", pa.table({"request_id": [f"r{i}" for i in range(n)]}))
    return ids.select(h=hash64(ids.request_id, eng.name)).to_pyarrow()["h"].to_pylist()


def test_reference_groups_what_it_should():
    """The reference itself, on the rows whose grouping is known by hand."""
    ref = _reference(PARAMS)
    assert (0, 1, 2, 11, 12) not in ref  # 0.7006 rounds to 701, and 1 / 1.0 differ from 0.7
    assert (0, 1, 2) in ref and (4, 5) in ref and (11, 12) in ref and (16, 17) in ref
    assert (3,) in ref and (9,) in ref and (10,) in ref and (8,) in ref and (6,) in ref
    assert (13, 14) in ref  # an unreadable temperature is unknown: the two rows then share (~, 2048, sp-a)
    assert (15, 18) in ref  # ... and so is a negative max_tokens
    assert all(7 not in g for g in ref)  # nothing recorded: no configuration


@pytest.mark.parametrize("path", ["arrow", "parquet"])
def test_duckdb_groups_rows_as_the_reference(tmp_path, path):
    t = _log(PARAMS)
    if path == "parquet":
        import duckdb

        pq.write_table(t, tmp_path / "log.parquet")
        source = tmp_path / "log.parquet"
        assert parquet_sql(duckdb.connect(), source) is not None  # read by the SQL pass, not through ingest
    else:
        source = t
    eng = _DuckEngine(ScanConfig())
    try:
        got = _partition(_params_column(eng, source))
    finally:
        eng.close()
    assert got == _reference(PARAMS)


def test_spark_groups_rows_as_the_reference():
    pytest.importorskip("pyspark")
    from stillwatch.guard.batch.scan import _SparkEngine

    eng = _SparkEngine(ScanConfig())
    try:
        got = _partition(_params_column(eng, _log(PARAMS)))
    finally:
        eng.close()
    assert got == _reference(PARAMS)


def test_a_log_without_the_columns_has_no_params_kind():
    log, _ = make_log(seed=3, n_human=10, camp_a=4, camp_b=3)
    assert "params" not in feature_tables(log).edges
    assert "params" in feature_tables(_with_params(log, {})).edges


def _with_params(log: pa.Table, by_account: dict[str, tuple]) -> pa.Table:
    """``log`` with the three parameter columns: ``by_account``'s triple for its accounts, the API's defaults
    (temperature 1.0, nothing else set) for every other account."""
    acc = log["account_id"].to_pylist()
    trip = [by_account.get(a, (1.0, None, None)) for a in acc]
    temp, mt, sph = zip(*trip)
    return (log.append_column("temperature", pa.array(temp, pa.float64()))
            .append_column("max_tokens", pa.array(mt, pa.int64()))
            .append_column("system_prompt_hash", pa.array(sph, pa.string())))


def _campaign_b_on_browsers() -> tuple[pa.Table, list[str], int]:
    """The pipeline log with campaign B (ten accounts of paraphrased coding templates on random addresses,
    no card) moved onto the people's two browsers, each row drawing one as people's rows do: its user agent is
    then no evidence. Returns (log, campaign B's accounts, accounts in the log)."""
    log, labels = make_log(seed=5, n_human=60, camp_a=12, camp_b=10)
    acc = np.array(log["account_id"].to_pylist())
    ua = np.array(log["user_agent"].to_pylist(), dtype=object)
    rng = np.random.default_rng(0)
    b = np.char.startswith(acc.astype(str), "camp-b-")
    ua[b] = rng.choice(["Mozilla/5.0 Firefox", "Mozilla/5.0 Chrome"], int(b.sum()))
    log = log.set_column(log.schema.get_field_index("user_agent"), "user_agent", pa.array(ua.tolist(), pa.string()))
    members = sorted(a for a, c in labels.items() if c == "B")
    return log, members, len(set(acc.tolist()))


def _campaign_of(findings, members):
    found = [c for c in findings.campaigns if set(members) & set(c.accounts)]
    assert len(found) == 1, [c.accounts for c in found]
    return found[0]


def test_a_campaign_on_its_own_configuration_shows_it_beyond_chance():
    """Eight of campaign B's ten accounts send the script's configuration (temperature 0, max_tokens 1536, its
    system prompt), used by no one else; two keep the defaults. Without the columns the campaign shares nothing
    beyond chance; with them, shared_infrastructure is the user agent's weight (0.5) times the share beyond chance
    on that value: (m - E) / (k - E) with m = 8 of k = 10 members, E = k U / A, U = 8 accounts on it of A."""
    from scipy.stats import hypergeom

    log, members, n_accounts = _campaign_b_on_browsers()
    script = {a: (0.0, 1536, "sp-harvest") for a in members[:8]}
    plain = _campaign_of(scan(log), members)
    rich = _campaign_of(scan(_with_params(log, script)), members)
    assert plain.accounts == rich.accounts and len(rich.accounts) == 10
    assert plain.signals["shared_infrastructure"] == 0.0
    k, m, u = 10, 8, 8
    assert hypergeom.sf(m - 1, n_accounts, u, k) < 1e-9  # significant whatever the correction here
    e = k * u / n_accounts
    assert rich.signals["shared_infrastructure"] == pytest.approx(0.5 * (m - e) / (k - e), abs=1e-12)


def test_a_configuration_most_of_the_log_uses_is_no_evidence():
    """The same campaign on the defaults most accounts send (temperature 1.0), as a careful operator would send
    them: nothing beyond chance, as without the columns."""
    log, members, _ = _campaign_b_on_browsers()
    rich = _campaign_of(scan(_with_params(log, {})), members)
    assert rich.signals["shared_infrastructure"] == 0.0


# ------------------------------------------------------------------ the streaming scorer (guard/live/stream.py)
def test_the_streaming_key_groups_rows_as_the_reference_with_the_batchs_text():
    """The live path keys each row itself (``params_key_py`` on the row as a mapping, values unvalidated: the scorer
    reads them as ingest would): the reference's groups, and row for row the very text the batch's ``params_key``
    builds on DuckDB from the columns as ingest leaves them."""
    import ibis

    from stillwatch.guard.features.keytext import params_key, params_key_py

    rows = _log(PARAMS).to_pylist()
    live = [params_key_py(r) for r in rows]
    assert _partition(live) == _reference(PARAMS)
    temp = [None if t is None or not math.isfinite(t) or t < 0 else t for t, _, _ in PARAMS]
    mt = [None if m is None or m < 0 else m for _, m, _ in PARAMS]
    valid = pa.table({"temperature": pa.array(temp, pa.float64()), "max_tokens": pa.array(mt, pa.int64()),
                      "system_prompt_hash": pa.array([s for _, _, s in PARAMS], pa.string())})
    t = ibis.memtable(valid)
    batch = ibis.duckdb.connect().to_pyarrow(t.select(k=params_key(t)))["k"].to_pylist()
    assert live == batch
    assert live[0] == "=700|=2048|=sp-a" and live[7] is None and live[10] == "~|~|="


def test_the_streaming_key_reads_python_values_as_ingest_reads_a_log():
    """A row's values as a gateway or a JSON line gives them: a whole-number temperature is the same setting as the
    float; a whole float max_tokens the integer; a value ingest would refuse (a string or a boolean temperature, a
    negative or infinite one, a fractional or negative max_tokens, a hash that is not valid Unicode) is unknown;
    a row with nothing readable has no configuration; a missing field is unknown, as a missing column is."""
    from stillwatch.guard.features.keytext import params_key_py

    base = {"temperature": 0.7, "max_tokens": 2048, "system_prompt_hash": "sp-a"}
    assert params_key_py(base) == "=700|=2048|=sp-a"
    whole = params_key_py({**base, "temperature": 1})
    assert whole == params_key_py({**base, "temperature": 1.0}) == "=1000|=2048|=sp-a"
    assert params_key_py({**base, "max_tokens": 2048.0}) == "=700|=2048|=sp-a"
    for bad in (True, "0.7", float("inf"), float("nan"), -0.1):
        assert params_key_py({**base, "temperature": bad}) == "~|=2048|=sp-a", bad
    for bad in (2048.5, -1, True, "2048", 2**63, float("inf")):
        assert params_key_py({**base, "max_tokens": bad}) == "=700|~|=sp-a", bad
    for bad in ("\ud800", 7, b"sp-a"):
        assert params_key_py({**base, "system_prompt_hash": bad}) == "=700|=2048|~", bad
    assert params_key_py({"temperature": 0.25}) == "=250|~|~"
    assert params_key_py({}) is None and params_key_py({"temperature": -1.0, "max_tokens": None}) is None


def _stream(table: pa.Table, monkeypatch):
    """Stream ``table``'s rows in time order; returns (scorer, the edges its final verdicts were scored on)."""
    import stillwatch.guard.live.stream as stream

    seen = {}
    real = stream.detect

    def spy(ids, acc, edges, cfg):
        seen["edges"] = edges
        return real(ids, acc, edges, cfg)

    monkeypatch.setattr(stream, "detect", spy)
    scorer = stream.StreamingScorer()
    for r in table.sort_by([("ts", "ascending"), ("request_id", "ascending")]).to_pylist():
        scorer.observe(r)
    scorer.verdicts()
    return scorer, seen["edges"]


def test_a_stream_has_the_params_kind_where_its_rows_carry_the_fields(monkeypatch):
    log, _ = make_log(seed=3, n_human=10, camp_a=4, camp_b=3)
    assert "params" not in _stream(log, monkeypatch)[1]
    assert "params" in _stream(_with_params(log, {}), monkeypatch)[1]


def test_the_streaming_scorer_shows_a_campaigns_configuration_as_the_batch(monkeypatch):
    """The batch test above, streamed: the final verdicts' campaigns are the batch's, and campaign B's
    shared_infrastructure is the same share beyond chance on its script's configuration (eight of its ten
    accounts, no one else): the live path no longer drops what the richer log says."""
    log, members, n_accounts = _campaign_b_on_browsers()
    rich = _with_params(log, {a: (0.0, 1536, "sp-harvest") for a in members[:8]})
    scorer, edges = _stream(rich, monkeypatch)
    batch = scan(rich)
    assert sorted(c.accounts for c in scorer.campaigns) == sorted(c.accounts for c in batch.campaigns)
    live = _campaign_of(scorer, members)
    k, m, u = 10, 8, 8
    e = k * u / n_accounts
    assert live.signals["shared_infrastructure"] == pytest.approx(0.5 * (m - e) / (k - e), abs=1e-12)
    # configurations two or more accounts share: the script's, and the API's defaults everyone else sends
    assert len(set(edges["params"][1].tolist())) == 2
