"""Evaluation of harvesting detectors against simulator labels.

Metrics (all at the *account* level unless stated):

- **TPR at FPR f** (f = 1e-3, 1e-4): with ``N_b`` benign accounts, at most ``k = floor(f * N_b)``
  benign accounts may score strictly above the threshold; the threshold is the (k+1)-th highest
  benign score and TPR is the share of campaign accounts scoring strictly above it (ties count
  against the detector). The figure is only *measurable* when ``N_b >= 1/f``; otherwise it is
  reported with ``measurable = False``.
- **PR-AUC**: average precision, ``sum_n (R_n - R_{n-1}) P_n`` over distinct score thresholds.
- **Own operating point**: TPR and FPR of the method's own ``flagged`` decision.
- **Campaign recovery**: adjusted Rand index (Hubert & Arabie 1985) between the true campaigns and
  the predicted campaign ids *over the true campaign accounts* (an account the detector puts in no
  campaign is its own singleton); and the fraction of campaigns *recovered*: a predicted campaign
  holds at least half of the true campaign's accounts and at least half of its own accounts belong
  to that true campaign.
- **Harvest before alarm** (streaming): for each campaign, the share of its exchanges whose ``ts``
  is earlier than the first alarm on any of its accounts (1.0 when it is never caught).

Detectors are anything producing a :class:`~stillwatch.guard_eval.baselines.common.DetectorOutput`:
the baselines, and Stillwatch's own batch scan (:func:`stillwatch_batch`) plus streaming scorer
(:func:`stillwatch_stream`), called through :mod:`stillwatch.guard.batch.scan` / ``stream``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from stillwatch.errors import GuardInputError
from stillwatch.guard_eval.contract import NEVER, DetectorOutput
from stillwatch.guard_eval.population import PopulationFigure, per_population, versus_baselines

log = logging.getLogger(__name__)

FPRS = (1e-3, 1e-4)
#: The issue's goals, per scenario family.
GOALS = {"tpr_at_1e-4": 0.99, "campaigns_recovered": 0.95, "ari": 0.9, "harvest_before_alarm": 0.01}


# ------------------------------------------------------------------------------------ metrics
def tpr_at_fpr(pos: np.ndarray, neg: np.ndarray, fpr: float) -> float:
    """Share of ``pos`` strictly above the (k+1)-th largest ``neg``, k = floor(fpr * len(neg)).

    Requires ``len(pos) >= 1``. With no negatives every positive above -inf counts.
    """
    if len(pos) == 0:
        raise ValueError("tpr_at_fpr needs at least one positive score")
    neg = np.sort(np.asarray(neg, dtype=float))[::-1]
    k = int(math.floor(fpr * len(neg) + 1e-9))
    thr = neg[k] if k < len(neg) else -np.inf
    return float(np.mean(np.asarray(pos, dtype=float) > thr))


def average_precision(y: np.ndarray, score: np.ndarray) -> float:
    """Average precision (area under the step PR curve), ties in score grouped into one step."""
    y = np.asarray(y, dtype=bool)
    if not y.any():
        raise ValueError("average_precision needs at least one positive")
    order = np.argsort(-np.asarray(score, dtype=float), kind="stable")
    s, yy = np.asarray(score, dtype=float)[order], y[order]
    tp = np.cumsum(yy)
    last = np.r_[np.flatnonzero(np.diff(s) != 0), len(s) - 1]  # last index of each distinct score
    precision = tp[last] / (last + 1)
    recall = tp[last] / y.sum()
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def adjusted_rand_index(truth: np.ndarray, pred: np.ndarray) -> float:
    """Adjusted Rand index of two labelings of the same items (1 = identical partitions).

    When both partitions are trivial in the same way (all singletons or one block) it returns 1.
    """
    truth, pred = np.asarray(truth), np.asarray(pred)
    n = len(truth)
    if n != len(pred):
        raise ValueError("adjusted_rand_index: labelings differ in length")
    if n < 2:
        return 1.0
    _, t = np.unique(truth, return_inverse=True)
    _, p = np.unique(pred, return_inverse=True)
    cont = np.zeros((t.max() + 1, p.max() + 1), dtype=np.int64)
    np.add.at(cont, (t, p), 1)

    def c2(x):
        x = np.asarray(x, dtype=float)
        return float(np.sum(x * (x - 1) / 2))

    index = c2(cont)
    a, b = c2(cont.sum(axis=1)), c2(cont.sum(axis=0))
    expected = a * b / (n * (n - 1) / 2)
    max_index = (a + b) / 2
    if max_index == expected:
        return 1.0
    return float((index - expected) / (max_index - expected))


def recovered_campaigns(truth: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """For each true campaign (sorted ids), whether some predicted campaign recovers it.

    ``truth``/``pred`` are per-account ids over *all* accounts (None = benign / in no campaign).
    Recovered: ``|P & C| >= |C| / 2`` and ``|P & C| >= |P| / 2`` for some predicted campaign P.
    """
    truth = np.asarray(truth, dtype=object)
    pred = np.asarray(pred, dtype=object)
    is_t = np.array([c is not None for c in truth], dtype=bool)
    is_p = np.array([c is not None for c in pred], dtype=bool)
    camps, t = np.unique(np.where(is_t, truth, "").astype(str), return_inverse=True)
    preds, p = np.unique(np.where(is_p, pred, "").astype(str), return_inverse=True)
    cont = np.zeros((len(camps), len(preds)), dtype=np.int64)
    both = is_t & is_p
    np.add.at(cont, (t[both], p[both]), 1)
    size_c = np.bincount(t[is_t], minlength=len(camps))
    size_p = np.bincount(p[is_p], minlength=len(preds))
    ok = (cont >= 0.5 * size_c[:, None]) & (cont >= 0.5 * size_p[None, :]) & (cont > 0)
    real = np.array([c != "" for c in camps]) if not is_t.all() else np.ones(len(camps), bool)
    return ok.any(axis=1)[real]


# --------------------------------------------------------------------------------- evaluation
@dataclass(frozen=True)
class Evaluation:
    """One detector on one scenario."""

    detector: str
    scenario: str
    n_benign: int
    n_campaign_accounts: int
    n_campaigns: int
    tpr_at: dict[str, float]
    measurable: dict[str, bool]
    pr_auc: float
    own_tpr: float
    own_fpr: float
    ari: float | None
    campaigns_recovered: float | None
    harvest_before_alarm: dict[str, float] | None  # campaign id -> share
    notes: tuple[str, ...] = field(default_factory=tuple)
    populations: tuple[PopulationFigure, ...] = ()  # per labelled family (guard_eval.population)

    @property
    def harvest_max(self) -> float | None:
        return None if not self.harvest_before_alarm else max(self.harvest_before_alarm.values())

    @property
    def harvest_median(self) -> float | None:
        return None if not self.harvest_before_alarm else float(np.median(list(self.harvest_before_alarm.values())))

    def goals(self) -> dict[str, bool | None]:
        """Each goal of the issue: met (True), missed (False) or not applicable (None)."""
        return {
            "tpr_at_1e-4": self.tpr_at["1e-4"] >= GOALS["tpr_at_1e-4"] if self.measurable["1e-4"] else None,
            "campaigns_recovered": None if self.campaigns_recovered is None
            else self.campaigns_recovered >= GOALS["campaigns_recovered"],
            "ari": None if self.ari is None else self.ari >= GOALS["ari"],
            "harvest_before_alarm": None if self.harvest_max is None else self.harvest_max < GOALS["harvest_before_alarm"],
            "benign_fp_per_population": None if not self.populations
            else all(p.meets_goal for p in self.populations if p.benign),
        }

    def to_json(self) -> dict:
        def r(x):
            return None if x is None else round(float(x), 6)

        return {
            "detector": self.detector,
            "scenario": self.scenario,
            "n_benign": self.n_benign,
            "n_campaign_accounts": self.n_campaign_accounts,
            "n_campaigns": self.n_campaigns,
            "tpr_at_fpr": {k: r(v) for k, v in self.tpr_at.items()},
            "fpr_measurable": self.measurable,
            "pr_auc": r(self.pr_auc),
            "own_tpr": r(self.own_tpr),
            "own_fpr": r(self.own_fpr),
            "ari": r(self.ari),
            "campaigns_recovered": r(self.campaigns_recovered),
            "harvest_before_alarm": None if self.harvest_before_alarm is None
            else {k: r(v) for k, v in self.harvest_before_alarm.items()},
            "harvest_before_alarm_max": r(self.harvest_max),
            "goals": self.goals(),
            "populations": [p.to_json() for p in self.populations],
            "notes": list(self.notes),
        }


def _align(labels: pa.Table, out: DetectorOutput) -> tuple:
    """Per labelled account: (campaign id or None, score, flagged, cluster or None, alarm or None).

    Accounts the detector never reported get score -inf, not flagged, no cluster, no alarm.
    """
    lab_ids = labels["account_id"].to_pylist()
    camp = np.asarray(labels["campaign_id"].to_pylist(), dtype=object)
    where = {a: i for i, a in enumerate(out.account_id)}  # one entry per account, not per row
    idx = np.array([where.get(a, -1) for a in lab_ids], dtype=np.int64)
    found = idx >= 0
    safe = np.maximum(idx, 0)

    def pick(values, default, dtype):
        if len(out.account_id) == 0:
            return np.full(len(idx), default, dtype=dtype)
        v = np.asarray(values, dtype=dtype)[safe]
        v[~found] = default
        return v

    score = pick(out.score, -np.inf, float)
    flagged = pick(out.flagged, False, bool)
    cluster = None if out.cluster is None else pick(out.cluster, None, object)
    alarm = None if out.alarm_us is None else pick(out.alarm_us, NEVER, np.int64)
    return camp, score, flagged, cluster, alarm


def harvest_before_alarm(log: pa.Table, labels: pa.Table, alarm_by_account: dict[str, int]) -> dict[str, float]:
    """Campaign id -> share of its exchanges that precede the first alarm on any of its accounts."""
    lab = labels.filter(pc.is_valid(labels["campaign_id"]))
    if lab.num_rows == 0:
        return {}
    acc = np.asarray(lab["account_id"].to_pylist(), dtype=object)
    camp = np.asarray(lab["campaign_id"].to_pylist(), dtype=object)
    alarm = np.array([alarm_by_account.get(a, NEVER) for a in acc], dtype=np.int64)
    camps, cidx = np.unique(camp.astype(str), return_inverse=True)
    first_alarm = np.full(len(camps), NEVER, dtype=np.int64)
    np.minimum.at(first_alarm, cidx, alarm)
    # rows of campaign accounts: vectorized join of the log on account id
    rows_acc = log["account_id"]
    mask = pc.is_in(rows_acc, value_set=pa.array(acc.tolist(), type=pa.string()))
    sub_acc = rows_acc.filter(mask)
    sub_ts = log["ts"].filter(mask).cast(pa.int64()).to_numpy()
    pos = pc.index_in(sub_acc, value_set=pa.array(acc.tolist(), type=pa.string())).to_numpy(zero_copy_only=False)
    row_c = cidx[pos]
    total = np.bincount(row_c, minlength=len(camps))
    before = np.bincount(row_c, weights=(sub_ts < first_alarm[row_c]).astype(float), minlength=len(camps))
    return {str(c): float(before[i] / total[i]) if total[i] else 1.0 for i, c in enumerate(camps)}


def evaluate_output(log: pa.Table, labels: pa.Table, out: DetectorOutput, scenario: str = "",
                    notes: tuple[str, ...] = ()) -> Evaluation:
    """Score one detector's output against the labels of a simulated log."""
    camp, score, flagged, cluster, alarm = _align(labels, out)
    is_c = np.array([c is not None for c in camp])
    n_b, n_c = int((~is_c).sum()), int(is_c.sum())
    if n_c == 0 or n_b == 0:
        raise GuardInputError("evaluation needs both benign and campaign accounts in the labels")
    tpr, meas = {}, {}
    for f in FPRS:
        key = f"{f:.0e}".replace("e-0", "e-")
        tpr[key] = tpr_at_fpr(score[is_c], score[~is_c], f)
        meas[key] = n_b * f >= 1.0
    ari = rec = None
    if cluster is not None:
        pred = np.array([c if c is not None else f"__single_{i}" for i, c in enumerate(cluster)], dtype=object)
        ari = adjusted_rand_index(camp[is_c].astype(str), pred[is_c].astype(str))
        rec = float(np.mean(recovered_campaigns(camp, cluster)))
    hba = None
    if alarm is not None:
        lab_ids = labels["account_id"].to_pylist()
        hba = harvest_before_alarm(log, labels, {a: int(t) for a, t in zip(lab_ids, alarm) if t != NEVER})
    n_camps = len({c for c in camp if c is not None})
    pops = per_population(labels["family"].to_numpy(zero_copy_only=False), is_c, score, flagged) \
        if "family" in labels.column_names else ()
    return Evaluation(
        detector=out.name, scenario=scenario, n_benign=n_b, n_campaign_accounts=n_c, n_campaigns=n_camps,
        tpr_at=tpr, measurable=meas, pr_auc=average_precision(is_c, np.where(np.isfinite(score), score, -1e300)),
        own_tpr=float(flagged[is_c].mean()), own_fpr=float(flagged[~is_c].mean()),
        ari=ari, campaigns_recovered=rec, harvest_before_alarm=hba, notes=tuple(notes), populations=pops,
    )


