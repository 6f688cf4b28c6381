"""The batch scan: a log in, :class:`~stillwatch.guard.score.findings.Findings` out, on DuckDB or Spark.

Stages (each one vectorised; no Python loop per row; the text is read for sampled rows only):

1. **keys** — one pass over the log builds a narrow table of cheap per-row columns (int64 hashes of
   the request id and the infrastructure columns, the sampling key, ``ts_us``, the human seconds
   the answer demands; :func:`~stillwatch.guard.features.tables.row_keys`). A Parquet file is read by DuckDB directly with
   projection pushdown and validated in the same pass, with the same malformed-row reasons as
   :mod:`~stillwatch.guard.log.ingest`; JSONL files, Arrow tables and Parquet files DuckDB cannot read as typed go
   through :func:`~stillwatch.guard.log.ingest.read_log`.
2. **exact tier** — per-account volume and timing (one sort by time) and the infrastructure keys
   (one aggregation for the three kinds), over all rows.
3. **sampled tier** — each account's bottom-K rows by sampling key; their prompts are normalised,
   fingerprinted and matched against the capability patterns; the distinct sampled prompts are
   sketched with MinHash/LSH (:mod:`~stillwatch.guard.features.minhash`) into near-duplicate groups; shares are estimated
   from the sample (see :mod:`~stillwatch.guard.features.tables`).
4. **detection** — account evidence, campaign clustering and scores (:mod:`~stillwatch.guard.score.detect`).

Every feature is an Ibis expression of :mod:`~stillwatch.guard.features.tables`, materialised at most once per engine.
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

from stillwatch.errors import GuardInputError

from stillwatch.guard.score.config import DetectConfig
from stillwatch.guard.score.detect import account_step, link_step, verdicts
from stillwatch.guard.score.signals import crowded_hours
from stillwatch.guard.features.components import (component_stats, crowd_candidates, hour_buckets, minute_counts,
                                                  peak_window, week_masks)
from stillwatch.guard.features.tables import (
    account_counts,
    CONTENT_KINDS,
    FRAME_KIND,
    FeatureConfig,
    account_features,
    account_keys,
    account_peaks,
    hour_windows,
    account_text,
    account_volume,
    content_edges,
    infra_counts,
    infra_distinct,
    infra_key_stats,
    infra_kinds,
    key_fan,
    row_keys,
    sample_candidates,
    sample_features,
    sample_rows,
    sample_text,
    short_accounts,
    with_shared_flag,
)
from stillwatch.guard.score.findings import Findings
from stillwatch.guard.log.ledger_log import is_ledger_source
from stillwatch.guard.log.rules import DUPLICATE, sql_duplicates
from stillwatch.guard.batch.heap import retained_heap
from stillwatch.guard.batch.loading import ingest_source, parquet_sql, sql_str
from stillwatch.guard.batch.neardup import near_duplicates as near_duplicate_groups
from stillwatch.guard.features.minhash import MinHashConfig
from stillwatch.guard.features.frames import frame_edges, frame_table
from stillwatch.guard.features.shared import prompt_counts, prompt_sends, shared_prompts
from stillwatch.guard.features.rates import human_rate_per_hour
from stillwatch.guard.score.daysoff import day_rates
from stillwatch.guard.score.timing import cluster_minutes

log = logging.getLogger(__name__)

ENGINES = ("duckdb", "spark")


@dataclass(frozen=True)
class ScanConfig:
    """Scan settings: feature, MinHash and scoring parameters plus engine resources."""

    features: FeatureConfig = field(default_factory=FeatureConfig)
    minhash: MinHashConfig = field(default_factory=MinHashConfig)
    detect: DetectConfig = field(default_factory=DetectConfig)
    duckdb_memory_limit: str = "2500MB"
    duckdb_threads: int | None = None
    #: freed heap memory the process keeps while the scan runs (batch/heap.py: the numpy stages' temporaries are not
    #: faulted in again chunk after chunk); 0 leaves the C allocator as it is
    retained_heap_bytes: int = 256 * 1024 * 1024
    spark_master: str = "local[2]"
    spark_shuffle_partitions: int = 2

    def __post_init__(self) -> None:
        if self.duckdb_threads is not None and self.duckdb_threads < 1:
            raise GuardInputError(f"ScanConfig.duckdb_threads must be >= 1, got {self.duckdb_threads}")
        if self.retained_heap_bytes < 0:
            raise GuardInputError(f"ScanConfig.retained_heap_bytes must be >= 0, got {self.retained_heap_bytes}")


Progress = Callable[[str], None]


def _noop(_: str) -> None:
    pass


# ------------------------------------------------------------------------------------- engines
class _DuckEngine:
    name = "duckdb"

    def __init__(self, cfg: ScanConfig) -> None:
        import duckdb
        import ibis

        self._tmp = tempfile.TemporaryDirectory(prefix="stillwatch-scan-")
        self.raw = duckdb.connect()
        self._names: np.ndarray | None = None
        self.raw.execute(f"SET memory_limit='{cfg.duckdb_memory_limit}'")
        self.raw.execute(f"SET temp_directory='{sql_str(self._tmp.name)}'")
        self.raw.execute("SET preserve_insertion_order=false")
        self.raw.execute("SET enable_progress_bar=false")
        if cfg.duckdb_threads:
            self.raw.execute(f"SET threads={int(cfg.duckdb_threads)}")
        self.ib = ibis.duckdb.from_connection(self.raw)

    def load(self, source, cfg: FeatureConfig):
        """(canonical table, materialised narrow key table, malformed counts, rows read)."""
        if isinstance(source, (str, Path)) and Path(source).suffix.lower() in (".parquet", ".pq", ".parq") \
                and Path(source).is_file() and parquet_sql(self.raw, Path(source)) is not None:
            self._src = f"read_parquet('{sql_str(str(source))}')"
            return self._load_parquet(cfg)
        table, malformed, n_read = ingest_source(source)
        self.raw.register("sw_canon_arrow", table)
        canon = self.ib.table(self._coded("sw_canon_arrow"))
        return canon, self.materialise("sw_keys", row_keys(canon, self.name, cfg)), malformed, n_read

    def _coded(self, view: str) -> str:
        """A view of ``view`` whose ``account_id`` is the account's dense code (its rank in the byte order of the
        account ids, from 0; null for a null id), and the code table behind it (``sw_accounts``, read by
        :meth:`names`). Every per-row statement of the scan groups, joins and sorts on the account: on an int64
        rather than the string, the statements over the 16M rows of the scale benchmark took 30 s against 44 s,
        and with 32-character ids (hex digests) the volume window and the minute and hour counts took 8.4-8.7 s
        against 17.0-17.6 s. The codes keep the ids' order, so every ``order_by`` and tie-break on the account is
        the one the ids would give (the Spark engine keeps the strings)."""
        self.raw.execute(f"CREATE OR REPLACE TEMP TABLE sw_accounts AS SELECT account_id AS acct_name, "
                         f"CAST(row_number() OVER (ORDER BY account_id) - 1 AS BIGINT) AS acct_code "
                         f"FROM (SELECT DISTINCT account_id FROM {view} WHERE account_id IS NOT NULL)")
        self._names = None
        self.raw.execute(f"CREATE OR REPLACE TEMP VIEW {view}_coded AS SELECT r.* REPLACE (a.acct_code AS account_id) "
                         f"FROM {view} r LEFT JOIN sw_accounts a ON r.account_id = a.acct_name")
        return f"{view}_coded"

    def names(self, codes: np.ndarray) -> np.ndarray:
        """The account ids of ``codes`` (account columns as this engine's tables hold them). Requires every code
        to be one :meth:`load` gave."""
        if self._names is None:
            got = self.raw.execute("SELECT acct_name FROM sw_accounts ORDER BY acct_code").fetchnumpy()
            self._names = np.asarray(got["acct_name"]).astype(str)
        return self._names[np.asarray(codes, np.int64)]

    def _load_parquet(self, cfg: FeatureConfig):
        """One pass over the Parquet file: narrow keys and the validation flag together; malformed
        rows are counted and dropped on the narrow table. Repeated request ids (:data:`DUPLICATE`) are
        looked for only when two valid rows share a 64-bit id hash, then compared exactly."""
        keys = self.materialise("sw_keys_all", row_keys(self.ib.table(self._coded("sw_raw")), self.name, cfg,
                                                        keep=("_bad",)))
        rows = self.raw.execute("SELECT _bad, count(*) FROM sw_keys_all GROUP BY _bad").fetchall()
        n_read = sum(r[1] for r in rows)
        malformed = {r[0]: int(r[1]) for r in rows if r[0] is not None}
        # two valid rows with one id hash are neighbours in the hashes' order (a sort: at 16M rows 1.2 s against
        # 2.1-2.3 s for count(DISTINCT), DuckDB 2.0.1)
        n_same = self.raw.execute("SELECT count(*) FROM (SELECT rid_h, lag(rid_h) OVER (ORDER BY rid_h) AS prev "
                                  "FROM sw_keys_all WHERE _bad IS NULL) WHERE prev = rid_h").fetchone()[0]
        if n_same:
            dup = sql_duplicates("(SELECT request_id, _pos FROM sw_raw WHERE _bad IS NULL)", "_pos")
            self.raw.execute(f"CREATE OR REPLACE TEMP TABLE sw_dup AS {dup}")
            n_dup = self.raw.execute("SELECT count(*) FROM sw_dup").fetchone()[0]
            if n_dup:
                malformed[DUPLICATE] = int(n_dup)
                self.raw.execute("CREATE OR REPLACE TEMP VIEW sw_canon AS SELECT * EXCLUDE (_bad, _pos) FROM "
                                 "sw_raw_coded WHERE _bad IS NULL AND _pos NOT IN (SELECT _pos FROM sw_dup)")
                self.raw.execute("DROP TABLE sw_keys_all")
                keys = self.materialise("sw_keys", row_keys(self.ib.table("sw_canon"), self.name, cfg))
                return self.ib.table("sw_canon"), keys, malformed, int(n_read)
        if malformed:
            self.raw.execute("CREATE OR REPLACE TEMP TABLE sw_keys AS SELECT * EXCLUDE (_bad) FROM sw_keys_all "
                             "WHERE _bad IS NULL")
            self.raw.execute("DROP TABLE sw_keys_all")
            keys = self.ib.table("sw_keys")
            self.raw.execute("CREATE OR REPLACE TEMP VIEW sw_canon AS SELECT * EXCLUDE (_bad, _pos) FROM sw_raw "
                             "WHERE _bad IS NULL")
        else:  # every row is valid: the text pass reads only the two columns it needs
            self.raw.execute(f"CREATE OR REPLACE TEMP VIEW sw_canon AS SELECT request_id, prompt FROM {self._src}")
        return self.ib.table("sw_canon"), keys, malformed, int(n_read)

    def put(self, name: str, table: pa.Table):
        self.raw.register(name, table)
        return self.ib.table(name)

    def batches(self, expr, size: int):
        """Record batches of an expression's result (Ibis' own batch reader does not work with DuckDB 2)."""
        import ibis

        yield from self.raw.sql(ibis.to_sql(expr, dialect="duckdb")).to_arrow_reader(size)

    def materialise(self, name: str, expr):
        """Store the result of ``expr`` (an Ibis expression, or SQL already compiled for DuckDB) as ``name``."""
        import ibis

        sql = expr if isinstance(expr, str) else ibis.to_sql(expr, dialect="duckdb")
        self.raw.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")
        return self.ib.table(name)

    def drop(self, *tables) -> None:
        """Free materialised tables no longer needed."""
        for t in tables:
            self.raw.execute(f"DROP TABLE IF EXISTS {t.get_name()}")

    def release(self) -> None:
        """Let go of every table and the connection (idempotent): the scan has what it needs in numpy."""
        if self.raw is not None:
            self.raw.close()
            self.raw = None
            self._tmp.cleanup()

    close = release


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
            .config("spark.sql.execution.arrow.pyspark.fallback.enabled", "false")
            .config("spark.sql.shuffle.partitions", str(cfg.spark_shuffle_partitions))
            .config("spark.default.parallelism", str(cfg.spark_shuffle_partitions))
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            # plans over cached views print every cached plan inside them; the SQL status store keeps
            # them all (template frames stack a dozen): cap both, or the driver's heap fills with text
            .config("spark.sql.maxPlanStringLength", "100000")
            .config("spark.sql.ui.retainedExecutions", "50")
            .config("spark.driver.memory", "2g")
            .getOrCreate()
        )
        self.ib = ibis.pyspark.connect(self.spark)
        self._n = 0
        self._views: list[str] = []  # this scan's views, dropped (and uncached) by release()

    def load(self, source, cfg: FeatureConfig):
        table, malformed, n_read = ingest_source(source)
        canon = self.put("sw_canon", table)
        return canon, self.materialise("sw_keys", row_keys(canon, self.name, cfg)), malformed, n_read

    def put(self, name: str, table: pa.Table):
        self._n += 1
        view = f"{name}_{self._n}"
        if table.num_rows:
            # straight from Arrow (PySpark >= 4.0), never through pandas: pandas' missing strings are NaN, and where
            # Spark's Arrow path could not take a frame it fell back to rows, turning every null into the string
            # 'NaN' (null payment fingerprints then matched each other); the fallback is off, so a failure is loud
            df = self.spark.createDataFrame(table)
        else:
            from pyspark.sql.types import DoubleType, LongType, StringType, StructField, StructType

            kinds = {pa.int64(): LongType(), pa.string(): StringType(), pa.float64(): DoubleType()}
            df = self.spark.createDataFrame([], StructType([StructField(f.name, kinds.get(f.type, StringType()))
                                                            for f in table.schema]))
        df.createOrReplaceTempView(view)
        self._views.append(view)
        return self.ib.table(view)

    def batches(self, expr, size: int):
        yield from expr.to_pyarrow().to_batches(max_chunksize=size)

    @staticmethod
    def names(codes: np.ndarray) -> np.ndarray:
        """The account ids of ``codes``: this engine's tables hold the ids themselves."""
        return np.asarray(codes).astype(str)

    def materialise(self, name: str, expr):
        """Cache the result of ``expr`` (an Ibis expression, or Spark SQL) as a view named after ``name``."""
        import ibis

        self._n += 1
        view = f"{name}_{self._n}"
        sql = expr if isinstance(expr, str) else ibis.to_sql(expr, dialect="pyspark")
        df = self.spark.sql(sql).cache()
        df.count()  # eager, as DuckDB's: a table dropped later is not computed again for the views built on it
        df.createOrReplaceTempView(view)
        self._views.append(view)
        return self.ib.table(view)

    def drop(self, *tables) -> None:
        """Free materialised views no longer needed (a dropped view's cache goes with it)."""
        for t in tables:
            self.spark.catalog.dropTempView(t.get_name())

    def release(self) -> None:
        """Drop this scan's views and their caches (idempotent); the session stays, shared and reused (starting
        Spark costs seconds). Before, a long-lived process kept every scan's cached tables."""
        for view in self._views:
            self.spark.catalog.dropTempView(view)
        self._views = []

    close = release


