"""The sections of the JSON twin built from each kind of evidence, and the methods entries behind
their numbers (null hypothesis, test, exact p-value, multiple-testing correction, reproducing command).

Commands name key *files* by placeholder (``master.key``), never a key.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from stillwatch.core.stats import sidak

__all__ = ["campaign_section", "watermark_section", "suspect_section", "diligence_section", "ALPHA"]

#: significance level for a finding when the evidence does not state its own
ALPHA = 1e-3
MARK_H0 = ("H0: the text was written independently of our watermark key (by a person, or by a model that never saw "
           "our watermarked outputs); each distinct (context, token) tuple is then green with probability gamma "
           "(green-list spec), or each of its tournament g-values is an independent fair coin (tournament spec).")
MARK_TEST = ("one-sided exact tail over de-duplicated (context, token) tuples, by the spec's scheme and score: "
             "P(Binomial(n_scored, gamma) >= n_green) (green list); P(Binomial(n_scored x depth, 1/2) >= n_green) "
             "(tournament, count score); P(sum_l w_l X_l >= n_green), X_l ~ Binomial(n_scored, 1/2), computed exactly "
             "as a convolution of scaled binomials (tournament, weighted score; Dathathri et al. 2024)")
ATTR_H0 = "H0: none of the candidate accounts' watermark layers is in the text (each account key independent of it)."
COMBINED_H0 = ("H0: the model's predictions are independent of the provider key and of every named harvest account's key "
               "(independent keys), so each distinct (context, token) tuple's watermark bits under each key are fair coins.")
COMBINED_TEST = ("the same tuples as the provider test, scored under the provider key and each named harvest account's key; the "
                 "weighted sum of every key's bits against its exact distribution (a sum of weighted fair coins), the accounts named "
                 "before the test")
TRACE_TEST = ("open model: the suspect's own top-1 next-token predictions, teacher-forced, scored against the provider layer's "
              "green lists; one-sided exact binomial tail over de-duplicated (context, token) tuples (Sander et al. 2024)")
ROLE_WORDS = {"suspect": "the suspect model", "control": "a control model (known not to be trained on our outputs)",
              "wrong-key": "the suspect model tested with a key that was never deployed"}

Page = Callable[[list[Any]], dict[str, Any]]


def _cmd(e: dict[str, Any], default: str) -> str:
    return e.get("command") or default


def _one_in(p: float) -> int | None:
    return None if p <= 0 or p >= 1 else int(round(1.0 / p))


def campaign_section(guards: list[dict[str, Any]], ex: dict[str, Any], page: Page, methods: list) -> dict[str, Any] | None:
    """The campaign, from the latest guard findings added, and the exhibited exchanges' timeline."""
    if not guards:
        return None
    e = guards[-1]
    g = e["content"]
    flagged = sorted(g["accounts"], key=lambda a: (-a["exchanges"], a["account_id"]))
    camps = sorted(g["campaigns"], key=lambda c: (-c["exchanges"], c["campaign_id"]))
    rate = g["human_rate_per_hour"]
    cmd = _cmd(e, "stillwatch guard scan --input <api log or ledger> --out findings.json")
    for c in camps:
        methods.append({
            "id": f"volume/{c['campaign_id']}", "section": "campaign", "finding": f"volume of campaign {c['campaign_id']}",
            "value": c["human_rate_multiple"], "kind": "measure", "p_value": None,
            "null_hypothesis": "not a test: a measured lower bound on the people needed to read the campaign's answers",
            "test": f"human time its exchanges demand / time one person has over its active span (human-feasible rate {rate} per hour)",
            "correction": "none (a measurement)", "command": cmd, "source": e["path"]})
    peak = max((b["exchanges"] for b in ex["timeline"]), default=0)
    return {
        "source": e["path"], "command": cmd, "human_rate_per_hour": rate, "log_rows": g["n_rows"],
        "accounts_scanned": g.get("n_accounts", 0), "flagged_accounts": len(flagged),
        "campaigns": [{k: c.get(k) for k in ("campaign_id", "n_accounts", "exchanges", "human_rate_multiple", "score", "fired")}
                      | {"accounts": c["accounts"][:20], "signals": c.get("signals", {})} for c in camps],
        "accounts": page([{k: a.get(k) for k in ("account_id", "campaign_id", "exchanges", "human_rate_multiple", "score", "fired")}
                          for a in flagged]),
        "infrastructure": page(ex["infrastructure"]),
        "timeline": {"bins": ex["timeline"], "peak_per_hour": peak,
                     "exhibited_accounts": len(ex["accounts"]),
                     "human_feasible_per_hour": rate * len(ex["accounts"])},
        "exhibited_accounts": page(ex["accounts"]),
    }


