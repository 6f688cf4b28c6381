"""Template-frame keys that detection can never link are left out on the engine (features/frames.py,
``frame_edges``), and what a scan finds is unchanged.

The fixture holds the three cases: frame keys vetoed as public phrases that are no wrappers (people
writing "Answer the following question:" at their own rates: dropped), a *vetoed wrapper with tied
users* (a firm's six staff on one NAT address, every request through their internal tool's frame,
and two visitors who used the tool once: its light users veto it, but its tied users still link,
so it must stay) and kept keys (a slot operator's frame, which links). The expected edges are
worked out here from the unpruned ones with plain Python (a naive reference of the rule), not with
the code under test.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from _fixtures_frames import _person_times, _row, _table, public_phrase_rows, slot_operator_rows
from _fixtures_pipeline import _WORDS, make_log
from stillwatch.guard.score.config import DetectConfig
from stillwatch.guard.score.links import key_link_stats
from stillwatch.guard.score.wrappers import infra_edges

CFG = DetectConfig()


def _office_rows(schema: pa.Schema) -> tuple[pa.Table, list[str], list[str]]:
    """Six staff on one NAT address sending 200 requests each through ``acme desk: <question> reply in
    one line.`` at human hours, and two visitors (their own addresses) who used it once: first and last
    slot words of their own, so their frame is the staff's wrapper frame and nothing longer. With them,
    ``slot-trial``: two requests on the slot operator's template."""
    rng = np.random.default_rng(17)
    rows, staff, visitors = [], [], []
    for i in range(6):
        acct = f"desk-{i}"
        staff.append(acct)
        for j, t in enumerate(_person_times(rng, 200)):
            q = " ".join(rng.choice(_WORDS, 9))
            rows.append(_row(acct, j, int(t), f"acme desk: {q} reply in one line.", "192.168.50.5",
                             "Mozilla/5.0 Edge", int(rng.integers(100, 500))))
    for i in range(2):
        acct = f"visitor-{i}"
        visitors.append(acct)
        q = f"visitor{i} " + " ".join(rng.choice(_WORDS, 8)) + f" ref{i}"
        rows.append(_row(acct, 0, int(_person_times(rng, 1)[0]), f"acme desk: {q} reply in one line.",
                         f"10.77.{i}.9", "Mozilla/5.0 Firefox", 300))
    # the slot operator trying a new account: two requests, both on its template (two sampled rows on
    # the key: not light, so the slot frame is not vetoed; as light it would be, and then dropped)
    for j in range(2):
        q = " ".join(rng.choice(_WORDS, 7))
        rows.append(_row("slot-trial", j, int(_person_times(rng, 1)[0]), f"Q: {q}? A: Let's think step by step.",
                         "52.1.2.3", "OpenAI/Python 1.40.0", 400))
    return _table(rows, schema), staff, visitors


@pytest.fixture(scope="module")
def pruned(tmp_path_factory):
    """(feature tables without pruning, with it, the office's staff and visitors, the slot operator)."""
    import pyarrow.parquet as pq

    from stillwatch.guard.batch.scan import feature_tables

    base, _ = make_log(seed=21, n_human=30, camp_a=0, camp_b=0)
    slot, slot_ids = slot_operator_rows(base.schema, seed=3, n_accounts=4, per_account=60)
    pub, _ = public_phrase_rows(base.schema, seed=5, n_accounts=40)
    office, staff, visitors = _office_rows(base.schema)
    path = tmp_path_factory.mktemp("prune") / "log.parquet"
    pq.write_table(pa.concat_tables([base, slot, pub, office]), path)
    full = feature_tables(path, near_duplicates=False, prune_frames=False)
    return full, feature_tables(path, near_duplicates=False), staff, visitors, slot_ids