def _engine(name: str, cfg: ScanConfig):
    if name not in ENGINES:
        raise GuardInputError(f"unknown engine {name!r}; expected one of {', '.join(ENGINES)}")
    return _DuckEngine(cfg) if name == "duckdb" else _SparkEngine(cfg)


# ---------------------------------------------------------------------------------------- scan
def _check_source(source) -> None:
    """Raise GuardInputError when ``source`` names a file that is not there (a table or ledger passes)."""
    if isinstance(source, (str, Path)) and not Path(source).exists() and not is_ledger_source(source):
        raise GuardInputError(f"log file not found: {source}")


def scan(source, *, engine: str = "duckdb", config: ScanConfig | None = None,
         progress: Progress | None = None) -> Findings:
    """Scan a log (path to Parquet/JSONL, or a pyarrow Table) and return its findings.

    Malformed rows are counted by reason in ``Findings.malformed`` and left out; an empty log gives
    empty findings. Raises :class:`GuardInputError` for an unknown engine or an unreadable file.
    """
    cfg = config or ScanConfig()
    say = progress or _noop
    _check_source(source)
    eng = _engine(engine, cfg)
    try:
        with retained_heap(cfg.retained_heap_bytes):
            return _scan(eng, source, cfg, say)
    finally:
        eng.close()