# ------------------------------------------------------------------------ Stillwatch adapters
def stillwatch_batch(log: pa.Table, engine: str = "duckdb") -> DetectorOutput:
    """Stillwatch's batch scan (``stillwatch.guard.batch.scan.scan``) as a DetectorOutput (no alarms)."""
    from stillwatch.guard.batch.scan import scan

    findings = scan(log, engine=engine)
    accs = findings.accounts
    return DetectorOutput(
        "stillwatch",
        np.asarray([a.account_id for a in accs], dtype=object),
        np.asarray([a.score for a in accs], dtype=float),
        np.asarray([a.flagged for a in accs], dtype=bool),
        np.asarray([a.campaign_id for a in accs], dtype=object),
        None,
    )


def stillwatch_stream(log: pa.Table, batch_rows: int = 8192, campaigns_of: dict[str, str] | None = None,
                      ) -> tuple[dict[str, int], int]:
    """Feed the log in time order through ``StreamingScorer.observe``; returns
    (account -> ts of its first flagged verdict, rows replayed).

    With ``campaigns_of`` (account -> campaign id, from the labels) the replay stops once every
    campaign has an alarmed account: verdicts are causal, so the alarms found are the same as in a
    full replay; only accounts alarming later are not listed (they do not change any campaign's
    first alarm).
    """
    from stillwatch.guard.live.stream import StreamingScorer

    scorer = StreamingScorer()
    first: dict[str, int] = {}
    pending = set(campaigns_of.values()) if campaigns_of else None
    ordered = log.sort_by([("ts", "ascending"), ("request_id", "ascending")])
    replayed = 0
    for batch in ordered.to_batches(max_chunksize=batch_rows):
        ts = batch.column("ts").cast(pa.int64()).to_numpy()
        for i, row in enumerate(batch.to_pylist()):  # the streaming API takes one request at a time
            v = scorer.observe(row)
            replayed += 1
            if v.flagged and v.account_id not in first:
                first[v.account_id] = int(ts[i])
                if pending is not None:
                    pending.discard(campaigns_of.get(v.account_id))
                    if not pending:
                        return first, replayed
    return first, replayed


