"""The budget split of `trace provenance` (issue 17, eleventh session): a suspect tested in chat and raw mode gets 2/3
of its 2N queries in chat when its chat answers to the 20-prompt probe (profile prompts, never test prompts) depend on
the prompt, half each otherwise (``ProvenanceConfig.budget_split = "auto"``).

Expected values are worked by hand or from the rule's definition (2/3 of 2N, the share of useful pairs counted pair by
pair), not read from the code under test. Worlds are scripted (a seeded hash of the prompt picks each answer) or drawn
with numpy. Failure modes played: a per-mode budget not honoured (a mode asked more or fewer prompts than its share, or
other prompts than the shared prefix), a split chosen from anything but the probe, and a chat-heavy test that loses its
level under the null at the boundary of the intersection-union test.
"""

from __future__ import annotations

import hashlib
import itertools

import numpy as np
import pytest

from stillwatch.core.stats import binomial_interval
from stillwatch.errors import InputError
from stillwatch.trace.provenance import ProvenanceConfig, run_provenance
from stillwatch.trace.provenance_probe import USEFUL_PAIRS_MIN, useful_pair_share
from stillwatch.trace.provenance_prompts import sample_prompts

WORDS = [f"{a}{b}" for a in ("Al", "Be", "Ca", "Do", "Ex", "Fo") for b in ("ra", "pe", "mo", "ti")]


def _h(*parts) -> int:
    return int(hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:12], 16)


class Scripted:
    """Answers ``rule(prompt, mode)``; records every prompt it is asked, per mode, in order."""

    modes = ("chat", "raw")

    def __init__(self, name, rule):
        self.name, self.identity, self.rule = name, f"scripted:{name}", rule
        self.asked: dict[str, list[str]] = {"chat": [], "raw": []}

    def answers(self, prompts, *, max_tokens=1, mode="chat"):
        self.asked[mode] += list(prompts)
        return [self.rule(p, mode) for p in prompts]


def _word(salt):
    return lambda p, mode: WORDS[_h(salt, mode, p) % len(WORDS)]


def _naive_useful(words, empty_is_blank=True):
    """Pairs counted one by one: both answers informative (not whitespace; an empty answer, the end of text, only when
    it is not blanked), first words different."""
    first = [w.split()[0] if w.strip() else w for w in words]
    ok = [w.strip() != "" or (w == "" and not empty_is_blank) for w in words]
    pairs = list(itertools.combinations(range(len(words)), 2))
    return sum(ok[i] and ok[j] and first[i] != first[j] for i, j in pairs) / len(pairs)


def test_useful_pair_share_known_values():
    # 5 answers, 10 pairs; blank rule: "The", "The cat", "A" informative -> 3 pairs among them, 1 with equal first words
    a = ["The", "The cat", "A", " ", ""]
    assert useful_pair_share(a) == pytest.approx(2 / 10) == pytest.approx(_naive_useful(a))
    # end of text an answer of its own: "" is informative too -> 6 pairs among 4, 1 equal
    assert useful_pair_share(a, end_of_text="answer") == pytest.approx(5 / 10) == pytest.approx(_naive_useful(a, empty_is_blank=False))
    assert useful_pair_share(["The"] * 20) == 0.0 and useful_pair_share(["x"]) == 0.0
    # the threshold: the caveat boundary, one word on 80 % of the prompts and the rest different, in the limit
    assert USEFUL_PAIRS_MIN == pytest.approx(1 - 0.8**2)
    rng = np.random.default_rng(3)
    for _ in range(20):
        w = list(rng.choice(["The", "A b", "In", " ", "", "Yes no"], size=int(rng.integers(2, 30))))
        assert useful_pair_share(w) == pytest.approx(_naive_useful(w))
        assert useful_pair_share(w, end_of_text="answer") == pytest.approx(_naive_useful(w, empty_is_blank=False))


def _panel():
    return [Scripted("cand", _word("c")), Scripted("base", _word("g"))], [Scripted("ref", _word("r"))]