def _timed(say: Progress, what: str, t0: list[float]) -> None:
    now = time.perf_counter()
    log.info("%s (%.1fs)", what, now - t0[0])
    say(what)
    t0[0] = now


@dataclass
class FeatureTables:
    """What the feature stages produce for :func:`~stillwatch.guard.score.detect.detect`: sorted account ids, the account
    feature columns aligned with them, the cross-account edges, malformed-row counts, rows read."""

    ids: np.ndarray
    cols: dict
    edges: dict
    malformed: dict
    n_read: int


def feature_tables(source, *, engine: str = "duckdb", config: ScanConfig | None = None, near_duplicates: bool = True,
                   progress: Progress | None = None, prune_frames: bool = True) -> FeatureTables:
    """The account feature columns and edges of a log without the scoring (for tests, the streaming
    scorer's agreement check and the feature benchmark). ``near_duplicates=False`` skips MinHash;
    ``prune_frames`` leaves out the template-frame keys that ``config.detect`` is certain never to link
    (:func:`~stillwatch.guard.features.frames.frame_edges`): the edges are for that detection config."""
    cfg = config or ScanConfig()
    _check_source(source)
    eng = _engine(engine, cfg)
    try:
        with retained_heap(cfg.retained_heap_bytes):
            ft, _ = _features(eng, source, cfg, progress or _noop, near_duplicates, prune_frames)
        return ft
    finally:
        eng.close()


