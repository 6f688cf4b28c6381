"""Members that re-send their prompts beyond their cluster's own repetition rate leave it
(score/membership.py, *Repetition*; issue 13: evaluation labs running a benchmark built from a
campaign's public prompt bank).

* :func:`repeats_beyond` against a computation written here from the definitions: the Clopper-Pearson
  upper limit found by bisection on the binomial distribution function, the tail summed with
  ``math.comb``, Bonferroni over the cluster's candidates.
* Calibration: clusters whose accounts all repeat at one common rate lose an account in at most about
  ``alpha`` of the clusters.
* With and without an operator core; outsiders of the two kinds never regroup together.
* End to end on a realistic log (``tests/guard_heldout_logs.py``): an evaluation lab running one
  benchmark five times at machine pace through a swarm's prompt bank is not flagged; a harvester at the
  same pace through the same bank with new questions is. On main's detector (before this rule) the lab
  inherited the swarm's campaign score (0.514) and was flagged.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from guard_heldout_base import load_pool  # noqa: E402
from guard_heldout_logs import lab_beside_bank_swarm_log, rows_of  # noqa: E402

from stillwatch.guard.batch.scan import scan  # noqa: E402
from stillwatch.guard.score.config import DetectConfig  # noqa: E402
from stillwatch.guard.score.membership import outsiders, repeats_beyond, split_outsiders  # noqa: E402
from stillwatch.guard.score.nullmodel import NullLinks  # noqa: E402

CFG = DetectConfig()
ALPHA = CFG.link.alpha
Z = np.zeros(0, np.int64)
NO_LINKS = NullLinks(Z, Z, np.zeros(0), Z, Z, np.zeros(0), None)


def _binom_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k), X ~ Binomial(n, p), summed term by term (log of math.comb, exact integers)."""
    if p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 1.0 if k >= n else 0.0
    return min(1.0, sum(math.exp(math.log(math.comb(n, j)) + j * math.log(p) + (n - j) * math.log1p(-p))
                        for j in range(k + 1)))


def _cp_upper(r: int, m: int, level: float) -> float:
    """The rate at which seeing <= r in m has probability ``level`` (bisection on the distribution)."""
    if r >= m:
        return 1.0
    lo, hi = 0.0, 1.0
    for _ in range(80):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _binom_cdf(r, m, mid) > level else (lo, mid)
    return (lo + hi) / 2


def _betabinom_sf(d: int, n: int, a: float, b: float) -> float:
    """P(X >= d) of the Beta-binomial law, its mass function summed term by term (log gamma)."""
    lb = math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
    tot = 0.0
    for k in range(d, n + 1):
        lk = (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
              + math.lgamma(k + a) + math.lgamma(n - k + b) - math.lgamma(n + a + b) - lb)
        tot += math.exp(lk)
    return min(tot, 1.0)


def _naive(labels, n, distinct, cand, ref, alpha, once=None):
    """The step-down test written from its definition (score/repetition.py), one account at a time:
    the statistic is the re-sent rows ``n - once`` (the repeats ``n - distinct`` without ``once``)."""
    a = len(labels)
    d = [int(n[i] - (distinct[i] if once is None else once[i])) for i in range(a)]
    y = [d[i] / n[i] for i in range(a)]
    out = [False] * a
    while True:
        new = []
        for i in range(a):
            if not cand[i] or out[i] or d[i] == 0 or 2 * distinct[i] > n[i]:  # tested: novelty <= 1/2
                continue
            below = [j for j in range(a) if labels[j] == labels[i] and ref[j] and not out[j] and y[j] < y[i]]
            if len(below) < 2:
                continue
            r, m = sum(d[j] for j in below), sum(int(n[j]) for j in below)
            mu = _cp_upper(r, m, alpha / 2)
            ys = [y[j] for j in below]
            mean = sum(ys) / len(ys)
            s2 = sum((v - mean) ** 2 for v in ys) / (len(ys) - 1)
            if s2 <= 1e-15:
                p = 1.0 - _binom_cdf(d[i] - 1, int(n[i]), mu)
            elif s2 < mu * (1 - mu):
                ab = mu * (1 - mu) / s2 - 1
                p = _betabinom_sf(d[i], int(n[i]), mu * ab, (1 - mu) * ab)
            else:
                p = 1.0
            k = sum(bool(cand[j]) for j in range(a) if labels[j] == labels[i])
            if p * k <= alpha / 2:
                new.append(i)
        if not new:
            return out
        for i in new:
            out[i] = True