def with_alarms(out: DetectorOutput, alarms: dict[str, int]) -> DetectorOutput:
    """``out`` with streaming alarm times taken from ``alarms`` (account -> ts)."""
    a = np.array([alarms.get(x, NEVER) for x in out.account_id], dtype=np.int64)
    return DetectorOutput(out.name, out.account_id, out.score, out.flagged, out.cluster, a)


DETECTORS: tuple[str, ...] = ("stillwatch", "rate_limit", "prada", "seat", "synchrotrap")


def run_detector(name: str, log: pa.Table, stream: bool = True, labels: pa.Table | None = None,
                 ) -> tuple[DetectorOutput, tuple[str, ...]]:
    """Run a detector by name; returns its output and notes (e.g. why a part was unavailable).

    ``labels`` (optional) only lets the streaming replay stop early once every campaign alarmed.
    """
    import time

    from stillwatch.guard_eval.baselines import BASELINES, run_baseline

    if name in BASELINES:
        return run_baseline(name, log), ()
    if name != "stillwatch":
        raise GuardInputError(f"unknown detector {name!r}; choose from {DETECTORS}")
    out = stillwatch_batch(log)
    notes: tuple[str, ...] = ()
    if stream:
        camp = None
        if labels is not None:
            lab = labels.filter(pc.is_valid(labels["campaign_id"]))
            camp = dict(zip(lab["account_id"].to_pylist(), lab["campaign_id"].to_pylist()))
        try:
            t0 = time.perf_counter()
            alarms, replayed = stillwatch_stream(log, campaigns_of=camp)
            dt = time.perf_counter() - t0
            out = with_alarms(out, alarms)
            notes = (f"streaming replay: {replayed:,} of {log.num_rows:,} rows, {1e3 * dt / max(1, replayed):.2f} ms per row",)
        except ImportError as exc:
            notes = (f"streaming scorer unavailable: {exc}",)
    return out, notes


