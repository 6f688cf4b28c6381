"""An account's volume as evidence of a program only beyond what one of the log's people reads
(score/detect.py ``program_volume``, score/volume_null.py ``person_volume``; issue 13: the simulator's
``business`` batch jobs, flagged on their own score).

* ``Q_1`` is the exact conformal upper quantile of the other human-paced accounts' hours: checked
  against a one-account-at-a-time computation, and its level checked empirically.
* End to end on a realistic log (``tests/guard_heldout_logs.py``): two firms' one-off batch jobs (300
  and 600 distinct inputs through their own capability template, 15 s apart) are not flagged; an
  account pushing 6,000 inputs through such a template at the same pace is. On main's detector (the
  fixed scale alone) both batch jobs were flagged (0.608, 0.617).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from guard_heldout_base import load_pool  # noqa: E402
from guard_heldout_logs import batch_jobs_log, rows_of  # noqa: E402

from stillwatch.guard.batch.scan import scan  # noqa: E402
from stillwatch.guard.score.volume_null import MIN_REFERENCE, person_volume  # noqa: E402


def _naive_q1(x, human, alpha):
    out = []
    for i in range(len(x)):
        ref = sorted((x[j] for j in range(len(x)) if human[j] and j != i), reverse=True)
        j = int(np.floor(alpha * (len(ref) + 1) + 1e-12))
        out.append(ref[j - 1] if len(ref) >= MIN_REFERENCE and j >= 1 else np.nan)
    return np.array(out)


@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.2])
@pytest.mark.parametrize("seed", range(3))
def test_person_volume_is_the_conformal_quantile_of_the_others(alpha, seed):
    rng = np.random.default_rng(seed)
    x = np.round(rng.lognormal(0.0, 1.2, 300), 1)  # heavy-tailed, with ties
    human = rng.random(300) < 0.8
    x[:3] = x.max() + np.array([5.0, 5.0, 1.0])  # the largest values: human and not
    human[:2] = True
    assert np.array_equal(person_volume(x, human, alpha), _naive_q1(x, human, alpha), equal_nan=True)


def test_person_volume_without_a_reference_is_nan():
    x = np.arange(20, dtype=float)
    assert np.isnan(person_volume(x, np.arange(20) < 9, 0.01)).all()  # 9 < MIN_REFERENCE people
    assert np.isnan(person_volume(x, np.ones(20, bool), 0.01)).all()  # floor(0.01 * 20) = 0: no quantile


def test_one_of_the_people_exceeds_its_q1_at_most_alpha_of_the_time():
    rng = np.random.default_rng(11)
    alpha, r, trials = 0.05, 199, 4000
    hits = 0
    for _ in range(trials):
        x = rng.lognormal(0.0, 1.0, r + 1)  # the last is one more person, exchangeable with the rest
        human = np.r_[np.ones(r, bool), False]
        hits += x[-1] > person_volume(x, human, alpha)[-1]
    # P(x > Q_1) = floor(alpha (r + 1)) / (r + 1) = 0.05 exactly; 99.9 % binomial band around it
    assert hits / trials <= alpha + 3.3 * np.sqrt(alpha * (1 - alpha) / trials)
    assert hits / trials >= alpha - 3.3 * np.sqrt(alpha * (1 - alpha) / trials)


# ------------------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def batch_log():
    log, labels, _ = batch_jobs_log(load_pool(96_000_000))
    return log, labels, scan(log)


def test_the_log_holds_one_off_batch_jobs_and_a_template_harvest(batch_log):
    log, labels, _ = batch_log
    for fam, rows in (("benign:business", {300, 600}), ("template_harvest", {6000})):
        t = rows_of(log, labels, fam)
        per = t.group_by("account_id").aggregate([("prompt", "count"), ("prompt", "count_distinct")])
        assert set(per["prompt_count"].to_pylist()) == rows
        assert per["prompt_count"].to_pylist() == per["prompt_count_distinct"].to_pylist()  # distinct inputs
        for acc in per["account_id"].to_pylist():
            us = np.sort(t.filter(pc.equal(t["account_id"], acc))["ts"].cast(pa.timestamp("us")).cast(pa.int64())
                         .to_numpy())
            assert np.median(np.diff(us)) / 1e6 == pytest.approx(15.0, rel=0.1)  # machine pace
    # each firm its own template
    biz = rows_of(log, labels, "benign:business")
    heads = {p[:40] for p in biz["prompt"].to_pylist()}
    assert len(heads) == 2


def test_one_off_batch_jobs_are_not_flagged_and_a_template_harvest_at_their_pace_is(batch_log):
    _, labels, f = batch_log
    fam = dict(zip(labels["account_id"].to_pylist(), labels["family"].to_pylist()))
    biz = [a for a in f.accounts if fam[a.account_id] == "benign:business"]
    (hv,) = [a for a in f.accounts if fam[a.account_id] == "template_harvest"]
    assert len(biz) == 2 and not any(a.flagged for a in biz)
    # both send faster than one person reads (multiple ~5): the pace is there, the people's volume is not
    assert all(a.human_rate_multiple > 2 for a in biz)
    assert hv.flagged and "human_rate_multiple" in hv.fired
    assert not any(a.flagged for a in f.accounts if fam[a.account_id].startswith("benign"))
