"""`trace provenance` with panels and suspects of different kinds: a chat-only reference (the guard
of the habit statistic against habits every chat model shares), and byte-level suspects whose
one-token answers are single characters (asked for more tokens, compared by their first word).

Models here are *scripted*: deterministic functions of the prompt (a seeded hash picks each answer),
so that the world each test plays is exact and known. Attackers played: an independent code model
that answers like any chat model on coding requests ("```") must not be attributed to a chat
candidate; a student that copied the candidate's own habit, and a byte-level copy of the candidate,
must be.
"""

from __future__ import annotations

import hashlib

import numpy as np

from stillwatch.core.stats import binomial_interval
from stillwatch.trace.provenance import LONG_ANSWER_TOKENS, PROBE_PROMPTS, ProvenanceConfig, run_provenance
from stillwatch.trace.provenance_query import MODES

WORDS = [f"{a}{b}" for a in ("Al", "Be", "Ca", "Do", "Ex", "Fo", "Gu", "Hi", "Io", "Ju") for b in ("ra", "pe", "mo", "ti", "su")]


def _h(*parts) -> int:
    return int(hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:12], 16)


def _coding(prompt: str) -> bool:
    return " code that " in prompt


def _question(prompt: str) -> bool:
    return prompt.endswith("?") or prompt.startswith(("Explain", "Give", "Summarize", "How"))


class Scripted:
    """A model whose answer to a prompt is ``rule(prompt, mode)``; ``byte_level`` models emit one
    character per token (so a one-token answer is a single character). Counts its queries per mode."""

    def __init__(self, name, rule, *, modes=MODES, byte_level=False):
        self.name, self.identity, self.rule, self.modes, self.byte_level = name, f"scripted:{name}", rule, modes, byte_level
        self.asked = dict.fromkeys(MODES, 0)

    def answers(self, prompts, *, max_tokens=1, mode="chat"):
        assert mode in self.modes, f"{self.name} was asked in {mode} mode, which it does not serve"
        self.asked[mode] += len(prompts)
        out = [self.rule(p, mode) for p in prompts]
        return [a[:max_tokens] for a in out] if self.byte_level else out


def _word(salt):
    return lambda p, mode: WORDS[_h(salt, mode, p) % len(WORDS)]


def _chat_candidate(p, mode):
    """A chat model: "```" to coding requests, "Certainly" to half the questions (its own habit)."""
    if mode == "chat" and _coding(p):
        return "```"
    if mode == "chat" and _question(p) and _h("c-q", p) % 2:
        return "Certainly"
    return _word("c")(p, mode)


def _other_chat_model(p, mode):
    """An independent chat model: "```" to coding requests too (the generic habit), its own words else."""
    return "```" if _coding(p) else _word("chat-ref")(p, mode)


def _panel(with_chat_reference: bool):
    cands = [Scripted("chat-cand", _chat_candidate), Scripted("base-cand", _word("g"))]
    refs = [Scripted("pretrained-ref", _word("r"))]
    if with_chat_reference:
        refs.append(Scripted("chat-ref", _other_chat_model, modes=("chat",)))
    return cands, refs


CFG = ProvenanceConfig(max_queries=300, look_every=100, alpha=0.05, profile_queries=200)


def test_generic_chat_habit_attributes_a_code_model_without_a_chat_reference_and_not_with_one():
    """The motivating failure: an independent code model answering "```" to everything shares the
    chat candidate's opener on coding requests and nothing else. Without another chat model in the
    panel, both the per-prompt agreement (it agrees with the candidate on the coding prompts, with
    no rival ever) and the habit statistic ("```" is the candidate's most frequent answer) attribute
    it; with a chat-only reference that opens code with "```" as well, neither does."""
    code_model = Scripted("code-model", lambda p, mode: "```")
    cands, refs = _panel(with_chat_reference=False)
    assert run_provenance(code_model, cands, refs, config=CFG).most_likely_parent == "chat-cand"
    cands, refs = _panel(with_chat_reference=True)
    r = run_provenance(code_model, cands, refs, config=CFG)
    assert r.most_likely_parent is None
    chat = next(c for c in r.candidates if c["name"] == "chat-cand")
    assert chat["statistics"]["habits/chat"]["p_value"] == 1.0  # "```" is no habit of the candidate's alone


