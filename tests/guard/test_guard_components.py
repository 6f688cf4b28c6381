"""The crowded component and the burst window (score/signals.py, features/components.py): known
answers by hand, the vectorised features against a naive per-row reference, a relay of independent
people where the minute-scan stays quiet (calibration), information-free batches that obtain nothing,
and the attacker it is for — a reseller whose nightly harvest is a minority of its traffic."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from stillwatch.guard.batch.scan import feature_tables, scan
from stillwatch.guard.score.signals import crowded_component, crowded_hours, crowding_p, fwer_evidence
from test_guard_signals import DAY, HOUR, T0, _log, _people, _word

MINUTE = 60_000_000
SPT = 0.75 * 60 / 238  # reading seconds per completion token (features.rates defaults)


def _binom_sf(k: int, n: int, p: float) -> float:
    return sum(math.comb(n, j) * p**j * (1 - p) ** (n - j) for j in range(k, n + 1))


def test_known_answers_by_hand():
    # 10 requests in an hour, 4 in one minute: 60 * P(Bin(10, 1/60) >= 4)
    assert crowding_p(np.array([10.0]), np.array([4.0]))[0] == pytest.approx(60 * _binom_sf(4, 10, 1 / 60))
    # one request per minute for an hour is no crowding (capped at 1)
    assert crowding_p(np.array([60.0]), np.array([1.0]))[0] == 1.0
    # a hypothetical hour p = 1e-10 among 1e4 account-hours: evidence -log10(1e-6) / 2 -> 1 (capped);
    # its component: 100 rows, 50 distinct prompts, 7,200 reading seconds -> novelty 0.5, 1 h distinct
    cc = crowded_component(np.array([1e-10, 0.0]), np.array([100.0, 0.0]), np.array([50.0, 0.0]),
                           np.array([7200.0, 0.0]), 1e4, 100.0)
    assert cc["novelty"].tolist() == [0.5, 0.0] and cc["hours"][0] == pytest.approx(1.0)
    assert cc["evidence"][0] == pytest.approx(1.0 * math.log(2) / math.log(101) * 0.5)
    assert cc["crowd_p"][1] == 1.0 and cc["evidence"][1] == 0.0
    # a part of the account: full while at most half of its rows (100 of 400), 0.5 at 75 % (100 of
    # 133.3...), none when it is the whole account (100 of 100)
    part = crowded_component(np.full(3, 1e-10), np.full(3, 100.0), np.full(3, 50.0), np.full(3, 7200.0), 1e4,
                             100.0, n=np.array([400.0, 400.0 / 3.0, 100.0]))
    assert part["part"].tolist() == pytest.approx([1.0, 0.5, 0.0])
    assert part["evidence"].tolist() == pytest.approx([cc["evidence"][0], cc["evidence"][0] / 2, 0.0])
    # kept hours: p * H <= 1 (b: 5 of 40 in one minute, 60 P(Bin(40, 1/60) >= 5) ~ 0.03, not among 1,000)
    cand = pa.table({"account_id": ["a", "b"], "hr": pa.array([1, 2], pa.int64()), "c": pa.array([40, 40], pa.int64()),
                     "m": pa.array([30, 5], pa.int64())})
    kept = crowded_hours(cand, 1000)
    p_a = 60 * _binom_sf(30, 40, 1 / 60)
    assert kept["account_id"].to_pylist() == ["a"] and kept["crowd_p"][0].as_py() == pytest.approx(p_a)
    assert fwer_evidence(np.array([p_a]), 1000)[0] == 1.0


def _naive(rows) -> dict:
    """Per account, by brute force over rows: the busiest 24 clock hours' reading seconds and span
    (first such window), and the per-hour (count, busiest minute count)."""
    out = {}
    for acct in sorted({r[0] for r in rows}):
        rs = sorted((r for r in rows if r[0] == acct), key=lambda r: r[1])
        hrs = sorted({r[1] // HOUR for r in rs})
        best, best_end = -1, None
        for h in hrs:  # windows ending at an active hour cover every peak
            c = sum(1 for r in rs if h - 23 <= r[1] // HOUR <= h)
            if c > best:
                best, best_end = c, h
        inside = [r for r in rs if best_end - 23 <= r[1] // HOUR <= best_end]
        peak_s = sum(5 + r[3] * SPT for r in inside)
        hours = {}
        for h in hrs:
            ts = [r[1] for r in rs if r[1] // HOUR == h]
            mins = {}
            for t in ts:
                mins[t // MINUTE] = mins.get(t // MINUTE, 0) + 1
            hours[h] = (len(ts), max(mins.values()))
        out[acct] = (peak_s, inside[-1][1] - inside[0][1], hours)
    return out


def test_vectorised_features_match_a_naive_reference():
    rng = np.random.default_rng(21)
    rows = []
    for a in range(10):
        n = int(rng.integers(5, 60))
        ts = T0 + np.sort(rng.integers(0, 5 * DAY, n))
        if a % 2 == 0:  # a crowded run of 25 requests 2 s apart
            ts = np.sort(np.concatenate([ts, T0 + int(rng.integers(0, 5)) * DAY + 3 * HOUR + np.arange(25) * 2_000_000]))
        rows += [(f"acct-{a:02d}", int(t), "k", int(c)) for t, c in zip(ts, rng.integers(0, 900, len(ts)))]
    ft = feature_tables(_log(rows), near_duplicates=False)
    ref = _naive(rows)
    n_hours = sum(len(h) for _, _, h in ref.values())
    assert int(ft.cols["active_hours"].sum()) == n_hours
    for i, acct in enumerate(ft.ids):
        peak_s, span, hours = ref[acct]
        assert ft.cols["peak_s"][i] == pytest.approx(peak_s), acct
        assert ft.cols["peak_span_us"][i] == span, acct
        # the crowded hours, by brute force: the hour p-value, kept when p * H <= 1
        ps = [60 * _binom_sf(m, c, 1 / 60) for c, m in hours.values() if m >= 5 and 60 * m >= 3 * c]
        kept = [p for p in ps if p * n_hours <= 1]
        assert ft.cols["crowd_hours"][i] == len(kept), acct
        if kept:
            assert ft.cols["crowd_p"][i] == pytest.approx(min(kept), rel=1e-9), acct
            in_kept = {h for h, (c, m) in hours.items() if m >= 5 and 60 * m >= 3 * c
                       and 60 * _binom_sf(m, c, 1 / 60) * n_hours <= 1}
            comp = [r for r in rows if r[0] == acct and r[1] // HOUR in in_kept]
            assert ft.cols["comp_n"][i] == len(comp), acct
            assert ft.cols["comp_s"][i] == pytest.approx(sum(5 + r[3] * SPT for r in comp)), acct
        else:
            assert ft.cols["comp_n"][i] == 0, acct


def _relay(rng, acct: str, users: int, days: int = 14) -> list:
    """A reseller or app relaying ``users`` independent people: each a few sessions at their own hours
    (the account's requests are a superposition of independent people)."""
    people = _people(rng, users, days)
    # each person's own clock: _people starts sessions on the hour, a relay's users do not
    offset = {u: int(rng.integers(0, HOUR)) for u in sorted({r[0] for r in people})}
    return [(acct, r[1] + offset[r[0]], "k-" + acct, r[3]) for r in people]


def test_relays_of_people_and_information_free_batches_stay_quiet():
    """Calibration: relays of many independent people (hundreds of users each, busy hours) and people
    themselves show no crowded hour; a nightly batch job of six fixed inputs 1 s apart is crowded but
    obtains nothing new (novelty ~0): no component evidence, nothing flagged."""
    rng = np.random.default_rng(23)
    rows = _people(rng, 150)
    for r in range(3):
        rows += _relay(rng, f"relay-{r}", 400)
    fixed = ["Classify: great product", "Classify: arrived late", "Classify: broken box"] * 2
    for night in range(14):
        t = T0 + night * DAY + 2 * HOUR
        rows += [("batch", t + i * 1_000_000, "kb", 1) for i in range(200)]
    table = _log(rows)
    prompts = table["prompt"].to_pylist()
    prompts = [fixed[i % 6] if a == "batch" else p for i, (p, a) in enumerate(zip(prompts, table["account_id"].to_pylist()))]
    f = scan(table.set_column(table.schema.get_field_index("prompt"), "prompt", pa.array(prompts)))
    for a in f.accounts:
        if a.account_id != "batch":
            assert a.signals["crowded_hours"] == 0, a.account_id
        assert "crowded_component" not in a.fired, a.account_id
    assert f.account("batch").signals["crowded_hours"] == 14
    assert f.account("batch").signals["component_novelty"] < 0.01
    assert not [a.account_id for a in f.accounts if a.flagged]


def test_a_minority_harvest_inside_a_relay_is_caught():
    """The attacker: a reseller relaying 400 real users whose traffic also carries a nightly batch of
    distinct capability prompts 3 s apart (about a quarter of its rows). Its overall rate and novelty
    look like the honest relays'; the crowded component fires and flags it, and nothing else."""
    rng = np.random.default_rng(29)
    rows = _people(rng, 150)
    for r in range(3):
        rows += _relay(rng, f"relay-{r}", 400)
    rows += _relay(rng, "reseller", 400)
    n_cust = sum(1 for r in rows if r[0] == "reseller")
    per_night = n_cust // 3 // 14
    for night in range(14):
        t = T0 + night * DAY + HOUR
        rows += [("reseller", t + i * 3_000_000, "k-reseller", 400) for i in range(per_night)]
    start = len(rows) - 14 * per_night
    table = _log(rows)  # one log row per tuple, in order
    prompts = [f"Explain step by step how the {_word(i)} method works." if i >= start else p
               for i, p in enumerate(table["prompt"].to_pylist())]
    f = scan(table.set_column(table.schema.get_field_index("prompt"), "prompt", pa.array(prompts)))
    res = f.account("reseller")
    assert res.signals["crowded_hours"] == 14 and res.signals["component_novelty"] > 0.95
    assert "crowded_component" in res.fired and res.flagged
    assert [a.account_id for a in f.accounts if a.flagged] == ["reseller"]