def test_probe_decides_chat_heavy_for_a_working_chat_and_even_for_a_constant_one():
    """The split reads the 20 probe prompts (the profile stream) and nothing else: chat asked first exactly those 20;
    a suspect with prompt-dependent chat answers gets round(2/3 x 300) = 200 chat prompts and 100 raw, a constant chat
    (all "The") 150 each; every query is counted, and the result says which split and why."""
    cfg = ProvenanceConfig(max_queries=150, look_every=150, alpha=0.05, modes=("chat", "raw"), profile_queries=40)
    probe = sample_prompts(20, seed=0, stream="profile")
    test = sample_prompts(200, seed=0)
    for rule, split, budget in ((_word("s"), "chat-heavy", {"chat": 200, "raw": 100}),
                                (lambda p, m: "The" if m == "chat" else _word("s")(p, m), "even", {"chat": 150, "raw": 150})):
        sus = Scripted("suspect", rule)
        cands, refs = _panel()
        r = run_provenance(sus, cands, refs, config=cfg)
        assert r.budget_split == split and r.budget == budget
        assert sus.asked["chat"][:20] == probe and sus.asked["chat"][20:] == test[:budget["chat"]]
        assert sus.asked["raw"] == test[:budget["raw"]]  # raw asks the first prompts of the same list
        assert r.queries_spent == 20 + budget["chat"] + budget["raw"] == len(sus.asked["chat"]) + len(sus.asked["raw"])
        d = r.to_dict()
        assert d["budget_split"] == split and d["budget"] == budget and "probe prompts" in d["budget_reason"]
        # the panel answers the most chat prompts any split may ask, once: 200 (+ 40 profile prompts)
        assert len(cands[0].asked["chat"]) == 200 + 40 and len(cands[0].asked["raw"]) == 150


def test_each_look_asks_each_mode_the_same_share_of_its_budget():
    """Looks of 50 of N = 150 (shares 1/3, 2/3, 1): chat-heavy 200 / 100 -> (67, 34), (134, 67), (200, 100) prompts."""
    cfg = ProvenanceConfig(max_queries=150, look_every=50, alpha=0.05, modes=("chat", "raw"), profile_queries=40,
                           budget_split="chat-heavy")
    sus = Scripted("suspect", _word("s"))  # independent: no early rejection, no futility before the second look
    r = run_provenance(sus, *_panel(), config=cfg)
    want = [{"chat": 67, "raw": 34}, {"chat": 134, "raw": 67}, {"chat": 200, "raw": 100}]
    assert [lk["prompts"] for lk in r.looks] == want[:len(r.looks)] and len(r.looks) >= 2
    assert [lk["queries"] for lk in r.looks] == [sum(w.values()) for w in want[:len(r.looks)]]
    assert r.queries_spent == r.looks[-1]["queries"]  # a set split: no probe asked (suspect_max_tokens None)
    assert "set, not chosen" in r.budget_reason and r.most_likely_parent is None


def _given(n_chat, n_raw, rng):
    words = np.array(WORDS)
    panel = {"chat": [list(rng.choice(words, n_chat)) for _ in range(2)], "raw": [list(rng.choice(words, n_raw)) for _ in range(2)]}
    sus = {"chat": list(rng.choice(words, n_chat)), "raw": list(rng.choice(words, n_raw))}
    return panel, sus


class _N:
    def __init__(self, name):
        self.name = name


def test_given_answers_need_the_probe_for_auto_and_a_long_enough_panel():
    rng = np.random.default_rng(1)
    cfg = ProvenanceConfig(max_queries=60, look_every=60, alpha=0.05, modes=("chat", "raw"), habit_top=0)
    panel, sus = _given(80, 60, rng)
    with pytest.raises(InputError, match="probe_answers"):
        run_provenance(_N("s"), [_N("c")], [_N("r")], config=cfg, panel_answers=panel, suspect_answers=sus)
    varied, constant = list(np.array(WORDS)[np.arange(20) % 12]), ["The"] * 20
    r = run_provenance(_N("s"), [_N("c")], [_N("r")], config=cfg, panel_answers=panel, suspect_answers=sus, probe_answers=varied)
    assert r.budget == {"chat": 80, "raw": 40} and len(r.answers["chat"]) == 80 and len(r.answers["raw"]) == 40
    r = run_provenance(_N("s"), [_N("c")], [_N("r")], config=cfg, panel_answers=panel, suspect_answers=sus, probe_answers=constant)
    assert r.budget == {"chat": 60, "raw": 60} and r.budget_split == "even"
    short = {"chat": [a[:60] for a in panel["chat"]], "raw": panel["raw"]}
    with pytest.raises(InputError, match="at least"):
        run_provenance(_N("s"), [_N("c")], [_N("r")], config=cfg, panel_answers=short, suspect_answers=sus, probe_answers=varied)
    with pytest.raises(InputError, match="budget_split"):
        ProvenanceConfig(budget_split="lopsided")


