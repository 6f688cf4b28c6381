"""Template frames (features/frames.py): a slot template's fixed words as a content key, and the
public-phrase veto that keeps popular phrases from linking (links.key_link_stats, ``public_veto``).

Issue 13, held-out A: four resellers share one chain-of-thought harvest template ``Q: <slot>? A: Let's
think step by step.`` whose fixed part is shorter than the template fingerprints, so each account's
copies fell under ~10 keys seen once each and nothing linked them. Expected values are written out
from the rules in the docstrings, not read off the code under test."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _fixtures_frames import pool_rows, public_phrase_rows, slot_operator_rows  # noqa: E402
from _fixtures_pipeline import make_log  # noqa: E402

from stillwatch.guard.features.frames import FRAME_WORDS, affix_py, affix_table, frame_keys  # noqa: E402
from stillwatch.guard.score.config import DetectConfig  # noqa: E402
from stillwatch.guard.score.links import key_link_stats  # noqa: E402

CFG = DetectConfig()


def _h(s: str) -> int:
    return int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "little") >> 1


PROMPTS = [
    "q: what does the parser return for an empty list? a: let's think step by step.",
    "explain recursion",  # two words: no affix of three or more words
    "one two",
    "x  y",  # a double space: an empty word, no affix across it in Python or by the regex
    "answer the following question: why is the sky blue?",
    " a leading space and a trailing one ",  # an empty first and last word: no affix on either side
    "über straße 7 ende",  # characters, not bytes
]


def test_affixes_known_answers():
    hs, ls, n = affix_py(PROMPTS[0], _h)
    assert n == len(PROMPTS[0]) and len(hs) == len(ls) == 2 * FRAME_WORDS
    # suffixes: the last n words; n = 6 is the template's fixed end
    assert ls[FRAME_WORDS + 5] == len("a: let's think step by step.") == 28
    assert hs[FRAME_WORDS + 5] == _h("a: let's think step by step.")
    assert ls[0] == 2 and hs[0] == _h("q:")  # the first word
    assert ls[FRAME_WORDS - 1] == len("q: what does the parser return for an")
    # an affix as long as the prompt is no affix; fewer words than n: none
    hs, ls, _ = affix_py("explain recursion", _h)
    assert ls[:3] == (7, 0, 0) and ls[FRAME_WORDS:FRAME_WORDS + 3] == (9, 0, 0)


def test_affixes_in_python_match_duckdb():
    """Lengths equal, and hashes there (not null) where Python's are (the engine's hash values are its own)."""
    import ibis

    t = ibis.memtable({"norm": PROMPTS})
    got = ibis.duckdb.connect().to_pyarrow(affix_table(t, "duckdb", ("norm",))).to_pylist()
    got = sorted(got, key=lambda r: PROMPTS.index(r["norm"]))
    assert len(got) == len(PROMPTS)
    for row, p in zip(got, PROMPTS):
        hs, ls, _ = affix_py(p, _h)
        for j, side in enumerate(["p"] * FRAME_WORDS + ["s"] * FRAME_WORDS):
            n = j % FRAME_WORDS + 1
            assert row[f"{side}_l{n}"] == ls[j], (p, side, n)
            assert (row[f"{side}_h{n}"] is None) == (hs[j] == 0), (p, side, n)
    # the same affix text gives the same engine hash across prompts
    dup = ibis.memtable({"norm": ["a b c d", "a b x d", "z b c d"]})
    g = sorted(ibis.duckdb.connect().to_pyarrow(affix_table(dup, "duckdb", ("norm",))).to_pylist(), key=lambda r: r["norm"])
    assert g[0]["p_h1"] == g[1]["p_h1"] != g[2]["p_h1"]  # "a", "a", "z"
    assert g[0]["s_h2"] == g[2]["s_h2"] != g[1]["s_h2"]  # "c d", "x d", "c d"


def _rows(per_account: list[list[str]]):
    acc, ph, nl, hh, ll = [], [], [], [], []
    for a, prompts in enumerate(per_account):
        for p in prompts:
            hs, ls, n = affix_py(p, _h)
            acc.append(a), ph.append(_h(p)), nl.append(n), hh.append(hs), ll.append(ls)
    return (np.array(acc), np.array(ph), np.array(nl), list(np.array(hh, np.int64).T), list(np.array(ll, np.int64).T))


def _slot(i: int) -> str:
    words = "parser buffer socket token cache index schema cursor thread queue matrix vector".split()
    return f"{words[i % 12]} {words[(i * 5 + 3) % 12]} returns the {words[(i * 7 + 1) % 12]} of {words[(i * 11 + 2) % 12]}"


def test_frame_keys_known_answers():
    template = [f"q: {_slot(i)}? a: let's think step by step." for i in range(12)]
    plain = [f"{_slot(i)} and then {_slot(i + 1)} please" for i in range(20, 26)]
    shop = [f"system: shop 0 helper; {s} user: {_slot(i)}" for i, s in
            enumerate(["keep it short.", "keep it short.", "be kind.", "asap please.", "keep it short."] * 2)]
    rows = _rows([
        template[:5] + plain,  # 0: the operator's first account, a third of its prompts on the template
        template[5:9],  # 1: another of its accounts
        ["why is the sky blue today, my friend? a: let's think step by step."],  # 2: the public suffix once
        shop,  # 3: an app whose every request carries its system prompt
        ["how do i " + _slot(i) for i in range(4)],  # 4: three common words, too short a frame
        [shop[0], shop[2]],  # 5: sends two of the app's prompts (too few to have a wrapper of its own)
    ])
    key, ok = frame_keys(*rows, min_prompts=3, min_chars=16)
    acc = rows[0]
    # the template's rows of accounts 0 and 1 share one frame ("q:" | "a: let's think step by step.")
    t_rows = np.r_[0:5, 11:15]
    assert ok[t_rows].all() and len(set(key[t_rows])) == 1
    # account 0's plain rows carry no frame (no affix on >= 3 of its prompts but the template's)
    assert not ok[5:11].any()
    # the public suffix written once gets the suffix frame named by the operator's accounts, without
    # their "q:": another key
    assert ok[15] and key[15] != key[0]
    # the app: one frame on every row (its wrapper "system: shop 0 helper;"), not one per style word —
    # "... helper; keep it short. user:" (8 words) is named by its six "keep it short." prompts
    app = np.flatnonzero(acc == 3)
    assert ok[app].all() and len(set(key[app])) == 1 and key[app[0]] != key[0]
    # "how do i" (8 characters) is below min_chars
    assert not ok[acc == 4].any()
    # an account that is not wrapped gets the longest frame affix named anywhere: the "keep it short."
    # prompt the 8-word one (another key), the "be kind." prompt the wrapper's 4 words (the app's key)
    five = np.flatnonzero(acc == 5)
    assert ok[five].all() and key[five[0]] != key[app[0]] and key[five[1]] == key[app[0]]


def _veto_case(light: int, heavy: int, rows_heavy: float = 60.0, n: float = 120.0):
    """One frame key: ``heavy`` users with ``rows_heavy`` of ``n`` rows on it (>= 2 sampled rows of 32),
    ``light`` users with one sampled row of 32 (n / 32 rows)."""
    users = light + heavy
    ea = np.arange(users, dtype=np.int64)
    cnt = np.r_[np.full(heavy, rows_heavy), np.full(light, n / 32)]
    nn = np.full(users, n)
    return ea, np.zeros(users, np.int64), cnt, nn, np.full(users, 32.0)


@pytest.mark.parametrize("light,heavy,veto_links", [(0, 4, True), (0, 60, True), (3, 60, True), (4, 60, False),
                                                     (40, 60, False), (1, 4, False)])
def test_public_veto_by_the_share_of_light_users(light, heavy, veto_links):
    """A frame links while at most frame_light_share (0.05) of its users write it once: 3 of 63 (0.048)
    links, 4 of 64 (0.0625) does not, 1 of 5 does not."""
    ea, ek, cnt, nn, m = _veto_case(light, heavy)
    # focus: (heavy * 60 + light * 3.75) / (users * (120 + 8)) >= 0.2 in every case, so the key rules link it
    focus = (heavy * 60 + light * 120 / 32) / ((light + heavy) * 128)
    assert focus >= CFG.link.focus
    assert key_link_stats(ea, ek, cnt, nn, CFG, sampled_rows=m)["links"].all()
    kl = key_link_stats(ea, ek, cnt, nn, CFG, sampled_rows=m, public_veto=True)
    assert kl["links"].all() == veto_links and kl["links"].any() == veto_links


@pytest.fixture(scope="module")
def frame_log(tmp_path_factory):
    """People of the pipeline log (its two campaigns kept), the slot operator, public phrases and a
    heavy-tailed pool, scanned once on DuckDB."""
    import pyarrow.parquet as pq

    from stillwatch.guard.batch.scan import scan

    base, labels = make_log(seed=3, n_human=200, camp_a=8, camp_b=6)
    slot, slot_ids = slot_operator_rows(base.schema)
    pub, pub_ids = public_phrase_rows(base.schema)
    pool, pool_ids = pool_rows(base.schema)
    table = pa.concat_tables([base, slot, pub, pool])
    path = tmp_path_factory.mktemp("frames") / "log.parquet"
    pq.write_table(table, path)
    return table, labels, slot_ids, pub_ids + pool_ids, scan(path)


def test_a_slot_template_links_its_accounts_into_one_flagged_campaign(frame_log):
    """On main the five accounts score 0.07-0.09, each alone (the template's fingerprints differ
    with every question); with the frame they are one campaign, flagged."""
    _, _, slot_ids, _, f = frame_log
    got = {f.account(a).campaign_id for a in slot_ids}
    assert got == {"campaign-slot-00"}
    assert all(f.account(a).flagged for a in slot_ids)
    camp = [c for c in f.campaigns if c.campaign_id == "campaign-slot-00"][0]
    assert set(camp.accounts) == set(slot_ids)


def test_popular_phrases_and_a_shared_pool_link_and_flag_nobody(frame_log):
    """150 people writing "Answer the following question:" / "Let's think step by step." at their own
    rates (one in ten on every request) and 300 drawing from one Zipf pool of templated questions:
    none in a campaign, none flagged; the pipeline log's own verdicts stand (its two campaigns, nobody else)."""
    table, labels, slot_ids, benign_ids, f = frame_log
    assert not any(f.account(a).campaign_id for a in benign_ids)
    assert not any(f.account(a).flagged for a in benign_ids)
    flagged = {a.account_id for a in f.flagged}
    assert flagged == {a for a, c in labels.items() if c} | set(slot_ids)


