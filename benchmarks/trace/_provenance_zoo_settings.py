"""Settings the zoo's build script and its report share (a helper: scripts import helpers, never each other):
the panel, the query budget, the calibration pools, and the probe rule for byte-level suspects."""

from __future__ import annotations

N_QUERIES = 200  # prompts per mode: a local suspect answers each in chat and raw mode (400 queries)
N_PROFILE = 150  # panel-only prompts on which each panel model's frequent answers are estimated
CANDIDATES = ["smollm2", "gemma3-270m"]
REFERENCES = ["ref-code-smoltok", "ref-legal-byte", "ref-gemma-chat"]
CHAT_ONLY = {"ref-gemma-chat"}  # panel models that sit raw mode out
N_CAL = 100  # prompts per calibration pool: one pool per prompt seed 1..K (--seeds), seed 0 is the main pool


def probe_prompts() -> list[str]:
    """The profile prompts of ``suspect_max_tokens="auto"``'s probe (the library's own choice)."""
    from stillwatch.trace.provenance import PROBE_PROMPTS
    from stillwatch.trace.provenance_prompts import sample_prompts

    return sample_prompts(PROBE_PROMPTS, seed=0, stream="profile")


def needs_long_answers(cache, name: str) -> bool:
    """The probe's rule (``stillwatch.trace.provenance.suspect_tokens``): a suspect whose one-token
    probe answers are mostly single characters is asked for LONG_ANSWER_TOKENS (the zoo's panel
    answers words, so the panel half of the rule holds)."""
    from stillwatch.trace.provenance import _short_share

    a = cache.get(f"zoo:{name}:v1", probe_prompts(), "chat", 1)
    return name not in CANDIDATES + REFERENCES and a is not None and _short_share(a) > 0.5


#: a student is worth testing when its chat answers depend on the prompt: at least this many distinct
#: first words over the N test prompts, and no single first word for more than this share of them
#: (the third session's students answered one string to 93-100 % of the prompts; SmolLM2 itself
#: answers "The" to 52 % of them, so the bar on the share cannot be much lower)
MIN_DISTINCT, MAX_TOP_SHARE = 10, 0.8


def prompt_dependence(answers: list[str]) -> dict:
    """How much a model's answers depend on the prompt: over its chat answers to the test prompts, the
    number of distinct answers and of distinct first words (the unit our test compares), the most
    frequent first word and its share, and whether it passes the bar above."""
    from collections import Counter

    from stillwatch.trace.provenance_stats import first_word

    words = Counter(str(w) for w in first_word(answers))
    top, k = words.most_common(1)[0] if words else ("", 0)
    share = k / len(answers) if answers else 1.0
    return {"n": len(answers), "distinct_answers": len(set(answers)), "distinct_first_words": len(words),
            "top_first_word": top, "top_share": round(share, 3),
            "prompt_dependent": len(words) >= MIN_DISTINCT and share <= MAX_TOP_SHARE}
