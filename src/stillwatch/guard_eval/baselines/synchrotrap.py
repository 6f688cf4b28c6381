"""SynchroTrap (Cao, Yang, Yu, Palow: "Uncovering Large Groups of Active Malicious Accounts in
Online Social Networks", ACM CCS 2014), applied to API logs.

The paper's method (Sec. 4): an *action* is (user, time, constraint object) — for logins the
object is the IP address. Two users' actions *match* when they hit the same object within a time
window ``T_sim``. Pairwise user similarity is the Jaccard similarity of their action sets under
that matching, ``|A_u ∩ A_v| / |A_u ∪ A_v|``; users with similarity ``>= threshold`` are linked,
the graph is clustered by single linkage (connected components), and clusters with at least
``min_cluster`` users are reported. Daily jobs aggregate over a sliding window of days.

Adaptation: actions are the distinct (account, IP address, hour bucket) triples of the log
(``T_sim`` = the bucket width); the self-join on (IP, bucket) runs in DuckDB. As in the paper,
objects touched by very many users in one bucket are skipped (``max_object_fanout``) to bound the
pairwise join. An account's score is its largest similarity to any other account (0 when it
shares no action); flagged accounts are the members of reported clusters; cluster ids name the
predicted campaigns. The streaming alarm replays the daily job on each day's prefix of the log:
an account alarms at the end of the first day whose job puts it in a reported cluster.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from stillwatch.errors import GuardInputError
from stillwatch.guard_eval.contract import NEVER, DetectorOutput

HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US


@dataclass(frozen=True)
class SynchroTrapConfig:
    bucket_minutes: int = 60
    threshold: float = 0.5
    min_matched: int = 2
    min_cluster: int = 5
    max_object_fanout: int = 2_000

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise GuardInputError(f"SynchroTrapConfig.threshold={self.threshold} must lie in (0, 1]")
        if self.bucket_minutes < 1 or self.min_cluster < 2 or self.min_matched < 1:
            raise GuardInputError("SynchroTrapConfig: bucket_minutes >= 1, min_cluster >= 2, min_matched >= 1 required")


def _cluster(con, cfg: SynchroTrapConfig, cutoff_us: int | None, n_acc: int) -> tuple[np.ndarray, np.ndarray]:
    """One SynchroTrap job over the rows with ts < cutoff: (max similarity, component label or -1)."""
    where = "" if cutoff_us is None else f"WHERE ts_us < {int(cutoff_us)}"
    bucket = cfg.bucket_minutes * 60_000_000
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE st_actions AS
            SELECT DISTINCT acc, ip, ts_us // {bucket} AS b FROM st_log {where}"""
    )
    pairs = con.sql(
        f"""WITH counts AS (SELECT acc, count(*) AS n FROM st_actions GROUP BY acc),
                 hot AS (SELECT ip, b FROM st_actions GROUP BY ip, b HAVING count(*) <= {cfg.max_object_fanout}),
                 act AS (SELECT a.* FROM st_actions a SEMI JOIN hot USING (ip, b)),
                 matched AS (
                    SELECT x.acc AS u, y.acc AS v, count(*) AS m
                    FROM act x JOIN act y ON x.ip = y.ip AND x.b = y.b AND x.acc < y.acc
                    GROUP BY 1, 2 HAVING count(*) >= {cfg.min_matched})
            SELECT u, v, m * 1.0 / (cu.n + cv.n - m) AS sim
            FROM matched JOIN counts cu ON cu.acc = u JOIN counts cv ON cv.acc = v"""
    ).to_arrow_table()
    u = pairs["u"].to_numpy().astype(np.int64)
    v = pairs["v"].to_numpy().astype(np.int64)
    sim = pairs["sim"].to_numpy().astype(float)
    best = np.zeros(n_acc)
    np.maximum.at(best, u, sim)
    np.maximum.at(best, v, sim)
    keep = sim >= cfg.threshold
    g = sp.coo_matrix((np.ones(int(keep.sum())), (u[keep], v[keep])), shape=(n_acc, n_acc))
    _, labels = connected_components(g, directed=False)
    size = np.bincount(labels, minlength=n_acc)
    labels = np.where(size[labels] >= cfg.min_cluster, labels, -1)
    return best, labels


def run(log: pa.Table, config: SynchroTrapConfig = SynchroTrapConfig()) -> DetectorOutput:
    import duckdb
    import pyarrow.compute as pc

    enc = pc.dictionary_encode(log["account_id"]).combine_chunks()
    account_id = np.asarray(enc.dictionary.to_pylist(), dtype=object)
    n_acc = len(account_id)
    st_log = pa.table(  # noqa: F841  (scanned by DuckDB by name)
        {"acc": enc.indices.cast(pa.int64()), "ip": log["ip"], "ts_us": log["ts"].cast(pa.int64())}
    )
    con = duckdb.connect()
    try:
        con.execute("CREATE TEMP TABLE st_log AS SELECT * FROM st_log")
        best, labels = _cluster(con, config, None, n_acc)
        alarm = np.full(n_acc, NEVER, dtype=np.int64)
        if log.num_rows:
            t0 = int(pc.min(log["ts"].cast(pa.int64())).as_py())
            t1 = int(pc.max(log["ts"].cast(pa.int64())).as_py())
            day_end = (t0 // DAY_US + 1) * DAY_US
            while day_end <= t1 + DAY_US:
                _, lab_d = _cluster(con, config, day_end, n_acc)
                hit = (lab_d >= 0) & (alarm == NEVER)
                alarm[hit] = day_end
                day_end += DAY_US
    finally:
        con.close()
    cluster = np.where(labels >= 0, np.char.add("st-", labels.astype(str)).astype(object), None)
    return DetectorOutput("synchrotrap", account_id, best, labels >= 0, cluster, alarm)
