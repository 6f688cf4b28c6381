"""Settings the zoo's build script and its report share (a helper: scripts import helpers, never each other):
the panel, the query budget, the calibration pools, the probe rule for byte-level suspects, and the extra chat
prompts of the chat-heavy budget split (eleventh session)."""

from __future__ import annotations

N_QUERIES = 200  # prompts per mode: a local suspect answers each in chat and raw mode (400 queries)
N_PROFILE = 150  # panel-only prompts on which each panel model's frequent answers are estimated
CANDIDATES = ["smollm2", "gemma3-270m"]
REFERENCES = ["ref-code-smoltok", "ref-legal-byte", "ref-gemma-chat"]
CHAT_ONLY = {"ref-gemma-chat"}  # panel models that sit raw mode out
N_CAL = 100  # prompts per calibration pool: one pool per prompt seed 1..K (--seeds), seed 0 is the main pool
FULL_POOL_SEED = 100  # full-size calibration pools (--full-pools J, N prompts each) have prompt seeds 101..100+J


def cal_pools(seeds: int, full: int, n: int) -> list[tuple[int, int]]:
    """(prompt seed, prompts) of every calibration pool: seeds 1..``seeds`` of N_CAL prompts, then ``full`` pools of
    the main pool's size ``n`` (seeds FULL_POOL_SEED + 1..)."""
    return [(s, N_CAL) for s in range(1, seeds + 1)] + [(FULL_POOL_SEED + i, n) for i in range(1, full + 1)]


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


#: a student is worth testing when its chat answers depend on the prompt: at least MIN_DISTINCT distinct
#: first words over the N test prompts, and no single first word for more than the library's
#: NEAR_CONSTANT_SHARE (0.8) of them, above which a result carries a caveat (the third session's students
#: answered one string to 93-100 % of the prompts; SmolLM2 itself answers "The" to 52 %)
MIN_DISTINCT = 10


def prompt_dependence(answers: list[str]) -> dict:
    """How much a model's answers depend on the prompt: over its chat answers to the test prompts, the
    number of distinct answers, the library's ``answer_spread`` (distinct first words, the most frequent
    one and its share; first words are the unit our test compares), and whether it passes the bar above."""
    from stillwatch.trace.provenance import NEAR_CONSTANT_SHARE, answer_spread

    d = answer_spread(answers)
    return {"n": len(answers), "distinct_answers": len(set(answers)), **d, "top_share": round(d["top_share"], 3),
            "prompt_dependent": d["distinct_first_words"] >= MIN_DISTINCT and d["top_share"] <= NEAR_CONSTANT_SHARE}


def heavy_chat(n: int) -> int:
    """Chat prompts of a chat-heavy split of a 2 x ``n`` budget (the library's ``mode_budgets``)."""
    from stillwatch.trace.provenance import mode_budgets

    return mode_budgets(n, ("chat", "raw"), "chat-heavy")["chat"]


def chat_extra(n: int, seed: int = 0) -> list[str]:
    """The test prompts a chat-heavy split asks beyond a pool's first ``n`` (prompt seed ``seed``): prompts
    n..heavy_chat(n) of the same prefix-stable sampler, answered and cached apart from the first ``n``."""
    from stillwatch.trace.provenance import ProvenanceConfig

    return ProvenanceConfig(max_queries=n, look_every=n, seed=seed).prompts(heavy_chat(n))[n:]


def probe_answers(cache, name: str) -> list[str] | None:
    """A suspect's cached chat answers to the probe prompts (one token), or None."""
    return cache.get(f"zoo:{name}:v1", probe_prompts(), "chat", 1)


def probe_split(cache, name: str) -> str | None:
    """The budget split ``budget_split="auto"`` chooses for a suspect from its cached probe (None: no probe yet)."""
    from stillwatch.trace.provenance import Probe, ProvenanceConfig, choose_split

    a = probe_answers(cache, name)
    if a is None:
        return None
    cfg = ProvenanceConfig(modes=("chat", "raw"))
    return choose_split(Probe(None, cfg, {"chat": a}), cfg)[0]


class DistCache:
    """The suspects' top-k next-token distributions (twelfth session: ``ProvenanceConfig.logprobs``), kept by the
    library's :class:`~stillwatch.trace.provenance_query.AnswerCache` (one record per model, prompt set and mode, the
    prompts' digest checked on read) under the identity ``zoo:NAME:v1:topK``: one [tokens, probabilities] per prompt."""

    def __init__(self, directory) -> None:
        from stillwatch.trace.provenance_query import AnswerCache

        self._cache = AnswerCache(directory)

    @staticmethod
    def _identity(name: str) -> str:
        from stillwatch.trace.provenance_logprobs import TOP_K

        return f"zoo:{name}:v1:top{TOP_K}"

    def get(self, name: str, prompts: list[str], mode: str) -> list | None:
        got = self._cache.get_json(self._identity(name), prompts, mode, 1)
        return None if got is None else [tuple(x) for x in got]

    def put(self, name: str, prompts: list[str], mode: str, dists: list) -> None:
        self._cache.put(self._identity(name), prompts, mode, 1, [[list(t), list(p)] for t, p in dists])