def _student_world(rng, n_chat, n_raw, copy):
    """A chat-only student: copies the teacher (panel model 0) on ``copy`` of the chat prompts, answers its own words
    elsewhere (prompt-dependent, so the probe finds a working chat); raw mode is its base's, independent of the panel."""
    w = np.array(WORDS)
    teacher, ref = rng.choice(w, n_chat), rng.choice(w, n_chat)
    chat = np.where(rng.random(n_chat) < copy, teacher, rng.choice(w, n_chat))
    raw_panel = [list(rng.choice(w, n_raw)) for _ in range(2)]
    return ({"chat": list(chat), "raw": list(rng.choice(w, n_raw))},
            {"chat": [list(teacher), list(ref)], "raw": raw_panel}, list(rng.choice(w, 20)))


def test_chat_heavy_split_finds_a_chat_only_student_more_often():
    """Power, the reason for the split: over the same 40 worlds of a weak chat-only student (8 % copies, the zoo's ft4 /
    ft6 kind), the probe's split (chat-heavy here) attributes it more often than the even split, never wrongly."""
    n = 240
    heavy = even = wrong = 0
    for seed in range(40):
        sus, panel, probe = _student_world(np.random.default_rng(700 + seed), 320, n, 0.08)
        kw = dict(max_queries=n, look_every=n // 4, alpha=0.05, modes=("chat", "raw"), habit_top=0)
        a = run_provenance(_N("s"), [_N("t")], [_N("r")], config=ProvenanceConfig(**kw), panel_answers=panel,
                           suspect_answers=sus, probe_answers=probe)
        b = run_provenance(_N("s"), [_N("t")], [_N("r")], config=ProvenanceConfig(**kw, budget_split="even"), panel_answers=panel,
                           suspect_answers=sus)
        assert a.budget_split == "chat-heavy"
        heavy += a.most_likely_parent == "t"
        even += b.most_likely_parent == "t"
        wrong += a.most_likely_parent not in (None, "t")
    assert heavy >= even + 5 and wrong == 0, (heavy, even)


def test_chat_heavy_split_stays_within_alpha_at_the_boundary_of_the_null():
    """Null at the boundary of the intersection-union test in chat mode: the suspect copies the candidate and the
    reference equally often (30 % each) and answers prompt-dependent words otherwise (so the probe chooses chat-heavy);
    raw mode carries nothing. Over 400 worlds at alpha 0.1 the rate of any attribution stays within the 99 % binomial
    interval of alpha."""
    alpha, seeds, n = 0.1, 400, 120
    hits = 0
    w = np.array(WORDS[:8])
    for seed in range(seeds):
        rng = np.random.default_rng(12_000 + seed)
        cand, ref = rng.choice(w, 160), rng.choice(w, 160)
        u = rng.random(160)
        chat = np.where(u < 0.3, cand, np.where(u < 0.6, ref, rng.choice(w, 160)))
        raw = [list(rng.choice(w, n)) for _ in range(3)]
        cfg = ProvenanceConfig(max_queries=n, look_every=40, alpha=alpha, modes=("chat", "raw"), habit_top=0)
        r = run_provenance(_N("s"), [_N("c")], [_N("r")], config=cfg, panel_answers={"chat": [list(cand), list(ref)], "raw": raw[1:]},
                           suspect_answers={"chat": list(chat), "raw": raw[0]}, probe_answers=list(rng.choice(w, 20)))
        assert r.budget == {"chat": 160, "raw": 80}
        hits += r.most_likely_parent is not None
    lo, _ = binomial_interval(hits, seeds, 0.99)
    assert lo <= alpha, (hits, seeds)
