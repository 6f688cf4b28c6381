"""What an app with many end users, or an evaluation lab, looks like by chance (issue 13).

Key rules (``links.key_link_stats``): a *wrapper* (a key on >= ``link.full_template_share`` of its
users' traffic, focus with pseudo-rows) is one choice per account and never links; near-duplicate
reuse counts distinct prompts per user. Membership (``extraction.member_novelty_weight``): a member
inherits its campaign's verdict in proportion to its novelty against the members' median when its
repeats reject ``Bin(m, 1 - nu_c)`` family-wise. Expected values are written out from those rules
(focus and reuse by hand, the binomial tail by a naive sum of the pmf).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from stillwatch.guard.score.config import DetectConfig
from stillwatch.guard.score.extraction import member_novelty_weight
from stillwatch.guard.score.links import key_link_stats

CFG = DetectConfig()


def _edges(rows_per_user: list[float], key: int = 7) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ea = np.arange(len(rows_per_user), dtype=np.int64)
    return ea, np.full(len(ea), key, np.int64), np.asarray(rows_per_user, np.float64)


def test_a_system_prompt_shared_by_apps_is_one_choice_and_does_not_link():
    # six apps put one boilerplate system prompt on every request: focus = rows / (rows + 8 per user)
    n = np.array([1874.0, 514.0, 1591.0, 1468.0, 1277.0, 2927.0])
    ea, ek, cnt = _edges(n.tolist())
    kl = key_link_stats(ea, ek, cnt, n, CFG)
    focus = n.sum() / (n.sum() + 8 * 6)
    assert focus >= CFG.link.full_template_share  # a wrapper by the documented rule
    assert kl["focus"] == pytest.approx(np.full(6, focus))
    assert not kl["links"].any()


def test_a_scaffold_on_a_third_of_each_users_traffic_still_links():
    # three resellers sending a harvest scaffold as 30 % of their traffic: focus 0.3 (>= 0.2, < 0.9)
    n = np.array([4000.0, 3000.0, 2500.0])
    ea, ek, cnt = _edges((0.3 * n).tolist())
    kl = key_link_stats(ea, ek, cnt, n, CFG)
    assert kl["focus"][0] == pytest.approx(0.3 * n.sum() / (n.sum() + 24))
    assert kl["links"].all()


@pytest.mark.parametrize("distinct, links", [(2.0, False), (40.0, True)])
def test_near_duplicate_reuse_counts_distinct_prompts(distinct, links):
    # three apps relay the day's most popular question 116 times each (a twentieth of their traffic,
    # focus below 0.2): reuse in rows is 116 >= 20, but only `distinct` prompts were seen on the key
    n = np.array([2000.0, 2300.0, 2100.0])
    ea, ek, cnt = _edges([116.0, 116.0, 116.0])
    kl = key_link_stats(ea, ek, cnt, n, CFG, key_prompts=np.full(3, distinct))
    assert kl["links"].tolist() == [links] * 3
    # without the distinct count (template kinds: a scaffold's rows carry new prompts) rows count
    assert key_link_stats(ea, ek, cnt, n, CFG)["links"].all()


def _binom_sf_naive(k: int, m: int, q: float) -> float:
    return sum(math.comb(m, j) * q ** j * (1 - q) ** (m - j) for j in range(k, m + 1))


def test_member_novelty_weight_against_a_naive_binomial_tail():
    # one campaign of 2,000 accounts (novelty 0.95, 20 rows each, all sampled) and a lab that ran a
    # 300-prompt benchmark three times (novelty 1/3, 32 sampled rows), in a scan of 2,001 accounts
    a = 2001
    nu = np.full(a, 0.95)
    n = np.full(a, 20.0)
    nu[-1], n[-1] = 1.0 / 3.0, 900.0
    sampled = np.minimum(n, 32.0)
    labels = np.zeros(a, np.int64)
    w = member_novelty_weight({"novelty": nu, "exchanges": n, "sampled_rows": sampled}, labels)
    repeats = round(32 * (1 - 1 / 3))  # 21 of the lab's 32 sampled rows repeat an earlier prompt
    p = _binom_sf_naive(repeats, 32, 0.05)
    evidence = min(1.0, max(0.0, -math.log10(p * a) / 2.0))
    assert evidence == 1.0  # far beyond the campaign's repeat rate, family-wise
    assert w[-1] == pytest.approx(1.0 - evidence * (1.0 - (1 / 3) / 0.95))
    # members whose repeats are the campaign's own (one chance repeat in 20 rows) inherit in full
    assert w[:-1] == pytest.approx(np.ones(a - 1))


def test_member_novelty_weight_small_account_chance_repeats_inherit_fully():
    # a member of 11 rows with 4 repeats in a campaign whose members repeat 14 %: P(Bin(11, 0.14) >= 4)
    # is about 0.06 — not surprising among 100 accounts, so the weight stays 1 (no loss for noise)
    nu = np.full(100, 0.86)
    n = np.full(100, 11.0)
    nu[0] = 7.0 / 11.0
    w = member_novelty_weight({"novelty": nu, "exchanges": n, "sampled_rows": n}, np.zeros(100, np.int64))
    assert _binom_sf_naive(4, 11, 0.14) * 100 > 1.0
    assert w[0] == 1.0


def test_member_novelty_weight_without_novelty_is_one():
    assert member_novelty_weight({"exchanges": np.ones(3)}, np.zeros(3, np.int64)).tolist() == [1.0, 1.0, 1.0]
