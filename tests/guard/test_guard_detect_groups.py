"""Detection of groups (session 3): human-scale groups are not campaigns, one workload spread over
many IPs stays one campaign, and proxy /24s link a synchronised campaign. Fixtures are account
feature tables and edges written here, independently of the simulator and of the feature code."""

from __future__ import annotations

import numpy as np

from stillwatch.guard.score.detect import DetectConfig, detect
from stillwatch.guard.features.rates import HumanRate, human_rate_multiple

DAY = 86_400e6
HOUR = 3_600e6
_KINDS = ("tpl_prefix", "tpl_suffix", "near_dup", "ip", "user_agent", "payment", "ip_prefix")


def _empty():
    return (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0))


def _accounts(n, firsts, span_us, demand_per_row_s, gap_cv=3.0, cap_share=0.0):
    """Account feature columns: ``n`` rows each over ``span_us`` from ``firsts``; gaps with the
    given coefficient of variation (human pacing: >= 1); every row on shared templates."""
    n = np.asarray(n, np.float64)
    a = len(n)
    gap_mean = span_us / np.maximum(n - 1, 1)
    return {"n": n, "first_us": np.asarray(firsts, np.float64), "last_us": np.asarray(firsts, np.float64) + span_us,
            "gap_n": n - 1, "gap_mean": gap_mean, "gap_std": gap_cv * gap_mean,
            "shared_rows": n.copy(), "cap_any": cap_share * n, "demand_s": n * demand_per_row_s,
            "n_prompts": n.copy(), "n_templates": n.copy(), "n_ip": np.ones(a), "n_ua": np.ones(a),
            "n_payment": np.ones(a), "active_minutes": n.copy(), "active_hours": np.maximum(np.round(n / 4.0), 1.0),  # sessions
            "sampled_rows": np.minimum(n, 32.0)}


def _content(n, keys_of, share_of):
    """tpl_prefix edges: account i uses keys_of[i] (list), each carrying share_of[i] of its rows."""
    ea = np.concatenate([np.full(len(k), i) for i, k in enumerate(keys_of)]).astype(np.int64)
    ek = np.concatenate([np.asarray(k, np.int64) for k in keys_of])
    cnt = np.round(np.asarray(n, np.float64)[ea] * np.asarray(share_of, np.float64)[ea])
    return (ea, ek, np.zeros(len(ea)), cnt, np.full(len(ea), 50.0))


def _infra(n, key_of):
    """One infrastructure key per account (all of its rows)."""
    ea = np.arange(len(key_of), dtype=np.int64)
    return (ea, np.asarray(key_of, np.int64), np.zeros(len(ea)), np.asarray(n, np.float64), np.full(len(ea), 50.0))


def _edges(**kw):
    return {k: kw.get(k, _empty()) for k in _KINDS}


def _ids(a, prefix="u"):
    return np.array([f"{prefix}{i:04d}" for i in range(a)])


def test_human_scale_prompt_library_is_not_a_campaign_but_a_synchronised_one_is():
    """300 people each copying two of six famous templates (all of their traffic), human pace,
    unrelated IPs, onsets spread over a week: many reading hours in all, but a human-rate multiple
    below one person — common use, not a harvest. The same group switched on within minutes with
    even volumes is an operator."""
    rng = np.random.default_rng(11)
    a = 300
    n = rng.integers(5, 41, a).astype(np.float64)
    firsts = rng.uniform(0, 7 * DAY, a)
    span = 7 * DAY
    acc = _accounts(n, firsts, span, demand_per_row_s=60.0)
    # each account on two of the six templates, drawn at random (one pool; a ring assignment, account i
    # on templates i and i + 1, is content communities to score/communities.py and is cut into arcs)
    keys = [(1000 + rng.choice(6, size=2, replace=False)).tolist() for _ in range(a)]
    edges = _edges(tpl_prefix=_content(n, keys, np.full(a, 0.5)), ip=_infra(n, 50_000 + np.arange(a)))
    hours = float(np.sum(n) * 60.0 / 3600.0)
    mult = float(human_rate_multiple(np.array([np.sum(n) * 60.0]), np.array([firsts.max() + span - firsts.min()]),
                                     HumanRate())[0])
    assert hours > 40 and mult < 1.0  # the old rule took ~40+ reading hours as most of a harvest
    accounts, campaigns = detect(_ids(a), acc, edges, DetectConfig())
    assert not campaigns
    assert not any(x.flagged for x in accounts)
    # the same content, but an operator: onsets within ten minutes, equal volumes
    acc2 = _accounts(np.full(a, 25.0), 3 * DAY + rng.uniform(0, 600e6, a), span, demand_per_row_s=60.0)
    edges2 = _edges(tpl_prefix=_content(np.full(a, 25.0), keys, np.full(a, 0.5)), ip=_infra(n, 50_000 + np.arange(a)))
    accounts, campaigns = detect(_ids(a), acc2, edges2, DetectConfig())
    assert len(campaigns) == 1 and len(campaigns[0].accounts) == a
    assert all(x.flagged for x in accounts)