def watermark_section(marks: list[dict[str, Any]], page: Page, methods: list) -> dict[str, Any] | None:
    """Leaked texts tested for the watermark, with per-text and across-texts corrections."""
    if not marks:
        return None
    rows, cmds = [], []
    for e in marks:
        cmds.append(_cmd(e, "stillwatch mark detect --master-key master.key --input leaked.jsonl --accounts candidates.txt --json"))
        for r in e["content"]:
            rows.append({"source": e["path"], "line": r.get("line"), "error": r.get("error"),
                         **{k: r.get(k) for k in ("n_scored", "n_green", "p_value", "account", "account_p_value", "best_candidate",
                                                  "n_candidates", "spec")}})
    scored = [r for r in rows if r["error"] is None]
    ps = np.array([r["p_value"] for r in scored], dtype=np.float64)
    n = max(len(scored), 1)
    family = sidak(ps, n) if len(ps) else ps
    for r, fp in zip(scored, family.tolist(), strict=True):
        r["p_value_across_texts"] = fp
        r["detected"] = bool(fp <= ALPHA)
    cands = max((r["n_candidates"] or 0 for r in scored), default=0)
    for r in scored:
        methods.append({
            "id": f"watermark/{r['source']}:{r['line']}", "section": "watermark", "finding": f"leaked text line {r['line']}",
            "value": r["p_value"], "kind": "p_value", "p_value": r["p_value"], "null_hypothesis": MARK_H0, "test": MARK_TEST,
            "correction": f"Šidák over the {len(scored)} texts tested: {r['p_value_across_texts']}",
            "command": cmds[0], "source": r["source"], "spec_fingerprint": r["spec"]})
        if r["account_p_value"] is not None:
            methods.append({
                "id": f"attribution/{r['source']}:{r['line']}", "section": "watermark", "finding": f"account of leaked text line {r['line']}",
                "value": r["account_p_value"], "kind": "p_value", "p_value": r["account_p_value"], "null_hypothesis": ATTR_H0,
                "test": "exact tail of the best candidate's account layer", "correction": f"Šidák over {r['n_candidates']} candidate accounts",
                "command": cmds[0], "source": r["source"], "spec_fingerprint": r["spec"]})
    attributed: dict[str, int] = {}
    for r in scored:
        if r["account"] and r["detected"]:
            attributed[r["account"]] = attributed.get(r["account"], 0) + 1
    return {
        "texts": len(rows), "scored": len(scored), "detected": sum(r["detected"] for r in scored), "alpha": ALPHA,
        "candidates": cands, "attributed_texts": sum(attributed.values()),
        "attributed": [{"account": a, "texts": k} for a, k in sorted(attributed.items(), key=lambda x: (-x[1], x[0]))],
        "null_hypothesis": MARK_H0, "test": MARK_TEST,
        "correction": "per text: Šidák over the texts tested; per account: Šidák over the candidate accounts",
        "rows": page(sorted(rows, key=lambda r: (r["p_value"] is None, r["p_value"] if r["p_value"] is not None else 1.0))),
        "commands": sorted(set(cmds)),
    }


