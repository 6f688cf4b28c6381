"""The settings of one provenance test (:func:`~stillwatch.trace.provenance.run_provenance`), each validated where it
is made, with why each default is what it is (the method is described in :mod:`~stillwatch.trace.provenance`)."""

from __future__ import annotations

from dataclasses import dataclass

from stillwatch.errors import InputError
from stillwatch.trace.provenance_probe import BUDGET_SPLITS, mode_budgets
from stillwatch.trace.provenance_prompts import FAMILIES, sample_prompts, sampler_spec
from stillwatch.trace.provenance_query import MODES
from stillwatch.trace.provenance_stats import EXCESS_METHODS
from stillwatch.trace.provenance_text import BLANK_PAIRS, END_OF_TEXT, LOGPROBS, PER_MODE, STATISTIC_WEIGHTS


@dataclass(frozen=True)
class ProvenanceConfig:
    """Settings of one provenance test.

    ``max_queries``: the prompt budget N per mode (also the panel's prompt count); a suspect asked
    in ``modes = ("chat", "raw")`` answers each prompt twice, up to 2N queries; ``look_every``:
    prompts per look (the last look is N); ``rho``: spending exponent; ``alpha``: family-wise level;
    ``families``: prompt kinds; ``max_tokens``: tokens per answer (1 = one-token queries);
    ``modes``: ``chat`` (template; works for APIs) and/or ``raw`` (text continuation, local only);
    ``agreement``: ``prefix`` (cross-tokenizer) or ``exact``; ``profile_queries``: panel-only
    prompts on which each panel model's distinctive habits are estimated; ``habit_top``: answers per
    habit set (0: no habit statistic); ``suspect_max_tokens``: tokens per *suspect* answer (None:
    ``max_tokens``; an int above ``max_tokens``: the suspect's answer is cut to its first word,
    :func:`~stillwatch.trace.provenance_stats.first_word`, before it is compared with the panel's;
    ``"auto"``: probe the suspect on ``PROBE_PROMPTS`` profile prompts and ask for
    ``LONG_ANSWER_TOKENS`` when its one-token answers are mostly single characters and the panel's
    are not, see :func:`suspect_tokens`); ``per_mode``: how each prompt mode is judged, ``"excess"``
    (default, sixth session: by its excess statistic alone; the agreement statistic is computed and
    reported, not used), ``"gated"`` (the fifth session's: the agreement p-value raised to the excess
    p-value, both must reject) or ``"agreement"`` (the fourth session's: agreement alone, which a constant
    answer can pass by its base rate); ``excess_method``: ``"signflip"`` (exact sign-flip test using the
    magnitudes of the differences) or ``"sign"`` (the exact sign test of the fifth session; see
    :func:`~stillwatch.trace.provenance_stats.excess_test`). Why the excess alone: agreement counts
    answers a suspect shares with a model through their answer frequencies; pruned SmolLM2 continues raw
    text with "the" and "," as often as Gemma does (raw agreement 0.33 with SmolLM2, 0.34 with Gemma in the
    zoo) while its excess agreement is clearly SmolLM2's, and the gate let the confounded statistic veto the
    de-confounded one. The gate's null is the union of both nulls (wider); the excess null alone is the one
    the question needs (is the suspect's prompt-specific behaviour closer to C than to every rival?).

    Seventh session (the old settings stay selectable, the zoo reports both; the first two decided by argument before
    the zoo's p-values were recomputed): ``rho = 3`` (was 1): suspects attributed early have p-values orders of
    magnitude below any boundary, while the weak ones (students) can only reach significance with all N prompts, so
    the last look should get most of alpha (0.58 of it with four looks, against 0.25); ``statistic_weights``:
    ``"primary"`` (weighted Bonferroni, :func:`~stillwatch.trace.provenance_stats.primary_weights`; chat excess 1/2,
    raw excess and habits 1/4 each) or ``"equal"`` (1/3 each); ``end_of_text``: ``"blank"`` (an empty answer, the
    text ended at once, is uninformative like whitespace, :func:`~stillwatch.trace.provenance_stats.blank_end_of_text`:
    ending raw text after a complete sentence is what chat-tuned models do, whatever their lineage) or ``"answer"``
    (it agrees only with another empty answer; decided after the zoo's twin, see the issue-17 notes). Eighth session,
    by argument: ``blank_pairs``: ``"drop"`` (a pair counts in the excess statistic only when the suspect answers
    informatively on both prompts; blank *co-location* is no evidence, :func:`~stillwatch.trace.provenance_stats.excess_scores`)
    or ``"keep"`` (every pair, the seventh session's). Eleventh session, by argument: ``budget_split``: how a suspect
    tested in chat and raw mode splits its ``2 * max_queries`` queries, ``"auto"`` (chosen from the probe's chat
    answers before any test prompt: 2/3 chat when they depend on the prompt, else even; valid because the probe
    reads only profile prompts, see :mod:`~stillwatch.trace.provenance_probe`), ``"even"`` (``max_queries`` each,
    the eighth session's) or ``"chat-heavy"`` (2/3 chat whatever the probe). Twelfth session: ``logprobs``:
    ``"auto"`` (each mode's excess statistic also scores the suspect's top-k next-token distribution where the
    suspect gives one at no extra query — a local model, an API honouring ``top_logprobs`` — see
    :mod:`~stillwatch.trace.provenance_logprobs`) or ``"off"`` (its greedy answers only, as before). Thirteenth
    session: ``panel_logprobs``: the modes where the panel models' own top-k distributions also enter that mode's
    excess statistic, as their overlap with the suspect's (:mod:`~stillwatch.trace.provenance_overlap`; only where the
    suspect gives its distributions and every panel model of the mode gives its own); default none: the zoo measured
    its power and its raw-mode confound in the twelfth session, and chat mode alone has not been rerun on it yet."""

    max_queries: int = 1000
    look_every: int = 250
    rho: float = 3.0
    alpha: float = 0.01
    seed: int = 0
    families: tuple[str, ...] = FAMILIES
    max_tokens: int = 1
    modes: tuple[str, ...] = ("chat",)
    agreement: str = "prefix"
    profile_queries: int = 200
    habit_top: int = 8
    suspect_max_tokens: int | str | None = None
    per_mode: str = "excess"
    excess_method: str = "signflip"
    statistic_weights: str = "primary"
    end_of_text: str = "blank"
    blank_pairs: str = "drop"
    budget_split: str = "auto"
    logprobs: str = "auto"
    panel_logprobs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.max_queries, int) or self.max_queries < 10:
            raise InputError(f"ProvenanceConfig.max_queries must be an int >= 10, got {self.max_queries!r}")
        if not isinstance(self.look_every, int) or not 1 <= self.look_every <= self.max_queries:
            raise InputError(f"ProvenanceConfig.look_every must be in 1..max_queries ({self.max_queries}), got {self.look_every!r}")
        if not 0.0 < self.alpha < 0.5:
            raise InputError(f"ProvenanceConfig.alpha must be in (0, 0.5), got {self.alpha!r}")
        if not self.rho > 0:
            raise InputError(f"ProvenanceConfig.rho must be > 0, got {self.rho!r}")
        if not self.modes or len(set(self.modes)) != len(self.modes) or any(m not in MODES for m in self.modes):
            raise InputError(f"ProvenanceConfig.modes must be distinct values among {', '.join(MODES)}, got {self.modes!r}")
        if self.agreement not in ("prefix", "exact"):
            raise InputError(f"ProvenanceConfig.agreement must be 'prefix' or 'exact', got {self.agreement!r}")
        if not isinstance(self.max_tokens, int) or not 1 <= self.max_tokens <= 16:
            raise InputError(f"ProvenanceConfig.max_tokens must be an int in 1..16, got {self.max_tokens!r}")
        if not isinstance(self.profile_queries, int) or self.profile_queries < 10:
            raise InputError(f"ProvenanceConfig.profile_queries must be an int >= 10, got {self.profile_queries!r}")
        if not isinstance(self.habit_top, int) or not 0 <= self.habit_top <= 64:
            raise InputError(f"ProvenanceConfig.habit_top must be an int in 0..64, got {self.habit_top!r}")
        if self.per_mode not in PER_MODE:
            raise InputError(f"ProvenanceConfig.per_mode must be one of {', '.join(PER_MODE)}, got {self.per_mode!r}")
        if self.statistic_weights not in STATISTIC_WEIGHTS:
            raise InputError(f"ProvenanceConfig.statistic_weights must be one of {', '.join(STATISTIC_WEIGHTS)}, "
                             f"got {self.statistic_weights!r}")
        if self.end_of_text not in END_OF_TEXT:
            raise InputError(f"ProvenanceConfig.end_of_text must be one of {', '.join(END_OF_TEXT)}, got {self.end_of_text!r}")
        if self.blank_pairs not in BLANK_PAIRS:
            raise InputError(f"ProvenanceConfig.blank_pairs must be one of {', '.join(BLANK_PAIRS)}, got {self.blank_pairs!r}")
        if self.excess_method not in EXCESS_METHODS:
            raise InputError(f"ProvenanceConfig.excess_method must be one of {', '.join(EXCESS_METHODS)}, got {self.excess_method!r}")
        if self.logprobs not in LOGPROBS:
            raise InputError(f"ProvenanceConfig.logprobs must be one of {', '.join(LOGPROBS)}, got {self.logprobs!r}")
        if not isinstance(self.panel_logprobs, tuple) or any(m not in self.modes for m in self.panel_logprobs) \
                or len(set(self.panel_logprobs)) != len(self.panel_logprobs):
            raise InputError(f"ProvenanceConfig.panel_logprobs must be a tuple of distinct modes among modes "
                             f"{self.modes!r}, got {self.panel_logprobs!r}")
        if self.budget_split not in BUDGET_SPLITS:
            raise InputError(f"ProvenanceConfig.budget_split must be one of {', '.join(BUDGET_SPLITS)}, got {self.budget_split!r}")
        s = self.suspect_max_tokens
        if not (s is None or s == "auto" or (isinstance(s, int) and not isinstance(s, bool) and self.max_tokens <= s <= 16)):
            raise InputError(f"ProvenanceConfig.suspect_max_tokens must be None, 'auto' or an int in "
                             f"max_tokens ({self.max_tokens})..16, got {s!r}")

    def looks(self) -> list[int]:
        n = list(range(self.look_every, self.max_queries, self.look_every))
        return n + [self.max_queries]

    def prompts(self, n: int | None = None) -> list[str]:
        """The first ``n`` test prompts (default ``max_queries``; the sampler is prefix-stable: a longer list starts
        with the shorter one, so modes with different budgets share their first prompts)."""
        return sample_prompts(self.max_queries if n is None else n, seed=self.seed, families=self.families)

    def panel_budgets(self) -> dict[str, int]:
        """Prompts per mode the panel answers: the most any suspect may be asked under ``budget_split``."""
        even = mode_budgets(self.max_queries, self.modes, "even")
        if self.budget_split == "even":
            return even
        return {m: max(n, even[m]) for m, n in mode_budgets(self.max_queries, self.modes, "chat-heavy").items()}

    def profile_prompts(self) -> list[str]:
        """The separate prompt pool on which each panel model's distinctive habits are estimated."""
        return sample_prompts(self.profile_queries, seed=self.seed, families=self.families, stream="profile")

    def spec(self) -> str:
        return sampler_spec(self.max_queries, self.seed, self.families)
