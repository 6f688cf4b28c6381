"""What an app with many end users looks like by chance (issue 13).

Key rules (``links.key_link_stats``): a *wrapper* (a key on >= ``link.full_template_share`` of its
users' traffic, focus with pseudo-rows, over ordinary traffic) is one choice per account and never
links. Expected values are written out from those rules (focus by hand).
"""

from __future__ import annotations

import numpy as np
import pytest

from stillwatch.guard.score.config import DetectConfig
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


def test_a_capability_scaffold_on_every_request_is_a_workload_not_a_wrapper():
    # a campaign pushing all of its accounts' traffic through one reasoning scaffold (held-out B's
    # pivot): focus >= 0.9, but the key's rows are capability-focused (share 0.95 >= 0.25), so it is
    # not an ordinary wrapper and links by focus
    n = np.array([600.0, 550.0, 700.0, 640.0])
    ea, ek, cnt = _edges(n.tolist())
    kl = key_link_stats(ea, ek, cnt, n, CFG, key_cap=np.full(4, 0.95))
    assert kl["focus"][0] >= CFG.link.full_template_share and kl["links"].all()
    # the same key over ordinary traffic (capability share 0.18, an app's end users) is a wrapper
    assert not key_link_stats(ea, ek, cnt, n, CFG, key_cap=np.full(4, 0.18))["links"].any()


def test_a_scaffold_on_a_third_of_each_users_traffic_still_links():
    # three resellers sending a harvest scaffold as 30 % of their traffic: focus 0.3 (>= 0.2, < 0.9)
    n = np.array([4000.0, 3000.0, 2500.0])
    ea, ek, cnt = _edges((0.3 * n).tolist())
    kl = key_link_stats(ea, ek, cnt, n, CFG)
    assert kl["focus"][0] == pytest.approx(0.3 * n.sum() / (n.sum() + 24))
    assert kl["links"].all()
