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

Statistics (each a paired exact test of C against every other panel model, intersection-union):

- ``agreement/chat`` and ``agreement/raw``: per-prompt agreement of the suspect's answer with the
  panel model's, in chat mode (the chat template, what an API serves) and in raw mode (text
  continuation, local suspects only). Both modes are needed: pruning a small model hard breaks its chat
  behaviour while its raw continuation survives (the zoo's pruned SmolLM2), and an int8 copy was
  found in chat mode but missed in raw mode by the Nikolic baseline. Reported for every mode; by default
  (``ProvenanceConfig.per_mode = "excess"``) it does not decide.
- ``excess/chat`` and ``excess/raw`` decide each mode: the suspect's agreement with the panel model
  *beyond what its own answer frequencies give* (per disjoint pair of prompts, agreement on the pair's
  own prompts minus agreement with the two answers swapped;
  :func:`~stillwatch.trace.provenance_stats.excess_scores`), compared by an exact sign-flip test of
  the summed differences given their magnitudes (:func:`~stillwatch.trace.provenance_stats.excess_test`;
  ``ProvenanceConfig.excess_method = "sign"``: the fifth session's sign test). A suspect that answers "The" to
  everything agrees most with whichever panel model says "The" most often, and passes the agreement
  statistic on that base rate alone (the fourth session's students did); its excess is zero on every
  pair, so it is attributed to nobody. Raw agreement is confounded the same way: two models that
  continue text with "the" and "," agree on those whatever their lineage (pruned SmolLM2 agrees with
  Gemma as often as with SmolLM2 in raw mode, while its excess agreement is SmolLM2's). Hence the
  default judges each mode by its excess alone; ``per_mode = "gated"`` (the fifth session's) needs both
  the agreement and the excess to reject (their maximum), ``per_mode = "agreement"`` drops the excess.
- ``habits/chat``: the suspect's answer falls among the panel model's *distinctive habits* (its
  most frequent openings on a separate profile prompt pool, minus those another panel model shares;
  :func:`~stillwatch.trace.provenance_stats.habit_matrix`). A student distilled from a teacher's
  answers on other prompts learns the teacher's favourite openings more than which prompt gets
  which. The habit sets are fixed before any test prompt is drawn, so the test stays exact.

Null hypothesis for candidate C (stated in every result, :data:`NULLS` by ``per_mode``): the
intersection of the deciding statistics' nulls; by default

    H0(C): on prompts from the sampler, in every mode tested, for at least one other model of the
    panel that answers in that mode, the difference between the suspect's excess agreement
    (matched minus swapped) with C and with that model is symmetric about zero on a random pair of
    prompts (true of every suspect whose answers do not depend on the prompt; the test also holds,
    asymptotically, that difference's mean <= 0); and its answers fall among C's distinctive
    habits no more often than among those of at least one other panel model.

Gated, a mode's agreement and excess p-values are joined by their maximum (an intersection-union
test: the null of the gated statistic is the union of the two nulls; no correction). The S per-mode
statistics and the habit statistic are then combined by weighted Bonferroni (``min(1, min_s p_s / w_s)``,
weights fixed before any answer: by default the first mode's statistic, chat, gets 1/2 and the others 1/4
each; ``statistic_weights="equal"``: 1/S each, the sixth session's), valid under any dependence between
them (they use the same prompts); then Holm over candidates, then alpha spending over looks (rho = 3 by
default, O'Brien-Fleming-like: little alpha at the early looks, most kept for the last; rho = 1 before). Each step keeps the level: each per-mode p-value is valid for its null,
Bonferroni and Holm bound the family-wise error under any dependence, and the union bound covers the looks.

Adaptive budget: the suspect is queried in looks of ``look_every`` prompts up to ``max_queries``
(per mode; with ``budget_split`` chat-heavy, chat gets 2/3 of the 2N queries and raw the rest, each mode at
look k answering the same share of its budget, chosen before any test prompt from the probe: see
:mod:`~stillwatch.trace.provenance_probe` for the rule and why it keeps the level);
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
- ``candidates``: per candidate, agreement rate (first mode) and per mode, the fixed-n p-value at
  the last look (Bonferroni over the statistics), Holm-adjusted p-value, sequential p-value (also as
  ``corrected_p_value``), hardest rival and the discordant counts against it (first mode), and
  ``statistics``: each statistic's IUT p-value, hardest rival, wins and losses;
- ``references``: per reference model, the agreement rate;
- ``correction``, ``test``, ``null_hypothesis``: the method in words; ``alpha``;
- ``queries_spent`` (suspect queries: prompts x modes, plus the probe of ``suspect_max_tokens="auto"`` and of
  ``budget_split="auto"``, asked once), ``budget_split`` (``"even"`` or ``"chat-heavy"``), ``budget`` (mode ->
  most prompts), ``budget_reason`` (why: the probe's share of useful pairs, or the setting),
  ``looks``, ``stopped`` (``"rejected"``, ``"futility"`` or ``"budget"``), ``prompts`` (the sampler's
  spec), ``max_tokens`` (the panel's), ``suspect_max_tokens`` (the suspect's; above ``max_tokens`` its
  answers are compared by their first word), ``mode`` (e.g. ``"chat+raw"``), ``statistics`` (the
  statistics combined), ``logprobs`` (mode -> whether the suspect's top-k next-token distributions entered
  that mode's excess statistic, :mod:`~stillwatch.trace.provenance_logprobs`);
- ``suspect_answer_spread``: per mode, how much the suspect's answers depend on the prompt (distinct
  first words, the most frequent one and its share), and ``caveats``: a sentence per mode where one
  first word covers more than :data:`NEAR_CONSTANT_SHARE` of the prompts. Such a suspect can pass the
  agreement test by its base rate alone (a model answering "The" to everything agrees more with a
  candidate that says "The" half the time than with a rival that says it a third of the time), so an
  attribution then is no evidence of behaviour learnt from the candidate; read it with the caveat.

Panel models that do not serve a prompt mode (``modes`` attribute; a remote chat API serves chat
only) sit that mode out: their answers there are recorded as uninformative and they are no rival
for that mode's statistic (:func:`~stillwatch.trace.provenance_stats.panel_test`). A chat-only
*reference* of the candidate's kind (another chat model) is what guards the habit statistic against
habits every chat model shares: a habit compatible with one of its frequent answers is not
distinctive of the candidate.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from stillwatch.errors import InputError
from stillwatch.trace.provenance_probe import (  # noqa: F401  (re-exported: the probe's constants and rules)
    BUDGET_SPLITS,
    LONG_ANSWER_TOKENS,
    NEAR_CONSTANT_SHARE,
    PROBE_PROMPTS,
    Probe,
    answer_spread,
    caveats,
    choose_split,
    mode_budgets,
    suspect_tokens,
)
from stillwatch.trace.provenance_probe import short_share as _short_share  # noqa: F401
from stillwatch.trace.provenance_query import MODES, AnswerCache, LocalModel, RemoteModel, cached_answers, cached_distributions
from stillwatch.trace.provenance_logprobs import SIGNFLIP_DRAWS, TOP_K, combined_excess_test, logprob_excess_scores
from stillwatch.trace.provenance_overlap import overlap_scores
from stillwatch.trace.provenance_stats import (
    agreement_matrix,
    blank_end_of_text,
    distinctive_habits,
    excess_scores,
    excess_test,
    first_word,
    gate_combine,
    habit_matrix,
    holm,
    informative,
    informative_pairs,
    panel_test,
    primary_weights,
    spending_weights,
    weighted_bonferroni,
)
from stillwatch.trace.provenance_config import ProvenanceConfig  # noqa: F401  (re-exported: the test's settings)
from stillwatch.trace.provenance_text import (  # noqa: F401 - re-exported: the method texts by configuration
    BLANK_PAIRS, CORRECTION, CORRECTIONS, END_OF_TEXT, LOGPROBS, NULLS, NULL_HYPOTHESIS, PANEL_LOGPROBS, PER_MODE,
    STATISTIC_WEIGHTS, TEST, correction_text)

log = logging.getLogger(__name__)


Model = LocalModel | RemoteModel
#: Futility needs this many discordant prompts between each candidate and its hardest rival: with
#: fewer, "not ahead" means "no evidence yet", not "behind".
MIN_DISCORDANT_FUTILITY = 10
#: The habit statistic is computed on chat-mode answers (the profile prompts are asked in chat mode).
HABIT_MODE = "chat"
#: The answers recorded for a panel model in a mode it does not serve (a remote chat API in raw
#: mode): whitespace, i.e. uninformative, so that the model is no rival in that mode.
NOT_SERVED = " "


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
    statistics: list[str]
    suspect_max_tokens: int = 1
    null_hypothesis: str = NULL_HYPOTHESIS + END_OF_TEXT["blank"] + BLANK_PAIRS["drop"]
    test: str = TEST
    correction: str = CORRECTION
    answers: dict[str, list[str]] = field(default_factory=dict, repr=False)
    suspect_answer_spread: dict[str, dict] = field(default_factory=dict)
    caveats: list[str] = field(default_factory=list)
    budget_split: str = "even"
    budget: dict[str, int] = field(default_factory=dict)
    budget_reason: str = ""
    #: per mode: whether the suspect's next-token distributions entered the excess statistic
    logprobs: dict[str, bool] = field(default_factory=dict)
    #: per mode: whether the overlap of the panel's distributions with the suspect's entered it too
    panel_logprobs: dict[str, bool] = field(default_factory=dict)

    def to_dict(self, *, with_answers: bool = False) -> dict:
        d = asdict(self)
        if not with_answers:
            d.pop("answers")
        return d


def _panel_answers(models: Sequence[Model], prompts: list[str], modes: Sequence[str], cfg: ProvenanceConfig,
                   cache: AnswerCache | None, progress: Callable[[str], None] | None) -> dict[str, list[list[str]]]:
    out: dict[str, list[list[str]]] = {m: [] for m in modes}
    for m in models:
        for mode in modes:
            if mode not in getattr(m, "modes", MODES):  # e.g. a remote chat API in raw mode: no rival there
                log.info("panel model %s does not serve %s mode; it sits that mode out", m.name, mode)
                out[mode].append([NOT_SERVED] * len(prompts))
                continue
            answers, hit = cached_answers(m, prompts, mode=mode, max_tokens=cfg.max_tokens, cache=cache)
            log.info("panel model %s (%s): %s", m.name, mode, "cached answers" if hit else f"{len(prompts)} queries")
            out[mode].append(answers)
        if progress is not None:
            progress(f"panel {m.name}")
    return out


def _by_mode(answers, modes: Sequence[str], what: str) -> dict:
    """``answers`` given per mode (a dict) or, for a single mode, as the bare value."""
    if isinstance(answers, Mapping):
        missing = [m for m in modes if m not in answers]
        if missing:
            raise InputError(f"{what} lacks the answers of mode(s) {missing}")
        return {m: answers[m] for m in modes}
    if len(modes) != 1:
        raise InputError(f"{what} must be a dict mode -> answers when the test uses several modes {list(modes)}")
    return {modes[0]: answers}


def _look(got: dict[str, list[str]], panel: dict, usable: dict, habits, n: dict[str, int], n_cand: int, cfg: ProvenanceConfig,
          cut: bool, dists: dict | None = None, panel_dists: dict | None = None) -> dict:
    """Every statistic's panel test on the first ``n[mode]`` prompts of each mode (``cut``: the suspect's answers to
    their first word; ``dists[mode]``: the suspect's top-k distributions on those prompts, where it gave them;
    ``panel_dists[mode]``: every panel model's, where the overlap enters that mode)."""
    tests = {}
    mine = {m: (first_word(a[:n[m]]) if cut else a[:n[m]]) for m, a in got.items()}
    if cfg.end_of_text == "blank":
        mine = {m: blank_end_of_text(a) for m, a in mine.items()}
    for mode in cfg.modes:
        k = n[mode]
        cols = [a[:k] for a in panel[mode]]  # the panel's answers to the look's prompts
        agree = agreement_matrix(mine[mode], cols, mode=cfg.agreement)  # [k, M]
        tests[f"agreement/{mode}"] = panel_test(agree, n_cand, usable[mode][:k])
        if cfg.per_mode != "agreement":
            m = excess_scores(mine[mode], cols, usable[mode][:k], mode=cfg.agreement,
                              drop_blank_pairs=cfg.blank_pairs == "drop")
            dm = (dists or {}).get(mode)
            if dm is not None and not cut and cfg.agreement == "prefix":
                keep = informative_pairs(mine[mode]) if cfg.blank_pairs == "drop" else None
                b = logprob_excess_scores(dm[:k], cols, usable[mode][:k], keep_pairs=keep,
                                          blank_end_of_text=cfg.end_of_text == "blank")
                pd = (panel_dists or {}).get(mode)
                c = None if pd is None else overlap_scores(dm[:k], [d[:k] for d in pd], keep,
                                                            blank_end_of_text=cfg.end_of_text == "blank")
                tests[f"excess/{mode}"] = combined_excess_test(m, b, n_cand, usable[mode][:k].any(axis=0), overlap=c,
                                                               seed=cfg.seed)
            else:
                tests[f"excess/{mode}"] = excess_test(m, n_cand, usable[mode][:k].any(axis=0), method=cfg.excess_method)
    if habits is not None:
        tests[f"habits/{HABIT_MODE}"] = panel_test(habit_matrix(mine[HABIT_MODE], habits), n_cand)
    return tests


def _combine(tests: dict, cfg: ProvenanceConfig) -> np.ndarray:
    """Per candidate: each mode's p-value by ``cfg.per_mode`` (the excess; the agreement gated by the excess, their
    max; or the agreement), then (weighted) Bonferroni with the habit statistic: ``cfg.statistic_weights`` "equal",
    or "primary" (the first mode's statistic, the one the question is about for every suspect, API-only ones
    included, gets half of alpha; the other mode and the habits are back-ups for particular failures: a pruned
    model whose chat broke, a student that learnt its teacher's openings only). Weights fixed before any answer."""
    per = []
    for mode in cfg.modes:
        p = tests[f"agreement/{mode}"].p_value
        if cfg.per_mode == "excess":
            per.append(tests[f"excess/{mode}"].p_value)
        else:
            per.append(gate_combine(p, tests[f"excess/{mode}"].p_value) if cfg.per_mode == "gated" else p)
    per += [t.p_value for k, t in tests.items() if k.startswith("habits/")]
    s = len(per)
    w = primary_weights(list(range(s)), 0) if cfg.statistic_weights == "primary" else np.full(s, 1.0 / s)
    return weighted_bonferroni(np.stack(per), w)  # [C]


def _futile(tests: dict, per_mode: str = "excess") -> bool:
    """No candidate ahead under any statistic that decides; the paired ones with enough discordant units. Gated, the
    excess statistics are not consulted: each only gates its mode's agreement (the gated p-value is at least the
    agreement's), so an agreement statistic that is behind is behind gated too, and a suspect with no excess
    discordance at all (a constant answer) would otherwise never stop early. Judged by the excess alone, the
    agreement statistics are not consulted, and an excess statistic with no non-zero pair at all after two looks
    (a suspect whose answers show no excess over their own frequencies, e.g. a constant one) also counts as not
    ahead. Futility never adds a rejection, so any such rule keeps the level."""
    skip = "agreement/" if per_mode == "excess" else "excess/"
    return all(np.all(t.p_value >= 0.5) and (k.startswith("habits") or np.all(
        (t.discordant >= MIN_DISCORDANT_FUTILITY) | ((t.discordant == 0) & k.startswith("excess/"))))
               for k, t in tests.items() if not k.startswith(skip))


def run_provenance(suspect: Model, candidates: Sequence[Model], references: Sequence[Model] = (), *,
                   config: ProvenanceConfig = ProvenanceConfig(), cache: AnswerCache | None = None,
                   panel_answers=None, suspect_answers=None, profile_answers: Sequence[Sequence[str]] | None = None,
                   probe_answers: Sequence[str] | None = None, suspect_dists=None, panel_dists=None,
                   progress: Callable[[str], None] | None = None) -> ProvenanceResult:
    """Test ``suspect`` against ``candidates`` (possible parents) with ``references`` as further rivals.

    ``panel_answers`` (candidates then references, per mode at least as many as the mode's budget: see
    :meth:`ProvenanceConfig.panel_budgets`), ``suspect_answers``, ``profile_answers`` (the panel's chat answers to
    :meth:`ProvenanceConfig.profile_prompts`) and ``probe_answers`` (the suspect's chat answers to the probe
    prompts, :func:`~stillwatch.trace.provenance_probe.probe_prompts`; needed with pre-computed suspect answers when
    ``budget_split="auto"`` chooses between chat and raw) may be given pre-computed (benchmarks): the first two as a
    dict mode -> answers, or bare for a single mode. Otherwise the panel is answered (through ``cache``) and the
    suspect queried look by look, only as far as the decision needs. The habit statistic is used when
    ``habit_top`` > 0, chat is among the modes, and the profile answers are available (queried, or given).
    ``suspect_dists`` (with ``suspect_answers``): the suspect's top-k next-token distributions per mode (a dict mode ->
    list of (tokens, probabilities), or None for a mode without them); queried suspects give theirs when
    ``cfg.logprobs == "auto"`` and they offer them (:meth:`LocalModel.distributions`; an API's ``top_logprobs``), in
    the same query as their answer. ``panel_dists`` (modes of ``cfg.panel_logprobs``): a dict mode -> one list of
    top-k distributions per panel model (candidates then references, each as long as the mode's budget), or None for
    a mode without them; otherwise queried panels give theirs through ``cache`` (all of a mode's models, or the mode
    goes without). Requires at least one candidate and at least two panel models."""
    cfg = config
    names = [m.name for m in candidates] + [m.name for m in references]
    if not candidates:
        raise InputError("give at least one candidate parent")
    if len(names) < 2:
        raise InputError("the panel needs at least 2 models: add another candidate or a reference model")
    if len(set(names)) != len(names):
        raise InputError(f"panel model names must be distinct, got {names}")
    need = cfg.panel_budgets()  # the most prompts any split may ask of each mode
    # the prompts are drawn only when someone is to be asked them (given answers need none)
    prompts = cfg.prompts(max(need.values())) if panel_answers is None or suspect_answers is None else []
    use_habits = cfg.habit_top > 0 and HABIT_MODE in cfg.modes
    if panel_answers is not None:
        panel = {m: [list(a) for a in v] for m, v in _by_mode(panel_answers, cfg.modes, "panel_answers").items()}
    else:
        panel = {m: _panel_answers([*candidates, *references], prompts[:need[m]], (m,), cfg, cache, progress)[m] for m in cfg.modes}
        if use_habits and profile_answers is None:
            profile_answers = _panel_answers([*candidates, *references], cfg.profile_prompts(), (HABIT_MODE,), cfg, cache,
                                             progress)[HABIT_MODE]
    habits = distinctive_habits(list(profile_answers), cfg.habit_top) if use_habits and profile_answers is not None else None
    if habits is not None and len(habits) != len(names):
        raise InputError(f"profile_answers must hold {len(names)} lists, one per panel model")
    given = _by_mode(suspect_answers, cfg.modes, "suspect_answers") if suspect_answers is not None else None
    if given is None and any(m not in getattr(suspect, "modes", MODES) for m in cfg.modes):
        raise InputError(f"the suspect {suspect.name!r} answers in mode(s) {list(getattr(suspect, 'modes', MODES))} only, "
                         f"the test asks {list(cfg.modes)}")
    probe = Probe(None if given is not None else suspect, cfg, {"chat": probe_answers} if probe_answers is not None else None)
    if given is not None:  # pre-computed answers: asked with suspect_max_tokens when an int was set
        s_tokens = cfg.suspect_max_tokens if isinstance(cfg.suspect_max_tokens, int) else cfg.max_tokens
    else:
        s_tokens = suspect_tokens(probe, cfg, panel[cfg.modes[0]])
    split, reason = choose_split(probe, cfg)  # before any test prompt is asked (provenance_probe: why that is valid)
    budget = mode_budgets(cfg.max_queries, cfg.modes, split)
    if any(len(v) != len(names) or any(len(a) < budget[m] for a in v) for m, v in panel.items()):
        raise InputError(f"panel_answers must hold {len(names)} lists of at least {budget} answers per mode (split {split})")
    panel = {m: [a[:budget[m]] for a in v] for m, v in panel.items()}
    if cfg.end_of_text == "blank":
        panel = {m: [blank_end_of_text(a) for a in v] for m, v in panel.items()}
    # fixed before the suspect is asked: which panel answers are informative
    usable = {m: np.stack([informative(a) for a in panel[m]], axis=1) for m in cfg.modes}  # [N_m, M] each
    looks = cfg.looks()
    weights = spending_weights(looks, cfg.max_queries, cfg.rho)
    got: dict[str, list[str]] = {m: [] for m in cfg.modes}
    # the suspect's distributions per mode; None once a mode has none (asked for answers only from then on)
    use_dists = cfg.logprobs == "auto" and s_tokens == 1
    if given is not None:
        sd = suspect_dists if isinstance(suspect_dists, Mapping) else {}
        dists: dict = {m: (list(sd[m]) if use_dists and sd.get(m) is not None else None) for m in cfg.modes}
    else:
        dists = {m: ([] if use_dists and hasattr(suspect, "distributions") else None) for m in cfg.modes}
    pdists = _panel_distributions(panel_dists, [*candidates, *references], prompts, budget, cfg, cache,
                                  queried=panel_answers is None)
    record: list[dict] = []
    seq_p = np.ones(len(candidates))
    stopped, tests, combined = "budget", {}, np.ones(len(candidates))
    for k, n_look in enumerate(looks):
        # each mode at the same share of its budget (the last look: all of it)
        n = {m: budget[m] if n_look == cfg.max_queries else max(2, int(np.ceil(n_look / cfg.max_queries * budget[m])))
             for m in cfg.modes}
        for m in cfg.modes:
            if given is not None:
                got[m] = list(given[m][:n[m]])
            else:
                new = _ask(suspect, prompts[len(got[m]):n[m]], m, s_tokens, dists)
                got[m] = got[m] + new
            if len(got[m]) < n[m]:
                raise InputError(f"suspect_answers ({m}) holds {len(got[m])} answers, the look needs {n[m]}")
            if dists[m] is not None and len(dists[m]) < n[m]:
                raise InputError(f"suspect_dists ({m}) holds {len(dists[m])} distributions, the look needs {n[m]}")
        tests = _look(got, panel, usable, habits, n, len(candidates), cfg, s_tokens > cfg.max_tokens,
                      {m: (d[:n[m]] if d is not None else None) for m, d in dists.items()}, pdists)
        combined = _combine(tests, cfg)  # [C]
        p_holm = holm(combined)
        seq_p = np.minimum(seq_p, np.minimum(p_holm / weights[k], 1.0))
        record.append({"queries": sum(n.values()), "prompts": dict(n), "level": float(cfg.alpha * weights[k]),
                       "p_holm": [float(x) for x in p_holm]})
        if progress is not None:
            progress(f"look {k + 1}/{len(looks)}: {sum(n.values())} queries")
        if np.any(p_holm <= cfg.alpha * weights[k]):
            stopped = "rejected"
            break
        if k + 1 < len(looks) and k >= 1 and _futile(tests, cfg.per_mode):
            stopped = "futility"
            break
    res = _result(suspect.name, names, len(candidates), tests, combined, seq_p, got, record, stopped, cfg)
    res.logprobs = {m: dists[m] is not None for m in cfg.modes}
    res.panel_logprobs = {m: res.logprobs[m] and pdists.get(m) is not None and s_tokens == cfg.max_tokens
                          and cfg.agreement == "prefix" for m in cfg.modes}
    if any(res.logprobs.values()):
        res.null_hypothesis += LOGPROBS[cfg.logprobs].format(k=TOP_K, draws=SIGNFLIP_DRAWS)
    if any(res.panel_logprobs.values()):
        res.null_hypothesis += PANEL_LOGPROBS.format(modes="/".join(m for m, v in res.panel_logprobs.items() if v))
    res.suspect_max_tokens, res.queries_spent = s_tokens, res.queries_spent + probe.asked
    res.budget_split, res.budget, res.budget_reason = split, budget, reason
    return res


def _panel_distributions(given, models: Sequence[Model], prompts: list[str], budget: dict[str, int], cfg: ProvenanceConfig,
                         cache: AnswerCache | None, *, queried: bool) -> dict[str, list | None]:
    """Per mode of ``cfg.panel_logprobs``: every panel model's top-k distributions on the mode's prompts (``given``,
    checked; else queried through ``cache`` when the panel is queried), or None when any model gives none."""
    out: dict[str, list | None] = {}
    for mode in cfg.panel_logprobs:
        if isinstance(given, Mapping) and given.get(mode) is not None:
            lists = [list(d) for d in given[mode]]
            if len(lists) != len(models) or any(len(d) < budget[mode] for d in lists):
                raise InputError(f"panel_dists ({mode}) must hold {len(models)} lists of at least {budget[mode]} "
                                 f"distributions")
            out[mode] = lists
        elif queried:
            lists = [cached_distributions(m, prompts[:budget[mode]], mode=mode, k=TOP_K, cache=cache) for m in models]
            out[mode] = None if any(d is None for d in lists) else lists
            if out[mode] is None:
                log.info("a panel model gives no next-token distributions in %s mode: no overlap statistic there", mode)
        else:
            out[mode] = None
    return out


def _ask(suspect: Model, prompts: list[str], mode: str, tokens: int, dists: dict) -> list[str]:
    """The suspect's answers to ``prompts`` in ``mode``; where ``dists[mode]`` is a list (distributions wanted), one
    query per prompt gives the top-k distribution too (appended there; its first token is the answer). A suspect
    that gives none (an API without ``top_logprobs``) is asked for answers, and ``dists[mode]`` becomes None."""
    if dists.get(mode) is not None and prompts:
        d = suspect.distributions(prompts, mode=mode, k=TOP_K)
        if d is not None:
            dists[mode].extend(d)
            return [t[0] for t, _ in d]
        log.info("suspect %s gives no next-token distributions in %s mode: answers only", suspect.name, mode)
        dists[mode] = None
    return suspect.answers(prompts, max_tokens=tokens, mode=mode)


def _result(suspect: str, names: list[str], n_cand: int, tests: dict, combined: np.ndarray, seq_p: np.ndarray,
            got: dict[str, list[str]], record: list[dict], stopped: str, cfg: ProvenanceConfig) -> ProvenanceResult:
    first = tests[f"agreement/{cfg.modes[0]}"]
    p_holm = holm(combined)
    cands = []
    for c in range(n_cand):  # a handful of candidates: per-candidate bookkeeping, not a hot path
        r = int(first.rival[c])
        cands.append({
            "name": names[c], "agreement": float(first.rate[c]),
            "agreement_by_mode": {m: float(tests[f"agreement/{m}"].rate[c]) for m in cfg.modes},
            "p_value": float(combined[c]), "p_value_holm": float(p_holm[c]), "p_value_sequential": float(seq_p[c]),
            "corrected_p_value": float(seq_p[c]), "hardest_rival": names[r], "wins_vs_rival": int(first.wins[c]),
            "losses_vs_rival": int(first.losses[c]),
            "statistics": {k: {"p_value": float(t.p_value[c]), "hardest_rival": names[int(t.rival[c])],
                               "wins": int(t.wins[c]), "losses": int(t.losses[c])} for k, t in tests.items()},
        })
    closest = int(np.argmax(first.rate[:n_cand]))
    winner = int(np.argmin(seq_p))
    spread = {m: answer_spread(a) for m, a in got.items() if a}
    derived = stopped == "rejected" and seq_p[winner] <= cfg.alpha
    return ProvenanceResult(
        suspect=suspect, decision="derived" if derived else "none",
        most_likely_parent=names[winner] if derived else None, closest_candidate=names[closest],
        p_values={names[c]: float(seq_p[c]) for c in range(n_cand)}, candidates=cands,
        references=[{"name": names[j], "agreement": float(first.rate[j])} for j in range(n_cand, len(names))],
        queries_spent=sum(len(a) for a in got.values()), looks=record, stopped=stopped, alpha=cfg.alpha, prompts=cfg.spec(),
        max_tokens=cfg.max_tokens, mode="+".join(cfg.modes), statistics=list(tests), answers=got,
        suspect_answer_spread=spread, caveats=caveats(spread), null_hypothesis=NULLS[cfg.per_mode] + END_OF_TEXT[cfg.end_of_text]
        + BLANK_PAIRS[cfg.blank_pairs],
        correction=correction_text(cfg.per_mode, cfg.statistic_weights, cfg.rho),
    )

