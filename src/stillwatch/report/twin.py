"""The report's JSON twin: every number and sentence the HTML shows, in a versioned schema.

Schema: ``stillwatch.report/case-report.schema.json`` (JSON Schema 2020-12), documented in
docs/case-schema.md. The HTML is rendered from this document alone, so every number a reader sees
can be found, with its source, test and reproducing command, in the JSON.
"""

from __future__ import annotations

import datetime as dt
import platform
from typing import Any

import stillwatch

from .sections import campaign_section, diligence_section, suspect_section, watermark_section

__all__ = ["SCHEMA_ID", "SCHEMA_VERSION", "build_twin", "ROWS_SHOWN"]

SCHEMA_ID = "stillwatch-case-report"
SCHEMA_VERSION = "1.0.0"
#: rows of a long table shown in the HTML; the JSON and the bundle hold them all
ROWS_SHOWN = 200


def _page(items: list[Any], shown: int = ROWS_SHOWN) -> dict[str, Any]:
    return {"total": len(items), "shown": min(shown, len(items)), "items": items[:shown]}


def _software() -> dict[str, str]:
    out = {"stillwatch": stillwatch.__version__, "python": platform.python_version()}
    try:
        import matplotlib

        out["matplotlib"] = matplotlib.__version__
    except ImportError:  # the plots say so themselves
        pass
    return out


def _measures(table: Any) -> dict[str, Any]:
    import pyarrow.compute as pc

    def rows(kind: str, cols: tuple[str, ...]) -> list[dict[str, Any]]:
        if "type" not in table.column_names or table.num_rows == 0:
            return []
        t = table.filter(pc.equal(table.column("type"), kind))
        present = [c for c in cols if c in t.column_names]
        return t.select(present).to_pylist()

    acc = rows("tos_acceptance", ("index", "account", "terms_version", "terms_sha256", "ts", "source_address"))
    inv = rows("investment", ("index", "model_id", "compute_hours", "cost", "currency", "dataset_digests", "notes", "ts"))
    versions: dict[tuple[str, str], set[str]] = {}
    for r in acc:
        versions.setdefault((r["terms_version"], r["terms_sha256"]), set()).add(r["account"])
    return {
        "terms": [{"terms_version": v, "terms_sha256": s, "accounts": len(a)} for (v, s), a in sorted(versions.items())],
        "acceptances": _page(sorted(acc, key=lambda r: (r["account"], r["ts"]))),
        "investments": inv,
    }