@pytest.mark.parametrize("seed", range(1, 5))  # seeds where the rule cuts someone
def test_repeats_beyond_matches_the_definition(seed):
    rng = np.random.default_rng(seed)
    a = 24
    labels = rng.integers(0, 3, a)
    n = rng.integers(5, 60, a).astype(float)
    heavy = rng.random(a) < 0.3  # a few accounts repeat most of what they send
    distinct = n - rng.binomial(n.astype(int), np.where(heavy, 0.7, rng.uniform(0.0, 0.1, a)))
    cand = rng.random(a) < 0.7
    ref = (rng.random(a) < 0.8) & (~heavy | (rng.random(a) < 0.2))
    got = repeats_beyond(labels, n, distinct, cand, ref, ALPHA)
    assert got.tolist() == _naive(labels, n, distinct, cand, ref, ALPHA)
    assert got.any()  # not vacuous at these seeds
    # with the prompts sent once only: the statistic is the re-sent rows (each repeated prompt sent 2-3 times)
    repeated = n - distinct
    once = np.maximum(distinct - np.ceil(repeated / rng.integers(1, 3, a)), 0.0)
    got = repeats_beyond(labels, n, distinct, cand, ref, ALPHA, once)
    assert got.tolist() == _naive(labels, n, distinct, cand, ref, ALPHA, once)


def test_known_answer_a_lab_against_sybils_that_repeat_nothing():
    # 400 sybils x 20 requests, no repeats: the upper limit is 1 - (alpha/2)^(1/8000) ~ 6.6e-4
    n = np.r_[np.full(400, 20.0), 600.0, 20.0]
    distinct = np.r_[np.full(400, 20.0), 120.0, 19.0]  # a lab: 5 passes of 120; a sybil with one retry
    labels = np.zeros(len(n), np.int64)
    every = np.ones(len(n), bool)
    got = repeats_beyond(labels, n, distinct, every, every, ALPHA)
    assert got.tolist() == [False] * 400 + [True, False]
    # the retry's reference are the 400 sybils that repeat less (none): the binomial at the limit over
    # their 8,000 rows; P(X >= 1 | 20) times 402 candidates is far above alpha / 2
    rho = _cp_upper(0, 400 * 20, ALPHA / 2)
    assert (1.0 - (1.0 - rho) ** 20) * 402 > ALPHA / 2


def test_accounts_repeating_more_as_they_grow_stay_and_two_labs_among_resellers_leave():
    # 21 accounts whose repeats grow with volume (shares 0.52-0.70, the shape of the simulator's
    # reseller30 cluster, 0.21-0.38, at the rates this rule tests): the heaviest is within the spread of
    # the others; two labs that each ran one benchmark twice (the simulator's reseller family: two labs
    # among 8 resellers) do not hide each other
    n = np.linspace(1000, 4400, 21).round()
    share = 0.52 + 0.12 * np.log(n / 1000.0)
    distinct = n - np.round(share * n)
    labels = np.zeros(21, np.int64)
    every = np.ones(21, bool)
    assert not repeats_beyond(labels, n, distinct, every, every, ALPHA).any()
    n2 = np.r_[np.full(8, 2862.0), 600.0, 600.0]
    distinct2 = np.r_[np.full(8, 2853.0), 300.0, 300.0]  # resellers repeat 0.3 %, labs 50 %
    every2 = np.ones(10, bool)
    assert repeats_beyond(np.zeros(10, np.int64), n2, distinct2, every2, every2, ALPHA).tolist() == [False] * 8 + [True] * 2


#: the simulator's reseller30 campaign s2 (seed 1, 320,000 rows, hard negatives): per account (rows, repeats n - D,
#: re-sent rows n - S), counted from the log's prompts — repeats grow with volume (a reseller's customers re-ask
#: popular questions), the harvest fills are sent once
RESELLER30_S2 = [(870, 0.209, 0.271), (939, 0.203, 0.276), (1191, 0.22, 0.294), (1209, 0.231, 0.318), (1263, 0.229, 0.321),
                 (1464, 0.247, 0.335), (1479, 0.253, 0.342), (1823, 0.281, 0.383), (2120, 0.289, 0.401), (2164, 0.29, 0.396),
                 (2500, 0.304, 0.421), (2609, 0.294, 0.411), (2683, 0.303, 0.406), (2777, 0.319, 0.439), (2793, 0.31, 0.428),
                 (2929, 0.316, 0.435), (2954, 0.314, 0.441), (3073, 0.334, 0.457), (3107, 0.323, 0.45), (3546, 0.343, 0.467),
                 (3771, 0.343, 0.472), (3787, 0.351, 0.48), (3797, 0.353, 0.486), (3861, 0.354, 0.488), (3900, 0.349, 0.485),
                 (4376, 0.364, 0.502)]


