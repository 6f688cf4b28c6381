"""`trace provenance`: was a suspect model derived from one of our candidate parents — fine-tuned,
LoRA-adapted, quantized, pruned, or distilled from its answers — with only query access to it?

Method (statistics in :mod:`stillwatch.trace.provenance_stats`, queries in
:mod:`stillwatch.trace.provenance_query`). Random prompts are drawn from a seeded sampler
(:mod:`stillwatch.trace.provenance_prompts`: chat tasks and random sentences); every model answers
each prompt greedily with its first token (decoded, so tokenizers may differ). The suspect's answer
is compared with each *panel* model's: the candidates (possible parents) and reference models
(independent models that are never attributed; they set the bar of "similar by chance"). Like
Nikolic, Baluta & Saxena (2025, "Model Provenance Testing for Large Language Models", Alg. 1) a
candidate is attributed only when the suspect agrees with it significantly more than with every
other panel model; unlike them, the comparison is paired (the same prompts), exact (one-sided
McNemar, not a normal approximation), combined as an intersection-union test, and sequential.

Null hypothesis for candidate C (stated in every result):
    H0(C): on prompts from the sampler, the suspect's greedy answer agrees with C's no more often
    than with at least one other model of the panel (the other candidates and the references).

One statistic serves both ways a model is taken: weight-derived models keep their parent's next
token on arbitrary text, and students distilled from a parent's answers learn how it starts an
answer to a request; the sampler mixes the two prompt kinds, so a single family of tests (one per
candidate, Holm over candidates) covers both and no p-values need combining.

Adaptive budget: the suspect is queried in looks of ``look_every`` prompts up to ``max_queries``;
look k may reject at ``alpha * w_k`` (power spending weights, union bound over looks; see
:func:`~stillwatch.trace.provenance_stats.spending_weights`). The test stops at the first look that
rejects, or for futility when every candidate is behind or level with its hardest rival on at
least 10 discordant prompts (non-binding: it never adds a rejection). The reported p-value is ``min_k p_holm,k / w_k``, valid for the whole procedure.

Attacker model: the suspect's owner controls its weights, tokenizer, chat template and serving
(e.g. fine-tuning, adapters, quantization, pruning, distillation into another architecture), but
answers our queries honestly through its public API and cannot tell test prompts from traffic. The
test holds as long as the panel's reference models are independent of the candidates; it bounds
the chance of *any* false attribution at ``alpha`` under H0. It does not claim that an attribution
means derivation when a candidate and the suspect share training data more than the references
do: the references must be chosen of the candidate's kind (same era, similar data), as in Nikolic.

Result JSON (``ProvenanceResult.to_dict()``, the "diligence" section of a case dossier):

- ``most_likely_parent``: the attributed candidate, or ``null`` when no candidate is attributed;
- ``decision``: ``"derived"`` or ``"none"``; ``closest_candidate``: the candidate the suspect agrees
  with most (reported even when not significant);
- ``p_values``: candidate name -> the procedure's p-value (sequential, Holm-adjusted);
- ``candidates``: per candidate, agreement rate, fixed-n IUT p-value at the last look, Holm-adjusted
  p-value, sequential p-value, hardest rival and the discordant counts against it;
- ``references``: per reference model, the agreement rate;
- ``correction``, ``test``, ``null_hypothesis``: the method in words; ``alpha``;
- ``queries_spent`` (suspect queries), ``looks``, ``stopped`` (``"rejected"``, ``"futility"`` or
  ``"budget"``), ``prompts`` (the sampler's spec), ``max_tokens``, ``mode``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from stillwatch.errors import InputError
from stillwatch.trace.provenance_prompts import FAMILIES, sample_prompts, sampler_spec
from stillwatch.trace.provenance_query import AnswerCache, LocalModel, RemoteModel, cached_answers
from stillwatch.trace.provenance_stats import agreement_matrix, informative, panel_test, spending_weights

log = logging.getLogger(__name__)

NULL_HYPOTHESIS = (
    "H0(C): on prompts drawn from the sampler, the suspect's greedy answer agrees with candidate C's no more "
    "often than with at least one other model of the panel (the other candidates and the independent reference models)"
)
TEST = ("paired one-sided exact McNemar test of C against each other panel model on the same prompts; "
        "C's p-value is the largest of these (intersection-union test, Berger 1982)")
CORRECTION = ("Holm over the candidates at each look; alpha spent over the looks with weights "
              "(n_k/N)^rho - (n_(k-1)/N)^rho (union bound over looks); non-binding futility stop")

Model = LocalModel | RemoteModel
#: Futility needs this many discordant prompts between each candidate and its hardest rival: with
#: fewer, "not ahead" means "no evidence yet", not "behind".
MIN_DISCORDANT_FUTILITY = 10


@dataclass(frozen=True)
class ProvenanceConfig:
    """Settings of one provenance test.

    ``max_queries``: the suspect's query budget N (also the panel's prompt count); ``look_every``:
    prompts per look (the last look is N); ``rho``: spending exponent; ``alpha``: family-wise level;
    ``families``: prompt kinds; ``max_tokens``: tokens per answer (1 = one-token queries);
    ``mode``: ``chat`` (template; works for APIs) or ``raw`` (text continuation, local only);
    ``agreement``: ``prefix`` (cross-tokenizer) or ``exact``."""

    max_queries: int = 1000
    look_every: int = 250
    rho: float = 1.0
    alpha: float = 0.01
    seed: int = 0
    families: tuple[str, ...] = FAMILIES
    max_tokens: int = 1
    mode: str = "chat"
    agreement: str = "prefix"

    def __post_init__(self) -> None:
        if not isinstance(self.max_queries, int) or self.max_queries < 10:
            raise InputError(f"ProvenanceConfig.max_queries must be an int >= 10, got {self.max_queries!r}")
        if not isinstance(self.look_every, int) or not 1 <= self.look_every <= self.max_queries:
            raise InputError(f"ProvenanceConfig.look_every must be in 1..max_queries ({self.max_queries}), got {self.look_every!r}")
        if not 0.0 < self.alpha < 0.5:
            raise InputError(f"ProvenanceConfig.alpha must be in (0, 0.5), got {self.alpha!r}")
        if not self.rho > 0:
            raise InputError(f"ProvenanceConfig.rho must be > 0, got {self.rho!r}")
        if self.mode not in ("chat", "raw"):
            raise InputError(f"ProvenanceConfig.mode must be 'chat' or 'raw', got {self.mode!r}")
        if self.agreement not in ("prefix", "exact"):
            raise InputError(f"ProvenanceConfig.agreement must be 'prefix' or 'exact', got {self.agreement!r}")
        if not isinstance(self.max_tokens, int) or not 1 <= self.max_tokens <= 16:
            raise InputError(f"ProvenanceConfig.max_tokens must be an int in 1..16, got {self.max_tokens!r}")

    def looks(self) -> list[int]:
        n = list(range(self.look_every, self.max_queries, self.look_every))
        return n + [self.max_queries]

    def prompts(self) -> list[str]:
        return sample_prompts(self.max_queries, seed=self.seed, families=self.families)

    def spec(self) -> str:
        return sampler_spec(self.max_queries, self.seed, self.families)


@dataclass
class ProvenanceResult:
    """Outcome of :func:`run_provenance` (see the module docstring for the JSON fields)."""

    suspect: str
    decision: str
    most_likely_parent: str | None
    closest_candidate: str
    p_values: dict[str, float]
    candidates: list[dict]
    references: list[dict]
    queries_spent: int
    looks: list[dict]
    stopped: str
    alpha: float
    prompts: str
    max_tokens: int
    mode: str
    null_hypothesis: str = NULL_HYPOTHESIS
    test: str = TEST
    correction: str = CORRECTION
    answers: list[str] = field(default_factory=list, repr=False)

    def to_dict(self, *, with_answers: bool = False) -> dict:
        d = asdict(self)
        if not with_answers:
            d.pop("answers")
        return d


def _panel_answers(models: Sequence[Model], prompts: list[str], cfg: ProvenanceConfig, cache: AnswerCache | None,
                   progress: Callable[[str], None] | None) -> list[list[str]]:
    out = []
    for m in models:
        answers, hit = cached_answers(m, prompts, mode=cfg.mode, max_tokens=cfg.max_tokens, cache=cache)
        log.info("panel model %s: %s", m.name, "cached answers" if hit else f"{len(prompts)} queries")
        if progress is not None:
            progress(f"panel {m.name}")
        out.append(answers)
    return out


def run_provenance(suspect: Model, candidates: Sequence[Model], references: Sequence[Model] = (), *,
                   config: ProvenanceConfig = ProvenanceConfig(), cache: AnswerCache | None = None,
                   panel_answers: Sequence[Sequence[str]] | None = None, suspect_answers: Sequence[str] | None = None,
                   progress: Callable[[str], None] | None = None) -> ProvenanceResult:
    """Test ``suspect`` against ``candidates`` (possible parents) with ``references`` as further rivals.

    ``panel_answers`` (candidates then references, each ``max_queries`` long) and ``suspect_answers``
    may be given pre-computed (benchmarks); otherwise the panel is answered (through ``cache``) and
    the suspect queried look by look, only as far as the decision needs. Requires at least one
    candidate and at least two panel models."""
    cfg = config
    names = [m.name for m in candidates] + [m.name for m in references]
    if not candidates:
        raise InputError("give at least one candidate parent")
    if len(names) < 2:
        raise InputError("the panel needs at least 2 models: add another candidate or a reference model")
    if len(set(names)) != len(names):
        raise InputError(f"panel model names must be distinct, got {names}")
    prompts = cfg.prompts()
    panel = [list(a) for a in panel_answers] if panel_answers is not None else \
        _panel_answers([*candidates, *references], prompts, cfg, cache, progress)
    if len(panel) != len(names) or any(len(a) != cfg.max_queries for a in panel):
        raise InputError(f"panel_answers must hold {len(names)} lists of {cfg.max_queries} answers")
    usable = np.stack([informative(a) for a in panel], axis=1)  # [N, M] fixed before the suspect is asked
    looks = cfg.looks()
    weights = spending_weights(looks, cfg.max_queries, cfg.rho)
    got: list[str] = []
    record: list[dict] = []
    seq_p = np.ones(len(candidates))
    stopped, test = "budget", None
    for k, n in enumerate(looks):
        if suspect_answers is not None:
            got = list(suspect_answers[:n])
        else:
            got += suspect.answers(prompts[len(got):n], max_tokens=cfg.max_tokens, mode=cfg.mode)
        if len(got) < n:
            raise InputError(f"suspect_answers holds {len(got)} answers, the look needs {n}")
        agree = agreement_matrix(got, [a[:n] for a in panel], mode=cfg.agreement)  # [n, M]
        test = panel_test(agree, len(candidates), usable[:n])
        seq_p = np.minimum(seq_p, np.minimum(test.p_holm / weights[k], 1.0))
        record.append({"queries": n, "level": float(cfg.alpha * weights[k]), "p_holm": [float(x) for x in test.p_holm]})
        if progress is not None:
            progress(f"look {k + 1}/{len(looks)}: {n} queries")
        if np.any(test.p_holm <= cfg.alpha * weights[k]):
            stopped = "rejected"
            break
        if k + 1 < len(looks) and k >= 1 and np.all(test.p_value >= 0.5) and np.all(test.discordant >= MIN_DISCORDANT_FUTILITY):
            stopped = "futility"
            break
    assert test is not None
    return _result(suspect.name, names, len(candidates), test, seq_p, got, record, stopped, cfg, agree & usable[: len(got)],
                   usable[: len(got)])


def _result(suspect: str, names: list[str], n_cand: int, test: Any, seq_p: np.ndarray, got: list[str],
            record: list[dict], stopped: str, cfg: ProvenanceConfig, agree: np.ndarray, use: np.ndarray) -> ProvenanceResult:
    cands = []
    for c in range(n_cand):  # a handful of candidates: per-candidate bookkeeping, not a hot path
        r = int(test.rival[c])
        cands.append({
            "name": names[c], "agreement": float(test.rate[c]), "p_value": float(test.p_value[c]),
            "p_value_holm": float(test.p_holm[c]), "p_value_sequential": float(seq_p[c]),
            "hardest_rival": names[r], "wins_vs_rival": int((agree[:, c] & ~agree[:, r] & use[:, r]).sum()),
            "losses_vs_rival": int((agree[:, r] & ~agree[:, c] & use[:, c]).sum()),
        })
    closest = int(np.argmax(test.rate[:n_cand]))
    winner = int(np.argmin(seq_p))
    derived = stopped == "rejected" and seq_p[winner] <= cfg.alpha
    return ProvenanceResult(
        suspect=suspect, decision="derived" if derived else "none",
        most_likely_parent=names[winner] if derived else None, closest_candidate=names[closest],
        p_values={names[c]: float(seq_p[c]) for c in range(n_cand)}, candidates=cands,
        references=[{"name": names[j], "agreement": float(test.rate[j])} for j in range(n_cand, len(names))],
        queries_spent=len(got), looks=record, stopped=stopped, alpha=cfg.alpha, prompts=cfg.spec(),
        max_tokens=cfg.max_tokens, mode=cfg.mode, answers=got,
    )


def read_candidates(path) -> tuple[list[str], list[str]]:
    """Parse a candidates file: one model per line (``smollm2``, ``tiny``, a directory, a URL);
    a line ``reference: MODEL`` adds an independent reference model (never attributed); blank lines
    and lines starting with ``#`` are ignored (a URL may end in ``#model``). Returns (candidates, references)."""
    from pathlib import Path

    p = Path(path)
    if not p.is_file():
        raise InputError(f"candidates file not found: {p}")
    cands: list[str] = []
    refs: list[str] = []
    for lineno, raw in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.lower().startswith("reference:"):
            spec = line.split(":", 1)[1].strip()
            if not spec:
                raise InputError(f"{p}:{lineno}: 'reference:' names no model")
            refs.append(spec)
        else:
            cands.append(line)
    if not cands:
        raise InputError(f"candidates file {p} names no candidate parent")
    if len(cands) + len(refs) < 2:
        raise InputError(f"candidates file {p} needs at least 2 models (a candidate and a rival); add a 'reference: MODEL' line")
    return cands, refs