def evaluate_scenario(scenario: str, n_exchanges: int, seed: int, detectors=DETECTORS, stream: bool = True,
                      progress=None, hard_negatives: bool = False) -> tuple[list[Evaluation], dict]:
    """Simulate a scenario (with ``hard_negatives``: the populations of ``stillwatch.guard_sim.hard`` added)
    and evaluate each detector on it; returns (evaluations, timing/info)."""
    import time

    from stillwatch.guard_sim.simulate import simulate

    say = progress or (lambda _msg: None)
    say(f"{scenario}: simulating {n_exchanges:,} exchanges")
    t0 = time.perf_counter()
    log_t, labels = simulate(scenario, n_exchanges, seed, hard_negatives=hard_negatives)
    info = {"scenario": scenario, "n_exchanges": log_t.num_rows, "seed": seed, "hard_negatives": hard_negatives,
            "simulate_s": round(time.perf_counter() - t0, 2), "detector_s": {}}
    evals = []
    for d in detectors:
        say(f"{scenario}: {d}")
        t0 = time.perf_counter()
        out, notes = run_detector(d, log_t, stream=stream, labels=labels)
        evals.append(evaluate_output(log_t, labels, out, scenario, notes))
        info["detector_s"][d] = round(time.perf_counter() - t0, 2)
    info["versus_baselines"] = versus_baselines(evals)
    return evals, info