def test_a_student_that_copied_the_candidates_own_habit_is_still_found_with_the_chat_reference():
    """Positive control: a student answering the candidate's distinctive opener ("Certainly") to
    most prompts is attributed through the habit statistic although it never matches per prompt."""
    cands, refs = _panel(with_chat_reference=True)
    student = Scripted("student", lambda p, mode: "Certainly" if _h("s", p) % 4 else _word("s")(p, mode))
    r = run_provenance(student, cands, refs, config=CFG)
    assert r.most_likely_parent == "chat-cand"
    stats_ = next(c for c in r.candidates if c["name"] == "chat-cand")["statistics"]
    assert stats_["habits/chat"]["p_value"] < 1e-6 < stats_["agreement/chat"]["p_value"]


def test_a_chat_only_reference_sits_raw_mode_out_and_a_raw_copy_is_still_attributed():
    """In a chat + raw test the chat-only reference is never asked in raw mode (it is no rival
    there) and a copy of the base candidate (raw answers kept, chat behaviour broken) is found."""
    cands, refs = _panel(with_chat_reference=True)
    copy = Scripted("pruned-copy", lambda p, mode: _word("g")(p, mode) if mode == "raw" or _h("x", p) % 10 == 0 else "zz")
    cfg = ProvenanceConfig(max_queries=300, look_every=100, alpha=0.05, profile_queries=200, modes=("chat", "raw"))
    r = run_provenance(copy, cands, refs, config=cfg)
    assert r.most_likely_parent == "base-cand"
    # the panel answers the most chat prompts any budget split may ask (chat-heavy: 2/3 of 2 x 300) + the profile
    assert refs[-1].asked["raw"] == 0 and refs[-1].asked["chat"] == 400 + 200
    base = next(c for c in r.candidates if c["name"] == "base-cand")
    assert base["statistics"]["agreement/raw"]["hardest_rival"] != "chat-ref"


def _byte_copy_of(salt):
    """A byte-level model that says the candidate's word (then more text) on 70% of the prompts."""
    return lambda p, mode: (_word(salt)(p, mode) if _h("b", salt, p) % 10 < 7 else _word("other" + salt)(p, mode)) + " and so on"


def test_a_byte_level_copy_needs_more_tokens_and_auto_finds_that_out():
    """A byte-level suspect's one-token answers are single characters, which count as no evidence:
    at one token it is not attributed. Asked for 8 tokens and cut to its first word it is; with
    ``suspect_max_tokens="auto"`` the probe (profile prompts) finds out, at PROBE_PROMPTS extra queries."""
    cands, refs = _panel(with_chat_reference=False)
    one = run_provenance(Scripted("bytes", _byte_copy_of("g"), byte_level=True), cands, refs, config=CFG)
    assert one.most_likely_parent is None and one.suspect_max_tokens == 1
    fixed = ProvenanceConfig(max_queries=300, look_every=100, alpha=0.05, profile_queries=200, suspect_max_tokens=8)
    assert run_provenance(Scripted("bytes", _byte_copy_of("g"), byte_level=True), cands, refs, config=fixed).most_likely_parent == "base-cand"
    suspect = Scripted("bytes", _byte_copy_of("g"), byte_level=True)
    auto = ProvenanceConfig(max_queries=300, look_every=100, alpha=0.05, profile_queries=200, suspect_max_tokens="auto")
    r = run_provenance(suspect, cands, refs, config=auto)
    assert r.most_likely_parent == "base-cand" and r.suspect_max_tokens == LONG_ANSWER_TOKENS
    assert r.queries_spent == suspect.asked["chat"] == r.looks[-1]["queries"] + PROBE_PROMPTS
    assert all(len(a) > 1 for a in r.answers["chat"])  # the raw answers are kept, cut only for comparing
    # a word-level suspect is left at one token by the probe, and so is any suspect beside a panel
    # that answers single characters itself
    word_level = Scripted("words", _word("g"))
    assert run_provenance(word_level, cands, refs, config=auto).suspect_max_tokens == 1
    chars = [Scripted(f"chars{k}", lambda p, mode, k=k: "xyz"[_h(k, p) % 3]) for k in range(3)]
    r = run_provenance(Scripted("bytes", _byte_copy_of("g"), byte_level=True), chars[:2], chars[2:], config=auto)
    assert r.suspect_max_tokens == 1 and r.queries_spent == r.looks[-1]["queries"]  # not even probed