def test_a_lab_sending_every_item_twice_leaves_resellers_that_re_ask_popular_questions():
    # the lab of that log that joined the campaign through its math templates: its benchmark twice, 600 rows, 300
    # prompts, none sent once
    n = np.array([r[0] for r in RESELLER30_S2] + [600], np.float64)
    distinct = np.round(n * (1 - np.array([r[1] for r in RESELLER30_S2] + [0.5])))
    once = np.round(n * (1 - np.array([r[2] for r in RESELLER30_S2] + [1.0])))
    labels = np.zeros(len(n), np.int64)
    every = np.ones(len(n), bool)
    # by repeats the lab (0.50) is inside the heavier resellers' spread (up to 0.36, growing with volume) ...
    assert not repeats_beyond(labels, n, distinct, every, every, ALPHA).any()
    # ... by re-sent rows (1.00 against 0.27-0.50) it is far outside it, and no reseller is cut
    assert repeats_beyond(labels, n, distinct, every, every, ALPHA, once).tolist() == [False] * 26 + [True]
    # the lab's tail from the definitions: the resellers' pooled rate plus five standard errors (above the
    # Clopper-Pearson limit at alpha / 2 = 0.005, z = 2.6) is < 0.45, and at that rate 600 of 600 re-sent has
    # probability 0.45^600 < 1e-100
    resent = n - once
    rate = resent[:26].sum() / n[:26].sum()
    upper = rate + 5 * math.sqrt(rate * (1 - rate) / n[:26].sum())
    assert upper < 0.45 and 600 * math.log(upper) < math.log(1e-100)


def test_clusters_re_sending_at_one_rate_lose_an_account_in_about_alpha_of_them():
    # every account re-sends a share rho of its rows, each re-sent prompt four times (novelty <= 1/2, so
    # every account is tested), rho one operator's rate per cluster
    rng = np.random.default_rng(8)
    n_clusters, size = 400, 40
    labels = np.repeat(np.arange(n_clusters), size)
    n = np.round(np.exp(rng.normal(np.log(80), 0.8, len(labels)))) + 8
    rho = rng.uniform(0.8, 0.95, n_clusters)[labels]
    resent = rng.binomial(n.astype(int), rho).astype(float)
    once = n - resent
    distinct = once + np.ceil(resent / 4)
    every = np.ones(len(n), bool)
    assert (2 * distinct <= n).mean() > 0.9  # nearly all are tested
    got = repeats_beyond(labels, n, distinct, every, every, ALPHA, once)
    hit = np.bincount(labels[got], minlength=n_clusters) > 0
    assert hit.sum() <= 9  # P(Binomial(400, 0.01) > 9) ~ 8e-3


def test_an_account_asking_new_questions_in_most_requests_is_not_tested():
    # 400 sybils repeating nothing and a reseller re-sending 39 % of 6,000 rows (held-out C): not cut;
    # at 51 % it is (the same cluster otherwise)
    n = np.r_[np.full(400, 20.0), 6000.0]
    labels = np.zeros(401, np.int64)
    every = np.ones(401, bool)
    for resent, cut in ((2340.0, False), (3060.0, True)):
        distinct = np.r_[np.full(400, 20.0), 6000.0 - resent]
        assert repeats_beyond(labels, n, distinct, every, every, ALPHA).tolist() == [False] * 400 + [cut]


def test_clusters_repeating_at_one_rate_lose_an_account_in_about_alpha_of_them():
    rng = np.random.default_rng(7)
    n_clusters, size = 400, 40
    labels = np.repeat(np.arange(n_clusters), size)
    n = np.round(np.exp(rng.normal(np.log(60), 0.8, len(labels))))  # heavy-tailed workloads
    rho = rng.uniform(0.4, 0.6, n_clusters)[labels]  # each operator its own rate, about the tested range
    distinct = n - rng.binomial(n.astype(int), rho)
    every = np.ones(len(n), bool)
    got = repeats_beyond(labels, n, distinct, every, every, ALPHA)
    hit = np.bincount(labels[got], minlength=n_clusters) > 0
    assert hit.sum() <= 9  # P(Binomial(400, 0.01) > 9) ~ 8e-3; conservative in practice: expect far fewer