def evaluate_files(log_path: str, labels_path: str, detectors=DETECTORS, stream: bool = True,
                   progress=None) -> tuple[list[Evaluation], dict]:
    """Evaluate detectors on a labelled log on disk (any log ``read_log`` accepts + a labels Parquet).

    Labels must follow :data:`~stillwatch.guard.log.schema.LABEL_SCHEMA`; accounts of the log missing
    from the labels are left out of the metrics (counted in the returned info).
    """
    import time

    import pyarrow.parquet as pq

    from stillwatch.errors import InputError

    from stillwatch.guard.log.ingest import read_log

    say = progress or (lambda _msg: None)
    res = read_log(log_path)
    try:
        labels = pq.read_table(labels_path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise InputError(f"cannot read labels {labels_path}: {exc}") from None
    missing = [c for c in ("account_id", "campaign_id") if c not in labels.column_names]
    if missing:
        raise InputError(f"labels {labels_path} lack column(s) {missing}")
    if "family" not in labels.column_names:
        labels = labels.append_column("family", pa.array(["unknown"] * labels.num_rows, type=pa.string()))
    labels = labels.select(["account_id", "campaign_id", "family"])
    seen = pc.unique(res.table["account_id"])
    unlabeled = int(len(seen) - pc.sum(pc.is_in(seen, value_set=labels["account_id"])).as_py()) if len(seen) else 0
    labels = labels.filter(pc.is_in(labels["account_id"], value_set=seen))
    info = {"scenario": str(log_path), "n_exchanges": res.n_valid, "malformed": res.malformed,
            "unlabeled_accounts": unlabeled, "detector_s": {}}
    evals = []
    for d in detectors:
        say(f"{log_path}: {d}")
        t0 = time.perf_counter()
        out, notes = run_detector(d, res.table, stream=stream, labels=labels)
        evals.append(evaluate_output(res.table, labels, out, str(log_path), notes))
        info["detector_s"][d] = round(time.perf_counter() - t0, 2)
    info["versus_baselines"] = versus_baselines(evals)
    return evals, info