def _trace_row(e: dict[str, Any], methods: list) -> dict[str, Any]:
    t = e["content"]
    alpha = float(t.get("alpha", ALPHA))
    role = e["role"] or "suspect"
    base = f" --base {t['base']}" if t.get("base") else ""
    cmd = _cmd(e, f"stillwatch trace radioactivity --suspect {t.get('suspect') or '<model>'} --master-key master.key "
                  f"--setting {t['setting']}{base} --json")
    row = {k: t.get(k) for k in ("setting", "p_value", "n_scored", "n_green", "n_tuples", "n_texts", "gamma", "spec_fingerprint",
                                 "suspect", "base", "best_account", "best_account_corrected_p_value")}
    verdict_p, combined, correction = _trace_verdict(t)
    row |= {"role": role, "role_words": ROLE_WORDS[role], "alpha": alpha, "radioactive": bool(verdict_p <= alpha),
            "verdict_p_value": verdict_p, "combined": combined,
            "one_in": _one_in(verdict_p), "accounts_tested": len(t.get("accounts", [])),
            "curve": [{k: pt.get(k) for k in ("n_tuples", "n_scored", "n_green", "p_value")} for pt in t["curve"]],
            "null_hypothesis": t["null_hypothesis"], "source": e["path"], "command": cmd}
    methods.append({"id": f"radioactivity/{role}/{e['path']}", "section": "suspect_model", "finding": f"radioactivity of {ROLE_WORDS[role]}",
                    "value": t["p_value"], "kind": "p_value", "p_value": t["p_value"], "null_hypothesis": t["null_hypothesis"],
                    "test": TRACE_TEST, "correction": correction, "command": cmd,
                    "source": e["path"], "spec_fingerprint": t["spec_fingerprint"]})
    if combined is not None:
        methods.append({"id": f"radioactivity-combined/{role}/{e['path']}", "section": "suspect_model",
                        "finding": f"radioactivity of {ROLE_WORDS[role]}, provider and harvest accounts' layers together",
                        "value": combined["p_value"], "kind": "p_value", "p_value": combined["p_value"], "null_hypothesis": COMBINED_H0,
                        "test": COMBINED_TEST, "correction": correction, "command": cmd + " --harvest-account " +
                        " --harvest-account ".join(combined["accounts"]), "source": e["path"], "spec_fingerprint": t["spec_fingerprint"]})
    if t.get("best_account") and t.get("best_account_corrected_p_value") is not None:
        methods.append({"id": f"radioactivity-account/{role}/{e['path']}", "section": "suspect_model",
                        "finding": f"most likely account in {ROLE_WORDS[role]}", "value": t["best_account_corrected_p_value"],
                        "kind": "p_value", "p_value": t["best_account_corrected_p_value"], "null_hypothesis": ATTR_H0,
                        "test": "exact binomial tail of each account layer on the same tuples",
                        "correction": f"Šidák over {row['accounts_tested']} accounts", "command": cmd, "source": e["path"],
                        "spec_fingerprint": t["spec_fingerprint"]})
    return row


def _trace_verdict(t: dict[str, Any]) -> tuple[float, dict[str, Any] | None, str]:
    """The p-value a radioactivity result is judged on (:func:`stillwatch.trace.radioactivity.judged_p_value`), its
    combined part (or None) and the correction in words."""
    from stillwatch.trace.radioactivity import judged_p_value

    c = t.get("combined")
    if not c:
        return judged_p_value(t["p_value"], None), None, "none: one pre-specified test of the provider layer"
    combined = {"accounts": list(c["accounts"]), "p_value": float(c["p_value"]), "n_coins": c.get("n_coins")}
    return judged_p_value(t["p_value"], combined["p_value"]), combined, (
        "Bonferroni over the two tests reported for this model (the provider layer alone; the provider "
        "layer with the named harvest accounts' layers): the smaller p-value times two")