def test_byte_level_independents_over_many_prompt_seeds_stay_within_alpha():
    """Calibration of the longer answers: independent byte-level suspects (their words drawn apart
    from every panel model's) asked with ``auto`` over 15 prompt seeds x 4 suspects at alpha 0.1."""
    cands, refs = _panel(with_chat_reference=True)
    hits = tests = 0
    for seed in range(15):
        cfg = ProvenanceConfig(max_queries=120, look_every=40, alpha=0.1, seed=seed, profile_queries=100, suspect_max_tokens="auto")
        for k in range(4):
            r = run_provenance(Scripted(f"ind{k}", _byte_copy_of(f"ind{k}"), byte_level=True), cands, refs, config=cfg)
            tests += 1
            hits += r.most_likely_parent is not None
            assert r.suspect_max_tokens == LONG_ANSWER_TOKENS
    lo, _ = binomial_interval(hits, tests, 0.99)
    assert lo <= 0.1, f"{hits}/{tests} false attributions"


def test_the_first_word_cut_lets_one_letter_words_agree():
    """Why the suspect's longer answer is cut to its first word: "I said so" is not prefix-compatible
    with the panel's one-token "I" (a one-character prefix is no evidence), but its first word is
    equal to it. A byte-level copy of a candidate that opens with "I" / "A" is found only with the cut."""
    def pick(salt):
        return lambda p, mode: "IA"[_h(salt, p) % 2]

    cands = [Scripted("c", pick("c")), Scripted("d", pick("d"))]
    refs = [Scripted("r", pick("r"))]
    copy = Scripted("bytes", lambda p, mode: pick("c")(p, mode) + " said so", byte_level=True)
    cfg = ProvenanceConfig(max_queries=200, look_every=100, alpha=0.05, profile_queries=50, suspect_max_tokens=8)
    r = run_provenance(copy, cands, refs, config=cfg)
    assert r.most_likely_parent == "c" and r.answers["chat"][0] in ("I said s", "A said s")


def test_a_near_constant_suspect_carries_a_caveat_and_a_varied_one_does_not():
    """A suspect answering one word to (nearly) every prompt can pass the agreement test by the
    candidate's base rate of that word alone (the zoo's collapsed students: "The" to 93-98 %); the
    result says so. The shares are counted here from the prompts, independently of the code."""
    cands, refs = _panel(with_chat_reference=True)
    r = run_provenance(Scripted("const", lambda p, mode: "Certainly"), cands, refs, config=CFG)
    assert r.suspect_answer_spread["chat"] == {"distinct_first_words": 1, "top_first_word": "Certainly", "top_share": 1.0}
    assert len(r.caveats) == len(r.answers) and "answers 'Certainly' to 100% of the prompts" in r.caveats[0]
    student = Scripted("student", lambda p, mode: "Certainly" if _h("s", p) % 4 else _word("s")(p, mode))
    r = run_provenance(student, cands, refs, config=CFG)
    n = len(r.answers["chat"])
    expected = sum(1 for p in CFG.prompts()[:n] if _h("s", p) % 4) / n  # about 3/4
    assert 0.6 < expected < 0.8 and r.caveats == []
    assert r.suspect_answer_spread["chat"]["top_share"] == expected
    assert r.to_dict()["suspect_answer_spread"]["chat"]["top_first_word"] == "Certainly"