def _g(x: Any) -> str:
    """A number in a sentence: integers with thousands separators, others to three significant digits."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return str(x)
    return f"{x:,}" if isinstance(x, int) else f"{x:,.0f}" if x.is_integer() else f"{x:.3g}"


def _summary(doc: dict[str, Any]) -> dict[str, Any]:
    """The plain-words page: what happened, how sure, what it rests on."""
    said, rests = [], []
    c = doc["campaign"]
    if c:
        big = max(c["campaigns"], key=lambda x: x["exchanges"], default=None)
        said.append(f"Our traffic monitor flagged {_g(c['flagged_accounts'])} of {_g(c['accounts_scanned'])} accounts as automated harvesting, "
                    f"grouped into {_g(len(c['campaigns']))} coordinated campaign(s).")
        if big:
            said.append(f"The largest campaign used {_g(big['n_accounts'])} accounts and sent {_g(big['exchanges'])} requests, "
                        f"{_g(big['human_rate_multiple'])} times the volume one person reading every answer could sustain at the stated human-feasible rate "
                        f"of {_g(c['human_rate_per_hour'])} requests per hour.")
        rests.append("the traffic monitor's findings (guard scan)")
    w = doc["watermark"]
    if w:
        said.append(f"Of {_g(w['texts'])} leaked texts tested, {_g(w['detected'])} carry our watermark "
                    f"(each at p ≤ {_g(w['alpha'])}); {_g(w['attributed_texts'])} were traced to a specific account after "
                    f"correcting for {_g(w['candidates'])} candidate accounts.")
        rests.append("watermark detection on the leaked texts (mark detect)")
    s = doc["suspect_model"]
    if s and s["suspect"]:
        r = s["suspect"]
        said.append(f"The suspect model {'shows' if r['radioactive'] else 'does not show'} our watermark in its own predictions: "
                    f"p = {_g(r['p_value'])} over {_g(r['n_scored'])} distinct token tuples"
                    + (f", p = {_g(r['combined']['p_value'])} with the layers of the accounts the harvest went through "
                       f"({_g(r['verdict_p_value'])} after correcting for the two tests)" if r.get("combined") else "")
                    + (f" (a chance of about 1 in {_g(r['one_in'])} if it had never been trained on our outputs)." if r["radioactive"] else "."))
        rests.append("the radioactivity test of the suspect model (trace radioactivity)")
    d = doc["ledger"]
    said.append(f"{_g(d['exhibited']['total'])} ledger records are exhibited; each is proven to be in our signed ledger "
                f"(checkpoint of {_g(d['tree_size'])} records).")
    rests.append("the signed evidence ledger (inclusion proofs against a signed checkpoint)")
    m = doc["measures"]
    if m["acceptances"]["total"] or m["investments"]:
        said.append(f"The record shows {_g(m['acceptances']['total'])} terms-of-service acceptance(s) and "
                    f"{_g(len(m['investments']))} investment record(s).")
    if s and s["suspect"] and s["suspect"]["radioactive"]:
        how = "strong: the suspect's weights carry a key only we hold, which training on our outputs explains and validation does not"
    elif w and w["detected"]:
        how = "the leaked texts are ours; whether a model was trained on them is not shown here"
    elif c and c["campaigns"]:
        how = "the harvesting is shown by traffic; nothing here shows what was done with the outputs"
    else:
        how = "the evidence added so far shows no significant finding"
    return {"statements": said, "how_sure": how, "rests_on": rests}




def build_twin(info: dict[str, Any], evidence: list[dict[str, Any]], table: Any, exhibit_summary: dict[str, Any],
               checkpoint: Any, custody_entries: list[dict[str, Any]]) -> dict[str, Any]:
    """Assemble the JSON twin. ``evidence``: :meth:`Case.evidence`; ``table``: :func:`records_table`."""
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for e in evidence:
        by_kind.setdefault(e["kind"], []).append(e)
    methods: list[dict[str, Any]] = []
    campaign = campaign_section(by_kind.get("guard", []), exhibit_summary, _page, methods)
    watermark = watermark_section(by_kind.get("mark", []), _page, methods)
    suspect = suspect_section(by_kind.get("trace", []), methods)
    diligence = diligence_section(by_kind.get("provenance", []), methods)
    exhibited = exhibit_summary["by_type"]
    items = table.select([c for c in ("index", "type", "account", "ts") if c in table.column_names]).to_pylist() if table.num_rows else []
    doc: dict[str, Any] = {
        "schema": SCHEMA_ID,
        "schema_version": SCHEMA_VERSION,
        "case": {k: info[k] for k in ("case_id", "title", "created", "ledger_origin", "ledger_key", "case_key")}
        | {"built_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")},
        "software": _software(),
        "campaign": campaign,
        "watermark": watermark,
        "suspect_model": suspect,
        "measures": _measures(table),
        "diligence": diligence,
        "ledger": {
            "origin": checkpoint.origin, "tree_size": checkpoint.size, "root_sha256": checkpoint.root.hex(),
            "checkpoint": checkpoint.text, "key": info["ledger_key"],
            "exhibited": {"total": int(sum(exhibited.values())), "by_type": exhibited} | _page(items),
        },
        "methods": methods,
        "fingerprints": sorted({m["spec_fingerprint"] for m in methods if m.get("spec_fingerprint")}),
        "custody": [{k: e[k] for k in ("seq", "ts", "actor", "action", "subject", "sha256")} for e in custody_entries],
    }
    doc["summary"] = _summary(doc)
    return doc