def suspect_section(traces: list[dict[str, Any]], methods: list) -> dict[str, Any] | None:
    """Radioactivity of the suspect, its controls, and what the result says about training vs validation."""
    if not traces:
        return None
    rows = [_trace_row(e, methods) for e in traces]
    sus = next((r for r in reversed(rows) if r["role"] == "suspect"), None)
    controls = [r for r in rows if r["role"] != "suspect"]
    if sus is None:
        vt = "No suspect model was tested in this case."
    elif sus["radioactive"]:
        vt = ("The suspect's own predictions carry our watermark. Outputs that were only used to validate or benchmark a model "
              "(for example, shown on an evaluation dashboard) cannot change its weights and leave no such trace; outputs it was "
              "trained on do. This result therefore points to training on our outputs, not validation alone.")
    else:
        vt = ("The suspect's predictions show no trace of our watermark at the stated level. This is what validation-only use "
              "(outputs that fed an evaluation dashboard, never training) would look like — and also what no use at all, or "
              "training on too little of our text to detect, would look like. It does not show training.")
    bad_controls = [r["role"] for r in controls if r["radioactive"]]
    return {"results": rows, "suspect": sus, "validation_vs_training": vt,
            "controls_clean": not bad_controls,
            "controls_statement": ("No control and no wrong-key test is significant: the test did not fire where it must not."
                                   if controls and not bad_controls else
                                   "No control or wrong-key result was added." if not controls else
                                   f"Warning: {', '.join(bad_controls)} result(s) are significant; the suspect's result must not be relied on.")}


#: a provenance result's fields the diligence section shows in their own places (the rest go to ``other``)
_SHOWN_APART = ("most_likely_parent", "candidates", "correction", "queries_spent", "null_hypothesis", "caveats")


def _flat(v: Any) -> str | None:
    """A mapping of names to scalars as one readable line (``chat: yes, raw: no``; ``chat: 667, raw: 333``), or None
    for anything else (nested or empty mappings are not shown)."""
    if not isinstance(v, dict) or not v:
        return None
    if not all(isinstance(k, str) and (x is None or isinstance(x, (str, int, float, bool))) for k, x in v.items()):
        return None
    show = {True: "yes", False: "no", None: "none"}
    return ", ".join(f"{k}: {show[x] if isinstance(x, bool) or x is None else x}" for k, x in v.items())


def diligence_section(provs: list[dict[str, Any]], methods: list) -> list[dict[str, Any]]:
    """Provenance results (``trace provenance``) shown as they are, with their p-values in the methods; a field that is
    a flat mapping (the budget per prompt mode, which modes read the suspect's next-token probabilities) is shown as
    one line of ``key: value`` pairs."""
    out = []
    for e in provs:
        p = e["content"]
        cmd = _cmd(e, "stillwatch trace provenance --json")
        extra = {}
        for k, v in p.items():  # a handful of fields
            shown = _flat(v) if isinstance(v, dict) else v if v is None or isinstance(v, (str, int, float, bool)) else None
            if k not in _SHOWN_APART and (shown is not None or v is None):
                extra[k] = shown
        for c in p["candidates"]:
            methods.append({"id": f"provenance/{e['path']}/{c['name']}", "section": "diligence", "finding": f"parent candidate {c['name']}",
                            "value": c["p_value"], "kind": "p_value", "p_value": c["p_value"], "null_hypothesis": p["null_hypothesis"],
                            "test": str(p.get("test", "as stated by the provenance result")),
                            "correction": f"{p['correction']}: {c.get('corrected_p_value')}", "command": cmd, "source": e["path"]})
        out.append({"source": e["path"], "command": cmd, "most_likely_parent": p["most_likely_parent"],
                    "candidates": [{"name": c["name"], "p_value": c["p_value"], "corrected_p_value": c.get("corrected_p_value")}
                                   for c in p["candidates"]],
                    "correction": p["correction"], "queries_spent": p["queries_spent"], "null_hypothesis": p["null_hypothesis"],
                    "caveats": list(p.get("caveats", [])),  # the result's own reading aids, shown above it
                    "other": {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in extra.items()}})
    return out
