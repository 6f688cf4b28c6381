"""The probe of `trace provenance`: choices made from the suspect's answers to a few *profile* prompts before any
test prompt is asked — how many tokens it is asked for (``suspect_max_tokens="auto"``) and how a local suspect's
query budget is split between chat and raw mode (``budget_split="auto"``, issue 17, eleventh session).

**The budget split.** A local suspect tested in chat and raw mode has a budget of ``2N`` queries (``N`` =
``ProvenanceConfig.max_queries`` per mode). The even split asks each mode ``N`` prompts. Chat mode is the one
the question is about (what an API serves; the combination gives its excess statistic half of alpha, raw mode's
a quarter), and for a student distilled from a teacher's answers — a model with a working chat whose raw
continuation is its own base's — it is the only mode with evidence; more chat prompts is then what decides it.
For a suspect whose chat is broken or near-constant (a hard-pruned model, a student that answers "The" to
everything), chat prompts carry almost nothing: every pair of prompts with the same answer scores zero in the
excess statistic, and its evidence, if any, is in raw mode. So the split is chosen per suspect:

- ``"chat-heavy"`` when the suspect's chat answers to the :data:`PROBE_PROMPTS` probe prompts depend on the
  prompt — when the share of the probe's pairs of prompts that *can* move the excess statistic
  (:func:`useful_pair_share`: both answers informative, their first words different) is at least
  :data:`USEFUL_PAIRS_MIN` — chat gets :data:`CHAT_HEAVY_SHARE` (2/3) of the ``2N`` queries, raw the rest;
- ``"even"`` otherwise (``N`` each, the eighth session's test).

2/3 follows the alpha weights: chat's statistic gets twice raw's share of alpha, so it gets twice raw's prompts.
:data:`USEFUL_PAIRS_MIN` = 1 - 0.8² = 0.36 is the useful-pair share of a suspect at the caveat boundary of
:data:`NEAR_CONSTANT_SHARE` (one first word on 80 % of the prompts, every other answer different): a suspect
whose chat answers vary less than that one carries its caveat, and gets the even split.

**Why the choice keeps the test exact.** The split is a function of the suspect's answers to the probe prompts
only. Those are drawn from the sampler's ``"profile"`` stream, independently of the test prompts, and the test
reads nothing of them (the habit statistic's profile answers are the *panel's*). Conditional on the split, the
test prompts are still i.i.d. draws from the sampler, each mode's statistic at each look is an exact test of its
null on that mode's first ``n_m`` prompts (valid for any ``n_m`` fixed before the test prompts are seen), the
weights over the statistics and the alpha spent at each look (a function of the look's share of the budget) are
fixed before any test answer, and Bonferroni / Holm / the union bound over looks hold under any dependence. So the
level holds conditional on each split, hence unconditionally; the same argument makes ``suspect_max_tokens=
"auto"`` valid. What the choice may *not* read: any answer to a test prompt (choosing chat-heavy because chat
looked promising on the first look would be data snooping).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np

from stillwatch.errors import InputError
from stillwatch.trace.provenance_prompts import sample_prompts
from stillwatch.trace.provenance_stats import MIN_PREFIX_CHARS, blank_end_of_text, first_word, normalise_answers

log = logging.getLogger(__name__)

#: ``suspect_max_tokens="auto"``: this many profile prompts probe the suspect's one-token answers;
#: when most informative ones are shorter than ``MIN_PREFIX_CHARS`` (a byte-level model answers
#: single characters, which count as no evidence), the suspect is asked for ``LONG_ANSWER_TOKENS``.
PROBE_PROMPTS = 20
LONG_ANSWER_TOKENS = 8
#: above this share of one first word among a mode's answers, the result carries a caveat (see the module docstring
#: of :mod:`stillwatch.trace.provenance`)
NEAR_CONSTANT_SHARE = 0.8
#: ``ProvenanceConfig.budget_split`` values: chosen from the probe, the even split, or chat-heavy whatever the probe
BUDGET_SPLITS = ("auto", "even", "chat-heavy")
#: the chat share of a chat-heavy split (chat's excess statistic gets twice raw's share of alpha)
CHAT_HEAVY_SHARE = 2 / 3
#: a suspect's probe chat answers "depend on the prompt" when at least this share of the probe's pairs could move the
#: excess statistic: the share of a suspect at the caveat boundary (one word on NEAR_CONSTANT_SHARE, the rest distinct)
USEFUL_PAIRS_MIN = 1 - NEAR_CONSTANT_SHARE**2


def probe_prompts(cfg) -> list[str]:
    """The probe's prompts: the first :data:`PROBE_PROMPTS` of ``cfg``'s profile stream (never test prompts)."""
    return sample_prompts(PROBE_PROMPTS, seed=cfg.seed, families=cfg.families, stream="profile")


class Probe:
    """The suspect's answers to the probe prompts, per mode, asked at most once each (``given``: answers already
    at hand, e.g. cached; ``asked``: the queries this probe spent)."""

    def __init__(self, suspect, cfg, given: Mapping[str, Sequence[str]] | None = None) -> None:
        self.suspect, self.cfg = suspect, cfg
        self.answers = {m: list(a) for m, a in (given or {}).items()}
        self.asked = 0

    def __call__(self, mode: str, why: str) -> list[str]:
        if mode not in self.answers:
            if self.suspect is None:
                raise InputError(f"{why} reads the suspect's {mode} answers to the {PROBE_PROMPTS} probe prompts: give "
                                 "them (probe_answers) with pre-computed suspect answers")
            self.answers[mode] = list(self.suspect.answers(probe_prompts(self.cfg), max_tokens=self.cfg.max_tokens, mode=mode))
            self.asked += PROBE_PROMPTS
        if len(self.answers[mode]) != PROBE_PROMPTS:
            raise InputError(f"probe_answers ({mode}) must hold {PROBE_PROMPTS} answers, got {len(self.answers[mode])}")
        return self.answers[mode]


def short_share(answers) -> float:
    """Share of the informative answers shorter than MIN_PREFIX_CHARS (1.0 when none is informative)."""
    a = normalise_answers(answers)
    lengths = np.char.str_len(a[np.char.str_len(a) > 0])
    return float(np.mean(lengths < MIN_PREFIX_CHARS)) if lengths.size else 1.0


def suspect_tokens(probe: Probe, cfg, panel_answers: Sequence[Sequence[str]] = ()) -> int:
    """Tokens per suspect answer for ``cfg.suspect_max_tokens``. ``"auto"`` reads the suspect's answers to the
    probe's *profile* prompts (never test prompts, so the choice is fixed before any test answer is seen and the
    test stays exact) of ``max_tokens`` tokens in the first mode; when more than half of its informative answers
    are shorter than ``MIN_PREFIX_CHARS`` characters while at most half of the panel's (``panel_answers``, first
    mode) are, the test asks it for ``LONG_ANSWER_TOKENS`` (a byte-level suspect beside a word-piece panel; a panel
    that answers single characters itself is compared character by character, and the suspect is not probed)."""
    s = cfg.suspect_max_tokens
    if s is None:
        return cfg.max_tokens
    if s != "auto":
        return int(s)
    panel_short = short_share([a for answers in panel_answers for a in answers]) if panel_answers else 0.0
    if panel_short > 0.5:  # the panel answers single characters itself: no probe needed
        return cfg.max_tokens
    short = short_share(probe(cfg.modes[0], 'suspect_max_tokens="auto"'))
    chosen = max(cfg.max_tokens, LONG_ANSWER_TOKENS) if short > 0.5 else cfg.max_tokens
    log.info("suspect: %.0f%% of its one-token probe answers are single characters (panel: %.0f%%); asking for %d token(s)",
             100 * short, 100 * panel_short, chosen)
    return chosen


def useful_pair_share(answers, *, end_of_text: str = "blank") -> float:
    """Share of the unordered pairs of ``answers`` that can move the excess statistic: both answers informative (a
    pair with a blank is dropped, ``blank_pairs="drop"``) and their first words different (swapping two equal
    answers changes no agreement). ``end_of_text="blank"``: an empty answer is a blank. 0.0 for fewer than 2."""
    a = list(answers)
    if len(a) < 2:
        return 0.0
    words = normalise_answers(first_word(blank_end_of_text(a) if end_of_text == "blank" else a))
    _, counts = np.unique(words[np.char.str_len(words) > 0], return_counts=True)
    k = int(counts.sum())
    useful = (k * (k - 1) - int(np.sum(counts * (counts - 1)))) / 2
    return float(useful / (len(a) * (len(a) - 1) / 2))


def mode_budgets(max_queries: int, modes: Sequence[str], split: str) -> dict[str, int]:
    """Prompts per mode: ``max_queries`` each for the even split (or a single mode); ``"chat-heavy"`` with chat and
    raw: chat ``round(CHAT_HEAVY_SHARE * 2 * max_queries)``, raw the rest of the ``2 * max_queries`` queries."""
    if split == "even" or set(modes) != {"chat", "raw"}:
        return {m: max_queries for m in modes}
    if split != "chat-heavy":
        raise InputError(f"a budget split is 'even' or 'chat-heavy', got {split!r}")
    total = max_queries * len(modes)
    chat = int(round(CHAT_HEAVY_SHARE * total))
    return {m: chat if m == "chat" else total - chat for m in modes}


def choose_split(probe: Probe, cfg) -> tuple[str, str]:
    """(split, reason) for ``cfg.budget_split``: ``"auto"`` reads the probe's chat answers (module docstring)."""
    if set(cfg.modes) != {"chat", "raw"}:
        return "even", f"one prompt mode ({cfg.modes[0]}): the whole budget goes to it"
    if cfg.budget_split != "auto":
        return cfg.budget_split, f"budget_split = {cfg.budget_split!r} (set, not chosen)"
    u = useful_pair_share(probe("chat", 'budget_split="auto"'), end_of_text=cfg.end_of_text)
    heavy = u >= USEFUL_PAIRS_MIN
    why = (f"{u:.0%} of the pairs of the {PROBE_PROMPTS} probe prompts (profile prompts, not test prompts) have two "
           f"informative, different chat answers ({'>=' if heavy else '<'} {USEFUL_PAIRS_MIN:.0%}): the suspect's chat "
           + ("answers depend on the prompt, so chat gets 2/3 of the queries" if heavy else
              "barely depends on the prompt, so chat and raw get half of the queries each"))
    return ("chat-heavy" if heavy else "even"), why


def answer_spread(answers: Sequence[str]) -> dict:
    """Distinct first words of ``answers``, the most frequent one and its share (vectorised)."""
    words = first_word(answers)
    if not words.size:
        return {"distinct_first_words": 0, "top_first_word": "", "top_share": 0.0}
    vals, counts = np.unique(words, return_counts=True)
    top = int(np.argmax(counts))
    return {"distinct_first_words": int(vals.size), "top_first_word": str(vals[top]), "top_share": float(counts[top] / words.size)}


def caveats(spread: dict[str, dict]) -> list[str]:
    """A sentence per mode whose answers give one first word more than NEAR_CONSTANT_SHARE of the time."""
    return [f"in {m} mode the suspect answers {d['top_first_word']!r} to {d['top_share']:.0%} of the prompts: its answers barely "
            "depend on the prompt, so agreement there reflects how often each panel model gives that answer, not behaviour "
            "learnt from a candidate" for m, d in spread.items() if d["top_share"] > NEAR_CONSTANT_SHARE]
