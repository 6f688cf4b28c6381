"""Engine parity: the same Ibis feature definitions on Apache Spark (local mode) and DuckDB.

Tolerances: every account signal within 1e-9 (absolute) and the same flags and campaigns. Spark
hashes with ``xxhash64`` and DuckDB with its own ``hash``; the features exported are counts,
shares and statistics that do not depend on hash values, so they agree exactly up to float
summation order (64-bit hashes make a collision among the fixture's few thousand keys negligible).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _fixtures_pipeline import make_log  # noqa: E402

from stillwatch.guard.batch.scan import scan  # noqa: E402

pytestmark = pytest.mark.spark


def _require_spark() -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        pytest.skip("pyspark is not installed (install the 'spark' extra)")
    if shutil.which("java") is None:
        pytest.skip("no Java runtime on PATH: Spark local mode needs Java 17")


def test_spark_and_duckdb_agree():
    _require_spark()
    table, labels = make_log(seed=11, n_human=15, camp_a=6, camp_b=5)
    duck = scan(table, engine="duckdb")
    spark = scan(table, engine="spark")
    assert spark.engine == "spark" and duck.engine == "duckdb"
    assert spark.n_rows == duck.n_rows == table.num_rows
    d = {a.account_id: a for a in duck.accounts}
    s = {a.account_id: a for a in spark.accounts}
    assert set(d) == set(s) == set(labels)
    for k in d:
        assert s[k].flagged == d[k].flagged, k
        assert s[k].campaign_id == d[k].campaign_id, k
        assert s[k].score == pytest.approx(d[k].score, abs=1e-9), k
        for name, value in d[k].signals.items():
            assert s[k].signals[name] == pytest.approx(value, abs=1e-9), (k, name)
    assert sorted(c.accounts for c in spark.campaigns) == sorted(c.accounts for c in duck.campaigns)
    # and both find the planted campaigns
    assert {a.account_id for a in spark.flagged} == {a for a, c in labels.items() if c}


def test_sample_key_same_on_spark_as_in_python():
    _require_spark()
    import ibis
    import pyarrow as pa

    from stillwatch.guard.features.tables import sample_key, sample_key_py
    from stillwatch.guard.batch.scan import ScanConfig, _SparkEngine

    ids = ["r0000001", "r0000002", "", "ÜBER-straße-7", "x" * 300]
    eng = _SparkEngine(ScanConfig())
    t = eng.put("sk", pa.table({"rid": ids}))
    got = t.select(k=sample_key(t.rid, "spark")).to_pyarrow()["k"].to_pylist()
    assert got == [sample_key_py(x) for x in ids]
    assert ibis.duckdb.connect().execute(ibis.memtable({"rid": ids}).select(
        k=sample_key(ibis._.rid, "duckdb")))["k"].tolist() == got