def test_a_pool_with_no_campaign_flags_nothing(tmp_path):
    """Calibration: only people — the pipeline log's, the public phrases' and the Zipf pool's — and no
    campaign: no account flagged, no campaign, and no frame key links anyone. Detection reads the
    unpruned frame edges (every key, to judge them here), which finds what a scan finds
    (test_guard_frames_prune.py)."""
    import pyarrow.parquet as pq

    from stillwatch.guard.batch.scan import feature_tables
    from stillwatch.guard.score.detect import detect

    base, _ = make_log(seed=8, n_human=120, camp_a=0, camp_b=0)
    pub, _ = public_phrase_rows(base.schema, seed=4, n_accounts=200)
    pool, _ = pool_rows(base.schema, seed=4, n_accounts=400)
    pq.write_table(pa.concat_tables([base, pub, pool]), tmp_path / "log.parquet")
    ft = feature_tables(tmp_path / "log.parquet", prune_frames=False)
    accounts, campaigns = detect(ft.ids, ft.cols, ft.edges)
    assert len(accounts) == len(ft.ids) > 700 and not any(a.flagged for a in accounts) and not campaigns
    ea, ek, kc, cnt, _ = ft.edges["tpl_frame"]
    assert len(ea) > 100  # frames are there to judge (the pool's templates, the phrases)
    n = np.asarray(ft.cols["n"], np.float64)
    kl = key_link_stats(ea, ek, cnt, n, CFG, sampled_rows=ft.cols["sampled_rows"], key_cap=kc, public_veto=True)
    assert not kl["links"].any()
    # ... and it is the public-phrase veto that keeps them apart: without it a phrase links dozens of people
    assert key_link_stats(ea, ek, cnt, n, CFG, sampled_rows=ft.cols["sampled_rows"], key_cap=kc)["links"].sum() >= 40