def _reference(ft) -> tuple[set, dict]:
    """The frame edges detection might link, by the rule written out per key with dicts: a key goes
    when more than frame_light_share (0.05) of its users hold it on one sampled row *and* its focus
    (rows on it over its users' rows plus own_prior_rows each) is below full_template_share (0.9)."""
    ea, ek, kc, cnt, kp = ft.edges["tpl_frame"]
    n, m = ft.cols["n"], ft.cols["sampled_rows"]
    users: dict[int, list[int]] = {}
    for i, k in enumerate(ek.tolist()):
        users.setdefault(k, []).append(i)
    kept, why = set(), {}
    for k, rows in users.items():
        light = sum(1 for i in rows if round(cnt[i] * m[ea[i]] / n[ea[i]]) == 1)  # sampled rows on the key
        focus = sum(cnt[i] for i in rows) / sum(n[ea[i]] + CFG.own_prior_rows for i in rows)
        vetoed, wrapper = light > CFG.link.frame_light_share * len(rows), focus >= CFG.link.full_template_share
        why[k] = (vetoed, wrapper)
        if not vetoed or wrapper:
            kept |= {(int(ea[i]), k, float(kc[i]), float(cnt[i]), float(kp[i])) for i in rows}
    return kept, why


def _edge_set(ft) -> set:
    ea, ek, kc, cnt, kp = ft.edges["tpl_frame"]
    return {(int(a), int(k), float(c), float(x), float(p)) for a, k, c, x, p in zip(ea, ek, kc, cnt, kp)}


def test_pruned_frame_edges_are_the_reference(pruned):
    """Exactly the reference's edges are kept, and the fixture holds every case: dropped public
    phrases, a kept vetoed wrapper whose tied staff it links (not its visitors), a kept key that links."""
    full, cut, staff, visitors, slot_ids = pruned
    kept, why = _reference(full)
    assert _edge_set(cut) == kept
    assert len(_edge_set(cut)) == len(cut.edges["tpl_frame"][0])  # each edge once
    assert sum(1 for v, w in why.values() if v and not w) >= 3  # public phrases, dropped
    assert np.array_equal(full.ids, cut.ids)
    ids = list(full.ids)
    ea, ek, kc, cnt, _ = full.edges["tpl_frame"]
    desk = {int(k) for a, k in zip(ea, ek) if full.ids[a] == "desk-0"}
    assert len(desk) == 1 and why[desk.pop()] == (True, True)  # vetoed, and a wrapper: kept
    kl = key_link_stats(ea, ek, cnt, full.cols["n"], CFG, None, full.cols["sampled_rows"], kc,
                        infra_edges(full.edges), public_veto=True)
    linked = {full.ids[a] for a in ea[kl["links"]]}
    assert set(staff) <= linked and not set(visitors) & linked  # the wrapper links its tied users only
    assert set(slot_ids) | {"slot-trial"} <= linked
    assert {ids[a] for a in cut.edges["tpl_frame"][0]} >= set(staff) | set(visitors) | set(slot_ids)


def _detect(ft, frames=None):
    from stillwatch.guard.score.detect import account_step, link_step, verdicts

    edges = dict(ft.edges) if frames is None else {**ft.edges, "tpl_frame": frames}
    acct = account_step(ft.cols, edges, CFG)
    lk = link_step(ft.cols, edges, acct, CFG)
    accounts, campaigns = verdicts(ft.ids, ft.cols, edges, acct, lk, CFG, None)
    return lk, repr(accounts), repr(campaigns)  # every field, floats exactly (repr round-trips; nan == nan)


def test_findings_same_with_and_without_pruning(pruned):
    """Same links, scores, verdicts and campaigns from the pruned frame edges as from all of them —
    while dropping every vetoed key instead (the wrapper too) changes what the office's staff are."""
    full, cut, staff, visitors, _ = pruned
    lk0, acc0, camp0 = _detect(full)
    lk1, acc1, camp1 = _detect(full, cut.edges["tpl_frame"])
    assert np.array_equal(lk0.labels, lk1.labels) and np.array_equal(lk0.scripted, lk1.scripted)
    assert acc0 == acc1 and camp0 == camp1
    _, why = _reference(full)
    ea, ek, kc, cnt, kp = full.edges["tpl_frame"]
    keep = np.array([not why[int(k)][0] for k in ek])  # every vetoed key dropped
    lk2, _, _ = _detect(full, (ea[keep], ek[keep], kc[keep], cnt[keep], kp[keep]))
    s = np.isin(full.ids, staff)
    assert (lk0.scripted[s] > 0).all() and not np.array_equal(lk0.scripted[s], lk2.scripted[s])