def test_office_team_on_one_ip_and_card_with_code_questions_is_not_flagged():
    """An analytics team: 28 colleagues on one office IP and one corporate card, code questions
    (capability words in every prompt) sharing notebook boilerplate, human pace, 200-600 exchanges
    each over two weeks: shared office infrastructure without machine-scale rate or pacing."""
    rng = np.random.default_rng(5)
    a = 28
    n = rng.integers(200, 601, a).astype(np.float64)
    acc = _accounts(n, rng.uniform(0, 2 * DAY, a), 14 * DAY, demand_per_row_s=40.0, cap_share=1.0)
    keys = [[7000, 7001 + i % 3] for i in range(a)]
    edges = _edges(tpl_prefix=_content(n, keys, np.full(a, 0.3)), ip=_infra(n, np.full(a, 99)),
                   payment=_infra(n, np.full(a, 77)))
    accounts, campaigns = detect(_ids(a, "corp"), acc, edges, DetectConfig())
    assert not any(x.flagged for x in accounts), max(x.score for x in accounts)
    # each colleague's own score stays below the flag: code questions at a human rate are not harvest
    assert max(x.signals["human_rate_multiple"] for x in accounts) < 0.5


def test_one_workload_on_twenty_datacenter_ips_stays_one_campaign():
    """400 accounts, 20 per datacenter IP, all sending the same translate-then-explain scaffolds in
    the same proportions, switched on within an hour: one campaign, not twenty."""
    rng = np.random.default_rng(2)
    a = 400
    n = rng.integers(40, 61, a).astype(np.float64)
    acc = _accounts(n, DAY + rng.uniform(0, HOUR, a), 3 * DAY, demand_per_row_s=30.0, gap_cv=1.0)
    keys = [[3000 + j for j in range(8)] for _ in range(a)]
    edges = _edges(tpl_prefix=_content(n, keys, np.full(a, 0.12)), ip=_infra(n, 10 + np.arange(a) // 20))
    accounts, campaigns = detect(_ids(a, "ml"), acc, edges, DetectConfig())
    assert len(campaigns) == 1 and len(campaigns[0].accounts) == a
    assert all(x.flagged for x in accounts)


def test_two_campaigns_on_their_own_ips_with_their_own_scaffold_mixes_stay_apart():
    """Two operators drawing from one public scaffold bank, each on its own IPs, each with its own
    mix of scaffolds: the infrastructure split still separates them. The log opens two days before
    the first operator (account 120, an ordinary user), so both operators' onsets are arrivals."""
    rng = np.random.default_rng(4)
    a = 121
    n = np.where(np.arange(a) < 120, 50.0, 5.0)
    starts = np.where(np.arange(a) < 60, 2 * DAY, 3 * DAY)  # independent operators: their own days
    starts = np.where(np.arange(a) < 120, starts + rng.uniform(0, HOUR, a), 0.0)
    acc = _accounts(n, starts, 3 * DAY, demand_per_row_s=30.0, gap_cv=1.0)
    bank = [5000 + j for j in range(10)]
    keys = [bank[:6] if i < 60 else bank[4:] for i in range(120)] + [[]]  # overlap on two scaffolds only
    edges = _edges(tpl_prefix=_content(n, keys, np.full(a, 0.16)), ip=_infra(n, np.digitize(np.arange(a), [60, 120]) + 1))
    _, campaigns = detect(_ids(a, "op"), acc, edges, DetectConfig())
    got = sorted(len(c.accounts) for c in campaigns)
    assert got == [60, 60]


def _steady(a, n, firsts, span_us, rng):
    """Accounts sending n requests each at a steady pace round the clock (every hour touched)."""
    acc = _accounts(np.full(a, float(n)), firsts, span_us, demand_per_row_s=40.0, gap_cv=1.0)
    acc["shared_rows"] = np.zeros(a)  # casual chat: no shared template
    acc["active_hours"] = np.full(a, min(float(n), span_us / HOUR))
    return acc


def test_round_the_clock_accounts_on_shared_proxy_ips_are_linked_people_behind_one_nat_are_not():
    """200 accounts with casual prompts (no shared content), 20 per proxy address, switched on
    within an hour and sending ~1 request an hour round the clock for a week: one operator's pool,
    linked through the addresses and flagged. 200 people behind the same 10 carrier-NAT addresses
    (sessions in their waking hours) are not linked."""
    rng = np.random.default_rng(9)
    a, span = 200, 7 * DAY
    acc = _steady(a, 168, DAY + rng.uniform(0, HOUR, a), span, rng)
    assert human_rate_multiple(np.array([a * 168 * 40.0]), np.array([span + HOUR]), HumanRate())[0] > 2
    edges = _edges(ip=_infra(np.full(a, 168.0), np.arange(a) // 20))
    accounts, campaigns = detect(_ids(a, "mm"), acc, edges, DetectConfig())
    assert all(x.flagged for x in accounts)
    assert sorted(len(c.accounts) for c in campaigns) == [20] * 10
    assert all(x.signals["round_the_clock"] > 0.9 for x in accounts)
    # people: the same volume in waking-hour sessions (about a third of the hours a steady pace touches)
    people = _steady(a, 168, rng.uniform(0, 7 * DAY, a), span, rng)
    people["active_hours"] = np.full(a, 40.0)
    people["gap_std"] = 4.0 * people["gap_mean"]
    accounts, campaigns = detect(_ids(a, "pp"), people, edges, DetectConfig())
    assert not campaigns and not any(x.flagged for x in accounts)
    assert all(x.signals["round_the_clock"] == 0.0 for x in accounts)


def test_proxy_slash24_pool_with_distinct_addresses_is_linked_through_the_prefix():
    """The same round-the-clock pool, but every account rotating through its own addresses inside
    one of ten proxy /24s (no address shared): the /24 prefix key links each /24's accounts. The same
    accounts each keeping one address of their ISP's /24 (neighbours, not a rotation) are not
    linked, even round the clock."""
    rng = np.random.default_rng(12)
    a, span = 200, 7 * DAY
    acc = _steady(a, 168, DAY + rng.uniform(0, HOUR, a), span, rng)
    acc["n_ip"] = np.full(a, 40.0)
    # each account's 40 addresses are its own: no shared-address edge, only the shared /24
    edges = _edges(ip=_empty(), ip_prefix=_infra(np.full(a, 168.0), np.arange(a) // 20))
    accounts, campaigns = detect(_ids(a, "px"), acc, edges, DetectConfig())
    assert all(x.flagged for x in accounts)
    assert sorted(len(c.accounts) for c in campaigns) == [20] * 10
    without = detect(_ids(a, "px"), acc, _edges(), DetectConfig())[1]
    assert not without
    acc["n_ip"] = np.ones(a)
    accounts, campaigns = detect(_ids(a, "px"), acc, edges, DetectConfig())
    assert not campaigns and not any(x.flagged for x in accounts)


def test_ip_prefix_is_the_slash24_or_slash48_on_duckdb_and_in_python():
    import duckdb
    import ibis
    import pyarrow as pa

    from stillwatch.guard.features.tables import ip_prefix, ip_prefix_py

    cases = {"73.86.117.122": "73.86.117", "10.0.0.1": "10.0.0", "2001:db8::1": "2001:db8:0",
             "2001:DB8:0:1::5": "2001:db8:0", "2001::5": "2001:0:0", "2001:db8:0:0:1:2:3:4": "2001:db8:0",
             "garbage": None, "": None, "1.2.3": None}
    raw = duckdb.connect()
    raw.register("t", pa.table({"ip": list(cases)}))
    t = ibis.duckdb.from_connection(raw).table("t")
    got = t.select(p=ip_prefix(t.ip)).to_pyarrow()["p"].to_pylist()
    assert got == list(cases.values())
    assert [ip_prefix_py(x) for x in cases] == list(cases.values())


def test_two_operators_sharing_every_scaffold_are_separated_by_their_workload_levels():
    """Two account pools driven by two schedulers through the same scaffold set on residential
    proxies (no shared address): 300 accounts at ~38 requests and 2,500 at ~13 (each pool's
    volumes within a small factor). Their workload levels separate them; a single pool whose
    volumes spread uniformly between x and 2x stays one campaign."""
    rng = np.random.default_rng(21)
    a1, a2 = 300, 2500
    n = np.concatenate([np.round(np.exp(rng.normal(np.log(38), 0.17, a1))),
                        np.round(np.exp(rng.normal(np.log(13), 0.28, a2)))])
    a = a1 + a2
    acc = _accounts(n, rng.uniform(0, DAY, a), 5 * DAY, demand_per_row_s=60.0, gap_cv=1.0)
    keys = [[8000 + j for j in rng.choice(12, 6, replace=False)] for _ in range(a)]
    edges = _edges(tpl_prefix=_content(n, keys, np.full(a, 1.0 / 6)), ip=_infra(n, 90_000 + np.arange(a)))
    ids = _ids(a, "w")
    _, campaigns = detect(ids, acc, edges, DetectConfig())
    parts = [set(c.accounts) for c in campaigns]
    first = set(ids[:a1])
    best = max(parts, key=lambda p: len(p & first))
    assert len(best & first) >= 0.97 * a1 and len(best - first) <= 0.03 * a2
    assert sum(len(p) for p in parts) == a and len(parts) == 2
    # one pool, volumes uniform over [150, 300]: one campaign
    n1 = rng.integers(150, 301, 400).astype(np.float64)
    acc1 = _accounts(n1, rng.uniform(0, DAY, 400), 5 * DAY, demand_per_row_s=60.0, gap_cv=1.0)
    keys1 = [[8000 + j for j in rng.choice(12, 6, replace=False)] for _ in range(400)]
    e1 = _edges(tpl_prefix=_content(n1, keys1, np.full(400, 1.0 / 6)), ip=_infra(n1, 90_000 + np.arange(400)))
    _, campaigns = detect(_ids(400, "v"), acc1, e1, DetectConfig())
    assert len(campaigns) == 1 and len(campaigns[0].accounts) == 400


def test_people_with_one_coincident_request_on_a_campaigns_scaffold_do_not_inherit_its_score():
    """A synchronised 300-account campaign (8 requests per account) sends everything through six
    scaffolds; 200 ordinary people (6 requests each) once asked a question that lands on one of those scaffold keys. They
    are linked into the cluster, but one coincident request in six does not make them sybils:
    they stay below the flag, are not listed as the campaign's accounts, and every campaign
    account ranks above every person."""
    rng = np.random.default_rng(8)
    c, p = 300, 200
    n = np.concatenate([np.full(c, 8.0), np.full(p, 6.0)])
    firsts = np.concatenate([DAY + rng.uniform(0, HOUR, c), rng.uniform(0, 6 * DAY, p)])
    acc = _accounts(n, firsts, 6 * DAY, demand_per_row_s=60.0, gap_cv=1.0)
    acc["shared_rows"] = np.concatenate([np.full(c, 8.0), np.full(p, 1.0)])
    keys = [[6000 + j for j in range(6)] for _ in range(c)] + [[6000 + i % 6] for i in range(p)]
    share = np.concatenate([np.full(c, 1.0 / 6), np.full(p, 1.0 / 6)])
    edges = _edges(tpl_prefix=_content(n, keys, share), ip=_infra(n, 70_000 + np.arange(c + p)))
    accounts, campaigns = detect(_ids(c + p, "k"), acc, edges, DetectConfig())
    camp = [x for x in accounts[:c]]
    ppl = [x for x in accounts[c:]]
    assert all(x.flagged for x in camp)
    assert not any(x.flagged for x in ppl), max(x.score for x in ppl)
    assert all(x.campaign_id is None for x in ppl)
    assert len(campaigns) == 1 and len(campaigns[0].accounts) == c
    assert min(x.score for x in camp) > max(x.score for x in ppl)