def test_streaming_scorer_finds_the_same_frames(frame_log):
    """The streaming scorer's final verdicts (frames from its samples' affixes) agree with the batch on
    the slot operator and flag none of the people. Replayed: the slot operator's traffic with every
    second public-phrase writer and pool user (a third of the log; the scorer observes ~3,000 rows a
    second here). A scorer whose `frame_keys` finds no frame links and flags none of the five."""
    from stillwatch.guard.live.stream import StreamConfig, StreamingScorer

    table, labels, slot_ids, benign_ids, f = frame_log
    people = benign_ids[::2]
    keep = table.filter(pc.is_in(table["account_id"], pa.array(slot_ids + people)))
    rows = keep.sort_by([("ts", "ascending"), ("request_id", "ascending")]).to_pylist()
    scorer = StreamingScorer(StreamConfig())
    for r in rows:
        scorer.observe(r)
    live = {a.account_id: a for a in scorer.verdicts()}
    for a in slot_ids:
        assert live[a].campaign_id == f.account(a).campaign_id == "campaign-slot-00"
        assert live[a].flagged
    assert not any(live[a].flagged for a in people)


def test_frame_settings_are_checked():
    from stillwatch.errors import GuardInputError
    from stillwatch.guard.features.tables import FeatureConfig
    from stillwatch.guard.score.config import LinkConfig

    with pytest.raises(GuardInputError, match="min_frame_chars"):
        FeatureConfig(min_frame_chars=0)
    with pytest.raises(GuardInputError, match="frame_light_share"):
        LinkConfig(frame_light_share=1.5)
