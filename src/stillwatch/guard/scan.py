"""The batch scan: a log in, :class:`~stillwatch.guard.findings.Findings` out, on DuckDB or Spark.

Stages (each one vectorised; no Python loop per row):

1. **load** — a Parquet file is read by DuckDB directly, projecting only the columns the features
   need, and validated in SQL with the same malformed-row reasons as :mod:`.ingest`; JSONL files,
   Arrow tables and Parquet files DuckDB cannot read as typed go through :func:`.ingest.read_log`.
   The result is the *canonical* table: ``ts`` becomes ``ts_us`` (int64 UTC microseconds).
2. **near-duplicates** — distinct normalised prompts -> MinHash/LSH groups (:mod:`.minhash`).
3. **features** — the Ibis expressions of :mod:`.features`, materialised once per engine.
4. **detection** — account evidence, campaign clustering and scores (:mod:`.detect`).
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from stillwatch.errors import GuardError, InputError

from .detect import DetectConfig, detect
from .features import (
    FeatureConfig,
    account_features,
    cluster_minutes,
    distinct_prompts,
    key_edges,
    row_features,
    with_shared_flag,
)
from .findings import Findings
from .minhash import MinHashConfig, groups_from_sketches, sketches
from .rates import human_rate_per_hour

log = logging.getLogger(__name__)

ENGINES = ("duckdb", "spark")
#: Columns the features read (everything else in the log is left on disk).
NEEDED = ("request_id", "ts", "account_id", "ip", "user_agent", "payment_fingerprint", "prompt",
          "prompt_tokens", "completion_tokens")
_REQUIRED_STR = ("request_id", "account_id", "ip", "user_agent", "prompt")
_EDGE_KINDS = ("tpl_prefix", "tpl_suffix", "near_dup", "payment", "ip", "user_agent")


@dataclass(frozen=True)
class ScanConfig:
    """Scan settings: feature, MinHash and scoring parameters plus engine resources."""

    features: FeatureConfig = field(default_factory=FeatureConfig)
    minhash: MinHashConfig = field(default_factory=MinHashConfig)
    detect: DetectConfig = field(default_factory=DetectConfig)
    duckdb_memory_limit: str = "2000MB"
    duckdb_threads: int | None = None
    spark_master: str = "local[2]"
    spark_shuffle_partitions: int = 2

    def __post_init__(self) -> None:
        if self.duckdb_threads is not None and self.duckdb_threads < 1:
            raise ValueError(f"ScanConfig.duckdb_threads must be >= 1, got {self.duckdb_threads}")


class GuardInputError(InputError, GuardError):
    """A log cannot be scanned at all (e.g. an unknown engine or an unreadable file)."""


Progress = Callable[[str], None]


def _noop(_: str) -> None:
    pass


# --------------------------------------------------------------------------------------- loading
def _canonical_from_arrow(table: pa.Table) -> pa.Table:
    """LOG_SCHEMA table -> canonical columns (ts -> ts_us int64 microseconds)."""
    ts = table["ts"].cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
    cols = {c: table[c] for c in NEEDED if c != "ts"}
    cols["ts_us"] = ts
    return pa.table(cols)


def _parquet_sql(con, path: Path) -> tuple[str, dict[str, int], int] | None:
    """Validate a Parquet log in DuckDB. Returns (canonical SELECT, malformed, n_rows_read), or None
    when the file's column types need :mod:`.ingest`'s coercion."""
    src = f"read_parquet('{_sql_str(str(path))}')"
    try:
        desc = con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()
    except Exception as exc:  # noqa: BLE001 - DuckDB raises several types for unreadable files
        raise GuardInputError(f"cannot read Parquet log {path}: {exc}") from exc
    types = {r[0]: r[1].upper() for r in desc}
    want_str = {c for c in NEEDED if c not in ("ts", "prompt_tokens", "completion_tokens")}
    for c in NEEDED:
        if c not in types:
            if c == "payment_fingerprint":
                continue
            return None  # let ingest report missing columns row by row
        t = types[c]
        if c in want_str and t != "VARCHAR":
            return None
        if c == "ts" and not t.startswith("TIMESTAMP"):
            return None
        if c in ("prompt_tokens", "completion_tokens") and t not in ("BIGINT", "INTEGER", "SMALLINT", "TINYINT"):
            return None
    pay = "payment_fingerprint" if "payment_fingerprint" in types else "CAST(NULL AS VARCHAR)"
    tsx = "ts" if types["ts"].startswith("TIMESTAMP WITH TIME ZONE") else "timezone('UTC', ts)"
    reason = (
        "CASE "
        + " ".join(f"WHEN {c} IS NULL THEN 'missing_value:{c}' " for c in _REQUIRED_STR[:2])
        + " ".join(f"WHEN length({c}) = 0 THEN 'missing_value:{c}' " for c in _REQUIRED_STR[:2])
        + "WHEN ts IS NULL THEN 'missing_value:ts' "
        + " ".join(f"WHEN {c} IS NULL THEN 'missing_value:{c}' " for c in _REQUIRED_STR[2:])
        + " ".join(f"WHEN {c} IS NULL THEN 'missing_value:{c}' " for c in ("prompt_tokens", "completion_tokens"))
        + " ".join(f"WHEN {c} < 0 THEN 'negative_count:{c}' " for c in ("prompt_tokens", "completion_tokens"))
        + "ELSE NULL END"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW sw_raw AS SELECT request_id, account_id, epoch_us({tsx}) AS ts_us, ip, "
        f"user_agent, {pay} AS payment_fingerprint, prompt, prompt_tokens, completion_tokens, "
        f"{reason} AS _bad FROM {src}"
    )
    rows = con.execute("SELECT _bad, count(*) FROM sw_raw GROUP BY _bad").fetchall()
    n_read = sum(r[1] for r in rows)
    malformed = {r[0]: int(r[1]) for r in rows if r[0] is not None}
    n_valid = n_read - sum(malformed.values())
    n_ids = con.execute("SELECT count(DISTINCT request_id) FROM sw_raw WHERE _bad IS NULL").fetchone()[0]
    dedupe = ""
    if n_ids < n_valid:
        malformed["duplicate_request_id"] = int(n_valid - n_ids)
        dedupe = " QUALIFY row_number() OVER (PARTITION BY request_id ORDER BY ts_us, account_id) = 1"
    select = (
        "SELECT request_id, account_id, ts_us, ip, user_agent, payment_fingerprint, prompt, prompt_tokens, "
        f"completion_tokens FROM sw_raw WHERE _bad IS NULL{dedupe}"
    )
    return select, malformed, int(n_read)


def _sql_str(s: str) -> str:
    return s.replace("'", "''")


def _ingest(source) -> tuple[pa.Table, dict[str, int], int]:
    from .ingest import read_log

    res = read_log(source)
    return _canonical_from_arrow(res.table), dict(res.malformed), int(res.n_rows_read)


# ------------------------------------------------------------------------------------- engines
class _DuckEngine:
    name = "duckdb"

    def __init__(self, cfg: ScanConfig) -> None:
        import duckdb
        import ibis

        self._tmp = tempfile.TemporaryDirectory(prefix="stillwatch-scan-")
        self.raw = duckdb.connect()
        self.raw.execute(f"SET memory_limit='{cfg.duckdb_memory_limit}'")
        self.raw.execute(f"SET temp_directory='{_sql_str(self._tmp.name)}'")
        self.raw.execute("SET preserve_insertion_order=false")
        self.raw.execute("SET enable_progress_bar=false")
        if cfg.duckdb_threads:
            self.raw.execute(f"SET threads={int(cfg.duckdb_threads)}")
        self.ib = ibis.duckdb.from_connection(self.raw)

    def load(self, source) -> tuple[object, dict[str, int], int]:
        if isinstance(source, (str, Path)) and Path(source).suffix.lower() in (".parquet", ".pq", ".parq") \
                and Path(source).is_file():
            got = _parquet_sql(self.raw, Path(source))
            if got is not None:
                select, malformed, n_read = got
                self.raw.execute(f"CREATE OR REPLACE TEMP VIEW sw_canon AS {select}")
                return self.ib.table("sw_canon"), malformed, n_read
        table, malformed, n_read = _ingest(source)
        self.raw.register("sw_canon_arrow", table)
        return self.ib.table("sw_canon_arrow"), malformed, n_read

    def put(self, name: str, table: pa.Table):
        self.raw.register(name, table)
        return self.ib.table(name)

    def batches(self, expr, size: int):
        """Record batches of an expression's result (Ibis' own batch reader does not work with DuckDB 2)."""
        import ibis

        yield from self.raw.sql(ibis.to_sql(expr, dialect="duckdb")).to_arrow_reader(size)

    def materialise(self, name: str, expr):
        import ibis

        self.raw.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {ibis.to_sql(expr, dialect='duckdb')}")
        return self.ib.table(name)

    def close(self) -> None:
        self.raw.close()
        self._tmp.cleanup()


class _SparkEngine:
    name = "spark"

    def __init__(self, cfg: ScanConfig) -> None:
        try:
            import ibis
            from pyspark.sql import SparkSession
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise GuardInputError("engine 'spark' needs the 'spark' extra: pip install 'stillwatch[spark]'") from exc
        self.spark = (
            SparkSession.builder.master(cfg.spark_master)
            .appName("stillwatch-guard")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.sql.shuffle.partitions", str(cfg.spark_shuffle_partitions))
            .config("spark.default.parallelism", str(cfg.spark_shuffle_partitions))
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.driver.memory", "2g")
            .getOrCreate()
        )
        self.ib = ibis.pyspark.connect(self.spark)
        self._n = 0

    def load(self, source) -> tuple[object, dict[str, int], int]:
        table, malformed, n_read = _ingest(source)
        return self.put("sw_canon", table), malformed, n_read

    def put(self, name: str, table: pa.Table):
        self._n += 1
        view = f"{name}_{self._n}"
        if table.num_rows:
            df = self.spark.createDataFrame(table.to_pandas(types_mapper=None))
        else:
            from pyspark.sql.types import LongType, StringType, StructField, StructType

            kinds = {pa.int64(): LongType(), pa.string(): StringType()}
            df = self.spark.createDataFrame([], StructType([StructField(f.name, kinds.get(f.type, StringType()))
                                                            for f in table.schema]))
        df.createOrReplaceTempView(view)
        return self.ib.table(view)

    def batches(self, expr, size: int):
        yield from expr.to_pyarrow().to_batches(max_chunksize=size)

    def materialise(self, name: str, expr):
        import ibis

        self._n += 1
        view = f"{name}_{self._n}"
        self.spark.sql(ibis.to_sql(expr, dialect="pyspark")).cache().createOrReplaceTempView(view)
        return self.ib.table(view)

    def close(self) -> None:
        pass  # the session is shared and reused (starting Spark costs seconds)


def _engine(name: str, cfg: ScanConfig):
    if name not in ENGINES:
        raise GuardInputError(f"unknown engine {name!r}; expected one of {', '.join(ENGINES)}")
    return _DuckEngine(cfg) if name == "duckdb" else _SparkEngine(cfg)


# ---------------------------------------------------------------------------------------- scan
def scan(source, *, engine: str = "duckdb", config: ScanConfig | None = None,
         progress: Progress | None = None) -> Findings:
    """Scan a log (path to Parquet/JSONL, or a pyarrow Table) and return its findings.

    Malformed rows are counted by reason in ``Findings.malformed`` and left out; an empty log gives
    empty findings. Raises :class:`GuardInputError` for an unknown engine or an unreadable file.
    """
    cfg = config or ScanConfig()
    say = progress or _noop
    if isinstance(source, (str, Path)) and not Path(source).exists():
        raise GuardInputError(f"log file not found: {source}")
    eng = _engine(engine, cfg)
    try:
        return _scan(eng, source, cfg, say)
    finally:
        eng.close()


def _timed(say: Progress, what: str, t0: list[float]) -> None:
    now = time.perf_counter()
    log.info("%s (%.1fs)", what, now - t0[0])
    say(what)
    t0[0] = now


def _scan(eng, source, cfg: ScanConfig, say: Progress) -> Findings:
    t0 = [time.perf_counter()]
    canon, malformed, n_read = eng.load(source)
    _timed(say, "loaded", t0)
    # near-duplicate groups over distinct prompts
    # sketch the distinct prompts batch by batch: the texts are never all in memory at once
    dp_expr = distinct_prompts(canon, eng.name, cfg.minhash.max_bytes, cfg.features.min_template_len)
    parts = []
    for batch in eng.batches(dp_expr, 500_000):
        k, sm, h = sketches(batch.column("text"), cfg.minhash)
        parts.append((batch.column("prompt_h").to_numpy(zero_copy_only=False).astype(np.int64), k, sm, h))
    n_dp = sum(len(p[0]) for p in parts)
    _timed(say, f"{n_dp} distinct prompts sketched", t0)
    if n_dp:
        ph = np.concatenate([p[0] for p in parts])
        keys = np.concatenate([p[1] for p in parts])
        small = np.concatenate([p[2] for p in parts])
        has = np.concatenate([p[3] for p in parts])
        del parts
        groups = groups_from_sketches(keys, small, has, cfg.minhash)
        del keys, small, has
        gsize = np.bincount(groups, minlength=len(groups))[groups]
        keep = gsize >= 2
        nd = pa.table({"nd_prompt_h": ph[keep], "near_dup": ph[groups[keep]]})
        del groups, ph, gsize, keep
    else:
        nd = pa.table({"nd_prompt_h": pa.array([], pa.int64()), "near_dup": pa.array([], pa.int64())})
    _timed(say, f"near-duplicate groups ({nd.num_rows} prompts in groups)", t0)
    ndt = eng.put("sw_nd", nd)
    rows = row_features(canon, eng.name, cfg.features)
    rows = rows.left_join(ndt, rows.prompt_h == ndt.nd_prompt_h).drop("nd_prompt_h")
    rows = eng.materialise("sw_rows", rows)  # the regex/hash work happens once, here
    _timed(say, "row features", t0)
    acc = account_features(with_shared_flag(rows, cfg.features)).to_pyarrow()
    _timed(say, f"account features ({acc.num_rows} accounts)", t0)
    n_valid = int(np.sum(acc["n"].to_numpy(zero_copy_only=False))) if acc.num_rows else 0
    if acc.num_rows == 0:
        return Findings(accounts=(), campaigns=(), malformed=malformed, n_rows=n_valid, engine=eng.name,
                        human_rate_per_hour=human_rate_per_hour(cfg.features.rate))
    ids = acc["account_id"].to_numpy(zero_copy_only=False).astype(str)
    cols = {c: acc[c].to_numpy(zero_copy_only=False) for c in acc.column_names if c != "account_id"}
    edges = {}
    for kind in _EDGE_KINDS:
        e = key_edges(rows, kind).to_pyarrow()
        ea = np.searchsorted(ids, e["account_id"].to_numpy(zero_copy_only=False).astype(str))
        edges[kind] = (ea.astype(np.int64), e["key"].to_numpy(zero_copy_only=False).astype(np.int64),
                       e["key_cap"].to_numpy(zero_copy_only=False).astype(np.float64))
    _timed(say, "cross-account keys", t0)

    def minutes(labels: np.ndarray) -> np.ndarray:
        from .cluster import sizes as _sizes

        multi = _sizes(labels) >= 2
        if not multi.any():
            return np.zeros(len(labels))
        assign = pa.table({"account_id": ids[multi], "cluster": labels[multi].astype(np.int64)})
        at = eng.put("sw_assign", assign)
        cm = cluster_minutes(rows, at).to_pyarrow()
        per_label = np.zeros(len(labels))  # labels are account indices, so they index this array
        per_label[cm["cluster"].to_numpy(zero_copy_only=False)] = cm["cluster_minutes"].to_numpy(
            zero_copy_only=False).astype(np.float64)
        return per_label[labels]

    accounts, campaigns = detect(ids, cols, edges, minutes, cfg.detect)
    _timed(say, f"detection ({len(campaigns)} campaigns)", t0)
    return Findings(
        accounts=tuple(accounts),
        campaigns=tuple(campaigns),
        malformed=malformed,
        n_rows=n_valid,
        engine=eng.name,
        human_rate_per_hour=human_rate_per_hour(cfg.features.rate),
    )