def _cluster_with_core(lab_distinct: float):
    """150 sybils on 8 datacenter addresses (a crowded core, against 3,000 unrelated accounts) at 20
    requests with 1 % retries, a lab (600 requests) on its own address, and a member on a core address
    repeating as much as the lab. 150 core accounts are too few for a workload test (2 / 151 > alpha)."""
    rng = np.random.default_rng(3)
    k, m = 150, 152
    a = m + 3000
    labels = np.r_[np.zeros(m, np.int64), np.arange(m, a)]
    n = np.r_[np.full(k, 20.0), 600.0, 600.0, np.full(3000, 5.0)]
    distinct = np.r_[20.0 - rng.binomial(20, 0.01, k), lab_distinct, 120.0, np.full(3000, 5.0)]
    acc = np.arange(a, dtype=np.int64)
    ip = acc + 1000
    ip[:k] = acc[:k] % 8
    ip[k + 1] = 3  # the last member shares a core address
    return labels, n, distinct, [(acc, ip), (acc, acc + 100_000)]


def test_with_a_core_the_reference_is_the_core_and_tied_members_stay():
    labels, n, distinct, infra = _cluster_with_core(lab_distinct=120.0)
    out = outsiders(labels, n, infra, NO_LINKS, CFG, distinct)
    # the lab is cut for its repetition (code 2); the member on a core address is tied and stays
    assert out.tolist()[:152] == [0] * 150 + [2, 0] and not out[152:].any()
    # the same lab asking new questions every pass stays (its workload alone: 2 / 151 > alpha)
    labels, n, distinct, infra = _cluster_with_core(lab_distinct=600.0)
    assert not outsiders(labels, n, infra, NO_LINKS, CFG, distinct).any()
    # without the distinct counts (an older producer) the repetition rule does not run
    labels, n, distinct, infra = _cluster_with_core(lab_distinct=120.0)
    assert not outsiders(labels, n, infra, NO_LINKS, CFG).any()


def test_outsiders_of_two_kinds_do_not_regroup():
    labels = np.zeros(6, np.int64)
    kind = np.array([0, 0, 1, 1, 2, 2], np.int8)
    # all four outsiders share key 9 with each other; the members share key 7
    ea = np.array([0, 1, 2, 3, 4, 5], np.int64)
    ek = np.array([7, 7, 9, 9, 9, 9], np.int64)
    assert split_outsiders(labels, kind, ea, ek).tolist() == [0, 0, 2, 2, 4, 4]
    assert split_outsiders(labels, kind > 0, ea, ek).tolist() == [0, 0, 2, 2, 2, 2]


# ------------------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def bank_log():
    log, labels, _ = lab_beside_bank_swarm_log(load_pool(96_000_000))
    return log, labels, scan(log)


def test_the_log_holds_a_lab_repeating_a_benchmark_and_a_harvester_at_its_pace(bank_log):
    log, labels, _ = bank_log
    lab, hv = rows_of(log, labels, "benign:eval_lab"), rows_of(log, labels, "bank_harvester")
    for t, distinct in ((lab, 120), (hv, 600)):
        assert t.num_rows == 600 and len(set(t["account_id"].to_pylist())) == 1
        assert len(set(t["prompt"].to_pylist())) == distinct
        us = np.sort(t["ts"].cast(pa.timestamp("us")).cast(pa.int64()).to_numpy())
        gaps = np.diff(us) / 1e6
        assert np.median(gaps) == pytest.approx(2.0, rel=0.1)  # machine pace
    sw = rows_of(log, labels, "bank_swarm")
    assert len(set(sw["account_id"].to_pylist())) == 300 and len(set(sw["ip"].to_pylist())) == 300
    # the lab's and the harvester's prompts are in the swarm's prompt bank: they share its scaffolds
    opener = "You are a meticulous tutor."
    for t in (lab, hv, sw):
        assert pc.any(pc.starts_with(t["prompt"], opener)).as_py()


def test_a_lab_repeating_a_benchmark_is_not_flagged_and_a_harvester_at_its_pace_is(bank_log):
    _, labels, f = bank_log
    fam = dict(zip(labels["account_id"].to_pylist(), labels["family"].to_pylist()))
    by = {fm: [a for a in f.accounts if fam[a.account_id] == fm] for fm in set(fam.values())}
    (lab,), (hv,) = by["benign:eval_lab"], by["bank_harvester"]
    assert lab.signals["repeated_rows"] == 480 and hv.signals["repeated_rows"] == 0
    assert not lab.flagged and lab.campaign_id is None
    assert hv.flagged and hv.campaign_id is not None
    assert all(a.flagged for a in by["bank_swarm"])
    assert hv.campaign_id == by["bank_swarm"][0].campaign_id  # still one of the swarm's accounts
    assert not any(a.flagged for fm, accs in by.items() if fm.startswith("benign") for a in accs)