def _features(eng, source, cfg: ScanConfig, say: Progress, near_duplicates: bool = True, prune_frames: bool = True):
    fc = cfg.features
    t0 = [time.perf_counter()]
    canon, keys, malformed, n_read = eng.load(source, fc)
    _timed(say, "loaded (narrow keys of every row)", t0)
    # the prompts several accounts send, as sent (what a campaign's members ask each other's questions), brought back
    # first: its aggregate over every row then shares the engine's memory with nothing else it holds
    pc = eng.materialise("sw_prompt_counts", prompt_counts(keys))
    sp = shared_prompts(pc).to_pyarrow()
    sends = eng.materialise("sw_sends", prompt_sends(pc))
    eng.drop(pc)
    _timed(say, f"prompts several accounts send ({sp.num_rows} account-prompt pairs)", t0)
    per = eng.materialise("sw_infra", infra_counts(keys))
    _timed(say, "infrastructure keys", t0)
    counts = eng.materialise("sw_counts", account_counts(keys))
    cands = eng.materialise("sw_cands", sample_candidates(keys, counts, fc.sample_k))
    short = short_accounts(cands, counts, fc.sample_k).to_pyarrow()
    if short.num_rows:  # a (very rare) shortfall: those accounts are sampled from all their rows
        st = eng.put("sw_short", short)
        cands = cands.anti_join(st, "account_id").union(keys.semi_join(st, "account_id"))
    samp = eng.materialise("sw_sample", sample_rows(cands, fc.sample_k))
    stext = eng.materialise("sw_stext", sample_text(canon, samp, eng.name))
    srows = eng.materialise("sw_srows", sample_features(stext, eng.name, fc))
    _timed(say, "sampled rows' text features", t0)
    if near_duplicates:
        nd = near_duplicate_groups(eng, srows, cfg.minhash)
    else:
        nd = pa.table({"nd_prompt_h": pa.array([], pa.int64()), "near_dup": pa.array([], pa.int64())})
    _timed(say, f"near-duplicate groups ({nd.num_rows} sampled prompts in groups)", t0)
    ndt = eng.put("sw_nd", nd)
    j = srows.left_join(ndt, srows.prompt_h == ndt.nd_prompt_h).drop("nd_prompt_h")
    # template frames (features/frames.py): found on the engine, one key per prompt stored
    frt = frame_table(eng, stext, fc.min_template_len, fc.min_prompts, fc.min_frame_chars)
    j = j.left_join(frt, (j.account_id == frt.fr_account_id) & (j.prompt_h == frt.fr_prompt_h)).drop(
        "fr_account_id", "fr_prompt_h")
    _timed(say, "template frames", t0)
    # the joined sample stored first: with_shared_flag reads it once per content kind, and would run the joins each time
    tagged = eng.materialise("sw_tagged", with_shared_flag(eng.materialise("sw_joined", j), fc))
    # per account and clock hour, once: the peaks and every per-hour table of _parts read it
    hours = eng.materialise("sw_hours", hour_buckets(keys))
    minutes = eng.materialise("sw_minutes", minute_counts(keys))
    hw = eng.materialise("sw_hour_windows", hour_windows(hours))
    peaks = eng.materialise("sw_peaks", account_peaks(hours, hw))
    eng.drop(hw)
    acc = account_features(account_volume(keys, sends), account_text(tagged), infra_distinct(per), peaks,
                           account_keys(keys), _parts(eng, keys, hours, minutes, peaks)).to_pyarrow()
    _timed(say, f"account features ({acc.num_rows} accounts)", t0)
    # the accounts as the engine's tables hold them (DuckDB: dense codes in the ids' order), and their ids
    codes = _acc(acc)
    ids = eng.names(codes)
    cols = {c: acc[c].to_numpy(zero_copy_only=False) for c in acc.column_names if c != "account_id"}
    edges = {}
    if len(ids):
        # account indices (and what detection reads of each account's volume) joined on the engine
        it = eng.put("sw_ids", pa.table({"account_id": acc["account_id"],
                                         "ai": pa.array(np.arange(len(ids), dtype=np.int64)),
                                         "pa_n": np.asarray(cols["n"], np.float64),
                                         "pa_m": np.asarray(cols["sampled_rows"], np.float64)}))
        d = cfg.detect
        acc_t = it.select(pa_id=it.account_id, pa_n=it.pa_n, pa_m=it.pa_m)
        frames = (frame_edges(tagged, acc_t, d.link.frame_light_share, d.link.full_template_share, d.own_prior_rows)
                  if prune_frames else content_edges(tagged, FRAME_KIND))
        edges = _edges(codes, cols, per, tagged, frames, infra_kinds(keys))
        # active minutes of every account: the synchronised-timing links (score/timing.py); only two
        # int64 columns come back (no string per row)
        am = minutes.join(it, "account_id").select("ai", minute=minutes.mn).to_pyarrow()
        edges["minute"] = (_np(am, "ai", np.int64), _np(am, "minute", np.int64))
        sp_acc = np.searchsorted(codes, _acc(sp)).astype(np.int64)
        edges["prompt"] = (sp_acc, _np(sp, "prompt_raw", np.int64), _np(sp, "rows", np.int64))
    eng.drop(minutes)
    _timed(say, "cross-account keys", t0)
    return FeatureTables(ids, cols, edges, malformed, n_read), keys


