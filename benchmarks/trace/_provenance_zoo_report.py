"""Evaluate the provenance zoo's cached answers: our test beside the Nikolic et al. baseline, both on
the same answers of the same models; writes benchmarks/results/trace_provenance.md and a figure."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

log = logging.getLogger("provenance_zoo")
RESULTS = Path(__file__).resolve().parents[1] / "results"


class _Named:
    def __init__(self, name: str) -> None:
        self.name = name


def _answers(out: Path, names: list[str], n: int, n_profile: int, seed: int = 0, tokens=None) -> tuple[dict, dict, dict]:
    """Cached answers: test prompts of prompt seed ``seed`` in chat and raw mode (every model; a
    chat-only model's raw answers are NOT_SERVED; chat: the n prompts, then the extra prompts of a chat-heavy
    budget split; a model lacking either counts as not answered), profile prompts (panel, seed 0). ``tokens``: name -> max_tokens of its test
    answers (default 1)."""
    from stillwatch.trace.provenance import NOT_SERVED, ProvenanceConfig
    from stillwatch.trace.provenance_query import AnswerCache
    from _provenance_zoo_settings import CHAT_ONLY, chat_extra

    extra = chat_extra(n, seed)

    cache = AnswerCache(out / "answers")
    test = ProvenanceConfig(max_queries=n, look_every=n, seed=seed).prompts()
    profile = ProvenanceConfig(max_queries=n, look_every=n, profile_queries=n_profile).profile_prompts()
    got_chat, got_raw, got_prof = {}, {}, {}
    for name in names:
        t = (tokens or {}).get(name, 1)
        a = cache.get(f"zoo:{name}:v1", test, "chat", t)
        more = cache.get(f"zoo:{name}:v1", extra, "chat", t)
        a = a + more if a is not None and more is not None else None  # complete only with the chat-heavy split's prompts
        b = [NOT_SERVED] * n if name in CHAT_ONLY else cache.get(f"zoo:{name}:v1", test, "raw", t)
        if a is not None and b is not None:
            got_chat[name], got_raw[name] = a, b
        c = cache.get(f"zoo:{name}:v1", profile, "chat", 1) if seed == 0 else None
        if c is not None:
            got_prof[name] = c
    return got_chat, got_raw, got_prof


def _dists(out: Path, names: list[str], n: int, seed: int = 0, modes=("chat", "raw")) -> dict[str, dict[str, list]]:
    """The cached top-k distributions (``provenance_zoo.py --dists``) on the test prompts of prompt seed ``seed``:
    name -> {mode: list}, chat the n prompts then the chat-heavy split's extra ones, raw the n prompts; a model
    lacking any set of ``modes`` has none (a suspect's test then uses its answers only, as for an API without
    logprobs)."""
    from stillwatch.trace.provenance import ProvenanceConfig
    from _provenance_zoo_settings import DistCache, chat_extra

    cache = DistCache(out / "dists")
    test = ProvenanceConfig(max_queries=n, look_every=n, seed=seed).prompts()
    parts = {"chat": [test, chat_extra(n, seed)], "raw": [test]}
    got = {}
    for name in names:
        sets = {m: [cache.get(name, p, m) for p in parts[m]] for m in modes}
        if all(d is not None for v in sets.values() for d in v):
            got[name] = {m: [x for d in v for x in d] for m, v in sets.items()}
    return got


def _panel_dists(out: Path, names: list[str], n: int, seed: int = 0) -> dict[str, list] | None:
    """The panel models' chat-mode distributions (:func:`_dists`), one list per model in ``names``' order: {"chat":
    lists}, or None when any model lacks them (the overlap row then runs without them, and says so)."""
    got = _dists(out, names, n, seed, modes=("chat",))
    return {"chat": [got[x]["chat"] for x in names]} if all(x in got for x in names) else None


def _long(out: Path, names: list[str]) -> dict[str, int]:
    """Suspects that the probe of ``suspect_max_tokens="auto"`` sends to longer answers."""
    from stillwatch.trace.provenance import LONG_ANSWER_TOKENS
    from stillwatch.trace.provenance_query import AnswerCache
    from _provenance_zoo_settings import needs_long_answers

    cache = AnswerCache(out / "answers")
    return {x: LONG_ANSWER_TOKENS for x in names if needs_long_answers(cache, x)}


def ours(chat, raw, panel_c, panel_r, profile, n_cand: int, names: list[str], n: int, alpha: float = 0.05, *,
         modes=("chat", "raw"), habits: bool = True, tokens: int = 1, probe=None, dists=None, panel_dists=None,
         **settings):
    """Our test on precomputed answers; ``modes`` / ``habits`` switch statistics off for the ablations, ``settings``
    are ProvenanceConfig fields (``per_mode``, ``excess_method``, ``rho``, ``statistic_weights``, ``end_of_text``,
    ``budget_split``; default: the library's defaults); ``tokens``: the suspect's answers are of that many tokens
    (compared by their first word when > 1); ``probe``: the suspect's chat answers to the probe prompts (the
    ``budget_split="auto"`` choice reads them); ``dists``: the suspect's top-k distributions per mode (used unless the
    settings say ``logprobs="off"``); ``panel_dists``: the panel's per mode (used where the settings name
    ``panel_logprobs``). Chat answer lists may run past ``n`` (the chat-heavy split's prompts)."""
    from stillwatch.trace.provenance import ProvenanceConfig, run_provenance

    cfg = ProvenanceConfig(max_queries=n, look_every=max(10, n // 4), alpha=alpha, modes=tuple(modes),
                           habit_top=8 if habits else 0, profile_queries=max(10, len(profile[0])) if profile else 200,
                           suspect_max_tokens=tokens, **settings)
    models = [_Named(x) for x in names]
    sus = {"chat": chat, "raw": raw}
    pan = {"chat": panel_c, "raw": panel_r}
    return run_provenance(_Named("suspect"), models[:n_cand], models[n_cand:], config=cfg,
                          panel_answers={m: pan[m] for m in modes}, suspect_answers={m: sus[m] for m in modes},
                          profile_answers=profile if habits else None, probe_answers=probe,
                          suspect_dists={m: (dists or {}).get(m) for m in modes},
                          panel_dists=panel_dists if settings.get("panel_logprobs") else None)


def nikolic(suspect_raw, panel_raw, n_cand: int, names: list[str], alpha: float = 0.05):
    """Their tester; a guess of a reference model (a parent in their set, not a candidate here) counts as none."""
    from stillwatch.trace.provenance_stats import agreement, nikolic_test

    hits = [int(agreement(suspect_raw, p, mode="exact").sum()) for p in panel_raw]
    best, sig, pmax = nikolic_test(hits, len(suspect_raw), alpha)
    guess = names[best] if sig else None
    return (guess if best < n_cand else None), guess, pmax


def _score(rows: list[dict], key: str) -> dict:
    """Precision / recall against the truth table; an attribution to the pretrained base a student was
    fine-tuned from (``base_panel``) is true derivation, so it is no wrong attribution, but it is no hit either."""
    tp = sum(r["truth"] is not None and r[key] == r["truth"] for r in rows)
    fp = sum(r[key] is not None and r[key] not in (r["truth"], r.get("base_panel")) for r in rows)
    pos = sum(r["truth"] is not None for r in rows)
    return {"tp": tp, "fp": fp, "pos": pos, "precision": tp / (tp + fp) if tp + fp else float("nan"),
            "recall": tp / pos if pos else float("nan")}


#: the sixth session's settings of the seventh session's three changes (linear spending, equal weights over the
#: statistics, an empty answer agreeing with empty answers) and of the eighth session's (every pair counted in the excess,
#: blank co-location included); the earlier sessions' tests keep them, so their rows are the figures those sessions reported
OLD = {"rho": 1.0, "statistic_weights": "equal", "end_of_text": "answer", "blank_pairs": "keep", "budget_split": "even",
       "logprobs": "off"}
#: twelfth session: a panel whose references are independent of the candidates. The chat-model reference
#: ref-gemma-chat is Gemma's own weights behind the URIAL prompt, so a student of its answers (a "twin") is Gemma's
#: and can never beat that reference; here Gemma the candidate answers chat prompts through URIAL (how a base model
#: chats) and there is no separate chat reference: SmolLM2 must still beat a chat model of another lineage
URIAL = "ours, Gemma's chat through URIAL as the candidate's (no chat reference of a candidate's weights)"
#: the eleventh session's test: the twelfth session's change (the suspect's next-token distributions) undone
ANSWERS = "ours, answers only (eleventh session's test: no next-token distributions)"
NO_LP = {"logprobs": "off"}
#: thirteenth session: the panel's own chat-mode distributions too (their overlap with the suspect's; opt-in in the
#: library until this row is measured; needs ``provenance_zoo.py --dists`` to have cached the panel's)
OVERLAP = "ours + the panel's chat distributions (thirteenth session: overlap, opt-in)"
#: fourteenth session: both — the URIAL panel (every reference independent of both candidates) and the panel's chat
#: distributions; the candidate headline (its decision rule is in notes/issue-17-provenance.md, written before its figures)
URIAL_OVERLAP = "ours, URIAL panel + the panel's chat distributions (fourteenth session's candidate headline)"
#: the seventh session's test: the eighth session's change (a pair counts only when the suspect is informative on both) undone
SEVENTH = "ours, seventh session's settings (every pair counted: blank co-location is evidence)"
#: our test and its ablations: (label, modes, habit statistic, ProvenanceConfig settings; {} = the library's defaults)
#: the eighth session's test: the eleventh session's change (the budget split chosen from the probe) undone
EVEN = "ours, even split (eighth session's test: N chat + N raw whatever the probe)"
#: the fixed reallocation the eighth session argued against: 2/3 chat for every suspect
HEAVY = "ours, chat-heavy split for every suspect (2/3 chat, not chosen)"
VARIANTS = [("ours", ("chat", "raw"), True, {}),
            (ANSWERS, ("chat", "raw"), True, NO_LP),
            (EVEN, ("chat", "raw"), True, {"budget_split": "even"}),
            (HEAVY, ("chat", "raw"), True, {"budget_split": "chat-heavy"}),
            (SEVENTH, ("chat", "raw"), True, {"blank_pairs": "keep", "budget_split": "even", **NO_LP}),
            ("ours, sixth session's settings (rho 1, equal weights, end of text an answer, every pair)", ("chat", "raw"), True, OLD),
            ("ours, linear spending (rho 1)", ("chat", "raw"), True, {"rho": 1.0}),
            ("ours, equal weights over the statistics", ("chat", "raw"), True, {"statistic_weights": "equal"}),
            ("ours, end of text an answer of its own", ("chat", "raw"), True, {"end_of_text": "answer"}),
            ("ours, agreement gated by the excess (fifth session's combination)", ("chat", "raw"), True, {**OLD, "per_mode": "gated"}),
            ("ours, gated, excess by the sign test (fifth session's test)", ("chat", "raw"), True,
             {**OLD, "per_mode": "gated", "excess_method": "sign"}),
            ("ours without the excess (fourth session's test)", ("chat", "raw"), True, {**OLD, "per_mode": "agreement"}),
            ("ours without the chat-model reference", ("chat", "raw"), True, NO_LP),
            ("ours: chat agreement only (first session's statistic)", ("chat",), False, {**OLD, "per_mode": "agreement"}),
            (URIAL, ("chat", "raw"), True, {}),
            (OVERLAP, ("chat", "raw"), True, {"panel_logprobs": ("chat",)}),
            (URIAL_OVERLAP, ("chat", "raw"), True, {"panel_logprobs": ("chat",)})]
SETTINGS = {label: st for label, _, _, st in VARIANTS}
#: the variants that probe a suspect's answer length (``suspect_max_tokens="auto"``: byte-level suspects answer 8
#: tokens); the earlier sessions' tests and the panel ablation compare one-token answers, as they did
PROBED = [label for label, *_ in VARIANTS[:9]] + [URIAL, OVERLAP, URIAL_OVERLAP]
#: the variant whose panel lacks the chat-only references
NO_CHAT_REF = VARIANTS[12][0]
#: the sixth session's test exactly
SIXTH = VARIANTS[5][0]
#: the fifth session's combination (each mode's agreement gated by its excess), on the sign-flip excess
GATED = VARIANTS[9][0]
assert NO_CHAT_REF.startswith("ours without the chat") and SIXTH.startswith("ours, sixth") and "gated by" in GATED
#: the tests whose false attributions among the independents are counted over the calibration pools (every independent
#: of the zoo gets the even split from its probe, so the chat-heavy branch is calibrated by the forced variant)
CALIBRATED = ["ours", ANSWERS, HEAVY, EVEN, SEVENTH, SIXTH, NO_CHAT_REF, GATED, URIAL, OVERLAP, URIAL_OVERLAP]
#: the tests that read the panel's distributions: their calibration is also counted over the tests that used them
READS_PANEL = [OVERLAP, URIAL_OVERLAP]
#: the tests whose per-statistic excess p-values among the independents are counted too (a finer look than decisions)
STAT_CALIBRATED = ["ours", ANSWERS, HEAVY, SEVENTH, OVERLAP, URIAL_OVERLAP]
#: the question of a dispute about a student fine-tuned from its owner's pretrained base: was it distilled from
#: SmolLM2? Its base is then a reference, not a candidate (the owner's base is not what the provider asks about)
BASE_AS_REF = "ours, the student's base as a reference"


def _panel_slots(label: str, names: list[str]) -> tuple[list[int], list[int]] | None:
    """Where each model of a variant's panel comes from: ``(kept, chat_from)``, indices into ``names`` of the models
    kept and of the model whose chat answers, profile answers and chat distributions each kept slot takes; None for
    the full panel. Without the chat-only references (``NO_CHAT_REF``); the URIAL panels (``URIAL``,
    ``URIAL_OVERLAP``) also take the Gemma candidate's chat from the URIAL-prompted Gemma (``ref-gemma-chat``: the
    same weights)."""
    from _provenance_zoo_settings import CHAT_ONLY

    if label not in (NO_CHAT_REF, URIAL, URIAL_OVERLAP):
        return None
    keep = [j for j, x in enumerate(names) if x not in CHAT_ONLY]
    chat_from = list(keep)
    if label in (URIAL, URIAL_OVERLAP) and "ref-gemma-chat" in names and "gemma3-270m" in names:
        chat_from[keep.index(names.index("gemma3-270m"))] = names.index("ref-gemma-chat")
    return keep, chat_from


def _panel(label: str, names: list[str], pc: list, pr: list, prof: list) -> tuple[list[str], list, list, list]:
    """The panel a variant is tested against (:func:`_panel_slots`): names, chat, raw and profile answers."""
    slots = _panel_slots(label, names)
    if slots is None:
        return names, pc, pr, prof
    keep, chat_from = slots
    return [names[j] for j in keep], [pc[j] for j in chat_from], [pr[j] for j in keep], [prof[j] for j in chat_from]


def _panel_pdists(label: str, names: list[str], pdists: dict | None) -> dict | None:
    """The panel's chat distributions in the order of :func:`_panel`'s panel for ``label``."""
    slots = _panel_slots(label, names)
    return pdists if pdists is None or slots is None else {"chat": [pdists["chat"][j] for j in slots[1]]}


def _base_panel(s: dict) -> str | None:
    """The panel model that holds a student's pretrained base weights (the zoo's Gemma students start from
    gemma3-270m with a chat template), or None for a fresh student."""
    base = s.get("base")
    return "gemma3-270m" if base and base.startswith("gemma3-270m") else base


def report(out: Path, truth_path: Path, cands: list[str], refs: list[str], n: int, n_profile: int, pools: list[tuple[int, int]], *,
           command: str, machine: str, date: str) -> None:
    from stillwatch.trace.provenance import PROBE_PROMPTS
    from _provenance_zoo_settings import CHAT_ONLY, prompt_dependence

    doc = json.loads(truth_path.read_text())
    spec = doc["suspects"]
    panel_names = cands + refs
    chat, raw, prof = _answers(out, panel_names + list(spec), n, n_profile)
    missing_panel = [x for x in panel_names if x not in chat or x not in prof]
    if missing_panel:
        log.warning("panel models without answers yet: %s; no report", missing_panel)
        return
    long = _long(out, list(spec))
    chat_l, raw_l, _ = _answers(out, list(long), n, n_profile, tokens=long)
    panel_c, panel_r, profile = [chat[x] for x in panel_names], [raw[x] for x in panel_names], [prof[x] for x in panel_names]
    nik = [j for j, x in enumerate(panel_names) if x not in CHAT_ONLY]  # their panel: models that continue raw text
    nik_names, nik_r, nik_c = [panel_names[j] for j in nik], [panel_r[j] for j in nik], [panel_c[j][:n] for j in nik]
    probes = _probes(out, list(spec))
    dists = _dists(out, list(spec), n)
    pdists = _panel_dists(out, panel_names, n)
    if pdists is None:
        log.warning("the panel's chat distributions are not cached: the overlap row runs without them")
    rows = []
    for name, s in spec.items():
        if name not in chat or (name in long and name not in chat_l):
            continue
        row = {"suspect": name, "truth": s["parent"], "kind": _kind(s), "suspect_tokens": long.get(name, 1),
               "teacher": s.get("teacher"), "base_panel": _base_panel(s)}
        if s["kind"] == "student":  # the check that its answers depend on the prompt (the test's own chat answers)
            row["dependence"] = prompt_dependence((chat_l[name] if name in long else chat[name])[:n])
        for label, modes, habits, settings in VARIANTS:
            probed = label in PROBED
            mine = (chat_l[name], raw_l[name], long[name]) if probed and name in long else (chat[name], raw[name], 1)
            v_names, v_c, v_r, v_prof = _panel(label, panel_names, panel_c, panel_r, profile)
            r = ours(mine[0], mine[1], v_c, v_r, v_prof, len(cands), v_names, n, modes=modes, habits=habits, tokens=mine[2],
                     probe=probes.get(name), dists=dists.get(name), panel_dists=_panel_pdists(label, panel_names, pdists),
                     **settings)
            if label in READS_PANEL:
                row[f"{label}/overlap_used"] = bool(r.panel_logprobs.get("chat"))
            row[label] = r.most_likely_parent
            row[f"{label}/p"] = min(r.p_values.values())
            row[f"{label}/queries"] = r.queries_spent + (PROBE_PROMPTS if probed else 0)
            if label in STAT_CALIBRATED:
                row[f"{label}/excess"] = _excess_p(r)
            if label == "ours":
                row["split"], row["split_reason"], row["budget"] = r.budget_split, r.budget_reason, r.budget
                row["logprobs"] = r.logprobs
                row["agree"] = {c["name"]: {m: round(v, 3) for m, v in c["agreement_by_mode"].items()} for c in r.candidates}
                row["stats"] = {k: round(v["p_value"], 4) for c in r.candidates if c["name"] == r.closest_candidate
                                for k, v in c["statistics"].items()}
                row["stats_by_candidate"] = {c["name"]: {k: v["p_value"] for k, v in c["statistics"].items()} for c in r.candidates}
        if row["base_panel"] in cands:  # the dispute's question: distilled from the other candidate(s)?
            order = [j for j, x in enumerate(panel_names) if x != row["base_panel"]] + [panel_names.index(row["base_panel"])]
            r = ours(chat[name], raw[name], [panel_c[j] for j in order], [panel_r[j] for j in order], [profile[j] for j in order],
                     len(cands) - 1, [panel_names[j] for j in order], n, probe=probes.get(name), dists=dists.get(name))
            row[BASE_AS_REF], row[f"{BASE_AS_REF}/p"] = r.most_likely_parent, min(r.p_values.values())
            row[f"{BASE_AS_REF}/stats"] = {c["name"]: {k: v["p_value"] for k, v in c["statistics"].items()} for c in r.candidates}
        g, raw_guess, pmax = nikolic(raw[name], nik_r, len(cands), nik_names)
        row.update({"nikolic": g, "nikolic_raw_guess": raw_guess, "nikolic/p": pmax, "nikolic/queries": n})
        g2, _, pmax2 = nikolic(raw[name] + chat[name][:n], [a + b for a, b in zip(nik_r, nik_c)], len(cands), nik_names)
        row.update({"nikolic 2N": g2, "nikolic 2N/p": pmax2, "nikolic 2N/queries": 2 * n})
        rows.append(row)
    indep = [r["suspect"] for r in rows if r["truth"] is None]
    calib = _calibration(out, rows, indep, long, profile, cands, panel_names, n_profile, pools, probes)
    calib["replicates"] = _replicates(out, rows, long, profile, cands, panel_names, n, n_profile, pools, probes)
    _write(rows, calib, spec, cands, refs, n, command, machine, date, chat)


def _probes(out: Path, names: list[str]) -> dict[str, list[str]]:
    """Each suspect's cached chat answers to the probe prompts (what ``budget_split="auto"`` reads)."""
    from stillwatch.trace.provenance_query import AnswerCache
    from _provenance_zoo_settings import probe_answers

    cache = AnswerCache(out / "answers")
    return {x: a for x in names if (a := probe_answers(cache, x)) is not None}


def _kind(s: dict) -> str:
    if s["parent"] is None:
        return "independent"
    if s["kind"] == "student":
        return f"student of {s['teacher']}"
    return f"{s['kind']} of {s['parent']}"


def _excess_p(result) -> dict[str, float]:
    """``"excess/<mode> -> <candidate>"`` -> that statistic's p-value (fixed-n, the last look) of a result."""
    return {f"{k} -> {c['name']}": v["p_value"] for c in result.candidates for k, v in c["statistics"].items()
            if k.startswith("excess/")}


def _calibration(out: Path, rows: list[dict], independents: list[str], long: dict, profile, cands, names,
                 n_profile: int, pools: list[tuple[int, int]], probes: dict) -> dict:
    """False attributions among the independent suspects (alpha = 0.05) of each test in ``CALIBRATED``: the main
    pool (seed 0, N prompts) and each calibration pool ((prompt seed, prompts) in ``pools``) whose answers are
    complete for the panel, with each independent answered there (independent draws from the sampler, so the tests of one suspect are independent replicates; the
    panel's habit sets come from the seed-0 profile pool throughout). For the tests in ``STAT_CALIBRATED`` also each
    excess statistic's p-values over the same tests (``per_statistic``: statistic -> [count <= 0.05, tests, smallest]).
    The budget split of ``"auto"`` reads each suspect's one probe (seed-0 profile prompts) for every pool: a split fixed
    per suspect, independent of every pool's test prompts, which is what the test's validity needs."""
    per_seed = {0: [(r["suspect"], [r[label] for label in CALIBRATED]) for r in rows if r["truth"] is None]}
    excess = {label: [r[f"{label}/excess"] for r in rows if r["truth"] is None] for label in STAT_CALIBRATED}
    used = {label: [r[f"{label}/overlap_used"] for r in rows if r["truth"] is None] for label in READS_PANEL}
    sizes: dict[int, int] = {}
    for seed, size in pools:
        chat, raw, _ = _answers(out, names + independents, size, n_profile, seed=seed, tokens=long)
        if any(x not in chat for x in names):
            continue
        pc, pr = [chat[x] for x in names], [raw[x] for x in names]
        dists = _dists(out, independents, size, seed)
        pdists = _panel_dists(out, names, size, seed)

        def run(x, label):
            v_names, v_c, v_r, v_prof = _panel(label, names, pc, pr, profile)
            r = ours(chat[x], raw[x], v_c, v_r, v_prof, len(cands), v_names, size, tokens=long.get(x, 1), probe=probes.get(x), dists=dists.get(x),
                     panel_dists=_panel_pdists(label, names, pdists), **SETTINGS[label])
            if label in STAT_CALIBRATED:
                excess[label].append(_excess_p(r))
            if label in READS_PANEL:
                used[label].append(bool(r.panel_logprobs.get("chat")))
            return r.most_likely_parent

        per_seed[seed] = [(x, [run(x, label) for label in CALIBRATED]) for x in independents if x in chat]  # those answered
        if not per_seed[seed]:
            del per_seed[seed]
            continue
        sizes[seed] = size
    tests = [(seed, x, got) for seed, res in per_seed.items() for x, got in res]
    false = {label: [f"{x} (seed {seed}) -> {got[i]}" for seed, x, got in tests if got[i] is not None]
             for i, label in enumerate(CALIBRATED)}
    per_stat = {label: {k: [sum(e[k] <= 0.05 for e in es), len(es), min(e[k] for e in es)] for k in es[0]} if es else {}
                for label, es in excess.items()}
    pools_of = {x: sum(x == y for _, y, _ in tests) for x in independents}
    # the tests that read the panel's distributions, and the false attributions among them (tests and ``used`` are
    # both in seed order, main pool first, suspects in their order within a pool)
    read = {label: [f"{x} (seed {seed}) -> {got[CALIBRATED.index(label)]}" for (seed, x, got), u in zip(tests, used[label])
                    if u and got[CALIBRATED.index(label)] is not None] for label in READS_PANEL}
    n_read = {label: sum(used[label]) for label in READS_PANEL}
    return {"tests": len(tests), "seeds": sorted(per_seed), "sizes": {s: sizes[s] for s in sorted(per_seed) if s}, "suspects": len(independents),
            "fewer_pools": {x: k for x, k in pools_of.items() if k < max(pools_of.values(), default=0)},
            "false": false, "per_statistic": per_stat, "panel_read": {"false": read, "tests": n_read}}


#: the tests compared on the power replicates (the budget split's question: probe-chosen, even, or chat-heavy for all)
REPLICATED = ["ours", ANSWERS, EVEN, HEAVY, URIAL, OVERLAP, URIAL_OVERLAP]
#: their short names in the replicates' table
REPLICATED_SHORT = ["ours", "answers only", "even", "chat-heavy", "URIAL panel", "+ overlap", "URIAL + overlap"]


def _replicates(out: Path, rows: list[dict], long: dict, profile, cands, names, n: int, n_profile: int,
                pools: list[tuple[int, int]], probes: dict) -> dict:
    """Power replicates: each suspect with a parent whose answers to a full-size calibration pool (N prompts, a fresh
    prompt seed) are cached, tested there by each test of ``REPLICATED``: seed -> suspect -> [attribution per test]."""
    out_: dict[int, dict[str, list]] = {}
    positives = [r["suspect"] for r in rows if r["truth"] is not None]
    for seed, size in pools:
        if size != n:
            continue
        chat, raw, _ = _answers(out, names + positives, size, n_profile, seed=seed, tokens=long)
        if any(x not in chat for x in names):
            continue
        pc, pr = [chat[x] for x in names], [raw[x] for x in names]
        dists = _dists(out, positives, size, seed)
        pdists = _panel_dists(out, names, size, seed)
        panels = {label: _panel(label, names, pc, pr, profile) for label in REPLICATED}
        got = {x: [ours(chat[x], raw[x], panels[label][1], panels[label][2], panels[label][3], len(cands), panels[label][0], size,
                        tokens=long.get(x, 1), probe=probes.get(x), dists=dists.get(x),
                        panel_dists=_panel_pdists(label, names, pdists),
                        **SETTINGS[label]).most_likely_parent
                   for label in REPLICATED] for x in positives if x in chat}
        if got:
            out_[seed] = got
    return out_


TESTS = [(label, label) for label, *_ in VARIANTS] + [
    ("nikolic", "Nikolic et al. 2025 (z / Fisher, Holm; raw mode, exact match; N queries)"),
    ("nikolic 2N", "Nikolic et al. 2025 on raw + chat answers pooled (2N queries, our budget)")]


def _ci(k: int, n: int) -> str:
    """``k/n`` with its 95% Clopper-Pearson interval."""
    from stillwatch.core.stats import binomial_interval

    if not n:
        return "n/a"
    lo, hi = binomial_interval(k, n, 0.95)
    return f"{k / n:.3f} ({lo:.2f}-{hi:.2f})"


def _write(rows, calib, spec, cands, refs, n, command, machine, date, chat) -> None:
    from stillwatch.core.stats import binomial_interval
    from stillwatch.trace.provenance_probe import CHAT_HEAVY_SHARE, PROBE_PROMPTS, USEFUL_PAIRS_MIN

    RESULTS.mkdir(parents=True, exist_ok=True)
    scores = {key: _score(rows, key) for key, _ in TESTS}
    lines = [
        "## trace provenance: the model zoo", "",
        f"Command: `{command}` (cached and resumable under benchmarks/out/provenance_zoo/). Machine: {machine}. Date: {date}.", "",
        f"Panel: candidates {', '.join(cands)}; references {', '.join(refs)}. {len(rows)} of {len(spec)} suspects built and "
        f"answered (truth: benchmarks/trace/provenance_zoo_truth.json). N = {n} test prompts per mode; our test asks a local "
        "suspect 2N queries in chat and raw mode after a 20-prompt probe (profile prompts) of its answer length "
        "(`suspect_max_tokens=\"auto\"`: byte-level suspects answer 8 tokens, compared by their first word) and of its "
        "chat (`budget_split=\"auto\"`: 2/3 of the 2N in chat when its probe answers depend on the prompt, else N each); "
        "ref-gemma-chat is a chat-only reference (it sits raw mode out; the Nikolic baseline, which continues raw text, "
        "does not use it); alpha = 0.05 for every test.", "",
        "| test | precision (95% CI) | recall (95% CI) | TP / positives | wrong attributions | queries per suspect (median) |",
        "|---|---|---|---|---|---|",
    ]
    for key, label in TESTS:
        sc = scores[key]
        q = int(np.median([r[f"{key}/queries"] for r in rows])) if rows else 0
        lines.append(f"| {label} | {_ci(sc['tp'], sc['tp'] + sc['fp'])} | {_ci(sc['tp'], sc['pos'])} | {sc['tp']} / {sc['pos']} | "
                     f"{sc['fp']} | {q} |")
    used = sum(bool(r.get(f"{OVERLAP}/overlap_used")) for r in rows)
    lines += ["", f"The overlap row used the panel's chat distributions for {used} of {len(rows)} suspects (the others: no "
              "cached panel distributions, or a suspect without one-token distributions, as for an API without "
              "top_logprobs)."]
    lines += ["", "Per suspect kind (suspects attributed to their true parent; for independents: attributed to any candidate):", "",
              "| kind | suspects | " + " | ".join(k for k, _ in TESTS) + " |", "|---|---|" + "---|" * len(TESTS)]
    for kind in sorted({r["kind"] for r in rows}):
        rs = [r for r in rows if r["kind"] == kind]
        cells = [f"{sum((r[k] is not None) if r['truth'] is None else (r[k] == r['truth']) for r in rs)}/{len(rs)}" for k, _ in TESTS]
        lines.append(f"| {kind} | {len(rs)} | " + " | ".join(cells) + " |")
    if calib["tests"]:
        k_ours = len(calib["false"]["ours"])
        lo, hi = binomial_interval(k_ours, calib["tests"], 0.95)
        by_size: dict[int, list[int]] = {}
        for seed, size in calib["sizes"].items():
            by_size.setdefault(size, []).append(seed)
        pools = "; ".join(f"{len(ss)} fresh pools of {size} prompts (prompt seeds {', '.join(map(str, ss))})" for size, ss in by_size.items())
        lines += ["", f"Calibration (ours, alpha = 0.05): {calib['suspects']} independent suspects on the main pool (seed 0, "
                  f"N = {n}) and on {pools or 'no fresh pool yet'}"
                  + (f" (answered on fewer pools: {', '.join(f'{x} on {k}' for x, k in calib['fewer_pools'].items())})"
                     if calib.get("fewer_pools") else "") + f" = {calib['tests']} tests: "
                  f"{k_ours} false attributions ({k_ours / calib['tests']:.3f}; "
                  f"95% Clopper-Pearson CI {lo:.3f}-{hi:.3f})" + (f": {'; '.join(calib['false']['ours'])}." if k_ours else ".")]
        for label, what in ((ANSWERS, "on answers only (the eleventh session's test: no next-token distributions)"),
                            (HEAVY, "with the chat-heavy split forced on every independent (2/3 chat; the probe gives each of "
                             "them the even split, so this is the calibration of the chat-heavy branch)"),
                            (EVEN, "with the even split (the eighth session's test)"),
                            (SEVENTH, "with the seventh session's settings (every pair counted in the excess)"),
                            (SIXTH, "with the sixth session's settings (rho 1, equal weights, end of text an answer, every pair counted)"),
                            (NO_CHAT_REF, "without the chat-model reference (last session's panel; seed 0: its one-token "
                             "answers, fresh pools: the same suspect answers as above)"),
                            (GATED, "with each mode's agreement gated by its excess (the fifth session's combination)"),
                            (URIAL, "against the panel whose Gemma candidate chats through URIAL, with no chat reference of "
                             "a candidate's weights"),
                            (OVERLAP, "with the panel's chat distributions (the overlap)"),
                            (URIAL_OVERLAP, "against the URIAL panel with the panel's chat distributions")):
            k_other = len(calib["false"][label])
            lo, hi = binomial_interval(k_other, calib["tests"], 0.95)
            lines += ["", f"The same tests {what}: {k_other} false attributions ({k_other / calib['tests']:.3f}; 95% CI "
                      f"{lo:.3f}-{hi:.3f})" + (f": {'; '.join(calib['false'][label])}." if k_other else ".")]
        for label in STAT_CALIBRATED:
            cells = "; ".join(f"{k}: {c}/{t} (smallest p {m:.2g})" for k, (c, t, m) in calib["per_statistic"][label].items())
            lines += ["", f"Per excess statistic over the same tests ({label}; fixed-n, at the look where each test stopped): p <= 0.05 in {cells}."]
        for label in READS_PANEL:
            t, fl = calib["panel_read"]["tests"][label], calib["panel_read"]["false"][label]
            lo, hi = binomial_interval(len(fl), t, 0.95) if t else (0.0, 1.0)
            lines += ["", f"Of the calibration tests of '{label}', {t} read the panel's chat distributions (the others: the "
                      f"suspect gave none, so the row is the test without them): {len(fl)} false attributions among them"
                      + (f" (95% CI {lo:.3f}-{hi:.3f})" if t else "") + (f": {'; '.join(fl)}." if fl else ".")]
    lines += _replicate_lines(rows, calib.get("replicates", {}))
    studs = [r for r in rows if "dependence" in r]
    if studs:
        from _provenance_zoo_settings import prompt_dependence

        from _provenance_zoo_settings import MIN_DISTINCT
        from stillwatch.trace.provenance import NEAR_CONSTANT_SHARE

        lines += ["", f"Students checked before testing: do their chat answers to the N = {n} test prompts depend on the prompt "
                  f"(worth testing: >= {MIN_DISTINCT} distinct first words, none for more than {NEAR_CONSTANT_SHARE:.0%} of the prompts)?", "",
                  "| student | teacher | distinct answers | distinct first words | most frequent first word (share) | prompt-dependent | ours | p (ours) |",
                  "|---|---|---|---|---|---|---|---|"]
        teachers = [{"suspect": f"({c}, the teacher itself)", "teacher": c, "dependence": prompt_dependence(chat[c][:n]), "ours": "-",
                     "ours/p": "-"} for c in dict.fromkeys(r["teacher"] for r in studs) if c in chat]
        for r in studs + teachers:
            d = r["dependence"]
            lines.append(f"| {r['suspect']} | {r['teacher']} | {d['distinct_answers']} / {d['n']} | {d['distinct_first_words']} | "
                         f"{d['top_first_word']!r} ({d['top_share']:.2f}) | {'yes' if d['prompt_dependent'] else 'no'} | "
                         f"{r['ours']} | {r['ours/p'] if r['ours/p'] == '-' else format(r['ours/p'], '.2g')} |")
        based = [r for r in studs if BASE_AS_REF in r]
        if based:
            lines += ["", f"Students fine-tuned from a pretrained base ({', '.join(sorted({r['base_panel'] for r in based}))}, a "
                      "candidate of the panel): the full panel's attribution above, and the dispute's question — was it distilled "
                      "from the other candidate? — with the student's base moved from the candidates to the references "
                      "(per-statistic p-values of SmolLM2 in that panel, fixed-n at the last look):", "",
                      "| student | truth (answers) | base | full panel: ours | base as a reference: ours | p | p per statistic (smollm2) |",
                      "|---|---|---|---|---|---|---|"]
            for r in based:
                st_ = ", ".join(f"{k} {v:.2g}" for k, v in r[f"{BASE_AS_REF}/stats"].get("smollm2", {}).items())
                lines.append(f"| {r['suspect']} | {r['truth']} (teacher {r['teacher']}) | {r['base_panel']} | {r['ours']} | "
                             f"{r[BASE_AS_REF]} | {r[f'{BASE_AS_REF}/p']:.2g} | {st_} |")
            lines += ["", "The same students under every test of the table above (full panel; a twin attributed to smollm2 is a wrong "
                      "attribution, a student attributed to its base is derived from it but not found as SmolLM2's):", "",
                      "| student | teacher | " + " | ".join(k for k, _ in TESTS) + " |", "|---|---|" + "---|" * len(TESTS)]
            lines += [f"| {r['suspect']} | {r['teacher']} | " + " | ".join(str(r[k]) for k, _ in TESTS) + " |" for r in based]
        for teacher in dict.fromkeys(r["truth"] for r in studs):
            rs = [r for r in studs if r["truth"] == teacher and r["teacher"] == teacher]  # its students (not a twin of its base)
            if not rs:
                continue
            found = {key: sum(r[key] == teacher for r in rs) for key in ("ours", ANSWERS, EVEN, HEAVY, SEVENTH, SIXTH, GATED, URIAL, "nikolic", "nikolic 2N")}
            dep = [r for r in rs if r["dependence"]["prompt_dependent"]]
            k_dep = sum(r["ours"] == teacher for r in dep)
            lines += ["", f"Students of {teacher} attributed to it (all {len(rs)}): ours {found['ours']}/{len(rs)} = "
                      f"{_ci(found['ours'], len(rs))}; {ANSWERS}: {found[ANSWERS]}/{len(rs)}; {EVEN}: {found[EVEN]}/{len(rs)}; {HEAVY}: {found[HEAVY]}/{len(rs)}; "
                      f"{SEVENTH}: {found[SEVENTH]}/{len(rs)}; {SIXTH}: {found[SIXTH]}/{len(rs)}; {GATED}: {found[GATED]}/{len(rs)}; "
                      f"{URIAL}: {found[URIAL]}/{len(rs)}; "
                      f"Nikolic {found['nikolic']}/{len(rs)}, pooled 2N {found['nikolic 2N']}/{len(rs)} (target for SmolLM2's "
                      f"students: recall >= 0.8). Without the {len(rs) - len(dep)} that fail the prompt-dependence check "
                      f"({', '.join(r['suspect'] for r in rs if r not in dep) or 'none'}: one first word for most of their chat "
                      f"answers, so chat mode holds little of the teacher's prompt-specific behaviour; kept in every other "
                      f"figure): ours {k_dep}/{len(dep)} = {_ci(k_dep, len(dep))}."]
    lines += ["", f"Budget split (ours): chosen per suspect from its chat answers to the {PROBE_PROMPTS} probe prompts (profile "
              f"prompts, never test prompts): chat-heavy ({CHAT_HEAVY_SHARE:.0%} of the 2N queries in chat) when at least "
              f"{USEFUL_PAIRS_MIN:.0%} of the probe's pairs have two informative, different answers; even otherwise. "
              "Distributions: the modes whose excess statistic read the suspect's top-k next tokens. p (answers only): "
              "the eleventh session's test on the same answers.", "",
              "| suspect | truth | kind | split (probe's useful pairs) | distributions | ours | p (ours) | p (answers only) | queries | "
              "p per statistic (closest candidate) | agreement chat / raw | Nikolic | p (Nikolic, max) |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        agree = "; ".join(f"{c}: {v.get('chat', 0):.2f} / {v.get('raw', 0):.2f}" for c, v in r["agree"].items())
        stats_ = ", ".join(f"{k} {v:.2g}" for k, v in r["stats"].items())
        lp = "+".join(m for m, used in r.get("logprobs", {}).items() if used) or "-"
        lines.append(f"| {r['suspect']} | {r['truth']} | {r['kind']} | {r['split']} ({r['split_reason'].split(' of the pairs')[0]}) | "
                     f"{lp} | {r['ours']} | {r['ours/p']:.2g} | {r[ANSWERS + '/p']:.2g} | "
                     f"{r['ours/queries']}{' (8-token answers)' if r['suspect_tokens'] > 1 else ''} | "
                     f"{stats_} | {agree} | {r['nikolic_raw_guess']} | {r['nikolic/p']:.2g} |")
    not_run = [x for x in spec if x not in {r['suspect'] for r in rows}]
    if not_run:
        lines += ["", f"Not built / not answered in this run (the command resumes them): {', '.join(not_run)}."]
    lines += ["", "![per-suspect p-values](trace_provenance.png)", ""]
    (RESULTS / "trace_provenance.md").write_text("\n".join(lines))
    (RESULTS / "trace_provenance.json").write_text(json.dumps({"rows": rows, "calibration": calib, "scores": scores}, indent=1))
    _plot(rows)
    log.info("\n%s", "\n".join(lines))


def _replicate_lines(rows: list[dict], reps: dict) -> list[str]:
    """The power replicates in words: per fresh pool and in all, suspects found by each test of ``REPLICATED``."""
    if not reps:
        return []
    truth = {r["suspect"]: r["truth"] for r in rows}
    lines = ["", "Power replicates (the suspects with a parent answered on fresh pools of N prompts, there and on the main "
             "pool, found by our test (next-token distributions where the suspect gives them, probe-chosen split), by the "
             "same on answers only (the eleventh session's test), with the even split, and with the chat-heavy split for "
             "every suspect, and against the panel whose Gemma candidate chats through URIAL (no chat reference of a "
             "candidate's weights)):", "",
             "| prompt seed | suspects | " + " | ".join(REPLICATED_SHORT) + " | found only by ours | found only by answers only |",
             "|---|---|" + "---|" * len(REPLICATED) + "---|---|"]
    total = [0] * len(REPLICATED)
    pool = {0: {r["suspect"]: [r[label] for label in REPLICATED] for r in rows if r["truth"] is not None
                and r["suspect"] in set().union(*reps.values())}}
    for seed, got in {**pool, **reps}.items():
        hit = {x: [g == truth[x] for g in gs] for x, gs in got.items()}
        counts = [sum(h[i] for h in hit.values()) for i in range(len(REPLICATED))]
        total = [a + b for a, b in zip(total, counts)]
        only_ours = [x for x, h in hit.items() if h[0] and not h[1]]
        only_even = [x for x, h in hit.items() if h[1] and not h[0]]
        lines.append(f"| {seed}{' (main pool)' if seed == 0 else ''} | {len(got)} | " + " | ".join(f"{c}/{len(got)}" for c in counts)
                     + f" | {', '.join(only_ours) or '-'} | {', '.join(only_even) or '-'} |")
    k = sum(len(g) for g in {**pool, **reps}.values())
    lines.append("| all | " + f"{k} | " + " | ".join(f"{c}/{k}" for c in total) + " | | |")
    return lines


def _plot(rows) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not rows:
        return
    y = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(8, 0.3 * len(rows) + 1.5))
    clip = 1e-300
    ax.barh(y - 0.2, [-np.log10(max(r["ours/p"], clip)) for r in rows], 0.4, label="ours (sequential p of best candidate)")
    ax.barh(y + 0.2, [-np.log10(max(r["nikolic/p"], clip)) for r in rows], 0.4, label="Nikolic et al. (max pairwise p)")
    ax.axvline(-np.log10(0.05), color="k", lw=0.8, ls="--")
    ax.set_yticks(y, [f"{r['suspect']} ({r['truth']})" for r in rows], fontsize=7)
    ax.set_xlabel("-log10 p")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(RESULTS / "trace_provenance.png", dpi=110)
    plt.close(fig)