def _parts(eng, keys, hours, minutes, peaks) -> tuple:
    """Per-account tables of :mod:`~stillwatch.guard.features.components`: the burst window's reading
    time and span, and the crowded component — hours the minute-scan test
    (:func:`~stillwatch.guard.score.signals.crowded_hours`, family-wise over every account-hour of the
    log) keeps, measured on the engine over their rows; and the hour-of-the-week masks (score/weeks.py)."""
    n_hours = int(hours.count().to_pyarrow().as_py())
    cand = crowd_candidates(minutes, hours).to_pyarrow()
    kept = crowded_hours(cand, n_hours)
    kt = eng.put("sw_crowd", kept)
    best = kept.group_by("account_id").aggregate([("crowd_p", "min"), ("hr", "count")]).rename_columns(
        ["account_id", "crowd_p", "crowd_hours"])
    bt = eng.put("sw_crowd_acc", best.cast(pa.schema([("account_id", kept.schema.field("account_id").type),
                                                      ("crowd_p", pa.float64()), ("crowd_hours", pa.int64())])))
    comp = component_stats(keys, kt)
    return peak_window(hours, peaks), comp, bt, week_masks(hours)


def _scan(eng, source, cfg: ScanConfig, say: Progress) -> Findings:
    fc = cfg.features
    ft, keys = _features(eng, source, cfg, say)
    t0 = [time.perf_counter()]
    ids, cols, edges, malformed = ft.ids, ft.cols, ft.edges, ft.malformed
    n_valid = int(np.sum(cols["n"])) if len(ids) else 0
    if len(ids) == 0:
        return Findings(accounts=(), campaigns=(), malformed=malformed, n_rows=n_valid, engine=eng.name,
                        human_rate_per_hour=human_rate_per_hour(fc.rate))

    # Everything detection reads from the log is in the feature tables now (the minute crowding too:
    # ``edges["minute"]``), so the engine lets go of its tables first: at 16M rows DuckDB's ~1 GB of
    # them would otherwise sit under detection's own peak.
    del keys
    eng.release()
    ea, minute = edges.get("minute", (np.zeros(0, np.int64), np.zeros(0, np.int64)))
    # the weekday workers' shared days off (score/daysoff.py), read off the active minutes
    cols = {**cols, **day_rates(cols, ea, minute, cfg.detect.link.cohort_fdr)}
    acct = account_step(cols, edges, cfg.detect)
    lk = link_step(cols, edges, acct, cfg.detect)
    minutes = cluster_minutes(lk.labels, ea, minute)
    accounts, campaigns = verdicts(ids, cols, edges, acct, lk, cfg.detect, minutes)
    _timed(say, f"detection ({len(campaigns)} campaigns)", t0)
    return Findings(
        accounts=tuple(accounts),
        campaigns=tuple(campaigns),
        malformed=malformed,
        n_rows=n_valid,
        engine=eng.name,
        human_rate_per_hour=human_rate_per_hour(fc.rate),
    )


def _np(t: pa.Table, c: str, dtype) -> np.ndarray:
    return t[c].to_numpy(zero_copy_only=False).astype(dtype)


def _acc(t: pa.Table, c: str = "account_id") -> np.ndarray:
    """An account column as the engine's tables hold it (DuckDB's int64 codes, Spark's ids), comparable with the
    account table's sorted ``codes``."""
    a = t[c].to_numpy(zero_copy_only=False)
    return a.astype(np.int64) if np.issubdtype(a.dtype, np.integer) else a.astype(str)


def _edges(codes: np.ndarray, cols: dict, per, tagged, frames, kinds: tuple[str, ...]) -> dict:
    """kind -> (account index, key, key_cap, cnt, key_prompts) for keys shared by >= 2 accounts
    (``frames``: the template frames' edges, :func:`content_edges` or their pruned form).
    ``cnt``: the account's rows on the key (exact for infrastructure keys; ``n * cnt_s /
    sampled_rows`` for content keys); ``key_cap``: capability share of the key's sampled rows and
    ``key_prompts``: distinct prompts among them (0 when none sampled)."""
    n = np.asarray(cols["n"], np.float64)
    m = np.maximum(np.asarray(cols["sampled_rows"], np.float64), 1.0)
    edges = {}
    infra = key_fan(per).to_pyarrow()
    kind_col = _np(infra, "kind", np.int64)
    acc_col = np.searchsorted(codes, _acc(infra)).astype(np.int64)
    key_col, cnt_col = _np(infra, "key", np.int64), _np(infra, "cnt", np.float64)
    for i, kind in enumerate(kinds):
        sel = kind_col == i
        ek = key_col[sel]
        kc = infra_key_stats(tagged, kind).to_pyarrow()
        ck, cv, cp = _np(kc, "key", np.int64), _np(kc, "key_cap", np.float64), _np(kc, "key_prompts", np.float64)
        o = np.argsort(ck)
        ck, cv, cp = ck[o], cv[o], cp[o]
        kcap, kprompts = np.zeros(len(ek)), np.zeros(len(ek))
        if len(ck) and len(ek):
            pos = np.clip(np.searchsorted(ck, ek), 0, len(ck) - 1)
            hit = ck[pos] == ek
            kcap, kprompts = np.where(hit, cv[pos], 0.0), np.where(hit, cp[pos], 0.0)
        edges[kind] = (acc_col[sel], ek, kcap, cnt_col[sel], kprompts)
    for kind in (*CONTENT_KINDS, FRAME_KIND):
        e = (frames if kind == FRAME_KIND else content_edges(tagged, kind)).to_pyarrow()
        ea = np.searchsorted(codes, _acc(e)).astype(np.int64)
        cnt = _np(e, "cnt_s", np.float64) * n[ea] / m[ea]
        edges[kind] = (ea, _np(e, "key", np.int64), _np(e, "key_cap", np.float64), cnt,
                       _np(e, "key_prompts", np.float64))
    return edges
